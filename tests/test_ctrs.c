/* SPDX-License-Identifier: BSD-3-Clause */
/* The counters area: written as the dataplane does, read as sluice-control does (stats, metrics). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/ctrs.h>
#include <common/lathist.h>

#include "authz.h"
#include "control.h"
#include "counters.h"
#include "jsonx.h"

#include "check.h"

/* A zeroed, formatted area of @n slots with the dataplane's types. */
static struct sl_ctrs_hdr *
area_new(uint32_t n, size_t *size)
{
	struct sl_ctrs_hdr *a;

	*size = sl_ctrs_area_size(n);
	a = calloc(1, *size);
	CHECK(a != NULL && sl_ctrs_format(a, *size, n) == 0);
	CHECK(sl_stats_define_types(a) == 0);
	return a;
}

static void
test_layout(void)
{
	struct sl_ctrs_view v;
	uint32_t found;
	size_t size;
	struct sl_ctrs_hdr *a = area_new(10, &size);

	CHECK(size == 128 + SL_CTRS_MAX_TYPES * sizeof(struct sl_ctrs_type) +
			      10 * (256 + SL_CTRS_MAX_VALUES * 8));
	CHECK(sl_ctrs_check(a, size, &found) == 0 && found == SL_CTRS_VERSION);
	/* Geometry that does not fit what is mapped: not copied. */
	CHECK(sl_ctrs_check(a, size - 1, &found) == -EINVAL);
	CHECK(sl_ctrs_view_take(a, size - 1, &v) == -EPROTO && v.buf == NULL);
	/* An area of another version: refused, its version told. */
	a->version = SL_CTRS_VERSION + 1;
	CHECK(sl_ctrs_check(a, size, &found) == -EPROTO && found == SL_CTRS_VERSION + 1);
	a->version = SL_CTRS_VERSION;
	a->values_per_slot = 32;
	CHECK(sl_ctrs_check(a, size, &found) == -EPROTO);
	a->values_per_slot = SL_CTRS_MAX_VALUES;
	a->magic ^= 1;
	CHECK(sl_ctrs_check(a, size, &found) == -EPROTO && found == 0);
	free(a);
	a = calloc(1, 64);
	CHECK(sl_ctrs_format(a, 64, 1) == -EINVAL);
	free(a);
}

/* The labels a reader finds are the dataplane's X-macro lists, in order. */
static void
test_labels(void)
{
	size_t size;
	struct sl_ctrs_hdr *a = area_new(4, &size);
	struct sl_ctrs_view v;
	const struct sl_ctrs_type *t;
	unsigned i;
	int ty;

	CHECK(sl_ctrs_view_take(a, size, &v) == 0);
	ty = sl_ctrs_view_type(&v, "counters");
	CHECK(ty == SL_STATS_T_COUNTERS);
	t = &v.types[ty];
	CHECK(t->n_values == SL_CTR_MAX);
	for (i = 0; i < SL_CTR_MAX; i++)
		CHECK(strcmp(t->labels[i], sl_ctr_names[i]) == 0 && t->kinds[i] == SL_CTRS_K_COUNT);
	t = &v.types[sl_ctrs_view_type(&v, "drops")];
	CHECK(t->n_values == SL_DROP_MAX && strcmp(t->labels[SL_DROP_bad_mac], "bad_mac") == 0);
	t = &v.types[sl_ctrs_view_type(&v, "topic")];
	CHECK(strcmp(t->labels[SL_STATS_published], "published") == 0);
	CHECK(t->kinds[SL_STATS_published] == SL_CTRS_K_COUNT);
	CHECK(t->kinds[SL_STATS_subscribers] == SL_CTRS_K_GAUGE);
	CHECK(t->kinds[SL_STATS_durability] == SL_CTRS_K_DURABILITY);
	t = &v.types[sl_ctrs_view_type(&v, "authz")];
	CHECK(t->n_values == SL_STATS_AUTHZ_MAX &&
	      strcmp(t->labels[SL_STATS_AUTHZ_tables_published], "tables_published") == 0);
	CHECK(sl_ctrs_view_type(&v, "nonesuch") == -1);
	sl_ctrs_view_free(&v);
	free(a);
}

