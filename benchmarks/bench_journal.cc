/* SPDX-License-Identifier: BSD-3-Clause */
/* Journal micro-benchmarks against the machine's floors: memcpy bandwidth and CRC32C. */

#include <benchmark/benchmark.h>

#include "bench_fs.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

extern "C" {
#include "journal.h"
}

namespace {

enum Policy { POL_NONE, POL_ASYNC, POL_SYNC1, POL_SYNC32, POL_REPLICA };

constexpr uint64_t kSegBytes = 16ull << 20;
constexpr uint64_t kRecoveryBytes = 64ull << 20;

std::string
bench_dir()
{
	const char *d = getenv("SLUICE_BENCH_DIR");

	return d && *d ? d : "/var/tmp/sluice-bench";
}

sl_journal_conf
bench_conf()
{
	sl_journal_conf c;

	memset(&c, 0, sizeof(c));
	c.segment_bytes = kSegBytes;
	c.capacity_bytes = 16 * kSegBytes; /* bounded disk use: retention frees the oldest */
	c.retain_bytes = 8 * kSegBytes;
	c.index_every = 4096;
	return c;
}

/* The bandwidth floor: one copy of @size bytes per iteration. */
void
BM_Memcpy(benchmark::State &st)
{
	size_t n = (size_t)st.range(0);
	std::vector<char> src(n, 'x'), dst(n);

	for (auto _ : st) {
		memcpy(dst.data(), src.data(), n);
		benchmark::DoNotOptimize(dst.data());
		benchmark::ClobberMemory();
	}
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)n);
}
BENCHMARK(BM_Memcpy)->RangeMultiplier(4)->Range(4 << 10, 1 << 20);

void
BM_Crc32c(benchmark::State &st)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> buf(n, 0xa5);
	uint32_t crc = 0;

	for (auto _ : st) {
		crc = sl_crc32c(crc, buf.data(), n);
		benchmark::DoNotOptimize(crc);
	}
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)n);
}
BENCHMARK(BM_Crc32c)->RangeMultiplier(4)->Range(64, 64 << 10);

/*
 * Append records of range(0) bytes under a durability policy:
 *   none:   no journal, the payload is copied into a ring buffer (the floor);
 *   async:  append, sync every 64 records;
 *   sync1:  append + sync per record (burst of 1);
 *   sync32: 32 appends + one sync (burst of 32);
 *   replica: as async, through sl_journal_append_replica (a standby copying
 *            a primary's records, leader epoch 3).
 */
void
BM_JournalAppend(benchmark::State &st, Policy pol)
{
	uint32_t len = (uint32_t)st.range(0);
	std::vector<uint8_t> payload(len, 0x5a);
	std::string dir = bench_dir() + "/append-" + std::to_string(getpid());
	sl_journal_conf conf = bench_conf();
	sl_journal *j = nullptr;
	uint64_t seq = 0, ts = 1, n = 0;
	int burst = pol == POL_SYNC32 ? 32 : 1;

	if (pol == POL_NONE) {
		std::vector<uint8_t> ring(kSegBytes);
		size_t off = 0;

		for (auto _ : st) {
			if (off + len > ring.size())
				off = 0;
			memcpy(ring.data() + off, payload.data(), len);
			off += (len + 7) & ~7u;
			benchmark::ClobberMemory();
		}
		st.SetItemsProcessed((int64_t)st.iterations());
		st.SetBytesProcessed((int64_t)st.iterations() * len);
		return;
	}
	bench_rm_rf(dir);
	int rc = sl_journal_open(&j, dir.c_str(), &conf, nullptr);
	if (rc < 0) {
		st.SkipWithError(("sl_journal_open: " + std::string(strerror(-rc))).c_str());
		return;
	}
	for (auto _ : st) {
		for (int i = 0; i < burst; i++) {
			if (pol == POL_REPLICA) {
				sl_jrec_meta m = { n + 1, ts++, 1, n, 0, 3, 0 };

				rc = sl_journal_append_replica(j, &m, payload.data(), len);
			} else {
				rc = sl_journal_append(j, payload.data(), len, ts++, 1, n, &seq);
			}
			if (rc < 0)
				break;
			n++;
		}
		if (rc == 0 && ((pol != POL_ASYNC && pol != POL_REPLICA) || n % 64 == 0))
			rc = sl_journal_sync(j);
		if (rc < 0) {
			st.SkipWithError(("append/sync: " + std::string(strerror(-rc))).c_str());
			break;
		}
	}
	st.SetItemsProcessed((int64_t)n);
	st.SetBytesProcessed((int64_t)n * len);
	st.SetLabel(pol == POL_ASYNC || pol == POL_REPLICA ? "sync every 64" : pol == POL_SYNC1 ? "sync per record"
									 : "sync per 32");
	sl_journal_close(j);
	bench_rm_rf(dir);
}
BENCHMARK_CAPTURE(BM_JournalAppend, none, POL_NONE)->Arg(32)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK_CAPTURE(BM_JournalAppend, async, POL_ASYNC)->Arg(32)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK_CAPTURE(BM_JournalAppend, sync1, POL_SYNC1)->Arg(32)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK_CAPTURE(BM_JournalAppend, sync32, POL_SYNC32)->Arg(32)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK_CAPTURE(BM_JournalAppend, replica, POL_REPLICA)->Arg(32)->Arg(256)->Arg(1024)->Arg(4096);

