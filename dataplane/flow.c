/* SPDX-License-Identifier: BSD-3-Clause */
/* Subscriber loss recovery and flow control at a topic's owner: NAK, CREDIT and STATUS. */

#include <string.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include <common/proto.h>

#include "retx.h"
#include "tx.h"
#include "worker_internal.h"

#define NAK_BURST 1024 /* most messages a subscription may have resent at once */

/*
 * How many of @want messages subscription @sub may have resent now: a token
 * bucket of nak_rate messages per second, a tenth of a second's worth deep
 * (1 to NAK_BURST), kept as a theoretical arrival time (GCRA, as the
 * publish rate limit).
 */
static uint64_t
nak_tokens(struct sl_worker *w, const struct sl_sub *sub, uint64_t want)
{
	uint32_t rate = w->dp->conf.nak_rate;
	uint64_t t = RTE_MAX(w->dp->tsc_hz / rate, (uint64_t)1);
	uint64_t burst = rate / 10;
	uint64_t tat = RTE_MAX(sub->nak_tat, w->now);
	uint64_t ahead = tat - w->now, depth;

	burst = burst < 1 ? 1 : burst > NAK_BURST ? NAK_BURST : burst;
	depth = burst * t;

	if (ahead >= depth)
		return 0;
	return RTE_MIN(want, (depth - ahead) / t);
}

/* Tell @sub that @first..@last of @topic cannot be sent again. */
static void
gap_lost(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic, uint64_t first,
	 uint64_t last)
{
	sl_ctr_add(&w->ctr.ctr[SL_CTR_gap_lost], last - first + 1);
	sl_worker_gap_error(w, sub, SL_E_GAP_LOST, SL_FT_NAK, topic, first, last);
}

/* Resend @seq from the window or the journal: 1 sent, 0 held by neither,
 * 2 its filter skips it (v4), -1 no room now (stop here). */
static int
resend(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic, uint64_t seq)
{
	const struct sl_retx_slot *s = sl_retx_find(w, topic, seq);
	int rc;

	if (s) {
		const struct sl_publish *p = rte_pktmbuf_mtod_offset(s->m, const struct sl_publish *,
								     s->off);

		if (!sl_worker_filter_pass(w, topic, sub, p + 1, sl_proto_hdrs_len(p)))
			return 2;
		rc = sl_worker_deliver_one(w, sub, topic, s->m, s->off, s->len, seq,
					   SL_DLV_F_RETRANS);
		if (rc == 0)
			sl_lh_lag_tsc(w, topic, s->rx_tsc);
		return rc == -ENOBUFS ? -1 : 1;
	}
	rc = sl_worker_journal_resend(w, sub, topic, seq);
	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc == -EXDEV ? 2 : -1;
}

void
sl_flow_nak(struct sl_worker *w, struct rte_mbuf *m, uint16_t off)
{
	const struct sl_nak *k = rte_pktmbuf_mtod_offset(m, const struct sl_nak *, off);
	struct sl_sub *sub = sl_route_sub_find(&w->dp->route, k->topic_id, k->h.session);
	uint64_t first = k->first, last = k->last, n, allowed, seq, lost = 0, skipped = 0;
	int rc = 1;

	if (sub == NULL || first == 0 || first > last || last - first >= SL_NAK_MAX_RANGE ||
	    last > sl_worker_nak_bound(w, k->topic_id)) {
		drop(w, SL_DROP_nak_bad);
		return;
	}
	count(w, SL_CTR_nak_received);
	/* Never past its credit: it asks again once it granted more. */
	if (sub->peer.transport == SL_TRANSPORT_UDP)
		last = RTE_MIN(last, sub->credit);
	if (first > last)
		return;
	/* Paced: its own bucket, then this iteration's share of the worker,
	 * so that a NAK storm cannot crowd out live deliveries. */
	n = last - first + 1;
	allowed = RTE_MIN(nak_tokens(w, sub, n), (uint64_t)w->retx_budget);
	if (allowed < n)
		sl_ctr_add(&w->ctr.ctr[SL_CTR_nak_limited], n - allowed);
	for (seq = first; seq < first + allowed; seq++) {
		if (sub->peer.transport == SL_TRANSPORT_SHM &&
		    !sl_tx_room(w, &sub->peer, sizeof(struct sl_deliver) + SL_MAX_DATAGRAM))
			break;
		rc = resend(w, sub, k->topic_id, seq);
		if (rc < 0)
			break;
		/* A run of one kind ends where another outcome starts. */
		if (skipped && rc != 2) {
			sl_worker_skip_send(w, sub, k->topic_id, skipped, seq - 1);
			skipped = 0;
		}
		if (lost && rc != 0) {
			gap_lost(w, sub, k->topic_id, lost, seq - 1);
			lost = 0;
		}
		if (rc == 0 || rc == 2) {
			if (rc == 0 && !lost)
				lost = seq;
			if (rc == 2 && !skipped)
				skipped = seq;
			continue;
		}
		count(w, SL_CTR_retransmitted);
	}
	if (lost)
		gap_lost(w, sub, k->topic_id, lost, seq - 1);
	if (skipped)
		sl_worker_skip_send(w, sub, k->topic_id, skipped, seq - 1);
	w->retx_budget -= (uint32_t)(seq - first);
	sub->nak_tat = RTE_MAX(sub->nak_tat, w->now) +
		       (seq - first) * RTE_MAX(w->dp->tsc_hz / w->dp->conf.nak_rate, (uint64_t)1);
}

