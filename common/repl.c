/* SPDX-License-Identifier: BSD-3-Clause */
/* Replication protocol codec and datagram seal (docs/REPLICATION.md). */

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "cnc.h"
#include "repl.h"

_Static_assert(SL_AUTH_KEY_LEN == SL_KEY_LEN, "a pair key is written as a user's key is");

#define ALIGN8(x) (((x) + 7u) & ~7u)

static const char KDF_SALT[] = "sluice-repl-v1";
static const char KDF_INFO[] = "sluice-repl-v1 ";

/* ---- Builder ----------------------------------------------------------- */

void
sl_repl_dgram_init(struct sl_repl_dgram *d, void *buf, uint32_t cap)
{
	d->buf = buf;
	d->cap = cap > SL_REPL_DGRAM_MAX ? SL_REPL_DGRAM_MAX : cap & ~7u;
	d->len = sizeof(struct sl_repl_hdr);
	d->frames = 0;
	memset(d->buf, 0, sizeof(struct sl_repl_hdr));
}

uint32_t
sl_repl_dgram_room(const struct sl_repl_dgram *d, uint32_t fixed)
{
	uint32_t end = d->cap - SL_REPL_TAG_LEN;

	if (d->len + fixed >= end)
		return 0;
	/* The frame is padded to 8: what fits must leave the pad room too. */
	return (end - d->len - fixed) & ~7u;
}

void *
sl_repl_dgram_add(struct sl_repl_dgram *d, uint8_t type, uint32_t len)
{
	struct sl_repl_fhdr *f;
	uint32_t padded = ALIGN8(len);

	if (len < sizeof(*f) || d->len + padded + SL_REPL_TAG_LEN > d->cap)
		return NULL;
	f = (struct sl_repl_fhdr *)(d->buf + d->len);
	memset(f, 0, padded);
	f->type = type;
	f->len = len;
	d->len += padded;
	d->frames++;
	return f;
}

int
sl_repl_put_hb(struct sl_repl_dgram *d, uint32_t role, uint32_t epoch, uint64_t now_ns,
	       uint64_t echo_ns, uint32_t flags)
{
	struct sl_repl_hb *f = sl_repl_dgram_add(d, SL_REPL_HB, sizeof(*f));

	if (f == NULL)
		return -ENOSPC;
	f->role = role;
	f->epoch = epoch;
	f->now_ns = now_ns;
	f->echo_ns = echo_ns;
	f->flags = flags;
	return 0;
}

int
sl_repl_put_topic(struct sl_repl_dgram *d, const struct sl_repl_topic *t, const char *name,
		  size_t name_len)
{
	struct sl_repl_topic *f;

	if (name_len == 0 || name_len > SL_REPL_NAME_MAX)
		return -EINVAL;
	f = sl_repl_dgram_add(d, SL_REPL_TOPIC, (uint32_t)(sizeof(*f) + name_len));
	if (f == NULL)
		return -ENOSPC;
	memcpy((uint8_t *)f + sizeof(f->f), (const uint8_t *)t + sizeof(t->f),
	       sizeof(*f) - sizeof(f->f));
	f->name_len = (uint8_t)name_len;
	f->reserved = 0;
	memcpy(f + 1, name, name_len);
	return 0;
}

int
sl_repl_put_pos(struct sl_repl_dgram *d, uint32_t rtopic, uint32_t last_epoch, uint64_t last_seq,
		uint64_t first_seq)
{
	struct sl_repl_pos *f = sl_repl_dgram_add(d, SL_REPL_POS, sizeof(*f));

	if (f == NULL)
		return -ENOSPC;
	f->rtopic = rtopic;
	f->last_epoch = last_epoch;
	f->last_seq = last_seq;
	f->first_seq = first_seq;
	return 0;
}

int
sl_repl_put_trunc(struct sl_repl_dgram *d, uint32_t rtopic, uint64_t keep)
{
	struct sl_repl_trunc *f = sl_repl_dgram_add(d, SL_REPL_TRUNC, sizeof(*f));

	if (f == NULL)
		return -ENOSPC;
	f->rtopic = rtopic;
	f->keep = keep;
	return 0;
}

