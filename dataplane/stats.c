/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's side of the counters area: slots per owner, refreshed by the main lcore. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include <common/cnc.h>
#include <common/ctrs.h>
#include <common/log.h>

#include "dataplane.h"
#include "group_dp.h"
#include "lathist.h"
#include "repl.h"
#include "stats.h"
#include "topic.h"

/*
 * The main lcore is the area's only writer: every SL_CNC_STATS_PERIOD_MS it
 * copies the workers' counters (relaxed loads of their single-writer words,
 * dataplane/counters.h) into the slots with relaxed stores. Workers never
 * touch the area, so their path is unchanged.
 */

/* A deleted topic stays listed (deleted: true) this many samples, then
 * its slot is given back. */
#define DELETED_LINGER 50
#define TOPIC_NONE (-1)
#define TOPIC_RETIRED (-2)
/* Members with a slot of their own ("gmember"), all groups together: past
 * this a member has none (counted in topic_slots_full). */
#define GMEMBER_SLOTS 512u

struct sl_dp_stats {
	struct sl_ctrs_hdr *a;
	int dp, authz;
	int repl; /* the "repl" slot of a pair member, taken at the first sample; -1 */
	int ctr[SL_CONF_MAX_WORKERS + 1], drop[SL_CONF_MAX_WORKERS + 1]; /* [n_workers]: main */
	int worker[SL_CONF_MAX_WORKERS];
	int port[SL_CONF_MAX_PORTS];
	uint32_t cap;
	int32_t *topic;	 /* [cap]: slot, TOPIC_NONE or TOPIC_RETIRED */
	uint8_t *linger; /* [cap]: samples a deleted topic has been shown */
	int warned_full;
};

uint32_t
sl_dp_stats_slots(const struct sl_dp *dp)
{
	/* dataplane, authz; counters and drops per worker and the main lcore;
	 * one per worker and port; one per topic id the route table holds;
	 * one per group id and GMEMBER_SLOTS members; replication's. */
	return 3 + 2 * (dp->n_workers + 1u) + dp->n_workers + dp->n_ports + dp->route.cap +
	       SL_DP_MAX_GROUPS + GMEMBER_SLOTS;
}

int
sl_dp_stats_init(struct sl_dp *dp)
{
	struct sl_dp_stats *s;
	struct sl_ctrs_hdr *a = sl_cnc_ctrs(dp->cnc);
	uint32_t i;
	int rc = sl_stats_define_types(a);

	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->a = a;
	s->repl = -1;
	s->cap = dp->route.cap;
	s->topic = malloc(s->cap * sizeof(*s->topic));
	s->linger = calloc(s->cap, 1);
	if (s->topic == NULL || s->linger == NULL) {
		free(s->topic);
		free(s->linger);
		free(s);
		return -ENOMEM;
	}
	for (i = 0; i < s->cap; i++)
		s->topic[i] = TOPIC_NONE;
	/* The fixed owners: sized for them, the area cannot refuse these. */
	s->dp = sl_ctrs_slot_alloc(a, SL_STATS_T_DATAPLANE, SL_CTRS_OWNER_MAIN, NULL);
	s->authz = sl_ctrs_slot_alloc(a, SL_STATS_T_AUTHZ, SL_CTRS_OWNER_MAIN, NULL);
	for (i = 0; i <= dp->n_workers; i++) {
		uint32_t owner = i < dp->n_workers ? i : SL_CTRS_OWNER_MAIN;

		s->ctr[i] = sl_ctrs_slot_alloc(a, SL_STATS_T_COUNTERS, owner, NULL);
		s->drop[i] = sl_ctrs_slot_alloc(a, SL_STATS_T_DROPS, owner, NULL);
	}
	for (i = 0; i < dp->n_workers; i++)
		s->worker[i] = sl_ctrs_slot_alloc(a, SL_STATS_T_WORKER, i, NULL);
	for (i = 0; i < dp->n_ports; i++)
		s->port[i] = sl_ctrs_slot_alloc(a, SL_STATS_T_PORT, i, NULL);
	dp->stats = s;
	rc = sl_dp_lh_init(dp);
	if (rc < 0)
		sl_dp_stats_fini(dp);
	return rc;
}

void
sl_dp_stats_fini(struct sl_dp *dp)
{
	sl_dp_lh_fini(dp);
	if (dp->stats == NULL)
		return;
	free(dp->stats->topic);
	free(dp->stats->linger);
	free(dp->stats);
	dp->stats = NULL;
}

static void
copy_block(uint64_t *dst, const uint64_t *src, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		sl_ctrs_set(&dst[i], sl_ctr_read(&src[i]));
}

