/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of durable topics: journal appends, group commit, replay, retention. */

#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <common/proto.h>
#include <common/clock.h>

#include "group_durable.h"
#include "ha.h"
#include "journal.h"
#include "large.h"
#include "repl_primary.h"
#include "retx.h"
#include "tx.h"
#include "worker_ha.h"
#include "worker_internal.h"

#define PENDING_MAX 4096	/* sync publishes awaiting this iteration's commit */
#define AACK_MAX 8192		/* async acks awaiting the next periodic persist */
#define DIRTY_MAX 4096		/* journals appended to since their last sync */
#define REPLAY_TOPICS_MAX 256	/* topics with replaying subscribers, per worker */
#define REPLAY_BURST 32		/* replayed messages per subscriber per poll */
#define RETAIN_PERIOD_MS 1000
/* Pair member: sync publishes persisted here that wait for the standby's
 * persist (or for the fence to open), in order. Full: new sync publishes
 * are refused with SL_E_BUSY (back-pressure), never lost. */
#define WAIT_MAX 8192

struct pending {
	struct rte_mbuf *m; /* holds a reference until released */
	uint32_t topic;
	uint16_t off, len;
	uint64_t seq;
	uint64_t since; /* ns: when it started waiting (the wait FIFO) */
};

struct aack {
	union sl_peer peer;
	uint32_t session; /* the publisher's */
	uint32_t topic;
	uint64_t producer_seq;
	uint64_t seq;
};

struct sl_durable_state {
	uint32_t n_pending, n_aacks, n_dirty, n_replay;
	uint32_t wait_head, n_wait; /* the wait FIFO (a ring of WAIT_MAX) */
	uint64_t next_async, next_retain; /* TSC deadlines */
	uint64_t rt_base_ns, tsc_base;	  /* realtime clock from the TSC */
	double ns_per_tsc;
	uint32_t dirty[DIRTY_MAX];
	uint32_t replay[REPLAY_TOPICS_MAX];
	struct pending pending[PENDING_MAX];
	struct aack aacks[AACK_MAX];
	struct pending wait[WAIT_MAX];
};

/* Broker timestamp for journal records: wall-clock ns without a syscall. */
static uint64_t
realtime_ns(const struct sl_durable_state *d, uint64_t tsc)
{
	return d->rt_base_ns + (uint64_t)((double)(tsc - d->tsc_base) * d->ns_per_tsc);
}

static struct sl_topic_state *
state(struct sl_worker *w, uint32_t topic)
{
	return sl_route_state(&w->dp->route, topic);
}

/* Publish the journal's figures for readers on other threads. */
static void
snapshot(struct sl_topic_state *ts)
{
	__atomic_store_n(&ts->j_durable, sl_journal_durable_seq(ts->journal), __ATOMIC_RELAXED);
	__atomic_store_n(&ts->j_first, sl_journal_first_seq(ts->journal), __ATOMIC_RELAXED);
	__atomic_store_n(&ts->j_bytes, sl_journal_bytes(ts->journal), __ATOMIC_RELAXED);
}

static void
refuse(struct sl_worker *w, struct sl_topic_state *ts, const union sl_peer *peer,
       const struct sl_publish *p, int rc)
{
	uint16_t code = rc == -ENOSPC ? SL_E_JOURNAL_FULL : SL_E_JOURNAL_DAMAGED;

	if (rc == -ENOSPC)
		sl_ctr_add(&ts->journal_full, 1);
	drop(w, rc == -ENOSPC ? SL_DROP_journal_full : SL_DROP_journal_damaged);
	sl_worker_reply_error(w, peer, p->h.session, 0, code, SL_FT_PUBLISH, p->producer_seq);
}

/* Sync the dirty journals of one durability (all when @which is 0xff). */
static void
sync_dirty(struct sl_worker *w, uint8_t which)
{
	struct sl_durable_state *d = w->dur;
	uint32_t i, keep = 0;

	for (i = 0; i < d->n_dirty; i++) {
		struct sl_topic_state *ts = state(w, d->dirty[i]);

		if (which != 0xff && ts->durability != which) {
			d->dirty[keep++] = d->dirty[i];
			continue;
		}
		/* A failed sync turns the journal read-only; the records of
		 * the batch stay unacknowledged (see the durable_seq checks). */
		sl_lh_persisted(w, d->dirty[i], sl_journal_sync(ts->journal));
		count(w, SL_CTR_journal_syncs);
		ts->dirty = 0;
		snapshot(ts);
	}
	d->n_dirty = keep;
}

