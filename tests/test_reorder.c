/* SPDX-License-Identifier: BSD-3-Clause */
/* The reorder buffer alone: order, duplicates, NAKs, gaps, STATUS, credit and DELIVER_FRAG reassembly, with an injected clock. */

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <common/hdrs.h>
#include <common/proto.h>
#include <sluice/sluice.h>

#include "check.h"
#include "reorder.h"

#define US 1000ull
#define MS 1000000ull
#define MAXLOG 8192u

/* What the buffer did, as the test sees it. */
struct log {
	unsigned int ndel;
	uint64_t del_seq[MAXLOG];
	uint32_t del_topic[MAXLOG];
	uint32_t del_len[MAXLOG];
	uint8_t del_first[MAXLOG]; /* first payload byte */
	bool del_ok[MAXLOG];	   /* payload bytes as the sender made them */
	unsigned int nnak;
	uint32_t nak_topic[64];
	uint64_t nak_first[64], nak_last[64];
	unsigned int ncredit;
	uint64_t credit_limit[64];
	uint32_t credit_topic[64];
	unsigned int nev;
	struct sl_event ev[64];
};

static struct log L;
static uint64_t credit_max; /* highest CREDIT limit sent */

static int
on_nak(void *arg, uint32_t topic, uint64_t first, uint64_t last)
{
	(void)arg;
	if (L.nnak < 64) {
		L.nak_topic[L.nnak] = topic;
		L.nak_first[L.nnak] = first;
		L.nak_last[L.nnak] = last;
	}
	L.nnak++;
	return 0;
}

static int
on_credit(void *arg, uint32_t topic, uint64_t limit)
{
	(void)arg;
	if (L.ncredit < 64) {
		L.credit_topic[L.ncredit] = topic;
		L.credit_limit[L.ncredit] = limit;
	}
	L.ncredit++;
	if (limit > credit_max)
		credit_max = limit;
	return 0;
}

static void
on_event(void *arg, const struct sl_event *ev)
{
	(void)arg;
	if (L.nev < 64)
		L.ev[L.nev] = *ev;
	L.nev++;
}

/* Payload of seq s: len bytes, byte i = (s + i) & 0xff. */
static bool
payload_ok(const struct sl_message *m)
{
	const uint8_t *p = m->data;
	uint32_t i;

	for (i = 0; i < m->len; i++)
		if (p[i] != (uint8_t)(m->seq + i))
			return false;
	return true;
}

/* The last message's key and headers (v4). */
static uint16_t last_key_len, last_n_hdrs;
static bool last_region_ok;

static void
on_msg(void *arg, const struct sl_message *m)
{
	uint16_t vl = 0;
	const void *v = sl_msg_header(m, "region", &vl);

	(void)arg;
	last_key_len = m->key_len;
	last_n_hdrs = m->n_hdrs;
	last_region_ok = v != NULL && vl == 2 && memcmp(v, "eu", 2) == 0;
	if (L.ndel < MAXLOG) {
		L.del_seq[L.ndel] = m->seq;
		L.del_topic[L.ndel] = m->topic_id;
		L.del_len[L.ndel] = m->len;
		L.del_first[L.ndel] = m->len ? *(const uint8_t *)m->data : 0;
		L.del_ok[L.ndel] = payload_ok(m);
	}
	L.ndel++;
}

static struct sl_reorder RO;
static struct sl_client_stats ST;
static uint64_t NOW;

static void
setup(uint32_t window, bool ordered)
{
	const struct sl_ro_ops ops = { .nak = on_nak, .credit = on_credit, .event = on_event };
	const struct sl_ro_conf conf = {
		.window = window,
		.slot_bytes = SL_MAX_PAYLOAD,
		.max_message = 64 * 1024,
		.nak_delay_ns = 500 * US,
		.nak_retry_ns = 20 * MS,
		.gap_timeout_ns = 2000 * MS,
	};

	sl_ro_fini(&RO);
	memset(&RO, 0, sizeof(RO));
	memset(&L, 0, sizeof(L));
	memset(&ST, 0, sizeof(ST));
	CHECK_EQ(sl_ro_init(&RO, &conf, &ops, &ST), 0);
	RO.ordered = ordered;
	NOW = 1000 * MS;
}

