/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice session: connect, the HELLO/CHALLENGE/AUTH/WELCOME handshake, heartbeats
 * and close. */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <common/clock.h>

#include "client_internal.h"
#include "reorder.h"

uint64_t
sl_now_ns(void)
{
	return sl_mono_ns();
}

/*
 * A heartbeat is due when nothing went out for hb_ns, or when nothing came
 * in for hb_ns and none went out meanwhile: a publisher that sends without
 * asking for ACKs gets nothing back, and the broker's answer to a heartbeat
 * is what tells it the broker is alive (liveness, reconnect.c).
 */
void
sl_cl_heartbeat_maybe(struct sl_client *c, uint64_t now)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_heartbeat)) / 8];
	struct sl_heartbeat *hb = (struct sl_heartbeat *)buf;

	if (c->session == 0 || c->dead || c->rc.down)
		return;
	if (c->auth.tx_seq >= SL_SEAL_SEQ_LIMIT) {
		/* Before a nonce could repeat: a new handshake, new keys. */
		sl_cl_goodbye(c);
		sl_cl_session_lost(c, SL_E_NONE);
		return;
	}
	if (now - c->last_tx_ns < c->hb_ns &&
	    (now - c->rc.last_rx_ns < c->hb_ns || now - c->rc.last_hb_ns < c->hb_ns))
		return;
	if (c->shm.r && sl_cl_shm_broker_gone(c)) {
		/* The dataplane closed its end of the attach socket: it cut
		 * us off (the notice says why) or died without a word. */
		sl_cl_shm_end(c, sl_shm_link_notice(&c->shm));
		return;
	}
	sl_proto_hdr_init(&hb->h, SL_FT_HEARTBEAT, 0, sizeof(*hb), c->session);
	hb->timestamp = now;
	/* A heartbeat that does not go out is retried on the next poll. */
	if (sl_cl_tx_frame(c, hb, sizeof(*hb)) == 0) {
		c->rc.last_hb_ns = now;
		if (c->rc.probe_ns <= c->rc.last_rx_ns)
			c->rc.probe_ns = now;
		sl_cl_reorder_heartbeat(c);
	}
}

bool
sl_cl_handshaking(const struct pending *p)
{
	return (p->kind == PEND_HELLO || p->kind == PEND_AUTH) && !p->done;
}

/*
 * Is WELCOME @w the broker's own? After an authenticating AUTH it must say
 * SL_WELCOME_F_AUTH and have come sealed under k_s2c, which only a holder
 * of the user's key can do: a plain one would be a downgrade. Over shared
 * memory, where nothing is sealed, the flag is enough: the rings are
 * private to this process and the dataplane.
 */
static bool
welcome_verified(const struct sl_client *c, const struct sl_welcome *w)
{
	bool aes = (w->h.flags & SL_WELCOME_F_AESGCM) != 0;

	if (!c->auth.on)
		return !c->rx_sealed && !(w->h.flags & SL_WELCOME_F_AUTH) && !aes;
	/* The suite must be the one the CHALLENGE chose (and the keys were
	 * derived for): a WELCOME saying otherwise is no broker's. */
	if (aes != (c->auth.suite == SL_SUITE_AES256_GCM))
		return false;
	return (w->h.flags & SL_WELCOME_F_AUTH) && (c->rx_sealed || c->shm.r != NULL);
}

