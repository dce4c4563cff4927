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
#include <sys/stat.h>

#include <common/auth.h>
#include <common/proto.h>
#include <sluice/sluice.h>

#include "check.h"


#define FAKE_SESSION 7u
#define FAKE_HB_MS 100u
#define FAKE_TOPICS 16u
#define FLOOD_TOPIC 5u	     /* SUBSCRIBE to it sends FLOOD_DGRAMS deliveries before OK */
#define FLOOD_DGRAMS 600u
/* Durable topics of the fake: every accepted message is kept, with receive
 * time seq * 1000 ns, and a replay sends them all from the start point. */
#define REPLAY_TOPIC 6u	     /* the replay's DELIVERs come before the OK */
#define REPLAY_LATE_TOPIC 7u /* the replay's DELIVERs come after the OK */
#define NOJOURNAL_TOPIC 8u   /* durability none: replay refused, live fine */
#define RBUSY_TOPIC 9u	     /* replay refused with SL_E_REPLAY_BUSY */
#define JFULL_TOPIC 10u	     /* publishes refused: journal full */
#define JDAMAGED_TOPIC 11u   /* publishes refused: journal damaged */
#define RETAINED 3u	     /* messages on the replay topics before the test */
#define DENIED_TOPIC 12u     /* the ACL allows nothing on it (nor RESOLVE of "secret") */
/* Publishes to these get no answer from the fake: the test sends the ACKs
 * and ERRORs itself (inject), in the order and number it wants. */
#define SILENT_TOPIC 13u
#define SILENT_TOPIC2 14u
#define MS 1000000ull