/* Subscribe to @topic: the next message starts it. */
static struct sl_ro_topic *
sub(uint32_t topic)
{
	struct sl_ro_topic *t = sl_ro_topic_get(&RO, topic);

	CHECK(t != NULL);
	if (t != NULL)
		sl_ro_reset(&RO, t, 0);
	return t;
}

static uint8_t pbuf[64 * 1024];

/* Offer DELIVER @seq of @topic (payload of @len bytes) with @budget;
 * returns the messages handed over, -1 when not taken. */
static int
rx_b(uint32_t topic, uint64_t seq, uint32_t len, uint16_t flags, int budget)
{
	struct sl_ro_msg m = { .topic = topic, .flags = flags, .seq = seq, .timestamp = seq * 10,
			       .data = pbuf, .len = len };
	bool taken;
	uint32_t i;
	int n;

	for (i = 0; i < len; i++)
		pbuf[i] = (uint8_t)(seq + i);
	n = sl_ro_rx(&RO, &m, on_msg, NULL, budget, NOW, &taken);
	return taken ? n : -1;
}

static int
rx(uint32_t topic, uint64_t seq)
{
	return rx_b(topic, seq, 16, 0, 1000);
}

/* A piece of message @seq (@msg_len bytes) of @topic: bytes [off, off + len). */
static int
rx_piece(uint32_t topic, uint64_t seq, uint32_t msg_len, uint32_t off, uint32_t len)
{
	struct sl_ro_msg m = { .topic = topic, .seq = seq, .timestamp = seq * 10, .data = pbuf,
			       .len = len, .frag = true, .msg_len = msg_len, .frag_off = off };
	bool taken;
	uint32_t i;
	int n;

	for (i = 0; i < len; i++)
		pbuf[i] = (uint8_t)(seq + off + i);
	n = sl_ro_rx(&RO, &m, on_msg, NULL, 1000, NOW, &taken);
	return taken ? n : -1;
}

static int
drain(int budget)
{
	return sl_ro_drain(&RO, on_msg, NULL, budget, NOW);
}

/* Advance the clock by @ns and run the timers. */
static void
tick(uint64_t ns)
{
	NOW += ns;
	sl_ro_tick(&RO, NOW);
}

/* The deliveries so far are exactly @first..@last, in order, intact. */
static void
check_delivered(uint64_t first, uint64_t last)
{
	unsigned int i;

	CHECK_EQ(L.ndel, last - first + 1);
	for (i = 0; i < L.ndel && i < MAXLOG; i++) {
		CHECK_EQ(L.del_seq[i], first + i);
		CHECK(L.del_ok[i]);
	}
}

static void
test_in_order(void)
{
	uint64_t s;

	setup(0, false);
	sub(1);
	for (s = 100; s < 200; s++)
		CHECK_EQ(rx(1, s), 1);
	check_delivered(100, 199);
	tick(100 * MS);
	CHECK_EQ(L.nnak, 0);
	CHECK_EQ(ST.reordered, 0);
	CHECK_EQ(ST.dup_drops, 0);
	CHECK_EQ(L.nev, 0);
	CHECK_EQ(ST.delivered, 100);
}

static void
test_reorder(void)
{
	setup(0, false);
	sub(1);
	CHECK_EQ(rx(1, 1), 1);
	CHECK_EQ(rx(1, 3), 0);
	CHECK_EQ(rx(1, 4), 0);
	CHECK_EQ(rx(1, 2), 3); /* fills the hole: 2, 3, 4 */
	CHECK_EQ(rx(1, 5), 1);
	check_delivered(1, 5);
	CHECK_EQ(ST.reordered, 2);
	/* Settled within nak_delay: no NAK, ever. */
	tick(100 * MS);
	CHECK_EQ(L.nnak, 0);
	CHECK_EQ(L.nev, 0);
}

static void
test_duplicates(void)
{
	setup(0, false);
	sub(1);
	CHECK_EQ(rx(1, 1), 1);
	CHECK_EQ(rx(1, 2), 1);
	CHECK_EQ(rx(1, 2), 0); /* already delivered */
	CHECK_EQ(rx(1, 1), 0);
	CHECK_EQ(rx(1, 4), 0);
	CHECK_EQ(rx(1, 4), 0); /* already held */
	CHECK_EQ(rx(1, 3), 2);
	CHECK_EQ(rx(1, 3), 0);
	check_delivered(1, 4);
	CHECK_EQ(ST.dup_drops, 4);
}

