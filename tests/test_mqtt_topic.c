/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT topic names and filters (gateway/mqtt_topic.c): validity, the
 * mapping to Sluice names and patterns and back, shared subscriptions, the
 * matcher and its agreement with Sluice's pattern matcher.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <common/proto.h>
#include <mqtt_codec.h>
#include <mqtt_topic.h>

#include "check.h"

#define S(s) s, sizeof(s) - 1

static void
test_name_valid(void)
{
	static char big[SL_MQTT_MAX_STR + 1];

	CHECK(sl_mqtt_topic_name_valid(S("a/b")));
	CHECK(sl_mqtt_topic_name_valid(S("/")));
	CHECK(sl_mqtt_topic_name_valid(S("a//b")));
	CHECK(sl_mqtt_topic_name_valid(S("$SYS/x")));
	CHECK(sl_mqtt_topic_name_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
	CHECK(!sl_mqtt_topic_name_valid(S("")));
	CHECK(!sl_mqtt_topic_name_valid(S("a/+")));
	CHECK(!sl_mqtt_topic_name_valid(S("a/#")));
	CHECK(!sl_mqtt_topic_name_valid(S("a+b")));
	CHECK(!sl_mqtt_topic_name_valid(S("a\0b")));		 /* U+0000 */
	CHECK(!sl_mqtt_topic_name_valid(S("a\xc3")));		 /* truncated */
	CHECK(!sl_mqtt_topic_name_valid(S("\xc0\x80")));	 /* overlong NUL */
	CHECK(!sl_mqtt_topic_name_valid(S("\xe0\x80\xaf")));	 /* overlong '/' */
	CHECK(!sl_mqtt_topic_name_valid(S("\xed\xa0\x80")));	 /* U+D800 */
	CHECK(!sl_mqtt_topic_name_valid(S("\xf4\x90\x80\x80"))); /* > U+10FFFF */
	CHECK(!sl_mqtt_topic_name_valid(S("\xff")));
	memset(big, 'a', sizeof(big));
	CHECK(sl_mqtt_topic_name_valid(big, SL_MQTT_MAX_STR));
	CHECK(!sl_mqtt_topic_name_valid(big, SL_MQTT_MAX_STR + 1));
}

static void
test_filter_valid(void)
{
	static const char *const good[] = { "#", "+", "a/+/b", "a/#", "+/+", "/", "a//b", "+/#",
					    "/#", "$SYS/#", "$share/g/a/#", "$share/g/+",
					    "$share/g/#", "a/b" };
	static const char *const bad[] = { "", "a#", "a/#/b", "a+", "+a", "a/b+", "##", "#/",
					   "$share/g", "$share//a", "$share/g+/a", "$share/g#/a",
					   "$share/g/", "$share/g/a/#/b", "$share/" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(sl_mqtt_topic_filter_valid(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!sl_mqtt_topic_filter_valid(bad[i], strlen(bad[i])));
	CHECK(!sl_mqtt_topic_filter_valid(S("a/\xed\xbf\xbf")));
	CHECK(!sl_mqtt_topic_filter_valid(S("a\0")));
}

/* @mqtt maps to @sluice and back. */
static void
map_ok(const char *mqtt, size_t len, const char *sluice)
{
	char out[SL_MAX_TOPIC_NAME + 1], back[1024];
	int n = sl_mqtt_topic_to_sluice(out, sizeof(out), mqtt, len), m;

	CHECK_EQ(n, (int)strlen(sluice));
	if (n < 0)
		return;
	CHECK(strcmp(out, sluice) == 0);
	CHECK(sl_proto_topic_name_valid(out, (size_t)n));
	m = sl_mqtt_topic_from_sluice(back, sizeof(back), out, (size_t)n);
	CHECK_EQ(m, (int)len);
	CHECK(m == (int)len && memcmp(back, mqtt, len) == 0);
}

static void
test_map(void)
{
	char big[300], out[SL_MAX_TOPIC_NAME + 1];

	map_ok(S("a/b"), "a.b");
	map_ok(S("a"), "a");
	map_ok(S("a.b"), "a%2Eb");
	map_ok(S("50%"), "50%25");
	map_ok(S("a b"), "a%20b");
	map_ok(S("*"), "%2A");
	map_ok(S(">/x"), "%3E.x");
	map_ok(S("caf\xc3\xa9"), "caf%C3%A9");
	map_ok(S("/"), "%.%");
	map_ok(S("a//b"), "a.%.b");
	map_ok(S("a/"), "a.%");
	map_ok(S("/a"), "%.a");
	map_ok(S("$SYS/x"), "$SYS.x");
	map_ok(S("tab\there"), "tab%09here");
	map_ok(S("del\x7f"), "del%7F");
	map_ok(S("~!\"'(),;:=?@[]{}|\\^`&$-_"), "~!\"'(),;:=?@[]{}|\\^`&$-_");
	/* 200 bytes fit, 201 do not; escapes count three. */
	memset(big, 'x', sizeof(big));
	big[200] = 0;
	map_ok(big, 200, big);
	big[200] = 'x';
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), big, 201), -ENAMETOOLONG);
	memset(big, '.', 67);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), big, 66), 198);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), big, 67), -ENAMETOOLONG);
	memset(big, '/', 101); /* 102 empty levels: 102 '%' + 101 '.' */
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), big, 99), 199);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), big, 100), -ENAMETOOLONG);
	/* A small buffer is the same refusal; invalid names are -EINVAL. */
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, 4, S("abcd")), -ENAMETOOLONG);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, 5, S("abcd")), 4);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, 0, S("a")), -ENAMETOOLONG);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), S("a/+")), -EINVAL);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), S("")), -EINVAL);
	CHECK_EQ(sl_mqtt_topic_to_sluice(out, sizeof(out), S("\xc3")), -EINVAL);
}

