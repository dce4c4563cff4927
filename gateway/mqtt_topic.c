/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT topic names and filters (section 4.7 of both specifications) and
 * their reversible mapping to Sluice topic names and patterns
 * (mqtt_topic.h, docs/MQTT.md).
 */

#include <errno.h>
#include <string.h>

#include <common/strutil.h>

#include "mqtt_codec.h"
#include "mqtt_topic.h"

#define SHARE_PREFIX_LEN (sizeof(SL_MQTT_SHARE_PREFIX) - 1)

/* Bytes of the level that starts at @p (up to the next '/' or @end). */
static size_t
level_len(const char *p, const char *end)
{
	const char *s = memchr(p, '/', (size_t)(end - p));

	return (size_t)((s ? s : end) - p);
}

static bool
mqtt_string_ok(const char *s, size_t len)
{
	return len >= 1 && len <= SL_MQTT_MAX_STR && sl_mqtt_utf8_valid((const uint8_t *)s, len);
}

bool
sl_mqtt_topic_name_valid(const char *name, size_t len)
{
	if (!mqtt_string_ok(name, len))
		return false; /* [MQTT-4.7.3-1], [MQTT-4.7.3-2], [MQTT-4.7.3-3] */
	return memchr(name, '+', len) == NULL && memchr(name, '#', len) == NULL;
}

/* Wildcards only as whole levels, '#' only last [MQTT-4.7.1-2], [MQTT-4.7.1-3]. */
static bool
filter_levels_ok(const char *f, size_t len)
{
	const char *p = f, *end = f + len;

	for (;;) {
		size_t n = level_len(p, end);
		bool plus = memchr(p, '+', n) != NULL, hash = memchr(p, '#', n) != NULL;

		if ((plus || hash) && n != 1)
			return false;
		if (hash && p + n != end)
			return false;
		p += n;
		if (p == end)
			return true;
		p++; /* the '/' */
	}
}

int
sl_mqtt_share_parse(const char *filter, size_t len, struct sl_mqtt_share *out)
{
	const char *g, *slash;
	size_t glen;

	if (len < SHARE_PREFIX_LEN || memcmp(filter, SL_MQTT_SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return 0;
	if (!sl_mqtt_utf8_valid((const uint8_t *)filter, len))
		return -EINVAL;
	g = filter + SHARE_PREFIX_LEN;
	slash = memchr(g, '/', len - SHARE_PREFIX_LEN);
	if (slash == NULL)
		return -EINVAL; /* [MQTT-4.8.2-2]: a '/' and a filter must follow */
	glen = (size_t)(slash - g);
	/* [MQTT-4.8.2-1]: at least one character, no '/', '+' or '#'. */
	if (glen == 0 || memchr(g, '+', glen) != NULL || memchr(g, '#', glen) != NULL)
		return -EINVAL;
	out->group = g;
	out->group_len = glen;
	out->filter = slash + 1;
	out->filter_len = len - SHARE_PREFIX_LEN - glen - 1;
	if (out->filter_len == 0 || !filter_levels_ok(out->filter, out->filter_len))
		return -EINVAL;
	return 1;
}

bool
sl_mqtt_topic_filter_valid(const char *filter, size_t len)
{
	struct sl_mqtt_share sh;

	if (!mqtt_string_ok(filter, len))
		return false; /* [MQTT-4.7.3-1], [MQTT-4.7.3-2] */
	if (len >= SHARE_PREFIX_LEN && memcmp(filter, SL_MQTT_SHARE_PREFIX, SHARE_PREFIX_LEN) == 0)
		return sl_mqtt_share_parse(filter, len, &sh) == 1;
	return filter_levels_ok(filter, len);
}

/* Bytes written %XX inside a level: not allowed in Sluice names, or meaningful there. */
static bool
needs_escape(uint8_t c)
{
	return c < 0x21 || c > 0x7E || c == '.' || c == '%' || c == '*' || c == '>';
}

/* Output of a mapping: at most @lim bytes (then a NUL) into @p. */
struct out {
	char *p;
	size_t n, lim;
	bool over;
};

static void
out_c(struct out *o, char c)
{
	if (o->n >= o->lim) {
		o->over = true;
		return;
	}
	o->p[o->n++] = c;
}

/* One MQTT level (not a wildcard), escaped; "%" when empty. */
static void
out_level(struct out *o, const char *l, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	if (n == 0)
		out_c(o, '%');
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)l[i];

		if (needs_escape(c)) {
			out_c(o, '%');
			out_c(o, hex[c >> 4]);
			out_c(o, hex[c & 15]);
		} else {
			out_c(o, (char)c);
		}
	}
}

/*
 * Map @len bytes of names/filters level by level; wildcards (only in
 * filters, already checked) become '*' and '>'. Returns the length or
 * -ENAMETOOLONG; *@wild says whether a wildcard was seen.
 */
