/* SPDX-License-Identifier: BSD-3-Clause */
/* Cryptography of protocol version 3 on libsodium: hashes, MACs, the handshake, the datagram seal. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <sodium.h>

#include <common/crypto.h>
#include <common/proto.h>

#include "crypto_aes.h"

_Static_assert(SL_REPLAY_WINDOW % 64 == 0 && (SL_REPLAY_WINDOW & (SL_REPLAY_WINDOW - 1)) == 0,
	       "the replay bitmap is a power-of-two ring of 64-bit words");
_Static_assert(SL_SEAL_HDR_LEN == sizeof(struct sl_seal), "seal header");
_Static_assert(SL_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "AEAD key");
_Static_assert(SL_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "AEAD tag");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "AEAD nonce");
_Static_assert(crypto_stream_chacha20_ietf_NONCEBYTES == 12, "stream nonce");
_Static_assert(SL_COOKIE_SECRET_LEN >= crypto_generichash_KEYBYTES_MIN &&
		       SL_COOKIE_SECRET_LEN <= crypto_generichash_KEYBYTES_MAX &&
		       SL_COOKIE_LEN >= crypto_generichash_BYTES_MIN,
	       "cookie BLAKE2b parameters");
_Static_assert(crypto_shorthash_siphash24_KEYBYTES == 16, "siphash key");
_Static_assert(sizeof(struct sl_seal_key) == 1024, "seal key: 1 KiB per direction and session");
_Static_assert(SL_KEY_LEN == crypto_aead_aes256gcm_KEYBYTES &&
		       SL_TAG_LEN == crypto_aead_aes256gcm_ABYTES &&
		       crypto_aead_aes256gcm_NPUBBYTES == 12,
	       "AES-256-GCM: the same key, tag and nonce sizes");

static inline void
store_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
store_le32(uint8_t *p, uint32_t v)
{
	store_le16(p, (uint16_t)v);
	store_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void
store_le64(uint8_t *p, uint64_t v)
{
	store_le32(p, (uint32_t)v);
	store_le32(p + 4, (uint32_t)(v >> 32));
}

int
sl_crypto_init(void)
{
	/* 0 first time, 1 when already done, -1 on failure. */
	return sodium_init() < 0 ? -EIO : 0;
}

void
sl_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

void
sl_rng_seed(struct sl_rng *r)
{
	randombytes_buf(r->key, sizeof(r->key));
	r->ctr = 0;
}

void
sl_rng_bytes(struct sl_rng *r, void *out, size_t len)
{
	uint8_t nonce[12] = { 0 };

	/* A counter nonce never repeats under the key: each call's keystream
	 * is fresh. 2^64 calls are out of reach. */
	store_le64(nonce, ++r->ctr);
	crypto_stream_chacha20_ietf(out, len, nonce, r->key);
}

void
sl_sha256(const void *data, size_t len, uint8_t out[32])
{
	crypto_hash_sha256(out, data, len);
}

void
sl_hmac_sha256(const uint8_t *key, size_t key_len, const void *const *parts, const size_t *lens,
	       unsigned n, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;
	unsigned i;

	/* The state API takes keys of any length (longer ones hashed first,
	 * as RFC 2104 says). */
	crypto_auth_hmacsha256_init(&st, key, key_len);
	for (i = 0; i < n; i++)
		crypto_auth_hmacsha256_update(&st, parts[i], lens[i]);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
sl_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		uint8_t prk[32])
{
	const void *parts[1] = { ikm };
	const size_t lens[1] = { ikm_len };

	sl_hmac_sha256(salt, salt_len, parts, lens, 1, prk);
}

int
sl_hkdf_expand(const uint8_t prk[32], const void *info, size_t info_len, uint8_t *out,
	       size_t out_len)
{
	uint8_t t[32], ctr = 0;
	size_t done = 0, tlen = 0;

	if (out_len > 255u * 32u)
		return -EINVAL;
	while (done < out_len) {
		/* T(i) = HMAC(PRK, T(i-1) || info || i) */
		const void *parts[3] = { t, info, &ctr };
		const size_t lens[3] = { tlen, info_len, 1 };
		size_t n;

		ctr++;
		sl_hmac_sha256(prk, 32, parts, lens, 3, t);
		tlen = sizeof(t);
		n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		memcpy(out + done, t, n);
		done += n;
	}
	sodium_memzero(t, sizeof(t));
	return 0;
}

uint64_t
sl_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	uint8_t h[crypto_shorthash_siphash24_BYTES];
	uint64_t v = 0;
	int i;

	crypto_shorthash_siphash24(h, data, len, key);
	for (i = 7; i >= 0; i--)
		v = v << 8 | h[i];
	return v;
}

int
sl_ct_memcmp(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) != 0;
}