static void
test_from_sluice_refusals(void)
{
	static const char *const bad[] = { "a%2e", "a%41", "a%4", "a%", "%%", "a..b", ".a",
					   "a.", "a.*", "a.>", "a*b", "%00", "%C3", "a/b",
					   "a+b", "a#", "%2B", "%ED%A0%80", "" };
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = sl_mqtt_topic_from_sluice(out, sizeof(out), bad[i], strlen(bad[i]));

		if (rc != -EINVAL)
			fprintf(stderr, "from_sluice(\"%s\") = %d\n", bad[i], rc);
		CHECK_EQ(rc, -EINVAL);
	}
	CHECK_EQ(sl_mqtt_topic_from_sluice(out, sizeof(out), S("a b")), -EINVAL);
	CHECK_EQ(sl_mqtt_topic_from_sluice(out, 2, S("a.b")), -ENOSPC);
	CHECK_EQ(sl_mqtt_topic_from_sluice(out, 3, S("a.b")), 3);
	CHECK_EQ(sl_mqtt_topic_from_sluice(out, sizeof(out), S("%.%")), 1);
	CHECK(out[0] == '/');
}

/* A random MQTT name from an alphabet full of bytes that need escaping. */
static size_t
random_name(char *s, size_t max)
{
	static const char *const parts[] = { "a", "b", "/", ".", "%", " ", "*", ">", "$",
					     "\xc3\xa9", "\x7f", "~", "%41", "x", "/", "\t" };
	size_t n = 0, k = 1 + rng() % 12, i;

	for (i = 0; i < k; i++) {
		const char *p = parts[rng() % (sizeof(parts) / sizeof(parts[0]))];

		if (n + strlen(p) > max)
			break;
		memcpy(s + n, p, strlen(p));
		n += strlen(p);
	}
	if (n == 0)
		s[n++] = 'z';
	return n;
}

static void
test_map_random(void)
{
	char name[64], out[SL_MAX_TOPIC_NAME + 1], back[64];
	int i, n, m;

	for (i = 0; i < 20000; i++) {
		size_t len = random_name(name, sizeof(name));

		n = sl_mqtt_topic_to_sluice(out, sizeof(out), name, len);
		CHECK(n > 0);
		if (n <= 0)
			continue;
		CHECK(sl_proto_topic_name_valid(out, (size_t)n));
		m = sl_mqtt_topic_from_sluice(back, sizeof(back), out, (size_t)n);
		CHECK(m == (int)len && memcmp(back, name, len) == 0);
	}
}

