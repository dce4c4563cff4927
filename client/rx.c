/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice receiving: deliveries with gap counting, the broker's control frames, poll and wait. */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"

struct topic_seq *
sl_cl_seq_slot(struct sl_client *c, uint32_t topic)
{
	/* Fibonacci hashing: the top bits of the product spread sequential ids. */
	uint32_t i = (topic * 2654435761u) >> 24;
	unsigned int n;

	for (n = 0; n < SEQ_SLOTS; n++, i = (i + 1) & (SEQ_SLOTS - 1)) {
		struct topic_seq *s = &c->seqs[i];

		if (s->topic_id == topic)
			return s;
		if (s->topic_id == SL_TOPIC_INVALID) {
			s->topic_id = topic;
			s->last = 0;
			return s;
		}
	}
	return NULL; /* more topics than slots: gaps go uncounted for this one */
}

static void
deliver(struct sl_client *c, const struct sl_frame *f, sl_deliver_fn fn, void *arg)
{
	const struct sl_deliver *d = (const struct sl_deliver *)f->hdr;
	struct topic_seq *s = NULL;
	uint32_t topic = sl_cl_topic_to_app(c, d->topic_id);
	struct sl_message m;

	/* A delivery for another session (an earlier client that had this
	 * address and port) is not ours: count it, never pass it on. */
	if (d->h.session != c->session) {
		c->st.bad_frames++;
		return;
	}
	if (topic != SL_TOPIC_INVALID)
		s = sl_cl_seq_slot(c, topic);
	if (s != NULL) {
		/* Only forward jumps are gaps; a late or repeated frame fills none. */
		if (s->last != 0 && d->seq > s->last + 1)
			c->st.gaps += d->seq - s->last - 1;
		if (d->seq > s->last)
			s->last = d->seq;
	}
	m.topic_id = topic;
	m.len = f->body_len;
	m.seq = d->seq;
	m.timestamp = d->timestamp;
	m.data = f->body;
	c->st.delivered++;
	if (fn != NULL)
		fn(arg, &m);
}

/* A replay skipped a damaged range of the journal: count it (the range
 * also shows as a jump in seq, which deliver() counts in gaps). */
static void
on_gap(struct sl_client *c, const struct sl_error_gap *g)
{
	if (g->e.h.length < sizeof(*g) || g->first > g->last || g->e.h.session != c->session)
		return;
	c->st.replay_gaps++;
	c->st.replay_gap_seqs += g->last - g->first + 1;
	c->st.gap_topic = (uint32_t)g->e.detail;
	c->st.gap_first = g->first;
	c->st.gap_last = g->last;
}

static void
on_error(struct sl_client *c, const struct sl_error *e)
{
	struct pending *p = &c->pend;

	if (e->code == SL_E_REPLAY_GAP) {
		on_gap(c, (const struct sl_error_gap *)e);
		return; /* a notice about deliveries, not a refusal */
	}
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
	if (e->code == SL_E_BUSY)
		return; /* the resend loop asks again until the timeout */
	if (e->frame_type == SL_FT_PUBLISH || e->frame_type == SL_FT_PUBLISH_FRAG)
		return; /* not an answer to any request, whatever its req_id */
	if (sl_cl_handshaking(p))
		sl_cl_pend_finish(p, e->code == SL_E_AUTH_FAILED || e->code == SL_E_AUTH_REQUIRED ?
			    -EACCES : -EPROTO);
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

		if (sl_cl_req_match(&c->pend, t->req_id) && c->pend.type == SL_FT_RESOLVE) {
			c->pend.value = t->topic_id;
			sl_cl_pend_finish(&c->pend, t->topic_id != SL_TOPIC_INVALID ? 0 : -EPROTO);
		}
		break;
	}
	case SL_FT_OK:
		if (sl_cl_req_match(&c->pend, ((const struct sl_ok *)h)->req_id) &&
		    c->pend.type != SL_FT_RESOLVE)
			sl_cl_pend_finish(&c->pend, 0);
		break;
	case SL_FT_ACK:
		sl_cl_on_ack(c, h);
		break;
	case SL_FT_PRODUCER_ID:
		sl_cl_on_producer_id(c, h);
		break;
	case SL_FT_ERROR:
		on_error(c, h);
		break;
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
	size_t at;
	int n = 0;
	int rc;

	for (;;) {
		at = off;
		rc = sl_proto_next(d->data, d->len, &off, &f);
		if (rc == 0)
			break;
		if (rc < 0) {
			/* Frame boundaries past a bad frame cannot be trusted. Stashed
			 * datagrams were cut before theirs, so this counts once. */
			c->st.bad_frames++;
			off = d->len;
			break;
		}
		if (f.hdr->type != SL_FT_DELIVER) {
			if (!replay)
				sl_cl_rx_control(c, &f);
			continue;
		}
		if (n == budget) {
			off = at;
			break;
		}
		deliver(c, &f, fn, arg);
		n++;
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
		c->rx_i++;
	}
	return n;
}

static int
drain_stash(struct sl_client *c, sl_deliver_fn fn, void *arg, int budget)
{
	int n = 0;

	while (c->stash_n > 0 && n < budget) {
		struct dgram *d = &c->stash[c->stash_head];

		n += rx_live(c, d, true, fn, arg, budget - n);
		if (d->off < d->len)
			break;
		c->stash_head = (c->stash_head + 1) % STASH_SLOTS;
		c->stash_n--;
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
	/* Reconnecting (reconnect.c): nothing to read until a new session. */
	rc = sl_cl_tick(c, sl_now_ns());
	if (rc < 0)
		return rc == -EAGAIN ? 0 : rc;
	/* Order of age: the current burst was read before anything was stashed,
	 * and nothing new is read while either still holds deliveries. */
	n = drain_rx(c, fn, arg, max);
	n += drain_stash(c, fn, arg, max - n);
	if (n < max && c->rx_i == c->rx_n && c->stash_n == 0) {
		rc = sl_cl_rx_burst(c);
		if (rc < 0)
			return n > 0 ? n : rc;
		n += drain_rx(c, fn, arg, max - n);
		if (rc == 0)
			(void)sl_cl_liveness_lost(c, sl_now_ns());
	}
	/* Deliveries already handed out are reported; -ENOTCONN comes next call. */
	if (c->dead && n == 0)
		return -ENOTCONN;
	if (c->rc.down) /* lost just now: SL_EV_DISCONNECTED was raised */
		c->rx_i = c->rx_n = c->stash_n = 0;
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
	if (c->rx_i < c->rx_n || c->stash_n > 0)
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
