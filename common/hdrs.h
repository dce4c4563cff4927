/* SPDX-License-Identifier: BSD-3-Clause */
/* Message header block (protocol version 4): parse, build and look up a message's key and headers. */

#ifndef SLUICE_HDRS_H
#define SLUICE_HDRS_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/codes.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The block (PROTOCOL.md 5.8.1), little-endian, no alignment inside:
 *   u8 n (0..SL_MAX_HDRS), u8 key_len (0..SL_MAX_KEY), key[key_len],
 *   n x { u8 name_len (1..SL_MAX_HDR_NAME), u8 value_len (0..SL_MAX_HDR_VALUE),
 *         name[name_len], value[value_len] }
 * at most SL_MAX_HDRS_LEN bytes, no padding. Names are [A-Za-z0-9._-],
 * unique within a block; names starting "sl-" are the broker's.
 */

/* The reserved name prefix, and the broker's own header names. */
#define SL_HDR_RESERVED_PREFIX "sl-"
#define SL_HDR_DELIVERY_COUNT "sl-delivery-count"
#define SL_HDR_LAST_ERROR "sl-last-error"
#define SL_HDR_TOPIC "sl-topic"
#define SL_HDR_SEQ "sl-seq"

/* One header of a parsed block: pointers into the block. */
struct sl_hdr_ref {
	const uint8_t *name;
	const uint8_t *value;
	uint8_t name_len;
	uint8_t value_len;
};

/* A parsed block: valid as long as the block's bytes are. */
struct sl_hdrs_view {
	const uint8_t *key; /* NULL when key_len is 0 */
	uint8_t key_len;
	uint8_t n;
	uint16_t len;	    /* the block's bytes */
	struct sl_hdr_ref h[SL_MAX_HDRS];
};

/*
 * Parse and check the block @block of exactly @len bytes into @v.
 * Returns 0, or -EBADMSG when it is malformed: a count or a length over its
 * limit, bytes missing or left over, a bad or repeated name. Reserved
 * ("sl-") names are accepted here; sl_hdrs_reserved() tells. No allocation;
 * thread-safe.
 */
int sl_hdrs_parse(const void *block, size_t len, struct sl_hdrs_view *v);

/*
 * The length of the block at the start of @data (@avail bytes), read from
 * its own fields (a large message's first piece, PROTOCOL.md 18), or
 * -EBADMSG when its fields run past @avail or SL_MAX_HDRS_LEN. The block
 * is not otherwise checked: sl_hdrs_parse() it with the length found.
 */
int sl_hdrs_block_len(const void *data, size_t avail);

/* Does @v hold a name the broker keeps for itself ("sl-...")? */
int sl_hdrs_reserved(const struct sl_hdrs_view *v);

/* Is @name (@len bytes) a valid header name: 1..SL_MAX_HDR_NAME of [A-Za-z0-9._-]? */
int sl_hdrs_name_valid(const char *name, size_t len);

/*
 * Write the block of key @key (@key_len bytes, 0 for none) and headers
 * @hdrs[0..@n) at @dst (@cap bytes). Returns the block's length, -ENOSPC
 * when @cap is too small, or -EINVAL for what sl_hdrs_parse would refuse
 * (too many or too long, a bad or repeated name). Reserved names are the
 * caller's to refuse (the broker writes them in dead letters).
 */
int sl_hdrs_build(void *dst, size_t cap, const void *key, size_t key_len,
		  const struct sl_header *hdrs, unsigned n);

/*
 * The value of header @name (@name_len bytes) in @v: 1 with *@val and
 * *@len set, or 0 when it has none.
 */
int sl_hdrs_get(const struct sl_hdrs_view *v, const char *name, size_t name_len,
		const uint8_t **val, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_HDRS_H */
