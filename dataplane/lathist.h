/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's latency histograms: per-topic slots, and what workers record at each point. */

#ifndef SLUICE_DP_LATHIST_H
#define SLUICE_DP_LATHIST_H

#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>

#include <common/lathist.h>

#include "dataplane.h"

/*
 * What each metric measures (docs/COUNTERS.md, "Latency histograms"):
 *
 * - Receipt of a PUBLISH is the TSC its topic's owner worker read at the
 *   start of the loop iteration that took it in (w->now): no clock read per
 *   message.
 * - persisted: receipt -> the persist barrier of the journal sync that
 *   covered it returned (one TSC read per sync, not per message).
 * - delivered_udp / delivered_shm: receipt -> the start of the owner's next
 *   iteration, which begins right after this one handed its DELIVERs to the
 *   NIC (tx_burst) or wrote them into the subscriber's ring. Deliveries are
 *   counted per (topic, transport) during an iteration (they share its
 *   receipt time and its end) and recorded at the next one with the TSC that
 *   iteration reads anyway: one record per (topic, transport) an iteration
 *   delivered to, of as many values as it delivered.
 * - lag: the message's receipt -> the iteration that sends it again (a
 *   NAK-driven retransmit from the window or the journal, a journal replay,
 *   a consumer group's redelivery).
 *
 * Workers record into their own blocks of the counters area (one writer
 * per cache line); they never allocate or call the system: the arrays below
 * are fixed at start; the wait list, when full, merges into a topic's
 * newest entry (counted in merged).
 */

#define SL_LH_WAIT_MAX 1024
#define SL_LH_WAIT_STALE_S 10

struct sl_lh_wait {
	uint32_t topic;
	uint32_t n;
	uint64_t rx; /* receipt TSC of the oldest of the n */
};

/* One worker's pending records: its own, on its own cache lines. */
struct sl_lh_worker {
	uint64_t rx;	     /* this iteration's TSC: receipt of what it delivers */
	uint32_t n_touched;  /* entries of cnt not 0 */
	uint32_t n_wait;
	uint64_t merged;     /* waits merged because the list was full */
	uint32_t *cnt;	     /* [2 * cap]: deliveries this iteration, by topic * 2 + transport */
	uint32_t *touched;   /* [2 * cap]: the indices of cnt not 0 */
	struct sl_lh_wait wait[SL_LH_WAIT_MAX];
} __attribute__((aligned(64)));

struct sl_dp_lh {
	struct sl_ctrs_hdr *a;
	struct sl_lh_hdr *s;
	int32_t *slot_of;   /* [cap]: the topic's histogram slot, or < 0 (main writes, release) */
	int32_t *topic_of;  /* [n_slots]: the slot's topic, or -1 (main lcore only) */
	uint32_t cap;	    /* topic ids */
	uint32_t n_slots;
	uint64_t ns_mult;   /* ns = (tsc * ns_mult) >> 32 */
	uint64_t rt_base_ns, tsc_base; /* CLOCK_REALTIME at tsc_base */
	struct sl_lh_worker *wk; /* [n_workers] */
};

/* Histograms for dp's topics, in the counters area's section (if it has
 * one: else dp->lh stays NULL and nothing is recorded). Main lcore, after
 * the CnC region is created. Returns 0 or -ENOMEM. */
int sl_dp_lh_init(struct sl_dp *dp);
/* The same with the counters area @a (formatted by sl_ctrs_format_h). */
int sl_dp_lh_init_area(struct sl_dp *dp, struct sl_ctrs_hdr *a);
void sl_dp_lh_fini(struct sl_dp *dp);

/* Main lcore: give topic @id (@name) a slot when it has none and one is
 * free; -1 when none is (counted once per topic in the section's no_slot). */
int sl_dp_lh_topic(struct sl_dp *dp, uint32_t id, const char *name);
/* Main lcore: topic @id is gone for good: its slot is free again. */
void sl_dp_lh_topic_gone(struct sl_dp *dp, uint32_t id);

