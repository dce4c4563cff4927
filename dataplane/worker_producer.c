/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of idempotent producers: PRODUCER requests and answers, and the owner's dedup of publishes. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/proto.h>

#include "ha.h"
#include "journal.h"
#include "producer.h"
#include "repl_primary.h"
#include "tx.h"
#include "worker_internal.h"

#define DEDUP_EXPIRY_SCAN 64	   /* entries looked at per timer tick */
#define DEDUP_REBUILD_MAX 65536u   /* journal records read back at most per topic */

/* The id of producer @name (@nlen bytes) of user @uid. */
static uint64_t
producer_id_of(const struct sl_worker *w, uint16_t uid, const char *name, uint32_t nlen)
{
	const struct sl_authz *a = sl_dp_authz(w->dp);
	char user[sizeof(a->users[0].name) + 1] = "";

	if (uid != 0) {
		memcpy(user, a->users[uid].name, sizeof(a->users[uid].name));
		user[sizeof(user) - 1] = '\0';
	}
	return sl_producer_id(user, name, nlen);
}

static void
reply_producer_id(struct sl_worker *w, const union sl_peer *peer, const struct sl_session *s,
		  uint32_t req_id)
{
	struct sl_producer_id r;

	sl_proto_hdr_init(&r.h, SL_FT_PRODUCER_ID, 0, sizeof(r), s->id);
	r.req_id = req_id;
	r.epoch = s->producer_epoch;
	r.producer_id = s->producer_id;
	sl_tx_frame(w, peer, &r, sizeof(r));
}

void
sl_worker_producer_request(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
			   uint16_t data_off, const union sl_peer *peer, struct sl_session *sess)
{
	const struct sl_producer *r = (const struct sl_producer *)f->hdr;
	struct sl_handoff h = { .m = m, .session = r->h.session,
				.off = (uint16_t)(data_off + f->off), .len = (uint16_t)f->len,
				.kind = SL_HO_PRODUCER, .src_worker = (uint8_t)w->idx,
				.code = sess->uid };

	/* The same request again (its answer was lost): the same answer, not
	 * a new epoch that would fence the one the client may have seen. */
	if (sess->producer_id && sess->producer_req == r->req_id &&
	    sess->producer_id == producer_id_of(w, sess->uid, (const char *)f->body, f->body_len)) {
		reply_producer_id(w, peer, sess, r->req_id);
		return;
	}
	rte_mbuf_refcnt_update(m, 1);
	if (rte_ring_enqueue_elem(w->dp->slow, &h, sizeof(h)) != 0) {
		rte_pktmbuf_free(m);
		drop(w, SL_DROP_slow_path_full);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_BUSY, SL_FT_PRODUCER, 0);
	}
}

void
sl_worker_producer_done(struct sl_worker *w, const struct sl_handoff *h)
{
	const struct sl_producer *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_producer *,
							      h->off);
	struct sl_session *s;
	union sl_peer peer;

	sl_tx_peer_of(h->m, &peer);
	s = sl_session_get(&w->sessions, h->session, sl_peer_addr(&peer), sl_peer_port(&peer));
	if (s == NULL)
		return; /* the session ended meanwhile */
	if (h->code != SL_E_NONE) {
		drop(w, h->code == SL_E_FENCED ? SL_DROP_producer_fenced
		      : h->code == SL_E_PRODUCER_TABLE_FULL ? SL_DROP_producer_table_full
							     : SL_DROP_slow_path_full);
		sl_worker_reply_error(w, &peer, h->session, r->req_id, h->code, SL_FT_PRODUCER,
				      h->producer_epoch);
		return;
	}
	s->producer_id = h->producer_id;
	s->producer_epoch = h->producer_epoch;
	s->producer_req = r->req_id;
	count(w, SL_CTR_producers_bound);
	reply_producer_id(w, &peer, s, r->req_id);
}

/* The dedup entries of @topic's producers from its journal's last records:
 * a resend after a restart is then not stored twice. Reads mapped memory
 * only (as a replay does), bounded by DEDUP_REBUILD_MAX records. */
static void
rebuild(struct sl_worker *w, uint32_t topic, struct sl_topic_state *ts)
{
	uint64_t first = sl_journal_first_seq(ts->journal), last = sl_journal_last_seq(ts->journal);
	struct sl_jrec_view v;
	uint64_t s;

	ts->dedup_built = 1;
	if (first == 0 || last < first)
		return;
	s = last - first >= DEDUP_REBUILD_MAX ? last - DEDUP_REBUILD_MAX + 1 : first;
	for (; s <= last; s++)
		if (sl_journal_read(ts->journal, s, &v) == 0 && v.producer_epoch != 0 &&
		    v.producer_seq != 0 &&
		    sl_dedup_rebuild(w->dedup, v.producer_id, v.producer_epoch, topic,
				     v.producer_seq, v.seq, w->now) < 0)
			drop(w, SL_DROP_producer_table_full);
}

