/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer-group engine: which member gets each message, acks, redelivery, dead letters. */

#ifndef SLUICE_DP_GROUP_H
#define SLUICE_DP_GROUP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One struct sl_group per consumer group, owned by the topic's owner
 * worker, its only user. The engine is pure: it reads no clock (every call
 * that needs time takes @now in nanoseconds of one monotonic clock, and a
 * @now that goes backwards is taken as the largest seen), makes no system
 * call, takes no lock and allocates nothing after sl_group_init: every
 * table is carved out of the memory the caller hands in, sized by
 * sl_group_mem_size. It never sees a message's bytes: it deals in
 * sequences and key hashes, and says what to send to whom; the caller owns
 * the topic's cursor, reads the messages (window or journal) and sends.
 *
 * The owner worker drives it so (docs/GROUPS.md "Driving the engine"):
 *   each iteration:  n = sl_group_poll(g, now, out, N)   redeliveries, held
 *                    messages now free to go, dead-letter decisions;
 *                    then, while the cursor has messages:
 *                    sl_group_offer(g, seq, key_hash, now, &o)
 *                    1 (sent) or 0 (held): cursor++; < 0: stop, retry later.
 *   GACK / GNAK:     sl_group_ack, sl_group_ack_upto, sl_group_nak.
 *   GJOIN / GCTL:    sl_group_join, sl_group_leave, sl_group_pause,
 *                    sl_group_resume, sl_group_fetch.
 *   session gone:    sl_group_member_lost.
 * Messages are "unsettled" from the offer that accepts them until they are
 * acknowledged or dead-lettered (sl_group_dead_settled): at least once.
 */

#define SL_MAX_GROUP_MEMBERS 64u
#define SL_MAX_GROUP_CREDIT 4096u
#define SL_MAX_GROUP_INFLIGHT 65536u
#define SL_MAX_GROUP_BLOCKED 65536u
#define SL_MAX_NAK_DELAY_MS 3600000u
/* Key-affinity buckets: a key hash picks a bucket, a bucket prefers one member. */
#define SL_GROUP_KEY_BUCKETS 1024u
#define SL_GROUP_NO_KEY 0u /* key_hash 0: the message has no key */

/* Distribution policies (the GROUP frame's u16 policy: the same values as
 * common/proto.h's enum sl_group_policy, whose tag this does not repeat so
 * that both headers may be included together). */
enum sl_group_engine_policy {
	SL_GROUP_ROUND_ROBIN = 1,	/* the next member that can take one */
	SL_GROUP_LEAST_OUTSTANDING = 2, /* most free credit first, ties round-robin */
	SL_GROUP_KEY_AFFINITY = 3,	/* per-key order, a key prefers one member */
};

struct sl_group_cfg {
	uint32_t policy;	 /* enum sl_group_engine_policy */
	uint32_t max_members;	 /* member slots, 1..SL_MAX_GROUP_MEMBERS */
	uint32_t max_inflight;	 /* unsettled messages the group holds (delivered,
				  * waiting for redelivery or for a dead-letter
				  * publish), 1..SL_MAX_GROUP_INFLIGHT */
	uint32_t max_blocked;	 /* key affinity: messages held behind a busy key,
				  * 0..SL_MAX_GROUP_BLOCKED (0 with other policies) */
	uint32_t max_credit;	 /* per member, 1..SL_MAX_GROUP_CREDIT; 0 = the max */
	uint32_t max_deliveries; /* deliveries before a dead letter; 0 = no limit */
	uint64_t ack_wait_ns;	 /* redeliver when not acked in time; 0 = never */
	uint64_t grace_ns;	 /* a lost member may rejoin this long; 0 = none */
};

/* Member states (sl_group_member.state). */
enum sl_group_mstate {
	SL_GROUP_M_FREE = 0,	     /* slot unused */
	SL_GROUP_M_ACTIVE = 1,	     /* takes messages (a pull member: up to its budget) */
	SL_GROUP_M_PAUSED = 2,	     /* keeps what it holds, gets nothing new */
	SL_GROUP_M_DISCONNECTED = 3, /* lost: its messages wait for it until grace_end */
};

