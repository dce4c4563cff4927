/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer-group engine: members, distribution policies, acks, redelivery, dead letters. */

#include "group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Tables, all carved out of the caller's memory at init:
 *  - ents: one entry per unsettled message, on a free list when unused. An
 *    entry is HELD (by a member: on that member's list and, with an
 *    ack-wait, on the deadline list), PENDING (due for redelivery: in the
 *    due-time heap) or DEAD (a dead-letter decision handed out, not yet
 *    settled). The seq index (open addressing, linear probing, backward-
 *    shift deletion) finds an entry by sequence.
 *  - keys (key affinity only): one entry per key with an unsettled or held
 *    message: whether its one message in flight is out, and the FIFO of
 *    its messages held behind it (blocked entries). A key whose message
 *    settled and that has more waiting goes on the ready list.
 *  - buckets: key hash -> preferred member, by highest random weight over
 *    the members present, recomputed when one joins or leaves: a member
 *    leaving moves only its own buckets, one joining takes about 1/n.
 * The deadline list stays in deadline order without sorting: every
 * deadline is now + ack_wait and @now never goes back (the engine keeps the
 * largest seen).
 */

#define NIL UINT32_MAX
#define NIL16 0xffffu

enum ent_state { E_FREE = 0, E_HELD, E_PENDING, E_DEAD };

struct ent {
	uint64_t seq;
	uint64_t due;	       /* HELD: ack-wait deadline; PENDING: due time */
	uint32_t prev, next;   /* HELD: the member's list; FREE: next free */
	uint32_t tprev, tnext; /* HELD: the deadline list */
	uint32_t hpos;	       /* PENDING: position in the heap */
	uint32_t key;	       /* key entry, or NIL */
	uint32_t count;	       /* deliveries made */
	uint32_t last_error;   /* code of the last GNAK */
	uint16_t slot;	       /* HELD: holder; PENDING: last holder or NIL16 */
	uint8_t state;	       /* enum ent_state */
	uint8_t reason;	       /* enum sl_group_reason of the next delivery */
	uint32_t pad;
};

struct kent {
	uint64_t hash;
	uint32_t inflight;     /* 1 while its one unsettled message is out */
	uint32_t nblocked;     /* messages held behind it */
	uint32_t bhead, btail; /* their FIFO (blocked entries) */
	uint32_t rnext;	       /* ready list; FREE: next free */
	uint32_t ready;	       /* 1: on the ready list */
};

struct bent {
	uint64_t seq;
	uint32_t count; /* deliveries made before (restored messages) */
	uint32_t next;
};

struct sl_group {
	struct sl_group_cfg cfg;
	struct sl_group_stats st;
	uint64_t now;	   /* largest @now seen */
	uint64_t present;  /* slots with a member (any state but FREE) */
	uint64_t eligible; /* slots that can take a message now */
	uint64_t lost;	   /* DISCONNECTED slots */
	uint32_t rr;	   /* slot chosen last */
	uint32_t n_ents, efree;
	uint32_t smask, nheap;
	uint32_t dhead, dtail; /* deadline list */
	uint32_t n_keys, kfree, kmask;
	uint32_t n_blocked, bfree;
	uint32_t rhead, rtail; /* ready keys */
	struct ent *e;
	uint32_t *sidx; /* seq index: entry + 1, 0 empty */
	uint32_t *heap;
	struct kent *k;
	uint32_t *kidx; /* key index: key entry + 1, 0 empty */
	struct bent *b;
	struct sl_group_member m[SL_MAX_GROUP_MEMBERS];
	uint16_t bucket[SL_GROUP_KEY_BUCKETS];
};

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

static uint32_t
key_cap(const struct sl_group_cfg *c)
{
	return c->policy == SL_GROUP_KEY_AFFINITY ? c->max_inflight + c->max_blocked : 0;
}