void
sl_cl_on_welcome(struct sl_client *c, const struct sl_frame *f)
{
	const struct sl_welcome *w = (const struct sl_welcome *)f->hdr;
	uint32_t hb_ms = w->heartbeat_ms ? w->heartbeat_ms : DEFAULT_HEARTBEAT_MS;

	/* Version 3: only an AUTH is answered with a WELCOME. */
	if (c->pend.kind != PEND_AUTH || c->pend.done || w->nonce != c->pend.nonce)
		return; /* a reply to someone else's HELLO, or a duplicate */
	if (!welcome_verified(c, w)) {
		/* Forged or downgraded: wait on for the broker's own WELCOME,
		 * remembering why the connect may fail. */
		c->auth.bad_welcomes++;
		return;
	}
	/* The version the CHALLENGE named, which AUTH's proof covered. */
	if (w->session == 0 || w->version != c->auth.ch.version || f->len < sizeof(*w)) {
		sl_cl_pend_finish(&c->pend, -EPROTO);
		return;
	}
	/* Shared memory needs no seal: only this process holds the rings. */
	c->auth.sealing = c->auth.on && c->shm.r == NULL;
	c->auth.enc = c->auth.sealing && (w->h.flags & SL_WELCOME_F_ENC);
	c->session = w->session;
	c->hb_ns = hb_ms * NS_PER_MS / 2;
	/* Something goes out well within the time the broker waits. */
	if (w->session_timeout_ms != 0 && c->hb_ns > w->session_timeout_ms * NS_PER_MS / 3)
		c->hb_ns = w->session_timeout_ms * NS_PER_MS / 3;
	c->st.session_timeout_ms = w->session_timeout_ms;
	c->st.authenticated = c->auth.on;
	c->st.encrypted = c->auth.enc;
	c->max_payload = SL_MAX_PAYLOAD;
	if (w->max_payload != 0 && w->max_payload < SL_MAX_PAYLOAD)
		c->max_payload = w->max_payload;
	c->prod.v2 = true;
	c->max_message = c->max_payload;
	if (w->max_message > c->max_message)
		c->max_message = w->max_message < SL_MAX_MESSAGE ? w->max_message : SL_MAX_MESSAGE;
	c->features = w->features;
	c->rc.last_rx_ns = sl_now_ns();
	sl_cl_recon_incarnation(c, w->incarnation);
	sl_cl_reorder_welcome(c, f);
	/* Asked for encryption over UDP, and the broker does not encrypt for
	 * this user (its policy is off): not what the application wanted. */
	if (c->rc.o.encrypt && c->shm.r == NULL && !c->auth.enc) {
		sl_cl_pend_finish(&c->pend, -EPROTONOSUPPORT);
		return;
	}
	sl_cl_pend_finish(&c->pend, 0);
}

void
sl_cl_on_challenge(struct sl_client *c, const struct sl_challenge *ch)
{
	/* Only an answer to our HELLO, agreeing to what it asked: a CHALLENGE
	 * without SL_CAP_AUTH would lead to an unauthenticated session. */
	if (c->pend.kind != PEND_HELLO || c->pend.done || ch->nonce != c->pend.nonce ||
	    ch->h.length < sizeof(*ch) || ch->h.session != 0 ||
	    (ch->caps & SL_CAP_AUTH) != (c->auth.caps & SL_CAP_AUTH) ||
	    (ch->caps & ~c->auth.caps) != 0)
		return;
	if (ch->version < SL_PROTO_VERSION_MIN || ch->version > SL_PROTO_VERSION) {
		sl_cl_pend_finish(&c->pend, -EPROTO);
		return;
	}
	c->auth.ch = *ch;
	sl_cl_pend_finish(&c->pend, HELLO_CHALLENGED);
}

static uint64_t
nonce_new(void)
{
	uint64_t n;

	sl_random(&n, sizeof(n));
	return n;
}

/*
 * Answer the CHALLENGE with AUTH, echoing it, with the proof of the user's
 * key when authenticating, and wait for a WELCOME that proves the broker
 * knows the key too. An AUTH left unanswered for AUTH_WAIT_NS (resent
 * meanwhile), or refused with SL_E_HANDSHAKE (the cookie went stale), starts
 * the handshake again: HANDSHAKE_RESTART. The user's key itself is not kept
 * here, only the keys of the session.
 */