static void
test_hole_fill(void)
{
	setup(0, false);
	sub(7);
	CHECK_EQ(rx(7, 1), 1);
	CHECK_EQ(rx(7, 2), 1);
	CHECK_EQ(rx(7, 5), 0);
	tick(400 * US);
	CHECK_EQ(L.nnak, 0); /* reordering may still bring 3 and 4 */
	tick(200 * US);
	CHECK_EQ(L.nnak, 1);
	CHECK_EQ(L.nak_topic[0], 7);
	CHECK_EQ(L.nak_first[0], 3);
	CHECK_EQ(L.nak_last[0], 4);
	tick(10 * MS);
	CHECK_EQ(L.nnak, 1); /* the retry waits nak_retry */
	tick(11 * MS);
	CHECK_EQ(L.nnak, 2);
	CHECK_EQ(L.nak_first[1], 3);
	CHECK_EQ(L.nak_last[1], 4);
	CHECK_EQ(rx_b(7, 4, 16, SL_DLV_F_RETRANS, 1000), 0);
	tick(21 * MS);
	CHECK_EQ(L.nnak, 3); /* only 3 is missing now */
	CHECK_EQ(L.nak_first[2], 3);
	CHECK_EQ(L.nak_last[2], 3);
	CHECK_EQ(rx_b(7, 3, 16, SL_DLV_F_RETRANS, 1000), 3);
	check_delivered(1, 5);
	CHECK_EQ(ST.retrans_received, 2);
	CHECK_EQ(ST.naks_sent, 3);
	CHECK_EQ(ST.nak_seqs, 5);
	tick(100 * MS);
	CHECK_EQ(L.nnak, 3); /* nothing missing, nothing asked */
	CHECK_EQ(L.nev, 0);
	/* Two separate holes: one NAK each. */
	CHECK_EQ(rx(7, 7), 0);
	CHECK_EQ(rx(7, 10), 0);
	tick(1 * MS);
	CHECK_EQ(L.nnak, 5);
	CHECK_EQ(L.nak_first[3], 6);
	CHECK_EQ(L.nak_last[3], 6);
	CHECK_EQ(L.nak_first[4], 8);
	CHECK_EQ(L.nak_last[4], 9);
}

static void
test_broker_gap(void)
{
	setup(0, false);
	sub(2);
	CHECK_EQ(rx(2, 1), 1);
	CHECK_EQ(rx(2, 6), 0);
	tick(1 * MS);
	CHECK_EQ(L.nnak, 1);
	CHECK_EQ(L.nak_first[0], 2);
	CHECK_EQ(L.nak_last[0], 5);
	/* The broker has 4 and 5 but not 2..3. */
	sl_ro_lost(&RO, 2, 2, 3, SL_E_GAP_LOST, NOW);
	CHECK_EQ(drain(100), 0);
	CHECK_EQ(L.nev, 1);
	CHECK_EQ(L.ev[0].type, SL_EV_GAP);
	CHECK_EQ(L.ev[0].topic_id, 2);
	CHECK_EQ(L.ev[0].first, 2);
	CHECK_EQ(L.ev[0].last, 3);
	CHECK_EQ(L.ev[0].error, SL_E_GAP_LOST);
	CHECK_EQ(rx(2, 5), 0);
	CHECK_EQ(rx(2, 4), 3);
	CHECK_EQ(L.ndel, 4);
	CHECK_EQ(L.del_seq[1], 4);
	CHECK_EQ(L.del_seq[3], 6);
	CHECK_EQ(ST.gaps, 2);
	CHECK_EQ(ST.gap_events, 1);
	CHECK_EQ(ST.holes_given_up, 0);
	/* A range partly delivered already: only the rest is a gap; one
	 * ahead of the head waits its turn. */
	sl_ro_lost(&RO, 2, 5, 9, SL_E_REPLAY_GAP, NOW);
	CHECK_EQ(L.nev, 1);
	CHECK_EQ(drain(100), 0);
	CHECK_EQ(L.nev, 2);
	CHECK_EQ(L.ev[1].first, 7);
	CHECK_EQ(L.ev[1].last, 9);
	CHECK_EQ(L.ev[1].error, SL_E_REPLAY_GAP);
	CHECK_EQ(rx(2, 10), 1);
	CHECK_EQ(rx(2, 8), 0); /* inside a skipped range: a duplicate */
	/* Lost in the middle of the window: no NAK for it, skipped on arrival. */
	CHECK_EQ(rx(2, 15), 0);
	sl_ro_lost(&RO, 2, 13, 14, SL_E_SLOW_CONSUMER, NOW);
	tick(1 * MS);
	CHECK_EQ(L.nak_first[L.nnak - 1], 11);
	CHECK_EQ(L.nak_last[L.nnak - 1], 12);
	CHECK_EQ(rx(2, 11), 1);
	CHECK_EQ(rx(2, 12), 2); /* 12, then 13..14 skipped, 15 */
	CHECK_EQ(L.nev, 3);
	CHECK_EQ(L.ev[2].first, 13);
	CHECK_EQ(L.ev[2].last, 14);
	CHECK_EQ(L.ev[2].error, SL_E_SLOW_CONSUMER);
	CHECK_EQ(L.del_seq[L.ndel - 1], 15);
}

