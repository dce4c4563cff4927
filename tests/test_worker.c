/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's real code through a ring port (net_ring PMD, EAL without huge
 * pages or PCI): HELLO, SUBSCRIBE, PUBLISH with an ACK request, the DELIVER
 * it fans out, and the errors of an unknown topic and a missing session.
 */

#include <common/proto.h>

#include <common/filter.h>
#include <common/hdrs.h>

#include "dp_harness.h"
#include "worker_internal.h"

#include "check.h"

static struct sl_dp dp;
static struct rte_ring *rx, *tx;

static void
send_dgram(const void *frames, uint32_t len)
{
	CHECK(harness_send(&dp, rx, frames, len) == 0);
}

#define MAX_REPLIES 16

struct reply {
	uint8_t type;
	uint32_t len;
	uint8_t b[256];
};

struct replies {
	struct reply *r;
	unsigned n;
};

static void
take(void *arg, const struct sl_frame *f, unsigned dgram)
{
	struct replies *x = arg;

	(void)dgram;
	if (x->n == MAX_REPLIES)
		return;
	x->r[x->n].type = f->hdr->type;
	x->r[x->n].len = f->len < sizeof(x->r[0].b) ? f->len : sizeof(x->r[0].b);
	memcpy(x->r[x->n].b, f->hdr, x->r[x->n].len);
	x->n++;
}

/* Poll the worker a few times; collect the frames it sent to the client. */
static unsigned
poll_replies(struct reply *r)
{
	struct replies x = { r, 0 };

	CHECK(harness_recv(&dp, tx, 4, take, &x) >= 0);
	return x.n;
}

static const struct reply *
find(const struct reply *r, unsigned n, uint8_t type)
{
	for (unsigned i = 0; i < n; i++)
		if (r[i].type == type)
			return &r[i];
	return NULL;
}

#define ctr(c) harness_ctr(&dp, (c))

#define drops(d) harness_drops(&dp, (d))

/* The CHALLENGE answering a HELLO of @nonce from @port (NULL if none). */
static const struct sl_challenge *
challenge_of(uint16_t port, uint64_t nonce, uint32_t caps, const char *name, struct reply *r)
{
	uint8_t h[SL_HELLO_MIN_LEN];
	const struct reply *x;
	unsigned n;

	harness_rx_port = port;
	CHECK(harness_send_from(&dp, rx, port, h, harness_hello(h, nonce, caps, name)) == 0);
	n = poll_replies(r);
	x = find(r, n, SL_FT_CHALLENGE);
	CHECK(x != NULL && x->len == sizeof(struct sl_challenge));
	if (x == NULL)
		return NULL;
	CHECK(((const struct sl_challenge *)x->b)->h.session == 0);
	CHECK(((const struct sl_challenge *)x->b)->nonce == nonce);
	return (const struct sl_challenge *)x->b;
}

/*
 * The whole handshake from @port: HELLO, CHALLENGE, AUTH (with @key a
 * proof for @name; @hc then gets the session's keys), WELCOME. Returns the
 * session, or 0 with the answer to AUTH left in @r[0].
 */
static uint32_t
handshake(uint16_t port, uint64_t nonce, uint32_t caps, const char *name, const uint8_t *key,
	  struct harness_client *hc, struct reply *r)
{
	const struct sl_challenge *c = challenge_of(port, nonce, caps, name, r);
	struct sl_challenge ch;
	const struct reply *x;
	struct sl_auth a;
	unsigned n;

	if (c == NULL)
		return 0;
	ch = *c;
	/* A session at this address is replaced only by a handshake issued
	 * later (the broker's clock counts ms). */
	usleep(2000);
	harness_auth(&a, &ch, name, key);
	if (hc) {
		memset(hc, 0, sizeof(*hc));
		/* The suite is the CHALLENGE's choice. */
		hc->suite = ch.caps & SL_CAP_AESGCM ? SL_SUITE_AES256_GCM
						    : SL_SUITE_CHACHA20_POLY1305;
		sl_session_keys_suite(key, ch.server_nonce, a.client_nonce, hc->suite, hc->k_c2s,
				      hc->k_s2c);
		harness_sealed = hc;
	}
	CHECK(harness_send_from(&dp, rx, port, &a, sizeof(a)) == 0);
	n = poll_replies(r);
	harness_sealed = NULL;
	x = find(r, n, SL_FT_WELCOME);
	if (x == NULL)
		return 0;
	CHECK(((const struct sl_welcome *)x->b)->nonce == nonce);
	CHECK(((const struct sl_welcome *)x->b)->features == SL_FEAT_TOPIC_NAME);
	CHECK(((const struct sl_welcome *)x->b)->session_timeout_ms ==
	      dp.conf.session_timeout_ms);
	if (hc) {
		hc->session = ((const struct sl_welcome *)x->b)->session;
		CHECK(hc->opened == 1); /* the WELCOME came sealed */
	}
	return ((const struct sl_welcome *)x->b)->session;
}

static void
test_session_pubsub(uint32_t topic)
{
	struct reply r[MAX_REPLIES];
	const struct reply *x;
	struct sl_subscribe s;
	struct {
		struct sl_publish p;
		uint8_t payload[8];
	} pub;
	uint32_t session;
	unsigned n;

	/* HELLO, CHALLENGE, AUTH: WELCOME with a session of worker 0, the
	 * nonce echoed; nothing was stored before the AUTH. */
	CHECK(challenge_of(HARNESS_CLIENT_PORT, 0x1234abcd, 0, "t", r) != NULL);
	CHECK(dp.workers[0]->sessions.n_active == 0);
	session = handshake(HARNESS_CLIENT_PORT, 0x1234abcd, 0, "t", NULL, NULL, r);
	CHECK(session != 0);
	CHECK(sl_session_worker(dp.session_idkey, session) == 0);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_sessions_opened]) == 1);

	/* SUBSCRIBE: OK for its request id. */
	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), session);
	s.req_id = 7;
	s.topic_id = topic;
	send_dgram(&s, sizeof(s));
	n = poll_replies(r);
	CHECK(n == 1);
	x = find(r, n, SL_FT_OK);
	CHECK(x && ((const struct sl_ok *)x->b)->req_id == 7);
	CHECK(sl_route_state(&dp.route, topic)->n_subs == 1);

	/* PUBLISH with an ACK request: ACK (seq 1) and the DELIVER to itself. */
	memset(&pub, 0, sizeof(pub));
	sl_proto_hdr_init(&pub.p.h, SL_FT_PUBLISH, SL_PUB_F_ACK_REQ, sizeof(pub), session);
	pub.p.topic_id = topic;
	pub.p.producer_seq = 41;
	pub.p.timestamp = 99;
	memcpy(pub.payload, "payload!", 8);
	send_dgram(&pub, sizeof(pub));
	n = poll_replies(r);
	CHECK(n == 2);
	x = find(r, n, SL_FT_ACK);
	CHECK(x != NULL);
	if (x) {
		const struct sl_ack *a = (const struct sl_ack *)x->b;

		CHECK(a->topic_id == topic && a->producer_seq == 41 && a->seq == 1);
		CHECK(a->h.session == session);
	}
	x = find(r, n, SL_FT_DELIVER);
	CHECK(x != NULL);
	if (x) {
		const struct sl_deliver *d = (const struct sl_deliver *)x->b;

		CHECK(d->topic_id == topic && d->seq == 1 && d->timestamp == 99);
		CHECK(d->h.length == sizeof(*d) + 8 && d->h.session == session);
		CHECK(memcmp(d + 1, "payload!", 8) == 0);
	}
	CHECK(sl_route_state(&dp.route, topic)->delivered == 1);

	/* PUBLISH to a topic that does not exist: ERROR unknown topic. */
	pub.p.topic_id = topic + 5;
	send_dgram(&pub, sizeof(pub));
	n = poll_replies(r);
	CHECK(n == 1);
	x = find(r, n, SL_FT_ERROR);
	CHECK(x && ((const struct sl_error *)x->b)->code == SL_E_UNKNOWN_TOPIC);
	CHECK(x && ((const struct sl_error *)x->b)->detail == 41);

	/* A session id nobody was given: ERROR no session, nothing delivered. */
	pub.p.topic_id = topic;
	pub.p.h.session = session ^ 0x00ff0000u;
	send_dgram(&pub, sizeof(pub));
	n = poll_replies(r);
	CHECK(n == 1);
	x = find(r, n, SL_FT_ERROR);
	CHECK(x && ((const struct sl_error *)x->b)->code == SL_E_NO_SESSION);
	CHECK(sl_route_state(&dp.route, topic)->delivered == 1);
}

