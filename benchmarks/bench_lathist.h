/* SPDX-License-Identifier: BSD-3-Clause */
/* The latency histograms' per-message work as a worker does it, for bench_hotpath.cc. */

#ifndef SLUICE_BENCH_LATHIST_H
#define SLUICE_BENCH_LATHIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One worker with histograms for @n_topics topics (@on), or none (the
 * hooks' test alone). Returns 0 or -errno. */
int sl_bench_lh_setup(unsigned n_topics, int on);
void sl_bench_lh_teardown(void);

/* One loop iteration: the poll's flush of the last iteration's deliveries,
 * then @n deliveries over @topics topics (round robin). */
void sl_bench_lh_deliver_iter(unsigned n, unsigned topics);

/* One iteration of a durable topic: @n appends, then the sync's record. */
void sl_bench_lh_persist_iter(unsigned n);

/* Record the @n values @ns (a block of topic 1): the bare record. */
void sl_bench_lh_record(const uint64_t *ns, unsigned n);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_BENCH_LATHIST_H */