int
sl_repl_put_ack(struct sl_repl_dgram *d, uint32_t rtopic, uint32_t flags, uint64_t seq,
		uint64_t last_seq)
{
	struct sl_repl_ack *f = sl_repl_dgram_add(d, SL_REPL_ACK, sizeof(*f));

	if (f == NULL)
		return -ENOSPC;
	f->rtopic = rtopic;
	f->flags = flags;
	f->seq = seq;
	f->last_seq = last_seq;
	return 0;
}

int
sl_repl_put_data(struct sl_repl_dgram *d, const struct sl_repl_data *m, const void *payload,
		 uint32_t total_len, uint32_t frag_off)
{
	struct sl_repl_data *f;
	uint32_t room, chunk;

	if (frag_off > total_len || (total_len && payload == NULL))
		return -EINVAL;
	room = sl_repl_dgram_room(d, sizeof(*f));
	chunk = total_len - frag_off;
	if (chunk > room)
		chunk = room;
	if (chunk == 0 && total_len > frag_off)
		return -ENOSPC;
	f = sl_repl_dgram_add(d, SL_REPL_DATA, (uint32_t)sizeof(*f) + chunk);
	if (f == NULL)
		return -ENOSPC;
	memcpy((uint8_t *)f + sizeof(f->f), (const uint8_t *)m + sizeof(m->f),
	       sizeof(*f) - sizeof(f->f));
	f->reserved = 0;
	f->total_len = total_len;
	f->frag_off = frag_off;
	if (chunk)
		memcpy(f + 1, (const uint8_t *)payload + frag_off, chunk);
	return (int)chunk;
}

/* ---- Parser ------------------------------------------------------------ */

int
sl_repl_hdr_check(const void *buf, uint32_t len)
{
	const struct sl_repl_hdr *h = buf;

	if (len < sizeof(*h) + SL_REPL_TAG_LEN)
		return -EMSGSIZE;
	if (h->magic != SL_REPL_MAGIC || h->version != SL_REPL_VERSION)
		return -EPROTO;
	if (h->len != len || (len & 7u) || len > SL_REPL_DGRAM_MAX)
		return -EMSGSIZE;
	if (h->reserved != 0 || (h->flags & ~SL_REPL_F_ENC))
		return -EINVAL;
	return 0;
}

int
sl_repl_put_lag(struct sl_repl_dgram *d, uint64_t records, uint64_t bytes)
{
	struct sl_repl_lag *f = sl_repl_dgram_add(d, SL_REPL_LAG, sizeof(*f));

	if (f == NULL)
		return -ENOSPC;
	f->records = records;
	f->bytes = bytes;
	return 0;
}

/* The least length of a frame of each type. */
static const uint32_t min_len[SL_REPL_TYPES] = {
	[SL_REPL_HB] = sizeof(struct sl_repl_hb),
	[SL_REPL_TOPIC] = sizeof(struct sl_repl_topic) + 1,
	[SL_REPL_POS] = sizeof(struct sl_repl_pos),
	[SL_REPL_TRUNC] = sizeof(struct sl_repl_trunc),
	[SL_REPL_DATA] = sizeof(struct sl_repl_data),
	[SL_REPL_ACK] = sizeof(struct sl_repl_ack),
	[SL_REPL_LAG] = sizeof(struct sl_repl_lag),
};

static int
frame_ok(const struct sl_repl_fhdr *f)
{
	if (f->type == SL_REPL_TOPIC) {
		const struct sl_repl_topic *t = (const void *)f;

		return t->name_len != 0 && t->name_len <= SL_REPL_NAME_MAX &&
		       f->len == sizeof(*t) + t->name_len;
	}
	if (f->type == SL_REPL_DATA) {
		const struct sl_repl_data *d = (const void *)f;
		uint32_t chunk = f->len - (uint32_t)sizeof(*d);

		/* A chunk inside the record; only an empty record has none. */
		return d->frag_off <= d->total_len && chunk <= d->total_len - d->frag_off &&
		       (chunk > 0 || d->total_len == 0);
	}
	return f->len == min_len[f->type];
}

