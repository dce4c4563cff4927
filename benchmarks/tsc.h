/* SPDX-License-Identifier: BSD-3-Clause */
/* The time stamp counter in ns, for the load generator and the floor tools. */

#ifndef SLUICE_BENCH_TSC_H
#define SLUICE_BENCH_TSC_H

#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

static inline uint64_t
sl_tsc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * ns per TSC tick, against CLOCK_MONOTONIC over @calib_ns (invariant TSC
 * assumed). Each clock read sits between two TSC reads and is matched to
 * their midpoint, so the error is a few tens of ns over 50 ms. 1.0 where
 * there is no TSC (the callers then count in ns).
 */
static inline double
sl_tsc_ns_per_tick(long calib_ns)
{
#if defined(__x86_64__) || defined(__i386__)
	struct timespec d = { calib_ns / 1000000000L, calib_ns % 1000000000L };
	uint64_t a0, b0, n0, a1, b1, n1, ticks;

	a0 = __rdtsc();
	n0 = sl_tsc_mono_ns();
	b0 = __rdtsc();
	nanosleep(&d, NULL);
	a1 = __rdtsc();
	n1 = sl_tsc_mono_ns();
	b1 = __rdtsc();
	ticks = (a1 + (b1 - a1) / 2) - (a0 + (b0 - a0) / 2);
	return ticks > 0 && n1 > n0 ? (double)(n1 - n0) / (double)ticks : 1.0;
#else
	(void)calib_ns;
	return 1.0;
#endif
}

#endif /* SLUICE_BENCH_TSC_H */
