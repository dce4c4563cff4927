/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice publishing: the publish window (acks and refusals), claim, commit and publish. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/hdrs.h>

#include "client_internal.h"

int
sl_cl_win_init(struct pub_window *w, const struct sl_client_opts *o)
{
	uint64_t size = o->ack_window ? o->ack_window : SL_ACK_WINDOW_DEFAULT;

	if (size > SL_ACK_WINDOW_MAX)
		return -EINVAL;
	while (size & (size - 1))
		size += size & -size; /* up to the next power of two */
	w->slot = calloc(size, sizeof(*w->slot));
	if (w->slot == NULL)
		return -ENOMEM;
	w->mask = size - 1;
	w->fn = o->on_settle;
	w->arg = o->settle_arg;
	return 0;
}

/* Is there no room for the next publish: would it be a window or more past
 * the oldest unsettled one, whose slot it would take? */
static bool
win_full(const struct sl_client *c)
{
	return c->pub_seq + 1 - c->win.settled > c->win.mask + 1;
}

/* Move the marks over every settled publish. Each publish is passed once,
 * so this is O(1) per publish over a run, however the answers come. */
static void
win_advance(struct sl_client *c)
{
	struct pub_window *w = &c->win;

	while (w->settled < c->pub_seq) {
		const struct pub_slot *s = &w->slot[(w->settled + 1) & w->mask];

		if (s->state == SL_PUB_OUTSTANDING)
			break;
		w->settled++;
		sl_cl_producer_release(c, w->settled);
		if (w->first_refused != 0)
			continue;
		if (s->state == SL_PUB_REFUSED && s->ack_req)
			w->first_refused = w->settled;
		else
			w->acked = w->settled;
	}
}

/* Publish c->pub_seq was just sent. */
static void
win_sent(struct sl_client *c, uint32_t topic_id, uint16_t flags)
{
	struct pub_slot *s = &c->win.slot[c->pub_seq & c->win.mask];

	s->topic_id = topic_id;
	s->error = SL_E_NONE;
	s->ack_req = (flags & SL_PUB_F_ACK_REQ) != 0;
	s->state = s->ack_req ? SL_PUB_OUTSTANDING : SL_PUB_NO_ACK;
	if (s->ack_req)
		c->st.pub_outstanding++;
	else
		win_advance(c);
}

/*
 * An ACK (@error SL_E_NONE; @topic_id from the frame) or a refusal (@error
 * its code; @topic_id SL_TOPIC_INVALID: an ERROR names no topic) for
 * publish @seq of @session. Only the first answer to a publish in the
 * window counts; anything else is ignored and counted. A refusal may also
 * come for a publish that asked for no ACK (the broker refuses those too).
 */
void
sl_cl_win_answer(struct sl_client *c, uint32_t session, uint64_t seq, uint32_t topic_id,
	   uint16_t error)
{
	struct pub_window *w = &c->win;
	struct pub_slot *s;

	if (session != c->session || seq == 0 || seq > c->pub_seq || c->pub_seq - seq > w->mask)
		goto ignored;
	s = &w->slot[seq & w->mask];
	if (error == SL_E_NONE) {
		if (s->state != SL_PUB_OUTSTANDING || s->topic_id != topic_id)
			goto ignored;
		s->state = SL_PUB_ACKED;
		c->st.pub_acked++;
	} else {
		if (s->state != SL_PUB_OUTSTANDING && s->state != SL_PUB_NO_ACK)
			goto ignored;
		s->state = SL_PUB_REFUSED;
		s->error = error;
		c->st.publish_refused++;
	}
	if (s->ack_req)
		c->st.pub_outstanding--;
	sl_cl_producer_settled(c, seq);
	if (seq == w->settled + 1)
		win_advance(c);
	if (w->fn != NULL)
		w->fn(w->arg, seq, s->topic_id, error);
	return;

ignored:
	c->st.acks_ignored++;
}