int
sl_repl_next(const void *buf, uint32_t len, uint32_t *off, const struct sl_repl_fhdr **f)
{
	const uint8_t *p = buf;
	const struct sl_repl_fhdr *h;
	uint32_t end, o = *off;

	if (len < sizeof(struct sl_repl_hdr) + SL_REPL_TAG_LEN)
		return -EINVAL;
	end = len - SL_REPL_TAG_LEN;
	if (o >= end)
		return 0;
	if ((o & 7u) || end - o < sizeof(*h))
		return -EINVAL;
	h = (const struct sl_repl_fhdr *)(p + o);
	if (h->len < sizeof(*h) || h->len > end - o || ALIGN8(h->len) > end - o)
		return -EINVAL;
	*f = h;
	*off = o + ALIGN8(h->len);
	if (h->type == 0 || h->type >= SL_REPL_TYPES)
		return -ENOTSUP;
	if (h->len < min_len[h->type] || !frame_ok(h))
		return -EINVAL;
	return h->type;
}

/* ---- Seal -------------------------------------------------------------- */

void
sl_repl_key(const uint8_t pair_key[SL_KEY_LEN], uint64_t incarnation, uint8_t out[SL_KEY_LEN])
{
	uint8_t prk[32], info[sizeof(KDF_INFO) - 1 + 8];
	unsigned i;

	sl_hkdf_extract((const uint8_t *)KDF_SALT, sizeof(KDF_SALT) - 1, pair_key, SL_KEY_LEN, prk);
	memcpy(info, KDF_INFO, sizeof(KDF_INFO) - 1);
	for (i = 0; i < 8; i++)
		info[sizeof(KDF_INFO) - 1 + i] = (uint8_t)(incarnation >> (8 * i));
	(void)sl_hkdf_expand(prk, info, sizeof(info), out, SL_KEY_LEN);
	sodium_memzero(prk, sizeof(prk));
}

uint64_t
sl_repl_incarnation(uint64_t start_wall_ns, uint32_t rnd)
{
	return ((start_wall_ns / 1000u) << 12) | (rnd & 0xfffu);
}

void
sl_repl_tx_init(struct sl_repl_tx *tx, const uint8_t pair_key[SL_KEY_LEN], uint64_t incarnation)
{
	tx->incarnation = incarnation;
	tx->counter = 0;
	sl_repl_key(pair_key, incarnation, tx->key);
}

static void
nonce_of(uint8_t n[12], uint64_t counter)
{
	unsigned i;

	memset(n, 0, 4);
	for (i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

int
sl_repl_seal(struct sl_repl_tx *tx, struct sl_repl_dgram *d, uint32_t role, uint32_t epoch,
	     uint32_t flags, uint64_t sent_ms)
{
	struct sl_repl_hdr *h = (struct sl_repl_hdr *)d->buf;
	uint8_t nonce[12];
	uint8_t *body = d->buf + sizeof(*h);
	uint32_t blen = d->len - (uint32_t)sizeof(*h);

	if (d->len + SL_REPL_TAG_LEN > d->cap)
		return -ENOSPC;
	if (tx->counter + 1 >= SL_SEAL_SEQ_LIMIT)
		return -EOVERFLOW;
	h->magic = SL_REPL_MAGIC;
	h->version = SL_REPL_VERSION;
	h->role = (uint8_t)role;
	h->flags = (uint8_t)(flags & SL_REPL_F_ENC);
	h->reserved = 0;
	h->epoch = epoch;
	h->len = d->len + SL_REPL_TAG_LEN;
	h->incarnation = tx->incarnation;
	h->counter = ++tx->counter;
	h->sent_ms = sent_ms;
	nonce_of(nonce, h->counter);
	if (h->flags & SL_REPL_F_ENC)
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			body, d->buf + d->len, NULL, body, blen, d->buf, sizeof(*h), NULL, nonce,
			tx->key);
	else /* authenticated only: everything is associated data */
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			d->buf, d->buf + d->len, NULL, d->buf, 0, d->buf, d->len, NULL, nonce, tx->key);
	return (int)(d->len + SL_REPL_TAG_LEN);
}

