/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libsluice with a broker pair, against two fake brokers on loopback UDP
 * sockets: the host list, connecting past a standby (SL_E_NOT_PRIMARY),
 * failing over on NOT_PRIMARY and on silence with the subscription resumed
 * where it was, and the leader epoch (sl_hdr.reserved): frames of an older
 * leader than the newest seen ignored and counted, the newest never going
 * back. Scale-out: a broker that answers RESOLVE and SUBSCRIBE with ERROR
 * SL_E_MOVED naming the other one, followed there (and its lower leader
 * epoch taken), or, without reconnecting, -EREMCHG and sl_client_moved.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <common/clock.h>
#include <common/crypto.h>
#include <common/proto.h>
#include <sluice/sluice.h>

#include "check.h"

#define TOPIC 5u
#define MS 1000000ull

/* MOVED: RESOLVE and SUBSCRIBE answered SL_E_MOVED naming the other
 * broker (moved_len bytes of it: 64, or 32 as a truncated one), the
 * rest as the primary. */
enum mode { PRIMARY, STANDBY, SILENT, MOVED };

/* One fake broker: answers as the primary, refuses everything as a
 * standby, or reads and ignores. Every frame it sends carries its epoch. */
struct broker {
	int fd;
	uint16_t port;
	uint32_t session;
	atomic_int mode;
	atomic_uint epoch;
	atomic_uint hellos;
	atomic_uint welcomes;
	atomic_uint refusals;	/* NOT_PRIMARY sent */
	atomic_uint moved;	/* MOVED sent */
	atomic_uint moved_len;
	atomic_uint resolves;
	atomic_uint subs;	/* SUBSCRIBEs answered */
	atomic_uint sub_flags;	/* of the last */
	atomic_ullong sub_start;
	struct sockaddr_in peer; /* the client, as of its last datagram */
	atomic_bool have_peer;
};

static atomic_bool stop;

static void
send_frames(struct broker *b, void *frames, size_t len)
{
	(void)sendto(b->fd, frames, len, 0, (const struct sockaddr *)&b->peer, sizeof(b->peer));
}

/* Stamp @h with @b's epoch. */
static void
stamp(struct broker *b, struct sl_hdr *h)
{
	h->reserved = atomic_load(&b->epoch);
}

static void
refuse(struct broker *b, const struct sl_frame *f)
{
	struct sl_error e;

	memset(&e, 0, sizeof(e));
	sl_proto_hdr_init(&e.h, SL_FT_ERROR, 0, sizeof(e),
			  f->hdr->type == SL_FT_HELLO ? 0 : f->hdr->session);
	e.code = SL_E_NOT_PRIMARY;
	e.frame_type = f->hdr->type;
	if (f->hdr->type == SL_FT_HELLO)
		e.detail = ((const struct sl_hello *)f->hdr)->nonce;
	stamp(b, &e.h);
	atomic_fetch_add(&b->refusals, 1); /* before the client can see it */
	send_frames(b, &e, sizeof(e));
}

static struct broker br[2];

/* ERROR SL_E_MOVED refusing a frame of type @type (request @req_id): the
 * topic is the other broker's, pair "p2". */
static void
moved_send(struct broker *b, uint8_t type, uint32_t req_id)
{
	const struct broker *to = &br[b == &br[0]];
	struct sl_error_moved e;
	uint32_t a = htonl(INADDR_LOOPBACK);

	memset(&e, 0, sizeof(e));
	sl_proto_hdr_init(&e.e.h, SL_FT_ERROR, 0, atomic_load(&b->moved_len), b->session);
	e.e.code = SL_E_MOVED;
	e.e.frame_type = type;
	e.e.req_id = req_id;
	memcpy(e.addr, &a, sizeof(e.addr));
	e.port = to->port;
	e.epoch = 7;
	snprintf(e.pair, sizeof(e.pair), "p2");
	stamp(b, &e.e.h);
	atomic_fetch_add(&b->moved, 1);
	send_frames(b, &e, atomic_load(&b->moved_len));
}

