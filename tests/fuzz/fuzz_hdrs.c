/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the header block and header filter decoders
 * (common/hdrs.c, common/filter.c: protocol version 4), both fed by
 * clients.
 *
 * Input: a selector byte, then bytes. The harness
 *   - parses the bytes as a header block: accepted or -EBADMSG; an accepted
 *     one points only inside the input, its self-described length
 *     (sl_hdrs_block_len) is its length, and rebuilding it from the view
 *     gives the same bytes;
 *   - parses the bytes as a filter: accepted or -EBADMSG; an accepted one
 *     evaluates against the block (when that parsed) and against no block
 *     (never a match), and rebuilds to the same bytes.
 */

#include <errno.h>

#include <common/filter.h>
#include <common/hdrs.h>

#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
block(const uint8_t *p, size_t n, struct sl_hdrs_view *v)
{
	struct sl_header h[SL_MAX_HDRS];
	char names[SL_MAX_HDRS][SL_MAX_HDR_NAME + 1];
	uint8_t out[SL_MAX_HDRS_LEN];
	unsigned i;
	int rc = sl_hdrs_parse(p, n, v), m;

	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc < 0)
		return 0;
	FUZZ_CHECK(sl_hdrs_block_len(p, n) == (int)n);
	FUZZ_CHECK(v->key_len == 0 || (v->key >= p && v->key + v->key_len <= p + n));
	for (i = 0; i < v->n; i++) {
		FUZZ_CHECK(v->h[i].name >= p && v->h[i].value + v->h[i].value_len <= p + n);
		memcpy(names[i], v->h[i].name, v->h[i].name_len);
		names[i][v->h[i].name_len] = 0;
		h[i] = (struct sl_header){ names[i], v->h[i].value, v->h[i].value_len };
	}
	m = sl_hdrs_build(out, sizeof(out), v->key, v->key_len, h, v->n);
	FUZZ_CHECK(m == (int)n && memcmp(out, p, n) == 0);
	return 1;
}

static void
filter(const uint8_t *p, size_t n, const struct sl_hdrs_view *v)
{
	struct sl_filter_clause c[SL_MAX_FILTER_CLAUSES];
	char names[SL_MAX_FILTER_CLAUSES][SL_MAX_HDR_NAME + 1];
	uint8_t out[SL_MAX_FILTER_LEN];
	struct sl_filter f;
	unsigned i;
	int rc = sl_filter_parse(p, n, &f), m;

	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc < 0)
		return;
	FUZZ_CHECK(sl_filter_match(&f, NULL) == 0);
	if (v != NULL)
		FUZZ_CHECK(sl_filter_match(&f, v) == 0 || sl_filter_match(&f, v) == 1);
	for (i = 0; i < f.n; i++) {
		memcpy(names[i], f.bytes + f.name_off[i], f.name_len[i]);
		names[i][f.name_len[i]] = 0;
		c[i] = (struct sl_filter_clause){ f.op[i], f.name_len[i] ? names[i] : NULL,
						  f.bytes + f.value_off[i], f.value_len[i] };
	}
	m = sl_filter_build(out, sizeof(out), c, f.n);
	FUZZ_CHECK(m == (int)n && memcmp(out, p, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_hdrs_view v;
	size_t split;
	int have;

	if (size < 1)
		return 0;
	/* The selector splits the rest: a block, then a filter. */
	split = size > 1 ? data[0] % size : 0;
	have = block(data + 1, split, &v);
	filter(data + 1 + split, size - 1 - split, have ? &v : NULL);
	return 0;
}
