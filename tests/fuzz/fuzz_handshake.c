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
 *   bit 0 (PROVE): every AUTH frame gets the last CHALLENGE's session and a
 *                  valid proof for user "alice" (and the session key is
 *                  kept for bit 1)
 *   bit 1 (SEAL):  every frame with SL_HDR_F_AUTH gets the session's id,
 *                  a fresh trailer sequence and a valid MAC
 *   bit 2 (OWN):   every frame gets the session id of the last WELCOME
 * The cryptography lives in prove() and seal() only: a new handshake
 * replaces those two.
 * After each datagram the worker is polled and every datagram it sent must
 * be addressed to the client and parse; after the input every session is
 * closed, so that inputs do not depend on each other.
 */

#include <common/auth.h>

#include "dp_harness.h"
#include "fuzz.h"
#include "session.h"
#include "worker_internal.h"

#define MAX_DGRAMS 8
#define CTL_PROVE 0x01
#define CTL_SEAL 0x02
#define CTL_OWN 0x04

static struct sl_dp dp;
static struct rte_ring *rx, *tx;
static struct sl_authz *authz_req, *authz_open;
static const char user[SL_AUTH_USER_LEN] = "alice";
static const uint8_t user_key[SL_AUTH_KEY_LEN] = { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

/* What the client has learnt from the broker's answers. */
static struct {
	uint32_t challenge_session, session;
	uint64_t hello_nonce;
	uint8_t server_nonce[SL_AUTH_NONCE_LEN];
	uint8_t skey[SL_AUTH_SESSION_KEY_LEN];
	uint64_t seq;
} cl;

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
	memcpy(a->users[1].name, user, sizeof(user));
	memcpy(a->users[1].key, user_key, sizeof(user_key));
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

/* --- the cryptography of today's handshake ---------------------------------------- */

static void
prove(struct sl_auth *au)
{
	au->h.session = cl.challenge_session;
	sl_auth_proof(user_key, cl.hello_nonce, cl.server_nonce, au->client_nonce, user,
		      au->proof);
	sl_auth_session_key(user_key, cl.server_nonce, au->client_nonce, cl.skey);
}

static void
seal(struct sl_hdr *h)
{
	if (h->length < sizeof(*h) + sizeof(struct sl_auth_trailer) || (h->length & 7))
		return;
	h->session = cl.session;
	sl_auth_seal(cl.skey, h, h->length, ++cl.seq);
}

/* --- datagrams ----------------------------------------------------------------------- */

/* Walk the frames of @len bytes at @p by their length fields alone (the
 * parser under test may refuse them) and apply the control byte. */
static void
fixup(uint8_t *p, uint32_t len, uint8_t ctl)
{
	uint32_t off = 0;

	while (off + sizeof(struct sl_hdr) <= len) {
		struct sl_hdr *h = (struct sl_hdr *)(p + off);

		if (h->length < sizeof(*h) || h->length > len - off)
			break;
		if (ctl & CTL_OWN)
			h->session = cl.session;
		if ((ctl & CTL_PROVE) && h->type == SL_FT_AUTH && h->length >= sizeof(struct sl_auth))
			prove((struct sl_auth *)h);
		if ((ctl & CTL_SEAL) && (h->flags & SL_HDR_F_AUTH))
			seal(h);
		off += sl_proto_align(h->length);
	}
}

static void
on_reply(void *arg, const struct sl_frame *f, unsigned dgram)
{
	(void)arg;
	(void)dgram;
	FUZZ_CHECK(f->len >= sizeof(struct sl_hdr));
	switch (f->hdr->type) {
	case SL_FT_CHALLENGE: {
		const struct sl_challenge *c = (const struct sl_challenge *)f->hdr;

		cl.challenge_session = c->h.session;
		cl.hello_nonce = c->nonce;
		memcpy(cl.server_nonce, c->server_nonce, sizeof(cl.server_nonce));
		break;
	}
	case SL_FT_WELCOME: {
		const struct sl_welcome *w = (const struct sl_welcome *)f->hdr;

		FUZZ_CHECK(w->session != 0 && w->session == w->h.session);
		cl.session = w->session;
		/* Authenticated only after a proof made with the user's key. */
		if (w->h.flags & SL_WELCOME_F_AUTH)
			FUZZ_CHECK(f->trailer != NULL);
		break;
	}
	default:
		break;
	}
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
	uint16_t len;
	uint8_t ctl;

	if (size < 1)
		return 0;
	dp.authz = (data[0] & 1) ? authz_req : authz_open;
	data++, size--;
	while (size >= 3 && n++ < MAX_DGRAMS) {
		ctl = data[0];
		len = (uint16_t)(data[1] | data[2] << 8);
		data += 3, size -= 3;
		if (len > size)
			len = (uint16_t)size;
		if (len > SL_MAX_DATAGRAM)
			len = SL_MAX_DATAGRAM;
		memcpy(buf, data, len);
		data += len, size -= len;
		fixup(buf, len, ctl);
		if (harness_send(&dp, rx, buf, len) != 0)
			break;
		FUZZ_CHECK(harness_recv(&dp, tx, 2, on_reply, NULL) >= 0);
		while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
			rte_pktmbuf_free(h.m);
	}
	reset();
	return 0;
}
