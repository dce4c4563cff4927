/* SPDX-License-Identifier: BSD-3-Clause */
/* A pair member's role, leader epoch and acknowledgement fence: the dataplane side of struct sl_cnc_ha. */

#ifndef SLUICE_DP_HA_H
#define SLUICE_DP_HA_H

#include <stdint.h>

#include <rte_common.h>

#include <common/cnc.h>

/*
 * A dataplane configured as a member of a replicated pair (ha.peer) has a
 * struct sl_ha (dp->ha); a single node has none (dp->ha NULL) and acts on
 * its own authority, exactly as without this module.
 *
 * sluice-control decides the role and the leader epoch (etcd) and writes
 * them into the control half of the CnC HA block (common/cnc.h). The main
 * lcore applies them (sl_ha_poll, the ctl_gen protocol) and publishes the
 * applied state to the workers in this struct; the workers read it once per
 * loop iteration (sl_ha_view_take) and ask the fence (sl_ha_may_ack)
 * before any acknowledgement.
 *
 * The fence (docs/HA.md): a PRIMARY acknowledges only while
 *	ack_from <= now < max(standby heard at our epoch, etcd confirmed) + L,
 * L = ha.lease_ms. A standby promotes only after L has passed since it last
 * heard the old primary (control sets ack_from so), so a primary cut off
 * from both its standby and etcd stops acknowledging before a new one
 * starts: never two acknowledging primaries.
 *
 * Times are CLOCK_MONOTONIC ns, as control writes them; a worker gets
 * the time from its TSC through the main lcore's clock samples (no
 * system call).
 */

/* The applied state, one 64-bit word so that a worker reads it whole:
 * bits 0..7 role (SL_HA_ROLE_*), bit 8 solo (sync publishes do not wait
 * for the standby), bits 32..63 the leader epoch. */
#define SL_HA_ST_ROLE(s) ((uint32_t)((s) & 0xffu))
#define SL_HA_ST_SOLO(s) ((uint32_t)(((s) >> 8) & 1u))
#define SL_HA_ST_EPOCH(s) ((uint32_t)((s) >> 32))
#define SL_HA_ST(role, solo, epoch)                                                         \
	((uint64_t)(role) | ((uint64_t)((solo) ? 1u : 0u) << 8) | ((uint64_t)(epoch) << 32))

struct sl_ha_conf {
	uint32_t lease_ms;	/* L (ha.lease_ms) */
	uint32_t detect_ms;	/* ha.detect_ms: peer silence that counts as dead */
	uint32_t sync_replicas; /* 0: sync acknowledgements never wait for the standby */
};

/* CLOCK_MONOTONIC at a TSC reading, sampled together on the main lcore. */
struct sl_ha_clock {
	uint64_t ns, tsc;
};

struct sl_ha {
	/* Written by the main lcore, read by the workers. */
	uint64_t state __rte_cache_aligned; /* SL_HA_ST(); release store after
					     * ack_from_ns, acquire load */
	uint64_t ack_from_ns;	/* nothing is acknowledged before it */
	uint64_t etcd_ok_ns;	/* etcd confirmed us primary of the epoch then (relaxed) */
	/* Two clock samples: the main lcore writes the one not in use, then
	 * publishes its index (release); a worker reads the published one
	 * (acquire). Resampled every poll, so the TSC's drift against
	 * CLOCK_MONOTONIC stays within one poll's. */
	struct sl_ha_clock clk[2];
	uint32_t clk_idx;
	uint32_t sync_replicas; /* constant */
	double ns_per_tsc;	/* constant */
	uint64_t lease_ns;	/* L (constant) */
	uint64_t detect_ns;	/* ha.detect_ms (constant) */
	/* Written by the worker that replicates (relaxed single words), put
	 * into the CnC by the main lcore. */
	uint64_t behind_since_ns __rte_cache_aligned; /* oldest sync publish waiting
							* on the standby; 0: none */
	uint64_t lag_records, lag_bytes;
	uint32_t caught_up;
	/* Main lcore only. */
	uint64_t applied_gen __rte_cache_aligned;
	uint32_t fenced;	  /* the lease ran out (as last evaluated) */
	uint64_t transitions, fences, torn_reads; /* counters (relaxed reads) */
};

/*
 * What a worker read of struct sl_ha at the start of its loop iteration,
 * and the time then. peer_ok_ns: the last heartbeat of a standby at this
 * node's epoch (0: none), which the replication link keeps.
 */