/* Offsets of each table in the caller's memory; returns the total. */
static size_t
layout(const struct sl_group_cfg *c, size_t off[6])
{
	uint32_t kc = key_cap(c);
	size_t n = align64(sizeof(struct sl_group));

	off[0] = n; /* ents */
	n = align64(n + (size_t)c->max_inflight * sizeof(struct ent));
	off[1] = n; /* seq index */
	n = align64(n + (size_t)pow2_at_least(2ull * c->max_inflight) * sizeof(uint32_t));
	off[2] = n; /* heap */
	n = align64(n + (size_t)c->max_inflight * sizeof(uint32_t));
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
	kc = key_cap(cfg);
	g->e = (struct ent *)((char *)mem + off[0]);
	g->sidx = (uint32_t *)((char *)mem + off[1]);
	g->smask = pow2_at_least(2ull * cfg->max_inflight) - 1;
	g->heap = (uint32_t *)((char *)mem + off[2]);
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

/* --- hashing and the two indexes -------------------------------------------------- */

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Sequences come in order: a multiply spreads neighbours over the table. */
static inline uint32_t
seq_home(const struct sl_group *g, uint64_t seq)
{
	return (uint32_t)((seq * 0x9e3779b97f4a7c15ull) >> 32) & g->smask;
}

/* Position in the seq index of @seq, or NIL. */
static uint32_t
seq_pos(const struct sl_group *g, uint64_t seq)
{
	uint32_t i = seq_home(g, seq), v;

	while ((v = g->sidx[i]) != 0) {
		if (g->e[v - 1].seq == seq)
			return i;
		i = (i + 1) & g->smask;
	}
	return NIL;
}

static struct ent *
ent_find(const struct sl_group *g, uint64_t seq)
{
	uint32_t p = seq_pos(g, seq);

	return p == NIL ? NULL : &g->e[g->sidx[p] - 1];
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

static inline uint32_t
key_home(const struct sl_group *g, uint64_t hash)
{
	return (uint32_t)mix64(hash) & g->kmask;
}

static uint32_t
kent_home(const struct sl_group *g, uint32_t ki)
{
	return key_home(g, g->k[ki].hash);
}

static uint32_t
key_pos(const struct sl_group *g, uint64_t hash)
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
static uint32_t
key_get(struct sl_group *g, uint64_t hash)
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

static void
key_put(struct sl_group *g, uint32_t ki)
{
	index_delete(g->kidx, g->kmask, key_pos(g, g->k[ki].hash), kent_home, g);
	g->k[ki].rnext = g->kfree;
	g->kfree = ki;
	g->n_keys--;
}

/* --- the due-time heap (PENDING entries) ----------------------------------------- */

static inline int
heap_before(const struct sl_group *g, uint32_t a, uint32_t b)
{
	const struct ent *x = &g->e[a], *y = &g->e[b];

	return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void
heap_set(struct sl_group *g, uint32_t pos, uint32_t ei)
{
	g->heap[pos] = ei;
	g->e[ei].hpos = pos;
}

static void
heap_up(struct sl_group *g, uint32_t pos)
{
	uint32_t ei = g->heap[pos];

	while (pos > 0) {
		uint32_t up = (pos - 1) / 2;

		if (!heap_before(g, ei, g->heap[up]))
			break;
		heap_set(g, pos, g->heap[up]);
		pos = up;
	}
	heap_set(g, pos, ei);
}

static void
heap_down(struct sl_group *g, uint32_t pos)
{
	uint32_t ei = g->heap[pos];

	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= g->nheap)
			break;
		if (c + 1 < g->nheap && heap_before(g, g->heap[c + 1], g->heap[c]))
			c++;
		if (!heap_before(g, g->heap[c], ei))
			break;
		heap_set(g, pos, g->heap[c]);
		pos = c;
	}
	heap_set(g, pos, ei);
}

static void
heap_push(struct sl_group *g, uint32_t ei)
{
	heap_set(g, g->nheap++, ei);
	heap_up(g, g->nheap - 1);
}

static void
heap_remove(struct sl_group *g, uint32_t pos)
{
	uint32_t last = g->heap[--g->nheap];

	if (pos == g->nheap)
		return;
	heap_set(g, pos, last);
	heap_down(g, pos);
	heap_up(g, g->e[last].hpos);
}

/* --- members -------------------------------------------------------------------- */

static inline uint64_t
bit(uint32_t slot)
{
	return 1ull << slot;
}

/* Recompute whether @slot can take a message now. */
static void
member_update(struct sl_group *g, uint32_t slot)
{
	const struct sl_group_member *m = &g->m[slot];
	int ok = m->state == SL_GROUP_M_ACTIVE && m->outstanding < m->credit &&
		 (!(m->flags & SL_GROUP_F_PULL) || m->fetch > 0);

	if (ok)
		g->eligible |= bit(slot);
	else
		g->eligible &= ~bit(slot);
}

/* Each bucket prefers the present member of highest weight mix(id, bucket):
 * a leaving member's buckets spread over the others, a joining one takes
 * from each about its share, and every other bucket stays where it was. */
static void
buckets_rebalance(struct sl_group *g)
{
	uint32_t b;

	if (g->cfg.policy != SL_GROUP_KEY_AFFINITY)
		return;
	for (b = 0; b < SL_GROUP_KEY_BUCKETS; b++) {
		uint64_t mask = g->present, best_w = 0;
		uint16_t best = NIL16;

		while (mask) {
			uint32_t s = (uint32_t)__builtin_ctzll(mask);
			uint64_t w = mix64(g->m[s].member_id ^ (b * 0x9e3779b97f4a7c15ull));

			mask &= mask - 1;
			if (best == NIL16 || w > best_w) {
				best = (uint16_t)s;
				best_w = w;
			}
		}
		g->bucket[b] = best;
	}
}

/* The next set bit of @mask after @after, cyclically (@mask != 0). */
static inline uint32_t
next_after(uint64_t mask, uint32_t after)
{
	uint64_t hi = after >= 63 ? 0 : mask & (~0ull << (after + 1));

	return (uint32_t)__builtin_ctzll(hi ? hi : mask);
}

/*
 * The member to send to: @pref (key affinity's bucket member) when it can
 * take it; otherwise by the policy among those that can, leaving out
 * @avoid (the last holder of a redelivery) when any other can. NIL: none.
 */
static uint32_t
choose(struct sl_group *g, uint32_t pref, uint32_t avoid)
{
	uint64_t mask = g->eligible, rest;
	uint32_t s, best, best_free;

	if (mask == 0)
		return NIL;
	if (avoid != NIL && (mask & ~bit(avoid)) != 0)
		mask &= ~bit(avoid);
	if (pref != NIL && (mask & bit(pref)))
		return pref;
	if (g->cfg.policy != SL_GROUP_LEAST_OUTSTANDING) {
		s = next_after(mask, g->rr);
		g->rr = s;
		return s;
	}
	/* Most free credit first; the scan starts after the last chosen, so
	 * that equal members take turns. */
	best = s = next_after(mask, g->rr);
	best_free = g->m[s].credit - g->m[s].outstanding;
	rest = mask & ~bit(s);
	while (rest) {
		uint32_t f;

		s = next_after(rest, s);
		rest &= ~bit(s);
		f = g->m[s].credit - g->m[s].outstanding;
		if (f > best_free) {
			best = s;
			best_free = f;
		}
	}
	g->rr = best;
	return best;
}

int
sl_group_find(const struct sl_group *g, uint64_t member_id)
{
	uint64_t mask = g->present;

	while (mask) {
		uint32_t s = (uint32_t)__builtin_ctzll(mask);

		if (g->m[s].member_id == member_id)
			return (int)s;
		mask &= mask - 1;
	}
	return -ENOENT;
}

const struct sl_group_member *
sl_group_member(const struct sl_group *g, uint32_t slot)
{
	return slot < g->cfg.max_members ? &g->m[slot] : NULL;
}

static uint64_t
clock_in(struct sl_group *g, uint64_t now)
{
	if (now > g->now)
		g->now = now;
	return g->now;
}

int
sl_group_join(struct sl_group *g, uint64_t member_id, uint64_t session, uint32_t credit,
	      uint32_t flags, uint64_t now, uint32_t *slot, uint32_t *granted)
{
	struct sl_group_member *m;
	int s = sl_group_find(g, member_id), rc = 1;
	uint64_t free_slots;

	if (member_id == 0 || credit == 0 || (flags & ~SL_GROUP_F_PULL))
		return -EINVAL;
	now = clock_in(g, now);
	if (credit > g->cfg.max_credit)
		credit = g->cfg.max_credit;
	if (s < 0) {
		free_slots = ~g->present;
		if (g->cfg.max_members < 64)
			free_slots &= bit(g->cfg.max_members) - 1;
		if (free_slots == 0)
			return -ENOSPC;
		s = __builtin_ctzll(free_slots);
		m = &g->m[s];
		memset(m, 0, sizeof(*m));
		m->member_id = member_id;
		m->head = NIL;
		g->present |= bit((uint32_t)s);
		buckets_rebalance(g);
		rc = 0;
	} else {
		m = &g->m[s];
		if (m->state == SL_GROUP_M_DISCONNECTED) {
			g->lost &= ~bit((uint32_t)s);
			g->st.rejoined++;
		}
	}
	m->session = session;
	m->credit = credit;
	if ((m->flags ^ flags) & SL_GROUP_F_PULL)
		m->fetch = 0;
	m->flags = flags;
	m->state = SL_GROUP_M_ACTIVE;
	m->last_seen = now;
	member_update(g, (uint32_t)s);
	if (slot)
		*slot = (uint32_t)s;
	if (granted)
		*granted = credit;
	return rc;
}

/* --- entries -------------------------------------------------------------------- */

static void
deadline_unlink(struct sl_group *g, uint32_t ei)
{
	struct ent *x = &g->e[ei];

	if (x->tprev != NIL)
		g->e[x->tprev].tnext = x->tnext;
	else if (g->dhead == ei)
		g->dhead = x->tnext;
	else
		return; /* not on the list (no ack-wait) */
	if (x->tnext != NIL)
		g->e[x->tnext].tprev = x->tprev;
	else
		g->dtail = x->tprev;
	x->tprev = x->tnext = NIL;
}

/* Hand entry @ei to member @slot: fill @out. */
static void
deliver(struct sl_group *g, uint32_t ei, uint32_t slot, struct sl_group_out *out)
{
	struct ent *x = &g->e[ei];
	struct sl_group_member *m = &g->m[slot];

	x->state = E_HELD;
	x->slot = (uint16_t)slot;
	x->count++;
	x->prev = NIL;
	x->next = m->head;
	if (m->head != NIL)
		g->e[m->head].prev = ei;
	m->head = ei;
	m->outstanding++;
	m->delivered++;
	if (m->flags & SL_GROUP_F_PULL)
		m->fetch--;
	member_update(g, slot);
	x->tprev = x->tnext = NIL;
	if (g->cfg.ack_wait_ns) {
		x->due = g->now + g->cfg.ack_wait_ns;
		x->tprev = g->dtail;
		if (g->dtail != NIL)
			g->e[g->dtail].tnext = ei;
		else
			g->dhead = ei;
		g->dtail = ei;
	}
	out->seq = x->seq;
	out->member_id = m->member_id;
	out->session = m->session;
	out->slot = slot;
	out->action = SL_GROUP_ACT_DELIVER;
	out->delivery_count = x->count;
	out->reason = x->reason;
	out->last_error = x->last_error;
	out->reserved = 0;
}

/* Take HELD entry @ei from its member (credit back). */
static void
unhold(struct sl_group *g, uint32_t ei)
{
	struct ent *x = &g->e[ei];
	struct sl_group_member *m = &g->m[x->slot];

	if (x->prev != NIL)
		g->e[x->prev].next = x->next;
	else
		m->head = x->next;
	if (x->next != NIL)
		g->e[x->next].prev = x->prev;
	m->outstanding--;
	member_update(g, x->slot);
	deadline_unlink(g, ei);
}

static void
make_pending(struct sl_group *g, uint32_t ei, uint64_t due, uint32_t reason, uint32_t last_slot)
{
	struct ent *x = &g->e[ei];

	x->state = E_PENDING;
	x->due = due;
	x->reason = (uint8_t)reason;
	x->slot = last_slot == NIL ? NIL16 : (uint16_t)last_slot;
	heap_push(g, ei);
}

static void
ready_push(struct sl_group *g, uint32_t ki)
{
	struct kent *k = &g->k[ki];

	if (k->ready)
		return;
	k->ready = 1;
	k->rnext = NIL;
	if (g->rtail != NIL)
		g->k[g->rtail].rnext = ki;
	else
		g->rhead = ki;
	g->rtail = ki;
}

/* The message of entry @ei is settled (acked or dead-lettered): its key
 * is free for the next one, its entry and index position go. */
static void
settle(struct sl_group *g, uint32_t ei)
{
	struct ent *x = &g->e[ei];

	if (x->key != NIL) {
		struct kent *k = &g->k[x->key];

		k->inflight = 0;
		if (k->nblocked)
			ready_push(g, x->key);
		else
			key_put(g, x->key);
	}
	index_delete(g->sidx, g->smask, seq_pos(g, x->seq), ent_home, g);
	x->state = E_FREE;
	x->next = g->efree;
	g->efree = ei;
	g->n_ents--;
}

/* A new entry for @seq, which is not in the index (a free entry exists). */
static uint32_t
ent_new(struct sl_group *g, uint64_t seq, uint32_t key, uint32_t count)
{
	uint32_t ei = g->efree, i = seq_home(g, seq);
	struct ent *x = &g->e[ei];

	g->efree = x->next;
	while (g->sidx[i] != 0)
		i = (i + 1) & g->smask;
	g->sidx[i] = ei + 1;
	memset(x, 0, sizeof(*x));
	x->seq = seq;
	x->key = key;
	x->count = count;
	x->slot = NIL16;
	x->prev = x->next = x->tprev = x->tnext = NIL;
	g->n_ents++;
	return ei;
}

/* Queue @seq behind its busy key @ki. */
static int
block(struct sl_group *g, uint32_t ki, uint64_t seq, uint32_t count)
{
	struct kent *k = &g->k[ki];
	uint32_t bi = g->bfree;

	if (bi == NIL)
		return -ENOBUFS;
	g->bfree = g->b[bi].next;
	g->b[bi].seq = seq;
	g->b[bi].count = count;
	g->b[bi].next = NIL;
	if (k->btail != NIL)
		g->b[k->btail].next = bi;
	else
		k->bhead = bi;
	k->btail = bi;
	k->nblocked++;
	g->n_blocked++;
	return 0;
}

static inline uint32_t
bucket_of(const struct sl_group *g, uint64_t hash)
{
	uint16_t s = g->bucket[mix64(hash) & (SL_GROUP_KEY_BUCKETS - 1)];

	return s == NIL16 ? NIL : s;
}

int
sl_group_offer(struct sl_group *g, uint64_t seq, uint64_t key_hash, uint64_t now,
	       struct sl_group_out *out)
{
	uint32_t ki = NIL, pref = NIL, slot, ei;
	int affinity = g->cfg.policy == SL_GROUP_KEY_AFFINITY && key_hash != SL_GROUP_NO_KEY;

	clock_in(g, now);
	if (affinity) {
		uint32_t p = key_pos(g, key_hash);

		if (p != NIL) {
			/* A key with a message out, or with messages held,
			 * takes this one behind them: one in flight per key. */
			if (block(g, g->kidx[p] - 1, seq, 0) < 0) {
				g->st.blocked_full++;
				return -ENOBUFS;
			}
			g->st.offered++;
			g->st.held++;
			return 0;
		}
		pref = bucket_of(g, key_hash);
	}
	if (seq_pos(g, seq) != NIL)
		return -EEXIST;
	if (g->efree == NIL || (slot = choose(g, pref, NIL)) == NIL) {
		g->st.no_credit++;
		return -EAGAIN;
	}
	if (affinity) {
		ki = key_get(g, key_hash);
		g->k[ki].inflight = 1;
	}
	ei = ent_new(g, seq, ki, 0);
	deliver(g, ei, slot, out);
	g->st.offered++;
	g->st.delivered++;
	return 1;
}

int
sl_group_can_take(const struct sl_group *g)
{
	return g->eligible != 0 && g->efree != NIL;
}

/* --- acks ----------------------------------------------------------------------- */

/* The entry of @seq when the member in @slot holds it, else NIL (counted). */
static uint32_t
held_by(struct sl_group *g, uint32_t slot, uint64_t seq)
{
	struct ent *x = ent_find(g, seq);

	if (x == NULL || x->state != E_HELD || x->slot != slot || slot >= g->cfg.max_members) {
		g->st.ack_not_held++;
		return NIL;
	}
	return (uint32_t)(x - g->e);
}

int
sl_group_ack(struct sl_group *g, uint32_t slot, uint64_t seq, uint64_t now)
{
	uint32_t ei = held_by(g, slot, seq);

	if (ei == NIL)
		return -ENOENT;
	unhold(g, ei);
	settle(g, ei);
	g->m[slot].acked++;
	g->m[slot].last_seen = clock_in(g, now);
	g->st.acked++;
	return 0;
}

int
sl_group_ack_upto(struct sl_group *g, uint32_t slot, uint64_t seq, uint64_t now)
{
	uint32_t ei, next;
	int n = 0;

	if (slot >= g->cfg.max_members || g->m[slot].state == SL_GROUP_M_FREE) {
		g->st.ack_not_held++;
		return -ENOENT;
	}
	for (ei = g->m[slot].head; ei != NIL; ei = next) {
		next = g->e[ei].next;
		if (g->e[ei].seq > seq)
			continue;
		unhold(g, ei);
		settle(g, ei);
		n++;
	}
	if (n == 0) {
		g->st.ack_not_held++;
		return -ENOENT;
	}
	g->m[slot].acked += (uint64_t)n;
	g->m[slot].last_seen = clock_in(g, now);
	g->st.acked += (uint64_t)n;
	return n;
}

int
sl_group_nak(struct sl_group *g, uint32_t slot, uint64_t seq, uint64_t delay_ns, uint32_t error,
	     uint64_t now)
{
	uint32_t ei = held_by(g, slot, seq);
	const uint64_t max = (uint64_t)SL_MAX_NAK_DELAY_MS * 1000000ull;

	if (ei == NIL)
		return -ENOENT;
	now = clock_in(g, now);
	unhold(g, ei);
	g->e[ei].last_error = error;
	make_pending(g, ei, now + (delay_ns < max ? delay_ns : max), SL_GROUP_R_NAK, slot);
	g->m[slot].last_seen = now;
	g->st.nacked++;
	return 0;
}

static struct ent *
dead_find(struct sl_group *g, uint64_t seq)
{
	struct ent *x = ent_find(g, seq);

	return x && x->state == E_DEAD ? x : NULL;
}

int
sl_group_dead_settled(struct sl_group *g, uint64_t seq)
{
	struct ent *x = dead_find(g, seq);

	if (x == NULL)
		return -ENOENT;
	settle(g, (uint32_t)(x - g->e));
	return 0;
}

int
sl_group_dead_retry(struct sl_group *g, uint64_t seq, uint64_t due)
{
	struct ent *x = dead_find(g, seq);

	if (x == NULL)
		return -ENOENT;
	make_pending(g, (uint32_t)(x - g->e), due, x->reason, NIL);
	return 0;
}

/* --- members leaving ------------------------------------------------------------------ */

/* The member in @slot goes: what it holds is due again at once. */
static void
release(struct sl_group *g, uint32_t slot)
{
	struct sl_group_member *m = &g->m[slot];

	while (m->head != NIL) {
		uint32_t ei = m->head;

		unhold(g, ei);
		make_pending(g, ei, g->now, SL_GROUP_R_MEMBER_LOST, NIL);
	}
	m->state = SL_GROUP_M_FREE;
	g->present &= ~bit(slot);
	g->eligible &= ~bit(slot);
	g->lost &= ~bit(slot);
	buckets_rebalance(g);
}

static int
live(const struct sl_group *g, uint32_t slot)
{
	return slot < g->cfg.max_members && g->m[slot].state != SL_GROUP_M_FREE;
}

int
sl_group_leave(struct sl_group *g, uint32_t slot, uint64_t now)
{
	if (!live(g, slot))
		return -ENOENT;
	clock_in(g, now);
	release(g, slot);
	return 0;
}

int
sl_group_member_lost(struct sl_group *g, uint32_t slot, uint64_t now)
{
	struct sl_group_member *m;

	if (!live(g, slot) || g->m[slot].state == SL_GROUP_M_DISCONNECTED)
		return -ENOENT;
	now = clock_in(g, now);
	m = &g->m[slot];
	g->st.members_lost++;
	if (g->cfg.grace_ns == 0) {
		release(g, slot);
		return 0;
	}
	m->state = SL_GROUP_M_DISCONNECTED;
	m->grace_end = now + g->cfg.grace_ns;
	g->lost |= bit(slot);
	member_update(g, slot);
	return 0;
}

int
sl_group_pause(struct sl_group *g, uint32_t slot)
{
	if (!live(g, slot) || g->m[slot].state == SL_GROUP_M_DISCONNECTED)
		return -ENOENT;
	g->m[slot].state = SL_GROUP_M_PAUSED;
	member_update(g, slot);
	return 0;
}

int
sl_group_resume(struct sl_group *g, uint32_t slot)
{
	if (!live(g, slot) || g->m[slot].state == SL_GROUP_M_DISCONNECTED)
		return -ENOENT;
	g->m[slot].state = SL_GROUP_M_ACTIVE;
	member_update(g, slot);
	return 0;
}

int
sl_group_fetch(struct sl_group *g, uint32_t slot, uint32_t n)
{
	struct sl_group_member *m;
	uint64_t f;

	if (!live(g, slot))
		return -ENOENT;
	m = &g->m[slot];
	if (!(m->flags & SL_GROUP_F_PULL))
		return -EINVAL;
	f = (uint64_t)m->fetch + n;
	m->fetch = f > m->credit ? m->credit : (uint32_t)f;
	member_update(g, slot);
	return (int)m->fetch;
}

/* --- poll ----------------------------------------------------------------------- */

/* Due redeliveries: to a member (another than the last holder where one
 * can take it), or a dead-letter decision at max_deliveries. */
static unsigned
poll_pending(struct sl_group *g, struct sl_group_out *out, unsigned n)
{
	unsigned done = 0;

	while (done < n && g->nheap > 0) {
		uint32_t ei = g->heap[0], slot, pref = NIL;
		struct ent *x = &g->e[ei];

		if (x->due > g->now)
			break;
		if (g->cfg.max_deliveries && x->count >= g->cfg.max_deliveries) {
			heap_remove(g, 0);
			x->state = E_DEAD;
			memset(&out[done], 0, sizeof(out[done]));
			out[done].seq = x->seq;
			out[done].action = SL_GROUP_ACT_DEAD_LETTER;
			out[done].delivery_count = x->count;
			out[done].reason = x->reason;
			out[done].last_error = x->last_error;
			out[done].slot = NIL;
			done++;
			g->st.dead_lettered++;
			continue;
		}
		if (x->key != NIL)
			pref = bucket_of(g, g->k[x->key].hash);
		slot = choose(g, pref, x->slot == NIL16 ? NIL : x->slot);
		if (slot == NIL)
			break; /* nobody can take it: it stays first in line */
		heap_remove(g, 0);
		deliver(g, ei, slot, &out[done++]);
		if (x->count > 1)
			g->st.redelivered++;
		else
			g->st.delivered++;
	}
	return done;
}

/* Held messages whose key has nothing in flight any more. */
static unsigned
poll_ready(struct sl_group *g, struct sl_group_out *out, unsigned n)
{
	unsigned done = 0;

	while (done < n && g->rhead != NIL) {
		uint32_t ki = g->rhead, bi, slot, ei;
		struct kent *k = &g->k[ki];

		if (g->efree == NIL)
			break;
		slot = choose(g, bucket_of(g, k->hash), NIL);
		if (slot == NIL)
			break;
		bi = k->bhead;
		k->bhead = g->b[bi].next;
		if (k->bhead == NIL)
			k->btail = NIL;
		k->nblocked--;
		g->n_blocked--;
		g->rhead = k->rnext;
		if (g->rhead == NIL)
			g->rtail = NIL;
		k->ready = 0;
		k->inflight = 1;
		ei = ent_new(g, g->b[bi].seq, ki, g->b[bi].count);
		if (g->b[bi].count)
			g->e[ei].reason = SL_GROUP_R_RESTORED;
		g->b[bi].next = g->bfree;
		g->bfree = bi;
		deliver(g, ei, slot, &out[done++]);
		if (g->e[ei].count > 1)
			g->st.redelivered++;
		else
			g->st.delivered++;
	}
	return done;
}

unsigned
sl_group_poll(struct sl_group *g, uint64_t now, struct sl_group_out *out, unsigned n)
{
	unsigned done;
	uint64_t mask;

	now = clock_in(g, now);
	for (mask = g->lost; mask; mask &= mask - 1) {
		uint32_t s = (uint32_t)__builtin_ctzll(mask);

		if (g->m[s].grace_end <= now)
			release(g, s);
	}
	while (g->dhead != NIL && g->e[g->dhead].due <= now) {
		uint32_t ei = g->dhead, slot = g->e[ei].slot;

		unhold(g, ei);
		make_pending(g, ei, now, SL_GROUP_R_ACK_WAIT, slot);
		g->st.expired++;
	}
	/* Older messages first: redeliveries, then those held behind a key. */
	done = poll_pending(g, out, n);
	return done + poll_ready(g, out + done, n - done);
}

uint64_t
sl_group_next_due(const struct sl_group *g)
{
	uint64_t t = UINT64_MAX, mask;

	if (g->rhead != NIL && g->eligible)
		return 0;
	if (g->nheap > 0)
		t = g->e[g->heap[0]].due;
	if (g->dhead != NIL && g->e[g->dhead].due < t)
		t = g->e[g->dhead].due;
	for (mask = g->lost; mask; mask &= mask - 1) {
		uint32_t s = (uint32_t)__builtin_ctzll(mask);

		if (g->m[s].grace_end < t)
			t = g->m[s].grace_end;
	}
	return t <= g->now ? 0 : t;
}

/* --- durable groups --------------------------------------------------------------- */

uint32_t
sl_group_unacked_count(const struct sl_group *g)
{
	return g->n_ents + g->n_blocked;
}

static int
unacked_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct sl_group_unacked *)a)->seq;
	uint64_t y = ((const struct sl_group_unacked *)b)->seq;

	return x < y ? -1 : x > y;
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
	for (i = 0; g->n_blocked && i < key_cap(&g->cfg); i++) {
		if (g->k[i].nblocked == 0)
			continue;
		for (bi = g->k[i].bhead; bi != NIL; bi = g->b[bi].next) {
			out[n].seq = g->b[bi].seq;
			out[n].delivery_count = g->b[bi].count;
			out[n++].reserved = 0;
		}
	}
	qsort(out, n, sizeof(*out), unacked_cmp);
	return (int)n;
}

