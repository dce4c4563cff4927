/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shm_hostile: a shared-memory client that breaks the rules of
 * common/shm.h on purpose, for tests/e2e/shm.sh. Each mode attaches to a
 * running dataplane, misbehaves in one way, checks what the broker did
 * (mostly: the region's notice word), prints one line per case and exits
 * 0 when the broker behaved as documented, 1 when not, 2 on a usage error.
 * Every wait is bounded in time and every loop in count.
 *
 *   garbage NAME            bad records in the tx ring: cut off (notice 1)
 *   badcons NAME PREFIX     scribbled rx consumer words: cut off once the
 *                           broker needs room in the ring
 *   oversize NAME TOPIC     claims over the limit: -EMSGSIZE; records
 *                           longer than a frame or the ring: cut off
 *   afterdetach NAME TOPIC SECONDS
 *                           hang up, then keep writing PUBLISH records into
 *                           the mapping (the broker must read none of them)
 *   claimkill NAME TOPIC N raise|hold
 *                           publish N (acked), claim, write half a payload,
 *                           then SIGKILL itself (raise) or print "claimed"
 *                           and sleep until the test kills it (hold)
 *   manytopics NAME PREFIX K
 *                           create PREFIX.0 .. PREFIX.K-1 and publish one
 *                           message to each (held-list bound, policy block)
 *   burstclose NAME TOPIC N
 *                           commit N PUBLISH records at once and hang up at
 *                           once: the broker must still read all of them
 *   attachmany NAME N       attach and say HELLO N times: no fresh client
 *                           may be cut off before its WELCOME
 *   slowsub NAME TOPIC SECONDS
 *                           libsluice subscriber that stops reading; after
 *                           SECONDS its calls must fail -ENOTCONN with
 *                           last_error SL_E_SLOW_CONSUMER (policy disconnect)
 */

#include <errno.h>
#include <sys/mman.h>
#include <poll.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <common/proto.h>
#include <common/shm.h>
#include <sluice/sluice.h>

#include "shm_link.h"

#define PROG "shm_hostile"
#define NS_PER_MS 1000000ull
#define ATTACH_NS (2000 * NS_PER_MS)
#define REPLY_MS 3000u	   /* a request's reply */
#define CUT_MS 3000u	   /* the broker's cut-off after a violation */
#define HB_NS (200 * NS_PER_MS)
#define MANY_MAX 60000u	   /* manytopics: most topics */
#define MANY_WINDOW 32u	   /* manytopics: RESOLVEs in flight */
#define MANY_MS 60000u	   /* manytopics: whole run */

/* A raw session over the shared-memory link: the frames are built here. */
struct raw {
	struct sl_shm_link l;
	int sock;
	uint32_t session;
	uint32_t next_req;
	uint64_t last_hb;
	uint64_t buf[SL_MAX_DATAGRAM / 8 + 1]; /* one received record */
};

static void
sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static const char *
notice_name(uint32_t n)
{
	static const char *const names[] = { "served", "cut: corrupt", "cut: slow",
					     "cut: shutdown", "cut: expired" };

	return n < sizeof(names) / sizeof(names[0]) ? names[n] : "unknown";
}

static int
raw_open(struct raw *r, const char *target)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = sl_shm_link_attach(&r->l, target, PROG, ATTACH_NS);
	if (rc < 0) {
		fprintf(stderr, PROG ": attach to '%s': %s\n", target, strerror(-rc));
		r->sock = -1;
		return rc;
	}
	r->sock = rc;
	return 0;
}

static void
raw_close(struct raw *r)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
	sl_shm_link_detach(&r->l);
}

static uint32_t
raw_notice(const struct raw *r)
{
	return sl_shm_link_notice(&r->l);
}

