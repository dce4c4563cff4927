/* SPDX-License-Identifier: BSD-3-Clause */
/* The "stats" answer, built from the dataplane's counters area, and the counters' rates. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/lathist.h>

#include "control.h"
#include "gateways.h"
#include "jsonx.h"

int
sl_ctl_counters(struct sl_ctl *ctl, struct sl_ctrs_view *v)
{
	int rc = sl_sync_counters(ctl->sync, v);

	if (rc < 0)
		return rc;
	if (v->sample_ns == 0) {
		/* Attached before the dataplane's first sample. */
		sl_ctrs_view_free(v);
		return -EAGAIN;
	}
	return 0;
}

/* One value as its kind reads. */
static json_t *
value_json(uint8_t kind, uint64_t v)
{
	switch (kind) {
	case SL_CTRS_K_BOOL:
		return json_boolean(v != 0);
	case SL_CTRS_K_DURABILITY:
		return json_string(sl_durability_name((unsigned)v));
	case SL_CTRS_K_BACKPRESSURE:
		return json_string(sl_backpressure_name((unsigned)v));
	case SL_CTRS_K_IDLE:
		return json_string(v ? "backoff" : "busy");
	default:
		return sl_json_u64(v);
	}
}

/* The values of a slot into object @o, by label. */
static void
slot_into(json_t *o, const struct sl_ctrs_type *t, const uint64_t *vals)
{
	uint32_t i;

	for (i = 0; i < t->n_values; i++)
		json_object_set_new(o, t->labels[i], value_json(t->kinds[i], vals[i]));
}

/* Sum, by label, of every slot of type @type (counters, drops: one slot
 * per worker and one for the main lcore). */
static json_t *
sum_json(const struct sl_ctrs_view *v, int type)
{
	const struct sl_ctrs_type *t = type >= 0 ? &v->types[type] : NULL;
	uint64_t sum[SL_CTRS_MAX_VALUES] = { 0 };
	const struct sl_ctrs_meta *m;
	const uint64_t *vals;
	json_t *o = json_object();
	uint32_t i, k;

	for (i = 0; t != NULL && i < v->hdr->n_slots; i++) {
		m = sl_ctrs_view_slot(v, i, NULL, &vals);
		if (m == NULL || (int)m->type != type)
			continue;
		for (k = 0; k < t->n_values; k++)
			sum[k] += vals[k];
	}
	if (t != NULL)
		slot_into(o, t, sum);
	return o;
}

