/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt-loadgen's report: counts, rates, latency percentiles, as text or one JSON line. */

#include <inttypes.h>
#include <stdio.h>

#include "mqtt_loadgen.h"

struct mlg_totals {
	uint64_t sent, acked, nacked, unacked, received, dups, foreign, expected, lost;
	double sent_per_s, acked_per_s, recv_per_s, msgs_per_s;
};

static void
totals(const struct mlg_run *r, struct mlg_totals *t)
{
	const struct mlg_conf *cf = r->cf;

	*t = (struct mlg_totals){ 0 };
	for (unsigned k = 0; r->pubs && k < cf->pubs; k++) {
		t->sent += r->pubs[k].sent;
		t->acked += r->pubs[k].acked;
		t->nacked += r->pubs[k].nacked;
	}
	if (cf->qos > 0)
		t->unacked = t->sent - t->acked - t->nacked;
	for (unsigned s = 0; r->subs && s < cf->subs; s++) {
		const struct mlg_conn *c = &r->subs[s];

		t->received += c->received;
		t->dups += c->dups;
		t->foreign += c->foreign;
		for (unsigned k = 0; c->seen && k < cf->pubs; k++) {
			uint64_t sent = r->pubs[k].sent, got = c->seen[k].count;

			t->lost += sent > got ? sent - got : 0;
		}
	}
	t->expected = t->sent * cf->subs;
	t->sent_per_s = (double)r->sent_win / cf->duration_s;
	t->acked_per_s = (double)r->acked_win / cf->duration_s;
	t->recv_per_s = (double)r->recv_win / cf->duration_s;
	t->msgs_per_s = cf->subs ? t->recv_per_s : cf->qos ? t->acked_per_s : t->sent_per_s;
}

static const char *
status(const struct mlg_run *r, const struct mlg_totals *t)
{
	if (r->fail)
		return "failed";
	if (t->lost || t->unacked || t->nacked)
		return "loss";
	return "ok";
}

