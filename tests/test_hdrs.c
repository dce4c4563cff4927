/* SPDX-License-Identifier: BSD-3-Clause */
/* Header block and header filter tests (protocol version 4): round trips, every limit, bad blocks and filters, evaluation. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/filter.h>
#include <common/hdrs.h>

#include "check.h"

static uint8_t blk[1024];

/* A block of key "k1" and headers region=eu, prio=7, flag= (empty value). */
static int
sample(void)
{
	const struct sl_header h[3] = {
		{ "region", "eu", 2 }, { "prio", "7", 1 }, { "flag", NULL, 0 },
	};

	return sl_hdrs_build(blk, sizeof(blk), "k1", 2, h, 3);
}

static void
test_round_trip(void)
{
	struct sl_hdrs_view v;
	const uint8_t *val;
	size_t vlen;
	int n = sample();

	/* 2 + key 2 + (2+6+2) + (2+4+1) + (2+4+0) */
	CHECK_EQ(n, 2 + 2 + 10 + 7 + 6);
	CHECK(sl_hdrs_parse(blk, (size_t)n, &v) == 0);
	CHECK(v.n == 3 && v.key_len == 2 && memcmp(v.key, "k1", 2) == 0 && v.len == n);
	CHECK(sl_hdrs_get(&v, "region", 6, &val, &vlen) == 1 && vlen == 2 && !memcmp(val, "eu", 2));
	CHECK(sl_hdrs_get(&v, "flag", 4, &val, &vlen) == 1 && vlen == 0);
	CHECK(sl_hdrs_get(&v, "Region", 6, &val, &vlen) == 0); /* case-sensitive */
	CHECK(sl_hdrs_get(&v, "regio", 5, &val, &vlen) == 0);
	CHECK(sl_hdrs_block_len(blk, (size_t)n + 100) == n);
	CHECK(sl_hdrs_reserved(&v) == 0);
	/* No key, no headers: the smallest block. */
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, NULL, 0) == 2);
	CHECK(sl_hdrs_parse(blk, 2, &v) == 0 && v.n == 0 && v.key == NULL);
	/* Too small a buffer. */
	CHECK(sl_hdrs_build(blk, 3, "k1", 2, NULL, 0) == -ENOSPC);
}

static void
test_limits(void)
{
	struct sl_header h[SL_MAX_HDRS + 1];
	char names[SL_MAX_HDRS + 1][8];
	static char big[SL_MAX_HDR_VALUE + 1], key[SL_MAX_KEY + 1], lname[SL_MAX_HDR_NAME + 2];
	struct sl_hdrs_view v;
	unsigned i;
	int n;

	memset(big, 'v', sizeof(big));
	memset(key, 'k', sizeof(key));
	for (i = 0; i <= SL_MAX_HDRS; i++) {
		snprintf(names[i], sizeof(names[i]), "h%u", i);
		h[i] = (struct sl_header){ names[i], "x", 1 };
	}
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, SL_MAX_HDRS) > 0);
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, SL_MAX_HDRS + 1) == -EINVAL);
	CHECK(sl_hdrs_build(blk, sizeof(blk), key, SL_MAX_KEY, NULL, 0) == 2 + SL_MAX_KEY);
	CHECK(sl_hdrs_build(blk, sizeof(blk), key, SL_MAX_KEY + 1, NULL, 0) == -EINVAL);
	h[0].value = big;
	h[0].value_len = SL_MAX_HDR_VALUE;
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1) > 0);
	h[0].value_len = SL_MAX_HDR_VALUE + 1;
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1) == -EINVAL);
	memset(lname, 'n', SL_MAX_HDR_NAME);
	lname[SL_MAX_HDR_NAME] = 0;
	h[0] = (struct sl_header){ lname, "x", 1 };
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1) > 0);
	lname[SL_MAX_HDR_NAME] = 'n';
	lname[SL_MAX_HDR_NAME + 1] = 0;
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1) == -EINVAL);
	/* Over SL_MAX_HDRS_LEN in all: 4 values of 128 are 4 x 134 > 512. */
	for (i = 0; i < 4; i++)
		h[i] = (struct sl_header){ names[i], big, SL_MAX_HDR_VALUE };
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 3) > 0);
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 4) == -EINVAL);
	/* Bad, empty and repeated names. */
	h[0] = (struct sl_header){ "a b", "x", 1 };
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1) == -EINVAL);
	h[0] = (struct sl_header){ "", "x", 1 };
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1) == -EINVAL);
	h[0] = (struct sl_header){ "dup", "x", 1 };
	h[1] = (struct sl_header){ "dup", "y", 1 };
	CHECK(sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 2) == -EINVAL);
	/* A reserved name builds (the broker writes them) and is flagged. */
	h[0] = (struct sl_header){ SL_HDR_DELIVERY_COUNT, "3", 1 };
	n = sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1);
	CHECK(n > 0 && sl_hdrs_parse(blk, (size_t)n, &v) == 0 && sl_hdrs_reserved(&v) == 1);
	h[0] = (struct sl_header){ "sl", "3", 1 }; /* not the prefix */
	n = sl_hdrs_build(blk, sizeof(blk), NULL, 0, h, 1);
	CHECK(n > 0 && sl_hdrs_parse(blk, (size_t)n, &v) == 0 && sl_hdrs_reserved(&v) == 0);
}

