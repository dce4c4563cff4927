/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker half of the shared-memory transport over a client region built
 * in memory (no socket, no attach): bursts and their peers, batches split
 * at a full mbuf, torn, malformed and oversize records, kicks, the drain
 * after a hang-up, writing the client's rx ring until it is full, and
 * frames larger than a datagram both ways.
 */

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <common/proto.h>
#include <common/shm.h>

#include "dp_harness.h"
#include "large.h"
#include "shm_internal.h"
#include "shm_worker.h"
#include "tx.h"
#include "retx.h"
#include "route.h"
#include "worker_internal.h"

#include "check.h"

#define RING 4096u
#define SHIFT 12u
#define SLOT 1u
#define GEN 3u

static struct sl_dp dp;
static struct sl_worker *w;
static struct sl_shm shm;
static struct sl_shm_client clients[4];
static uint8_t *base;
static uint64_t tx_pos; /* the client's producer position */
static unsigned sessions_ended;

static struct sl_shm_region *
region(void)
{
	return (struct sl_shm_region *)base;
}

/* A fresh region for client SLOT, attached to worker 0 through the real
 * handoff. */
static void
attach(void)
{
	struct sl_shm_client *c = &clients[SLOT];
	struct sl_handoff h = { .kind = SL_HO_SHM_ATTACH, .topic = SLOT };

	harness_shm_client(c, base, SLOT, GEN, RING, SHIFT);
	__atomic_store_n(&c->state, SL_SHM_LIVE, __ATOMIC_RELEASE);
	tx_pos = 0;
	w->n_shm = 0; /* a client of an earlier case may still be listed */
	sl_shm_worker_handoff(w, &h);
	CHECK(w->n_shm == 1);
}

/* The client writes a frame of @len bytes whose header says @hdr_len; with
 * @commit 0 the commit word is left unwritten (a torn record). */
static void
client_put(uint32_t len, uint32_t hdr_len, uint32_t session, int commit)
{
	uint8_t *ring = base + 4096;
	uint8_t frame[4096];
	uint32_t rec = sl_shm_rec_bytes(len), off;

	memset(frame, 0xab, sizeof(frame));
	sl_proto_hdr_init((struct sl_hdr *)frame, SL_FT_HEARTBEAT, 0, hdr_len, session);
	off = sl_shm_rec_place(ring, RING, SHIFT, &tx_pos, rec);
	memcpy(ring + off + SL_SHM_REC_HDR, frame, len);
	if (commit) {
		sl_shm_rec_commit(ring, RING, SHIFT, tx_pos, len);
		tx_pos += rec;
	}
}

/* The record client_put left torn: commit it now. */
static void
client_commit(uint32_t len)
{
	sl_shm_rec_commit(base + 4096, RING, SHIFT, tx_pos, len);
	tx_pos += sl_shm_rec_bytes(len);
}

static uint16_t
burst(struct rte_mbuf **pkts, union sl_peer *peers, uint16_t n)
{
	w->now = rte_rdtsc();
	return sl_shm_rx_burst(w, pkts, peers, n);
}

static void
free_all(struct rte_mbuf **pkts, uint16_t n)
{
	while (n)
		rte_pktmbuf_free(pkts[--n]);
}

/* The SL_HO_SHM_DETACHED notice the worker sent the main lcore, if any. */
static int
detached_notice(void)
{
	struct sl_handoff h;
	int found = 0;

	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
		if (h.kind == SL_HO_SHM_DETACHED && h.topic == SLOT && h.session == GEN)
			found = 1;
	return found;
}

static void
on_session_end(struct sl_worker *wk, struct sl_session *s)
{
	sessions_ended++;
	sl_session_close(&wk->sessions, s);
}

