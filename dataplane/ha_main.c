/* SPDX-License-Identifier: BSD-3-Clause */
/* A pair member's role on the main lcore: set-up from ha.*, the duty that applies control's decisions. */

#include <errno.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include <common/clock.h>
#include <common/log.h>

#include "dataplane.h"
#include "ha.h"
#include "ha_main.h"
#include "repl.h"
#include "repl_primary.h"

int
sl_dp_ha_init(struct sl_dp *dp)
{
	const struct sl_conf_ha *c = &dp->conf.ha;
	struct sl_ha_conf hc = { .lease_ms = c->lease_ms, .detect_ms = c->detect_ms,
				 .sync_replicas = c->sync_replicas };
	struct sl_ha *ha;
	int rc;

	if (c->peer == 0)
		return 0;
	ha = rte_zmalloc("sl_ha", sizeof(*ha), RTE_CACHE_LINE_SIZE);
	if (ha == NULL)
		return -ENOMEM;
	rc = sl_ha_init(ha, &hc, rte_get_tsc_hz(), sl_mono_ns(), rte_rdtsc());
	if (rc < 0) {
		SL_LOG(ERR, "ha.lease_ms must be above 0\n");
		rte_free(ha);
		return rc;
	}
	rc = sl_repl_primary_init(dp);
	if (rc < 0) {
		rte_free(ha);
		return rc;
	}
	dp->ha = ha;
	SL_LOG(INFO, "high availability: pair member, lease %u ms, detect %u ms, sync acks wait "
	       "for %u replica(s); serving nothing until control decides the role\n",
	       c->lease_ms, c->detect_ms, c->sync_replicas);
	return 0;
}

void
sl_dp_ha_fini(struct sl_dp *dp)
{
	sl_repl_primary_fini(dp);
	rte_free(dp->ha);
	dp->ha = NULL;
}

unsigned
sl_dp_ha_poll(struct sl_dp *dp)
{
	struct sl_ha *ha = dp->ha;
	struct sl_cnc_ha *cnc;
	uint64_t st;

	if (ha == NULL)
		return 0;
	cnc = dp->cnc ? sl_cnc_ha(dp->cnc) : NULL;
	st = ha->state;
	if (sl_ha_poll(ha, cnc, sl_mono_ns(), rte_rdtsc(),
		       sl_dp_ha_peer_ok(dp, SL_HA_ST_EPOCH(st))) == 0)
		return 0;
	st = ha->state;
	if (dp->repl)
		sl_repl_set_role(dp->repl, SL_HA_ST_ROLE(st), SL_HA_ST_EPOCH(st));
	return 1;
}