/* Join flags. */
#define SL_GROUP_F_PULL 0x1u /* the member fetches (sl_group_fetch), nothing is pushed */

/* A member as the engine keeps it (read-only for the caller). */
struct sl_group_member {
	uint64_t member_id;   /* stable, client-chosen, non-zero */
	uint64_t session;     /* the caller's handle of the member's session */
	uint64_t grace_end;   /* DISCONNECTED: when its messages go to others */
	uint64_t last_seen;   /* @now of its last join, ack or nak */
	uint64_t delivered;   /* deliveries to it (redeliveries included) */
	uint64_t acked;	      /* messages it acknowledged */
	uint32_t credit;      /* most unacknowledged messages it may hold */
	uint32_t outstanding; /* messages it holds now */
	uint32_t fetch;	      /* pull member: messages it still asked for */
	uint32_t flags;	      /* SL_GROUP_F_* */
	uint32_t state;	      /* enum sl_group_mstate */
	uint32_t head;	      /* internal: its list of held messages */
};

/* What a poll or an offer tells the caller to do. */
enum sl_group_action {
	SL_GROUP_ACT_DELIVER = 1,     /* send GDELIVER(seq, delivery_count) to the member */
	SL_GROUP_ACT_DEAD_LETTER = 2, /* publish seq to the dead-letter topic with
				       * delivery_count and last_error, then call
				       * sl_group_dead_settled (or _dead_retry) */
};

/* Why a message is redelivered or dead-lettered (sl_group_out.reason). */
enum sl_group_reason {
	SL_GROUP_R_NONE = 0,	    /* first delivery */
	SL_GROUP_R_NAK = 1,	    /* the member sent GNAK (last_error: its code) */
	SL_GROUP_R_ACK_WAIT = 2,    /* not acknowledged within ack-wait */
	SL_GROUP_R_MEMBER_LOST = 3, /* its member left or was lost past its grace */
	SL_GROUP_R_RESTORED = 4,    /* unsettled at the last saved state (restart) */
};

struct sl_group_out {
	uint64_t seq;
	uint64_t member_id; /* DELIVER: the member to send to */
	uint64_t session;   /* DELIVER: its session handle */
	uint32_t slot;	    /* DELIVER: its slot */
	uint32_t action;    /* enum sl_group_action */
	uint32_t delivery_count; /* DELIVER: 1 the first time; DEAD_LETTER: deliveries made */
	uint32_t reason;	 /* enum sl_group_reason */
	uint32_t last_error;	 /* the code of the last GNAK, 0 if none */
	uint32_t reserved;
};

/* Counters of one group: its owner worker is the only writer (plain
 * stores of aligned 64-bit words: a reader on another thread may see a
 * stale value, never a torn one). */
#define SL_GROUP_CTR_LIST(X)                                                          \
	X(offered) X(delivered) X(redelivered) X(acked) X(nacked) X(dead_lettered)     \
	X(ack_not_held) X(blocked_full) X(no_credit) X(held) X(expired)               \
	X(members_lost) X(rejoined)
#define SL_GROUP_GAUGE_LIST(X) X(members) X(inflight) X(blocked) X(pending)

struct sl_group_stats {
#define SL_X_GROUP_FIELD(n) uint64_t n;
	SL_GROUP_CTR_LIST(SL_X_GROUP_FIELD)
	SL_GROUP_GAUGE_LIST(SL_X_GROUP_FIELD)
#undef SL_X_GROUP_FIELD
};

struct sl_group;

/* Bytes of memory sl_group_init needs for @cfg (0 when @cfg is invalid). */
size_t sl_group_mem_size(const struct sl_group_cfg *cfg);

/*
 * Make a group in @mem (@len >= sl_group_mem_size(cfg), 64-byte aligned)
 * and return it in *@out. Nothing is allocated; the memory is the caller's
 * (it outlives the group). Returns 0, -EINVAL (a field of @cfg out of its
 * range, @mem misaligned) or -ENOMEM (@len too small).
 */