/* The one user the authenticating fake knows. */
#define FAKE_USER "alice"
static const uint8_t fake_key[SL_AUTH_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* How the authenticating fake answers a good AUTH. */
enum welcome_mode {
	WELCOME_GOOD,	     /* sealed under the session key */
	WELCOME_FORGED,	     /* sealed under another key, as by someone without the user's */
	WELCOME_PLAIN,	     /* no SL_WELCOME_F_AUTH, no trailer: a downgrade */
	WELCOME_FORGED_GOOD, /* a forged one, then the genuine one */
};

/* The fake broker: one thread, one socket, replies to whoever sent. */
struct fake {
	int fd;
	uint16_t port;
	pthread_t thread;
	atomic_bool stop;
	atomic_uint heartbeats;
	atomic_uint goodbyes;
	atomic_uint resolves;
	atomic_uint rbusy_subs;	     /* SUBSCRIBEs seen for RBUSY_TOPIC */
	atomic_uint sub_flags;	     /* header flags of the last SUBSCRIBE */
	atomic_ullong sub_start;     /* start of the last SUBSCRIBE */
	atomic_uint silent_pubs;     /* PUBLISHes to the silent topics */
	/* Authentication: set before the thread starts. */
	bool auth;		     /* every session must authenticate */
	/* Set by the tests. */
	atomic_int welcome_mode;     /* enum welcome_mode */
	atomic_bool drop_auth;	     /* ignore the next AUTH: the client must resend it */
	/* Counted by the fake. */
	atomic_uint challenges;	     /* CHALLENGEs sent */
	atomic_uint auths;	     /* AUTH frames handled */
	atomic_uint sealed_ok;	     /* frames after WELCOME with a valid trailer */
	atomic_uint sealed_bad;	     /* frames after WELCOME without one, with a bad MAC or
				      * a seq not above the last; and frames before it */
	atomic_uint sealed_by_type[128]; /* frames with a valid trailer, by type */
	/* Owned by the thread. */
	struct sockaddr_in peer;
	bool subscribed[FAKE_TOPICS];
	uint64_t seq[FAKE_TOPICS];
	unsigned int lossy_seen;
	bool authed;		     /* the current session passed AUTH */
	uint64_t hello_nonce;	     /* of the current session */
	uint64_t rx_seq;	     /* highest trailer seq accepted */
	char user[SL_AUTH_USER_LEN];
	uint8_t server_nonce[SL_AUTH_NONCE_LEN];
	uint8_t skey[SL_AUTH_SESSION_KEY_LEN];
	uint64_t in[SL_MAX_DATAGRAM / 8];
	uint64_t out[SL_MAX_DATAGRAM / 8]; /* send buffer */
};

static void
fake_send(struct fake *fk, const void *buf, size_t len)
{
	(void)sendto(fk->fd, buf, len, 0, (const struct sockaddr *)&fk->peer, sizeof(fk->peer));
}

static void
fake_error(struct fake *fk, uint32_t req_id, uint16_t code, uint8_t type, uint64_t detail)
{
	struct sl_error *e = (struct sl_error *)fk->out;

	sl_proto_hdr_init(&e->h, SL_FT_ERROR, 0, sizeof(*e), FAKE_SESSION);
	e->req_id = req_id;
	e->code = code;
	e->frame_type = type;
	e->detail = detail;
	fake_send(fk, e, sizeof(*e));
}

/* Writes a DELIVER with @seq at @at in fk->out; returns its aligned length. */
static size_t
fake_put_deliver_seq(struct fake *fk, size_t at, uint32_t topic, uint64_t seq, uint16_t flags,
		     uint64_t ts, const void *p, uint32_t len)
{
	struct sl_deliver *d = (struct sl_deliver *)((uint8_t *)fk->out + at);

	sl_proto_hdr_init(&d->h, SL_FT_DELIVER, flags, sizeof(*d) + len, FAKE_SESSION);
	d->topic_id = topic;
	d->payload_len = 0;
	d->seq = seq;
	d->timestamp = ts;
	memcpy(d + 1, p, len);
	return sl_proto_align((uint32_t)(sizeof(*d) + len));
}

/* A live DELIVER with the topic's next sequence number. */
static size_t
fake_put_deliver(struct fake *fk, size_t at, uint32_t topic, const void *p, uint32_t len)
{
	return fake_put_deliver_seq(fk, at, topic, ++fk->seq[topic], 0, 42, p, len);
}

/* A WELCOME for HELLO @nonce; sealed with @skey when not NULL. */
static void
fake_welcome(struct fake *fk, uint64_t nonce, const uint8_t *skey)
{
	struct sl_welcome *w = (struct sl_welcome *)fk->out;
	uint32_t len = sizeof(*w);

	memset(w, 0, sizeof(*w));
	sl_proto_hdr_init(&w->h, SL_FT_WELCOME, skey ? SL_WELCOME_F_AUTH : 0, sizeof(*w),
			  FAKE_SESSION);
	w->session = FAKE_SESSION;
	w->heartbeat_ms = FAKE_HB_MS;
	w->nonce = nonce;
	w->max_payload = SL_MAX_PAYLOAD;
	w->version = SL_PROTO_VERSION;
	w->max_message = SL_MAX_MESSAGE_DEFAULT;
	if (skey != NULL) {
		len = sl_proto_align(len) + sizeof(struct sl_auth_trailer);
		sl_auth_seal(skey, w, len, 1);
	}
	fake_send(fk, w, len);
}

/* The broker side of HELLO with authentication required: a CHALLENGE. */
static void
fake_challenge(struct fake *fk, const struct sl_hello *h)
{
	struct sl_challenge *ch = (struct sl_challenge *)fk->out;
	unsigned int i;

	if (!(h->caps & SL_CAP_AUTH)) {
		fake_error(fk, 0, SL_E_AUTH_REQUIRED, SL_FT_HELLO, 0);
		return;
	}
	/* A resent HELLO (same nonce) gets the same CHALLENGE. */
	if (h->nonce != fk->hello_nonce) {
		fk->hello_nonce = h->nonce;
		fk->authed = false;
		memcpy(fk->user, h->name, sizeof(fk->user));
		for (i = 0; i < sizeof(fk->server_nonce); i++)
			fk->server_nonce[i] = (uint8_t)rng();
	}
	atomic_fetch_add(&fk->challenges, 1);
	memset(ch, 0, sizeof(*ch));
	sl_proto_hdr_init(&ch->h, SL_FT_CHALLENGE, 0, sizeof(*ch), FAKE_SESSION);
	ch->nonce = h->nonce;
	memcpy(ch->server_nonce, fk->server_nonce, sizeof(ch->server_nonce));
	fake_send(fk, ch, sizeof(*ch));
}

static void
fake_hello(struct fake *fk, const struct sl_hello *h)
{
	/* PROTOCOL.md 9: HELLO in header version 1, the versions in its body. */
	if (h->h.version != SL_PROTO_HELLO_VERSION || h->min_version != SL_PROTO_VERSION ||
	    h->max_version != SL_PROTO_VERSION)
		return; /* the client never gets a WELCOME: its connect fails */
	if (strncmp(h->name, "oldver", 6) == 0) {
		fake_error(fk, 0, SL_E_VERSION, SL_FT_HELLO, 0);
		return;
	}
	if (fk->auth) {
		fake_challenge(fk, h);
		return;
	}
	fake_welcome(fk, h->nonce, NULL);
}

/* Check the proof; WELCOME sealed as welcome_mode says, or AUTH_FAILED. */
static void
fake_auth(struct fake *fk, const struct sl_auth *a)
{
	uint8_t proof[32];
	uint8_t forged[SL_AUTH_SESSION_KEY_LEN];
	int mode = atomic_load(&fk->welcome_mode);

	if (!fk->auth || atomic_exchange(&fk->drop_auth, false))
		return;
	atomic_fetch_add(&fk->auths, 1);
	sl_auth_proof(fake_key, fk->hello_nonce, fk->server_nonce, a->client_nonce, fk->user,
		      proof);
	if (a->h.session != FAKE_SESSION || strncmp(fk->user, FAKE_USER, sizeof(fk->user)) ||
	    sl_auth_memcmp(proof, a->proof, sizeof(proof)) != 0) {
		fake_error(fk, 0, SL_E_AUTH_FAILED, SL_FT_AUTH, 0);
		return;
	}
	sl_auth_session_key(fake_key, fk->server_nonce, a->client_nonce, fk->skey);
	fk->authed = true;
	fk->rx_seq = 0;
	memcpy(forged, fk->skey, sizeof(forged));
	forged[0] ^= 1;
	if (mode == WELCOME_PLAIN)
		fake_welcome(fk, fk->hello_nonce, NULL);
	if (mode == WELCOME_FORGED || mode == WELCOME_FORGED_GOOD)
		fake_welcome(fk, fk->hello_nonce, forged);
	if (mode == WELCOME_GOOD || mode == WELCOME_FORGED_GOOD)
		fake_welcome(fk, fk->hello_nonce, fk->skey);
}

/*
 * As the dataplane: after WELCOME every frame must carry a trailer with the
 * MAC under the session key and a seq above every earlier one.
 */
static bool
fake_verify(struct fake *fk, const struct sl_frame *f)
{
	uint64_t mac;

	if (!fk->authed || f->trailer == NULL || f->hdr->session != FAKE_SESSION)
		return false;
	mac = sl_auth_frame_mac(fk->skey, f->hdr, f->len);
	if (sl_auth_memcmp(&mac, &f->trailer->mac, sizeof(mac)) != 0 || f->trailer->seq <= fk->rx_seq)
		return false;
	fk->rx_seq = f->trailer->seq;
	return true;
}

static void
fake_resolve(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_resolve *r = (const struct sl_resolve *)f->hdr;
	struct sl_topic_reply *t = (struct sl_topic_reply *)fk->out;
	char name[SL_MAX_TOPIC_NAME + 1];

	atomic_fetch_add(&fk->resolves, 1);
	/* name_len, not body_len: with a trailer, padding follows the name. */
	memcpy(name, f->body, r->name_len);
	name[r->name_len] = '\0';
	if (strcmp(name, "lossy") == 0 && fk->lossy_seen++ == 0)
		return; /* the client must resend */
	if (strcmp(name, "full") == 0) {
		fake_error(fk, r->req_id, SL_E_TOPIC_TABLE_FULL, SL_FT_RESOLVE, 0);
		return;
	}
	if (strcmp(name, "secret") == 0) {
		fake_error(fk, r->req_id, SL_E_DENIED, SL_FT_RESOLVE, 0);
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
fake_ok(struct fake *fk, uint32_t req_id)
{
	struct sl_ok *ok = (struct sl_ok *)fk->out;

	sl_proto_hdr_init(&ok->h, SL_FT_OK, 0, sizeof(*ok), FAKE_SESSION);
	ok->req_id = req_id;
	ok->value = 0;
	fake_send(fk, ok, sizeof(*ok));
}

/* The kept messages of @topic from the subscription's start point, one per datagram. */
static void
fake_replay(struct fake *fk, const struct sl_subscribe *s)
{
	uint64_t seq = 1;
	size_t len;

	if (s->h.flags & SL_SUB_F_FROM_SEQ)
		seq = s->start > 0 ? s->start : 1;
	else if (s->h.flags & SL_SUB_F_FROM_TIME)
		seq = s->start / 1000 + (s->start % 1000 != 0); /* first with seq*1000 >= start */
	for (; seq <= fk->seq[s->topic_id]; seq++) {
		len = fake_put_deliver_seq(fk, 0, s->topic_id, seq, SL_DLV_F_REPLAY, seq * 1000,
					   "replay", 6);
		fake_send(fk, fk->out, len);
	}
}

/* Replay refusals of the fake; returns the error code, or 0 to go on. */
static uint16_t
fake_replay_refusal(struct fake *fk, const struct sl_subscribe *s)
{
	if (s->topic_id == RBUSY_TOPIC)
		atomic_fetch_add(&fk->rbusy_subs, 1);
	if (s->h.type != SL_FT_SUBSCRIBE || !(s->h.flags & SL_SUB_F_REPLAY))
		return 0;
	if (s->topic_id == RBUSY_TOPIC)
		return SL_E_REPLAY_BUSY;
	if (s->topic_id != REPLAY_TOPIC && s->topic_id != REPLAY_LATE_TOPIC)
		return SL_E_NO_JOURNAL;
	return 0;
}

static void
fake_subscribe(struct fake *fk, const struct sl_subscribe *s)
{
	bool replay = (s->h.flags & SL_SUB_F_REPLAY) != 0;
	unsigned int i;
	uint16_t code;
	size_t len;

	if (s->topic_id == 0 || s->topic_id >= FAKE_TOPICS) {
		fake_error(fk, s->req_id, SL_E_UNKNOWN_TOPIC, s->h.type, s->topic_id);
		return;
	}
	if (s->h.type == SL_FT_SUBSCRIBE) {
		atomic_store(&fk->sub_flags, s->h.flags & ~SL_HDR_F_AUTH);
		atomic_store(&fk->sub_start, s->start);
	}
	if (s->topic_id == DENIED_TOPIC) {
		fake_error(fk, s->req_id, SL_E_DENIED, s->h.type, s->topic_id);
		return;
	}
	code = fake_replay_refusal(fk, s);
	if (code != 0) {
		fake_error(fk, s->req_id, code, s->h.type, s->topic_id);
		return;
	}
	fk->subscribed[s->topic_id] = s->h.type == SL_FT_SUBSCRIBE;
	if (replay && s->topic_id == REPLAY_LATE_TOPIC) {
		fake_ok(fk, s->req_id);
		fake_replay(fk, s);
		return;
	}
	if (replay) {
		fake_replay(fk, s); /* must wait in the client's stash for its next poll */
		fake_ok(fk, s->req_id);
		return;
	}
	/* Deliveries racing the OK: the client must keep them for its next poll. */
	for (i = 0; s->h.type == SL_FT_SUBSCRIBE &&
		    i < (s->topic_id == FLOOD_TOPIC ? FLOOD_DGRAMS : 1); i++) {
		len = fake_put_deliver(fk, 0, s->topic_id, "retained", 8);
		fake_send(fk, fk->out, len);
	}
	fake_ok(fk, s->req_id);
}

static void
fake_ack(struct fake *fk, const struct sl_publish *p)
{
	struct sl_ack *a = (struct sl_ack *)fk->out;

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
	if (p->topic_id == DENIED_TOPIC) {
		fake_error(fk, 0, SL_E_DENIED, SL_FT_PUBLISH, p->producer_seq);
		return;
	}
	if (p->topic_id == SILENT_TOPIC || p->topic_id == SILENT_TOPIC2) {
		atomic_fetch_add(&fk->silent_pubs, 1);
		return;
	}
	if (p->topic_id == JFULL_TOPIC || p->topic_id == JDAMAGED_TOPIC) {
		/* As the broker does: no ACK, an ERROR naming the producer_seq. */
		fake_error(fk, 0, p->topic_id == JFULL_TOPIC ? SL_E_JOURNAL_FULL :
			   SL_E_JOURNAL_DAMAGED, SL_FT_PUBLISH, p->producer_seq);
		return;
	}
	if (f->body_len == 6 && memcmp(f->body, "expire", 6) == 0) {
		fake_error(fk, 0, SL_E_NO_SESSION, SL_FT_PUBLISH, 0);
		return;
	}
	if (f->hdr->flags & SL_PUB_F_ACK_REQ)
		fake_ack(fk, p);
	if (!fk->subscribed[p->topic_id]) {
		fk->seq[p->topic_id]++; /* accepted (and kept, on a replay topic) */
		return;
	}
	if (f->body_len == 3 && memcmp(f->body, "gap", 3) == 0)
		fk->seq[p->topic_id] += 2;
	for (i = 0; i < (f->body_len == 5 && memcmp(f->body, "multi", 5) == 0 ? 3 : 1); i++)
		len += fake_put_deliver(fk, len, p->topic_id, f->body, f->body_len);
	if (f->body_len == 3 && memcmp(f->body, "bad", 3) == 0) {
		/* A frame with a wrong version, then one the client must not trust. */
		memset((uint8_t *)fk->out + len, 0x5a, sizeof(struct sl_hdr));
		len += sizeof(struct sl_hdr);
		len += fake_put_deliver(fk, len, p->topic_id, "lost", 4);
	}
	fake_send(fk, fk->out, len);
}

static void
fake_frame(struct fake *fk, const struct sl_frame *f)
{
	uint8_t type = f->hdr->type;

	if (fk->auth && type != SL_FT_HELLO && type != SL_FT_AUTH) {
		if (!fake_verify(fk, f)) {
			atomic_fetch_add(&fk->sealed_bad, 1);
			return; /* dropped, as the dataplane does */
		}
		atomic_fetch_add(&fk->sealed_ok, 1);
		atomic_fetch_add(&fk->sealed_by_type[type & 0x7f], 1);
	}
	switch (type) {
	case SL_FT_HELLO:
		fake_hello(fk, (const struct sl_hello *)f->hdr);
		break;
	case SL_FT_AUTH:
		fake_auth(fk, (const struct sl_auth *)f->hdr);
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
		n = recvfrom(fk->fd, fk->in, sizeof(fk->in), 0, (struct sockaddr *)&fk->peer,
			     &alen);
		if (n <= 0)
			continue;
		off = 0;
		while (sl_proto_next(fk->in, (size_t)n, &off, &f) == 1)
			fake_frame(fk, &f);
	}
	return NULL;
}

/* @auth: the fake requires authentication, as `auth required`. */
static int
fake_start(struct fake *fk, bool auth)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	memset(fk, 0, sizeof(*fk));
	fk->auth = auth;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fk->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fk->fd < 0 || bind(fk->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fk->fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	fk->port = ntohs(sa.sin_port);
	fk->seq[REPLAY_TOPIC] = RETAINED;
	fk->seq[REPLAY_LATE_TOPIC] = RETAINED;
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
	uint64_t ts;
	uint64_t seqs[16]; /* the first 16 sequence numbers, in arrival order */
	char last[64];
};

static void
on_msg(void *arg, const struct sl_message *m)
{
	struct collect *col = arg;
	uint32_t len = m->len < sizeof(col->last) - 1 ? m->len : sizeof(col->last) - 1;

	if (col->n < sizeof(col->seqs) / sizeof(col->seqs[0]))
		col->seqs[col->n] = m->seq;
	col->n++;
	col->topic = m->topic_id;
	col->seq = m->seq;
	col->ts = m->timestamp;
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

/* Connect as the fake expects: with its user's credentials when it authenticates. */
static int
fake_connect(struct fake *fk, struct sl_client **c, const char *name)
{
	/* The fake answers no NAK: a jump in seq it makes on purpose is given
	 * up by the client after 50 ms, as a broker's SL_E_GAP_LOST would. */
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = name,
				    .timeout_ms = 1000, .gap_timeout_ms = 50 };

	if (fk->auth) {
		o.user = FAKE_USER;
		o.key = fake_key;
	}
	return sl_client_connect(c, &o);
}

/* Connect to @fk as @user with @key (both may be NULL); *@code gets last_error. */
static int
auth_connect(struct fake *fk, struct sl_client **c, const char *user, const uint8_t *key,
	     uint32_t timeout_ms, uint16_t *code)
{
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = "other",
				    .timeout_ms = timeout_ms, .user = user, .key = key,
				    .last_error = code };

	*code = 0xffff; /* connect must overwrite it */
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

/* Replay delivered before the OK: stashed, then handed out in order, then live. */
static void
test_replay_earliest(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	struct sl_client_stats st0, st;

	sl_client_stats(c, &st0);
	/* Bad flags never reach the wire. */
	CHECK(sl_client_subscribe_from(c, REPLAY_TOPIC, SL_SUB_F_EARLIEST | SL_SUB_F_FROM_SEQ,
				       1) == -EINVAL);
	CHECK(sl_client_subscribe_from(c, REPLAY_TOPIC, 0x80, 0) == -EINVAL);

	CHECK(sl_client_subscribe_from(c, REPLAY_TOPIC, SL_SUB_F_EARLIEST, 99) == 0);
	CHECK(atomic_load(&fk->sub_flags) == SL_SUB_F_EARLIEST);
	CHECK(atomic_load(&fk->sub_start) == 0); /* meaningless here: sent as 0 */
	collect(c, &col, RETAINED, 8);
	CHECK(col.n == RETAINED && col.seqs[0] == 1 && col.seqs[1] == 2 && col.seqs[2] == 3);
	CHECK(col.ts == 3000 && strcmp(col.last, "replay") == 0);
	CHECK(sl_client_publish(c, REPLAY_TOPIC, "live", 4, 0, 0) == 0);
	collect(c, &col, RETAINED + 1, 8);
	CHECK(col.n == RETAINED + 1 && col.seq == 4 && strcmp(col.last, "live") == 0);
	sl_client_stats(c, &st);
	CHECK(st.gaps == st0.gaps);
	/* A jump after the replay is a real gap (e.g. retention deleted messages). */
	CHECK(sl_client_publish(c, REPLAY_TOPIC, "gap", 3, 0, 0) == 0);
	collect(c, &col, RETAINED + 2, 8);
	CHECK(col.seq == 7);
	sl_client_stats(c, &st);
	CHECK(st.gaps - st0.gaps == 2);
	CHECK(st.errors == st0.errors);
}

/* Replay delivered after the OK, from a sequence and from a time. */
static void
test_replay_from(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	struct sl_client_stats st0, st;
	int i;

	/* Live: the delivery racing the OK is seq 4; then away while 5..7 come. */
	CHECK(sl_client_subscribe(c, REPLAY_LATE_TOPIC) == 0);
	CHECK(atomic_load(&fk->sub_flags) == 0 && atomic_load(&fk->sub_start) == 0);
	collect(c, &col, 1, 8);
	CHECK(col.n == 1 && col.seq == RETAINED + 1);
	CHECK(sl_client_unsubscribe(c, REPLAY_LATE_TOPIC) == 0);
	for (i = 0; i < 3; i++)
		CHECK(sl_client_publish(c, REPLAY_LATE_TOPIC, "away", 4, 0, 0) == 0);

	/* Starting at 7 is what was asked for: no gap after the 4 seen before. */
	sl_client_stats(c, &st0);
	CHECK(sl_client_subscribe_from(c, REPLAY_LATE_TOPIC, SL_SUB_F_FROM_SEQ, 7) == 0);
	CHECK(atomic_load(&fk->sub_flags) == SL_SUB_F_FROM_SEQ);
	CHECK(atomic_load(&fk->sub_start) == 7);
	collect(c, &col, 2, 8);
	CHECK(col.n == 2 && col.seq == 7 && strcmp(col.last, "replay") == 0);
	CHECK(sl_client_publish(c, REPLAY_LATE_TOPIC, "live", 4, 0, 0) == 0);
	collect(c, &col, 3, 8);
	CHECK(col.n == 3 && col.seq == 8 && strcmp(col.last, "live") == 0);
	sl_client_stats(c, &st);
	CHECK(st.gaps == st0.gaps);

	/* From a time: the fake received seq N at N * 1000 ns. */
	memset(&col, 0, sizeof(col));
	CHECK(sl_client_subscribe_from(c, REPLAY_LATE_TOPIC, SL_SUB_F_FROM_TIME, 5500) == 0);
	CHECK(atomic_load(&fk->sub_flags) == SL_SUB_F_FROM_TIME);
	CHECK(atomic_load(&fk->sub_start) == 5500);
	collect(c, &col, 3, 8);
	(void)sl_client_wait(c, on_msg, &col, 8, 30);
	CHECK(col.n == 3 && col.seqs[0] == 6 && col.seqs[1] == 7 && col.seqs[2] == 8);
	sl_client_stats(c, &st);
	CHECK(st.gaps == st0.gaps);
	CHECK(st.errors == st0.errors);
}

/* Replay refusals map to errnos; live subscribing to the same topic still works. */
static void
test_replay_refused(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	struct sl_client_stats st0, st;
	uint64_t t0;

	sl_client_stats(c, &st0);
	CHECK(sl_client_subscribe_from(c, NOJOURNAL_TOPIC, SL_SUB_F_EARLIEST, 0) == -EOPNOTSUPP);
	sl_client_stats(c, &st);
	CHECK(st.errors == st0.errors + 1);
	CHECK(st.last_error == SL_E_NO_JOURNAL);
	CHECK(st.publish_refused == st0.publish_refused);
	CHECK(sl_client_subscribe_from(c, NOJOURNAL_TOPIC, 0, 0) == 0);
	collect(c, &col, 1, 8); /* the delivery that raced the OK */
	CHECK(col.n == 1 && col.topic == NOJOURNAL_TOPIC);

	/* Unlike SL_E_BUSY, not retried until the timeout: answered at once. */
	t0 = sl_now_ns();
	CHECK(sl_client_subscribe_from(c, RBUSY_TOPIC, SL_SUB_F_FROM_SEQ, 1) == -EBUSY);
	CHECK(sl_now_ns() - t0 < 150 * MS);
	CHECK(atomic_load(&fk->rbusy_subs) == 1);
	sl_client_stats(c, &st);
	CHECK(st.last_error == SL_E_REPLAY_BUSY);
}

/* Poll until @want ERROR frames more than @errors0 arrived, or 1 s passed. */
static void
wait_errors(struct sl_client *c, uint64_t errors0, uint64_t want, struct sl_client_stats *st)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;

	do {
		CHECK(sl_client_wait(c, NULL, NULL, 8, 10) >= 0);
		sl_client_stats(c, st);
	} while (st->errors - errors0 < want && sl_now_ns() < deadline);
}

static void
test_publish_refused(struct sl_client *c)
{
	struct sl_client_stats st0, st;
	uint64_t acked0 = sl_client_acked(c);
	int i;

	sl_client_stats(c, &st0);
	for (i = 0; i < 3; i++)
		CHECK(sl_client_publish(c, JFULL_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_errors(c, st0.errors, 3, &st);
	CHECK(st.errors - st0.errors == 3);
	CHECK(st.publish_refused - st0.publish_refused == 3);
	CHECK(st.last_error == SL_E_JOURNAL_FULL);
	CHECK(st.acks == st0.acks && sl_client_acked(c) == acked0);
	CHECK(st.published - st0.published == 3); /* the kernel took them all */

	/* The most recent code wins. */
	CHECK(sl_client_publish(c, JDAMAGED_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_errors(c, st0.errors, 4, &st);
	CHECK(st.publish_refused - st0.publish_refused == 4);
	CHECK(st.last_error == SL_E_JOURNAL_DAMAGED);
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
	unsigned int before = atomic_load(&fk->goodbyes);
	struct sl_client *c;
	int i;

	CHECK(fake_connect(fk, &c, "bye") == 0);
	sl_client_close(c);
	for (i = 0; i < 50 && atomic_load(&fk->goodbyes) == before; i++)
		usleep(2000);
	CHECK(atomic_load(&fk->goodbyes) == before + 1);
}

/* SL_E_DENIED: -EPERM for requests, a publish refusal for publishes. */
static void
test_denied(struct sl_client *c)
{
	struct sl_client_stats st0, st;
	uint32_t id = 0;

	sl_client_stats(c, &st0);
	CHECK(sl_client_resolve(c, "secret", 1, &id) == -EPERM && id == 0);
	sl_client_stats(c, &st);
	CHECK(st.last_error == SL_E_DENIED);
	CHECK(sl_client_subscribe(c, DENIED_TOPIC) == -EPERM);
	CHECK(sl_client_unsubscribe(c, DENIED_TOPIC) == -EPERM);
	CHECK(sl_client_publish(c, DENIED_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_errors(c, st0.errors, 4, &st);
	CHECK(st.errors - st0.errors == 4);
	CHECK(st.publish_refused - st0.publish_refused == 1);
	CHECK(st.last_error == SL_E_DENIED);
	CHECK(st.acks == st0.acks);
}

/* Wait up to 1 s for the client's ack of its last publish. (The session's
 * earlier publishes include refused ones: the acknowledged mark stays below
 * the first of them.) */
static void
wait_acked(struct sl_client *c)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;
	uint64_t seq = sl_client_last_seq(c);

	while (sl_client_pub_status(c, seq, NULL) == SL_PUB_OUTSTANDING && sl_now_ns() < deadline)
		CHECK(sl_client_wait(c, NULL, NULL, 8, 10) >= 0);
	CHECK(sl_client_pub_status(c, seq, NULL) == SL_PUB_ACKED);
	CHECK(sl_client_settled(c) == seq);
}

/* Sealed frames the fake must parse: a maximal publish, names needing padding. */
static void
test_sealed(struct sl_client *c, struct fake *fk)
{
	static char big[SL_MAX_PAYLOAD];
	unsigned int ok0 = atomic_load(&fk->sealed_ok);
	uint32_t id = 0;

	/* Topic 2 has no subscriber: an ACK, no delivery. With a wrong
	 * payload_len the fake could not parse it and would not ack. */
	memset(big, 'b', sizeof(big));
	CHECK(sl_client_publish(c, 2, big, sizeof(big), 0, SL_PUB_F_ACK_REQ) == 0);
	wait_acked(c);
	CHECK(sl_client_publish(c, 2, "odd", 3, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_acked(c);
	CHECK(sl_client_resolve(c, "t.a", 1, &id) == 0 && id == 1);
	CHECK(sl_client_resolve(c, "twelve.chars", 1, &id) == 0 && id == 4);
	CHECK(atomic_load(&fk->sealed_ok) - ok0 >= 4);
}

/* The broker side of the handshake, and how the client takes each answer. */
static void
test_auth_connect(struct fake *fk)
{
	uint8_t wrong[SL_AUTH_KEY_LEN];
	struct sl_client *c = NULL;
	unsigned int auths0;
	uint16_t code;
	uint64_t t0;

	memcpy(wrong, fake_key, sizeof(wrong));
	wrong[31] ^= 0x80;
	/* Both or neither, and a valid user name: checked before anything is sent. */
	CHECK(auth_connect(fk, &c, FAKE_USER, NULL, 300, &code) == -EINVAL);
	CHECK(auth_connect(fk, &c, NULL, fake_key, 300, &code) == -EINVAL);
	CHECK(auth_connect(fk, &c, "bad user", fake_key, 300, &code) == -EINVAL);
	CHECK(atomic_load(&fk->challenges) == 0);

	/* No credentials where they are required: refused at once, not timed out. */
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, NULL, NULL, 1000, &code) == -EACCES);
	CHECK(code == SL_E_AUTH_REQUIRED);
	CHECK(sl_now_ns() - t0 < 150 * MS);

	/* Wrong key, unknown user: the same answer, as the broker gives. */
	CHECK(auth_connect(fk, &c, FAKE_USER, wrong, 1000, &code) == -EACCES);
	CHECK(code == SL_E_AUTH_FAILED);
	CHECK(auth_connect(fk, &c, "mallory", fake_key, 1000, &code) == -EACCES);
	CHECK(code == SL_E_AUTH_FAILED);
	CHECK(atomic_load(&fk->sealed_ok) == 0);

	/* Success, with the first AUTH lost: resent after 200 ms. */
	atomic_store(&fk->drop_auth, true);
	auths0 = atomic_load(&fk->auths);
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 1000, &code) == 0);
	CHECK(code == SL_E_NONE);
	CHECK(sl_now_ns() - t0 >= 150 * MS);
	CHECK(atomic_load(&fk->auths) == auths0 + 1);
	CHECK(c != NULL && sl_client_session(c) == FAKE_SESSION);
	sl_client_close(c);

	/* A WELCOME not sealed under the session key is ignored: with no
	 * genuine one by the timeout, -EACCES with no broker error code. */
	atomic_store(&fk->welcome_mode, WELCOME_FORGED);
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 400, &code) == -EACCES);
	CHECK(code == SL_E_NONE);
	CHECK(sl_now_ns() - t0 >= 390 * MS);
	/* Nor does a WELCOME without the AUTH flag and trailer do (a downgrade). */
	atomic_store(&fk->welcome_mode, WELCOME_PLAIN);
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 400, &code) == -EACCES);
	CHECK(code == SL_E_NONE);
	/* A forged WELCOME cannot stop the genuine one that follows. */
	atomic_store(&fk->welcome_mode, WELCOME_FORGED_GOOD);
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 1000, &code) == 0);
	CHECK(sl_now_ns() - t0 < 150 * MS);
	sl_client_close(c);
	atomic_store(&fk->welcome_mode, WELCOME_GOOD);
}

