/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only loss injection in libsluice's UDP transport: in a build
 * configured with -Dfault_injection=true, datagrams are lost on send and on
 * receive with the probabilities in SLUICE_FAULT_CLIENT_TX_LOSS and
 * SLUICE_FAULT_CLIENT_RX_LOSS (0..1), seeded by SLUICE_FAULT_SEED. In any
 * other build these are inline functions that return false, and no code
 * that reads those variables exists.
 */

#ifndef SLUICE_CLIENT_FAULT_H
#define SLUICE_CLIENT_FAULT_H

#include <stdbool.h>

#ifdef SL_FAULT_INJECTION
/* Should the datagram about to be sent be lost? Thread-safe. */
bool sl_cl_fault_tx_lose(void);
/* Should the datagram just received be lost? Thread-safe. */
bool sl_cl_fault_rx_lose(void);
#else
static inline bool
sl_cl_fault_tx_lose(void)
{
	return false;
}

static inline bool
sl_cl_fault_rx_lose(void)
{
	return false;
}
#endif

#endif /* SLUICE_CLIENT_FAULT_H */