/*
 * May a duplicate of topic seq @orig be acknowledged? As its original may:
 * persisted here and, on a pair member, past the fence and (sync topics)
 * persisted by the standby too (ha_release). An ACK for a resend whose
 * original still waits on the standby acknowledged what a failover could
 * lose. Not yet: no answer; the original's own ACK or a later resend's is.
 */
static bool
dup_releasable(struct sl_worker *w, const struct sl_topic_state *ts, uint32_t topic,
	       uint64_t orig)
{
	const struct sl_ha *ha = w->dp->ha;

	if (ts->journal && orig > sl_journal_durable_seq(ts->journal))
		return false;
	if (likely(ha == NULL))
		return true;
	if (!sl_ha_may_ack(ha, &w->ha_view))
		return false;
	return ts->durability != SL_DUR_SYNC || !sl_ha_view_waits_replica(ha, &w->ha_view) ||
	       sl_repl_primary_acked(w->dp, topic) >= orig;
}

static void
ack_dup(struct sl_worker *w, const union sl_peer *peer, const struct sl_publish *p, uint64_t seq)
{
	struct sl_ack a;

	sl_proto_hdr_init(&a.h, SL_FT_ACK, SL_ACK_F_DUP, sizeof(a), p->h.session);
	a.topic_id = p->topic_id;
	a.reserved = 0;
	a.producer_seq = p->producer_seq;
	a.seq = seq;
	count(w, SL_CTR_acks);
	sl_tx_frame(w, peer, &a, sizeof(a));
}

int
sl_worker_producer_admit(struct sl_worker *w, struct rte_mbuf *m, const struct sl_publish *p,
			 uint64_t pid, uint32_t epoch, uint32_t *slot)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, p->topic_id);
	enum sl_dedup_verdict v;
	union sl_peer peer;
	uint64_t orig = 0;
	uint16_t code;

	if (ts->journal && !ts->dedup_built)
		rebuild(w, p->topic_id, ts);
	v = sl_dedup_check(w->dedup, pid, epoch, p->topic_id, p->producer_seq,
			   (p->h.flags & SL_PUB_F_FIRST) != 0, w->now, slot, &orig);
	if (likely(v == SL_DEDUP_ACCEPT))
		return 1;
	sl_tx_peer_of(m, &peer);
	switch (v) {
	case SL_DEDUP_DUP:
		count(w, SL_CTR_dup_publishes);
		/* Not released yet: the original's own ACK follows its persist
		 * (an ACK means the persist completed, on both nodes of a pair). */
		if (!dup_releasable(w, ts, p->topic_id, orig))
			return 0;
		if (p->h.flags & SL_PUB_F_ACK_REQ)
			ack_dup(w, &peer, p, orig);
		return 0;
	case SL_DEDUP_FENCED:
		drop(w, SL_DROP_producer_fenced);
		code = SL_E_FENCED;
		break;
	case SL_DEDUP_OUT_OF_ORDER:
		drop(w, SL_DROP_producer_out_of_order);
		code = SL_E_OUT_OF_ORDER;
		break;
	default:
		drop(w, SL_DROP_producer_table_full);
		code = SL_E_PRODUCER_TABLE_FULL;
		break;
	}
	sl_worker_reply_error(w, &peer, p->h.session, 0, code, SL_FT_PUBLISH, p->producer_seq);
	return 0;
}

void
sl_worker_producer_stored(struct sl_worker *w, uint32_t slot, uint64_t pseq, uint64_t seq)
{
	sl_dedup_commit(w->dedup, slot, pseq, seq);
}

void
sl_worker_producer_topic_gone(struct sl_worker *w, uint32_t topic)
{
	sl_dedup_drop_topic(w->dedup, topic);
	sl_route_state(&w->dp->route, topic)->dedup_built = 0;
}

void
sl_worker_producer_timers(struct sl_worker *w)
{
	uint64_t idle = w->dp->tsc_hz * (uint64_t)w->dp->conf.producer_idle_s;

	if (w->now > idle)
		sl_dedup_expire(w->dedup, w->now, idle, DEDUP_EXPIRY_SCAN);
}

int
sl_worker_producer_init(struct sl_worker *w)
{
	int rc;

	w->dedup = calloc(1, sizeof(*w->dedup));
	if (w->dedup == NULL)
		return -ENOMEM;
	rc = sl_dedup_init(w->dedup, w->dp->conf.producer_topics ? w->dp->conf.producer_topics
								  : 4096);
	if (rc < 0) {
		free(w->dedup);
		w->dedup = NULL;
	}
	return rc;
}

void
sl_worker_producer_fini(struct sl_worker *w)
{
	if (w->dedup == NULL)
		return;
	sl_dedup_fini(w->dedup);
	free(w->dedup);
	w->dedup = NULL;
}
