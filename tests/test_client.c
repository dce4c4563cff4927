/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice tests against a fake broker thread on a loopback UDP socket. */

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

#include <sluice/proto.h>
#include <sluice/sluice.h>

#include "check.h"


#define FAKE_SESSION 7u
#define FAKE_HB_MS 100u
#define FAKE_TOPICS 16u
#define FLOOD_TOPIC 5u	     /* SUBSCRIBE to it sends FLOOD_DGRAMS deliveries before OK */
#define FLOOD_DGRAMS 600u
#define MS 1000000ull

/* The fake broker: one thread, one socket, replies to whoever sent. */
struct fake {
	int fd;
	uint16_t port;
	pthread_t thread;
	atomic_bool stop;
	atomic_uint heartbeats;
	atomic_uint goodbyes;
	atomic_uint resolves;
	/* Owned by the thread. */
	struct sockaddr_in peer;
	bool subscribed[FAKE_TOPICS];
	uint64_t seq[FAKE_TOPICS];
	unsigned int lossy_seen;
};

static uint64_t out[SL_MAX_DATAGRAM / 8]; /* fake's send buffer; only its thread writes */

static void
fake_send(struct fake *fk, const void *buf, size_t len)
{
	(void)sendto(fk->fd, buf, len, 0, (const struct sockaddr *)&fk->peer, sizeof(fk->peer));
}

static void
fake_error(struct fake *fk, uint32_t req_id, uint16_t code, uint8_t type, uint64_t detail)
{
	struct sl_error *e = (struct sl_error *)out;

	sl_proto_hdr_init(&e->h, SL_FT_ERROR, 0, sizeof(*e), FAKE_SESSION);
	e->req_id = req_id;
	e->code = code;
	e->frame_type = type;
	e->detail = detail;
	fake_send(fk, e, sizeof(*e));
}

/* Writes a DELIVER at @at in out[]; returns its aligned length. */
static size_t
fake_put_deliver(struct fake *fk, size_t at, uint32_t topic, const void *p, uint32_t len)
{
	struct sl_deliver *d = (struct sl_deliver *)((uint8_t *)out + at);

	sl_proto_hdr_init(&d->h, SL_FT_DELIVER, 0, sizeof(*d) + len, FAKE_SESSION);
	d->topic_id = topic;
	d->reserved = 0;
	d->seq = ++fk->seq[topic];
	d->timestamp = 42;
	memcpy(d + 1, p, len);
	return sl_proto_align((uint32_t)(sizeof(*d) + len));
}

static void
fake_hello(struct fake *fk, const struct sl_hello *h)
{
	struct sl_welcome *w = (struct sl_welcome *)out;

	if (strncmp(h->name, "oldver", 6) == 0) {
		fake_error(fk, 0, SL_E_VERSION, SL_FT_HELLO, 0);
		return;
	}
	memset(w, 0, sizeof(*w));
	sl_proto_hdr_init(&w->h, SL_FT_WELCOME, 0, sizeof(*w), FAKE_SESSION);
	w->session = FAKE_SESSION;
	w->heartbeat_ms = FAKE_HB_MS;
	w->nonce = h->nonce;
	w->max_payload = SL_MAX_PAYLOAD;
	fake_send(fk, w, sizeof(*w));
}

static void
fake_resolve(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_resolve *r = (const struct sl_resolve *)f->hdr;
	struct sl_topic_reply *t = (struct sl_topic_reply *)out;
	char name[SL_MAX_TOPIC_NAME + 1];

	atomic_fetch_add(&fk->resolves, 1);
	memcpy(name, f->body, f->body_len);
	name[f->body_len] = '\0';
	if (strcmp(name, "lossy") == 0 && fk->lossy_seen++ == 0)
		return; /* the client must resend */
	if (strcmp(name, "full") == 0) {
		fake_error(fk, r->req_id, SL_E_TOPIC_TABLE_FULL, SL_FT_RESOLVE, 0);
		return;
	}
	if (!(r->flags & SL_RESOLVE_F_CREATE)) {
		fake_error(fk, r->req_id, SL_E_UNKNOWN_TOPIC, SL_FT_RESOLVE, 0);
		return;
	}
	sl_proto_hdr_init(&t->h, SL_FT_TOPIC, 0, sizeof(*t), FAKE_SESSION);
	t->req_id = r->req_id;
	t->topic_id = strcmp(name, "t.a") == 0 ? 1 : strcmp(name, "lossy") == 0 ? 3 : 4;
	fake_send(fk, t, sizeof(*t));
}

