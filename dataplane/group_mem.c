/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer-group engine tables in the caller's memory: layout, indexes, heaps, read-out. */

#include "group_internal.h"

#include <errno.h>
#include <string.h>

/* --- sizes ---------------------------------------------------------------------- */

static uint32_t
pow2_at_least(uint64_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

static size_t
align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static int
cfg_valid(const struct sl_group_cfg *c)
{
	if (c == NULL)
		return 0;
	if (c->policy < SL_GROUP_ROUND_ROBIN || c->policy > SL_GROUP_KEY_AFFINITY)
		return 0;
	if (c->max_members < 1 || c->max_members > SL_MAX_GROUP_MEMBERS)
		return 0;
	if (c->max_inflight < 1 || c->max_inflight > SL_MAX_GROUP_INFLIGHT)
		return 0;
	if (c->max_blocked > SL_MAX_GROUP_BLOCKED ||
	    (c->max_blocked && c->policy != SL_GROUP_KEY_AFFINITY))
		return 0;
	return c->max_credit <= SL_MAX_GROUP_CREDIT;
}

uint32_t
sl_grp_key_cap(const struct sl_group_cfg *c)
{
	return c->policy == SL_GROUP_KEY_AFFINITY ? c->max_inflight + c->max_blocked : 0;
}

/* Offsets of each table in the caller's memory; returns the total. */
static size_t
layout(const struct sl_group_cfg *c, size_t off[6])
{
	uint32_t kc = sl_grp_key_cap(c);
	size_t n = align64(sizeof(struct sl_group));

	off[0] = n; /* ents */
	n = align64(n + (size_t)c->max_inflight * sizeof(struct ent));
	off[1] = n; /* seq index */
	n = align64(n + (size_t)pow2_at_least(2ull * c->max_inflight) * sizeof(uint32_t));
	off[2] = n; /* the two heaps */
	n = align64(n + 2 * (size_t)c->max_inflight * sizeof(uint32_t));
	off[3] = n; /* keys */
	n = align64(n + (size_t)kc * sizeof(struct kent));
	off[4] = n; /* key index */
	n = align64(n + (kc ? (size_t)pow2_at_least(2ull * kc) * sizeof(uint32_t) : 0));
	off[5] = n; /* blocked */
	n = align64(n + (size_t)c->max_blocked * sizeof(struct bent));
	return n;
}

size_t
sl_group_mem_size(const struct sl_group_cfg *cfg)
{
	size_t off[6];

	return cfg_valid(cfg) ? layout(cfg, off) : 0;
}

int
sl_group_init(struct sl_group **out, const struct sl_group_cfg *cfg, void *mem, size_t len)
{
	struct sl_group *g = mem;
	size_t off[6], need;
	uint32_t i, kc;

	if (!cfg_valid(cfg) || mem == NULL || ((uintptr_t)mem & 63) != 0)
		return -EINVAL;
	need = layout(cfg, off);
	if (len < need)
		return -ENOMEM;
	memset(mem, 0, need);
	g->cfg = *cfg;
	if (g->cfg.max_credit == 0)
		g->cfg.max_credit = SL_MAX_GROUP_CREDIT;
	kc = sl_grp_key_cap(cfg);
	g->e = (struct ent *)((char *)mem + off[0]);
	g->sidx = (uint32_t *)((char *)mem + off[1]);
	g->smask = pow2_at_least(2ull * cfg->max_inflight) - 1;
	g->ph.a = (uint32_t *)((char *)mem + off[2]);
	g->xh.a = g->ph.a + cfg->max_inflight;
	g->k = (struct kent *)((char *)mem + off[3]);
	g->kidx = (uint32_t *)((char *)mem + off[4]);
	g->kmask = kc ? pow2_at_least(2ull * kc) - 1 : 0;
	g->b = (struct bent *)((char *)mem + off[5]);
	for (i = 0; i < cfg->max_inflight; i++)
		g->e[i].next = i + 1 < cfg->max_inflight ? i + 1 : NIL;
	g->efree = 0;
	for (i = 0; i < kc; i++)
		g->k[i].rnext = i + 1 < kc ? i + 1 : NIL;
	g->kfree = kc ? 0 : NIL;
	for (i = 0; i < cfg->max_blocked; i++)
		g->b[i].next = i + 1 < cfg->max_blocked ? i + 1 : NIL;
	g->bfree = cfg->max_blocked ? 0 : NIL;
	g->dhead = g->dtail = g->rhead = g->rtail = NIL;
	for (i = 0; i < SL_GROUP_KEY_BUCKETS; i++)
		g->bucket[i] = NIL16;
	g->rr = cfg->max_members - 1;
	*out = g;
	return 0;
}

const struct sl_group_cfg *
sl_group_config(const struct sl_group *g)
{
	return &g->cfg;
}

int
sl_group_unsettled(const struct sl_group *g, uint64_t seq)
{
	return sl_grp_seq_pos(g, seq) != NIL;
}

void
sl_group_set_timing(struct sl_group *g, uint64_t ack_wait_ns, uint32_t max_deliveries,
		    uint64_t grace_ns)
{
	/* Deadlines already set keep theirs: ack-wait's list stays in
	 * deadline order except across the change, which only delays an
	 * expiry by at most the old ack-wait. */
	g->cfg.ack_wait_ns = ack_wait_ns;
	g->cfg.max_deliveries = max_deliveries;
	g->cfg.grace_ns = grace_ns;
}

/* --- the seq and key indexes ------------------------------------------------------ */

/* Position in the seq index of @seq, or NIL. */
uint32_t
sl_grp_seq_pos(const struct sl_group *g, uint64_t seq)
{
	uint32_t i = seq_home(g, seq), v;

	while ((v = g->sidx[i]) != 0) {
		if (g->e[v - 1].seq == seq)
			return i;
		i = (i + 1) & g->smask;
	}
	return NIL;
}

/* Remove position @i of a linear-probing index, moving later entries of
 * the run back so that no lookup stops early (no tombstones). */
static void
index_delete(uint32_t *idx, uint32_t mask, uint32_t i, uint32_t (*home)(const struct sl_group *,
	     uint32_t), const struct sl_group *g)
{
	uint32_t j = i, h;

	for (;;) {
		idx[i] = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (idx[j] == 0)
				return;
			h = home(g, idx[j] - 1);
			/* Entry j may move to i unless its home lies cyclically in (i, j]. */
			if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
				continue;
			idx[i] = idx[j];
			i = j;
			break;
		}
	}
}

