/* SPDX-License-Identifier: BSD-3-Clause */
/* Partitioned topics in libsluice: the map from RESOLVE, and the partition each publish goes to. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <common/keyhash.h>
#include <common/proto.h>

#include "client_internal.h"

/*
 * The application holds one id for a partitioned topic: the name's own.
 * Publishing to it goes to one partition (keyed: sl_key_partition, the
 * function every client shares, PROTOCOL.md 7.4; without a key: this
 * client's sticky partition), subscribing or joining a group of it does so
 * on every partition. Each partition is resolved as an ordinary topic
 * ("NAME#i") for the reconnect logic, so that after a reconnect it is
 * resolved again by name like any other topic and its application id stays.
 */

#define PARTED_MAX 64u /* partitioned topics one client resolves */
#define PGROUP_MAX 16u /* groups of partitioned topics one client joins */

struct sl_cl_parted {
	uint32_t app_id; /* the name's own id, as the application holds it */
	uint32_t n;	 /* partitions */
	uint32_t sticky; /* the partition of this client's messages without a key */
	uint32_t part[SL_MAX_PARTITIONS]; /* the partitions' application ids */
};

/* A group joined on every partition: the application holds the first
 * partition's group id for all of them. */
struct pgroup {
	uint32_t n; /* 0: free */
	uint32_t gid[SL_MAX_PARTITIONS];
};

struct sl_cl_parts {
	uint32_t n;
	struct sl_cl_parted t[PARTED_MAX];
	struct pgroup g[PGROUP_MAX];
};

int
sl_cl_parts_take(struct sl_client *c, const struct sl_frame *f)
{
	int n = sl_proto_topic_parts(f->hdr, f->len, c->pend.parts, SL_MAX_PARTITIONS);

	c->pend.n_parts = n > 0 ? (uint16_t)n : 0;
	return n < 0 ? -EPROTO : 0;
}

const struct sl_cl_parted *
sl_cl_parted_find(const struct sl_client *c, uint32_t app_id)
{
	uint32_t i;

	if (c->parts == NULL)
		return NULL;
	for (i = 0; i < c->parts->n; i++)
		if (c->parts->t[i].app_id == app_id)
			return &c->parts->t[i];
	return NULL;
}

/* A partition for messages without a key: random, kept for the client's
 * life, so that one publisher's unkeyed messages stay in order and
 * publishers spread over the partitions. */
static uint32_t
sticky_pick(uint32_t n)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)sl_now_ns();
	return r % n;
}

int
sl_cl_parts_resolved(struct sl_client *c, const char *name, uint32_t app_id)
{
	uint32_t ids[SL_MAX_PARTITIONS], n = c->pend.n_parts, i;
	char pname[SL_MAX_TOPIC_NAME + 1];
	struct sl_cl_parted *p;

	if (n == 0)
		return 0;
	memcpy(ids, c->pend.parts, n * sizeof(ids[0]));
	if (c->parts == NULL) {
		c->parts = calloc(1, sizeof(*c->parts));
		if (c->parts == NULL)
			return -ENOMEM;
	}
	p = (struct sl_cl_parted *)sl_cl_parted_find(c, app_id);
	if (p == NULL) {
		if (c->parts->n == PARTED_MAX)
			return -ENOSPC;
		p = &c->parts->t[c->parts->n];
		p->sticky = sticky_pick(n);
	} else if (p->n != n) {
		p->sticky = sticky_pick(n);
	}
	for (i = 0; i < n; i++) {
		if (sl_proto_part_name(pname, sizeof(pname), name, strlen(name), i) < 0)
			return -EPROTO;
		p->part[i] = sl_cl_recon_resolved(c, pname, 0, ids[i]);
	}
	p->app_id = app_id;
	if (p == &c->parts->t[c->parts->n])
		c->parts->n++;
	/* Release-free: one thread owns the client; the count is what
	 * publishing reads. */
	p->n = n;
	c->n_parted = c->parts->n;
	return 0;
}

uint32_t
sl_cl_part_pick_slow(const struct sl_client *c, uint32_t topic_id, const void *key,
		     uint16_t key_len)
{
	const struct sl_cl_parted *p = sl_cl_parted_find(c, topic_id);

	if (p == NULL)
		return topic_id;
	return p->part[key_len ? sl_key_partition(key, key_len, p->n) : p->sticky];
}

int
sl_client_partitions(struct sl_client *c, uint32_t topic_id, uint32_t *ids, uint32_t cap)
{
	const struct sl_cl_parted *p = sl_cl_parted_find(c, topic_id);

	if (p == NULL)
		return 0;
	if (ids != NULL)
		memcpy(ids, p->part, (cap < p->n ? cap : p->n) * sizeof(ids[0]));
	return (int)p->n;
}

static struct pgroup *
pgroup_of(struct sl_client *c, uint32_t group_id)
{
	uint32_t i;

	for (i = 0; c->parts != NULL && i < PGROUP_MAX; i++)
		if (c->parts->g[i].n != 0 && c->parts->g[i].gid[0] == group_id)
			return &c->parts->g[i];
	return NULL;
}

int
sl_cl_parts_group_join(struct sl_client *c, const struct sl_group_opts *o,
		       struct sl_group_info *out)
{
	const struct sl_cl_parted *p = sl_cl_parted_find(c, o->topic_id);
	struct sl_group_opts po = *o;
	struct sl_group_info info, first = { 0 };
	struct pgroup *g = NULL, joined = { 0 };
	uint32_t i;
	int rc = 0;

	for (i = 0; i < p->n && rc == 0; i++) {
		po.topic_id = p->part[i];
		rc = sl_client_group_join(c, &po, &info);
		if (rc == 0 && i == 0) {
			first = info;
			/* Joined already: the same answer, as for one topic. */
			if ((g = pgroup_of(c, info.group_id)) != NULL)
				break;
		}
		if (rc == 0)
			joined.gid[joined.n++] = info.group_id;
	}
	for (i = 0; g == NULL && rc == 0 && i < PGROUP_MAX; i++)
		if (c->parts->g[i].n == 0)
			g = &c->parts->g[i];
	if (g == NULL && rc == 0)
		rc = -ENOSPC;
	if (rc < 0) {
		/* All or nothing: a member of some partitions only would
		 * leave the others' messages to other members. */
		for (i = 0; i < joined.n; i++)
			(void)sl_client_group_leave(c, joined.gid[i]);
		return rc;
	}
	if (g->n == 0)
		*g = joined;
	if (out != NULL)
		*out = first;
	return 0;
}

int
sl_cl_parts_group_leave(struct sl_client *c, uint32_t group_id)
{
	struct pgroup *g = pgroup_of(c, group_id), left;
	uint32_t i;
	int rc = 0, r;

	if (g == NULL)
		return 1;
	left = *g;
	g->n = 0; /* forgotten first: each leave below is of one partition's group */
	for (i = 0; i < left.n; i++) {
		r = sl_client_group_leave(c, left.gid[i]);
		rc = rc ? rc : r;
	}
	return rc;
}

const uint32_t *
sl_cl_parts_group_ids(struct sl_client *c, uint32_t group_id, uint32_t *n)
{
	const struct pgroup *g = pgroup_of(c, group_id);

	if (g == NULL)
		return NULL;
	*n = g->n;
	return g->gid;
}

void
sl_cl_parts_free(struct sl_client *c)
{
	free(c->parts);
	c->parts = NULL;
	c->n_parted = 0;
}