void
sl_repl_rx_init(struct sl_repl_rx *rx, const uint8_t pair_key[SL_KEY_LEN], uint64_t max_skew_ms)
{
	memset(rx, 0, sizeof(*rx));
	memcpy(rx->pair_key, pair_key, SL_KEY_LEN);
	rx->max_skew_ms = max_skew_ms;
}

/* Check the tag without writing anything: libsodium only verifies when
 * given no output buffer, so a forged datagram changes nothing. */
static int
verify(const uint8_t key[SL_KEY_LEN], const uint8_t *buf, uint32_t len)
{
	const struct sl_repl_hdr *h = (const void *)buf;
	uint32_t body = len - SL_REPL_TAG_LEN;
	uint8_t nonce[12];
	int rc;

	nonce_of(nonce, h->counter);
	if (h->flags & SL_REPL_F_ENC)
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			NULL, NULL, buf + sizeof(*h), body - sizeof(*h), buf + body, buf,
			sizeof(*h), nonce, key);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
			NULL, NULL, buf, 0, buf + body, buf, body, nonce, key);
	return rc == 0 ? 0 : -EBADMSG;
}

/* Decrypt the frames of a datagram whose tag verified: the keystream from
 * block 1 on is the ciphertext's (RFC 8439 section 2.8), as crypto.c does. */
static void
decrypt(const uint8_t key[SL_KEY_LEN], uint8_t *buf, uint32_t len)
{
	const struct sl_repl_hdr *h = (const void *)buf;
	uint32_t n = len - SL_REPL_TAG_LEN - (uint32_t)sizeof(*h);
	uint8_t nonce[12];

	nonce_of(nonce, h->counter);
	crypto_stream_chacha20_ietf_xor_ic(buf + sizeof(*h), buf + sizeof(*h), n, nonce, 1, key);
}

int
sl_repl_rx_open(struct sl_repl_rx *rx, void *buf, uint32_t len, uint64_t now_ms)
{
	const struct sl_repl_hdr *h = buf;
	uint8_t nkey[SL_KEY_LEN];
	const uint8_t *key = rx->key;
	int rc, fresh = 0;

	rc = sl_repl_hdr_check(buf, len);
	if (rc < 0)
		return rc;
	if (h->counter == 0)
		return -EALREADY;
	if (h->incarnation < rx->incarnation)
		return -EALREADY; /* an earlier start of the sender: a replay */
	if (h->incarnation != rx->incarnation || rx->incarnation == 0) {
		sl_repl_key(rx->pair_key, h->incarnation, nkey);
		key = nkey;
		fresh = 1;
	}
	rc = verify(key, buf, len);
	if (rc < 0)
		goto out;
	if ((now_ms > h->sent_ms ? now_ms - h->sent_ms : h->sent_ms - now_ms) > rx->max_skew_ms) {
		rc = -ETIMEDOUT;
		goto out;
	}
	if (fresh) {
		rx->incarnation = h->incarnation;
		memcpy(rx->key, nkey, SL_KEY_LEN);
		memset(&rx->win, 0, sizeof(rx->win));
	}
	rc = sl_replay_check(&rx->win, h->counter);
	if (rc < 0) {
		rc = -EALREADY;
		goto out;
	}
	if (h->flags & SL_REPL_F_ENC)
		decrypt(rx->key, buf, len);
out:
	sodium_memzero(nkey, sizeof(nkey));
	return rc;
}

void
sl_repl_tx_wipe(struct sl_repl_tx *tx)
{
	sodium_memzero(tx, sizeof(*tx));
}

void
sl_repl_rx_wipe(struct sl_repl_rx *rx)
{
	sodium_memzero(rx, sizeof(*rx));
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
sl_repl_key_parse(const char *s, size_t len, uint8_t out[SL_KEY_LEN])
{
	char hex[2 * SL_KEY_LEN + 1];
	size_t i = 0;
	int rc;

	while (i < len && is_space(s[i]))
		i++;
	while (len > i && is_space(s[len - 1]))
		len--;
	if (len - i != 2 * SL_KEY_LEN)
		return -EINVAL;
	/* The same digits as a user's key (common/auth.h). */
	memcpy(hex, s + i, 2 * SL_KEY_LEN);
	hex[2 * SL_KEY_LEN] = '\0';
	rc = sl_auth_key_from_hex(hex, out);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}