/* A HELLO for versions @lo..@hi in header version @hv, from a new nonce;
 * a CHALLENGE is answered with AUTH. */
static unsigned
hello(uint8_t hv, uint16_t lo, uint16_t hi, uint64_t nonce, struct reply *r)
{
	uint8_t b[SL_HELLO_MIN_LEN];
	struct sl_hello *h = (struct sl_hello *)b;
	struct sl_challenge c;
	struct sl_auth a;
	unsigned n;

	harness_hello(b, nonce, 0, "v");
	h->h.version = hv;
	h->min_version = lo;
	h->max_version = hi;
	send_dgram(b, sizeof(b));
	n = poll_replies(r);
	if (n != 1 || r[0].type != SL_FT_CHALLENGE)
		return n;
	memcpy(&c, r[0].b, sizeof(c));
	usleep(2000); /* issued later than the session at this address */
	harness_auth(&a, &c, "v", NULL);
	send_dgram(&a, sizeof(a));
	return poll_replies(r);
}

/*
 * PROTOCOL.md 9: a HELLO is read whatever its header version; the broker
 * picks the highest version both speak and names it in a 56-byte WELCOME
 * with its incarnation; a client of version 1 only gets ERROR SL_E_VERSION
 * (in header version 1), counted; a later frame in another version than
 * the session's gets ERROR SL_E_VERSION and is dropped.
 */
static void
test_versions(uint32_t topic)
{
	uint64_t refused = sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_version_refused]);
	uint64_t bad = sl_ctr_read(&dp.workers[0]->ctr.drop[SL_DROP_bad_version]);
	struct reply r[MAX_REPLIES];
	const struct sl_welcome *wl;
	const struct sl_error *e;
	struct sl_subscribe s;
	unsigned n;

	n = hello(1, 1, 1, 0x501, r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	e = (const struct sl_error *)r[0].b;
	CHECK(e->code == SL_E_VERSION && e->frame_type == SL_FT_HELLO && e->detail == 0x501);
	CHECK(e->h.version == SL_PROTO_HELLO_VERSION);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_version_refused]) == refused + 1);
	/* Only versions above this broker's: refused too. */
	n = hello(1, 5, 9, 0x502, r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR &&
	      ((const struct sl_error *)r[0].b)->code == SL_E_VERSION);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_version_refused]) == refused + 2);

	/* A client of versions 1..7 with a header of version 7: version 4,
	 * in a WELCOME of header version 3 (the version that defines it). */
	dp.incarnation = 0xfeedface12345678ull;
	n = hello(7, 1, 7, 0x504, r);
	CHECK(n == 1 && r[0].type == SL_FT_WELCOME);
	wl = (const struct sl_welcome *)r[0].b;
	CHECK(wl->version == 4 && wl->h.version == 3);
	/* One of versions 1..3: version 3. */
	n = hello(7, 1, 3, 0x503, r);
	CHECK(n == 1 && r[0].type == SL_FT_WELCOME && r[0].len == 56);
	wl = (const struct sl_welcome *)r[0].b;
	CHECK(wl->version == 3 && wl->h.version == 3);
	CHECK(wl->incarnation == 0xfeedface12345678ull);
	/* The largest message a session may send: the default budgets take
	 * the hard limit (each topic's own limit may be lower). */
	CHECK(wl->max_message == SL_MAX_MESSAGE && wl->nonce == 0x503);

	/* A SUBSCRIBE of the session in version 1: refused, not done. */
	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), wl->session);
	s.h.version = 1;
	s.req_id = 9;
	s.topic_id = topic;
	send_dgram(&s, sizeof(s));
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	e = (const struct sl_error *)r[0].b;
	CHECK(e->code == SL_E_VERSION && e->frame_type == SL_FT_SUBSCRIBE);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.drop[SL_DROP_bad_version]) == bad + 1);
	/* And in version 4 (above what the parser knows): the same answer. */
	s.h.version = 4;
	send_dgram(&s, sizeof(s));
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR &&
	      ((const struct sl_error *)r[0].b)->code == SL_E_VERSION);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.drop[SL_DROP_bad_version]) == bad + 2);
	CHECK(sl_route_sub_find(&dp.route, topic, s.h.session) == NULL);
}

/* --- version 3 handshake and seal ------------------------------------------- */

static const uint8_t alice_key[32] = { 0xa1, 0xa2, 0xa3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t alice_key2[32] = { 0xb1, 0xb2, 0xb3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
					16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
					31, 32 };

/* The harness's table (open mode) with user 1 "alice". */
static struct sl_authz *
authz_alice(void)
{
	struct sl_authz *a = (struct sl_authz *)(uintptr_t)dp.authz;
	struct sl_authz_user *u = &a->users[1];

	memset(u, 0, sizeof(*u));
	u->active = 1;
	u->epoch = 1;
	snprintf(u->name, sizeof(u->name), "alice");
	memcpy(u->key, alice_key, 32);
	return a;
}

/* A SUBSCRIBE of @session for @topic, request @req. */
static void
subscribe_frame(struct sl_subscribe *s, uint32_t session, uint32_t topic, uint32_t req)
{
	memset(s, 0, sizeof(*s));
	sl_proto_hdr_init(&s->h, SL_FT_SUBSCRIBE, 0, sizeof(*s), session);
	s->req_id = req;
	s->topic_id = topic;
}

/*
 * 10,000 HELLOs from as many source ports: a CHALLENGE each, no session,
 * and a user with a valid key logs in at once, even with authentication
 * required. Then an unauthenticated HELLO from the user's own address and
 * port leaves its session alive.
 */
static void
test_hello_flood(uint32_t topic)
{
	struct sl_authz *a = authz_alice();
	uint64_t ch0 = ctr(SL_CTR_challenges), open0 = ctr(SL_CTR_sessions_opened);
	struct reply r[MAX_REPLIES];
	struct harness_client hc;
	struct sl_subscribe s;
	uint8_t h[SL_HELLO_MIN_LEN], d[256];
	const struct reply *x;
	unsigned i, j, n, cha = 0;
	uint32_t session, active0 = dp.workers[0]->sessions.n_active;

	a->required = 1;
	for (i = 0; i < 10000; i += 200) {
		for (j = 0; j < 200; j++)
			CHECK(harness_send_from(&dp, rx, (uint16_t)(10000 + i + j), h,
						harness_hello(h, i + j, SL_CAP_AUTH, "mallory")) == 0);
		/* Drain the CHALLENGEs (to other ports than the harness's):
		 * the rings hold 1,024, the pool 2,047. */
		for (n = 0; n < 64; n++) {
			void *m;

			sl_worker_poll(dp.workers[0]);
			while (rte_ring_dequeue(tx, &m) == 0) {
				cha++;
				rte_pktmbuf_free(m);
			}
			if (rte_ring_count(rx) == 0 && n > 2)
				break;
		}
	}
	CHECK(ctr(SL_CTR_challenges) - ch0 == 10000);
	CHECK(cha == 10000); /* each a datagram of one CHALLENGE */
	CHECK(dp.workers[0]->sessions.n_active == active0);
	CHECK(ctr(SL_CTR_sessions_opened) == open0);

	session = handshake(HARNESS_CLIENT_PORT + 1, 0x77, SL_CAP_AUTH, "alice", alice_key, &hc, r);
	CHECK(session != 0 && dp.workers[0]->sessions.n_active == active0 + 1);
	CHECK(sl_session_id_sealed(dp.session_idkey, session));

	/* A HELLO from the same address and port, with another nonce: a
	 * CHALLENGE, and the session lives on. */
	CHECK(challenge_of(HARNESS_CLIENT_PORT + 1, 0x78, 0, "x", r) != NULL);
	CHECK(sl_session_get(&dp.workers[0]->sessions, session, HARNESS_CLIENT_IP,
			     htons(HARNESS_CLIENT_PORT + 1)) != NULL);
	/* An open-mode AUTH for that address cannot replace it either. */
	a->required = 0;
	{
		const struct sl_challenge *c = challenge_of(HARNESS_CLIENT_PORT + 1, 0x79, 0, "x", r);
		struct sl_auth au;
		uint64_t stale = drops(SL_DROP_auth_stale);

		if (c) {
			harness_auth(&au, c, "x", NULL);
			CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 1, &au, sizeof(au)) == 0);
			n = poll_replies(r);
			CHECK(find(r, n, SL_FT_WELCOME) == NULL);
			CHECK(drops(SL_DROP_auth_stale) == stale + 1);
		}
	}
	CHECK(sl_session_get(&dp.workers[0]->sessions, session, HARNESS_CLIENT_IP,
			     htons(HARNESS_CLIENT_PORT + 1)) != NULL);

	/* The session works: a sealed SUBSCRIBE gets a sealed OK. */
	subscribe_frame(&s, session, topic, 5);
	harness_sealed = &hc;
	CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 1, d,
				harness_seal(&hc, &s, sizeof(s), 0, 0, d)) == 0);
	n = poll_replies(r);
	x = find(r, n, SL_FT_OK);
	CHECK(x && ((const struct sl_ok *)x->b)->req_id == 5 && hc.opened == 2 && hc.bad == 0);
	harness_sealed = NULL;
	/* GOODBYE, sealed, ends it. */
	{
		struct sl_hdr g;

		sl_proto_hdr_init(&g, SL_FT_GOODBYE, 0, sizeof(g), session);
		CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 1, d,
					harness_seal(&hc, &g, sizeof(g), 0, 0, d)) == 0);
		poll_replies(r);
		CHECK(dp.workers[0]->sessions.n_active == active0);
	}
}

