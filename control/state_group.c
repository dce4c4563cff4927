/* SPDX-License-Identifier: BSD-3-Clause */
/* The desired state's consumer groups: validation, changes, and their JSON form. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <common/proto.h>

#include "jsonx.h"
#include "state.h"

#define errf sl_state_errf

/* In SL_STATE_GROUP_* order, from 1. */
static const char *const policy_names[] = { "rr", "least", "key" };

int
sl_state_group_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SL_CNC_GROUP_NAME_LEN || !sl_name_chars_ok(name, n))
		return errf(err, errlen, -EINVAL,
			    "group name '%.64s' is invalid: 1-%d characters of A-Z a-z 0-9 . _ -",
			    name, SL_CNC_GROUP_NAME_LEN - 1);
	return 0;
}

int
sl_state_group_policy_parse(const char *s, uint8_t *out)
{
	uint8_t i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, policy_names[i]) == 0) {
			*out = (uint8_t)(i + 1);
			return 0;
		}
	return -EINVAL;
}

const char *
sl_state_group_policy_name(uint8_t policy)
{
	return policy >= 1 && policy <= 3 ? policy_names[policy - 1] : "?";
}

void
sl_state_group_defaults(struct sl_state_group *g, const char *topic, const char *name)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->topic, sizeof(g->topic), "%s", topic);
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->policy = SL_STATE_GROUP_RR;
	g->ack_wait_ms = SL_STATE_GROUP_ACK_WAIT_MS;
	g->max_deliveries = SL_STATE_GROUP_MAX_DELIVERIES;
	g->grace_ms = SL_STATE_GROUP_GRACE_MS;
}

struct sl_state_group *
sl_state_group_find(const struct sl_state *s, const char *topic, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_groups; i++)
		if (strcmp(s->groups[i].topic, topic) == 0 && strcmp(s->groups[i].name, name) == 0)
			return &s->groups[i];
	return NULL;
}

/* Everything about @g that needs no other part of the state. */
static int
group_check(const struct sl_state_group *g, char *err, size_t errlen)
{
	int rc;

	if (memchr(g->topic, '\0', sizeof(g->topic)) == NULL ||
	    memchr(g->name, '\0', sizeof(g->name)) == NULL ||
	    memchr(g->dead_letter, '\0', sizeof(g->dead_letter)) == NULL)
		return errf(err, errlen, -EINVAL, "group: a name is too long");
	rc = sl_state_topic_name_check(g->topic, err, errlen);
	if (rc == 0)
		rc = sl_state_group_name_check(g->name, err, errlen);
	if (rc == 0 && g->dead_letter[0] != '\0')
		rc = sl_state_topic_name_check(g->dead_letter, err, errlen);
	if (rc < 0)
		return rc;
	if (g->policy < SL_STATE_GROUP_RR || g->policy > SL_STATE_GROUP_KEY)
		return errf(err, errlen, -EINVAL, "group '%s': policy must be rr, least or key",
			    g->name);
	if (g->flags & ~(SL_CNC_GROUP_F_DURABLE | SL_CNC_GROUP_F_RETAIN))
		return errf(err, errlen, -EINVAL, "group '%s': unknown flags", g->name);
	if ((g->flags & SL_CNC_GROUP_F_RETAIN) && !(g->flags & SL_CNC_GROUP_F_DURABLE))
		return errf(err, errlen, -EINVAL, "group '%s': retain needs a durable group (only "
			    "a durable group's position can hold back retention)", g->name);
	if (g->ack_wait_ms > SL_STATE_GROUP_MAX_MS || g->grace_ms > SL_STATE_GROUP_MAX_MS)
		return errf(err, errlen, -EINVAL, "group '%s': ack_wait_ms and grace_ms must be at "
			    "most %u (a day)", g->name, SL_STATE_GROUP_MAX_MS);
	if (strcmp(g->dead_letter, g->topic) == 0)
		return errf(err, errlen, -EINVAL, "group '%s': the dead-letter topic must not be "
			    "the group's own topic '%s' (a poison message would come back to the "
			    "group)", g->name, g->topic);
	return 0;
}

