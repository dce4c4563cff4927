/* SPDX-License-Identifier: BSD-3-Clause */
/* Hot-path micro-benchmarks: frame and packet parsing, lookups, handoff ring, append, MAC. */

/*
 * Each benchmark times one piece of what a worker does per frame, on the
 * same code the dataplane runs, without EAL: the dataplane's plain-C core
 * (pkt, route, session) and rte_ring on memory of our own. Those parts need
 * DPDK's headers and sluice_dp_core, so meson defines SL_BENCH_DATAPLANE
 * only when libdpdk is found; the rest is built either way.
 */

#include <benchmark/benchmark.h>

#include "bench_fs.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <unistd.h>

#ifdef SL_BENCH_DATAPLANE
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "bench_lathist.h"
#endif

extern "C" {
#include <common/auth.h>
#include <common/crypto.h>
#include <common/filter.h>
#include <common/hdrs.h>
#include <common/proto.h>

#include "journal.h"
#ifdef SL_BENCH_DATAPLANE
#include "pkt.h"
#include "route.h"
#include "session.h"
#endif
/* libsluice's internals, for its partition choice (C11 asserts as C++'s;
 * its own NS_PER_S, which DPDK's rte_cycles.h defines too). */
#undef NS_PER_S
#define _Static_assert static_assert
#include <client/client_internal.h>
#undef _Static_assert
}

namespace {

/*
 * Walk the N entries of a table in an order the branch predictor and the
 * prefetcher cannot learn from the previous lookup alone: a stride coprime
 * with N visits every entry once per N steps.
 */
constexpr uint32_t kStride = 389;

/* PUBLISH frames of @plen payload bytes packed into one full datagram. */
std::vector<uint8_t>
publish_datagram(uint32_t plen, uint32_t *frames)
{
	std::vector<uint8_t> d(SL_MAX_DATAGRAM, 0);
	std::vector<uint8_t> payload(plen, 0x5a);
	size_t off = 0;
	int rc;

	*frames = 0;
	while ((rc = sl_proto_put_publish(d.data() + off, d.size() - off, 1, 7, 0, *frames + 1,
					  0, payload.data(), plen)) > 0) {
		off += sl_proto_align((uint32_t)rc);
		(*frames)++;
		if (off >= d.size())
			break;
	}
	d.resize(off < d.size() ? off : d.size());
	return d;
}

/* sl_proto_next over a datagram of PUBLISH frames: items are frames. */
void
BM_FrameParse(benchmark::State &st)
{
	uint32_t frames;
	std::vector<uint8_t> d = publish_datagram((uint32_t)st.range(0), &frames);
	uint64_t parsed = 0;

	for (auto _ : st) {
		size_t off = 0;
		sl_frame f;
		int rc;

		while ((rc = sl_proto_next(d.data(), d.size(), &off, &f)) > 0) {
			benchmark::DoNotOptimize(f.body);
			parsed++;
		}
		if (rc < 0) {
			st.SkipWithError("sl_proto_next refused a frame it built");
			break;
		}
	}
	if (parsed != (uint64_t)st.iterations() * frames)
		st.SkipWithError("parsed a different number of frames than were written");
	st.SetItemsProcessed((int64_t)parsed);
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)d.size());
	st.counters["frames_per_dgram"] = frames;
}
BENCHMARK(BM_FrameParse)->Arg(32)->Arg(64)->Arg(256)->Arg(1024);

/*
 * A header filter on the topic's owner, per message and filtered
 * subscription (protocol version 4): parse the message's header block
 * (key and 4 headers, as a typical tagged message), then test the filter,
 * as sl_worker_filter_pass does. Args: clauses (1 or 4), match (1) or not
 * (0: the last clause fails, so every clause before it is tested too).
 * Rows: ns per message (per filtered subscription).
 */