static void
moved(struct broker *b, const struct sl_frame *f)
{
	/* req_id at the same place in RESOLVE and SUBSCRIBE. */
	moved_send(b, f->hdr->type, ((const struct sl_resolve *)f->hdr)->req_id);
}

static void
primary(struct broker *b, const struct sl_frame *f)
{
	union {
		struct sl_challenge ch;
		struct sl_welcome w;
		struct sl_topic_reply t;
		struct sl_ok ok;
		struct sl_heartbeat hb;
	} u;

	memset(&u, 0, sizeof(u));
	switch (f->hdr->type) {
	case SL_FT_HELLO: {
		const struct sl_hello *h = (const struct sl_hello *)f->hdr;

		atomic_fetch_add(&b->hellos, 1);
		sl_proto_hdr_init(&u.ch.h, SL_FT_CHALLENGE, 0, sizeof(u.ch), 0);
		u.ch.nonce = h->nonce;
		u.ch.version = SL_PROTO_VERSION;
		u.ch.issued = sl_now_ns() / MS;
		stamp(b, &u.ch.h);
		send_frames(b, &u.ch, sizeof(u.ch));
		break;
	}
	case SL_FT_AUTH: {
		const struct sl_auth *a = (const struct sl_auth *)f->hdr;

		sl_proto_hdr_init(&u.w.h, SL_FT_WELCOME, 0, sizeof(u.w), b->session);
		u.w.session = b->session;
		u.w.heartbeat_ms = 100;
		u.w.nonce = a->nonce;
		u.w.max_payload = SL_MAX_PAYLOAD;
		u.w.version = SL_PROTO_VERSION;
		u.w.incarnation = 0x1000 + b->session;
		u.w.max_message = SL_MAX_PAYLOAD;
		u.w.session_timeout_ms = 10000;
		stamp(b, &u.w.h);
		atomic_fetch_add(&b->welcomes, 1);
		send_frames(b, &u.w, sizeof(u.w));
		break;
	}
	case SL_FT_RESOLVE:
		atomic_fetch_add(&b->resolves, 1);
		sl_proto_hdr_init(&u.t.h, SL_FT_TOPIC, 0, sizeof(u.t), b->session);
		u.t.req_id = ((const struct sl_resolve *)f->hdr)->req_id;
		u.t.topic_id = TOPIC;
		stamp(b, &u.t.h);
		send_frames(b, &u.t, sizeof(u.t));
		break;
	case SL_FT_SUBSCRIBE: {
		const struct sl_subscribe *s = (const struct sl_subscribe *)f->hdr;

		atomic_store(&b->sub_flags, s->h.flags);
		atomic_store(&b->sub_start, s->start);
		sl_proto_hdr_init(&u.ok.h, SL_FT_OK, 0, sizeof(u.ok), b->session);
		u.ok.req_id = s->req_id;
		u.ok.seq = s->h.flags & SL_SUB_F_FROM_SEQ ? s->start : 1;
		stamp(b, &u.ok.h);
		atomic_fetch_add(&b->subs, 1);
		send_frames(b, &u.ok, sizeof(u.ok));
		break;
	}
	case SL_FT_HEARTBEAT:
		sl_proto_hdr_init(&u.hb.h, SL_FT_HEARTBEAT, 0, sizeof(u.hb), b->session);
		stamp(b, &u.hb.h);
		send_frames(b, &u.hb, sizeof(u.hb));
		break;
	default:
		break; /* CREDIT, GOODBYE: nothing to answer */
	}
}