/*
 * SKIP (v4): a range the subscription's filter skipped is passed over
 * without a gap event and never NAKed, over UDP (with reordering: the SKIP
 * after a later DELIVER, a hole before it NAKed only outside the range)
 * and over an ordered transport; and a message with a header block reaches
 * the application as its payload with key and headers beside it.
 */
static void
test_filtered_skip(void)
{
	static uint8_t msg[64];
	struct sl_ro_msg m = { .topic = 3, .flags = SL_DLV_F_HDRS, .timestamp = 1, .data = msg };
	const struct sl_header h = { "region", "eu", 2 };
	bool taken;
	int hl;

	setup(0, false);
	sub(3);
	CHECK_EQ(rx(3, 1), 1);
	CHECK_EQ(rx(3, 5), 0);	/* 2..4 missing for now */
	sl_ro_lost(&RO, 3, 2, 3, SL_RO_FILTERED, NOW);
	tick(1 * MS);
	CHECK_EQ(L.nnak, 1);	/* only 4 is asked for */
	CHECK_EQ(L.nak_first[0], 4);
	CHECK_EQ(L.nak_last[0], 4);
	CHECK_EQ(rx(3, 4), 2);
	CHECK_EQ(L.nev, 0);
	CHECK_EQ(ST.gaps, 0);
	CHECK_EQ(ST.filtered, 2);
	/* A SKIP that comes first: the next DELIVER is in order. */
	sl_ro_lost(&RO, 3, 6, 9, SL_RO_FILTERED, NOW);
	CHECK_EQ(rx(3, 10), 1);
	CHECK_EQ(L.nev, 0);
	CHECK_EQ(ST.filtered, 6);
	/* A SKIP for what was delivered already: nothing. */
	sl_ro_lost(&RO, 3, 1, 10, SL_RO_FILTERED, NOW);
	CHECK_EQ(ST.filtered, 6);

	/* Ordered (shared memory): a jump covered by a SKIP is no gap. */
	setup(0, true);
	sub(1);
	CHECK_EQ(rx(1, 1), 1);
	sl_ro_lost(&RO, 1, 2, 4, SL_RO_FILTERED, NOW);
	CHECK_EQ(rx(1, 5), 1);
	CHECK_EQ(L.nev, 0);
	CHECK_EQ(ST.gaps, 0);
	CHECK_EQ(ST.filtered, 3);

	/* The header block is split off the payload. */
	hl = sl_hdrs_build(msg, sizeof(msg), "k9", 2, &h, 1);
	CHECK(hl > 0);
	memcpy(msg + hl, "body", 4);
	m.seq = 6;
	m.len = (uint32_t)hl + 4;
	CHECK_EQ(sl_ro_rx(&RO, &m, on_msg, NULL, 10, NOW, &taken), 1);
	CHECK_EQ(L.del_len[L.ndel - 1], 4);
	CHECK_EQ(L.del_first[L.ndel - 1], 'b');
	CHECK(last_key_len == 2 && last_n_hdrs == 1 && last_region_ok);
}