void
sl_cl_on_ack(struct sl_client *c, const struct sl_ack *a)
{
	uint32_t topic = sl_cl_topic_to_app(c, a->topic_id);
	uint64_t seq = a->producer_seq;

	c->st.acks++;
	if (a->h.flags & SL_ACK_F_DUP)
		c->st.dup_acks++; /* stored once already: as good as an ACK */
	if (c->prod.bound) {
		seq = sl_cl_producer_find(c, topic, a->producer_seq);
		if (seq == 0) {
			c->st.acks_ignored++;
			return;
		}
	}
	sl_cl_win_answer(c, a->h.session, seq, topic, SL_E_NONE);
}

/*
 * SL_E_ENCRYPTION_REQUIRED names a topic (detail, the broker's id), not a
 * publish: the topic takes nothing from this unencrypted session, so every
 * publish to it still waiting for an answer is refused with it.
 */
static void
refuse_topic(struct sl_client *c, const struct sl_error *e)
{
	uint32_t topic = sl_cl_topic_to_app(c, (uint32_t)e->detail);
	uint64_t seq, last = c->pub_seq;
	bool any = false;

	for (seq = c->win.settled + 1; seq <= last; seq++) {
		const struct pub_slot *s = &c->win.slot[seq & c->win.mask];

		if (s->state == SL_PUB_OUTSTANDING && s->topic_id == topic) {
			sl_cl_win_answer(c, e->h.session, seq, SL_TOPIC_INVALID, e->code);
			any = true;
		}
	}
	if (!any)
		c->st.acks_ignored++;
}

void
sl_cl_on_pub_error(struct sl_client *c, const struct sl_error *e)
{
	uint64_t seq = e->detail;

	if (e->code == SL_E_NONE) {
		c->st.acks_ignored++; /* refuses nothing, acknowledges nothing */
		return;
	}
	if (e->code == SL_E_ENCRYPTION_REQUIRED) {
		refuse_topic(c, e);
		return;
	}
	if (e->code == SL_E_OUT_OF_ORDER && c->prod.bound) {
		/* A publish before it was lost: not stored; the next resend
		 * round sends the topic's unacknowledged publishes in order. */
		c->st.out_of_order++;
		c->prod.ooo = true;
		return;
	}
	if (e->code == SL_E_FENCED && !c->prod.fenced) {
		c->prod.fenced = true;
		sl_cl_event(c, SL_EV_FENCED, 0, 0, 0, SL_E_FENCED);
	}
	if (c->prod.bound) {
		seq = sl_cl_producer_find(c, SL_TOPIC_INVALID, e->detail);
		if (seq == 0) {
			c->st.acks_ignored++;
			return;
		}
		/* The broker no longer knows the session (it expired it, say):
		 * that ends the session, not the publish. Kept for resending,
		 * it stays outstanding and goes again in the next session
		 * (sl_cl_resend_all): at least once across a reconnect. A
		 * client that does not reconnect settles it as refused. */
		if (e->code == SL_E_NO_SESSION && c->rc.on)
			return;
	}
	sl_cl_win_answer(c, e->h.session, seq, SL_TOPIC_INVALID, e->code);
}

/* Can the client publish now? 0, or the error a publishing call returns. */
static int
pub_ready(struct sl_client *c, uint64_t now, bool will_ack)
{
	if (c->dead)
		return -ENOTCONN;
	if (c->prod.fenced)
		return -EPERM;
	if (c->rc.down) {
		(void)sl_cl_tick(c, sl_now_ns());
		if (c->dead)
			return -ENOTCONN;
		if (c->rc.down) {
			c->st.publish_eagain++;
			return -EAGAIN;
		}
	}
	if (c->batch.frames != 0 && now - c->batch.first_ns >= c->batch.flush_ns)
		(void)sl_cl_flush(c);
	if (will_ack && c->prod.v2 && !c->prod.bound && !c->prod.unsupported) {
		/* Registered before the first publish that asks for an ACK: one
		 * round trip, once. A broker that does not answer PRODUCER (or
		 * refuses it as a frame it does not take) gets publishes as in
		 * version 1: not deduplicated, never resent. */
		int rc = sl_cl_producer_bind(c);

		if (rc == -ETIMEDOUT || rc == -EPROTO)
			c->prod.unsupported = true;
		else if (rc < 0)
			return rc;
	}
	return 0;
}