static void *
run(void *arg)
{
	struct pollfd p[2] = { { .fd = br[0].fd, .events = POLLIN },
			       { .fd = br[1].fd, .events = POLLIN } };
	uint64_t buf[SL_MAX_DATAGRAM / 8];

	(void)arg;
	while (!atomic_load(&stop)) {
		if (poll(p, 2, 5) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			struct broker *b = &br[i];
			socklen_t sl = sizeof(b->peer);
			struct sl_frame f;
			size_t off = 0;
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			n = recvfrom(b->fd, buf, sizeof(buf), 0, (struct sockaddr *)&b->peer, &sl);
			if (n <= 0)
				continue;
			atomic_store(&b->have_peer, true);
			if (atomic_load(&b->mode) == SILENT)
				continue;
			while (sl_proto_next(buf, (size_t)n, &off, &f) == 1) {
				if (atomic_load(&b->mode) == STANDBY)
					refuse(b, &f);
				else if (atomic_load(&b->mode) == MOVED &&
					 (f.hdr->type == SL_FT_RESOLVE ||
					  f.hdr->type == SL_FT_SUBSCRIBE))
					moved(b, &f);
				else
					primary(b, &f);
			}
		}
	}
	return NULL;
}

static int
broker_open(struct broker *b, uint32_t session)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);

	memset(b, 0, sizeof(*b));
	b->session = session;
	b->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (b->fd < 0 || bind(b->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(b->fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	b->port = ntohs(a.sin_port);
	return 0;
}

/* A DELIVER of TOPIC, @seq, from @b at leader epoch @epoch. */
static void
deliver(struct broker *b, uint64_t seq, uint32_t epoch)
{
	struct {
		struct sl_deliver d;
		uint8_t p[8];
	} m;

	memset(&m, 0, sizeof(m));
	sl_proto_hdr_init(&m.d.h, SL_FT_DELIVER, 0, sizeof(m), b->session);
	m.d.topic_id = TOPIC;
	m.d.seq = seq;
	memcpy(m.p, "message!", 8);
	m.d.h.reserved = epoch;
	send_frames(b, &m, sizeof(m));
}

/* ERROR NOT_PRIMARY about the session, unasked (a primary deposed). */
static void
not_primary(struct broker *b)
{
	struct sl_error e;

	memset(&e, 0, sizeof(e));
	sl_proto_hdr_init(&e.h, SL_FT_ERROR, 0, sizeof(e), b->session);
	e.code = SL_E_NOT_PRIMARY;
	e.frame_type = SL_FT_PUBLISH;
	stamp(b, &e.h);
	send_frames(b, &e, sizeof(e));
}

struct seen {
	uint64_t seqs[64];
	unsigned n;
	unsigned disconnected, reconnected;
	uint16_t why;
};

static struct seen seen;

static void
on_msg(void *arg, const struct sl_message *m)
{
	(void)arg;
	if (seen.n < 64)
		seen.seqs[seen.n++] = m->seq;
}

static void
on_event(void *arg, const struct sl_event *ev)
{
	(void)arg;
	if (ev->type == SL_EV_DISCONNECTED) {
		seen.disconnected++;
		seen.why = ev->error;
	} else if (ev->type == SL_EV_RECONNECTED) {
		seen.reconnected++;
	}
}

/* Poll for up to @ms until @cond holds. */
#define POLL_UNTIL(c, cond, ms)                                                     \
	do {                                                                        \
		uint64_t end_ = sl_now_ns() + (uint64_t)(ms) * MS;                  \
		while (!(cond) && sl_now_ns() < end_)                               \
			(void)sl_client_wait((c), on_msg, NULL, 16, 5);             \
	} while (0)

static struct sl_client_opts
opts_for(const char *hosts)
{
	struct sl_client_opts o;

	memset(&o, 0, sizeof(o));
	o.host = hosts;
	o.name = "ha";
	o.timeout_ms = 300;
	o.liveness_ms = 150;
	o.on_event = on_event;
	return o;
}

static void
test_list_errors(void)
{
	static const char *const bad[] = {
		"127.0.0.1:0", "127.0.0.1:x", "127.0.0.1:70000", ",127.0.0.1", "127.0.0.1,",
		"127.0.0.1,,127.0.0.1", ":9500", "127.0.0.1:",
		"127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1,"
		"127.0.0.1",
	};
	struct sl_client_opts o;
	struct sl_client *c = NULL;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = opts_for(bad[i]);
		CHECK_EQ(sl_client_connect(&c, &o), -EINVAL);
	}
}

/* Both standbys: the connect walks the list once and fails, -ENOTCONN. */
static void
test_no_primary(const char *hosts)
{
	struct sl_client_opts o = opts_for(hosts);
	struct sl_client *c = NULL;
	unsigned r0 = atomic_load(&br[0].refusals), r1 = atomic_load(&br[1].refusals);
	uint64_t t0 = sl_now_ns();

	o.timeout_ms = 2000; /* waiting out both would take 4 s */
	atomic_store(&br[0].mode, STANDBY);
	atomic_store(&br[1].mode, STANDBY);
	CHECK_EQ(sl_client_connect(&c, &o), -ENOTCONN);
	CHECK(atomic_load(&br[0].refusals) >= r0 + 1 && atomic_load(&br[1].refusals) >= r1 + 1);
	/* Refused at once, not waited out. */
	CHECK(sl_now_ns() - t0 < 1000 * MS);
}

/*
 * Scale-out: A (epoch 5, a pair's primary) says the topic moved to B (a
 * single broker, epoch 0). Following, the client connects to B, takes its
 * lower epoch and resolves there; without reconnecting it gets -EREMCHG
 * and where to go; a short MOVED (no address) is only a refusal.
 */
static void
test_moved(void)
{
	struct sl_client_opts o;
	struct sl_client_stats st;
	struct sl_client *c = NULL;
	char hosts[64], pair[32], addr[32], want[32];
	uint32_t topic = 0, epoch = 0;
	unsigned hb = atomic_load(&br[1].hellos);

	atomic_store(&br[0].mode, MOVED);
	atomic_store(&br[0].moved_len, sizeof(struct sl_error_moved));
	atomic_store(&br[0].epoch, 5);
	atomic_store(&br[1].mode, PRIMARY);
	atomic_store(&br[1].epoch, 0);
	snprintf(hosts, sizeof(hosts), "127.0.0.1:%u", br[0].port);
	snprintf(want, sizeof(want), "127.0.0.1:%u", br[1].port);
	o = opts_for(hosts);
	CHECK_EQ(sl_client_connect(&c, &o), 0);
	if (c == NULL)
		return;
	CHECK_EQ(sl_client_moved(c, pair, sizeof(pair), addr, sizeof(addr), &epoch), -ENOENT);
	seen.disconnected = seen.reconnected = 0;
	CHECK_EQ(sl_client_resolve(c, "t", 0, &topic), 0);
	CHECK_EQ(topic, TOPIC);
	CHECK(atomic_load(&br[0].moved) >= 1);
	CHECK(atomic_load(&br[1].hellos) > hb && atomic_load(&br[1].resolves) >= 1);
	CHECK_EQ(seen.why, SL_E_MOVED);
	CHECK_EQ(sl_client_moved(c, pair, sizeof(pair), addr, sizeof(addr), &epoch), 0);
	CHECK(strcmp(pair, "p2") == 0 && strcmp(addr, want) == 0 && epoch == 7);
	sl_client_stats(c, &st);
	CHECK_EQ(st.leader_epoch, 0);
	CHECK_EQ(st.last_error, SL_E_MOVED);
	/* Subscribing goes to B too: A is not asked again. */
	CHECK_EQ(sl_client_subscribe(c, topic), 0);
	CHECK_EQ(atomic_load(&br[0].moved), 1);
	sl_client_close(c);

	/* No reconnecting: the call fails -EREMCHG and names B. */
	o = opts_for(hosts);
	o.no_reconnect = 1;
	c = NULL;
	CHECK_EQ(sl_client_connect(&c, &o), 0);
	if (c == NULL)
		return;
	CHECK_EQ(sl_client_resolve(c, "t", 0, &topic), -EREMCHG);
	CHECK_EQ(sl_client_moved(c, pair, sizeof(pair), addr, sizeof(addr), &epoch), 0);
	CHECK(strcmp(pair, "p2") == 0 && strcmp(addr, want) == 0);
	sl_client_close(c);

	/* A MOVED of 32 bytes names nowhere: a refusal, not followed. */
	atomic_store(&br[0].moved_len, sizeof(struct sl_error));
	o = opts_for(hosts);
	c = NULL;
	hb = atomic_load(&br[1].hellos);
	CHECK_EQ(sl_client_connect(&c, &o), 0);
	if (c == NULL)
		return;
	CHECK_EQ(sl_client_resolve(c, "t", 0, &topic), -EREMCHG);
	CHECK_EQ(sl_client_moved(c, NULL, 0, NULL, 0, NULL), -ENOENT);
	CHECK_EQ(atomic_load(&br[1].hellos), hb);
	sl_client_close(c);

	/* A subscriber with messages from A, whose publish A refuses MOVED:
	 * it follows to B and subscribes there as first asked (live), not
	 * from A's next sequence, which on B would be another message. */
	atomic_store(&br[0].mode, PRIMARY);
	atomic_store(&br[0].moved_len, sizeof(struct sl_error_moved));
	o = opts_for(hosts);
	c = NULL;
	CHECK_EQ(sl_client_connect(&c, &o), 0);
	if (c == NULL)
		return;
	CHECK_EQ(sl_client_resolve(c, "t", 0, &topic), 0);
	CHECK_EQ(sl_client_subscribe(c, topic), 0);
	seen.n = 0;
	deliver(&br[0], 1, 5);
	deliver(&br[0], 2, 5);
	POLL_UNTIL(c, seen.n >= 2, 1000);
	CHECK_EQ(seen.n, 2);
	seen.reconnected = 0;
	hb = atomic_load(&br[1].subs);
	moved_send(&br[0], SL_FT_PUBLISH, 0);
	POLL_UNTIL(c, seen.reconnected == 1, 2000);
	CHECK_EQ(seen.reconnected, 1);
	CHECK_EQ(atomic_load(&br[1].subs), hb + 1);
	CHECK(!(atomic_load(&br[1].sub_flags) & SL_SUB_F_FROM_SEQ));
	deliver(&br[1], 1, 0);
	POLL_UNTIL(c, seen.n >= 3, 1000);
	CHECK(seen.n == 3 && seen.seqs[2] == 1);
	sl_client_close(c);
}

int
main(void)
{
	char hosts[128], spaced[128];
	struct sl_client_opts o;
	struct sl_client_stats st;
	struct sl_client *c = NULL;
	pthread_t th;
	uint32_t topic = 0;

	if (broker_open(&br[0], 101) < 0 || broker_open(&br[1], 102) < 0) {
		perror("test_client_ha: sockets");
		return 1;
	}
	snprintf(hosts, sizeof(hosts), "127.0.0.1:%u,127.0.0.1:%u", br[0].port, br[1].port);
	snprintf(spaced, sizeof(spaced), " 127.0.0.1:%u , 127.0.0.1:%u ", br[0].port, br[1].port);
	if (pthread_create(&th, NULL, run, NULL) != 0)
		return 1;
	test_list_errors();
	test_no_primary(hosts);

	/* A (index 0) a standby of epoch 3, B the primary: connected to B. */
	atomic_store(&br[0].mode, STANDBY);
	atomic_store(&br[0].epoch, 3);
	atomic_store(&br[1].mode, PRIMARY);
	atomic_store(&br[1].epoch, 3);
	o = opts_for(spaced);
	CHECK_EQ(sl_client_connect(&c, &o), 0);
	if (c == NULL)
		goto out;
	sl_client_stats(c, &st);
	CHECK_EQ(st.broker, 1);
	CHECK_EQ(st.leader_epoch, 3);
	CHECK(atomic_load(&br[1].welcomes) == 1 && atomic_load(&br[0].welcomes) == 0);
	CHECK_EQ(sl_client_resolve(c, "t", 1, &topic), 0);
	CHECK_EQ(sl_client_subscribe(c, topic), 0);
	deliver(&br[1], 1, 3);
	deliver(&br[1], 2, 3);
	POLL_UNTIL(c, seen.n >= 2, 1000);
	CHECK(seen.n == 2 && seen.seqs[0] == 1 && seen.seqs[1] == 2);

	/* Failover: A promoted (epoch 4), B deposed says NOT_PRIMARY. The
	 * client moves to A and resumes after seq 2. */
	atomic_store(&br[0].epoch, 4);
	atomic_store(&br[0].mode, PRIMARY);
	atomic_store(&br[1].mode, STANDBY);
	not_primary(&br[1]);
	POLL_UNTIL(c, seen.reconnected == 1, 2000);
	CHECK_EQ(seen.disconnected, 1);
	CHECK_EQ(seen.why, SL_E_NOT_PRIMARY);
	CHECK_EQ(seen.reconnected, 1);
	sl_client_stats(c, &st);
	CHECK_EQ(st.broker, 0);
	CHECK_EQ(st.leader_epoch, 4);
	CHECK_EQ(atomic_load(&br[0].subs), 1);
	CHECK(atomic_load(&br[0].sub_flags) & SL_SUB_F_FROM_SEQ);
	CHECK_EQ(atomic_load(&br[0].sub_start), 3);

	/* The epoch: an older leader's DELIVER is ignored and counted; the
	 * newest only goes up. */
	deliver(&br[0], 3, 3);
	deliver(&br[0], 3, 4);
	POLL_UNTIL(c, seen.n >= 3, 1000);
	atomic_store(&br[0].epoch, 5); /* its own frames (heartbeats) from now */
	deliver(&br[0], 4, 5);
	deliver(&br[0], 5, 4);
	POLL_UNTIL(c, seen.n >= 4, 1000);
	POLL_UNTIL(c, false, 50);
	CHECK(seen.n == 4 && seen.seqs[2] == 3 && seen.seqs[3] == 4);
	sl_client_stats(c, &st);
	CHECK_EQ(st.old_epoch_dropped, 2);
	CHECK_EQ(st.leader_epoch, 5);

	/* Silence: A stops answering. B is the primary again, first still at
	 * a stale epoch (its WELCOME is ignored: the client never goes back),
	 * then at epoch 6. */
	atomic_store(&br[1].epoch, 2);
	atomic_store(&br[1].mode, PRIMARY);
	atomic_store(&br[0].mode, SILENT);
	POLL_UNTIL(c, seen.disconnected == 2 && atomic_load(&br[1].hellos) >= 2, 3000);
	CHECK_EQ(seen.disconnected, 2);
	CHECK_EQ(seen.why, SL_E_NONE);
	POLL_UNTIL(c, false, 100);
	CHECK_EQ(seen.reconnected, 1);
	sl_client_stats(c, &st);
	CHECK(st.old_epoch_dropped > 2);
	CHECK_EQ(st.leader_epoch, 5);
	atomic_store(&br[1].epoch, 6);
	POLL_UNTIL(c, seen.reconnected == 2, 3000);
	CHECK_EQ(seen.reconnected, 2);
	sl_client_stats(c, &st);
	CHECK_EQ(st.broker, 1);
	CHECK_EQ(st.leader_epoch, 6);
	CHECK(atomic_load(&br[1].sub_flags) & SL_SUB_F_FROM_SEQ);
	CHECK_EQ(atomic_load(&br[1].sub_start), 5);
	deliver(&br[1], 5, 6);
	POLL_UNTIL(c, seen.n >= 5, 1000);
	CHECK(seen.n == 5 && seen.seqs[4] == 5);
	sl_client_close(c);

	/* A single broker stamps 0: nothing is dropped. */
	atomic_store(&br[1].epoch, 0);
	snprintf(hosts, sizeof(hosts), "127.0.0.1:%u", br[1].port);
	o = opts_for(hosts);
	c = NULL;
	CHECK_EQ(sl_client_connect(&c, &o), 0);
	if (c != NULL) {
		sl_client_stats(c, &st);
		CHECK(st.leader_epoch == 0 && st.old_epoch_dropped == 0 && st.broker == 0);
		sl_client_close(c);
	}
	test_moved();
out:
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	close(br[0].fd);
	close(br[1].fd);
	if (failures)
		fprintf(stderr, "test_client_ha: %d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