/* @filter gives @n patterns @p0 (and @p1). */
static void
pat_ok(const char *filter, bool exact, const char *p0, const char *p1)
{
	struct sl_mqtt_patterns p;
	int rc = sl_mqtt_filter_to_sluice(filter, strlen(filter), &p);

	CHECK_EQ(rc, 0);
	if (rc < 0)
		return;
	CHECK_EQ(p.n, p1 ? 2 : 1);
	CHECK_EQ(p.exact, exact);
	CHECK(strcmp(p.pattern[0], p0) == 0);
	CHECK(sl_proto_pattern_valid(p.pattern[0]));
	if (p1 != NULL && p.n == 2) {
		CHECK(strcmp(p.pattern[1], p1) == 0);
		CHECK(sl_proto_pattern_valid(p.pattern[1]));
	}
}

static void
test_filter_map(void)
{
	struct sl_mqtt_patterns p;
	char big[300];

	pat_ok("a/+/c", false, "a.*.c", NULL);
	pat_ok("a/#", false, "a.>", "a");
	pat_ok("#", false, ">", NULL);
	pat_ok("+", false, "*", NULL);
	pat_ok("a/b", true, "a.b", NULL);
	pat_ok("+/#", false, "*.>", "*");
	pat_ok("/#", false, "%.>", "%");
	pat_ok("a.b/+/%", false, "a%2Eb.*.%25", NULL);
	pat_ok("$SYS/#", false, "$SYS.>", "$SYS");
	pat_ok("a//+", false, "a.%.*", NULL);
	CHECK_EQ(sl_mqtt_filter_to_sluice(S("$share/g/a"), &p), -EINVAL);
	CHECK_EQ(sl_mqtt_filter_to_sluice(S("a/#/b"), &p), -EINVAL);
	CHECK_EQ(sl_mqtt_filter_to_sluice(S(""), &p), -EINVAL);
	memset(big, 'x', sizeof(big));
	big[198] = '/';
	big[199] = '#';
	CHECK_EQ(sl_mqtt_filter_to_sluice(big, 200, &p), 0); /* "x...x.>" is 200 */
	CHECK_EQ(p.n, 2);
	CHECK_EQ(strlen(p.pattern[0]), 200);
	big[198] = 'x';
	big[199] = '/';
	big[200] = '#';
	CHECK_EQ(sl_mqtt_filter_to_sluice(big, 201, &p), -ENAMETOOLONG);
}

static void
test_share(void)
{
	struct sl_mqtt_share s;

	CHECK_EQ(sl_mqtt_share_parse(S("$share/g1/a/b"), &s), 1);
	CHECK(s.group_len == 2 && memcmp(s.group, "g1", 2) == 0);
	CHECK(s.filter_len == 3 && memcmp(s.filter, "a/b", 3) == 0);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/g/#"), &s), 1);
	CHECK(s.filter_len == 1 && s.filter[0] == '#');
	CHECK_EQ(sl_mqtt_share_parse(S("a/b"), &s), 0);
	CHECK_EQ(sl_mqtt_share_parse(S("$shared/g/a"), &s), 0);
	CHECK_EQ(sl_mqtt_share_parse(S("$SHARE/g/a"), &s), 0);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/"), &s), -EINVAL);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/g"), &s), -EINVAL);
	CHECK_EQ(sl_mqtt_share_parse(S("$share//x"), &s), -EINVAL);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/g#/x"), &s), -EINVAL);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/+/x"), &s), -EINVAL);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/g/"), &s), -EINVAL);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/g/a/#/b"), &s), -EINVAL);
	CHECK_EQ(sl_mqtt_share_parse(S("$share/g/a\xc3"), &s), -EINVAL);
}

struct match_case {
	const char *filter, *name;
	bool match;
};