static void
test_timeout_giveup(void)
{
	unsigned int i;

	setup(0, false);
	sub(3);
	CHECK_EQ(rx(3, 1), 1);
	CHECK_EQ(rx(3, 4), 0);
	CHECK_EQ(rx(3, 5), 0);
	for (i = 0; i < 99; i++)
		tick(20 * MS);
	CHECK_EQ(drain(100), 0);
	CHECK_EQ(L.nev, 0);
	CHECK_EQ(L.nnak, 99); /* asked every 20 ms */
	CHECK_EQ(ST.naks_sent, 99);
	tick(21 * MS);
	CHECK_EQ(drain(100), 2);
	CHECK_EQ(L.nev, 1);
	CHECK_EQ(L.ev[0].first, 2);
	CHECK_EQ(L.ev[0].last, 3);
	CHECK_EQ(L.ev[0].error, SL_E_GAP_LOST);
	CHECK_EQ(ST.holes_given_up, 1);
	CHECK_EQ(L.del_seq[2], 5);
	CHECK_EQ(rx(3, 2), 0); /* too late: a duplicate */
	CHECK_EQ(ST.dup_drops, 1);
}

static void
test_status_tail(void)
{
	setup(0, false);
	sub(4);
	/* Before the first DELIVER there is no start: nothing to NAK. */
	sl_ro_status(&RO, 4, 10, NOW);
	tick(50 * MS);
	CHECK_EQ(L.nnak, 0);
	CHECK_EQ(rx(4, 11), 1);
	CHECK_EQ(rx(4, 12), 1);
	sl_ro_status(&RO, 4, 12, NOW); /* nothing lost */
	tick(50 * MS);
	CHECK_EQ(L.nnak, 0);
	sl_ro_status(&RO, 4, 15, NOW); /* 13..15 lost at the tail */
	tick(100 * US);
	CHECK_EQ(L.nnak, 0);
	tick(500 * US);
	CHECK_EQ(L.nnak, 1);
	CHECK_EQ(L.nak_first[0], 13);
	CHECK_EQ(L.nak_last[0], 15);
	CHECK_EQ(rx_b(4, 13, 16, SL_DLV_F_RETRANS, 100), 1);
	CHECK_EQ(rx_b(4, 14, 16, SL_DLV_F_RETRANS, 100), 1);
	CHECK_EQ(rx_b(4, 15, 16, SL_DLV_F_RETRANS, 100), 1);
	tick(100 * MS);
	CHECK_EQ(L.nnak, 1);
	check_delivered(11, 15);
	CHECK_EQ(ST.status_frames, 3);
}

static void
test_frag(void)
{
	const uint32_t len = 4000;
	unsigned int i;

	setup(0, false);
	sub(5);
	CHECK_EQ(rx(5, 1), 1);
	/* Seq 2 in three pieces, out of order, one repeated. */
	CHECK_EQ(rx_piece(5, 2, len, 1400, 1400), 0);
	CHECK_EQ(rx_piece(5, 2, len, 2800, 1200), 0);
	CHECK_EQ(rx_piece(5, 2, len, 1400, 1400), 0);
	CHECK_EQ(L.ndel, 1);
	CHECK_EQ(rx_piece(5, 2, len, 0, 1400), 1);
	CHECK_EQ(L.ndel, 2);
	CHECK_EQ(L.del_seq[1], 2);
	CHECK_EQ(L.del_len[1], len);
	CHECK(L.del_ok[1]);
	CHECK_EQ(rx_piece(5, 2, len, 0, 1400), 0); /* after delivery: a duplicate */
	/* Seq 3 misses a piece; 4 (whole) and 5 (pieces) wait behind it. */
	CHECK_EQ(rx_piece(5, 3, len, 0, 1400), 0);
	CHECK_EQ(rx_piece(5, 3, len, 2800, 1200), 0);
	CHECK_EQ(rx(5, 4), 0);
	CHECK_EQ(rx_piece(5, 5, 2000, 1000, 1000), 0);
	CHECK_EQ(rx_piece(5, 5, 2000, 0, 1000), 0);
	tick(1 * MS);
	/* The missing piece is asked for as its whole message. */
	CHECK_EQ(L.nnak, 1);
	CHECK_EQ(L.nak_first[0], 3);
	CHECK_EQ(L.nak_last[0], 3);
	/* The retransmission may be split differently: overlaps are fine. */
	CHECK_EQ(rx_piece(5, 3, len, 1000, 2000), 3);
	check_delivered(1, 5);
	CHECK_EQ(L.del_len[2], len);
	CHECK_EQ(L.del_len[4], 2000);
	CHECK_EQ(ST.frag_messages, 3);
	CHECK_EQ(ST.dup_drops, 2);
	/* Over max_message: dropped and counted, not delivered. */
	CHECK_EQ(rx_piece(5, 6, 64 * 1024 + 1, 0, 1000), 0);
	CHECK_EQ(ST.frag_drops, 1);
	/* Reassembly room: pieces of newer messages give way to older ones. */
	for (i = 0; i < SL_FRAG_RX_SLOTS; i++)
		CHECK_EQ(rx_piece(5, 8 + i, 3000, 0, 1400), 0);
	CHECK_EQ(rx_piece(5, 7, 3000, 0, 1400), 0); /* takes 11's room */
	CHECK_EQ(rx_piece(5, 12, 3000, 0, 1400), 0); /* no room: dropped */
	CHECK_EQ(ST.frag_drops, 2);
	CHECK_EQ(rx_piece(5, 6, 3000, 0, 3000), 1);
	CHECK_EQ(rx_piece(5, 7, 3000, 1400, 1600), 1);
	CHECK_EQ(rx_piece(5, 8, 3000, 1400, 1600), 1);
	CHECK_EQ(L.del_seq[L.ndel - 1], 8);
	CHECK(L.del_ok[L.ndel - 1]);
}