static void
fake_subscribe(struct fake *fk, const struct sl_subscribe *s)
{
	struct sl_ok *ok;
	unsigned int i;
	size_t len;

	if (s->topic_id == 0 || s->topic_id >= FAKE_TOPICS) {
		fake_error(fk, s->req_id, SL_E_UNKNOWN_TOPIC, s->h.type, s->topic_id);
		return;
	}
	fk->subscribed[s->topic_id] = s->h.type == SL_FT_SUBSCRIBE;
	/* Deliveries racing the OK: the client must keep them for its next poll. */
	for (i = 0; s->h.type == SL_FT_SUBSCRIBE &&
		    i < (s->topic_id == FLOOD_TOPIC ? FLOOD_DGRAMS : 1); i++) {
		len = fake_put_deliver(fk, 0, s->topic_id, "retained", 8);
		fake_send(fk, out, len);
	}
	ok = (struct sl_ok *)out;
	sl_proto_hdr_init(&ok->h, SL_FT_OK, 0, sizeof(*ok), FAKE_SESSION);
	ok->req_id = s->req_id;
	ok->value = 0;
	fake_send(fk, ok, sizeof(*ok));
}

static void
fake_ack(struct fake *fk, const struct sl_publish *p)
{
	struct sl_ack *a = (struct sl_ack *)out;

	sl_proto_hdr_init(&a->h, SL_FT_ACK, 0, sizeof(*a), FAKE_SESSION);
	a->topic_id = p->topic_id;
	a->reserved = 0;
	a->producer_seq = p->producer_seq;
	a->seq = fk->seq[p->topic_id] + 1;
	fake_send(fk, a, sizeof(*a));
}

/* Payload words steer the fake: "expire", "multi", "gap", "bad". */
static void
fake_publish(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_publish *p = (const struct sl_publish *)f->hdr;
	size_t len = 0;
	int i;

	if (p->topic_id == 0 || p->topic_id >= FAKE_TOPICS) {
		fake_error(fk, 0, SL_E_UNKNOWN_TOPIC, SL_FT_PUBLISH, p->producer_seq);
		return;
	}
	if (f->body_len == 6 && memcmp(f->body, "expire", 6) == 0) {
		fake_error(fk, 0, SL_E_NO_SESSION, SL_FT_PUBLISH, 0);
		return;
	}
	if (f->hdr->flags & SL_PUB_F_ACK_REQ)
		fake_ack(fk, p);
	if (!fk->subscribed[p->topic_id])
		return;
	if (f->body_len == 3 && memcmp(f->body, "gap", 3) == 0)
		fk->seq[p->topic_id] += 2;
	for (i = 0; i < (f->body_len == 5 && memcmp(f->body, "multi", 5) == 0 ? 3 : 1); i++)
		len += fake_put_deliver(fk, len, p->topic_id, f->body, f->body_len);
	if (f->body_len == 3 && memcmp(f->body, "bad", 3) == 0) {
		/* A frame with a wrong version, then one the client must not trust. */
		memset((uint8_t *)out + len, 0x5a, sizeof(struct sl_hdr));
		len += sizeof(struct sl_hdr);
		len += fake_put_deliver(fk, len, p->topic_id, "lost", 4);
	}
	fake_send(fk, out, len);
}

static void
fake_frame(struct fake *fk, const struct sl_frame *f)
{
	switch (f->hdr->type) {
	case SL_FT_HELLO:
		fake_hello(fk, (const struct sl_hello *)f->hdr);
		break;
	case SL_FT_RESOLVE:
		fake_resolve(fk, f);
		break;
	case SL_FT_SUBSCRIBE:
	case SL_FT_UNSUBSCRIBE:
		fake_subscribe(fk, (const struct sl_subscribe *)f->hdr);
		break;
	case SL_FT_PUBLISH:
		fake_publish(fk, f);
		break;
	case SL_FT_HEARTBEAT:
		atomic_fetch_add(&fk->heartbeats, 1);
		fake_send(fk, f->hdr, f->len);
		break;
	case SL_FT_GOODBYE:
		atomic_fetch_add(&fk->goodbyes, 1);
		break;
	default:
		break;
	}
}

static void *
fake_main(void *arg)
{
	static uint64_t in[SL_MAX_DATAGRAM / 8];
	struct fake *fk = arg;
	struct pollfd p = { .fd = fk->fd, .events = POLLIN };
	struct sl_frame f;
	socklen_t alen;
	ssize_t n;
	size_t off;

	while (!atomic_load(&fk->stop)) {
		if (poll(&p, 1, 20) <= 0)
			continue;
		alen = sizeof(fk->peer);
		n = recvfrom(fk->fd, in, sizeof(in), 0, (struct sockaddr *)&fk->peer, &alen);
		if (n <= 0)
			continue;
		off = 0;
		while (sl_proto_next(in, (size_t)n, &off, &f) == 1)
			fake_frame(fk, &f);
	}
	return NULL;
}

