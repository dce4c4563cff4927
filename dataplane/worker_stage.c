/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handoffs from a worker to other workers: staged per destination and
 * enqueued in bursts; control that meets a full ring waits in a backlog, in
 * order. Ending a session is one of them (every owner drops its
 * subscriptions).
 */

#include <errno.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dataplane.h"
#include "worker_internal.h"

/* Keep a control handoff for retry; publishes are never kept (their loss is
 * counted and the publisher gets no ack). Returns 0 or -ENOSPC. */
static int
backlog_add(struct sl_worker *w, uint32_t dst, const struct sl_handoff *h)
{
	if (h->kind == SL_HO_PUBLISH || w->n_backlog == SL_BACKLOG_MAX)
		return -ENOSPC;
	w->backlog[w->n_backlog++] = (struct sl_backlog){ dst, *h };
	w->n_backlog_dst[dst]++;
	return 0;
}

static struct rte_ring *
ring_of(const struct sl_worker *w, uint32_t dst)
{
	return dst == SL_BACKLOG_MAIN ? w->dp->slow : w->dp->workers[dst]->in;
}

static void
backlog_retry(struct sl_worker *w)
{
	uint32_t i, keep = 0;
	uint64_t blocked = 0; /* bit per destination that refused */

	_Static_assert(SL_BACKLOG_MAIN < 64, "a bit per backlog destination");
	for (i = 0; i < w->n_backlog; i++) {
		struct sl_backlog *b = &w->backlog[i];

		/* Per destination, in order: once one is refused, keep the rest. */
		if (!(blocked & (1ull << b->dst)) &&
		    rte_ring_enqueue_elem(ring_of(w, b->dst), &b->h, sizeof(b->h)) == 0) {
			w->n_backlog_dst[b->dst]--;
			count(w, SL_CTR_handoff_out);
			continue;
		}
		blocked |= 1ull << b->dst;
		w->backlog[keep++] = *b;
	}
	w->n_backlog = keep;
}

/* Enqueue the handoffs staged for @dst. What a full ring refuses is kept for
 * retry when it is control, else dropped and counted (references released)
 * rather than stalling this worker. */
static void
stage_push(struct sl_worker *w, uint32_t dst)
{
	struct sl_handoff *q = &w->out[dst * w->dp->conf.burst];
	uint16_t n = w->n_out[dst];
	unsigned done;

	done = rte_ring_enqueue_burst_elem(w->dp->workers[dst]->in, q, sizeof(*q), n, NULL);
	sl_ctr_add(&w->ctr.ctr[SL_CTR_handoff_out], done);
	for (; done < n; done++) {
		if (backlog_add(w, dst, &q[done]) == 0)
			continue;
		drop(w, SL_DROP_ring_full);
		if (q[done].m)
			rte_pktmbuf_free(q[done].m);
	}
	w->n_out[dst] = 0;
}

void
sl_worker_stage(struct sl_worker *w, uint32_t dst, const struct sl_handoff *h)
{
	/* Control must not overtake control already waiting for @dst. */
	if (w->n_backlog_dst[dst] && h->kind != SL_HO_PUBLISH) {
		if (backlog_add(w, dst, h) == 0)
			return;
	}
	w->out[dst * w->dp->conf.burst + w->n_out[dst]++] = *h;
	if (w->n_out[dst] == w->dp->conf.burst)
		stage_push(w, dst);
}

void
sl_worker_stage_flush(struct sl_worker *w)
{
	uint32_t dst;

	if (w->n_backlog)
		backlog_retry(w);
	for (dst = 0; dst < w->dp->n_workers; dst++)
		if (w->n_out[dst])
			stage_push(w, dst);
}

/* A session ended: every owner drops its subscriptions. */
void
sl_worker_session_gone(struct sl_worker *w, uint32_t session)
{
	struct sl_handoff h = { .session = session, .kind = SL_HO_UNSUB_ALL };
	uint32_t i;

	for (i = 0; i < w->dp->n_workers; i++) {
		if (i == w->idx) {
			sl_route_sub_del_session(&w->dp->route, i, session);
			/* Its group memberships here: through the ring, as
			 * elsewhere (worker_group.c is above this file). */
			if (w->n_grp)
				sl_worker_stage(w, i, &h);
		} else
			sl_worker_stage(w, i, &h);
	}
	/* Its pattern subscriptions too (main lcore). A full ring must not
	 * leave them behind: they would subscribe the dead session to topics
	 * created later. Kept for retry like any control handoff; only a full
	 * backlog as well loses it (counted). */
	{
		struct sl_handoff end = { .session = session, .kind = SL_HO_SESSION_END };

		if ((w->n_backlog_dst[SL_BACKLOG_MAIN] != 0 ||
		     rte_ring_enqueue_elem(w->dp->slow, &end, sizeof(end)) != 0) &&
		    backlog_add(w, SL_BACKLOG_MAIN, &end) < 0)
			drop(w, SL_DROP_slow_path_full);
	}
}

void
sl_worker_session_close(struct sl_worker *w, struct sl_session *s)
{
	sl_worker_session_gone(w, s->id);
	sl_session_close(&w->sessions, s);
	count(w, SL_CTR_sessions_closed);
}
