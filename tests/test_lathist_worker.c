/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The latency histograms on a real worker (one-worker harness): a publish to
 * a sync-durable topic records persisted and delivered (UDP), one to a `none`
 * topic only delivered; a delivery is timed up to the worker's next loop
 * iteration; NAK-driven retransmits (window and journal) record lag; a topic
 * without a histogram slot is counted and records nothing.
 *
 * With --bench ROUNDS it measures instead what the histograms add to the
 * worker's whole path (rx burst, parse, publish, fan-out to one UDP
 * subscriber, tx): polls of 32 PUBLISHes alternate between histograms on
 * and off (hist_topics 0: dp->lh NULL), timed with the TSC around
 * sl_worker_poll, building the datagrams and taking the DELIVERs outside.
 */

#include <stdlib.h>
#include <time.h>

#include <rte_cycles.h>

#include <common/ctrs.h>
#include <common/lathist.h>
#include <common/proto.h>

#include "journal.h"
#include "check.h"
#include "dp_harness.h"
#include "lathist.h"
#include "worker_internal.h"

#define PUB_PORT 6000
#define SUB_PORT 6001
#define MS 1000000ull

static struct sl_dp dp;
static struct sl_worker *w;
static struct rte_ring *rx, *tx;
static struct sl_session *pub, *sub;
static struct sl_ctrs_hdr *area;
static unsigned n_deliver;
static char jroot[64];

static void
count_deliver(const struct sl_frame *f)
{
	n_deliver += f->hdr->type == SL_FT_DELIVER;
}

/* Poll @polls times, then count the DELIVERs the worker sent. */
static void
pump(unsigned polls)
{
	harness_pump(w, tx, polls, count_deliver);
}

static struct sl_session *
open_session(uint16_t port)
{
	return harness_session(w, port, 0, 0);
}

static void
subscribe_w(uint32_t topic, uint32_t window)
{
	struct sl_subscribe s;

	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), sub->id);
	s.req_id = 1;
	s.topic_id = topic;
	s.window = window;
	CHECK(harness_send_from(&dp, rx, SUB_PORT, &s, sizeof(s)) == 0);
	pump(2);
}

static void
subscribe(uint32_t topic)
{
	subscribe_w(topic, 100000);
}

static void
publish(uint32_t topic, unsigned n)
{
	uint8_t buf[64];
	struct sl_publish *p = (struct sl_publish *)buf;
	unsigned i;

	for (i = 0; i < n; i++) {
		memset(buf, 0, sizeof(buf));
		sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, sizeof(*p) + 8, pub->id);
		p->topic_id = topic;
		memcpy(p + 1, &i, sizeof(i));
		CHECK(harness_send_from(&dp, rx, PUB_PORT, buf, sizeof(*p) + 8) == 0);
	}
}

static void
nak(uint32_t topic, uint64_t first, uint64_t last)
{
	struct sl_nak k;

	memset(&k, 0, sizeof(k));
	sl_proto_hdr_init(&k.h, SL_FT_NAK, 0, sizeof(k), sub->id);
	k.topic_id = topic;
	k.first = first;
	k.last = last;
	CHECK(harness_send_from(&dp, rx, SUB_PORT, &k, sizeof(k)) == 0);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* The histogram of @metric of the topic in slot @slot, workers added up. */
static struct sl_lh_sum h;

static const struct sl_lh_sum *
hist(int slot, unsigned metric)
{
	sl_lh_sum(area, (uint32_t)slot, metric, &h);
	return &h;
}

/* A topic with a sync journal (no retransmit window: a NAK reads the journal). */
static int
sync_topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	(void)arg;
	return harness_journal(ts, t, jroot, SL_DUR_SYNC);
}