void
BM_FilterEval(benchmark::State &st)
{
	const unsigned clauses = (unsigned)st.range(0);
	const bool match = st.range(1) != 0;
	const struct sl_header h[4] = {
		{ "region", "eu-west", 7 }, { "prio", "high", 4 },
		{ "tenant", "acme-corp", 9 }, { "type", "order.new", 9 },
	};
	struct sl_filter_clause c[4] = {
		{ SL_FILTER_PRESENT, "prio", nullptr, 0 },
		{ SL_FILTER_EQ, "tenant", "acme-corp", 9 },
		{ SL_FILTER_KEY_EQ, nullptr, "order-12345", 11 },
		{ SL_FILTER_EQ, "region", "eu-west", 7 },
	};
	uint8_t blk[SL_MAX_HDRS_LEN], wire[SL_MAX_FILTER_LEN];
	struct sl_filter f;
	int hl = sl_hdrs_build(blk, sizeof(blk), "order-12345", 11, h, 4);

	if (clauses == 1)
		c[0] = c[3];
	if (!match)
		c[clauses - 1].value = clauses == 1 ? "us-east" : "eu-wesT";
	if (hl < 0 || sl_filter_parse(wire, (size_t)sl_filter_build(wire, sizeof(wire), c, clauses),
				      &f) < 0) {
		st.SkipWithError("filter set-up");
		return;
	}
	for (auto _ : st) {
		struct sl_hdrs_view v;
		int pass;

		benchmark::DoNotOptimize(blk);
		pass = sl_hdrs_parse(blk, (size_t)hl, &v) == 0 && sl_filter_match(&f, &v);
		benchmark::DoNotOptimize(pass);
		if (pass != (int)match) {
			st.SkipWithError("wrong verdict");
			break;
		}
	}
	st.counters["hdrs_len"] = hl;
}
BENCHMARK(BM_FilterEval)->ArgNames({ "clauses", "match" })
	->Args({ 1, 1 })->Args({ 1, 0 })->Args({ 4, 1 })->Args({ 4, 0 });