static uint32_t
ent_home(const struct sl_group *g, uint32_t ei)
{
	return seq_home(g, g->e[ei].seq);
}

static uint32_t
kent_home(const struct sl_group *g, uint32_t ki)
{
	return key_home(g, g->k[ki].hash);
}

uint32_t
sl_grp_key_pos(const struct sl_group *g, uint64_t hash)
{
	uint32_t i = key_home(g, hash), v;

	while ((v = g->kidx[i]) != 0) {
		if (g->k[v - 1].hash == hash)
			return i;
		i = (i + 1) & g->kmask;
	}
	return NIL;
}

/* The key entry of @hash, made when missing (there is always room: one per
 * unsettled or held message at most). */
uint32_t
sl_grp_key_get(struct sl_group *g, uint64_t hash)
{
	uint32_t i = key_home(g, hash), v, ki;

	while ((v = g->kidx[i]) != 0) {
		if (g->k[v - 1].hash == hash)
			return v - 1;
		i = (i + 1) & g->kmask;
	}
	ki = g->kfree;
	g->kfree = g->k[ki].rnext;
	memset(&g->k[ki], 0, sizeof(g->k[ki]));
	g->k[ki].hash = hash;
	g->k[ki].bhead = g->k[ki].btail = g->k[ki].rnext = NIL;
	g->kidx[i] = ki + 1;
	g->n_keys++;
	return ki;
}

void
sl_grp_key_put(struct sl_group *g, uint32_t ki)
{
	index_delete(g->kidx, g->kmask, sl_grp_key_pos(g, g->k[ki].hash), kent_home, g);
	g->k[ki].rnext = g->kfree;
	g->kfree = ki;
	g->n_keys--;
}

