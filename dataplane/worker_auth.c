/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of sessions: HELLO, challenge-response, per-frame MAC and replay checks. */

#include <errno.h>
#include <string.h>

#include <rte_random.h>

#include <common/auth.h>
#include <common/crypto.h>
#include <common/proto.h>

#include "large.h"
#include "tx.h"
#include "worker_internal.h"

static void
welcome(struct sl_worker *w, const union sl_peer *peer, const struct sl_session *s)
{
	/* Room for the seal when the session is authenticated. */
	uint64_t buf[(sizeof(struct sl_welcome) + SL_SEAL_OVERHEAD) / 8];
	struct sl_welcome *wl = (struct sl_welcome *)((uint8_t *)buf + SL_SEAL_HDR_LEN);
	uint32_t len = sizeof(*wl);

	sl_proto_hdr_init(&wl->h, SL_FT_WELCOME, 0, len, s->id);
	wl->session = s->id;
	wl->heartbeat_ms = w->dp->conf.heartbeat_ms;
	wl->nonce = s->nonce;
	wl->max_payload = SL_MAX_PAYLOAD;
	wl->version = s->version;
	wl->reserved = 0;
	wl->incarnation = w->dp->incarnation;
	wl->max_message = sl_large_welcome_max(w->dp);
	wl->session_timeout_ms = 0;
	count(w, SL_CTR_welcomes);
	if (s->auth == SL_SESSION_AUTH_OK) {
		/* Sealed under the session key: the client learns the broker
		 * knows the user's key too (mutual authentication). */
		wl->h.flags |= SL_WELCOME_F_AUTH;
		len += SL_SEAL_OVERHEAD;
		sl_seal(s->k_s2c, SL_DIR_S2C, 1, s->id, 0, buf, len);
		sl_tx_frame(w, peer, buf, len);
		return;
	}
	sl_tx_frame(w, peer, wl, len);
}

static void
challenge(struct sl_worker *w, const union sl_peer *peer, const struct sl_session *s)
{
	struct sl_challenge c;

	memset(&c, 0, sizeof(c));
	sl_proto_hdr_init(&c.h, SL_FT_CHALLENGE, 0, sizeof(c), s->id);
	c.nonce = s->nonce;
	memcpy(c.server_nonce, s->server_nonce, sizeof(c.server_nonce));
	count(w, SL_CTR_challenges);
	sl_tx_frame(w, peer, &c, sizeof(c));
}

/* A new session for HELLO @h from @peer, or NULL after answering why not. */
static struct sl_session *
open_session(struct sl_worker *w, const struct sl_hello *h, const union sl_peer *peer)
{
	const struct sl_authz *a = sl_dp_authz(w->dp);
	struct sl_session *s;
	uint64_t r;

	if (sl_session_open(&w->sessions, sl_peer_addr(peer), sl_peer_port(peer), &s) < 0) {
		drop(w, SL_DROP_session_table_full);
		sl_worker_reply_error(w, peer, 0, 0, SL_E_SESSION_TABLE_FULL, SL_FT_HELLO, h->nonce);
		return NULL;
	}
	s->nonce = h->nonce;
	s->transport = peer->transport;
	memcpy(s->name, h->name, sizeof(s->name));
	s->name[sizeof(s->name) - 1] = '\0';
	if (h->caps & SL_CAP_AUTH) {
		/* An unknown user still gets a challenge: the answer to AUTH is
		 * the first that says "no", so names cannot be probed. */
		s->auth = SL_SESSION_AUTH_PENDING;
		s->uid = sl_authz_user_find(a, h->name);
		s->user_epoch = a->users[s->uid].epoch;
		r = rte_rand();
		memcpy(s->server_nonce, &r, 8);
		r = rte_rand();
		memcpy(s->server_nonce + 8, &r, 8);
	}
	count(w, SL_CTR_sessions_opened);
	return s;
}

/*
 * The version for a session: the highest both sides speak, or 0 when they
 * share none (PROTOCOL.md section 9).
 */
static uint16_t
choose_version(const struct sl_hello *h)
{
	uint16_t hi = h->max_version < SL_PROTO_VERSION ? h->max_version : SL_PROTO_VERSION;
	uint16_t lo = h->min_version > SL_PROTO_VERSION_MIN ? h->min_version : SL_PROTO_VERSION_MIN;

	return hi >= lo ? hi : 0;
}

/* ERROR SL_E_VERSION to a HELLO: in header version SL_PROTO_HELLO_VERSION,
 * the one every client reads whatever else it speaks. */
static void
refuse_version(struct sl_worker *w, const union sl_peer *peer, const struct sl_hello *h)
{
	struct sl_error e;

	sl_proto_hdr_init(&e.h, SL_FT_ERROR, 0, sizeof(e), 0);
	e.h.version = SL_PROTO_HELLO_VERSION;
	e.req_id = 0;
	e.code = SL_E_VERSION;
	e.frame_type = SL_FT_HELLO;
	e.detail = h->nonce;
	count(w, SL_CTR_version_refused);
	count(w, SL_CTR_errors_sent);
	sl_tx_frame(w, peer, &e, sizeof(e));
}

