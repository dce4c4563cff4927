/* SPDX-License-Identifier: BSD-3-Clause */
/* JSON reader and writer of the control plane: round trips, malformed input, limits. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "check.h"

static struct sl_json_doc *
parse(const char *s)
{
	struct sl_json_error err;
	struct sl_json_doc *d = NULL;

	if (sl_json_parse(&d, s, strlen(s), NULL, &err) < 0) {
		fprintf(stderr, "unexpected parse error at %zu: %s in %s\n", err.offset, err.msg, s);
		return NULL;
	}
	return d;
}

/* Parse must fail with @rc at @offset (or any offset when @offset < 0). */
static void
expect_fail(const char *s, size_t len, int rc, long offset)
{
	struct sl_json_error err;
	struct sl_json_doc *d = NULL;
	int got = sl_json_parse(&d, s, len, NULL, &err);

	CHECK(got == rc);
	CHECK(d == NULL);
	CHECK(err.msg[0] != '\0');
	CHECK(err.offset <= len);
	if (offset >= 0 && err.offset != (size_t)offset)
		fprintf(stderr, "offset %zu, expected %ld for %.60s (%s)\n", err.offset, offset, s,
			err.msg);
	CHECK(offset < 0 || err.offset == (size_t)offset);
	sl_json_doc_free(d);
}

static void
test_values(void)
{
	struct sl_json_doc *d = parse(" {\"a\":1,\"b\":[true,false,null],\"c\":\"x\\ty\","
				       "\"d\":-2.5e3,\"e\":18446744073709551615,\"f\":-9} ");
	const struct sl_json *r, *b;
	const char *s;
	uint64_t u;
	int v;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	r = sl_json_root(d);
	CHECK(r->type == SL_JSON_OBJ && r->v.kids.count == 6);
	CHECK(sl_json_get_u64(r, "a", &u) == 0 && u == 1);
	b = sl_json_get(r, "b");
	CHECK(b && b->type == SL_JSON_ARR && b->v.kids.count == 3);
	CHECK(b->v.kids.first->type == SL_JSON_BOOL && b->v.kids.first->v.boolean == 1);
	CHECK(b->v.kids.first->next->next->type == SL_JSON_NULL);
	CHECK(sl_json_get_str(r, "c", &s) == 0 && strcmp(s, "x\ty") == 0);
	CHECK(sl_json_get(r, "d")->v.num.d == -2500.0);
	CHECK(!(sl_json_get(r, "d")->flags & SL_JSON_F_INT));
	CHECK(sl_json_get_u64(r, "e", &u) == 0 && u == UINT64_MAX);
	CHECK(!(sl_json_get(r, "e")->flags & SL_JSON_F_INT));
	CHECK(sl_json_get(r, "f")->v.num.i == -9 && sl_json_get_u64(r, "f", &u) == -EINVAL);
	CHECK(sl_json_get_str(r, "a", &s) == -EINVAL);
	CHECK(sl_json_get_str(r, "zz", &s) == -ENOENT);
	CHECK(sl_json_get_bool(r, "a", &v) == -EINVAL);
	sl_json_doc_free(d);
}