/* TSC ticks to ns. */
static inline uint64_t
sl_lh_ns(const struct sl_dp_lh *lh, uint64_t dtsc)
{
	return (uint64_t)(((unsigned __int128)dtsc * lh->ns_mult) >> 32);
}

/* Worker @w's block of metric @metric of topic @topic, or NULL (no slot). */
static inline struct sl_lh_block *
sl_lh_wblock(const struct sl_dp_lh *lh, uint32_t widx, uint32_t topic, unsigned metric)
{
	int32_t slot;

	if (unlikely(topic >= lh->cap))
		return NULL;
	/* Acquire: pairs with the main lcore's release store, after it zeroed
	 * the blocks (a plain load on x86); a stale -1 misses a message or two
	 * of a new topic. */
	slot = __atomic_load_n(&lh->slot_of[topic], __ATOMIC_ACQUIRE);
	if (slot < 0)
		return NULL;
	return sl_lh_block(lh->a, lh->s, (uint32_t)slot, widx, metric);
}

/* Record the deliveries counted in the iteration that began at k->rx, as
 * ended at @now (TSC). */
void sl_lh_tally_flush(struct sl_worker *w, uint64_t now);

/* Start of a loop iteration (w->now just read): record the previous
 * iteration's deliveries; this one's are received at w->now. */
static inline void
sl_lh_poll(struct sl_worker *w)
{
	struct sl_dp_lh *lh = w->dp->lh;

	if (lh == NULL)
		return;
	if (lh->wk[w->idx].n_touched)
		sl_lh_tally_flush(w, w->now);
	lh->wk[w->idx].rx = w->now;
}

/* A DELIVER of a message of @topic received in this iteration went to a
 * subscriber over @transport (enum sl_transport: 0 udp, 1 shm). */
static inline void
sl_lh_delivered(struct sl_worker *w, uint32_t topic, uint8_t transport)
{
	struct sl_dp_lh *lh = w->dp->lh;
	struct sl_lh_worker *k;
	uint32_t i = topic * 2u + (transport & 1u);

	if (lh == NULL || unlikely(topic >= lh->cap))
		return;
	k = &lh->wk[w->idx];
	if (k->cnt[i]++ == 0)
		k->touched[k->n_touched++] = i;
}

/* A message of @topic received in this iteration was appended to its
 * journal: it waits for the sync that persists it. */
void sl_lh_appended(struct sl_worker *w, uint32_t topic);

/* @topic's journal was just synced (@rc: sl_journal_sync's result):
 * everything of it that waited is persisted now, or with @rc < 0 never
 * will be (not recorded). Entries older than SL_LH_WAIT_STALE_S (a topic
 * deleted before its sync) go too. */
void sl_lh_persisted(struct sl_worker *w, uint32_t topic, int rc);

/* A message of @topic that the broker received at CLOCK_REALTIME @rx_ns
 * (its journal record's timestamp) is being sent again in this iteration. */
void sl_lh_lag_rt(struct sl_worker *w, uint32_t topic, uint64_t rx_ns);

/* The same for one received at TSC @rx_tsc (the retransmit window's). */
static inline void
sl_lh_lag_tsc(struct sl_worker *w, uint32_t topic, uint64_t rx_tsc)
{
	struct sl_dp_lh *lh = w->dp->lh;
	struct sl_lh_block *b;

	if (lh == NULL || (b = sl_lh_wblock(lh, w->idx, topic, SL_LH_M_lag)) == NULL)
		return;
	sl_lh_record_n(b, w->now > rx_tsc ? sl_lh_ns(lh, w->now - rx_tsc) : 0, 1);
}

/* A message of @topic is sent again; its receipt is @rx_tsc (TSC) when not
 * 0, else @rx_ns (CLOCK_REALTIME) when not 0, else unknown: not recorded. */
static inline void
sl_lh_lag(struct sl_worker *w, uint32_t topic, uint64_t rx_tsc, uint64_t rx_ns)
{
	if (rx_tsc)
		sl_lh_lag_tsc(w, topic, rx_tsc);
	else if (rx_ns)
		sl_lh_lag_rt(w, topic, rx_ns);
}

#endif /* SLUICE_DP_LATHIST_H */
