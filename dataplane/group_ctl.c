/* SPDX-License-Identifier: BSD-3-Clause */
/* Main lcore side of consumer groups: the GROUP_* control commands, the groups' memory, handoffs to their owners. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include <common/cnc.h>
#include <common/log.h>
#include <common/proto.h>

#include "dataplane.h"
#include "group_dp.h"
#include "group_durable_dp.h"
#include "lcore_main.h"

/*
 * The main lcore is the only writer of the group table (dp->groups). A
 * group's record and engine memory are allocated here, filled, and handed
 * to the owner worker of its topic (SL_HO_GROUP_ADD); a deletion hands it
 * back (SL_HO_GROUP_DEL, then the owner's SL_HO_GROUP_GONE on the slow
 * path), and only then is the memory freed: no worker ever allocates or
 * frees, and none reads a record after it let go of it.
 */

int
sl_dp_groups_init(struct sl_dp *dp)
{
	struct sl_dp_groups *g = calloc(1, sizeof(*g));
	unsigned i, j;

	if (g == NULL)
		return -ENOMEM;
	for (i = 0; i < SL_DP_MAX_GROUPS; i++) {
		g->slot[i] = -1;
		for (j = 0; j < SL_DP_GROUP_MEMBERS; j++)
			g->mslot[i][j] = -1;
	}
	dp->groups = g;
	return 0;
}

static void
rec_free(struct sl_group_rec *r, int last_save)
{
	if (r == NULL)
		return;
	sl_dp_gdur_detach(r, last_save);
	free(r->refs);
	free(r->mem);
	free(r);
}

/* @len zeroed bytes aligned for the engine (64), or NULL. Ordinary memory:
 * the owner worker only reads and writes it. */
static void *
zalloc64(size_t len)
{
	size_t n = RTE_ALIGN_CEIL(len, 64);
	void *p = n ? aligned_alloc(64, n) : NULL;

	if (p)
		memset(p, 0, n);
	return p;
}

void
sl_dp_groups_fini(struct sl_dp *dp)
{
	unsigned i;

	if (dp->groups == NULL)
		return;
	/* Workers have stopped: nobody holds a record any more. */
	for (i = 0; i < SL_DP_MAX_GROUPS; i++)
		rec_free(dp->groups->rec[i], 1);
	free(dp->groups);
	dp->groups = NULL;
}

void
sl_dp_group_cfg(const struct sl_cnc_group *c, struct sl_group_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->policy = c->policy ? c->policy : SL_GROUP_ROUND_ROBIN;
	cfg->max_members = SL_DP_GROUP_MEMBERS;
	cfg->max_inflight = c->max_inflight ? RTE_MIN(c->max_inflight, SL_MAX_GROUP_INFLIGHT)
					    : SL_DP_GROUP_DEF_INFLIGHT;
	if (cfg->policy == SL_GROUP_KEY_AFFINITY)
		cfg->max_blocked = c->max_blocked ? RTE_MIN(c->max_blocked, SL_MAX_GROUP_BLOCKED)
						  : SL_DP_GROUP_DEF_BLOCKED;
	cfg->max_credit = SL_MAX_GROUP_CREDIT;
	cfg->max_deliveries = c->max_deliveries;
	cfg->ack_wait_ns = (uint64_t)c->ack_wait_ms * 1000000ull;
	cfg->grace_ns = (uint64_t)c->grace_ms * 1000000ull;
}

/* The live (not dying) group @name of topic @topic, or NULL. */
static struct sl_group_rec *
find(struct sl_dp *dp, uint32_t topic, const char *name)
{
	unsigned i;

	for (i = 1; i < SL_DP_MAX_GROUPS; i++) {
		struct sl_group_rec *r = dp->groups->rec[i];

		if (r && !r->dying && r->topic == topic &&
		    strncmp(r->name, name, SL_CNC_GROUP_NAME_LEN) == 0)
			return r;
	}
	return NULL;
}

