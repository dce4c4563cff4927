/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice receiving: deliveries through the reorder buffer (NAK, CREDIT, STATUS, gap events), the broker's control frames, poll and wait. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <common/hdrs.h>

#include "client_internal.h"
#include "reorder.h"

/* ---- the reorder buffer's hands on the client */

/* NAK and CREDIT share their layout up to CREDIT's end: topic, then limit
 * or first; NAK adds last. */
_Static_assert(offsetof(struct sl_credit, limit) == offsetof(struct sl_nak, first),
	       "CREDIT is NAK cut after first");

static int
tx_topic_frame(struct sl_client *c, uint8_t type, uint32_t topic, uint64_t a, uint64_t b)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_nak)) / 8];
	struct sl_nak *k = (struct sl_nak *)buf;
	size_t len = type == SL_FT_NAK ? sizeof(struct sl_nak) : sizeof(struct sl_credit);

	if (c->session == 0 || c->dead || c->rc.down)
		return -ENOTCONN;
	sl_proto_hdr_init(&k->h, type, 0, (uint32_t)len, c->session);
	k->topic_id = sl_cl_topic_to_broker(c, topic);
	k->reserved = 0;
	k->first = a;
	k->last = b;
	return sl_cl_tx_frame(c, k, len);
}

static int
ro_nak(void *arg, uint32_t topic, uint64_t first, uint64_t last)
{
	return tx_topic_frame(arg, SL_FT_NAK, topic, first, last);
}

static int
ro_credit(void *arg, uint32_t topic, uint64_t limit)
{
	return tx_topic_frame(arg, SL_FT_CREDIT, topic, limit, 0);
}

static void
ro_event(void *arg, const struct sl_event *ev)
{
	sl_cl_event(arg, ev->type, ev->topic_id, ev->first, ev->last, ev->error);
}

int
sl_cl_reorder_init(struct sl_client *c, const struct sl_client_opts *o)
{
	const struct sl_ro_ops ops = {
		.nak = ro_nak, .credit = ro_credit, .event = ro_event, .arg = c,
	};
	struct sl_ro_conf conf = {
		.window = o->reorder_window,
		.slot_bytes = SL_MAX_PAYLOAD,
		.max_message = SL_MAX_MESSAGE_DEFAULT,
		.nak_delay_ns = (o->nak_delay_us ? o->nak_delay_us : SL_CL_NAK_DELAY_US) * 1000ull,
		.nak_retry_ns = (o->nak_retry_ms ? o->nak_retry_ms : SL_CL_NAK_RETRY_MS) * NS_PER_MS,
		.gap_timeout_ns =
			(o->gap_timeout_ms ? o->gap_timeout_ms : SL_CL_GAP_TIMEOUT_MS) * NS_PER_MS,
	};
	struct sl_cl_reorder *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	rc = sl_ro_init(&r->ro, &conf, &ops, &c->st);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->c = c;
	r->version = 1;
	/* Until WELCOME says otherwise: nothing to reorder, nothing to NAK. */
	r->ro.ordered = true;
	c->ro = r;
	return 0;
}

void
sl_cl_reorder_free(struct sl_client *c)
{
	if (c->ro == NULL)
		return;
	sl_ro_fini(&c->ro->ro);
	free(c->ro);
	c->ro = NULL;
}

