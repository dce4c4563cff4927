/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's consumer-group commands: desired groups merged with the dataplane's counters. */

#include <errno.h>
#include <string.h>

#include <common/proto.h>

#include "rpc.h"

/* ---- the live view ---- */

/* The dataplane's "group" slots as an array (free it), or NULL when there
 * is no dataplane or no sample yet. With @members_of (a group, may be
 * NULL), its "gmember" slots into *@members (free it). */
static json_t *
live_groups(struct sl_ctl *ctl, const struct sl_state_group *members_of, json_t **members)
{
	struct sl_ctrs_view v;
	json_t *a;

	if (sl_ctl_counters(ctl, &v) < 0)
		return NULL;
	a = sl_ctl_groups_json(&v);
	if (members_of != NULL)
		*members = sl_ctl_group_members_json(&v, members_of->topic, members_of->name);
	sl_ctrs_view_free(&v);
	return a;
}

static const json_t *
live_find(const json_t *groups, const char *topic, const char *name)
{
	const char *t, *n;
	const json_t *g;
	size_t i;

	json_array_foreach(groups, i, g)
		if (sl_jget_str(g, "topic", &t) == 0 && sl_jget_str(g, "group", &n) == 0 &&
		    strcmp(t, topic) == 0 && strcmp(n, name) == 0)
			return g;
	return NULL;
}

/*
 * A group as the commands answer it: the desired settings (@g; NULL for a
 * group only the dataplane has, say one it reloaded from its saved spec),
 * "managed", "live", and the dataplane's counters for it when @live.
 */
static json_t *
group_json(const struct sl_state_group *g, const json_t *live)
{
	const char *topic = "", *name = "", *key;
	const json_t *k;
	json_t *o;

	if (g != NULL) {
		o = sl_state_group_to_json(g);
	} else {
		sl_jget_str(live, "topic", &topic);
		sl_jget_str(live, "group", &name);
		o = json_pack("{s:s, s:s}", "topic", topic, "name", name);
	}
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "managed", json_boolean(g != NULL));
	json_object_set_new(o, "live", json_boolean(live != NULL));
	if (live == NULL)
		return o;
	json_object_foreach((json_t *)live, key, k)
		if (strcmp(key, "topic") != 0 && strcmp(key, "group") != 0)
			json_object_set(o, key, (json_t *)k);
	return o;
}

/* ---- commands ---- */

static int group_is_live(struct sl_ctl *ctl, const char *topic, const char *name);

/* A u32 argument: absent leaves *@out as it is. */
static int
arg_u32(struct sl_req *r, const char *key, uint32_t *out)
{
	uint64_t v = *out;

	if (sl_req_arg_u64(r, key, &v))
		return -1;
	if (v > UINT32_MAX)
		return sl_req_fail(r, "invalid", "argument '%s' must be at most %u", key,
				   UINT32_MAX);
	*out = (uint32_t)v;
	return 0;
}

/* "topic" and "name", both required. */
static int
arg_names(struct sl_req *r, const char **topic, const char **name)
{
	return sl_req_arg_str(r, "topic", 1, topic) || sl_req_arg_str(r, "name", 1, name);
}

/* A boolean argument @key, when given, sets or clears @flag in *@flags. */
static int
arg_flag(struct sl_req *r, const char *key, uint8_t flag, uint8_t *flags)
{
	int b = -1;

	if (sl_req_arg_bool(r, key, &b))
		return -1;
	if (b == 1)
		*flags |= flag;
	else if (b == 0)
		*flags &= (uint8_t)~flag;
	return 0;
}

/*
 * The settings group.create and group.update take, into @g: over the
 * defaults (@base NULL), or over the group as it is (@base). 0, or -1
 * with @r answered.
 */
