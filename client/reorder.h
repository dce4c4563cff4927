/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: the per-topic reorder buffer that hands each topic's messages to the application in seq order, once each, and asks the broker for what is missing. */

#ifndef SLUICE_CLIENT_REORDER_H
#define SLUICE_CLIENT_REORDER_H

#include <stdbool.h>
#include <stdint.h>

#include <sluice/sluice.h>

#include "frag_rx.h"

/*
 * Rules (docs/PROTOCOL.md section 16 for the frames):
 * - Each topic has a next expected seq, @head. The first DELIVER after a
 *   subscription sets it (no NAK before), unless sl_ro_reset gave one.
 * - seq == head with nothing buffered: handed over at once, from the
 *   caller's datagram (the fast path: a lookup and a compare, no copy).
 * - seq < head, or a seq already buffered: a duplicate, dropped, counted.
 * - seq > head: copied into the topic's window (window slots, preallocated
 *   at the topic's first use) and handed over once everything before it
 *   was, or given up.
 * - A hole (a seq between head and the highest known, from DELIVERs or a
 *   STATUS) is NAKed nak_delay after the topic first had one, then every
 *   nak_retry while any lasts; each NAK names one missing run.
 * - The broker's ERROR with a range (SL_E_GAP_LOST, SL_E_REPLAY_GAP,
 *   SL_E_SLOW_CONSUMER) marks it lost: when head reaches it, the missing
 *   seqs are skipped with one SL_EV_GAP per run, carrying that code.
 * - A SKIP (v4: seqs the subscription's filter skipped) is kept the same
 *   way with SL_RO_FILTERED: never NAKed, passed over without an event.
 * - Window full: a seq at or past head + window makes room by giving up the
 *   oldest holes (SL_EV_GAP, error SL_E_GAP_LOST, counted in
 *   holes_given_up), after handing over what is buffered before them.
 * - A hole at head that sees no progress for gap_timeout is given up the
 *   same way: a broker that answers no NAK cannot stall a topic forever.
 * - Ordered transports (shared memory, a version 1 session): nothing is
 *   reordered or lost in transit, so a jump in seq is given up at once
 *   (the broker dropped those messages) and nothing is NAKed or credited.
 * - CREDIT: limit = head - 1 + window, sent when it moved window / 4 past
 *   the last one sent and with each heartbeat (sl_ro_credit_all).
 */

#define SL_RO_WINDOW_DEFAULT 4096u
#define SL_RO_WINDOW_MAX SL_RO_MAX_WINDOW
#define SL_RO_MAX_WINDOW (1u << 16)
/* Topics tracked per client: the tables start at SL_RO_TOPICS_MIN and
 * double as topics arrive, up to SL_RO_TOPICS_MAX, the broker's largest
 * topic table (max_topics 65536: ids 1..65535), so every topic a broker can
 * have is tracked. Past it, or without memory, a topic's deliveries pass
 * through unordered and are counted (sl_client_stats.untracked). */
#define SL_RO_TOPICS_MIN 64u
#define SL_RO_TOPICS_MAX 65536u
#define SL_RO_LOST_RANGES 4u  /* ranges the broker said are lost, per topic */
/* The "error" of a range the broker said a filter skipped (SKIP, v4):
 * passed over without an event, counted in stats.filtered. */
#define SL_RO_FILTERED 0xffffu
#define SL_RO_NAKS_PER_TICK 16u /* missing runs NAKed per topic per round */

/* What the buffer asks of its owner: the wire and the application. */
struct sl_ro_ops {
	/* Send NAK @first..@last for topic @topic: 0 or -errno. */
	int (*nak)(void *arg, uint32_t topic, uint64_t first, uint64_t last);
	/* Send CREDIT @limit for topic @topic: 0 or -errno. */
	int (*credit)(void *arg, uint32_t topic, uint64_t limit);
	/* An event for the application (SL_EV_GAP); may be NULL. */
	void (*event)(void *arg, const struct sl_event *ev);
	void *arg;
};

struct sl_ro_conf {
	uint32_t window;	 /* messages; power of two, <= SL_RO_MAX_WINDOW */
	uint32_t slot_bytes;	 /* largest DELIVER payload kept in a slot */
	uint32_t max_message;	 /* largest reassembled message */
	uint64_t nak_delay_ns;
	uint64_t nak_retry_ns;
	uint64_t gap_timeout_ns;
};

struct sl_ro_slot {
	uint64_t seq;	    /* seq held; 0 when free */
	uint64_t timestamp;
	uint32_t len;
	uint16_t frag;	    /* 0: data in the arena; else 1 + reassembly slot */
	uint16_t hdrs;	    /* v4: the data starts with a header block */
};

struct sl_ro_lost {
	uint64_t first, last; /* first 0: unused */
	uint16_t error;
};

