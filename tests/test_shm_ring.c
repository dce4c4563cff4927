/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client end of the shared-memory rings (client/shm_link.c) against the
 * rules of docs/PROTOCOL.md section 14, with the broker's side played by a
 * reference consumer and producer written from those rules: many laps, pad
 * records, a full ring, an open claim that is never committed, bad region
 * headers and records.
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <common/proto.h>
#include <common/shm.h>

#include "check.h"
#include "shm_link.h"

#define RING 4096u
#define HDR 8192u /* sizeof(struct sl_shm_region) rounded up */
#define NRX 2u
#define SIZE (HDR + RING * (1 + NRX))

static uint8_t *region;

static void
region_make(void)
{
	struct sl_shm_region *r;
	uint32_t i;

	free(region);
	region = aligned_alloc(4096, SIZE);
	if (region == NULL)
		abort();
	memset(region, 0, SIZE);
	r = (struct sl_shm_region *)region;
	r->magic = SL_SHM_MAGIC;
	r->version = SL_SHM_VERSION;
	r->n_rx = NRX;
	r->size = SIZE;
	r->tx_size = r->rx_size = RING;
	r->tx_off = HDR;
	for (i = 0; i < NRX; i++)
		r->rx_off[i] = HDR + RING * (i + 1);
	r->max_frame = 1472;
}

/* A frame of @len bytes whose bytes all derive from @n. */
static void
frame_fill(uint8_t *p, uint32_t len, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(n * 31u + i);
}

static int
frame_ok(const uint8_t *p, uint32_t len, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(n * 31u + i))
			return 0;
	return 1;
}

/* --- the broker's side, from the protocol text ------------------------------------ */

struct ref_cons {
	const uint8_t *ring;
	uint64_t *cons_word;
	uint64_t pos;
};

/* Next committed record: its length and data, or 0 when none. */
static uint32_t
ref_take(struct ref_cons *c, const uint8_t **data)
{
	for (;;) {
		uint32_t off = (uint32_t)(c->pos % RING);
		uint64_t w = __atomic_load_n((const uint64_t *)(c->ring + off), __ATOMIC_ACQUIRE);
		uint32_t lap = sl_shm_lap(c->pos, 12), len = (uint32_t)w;

		if ((uint32_t)(w >> 32) != lap)
			return 0;
		if (len == SL_SHM_PAD) {
			c->pos += RING - off;
			continue;
		}
		CHECK(off + sl_shm_rec_bytes(len) <= RING); /* never wraps */
		*data = c->ring + off + SL_SHM_REC_HDR;
		c->pos += sl_shm_rec_bytes(len);
		return len;
	}
}

static void
ref_release(struct ref_cons *c)
{
	__atomic_store_n(c->cons_word, c->pos, __ATOMIC_RELEASE);
}

/* Write a record of @len bytes into rx ring @i as the broker does; returns
 * 0, or -1 when the client has not made room. */
static int
ref_put(uint32_t i, uint64_t *pos, uint32_t len, uint32_t n)
{
	struct sl_shm_region *r = (struct sl_shm_region *)region;
	uint8_t *ring = region + r->rx_off[i];
	uint32_t rec = sl_shm_rec_bytes(len), off = (uint32_t)(*pos % RING);
	uint64_t need = rec + 8 + (rec > RING - off ? RING - off : 0);

	if (*pos + need - __atomic_load_n(&r->rx[i].cons, __ATOMIC_ACQUIRE) > RING)
		return -1;
	if (rec > RING - off) {
		__atomic_store_n((uint64_t *)(ring + off), sl_shm_commit_word(*pos, 12, SL_SHM_PAD),
				 __ATOMIC_RELEASE);
		*pos += RING - off;
		off = 0;
	}
	frame_fill(ring + off + SL_SHM_REC_HDR, len, n);
	if (off + rec < RING)
		*(uint64_t *)(ring + off + rec) = 0;
	__atomic_store_n((uint64_t *)(ring + off), sl_shm_commit_word(*pos, 12, len),
			 __ATOMIC_RELEASE);
	*pos += rec;
	return 0;
}

/* --- tests -------------------------------------------------------------------------- */

