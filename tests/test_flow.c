/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loss recovery and flow control at a topic's owner, through the worker's
 * real code on a ring port: NAK resends from the retransmit window, a gap
 * beyond it, bogus and rate-limited NAKs, credit, the cut-off of a
 * subscriber that holds a block topic too long, STATUS after an idle
 * topic, and several DELIVERs sharing one datagram.
 */

#include <time.h>

#include <common/proto.h>

#include "dp_harness.h"

#include "check.h"

#define MAX_REPLIES 256

static struct sl_dp dp;
static struct rte_ring *rx, *tx;

struct reply {
	uint8_t type;
	uint32_t len;
	uint8_t b[128];
};

static struct reply r[MAX_REPLIES];
static unsigned n_replies;
static int n_dgrams; /* datagrams of the last poll */

static void
send_dgram(const void *frames, uint32_t len)
{
	CHECK(harness_send(&dp, rx, frames, len) == 0);
}

static void
take(void *arg, const struct sl_frame *f, unsigned dgram)
{
	(void)arg;
	(void)dgram;
	if (n_replies == MAX_REPLIES)
		return;
	r[n_replies].type = f->hdr->type;
	r[n_replies].len = f->len;
	memcpy(r[n_replies].b, f->hdr, f->len < sizeof(r[0].b) ? f->len : sizeof(r[0].b));
	n_replies++;
}

/* Poll the worker; collect the frames it sent (and count the datagrams). */
static unsigned
poll_replies(void)
{
	n_replies = 0;
	n_dgrams = harness_recv(&dp, tx, 4, take, NULL);
	CHECK(n_dgrams >= 0);
	return n_replies;
}

/* How many of the @n replies are of @type. */
static unsigned
count_type(unsigned n, uint8_t type)
{
	unsigned i, c = 0;

	for (i = 0; i < n; i++)
		c += r[i].type == type;
	return c;
}

static const struct sl_deliver *
dlv(unsigned i)
{
	return (const struct sl_deliver *)r[i].b;
}

#define ctr(c) harness_ctr(&dp, (c))

#define drops(d) harness_drops(&dp, (d))

static uint32_t
hello(void)
{
	uint8_t h[SL_HELLO_MIN_LEN];
	struct sl_challenge c;
	struct sl_auth a;
	unsigned n;

	send_dgram(h, harness_hello(h, 1, 0, "t"));
	n = poll_replies();
	CHECK(n == 1 && r[0].type == SL_FT_CHALLENGE);
	memcpy(&c, r[0].b, sizeof(c));
	harness_auth(&a, &c, "t", NULL);
	send_dgram(&a, sizeof(a));
	n = poll_replies();
	CHECK(n == 1 && r[0].type == SL_FT_WELCOME);
	return n == 1 ? ((const struct sl_welcome *)r[0].b)->session : 0;
}

static void
subscribe(uint32_t session, uint32_t topic, uint32_t window)
{
	struct sl_subscribe s;
	unsigned n;

	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), session);
	s.req_id = topic;
	s.topic_id = topic;
	s.window = window;
	send_dgram(&s, sizeof(s));
	n = poll_replies();
	CHECK(n == 1 && r[0].type == SL_FT_OK);
}

/* @k PUBLISH frames in one datagram; payload "m<seq-ish>" of 8 bytes. */
static void
publish(uint32_t session, uint32_t topic, unsigned k, uint64_t tag)
{
	struct {
		struct sl_publish p;
		uint64_t payload;
	} pub[32];
	unsigned i;

	for (i = 0; i < k; i++) {
		memset(&pub[i], 0, sizeof(pub[i]));
		sl_proto_hdr_init(&pub[i].p.h, SL_FT_PUBLISH, 0, sizeof(pub[i]), session);
		pub[i].p.topic_id = topic;
		pub[i].p.producer_seq = tag + i;
		pub[i].payload = tag + i;
	}
	send_dgram(pub, (uint32_t)(k * sizeof(pub[0])));
}

static void
nak(uint32_t session, uint32_t topic, uint64_t first, uint64_t last)
{
	struct sl_nak k;

	memset(&k, 0, sizeof(k));
	sl_proto_hdr_init(&k.h, SL_FT_NAK, 0, sizeof(k), session);
	k.topic_id = topic;
	k.first = first;
	k.last = last;
	send_dgram(&k, sizeof(k));
}