int sl_group_init(struct sl_group **out, const struct sl_group_cfg *cfg, void *mem, size_t len);

/*
 * Member @member_id joins with @credit (clamped to cfg.max_credit; 0 is
 * refused) and @flags (SL_GROUP_F_PULL). A member that is already there
 * (a rejoin: same id, DISCONNECTED within its grace, or a new session of a
 * live one) keeps its slot and every message it holds, under @session.
 * Writes its slot to *@slot and the credit granted to *@granted (either
 * may be NULL). Returns 0 (new member), 1 (rejoined), -EINVAL (@member_id
 * 0, @credit 0, unknown flag), -ENOSPC (every slot taken: SL_E_GROUP_FULL).
 */
int sl_group_join(struct sl_group *g, uint64_t member_id, uint64_t session, uint32_t credit,
		  uint32_t flags, uint64_t now, uint32_t *slot, uint32_t *granted);

/* The slot of @member_id (any state but FREE), or -ENOENT. */
int sl_group_find(const struct sl_group *g, uint64_t member_id);

/* The member in @slot (NULL past max_members); state FREE when unused. */
const struct sl_group_member *sl_group_member(const struct sl_group *g, uint32_t slot);

/* The member leaves (GCTL LEAVE): its messages are due for redelivery at
 * once, its slot is freed. Returns 0 or -ENOENT (no member in @slot). */
int sl_group_leave(struct sl_group *g, uint32_t slot, uint64_t now);

/*
 * The member's session is gone (expiry, detach, disconnect): it turns
 * DISCONNECTED and keeps its messages until @now + grace; a join with its
 * member_id before then takes them back. At grace end (sl_group_poll), or
 * at once when the grace is 0, it leaves as by sl_group_leave. Returns 0
 * or -ENOENT.
 */
int sl_group_member_lost(struct sl_group *g, uint32_t slot, uint64_t now);

/* Pause (keep what it holds, get nothing new) and resume. 0 or -ENOENT
 * (no live member in @slot). */
int sl_group_pause(struct sl_group *g, uint32_t slot);
int sl_group_resume(struct sl_group *g, uint32_t slot);

/* Pull member in @slot asks for @n more messages: its budget grows by @n,
 * up to its credit. Returns the budget now, or -ENOENT, or -EINVAL (not a
 * pull member). */
int sl_group_fetch(struct sl_group *g, uint32_t slot, uint32_t n);

/*
 * Offer the next message of the topic: @seq (each at most once; a
 * redelivery is the engine's business) with @key_hash (SL_GROUP_NO_KEY
 * when it has none; only KEY_AFFINITY looks at it).
 * Returns 1: send it as *@out says (a first delivery); 0: accepted and
 * held behind an earlier message of its key (a later poll sends it); the
 * cursor moves on in both cases. -EAGAIN: no member can take it now (none
 * with credit, none active, or max_inflight unsettled messages; counted
 * no_credit); -ENOBUFS: its key is busy and the blocked list is full
 * (counted blocked_full). After either the cursor stays: offer the same
 * message again after a poll or an ack. -EEXIST: @seq is unsettled already.
 */
int sl_group_offer(struct sl_group *g, uint64_t seq, uint64_t key_hash, uint64_t now,
		   struct sl_group_out *out);

/* 1 when some member could take a message now (an offer would not return
 * -EAGAIN for want of a member, bar a full in-flight table). */
int sl_group_can_take(const struct sl_group *g);

/*
 * The time-driven work, up to @n actions into @out: members whose grace
 * ended leave; messages not acknowledged within ack-wait become due for
 * redelivery (to another member where one can take it); held messages
 * whose key is free again go out; due redeliveries go out, or, at
 * max_deliveries deliveries, become DEAD_LETTER decisions. Due
 * redeliveries that no member can take wait (in due order) for the next
 * poll. Returns the number of actions written (0..@n). Call it before
 * offering new messages, so that older ones go first.
 */
unsigned sl_group_poll(struct sl_group *g, uint64_t now, struct sl_group_out *out, unsigned n);

