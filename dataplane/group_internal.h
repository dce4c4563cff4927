/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer-group engine internals shared by group.c (the engine) and group_mem.c (its tables). */

#ifndef SLUICE_DP_GROUP_INTERNAL_H
#define SLUICE_DP_GROUP_INTERNAL_H

#include "group.h"

/*
 * Tables, all carved out of the caller's memory at init:
 *  - ents: one entry per unsettled message, on a free list when unused. An
 *    entry is HELD (by a member: on that member's list and, with an
 *    ack-wait, on the deadline list), PENDING (due again: in a due-time
 *    heap, the dead-letter one once it had max_deliveries) or DEAD (a
 *    dead-letter decision handed out, not yet settled). The seq index
 *    (open addressing, linear probing, backward-shift deletion) finds an
 *    entry by sequence.
 *  - keys (key affinity only): one entry per key with an unsettled or held
 *    message: it exists exactly while the key has a message unsettled
 *    (its one in flight: held, due again or dead-letter pending) or held
 *    back, and keeps the FIFO of those held behind it (blocked entries).
 *    A key whose message settled and that has more waiting goes on the
 *    ready list.
 *  - buckets: key hash -> preferred member, by highest random weight over
 *    the members present, so the map depends on who is there, not on the
 *    order they came: a member leaving moves only its own buckets, one
 *    joining takes about 1/n (each a pass over the 1,024 buckets).
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
	uint32_t hpos;	       /* PENDING: position in its heap */
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
	uint32_t nblocked;     /* messages held behind it */
	uint32_t bhead, btail; /* their FIFO (blocked entries) */
	uint32_t rnext;	       /* ready list; FREE: next free */
	uint32_t ready;	       /* 1: on the ready list */
	uint32_t pad;
};

struct bent {
	uint64_t seq;
	uint32_t count; /* deliveries made before (restored messages) */
	uint32_t next;
};

/* A binary min-heap of entries by (due, seq). */
struct heap {
	uint32_t *a;
	uint32_t n;
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
	uint32_t smask;
	uint32_t dhead, dtail; /* deadline list */
	uint32_t n_keys, kfree, kmask;
	uint32_t n_blocked, bfree;
	uint32_t rhead, rtail; /* ready keys */
	struct ent *e;
	uint32_t *sidx; /* seq index: entry + 1, 0 empty */
	struct heap ph; /* PENDING entries due for redelivery */
	struct heap xh; /* PENDING entries due for a dead-letter decision */
	struct kent *k;
	uint32_t *kidx; /* key index: key entry + 1, 0 empty */
	struct bent *b;
	struct sl_group_member m[SL_MAX_GROUP_MEMBERS];
	uint16_t bucket[SL_GROUP_KEY_BUCKETS];
};

static inline uint64_t
bit(uint32_t slot)
{
	return 1ull << slot;
}

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

static inline uint32_t
key_home(const struct sl_group *g, uint64_t hash)
{
	return (uint32_t)mix64(hash) & g->kmask;
}

static inline uint64_t
sl_grp_heap_top_due(const struct sl_group *g, const struct heap *h)
{
	return h->n ? g->e[h->a[0]].due : UINT64_MAX;
}

/* group_mem.c: the seq index, the key index, the heaps. */

/* Position of @seq in the seq index, or NIL. */
uint32_t sl_grp_seq_pos(const struct sl_group *g, uint64_t seq);
/* Remove position @pos of the seq index. */
void sl_grp_seq_delete(struct sl_group *g, uint32_t pos);
/* Position of key @hash in the key index, or NIL. */
uint32_t sl_grp_key_pos(const struct sl_group *g, uint64_t hash);
/* The key entry of @hash, made when missing (there is always room). */
uint32_t sl_grp_key_get(struct sl_group *g, uint64_t hash);
/* Key entry @ki goes (nothing of it unsettled or held any more). */
void sl_grp_key_put(struct sl_group *g, uint32_t ki);
/* Add entry @ei to @h; take the first entry off @h. */
void sl_grp_heap_push(struct sl_group *g, struct heap *h, uint32_t ei);
void sl_grp_heap_pop(struct sl_group *g, struct heap *h);
/* Key-affinity key entries the tables have room for. */
uint32_t sl_grp_key_cap(const struct sl_group_cfg *c);

#endif /* SLUICE_DP_GROUP_INTERNAL_H */