static int
auth_run(struct sl_client *c, const struct sl_client_opts *o, uint64_t deadline)
{
	const struct sl_challenge *ch = &c->auth.ch;
	uint64_t wait = sl_now_ns() + AUTH_WAIT_NS;
	struct sl_auth a;
	int rc;

	memset(&a, 0, sizeof(a));
	sl_proto_hdr_init(&a.h, SL_FT_AUTH, 0, sizeof(a), 0);
	a.nonce = ch->nonce;
	a.version = ch->version;
	a.caps = ch->caps;
	a.issued = ch->issued;
	memcpy(a.server_nonce, ch->server_nonce, sizeof(a.server_nonce));
	memcpy(a.cookie, ch->cookie, sizeof(a.cookie));
	sl_random(a.client_nonce, sizeof(a.client_nonce));
	memcpy(a.name, c->auth.name, sizeof(a.name));
	if (c->auth.on) {
		uint8_t k_c2s[SL_KEY_LEN], k_s2c[SL_KEY_LEN];

		/* The suite is the CHALLENGE's: SL_CAP_AESGCM kept means the
		 * broker seals with AES-256-GCM (and the proof binds caps). */
		c->auth.suite = ch->caps & SL_CAP_AESGCM ? SL_SUITE_AES256_GCM
							 : SL_SUITE_CHACHA20_POLY1305;
		sl_auth_proof_v3(o->key, &a, a.proof);
		sl_session_keys_suite(o->key, a.server_nonce, a.client_nonce, c->auth.suite, k_c2s,
				      k_s2c);
		rc = sl_seal_key_init(&c->auth.k_c2s, c->auth.suite, k_c2s);
		if (rc == 0)
			rc = sl_seal_key_init(&c->auth.k_s2c, c->auth.suite, k_s2c);
		sl_cl_wipe(k_c2s, sizeof(k_c2s));
		sl_cl_wipe(k_s2c, sizeof(k_s2c));
		if (rc < 0) {
			sl_cl_wipe(&a, sizeof(a));
			return rc;
		}
		c->auth.keyed = true;
		c->auth.tx_seq = 0;
		memset(&c->auth.rx_win, 0, sizeof(c->auth.rx_win));
	}

	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_AUTH;
	c->pend.type = SL_FT_AUTH;
	c->pend.nonce = ch->nonce;
	/* AUTH goes unsealed: sealing starts with the verified WELCOME. */
	rc = sl_cl_request_run(c, &a, sizeof(a), wait < deadline ? wait : deadline);
	sl_cl_wipe(&a, sizeof(a));
	if (rc == -ETIMEDOUT && sl_now_ns() < deadline)
		rc = HANDSHAKE_RESTART;
	return rc;
}

/* One HELLO, padded to SL_HELLO_MIN_LEN, until its CHALLENGE. */
static int
hello_run(struct sl_client *c, uint64_t deadline)
{
	uint64_t buf[SL_HELLO_MIN_LEN / 8];
	struct sl_hello *h = (struct sl_hello *)buf;

	_Static_assert(sizeof(struct sl_hello) <= SL_HELLO_MIN_LEN, "HELLO fits its padding");
	memset(buf, 0, sizeof(buf));
	sl_proto_hdr_init(&h->h, SL_FT_HELLO, 0, SL_HELLO_MIN_LEN, 0);
	/* Every broker reads a HELLO of this header version (PROTOCOL.md 9). */
	h->h.version = SL_PROTO_HELLO_VERSION;
	/* Version 4 where the broker has it (headers, filters), else 3. */
	h->min_version = SL_PROTO_VERSION_MIN;
	h->max_version = SL_PROTO_VERSION;
	h->nonce = nonce_new();
	h->caps = c->auth.caps;
	memcpy(h->name, c->auth.name, sizeof(h->name));

	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_HELLO;
	c->pend.type = SL_FT_HELLO;
	c->pend.nonce = h->nonce;
	return sl_cl_request_run(c, h, SL_HELLO_MIN_LEN, deadline);
}

/*
 * HELLO until CHALLENGE, then AUTH until WELCOME; a stale cookie or an
 * unanswered AUTH starts again with a new HELLO. One timeout for all.
 */
