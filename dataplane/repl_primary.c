/* SPDX-License-Identifier: BSD-3-Clause */
/* The primary's side of replication: announcements, positions, truncation, streaming from the journals, go-back-N, lag. */

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "ha.h"
#include "journal.h"
#include "repl_primary.h"
#include "worker_internal.h"

/* Main lcore's allocation, replication worker's use. */
struct sl_repl_prim {
	uint32_t cap;
	uint32_t own_tpos;   /* the tpos arrays were allocated here */
	uint64_t term;	     /* SL_HA_ST() of the term the positions belong to */
	uint64_t near_since; /* every topic within a burst of its end since (ns); 0: not */
	uint32_t *avg_len;   /* [cap] running mean payload bytes: the byte estimates */
	/* [cap] the highest seq this node may have acknowledged without the
	 * standby: its journal's end when the term began, then every sync
	 * publish released alone. The standby is caught up (and may be
	 * recorded in sync, so promoted) only once it holds that much. */
	uint64_t *solo_seq;
};

static const struct sl_repl_primary_ops prim_ops = {
	.on_pos = sl_repl_primary_on_pos,
	.on_ack = sl_repl_primary_on_ack,
	.poll = sl_repl_primary_poll,
};

int
sl_repl_primary_init(struct sl_dp *dp)
{
	struct sl_repl *r = dp->repl;
	struct sl_repl_prim *p;
	unsigned i;

	p = rte_zmalloc("sl_repl_prim", sizeof(*p), RTE_CACHE_LINE_SIZE);
	if (p == NULL)
		return -ENOMEM;
	p->cap = dp->route.cap;
	p->avg_len = rte_zmalloc("sl_repl_avg", sizeof(uint32_t) * p->cap, RTE_CACHE_LINE_SIZE);
	p->solo_seq = rte_zmalloc("sl_repl_solo", sizeof(uint64_t) * p->cap, RTE_CACHE_LINE_SIZE);
	if (p->avg_len == NULL || p->solo_seq == NULL)
		goto fail;
	dp->repl_prim = p;
	if (r == NULL)
		return 0;
	for (i = 0; i < r->n_peers; i++) {
		if (r->peers[i].tpos)
			continue;
		r->peers[i].tpos = rte_zmalloc("sl_repl_tpos", sizeof(struct sl_repl_tpos) * p->cap,
					       RTE_CACHE_LINE_SIZE);
		if (r->peers[i].tpos == NULL)
			goto fail;
		p->own_tpos |= 1u << i;
	}
	sl_repl_set_primary_ops(r, &prim_ops);
	return 0;
fail:
	sl_repl_primary_fini(dp);
	return -ENOMEM;
}

void
sl_repl_primary_fini(struct sl_dp *dp)
{
	struct sl_repl_prim *p = dp->repl_prim;
	unsigned i;

	if (p == NULL)
		return;
	for (i = 0; dp->repl && i < dp->repl->n_peers; i++)
		if (p->own_tpos & (1u << i)) {
			rte_free(dp->repl->peers[i].tpos);
			dp->repl->peers[i].tpos = NULL;
		}
	rte_free(p->avg_len);
	rte_free(p->solo_seq);
	rte_free(p);
	dp->repl_prim = NULL;
}

/* The topic @id's journal, if it is a journaled topic this node has. */
static struct sl_journal *
journal_of(const struct sl_dp *dp, uint32_t id)
{
	if (id == 0 || id >= dp->route.cap || sl_route_topic_get(&dp->route, id) == NULL)
		return NULL;
	return sl_route_state(&dp->route, id)->journal;
}

static struct sl_repl_tpos *
tpos_of(const struct sl_dp *dp, unsigned peer, uint32_t id)
{
	const struct sl_repl *r = dp->repl;

	if (r == NULL || peer >= r->n_peers || r->peers[peer].tpos == NULL || id == 0 ||
	    id >= dp->route.cap)
		return NULL;
	return &r->peers[peer].tpos[id];
}

