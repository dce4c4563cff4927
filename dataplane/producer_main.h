/* SPDX-License-Identifier: BSD-3-Clause */
/* Main lcore side of idempotent producers: PRODUCER requests and the registry's seeding. */

#ifndef SLUICE_DP_PRODUCER_MAIN_H
#define SLUICE_DP_PRODUCER_MAIN_H

#include "dataplane.h"

struct sl_journal;

/* Main lcore: allocate (init, before the workers start) and free the
 * registry of producer epochs (conf.max_producers entries). init returns 0,
 * -EINVAL or -ENOMEM. */
int sl_producer_main_init(struct sl_dp *d);
void sl_producer_main_fini(struct sl_dp *d);

/* Slow-path handler of SL_HO_PRODUCER: the producer id of (the session's
 * user, the frame's name), its epoch from the registry (PROTOCOL.md 15),
 * answered to the worker as SL_HO_PRODUCER_DONE. Owns @h->m. */
void sl_producer_slow(struct sl_dp *d, struct sl_handoff *h);

/* A topic's journal was opened: the registry learns the epochs its last
 * records carry, so that a producer fenced before a restart stays fenced.
 * Main lcore, before the topic is visible to workers. */
void sl_producer_seed_journal(struct sl_dp *d, struct sl_journal *j);

#endif /* SLUICE_DP_PRODUCER_MAIN_H */
