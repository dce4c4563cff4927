/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: consumer groups, part of the client API (sluice/sluice.h includes it). */

#ifndef SLUICE_GROUP_H
#define SLUICE_GROUP_H

#include <sluice/sluice.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Consumer groups (protocol version 4, docs/PROTOCOL.md 19, docs/GROUPS.md).
 *
 * A group shares a topic's messages among its members: each message goes
 * to exactly one member of the group (and still to every plain
 * subscriber), at least once. Groups are created by the operator
 * (sluicectl group create); a client joins one as a member and receives
 * its share through the same sl_client_poll / sl_client_wait callback as
 * subscriptions, with sl_message.group_id and delivery_count set. Every
 * group delivery must be settled: acknowledged (sl_client_group_ack, or
 * sl_client_group_ack_upto for everything up to a seq) or given back
 * (sl_client_group_nak); one left unacknowledged for the group's
 * ack_wait_ms is delivered again, to another member where there is one,
 * and after max_deliveries goes to the group's dead-letter topic. A member
 * holds at most its credit of unacknowledged messages; the broker sends it
 * no more until it acknowledges some.
 *
 * Acknowledgements are batched per group: up to 64 seqs wait in the client
 * and go in one GACK at the next sl_client_poll, sl_client_wait or
 * sl_client_flush, or at once when the 64th is queued. A cumulative ack,
 * a nak, a pause and a leave first send the acks queued for their group.
 *
 * The member id is stable: a client that loses its session rejoins every
 * group with the same member_id after reconnecting (before
 * SL_EV_RECONNECTED), and within the group's grace_ms keeps the messages
 * it held (acks queued meanwhile are sent in the new session). A new
 * process that joins with the id of a dead one takes its messages over.
 * Refusals that answer no call arrive as SL_EV_GROUP_ERROR events.
 *
 * Group ids are the ones sl_client_group_join returned, for the client's
 * life, even if a restarted broker numbers the group differently.
 * A client is a member of at most 64 groups. A group of a partitioned
 * topic is a group of that name on each partition: joined on all of them,
 * it counts as one group per partition, and the id the join returns stands
 * for all of them in _leave, _pause and _fetch (which asks each partition's
 * group for its @n); acks and naks name the id each message carries.
 *
 * sl_client_group_ack, _ack_upto, _nak and _fetch never wait and may be
 * called from inside the deliver callback (typically: ack the message once
 * processed); _join, _leave and _pause wait for the broker and may not.
 */

#define SL_GROUP_F_PULL 1u /* receive only what sl_client_group_fetch asks for */

struct sl_group_opts {
	uint32_t topic_id;  /* the group's topic, from sl_client_resolve */
	const char *group;  /* the group's name: 1..31 bytes of [A-Za-z0-9._-] */
	uint64_t member_id; /* stable id; 0: a random one chosen at join, kept for
			     * reconnects (sl_group_info.member_id says which) */
	uint32_t credit;    /* most unacknowledged messages held, 1..4096; 0: 256 */
	uint32_t flags;	    /* SL_GROUP_F_* */
	/* A header filter, as sl_client_subscribe_filter takes it (n_filter 0:
	 * none). It is the group's, not the member's: the first member to join
	 * sets it, and a later member must give the same clauses or none. */
	const struct sl_filter_clause *filter;
	unsigned n_filter;
};

/* What the broker answered a join: the group's settings. */
struct sl_group_info {
	uint32_t group_id;	 /* what the other group calls and sl_message name */
	uint16_t policy;	 /* 1 round-robin, 2 least-outstanding, 3 key-affinity */
	uint32_t ack_wait_ms;	 /* unacknowledged this long: delivered again */
	uint32_t max_deliveries; /* deliveries before the dead-letter topic */
	uint32_t grace_ms;	 /* how long a lost member may take to rejoin */
	uint32_t credit;	 /* granted: at most what was asked */
	uint64_t member_id;	 /* this member's id */
};

/*
 * Join consumer group @o->group of topic @o->topic_id as a member (waits
 * for the broker's answer, like sl_client_subscribe) and fill *@out (may
 * be NULL). Joining a group this client is already a member of again
 * answers what the first join did. Returns 0, -EINVAL (bad options: NULL
 * group, a bad name, credit over 4096, unknown flags, a malformed filter;
 * or SL_E_BAD_HEADERS: the filter differs from the group's), -ENOENT (no
 * such topic), -ESRCH (no such group on the topic: SL_E_NO_GROUP), -EPERM
 * (the ACL does not let this user consume from the group: SL_E_DENIED),
 * -ENOSPC (the group's member table is full, or this client is a member of
 * 64 groups), -EPROTONOSUPPORT (the broker speaks protocol version 3
 * only), -ETIMEDOUT, -ENOTCONN.
 */
int sl_client_group_join(struct sl_client *c, const struct sl_group_opts *o,
			 struct sl_group_info *out);

/*
 * Leave group @group_id (waits for the broker's OK): acks queued for it are
 * sent first; messages still held go to the other members at once. Late
 * deliveries of the group are dropped (stats group_dropped). Returns 0,
 * -ENOENT (not a member), -EPROTONOSUPPORT, -ETIMEDOUT, -ENOTCONN.
 */
int sl_client_group_leave(struct sl_client *c, uint32_t group_id);

/*
 * Pause (@pause non-zero) or resume deliveries of group @group_id to this
 * member (waits for the broker's OK); what it holds stays held. A reconnect
 * keeps a paused member paused. Returns as sl_client_group_leave.
 */
int sl_client_group_pause(struct sl_client *c, uint32_t group_id, int pause);

/*
 * A member that joined with SL_GROUP_F_PULL asks for @n (1..4096) more
 * messages; they arrive through poll/wait as the group has them, within
 * the credit. Does not wait for an answer (a refusal comes as
 * SL_EV_GROUP_ERROR); after a reconnect the client asks again for what was
 * asked and not yet delivered. Returns 0, -EINVAL (@n out of range, or not
 * a pull member), -ENOENT (not a member), -EAGAIN (no room to send now:
 * poll, then retry), -EPROTONOSUPPORT, -ENOTCONN.
 */
int sl_client_group_fetch(struct sl_client *c, uint32_t group_id, uint32_t n);

/*
 * Acknowledge group delivery @seq (sl_message.seq) of group @group_id:
 * queued, sent as described above. The broker answers an ack of a seq the
 * member does not hold with SL_E_NOT_HELD (an SL_EV_GROUP_ERROR event).
 * Returns 0, -ENOENT (not a member), -EINVAL (@seq 0), -EAGAIN (64 acks
 * queued and they cannot be sent now: poll, then retry), -EPROTONOSUPPORT,
 * -ENOTCONN.
 */
int sl_client_group_ack(struct sl_client *c, uint32_t group_id, uint64_t seq);

/*
 * Acknowledge every message of group @group_id this member holds with a
 * seq up to @seq (cumulative), sent now. Returns as sl_client_group_ack.
 */
int sl_client_group_ack_upto(struct sl_client *c, uint32_t group_id, uint64_t seq);

/*
 * Give group delivery @seq of group @group_id back, to be delivered again
 * (to any member) no sooner than @delay_ms (0..3,600,000) from now; @error
 * is the application's code, kept as the dead letter's sl-last-error once
 * the message has been delivered max_deliveries times. Sent now. Returns
 * as sl_client_group_ack, and -EINVAL for @delay_ms out of range.
 */
int sl_client_group_nak(struct sl_client *c, uint32_t group_id, uint64_t seq,
			uint32_t delay_ms, uint32_t error);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_GROUP_H */