const uint8_t kSessionKey[SL_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/*
 * The worker's check of a sealed datagram of one PUBLISH (worker_auth.c):
 * the seal parsed, its tag verified (MAC only: the bytes stay as they are,
 * so each pass checks the same datagram), the replay window. Each pass gets
 * a fresh in-order sequence, as a live stream does; sealing is the sender's
 * cost and is left out.
 */
void
BM_FrameVerify(benchmark::State &st)
{
	uint32_t len = (uint32_t)st.range(0);
	uint32_t plen = len - (uint32_t)(sizeof(sl_publish) + SL_SEAL_OVERHEAD);
	std::vector<uint8_t> buf(len, 0), payload(plen, 0xa5);
	sl_replay_window w;
	uint64_t seq = 0;
	size_t off = 0;
	sl_frame f;

	if (sl_proto_put_publish(buf.data() + SL_SEAL_HDR_LEN, len - SL_SEAL_OVERHEAD, 1, 7, 0, 1,
				 0, payload.data(), plen) < 0) {
		st.SkipWithError("sl_proto_put_publish failed");
		return;
	}
	sl_seal(kSessionKey, SL_DIR_C2S, 1, 1, 0, buf.data(), len);
	if (sl_proto_next(buf.data(), len, &off, &f) != 1 || f.hdr->type != SL_FT_SEAL) {
		st.SkipWithError("the sealed datagram does not parse");
		return;
	}
	memset(&w, 0, sizeof(w));
	for (auto _ : st) {
		int bad = sl_seal_open(kSessionKey, SL_DIR_C2S, buf.data(), f.len) != 0;

		bad |= sl_replay_check(&w, ++seq) < 0;
		if (bad) {
			st.SkipWithError("verify failed");
			break;
		}
		benchmark::DoNotOptimize(bad);
		benchmark::ClobberMemory();
	}
	st.SetItemsProcessed((int64_t)st.iterations());
	st.SetBytesProcessed((int64_t)st.iterations() * len);
}
BENCHMARK(BM_FrameVerify)->Arg(104)->Arg(296)->Arg(1064);

/* --- partition choice on the publish path (libsluice) --- */

/*
 * What a publish pays to pick its partition (sl_cl_part_pick, called by
 * sl_client_publish, _publish_ex and _claim before anything else): range(0)
 * is the key length (0: no key, the publisher's sticky partition), range(1)
 * the case: 0 an ordinary topic in a client that holds no partitioned topic
 * (one predicted branch: what every existing publisher pays), 1 a
 * partitioned topic of 4 partitions, 2 an ordinary topic in a client that
 * also holds 8 partitioned topics (the lookup misses them all).
 */
void
BM_PartitionPick(benchmark::State &st)
{
	const uint16_t klen = (uint16_t)st.range(0);
	const int kase = (int)st.range(1);
	sl_client *c = (sl_client *)calloc(1, sizeof(sl_client));
	char keys[64][32];
	uint32_t topic = kase == 1 ? 1000 : 7, n = 0;

	if (c == nullptr) {
		st.SkipWithError("calloc");
		return;
	}
	for (unsigned t = 0; kase != 0 && t < (kase == 2 ? 8u : 1u); t++) {
		char name[32];

		c->pend.n_parts = 4;
		for (uint32_t i = 0; i < 4; i++)
			c->pend.parts[i] = 2000 + 4 * t + i;
		snprintf(name, sizeof(name), "bench.%u", t);
		if (sl_cl_parts_resolved(c, name, 1000 + t) < 0) {
			st.SkipWithError("sl_cl_parts_resolved failed");
			break;
		}
	}
	for (unsigned k = 0; k < 64; k++)
		for (unsigned b = 0; b < sizeof(keys[k]); b++)
			keys[k][b] = (char)('a' + (k * 7 + b) % 26);
	for (auto _ : st) {
		uint32_t p = sl_cl_part_pick(c, topic, klen ? keys[n & 63] : nullptr, klen);

		benchmark::DoNotOptimize(p);
		n++;
	}
	st.SetItemsProcessed((int64_t)st.iterations());
	st.counters["key_bytes"] = klen;
	sl_cl_recon_free(c);
	sl_cl_parts_free(c);
	free(c);
}
BENCHMARK(BM_PartitionPick)->ArgNames({ "key", "case" })
	->Args({ 0, 0 })->Args({ 16, 0 })
	->Args({ 0, 1 })->Args({ 8, 1 })->Args({ 16, 1 })->Args({ 32, 1 })
	->Args({ 16, 2 });

/* --- journal append --- */

enum SyncPolicy { SYNC_NONE, SYNC_PER_32 };

std::string
journal_base()
{
	const char *d = getenv("SLUICE_BENCH_DIR");

	return d && *d ? d : "/dev/shm";
}

/*
 * One 64-byte record per iteration, as a topic's owner appends a PUBLISH:
 *   none:   append only, no sl_journal_sync (the journal still persists a
 *           segment when it rolls to the next, once per ~140k records);
 *   sync32: append, and one sl_journal_sync per burst of 32 records, the
 *           dataplane's group commit.
 * Few segments with size retention keep the memory used in /dev/shm bounded.
 */
void
BM_JournalAppend(benchmark::State &st, SyncPolicy pol)
{
	const uint32_t len = (uint32_t)st.range(0);
	std::vector<uint8_t> payload(len, 0x5a);
	std::string dir = journal_base() + "/sluice-bench-hotpath-" + std::to_string(getpid());
	const char *force = getenv("PMEM_IS_PMEM_FORCE");
	sl_journal_conf conf;
	sl_journal *j = nullptr;
	uint64_t seq, n = 0;
	int rc;

	memset(&conf, 0, sizeof(conf));
	conf.segment_bytes = 16ull << 20;
	conf.capacity_bytes = 4 * conf.segment_bytes;
	conf.retain_bytes = 2 * conf.segment_bytes;
	conf.index_every = 4096;
	bench_rm_rf(dir);
	rc = sl_journal_open(&j, dir.c_str(), &conf, nullptr);
	if (rc < 0) {
		st.SkipWithError(("sl_journal_open " + dir + ": " + strerror(-rc) +
				  " (set SLUICE_BENCH_DIR)").c_str());
		return;
	}
	for (auto _ : st) {
		rc = sl_journal_append(j, payload.data(), len, n + 1, 1, n + 1, &seq);
		if (rc == 0 && ++n % 32 == 0 && pol == SYNC_PER_32)
			rc = sl_journal_sync(j);
		if (rc < 0) {
			st.SkipWithError(("append/sync: " + std::string(strerror(-rc))).c_str());
			break;
		}
	}
	st.SetItemsProcessed((int64_t)n);
	st.SetBytesProcessed((int64_t)n * len);
	st.SetLabel(std::string(pol == SYNC_NONE ? "no persist" : "persist per 32") +
		    ", PMEM_IS_PMEM_FORCE=" + (force ? force : "unset"));
	sl_journal_close(j);
	bench_rm_rf(dir);
}
BENCHMARK_CAPTURE(BM_JournalAppend, none, SYNC_NONE)->Arg(64);
BENCHMARK_CAPTURE(BM_JournalAppend, sync32, SYNC_PER_32)->Arg(64);

#ifdef SL_BENCH_DATAPLANE

/* --- packet headers --- */

const uint8_t kMacA[6] = {0x02, 0, 0, 0, 0, 0x0a};
const uint8_t kMacB[6] = {0x02, 0, 0, 0, 0, 0x0b};
const uint32_t kMyIp = htonl(0x0a000001); /* 10.0.0.1 */
const uint32_t kPeerIp = htonl(0x0a000002);
const uint16_t kMyPort = htons(SL_PROTO_DEFAULT_PORT);

/* sl_pkt_parse of an Ethernet/IPv4/UDP frame with @range(0) payload bytes. */
void
BM_PktParse(benchmark::State &st)
{
	uint16_t plen = (uint16_t)st.range(0);
	std::vector<uint8_t> p(SL_PKT_HDR_LEN + plen, 0x5a);
	sl_pkt_info info;

	sl_pkt_build_udp(p.data(), kMacB, kMacA, kPeerIp, kMyIp, htons(40000),
			 kMyPort, plen);
	for (auto _ : st) {
		int kind = sl_pkt_parse(p.data(), (uint32_t)p.size(), kMyIp, kMyPort, &info);

		if (kind != SL_PKT_UDP) {
			st.SkipWithError("sl_pkt_parse did not accept the datagram");
			break;
		}
		benchmark::DoNotOptimize(info);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)p.size());
}
/* Only the headers are read: the size is there to show that it does not matter. */
BENCHMARK(BM_PktParse)->Arg(64)->Arg(1024);