/* Names and ranges of @c; sets *@topic to its topic's id. */
static int
check(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r, uint32_t *topic)
{
	size_t tl = strnlen(c->topic, sizeof(c->topic));
	size_t nl = strnlen(c->name, sizeof(c->name));

	if (dp->groups == NULL)
		return sl_cnc_say(r, -ENOTSUP, "this dataplane keeps no consumer groups");
	if (tl == sizeof(c->topic) || !sl_proto_topic_name_valid(c->topic, tl))
		return sl_cnc_say(r, -EINVAL, "invalid topic name");
	if (nl == 0 || nl == sizeof(c->name) || !sl_name_chars_ok(c->name, nl))
		return sl_cnc_say(r, -EINVAL, "invalid group name: 1..31 of [A-Za-z0-9._-]");
	*topic = sl_route_topic_lookup(&dp->route, c->topic, (uint32_t)tl);
	if (*topic == 0)
		return sl_cnc_say(r, -ENOENT, "no topic %s", c->topic);
	return 0;
}

/* The settings of an upsert: policy, flags, dead-letter topic. */
static int
check_spec(struct sl_dp *dp, const struct sl_cnc_group *c, uint32_t topic,
	   struct sl_cnc_result *r)
{
	size_t dl = strnlen(c->dead_letter, sizeof(c->dead_letter));

	if (c->policy > SL_GROUP_KEY_AFFINITY)
		return sl_cnc_say(r, -EINVAL, "policy %u is not 0 (round-robin), 1 (round-robin), "
			          "2 (least-outstanding) or 3 (key-affinity)", c->policy);
	if (c->flags & ~(SL_CNC_GROUP_F_DURABLE | SL_CNC_GROUP_F_RETAIN))
		return sl_cnc_say(r, -EINVAL, "unknown group flags 0x%x", c->flags);
	if ((c->flags & SL_CNC_GROUP_F_RETAIN) && !(c->flags & SL_CNC_GROUP_F_DURABLE))
		return sl_cnc_say(r, -EINVAL, "retain is for durable groups only");
	if ((c->flags & SL_CNC_GROUP_F_DURABLE) &&
	    sl_route_state(&dp->route, topic)->durability == SL_DUR_NONE)
		return sl_cnc_say(r, -EINVAL, "group %s: a durable group needs a journaled topic; "
			          "%s has durability none", c->name, c->topic);
	if (dl == sizeof(c->dead_letter) || (dl && !sl_proto_topic_name_valid(c->dead_letter, dl)))
		return sl_cnc_say(r, -EINVAL, "invalid dead-letter topic name");
	if (dl && strcmp(c->dead_letter, c->topic) == 0)
		return sl_cnc_say(r, -EINVAL, "a group's dead letters cannot go to its own topic");
	return 0;
}

/* An existing group: change what may change live, refuse the rest. */
static int
update(struct sl_dp *dp, struct sl_group_rec *g, const struct sl_cnc_group *c,
       struct sl_cnc_result *r)
{
	const struct sl_cnc_group *cur = g->spec_gen ? &g->spec_next : &g->spec;
	struct sl_handoff h = { .kind = SL_HO_GROUP_UPDATE, .topic = g->id };
	uint32_t owner = dp->route.topics[g->topic].owner;

	if ((c->flags & SL_CNC_GROUP_F_DURABLE) != (cur->flags & SL_CNC_GROUP_F_DURABLE))
		return sl_cnc_say(r, -EPERM, "group %s of %s is %sdurable, which cannot change while it "
			          "exists; delete it first", c->name, c->topic, cur->flags & 1 ? "" : "not ");
	if ((c->policy ? c->policy : 1) != (cur->policy ? cur->policy : 1) ||
	    c->flags != cur->flags || c->max_inflight != cur->max_inflight ||
	    c->max_blocked != cur->max_blocked)
		return sl_cnc_say(r, -EPERM, "group %s of %s: policy, retain, max_inflight and "
			          "max_blocked cannot change while it exists; delete it first",
			          c->name, c->topic);
	if (c->ack_wait_ms == cur->ack_wait_ms && c->max_deliveries == cur->max_deliveries &&
	    c->grace_ms == cur->grace_ms &&
	    strncmp(c->dead_letter, cur->dead_letter, sizeof(c->dead_letter)) == 0)
		return 0; /* the same settings (control's resync): nothing to do */
	/* Acquire: pairs with the owner's release once it applied the last. */
	if (__atomic_load_n(&g->spec_applied, __ATOMIC_ACQUIRE) != g->spec_gen)
		return sl_cnc_say(r, -EBUSY, "group %s: the previous change is not applied yet; "
			          "try again", c->name);
	g->spec_next = *c;
	g->spec_next.reset_how = 0;
	g->spec_next.reset_arg = 0;
	sl_dp_gdur_respec(dp, g, &g->spec_next);
	/* Release: the staged settings are whole before the owner reads them. */
	__atomic_store_n(&g->spec_gen, g->spec_gen + 1, __ATOMIC_RELEASE);
	if (sl_dp_send_to_worker(dp, owner, &h) < 0) {
		/* Still applied: the owner also looks at spec_gen on its own. */
		SL_LOG(WARNING, "group %s: worker %u's ring is full; the change waits for "
			"its next look\n", c->name, owner);
	}
	return 0;
}