static void
test_burst_and_peer(void)
{
	struct rte_mbuf *pkts[8];
	union sl_peer peers[8];
	uint16_t n;

	attach();
	CHECK(burst(pkts, peers, 8) == 0); /* nothing written yet */
	client_put(24, 24, 11, 1);
	client_put(24, 24, 11, 1);
	client_put(40, 40, 11, 1);
	n = burst(pkts, peers, 8);
	CHECK(n == 1);
	if (n != 1)
		return free_all(pkts, n);
	/* One batch: the three frames back to back, no header before them. */
	CHECK(pkts[0]->data_len == 24 + 24 + 40 && pkts[0]->pkt_len == 88);
	CHECK(rte_pktmbuf_mtod(pkts[0], struct sl_hdr *)->type == SL_FT_HEARTBEAT);
	CHECK(rte_pktmbuf_mtod_offset(pkts[0], struct sl_hdr *, 48)->length == 40);
	CHECK(pkts[0]->port == SL_SHM_PORT);
	/* Its peer says the transport, the slot and the generation. */
	CHECK(peers[0].transport == SL_TRANSPORT_SHM);
	CHECK(peers[0].shm.slot == SLOT && peers[0].shm.gen == GEN);
	CHECK(memcmp(sl_shm_mbuf_peer(pkts[0]), &peers[0], sizeof(peers[0])) == 0);
	/* Consumed: the client may reuse the space. */
	CHECK(region()->tx.cons == tx_pos);
	CHECK(sl_ctr_read(&w->ctr.ctr[SL_CTR_shm_rx_frames]) == 3);
	free_all(pkts, n);
	CHECK(burst(pkts, peers, 8) == 0);
}

static void
test_full_mbuf_and_torn(void)
{
	struct rte_mbuf *pkts[8];
	union sl_peer peers[8];
	uint16_t n;
	int i;

	attach();
	/* Six 504-byte frames: an mbuf (2 KiB) takes four, the next two. */
	for (i = 0; i < 6; i++)
		client_put(504, 504, 11, 1);
	n = burst(pkts, peers, 1); /* room for one batch: the rest waits */
	CHECK(n == 1 && pkts[0]->data_len == 4 * 504);
	free_all(pkts, n);
	n = burst(pkts, peers, 8);
	CHECK(n == 1 && pkts[0]->data_len == 2 * 504);
	free_all(pkts, n);
	/* A record written but not committed is not read, nor consumed. */
	client_put(24, 24, 11, 0);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->tx.cons == tx_pos);
	client_commit(24);
	n = burst(pkts, peers, 8);
	CHECK(n == 1 && pkts[0]->data_len == 24);
	free_all(pkts, n);
	CHECK(w->n_shm == 1 && region()->notice == SL_SHM_SERVED);
}

static void
test_hostile_records(void)
{
	struct rte_mbuf *pkts[8];
	union sl_peer peers[8];
	uint64_t corrupt = sl_ctr_read(&w->ctr.drop[SL_DROP_shm_corrupt]);

	/* The record says 24 bytes, the frame's header 32: cut off. */
	attach();
	client_put(24, 32, 11, 1);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_CORRUPT);
	CHECK(w->n_shm == 0);
	CHECK(detached_notice());
	CHECK(sl_ctr_read(&w->ctr.drop[SL_DROP_shm_corrupt]) == corrupt + 1);

	/* A record longer than any frame: cut off, nothing copied. */
	attach();
	client_put(24, 24, 11, 1);
	__atomic_store_n((uint64_t *)(base + 4096 + SL_SHM_LINE),
			 sl_shm_commit_word(SL_SHM_LINE, SHIFT, SL_MAX_DATAGRAM + 8), __ATOMIC_RELEASE);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_CORRUPT);
	CHECK(w->n_shm == 0 && detached_notice());

	/* Shorter than a frame header: cut off. */
	attach();
	client_put(8, 8, 11, 1);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_CORRUPT && w->n_shm == 0 && detached_notice());
}

static void
test_kick_ends_session(void)
{
	struct rte_mbuf *pkts[8];
	union sl_peer peers[8];
	union sl_peer me = sl_peer_shm(SLOT, GEN);
	union sl_peer stale = sl_peer_shm(SLOT, GEN + 1);
	struct sl_session *s;

	attach();
	CHECK(sl_session_open(&w->sessions, SLOT, GEN, &s) == 0);
	s->transport = SL_TRANSPORT_SHM;
	/* A kick for an earlier client of the slot reaches nobody. */
	sl_shm_kick(w, &stale.shm, SL_SHM_CUT_SLOW);
	CHECK(burst(pkts, peers, 8) == 0 && w->n_shm == 1);
	sl_shm_kick(w, &me.shm, SL_SHM_CUT_SLOW);
	client_put(24, 24, 11, 1); /* not read: the kick comes first */
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_SLOW && w->n_shm == 0);
	CHECK(sessions_ended == 1);
	CHECK(sl_session_find_addr(&w->sessions, SLOT, GEN) == NULL);
	CHECK(detached_notice());
}