/*
 * Where the replica's journal of a topic ends: last (epoch @s_epoch, seq
 * @s_last). Ours holds records @first..@last. Keep what both hold the same:
 * up to the end of @s_epoch in our journal (a later seq of that epoch or an
 * older one on the replica was written by a deposed primary and never
 * acknowledged). Returns the seq to keep, or UINT64_MAX when nothing goes.
 */
static uint64_t
keep_of(struct sl_journal *j, uint32_t s_epoch, uint64_t s_last)
{
	uint64_t first = sl_journal_first_seq(j), keep = s_last, end;

	if (s_last == 0)
		return UINT64_MAX; /* empty: streams from our first */
	end = sl_journal_epoch_end(j, s_epoch);
	if (end < keep)
		keep = end;
	/* A replica that stops before our first record cannot be caught up
	 * from this journal: it starts over at our first. */
	if (first > 1 && keep < first - 1)
		return 0;
	return keep == s_last ? UINT64_MAX : keep;
}

void
sl_repl_primary_on_pos(struct sl_worker *w, unsigned peer, const struct sl_repl_pos *f)
{
	struct sl_repl_tpos *tp = tpos_of(w->dp, peer, f->rtopic);
	struct sl_journal *j = journal_of(w->dp, f->rtopic);
	uint64_t keep, now = w->ha_view.now_ns;

	if (tp == NULL || j == NULL)
		return;
	keep = keep_of(j, f->last_epoch, f->last_seq);
	if (keep != UINT64_MAX) {
		/* A divergent tail (or too far behind): it truncates, then
		 * answers POS again. TRUNC is resent until it does. */
		tp->state = SL_REPL_TP_TRUNCATING;
		tp->acked = tp->appended = 0;
		tp->next_to_send = keep;
		tp->announce_ns = now;
		return;
	}
	/* Its journal is a prefix of ours: stream what follows. Its last
	 * record is persisted there (recovered, or synced before POS). */
	tp->state = SL_REPL_TP_STREAMING;
	tp->acked = tp->appended = f->last_seq;
	tp->next_to_send = f->last_seq ? f->last_seq + 1 : sl_journal_first_seq(j);
	tp->sent_end = tp->next_to_send;
	tp->goback_seq = 0;
	tp->progress_ns = now;
}

/* The resend timeout towards @peer: the pair's fixed RTO; a DR replica's
 * link (a remote site, its delay) adds two of its measured round trips. */
static uint64_t
rto_ns(const struct sl_repl *r, unsigned peer)
{
	uint64_t rto = (uint64_t)SL_REPL_RTO_MS * 1000000u;

	return r->peers[peer].dr ? rto + 2 * r->peers[peer].rtt_ns : rto;
}

/*
 * Resend from the first record the replica lacks: past what it appended,
 * not only what it persisted (the appended ones are synced by its next
 * group commit). Going back to the persisted seq resent whole windows the
 * replica held already, and its ACKs for them fell beyond next_to_send.
 */
static void
go_back(struct sl_worker *w, struct sl_repl_tpos *tp, uint64_t now)
{
	uint64_t from = (tp->appended > tp->acked ? tp->appended : tp->acked) + 1;

	if (from >= tp->next_to_send)
		return; /* nothing in flight past what it holds */
	tp->next_to_send = from;
	tp->goback_seq = from;
	tp->goback_ns = now;
	tp->progress_ns = now;
	sl_repl_count(w->dp->repl, SL_REPL_CTR_repl_resends, 1);
}

