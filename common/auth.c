/* SPDX-License-Identifier: BSD-3-Clause */
/* Authentication primitives: SHA-256, HMAC, SipHash-2-4, frame MACs, replay window, credentials. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/auth.h>
#include <common/proto.h>

_Static_assert(SL_AUTH_REPLAY_WINDOW % 64 == 0 &&
		       (SL_AUTH_REPLAY_WINDOW & (SL_AUTH_REPLAY_WINDOW - 1)) == 0,
	       "the replay bitmap is a power-of-two ring of 64-bit words");
_Static_assert(sizeof(struct sl_auth_trailer) == 16, "sl_auth_trailer");
_Static_assert(offsetof(struct sl_hdr, flags) == 2, "sl_hdr.flags");
_Static_assert(offsetof(struct sl_hdr, length) == 4, "sl_hdr.length");

/* Largest credentials file read: it holds two short lines and comments. */
#define CRED_FILE_MAX 8192

/* ---- byte order helpers: the wire and both algorithms' words ---- */

static inline uint64_t
load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8); /* unaligned-safe; a single load on x86 and arm64 */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline void
store_le64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, 8);
}

static inline uint32_t
load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- SHA-256 (FIPS 180-4) ---- */

struct sha256_ctx {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	unsigned fill; /* bytes in buf */
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (ROR32(x, 2) ^ ROR32(x, 13) ^ ROR32(x, 22))
#define BSIG1(x) (ROR32(x, 6) ^ ROR32(x, 11) ^ ROR32(x, 25))
#define SSIG0(x) (ROR32(x, 7) ^ ROR32(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROR32(x, 17) ^ ROR32(x, 19) ^ ((x) >> 10))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))

/* One round with the working variables renamed instead of moved. */
#define SHA_ROUND(a, b, c, d, e, f, g, h, i, wi)                                       \
	do {                                                                           \
		uint32_t t1_ = (h) + BSIG1(e) + CH(e, f, g) + sha256_k[i] + (wi);        \
		uint32_t t2_ = BSIG0(a) + MAJ(a, b, c);                                  \
		(d) += t1_;                                                              \
		(h) = t1_ + t2_;                                                         \
	} while (0)

/* The message schedule lives in a 16-word ring: W[t] for t >= 16. */
#define SHA_W(t)                                                                       \
	(w[(t) & 15] += SSIG1(w[((t) - 2) & 15]) + w[((t) - 7) & 15] + SSIG0(w[((t) - 15) & 15]))

#define SHA_8ROUNDS(i, W)                                                              \
	do {                                                                           \
		SHA_ROUND(a, b, c, d, e, f, g, h, (i) + 0, W((i) + 0));                  \
		SHA_ROUND(h, a, b, c, d, e, f, g, (i) + 1, W((i) + 1));                  \
		SHA_ROUND(g, h, a, b, c, d, e, f, (i) + 2, W((i) + 2));                  \
		SHA_ROUND(f, g, h, a, b, c, d, e, (i) + 3, W((i) + 3));                  \
		SHA_ROUND(e, f, g, h, a, b, c, d, (i) + 4, W((i) + 4));                  \
		SHA_ROUND(d, e, f, g, h, a, b, c, (i) + 5, W((i) + 5));                  \
		SHA_ROUND(c, d, e, f, g, h, a, b, (i) + 6, W((i) + 6));                  \
		SHA_ROUND(b, c, d, e, f, g, h, a, (i) + 7, W((i) + 7));                  \
	} while (0)

#define SHA_W0(t) (w[t])

static void
sha256_blocks(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
	uint32_t w[16];

	while (nblocks--) {
		uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
		uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
		int i;

		for (i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		SHA_8ROUNDS(0, SHA_W0);
		SHA_8ROUNDS(8, SHA_W0);
		for (i = 16; i < 64; i += 16) {
			SHA_8ROUNDS(i, SHA_W);
			SHA_8ROUNDS(i + 8, SHA_W);
		}
		st[0] += a;
		st[1] += b;
		st[2] += c;
		st[3] += d;
		st[4] += e;
		st[5] += f;
		st[6] += g;
		st[7] += h;
		p += 64;
	}
}

static void
sha256_init(struct sha256_ctx *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->len = 0;
	c->fill = 0;
}

static void
sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->len += len;
	if (c->fill) {
		size_t n = 64 - c->fill;

		if (n > len)
			n = len;
		memcpy(c->buf + c->fill, p, n);
		c->fill += (unsigned)n;
		p += n;
		len -= n;
		if (c->fill < 64)
			return;
		sha256_blocks(c->h, c->buf, 1);
		c->fill = 0;
	}
	if (len >= 64) {
		sha256_blocks(c->h, p, len / 64);
		p += len & ~(size_t)63;
		len &= 63;
	}
	if (len) {
		memcpy(c->buf, p, len);
		c->fill = (unsigned)len;
	}
}

static void
sha256_final(struct sha256_ctx *c, uint8_t out[32])
{
	uint64_t bits = c->len * 8;
	int i;

	c->buf[c->fill++] = 0x80;
	if (c->fill > 56) {
		memset(c->buf + c->fill, 0, 64 - c->fill);
		sha256_blocks(c->h, c->buf, 1);
		c->fill = 0;
	}
	memset(c->buf + c->fill, 0, 56 - c->fill);
	for (i = 0; i < 8; i++)
		c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_blocks(c->h, c->buf, 1);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
}

void
sl_sha256(const void *data, size_t len, uint8_t out[32])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, out);
}