/* Earliest @now at which a poll has timed work (ack-wait, NAK delay,
 * grace end), or UINT64_MAX; work that is due already gives 0. */
uint64_t sl_group_next_due(const struct sl_group *g);

/*
 * Acknowledge @seq for the member in @slot. Returns 0, or -ENOENT when that
 * member does not hold @seq (never given, another member's, redelivered
 * since, already settled: counted ack_not_held).
 */
int sl_group_ack(struct sl_group *g, uint32_t slot, uint64_t seq, uint64_t now);

/*
 * Settle @seq, just handed to the member in @slot by a poll, without an
 * acknowledgment: the caller cannot read the message any more (it left a
 * `none` topic's retransmit window) and reports the gap itself. Not
 * counted as acked. Returns 0, or -ENOENT when that member does not hold it.
 */
int sl_group_drop(struct sl_group *g, uint32_t slot, uint64_t seq);

/* Cumulative ack: every message the member holds with a sequence <= @seq.
 * Returns how many (> 0), or -ENOENT when it holds none (counted). */
int sl_group_ack_upto(struct sl_group *g, uint32_t slot, uint64_t seq, uint64_t now);

/*
 * Negative ack of @seq held by the member in @slot: it is due for
 * redelivery @delay_ns after @now (capped at SL_MAX_NAK_DELAY_MS), with
 * @error kept as its last error. Returns 0 or -ENOENT (as sl_group_ack).
 */
int sl_group_nak(struct sl_group *g, uint32_t slot, uint64_t seq, uint64_t delay_ns,
		 uint32_t error, uint64_t now);

/* The dead-letter publish of @seq is done: the message is settled.
 * 0 or -ENOENT (no dead-letter decision pending for @seq). */
int sl_group_dead_settled(struct sl_group *g, uint64_t seq);

/* The dead-letter publish of @seq could not be made (topic full): decide
 * again at @due. 0 or -ENOENT. */
int sl_group_dead_retry(struct sl_group *g, uint64_t seq, uint64_t due);

/* --- durable groups ------------------------------------------------------------ */

/* One unsettled message, as a durable group saves it. */
struct sl_group_unacked {
	uint64_t seq;
	uint32_t delivery_count; /* deliveries made (0: held, never delivered) */
	uint32_t reserved;
};

/* Unsettled messages (delivered, due again, dead-letter pending, held):
 * how many, and all of them into @out (room for @max) in sequence order.
 * Returns the number written, or -ENOSPC when @max is below
 * sl_group_unacked_count. Cost: a walk and a sort of the in-flight table;
 * for a durable save, not for every iteration. */
uint32_t sl_group_unacked_count(const struct sl_group *g);
int sl_group_export(const struct sl_group *g, struct sl_group_unacked *out, uint32_t max);

/*
 * Put back, after a restart, message @seq that was unsettled at the last
 * save, with its @key_hash and the @delivery_count it had; due for
 * redelivery at once (reason RESTORED). Call in sequence order before any
 * offer: a key's later messages wait behind its first, as before.
 * Returns 0, -EEXIST, -ENOSPC (in-flight table full) or -ENOBUFS
 * (blocked list full).
 */
int sl_group_restore(struct sl_group *g, uint64_t seq, uint64_t key_hash,
		     uint32_t delivery_count, uint64_t now);

/* The group's counters, gauges filled in. */
void sl_group_stats_get(const struct sl_group *g, struct sl_group_stats *st);

/* 1 when @seq is unsettled in @g (delivered, due again, dead-letter
 * pending, or held behind its key), else 0. */
int sl_group_unsettled(const struct sl_group *g, uint64_t seq);

/* The configuration it was made with (and sl_group_set_timing changed). */
const struct sl_group_cfg *sl_group_config(const struct sl_group *g);

/* Change the settings that are safe to change live: ack-wait (deliveries
 * from now on), max_deliveries (the next decision), grace (the next loss). */
void sl_group_set_timing(struct sl_group *g, uint64_t ack_wait_ns, uint32_t max_deliveries,
			 uint64_t grace_ns);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_DP_GROUP_H */