/* A persisted sync publish: now anyone may see it, and its publisher hear. */
static void
release_one(struct sl_worker *w, const struct pending *e)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(e->m, const struct sl_publish *,
							     e->off);
	union sl_peer peer;

	count(w, SL_CTR_publishes);
	sl_worker_fan_out(w, e->m, e->off, e->len, e->seq);
	if (p->h.flags & SL_PUB_F_ACK_REQ) {
		sl_tx_peer_of(e->m, &peer);
		sl_worker_ack(w, &peer, p->h.session, p->topic_id, p->producer_seq, e->seq);
	}
}

/* A held publish that this node, no longer primary, will not acknowledge. */
static void
refuse_not_primary(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		   uint64_t producer_seq)
{
	sl_worker_ha_count(w, SL_REPL_CTR_ha_held_refused);
	sl_worker_reply_error(w, peer, session, 0, SL_E_NOT_PRIMARY, SL_FT_PUBLISH, producer_seq);
}

static void
release_pending(struct sl_worker *w)
{
	struct sl_durable_state *d = w->dur;
	uint32_t i;

	for (i = 0; i < d->n_pending; i++) {
		struct pending *e = &d->pending[i];
		struct sl_topic_state *ts = state(w, e->topic);
		union sl_peer peer;

		if (likely(sl_journal_durable_seq(ts->journal) >= e->seq)) {
			if (unlikely(w->dp->ha != NULL)) {
				/* A pair member: the standby's persist and the
				 * fence decide (ha_release); room was kept. */
				e->since = w->ha_view.now_ns;
				d->wait[(d->wait_head + d->n_wait++) % WAIT_MAX] = *e;
				continue;
			}
			release_one(w, e);
		} else {
			sl_tx_peer_of(e->m, &peer);
			refuse(w, ts, &peer,
			       rte_pktmbuf_mtod_offset(e->m, const struct sl_publish *, e->off), -EIO);
		}
		rte_pktmbuf_free(e->m);
	}
	d->n_pending = 0;
}

int
sl_worker_commit_pending(const struct sl_worker *w)
{
	/* Leave room for a burst of datagrams full of frames. */
	return w->dur->n_pending > 0 && w->dur->n_pending < PENDING_MAX / 2;
}

/* Send the async acks that became true (a pair member: while the fence
 * is open; refused once it is no longer primary). */
static void
aacks_release(struct sl_worker *w)
{
	struct sl_durable_state *d = w->dur;
	const struct sl_ha *ha = w->dp->ha;
	uint32_t i;

	if (unlikely(ha != NULL) && d->n_aacks) {
		if (!sl_ha_view_serves(&w->ha_view)) {
			for (i = 0; i < d->n_aacks; i++)
				refuse_not_primary(w, &d->aacks[i].peer, d->aacks[i].session,
						   d->aacks[i].producer_seq);
			d->n_aacks = 0;
			return;
		}
		if (!sl_ha_may_ack(ha, &w->ha_view))
			return; /* held: the fence may open again */
	}
	for (i = 0; i < d->n_aacks; i++) {
		struct aack *a = &d->aacks[i];
		struct sl_topic_state *ts = state(w, a->topic);

		if (sl_journal_durable_seq(ts->journal) >= a->seq) {
			sl_worker_ack(w, &a->peer, a->session, a->topic, a->producer_seq,
				      a->seq);
		} else {
			drop(w, SL_DROP_journal_damaged);
			sl_worker_reply_error(w, &a->peer, a->session, 0, SL_E_JOURNAL_DAMAGED,
					      SL_FT_PUBLISH, a->producer_seq);
		}
	}
	d->n_aacks = 0;
}