static int
group_spec_args(struct sl_req *r, struct sl_state_group *g, const struct sl_state_group *base)
{
	static const char *const ok[] = { "topic", "name", "policy", "ack_wait_ms",
					  "max_deliveries", "grace_ms", "max_inflight",
					  "dead_letter", "durable", "retain", "for_user", NULL };
	const char *topic, *name, *pol = NULL, *dl = NULL;
	char why[256];

	if (sl_req_args_only(r, ok) || arg_names(r, &topic, &name) ||
	    sl_req_arg_str(r, "policy", 0, &pol) || sl_req_arg_str(r, "dead_letter", 0, &dl))
		return -1;
	if (sl_state_topic_name_check(topic, why, sizeof(why)) < 0 ||
	    sl_state_group_name_check(name, why, sizeof(why)) < 0 ||
	    (dl != NULL && dl[0] != '\0' && sl_state_topic_name_check(dl, why, sizeof(why)) < 0))
		return sl_req_fail(r, "invalid", "%s", why);
	if (base != NULL)
		*g = *base;
	else
		sl_state_group_defaults(g, topic, name);
	if (dl != NULL)
		snprintf(g->dead_letter, sizeof(g->dead_letter), "%s", dl);
	if (pol != NULL && sl_state_group_policy_parse(pol, &g->policy) < 0)
		return sl_req_fail(r, "invalid", "policy '%.32s' is invalid: use rr (round-robin), "
				   "least (least outstanding) or key (key affinity)", pol);
	return arg_flag(r, "durable", SL_CNC_GROUP_F_DURABLE, &g->flags) ||
	       arg_flag(r, "retain", SL_CNC_GROUP_F_RETAIN, &g->flags) ||
	       arg_u32(r, "ack_wait_ms", &g->ack_wait_ms) ||
	       arg_u32(r, "max_deliveries", &g->max_deliveries) ||
	       arg_u32(r, "grace_ms", &g->grace_ms) ||
	       arg_u32(r, "max_inflight", &g->max_inflight);
}

/* Add (or with @update, change) group @g in the state, save, send its
 * GROUP_UPSERT (the whole spec: an upsert of an existing group sets its
 * settings), answer the group. */
static int
group_store(struct sl_req *r, const struct sl_state_group *g, int update)
{
	struct sl_cnc_cmd c, parts[SL_MAX_PARTITIONS];
	struct sl_state next;
	size_t n;
	int rc;

	if (sl_req_draft(r, &next))
		return -1;
	rc = update ? sl_state_group_update(&next, g, r->err, sizeof(r->err))
		    : sl_state_group_add(&next, g, r->err, sizeof(r->err));
	if (rc < 0)
		return sl_req_draft_fail(r, &next, rc, r->err);
	sl_sync_cmd_group(&c, g);
	n = sl_state_group_cmds(&next, &c, parts, SL_MAX_PARTITIONS); /* one per partition */
	if (sl_req_commit(r, &next, parts, n))
		return -1;
	r->res = group_json(g, NULL);
	return 0;
}

/*
 * group.create "for_user": a process that serves users of its own (the MQTT
 * gateway, for $share/GROUP/TOPIC) creates a group on a user's behalf only
 * when that user could have created the topic: under auth required, an ACL
 * entry of the user whose pattern covers the topic with admin; in open mode,
 * anyone. Returns 0, or -1 with the refusal answered.
 */
static int
for_user_may_create(struct sl_req *r, const char *topic)
{
	const struct sl_state *st = &r->ctl->state;
	const char *user = NULL;
	size_t i;

	if (sl_req_arg_str(r, "for_user", 0, &user))
		return -1;
	if (user == NULL || !st->policy.auth_required)
		return 0;
	if (sl_state_user_find(st, user) == NULL)
		return sl_req_fail(r, "denied", "no user '%.64s'", user);
	for (i = 0; i < st->n_acls; i++)
		if (strcmp(st->acls[i].user, user) == 0 && (st->acls[i].perms & SL_PERM_ADMIN) &&
		    sl_proto_pattern_match(st->acls[i].pattern, topic, strlen(topic)))
			return 0;
	return sl_req_fail(r, "denied", "user '%.64s' may not create groups of topic '%.200s' "
			   "(creating one needs admin on the topic: acl grant %.64s %.200s admin)",
			   user, topic, user, topic);
}

int
sl_rpc_group_create(struct sl_req *r)
{
	struct sl_state_group g;

	if (group_spec_args(r, &g, NULL) || for_user_may_create(r, g.topic))
		return -1;
	/* A topic a client created may hold groups too: the dataplane knows it. */
	if (sl_state_topic_find(&r->ctl->state, g.topic) == NULL &&
	    !sl_rpc_topic_live(r->ctl, g.topic))
		return sl_req_fail(r, "not_found", "no topic '%.200s': create it first (topic "
				   "create %.200s)", g.topic, g.topic);
	return group_store(r, &g, 0);
}

