/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer-group engine: members, distribution policies, acks, redelivery, dead letters. */

#include "group_internal.h"

#include <errno.h>
#include <string.h>

static struct ent *
ent_find(const struct sl_group *g, uint64_t seq)
{
	uint32_t p = sl_grp_seq_pos(g, seq);

	return p == NIL ? NULL : &g->e[g->sidx[p] - 1];
}

/* --- members -------------------------------------------------------------------- */

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

/* Weight of member @slot for bucket @b: the bucket prefers the present
 * member of highest weight (ties: the lower slot). */
static inline uint64_t
weight(const struct sl_group *g, uint32_t slot, uint32_t b)
{
	return mix64(g->m[slot].member_id ^ (b * 0x9e3779b97f4a7c15ull));
}

/* Member @slot joined: it takes each bucket it outweighs the holder of,
 * about 1/n of them; no other bucket moves. */
static void
buckets_join(struct sl_group *g, uint32_t slot)
{
	uint32_t b;

	if (g->cfg.policy != SL_GROUP_KEY_AFFINITY)
		return;
	for (b = 0; b < SL_GROUP_KEY_BUCKETS; b++) {
		uint32_t cur = g->bucket[b];
		uint64_t w, wc;

		if (cur == NIL16) {
			g->bucket[b] = (uint16_t)slot;
			continue;
		}
		w = weight(g, slot, b);
		wc = weight(g, cur, b);
		if (w > wc || (w == wc && slot < cur))
			g->bucket[b] = (uint16_t)slot;
	}
}

/* Member @slot left (no longer in g->present): only its buckets move, each
 * to the highest weight among those present. */
static void
buckets_leave(struct sl_group *g, uint32_t slot)
{
	uint32_t b;

	if (g->cfg.policy != SL_GROUP_KEY_AFFINITY)
		return;
	for (b = 0; b < SL_GROUP_KEY_BUCKETS; b++) {
		uint64_t mask = g->present, best_w = 0;
		uint16_t best = NIL16;

		if (g->bucket[b] != slot)
			continue;
		while (mask) {
			uint32_t s = (uint32_t)__builtin_ctzll(mask);
			uint64_t w = weight(g, s, b);

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
		buckets_join(g, (uint32_t)s);
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

/* Entry @ei is due again at @due. One that has had its max_deliveries
 * waits in a heap of its own: its dead-letter decision needs no member,
 * so it never queues behind redeliveries that wait for one. */
static void
make_pending(struct sl_group *g, uint32_t ei, uint64_t due, uint32_t reason, uint32_t last_slot)
{
	struct ent *x = &g->e[ei];

	x->state = E_PENDING;
	x->due = due;
	x->reason = (uint8_t)reason;
	x->slot = last_slot == NIL ? NIL16 : (uint16_t)last_slot;
	if (g->cfg.max_deliveries && x->count >= g->cfg.max_deliveries)
		sl_grp_heap_push(g, &g->xh, ei);
	else
		sl_grp_heap_push(g, &g->ph, ei);
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
		/* The key's one message in flight is settled. */
		if (g->k[x->key].nblocked)
			ready_push(g, x->key);
		else
			sl_grp_key_put(g, x->key);
	}
	sl_grp_seq_delete(g, sl_grp_seq_pos(g, x->seq));
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
		uint32_t p = sl_grp_key_pos(g, key_hash);

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
	if (sl_grp_seq_pos(g, seq) != NIL)
		return -EEXIST;
	if (g->efree == NIL || (slot = choose(g, pref, NIL)) == NIL) {
		g->st.no_credit++;
		return -EAGAIN;
	}
	if (affinity)
		ki = sl_grp_key_get(g, key_hash); /* present now: its next messages wait */
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
sl_group_drop(struct sl_group *g, uint32_t slot, uint64_t seq)
{
	struct ent *x = ent_find(g, seq);
	uint32_t ei;

	if (x == NULL || x->state != E_HELD || x->slot != slot || slot >= g->cfg.max_members)
		return -ENOENT;
	ei = (uint32_t)(x - g->e);
	unhold(g, ei);
	settle(g, ei);
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
	buckets_leave(g, slot);
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

/* Pause or resume a live (not DISCONNECTED) member. */
static int
set_live_state(struct sl_group *g, uint32_t slot, uint32_t state)
{
	if (!live(g, slot) || g->m[slot].state == SL_GROUP_M_DISCONNECTED)
		return -ENOENT;
	g->m[slot].state = state;
	member_update(g, slot);
	return 0;
}

int
sl_group_pause(struct sl_group *g, uint32_t slot)
{
	return set_live_state(g, slot, SL_GROUP_M_PAUSED);
}

int
sl_group_resume(struct sl_group *g, uint32_t slot)
{
	return set_live_state(g, slot, SL_GROUP_M_ACTIVE);
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

/* Due dead-letter decisions. */
static unsigned
poll_dead(struct sl_group *g, struct sl_group_out *out, unsigned n)
{
	unsigned done = 0;

	while (done < n && sl_grp_heap_top_due(g, &g->xh) <= g->now) {
		struct ent *x = &g->e[g->xh.a[0]];

		sl_grp_heap_pop(g, &g->xh);
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
	}
	return done;
}

/* Due redeliveries: to a member, another than the last holder where one
 * can take it. */
static unsigned
poll_pending(struct sl_group *g, struct sl_group_out *out, unsigned n)
{
	unsigned done = 0;

	while (done < n && sl_grp_heap_top_due(g, &g->ph) <= g->now) {
		uint32_t ei = g->ph.a[0], slot, pref = NIL;
		struct ent *x = &g->e[ei];

		if (x->key != NIL)
			pref = bucket_of(g, g->k[x->key].hash);
		slot = choose(g, pref, x->slot == NIL16 ? NIL : x->slot);
		if (slot == NIL)
			break; /* nobody can take it: it stays first in line */
		sl_grp_heap_pop(g, &g->ph);
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
	done = poll_dead(g, out, n);
	done += poll_pending(g, out + done, n - done);
	return done + poll_ready(g, out + done, n - done);
}

uint64_t
sl_group_next_due(const struct sl_group *g)
{
	uint64_t t = UINT64_MAX, mask;

	if (g->rhead != NIL && g->eligible)
		return 0;
	t = sl_grp_heap_top_due(g, &g->ph);
	if (sl_grp_heap_top_due(g, &g->xh) < t)
		t = sl_grp_heap_top_due(g, &g->xh);
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

int
sl_group_restore(struct sl_group *g, uint64_t seq, uint64_t key_hash, uint32_t delivery_count,
		 uint64_t now)
{
	uint32_t ki = NIL, ei;

	now = clock_in(g, now);
	if (sl_grp_seq_pos(g, seq) != NIL)
		return -EEXIST;
	if (g->cfg.policy == SL_GROUP_KEY_AFFINITY && key_hash != SL_GROUP_NO_KEY) {
		uint32_t p = sl_grp_key_pos(g, key_hash);

		if (p != NIL) {
			if (block(g, g->kidx[p] - 1, seq, delivery_count) < 0)
				return -ENOBUFS;
			return 0;
		}
		if (g->efree == NIL)
			return -ENOSPC;
		ki = sl_grp_key_get(g, key_hash);
	}
	if (g->efree == NIL)
		return -ENOSPC;
	ei = ent_new(g, seq, ki, delivery_count);
	make_pending(g, ei, now, SL_GROUP_R_RESTORED, NIL);
	return 0;
}
