/* SPDX-License-Identifier: BSD-3-Clause */
/* Session table tests: ids, lookups, stale ids, full table, expiry, hash chains. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

#include "check.h"


/* Addresses are opaque to the table: any values do. */
#define IP_A 0x0100000au
#define IP_B 0x0200000au

static void
test_init(void)
{
	struct sl_session_table t;

	CHECK(sl_session_table_init(&t, 0, 0, NULL) == -EINVAL);
	CHECK(sl_session_table_init(&t, SL_SESSION_MAX + 1, 0, NULL) == -EINVAL);
	CHECK(sl_session_table_init(&t, 16, 255, NULL) == -EINVAL);
	CHECK(sl_session_table_init(&t, 1, 254, NULL) == 0);
	sl_session_table_fini(&t);
}

/* A session id as the table encodes it (its key is all zero here). */
#define PLAIN(id) sl_session_id_decode(t.idkey, (id))

static void
test_open_find_get(void)
{
	struct sl_session_table t, t2;
	struct sl_session *s, *s2, *x;
	uint32_t id;

	CHECK(sl_session_table_init(&t, 64, 5, NULL) == 0);
	CHECK(sl_session_table_init(&t2, 64, 6, NULL) == 0);
	CHECK(sl_session_find_addr(&t, IP_A, 4000) == NULL);
	CHECK(sl_session_open(&t, IP_A, 4000, &s) == 0);
	CHECK(s->id != 0);
	CHECK(sl_session_worker(t.idkey, s->id) == 5);
	CHECK(s->ip == IP_A && s->udp_port == 4000);
	CHECK(t.n_active == 1);
	CHECK(sl_session_find_addr(&t, IP_A, 4000) == s);
	CHECK(sl_session_find_addr(&t, IP_A, 4001) == NULL);
	CHECK(sl_session_find_addr(&t, IP_B, 4000) == NULL);
	CHECK(sl_session_get(&t, s->id, IP_A, 4000) == s);
	/* Right id, wrong address: a forged or misrouted packet. */
	CHECK(sl_session_get(&t, s->id, IP_B, 4000) == NULL);
	CHECK(sl_session_get(&t, s->id, IP_A, 4001) == NULL);
	CHECK(sl_session_get(&t, 0, IP_A, 4000) == NULL);
	CHECK(sl_session_worker(t.idkey, 0) == -1);
	/* Same slot and generation in another worker's table is not this session. */
	CHECK(sl_session_open(&t2, IP_A, 4000, &s2) == 0);
	CHECK(s2->id != s->id && (PLAIN(s2->id) & 0xffffff) == (PLAIN(s->id) & 0xffffff));
	CHECK(sl_session_worker(t.idkey, s2->id) == 6);
	CHECK(sl_session_get(&t, s2->id, IP_A, 4000) == NULL);
	CHECK(sl_session_get(&t2, s->id, IP_A, 4000) == NULL);
	/* A slot number beyond the table. */
	CHECK(sl_session_get(&t, sl_session_id_encode(t.idkey, (PLAIN(s->id) & 0xffff0000u) | 0xfffe),
			     IP_A, 4000) == NULL);

	/* Stale generation: close, reopen the same slot for the same peer. */
	id = s->id;
	sl_session_close(&t, s);
	CHECK(t.n_active == 0);
	CHECK(sl_session_find_addr(&t, IP_A, 4000) == NULL);
	CHECK(sl_session_get(&t, id, IP_A, 4000) == NULL);
	CHECK(sl_session_open(&t, IP_A, 4000, &x) == 0);
	CHECK(x == s); /* the freed slot is reused first */
	CHECK(x->id != id && x->id != 0 && (PLAIN(x->id) & 0xffff) == (PLAIN(id) & 0xffff));
	CHECK(sl_session_get(&t, id, IP_A, 4000) == NULL);
	CHECK(sl_session_get(&t, x->id, IP_A, 4000) == x);
	CHECK(sl_session_find_addr(&t, IP_A, 4000) == x);

	/* Generations wrap but never produce id 0 or repeat back to back. */
	for (int i = 0; i < 600; i++) {
		id = x->id;
		sl_session_close(&t, x);
		CHECK(sl_session_open(&t, IP_A, 4000, &x) == 0);
		CHECK(x->id != 0 && x->id != id && sl_session_worker(t.idkey, x->id) == 5);
		CHECK(sl_session_get(&t, id, IP_A, 4000) == NULL);
	}
	sl_session_table_fini(&t);
	sl_session_table_fini(&t2);

	/* Worker 0 and worker 254: ids never 0, worker field exact. */
	CHECK(sl_session_table_init(&t, 4, 0, NULL) == 0);
	CHECK(sl_session_open(&t, 0, 0, &s) == 0 && s->id != 0 && sl_session_worker(t.idkey, s->id) == 0);
	CHECK(sl_session_get(&t, s->id, 0, 0) == s);
	sl_session_table_fini(&t);
	CHECK(sl_session_table_init(&t, 4, 254, NULL) == 0);
	CHECK(sl_session_open(&t, 1, 1, &s) == 0 && sl_session_worker(t.idkey, s->id) == 254);
	sl_session_table_fini(&t);
}

