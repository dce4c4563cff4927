/* SPDX-License-Identifier: BSD-3-Clause */
/* Authentication micro-benchmarks: per-frame MAC verify and replay check against memcpy. */

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include <common/auth.h>
#include <common/proto.h>
}

namespace {

const uint8_t kSessionKey[SL_AUTH_SESSION_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

/*
 * A sealed frame of @len bytes, trailer included (a multiple of 8): a PUBLISH
 * when one fits, else a GOODBYE (header and trailer only, 32 bytes).
 */
std::vector<uint8_t>
sealed_frame(uint32_t len)
{
	std::vector<uint8_t> f(len, 0xa5);
	uint32_t room = len - (uint32_t)sizeof(sl_auth_trailer);

	if (room >= sizeof(sl_publish)) {
		auto *p = reinterpret_cast<sl_publish *>(f.data());

		sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, len, 1);
		p->topic_id = 1;
		p->payload_len = room - (uint32_t)sizeof(sl_publish);
		p->producer_seq = 1;
		p->timestamp = 0;
	} else {
		sl_proto_hdr_init(reinterpret_cast<sl_hdr *>(f.data()), SL_FT_GOODBYE, 0, len, 1);
	}
	sl_auth_seal(kSessionKey, f.data(), len, 1);
	return f;
}

/*
 * What the dataplane does per authenticated frame once it is parsed: MAC
 * over len - 8 bytes, constant-time compare with the trailer, replay check.
 * The replay check gets a fresh in-order sequence each time (the frame is
 * not resealed: that would be the sender's cost).
 */
void
BM_FrameVerify(benchmark::State &st)
{
	uint32_t len = (uint32_t)st.range(0);
	std::vector<uint8_t> f = sealed_frame(len);
	sl_replay_window w;
	uint64_t seq = 0;

	memset(&w, 0, sizeof(w));
	for (auto _ : st) {
		uint64_t mac = sl_auth_frame_mac(kSessionKey, f.data(), len);
		int bad = sl_auth_memcmp(&mac, f.data() + len - 8, 8);

		bad |= sl_replay_check(&w, ++seq);
		if (bad)
			st.SkipWithError("verify failed");
		benchmark::DoNotOptimize(bad);
		benchmark::ClobberMemory();
	}
	st.SetBytesProcessed((int64_t)st.iterations() * len);
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_FrameVerify)->RangeMultiplier(2)->Range(32, 1024);

/* SipHash-2-4 alone over the same byte counts. */
void
BM_SipHash(benchmark::State &st)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> buf(n, 0x5a);

	for (auto _ : st) {
		uint64_t h = sl_siphash24(kSessionKey, buf.data(), n);

		benchmark::DoNotOptimize(h);
		benchmark::ClobberMemory();
	}
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)n);
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_SipHash)->RangeMultiplier(2)->Range(32, 1024);

/* The floor: copying the frame once. */
void
BM_Memcpy(benchmark::State &st)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> src(n, 'x'), dst(n);

	for (auto _ : st) {
		memcpy(dst.data(), src.data(), n);
		benchmark::DoNotOptimize(dst.data());
		benchmark::ClobberMemory();
	}
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)n);
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_Memcpy)->RangeMultiplier(2)->Range(32, 1024);

/* Replay window, sequences in order (the common case). */
void
BM_ReplayInOrder(benchmark::State &st)
{
	sl_replay_window w;
	uint64_t seq = 0;

	memset(&w, 0, sizeof(w));
	for (auto _ : st) {
		int rc = sl_replay_check(&w, ++seq);

		benchmark::DoNotOptimize(rc);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_ReplayInOrder);

/* SHA-256 throughput: the primitive under the session set-up. */
void
BM_Sha256(benchmark::State &st)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> buf(n, 0x5a);
	uint8_t d[32];

	for (auto _ : st) {
		sl_sha256(buf.data(), n, d);
		benchmark::DoNotOptimize(d);
	}
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)n);
}
BENCHMARK(BM_Sha256)->Arg(64)->Arg(4096);

/* Session set-up: the AUTH proof and the session key (both sides do both). */
void
BM_AuthProof(benchmark::State &st)
{
	uint8_t key[SL_AUTH_KEY_LEN], sn[SL_AUTH_NONCE_LEN], cn[SL_AUTH_NONCE_LEN];
	uint8_t proof[32], sk[SL_AUTH_SESSION_KEY_LEN];
	char user[SL_AUTH_USER_LEN] = "bench-user";
	uint64_t nonce = 0;

	memset(key, 0x11, sizeof(key));
	memset(sn, 0x22, sizeof(sn));
	memset(cn, 0x33, sizeof(cn));
	for (auto _ : st) {
		sl_auth_proof(key, ++nonce, sn, cn, user, proof);
		sl_auth_session_key(key, sn, cn, sk);
		benchmark::DoNotOptimize(proof);
		benchmark::DoNotOptimize(sk);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_AuthProof);

} // namespace

BENCHMARK_MAIN();
