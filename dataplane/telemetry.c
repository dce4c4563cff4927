/* SPDX-License-Identifier: BSD-3-Clause */
/* rte_telemetry commands that expose the dataplane's counters while it runs. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "dataplane.h"
#include "lathist.h"
#include "shm_main.h"

/* Telemetry callbacks take no context argument; one dataplane per process. */
static struct sl_dp *g_dp;
/* Callbacks in progress, and whether the dataplane is being torn down:
 * teardown waits for the callbacks, which refuse once it started. */
static int tel_active, tel_stopping;

static int
tel_enter(void)
{
	__atomic_add_fetch(&tel_active, 1, __ATOMIC_SEQ_CST);
	/* Seq-cst pairs with sl_telemetry_stop: either it sees us active, or
	 * we see it stopping. */
	if (__atomic_load_n(&tel_stopping, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&tel_active, 1, __ATOMIC_RELEASE);
		return -EBUSY;
	}
	return 0;
}

static void
tel_leave(void)
{
	__atomic_sub_fetch(&tel_active, 1, __ATOMIC_RELEASE);
}

void
sl_telemetry_stop(void)
{
	__atomic_store_n(&tel_stopping, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&tel_active, __ATOMIC_ACQUIRE))
		rte_delay_us_sleep(100);
}

uint64_t
sl_dp_ctr_sum(const struct sl_dp *dp, unsigned idx, int drop)
{
	uint64_t v = sl_ctr_read(drop ? &dp->main_ctr.drop[idx] : &dp->main_ctr.ctr[idx]);
	unsigned i;

	for (i = 0; i < dp->n_workers; i++)
		v += sl_ctr_read(drop ? &dp->workers[i]->ctr.drop[idx]
				      : &dp->workers[i]->ctr.ctr[idx]);
	return v;
}

/* Losses the NIC (or the kernel under a virtual NIC) saw before any worker
 * did: not counted by reason, but never hidden. */
static void
port_drops(struct rte_tel_data *d)
{
	uint64_t missed = 0, errors = 0, nombuf = 0, oerrors = 0;
	struct rte_eth_stats st;
	unsigned i;

	for (i = 0; i < g_dp->n_ports; i++) {
		if (rte_eth_stats_get(g_dp->ports[i].port_id, &st) != 0)
			continue;
		missed += st.imissed;
		errors += st.ierrors;
		nombuf += st.rx_nombuf;
		oerrors += st.oerrors;
	}
	rte_tel_data_add_dict_u64(d, "port_imissed", missed);
	rte_tel_data_add_dict_u64(d, "port_ierrors", errors);
	rte_tel_data_add_dict_u64(d, "port_rx_nombuf", nombuf);
	rte_tel_data_add_dict_u64(d, "port_oerrors", oerrors);
}

static int
do_stats(const char *cmd __rte_unused, const char *params __rte_unused,
	  struct rte_tel_data *d)
{
	uint64_t sessions = 0, drops = 0;
	char key[64];
	unsigned i;

	rte_tel_data_start_dict(d);
	for (i = 0; i < SL_CTR_MAX; i++)
		rte_tel_data_add_dict_u64(d, sl_ctr_names[i], sl_dp_ctr_sum(g_dp, i, 0));
	for (i = 0; i < SL_DROP_MAX; i++) {
		uint64_t v = sl_dp_ctr_sum(g_dp, i, 1);

		snprintf(key, sizeof(key), "drop_%s", sl_drop_names[i]);
		rte_tel_data_add_dict_u64(d, key, v);
		drops += v;
	}
	rte_tel_data_add_dict_u64(d, "drops", drops);
	port_drops(d);
	for (i = 0; i < g_dp->n_workers; i++)
		sessions += __atomic_load_n(&g_dp->workers[i]->sessions.n_active, __ATOMIC_RELAXED);
	rte_tel_data_add_dict_u64(d, "sessions", sessions);
	rte_tel_data_add_dict_u64(d, "topics",
				  __atomic_load_n(&g_dp->route.n_topics, __ATOMIC_RELAXED));
	return 0;
}

