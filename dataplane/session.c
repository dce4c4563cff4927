/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-worker session table: session ids, peer addresses, liveness (no EAL). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

static uint32_t
addr_hash(const struct sl_session_table *t, uint32_t ip, uint16_t port)
{
	uint64_t k = ((uint64_t)ip << 16 | port) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(k >> 32) & (t->nbuckets - 1);
}

int
sl_session_table_init(struct sl_session_table *t, uint32_t cap, uint32_t worker)
{
	uint32_t i;

	memset(t, 0, sizeof(*t));
	if (cap == 0 || cap > SL_SESSION_MAX || worker >= 255)
		return -EINVAL;
	t->cap = cap;
	t->worker = worker;
	t->nbuckets = 1;
	while (t->nbuckets < cap)
		t->nbuckets <<= 1;
	t->s = calloc(cap, sizeof(*t->s));
	t->bucket = calloc(t->nbuckets, sizeof(*t->bucket));
	t->next = calloc(cap, sizeof(*t->next));
	t->free_slots = calloc(cap, sizeof(*t->free_slots));
	t->gen = calloc(cap, sizeof(*t->gen));
	if (!t->s || !t->bucket || !t->next || !t->free_slots || !t->gen) {
		sl_session_table_fini(t);
		return -ENOMEM;
	}
	/* Hand out low slots first: the pop takes from the end. */
	for (i = 0; i < cap; i++)
		t->free_slots[i] = cap - 1 - i;
	t->n_free = cap;
	return 0;
}

void
sl_session_table_fini(struct sl_session_table *t)
{
	free(t->s);
	free(t->bucket);
	free(t->next);
	free(t->free_slots);
	free(t->gen);
	memset(t, 0, sizeof(*t));
}

struct sl_session *
sl_session_find_addr(struct sl_session_table *t, uint32_t ip, uint16_t port)
{
	uint32_t i = t->bucket[addr_hash(t, ip, port)];

	while (i) {
		struct sl_session *s = &t->s[i - 1];

		if (s->ip == ip && s->udp_port == port)
			return s;
		i = t->next[i - 1];
	}
	return NULL;
}

struct sl_session *
sl_session_get(struct sl_session_table *t, uint32_t id, uint32_t ip, uint16_t port)
{
	uint32_t slot = id & 0xffff;
	struct sl_session *s;

	if (sl_session_worker(id) != (int)t->worker || slot >= t->cap)
		return NULL;
	s = &t->s[slot];
	if (s->id != id || s->ip != ip || s->udp_port != port)
		return NULL;
	return s;
}

int
sl_session_open(struct sl_session_table *t, uint32_t ip, uint16_t port, struct sl_session **out)
{
	struct sl_session *s;
	uint32_t slot, b;

	if (t->n_free == 0)
		return -ENOSPC;
	slot = t->free_slots[--t->n_free];
	s = &t->s[slot];
	memset(s, 0, sizeof(*s));
	t->gen[slot]++;
	if (t->gen[slot] == 0)
		t->gen[slot] = 1;
	s->id = (t->worker + 1) << 24 | (uint32_t)t->gen[slot] << 16 | slot;
	s->ip = ip;
	s->udp_port = port;
	b = addr_hash(t, ip, port);
	t->next[slot] = t->bucket[b];
	t->bucket[b] = slot + 1;
	t->n_active++;
	*out = s;
	return 0;
}

void
sl_session_close(struct sl_session_table *t, struct sl_session *s)
{
	uint32_t slot = (uint32_t)(s - t->s);
	uint32_t *link = &t->bucket[addr_hash(t, s->ip, s->udp_port)];

	while (*link && *link != slot + 1)
		link = &t->next[*link - 1];
	if (*link)
		*link = t->next[slot];
	s->id = 0;
	t->free_slots[t->n_free++] = slot;
	t->n_active--;
}

uint32_t
sl_session_expire(struct sl_session_table *t, uint64_t now, uint64_t timeout,
		  uint32_t max_scan, sl_session_expired_fn fn, void *arg)
{
	uint32_t n = 0, i;

	if (max_scan > t->cap)
		max_scan = t->cap;
	for (i = 0; i < max_scan; i++) {
		struct sl_session *s = &t->s[t->scan_pos];

		if (++t->scan_pos == t->cap)
			t->scan_pos = 0;
		if (s->id && now - s->last_seen > timeout && now > s->last_seen) {
			if (fn)
				fn(arg, s);
			sl_session_close(t, s);
			n++;
		}
	}
	return n;
}
