/* SPDX-License-Identifier: BSD-3-Clause */
/* Authentication primitives shared by libsluice and the dataplane. */

#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/codes.h> /* SL_AUTH_KEY_LEN, SL_AUTH_USER_LEN */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A user's secret is a 32-byte key (SL_AUTH_KEY_LEN), written as 64 hex
 * digits in credential files. It never crosses the wire: a session proves
 * it with HMAC-SHA256 over both sides' nonces (sl_auth_proof) and then uses
 * a 16-byte session key for SipHash-2-4 MACs on every frame
 * (sl_auth_frame_mac). All functions are thread-safe and allocation-free.
 */

#define SL_AUTH_SESSION_KEY_LEN 16
#define SL_AUTH_NONCE_LEN 16
#define SL_AUTH_REPLAY_WINDOW 1024 /* frames; RFC 6479 bitmap size */

/* SHA-256 of @len bytes. */
void sl_sha256(const void *data, size_t len, uint8_t out[32]);

/* HMAC-SHA256 (RFC 2104) over the concatenation of @n parts. */
void sl_hmac_sha256(const uint8_t *key, size_t key_len, const void *const *parts,
		    const size_t *lens, unsigned n, uint8_t out[32]);

/* SipHash-2-4 (Aumasson and Bernstein) of @len bytes under a 16-byte key. */
uint64_t sl_siphash24(const uint8_t key[16], const void *data, size_t len);

/* Constant-time comparison: 0 when equal. */
int sl_auth_memcmp(const void *a, const void *b, size_t len);

/*
 * The AUTH proof: HMAC-SHA256(key, "sluice-auth-v1" || hello_nonce (8 bytes,
 * little-endian) || server_nonce || client_nonce || user (32 bytes, NUL
 * padded)).
 */
void sl_auth_proof(const uint8_t key[SL_AUTH_KEY_LEN], uint64_t hello_nonce,
		   const uint8_t server_nonce[SL_AUTH_NONCE_LEN],
		   const uint8_t client_nonce[SL_AUTH_NONCE_LEN],
		   const char user[SL_AUTH_USER_LEN], uint8_t proof[32]);

/* The session key: the first 16 bytes of HMAC-SHA256(key,
 * "sluice-session-v1" || server_nonce || client_nonce). */
void sl_auth_session_key(const uint8_t key[SL_AUTH_KEY_LEN],
			 const uint8_t server_nonce[SL_AUTH_NONCE_LEN],
			 const uint8_t client_nonce[SL_AUTH_NONCE_LEN],
			 uint8_t session_key[SL_AUTH_SESSION_KEY_LEN]);

/*
 * MAC of a frame of @len bytes (h.length, trailer included) whose header has
 * SL_HDR_F_AUTH: SipHash-2-4 over its first len - 8 bytes.
 */
static inline uint64_t
sl_auth_frame_mac(const uint8_t key[SL_AUTH_SESSION_KEY_LEN], const void *frame, uint32_t len)
{
	return sl_siphash24(key, frame, len - 8);
}

/*
 * Seal a frame in place: @frame has room for its trailer at @len - 16 (len
 * counts the trailer and is a multiple of 8); sets the AUTH header flag and
 * length, writes @seq and the MAC.
 */
void sl_auth_seal(const uint8_t key[SL_AUTH_SESSION_KEY_LEN], void *frame, uint32_t len,
		  uint64_t seq);

/* Anti-replay window (RFC 6479): accepts each sequence at most once and
 * rejects those older than the window. Zero-initialise before use. */
struct sl_replay_window {
	uint64_t top; /* highest sequence accepted */
	uint64_t bits[SL_AUTH_REPLAY_WINDOW / 64];
};

/* Check and, when new, record @seq (> 0). Returns 0 when accepted,
 * -EALREADY for a replay, -ERANGE when older than the window or 0.
 * Call only after the frame's MAC verified. */
int sl_replay_check(struct sl_replay_window *w, uint64_t seq);

/* Is @name a valid user name? */
int sl_auth_user_valid(const char *name);

/* Parse 64 hex digits into a key. Returns 0 or -EINVAL. */
int sl_auth_key_from_hex(const char *hex, uint8_t key[SL_AUTH_KEY_LEN]);
void sl_auth_key_to_hex(const uint8_t key[SL_AUTH_KEY_LEN], char hex[2 * SL_AUTH_KEY_LEN + 1]);

/*
 * Read credentials: "user = NAME" and "key = HEX" lines ('#' comments) from
 * @path. The file must not be readable or writable by group or others
 * (-EPERM otherwise: a secret in a shared file is not a secret).
 * Returns 0, -ENOENT, -EPERM, -EINVAL (message in @err).
 */
int sl_auth_credentials_load(const char *path, char user[SL_AUTH_USER_LEN],
			     uint8_t key[SL_AUTH_KEY_LEN], char *err, size_t errlen);

/*
 * Credentials from the environment: SLUICE_CREDENTIALS (a file as above), or
 * SLUICE_USER with SLUICE_KEY. Returns 0, -ENOENT when none are set, or an
 * error as sl_auth_credentials_load.
 */
int sl_auth_credentials_env(char user[SL_AUTH_USER_LEN], uint8_t key[SL_AUTH_KEY_LEN], char *err,
			    size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_AUTH_H */
