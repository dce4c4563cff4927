/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice publishing: the publish window (acks and refusals), claim, commit and publish. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	if (seq == w->settled + 1)
		win_advance(c);
	if (w->fn != NULL)
		w->fn(w->arg, seq, s->topic_id, error);
	return;

ignored:
	c->st.acks_ignored++;
}

int
sl_client_claim(struct sl_client *c, uint32_t topic_id, uint32_t len, void **data)
{
	uint32_t flen = (uint32_t)sizeof(struct sl_publish) + len;
	struct sl_publish *p;

	if (c->dead)
		return -ENOTCONN;
	if (c->claim != NULL || data == NULL)
		return -EINVAL;
	if (len > c->max_payload)
		return -EMSGSIZE;
	if (win_full(c)) {
		c->st.window_full++;
		c->st.publish_eagain++;
		return -EAGAIN;
	}
	if (c->shm.r) {
		p = sl_shm_link_claim(&c->shm, flen);
		if (p == NULL) {
			c->st.publish_eagain++;
			return -EAGAIN;
		}
	} else {
		p = (struct sl_publish *)c->txbuf;
	}
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, flen, c->session);
	p->topic_id = topic_id;
	p->payload_len = 0;
	c->claim = p;
	*data = p + 1;
	return 0;
}

int
sl_client_commit(struct sl_client *c, uint64_t timestamp, uint16_t flags)
{
	struct sl_publish *p = c->claim;
	uint32_t topic_id;
	int rc = 0;

	if (p == NULL || (flags & ~SL_PUB_F_ACK_REQ) != 0)
		return -EINVAL;
	c->claim = NULL;
	topic_id = p->topic_id; /* over shared memory, the broker's once committed */
	p->h.flags = flags;
	p->producer_seq = c->pub_seq + 1;
	p->timestamp = timestamp;
	if (c->shm.r) {
		sl_shm_link_commit(&c->shm, p->h.length);
	} else {
		rc = sl_cl_tx_frame(c, p, p->h.length);
		if (rc < 0) {
			if (rc == -EAGAIN)
				c->st.publish_eagain++;
			return rc;
		}
	}
	/* The sequence advances only for frames the broker's transport took,
	 * so acks can be matched against a gap-free range. */
	c->pub_seq++;
	c->st.published++;
	win_sent(c, topic_id, flags);
	return 0;
}

void
sl_client_abort(struct sl_client *c)
{
	struct sl_publish *p = c->claim;

	if (p == NULL)
		return;
	c->claim = NULL;
	if (c->shm.r) {
		/* The record was reserved: commit it as a frame the broker
		 * reads and ignores, so the ring stays in step. */
		sl_proto_hdr_init(&p->h, SL_FT_HEARTBEAT, 0, sizeof(struct sl_heartbeat),
				  c->session);
		((struct sl_heartbeat *)p)->timestamp = 0;
		sl_shm_link_commit(&c->shm, sizeof(struct sl_heartbeat));
	}
}

int
sl_client_publish(struct sl_client *c, uint32_t topic_id, const void *data, uint32_t len,
		  uint64_t timestamp, uint16_t flags)
{
	void *d;
	int rc;

	if ((len != 0 && data == NULL) || (flags & ~SL_PUB_F_ACK_REQ) != 0 || c->claim != NULL)
		return c->dead ? -ENOTCONN : -EINVAL;
	rc = sl_client_claim(c, topic_id, len, &d);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(d, data, len);
	return sl_client_commit(c, timestamp, flags);
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
