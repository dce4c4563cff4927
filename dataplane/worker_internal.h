/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker internals shared by the worker files: loop, tx seam and fan-out, handoffs, sessions, journals. */

#ifndef SLUICE_DP_WORKER_INTERNAL_H
#define SLUICE_DP_WORKER_INTERNAL_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <common/proto.h>

#include "dataplane.h"
#include "lathist.h" /* the latency histograms' hooks, one call at each point */

static inline void
drop(struct sl_worker *w, enum sl_drop why)
{
	sl_ctr_add(&w->ctr.drop[why], 1);
}

static inline void
count(struct sl_worker *w, enum sl_ctr c)
{
	sl_ctr_add(&w->ctr.ctr[c], 1);
}

/* Fill the DELIVER header @d of a @plen-byte payload to @session. */
static inline void
sl_worker_deliver_hdr(struct sl_deliver *d, uint16_t flags, uint32_t session, uint32_t topic,
		      uint32_t plen, uint64_t seq, uint64_t timestamp)
{
	sl_proto_hdr_init(&d->h, SL_FT_DELIVER, flags, (uint32_t)sizeof(*d) + plen, session);
	d->topic_id = topic;
	d->hdrs_len = 0;
	d->reserved = 0;
	d->seq = seq;
	d->timestamp = timestamp;
}

/*
 * Fill the DELIVER header @d of a stored message whose payload area is
 * @plen bytes, the first @hdrs_len of them its header block, for a session
 * of protocol version @ver: version 4 gets the block (SL_DLV_F_HDRS),
 * an older one the payload alone (PROTOCOL.md 9: never a frame of a later
 * version). Returns the bytes to skip at the payload area's start: the
 * block, when stripped (counted hdrs_stripped), else 0.
 */
static inline uint32_t
sl_worker_deliver_hdr_v(struct sl_worker *w, struct sl_deliver *d, uint16_t flags,
			uint32_t session, uint32_t topic, uint32_t plen, uint16_t hdrs_len,
			uint64_t seq, uint64_t timestamp, uint8_t ver)
{
	if (likely(hdrs_len == 0)) {
		sl_worker_deliver_hdr(d, flags, session, topic, plen, seq, timestamp);
		return 0;
	}
	if (ver >= SL_PROTO_V4) {
		sl_worker_deliver_hdr(d, flags | SL_DLV_F_HDRS, session, topic, plen, seq,
				      timestamp);
		d->hdrs_len = hdrs_len;
		return 0;
	}
	count(w, SL_CTR_hdrs_stripped);
	sl_worker_deliver_hdr(d, flags, session, topic, plen - hdrs_len, seq, timestamp);
	return hdrs_len;
}

/* --- worker_tx.c (the transmit seam is tx.h) --- */

/* Buffer @m for port index @pidx (sent at the end of the loop iteration). */
void sl_worker_tx_enqueue(struct sl_worker *w, uint16_t pidx, struct rte_mbuf *m);
void sl_worker_reply_error(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
			   uint32_t req_id, uint16_t code, uint8_t ftype, uint64_t detail);
void sl_worker_reply_ok(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
			uint32_t req_id);
/* TOPIC @id answering RESOLVE @req_id. */
void sl_worker_reply_topic(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
			   uint32_t req_id, uint32_t id);
/* --- worker_resolve.c --- */

/* RESOLVE frame @f (at @data_off of @m) from @peer of session @sess:
 * TOPIC for an existing name; for a partitioned topic TOPIC with the
 * partition map, or ERROR SL_E_PARTITIONED to a client that did not ask
 * for maps (SL_E_UNKNOWN_TOPIC while a partition is missing: a SUBSCRIBE or
 * PUBLISH to a partitioned name itself is refused with SL_E_PARTITIONED,
 * counted unknown_topic); an unknown name with SL_RESOLVE_F_CREATE goes to
 * the main lcore to be created (it takes its own reference to @m). */
void sl_worker_resolve(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
		       uint16_t data_off, const union sl_peer *peer, const struct sl_session *sess);

/* OK carrying @seq (answering SUBSCRIBE: where the subscription's stream starts). */
void sl_worker_reply_ok_seq(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
			    uint32_t req_id, uint64_t seq);
