/* SPDX-License-Identifier: BSD-3-Clause */
/* The main lcore's side of a pair member: control's role and epoch applied, the fence evaluated, the CnC HA block written. */

#include <errno.h>
#include <string.h>

#include <rte_pause.h>

#include <common/log.h>

#include "ha.h"

const char *
sl_ha_role_name(uint32_t role)
{
	switch (role) {
	case SL_HA_ROLE_SINGLE: return "single";
	case SL_HA_ROLE_UNKNOWN: return "unknown";
	case SL_HA_ROLE_PRIMARY: return "primary";
	case SL_HA_ROLE_STANDBY: return "standby";
	case SL_HA_ROLE_CANDIDATE: return "candidate";
	case SL_HA_ROLE_FENCED: return "fenced";
	default: return "invalid";
	}
}

/* Take a clock sample: into the slot not published, then publish it. */
static void
clock_sample(struct sl_ha *ha, uint64_t mono_ns, uint64_t tsc)
{
	uint32_t next = ha->clk_idx ^ 1u;

	ha->clk[next].ns = mono_ns;
	ha->clk[next].tsc = tsc;
	/* Release: pairs with sl_ha_ns's acquire load. A worker that read
	 * the other slot a poll ago (1 ms and more) is long done with it. */
	__atomic_store_n(&ha->clk_idx, next, __ATOMIC_RELEASE);
}

int
sl_ha_init(struct sl_ha *ha, const struct sl_ha_conf *c, uint64_t hz, uint64_t mono_ns,
	   uint64_t tsc)
{
	if (c->lease_ms == 0 || hz == 0)
		return -EINVAL;
	memset(ha, 0, sizeof(*ha));
	ha->ns_per_tsc = 1e9 / (double)hz;
	ha->lease_ns = (uint64_t)c->lease_ms * 1000000u;
	ha->detect_ns = (uint64_t)c->detect_ms * 1000000u;
	ha->sync_replicas = c->sync_replicas;
	ha->state = SL_HA_ST(SL_HA_ROLE_UNKNOWN, 0, 0);
	ha->clk[0].ns = mono_ns;
	ha->clk[0].tsc = tsc;
	return 0;
}

struct ctl_half {
	uint32_t role, epoch, solo_epoch;
	uint64_t ack_from_ns;
};

static void
ctl_read(const struct sl_cnc_ha *c, struct ctl_half *x)
{
	/* Relaxed loads: ordered by the caller's acquire loads of ctl_gen and
	 * its acquire fence before the second one. Zeroed first: the two
	 * reads are compared whole, padding included. */
	memset(x, 0, sizeof(*x));
	x->role = __atomic_load_n(&c->ctl_role, __ATOMIC_RELAXED);
	x->epoch = __atomic_load_n(&c->ctl_epoch, __ATOMIC_RELAXED);
	x->ack_from_ns = __atomic_load_n(&c->ctl_ack_from_ns, __ATOMIC_RELAXED);
	x->solo_epoch = __atomic_load_n(&c->ctl_solo_epoch, __ATOMIC_RELAXED);
}

/*
 * A stable read of the control half (common/cnc.h: control writes the
 * fields, then bumps ctl_gen with a release store). Stable: ctl_gen the
 * same before, between and after two reads of the fields, and the two
 * reads equal, so a read that overlapped control's next update (which
 * writes fields before bumping) is not applied; it is retried next poll.
 * Returns 1 with @x and @gen set, 0 when nothing new, -EAGAIN when torn.
 */
