/* SPDX-License-Identifier: BSD-3-Clause */
/* A dataplane of one worker, built in a unit test: EAL without huge pages, pools, topics, a ring port. */

#ifndef SLUICE_TESTS_DP_HARNESS_H
#define SLUICE_TESTS_DP_HARNESS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <arpa/inet.h>

#include <common/proto.h>

#include "authz.h"
#include "dataplane.h"
#include "pkt.h"
#include "port.h"
#include "route.h"
#include "shm_internal.h"

#define HARNESS_IP 0x0100000au /* 10.0.0.1, network order */
#define HARNESS_UDP_PORT 7000

/*
 * EAL on one lcore, no PCI, no huge pages (so it runs wherever the test
 * runs), a file prefix of its own. Returns 0, or 77 (skip) with a message
 * when EAL cannot start here.
 */
static int
harness_eal(const char *name)
{
	char prefix[64];
	char *argv[] = { (char *)name, (char *)"--no-pci", (char *)"--no-huge", (char *)"-m",
			 (char *)"256", (char *)"-l", (char *)"0", prefix,
			 (char *)"--log-level=lib.*:error", NULL };

	snprintf(prefix, sizeof(prefix), "--file-prefix=%s_%d", name, (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		printf("%s: skipped: EAL does not start here (%s)\n", name,
		       rte_strerror(rte_errno));
		return 77;
	}
	return 0;
}

/* Topics of the harness: durability none, back-pressure drop. */
static inline int
harness_topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	const struct sl_dp *dp = arg;

	(void)t;
	ts->durability = SL_DUR_NONE;
	ts->backpressure = SL_BP_DROP;
	ts->retx_window = dp->conf.retransmit_window;
	return 0;
}

static inline uint32_t
harness_topic(struct sl_dp *dp, const char *name)
{
	uint32_t id = 0;

	if (sl_route_topic_create_init(&dp->route, name, (uint32_t)strlen(name),
				       harness_topic_init, dp, &id) < 0)
		return 0;
	return id;
}

/*
 * @dp: one worker (index 0, polled by the caller through sl_worker_poll),
 * open authorization, the pools and the slow-path ring. With @rx and @tx, a
 * port made of those two rings (the net_ring PMD): what the test enqueues
 * to @rx the worker receives, what it sends lands in @tx. Returns 0 or
 * -errno.
 */
static int
harness_dp(struct sl_dp *dp, struct rte_ring *rx, struct rte_ring *tx)
{
	static struct sl_authz open_authz; /* required 0: every permission */
	int rc;

	memset(dp, 0, sizeof(*dp));
	sl_conf_defaults(&dp->conf);
	dp->conf.mbufs = 2047;
	dp->conf.mbuf_cache = 0;
	dp->conf.ring_size = 1024;
	dp->conf.max_topics = 64;
	dp->conf.max_sessions = 64;
	dp->conf.shm_max_clients = 4;
	/* No STATUS frames unless a test asks for them: they would arrive
	 * among the replies a test counts. */
	dp->conf.status_idle_us = 10000000;
	dp->conf.heartbeat_ms = 600000;
	dp->conf.n_workers = 1;
	dp->conf.workers[0].lcore = rte_lcore_id();
	dp->n_workers = 1;
	dp->tsc_hz = rte_get_tsc_hz();
	dp->pkt_pool = rte_pktmbuf_pool_create("t_pkt", dp->conf.mbufs, 0, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	dp->hdr_pool = rte_pktmbuf_pool_create("t_hdr", dp->conf.mbufs, 0, 0,
					       RTE_PKTMBUF_HEADROOM + 128, SOCKET_ID_ANY);
	dp->clone_pool = rte_pktmbuf_pool_create("t_clone", dp->conf.mbufs, 0, 0, 0,
						 SOCKET_ID_ANY);
	dp->slow = rte_ring_create_elem("t_slow", sizeof(struct sl_handoff), 1024, SOCKET_ID_ANY,
					RING_F_SC_DEQ);
	if (!dp->pkt_pool || !dp->hdr_pool || !dp->clone_pool || !dp->slow)
		return -ENOMEM;
	rc = sl_route_init(&dp->route, dp->conf.max_topics, dp->conf.max_subscribers, 1);
	if (rc < 0)
		return rc;
	dp->authz = &open_authz;
	rc = sl_worker_init(dp, 0);
	if (rc < 0)
		return rc;
	if (rx == NULL)
		return 0;
	rc = rte_eth_from_rings("t_port", &rx, 1, &tx, 1, SOCKET_ID_ANY);
	if (rc < 0)
		return -rte_errno;
	dp->n_ports = dp->conf.n_ports = 1;
	/* The ethdev's own name, as sl_port_init looks it up. */
	if (rte_eth_dev_get_name_by_port((uint16_t)rc, dp->conf.ports[0].vdev) != 0)
		return -ENODEV;
	dp->conf.ports[0].ip = HARNESS_IP;
	dp->conf.ports[0].udp_port = HARNESS_UDP_PORT;
	dp->conf.ports[0].rx_queues = 1;
	dp->conf.ports[0].rx_desc = 512;
	dp->conf.ports[0].tx_desc = 512;
	return sl_port_init(dp, 0);
}

/* The client of the harness's port: where its datagrams come from. */
#define HARNESS_CLIENT_IP 0x0200000au /* 10.0.0.2, network order */
#define HARNESS_CLIENT_PORT 5555
static const uint8_t harness_client_mac[6] = { 0x02, 0, 0, 0, 0, 0x22 };

/* Enqueue on @rx a datagram from the client holding @len bytes of frames.
 * Returns 0 or -ENOBUFS. */
static inline int
harness_send(struct sl_dp *dp, struct rte_ring *rx, const void *frames, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pkt_pool);
	uint8_t *d;

	if (m == NULL)
		return -ENOBUFS;
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(SL_PKT_HDR_LEN + len));
	sl_pkt_build_udp(d, harness_client_mac, dp->ports[0].mac, HARNESS_CLIENT_IP, HARNESS_IP,
			 htons(HARNESS_CLIENT_PORT), htons(HARNESS_UDP_PORT), (uint16_t)len);
	memcpy(d + SL_PKT_HDR_LEN, frames, len);
	if (rte_ring_enqueue(rx, m) != 0) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	return 0;
}