int
sl_rpc_group_update(struct sl_req *r)
{
	static const char *const settings[] = { "policy", "ack_wait_ms", "max_deliveries",
						"grace_ms", "max_inflight", "dead_letter",
						"durable", "retain" };
	const struct sl_state_group *cur;
	struct sl_state_group g;
	const char *topic = "", *name = "";
	size_t i, given = 0;

	if (json_object_get(r->args, "for_user") != NULL)
		return sl_req_fail(r, "invalid", "for_user is for group.create only");
	sl_jget_str(r->args, "topic", &topic);
	sl_jget_str(r->args, "name", &name);
	cur = sl_state_group_find(&r->ctl->state, topic, name);
	if (group_spec_args(r, &g, cur))
		return -1;
	if (cur == NULL)
		return sl_req_fail(r, "not_found", "topic '%.200s' has no group '%.64s'%s", topic,
				   name, group_is_live(r->ctl, topic, name)
				   ? " in the desired state: adopt the dataplane's with group create "
				     "and its settings" : "");
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		given += json_object_get(r->args, settings[i]) != NULL;
	if (given == 0)
		return sl_req_fail(r, "invalid", "group '%s': nothing to update: give policy, "
				   "ack_wait_ms, max_deliveries, grace_ms, max_inflight, "
				   "dead_letter or retain", name);
	return group_store(r, &g, 1);
}

int
sl_rpc_group_list(struct sl_req *r)
{
	static const char *const ok[] = { "topic", NULL };
	const struct sl_state *st = &r->ctl->state;
	const char *topic = NULL, *t, *n;
	const json_t *e;
	json_t *live;
	size_t i;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "topic", 0, &topic))
		return -1;
	live = live_groups(r->ctl, NULL, NULL);
	r->res = json_array();
	for (i = 0; i < st->n_groups; i++)
		if (topic == NULL || strcmp(st->groups[i].topic, topic) == 0)
			json_array_append_new(r->res, group_json(&st->groups[i],
								 live_find(live, st->groups[i].topic,
									   st->groups[i].name)));
	json_array_foreach(live, i, e) {
		if (sl_jget_str(e, "topic", &t) < 0 || sl_jget_str(e, "group", &n) < 0 ||
		    (topic != NULL && strcmp(t, topic) != 0) || sl_state_group_find(st, t, n))
			continue;
		json_array_append_new(r->res, group_json(NULL, e));
	}
	json_decref(live);
	if (topic != NULL && json_array_size(r->res) == 0 &&
	    sl_state_topic_find(st, topic) == NULL && !sl_rpc_topic_live(r->ctl, topic)) {
		json_decref(r->res);
		r->res = NULL;
		return sl_req_fail(r, "not_found", "no topic '%.200s'", topic);
	}
	return 0;
}

int
sl_rpc_group_show(struct sl_req *r)
{
	static const char *const ok[] = { "topic", "name", NULL };
	const struct sl_state_group *g;
	struct sl_state_group key;
	const json_t *l;
	json_t *live, *members = NULL;
	const char *topic, *name;

	if (sl_req_args_only(r, ok) || arg_names(r, &topic, &name))
		return -1;
	g = sl_state_group_find(&r->ctl->state, topic, name);
	sl_state_group_defaults(&key, topic, name);
	live = live_groups(r->ctl, &key, &members);
	l = live_find(live, topic, name);
	if (g == NULL && l == NULL) {
		json_decref(live);
		json_decref(members);
		return sl_req_fail(r, "not_found", "topic '%.200s' has no group '%.64s'", topic,
				   name);
	}
	r->res = group_json(g, l);
	/* Beside the count ("members", a gauge of the group slot). */
	json_object_set_new(r->res, "member_list", members != NULL ? members : json_array());
	json_decref(live);
	return 0;
}

/* Is group @name of @topic in the dataplane's counters area? */
static int
group_is_live(struct sl_ctl *ctl, const char *topic, const char *name)
{
	json_t *live = live_groups(ctl, NULL, NULL);
	int found = live_find(live, topic, name) != NULL;

	json_decref(live);
	return found;
}

int
sl_rpc_group_delete(struct sl_req *r)
{
	static const char *const ok[] = { "topic", "name", NULL };
	struct sl_cnc_cmd c, parts[SL_MAX_PARTITIONS];
	const struct sl_state_group *g;
	struct sl_sync_status st;
	struct sl_state next;
	const char *topic, *name;
	size_t n;
	int rc;

	if (sl_req_args_only(r, ok) || arg_names(r, &topic, &name))
		return -1;
	g = sl_state_group_find(&r->ctl->state, topic, name);
	sl_sync_status(r->ctl->sync, sl_ctl_now_ns(), &st);
	/* A durable group's saved state is the dataplane's to remove, and a
	 * dataplane that starts recreates the durable groups it finds: only
	 * one that hears the delete makes it last. A group in memory only is
	 * gone with the dataplane anyway. */
	if (!st.attached && (g == NULL || (g->flags & SL_CNC_GROUP_F_DURABLE)))
		return sl_req_fail(r, "dataplane", "no dataplane is attached, and deleting a "
				   "durable group removes its saved position, which only the "
				   "dataplane can do; nothing changed: retry once the dataplane "
				   "runs");
	sl_sync_cmd_group_delete(&c, topic, name);
	if (g == NULL) {
		/* Only the dataplane has it (reloaded from its saved spec). */
		if (!group_is_live(r->ctl, topic, name))
			return sl_req_fail(r, "not_found", "topic '%.200s' has no group '%.64s'",
					   topic, name);
		r->ticket = sl_sync_submit(r->ctl->sync, &c, 1, sl_ctl_now_ns());
		r->ticket = r->ticket < 0 ? 0 : r->ticket;
		r->not_stored = 1;
		return sl_req_ok_empty(r);
	}
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_group_remove(&next, topic, name, r->err, sizeof(r->err));
	if (rc < 0)
		return sl_req_draft_fail(r, &next, rc, r->err);
	n = sl_state_group_cmds(&r->ctl->state, &c, parts, SL_MAX_PARTITIONS);
	if (sl_req_commit(r, &next, parts, n))
		return -1;
	return sl_req_ok_empty(r);
}

