/* SPDX-License-Identifier: BSD-3-Clause */
/* Cryptography of protocol version 3 on libsodium: hashes, MACs, the handshake, the datagram seal. */

#ifndef SLUICE_CRYPTO_H
#define SLUICE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every primitive is libsodium's; nothing here implements one. The choices
 * (docs/PROTOCOL.md section 3):
 *   AEAD            two suites, chosen per session in the handshake:
 *                   ChaCha20-Poly1305 IETF (RFC 8439, libsodium), and
 *                   AES-256-GCM (NIST SP 800-38D; intel-ipsec-mb, or
 *                   libsodium's where that library is absent) when both
 *                   sides have AES-NI and PCLMULQDQ. 32-byte key, 12-byte
 *                   nonce, 16-byte tag; the MAC of an unencrypted datagram is
 *                   the same AEAD with the bytes as associated data (GMAC
 *                   for AES-256-GCM).
 *   proof, HKDF     HMAC-SHA256 (RFC 2104 / RFC 4231), HKDF (RFC 5869).
 *   cookie          keyed BLAKE2b, 16-byte output.
 *   hash tables     SipHash-2-4.
 * Unless a comment says otherwise, a function is thread-safe, allocates
 * nothing and makes no system call, so workers may call it.
 */

#define SL_KEY_LEN 32	     /* AEAD and HMAC keys */
#define SL_TAG_LEN 16	     /* Poly1305 tag */
#define SL_SEAL_HDR_LEN 24   /* struct sl_seal: header and transport sequence */
#define SL_SEAL_OVERHEAD (SL_SEAL_HDR_LEN + SL_TAG_LEN)
#define SL_HS_NONCE_LEN 16   /* server_nonce, client_nonce */
#define SL_COOKIE_LEN 16
#define SL_COOKIE_SECRET_LEN 32
#define SL_COOKIE_LIFE_MS 10000u /* an AUTH must echo a CHALLENGE this recent */
#define SL_SESSION_ID_KEY_LEN 16
#define SL_REPLAY_WINDOW 1024 /* datagrams; RFC 6479 bitmap size */
/* The sender ends the session before its transport sequence reaches this:
 * a nonce never repeats under one key. */
#define SL_SEAL_SEQ_LIMIT (1ull << 48)

/* Seal directions, the first 4 bytes of the nonce. */
#define SL_DIR_C2S 0u /* client -> broker, key k_c2s */
#define SL_DIR_S2C 1u /* broker -> client, key k_s2c */

/* Seal suites (the session's AEAD). */
#define SL_SUITE_CHACHA20_POLY1305 0u
#define SL_SUITE_AES256_GCM 1u

/* Initialise libsodium (idempotent). Returns 0, or -EIO when it cannot
 * start (no randomness source). Call once before anything below, from a
 * thread that may make system calls. */
int sl_crypto_init(void);

/* @len random bytes from the system's CSPRNG. Not for workers: it may make
 * a system call. */
void sl_random(void *buf, size_t len);

/*
 * A per-thread CSPRNG for workers: ChaCha20 keystream under a key drawn once
 * (sl_rng_seed, which calls sl_random), a fresh nonce per call from @ctr.
 * One writer; no system call after seeding.
 */
struct sl_rng {
	uint8_t key[SL_KEY_LEN];
	uint64_t ctr;
};
void sl_rng_seed(struct sl_rng *r);
/* @len (<= 256) bytes of keystream. */
void sl_rng_bytes(struct sl_rng *r, void *out, size_t len);

/* SHA-256 of @len bytes. */
void sl_sha256(const void *data, size_t len, uint8_t out[32]);

/* HMAC-SHA256 with a key of any length over the concatenation of @n parts. */
void sl_hmac_sha256(const uint8_t *key, size_t key_len, const void *const *parts,
		    const size_t *lens, unsigned n, uint8_t out[32]);

/* HKDF-SHA256 (RFC 5869). Extract: PRK = HMAC(salt, ikm). Expand: @out_len
 * (<= 255 * 32) bytes of OKM from @prk and @info; returns 0 or -EINVAL. */
void sl_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		     uint8_t prk[32]);
int sl_hkdf_expand(const uint8_t prk[32], const void *info, size_t info_len, uint8_t *out,
		   size_t out_len);