/*
 * A pair member's wait FIFO, oldest first: a sync publish is released
 * when the standby has persisted it too (unless sync publishes go without
 * it: solo, or ha.sync_replicas 0) and the fence is open; all are refused
 * (SL_E_NOT_PRIMARY) once this node is no longer primary. Publishes the
 * time the oldest has waited on the standby (behind_since).
 */
static void
ha_release(struct sl_worker *w)
{
	struct sl_durable_state *d = w->dur;
	struct sl_ha *ha = w->dp->ha;
	int waits = sl_ha_view_waits_replica(ha, &w->ha_view);
	uint64_t behind = 0;

	aacks_release(w);
	if (!sl_ha_view_serves(&w->ha_view)) {
		for (; d->n_wait; d->n_wait--, d->wait_head = (d->wait_head + 1) % WAIT_MAX) {
			struct pending *e = &d->wait[d->wait_head];
			const struct sl_publish *p =
				rte_pktmbuf_mtod_offset(e->m, const struct sl_publish *, e->off);
			union sl_peer peer;

			sl_tx_peer_of(e->m, &peer);
			refuse_not_primary(w, &peer, p->h.session, p->producer_seq);
			rte_pktmbuf_free(e->m);
		}
	}
	while (d->n_wait) {
		struct pending *e = &d->wait[d->wait_head];

		if (waits && sl_repl_primary_acked(w->dp, e->topic) < e->seq) {
			behind = e->since;
			break;
		}
		if (!sl_ha_may_ack(ha, &w->ha_view))
			break;
		release_one(w, e);
		rte_pktmbuf_free(e->m);
		d->wait_head = (d->wait_head + 1) % WAIT_MAX;
		d->n_wait--;
	}
	/* Relaxed: one word, read by the main lcore for the CnC. */
	if (behind != __atomic_load_n(&ha->behind_since_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&ha->behind_since_ns, behind, __ATOMIC_RELAXED);
}

void
sl_worker_commit(struct sl_worker *w)
{
	if (unlikely(w->dp->ha != NULL) && w->dur->n_pending && w->dur->n_wait) {
		/* What the standby's ACKs of this iteration cover is persisted
		 * on both nodes already: released and sent now, not after this
		 * batch's persist barrier, which would add its time to theirs. */
		ha_release(w);
		sl_tx_flush(w);
	}
	if (w->dur->n_pending) {
		sync_dirty(w, SL_DUR_SYNC);
		release_pending(w);
	}
	if (unlikely(w->dp->ha != NULL))
		ha_release(w);
}

/* Persist async journals, then send the acks that became true. */
static void
async_flush(struct sl_worker *w)
{
	sync_dirty(w, SL_DUR_ASYNC);
	aacks_release(w);
}

/* A pair member's checks before a publish is journaled: room (a sync one
 * needs a place in the wait FIFO, an async one in the held acks, which
 * the fence may hold) and this node's leader epoch on the journal.
 * Returns 0, or -EBUSY / -EINVAL after refusing it. */
static int
ha_admit(struct sl_worker *w, struct sl_topic_state *ts, struct rte_mbuf *m,
	 const struct sl_publish *p)
{
	struct sl_durable_state *d = w->dur;
	union sl_peer peer;
	uint16_t code = SL_E_BUSY;

	if (ts->durability == SL_DUR_SYNC ? d->n_wait + d->n_pending >= WAIT_MAX
					  : d->n_aacks >= AACK_MAX &&
					    !sl_ha_may_ack(w->dp->ha, &w->ha_view)) {
		sl_worker_ha_count(w, SL_REPL_CTR_ha_wait_full);
	} else if (sl_worker_ha_journal_epoch(w, ts->journal) < 0) {
		/* The journal holds a later term's records: not this
		 * node's to append to as primary. */
		sl_worker_ha_count(w, SL_REPL_CTR_ha_not_primary);
		code = SL_E_NOT_PRIMARY;
	} else {
		return 0;
	}
	sl_tx_peer_of(m, &peer);
	sl_worker_reply_error(w, &peer, p->h.session, 0, code, SL_FT_PUBLISH, p->producer_seq);
	return code == SL_E_BUSY ? -EBUSY : -EINVAL;
}

static void
mark_dirty(struct sl_worker *w, uint32_t topic, struct sl_topic_state *ts)
{
	struct sl_durable_state *d = w->dur;

	if (ts->dirty)
		return;
	if (d->n_dirty == DIRTY_MAX) {
		sl_worker_commit(w);
		async_flush(w);
	}
	ts->dirty = 1;
	d->dirty[d->n_dirty++] = topic;
}

int
sl_worker_publish_durable(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len,
			  uint64_t producer_id, uint32_t producer_epoch, uint64_t *seq_out)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	struct sl_topic_state *ts = state(w, p->topic_id);
	struct sl_durable_state *d = w->dur;
	uint32_t plen = sl_msg_plen(m, off, len);
	union sl_peer peer;
	uint64_t seq;
	int rc;

	/* Bounded batches: a full list commits early rather than growing. */
	if (d->n_pending == PENDING_MAX)
		sl_worker_commit(w);
	if (d->n_aacks == AACK_MAX)
		async_flush(w);
	if (unlikely(w->dp->ha != NULL) && (rc = ha_admit(w, ts, m, p)) < 0)
		return rc;
	/* Without an idempotent producer the record names the session. */
	rc = sl_journal_append_hdrs(ts->journal, p + 1, plen, sl_proto_hdrs_len(p),
				    realtime_ns(d, w->now),
				    producer_epoch ? producer_id : p->h.session, producer_epoch,
				    p->producer_seq, &seq);
	if (unlikely(rc < 0)) {
		sl_tx_peer_of(m, &peer);
		refuse(w, ts, &peer, p, rc);
		return rc;
	}
	*seq_out = seq;
	count(w, SL_CTR_journal_appends);
	sl_lh_appended(w, p->topic_id);
	sl_ctr_add(&ts->published, 1);
	__atomic_store_n(&ts->seq, seq, __ATOMIC_RELAXED);
	mark_dirty(w, p->topic_id, ts);
	if (ts->durability == SL_DUR_SYNC) {
		rte_mbuf_refcnt_update(m, 1);
		d->pending[d->n_pending++] = (struct pending){ m, p->topic_id, off, len, seq };
		return 0;
	}
	/* Async: subscribers see it now; the ack waits for the persist. */
	count(w, SL_CTR_publishes);
	sl_worker_fan_out(w, m, off, len, seq);
	if (p->h.flags & SL_PUB_F_ACK_REQ) {
		struct aack *a = &d->aacks[d->n_aacks++];

		sl_tx_peer_of(m, &a->peer);
		a->session = p->h.session;
		a->topic = p->topic_id;
		a->producer_seq = p->producer_seq;
		a->seq = seq;
	}
	return 0;
}