/* "to" and its value: SL_CNC_RESET_* into @how, the seq or ns into @arg. */
static int
reset_args(struct sl_req *r, uint32_t *how, uint64_t *arg)
{
	static const char *const names[] = { "earliest", "latest", "seq", "time" };
	const char *to;
	int has_seq = json_object_get(r->args, "seq") != NULL;
	int has_time = json_object_get(r->args, "time_ns") != NULL;
	uint32_t i;

	if (sl_req_arg_str(r, "to", 1, &to) || sl_req_arg_u64(r, "seq", arg) ||
	    sl_req_arg_u64(r, "time_ns", arg))
		return -1;
	for (i = 0; i < 4 && strcmp(to, names[i]) != 0; i++)
		;
	if (i == 4)
		return sl_req_fail(r, "invalid", "'to' must be earliest, latest, seq (with 'seq') "
				   "or time (with 'time_ns'), not '%.32s'", to);
	*how = SL_CNC_RESET_EARLIEST + i;
	if (has_seq != (*how == SL_CNC_RESET_SEQ) || has_time != (*how == SL_CNC_RESET_TIME))
		return sl_req_fail(r, "invalid", "'seq' goes with to seq and 'time_ns' with to "
				   "time, each alone");
	if (*how == SL_CNC_RESET_SEQ && *arg == 0)
		return sl_req_fail(r, "invalid", "'seq' starts at 1");
	return 0;
}

_Static_assert(SL_CNC_RESET_LATEST == SL_CNC_RESET_EARLIEST + 1 &&
	       SL_CNC_RESET_SEQ == SL_CNC_RESET_EARLIEST + 2 &&
	       SL_CNC_RESET_TIME == SL_CNC_RESET_EARLIEST + 3, "reset_args order");

int
sl_rpc_group_reset(struct sl_req *r)
{
	static const char *const ok[] = { "topic", "name", "to", "seq", "time_ns", NULL };
	struct sl_cnc_cmd c, parts[SL_MAX_PARTITIONS];
	const struct sl_state_topic *t;
	struct sl_sync_status st;
	const char *topic, *name;
	uint64_t arg = 0;
	uint32_t how = 0;

	if (sl_req_args_only(r, ok) || arg_names(r, &topic, &name) || reset_args(r, &how, &arg))
		return -1;
	if (sl_state_group_find(&r->ctl->state, topic, name) == NULL &&
	    !group_is_live(r->ctl, topic, name))
		return sl_req_fail(r, "not_found", "topic '%.200s' has no group '%.64s'", topic,
				   name);
	t = sl_state_topic_find(&r->ctl->state, topic);
	if (how == SL_CNC_RESET_TIME && t != NULL && t->durability == SL_DUR_NONE)
		return sl_req_fail(r, "invalid", "topic '%.200s' has durability none: its messages "
				   "carry no stored time to reset to; use earliest, latest or a seq",
				   topic);
	/* An action, not a setting: nothing is stored, so a resync never
	 * repeats it, and without a dataplane there is nothing to move. */
	sl_sync_status(r->ctl->sync, sl_ctl_now_ns(), &st);
	if (!st.attached)
		return sl_req_fail(r, "dataplane", "no dataplane is attached: a group's position "
				   "lives in the dataplane; nothing changed");
	sl_sync_cmd_group_reset(&c, topic, name, how, arg);
	r->ticket = sl_sync_submit(r->ctl->sync, parts,
				   sl_state_group_cmds(&r->ctl->state, &c, parts, SL_MAX_PARTITIONS),
				   sl_ctl_now_ns());
	if (r->ticket < 0)
		return sl_req_fail(r, "dataplane", "the command queue to the dataplane is full; "
				   "nothing changed: retry");
	r->not_stored = 1;
	return sl_req_ok_empty(r);
}