static int
topic_new(struct sl_ctrs_hdr *a, uint32_t id, const char *name, uint64_t published)
{
	int s = sl_ctrs_slot_alloc(a, SL_STATS_T_TOPIC, id, name);

	if (s >= 0) {
		sl_ctrs_set(&sl_ctrs_values(a, s)[SL_STATS_published], published);
		sl_ctrs_set(&sl_ctrs_values(a, s)[SL_STATS_durability], SL_DUR_SYNC);
		sl_ctrs_set(&sl_ctrs_values(a, s)[SL_STATS_backpressure], SL_BP_BLOCK);
	}
	return s;
}

/* A fake dataplane: the slots main lcore and one worker fill. */
static void
fake_dataplane(struct sl_ctrs_hdr *a)
{
	int dp = sl_ctrs_slot_alloc(a, SL_STATS_T_DATAPLANE, SL_CTRS_OWNER_MAIN, NULL);
	int c0 = sl_ctrs_slot_alloc(a, SL_STATS_T_COUNTERS, 0, NULL);
	int cm = sl_ctrs_slot_alloc(a, SL_STATS_T_COUNTERS, SL_CTRS_OWNER_MAIN, NULL);
	int d0 = sl_ctrs_slot_alloc(a, SL_STATS_T_DROPS, 0, NULL);
	int w0 = sl_ctrs_slot_alloc(a, SL_STATS_T_WORKER, 0, NULL);
	int az = sl_ctrs_slot_alloc(a, SL_STATS_T_AUTHZ, SL_CTRS_OWNER_MAIN, NULL);

	CHECK(dp >= 0 && c0 >= 0 && cm >= 0 && d0 >= 0 && w0 >= 0 && az >= 0);
	sl_ctrs_sample_begin(a);
	sl_ctrs_set(&sl_ctrs_values(a, dp)[SL_STATS_pid], 4242);
	sl_ctrs_set(&sl_ctrs_values(a, dp)[SL_STATS_start_ns], 1000000000ull);
	sl_ctrs_set(&sl_ctrs_values(a, dp)[SL_STATS_auth_required], 1);
	sl_ctrs_set(&sl_ctrs_values(a, dp)[SL_STATS_idle], 1);
	sl_ctrs_set(&sl_ctrs_values(a, c0)[SL_CTR_publishes], 30);
	sl_ctrs_set(&sl_ctrs_values(a, cm)[SL_CTR_publishes], 12);
	sl_ctrs_set(&sl_ctrs_values(a, cm)[SL_CTR_cnc_commands], 5);
	sl_ctrs_set(&sl_ctrs_values(a, d0)[SL_DROP_bad_mac], 3);
	sl_ctrs_set(&sl_ctrs_values(a, w0)[SL_STATS_lcore], 1);
	sl_ctrs_set(&sl_ctrs_values(a, w0)[SL_STATS_sessions], 2);
	sl_ctrs_set(&sl_ctrs_values(a, az)[SL_STATS_AUTHZ_tables_published], 9);
	sl_ctrs_sample_end(a, 3500000000ull);
}

static uint64_t
jnum(const json_t *o, const char *k)
{
	uint64_t u = UINT64_MAX;

	sl_jget_u64(o, k, &u);
	return u;
}