static void
test_drain_after_hang_up(void)
{
	struct rte_mbuf *pkts[8];
	union sl_peer peers[8];
	struct sl_handoff h = { .kind = SL_HO_SHM_DETACH, .topic = SLOT };
	uint16_t n;

	attach();
	client_put(24, 24, 11, 1);
	client_put(24, 24, 11, 1);
	sl_shm_worker_handoff(w, &h);
	/* What it committed before it hung up is still read... */
	n = burst(pkts, peers, 8);
	CHECK(n == 1 && pkts[0]->data_len == 48);
	free_all(pkts, n);
	CHECK(w->n_shm == 1 && !detached_notice());
	/* ... then it is let go, with no notice: it was served. */
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(w->n_shm == 0 && detached_notice());
	CHECK(region()->notice == SL_SHM_SERVED);
}

static void
test_rx_ring_writes(void)
{
	union sl_peer me = sl_peer_shm(SLOT, GEN), stale = sl_peer_shm(SLOT, GEN + 1);
	uint8_t *ring = base + 4096 + RING;
	uint8_t frame[232];
	uint64_t word;
	int i, sent = 1, rc = 0;

	attach();
	memset(frame, 0x5a, sizeof(frame));
	sl_proto_hdr_init((struct sl_hdr *)frame, SL_FT_HEARTBEAT, 0, sizeof(frame), 11);
	CHECK(sl_shm_send(w, &me.shm, frame, 16, frame + 16, sizeof(frame) - 16) == 0);
	word = __atomic_load_n((uint64_t *)ring, __ATOMIC_ACQUIRE);
	CHECK(word == sl_shm_commit_word(0, SHIFT, sizeof(frame)));
	CHECK(memcmp(ring + SL_SHM_REC_HDR, frame, sizeof(frame)) == 0);
	/* A later client of the slot is another peer. */
	CHECK(sl_shm_send(w, &stale.shm, frame, sizeof(frame), NULL, 0) == -ENOTCONN);
	/* 240 bytes of record are four lines, 256: the 4 KiB ring takes 15
	 * (a 16th would leave no room for the 8-byte slot cleared after it);
	 * then it is full until the client consumes. */
	for (i = 0; i < 64 && rc == 0; i++) {
		rc = sl_shm_send(w, &me.shm, frame, sizeof(frame), NULL, 0);
		sent += rc == 0;
	}
	CHECK(rc == -ENOBUFS && sent == 15);
	CHECK(sl_shm_room(w, &me.shm, sizeof(frame)) == 0);
	__atomic_store_n(&region()->rx[0].cons, 4 * 256, __ATOMIC_RELEASE);
	CHECK(sl_shm_room(w, &me.shm, sizeof(frame)) == 1);
	/* A consumer word beyond the producer: the client is kicked. */
	__atomic_store_n(&region()->rx[0].cons, 1ull << 40, __ATOMIC_RELEASE);
	for (i = 0; i < 8; i++)
		rc = sl_shm_send(w, &me.shm, frame, sizeof(frame), NULL, 0);
	CHECK(rc == -ENOTCONN && clients[SLOT].kick == SL_SHM_CUT_CORRUPT);
}

