/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one clock reader. Monotonic time for intervals, deadlines and
 * timeouts; wall-clock time for what is written down and read by people or
 * by another process (journal timestamps, CnC heartbeats, log lines). The
 * dataplane's hot path reads the TSC instead (rte_rdtsc) and converts with
 * its own calibration; this is for everything else.
 */

#ifndef SLUICE_COMMON_CLOCK_H
#define SLUICE_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define SL_NS_PER_S 1000000000ull

static inline uint64_t
sl_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * SL_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds on CLOCK_MONOTONIC: for intervals and deadlines. */
static inline uint64_t
sl_mono_ns(void)
{
	return sl_clock_ns(CLOCK_MONOTONIC);
}

/* Nanoseconds since the epoch (CLOCK_REALTIME): for timestamps. */
static inline uint64_t
sl_wall_ns(void)
{
	return sl_clock_ns(CLOCK_REALTIME);
}

#endif