/* The stats answer as sluicectl and the tests know it, from the area. */
static void
test_stats_json(void)
{
	size_t size;
	struct sl_ctrs_hdr *a = area_new(16, &size);
	struct sl_ctrs_view v;
	const json_t *t;
	const char *s;
	json_t *o;

	fake_dataplane(a);
	CHECK(topic_new(a, 7, "orders.\"eu\"\n", 11) >= 0);
	CHECK(topic_new(a, 2, "ticks", 5) >= 0);
	CHECK(sl_ctrs_view_take(a, size, &v) == 0 && v.consistent);
	o = sl_ctl_stats_json(&v);
	CHECK(o != NULL);
	CHECK(jnum(o, "ts_ns") == 3500000000ull && jnum(o, "pid") == 4242);
	CHECK(json_real_value(json_object_get(o, "uptime_s")) == 2.5);
	CHECK(jnum(o, "auth_required") == 1);
	CHECK(sl_jget_str(o, "idle", &s) == 0 && strcmp(s, "backoff") == 0);
	/* Summed over the worker and the main lcore. */
	CHECK(jnum(json_object_get(o, "counters"), "publishes") == 42);
	CHECK(jnum(json_object_get(o, "counters"), "cnc_commands") == 5);
	CHECK(json_object_size(json_object_get(o, "counters")) == SL_CTR_MAX);
	CHECK(jnum(json_object_get(o, "drops"), "bad_mac") == 3);
	CHECK(jnum(json_object_get(o, "authz"), "tables_published") == 9);
	t = json_array_get(json_object_get(o, "workers"), 0);
	CHECK(jnum(t, "worker") == 0 && jnum(t, "lcore") == 1 && jnum(t, "sessions") == 2);
	/* Topics in id order, names exactly as given. */
	CHECK(json_array_size(json_object_get(o, "topics")) == 2);
	t = json_array_get(json_object_get(o, "topics"), 0);
	CHECK(jnum(t, "id") == 2 && sl_jget_str(t, "name", &s) == 0 && strcmp(s, "ticks") == 0);
	t = json_array_get(json_object_get(o, "topics"), 1);
	CHECK(sl_jget_str(t, "name", &s) == 0 && strcmp(s, "orders.\"eu\"\n") == 0);
	CHECK(jnum(t, "published") == 11);
	CHECK(sl_jget_str(t, "durability", &s) == 0 && strcmp(s, "sync") == 0);
	CHECK(sl_jget_str(t, "backpressure", &s) == 0 && strcmp(s, "block") == 0);
	CHECK(json_is_false(json_object_get(t, "deleted")));
	json_decref(o);
	sl_ctrs_view_free(&v);
	free(a);
}

/* A freed slot is reused for another topic with a new generation; a slot
 * the writer is changing is never shown. */
static void
test_reuse(void)
{
	size_t size;
	struct sl_ctrs_hdr *a = area_new(2, &size);
	const struct sl_ctrs_meta *m;
	struct sl_ctrs_meta *live;
	struct sl_ctrs_view v;
	const uint64_t *vals;
	uint64_t seq;
	int s1, s2;

	s1 = topic_new(a, 1, "old", 100);
	CHECK(s1 >= 0 && topic_new(a, 2, "other", 1) >= 0);
	CHECK(topic_new(a, 3, "full", 1) == -ENOSPC && a->alloc_failed == 1);
	live = (struct sl_ctrs_meta *)((uint8_t *)a + a->meta_off) + s1;
	seq = live->seq;
	CHECK(seq % 2 == 0 && seq > 0);
	sl_ctrs_slot_free(a, s1);
	CHECK(live->seq == seq + 2 && live->state == SL_CTRS_FREE);
	s2 = topic_new(a, 3, "new", 0);
	CHECK(s2 == s1 && live->seq == seq + 4);
	CHECK(sl_ctrs_view_take(a, size, &v) == 0);
	m = sl_ctrs_view_slot(&v, (uint32_t)s2, NULL, &vals);
	/* The new owner's values start from zero: nothing of "old" is left. */
	CHECK(m != NULL && m->owner == 3 && strcmp(m->key, "new") == 0);
	CHECK(vals[SL_STATS_published] == 0);
	sl_ctrs_view_free(&v);
	/* Caught mid-change (odd seq): the reader skips the slot. */
	live->seq++;
	CHECK(sl_ctrs_view_take(a, size, &v) == 0);
	CHECK(sl_ctrs_view_slot(&v, (uint32_t)s2, NULL, NULL) == NULL);
	CHECK(sl_ctrs_view_slot(&v, (uint32_t)!s2, NULL, NULL) != NULL);
	sl_ctrs_view_free(&v);
	live->seq++;
	/* A sample in progress: the copy says it is not of one instant. */
	sl_ctrs_sample_begin(a);
	CHECK(sl_ctrs_view_take(a, size, &v) == 0 && !v.consistent);
	sl_ctrs_view_free(&v);
	sl_ctrs_sample_end(a, 1);
	CHECK(sl_ctrs_view_take(a, size, &v) == 0 && v.consistent);
	sl_ctrs_view_free(&v);
	free(a);
}

