/* SPDX-License-Identifier: BSD-3-Clause */
/* The main lcore's slow path: handoffs to workers, the slow-path ring, the duty loop. */

#ifndef SLUICE_DP_LCORE_MAIN_H
#define SLUICE_DP_LCORE_MAIN_H

#include "dataplane.h"

/*
 * The main lcore calls up into the modules that run on it (control, pattern
 * subscriptions, shared-memory attach, journals) only through the handlers
 * and duties registered here, so that those modules may call this file
 * (sl_dp_send_to_worker) without a circle between files.
 */

/* A handler of one kind of slow-path element. It owns @h->m (frees it or
 * passes it on). */
typedef void (*sl_slow_fn)(struct sl_dp *dp, struct sl_handoff *h);

/* A duty of the main lcore's loop; returns the work it did (0: none). */
typedef unsigned (*sl_duty_fn)(struct sl_dp *dp);

/* Main lcore: hand @h to @worker's ring, spinning briefly while it is full.
 * Returns 0 or -EAGAIN (the worker is not draining). */
int sl_dp_send_to_worker(struct sl_dp *dp, uint32_t worker, struct sl_handoff *h);

/* Handle slow-path elements of @kind with @fn (replaces an earlier one).
 * Before the workers start. */
void sl_dp_slow_path_on(struct sl_dp *dp, enum sl_handoff_kind kind, sl_slow_fn fn);

/* Main lcore duty: drain the slow-path ring into the registered handlers
 * (an element of a kind without one is dropped and counted). Returns the
 * work done. */
unsigned sl_dp_slow_path_poll(struct sl_dp *dp);

/*
 * Main lcore: run @duties (@n of them, in order) until dp->quit. The main
 * lcore never spins: it sleeps a millisecond after recent work, ten after
 * a while without any, so what shares its core keeps running.
 */
void sl_dp_main_loop(struct sl_dp *dp, const sl_duty_fn *duties, unsigned n);

#endif /* SLUICE_DP_LCORE_MAIN_H */
