/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the broker's session handshake and the frames of a
 * session, through a real worker (tests/dp_harness.h: EAL without huge
 * pages, a ring port, one worker polled here): HELLO, CHALLENGE, AUTH,
 * WELCOME, then whatever the session sends, with authentication required
 * or open.
 *
 * Input: a mode byte (bit 0: authentication required), then up to
 * MAX_DGRAMS datagrams, each a control byte, a 16-bit little-endian length
 * and that many bytes of frames. The control byte asks the harness to do
 * what the fuzzer cannot, so that it gets past the cryptography into the
 * states behind it:
 *   bit 0 (PROVE): every AUTH frame answers the last CHALLENGE as a client
 *                  of user "alice" would (its echoed fields and a valid
 *                  proof), and the session keys are kept for bit 1
 *   bit 1 (SEAL):  the datagram is authenticated with the session's keys
 *                  (protocol 2: every frame flagged SL_HDR_F_AUTH gets a
 *                  trailer sequence and MAC; protocol 3: the datagram is
 *                  wrapped in a SEAL, encrypted with bit 3)
 *   bit 2 (OWN):   every frame gets the session id of the last WELCOME
 *   bit 3 (ENC):   protocol 3: the SEAL is encrypted
 * Only the section "the protocol's cryptography" below knows a protocol
 * version's handshake: it is chosen by whether the tree has
 * common/crypto.h (protocol 3).
 * After each datagram the worker is polled and every datagram it sent must
 * be addressed to the client and parse (protocol 3: a sealed one must open
 * with the session's broker->client key); after the input every session is
 * closed, so that inputs do not depend on each other.
 */

#include "dp_harness.h"
#include "fuzz.h"
#include "session.h"
#include "worker_internal.h"

#if __has_include(<common/crypto.h>)
#define FUZZ_PROTO_V3 1
#include <common/crypto.h>
#else
#include <common/auth.h>
#endif

#define MAX_DGRAMS 8
#define CTL_PROVE 0x01
#define CTL_SEAL 0x02
#define CTL_OWN 0x04
#define CTL_ENC 0x08

static struct sl_dp dp;
static struct rte_ring *rx, *tx;
static struct sl_authz *authz_req, *authz_open;
static const char user[32] = "alice";
static const uint8_t user_key[32] = { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

/* What the client has learnt from the broker's answers. */
static struct {
	struct sl_challenge ch; /* the last CHALLENGE */
	uint32_t session;	/* of the last WELCOME */
	uint8_t k_c2s[32], k_s2c[32]; /* the keys the datagrams are sealed with */
	unsigned suite;		      /* ... in this suite (SL_SUITE_*) */
	uint64_t seq;
	/* Protocol 3: the keys of every proof sent; the broker's seals must
	 * open with one of them (it may keep a session an earlier proof made). */
	unsigned n_keys;
	uint8_t keys[MAX_DGRAMS][2][32];
	unsigned suites[MAX_DGRAMS];
} cl;

static void check_frame(const struct sl_frame *f);

/* --- the protocol's cryptography --------------------------------------------------- */

#ifdef FUZZ_PROTO_V3

static void
prove(struct sl_auth *au)
{
	au->h.session = cl.ch.h.session; /* 0: no state before the proof */
	au->nonce = cl.ch.nonce;
	au->version = cl.ch.version;
	au->caps = cl.ch.caps;
	au->issued = cl.ch.issued;
	memcpy(au->server_nonce, cl.ch.server_nonce, sizeof(au->server_nonce));
	memcpy(au->cookie, cl.ch.cookie, sizeof(au->cookie));
	memset(au->name, 0, sizeof(au->name));
	memcpy(au->name, user, sizeof(au->name) < sizeof(user) ? sizeof(au->name) : sizeof(user));
	sl_auth_proof_v3(user_key, au, au->proof);
	/* The suite is the CHALLENGE's (its caps, echoed). */
	cl.suite = au->caps & SL_CAP_AESGCM ? SL_SUITE_AES256_GCM : SL_SUITE_CHACHA20_POLY1305;
	sl_session_keys_suite(user_key, au->server_nonce, au->client_nonce, cl.suite, cl.k_c2s,
			      cl.k_s2c);
	if (cl.n_keys < MAX_DGRAMS) {
		memcpy(cl.keys[cl.n_keys][0], cl.k_c2s, 32);
		memcpy(cl.keys[cl.n_keys][1], cl.k_s2c, 32);
		cl.suites[cl.n_keys] = cl.suite;
		cl.n_keys++;
	}
}

/* Wrap the @len bytes of frames at @p into one SEAL; returns the new length. */
static uint32_t
seal_dgram(uint8_t *p, uint32_t len, uint8_t ctl)
{
	uint32_t inner = (len + 7) & ~7u, total = SL_SEAL_HDR_LEN + inner + SL_TAG_LEN;
	static struct sl_seal_key k;

	if (total > SL_MAX_DATAGRAM || sl_seal_key_init(&k, cl.suite, cl.k_c2s) != 0)
		return len;
	memmove(p + SL_SEAL_HDR_LEN, p, len);
	memset(p + SL_SEAL_HDR_LEN + len, 0, inner - len);
	sl_seal_k(&k, SL_DIR_C2S, ++cl.seq, cl.session, !!(ctl & CTL_ENC), p, total);
	return total;
}

static void
fixup_frame(struct sl_hdr *h, uint8_t ctl)
{
	if ((ctl & CTL_PROVE) && h->type == SL_FT_AUTH && h->length >= sizeof(struct sl_auth))
		prove((struct sl_auth *)h);
}

/* A SEAL from the broker opens with the broker->client key of a proof the
 * client made (which the client then seals with); its frames parse. */
static void
on_sealed(const struct sl_frame *f)
{
	uint8_t buf[SL_MAX_DATAGRAM];
	static struct sl_seal_key k;
	struct sl_frame in;
	size_t off = SL_SEAL_HDR_LEN;
	unsigned i;

	FUZZ_CHECK(f->len <= sizeof(buf));
	memcpy(buf, f->hdr, f->len);
	for (i = 0; i < cl.n_keys; i++)
		if (sl_seal_key_init(&k, cl.suites[i], cl.keys[i][1]) == 0 &&
		    sl_seal_open_k(&k, SL_DIR_S2C, buf, f->len) == 0)
			break;
	FUZZ_CHECK(i < cl.n_keys);
	memcpy(cl.k_c2s, cl.keys[i][0], 32);
	memcpy(cl.k_s2c, cl.keys[i][1], 32);
	cl.suite = cl.suites[i];
	while (sl_proto_next(buf, f->len - SL_TAG_LEN, &off, &in) == 1)
		check_frame(&in);
}

#else /* protocol 2 */

static void
prove(struct sl_auth *au)
{
	au->h.session = cl.ch.h.session;
	sl_auth_proof(user_key, cl.ch.nonce, cl.ch.server_nonce, au->client_nonce, user,
		      au->proof);
	sl_auth_session_key(user_key, cl.ch.server_nonce, au->client_nonce, cl.k_c2s);
}

static uint32_t
seal_dgram(uint8_t *p, uint32_t len, uint8_t ctl)
{
	(void)p;
	(void)ctl;
	return len; /* per frame, in fixup_frame */
}

static void
fixup_frame(struct sl_hdr *h, uint8_t ctl)
{
	if ((ctl & CTL_PROVE) && h->type == SL_FT_AUTH && h->length >= sizeof(struct sl_auth))
		prove((struct sl_auth *)h);
	if ((ctl & CTL_SEAL) && (h->flags & SL_HDR_F_AUTH) &&
	    h->length >= sizeof(*h) + sizeof(struct sl_auth_trailer) && !(h->length & 7)) {
		h->session = cl.session;
		sl_auth_seal(cl.k_c2s, h, h->length, ++cl.seq);
	}
}

static void
on_sealed(const struct sl_frame *f)
{
	(void)f;
}

#endif

/* --- set-up ------------------------------------------------------------------------- */

static struct sl_authz *
authz_make(uint32_t required)
{
	struct sl_authz *a = calloc(1, sizeof(*a));

	FUZZ_CHECK(a != NULL);
	a->required = required;
	a->max_topics = dp.route.cap;
	a->perm = calloc((size_t)a->max_topics * SL_CNC_MAX_USERS, 1);
	FUZZ_CHECK(a->perm != NULL);
	a->users[1].active = 1;
	a->users[1].epoch = 1;
	memcpy(a->users[1].name, user, sizeof(a->users[1].name));
	memcpy(a->users[1].key, user_key, sizeof(a->users[1].key));
	return a;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (harness_eal("fuzz_handshake") != 0)
		abort();
	rx = rte_ring_create("fz_rx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx = rte_ring_create("fz_tx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	FUZZ_CHECK(rx != NULL && tx != NULL);
	FUZZ_CHECK(harness_dp(&dp, rx, tx) == 0);
	FUZZ_CHECK(harness_topic(&dp, "prices") != 0);
	authz_req = authz_make(1);
	authz_open = authz_make(0);
	return 0;
}

/* --- datagrams ----------------------------------------------------------------------- */

/* Walk the frames of @len bytes at @p by their length fields alone (the
 * parser under test may refuse them) and apply the control byte. Returns
 * the datagram's length. */
static uint32_t
fixup(uint8_t *p, uint32_t len, uint8_t ctl)
{
	uint32_t off = 0;

	while (off + sizeof(struct sl_hdr) <= len) {
		struct sl_hdr *h = (struct sl_hdr *)(p + off);

		if (h->length < sizeof(*h) || h->length > len - off)
			break;
		if (ctl & CTL_OWN)
			h->session = cl.session;
		fixup_frame(h, ctl);
		off += sl_proto_align(h->length);
	}
	return (ctl & CTL_SEAL) ? seal_dgram(p, len, ctl) : len;
}

static void
check_frame(const struct sl_frame *f)
{
	FUZZ_CHECK(f->len >= sizeof(struct sl_hdr));
	switch (f->hdr->type) {
	case SL_FT_CHALLENGE:
		memcpy(&cl.ch, f->hdr, sizeof(cl.ch));
		break;
	case SL_FT_WELCOME: {
		const struct sl_welcome *w = (const struct sl_welcome *)f->hdr;

		FUZZ_CHECK(w->session != 0 && w->session == w->h.session);
		cl.session = w->session;
		break;
	}
#ifdef FUZZ_PROTO_V3
	case SL_FT_SEAL:
		on_sealed(f);
		break;
#endif
	default:
		break;
	}
}

static void
on_reply(void *arg, const struct sl_frame *f, unsigned dgram)
{
	(void)arg;
	(void)dgram;
	check_frame(f);
}

/* Close every session and return what the main lcore was handed. */
static void
reset(void)
{
	struct sl_worker *w = dp.workers[0];
	struct sl_handoff h;
	uint32_t i;

	for (i = 0; i < w->sessions.cap; i++)
		if (w->sessions.s[i].id != 0)
			sl_worker_session_close(w, &w->sessions.s[i]);
	sl_worker_poll(w);
	(void)harness_recv(&dp, tx, 0, on_reply, NULL);
	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
		rte_pktmbuf_free(h.m);
	FUZZ_CHECK(w->sessions.n_active == 0);
	memset(&cl, 0, sizeof(cl));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[SL_MAX_DATAGRAM];
	struct sl_handoff h;
	unsigned n = 0;
	uint32_t len;
	uint8_t ctl;

	if (size < 1)
		return 0;
	dp.authz = (data[0] & 1) ? authz_req : authz_open;
	data++, size--;
	while (size >= 3 && n++ < MAX_DGRAMS) {
		ctl = data[0];
		len = (uint32_t)(data[1] | data[2] << 8);
		data += 3, size -= 3;
		if (len > size)
			len = (uint32_t)size;
		if (len > SL_MAX_DATAGRAM)
			len = SL_MAX_DATAGRAM;
		memcpy(buf, data, len);
		data += len, size -= len;
		len = fixup(buf, len, ctl);
		if (harness_send(&dp, rx, buf, len) != 0)
			break;
		FUZZ_CHECK(harness_recv(&dp, tx, 2, on_reply, NULL) >= 0);
		while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
			rte_pktmbuf_free(h.m);
	}
	reset();
	return 0;
}
