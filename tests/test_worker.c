/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's real code through a ring port (net_ring PMD, EAL without huge
 * pages or PCI): HELLO, SUBSCRIBE, PUBLISH with an ACK request, the DELIVER
 * it fans out, and the errors of an unknown topic and a missing session.
 */

#include <common/proto.h>

#include "dp_harness.h"
#include "worker_internal.h"

#include "check.h"

static struct sl_dp dp;
static struct rte_ring *rx, *tx;

static void
send_dgram(const void *frames, uint32_t len)
{
	CHECK(harness_send(&dp, rx, frames, len) == 0);
}

#define MAX_REPLIES 16

struct reply {
	uint8_t type;
	uint32_t len;
	uint8_t b[256];
};

struct replies {
	struct reply *r;
	unsigned n;
};

static void
take(void *arg, const struct sl_frame *f, unsigned dgram)
{
	struct replies *x = arg;

	(void)dgram;
	if (x->n == MAX_REPLIES)
		return;
	x->r[x->n].type = f->hdr->type;
	x->r[x->n].len = f->len < sizeof(x->r[0].b) ? f->len : sizeof(x->r[0].b);
	memcpy(x->r[x->n].b, f->hdr, x->r[x->n].len);
	x->n++;
}

/* Poll the worker a few times; collect the frames it sent to the client. */
static unsigned
poll_replies(struct reply *r)
{
	struct replies x = { r, 0 };

	CHECK(harness_recv(&dp, tx, 4, take, &x) >= 0);
	return x.n;
}

static const struct reply *
find(const struct reply *r, unsigned n, uint8_t type)
{
	for (unsigned i = 0; i < n; i++)
		if (r[i].type == type)
			return &r[i];
	return NULL;
}

static void
test_session_pubsub(uint32_t topic)
{
	struct reply r[MAX_REPLIES];
	const struct reply *x;
	struct sl_hello h;
	struct sl_subscribe s;
	struct {
		struct sl_publish p;
		uint8_t payload[8];
	} pub;
	uint32_t session;
	unsigned n;

	/* HELLO: WELCOME with a session of worker 0, the nonce echoed. */
	memset(&h, 0, sizeof(h));
	sl_proto_hdr_init(&h.h, SL_FT_HELLO, 0, sizeof(h), 0);
	h.min_version = h.max_version = SL_PROTO_VERSION;
	h.nonce = 0x1234abcd;
	snprintf(h.name, sizeof(h.name), "t");
	send_dgram(&h, sizeof(h));
	n = poll_replies(r);
	CHECK(n == 1);
	x = find(r, n, SL_FT_WELCOME);
	CHECK(x != NULL);
	if (x == NULL)
		return;
	session = ((const struct sl_welcome *)x->b)->session;
	CHECK(((const struct sl_welcome *)x->b)->nonce == 0x1234abcd);
	CHECK(sl_session_worker(session) == 0);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_sessions_opened]) == 1);

	/* SUBSCRIBE: OK for its request id. */
	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), session);
	s.req_id = 7;
	s.topic_id = topic;
	send_dgram(&s, sizeof(s));
	n = poll_replies(r);
	CHECK(n == 1);
	x = find(r, n, SL_FT_OK);
	CHECK(x && ((const struct sl_ok *)x->b)->req_id == 7);
	CHECK(sl_route_state(&dp.route, topic)->n_subs == 1);

	/* PUBLISH with an ACK request: ACK (seq 1) and the DELIVER to itself. */
	memset(&pub, 0, sizeof(pub));
	sl_proto_hdr_init(&pub.p.h, SL_FT_PUBLISH, SL_PUB_F_ACK_REQ, sizeof(pub), session);
	pub.p.topic_id = topic;
	pub.p.producer_seq = 41;
	pub.p.timestamp = 99;
	memcpy(pub.payload, "payload!", 8);
	send_dgram(&pub, sizeof(pub));
	n = poll_replies(r);
	CHECK(n == 2);
	x = find(r, n, SL_FT_ACK);
	CHECK(x != NULL);
	if (x) {
		const struct sl_ack *a = (const struct sl_ack *)x->b;

		CHECK(a->topic_id == topic && a->producer_seq == 41 && a->seq == 1);
		CHECK(a->h.session == session);
	}
	x = find(r, n, SL_FT_DELIVER);
	CHECK(x != NULL);
	if (x) {
		const struct sl_deliver *d = (const struct sl_deliver *)x->b;

		CHECK(d->topic_id == topic && d->seq == 1 && d->timestamp == 99);
		CHECK(d->h.length == sizeof(*d) + 8 && d->h.session == session);
		CHECK(memcmp(d + 1, "payload!", 8) == 0);
	}
	CHECK(sl_route_state(&dp.route, topic)->delivered == 1);

	/* PUBLISH to a topic that does not exist: ERROR unknown topic. */
	pub.p.topic_id = topic + 5;
	send_dgram(&pub, sizeof(pub));
	n = poll_replies(r);
	CHECK(n == 1);
	x = find(r, n, SL_FT_ERROR);
	CHECK(x && ((const struct sl_error *)x->b)->code == SL_E_UNKNOWN_TOPIC);
	CHECK(x && ((const struct sl_error *)x->b)->detail == 41);

	/* A session id nobody was given: ERROR no session, nothing delivered. */
	pub.p.topic_id = topic;
	pub.p.h.session = session ^ 0x00ff0000u;
	send_dgram(&pub, sizeof(pub));
	n = poll_replies(r);
	CHECK(n == 1);
	x = find(r, n, SL_FT_ERROR);
	CHECK(x && ((const struct sl_error *)x->b)->code == SL_E_NO_SESSION);
	CHECK(sl_route_state(&dp.route, topic)->delivered == 1);
}