int
sl_state_group_add(struct sl_state *s, const struct sl_state_group *g, char *err, size_t errlen)
{
	const struct sl_state_topic *t;
	int rc = group_check(g, err, errlen);

	if (rc < 0)
		return rc;
	t = sl_state_topic_find(s, g->topic);
	if ((g->flags & SL_CNC_GROUP_F_DURABLE) && t != NULL && t->durability == SL_DUR_NONE)
		return errf(err, errlen, -EINVAL, "group '%s': topic '%s' has durability none: a "
			    "durable group saves its position beside the topic's journal, so it "
			    "needs a journaled topic (async or sync); create the group without "
			    "--durable", g->name, g->topic);
	if (sl_state_group_find(s, g->topic, g->name) != NULL)
		return errf(err, errlen, -EEXIST, "topic '%s' has a group '%s' already", g->topic,
			    g->name);
	if (s->n_groups >= SL_STATE_MAX_GROUPS)
		return errf(err, errlen, -ENOSPC, "too many groups (%d): delete one first",
			    SL_STATE_MAX_GROUPS);
	if (sl_state_reserve_groups(s, s->n_groups + 1) < 0)
		return errf(err, errlen, -ENOMEM, "out of memory");
	s->groups[s->n_groups++] = *g;
	return 0;
}

int
sl_state_group_update(struct sl_state *s, const struct sl_state_group *g, char *err,
		      size_t errlen)
{
	struct sl_state_group *cur = sl_state_group_find(s, g->topic, g->name);
	int rc = group_check(g, err, errlen);

	if (rc < 0)
		return rc;
	if (cur == NULL)
		return errf(err, errlen, -ENOENT, "topic '%.200s' has no group '%.64s'", g->topic,
			    g->name);
	if ((cur->flags ^ g->flags) & SL_CNC_GROUP_F_DURABLE)
		return errf(err, errlen, -EINVAL, "group '%s' is %s, which cannot change while it "
			    "exists (its saved position goes with it): delete the group and "
			    "create it again", g->name,
			    (cur->flags & SL_CNC_GROUP_F_DURABLE) ? "durable" : "not durable");
	*cur = *g;
	return 0;
}

static void
group_remove_at(struct sl_state *s, size_t i)
{
	memmove(&s->groups[i], &s->groups[i + 1], (s->n_groups - i - 1) * sizeof(s->groups[0]));
	s->n_groups--;
}

int
sl_state_group_remove(struct sl_state *s, const char *topic, const char *name, char *err,
		      size_t errlen)
{
	struct sl_state_group *g = sl_state_group_find(s, topic, name);

	if (g == NULL)
		return errf(err, errlen, -ENOENT, "topic '%.200s' has no group '%.64s'", topic,
			    name);
	group_remove_at(s, (size_t)(g - s->groups));
	return 0;
}

size_t
sl_state_groups_drop_topic(struct sl_state *s, const char *topic)
{
	size_t i, n = 0;

	for (i = s->n_groups; i-- > 0;)
		if (strcmp(s->groups[i].topic, topic) == 0) {
			group_remove_at(s, i);
			n++;
		}
	return n;
}

int
sl_state_groups_validate(const struct sl_state *s, char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (s->n_groups > SL_STATE_MAX_GROUPS)
		return errf(err, errlen, -EINVAL, "more than %d groups", SL_STATE_MAX_GROUPS);
	for (i = 0; i < s->n_groups; i++) {
		rc = group_check(&s->groups[i], err, errlen);
		if (rc < 0)
			return rc;
		if (sl_state_group_find(s, s->groups[i].topic, s->groups[i].name) != &s->groups[i])
			return errf(err, errlen, -EINVAL, "group '%s' of topic '%s' appears twice",
				    s->groups[i].name, s->groups[i].topic);
	}
	return 0;
}

/* ---- JSON ---- */