/* Room for a message of @len bytes over one frame: one big enough buffer. */
static void *
big_claim(struct sl_client *c, uint32_t len)
{
	if (c->big == NULL) {
		c->big = malloc(sizeof(struct sl_publish) + c->max_message);
		if (c->big == NULL)
			return NULL;
	}
	c->big_len = len;
	return c->big;
}

/* @will_ack: the publish will ask for an ACK (a zero-copy claim does not
 * know yet: it assumes so). Over shared memory a message that fits the
 * ring whole is claimed as a message record: one cache line when it is
 * small (common/shm.h). */
static int
claim(struct sl_client *c, uint32_t topic_id, uint32_t len, void **data, bool will_ack)
{
	uint32_t flen = (uint32_t)sizeof(struct sl_publish) + len;
	uint64_t now = c->batch.frames ? sl_now_ns() : 0;
	struct sl_publish *p;
	int rc;

	if (c->claim != NULL || data == NULL)
		return c->dead ? -ENOTCONN : -EINVAL;
	rc = pub_ready(c, now, will_ack);
	if (rc < 0)
		return rc;
	if (len > c->max_message)
		return -EMSGSIZE;
	if (win_full(c) || (c->prod.bound && !sl_cl_arena_room(c, len))) {
		c->st.window_full++;
		c->st.publish_eagain++;
		return -EAGAIN;
	}
	if (c->prod.bound && sl_cl_ptopic(c, topic_id) == NULL)
		return -ENOSPC;
	c->big_len = 0;
	c->claim_len = len;
	c->claim_topic = topic_id;
	if (len > sl_cl_frame_max(c)) {
		p = big_claim(c, len);
		if (p == NULL)
			return -ENOMEM;
	} else if (c->shm.r != NULL) {
		struct sl_shm_msg *m = sl_shm_link_claim_msg(&c->shm, len);

		if (m == NULL) {
			c->st.publish_eagain++;
			return -EAGAIN;
		}
		m->topic_id = sl_cl_topic_to_broker(c, topic_id);
		c->claim = m;
		c->claim_msg = true;
		c->claim_data = m + 1;
		*data = m + 1;
		return 0;
	} else {
		p = sl_cl_tx_claim(c, flen);
		if (p == NULL) {
			c->st.publish_eagain++;
			return -EAGAIN;
		}
	}
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, flen, c->session);
	p->topic_id = sl_cl_topic_to_broker(c, topic_id);
	p->hdrs_len = 0;
	p->reserved = 0;
	c->claim = p;
	c->claim_msg = false;
	c->claim_data = p + 1;
	*data = p + 1;
	return 0;
}

int
sl_client_claim(struct sl_client *c, uint32_t topic_id, uint32_t len, void **data)
{
	return claim(c, topic_id, len, data, true);
}

/* Send the open claim's message (@pseq, @flags, @hdrs_len set): commit its
 * frame or message record, or fragments when it is in the big buffer.
 * Returns 0, a count of fragments still to go (> 0), or -errno. */