void
sl_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void
sl_cookie(const uint8_t secret[SL_COOKIE_SECRET_LEN], const struct sl_cookie_in *in,
	  uint8_t out[SL_COOKIE_LEN])
{
	static const char label[] = "sluice-cookie-v3";
	uint8_t m[sizeof(label) - 1 + 1 + 4 + 2 + 2 + 4 + 8 + 8 + SL_HS_NONCE_LEN];
	uint8_t *p = m;

	memcpy(p, label, sizeof(label) - 1);
	p += sizeof(label) - 1;
	*p++ = in->transport;
	memcpy(p, &in->ip, 4); /* network order, as the packet held it */
	p += 4;
	memcpy(p, &in->port, 2);
	p += 2;
	store_le16(p, in->version);
	p += 2;
	store_le32(p, in->caps);
	p += 4;
	store_le64(p, in->nonce);
	p += 8;
	store_le64(p, in->issued);
	p += 8;
	memcpy(p, in->server_nonce, SL_HS_NONCE_LEN);
	crypto_generichash(out, SL_COOKIE_LEN, m, sizeof(m), secret, SL_COOKIE_SECRET_LEN);
}

void
sl_auth_proof_v3(const uint8_t key[SL_KEY_LEN], const struct sl_auth *a, uint8_t out[32])
{
	static const char label[] = "sluice-auth-v3";
	uint8_t ints[8 + 2 + 4 + 8];
	const void *parts[6] = { label, ints, a->server_nonce, a->cookie, a->client_nonce,
				 a->name };
	const size_t lens[6] = { sizeof(label) - 1, sizeof(ints), SL_HS_NONCE_LEN,
				 SL_COOKIE_LEN, SL_HS_NONCE_LEN, sizeof(a->name) };

	store_le64(ints, a->nonce);
	store_le16(ints + 8, a->version);
	store_le32(ints + 10, a->caps);
	store_le64(ints + 14, a->issued);
	sl_hmac_sha256(key, SL_KEY_LEN, parts, lens, 6, out);
}

void
sl_session_keys(const uint8_t ukey[SL_KEY_LEN], const uint8_t sn[SL_HS_NONCE_LEN],
		const uint8_t cn[SL_HS_NONCE_LEN], uint8_t k_c2s[SL_KEY_LEN],
		uint8_t k_s2c[SL_KEY_LEN])
{
	sl_session_keys_suite(ukey, sn, cn, SL_SUITE_CHACHA20_POLY1305, k_c2s, k_s2c);
}

void
sl_session_keys_suite(const uint8_t ukey[SL_KEY_LEN], const uint8_t sn[SL_HS_NONCE_LEN],
		      const uint8_t cn[SL_HS_NONCE_LEN], unsigned suite, uint8_t k_c2s[SL_KEY_LEN],
		      uint8_t k_s2c[SL_KEY_LEN])
{
	/* A label per suite: the same handshake never gives one key to two
	 * ciphers. */
	const char *c2s = suite == SL_SUITE_AES256_GCM ? "sluice-v3 aes client->broker"
						       : "sluice-v3 client->broker";
	const char *s2c = suite == SL_SUITE_AES256_GCM ? "sluice-v3 aes broker->client"
						       : "sluice-v3 broker->client";
	uint8_t salt[2 * SL_HS_NONCE_LEN], prk[32];

	memcpy(salt, sn, SL_HS_NONCE_LEN);
	memcpy(salt + SL_HS_NONCE_LEN, cn, SL_HS_NONCE_LEN);
	sl_hkdf_extract(salt, sizeof(salt), ukey, SL_KEY_LEN, prk);
	(void)sl_hkdf_expand(prk, c2s, strlen(c2s), k_c2s, SL_KEY_LEN);
	(void)sl_hkdf_expand(prk, s2c, strlen(s2c), k_s2c, SL_KEY_LEN);
	sodium_memzero(prk, sizeof(prk));
}

static void
seal_nonce(uint8_t n[12], uint32_t dir, uint64_t seq)
{
	store_le32(n, dir);
	store_le64(n + 4, seq);
}

void
sl_seal(const uint8_t key[SL_KEY_LEN], uint32_t dir, uint64_t seq, uint32_t session, int enc,
	void *buf, uint32_t len)
{
	struct sl_seal *s = buf;
	uint8_t *p = buf, nonce[12];
	uint8_t *tag = p + len - SL_TAG_LEN;

	sl_proto_hdr_init(&s->h, SL_FT_SEAL, enc ? SL_SEAL_F_ENC : 0, len, session);
	s->seq = seq;
	seal_nonce(nonce, dir, seq);
	if (enc)
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			p + SL_SEAL_HDR_LEN, tag, NULL, p + SL_SEAL_HDR_LEN,
			len - SL_SEAL_OVERHEAD, p, SL_SEAL_HDR_LEN, NULL, nonce, key);
	else
		/* The tag alone: every byte before it is associated data. */
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			p, tag, NULL, p, 0, p, len - SL_TAG_LEN, NULL, nonce, key);
}