void
sl_cl_reorder_welcome(struct sl_client *c, const struct sl_frame *f)
{
	const struct sl_welcome *w = (const struct sl_welcome *)f->hdr;
	struct sl_reorder *ro = &c->ro->ro;
	uint32_t max_message = SL_MAX_MESSAGE_DEFAULT;
	unsigned int i;

	/* Version 1's WELCOME ends before the version field. */
	c->ro->version = f->len >= sizeof(*w) && w->version != 0 ? w->version : 1;
	if (f->len >= sizeof(*w) && w->max_message != 0)
		max_message = w->max_message < SL_MAX_MESSAGE ? w->max_message : SL_MAX_MESSAGE;
	/* Shared memory neither loses nor reorders; version 1 brokers
	 * retransmit nothing: jumps there are given up at once. */
	ro->ordered = c->shm.r != NULL || c->ro->version < 2;
	if (f->len >= sizeof(*w) && c->ro->version >= 2) {
		/* A restarted broker begins the sequences of topics without a
		 * journal again. Reconnecting resets the topics it subscribes
		 * again by name; any other (reached through a pattern) starts
		 * over at its next DELIVER, its last delivered seq kept. */
		if (c->ro->incarnation != 0 && w->incarnation != c->ro->incarnation)
			for (i = 0; i < ro->ntopics; i++)
				ro->topics[i]->started = false;
		c->ro->incarnation = w->incarnation;
	}
	if (max_message != ro->conf.max_message) {
		ro->conf.max_message = max_message;
		for (i = 0; i < ro->ntopics; i++) {
			sl_frag_rx_fini(&ro->topics[i]->fr);
			sl_frag_rx_init(&ro->topics[i]->fr, max_message);
		}
	}
}

uint8_t
sl_cl_version(const struct sl_client *c)
{
	return c->ro != NULL ? (uint8_t)c->ro->version : 0;
}

uint32_t
sl_cl_reorder_window(const struct sl_client *c)
{
	return c->ro->ro.conf.window;
}

/* Without room for the topic (SL_RO_TOPICS_MAX, or memory) its messages pass
 * through unordered; nothing to reset. */
void
sl_cl_reorder_reset(struct sl_client *c, uint32_t topic, uint64_t next_seq)
{
	struct sl_ro_topic *t = sl_ro_topic_get(&c->ro->ro, topic);

	if (t != NULL)
		sl_ro_reset(&c->ro->ro, t, next_seq);
}

void
sl_cl_reorder_unsubscribed(struct sl_client *c, uint32_t topic)
{
	struct sl_ro_topic *t = sl_ro_topic_find(&c->ro->ro, topic);

	if (t != NULL)
		sl_ro_reset(&c->ro->ro, t, 0);
}

void
sl_cl_reorder_revoked(struct sl_client *c, uint32_t topic)
{
	/* Taken if new: a topic never delivered yet must drop what comes. */
	struct sl_ro_topic *t = sl_ro_topic_get(&c->ro->ro, topic);

	if (t != NULL)
		sl_ro_end(&c->ro->ro, t);
}

void
sl_cl_reorder_reconnected(struct sl_client *c)
{
	sl_ro_end_clear(&c->ro->ro);
}

uint64_t
sl_cl_reorder_last_delivered(struct sl_client *c, uint32_t topic)
{
	const struct sl_ro_topic *t = sl_ro_topic_find(&c->ro->ro, topic);

	return t != NULL ? sl_ro_last_delivered(t) : 0;
}

void
sl_cl_reorder_heartbeat(struct sl_client *c)
{
	sl_ro_credit_all(&c->ro->ro);
}

void
sl_cl_reorder_status(struct sl_client *c, const struct sl_frame *f)
{
	const struct sl_status_entry *e = (const struct sl_status_entry *)f->body;
	uint32_t i, n = f->body_len / (uint32_t)sizeof(*e);

	if (f->hdr->session != c->session)
		return;
	for (i = 0; i < n; i++)
		sl_ro_status(&c->ro->ro, sl_cl_topic_to_app(c, e[i].topic_id), e[i].last_seq,
			     sl_now_ns());
}

void
sl_cl_reorder_gap(struct sl_client *c, uint32_t wire, uint64_t first, uint64_t last,
		  uint16_t error)
{
	sl_ro_lost(&c->ro->ro, sl_cl_topic_to_app(c, wire), first, last, error, sl_now_ns());
}

