/* SPDX-License-Identifier: BSD-3-Clause */
/* Retransmit windows: each owned topic's last messages, held by reference for NAKs. */

#include <errno.h>
#include <stdlib.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "large.h"
#include "large_buf.h"
#include "retx.h"
#include "worker_internal.h"

#define RETX_MAX 65536u /* largest window, messages (RETX_MAX - 1 usable) */
#define FIFO_MIN_COST 1024u  /* the least a held message counts against the bound */
#define FIFO_MAX (1u << 20)  /* entries of the oldest-first list, at most */

/* What a held message costs the worker's byte bound: its whole buffer
 * (several frames of one datagram share it: counted once each, on the
 * safe side). */
static inline uint64_t
cost(const struct rte_mbuf *m)
{
	/* A large message holds whole units of the worker's arena. */
	return sl_large_buf_is(m) ? sl_large_buf_cost(m) : m->buf_len;
}

/* Held large buffers may take half of the arena: the rest stays for
 * messages arriving (a PUBLISH over shared memory, reassembly). */
static inline bool
large_over(const struct sl_worker *w, const struct rte_mbuf *m)
{
	return sl_large_buf_is(m) && w->large != NULL &&
	       w->retx_large + sl_large_buf_cost(m) >
		       (uint64_t)w->large->arena.n_units * SL_LARGE_UNIT / 2;
}

static struct sl_retx_slot *
ring_of(struct sl_worker *w, uint32_t topic)
{
	return &w->retx_arena[(size_t)(topic / w->dp->n_workers) * w->retx_cap];
}

int
sl_retx_init(struct sl_worker *w)
{
	const struct sl_conf *c = &w->dp->conf;
	uint32_t want = c->retransmit_window, cap = 1;
	uint64_t share;
	size_t owned;

	if (want == 0)
		return 0;
	while (cap < want + 1 && cap < RETX_MAX)
		cap <<= 1;
	owned = (size_t)(c->max_topics / w->dp->n_workers) + 1;
	/* Plain memory from the main thread at start: pages are touched as
	 * topics fill their rings, never allocated on the worker. */
	w->retx_arena = calloc(owned * cap, sizeof(*w->retx_arena));
	if (w->retx_arena == NULL)
		return -ENOMEM;
	w->retx_cap = cap;
	/* Held mbufs come out of the pools rx needs: at most half of one
	 * pool, shared by the workers. */
	share = (uint64_t)c->mbufs / 2 / w->dp->n_workers * RTE_MBUF_DEFAULT_BUF_SIZE;
	w->retx_bytes_max = RTE_MIN((uint64_t)c->retransmit_bytes, share);
	/* One entry per message the byte bound lets it hold (a message costs
	 * at least FIFO_MIN_COST); a full list evicts its oldest too. */
	for (cap = 1; cap < w->retx_bytes_max / FIFO_MIN_COST + 1 && cap < FIFO_MAX; cap <<= 1)
		;
	w->retx_fifo = calloc(cap, sizeof(*w->retx_fifo));
	if (w->retx_fifo == NULL)
		return -ENOMEM;
	w->retx_fifo_mask = cap - 1;
	return 0;
}

void
sl_retx_flush(struct sl_worker *w)
{
	if (w->retx_pend_n) {
		rte_mbuf_refcnt_update(w->retx_pend_m, (int16_t)w->retx_pend_n);
		w->retx_pend_n = 0;
	}
	w->retx_pend_m = NULL;
}

static void
slot_free(struct sl_worker *w, struct sl_retx_slot *s)
{
	/* Its reference may still be pending: added before it is dropped. */
	if (unlikely(s->m == w->retx_pend_m))
		sl_retx_flush(w);
	w->retx_bytes -= cost(s->m);
	if (sl_large_buf_is(s->m))
		w->retx_large -= cost(s->m);
	rte_pktmbuf_free(s->m);
	s->m = NULL;
}

/* Drop seq @q from the ring @r if it still holds it; returns 1 if it did. */
static int
evict(struct sl_worker *w, struct sl_retx_slot *r, uint64_t q)
{
	struct sl_retx_slot *s = &r[q & (w->retx_cap - 1)];

	if (s->m == NULL || s->seq32 != (uint32_t)q)
		return 0;
	slot_free(w, s);
	return 1;
}