/* Remove position @pos of the seq index. */
void
sl_grp_seq_delete(struct sl_group *g, uint32_t pos)
{
	index_delete(g->sidx, g->smask, pos, ent_home, g);
}

/* --- the due-time heaps (PENDING entries) --------------------------------------- */

static inline int
heap_before(const struct sl_group *g, uint32_t a, uint32_t b)
{
	const struct ent *x = &g->e[a], *y = &g->e[b];

	return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void
heap_set(struct sl_group *g, struct heap *h, uint32_t pos, uint32_t ei)
{
	h->a[pos] = ei;
	g->e[ei].hpos = pos;
}

static void
heap_up(struct sl_group *g, struct heap *h, uint32_t pos)
{
	uint32_t ei = h->a[pos];

	while (pos > 0) {
		uint32_t up = (pos - 1) / 2;

		if (!heap_before(g, ei, h->a[up]))
			break;
		heap_set(g, h, pos, h->a[up]);
		pos = up;
	}
	heap_set(g, h, pos, ei);
}

static void
heap_down(struct sl_group *g, struct heap *h, uint32_t pos)
{
	uint32_t ei = h->a[pos];

	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && heap_before(g, h->a[c + 1], h->a[c]))
			c++;
		if (!heap_before(g, h->a[c], ei))
			break;
		heap_set(g, h, pos, h->a[c]);
		pos = c;
	}
	heap_set(g, h, pos, ei);
}

void
sl_grp_heap_push(struct sl_group *g, struct heap *h, uint32_t ei)
{
	heap_set(g, h, h->n++, ei);
	heap_up(g, h, h->n - 1);
}

/* Take the first entry off @h. */
void
sl_grp_heap_pop(struct sl_group *g, struct heap *h)
{
	uint32_t last = h->a[--h->n];

	if (h->n == 0)
		return;
	heap_set(g, h, 0, last);
	heap_down(g, h, 0);
}

/* --- durable groups --------------------------------------------------------------- */

uint32_t
sl_group_unacked_count(const struct sl_group *g)
{
	return g->n_ents + g->n_blocked;
}

/* Sift @a[@i] down a max-heap of @n entries by sequence. */
static void
sift_down(struct sl_group_unacked *a, uint32_t i, uint32_t n)
{
	struct sl_group_unacked x = a[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && a[c + 1].seq > a[c].seq)
			c++;
		if (a[c].seq <= x.seq)
			break;
		a[i] = a[c];
		i = c;
	}
	a[i] = x;
}

/* In place, without allocating (qsort may allocate a buffer for a large
 * array, and the owner worker must not). */
static void
sort_by_seq(struct sl_group_unacked *a, uint32_t n)
{
	uint32_t i;

	for (i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (i = n; i-- > 1;) {
		struct sl_group_unacked t = a[0];

		a[0] = a[i];
		a[i] = t;
		sift_down(a, 0, i);
	}
}

int
sl_group_export(const struct sl_group *g, struct sl_group_unacked *out, uint32_t max)
{
	uint32_t i, n = 0, bi;

	if (max < sl_group_unacked_count(g))
		return -ENOSPC;
	for (i = 0; i < g->cfg.max_inflight; i++) {
		if (g->e[i].state == E_FREE)
			continue;
		out[n].seq = g->e[i].seq;
		out[n].delivery_count = g->e[i].count;
		out[n++].reserved = 0;
	}
	for (i = 0; g->n_blocked && i < sl_grp_key_cap(&g->cfg); i++) {
		if (g->k[i].nblocked == 0)
			continue;
		for (bi = g->k[i].bhead; bi != NIL; bi = g->b[bi].next) {
			out[n].seq = g->b[bi].seq;
			out[n].delivery_count = g->b[bi].count;
			out[n++].reserved = 0;
		}
	}
	sort_by_seq(out, n);
	return (int)n;
}

void
sl_group_stats_get(const struct sl_group *g, struct sl_group_stats *st)
{
	*st = g->st;
	st->members = (uint64_t)__builtin_popcountll(g->present);
	st->inflight = g->n_ents;
	st->blocked = g->n_blocked;
	st->pending = g->ph.n + g->xh.n;
}