static void
test_header_checks(void)
{
	struct sl_shm_link l;
	struct sl_shm_region *r;

	region_make();
	r = (struct sl_shm_region *)region;
	CHECK(sl_shm_link_init(&l, region, SIZE) == 0);
	CHECK(sl_shm_link_init(&l, region, SIZE - 4096) == -EPROTO); /* size differs */
	r->magic ^= 1;
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
	r->magic ^= 1;
	r->version = SL_SHM_VERSION + 1;
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
	r->version = SL_SHM_VERSION - 1; /* an older layout */
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
	r->version = SL_SHM_VERSION;
	r->tx_size = RING + 8; /* not a power of two */
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
	r->tx_size = RING;
	r->rx_off[1] = SIZE - RING + 64; /* past the end */
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
	r->rx_off[1] = HDR + 2 * RING;
	r->n_rx = SL_SHM_MAX_RX + 1;
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
	r->n_rx = 0;
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
	r->n_rx = NRX;
	r->tx_off = 16; /* inside the header */
	CHECK(sl_shm_link_init(&l, region, SIZE) == -EPROTO);
}

/* Client to broker: thousands of frames of changing sizes over many laps,
 * the consumer sometimes behind; every frame arrives once, whole, in order. */
static void
test_tx_laps(void)
{
	struct sl_shm_region *r;
	struct sl_shm_link l;
	struct ref_cons c;
	const uint8_t *d;
	uint32_t sent = 0, got = 0, full = 0, len, i;
	void *p;

	region_make();
	r = (struct sl_shm_region *)region;
	CHECK(sl_shm_link_init(&l, region, SIZE) == 0);
	c = (struct ref_cons){ region + r->tx_off, &r->tx.cons, 0 };
	for (i = 0; i < 20000; i++) {
		len = 16 + (sent * 7919u) % 1457u; /* 16 .. 1472 */
		p = sl_shm_link_claim(&l, len);
		if (p == NULL) {
			full++;
			/* Full: the consumer catches up, checking every frame. */
			while ((len = ref_take(&c, &d)) != 0) {
				CHECK(len == 16 + (got * 7919u) % 1457u && frame_ok(d, len, got));
				got++;
			}
			ref_release(&c);
			continue;
		}
		frame_fill(p, len, sent);
		sl_shm_link_commit(&l, len);
		sent++;
		if (i % 3 == 0) { /* a consumer that sometimes keeps up */
			while ((len = ref_take(&c, &d)) != 0) {
				CHECK(len == 16 + (got * 7919u) % 1457u && frame_ok(d, len, got));
				got++;
			}
			ref_release(&c);
		}
	}
	while ((len = ref_take(&c, &d)) != 0) {
		CHECK(frame_ok(d, len, got));
		got++;
	}
	CHECK(got == sent);
	CHECK(full > 0);		/* the ring did fill: back-pressure was met */
	CHECK(l.tx_pos > 100ull * RING); /* and it went round many times */
}

/* A claim never committed (the process died in between) shows nothing,
 * and what was committed before it is all there. */
static void
test_open_claim_invisible(void)
{
	struct sl_shm_region *r;
	struct sl_shm_link l;
	struct ref_cons c;
	const uint8_t *d;
	uint8_t *p;

	region_make();
	r = (struct sl_shm_region *)region;
	CHECK(sl_shm_link_init(&l, region, SIZE) == 0);
	c = (struct ref_cons){ region + r->tx_off, &r->tx.cons, 0 };
	CHECK(sl_shm_link_send(&l, "0123456789abcdef", 16) == 0);
	p = sl_shm_link_claim(&l, 64);
	CHECK(p != NULL);
	memset(p, 0xee, 40); /* half written, never committed */
	CHECK(ref_take(&c, &d) == 16 && memcmp(d, "0123456789abcdef", 16) == 0);
	CHECK(ref_take(&c, &d) == 0);
	/* A claim that needs a pad: the pad may be visible, the record not. */
	while (sl_shm_link_send(&l, "0123456789abcdef", 16) == 0)
		;
	CHECK(ref_take(&c, &d) == 16);
}

/* Broker to client: two rings, records of changing sizes with pads; each
 * ring's records come out in order, whole; a too-small buffer is refused
 * (the record is skipped); a length past the ring's end stops the reader. */
