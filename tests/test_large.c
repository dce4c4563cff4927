/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Large messages through the worker's real code (net_ring port, EAL without
 * huge pages): PUBLISH_FRAG reassembly in order, out of order and with
 * duplicate pieces, a message over the topic's limit, one that never
 * completes, budgets exhausted, a 1 MiB message journaled as one record
 * and read back whole, the DELIVER_FRAG pieces of the fan-out, a replay
 * and a NAK's retransmission reassembling to the original.
 */

#include <arpa/inet.h>
#include <stdlib.h>
#include <time.h>

#include <common/proto.h>

#include "dp_harness.h"
#include "journal.h"
#include "large.h"
#include "pkt.h"

#include "check.h"

#define CLIENT_IP 0x0200000au /* 10.0.0.2 */
#define MAX_MSG (1u << 20)

static struct sl_dp dp;
static struct rte_ring *rx, *tx;
static const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0, 0x22 };

/* What the worker sent one client: control frames, and the message the
 * DELIVER_FRAG pieces of one seq make. */
struct got {
	unsigned n_err, n_ack, n_dlv, n_pieces;
	struct sl_error err[8];
	struct sl_ack ack[8];
	uint64_t frag_seq;
	uint32_t frag_len, frag_have;
	uint16_t frag_flags;
	uint8_t *msg; /* MAX_MSG bytes */
};

static struct sl_worker *
wk(void)
{
	return dp.workers[0];
}

static void
send_dgram(uint16_t port, const void *frames, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pkt_pool);
	uint8_t *d;

	CHECK(m != NULL);
	if (m == NULL)
		return;
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(SL_PKT_HDR_LEN + len));
	sl_pkt_build_udp(d, client_mac, dp.ports[0].mac, CLIENT_IP, HARNESS_IP, htons(port),
			 htons(HARNESS_UDP_PORT), (uint16_t)len);
	memcpy(d + SL_PKT_HDR_LEN, frames, len);
	while (rte_ring_enqueue(rx, m) != 0)
		sl_worker_poll(wk());
}

/* Poll until the rx ring is empty, then a few more times. */
static void
run(void)
{
	int i;

	while (rte_ring_count(rx))
		sl_worker_poll(wk());
	for (i = 0; i < 4; i++)
		sl_worker_poll(wk());
}

static void
got_reset(struct got *g)
{
	uint8_t *msg = g->msg;

	memset(g, 0, sizeof(*g));
	g->msg = msg;
}

/* Take what the worker sent to the client on @port. */
static void
collect(struct got *g, uint16_t port)
{
	void *m = NULL;

	run();
	while (rte_ring_dequeue(tx, &m) == 0) {
		struct rte_mbuf *mb = m;
		uint8_t buf[2048];
		const uint8_t *p = rte_pktmbuf_read(mb, 0, mb->pkt_len, buf);
		struct sl_pkt_info pi;
		struct sl_frame f;
		size_t off = 0;

		if (sl_pkt_parse(p, mb->pkt_len, CLIENT_IP, htons(port), &pi) != SL_PKT_UDP) {
			rte_pktmbuf_free(mb);
			continue;
		}
		while (sl_proto_next(p + pi.payload_off, pi.payload_len, &off, &f) == 1) {
			if (f.hdr->type == SL_FT_ERROR && g->n_err < 8)
				memcpy(&g->err[g->n_err++], f.hdr, sizeof(struct sl_error));
			else if (f.hdr->type == SL_FT_ACK && g->n_ack < 8)
				memcpy(&g->ack[g->n_ack++], f.hdr, sizeof(struct sl_ack));
			else if (f.hdr->type == SL_FT_DELIVER)
				g->n_dlv++;
			else if (f.hdr->type == SL_FT_DELIVER_FRAG) {
				const struct sl_deliver_frag *d = (const void *)f.hdr;

				CHECK(f.body_len == d->frag_len && d->msg_len <= MAX_MSG);
				if (g->n_pieces == 0) {
					g->frag_seq = d->seq;
					g->frag_len = d->msg_len;
					g->frag_flags = d->h.flags;
				}
				CHECK(d->seq == g->frag_seq && d->msg_len == g->frag_len);
				/* In order, each piece once. */
				CHECK(d->frag_off == g->frag_have);
				if (d->frag_off + d->frag_len <= MAX_MSG)
					memcpy(g->msg + d->frag_off, f.body, d->frag_len);
				g->frag_have += d->frag_len;
				g->n_pieces++;
			}
		}
		rte_pktmbuf_free(mb);
	}
}