/* --- routing and sessions --- */

constexpr uint32_t kTopics = 1000;

/* A routing table of 1024 ids (2048 name slots) holding kTopics topics. */
struct RouteFixture {
	sl_route r;
	std::vector<std::string> names;
	std::vector<uint32_t> ids;
	int rc;

	RouteFixture()
	{
		char name[64];
		uint32_t id = 0;

		rc = sl_route_init(&r, 1024, 4, 1);
		for (uint32_t i = 0; rc == 0 && i < kTopics; i++) {
			snprintf(name, sizeof(name), "orders.eu-west-1.shard-%04u", i);
			rc = sl_route_topic_create(&r, name, (uint32_t)strlen(name), &id);
			rc = rc == 1 ? 0 : rc < 0 ? rc : -EEXIST;
			names.emplace_back(name);
			ids.push_back(id);
		}
	}
	~RouteFixture() { sl_route_fini(&r); }
};

/* Topic id by name (RESOLVE and pattern subscriptions), hits only. */
void
BM_RouteLookupName(benchmark::State &st)
{
	RouteFixture fx;
	uint32_t i = 0;

	if (fx.rc < 0) {
		st.SkipWithError(("route table: " + std::string(strerror(-fx.rc))).c_str());
		return;
	}
	for (auto _ : st) {
		const std::string &n = fx.names[i];
		uint32_t id = sl_route_topic_lookup(&fx.r, n.data(), (uint32_t)n.size());

		if (id != fx.ids[i]) {
			st.SkipWithError("lookup returned the wrong topic");
			break;
		}
		i = (i + kStride) % kTopics;
	}
	st.SetItemsProcessed((int64_t)st.iterations());
	st.counters["topics"] = kTopics;
}
BENCHMARK(BM_RouteLookupName);