int
sl_cl_handshake(struct sl_client *c)
{
	const struct sl_client_opts *o = &c->rc.o;
	uint64_t deadline = sl_now_ns() + c->timeout_ns;
	const char *name = o->name;
	int rc;

	c->auth.caps = 0;
	if (c->auth.on) {
		c->auth.caps |= SL_CAP_AUTH;
		name = o->user; /* the broker names the session after its user */
	} else if (name == NULL) {
		name = program_invocation_short_name;
	}
	if (o->encrypt)
		c->auth.caps |= SL_CAP_ENC;
	/* Offered only where it can be used: keys to seal with, over UDP
	 * (shared memory is never sealed), on a CPU with AES-NI and
	 * PCLMULQDQ. The broker keeps it in the CHALLENGE or not. */
	if (c->auth.on && o->shm == NULL && sl_crypto_aesgcm_available())
		c->auth.caps |= SL_CAP_AESGCM;
	memset(c->auth.name, 0, sizeof(c->auth.name));
	memcpy(c->auth.name, name, strnlen(name, sizeof(c->auth.name)));
	for (;;) {
		rc = hello_run(c, deadline);
		if (rc == HELLO_CHALLENGED)
			rc = auth_run(c, o, deadline);
		if (rc != HANDSHAKE_RESTART)
			break;
		c->st.handshake_restarts++;
	}
	if (rc == -EPROTONOSUPPORT && c->session != 0) {
		/* The broker opened a session we will not use: end it now. */
		sl_cl_goodbye(c);
		c->session = 0;
	}
	if (rc == -ETIMEDOUT && c->auth.bad_welcomes > 0) {
		/* Something answered, but never proved it knows the key. */
		c->st.last_error = SL_E_NONE;
		rc = -EACCES;
	}
	return rc;
}

static int
opts_check(const struct sl_client_opts *o)
{
	if (o->host == NULL && o->shm == NULL)
		return -EINVAL;
	/* Keys come from the proof of a user's key: no encryption without. */
	if (o->encrypt && o->user == NULL)
		return -EINVAL;
	if (o->user == NULL && o->key == NULL)
		return 0;
	if (o->user == NULL || o->key == NULL || !sl_auth_user_valid(o->user))
		return -EINVAL;
	return 0;
}

/* Clear secrets. Out of line: inlined into its callers, the builtin trips a
 * false -Wstringop-overflow under the sanitizers. */
__attribute__((noinline)) void
sl_cl_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

int
sl_cl_open(struct sl_client *c)
{
	const struct sl_client_opts *o = &c->rc.o;
	int rc;

	memset(&c->auth, 0, sizeof(c->auth));
	c->auth.on = o->user != NULL;
	c->session = 0;
	if (o->shm) {
		rc = c->fd = sl_shm_link_attach(&c->shm, o->shm, o->user ? o->user : o->name,
						c->timeout_ns);
	} else {
		rc = sl_cl_socket_open(c, &c->rc.sa, o);
	}
	if (rc < 0) {
		c->fd = -1;
		return rc;
	}
	rc = sl_cl_handshake(c);
	if (rc < 0)
		sl_cl_close_transport(c);
	return rc;
}

void
sl_cl_close_transport(struct sl_client *c)
{
	sl_shm_link_detach(&c->shm);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sl_cl_batch_drop(c);
	c->rx_i = c->rx_n = 0;
	sl_cl_stash_clear(c, false); /* deliveries of a session that is gone */
	c->big_rx_busy = false;
	c->claim = NULL;
}

static void
client_free(struct sl_client *c)
{
	sl_cl_wipe(&c->auth, sizeof(c->auth));
	sl_cl_recon_free(c);
	sl_cl_producer_free(c);
	sl_cl_reorder_free(c);
	sl_cl_group_free(c);
	sl_cl_parts_free(c);
	sl_cl_stash_clear(c, true);
	free(c->big);
	free(c->big_rx);
	free(c->win.slot);
	free(c);
}

/* A refusal every broker of a list would give alike: the walk stops. */
static bool
final_refusal(int rc)
{
	return rc == -EACCES || rc == -EINVAL || rc == -ENOMEM || rc == -EPROTONOSUPPORT;
}

/* Open the first session the host list allows, in its order. */
static int
open_first(struct sl_client *c)
{
	uint32_t i;
	int rc = -EINVAL;

	for (i = 0; i < c->rc.n_brokers; i++) { /* shared memory: one */
		rc = sl_cl_open(c);
		if (rc == 0 || final_refusal(rc))
			return rc;
		sl_cl_broker_next(c);
	}
	return rc;
}

