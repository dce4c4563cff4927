/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the datagram seal (common/crypto.c sl_seal_open,
 * sl_seal, sl_replay_check), built when the tree has common/crypto.h.
 *
 * Input: a flags byte (bit 0: encrypt, bit 1: direction broker->client),
 * then a datagram. The harness
 *   - opens the datagram as a receiver would (its SEAL header's length, if
 *     it fits): a failure leaves every byte as it was;
 *   - seals the datagram's bytes as the inner frames of a new one, opens it
 *     (the inner bytes come back), then flips one bit of it (chosen by the
 *     input) or opens it with the other direction's nonce: refused;
 *   - feeds sequences made from the input to a replay window and to a
 *     reference model of it (accepted once, refused when a duplicate or
 *     SL_REPLAY_WINDOW or more below the highest): the two agree.
 */

#include <errno.h>

#include <common/crypto.h>
#include <common/proto.h>

#include "fuzz.h"

#define SEQS_MAX 256

static const uint8_t key[SL_KEY_LEN] = { 0x6b, 0x65, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(sl_crypto_init() == 0);
	return 0;
}

static void
open_received(const uint8_t *data, size_t size, uint32_t dir)
{
	static uint8_t buf[SL_MAX_DATAGRAM], copy[SL_MAX_DATAGRAM];
	const struct sl_hdr *h = (const struct sl_hdr *)buf;
	int rc;

	if (size < sizeof(*h) || size > sizeof(buf))
		return;
	memcpy(buf, data, size);
	if (h->length > size)
		return;
	memcpy(copy, buf, h->length);
	rc = sl_seal_open(key, dir, buf, h->length);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -EINVAL);
	if (rc < 0)
		FUZZ_CHECK(memcmp(buf, copy, h->length) == 0);
}

static void
round_trip(const uint8_t *inner, size_t n, uint32_t dir, int enc, uint32_t flip)
{
	static uint8_t buf[SL_MAX_DATAGRAM];
	uint32_t len;

	if (n > SL_MAX_DATAGRAM - SL_SEAL_OVERHEAD - 8)
		n = SL_MAX_DATAGRAM - SL_SEAL_OVERHEAD - 8;
	len = (uint32_t)(SL_SEAL_HDR_LEN + ((n + 7) & ~(size_t)7) + SL_TAG_LEN);
	memset(buf, 0, len);
	memcpy(buf + SL_SEAL_HDR_LEN, inner, n);
	sl_seal(key, dir, 1 + flip, 0x01000002u, enc, buf, len);
	FUZZ_CHECK(((const struct sl_hdr *)buf)->length == len);
	FUZZ_CHECK(sl_seal_open(key, dir, buf, len) == 0);
	FUZZ_CHECK(memcmp(buf + SL_SEAL_HDR_LEN, inner, n) == 0);

	/* Any bit flipped anywhere, or the other direction: refused. */
	sl_seal(key, dir, 1 + flip, 0x01000002u, enc, buf, len);
	FUZZ_CHECK(sl_seal_open(key, dir ^ 1, buf, len) == -EBADMSG);
	buf[(flip / 8) % len] ^= (uint8_t)(1u << (flip % 8));
	FUZZ_CHECK(sl_seal_open(key, dir, buf, len) != 0);
}

/* The replay window against a model: @n sequences from @d. */
static void
replay(const uint8_t *d, size_t size)
{
	static uint64_t accepted[SEQS_MAX];
	struct sl_replay_window w;
	uint64_t top = 0, seq;
	unsigned n = 0, i, k;
	int want, rc;

	memset(&w, 0, sizeof(w));
	for (k = 0; k + 3 <= size && n < SEQS_MAX; k += 3) {
		/* Mostly near the top, sometimes a jump far ahead. */
		uint32_t v = (uint32_t)(d[k] | d[k + 1] << 8);

		if (d[k + 2] & 0x80)
			seq = top + v + ((uint64_t)(d[k + 2] & 0x7f) << 16);
		else
			seq = top > v % 2048 ? top - v % 2048 : v % 2048;
		if (seq == 0)
			want = -ERANGE;
		else if (seq > top)
			want = 0;
		else if (top - seq >= SL_REPLAY_WINDOW)
			want = -ERANGE;
		else {
			want = 0;
			for (i = 0; i < n; i++)
				if (accepted[i] == seq)
					want = -EALREADY;
		}
		rc = sl_replay_check(&w, seq);
		FUZZ_CHECK(rc == want);
		if (rc == 0) {
			accepted[n++] = seq;
			if (seq > top)
				top = seq;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t dir, flip = 0;
	int enc;

	if (size < 1)
		return 0;
	enc = data[0] & 1;
	dir = (data[0] >> 1) & 1;
	data++, size--;
	open_received(data, size, dir);
	if (size >= 4)
		memcpy(&flip, data, 4);
	round_trip(data, size, dir, enc, flip);
	replay(data, size);
	return 0;
}