static uint32_t
hello(uint16_t port)
{
	struct sl_hello h;
	void *m = NULL;
	uint32_t session = 0;

	memset(&h, 0, sizeof(h));
	sl_proto_hdr_init(&h.h, SL_FT_HELLO, 0, sizeof(h), 0);
	h.min_version = h.max_version = SL_PROTO_VERSION;
	h.nonce = port;
	send_dgram(port, &h, sizeof(h));
	run();
	while (rte_ring_dequeue(tx, &m) == 0) {
		struct rte_mbuf *mb = m;
		struct sl_pkt_info pi;
		const uint8_t *p = rte_pktmbuf_mtod(mb, const uint8_t *);

		if (sl_pkt_parse(p, mb->pkt_len, CLIENT_IP, htons(port), &pi) == SL_PKT_UDP &&
		    p[pi.payload_off + 1] == SL_FT_WELCOME) {
			const struct sl_welcome *w = (const void *)(p + pi.payload_off);

			session = w->session;
			CHECK(w->max_message == sl_large_welcome_max(&dp));
		}
		rte_pktmbuf_free(mb);
	}
	CHECK(session != 0);
	return session;
}

static void
subscribe(uint16_t port, uint32_t session, uint32_t topic)
{
	struct sl_subscribe s;
	struct got g = { 0 };

	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), session);
	s.req_id = 1;
	s.topic_id = topic;
	send_dgram(port, &s, sizeof(s));
	collect(&g, port);
	CHECK(sl_route_state(&dp.route, topic)->n_subs >= 1);
}

/* One PUBLISH_FRAG piece [off, off + len) of @msg (@msg_len bytes). */
static void
piece(uint16_t port, uint32_t session, uint32_t topic, uint64_t pseq, const uint8_t *msg,
      uint32_t msg_len, uint32_t off, uint32_t len)
{
	union {
		struct sl_publish_frag g;
		uint8_t b[sizeof(struct sl_publish_frag) + SL_MAX_FRAG_DATA];
	} u;

	sl_proto_hdr_init(&u.g.h, SL_FT_PUBLISH_FRAG, SL_PUB_F_ACK_REQ, sizeof(u.g) + len,
			  session);
	u.g.topic_id = topic;
	u.g.msg_len = msg_len;
	u.g.producer_seq = pseq;
	u.g.timestamp = 777;
	u.g.frag_off = off;
	u.g.frag_len = len;
	memcpy(u.b + sizeof(u.g), msg + off, len);
	send_dgram(port, &u, (uint32_t)sizeof(u.g) + len);
}

/* Pieces of SL_MAX_FRAG_DATA: how many. */
static uint32_t
n_pieces(uint32_t msg_len)
{
	return (msg_len + SL_MAX_FRAG_DATA - 1) / SL_MAX_FRAG_DATA;
}

static void
piece_i(uint16_t port, uint32_t session, uint32_t topic, uint64_t pseq, const uint8_t *msg,
	uint32_t msg_len, uint32_t i)
{
	uint32_t off = i * SL_MAX_FRAG_DATA;

	piece(port, session, topic, pseq, msg, msg_len, off,
	      RTE_MIN(SL_MAX_FRAG_DATA, msg_len - off));
}

static uint64_t
ctr(enum sl_ctr c)
{
	return sl_ctr_read(&wk()->ctr.ctr[c]);
}

static uint64_t
drops(enum sl_drop d)
{
	return sl_ctr_read(&wk()->ctr.drop[d]);
}

static void
fill(uint8_t *b, uint32_t len, uint32_t seed)
{
	uint32_t i, x = seed * 2654435761u + 1;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
}

