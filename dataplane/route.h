/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic table and per-topic subscriber sets: the routing state (no EAL). */

#ifndef SLUICE_DP_ROUTE_H
#define SLUICE_DP_ROUTE_H

#include <stdint.h>

#include <common/filter.h>
#include <common/proto.h>

#include "peer.h"

/*
 * Concurrency: topics are created by one writer (the main lcore) while
 * workers look them up without locks. A topic, once published, never
 * changes. Each topic is owned by one worker (id % n_workers): only that
 * worker touches the topic's subscriber set and sequence, so they need no
 * synchronisation at all.
 */

struct sl_topic {
	uint32_t id;
	uint32_t hash;
	uint16_t name_len;
	uint16_t owner;	   /* worker index that owns subscribers and sequence */
	uint32_t active;   /* set last, with release; pairs with sl_route_topic_get */
	char name[SL_MAX_TOPIC_NAME + 1];
};

/* Where to send a subscriber its deliveries, and how far (flow control). */
struct sl_sub {
	uint32_t session;
	union sl_peer peer;   /* on its transport */
	uint32_t req_id;      /* of the SUBSCRIBE that made it: a resend is a no-op */
	uint64_t replay_next; /* next journal seq to replay; 0 when live */
	uint64_t credit;      /* UDP: the highest seq it may be sent (CREDIT) */
	uint64_t stall_since; /* TSC its credit first held a message back (block); 0 none */
	uint64_t nak_tat;     /* its NAKs' token bucket: theoretical arrival time (GCRA) */
	uint64_t status_seq;  /* the last seq a STATUS told it */
};
#ifndef __cplusplus
_Static_assert(sizeof(struct sl_sub) == 64, "one subscriber per cache line");
#endif

/* Filtered subscriptions (protocol version 4) each owner worker holds. */
#define SL_ROUTE_FILTERS 1024u

/*
 * A subscription's header filter, in its owner's pool, and the run of
 * sequences it skipped that the subscriber has not been told of yet (SKIP,
 * PROTOCOL.md 5.6.2).
 */
struct sl_sub_filter {
	struct sl_filter f;
	uint32_t topic;	     /* 0: the entry is free */
	uint32_t session;
	uint64_t skip_first; /* 0: nothing skipped untold */
	uint64_t skip_last;
};

/* One retransmit-window slot: a stored PUBLISH frame (a reference on m). */
struct sl_retx_slot {
	struct rte_mbuf *m;
	uint16_t off, len;
	uint32_t seq32; /* low bits of its seq: tells a stale slot from a live one */
	uint64_t rx_tsc; /* when its owner took it in (the lag of a retransmit) */
};

struct sl_journal;
struct rte_mbuf;