/* One topic's state. */
struct sl_ro_topic {
	uint32_t id;	     /* the application's topic id (rx.c translates the
			      * broker's after a reconnect) */
	bool started;	     /* head is known; false: the next DELIVER sets it */
	bool ready;	     /* buffered messages from head wait for a poll's budget */
	bool ended;	     /* the broker ended the subscription (sl_ro_end):
			      * deliveries are dropped until sl_ro_reset */
	uint64_t head;	     /* next seq the application gets */
	uint64_t top;	     /* highest seq known to exist */
	uint32_t nbuf;	     /* slots in use */
	uint64_t giveup_below; /* missing seqs below this are given up */
	uint64_t nak_due;    /* when to NAK next; 0: no hole seen */
	uint64_t stall_head; /* head when stall_ns was taken */
	uint64_t stall_ns;   /* since when head waits at a hole; 0: not */
	uint64_t credit_sent; /* last CREDIT limit sent; 0: none */
	uint64_t credit_at;  /* head at which the next CREDIT is due */
	struct sl_ro_lost lost[SL_RO_LOST_RANGES];
	struct sl_ro_slot *slot; /* window slots */
	uint8_t *arena;	     /* window * slot_bytes, mapped untouched */
	struct sl_frag_rx fr;
};

struct sl_reorder {
	struct sl_ro_conf conf;
	struct sl_ro_ops ops;
	struct sl_client_stats *st; /* where to count */
	bool ordered;		    /* the transport neither loses nor reorders */
	uint32_t ntopics;
	uint32_t nready;	    /* topics with ready set */
	uint64_t timer_ns;	    /* earliest nak_due or stall deadline; UINT64_MAX none */
	struct sl_ro_topic *last;   /* the topic of the previous frame */
	uint32_t cap;		    /* topics the tables hold now: a power of two, 0 */
	unsigned int id_bits;	    /* by_id holds 1 << id_bits = 2 * cap slots */
	struct sl_ro_topic **topics; /* [cap], in order of creation */
	struct sl_ro_topic **by_id;  /* [2 * cap], open addressing on id */
};

/* A message or piece as it came off the wire. */
struct sl_ro_msg {
	uint32_t topic;	    /* topic id (the application's) */
	uint16_t flags;	    /* SL_DLV_F_* */
	uint64_t seq;
	uint64_t timestamp;
	const void *data;
	uint32_t len;	    /* bytes at @data */
	bool frag;	    /* a DELIVER_FRAG piece: the fields below apply */
	uint32_t msg_len;
	uint32_t frag_off;
};

/*
 * Set up @ro (zeroed by the caller) with @conf (window rounded up to a
 * power of two, 0: SL_RO_WINDOW_DEFAULT), @ops, counting in @st. Allocates
 * nothing: topics, and the tables as they grow, are allocated by
 * sl_ro_topic_get. 0 or -EINVAL (window over SL_RO_MAX_WINDOW).
 */
int sl_ro_init(struct sl_reorder *ro, const struct sl_ro_conf *conf, const struct sl_ro_ops *ops,
	       struct sl_client_stats *st);

/* Free every topic and the tables (@ro may be used again: it starts empty). */
void sl_ro_fini(struct sl_reorder *ro);

/*
 * The state of topic @id, created and its window allocated when new. NULL
 * when @id is 0, the tables are at SL_RO_TOPICS_MAX (the topic's messages then
 * pass through unordered) or memory is short.
 */
struct sl_ro_topic *sl_ro_topic_get(struct sl_reorder *ro, uint32_t id);

/* The state of topic @id, NULL if none. */
struct sl_ro_topic *sl_ro_topic_find(struct sl_reorder *ro, uint32_t id);

/*
 * Forget what the topic held: buffered messages, holes, lost ranges,
 * timers. @next 0: the next DELIVER sets the start; else the next seq the
 * application gets is @next.
 */
void sl_ro_reset(struct sl_reorder *ro, struct sl_ro_topic *t, uint64_t next);

/* The broker ended @t's subscription: what it holds is dropped (counted in
 * revoked_drops), nothing is NAKed or credited, and every later delivery
 * of it is dropped and counted, until sl_ro_reset (a new subscription). */
void sl_ro_end(struct sl_reorder *ro, struct sl_ro_topic *t);

/* A new session: topics ended in the old one take deliveries again (the
 * broker sends them only to what this session subscribes). */
void sl_ro_end_clear(struct sl_reorder *ro);

/*
 * @m's payload from a delivery's @len bytes at @data: with @hdrs (v4) they
 * start with a header block, whose key and headers fill @m's fields and
 * the payload follows. False when that block is malformed (then @m holds
 * the bytes whole). Thread-safe.
 */
bool sl_ro_message_body(struct sl_message *m, const void *data, uint32_t len, bool hdrs);

/*
 * A DELIVER or DELIVER_FRAG piece @m at @now: hands what is in order to
 * @fn, at most @budget (>= 1) messages. Returns the messages handed over;
 * *@taken is false when @m could not be taken yet because buffered
 * messages wait for budget first (offer @m again at the next poll, after
 * sl_ro_drain).
 */
