/* SPDX-License-Identifier: BSD-3-Clause */
/* The pair's service address: which role answers ARP for it, and the gratuitous ARPs a node sends when it takes it over. */

#include <arpa/inet.h>
#include <stdio.h>

#include <rte_mbuf.h>

#include <common/cnc.h>
#include <common/log.h>

#include "dataplane.h"
#include "pkt.h"
#include "vip.h"
#include "worker_internal.h"

/* When each announcement goes, in ms after the first: hosts that missed
 * one (a busy bridge, a frame lost) take the next. */
static const uint32_t announce_ms[SL_VIP_ANNOUNCES] = { 0, 20, 100 };

void
sl_vip_init(struct sl_dp *dp)
{
	struct sl_vip *v = &dp->vip;
	char ip[INET_ADDRSTRLEN];
	uint16_t i;

	v->ip = dp->conf.ha.service_ip;
	v->pidx = 0;
	v->worker = 0;
	/* A pair member starts UNKNOWN, not serving: the address is the live
	 * primary's until sluice-control makes this node primary. */
	v->role = dp->conf.ha.peer != 0 ? SL_HA_ROLE_UNKNOWN : UINT32_MAX;
	v->serving = 0;
	for (i = 0; i < dp->n_workers; i++)
		if (dp->workers[i] != NULL && dp->workers[i]->port_idx == v->pidx) {
			v->worker = i;
			break;
		}
	if (v->ip == 0)
		return;
	inet_ntop(AF_INET, &v->ip, ip, sizeof(ip));
	printf("sluice-dataplane: service address %s on port0, answered while this node is "
	       "single or primary (announced by worker%u)\n", ip, v->worker);
}

static const char *const role_names[] = { "single", "unknown", "primary", "standby",
					  "candidate", "fenced" };

static int
serves(uint32_t role)
{
	return role == SL_HA_ROLE_SINGLE || role == SL_HA_ROLE_PRIMARY;
}

void
sl_vip_set_role(struct sl_dp *dp, uint32_t role)
{
	struct sl_vip *v = &dp->vip;
	int was = v->role != UINT32_MAX && serves(v->role);

	if (v->ip == 0 || role == v->role)
		return;
	v->role = role;
	if (serves(role) == was)
		return;
	SL_LOG(NOTICE, "service address: %s ARP for it (role %s)%s\n",
	       serves(role) ? "answering" : "no longer answering",
	       role < RTE_DIM(role_names) ? role_names[role] : "?",
	       serves(role) ? ", gratuitous ARP follows" : "");
	__atomic_store_n(&v->serving, (uint32_t)serves(role), __ATOMIC_RELAXED);
	/* Release: pairs with the acquire load in sl_vip_announce_poll. */
	if (serves(role))
		__atomic_store_n(&v->gen, v->gen + 1, __ATOMIC_RELEASE);
}

unsigned
sl_vip_poll(struct sl_dp *dp)
{
	struct sl_cnc_ha *ha;
	uint32_t role = SL_HA_ROLE_SINGLE;

	if (dp->vip.ip == 0)
		return 0;
	ha = dp->cnc != NULL ? sl_cnc_ha(dp->cnc) : NULL;
	/* Relaxed: the dataplane itself writes dp_role, on this lcore. */
	if (ha != NULL)
		role = __atomic_load_n(&ha->dp_role, __ATOMIC_RELAXED);
	/* A pair member is never single: dp_role reads SINGLE (0) until the
	 * dataplane first writes its half, and announcing then would take the
	 * address from the live primary. */
	if (dp->conf.ha.peer != 0 && role == SL_HA_ROLE_SINGLE)
		role = SL_HA_ROLE_UNKNOWN;
	if (role == dp->vip.role)
		return 0;
	sl_vip_set_role(dp, role);
	return 1;
}

int
sl_vip_parse(const struct sl_dp *dp, uint16_t pidx, const uint8_t *p, uint32_t len,
	     struct sl_pkt_info *out)
{
	const struct sl_port_rt *pt = &dp->ports[pidx];
	struct sl_pkt_local l = { .ip = pt->ip, .port = pt->udp_port };

	if (dp->vip.ip != 0 && pidx == dp->vip.pidx) {
		l.svc_ip = dp->vip.ip;
		l.svc_arp = (uint8_t)__atomic_load_n(&dp->vip.serving, __ATOMIC_RELAXED);
	}
	return sl_pkt_parse_local(p, len, &l, out);
}

unsigned
sl_vip_announce_poll(struct sl_worker *w)
{
	struct sl_dp *dp = w->dp;
	struct sl_vip *v = &dp->vip;
	uint32_t gen, i;
	struct rte_mbuf *m;
	uint8_t *d;

	if (v->ip == 0 || w->idx != v->worker)
		return 0;
	gen = __atomic_load_n(&v->gen, __ATOMIC_ACQUIRE);
	if (gen != v->gen_done) { /* a take-over: the schedule starts again */
		v->gen_done = gen;
		v->left = SL_VIP_ANNOUNCES;
		v->t0 = w->now;
	}
	if (v->left == 0 || !__atomic_load_n(&v->serving, __ATOMIC_RELAXED))
		return 0;
	i = SL_VIP_ANNOUNCES - v->left;
	if (w->now - v->t0 < dp->tsc_hz / 1000 * announce_ms[i])
		return 0;
	v->left--;
	m = rte_pktmbuf_alloc(dp->pkt_pool);
	if (m == NULL) {
		drop(w, SL_DROP_no_mbuf);
		return 0;
	}
	d = (uint8_t *)rte_pktmbuf_append(m, SL_PKT_GARP_LEN);
	if (d == NULL) {
		rte_pktmbuf_free(m);
		drop(w, SL_DROP_no_mbuf);
		return 0;
	}
	sl_pkt_build_garp(d, dp->ports[v->pidx].mac, v->ip);
	m->port = dp->ports[v->pidx].port_id;
	sl_worker_tx_enqueue(w, v->pidx, m);
	/* Relaxed: one writer; the main lcore's log and tests read it. */
	__atomic_store_n(&v->sent, v->sent + 1, __ATOMIC_RELAXED);
	return 1;
}
