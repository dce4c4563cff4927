/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's pair commands: "ha.status" and "ha.promote" (docs/HA.md). */

#include <errno.h>
#include <stdio.h>

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
	static const char *const ok[] = { "force", NULL };
	char err[256];
	int force = 0, rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_bool(r, "force", &force))
		return -1;
	if (r->ctl->ha == NULL)
		return ha_off(r);
	if (!force)
		return sl_req_fail(r, "invalid", "a promotion by hand needs \"force\": true: this "
				   "node takes over whether or not it holds every acknowledged "
				   "message, and loses what it lacks");
	rc = sl_ha_promote(r->ctl->ha, err, sizeof(err));
	if (rc == -EALREADY)
		return sl_req_fail(r, "exists", "%s", err);
	if (rc < 0)
		return sl_req_fail(r, "invalid", "%s", err);
	r->res = json_pack("{s:b, s:s}", "requested", 1, "warning",
			   "a forced promotion does not wait for this node to hold every "
			   "acknowledged message: what the old primary acknowledged and this "
			   "node had not persisted (at most its replication lag) is lost");
	return 0;
}
