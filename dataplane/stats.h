/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's counters area (common/ctrs.h): which slots it holds and their refresh. */

#ifndef SLUICE_DP_STATS_H
#define SLUICE_DP_STATS_H

#include <stdint.h>

struct sl_dp;

/* Slots the area needs for @dp's workers, ports and topic table. */
uint32_t sl_dp_stats_slots(const struct sl_dp *dp);

/* Define the area's types (from the lists in counters.h) and take the
 * fixed slots. Main lcore, after the CnC region is created. Returns 0,
 * -EINVAL or -ENOMEM. */
int sl_dp_stats_init(struct sl_dp *dp);

/* Refresh every slot and stamp the sample @now (CLOCK_REALTIME ns): topics
 * get a slot on first sight, deleted ones give it back after a while.
 * Main lcore only; no system call but the ports' stats. */
void sl_dp_stats_sample(struct sl_dp *dp, uint64_t now);

void sl_dp_stats_fini(struct sl_dp *dp);

#endif /* SLUICE_DP_STATS_H */
