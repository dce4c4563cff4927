/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's topic commands: desired topics merged with what the dataplane reports. */

#include <errno.h>
#include <string.h>

#include <common/proto.h>

#include "rpc.h"

/* ---- the live view ---- */

/* The dataplane's topics (an array inside *@snap, which the caller frees),
 * or NULL when there is no dataplane or no sample yet. */
static const json_t *
live_topics(struct sl_ctl *ctl, json_t **snap)
{
	const json_t *t;

	if (sl_ctl_snapshot(ctl, snap) < 0)
		return NULL;
	t = json_object_get(*snap, "topics");
	return json_is_array(t) ? t : NULL;
}

static int
live_deleted(const json_t *t)
{
	int del = 0;

	sl_jget_bool(t, "deleted", &del);
	return del;
}

static const json_t *
live_find(const json_t *topics, const char *name)
{
	const json_t *t, *found = NULL;
	const char *n;
	size_t i;

	/* A name deleted and created again appears twice (old and new id):
	 * the one not deleted is the topic. */
	json_array_foreach(topics, i, t) {
		if (sl_jget_str(t, "name", &n) < 0 || strcmp(n, name) != 0)
			continue;
		if (!live_deleted(t))
			return t;
		found = found ? found : t;
	}
	return found;
}

/*
 * A topic: desired settings (@t, may be NULL) merged with live ones. The
 * snapshot's "backpressure" is what the dataplane applies: it comes out as
 * "backpressure_applied", next to the desired one ("default" leaves the
 * choice to the dataplane's configuration, so the two may differ).
 */
static json_t *
topic_json(const struct sl_state_topic *t, const json_t *live)
{
	const char *name = "", *dur = "none", *bp = "default", *key;
	const json_t *k;
	json_t *o;

	if (t == NULL) {
		sl_jget_str(live, "name", &name);
		sl_jget_str(live, "durability", &dur);
		sl_jget_str(live, "backpressure", &bp);
	}
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:b}", "name", t ? t->name : name,
		      "durability", t ? sl_durability_name(t->durability) : dur,
		      "backpressure", t ? sl_cnc_bp_name(t->backpressure) : bp,
		      "retain_mb", (json_int_t)(t ? t->retain_mb : 0),
		      "retain_s", (json_int_t)(t ? t->retain_s : 0),
		      "capacity_mb", (json_int_t)(t ? t->capacity_mb : 0),
		      "managed", t != NULL, "live", live != NULL);
	if (o != NULL && t != NULL) {
		json_object_set_new(o, "encryption", json_string(sl_cnc_enc_name(t->encryption)));
		if (t->retx_window == SL_CNC_RETX_DEFAULT)
			json_object_set_new(o, "retransmit_window", json_string("default"));
		else
			json_object_set_new(o, "retransmit_window",
					    json_integer((json_int_t)t->retx_window - 1));
		/* 0: the dataplane's max_message. */
		json_object_set_new(o, "max_message", json_integer(t->max_message));
		/* 0: an ordinary topic. */
		json_object_set_new(o, "partitions", json_integer(t->partitions));
	}
	if (o == NULL || live == NULL)
		return o;
	json_object_foreach((json_t *)live, key, k) {
		if (strcmp(key, "name") == 0 || strcmp(key, "durability") == 0)
			continue;
		json_object_set(o, strcmp(key, "backpressure") == 0 ? "backpressure_applied" : key,
				(json_t *)k);
	}
	return o;
}

/* Is @name a topic the dataplane has (not deleted or not)? */
static int
is_live(struct sl_ctl *ctl, const char *name)
{
	json_t *snap = NULL;
	int live = live_find(live_topics(ctl, &snap), name) != NULL;

	json_decref(snap);
	return live;
}

int
sl_rpc_topic_live(struct sl_ctl *ctl, const char *name)
{
	json_t *snap = NULL;
	const json_t *t = live_find(live_topics(ctl, &snap), name);
	int live = t != NULL && !live_deleted(t);

	json_decref(snap);
	return live;
}

/* ---- commands ---- */

/*
 * The arguments topic.create and topic.update share: the name, durability
 * (default none), back-pressure (default: the dataplane's policy), retention
 * and capacity into @t; @create: "partitions" is allowed too (a topic's
 * partitions never change). 0, -1 with @r answered, or 1 (not answered)
 * when the name is too long for @t.
 */