/* Every malformed block is refused: truncated at each length, trailing
 * bytes, counts and lengths over their limits, bad and repeated names. */
static void
test_bad_blocks(void)
{
	struct sl_hdrs_view v;
	uint8_t b[64];
	int n = sample(), i;

	for (i = 0; i < n; i++)
		CHECK(sl_hdrs_parse(blk, (size_t)i, &v) == -EBADMSG);
	CHECK(sl_hdrs_parse(blk, (size_t)n + 1, &v) == -EBADMSG); /* a byte left over */
	CHECK(sl_hdrs_parse(blk, SL_MAX_HDRS_LEN + 1, &v) == -EBADMSG);
	memcpy(b, blk, (size_t)n);
	b[0] = SL_MAX_HDRS + 1; /* count */
	CHECK(sl_hdrs_parse(b, (size_t)n, &v) == -EBADMSG);
	CHECK(sl_hdrs_block_len(b, (size_t)n) == -EBADMSG);
	memcpy(b, blk, (size_t)n);
	b[1] = SL_MAX_KEY + 1; /* key length */
	CHECK(sl_hdrs_parse(b, (size_t)n, &v) == -EBADMSG);
	memcpy(b, blk, (size_t)n);
	b[4] = 0; /* first name length 0 */
	CHECK(sl_hdrs_parse(b, (size_t)n, &v) == -EBADMSG);
	memcpy(b, blk, (size_t)n);
	b[6] = ' '; /* a space in the first name */
	CHECK(sl_hdrs_parse(b, (size_t)n, &v) == -EBADMSG);
	memcpy(b, blk, (size_t)n);
	memcpy(b + 6, "prio\0\0", 6); /* region -> prio, but the length says 6 */
	CHECK(sl_hdrs_parse(b, (size_t)n, &v) == -EBADMSG);
	/* Two headers of one name. */
	memcpy(b, "\x02\x00\x01\x01" "a1" "\x01\x01" "b2", 10);
	CHECK(sl_hdrs_parse(b, 10, &v) == 0 && v.n == 2);
	memcpy(b, "\x02\x00\x01\x01" "x1" "\x01\x01" "x2", 10);
	CHECK(sl_hdrs_parse(b, 10, &v) == -EBADMSG);
	/* A value over its limit, whatever the block's length. */
	memset(b, 0, sizeof(b));
	b[0] = 1;
	b[2] = 1;
	b[3] = SL_MAX_HDR_VALUE + 1;
	CHECK(sl_hdrs_parse(b, 4 + 1 + SL_MAX_HDR_VALUE + 1, &v) == -EBADMSG);
	/* Seeded random bytes: never a crash, and what parses rebuilds the same. */
	srand(14);
	for (i = 0; i < 20000; i++) {
		uint8_t r[40], out[600];
		size_t len = (size_t)(rand() % 40), k;
		int m;

		for (k = 0; k < len; k++)
			r[k] = (uint8_t)(k < 2 ? rand() % 4 : rand() % 8 == 0 ? rand() % 6 : 'a' + rand() % 3);
		if (sl_hdrs_parse(r, len, &v) == 0) {
			struct sl_header h[SL_MAX_HDRS];
			char nm[SL_MAX_HDRS][SL_MAX_HDR_NAME + 1];
			unsigned j;

			for (j = 0; j < v.n; j++) {
				memcpy(nm[j], v.h[j].name, v.h[j].name_len);
				nm[j][v.h[j].name_len] = 0;
				h[j] = (struct sl_header){ nm[j], v.h[j].value, v.h[j].value_len };
			}
			m = sl_hdrs_build(out, sizeof(out), v.key, v.key_len, h, v.n);
			CHECK(m == (int)len && memcmp(out, r, len) == 0);
		}
	}
}

