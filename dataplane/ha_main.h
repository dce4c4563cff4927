/* SPDX-License-Identifier: BSD-3-Clause */
/* A pair member's role on the main lcore: set-up from ha.*, the duty that applies control's decisions. */

#ifndef SLUICE_DP_HA_MAIN_H
#define SLUICE_DP_HA_MAIN_H

#include <stdint.h>

#include "dataplane.h"
#include "repl.h"

/*
 * With ha.peer configured: allocate dp->ha (role UNKNOWN: the node serves
 * no client until sluice-control decides) and the primary's replication
 * state; else leave both NULL (a single node) and return 0. After
 * sl_repl_init and sl_dp_ctl_init, before the workers run. Returns 0,
 * -EINVAL (ha.lease_ms 0) or -ENOMEM.
 */
int sl_dp_ha_init(struct sl_dp *dp);
void sl_dp_ha_fini(struct sl_dp *dp);

/* Main lcore duty: sl_ha_poll on the CnC HA block; a change of role or
 * epoch goes to the replication link (sl_repl_set_role). Returns the work
 * done (1 when the role changed). */
unsigned sl_dp_ha_poll(struct sl_dp *dp);

/* The last heartbeat (CLOCK_MONOTONIC ns) of a peer, not a DR replica,
 * that said it is a STANDBY of @epoch, 0 when none: what renews a primary's lease. The
 * replication worker reads its own fields; the main lcore's read may be a
 * heartbeat stale (it only logs and reports). */
static inline uint64_t
sl_dp_ha_peer_ok(const struct sl_dp *dp, uint32_t epoch)
{
	const struct sl_repl *r = dp->repl;
	uint64_t ok = 0;
	unsigned i;

	if (r == NULL || epoch == 0)
		return 0;
	for (i = 0; i < r->n_peers; i++) {
		const struct sl_repl_peer *p = &r->peers[i];

		/* A DR replica is no standby of the pair: it never renews the
		 * lease (docs/HA.md, "Why two primaries never both acknowledge"). */
		if (!p->dr && p->role == SL_HA_ROLE_STANDBY && p->epoch == epoch &&
		    p->heard_ns > ok)
			ok = p->heard_ns;
	}
	return ok;
}

#endif /* SLUICE_DP_HA_MAIN_H */
