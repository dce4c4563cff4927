/* SPDX-License-Identifier: BSD-3-Clause */
/* Owner worker side of durable consumer groups: the restore before the first dispatch, the snapshots after each. */

#include <rte_common.h>

#include "group_durable.h"
#include "group_durable_dp.h"
#include "worker_internal.h"

void
sl_wgroup_dur_start(struct sl_worker *w, struct sl_group_rec *r)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, r->topic);
	struct sl_gdur_restored rs;
	uint64_t lost;

	if (r->dur == NULL ||
	    !sl_gdur_start(r->dur, r->g, ts->journal, sl_wgroup_last(w, r->topic) + 1,
			   sl_wgroup_now_ns(w), &rs))
		return;
	/* No member yet to tell: the gap is counted (the main lcore logged
	 * the load). */
	lost = rs.dropped + rs.refused + rs.jumped + (rs.state_lost ? 1 : 0);
	if (lost)
		sl_ctr_add(&r->ctr[SL_GX_gap_lost], lost);
	__atomic_store_n(&r->cursor, rs.cursor, __ATOMIC_RELAXED);
	r->changes++;
}

void
sl_wgroup_dur_snap(struct sl_group_rec *r, uint64_t now, int force)
{
	if (r->dur != NULL && r->cursor != 0)
		sl_gdur_snap(r->dur, r->g, r->cursor, now, force);
}