/* The worker's halves of the doorbells (PROTOCOL.md 14.8). */
static void
test_doorbells(void)
{
	union sl_peer me = sl_peer_shm(SLOT, GEN);
	struct sl_shm_client *c = &clients[SLOT];
	struct timespec long_ts = { 1, 0 }, t0, t1;
	uint8_t frame[64];
	uint64_t v;
	int cb = eventfd(0, EFD_NONBLOCK), wb = eventfd(0, EFD_NONBLOCK);
	double ms;

	CHECK(cb >= 0 && wb >= 0);
	attach();
	c->bell_fd = cb;
	shm.worker_bell[0] = wb;
	memset(frame, 0x5a, sizeof(frame));
	sl_proto_hdr_init((struct sl_hdr *)frame, SL_FT_HEARTBEAT, 0, sizeof(frame), 11);
	/* The client is awake: records, no ring. */
	CHECK(sl_shm_send(w, &me.shm, frame, sizeof(frame), NULL, 0) == 0);
	sl_shm_worker_doorbells(w);
	CHECK(read(cb, &v, sizeof(v)) < 0 && errno == EAGAIN && c->bells == 0);
	/* It waits: two records of one iteration ring it once, at the end of
	 * the iteration, and clear its flag. */
	region()->rx[0].waiting = 1;
	CHECK(sl_shm_send(w, &me.shm, frame, sizeof(frame), NULL, 0) == 0);
	CHECK(sl_shm_send(w, &me.shm, frame, sizeof(frame), NULL, 0) == 0);
	CHECK(read(cb, &v, sizeof(v)) < 0); /* not before the check */
	sl_shm_worker_doorbells(w);
	CHECK(read(cb, &v, sizeof(v)) == (ssize_t)sizeof(v) && v == 1);
	CHECK(region()->rx[0].waiting == 0 && c->bells == 1 && w->n_shm_rang == 0);
	/* The worker's sleep: the first call arms the client's tx ring and
	 * does not sleep (the caller polls once more); work disarms. */
	CHECK(sl_shm_worker_sleep(w, &long_ts) == 0);
	CHECK(region()->tx.waiting == 1 && w->shm_armed);
	sl_shm_worker_awake(w);
	CHECK(region()->tx.waiting == 0 && !w->shm_armed);
	/* Armed, then rung by the client: the 1 s sleep ends at once, and the
	 * worker is disarmed and its doorbell empty after it. */
	CHECK(sl_shm_worker_sleep(w, &long_ts) == 0);
	v = 1;
	CHECK(write(wb, &v, sizeof(v)) == (ssize_t)sizeof(v));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(sl_shm_worker_sleep(w, &long_ts) == 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms < 500.0);
	CHECK(region()->tx.waiting == 0 && !w->shm_armed);
	CHECK(read(wb, &v, sizeof(v)) < 0 && errno == EAGAIN);
	/* Not rung: it sleeps the whole timeout (here 20 ms). */
	{
		struct timespec short_ts = { 0, 20000000 };

		CHECK(sl_shm_worker_sleep(w, &short_ts) == 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(sl_shm_worker_sleep(w, &short_ts) == 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		CHECK(ms >= 19.0);
	}
	shm.worker_bell[0] = -1;
	c->bell_fd = -1;
	close(cb);
	close(wb);
}

/* A PUBLISH frame of @len bytes (payload bytes i & 0xff) put in the tx ring. */
static void
client_put_publish(uint32_t len)
{
	uint8_t *ring = base + 4096;
	static uint8_t frame[RING];
	struct sl_publish *p = (struct sl_publish *)frame;
	uint32_t rec = sl_shm_rec_bytes(len), off, i;

	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, len, 11);
	p->topic_id = 1;
	p->hdrs_len = 0;
	p->reserved = 0;
	p->producer_seq = 5;
	p->timestamp = 6;
	for (i = sizeof(*p); i < len; i++)
		frame[i] = (uint8_t)i;
	off = sl_shm_rec_place(ring, RING, SHIFT, &tx_pos, rec);
	memcpy(ring + off + SL_SHM_REC_HDR, frame, len);
	sl_shm_rec_commit(ring, RING, SHIFT, tx_pos, len);
	tx_pos += rec;
}

/* A message record (a PUBLISH without its wire header) of @body bytes of
 * payload (bytes i * 3) put in the tx ring, its commit word saying @len
 * (SL_SHM_MSG_BODY + @body when well formed) and @kind. */
static void
client_put_msg(uint32_t body, uint32_t len, uint32_t kind)
{
	uint8_t *ring = base + 4096;
	uint32_t rec = sl_shm_rec_bytes(SL_SHM_MSG_BODY + body), off, i;
	struct sl_shm_msg *m;

	off = sl_shm_rec_place(ring, RING, SHIFT, &tx_pos, rec);
	m = (struct sl_shm_msg *)(ring + off);
	m->topic_id = 3;
	m->flags = SL_PUB_F_ACK_REQ;
	m->hdrs_len = 0;
	m->seq = 77;
	m->timestamp = 1234;
	for (i = 0; i < body; i++)
		((uint8_t *)(m + 1))[i] = (uint8_t)(i * 3);
	sl_shm_rec_commit_word(ring, RING, tx_pos,
			       sl_shm_commit_word(tx_pos, SHIFT, len | kind << 24));
	tx_pos += rec;
}

/* Message records: a 32-byte message is one line of the ring, read back as
 * the PUBLISH frame it stands for, of the session the client opened; a
 * record shorter than its fields, longer than max_frame allows, or of an
 * unknown kind cuts the client off. */
static void
test_message_records(void)
{
	struct rte_mbuf *pkts[8];
	union sl_peer peers[8];
	struct sl_session *s;
	uint16_t n;
	uint32_t i;
	int ok = 1;

	attach();
	CHECK(sl_session_open(&w->sessions, SLOT, GEN, &s) == 0);
	s->transport = SL_TRANSPORT_SHM;
	client_put_msg(SL_SHM_LINE_PAYLOAD, SL_SHM_MSG_BODY + SL_SHM_LINE_PAYLOAD, SL_SHM_K_MSG);
	CHECK(tx_pos == SL_SHM_LINE); /* one line, commit word included */
	client_put_msg(100, SL_SHM_MSG_BODY + 100, SL_SHM_K_MSG);
	CHECK(tx_pos == SL_SHM_LINE + 3 * SL_SHM_LINE);
	n = burst(pkts, peers, 8);
	CHECK(n == 1);
	if (n == 1) {
		const struct sl_publish *p = rte_pktmbuf_mtod(pkts[0], const struct sl_publish *);
		const struct sl_publish *q = rte_pktmbuf_mtod_offset(
			pkts[0], const struct sl_publish *, sizeof(*p) + SL_SHM_LINE_PAYLOAD);
		const uint8_t *d = (const uint8_t *)(q + 1);

		CHECK(p->h.type == SL_FT_PUBLISH && p->h.session == s->id &&
		      p->h.length == sizeof(*p) + SL_SHM_LINE_PAYLOAD &&
		      p->h.flags == SL_PUB_F_ACK_REQ && p->h.version == 3 && p->topic_id == 3 &&
		      p->producer_seq == 77 && p->timestamp == 1234 && p->hdrs_len == 0);
		/* The next frame starts 8-byte aligned, as in a datagram. */
		CHECK(q->h.type == SL_FT_PUBLISH && q->h.length == sizeof(*q) + 100);
		for (i = 0; i < 100; i++)
			ok &= d[i] == (uint8_t)(i * 3);
		CHECK(ok);
		CHECK(pkts[0]->data_len == sizeof(*p) + SL_SHM_LINE_PAYLOAD + sizeof(*q) + 104);
	}
	free_all(pkts, n);
	CHECK(region()->tx.cons == tx_pos);

	/* Shorter than a message record's fields: cut off. */
	client_put_msg(0, SL_SHM_MSG_BODY - 8, SL_SHM_K_MSG);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_CORRUPT && w->n_shm == 0 && detached_notice());
	/* The cut ended its session. */
	CHECK(sl_session_find_addr(&w->sessions, SLOT, GEN) == NULL);

	/* A kind the layout does not define: cut off. */
	attach();
	client_put_msg(8, SL_SHM_MSG_BODY + 8, 2);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_CORRUPT && w->n_shm == 0 && detached_notice());

	/* Longer than max_frame allows a PUBLISH: cut off. */
	attach();
	clients[SLOT].max_frame = SL_MAX_DATAGRAM;
	client_put_msg(8, SL_SHM_MSG_BODY + SL_MAX_DATAGRAM, SL_SHM_K_MSG);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_CORRUPT && w->n_shm == 0 && detached_notice());

	/* Before the client has a session: read as a PUBLISH of session 0,
	 * which the frame handler refuses as it does any unknown session. */
	attach();
	client_put_msg(8, SL_SHM_MSG_BODY + 8, SL_SHM_K_MSG);
	n = burst(pkts, peers, 8);
	CHECK(n == 1 && rte_pktmbuf_mtod(pkts[0], const struct sl_hdr *)->session == 0);
	free_all(pkts, n);
}