static int
topic_spec_args(struct sl_req *r, struct sl_state_topic *t, const char **name, int create)
{
	static const char *const ok[] = { "name", "durability", "backpressure", "retain_mb",
					  "retain_s", "capacity_mb", "retransmit_window", "encryption",
					  "max_message", "partitions", NULL };
	static const char *const ok_update[] = { "name", "durability", "backpressure",
						 "retain_mb", "retain_s", "capacity_mb",
						 "retransmit_window", "encryption", "max_message",
						 NULL };
	const char *dur = "none", *bp = "default", *enc = "optional";
	uint64_t retx = 0, max_msg = 0;

	memset(t, 0, sizeof(*t));
	if (sl_req_args_only(r, create ? ok : ok_update) || sl_req_arg_str(r, "name", 1, name) ||
	    sl_req_arg_str(r, "durability", 0, &dur) || sl_req_arg_str(r, "backpressure", 0, &bp) ||
	    sl_req_arg_u64(r, "retain_mb", &t->retain_mb) ||
	    sl_req_arg_u64(r, "retain_s", &t->retain_s) ||
	    sl_req_arg_u64(r, "capacity_mb", &t->capacity_mb) ||
	    sl_req_arg_u64(r, "retransmit_window", &retx) ||
	    sl_req_arg_str(r, "encryption", 0, &enc) ||
	    sl_req_arg_u64(r, "max_message", &max_msg))
		return -1;
	if (sl_state_encryption_parse(enc, &t->encryption) < 0)
		return sl_req_fail(r, "invalid", "encryption '%.32s' is invalid: use off, optional "
				   "(no requirement) or required", enc);
	/* Checked with the rest of the spec by the state (sl_state_topic_add, _update). */
	t->max_message = max_msg > UINT32_MAX ? UINT32_MAX : (uint32_t)max_msg;
	if (json_object_get(r->args, "retransmit_window") != NULL) {
		if (retx > SL_CNC_RETX_MAX)
			return sl_req_fail(r, "invalid", "retransmit_window must be 0 (none) to %u "
					   "messages", SL_CNC_RETX_MAX);
		t->retx_window = (uint32_t)retx + 1;
	}
	if (sl_state_durability_parse(dur, &t->durability) < 0)
		return sl_req_fail(r, "invalid", "durability '%.32s' is invalid: use none, "
				   "async or sync", dur);
	if (sl_state_backpressure_parse(bp, &t->backpressure) < 0)
		return sl_req_fail(r, "invalid", "backpressure '%.32s' is invalid: use drop, "
				   "block or disconnect (or default: the dataplane's configured "
				   "policy)", bp);
	if (strlen(*name) >= sizeof(t->name))
		return 1;
	memcpy(t->name, *name, strlen(*name) + 1);
	return 0;
}

/* "partitions" of topic.create (absent: 0, an ordinary topic) into @t.
 * 0, or -1 with @r answered. */
static int
partitions_arg(struct sl_req *r, struct sl_state_topic *t)
{
	uint64_t n = 0;

	if (json_object_get(r->args, "partitions") == NULL)
		return 0;
	if (sl_req_arg_u64(r, "partitions", &n))
		return -1;
	if (n < 1 || n > SL_MAX_PARTITIONS)
		return sl_req_fail(r, "invalid", "partitions must be 1 to %u (omit it for an "
				   "ordinary topic)", SL_MAX_PARTITIONS);
	t->partitions = (uint16_t)n;
	return 0;
}

/* A partition is changed or deleted through its partitioned topic only. 1
 * with @r answered, 0 when @name is no partition. */
static int
partition_refused(struct sl_req *r, const char *name)
{
	const struct sl_state_topic *p = sl_state_part_of(&r->ctl->state, name, NULL);

	if (p == NULL)
		return 0;
	sl_req_fail(r, "invalid", "topic '%.200s' is a partition of partitioned topic '%.200s': "
		    "change or delete '%.200s' instead", name, p->name, p->name);
	return 1;
}

/*
 * A partitioned topic's name or partition names that the dataplane already
 * has as topics a client created: taking them over would mix what they
 * hold with the partitions' keys. 1 with @r answered, 0 when none.
 */
static int
live_clash(struct sl_req *r, const struct sl_state_topic *t)
{
	char name[SL_CNC_NAME_LEN];
	uint32_t i;

	if (sl_state_topic_find(&r->ctl->state, t->name) == NULL &&
	    sl_rpc_topic_live(r->ctl, t->name)) {
		sl_req_fail(r, "exists", "topic '%.200s' exists as an ordinary topic (a client "
			    "created it): delete it first to make it partitioned", t->name);
		return 1;
	}
	for (i = 0; i < t->partitions; i++) {
		if (sl_proto_part_name(name, sizeof(name), t->name, strlen(t->name), i) < 0 ||
		    sl_state_topic_find(&r->ctl->state, name) != NULL ||
		    !sl_rpc_topic_live(r->ctl, name))
			continue;
		sl_req_fail(r, "exists", "topic '%.200s' exists (a client created it): partitioned "
			    "topic '%.200s' needs that name for its partition %u; delete it first",
			    name, t->name, i);
		return 1;
	}
	return 0;
}

