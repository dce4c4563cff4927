/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the replication protocol's decoder (common/repl.c):
 * the header check, the seal's verification and the frame walk.
 *
 * Input: a flags byte, then a datagram. Bit 0 of the flags: seal the
 * datagram's bytes first (the header and tag rewritten by sl_repl_seal,
 * the frames as given), so that the frame parser is reached behind a valid
 * tag; bit 1: encrypt it. The harness
 *   - opens the datagram as a receiver would: a refusal leaves every byte
 *     as it was and the receiver's state (incarnation) unchanged; an
 *     opened one is walked frame by frame: every frame lies inside the
 *     datagram, offsets grow, each type's fixed part and a DATA chunk fit;
 *   - opens the same datagram again: a replay, refused;
 *   - flips one bit of a sealed copy: refused.
 */

#include <errno.h>

#include <common/cnc.h>
#include <common/repl.h>

#include "fuzz.h"

#define NOW_MS 1700000000000ull

static const uint8_t key[SL_KEY_LEN] = { 0x72, 0x65, 0x70, 0x6c, 1, 2, 3, 4, 5, 6, 7, 8 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(sl_crypto_init() == 0);
	return 0;
}

static void
walk(const uint8_t *buf, uint32_t len)
{
	const struct sl_repl_fhdr *f;
	uint32_t off = sizeof(struct sl_repl_hdr), prev = 0;
	int type;

	while ((type = sl_repl_next(buf, len, &off, &f)) != 0) {
		if (type == -EINVAL)
			break;
		FUZZ_CHECK(off > prev && off <= len - SL_REPL_TAG_LEN);
		FUZZ_CHECK((const uint8_t *)f >= buf + sizeof(struct sl_repl_hdr));
		FUZZ_CHECK((const uint8_t *)f + f->len <= buf + len - SL_REPL_TAG_LEN);
		prev = off;
		if (type == -ENOTSUP)
			continue;
		FUZZ_CHECK(type > 0 && type < SL_REPL_TYPES);
		if (type == SL_REPL_DATA) {
			const struct sl_repl_data *d = (const void *)f;
			uint32_t chunk;
			const uint8_t *c = sl_repl_data_chunk(d, &chunk);
			volatile uint8_t sink = 0;

			FUZZ_CHECK(d->frag_off + (uint64_t)chunk <= d->total_len);
			if (chunk)
				sink = c[chunk - 1]; /* inside the datagram (ASan) */
			(void)sink;
		} else if (type == SL_REPL_TOPIC) {
			const struct sl_repl_topic *t = (const void *)f;

			FUZZ_CHECK(t->name_len >= 1 && t->name_len <= SL_REPL_NAME_MAX);
			FUZZ_CHECK(f->len == sizeof(*t) + t->name_len);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[SL_REPL_DGRAM_MAX], copy[SL_REPL_DGRAM_MAX];
	struct sl_repl_rx rx;
	uint32_t len;
	uint8_t flags;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	data++, size--;
	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	len = (uint32_t)size;
	if ((flags & 1) && size >= sizeof(struct sl_repl_hdr) + SL_REPL_TAG_LEN) {
		struct sl_repl_tx tx;
		struct sl_repl_dgram d;

		/* The frames as given, behind a valid seal. */
		len = (uint32_t)size & ~7u;
		sl_repl_tx_init(&tx, key, 1 + (flags >> 4));
		d.buf = buf;
		d.cap = len;
		d.len = len - SL_REPL_TAG_LEN;
		d.frames = 1;
		rc = sl_repl_seal(&tx, &d, SL_HA_ROLE_PRIMARY, 3, (flags & 2) ? SL_REPL_F_ENC : 0,
				  NOW_MS);
		FUZZ_CHECK(rc == (int)len);
	}
	memcpy(copy, buf, len);
	sl_repl_rx_init(&rx, key, 10000);
	rc = sl_repl_rx_open(&rx, buf, len, NOW_MS);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTO || rc == -EMSGSIZE ||
		   rc == -EINVAL || rc == -EALREADY || rc == -ETIMEDOUT);
	if (rc < 0) {
		FUZZ_CHECK(rx.incarnation == 0);
		FUZZ_CHECK(memcmp(buf, copy, len) == 0);
		/* The frame walk must hold on any bytes, sealed or not. */
		walk(buf, len);
		return 0;
	}
	FUZZ_CHECK(flags & 1); /* nothing forges the tag */
	walk(buf, len);
	/* The same datagram again: a replay. */
	FUZZ_CHECK(sl_repl_rx_open(&rx, copy, len, NOW_MS) == -EALREADY);
	/* One bit flipped anywhere: refused, unchanged. */
	{
		struct sl_repl_rx rx2;
		uint32_t bit = (uint32_t)(size * 131 + flags) % (len * 8);

		sl_repl_rx_init(&rx2, key, 10000);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memcpy(buf, copy, len);
		FUZZ_CHECK(sl_repl_rx_open(&rx2, buf, len, NOW_MS) != 0);
		FUZZ_CHECK(memcmp(buf, copy, len) == 0);
	}
	return 0;
}