static void
sample_fixed(struct sl_dp *dp, struct sl_dp_stats *s)
{
	const struct sl_authz_stats *as = &dp->authz_b.stats;
	struct rte_eth_stats st;
	uint64_t *v;
	unsigned i;

	v = sl_ctrs_values(s->a, s->dp);
	sl_ctrs_set(&v[SL_STATS_pid], (uint64_t)getpid());
	sl_ctrs_set(&v[SL_STATS_start_ns], sl_cnc_hdr(dp->cnc)->dp_start_ns);
	sl_ctrs_set(&v[SL_STATS_auth_required], dp->authz ? dp->authz->required : 0);
	sl_ctrs_set(&v[SL_STATS_idle], dp->conf.idle == SL_IDLE_BUSY ? 0 : 1);
	sl_ctrs_set(&v[SL_STATS_topic_slots_full], s->a->alloc_failed);
	sl_ctrs_set(&v[SL_STATS_hist_no_slot], dp->lh ? dp->lh->s->no_slot : 0);
	v = sl_ctrs_values(s->a, s->authz);
#define X_AUTHZ(l) sl_ctrs_set(&v[SL_STATS_AUTHZ_##l], as->l);
	SL_AUTHZ_STATS_LIST(X_AUTHZ)
#undef X_AUTHZ
	for (i = 0; i <= dp->n_workers; i++) {
		const struct sl_counters *c =
			i < dp->n_workers ? &dp->workers[i]->ctr : &dp->main_ctr;

		copy_block(sl_ctrs_values(s->a, s->ctr[i]), c->ctr, SL_CTR_MAX);
		copy_block(sl_ctrs_values(s->a, s->drop[i]), c->drop, SL_DROP_MAX);
	}
	for (i = 0; i < dp->n_workers; i++) {
		const struct sl_worker *w = dp->workers[i];

		v = sl_ctrs_values(s->a, s->worker[i]);
		sl_ctrs_set(&v[SL_STATS_lcore], w->lcore);
		sl_ctrs_set(&v[SL_STATS_port], w->port_idx);
		sl_ctrs_set(&v[SL_STATS_queue], w->queue);
		sl_ctrs_set(&v[SL_STATS_rx_pkts], sl_ctr_read(&w->ctr.ctr[SL_CTR_rx_pkts]));
		sl_ctrs_set(&v[SL_STATS_tx_pkts], sl_ctr_read(&w->ctr.ctr[SL_CTR_tx_pkts]));
		sl_ctrs_set(&v[SL_STATS_sessions], __atomic_load_n(&w->sessions.n_active,
							    __ATOMIC_RELAXED));
	}
	if (dp->repl && s->repl < 0)
		s->repl = sl_ctrs_slot_alloc(s->a, SL_STATS_T_REPL, SL_CTRS_OWNER_MAIN, NULL);
	if (dp->repl && s->repl >= 0)
		copy_block(sl_ctrs_values(s->a, s->repl), dp->repl->ctr, SL_REPL_CTR_MAX);
	for (i = 0; i < dp->n_ports; i++) {
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(dp->ports[i].port_id, &st);
		v = sl_ctrs_values(s->a, s->port[i]);
		sl_ctrs_set(&v[SL_STATS_ipackets], st.ipackets);
		sl_ctrs_set(&v[SL_STATS_opackets], st.opackets);
		sl_ctrs_set(&v[SL_STATS_imissed], st.imissed);
		sl_ctrs_set(&v[SL_STATS_ierrors], st.ierrors);
	}
}

/* The slot of topic @id, taken on first sight; -1 when it has none. */
static int
topic_slot(struct sl_dp_stats *s, const struct sl_topic *t, uint32_t id)
{
	if (s->topic[id] >= 0)
		return s->topic[id];
	if (s->topic[id] == TOPIC_RETIRED)
		return -1;
	s->topic[id] = sl_ctrs_slot_alloc(s->a, SL_STATS_T_TOPIC, id, t->name);
	if (s->topic[id] < 0) {
		s->topic[id] = TOPIC_NONE; /* retried at the next sample */
		if (!s->warned_full) {
			s->warned_full = 1;
			SL_LOG(WARNING, "counters area full: topic %s has no stats slot "
				"(counted in topic_slots_full)\n", t->name);
		}
		return -1;
	}
	return s->topic[id];
}