json_t *
sl_state_group_to_json(const struct sl_state_group *g)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:b}", "topic", g->topic,
			      "name", g->name, "policy", sl_state_group_policy_name(g->policy),
			      "ack_wait_ms", (json_int_t)g->ack_wait_ms,
			      "max_deliveries", (json_int_t)g->max_deliveries,
			      "grace_ms", (json_int_t)g->grace_ms,
			      "max_inflight", (json_int_t)g->max_inflight,
			      "durable", (g->flags & SL_CNC_GROUP_F_DURABLE) != 0,
			      "retain", (g->flags & SL_CNC_GROUP_F_RETAIN) != 0);

	/* Only when set: absent means none (dead letters are dropped, counted). */
	if (o != NULL && g->dead_letter[0] != '\0')
		json_object_set_new(o, "dead_letter", json_string(g->dead_letter));
	return o;
}

/* A string member into @dst (@cap bytes); absent leaves @dst as it is
 * unless @required. */
static int
get_str(const json_t *o, const char *key, int required, char *dst, size_t cap, char *err,
	size_t errlen)
{
	const char *v;
	int rc = sl_jget_str(o, key, &v);

	if (rc == -ENOENT && !required)
		return 0;
	if (rc < 0 || strlen(v) >= cap)
		return errf(err, errlen, -EINVAL, "group: \"%s\" must be a string of at most %zu "
			    "characters", key, cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* A u32 member into @dst; absent leaves @dst as it is. */
static int
get_u32(const json_t *o, const char *key, uint32_t *dst, char *err, size_t errlen)
{
	uint64_t v;
	int rc = sl_jget_u64(o, key, &v);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || v > UINT32_MAX)
		return errf(err, errlen, -EINVAL, "group: \"%s\" must be an integer 0..%u", key,
			    UINT32_MAX);
	*dst = (uint32_t)v;
	return 0;
}

/* A boolean member setting @flag in *@flags; absent: not set. */
static int
get_flag(const json_t *o, const char *key, uint8_t flag, uint8_t *flags, char *err,
	 size_t errlen)
{
	int b = 0;

	if (sl_jget_bool(o, key, &b) == -EINVAL)
		return errf(err, errlen, -EINVAL, "group: \"%s\" must be true or false", key);
	if (b)
		*flags |= flag;
	return 0;
}

int
sl_state_group_from_json(struct sl_state_group *g, const json_t *o, char *err, size_t errlen)
{
	const char *pol = "rr";
	int rc;

	if (!json_is_object(o))
		return errf(err, errlen, -EINVAL, "groups: each entry must be an object");
	sl_state_group_defaults(g, "", "");
	rc = get_str(o, "topic", 1, g->topic, sizeof(g->topic), err, errlen);
	if (rc == 0)
		rc = get_str(o, "name", 1, g->name, sizeof(g->name), err, errlen);
	if (rc == 0)
		rc = get_str(o, "dead_letter", 0, g->dead_letter, sizeof(g->dead_letter), err,
			     errlen);
	if (rc == 0 && (sl_jget_str(o, "policy", &pol) == -EINVAL ||
			sl_state_group_policy_parse(pol, &g->policy) < 0))
		rc = errf(err, errlen, -EINVAL, "group '%s': policy must be rr, least or key",
			  g->name);
	if (rc == 0)
		rc = get_u32(o, "ack_wait_ms", &g->ack_wait_ms, err, errlen);
	if (rc == 0)
		rc = get_u32(o, "max_deliveries", &g->max_deliveries, err, errlen);
	if (rc == 0)
		rc = get_u32(o, "grace_ms", &g->grace_ms, err, errlen);
	if (rc == 0)
		rc = get_u32(o, "max_inflight", &g->max_inflight, err, errlen);
	if (rc == 0)
		rc = get_flag(o, "durable", SL_CNC_GROUP_F_DURABLE, &g->flags, err, errlen);
	if (rc == 0)
		rc = get_flag(o, "retain", SL_CNC_GROUP_F_RETAIN, &g->flags, err, errlen);
	return rc < 0 ? rc : group_check(g, err, errlen);
}