/* After the whole suite: every frame sent after a WELCOME passed the fake's check. */
static void
test_auth_all_sealed(struct fake *fk)
{
	static const uint8_t types[] = { SL_FT_RESOLVE, SL_FT_SUBSCRIBE, SL_FT_UNSUBSCRIBE,
					 SL_FT_PUBLISH, SL_FT_HEARTBEAT, SL_FT_GOODBYE };
	struct sl_hdr h;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned int i;
	int fd;

	CHECK(atomic_load(&fk->sealed_bad) == 0);
	for (i = 0; i < sizeof(types); i++) {
		if (atomic_load(&fk->sealed_by_type[types[i]]) == 0)
			fprintf(stderr, "no sealed frame of type %s\n", sl_proto_type_name(types[i]));
		CHECK(atomic_load(&fk->sealed_by_type[types[i]]) > 0);
	}
	/* The check can fail: a frame without a trailer is caught. */
	sl_proto_hdr_init(&h, SL_FT_GOODBYE, 0, sizeof(h), FAKE_SESSION);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(fk->port);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&sa, sizeof(sa)) == sizeof(h));
	for (i = 0; i < 100 && atomic_load(&fk->sealed_bad) == 0; i++)
		usleep(2000);
	CHECK(atomic_load(&fk->sealed_bad) == 1);
	close(fd);
}