int
sl_rpc_topic_create(struct sl_req *r)
{
	struct sl_cnc_cmd c[SL_MAX_PARTITIONS + 1];
	struct sl_state_topic t;
	struct sl_state next;
	const char *name;
	size_t n;
	int rc;

	rc = topic_spec_args(r, &t, &name, 1);
	if (rc)
		return rc < 0 ? -1 : sl_req_fail(r, "invalid", "topic name is too long: at most %d "
						 "characters", 200);
	if (partitions_arg(r, &t))
		return -1;
	if (t.partitions && live_clash(r, &t))
		return -1;
	if (sl_place_create_check(r, t.name))
		return -1;
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_topic_add(&next, &t, r->err, sizeof(r->err));
	if (rc < 0)
		return sl_req_draft_fail(r, &next, rc, r->err);
	n = sl_state_topic_cmds(&t, SL_CNC_TOPIC_UPSERT, c, SL_MAX_PARTITIONS + 1);
	if (sl_req_commit(r, &next, c, n))
		return -1;
	r->res = topic_json(&t, NULL);
	sl_place_created(r, t.name);
	return 0;
}

/* Which update fields the request names (SL_STATE_TF_*). */
static unsigned
update_fields(const struct sl_req *r)
{
	static const char *const keys[] = { "durability", "backpressure", "retain_mb", "retain_s",
					    "capacity_mb", "retransmit_window", "encryption" };
	unsigned i, f = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (r->args != NULL && json_object_get(r->args, keys[i]) != NULL)
			f |= 1u << i;
	if (r->args != NULL && json_object_get(r->args, "max_message") != NULL)
		f |= SL_STATE_TF_MAX_MESSAGE;
	return f;
}

_Static_assert(SL_STATE_TF_DURABILITY == 1 && SL_STATE_TF_BACKPRESSURE == 2 &&
	       SL_STATE_TF_RETAIN_MB == 4 && SL_STATE_TF_RETAIN_S == 8 &&
	       SL_STATE_TF_CAPACITY_MB == 16 && SL_STATE_TF_RETX_WINDOW == 32 &&
	       SL_STATE_TF_ENCRYPTION == 64,
	       "update_fields order");

/*
 * A capacity below what the topic's journal holds would refuse every
 * publish until retention catches up, if it ever does: refused (the
 * dataplane refuses it too). 1 with @r answered, 0 when fine.
 */
static int
capacity_below_use(struct sl_req *r, const char *name, const struct sl_state_topic *t)
{
	json_t *snap = NULL;
	const json_t *live = live_find(live_topics(r->ctl, &snap), name);
	uint64_t held = 0;
	int below;

	below = t->capacity_mb != 0 && live != NULL && !live_deleted(live) &&
		sl_jget_u64(live, "journal_bytes", &held) == 0 && held > (t->capacity_mb << 20);
	json_decref(snap);
	if (below)
		sl_req_fail(r, "invalid", "topic '%.200s': its journal holds %llu bytes, more than "
			    "a capacity of %llu MB; nothing changed: lower its retention first "
			    "(--retain-mb, --retain-s) and let it apply, or give a capacity of at "
			    "least %llu MB", name, (unsigned long long)held,
			    (unsigned long long)t->capacity_mb,
			    (unsigned long long)((held + (1u << 20) - 1) >> 20));
	return below;
}

int
sl_rpc_topic_update(struct sl_req *r)
{
	struct sl_cnc_cmd c[SL_MAX_PARTITIONS + 1];
	struct sl_state_topic t, now;
	struct sl_state next;
	const char *name;
	size_t n;
	int rc = topic_spec_args(r, &t, &name, 0);

	if (rc)
		return rc < 0 ? -1 : sl_req_fail(r, "not_found", "no topic '%.200s'", name);
	if (partition_refused(r, name))
		return -1;
	if (sl_state_topic_find(&r->ctl->state, name) == NULL && is_live(r->ctl, name))
		return sl_req_fail(r, "invalid", "topic '%.200s' was created by a client, not "
				   "through sluice-control: adopt it first with 'topic create "
				   "%.200s' and its current durability", name, name);
	if (json_object_get(r->args, "capacity_mb") != NULL && capacity_below_use(r, name, &t))
		return -1;
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_topic_update(&next, &t, update_fields(r), &now, r->err, sizeof(r->err));
	if (rc < 0)
		return sl_req_draft_fail(r, &next, rc, r->err);
	/* As TOPIC_UPSERT, but never creates: a topic deleted meanwhile stays so. */
	n = sl_state_topic_cmds(&now, SL_CNC_TOPIC_UPDATE, c, SL_MAX_PARTITIONS + 1);
	if (sl_req_commit(r, &next, c, n))
		return -1;
	r->res = topic_json(&now, NULL);
	return 0;
}