/* --- replay ------------------------------------------------------------------------- */

/* The last seq of sync topic @topic (journal @j) a reader may be served:
 * durable here, and on a pair member also persisted by the standby
 * (unless sync publishes go without it), so that nobody reads what a new
 * primary might not hold. */
static uint64_t
sync_served(struct sl_worker *w, uint32_t topic, struct sl_journal *j)
{
	uint64_t s = sl_journal_durable_seq(j);

	if (likely(w->dp->ha == NULL) || !sl_ha_view_waits_replica(w->dp->ha, &w->ha_view))
		return s;
	return RTE_MIN(s, sl_repl_primary_acked(w->dp, topic));
}

int
sl_worker_replay_start(struct sl_worker *w, const struct sl_subscribe *s, struct sl_sub *sub)
{
	struct sl_topic_state *ts = state(w, s->topic_id);
	struct sl_durable_state *d = w->dur;
	struct sl_journal *j = ts->journal;
	uint64_t start, first;
	uint16_t code;

	if (j == NULL) {
		drop(w, SL_DROP_no_journal);
		code = SL_E_NO_JOURNAL;
		goto refuse;
	}
	first = sl_journal_first_seq(j);
	if (s->h.flags & SL_SUB_F_EARLIEST)
		start = first;
	else if (s->h.flags & SL_SUB_F_FROM_SEQ)
		start = s->start > first ? s->start : first;
	else
		start = sl_journal_seek_time(j, s->start);
	if (start > sl_journal_last_seq(j))
		return 0; /* nothing retained from there: live at once */
	if (!ts->replaying) {
		if (d->n_replay == REPLAY_TOPICS_MAX) {
			drop(w, SL_DROP_replay_busy);
			code = SL_E_REPLAY_BUSY;
			goto refuse;
		}
		d->replay[d->n_replay++] = s->topic_id;
		ts->replaying = 1;
	}
	sub->replay_next = start;
	/* Paced by credit: the window counts from the first one it replays. */
	sub->credit = start - 1 + (s->h.length >= sizeof(*s) && s->window ? s->window
									   : w->dp->conf.udp_window);
	count(w, SL_CTR_replays_started);
	return 0;
refuse:
	sl_worker_reply_error(w, &sub->peer, s->h.session, s->req_id, code, SL_FT_SUBSCRIBE,
			      s->topic_id);
	return -1;
}

