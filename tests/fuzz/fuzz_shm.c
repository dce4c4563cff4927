/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the shared-memory transport as the worker reads it
 * (dataplane/shm_worker.c): a client region built in memory (no socket, no
 * attach), its tx ring filled with the input, then a real worker
 * (tests/dp_harness.h, no NIC) polled over it: records, commit words, pads,
 * lengths, kinds, and the frames and message records they carry (HELLO and
 * the session that follows over shared memory).
 *
 * Input: a control byte, a 16-bit little-endian start position in the ring
 * (rounded down to a 64-byte line), then the ring's bytes from offset 0.
 *   bit 0 (LAP): the commit words of the records from the start position
 *                get the right lap (the fuzzer then only chooses lengths),
 *                as a client's producer writes them
 *   bit 1 (BIG): the region accepts frames larger than a datagram
 * Invariants: the worker's positions only move forward, the consumer
 * position it publishes never passes what it read, it reads no more than
 * the ring can hold at two laps (a hostile client may leave records of the
 * next lap where the worker has been), and a client cut off is told so.
 */

#include <common/proto.h>
#include <common/shm.h>

#include "dp_harness.h"
#include "fuzz.h"
#include "session.h"
#include "shm_internal.h"
#include "shm_worker.h"
#include "worker_internal.h"

#define RING 4096u
#define SHIFT 12u
#define SLOT 1u
#define GEN 3u
#define CTL_LAP 0x01
#define CTL_BIG 0x02

static struct sl_dp dp;
static struct sl_worker *w;
static struct sl_shm shm;
static struct sl_shm_client clients[4];
static uint8_t *base;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (harness_eal("fuzz_shm") != 0)
		abort();
	FUZZ_CHECK(harness_dp(&dp, NULL, NULL) == 0);
	FUZZ_CHECK(harness_topic(&dp, "prices") != 0);
	w = dp.workers[0];
	shm.max_clients = 4;
	shm.c = clients;
	dp.shm = &shm;
	base = aligned_alloc(4096, 4096 + 2 * RING);
	FUZZ_CHECK(base != NULL);
	return 0;
}

static struct sl_shm_region *
region(void)
{
	return (struct sl_shm_region *)base;
}

/* A fresh region for client SLOT, its tx ring read from @start on,
 * attached to the worker through the real handoff. */
static void
attach(uint64_t start, uint32_t max_frame)
{
	struct sl_shm_client *c = &clients[SLOT];
	struct sl_handoff h = { .kind = SL_HO_SHM_ATTACH, .topic = SLOT };

	harness_shm_client(c, base, SLOT, GEN, RING, SHIFT);
	c->max_frame = max_frame;
	c->tx_pos = start;
	region()->tx.cons = start;
	__atomic_store_n(&c->state, SL_SHM_LIVE, __ATOMIC_RELEASE);
	w->n_shm = 0;
	sl_shm_worker_handoff(w, &h);
	FUZZ_CHECK(w->n_shm == 1);
}

/* Give the records from @pos the commit words a producer would have
 * written at their positions, keeping the lengths the fuzzer chose. */
static void
fix_laps(uint8_t *ring, uint64_t pos)
{
	unsigned k;

	for (k = 0; k < 128; k++) {
		uint32_t off = (uint32_t)(pos & (RING - 1));
		uint64_t *word = (uint64_t *)(ring + off);
		uint32_t w32 = (uint32_t)*word, len = sl_shm_word_len(*word), rec;

		/* The kind and length the fuzzer wrote, the lap a producer would. */
		*word = sl_shm_commit_word(pos, SHIFT, w32);
		if (w32 == SL_SHM_PAD) {
			pos += RING - off;
			continue;
		}
		rec = sl_shm_rec_bytes(len);
		if (len < sizeof(struct sl_hdr) || rec > RING - off)
			return;
		pos += rec;
	}
}

static void
reset(void)
{
	struct sl_handoff h;
	uint32_t i;

	for (i = 0; i < w->sessions.cap; i++)
		if (w->sessions.s[i].id != 0)
			sl_worker_session_close(w, &w->sessions.s[i]);
	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
		rte_pktmbuf_free(h.m);
	w->n_shm = 0;
	FUZZ_CHECK(w->sessions.n_active == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ring = base + 4096;
	struct sl_shm_client *c = &clients[SLOT];
	uint64_t start, cons, prev;
	uint8_t ctl;
	int i;

	if (size < 3)
		return 0;
	ctl = data[0];
	start = (uint64_t)(data[1] | data[2] << 8) % RING & ~(uint64_t)(SL_SHM_LINE - 1);
	data += 3, size -= 3;
	if (size > RING)
		size = RING;
	attach(start, (ctl & CTL_BIG) ? 2 * RING : SL_MAX_DATAGRAM);
	memcpy(ring, data, size);
	if (ctl & CTL_LAP)
		fix_laps(ring, start);

	prev = start;
	for (i = 0; i < 4; i++) {
		w->now = rte_rdtsc();
		sl_worker_poll(w);
		cons = __atomic_load_n(&region()->tx.cons, __ATOMIC_ACQUIRE);
		FUZZ_CHECK(cons >= prev && cons <= c->tx_pos);
		FUZZ_CHECK(c->tx_pos - start <= 2 * RING);
		prev = cons;
		if (w->n_shm == 0) {
			/* Cut off: the client is told why. */
			FUZZ_CHECK(region()->notice != 0);
			break;
		}
	}
	reset();
	return 0;
}