int
sl_group_restore(struct sl_group *g, uint64_t seq, uint64_t key_hash, uint32_t delivery_count,
		 uint64_t now)
{
	uint32_t ki = NIL, ei;

	now = clock_in(g, now);
	if (seq_pos(g, seq) != NIL)
		return -EEXIST;
	if (g->cfg.policy == SL_GROUP_KEY_AFFINITY && key_hash != SL_GROUP_NO_KEY) {
		uint32_t p = key_pos(g, key_hash);

		if (p != NIL) {
			if (block(g, g->kidx[p] - 1, seq, delivery_count) < 0)
				return -ENOBUFS;
			return 0;
		}
		if (g->efree == NIL)
			return -ENOSPC;
		ki = key_get(g, key_hash);
		g->k[ki].inflight = 1;
	}
	if (g->efree == NIL)
		return -ENOSPC;
	ei = ent_new(g, seq, ki, delivery_count);
	make_pending(g, ei, now, SL_GROUP_R_RESTORED, NIL);
	return 0;
}

void
sl_group_stats_get(const struct sl_group *g, struct sl_group_stats *st)
{
	*st = g->st;
	st->members = (uint64_t)__builtin_popcountll(g->present);
	st->inflight = g->n_ents;
	st->blocked = g->n_blocked;
	st->pending = g->nheap;
}