/* Every arena buffer is back (nothing leaked, nothing held). */
static int
arena_whole(void)
{
	sl_large_arena_reclaim(&wk()->large->arena);
	return wk()->large->arena.free_units == wk()->large->arena.n_units;
}

/* In order: one ACK, the DELIVER_FRAG pieces make the message. */
static void
test_in_order(uint16_t port, uint32_t session, uint32_t topic, uint8_t *msg, struct got *g)
{
	uint32_t len = 10000, i;
	uint64_t before = ctr(SL_CTR_large_messages);

	fill(msg, len, 1);
	got_reset(g);
	for (i = 0; i < n_pieces(len); i++)
		piece_i(port, session, topic, 100, msg, len, i);
	collect(g, port);
	CHECK(g->n_ack == 1 && g->ack[0].producer_seq == 100 && g->n_err == 0);
	CHECK(ctr(SL_CTR_large_messages) == before + 1);
	CHECK(g->n_pieces == n_pieces(len) && g->frag_len == len && g->frag_have == len);
	CHECK(g->frag_seq == g->ack[0].seq);
	CHECK(memcmp(g->msg, msg, len) == 0);
	CHECK(arena_whole());
}

/* Out of order, every piece twice: one message, the duplicates counted. */
static void
test_out_of_order_dups(uint16_t port, uint32_t session, uint32_t topic, uint8_t *msg,
		       struct got *g)
{
	uint32_t len = 64 << 10, n = n_pieces(len), i;
	uint64_t dups = ctr(SL_CTR_frag_dups);

	fill(msg, len, 2);
	got_reset(g);
	/* Odd pieces backwards, then even ones forwards, each sent twice,
	 * and a piece overlapping two received ones (new bytes: none). */
	for (i = n; i-- > 0;)
		if (i % 2) {
			piece_i(port, session, topic, 101, msg, len, i);
			piece_i(port, session, topic, 101, msg, len, i);
		}
	piece(port, session, topic, 101, msg, len, SL_MAX_FRAG_DATA + 10, 100);
	for (i = 0; i < n; i++)
		if (i % 2 == 0) {
			piece_i(port, session, topic, 101, msg, len, i);
			if (i + 2 < n) /* the last piece twice would come after completion */
				piece_i(port, session, topic, 101, msg, len, i);
		}
	collect(g, port);
	CHECK(g->n_ack == 1 && g->ack[0].producer_seq == 101 && g->n_err == 0);
	CHECK(ctr(SL_CTR_frag_dups) >= dups + n - 1);
	CHECK(g->frag_len == len && g->frag_have == len && memcmp(g->msg, msg, len) == 0);
	/* A stray copy of a piece after the message completed: dropped quietly. */
	got_reset(g);
	piece_i(port, session, topic, 101, msg, len, 0);
	collect(g, port);
	CHECK(g->n_ack == 0 && g->n_err == 0 && g->n_pieces == 0);
	CHECK(arena_whole());
}

/* A NAK for a large message the retransmit window keeps: its DELIVER_FRAG
 * pieces again, marked RETRANS; the window lets its buffer go when it is
 * turned off. */
static void
test_nak(uint16_t port, uint32_t session, uint32_t topic, uint8_t *msg, struct got *g)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	uint32_t len = 5000, i;
	struct sl_nak nak;
	uint64_t seq;

	ts->retx_window = 8;
	fill(msg, len, 5);
	got_reset(g);
	for (i = 0; i < n_pieces(len); i++)
		piece_i(port, session, topic, 110, msg, len, i);
	collect(g, port);
	CHECK(g->n_ack == 1 && g->frag_have == len && !(g->frag_flags & SL_DLV_F_RETRANS));
	seq = g->frag_seq;
	CHECK(!arena_whole()); /* the window holds it */
	memset(&nak, 0, sizeof(nak));
	sl_proto_hdr_init(&nak.h, SL_FT_NAK, 0, sizeof(nak), session);
	nak.topic_id = topic;
	nak.first = nak.last = seq;
	got_reset(g);
	memset(g->msg, 0, len);
	send_dgram(port, &nak, sizeof(nak));
	collect(g, port);
	CHECK(g->n_pieces == n_pieces(len) && g->frag_seq == seq && g->frag_have == len);
	CHECK(g->frag_flags & SL_DLV_F_RETRANS);
	CHECK(memcmp(g->msg, msg, len) == 0);
	/* Window off: the next message clears it, every buffer comes back. */
	ts->retx_window = 0;
	got_reset(g);
	for (i = 0; i < n_pieces(len); i++)
		piece_i(port, session, topic, 111, msg, len, i);
	collect(g, port);
	CHECK(g->n_ack == 1 && g->frag_have == len);
	CHECK(arena_whole());
}