static void
test_worker_records(void)
{
	uint32_t st = 0, nt, xt;
	int s_slot, n_slot;
	uint64_t before;

	snprintf(jroot, sizeof(jroot), "/tmp/sl_lh_XXXXXX");
	CHECK(mkdtemp(jroot) != NULL);
	CHECK(sl_route_topic_create_init(&dp.route, "lh.sync", 7, sync_topic_init, &dp, &st) == 1);
	nt = harness_topic(&dp, "lh.none");
	xt = harness_topic(&dp, "lh.extra");
	CHECK(st != 0 && nt != 0 && xt != 0);
	s_slot = sl_dp_lh_topic(&dp, st, "lh.sync");
	n_slot = sl_dp_lh_topic(&dp, nt, "lh.none");
	CHECK(s_slot >= 0 && n_slot >= 0 && s_slot != n_slot);
	/* Two slots only: the third topic has none, counted once. */
	CHECK(sl_dp_lh_topic(&dp, xt, "lh.extra") == -1);
	CHECK(sl_dp_lh_topic(&dp, xt, "lh.extra") == -1);
	CHECK_EQ(sl_lh_section(area)->no_slot, 1);
	CHECK(strcmp(sl_lh_meta(area, sl_lh_section(area), (uint32_t)s_slot)->key, "lh.sync") == 0);

	pub = open_session(PUB_PORT);
	sub = open_session(SUB_PORT);
	subscribe(st);
	subscribe(nt);
	subscribe(xt);

	/* Sync: persisted and delivered over UDP, ten each, nothing else. */
	n_deliver = 0;
	publish(st, 10);
	pump(3);
	CHECK_EQ(n_deliver, 10);
	CHECK_EQ(hist(s_slot, SL_LH_M_persisted)->count, 10);
	CHECK(h.sum > 0 && sl_lh_percentile(&h, 100) < 1000 * MS);
	CHECK_EQ(hist(s_slot, SL_LH_M_delivered_udp)->count, 10);
	/* Delivered after persisted: never earlier, for the same messages. */
	before = sl_lh_percentile(&h, 0);
	CHECK(before >= sl_lh_percentile(hist(s_slot, SL_LH_M_persisted), 0));
	CHECK_EQ(hist(s_slot, SL_LH_M_delivered_shm)->count, 0);
	CHECK_EQ(hist(s_slot, SL_LH_M_lag)->count, 0);
	CHECK_EQ(hist(n_slot, SL_LH_M_persisted)->count, 0);

	/* None: delivered only. A delivery counts up to the worker's next
	 * iteration: one that starts 30 ms later records at least 30 ms. */
	n_deliver = 0;
	publish(nt, 4);
	sl_worker_poll(w);
	sleep_ms(30);
	pump(1);
	CHECK_EQ(n_deliver, 4);
	CHECK_EQ(hist(n_slot, SL_LH_M_persisted)->count, 0);
	CHECK_EQ(hist(n_slot, SL_LH_M_delivered_udp)->count, 4);
	CHECK(sl_lh_percentile(&h, 0) >= 30 * MS && sl_lh_percentile(&h, 100) < 2000 * MS);
	CHECK_EQ(hist(s_slot, SL_LH_M_delivered_udp)->count, 10);

	/* Lag: retransmits from the window (none) and the journal (sync)
	 * record the time since the broker received the message. */
	sleep_ms(20);
	nak(nt, 1, 3);
	nak(st, 2, 5);
	n_deliver = 0;
	pump(2);
	CHECK_EQ(n_deliver, 7);
	CHECK_EQ(hist(n_slot, SL_LH_M_lag)->count, 3);
	CHECK(sl_lh_percentile(&h, 0) >= 50 * MS);
	CHECK_EQ(hist(s_slot, SL_LH_M_lag)->count, 4);
	CHECK(sl_lh_percentile(&h, 0) >= 50 * MS && sl_lh_percentile(&h, 100) < 5000 * MS);
	/* Retransmits are not deliveries of the delivered histograms. */
	CHECK_EQ(hist(n_slot, SL_LH_M_delivered_udp)->count, 4);

	/* No slot: delivered, recorded nowhere. */
	n_deliver = 0;
	publish(xt, 3);
	pump(3);
	CHECK_EQ(n_deliver, 3);
	CHECK_EQ(hist(n_slot, SL_LH_M_delivered_udp)->count, 4);
	CHECK_EQ(hist(s_slot, SL_LH_M_delivered_udp)->count, 10);

	{
		struct sl_topic_state *ts = sl_route_state(&dp.route, st);
		char cmd[128];

		sl_route_topic_deactivate(&dp.route, st);
		sl_worker_topic_delete(w, st);
		sl_journal_close(ts->closing);
		ts->closing = NULL;
		snprintf(cmd, sizeof(cmd), "rm -rf %s", jroot);
		CHECK(system(cmd) == 0);
	}
}

