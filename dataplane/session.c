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

/* The next id of @slot: a new generation (7 bits, 1..127), under the
 * table's key. Id 0 means "none": a generation whose id would be 0 is
 * skipped. */
static uint32_t
next_id(struct sl_session_table *t, uint32_t slot, uint32_t sealed)
{
	uint32_t id;

	do {
		t->gen[slot] = (uint8_t)(t->gen[slot] % 127 + 1);
		id = sl_session_id_encode(t->idkey, (t->worker + 1) << 24 | sealed |
							    (uint32_t)t->gen[slot] << 16 | slot);
	} while (id == 0);
	return id;
}

int
sl_session_table_init(struct sl_session_table *t, uint32_t cap, uint32_t worker,
		      const uint8_t *idkey)
{
	uint32_t i;

	memset(t, 0, sizeof(*t));
	/* No id is 0: empty cache entries never hit. */
	if (cap == 0 || cap > SL_SESSION_MAX || worker >= 255)
		return -EINVAL;
	if (idkey)
		memcpy(t->idkey, idkey, sizeof(t->idkey));
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
	t->tx = aligned_alloc(64, cap * sizeof(*t->tx));
	t->rxk = aligned_alloc(64, cap * sizeof(*t->rxk));
	t->txk = aligned_alloc(64, cap * sizeof(*t->txk));
	/* Touched now: a worker must not fault a page in when a session
	 * opens. */
	if (t->tx)
		memset(t->tx, 0, cap * sizeof(*t->tx));
	if (t->rxk)
		memset(t->rxk, 0, cap * sizeof(*t->rxk));
	if (t->txk)
		memset(t->txk, 0, cap * sizeof(*t->txk));
	if (!t->s || !t->bucket || !t->next || !t->free_slots || !t->gen || !t->tx || !t->rxk ||
	    !t->txk) {
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
	if (t->tx)
		sl_wipe(t->tx, t->cap * sizeof(*t->tx));
	if (t->rxk)
		sl_wipe(t->rxk, t->cap * sizeof(*t->rxk));
	if (t->txk)
		sl_wipe(t->txk, t->cap * sizeof(*t->txk));
	free(t->tx);
	free(t->rxk);
	free(t->txk);
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
	uint32_t plain = id ? sl_id_cache_plain(&t->idc, t->idkey, id) : 0;
	uint32_t slot = plain & 0xffff;
	struct sl_session *s;

	if ((plain >> 24) != t->worker + 1 || slot >= t->cap)
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
	s->id = next_id(t, slot, 0);
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
	/* A seqlock's write side, as in sl_session_keys_set: a sender that
	 * still sees the old id after sealing sealed with the old key. */
	if (t->tx[slot].id) {
		__atomic_store_n(&t->tx[slot].id, 0, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		sl_seal_key_wipe(&t->txk[slot]);
		sl_seal_key_wipe(&t->rxk[slot]);
	}
	s->id = 0;
	t->free_slots[t->n_free++] = slot;
	t->n_active--;
}

struct sl_session_tx *
sl_session_tx_get(struct sl_session_table *t, uint32_t id, uint32_t plain,
		  const struct sl_seal_key **key, uint8_t *enc)
{
	uint32_t slot = plain & 0xffff;
	struct sl_session_tx *tx;

	if (id == 0 || (plain >> 24) != t->worker + 1 || slot >= t->cap)
		return NULL;
	tx = &t->tx[slot];
	/* Acquire pairs with the release in sl_session_keys_set: the key is
	 * the id's once the id is seen (until the id moves: the caller
	 * checks again after sealing). */
	if (__atomic_load_n(&tx->id, __ATOMIC_ACQUIRE) != id)
		return NULL;
	*key = &t->txk[slot];
	*enc = tx->enc;
	return tx;
}

int
sl_session_keys_set(struct sl_session_table *t, struct sl_session *s, unsigned suite,
		    const uint8_t k_c2s[SL_KEY_LEN], const uint8_t k_s2c[SL_KEY_LEN], uint8_t enc)
{
	uint32_t slot = (uint32_t)(s - t->s);
	struct sl_session_tx *tx = &t->tx[slot];
	int rc;

	rc = sl_seal_key_init(&t->rxk[slot], suite, k_c2s);
	if (rc < 0)
		return rc;
	s->suite = (uint8_t)suite;
	/* A seqlock's write side: the id cleared before the key changes. */
	__atomic_store_n(&tx->id, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	rc = sl_seal_key_init(&t->txk[slot], suite, k_s2c);
	if (rc < 0) {
		sl_seal_key_wipe(&t->rxk[slot]);
		return rc;
	}
	tx->enc = enc;
	/* A new key starts a new sequence: nonces repeat only under a key
	 * that is gone. Relaxed: ordered before the id by the release. */
	__atomic_store_n(&tx->seq, 0, __ATOMIC_RELAXED);
	s->id = next_id(t, slot, SL_SESSION_ID_SEALED);
	__atomic_store_n(&tx->id, s->id, __ATOMIC_RELEASE);
	return 0;
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