/* Send one frame, waiting (bounded) for room in the tx ring. */
static int
raw_send(struct raw *r, const void *frame, uint32_t len)
{
	uint64_t deadline = sl_now_ns() + REPLY_MS * NS_PER_MS;

	while (sl_shm_link_send(&r->l, frame, len) < 0) {
		if (raw_notice(r) != SL_SHM_SERVED)
			return -ENOTCONN;
		if (sl_now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_us(50);
	}
	return 0;
}

static void
raw_heartbeat(struct raw *r)
{
	struct sl_heartbeat hb;
	uint64_t now = sl_now_ns();

	if (r->session == 0 || now - r->last_hb < HB_NS)
		return;
	sl_proto_hdr_init(&hb.h, SL_FT_HEARTBEAT, 0, sizeof(hb), r->session);
	hb.timestamp = now;
	if (sl_shm_link_send(&r->l, &hb, sizeof(hb)) == 0)
		r->last_hb = now;
}

/* Read and discard what the broker sent (replies, heartbeat echoes). */
static void
raw_drain(struct raw *r)
{
	unsigned i;

	for (i = 0; i < 4096 && sl_shm_link_recv(&r->l, r->buf, sizeof(r->buf)) != 0; i++)
		;
}

/*
 * Wait for a reply of @type whose u32 at @key_off equals @key (u64 at
 * @key_off when @wide). An ERROR answering the request (its req_id is
 * @key) ends the wait with -EPROTO. Returns the record's length or -errno;
 * the frame is in r->buf.
 */
static int
raw_wait(struct raw *r, uint8_t type, uint32_t key_off, uint64_t key, int wide)
{
	uint64_t deadline = sl_now_ns() + REPLY_MS * NS_PER_MS;
	const struct sl_hdr *h = (const struct sl_hdr *)r->buf;
	const uint8_t *b = (const uint8_t *)r->buf;
	uint64_t v;
	int n;

	while (sl_now_ns() < deadline) {
		raw_heartbeat(r);
		n = sl_shm_link_recv(&r->l, r->buf, sizeof(r->buf));
		if (n == 0) {
			if (raw_notice(r) != SL_SHM_SERVED)
				return -ENOTCONN;
			sl_shm_link_wait(&r->l, 10 * NS_PER_MS);
			continue;
		}
		if (n < (int)sizeof(struct sl_hdr))
			continue;
		if (h->type == SL_FT_ERROR && !wide && n >= (int)sizeof(struct sl_error) &&
		    ((const struct sl_error *)h)->req_id == key) {
			fprintf(stderr, PROG ": request refused: %s\n",
				sl_error_code_str(((const struct sl_error *)h)->code));
			return -EPROTO;
		}
		if (h->type != type || (uint32_t)n < key_off + (wide ? 8u : 4u))
			continue;
		v = 0;
		memcpy(&v, b + key_off, wide ? 8 : 4);
		if (v == key)
			return n;
	}
	return -ETIMEDOUT;
}

/* The version 3 handshake in open mode (PROTOCOL.md 13): HELLO padded to
 * SL_HELLO_MIN_LEN in header version 1, CHALLENGE, AUTH echoing it, WELCOME. */
static int
raw_hello(struct raw *r)
{
	uint8_t hb[SL_HELLO_MIN_LEN];
	struct sl_hello *h = (struct sl_hello *)hb;
	struct sl_challenge c;
	struct sl_auth a;
	uint64_t nonce = sl_now_ns() ^ ((uint64_t)getpid() << 32);
	int rc;

	memset(hb, 0, sizeof(hb));
	sl_proto_hdr_init(&h->h, SL_FT_HELLO, 0, sizeof(hb), 0);
	h->h.version = SL_PROTO_HELLO_VERSION;
	h->min_version = SL_PROTO_VERSION;
	h->max_version = SL_PROTO_VERSION;
	h->nonce = nonce;
	snprintf(h->name, sizeof(h->name), "%s", PROG);
	rc = raw_send(r, hb, sizeof(hb));
	if (rc == 0)
		rc = raw_wait(r, SL_FT_CHALLENGE, offsetof(struct sl_challenge, nonce), nonce, 1);
	if (rc < 0) {
		fprintf(stderr, PROG ": no CHALLENGE: %s\n", strerror(-rc));
		return rc;
	}
	memcpy(&c, r->buf, sizeof(c));
	memset(&a, 0, sizeof(a));
	sl_proto_hdr_init(&a.h, SL_FT_AUTH, 0, sizeof(a), 0);
	a.nonce = nonce;
	a.version = c.version;
	a.caps = c.caps;
	a.issued = c.issued;
	memcpy(a.server_nonce, c.server_nonce, sizeof(a.server_nonce));
	memcpy(a.cookie, c.cookie, sizeof(a.cookie));
	memcpy(a.client_nonce, &nonce, sizeof(nonce));
	snprintf(a.name, sizeof(a.name), "%s", PROG);
	rc = raw_send(r, &a, sizeof(a));
	if (rc == 0)
		rc = raw_wait(r, SL_FT_WELCOME, offsetof(struct sl_welcome, nonce), nonce, 1);
	if (rc < 0) {
		fprintf(stderr, PROG ": no WELCOME: %s\n", strerror(-rc));
		return rc;
	}
	r->session = ((const struct sl_welcome *)r->buf)->session;
	r->last_hb = sl_now_ns();
	return 0;
}

static int
raw_resolve_send(struct raw *r, const char *name, uint32_t req)
{
	uint64_t f[(sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME) / 8 + 1];
	int len = sl_proto_put_resolve(f, sizeof(f), r->session, req, name, strlen(name),
				       SL_RESOLVE_F_CREATE);

	return len < 0 ? len : raw_send(r, f, (uint32_t)len);
}

static int
raw_resolve(struct raw *r, const char *name, uint32_t *id)
{
	uint32_t req = ++r->next_req;
	int rc = raw_resolve_send(r, name, req);

	if (rc == 0)
		rc = raw_wait(r, SL_FT_TOPIC, offsetof(struct sl_topic_reply, req_id), req, 0);
	if (rc < 0) {
		fprintf(stderr, PROG ": resolve '%s': %s\n", name, strerror(-rc));
		return rc;
	}
	memcpy(id, (const uint8_t *)r->buf + offsetof(struct sl_topic_reply, topic_id), sizeof(*id));
	return *id != SL_TOPIC_INVALID ? 0 : -EPROTO;
}

static int
raw_subscribe(struct raw *r, uint32_t topic)
{
	struct sl_subscribe s;
	int rc;

	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), r->session);
	s.req_id = ++r->next_req;
	s.topic_id = topic;
	rc = raw_send(r, &s, sizeof(s));
	if (rc == 0)
		rc = raw_wait(r, SL_FT_OK, offsetof(struct sl_ok, req_id), s.req_id, 0);
	if (rc < 0)
		fprintf(stderr, PROG ": subscribe to topic %u: %s\n", topic, strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* A PUBLISH of @plen bytes of @fill, without waiting for room (0 or -EAGAIN). */
static int
raw_publish_try(struct raw *r, uint32_t topic, uint32_t plen, int fill)
{
	uint64_t f[(sizeof(struct sl_publish) + SL_MAX_PAYLOAD) / 8 + 1];
	uint8_t payload[SL_MAX_PAYLOAD];
	int len;

	memset(payload, fill, plen);
	len = sl_proto_put_publish(f, sizeof(f), r->session, topic, 0, 0, sl_now_ns(), payload, plen);
	if (len < 0)
		return len;
	return sl_shm_link_send(&r->l, f, (uint32_t)len) == 0 ? 0 : -EAGAIN;
}

/* Attach and open a session: the start of every raw case. */
static int
raw_session(struct raw *r, const char *target)
{
	int rc = raw_open(r, target);

	if (rc == 0 && (rc = raw_hello(r)) < 0)
		raw_close(r);
	return rc;
}

/* Wait (bounded) for the broker's notice; returns it, 0 if none came. */
static uint32_t
wait_notice(const struct raw *r, uint32_t ms)
{
	uint64_t deadline = sl_now_ns() + ms * NS_PER_MS;
	uint32_t n;

	while ((n = raw_notice(r)) == SL_SHM_SERVED && sl_now_ns() < deadline)
		sleep_us(1000);
	return n;
}

/* One case's verdict: the notice it got against the one it should get. */
static int
verdict(const char *mode, const char *what, uint32_t got, uint32_t want)
{
	printf("%s %s: notice %u (%s)%s\n", mode, what, got, notice_name(got),
	       got == want ? "" : " UNEXPECTED");
	fflush(stdout);
	return got == want ? 0 : 1;
}

/* --- raw records -------------------------------------------------------------------- */

/* Commit word @len_word at the producer position after @n bytes of @data
 * (clamped to the ring's end); the position does not move. */
static void
rec_put_raw(struct sl_shm_link *l, uint32_t len_word, const void *data, uint32_t n)
{
	uint32_t off = (uint32_t)(l->tx_pos & (l->tx_size - 1));
	uint32_t room = l->tx_size - off - SL_SHM_REC_HDR;

	memcpy(l->tx + off + SL_SHM_REC_HDR, data, n < room ? n : room);
	__atomic_store_n((uint64_t *)(l->tx + off),
			 sl_shm_commit_word(l->tx_pos, l->tx_shift, len_word), __ATOMIC_RELEASE);
}

/* A well-formed record of @len bytes, written whether or not the consumer
 * released the room (a writer that ignores cons). */
static void
rec_put_blind(struct sl_shm_link *l, const void *frame, uint32_t len)
{
	uint32_t off = (uint32_t)(l->tx_pos & (l->tx_size - 1));

	if (sl_shm_rec_bytes(len) > l->tx_size - off) {
		__atomic_store_n((uint64_t *)(l->tx + off),
				 sl_shm_commit_word(l->tx_pos, l->tx_shift, SL_SHM_PAD),
				 __ATOMIC_RELEASE);
		l->tx_pos += l->tx_size - off;
		off = 0;
	}
	memcpy(l->tx + off + SL_SHM_REC_HDR, frame, len);
	__atomic_store_n((uint64_t *)(l->tx + off), sl_shm_commit_word(l->tx_pos, l->tx_shift, len),
			 __ATOMIC_RELEASE);
	l->tx_pos += sl_shm_rec_bytes(len);
}

/* A frame header claiming @hdr_len bytes, committed as a record of @rec_len. */
static void
rec_put_hdr(struct sl_shm_link *l, uint32_t session, uint32_t rec_len, uint32_t hdr_len)
{
	uint64_t f[SL_MAX_DATAGRAM / 8] = { 0 };
	struct sl_heartbeat *hb = (struct sl_heartbeat *)f;

	sl_proto_hdr_init(&hb->h, SL_FT_HEARTBEAT, 0, hdr_len, session);
	rec_put_raw(l, rec_len, f, rec_len < sizeof(f) ? rec_len : sizeof(f));
}

/* A well-formed record whose frame has type @type (lengths consistent). */
static void
rec_put_type(struct sl_shm_link *l, uint32_t session, uint8_t type)
{
	struct sl_heartbeat hb;

	sl_proto_hdr_init(&hb.h, type, 0, sizeof(hb), session);
	hb.timestamp = 0;
	rec_put_raw(l, sizeof(hb), &hb, sizeof(hb));
}

/* --- garbage ------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Valid traffic until the tx producer is 480..512 bytes before the ring's
 * end: PUBLISHes to a topic nobody reads, then heartbeats. */
static int
fill_to_end(struct raw *r)
{
	struct sl_heartbeat hb;
	uint32_t topic, left, i;
	int rc = raw_resolve(r, "hostile.fill", &topic);

	for (i = 0; rc == 0 && i < 1u << 20; i++) {
		left = r->l.tx_size - (uint32_t)(r->l.tx_pos & (r->l.tx_size - 1));
		if (left <= 512)
			return 0;
		raw_drain(r);
		if (left > 2048) {
			uint64_t deadline = sl_now_ns() + REPLY_MS * NS_PER_MS;

			while ((rc = raw_publish_try(r, topic, SL_MAX_PAYLOAD, 'f')) == -EAGAIN &&
			       sl_now_ns() < deadline && raw_notice(r) == SL_SHM_SERVED)
				sleep_us(50);
			continue;
		}
		sl_proto_hdr_init(&hb.h, SL_FT_HEARTBEAT, 0, sizeof(hb), r->session);
		hb.timestamp = sl_now_ns();
		rc = raw_send(r, &hb, sizeof(hb));
	}
	fprintf(stderr, PROG ": could not fill the ring to its end: %s\n", strerror(-rc));
	return rc < 0 ? rc : -EIO;
}

/* Random bytes: first behind commit words of the wrong lap (must be
 * ignored: "not yet"), then committed with a random in-range length whose
 * frame header disagrees. Returns 0 when the wrong-lap junk was ignored. */
static int
garbage_random(struct raw *r)
{
	uint64_t junk[SL_MAX_DATAGRAM / 8];
	uint32_t off = (uint32_t)(r->l.tx_pos & (r->l.tx_size - 1)), len, i;
	uint32_t lap = (uint32_t)(r->l.tx_pos >> r->l.tx_shift) + 1u, hl;
	uint64_t w;

	for (i = 0; i < sizeof(junk) / 8; i++)
		junk[i] = rng();
	i = r->l.tx_size - off - SL_SHM_REC_HDR;
	memcpy(r->l.tx + off + SL_SHM_REC_HDR, junk, i < sizeof(junk) ? i : sizeof(junk));
	for (i = 0; i < 64; i++) {
		w = rng();
		if ((uint32_t)(w >> 32) == lap)
			w ^= 1ull << 40;
		__atomic_store_n((uint64_t *)(r->l.tx + off), w, __ATOMIC_RELEASE);
		sleep_us(2000);
	}
	if (raw_notice(r) != SL_SHM_SERVED) {
		fprintf(stderr, PROG ": garbage random: cut off for an uncommitted word\n");
		return -1;
	}
	len = sizeof(struct sl_hdr) + (uint32_t)(rng() % (SL_MAX_DATAGRAM - sizeof(struct sl_hdr)));
	hl = len + 8; /* the frame header must disagree with the record */
	memcpy((uint8_t *)junk + offsetof(struct sl_hdr, length), &hl, sizeof(hl));
	rec_put_raw(&r->l, len, junk, sizeof(junk));
	return 0;
}

enum garbage_case { G_LEN0, G_LEN7, G_OVER, G_PASTEND, G_HDRLEN, G_RANDOM, G_BADTYPE, G_N };

static const char *const garbage_names[G_N] = {
	"length 0", "length 7", "length over max_frame", "record past the ring's end",
	"frame length != record length", "random bytes", "unknown frame type",
};

static int
garbage_one(const char *target, enum garbage_case k)
{
	struct raw r;
	int bad = 0;

	if (raw_session(&r, target) < 0)
		return 1;
	switch (k) {
	case G_LEN0: rec_put_hdr(&r.l, r.session, 0, 0); break;
	case G_LEN7: rec_put_hdr(&r.l, r.session, 7, 7); break;
	case G_OVER: rec_put_hdr(&r.l, r.session, r.l.r->max_frame + 8, r.l.r->max_frame + 8); break;
	case G_PASTEND:
		bad = fill_to_end(&r) < 0;
		if (!bad)
			rec_put_hdr(&r.l, r.session, 1000, 1000);
		break;
	case G_HDRLEN: rec_put_hdr(&r.l, r.session, 32, 40); break;
	case G_RANDOM: bad = garbage_random(&r) < 0; break;
	case G_BADTYPE: rec_put_type(&r.l, r.session, 0x77); break;
	default: break;
	}
	bad |= verdict("garbage", garbage_names[k], wait_notice(&r, CUT_MS), SL_SHM_CUT_CORRUPT);
	raw_close(&r);
	return bad;
}

static int
mode_garbage(const char *target)
{
	int bad = 0;
	unsigned k;

	for (k = 0; k < G_N; k++)
		bad |= garbage_one(target, (enum garbage_case)k);
	return bad;
}

/* --- badcons ------------------------------------------------------------------------- */

enum cons_case { C_AHEAD, C_HUGE, C_MISALIGNED, C_BEHIND, C_N };

static const char *const cons_names[C_N] = { "ahead", "huge", "misaligned", "behind" };

/* Publish to ourselves, reading everything, until more than two rings'
 * worth went through every rx ring that carried it. */
static int
cons_lap(struct raw *r, uint32_t topic)
{
	uint64_t deadline = sl_now_ns() + 10000 * NS_PER_MS, got = 0;
	int n;

	while (got <= 2ull * r->l.rx_size && sl_now_ns() < deadline) {
		raw_heartbeat(r);
		(void)raw_publish_try(r, topic, 200, 'b');
		while ((n = sl_shm_link_recv(&r->l, r->buf, sizeof(r->buf))) > 0)
			got += sl_shm_rec_bytes((uint32_t)n);
		if (raw_notice(r) != SL_SHM_SERVED)
			return -ENOTCONN;
	}
	return got > 2ull * r->l.rx_size ? 0 : -ETIMEDOUT;
}

static void
cons_scribble(struct raw *r, enum cons_case k)
{
	uint32_t i;

	for (i = 0; i < r->l.n_rx; i++) {
		uint64_t pos = r->l.rx_pos[i], v;

		switch (k) {
		case C_AHEAD: v = pos + 4ull * r->l.rx_size + 8; break;
		case C_HUGE: v = ~7ull; break;
		case C_MISALIGNED: v = pos + 3; break;
		default: v = 0; break; /* behind: more than a ring behind the broker */
		}
		__atomic_store_n(&r->l.r->rx[i].cons, v, __ATOMIC_RELEASE);
	}
}

/* Publish to ourselves without reading (the scribbled word stays) until
 * the broker needs the room and cuts us off. */
static uint32_t
cons_fill(struct raw *r, uint32_t topic)
{
	uint64_t deadline = sl_now_ns() + 5000 * NS_PER_MS;
	uint64_t sent = 0, limit = 8ull * r->l.rx_size * r->l.n_rx;

	while (raw_notice(r) == SL_SHM_SERVED && sl_now_ns() < deadline) {
		raw_heartbeat(r);
		if (sent < limit && raw_publish_try(r, topic, 200, 'c') == 0)
			sent += sl_shm_rec_bytes(sizeof(struct sl_deliver) + 200);
		else
			sleep_us(200);
	}
	return wait_notice(r, CUT_MS);
}

static int
badcons_one(const char *target, const char *prefix, enum cons_case k)
{
	char name[SL_MAX_TOPIC_NAME + 1];
	struct raw r;
	uint32_t topic;
	int rc;

	if (raw_session(&r, target) < 0)
		return 1;
	snprintf(name, sizeof(name), "%s.%s", prefix, cons_names[k]);
	rc = raw_resolve(&r, name, &topic);
	if (rc == 0)
		rc = raw_subscribe(&r, topic);
	if (rc == 0 && k == C_BEHIND)
		rc = cons_lap(&r, topic);
	if (rc < 0) {
		fprintf(stderr, PROG ": badcons %s: set-up failed: %s\n", cons_names[k],
			strerror(-rc));
		raw_close(&r);
		return 1;
	}
	raw_drain(&r);
	cons_scribble(&r, k);
	rc = verdict("badcons", cons_names[k], cons_fill(&r, topic), SL_SHM_CUT_CORRUPT);
	raw_close(&r);
	return rc;
}

static int
mode_badcons(const char *target, const char *prefix)
{
	int bad = 0;
	unsigned k;

	for (k = 0; k < C_N; k++)
		bad |= badcons_one(target, prefix, (enum cons_case)k);
	return bad;
}

/* --- oversize ------------------------------------------------------------------------ */

static int
expect_rc(const char *what, int got, int want)
{
	printf("oversize %s: %s%s\n", what, got ? strerror(-got) : "ok",
	       got == want ? "" : " UNEXPECTED");
	return got == want ? 0 : 1;
}

/* libsluice: over-long claims and publishes refused, the largest accepted. */
static int
oversize_api(const char *target, const char *topic_name)
{
	struct sl_client_opts o = { .shm = target, .name = PROG, .timeout_ms = REPLY_MS };
	static char big[SL_MAX_MESSAGE + 1];
	uint64_t deadline;
	struct sl_client *c;
	uint32_t topic;
	void *d = NULL;
	int bad = 0, rc;

	rc = sl_client_connect(&c, &o);
	if (rc == 0)
		rc = sl_client_resolve(c, topic_name, 1, &topic);
	if (rc < 0) {
		fprintf(stderr, PROG ": oversize: connect/resolve: %s\n", strerror(-rc));
		return 1;
	}
	/* Over one frame goes in pieces; over the broker's largest message
	 * (never above SL_MAX_MESSAGE) is refused before anything is sent. */
	bad |= expect_rc("claim SL_MAX_MESSAGE + 1",
			 sl_client_claim(c, topic, SL_MAX_MESSAGE + 1, &d), -EMSGSIZE);
	bad |= expect_rc("claim UINT32_MAX", sl_client_claim(c, topic, UINT32_MAX, &d),
			 -EMSGSIZE);
	bad |= expect_rc("publish SL_MAX_MESSAGE + 1",
			 sl_client_publish(c, topic, big, SL_MAX_MESSAGE + 1, 0, 0), -EMSGSIZE);
	rc = sl_client_claim(c, topic, SL_MAX_PAYLOAD, &d);
	bad |= expect_rc("claim SL_MAX_PAYLOAD", rc, 0);
	if (rc == 0) {
		memset(d, 'o', SL_MAX_PAYLOAD);
		bad |= expect_rc("commit SL_MAX_PAYLOAD", sl_client_commit(c, 0, SL_PUB_F_ACK_REQ), 0);
	}
	deadline = sl_now_ns() + REPLY_MS * NS_PER_MS;
	while (sl_client_acked(c) < 1 && sl_now_ns() < deadline)
		(void)sl_client_wait(c, NULL, NULL, 64, 10);
	bad |= expect_rc("largest message acked", sl_client_acked(c) == 1 ? 0 : -ETIMEDOUT, 0);
	sl_client_close(c);
	return bad;
}

/* Raw: records longer than any frame, and longer than the ring. */
static int
oversize_raw(const char *target)
{
	struct raw r;
	uint32_t len[2], i;
	int bad = 0;

	for (i = 0; i < 2; i++) {
		if (raw_session(&r, target) < 0)
			return 1;
		len[0] = r.l.r->max_frame + 8;
		len[1] = r.l.tx_size * 2;
		rec_put_hdr(&r.l, r.session, len[i], len[i]);
		bad |= verdict("oversize", i ? "record longer than the ring" :
			       "record longer than max_frame", wait_notice(&r, CUT_MS),
			       SL_SHM_CUT_CORRUPT);
		raw_close(&r);
	}
	return bad;
}

static int
mode_oversize(const char *target, const char *topic)
{
	return oversize_api(target, topic) | oversize_raw(target);
}

/* --- afterdetach ---------------------------------------------------------------------- */

/*
 * Hang up, give the broker time to see it (its main loop polls the socket),
 * then write well-formed PUBLISH records into the mapping for @secs, as a
 * producer that ignores the consumer word, and scribble on every word the
 * broker used to read. None of it may be delivered.
 */
static int
mode_afterdetach(const char *target, const char *topic_name, unsigned secs)
{
	uint64_t f[(sizeof(struct sl_publish) + 64) / 8];
	uint64_t deadline, n = 0;
	char payload[64];
	struct raw r;
	uint32_t topic, i;
	int len;

	if (raw_session(&r, target) < 0 || raw_resolve(&r, topic_name, &topic) < 0)
		return 1;
	close(r.sock); /* detach; the mapping stays */
	r.sock = -1;
	sleep_us(300000);
	deadline = sl_now_ns() + secs * 1000 * NS_PER_MS;
	while (sl_now_ns() < deadline && n < 10000000) {
		for (i = 0; i < 256; i++, n++) {
			int pl = snprintf(payload, sizeof(payload), "after-detach %" PRIu64, n);

			len = sl_proto_put_publish(f, sizeof(f), r.session, topic, SL_PUB_F_ACK_REQ,
						   n + 1, 0, payload, (uint32_t)pl);
			rec_put_blind(&r.l, f, (uint32_t)len);
		}
		__atomic_store_n(&r.l.r->tx.cons, r.l.tx_pos, __ATOMIC_RELEASE);
		for (i = 0; i < r.l.n_rx; i++)
			__atomic_store_n(&r.l.r->rx[i].cons, ~0ull, __ATOMIC_RELEASE);
		r.l.r->notice = SL_SHM_SERVED;
		sleep_us(1000);
	}
	printf("afterdetach: wrote %" PRIu64 " records after hanging up\n", n);
	raw_close(&r);
	return 0;
}

/* --- burstclose ----------------------------------------------------------------------- */

/*
 * Commit @n PUBLISH records ("burst I", I zero-padded to 10 digits) at once
 * and hang up at once: the records are written with their commit words from
 * the last to the first, so the broker sees none of them until the first
 * word is stored, right before close(). A broker that lets go of a client at
 * its hang-up without reading what it committed before loses the tail.
 */
static int
mode_burstclose(const char *target, const char *topic_name, uint32_t n)
{
	uint64_t f[(sizeof(struct sl_publish) + 32) / 8];
	uint32_t topic, rec, i, off;
	char payload[32];
	struct raw r;
	int pl, len;

	if (raw_session(&r, target) < 0 || raw_resolve(&r, topic_name, &topic) < 0)
		return 1;
	raw_drain(&r);
	/* Fixed-width payloads: every record the same size. */
	rec = sl_shm_rec_bytes(sizeof(struct sl_publish) + 16);
	if ((uint64_t)n * rec + 2 * rec > r.l.tx_size - (r.l.tx_pos & (r.l.tx_size - 1))) {
		fprintf(stderr, PROG ": burstclose: %u records do not fit before the ring's end\n", n);
		return 1;
	}
	for (i = n; i-- > 0;) {
		pl = snprintf(payload, sizeof(payload), "burst %010u", i + 1);
		len = sl_proto_put_publish(f, sizeof(f), r.session, topic, 0, i + 1, 0, payload,
					   (uint32_t)pl);
		off = (uint32_t)((r.l.tx_pos + (uint64_t)i * rec) & (r.l.tx_size - 1));
		memset(r.l.tx + off + SL_SHM_REC_HDR, 0, rec - SL_SHM_REC_HDR);
		memcpy(r.l.tx + off + SL_SHM_REC_HDR, f, (size_t)len);
		__atomic_store_n((uint64_t *)(r.l.tx + off),
				 sl_shm_commit_word(r.l.tx_pos + (uint64_t)i * rec, r.l.tx_shift,
						    (uint32_t)len), __ATOMIC_RELEASE);
		if (rec != sl_shm_rec_bytes((uint32_t)len))
			return 1; /* every record the same size: the offsets above hold */
	}
	close(r.sock); /* right after the first commit word */
	r.sock = -1;
	printf("burstclose: committed %u records and hung up\n", n);
	raw_close(&r);
	return 0;
}

/* --- attachmany ---------------------------------------------------------------------- */

/* Attach, say HELLO and hang up, @n times: a fresh client must never be
 * cut off (e.g. as expired) before its HELLO is answered. */
static int
mode_attachmany(const char *target, uint32_t n)
{
	uint32_t i, bad = 0, cut[8] = { 0 };
	struct raw r;
	int rc;

	for (i = 0; i < n; i++) {
		if (raw_open(&r, target) < 0)
			return 1;
		rc = raw_hello(&r);
		if (rc < 0) {
			bad++;
			cut[raw_notice(&r) & 7]++;
		}
		raw_close(&r);
	}
	printf("attachmany: %u of %u fresh clients refused (expired %u, other cut %u)\n", bad, n,
	       cut[SL_SHM_CUT_EXPIRED], bad - cut[SL_SHM_CUT_EXPIRED] - cut[0]);
	return bad != 0;
}

/* --- claimkill ------------------------------------------------------------------------ */

static int
mode_claimkill(const char *target, const char *topic_name, unsigned n, int hold)
{
	struct sl_client_opts o = { .shm = target, .name = PROG, .timeout_ms = REPLY_MS };
	struct sl_client *c;
	uint64_t deadline;
	uint32_t topic;
	char msg[32];
	void *d;
	unsigned i;
	int rc, len;

	rc = sl_client_connect(&c, &o);
	if (rc == 0)
		rc = sl_client_resolve(c, topic_name, 1, &topic);
	for (i = 0; rc == 0 && i < n; i++) {
		len = snprintf(msg, sizeof(msg), "committed %u", i + 1);
		deadline = sl_now_ns() + REPLY_MS * NS_PER_MS;
		while ((rc = sl_client_publish(c, topic, msg, (uint32_t)len, 0, SL_PUB_F_ACK_REQ)) ==
			       -EAGAIN && sl_now_ns() < deadline)
			(void)sl_client_poll(c, NULL, NULL, 64);
	}
	deadline = sl_now_ns() + REPLY_MS * NS_PER_MS;
	while (rc == 0 && sl_client_acked(c) < n && sl_now_ns() < deadline)
		rc = sl_client_wait(c, NULL, NULL, 64, 10) < 0 ? -ENOTCONN : 0;
	if (rc < 0 || sl_client_acked(c) < n) {
		fprintf(stderr, PROG ": claimkill: %u published, %" PRIu64 " acked: %s\n", i,
			rc < 0 ? 0 : sl_client_acked(c), strerror(rc < 0 ? -rc : ETIMEDOUT));
		return 1;
	}
	rc = sl_client_claim(c, topic, 64, &d);
	if (rc < 0) {
		fprintf(stderr, PROG ": claimkill: claim: %s\n", strerror(-rc));
		return 1;
	}
	memset(d, 'T', 32); /* half the payload: torn if it were ever read */
	printf("claimed\n");
	fflush(stdout);
	if (!hold)
		raise(SIGKILL);
	sleep_us(30 * 1000000L); /* the test kills us well before this */
	fprintf(stderr, PROG ": claimkill: nobody killed me in 30 s\n");
	return 1;
}

/* --- slowsub -------------------------------------------------------------------------- */

static void
count_msg(void *arg, const struct sl_message *m)
{
	(void)m;
	++*(uint64_t *)arg;
}

/*
 * libsluice subscriber that stops reading for @secs (no call at all, as a
 * stalled application), then polls: on a topic with policy disconnect the
 * broker has cut it off, and the library must say so: -ENOTCONN with
 * last_error SL_E_SLOW_CONSUMER. Needs session_timeout_ms > @secs.
 */
static int
mode_slowsub(const char *target, const char *topic_name, unsigned secs)
{
	struct sl_client_opts o = { .shm = target, .name = PROG, .timeout_ms = REPLY_MS };
	struct sl_client_stats st;
	struct sl_client *c;
	uint64_t got = 0, deadline;
	uint32_t topic;
	int rc;

	rc = sl_client_connect(&c, &o);
	if (rc == 0)
		rc = sl_client_resolve(c, topic_name, 1, &topic);
	if (rc == 0)
		rc = sl_client_subscribe(c, topic);
	if (rc < 0) {
		fprintf(stderr, PROG ": slowsub: set-up: %s\n", strerror(-rc));
		return 1;
	}
	printf("subscribed\n");
	sleep_us((long)secs * 1000000L);
	deadline = sl_now_ns() + REPLY_MS * NS_PER_MS;
	while ((rc = sl_client_wait(c, count_msg, &got, 64, 10)) >= 0 && sl_now_ns() < deadline)
		;
	sl_client_stats(c, &st);
	printf("slowsub: %" PRIu64 " delivered, then %s, last_error %u (%s)\n", got,
	       rc < 0 ? strerror(-rc) : "still served", st.last_error,
	       sl_error_code_str(st.last_error));
	rc = rc == -ENOTCONN && st.last_error == SL_E_SLOW_CONSUMER &&
	     sl_client_publish(c, topic, "x", 1, 0, 0) == -ENOTCONN ? 0 : 1;
	sl_client_close(c);
	return rc;
}

/* --- manytopics ----------------------------------------------------------------------- */

/*
 * Create PREFIX.0 .. PREFIX.K-1, MANY_WINDOW RESOLVEs in flight, then
 * publish one message to each. Replies are matched by req_id (= index + 1);
 * a BUSY refusal is resent.
 */
static int
many_resolve(struct raw *r, const char *prefix, uint32_t k, uint32_t *ids)
{
	uint64_t deadline = sl_now_ns() + MANY_MS * NS_PER_MS;
	const struct sl_hdr *h = (const struct sl_hdr *)r->buf;
	uint32_t sent = 0, done = 0, req;
	char name[SL_MAX_TOPIC_NAME + 1];
	int n;

	while (done < k && sl_now_ns() < deadline && raw_notice(r) == SL_SHM_SERVED) {
		raw_heartbeat(r);
		for (; sent < k && sent - done < MANY_WINDOW; sent++) {
			snprintf(name, sizeof(name), "%s.%u", prefix, sent);
			if (raw_resolve_send(r, name, sent + 1) < 0)
				return -EIO;
		}
		n = sl_shm_link_recv(&r->l, r->buf, sizeof(r->buf));
		if (n <= 0) {
			sl_shm_link_wait(&r->l, NS_PER_MS);
			continue;
		}
		req = ((const struct sl_topic_reply *)h)->req_id; /* also sl_error's */
		if (h->type == SL_FT_ERROR && req >= 1 && req <= k) {
			fprintf(stderr, PROG ": manytopics: resolve %u refused: %s\n", req - 1,
				sl_error_code_str(((const struct sl_error *)h)->code));
			return -EPROTO;
		}
		if (h->type == SL_FT_TOPIC && req >= 1 && req <= k && ids[req - 1] == 0) {
			ids[req - 1] = ((const struct sl_topic_reply *)h)->topic_id;
			done++;
		}
	}
	return done == k ? 0 : -ETIMEDOUT;
}

static int
mode_manytopics(const char *target, const char *prefix, uint32_t k)
{
	uint64_t deadline, eagain = 0;
	uint32_t *ids = calloc(k, sizeof(*ids)), i;
	struct raw r;
	int rc = -ENOMEM;

	if (ids == NULL || raw_session(&r, target) < 0) {
		free(ids);
		return 1;
	}
	rc = many_resolve(&r, prefix, k, ids);
	deadline = sl_now_ns() + MANY_MS * NS_PER_MS;
	for (i = 0; rc == 0 && i < k; i++) {
		raw_heartbeat(&r);
		raw_drain(&r);
		while ((rc = raw_publish_try(&r, ids[i], 8, 'm')) == -EAGAIN && sl_now_ns() < deadline &&
		       raw_notice(&r) == SL_SHM_SERVED) {
			eagain++;
			sleep_us(50);
		}
	}
	/* Leave only once the broker has read every record. */
	while (rc == 0 && __atomic_load_n(&r.l.r->tx.cons, __ATOMIC_ACQUIRE) != r.l.tx_pos) {
		raw_heartbeat(&r);
		raw_drain(&r);
		if (sl_now_ns() > deadline || raw_notice(&r) != SL_SHM_SERVED)
			rc = -ETIMEDOUT;
		sleep_us(200);
	}
	if (rc < 0)
		fprintf(stderr, PROG ": manytopics: %s after %u topics\n", strerror(-rc), i);
	else
		printf("manytopics: published 1 message to each of %u topics (%" PRIu64
		       " ring-full retries)\n", k, eagain);
	raw_close(&r);
	free(ids);
	return rc < 0;
}

/* --- main ----------------------------------------------------------------------------- */

/* --- punch: a hole in its own huge-page region while the pool is empty ---------- */

/* Free huge pages of the default size, from /proc/meminfo. */
static long
huge_free(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Map (and so take) every free huge page; returns the mapping's length. */
static size_t
huge_take_all(size_t page, void **out)
{
	long nfree = huge_free();

	*out = MAP_FAILED;
	if (nfree <= 0)
		return 0;
	*out = mmap(NULL, (size_t)nfree * page, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	return *out == MAP_FAILED ? 0 : (size_t)nfree * page;
}

/*
 * Punch a hole in its own region while the huge page pool is empty, where
 * the broker writes next: the second huge page holds the start of the rx
 * ring (the dataplane runs with rings of at least a huge page). Every free
 * page is taken first, and the one the punch frees too; then a HEARTBEAT
 * makes the broker write its reply there, with no page to fault in. The
 * dataplane must survive (its fault handler puts anonymous memory in place)
 * and cut this client off, which shows as the attach socket closing. Exit 77
 * when the region is not on huge pages or is one page (nothing to show).
 */
static int
mode_punch(const char *target)
{
	void *hold1, *hold2;
	size_t len1, len2, page;
	struct pollfd p;
	struct raw r;
	int rc = 1;

	if (raw_session(&r, target) < 0)
		return 1;
	page = r.l.r->page_size;
	if (page <= 4096 || r.l.map_size < 2 * page || r.l.r->rx_off[0] >= 2 * page) {
		printf("punch: region not on huge pages, or rx ring not in its second page: "
		       "skipped\n");
		raw_close(&r);
		return 77;
	}
	len1 = huge_take_all(page, &hold1);
	if (madvise((uint8_t *)r.l.r + page, page, MADV_REMOVE) < 0) {
		printf("punch: MADV_REMOVE: %s\n", strerror(errno));
		goto out;
	}
	len2 = huge_take_all(page, &hold2); /* the page the punch gave back */
	printf("punch: holding %zu free huge pages, then %zu more\n", len1 / page, len2 / page);
	r.last_hb = 0;
	raw_heartbeat(&r); /* in the tx ring, first page: still there; its echo
			    * goes to the rx ring, in the page punched out */
	p = (struct pollfd){ .fd = r.sock, .events = POLLIN | POLLRDHUP };
	if (poll(&p, 1, 3000) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLIN))) {
		printf("punch: cut off (attach socket closed)\n");
		rc = 0;
	} else {
		printf("punch: still attached after 3 s UNEXPECTED\n");
	}
	if (hold2 != MAP_FAILED)
		munmap(hold2, len2);
out:
	if (hold1 != MAP_FAILED)
		munmap(hold1, len1);
	close(r.sock);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: " PROG " garbage NAME\n"
		"       " PROG " badcons NAME TOPIC_PREFIX\n"
		"       " PROG " oversize NAME TOPIC\n"
		"       " PROG " afterdetach NAME TOPIC SECONDS\n"
		"       " PROG " claimkill NAME TOPIC N raise|hold\n"
		"       " PROG " manytopics NAME TOPIC_PREFIX K\n"
		"       " PROG " slowsub NAME TOPIC SECONDS\n"
		"       " PROG " burstclose NAME TOPIC N\n"
		"       " PROG " attachmany NAME N\n"
		"       " PROG " punch NAME\n"
		"NAME: the dataplane's instance name or its shm.sock path.\n"
		"Exit status: 0 the broker behaved as documented, 1 it did not, 2 usage.\n");
}