static void
report_json(const struct mlg_run *r, const struct mlg_totals *t)
{
	const struct mlg_conf *cf = r->cf;
	const struct sl_hist *h = &r->lat;

	printf("{\"tool\":\"" MLG_NAME "\",\"status\":\"%s\",\"mqtt_version\":\"%s\",\"qos\":%u,"
	       "\"publishers\":%u,\"subscribers\":%u,\"size\":%u,\"rate\":%.1f,"
	       "\"duration_s\":%.3f,\"warmup_s\":%.3f,",
	       status(r, t), cf->version == 5 ? "5" : "3.1.1", cf->qos, cf->pubs, cf->subs,
	       cf->size, cf->rate, cf->duration_s, cf->warmup_s);
	printf("\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"nacked\":%" PRIu64
	       ",\"unacked\":%" PRIu64 ",\"received\":%" PRIu64 ",\"expected\":%" PRIu64
	       ",\"lost\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"foreign\":%" PRIu64 ",",
	       t->sent, t->acked, t->nacked, t->unacked, t->received, t->expected, t->lost, t->dups,
	       t->foreign);
	printf("\"sent_per_s\":%.1f,\"acked_per_s\":%.1f,\"received_per_s\":%.1f,"
	       "\"msgs_per_s\":%.1f,\"send_s\":%.3f,",
	       t->sent_per_s, t->acked_per_s, t->recv_per_s, t->msgs_per_s, r->send_s);
	printf("\"count\":%" PRIu64 ",\"p50_ns\":%" PRIu64 ",\"p90_ns\":%" PRIu64
	       ",\"p99_ns\":%" PRIu64 ",\"p999_ns\":%" PRIu64 ",\"p9999_ns\":%" PRIu64
	       ",\"max_ns\":%" PRIu64 ",\"mean_ns\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,",
	       sl_hist_count(h), sl_hist_percentile(h, 50), sl_hist_percentile(h, 90),
	       sl_hist_percentile(h, 99), sl_hist_percentile(h, 99.9),
	       sl_hist_percentile(h, 99.99), sl_hist_max(h), sl_hist_mean(h),
	       (double)sl_hist_percentile(h, 50) / 1e3, (double)sl_hist_percentile(h, 99) / 1e3);
	printf("\"send_late_p50_ns\":%" PRIu64 ",\"send_late_p99_ns\":%" PRIu64
	       ",\"send_late_max_ns\":%" PRIu64 ",\"cpu_s\":%.3f,\"wall_s\":%.3f,"
	       "\"cpu_util\":%.3f,\"errors\":%" PRIu64 ",\"connect_failures\":%" PRIu64,
	       sl_hist_percentile(&r->late, 50), sl_hist_percentile(&r->late, 99),
	       sl_hist_max(&r->late), r->cpu_s, r->wall_s, r->wall_s > 0 ? r->cpu_s / r->wall_s : 0,
	       r->errors, r->connect_failures);
	if (r->fail) {
		printf(",\"error\":\"");
		for (const char *p = r->fail; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		printf("\"");
	}
	printf("}\n");
}

static void
report_text(const struct mlg_run *r, const struct mlg_totals *t)
{
	const struct mlg_conf *cf = r->cf;
	static const double pct[] = { 50, 90, 99, 99.9, 99.99, 100 };
	static const char *names[] = { "p50", "p90", "p99", "p99.9", "p99.99", "max" };

	printf("MQTT %s to %s:%s, QoS %u, %u publisher(s), %u subscriber(s), %u-byte payloads, "
	       "%.1f s measured after %.1f s warm-up\n",
	       cf->version == 5 ? "5.0" : "3.1.1", cf->host, cf->port, cf->qos, cf->pubs, cf->subs,
	       cf->size, cf->duration_s, cf->warmup_s);
	if (cf->rate > 0)
		printf("target rate   %.0f msgs/s\n", cf->rate);
	else
		printf("target rate   unbounded (window %u, in-flight %u)\n", cf->window,
		       cf->inflight);
	printf("sent          %" PRIu64 " (%.0f/s measured)\n", t->sent, t->sent_per_s);
	if (cf->qos)
		printf("acked         %" PRIu64 " (%.0f/s; refused %" PRIu64 ", unacked %" PRIu64
		       ")\n", t->acked, t->acked_per_s, t->nacked, t->unacked);
	printf("received      %" PRIu64 " of %" PRIu64 " expected (%.0f/s measured)\n",
	       t->received, t->expected, t->recv_per_s);
	printf("lost          %" PRIu64 "\n", t->lost);
	printf("duplicates    %" PRIu64 "\n", t->dups);
	printf("latency (us, publish due time -> delivery; %" PRIu64 " samples)\n",
	       sl_hist_count(&r->lat));
	for (unsigned i = 0; i < 6; i++)
		printf("  %-7s %10.1f\n", names[i], (double)sl_hist_percentile(&r->lat, pct[i]) / 1e3);
	printf("tool          send lateness p50 %.1f us p99 %.1f us max %.1f us; CPU %.2f s of "
	       "%.2f s wall (%.0f%%)\n",
	       (double)sl_hist_percentile(&r->late, 50) / 1e3,
	       (double)sl_hist_percentile(&r->late, 99) / 1e3, (double)sl_hist_max(&r->late) / 1e3,
	       r->cpu_s, r->wall_s, r->wall_s > 0 ? 100 * r->cpu_s / r->wall_s : 0);
	if (r->fail)
		printf("error         %s\n", r->fail);
}

int
mlg_report(struct mlg_run *r)
{
	struct mlg_totals t;

	totals(r, &t);
	if (r->cf->json)
		report_json(r, &t);
	else
		report_text(r, &t);
	fflush(stdout);
	if (r->fail) {
		if (r->cf->json)
			fprintf(stderr, MLG_NAME ": %s\n", r->fail);
		return 1;
	}
	return t.lost || t.unacked || t.nacked ? 3 : 0;
}

int
mlg_report_sessions(struct mlg_run *r, unsigned ok, double elapsed_s)
{
	const struct mlg_conf *cf = r->cf;

	if (cf->json)
		printf("{\"tool\":\"" MLG_NAME "\",\"mode\":\"%s\",\"mqtt_version\":\"%s\","
		       "\"sessions\":%u,\"done\":%u,\"elapsed_s\":%.3f,\"errors\":%" PRIu64 "}\n",
		       cf->sessions_clear ? "sessions-clear" : "sessions",
		       cf->version == 5 ? "5" : "3.1.1", cf->sessions, ok, elapsed_s, r->errors);
	else
		printf("%s %u of %u persistent sessions in %.2f s (MQTT %s)\n",
		       cf->sessions_clear ? "ended" : "made", ok, cf->sessions, elapsed_s,
		       cf->version == 5 ? "5.0" : "3.1.1");
	fflush(stdout);
	return ok == cf->sessions ? 0 : 1;
}