/* Does the state hold groups of @topic (a topic a client created)? */
static int
unmanaged_has_groups(const struct sl_state *st, const char *topic)
{
	size_t i;

	for (i = 0; i < st->n_groups; i++)
		if (strcmp(st->groups[i].topic, topic) == 0)
			return 1;
	return 0;
}

int
sl_rpc_topic_delete(struct sl_req *r)
{
	static const char *const ok[] = { "name", NULL };
	struct sl_cnc_cmd c[SL_MAX_PARTITIONS + 1];
	const struct sl_state_topic *t;
	struct sl_sync_status st;
	struct sl_state next;
	const char *name;
	size_t n = 1;
	int rc = 0;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name))
		return -1;
	if (strlen(name) >= SL_CNC_NAME_LEN)
		return sl_req_fail(r, "not_found", "no topic '%.200s'", name);
	if (partition_refused(r, name))
		return -1;
	/* A resync never deletes, and a dataplane that starts reloads the
	 * journals it finds: only a dataplane that hears the delete can make
	 * it last. */
	sl_sync_status(r->ctl->sync, sl_ctl_now_ns(), &st);
	if (!st.attached)
		return sl_req_fail(r, "dataplane", "no dataplane is attached, and deleting a topic "
				   "removes its journal, which only the dataplane can do; nothing "
				   "changed: retry once the dataplane runs");
	sl_sync_cmd_topic_delete(&c[0], name);
	t = sl_state_topic_find(&r->ctl->state, name);
	if (t != NULL)
		n = sl_state_topic_cmds(t, SL_CNC_TOPIC_DELETE, c, SL_MAX_PARTITIONS + 1);
	if (t == NULL) {
		/* A topic a client created: the dataplane may know it. */
		if (!is_live(r->ctl, name))
			return sl_req_fail(r, "not_found", "no topic '%.200s'", name);
		if (!unmanaged_has_groups(&r->ctl->state, name)) {
			r->ticket = sl_sync_submit(r->ctl->sync, c, 1, sl_ctl_now_ns());
			r->ticket = r->ticket < 0 ? 0 : r->ticket;
			return sl_req_ok_empty(r);
		}
	}
	if (sl_req_draft(r, &next))
		return -1;
	/* The dataplane deletes the topic's consumer groups with it. */
	if (sl_state_topic_find(&next, name) == NULL)
		sl_state_groups_drop_topic(&next, name);
	else
		rc = sl_state_topic_remove(&next, name, r->err, sizeof(r->err));
	if (rc < 0)
		return sl_req_draft_fail(r, &next, rc, r->err);
	if (sl_req_commit(r, &next, c, n))
		return -1;
	return sl_req_ok_empty(r);
}

int
sl_rpc_topic_list(struct sl_req *r)
{
	static const char *const ok[] = { NULL };
	const json_t *topics, *t;
	json_t *snap = NULL;
	const char *name;
	size_t i;

	if (sl_req_args_only(r, ok))
		return -1;
	topics = live_topics(r->ctl, &snap);
	r->res = json_array();
	for (i = 0; i < r->ctl->state.n_topics; i++)
		json_array_append_new(r->res, topic_json(&r->ctl->state.topics[i],
							  live_find(topics,
								    r->ctl->state.topics[i].name)));
	json_array_foreach(topics, i, t) {
		/* A partition is listed with its partitioned topic. */
		if (sl_jget_str(t, "name", &name) < 0 || live_deleted(t) ||
		    sl_state_topic_find(&r->ctl->state, name) ||
		    sl_state_part_of(&r->ctl->state, name, NULL))
			continue;
		json_array_append_new(r->res, topic_json(NULL, t));
	}
	json_decref(snap);
	return 0;
}

int
sl_rpc_topic_show(struct sl_req *r)
{
	static const char *const ok[] = { "name", NULL };
	const struct sl_state_topic *t;
	const json_t *live;
	json_t *snap = NULL;
	const char *name;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name))
		return -1;
	t = sl_state_topic_find(&r->ctl->state, name);
	live = live_find(live_topics(r->ctl, &snap), name);
	if (t == NULL && (live == NULL || live_deleted(live))) {
		json_decref(snap);
		return sl_req_fail(r, "not_found", "no topic '%.200s'", name);
	}
	r->res = topic_json(t, live);
	json_decref(snap);
	return 0;
}