static int
by_owner(const void *a, const void *b)
{
	const struct sl_ctrs_meta *x = *(const struct sl_ctrs_meta *const *)a;
	const struct sl_ctrs_meta *y = *(const struct sl_ctrs_meta *const *)b;

	return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* One object per slot of type @type, in owner order, the owner as @owner_key
 * (and the key as "name" when @named). */
static json_t *
list_json(const struct sl_ctrs_view *v, int type, const char *owner_key, int named)
{
	const struct sl_ctrs_meta **ms;
	const struct sl_ctrs_type *t;
	const uint64_t *vals;
	json_t *a = json_array();
	uint32_t i, n = 0;

	ms = type >= 0 ? malloc(v->hdr->n_slots * sizeof(*ms)) : NULL;
	for (i = 0; ms != NULL && i < v->hdr->n_slots; i++) {
		const struct sl_ctrs_meta *m = sl_ctrs_view_slot(v, i, NULL, NULL);

		if (m != NULL && (int)m->type == type)
			ms[n++] = m;
	}
	if (n > 1)
		qsort(ms, n, sizeof(*ms), by_owner);
	for (i = 0; i < n; i++) {
		json_t *o = json_object();
		uint32_t slot = (uint32_t)(ms[i] - v->meta);

		sl_ctrs_view_slot(v, slot, &t, &vals);
		if (named)
			json_object_set_new(o, "name", json_string(ms[i]->key));
		json_object_set_new(o, owner_key, json_integer(ms[i]->owner));
		slot_into(o, t, vals);
		json_array_append_new(a, o);
	}
	free(ms);
	return a;
}

/* The slot of type @name owned by the main lcore, or NULL. */
static const struct sl_ctrs_meta *
main_slot(const struct sl_ctrs_view *v, const char *name, const struct sl_ctrs_type **t,
	  const uint64_t **vals)
{
	int type = sl_ctrs_view_type(v, name);
	const struct sl_ctrs_meta *m;
	uint32_t i;

	for (i = 0; type >= 0 && i < v->hdr->n_slots; i++) {
		m = sl_ctrs_view_slot(v, i, t, vals);
		if (m != NULL && (int)m->type == type && m->owner == SL_CTRS_OWNER_MAIN)
			return m;
	}
	return NULL;
}

/* A value of a slot by label; @dflt when the area has no such label. */
static uint64_t
label_value(const struct sl_ctrs_type *t, const uint64_t *vals, const char *label, uint64_t dflt)
{
	uint32_t i;

	for (i = 0; t != NULL && i < t->n_values; i++)
		if (strcmp(t->labels[i], label) == 0)
			return vals[i];
	return dflt;
}

double
sl_ctl_uptime_s(const struct sl_ctrs_view *v)
{
	const struct sl_ctrs_type *t = NULL;
	const uint64_t *vals = NULL;
	uint64_t start = main_slot(v, "dataplane", &t, &vals) ? label_value(t, vals, "start_ns", 0)
							      : 0;

	return start && v->sample_ns > start ? (double)(v->sample_ns - start) / 1e9 : 0.0;
}

static int
by_key(const void *a, const void *b)
{
	const struct sl_ctrs_meta *x = *(const struct sl_ctrs_meta *const *)a;
	const struct sl_ctrs_meta *y = *(const struct sl_ctrs_meta *const *)b;

	return strcmp(x->key, y->key);
}

/*
 * The live slots of type @name whose key starts with @prefix (all when
 * NULL), in key order, into a new array @out (free it). Returns how many;
 * 0 when none, the type is absent, or out of memory (then *@out is NULL).
 */
static uint32_t
slots_by_key(const struct sl_ctrs_view *v, const char *name, const char *prefix,
	     const struct sl_ctrs_meta ***out)
{
	int type = sl_ctrs_view_type(v, name);
	const struct sl_ctrs_meta **ms;
	uint32_t i, n = 0;

	*out = NULL;
	ms = type >= 0 ? malloc(v->hdr->n_slots * sizeof(*ms)) : NULL;
	for (i = 0; ms != NULL && i < v->hdr->n_slots; i++) {
		const struct sl_ctrs_meta *m = sl_ctrs_view_slot(v, i, NULL, NULL);

		if (m != NULL && (int)m->type == type &&
		    (prefix == NULL || strncmp(m->key, prefix, strlen(prefix)) == 0))
			ms[n++] = m;
	}
	if (n > 1)
		qsort(ms, n, sizeof(*ms), by_key);
	if (n == 0)
		free(ms);
	else
		*out = ms;
	return n;
}

/* A slot's values into a new object whose first members are the key's
 * space-separated parts named by @names (@n of them; the last takes the
 * rest of the key). */
static json_t *
keyed_json(const struct sl_ctrs_view *v, const struct sl_ctrs_meta *m, const char *const *names,
	   unsigned n)
{
	const struct sl_ctrs_type *t;
	const uint64_t *vals;
	const char *k = m->key, *sp;
	json_t *o = json_object();
	unsigned i;

	for (i = 0; i < n; i++) {
		sp = i + 1 < n ? strchr(k, ' ') : NULL;
		json_object_set_new(o, names[i], sp != NULL ? json_stringn(k, (size_t)(sp - k))
							   : json_string(k));
		k = sp != NULL ? sp + 1 : k + strlen(k);
	}
	sl_ctrs_view_slot(v, (uint32_t)(m - v->meta), &t, &vals);
	slot_into(o, t, vals);
	return o;
}

json_t *
sl_ctl_groups_json(const struct sl_ctrs_view *v)
{
	static const char *const names[] = { "topic", "group" };
	const struct sl_ctrs_meta **ms;
	uint32_t i, n = slots_by_key(v, "group", NULL, &ms);
	json_t *a = json_array();

	for (i = 0; i < n; i++)
		json_array_append_new(a, keyed_json(v, ms[i], names, 2));
	free(ms);
	return a;
}

json_t *
sl_ctl_group_members_json(const struct sl_ctrs_view *v, const char *topic, const char *group)
{
	static const char *const names[] = { "topic", "group", "member" };
	const struct sl_ctrs_meta **ms;
	char prefix[SL_CTRS_KEY_LEN];
	json_t *a = json_array(), *o;
	uint32_t i, n;

	if (snprintf(prefix, sizeof(prefix), "%s %s ", topic, group) >= (int)sizeof(prefix))
		return a;
	n = slots_by_key(v, "gmember", prefix, &ms);
	for (i = 0; i < n; i++) {
		o = keyed_json(v, ms[i], names, 3);
		json_object_del(o, "topic");
		json_object_del(o, "group");
		json_array_append_new(a, o);
	}
	free(ms);
	return a;
}

/* One metric's histogram as `sluicectl stats` shows it: count, sum and
 * the percentiles (bucket upper bounds, within 3.1%), in ns. */
static json_t *
lat_json(const struct sl_lh_sum *h)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "count", sl_json_u64(h->count), "sum_ns", sl_json_u64(h->sum),
			 "p50", sl_json_u64(sl_lh_percentile(h, 50)),
			 "p90", sl_json_u64(sl_lh_percentile(h, 90)),
			 "p99", sl_json_u64(sl_lh_percentile(h, 99)),
			 "p99_9", sl_json_u64(sl_lh_percentile(h, 99.9)),
			 "max", sl_json_u64(sl_lh_percentile(h, 100)));
}