static int
ctl_take(struct sl_ha *ha, const struct sl_cnc_ha *c, struct ctl_half *x, uint64_t *gen)
{
	struct ctl_half y;
	uint64_t g1, g2, g3;

	/* Acquire: pairs with control's release store of ctl_gen, so the
	 * fields it wrote before are visible to the reads below. */
	g1 = __atomic_load_n(&c->ctl_gen, __ATOMIC_ACQUIRE);
	if (g1 == ha->applied_gen)
		return 0;
	ctl_read(c, x);
	/* Acquire fence: the field reads above happen before these loads. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	g2 = __atomic_load_n(&c->ctl_gen, __ATOMIC_RELAXED);
	rte_pause();
	ctl_read(c, &y);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	g3 = __atomic_load_n(&c->ctl_gen, __ATOMIC_RELAXED);
	if (g1 != g2 || g2 != g3 || memcmp(x, &y, sizeof(y)) != 0) {
		ha->torn_reads++;
		return -EAGAIN;
	}
	*gen = g1;
	return 1;
}

/* Apply @x at @now_ns: the state word after ack_from (a worker that sees
 * the new state sees this ack_from or a later one). Returns 1 if role or
 * epoch changed. */
static int
ctl_apply(struct sl_ha *ha, const struct ctl_half *x, uint64_t gen, uint64_t now_ns)
{
	uint64_t old = ha->state;
	uint32_t role = x->role, solo = x->solo_epoch != 0 && x->solo_epoch == x->epoch;
	uint64_t st;

	if (role > SL_HA_ROLE_FENCED || role == SL_HA_ROLE_SINGLE) {
		/* Not a role a pair member can take: serve nothing. */
		SL_LOG(ERR, "high availability: control wrote role %u: treated as unknown\n", role);
		role = SL_HA_ROLE_UNKNOWN;
	}
	st = SL_HA_ST(role, solo, x->epoch);
	ha->applied_gen = gen;
	__atomic_store_n(&ha->ack_from_ns, x->ack_from_ns, __ATOMIC_RELAXED);
	/* Release: pairs with the workers' acquire load in sl_ha_view_take. */
	__atomic_store_n(&ha->state, st, __ATOMIC_RELEASE);
	if (st == old)
		return 0;
	if (SL_HA_ST_SOLO(st) != SL_HA_ST_SOLO(old) && SL_HA_ST_ROLE(st) == SL_HA_ROLE_PRIMARY &&
	    SL_HA_ST_ROLE(old) == role && SL_HA_ST_EPOCH(old) == x->epoch) {
		SL_LOG(NOTICE, "high availability: epoch %u: sync publishes %s\n", x->epoch,
		       solo ? "acknowledged without the standby (recorded out of sync)"
			    : "wait for the standby's persist again");
		return 0;
	}
	ha->transitions++;
	SL_LOG(NOTICE, "high availability: %s of epoch %u -> %s of epoch %u%s%s\n",
	       sl_ha_role_name(SL_HA_ST_ROLE(old)), SL_HA_ST_EPOCH(old), sl_ha_role_name(role),
	       x->epoch,
	       role == SL_HA_ROLE_PRIMARY && x->ack_from_ns > now_ns
		       ? ", acknowledging once the old primary's lease has run out" : "",
	       role != SL_HA_ROLE_PRIMARY && SL_HA_ST_ROLE(old) == SL_HA_ROLE_PRIMARY
		       ? ": held acknowledgements are refused (not primary)" : "");
	return 1;
}

/* The fence as of @now_ns, for the CnC and the log (workers evaluate it
 * themselves for each acknowledgement). */
static void
fence_eval(struct sl_ha *ha, struct sl_cnc_ha *cnc, uint64_t now_ns, uint64_t peer_ok_ns)
{
	struct sl_ha_view v = { .state = ha->state, .ack_from_ns = ha->ack_from_ns,
				.now_ns = now_ns, .peer_ok_ns = peer_ok_ns };
	uint32_t fenced;

	/* Before ack_from a new primary waits by design: not a lease lost. */
	fenced = sl_ha_view_serves(&v) && now_ns >= v.ack_from_ns && !sl_ha_may_ack(ha, &v);
	if (!sl_ha_view_serves(&v)) {
		ha->fenced = 0; /* not a primary: its role says it, not a lease */
	} else if (fenced != ha->fenced) {
		if (fenced) {
			ha->fences++;
			SL_LOG(WARNING, "high availability: epoch %u: lease ran out: "
			       "acknowledgements stopped until the standby or etcd confirms "
			       "this node\n", SL_HA_ST_EPOCH(v.state));
		} else {
			SL_LOG(NOTICE, "high availability: epoch %u: lease renewed: "
			       "acknowledging again\n", SL_HA_ST_EPOCH(v.state));
		}
		ha->fenced = fenced;
	}
	if (cnc)
		__atomic_store_n(&cnc->fenced, fenced, __ATOMIC_RELAXED);
}

/* The dataplane half of the CnC block: single words, relaxed stores
 * (common/cnc.h); peer_* are the replication link's. */
static void
dp_half_write(struct sl_ha *ha, struct sl_cnc_ha *c, uint64_t now_ns)
{
	uint64_t st = ha->state;
	uint64_t behind = __atomic_load_n(&ha->behind_since_ns, __ATOMIC_RELAXED);

	/* behind_since: reported only once over ha.detect_ms, as control
	 * acts on it (marks the standby out of sync). */
	if (behind == 0 || now_ns < behind + ha->detect_ns)
		behind = 0;
	__atomic_store_n(&c->dp_role, SL_HA_ST_ROLE(st), __ATOMIC_RELAXED);
	__atomic_store_n(&c->dp_epoch, SL_HA_ST_EPOCH(st), __ATOMIC_RELAXED);
	__atomic_store_n(&c->dp_lease_ms, (uint32_t)(ha->lease_ns / 1000000u), __ATOMIC_RELAXED);
	__atomic_store_n(&c->dp_detect_ms, (uint32_t)(ha->detect_ns / 1000000u),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&c->behind_since_ns, behind, __ATOMIC_RELAXED);
	__atomic_store_n(&c->caught_up, __atomic_load_n(&ha->caught_up, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&c->lag_records, __atomic_load_n(&ha->lag_records, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&c->lag_bytes, __atomic_load_n(&ha->lag_bytes, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	/* Last: control reads dp_gen as "this generation is in force". */
	__atomic_store_n(&c->dp_gen, ha->applied_gen, __ATOMIC_RELEASE);
}

int
sl_ha_poll(struct sl_ha *ha, struct sl_cnc_ha *cnc, uint64_t mono_ns, uint64_t tsc,
	   uint64_t peer_ok_ns)
{
	struct ctl_half x;
	uint64_t gen = 0;
	int changed = 0;

	clock_sample(ha, mono_ns, tsc);
	if (cnc && ctl_take(ha, cnc, &x, &gen) == 1)
		changed = ctl_apply(ha, &x, gen, mono_ns);
	if (cnc)
		/* Relaxed: control renews it alone, one 8-byte store. */
		__atomic_store_n(&ha->etcd_ok_ns,
				 __atomic_load_n(&cnc->ctl_etcd_ok_ns, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
	fence_eval(ha, cnc, mono_ns, peer_ok_ns);
	if (cnc)
		dp_half_write(ha, cnc, mono_ns);
	return changed;
}
