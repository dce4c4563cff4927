/* SPDX-License-Identifier: BSD-3-Clause */
/* A small JSON reader (bounded, into a tree) and writer for the control plane. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---- arena ---- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct sl_json_doc {
	struct chunk *chunks;
	size_t mem, max_mem;
	struct sl_json *root;
};

#define CHUNK_MIN 16384u

static void *
arena_alloc(struct sl_json_doc *d, size_t n)
{
	struct chunk *c = d->chunks;
	size_t cap;

	n = (n + 15) & ~(size_t)15;
	if (c == NULL || c->cap - c->used < n) {
		cap = n > CHUNK_MIN ? n : CHUNK_MIN;
		if (d->mem + cap + sizeof(*c) > d->max_mem) {
			/* A last, exact-size chunk may still fit under the limit. */
			cap = n;
			if (d->mem + cap + sizeof(*c) > d->max_mem)
				return NULL;
		}
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = d->chunks;
		c->used = 0;
		c->cap = cap;
		d->chunks = c;
		d->mem += sizeof(*c) + cap;
	}
	c->used += n;
	return c->data + c->used - n;
}

void
sl_json_doc_free(struct sl_json_doc *d)
{
	struct chunk *c, *n;

	if (d == NULL)
		return;
	for (c = d->chunks; c != NULL; c = n) {
		n = c->next;
		free(c);
	}
	free(d);
}

const struct sl_json *
sl_json_root(const struct sl_json_doc *d)
{
	return d->root;
}

/* ---- reader ---- */

struct parser {
	const unsigned char *p;
	size_t len, pos;
	unsigned depth, max_depth;
	struct sl_json_doc *doc;
	struct sl_json_error *err;
	int rc;
};