static void
sample_topic(struct sl_dp *dp, struct sl_dp_stats *s, uint32_t id)
{
	const struct sl_topic *t = &dp->route.topics[id];
	const struct sl_topic_state *ts = sl_route_state(&dp->route, id);
	int deleted = !__atomic_load_n(&t->active, __ATOMIC_ACQUIRE);
	uint64_t cap, ret, age, *v;
	int slot = topic_slot(s, t, id);

	if (slot < 0)
		return;
	if (deleted && ++s->linger[id] > DELETED_LINGER) {
		/* Its id is never reused: the slot goes back for good. */
		sl_ctrs_slot_free(s->a, slot);
		sl_dp_lh_topic_gone(dp, id);
		s->topic[id] = TOPIC_RETIRED;
		return;
	}
	if (!deleted)
		sl_dp_lh_topic(dp, id, t->name); /* its latency histograms, from the first sample */
	sl_dp_topic_limits(dp, id, &cap, &ret, &age);
	v = sl_ctrs_values(s->a, slot);
	sl_ctrs_set(&v[SL_STATS_subscribers], __atomic_load_n(&ts->n_subs, __ATOMIC_RELAXED));
	sl_ctrs_set(&v[SL_STATS_published], sl_ctr_read(&ts->published));
	sl_ctrs_set(&v[SL_STATS_delivered], sl_ctr_read(&ts->delivered));
	sl_ctrs_set(&v[SL_STATS_dropped], sl_ctr_read(&ts->dropped));
	sl_ctrs_set(&v[SL_STATS_seq], sl_ctr_read(&ts->seq));
	sl_ctrs_set(&v[SL_STATS_journal_first], sl_ctr_read(&ts->j_first));
	sl_ctrs_set(&v[SL_STATS_journal_durable], sl_ctr_read(&ts->j_durable));
	sl_ctrs_set(&v[SL_STATS_journal_bytes], sl_ctr_read(&ts->j_bytes));
	sl_ctrs_set(&v[SL_STATS_journal_full], sl_ctr_read(&ts->journal_full));
	sl_ctrs_set(&v[SL_STATS_replay_gaps], sl_ctr_read(&ts->replay_gaps));
	sl_ctrs_set(&v[SL_STATS_retain_bytes], ret);
	sl_ctrs_set(&v[SL_STATS_retain_age_s], age);
	sl_ctrs_set(&v[SL_STATS_capacity_bytes], cap);
	sl_ctrs_set(&v[SL_STATS_durability], ts->durability);
	sl_ctrs_set(&v[SL_STATS_backpressure],
		    __atomic_load_n(&ts->backpressure, __ATOMIC_RELAXED));
	sl_ctrs_set(&v[SL_STATS_deleted], (uint64_t)deleted);
}

/* --- consumer groups ------------------------------------------------------------ */

static void
slot_drop(struct sl_dp_stats *s, int32_t *slot)
{
	if (*slot >= 0)
		sl_ctrs_slot_free(s->a, *slot);
	*slot = -1;
}

/* A slot for @type keyed @key (cut to the area's key length: the owner
 * field, the group id, still tells groups apart), or -1 (the area is full:
 * counted). */
static int32_t
slot_take(struct sl_dp_stats *s, uint32_t type, uint32_t owner, const char *key)
{
	char k[SL_CTRS_KEY_LEN];
	int slot;

	snprintf(k, sizeof(k), "%.*s", (int)sizeof(k) - 1, key);
	slot = sl_ctrs_slot_alloc(s->a, type, owner, k);

	if (slot < 0 && !s->warned_full) {
		s->warned_full = 1;
		SL_LOG(WARNING, "counters area full: %s has no stats slot (counted in "
			"topic_slots_full)\n", key);
	}
	return slot;
}

/* The engine's member state as the "gmember" slot shows it. */
static uint64_t
gmember_state(const struct sl_group_member *m)
{
	if (m->state == SL_GROUP_M_DISCONNECTED)
		return 4;
	if (m->state == SL_GROUP_M_PAUSED)
		return 2;
	return (m->flags & SL_GROUP_F_PULL) ? 3 : 1;
}

static void
sample_members(struct sl_dp_stats *s, struct sl_dp_groups *G, const struct sl_group_rec *r)
{
	uint32_t j;
	char key[SL_CNC_NAME_LEN + SL_CNC_GROUP_NAME_LEN + 24];

	for (j = 0; j < SL_DP_GROUP_MEMBERS; j++) {
		const struct sl_group_member *m = sl_group_member(r->g, j);
		int32_t *slot = &G->mslot[r->id][j];
		uint64_t *v;

		if (m == NULL || m->state == SL_GROUP_M_FREE) {
			slot_drop(s, slot);
			continue;
		}
		if (*slot >= 0 && G->mslot_id[r->id][j] != m->member_id)
			slot_drop(s, slot);
		if (*slot < 0) {
			snprintf(key, sizeof(key), "%s %s %016llx", r->topic_name, r->name,
				 (unsigned long long)m->member_id);
			*slot = slot_take(s, SL_STATS_T_GMEMBER, r->id, key);
			if (*slot < 0)
				continue;
			G->mslot_id[r->id][j] = m->member_id;
		}
		v = sl_ctrs_values(s->a, *slot);
		sl_ctrs_set(&v[SL_STATS_GM_state], gmember_state(m));
		sl_ctrs_set(&v[SL_STATS_GM_outstanding], m->outstanding);
		sl_ctrs_set(&v[SL_STATS_GM_credit], m->credit);
		sl_ctrs_set(&v[SL_STATS_GM_delivered], m->delivered);
		sl_ctrs_set(&v[SL_STATS_GM_acked], m->acked);
		sl_ctrs_set(&v[SL_STATS_GM_nacked], sl_ctr_read(&r->m[j].nacked));
		sl_ctrs_set(&v[SL_STATS_GM_session], m->session);
	}
}