/* One replayed DELIVER: the payload is copied out of the journal. Replayed
 * deliveries carry the broker's receive time (ns since the Unix epoch). */
static int
deliver_copy(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
	     const struct sl_jrec_view *v, uint16_t flags)
{
	struct sl_deliver d;
	uint32_t skip;

	skip = sl_worker_deliver_hdr_v(w, &d, SL_DLV_F_REPLAY | flags, sub->session, topic, v->len,
				       v->hdrs_len, v->seq, v->timestamp,
				       sl_peer_version(&sub->peer));
	/* A replay waits for room rather than losing its place. */
	if (!sl_tx_room(w, &sub->peer, sizeof(d) + v->len))
		return -ENOBUFS;
	sl_lh_lag_rt(w, topic, v->timestamp);
	return sl_tx_deliver_copy(w, &sub->peer, &d, (const uint8_t *)v->data + skip);
}

/* A replayed message, through the subscriber's filter (v4): sent, or part
 * of the skipped run it is told of before the next one it takes. Returns
 * what deliver_copy does (0 when skipped). */
static int
replay_one(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
	   const struct sl_jrec_view *v)
{
	uint64_t run[2];
	int pass = sl_worker_filter_live(w, topic, sub, v->data, v->hdrs_len, v->seq, run);

	/* A SKIP that finds no room is recovered like a lost one: the
	 * subscriber NAKs the range and the NAK's answer is a SKIP. */
	if (run[0])
		sl_worker_skip_send(w, sub, topic, run[0], run[1]);
	return pass ? deliver_copy(w, sub, topic, v, 0) : 0;
}

/* Tell a replaying subscriber that @first..@last will not come: the journal
 * holds them damaged (or never had them whole). Returns -ENOBUFS when a
 * shared-memory ring has no room (retry next poll). */
static int
gap_notice(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic, uint64_t first,
	   uint64_t last)
{
	if (!sl_tx_room(w, &sub->peer, sizeof(struct sl_error_gap)))
		return -ENOBUFS;
	count(w, SL_CTR_replay_gaps);
	sl_worker_gap_error(w, sub, SL_E_REPLAY_GAP, SL_FT_DELIVER, topic, first, last);
	return 0;
}

uint64_t
sl_worker_nak_bound(struct sl_worker *w, uint32_t topic)
{
	struct sl_topic_state *ts = state(w, topic);
	uint64_t j;

	if (ts->journal == NULL)
		return ts->dlv_seq;
	/* After a restart the journal holds more than this run delivered. */
	j = ts->durability == SL_DUR_SYNC ? sync_served(w, topic, ts->journal)
					  : sl_journal_last_seq(ts->journal);
	return RTE_MAX(ts->dlv_seq, j);
}

int
sl_worker_journal_resend(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
			 uint64_t seq)
{
	struct sl_topic_state *ts = state(w, topic);
	struct sl_jrec_view v;

	if (ts->journal == NULL || sl_journal_read(ts->journal, seq, &v) < 0)
		return -ENOENT; /* not journaled, retired, or damaged */
	if (!sl_worker_filter_pass(w, topic, sub, v.data, v.hdrs_len))
		return -EXDEV; /* its filter skips it: the caller says so */
	return deliver_copy(w, sub, topic, &v, SL_DLV_F_RETRANS) < 0 ? -ENOBUFS : 0;
}