/* Over the topic's limit: ERROR SL_E_TOO_BIG once, for its producer_seq. */
static void
test_too_big(uint16_t port, uint32_t session, uint32_t topic, uint8_t *msg, struct got *g)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	uint64_t before = drops(SL_DROP_frag_too_big);

	ts->max_message = 5000;
	got_reset(g);
	piece_i(port, session, topic, 102, msg, 6000, 0);
	piece_i(port, session, topic, 102, msg, 6000, 1);
	piece_i(port, session, topic, 102, msg, 6000, 2);
	collect(g, port);
	CHECK(g->n_err == 1 && g->err[0].code == SL_E_TOO_BIG && g->err[0].detail == 102);
	CHECK(g->err[0].frame_type == SL_FT_PUBLISH_FRAG);
	CHECK(g->n_ack == 0 && g->n_pieces == 0);
	CHECK(drops(SL_DROP_frag_too_big) == before + 1);
	CHECK(drops(SL_DROP_frag_refused) >= 2);
	/* At the limit: taken. */
	got_reset(g);
	for (uint32_t i = 0; i < n_pieces(5000); i++)
		piece_i(port, session, topic, 103, msg, 5000, i);
	collect(g, port);
	CHECK(g->n_ack == 1 && g->n_err == 0 && g->frag_have == 5000);
	ts->max_message = 0;
	CHECK(arena_whole());
}

/* Pieces that never all arrive: ERROR SL_E_INCOMPLETE after reassembly_ms,
 * the buffer back in the arena. */
static void
test_incomplete(uint16_t port, uint32_t session, uint32_t topic, uint8_t *msg, struct got *g)
{
	struct timespec ts = { 0, 60 * 1000 * 1000 };
	uint64_t before = drops(SL_DROP_frag_timeout);

	dp.conf.reassembly_ms = 30;
	got_reset(g);
	piece_i(port, session, topic, 104, msg, 20000, 0);
	piece_i(port, session, topic, 104, msg, 20000, 3);
	collect(g, port);
	CHECK(g->n_err == 0 && !arena_whole());
	nanosleep(&ts, NULL);
	collect(g, port);
	CHECK(g->n_err == 1 && g->err[0].code == SL_E_INCOMPLETE && g->err[0].detail == 104);
	CHECK(drops(SL_DROP_frag_timeout) == before + 1);
	CHECK(g->n_ack == 0 && g->n_pieces == 0);
	CHECK(arena_whole());
	dp.conf.reassembly_ms = 1000;
}

/* A session over its budget, then a worker whose arena is full:
 * SL_E_INCOMPLETE at once; the message in progress still completes. */
