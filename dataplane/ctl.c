/* SPDX-License-Identifier: BSD-3-Clause */
/* Main lcore side of the control plane: CnC commands, authz tables, the counters area's clock. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include <common/cnc.h>
#include <common/log.h>
#include <common/clock.h>

#include "dataplane.h"
#include "lcore_main.h"
#include "stats.h"
#include "topic.h"

#define CMDS_PER_POLL 64

/* A replaced table, freed once every worker has polled since (RCU style). */
struct sl_authz_retired {
	struct sl_authz *a;
	uint64_t polls[SL_CONF_MAX_WORKERS];
	struct sl_authz_retired *next;
};

/* --- authorization tables ------------------------------------------------------ */

static void
retire(struct sl_dp *dp, struct sl_authz *old)
{
	struct sl_authz_retired *r;
	unsigned i;

	if (old == NULL)
		return;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		/* Leaking a table is safe; freeing it early is not. */
		SL_LOG(WARNING, "authz: cannot track a retired table; leaked\n");
		return;
	}
	r->a = old;
	for (i = 0; i < dp->n_workers; i++)
		r->polls[i] = sl_ctr_read(&dp->workers[i]->ctr.ctr[SL_CTR_polls]);
	r->next = dp->retired;
	dp->retired = r;
}

/* Free the retired tables no worker can still be reading: each worker
 * loads the table once per frame, and a loop of its poll later it is done. */
static void
reclaim(struct sl_dp *dp)
{
	struct sl_authz_retired **pp = &dp->retired, *r;
	unsigned i;

	while ((r = *pp) != NULL) {
		int quiet = 1;

		for (i = 0; i < dp->n_workers && quiet; i++)
			quiet = sl_ctr_read(&dp->workers[i]->ctr.ctr[SL_CTR_polls]) > r->polls[i] + 1;
		if (!quiet) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		sl_authz_free(r->a);
		free(r);
	}
}

static int
publish_authz(struct sl_dp *dp)
{
	struct sl_authz *a = sl_authz_build(&dp->authz_b, &dp->route), *old = dp->authz;

	if (a == NULL)
		return -ENOMEM;
	/* Release: the table is complete before workers can load it. */
	__atomic_store_n(&dp->authz, a, __ATOMIC_RELEASE);
	retire(dp, old);
	if (dp->cnc)
		sl_cnc_hdr(dp->cnc)->auth_required = a->required;
	dp->authz_b.stats.tables_published++;
	dp->authz_dirty = 0;
	return 0;
}

/* --- topics ------------------------------------------------------------------------- */

/* An existing topic takes @t's back-pressure, retention and capacity: the
 * spec is saved first, so nothing changes when that fails. */
static int
topic_respec(struct sl_dp *dp, const struct sl_topic *cur, const struct sl_cnc_topic *t,
	     struct sl_cnc_result *r)
{
	struct sl_topic_spec spec;
	int rc;

	sl_dp_topic_spec_from_cnc(t, &spec);
	rc = sl_dp_topic_respec(dp, cur->id, &spec);
	if (rc < 0)
		return sl_cnc_say(r, rc, "topic %s: cannot save its spec beside its journal: %s; "
			          "nothing changed", t->name, strerror(-rc));
	return 0;
}

static int
topic_check(const struct sl_cnc_topic *t, size_t len, struct sl_cnc_result *r)
{
	if (!sl_proto_topic_name_valid(t->name, len))
		return sl_cnc_say(r, -EINVAL, "invalid topic name '%s'", t->name);
	if (t->durability > SL_DUR_SYNC)
		return sl_cnc_say(r, -EINVAL, "durability %u is not 0, 1 or 2", t->durability);
	if (t->backpressure > SL_CNC_BP_DISCONNECT)
		return sl_cnc_say(r, -EINVAL, "backpressure %u is not 0 (default), 1 (drop), 2 (block) "
			          "or 3 (disconnect)", t->backpressure);
	if (t->encryption > SL_CNC_ENC_REQUIRED)
		return sl_cnc_say(r, -EINVAL, "encryption %u is not 0 (optional), 1 (off) or 2 "
			          "(required)", t->encryption);
	if (t->max_message != 0 &&
	    (t->max_message < SL_MAX_PAYLOAD || t->max_message > SL_MAX_MESSAGE))
		return sl_cnc_say(r, -EINVAL, "max_message %u is not 0 (default) or %u..%u", t->max_message,
			          SL_MAX_PAYLOAD, SL_MAX_MESSAGE);
	if (t->partitions > SL_MAX_PARTITIONS)
		return sl_cnc_say(r, -EINVAL, "partitions %u is not 0 (ordinary topic) or 1..%u",
			          t->partitions, SL_MAX_PARTITIONS);
	if (t->partitions && t->durability != SL_DUR_NONE)
		return sl_cnc_say(r, -EINVAL, "topic %s: a partitioned topic's name has durability "
			          "none (its partitions hold the messages)", t->name);
	return 0;
}