/* Advance one subscriber's replay; returns messages sent. */
static unsigned
replay_sub(struct sl_worker *w, uint32_t topic, struct sl_topic_state *ts, struct sl_sub *sub)
{
	struct sl_journal *j = ts->journal;
	/* Sync topics replay only what is durable: what is pending now is
	 * fanned out at this iteration's commit, to live subscribers. */
	uint64_t limit = ts->durability == SL_DUR_SYNC ? sync_served(w, topic, j)
						       : sl_journal_last_seq(j);
	struct sl_jrec_view v;
	unsigned n = 0;
	uint64_t end;
	int rc;

	while (sub->replay_next <= limit && n < REPLAY_BURST) {
		/* Paced by the subscriber's credit (UDP): it waits for more. */
		if (sub->peer.transport == SL_TRANSPORT_UDP && sub->replay_next > sub->credit)
			break;
		rc = sl_journal_read(j, sub->replay_next, &v);
		if (rc == -ENOENT && sub->replay_next < sl_journal_first_seq(j)) {
			/* Retention removed it meanwhile: the seq jump shows the gap. */
			sub->replay_next = sl_journal_first_seq(j);
			continue;
		}
		if (rc == -EUCLEAN &&
		    (end = sl_journal_gap_end(j, sub->replay_next, NULL)) >= sub->replay_next) {
			/* Damaged at rest (or a cut torn tail): say so, go on after it. */
			if (gap_notice(w, sub, topic, sub->replay_next, end) < 0)
				break;
			sl_ctr_add(&ts->replay_gaps, 1);
			sub->replay_next = end + 1;
			n++;
			continue;
		}
		if (rc < 0) {
			drop(w, SL_DROP_journal_damaged);
			sub->replay_next = limit + 1; /* cannot go further: live */
			break;
		}
		if (replay_one(w, sub, topic, &v) < 0)
			break; /* no mbuf now: resume next poll */
		sub->replay_next++;
		n++;
	}
	if (sub->replay_next > limit)
		sub->replay_next = 0; /* caught up: live from here, no gap, no duplicate */
	sl_ctr_add(&w->ctr.ctr[SL_CTR_replayed], n);
	sl_ctr_add(&ts->delivered, n);
	return n;
}

unsigned
sl_worker_replay_poll(struct sl_worker *w)
{
	struct sl_durable_state *d = w->dur;
	uint32_t i, k, keep = 0;
	unsigned work = 0;

	for (i = 0; i < d->n_replay; i++) {
		uint32_t topic = d->replay[i];
		struct sl_topic_state *ts = state(w, topic);
		int active = 0;

		for (k = 0; k < ts->n_subs; k++) {
			if (ts->subs[k].replay_next == 0)
				continue;
			work += replay_sub(w, topic, ts, &ts->subs[k]);
			active |= ts->subs[k].replay_next != 0;
		}
		if (active)
			d->replay[keep++] = topic;
		else
			ts->replaying = 0;
	}
	d->n_replay = keep;
	return work;
}

/* Topic @topic is deleted: its publishes still waiting for the standby
 * are refused (the rest keep their order). */
static void
wait_purge(struct sl_worker *w, uint32_t topic)
{
	struct sl_durable_state *d = w->dur;
	uint32_t i, n = d->n_wait, keep = 0;

	for (i = 0; i < n; i++) {
		struct pending e = d->wait[(d->wait_head + i) % WAIT_MAX];

		if (e.topic != topic) {
			d->wait[(d->wait_head + keep++) % WAIT_MAX] = e;
			continue;
		}
		{
			const struct sl_publish *p =
				rte_pktmbuf_mtod_offset(e.m, const struct sl_publish *, e.off);
			union sl_peer peer;

			sl_tx_peer_of(e.m, &peer);
			sl_worker_reply_error(w, &peer, p->h.session, 0, SL_E_UNKNOWN_TOPIC,
					      SL_FT_PUBLISH, p->producer_seq);
		}
		rte_pktmbuf_free(e.m);
	}
	d->n_wait = keep;
}