static void
test_filter(void)
{
	struct sl_filter_clause c[SL_MAX_FILTER_CLAUSES + 1];
	struct sl_hdrs_view v, none;
	uint8_t wire[SL_MAX_FILTER_LEN + 8];
	struct sl_filter f;
	char nm[SL_MAX_HDR_NAME + 1];
	int n, len = sample();

	CHECK(sl_hdrs_parse(blk, (size_t)len, &v) == 0);
	CHECK(sl_hdrs_parse("\x00\x00", 2, &none) == 0);

	c[0] = (struct sl_filter_clause){ SL_FILTER_EQ, "region", "eu", 2 };
	n = sl_filter_build(wire, sizeof(wire), c, 1);
	CHECK(n == 1 + 3 + 6 + 2);
	CHECK(sl_filter_parse(wire, (size_t)n, &f) == 0 && f.n == 1);
	CHECK(sl_filter_match(&f, &v) == 1);
	CHECK(sl_filter_match(&f, &none) == 0);
	CHECK(sl_filter_match(&f, NULL) == 0); /* no headers at all */
	c[0].value = "us";
	n = sl_filter_build(wire, sizeof(wire), c, 1);
	CHECK(sl_filter_parse(wire, (size_t)n, &f) == 0 && sl_filter_match(&f, &v) == 0);
	c[0].value = "e"; /* a prefix is not equal */
	c[0].value_len = 1;
	n = sl_filter_build(wire, sizeof(wire), c, 1);
	CHECK(sl_filter_parse(wire, (size_t)n, &f) == 0 && sl_filter_match(&f, &v) == 0);

	/* AND of four: present, equal, key, equal to an empty value. */
	c[0] = (struct sl_filter_clause){ SL_FILTER_PRESENT, "prio", NULL, 0 };
	c[1] = (struct sl_filter_clause){ SL_FILTER_EQ, "region", "eu", 2 };
	c[2] = (struct sl_filter_clause){ SL_FILTER_KEY_EQ, NULL, "k1", 2 };
	c[3] = (struct sl_filter_clause){ SL_FILTER_EQ, "flag", NULL, 0 };
	n = sl_filter_build(wire, sizeof(wire), c, 4);
	CHECK(sl_filter_parse(wire, (size_t)n, &f) == 0 && f.n == 4);
	CHECK(sl_filter_match(&f, &v) == 1);
	c[2].value = "k2";
	n = sl_filter_build(wire, sizeof(wire), c, 4);
	CHECK(sl_filter_parse(wire, (size_t)n, &f) == 0 && sl_filter_match(&f, &v) == 0);
	c[2].value = "k1";
	c[0].name = "missing";
	n = sl_filter_build(wire, sizeof(wire), c, 4);
	CHECK(sl_filter_parse(wire, (size_t)n, &f) == 0 && sl_filter_match(&f, &v) == 0);

	/* Bad filters: none or too many clauses, unknown op, PRESENT with a
	 * value, KEY_EQ with a name or without a value, bad names, bytes
	 * over or short, longer than SL_MAX_FILTER_LEN. */
	CHECK(sl_filter_build(wire, sizeof(wire), c, 0) == -EINVAL);
	c[4] = c[1];
	CHECK(sl_filter_build(wire, sizeof(wire), c, 5) == -EINVAL);
	CHECK(sl_filter_parse("\x00", 1, &f) == -EBADMSG);
	CHECK(sl_filter_parse("\x05", 1, &f) == -EBADMSG);
	CHECK(sl_filter_parse("\x01\x09\x01\x00" "a", 5, &f) == -EBADMSG);      /* op 9 */
	CHECK(sl_filter_parse("\x01\x02\x01\x01" "ab", 6, &f) == -EBADMSG);     /* PRESENT value */
	CHECK(sl_filter_parse("\x01\x02\x01\x00" "a", 5, &f) == 0);
	CHECK(sl_filter_parse("\x01\x03\x01\x01" "ab", 6, &f) == -EBADMSG);     /* KEY_EQ name */
	CHECK(sl_filter_parse("\x01\x03\x00\x00", 4, &f) == -EBADMSG);          /* empty key */
	CHECK(sl_filter_parse("\x01\x03\x00\x01" "k", 5, &f) == 0);
	CHECK(sl_filter_parse("\x01\x01\x01\x01" " x", 6, &f) == -EBADMSG);     /* bad name */
	CHECK(sl_filter_parse("\x01\x01\x00\x01" "x", 5, &f) == -EBADMSG);      /* EQ, no name */
	CHECK(sl_filter_parse("\x01\x01\x01\x01" "ax", 5, &f) == -EBADMSG);     /* short */
	CHECK(sl_filter_parse("\x01\x01\x01\x01" "axz", 7, &f) == -EBADMSG);    /* over */
	CHECK(sl_filter_parse(wire, SL_MAX_FILTER_LEN + 1, &f) == -EBADMSG);
	/* A filter may name the broker's headers (dead letters). */
	c[0] = (struct sl_filter_clause){ SL_FILTER_PRESENT, SL_HDR_LAST_ERROR, NULL, 0 };
	CHECK(sl_filter_build(wire, sizeof(wire), c, 1) > 0);

	/* The tools' text form. */
	CHECK(sl_filter_clause_from_text("region=eu", &c[0], nm) == 0);
	CHECK(c[0].op == SL_FILTER_EQ && strcmp(c[0].name, "region") == 0 && c[0].value_len == 2);
	CHECK(sl_filter_clause_from_text("prio", &c[0], nm) == 0 && c[0].op == SL_FILTER_PRESENT);
	CHECK(sl_filter_clause_from_text("@key=k1", &c[0], nm) == 0 &&
	      c[0].op == SL_FILTER_KEY_EQ && c[0].value_len == 2);
	CHECK(sl_filter_clause_from_text("empty=", &c[0], nm) == 0 && c[0].value_len == 0);
	CHECK(sl_filter_clause_from_text("@key=", &c[0], nm) == -EINVAL);
	CHECK(sl_filter_clause_from_text("@other=x", &c[0], nm) == -EINVAL);
	CHECK(sl_filter_clause_from_text("=x", &c[0], nm) == -EINVAL);
	CHECK(sl_filter_clause_from_text("a b=x", &c[0], nm) == -EINVAL);
}

int
main(void)
{
	test_round_trip();
	test_limits();
	test_bad_blocks();
	test_filter();
	return check_result("test_hdrs");
}