static int
do_workers(const char *cmd __rte_unused, const char *params __rte_unused,
	    struct rte_tel_data *d)
{
	char key[32];
	unsigned i, j;

	rte_tel_data_start_dict(d);
	for (i = 0; i < g_dp->n_workers; i++) {
		struct sl_worker *w = g_dp->workers[i];
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "lcore", w->lcore);
		rte_tel_data_add_dict_u64(c, "port", g_dp->ports[w->port_idx].port_id);
		rte_tel_data_add_dict_u64(c, "queue", w->queue);
		rte_tel_data_add_dict_u64(c, "sessions",
					  __atomic_load_n(&w->sessions.n_active, __ATOMIC_RELAXED));
		for (j = SL_CTR_rx_pkts; j <= SL_CTR_tx_bytes; j++)
			rte_tel_data_add_dict_u64(c, sl_ctr_names[j], sl_ctr_read(&w->ctr.ctr[j]));
		rte_tel_data_add_dict_u64(c, "polls", sl_ctr_read(&w->ctr.ctr[SL_CTR_polls]));
		rte_tel_data_add_dict_u64(c, "idle_sleeps",
					  sl_ctr_read(&w->ctr.ctr[SL_CTR_idle_sleeps]));
		snprintf(key, sizeof(key), "worker%u", i);
		rte_tel_data_add_dict_container(d, key, c, 0);
	}
	return 0;
}

/* One topic's counters as a dict; names go in a value, since telemetry keys
 * may not contain the dots that topic names usually have. */