/* Topic by id: what every PUBLISH costs before the handoff to its owner. */
void
BM_RouteTopicGet(benchmark::State &st)
{
	RouteFixture fx;
	uint32_t i = 0;

	if (fx.rc < 0) {
		st.SkipWithError(("route table: " + std::string(strerror(-fx.rc))).c_str());
		return;
	}
	for (auto _ : st) {
		const sl_topic *t = sl_route_topic_get(&fx.r, fx.ids[i]);

		if (t == nullptr) {
			st.SkipWithError("topic_get missed a live topic");
			break;
		}
		benchmark::DoNotOptimize(t->owner);
		i = (i + kStride) % kTopics;
	}
	st.SetItemsProcessed((int64_t)st.iterations());
	st.counters["topics"] = kTopics;
}
BENCHMARK(BM_RouteTopicGet);

/* sl_session_get (id + peer address check), the first step for each frame. */
void
BM_SessionGet(benchmark::State &st)
{
	constexpr uint32_t kSessions = 1000;
	sl_session_table t;
	std::vector<uint32_t> id(kSessions), ip(kSessions);
	std::vector<uint16_t> port(kSessions);
	uint32_t i = 0;
	int rc;

	rc = sl_session_table_init(&t, 4096, 0, nullptr);
	for (uint32_t k = 0; rc == 0 && k < kSessions; k++) {
		sl_session *s;

		ip[k] = htonl(0x0a010000 + k / 64); /* 64 peers per address */
		port[k] = htons((uint16_t)(30000 + k));
		rc = sl_session_open(&t, ip[k], port[k], &s);
		if (rc == 0)
			id[k] = s->id;
	}
	if (rc < 0) {
		st.SkipWithError(("session table: " + std::string(strerror(-rc))).c_str());
		sl_session_table_fini(&t);
		return;
	}
	for (auto _ : st) {
		sl_session *s = sl_session_get(&t, id[i], ip[i], port[i]);

		if (s == nullptr) {
			st.SkipWithError("session_get missed a live session");
			break;
		}
		benchmark::DoNotOptimize(s->auth);
		i = (i + kStride) % kSessions;
	}
	st.SetItemsProcessed((int64_t)st.iterations());
	st.counters["sessions"] = kSessions;
	sl_session_table_fini(&t);
}
BENCHMARK(BM_SessionGet);

/* --- handoff ring --- */

/*
 * The layout of struct sl_handoff (dataplane.h, which C++ cannot include:
 * it uses _Static_assert and pulls in rte_mbuf). Only the size matters to
 * the ring; dataplane.h asserts it is 24.
 */
struct Handoff {
	void *m;
	uint32_t session;
	uint16_t off, len;
	uint32_t topic;
	uint8_t kind, src_worker;
	uint16_t code;
};
static_assert(sizeof(Handoff) == 24, "struct sl_handoff is 24 bytes");

constexpr unsigned kRingSize = 4096; /* the dataplane's default ring_size */
constexpr unsigned kBurst = 32;

/*
 * rte_ring_init needs no EAL: it only fills the header, and an element ring
 * is a plain ring whose memory is sized for its elements. The memory must
 * be cache-line aligned, as rte_ring_create_elem's memzone is.
 */
rte_ring *
ring_new(unsigned flags)
{
	ssize_t sz = rte_ring_get_memsize_elem(sizeof(Handoff), kRingSize);
	rte_ring *r;

	if (sz < 0)
		return nullptr;
	r = static_cast<rte_ring *>(
		aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL((size_t)sz, RTE_CACHE_LINE_SIZE)));
	if (r != nullptr && rte_ring_init(r, "bench_hotpath", kRingSize, flags) != 0) {
		free(r);
		r = nullptr;
	}
	return r;
}

/*
 * A burst of 32 handoffs enqueued, then dequeued, in one thread: the ring's
 * own cost per element with warm caches and no contention. sp_sc is the
 * cheapest sync mode; mp_sc is what the workers' input rings use (any
 * worker may enqueue), and pays a CAS on the producer head.
 */