/* ---- HMAC-SHA256 (RFC 2104) ---- */

void
sl_hmac_sha256(const uint8_t *key, size_t key_len, const void *const *parts,
	       const size_t *lens, unsigned n, uint8_t out[32])
{
	uint8_t k[64], inner[32];
	struct sha256_ctx c;
	unsigned i;

	memset(k, 0, sizeof(k));
	if (key_len > sizeof(k))
		sl_sha256(key, key_len, k);
	else if (key_len)
		memcpy(k, key, key_len);

	for (i = 0; i < sizeof(k); i++)
		k[i] ^= 0x36;
	sha256_init(&c);
	sha256_update(&c, k, sizeof(k));
	for (i = 0; i < n; i++)
		sha256_update(&c, parts[i], lens[i]);
	sha256_final(&c, inner);

	for (i = 0; i < sizeof(k); i++)
		k[i] ^= 0x36 ^ 0x5c;
	sha256_init(&c);
	sha256_update(&c, k, sizeof(k));
	sha256_update(&c, inner, sizeof(inner));
	sha256_final(&c, out);

	/* The padded key and the context are key material. */
	explicit_bzero(k, sizeof(k));
	explicit_bzero(&c, sizeof(c));
}

/* ---- SipHash-2-4 ---- */

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                       \
	do {                                                                           \
		v0 += v1;                                                                \
		v1 = ROTL64(v1, 13);                                                     \
		v1 ^= v0;                                                                \
		v0 = ROTL64(v0, 32);                                                     \
		v2 += v3;                                                                \
		v3 = ROTL64(v3, 16);                                                     \
		v3 ^= v2;                                                                \
		v0 += v3;                                                                \
		v3 = ROTL64(v3, 21);                                                     \
		v3 ^= v0;                                                                \
		v2 += v1;                                                                \
		v1 = ROTL64(v1, 17);                                                     \
		v1 ^= v2;                                                                \
		v2 = ROTL64(v2, 32);                                                     \
	} while (0)

/*
 * Runs per frame on the dataplane: no allocation, no branches on data
 * beyond the length, 8-byte words read with memcpy (frames need not be
 * aligned in a test buffer or a reassembled datagram).
 */