/*
 * Sealed datagrams, client to broker: replayed and out-of-window ones
 * rejected and counted, reordered inside the window accepted, a bit flip
 * anywhere rejected, an unsealed frame of the session dropped; encrypted
 * ones too, and the broker's answers encrypted.
 */
static void
test_seal_rx(uint32_t topic)
{
	uint64_t replay0 = drops(SL_DROP_mac_replay), bad0 = drops(SL_DROP_bad_mac);
	uint64_t missing0 = drops(SL_DROP_mac_missing);
	struct reply r[MAX_REPLIES];
	struct harness_client hc;
	struct sl_subscribe s;
	uint8_t d[256], e[256];
	const struct reply *x;
	uint32_t session, len, bit;
	unsigned n, ok = 0;

	authz_alice();
	session = handshake(HARNESS_CLIENT_PORT + 2, 0x99, SL_CAP_AUTH | SL_CAP_ENC, "alice",
			    alice_key, &hc, r);
	CHECK(session != 0);
	x = find(r, 4, SL_FT_WELCOME);
	CHECK(x && (((const struct sl_welcome *)x->b)->h.flags & SL_WELCOME_F_ENC));
	CHECK(hc.enc == 1);
	harness_sealed = &hc;

	/* Reordered inside the window: 5, then 3, then 4: all answered. */
	subscribe_frame(&s, session, topic, 50);
	for (uint64_t q = 5; q >= 3; q--) {
		s.req_id = 50 + (uint32_t)q;
		len = harness_seal(&hc, &s, sizeof(s), 1, q, d);
		CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, d, len) == 0);
		n = poll_replies(r);
		x = find(r, n, SL_FT_OK);
		ok += x && ((const struct sl_ok *)x->b)->req_id == s.req_id;
	}
	CHECK(ok == 3);
	CHECK(hc.enc == 1 && hc.bad == 0);
	/* The same datagram again: a replay. */
	CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, d, len) == 0);
	CHECK(poll_replies(r) == 0);
	CHECK(drops(SL_DROP_mac_replay) == replay0 + 1);
	/* Far ahead, then one older than the window: refused. */
	len = harness_seal(&hc, &s, sizeof(s), 1, 5000, d);
	CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, d, len) == 0);
	CHECK(find(r, poll_replies(r), SL_FT_OK) != NULL);
	len = harness_seal(&hc, &s, sizeof(s), 1, 5000 - SL_REPLAY_WINDOW, d);
	CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, d, len) == 0);
	CHECK(poll_replies(r) == 0);
	CHECK(drops(SL_DROP_mac_replay) == replay0 + 2);
	/* Inside the window, new: accepted. */
	len = harness_seal(&hc, &s, sizeof(s), 1, 5000 - SL_REPLAY_WINDOW + 1, d);
	CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, d, len) == 0);
	CHECK(find(r, poll_replies(r), SL_FT_OK) != NULL);

	/* A bit flip anywhere: refused, counted, and nothing answered. */
	len = harness_seal(&hc, &s, sizeof(s), 1, 6000, d);
	for (bit = 0; bit < len * 8; bit += 7) {
		memcpy(e, d, len);
		e[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, e, len) == 0);
	}
	n = poll_replies(r);
	CHECK(find(r, n, SL_FT_OK) == NULL);
	CHECK(drops(SL_DROP_bad_mac) - bad0 + drops(SL_DROP_no_session) > 0);
	/* The unflipped one is still good (nothing consumed its sequence). */
	CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, d, len) == 0);
	CHECK(find(r, poll_replies(r), SL_FT_OK) != NULL);

	/* An unsealed SUBSCRIBE of the session: dropped, counted, unanswered. */
	CHECK(harness_send_from(&dp, rx, HARNESS_CLIENT_PORT + 2, &s, sizeof(s)) == 0);
	CHECK(poll_replies(r) == 0);
	CHECK(drops(SL_DROP_mac_missing) == missing0 + 1);
	CHECK(hc.bad == 0);
	harness_sealed = NULL;
}

/*
 * The seal suite. Offered SL_CAP_AESGCM, the broker keeps it (this CPU
 * can, aes_gcm is auto): the WELCOME says SL_WELCOME_F_AESGCM and comes
 * sealed with AES-256-GCM under the AES labels' keys, and the session takes
 * only AES-256-GCM seals (a ChaCha20-Poly1305 one, replays and bit flips
 * refused). A man in the middle who strips the bit from the CHALLENGE (or
 * adds it) breaks the cookie: no session. With aes_gcm off, or not offered,
 * the session is ChaCha20-Poly1305.
 */