void
sl_repl_primary_on_ack(struct sl_worker *w, unsigned peer, const struct sl_repl_ack *f)
{
	struct sl_repl_tpos *tp = tpos_of(w->dp, peer, f->rtopic);
	uint64_t now = w->ha_view.now_ns;

	if (tp == NULL || tp->state != SL_REPL_TP_STREAMING)
		return;
	/* Cumulative, and never past what was sent this term (a confused one
	 * must not release a sync publish the replica does not hold). The
	 * bound is the highest seq sent, not next_to_send: after a go-back
	 * the replica acknowledges records it got from the first send. */
	if (f->seq > tp->acked && f->seq < tp->sent_end) {
		tp->acked = f->seq;
		tp->progress_ns = now;
	}
	if (f->last_seq > tp->appended && f->last_seq < tp->sent_end) {
		tp->appended = f->last_seq;
		tp->progress_ns = now; /* it is receiving: nothing to resend yet */
	}
	if (tp->next_to_send < tp->acked + 1)
		tp->next_to_send = tp->acked + 1;
	if (f->flags & SL_REPL_ACK_F_GAP) {
		/* It missed one: go back to the first record it lacks, once:
		 * every datagram in flight behind the loss brings a GAP for
		 * the same place, and each must not resend the window again. */
		if (tp->goback_seq == tp->appended + 1 &&
		    now - tp->goback_ns < rto_ns(w->dp->repl, peer))
			return;
		go_back(w, tp, now);
	}
}

/* TOPIC for @id (its spec and name) to @peer. */
static int
announce(struct sl_worker *w, unsigned peer, uint32_t id, struct sl_journal *j)
{
	const struct sl_topic *t = sl_route_topic_get(&w->dp->route, id);
	const struct sl_topic_state *ts = sl_route_state(&w->dp->route, id);
	const struct sl_topic_spec *sp = w->dp->specs ? &w->dp->specs[id] : NULL;
	struct sl_repl_topic f;

	memset(&f, 0, sizeof(f));
	f.rtopic = id;
	f.durability = ts->durability;
	/* The spec as the main lcore keeps it (set before the topic was
	 * published; a later change is rare and resent with the next TOPIC). */
	if (sp) {
		f.backpressure = sp->backpressure;
		f.retain_bytes = sp->retain_bytes;
		f.retain_age_s = sp->retain_age_s;
		f.capacity_bytes = sp->capacity_bytes;
		f.retransmit_window = sp->retransmit_window;
		f.max_message = sp->max_message;
	}
	f.last_seq = sl_journal_last_seq(j);
	return sl_repl_send_topic(w, peer, &f, t->name, t->name_len);
}

/* Records from next_to_send on, within the window and what is left of
 * the burst budget (*@recs, *@bytes). Returns the records sent. */
static unsigned
stream(struct sl_worker *w, unsigned peer, uint32_t id, struct sl_journal *j,
       struct sl_repl_tpos *tp, uint32_t *recs, uint64_t *bytes)
{
	uint32_t *avg = &w->dp->repl_prim->avg_len[id];
	uint64_t last = sl_journal_last_seq(j), now = w->ha_view.now_ns;
	struct sl_jrec_view v;
	struct sl_repl_data d;
	unsigned n = 0;

