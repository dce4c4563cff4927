/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker's arena for large messages: first-fit runs of units, buffers given back through a ring. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "large_buf.h"

/* At the start of every run: the external buffer's shared info, then
 * where the run is. The buffer itself follows. */
struct lbuf {
	struct rte_mbuf_ext_shared_info shinfo;
	struct sl_large_arena *a;
	uint32_t unit, n;
} __rte_cache_aligned;

static int
bit(const struct sl_large_arena *a, uint32_t u)
{
	return (a->map[u / 64] >> (u % 64)) & 1;
}

static void
set_bits(struct sl_large_arena *a, uint32_t u, uint32_t n, int on)
{
	uint32_t i;

	for (i = u; i < u + n; i++) {
		if (on)
			a->map[i / 64] |= 1ull << (i % 64);
		else
			a->map[i / 64] &= ~(1ull << (i % 64));
	}
}

/* First unit of the first free run of @n units, or UINT32_MAX. Whole free
 * words are skipped 64 units at a time. */
static uint32_t
find_run(const struct sl_large_arena *a, uint32_t n)
{
	uint32_t u = 0, run = 0, start = 0;

	while (u < a->n_units) {
		if (u % 64 == 0 && a->map[u / 64] == ~0ull) {
			u += 64;
			run = 0;
			continue;
		}
		if (bit(a, u)) {
			run = 0;
		} else {
			if (run++ == 0)
				start = u;
			if (run == n)
				return start;
		}
		u++;
	}
	return UINT32_MAX;
}

/* The last reference went, on any lcore: hand the run back to its worker.
 * The ring has a place for every run there can be, so this never fails. */
static void
lbuf_free_cb(void *addr, void *opaque)
{
	struct lbuf *b = opaque;

	(void)addr;
	rte_ring_mp_enqueue(b->a->ret, b);
}

unsigned
sl_large_arena_reclaim(struct sl_large_arena *a)
{
	void *got[32];
	unsigned n, i, total = 0;

	if (a->ret == NULL)
		return 0;
	do {
		n = rte_ring_sc_dequeue_burst(a->ret, got, RTE_DIM(got), NULL);
		for (i = 0; i < n; i++) {
			struct lbuf *b = got[i];

			set_bits(a, b->unit, b->n, 0);
			a->free_units += b->n;
		}
		total += n;
	} while (n == RTE_DIM(got));
	return total;
}

uint64_t
sl_large_buf_cost(const struct rte_mbuf *m)
{
	const struct lbuf *b = container_of(m->shinfo, const struct lbuf, shinfo);

	return (uint64_t)b->n * SL_LARGE_UNIT;
}

struct rte_mbuf *
sl_large_buf_alloc(struct sl_large_arena *a, uint32_t bytes)
{
	uint64_t need = sizeof(struct lbuf) + SL_LARGE_HEADROOM + (uint64_t)bytes;
	uint32_t n = (uint32_t)((need + SL_LARGE_UNIT - 1) / SL_LARGE_UNIT), u;
	struct rte_mbuf *m;
	struct lbuf *b;
	uint64_t room;

	sl_large_arena_reclaim(a);
	if (n > a->free_units || (u = find_run(a, n)) == UINT32_MAX) {
		a->fails++;
		return NULL;
	}
	m = rte_pktmbuf_alloc(a->pool);
	if (m == NULL) {
		a->fails++;
		return NULL;
	}
	set_bits(a, u, n, 1);
	a->free_units -= n;
	a->allocs++;
	b = (struct lbuf *)(a->base + (uint64_t)u * SL_LARGE_UNIT);
	b->a = a;
	b->unit = u;
	b->n = n;
	b->shinfo.free_cb = lbuf_free_cb;
	b->shinfo.fcb_opaque = b;
	rte_mbuf_ext_refcnt_set(&b->shinfo, 1);
	room = SL_LARGE_HEADROOM + (uint64_t)bytes;
	/* No IO address: the buffer is never handed to a NIC (pieces and
	 * copies are), and the arena need not be IO-contiguous. */
	rte_pktmbuf_attach_extbuf(m, b + 1, RTE_BAD_IOVA,
				  (uint16_t)(room < UINT16_MAX ? room : UINT16_MAX), &b->shinfo);
	m->data_off = SL_LARGE_HEADROOM;
	m->data_len = 0;
	m->pkt_len = 0;
	return m;
}

int
sl_large_arena_init(struct sl_large_arena *a, uint64_t bytes, int socket, uint32_t idx,
		    struct rte_mempool *pool)
{
	char name[RTE_RING_NAMESIZE];
	uint32_t slots;

	memset(a, 0, sizeof(*a));
	a->pool = pool;
	a->n_units = (uint32_t)((bytes + SL_LARGE_UNIT - 1) / SL_LARGE_UNIT);
	if (a->n_units == 0)
		return 0;
	a->base = rte_malloc_socket("sl_large", (size_t)a->n_units * SL_LARGE_UNIT,
				    RTE_CACHE_LINE_SIZE, socket);
	a->map = rte_zmalloc_socket("sl_large_map", ((a->n_units + 63) / 64) * 8,
				    RTE_CACHE_LINE_SIZE, socket);
	/* One place per run there can be (a run is at least one unit). */
	slots = rte_align32pow2(a->n_units + 1);
	snprintf(name, sizeof(name), "sl_large_ret_%u", idx);
	a->ret = rte_ring_create(name, slots, socket, RING_F_SC_DEQ);
	if (a->base == NULL || a->map == NULL || a->ret == NULL) {
		sl_large_arena_fini(a);
		return -ENOMEM;
	}
	/* Units past the end of the last word stay "in use" for find_run. */
	if (a->n_units % 64)
		a->map[a->n_units / 64] = ~0ull << (a->n_units % 64);
	a->free_units = a->n_units;
	return 0;
}

void
sl_large_arena_fini(struct sl_large_arena *a)
{
	rte_ring_free(a->ret);
	rte_free(a->map);
	rte_free(a->base);
	memset(a, 0, sizeof(*a));
}