/* An existing topic stays ordinary or partitioned (with the same count)
 * while it exists: clients hold its partition map. */
static int
parts_check(struct sl_dp *dp, uint32_t id, const struct sl_cnc_topic *t, struct sl_cnc_result *r)
{
	uint16_t n = sl_route_state(&dp->route, id)->parts;

	if (n == t->partitions)
		return 0;
	if (n == 0)
		return sl_cnc_say(r, -EEXIST, "topic %s exists as an ordinary topic; delete it first "
			          "to make it partitioned", t->name);
	return sl_cnc_say(r, -EEXIST, "topic %s exists with %u partitions; delete it first to "
		          "change that", t->name, n);
}

/* A topic's max_message (its durability already checked) must fit in a
 * journal segment: a larger message could never be stored. */
static int
message_check(struct sl_dp *dp, const struct sl_cnc_topic *t, struct sl_cnc_result *r)
{
	uint32_t cap = sl_dp_topic_message_cap(&dp->conf, t->durability != SL_DUR_NONE);

	if (t->max_message > cap)
		return sl_cnc_say(r, -EINVAL, "topic %s: max_message %u is more than one journal segment "
			          "holds (%u): raise segment_mb", t->name, t->max_message, cap);
	return 0;
}

/* TOPIC_UPDATE: an existing topic's spec, changed live where that is safe. */
static int
topic_update(struct sl_dp *dp, const struct sl_cnc_topic *t, struct sl_cnc_result *r)
{
	size_t len = strnlen(t->name, sizeof(t->name));
	const struct sl_topic *cur;
	uint64_t j_bytes;
	uint32_t id;
	uint8_t d;

	if (len == sizeof(t->name))
		return sl_cnc_say(r, -EINVAL, "topic name not terminated");
	if (topic_check(t, len, r) < 0)
		return r->rc;
	id = sl_route_topic_lookup(&dp->route, t->name, (uint32_t)len);
	cur = sl_route_topic_get(&dp->route, id);
	if (cur == NULL)
		return sl_cnc_say(r, -ENOENT, "no topic %s", t->name);
	d = sl_route_state(&dp->route, id)->durability;
	/* A journal's records and what its acknowledgements promised depend
	 * on the durability; its sequence would not continue in a new one. */
	if (d != t->durability)
		return sl_cnc_say(r, -EPERM, "topic %s has durability %s, which cannot change while it "
			          "exists; delete it and create it again", t->name,
			          sl_durability_name((enum sl_durability)d));
	if (message_check(dp, t, r) < 0 || parts_check(dp, id, t, r) < 0)
		return r->rc;
	/* A capacity below what the journal holds would refuse every publish
	 * until retention caught up, if it ever does: not a live change. */
	j_bytes = sl_ctr_read(&sl_route_state(&dp->route, id)->j_bytes);
	if (t->capacity_bytes != 0 && sl_route_state(&dp->route, id)->journal != NULL &&
	    t->capacity_bytes < j_bytes)
		return sl_cnc_say(r, -ENOSPC, "topic %s: its journal holds %llu bytes, more than that "
			          "capacity; lower retention first", t->name, (unsigned long long)j_bytes);
	return topic_respec(dp, cur, t, r);
}

