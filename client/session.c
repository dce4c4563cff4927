/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice session: connect, the HELLO/CHALLENGE/AUTH/WELCOME handshake, sealing,
 * heartbeats and close. */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include <common/clock.h>

#include "client_internal.h"
#include "reorder.h"

uint64_t
sl_now_ns(void)
{
	return sl_mono_ns();
}

/*
 * Once the session is authenticated, seal @frame (@len bytes, with room for
 * FRAME_ROOM(len)) with the next trailer seq, in place. A resend is sealed
 * again, so it gets a new seq and is no replay. Returns the length to send.
 */
size_t
sl_cl_seal(struct sl_client *c, void *frame, size_t len)
{
	/* Version 3 seals whole datagrams (PROTOCOL.md section 3), which
	 * this library does not do yet: it never reaches a sealed session. */
	(void)c;
	(void)frame;
	return len;
}

/* Send one frame of @len bytes, sealed when the session is authenticated;
 * publishes batched before it go first. */
int
sl_cl_tx_frame(struct sl_client *c, void *frame, size_t len)
{
	(void)sl_cl_flush(c);
	return sl_cl_tx(c, frame, sl_cl_seal(c, frame, len));
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
 * Does the WELCOME @f prove that the broker knows the user's key? Only after
 * AUTH, with SL_WELCOME_F_AUTH and a trailer whose MAC holds under the
 * session key; a plain WELCOME to a client that asked to authenticate would
 * be a downgrade.
 */
static bool
welcome_verified(const struct sl_client *c, const struct sl_frame *f)
{
	/* A version 3 WELCOME to an authenticated session arrives sealed,
	 * which this library does not open yet: none is verified. */
	(void)c;
	(void)f;
	return false;
}

void
sl_cl_on_welcome(struct sl_client *c, const struct sl_frame *f)
{
	const struct sl_welcome *w = (const struct sl_welcome *)f->hdr;
	uint32_t hb_ms = w->heartbeat_ms ? w->heartbeat_ms : DEFAULT_HEARTBEAT_MS;

	if (!sl_cl_handshaking(&c->pend) || w->nonce != c->pend.nonce)
		return; /* a reply to someone else's HELLO, or a duplicate */
	if (c->auth.on && !welcome_verified(c, f)) {
		/* Forged or downgraded: wait on for the broker's own WELCOME,
		 * remembering why the connect may fail. */
		c->auth.bad_welcomes++;
		return;
	}
	if (w->session == 0 || w->version != SL_PROTO_VERSION) {
		sl_cl_pend_finish(&c->pend, -EPROTO);
		return;
	}
	/* Shared memory needs no MAC: only this process holds the rings. */
	c->auth.sealing = c->auth.on && c->shm.r == NULL;
	c->session = w->session;
	c->hb_ns = hb_ms * NS_PER_MS / 2;
	c->max_payload = SL_MAX_PAYLOAD;
	if (w->max_payload != 0 && w->max_payload < SL_MAX_PAYLOAD)
		c->max_payload = w->max_payload;
	/* Version 1 WELCOMEs end before version, incarnation and max_message. */
	c->prod.v2 = f->len >= sizeof(*w) && w->version >= 2;
	c->max_message = c->max_payload;
	if (c->prod.v2 && w->max_message > c->max_message)
		c->max_message = w->max_message < SL_MAX_MESSAGE ? w->max_message : SL_MAX_MESSAGE;
	c->rc.last_rx_ns = sl_now_ns();
	if (c->prod.v2)
		sl_cl_recon_incarnation(c, w->incarnation);
	sl_cl_reorder_welcome(c, f);
	sl_cl_pend_finish(&c->pend, 0);
}

void
sl_cl_on_challenge(struct sl_client *c, const struct sl_challenge *ch)
{
	/* Only an answer to our HELLO, and only when we asked to authenticate. */
	if (!c->auth.on || c->pend.kind != PEND_HELLO || c->pend.done ||
	    ch->nonce != c->pend.nonce || ch->h.session == 0)
		return;
	c->auth.pending = ch->h.session;
	memcpy(c->auth.server_nonce, ch->server_nonce, sizeof(c->auth.server_nonce));
	sl_cl_pend_finish(&c->pend, HELLO_CHALLENGED);
}

static uint64_t
nonce_new(void)
{
	uint64_t n;

	if (getrandom(&n, sizeof(n), GRND_NONBLOCK) == (ssize_t)sizeof(n))
		return n;
	/* Only has to tell this client's WELCOME from another's. */
	return sl_now_ns() ^ ((uint64_t)getpid() << 32);
}

/*
 * Prove the user's key (AUTH) after a CHALLENGE and wait for a WELCOME that
 * proves the broker knows it too. Only the session key is kept.
 */
static int
auth_run(struct sl_client *c, const struct sl_client_opts *o, uint64_t nonce,
	 uint64_t deadline)
{
	char user[SL_AUTH_USER_LEN] = { 0 };
	struct sl_auth a;
	ssize_t n;
	int rc;

	memset(&a, 0, sizeof(a));
	sl_proto_hdr_init(&a.h, SL_FT_AUTH, 0, sizeof(a), c->auth.pending);
	/* Blocks only before the kernel's pool is first seeded, early in boot. */
	n = getrandom(a.client_nonce, sizeof(a.client_nonce), 0);
	if (n != (ssize_t)sizeof(a.client_nonce))
		return n < 0 ? -errno : -EIO;
	memcpy(user, o->user, strlen(o->user));
	memcpy(a.name, user, sizeof(a.name));
	a.nonce = nonce;
	memcpy(a.server_nonce, c->auth.server_nonce, sizeof(a.server_nonce));
	sl_auth_proof_v3(o->key, &a, a.proof);
	sl_session_keys(o->key, c->auth.server_nonce, a.client_nonce, c->auth.skey,
			c->auth.skey);

	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_AUTH;
	c->pend.type = SL_FT_AUTH;
	c->pend.nonce = nonce;
	/* AUTH carries no trailer: sealing starts with the verified WELCOME. */
	rc = sl_cl_request_run(c, &a, sizeof(a), deadline);
	explicit_bzero(&a, sizeof(a));
	return rc;
}

/*
 * HELLO until WELCOME, or with credentials HELLO until CHALLENGE then AUTH
 * until WELCOME; both phases share one timeout.
 */
int
sl_cl_handshake(struct sl_client *c)
{
	const struct sl_client_opts *o = &c->rc.o;
	uint64_t deadline = sl_now_ns() + c->timeout_ns;
	const char *name = o->name;
	struct sl_hello h;
	int rc;

	memset(&h, 0, sizeof(h));
	sl_proto_hdr_init(&h.h, SL_FT_HELLO, 0, sizeof(h), 0);
	/* Every broker reads a HELLO of this header version (PROTOCOL.md 9). */
	h.h.version = SL_PROTO_HELLO_VERSION;
	h.min_version = SL_PROTO_VERSION;
	h.max_version = SL_PROTO_VERSION;
	h.nonce = nonce_new();
	if (c->auth.on) {
		h.caps = SL_CAP_AUTH;
		name = o->user; /* the broker names the session after its user */
	} else if (name == NULL) {
		name = program_invocation_short_name;
	}
	memcpy(h.name, name, strnlen(name, sizeof(h.name)));

	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_HELLO;
	c->pend.type = SL_FT_HELLO;
	c->pend.nonce = h.nonce;
	rc = sl_cl_request_run(c, &h, sizeof(h), deadline);
	if (rc == HELLO_CHALLENGED)
		rc = auth_run(c, o, h.nonce, deadline);
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
	c->stash_n = 0; /* deliveries of a session that is gone */
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
	free(c->big);
	free(c->big_rx);
	free(c->win.slot);
	free(c);
}

int
sl_client_connect(struct sl_client **out, const struct sl_client_opts *opts)
{
	struct sockaddr_in sa;
	struct sl_client *c;
	int rc;

	if (out == NULL || opts == NULL)
		return -EINVAL;
	if (opts->last_error != NULL)
		*opts->last_error = SL_E_NONE;
	rc = opts_check(opts);
	if (rc < 0)
		return rc;
	memset(&sa, 0, sizeof(sa));
	if (opts->shm == NULL) {
		rc = sl_cl_resolve_host(opts->host, opts->port ? opts->port : SL_PROTO_DEFAULT_PORT, &sa);
		if (rc < 0)
			return rc;
	}
	/* Everything the client will need, allocated once: stash and bursts included. */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	rc = sl_cl_win_init(&c->win, opts);
	if (rc < 0)
		goto fail_free;
	rc = sl_cl_recon_init(c, opts, &sa);
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
	rc = sl_cl_open(c);
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

uint32_t
sl_client_session(const struct sl_client *c)
{
	return c->session;
}

void
sl_client_stats(const struct sl_client *c, struct sl_client_stats *out)
{
	*out = c->st;
}

void
sl_client_close(struct sl_client *c)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_hdr)) / 8];
	struct sl_hdr *h = (struct sl_hdr *)buf;

	if (c == NULL)
		return;
	if (c->session != 0 && !c->dead && !c->rc.down) {
		sl_proto_hdr_init(h, SL_FT_GOODBYE, 0, sizeof(*h), c->session);
		(void)sl_cl_tx_frame(c, h, sizeof(*h)); /* best effort: the broker expires us anyway */
	}
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
	return sl_cl_flush(c);
}