void
sl_flow_credit(struct sl_worker *w, struct rte_mbuf *m, uint16_t off)
{
	const struct sl_credit *c = rte_pktmbuf_mtod_offset(m, const struct sl_credit *, off);
	struct sl_sub *sub = sl_route_sub_find(&w->dp->route, c->topic_id, c->h.session);

	if (sub == NULL) {
		drop(w, SL_DROP_credit_bad);
		return;
	}
	if (c->limit > sub->credit) {
		sub->credit = c->limit;
		sub->stall_since = 0;
	}
}

/* STATUS of @topic to each of its live UDP subscribers that was not told
 * this much yet (all of them when @all). Returns the frames sent. */
static unsigned
status_topic(struct sl_worker *w, uint32_t topic, int all)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	struct {
		struct sl_status s;
		struct sl_status_entry e;
	} f;
	unsigned sent = 0;
	uint32_t i;

	if (ts->dlv_seq == 0)
		return 0;
	/* A filtered subscriber hears of its skipped tail first (v4), so
	 * that the STATUS after it shows no hole. */
	sl_worker_skip_flush_topic(w, topic);
	for (i = 0; i < ts->n_subs; i++) {
		struct sl_sub *sub = &ts->subs[i];
		/* No further than its credit: it need not ask for what it
		 * may not be sent yet. */
		uint64_t last = RTE_MIN(ts->dlv_seq, sub->credit);

		if (sub->peer.transport != SL_TRANSPORT_UDP || sub->replay_next ||
		    (!all && sub->status_seq >= last))
			continue;
		sl_proto_hdr_init(&f.s.h, SL_FT_STATUS, 0, sizeof(f), sub->session);
		f.s.count = 1;
		f.s.reserved = 0;
		f.e.topic_id = topic;
		f.e.reserved = 0;
		f.e.last_seq = last;
		if (sl_tx_frame(w, &sub->peer, &f, sizeof(f)) == 0) {
			sub->status_seq = last;
			sent++;
		}
	}
	sl_ctr_add(&w->ctr.ctr[SL_CTR_status_sent], sent);
	return sent;
}

unsigned
sl_flow_status_poll(struct sl_worker *w)
{
	struct sl_route *r = &w->dp->route;
	uint64_t hz = w->dp->tsc_hz, idle = hz * w->dp->conf.status_idle_us / 1000000;
	unsigned sent = 0;
	uint32_t i, keep = 0, id;

	/* (a) A topic idle for status_idle_us after its last delivery: its
	 * subscribers learn its last seq, so a lost tail shows. */
	if (w->n_status && w->now >= w->next_status_scan) {
		w->next_status_scan = w->now + idle / 2;
		for (i = 0; i < w->n_status; i++) {
			struct sl_topic_state *ts = sl_route_state(r, w->status_list[i]);

			if (w->now - ts->dlv_tsc < idle) {
				w->status_list[keep++] = w->status_list[i];
				continue;
			}
			ts->status_listed = 0;
			sent += status_topic(w, w->status_list[i], 0);
		}
		w->n_status = keep;
	}
	/* (b) Every heartbeat interval, every owned topic with subscribers. */
	if (w->now >= w->next_status_hb) {
		w->next_status_hb = w->now + hz * w->dp->conf.heartbeat_ms / 1000;
		for (id = w->idx ? w->idx : r->n_workers; id < r->cap; id += r->n_workers)
			if (r->state[id].n_subs)
				sent += status_topic(w, id, 1);
	}
	return sent;
}
