/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only loss injection on the NIC ports (built only with
 * -Dfault_injection=true): ethdev rx and tx callbacks that lose frames with
 * the probabilities the environment gives, as a lossy link would.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <common/log.h>

#include "port_fault.h"

/* IEEE 802 local experimental EtherType: no host on the link takes it. */
#define FAULT_ETHER_TYPE 0x88B5

/* One per queue and direction; only the queue's worker writes it. */
struct fault_q {
	uint64_t rng;
	uint64_t thresh; /* drop when the next 64-bit draw is below it */
	uint64_t dropped;
} __rte_cache_aligned;

static struct fault_q *fault_rx[RTE_MAX_ETHPORTS], *fault_tx[RTE_MAX_ETHPORTS];
static uint16_t fault_nrx[RTE_MAX_ETHPORTS], fault_ntx[RTE_MAX_ETHPORTS];

static uint64_t
fault_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline int
fault_hit(struct fault_q *q)
{
	return q->thresh && fault_next(&q->rng) < q->thresh;
}

/* rx: a lost frame never reached the NIC; freed, the burst closed up. */
static uint16_t
fault_rx_cb(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n, uint16_t max,
	    void *arg)
{
	struct fault_q *q = arg;
	uint16_t i, k = 0;

	(void)port;
	(void)queue;
	(void)max;
	for (i = 0; i < n; i++) {
		if (fault_hit(q)) {
			rte_pktmbuf_free(pkts[i]);
			q->dropped++;
			continue;
		}
		pkts[k++] = pkts[i];
	}
	return k;
}

/*
 * tx: the caller owns what the driver did not take, so a frame cannot be
 * taken out of the burst here; it is sent as one that no receiver accepts
 * (its EtherType made local-experimental), which is a loss on the wire.
 */
static uint16_t
fault_tx_cb(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n, void *arg)
{
	struct fault_q *q = arg;
	struct rte_ether_hdr *eh;
	uint16_t i;

	(void)port;
	(void)queue;
	for (i = 0; i < n; i++) {
		if (!fault_hit(q) || rte_pktmbuf_data_len(pkts[i]) < sizeof(*eh))
			continue;
		eh = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
		eh->ether_type = rte_cpu_to_be_16(FAULT_ETHER_TYPE);
		q->dropped++;
	}
	return n;
}

/* Probability from environment variable @name: 0 if unset; -1 if not 0..1. */
static int
fault_env_prob(const char *name, double *p)
{
	const char *v = getenv(name);
	char *end;

	*p = 0;
	if (v == NULL || *v == '\0')
		return 0;
	*p = strtod(v, &end);
	if (end == v || *end || !(*p >= 0 && *p <= 1)) {
		SL_LOG(ERR, "%s='%s': want a probability 0..1\n", name, v);
		return -1;
	}
	return 0;
}

static struct fault_q *
fault_queues(uint16_t n, double p, uint64_t seed)
{
	struct fault_q *q = rte_zmalloc("sl_fault", (size_t)n * sizeof(*q), RTE_CACHE_LINE_SIZE);
	uint16_t i;

	if (q == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		q[i].rng = seed + i;
		q[i].thresh = p >= 1 ? UINT64_MAX : (uint64_t)(p * 18446744073709551616.0);
	}
	return q;
}

int
sl_port_fault_attach(uint16_t port_id, uint16_t n_rxq, uint16_t n_txq)
{
	const char *s = getenv("SLUICE_FAULT_SEED");
	double prx, ptx;
	uint64_t seed = s ? strtoull(s, NULL, 0) : 1;
	uint16_t i;

	SL_LOG(WARNING, "port %u: FAULT INJECTION BUILD (-Dfault_injection=true): not for "
	       "production\n", port_id);
	if (fault_env_prob("SLUICE_FAULT_RX_LOSS", &prx) < 0 ||
	    fault_env_prob("SLUICE_FAULT_TX_LOSS", &ptx) < 0)
		return -EINVAL;
	if (prx == 0 && ptx == 0)
		return 0;
	SL_LOG(WARNING, "port %u: losing %.4f of received and %.4f of sent frames, seed %llu\n",
	       port_id, prx, ptx, (unsigned long long)seed);
	/* Distinct streams for rx and tx, fixed by the one seed. */
	fault_rx[port_id] = fault_queues(n_rxq, prx, seed * 2 + 1);
	fault_tx[port_id] = fault_queues(n_txq, ptx, seed * 2 + 1000003);
	if (fault_rx[port_id] == NULL || fault_tx[port_id] == NULL)
		return -ENOMEM;
	fault_nrx[port_id] = n_rxq;
	fault_ntx[port_id] = n_txq;
	for (i = 0; i < n_rxq; i++)
		if (prx > 0 && rte_eth_add_rx_callback(port_id, i, fault_rx_cb,
						       &fault_rx[port_id][i]) == NULL)
			return -rte_errno;
	for (i = 0; i < n_txq; i++)
		if (ptx > 0 && rte_eth_add_tx_callback(port_id, i, fault_tx_cb,
						       &fault_tx[port_id][i]) == NULL)
			return -rte_errno;
	return 0;
}

void
sl_port_fault_report(uint16_t port_id)
{
	uint64_t rx = 0, tx = 0;
	uint16_t i;

	for (i = 0; fault_rx[port_id] && i < fault_nrx[port_id]; i++)
		rx += fault_rx[port_id][i].dropped;
	for (i = 0; fault_tx[port_id] && i < fault_ntx[port_id]; i++)
		tx += fault_tx[port_id][i].dropped;
	SL_LOG(WARNING, "port %u: fault injection lost %llu received and %llu sent frames\n",
	       port_id, (unsigned long long)rx, (unsigned long long)tx);
}