void
sl_worker_hello(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer)
{
	const struct sl_hello *h = (const struct sl_hello *)f->hdr;
	struct sl_session *s;
	uint16_t version;

	count(w, SL_CTR_hellos);
	if (w->dgram_hello++) {
		drop(w, SL_DROP_extra_hello); /* one session per datagram */
		return;
	}
	version = choose_version(h);
	if (version == 0) {
		refuse_version(w, peer, h);
		return;
	}
	if (!(h->caps & SL_CAP_AUTH) && sl_dp_authz(w->dp)->required) {
		drop(w, SL_DROP_auth_required);
		sl_worker_reply_error(w, peer, 0, 0, SL_E_AUTH_REQUIRED, SL_FT_HELLO, h->nonce);
		return;
	}
	s = sl_session_find_addr(&w->sessions, sl_peer_addr(peer), sl_peer_port(peer));
	if (s && s->transport != peer->transport) {
		/* A datagram claiming a shared-memory client's "address". */
		drop(w, SL_DROP_no_session);
		return;
	}
	if (s && s->nonce != h->nonce) {
		/* Same address, new client instance: the old session is over. */
		sl_worker_session_close(w, s);
		s = NULL;
	}
	if (s == NULL && (s = open_session(w, h, peer)) == NULL)
		return;
	s->version = (uint8_t)version;
	s->last_seen = w->now;
	/* A resent HELLO gets the same answer as the first. */
	if (s->auth == SL_SESSION_AUTH_PENDING)
		challenge(w, peer, s);
	else
		welcome(w, peer, s);
}

void
sl_worker_auth(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer,
	       struct sl_session *s)
{
	const struct sl_auth *au = (const struct sl_auth *)f->hdr;
	const struct sl_authz *a = sl_dp_authz(w->dp);
	const struct sl_authz_user *u = &a->users[s->uid];
	uint8_t proof[32];

	if (s->auth == SL_SESSION_AUTH_OK) {
		welcome(w, peer, s); /* AUTH resent after a lost WELCOME */
		return;
	}
	if (s->auth != SL_SESSION_AUTH_PENDING || s->uid == 0 || !u->active ||
	    u->epoch != s->user_epoch)
		goto fail;
	if (sl_ct_memcmp(au->server_nonce, s->server_nonce, sizeof(s->server_nonce)) != 0)
		goto fail;
	sl_auth_proof_v3(u->key, au, proof);
	if (sl_ct_memcmp(proof, au->proof, sizeof(proof)) != 0)
		goto fail;
	sl_session_keys(u->key, s->server_nonce, au->client_nonce, s->k_c2s, s->k_s2c);
	memset(&s->rw, 0, sizeof(s->rw));
	s->auth = SL_SESSION_AUTH_OK;
	count(w, SL_CTR_auth_ok);
	welcome(w, peer, s);
	return;
fail:
	drop(w, SL_DROP_auth_failed);
	sl_worker_reply_error(w, peer, s->id, 0, SL_E_AUTH_FAILED, SL_FT_AUTH, s->nonce);
	sl_worker_session_close(w, s);
}

/*
 * Every frame of an authenticated session: MAC first (a forged frame must
 * not even refresh the session), then the replay window, then that the user
 * still exists with the same key. Returns 0, or -1 after dropping and
 * counting the frame (and ending the session when the user is gone).
 */
int
sl_worker_frame_check(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer,
		      struct sl_session *s)
{
	const struct sl_authz *a;

	if (likely(s->auth == SL_SESSION_AUTH_OK)) {
		/* Shared memory needs no MAC: the rings are memory only this
		 * client's process holds (the session proved who it is). */
		if (s->transport == SL_TRANSPORT_SHM)
			goto user;
		/* Version 3 seals whole datagrams; a bare frame is unsealed. */
		drop(w, SL_DROP_mac_missing);
		return -1;
user:
		a = sl_dp_authz(w->dp);
		if (unlikely(!a->users[s->uid].active || a->users[s->uid].epoch != s->user_epoch)) {
			drop(w, SL_DROP_user_revoked);
			sl_worker_reply_error(w, peer, s->id, 0, SL_E_AUTH_FAILED, f->hdr->type, 0);
			sl_worker_session_close(w, s);
			return -1;
		}
		return 0;
	}
	if (s->auth == SL_SESSION_AUTH_PENDING) {
		drop(w, SL_DROP_auth_required); /* only AUTH is expected now */
		return -1;
	}
	if (unlikely(sl_dp_authz(w->dp)->required)) {
		/* Opened in open mode; authentication is required now. */
		drop(w, SL_DROP_auth_required);
		sl_worker_reply_error(w, peer, s->id, 0, SL_E_AUTH_REQUIRED, f->hdr->type, 0);
		sl_worker_session_close(w, s);
		return -1;
	}
	return 0;
}
