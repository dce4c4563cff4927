/* SPDX-License-Identifier: BSD-3-Clause */
/* Cryptography micro-benchmarks: datagram seal and open by AEAD candidate, handshake costs. */

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include <sodium.h>

#ifdef SL_HAVE_IPSEC_MB
#include <intel-ipsec-mb.h>
#endif

extern "C" {
#include <common/auth.h>
#include <common/crypto.h>
#include <common/proto.h>
}

/*
 * Rows, each at 32, 256 and 1024 bytes of frames carried (the datagram is
 * 40 bytes longer: seal header and tag):
 *   Seal/Open ChaCha20-Poly1305 (libsodium)   the protocol's AEAD, what the
 *                                             broker runs (sl_seal, sl_seal_open)
 *   AES-256-GCM (libsodium)                   the alternative, AES-NI
 *   AES-256-GCM (intel-ipsec-mb)              the AES-NI/VAES multi-buffer library
 *                                             DPDK's software crypto PMDs use
 * each MAC only (the bytes as associated data) and encrypted; then the
 * handshake's costs (cookie, proof, keys) and the session id permutation.
 */

namespace {

const uint8_t kKey[32] = {
	0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
};

void
sizes(benchmark::internal::Benchmark *b)
{
	b->Arg(32)->Arg(256)->Arg(1024);
}

void
done(benchmark::State &st, size_t n)
{
	st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)n);
	st.SetItemsProcessed((int64_t)st.iterations());
}

/* A datagram carrying @n bytes of frames, ready for sl_seal. */
std::vector<uint8_t>
datagram(size_t n)
{
	std::vector<uint8_t> d(n + SL_SEAL_OVERHEAD, 0xa5);

	return d;
}

/*
 * The worker path: sl_seal_k / sl_seal_open_k with a session's precomputed
 * key, exactly as the broker's transmit seam and receive check call them
 * (and libsluice), per suite and AES library: BM_Seal_ChaCha and
 * BM_Open_ChaCha (the protocol's first suite), "AesIpsecMb" intel-ipsec-mb,
 * "AesSodium" libsodium. Open includes the
 * replay window; an encrypted datagram is restored from a copy each pass.
 */
const char *
impl_of(int which)
{
	return which == 1 ? "intel-ipsec-mb" : which == 2 ? "libsodium" : nullptr;
}

bool
key_for(benchmark::State &st, int which, sl_seal_key *k)
{
	int rc = which == 0 ? sl_seal_key_init(k, SL_SUITE_CHACHA20_POLY1305, kKey)
			    : sl_seal_key_init_impl(k, SL_SUITE_AES256_GCM, kKey, impl_of(which));

	if (rc != 0)
		st.SkipWithError("suite or library not usable here");
	return rc == 0;
}

void
BM_SealK(benchmark::State &st, int which, int enc)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> d = datagram(n);
	static sl_seal_key k;
	uint64_t seq = 0;

	if (!key_for(st, which, &k))
		return;
	for (auto _ : st) {
		sl_seal_k(&k, SL_DIR_S2C, ++seq, 1, enc, d.data(), (uint32_t)d.size());
		benchmark::ClobberMemory();
	}
	done(st, n);
}