int
sl_client_connect(struct sl_client **out, const struct sl_client_opts *opts)
{
	struct sockaddr_in sa[SL_MAX_BROKERS];
	struct sl_client *c;
	uint32_t n = 1;
	int rc;

	if (out == NULL || opts == NULL)
		return -EINVAL;
	if (opts->last_error != NULL)
		*opts->last_error = SL_E_NONE;
	rc = opts_check(opts);
	if (rc < 0)
		return rc;
	rc = sl_crypto_init();
	if (rc < 0)
		return rc;
	memset(sa, 0, sizeof(sa));
	if (opts->shm == NULL) {
		rc = sl_cl_brokers_resolve(opts->host,
					   opts->port ? opts->port : SL_PROTO_DEFAULT_PORT, sa, &n);
		if (rc < 0)
			return rc;
	}
	/* Everything the client will need, allocated once: bursts included (the
	 * stash grows when a request first keeps a delivery). */
	/* Aligned: the precomputed seal keys in it are (64 bytes). */
	c = aligned_alloc(_Alignof(struct sl_client), sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	rc = sl_cl_win_init(&c->win, opts);
	if (rc < 0)
		goto fail_free;
	rc = sl_cl_recon_init(c, opts, sa, n);
	if (rc < 0)
		goto fail_free;
	rc = sl_cl_reorder_init(c, opts);
	if (rc < 0)
		goto fail_free;
	rc = sl_cl_producer_init(c, opts);
	if (rc < 0)
		goto fail_free;
	c->batch.flush_ns = (uint64_t)opts->flush_us * 1000u;
	c->timeout_ns = (opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS) * NS_PER_MS;
	c->hb_ns = DEFAULT_HEARTBEAT_MS * NS_PER_MS / 2;
	rc = open_first(c);
	if (rc < 0)
		goto fail_error;
	if (opts->producer != NULL && c->prod.v2) {
		rc = sl_cl_producer_bind(c);
		if (rc < 0) {
			sl_cl_close_transport(c);
			goto fail_error;
		}
	}
	*out = c;
	return 0;

fail_error:
	if (opts->last_error != NULL)
		*opts->last_error = c->st.last_error;
fail_free:
	client_free(c);
	return rc;
}

int
sl_client_opts_credentials(struct sl_client_opts *o, const char *path, char *user_buf,
			   uint8_t *key_buf, char *err, size_t errlen)
{
	int rc;

	if (path != NULL)
		rc = sl_auth_credentials_load(path, user_buf, key_buf, err, errlen);
	else
		rc = sl_auth_credentials_env(user_buf, key_buf, err, errlen);
	if (rc == -ENOENT && path == NULL)
		return 0;
	if (rc < 0)
		return rc;
	o->user = user_buf;
	o->key = key_buf;
	return 1;
}

int
sl_client_fd(const struct sl_client *c)
{
	return c->fd;
}

int
sl_client_wait_fd(const struct sl_client *c)
{
	return c->shm.r ? c->shm.bell_fd : -1;
}

int
sl_client_arm(struct sl_client *c)
{
	if (c->dead || c->shm.r == NULL)
		return -ENOTSUP;
	/* What the library holds already is as good as a record waiting. */
	if (c->rx_i < c->rx_n || c->stash_n > 0 || sl_ro_ready(&c->ro->ro))
		return 1;
	return sl_shm_link_arm(&c->shm);
}

void
sl_client_disarm(struct sl_client *c)
{
	if (c->shm.r)
		sl_shm_link_disarm(&c->shm);
}

uint32_t
sl_client_session(const struct sl_client *c)
{
	return c->session;
}

void
sl_client_stats(const struct sl_client *c, struct sl_client_stats *out)
{
	*out = c->st;
	out->bells_rung = c->shm.bells_rung;
	out->bell_sleeps = c->shm.bell_sleeps;
}

void
sl_cl_goodbye(struct sl_client *c)
{
	struct sl_hdr h;

	sl_proto_hdr_init(&h, SL_FT_GOODBYE, 0, sizeof(h), c->session);
	(void)sl_cl_tx_frame(c, &h, sizeof(h)); /* best effort: the broker expires us anyway */
}

void
sl_client_close(struct sl_client *c)
{
	if (c == NULL)
		return;
	if (c->session != 0 && !c->dead && !c->rc.down)
		sl_cl_goodbye(c);
	sl_cl_close_transport(c);
	client_free(c);
}

int
sl_client_flush(struct sl_client *c)
{
	if (c->dead)
		return -ENOTCONN;
	if (c->rc.down)
		return -EAGAIN;
	sl_cl_group_flush(c);
	return sl_cl_flush(c);
}