static struct rte_tel_data *
topic_dict(const struct sl_topic *t)
{
	const struct sl_topic_state *ts = sl_route_state(&g_dp->route, t->id);
	struct rte_tel_data *c = rte_tel_data_alloc();

	if (c == NULL)
		return NULL;
	rte_tel_data_start_dict(c);
	rte_tel_data_add_dict_string(c, "name", t->name);
	rte_tel_data_add_dict_u64(c, "id", t->id);
	rte_tel_data_add_dict_u64(c, "owner", t->owner);
	rte_tel_data_add_dict_u64(c, "subscribers",
				  __atomic_load_n(&ts->n_subs, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(c, "published", sl_ctr_read(&ts->published));
	rte_tel_data_add_dict_u64(c, "delivered", sl_ctr_read(&ts->delivered));
	rte_tel_data_add_dict_u64(c, "dropped", sl_ctr_read(&ts->dropped));
	rte_tel_data_add_dict_u64(c, "seq", sl_ctr_read(&ts->seq));
	rte_tel_data_add_dict_string(c, "durability", sl_durability_name(ts->durability));
	rte_tel_data_add_dict_string(c, "backpressure", sl_backpressure_name(ts->backpressure));
	rte_tel_data_add_dict_u64(c, "held", __atomic_load_n(&ts->bp_held, __ATOMIC_RELAXED));
	if (ts->journal) {
		rte_tel_data_add_dict_u64(c, "journal_first", sl_ctr_read(&ts->j_first));
		rte_tel_data_add_dict_u64(c, "journal_durable", sl_ctr_read(&ts->j_durable));
		rte_tel_data_add_dict_u64(c, "journal_bytes", sl_ctr_read(&ts->j_bytes));
		rte_tel_data_add_dict_u64(c, "journal_corrupt", sl_ctr_read(&ts->j_corrupt));
		rte_tel_data_add_dict_u64(c, "replay_gaps", sl_ctr_read(&ts->replay_gaps));
		rte_tel_data_add_dict_u64(c, "journal_full", sl_ctr_read(&ts->journal_full));
	}
	return c;
}

/*
 * A telemetry answer is at most 16 KiB of JSON (DPDK's MAX_OUTPUT_LEN) and
 * a dict at most RTE_TEL_MAX_DICT_ENTRIES entries; DPDK silently leaves
 * out what does not fit. So /sluice/topics lists topics only while a
 * generous bound on their JSON fits, and says how many it left out.
 */
#define TEL_OUTPUT_BUDGET (16384 - 512)

/* An upper bound on the JSON of topic_dict(@t) with its key: every name
 * byte escaped, every number 20 digits. */
static size_t
topic_json_bound(const struct sl_topic *t)
{
	return 64 + 2 * strlen(t->name) + 16 * (24 + 20);
}

/* /sluice/topics: the live topics, keyed "t<id>" since keys may hold only
 * [A-Za-z0-9_/], after "shown" and "omitted" (the topics that did not fit;
 * every topic is in sluicectl stats, /metrics and the CnC counters area);
 * /sluice/topics,NAME: one. */
static int
do_topics(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	uint32_t id, n = __atomic_load_n(&g_dp->route.n_topics, __ATOMIC_ACQUIRE);
	uint64_t live = 0, shown = 0;
	size_t used = 64;
	const struct sl_topic *t;
	struct rte_tel_data *c;

	if (params && params[0]) {
		id = sl_route_topic_lookup(&g_dp->route, params, (uint32_t)strlen(params));
		t = sl_route_topic_get(&g_dp->route, id);
		if (t == NULL)
			return -ENOENT;
		rte_tel_data_start_dict(d);
		c = topic_dict(t);
		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_add_dict_container(d, "topic", c, 0);
		return 0;
	}
	/* Count first: the counts go first, where they always fit. */
	for (id = 1; id <= n && id < g_dp->route.cap; id++) {
		t = sl_route_topic_get(&g_dp->route, id);
		if (t == NULL)
			continue;
		live++;
		if (shown < RTE_TEL_MAX_DICT_ENTRIES - 2 &&
		    used + topic_json_bound(t) <= TEL_OUTPUT_BUDGET) {
			used += topic_json_bound(t);
			shown++;
		}
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "shown", shown);
	rte_tel_data_add_dict_u64(d, "omitted", live - shown);
	for (id = 1; id <= n && id < g_dp->route.cap && shown > 0; id++) {
		char key[16];

		t = sl_route_topic_get(&g_dp->route, id);
		if (t == NULL)
			continue;
		c = topic_dict(t);
		if (c == NULL)
			return -ENOMEM;
		snprintf(key, sizeof(key), "t%u", id);
		rte_tel_data_add_dict_container(d, key, c, 0);
		shown--;
	}
	return 0;
}

/* One metric's histogram, the workers' blocks added up: count, sum and
 * percentiles in ns (bucket upper bounds, within 3.1%). */
static struct rte_tel_data *
latency_dict(struct sl_lh_sum *h)
{
	struct rte_tel_data *c = rte_tel_data_alloc();

	if (c == NULL)
		return NULL;
	rte_tel_data_start_dict(c);
	rte_tel_data_add_dict_u64(c, "count", h->count);
	rte_tel_data_add_dict_u64(c, "sum_ns", h->sum);
	rte_tel_data_add_dict_u64(c, "p50", sl_lh_percentile(h, 50));
	rte_tel_data_add_dict_u64(c, "p90", sl_lh_percentile(h, 90));
	rte_tel_data_add_dict_u64(c, "p99", sl_lh_percentile(h, 99));
	rte_tel_data_add_dict_u64(c, "p99_9", sl_lh_percentile(h, 99.9));
	rte_tel_data_add_dict_u64(c, "max", sl_lh_percentile(h, 100));
	return c;
}

/* /sluice/latency,NAME: topic NAME's latency histograms (docs/COUNTERS.md);
 * /sluice/latency: the topics that have histograms ("t<id>": name) and
 * how many topics found no slot. */
static int
do_latency(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	const struct sl_dp_lh *lh = g_dp->lh;
	struct rte_tel_data *c;
	struct sl_lh_sum *h;
	uint32_t id, n;
	int32_t slot;
	unsigned k;

	if (lh == NULL)
		return -ENOENT;
	rte_tel_data_start_dict(d);
	if (params == NULL || params[0] == '\0') {
		rte_tel_data_add_dict_u64(d, "no_slot",
					  __atomic_load_n(&lh->s->no_slot, __ATOMIC_RELAXED));
		n = __atomic_load_n(&g_dp->route.n_topics, __ATOMIC_ACQUIRE);
		for (id = 1, k = 0; id <= n && id < lh->cap && k < RTE_TEL_MAX_DICT_ENTRIES - 2;
		     id++) {
			const struct sl_topic *t = sl_route_topic_get(&g_dp->route, id);
			char key[16];

			if (t == NULL || __atomic_load_n(&lh->slot_of[id], __ATOMIC_RELAXED) < 0)
				continue;
			snprintf(key, sizeof(key), "t%u", id);
			rte_tel_data_add_dict_string(d, key, t->name);
			k++;
		}
		return 0;
	}
	id = sl_route_topic_lookup(&g_dp->route, params, (uint32_t)strlen(params));
	if (sl_route_topic_get(&g_dp->route, id) == NULL || id >= lh->cap)
		return -ENOENT;
	slot = __atomic_load_n(&lh->slot_of[id], __ATOMIC_RELAXED);
	if (slot < 0)
		return -ENOENT;
	h = malloc(sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	for (k = 0; k < SL_LH_M_MAX; k++) {
		sl_lh_sum(lh->a, (uint32_t)slot, k, h);
		c = latency_dict(h);
		if (c == NULL) {
			free(h);
			return -ENOMEM;
		}
		rte_tel_data_add_dict_container(d, sl_lh_metric_names[k], c, 0);
	}
	free(h);
	return 0;
}

static int
do_config(const char *cmd __rte_unused, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	const struct sl_conf *c = &g_dp->conf;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", c->name);
	rte_tel_data_add_dict_string(d, "idle", c->idle == SL_IDLE_BUSY ? "busy" : "backoff");
	rte_tel_data_add_dict_u64(d, "burst", c->burst);
	rte_tel_data_add_dict_u64(d, "workers", g_dp->n_workers);
	rte_tel_data_add_dict_u64(d, "ports", g_dp->n_ports);
	rte_tel_data_add_dict_u64(d, "max_topics", c->max_topics);
	rte_tel_data_add_dict_u64(d, "max_subscribers", c->max_subscribers);
	rte_tel_data_add_dict_u64(d, "max_sessions", c->max_sessions);
	rte_tel_data_add_dict_u64(d, "heartbeat_ms", c->heartbeat_ms);
	rte_tel_data_add_dict_u64(d, "session_timeout_ms", c->session_timeout_ms);
	return 0;
}

static int
do_shm(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	return sl_shm_telemetry(g_dp, d);
}

/* Every command runs between tel_enter and tel_leave. */
#define TEL_CMD(name)                                                                    \
	static int cmd_##name(const char *cmd, const char *params, struct rte_tel_data *d) \
	{                                                                                \
		int rc = tel_enter();                                                    \
		if (rc < 0)                                                              \
			return rc;                                                       \
		rc = do_##name(cmd, params, d);                                          \
		tel_leave();                                                             \
		return rc;                                                               \
	}
TEL_CMD(stats)
TEL_CMD(workers)
TEL_CMD(topics)
TEL_CMD(config)
TEL_CMD(shm)
TEL_CMD(latency)

int
sl_telemetry_init(struct sl_dp *dp)
{
	int rc = 0;

	g_dp = dp;
	rc |= rte_telemetry_register_cmd("/sluice/stats", cmd_stats,
					 "Dataplane totals and drops by reason. No parameters");
	rc |= rte_telemetry_register_cmd("/sluice/workers", cmd_workers,
					 "Per-worker lcore, port, queue and traffic counters");
	rc |= rte_telemetry_register_cmd("/sluice/topics", cmd_topics,
					 "Per-topic counters. Optional parameter: topic name");
	rc |= rte_telemetry_register_cmd("/sluice/config", cmd_config,
					 "Effective dataplane settings");
	rc |= rte_telemetry_register_cmd("/sluice/shm", cmd_shm,
					 "Shared-memory clients: process, worker, ring positions");
	rc |= rte_telemetry_register_cmd("/sluice/latency", cmd_latency,
					 "Latency histograms: topics that have them, or one topic's "
					 "percentiles. Optional parameter: topic name");
	return rc ? -EINVAL : 0;
}
