/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic table and per-topic subscriber sets: the routing state (no EAL). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/keyhash.h>

#include "route.h"

int
sl_route_init(struct sl_route *r, uint32_t max_topics, uint32_t max_subs, uint32_t n_workers)
{
	uint32_t nslots = 1, i;

	memset(r, 0, sizeof(*r));
	if (max_topics < 2 || max_subs == 0 || n_workers == 0)
		return -EINVAL;
	/* Load factor at most 1/2 keeps probe chains short. */
	while (nslots < 2 * max_topics)
		nslots <<= 1;
	r->cap = max_topics;
	r->max_subs = max_subs;
	r->n_workers = n_workers;
	r->slot_mask = nslots - 1;
	r->slots = calloc(nslots, sizeof(*r->slots));
	r->topics = calloc(max_topics, sizeof(*r->topics));
	r->state = aligned_alloc(64, sizeof(*r->state) * max_topics);
	r->subs = calloc((size_t)max_topics * max_subs, sizeof(*r->subs));
	r->sub_user = calloc((size_t)max_topics * max_subs, sizeof(*r->sub_user));
	r->sub_filter = calloc((size_t)max_topics * max_subs, sizeof(*r->sub_filter));
	r->filters = calloc((size_t)n_workers * SL_ROUTE_FILTERS, sizeof(*r->filters));
	if (!r->slots || !r->topics || !r->state || !r->subs || !r->sub_user || !r->sub_filter ||
	    !r->filters) {
		sl_route_fini(r);
		return -ENOMEM;
	}
	memset(r->state, 0, sizeof(*r->state) * max_topics);
	for (i = 0; i < max_topics; i++) {
		r->state[i].subs = &r->subs[(size_t)i * max_subs];
		r->state[i].sub_user = &r->sub_user[(size_t)i * max_subs];
		r->state[i].sub_filter = &r->sub_filter[(size_t)i * max_subs];
	}
	return 0;
}

void
sl_route_fini(struct sl_route *r)
{
	free(r->slots);
	free(r->topics);
	free(r->state);
	free(r->subs);
	free(r->sub_user);
	free(r->sub_filter);
	free(r->filters);
	memset(r, 0, sizeof(*r));
}

uint32_t
sl_route_topic_lookup(const struct sl_route *r, const char *name, uint32_t len)
{
	uint32_t h = sl_name_hash(name, len), i, id;

	for (i = h & r->slot_mask;; i = (i + 1) & r->slot_mask) {
		/* Acquire: pairs with the release store of the slot in create. */
		id = __atomic_load_n(&r->slots[i], __ATOMIC_ACQUIRE);
		if (id == 0)
			return 0;
		if (r->topics[id].hash == h && r->topics[id].name_len == len &&
		    memcmp(r->topics[id].name, name, len) == 0 &&
		    __atomic_load_n(&r->topics[id].active, __ATOMIC_ACQUIRE))
			return id;
	}
}

int
sl_route_topic_create(struct sl_route *r, const char *name, uint32_t len, uint32_t *id)
{
	return sl_route_topic_create_init(r, name, len, NULL, NULL, id);
}

int
sl_route_topic_create_init(struct sl_route *r, const char *name, uint32_t len,
			   sl_topic_init_fn init, void *arg, uint32_t *id)
{
	int rc;
	uint32_t h, i, nid;
	struct sl_topic *t;

	if (!sl_proto_topic_name_valid(name, len))
		return -EINVAL;
	nid = sl_route_topic_lookup(r, name, len);
	if (nid) {
		*id = nid;
		return 0;
	}
	if (r->n_topics + 1 >= r->cap)
		return -ENOSPC;
	nid = ++r->n_topics;
	t = &r->topics[nid];
	h = sl_name_hash(name, len);
	t->id = nid;
	t->hash = h;
	t->name_len = (uint16_t)len;
	t->owner = (uint16_t)(nid % r->n_workers);
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	if (init) {
		rc = init(arg, t, &r->state[nid]);
		if (rc < 0) {
			memset(t, 0, sizeof(*t));
			r->n_topics--;
			return rc;
		}
	}
	/* Release: the fields above are visible to whoever sees active/slot. */
	__atomic_store_n(&t->active, 1, __ATOMIC_RELEASE);
	for (i = h & r->slot_mask; r->slots[i] != 0; i = (i + 1) & r->slot_mask)
		;
	__atomic_store_n(&r->slots[i], nid, __ATOMIC_RELEASE);
	*id = nid;
	return 1;
}

void
sl_route_topic_deactivate(struct sl_route *r, uint32_t id)
{
	if (id == 0 || id >= r->cap)
		return;
	/* Release: pairs with the acquire loads in lookup and get. The slot
	 * stays: probe chains must not break. */
	__atomic_store_n(&r->topics[id].active, 0, __ATOMIC_RELEASE);
}