/* Owner-private state of one topic. */
struct sl_topic_state {
	uint64_t seq;	    /* last sequence assigned */
	uint64_t published; /* publishes accepted */
	uint64_t delivered; /* DELIVER frames handed to the NIC */
	uint64_t dropped;   /* deliveries lost for lack of mbufs or tx room */
	uint32_t n_subs;
	/* Subscriber slots claimed: n_subs plus pattern subscriptions the main
	 * lcore admitted that are on their way to the owner. Changed only by
	 * compare-and-swap (owner and main lcore), never above max_subs, so a
	 * pattern subscription is refused before it is answered OK. */
	uint32_t sub_claims;
	uint8_t durability; /* enum sl_durability, fixed at creation */
	uint8_t dirty;	    /* appended since the last sync */
	uint8_t replaying;  /* on the owner's replay list */
	uint8_t backpressure; /* enum sl_backpressure; sluicectl may change it */
	uint32_t bp_held;   /* messages held back (policy block); read by other
			     * workers (relaxed) to hold publishers back */
	uint32_t bp_pass;   /* owner: held-list retry pass that kept one */
	struct sl_sub *subs;
	/* Who each subscriber is, index for index with subs: its session's
	 * user and key serial (SL_AUTHZ_SUB_USER; 0: anonymous), so that the
	 * owner re-checks its subscribers' rights on its own when control
	 * revokes some. */
	uint32_t *sub_user;
	/* Index for index with subs: 1 + the subscription's entry in its
	 * owner's filter pool (sl_route_sub_filter), 0 when unfiltered. */
	uint16_t *sub_filter;
	uint32_t n_filtered; /* subscriptions with a filter: 0 skips the test */
	struct sl_journal *journal; /* NULL for durability none */
	/* A deleted topic's journal, handed by its owner to the main lcore,
	 * which closes it (a close unmaps and closes files: not on a worker).
	 * Published by the owner's release store of durability none. */
	struct sl_journal *closing;
	/* Snapshots for readers on other threads (relaxed stores by the owner). */
	uint64_t j_first, j_durable, j_bytes;
	uint64_t j_corrupt;   /* committed records recovery found damaged (set at open) */
	uint64_t replay_gaps; /* gap notices sent to replaying subscribers */
	uint64_t journal_full; /* owner: publishes refused, the journal could not grow */
	uint8_t j_nospace; /* main lcore: its last spare segment found the disk full */
	uint8_t dedup_built; /* owner: its producers' dedup entries rebuilt from the journal */
	uint8_t status_listed; /* owner: on its worker's idle-STATUS list */
	/* Retransmit window (owner only, retx.c): the last messages fanned out,
	 * held by reference; retx_window is set by the main lcore (relaxed). */
	uint32_t retx_window;  /* messages kept; 0 = none */
	uint64_t retx_lo;      /* lowest seq the window may still hold */
	uint64_t dlv_seq;      /* last seq fanned out (STATUS, NAK bound) */
	uint64_t dlv_tsc;      /* when (TSC) */
	struct sl_retx_slot *retx; /* the topic's ring in its owner's arena */
	/* Largest message payload it takes; 0: the configuration's max_message.
	 * Main lcore writes (relaxed), rx workers read (relaxed). */
	uint32_t max_message;
	/* Encryption policy (SL_CNC_ENC_*) UDP sessions must meet to publish
	 * or subscribe. Main lcore writes (relaxed), rx workers read (relaxed). */
	uint8_t enc;
	/* A partitioned topic's name: its number of partitions (RESOLVE answers
	 * the map; PUBLISH and SUBSCRIBE to it are refused); 0 for an ordinary
	 * topic. Set before the topic is published, never changed. */
	uint16_t parts;
	/* Scale-out: the topic moved to another pair (topic_moved.c). The main
	 * lcore clears moved (release), writes moved_to, sets moved (release);
	 * rx workers load moved (acquire, pairs with the set) and, when set,
	 * copy moved_to into ERROR SL_E_MOVED. A topic moved on again while a
	 * worker copies may name a mix of the two pairs in that one ERROR: the
	 * client follows it and is told again. Cleared when a topic is created. */
	uint8_t moved;
	struct sl_topic_moved {
		uint8_t addr[4]; /* network order */
		uint16_t port;
		uint32_t epoch;
		char pair[SL_PAIR_NAME_LEN];
	} moved_to;
} __attribute__((aligned(64)));

/*
 * Called by sl_route_topic_create_init for a new topic before it becomes
 * visible to workers: attach its journal, restore its sequence. Returns 0
 * or -errno to abandon the creation.
 */
typedef int (*sl_topic_init_fn)(void *arg, const struct sl_topic *t, struct sl_topic_state *ts);

struct sl_route {
	uint32_t cap;	    /* topic ids are 1 .. cap-1 */
	uint32_t max_subs;
	uint32_t n_workers;
	uint32_t n_topics;  /* written by the creator only */
	uint32_t slot_mask;
	uint32_t *slots;    /* open addressing: name hash -> topic id, 0 = empty */
	struct sl_topic *topics;
	struct sl_topic_state *state;
	struct sl_sub *subs;
	uint32_t *sub_user; /* parallel to subs */
	uint16_t *sub_filter; /* parallel to subs */
	struct sl_sub_filter *filters; /* SL_ROUTE_FILTERS per worker, by owner */
};

/*
 * Allocate a table for @max_topics - 1 topics with up to @max_subs
 * subscribers each, owned round-robin by @n_workers workers.
 * Returns 0 or -ENOMEM / -EINVAL. Not thread-safe; call before workers run.
 */
int sl_route_init(struct sl_route *r, uint32_t max_topics, uint32_t max_subs,
		  uint32_t n_workers);
void sl_route_fini(struct sl_route *r);

/*
 * Find or create the topic @name (@len bytes). Sets *id.
 * Returns 1 if created, 0 if it existed, -EINVAL (bad name) or -ENOSPC
 * (table full). Single writer: only one thread may create at a time.
 */
int sl_route_topic_create(struct sl_route *r, const char *name, uint32_t len, uint32_t *id);

