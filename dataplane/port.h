/* SPDX-License-Identifier: BSD-3-Clause */
/* NIC port bring-up: queues, RSS, start, and teardown. */

#ifndef SLUICE_DP_PORT_H
#define SLUICE_DP_PORT_H

#include <stdint.h>

struct sl_dp;

/*
 * Configure and start configured port @idx: its rx queues from the config,
 * one tx queue per worker, RSS when asked. Needs dp->pkt_pool and
 * dp->n_workers. Fills dp->ports[idx]. Returns 0 or -errno (logged).
 */
int sl_port_init(struct sl_dp *dp, uint16_t idx);

/* Stop and close the port. */
void sl_port_fini(struct sl_dp *dp, uint16_t idx);

#endif /* SLUICE_DP_PORT_H */
