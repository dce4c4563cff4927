/* SPDX-License-Identifier: BSD-3-Clause */
/* The control plane's JSON contract over libjansson: typed access, strictness, escaping, depth. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

#include "check.h"

static json_t *
parse_n(const char *s, size_t len)
{
	json_error_t err;
	json_t *d = json_loadb(s, len, SL_JSON_LOAD_FLAGS, &err);

	if (d == NULL)
		fprintf(stderr, "unexpected parse error at %d: %s in %s\n", err.position, err.text, s);
	return d;
}

static json_t *
parse(const char *s)
{
	return parse_n(s, strlen(s));
}

/* Parse must fail, with a message and a position inside the input. */
static void
expect_fail(const char *s, size_t len)
{
	json_error_t err;
	json_t *d = json_loadb(s, len, SL_JSON_LOAD_FLAGS, &err);

	if (d != NULL)
		fprintf(stderr, "accepted: %.60s\n", s);
	CHECK(d == NULL);
	CHECK(err.text[0] != '\0');
	CHECK(err.position >= 0 && (size_t)err.position <= len);
	json_decref(d);
}

static void
test_values(void)
{
	json_t *r = parse(" {\"a\":1,\"b\":[true,false,null],\"c\":\"x\\ty\","
			  "\"d\":-2.5e3,\"e\":9223372036854775807,\"f\":-9,\"n\":null} ");
	const json_t *b;
	const char *s;
	uint64_t u;
	int v;

	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK(json_is_object(r) && json_object_size(r) == 7);
	CHECK(sl_jget_u64(r, "a", &u) == 0 && u == 1);
	b = json_object_get(r, "b");
	CHECK(json_is_array(b) && json_array_size(b) == 3);
	CHECK(json_is_true(json_array_get(b, 0)) && json_is_null(json_array_get(b, 2)));
	CHECK(sl_jget_str(r, "c", &s) == 0 && strcmp(s, "x\ty") == 0);
	CHECK(json_is_real(json_object_get(r, "d")) &&
	      json_real_value(json_object_get(r, "d")) == -2500.0);
	/* A real is not an integer argument. */
	CHECK(sl_jget_u64(r, "d", &u) == -EINVAL);
	CHECK(sl_jget_u64(r, "e", &u) == 0 && u == INT64_MAX);
	CHECK(sl_jget_u64(r, "f", &u) == -EINVAL);
	CHECK(sl_jget_str(r, "a", &s) == -EINVAL);
	CHECK(sl_jget_str(r, "zz", &s) == -ENOENT);
	CHECK(sl_jget_str(r, "n", &s) == -ENOENT);
	CHECK(sl_jget_bool(r, "a", &v) == -EINVAL);
	CHECK(sl_jget_bool(json_object_get(r, "b"), "x", &v) == -ENOENT);
	json_decref(r);
	/* uint64 output saturates at jansson's int64. */
	r = sl_json_u64(UINT64_MAX);
	CHECK(json_integer_value(r) == INT64_MAX);
	json_decref(r);
	r = sl_json_real(0.0 / 0.0);
	CHECK(json_is_null(r));
	json_decref(r);
}