uint64_t
sl_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	const uint8_t *end = p + (len & ~(size_t)7);
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)len << 56;
	uint64_t m;

	for (; p != end; p += 8) {
		m = load_le64(p);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	switch (len & 7) {
	case 7: b |= (uint64_t)p[6] << 48; /* fall through */
	case 6: b |= (uint64_t)p[5] << 40; /* fall through */
	case 5: b |= (uint64_t)p[4] << 32; /* fall through */
	case 4: b |= (uint64_t)p[3] << 24; /* fall through */
	case 3: b |= (uint64_t)p[2] << 16; /* fall through */
	case 2: b |= (uint64_t)p[1] << 8; /* fall through */
	case 1: b |= (uint64_t)p[0]; break;
	case 0: break;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- constant-time compare ---- */

int
sl_auth_memcmp(const void *a, const void *b, size_t len)
{
	const uint8_t *pa = a, *pb = b;
	uint8_t diff = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		diff |= pa[i] ^ pb[i];
		/* Hide diff from the optimiser so that it cannot stop early
		 * once every bit is set: the time must not depend on where
		 * the first difference is. */
		__asm__("" : "+r"(diff));
	}
	return diff != 0;
}

/* ---- session set-up ---- */

static void
user_padded(const char user[SL_AUTH_USER_LEN], uint8_t out[SL_AUTH_USER_LEN])
{
	/* Pad from the first NUL on, whatever the caller's buffer holds past
	 * it, so that both sides hash the same 32 bytes for the same name. */
	size_t n = strnlen(user, SL_AUTH_USER_LEN);

	memset(out, 0, SL_AUTH_USER_LEN);
	memcpy(out, user, n);
}

void
sl_auth_proof(const uint8_t key[SL_AUTH_KEY_LEN], uint64_t hello_nonce,
	      const uint8_t server_nonce[SL_AUTH_NONCE_LEN],
	      const uint8_t client_nonce[SL_AUTH_NONCE_LEN],
	      const char user[SL_AUTH_USER_LEN], uint8_t proof[32])
{
	static const char label[] = "sluice-auth-v1";
	uint8_t nonce[8], name[SL_AUTH_USER_LEN];
	const void *parts[5] = { label, nonce, server_nonce, client_nonce, name };
	const size_t lens[5] = { sizeof(label) - 1, sizeof(nonce), SL_AUTH_NONCE_LEN,
				 SL_AUTH_NONCE_LEN, sizeof(name) };

	store_le64(nonce, hello_nonce);
	user_padded(user, name);
	sl_hmac_sha256(key, SL_AUTH_KEY_LEN, parts, lens, 5, proof);
}

void
sl_auth_session_key(const uint8_t key[SL_AUTH_KEY_LEN],
		    const uint8_t server_nonce[SL_AUTH_NONCE_LEN],
		    const uint8_t client_nonce[SL_AUTH_NONCE_LEN],
		    uint8_t session_key[SL_AUTH_SESSION_KEY_LEN])
{
	static const char label[] = "sluice-session-v1";
	const void *parts[3] = { label, server_nonce, client_nonce };
	const size_t lens[3] = { sizeof(label) - 1, SL_AUTH_NONCE_LEN, SL_AUTH_NONCE_LEN };
	uint8_t full[32];

	sl_hmac_sha256(key, SL_AUTH_KEY_LEN, parts, lens, 3, full);
	memcpy(session_key, full, SL_AUTH_SESSION_KEY_LEN);
	explicit_bzero(full, sizeof(full));
}

/* ---- frames ---- */

void
sl_auth_seal(const uint8_t key[SL_AUTH_SESSION_KEY_LEN], void *frame, uint32_t len,
	     uint64_t seq)
{
	uint8_t *p = frame;
	uint16_t flags;

	memcpy(&flags, p + offsetof(struct sl_hdr, flags), sizeof(flags));
	flags |= SL_HDR_F_AUTH;
	memcpy(p + offsetof(struct sl_hdr, flags), &flags, sizeof(flags));
	memcpy(p + offsetof(struct sl_hdr, length), &len, sizeof(len));
	store_le64(p + len - sizeof(struct sl_auth_trailer), seq);
	store_le64(p + len - 8, sl_auth_frame_mac(key, p, len));
}

/* ---- replay window ---- */

#define RW_BITS SL_AUTH_REPLAY_WINDOW
#define RW_WORDS (RW_BITS / 64)

/*
 * Clear the bits of sequences @from..@to (to - from < RW_BITS): they now
 * stand for those sequences, no longer for the ones RW_BITS below. Unlike
 * RFC 6479's whole-block clearing, this keeps the full RW_BITS window.
 */
static void
replay_clear(uint64_t *bits, uint64_t from, uint64_t to)
{
	while (from <= to) {
		unsigned idx = (unsigned)(from & (RW_BITS - 1));
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
	unsigned idx = (unsigned)(seq & (RW_BITS - 1));
	uint64_t bit = 1ull << (idx & 63);

	if (seq == 0)
		return -ERANGE;
	if (seq > w->top) {
		if (seq - w->top >= RW_BITS)
			memset(w->bits, 0, sizeof(w->bits));
		else if (seq - w->top > 1)
			replay_clear(w->bits, w->top + 1, seq - 1);
		w->bits[idx >> 6] |= bit;
		w->top = seq;
		return 0;
	}
	if (w->top - seq >= RW_BITS)
		return -ERANGE;
	if (w->bits[idx >> 6] & bit)
		return -EALREADY;
	w->bits[idx >> 6] |= bit;
	return 0;
}

/* ---- user names and keys ---- */

static int
user_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* @n bytes at @s form a valid user name. */
static int
user_valid_n(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= SL_AUTH_USER_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (!user_char_ok((unsigned char)s[i]))
			return 0;
	return 1;
}

int
sl_auth_user_valid(const char *name)
{
	if (name == NULL)
		return 0;
	return user_valid_n(name, strnlen(name, SL_AUTH_USER_LEN));
}

static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2 * SL_AUTH_KEY_LEN hex digits at @s (@n bytes). */
static int
key_from_hex_n(const char *s, size_t n, uint8_t key[SL_AUTH_KEY_LEN])
{
	uint8_t k[SL_AUTH_KEY_LEN];
	size_t i;

	if (n != 2 * SL_AUTH_KEY_LEN)
		return -EINVAL;
	for (i = 0; i < SL_AUTH_KEY_LEN; i++) {
		int hi = hex_val((unsigned char)s[2 * i]);
		int lo = hex_val((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			explicit_bzero(k, sizeof(k));
			return -EINVAL;
		}
		k[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, k, sizeof(k));
	explicit_bzero(k, sizeof(k));
	return 0;
}

int
sl_auth_key_from_hex(const char *hex, uint8_t key[SL_AUTH_KEY_LEN])
{
	if (hex == NULL)
		return -EINVAL;
	return key_from_hex_n(hex, strnlen(hex, 2 * SL_AUTH_KEY_LEN + 1), key);
}

void
sl_auth_key_to_hex(const uint8_t key[SL_AUTH_KEY_LEN], char hex[2 * SL_AUTH_KEY_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SL_AUTH_KEY_LEN; i++) {
		hex[2 * i] = digits[key[i] >> 4];
		hex[2 * i + 1] = digits[key[i] & 15];
	}
	hex[2 * SL_AUTH_KEY_LEN] = '\0';
}

/* ---- credentials ---- */

__attribute__((format(printf, 4, 5))) static int
cred_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim blanks from both ends of [*s, *s + *n). */
static void
trim(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

struct cred_parse {
	const char *path;
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	unsigned have_user, have_key; /* line numbers, 0 when not seen */
};

/* One line without its newline. */
static int
cred_line(struct cred_parse *cp, unsigned lineno, const char *s, size_t n, char *err,
	  size_t errlen)
{
	const char *hash = memchr(s, '#', n);
	const char *eq, *val;
	size_t klen, vlen;

	if (hash)
		n = (size_t)(hash - s);
	trim(&s, &n);
	if (n == 0)
		return 0;
	eq = memchr(s, '=', n);
	if (eq == NULL)
		return cred_err(err, errlen, -EINVAL,
				"%s:%u: expected 'user = NAME' or 'key = HEX'", cp->path, lineno);
	klen = (size_t)(eq - s);
	val = eq + 1;
	vlen = n - klen - 1;
	trim(&s, &klen);
	trim(&val, &vlen);
	if (klen == 4 && memcmp(s, "user", 4) == 0) {
		if (cp->have_user)
			return cred_err(err, errlen, -EINVAL, "%s:%u: user already given on line %u",
					cp->path, lineno, cp->have_user);
		if (!user_valid_n(val, vlen))
			return cred_err(err, errlen, -EINVAL,
					"%s:%u: bad user name: use 1 to %d characters from "
					"A-Z a-z 0-9 . _ -",
					cp->path, lineno, SL_AUTH_USER_LEN - 1);
		memset(cp->user, 0, sizeof(cp->user));
		memcpy(cp->user, val, vlen);
		cp->have_user = lineno;
		return 0;
	}
	if (klen == 3 && memcmp(s, "key", 3) == 0) {
		if (cp->have_key)
			return cred_err(err, errlen, -EINVAL, "%s:%u: key already given on line %u",
					cp->path, lineno, cp->have_key);
		/* The message never quotes the value: it is a secret. */
		if (key_from_hex_n(val, vlen, cp->key) < 0)
			return cred_err(err, errlen, -EINVAL,
					"%s:%u: bad key: it must be %d hex digits (0-9, a-f)",
					cp->path, lineno, 2 * SL_AUTH_KEY_LEN);
		cp->have_key = lineno;
		return 0;
	}
	return cred_err(err, errlen, -EINVAL, "%s:%u: unknown setting '%.*s': expected user or key",
			cp->path, lineno, (int)(klen > 32 ? 32 : klen), s);
}

static int
cred_parse_buf(struct cred_parse *cp, const char *buf, size_t len, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (memchr(p, '\0', n))
			return cred_err(err, errlen, -EINVAL, "%s:%u: NUL byte: not a text file",
					cp->path, lineno);
		rc = cred_line(cp, lineno, p, n, err, errlen);
		if (rc < 0)
			return rc;
		p += n + 1;
	}
	if (!cp->have_user)
		return cred_err(err, errlen, -EINVAL, "%s: no 'user = NAME' line", cp->path);
	if (!cp->have_key)
		return cred_err(err, errlen, -EINVAL, "%s: no 'key = HEX' line (%d hex digits)",
				cp->path, 2 * SL_AUTH_KEY_LEN);
	return 0;
}

/* Read all of @fd (a regular file of at most CRED_FILE_MAX bytes) into @buf. */
static ssize_t
read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
sl_auth_credentials_load(const char *path, char user[SL_AUTH_USER_LEN],
			 uint8_t key[SL_AUTH_KEY_LEN], char *err, size_t errlen)
{
	char buf[CRED_FILE_MAX + 1];
	struct cred_parse cp;
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return cred_err(err, errlen, rc, "%s: no such credentials file", path);
		return cred_err(err, errlen, rc, "%s: cannot open: %s", path, strerror(-rc));
	}
	/* fstat the open file: a check on the path could be raced. */
	if (fstat(fd, &st) < 0) {
		rc = cred_err(err, errlen, -errno, "%s: cannot stat: %s", path, strerror(errno));
		goto out_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cred_err(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out_fd;
	}
	if (st.st_mode & 077) {
		rc = cred_err(err, errlen, -EPERM,
			      "%s: mode %04o lets group or others access the key: "
			      "run 'chmod 600 %s'",
			      path, (unsigned)(st.st_mode & 07777), path);
		goto out_fd;
	}
	n = read_all(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = cred_err(err, errlen, (int)n, "%s: read: %s", path, strerror((int)-n));
		goto out_buf;
	}
	if (n > CRED_FILE_MAX) {
		rc = cred_err(err, errlen, -EINVAL,
			      "%s: larger than %d bytes: not a credentials file", path,
			      CRED_FILE_MAX);
		goto out_buf;
	}
	memset(&cp, 0, sizeof(cp));
	cp.path = path;
	rc = cred_parse_buf(&cp, buf, (size_t)n, err, errlen);
	if (rc == 0) {
		memcpy(user, cp.user, SL_AUTH_USER_LEN);
		memcpy(key, cp.key, SL_AUTH_KEY_LEN);
	}
	explicit_bzero(&cp, sizeof(cp));
out_buf:
	explicit_bzero(buf, sizeof(buf));
out_fd:
	close(fd);
	return rc;
}

int
sl_auth_credentials_env(char user[SL_AUTH_USER_LEN], uint8_t key[SL_AUTH_KEY_LEN], char *err,
			size_t errlen)
{
	const char *path = getenv("SLUICE_CREDENTIALS");
	const char *u = getenv("SLUICE_USER");
	const char *k = getenv("SLUICE_KEY");

	int rc;

	if (path && *path) {
		rc = sl_auth_credentials_load(path, user, key, err, errlen);
		/* -ENOENT means "no credentials given": a named file that is
		 * missing is a mistake to report, not a reason to go on
		 * without authentication. */
		if (rc == -ENOENT)
			rc = cred_err(err, errlen, -EINVAL,
				      "SLUICE_CREDENTIALS=%s: no such file: fix the path or unset it",
				      path);
		return rc;
	}
	if (u && !*u)
		u = NULL;
	if (k && !*k)
		k = NULL;
	if (!u && !k)
		return cred_err(err, errlen, -ENOENT,
				"no credentials: set SLUICE_CREDENTIALS to a credentials file, "
				"or SLUICE_USER and SLUICE_KEY");
	if (!k)
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_USER is set but SLUICE_KEY is not: set both, or neither");
	if (!u)
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_KEY is set but SLUICE_USER is not: set both, or neither");
	if (!sl_auth_user_valid(u))
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_USER: bad user name: use 1 to %d characters from "
				"A-Z a-z 0-9 . _ -",
				SL_AUTH_USER_LEN - 1);
	if (sl_auth_key_from_hex(k, key) < 0)
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_KEY: bad key: it must be %d hex digits (0-9, a-f)",
				2 * SL_AUTH_KEY_LEN);
	memset(user, 0, SL_AUTH_USER_LEN);
	memcpy(user, u, strlen(u));
	return 0;
}