void
sl_worker_topic_delete(struct sl_worker *w, uint32_t topic)
{
	struct sl_topic_state *ts = state(w, topic);

	/* Nothing of this topic may stay queued past its journal. */
	sl_worker_commit(w);
	async_flush(w);
	wait_purge(w, topic);
	__atomic_store_n(&ts->n_subs, 0, __ATOMIC_RELAXED);
	sl_retx_clear(w, topic);
	if (ts->journal) {
		struct sl_journal *j = ts->journal;

		sync_dirty(w, 0xff);
		ts->journal = NULL;
		ts->closing = j;
	}
	/* Release: pairs with the main lcore's acquire load; once it sees
	 * none, this worker is done with the journal, which the main lcore
	 * closes (ts->closing) before its directory goes. */
	__atomic_store_n(&ts->durability, SL_DUR_NONE, __ATOMIC_RELEASE);
}

/* --- durable consumer groups -------------------------------------------------------- */

/* The lowest floor of topic @topic's retaining durable groups, 0 none. */
static uint64_t
group_floor(const struct sl_worker *w, uint32_t topic)
{
	uint64_t floor = 0, f;
	uint32_t i;

	for (i = 0; i < w->n_grp; i++) {
		const struct sl_group_rec *r = w->grp[i];

		if (!r->live || r->topic != topic || !r->retain || r->dur == NULL)
			continue;
		f = sl_gdur_floor(r->dur);
		if (f != 0 && (floor == 0 || f < floor))
			floor = f;
	}
	return floor;
}

/* Retention on the owner only chooses: retired segments leave the journal
 * here and the main lcore unmaps and unlinks them (sl_dp_journals_prepare),
 * so this makes no system call. Retaining durable groups hold it back
 * (their floor) until the journal is at its capacity. */
static void
retain(struct sl_worker *w)
{
	struct sl_route *r = &w->dp->route;
	uint64_t now = realtime_ns(w->dur, w->now);
	uint32_t id;

	for (id = w->idx ? w->idx : r->n_workers; id < r->cap; id += r->n_workers) {
		struct sl_topic_state *ts = &r->state[id];

		if (ts->journal == NULL)
			continue;
		sl_journal_set_floor(ts->journal, group_floor(w, id));
		sl_journal_retain(ts->journal, now);
		snapshot(ts);
	}
}

/* --- timers ---------------------------------------------------------------------------- */

void
sl_worker_durable_timers(struct sl_worker *w)
{
	struct sl_durable_state *d = w->dur;
	uint64_t hz = w->dp->tsc_hz;

	if (w->now >= d->next_async) {
		d->next_async = w->now + hz * w->dp->conf.async_lag_ms / 1000;
		if (d->n_dirty)
			async_flush(w);
	}
	if (w->now >= d->next_retain) {
		d->next_retain = w->now + hz * RETAIN_PERIOD_MS / 1000;
		retain(w);
	}
}

int
sl_worker_durable_init(struct sl_worker *w)
{
	struct sl_durable_state *d;

	d = rte_zmalloc("sl_durable", sizeof(*d), RTE_CACHE_LINE_SIZE);
	if (d == NULL)
		return -ENOMEM;
	d->rt_base_ns = sl_wall_ns();
	d->tsc_base = rte_rdtsc();
	d->ns_per_tsc = 1e9 / (double)rte_get_tsc_hz();
	w->dur = d;
	return 0;
}

void
sl_worker_durable_fini(struct sl_worker *w)
{
	struct sl_durable_state *d = w->dur;
	uint32_t i;

	if (d == NULL)
		return;
	/* Persist what was appended; release held references unacknowledged. */
	sync_dirty(w, 0xff);
	for (i = 0; i < d->n_pending; i++)
		rte_pktmbuf_free(d->pending[i].m);
	for (i = 0; i < d->n_wait; i++)
		rte_pktmbuf_free(d->wait[(d->wait_head + i) % WAIT_MAX].m);
	rte_free(d);
	w->dur = NULL;
}