static void
credit(uint32_t session, uint32_t topic, uint64_t limit)
{
	struct sl_credit c;

	memset(&c, 0, sizeof(c));
	sl_proto_hdr_init(&c.h, SL_FT_CREDIT, 0, sizeof(c), session);
	c.topic_id = topic;
	c.limit = limit;
	send_dgram(&c, sizeof(c));
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Several PUBLISHes in one datagram: their DELIVERs share one datagram too;
 * a NAK from the window resends them with SL_DLV_F_RETRANS. */
static void
test_batch_and_nak(uint32_t session, uint32_t topic)
{
	uint64_t batched = ctr(SL_CTR_tx_batched);
	unsigned n, i;

	subscribe(session, topic, 0);
	publish(session, topic, 5, 100);
	n = poll_replies();
	CHECK_EQ(n, 5);
	CHECK_EQ(count_type(n, SL_FT_DELIVER), 5);
	CHECK_EQ(n_dgrams, 1);
	CHECK_EQ(ctr(SL_CTR_tx_batched) - batched, 4);
	for (i = 0; i < n; i++) {
		CHECK_EQ(dlv(i)->seq, i + 1);
		CHECK_EQ(dlv(i)->h.flags, 0);
	}

	nak(session, topic, 2, 4);
	n = poll_replies();
	CHECK_EQ(n, 3);
	CHECK_EQ(n_dgrams, 1);
	for (i = 0; i < n; i++) {
		CHECK(r[i].type == SL_FT_DELIVER);
		CHECK_EQ(dlv(i)->seq, i + 2);
		CHECK(dlv(i)->h.flags & SL_DLV_F_RETRANS);
		CHECK_EQ(*(const uint64_t *)(dlv(i) + 1), 100 + i + 1);
	}
	CHECK_EQ(ctr(SL_CTR_nak_received), 1);
	CHECK_EQ(ctr(SL_CTR_retransmitted), 3);
}

/* A none topic with a window of 4: a NAK reaching past it gets what the
 * window holds and ERROR SL_E_GAP_LOST for the rest, with the range. */
static void
test_gap_lost(uint32_t session, uint32_t topic)
{
	const struct sl_error_gap *g = NULL;
	uint64_t lost = ctr(SL_CTR_gap_lost);
	unsigned n, i, seen = 0;

	sl_route_state(&dp.route, topic)->retx_window = 4;
	subscribe(session, topic, 0);
	publish(session, topic, 10, 200);
	CHECK_EQ(poll_replies(), 10);
	nak(session, topic, 1, 8);
	n = poll_replies();
	CHECK_EQ(n, 3);
	for (i = 0; i < n; i++) {
		if (r[i].type == SL_FT_ERROR) {
			g = (const struct sl_error_gap *)r[i].b;
			continue;
		}
		CHECK(r[i].type == SL_FT_DELIVER && (dlv(i)->h.flags & SL_DLV_F_RETRANS));
		seen |= 1u << dlv(i)->seq;
	}
	CHECK_EQ(seen, (1u << 7) | (1u << 8));
	CHECK(g != NULL);
	if (g) {
		CHECK_EQ(g->e.h.length, sizeof(*g));
		CHECK_EQ(g->e.code, SL_E_GAP_LOST);
		CHECK_EQ(g->e.frame_type, SL_FT_NAK);
		CHECK_EQ(g->e.detail, topic);
		CHECK_EQ(g->first, 1);
		CHECK_EQ(g->last, 6);
	}
	CHECK_EQ(ctr(SL_CTR_gap_lost) - lost, 6);
}

/* Bogus NAKs: counted, answered with nothing. */
static void
test_bogus(uint32_t session, uint32_t topic, uint32_t other)
{
	uint64_t bad = drops(SL_DROP_nak_bad), rcv = ctr(SL_CTR_nak_received);

	nak(session, topic, 4, 3);		       /* first > last */
	nak(session, topic, 0, 2);		       /* seq 0 does not exist */
	nak(session, topic, 1, 1000);		       /* past the topic's latest */
	nak(session, topic, 1, 1 + SL_NAK_MAX_RANGE); /* too wide */
	nak(session, other, 1, 1);		       /* not subscribed there */
	nak(session, 60, 1, 1);			       /* no such topic */
	CHECK_EQ(poll_replies(), 0);
	CHECK_EQ(drops(SL_DROP_nak_bad) - bad, 6);
	CHECK_EQ(ctr(SL_CTR_nak_received), rcv);
}

/* nak_rate 1 per second (a bucket of one): one message resent, the rest
 * counted as limited, and a second NAK at once gets nothing. */
static void
test_rate(uint32_t session, uint32_t topic)
{
	uint64_t limited = ctr(SL_CTR_nak_limited);
	unsigned n;

	sleep_ms(2); /* the bucket of the NAKs before is full again */
	dp.conf.nak_rate = 1;
	nak(session, topic, 1, 5);
	n = poll_replies();
	CHECK_EQ(n, 1);
	CHECK(n == 1 && r[0].type == SL_FT_DELIVER && dlv(0)->seq == 1);
	CHECK_EQ(ctr(SL_CTR_nak_limited) - limited, 4);
	nak(session, topic, 2, 5);
	CHECK_EQ(poll_replies(), 0);
	CHECK_EQ(ctr(SL_CTR_nak_limited) - limited, 8);
	dp.conf.nak_rate = 100000;
}

/* Credit 3: deliveries stop at seq 3 (policy drop: counted); CREDIT 8
 * lets the next ones through and a NAK fetch the dropped ones. */
static void
test_credit(uint32_t session, uint32_t topic)
{
	uint64_t cd = ctr(SL_CTR_credit_drops);
	unsigned n, i;

	subscribe(session, topic, 3);
	publish(session, topic, 6, 300);
	n = poll_replies();
	CHECK_EQ(n, 3);
	for (i = 0; i < n; i++)
		CHECK_EQ(dlv(i)->seq, i + 1);
	CHECK_EQ(ctr(SL_CTR_credit_drops) - cd, 3);
	/* A NAK past the credit sends nothing past it. */
	nak(session, topic, 4, 6);
	CHECK_EQ(poll_replies(), 0);
	credit(session, topic, 8);
	publish(session, topic, 3, 306); /* seqs 7, 8, 9: 9 is past the credit */
	n = poll_replies();
	CHECK_EQ(n, 2);
	CHECK(n == 2 && dlv(0)->seq == 7 && dlv(1)->seq == 8);
	nak(session, topic, 4, 6);
	n = poll_replies();
	CHECK_EQ(n, 3);
	for (i = 0; i < n; i++)
		CHECK(dlv(i)->seq == i + 4 && (dlv(i)->h.flags & SL_DLV_F_RETRANS));
	/* A lower CREDIT never takes credit back; one for a topic the session
	 * is not subscribed to is counted. */
	credit(session, topic, 2);
	credit(session, 61, 100);
	CHECK_EQ(poll_replies(), 0);
	CHECK_EQ(sl_route_sub_find(&dp.route, topic, session)->credit, 8);
	CHECK_EQ(drops(SL_DROP_credit_bad), 1);
}

/* Policy block: a subscriber out of credit holds the topic's messages (and
 * its UDP publishers get SL_E_BACKPRESSURE) for bp_hold_ms at most, then
 * is cut off with ERROR SL_E_SLOW_CONSUMER and the range. */
static void
test_cut_off(uint32_t session, uint32_t topic)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	const struct sl_error_gap *g;
	unsigned n;

	ts->backpressure = SL_BP_BLOCK;
	dp.conf.bp_hold_ms = 50;
	subscribe(session, topic, 2);
	publish(session, topic, 3, 400);
	n = poll_replies();
	CHECK_EQ(n, 2);
	CHECK_EQ(ts->bp_held, 1);
	/* Held: a UDP publisher is refused meanwhile. */
	publish(session, topic, 1, 403);
	n = poll_replies();
	CHECK(n == 1 && r[0].type == SL_FT_ERROR &&
	      ((const struct sl_error *)r[0].b)->code == SL_E_BACKPRESSURE);
	CHECK_EQ(ts->n_subs, 1);
	sleep_ms(60);
	n = poll_replies();
	CHECK_EQ(n, 1);
	g = (const struct sl_error_gap *)r[0].b;
	CHECK(r[0].type == SL_FT_ERROR && r[0].len == sizeof(*g));
	CHECK_EQ(g->e.code, SL_E_SLOW_CONSUMER);
	CHECK_EQ(g->e.frame_type, SL_FT_DELIVER);
	CHECK_EQ(g->e.detail, topic);
	CHECK_EQ(g->first, 3);
	CHECK_EQ(g->last, 3);
	CHECK_EQ(ts->n_subs, 0);
	CHECK_EQ(ts->bp_held, 0);
	CHECK_EQ(ctr(SL_CTR_slow_consumer_cuts), 1);
}

