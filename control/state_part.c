/* SPDX-License-Identifier: BSD-3-Clause */
/* Partitioned topics in the desired state: their names, their checks, and the commands they expand to. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/proto.h>

#include "state.h"
#include "sync.h"

#define errf sl_state_errf

/*
 * A partitioned topic is one entry of the state (partitions = N) with the
 * spec its partitions share. The dataplane holds N ordinary topics NAME#0
 * .. NAME#N-1 with that spec and, created after them, the name itself
 * (durability none, partitions N), which answers RESOLVE with the map
 * (PROTOCOL.md 7.4). Those commands are made here, from the one entry: the
 * partitions are never entries of their own.
 */

const struct sl_state_topic *
sl_state_part_of(const struct sl_state *s, const char *name, uint32_t *index)
{
	const char *sep = strrchr(name, SL_PART_SEP);
	char stem[SL_CNC_NAME_LEN];
	const struct sl_state_topic *t;
	unsigned long i;
	char *end;

	if (sep == NULL || sep == name || sep[1] < '0' || sep[1] > '9' ||
	    (sep[1] == '0' && sep[2] != '\0') || (size_t)(sep - name) >= sizeof(stem))
		return NULL;
	i = strtoul(sep + 1, &end, 10);
	if (*end != '\0')
		return NULL;
	memcpy(stem, name, (size_t)(sep - name));
	stem[sep - name] = '\0';
	t = sl_state_topic_find(s, stem);
	if (t == NULL || i >= t->partitions)
		return NULL;
	if (index)
		*index = (uint32_t)i;
	return t;
}

int
sl_state_part_check(const struct sl_state_topic *t, char *err, size_t errlen)
{
	char name[SL_CNC_NAME_LEN];

	if (t->partitions == 0)
		return 0;
	if (t->partitions > SL_MAX_PARTITIONS)
		return errf(err, errlen, -EINVAL, "topic '%s': partitions must be 1 to %u",
			    t->name, SL_MAX_PARTITIONS);
	if (sl_proto_part_name(name, sizeof(name), t->name, strlen(t->name),
			       t->partitions - 1u) < 0)
		return errf(err, errlen, -EINVAL, "topic '%s': name too long for %u partitions: "
			    "with \"#%u\" added it must stay within %u characters", t->name,
			    t->partitions, t->partitions - 1u, SL_MAX_TOPIC_NAME);
	return 0;
}

int
sl_state_part_conflict(const struct sl_state *s, const struct sl_state_topic *t, char *err,
		       size_t errlen)
{
	const struct sl_state_topic *p = sl_state_part_of(s, t->name, NULL);
	char name[SL_CNC_NAME_LEN];
	uint32_t i;

	if (p != NULL)
		return errf(err, errlen, -EEXIST, "topic '%s' is a partition of partitioned topic "
			    "'%s'", t->name, p->name);
	for (i = 0; i < t->partitions; i++) {
		if (sl_proto_part_name(name, sizeof(name), t->name, strlen(t->name), i) < 0)
			return errf(err, errlen, -EINVAL, "topic '%s': name too long", t->name);
		if (sl_state_topic_find(s, name))
			return errf(err, errlen, -EEXIST, "topic '%s' exists already: partitioned "
				    "topic '%s' would need that name for its partition %u", name,
				    t->name, i);
	}
	return 0;
}

size_t
sl_state_topic_cmds(const struct sl_state_topic *t, uint32_t type, struct sl_cnc_cmd *out,
		    size_t cap)
{
	struct sl_state_topic part = *t;
	size_t n = 0;
	uint32_t i;

	if (t->partitions == 0) {
		if (cap == 0)
			return 0;
		if (type == SL_CNC_TOPIC_DELETE)
			sl_sync_cmd_topic_delete(&out[0], t->name);
		else
			sl_sync_cmd_topic(&out[0], t);
		out[0].type = type;
		return 1;
	}
	if (cap < (size_t)t->partitions + 1)
		return 0;
	/* Deleted: the name first (clients stop resolving it), then the
	 * partitions. Created: the partitions first, so that a RESOLVE of the
	 * name always finds them all. */
	if (type == SL_CNC_TOPIC_DELETE)
		sl_sync_cmd_topic_delete(&out[n++], t->name);
	part.partitions = 0;
	for (i = 0; i < t->partitions; i++) {
		sl_proto_part_name(part.name, sizeof(part.name), t->name, strlen(t->name), i);
		if (type == SL_CNC_TOPIC_DELETE)
			sl_sync_cmd_topic_delete(&out[n], part.name);
		else
			sl_sync_cmd_topic(&out[n], &part);
		out[n++].type = type;
	}
	/* An update changes the partitions only: the name holds nothing. */
	if (type == SL_CNC_TOPIC_UPSERT) {
		sl_sync_cmd_topic(&out[n], t);
		out[n].u.topic.durability = 0; /* none */
		out[n].u.topic.retain_bytes = 0;
		out[n].u.topic.retain_age_s = 0;
		out[n].u.topic.capacity_bytes = 0;
		out[n].u.topic.max_message = 0;
		out[n++].u.topic.partitions = t->partitions;
	}
	return n;
}

size_t
sl_state_group_cmds(const struct sl_state *s, const struct sl_cnc_cmd *c, struct sl_cnc_cmd *out,
		    size_t cap)
{
	const struct sl_state_topic *t = sl_state_topic_find(s, c->u.group.topic);
	size_t n = 0;
	uint32_t i;

	if (t == NULL || t->partitions == 0) {
		if (cap == 0)
			return 0;
		out[0] = *c;
		return 1;
	}
	if (cap < t->partitions)
		return 0;
	/* One group of the same name on every partition. */
	for (i = 0; i < t->partitions; i++) {
		out[n] = *c;
		sl_proto_part_name(out[n].u.group.topic, sizeof(out[n].u.group.topic), t->name,
				   strlen(t->name), i);
		n++;
	}
	return n;
}