static void
test_suites(uint32_t topic)
{
	uint16_t port = HARNESS_CLIENT_PORT + 40;
	uint64_t replay0 = drops(SL_DROP_mac_replay), bad0 = drops(SL_DROP_bad_mac);
	uint64_t cookie0 = drops(SL_DROP_cookie_bad), aes0 = ctr(SL_CTR_auth_aesgcm);
	const uint32_t caps = SL_CAP_AUTH | SL_CAP_ENC | SL_CAP_AESGCM;
	const struct sl_challenge *c;
	struct reply r[MAX_REPLIES];
	struct harness_client hc, cha;
	struct sl_challenge ch;
	struct sl_subscribe s;
	const struct reply *x;
	struct sl_auth a;
	uint8_t d[256], e[256];
	uint32_t session, len, bit;
	unsigned n;

	if (!sl_crypto_aesgcm_available()) {
		fprintf(stderr, "test_worker: no AES-NI here: AES-256-GCM sessions not tested\n");
		return;
	}
	authz_alice();
	CHECK(dp.aes_gcm == 1);
	c = challenge_of(port, 0x501, caps, "alice", r);
	CHECK(c && c->caps == caps);
	session = handshake(port, 0x502, caps, "alice", alice_key, &hc, r);
	CHECK(session != 0 && hc.suite == SL_SUITE_AES256_GCM);
	x = find(r, 4, SL_FT_WELCOME);
	CHECK(x && (((const struct sl_welcome *)x->b)->h.flags &
		    (SL_WELCOME_F_AUTH | SL_WELCOME_F_ENC | SL_WELCOME_F_AESGCM)) ==
			   (SL_WELCOME_F_AUTH | SL_WELCOME_F_ENC | SL_WELCOME_F_AESGCM));
	CHECK(hc.opened == 1 && hc.bad == 0 && hc.enc == 1);
	CHECK(ctr(SL_CTR_auth_aesgcm) == aes0 + 1);
	harness_sealed = &hc;
	subscribe_frame(&s, session, topic, 90);
	len = harness_seal(&hc, &s, sizeof(s), 1, 0, d);
	CHECK(len != 0 && harness_send_from(&dp, rx, port, d, len) == 0);
	n = poll_replies(r);
	x = find(r, n, SL_FT_OK);
	CHECK(x && ((const struct sl_ok *)x->b)->req_id == 90);
	CHECK(hc.opened == 2 && hc.bad == 0 && hc.enc == 1);
	/* Replayed: refused. */
	CHECK(harness_send_from(&dp, rx, port, d, len) == 0);
	CHECK(poll_replies(r) == 0 && drops(SL_DROP_mac_replay) == replay0 + 1);
	/* Bit flips anywhere: refused, nothing answered. */
	len = harness_seal(&hc, &s, sizeof(s), 1, 0, d);
	for (bit = 0; bit < len * 8; bit += 5) {
		memcpy(e, d, len);
		e[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(harness_send_from(&dp, rx, port, e, len) == 0);
	}
	CHECK(find(r, poll_replies(r), SL_FT_OK) == NULL);
	CHECK(drops(SL_DROP_bad_mac) > bad0);
	/* ChaCha20-Poly1305 under the same handshake's keys: not this
	 * session's suite. */
	bad0 = drops(SL_DROP_bad_mac);
	cha = hc;
	cha.suite = SL_SUITE_CHACHA20_POLY1305;
	len = harness_seal(&cha, &s, sizeof(s), 1, 0, e);
	CHECK(harness_send_from(&dp, rx, port, e, len) == 0);
	CHECK(poll_replies(r) == 0 && drops(SL_DROP_bad_mac) == bad0 + 1);
	/* The untouched AES one still holds. */
	CHECK(harness_send_from(&dp, rx, port, d, len) == 0);
	CHECK(find(r, poll_replies(r), SL_FT_OK) != NULL);
	harness_sealed = NULL;

	/* Downgrade: the CHALLENGE's bit stripped on the way (the client
	 * then proves and echoes caps without it): the cookie fails, no
	 * WELCOME, no session. */
	port++;
	c = challenge_of(port, 0x503, caps, "alice", r);
	CHECK(c != NULL);
	if (c) {
		ch = *c;
		ch.caps &= ~SL_CAP_AESGCM;
		usleep(2000);
		harness_auth(&a, &ch, "alice", alice_key);
		CHECK(harness_send_from(&dp, rx, port, &a, sizeof(a)) == 0);
		CHECK(poll_replies(r) == 0);
		CHECK(drops(SL_DROP_cookie_bad) == cookie0 + 1);
	}
	/* ... or added where the broker left it out. */
	c = challenge_of(port, 0x504, SL_CAP_AUTH, "alice", r);
	CHECK(c && c->caps == SL_CAP_AUTH);
	if (c) {
		ch = *c;
		ch.caps |= SL_CAP_AESGCM;
		harness_auth(&a, &ch, "alice", alice_key);
		CHECK(harness_send_from(&dp, rx, port, &a, sizeof(a)) == 0);
		CHECK(poll_replies(r) == 0);
		CHECK(drops(SL_DROP_cookie_bad) == cookie0 + 2);
	}
	CHECK(sl_session_find_addr(&dp.workers[0]->sessions, HARNESS_CLIENT_IP, htons(port)) ==
	      NULL);

	/* aes_gcm = off: the CHALLENGE drops the bit; ChaCha20-Poly1305. */
	dp.aes_gcm = 0;
	port++;
	c = challenge_of(port, 0x505, caps, "alice", r);
	CHECK(c && c->caps == (SL_CAP_AUTH | SL_CAP_ENC));
	session = handshake(port, 0x506, caps, "alice", alice_key, &hc, r);
	CHECK(session != 0 && hc.suite == SL_SUITE_CHACHA20_POLY1305 && hc.opened == 1);
	x = find(r, 4, SL_FT_WELCOME);
	CHECK(x && !(((const struct sl_welcome *)x->b)->h.flags & SL_WELCOME_F_AESGCM));
	dp.aes_gcm = 1;
	/* Not offered: ChaCha20-Poly1305 whatever the broker can. */
	port++;
	session = handshake(port, 0x507, SL_CAP_AUTH, "alice", alice_key, &hc, r);
	CHECK(session != 0 && hc.suite == SL_SUITE_CHACHA20_POLY1305 && hc.opened == 1);
	CHECK(ctr(SL_CTR_auth_aesgcm) == aes0 + 1);
	harness_sealed = &hc;
	subscribe_frame(&s, session, topic, 91);
	len = harness_seal(&hc, &s, sizeof(s), 0, 0, d);
	CHECK(harness_send_from(&dp, rx, port, d, len) == 0);
	CHECK(find(r, poll_replies(r), SL_FT_OK) != NULL && hc.bad == 0);
	harness_sealed = NULL;
}

/* AUTH edge cases: a stale cookie gets SL_E_HANDSHAKE; a forged cookie is
 * dropped; a wrong key SL_E_AUTH_FAILED; the user's second key works. */
static void
test_auth_edges(void)
{
	struct sl_authz *a = authz_alice();
	uint64_t stale0 = drops(SL_DROP_cookie_stale), bad0 = drops(SL_DROP_cookie_bad);
	const struct sl_challenge *c;
	struct reply r[MAX_REPLIES];
	struct sl_cookie_in in;
	struct harness_client hc;
	struct sl_challenge ch, orig;
	const struct sl_error *er;
	struct sl_auth au;
	uint16_t port = HARNESS_CLIENT_PORT + 3;
	uint32_t active0 = dp.workers[0]->sessions.n_active;
	unsigned n;

	c = challenge_of(port, 0x31, SL_CAP_AUTH, "alice", r);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	orig = *c;
	ch = orig;
	/* A cookie the broker would have issued 11 s ago: stale. */
	ch.issued -= SL_COOKIE_LIFE_MS + 1000;
	memset(&in, 0, sizeof(in));
	in.transport = SL_TRANSPORT_UDP;
	in.ip = HARNESS_CLIENT_IP;
	in.port = htons(port);
	in.version = ch.version;
	in.caps = ch.caps;
	in.nonce = ch.nonce;
	in.issued = ch.issued;
	memcpy(in.server_nonce, ch.server_nonce, 16);
	sl_cookie(dp.cookie_secret, &in, ch.cookie);
	harness_auth(&au, &ch, "alice", alice_key);
	CHECK(harness_send_from(&dp, rx, port, &au, sizeof(au)) == 0);
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	er = (const struct sl_error *)r[0].b;
	CHECK(er->code == SL_E_HANDSHAKE && er->h.session == 0 && er->detail == 0x31 &&
	      er->frame_type == SL_FT_AUTH);
	CHECK(drops(SL_DROP_cookie_stale) == stale0 + 1);

	/* The cookie binds the address: the same AUTH from another port is
	 * dropped without an answer. */
	ch = orig;
	harness_auth(&au, &ch, "alice", alice_key);
	CHECK(harness_send_from(&dp, rx, (uint16_t)(port + 100), &au, sizeof(au)) == 0);
	harness_rx_port = (uint16_t)(port + 100);
	CHECK(poll_replies(r) == 0);
	harness_rx_port = port;
	CHECK(drops(SL_DROP_cookie_bad) == bad0 + 1);

	/* A wrong key: AUTH_FAILED, session 0, detail the nonce. */
	harness_auth(&au, &ch, "alice", alice_key2);
	CHECK(harness_send_from(&dp, rx, port, &au, sizeof(au)) == 0);
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR &&
	      ((const struct sl_error *)r[0].b)->code == SL_E_AUTH_FAILED &&
	      ((const struct sl_error *)r[0].b)->detail == 0x31);
	CHECK(dp.workers[0]->sessions.n_active == active0);

	/* The same key once it is the user's second: a session. */
	a->users[1].has_key2 = 1;
	memcpy(a->users[1].key2, alice_key2, 32);
	CHECK(handshake(port, 0x32, SL_CAP_AUTH, "alice", alice_key2, &hc, r) != 0);
	/* Encryption without authentication: refused. */
	c = challenge_of((uint16_t)(port + 1), 0x33, SL_CAP_ENC, "x", r);
	if (c) {
		ch = *c;
		harness_auth(&au, &ch, "x", NULL);
		CHECK(harness_send_from(&dp, rx, (uint16_t)(port + 1), &au, sizeof(au)) == 0);
		n = poll_replies(r);
		CHECK(n == 1 && ((const struct sl_error *)r[0].b)->code == SL_E_ENCRYPTION_REQUIRED);
	}
	a->users[1].has_key2 = 0;
}