/* Policy disconnect: the first message past the credit cuts it off at once. */
static void
test_disconnect(uint32_t session, uint32_t topic)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	uint64_t cuts = ctr(SL_CTR_slow_consumer_cuts);
	const struct sl_error_gap *g;
	unsigned n;

	ts->backpressure = SL_BP_DISCONNECT;
	subscribe(session, topic, 1);
	publish(session, topic, 3, 600);
	n = poll_replies();
	CHECK_EQ(n, 2);
	CHECK(n == 2 && r[0].type == SL_FT_DELIVER && dlv(0)->seq == 1);
	g = (const struct sl_error_gap *)r[1].b;
	CHECK(n == 2 && r[1].type == SL_FT_ERROR && g->e.code == SL_E_SLOW_CONSUMER);
	CHECK(n == 2 && g->first == 2 && g->last == 2);
	CHECK_EQ(ts->n_subs, 0);
	CHECK_EQ(ctr(SL_CTR_slow_consumer_cuts) - cuts, 1);
}

/* The STATUS entry for @topic among the @n replies, or NULL. */
static const struct sl_status_entry *
status_for(unsigned n, uint32_t topic)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct sl_status *st = (const struct sl_status *)r[i].b;
		const struct sl_status_entry *e = (const struct sl_status_entry *)(st + 1);

		if (r[i].type == SL_FT_STATUS && st->count == 1 && e->topic_id == topic)
			return e;
	}
	return NULL;
}