void
BM_OpenK(benchmark::State &st, int which, int enc)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> d = datagram(n), sealed;
	static sl_seal_key k;
	sl_replay_window w;
	uint64_t seq = 0;

	if (!key_for(st, which, &k))
		return;
	memset(&w, 0, sizeof(w));
	sl_seal_k(&k, SL_DIR_C2S, 1, 1, enc, d.data(), (uint32_t)d.size());
	sealed = d;
	for (auto _ : st) {
		if (enc)
			memcpy(d.data(), sealed.data(), d.size());
		int bad = sl_seal_open_k(&k, SL_DIR_C2S, d.data(), (uint32_t)d.size());

		bad |= sl_replay_check(&w, ++seq);
		if (bad) {
			st.SkipWithError("open failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	done(st, n);
}
BENCHMARK_CAPTURE(BM_SealK, AesIpsecMb_mac, 1, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_SealK, AesIpsecMb_enc, 1, 1)->Apply(sizes);
BENCHMARK_CAPTURE(BM_SealK, AesSodium_mac, 2, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_SealK, AesSodium_enc, 2, 1)->Apply(sizes);
BENCHMARK_CAPTURE(BM_OpenK, AesIpsecMb_mac, 1, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_OpenK, AesIpsecMb_enc, 1, 1)->Apply(sizes);
BENCHMARK_CAPTURE(BM_OpenK, AesSodium_mac, 2, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_OpenK, AesSodium_enc, 2, 1)->Apply(sizes);

/* A session's key precomputed (each AUTH, both directions). */
void
BM_SealKeyInit(benchmark::State &st, int which)
{
	static sl_seal_key k;

	if (!key_for(st, which, &k))
		return;
	for (auto _ : st) {
		if (which == 0)
			sl_seal_key_init(&k, SL_SUITE_CHACHA20_POLY1305, kKey);
		else
			sl_seal_key_init_impl(&k, SL_SUITE_AES256_GCM, kKey, impl_of(which));
		benchmark::ClobberMemory();
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK_CAPTURE(BM_SealKeyInit, Chacha, 0);
BENCHMARK_CAPTURE(BM_SealKeyInit, AesIpsecMb, 1);
BENCHMARK_CAPTURE(BM_SealKeyInit, AesSodium, 2);

/* --- the protocol's seal: ChaCha20-Poly1305 through common/crypto.h --- */

void
BM_Seal_ChaCha(benchmark::State &st, int enc)
{
	BM_SealK(st, 0, enc);
}
BENCHMARK_CAPTURE(BM_Seal_ChaCha, mac, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Seal_ChaCha, enc, 1)->Apply(sizes);

void
BM_Open_ChaCha(benchmark::State &st, int enc)
{
	BM_OpenK(st, 0, enc);
}
BENCHMARK_CAPTURE(BM_Open_ChaCha, mac, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Open_ChaCha, enc, 1)->Apply(sizes);

/* --- AES-256-GCM, libsodium (needs AES-NI and PCLMUL) --- */

void
BM_Seal_AesGcmSodium(benchmark::State &st, int enc)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> d = datagram(n);
	uint8_t nonce[12] = { 0 }, *p = d.data();
	uint64_t seq = 0;
	crypto_aead_aes256gcm_state ctx;

	if (!crypto_aead_aes256gcm_is_available()) {
		st.SkipWithError("no AES-NI");
		return;
	}
	crypto_aead_aes256gcm_beforenm(&ctx, kKey);
	for (auto _ : st) {
		uint8_t *tag = p + d.size() - SL_TAG_LEN;

		++seq;
		memcpy(nonce + 4, &seq, 8);
		if (enc)
			crypto_aead_aes256gcm_encrypt_detached_afternm(
				p + SL_SEAL_HDR_LEN, tag, NULL, p + SL_SEAL_HDR_LEN, n, p,
				SL_SEAL_HDR_LEN, NULL, nonce, &ctx);
		else
			crypto_aead_aes256gcm_encrypt_detached_afternm(
				p, tag, NULL, p, 0, p, d.size() - SL_TAG_LEN, NULL, nonce, &ctx);
		benchmark::ClobberMemory();
	}
	done(st, n);
}
BENCHMARK_CAPTURE(BM_Seal_AesGcmSodium, mac, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Seal_AesGcmSodium, enc, 1)->Apply(sizes);

void
BM_Open_AesGcmSodium(benchmark::State &st, int enc)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> d = datagram(n), out(n);
	uint8_t nonce[12] = { 0 }, *p = d.data();
	crypto_aead_aes256gcm_state ctx;
	uint8_t *tag = p + d.size() - SL_TAG_LEN;

	if (!crypto_aead_aes256gcm_is_available()) {
		st.SkipWithError("no AES-NI");
		return;
	}
	crypto_aead_aes256gcm_beforenm(&ctx, kKey);
	if (enc)
		crypto_aead_aes256gcm_encrypt_detached_afternm(p + SL_SEAL_HDR_LEN, tag, NULL,
							       p + SL_SEAL_HDR_LEN, n, p,
							       SL_SEAL_HDR_LEN, NULL, nonce, &ctx);
	else
		crypto_aead_aes256gcm_encrypt_detached_afternm(p, tag, NULL, p, 0, p,
							       d.size() - SL_TAG_LEN, NULL, nonce,
							       &ctx);
	for (auto _ : st) {
		int bad;

		/* Decrypted out of place: the datagram stays sealed for the
		 * next pass (the cost is the same). */
		if (enc)
			bad = crypto_aead_aes256gcm_decrypt_detached_afternm(
				out.data(), NULL, p + SL_SEAL_HDR_LEN, n, tag, p, SL_SEAL_HDR_LEN,
				nonce, &ctx);
		else
			bad = crypto_aead_aes256gcm_decrypt_detached_afternm(
				out.data(), NULL, p, 0, tag, p, d.size() - SL_TAG_LEN, nonce, &ctx);
		if (bad) {
			st.SkipWithError("open failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	done(st, n);
}
BENCHMARK_CAPTURE(BM_Open_AesGcmSodium, mac, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Open_AesGcmSodium, enc, 1)->Apply(sizes);

#ifdef SL_HAVE_IPSEC_MB
/* --- AES-256-GCM, intel-ipsec-mb (direct API, best code path for the CPU) --- */

struct Imb {
	IMB_MGR *mgr = nullptr;
	alignas(64) gcm_key_data key; /* the library's SIMD loads want it aligned */

	Imb()
	{
		IMB_ARCH arch;

		mgr = alloc_mb_mgr(0);
		if (mgr == nullptr)
			return;
		init_mb_mgr_auto(mgr, &arch);
		IMB_AES256_GCM_PRE(mgr, kKey, &key);
	}
	~Imb() { free_mb_mgr(mgr); }
};

void
BM_Seal_AesGcmIpsecMb(benchmark::State &st, int enc)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> d = datagram(n);
	uint8_t nonce[12] = { 0 }, *p = d.data();
	uint64_t seq = 0;
	alignas(64) gcm_context_data ctx;
	Imb imb;

	if (imb.mgr == nullptr) {
		st.SkipWithError("alloc_mb_mgr failed");
		return;
	}
	for (auto _ : st) {
		uint8_t *tag = p + d.size() - SL_TAG_LEN;

		++seq;
		memcpy(nonce + 4, &seq, 8);
		if (enc)
			IMB_AES256_GCM_ENC(imb.mgr, &imb.key, &ctx, p + SL_SEAL_HDR_LEN,
					   p + SL_SEAL_HDR_LEN, n, nonce, p, SL_SEAL_HDR_LEN, tag,
					   SL_TAG_LEN);
		else
			IMB_AES256_GCM_ENC(imb.mgr, &imb.key, &ctx, p, p, 0, nonce, p,
					   d.size() - SL_TAG_LEN, tag, SL_TAG_LEN);
		benchmark::ClobberMemory();
	}
	done(st, n);
}
BENCHMARK_CAPTURE(BM_Seal_AesGcmIpsecMb, mac, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Seal_AesGcmIpsecMb, enc, 1)->Apply(sizes);

void
BM_Open_AesGcmIpsecMb(benchmark::State &st, int enc)
{
	size_t n = (size_t)st.range(0);
	std::vector<uint8_t> d = datagram(n), out(n);
	uint8_t nonce[12] = { 0 }, *p = d.data(), tag2[SL_TAG_LEN];
	uint8_t *tag = p + d.size() - SL_TAG_LEN;
	alignas(64) gcm_context_data ctx;
	Imb imb;

	if (imb.mgr == nullptr) {
		st.SkipWithError("alloc_mb_mgr failed");
		return;
	}
	if (enc)
		IMB_AES256_GCM_ENC(imb.mgr, &imb.key, &ctx, p + SL_SEAL_HDR_LEN,
				   p + SL_SEAL_HDR_LEN, n, nonce, p, SL_SEAL_HDR_LEN, tag,
				   SL_TAG_LEN);
	else
		IMB_AES256_GCM_ENC(imb.mgr, &imb.key, &ctx, p, p, 0, nonce, p,
				   d.size() - SL_TAG_LEN, tag, SL_TAG_LEN);
	for (auto _ : st) {
		/* The library computes the tag; the compare is the caller's. */
		if (enc)
			IMB_AES256_GCM_DEC(imb.mgr, &imb.key, &ctx, out.data(),
					   p + SL_SEAL_HDR_LEN, n, nonce, p, SL_SEAL_HDR_LEN,
					   tag2, SL_TAG_LEN);
		else
			IMB_AES256_GCM_DEC(imb.mgr, &imb.key, &ctx, out.data(), p, 0, nonce, p,
					   d.size() - SL_TAG_LEN, tag2, SL_TAG_LEN);
		if (sl_ct_memcmp(tag, tag2, SL_TAG_LEN) != 0) {
			st.SkipWithError("open failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	done(st, n);
}
BENCHMARK_CAPTURE(BM_Open_AesGcmIpsecMb, mac, 0)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Open_AesGcmIpsecMb, enc, 1)->Apply(sizes);
#endif

/* The floor: copying the bytes once (what a sealed session's payload costs
 * on transmit, where the zero-copy chain is given up). */
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
	done(st, n);
}
BENCHMARK(BM_Memcpy)->Apply(sizes);

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

/* --- handshake --- */

/* The CHALLENGE's cookie: computed for every HELLO and every AUTH. */
void
BM_Cookie(benchmark::State &st)
{
	sl_cookie_in in;
	uint8_t c[SL_COOKIE_LEN];

	memset(&in, 0, sizeof(in));
	in.transport = 1;
	in.ip = 0x0100000a;
	in.port = 0x3412;
	in.version = SL_PROTO_VERSION;
	for (auto _ : st) {
		in.nonce++;
		sl_cookie(kKey, &in, c);
		benchmark::DoNotOptimize(c);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_Cookie);

/* The server nonce of a CHALLENGE, from the worker's keystream generator. */
void
BM_RngNonce(benchmark::State &st)
{
	sl_rng r;
	uint8_t sn[SL_HS_NONCE_LEN];

	sl_rng_seed(&r);
	for (auto _ : st) {
		sl_rng_bytes(&r, sn, sizeof(sn));
		benchmark::DoNotOptimize(sn);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_RngNonce);

/* The AUTH proof (HMAC-SHA256 over 120 bytes): both sides compute it. */
void
BM_AuthProof(benchmark::State &st)
{
	sl_auth a;
	uint8_t proof[32];

	memset(&a, 0x11, sizeof(a));
	for (auto _ : st) {
		a.nonce++;
		sl_auth_proof_v3(kKey, &a, proof);
		benchmark::DoNotOptimize(proof);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_AuthProof);

/* The session's two keys (HKDF-SHA256: three HMACs). */
void
BM_SessionKeys(benchmark::State &st)
{
	uint8_t sn[SL_HS_NONCE_LEN] = { 1 }, cn[SL_HS_NONCE_LEN] = { 2 };
	uint8_t c2s[SL_KEY_LEN], s2c[SL_KEY_LEN];

	for (auto _ : st) {
		cn[0]++;
		sl_session_keys(kKey, sn, cn, c2s, s2c);
		benchmark::DoNotOptimize(c2s);
		benchmark::DoNotOptimize(s2c);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_SessionKeys);

/* Session id to (worker, slot): once per datagram received. */
void
BM_SessionIdDecode(benchmark::State &st)
{
	uint32_t id = 0x12345678;

	for (auto _ : st) {
		id = sl_session_id_decode(kKey, id);
		benchmark::DoNotOptimize(id);
	}
	st.SetItemsProcessed((int64_t)st.iterations());
}
BENCHMARK(BM_SessionIdDecode);

} /* namespace */

int
main(int argc, char **argv)
{
	if (sl_crypto_init() < 0)
		return 1;
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