/* SipHash-2-4 of @len bytes under a 16-byte key, as a little-endian word. */
uint64_t sl_siphash24(const uint8_t key[16], const void *data, size_t len);

/* Constant-time comparison: 0 when equal, 1 otherwise. */
int sl_ct_memcmp(const void *a, const void *b, size_t len);

/* Zero @len bytes in a way the compiler keeps (secrets going out of scope). */
void sl_wipe(void *p, size_t len);

/*
 * What the broker's CHALLENGE cookie binds (PROTOCOL.md section 2): the
 * peer, the offer, and the CHALLENGE's own fields. @ip and @port in network
 * byte order as they are on the wire (for shared memory, the attach slot
 * and generation).
 */
struct sl_cookie_in {
	uint8_t transport;
	uint32_t ip;
	uint16_t port;
	uint16_t version;
	uint32_t caps;
	uint64_t nonce;	 /* HELLO's */
	uint64_t issued; /* broker clock, ms */
	uint8_t server_nonce[SL_HS_NONCE_LEN];
};

/* cookie = BLAKE2b-128(secret, "sluice-cookie-v3" || the fields above, in
 * order, integers little-endian except ip and port). */
void sl_cookie(const uint8_t secret[SL_COOKIE_SECRET_LEN], const struct sl_cookie_in *in,
	       uint8_t out[SL_COOKIE_LEN]);

struct sl_auth;
/*
 * The AUTH proof: HMAC-SHA256(user key, "sluice-auth-v3" || nonce (8) ||
 * version (2) || caps (4) || issued (8) || server_nonce (16) || cookie (16) ||
 * client_nonce (16) || name (32)), integers little-endian, over the fields
 * of @a (its proof field is not read).
 */
void sl_auth_proof_v3(const uint8_t key[SL_KEY_LEN], const struct sl_auth *a, uint8_t out[32]);

/*
 * The session's keys, HKDF-SHA256 with salt server_nonce || client_nonce and
 * the user key as input keying material:
 *   PRK   = HMAC-SHA256(server_nonce || client_nonce, user key)
 *   k_c2s = HMAC-SHA256(PRK, "sluice-v3 client->broker" || 0x01)
 *   k_s2c = HMAC-SHA256(PRK, "sluice-v3 broker->client" || 0x01)
 */
void sl_session_keys(const uint8_t ukey[SL_KEY_LEN], const uint8_t sn[SL_HS_NONCE_LEN],
		     const uint8_t cn[SL_HS_NONCE_LEN], uint8_t k_c2s[SL_KEY_LEN],
		     uint8_t k_s2c[SL_KEY_LEN]);

/*
 * The session's keys for @suite: as sl_session_keys, with the info labels
 * "sluice-v3 aes client->broker" and "sluice-v3 aes broker->client" for
 * SL_SUITE_AES256_GCM, so that no key is ever used by two ciphers.
 */
void sl_session_keys_suite(const uint8_t ukey[SL_KEY_LEN], const uint8_t sn[SL_HS_NONCE_LEN],
			   const uint8_t cn[SL_HS_NONCE_LEN], unsigned suite,
			   uint8_t k_c2s[SL_KEY_LEN], uint8_t k_s2c[SL_KEY_LEN]);

/*
 * AES-256-GCM here: 1 when this CPU has AES-NI and PCLMULQDQ and a library
 * to use them loaded (intel-ipsec-mb when built with it, else libsodium),
 * 0 otherwise. The first call picks the library; later calls are a load,
 * safe on workers. For comparisons, SLUICE_AESGCM_IMPL in the environment
 * names it: "libsodium" forces libsodium's, "none" leaves this process
 * without AES-256-GCM (a client then seals with ChaCha20-Poly1305).
 */
int sl_crypto_aesgcm_available(void);

/* The library sealing AES-256-GCM: "intel-ipsec-mb", "libsodium", or NULL
 * when sl_crypto_aesgcm_available() is 0. */
const char *sl_crypto_aesgcm_impl(void);

/*
 * A direction's seal key, precomputed once per session: the raw key for
 * ChaCha20-Poly1305; for AES-256-GCM the library's expanded key schedule
 * and GHASH key powers (intel-ipsec-mb's struct gcm_key_data, 1,008 bytes,
 * or libsodium's crypto_aead_aes256gcm_state, 512). 1,024 bytes, 64-byte
 * aligned (the libraries' vector loads). Read-only after sl_seal_key_init:
 * any number of threads may seal or open with it at once.
 */