/* A frame without a session gets NO_SESSION with its req_id and, for a
 * PUBLISH, its producer_seq (PROTOCOL.md 5.12). */
static void
test_no_session_fields(uint32_t topic)
{
	struct reply r[MAX_REPLIES];
	struct sl_subscribe s;
	struct sl_publish p;
	const struct sl_error *e;
	unsigned n;

	subscribe_frame(&s, 0x5eed, topic, 77);
	send_dgram(&s, sizeof(s));
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	e = (const struct sl_error *)r[0].b;
	CHECK(e->code == SL_E_NO_SESSION && e->req_id == 77 && e->detail == topic);
	memset(&p, 0, sizeof(p));
	sl_proto_hdr_init(&p.h, SL_FT_PUBLISH, 0, sizeof(p), 0x5eed);
	p.topic_id = topic;
	p.producer_seq = 4242;
	send_dgram(&p, sizeof(p));
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	e = (const struct sl_error *)r[0].b;
	CHECK(e->code == SL_E_NO_SESSION && e->req_id == 0 && e->detail == 4242);
}

/*
 * A session's end must reach the main lcore's pattern registry even when
 * its ring is full: kept in the backlog and sent once there is room, never
 * dropped (its patterns would subscribe the dead session to new topics).
 */
static void
test_session_end_backlog(void)
{
	struct sl_worker *w = dp.workers[0];
	uint64_t lost = sl_ctr_read(&w->ctr.drop[SL_DROP_slow_path_full]);
	struct sl_handoff nop = { .kind = SL_HO_KINDS }, h;
	unsigned n = 0, ends = 0;

	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0) /* earlier tests' */
		rte_pktmbuf_free(h.m);
	while (rte_ring_enqueue_elem(dp.slow, &nop, sizeof(nop)) == 0)
		n++;
	CHECK(n > 0);
	sl_worker_session_gone(w, 4242);
	sl_worker_session_gone(w, 4243);
	CHECK_EQ(sl_ctr_read(&w->ctr.drop[SL_DROP_slow_path_full]), lost);
	CHECK_EQ(w->n_backlog_dst[SL_BACKLOG_MAIN], 2);
	sl_worker_stage_flush(w); /* still full: kept */
	CHECK_EQ(w->n_backlog_dst[SL_BACKLOG_MAIN], 2);
	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
		CHECK_EQ(h.kind, SL_HO_KINDS);
	sl_worker_stage_flush(w);
	CHECK_EQ(w->n_backlog_dst[SL_BACKLOG_MAIN], 0);
	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0) {
		CHECK_EQ(h.kind, SL_HO_SESSION_END);
		CHECK_EQ(h.session, 4242u + ends);
		ends++;
	}
	CHECK_EQ(ends, 2);
}

/* --- protocol version 4: headers, filters, group frames ------------------------ */

/* A session of versions 3..@max from client port @port (harness_rx_port
 * left there). Returns the session id, 0 on failure. */
static uint32_t
session_v(uint16_t port, uint64_t nonce, uint16_t max)
{
	uint8_t b[SL_HELLO_MIN_LEN];
	struct reply r[MAX_REPLIES];
	const struct reply *x;
	struct sl_challenge c;
	struct sl_auth a;
	unsigned n;

	harness_rx_port = port;
	harness_hello(b, nonce, 0, "v4");
	((struct sl_hello *)b)->min_version = 3;
	((struct sl_hello *)b)->max_version = max;
	CHECK(harness_send_from(&dp, rx, port, b, sizeof(b)) == 0);
	n = poll_replies(r);
	x = find(r, n, SL_FT_CHALLENGE);
	CHECK(x != NULL);
	if (x == NULL)
		return 0;
	memcpy(&c, x->b, sizeof(c));
	CHECK(c.version == max);
	usleep(2000);
	harness_auth(&a, &c, "v4", NULL);
	CHECK(harness_send_from(&dp, rx, port, &a, sizeof(a)) == 0);
	n = poll_replies(r);
	x = find(r, n, SL_FT_WELCOME);
	CHECK(x != NULL && ((const struct sl_welcome *)x->b)->version == max);
	return x ? ((const struct sl_welcome *)x->b)->session : 0;
}

/* A PUBLISH of @session to @topic into @b: header block @blk (@hl bytes;
 * 0: none, no flag) then @payload. Returns the frame's length. */
static uint32_t
publish_hdrs(uint8_t *b, uint32_t session, uint32_t topic, uint64_t pseq, const void *blk,
	     uint16_t hl, const char *payload)
{
	struct sl_publish *p = (struct sl_publish *)b;
	uint32_t plen = (uint32_t)strlen(payload);

	memset(b, 0, sizeof(*p) + hl + plen + 8);
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, hl ? SL_PUB_F_HDRS : 0,
			  (uint32_t)sizeof(*p) + hl + plen, session);
	p->topic_id = topic;
	p->hdrs_len = hl;
	p->producer_seq = pseq;
	memcpy(b + sizeof(*p), blk, hl);
	memcpy(b + sizeof(*p) + hl, payload, plen);
	return (uint32_t)sizeof(*p) + hl + plen;
}

/* SUBSCRIBE of @session to @topic on @port, with filter @flt (@flen bytes). */
static void
subscribe_v4(uint16_t port, uint32_t session, uint32_t topic, const void *flt, uint16_t flen,
	     uint16_t expect)
{
	uint8_t b[sizeof(struct sl_subscribe) + SL_MAX_FILTER_LEN];
	struct sl_subscribe *s = (struct sl_subscribe *)b;
	struct reply r[MAX_REPLIES];
	unsigned n;

	subscribe_frame(s, session, topic, 77);
	if (flen) {
		sl_proto_hdr_init(&s->h, SL_FT_SUBSCRIBE, SL_SUB_F_FILTER,
				  (uint32_t)sizeof(*s) + flen, session);
		memcpy(s + 1, flt, flen);
	}
	harness_rx_port = port;
	CHECK(harness_send_from(&dp, rx, port, b, (uint32_t)sizeof(*s) + flen) == 0);
	n = poll_replies(r);
	CHECK(n == 1);
	if (expect == SL_E_NONE)
		CHECK(n >= 1 && r[0].type == SL_FT_OK);
	else
		CHECK(n >= 1 && r[0].type == SL_FT_ERROR &&
		      ((const struct sl_error *)r[0].b)->code == expect);
}

/*
 * A version 3 subscriber gets a message published with headers as its
 * payload alone (block stripped, counted); a version 4 subscriber gets the
 * block unchanged with SL_DLV_F_HDRS and hdrs_len; bad blocks, reserved
 * names and a version 3 publisher's header flag are refused.
 */
