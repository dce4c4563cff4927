/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl ha: this node's place in its broker pair (role, epoch, leader, replication), and a forced promotion. */

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static const char *
str_at(json_t *o, const char *path)
{
	const char *s = json_string_value(sl_ctl_json_path(o, path));

	return s != NULL ? s : "-";
}

/* The DR line: a DR replica's last report of its lag, or a pair member's
 * view of its DR replica. Nothing on a pair without one. */
static void
print_dr(json_t *res)
{
	double age = sl_ctl_num_at(res, "dr.report_ms_ago");
	char b[32];

	sl_ctl_fmt_bytes(b, sizeof(b), sl_ctl_num_at(res, "dr.lag_bytes"));
	if (sl_ctl_is_true(sl_ctl_json_path(res, "dr.replica"))) {
		if (isnan(age))
			printf("dr:          DR replica; no lag report from a primary yet\n");
		else
			printf("dr:          DR replica, %.0f records, %s behind (the primary's "
			       "report of %.0f ms ago)\n", sl_ctl_num_at(res, "dr.lag_records"), b,
			       age);
	} else if (sl_ctl_is_true(sl_ctl_json_path(res, "dr.streams_to_dr"))) {
		printf("dr:          DR replica %.0f records, %s behind\n",
		       sl_ctl_num_at(res, "dr.lag_records"), b);
	}
}

static void
print_ha(json_t *res)
{
	char node[80], leader[80], peer[80], lagb[32], err[200];
	double heard = sl_ctl_num_at(res, "peer.heard_ms_ago");
	json_t *l = json_object_get(res, "leader");
	uint64_t total = 0, done = 0;

	sl_ctl_sanitize(node, sizeof(node), str_at(res, "node"));
	printf("node:        %s (pair %s)\n", node, str_at(res, "pair"));
	printf("role:        %s, epoch %.0f", str_at(res, "role"), sl_ctl_num_at(res, "epoch"));
	if (sl_ctl_is_true(json_object_get(res, "solo")))
		printf(" (acknowledging sync publishes alone)");
	if (sl_ctl_num_at(res, "ack_from_in_ms") > 0)
		printf(" (acknowledging in %.0f ms)", sl_ctl_num_at(res, "ack_from_in_ms"));
	printf("\n");
	printf("dataplane:   %s, epoch %.0f%s%s\n",
	       sl_ctl_is_true(sl_ctl_json_path(res, "dataplane.attached")) ?
	       str_at(res, "dataplane.role") : "not attached",
	       sl_ctl_num_at(res, "dataplane.epoch"),
	       sl_ctl_is_true(sl_ctl_json_path(res, "dataplane.fenced")) ?
	       ", FENCED: lease ran out, acknowledging nothing" : "", "");
	if (json_is_object(l)) {
		sl_ctl_sanitize(leader, sizeof(leader), str_at(l, "node"));
		printf("leader:      %s, epoch %.0f, standby in sync: %s\n", leader,
		       sl_ctl_num_at(l, "epoch"),
		       sl_ctl_is_true(json_object_get(l, "insync")) ? "yes" : "no");
	} else {
		printf("leader:      - (etcd not read yet)\n");
	}
	sl_ctl_sanitize(peer, sizeof(peer), str_at(res, "peer.role"));
	if (isnan(heard))
		printf("peer:        never heard\n");
	else
		printf("peer:        %s, epoch %.0f, heard %.0f ms ago\n", peer,
		       sl_ctl_num_at(res, "peer.epoch"), heard);
	sl_ctl_fmt_bytes(lagb, sizeof(lagb), sl_ctl_num_at(res, "lag_bytes"));
	printf("lag:         %.0f records, %s\n", sl_ctl_num_at(res, "lag_records"), lagb);
	sl_ctl_u64(sl_ctl_json_path(res, "catchup.total"), &total);
	sl_ctl_u64(sl_ctl_json_path(res, "catchup.done"), &done);
	if (total > 0)
		printf("catch-up:    %llu of %llu records (%.0f%%)\n", (unsigned long long)done,
		       (unsigned long long)total, 100.0 * (double)done / (double)total);
	else
		printf("catch-up:    -\n");
	printf("failovers:   %.0f (spurious %.0f, last %.0f ms; silences put down to "
	       "CPU starvation %.0f)\n",
	       sl_ctl_num_at(res, "failovers"), sl_ctl_num_at(res, "spurious_failovers"),
	       sl_ctl_num_at(res, "last_failover_ms"), sl_ctl_num_at(res, "starved_silences"));
	print_dr(res);
	sl_ctl_sanitize(err, sizeof(err), str_at(res, "etcd.error"));
	printf("etcd:        %s %s (%.0f errors)%s%s\n",
	       sl_ctl_is_true(sl_ctl_json_path(res, "etcd.reachable")) ? "reachable" :
	       "UNREACHABLE", str_at(res, "etcd.endpoint"), sl_ctl_num_at(res, "etcd.errors"),
	       strcmp(err, "-") != 0 && err[0] != '\0' ? ": " : "",
	       strcmp(err, "-") != 0 ? err : "");
}

static int
cmd_ha_status(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "ha.status", NULL, 0, print_ha);
}