static int
fail(struct parser *ps, int rc, const char *fmt, ...)
{
	va_list ap;

	if (ps->rc == 0) {
		ps->rc = rc;
		if (ps->err) {
			ps->err->offset = ps->pos;
			va_start(ap, fmt);
			vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

static int
oom(struct parser *ps)
{
	if (ps->doc->mem >= ps->doc->max_mem / 2)
		return fail(ps, -E2BIG, "document needs more than %zu bytes of memory",
			    ps->doc->max_mem);
	return fail(ps, -E2BIG, "document too large for the memory limit");
}

static void
skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len) {
		unsigned char c = ps->p[ps->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		ps->pos++;
	}
}

static int parse_value(struct parser *ps, struct sl_json *out);

static int
parse_literal(struct parser *ps, struct sl_json *out)
{
	static const struct {
		const char *word;
		enum sl_json_type type;
		int value;
	} lits[] = { { "true", SL_JSON_BOOL, 1 }, { "false", SL_JSON_BOOL, 0 },
		     { "null", SL_JSON_NULL, 0 } };
	size_t i;

	for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
		size_t n = strlen(lits[i].word);

		if (ps->len - ps->pos >= n && memcmp(ps->p + ps->pos, lits[i].word, n) == 0) {
			out->type = lits[i].type;
			out->v.boolean = lits[i].value;
			ps->pos += n;
			return 0;
		}
	}
	if (ps->pos >= ps->len)
		return fail(ps, -EINVAL, "unexpected end of input: a value was expected");
	return fail(ps, -EINVAL, "unexpected character '%c': a value was expected",
		    ps->p[ps->pos] >= 0x20 && ps->p[ps->pos] < 0x7f ? ps->p[ps->pos] : '?');
}

static size_t
scan_digits(struct parser *ps)
{
	size_t n = 0;

	while (ps->pos < ps->len && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9') {
		ps->pos++;
		n++;
	}
	return n;
}

/* An integer literal @tmp (validated) into i and u, by range. */
static int
convert_int(struct parser *ps, struct sl_json *out, const char *tmp, size_t start, int neg)
{
	char *end;

	errno = 0;
	if (neg) {
		out->v.num.i = strtoll(tmp, &end, 10);
		if (errno == ERANGE) {
			ps->pos = start;
			return fail(ps, -EINVAL, "integer out of range (below -2^63)");
		}
		out->flags = SL_JSON_F_INT;
		return 0;
	}
	out->v.num.u = strtoull(tmp, &end, 10);
	if (errno == ERANGE) {
		ps->pos = start;
		return fail(ps, -EINVAL, "integer out of range (above 2^64-1)");
	}
	out->flags = SL_JSON_F_UINT;
	if (out->v.num.u <= INT64_MAX) {
		out->v.num.i = (int64_t)out->v.num.u;
		out->flags |= SL_JSON_F_INT;
	}
	return 0;
}

/* Grammar check first (strtod is more lenient than JSON), then convert. */
static int
parse_number(struct parser *ps, struct sl_json *out)
{
	size_t start = ps->pos, n;
	int is_int = 1, neg = 0;
	char tmp[64], *end;

	if (ps->p[ps->pos] == '-') {
		neg = 1;
		ps->pos++;
	}
	n = scan_digits(ps);
	if (n == 0)
		return fail(ps, -EINVAL, "a digit was expected in the number");
	if (n > 1 && ps->p[ps->pos - n] == '0') {
		ps->pos -= n - 1;
		return fail(ps, -EINVAL, "leading zeros are not allowed in numbers");
	}
	if (ps->pos < ps->len && ps->p[ps->pos] == '.') {
		ps->pos++;
		is_int = 0;
		if (scan_digits(ps) == 0)
			return fail(ps, -EINVAL, "a digit was expected after '.'");
	}
	if (ps->pos < ps->len && (ps->p[ps->pos] == 'e' || ps->p[ps->pos] == 'E')) {
		ps->pos++;
		is_int = 0;
		if (ps->pos < ps->len && (ps->p[ps->pos] == '+' || ps->p[ps->pos] == '-'))
			ps->pos++;
		if (scan_digits(ps) == 0)
			return fail(ps, -EINVAL, "a digit was expected in the exponent");
	}
	if (ps->pos - start >= sizeof(tmp)) {
		ps->pos = start;
		return fail(ps, -EINVAL, "number longer than %zu characters", sizeof(tmp) - 1);
	}
	memcpy(tmp, ps->p + start, ps->pos - start);
	tmp[ps->pos - start] = '\0';
	out->type = SL_JSON_NUM;
	errno = 0;
	out->v.num.d = strtod(tmp, &end);
	if (!isfinite(out->v.num.d) || (errno == ERANGE && fabs(out->v.num.d) > 1.0)) {
		ps->pos = start;
		return fail(ps, -EINVAL, "number out of range");
	}
	if (!is_int)
		return 0;
	return convert_int(ps, out, tmp, start, neg);
}

static int
hex4(struct parser *ps, size_t at, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < 4; i++) {
		unsigned char c;

		if (at + i >= ps->len) {
			ps->pos = ps->len;
			return fail(ps, -EINVAL, "unexpected end of input in a \\u escape");
		}
		c = ps->p[at + i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else {
			ps->pos = at + i;
			return fail(ps, -EINVAL, "bad hex digit in a \\u escape");
		}
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape at ps->pos (just after the backslash and 'u'). */
static int
parse_u_escape(struct parser *ps, char *o, size_t *olen)
{
	unsigned cp = 0, lo = 0;

	if (hex4(ps, ps->pos, &cp) < 0)
		return ps->rc;
	if (cp == 0)
		return fail(ps, -EINVAL, "\\u0000 is not allowed in strings");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, -EINVAL, "unpaired low surrogate in a \\u escape");
	ps->pos += 4;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->len - ps->pos < 2 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u')
			return fail(ps, -EINVAL, "high surrogate not followed by a low one");
		if (hex4(ps, ps->pos + 2, &lo) < 0)
			return ps->rc;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, -EINVAL, "high surrogate not followed by a low one");
		ps->pos += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*olen += utf8_put(cp, o + *olen);
	return 0;
}

/* Length of the valid UTF-8 sequence at @s (max @n bytes), or 0. */
static size_t
utf8_valid(const unsigned char *s, size_t n)
{
	unsigned cp, need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

static int
parse_escape(struct parser *ps, char *o, size_t *olen)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;

	if (ps->pos >= ps->len)
		return fail(ps, -EINVAL, "unexpected end of input in a string escape");
	if (ps->p[ps->pos] == 'u') {
		ps->pos++;
		return parse_u_escape(ps, o, olen);
	}
	e = ps->p[ps->pos] ? strchr(from, ps->p[ps->pos]) : NULL;
	if (e == NULL)
		return fail(ps, -EINVAL, "bad escape '\\%c' in a string",
			    ps->p[ps->pos] >= 0x20 && ps->p[ps->pos] < 0x7f ? ps->p[ps->pos] : '?');
	o[(*olen)++] = to[e - from];
	ps->pos++;
	return 0;
}

/* A string at ps->pos (the opening quote). Unescaped text never grows, so
 * the raw span bounds the output. */
static int
parse_string(struct parser *ps, const char **out, size_t *out_len)
{
	size_t start = ++ps->pos, end = start, olen = 0;
	char *o;

	while (end < ps->len && ps->p[end] != '"')
		end += ps->p[end] == '\\' ? 2 : 1;
	if (end >= ps->len) {
		ps->pos = ps->len;
		return fail(ps, -EINVAL, "unterminated string");
	}
	o = arena_alloc(ps->doc, end - start + 1);
	if (o == NULL)
		return oom(ps);
	while (ps->pos < ps->len && ps->p[ps->pos] != '"') {
		unsigned char c = ps->p[ps->pos];
		size_t n;

		if (c < 0x20)
			return fail(ps, -EINVAL, "control character 0x%02x in a string", c);
		if (c == '\\') {
			ps->pos++;
			if (parse_escape(ps, o, &olen) < 0)
				return ps->rc;
			continue;
		}
		n = utf8_valid(ps->p + ps->pos, ps->len - ps->pos);
		if (n == 0)
			return fail(ps, -EINVAL, "invalid UTF-8 in a string");
		memcpy(o + olen, ps->p + ps->pos, n);
		olen += n;
		ps->pos += n;
	}
	if (ps->pos >= ps->len)
		return fail(ps, -EINVAL, "unterminated string");
	ps->pos++;
	o[olen] = '\0';
	*out = o;
	*out_len = olen;
	return 0;
}

static int
key_seen(const struct sl_json *first, const char *key, size_t len)
{
	for (; first != NULL; first = first->next)
		if (first->key_len == len && memcmp(first->key, key, len) == 0)
			return 1;
	return 0;
}

static struct sl_json *
new_node(struct parser *ps)
{
	struct sl_json *n = arena_alloc(ps->doc, sizeof(*n));

	if (n == NULL) {
		oom(ps);
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	return n;
}

static int
parse_member_key(struct parser *ps, struct sl_json *obj, const char **key, size_t *klen)
{
	size_t start;

	skip_ws(ps);
	if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
		return fail(ps, -EINVAL, ps->pos >= ps->len ? "unexpected end of input in an object"
							    : "a string key was expected");
	start = ps->pos;
	if (parse_string(ps, key, klen) < 0)
		return ps->rc;
	if (key_seen(obj->v.kids.first, *key, *klen)) {
		ps->pos = start;
		return fail(ps, -EINVAL, "duplicate key \"%.40s\"", *key);
	}
	skip_ws(ps);
	if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
		return fail(ps, -EINVAL, "':' was expected after an object key");
	ps->pos++;
	return 0;
}

/* Arrays and objects: ps->pos at the opening bracket. */
static int
parse_container(struct parser *ps, struct sl_json *out, int is_obj)
{
	char close = is_obj ? '}' : ']';
	struct sl_json **tail = &out->v.kids.first, *kid;

	if (++ps->depth > ps->max_depth)
		return fail(ps, -E2BIG, "nesting deeper than %u levels", ps->max_depth);
	out->type = is_obj ? SL_JSON_OBJ : SL_JSON_ARR;
	ps->pos++;
	skip_ws(ps);
	if (ps->pos < ps->len && ps->p[ps->pos] == close) {
		ps->pos++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		kid = new_node(ps);
		if (kid == NULL)
			return ps->rc;
		if (is_obj && parse_member_key(ps, out, &kid->key, &kid->key_len) < 0)
			return ps->rc;
		if (parse_value(ps, kid) < 0)
			return ps->rc;
		*tail = kid;
		tail = &kid->next;
		out->v.kids.count++;
		skip_ws(ps);
		if (ps->pos >= ps->len)
			return fail(ps, -EINVAL, "unexpected end of input: '%c' or ',' expected",
				    close);
		if (ps->p[ps->pos] == close)
			break;
		if (ps->p[ps->pos] != ',')
			return fail(ps, -EINVAL, "'%c' or ',' was expected", close);
		ps->pos++;
	}
	ps->pos++;
	ps->depth--;
	return 0;
}

static int
parse_value(struct parser *ps, struct sl_json *out)
{
	unsigned char c;

	skip_ws(ps);
	if (ps->pos >= ps->len)
		return fail(ps, -EINVAL, "unexpected end of input: a value was expected");
	c = ps->p[ps->pos];
	if (c == '{' || c == '[')
		return parse_container(ps, out, c == '{');
	if (c == '"') {
		out->type = SL_JSON_STR;
		return parse_string(ps, &out->v.str.s, &out->v.str.len);
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return parse_number(ps, out);
	return parse_literal(ps, out);
}

int
sl_json_parse(struct sl_json_doc **out, const char *text, size_t len,
	      const struct sl_json_limits *lim, struct sl_json_error *err)
{
	struct sl_json_limits def = { SL_JSON_DEFAULT_MAX_LEN, SL_JSON_DEFAULT_MAX_DEPTH,
				      SL_JSON_DEFAULT_MAX_MEM };
	struct parser ps = { .p = (const unsigned char *)text, .len = len, .err = err };

	if (lim == NULL)
		lim = &def;
	if (err) {
		err->offset = 0;
		err->msg[0] = '\0';
	}
	if (len > lim->max_len) {
		ps.pos = lim->max_len;
		return fail(&ps, -E2BIG, "document longer than %zu bytes", lim->max_len);
	}
	ps.max_depth = lim->max_depth;
	ps.doc = calloc(1, sizeof(*ps.doc));
	if (ps.doc == NULL)
		return -ENOMEM;
	ps.doc->max_mem = lim->max_mem;
	ps.doc->root = new_node(&ps);
	if (ps.doc->root != NULL && parse_value(&ps, ps.doc->root) == 0) {
		skip_ws(&ps);
		if (ps.pos != ps.len)
			fail(&ps, -EINVAL, "unexpected data after the value");
	}
	if (ps.rc < 0) {
		sl_json_doc_free(ps.doc);
		return ps.rc;
	}
	*out = ps.doc;
	return 0;
}

/* ---- accessors ---- */

const struct sl_json *
sl_json_get(const struct sl_json *obj, const char *key)
{
	const struct sl_json *k;
	size_t len = strlen(key);

	if (obj == NULL || obj->type != SL_JSON_OBJ)
		return NULL;
	for (k = obj->v.kids.first; k != NULL; k = k->next)
		if (k->key_len == len && memcmp(k->key, key, len) == 0)
			return k;
	return NULL;
}

int
sl_json_get_str(const struct sl_json *obj, const char *key, const char **out)
{
	const struct sl_json *v = sl_json_get(obj, key);

	if (v == NULL || v->type == SL_JSON_NULL)
		return -ENOENT;
	if (v->type != SL_JSON_STR)
		return -EINVAL;
	*out = v->v.str.s;
	return 0;
}

int
sl_json_get_u64(const struct sl_json *obj, const char *key, uint64_t *out)
{
	const struct sl_json *v = sl_json_get(obj, key);

	if (v == NULL || v->type == SL_JSON_NULL)
		return -ENOENT;
	if (v->type != SL_JSON_NUM || !(v->flags & SL_JSON_F_UINT))
		return -EINVAL;
	*out = v->v.num.u;
	return 0;
}

int
sl_json_get_bool(const struct sl_json *obj, const char *key, int *out)
{
	const struct sl_json *v = sl_json_get(obj, key);

	if (v == NULL || v->type == SL_JSON_NULL)
		return -ENOENT;
	if (v->type != SL_JSON_BOOL)
		return -EINVAL;
	*out = v->v.boolean;
	return 0;
}

const char *
sl_json_type_name(enum sl_json_type t)
{
	static const char *const names[] = { "null", "boolean", "number",
					     "string", "array", "object" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* ---- writer ---- */

void
sl_jw_init(struct sl_jw *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void
sl_jw_free(struct sl_jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static int
reserve(struct sl_jw *w, size_t n)
{
	size_t cap;
	char *p;

	if (w->err)
		return w->err;
	if (w->len + n + 1 <= w->cap)
		return 0;
	if (w->len + n + 1 > w->max) {
		w->err = -E2BIG;
		return w->err;
	}
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n + 1)
		cap *= 2;
	if (cap > w->max)
		cap = w->max;
	p = realloc(w->buf, cap);
	if (p == NULL) {
		w->err = -ENOMEM;
		return w->err;
	}
	w->buf = p;
	w->cap = cap;
	return 0;
}

void
sl_jw_raw(struct sl_jw *w, const char *s, size_t len)
{
	if (reserve(w, len) < 0)
		return;
	memcpy(w->buf + w->len, s, len);
	w->len += len;
	w->buf[w->len] = '\0';
}

static void
put(struct sl_jw *w, const char *s)
{
	sl_jw_raw(w, s, strlen(s));
}

/* Before any value or key: the comma between siblings. */
static void
sep(struct sl_jw *w)
{
	uint64_t bit;

	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth == 0)
		return;
	bit = 1ull << ((w->depth - 1) & 63);
	if (w->has_items & bit)
		put(w, ",");
	w->has_items |= bit;
}

static void
open_c(struct sl_jw *w, const char *c)
{
	sep(w);
	put(w, c);
	w->depth++;
	if (w->depth <= 64)
		w->has_items &= ~(1ull << (w->depth - 1));
	else if (!w->err)
		w->err = -E2BIG;
}

static void
close_c(struct sl_jw *w, const char *c)
{
	put(w, c);
	if (w->depth > 0)
		w->depth--;
}

void sl_jw_obj_begin(struct sl_jw *w) { open_c(w, "{"); }
void sl_jw_obj_end(struct sl_jw *w) { close_c(w, "}"); }
void sl_jw_arr_begin(struct sl_jw *w) { open_c(w, "["); }
void sl_jw_arr_end(struct sl_jw *w) { close_c(w, "]"); }

void
sl_jw_escape(struct sl_jw *w, const char *s, size_t len)
{
	size_t i, run = 0;
	char esc[8];

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sl_jw_raw(w, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = '\0';
		} else if (c == '\n')
			strcpy(esc, "\\n");
		else if (c == '\t')
			strcpy(esc, "\\t");
		else if (c == '\r')
			strcpy(esc, "\\r");
		else
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		put(w, esc);
	}
	sl_jw_raw(w, s + run, len - run);
}

void
sl_jw_key(struct sl_jw *w, const char *key)
{
	sep(w);
	put(w, "\"");
	sl_jw_escape(w, key, strlen(key));
	put(w, "\":");
	w->after_key = 1;
}

void
sl_jw_strn(struct sl_jw *w, const char *s, size_t len)
{
	sep(w);
	put(w, "\"");
	sl_jw_escape(w, s, len);
	put(w, "\"");
}

void
sl_jw_str(struct sl_jw *w, const char *s)
{
	sl_jw_strn(w, s, strlen(s));
}

void
sl_jw_u64(struct sl_jw *w, uint64_t v)
{
	char b[24];

	sep(w);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	put(w, b);
}

void
sl_jw_i64(struct sl_jw *w, int64_t v)
{
	char b[24];

	sep(w);
	snprintf(b, sizeof(b), "%" PRId64, v);
	put(w, b);
}

void
sl_jw_double(struct sl_jw *w, double v)
{
	char b[40];

	sep(w);
	if (!isfinite(v)) {
		put(w, "null");
		return;
	}
	/* Shortest of the two that reads back exactly. */
	snprintf(b, sizeof(b), "%.15g", v);
	if (strtod(b, NULL) != v)
		snprintf(b, sizeof(b), "%.17g", v);
	put(w, b);
}

void
sl_jw_json(struct sl_jw *w, const char *json, size_t len)
{
	sep(w);
	sl_jw_raw(w, json, len);
}

void
sl_jw_bool(struct sl_jw *w, int v)
{
	sep(w);
	put(w, v ? "true" : "false");
}

void
sl_jw_null(struct sl_jw *w)
{
	sep(w);
	put(w, "null");
}

void
sl_jw_value(struct sl_jw *w, const struct sl_json *v)
{
	const struct sl_json *k;

	switch (v->type) {
	case SL_JSON_NULL:
		sl_jw_null(w);
		break;
	case SL_JSON_BOOL:
		sl_jw_bool(w, v->v.boolean);
		break;
	case SL_JSON_NUM:
		if (v->flags & SL_JSON_F_UINT)
			sl_jw_u64(w, v->v.num.u);
		else if (v->flags & SL_JSON_F_INT)
			sl_jw_i64(w, v->v.num.i);
		else
			sl_jw_double(w, v->v.num.d);
		break;
	case SL_JSON_STR:
		sl_jw_strn(w, v->v.str.s, v->v.str.len);
		break;
	case SL_JSON_ARR:
	case SL_JSON_OBJ:
		open_c(w, v->type == SL_JSON_OBJ ? "{" : "[");
		for (k = v->v.kids.first; k != NULL; k = k->next) {
			if (v->type == SL_JSON_OBJ) {
				sep(w);
				put(w, "\"");
				sl_jw_escape(w, k->key, k->key_len);
				put(w, "\":");
				w->after_key = 1;
			}
			sl_jw_value(w, k);
		}
		close_c(w, v->type == SL_JSON_OBJ ? "}" : "]");
		break;
	}
}