static void
test_v4_headers(void)
{
	const uint16_t p3 = 41003, p4 = 41004;
	uint32_t t = harness_topic(&dp, "v4.hdrs"), s3, s4;
	struct sl_header hv[2] = { { "region", "eu", 2 }, { "prio", "7", 1 } };
	uint8_t blk[SL_MAX_HDRS_LEN], b[1024];
	struct reply r[MAX_REPLIES];
	const struct reply *x;
	uint64_t stripped = ctr(SL_CTR_hdrs_stripped), bad = ctr(SL_CTR_bad_headers);
	uint32_t len;
	unsigned n;
	int hl;

	hl = sl_hdrs_build(blk, sizeof(blk), "key-1", 5, hv, 2);
	CHECK(hl > 0);
	s3 = session_v(p3, 0x3003, 3);
	s4 = session_v(p4, 0x4004, 4);
	CHECK(s3 && s4);

	/* The v3 session subscribes; v4 publishes with headers. */
	subscribe_v4(p3, s3, t, NULL, 0, SL_E_NONE);
	len = publish_hdrs(b, s4, t, 0, blk, (uint16_t)hl, "hello");
	CHECK(((struct sl_publish *)b)->h.version == 4);
	harness_rx_port = p3;
	CHECK(harness_send_from(&dp, rx, p4, b, len) == 0);
	n = poll_replies(r);
	x = find(r, n, SL_FT_DELIVER);
	CHECK(n == 1 && x != NULL);
	if (x) {
		const struct sl_deliver *d = (const struct sl_deliver *)x->b;

		CHECK(d->h.version == 3 && !(d->h.flags & SL_DLV_F_HDRS) && d->hdrs_len == 0);
		CHECK(d->h.length == sizeof(*d) + 5 && memcmp(d + 1, "hello", 5) == 0);
	}
	CHECK(ctr(SL_CTR_hdrs_stripped) == stripped + 1);

	/* The v4 session subscribes too: the block, unchanged. */
	subscribe_v4(p4, s4, t, NULL, 0, SL_E_NONE);
	len = publish_hdrs(b, s4, t, 0, blk, (uint16_t)hl, "again");
	CHECK(harness_send_from(&dp, rx, p4, b, len) == 0);
	harness_rx_port = p4;
	n = 0;
	{
		struct replies xr = { r, 0 };
		int dg;

		/* Datagrams to both ports: p3's is "bad" for this receiver. */
		dg = harness_recv(&dp, tx, 4, take, &xr);
		CHECK(dg == -1);
		n = xr.n;
	}
	x = find(r, n, SL_FT_DELIVER);
	CHECK(n == 1 && x != NULL);
	if (x) {
		const struct sl_deliver *d = (const struct sl_deliver *)x->b;

		CHECK(d->h.version == 4 && (d->h.flags & SL_DLV_F_HDRS) && d->hdrs_len == hl);
		CHECK(d->h.length == sizeof(*d) + (uint32_t)hl + 5);
		CHECK(memcmp(d + 1, blk, (size_t)hl) == 0);
		CHECK(memcmp((const uint8_t *)(d + 1) + hl, "again", 5) == 0);
	}
	CHECK(ctr(SL_CTR_hdrs_stripped) == stripped + 2);

	/* A v3 session's PUBLISH with the header flag: SL_E_VERSION, detail 4. */
	harness_rx_port = p3;
	len = publish_hdrs(b, s3, t, 5, blk, (uint16_t)hl, "x");
	((struct sl_publish *)b)->h.version = 3;
	CHECK(harness_send_from(&dp, rx, p3, b, len) == 0);
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	CHECK(((const struct sl_error *)r[0].b)->code == SL_E_VERSION &&
	      ((const struct sl_error *)r[0].b)->detail == 4);

	/* Malformed blocks and a reserved name: SL_E_BAD_HEADERS naming the
	 * producer sequence, counted, nothing stored or delivered. */
	{
		struct sl_header rsv = { SL_HDR_DELIVERY_COUNT, "1", 1 };
		uint8_t rb[64], dup[10] = { 2, 0, 1, 1, 'a', '1', 1, 1, 'a', '2' };
		uint8_t trail[8] = { 0, 0, 0, 0 };
		uint64_t seq0 = sl_route_state(&dp.route, t)->seq;
		int rl = sl_hdrs_build(rb, sizeof(rb), NULL, 0, &rsv, 1);
		struct {
			const void *blk;
			uint16_t hl;
		} cases[] = { { rb, (uint16_t)rl }, { dup, sizeof(dup) }, { trail, 4 },
			      { blk, (uint16_t)(hl - 1) } };
		unsigned i;

		harness_rx_port = p4;
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			len = publish_hdrs(b, s4, t, 100 + i, cases[i].blk, cases[i].hl, "zz");
			CHECK(harness_send_from(&dp, rx, p4, b, len) == 0);
			n = poll_replies(r);
			CHECK(n == 1 && r[0].type == SL_FT_ERROR);
			CHECK(((const struct sl_error *)r[0].b)->code == SL_E_BAD_HEADERS &&
			      ((const struct sl_error *)r[0].b)->detail == 100 + i &&
			      ((const struct sl_error *)r[0].b)->frame_type == SL_FT_PUBLISH);
		}
		CHECK(ctr(SL_CTR_bad_headers) == bad + 4);
		CHECK(sl_route_state(&dp.route, t)->seq == seq0);
	}
	harness_rx_port = HARNESS_CLIENT_PORT;
}

/*
 * A filtered subscription (v4) gets exactly the messages that pass, and a
 * SKIP for every run it skipped before the next one it gets; a NAK over a
 * skipped range is answered with SKIP, not GAP_LOST; a malformed filter is
 * refused. Group frames: SL_E_NO_GROUP (v4), SL_E_VERSION (v3).
 */
static void
test_v4_filter(void)
{
	const uint16_t p4 = 41014, p3 = 41013;
	uint32_t t = harness_topic(&dp, "v4.filter"), s4, s3;
	struct sl_filter_clause fc = { SL_FILTER_EQ, "region", "eu", 2 };
	struct sl_header eu = { "region", "eu", 2 }, us = { "region", "us", 2 };
	uint8_t flt[64], beu[64], bus[64], b[512];
	struct reply r[MAX_REPLIES];
	int fl, leu, lus;
	uint32_t len;
	unsigned n, i, dl = 0, sk = 0;

	fl = sl_filter_build(flt, sizeof(flt), &fc, 1);
	leu = sl_hdrs_build(beu, sizeof(beu), NULL, 0, &eu, 1);
	lus = sl_hdrs_build(bus, sizeof(bus), NULL, 0, &us, 1);
	CHECK(fl > 0 && leu > 0 && lus > 0);
	s4 = session_v(p4, 0x4014, 4);
	CHECK(s4 != 0);
	/* A malformed filter (op 9): refused, no subscription. */
	subscribe_v4(p4, s4, t, "\x01\x09\x01\x00" "a", 5, SL_E_BAD_HEADERS);
	CHECK(sl_route_state(&dp.route, t)->n_subs == 0);
	subscribe_v4(p4, s4, t, flt, (uint16_t)fl, SL_E_NONE);
	CHECK(sl_route_state(&dp.route, t)->n_filtered == 1);

	/* seq 1 eu, 2 us, 3 none, 4 eu, 5 us: DELIVER 1, SKIP 2..3, DELIVER 4. */
	for (i = 1; i <= 5; i++) {
		const uint8_t *blk = i == 1 || i == 4 ? beu : i == 3 ? NULL : bus;
		uint16_t hl = (uint16_t)(i == 1 || i == 4 ? leu : i == 3 ? 0 : lus);

		len = publish_hdrs(b, s4, t, 0, blk, hl, "m");
		CHECK(harness_send_from(&dp, rx, p4, b, len) == 0);
	}
	n = poll_replies(r);
	for (i = 0; i < n; i++) {
		if (r[i].type == SL_FT_DELIVER) {
			const struct sl_deliver *d = (const struct sl_deliver *)r[i].b;

			CHECK(d->seq == (dl == 0 ? 1u : 4u) && (d->h.flags & SL_DLV_F_HDRS));
			CHECK(sk == (dl == 0 ? 0u : 1u)); /* the SKIP came before seq 4 */
			dl++;
		} else if (r[i].type == SL_FT_SKIP) {
			const struct sl_skip *k = (const struct sl_skip *)r[i].b;

			CHECK(k->h.version == 4 && k->topic_id == t && k->first == 2 && k->last == 3);
			sk++;
		}
	}
	CHECK(dl == 2 && sk == 1);
	CHECK(ctr(SL_CTR_filter_skipped) >= 3);

	/* A NAK of 1..5 (as after a lost SKIP): 1 and 4 again, 2..3 and 5 SKIPped. */
	{
		struct sl_nak k;

		memset(&k, 0, sizeof(k));
		sl_proto_hdr_init(&k.h, SL_FT_NAK, 0, sizeof(k), s4);
		k.topic_id = t;
		k.first = 1;
		k.last = 5;
		CHECK(harness_send_from(&dp, rx, p4, &k, sizeof(k)) == 0);
		n = poll_replies(r);
		dl = sk = 0;
		for (i = 0; i < n; i++) {
			if (r[i].type == SL_FT_DELIVER) {
				const struct sl_deliver *d = (const struct sl_deliver *)r[i].b;

				CHECK((d->seq == 1 || d->seq == 4) && (d->h.flags & SL_DLV_F_RETRANS));
				dl++;
			} else if (r[i].type == SL_FT_SKIP) {
				const struct sl_skip *s = (const struct sl_skip *)r[i].b;

				CHECK((s->first == 2 && s->last == 3) || (s->first == 5 && s->last == 5));
				sk++;
			} else {
				CHECK(r[i].type == SL_FT_STATUS); /* no ERROR GAP_LOST */
			}
		}
		CHECK(dl == 2 && sk >= 2);
	}

	/* Group frames: a v4 session gets SL_E_NO_GROUP with GJOIN's req_id and
	 * topic; a v3 session SL_E_VERSION with the version needed. */
	{
		struct sl_gjoin j;

		memset(&j, 0, sizeof(j));
		sl_proto_hdr_init(&j.h, SL_FT_GJOIN, 0, sizeof(j), s4);
		j.topic_id = t;
		j.credit = 8;
		j.member_id = 1;
		j.req_id = 55;
		memcpy(j.group, "g", 1);
		CHECK(harness_send_from(&dp, rx, p4, &j, sizeof(j)) == 0);
		n = poll_replies(r);
		CHECK(n == 1 && r[0].type == SL_FT_ERROR);
		CHECK(((const struct sl_error *)r[0].b)->code == SL_E_NO_GROUP &&
		      ((const struct sl_error *)r[0].b)->req_id == 55 &&
		      ((const struct sl_error *)r[0].b)->detail == t &&
		      ((const struct sl_error *)r[0].b)->frame_type == SL_FT_GJOIN);
		s3 = session_v(p3, 0x3013, 3);
		j.h.session = s3;
		CHECK(harness_send_from(&dp, rx, p3, &j, sizeof(j)) == 0);
		n = poll_replies(r);
		CHECK(n == 1 && r[0].type == SL_FT_ERROR);
		CHECK(((const struct sl_error *)r[0].b)->code == SL_E_VERSION &&
		      ((const struct sl_error *)r[0].b)->detail == 4);
		/* ... and a filter on its SUBSCRIBE too. */
		subscribe_v4(p3, s3, t, flt, (uint16_t)fl, SL_E_VERSION);
	}
	harness_rx_port = HARNESS_CLIENT_PORT;
}