/* A HELLO for versions @lo..@hi in header version @hv, from a new nonce. */
static unsigned
hello(uint8_t hv, uint16_t lo, uint16_t hi, uint64_t nonce, struct reply *r)
{
	struct sl_hello h;

	memset(&h, 0, sizeof(h));
	sl_proto_hdr_init(&h.h, SL_FT_HELLO, 0, sizeof(h), 0);
	h.h.version = hv;
	h.min_version = lo;
	h.max_version = hi;
	h.nonce = nonce;
	snprintf(h.name, sizeof(h.name), "v");
	send_dgram(&h, sizeof(h));
	return poll_replies(r);
}

/*
 * PROTOCOL.md 9: a HELLO is read whatever its header version; the broker
 * picks the highest version both speak and names it in a 56-byte WELCOME
 * with its incarnation; a client of version 1 only gets ERROR SL_E_VERSION
 * (in header version 1), counted; a later frame in another version than
 * the session's gets ERROR SL_E_VERSION and is dropped.
 */
static void
test_versions(uint32_t topic)
{
	uint64_t refused = sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_version_refused]);
	uint64_t bad = sl_ctr_read(&dp.workers[0]->ctr.drop[SL_DROP_bad_version]);
	struct reply r[MAX_REPLIES];
	const struct sl_welcome *wl;
	const struct sl_error *e;
	struct sl_subscribe s;
	unsigned n;

	n = hello(1, 1, 1, 0x501, r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	e = (const struct sl_error *)r[0].b;
	CHECK(e->code == SL_E_VERSION && e->frame_type == SL_FT_HELLO && e->detail == 0x501);
	CHECK(e->h.version == SL_PROTO_HELLO_VERSION);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_version_refused]) == refused + 1);
	/* Only versions above this broker's: refused too. */
	n = hello(1, 4, 9, 0x502, r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR &&
	      ((const struct sl_error *)r[0].b)->code == SL_E_VERSION);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.ctr[SL_CTR_version_refused]) == refused + 2);

	/* A client of versions 1..7 with a header of version 7: version 3. */
	dp.incarnation = 0xfeedface12345678ull;
	n = hello(7, 1, 7, 0x503, r);
	CHECK(n == 1 && r[0].type == SL_FT_WELCOME && r[0].len == 56);
	wl = (const struct sl_welcome *)r[0].b;
	CHECK(wl->version == 3 && wl->h.version == 3);
	CHECK(wl->incarnation == 0xfeedface12345678ull);
	/* The largest message a session may send: the default budgets take
	 * the hard limit (each topic's own limit may be lower). */
	CHECK(wl->max_message == SL_MAX_MESSAGE && wl->nonce == 0x503);

	/* A SUBSCRIBE of the session in version 1: refused, not done. */
	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), wl->session);
	s.h.version = 1;
	s.req_id = 9;
	s.topic_id = topic;
	send_dgram(&s, sizeof(s));
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR);
	e = (const struct sl_error *)r[0].b;
	CHECK(e->code == SL_E_VERSION && e->frame_type == SL_FT_SUBSCRIBE);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.drop[SL_DROP_bad_version]) == bad + 1);
	/* And in version 4 (above what the parser knows): the same answer. */
	s.h.version = 4;
	send_dgram(&s, sizeof(s));
	n = poll_replies(r);
	CHECK(n == 1 && r[0].type == SL_FT_ERROR &&
	      ((const struct sl_error *)r[0].b)->code == SL_E_VERSION);
	CHECK(sl_ctr_read(&dp.workers[0]->ctr.drop[SL_DROP_bad_version]) == bad + 2);
	CHECK(sl_route_sub_find(&dp.route, topic, s.h.session) == NULL);
}