static int
map_levels(char *out, size_t cap, const char *s, size_t len, bool *wild)
{
	struct out o = { out, 0, cap ? cap - 1 : 0, false };
	const char *p = s, *end = s + len;

	if (o.lim > SL_MAX_TOPIC_NAME)
		o.lim = SL_MAX_TOPIC_NAME;
	*wild = false;
	for (;;) {
		size_t n = level_len(p, end);

		if (n == 1 && (*p == '+' || *p == '#')) {
			out_c(&o, *p == '+' ? '*' : '>');
			*wild = true;
		} else {
			out_level(&o, p, n);
		}
		p += n;
		if (p == end)
			break;
		out_c(&o, '.');
		p++;
	}
	if (o.over || cap == 0)
		return -ENAMETOOLONG;
	out[o.n] = 0;
	return (int)o.n;
}

int
sl_mqtt_topic_to_sluice(char *out, size_t cap, const char *name, size_t len)
{
	bool wild;

	if (!sl_mqtt_topic_name_valid(name, len))
		return -EINVAL;
	return map_levels(out, cap, name, len, &wild);
}

/* Decode one Sluice token (@n > 0 bytes) into MQTT level bytes. */
static int
token_from(struct out *o, const char *t, size_t n)
{
	size_t i;

	if (n == 1 && t[0] == '%')
		return 0; /* the empty level */
	for (i = 0; i < n; i++) {
		int hi, lo;

		if (t[i] != '%') {
			if (needs_escape((uint8_t)t[i]) || t[i] == '/')
				return -EINVAL; /* '*' or '>': a wildcard, not a name */
			out_c(o, t[i]);
			continue;
		}
		if (n - i < 3 || (hi = sl_hex_upper_val(t[i + 1])) < 0 ||
		    (lo = sl_hex_upper_val(t[i + 2])) < 0)
			return -EINVAL;
		if (!needs_escape((uint8_t)(hi << 4 | lo)))
			return -EINVAL; /* not the canonical form: not from the mapping */
		out_c(o, (char)(hi << 4 | lo));
		i += 2;
	}
	return 0;
}

int
sl_mqtt_topic_from_sluice(char *out, size_t cap, const char *name, size_t len)
{
	struct out o = { out, 0, cap, false };
	const char *p = name, *end = name + len;

	if (!sl_proto_topic_name_valid(name, len))
		return -EINVAL;
	for (;;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t n = (size_t)((dot ? dot : end) - p);

		if (n == 0 || token_from(&o, p, n) < 0)
			return -EINVAL; /* empty tokens are never produced */
		if (dot == NULL)
			break;
		out_c(&o, '/');
		p = dot + 1;
	}
	if (o.over)
		return -ENOSPC;
	/* Escapes may spell bytes that are not UTF-8, or U+0000. */
	if (!sl_mqtt_topic_name_valid(out, o.n))
		return -EINVAL;
	return (int)o.n;
}

int
sl_mqtt_filter_to_sluice(const char *filter, size_t len, struct sl_mqtt_patterns *out)
{
	int n;

	if (!sl_mqtt_topic_filter_valid(filter, len) ||
	    (len >= SHARE_PREFIX_LEN && memcmp(filter, SL_MQTT_SHARE_PREFIX, SHARE_PREFIX_LEN) == 0))
		return -EINVAL;
	n = map_levels(out->pattern[0], sizeof(out->pattern[0]), filter, len, &out->exact);
	if (n < 0)
		return n;
	out->exact = !out->exact;
	out->n = 1;
	out->pattern[1][0] = 0;
	/* "a/#" also matches "a" [MQTT-4.7.1-2]: the parent, a name ("a.>" less ".>"). */
	if (len >= 2 && filter[len - 1] == '#') {
		memcpy(out->pattern[1], out->pattern[0], (size_t)n - 2);
		out->pattern[1][n - 2] = 0;
		out->n = 2;
	}
	return 0;
}

bool
sl_mqtt_topic_match(const char *filter, size_t flen, const char *name, size_t nlen)
{
	const char *f = filter, *fend = filter + flen, *n = name, *nend = name + nlen;
	bool ndone = false;

	if (flen == 0 || nlen == 0)
		return false;
	/* [MQTT-4.7.2-1]: a first-level wildcard does not match "$..." names. */
	if (name[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
		return false;
	for (;;) {
		size_t fl = level_len(f, fend), nl;

		if (fl == 1 && *f == '#')
			return true; /* the parent and every level below */
		if (ndone)
			return false;
		nl = level_len(n, nend);
		if (!(fl == 1 && *f == '+') && (fl != nl || memcmp(f, n, fl) != 0))
			return false;
		f += fl;
		n += nl;
		ndone = n == nend;
		if (f == fend)
			return ndone;
		f++;
		if (!ndone)
			n++;
	}
}