static void
test_window_full(void)
{
	uint64_t s;

	setup(8, false);
	sub(6);
	CHECK_EQ(rx(6, 1), 1);
	/* 3..9 fill the window behind the hole at 2. */
	for (s = 3; s <= 9; s++)
		CHECK_EQ(rx(6, s), 0);
	/* 10 is a window past the head: 2 is given up to make room. */
	CHECK_EQ(rx(6, 10), 8);
	CHECK_EQ(L.ndel, 9);
	CHECK_EQ(L.del_seq[0], 1);
	for (s = 1; s < 9; s++)
		CHECK_EQ(L.del_seq[s], s + 2);
	CHECK_EQ(L.nev, 1);
	CHECK_EQ(L.ev[0].first, 2);
	CHECK_EQ(L.ev[0].last, 2);
	CHECK_EQ(L.ev[0].error, SL_E_GAP_LOST);
	CHECK_EQ(ST.holes_given_up, 1);
	L.ndel = 0;
	/* Far past the window with little budget: the buffered messages
	 * come first, the new one waits its turn. */
	CHECK_EQ(rx(6, 12), 0);
	CHECK_EQ(rx(6, 13), 0);
	CHECK_EQ(rx_b(6, 40, 16, 0, 1), -1); /* 11 given up, 12 handed over */
	CHECK_EQ(L.ndel, 1);
	CHECK_EQ(drain(1), 1);		      /* 13 */
	/* 14..32 given up: the window 33..40 holds 40, which waits. */
	CHECK_EQ(rx_b(6, 40, 16, 0, 1), 0);
	CHECK_EQ(L.nev, 3);
	CHECK_EQ(L.ev[1].first, 11);
	CHECK_EQ(L.ev[1].last, 11);
	CHECK_EQ(L.ev[2].first, 14);
	CHECK_EQ(L.ev[2].last, 32);
	CHECK_EQ(L.del_seq[1], 13);
	CHECK_EQ(ST.gaps, 1 + 1 + 19);
	CHECK_EQ(ST.holes_given_up, 3);
	/* Credit follows the head: head - 1 + window. */
	CHECK(L.ncredit > 0);
	if (L.ncredit > 0)
		CHECK_EQ(L.credit_limit[L.ncredit - 1], 32 + 8);
}

static void
test_credit(void)
{
	uint64_t s;

	setup(16, false);
	sub(9);
	CHECK_EQ(rx(9, 1), 1);
	CHECK_EQ(L.ncredit, 0); /* SUBSCRIBE's window covers 1..16 */
	for (s = 2; s <= 3; s++)
		CHECK_EQ(rx(9, s), 1);
	CHECK_EQ(L.ncredit, 0);
	CHECK_EQ(rx(9, 4), 1); /* the limit moved by window / 4: 16 -> 20 */
	CHECK_EQ(L.ncredit, 1);
	CHECK_EQ(L.credit_topic[0], 9);
	CHECK_EQ(L.credit_limit[0], 4 + 16);
	for (s = 5; s <= 8; s++)
		CHECK_EQ(rx(9, s), 1);
	CHECK_EQ(L.ncredit, 2);
	CHECK_EQ(L.credit_limit[1], 8 + 16);
	sl_ro_credit_all(&RO); /* the heartbeat's */
	CHECK_EQ(L.ncredit, 3);
	CHECK_EQ(L.credit_limit[2], 8 + 16);
	CHECK_EQ(ST.credits_sent, 3);
}