static void
test_rx(void)
{
	struct sl_shm_region *r;
	struct sl_shm_link l;
	uint64_t pos[NRX] = { 0, 0 };
	uint32_t put[NRX] = { 0, 0 }, got[NRX] = { 0, 0 }, i, k, len, total = 0;
	uint8_t buf[2048];
	int n;

	region_make();
	r = (struct sl_shm_region *)region;
	CHECK(sl_shm_link_init(&l, region, SIZE) == 0);
	CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == 0);
	CHECK(!sl_shm_link_ready(&l));
	for (i = 0; i < 5000; i++) {
		k = i % NRX;
		len = 16 + ((put[k] + k) * 104729u) % 1457u;
		if (ref_put(k, &pos[k], len, put[k] * 2 + k) == 0)
			put[k]++;
		if (i % 5 == 4) {
			CHECK(sl_shm_link_ready(&l));
			while ((n = sl_shm_link_recv(&l, buf, sizeof(buf))) > 0) {
				/* Which ring? Try both expectations in turn. */
				uint32_t j, ok = 0;

				for (j = 0; j < NRX && !ok; j++) {
					uint32_t want = 16 + ((got[j] + j) * 104729u) % 1457u;

					if ((uint32_t)n == want && frame_ok(buf, want, got[j] * 2 + j)) {
						got[j]++;
						ok = 1;
					}
				}
				CHECK(ok);
				total++;
			}
			CHECK(n == 0);
		}
	}
	CHECK(got[0] == put[0] && got[1] == put[1]);
	CHECK(total > 1000 && pos[0] > 50ull * RING);
	CHECK(r->rx[0].cons == pos[0] && r->rx[1].cons == pos[1]);
	/* Too small a buffer: refused, the record is not left blocking. */
	CHECK(ref_put(0, &pos[0], 100, 7) == 0 && ref_put(0, &pos[0], 20, 8) == 0);
	CHECK(sl_shm_link_recv(&l, buf, 50) == -EMSGSIZE);
	CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == 20 && frame_ok(buf, 20, 8));
	/* A length no broker writes. */
	{
		uint8_t *ring = region + r->rx_off[1];
		uint32_t off = (uint32_t)(pos[1] % RING);

		__atomic_store_n((uint64_t *)(ring + off),
				 sl_shm_commit_word(pos[1], 12, RING), __ATOMIC_RELEASE);
		CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == -EPROTO);
	}
}

/* The broker's half, in a thread: a record into rx ring 1 after 30 ms,
 * then, after a full fence, a ring if the client said it waits. */
struct bell_writer {
	struct sl_shm_link *l;
	uint64_t *pos;
	int bell;
	int rang;
};

static void *
bell_writer_run(void *arg)
{
	struct bell_writer *bw = arg;
	struct sl_shm_region *r = (struct sl_shm_region *)region;
	struct timespec ts = { 0, 30000000 };
	uint64_t one = 1;

	nanosleep(&ts, NULL);
	if (ref_put(1, bw->pos, 40, 4) != 0)
		return NULL;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&r->rx[1].waiting, 0, __ATOMIC_ACQ_REL)) {
		bw->rang = 1;
		(void)!write(bw->bell, &one, sizeof(one));
	}
	return NULL;
}

