/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl dataplane: whether the dataplane is attached, its workers and ports. */

#include <math.h>
#include <stdio.h>

#include "ctl.h"

/* "attached", "pid", ... as "key: value" lines, then whatever else is scalar. */
static void
print_dataplane_fields(json_t *res)
{
	static const char *const known[] = { "attached", "pid", "uptime_s", "heartbeat_age_ms",
					     NULL };
	double age = sl_ctl_num_at(res, "heartbeat_age_ms");
	char pid[32], up[32], name[64], val[256];
	const char *k;
	json_t *m;

	sl_ctl_fmt_val(pid, sizeof(pid), json_object_get(res, "pid"));
	sl_ctl_fmt_duration(up, sizeof(up), sl_ctl_num_at(res, "uptime_s"));
	printf("attached:      %s\npid:           %s\nuptime:        %s\n",
	       sl_ctl_is_true(json_object_get(res, "attached")) ? "yes" : "no", pid, up);
	if (isnan(age))
		printf("heartbeat age: -\n");
	else
		printf("heartbeat age: %.0f ms\n", age);
	/* Counts ("workers":2) and any field this client does not know yet. */
	json_object_foreach(res, k, m) {
		if (sl_ctl_one_of(k, known) || json_is_array(m) || json_is_object(m))
			continue;
		snprintf(name, sizeof(name), "%s:", k);
		sl_ctl_sanitize(name, sizeof(name), name);
		sl_ctl_fmt_val(val, sizeof(val), m);
		printf("%-14s %s\n", name, val);
	}
}

/* The worker and port tables of @src (dataplane.status's, or a stats snapshot). */
static void
print_dataplane_tables(json_t *src)
{
	static const char *const whdr[] = { ">WORKER", ">LCORE", ">PORT", ">QUEUE", ">RX_PKTS",
					    ">TX_PKTS", ">SESSIONS" };
	static const char *const wkeys[] = { "worker", "lcore", "port", "queue", "rx_pkts",
					     "tx_pkts", "sessions" };
	static const char *const phdr[] = { ">PORT", ">IPACKETS", ">OPACKETS", ">IMISSED",
					    ">IERRORS" };
	static const char *const pkeys[] = { "port", "ipackets", "opackets", "imissed",
					     "ierrors" };
	json_t *w = json_object_get(src, "workers"), *p = json_object_get(src, "ports");

	if (json_array_size(w) > 0) {
		fputc('\n', stdout);
		sl_ctl_print_objects(w, 7, whdr, wkeys);
	}
	if (json_array_size(p) > 0) {
		fputc('\n', stdout);
		sl_ctl_print_objects(p, 5, phdr, pkeys);
	}
}

static int
cmd_dataplane_status(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	struct sl_ctl_reply r, snap;
	const char *pos[1];
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, NULL, pos, 0, 0);
	if (rc != 0)
		return rc;
	rc = sl_ctl_call(c, "dataplane.status", NULL, &r);
	if (rc != 0 || c->json)
		return sl_ctl_show_result(c, rc, &r, print_dataplane_fields);
	print_dataplane_fields(r.result);
	if (json_is_array(json_object_get(r.result, "workers"))) {
		print_dataplane_tables(r.result);
	} else if (sl_ctl_is_true(json_object_get(r.result, "attached"))) {
		/* A status with counts only: the stats snapshot has the tables. */
		fflush(stdout);
		if (sl_ctl_call(c, "stats", NULL, &snap) == 0) {
			print_dataplane_tables(snap.result);
			sl_ctl_reply_fini(&snap);
		}
	}
	sl_ctl_reply_fini(&r);
	return 0;
}

const struct sl_ctl_verb sl_ctl_dataplane_verbs[] = {
	{ "dataplane", "status", "dataplane status",
	  "Whether the dataplane is attached, its pid, uptime and heartbeat age, its\n"
	  "workers (lcore, port, queue, packets) and ports.\n", cmd_dataplane_status },
	{ NULL, NULL, NULL, NULL, NULL },
};