/* sl_client_opts_credentials: a file, the environment, or nothing. */
static void
test_credentials(void)
{
	char path[] = "/tmp/sluice-test-credsXXXXXX";
	char hex[2 * SL_AUTH_KEY_LEN + 1];
	struct sl_client_opts o = { 0 };
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	char err[256];
	FILE *f;
	int fd;

	sl_auth_key_to_hex(fake_key, hex);
	fd = mkstemp(path); /* mode 0600 */
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fprintf(f, "# test\nuser = %s\nkey = %s\n", FAKE_USER, hex);
	fclose(f);
	CHECK(sl_client_opts_credentials(&o, path, user, key, err, sizeof(err)) == 1);
	CHECK(o.user == user && strcmp(user, FAKE_USER) == 0);
	CHECK(o.key == key && memcmp(key, fake_key, sizeof(key)) == 0);
	CHECK(chmod(path, 0644) == 0);
	o = (struct sl_client_opts){ 0 };
	CHECK(sl_client_opts_credentials(&o, path, user, key, err, sizeof(err)) == -EPERM);
	CHECK(o.user == NULL && o.key == NULL && strstr(err, path) != NULL);
	unlink(path);
	/* A named file that is missing is an error, not "no credentials". */
	CHECK(sl_client_opts_credentials(&o, path, user, key, err, sizeof(err)) == -ENOENT);

	unsetenv("SLUICE_CREDENTIALS");
	unsetenv("SLUICE_USER");
	unsetenv("SLUICE_KEY");
	CHECK(sl_client_opts_credentials(&o, NULL, user, key, err, sizeof(err)) == 0);
	CHECK(o.user == NULL && o.key == NULL);
	setenv("SLUICE_USER", FAKE_USER, 1);
	CHECK(sl_client_opts_credentials(&o, NULL, user, key, err, sizeof(err)) == -EINVAL);
	setenv("SLUICE_KEY", hex, 1);
	memset(key, 0, sizeof(key));
	CHECK(sl_client_opts_credentials(&o, NULL, user, key, err, sizeof(err)) == 1);
	CHECK(o.user == user && strcmp(user, FAKE_USER) == 0);
	CHECK(memcmp(key, fake_key, sizeof(key)) == 0);
	unsetenv("SLUICE_USER");
	unsetenv("SLUICE_KEY");
}