#define SL_SEAL_KEY_STATE 1008
struct sl_seal_key {
	uint8_t st[SL_SEAL_KEY_STATE] __attribute__((aligned(64)));
	const void *impl; /* the AES library's entry points; NULL for ChaCha20 */
	uint8_t suite;	  /* SL_SUITE_* */
} __attribute__((aligned(64)));

/*
 * Precompute @k for @suite from the 32-byte @raw key (a session key from
 * sl_session_keys_suite). Returns 0, -EINVAL for an unknown suite, or
 * -ENOTSUP for AES-256-GCM where sl_crypto_aesgcm_available() is 0. No
 * allocation, no system call (workers call it at AUTH), about 0.1 to 0.3 us
 * for AES-256-GCM.
 */
int sl_seal_key_init(struct sl_seal_key *k, unsigned suite, const uint8_t raw[SL_KEY_LEN]);

/* As sl_seal_key_init, AES-256-GCM through the library named @impl
 * ("intel-ipsec-mb" or "libsodium"): for benchmarks that compare them.
 * -ENOTSUP when that library cannot run here or was not built in. */
int sl_seal_key_init_impl(struct sl_seal_key *k, unsigned suite, const uint8_t raw[SL_KEY_LEN],
			  const char *impl);

/* Zero @k (a session ends). */
void sl_seal_key_wipe(struct sl_seal_key *k);

/* sl_seal and sl_seal_open with a precomputed key of either suite: same
 * layout, nonce, flags and return values. */
void sl_seal_k(const struct sl_seal_key *k, uint32_t dir, uint64_t seq, uint32_t session,
	       int enc, void *buf, uint32_t len);
int sl_seal_open_k(const struct sl_seal_key *k, uint32_t dir, void *buf, uint32_t len);

/*
 * Seal the datagram @buf of @len bytes (a multiple of 8, at least
 * SL_SEAL_OVERHEAD): the frames it carries are already at buf + 24 up to
 * buf + len - 16. Writes the SEAL header (version 3, the one that defines it; type
 * SL_FT_SEAL, flags SL_SEAL_F_ENC when @enc, length @len, @session, @seq)
 * and the tag; with @enc the inner bytes are encrypted in place.
 * Nonce = @dir (4 bytes LE) || @seq (8 bytes LE). ChaCha20-Poly1305 under
 * the raw @key (sl_seal_k takes either suite).
 */
void sl_seal(const uint8_t key[SL_KEY_LEN], uint32_t dir, uint64_t seq, uint32_t session,
	     int enc, void *buf, uint32_t len);

/*
 * Verify the sealed datagram @buf of @len bytes (its SEAL header's length,
 * checked by the parser), and with SL_SEAL_F_ENC decrypt the inner bytes in
 * place. Returns 0, or -EBADMSG when the tag does not hold (nothing of
 * @buf is then changed), -EINVAL when @len is too short. The replay window
 * is the caller's next step (sl_replay_check).
 */
int sl_seal_open(const uint8_t key[SL_KEY_LEN], uint32_t dir, void *buf, uint32_t len);

/* Anti-replay window (RFC 6479): accepts each sequence at most once and
 * rejects those SL_REPLAY_WINDOW or more below the highest seen.
 * Zero-initialise before use. One writer. */
struct sl_replay_window {
	uint64_t top; /* highest sequence accepted */
	uint64_t bits[SL_REPLAY_WINDOW / 64];
};

/* Check and, when new, record @seq (> 0). Returns 0 when accepted,
 * -EALREADY for a replay, -ERANGE when older than the window or 0.
 * Call only after the datagram's tag verified. */
int sl_replay_check(struct sl_replay_window *w, uint64_t seq);

/*
 * Session ids: a 4-round Feistel permutation of 32 bits keyed by @k (round
 * function: SipHash-2-4 of (round, half)). Unpredictable without @k;
 * sl_session_id_decode(k, sl_session_id_encode(k, x)) == x.
 */
uint32_t sl_session_id_encode(const uint8_t k[SL_SESSION_ID_KEY_LEN], uint32_t plain);
uint32_t sl_session_id_decode(const uint8_t k[SL_SESSION_ID_KEY_LEN], uint32_t id);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_CRYPTO_H */