json_t *
sl_ctl_latency_json(const struct sl_ctrs_view *v)
{
	const struct sl_lh_hdr *s = sl_lh_section(v->hdr);
	struct sl_lh_sum *h = malloc(sizeof(*h));
	json_t *a = json_array(), *o;
	uint32_t i;
	unsigned k;

	for (i = 0; s != NULL && h != NULL && i < s->n_slots; i++) {
		const struct sl_ctrs_meta *m = sl_lh_meta(v->hdr, s, i);

		if (m->state != SL_CTRS_LIVE)
			continue;
		o = json_pack("{s:s, s:I}", "name", m->key, "id", (json_int_t)m->owner);
		for (k = 0; k < SL_LH_M_MAX; k++) {
			sl_lh_sum(v->hdr, i, k, h);
			json_object_set_new(o, sl_lh_metric_names[k], lat_json(h));
		}
		json_array_append_new(a, o);
	}
	free(h);
	return a;
}

json_t *
sl_ctl_stats_json(const struct sl_ctrs_view *v)
{
	const struct sl_ctrs_type *t = NULL;
	const uint64_t *vals = NULL;
	const struct sl_ctrs_meta *dp = main_slot(v, "dataplane", &t, &vals);
	json_t *o = json_object();

	/* Top-level members as the dataplane's snapshot always had them. */
	json_object_set_new(o, "ts_ns", sl_json_u64(v->sample_ns));
	json_object_set_new(o, "pid", sl_json_u64(dp ? label_value(t, vals, "pid", 0) : 0));
	json_object_set_new(o, "uptime_s", sl_json_real(sl_ctl_uptime_s(v)));
	json_object_set_new(o, "auth_required",
			    sl_json_u64(dp ? label_value(t, vals, "auth_required", 0) : 0));
	json_object_set_new(o, "idle", json_string(dp && label_value(t, vals, "idle", 0)
						       ? "backoff" : "busy"));
	json_object_set_new(o, "topic_slots_full",
			    sl_json_u64(dp ? label_value(t, vals, "topic_slots_full", 0) : 0));
	json_object_set_new(o, "counters", sum_json(v, sl_ctrs_view_type(v, "counters")));
	json_object_set_new(o, "drops", sum_json(v, sl_ctrs_view_type(v, "drops")));
	json_object_set_new(o, "authz", sum_json(v, sl_ctrs_view_type(v, "authz")));
	json_object_set_new(o, "workers",
			    list_json(v, sl_ctrs_view_type(v, "worker"), "worker", 0));
	json_object_set_new(o, "ports", list_json(v, sl_ctrs_view_type(v, "port"), "port", 0));
	json_object_set_new(o, "topics", list_json(v, sl_ctrs_view_type(v, "topic"), "id", 1));
	json_object_set_new(o, "groups", sl_ctl_groups_json(v));
	json_object_set_new(o, "latency", sl_ctl_latency_json(v));
	json_object_set_new(o, "hist_no_slot",
			    sl_json_u64(sl_lh_section(v->hdr) ? sl_lh_section(v->hdr)->no_slot : 0));
	return o;
}

int
sl_ctl_snapshot(struct sl_ctl *ctl, json_t **out)
{
	struct sl_ctrs_view v;
	int rc = sl_ctl_counters(ctl, &v);

	*out = NULL;
	if (rc < 0)
		return rc;
	*out = sl_ctl_stats_json(&v);
	sl_ctrs_view_free(&v);
	if (*out != NULL)
		json_object_set_new(*out, "gateways", sl_ctl_gateways_json(ctl->name));
	return *out != NULL ? 0 : -ENOMEM;
}

/* ---- rates ---- */