/* The client's halves of the doorbells (PROTOCOL.md 14.8). */
static void
test_doorbells(void)
{
	struct sl_shm_region *r;
	struct sl_shm_link l;
	uint8_t frame[64] = { 0 };
	uint64_t v, pos = 0;
	int broker, mine;

	region_make();
	r = (struct sl_shm_region *)region;
	CHECK(sl_shm_link_init(&l, region, SIZE) == 0);
	/* No doorbell (a broker that predates them): nothing to arm. */
	CHECK(l.bell_fd == -1 && l.broker_bell == -1);
	CHECK(sl_shm_link_arm(&l) == -ENOTSUP);
	CHECK(sl_shm_link_send(&l, frame, sizeof(frame)) == 0);
	broker = eventfd(0, EFD_NONBLOCK);
	mine = eventfd(0, EFD_NONBLOCK);
	CHECK(broker >= 0 && mine >= 0);
	l.broker_bell = broker;
	l.bell_fd = mine;
	/* The worker is awake: a commit rings nothing. */
	CHECK(sl_shm_link_send(&l, frame, sizeof(frame)) == 0);
	CHECK(read(broker, &v, sizeof(v)) < 0 && errno == EAGAIN);
	/* It said it may sleep: the next commit rings once and clears the
	 * flag, so the one after it rings nothing. */
	r->tx.waiting = 1;
	CHECK(sl_shm_link_send(&l, frame, sizeof(frame)) == 0);
	CHECK(sl_shm_link_send(&l, frame, sizeof(frame)) == 0);
	CHECK(r->tx.waiting == 0 && l.bells_rung == 1);
	CHECK(read(broker, &v, sizeof(v)) == (ssize_t)sizeof(v) && v == 1);
	/* Arming with nothing waiting: every rx ring says so. */
	CHECK(sl_shm_link_arm(&l) == 0);
	CHECK(r->rx[0].waiting == 1 && r->rx[1].waiting == 1);
	sl_shm_link_disarm(&l);
	CHECK(r->rx[0].waiting == 0 && r->rx[1].waiting == 0);
	/* Disarming empties the doorbell when a worker rang (it cleared a
	 * flag as it rang), and makes no system call when none did. */
	CHECK(sl_shm_link_arm(&l) == 0);
	__atomic_store_n(&r->rx[0].waiting, 0u, __ATOMIC_RELAXED);
	v = 1;
	CHECK(write(mine, &v, sizeof(v)) == (ssize_t)sizeof(v));
	sl_shm_link_disarm(&l);
	CHECK(read(mine, &v, sizeof(v)) < 0 && errno == EAGAIN);
	CHECK(r->rx[0].waiting == 0 && r->rx[1].waiting == 0);
	CHECK(sl_shm_link_arm(&l) == 0);
	CHECK(write(mine, &v, sizeof(v)) == (ssize_t)sizeof(v)); /* not from a ring */
	sl_shm_link_disarm(&l);
	CHECK(read(mine, &v, sizeof(v)) == (ssize_t)sizeof(v) && v == 1);
	/* A record already there: do not sleep, and nothing stays armed. */
	CHECK(ref_put(1, &pos, 40, 3) == 0);
	CHECK(sl_shm_link_arm(&l) == 1);
	CHECK(r->rx[0].waiting == 0 && r->rx[1].waiting == 0);
	/* sl_shm_link_wait sleeps on the doorbell and a record ends it: here
	 * one is there, so it returns at once. */
	CHECK(sl_shm_link_wait(&l, 1000000000ull) == 1);
	CHECK(sl_shm_link_recv(&l, frame, sizeof(frame)) == 40);
	/* Nothing there: it sleeps until a "worker" (a thread doing the
	 * broker's half) commits 30 ms later and rings; well before the 5 s
	 * timeout, and without a sleep step of its own in between. */
	{
		struct bell_writer bw = { .l = &l, .pos = &pos, .bell = mine };
		struct timespec t0, t1;
		pthread_t t;
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(pthread_create(&t, NULL, bell_writer_run, &bw) == 0);
		CHECK(sl_shm_link_wait(&l, 5000000000ull) == 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		pthread_join(t, NULL);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		CHECK(ms >= 29.0 && ms < 1000.0);
		CHECK(l.bell_sleeps == 1 && bw.rang == 1); /* one sleep, one wake */
		CHECK(r->rx[1].waiting == 0); /* disarmed after the wake */
	}
	close(broker);
	close(mine);
}

/* Old bytes that look like a commit word of the next lap (a hostile
 * publisher's payload, delivered to this subscriber last lap) are never
 * taken for a record: the producer clears the slot after each record. */
static void
test_rx_stale_lap(void)
{
	struct sl_shm_region *r;
	struct sl_shm_link l;
	uint64_t pos = 0;
	uint8_t buf[2048], *ring;
	uint32_t n = 0, i;
	int got;

	region_make();
	r = (struct sl_shm_region *)region;
	ring = region + r->rx_off[0];
	CHECK(sl_shm_link_init(&l, region, SIZE) == 0);
	/* Lap 1: one record whose payload is all fake lap-2 commit words of a
	 * 16-byte frame, read by the client. */
	CHECK(ref_put(0, &pos, 1000, n++) == 0);
	for (i = 16; i + 8 <= 1000 + 8; i += 8) {
		uint64_t fake = sl_shm_commit_word(RING, 12, 16);

		memcpy(ring + 8 + i, &fake, 8);
	}
	CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == 1000);
	/* Fill the rest of lap 1, read it. */
	while (pos % RING + sl_shm_rec_bytes(1000) + 8 <= RING) {
		CHECK(ref_put(0, &pos, 1000, n++) == 0);
		CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == 1000);
	}
	/* One record to the exact end of lap 1. */
	CHECK(ref_put(0, &pos, (uint32_t)(RING - pos % RING) - 8, n++) == 0);
	CHECK(pos == RING);
	CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) > 0);
	/* Lap 2: a short record at the start; the fake words sit right after. */
	CHECK(ref_put(0, &pos, 24, n++) == 0);
	got = sl_shm_link_recv(&l, buf, sizeof(buf));
	CHECK(got == 24);
	CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == 0); /* nothing else */
	CHECK(!sl_shm_link_ready(&l));
}