static int
topic_upsert(struct sl_dp *dp, const struct sl_cnc_topic *t, struct sl_cnc_result *r)
{
	size_t len = strlen(t->name);
	struct sl_topic_spec spec;
	const struct sl_topic *cur;
	uint32_t id;
	int rc;

	if (topic_check(t, len, r) < 0 || message_check(dp, t, r) < 0)
		return r->rc;
	id = sl_route_topic_lookup(&dp->route, t->name, (uint32_t)len);
	cur = sl_route_topic_get(&dp->route, id);
	if (cur) {
		uint8_t d = sl_route_state(&dp->route, id)->durability;

		/* Refused as a whole: the rest of its spec is left as it is. */
		if (d != t->durability)
			return sl_cnc_say(r, -EEXIST, "topic %s exists with durability %s; delete it "
				          "first to change that", t->name,
				          sl_durability_name((enum sl_durability)d));
		if (parts_check(dp, id, t, r) < 0)
			return r->rc;
		return topic_respec(dp, cur, t, r);
	}
	sl_dp_topic_spec_from_cnc(t, &spec);
	rc = sl_dp_topic_create(dp, t->name, len, &spec, SL_TOPIC_CONTROL, &id);
	if (rc < 0)
		return sl_cnc_say(r, rc, "cannot create topic %s: %s", t->name,
			          rc == -ENOSPC ? "topic table full" : strerror(-rc));
	return 0;
}

/*
 * Scale-out: set the topic's moved mark from @t's moved_* fields, or clear
 * it (moved_port 0), after a TOPIC_UPSERT or TOPIC_UPDATE of it was applied.
 */
static void
topic_moved_apply(struct sl_dp *dp, const struct sl_cnc_topic *t)
{
	uint32_t id = sl_route_topic_lookup(&dp->route, t->name,
					    (uint32_t)strnlen(t->name, sizeof(t->name)));
	struct sl_topic_state *ts;

	if (id == 0)
		return;
	ts = sl_route_state(&dp->route, id);
	/* Release: a worker that still sees the old mark set reads whole
	 * fields; the clear is seen before the rewrite begins. */
	__atomic_store_n(&ts->moved, 0, __ATOMIC_RELEASE);
	if (t->moved_port == 0)
		return;
	memcpy(ts->moved_to.addr, t->moved_addr, sizeof(ts->moved_to.addr));
	ts->moved_to.port = t->moved_port;
	ts->moved_to.epoch = t->moved_epoch;
	memcpy(ts->moved_to.pair, t->moved_pair, sizeof(ts->moved_to.pair));
	ts->moved_to.pair[sizeof(ts->moved_to.pair) - 1] = '\0';
	/* Release: pairs with the workers' acquire load in sl_worker_moved (topic_moved.c). */
	__atomic_store_n(&ts->moved, 1, __ATOMIC_RELEASE);
}

/*
 * A deleted topic stops at once (lookups no longer find it) and its owner
 * releases its state and closes its journal. Its journal directory is
 * removed only after that close (a topic of the same name created again
 * gets a fresh directory that the old journal must never touch), and the
 * result is reported only once the removal is durable: meanwhile the
 * commands after it wait (see drain), so a create of the same name follows.
 */
static int
topic_delete(struct sl_dp *dp, const struct sl_cnc_topic *t, struct sl_cnc_result *r)
{
	uint32_t id = sl_route_topic_lookup(&dp->route, t->name, strnlen(t->name, sizeof(t->name)));
	const struct sl_topic *cur = sl_route_topic_get(&dp->route, id);

	if (cur == NULL)
		return sl_cnc_say(r, -ENOENT, "no topic %s", t->name);
	/* New frames stop finding it now; the owner releases its state
	 * (its groups first). */
	sl_dp_group_topic_gone(dp, id);
	sl_route_topic_deactivate(&dp->route, id);
	dp->deleting = (struct sl_dp_deletion){ .topic = id, .pending = 1, .since_ns = sl_wall_ns() };
	return 0;
}

/* Move a pending deletion on. Returns 1 once it is done (its result is
 * in dp->deleting.result), 0 while it waits for the owner. */
