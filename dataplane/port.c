/* SPDX-License-Identifier: BSD-3-Clause */
/* NIC port bring-up: queues, RSS, start, and teardown. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include <common/log.h>

#include "dataplane.h"
#include "port.h"
#include "port_fault.h"


/* The ethdev name of a configured port: the vdev name before its first comma,
 * or the PCI address. */
static void
port_dev_name(const struct sl_conf_port *cp, char *name, size_t len)
{
	const char *src = cp->vdev[0] ? cp->vdev : cp->pci;
	size_t n = strcspn(src, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, src, n);
	name[n] = '\0';
}

static int
port_configure(struct sl_dp *dp, const struct sl_conf_port *cp, uint16_t port_id,
	       uint8_t *multiseg)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	uint16_t rxd = cp->rx_desc, txd = cp->tx_desc, q;
	int rc, socket = rte_eth_dev_socket_id(port_id);

	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc < 0)
		return rc;
	if (cp->rx_queues > info.max_rx_queues || dp->n_workers > info.max_tx_queues) {
		SL_LOG(ERR, "port %u supports %u rx / %u tx queues; the config asks "
			"for %u rx and %u tx (one per worker)\n", port_id, info.max_rx_queues,
			info.max_tx_queues, cp->rx_queues, dp->n_workers);
		return -EINVAL;
	}
	if (cp->rx_queues > 1 && cp->rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	*multiseg = !!(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
	if (*multiseg)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(port_id, cp->rx_queues, dp->n_workers, &conf);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd);
	if (rc < 0)
		return rc;
	for (q = 0; q < cp->rx_queues; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, rxd, socket, NULL, dp->pkt_pool);
		if (rc < 0)
			return rc;
	}
	for (q = 0; q < dp->n_workers; q++) {
		rc = rte_eth_tx_queue_setup(port_id, q, txd, socket, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
sl_port_init(struct sl_dp *dp, uint16_t idx)
{
	const struct sl_conf_port *cp = &dp->conf.ports[idx];
	struct sl_port_rt *p = &dp->ports[idx];
	struct rte_ether_addr mac;
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t port_id;
	int rc;

	port_dev_name(cp, name, sizeof(name));
	rc = rte_eth_dev_get_port_by_name(name, &port_id);
	if (rc < 0) {
		SL_LOG(ERR, "port%u: no ethdev named '%s' (check vdev/pci in the "
			"config and that the interface exists)\n", idx, name);
		return -ENODEV;
	}
	rc = port_configure(dp, cp, port_id, &p->multiseg);
	if (rc == 0)
		rc = sl_port_fault_attach(port_id, cp->rx_queues, dp->n_workers);
	if (rc < 0)
		goto fail;
	rc = rte_eth_dev_start(port_id);
	if (rc < 0)
		goto fail;
	if (cp->promisc)
		rte_eth_promiscuous_enable(port_id);
	rc = rte_eth_macaddr_get(port_id, &mac);
	if (rc < 0)
		goto fail_stop;
	p->port_id = port_id;
	p->ip = cp->ip;
	p->udp_port = rte_cpu_to_be_16(cp->udp_port);
	p->n_txq = dp->n_workers;
	memcpy(p->mac, mac.addr_bytes, 6);
	return 0;

fail_stop:
	rte_eth_dev_stop(port_id);
fail:
	SL_LOG(ERR, "port%u (%s): setup failed: %s\n", idx, name, strerror(-rc));
	return rc;
}

void
sl_port_fini(struct sl_dp *dp, uint16_t idx)
{
	uint16_t port_id = dp->ports[idx].port_id;

	sl_port_fault_report(port_id);
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}