int
sl_seal_open(const uint8_t key[SL_KEY_LEN], uint32_t dir, void *buf, uint32_t len)
{
	const struct sl_seal *s = buf;
	uint8_t *p = buf, nonce[12];
	const uint8_t *tag;
	int rc;

	if (len < SL_SEAL_OVERHEAD)
		return -EINVAL;
	tag = p + len - SL_TAG_LEN;
	seal_nonce(nonce, dir, s->seq);
	/* With no output buffer libsodium only checks the tag; it would zero
	 * the output on a mismatch, and a forged datagram must leave the
	 * buffer as it came. The keystream from block 1 on is the
	 * ciphertext's, as RFC 8439 section 2.8 lays it out. */
	if (s->h.flags & SL_SEAL_F_ENC) {
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			NULL, NULL, p + SL_SEAL_HDR_LEN, len - SL_SEAL_OVERHEAD, tag, p,
			SL_SEAL_HDR_LEN, nonce, key);
		if (rc == 0)
			crypto_stream_chacha20_ietf_xor_ic(p + SL_SEAL_HDR_LEN, p + SL_SEAL_HDR_LEN,
							   len - SL_SEAL_OVERHEAD, nonce, 1, key);
	} else {
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			NULL, NULL, p, 0, tag, p, len - SL_TAG_LEN, nonce, key);
	}
	return rc == 0 ? 0 : -EBADMSG;
}

/* --- precomputed keys, either suite ---------------------------------------- */

static const struct sl_aes_impl *aes_best;
static pthread_once_t aes_once = PTHREAD_ONCE_INIT;

static void
aes_pick(void)
{
	const struct sl_aes_impl *imb = sl_aes_ipsecmb(), *sod = sl_aes_sodium();
	const char *want = getenv("SLUICE_AESGCM_IMPL");

	/* "none": this process never seals with AES-256-GCM (a client then
	 * does not offer it), for comparisons of the suites. */
	if (want && strcmp(want, "none") == 0)
		return;
	if (imb && imb->usable() && !(want && strcmp(want, sod->name) == 0))
		aes_best = imb;
	else if (sod->usable())
		aes_best = sod;
}

int
sl_crypto_aesgcm_available(void)
{
	(void)pthread_once(&aes_once, aes_pick);
	return aes_best != NULL;
}

const char *
sl_crypto_aesgcm_impl(void)
{
	return sl_crypto_aesgcm_available() ? aes_best->name : NULL;
}

static int
seal_key_make(struct sl_seal_key *k, unsigned suite, const uint8_t raw[SL_KEY_LEN],
	      const struct sl_aes_impl *impl)
{
	memset(k, 0, sizeof(*k));
	if (suite == SL_SUITE_CHACHA20_POLY1305) {
		memcpy(k->st, raw, SL_KEY_LEN);
		k->suite = (uint8_t)suite;
		return 0;
	}
	if (suite != SL_SUITE_AES256_GCM)
		return -EINVAL;
	if (impl == NULL || !impl->usable())
		return -ENOTSUP;
	impl->key(k->st, raw);
	k->impl = impl;
	k->suite = (uint8_t)suite;
	return 0;
}

int
sl_seal_key_init(struct sl_seal_key *k, unsigned suite, const uint8_t raw[SL_KEY_LEN])
{
	if (suite == SL_SUITE_AES256_GCM && !sl_crypto_aesgcm_available()) {
		memset(k, 0, sizeof(*k));
		return -ENOTSUP;
	}
	return seal_key_make(k, suite, raw, aes_best);
}

int
sl_seal_key_init_impl(struct sl_seal_key *k, unsigned suite, const uint8_t raw[SL_KEY_LEN],
		      const char *impl)
{
	const struct sl_aes_impl *i = NULL, *imb = sl_aes_ipsecmb(), *sod = sl_aes_sodium();

	if (impl && strcmp(impl, sod->name) == 0)
		i = sod;
	else if (impl && imb && strcmp(impl, imb->name) == 0)
		i = imb;
	return seal_key_make(k, suite, raw, i);
}