static int
fake_start(struct fake *fk)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	memset(fk, 0, sizeof(*fk));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fk->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fk->fd < 0 || bind(fk->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fk->fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	fk->port = ntohs(sa.sin_port);
	return pthread_create(&fk->thread, NULL, fake_main, fk) == 0 ? 0 : -1;
}

static void
fake_stop(struct fake *fk)
{
	atomic_store(&fk->stop, true);
	pthread_join(fk->thread, NULL);
	close(fk->fd);
}

struct collect {
	unsigned int n;
	uint32_t topic;
	uint64_t seq;
	char last[64];
};

static void
on_msg(void *arg, const struct sl_message *m)
{
	struct collect *col = arg;
	uint32_t len = m->len < sizeof(col->last) - 1 ? m->len : sizeof(col->last) - 1;

	col->n++;
	col->topic = m->topic_id;
	col->seq = m->seq;
	memcpy(col->last, m->data, len);
	col->last[len] = '\0';
}

/* Poll until @want deliveries arrived or 1 s passed; @max per call. */
static void
collect(struct sl_client *c, struct collect *col, unsigned int want, int max)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;
	int rc;

	while (col->n < want && sl_now_ns() < deadline) {
		rc = sl_client_wait(c, on_msg, col, max, 10);
		CHECK(rc >= 0 && rc <= max);
		if (rc < 0)
			break;
	}
}

static int
fake_connect(struct fake *fk, struct sl_client **c, const char *name)
{
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = name,
				    .timeout_ms = 1000 };

	return sl_client_connect(c, &o);
}

