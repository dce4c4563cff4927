/* SPDX-License-Identifier: BSD-3-Clause */
/* What the latency histograms add to a worker's iteration, driven by bench_hotpath.cc. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include <common/ctrs.h>
#include <common/lathist.h>

#include "bench_lathist.h"
#include "dataplane.h"
#include "lathist.h"

/*
 * A dataplane of one worker, no EAL: the counters area with its histogram
 * section in memory of our own, dp->lh set up as the dataplane does it
 * (sl_dp_lh_init_area), or left NULL ("off": the hooks' test alone, what a
 * dataplane with hist_topics = 0 runs). The worker's hooks are called as
 * its loop calls them.
 */
static struct sl_dp dp;
static struct sl_worker w;
static struct sl_ctrs_hdr *area;

int
sl_bench_lh_setup(unsigned n_topics, int on)
{
	size_t size = sl_ctrs_area_size_h(8, n_topics, 1);
	unsigned i;

	sl_bench_lh_teardown();
	memset(&dp, 0, sizeof(dp));
	memset(&w, 0, sizeof(w));
	dp.route.cap = n_topics + 1;
	dp.n_workers = 1;
	dp.tsc_hz = 2000000000u; /* only scales the values; the cost does not depend on it */
	w.dp = &dp;
	if (!on)
		return 0;
	area = calloc(1, size);
	if (area == NULL || sl_ctrs_format_h(area, size, 8, n_topics, 1) < 0 ||
	    sl_dp_lh_init_area(&dp, area) < 0)
		return -ENOMEM;
	for (i = 1; i <= n_topics; i++)
		if (sl_dp_lh_topic(&dp, i, "bench") < 0)
			return -ENOSPC;
	return 0;
}

void
sl_bench_lh_teardown(void)
{
	sl_dp_lh_fini(&dp);
	free(area);
	area = NULL;
}

void
sl_bench_lh_deliver_iter(unsigned n, unsigned topics)
{
	unsigned i;

	w.now = rte_rdtsc();
	sl_lh_poll(&w); /* the previous iteration's deliveries */
	for (i = 0; i < n; i++)
		sl_lh_delivered(&w, 1 + i % topics, SL_TRANSPORT_SHM);
}

void
sl_bench_lh_persist_iter(unsigned n)
{
	unsigned i;

	w.now = rte_rdtsc();
	for (i = 0; i < n; i++)
		sl_lh_appended(&w, 1);
	sl_lh_persisted(&w, 1, 0);
}

void
sl_bench_lh_record(const uint64_t *ns, unsigned n)
{
	struct sl_lh_block *b = sl_lh_wblock(dp.lh, 0, 1, SL_LH_M_lag);
	unsigned i;

	for (i = 0; i < n; i++)
		sl_lh_record_n(b, ns[i], 1);
}