/* The same, running @init (may be NULL) on a new topic before publishing it.
 * Returns what sl_route_topic_create does, or @init's error. */
int sl_route_topic_create_init(struct sl_route *r, const char *name, uint32_t len,
			       sl_topic_init_fn init, void *arg, uint32_t *id);

/* Stop routing topic @id: lookups and gets no longer find it, and a topic
 * of the same name may be created again (with a new id). Creator only. */
void sl_route_topic_deactivate(struct sl_route *r, uint32_t id);

/* Topic id for @name, or 0. Lock-free; safe concurrently with one creator. */
uint32_t sl_route_topic_lookup(const struct sl_route *r, const char *name, uint32_t len);

/* The active topic @id, or NULL. Lock-free. */
static inline const struct sl_topic *
sl_route_topic_get(const struct sl_route *r, uint32_t id)
{
	const struct sl_topic *t;

	if (id == 0 || id >= r->cap)
		return NULL;
	t = &r->topics[id];
	/* Acquire: pairs with the release store in sl_route_topic_create. */
	return __atomic_load_n(&t->active, __ATOMIC_ACQUIRE) ? t : NULL;
}

static inline struct sl_topic_state *
sl_route_state(const struct sl_route *r, uint32_t id)
{
	return &r->state[id];
}

/*
 * Add or refresh subscriber @s on topic @id. Owner worker only.
 * Returns 0 when added, 1 when the session was already subscribed (its
 * address is refreshed), -ENOSPC when the topic is full (its max_subs
 * slots are taken or claimed).
 */
int sl_route_sub_add(struct sl_route *r, uint32_t id, const struct sl_sub *s);
/* The same, for a session of @user (SL_AUTHZ_SUB_USER; sl_route_sub_add: 0). */
int sl_route_sub_add_user(struct sl_route *r, uint32_t id, const struct sl_sub *s,
			  uint32_t user);

/*
 * Claim one subscriber slot of topic @id for a subscription that will be
 * added later with sl_route_sub_add_claimed. Any thread (compare-and-swap,
 * relaxed: the count orders nothing else). 0, or -ENOSPC when the topic's
 * max_subs slots are all taken or claimed.
 */
int sl_route_sub_claim(struct sl_route *r, uint32_t id);

/* Give back a slot claimed with sl_route_sub_claim and not used. Any thread. */
void sl_route_sub_unclaim(struct sl_route *r, uint32_t id);

/*
 * sl_route_sub_add for a subscriber whose slot was claimed: never -ENOSPC.
 * When the session was subscribed already the claim is given back.
 * Owner worker only. Returns 0 (added) or 1 (refreshed).
 */
int sl_route_sub_add_claimed(struct sl_route *r, uint32_t id, const struct sl_sub *s);
/* The same, for a session of @user (SL_AUTHZ_SUB_USER; sl_route_sub_add_claimed: 0). */
int sl_route_sub_add_claimed_user(struct sl_route *r, uint32_t id, const struct sl_sub *s,
				  uint32_t user);

/* The subscriber entry of @session on topic @id, or NULL. Owner only. */
struct sl_sub *sl_route_sub_find(struct sl_route *r, uint32_t id, uint32_t session);

/* Remove @session from topic @id. Owner only. Returns 0 or -ENOENT. */
int sl_route_sub_del(struct sl_route *r, uint32_t id, uint32_t session);

/*
 * Give subscription @session of topic @id the filter @f (a copy is kept),
 * or none (@f NULL). Owner only. Returns 0, -ENOENT (no such
 * subscription) or -ENOSPC (the owner's filter pool is full).
 */
int sl_route_sub_set_filter(struct sl_route *r, uint32_t id, uint32_t session,
			    const struct sl_filter *f);

/* The filter of subscriber @i of topic @id, or NULL. Owner only. */
static inline struct sl_sub_filter *
sl_route_sub_filter(struct sl_route *r, uint32_t id, uint32_t i)
{
	uint16_t k = r->state[id].sub_filter[i];

	/* Each owner's pool is its own: one writer, no sharing. */
	return k ? &r->filters[(size_t)(id % r->n_workers) * SL_ROUTE_FILTERS + k - 1] : NULL;
}

/* Remove @session from every topic owned by @owner. Returns how many. */
uint32_t sl_route_sub_del_session(struct sl_route *r, uint32_t owner, uint32_t session);

#endif /* SLUICE_DP_ROUTE_H */