static int
deletion_poll(struct sl_dp *dp)
{
	struct sl_dp_deletion *del = &dp->deleting;
	const struct sl_topic *t = &dp->route.topics[del->topic];
	struct sl_topic_state *ts = sl_route_state(&dp->route, del->topic);
	struct sl_handoff h = { .kind = SL_HO_TOPIC_DELETE, .topic = del->topic };
	int rc;

	if (!del->sent)
		del->sent = sl_dp_send_to_worker(dp, t->owner, &h) == 0;
	/* Acquire: pairs with the owner's release store of durability none
	 * after it handed the journal over (sl_worker_topic_delete). */
	if (!del->sent || __atomic_load_n(&ts->durability, __ATOMIC_ACQUIRE) != SL_DUR_NONE) {
		if (!del->warned && sl_wall_ns() - del->since_ns > 2000000000ull) {
			del->warned = 1;
			SL_LOG(WARNING, "topic %s: deletion waits for worker %u to close "
				"its journal; control commands wait behind it\n", t->name, t->owner);
		}
		return 0;
	}
	rc = sl_dp_topic_remove_dir(dp, del->topic);
	if (rc < 0) {
		SL_LOG(ERR, "topic %s: deleted, but its journal directory under %s could "
			"not be removed: %s\n", t->name, dp->conf.journal_dir, strerror(-rc));
		sl_cnc_say(&del->result, rc, "topic %s stopped, but its journal could not be removed "
		           "(%s): remove it under %s before restarting", t->name, strerror(-rc),
		           dp->conf.journal_dir);
	}
	del->pending = 0;
	return 1;
}

/* --- revocation sweeps -------------------------------------------------------------- */

/* Tell the workers not yet told of the sweep's current round. */
static void
sweep_send(struct sl_dp *dp)
{
	struct sl_dp_sweep *sw = &dp->sweep;
	struct sl_handoff h = { .kind = SL_HO_AUTHZ_SWEEP, .topic = sw->gen, .code = sw->round };
	unsigned i;

	for (i = 0; i < dp->n_workers; i++)
		if (!sw->told[i])
			sw->told[i] = sl_dp_send_to_worker(dp, i, &h) == 0;
}

static void
sweep_round(struct sl_dp *dp, uint8_t round)
{
	struct sl_dp_sweep *sw = &dp->sweep;

	sw->round = round;
	memset(sw->told, 0, sizeof(sw->told));
	memset(sw->acked, 0, sizeof(sw->acked));
	sweep_send(dp);
}

/* Can a command of @type take a right away (then a sweep follows it)? */
static int
revokes(uint32_t type)
{
	return type == SL_CNC_USER_UPSERT || type == SL_CNC_USER_DELETE || type == SL_CNC_ACL_SET ||
	       type == SL_CNC_ACL_CLEAR || type == SL_CNC_AUTH_MODE || type == SL_CNC_SYNC_END;
}

/* Does command @c set a topic's moved mark (scale-out)? */
static int
marks_moved(const struct sl_cnc_cmd *c)
{
	return (c->type == SL_CNC_TOPIC_UPSERT || c->type == SL_CNC_TOPIC_UPDATE) &&
	       c->u.topic.moved_port != 0;
}

/* A table just went out after command result @r: make what exists obey
 * it before @r is reported (see worker_revoke.c). */
static void
sweep_start(struct sl_dp *dp, const struct sl_cnc_result *r)
{
	struct sl_dp_sweep *sw = &dp->sweep;

	sw->result = *r;
	sw->gen++;
	sw->pending = 1;
	sw->warned = 0;
	sw->since_ns = sl_wall_ns();
	dp->authz_b.stats.revocation_sweeps++;
	sweep_round(dp, 1);
}

void
sl_dp_ctl_swept(struct sl_dp *dp, struct sl_handoff *h)
{
	struct sl_dp_sweep *sw = &dp->sweep;

	if (!sw->pending || h->topic != sw->gen || h->code != sw->round ||
	    h->src_worker >= dp->n_workers)
		return; /* of an earlier sweep */
	sw->acked[h->src_worker] = 1;
}