/*
 * A DELIVER or DELIVER_FRAG: into the reorder buffer, which hands what is
 * in order to @fn (at most @budget). *@taken false: not taken yet, offer it
 * again at the next poll. Returns the messages handed over.
 */
static int
deliver(struct sl_client *c, const struct sl_frame *f, sl_deliver_fn fn, void *arg, int budget,
	bool *taken)
{
	struct sl_ro_msg m;

	/* Its session was checked (sl_cl_rx_frame_ok): another session's
	 * delivery, or an unsealed one to a sealed session, never gets here. */
	m.flags = f->hdr->flags;
	m.data = f->body;
	m.len = f->body_len;
	if (f->hdr->type == SL_FT_DELIVER) {
		const struct sl_deliver *d = (const struct sl_deliver *)f->hdr;

		m.topic = sl_cl_topic_to_app(c, d->topic_id);
		m.seq = d->seq;
		m.timestamp = d->timestamp;
		m.frag = false;
	} else {
		const struct sl_deliver_frag *d = (const struct sl_deliver_frag *)f->hdr;

		m.topic = sl_cl_topic_to_app(c, d->topic_id);
		m.seq = d->seq;
		m.timestamp = d->timestamp;
		m.frag = true;
		m.msg_len = d->msg_len;
		m.frag_off = d->frag_off;
	}
	return sl_ro_rx(&c->ro->ro, &m, fn, arg, budget, c->ro->now, taken);
}

/*
 * The broker says a range of a topic will never be delivered: a replay
 * skipped what its journal cannot serve (SL_E_REPLAY_GAP), a NAK asked for
 * what is neither in its window nor journaled (SL_E_GAP_LOST), or it cut
 * this subscriber off (SL_E_SLOW_CONSUMER). The reorder buffer skips the
 * range and raises SL_EV_GAP when it gets there.
 */
static void
on_gap(struct sl_client *c, const struct sl_error_gap *g)
{
	if (g->e.h.length < sizeof(*g) || g->first > g->last || g->e.h.session != c->session)
		return;
	if (g->e.code == SL_E_REPLAY_GAP) {
		c->st.replay_gaps++;
		c->st.replay_gap_seqs += g->last - g->first + 1;
		c->st.gap_topic = (uint32_t)g->e.detail;
		c->st.gap_first = g->first;
		c->st.gap_last = g->last;
	}
	sl_cl_reorder_gap(c, (uint32_t)g->e.detail, g->first, g->last, g->e.code);
}

/*
 * An ERROR answering HELLO or AUTH (session 0, detail the HELLO's nonce
 * from a version 3 broker). SL_E_HANDSHAKE to this AUTH starts again with
 * a new HELLO; the refusals of the session end the connect.
 */
static void
handshake_error(struct sl_client *c, const struct sl_error *e)
{
	struct pending *p = &c->pend;

	switch (e->code) {
	case SL_E_HANDSHAKE:
		/* Only for this AUTH: a stale one must not restart the next. */
		if (p->kind == PEND_AUTH && e->detail == p->nonce)
			sl_cl_pend_finish(p, HANDSHAKE_RESTART);
		break;
	case SL_E_AUTH_FAILED:
	case SL_E_AUTH_REQUIRED:
	case SL_E_ENCRYPTION_REQUIRED:
		sl_cl_pend_finish(p, -EACCES);
		break;
	case SL_E_NOT_PRIMARY:
		sl_cl_pend_finish(p, -ENOTCONN); /* the next broker of the list may be */
		break;
	default:
		sl_cl_pend_finish(p, -EPROTO);
		break;
	}
}

/* A code by which the broker revokes what it granted (PROTOCOL.md 13.5). */
static bool
revoking(uint16_t code)
{
	return code == SL_E_DENIED || code == SL_E_AUTH_FAILED || code == SL_E_AUTH_REQUIRED;
}

