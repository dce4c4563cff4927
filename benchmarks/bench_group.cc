/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer-group engine micro-benchmarks: offer and ack per message, by policy, against a hash-table floor. */

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "group.h"

namespace {

/* A group of @members push members of @credit each, in memory of its own. */
struct Group {
	sl_group *g = nullptr;
	void *mem = nullptr;

	Group(uint32_t policy, uint32_t members, uint32_t credit, uint64_t ack_wait_ns)
	{
		sl_group_cfg c;

		memset(&c, 0, sizeof(c));
		c.policy = policy;
		c.max_members = members;
		c.max_inflight = members * credit;
		c.max_blocked = policy == SL_GROUP_KEY_AFFINITY ? 4096 : 0;
		c.max_credit = credit;
		c.max_deliveries = 5;
		c.ack_wait_ns = ack_wait_ns;
		size_t len = sl_group_mem_size(&c);
		if (len == 0 || posix_memalign(&mem, 64, len) != 0 ||
		    sl_group_init(&g, &c, mem, len) != 0)
			abort();
		for (uint32_t i = 0; i < members; i++)
			if (sl_group_join(g, i + 1, i, credit, 0, 0, nullptr, nullptr) != 0)
				abort();
	}
	~Group() { free(mem); }
};

uint64_t
key_of(uint64_t seq, uint64_t keys)
{
	/* a spread of keys, never 0 (no key) */
	return keys ? (seq * 0x9e3779b97f4a7c15ull) % keys + 1 : 0;
}

/*
 * One message through a group of 3: sl_group_offer, then the member's
 * sl_group_ack of it (the steady state of a consumer that keeps up).
 * Arguments: policy, number of keys (key affinity; 0: no key), ack-wait on.
 * The time per iteration is the engine's cost per message (offer + ack).
 */
void
BM_GroupOfferAck(benchmark::State &st)
{
	uint32_t policy = (uint32_t)st.range(0);
	uint64_t keys = (uint64_t)st.range(1);
	Group grp(policy, 3, 64, st.range(2) ? 30000000000ull : 0);
	sl_group_out o;
	uint64_t seq = 1, now = 1;

	for (auto _ : st) {
		int rc = sl_group_offer(grp.g, seq, key_of(seq, keys), now, &o);

		if (rc != 1)
			abort(); /* nothing is in flight: always sent */
		if (sl_group_ack(grp.g, o.slot, seq, now) != 0)
			abort();
		seq++;
		now += 100;
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_GroupOfferAck)
	->ArgNames({ "policy", "keys", "ackwait" })
	->Args({ SL_GROUP_ROUND_ROBIN, 0, 0 })
	->Args({ SL_GROUP_ROUND_ROBIN, 0, 1 })
	->Args({ SL_GROUP_LEAST_OUTSTANDING, 0, 0 })
	->Args({ SL_GROUP_KEY_AFFINITY, 10000, 0 })
	->Args({ SL_GROUP_KEY_AFFINITY, 10000, 1 });

/*
 * Bursts: 32 offers, then each member acks what it got, the newest first
 * (members 64 deep, so 32 in flight per burst stay within credit).
 * Items: messages; time per item is the cost per message with a real
 * in-flight table (32 unsettled at the peak, ack in a different order).
 */
void
BM_GroupBurst(benchmark::State &st)
{
	uint32_t policy = (uint32_t)st.range(0);
	uint64_t keys = (uint64_t)st.range(1);
	Group grp(policy, 3, 64, 30000000000ull);
	sl_group_out o[32];
	uint64_t seq = 1, now = 1;

	for (auto _ : st) {
		unsigned n = 0;

		for (unsigned i = 0; i < 32; i++) {
			int rc = sl_group_offer(grp.g, seq, key_of(seq, keys), now, &o[n]);

			if (rc == 1)
				n++;
			else if (rc != 0)
				abort();
			seq++;
		}
		for (unsigned i = n; i-- > 0;)
			if (sl_group_ack(grp.g, o[i].slot, o[i].seq, now) != 0)
				abort();
		/* held-back messages of a busy key go now */
		sl_group_out more[64];
		unsigned m;
		while ((m = sl_group_poll(grp.g, now, more, 64)) != 0)
			for (unsigned i = 0; i < m; i++)
				if (sl_group_ack(grp.g, more[i].slot, more[i].seq, now) != 0)
					abort();
		now += 3200;
	}
	st.SetItemsProcessed((int64_t)st.iterations() * 32);
}
BENCHMARK(BM_GroupBurst)
	->ArgNames({ "policy", "keys" })
	->Args({ SL_GROUP_ROUND_ROBIN, 0 })
	->Args({ SL_GROUP_LEAST_OUTSTANDING, 0 })
	->Args({ SL_GROUP_KEY_AFFINITY, 10000 })
	->Args({ SL_GROUP_KEY_AFFINITY, 16 });

/* A poll with nothing due: what the owner worker pays each iteration. */
void
BM_GroupPollIdle(benchmark::State &st)
{
	Group grp(SL_GROUP_ROUND_ROBIN, 3, 64, 30000000000ull);
	sl_group_out o[32];
	uint64_t now = 1;

	for (auto _ : st) {
		benchmark::DoNotOptimize(sl_group_poll(grp.g, now, o, 32));
		now += 100;
	}
}
BENCHMARK(BM_GroupPollIdle);

/*
 * A member joins and leaves a key-affinity group of @members - 1 others:
 * each recomputes the 1,024 key buckets' preferred members (highest random
 * weight), the cost a membership change puts on the owner worker.
 */
void
BM_GroupJoinLeave(benchmark::State &st)
{
	uint32_t members = (uint32_t)st.range(0);
	Group grp(SL_GROUP_KEY_AFFINITY, members, 4, 0);
	uint32_t slot;

	if (sl_group_leave(grp.g, members - 1, 0) != 0)
		abort();
	for (auto _ : st) {
		if (sl_group_join(grp.g, 999, 1, 4, 0, 0, &slot, nullptr) != 0 ||
		    sl_group_leave(grp.g, slot, 0) != 0)
			abort();
	}
	st.SetItemsProcessed((int64_t)st.iterations() * 2);
}
BENCHMARK(BM_GroupJoinLeave)->ArgName("members")->Arg(3)->Arg(64);

/*
 * The floor: the same work a minimal table must do per message, an
 * insert and an erase in an open-addressed seq -> slot array of the same
 * size (no members, no policy, no timers).
 */
void
BM_FloorSeqTable(benchmark::State &st)
{
	std::vector<uint64_t> tab(512, 0);
	uint64_t seq = 1;
	const uint64_t mask = tab.size() - 1;

	for (auto _ : st) {
		uint64_t i = (seq * 0x9e3779b97f4a7c15ull >> 32) & mask;

		while (tab[i] != 0)
			i = (i + 1) & mask;
		tab[i] = seq;
		benchmark::ClobberMemory();
		i = (seq * 0x9e3779b97f4a7c15ull >> 32) & mask;
		while (tab[i] != seq)
			i = (i + 1) & mask;
		tab[i] = 0;
		seq++;
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_FloorSeqTable);

} /* namespace */

BENCHMARK_MAIN();