/* RESOLVE @name with @flags from (@port, @session): the frames answering it. */
static unsigned
resolve_as(uint16_t port, uint32_t session, const char *name, uint16_t flags, struct reply *r)
{
	uint64_t f[(sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME) / 8 + 1];
	int len = sl_proto_put_resolve(f, sizeof(f), session, 77, name, strlen(name), flags);

	CHECK(len > 0 && harness_send_from(&dp, rx, port, f, (uint32_t)len) == 0);
	return poll_replies(r);
}

static void
check_error(const struct reply *r, unsigned n, uint16_t code, uint8_t ftype, uint64_t detail)
{
	const struct sl_error *e = (const struct sl_error *)r[0].b;

	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	CHECK_EQ(e->code, code);
	CHECK_EQ(e->frame_type, ftype);
	CHECK_EQ(e->detail, detail);
}

/*
 * RESOLVE by id (PROTOCOL.md 5.4): the name field is the id in decimal; the
 * TOPIC carries the name. An id that names no topic, or digits that are no
 * id, are refused; the WELCOME said the broker does it.
 */
static void
test_resolve_name(void)
{
	const uint16_t port = 47002;
	struct reply r[MAX_REPLIES];
	uint32_t id = harness_topic(&dp, "by.id.topic"), s;
	char digits[11];
	const char *name;
	unsigned n;

	CHECK(id != 0);
	s = session_v(port, 0x9a28, 4);
	CHECK(s != 0);
	sl_proto_topic_id_str(digits, id);
	n = resolve_as(port, s, digits, SL_RESOLVE_F_NAME, r);
	CHECK(n == 1 && r[0].type == SL_FT_TOPIC && r[0].len == 32 + strlen("by.id.topic"));
	CHECK(((const struct sl_topic_reply *)r[0].b)->topic_id == id);
	CHECK(((const struct sl_topic_reply *)r[0].b)->req_id == 77);
	CHECK(sl_proto_topic_name(r[0].b, r[0].len, &name) == (int)strlen("by.id.topic") &&
	      memcmp(name, "by.id.topic", strlen("by.id.topic")) == 0);
	/* Not a partition map, and a map is no name. */
	CHECK(sl_proto_topic_parts(r[0].b, r[0].len, NULL, 0) == -EBADMSG);

	n = resolve_as(port, s, "65000", SL_RESOLVE_F_NAME, r);
	check_error(r, n, SL_E_UNKNOWN_TOPIC, SL_FT_RESOLVE, 65000);
	n = resolve_as(port, s, "012", SL_RESOLVE_F_NAME, r);
	check_error(r, n, SL_E_BAD_NAME, SL_FT_RESOLVE, 0);
	n = resolve_as(port, s, "4294967296", SL_RESOLVE_F_NAME, r);
	check_error(r, n, SL_E_BAD_NAME, SL_FT_RESOLVE, 0);
	/* Without the flag the digits are a name like any other. */
	n = resolve_as(port, s, digits, 0, r);
	check_error(r, n, SL_E_UNKNOWN_TOPIC, SL_FT_RESOLVE, 0);
	harness_rx_port = HARNESS_CLIENT_PORT;
}

/*
 * A partitioned topic (PROTOCOL.md 7.4): RESOLVE with PARTS gets the map,
 * without it (CREATE or not) ERROR PARTITIONED; PUBLISH and SUBSCRIBE to
 * the name's own id are refused; a partition resolves as the ordinary topic
 * it is; a missing partition makes the map unknown.
 */