void sl_worker_ack(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		   uint32_t topic, uint64_t producer_seq, uint64_t seq);
/* DELIVER the PUBLISH frame at @off of @m, as topic sequence @seq, to every
 * live (not replaying) subscriber of its topic, under its back-pressure
 * policy (block: held until every subscriber has room). */
void sl_worker_fan_out(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len,
		       uint64_t seq);
/*
 * Send one stored message to one subscriber: the PUBLISH frame at @off of
 * @m (@len bytes) as DELIVER @seq of @topic with @flags. Live fan-out and
 * retransmits go through here (the place a message too large for one
 * datagram is sent in pieces). Returns what sl_tx_deliver does.
 */
int sl_worker_deliver_one(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
			  struct rte_mbuf *m, uint16_t off, uint16_t len, uint64_t seq,
			  uint16_t flags);
/* SKIP @first..@last of @topic to @sub (counted skips_sent). */
void sl_worker_skip_send(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
			 uint64_t first, uint64_t last);
/* Tell every filtered subscriber of @topic its untold skipped run. */
void sl_worker_skip_flush_topic(struct sl_worker *w, uint32_t topic);
/* ERROR @code (a struct sl_error_gap: @first..@last of @topic) to @sub. */
void sl_worker_gap_error(struct sl_worker *w, const struct sl_sub *sub, uint16_t code,
			 uint8_t ftype, uint32_t topic, uint64_t first, uint64_t last);
/* Cut subscriber @i of @topic off (ERROR SL_E_SLOW_CONSUMER from @first on)
 * and remove it: the last subscriber moves to index @i. */
void sl_worker_cut_off(struct sl_worker *w, uint32_t topic, uint32_t i, uint64_t first);
/* Deliver held messages whose subscribers have room now (policy block: a
 * UDP subscriber without credit for bp_hold_ms is cut off). Returns those sent. */
unsigned sl_worker_held_retry(struct sl_worker *w);

/* --- flow.c: NAK, CREDIT, STATUS --- */

/* NAK frame at @off of @m, at the topic's owner: resend the range. */
void sl_flow_nak(struct sl_worker *w, struct rte_mbuf *m, uint16_t off);
/* CREDIT frame at @off of @m, at the topic's owner: raise the limit. */
void sl_flow_credit(struct sl_worker *w, struct rte_mbuf *m, uint16_t off);
/* STATUS to UDP subscribers of idle topics and, every heartbeat interval,
 * of every owned topic. Returns the frames sent. */
unsigned sl_flow_status_poll(struct sl_worker *w);

/* --- worker_stage.c --- */

/* Stage handoff @h for worker @dst (it takes the reference h->m holds). */
void sl_worker_stage(struct sl_worker *w, uint32_t dst, const struct sl_handoff *h);
/* Enqueue what is staged, retry the backlog (end of a loop iteration). */
void sl_worker_stage_flush(struct sl_worker *w);
/* A session ended: every owner drops its subscriptions. */
void sl_worker_session_gone(struct sl_worker *w, uint32_t session);
/* End session @s: its subscriptions everywhere, then the session itself. */
void sl_worker_session_close(struct sl_worker *w, struct sl_session *s);

/* --- worker_auth.c --- */

/* HELLO: a stateless CHALLENGE (or ERROR SL_E_VERSION); touches no session. */
void sl_worker_hello(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer);
/* AUTH: cookie, proof, policy; the session opened (or replaced, or its
 * WELCOME resent) and WELCOME sent, or ERROR (session 0) or a drop. */
void sl_worker_auth(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer);
/* The SEAL datagram @data (@len bytes, h.length checked) from @peer: its
 * session, tag (decrypting in place) and replay window. Returns 0 with the
 * session in *@out, or -1 after dropping and counting it. */
int sl_worker_seal_open(struct sl_worker *w, uint8_t *data, uint32_t len,
			const union sl_peer *peer, struct sl_session **out);
/* The live session of frame @f from @peer (@cached when it is that one),
 * or NULL after dropping it and answering ERROR SL_E_NO_SESSION with the
 * frame's req_id and detail (PROTOCOL.md 5.12). */
struct sl_session *sl_worker_frame_session(struct sl_worker *w, const struct sl_frame *f,
					   const union sl_peer *peer, struct sl_session *cached);