static void
test_budget(uint16_t port, uint32_t session, uint32_t topic, uint8_t *msg, struct got *g)
{
	uint64_t before = drops(SL_DROP_frag_no_budget);
	uint32_t i, a = 100000, b = 60000;

	dp.conf.reassembly_session_bytes = 150000;
	fill(msg, a, 3);
	got_reset(g);
	piece_i(port, session, topic, 105, msg, a, 0);
	piece_i(port, session, topic, 106, msg, b, 0); /* 160000 > 150000 */
	collect(g, port);
	CHECK(g->n_err == 1 && g->err[0].code == SL_E_INCOMPLETE && g->err[0].detail == 106);
	CHECK(drops(SL_DROP_frag_no_budget) == before + 1);
	for (i = 1; i < n_pieces(a); i++)
		piece_i(port, session, topic, 105, msg, a, i);
	collect(g, port);
	CHECK(g->n_ack == 1 && g->ack[0].producer_seq == 105 && g->frag_have == a);
	CHECK(memcmp(g->msg, msg, a) == 0);
	dp.conf.reassembly_session_bytes = SL_MAX_MESSAGE;

	/* The worker's arena: rebuilt at 256 KiB; 200000 bytes in progress
	 * leave no run for 100000 more, from another session too. */
	sl_large_fini(wk());
	dp.conf.reassembly_bytes = 256 << 10;
	CHECK(sl_large_init(wk()) == 0);
	{
		uint32_t s2 = hello(port + 1);

		got_reset(g);
		piece_i(port, session, topic, 107, msg, 200000, 0);
		piece_i(port + 1, s2, topic, 1, msg, 100000, 0);
		collect(g, port + 1);
		CHECK(g->n_err == 1 && g->err[0].code == SL_E_INCOMPLETE && g->err[0].detail == 1);
		CHECK(drops(SL_DROP_frag_no_budget) == before + 2);
	}
	sl_large_fini(wk()); /* drops the one in progress */
	dp.conf.reassembly_bytes = 4u << 20; /* enough for the 1 MiB one */
	if (sl_large_init(wk()) != 0) {
		fprintf(stderr, "test_large: cannot make the arena again\n");
		exit(1);
	}
}

/* The retransmit window holds large messages in at most half of the
 * arena: with a 256 KiB arena (16 units) 40 messages of one unit each all
 * get through, none refused for want of a buffer. */
static void
test_window_arena(uint16_t port, uint32_t session, uint32_t topic, uint8_t *msg, struct got *g)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	uint64_t before = drops(SL_DROP_frag_no_budget), evicted = ctr(SL_CTR_retx_evicted);
	uint32_t i, k, len = 3000, acked = 0;

	sl_large_fini(wk());
	dp.conf.reassembly_bytes = 256 << 10;
	CHECK(sl_large_init(wk()) == 0);
	ts->retx_window = 64; /* by count it would hold all 40 */
	for (k = 0; k < 40; k++) {
		fill(msg, len, (uint8_t)k);
		got_reset(g);
		for (i = 0; i < n_pieces(len); i++)
			piece_i(port, session, topic, 200 + k, msg, len, i);
		collect(g, port);
		acked += g->n_ack == 1 && g->n_err == 0;
	}
	CHECK(acked == 40);
	CHECK(drops(SL_DROP_frag_no_budget) == before);
	CHECK(ctr(SL_CTR_retx_evicted) > evicted);
	sl_large_arena_reclaim(&wk()->large->arena);
	CHECK(wk()->large->arena.free_units >= wk()->large->arena.n_units / 2);
	ts->retx_window = 0;
}

/* A sync topic: a 1 MiB message is one journal record, read back whole;
 * the subscriber gets it as DELIVER_FRAG pieces after the commit, and one
 * ACK. */