/* 5,000 topics (the JSON snapshot stopped at about 1,000), deletions and
 * re-creations reusing slots; every topic in stats and in /metrics. */
static void
test_many_topics(void)
{
	enum { N = 5000 };
	size_t size, len = 0;
	struct sl_ctrs_hdr *a = area_new(N + 8, &size);
	int slot[N + 1000];
	struct sl_ctrs_view v;
	char name[32], *text, *met = NULL;
	const char *s;
	json_t *o, *topics;
	uint32_t i;
	FILE *f;

	fake_dataplane(a);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "t.%u", i);
		slot[i] = topic_new(a, i + 1, name, i);
		CHECK(slot[i] >= 0);
	}
	/* Delete 1,000, create 1,000 more: the area never runs out. */
	for (i = 0; i < 1000; i++)
		sl_ctrs_slot_free(a, slot[i * 5]);
	for (i = N; i < N + 1000; i++) {
		snprintf(name, sizeof(name), "t.%u", i);
		slot[i] = topic_new(a, i + 1, name, i);
		CHECK(slot[i] >= 0);
	}
	CHECK(a->alloc_failed == 0);
	CHECK(sl_ctrs_view_take(a, size, &v) == 0);
	o = sl_ctl_stats_json(&v);
	topics = json_object_get(o, "topics");
	CHECK(json_array_size(topics) == N);
	for (i = 0; i < json_array_size(topics); i++) {
		const json_t *t = json_array_get(topics, i);
		uint64_t id = jnum(t, "id");

		snprintf(name, sizeof(name), "t.%llu", (unsigned long long)(id - 1));
		if (sl_jget_str(t, "name", &s) < 0 || strcmp(s, name) != 0 ||
		    jnum(t, "published") != id - 1 || ((id - 1) % 5 == 0 && id - 1 < N)) {
			CHECK(0);
			break;
		}
	}
	text = json_dumps(o, SL_JSON_DUMP_FLAGS);
	CHECK(text != NULL && strlen(text) > 256 * 1024);
	free(text);
	json_decref(o);
	f = open_memstream(&met, &len);
	sl_metrics_render_view(&v, f);
	fclose(f);
	CHECK(strstr(met, "\nsluice_topic_published_total{topic=\"t.5999\"} 5999\n") != NULL);
	CHECK(strstr(met, "{topic=\"t.5\"}") == NULL); /* deleted */
	CHECK(strstr(met, "\nsluice_publishes_total 42\n") != NULL);
	CHECK(strstr(met, "\nsluice_drops_total{reason=\"bad_mac\"} 3\n") != NULL);
	CHECK(strstr(met, "\nsluice_authz_tables_published_total 9\n") != NULL);
	CHECK(strstr(met, "\nsluice_worker_sessions{worker=\"0\"} 2\n") != NULL);
	CHECK(strstr(met, "# TYPE sluice_topic_subscribers gauge\n") != NULL);
	free(met);
	sl_ctrs_view_free(&v);
	free(a);
}

/* Latency histograms: the stats answer's percentiles and /metrics'
 * Prometheus histogram, from two workers' blocks added up. */