/* May session @sess publish @p (from @peer) now: known topic, `pub` right,
 * encryption policy, back-pressure, rate limit? Returns its topic, or NULL
 * after refusing it with an ERROR of frame type @type (worker_auth.c). */
const struct sl_topic *sl_worker_publish_admit(struct sl_worker *w, const struct sl_publish *p,
					       uint8_t type, const union sl_peer *peer,
					       struct sl_session *sess);
/* Does topic @t refuse session @sess for want of encryption? (counted) */
int sl_worker_enc_refused(struct sl_worker *w, const struct sl_topic *t,
			  const union sl_peer *peer, const struct sl_session *sess);
/* Seal and user checks for a frame of session @s. Returns 0, or -1 when the
 * frame was dropped (the session may have been closed). */
int sl_worker_frame_check(struct sl_worker *w, const struct sl_frame *f,
			  const union sl_peer *peer, struct sl_session *s);

/* --- worker_filter.c: headers and filters (protocol version 4) --- */

/* May PUBLISH @p of a session of @version carry its header block? SL_E_NONE,
 * SL_E_VERSION (a version 3 session), or SL_E_BAD_HEADERS (malformed, or a
 * reserved "sl-" name). */
uint16_t sl_worker_hdrs_check(const struct sl_publish *p, uint8_t version);
/* Is the filter frame @f carries (SUBSCRIBE, PSUBSCRIBE) well-formed?
 * SL_E_NONE, or SL_E_BAD_HEADERS (counted bad_headers). */
uint16_t sl_worker_filter_check(struct sl_worker *w, const struct sl_frame *f);
/* Owner: give the subscription SUBSCRIBE @s made the filter it carries, or
 * none. 0, or -ENOSPC when the owner's filter pool is full. */
int sl_worker_sub_filter_set(struct sl_worker *w, const struct sl_subscribe *s);
/* Owner: does @sub of @topic take the message whose header block is
 * @block (@hdrs_len bytes, 0: none)? 1, or 0 when its filter skips it. */
int sl_worker_filter_pass(struct sl_worker *w, uint32_t topic, const struct sl_sub *sub,
			  const void *block, uint16_t hdrs_len);
/* As sl_worker_filter_pass for message @seq, sent live or replayed,
 * keeping the run of skipped seqs the subscriber has not been told of. A
 * run to tell now (SKIP, before the message when it passes): @run[0..1],
 * run[0] 0 when none. Told before the next message the subscriber takes,
 * when SKIP_RUN_MAX long, and at STATUS time (sl_worker_skip_take). */
int sl_worker_filter_live(struct sl_worker *w, uint32_t topic, const struct sl_sub *sub,
			  const void *block, uint16_t hdrs_len, uint64_t seq, uint64_t run[2]);
/* Subscriber @i of @topic's untold skipped run: 1 with @run set, else 0. */
int sl_worker_skip_take(struct sl_worker *w, uint32_t topic, uint32_t i, uint64_t run[2]);

/* --- worker_group_tx.c (worker_group.c: group_dp.h) --- */

/* The engine's clock: this iteration's TSC in ns. */
uint64_t sl_wgroup_now_ns(const struct sl_worker *w);
/* The highest seq of @topic a group may be offered (sl_worker_nak_bound). */
uint64_t sl_wgroup_last(struct sl_worker *w, uint32_t topic);
/* A `none` topic's group: message @seq is settled (its reference goes);
 * every reference goes (a reset, a deletion). */
void sl_wgroup_ref_settled(struct sl_group_rec *r, uint64_t seq);
void sl_wgroup_refs_clear(struct sl_group_rec *r);
/* One poll of group @r's dispatch: redeliveries, then new messages. */
unsigned sl_wgroup_dispatch(struct sl_worker *w, struct sl_group_rec *r, uint64_t now);

/* --- worker_revoke.c --- */

/* May subscriber @user (SL_AUTHZ_SUB_USER) keep topic @t under table @a?
 * SL_E_NONE, or the error it gets: SL_E_DENIED (no sub right),
 * SL_E_AUTH_FAILED (user gone or re-keyed), SL_E_AUTH_REQUIRED (anonymous). */