	/* No ACK progress for an RTO with records in flight: resend. */
	if (tp->next_to_send > tp->acked + 1 && now - tp->progress_ns > rto_ns(w->dp->repl, peer)) {
		go_back(w, tp, now);
		tp->progress_ns = now; /* the next RTO runs from here */
	}
	while (tp->next_to_send <= last && *recs > 0 && *bytes > 0 &&
	       tp->next_to_send - tp->acked <= SL_REPL_WINDOW_RECORDS &&
	       (tp->next_to_send - tp->acked - 1) * (uint64_t)*avg < SL_REPL_WINDOW_BYTES) {
		if (sl_journal_read(j, tp->next_to_send, &v) < 0) {
			/* Retired or damaged here: announce again; its POS
			 * decides (a start over at our first record). */
			sl_repl_count(w->dp->repl, SL_REPL_CTR_drop_repl_read, 1);
			tp->state = SL_REPL_TP_NONE;
			tp->announce_ns = now;
			break;
		}
		memset(&d, 0, sizeof(d));
		d.rtopic = id;
		d.leader_epoch = v.leader_epoch;
		d.seq = v.seq;
		d.timestamp = v.timestamp;
		d.producer_id = v.producer_id;
		d.producer_seq = v.producer_seq;
		d.producer_epoch = v.producer_epoch;
		d.hdrs_len = v.hdrs_len;
		if (sl_repl_send_data(w, peer, &d, v.data, v.len) < 0)
			break; /* no mbuf now: next iteration */
		if (tp->next_to_send == tp->acked + 1)
			tp->progress_ns = now; /* the RTO runs from the first in flight */
		tp->next_to_send++;
		if (tp->next_to_send > tp->sent_end)
			tp->sent_end = tp->next_to_send;
		*avg = *avg ? (uint32_t)((*avg * 7ull + v.len) / 8) : v.len ? v.len : 1;
		*bytes = *bytes > v.len ? *bytes - v.len : 0;
		(*recs)--;
		n++;
	}
	return n;
}

/* A new term (role or epoch): what replicas held is learnt again (POS). */
static void
term_reset(struct sl_dp *dp, uint64_t term)
{
	struct sl_repl *r = dp->repl;
	unsigned i;

	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].tpos)
			memset(r->peers[i].tpos, 0, sizeof(struct sl_repl_tpos) * dp->route.cap);
	/* Whatever the journals hold may have been acknowledged alone (in
	 * an earlier term, or before a restart that forgot the marks). */
	for (i = 1; i < dp->repl_prim->cap; i++) {
		struct sl_journal *j = journal_of(dp, i);

		dp->repl_prim->solo_seq[i] = j ? sl_journal_last_seq(j) : 0;
	}
	dp->repl_prim->term = term;
	dp->repl_prim->near_since = 0;
}

/* Lag and caught_up, for the CnC (relaxed single words). */
static void
lag_publish(struct sl_worker *w, uint64_t recs, uint64_t bytes, int exact, int near, int covered)
{
	struct sl_repl_prim *p = w->dp->repl_prim;
	struct sl_ha *ha = w->dp->ha;
	uint64_t now = w->ha_view.now_ns;
	uint32_t up;

	if (!near)
		p->near_since = 0;
	else if (p->near_since == 0)
		p->near_since = now;
	up = covered &&
	     (exact || (near && now - p->near_since >= (uint64_t)SL_REPL_CAUGHT_UP_MS * 1000000u));
	__atomic_store_n(&ha->lag_records, recs, __ATOMIC_RELAXED);
	__atomic_store_n(&ha->lag_bytes, bytes, __ATOMIC_RELAXED);
	sl_repl_gauge(w->dp->repl, SL_REPL_CTR_repl_lag_records, recs);
	sl_repl_gauge(w->dp->repl, SL_REPL_CTR_repl_lag_bytes, bytes);
	__atomic_store_n(&ha->caught_up, up, __ATOMIC_RELAXED);
}

/* A DR replica's lag (the CnC, the gauges) and, when it changed or every
 * hb_ms, a LAG frame telling the replica: what its promotion would lose. */
static void
dr_lag_publish(struct sl_worker *w, unsigned peer, uint64_t recs, uint64_t bytes)
{
	struct sl_repl *r = w->dp->repl;
	uint64_t now = w->ha_view.now_ns;

	sl_repl_gauge(r, SL_REPL_CTR_repl_dr_lag_records, recs);
	sl_repl_gauge(r, SL_REPL_CTR_repl_dr_lag_bytes, bytes);
	if (r->ha) {
		__atomic_store_n(&r->ha->dr_lag_records, recs, __ATOMIC_RELAXED);
		__atomic_store_n(&r->ha->dr_lag_bytes, bytes, __ATOMIC_RELAXED);
	}
	if (recs == r->dr_lag_sent && now < r->dr_lag_next_ns)
		return;
	if (sl_repl_send_lag(w, peer, recs, bytes) == 0) {
		r->dr_lag_sent = recs;
		r->dr_lag_next_ns = now + (uint64_t)r->hb_ms * 1000000u;
	}
}