/*
 * Ids are a keyed permutation: under another key the same slots give other
 * ids; a sealed session's id says so (the transmit side needs it); the
 * transmit state is a seqlock readers copy safely, and an ended session's
 * id no longer finds it.
 */
static void
test_ids_keyed_and_sealed(void)
{
	static const uint8_t k1[16] = { 1 }, k2[16] = { 2 };
	struct sl_session_table t, u;
	struct sl_session *s, *x;
	struct sl_session_tx *tx;
	const struct sl_seal_key *key = NULL;
	uint8_t kr[SL_KEY_LEN], k[SL_KEY_LEN], enc = 9;
	uint8_t d[64], e[64];
	uint32_t id;

	memset(k, 0x5a, sizeof(k));
	memset(kr, 0xa5, sizeof(kr));
	CHECK(sl_session_table_init(&t, 8, 3, k1) == 0);
	CHECK(sl_session_table_init(&u, 8, 3, k2) == 0);
	CHECK(sl_session_open(&t, IP_A, 1, &s) == 0);
	CHECK(sl_session_open(&u, IP_A, 1, &x) == 0);
	CHECK(s->id != x->id); /* same slot, generation and worker */
	CHECK(sl_session_worker(k1, s->id) == 3 && sl_session_worker(k2, x->id) == 3);
	CHECK(sl_session_get(&u, s->id, IP_A, 1) == NULL);
	CHECK(!sl_session_id_sealed(k1, s->id));
	CHECK(sl_session_tx_get(&t, s->id, sl_session_id_decode(k1, s->id), &key, &enc) == NULL);

	id = s->id;
	CHECK(sl_session_keys_set(&t, s, SL_SUITE_CHACHA20_POLY1305, kr, k, 1) == 0);
	CHECK(s->id != id && sl_session_id_sealed(k1, s->id));
	CHECK(sl_session_get(&t, id, IP_A, 1) == NULL && sl_session_get(&t, s->id, IP_A, 1) == s);
	tx = sl_session_tx_get(&t, s->id, sl_session_id_decode(k1, s->id), &key, &enc);
	CHECK(tx != NULL && enc == 1 && tx->seq == 0 && key != NULL);
	/* The transmit key is k_s2c's, the receive key k_c2s's. */
	memset(d, 0, sizeof(d));
	sl_seal_k(key, SL_DIR_S2C, 1, s->id, 1, d, sizeof(d));
	memcpy(e, d, sizeof(e));
	CHECK(sl_seal_open(k, SL_DIR_S2C, e, sizeof(e)) == 0);
	memset(d, 0, sizeof(d));
	sl_seal(kr, SL_DIR_C2S, 1, s->id, 1, d, sizeof(d));
	CHECK(sl_seal_open_k(sl_session_rx_key(&t, s), SL_DIR_C2S, d, sizeof(d)) == 0);
	CHECK(sl_session_tx_still(tx, s->id));
	id = s->id;
	sl_session_close(&t, s);
	CHECK(!sl_session_tx_still(tx, id));
	CHECK(sl_session_tx_get(&t, id, sl_session_id_decode(k1, id), &key, &enc) == NULL);

	/* AES-256-GCM keys, where the CPU has AES-NI: precomputed per slot. */
	if (sl_crypto_aesgcm_available()) {
		CHECK(sl_session_open(&t, IP_A, 2, &s) == 0);
		CHECK(sl_session_keys_set(&t, s, SL_SUITE_AES256_GCM, kr, k, 0) == 0);
		CHECK(s->suite == SL_SUITE_AES256_GCM);
		tx = sl_session_tx_get(&t, s->id, sl_session_id_decode(k1, s->id), &key, &enc);
		CHECK(tx != NULL && enc == 0 && key->suite == SL_SUITE_AES256_GCM);
		memset(d, 0, sizeof(d));
		sl_seal_k(key, SL_DIR_S2C, 1, s->id, 0, d, sizeof(d));
		memcpy(e, d, sizeof(e));
		/* Not a ChaCha20-Poly1305 tag under the same raw key. */
		CHECK(sl_seal_open(k, SL_DIR_S2C, e, sizeof(e)) == -EBADMSG);
		CHECK(sl_seal_open_k(key, SL_DIR_S2C, e, sizeof(e)) == 0);
		sl_session_close(&t, s);
	}
	CHECK(sl_session_keys_set(&u, x, 7, kr, k, 0) == -EINVAL);
	sl_session_table_fini(&t);
	sl_session_table_fini(&u);
}