void
sl_retx_clear(struct sl_worker *w, uint32_t topic)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	struct sl_retx_slot *r;
	uint32_t i;

	ts->retx_lo = ts->dlv_seq + 1;
	if (w->retx_cap == 0)
		return;
	r = ring_of(w, topic);
	for (i = 0; i < w->retx_cap; i++)
		if (r[i].m)
			slot_free(w, &r[i]);
}

void
sl_retx_fanned(struct sl_worker *w, uint32_t topic, struct rte_mbuf *m, uint16_t off,
	       uint16_t len, uint64_t seq)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	/* Relaxed: the main lcore's sluicectl change is seen eventually. */
	uint32_t win = RTE_MIN(__atomic_load_n(&ts->retx_window, __ATOMIC_RELAXED),
			       w->retx_cap ? w->retx_cap - 1 : 0);
	struct sl_retx_slot *r, *s;
	uint64_t lo;

	ts->dlv_seq = seq;
	ts->dlv_tsc = w->now;
	if (!ts->status_listed && w->n_status < w->status_max) {
		ts->status_listed = 1;
		w->status_list[w->n_status++] = topic;
	}
	if (win == 0) {
		if (ts->retx_lo <= seq && w->retx_cap)
			sl_retx_clear(w, topic); /* the window was turned off */
		ts->retx_lo = seq + 1;
		return;
	}
	r = ring_of(w, topic);
	/* Out of the window by count: what is older than the last @win. */
	if (seq >= ts->retx_lo + win) {
		lo = seq - win + 1;
		if (lo - ts->retx_lo >= w->retx_cap)
			sl_retx_clear(w, topic);
		else
			for (; ts->retx_lo < lo; ts->retx_lo++)
				evict(w, r, ts->retx_lo);
		ts->retx_lo = lo;
	}
	/* Out by bytes, or the list full: the worker's oldest first, whichever
	 * topic holds it. */
	while ((w->retx_bytes + cost(m) > w->retx_bytes_max || large_over(w, m) ||
		w->retx_fifo_head - w->retx_fifo_tail > w->retx_fifo_mask) &&
	       w->retx_fifo_tail != w->retx_fifo_head) {
		const struct sl_retx_ref *o = &w->retx_fifo[w->retx_fifo_tail++ & w->retx_fifo_mask];

		if (evict(w, ring_of(w, o->topic), o->seq))
			count(w, SL_CTR_retx_evicted);
	}
	s = &r[seq & (w->retx_cap - 1)];
	if (s->m)
		slot_free(w, s); /* a stale message of this slot */
	if (w->retx_bytes + cost(m) > w->retx_bytes_max || large_over(w, m)) {
		count(w, SL_CTR_retx_evicted); /* not kept: a NAK finds the journal or a gap */
		return;
	}
	if (m == w->retx_batch) {
		/* Its handler holds @m until sl_retx_flush. */
		w->retx_pend_m = m;
		w->retx_pend_n++;
	} else {
		rte_mbuf_refcnt_update(m, 1);
	}
	*s = (struct sl_retx_slot){ .m = m, .off = off, .len = len, .seq32 = (uint32_t)seq,
				    .rx_tsc = w->now };
	w->retx_bytes += cost(m);
	if (sl_large_buf_is(m))
		w->retx_large += cost(m);
	w->retx_fifo[w->retx_fifo_head++ & w->retx_fifo_mask] =
		(struct sl_retx_ref){ .topic = topic, .seq = seq };
}

const struct sl_retx_slot *
sl_retx_find(struct sl_worker *w, uint32_t topic, uint64_t seq)
{
	const struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	const struct sl_retx_slot *s;

	if (w->retx_cap == 0 || seq < ts->retx_lo || seq > ts->dlv_seq)
		return NULL;
	s = &ring_of(w, topic)[seq & (w->retx_cap - 1)];
	return s->m && s->seq32 == (uint32_t)seq ? s : NULL;
}

void
sl_retx_fini(struct sl_worker *w)
{
	size_t i, n;

	if (w->retx_arena == NULL)
		return;
	n = ((size_t)(w->dp->conf.max_topics / w->dp->n_workers) + 1) * w->retx_cap;
	for (i = 0; i < n; i++)
		if (w->retx_arena[i].m)
			rte_pktmbuf_free(w->retx_arena[i].m);
	free(w->retx_arena);
	w->retx_arena = NULL;
	w->retx_bytes = 0;
	free(w->retx_fifo);
	w->retx_fifo = NULL;
	w->retx_fifo_head = w->retx_fifo_tail = 0;
}