/*
 * The broker ended a subscription (frame type SUBSCRIBE, detail the
 * topic, req_id its SUBSCRIBE's): it sends no more of the topic. Forget
 * it for reconnecting, drop whatever of it is still held or arrives late,
 * and tell the application.
 */
static void
sub_revoked(struct sl_client *c, const struct sl_error *e)
{
	uint32_t topic = sl_cl_topic_to_app(c, (uint32_t)e->detail);

	c->st.subs_revoked++;
	sl_cl_recon_sub(c, topic, 0, 0, true);
	sl_cl_reorder_revoked(c, topic);
	sl_cl_event(c, SL_EV_SUB_REVOKED, topic, 0, 0, e->code);
}

/*
 * The broker ended the session because its credentials no longer hold
 * (frame type AUTH). Reconnecting would be refused the same way: the
 * client stops here, the kept key wiped, and every call fails -ENOTCONN.
 * The transport stays open until sl_client_close: a caller may be walking
 * a datagram of it right now.
 */
static void
session_revoked(struct sl_client *c, uint16_t code)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->pend.kind != PEND_NONE && !c->pend.done)
		sl_cl_pend_finish(&c->pend, -ENOTCONN);
	sl_cl_wipe(c->rc.key, sizeof(c->rc.key));
	sl_cl_event(c, SL_EV_SESSION_REVOKED, 0, 0, 0, code);
}

static void
on_error(struct sl_client *c, const struct sl_error *e)
{
	struct pending *p = &c->pend;

	/* Not the pair's primary, whatever the frame refused: no refusal of a
	 * publish (the next primary takes its resend), but the session's end,
	 * and reconnecting moves to the next broker. */
	if (e->code == SL_E_NOT_PRIMARY) {
		c->st.errors++;
		c->st.last_error = e->code;
		if (sl_cl_handshaking(p))
			handshake_error(c, e);
		else if (c->session != 0)
			sl_cl_session_lost(c, SL_E_NOT_PRIMARY);
		return;
	}
	/* The topic moved to another pair: followed like NOT_PRIMARY (a
	 * refused publish is sent again there), to the address it names. */
	if (e->code == SL_E_MOVED && sl_cl_moved(c, e)) {
		c->st.errors++;
		c->st.last_error = e->code;
		return;
	}
	if (sl_cl_group_on_error(c, e))
		return; /* about a group, answering no request */
	if (e->code == SL_E_REPLAY_GAP || e->code == SL_E_GAP_LOST) {
		on_gap(c, (const struct sl_error_gap *)e);
		return; /* a notice about deliveries, not a refusal */
	}
	if (e->code == SL_E_SLOW_CONSUMER && e->h.length >= sizeof(struct sl_error_gap))
		on_gap(c, (const struct sl_error_gap *)e); /* and counted as an error below */
	c->st.errors++;
	c->st.last_error = e->code;
	/* detail 0 names no publish: an ERROR about the session, which a
	 * PUBLISH only happened to trigger (SL_E_NO_SESSION, AUTH_FAILED).
	 * An ERROR saying SL_E_NONE refuses nothing, and acknowledges nothing. */
	if ((e->frame_type == SL_FT_PUBLISH || e->frame_type == SL_FT_PUBLISH_FRAG) &&
	    e->detail != 0)
		sl_cl_on_pub_error(c, e);
	if (e->code == SL_E_NO_SESSION && c->session != 0) {
		sl_cl_session_lost(c, SL_E_NO_SESSION);
		return;
	}
	/* Revocation, about this session and answering no pending request
	 * (a refused SUBSCRIBE is that request's answer, below): of one
	 * subscription (its topic in detail), or of the session (frame type
	 * AUTH from the sweep, or detail 0 answering whatever frame the
	 * session sent after its user or key was gone). */
	if (revoking(e->code) && c->session != 0 && e->h.session == c->session &&
	    !sl_cl_handshaking(p) && !sl_cl_req_match(p, e->req_id)) {
		if (e->frame_type == SL_FT_SUBSCRIBE && e->detail != 0) {
			sub_revoked(c, e);
			return;
		}
		if (e->code != SL_E_DENIED && (e->frame_type == SL_FT_AUTH || e->detail == 0)) {
			session_revoked(c, e->code);
			return;
		}
	}
	if (e->code == SL_E_BUSY)
		return; /* the resend loop asks again until the timeout */
	if (e->frame_type == SL_FT_PUBLISH || e->frame_type == SL_FT_PUBLISH_FRAG)
		return; /* not an answer to any request, whatever its req_id */
	if (sl_cl_handshaking(p))
		handshake_error(c, e);
	else if (sl_cl_req_match(p, e->req_id))
		sl_cl_pend_finish(p, sl_cl_error_to_errno(e->code));
}

