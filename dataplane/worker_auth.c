/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of sessions: the stateless cookie handshake, the receive seal check, session lookup, policy and publish admission (ACL, encryption, back-pressure, rate), failure records. */

#include <errno.h>
#include <string.h>

#include <common/auth.h>
#include <common/clock.h>
#include <common/crypto.h>
#include <common/log.h>
#include <common/proto.h>

#include "large.h"
#include "topic_moved.h"
#include "tx.h"
#include "worker_internal.h"

/* The broker clock a CHALLENGE is issued by, in ms (TSC: no system call). */
static uint64_t
now_ms(const struct sl_worker *w)
{
	return w->now / (w->dp->tsc_hz / 1000);
}

/* Record an authentication failure for the main lcore's rate-limited log
 * (workers never log). Relaxed stores: the log line may mix two failures'
 * address and name, never tear a count. */
static void
auth_fail(struct sl_worker *w, enum sl_drop why, const union sl_peer *peer, const char *name)
{
	drop(w, why);
	__atomic_store_n(&w->authlog.ip, sl_peer_addr(peer), __ATOMIC_RELAXED);
	__atomic_store_n(&w->authlog.port, sl_peer_port(peer), __ATOMIC_RELAXED);
	__atomic_store_n(&w->authlog.why, (uint32_t)why, __ATOMIC_RELAXED);
	if (name)
		memcpy(w->authlog.user, name, sizeof(w->authlog.user));
	else
		memset(w->authlog.user, 0, sizeof(w->authlog.user));
	sl_ctr_add(&w->authlog.count, 1);
}

/* An answer to HELLO or AUTH that opens nothing: session 0, detail the
 * HELLO's nonce (the client matches it), never sealed. */
static void
refuse(struct sl_worker *w, const union sl_peer *peer, uint16_t code, uint8_t ftype,
       uint64_t nonce)
{
	sl_worker_reply_error(w, peer, 0, 0, code, ftype, nonce);
}