/* --- acknowledgements: answers sent by the test itself, as a broker's or not --- */

/* What the client's settle callback saw. */
struct settled {
	unsigned int n;
	uint64_t seq[32];
	uint16_t error[32];
	uint32_t topic[32];
};

static void
on_settle(void *arg, uint64_t pub_seq, uint32_t topic_id, uint16_t error)
{
	struct settled *s = arg;

	if (s->n < 32) {
		s->seq[s->n] = pub_seq;
		s->error[s->n] = error;
		s->topic[s->n] = topic_id;
	}
	s->n++;
}

/* Where the fake's datagrams must go to reach @c: the client's own address. */
struct injector {
	struct fake *fk;
	struct sl_client *c;
	struct sockaddr_in to;
};

/* Send @frame from the fake's socket and wait until the client has read it. */
static void
inject(struct injector *in, const void *frame, size_t len)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;
	struct sl_client_stats st0, st;

	sl_client_stats(in->c, &st0);
	CHECK(sendto(in->fk->fd, frame, len, 0, (const struct sockaddr *)&in->to,
		     sizeof(in->to)) == (ssize_t)len);
	do {
		CHECK(sl_client_wait(in->c, NULL, NULL, 8, 10) >= 0);
		sl_client_stats(in->c, &st);
	} while (st.acks + st.errors == st0.acks + st0.errors && sl_now_ns() < deadline);
	CHECK(st.acks + st.errors == st0.acks + st0.errors + 1);
}