/* Everything but DELIVER: replies, acks, errors, heartbeat echoes. */
void
sl_cl_rx_control(struct sl_client *c, const struct sl_frame *f)
{
	const void *h = f->hdr;

	switch (f->hdr->type) {
	case SL_FT_WELCOME:
		sl_cl_on_welcome(c, f);
		break;
	case SL_FT_CHALLENGE:
		sl_cl_on_challenge(c, h);
		break;
	case SL_FT_TOPIC: {
		const struct sl_topic_reply *t = h;

		if (!sl_cl_req_match(&c->pend, t->req_id) || c->pend.type != SL_FT_RESOLVE)
			break;
		c->pend.value = t->topic_id;
		if (c->pend.want_name)
			sl_cl_pend_finish(&c->pend, sl_cl_name_take(c, f));
		else
			sl_cl_pend_finish(&c->pend, t->topic_id != SL_TOPIC_INVALID &&
						    sl_cl_parts_take(c, f) == 0 ? 0 : -EPROTO);
		break;
	}
	case SL_FT_OK: {
		const struct sl_ok *ok = h;

		if (sl_cl_req_match(&c->pend, ok->req_id) && c->pend.type != SL_FT_RESOLVE) {
			c->pend.seq = ok->h.length >= sizeof(*ok) ? ok->seq : 0;
			sl_cl_pend_finish(&c->pend, 0);
		}
		break;
	}
	case SL_FT_ACK:
		sl_cl_on_ack(c, h);
		break;
	case SL_FT_PRODUCER_ID:
		sl_cl_on_producer_id(c, h);
		break;
	case SL_FT_GROUP:
		sl_cl_group_on_reply(c, h);
		break;
	case SL_FT_ERROR:
		on_error(c, h);
		break;
	case SL_FT_STATUS:
		sl_cl_reorder_status(c, f);
		break;
	case SL_FT_SKIP: {
		const struct sl_skip *k = (const struct sl_skip *)h;

		if (f->len >= sizeof(*k) && k->first != 0 && k->first <= k->last)
			sl_cl_reorder_gap(c, k->topic_id, k->first, k->last, SL_RO_FILTERED);
		break;
	}
	case SL_FT_GOODBYE:
		if (c->session != 0)
			sl_cl_session_lost(c, SL_E_NO_SESSION);
		break;
	default:
		break; /* heartbeat echoes, and types a broker does not send */
	}
}

/*
 * Walk one datagram from d->off: control frames are handled, DELIVER frames
 * go to @fn until @budget is spent, and d->off keeps the place for the next
 * poll. @replay: a stashed datagram whose control frames were handled when
 * it arrived. Returns the deliveries made.
 */