/*
 * A session's end must reach the main lcore's pattern registry even when
 * its ring is full: kept in the backlog and sent once there is room, never
 * dropped (its patterns would subscribe the dead session to new topics).
 */
static void
test_session_end_backlog(void)
{
	struct sl_worker *w = dp.workers[0];
	uint64_t lost = sl_ctr_read(&w->ctr.drop[SL_DROP_slow_path_full]);
	struct sl_handoff nop = { .kind = SL_HO_KINDS }, h;
	unsigned n = 0, ends = 0;

	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0) /* earlier tests' */
		rte_pktmbuf_free(h.m);
	while (rte_ring_enqueue_elem(dp.slow, &nop, sizeof(nop)) == 0)
		n++;
	CHECK(n > 0);
	sl_worker_session_gone(w, 4242);
	sl_worker_session_gone(w, 4243);
	CHECK_EQ(sl_ctr_read(&w->ctr.drop[SL_DROP_slow_path_full]), lost);
	CHECK_EQ(w->n_backlog_dst[SL_BACKLOG_MAIN], 2);
	sl_worker_stage_flush(w); /* still full: kept */
	CHECK_EQ(w->n_backlog_dst[SL_BACKLOG_MAIN], 2);
	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
		CHECK_EQ(h.kind, SL_HO_KINDS);
	sl_worker_stage_flush(w);
	CHECK_EQ(w->n_backlog_dst[SL_BACKLOG_MAIN], 0);
	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0) {
		CHECK_EQ(h.kind, SL_HO_SESSION_END);
		CHECK_EQ(h.session, 4242u + ends);
		ends++;
	}
	CHECK_EQ(ends, 2);
}

int
main(int argc, char **argv)
{
	uint32_t topic;
	int rc;

	(void)argc;
	rc = harness_eal("test_worker");
	if (rc)
		return rc;
	(void)argv;
	rx = rte_ring_create("t_rx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx = rte_ring_create("t_tx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(rx && tx);
	rc = harness_dp(&dp, rx, tx);
	if (rc < 0) {
		fprintf(stderr, "test_worker: dataplane set-up: %s\n", strerror(-rc));
		return 1;
	}
	topic = harness_topic(&dp, "prices");
	CHECK(topic != 0);
	test_session_pubsub(topic);
	test_versions(topic);
	test_session_end_backlog();
	sl_port_fini(&dp, 0);
	sl_worker_fini(dp.workers[0]);
	sl_route_fini(&dp.route);
	rte_eal_cleanup();
	if (failures)
		fprintf(stderr, "test_worker: %d check(s) failed\n", failures);
	else
		printf("test_worker: ok\n");
	return failures ? 1 : 0;
}
