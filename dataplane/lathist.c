/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's latency histograms: slots for topics (main lcore), the workers' pending records. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include <common/clock.h>
#include <common/cnc.h>

#include "lathist.h"

int
sl_dp_lh_init(struct sl_dp *dp)
{
	return sl_dp_lh_init_area(dp, sl_cnc_ctrs(dp->cnc));
}

int
sl_dp_lh_init_area(struct sl_dp *dp, struct sl_ctrs_hdr *a)
{
	struct sl_lh_hdr *s = sl_lh_section(a);
	struct sl_dp_lh *lh;
	uint64_t hz = dp->tsc_hz ? dp->tsc_hz : rte_get_tsc_hz();
	uint32_t i;

	if (s == NULL)
		return 0; /* no histograms configured (hist_topics 0) */
	if (hz == 0)
		hz = 1000000000u; /* no EAL (unit tests): values read as TSC ticks */
	lh = calloc(1, sizeof(*lh));
	if (lh == NULL)
		return -ENOMEM;
	lh->a = a;
	lh->s = s;
	lh->cap = dp->route.cap;
	lh->n_slots = s->n_slots;
	lh->slot_of = malloc(lh->cap * sizeof(*lh->slot_of));
	lh->topic_of = malloc(lh->n_slots * sizeof(*lh->topic_of));
	/* Workers write their lists: cache-line aligned, one per worker. No
	 * EAL heap: tests and benchmarks set this up without EAL. */
	lh->wk = aligned_alloc(64, (size_t)s->n_workers * sizeof(*lh->wk));
	if (lh->slot_of == NULL || lh->topic_of == NULL || lh->wk == NULL)
		goto fail;
	memset(lh->wk, 0, (size_t)s->n_workers * sizeof(*lh->wk));
	for (i = 0; i < s->n_workers; i++) {
		lh->wk[i].cnt = calloc(2 * (size_t)lh->cap, sizeof(uint32_t));
		lh->wk[i].touched = calloc(2 * (size_t)lh->cap, sizeof(uint32_t));
		if (lh->wk[i].cnt == NULL || lh->wk[i].touched == NULL)
			goto fail;
	}
	for (i = 0; i < lh->cap; i++)
		lh->slot_of[i] = -1;
	for (i = 0; i < lh->n_slots; i++)
		lh->topic_of[i] = -1;
	lh->ns_mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / hz);
	lh->rt_base_ns = sl_wall_ns();
	lh->tsc_base = rte_rdtsc();
	dp->lh = lh;
	return 0;
fail:
	dp->lh = lh;
	sl_dp_lh_fini(dp);
	return -ENOMEM;
}

void
sl_dp_lh_fini(struct sl_dp *dp)
{
	struct sl_dp_lh *lh = dp->lh;

	if (lh == NULL)
		return;
	dp->lh = NULL;
	for (uint32_t i = 0; lh->wk != NULL && i < lh->s->n_workers; i++) {
		free(lh->wk[i].cnt);
		free(lh->wk[i].touched);
	}
	free(lh->slot_of);
	free(lh->topic_of);
	free(lh->wk);
	free(lh);
}

int
sl_dp_lh_topic(struct sl_dp *dp, uint32_t id, const char *name)
{
	struct sl_dp_lh *lh = dp->lh;
	uint32_t i;

	if (lh == NULL || id >= lh->cap)
		return -1;
	if (lh->slot_of[id] >= 0)
		return lh->slot_of[id];
	if (lh->slot_of[id] == -2)
		return -1; /* counted already */
	for (i = 0; i < lh->n_slots && lh->topic_of[i] >= 0; i++)
		;
	if (i == lh->n_slots) {
		lh->slot_of[id] = -2;
		__atomic_store_n(&lh->s->no_slot, lh->s->no_slot + 1, __ATOMIC_RELAXED);
		return -1;
	}
	sl_lh_slot_take(lh->a, i, id, name);
	lh->topic_of[i] = (int32_t)id;
	/* Release: the zeroed blocks before the mapping (pairs with the
	 * workers' load of it; a worker that sees it late misses a message). */
	__atomic_store_n(&lh->slot_of[id], (int32_t)i, __ATOMIC_RELEASE);
	return (int)i;
}