struct sl_ha_view {
	uint64_t state;
	uint64_t ack_from_ns;
	uint64_t now_ns;
	uint64_t peer_ok_ns;
};

/*
 * Set @ha up for a pair member: role UNKNOWN (serves nothing until control
 * decides), the constants of @c, @hz TSC cycles a second, the first clock
 * sample (@mono_ns at @tsc). Main lcore, before the workers start.
 * Returns 0 or -EINVAL (lease_ms or hz 0).
 */
int sl_ha_init(struct sl_ha *ha, const struct sl_ha_conf *c, uint64_t hz, uint64_t mono_ns,
	       uint64_t tsc);

/*
 * Main lcore duty: sample the clock (@mono_ns at @tsc), apply a new
 * control half of @cnc (NULL: none; the role stays as it is), publish the
 * applied state to the workers, evaluate the fence as of @mono_ns with the
 * standby last heard at @peer_ok_ns (log and count a change) and write the
 * dataplane half of @cnc (but the replication link's peer_* fields).
 * Returns 1 when the applied role or epoch changed, else 0.
 */
int sl_ha_poll(struct sl_ha *ha, struct sl_cnc_ha *cnc, uint64_t mono_ns, uint64_t tsc,
	       uint64_t peer_ok_ns);

/* CLOCK_MONOTONIC ns at TSC @tsc, from the published sample (any lcore). */
static inline uint64_t
sl_ha_ns(const struct sl_ha *ha, uint64_t tsc)
{
	/* Acquire: pairs with the release store of clk_idx in sl_ha_poll. */
	const struct sl_ha_clock *c = &ha->clk[__atomic_load_n(&ha->clk_idx, __ATOMIC_ACQUIRE)];

	if (tsc >= c->tsc)
		return c->ns + (uint64_t)((double)(tsc - c->tsc) * ha->ns_per_tsc);
	return c->ns - (uint64_t)((double)(c->tsc - tsc) * ha->ns_per_tsc);
}

/* Worker: take the applied state (acquire: pairs with sl_ha_poll's
 * release store, so ack_from_ns is the one published with it or later)
 * and the time at @tsc; @peer_ok_ns as struct sl_ha_view says. */
static inline void
sl_ha_view_take(const struct sl_ha *ha, struct sl_ha_view *v, uint64_t tsc, uint64_t peer_ok_ns)
{
	v->state = __atomic_load_n(&ha->state, __ATOMIC_ACQUIRE);
	v->ack_from_ns = __atomic_load_n(&ha->ack_from_ns, __ATOMIC_RELAXED);
	v->now_ns = sl_ha_ns(ha, tsc);
	v->peer_ok_ns = peer_ok_ns;
}

/* Does a node in this state serve clients (PRIMARY; SINGLE never has an
 * sl_ha)? Others answer ERROR SL_E_NOT_PRIMARY. */
static inline int
sl_ha_view_serves(const struct sl_ha_view *v)
{
	return SL_HA_ST_ROLE(v->state) == SL_HA_ROLE_PRIMARY;
}

/*
 * The fence as of the view's time: may this node acknowledge anything (an
 * ACK of any durability, a sync publish's fan-out)? Only a PRIMARY, only
 * from ack_from on, and only until L after the later of the last heartbeat
 * of a standby at its epoch and etcd's last confirmation. Any lcore.
 */
static inline int
sl_ha_may_ack(const struct sl_ha *ha, const struct sl_ha_view *v)
{
	/* Relaxed: one word; an older value only closes the gate earlier,
	 * never keeps it open longer than L after what was really heard. */
	uint64_t etcd = __atomic_load_n(&ha->etcd_ok_ns, __ATOMIC_RELAXED);

	if (SL_HA_ST_ROLE(v->state) != SL_HA_ROLE_PRIMARY || v->now_ns < v->ack_from_ns)
		return 0;
	return v->now_ns < RTE_MAX(v->peer_ok_ns, etcd) + ha->lease_ns;
}

/* Must a sync publish wait for the standby's persist in this state? */
static inline int
sl_ha_view_waits_replica(const struct sl_ha *ha, const struct sl_ha_view *v)
{
	return ha->sync_replicas > 0 && !SL_HA_ST_SOLO(v->state);
}

/* "primary", "standby", ... for log lines. */
const char *sl_ha_role_name(uint32_t role);

#endif /* SLUICE_DP_HA_H */
