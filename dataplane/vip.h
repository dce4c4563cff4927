/* SPDX-License-Identifier: BSD-3-Clause */
/* The pair's service address: answered (ARP) only while this node serves, announced by gratuitous ARP when it starts to. */

#ifndef SLUICE_DP_VIP_H
#define SLUICE_DP_VIP_H

#include <stdint.h>

struct sl_dp;
struct sl_pkt_info;
struct sl_worker;

#define SL_VIP_ANNOUNCES 3 /* gratuitous ARPs per take-over: at once, +20 ms, +100 ms */

/*
 * The service address (ha.service_ip, docs/HA.md) of one dataplane. A node
 * serves it in role SL_HA_ROLE_SINGLE (no pair: it is the only node) and
 * SL_HA_ROLE_PRIMARY, and in no other. UDP to it is taken in every role,
 * so that a client whose ARP entry still names this node hears the role's
 * answer (NOT_PRIMARY) rather than silence; only ARP follows the role.
 */
struct sl_vip {
	uint32_t ip;	 /* network order; 0: none, nothing below is used */
	uint16_t pidx;	 /* the port it lives on (port0) */
	uint16_t worker; /* the worker that announces it: the first polling pidx */
	/* Written by the main lcore (sl_vip_set_role) only. */
	uint32_t role;	  /* the SL_HA_ROLE_* applied last; UINT32_MAX: none yet */
	uint32_t serving; /* ARP is answered for it: relaxed store, relaxed loads
			   * by the workers (a reply a moment late or early is what
			   * ARP tolerates anyway) */
	uint32_t gen;	  /* +1 each time serving starts: release store, paired with
			   * the announcing worker's acquire load */
	uint32_t pad;
	/* The announcing worker's own (one writer). */
	uint32_t gen_done; /* the gen whose announcements are scheduled */
	uint32_t left;	   /* of SL_VIP_ANNOUNCES still to send */
	uint64_t t0;	   /* TSC of the first of them */
	uint64_t sent;	   /* gratuitous ARPs sent, all told */
};

/*
 * Main lcore, at start, after the ports and workers: take ha.service_ip
 * from the configuration. Serving starts at the first sl_vip_set_role
 * with a serving role (sl_vip_poll does that from the CnC region).
 */
void sl_vip_init(struct sl_dp *dp);

/*
 * Main lcore: the dataplane applied HA role @role (SL_HA_ROLE_*). Entering
 * SINGLE or PRIMARY from any other role starts answering ARP for the
 * address and has the announcing worker send SL_VIP_ANNOUNCES gratuitous
 * ARPs; any other role stops answering. Idempotent. No-op without a
 * service address.
 */
void sl_vip_set_role(struct sl_dp *dp, uint32_t role);

/*
 * Main lcore duty: follow the role the dataplane applied (struct
 * sl_cnc_ha dp_role in the CnC region; SINGLE without a region).
 * Returns 1 when the role changed, else 0.
 */
unsigned sl_vip_poll(struct sl_dp *dp);

/*
 * Worker: classify the frame @p of @len bytes that arrived on port index
 * @pidx, for the port's own address and, on the service address's port,
 * that address too (sl_pkt_parse_local). Thread-safe.
 */
int sl_vip_parse(const struct sl_dp *dp, uint16_t pidx, const uint8_t *p, uint32_t len,
		 struct sl_pkt_info *out);

/*
 * Worker @w, each iteration: the announcing worker sends the gratuitous
 * ARPs that are due, through its own tx queue of the port (an mbuf from
 * the packet pool; no system call). Returns the frames queued.
 */
unsigned sl_vip_announce_poll(struct sl_worker *w);

#endif /* SLUICE_DP_VIP_H */