/* Move a sweep on. Returns 1 once both rounds are done everywhere. */
static int
sweep_poll(struct sl_dp *dp)
{
	struct sl_dp_sweep *sw = &dp->sweep;
	unsigned i;

	sweep_send(dp);
	for (i = 0; i < dp->n_workers; i++)
		if (!sw->acked[i])
			break;
	if (i < dp->n_workers) {
		if (!sw->warned && sl_wall_ns() - sw->since_ns > 2000000000ull) {
			sw->warned = 1;
			SL_LOG(WARNING, "authz: worker %u has not re-checked its %s after a "
				"change of users or ACLs; control commands wait behind it\n", i,
				sw->round == 1 ? "subscribers" : "sessions");
		}
		return 0;
	}
	if (sw->round == 1) {
		/* Every subscriber is checked: now the sessions, whose ends
		 * can no longer overtake a subscriber's error. */
		sweep_round(dp, 2);
		return 0;
	}
	sw->pending = 0;
	sw->round = 0;
	return 1;
}

/* --- commands ----------------------------------------------------------------------- */

static void
apply(struct sl_dp *dp, const struct sl_cnc_cmd *c, struct sl_cnc_result *r)
{
	int rc;

	r->id = c->id;
	r->rc = 0;
	r->message[0] = '\0';
	switch (c->type) {
	case SL_CNC_NOP:
		return;
	case SL_CNC_TOPIC_UPSERT:
		if (topic_upsert(dp, &c->u.topic, r) == 0)
			topic_moved_apply(dp, &c->u.topic);
		return;
	case SL_CNC_TOPIC_DELETE:
		topic_delete(dp, &c->u.topic, r);
		return;
	case SL_CNC_TOPIC_UPDATE:
		if (topic_update(dp, &c->u.topic, r) == 0)
			topic_moved_apply(dp, &c->u.topic);
		return;
	case SL_CNC_GROUP_UPSERT:
		sl_dp_group_upsert(dp, &c->u.group, r);
		return;
	case SL_CNC_GROUP_DELETE:
		sl_dp_group_delete(dp, &c->u.group, r);
		return;
	case SL_CNC_GROUP_RESET:
		sl_dp_group_reset(dp, &c->u.group, r);
		return;
	case SL_CNC_SET_IDLE:
		if (c->u.value > SL_IDLE_BACKOFF) {
			sl_cnc_say(r, -EINVAL, "idle %u is not 0 (busy) or 1 (backoff)", c->u.value);
			return;
		}
		/* Relaxed: workers pick the new strategy up at their next idle. */
		__atomic_store_n(&dp->conf.idle, (enum sl_idle_kind)c->u.value, __ATOMIC_RELAXED);
		return;
	case SL_CNC_SET_RATE:
		if (c->u.value > 100000000) {
			sl_cnc_say(r, -EINVAL, "rate limit %u is above 100000000 per second", c->u.value);
			return;
		}
		/* Relaxed: workers apply it from their next publish on. */
		__atomic_store_n(&dp->conf.rate_limit, c->u.value, __ATOMIC_RELAXED);
		return;
	default:
		rc = sl_authz_builder_apply(&dp->authz_b, c, r->message, sizeof(r->message));
		if (rc == -ENOTSUP)
			sl_cnc_say(r, rc, "unknown command type %u", c->type);
		r->rc = rc;
		/* A staged resync changes the table only at its SYNC_END. */
		if (rc == 0 && !sl_authz_builder_staging(&dp->authz_b))
			dp->authz_dirty = 1;
	}
}

static void
push_result(struct sl_dp *dp, const struct sl_cnc_result *r)
{
	if (sl_cnc_result_push(dp->cnc, r) < 0)
		SL_LOG(WARNING, "control is not reading results; result of "
			"command %" PRIu64 " lost\n", r->id);
}