static void
test_full(void)
{
	struct sl_session_table t;
	struct sl_session *s[8], *x;
	uint32_t ids[8];
	unsigned i, j;

	CHECK(sl_session_table_init(&t, 8, 1, NULL) == 0);
	for (i = 0; i < 8; i++) {
		CHECK(sl_session_open(&t, IP_A, (uint16_t)(100 + i), &s[i]) == 0);
		ids[i] = s[i]->id;
		for (j = 0; j < i; j++)
			CHECK(ids[j] != ids[i]);
	}
	CHECK(t.n_active == 8);
	x = (struct sl_session *)1;
	CHECK(sl_session_open(&t, IP_B, 1, &x) == -ENOSPC);
	CHECK(x == (struct sl_session *)1);
	CHECK(t.n_active == 8);
	sl_session_close(&t, s[3]);
	CHECK(t.n_active == 7);
	CHECK(sl_session_open(&t, IP_B, 1, &x) == 0 && x == s[3]);
	CHECK(sl_session_open(&t, IP_B, 2, &x) == -ENOSPC);
	for (i = 0; i < 8; i++)
		if (i != 3)
			CHECK(sl_session_get(&t, ids[i], IP_A, (uint16_t)(100 + i)) == s[i]);
	CHECK(sl_session_find_addr(&t, IP_A, 103) == NULL);
	CHECK(sl_session_find_addr(&t, IP_B, 1) == s[3]);
	sl_session_table_fini(&t);
}

struct expired {
	unsigned n;
	uint32_t ids[4096];
	int bad; /* callback saw a session already closed */
};

static void
on_expired(void *arg, const struct sl_session *s)
{
	struct expired *e = arg;

	if (s->id == 0)
		e->bad = 1;
	if (e->n < 4096)
		e->ids[e->n] = s->id;
	e->n++;
}

static int
expired_has(const struct expired *e, uint32_t id)
{
	unsigned i;

	for (i = 0; i < e->n && i < 4096; i++)
		if (e->ids[i] == id)
			return 1;
	return 0;
}