static void
test_unicode(void)
{
	struct sl_json_doc *d = parse("[\"\\u00e9\\u20ac\\ud83d\\ude00\", \"caf\xc3\xa9\"]");
	const struct sl_json *a;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	a = sl_json_root(d)->v.kids.first;
	CHECK(strcmp(a->v.str.s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0);
	CHECK(a->v.str.len == 9);
	CHECK(strcmp(a->next->v.str.s, "caf\xc3\xa9") == 0);
	sl_json_doc_free(d);
}

/* parse -> write -> parse -> write gives the same text. */
static void
round_trip(const char *in, const char *expect)
{
	struct sl_json_doc *d = parse(in), *d2;
	struct sl_jw w, w2;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	sl_jw_init(&w, 1 << 20);
	sl_jw_value(&w, sl_json_root(d));
	CHECK(w.err == 0);
	if (expect != NULL && strcmp(w.buf, expect) != 0)
		fprintf(stderr, "wrote %s, expected %s\n", w.buf, expect);
	CHECK(expect == NULL || strcmp(w.buf, expect) == 0);
	d2 = parse(w.buf);
	CHECK(d2 != NULL);
	sl_jw_init(&w2, 1 << 20);
	if (d2 != NULL)
		sl_jw_value(&w2, sl_json_root(d2));
	CHECK(w2.buf != NULL && strcmp(w.buf, w2.buf) == 0);
	sl_jw_free(&w);
	sl_jw_free(&w2);
	sl_json_doc_free(d);
	sl_json_doc_free(d2);
}

static void
test_round_trips(void)
{
	round_trip("{ \"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" : \"q\\\"\\\\\\/\" }",
		   "{\"a\":[1,2,{},[]],\"b\":\"q\\\"\\\\/\"}");
	round_trip("[0.1,-0,1e-5,123456789012345678,-9223372036854775808]",
		   "[0.1,0,1e-05,123456789012345678,-9223372036854775808]");
	round_trip("\"\\u0001\\b\\f\\n\\r\\t\\u001f\"", "\"\\u0001\\u0008\\u000c\\n\\r\\t\\u001f\"");
	round_trip("{\"\\u00e9\":\"\\ud83d\\ude00\"}", NULL);
	round_trip("true", "true");
	round_trip("null", "null");
}

static void
test_writer(void)
{
	struct sl_jw w;

	sl_jw_init(&w, 1024);
	sl_jw_obj_begin(&w);
	sl_jw_key(&w, "a\"b");
	sl_jw_u64(&w, 7);
	sl_jw_key(&w, "l");
	sl_jw_arr_begin(&w);
	sl_jw_str(&w, "x\ny");
	sl_jw_i64(&w, -3);
	sl_jw_bool(&w, 1);
	sl_jw_null(&w);
	sl_jw_double(&w, 0.5);
	sl_jw_obj_begin(&w);
	sl_jw_obj_end(&w);
	sl_jw_arr_end(&w);
	sl_jw_obj_end(&w);
	CHECK(w.err == 0);
	CHECK(strcmp(w.buf, "{\"a\\\"b\":7,\"l\":[\"x\\ny\",-3,true,null,0.5,{}]}") == 0);
	sl_jw_free(&w);
	/* The size limit is sticky. */
	sl_jw_init(&w, 16);
	sl_jw_str(&w, "0123456789abcdefghij");
	CHECK(w.err == -E2BIG);
	sl_jw_null(&w);
	CHECK(w.err == -E2BIG);
	sl_jw_free(&w);
}

static void
test_malformed(void)
{
	static const struct {
		const char *s;
		long off;
	} bad[] = {
		{ "", 0 },		 { "   ", 3 },		 { "{", 1 },
		{ "{\"a\"", 4 },	 { "{\"a\":", 5 },	 { "{\"a\":1", 6 },
		{ "{\"a\":1,}", 7 },	 { "[1,]", 3 },		 { "[1 2]", 3 },
		{ "\"abc", 4 },		 { "tru", 0 },		 { "nul", 0 },
		{ "01", 1 },		 { "-", 1 },		 { "1.", 2 },
		{ "1e", 2 },		 { "1e+", 3 },		 { ".5", 0 },
		{ "+1", 0 },		 { "1 2", 2 },		 { "{1:2}", 1 },
		{ "{\"a\" 1}", 5 },	 { "\"\\x\"", 2 },	 { "\"\\u12\"", 5 },
		{ "\"\\u12g4\"", 5 },	 { "\"\\ud800\"", 7 },	 { "\"\\udc00\"", 3 },
		{ "\"\\ud800\\u0041\"", 7 }, { "\"\\u0000\"", 3 }, { "\"a\tb\"", 2 },
		{ "1e999", 0 },		 { "-1e999", 0 },	 { "18446744073709551616", 0 },
		{ "-9223372036854775809", 0 }, { "{\"a\":1,\"a\":2}", 7 }, { "[1]x", 3 },
		{ "\"\xc3\"", 1 },	 { "\"\xc0\xaf\"", 1 },	 { "\"\xed\xa0\x80\"", 1 },
		{ "\"\xf5\x80\x80\x80\"", 1 }, { "\"\xe2\x82\"", 1 }, { "\"\\", 2 },
	};
	char big[200];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fail(bad[i].s, strlen(bad[i].s), -EINVAL, bad[i].off);
	/* An embedded NUL byte is a control character, not an end. */
	expect_fail("\"a\0b\"", 5, -EINVAL, 2);
	/* Numbers longer than the converter's buffer. */
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_fail(big, strlen(big), -EINVAL, 0);
}

static void
test_limits(void)
{
	struct sl_json_limits lim = { 64, 4, 1 << 20 };
	struct sl_json_error err;
	struct sl_json_doc *d = NULL;
	char *deep;
	size_t i, n = 100001; /* odd: "[0,0,...,0]" */

	CHECK(sl_json_parse(&d, "[[[[1]]]]", 9, &lim, &err) == 0);
	sl_json_doc_free(d);
	d = NULL;
	CHECK(sl_json_parse(&d, "[[[[[1]]]]]", 11, &lim, &err) == -E2BIG);
	CHECK(err.offset == 4 && d == NULL);
	CHECK(sl_json_parse(&d, "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]",
			    68, &lim, &err) == -E2BIG);
	/* Deep nesting with the defaults: refused, no stack overflow. */
	deep = malloc(n);
	for (i = 0; i < n; i++)
		deep[i] = i < n / 2 ? '[' : ']';
	CHECK(sl_json_parse(&d, deep, n, NULL, &err) == -E2BIG);
	CHECK(err.offset == SL_JSON_DEFAULT_MAX_DEPTH);
	/* Memory: a long array of small values against a small budget. */
	lim.max_len = n;
	lim.max_depth = 8;
	lim.max_mem = 4096;
	deep[0] = '[';
	for (i = 1; i < n - 1; i++)
		deep[i] = i % 2 ? '0' : ',';
	deep[n - 1] = ']';
	deep[n - 2] = '0';
	CHECK(sl_json_parse(&d, deep, n, &lim, &err) == -E2BIG);
	CHECK(err.offset > 0 && err.offset < n);
	lim.max_mem = 64u << 20;
	CHECK(sl_json_parse(&d, deep, n, &lim, &err) == 0);
	CHECK(d != NULL && sl_json_root(d)->v.kids.count == n / 2);
	sl_json_doc_free(d);
	free(deep);
}

/* Random bytes and mutated valid documents: no crash, no leak, either
 * a tree or an error with an offset inside the input. */
static void
test_garbage(void)
{
	static const char seed[] = "{\"cmd\":\"topic.create\",\"args\":{\"name\":\"a.b\","
				   "\"durability\":\"sync\",\"retain_mb\":12,\"x\":[1.5,-2,true,"
				   "null,\"\\u00e9\\ud83d\\ude00\"]}}";
	static const char alphabet[] = "{}[]\":,\\ u0123456789abcdefntrl.-+eE\xc3\xa9\x80\xff";
	struct sl_json_error err;
	struct sl_json_doc *d;
	char buf[256];
	size_t len, j;
	int i, ok = 0;

	for (i = 0; i < 200000; i++) {
		if (i % 2) {
			len = rng() % sizeof(buf);
			for (j = 0; j < len; j++)
				buf[j] = alphabet[rng() % (sizeof(alphabet) - 1)];
		} else {
			len = sizeof(seed) - 1;
			memcpy(buf, seed, len);
			for (j = rng() % 4; j-- > 0;)
				buf[rng() % len] = (char)rng();
			if (rng() % 4 == 0)
				len = rng() % len;
		}
		d = NULL;
		if (sl_json_parse(&d, buf, len, NULL, &err) == 0) {
			ok++;
			CHECK(d != NULL);
			sl_json_doc_free(d);
		} else {
			CHECK(d == NULL && err.offset <= len && err.msg[0] != '\0');
		}
	}
	CHECK(ok > 0);
}

int
main(void)
{
	test_values();
	test_unicode();
	test_round_trips();
	test_writer();
	test_malformed();
	test_limits();
	test_garbage();
	return check_result("json");
}
