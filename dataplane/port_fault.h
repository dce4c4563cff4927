/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only loss injection on the NIC ports: in a build configured with
 * -Dfault_injection=true, rx and tx callbacks drop frames with the
 * probabilities in SLUICE_FAULT_RX_LOSS and SLUICE_FAULT_TX_LOSS (0..1),
 * seeded by SLUICE_FAULT_SEED. In any other build these are empty inline
 * functions and no code that reads those variables exists.
 */

#ifndef SLUICE_DP_PORT_FAULT_H
#define SLUICE_DP_PORT_FAULT_H

#include <stdint.h>

#ifdef SL_FAULT_INJECTION
/*
 * Read the environment and attach the callbacks to every rx queue
 * (@n_rxq) and tx queue (@n_txq) of @port_id; logs a warning that this is
 * a fault-injection build. Main lcore, before the workers start. Returns 0
 * or -errno (logged).
 */
int sl_port_fault_attach(uint16_t port_id, uint16_t n_rxq, uint16_t n_txq);
/* Log what the callbacks dropped on @port_id. */
void sl_port_fault_report(uint16_t port_id);
#else
static inline int
sl_port_fault_attach(uint16_t port_id, uint16_t n_rxq, uint16_t n_txq)
{
	(void)port_id;
	(void)n_rxq;
	(void)n_txq;
	return 0;
}

static inline void
sl_port_fault_report(uint16_t port_id)
{
	(void)port_id;
}
#endif

#endif /* SLUICE_DP_PORT_FAULT_H */