static void
test_expire(void)
{
	static struct expired e;
	struct sl_session_table t;
	struct sl_session *s;
	/* last_seen for each session, with now = 10000 and timeout = 1000. */
	static const uint64_t seen[] = { 9500, 8000, 9000, 8999, 10000, 12000, 0, 9001 };
	static const int dies[] = { 0, 1, 0, 1, 0, 0, 1, 0 };
	uint32_t ids[8], i;

	CHECK(sl_session_table_init(&t, 32, 2, NULL) == 0);
	for (i = 0; i < 8; i++) {
		CHECK(sl_session_open(&t, IP_A, (uint16_t)i, &s) == 0);
		s->last_seen = seen[i];
		ids[i] = s->id;
	}
	memset(&e, 0, sizeof(e));
	CHECK(sl_session_expire(&t, 10000, 1000, 1000, on_expired, &e) == 3);
	CHECK(e.n == 3 && !e.bad);
	CHECK(t.n_active == 5);
	for (i = 0; i < 8; i++) {
		struct sl_session *g = sl_session_get(&t, ids[i], IP_A, (uint16_t)i);

		CHECK(expired_has(&e, ids[i]) == dies[i]);
		CHECK((g == NULL) == dies[i]);
		CHECK((sl_session_find_addr(&t, IP_A, (uint16_t)i) == NULL) == dies[i]);
	}
	/* Nothing more to do at the same time; later, the rest go (no callback). */
	CHECK(sl_session_expire(&t, 10000, 1000, 1000, on_expired, &e) == 0);
	CHECK(sl_session_expire(&t, 20000, 1000, 1000, NULL, NULL) == 5);
	CHECK(t.n_active == 0);
	sl_session_table_fini(&t);

	/* max_scan bounds the work: a big table takes several calls. */
	CHECK(sl_session_table_init(&t, 1000, 0, NULL) == 0);
	for (i = 0; i < 1000; i++) {
		CHECK(sl_session_open(&t, IP_B, (uint16_t)(i + 1), &s) == 0);
		s->last_seen = (i % 2) ? 100 : 5000; /* odd ones are silent */
	}
	memset(&e, 0, sizeof(e));
	for (i = 0; i < 9; i++)
		CHECK(sl_session_expire(&t, 5000, 1000, 100, on_expired, &e) == 50);
	CHECK(e.n == 450 && t.n_active == 550);
	CHECK(sl_session_expire(&t, 5000, 1000, 100, on_expired, &e) == 50);
	CHECK(e.n == 500 && t.n_active == 500 && !e.bad);
	/* A full lap later: nothing left to expire. */
	for (i = 0; i < 10; i++)
		CHECK(sl_session_expire(&t, 5000, 1000, 100, on_expired, &e) == 0);
	for (i = 0; i < 1000; i++)
		CHECK((sl_session_find_addr(&t, IP_B, (uint16_t)(i + 1)) == NULL) == (i % 2));
	/* The scan resumes where it stopped, across the wrap: 3 x 400 covers all. */
	CHECK(sl_session_expire(&t, 100000, 1000, 400, NULL, NULL) == 200);
	CHECK(sl_session_expire(&t, 100000, 1000, 400, NULL, NULL) == 200);
	CHECK(sl_session_expire(&t, 100000, 1000, 400, NULL, NULL) == 100);
	CHECK(t.n_active == 0);
	/* max_scan above cap: one lap, not more. */
	for (i = 0; i < 10; i++) {
		CHECK(sl_session_open(&t, IP_B, (uint16_t)(i + 1), &s) == 0);
		s->last_seen = 0;
	}
	CHECK(sl_session_expire(&t, 100000, 1000, 0xffffffffu, NULL, NULL) == 10);
	CHECK(sl_session_expire(&t, 100000, 1000, 0, NULL, NULL) == 0);
	sl_session_table_fini(&t);
}

/*
 * Many peers behind one address (one IP, many ports) fill the hash buckets
 * unevenly; random opens, closes and expiries against a reference model
 * must never lose or invent a session.
 */
#define H_CAP 1024
#define H_PEERS 1600

struct ref_peer {
	uint32_t ip;
	uint16_t port;
	uint32_t id; /* 0 when closed */
	uint32_t stale; /* an id this peer had before, or 0 */
	uint64_t last;	/* last_seen given to its session */
};

static struct ref_peer peers[H_PEERS];