int
sl_route_sub_claim(struct sl_route *r, uint32_t id)
{
	uint32_t *c = &r->state[id].sub_claims;
	uint32_t n = __atomic_load_n(c, __ATOMIC_RELAXED);

	/* Relaxed: the count is the only thing shared; the subscriber entry
	 * itself is written by the owner alone. */
	do {
		if (n >= r->max_subs)
			return -ENOSPC;
	} while (!__atomic_compare_exchange_n(c, &n, n + 1, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return 0;
}

void
sl_route_sub_unclaim(struct sl_route *r, uint32_t id)
{
	__atomic_fetch_sub(&r->state[id].sub_claims, 1, __ATOMIC_RELAXED);
}

/* Refresh @s's entry (and its user) if its session is subscribed already. */
static struct sl_sub *
sub_refresh(struct sl_topic_state *ts, const struct sl_sub *s, uint32_t user)
{
	uint32_t i;

	for (i = 0; i < ts->n_subs; i++) {
		if (ts->subs[i].session == s->session) {
			/* Its filter stays until sl_route_sub_set_filter. */
			ts->subs[i] = *s;
			ts->sub_user[i] = user;
			return &ts->subs[i];
		}
	}
	return NULL;
}

int
sl_route_sub_add_claimed_user(struct sl_route *r, uint32_t id, const struct sl_sub *s,
			      uint32_t user)
{
	struct sl_topic_state *ts = &r->state[id];

	if (sub_refresh(ts, s, user) != NULL) {
		sl_route_sub_unclaim(r, id);
		return 1;
	}
	/* Claims never exceed max_subs and include this one: there is room. */
	ts->sub_user[ts->n_subs] = user;
	ts->sub_filter[ts->n_subs] = 0;
	ts->subs[ts->n_subs++] = *s;
	return 0;
}

int
sl_route_sub_add(struct sl_route *r, uint32_t id, const struct sl_sub *s)
{
	return sl_route_sub_add_user(r, id, s, 0);
}

int
sl_route_sub_add_claimed(struct sl_route *r, uint32_t id, const struct sl_sub *s)
{
	return sl_route_sub_add_claimed_user(r, id, s, 0);
}

int
sl_route_sub_add_user(struct sl_route *r, uint32_t id, const struct sl_sub *s, uint32_t user)
{
	if (sub_refresh(&r->state[id], s, user) != NULL)
		return 1;
	if (sl_route_sub_claim(r, id) < 0)
		return -ENOSPC;
	return sl_route_sub_add_claimed_user(r, id, s, user);
}

struct sl_sub *
sl_route_sub_find(struct sl_route *r, uint32_t id, uint32_t session)
{
	struct sl_topic_state *ts = &r->state[id];
	uint32_t i;

	for (i = 0; i < ts->n_subs; i++)
		if (ts->subs[i].session == session)
			return &ts->subs[i];
	return NULL;
}

/* Free subscriber @i's filter entry, if it has one. */
static void
filter_free(struct sl_route *r, uint32_t id, uint32_t i)
{
	struct sl_sub_filter *sf = sl_route_sub_filter(r, id, i);

	if (sf == NULL)
		return;
	sf->topic = 0;
	r->state[id].sub_filter[i] = 0;
	r->state[id].n_filtered--;
}

int
sl_route_sub_set_filter(struct sl_route *r, uint32_t id, uint32_t session,
			const struct sl_filter *f)
{
	struct sl_topic_state *ts = &r->state[id];
	struct sl_sub_filter *pool = &r->filters[(size_t)(id % r->n_workers) * SL_ROUTE_FILTERS];
	uint32_t i, k;

	for (i = 0; i < ts->n_subs && ts->subs[i].session != session; i++)
		;
	if (i == ts->n_subs)
		return -ENOENT;
	filter_free(r, id, i);
	if (f == NULL)
		return 0;
	/* A SUBSCRIBE's rare path: a scan of the owner's pool. */
	for (k = 0; k < SL_ROUTE_FILTERS && pool[k].topic != 0; k++)
		;
	if (k == SL_ROUTE_FILTERS)
		return -ENOSPC;
	pool[k].f = *f;
	pool[k].topic = id;
	pool[k].session = session;
	pool[k].skip_first = 0;
	pool[k].skip_last = 0;
	ts->sub_filter[i] = (uint16_t)(k + 1);
	ts->n_filtered++;
	return 0;
}

int
sl_route_sub_del(struct sl_route *r, uint32_t id, uint32_t session)
{
	struct sl_topic_state *ts = &r->state[id];
	uint32_t i;

	for (i = 0; i < ts->n_subs; i++) {
		if (ts->subs[i].session == session) {
			filter_free(r, id, i);
			/* Order among subscribers carries no meaning: swap in the last. */
			ts->subs[i] = ts->subs[--ts->n_subs];
			ts->sub_user[i] = ts->sub_user[ts->n_subs];
			ts->sub_filter[i] = ts->sub_filter[ts->n_subs];
			sl_route_sub_unclaim(r, id);
			return 0;
		}
	}
	return -ENOENT;
}

uint32_t
sl_route_sub_del_session(struct sl_route *r, uint32_t owner, uint32_t session)
{
	uint32_t id, n = 0;

	for (id = owner ? owner : r->n_workers; id < r->cap; id += r->n_workers)
		if (r->state[id].n_subs && sl_route_sub_del(r, id, session) == 0)
			n++;
	return n;
}