/* Message records (kind 1): a publish of 32 bytes claims exactly one line,
 * its commit word inside it; 33 bytes take two. A broker's message record
 * reads back as the DELIVER frame it stands for, of the session given; a
 * record shorter than its fields, or of an unknown kind, is refused. */
static void
test_msg_records(void)
{
	struct sl_shm_region *r;
	struct sl_shm_link l;
	struct sl_shm_msg *m;
	uint8_t buf[2048], *ring;
	uint64_t pos = 0;
	struct sl_frame f;
	size_t off = 0;
	int n;

	region_make();
	r = (struct sl_shm_region *)region;
	CHECK(sl_shm_link_init(&l, region, SIZE) == 0);
	m = sl_shm_link_claim_msg(&l, SL_SHM_LINE_PAYLOAD);
	CHECK(m == (struct sl_shm_msg *)(region + r->tx_off));
	memset(m + 1, 0x77, SL_SHM_LINE_PAYLOAD);
	m->topic_id = 5;
	sl_shm_link_commit_msg(&l, SL_SHM_LINE_PAYLOAD);
	CHECK(m->commit == sl_shm_commit_msg(0, 12, SL_SHM_MSG_BODY + SL_SHM_LINE_PAYLOAD));
	CHECK(sl_shm_word_kind(m->commit) == SL_SHM_K_MSG);
	CHECK(l.tx_pos == SL_SHM_LINE);
	CHECK(*(uint64_t *)(region + r->tx_off + SL_SHM_LINE) == 0); /* next slot cleared */
	CHECK(sl_shm_link_claim_msg(&l, SL_SHM_LINE_PAYLOAD + 1) != NULL);
	sl_shm_link_commit_msg(&l, SL_SHM_LINE_PAYLOAD + 1);
	CHECK(l.tx_pos == 3 * SL_SHM_LINE);

	/* The broker's side: a DELIVER as a message record. */
	ring = region + r->rx_off[0];
	m = (struct sl_shm_msg *)ring;
	m->topic_id = 9;
	m->flags = 0;
	m->hdrs_len = 0;
	m->seq = 123;
	m->timestamp = 456;
	memset(m + 1, 0x42, 20);
	sl_shm_rec_commit_word(ring, RING, pos, sl_shm_commit_msg(pos, 12, SL_SHM_MSG_BODY + 20));
	pos += SL_SHM_LINE;
	{
		int in_big = 0;

		n = sl_shm_link_recv_big(&l, buf, sizeof(buf), NULL, 0, &in_big, 77);
	}
	CHECK(n == (int)sizeof(struct sl_deliver) + 20);
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == 1);
	{
		const struct sl_deliver *d = (const struct sl_deliver *)buf;

		CHECK(d->h.type == SL_FT_DELIVER && d->h.session == 77 && d->h.version == 3 &&
		      d->topic_id == 9 && d->seq == 123 && d->timestamp == 456 &&
		      d->h.length == sizeof(*d) + 20 && f.body_len == 20 && f.body[19] == 0x42);
	}
	CHECK(r->rx[0].cons == SL_SHM_LINE);
	/* Shorter than a message record's fields. */
	sl_shm_rec_commit_word(ring, RING, pos, sl_shm_commit_msg(pos, 12, SL_SHM_MSG_BODY - 1));
	CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == -EPROTO);
	/* A kind no broker writes. */
	sl_shm_rec_commit_word(ring, RING, pos, sl_shm_commit_word(pos, 12, 24u | 7u << 24));
	CHECK(sl_shm_link_recv(&l, buf, sizeof(buf)) == -EPROTO);
}

int
main(void)
{
	test_doorbells();
	test_header_checks();
	test_tx_laps();
	test_open_claim_invisible();
	test_rx();
	test_rx_stale_lap();
	test_msg_records();
	free(region);
	return check_result("test_shm_ring");
}