static unsigned
longest_chain(const struct sl_session_table *t)
{
	unsigned b, best = 0;

	for (b = 0; b < t->nbuckets; b++) {
		unsigned n = 0;
		uint32_t i = t->bucket[b];

		while (i && n <= t->cap) {
			n++;
			i = t->next[i - 1];
		}
		if (n > best)
			best = n;
	}
	return best;
}

static int
model_matches(struct sl_session_table *t, unsigned n_open)
{
	unsigned i;

	if (t->n_active != n_open)
		return 0;
	for (i = 0; i < H_PEERS; i++) {
		struct ref_peer *p = &peers[i];
		struct sl_session *s = sl_session_find_addr(t, p->ip, p->port);

		if (p->id) {
			if (!s || s->id != p->id || sl_session_get(t, p->id, p->ip, p->port) != s)
				return 0;
		} else if (s) {
			return 0;
		}
		/* (A wrapped generation may legitimately hand the old id back.) */
		if (p->stale && p->stale != p->id && sl_session_get(t, p->stale, p->ip, p->port) != NULL)
			return 0;
	}
	return 1;
}

static void
test_chains_model(void)
{
	struct sl_session_table t;
	struct sl_session *s;
	unsigned i, op, n_open = 0, max_chain = 0, bad = 0, n_expired = 0;

	CHECK(sl_session_table_init(&t, H_CAP, 3, NULL) == 0);
	for (i = 0; i < H_PEERS; i++) {
		/* Mostly one address with many ports; a few other addresses. */
		peers[i].ip = i < 1400 ? IP_A : IP_B + (i % 7) * 0x01000000u;
		peers[i].port = (uint16_t)(i < 1400 ? 30000 + i : 9000 + i);
		peers[i].id = 0;
		peers[i].stale = 0;
	}
	for (op = 0; op < 100000 && !bad; op++) {
		uint64_t x = rng();
		struct ref_peer *p = &peers[(x >> 8) % H_PEERS];
		unsigned kind = (unsigned)(x % 8);
		int rc;

		if (kind < 4 && !p->id) {
			rc = sl_session_open(&t, p->ip, p->port, &s);
			if (n_open == H_CAP) {
				bad |= rc != -ENOSPC;
			} else if (rc != 0 || s->id == 0 || sl_session_worker(t.idkey, s->id) != 3) {
				bad = 1;
			} else {
				p->id = s->id;
				s->last_seen = op;
				p->last = op;
				n_open++;
			}
		} else if (kind < 7 && p->id) {
			s = sl_session_get(&t, p->id, p->ip, p->port);
			if (!s) {
				bad = 1;
			} else {
				sl_session_close(&t, s);
				p->stale = p->id;
				p->id = 0;
				n_open--;
			}
		} else if (kind == 7 && op % 64 == 7) {
			/* Expire everything not seen in the last 5000 operations. */
			static struct expired e;

			memset(&e, 0, sizeof(e));
			rc = (int)sl_session_expire(&t, op, 5000, 300, on_expired, &e);
			bad |= e.bad || (unsigned)rc != e.n;
			n_expired += e.n;
			for (i = 0; i < H_PEERS && !bad; i++) {
				struct ref_peer *q = &peers[i];

				if (q->id && expired_has(&e, q->id)) {
					bad |= op - q->last <= 5000; /* expired while alive */
					q->stale = q->id;
					q->id = 0;
					n_open--;
				}
			}
		}
		if (!bad && (op % 500 == 0 || op == 99999)) {
			unsigned c = longest_chain(&t);

			if (c > max_chain)
				max_chain = c;
			bad |= !model_matches(&t, n_open);
		}
		if (bad)
			fprintf(stderr, "session model diverged at op %u\n", op);
	}
	CHECK(!bad);
	/* The test only means something if buckets were actually shared. */
	CHECK(max_chain >= 3);
	CHECK(n_expired > 0);
	sl_session_table_fini(&t);
}

int
main(void)
{
	test_init();
	test_open_find_get();
	test_full();
	test_ids_keyed_and_sealed();
	test_expire();
	test_chains_model();
	return check_result("test_session");
}