int sl_ro_rx(struct sl_reorder *ro, const struct sl_ro_msg *m, sl_deliver_fn fn, void *arg,
	     int budget, uint64_t now, bool *taken);

/* Hand over buffered messages that are in order, at most @budget. */
int sl_ro_drain(struct sl_reorder *ro, sl_deliver_fn fn, void *arg, int budget, uint64_t now);

/* Whether a drain has anything to hand over (one load). */
static inline bool
sl_ro_ready(const struct sl_reorder *ro)
{
	return ro->nready != 0;
}

/*
 * The broker says topic @topic's @first..@last will never come
 * (@error: SL_E_GAP_LOST, SL_E_REPLAY_GAP, SL_E_SLOW_CONSUMER).
 */
void sl_ro_lost(struct sl_reorder *ro, uint32_t topic, uint64_t first, uint64_t last,
		uint16_t error, uint64_t now);

/* A STATUS entry: topic @topic's latest seq is @last_seq. */
void sl_ro_status(struct sl_reorder *ro, uint32_t topic, uint64_t last_seq, uint64_t now);

/* Timers: NAK holes that are due, give up stalled ones. Cheap when nothing
 * is due (one compare). */
void sl_ro_tick(struct sl_reorder *ro, uint64_t now);

/* When sl_ro_tick next has work; UINT64_MAX when none. */
static inline uint64_t
sl_ro_next_timer(const struct sl_reorder *ro)
{
	return ro->timer_ns;
}

/* Send every started topic's CREDIT (the heartbeat's). */
void sl_ro_credit_all(struct sl_reorder *ro);

/* The last seq handed to the application for @t, 0 if none. */
static inline uint64_t
sl_ro_last_delivered(const struct sl_ro_topic *t)
{
	return t->head > 0 ? t->head - 1 : 0;
}

/*
 * ---- The client's use of it (rx.c). Every call runs on the thread that
 * owns the client, like the rest of libsluice.
 */

struct sl_client;
struct sl_frame;

/* Defaults of the sl_client_opts fields (0 means these). */
#define SL_CL_NAK_DELAY_US 500u
#define SL_CL_NAK_RETRY_MS 20u
#define SL_CL_GAP_TIMEOUT_MS 2000u

/* The client's reorder state: the buffer and what it needs of the client. */
struct sl_cl_reorder {
	struct sl_reorder ro;
	struct sl_client *c;
	uint64_t now;	     /* the current poll's clock */
	uint16_t version;    /* the session's protocol version */
	uint64_t incarnation; /* the broker's, from WELCOME; 0 before one */
};

/* sl_client_connect: set up c->ro from @o (reorder_window, nak_delay_us,
 * nak_retry_ms, gap_timeout_ms). 0, -EINVAL (reorder_window over
 * SL_RO_MAX_WINDOW, or under 4 when not 0), -ENOMEM. */
int sl_cl_reorder_init(struct sl_client *c, const struct sl_client_opts *o);

/* sl_client_close (and a failed connect): free c->ro. NULL c->ro is fine. */
void sl_cl_reorder_free(struct sl_client *c);

/* A WELCOME accepted (@f): the session's version and max_message. Over
 * shared memory or a version 1 session the buffer runs ordered. */
void sl_cl_reorder_welcome(struct sl_client *c, const struct sl_frame *f);

/* The window SUBSCRIBE asks for (its `window` field). */
uint32_t sl_cl_reorder_window(const struct sl_client *c);

/* An UNSUBSCRIBE of application topic @topic was answered OK: nothing
 * more is NAKed or credited for it, and a later subscription starts anew.
 * (A SUBSCRIBE resets the topic with sl_cl_reorder_reset, next_seq 0.) */
void sl_cl_reorder_unsubscribed(struct sl_client *c, uint32_t topic);

/* A heartbeat went out: send every started topic's CREDIT with it. */
void sl_cl_reorder_heartbeat(struct sl_client *c);

/*
 * Reconnecting (reconnect.c) uses sl_cl_reorder_last_delivered and
 * sl_cl_reorder_reset, declared in client_internal.h: a topic's next
 * seq is last delivered + 1 for a durable resubscription FROM_SEQ, or 0
 * (the next DELIVER sets it) for a live one and after the broker's
 * incarnation changed. Topic ids here are the application's: rx.c turns the
 * broker's into them (sl_cl_topic_to_app) and back for NAK and CREDIT.
 */

/* The poll's receive steps (rx.c). */
void sl_cl_reorder_status(struct sl_client *c, const struct sl_frame *f);
void sl_cl_reorder_gap(struct sl_client *c, uint32_t wire, uint64_t first, uint64_t last,
		       uint16_t error);

#endif /* SLUICE_CLIENT_REORDER_H */