/* The counts (kind count) of every topic slot: {"ID":{"name":..., LABEL: n}}. */
static json_t *
topic_counts(const struct sl_ctrs_view *v)
{
	int type = sl_ctrs_view_type(v, "topic");
	const struct sl_ctrs_type *t;
	const struct sl_ctrs_meta *m;
	const uint64_t *vals;
	json_t *o = json_object(), *e;
	char id[16];
	uint32_t i, k;

	for (i = 0; type >= 0 && i < v->hdr->n_slots; i++) {
		m = sl_ctrs_view_slot(v, i, &t, &vals);
		if (m == NULL || (int)m->type != type)
			continue;
		e = json_object();
		json_object_set_new(e, "name", json_string(m->key));
		for (k = 0; k < t->n_values; k++)
			if (t->kinds[k] == SL_CTRS_K_COUNT)
				json_object_set_new(e, t->labels[k], sl_json_u64(vals[k]));
		/* Topic ids are never reused: the id alone names one topic. */
		snprintf(id, sizeof(id), "%u", m->owner);
		json_object_set_new(o, id, e);
	}
	return o;
}

/*
 * Rates are computed here and nowhere else: every SL_CTL_RATE_PERIOD_MS the
 * daemon takes the counts of the area (counters and drops summed over
 * their owners, each topic's counts) and keeps the two latest samples; a
 * rate is the difference over their sample times (the dataplane's clock,
 * sample_ns). A count that went back (the dataplane restarted) has no rate
 * until the next interval.
 */
void
sl_ctl_rates_tick(struct sl_ctl *ctl, uint64_t now_ns)
{
	struct sl_ctl_rates *r = &ctl->rates;
	struct sl_ctrs_view v;
	json_t *cur;

	if (now_ns < r->next_ns)
		return;
	r->next_ns = now_ns + SL_CTL_RATE_PERIOD_MS * 1000000ull;
	if (sl_ctl_counters(ctl, &v) < 0) {
		json_decref(r->last);
		json_decref(r->base);
		r->last = r->base = NULL;
		return;
	}
	if (r->last != NULL && v.sample_ns == r->last_ns) {
		sl_ctrs_view_free(&v);
		return;
	}
	cur = json_pack("{s:o, s:o, s:o}",
			"counters", sum_json(&v, sl_ctrs_view_type(&v, "counters")),
			"drops", sum_json(&v, sl_ctrs_view_type(&v, "drops")),
			"topics", topic_counts(&v));
	json_decref(r->base);
	r->base = r->last;
	r->base_ns = r->last_ns;
	r->last = cur;
	r->last_ns = v.sample_ns;
	sl_ctrs_view_free(&v);
}

/* Per-second rates of the integer members of @cur against @base. */
static json_t *
rates_of(const json_t *cur, const json_t *base, double dt)
{
	json_t *o = json_object(), *val, *b;
	const char *key;

	json_object_foreach((json_t *)cur, key, val) {
		b = json_object_get(base, key);
		if (!json_is_integer(val) || !json_is_integer(b) ||
		    json_integer_value(val) < json_integer_value(b))
			continue;
		json_object_set_new(o, key, sl_json_real((double)(json_integer_value(val) -
								  json_integer_value(b)) / dt));
	}
	return o;
}

json_t *
sl_ctl_rates_json(const struct sl_ctl *ctl)
{
	const struct sl_ctl_rates *r = &ctl->rates;
	double dt = r->base != NULL && r->last_ns > r->base_ns
			    ? (double)(r->last_ns - r->base_ns) / 1e9 : 0;
	const json_t *topics, *bt, *t;
	json_t *o = json_object(), *arr, *e;
	const char *id;

	if (dt <= 0)
		return o;
	json_object_set_new(o, "counters", rates_of(json_object_get(r->last, "counters"),
						    json_object_get(r->base, "counters"), dt));
	json_object_set_new(o, "drops", rates_of(json_object_get(r->last, "drops"),
						 json_object_get(r->base, "drops"), dt));
	topics = json_object_get(r->last, "topics");
	bt = json_object_get(r->base, "topics");
	arr = json_array();
	json_object_foreach((json_t *)topics, id, t) {
		if (json_object_get(bt, id) == NULL)
			continue; /* new since the base sample */
		e = rates_of(t, json_object_get(bt, id), dt);
		json_object_set(e, "name", json_object_get(t, "name"));
		json_array_append_new(arr, e);
	}
	json_object_set_new(o, "topics", arr);
	return o;
}

void
sl_ctl_rates_fini(struct sl_ctl *ctl)
{
	json_decref(ctl->rates.last);
	json_decref(ctl->rates.base);
	memset(&ctl->rates, 0, sizeof(ctl->rates));
}