static int
rx_live(struct sl_client *c, struct dgram *d, bool replay, sl_deliver_fn fn, void *arg,
	int budget)
{
	struct sl_frame f;
	size_t off = d->off;
	bool taken;
	size_t at;
	int n = 0;
	int rc;

	for (;;) {
		at = off;
		rc = sl_proto_next(sl_cl_dgram_bytes(d), d->len, &off, &f);
		if (rc == 0)
			break;
		if (rc < 0) {
			/* Frame boundaries past a bad frame cannot be trusted. Stashed
			 * datagrams were cut before theirs, so this counts once. */
			c->st.bad_frames++;
			off = d->len;
			break;
		}
		/* Counted when it arrived; a stashed copy is skipped quietly. */
		if (!sl_cl_rx_frame_ok(c, d, &f, replay))
			continue;
		if (f.hdr->type != SL_FT_DELIVER && f.hdr->type != SL_FT_DELIVER_FRAG &&
		    f.hdr->type != SL_FT_GDELIVER) {
			if (!replay) {
				c->rx_sealed = d->sealed;
				sl_cl_rx_control(c, &f);
				c->rx_sealed = false;
			}
			continue;
		}
		if (n == budget) {
			off = at;
			break;
		}
		if (f.hdr->type == SL_FT_GDELIVER) {
			/* A group's deliveries are not sequenced per member. */
			n += sl_cl_group_deliver(c, &f, fn, arg);
			continue;
		}
		n += deliver(c, &f, fn, arg, budget - n, &taken);
		if (!taken) {
			off = at;
			break;
		}
	}
	d->off = (uint32_t)off;
	return n;
}

static int
drain_rx(struct sl_client *c, sl_deliver_fn fn, void *arg, int budget)
{
	int n = 0;

	while (c->rx_i < c->rx_n && n < budget) {
		struct dgram *d = &c->rx[c->rx_i];

		n += rx_live(c, d, false, fn, arg, budget - n);
		if (d->off < d->len)
			break;
		sl_cl_dgram_done(c, d);
		c->rx_i++;
	}
	return n;
}

static int
drain_stash(struct sl_client *c, sl_deliver_fn fn, void *arg, int budget)
{
	struct dgram v; /* a view of the stashed copy: only ext and the offsets */
	struct stashed *s;
	int n = 0;

	while (c->stash_n > 0 && n < budget) {
		s = &c->stash[c->stash_head];
		v.ext = s->bytes;
		v.len = s->len;
		v.off = s->off;
		v.sealed = s->sealed;
		n += rx_live(c, &v, true, fn, arg, budget - n);
		s->off = v.off;
		if (s->off < s->len)
			break;
		sl_cl_stash_pop(c);
	}
	return n;
}

int
sl_client_poll(struct sl_client *c, sl_deliver_fn fn, void *arg, int max)
{
	int n;
	int rc;

	if (max <= 0)
		return -EINVAL;
	c->ro->now = sl_now_ns();
	/* Reconnecting (reconnect.c): nothing to read until a new session. */
	rc = sl_cl_tick_pre(c, c->ro->now);
	if (rc < 0)
		return rc == -EAGAIN ? 0 : rc;
	sl_ro_tick(&c->ro->ro, c->ro->now);
	/* Order of age: messages the reorder buffer holds in order came before
	 * the current burst, which was read before anything was stashed, and
	 * nothing new is read while any of them still holds deliveries. */
	n = sl_ro_ready(&c->ro->ro) ? sl_ro_drain(&c->ro->ro, fn, arg, max, c->ro->now) : 0;
	n += drain_rx(c, fn, arg, max - n);
	n += drain_stash(c, fn, arg, max - n);
	if (n < max && c->rx_i == c->rx_n && c->stash_n == 0) {
		rc = sl_cl_rx_burst(c);
		if (rc < 0)
			return n > 0 ? n : rc;
		n += drain_rx(c, fn, arg, max - n);
		if (rc == 0)
			(void)sl_cl_liveness_lost(c, sl_now_ns());
	}
	/* Resends only now: the ACKs just read have settled what they cover. */
	sl_cl_tick_post(c, c->ro->now);
	/* Acks the callback queued go now, not a poll later. */
	if (c->grp != NULL)
		sl_cl_group_flush(c);
	/* Deliveries already handed out are reported; -ENOTCONN comes next call. */
	if (c->dead && n == 0)
		return -ENOTCONN;
	if (c->rc.down) { /* lost just now: SL_EV_DISCONNECTED was raised */
		c->rx_i = c->rx_n = 0;
		sl_cl_stash_clear(c, false);
		c->big_rx_busy = false;
	}
	return n;
}