static void
inject_ack(struct injector *in, uint32_t session, uint32_t topic, uint64_t pub_seq)
{
	struct sl_ack a;

	sl_proto_hdr_init(&a.h, SL_FT_ACK, 0, sizeof(a), session);
	a.topic_id = topic;
	a.reserved = 0;
	a.producer_seq = pub_seq;
	a.seq = 1000 + pub_seq;
	inject(in, &a, sizeof(a));
}

static void
inject_refusal(struct injector *in, uint64_t pub_seq, uint16_t code)
{
	struct sl_error e;

	sl_proto_hdr_init(&e.h, SL_FT_ERROR, 0, sizeof(e), FAKE_SESSION);
	e.req_id = 0;
	e.code = code;
	e.frame_type = SL_FT_PUBLISH;
	e.detail = pub_seq;
	inject(in, &e, sizeof(e));
}

/* Publish on a silent topic and wait until the fake has it, so that answers
 * the test sends later cannot overtake it. */
static void
pub_silent(struct fake *fk, struct sl_client *c, uint32_t topic, uint16_t flags)
{
	unsigned int n0 = atomic_load(&fk->silent_pubs);
	int i;

	CHECK(sl_client_publish(c, topic, "s", 1, 0, flags) == 0);
	for (i = 0; i < 500 && atomic_load(&fk->silent_pubs) == n0; i++)
		usleep(1000);
	CHECK(atomic_load(&fk->silent_pubs) == n0 + 1);
}

