/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's views of the dataplane: "stats" (its counters area) and "dataplane.status". */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc.h"

int
sl_rpc_stats(struct sl_req *r)
{
	static const char *const ok[] = { NULL };
	json_t *snap;
	int rc;

	if (sl_req_args_only(r, ok))
		return -1;
	rc = sl_ctl_snapshot(r->ctl, &snap);
	if (rc == -ENOTCONN)
		return sl_req_fail(r, "dataplane", "no dataplane attached: is "
				   "sluice-dataplane -n %s running?", r->ctl->name);
	if (rc < 0)
		return sl_req_fail(r, "dataplane", "the dataplane's counters are %s",
				   rc == -EAGAIN ? "not sampled yet: try again" : "unreadable");
	json_object_set_new(snap, "rates", sl_ctl_rates_json(r->ctl));
	r->res = snap;
	return 0;
}

int
sl_rpc_dataplane_status(struct sl_req *r)
{
	static const char *const ok[] = { NULL };
	struct sl_sync_status st;
	json_t *snap = NULL;
	uint64_t now = sl_ctl_now_ns();
	double up;

	if (sl_req_args_only(r, ok))
		return -1;
	sl_sync_status(r->ctl->sync, now, &st);
	if (st.attached)
		sl_ctl_snapshot(r->ctl, &snap);
	up = st.attached && now > st.dp_start_ns ? (double)(now - st.dp_start_ns) / 1e9 : 0.0;
	r->res = json_pack("{s:b, s:I, s:o, s:I, s:I, s:I, s:b, s:b, s:I, s:I}",
			   "attached", st.attached, "pid", (json_int_t)st.dp_pid,
			   "uptime_s", sl_json_real(up),
			   "heartbeat_age_ms", (json_int_t)st.heartbeat_age_ms,
			   "workers", (json_int_t)json_array_size(json_object_get(snap, "workers")),
			   "ports", (json_int_t)json_array_size(json_object_get(snap, "ports")),
			   "synced", st.synced, "stale", st.stale,
			   "syncs", (json_int_t)st.syncs,
			   "syncs_completed", (json_int_t)st.syncs_completed);
	json_decref(snap);
	return 0;
}