/* Wait for the outcome of a forced promotion: the role, or the reason. */
static int
promote_wait(const struct sl_ctl *c, struct sl_ctl_reply *st)
{
	struct timespec ts = { 0, 20 * 1000000L };
	int64_t end = sl_ctl_now_ms() + c->timeout_ms;
	const char *role, *msg;
	int rc;

	for (;;) {
		rc = sl_ctl_call(c, "ha.status", NULL, st);
		if (rc != 0)
			return rc;
		role = json_string_value(json_object_get(st->result, "role"));
		msg = json_string_value(json_object_get(st->result, "promote"));
		if ((role != NULL && strcmp(role, "primary") == 0) || (msg != NULL && msg[0]))
			return 0;
		if (sl_ctl_now_ms() >= end) {
			sl_ctl_err("no outcome of the promotion within %d ms: see 'sluicectl ha "
				   "status'", c->timeout_ms);
			sl_ctl_reply_fini(st);
			return SL_CTL_EXIT_FAILED;
		}
		sl_ctl_reply_fini(st);
		nanosleep(&ts, NULL);
	}
}

/* A DR promotion states what it may lose: the lag its primary last
 * reported, and that what the primary acknowledged after that report is
 * at risk too. */
static void
print_dr_loss(json_t *lag, int promoted)
{
	double rec = sl_ctl_num_at(lag, "records"), age = sl_ctl_num_at(lag, "report_ms_ago");
	char b[32];

	sl_ctl_fmt_bytes(b, sizeof(b), sl_ctl_num_at(lag, "bytes"));
	if (isnan(age)) {
		printf("DR lag at promotion: unknown (no report from a primary): everything the "
		       "old primary acknowledged may be lost\n");
		return;
	}
	printf("DR lag at promotion: %.0f records, %s (the old primary's report of %.0f ms "
	       "before the promotion)\n", rec, b, age);
	if (promoted)
		printf("may be lost: at most those %.0f records, plus whatever the old primary "
		       "acknowledged after that report\n", rec);
}

static int
cmd_ha_promote(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	bool force = false, dr = false;
	const struct sl_ctl_opt opts[] = { { "force", NULL, &force }, { "dr", NULL, &dr },
					   { NULL, NULL, NULL } };
	struct sl_ctl_reply r, st;
	const char *pos[1], *role;
	json_t *a, *lag = NULL;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 0, 0);
	if (rc != 0)
		return rc;
	if (!force && !dr)
		return sl_ctl_usage_err(v, "ha promote needs --force (a pair's standby) or --dr (a "
					"DR replica): this node takes over whether or not it holds "
					"every acknowledged message");
	a = dr ? json_pack("{s:b}", "dr", 1) : json_pack("{s:b}", "force", 1);
	rc = sl_ctl_call(c, "ha.promote", a, &r);
	json_decref(a);
	if (rc != 0)
		return rc;
	if (!c->quiet && !c->json)
		fprintf(stderr, "%s: warning: %s\n", sl_ctl_prog,
			json_string_value(json_object_get(r.result, "warning")) ?: "");
	lag = json_incref(json_object_get(r.result, "dr_lag"));
	sl_ctl_reply_fini(&r);
	rc = promote_wait(c, &st);
	if (rc != 0) {
		json_decref(lag);
		return rc;
	}
	role = json_string_value(json_object_get(st.result, "role"));
	rc = role != NULL && strcmp(role, "primary") == 0 ? 0 : SL_CTL_EXIT_FAILED;
	if (c->json) {
		if (lag)
			json_object_set(st.result, "dr_lag", lag);
		sl_ctl_print_result_raw(&st);
	} else if (rc == 0 && !c->quiet) {
		printf("promoted: %s is the primary of epoch %.0f\n", str_at(st.result, "node"),
		       sl_ctl_num_at(st.result, "epoch"));
		if (lag)
			print_dr_loss(lag, 1);
	} else if (rc != 0) {
		sl_ctl_err("%s", str_at(st.result, "promote"));
	}
	json_decref(lag);
	sl_ctl_reply_fini(&st);
	return rc;
}

const struct sl_ctl_verb sl_ctl_ha_verbs[] = {
	{ "ha", "status", "ha status",
	  "This node's place in its broker pair (sluice-control --etcd): its role and\n"
	  "leader epoch, the leader etcd names and whether the standby is in sync, the\n"
	  "peer as the dataplane hears it, replication lag (records, bytes), catch-up\n"
	  "progress, failovers, and whether etcd is reachable.\n", cmd_ha_status },
	{ "ha", "promote", "ha promote --force | --dr",
	  "Make this standby the primary now, whether or not it holds every acknowledged\n"
	  "message (etcd compare-and-swap of the epoch, as an automatic failover, without\n"
	  "its in-sync condition). What the old primary acknowledged and this node had not\n"
	  "persisted is lost: at most the replication lag. For disaster recovery, or a\n"
	  "pair whose standby is out of sync and whose primary is gone. --dr promotes a\n"
	  "DR replica (ha.dr) and prints its lag at promotion, the old primary's last\n"
	  "report: at most that, plus what it acknowledged after the report, is lost.\n"
	  "Waits for the outcome (up to -t).\n", cmd_ha_promote },
	{ NULL, NULL, NULL, NULL, NULL },
};