static void
test_journal_1mib(uint16_t port, uint32_t session, uint8_t *msg, struct got *g, const char *dir)
{
	struct sl_journal_conf jc = { .segment_bytes = 8u << 20, .index_every = 4096 };
	uint32_t topic = harness_topic(&dp, "big.sync"), len = MAX_MSG, i, n = n_pieces(len);
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	struct sl_journal *j = NULL;
	struct sl_jrec_view v;
	uint8_t *copy = malloc(len);

	CHECK(topic != 0 && copy != NULL);
	if (topic == 0 || copy == NULL)
		return;
	CHECK(sl_journal_open(&j, dir, &jc, NULL) == 0);
	if (j == NULL)
		return;
	ts->journal = j;
	ts->durability = SL_DUR_SYNC;
	ts->retx_window = 0;
	subscribe(port, session, topic);
	fill(msg, len, 4);
	memcpy(copy, msg, len);
	got_reset(g);
	/* Last piece first, the rest in order. */
	piece_i(port, session, topic, 200, msg, len, n - 1);
	for (i = 0; i + 1 < n; i++)
		piece_i(port, session, topic, 200, msg, len, i);
	collect(g, port);
	CHECK(g->n_ack == 1 && g->ack[0].producer_seq == 200 && g->ack[0].seq == 1);
	CHECK(g->n_err == 0 && g->n_dlv == 0);
	CHECK(g->n_pieces == n && g->frag_seq == 1 && g->frag_len == len);
	CHECK(memcmp(g->msg, copy, len) == 0);
	CHECK(sl_journal_last_seq(j) == 1 && sl_journal_durable_seq(j) == 1);
	CHECK(sl_journal_read(j, 1, &v) == 0);
	CHECK(v.len == len && v.producer_seq == 200 && memcmp(v.data, copy, len) == 0);
	CHECK(ctr(SL_CTR_deliver_frags) >= n);
	CHECK(arena_whole());
	/* The record a replay reads: DELIVER_FRAG pieces again, REPLAY flag. */
	{
		struct sl_subscribe s;

		memset(&s, 0, sizeof(s));
		sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, SL_SUB_F_EARLIEST, sizeof(s), session);
		s.req_id = 2;
		s.topic_id = topic;
		got_reset(g);
		memset(g->msg, 0, len);
		send_dgram(port, &s, sizeof(s));
		collect(g, port);
		CHECK(g->n_pieces == n && g->frag_seq == 1 && (g->frag_flags & SL_DLV_F_REPLAY));
		CHECK(memcmp(g->msg, copy, len) == 0);
	}
	__atomic_store_n(&ts->n_subs, 0, __ATOMIC_RELAXED);
	ts->journal = NULL;
	ts->durability = SL_DUR_NONE;
	sl_journal_close(j);
	free(copy);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/sl_test_large_XXXXXX";
	uint8_t *msg = malloc(MAX_MSG);
	struct got g = { 0 };
	uint32_t topic, session;
	uint16_t port = 5555;
	int rc;

	(void)argc;
	(void)argv;
	g.msg = malloc(MAX_MSG);
	if (msg == NULL || g.msg == NULL || mkdtemp(dir) == NULL)
		return 1;
	rc = harness_eal("test_large");
	if (rc)
		return rc;
	rx = rte_ring_create("t_rx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx = rte_ring_create("t_tx", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(rx && tx);
	rc = harness_dp(&dp, rx, tx);
	if (rc < 0) {
		fprintf(stderr, "test_large: dataplane set-up: %s\n", strerror(-rc));
		return 1;
	}
	topic = harness_topic(&dp, "big");
	/* The retransmit window would keep the messages (and their arena
	 * buffers): each case checks that every buffer came back. */
	sl_route_state(&dp.route, topic)->retx_window = 0;
	/* The defaults: a session may send the hard limit. */
	CHECK(sl_large_welcome_max(&dp) == SL_MAX_MESSAGE);
	session = hello(port);
	subscribe(port, session, topic);
	test_in_order(port, session, topic, msg, &g);
	test_out_of_order_dups(port, session, topic, msg, &g);
	test_nak(port, session, topic, msg, &g);
	test_too_big(port, session, topic, msg, &g);
	test_incomplete(port, session, topic, msg, &g);
	test_budget(port, session, topic, msg, &g);
	__atomic_store_n(&sl_route_state(&dp.route, topic)->n_subs, 0, __ATOMIC_RELAXED);
	test_journal_1mib(port, session, msg, &g, dir);
	test_window_arena(port, session, topic, msg, &g); /* last: leaves a small arena */
	sl_port_fini(&dp, 0);
	sl_worker_fini(dp.workers[0]);
	sl_route_fini(&dp.route);
	rte_eal_cleanup();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_large: could not remove %s\n", dir);
	}
	free(msg);
	free(g.msg);
	if (failures)
		fprintf(stderr, "test_large: %d check(s) failed\n", failures);
	else
		printf("test_large: ok\n");
	return failures ? 1 : 0;
}
