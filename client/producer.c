/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice idempotent producer: per-topic producer sequences, copies of unacknowledged
 * publishes and their resending, oldest first, with backoff. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "client_internal.h"

#define RESEND_PER_TICK 1024u /* publishes one tick resends at most: polls stay short */

static uint64_t
mix(uint32_t topic, uint64_t pseq)
{
	uint64_t h = ((uint64_t)topic << 40) ^ pseq;

	/* splitmix64's finaliser: neighbouring keys land far apart. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static uint64_t
home(const struct sl_client *c, uint64_t seq)
{
	const struct pub_slot *s = &c->win.slot[seq & c->win.mask];

	return mix(s->topic_id, c->prod.rec[seq & c->win.mask].pseq) & c->prod.map_mask;
}

/* Replace characters a producer name may not hold (sl_proto_topic_name_valid). */
static void
name_clean(char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			*s = '_';
}

int
sl_cl_producer_init(struct sl_client *c, const struct sl_client_opts *o)
{
	struct producer *p = &c->prod;
	uint64_t size = c->win.mask + 1;
	uint64_t arena = o->resend_bytes ? o->resend_bytes : DEFAULT_RESEND_BYTES;
	uint32_t r = 0;

	if (o->producer != NULL) {
		size_t n = strlen(o->producer);

		if (n == 0 || n > SL_MAX_PRODUCER_NAME ||
		    !sl_proto_topic_name_valid(o->producer, n))
			return -EINVAL;
		memcpy(p->name, o->producer, n);
	} else {
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
			r = (uint32_t)(sl_now_ns() ^ (uint64_t)getpid());
		snprintf(p->name, sizeof(p->name), "%.40s-%d-%08x",
			 o->user ? o->user : o->name ? o->name : program_invocation_short_name,
			 (int)getpid(), r);
		name_clean(p->name);
	}
	while (arena & (arena - 1))
		arena += arena & -arena;
	p->rec = calloc(size, sizeof(*p->rec));
	p->map = calloc(2 * size, sizeof(*p->map));
	p->topics = calloc(PTOPIC_SLOTS, sizeof(*p->topics));
	p->used = calloc(PTOPIC_SLOTS, sizeof(*p->used));
	p->arena = malloc(arena);
	if (p->rec == NULL || p->map == NULL || p->topics == NULL || p->used == NULL ||
	    p->arena == NULL)
		return -ENOMEM; /* sl_cl_producer_free releases what was allocated */
	p->map_mask = 2 * size - 1;
	p->arena_size = arena;
	p->resend_base_ns = (uint64_t)(o->resend_ms ? o->resend_ms : DEFAULT_RESEND_MS) * NS_PER_MS;
	p->resend_ns = p->resend_base_ns;
	return 0;
}

void
sl_cl_producer_free(struct sl_client *c)
{
	struct producer *p = &c->prod;

	free(p->rec);
	free(p->map);
	free(p->topics);
	free(p->used);
	free(p->arena);
	memset(p, 0, sizeof(*p));
}

struct ptopic *
sl_cl_ptopic(struct sl_client *c, uint32_t topic_id)
{
	struct producer *p = &c->prod;
	uint32_t i = (topic_id * 2654435761u) & (PTOPIC_SLOTS - 1);
	unsigned int n;

	for (n = 0; n < PTOPIC_SLOTS; n++, i = (i + 1) & (PTOPIC_SLOTS - 1)) {
		struct ptopic *t = &p->topics[i];

		if (t->topic_id == topic_id)
			return t;
		if (t->topic_id == SL_TOPIC_INVALID) {
			t->topic_id = topic_id;
			t->last_pseq = 0;
			p->used[p->n_used++] = i;
			return t;
		}
	}
	return NULL;
}

/* Where a copy of @len bytes would start, or UINT64_MAX without room. */
static uint64_t
arena_place(const struct producer *p, uint32_t len)
{
	uint64_t need = sl_proto_align(len);
	uint64_t pos = p->arena_head & (p->arena_size - 1);
	/* A copy never wraps: the end of the ring is skipped instead. */
	uint64_t skip = pos + need > p->arena_size ? p->arena_size - pos : 0;

	if (p->arena_head + skip + need - p->arena_tail > p->arena_size)
		return UINT64_MAX;
	return p->arena_head + skip;
}

bool
sl_cl_arena_room(const struct sl_client *c, uint32_t len)
{
	return arena_place(&c->prod, len) != UINT64_MAX;
}

static void
map_put(struct sl_client *c, uint64_t seq)
{
	struct producer *p = &c->prod;
	uint64_t i = home(c, seq);

	while (p->map[i] != 0)
		i = (i + 1) & p->map_mask;
	p->map[i] = seq;
}

/* Linear probing's deletion by backward shift: no tombstones to age. */
static void
map_del(struct sl_client *c, uint64_t seq)
{
	struct producer *p = &c->prod;
	uint64_t i = home(c, seq);
	uint64_t j, k;

	while (p->map[i] != seq) {
		if (p->map[i] == 0)
			return;
		i = (i + 1) & p->map_mask;
	}
	p->map[i] = 0;
	for (j = i;;) {
		j = (j + 1) & p->map_mask;
		if (p->map[j] == 0)
			return;
		k = home(c, p->map[j]);
		/* Stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (k > i && k <= j) : (k > i || k <= j))
			continue;
		p->map[i] = p->map[j];
		p->map[j] = 0;
		i = j;
	}
}

void
sl_cl_producer_sent(struct sl_client *c, uint64_t seq, const void *data, uint32_t len,
		    bool ack_req)
{
	struct producer *p = &c->prod;
	struct pub_rec *r = &p->rec[seq & c->win.mask];
	uint64_t off;

	r->kept = 0;
	if (!ack_req)
		return;
	off = arena_place(p, len); /* room checked at claim */
	if (off == UINT64_MAX)
		return;
	memcpy(p->arena + (off & (p->arena_size - 1)), data, len);
	p->arena_head = off + sl_proto_align(len);
	r->off = off;
	r->kept = 1;
	map_put(c, seq);
}

void
sl_cl_producer_settled(struct sl_client *c, uint64_t seq)
{
	if (c->prod.rec != NULL && c->prod.rec[seq & c->win.mask].kept)
		map_del(c, seq);
}

/* win_advance passed publish @seq: its copy's bytes are free. Copies are
 * freed in the order they were made, so the tail only moves forward. */
void
sl_cl_producer_release(struct sl_client *c, uint64_t seq)
{
	struct producer *p = &c->prod;
	struct pub_rec *r;

	if (p->rec == NULL)
		return;
	r = &p->rec[seq & c->win.mask];
	if (!r->kept)
		return;
	r->kept = 0;
	p->arena_tail = r->off + sl_proto_align(r->len);
}

uint64_t
sl_cl_producer_find(const struct sl_client *c, uint32_t topic_id, uint64_t pseq)
{
	const struct producer *p = &c->prod;
	uint64_t best = 0;
	uint32_t n;

	if (p->map == NULL || pseq == 0)
		return 0;
	if (topic_id == SL_TOPIC_INVALID) {
		/* An ERROR names no topic: the oldest publish with that sequence. */
		for (n = 0; n < p->n_used; n++) {
			uint64_t s = sl_cl_producer_find(c, p->topics[p->used[n]].topic_id, pseq);

			if (s != 0 && (best == 0 || s < best))
				best = s;
		}
		return best;
	}
	for (uint64_t i = mix(topic_id, pseq) & p->map_mask; p->map[i] != 0;
	     i = (i + 1) & p->map_mask) {
		uint64_t s = p->map[i];

		if (c->win.slot[s & c->win.mask].topic_id == topic_id &&
		    p->rec[s & c->win.mask].pseq == pseq)
			return s;
	}
	return 0;
}

void
sl_cl_on_producer_id(struct sl_client *c, const struct sl_producer_id *p)
{
	if (!sl_cl_req_match(&c->pend, p->req_id) || c->pend.type != SL_FT_PRODUCER)
		return;
	c->pend.epoch = p->epoch;
	c->pend.id = p->producer_id;
	sl_cl_pend_finish(&c->pend, p->producer_id != 0 && p->epoch != 0 ? 0 : -EPROTO);
}

/* Send publish @seq again, from its copy: 0, or -EAGAIN when the transport is full. */
static int
resend_one(struct sl_client *c, uint64_t seq)
{
	const struct pub_slot *s = &c->win.slot[seq & c->win.mask];
	const struct pub_rec *r = &c->prod.rec[seq & c->win.mask];
	const uint8_t *data = c->prod.arena + (r->off & (c->prod.arena_size - 1));
	uint32_t topic = sl_cl_topic_to_broker(c, s->topic_id);
	uint32_t flen = (uint32_t)sizeof(struct sl_publish) + r->len;
	struct ptopic *t = sl_cl_ptopic(c, s->topic_id);
	uint16_t flags = SL_PUB_F_ACK_REQ | (r->hdrs_len ? SL_PUB_F_HDRS : 0);
	struct sl_publish *p;
	int rc;

	/* A round resends oldest first: the topic's first one in the round is
	 * its lowest unsettled publish, which may start the broker's record of
	 * the stream (after a broker restart, say). */
	if (t != NULL && t->round != c->prod.round_no)
		flags |= SL_PUB_F_FIRST;
	if (r->len > sl_cl_frame_max(c)) {
		rc = sl_cl_frag_send(c, topic, r->pseq, r->timestamp, flags, data, r->len);
		if (rc >= 0 && t != NULL)
			t->round = c->prod.round_no;
		return rc < 0 ? rc : 0; /* pieces left out go with the next round */
	}
	p = sl_cl_tx_claim(c, flen);
	if (p == NULL)
		return -EAGAIN;
	if (t != NULL)
		t->round = c->prod.round_no;
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, flags, flen, c->session);
	p->topic_id = topic;
	p->hdrs_len = r->hdrs_len;
	p->reserved = 0;
	p->producer_seq = r->pseq;
	p->timestamp = r->timestamp;
	memcpy(p + 1, data, r->len);
	return sl_cl_tx_commit(c, p, flen);
}

/* Is a resend round due: the oldest unacknowledged publish waited its
 * interval, or the broker said a publish came out of order? */
static bool
round_due(struct sl_client *c, uint64_t now)
{
	struct producer *p = &c->prod;
	const struct pub_rec *r = &p->rec[(c->win.settled + 1) & c->win.mask];
	uint64_t gap = p->resend_base_ns / 4 > NS_PER_MS ? p->resend_base_ns / 4 : NS_PER_MS;

	if (r->sent_ns == 0 || now - r->sent_ns >= p->resend_ns)
		return true;
	/* After OUT_OF_ORDER, soon, but not once per refusal of a burst; and
	 * only while rounds settle something: a broker that refuses every
	 * round's resends waits out the backed-off interval, not gap. */
	return p->ooo && (p->round_ns == 0 || c->win.settled != p->progress) &&
	       now - p->round_ns >= gap;
}

void
sl_cl_resend_tick(struct sl_client *c, uint64_t now)
{
	struct producer *p = &c->prod;
	struct pub_window *w = &c->win;
	uint64_t flush_ns = c->batch.flush_ns;
	unsigned int n = 0;

	if (!p->v2 || !p->bound || p->fenced || c->session == 0)
		return;
	if (p->cursor == 0) {
		if (w->settled == c->pub_seq) {
			p->resend_ns = p->resend_base_ns;
			p->ooo = false;
			return;
		}
		if (!round_due(c, now))
			return;
		/* No publish settled since the last round: back off, refused
		 * OUT_OF_ORDER or not (else a refusing broker draws a round
		 * per refusal, at the rate of the transport). */
		if (p->round_ns != 0 && w->settled == p->progress)
			p->resend_ns = 2 * p->resend_ns < RESEND_MAX_NS ? 2 * p->resend_ns
									: RESEND_MAX_NS;
		else
			p->resend_ns = p->resend_base_ns;
		p->progress = w->settled;
		p->round_ns = now;
		p->round_no++;
		p->ooo = false;
		p->cursor = w->settled + 1;
	}
	/* Resent publishes share datagrams, whatever opts.flush_us says. */
	c->batch.flush_ns = 1;
	for (; p->cursor <= c->pub_seq && n < RESEND_PER_TICK; p->cursor++) {
		const struct pub_slot *s = &w->slot[p->cursor & w->mask];
		struct pub_rec *r = &p->rec[p->cursor & w->mask];

		if (s->state != SL_PUB_OUTSTANDING || !r->kept)
			continue;
		if (resend_one(c, p->cursor) < 0)
			break; /* the transport is full: go on from here next tick */
		r->sent_ns = now;
		c->st.resent++;
		n++;
	}
	if (p->cursor > c->pub_seq)
		p->cursor = 0;
	c->batch.flush_ns = flush_ns;
	(void)sl_cl_flush(c);
}

void
sl_cl_resend_all(struct sl_client *c)
{
	struct producer *p = &c->prod;
	uint64_t s;

	if (p->rec == NULL)
		return;
	for (s = c->win.settled + 1; s <= c->pub_seq; s++)
		p->rec[s & c->win.mask].sent_ns = 0;
	p->cursor = 0;
	p->round_ns = 0;
	p->resend_ns = p->resend_base_ns;
}