/* Frames over a datagram: a PUBLISH up to max_frame is read whole into an
 * arena buffer, a batch of its own; one over max_frame cuts the client
 * off. A DELIVER up to max_deliver is written whole to the rx ring, a
 * larger one as DELIVER_FRAG pieces. */
static void
test_large_frames(void)
{
	union sl_peer me = sl_peer_shm(SLOT, GEN);
	struct sl_shm_client *c = &clients[SLOT];
	uint8_t *ring = base + 4096 + RING;
	struct rte_mbuf *pkts[8];
	union sl_peer peers[8];
	static uint8_t payload[1900];
	struct sl_deliver dl;
	uint32_t i, off, have;
	uint16_t n;
	int ok = 1;

	attach();
	c->max_frame = c->max_deliver = 2000;
	client_put(24, 24, 11, 1);
	client_put_publish(1800);
	client_put(24, 24, 11, 1);
	n = burst(pkts, peers, 8);
	CHECK(n == 3);
	if (n == 3) {
		const uint8_t *d = rte_pktmbuf_mtod(pkts[1], const uint8_t *);

		CHECK(!sl_large_buf_is(pkts[0]) && pkts[0]->data_len == 24);
		CHECK(sl_large_buf_is(pkts[1]) && pkts[1]->pkt_len == 1800);
		CHECK(pkts[1]->port == SL_SHM_PORT && sl_shm_mbuf_peer(pkts[1])->shm.slot == SLOT);
		for (i = sizeof(struct sl_publish); i < 1800; i++)
			ok &= d[i] == (uint8_t)i;
		CHECK(ok && ((const struct sl_publish *)d)->h.length == 1800);
		CHECK(!sl_large_buf_is(pkts[2]) && pkts[2]->data_len == 24);
	}
	free_all(pkts, n);
	sl_large_arena_reclaim(&w->large->arena);
	CHECK(w->large->arena.free_units == w->large->arena.n_units);
	/* Over max_frame: cut off. */
	client_put_publish(2008);
	CHECK(burst(pkts, peers, 8) == 0);
	CHECK(region()->notice == SL_SHM_CUT_CORRUPT && w->n_shm == 0 && detached_notice());

	/* A 1900-byte message: one DELIVER of 1940 bytes within max_deliver. */
	attach();
	c->max_frame = c->max_deliver = 2000;
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	sl_proto_hdr_init(&dl.h, SL_FT_DELIVER, 0, sizeof(dl) + sizeof(payload), 11);
	dl.topic_id = 1;
	dl.hdrs_len = 0;
	dl.reserved = 0;
	dl.seq = 9;
	dl.timestamp = 6;
	CHECK(sl_tx_deliver_copy(w, &me, &dl, payload) == 0);
	/* A message record: the DELIVER's fields without its wire header. */
	CHECK(__atomic_load_n((uint64_t *)ring, __ATOMIC_ACQUIRE) ==
	      sl_shm_commit_msg(0, SHIFT, SL_SHM_MSG_BODY + sizeof(payload)));
	{
		const struct sl_shm_msg *m = (const struct sl_shm_msg *)ring;

		CHECK(m->topic_id == 1 && m->seq == 9 && m->timestamp == 6 && m->flags == 0 &&
		      m->hdrs_len == 0);
	}
	CHECK(memcmp(ring + sizeof(struct sl_shm_msg), payload, sizeof(payload)) == 0);

	/* With max_deliver 1472: DELIVER_FRAG pieces that make the message. */
	attach();
	c->max_frame = c->max_deliver = SL_MAX_DATAGRAM;
	CHECK(sl_tx_deliver_copy(w, &me, &dl, payload) == 0);
	for (off = 0, have = 0, n = 0; n < 4; n++) {
		uint64_t word = __atomic_load_n((uint64_t *)(ring + off), __ATOMIC_ACQUIRE);
		const struct sl_deliver_frag *g =
			(const struct sl_deliver_frag *)(ring + off + SL_SHM_REC_HDR);

		if ((uint32_t)(word >> 32) != sl_shm_lap(0, SHIFT))
			break;
		CHECK(g->h.type == SL_FT_DELIVER_FRAG && g->seq == 9 &&
		      g->msg_len == sizeof(payload) && g->frag_off == have);
		CHECK(memcmp(g + 1, payload + g->frag_off, g->frag_len) == 0);
		have += g->frag_len;
		off += sl_shm_rec_bytes((uint32_t)word);
	}
	CHECK(n == 2 && have == sizeof(payload));
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* @n one-line message records (32-byte payload) to @topic in the tx ring,
 * producer_seq counting on from *@seq. */
static void
put_lines(uint32_t topic, unsigned n, uint64_t *seq)
{
	uint8_t *ring = base + 4096;
	unsigned k;

	for (k = 0; k < n; k++) {
		uint32_t off = sl_shm_rec_place(ring, RING, SHIFT, &tx_pos, SL_SHM_LINE);
		struct sl_shm_msg *m = (struct sl_shm_msg *)(ring + off);

		m->topic_id = topic;
		m->flags = 0;
		m->hdrs_len = 0;
		m->seq = ++*seq;
		m->timestamp = *seq;
		memset(m + 1, 0x33, SL_SHM_LINE_PAYLOAD);
		sl_shm_rec_commit_word(ring, RING, tx_pos,
				       sl_shm_commit_msg(tx_pos, SHIFT,
							 SL_SHM_MSG_BODY + SL_SHM_LINE_PAYLOAD));
		tx_pos += SL_SHM_LINE;
	}
}

/* A session of client SLOT over its fresh region, as WELCOME leaves it. */
static struct sl_session *
open_session(void)
{
	struct sl_session *s = NULL;

	attach();
	CHECK(sl_session_open(&w->sessions, SLOT, GEN, &s) == 0 && s != NULL);
	if (s == NULL)
		return NULL;
	s->transport = SL_TRANSPORT_SHM;
	s->auth = SL_SESSION_AUTH_NONE;
	s->version = SL_PROTO_VERSION;
	return s;
}

/*
 * The retransmit window's references to a batch's mbuf are added once per
 * batch: a window smaller than the batch evicts messages of the very mbuf
 * whose references are still pending, and must add them first. Afterwards
 * the window holds exactly its last messages' references, and letting go
 * of them leaves no mbuf behind.
 */
static void
test_window_refs(void)
{
	uint32_t topic = harness_topic(&dp, "win.t");
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	unsigned in_use0 = rte_mempool_in_use_count(dp.pkt_pool), r;
	const struct sl_retx_slot *slot;
	struct sl_session *s = open_session();
	uint64_t seq = 0, last;

	if (s == NULL || topic == 0)
		return;
	ts->retx_window = 4;
	for (r = 0; r < 10; r++) {
		put_lines(topic, 20, &seq); /* 20 frames of 72 bytes: one mbuf */
		sl_worker_poll(w);
	}
	CHECK(region()->tx.cons == tx_pos);
	last = ts->seq;
	CHECK(last == 200);
	slot = sl_retx_find(w, topic, last);
	CHECK(slot != NULL && sl_retx_find(w, topic, last - 3) != NULL &&
	      sl_retx_find(w, topic, last - 4) == NULL);
	/* The last four share the last batch's mbuf: four references, and
	 * nothing else held. */
	CHECK(slot != NULL && rte_mbuf_refcnt_read(slot->m) == 4);
	CHECK(rte_mempool_in_use_count(dp.pkt_pool) == in_use0 + 1);
	sl_retx_clear(w, topic);
	CHECK(rte_mempool_in_use_count(dp.pkt_pool) == in_use0);
	sl_worker_session_close(w, s);
}

#define BENCH_BATCH 32u
#define BENCH_MAX 100000u

/*
 * --bench ROUNDS: the worker's own cost per message over shared memory,
 * single-threaded: each round the client side puts BENCH_BATCH one-line
 * message records (32-byte payload, durability none) in the tx ring and the
 * real worker's sl_worker_poll takes them; with a subscriber (the same
 * client, SUBSCRIBE'd first) each is also written to its rx ring as a
 * one-line DELIVER, which the client side then releases unread. The TSC
 * around each poll gives ns per message; the median and the 10th
 * percentile of the polls are robust to a busy machine, where a poll that
 * lost its core is an outlier, not a shift.
 */
static void
bench(unsigned rounds, int with_sub)
{
	static uint64_t cyc[BENCH_MAX];
	uint32_t topic = harness_topic(&dp, with_sub ? "bench.sub" : "bench.pub");
	struct sl_session *s = NULL;
	uint64_t seq = 0, t0, delivered0, rx_pos = 0;
	unsigned r, k, n = rounds < BENCH_MAX ? rounds : BENCH_MAX;
	double tick_ns = 1e9 / (double)rte_get_tsc_hz();

	s = open_session();
	CHECK(topic != 0);
	if (s == NULL || topic == 0)
		return;
	if (with_sub) {
		struct sl_subscribe sb = { .req_id = 1, .topic_id = topic };

		sl_proto_hdr_init(&sb.h, SL_FT_SUBSCRIBE, 0, sizeof(sb), s->id);
		harness_shm_put(base, RING, SHIFT, &tx_pos, &sb, sizeof(sb));
		for (k = 0; k < 4; k++)
			sl_worker_poll(w);
		rx_pos = clients[SLOT].rx[0].pos; /* the OK: released unread */
		__atomic_store_n(&region()->rx[0].cons, rx_pos, __ATOMIC_RELEASE);
	}
	delivered0 = sl_ctr_read(&w->ctr.ctr[SL_CTR_shm_tx_frames]);
	for (r = 0; r < rounds; r++) {
		put_lines(topic, BENCH_BATCH, &seq);
		t0 = rte_rdtsc();
		sl_worker_poll(w);
		if (r < n)
			cyc[r] = rte_rdtsc() - t0;
		/* A subscriber that keeps up: its ring released at once. */
		if (with_sub)
			__atomic_store_n(&region()->rx[0].cons, clients[SLOT].rx[0].pos,
					 __ATOMIC_RELEASE);
	}
	CHECK(region()->tx.cons == tx_pos); /* every record taken */
	if (with_sub)
		CHECK(sl_ctr_read(&w->ctr.ctr[SL_CTR_shm_tx_frames]) - delivered0 ==
		      (uint64_t)rounds * BENCH_BATCH);
	qsort(cyc, n, sizeof(cyc[0]), cmp_u64);
	printf("worker per message over shm, 32 B, %s: p10 %.1f ns, median %.1f ns, p90 %.1f ns "
	       "(%u polls of %u)\n", with_sub ? "one shm subscriber" : "no subscriber",
	       (double)cyc[n / 10] * tick_ns / BENCH_BATCH, (double)cyc[n / 2] * tick_ns / BENCH_BATCH,
	       (double)cyc[n * 9 / 10] * tick_ns / BENCH_BATCH, n, BENCH_BATCH);
	sl_worker_session_close(w, s);
}

int
main(int argc, char **argv)
{
	unsigned bench_rounds = 0;
	int rc;

	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		bench_rounds = (unsigned)strtoul(argv[2], NULL, 10);
	rc = harness_eal("test_shm_worker");
	if (rc)
		return rc;
	rc = harness_dp(&dp, NULL, NULL);
	if (rc < 0) {
		fprintf(stderr, "test_shm_worker: dataplane set-up: %s\n", strerror(-rc));
		return 1;
	}
	w = dp.workers[0];
	w->session_end = on_session_end;
	shm.max_clients = 4;
	shm.c = clients;
	for (unsigned i = 0; i < SL_SHM_MAX_RX; i++)
		shm.worker_bell[i] = -1;
	dp.shm = &shm;
	base = aligned_alloc(4096, 4096 + 2 * RING);
	CHECK(base != NULL);
	if (base == NULL)
		return 1;
	if (bench_rounds) {
		bench(bench_rounds, 0);
		bench(bench_rounds, 1);
		goto out;
	}
	test_burst_and_peer();
	test_full_mbuf_and_torn();
	test_hostile_records();
	test_kick_ends_session();
	test_drain_after_hang_up();
	test_rx_ring_writes();
	test_doorbells();
	test_large_frames();
	test_message_records();
	test_window_refs();
out:
	dp.shm = NULL;
	sl_worker_fini(w);
	sl_route_fini(&dp.route);
	free(base);
	rte_eal_cleanup();
	if (failures)
		fprintf(stderr, "test_shm_worker: %d check(s) failed\n", failures);
	else
		printf("test_shm_worker: ok\n");
	return failures ? 1 : 0;
}