static void
test_connect_errors(struct fake *fk)
{
	struct sl_client_opts o = { .host = "127.0.0.1", .timeout_ms = 300 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct sl_client *c = NULL;
	uint64_t t0;
	int fd, rc;

	CHECK(sl_client_connect(&c, &(struct sl_client_opts){ .host = NULL }) == -EINVAL);
	/* A port nobody listens on: ICMP refusals must not end the retries early. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	o.port = ntohs(sa.sin_port);
	t0 = sl_now_ns();
	rc = sl_client_connect(&c, &o);
	CHECK(rc == -ETIMEDOUT);
	CHECK(sl_now_ns() - t0 >= 290 * MS && sl_now_ns() - t0 < 1500 * MS);
	CHECK(fake_connect(fk, &c, "oldver") == -EPROTO);
	sl_client_close(NULL);
}

static void
test_resolve(struct sl_client *c)
{
	uint32_t id = 0;
	uint64_t t0;

	CHECK(sl_client_resolve(c, "t.a", 1, &id) == 0 && id == 1);
	CHECK(sl_client_resolve(c, "full", 1, &id) == -ENOSPC);
	CHECK(sl_client_resolve(c, "missing", 0, &id) == -ENOENT);
	CHECK(sl_client_resolve(c, "a b", 1, &id) == -EINVAL);
	CHECK(sl_client_resolve(c, "", 1, &id) == -EINVAL);
	t0 = sl_now_ns();
	CHECK(sl_client_resolve(c, "lossy", 1, &id) == 0 && id == 3);
	CHECK(sl_now_ns() - t0 >= 150 * MS); /* answered only the resend */
}

static void
test_subscribe_publish(struct sl_client *c)
{
	static char big[SL_MAX_PAYLOAD + 1];
	struct collect col = { 0 };
	struct sl_client_stats st;

	CHECK(sl_client_subscribe(c, 1) == 0);
	CHECK(sl_client_subscribe(c, 99) == -ENOENT);
	CHECK(sl_client_subscribe(c, 0) == -ENOENT);
	/* The delivery that raced the OK was stashed, not lost. */
	CHECK(sl_client_poll(c, on_msg, &col, 8) == 1);
	CHECK(col.topic == 1 && col.seq == 1 && strcmp(col.last, "retained") == 0);

	CHECK(sl_client_publish(c, 1, "hello", 5, 1, SL_PUB_F_ACK_REQ) == 0);
	CHECK(sl_client_last_seq(c) == 1);
	collect(c, &col, 2, 8);
	CHECK(col.n == 2 && col.seq == 2 && strcmp(col.last, "hello") == 0);
	CHECK(sl_client_acked(c) == 1);
	CHECK(sl_client_publish(c, 1, big, sizeof(big), 0, 0) == -EMSGSIZE);
	CHECK(sl_client_publish(c, 1, "x", 1, 0, 0x80) == -EINVAL);
	CHECK(sl_client_last_seq(c) == 1);

	/* Three deliveries in one datagram, handed out one per poll. */
	CHECK(sl_client_publish(c, 1, "multi", 5, 0, 0) == 0);
	collect(c, &col, 5, 1);
	CHECK(col.n == 5 && col.seq == 5);

	CHECK(sl_client_publish(c, 1, "gap", 3, 0, 0) == 0);
	collect(c, &col, 6, 8);
	CHECK(col.seq == 8);

	CHECK(sl_client_publish(c, 50, "x", 1, 0, 0) == 0);
	CHECK(sl_client_publish(c, 1, "bad", 3, 0, 0) == 0);
	collect(c, &col, 7, 8);
	CHECK(col.n == 7 && strcmp(col.last, "bad") == 0);
	(void)sl_client_wait(c, on_msg, &col, 8, 50);
	CHECK(col.n == 7); /* the frame after the bad one was dropped */

	sl_client_stats(c, &st);
	CHECK(st.published == 5);
	CHECK(st.delivered == 7);
	CHECK(st.acks == 1);
	CHECK(st.gaps == 2);
	CHECK(st.errors == 4); /* full, missing, subscribe 99, publish to 50 */
	CHECK(st.bad_frames == 1);
	CHECK(st.stash_drops == 0);
	CHECK(sl_client_session(c) == FAKE_SESSION);
}

static void
test_heartbeat(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	unsigned int before = atomic_load(&fk->heartbeats);
	uint64_t t0 = sl_now_ns();

	/* Silent for 3 broker intervals: wait must send heartbeats on its own. */
	while (sl_now_ns() - t0 < 3 * FAKE_HB_MS * MS)
		CHECK(sl_client_wait(c, on_msg, &col, 8, 300) >= 0);
	CHECK(atomic_load(&fk->heartbeats) - before >= 4);
	CHECK(col.n == 0);
}

static void
test_stash_overflow(struct sl_client *c)
{
	struct collect col = { 0 };
	struct sl_client_stats st;
	int rcvbuf = 0;
	socklen_t len = sizeof(rcvbuf);

	getsockopt(sl_client_fd(c), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	if (rcvbuf < (2 << 20)) {
		/* Without CAP_NET_ADMIN the kernel itself would drop the flood. */
		fprintf(stderr, "stash overflow: skipped, SO_RCVBUF is %d\n", rcvbuf);
		return;
	}
	CHECK(sl_client_subscribe(c, FLOOD_TOPIC) == 0);
	collect(c, &col, FLOOD_DGRAMS, 64);
	sl_client_stats(c, &st);
	CHECK(st.stash_drops > 0);
	CHECK(col.n + st.stash_drops == FLOOD_DGRAMS);
	CHECK(col.n == 512);
}

static void
test_expire(struct sl_client *c)
{
	struct collect col = { 0 };
	uint32_t id;
	int rc = 0;
	int i;

	CHECK(sl_client_publish(c, 1, "expire", 6, 0, 0) == 0);
	for (i = 0; i < 100 && rc != -ENOTCONN; i++)
		rc = sl_client_wait(c, on_msg, &col, 8, 10);
	CHECK(rc == -ENOTCONN);
	CHECK(sl_client_poll(c, on_msg, &col, 8) == -ENOTCONN);
	CHECK(sl_client_resolve(c, "t.a", 1, &id) == -ENOTCONN);
	CHECK(sl_client_publish(c, 1, "x", 1, 0, 0) == -ENOTCONN);
}

static void
test_goodbye(struct fake *fk)
{
	struct sl_client *c;
	int i;

	CHECK(fake_connect(fk, &c, "bye") == 0);
	sl_client_close(c);
	for (i = 0; i < 50 && atomic_load(&fk->goodbyes) == 0; i++)
		usleep(2000);
	CHECK(atomic_load(&fk->goodbyes) == 1);
}

int
main(void)
{
	struct sl_client *c = NULL;
	struct fake fk;

	if (fake_start(&fk) < 0) {
		perror("fake broker");
		return 1;
	}
	test_connect_errors(&fk);
	CHECK(fake_connect(&fk, &c, "test") == 0);
	if (c != NULL) {
		test_resolve(c);
		test_subscribe_publish(c);
		test_heartbeat(c, &fk);
		test_stash_overflow(c);
		test_expire(c);
		sl_client_close(c);
	}
	test_goodbye(&fk);
	fake_stop(&fk);
	return check_result("test_client");
}