uint16_t sl_worker_sub_verdict(const struct sl_authz *a, uint32_t user, const struct sl_topic *t);
/* SL_HO_AUTHZ_SWEEP: one round of a revocation sweep, then its acknowledgement. */
void sl_worker_authz_sweep(struct sl_worker *w, const struct sl_handoff *h);

/* --- worker_durable.c --- */

/* The topic was deleted: persist and close its journal, drop its subscribers. */
void sl_worker_topic_delete(struct sl_worker *w, uint32_t topic);

/* Journal the PUBLISH at @off of @m (its topic has a journal), as from
 * idempotent producer @producer_id at @producer_epoch (0: none; the record
 * then names the session); deliver and acknowledge as the topic's
 * durability says. Returns 0 with the topic seq in *@seq, or -errno after
 * refusing the publish (answered). */
int sl_worker_publish_durable(struct sl_worker *w, struct rte_mbuf *m, uint16_t off,
			      uint16_t len, uint64_t producer_id, uint32_t producer_epoch,
			      uint64_t *seq);
/* Persist this iteration's sync journals (one sync each) and release their
 * deliveries and acks. */
void sl_worker_commit(struct sl_worker *w);
/* Are sync publishes waiting for the commit (and is there room for more)? */
int sl_worker_commit_pending(const struct sl_worker *w);
/* Set up a replaying subscription in @sub from SUBSCRIBE @s. Returns 0, or
 * -1 after answering the subscriber with an ERROR. */
int sl_worker_replay_start(struct sl_worker *w, const struct sl_subscribe *s, struct sl_sub *sub);
/* The highest seq a NAK for @topic may name: the last one fanned out, or
 * for a journaled topic the last one its journal serves (sync: durable). */
uint64_t sl_worker_nak_bound(struct sl_worker *w, uint32_t topic);
/* Resend message @seq of @topic to @sub from the journal (a NAK beyond the
 * retransmit window): DELIVER with SL_DLV_F_REPLAY | SL_DLV_F_RETRANS.
 * Returns 0, -ENOENT (the journal does not hold it), -EXDEV (the
 * subscriber's filter skips it: nothing sent) or -ENOBUFS (no room now). */
int sl_worker_journal_resend(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
			     uint64_t seq);
/* Send the next replayed messages; returns the work done. */
unsigned sl_worker_replay_poll(struct sl_worker *w);
/* Async persistence and retention, called from the worker's timer. */
void sl_worker_durable_timers(struct sl_worker *w);
/* Allocate and free the worker's durability state. */
int sl_worker_durable_init(struct sl_worker *w);
void sl_worker_durable_fini(struct sl_worker *w);

/* --- worker_producer.c --- */

/* PRODUCER from session @sess: to the main lcore's registry (or answered
 * again when it repeats the request that bound the session). */
void sl_worker_producer_request(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
				uint16_t data_off, const union sl_peer *peer,
				struct sl_session *sess);
/* The main lcore's answer: bind the session and send PRODUCER_ID, or ERROR. */
void sl_worker_producer_done(struct sl_worker *w, const struct sl_handoff *h);
/* Owner: may PUBLISH @p (in @m) of producer @pid at @epoch be stored? 1:
 * yes, *@slot for sl_worker_producer_stored; 0: answered (a duplicate's ACK
 * with SL_ACK_F_DUP, or ERROR fenced, out of order, table full). */
int sl_worker_producer_admit(struct sl_worker *w, struct rte_mbuf *m, const struct sl_publish *p,
			     uint64_t pid, uint32_t epoch, uint32_t *slot);
/* The admitted publish @pseq got topic seq @seq. */
void sl_worker_producer_stored(struct sl_worker *w, uint32_t slot, uint64_t pseq, uint64_t seq);
/* Owner: topic @topic was deleted: forget its producers. */
void sl_worker_producer_topic_gone(struct sl_worker *w, uint32_t topic);
/* Idle dedup entries go (bounded work), from the worker's timer. */
void sl_worker_producer_timers(struct sl_worker *w);
int sl_worker_producer_init(struct sl_worker *w);
void sl_worker_producer_fini(struct sl_worker *w);

#endif /* SLUICE_DP_WORKER_INTERNAL_H */