static void
test_ordered(void)
{
	setup(0, true);
	sub(1);
	CHECK_EQ(rx(1, 1), 1);
	CHECK_EQ(rx(1, 2), 1);
	CHECK_EQ(rx(1, 5), 1); /* the broker dropped 3..4: a gap at once */
	CHECK_EQ(L.nev, 1);
	CHECK_EQ(L.ev[0].first, 3);
	CHECK_EQ(L.ev[0].last, 4);
	CHECK_EQ(L.ev[0].error, SL_E_NONE);
	CHECK_EQ(ST.gaps, 2);
	CHECK_EQ(ST.holes_given_up, 0);
	tick(100 * MS);
	sl_ro_credit_all(&RO);
	CHECK_EQ(L.nnak, 0);
	CHECK_EQ(L.ncredit, 0);
	CHECK_EQ(L.ndel, 3);
}

static void
test_reset(void)
{
	struct sl_ro_topic *t;

	setup(0, false);
	t = sub(5);
	CHECK_EQ(rx(5, 1), 1);
	CHECK_EQ(rx(5, 2), 1);
	CHECK_EQ(sl_ro_last_delivered(t), 2);
	/* Reconnected: resumed from 3. */
	sl_ro_reset(&RO, t, 3);
	CHECK_EQ(rx(5, 2), 0); /* below the resume point */
	CHECK_EQ(ST.dup_drops, 1);
	CHECK_EQ(rx(5, 5), 0);
	tick(1 * MS);
	CHECK_EQ(L.nnak, 1);
	CHECK_EQ(L.nak_topic[0], 5);
	CHECK_EQ(L.nak_first[0], 3);
	CHECK_EQ(L.nak_last[0], 4);
	CHECK_EQ(rx(5, 3), 1);
	CHECK_EQ(rx(5, 4), 2);
	CHECK_EQ(L.del_topic[L.ndel - 1], 5);
	CHECK_EQ(sl_ro_last_delivered(t), 5);
	/* A new incarnation, for a topic not subscribed again by name: its
	 * next DELIVER starts it, the last delivered seq is kept till then. */
	t->started = false;
	CHECK_EQ(sl_ro_last_delivered(t), 5);
	CHECK_EQ(rx(5, 1), 1);
	CHECK_EQ(L.del_seq[L.ndel - 1], 1);
	CHECK_EQ(rx(5, 2), 1);
	/* A broker restart: the topic starts again wherever it now is. */
	sl_ro_reset(&RO, t, 0);
	CHECK_EQ(sl_ro_last_delivered(t), 0);
	CHECK_EQ(rx(5, 1), 1);
	CHECK_EQ(L.del_seq[L.ndel - 1], 1);
	CHECK_EQ(ST.dup_drops, 1);
}

/* Random loss, reordering and duplication against the one promise: every
 * message once, in order, given retransmissions for every NAK. */
static void
test_random(void)
{
	enum { N = 20000 };
	static uint64_t pendq[N * 4];
	unsigned int qn = 0, i;
	uint64_t next = 1;
	unsigned int lastnak = 0;

	setup(256, false);
	sub(3);
	credit_max = 256; /* SUBSCRIBE's window */
	CHECK_EQ(rx(3, next++), 1);
	unsigned int rounds = 0;

	while (L.ndel < N && rounds++ < 100000) {
		/* Send up to 8 new ones into the network queue, within credit,
		 * as the broker does. */
		for (i = 0; i < 8 && next <= N && next <= credit_max; i++)
			pendq[qn++] = next++;
		/* NAKs since last time: the broker resends their ranges. */
		for (; lastnak < L.nnak && lastnak < 64; lastnak++) {
			uint64_t s;

			for (s = L.nak_first[lastnak]; s <= L.nak_last[lastnak] && qn < N * 4; s++)
				pendq[qn++] = s;
		}
		if (L.nnak >= 64) {
			L.nnak = 0;
			lastnak = 0;
		}
		/* The network: take random ones, drop 5%, duplicate 2%. */
		while (qn > 0) {
			unsigned int k = (unsigned int)(rng() % qn);
			uint64_t s = pendq[k];

			pendq[k] = pendq[--qn];
			if (rng() % 100 < 5)
				continue;
			if (rng() % 100 < 2 && qn < N * 4)
				pendq[qn++] = s;
			while (rx(3, s) < 0)
				drain(1000);
		}
		tick(1 * MS);
		drain(1000);
	}
	CHECK_EQ(L.nev, 0);
	check_delivered(1, N);
	CHECK(ST.naks_sent > 0);
	CHECK(ST.reordered > 0);
	CHECK(ST.dup_drops > 0);
}

