/* SPDX-License-Identifier: BSD-3-Clause */
/* Idempotent producers: producer ids, the registry of latest epochs and the per-worker dedup table. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "producer.h"

struct sl_producer_slot {
	uint64_t id; /* 0: free */
	uint32_t epoch;
	uint32_t reserved;
	uint64_t last_used_s;
};

/* splitmix64's finaliser: spreads every input bit over the word. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t
sl_producer_id(const char *user, const char *name, uint32_t nlen)
{
	/* FNV-1a over user, a NUL, and name: stable across builds and hosts. */
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p;
	uint32_t i;

	for (p = (const unsigned char *)user; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h = (h ^ 0) * 0x100000001b3ull;
	for (i = 0; i < nlen; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ull;
	h = mix64(h);
	return h ? h : 1;
}

static uint32_t
pow2_at_least(uint32_t n)
{
	uint32_t b = 1;

	while (b < n && b < (1u << 30))
		b <<= 1;
	return b;
}

/* --- slot index shared by both tables ------------------------------------------------ */

static void
ix_fini(struct sl_slot_index *x)
{
	free(x->bucket);
	free(x->next);
	free(x->free_slots);
	memset(x, 0, sizeof(*x));
}

static int
ix_init(struct sl_slot_index *x, uint32_t cap)
{
	uint32_t i;

	memset(x, 0, sizeof(*x));
	x->cap = cap;
	x->nbuckets = pow2_at_least(cap * 2);
	x->bucket = calloc(x->nbuckets, sizeof(*x->bucket));
	x->next = calloc(cap, sizeof(*x->next));
	x->free_slots = calloc(cap, sizeof(*x->free_slots));
	if (!x->bucket || !x->next || !x->free_slots) {
		ix_fini(x);
		return -ENOMEM;
	}
	for (i = 0; i < cap; i++)
		x->free_slots[i] = cap - 1 - i;
	x->n_free = cap;
	return 0;
}

/* A free slot chained under @hash, or -1 when none is left. */
static int
ix_take(struct sl_slot_index *x, uint64_t hash)
{
	uint32_t b = (uint32_t)(hash & (x->nbuckets - 1)), s;

	if (x->n_free == 0)
		return -1;
	s = x->free_slots[--x->n_free];
	x->next[s] = x->bucket[b];
	x->bucket[b] = s + 1;
	x->n++;
	return (int)s;
}

/* Unchain slot @s (chained under @hash) and free it. */
static void
ix_put(struct sl_slot_index *x, uint64_t hash, uint32_t s)
{
	uint32_t *pp = &x->bucket[hash & (x->nbuckets - 1)];

	while (*pp && *pp != s + 1)
		pp = &x->next[*pp - 1];
	if (*pp)
		*pp = x->next[s];
	x->free_slots[x->n_free++] = s;
	x->n--;
}

/* First slot + 1 of the chain of @hash (0: none); then x->next[slot]. */
static uint32_t
ix_first(const struct sl_slot_index *x, uint64_t hash)
{
	return x->bucket[hash & (x->nbuckets - 1)];
}

/* The next slot for a bounded expiry scan. */
static uint32_t
ix_scan_next(struct sl_slot_index *x)
{
	uint32_t s = x->scan;

	x->scan = (x->scan + 1) % x->cap;
	return s;
}

/* --- registry --------------------------------------------------------------------- */

int
sl_producer_reg_init(struct sl_producer_reg *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	if (cap == 0 || cap > (1u << 24))
		return -EINVAL;
	r->slot = calloc(cap, sizeof(*r->slot));
	if (r->slot == NULL || ix_init(&r->ix, cap) < 0) {
		free(r->slot);
		r->slot = NULL;
		return -ENOMEM;
	}
	return 0;
}

void
sl_producer_reg_fini(struct sl_producer_reg *r)
{
	ix_fini(&r->ix);
	free(r->slot);
	memset(r, 0, sizeof(*r));
}

static struct sl_producer_slot *
reg_find(struct sl_producer_reg *r, uint64_t id)
{
	uint32_t s = ix_first(&r->ix, mix64(id));

	while (s) {
		if (r->slot[s - 1].id == id)
			return &r->slot[s - 1];
		s = r->ix.next[s - 1];
	}
	return NULL;
}

static struct sl_producer_slot *
reg_add(struct sl_producer_reg *r, uint64_t id)
{
	int s = ix_take(&r->ix, mix64(id));

	if (s < 0)
		return NULL;
	memset(&r->slot[s], 0, sizeof(r->slot[s]));
	r->slot[s].id = id;
	return &r->slot[s];
}

int
sl_producer_reg_bind(struct sl_producer_reg *r, uint64_t id, uint32_t req, uint64_t now_s,
		     uint32_t *epoch)
{
	struct sl_producer_slot *p = reg_find(r, id);
	uint64_t wall = now_s > SL_PRODUCER_EPOCH_BASE ? now_s - SL_PRODUCER_EPOCH_BASE : 1;
	uint32_t latest = p ? p->epoch : 0;
	uint64_t e;

	if (req != 0 && req < latest)
		return -EPERM;
	if (p == NULL && (p = reg_add(r, id)) == NULL)
		return -ENOSPC;
	if (req != 0) {
		e = req;
	} else {
		/* A new instance: above every epoch seen, and above the clock's
		 * count so that a restarted broker that forgot still grows. */
		e = (uint64_t)latest + 1;
		if (e < wall)
			e = wall;
		if (e > UINT32_MAX)
			e = UINT32_MAX;
	}
	p->epoch = (uint32_t)e;
	p->last_used_s = now_s;
	*epoch = p->epoch;
	return 0;
}

int
sl_producer_reg_seed(struct sl_producer_reg *r, uint64_t id, uint32_t epoch, uint64_t now_s)
{
	struct sl_producer_slot *p = reg_find(r, id);

	if (p == NULL && (p = reg_add(r, id)) == NULL)
		return -ENOSPC;
	if (epoch > p->epoch)
		p->epoch = epoch;
	p->last_used_s = now_s;
	return 0;
}

uint32_t
sl_producer_reg_expire(struct sl_producer_reg *r, uint64_t now_s, uint64_t idle_s,
		       uint32_t max_scan)
{
	uint32_t i, s, gone = 0;

	for (i = 0; i < max_scan && i < r->ix.cap; i++) {
		s = ix_scan_next(&r->ix);
		if (r->slot[s].id && r->slot[s].last_used_s + idle_s < now_s) {
			ix_put(&r->ix, mix64(r->slot[s].id), s);
			r->slot[s].id = 0;
			gone++;
		}
	}
	return gone;
}

/* --- dedup table -------------------------------------------------------------------- */

static uint64_t
dd_hash(uint64_t id, uint32_t topic)
{
	return mix64(id ^ ((uint64_t)topic << 32 | topic));
}

int
sl_dedup_init(struct sl_dedup *d, uint32_t cap)
{
	memset(d, 0, sizeof(*d));
	if (cap == 0 || cap > (1u << 22))
		return -EINVAL;
	d->e = calloc(cap, sizeof(*d->e));
	if (d->e == NULL || ix_init(&d->ix, cap) < 0) {
		free(d->e);
		d->e = NULL;
		return -ENOMEM;
	}
	return 0;
}

void
sl_dedup_fini(struct sl_dedup *d)
{
	ix_fini(&d->ix);
	free(d->e);
	memset(d, 0, sizeof(*d));
}

static int
dd_find(const struct sl_dedup *d, uint64_t id, uint32_t topic)
{
	uint32_t s = ix_first(&d->ix, dd_hash(id, topic));

	while (s) {
		const struct sl_dedup_entry *e = &d->e[s - 1];

		if (e->producer_id == id && e->topic == topic)
			return (int)(s - 1);
		s = d->ix.next[s - 1];
	}
	return -1;
}

static int
dd_add(struct sl_dedup *d, uint64_t id, uint32_t epoch, uint32_t topic)
{
	int s = ix_take(&d->ix, dd_hash(id, topic));
	struct sl_dedup_entry *e;

	if (s < 0)
		return -1;
	e = &d->e[s];
	e->producer_id = id;
	e->topic = topic;
	e->epoch = epoch;
	e->have = 0;
	return s;
}

static void
dd_del(struct sl_dedup *d, uint32_t s)
{
	ix_put(&d->ix, dd_hash(d->e[s].producer_id, d->e[s].topic), s);
	d->e[s].producer_id = 0;
}

/* The entry's topic seq for @pseq, or 0 when it is not remembered. */
static uint64_t
dd_orig(const struct sl_dedup_entry *e, uint64_t pseq)
{
	if (pseq < e->first_seq || e->last_seq - pseq >= SL_DEDUP_RING)
		return 0;
	return e->ring[pseq % SL_DEDUP_RING];
}

enum sl_dedup_verdict
sl_dedup_check(struct sl_dedup *d, uint64_t id, uint32_t epoch, uint32_t topic, uint64_t pseq,
	       bool first, uint64_t now, uint32_t *slot, uint64_t *orig_seq)
{
	struct sl_dedup_entry *e;
	int s = dd_find(d, id, topic);

	if (s < 0) {
		s = dd_add(d, id, epoch, topic);
		if (s < 0)
			return SL_DEDUP_FULL;
	}
	e = &d->e[s];
	*slot = (uint32_t)s;
	if (epoch < e->epoch)
		return SL_DEDUP_FENCED;
	e->last_used = now;
	if (epoch > e->epoch) {
		/* A new instance: its sequence starts wherever it starts. */
		e->epoch = epoch;
		e->have = 0;
	}
	/* A stream starts at the producer's lowest unsettled publish, which
	 * it flags: any other may have overtaken an earlier one. */
	if (!e->have)
		return first ? SL_DEDUP_ACCEPT : SL_DEDUP_OUT_OF_ORDER;
	if (pseq == e->last_seq + 1)
		return SL_DEDUP_ACCEPT;
	if (pseq <= e->last_seq) {
		*orig_seq = dd_orig(e, pseq);
		return SL_DEDUP_DUP;
	}
	/* Past a hole, flagged FIRST: the producer's lowest unsettled publish,
	 * so it holds nothing below it to send. The hole's publishes were
	 * settled without being stored here (refused, BUSY say, or acknowledged
	 * by an earlier primary that did not replicate them): refusing it would
	 * refuse every resend of the stream for good. */
	if (first)
		return SL_DEDUP_ACCEPT;
	return SL_DEDUP_OUT_OF_ORDER;
}

void
sl_dedup_commit(struct sl_dedup *d, uint32_t slot, uint64_t pseq, uint64_t seq)
{
	struct sl_dedup_entry *e = &d->e[slot];
	uint64_t p;

	if (!e->have) {
		e->have = 1;
		e->first_seq = pseq;
	} else {
		/* Sequences skipped (a stream restarted past a hole): nothing
		 * stored to answer a duplicate of them with. */
		for (p = e->last_seq + 1; p < pseq && p - e->last_seq <= SL_DEDUP_RING; p++)
			e->ring[p % SL_DEDUP_RING] = 0;
	}
	e->last_seq = pseq;
	e->ring[pseq % SL_DEDUP_RING] = seq;
}

int
sl_dedup_rebuild(struct sl_dedup *d, uint64_t id, uint32_t epoch, uint32_t topic, uint64_t pseq,
		 uint64_t seq, uint64_t now)
{
	struct sl_dedup_entry *e;
	int s = dd_find(d, id, topic);

	if (s < 0 && (s = dd_add(d, id, epoch, topic)) < 0)
		return -ENOSPC;
	e = &d->e[s];
	e->last_used = now;
	if (epoch < e->epoch)
		return 0; /* an older instance's record */
	if (epoch > e->epoch) {
		e->epoch = epoch;
		e->have = 0;
	}
	if (e->have && pseq <= e->last_seq)
		return 0; /* stored twice by an older broker: the first counts */
	/* Sequences the journal does not hold: sl_dedup_commit clears them. */
	sl_dedup_commit(d, (uint32_t)s, pseq, seq);
	return 0;
}

void
sl_dedup_drop_topic(struct sl_dedup *d, uint32_t topic)
{
	uint32_t s;

	for (s = 0; s < d->ix.cap; s++)
		if (d->e[s].producer_id && d->e[s].topic == topic)
			dd_del(d, s);
}

uint32_t
sl_dedup_expire(struct sl_dedup *d, uint64_t now, uint64_t idle, uint32_t max_scan)
{
	uint32_t i, s, gone = 0;

	for (i = 0; i < max_scan && i < d->ix.cap; i++) {
		s = ix_scan_next(&d->ix);
		if (d->e[s].producer_id && d->e[s].last_used + idle < now) {
			dd_del(d, s);
			gone++;
		}
	}
	return gone;
}
