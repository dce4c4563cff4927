/* SPDX-License-Identifier: BSD-3-Clause */
/* Header filters (protocol version 4): the wire form carried by SUBSCRIBE, PSUBSCRIBE and GJOIN, and their evaluation. */

#ifndef SLUICE_FILTER_H
#define SLUICE_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <common/hdrs.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Wire form (PROTOCOL.md 5.6.1): u8 n_clauses (1..SL_MAX_FILTER_CLAUSES),
 * then per clause u8 op, u8 name_len, u8 value_len, name, value; at most
 * SL_MAX_FILTER_LEN bytes in all, nothing after the last clause.
 * EQ: name 1..32 valid header name bytes, value 0..128 bytes.
 * PRESENT: a name, value_len 0. KEY_EQ: name_len 0, value 1..SL_MAX_KEY.
 * Every clause must hold (AND). A message without headers fails every
 * clause (no key: KEY_EQ fails too).
 */

/* A checked filter, ready to evaluate: offsets into @bytes, a copy of the
 * wire form, so it lives on without the frame. */
struct sl_filter {
	uint8_t n;
	uint8_t op[SL_MAX_FILTER_CLAUSES];
	uint8_t name_len[SL_MAX_FILTER_CLAUSES];
	uint8_t value_len[SL_MAX_FILTER_CLAUSES];
	uint16_t name_off[SL_MAX_FILTER_CLAUSES];
	uint16_t value_off[SL_MAX_FILTER_CLAUSES];
	uint16_t len; /* wire bytes */
	uint8_t bytes[SL_MAX_FILTER_LEN];
};

/*
 * Check the wire form @wire (@len bytes) and fill @f. Returns 0, or
 * -EBADMSG when it is malformed (counts, lengths, an unknown op, a bad
 * name, bytes left over). No allocation; thread-safe.
 */
int sl_filter_parse(const void *wire, size_t len, struct sl_filter *f);

/*
 * Does the message whose parsed header block is @v (NULL: a message
 * without one) pass @f? 1 or 0. No allocation; thread-safe.
 */
int sl_filter_match(const struct sl_filter *f, const struct sl_hdrs_view *v);

/*
 * Write the wire form of clauses @c[0..@n) at @dst (@cap bytes). Returns
 * its length, -ENOSPC, or -EINVAL for what sl_filter_parse would refuse.
 */
int sl_filter_build(void *dst, size_t cap, const struct sl_filter_clause *c, unsigned n);

/*
 * One clause from text (the tools' --filter): "name=value" (EQ), "name"
 * (PRESENT), "@key=value" (KEY_EQ). The name is copied into @name; the
 * value points into @text. Returns 0 or -EINVAL.
 */
int sl_filter_clause_from_text(const char *text, struct sl_filter_clause *c,
			       char name[SL_MAX_HDR_NAME + 1]);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_FILTER_H */