/* Each group's slot and its members'; a group gone gives them back. The
 * owner writes what is read here (single-writer words, relaxed): a value
 * may be a sample old, never torn. */
static void
sample_groups(struct sl_dp *dp, struct sl_dp_stats *s)
{
	struct sl_dp_groups *G = dp->groups;
	char key[SL_CNC_NAME_LEN + SL_CNC_GROUP_NAME_LEN + 2];
	struct sl_group_stats st;
	uint32_t id, j;

	if (G == NULL)
		return;
	for (id = 1; id < SL_DP_MAX_GROUPS; id++) {
		const struct sl_group_rec *r = G->rec[id];
		uint64_t *v, last, cur;

		if (r == NULL || r->dying) {
			slot_drop(s, &G->slot[id]);
			for (j = 0; j < SL_DP_GROUP_MEMBERS; j++)
				slot_drop(s, &G->mslot[id][j]);
			continue;
		}
		if (G->slot[id] < 0) {
			snprintf(key, sizeof(key), "%s %s", r->topic_name, r->name);
			G->slot[id] = slot_take(s, SL_STATS_T_GROUP, id, key);
			if (G->slot[id] < 0)
				continue;
		}
		sl_group_stats_get(r->g, &st);
		last = sl_ctr_read(&sl_route_state(&dp->route, r->topic)->seq);
		cur = __atomic_load_n(&r->cursor, __ATOMIC_RELAXED);
		v = sl_ctrs_values(s->a, G->slot[id]);
		sl_ctrs_set(&v[SL_STATS_G_members], st.members);
		sl_ctrs_set(&v[SL_STATS_G_inflight], st.inflight);
		sl_ctrs_set(&v[SL_STATS_G_pending], cur && last >= cur ? last - cur + 1 : 0);
		sl_ctrs_set(&v[SL_STATS_G_cursor], cur);
		sl_ctrs_set(&v[SL_STATS_G_offered], st.offered);
		sl_ctrs_set(&v[SL_STATS_G_delivered], st.delivered);
		sl_ctrs_set(&v[SL_STATS_G_redelivered], st.redelivered);
		sl_ctrs_set(&v[SL_STATS_G_acked], st.acked);
		sl_ctrs_set(&v[SL_STATS_G_nacked], st.nacked);
		sl_ctrs_set(&v[SL_STATS_G_dead_lettered], st.dead_lettered);
		sl_ctrs_set(&v[SL_STATS_G_dead_dropped], sl_ctr_read(&r->ctr[SL_GX_dead_dropped]));
		sl_ctrs_set(&v[SL_STATS_G_ack_not_held],
			    st.ack_not_held + sl_ctr_read(&r->ctr[SL_GX_ack_not_member]));
		sl_ctrs_set(&v[SL_STATS_G_blocked_full], st.blocked_full);
		sl_ctrs_set(&v[SL_STATS_G_no_credit], st.no_credit);
		sl_ctrs_set(&v[SL_STATS_G_filter_skipped],
			    sl_ctr_read(&r->ctr[SL_GX_filter_skipped]));
		sl_ctrs_set(&v[SL_STATS_G_gap_lost], sl_ctr_read(&r->ctr[SL_GX_gap_lost]));
		sl_ctrs_set(&v[SL_STATS_G_too_large], sl_ctr_read(&r->ctr[SL_GX_too_large]));
		sl_ctrs_set(&v[SL_STATS_G_reset_dropped], sl_ctr_read(&r->ctr[SL_GX_reset_dropped]));
		sample_members(s, G, r);
	}
}

void
sl_dp_stats_sample(struct sl_dp *dp, uint64_t now)
{
	struct sl_dp_stats *s = dp->stats;
	uint32_t id, n = __atomic_load_n(&dp->route.n_topics, __ATOMIC_ACQUIRE);

	if (s == NULL)
		return;
	sl_ctrs_sample_begin(s->a);
	sample_fixed(dp, s);
	for (id = 1; id <= n && id < s->cap; id++)
		if (dp->route.topics[id].id == id)
			sample_topic(dp, s, id);
	sample_groups(dp, s);
	sl_ctrs_sample_end(s->a, now);
}