/* A new group: memory, engine, record, then the owner takes it. */
static int
create(struct sl_dp *dp, const struct sl_cnc_group *c, uint32_t topic, struct sl_cnc_result *r)
{
	struct sl_dp_groups *t = dp->groups;
	struct sl_handoff h = { .kind = SL_HO_GROUP_ADD };
	uint32_t owner = dp->route.topics[topic].owner;
	struct sl_group_cfg cfg;
	struct sl_group_rec *g;
	unsigned id;
	int rc;

	for (id = 1; id < SL_DP_MAX_GROUPS && t->rec[id]; id++)
		;
	if (id == SL_DP_MAX_GROUPS)
		return sl_cnc_say(r, -ENOSPC, "group table full (%u groups)", SL_DP_MAX_GROUPS - 1);
	sl_dp_group_cfg(c, &cfg);
	g = zalloc64(sizeof(*g));
	if (g == NULL)
		return sl_cnc_say(r, -ENOMEM, "out of memory for group %s", c->name);
	g->mem_len = sl_group_mem_size(&cfg);
	g->mem = zalloc64(g->mem_len);
	if (g->mem == NULL) {
		size_t len = g->mem_len;

		rec_free(g, 0);
		return sl_cnc_say(r, -ENOMEM, "out of memory for group %s (%zu bytes)", c->name, len);
	}
	rc = sl_group_init(&g->g, &cfg, g->mem, g->mem_len);
	if (rc < 0) {
		rec_free(g, 0);
		return sl_cnc_say(r, rc, "group %s: settings out of range", c->name);
	}
	if (sl_route_state(&dp->route, topic)->durability == SL_DUR_NONE) {
		/* Its unsettled messages are kept by reference past the
		 * retransmit window: a table twice the bound, by seq. */
		g->ref_limit = RTE_MIN(cfg.max_inflight + cfg.max_blocked, SL_DP_GROUP_REFS);
		g->ref_cap = rte_align32pow2(2 * g->ref_limit);
		g->refs = zalloc64(sizeof(*g->refs) * g->ref_cap);
		if (g->refs == NULL) {
			rec_free(g, 0);
			return sl_cnc_say(r, -ENOMEM, "out of memory for group %s", c->name);
		}
	}
	g->id = id;
	g->topic = topic;
	memcpy(g->name, c->name, sizeof(g->name));
	memcpy(g->topic_name, c->topic, sizeof(g->topic_name));
	g->durable = !!(c->flags & SL_CNC_GROUP_F_DURABLE);
	g->retain = !!(c->flags & SL_CNC_GROUP_F_RETAIN);
	g->spec = *c;
	g->spec.reset_how = 0;
	g->spec.reset_arg = 0;
	g->cursor = 0; /* the owner starts it at the topic's next message */
	if (g->durable && (rc = sl_dp_gdur_attach(dp, g, c, r->message, sizeof(r->message))) < 0) {
		r->rc = rc;
		rec_free(g, 0);
		return rc;
	}
	h.topic = id;
	if (sl_dp_send_to_worker(dp, owner, &h) < 0) {
		rec_free(g, 0);
		return sl_cnc_say(r, -EBUSY, "worker %u is not draining its ring; group %s not created",
			          owner, c->name);
	}
	t->rec[id] = g;
	/* Release: the record is whole before a worker routes frames to it. */
	__atomic_store_n(&t->topic_of[id], topic, __ATOMIC_RELEASE);
	SL_LOG(INFO, "group %s of topic %s created (id %u, worker %u)\n", c->name, c->topic, id,
	       owner);
	return 0;
}