void
BM_RingHandoff(benchmark::State &st, unsigned flags)
{
	rte_ring *r = ring_new(flags);
	Handoff in[kBurst], out[kBurst];
	uint64_t moved = 0;

	if (r == nullptr) {
		st.SkipWithError("rte_ring_init failed");
		return;
	}
	memset(in, 0, sizeof(in));
	for (unsigned k = 0; k < kBurst; k++)
		in[k].topic = k;
	for (auto _ : st) {
		unsigned e = rte_ring_enqueue_burst_elem(r, in, sizeof(Handoff), kBurst, nullptr);
		unsigned d = rte_ring_dequeue_burst_elem(r, out, sizeof(Handoff), kBurst, nullptr);

		if (e != kBurst || d != kBurst) {
			st.SkipWithError("ring burst moved fewer than 32 elements");
			break;
		}
		benchmark::DoNotOptimize(out);
		moved += d;
	}
	st.SetItemsProcessed((int64_t)moved);
	st.SetBytesProcessed((int64_t)(moved * sizeof(Handoff)));
	st.counters["burst"] = kBurst;
	free(r);
}
BENCHMARK_CAPTURE(BM_RingHandoff, sp_sc, RING_F_SP_ENQ | RING_F_SC_DEQ);
BENCHMARK_CAPTURE(BM_RingHandoff, mp_sc, RING_F_SC_DEQ);

/*
 * The latency histograms, per message: the bare record (index from the
 * leading zero count, one bucket and the sum, plain stores: one writer);
 * what a worker iteration adds for a burst of 32 deliveries (the tally per
 * delivery, the next poll's flush) over 1 or 8 topics; and for 32 appends
 * to a durable topic and their sync. "off" runs the same hooks with no
 * histograms configured (hist_topics = 0): the difference is the cost.
 */
void
BM_LatHistRecord(benchmark::State &st)
{
	uint64_t ns[1024];

	if (sl_bench_lh_setup(1, 1) < 0) {
		st.SkipWithError("histogram set-up failed");
		return;
	}
	for (unsigned i = 0; i < 1024; i++)
		ns[i] = 200 + (((uint64_t)i * 2654435761u) % 50000); /* 200 ns .. 50 us */
	for (auto _ : st)
		sl_bench_lh_record(ns, 1024);
	st.SetItemsProcessed(st.iterations() * 1024);
	sl_bench_lh_teardown();
}
BENCHMARK(BM_LatHistRecord);

void
BM_LatHistDeliver(benchmark::State &st)
{
	const unsigned burst = 32, topics = (unsigned)st.range(1);

	if (sl_bench_lh_setup(8, (int)st.range(0)) < 0) {
		st.SkipWithError("histogram set-up failed");
		return;
	}
	for (auto _ : st)
		sl_bench_lh_deliver_iter(burst, topics);
	st.SetItemsProcessed(st.iterations() * burst);
	sl_bench_lh_teardown();
}
BENCHMARK(BM_LatHistDeliver)->ArgNames({ "on", "topics" })->Args({ 0, 1 })->Args({ 1, 1 })
	->Args({ 1, 8 });

void
BM_LatHistPersist(benchmark::State &st)
{
	const unsigned burst = 32;

	if (sl_bench_lh_setup(1, (int)st.range(0)) < 0) {
		st.SkipWithError("histogram set-up failed");
		return;
	}
	for (auto _ : st)
		sl_bench_lh_persist_iter(burst);
	st.SetItemsProcessed(st.iterations() * burst);
	sl_bench_lh_teardown();
}
BENCHMARK(BM_LatHistPersist)->ArgNames({ "on" })->Arg(0)->Arg(1);

#endif /* SL_BENCH_DATAPLANE */

} /* namespace */

int
main(int argc, char **argv)
{
	const char *force = getenv("PMEM_IS_PMEM_FORCE");

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 2;
	benchmark::AddCustomContext("journal_dir", journal_base());
	benchmark::AddCustomContext("pmem_is_pmem_force", force ? force : "unset");
#ifdef SL_BENCH_DATAPLANE
	benchmark::AddCustomContext("dataplane_benchmarks", "built");
#else
	benchmark::AddCustomContext("dataplane_benchmarks",
				    "skipped: built without libdpdk (pkt, route, session, ring)");
#endif
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
