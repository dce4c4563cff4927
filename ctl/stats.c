/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl stats: the dataplane's counters, drops and topics, once or refreshed (--watch). */

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* One stats answer and its "rates". Rates are sluice-control's: it computes
 * them over its own samples of the counters (docs/CONTROL.md); sluicectl
 * shows them and computes none. */
struct stats_view {
	json_t *cur;
	json_t *rates;		/* the daemon's "rates", NULL if absent */
};

/*
 * Rate of the counter at @path ("counters.publishes"): the daemon's
 * rates.<path>, or for a counter rates.<name> (the flat shape of an older
 * sluice-control); NAN (shown "-") when it sent none.
 */
static double
rate_at(const struct stats_view *s, const char *path)
{
	double d = sl_ctl_num_at(s->rates, path);

	if (isnan(d) && strncmp(path, "counters.", 9) == 0)
		d = sl_ctl_num_at(s->rates, path + 9);
	return d;
}

static json_t *
find_named(json_t *arr, const char *name)
{
	size_t i;
	json_t *e;

	if (arr == NULL || name == NULL)
		return NULL;
	if (json_is_object(arr))	/* {"orders.eu":{...}} */
		return json_object_get(arr, name);
	json_array_foreach(arr, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

static double
topic_rate(const struct stats_view *s, json_t *t, const char *field)
{
	const char *name = json_string_value(json_object_get(t, "name"));

	return sl_ctl_num_at(find_named(json_object_get(s->rates, "topics"), name), field);
}

static void
render_header(const struct stats_view *s)
{
	char pid[32], up[32], in[16], out[16], pub[16], del[16];
	json_t *auth = json_object_get(s->cur, "auth_required");
	const char *idle = json_string_value(json_object_get(s->cur, "idle"));

	sl_ctl_fmt_val(pid, sizeof(pid), json_object_get(s->cur, "pid"));
	sl_ctl_fmt_duration(up, sizeof(up), sl_ctl_num_at(s->cur, "uptime_s"));
	printf("dataplane pid %s, up %s, auth %s, idle %s\n", pid, up,
	       auth == NULL ? "-" : (json_is_boolean(auth) ? json_is_true(auth)
							   : json_number_value(auth) != 0)
				? "required" : "open",
	       idle != NULL ? idle : "-");
	sl_ctl_fmt_human(in, sizeof(in), rate_at(s, "counters.publishes"));
	sl_ctl_fmt_human(out, sizeof(out), rate_at(s, "counters.delivers"));
	sl_ctl_fmt_human(pub, sizeof(pub), sl_ctl_num_at(s->cur, "counters.publishes"));
	sl_ctl_fmt_human(del, sizeof(del), sl_ctl_num_at(s->cur, "counters.delivers"));
	printf("messages/s in %s, out %s (published %s, delivered %s since start)\n\n",
	       in, out, pub, del);
}

/* The non-zero members of @group ("counters", "drops") with their rates. */
static void
render_group(const struct stats_view *s, const char *group, const char *title)
{
	const char *hdr[] = { title, ">TOTAL", ">PER_S" };
	json_t *g = json_object_get(s->cur, group), *m;
	char name[128], path[192], total[16], rate[16];
	const char *row[3] = { name, total, rate };
	struct sl_ctl_table t;
	const char *k;

	sl_ctl_table_init(&t, 3, hdr);
	json_object_foreach(g, k, m) {
		if (!json_is_number(m) || json_number_value(m) == 0)
			continue;
		sl_ctl_sanitize(name, sizeof(name), k);
		snprintf(path, sizeof(path), "%s.%s", group, k);
		sl_ctl_fmt_human(total, sizeof(total), json_number_value(m));
		sl_ctl_fmt_human(rate, sizeof(rate), rate_at(s, path));
		sl_ctl_table_row(&t, row);
	}
	if (t.nrow == 0)
		printf("%s: none\n\n", strcmp(group, "drops") == 0 ? "drops" : group);
	else {
		sl_ctl_table_print(&t);
		fputc('\n', stdout);
	}
	sl_ctl_table_fini(&t);
}

static void
render_topics(const struct stats_view *s)
{
	static const char *const hdr[] = { "TOPIC", "DURABILITY", ">SUBS", ">PUBLISHED",
					   ">PUB/S", ">DELIVERED", ">DELIV/S", ">DROPPED",
					   ">JOURNAL" };
	json_t *topics = json_object_get(s->cur, "topics"), *e;
	char v[9][128];
	const char *row[9];
	struct sl_ctl_table t;
	size_t k;

	sl_ctl_table_init(&t, 9, hdr);
	json_array_foreach(topics, k, e) {
		if (sl_ctl_is_true(json_object_get(e, "deleted")))
			continue;
		sl_ctl_fmt_val(v[0], sizeof(v[0]), json_object_get(e, "name"));
		sl_ctl_fmt_val(v[1], sizeof(v[1]), json_object_get(e, "durability"));
		sl_ctl_fmt_human(v[2], sizeof(v[2]), sl_ctl_num_at(e, "subscribers"));
		sl_ctl_fmt_human(v[3], sizeof(v[3]), sl_ctl_num_at(e, "published"));
		sl_ctl_fmt_human(v[4], sizeof(v[4]), topic_rate(s, e, "published"));
		sl_ctl_fmt_human(v[5], sizeof(v[5]), sl_ctl_num_at(e, "delivered"));
		sl_ctl_fmt_human(v[6], sizeof(v[6]), topic_rate(s, e, "delivered"));
		sl_ctl_fmt_human(v[7], sizeof(v[7]), sl_ctl_num_at(e, "dropped"));
		sl_ctl_fmt_bytes(v[8], sizeof(v[8]), sl_ctl_num_at(e, "journal_bytes"));
		for (int i = 0; i < 9; i++)
			row[i] = v[i];
		sl_ctl_table_row(&t, row);
	}
	if (t.nrow == 0)
		printf("topics: none\n");
	else
		sl_ctl_table_print(&t);
	sl_ctl_table_fini(&t);
}

/* The consumer groups' counters; nothing when there are none (or the
 * daemon predates them). */
static void
render_groups(const struct stats_view *s)
{
	static const char *const hdr[] = { "TOPIC", "GROUP", ">MEMBERS", ">INFLIGHT", ">PENDING",
					   ">DELIVERED", ">REDELIVERED", ">ACKED",
					   ">DEAD_LETTERED" };
	static const char *const keys[] = { "topic", "group", "members", "inflight", "pending",
					    "delivered", "redelivered", "acked", "dead_lettered" };
	json_t *groups = json_object_get(s->cur, "groups"), *e;
	char v[9][128];
	const char *row[9];
	struct sl_ctl_table t;
	size_t k;

	if (json_array_size(groups) == 0)
		return;
	sl_ctl_table_init(&t, 9, hdr);
	json_array_foreach(groups, k, e) {
		sl_ctl_fmt_val(v[0], sizeof(v[0]), json_object_get(e, keys[0]));
		sl_ctl_fmt_val(v[1], sizeof(v[1]), json_object_get(e, keys[1]));
		for (int i = 2; i < 9; i++)
			sl_ctl_fmt_human(v[i], sizeof(v[i]), sl_ctl_num_at(e, keys[i]));
		for (int i = 0; i < 9; i++)
			row[i] = v[i];
		sl_ctl_table_row(&t, row);
	}
	fputc('\n', stdout);
	sl_ctl_table_print(&t);
}

/* The gateways (sluice-mqtt) attached to the dataplane: a row each, a few
 * of their counters (`--json` has them all). */
static void
render_gateways(const struct stats_view *s)
{
	static const char *const hdr[] = { "GATEWAY", ">PID", ">CONNECTIONS", ">SESSIONS",
					   ">PUB_IN", ">PUB_OUT", ">DROPPED", ">REFUSED",
					   ">BAD_INPUT" };
	static const char *const bad[] = { "bad_malformed", "bad_protocol", "bad_version",
					   "bad_before_connect", "bad_too_large", "bad_topic",
					   "bad_inflight", "bad_alias" };
	json_t *gws = json_object_get(s->cur, "gateways"), *e, *c;
	char v[9][128];
	const char *row[9];
	struct sl_ctl_table t;
	uint64_t nbad;
	size_t k, i;

	if (json_array_size(gws) == 0)
		return;
	sl_ctl_table_init(&t, 9, hdr);
	json_array_foreach(gws, k, e) {
		c = json_object_get(e, "counters");
		sl_ctl_fmt_val(v[0], sizeof(v[0]), json_object_get(e, "name"));
		sl_ctl_fmt_val(v[1], sizeof(v[1]), json_object_get(e, "pid"));
		sl_ctl_fmt_human(v[2], sizeof(v[2]), sl_ctl_num_at(c, "connections"));
		sl_ctl_fmt_human(v[3], sizeof(v[3]), sl_ctl_num_at(c, "sessions"));
		sl_ctl_fmt_human(v[4], sizeof(v[4]), sl_ctl_num_at(c, "pub_in"));
		sl_ctl_fmt_human(v[5], sizeof(v[5]), sl_ctl_num_at(c, "pub_out"));
		sl_ctl_fmt_human(v[6], sizeof(v[6]), sl_ctl_num_at(c, "pub_out_dropped") +
							     sl_ctl_num_at(c, "queue_full"));
		sl_ctl_fmt_human(v[7], sizeof(v[7]), sl_ctl_num_at(c, "connect_refused") +
							     sl_ctl_num_at(c, "pub_in_denied") +
							     sl_ctl_num_at(c, "pub_in_refused"));
		for (nbad = 0, i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			nbad += sl_ctl_num_at(c, bad[i]);
		sl_ctl_fmt_human(v[8], sizeof(v[8]), nbad);
		for (i = 0; i < 9; i++)
			row[i] = v[i];
		sl_ctl_table_row(&t, row);
	}
	fputc('\n', stdout);
	sl_ctl_table_print(&t);
	sl_ctl_table_fini(&t);
}

/* A latency in ns as "850ns", "12.3us", "4.10ms" or "1.20s". */
static void
fmt_ns(char *out, size_t n, double ns)
{
	if (isnan(ns))
		snprintf(out, n, "-");
	else if (ns < 1e3)
		snprintf(out, n, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(out, n, "%.3gus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(out, n, "%.3gms", ns / 1e6);
	else
		snprintf(out, n, "%.3gs", ns / 1e9);
}

/* The broker's latency histograms (docs/COUNTERS.md): one row per topic
 * and metric that recorded anything; nothing when the daemon sent none. */
static void
render_latency(const struct stats_view *s)
{
	static const char *const hdr[] = { "TOPIC", "LATENCY", ">COUNT", ">P50", ">P90", ">P99",
					   ">P99.9", ">MAX" };
	static const char *const metrics[] = { "persisted", "delivered_udp", "delivered_shm",
					       "lag" };
	static const char *const pcts[] = { "p50", "p90", "p99", "p99_9", "max" };
	json_t *lat = json_object_get(s->cur, "latency"), *e, *m;
	char v[8][128];
	const char *row[8];
	struct sl_ctl_table t;
	size_t k;

	if (json_array_size(lat) == 0)
		return;
	sl_ctl_table_init(&t, 8, hdr);
	json_array_foreach(lat, k, e) {
		for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
			m = json_object_get(e, metrics[i]);
			if (!(sl_ctl_num_at(m, "count") > 0))
				continue;
			sl_ctl_fmt_val(v[0], sizeof(v[0]), json_object_get(e, "name"));
			snprintf(v[1], sizeof(v[1]), "%s", metrics[i]);
			sl_ctl_fmt_human(v[2], sizeof(v[2]), sl_ctl_num_at(m, "count"));
			for (int j = 0; j < 5; j++)
				fmt_ns(v[3 + j], sizeof(v[3 + j]), sl_ctl_num_at(m, pcts[j]));
			for (int j = 0; j < 8; j++)
				row[j] = v[j];
			sl_ctl_table_row(&t, row);
		}
	}
	if (t.nrow > 0) {
		fputc('\n', stdout);
		sl_ctl_table_print(&t);
	}
	sl_ctl_table_fini(&t);
}

static void
render_stats(const struct stats_view *s, bool watch)
{
	render_header(s);
	/* The live view keeps to what moves; the one-shot view lists every total. */
	if (!watch)
		render_group(s, "counters", "COUNTER");
	render_group(s, "drops", "DROP_REASON");
	render_topics(s);
	render_groups(s);
	render_gateways(s);
	render_latency(s);
}

static void
on_signal(int sig)
{
	(void)sig;
	sl_ctl_stop_requested = 1;
}

/* Sleep until @deadline_ms (monotonic) or a signal asks to stop. */
static void
sleep_until(int64_t deadline_ms)
{
	int64_t left;

	while (!sl_ctl_stop_requested && (left = deadline_ms - sl_ctl_now_ms()) > 0) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
}

static void
watch_frame(const struct sl_ctl *c, const struct sl_ctl_reply *cur, double interval, bool tty,
	    uint64_t n)
{
	struct stats_view s = { .cur = cur->result };
	char when[32];
	time_t now = time(NULL);

	if (c->json) {
		sl_ctl_print_result_raw(cur);
		return;
	}
	s.rates = json_object_get(s.cur, "rates");
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	if (tty)
		fputs("\033[H\033[2J", stdout);
	else if (n > 0)
		fputc('\n', stdout);
	printf("sluicectl stats --watch %gs   %s%s\n", interval, when,
	       tty ? "   (Ctrl-C quits)" : "");
	render_stats(&s, true);
}

static int
stats_watch(const struct sl_ctl *c, double interval, uint64_t count)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct sl_ctl_reply prev = { 0 }, cur;
	bool tty = isatty(STDOUT_FILENO);
	int rc = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (uint64_t n = 0; !sl_ctl_stop_requested; n++) {
		int64_t t0 = sl_ctl_now_ms();

		rc = sl_ctl_call(c, "stats", NULL, &cur);
		if (rc == 0) {
			watch_frame(c, &cur, interval, tty, n);
			fflush(stdout);
			sl_ctl_reply_fini(&prev);
			prev = cur;	/* kept: sluice-control was reached */
		} else if (rc != SL_CTL_EXIT_UNREACHABLE || prev.root == NULL) {
			break;	/* a refusal, or never reached: nothing to watch */
		}
		/* else: sluice-control restarting; the message is out, try again */
		if (count != 0 && n + 1 >= count)
			break;
		sleep_until(t0 + (int64_t)(interval * 1000));
	}
	sl_ctl_reply_fini(&prev);
	return sl_ctl_stop_requested ? 0 : rc;
}

static int
cmd_stats(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *count_s = NULL, *pos[1];
	bool watch = false;
	const struct sl_ctl_opt opts[] = {
		{ "watch", NULL, &watch }, { "count", &count_s, NULL }, { NULL, NULL, NULL },
	};
	double interval = 1;
	uint64_t count = 0;
	struct sl_ctl_reply r;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 0, 1);
	if (rc != 0)
		return rc;
	if (count_s != NULL && (!sl_ctl_parse_u64(count_s, &count) || count == 0))
		return sl_ctl_usage_err(v, "--count takes a positive integer, not '%s'", count_s);
	if (pos[0] != NULL) {
		char *end;

		interval = strtod(pos[0], &end);
		if (!watch || *end != '\0' || !(interval >= 0.05 && interval <= 86400))
			return sl_ctl_usage_err(v, "SECONDS follows --watch and is 0.05 to 86400, "
						"not '%s'", pos[0]);
	}
	if (watch || count_s != NULL)
		return stats_watch(c, interval, count);
	rc = sl_ctl_call(c, "stats", NULL, &r);
	if (rc != 0)
		return rc;
	if (c->json) {
		sl_ctl_print_result_raw(&r);
	} else {
		struct stats_view s = { .cur = r.result };

		s.rates = json_object_get(s.cur, "rates");
		render_stats(&s, false);
	}
	sl_ctl_reply_fini(&r);
	return 0;
}

const struct sl_ctl_verb sl_ctl_stats_verbs[] = {
	{ "stats", NULL, "stats [--watch [SECONDS]] [--count N]",
	  "Without --watch: the dataplane's totals, drops by reason (non-zero only) and\n"
	  "per-topic counters with their rates, then each consumer group's counters (when\n"
	  "there are groups). Numbers are rounded (k, M); --json has them exact.\n"
	  "With --watch: refresh every SECONDS (default 1) until Ctrl-C or N refreshes\n"
	  "(--count): messages/s in and out, drops/s by reason, and per topic published/s,\n"
	  "delivered/s, subscribers and journal bytes. Rates are sluice-control's (it\n"
	  "computes them over its one-second samples; \"-\" when it sent none). With\n"
	  "--json, one snapshot a line.\n", cmd_stats },
	{ NULL, NULL, NULL, NULL, NULL },
};