/* Status of publish @seq, and the refusal code it carries. */
static int
status(struct sl_client *c, uint64_t seq, uint16_t *code)
{
	*code = 0xffff;
	return sl_client_pub_status(c, seq, code);
}

/*
 * One ACK settles one publish: out of order, across topics, each counted
 * once; repeated and stray answers settle nothing and are counted.
 */
static void
test_acks_distinct(struct injector *in, struct settled *cb)
{
	struct sl_client *c = in->c;
	struct sl_client_stats st;
	uint16_t code;

	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);	/* 1 */
	pub_silent(in->fk, c, SILENT_TOPIC2, SL_PUB_F_ACK_REQ); /* 2 */
	pub_silent(in->fk, c, SILENT_TOPIC, 0);			/* 3: no ACK asked */
	pub_silent(in->fk, c, SILENT_TOPIC2, SL_PUB_F_ACK_REQ); /* 4 */
	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);	/* 5 */
	CHECK(sl_client_last_seq(c) == 5);
	sl_client_stats(c, &st);
	CHECK(st.pub_outstanding == 4 && st.pub_acked == 0);
	CHECK(sl_client_acked(c) == 0 && sl_client_settled(c) == 0);
	CHECK(status(c, 1, &code) == SL_PUB_OUTSTANDING && code == SL_E_NONE);
	CHECK(status(c, 3, &code) == SL_PUB_NO_ACK);
	CHECK(status(c, 0, &code) == -ENOENT && status(c, 6, &code) == -ENOENT);

	/* Out of order: the later publishes first, from the other topic too. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 2);
	CHECK(status(c, 2, &code) == SL_PUB_ACKED);
	CHECK(sl_client_acked(c) == 0 && sl_client_settled(c) == 0);
	/* Repeated: a duplicated datagram. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 2);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 5);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 4);
	sl_client_stats(c, &st);
	CHECK(st.acks == 4 && st.pub_acked == 3 && st.acks_ignored == 1);
	CHECK(st.pub_outstanding == 1);
	CHECK(sl_client_acked(c) == 0 && sl_client_settled(c) == 0);

	/* Strays: no publish 0, none sent yet, the wrong topic or session. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 0);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 9);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 1);
	inject_ack(in, FAKE_SESSION + 1, SILENT_TOPIC, 1);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 3); /* asked for no ACK */
	sl_client_stats(c, &st);
	CHECK(st.acks_ignored == 6 && st.pub_acked == 3);
	CHECK(status(c, 1, &code) == SL_PUB_OUTSTANDING);
	CHECK(sl_client_acked(c) == 0);

	/* The oldest comes last: the marks jump over all five. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 1);
	CHECK(sl_client_acked(c) == 5 && sl_client_settled(c) == 5);
	/* Already settled: ignored, whichever answer it is. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 1);
	inject_refusal(in, 1, SL_E_JOURNAL_FULL);
	sl_client_stats(c, &st);
	CHECK(st.pub_acked == 4 && st.pub_outstanding == 0 && st.acks_ignored == 8);
	CHECK(st.publish_refused == 0);
	CHECK(status(c, 1, &code) == SL_PUB_ACKED && code == SL_E_NONE);
	CHECK(cb->n == 4 && cb->seq[0] == 2 && cb->seq[1] == 5 && cb->seq[2] == 4 &&
	      cb->seq[3] == 1);
	CHECK(cb->topic[0] == SILENT_TOPIC2 && cb->topic[3] == SILENT_TOPIC);
	CHECK(cb->error[0] == SL_E_NONE && cb->error[3] == SL_E_NONE);
}

/* A window of 8: the ninth publish past the oldest unsettled one waits. */
static void
test_acks_window(struct injector *in)
{
	struct sl_client *c = in->c;
	struct sl_client_stats st0, st;
	uint16_t code;
	uint64_t seq;
	void *d;

	sl_client_stats(c, &st0);
	for (seq = 6; seq <= 13; seq++)
		pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == -EAGAIN);
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, 0) == -EAGAIN);
	CHECK(sl_client_claim(c, SILENT_TOPIC, 1, &d) == -EAGAIN);
	sl_client_stats(c, &st);
	CHECK(st.window_full - st0.window_full == 3);
	CHECK(st.publish_eagain - st0.publish_eagain == 3);
	CHECK(st.published - st0.published == 8 && sl_client_last_seq(c) == 13);
	usleep(20000);
	CHECK(atomic_load(&in->fk->silent_pubs) == 13); /* nothing was sent */
	/* The window remembers the last 8 publishes only. */
	CHECK(status(c, 5, &code) == -ESTALE);
	CHECK(status(c, 6, &code) == SL_PUB_OUTSTANDING);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 5); /* too old to tell: a stray */
	sl_client_stats(c, &st);
	CHECK(st.acks_ignored - st0.acks_ignored == 1);

	/* A later ACK does not make room; the oldest does, one place. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 13);
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == -EAGAIN);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 6);
	CHECK(sl_client_settled(c) == 6 && sl_client_acked(c) == 6);
	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ); /* 14 */
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == -EAGAIN);
	for (seq = 12; seq >= 7; seq--) {
		CHECK(sl_client_acked(c) == 6);
		inject_ack(in, FAKE_SESSION, SILENT_TOPIC, seq);
	}
	CHECK(sl_client_acked(c) == 13 && sl_client_settled(c) == 13);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 14);
	CHECK(sl_client_acked(c) == 14 && sl_client_settled(c) == 14);
	sl_client_stats(c, &st);
	CHECK(st.pub_acked - st0.pub_acked == 9 && st.pub_outstanding == 0);
}