/*
 * Append records of range(0) bytes, 32 to a sync, with retention keeping two
 * segments of 4 MiB: every segment is retired soon after it fills. "fresh":
 * each roll creates, allocates and maps a new file and each retired one is
 * unlinked (conf.recycle -1); "recycled": a roll takes a retired segment,
 * its pages already allocated and mapped (conf.recycle 4). No preparing
 * thread: this thread pays for all of it, as the machine does, whichever
 * core it lands on. The journal is cycled through its segments before the
 * timing starts, so "recycled" is measured in its steady state.
 */
void
BM_JournalSegments(benchmark::State &st, int recycle)
{
	constexpr uint64_t seg = 4ull << 20;
	uint32_t len = (uint32_t)st.range(0);
	std::vector<uint8_t> payload(len, 0x5a);
	std::string dir = bench_dir() + "/segments-" + std::to_string(getpid());
	sl_journal_conf conf = bench_conf();
	sl_journal *j = nullptr;
	uint64_t seq = 0, ts = 1, n = 0, warm;
	int rc;

	conf.segment_bytes = seg;
	conf.capacity_bytes = 0;
	conf.retain_bytes = 2 * seg;
	conf.recycle = recycle;
	bench_rm_rf(dir);
	rc = sl_journal_open(&j, dir.c_str(), &conf, nullptr);
	if (rc < 0) {
		st.SkipWithError(("sl_journal_open: " + std::string(strerror(-rc))).c_str());
		return;
	}
	/* Append @count records, a sync every 32 and a retention pass after. */
	auto run = [&](uint64_t count) {
		for (uint64_t i = 0; i < count && rc == 0; i++) {
			rc = sl_journal_append(j, payload.data(), len, ts++, 1, n, &seq);
			n++;
			if (rc == 0 && n % 32 == 0) {
				rc = sl_journal_sync(j);
				if (rc == 0)
					rc = sl_journal_retain(j, ts) < 0 ? -EIO : 0;
			}
		}
	};
	warm = 6 * seg / (sizeof(sl_jrec) + len);
	run(warm);
	uint64_t reused0 = sl_journal_recycled(j);
	for (auto _ : st) {
		run(32);
		if (rc < 0) {
			st.SkipWithError(("append/sync: " + std::string(strerror(-rc))).c_str());
			break;
		}
	}
	st.SetItemsProcessed((int64_t)(n - warm));
	st.SetBytesProcessed((int64_t)(n - warm) * len);
	st.counters["rolls_recycled"] = (double)(sl_journal_recycled(j) - reused0);
	st.SetLabel(recycle < 0 ? "fresh segments, sync per 32" : "recycled segments, sync per 32");
	sl_journal_close(j);
	bench_rm_rf(dir);
}
BENCHMARK_CAPTURE(BM_JournalSegments, fresh, -1)->Arg(256)->Arg(1024);
BENCHMARK_CAPTURE(BM_JournalSegments, recycled, 4)->Arg(256)->Arg(1024);

/* Build a ~64 MiB journal of 1 KiB records once; returns the bytes it holds. */
uint64_t
recovery_journal(const std::string &dir)
{
	static uint64_t built;
	sl_journal_conf conf = bench_conf();
	std::vector<uint8_t> payload(1024, 0x3c);
	sl_journal *j = nullptr;
	uint64_t seq, bytes = 0;

	if (built)
		return built;
	conf.capacity_bytes = conf.retain_bytes = 0;
	bench_rm_rf(dir);
	if (sl_journal_open(&j, dir.c_str(), &conf, nullptr) < 0)
		return 0;
	for (uint64_t i = 1; bytes < kRecoveryBytes; i++) {
		if (sl_journal_append(j, payload.data(), 1024, i, 1, i, &seq) < 0)
			break;
		bytes += sizeof(sl_jrec) + 1024;
		if (i % 1024 == 0)
			sl_journal_sync(j);
	}
	sl_journal_close(j);
	built = bytes;
	return bytes;
}

/* Open (full recovery scan with CRC checks) of the ~64 MiB journal. */
void
BM_RecoveryScan(benchmark::State &st)
{
	std::string dir = bench_dir() + "/recovery-" + std::to_string(getpid());
	sl_journal_conf conf = bench_conf();
	sl_journal_recovery rec;
	uint64_t bytes = recovery_journal(dir);

	if (bytes == 0) {
		st.SkipWithError("could not build the recovery journal");
		return;
	}
	for (auto _ : st) {
		sl_journal *j = nullptr;
		int rc = sl_journal_open(&j, dir.c_str(), &conf, &rec);

		if (rc < 0 || rec.corrupt || rec.truncated_bytes) {
			st.SkipWithError(rc < 0 ? strerror(-rc) : rec.message);
			break;
		}
		sl_journal_close(j);
	}
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)bytes);
	st.counters["records"] = (double)(rec.last_seq - rec.first_seq + 1);
}
BENCHMARK(BM_RecoveryScan)->Unit(benchmark::kMillisecond);

} /* namespace */

int
main(int argc, char **argv)
{
	std::string dir = bench_dir();

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 2;
	if (mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bench-journal: cannot create %s: %s (set SLUICE_BENCH_DIR)\n",
			dir.c_str(), strerror(errno));
		return 1;
	}
	benchmark::AddCustomContext("journal_dir", dir);
	benchmark::AddCustomContext("pmem_is_pmem_force",
				    getenv("PMEM_IS_PMEM_FORCE") ? getenv("PMEM_IS_PMEM_FORCE") : "0");
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	bench_rm_rf(dir + "/recovery-" + std::to_string(getpid()));
	return 0;
}