void
sl_seal_key_wipe(struct sl_seal_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

void
sl_seal_k(const struct sl_seal_key *k, uint32_t dir, uint64_t seq, uint32_t session, int enc,
	  void *buf, uint32_t len)
{
	const struct sl_aes_impl *aes = k->impl;
	struct sl_seal *s = buf;
	uint8_t *p = buf, nonce[12];
	uint8_t *tag = p + len - SL_TAG_LEN;

	if (aes == NULL) {
		sl_seal(k->st, dir, seq, session, enc, buf, len);
		return;
	}
	sl_proto_hdr_init(&s->h, SL_FT_SEAL, enc ? SL_SEAL_F_ENC : 0, len, session);
	s->seq = seq;
	seal_nonce(nonce, dir, seq);
	if (enc)
		aes->seal(k->st, nonce, p, SL_SEAL_HDR_LEN, p + SL_SEAL_HDR_LEN,
			  len - SL_SEAL_OVERHEAD, tag);
	else
		/* GMAC: every byte before the tag is associated data. */
		aes->seal(k->st, nonce, p, len - SL_TAG_LEN, tag, 0, tag);
}

int
sl_seal_open_k(const struct sl_seal_key *k, uint32_t dir, void *buf, uint32_t len)
{
	const struct sl_aes_impl *aes = k->impl;
	const struct sl_seal *s = buf;
	uint8_t *p = buf, nonce[12], tag[SL_TAG_LEN];

	if (aes == NULL)
		return sl_seal_open(k->st, dir, buf, len);
	if (len < SL_SEAL_OVERHEAD)
		return -EINVAL;
	/* A copy: with an empty plaintext the library reads the tag while
	 * it writes nothing, but keep its in and out apart all the same. */
	memcpy(tag, p + len - SL_TAG_LEN, SL_TAG_LEN);
	seal_nonce(nonce, dir, s->seq);
	if (s->h.flags & SL_SEAL_F_ENC)
		return aes->open(k->st, nonce, p, SL_SEAL_HDR_LEN, p + SL_SEAL_HDR_LEN,
				 len - SL_SEAL_OVERHEAD, tag);
	return aes->open(k->st, nonce, p, len - SL_TAG_LEN, p + len - SL_TAG_LEN, 0, tag);
}

/*
 * Clear the bits of sequences @from..@to (to - from < SL_REPLAY_WINDOW):
 * they now stand for those sequences, no longer for the ones a window
 * below. Unlike RFC 6479's whole-block clearing, this keeps the full window.
 */
static void
replay_clear(uint64_t *bits, uint64_t from, uint64_t to)
{
	while (from <= to) {
		unsigned idx = (unsigned)(from & (SL_REPLAY_WINDOW - 1));
		unsigned bit = idx & 63;
		uint64_t n = 64 - bit;
		uint64_t mask;

		if (n > to - from + 1)
			n = to - from + 1;
		mask = n == 64 ? ~0ull : ((1ull << n) - 1) << bit;
		bits[idx >> 6] &= ~mask;
		from += n;
	}
}

int
sl_replay_check(struct sl_replay_window *w, uint64_t seq)
{
	unsigned idx = (unsigned)(seq & (SL_REPLAY_WINDOW - 1));
	uint64_t bit = 1ull << (idx & 63);

	if (seq == 0)
		return -ERANGE;
	if (seq > w->top) {
		if (seq - w->top >= SL_REPLAY_WINDOW)
			memset(w->bits, 0, sizeof(w->bits));
		else if (seq - w->top > 1)
			replay_clear(w->bits, w->top + 1, seq - 1);
		w->bits[idx >> 6] |= bit;
		w->top = seq;
		return 0;
	}
	if (w->top - seq >= SL_REPLAY_WINDOW)
		return -ERANGE;
	if (w->bits[idx >> 6] & bit)
		return -EALREADY;
	w->bits[idx >> 6] |= bit;
	return 0;
}

static uint16_t
feistel_f(const uint8_t k[SL_SESSION_ID_KEY_LEN], unsigned round, uint16_t half)
{
	uint8_t m[3] = { (uint8_t)round, (uint8_t)half, (uint8_t)(half >> 8) };

	return (uint16_t)sl_siphash24(k, m, sizeof(m));
}

uint32_t
sl_session_id_encode(const uint8_t k[SL_SESSION_ID_KEY_LEN], uint32_t plain)
{
	uint16_t l = (uint16_t)(plain >> 16), r = (uint16_t)plain, t;
	unsigned i;

	for (i = 0; i < 4; i++) {
		t = r;
		r = l ^ feistel_f(k, i, r);
		l = t;
	}
	return (uint32_t)l << 16 | r;
}

uint32_t
sl_session_id_decode(const uint8_t k[SL_SESSION_ID_KEY_LEN], uint32_t id)
{
	uint16_t l = (uint16_t)(id >> 16), r = (uint16_t)id, t;
	unsigned i;

	for (i = 4; i-- > 0;) {
		t = l;
		l = r ^ feistel_f(k, i, l);
		r = t;
	}
	return (uint32_t)l << 16 | r;
}