static int
commit_send(struct sl_client *c, uint64_t pseq, uint64_t timestamp, uint16_t flags,
	    uint16_t hdrs_len)
{
	if (c->claim_msg) {
		struct sl_shm_msg *m = c->claim;

		m->flags = flags;
		m->hdrs_len = hdrs_len;
		m->seq = pseq;
		m->timestamp = timestamp;
		sl_shm_link_commit_msg(&c->shm, c->claim_len);
		c->tx_count++;
		return 0;
	}
	struct sl_publish *p = c->claim;

	p->h.flags = flags;
	p->h.version = sl_proto_frame_version(SL_FT_PUBLISH, flags);
	p->hdrs_len = hdrs_len;
	p->timestamp = timestamp;
	p->producer_seq = pseq;
	if (c->big_len)
		return sl_cl_frag_send(c, p->topic_id, pseq, timestamp, flags,
				       (const uint8_t *)(p + 1), c->big_len);
	return sl_cl_tx_commit(c, p, p->h.length);
}

/* Commit the open claim; its first @hdrs_len bytes are a header block (v4). */
static int
commit(struct sl_client *c, uint64_t timestamp, uint16_t flags, uint16_t hdrs_len)
{
	bool ack_req = (flags & SL_PUB_F_ACK_REQ) != 0;
	uint32_t topic_id = c->claim_topic, len = c->claim_len;
	struct ptopic *t = NULL;
	struct pub_rec *r;
	uint64_t seq, pseq, head = c->prod.arena_head;
	int rc = 0;

	seq = c->pub_seq + 1;
	if (hdrs_len)
		flags |= SL_PUB_F_HDRS;
	/*
	 * With a producer, only publishes that ask for an ACK are numbered, per
	 * topic, and kept for resending: a publish without one carries 0, which
	 * the broker does not deduplicate, so its loss leaves no hole in the
	 * topic's sequence that no resend could fill.
	 */
	pseq = seq;
	if (c->prod.bound && !ack_req) {
		pseq = 0;
		c->prod.rec[seq & c->win.mask].kept = 0;
	} else if (c->prod.bound) {
		/* Only what is kept for resending needs its topic's numbering
		 * and a send time (a clock read): a publish without an ACK
		 * skips both. */
		t = sl_cl_ptopic(c, topic_id);
		pseq = t->last_pseq + 1;
		/* The first of the topic starts the broker's record of the
		 * stream (resend rounds flag their first one too). */
		if (pseq == 1)
			flags |= SL_PUB_F_FIRST;
		r = &c->prod.rec[seq & c->win.mask];
		r->pseq = pseq;
		r->timestamp = timestamp;
		r->len = len;
		r->hdrs_len = hdrs_len;
		r->sent_ns = sl_now_ns();
		c->win.slot[seq & c->win.mask].topic_id = topic_id;
		/* Copied before the frame is committed: over shared memory
		 * the broker may take it from the ring at once. */
		sl_cl_producer_sent(c, seq, c->claim_data, len, true);
	}
	rc = commit_send(c, pseq, timestamp, flags, hdrs_len);
	c->claim = NULL;
	if (rc > 0 && c->prod.bound)
		c->prod.rec[seq & c->win.mask].sent_ns = 0; /* the rest: next tick */
	if (rc < 0) {
		if (c->prod.bound && c->prod.rec[seq & c->win.mask].kept) {
			sl_cl_producer_settled(c, seq);
			c->prod.rec[seq & c->win.mask].kept = 0;
			c->prod.arena_head = head;
		}
		if (rc == -EAGAIN)
			c->st.publish_eagain++;
		return rc;
	}
	/* The sequence advances only for frames the broker's transport took,
	 * so acks can be matched against a gap-free range. */
	c->pub_seq++;
	if (t != NULL && ack_req)
		t->last_pseq++;
	c->st.published++;
	win_sent(c, topic_id, flags);
	return 0;
}

int
sl_client_commit(struct sl_client *c, uint64_t timestamp, uint16_t flags)
{
	if (c->claim == NULL || (flags & ~SL_PUB_F_ACK_REQ) != 0)
		return -EINVAL;
	return commit(c, timestamp, flags, 0);
}