int
sl_dp_group_upsert(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r)
{
	struct sl_group_rec *g;
	uint32_t topic;

	if (check(dp, c, r, &topic) < 0 || check_spec(dp, c, topic, r) < 0)
		return r->rc;
	g = find(dp, topic, c->name);
	return g ? update(dp, g, c, r) : create(dp, c, topic, r);
}

/* Take group @g away from the workers: its owner lets go, then gives it back. */
static int
retire(struct sl_dp *dp, struct sl_group_rec *g)
{
	struct sl_handoff h = { .kind = SL_HO_GROUP_DEL, .topic = g->id };

	if (sl_dp_send_to_worker(dp, dp->route.topics[g->topic].owner, &h) < 0)
		return -EBUSY;
	g->dying = 1;
	__atomic_store_n(&dp->groups->topic_of[g->id], 0, __ATOMIC_RELEASE);
	return 0;
}

/* The group @c names, which must exist (checked as check() does, its
 * topic in *@topic), or NULL with @r saying why. */
static struct sl_group_rec *
existing(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r,
	 uint32_t *topic)
{
	struct sl_group_rec *g;

	if (check(dp, c, r, topic) < 0)
		return NULL;
	g = find(dp, *topic, c->name);
	if (g == NULL)
		sl_cnc_say(r, -ENOENT, "no group %s on topic %s", c->name, c->topic);
	return g;
}

int
sl_dp_group_delete(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r)
{
	struct sl_group_rec *g;
	uint32_t topic;

	g = existing(dp, c, r, &topic);
	if (g == NULL)
		return r->rc;
	if (retire(dp, g) < 0)
		return sl_cnc_say(r, -EBUSY, "worker is not draining its ring; group %s not deleted",
			          c->name);
	sl_dp_gdur_remove(dp, g);
	return 0;
}

void
sl_dp_group_topic_gone(struct sl_dp *dp, uint32_t topic)
{
	unsigned i;

	if (dp->groups == NULL)
		return;
	for (i = 1; i < SL_DP_MAX_GROUPS; i++) {
		struct sl_group_rec *g = dp->groups->rec[i];

		if (g && !g->dying && g->topic == topic && retire(dp, g) < 0)
			SL_LOG(WARNING, "group %s: its owner did not take the topic's deletion; "
				"kept until restart\n", g->name);
	}
}

int
sl_dp_group_reset(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r)
{
	struct sl_handoff h = { .kind = SL_HO_GROUP_RESET };
	struct sl_group_rec *g;
	uint32_t topic;

	g = existing(dp, c, r, &topic);
	if (g == NULL)
		return r->rc;
	if (c->reset_how < SL_CNC_RESET_EARLIEST || c->reset_how > SL_CNC_RESET_TIME)
		return sl_cnc_say(r, -EINVAL, "reset_how %u is not 1 (earliest), 2 (latest), 3 (seq) "
			          "or 4 (time)", c->reset_how);
	if (c->reset_how == SL_CNC_RESET_TIME &&
	    sl_route_state(&dp->route, topic)->durability == SL_DUR_NONE)
		return sl_cnc_say(r, -EINVAL, "a reset to a time needs a journaled topic");
	if (c->reset_how == SL_CNC_RESET_SEQ && c->reset_arg == 0)
		return sl_cnc_say(r, -EINVAL, "sequences start at 1");
	h.topic = g->id;
	h.code = (uint16_t)c->reset_how;
	h.producer_id = c->reset_arg;
	if (sl_dp_send_to_worker(dp, dp->route.topics[topic].owner, &h) < 0)
		return sl_cnc_say(r, -EBUSY, "worker is not draining its ring; group %s not reset",
			          c->name);
	return 0;
}

void
sl_dp_group_gone(struct sl_dp *dp, struct sl_handoff *h)
{
	struct sl_group_rec *g;

	if (dp->groups == NULL || h->topic == 0 || h->topic >= SL_DP_MAX_GROUPS)
		return;
	g = dp->groups->rec[h->topic];
	if (g == NULL || !g->dying)
		return;
	dp->groups->rec[h->topic] = NULL;
	SL_LOG(INFO, "group %s of topic %s deleted\n", g->name, g->topic_name);
	rec_free(g, 0);
}