static void
test_match(void)
{
	static const struct match_case cases[] = {
		{ "sport/tennis/player1/#", "sport/tennis/player1", true },
		{ "sport/tennis/player1/#", "sport/tennis/player1/ranking", true },
		{ "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true },
		{ "sport/#", "sport", true },
		{ "#", "a/b/c", true },
		{ "#", "/", true },
		{ "sport/tennis/+", "sport/tennis/player1", true },
		{ "sport/tennis/+", "sport/tennis/player1/ranking", false },
		{ "sport/+", "sport", false },
		{ "sport/+", "sport/", true },
		{ "+", "sport", true },
		{ "+", "sport/", false },
		{ "+/+", "/finance", true },
		{ "/+", "/finance", true },
		{ "+", "/finance", false },
		{ "#", "$SYS/x", false },
		{ "+/monitor/Clients", "$SYS/monitor/Clients", false },
		{ "$SYS/#", "$SYS/monitor/Clients", true },
		{ "$SYS/monitor/+", "$SYS/monitor/Clients", true },
		{ "+/x", "a$/x", true },
		{ "a/b", "a/b", true },
		{ "a/b", "a/c", false },
		{ "a/b", "a/bc", false },
		{ "a/b", "a", false },
		{ "a", "a/b", false },
		{ "a//b", "a//b", true },
		{ "a/+/b", "a//b", true },
		{ "a/#", "a/", true },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct match_case *c = &cases[i];
		bool m = sl_mqtt_topic_match(c->filter, strlen(c->filter), c->name,
					     strlen(c->name));

		if (m != c->match)
			fprintf(stderr, "match(%s, %s) = %d\n", c->filter, c->name, m);
		CHECK(m == c->match);
	}
}

/* A random filter built from levels of random_name's alphabet and wildcards. */
static size_t
random_filter(char *s, size_t max)
{
	size_t n = random_name(s, max - 4), i;

	/* Turn some levels into '+' and maybe end with '#'. */
	for (i = 0; i < n; i++)
		if (s[i] != '/' && (i == 0 || s[i - 1] == '/') && rng() % 3 == 0) {
			size_t e = i;

			while (e < n && s[e] != '/')
				e++;
			memmove(s + i + 1, s + e, n - e);
			n -= e - i - 1;
			s[i] = '+';
		}
	if (rng() % 3 == 0) {
		if (rng() % 2)
			s[n++] = '/';
		s[n++] = '#';
		if (n == 2 && s[0] == '/')
			s[0] = '#', n = 1;
		else if (n >= 2 && s[n - 2] != '/')
			s[n - 1] = 'q';
	}
	return n;
}

/* The MQTT matcher and the mapped Sluice patterns agree (names not starting with '$'). */
static void
test_match_agrees(void)
{
	char f[80], name[64], mapped[SL_MAX_TOPIC_NAME + 1];
	struct sl_mqtt_patterns p;
	int i, agreed = 0;

	for (i = 0; i < 200000; i++) {
		size_t fl = random_filter(f, sizeof(f)), nl = random_name(name, sizeof(name));
		int n;
		bool mq, sl;

		if (!sl_mqtt_topic_filter_valid(f, fl) || name[0] == '$' ||
		    sl_mqtt_filter_to_sluice(f, fl, &p) < 0)
			continue;
		n = sl_mqtt_topic_to_sluice(mapped, sizeof(mapped), name, nl);
		if (n < 0)
			continue;
		mq = sl_mqtt_topic_match(f, fl, name, nl);
		sl = sl_proto_pattern_match(p.pattern[0], mapped, (size_t)n) ||
		     (p.n == 2 && sl_proto_pattern_match(p.pattern[1], mapped, (size_t)n));
		if (mq != sl)
			fprintf(stderr, "filter %.*s name %.*s: mqtt %d sluice %d\n", (int)fl, f,
				(int)nl, name, mq, sl);
		CHECK(mq == sl);
		agreed += mq;
	}
	CHECK(agreed > 1000); /* the generator does produce matches */
	/* The '$' rule is the gateway's: Sluice's ">" does match "$SYS.x". */
	CHECK(sl_proto_pattern_match(">", S("$SYS.x")));
	CHECK(!sl_mqtt_topic_match(S("#"), S("$SYS/x")));
}

int
main(void)
{
	test_name_valid();
	test_filter_valid();
	test_map();
	test_from_sluice_refusals();
	test_map_random();
	test_filter_map();
	test_share();
	test_match();
	test_match_agrees();
	return check_result("test_mqtt_topic");
}