/* STATUS: a topic idle for status_idle_us tells its subscriber its latest
 * seq once; the heartbeat tick tells it again. (The session's other
 * subscriptions get theirs too: only this topic's are looked at.) */
static void
test_status(uint32_t session, uint32_t topic)
{
	const struct sl_status_entry *e;
	uint64_t sent;
	unsigned n;

	subscribe(session, topic, 0);
	publish(session, topic, 2, 500);
	CHECK_EQ(poll_replies(), 2);
	CHECK(status_for(0, topic) == NULL);
	dp.conf.status_idle_us = 1000;
	dp.workers[0]->next_status_scan = 0; /* the configuration is read at start */
	sent = ctr(SL_CTR_status_sent);
	sleep_ms(5);
	n = poll_replies();
	e = status_for(n, topic);
	CHECK(e != NULL);
	CHECK(e && e->last_seq == 2);
	CHECK_EQ(count_type(n, SL_FT_STATUS), n);
	CHECK_EQ(ctr(SL_CTR_status_sent) - sent, n);
	sleep_ms(5);
	CHECK_EQ(poll_replies(), 0); /* once per idle spell */
	dp.workers[0]->next_status_hb = 0;
	n = poll_replies();
	e = status_for(n, topic);
	CHECK(e && e->last_seq == 2);
	dp.conf.status_idle_us = 10000000;
}

int
main(int argc, char **argv)
{
	uint32_t t[7], session;
	unsigned i;
	int rc;

	(void)argc;
	(void)argv;
	rc = harness_start("test_flow", &dp, &rx, &tx);
	if (rc)
		return rc;
	for (i = 0; i < 7; i++) {
		char name[16];

		snprintf(name, sizeof(name), "t%u", i);
		t[i] = harness_topic(&dp, name);
		CHECK(t[i] != 0);
	}
	session = hello();
	test_batch_and_nak(session, t[0]);
	test_gap_lost(session, t[1]);
	test_bogus(session, t[0], t[5]);
	test_rate(session, t[0]);
	test_credit(session, t[2]);
	test_cut_off(session, t[3]);
	test_status(session, t[4]);
	test_disconnect(session, t[6]);
	harness_stop(&dp);
	if (failures)
		fprintf(stderr, "test_flow: %d check(s) failed\n", failures);
	else
		printf("test_flow: ok\n");
	return failures ? 1 : 0;
}