/* The in-order path: no allocation, and its cost against a bare call. */
static void
test_fast_path(void)
{
	enum { N = 2000000 };
	struct mallinfo2 before, after;
	struct timespec a, b, c;
	struct sl_ro_msg m = { .topic = 1, .data = pbuf, .len = 64 };
	struct sl_message msg = { .topic_id = 1, .len = 64, .data = pbuf };
	/* Called through a pointer, as libsluice calls the application. */
	sl_deliver_fn volatile direct = on_msg;
	double ns_ro, ns_direct;
	bool taken;
	uint64_t s;

	setup(0, false);
	sub(1);
	m.seq = 1;
	CHECK_EQ(sl_ro_rx(&RO, &m, NULL, NULL, 1, NOW, &taken), 1);
	before = mallinfo2();
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (s = 2; s < N; s++) {
		m.seq = s;
		sl_ro_rx(&RO, &m, on_msg, NULL, 64, NOW, &taken);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (s = 2; s < N; s++) {
		msg.seq = s;
		direct(NULL, &msg);
	}
	clock_gettime(CLOCK_MONOTONIC, &c);
	after = mallinfo2();
	CHECK_EQ(after.uordblks, before.uordblks);
	CHECK_EQ(after.hblkhd, before.hblkhd);
	CHECK_EQ(ST.reordered, 0);
	ns_ro = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (N - 2);
	ns_direct = ((c.tv_sec - b.tv_sec) * 1e9 + (c.tv_nsec - b.tv_nsec)) / (N - 2);
	printf("fast path: %.1f ns a message through the reorder buffer, %.1f ns calling the "
	       "callback directly\n", ns_ro, ns_direct);
}

/* Sequences at the top of the 64-bit range (a hostile DELIVER's): the
 * NAK scan of the hole ends, asking for exactly the missing run. */
static void
test_seq_top_of_range(void)
{
	const uint64_t top = UINT64_MAX - 1, first = UINT64_MAX - 64;

	setup(64, false);
	sub(7);
	CHECK_EQ(rx(7, first), 1);
	CHECK_EQ(rx(7, top), 0); /* held: first + 1 .. top - 1 missing */
	tick(1 * MS);
	tick(30 * MS);
	CHECK(L.nnak >= 1);
	if (L.nnak >= 1) {
		CHECK_EQ(L.nak_first[0], first + 1);
		CHECK_EQ(L.nak_last[0], top - 1);
	}
}

/*
 * Loss detection covers every topic, not the first 256: the tables grow.
 * A delivery the client cannot track (here topic id 0, never a topic) is
 * passed on unordered and counted, not silently.
 */
static void
test_many_topics(void)
{
	const uint32_t n = 1000;
	uint32_t t;

	setup(4, false);
	for (t = 1; t <= n; t++) {
		CHECK(sub(t) != NULL);
		CHECK_EQ(rx(t, 10), 1);
		CHECK_EQ(rx(t, 12), 0); /* 11 missing: held */
	}
	CHECK_EQ(RO.ntopics, n);
	CHECK(RO.cap >= n && RO.cap <= SL_RO_TOPICS_MAX);
	CHECK_EQ(ST.reordered, n);
	tick(1 * MS);
	CHECK_EQ(L.nnak, n); /* every topic's hole asked for */
	for (t = 1; t <= n; t++)
		CHECK(sl_ro_topic_find(&RO, t) != NULL && sl_ro_topic_find(&RO, t)->id == t);
	CHECK_EQ(ST.untracked, 0);
	CHECK_EQ(rx(0, 5), 1);
	CHECK_EQ(ST.untracked, 1);
}

int
main(void)
{
	test_in_order();
	test_reorder();
	test_duplicates();
	test_hole_fill();
	test_broker_gap();
	test_filtered_skip();
	test_timeout_giveup();
	test_status_tail();
	test_frag();
	test_window_full();
	test_credit();
	test_ordered();
	test_reset();
	test_random();
	test_fast_path();
	test_seq_top_of_range();
	test_many_topics();
	sl_ro_fini(&RO);
	return check_result("reorder");
}
