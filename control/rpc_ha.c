/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's pair commands: "ha.status" and "ha.promote" (docs/HA.md). */

#include <errno.h>
#include <stdio.h>

#include <common/clock.h>

#include "rpc.h"

static int
ha_off(struct sl_req *r)
{
	return sl_req_fail(r, "ha", "high availability is off: sluice-control runs without "
			   "--etcd (docs/HA.md)");
}

int
sl_rpc_ha_status(struct sl_req *r)
{
	static const char *const ok[] = { NULL };

	if (sl_req_args_only(r, ok))
		return -1;
	if (r->ctl->ha == NULL)
		return ha_off(r);
	r->res = sl_ha_status_json(r->ctl->ha);
	if (r->res == NULL)
		return sl_req_fail(r, "internal", "out of memory");
	return 0;
}

int
sl_rpc_ha_promote(struct sl_req *r)
{
	static const char *const ok[] = { "force", "dr", NULL };
	struct sl_ha_dr_lag lag;
	char err[256];
	int force = 0, dr = 0, rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_bool(r, "force", &force) ||
	    sl_req_arg_bool(r, "dr", &dr))
		return -1;
	if (r->ctl->ha == NULL)
		return ha_off(r);
	if (!force && !dr)
		return sl_req_fail(r, "invalid", "a promotion by hand needs \"force\": true (or "
				   "\"dr\": true on a DR replica): this node takes over whether or "
				   "not it holds every acknowledged message, and loses what it lacks");
	rc = sl_ha_promote(r->ctl->ha, dr, &lag, err, sizeof(err));
	if (rc == -EALREADY)
		return sl_req_fail(r, "exists", "%s", err);
	if (rc < 0)
		return sl_req_fail(r, "invalid", "%s", err);
	r->res = json_pack("{s:b, s:s}", "requested", 1, "warning",
			   "a forced promotion does not wait for this node to hold every "
			   "acknowledged message: what the old primary acknowledged and this "
			   "node had not persisted (at most its replication lag) is lost");
	if (r->res != NULL && dr)
		json_object_set_new(r->res, "dr_lag", json_pack("{s:I, s:I, s:I, s:o}",
			"records", (json_int_t)lag.records, "bytes", (json_int_t)lag.bytes,
			"report_ms", (json_int_t)lag.report_ms, "report_ms_ago",
			lag.report_ms == 0 ? json_null() :
			json_integer((json_int_t)(sl_wall_ns() / 1000000u > lag.report_ms ?
						  sl_wall_ns() / 1000000u - lag.report_ms : 0))));
	return 0;
}