void
sl_dp_lh_topic_gone(struct sl_dp *dp, uint32_t id)
{
	struct sl_dp_lh *lh = dp->lh;
	int32_t slot;

	if (lh == NULL || id >= lh->cap)
		return;
	slot = lh->slot_of[id];
	__atomic_store_n(&lh->slot_of[id], -1, __ATOMIC_RELAXED);
	if (slot < 0)
		return;
	/* The topic was deleted a while ago (stats.c lingers): no worker still
	 * records into the slot, so the next topic's zeroed blocks stay its own. */
	lh->topic_of[slot] = -1;
	sl_lh_slot_free(lh->a, (uint32_t)slot);
}

void
sl_lh_tally_flush(struct sl_worker *w, uint64_t now)
{
	struct sl_dp_lh *lh = w->dp->lh;
	struct sl_lh_worker *k = &lh->wk[w->idx];
	/* Every delivery of the iteration shares its receipt and its end. */
	uint64_t ns = now > k->rx ? sl_lh_ns(lh, now - k->rx) : 0;
	uint32_t i;

	for (i = 0; i < k->n_touched; i++) {
		uint32_t j = k->touched[i];
		struct sl_lh_block *b = sl_lh_wblock(lh, w->idx, j >> 1,
						     (j & 1) ? SL_LH_M_delivered_shm
							     : SL_LH_M_delivered_udp);

		if (b != NULL)
			sl_lh_record_n(b, ns, k->cnt[j]);
		k->cnt[j] = 0;
	}
	k->n_touched = 0;
}

void
sl_lh_appended(struct sl_worker *w, uint32_t topic)
{
	struct sl_dp_lh *lh = w->dp->lh;
	struct sl_lh_worker *k;
	struct sl_lh_wait *e;
	uint32_t i;

	if (lh == NULL)
		return;
	k = &lh->wk[w->idx];
	/* Most appends join the newest entry: same topic, same iteration. */
	if (likely(k->n_wait)) {
		e = &k->wait[k->n_wait - 1];
		if (e->topic == topic && e->rx == w->now) {
			e->n++;
			return;
		}
	}
	if (unlikely(k->n_wait == SL_LH_WAIT_MAX)) {
		/* Full: the topic's newest entry takes it (the oldest receipt of
		 * the merged ones is kept: an upper bound for them). */
		k->merged++;
		for (i = k->n_wait; i-- > 0;)
			if (k->wait[i].topic == topic) {
				k->wait[i].n++;
				return;
			}
		return; /* no entry of the topic to merge with: not recorded */
	}
	k->wait[k->n_wait++] = (struct sl_lh_wait){ topic, 1, w->now };
}

void
sl_lh_persisted(struct sl_worker *w, uint32_t topic, int rc)
{
	struct sl_dp_lh *lh = w->dp->lh;
	struct sl_lh_worker *k;
	struct sl_lh_block *b;
	uint32_t i, keep = 0;
	uint64_t now, stale;

	if (lh == NULL || lh->wk[w->idx].n_wait == 0)
		return;
	k = &lh->wk[w->idx];
	b = rc < 0 ? NULL : sl_lh_wblock(lh, w->idx, topic, SL_LH_M_persisted);
	/* One clock read per sync: the barrier has just returned. */
	now = rte_rdtsc();
	stale = now - w->dp->tsc_hz * SL_LH_WAIT_STALE_S;
	for (i = 0; i < k->n_wait; i++) {
		const struct sl_lh_wait *e = &k->wait[i];

		if (e->topic != topic) {
			if (now < stale || e->rx > stale)
				k->wait[keep++] = *e;
			continue;
		}
		if (b != NULL)
			sl_lh_record_n(b, now > e->rx ? sl_lh_ns(lh, now - e->rx) : 0, e->n);
	}
	k->n_wait = keep;
}

void
sl_lh_lag_rt(struct sl_worker *w, uint32_t topic, uint64_t rx_ns)
{
	struct sl_dp_lh *lh = w->dp->lh;
	struct sl_lh_block *b;
	uint64_t now_ns;

	if (lh == NULL || (b = sl_lh_wblock(lh, w->idx, topic, SL_LH_M_lag)) == NULL)
		return;
	now_ns = lh->rt_base_ns + sl_lh_ns(lh, w->now - lh->tsc_base);
	sl_lh_record_n(b, now_ns > rx_ns ? now_ns - rx_ns : 0, 1);
}