static void
test_unicode(void)
{
	json_t *d = parse("[\"\\u00e9\\u20ac\\ud83d\\ude00\", \"caf\xc3\xa9\"]");

	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK(strcmp(json_string_value(json_array_get(d, 0)),
		     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0);
	CHECK(json_string_length(json_array_get(d, 0)) == 9);
	CHECK(strcmp(json_string_value(json_array_get(d, 1)), "caf\xc3\xa9") == 0);
	json_decref(d);
}

/* parse -> dump -> parse -> dump gives the same text. */
static void
round_trip(const char *in, const char *expect)
{
	json_t *d = parse(in), *d2;
	char *w, *w2;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	w = json_dumps(d, SL_JSON_DUMP_FLAGS | JSON_ENCODE_ANY);
	CHECK(w != NULL);
	if (w == NULL)
		return;
	if (expect != NULL && strcmp(w, expect) != 0)
		fprintf(stderr, "wrote %s, expected %s\n", w, expect);
	CHECK(expect == NULL || strcmp(w, expect) == 0);
	d2 = json_loads(w, SL_JSON_LOAD_FLAGS | JSON_DECODE_ANY, NULL);
	CHECK(d2 != NULL);
	w2 = d2 ? json_dumps(d2, SL_JSON_DUMP_FLAGS | JSON_ENCODE_ANY) : NULL;
	CHECK(w2 != NULL && strcmp(w, w2) == 0);
	free(w);
	free(w2);
	json_decref(d);
	json_decref(d2);
}

static void
test_round_trips(void)
{
	round_trip("{ \"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" : \"q\\\"\\\\\\/\" }",
		   "{\"a\":[1,2,{},[]],\"b\":\"q\\\"\\\\/\"}");
	round_trip("[0.1,1e-5,123456789012345678,-9223372036854775808]", NULL);
	round_trip("[\"\\u0001\\b\\f\\n\\r\\t\\u001f\"]",
		   "[\"\\u0001\\b\\f\\n\\r\\t\\u001F\"]");
	round_trip("{\"\\u00e9\":\"\\ud83d\\ude00\"}", NULL);
	round_trip("[true,null]", "[true,null]");
}

/* What the dataplane's old printf writer got wrong: every byte of a name
 * comes back as it went in. */
static void
test_writer(void)
{
	const char name[] = "a\"b\\c\nd\x01\x1f\xc3\xa9";
	json_t *o = json_pack("{s:s, s:I}", "name", name, "n", (json_int_t)7), *back;
	char *text = json_dumps(o, SL_JSON_DUMP_FLAGS);

	CHECK(text != NULL && strcmp(text, "{\"name\":\"a\\\"b\\\\c\\nd\\u0001\\u001F\xc3\xa9\","
				     "\"n\":7}") == 0);
	back = text ? parse(text) : NULL;
	CHECK(back != NULL && json_equal(o, back));
	free(text);
	json_decref(o);
	json_decref(back);
	/* Invalid UTF-8 never reaches the output. */
	CHECK(json_string("\xc3") == NULL);
}

static void
test_malformed(void)
{
	static const char *const bad[] = {
		"", "   ", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,}", "[1,]", "[1 2]",
		"\"abc", "tru", "nul", "01", "-", "1.", "1e", "1e+", ".5", "+1", "1 2", "{1:2}",
		"{\"a\" 1}", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "[\"\\u0000\"]", "\"a\tb\"", "[1e999]", "[-1e999]",
		"[18446744073709551616]", "[-9223372036854775809]", "{\"a\":1,\"a\":2}", "[1]x",
		"[\"\xc3\"]", "[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf5\x80\x80\x80\"]",
		"[\"\xe2\x82\"]", "\"\\", "1", "\"top-level string\"",
	};
	char big[200];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fail(bad[i], strlen(bad[i]));
	/* An embedded NUL byte is a control character, not an end. */
	expect_fail("[\"a\0b\"]", 7);
	memset(big, '1', sizeof(big) - 1);
	big[0] = '[';
	big[sizeof(big) - 2] = ']';
	big[sizeof(big) - 1] = '\0';
	expect_fail(big, strlen(big));
}

/* Deep nesting: refused, no stack overflow. */
static void
test_limits(void)
{
	size_t i, n = 100001;
	char *deep = malloc(n);

	for (i = 0; i < n; i++)
		deep[i] = i < n / 2 ? '[' : ']';
	expect_fail(deep, n);
	/* A long flat array is fine. */
	deep[0] = '[';
	for (i = 1; i < n - 1; i++)
		deep[i] = i % 2 ? '0' : ',';
	deep[n - 1] = ']';
	{
		json_t *d = parse_n(deep, n);

		CHECK(d != NULL && json_array_size(d) == n / 2);
		json_decref(d);
	}
	free(deep);
}

/* Random bytes and mutated valid documents: no crash, no leak, either
 * a tree or an error with a position inside the input. */
static void
test_garbage(void)
{
	static const char seed[] = "{\"cmd\":\"topic.create\",\"args\":{\"name\":\"a.b\","
				   "\"durability\":\"sync\",\"retain_mb\":12,\"x\":[1.5,-2,true,"
				   "null,\"\\u00e9\\ud83d\\ude00\"]}}";
	static const char alphabet[] = "{}[]\":,\\ u0123456789abcdefntrl.-+eE\xc3\xa9\x80\xff";
	json_error_t err;
	json_t *d;
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
		d = json_loadb(buf, len, SL_JSON_LOAD_FLAGS, &err);
		if (d != NULL) {
			ok++;
			json_decref(d);
		} else {
			CHECK(err.position >= 0 && (size_t)err.position <= len && err.text[0] != '\0');
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