void
sl_client_abort(struct sl_client *c)
{
	struct sl_heartbeat *hb;

	if (c->claim == NULL)
		return;
	if (c->claim_msg) {
		/* The record was reserved: commit it as a frame the broker
		 * reads and ignores, so the ring stays in step (a message
		 * record's 24 bytes after its commit word hold a heartbeat). */
		_Static_assert(sizeof(struct sl_heartbeat) <= SL_SHM_MSG_BODY, "abort heartbeat");
		hb = (struct sl_heartbeat *)((uint8_t *)c->claim + SL_SHM_REC_HDR);
		sl_proto_hdr_init(&hb->h, SL_FT_HEARTBEAT, 0, sizeof(*hb), c->session);
		hb->timestamp = 0;
		sl_shm_link_commit(&c->shm, sizeof(*hb));
	}
	c->claim = NULL;
}

int
sl_client_publish(struct sl_client *c, uint32_t topic_id, const void *data, uint32_t len,
		  uint64_t timestamp, uint16_t flags)
{
	void *d;
	int rc;

	if ((len != 0 && data == NULL) || (flags & ~SL_PUB_F_ACK_REQ) != 0 || c->claim != NULL)
		return c->dead ? -ENOTCONN : -EINVAL;
	rc = claim(c, topic_id, len, &d, (flags & SL_PUB_F_ACK_REQ) != 0);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(d, data, len);
	return sl_client_commit(c, timestamp, flags);
}

int
sl_client_publish_ex(struct sl_client *c, uint32_t topic_id, const void *data, uint32_t len,
		     const struct sl_pub_opts *o)
{
	uint8_t block[SL_MAX_HDRS_LEN];
	int hl = 0, rc;
	uint8_t *d;

	if (o == NULL)
		return -EINVAL;
	if (o->n_hdrs == 0 && o->key_len == 0)
		return sl_client_publish(c, topic_id, data, len, o->timestamp, o->flags);
	if ((len != 0 && data == NULL) || (o->flags & ~SL_PUB_F_ACK_REQ) != 0 ||
	    c->claim != NULL)
		return c->dead ? -ENOTCONN : -EINVAL;
	/* A version 3 broker takes no header block. */
	if (sl_cl_version(c) < SL_PROTO_V4)
		return -EPROTONOSUPPORT;
	hl = sl_hdrs_build(block, sizeof(block), o->key, o->key_len, o->hdrs, o->n_hdrs);
	if (hl < 0)
		return hl == -ENOSPC ? -EINVAL : hl;
	{
		struct sl_hdrs_view v;

		/* Names that start "sl-" are the broker's. */
		if (sl_hdrs_parse(block, (size_t)hl, &v) < 0 || sl_hdrs_reserved(&v))
			return -EINVAL;
	}
	rc = claim(c, topic_id, (uint32_t)hl + len, (void **)&d,
		   (o->flags & SL_PUB_F_ACK_REQ) != 0);
	if (rc < 0)
		return rc;
	memcpy(d, block, (size_t)hl);
	if (len)
		memcpy(d + hl, data, len);
	return commit(c, o->timestamp, o->flags, (uint16_t)hl);
}

uint64_t
sl_client_acked(const struct sl_client *c)
{
	return c->win.acked;
}

uint64_t
sl_client_settled(const struct sl_client *c)
{
	return c->win.settled;
}

int
sl_client_pub_status(const struct sl_client *c, uint64_t pub_seq, uint16_t *error)
{
	const struct pub_slot *s;

	if (error != NULL)
		*error = SL_E_NONE;
	if (pub_seq == 0 || pub_seq > c->pub_seq)
		return -ENOENT;
	if (c->pub_seq - pub_seq > c->win.mask)
		return -ESTALE;
	s = &c->win.slot[pub_seq & c->win.mask];
	if (error != NULL)
		*error = s->error;
	return s->state;
}

uint64_t
sl_client_last_seq(const struct sl_client *c)
{
	return c->pub_seq;
}
