/* SPDX-License-Identifier: BSD-3-Clause */
/* Pinning the calling thread to one cpu, for the floor tools. */

#ifndef SLUICE_BENCH_PIN_H
#define SLUICE_BENCH_PIN_H

#include <pthread.h>
#include <sched.h>

/* Pin the calling thread to @cpu: 0, or -errno (-EINVAL: no such cpu). */
static inline int
sl_bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

#endif /* SLUICE_BENCH_PIN_H */