int
sl_client_wait(struct sl_client *c, sl_deliver_fn fn, void *arg, int max, int timeout_ms)
{
	uint64_t now = sl_now_ns();
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * NS_PER_MS;
	uint64_t wake;
	int rc;

	if (c->dead)
		return -ENOTCONN;
	if (c->rx_i < c->rx_n || c->stash_n > 0 || sl_ro_ready(&c->ro->ro))
		return sl_client_poll(c, fn, arg, max);
	/* Wake for heartbeats, resends, the batch's deadline and reconnect
	 * attempts too: a subscriber may wait far longer than the broker's
	 * expiry. The 1 ms floor stops a spin when a heartbeat cannot be sent. */
	for (;;) {
		rc = sl_cl_tick(c, now);
		if (rc == -ENOTCONN)
			return rc;
		wake = sl_cl_wake(c, now);
		if (wake < now + NS_PER_MS)
			wake = now + NS_PER_MS;
		/* The reorder buffer's NAK and give-up timers run in the poll. */
		if (rc == 0 && sl_ro_next_timer(&c->ro->ro) <= now)
			break;
		if (rc == 0 && sl_ro_next_timer(&c->ro->ro) < wake)
			wake = sl_ro_next_timer(&c->ro->ro);
		if (wake > deadline)
			wake = deadline;
		if (rc == -EAGAIN) { /* down: no descriptor to wait on */
			struct timespec ts = { .tv_sec = (time_t)((wake - now) / NS_PER_S),
					       .tv_nsec = (long)((wake - now) % NS_PER_S) };

			if (nanosleep(&ts, NULL) < 0)
				return 0; /* a signal: let the caller look at its flags */
			rc = 0;
		} else {
			rc = sl_cl_wait_readable(c, wake > now ? wake - now : 0);
			if (rc == -EINTR)
				return 0; /* let the caller look at its signal flags */
			if (rc != 0)
				break;
			/* Nothing waiting to be read: silence is the broker's.
			 * The caller hears of the loss (SL_EV_DISCONNECTED) before
			 * any attempt to reconnect. */
			if (sl_cl_liveness_lost(c, sl_now_ns()))
				return 0;
		}
		now = sl_now_ns();
		if (now >= deadline)
			break;
	}
	if (rc < 0)
		return rc;
	return sl_client_poll(c, fn, arg, max);
}

/* --- a delivered message's headers (v4) --- */

const void *
sl_msg_header(const struct sl_message *msg, const char *name, uint16_t *len)
{
	struct sl_hdrs_view v;
	const uint8_t *val;
	size_t vlen;

	if (msg == NULL || msg->hdrs == NULL || name == NULL ||
	    sl_hdrs_parse(msg->hdrs, msg->hdrs_len, &v) < 0 ||
	    !sl_hdrs_get(&v, name, strlen(name), &val, &vlen))
		return NULL;
	if (len != NULL)
		*len = (uint16_t)vlen;
	return val;
}

int
sl_msg_header_at(const struct sl_message *msg, unsigned i, const char **name,
		 uint16_t *name_len, const void **value, uint16_t *value_len)
{
	struct sl_hdrs_view v;

	if (msg == NULL || msg->hdrs == NULL || sl_hdrs_parse(msg->hdrs, msg->hdrs_len, &v) < 0 ||
	    i >= v.n)
		return -ENOENT;
	*name = (const char *)v.h[i].name;
	*name_len = v.h[i].name_len;
	*value = v.h[i].value;
	*value_len = v.h[i].value_len;
	return 0;
}
