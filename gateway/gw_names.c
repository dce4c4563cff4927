/* SPDX-License-Identifier: BSD-3-Clause */
/* Broker topic id -> MQTT topic name, for deliveries a pattern subscription brought. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cnc.h"
#include "common/ctrs.h"
#include "gw.h"

/*
 * A pattern subscription delivers topics by id only. The gateway asks the
 * broker for the name of an id new to it (sl_client_topic_name: a RESOLVE
 * by id, one round trip over shared memory, once per topic), as the user
 * whose delivery it is, outside any poll (a delivery of an unknown topic is
 * parked meanwhile, gw_fanout.c). A broker that predates that request
 * (-EOPNOTSUPP) still names its topics in the dataplane's counters area (a
 * "topic" slot per topic, owner = id, key = name), which lags until the
 * next sample: then this process maps it read-only, a copy of the area per
 * unknown id, at most once per RETRY_NS (10 ms) for an id it does not name
 * (yet). Ids the gateway resolved itself are learnt without either.
 */

#define RETRY_NS 10000000ull

struct name_ent {
	uint32_t id;	/* 0: free */
	uint16_t len;	/* MQTT name bytes; UINT16_MAX: no MQTT name */
	char *mqtt;
	uint64_t miss_ns; /* last failed lookup, when mqtt is NULL */
};

static struct name_ent *tab;
static uint32_t tab_mask, tab_used;
static char instance[128];

int
gw_names_open(const char *shm)
{
	gw_instance_of(shm, instance, sizeof(instance));
	tab = calloc(1024, sizeof(*tab));
	if (tab == NULL)
		return -ENOMEM;
	tab_mask = 1023;
	return 0;
}

void
gw_names_close(void)
{
	uint32_t i;

	for (i = 0; tab != NULL && i <= tab_mask; i++)
		free(tab[i].mqtt);
	free(tab);
	tab = NULL;
}

static struct name_ent *
slot(uint32_t id)
{
	uint32_t i = (id * 2654435761u) & tab_mask;

	while (tab[i].id != 0 && tab[i].id != id)
		i = (i + 1) & tab_mask;
	return &tab[i];
}

static int
grow(void)
{
	struct name_ent *old = tab;
	uint32_t i, n = (tab_mask + 1) * 2;

	tab = calloc(n, sizeof(*tab));
	if (tab == NULL) {
		tab = old;
		return -ENOMEM;
	}
	tab_mask = n - 1;
	for (i = 0; i < n / 2; i++)
		if (old[i].id != 0)
			*slot(old[i].id) = old[i];
	free(old);
	return 0;
}

static struct name_ent *
entry(uint32_t id)
{
	struct name_ent *e = slot(id);

	if (e->id == 0) {
		if ((tab_used + 1) * 2 > tab_mask + 1) {
			if (grow() < 0)
				return NULL;
			e = slot(id);
		}
		e->id = id;
		tab_used++;
	}
	return e;
}

void
gw_names_learn(uint32_t id, const char *mqtt, uint16_t len)
{
	struct name_ent *e = entry(id);
	char *p;

	if (e == NULL || e->mqtt != NULL)
		return;
	p = malloc(len ? len : 1);
	if (p == NULL)
		return;
	memcpy(p, mqtt, len);
	e->mqtt = p;
	e->len = len;
}

int
gw_names_topic_slot(uint32_t id, gw_topic_slot_fn fn, void *arg)
{
	const struct sl_ctrs_meta *m;
	const struct sl_ctrs_type *t;
	const uint64_t *vals;
	struct sl_ctrs_view v;
	struct sl_cnc *cnc;
	int type, rc = -ENOENT;
	uint32_t i;

	if (sl_cnc_attach(&cnc, instance, NULL) < 0)
		return -ENOENT;
	if (sl_ctrs_view_take(sl_cnc_ctrs(cnc), sl_cnc_ctrs_size(cnc), &v) < 0) {
		sl_cnc_close(cnc);
		return -ENOENT;
	}
	type = sl_ctrs_view_type(&v, "topic");
	for (i = 0; type >= 0 && i < v.hdr->n_slots && rc < 0; i++) {
		m = sl_ctrs_view_slot(&v, i, &t, &vals);
		if (m != NULL && m->type == (uint32_t)type && m->owner == id)
			rc = fn(m, t, vals, arg);
	}
	sl_ctrs_view_free(&v);
	sl_cnc_close(cnc);
	return rc;
}

struct name_buf {
	char *out;
	size_t cap;
};

static int
name_of_slot(const struct sl_ctrs_meta *m, const struct sl_ctrs_type *t, const uint64_t *vals,
	     void *arg)
{
	struct name_buf *b = arg;

	(void)t;
	(void)vals;
	if (!m->key[0])
		return -ENOENT;
	snprintf(b->out, b->cap, "%.*s", (int)sizeof(m->key), m->key);
	return 0;
}

/* The name of topic @id in the dataplane's counters area into @out. */
static int
area_lookup(uint32_t id, char *out, size_t cap)
{
	struct name_buf b = { out, cap };

	return gw_names_topic_slot(id, name_of_slot, &b);
}

/* The native name of @id: from the broker, else (an older broker) from the
 * counters area. -EAGAIN: ask again later (inside a poll). */
static int
native_name(struct gw_user *u, uint32_t id, char *out, size_t cap)
{
	int rc = u != NULL ? gw_user_topic_name(u, id, out, cap) : -EOPNOTSUPP;

	if (rc >= 0)
		GW_INC(names_asked);
	if (rc >= 0 || rc == -EAGAIN)
		return rc;
	rc = area_lookup(id, out, cap);
	if (rc >= 0)
		GW_INC(names_area);
	return rc;
}

const char *
gw_names_mqtt(struct gw_user *u, uint32_t id, uint16_t *len)
{
	char sname[SL_CTRS_KEY_LEN + SL_MAX_TOPIC_NAME + 1], mname[SL_MAX_TOPIC_NAME * 3];
	struct name_ent *e = entry(id);
	int n;

	if (e == NULL)
		return NULL;
	if (e->mqtt != NULL) {
		if (e->len == UINT16_MAX)
			return NULL;
		*len = e->len;
		return e->mqtt;
	}
	if (e->miss_ns && gw.now_ns - e->miss_ns < RETRY_NS)
		return NULL;
	n = native_name(u, id, sname, sizeof(sname));
	if (n == -EAGAIN)
		return NULL;
	if (n < 0) {
		e->miss_ns = gw.now_ns ? gw.now_ns : 1;
		return NULL;
	}
	n = sl_mqtt_topic_from_sluice(mname, sizeof(mname), sname, strlen(sname));
	if (n < 0) {
		/* A native name the mapping never produces: no MQTT name, ever. */
		e->mqtt = strdup("");
		e->len = UINT16_MAX;
		return NULL;
	}
	gw_names_learn(id, mname, (uint16_t)n);
	*len = e->len;
	return e->mqtt;
}