static void
test_latency(void)
{
	size_t size = sl_ctrs_area_size_h(8, 2, 2), len = 0;
	struct sl_ctrs_hdr *a = calloc(1, size);
	struct sl_lh_hdr *s;
	struct sl_ctrs_view v;
	json_t *o, *l, *m;
	char *met = NULL;
	FILE *f;

	CHECK(a != NULL && sl_ctrs_format_h(a, size, 8, 2, 2) == 0);
	CHECK(sl_stats_define_types(a) == 0);
	s = sl_lh_section(a);
	sl_lh_slot_take(a, 1, 3, "orders.eu");
	s->no_slot = 2;
	/* 90 persisted at 1000 ns on worker 0, 10 at 100 us on worker 1. */
	sl_lh_record_n(sl_lh_block(a, s, 1, 0, SL_LH_M_persisted), 1000, 90);
	sl_lh_record_n(sl_lh_block(a, s, 1, 1, SL_LH_M_persisted), 100000, 10);
	sl_lh_record_n(sl_lh_block(a, s, 1, 1, SL_LH_M_delivered_shm), 700, 5);
	sl_ctrs_sample_begin(a);
	sl_ctrs_sample_end(a, 1);
	CHECK(sl_ctrs_view_take(a, size, &v) == 0);
	o = sl_ctl_stats_json(&v);
	CHECK(jnum(o, "hist_no_slot") == 2);
	l = json_object_get(o, "latency");
	CHECK(json_array_size(l) == 1);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(l, 0), "name")),
		     "orders.eu") == 0);
	CHECK(jnum(json_array_get(l, 0), "id") == 3);
	m = json_object_get(json_array_get(l, 0), "persisted");
	CHECK(jnum(m, "count") == 100 && jnum(m, "sum_ns") == 90 * 1000 + 10 * 100000);
	/* 1000 is in 992..1007; 100000 in 98304..100351. */
	CHECK(jnum(m, "p50") == 1007 && jnum(m, "p90") == 1007);
	CHECK(jnum(m, "p99") == 100351 && jnum(m, "max") == 100351);
	m = json_object_get(json_array_get(l, 0), "delivered_shm");
	CHECK(jnum(m, "count") == 5 && jnum(m, "p99_9") == 703);
	CHECK(jnum(json_object_get(json_array_get(l, 0), "lag"), "count") == 0);
	json_decref(o);

	f = open_memstream(&met, &len);
	sl_metrics_render_view(&v, f);
	fclose(f);
	CHECK(strstr(met, "# TYPE sluice_topic_latency_seconds histogram\n") != NULL);
	/* Cumulative, at bucket edges: none to 767 ns, 90 to 1023 ns, 100 to 131 us. */
	CHECK(strstr(met, "\nsluice_topic_latency_seconds_bucket{topic=\"orders.eu\",stage=\""
			  "persisted\",le=\"7.67e-07\"} 0\n") != NULL);
	CHECK(strstr(met, "\nsluice_topic_latency_seconds_bucket{topic=\"orders.eu\",stage=\""
			  "persisted\",le=\"1.023e-06\"} 90\n") != NULL);
	CHECK(strstr(met, "\nsluice_topic_latency_seconds_bucket{topic=\"orders.eu\",stage=\""
			  "persisted\",le=\"9.8303e-05\"} 90\n") != NULL);
	CHECK(strstr(met, "\nsluice_topic_latency_seconds_bucket{topic=\"orders.eu\",stage=\""
			  "persisted\",le=\"0.000131071\"} 100\n") != NULL);
	CHECK(strstr(met, "\nsluice_topic_latency_seconds_bucket{topic=\"orders.eu\",stage=\""
			  "persisted\",le=\"+Inf\"} 100\n") != NULL);
	CHECK(strstr(met, "\nsluice_topic_latency_seconds_sum{topic=\"orders.eu\",stage=\""
			  "persisted\"} 0.00109\n") != NULL);
	CHECK(strstr(met, "\nsluice_topic_latency_seconds_count{topic=\"orders.eu\",stage=\""
			  "persisted\"} 100\n") != NULL);
	CHECK(strstr(met, "stage=\"delivered_shm\",le=\"5.11e-07\"} 0\n") != NULL);
	CHECK(strstr(met, "stage=\"delivered_shm\",le=\"7.67e-07\"} 5\n") != NULL);
	CHECK(strstr(met, "stage=\"lag\"") == NULL); /* nothing recorded */
	CHECK(strstr(met, "\nsluice_hist_no_slot_total 2\n") != NULL);
	free(met);
	sl_ctrs_view_free(&v);
	free(a);
}

int
main(void)
{
	test_layout();
	test_labels();
	test_stats_json();
	test_reuse();
	test_many_topics();
	test_latency();
	return check_result("ctrs");
}