#define BENCH_MAX 100000
static uint64_t poll_cyc[2][BENCH_MAX];

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The @q quantile of @n poll times, in ns per message (32 a poll). */
static double
poll_ns(uint64_t *c, unsigned n, double q)
{
	return (double)c[(unsigned)(q * (n - 1))] * 1e9 / (double)rte_get_tsc_hz() / 32.0;
}

static void
bench_path(unsigned rounds)
{
	struct sl_dp_lh *lh = dp.lh;
	uint64_t cyc[2] = { 0, 0 }, msgs[2] = { 0, 0 }, t0, c;
	uint32_t bt = harness_topic(&dp, "lh.bench");
	unsigned r, k, on;
	double ns[2];

	CHECK(bt != 0 && sl_dp_lh_topic(&dp, bt, "lh.bench") >= 0);
	pub = open_session(PUB_PORT);
	sub = open_session(SUB_PORT);
	subscribe_w(bt, 0xffffffffu); /* credit for every round */
	/* The order alternates too: neither side always follows the other. */
	for (r = 0; r < rounds; r++)
		for (k = 0; k < 2; k++) {
			on = (r & 1) ? k : 1 - k;
			dp.lh = on ? lh : NULL;
			publish(bt, 32);
			t0 = rte_rdtsc();
			sl_worker_poll(w);
			c = rte_rdtsc() - t0;
			cyc[on] += c;
			if (r < BENCH_MAX)
				poll_cyc[on][r] = c;
			msgs[on] += 32;
			pump(0);
		}
	dp.lh = lh;
	for (on = 0; on < 2; on++)
		ns[on] = (double)cyc[on] * 1e9 / (double)rte_get_tsc_hz() / (double)msgs[on];
	printf("whole path, %u polls of 32 each way: mean off %.1f ns/msg, on %.1f ns/msg, "
	       "histograms add %.1f ns/msg\n", rounds, ns[0], ns[1], ns[1] - ns[0]);
	r = rounds < BENCH_MAX ? rounds : BENCH_MAX;
	qsort(poll_cyc[0], r, sizeof(uint64_t), cmp_u64);
	qsort(poll_cyc[1], r, sizeof(uint64_t), cmp_u64);
	printf("per poll, ns/msg: p10 off %.1f on %.1f (+%.1f); median off %.1f on %.1f (+%.1f)\n",
	       poll_ns(poll_cyc[0], r, 0.1), poll_ns(poll_cyc[1], r, 0.1),
	       poll_ns(poll_cyc[1], r, 0.1) - poll_ns(poll_cyc[0], r, 0.1),
	       poll_ns(poll_cyc[0], r, 0.5), poll_ns(poll_cyc[1], r, 0.5),
	       poll_ns(poll_cyc[1], r, 0.5) - poll_ns(poll_cyc[0], r, 0.5));
	sl_lh_sum(area, (uint32_t)sl_dp_lh_topic(&dp, bt, "lh.bench"), SL_LH_M_delivered_udp, &h);
	printf("delivered_udp recorded %llu of %llu (p50 %llu ns, p99 %llu ns)\n",
	       (unsigned long long)h.count, (unsigned long long)msgs[1],
	       (unsigned long long)sl_lh_percentile(&h, 50),
	       (unsigned long long)sl_lh_percentile(&h, 99));
}

int
main(int argc, char **argv)
{
	size_t size;
	int rc = harness_start("test_lathist_worker", &dp, &rx, &tx);

	if (rc)
		return rc;
	w = dp.workers[0];
	size = sl_ctrs_area_size_h(8, 2, 1);
	area = calloc(1, size);
	CHECK(area != NULL && sl_ctrs_format_h(area, size, 8, 2, 1) == 0);
	CHECK(sl_dp_lh_init_area(&dp, area) == 0 && dp.lh != NULL);
	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		bench_path((unsigned)strtoul(argv[2], NULL, 10));
	else
		test_worker_records();
	pump(2);
	sl_dp_lh_fini(&dp);
	free(area);
	harness_stop(&dp);
	return check_result("test_lathist_worker");
}