static int
num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || end == s || *end || *out > max ? -1 : 0;
}

int
main(int argc, char **argv)
{
	unsigned long v = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "garbage"))
		return mode_garbage(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "badcons"))
		return mode_badcons(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "oversize"))
		return mode_oversize(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "afterdetach") && num(argv[4], 600, &v) == 0)
		return mode_afterdetach(argv[2], argv[3], (unsigned)v);
	if (argc == 6 && !strcmp(argv[1], "claimkill") && num(argv[4], 100000, &v) == 0 &&
	    (!strcmp(argv[5], "raise") || !strcmp(argv[5], "hold")))
		return mode_claimkill(argv[2], argv[3], (unsigned)v, !strcmp(argv[5], "hold"));
	if (argc == 5 && !strcmp(argv[1], "manytopics") && num(argv[4], MANY_MAX, &v) == 0 && v)
		return mode_manytopics(argv[2], argv[3], (uint32_t)v);
	if (argc == 4 && !strcmp(argv[1], "attachmany") && num(argv[3], 100000, &v) == 0 && v)
		return mode_attachmany(argv[2], (uint32_t)v);
	if (argc == 5 && !strcmp(argv[1], "burstclose") && num(argv[4], 100000, &v) == 0 && v)
		return mode_burstclose(argv[2], argv[3], (uint32_t)v);
	if (argc == 3 && !strcmp(argv[1], "punch"))
		return mode_punch(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "slowsub") && num(argv[4], 600, &v) == 0)
		return mode_slowsub(argv[2], argv[3], (unsigned)v);
	usage();
	return 2;
}