static void
welcome(struct sl_worker *w, const union sl_peer *peer, const struct sl_session *s)
{
	struct sl_welcome wl;

	sl_proto_hdr_init(&wl.h, SL_FT_WELCOME, 0, sizeof(wl), s->id);
	wl.session = s->id;
	wl.heartbeat_ms = w->dp->conf.heartbeat_ms;
	wl.nonce = s->nonce;
	wl.max_payload = SL_MAX_PAYLOAD;
	wl.version = s->version;
	wl.features = SL_FEAT_TOPIC_NAME;
	wl.incarnation = w->dp->incarnation;
	wl.max_message = sl_large_welcome_max(w->dp);
	wl.session_timeout_ms = w->dp->conf.session_timeout_ms;
	if (s->auth == SL_SESSION_AUTH_OK)
		wl.h.flags |= SL_WELCOME_F_AUTH | (s->enc ? SL_WELCOME_F_ENC : 0) |
			      (s->suite == SL_SUITE_AES256_GCM ? SL_WELCOME_F_AESGCM : 0);
	count(w, SL_CTR_welcomes);
	/* Sealed at the transmit seam for an authenticated UDP session: the
	 * client learns the broker holds the key too. */
	sl_tx_frame(w, peer, &wl, sizeof(wl));
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

static void
cookie_of(const struct sl_worker *w, const union sl_peer *peer, uint16_t version, uint32_t caps,
	  uint64_t nonce, uint64_t issued, const uint8_t sn[SL_HS_NONCE_LEN],
	  uint8_t out[SL_COOKIE_LEN])
{
	struct sl_cookie_in in;

	memset(&in, 0, sizeof(in));
	in.transport = peer->transport;
	in.ip = sl_peer_addr(peer);
	in.port = sl_peer_port(peer);
	in.version = version;
	in.caps = caps;
	in.nonce = nonce;
	in.issued = issued;
	memcpy(in.server_nonce, sn, SL_HS_NONCE_LEN);
	sl_cookie(w->dp->cookie_secret, &in, out);
}

void
sl_worker_hello(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer)
{
	const struct sl_hello *h = (const struct sl_hello *)f->hdr;
	struct sl_challenge c;
	uint16_t version;

	count(w, SL_CTR_hellos);
	if (w->dgram_hello++) {
		drop(w, SL_DROP_extra_hello); /* one answer per datagram */
		return;
	}
	version = choose_version(h);
	if (version == 0) {
		refuse_version(w, peer, h);
		return;
	}
	/* Never a longer answer than the HELLO: no amplification. */
	if (f->len < SL_HELLO_MIN_LEN) {
		drop(w, SL_DROP_hello_short);
		return;
	}
	/* Nothing is stored: everything AUTH must echo is bound by the cookie.
	 * A HELLO never touches a session, whoever's address it carries. */
	memset(&c, 0, sizeof(c));
	sl_proto_hdr_init(&c.h, SL_FT_CHALLENGE, 0, sizeof(c), 0);
	c.nonce = h->nonce;
	c.version = version;
	/* AES-256-GCM only where both can and the configuration allows it;
	 * the cookie binds the answer, so AUTH cannot change it. */
	c.caps = h->caps & (SL_CAP_AUTH | SL_CAP_ENC | (w->dp->aes_gcm ? SL_CAP_AESGCM : 0));
	c.issued = now_ms(w);
	sl_rng_bytes(&w->rng, c.server_nonce, sizeof(c.server_nonce));
	cookie_of(w, peer, c.version, c.caps, c.nonce, c.issued, c.server_nonce, c.cookie);
	count(w, SL_CTR_challenges);
	sl_tx_frame(w, peer, &c, sizeof(c));
}

/*
 * The user @a names, when its proof holds under one of the user's keys
 * (the second during a rollover): its uid, with the key in *@key. 0 when
 * not (unknown users and wrong keys look the same to the client).
 */
static uint16_t
proof_check(const struct sl_authz *a, const struct sl_auth *au, const uint8_t **key)
{
	char name[SL_AUTH_USER_LEN];
	const struct sl_authz_user *u;
	uint8_t proof[32];
	uint16_t uid;
	int ok;

	memcpy(name, au->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	uid = sl_authz_user_find(a, name);
	if (uid == 0)
		return 0;
	u = &a->users[uid];
	if (!u->active)
		return 0;
	sl_auth_proof_v3(u->key, au, proof);
	ok = sl_ct_memcmp(proof, au->proof, sizeof(proof)) == 0;
	*key = u->key;
	if (!ok && u->has_key2) {
		sl_auth_proof_v3(u->key2, au, proof);
		ok = sl_ct_memcmp(proof, au->proof, sizeof(proof)) == 0;
		*key = u->key2;
	}
	sl_wipe(proof, sizeof(proof));
	return ok ? uid : 0;
}

/*
 * Is there room for the AUTH @au at @peer, where session @s may live? A
 * resent AUTH gets its WELCOME again (returns 0 after sending it); a newer
 * handshake at least as strong replaces @s (closed here, returns 1); any
 * other is dropped (returns 0).
 */
static int
replace_ok(struct sl_worker *w, const struct sl_auth *au, const union sl_peer *peer,
	   struct sl_session *s, uint16_t uid)
{
	if (s->transport != peer->transport) {
		drop(w, SL_DROP_no_session); /* a datagram claiming a shm "address" */
		return 0;
	}
	if (s->nonce == au->nonce && s->issued == au->issued) {
		welcome(w, peer, s); /* AUTH resent after a lost WELCOME */
		return 0;
	}
	/* Replaced only by a newer handshake that proves as much: the same
	 * user over an authenticated session, anything over an open one. A
	 * replayed old AUTH (older issued) or an open AUTH cannot. */
	if (au->issued > s->issued &&
	    (s->auth == SL_SESSION_AUTH_NONE || (uid != 0 && uid == s->uid))) {
		sl_worker_session_close(w, s);
		return 1;
	}
	auth_fail(w, SL_DROP_auth_stale, peer, au->name);
	return 0;
}

/* Would the session be encrypted (1), not (0), or is it refused (-1)? */
static int
encryption(const struct sl_auth *au, const struct sl_authz_user *u)
{
	int ask = !!(au->caps & SL_CAP_ENC);

	if (!(au->caps & SL_CAP_AUTH))
		return ask ? -1 : 0; /* no keys without a proof */
	if (u->encryption == SL_CNC_ENC_REQUIRED)
		return ask ? 1 : -1;
	return ask && u->encryption != SL_CNC_ENC_OFF;
}

void
sl_worker_auth(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer)
{
	const struct sl_auth *au = (const struct sl_auth *)f->hdr;
	const struct sl_authz *a = sl_dp_authz(w->dp);
	const uint8_t *ukey = NULL;
	uint8_t cookie[SL_COOKIE_LEN], k_c2s[SL_KEY_LEN], k_s2c[SL_KEY_LEN];
	struct sl_session *s;
	uint64_t now = now_ms(w);
	uint16_t uid = 0;
	int enc, rc;

	/* 1. The cookie: this broker issued this CHALLENGE to this address,
	 * lately. Nothing before this point costs more than a hash. */
	cookie_of(w, peer, au->version, au->caps, au->nonce, au->issued, au->server_nonce, cookie);
	if (sl_ct_memcmp(cookie, au->cookie, sizeof(cookie)) != 0) {
		auth_fail(w, SL_DROP_cookie_bad, peer, NULL);
		return;
	}
	if (au->issued > now || now - au->issued > SL_COOKIE_LIFE_MS) {
		auth_fail(w, SL_DROP_cookie_stale, peer, NULL);
		refuse(w, peer, SL_E_HANDSHAKE, SL_FT_AUTH, au->nonce);
		return;
	}
	/* 2. Who: a proof under the user's key (or its second key). */
	if (au->caps & SL_CAP_AUTH) {
		uid = proof_check(a, au, &ukey);
		if (uid == 0) {
			auth_fail(w, SL_DROP_auth_failed, peer, au->name);
			refuse(w, peer, SL_E_AUTH_FAILED, SL_FT_AUTH, au->nonce);
			return;
		}
	} else if (a->required) {
		auth_fail(w, SL_DROP_auth_required, peer, NULL);
		refuse(w, peer, SL_E_AUTH_REQUIRED, SL_FT_AUTH, au->nonce);
		return;
	}
	/* 3. Encryption as the user's policy says. */
	enc = encryption(au, &a->users[uid]);
	if (enc < 0) {
		auth_fail(w, SL_DROP_encryption_required, peer, au->name);
		refuse(w, peer, SL_E_ENCRYPTION_REQUIRED, SL_FT_AUTH, au->nonce);
		return;
	}
	/* 4. The address's session, if any. */
	s = sl_session_find_addr(&w->sessions, sl_peer_addr(peer), sl_peer_port(peer));
	if (s && !replace_ok(w, au, peer, s, uid))
		return;
	/* 5. State, only now. */
	if (sl_session_open(&w->sessions, sl_peer_addr(peer), sl_peer_port(peer), &s) < 0) {
		drop(w, SL_DROP_session_table_full);
		refuse(w, peer, SL_E_SESSION_TABLE_FULL, SL_FT_AUTH, au->nonce);
		return;
	}
	s->nonce = au->nonce;
	s->issued = au->issued;
	s->version = (uint8_t)au->version;
	s->transport = peer->transport;
	s->last_seen = w->now;
	memcpy(s->name, au->name, sizeof(s->name));
	s->name[sizeof(s->name) - 1] = '\0';
	s->uid = uid;
	/* The serial of the key it proved: retiring that key ends it. */
	s->user_epoch = uid && ukey == a->users[uid].key2 ? a->users[uid].epoch2
							    : a->users[uid].epoch;
	s->auth = uid ? SL_SESSION_AUTH_OK : SL_SESSION_AUTH_NONE;
	if (uid) {
		s->enc = (uint8_t)enc;
		/* The cookie held: these caps are the CHALLENGE's, and
		 * SL_CAP_AESGCM in them is the broker's own choice. */
		s->suite = au->caps & SL_CAP_AESGCM ? SL_SUITE_AES256_GCM
						    : SL_SUITE_CHACHA20_POLY1305;
		memset(&s->rw, 0, sizeof(s->rw));
		/* Shared memory is never sealed: the rings are the client's. */
		if (peer->transport == SL_TRANSPORT_UDP) {
			sl_session_keys_suite(ukey, au->server_nonce, au->client_nonce, s->suite,
					      k_c2s, k_s2c);
			rc = sl_session_keys_set(&w->sessions, s, s->suite, k_c2s, k_s2c, s->enc);
			sl_wipe(k_c2s, sizeof(k_c2s));
			sl_wipe(k_s2c, sizeof(k_s2c));
			if (unlikely(rc < 0)) {
				/* Not reached: the CHALLENGE offered only what
				 * this broker can seal with. */
				sl_session_close(&w->sessions, s);
				auth_fail(w, SL_DROP_seal_no_keys, peer, au->name);
				refuse(w, peer, SL_E_HANDSHAKE, SL_FT_AUTH, au->nonce);
				return;
			}
			if (s->suite == SL_SUITE_AES256_GCM)
				count(w, SL_CTR_auth_aesgcm);
		}
		count(w, SL_CTR_auth_ok);
	}
	count(w, SL_CTR_sessions_opened);
	welcome(w, peer, s);
}

int
sl_worker_seal_open(struct sl_worker *w, uint8_t *data, uint32_t len, const union sl_peer *peer,
		    struct sl_session **out)
{
	const struct sl_seal *sh = (const struct sl_seal *)data;
	struct sl_session *s;

	*out = NULL;
	s = sl_session_get(&w->sessions, sh->h.session, sl_peer_addr(peer), sl_peer_port(peer));
	if (s == NULL || s->transport != peer->transport) {
		drop(w, SL_DROP_no_session);
		return -1;
	}
	if (s->auth != SL_SESSION_AUTH_OK || peer->transport != SL_TRANSPORT_UDP) {
		/* No keys: v3 has no per-frame trailer to strip, so a SEAL
		 * to an open session is nothing it can read. */
		drop(w, SL_DROP_seal_no_keys);
		return -1;
	}
	/* Verify before anything else: a forged datagram must not even
	 * refresh the session. Then the window (a replay verifies too). */
	if (unlikely(sl_seal_open_k(sl_session_rx_key(&w->sessions, s), SL_DIR_C2S, data, len) !=
		     0)) {
		auth_fail(w, SL_DROP_bad_mac, peer, s->name);
		return -1;
	}
	if (unlikely(sl_replay_check(&s->rw, sh->seq) < 0)) {
		auth_fail(w, SL_DROP_mac_replay, peer, s->name);
		return -1;
	}
	*out = s;
	return 0;
}

/*
 * Every frame of a session: an authenticated UDP session takes only frames
 * from a datagram sealed under its key, then the user must still exist
 * with the same key. Returns 0, or -1 after dropping and counting the
 * frame (and ending the session when the user is gone).
 */
int
sl_worker_frame_check(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer,
		      struct sl_session *s)
{
	const struct sl_authz *a;

	if (likely(s->auth == SL_SESSION_AUTH_OK)) {
		if (unlikely(s->transport == SL_TRANSPORT_UDP && w->dgram_sealed != s)) {
			drop(w, SL_DROP_mac_missing);
			return -1;
		}
		a = sl_dp_authz(w->dp);
		if (unlikely(!sl_authz_user_holds(&a->users[s->uid], s->user_epoch))) {
			drop(w, SL_DROP_user_revoked);
			sl_worker_reply_error(w, peer, s->id, 0, SL_E_AUTH_FAILED, f->hdr->type, 0);
			sl_worker_session_close(w, s);
			return -1;
		}
		return 0;
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

/* Does topic @t refuse session @sess, an unencrypted UDP session, because
 * its policy requires encryption (PROTOCOL.md 13)? Shared memory is
 * private to the client's process: never refused. */
int
sl_worker_enc_refused(struct sl_worker *w, const struct sl_topic *t, const union sl_peer *peer,
	    const struct sl_session *sess)
{
	/* Relaxed: the main lcore's sluicectl change is seen eventually. */
	uint8_t enc = __atomic_load_n(&sl_route_state(&w->dp->route, t->id)->enc,
				      __ATOMIC_RELAXED);

	if (likely(enc != SL_CNC_ENC_REQUIRED) || peer->transport != SL_TRANSPORT_UDP || sess->enc)
		return 0;
	drop(w, SL_DROP_encryption_required);
	return 1;
}

/*
 * The fields an ERROR answering frame @f carries (PROTOCOL.md 5.12): the
 * request's req_id, and as detail a PUBLISH's producer_seq or a
 * SUBSCRIBE's topic id.
 */
static void
error_fields(const struct sl_frame *f, uint32_t *req_id, uint64_t *detail)
{
	const uint8_t *p = (const uint8_t *)f->hdr;

	*req_id = 0;
	*detail = 0;
	switch (f->hdr->type) {
	case SL_FT_PUBLISH:
	case SL_FT_PUBLISH_FRAG: /* producer_seq at 24 in both */
		memcpy(detail, p + offsetof(struct sl_publish, producer_seq), 8);
		break;
	case SL_FT_SUBSCRIBE:
	case SL_FT_UNSUBSCRIBE:
		*req_id = ((const struct sl_subscribe *)p)->req_id;
		*detail = ((const struct sl_subscribe *)p)->topic_id;
		break;
	case SL_FT_RESOLVE:
	case SL_FT_PSUBSCRIBE:
	case SL_FT_PUNSUBSCRIBE:
		*req_id = ((const struct sl_resolve *)p)->req_id;
		break;
	case SL_FT_PRODUCER:
		*req_id = ((const struct sl_producer *)p)->req_id;
		break;
	default:
		break;
	}
}

/* Every frame but HELLO and AUTH needs a live session that matches its source. */
struct sl_session *
sl_worker_frame_session(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer,
	      struct sl_session *cached)
{
	struct sl_session *s = cached;

	if (s == NULL || s->id != f->hdr->session)
		s = sl_session_get(&w->sessions, f->hdr->session, sl_peer_addr(peer),
				   sl_peer_port(peer));
	/* A datagram never reaches a shared-memory session, nor the reverse,
	 * whatever address it claims. */
	if (s && s->transport != peer->transport)
		s = NULL;
	if (unlikely(s == NULL)) {
		drop(w, SL_DROP_no_session);
		if (f->hdr->type != SL_FT_GOODBYE && !w->dgram_error) {
			uint32_t req_id;
			uint64_t detail;

			w->dgram_error = 1;
			error_fields(f, &req_id, &detail);
			sl_worker_reply_error(w, peer, f->hdr->session, req_id, SL_E_NO_SESSION,
					      f->hdr->type, detail);
		}
		return NULL;
	}
	return s;
}

unsigned
sl_worker_auth_log_poll(struct sl_dp *dp)
{
	static uint64_t seen[SL_CONF_MAX_WORKERS], next_ns;
	uint64_t now = sl_mono_ns();
	unsigned i;

	if (now < next_ns)
		return 0;
	next_ns = now + 1000000000ull; /* at most one line a second */
	for (i = 0; i < dp->n_workers; i++) {
		struct sl_worker *w = dp->workers[i];
		uint64_t n;
		uint32_t ip, why;
		char user[SL_AUTH_USER_LEN];
		const uint8_t *b;

		if (w == NULL)
			continue;
		n = sl_ctr_read(&w->authlog.count);
		if (n == seen[i])
			continue;
		ip = __atomic_load_n(&w->authlog.ip, __ATOMIC_RELAXED);
		why = __atomic_load_n(&w->authlog.why, __ATOMIC_RELAXED);
		memcpy(user, w->authlog.user, sizeof(user));
		user[sizeof(user) - 1] = '\0';
		b = (const uint8_t *)&ip;
		SL_LOG(WARNING, "worker %u: %llu authentication failure(s) in the last second; "
				"last: %s from %u.%u.%u.%u port %u, user '%s'\n",
		       i, (unsigned long long)(n - seen[i]),
		       why < SL_DROP_MAX ? sl_drop_names[why] : "?", b[0], b[1], b[2], b[3],
		       (unsigned)__builtin_bswap16(__atomic_load_n(&w->authlog.port,
								   __ATOMIC_RELAXED)),
		       user);
		seen[i] = n;
	}
	return 0;
}

/*
 * Publish rate limit per session, GCRA (a token bucket in one word): a
 * publish is allowed unless its theoretical arrival time runs more than the
 * burst (a tenth of a second's worth, at least one) ahead of now.
 */
static int
rate_exceeded(struct sl_worker *w, struct sl_session *s, uint32_t limit)
{
	uint64_t t = w->dp->tsc_hz / limit, burst = limit / 10 ? limit / 10 : 1;
	uint64_t tat = s->rate_tat > w->now ? s->rate_tat : w->now;

	if (tat - w->now > (burst - 1) * t)
		return 1;
	s->rate_tat = tat + t;
	return 0;
}

/* May session @sess publish @p (from @peer) now? Returns its topic, or NULL
 * after refusing it with an ERROR of frame type @type. */
const struct sl_topic *
sl_worker_publish_admit(struct sl_worker *w, const struct sl_publish *p, uint8_t type,
			const union sl_peer *peer, struct sl_session *sess)
{
	uint32_t limit = __atomic_load_n(&w->dp->conf.rate_limit, __ATOMIC_RELAXED);
	const struct sl_authz *a = sl_dp_authz(w->dp);
	const struct sl_topic *t = sl_route_topic_get(&w->dp->route, p->topic_id);
	uint16_t code;

	/* v4: a header block, well-formed and without the broker's names. */
	if (unlikely(p->h.flags & SL_PUB_F_HDRS) &&
	    (code = sl_worker_hdrs_check(p, sess->version)) != SL_E_NONE) {
		if (code == SL_E_VERSION)
			drop(w, SL_DROP_bad_version);
		else
			count(w, SL_CTR_bad_headers);
		sl_worker_reply_error(w, peer, p->h.session, 0, code, type,
				      code == SL_E_VERSION ? SL_PROTO_V4 : p->producer_seq);
		return NULL;
	}
	if (unlikely(t == NULL)) {
		drop(w, SL_DROP_unknown_topic);
		sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_UNKNOWN_TOPIC, type,
			    p->producer_seq);
		return NULL;
	}
	if (unlikely(!(sl_authz_perms(a, sess->uid, t) & SL_PERM_PUB))) {
		drop(w, SL_DROP_denied);
		sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_DENIED, type,
				      p->producer_seq);
		return NULL;
	}
	if (unlikely(sl_worker_enc_refused(w, t, peer, sess))) {
		sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_ENCRYPTION_REQUIRED, type,
				      t->id);
		return NULL;
	}
	if (unlikely(sl_worker_moved(w, t->id, peer, p->h.session, 0, type, p->producer_seq)))
		return NULL; /* another pair owns it now */
	/* A partitioned name takes no messages: its partitions do. Same
	 * cache line as enc, just read. */
	if (unlikely(sl_route_state(&w->dp->route, t->id)->parts)) {
		drop(w, SL_DROP_unknown_topic);
		sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_PARTITIONED, type,
				      p->producer_seq);
		return NULL;
	}
	/* A topic holding messages back (policy block) refuses UDP
	 * publishers; a shared-memory publisher's frames that got this
	 * far join the held ones at the owner (the ring reader stops
	 * taking more), so none is lost. */
	if (unlikely(peer->transport == SL_TRANSPORT_UDP &&
		     __atomic_load_n(&sl_route_state(&w->dp->route, t->id)->bp_held,
				     __ATOMIC_RELAXED))) {
		drop(w, SL_DROP_backpressure);
		sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_BACKPRESSURE, type,
				      p->producer_seq);
		return NULL;
	}
	if (limit && rate_exceeded(w, sess, limit)) {
		drop(w, SL_DROP_rate_limited);
		sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_RATE_LIMITED, type,
				      p->producer_seq);
		return NULL;
	}
	return t;
}