unsigned
sl_repl_primary_poll(struct sl_worker *w, uint64_t now_ns)
{
	struct sl_dp *dp = w->dp;
	struct sl_repl *r = dp->repl;
	uint64_t lag = 0, lag_bytes = 0, bytes = SL_REPL_BURST_BYTES;
	uint64_t dr_lag = 0, dr_bytes = 0;
	uint32_t recs = SL_REPL_BURST_RECORDS, id, hi;
	uint64_t term = w->ha_view.state;
	int exact = 1, near = 1, covered = 1, dr_peer = -1;
	unsigned peer, work = 0, n_std = 0;

	(void)now_ns; /* the view's time: the one the fence uses */
	if (dp->ha == NULL || dp->repl_prim == NULL || !sl_ha_view_serves(&w->ha_view))
		return 0;
	if (term != dp->repl_prim->term)
		term_reset(dp, term);
	/* Topic ids are handed out upwards: the highest so far bounds the scan.
	 * Peers in order: the standby first, so that a DR replica only gets
	 * what is left of the burst budget. */
	hi = __atomic_load_n(&dp->route.n_topics, __ATOMIC_RELAXED);
	for (peer = 0; peer < r->n_peers; peer++) {
		int is_dr = r->peers[peer].dr;
		uint64_t p_lag = 0, p_bytes = 0;

		for (id = 1; id <= hi && id < dp->route.cap; id++) {
			struct sl_journal *j = journal_of(dp, id);
			struct sl_repl_tpos *tp = tpos_of(dp, peer, id);
			uint64_t last, behind;

			if (j == NULL || tp == NULL)
				continue;
			last = sl_journal_last_seq(j);
			if (tp->state != SL_REPL_TP_STREAMING) {
				if (!is_dr)
					exact = near = 0;
				behind = last;
				if (w->ha_view.now_ns >= tp->announce_ns) {
					tp->announce_ns = w->ha_view.now_ns +
							  (uint64_t)SL_REPL_ANNOUNCE_MS * 1000000u;
					if (tp->state == SL_REPL_TP_TRUNCATING) {
						sl_repl_send_trunc(w, peer, id, tp->next_to_send);
					} else if (announce(w, peer, id, j) == 0) {
						tp->state = SL_REPL_TP_ANNOUNCED;
					}
					work++;
				}
			} else {
				work += stream(w, peer, id, j, tp, &recs, &bytes);
				behind = last > tp->acked ? last - tp->acked : 0;
				if (!is_dr) {
					exact &= behind == 0;
					near &= behind <= SL_REPL_BURST_RECORDS;
					covered &= tp->acked >= dp->repl_prim->solo_seq[id];
				}
			}
			p_lag += behind;
			p_bytes += behind * dp->repl_prim->avg_len[id];
		}
		if (is_dr) {
			dr_lag += p_lag;
			dr_bytes += p_bytes;
			dr_peer = (int)peer;
		} else {
			lag += p_lag;
			lag_bytes += p_bytes;
			n_std++;
		}
	}
	lag_publish(w, lag, lag_bytes, exact && n_std > 0, near && n_std > 0, covered);
	if (dr_peer >= 0)
		dr_lag_publish(w, (unsigned)dr_peer, dr_lag, dr_bytes);
	return work;
}

void
sl_repl_primary_solo_acked(struct sl_dp *dp, uint32_t topic, uint64_t seq)
{
	struct sl_repl_prim *p = dp->repl_prim;

	if (p != NULL && topic < p->cap && seq > p->solo_seq[topic])
		p->solo_seq[topic] = seq;
}