/*
 * Poll the worker @polls times, then hand each frame of each datagram it
 * sent (dequeued from @tx) to @fn with the datagram's index. Returns the
 * datagrams, or -1 for one not addressed to the client from the port.
 */
static inline int
harness_recv(struct sl_dp *dp, struct rte_ring *tx, unsigned polls,
	     void (*fn)(void *arg, const struct sl_frame *f, unsigned dgram), void *arg)
{
	int n = 0, bad = 0;
	void *m = NULL;

	while (polls--)
		sl_worker_poll(dp->workers[0]);
	while (rte_ring_dequeue(tx, &m) == 0) {
		struct rte_mbuf *mb = m;
		uint8_t buf[2048];
		const uint8_t *p = rte_pktmbuf_read(mb, 0, mb->pkt_len, buf);
		struct sl_pkt_info pi;
		struct sl_frame f;
		size_t off = 0;

		if (sl_pkt_parse(p, mb->pkt_len, HARNESS_CLIENT_IP, htons(HARNESS_CLIENT_PORT), &pi) !=
			    SL_PKT_UDP ||
		    pi.src_ip != HARNESS_IP || pi.src_port != htons(HARNESS_UDP_PORT) ||
		    memcmp(pi.dst_mac, harness_client_mac, 6) != 0 ||
		    pi.payload_len > SL_MAX_DATAGRAM)
			bad = 1;
		else
			while (sl_proto_next(p + pi.payload_off, pi.payload_len, &off, &f) == 1)
				fn(arg, &f, (unsigned)n);
		n++;
		rte_pktmbuf_free(mb);
	}
	return bad ? -1 : n;
}

/*
 * A shared-memory client in slot @slot, generation @gen, over a region at
 * @base built in memory (no socket, no attach): a 4096-byte header page,
 * then its tx ring and one rx ring of @ring bytes each (2^@shift), the
 * region zeroed, frames up to a datagram. The caller hands it to a worker
 * with an SL_HO_SHM_ATTACH handoff.
 */
static inline void
harness_shm_client(struct sl_shm_client *c, uint8_t *base, uint32_t slot, uint16_t gen,
		   uint32_t ring, uint32_t shift)
{
	memset(base, 0, 4096 + 2 * (size_t)ring);
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = gen;
	c->base = base;
	c->size = 4096 + 2 * (uint64_t)ring;
	c->tx_off = 4096;
	c->rx_off[0] = 4096 + ring;
	c->tx_size = c->rx_size = ring;
	c->tx_shift = c->rx_shift = shift;
	c->max_frame = c->max_deliver = SL_MAX_DATAGRAM;
	c->sock = -1;
}

#endif /* SLUICE_TESTS_DP_HARNESS_H */