static unsigned
drain(struct sl_dp *dp)
{
	struct sl_cnc_result r;
	struct sl_cnc_cmd c;
	unsigned n = 0;

	if (dp->deleting.pending) {
		if (!deletion_poll(dp))
			return 0;
		push_result(dp, &dp->deleting.result);
		n++;
	}
	if (dp->sweep.pending) {
		if (!sweep_poll(dp))
			return n;
		push_result(dp, &dp->sweep.result);
		n++;
	}
	while (n < CMDS_PER_POLL && sl_cnc_cmd_pop(dp->cnc, &c) == 1) {
		memset(&r, 0, sizeof(r));
		apply(dp, &c, &r);
		/* The table goes out before the result: when control hears
		 * "done", the workers enforce it, also on the subscriptions and
		 * sessions that exist (the sweep). */
		if (dp->authz_dirty) {
			if (publish_authz(dp) < 0)
				sl_cnc_say(&r, -ENOMEM, "out of memory building the ACL table");
			else if (dp->n_workers > 0 && r.rc == 0 && revokes(c.type))
				sweep_start(dp, &r);
		}
		/* A topic moved away: its subscribers are told by the same sweep
		 * (worker_revoke.c), before control hears "done". */
		if (!dp->sweep.pending && dp->n_workers > 0 && r.rc == 0 && marks_moved(&c))
			sweep_start(dp, &r);
		sl_ctr_add(&dp->main_ctr.ctr[SL_CTR_cnc_commands], 1);
		n++;
		if (dp->sweep.pending) {
			/* Reported when done, in order: later commands wait. */
			if (!sweep_poll(dp))
				break;
			r = dp->sweep.result;
		}
		if (dp->deleting.pending) {
			/* Reported when done, in order: later commands wait. */
			dp->deleting.result = r;
			if (!deletion_poll(dp))
				break;
			r = dp->deleting.result;
		}
		push_result(dp, &r);
	}
	return n;
}

/* --- lifecycle ---------------------------------------------------------------------------- */

int
sl_dp_ctl_init(struct sl_dp *dp)
{
	int rc;

	sl_authz_builder_init(&dp->authz_b, dp->conf.auth_required);
	if (dp->groups == NULL && sl_dp_groups_init(dp) < 0)
		SL_LOG(WARNING, "no memory for the group table: consumer groups are off\n");
	rc = publish_authz(dp);
	if (rc < 0)
		return rc;
	rc = sl_cnc_create_h(&dp->cnc, dp->conf.name, sl_dp_stats_slots(dp), dp->conf.hist_topics,
			     dp->n_workers);
	if (rc == 0) {
		rc = sl_dp_stats_init(dp);
		if (rc < 0) {
			sl_cnc_close(dp->cnc);
			dp->cnc = NULL;
		}
	}
	if (rc < 0) {
		SL_LOG(WARNING, "control region %s/%s/cnc: %s; running without "
			"sluice-control\n", SL_RUN_DIR, dp->conf.name, strerror(-rc));
		dp->cnc = NULL;
	} else {
		sl_cnc_hdr(dp->cnc)->auth_required = dp->authz->required;
	}
	if (!dp->authz->required)
		printf("sluice-dataplane: WARNING: authentication is OFF (open mode): anyone who "
		       "can reach the port may publish and subscribe to anything. Enable it with "
		       "'sluicectl policy set auth required' or auth = required.\n");
	return 0;
}

unsigned
sl_dp_ctl_poll(struct sl_dp *dp)
{
	uint64_t now;
	unsigned n = 0;

	if (dp->cnc)
		n = drain(dp);
	if (dp->authz_dirty)
		publish_authz(dp);
	if (dp->retired)
		reclaim(dp);
	if (dp->cnc == NULL)
		return n;
	now = sl_wall_ns();
	if (now >= dp->next_stats_ns) {
		dp->next_stats_ns = now + SL_CNC_STATS_PERIOD_MS * 1000000ull;
		__atomic_store_n(&sl_cnc_hdr(dp->cnc)->dp_heartbeat_ns, now, __ATOMIC_RELEASE);
		sl_dp_stats_sample(dp, now);
	}
	return n;
}

void
sl_dp_ctl_fini(struct sl_dp *dp)
{
	struct sl_authz_retired *r;

	/* Workers have stopped: every table may go. */
	while ((r = dp->retired) != NULL) {
		dp->retired = r->next;
		sl_authz_free(r->a);
		free(r);
	}
	sl_authz_free(dp->authz);
	dp->authz = NULL;
	sl_authz_builder_fini(&dp->authz_b);
	sl_dp_stats_fini(dp);
	sl_dp_groups_fini(dp);
	sl_cnc_close(dp->cnc);
	dp->cnc = NULL;
}