static void
test_partitions(void)
{
	const uint16_t port = 47001;
	struct reply r[MAX_REPLIES];
	uint32_t ids[4], got[SL_MAX_PARTITIONS], parent, s;
	struct sl_subscribe sub;
	struct sl_publish p;
	char name[16];
	unsigned n, i;

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "pt#%u", i);
		ids[i] = harness_topic(&dp, name);
		CHECK(ids[i] != 0);
	}
	parent = harness_topic(&dp, "pt");
	/* What control's upsert does before the topic is published. */
	sl_route_state(&dp.route, parent)->parts = 3;
	s = session_v(port, 0x9a27, 4);
	CHECK(s != 0);

	n = resolve_as(port, s, "pt", 0, r);
	check_error(r, n, SL_E_PARTITIONED, SL_FT_RESOLVE, 3);
	CHECK(((const struct sl_error *)r[0].b)->req_id == 77);
	n = resolve_as(port, s, "pt", SL_RESOLVE_F_CREATE, r);
	check_error(r, n, SL_E_PARTITIONED, SL_FT_RESOLVE, 3);

	n = resolve_as(port, s, "pt", SL_RESOLVE_F_PARTS | SL_RESOLVE_F_CREATE, r);
	CHECK(n == 1 && r[0].type == SL_FT_TOPIC && r[0].len == 32 + 3 * 4);
	CHECK(((const struct sl_topic_reply *)r[0].b)->topic_id == parent);
	CHECK(((const struct sl_topic_reply *)r[0].b)->req_id == 77);
	CHECK(sl_proto_topic_parts(r[0].b, r[0].len, got, SL_MAX_PARTITIONS) == 3);
	CHECK(got[0] == ids[0] && got[1] == ids[1] && got[2] == ids[2]);

	/* A partition is an ordinary topic; PARTS changes nothing there. */
	n = resolve_as(port, s, "pt#1", SL_RESOLVE_F_PARTS, r);
	CHECK(n == 1 && r[0].type == SL_FT_TOPIC && r[0].len == 24);
	CHECK(((const struct sl_topic_reply *)r[0].b)->topic_id == ids[1]);

	/* The name's own id takes no PUBLISH and no SUBSCRIBE. */
	memset(&p, 0, sizeof(p));
	sl_proto_hdr_init(&p.h, SL_FT_PUBLISH, SL_PUB_F_ACK_REQ, sizeof(p), s);
	p.topic_id = parent;
	p.producer_seq = 5;
	CHECK(harness_send_from(&dp, rx, port, &p, sizeof(p)) == 0);
	n = poll_replies(r);
	check_error(r, n, SL_E_PARTITIONED, SL_FT_PUBLISH, 5);
	memset(&sub, 0, sizeof(sub));
	sl_proto_hdr_init(&sub.h, SL_FT_SUBSCRIBE, 0, sizeof(sub), s);
	sub.topic_id = parent;
	sub.req_id = 78;
	CHECK(harness_send_from(&dp, rx, port, &sub, sizeof(sub)) == 0);
	n = poll_replies(r);
	check_error(r, n, SL_E_PARTITIONED, SL_FT_SUBSCRIBE, parent);
	CHECK(sl_route_state(&dp.route, parent)->n_subs == 0);
	/* ... while a partition takes both. */
	p.topic_id = ids[2];
	CHECK(harness_send_from(&dp, rx, port, &p, sizeof(p)) == 0);
	n = poll_replies(r);
	CHECK(find(r, n, SL_FT_ACK) != NULL && find(r, n, SL_FT_ERROR) == NULL);

	/* A partition missing (being deleted): no map. */
	sl_route_state(&dp.route, parent)->parts = 4;
	n = resolve_as(port, s, "pt", SL_RESOLVE_F_PARTS, r);
	check_error(r, n, SL_E_UNKNOWN_TOPIC, SL_FT_RESOLVE, 0);
	harness_rx_port = HARNESS_CLIENT_PORT;
}

/*
 * Scale-out: a topic marked moved (what control's TOPIC_UPDATE does) is
 * refused SL_E_MOVED on RESOLVE, SUBSCRIBE and PUBLISH, in the 64-byte
 * form naming the pair, its address and epoch, with the usual detail;
 * UNSUBSCRIBE still answers OK; cleared, the topic serves again.
 */
static void
test_moved(void)
{
	const uint16_t port = 47002;
	struct reply r[MAX_REPLIES];
	const struct sl_error_moved *e;
	struct sl_topic_state *ts;
	struct sl_subscribe sub;
	struct sl_publish p;
	uint32_t id, s;
	unsigned n;

	id = harness_topic(&dp, "mv");
	CHECK(id != 0);
	ts = sl_route_state(&dp.route, id);
	memcpy(ts->moved_to.addr, (const uint8_t[]){ 10, 1, 2, 3 }, 4);
	ts->moved_to.port = 9501;
	ts->moved_to.epoch = 4;
	snprintf(ts->moved_to.pair, sizeof(ts->moved_to.pair), "east");
	__atomic_store_n(&ts->moved, 1, __ATOMIC_RELEASE);
	s = session_v(port, 0x9a28, 4);
	CHECK(s != 0);

	n = resolve_as(port, s, "mv", SL_RESOLVE_F_CREATE, r);
	check_error(r, n, SL_E_MOVED, SL_FT_RESOLVE, 0);
	e = (const struct sl_error_moved *)r[0].b;
	CHECK(r[0].len == sizeof(*e) && e->e.req_id == 77);
	CHECK(e->addr[0] == 10 && e->addr[1] == 1 && e->addr[2] == 2 && e->addr[3] == 3);
	CHECK(e->port == 9501 && e->epoch == 4 && strcmp(e->pair, "east") == 0);

	memset(&p, 0, sizeof(p));
	sl_proto_hdr_init(&p.h, SL_FT_PUBLISH, SL_PUB_F_ACK_REQ, sizeof(p), s);
	p.topic_id = id;
	p.producer_seq = 9;
	CHECK(harness_send_from(&dp, rx, port, &p, sizeof(p)) == 0);
	n = poll_replies(r);
	check_error(r, n, SL_E_MOVED, SL_FT_PUBLISH, 9);
	CHECK(r[0].len == sizeof(*e) && ts->published == 0);

	memset(&sub, 0, sizeof(sub));
	sl_proto_hdr_init(&sub.h, SL_FT_SUBSCRIBE, 0, sizeof(sub), s);
	sub.topic_id = id;
	sub.req_id = 79;
	CHECK(harness_send_from(&dp, rx, port, &sub, sizeof(sub)) == 0);
	n = poll_replies(r);
	check_error(r, n, SL_E_MOVED, SL_FT_SUBSCRIBE, id);
	CHECK(r[0].len == sizeof(*e) && ts->n_subs == 0);
	sub.h.type = SL_FT_UNSUBSCRIBE;
	CHECK(harness_send_from(&dp, rx, port, &sub, sizeof(sub)) == 0);
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_OK);

	/* A subscriber from before the move is told by the sweep that
	 * control's mark starts (round 1, as topic owner), and unsubscribed. */
	__atomic_store_n(&ts->moved, 0, __ATOMIC_RELEASE);
	sub.h.type = SL_FT_SUBSCRIBE;
	sub.req_id = 80;
	CHECK(harness_send_from(&dp, rx, port, &sub, sizeof(sub)) == 0);
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_OK && ts->n_subs == 1);
	__atomic_store_n(&ts->moved, 1, __ATOMIC_RELEASE);
	{
		struct sl_handoff h = { .kind = SL_HO_AUTHZ_SWEEP, .topic = 99, .code = 1 };

		CHECK(rte_ring_enqueue_elem(dp.workers[0]->in, &h, sizeof(h)) == 0);
	}
	n = poll_replies(r);
	check_error(r, n, SL_E_MOVED, SL_FT_SUBSCRIBE, id);
	CHECK(r[0].len == sizeof(*e) && ((const struct sl_error *)r[0].b)->req_id == 80);
	CHECK_EQ(ts->n_subs, 0);

	/* Moved back: served again. */
	__atomic_store_n(&ts->moved, 0, __ATOMIC_RELEASE);
	n = resolve_as(port, s, "mv", 0, r);
	CHECK(n == 1 && r[0].type == SL_FT_TOPIC);
	CHECK(harness_send_from(&dp, rx, port, &p, sizeof(p)) == 0);
	n = poll_replies(r);
	CHECK(find(r, n, SL_FT_ACK) != NULL && find(r, n, SL_FT_ERROR) == NULL);
	harness_rx_port = HARNESS_CLIENT_PORT;
}

int
main(int argc, char **argv)
{
	uint32_t topic;
	int rc;

	(void)argc;
	rc = harness_eal("test_worker");
	if (rc)
		return rc;
	(void)argv;
	rx = rte_ring_create("t_rx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx = rte_ring_create("t_tx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(rx && tx);
	rc = harness_dp(&dp, rx, tx);
	if (rc < 0) {
		fprintf(stderr, "test_worker: dataplane set-up: %s\n", strerror(-rc));
		return 1;
	}
	topic = harness_topic(&dp, "prices");
	CHECK(topic != 0);
	test_session_pubsub(topic);
	test_versions(topic);
	test_no_session_fields(topic);
	test_hello_flood(topic);
	test_seal_rx(topic);
	test_suites(topic);
	test_auth_edges();
	harness_rx_port = HARNESS_CLIENT_PORT;
	test_session_end_backlog();
	test_v4_headers();
	test_v4_filter();
	test_partitions();
	test_resolve_name();
	test_moved();
	sl_port_fini(&dp, 0);
	sl_worker_fini(dp.workers[0]);
	sl_route_fini(&dp.route);
	rte_eal_cleanup();
	if (failures)
		fprintf(stderr, "test_worker: %d check(s) failed\n", failures);
	else
		printf("test_worker: ok\n");
	return failures ? 1 : 0;
}
