/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared-memory clients, main-lcore half: the attach socket, regions, reclaim, SIGBUS, telemetry. */

#ifndef SLUICE_DP_SHM_MAIN_H
#define SLUICE_DP_SHM_MAIN_H

#include <stdint.h>

struct sl_dp;
struct sl_handoff;
struct rte_tel_data;

/* Main lcore: the listening socket and the slot table (conf.shm). Returns 0
 * or -errno. */
int sl_shm_init(struct sl_dp *dp);
/* Main lcore duty: accept, attach, notice hang-ups, reclaim. Returns work done. */
unsigned sl_shm_poll(struct sl_dp *dp);
/* Main lcore: a worker let go of @slot, generation @gen (SL_HO_SHM_DETACHED). */
void sl_shm_detached(struct sl_dp *dp, uint32_t slot, uint32_t gen);
/* The slow-path handler of SL_HO_SHM_DETACHED (h->topic: slot, h->session: gen). */
void sl_shm_slow_detached(struct sl_dp *dp, struct sl_handoff *h);
/* Main lcore, at exit: tell clients, unmap, close. */
void sl_shm_fini(struct sl_dp *dp);

/* Telemetry thread: one entry per attached client into dict @d ("c<slot>"). */
int sl_shm_telemetry(const struct sl_dp *dp, struct rte_tel_data *d);

#endif /* SLUICE_DP_SHM_MAIN_H */