/* A refusal settles its publish as refused, once; the acknowledged mark
 * stays below it, the settled mark moves on. */
static void
test_acks_refused(struct injector *in, struct settled *cb)
{
	struct sl_client *c = in->c;
	struct sl_client_stats st0, st;
	unsigned int n0 = cb->n;
	uint16_t code;

	sl_client_stats(c, &st0);
	pub_silent(in->fk, c, SILENT_TOPIC2, SL_PUB_F_ACK_REQ); /* 15 */
	pub_silent(in->fk, c, SILENT_TOPIC, 0);			/* 16: no ACK asked */
	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);	/* 17 */
	CHECK(sl_client_settled(c) == 14);
	inject_refusal(in, 15, SL_E_JOURNAL_FULL);
	CHECK(status(c, 15, &code) == SL_PUB_REFUSED && code == SL_E_JOURNAL_FULL);
	CHECK(sl_client_settled(c) == 16 && sl_client_acked(c) == 14);
	/* Repeated, or an ACK after the refusal: ignored. */
	inject_refusal(in, 15, SL_E_JOURNAL_FULL);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 15);
	CHECK(status(c, 15, &code) == SL_PUB_REFUSED && code == SL_E_JOURNAL_FULL);
	/* A publish that asked for no ACK can be refused too; once. */
	inject_refusal(in, 16, SL_E_DENIED);
	inject_refusal(in, 16, SL_E_DENIED);
	CHECK(status(c, 16, &code) == SL_PUB_REFUSED && code == SL_E_DENIED);
	/* A refusal of nothing sent; an ERROR with no error in it. */
	inject_refusal(in, 18, SL_E_JOURNAL_FULL);
	inject_refusal(in, 17, SL_E_NONE);
	CHECK(status(c, 17, &code) == SL_PUB_OUTSTANDING);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 17);
	CHECK(sl_client_settled(c) == 17 && sl_client_acked(c) == 14);
	sl_client_stats(c, &st);
	CHECK(st.publish_refused - st0.publish_refused == 2);
	CHECK(st.pub_acked - st0.pub_acked == 1 && st.pub_outstanding == 0);
	CHECK(st.acks_ignored - st0.acks_ignored == 5);
	CHECK(st.errors - st0.errors == 6);
	CHECK(cb->n - n0 == 3);
	CHECK(cb->seq[n0] == 15 && cb->error[n0] == SL_E_JOURNAL_FULL &&
	      cb->topic[n0] == SILENT_TOPIC2);
	CHECK(cb->seq[n0 + 1] == 16 && cb->error[n0 + 1] == SL_E_DENIED);
	CHECK(cb->seq[n0 + 2] == 17 && cb->error[n0 + 2] == SL_E_NONE);
}

static void
test_acks(struct fake *fk)
{
	struct settled cb = { 0 };
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = "acks",
				    .timeout_ms = 1000, .ack_window = 8, .on_settle = on_settle,
				    .settle_arg = &cb };
	struct injector in = { .fk = fk };
	socklen_t len = sizeof(in.to);

	if (fk->auth) {
		o.user = FAKE_USER;
		o.key = fake_key;
	}
	o.ack_window = SL_ACK_WINDOW_MAX + 1;
	CHECK(sl_client_connect(&in.c, &o) == -EINVAL);
	o.ack_window = 5; /* rounded up to 8 */
	CHECK(sl_client_connect(&in.c, &o) == 0);
	if (in.c == NULL)
		return;
	CHECK(getsockname(sl_client_fd(in.c), (struct sockaddr *)&in.to, &len) == 0);
	atomic_store(&fk->silent_pubs, 0);
	test_acks_distinct(&in, &cb);
	test_acks_window(&in);
	test_acks_refused(&in, &cb);
	sl_client_close(in.c);
}

/* Everything a session does, against a fake with or without authentication. */
static void
test_session(struct fake *fk)
{
	struct sl_client *c = NULL;

	CHECK(fake_connect(fk, &c, "test") == 0);
	if (c != NULL) {
		test_resolve(c);
		test_subscribe_publish(c);
		test_replay_earliest(c, fk);
		test_replay_from(c, fk);
		test_replay_refused(c, fk);
		test_publish_refused(c);
		test_denied(c);
		if (fk->auth)
			test_sealed(c, fk);
		test_heartbeat(c, fk);
		test_stash_overflow(c);
		test_expire(c);
		sl_client_close(c);
	}
	test_goodbye(fk);
	test_acks(fk);
}

int
main(void)
{
	static struct fake fk;

	if (fake_start(&fk, false) < 0) {
		perror("fake broker");
		return 1;
	}
	test_connect_errors(&fk);
	test_session(&fk);
	fake_stop(&fk);

	/* The same session with authentication: every frame sealed and checked. */
	if (fake_start(&fk, true) < 0) {
		perror("fake broker");
		return 1;
	}
	test_auth_connect(&fk);
	test_session(&fk);
	test_auth_all_sealed(&fk);
	fake_stop(&fk);

	test_credentials();
	return check_result("test_client");
}
