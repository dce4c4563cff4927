/* SPDX-License-Identifier: BSD-3-Clause */
/* Idempotent producers: the producer registry (main lcore) and the per-worker dedup table (no EAL). */

#ifndef SLUICE_DP_PRODUCER_H
#define SLUICE_DP_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A producer is (user, name); its id is a hash of both, the same on every
 * broker start, so nothing needs storing. Its epoch tells instances apart:
 * a newer one fences every older one (PROTOCOL.md section 15).
 *
 * The registry keeps each producer id's latest epoch. It lives on the main
 * lcore (PRODUCER requests reach it on the slow path) and is bounded; an
 * entry idle for the idle time is forgotten (an epoch 0 request still gets
 * a higher epoch then: epochs also follow the wall clock).
 *
 * The dedup table belongs to one worker, the owner of the topics it covers:
 * one entry per (producer id, topic) with the epoch, the last producer_seq
 * accepted and the topic seqs of the last SL_DEDUP_RING accepted. It is
 * allocated once; the worker's calls neither allocate nor make a system call.
 */

/* Epochs granted for epoch-0 requests are at least the seconds since this
 * time (2020-01-01T00:00:00Z), so they grow across restarts. */
#define SL_PRODUCER_EPOCH_BASE 1577836800u
/* Accepted publishes per (producer, topic) whose topic seq a duplicate is
 * answered with; older duplicates are answered with seq 0. */
#define SL_DEDUP_RING 256u

/* The producer id of @name (@nlen bytes) of @user (NUL terminated; "" in
 * open mode). Never 0. Thread-safe. */
uint64_t sl_producer_id(const char *user, const char *name, uint32_t nlen);

/* Slots of a fixed-size table found by hash: chains of slot numbers, a
 * free list, all allocated at init. */
struct sl_slot_index {
	uint32_t cap, n, nbuckets, n_free, scan;
	uint32_t *bucket;     /* hash -> slot + 1, 0: empty */
	uint32_t *next;	      /* chain: slot -> slot + 1 */
	uint32_t *free_slots;
};

/* --- registry (main lcore only) --- */

struct sl_producer_reg {
	struct sl_slot_index ix;
	struct sl_producer_slot *slot;
};

/* Room for @cap producers. Returns 0, -EINVAL or -ENOMEM. */
int sl_producer_reg_init(struct sl_producer_reg *r, uint32_t cap);
void sl_producer_reg_fini(struct sl_producer_reg *r);

/*
 * Bind a new session to producer @id at request epoch @req (0: a new
 * instance). @now_s is the wall clock in seconds since the Unix epoch.
 * Returns 0 and the granted epoch in *@epoch, -EPERM when @req is older
 * than the latest known epoch (fenced), or -ENOSPC when the table is full.
 */
int sl_producer_reg_bind(struct sl_producer_reg *r, uint64_t id, uint32_t req, uint64_t now_s,
			 uint32_t *epoch);

/* Raise producer @id's latest epoch to at least @epoch (recovery from the
 * journal). Returns 0 or -ENOSPC. */
int sl_producer_reg_seed(struct sl_producer_reg *r, uint64_t id, uint32_t epoch, uint64_t now_s);

/* Forget producers not used since @now_s - @idle_s, looking at no more than
 * @max_scan slots. Returns the number forgotten. */
uint32_t sl_producer_reg_expire(struct sl_producer_reg *r, uint64_t now_s, uint64_t idle_s,
				uint32_t max_scan);

/* --- dedup table (one worker) --- */

enum sl_dedup_verdict {
	SL_DEDUP_ACCEPT = 0,   /* new: store it, then sl_dedup_commit() */
	SL_DEDUP_DUP,	       /* accepted before: answer with *orig_seq */
	SL_DEDUP_FENCED,       /* an older epoch than the entry's */
	SL_DEDUP_OUT_OF_ORDER, /* a gap after the last one accepted */
	SL_DEDUP_FULL,	       /* no room for a new (producer, topic) */
};

struct sl_dedup_entry {
	uint64_t producer_id; /* 0: free slot */
	uint32_t topic;
	uint32_t epoch;
	uint64_t first_seq; /* producer_seq of the first accepted in this epoch */
	uint64_t last_seq;  /* last accepted; valid when have */
	uint64_t last_used; /* caller's clock */
	uint8_t have;
	uint8_t reserved[7];
	uint64_t ring[SL_DEDUP_RING]; /* topic seq of producer_seq p at p % RING */
};

struct sl_dedup {
	struct sl_slot_index ix;
	struct sl_dedup_entry *e;
};

/* Room for @cap (producer, topic) entries. Returns 0, -EINVAL or -ENOMEM.
 * Not for a worker lcore: it allocates. */
int sl_dedup_init(struct sl_dedup *d, uint32_t cap);
void sl_dedup_fini(struct sl_dedup *d);

/*
 * What to do with publish @pseq of producer @id at @epoch on @topic. Sets
 * *@slot for sl_dedup_commit (on SL_DEDUP_ACCEPT) and, on SL_DEDUP_DUP,
 * *@orig_seq to the topic seq the original got (0 when it is older than the
 * ring). Creates the entry of a new (producer, topic) and resets one of an
 * older epoch; such a stream starts only at a publish flagged @first
 * (SL_PUB_F_FIRST), others are out of order, so that a publish overtaken by
 * the next one is not taken for a duplicate. No allocation, no system call.
 */
enum sl_dedup_verdict sl_dedup_check(struct sl_dedup *d, uint64_t id, uint32_t epoch,
				     uint32_t topic, uint64_t pseq, bool first, uint64_t now,
				     uint32_t *slot, uint64_t *orig_seq);

/* Publish @pseq, accepted by sl_dedup_check into *@slot, was stored as
 * topic seq @seq. */
void sl_dedup_commit(struct sl_dedup *d, uint32_t slot, uint64_t pseq, uint64_t seq);

/*
 * Recovery: the journal holds publish @pseq of (@id, @epoch) as topic seq
 * @seq, records read in seq order. Returns 0, or -ENOSPC when the table is
 * full (the rest is not deduplicated).
 */
int sl_dedup_rebuild(struct sl_dedup *d, uint64_t id, uint32_t epoch, uint32_t topic,
		     uint64_t pseq, uint64_t seq, uint64_t now);

/* Drop every entry of @topic (the topic was deleted). */
void sl_dedup_drop_topic(struct sl_dedup *d, uint32_t topic);

/* Forget entries not used since @now - @idle, looking at no more than
 * @max_scan slots. Returns the number forgotten. */
uint32_t sl_dedup_expire(struct sl_dedup *d, uint64_t now, uint64_t idle, uint32_t max_scan);

#endif /* SLUICE_DP_PRODUCER_H */
