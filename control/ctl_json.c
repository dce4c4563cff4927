/* SPDX-License-Identifier: BSD-3-Clause */
/* Minimal JSON reader and writer for sluicectl (RFC 8259, recursive descent). */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_json.h"

#define MAX_DEPTH 64

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	int err;	/* first error: -EINVAL or -ENOMEM */
};

static int parse_value(struct parser *p, struct sl_cj *v, int depth);

static int
fail(struct parser *p, int err)
{
	if (p->err == 0)
		p->err = err;
	return p->err;
}

static void
skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int
peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int
expect_word(struct parser *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
		return fail(p, -EINVAL);
	p->pos += n;
	return 0;
}

static int
hex4(struct parser *p, unsigned *out)
{
	unsigned v = 0;

	if (p->len - p->pos < 4)
		return fail(p, -EINVAL);
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(p, -EINVAL);
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, unsigned cp)
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

/* \uXXXX, with a following low surrogate when the first is a high one. */
static int
parse_uescape(struct parser *p, char *o, size_t *n)
{
	unsigned cp = 0, lo = 0;

	if (hex4(p, &cp) < 0)
		return p->err;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
			return fail(p, -EINVAL);
		p->pos += 2;
		if (hex4(p, &lo) < 0)
			return p->err;
		if (lo < 0xdc00 || lo >= 0xe000)
			return fail(p, -EINVAL);
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc00 && cp < 0xe000) {
		return fail(p, -EINVAL);
	}
	*n += utf8_put(o + *n, cp);
	return 0;
}

static int
parse_escape(struct parser *p, char *o, size_t *n)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[] = "\"\\/\b\f\n\r\t";
	const char *m;
	char c;

	if (p->pos >= p->len)
		return fail(p, -EINVAL);
	c = p->s[p->pos++];
	if (c == 'u')
		return parse_uescape(p, o, n);
	m = strchr(from, c);
	if (c == '\0' || m == NULL)
		return fail(p, -EINVAL);
	o[(*n)++] = to[m - from];
	return 0;
}

/* A string starting at the opening quote; *@out is malloc'ed. */
static int
parse_string(struct parser *p, char **out)
{
	size_t start = ++p->pos, end = start, n = 0;
	char *o;

	while (end < p->len && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (end >= p->len)
		return fail(p, -EINVAL);
	/* Decoding never grows the text: \uXXXX (6 bytes) gives at most 3,
	 * a surrogate pair (12 bytes) 4. */
	o = malloc(end - start + 1);
	if (o == NULL)
		return fail(p, -ENOMEM);
	while (p->pos < end) {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c < 0x20) {
			free(o);
			return fail(p, -EINVAL);
		}
		p->pos++;
		if (c != '\\') {
			o[n++] = (char)c;
		} else if (parse_escape(p, o, &n) < 0 || p->pos > end) {
			free(o);
			return fail(p, -EINVAL);
		}
	}
	o[n] = '\0';
	p->pos = end + 1;
	*out = o;
	return 0;
}

static size_t
digits(struct parser *p)
{
	size_t n = 0;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		p->pos++;
		n++;
	}
	return n;
}

static int
parse_number(struct parser *p, struct sl_cj *v)
{
	size_t start = p->pos;
	char tmp[64];

	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0')
		p->pos++;
	else if (digits(p) == 0)
		return fail(p, -EINVAL);
	if (peek(p) == '.') {
		p->pos++;
		if (digits(p) == 0)
			return fail(p, -EINVAL);
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (digits(p) == 0)
			return fail(p, -EINVAL);
	}
	if (p->pos - start >= sizeof(tmp))
		return fail(p, -EINVAL);
	memcpy(tmp, p->s + start, p->pos - start);
	tmp[p->pos - start] = '\0';
	v->type = SL_CJ_NUM;
	v->num = strtod(tmp, NULL);
	if (strpbrk(tmp, "-.eE") == NULL) {
		errno = 0;
		v->u = strtoull(tmp, NULL, 10);
		v->is_u64 = errno == 0;
	}
	return 0;
}

static struct sl_cj *
new_child(struct parser *p, struct sl_cj ***tail)
{
	struct sl_cj *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		fail(p, -ENOMEM);
		return NULL;
	}
	**tail = c;
	*tail = &c->next;
	return c;
}

static int
parse_array(struct parser *p, struct sl_cj *v, int depth)
{
	struct sl_cj **tail = &v->child, *c;

	v->type = SL_CJ_ARR;
	p->pos++;
	skip_ws(p);
	if (peek(p) == ']') {
		p->pos++;
		return 0;
	}
	for (;;) {
		c = new_child(p, &tail);
		if (c == NULL || parse_value(p, c, depth + 1) < 0)
			return p->err;
		skip_ws(p);
		if (peek(p) == ']') {
			p->pos++;
			return 0;
		}
		if (peek(p) != ',')
			return fail(p, -EINVAL);
		p->pos++;
	}
}

static int
parse_object(struct parser *p, struct sl_cj *v, int depth)
{
	struct sl_cj **tail = &v->child, *c;

	v->type = SL_CJ_OBJ;
	p->pos++;
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (peek(p) != '"')
			return fail(p, -EINVAL);
		c = new_child(p, &tail);
		if (c == NULL || parse_string(p, &c->key) < 0)
			return p->err;
		skip_ws(p);
		if (peek(p) != ':')
			return fail(p, -EINVAL);
		p->pos++;
		if (parse_value(p, c, depth + 1) < 0)
			return p->err;
		skip_ws(p);
		if (peek(p) == '}') {
			p->pos++;
			return 0;
		}
		if (peek(p) != ',')
			return fail(p, -EINVAL);
		p->pos++;
	}
}

static int
parse_value(struct parser *p, struct sl_cj *v, int depth)
{
	int rc;

	if (depth > MAX_DEPTH)
		return fail(p, -EINVAL);
	skip_ws(p);
	v->off = p->pos;
	switch (peek(p)) {
	case '{': rc = parse_object(p, v, depth); break;
	case '[': rc = parse_array(p, v, depth); break;
	case '"':
		v->type = SL_CJ_STR;
		rc = parse_string(p, &v->str);
		break;
	case 't':
		v->type = SL_CJ_BOOL;
		v->b = true;
		rc = expect_word(p, "true");
		break;
	case 'f':
		v->type = SL_CJ_BOOL;
		rc = expect_word(p, "false");
		break;
	case 'n':
		v->type = SL_CJ_NULL;
		rc = expect_word(p, "null");
		break;
	default: rc = parse_number(p, v); break;
	}
	v->len = p->pos - v->off;
	return rc;
}

int
sl_cj_parse(const char *s, size_t len, struct sl_cj **out, size_t *err_off)
{
	struct parser p = { .s = s, .len = len };
	struct sl_cj *root = calloc(1, sizeof(*root));

	if (root == NULL)
		return -ENOMEM;
	if (parse_value(&p, root, 0) == 0) {
		skip_ws(&p);
		if (p.pos != p.len)
			fail(&p, -EINVAL);
	}
	if (p.err < 0) {
		if (err_off != NULL)
			*err_off = p.pos;
		sl_cj_free(root);
		return p.err;
	}
	*out = root;
	return 0;
}

void
sl_cj_free(struct sl_cj *v)
{
	while (v != NULL) {
		struct sl_cj *next = v->next;

		sl_cj_free(v->child);
		free(v->key);
		free(v->str);
		free(v);
		v = next;
	}
}

const struct sl_cj *
sl_cj_get(const struct sl_cj *obj, const char *key)
{
	if (obj == NULL || obj->type != SL_CJ_OBJ)
		return NULL;
	for (const struct sl_cj *c = obj->child; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

const struct sl_cj *
sl_cj_path(const struct sl_cj *obj, const char *path)
{
	char name[128];

	while (obj != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(name))
			return NULL;
		memcpy(name, path, n);
		name[n] = '\0';
		obj = sl_cj_get(obj, name);
		path += n + (path[n] == '.');
	}
	return obj;
}

const char *
sl_cj_str(const struct sl_cj *v)
{
	return v != NULL && v->type == SL_CJ_STR ? v->str : NULL;
}

bool
sl_cj_u64(const struct sl_cj *v, uint64_t *out)
{
	/* Parsed from the text, not the double: beyond 2^53 a double loses
	 * digits (ts_ns does). */
	if (v == NULL || v->type != SL_CJ_NUM || !v->is_u64)
		return false;
	*out = v->u;
	return true;
}

bool
sl_cj_num(const struct sl_cj *v, double *out)
{
	if (v == NULL || v->type != SL_CJ_NUM)
		return false;
	*out = v->num;
	return true;
}

size_t
sl_cj_count(const struct sl_cj *v)
{
	size_t n = 0;

	if (v == NULL || (v->type != SL_CJ_ARR && v->type != SL_CJ_OBJ))
		return 0;
	for (const struct sl_cj *c = v->child; c != NULL; c = c->next)
		n++;
	return n;
}

static bool
buf_grow(struct sl_cj_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->err < 0)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
sl_cj_buf_raw(struct sl_cj_buf *b, const char *s, size_t n)
{
	if (!buf_grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sl_cj_buf_str(struct sl_cj_buf *b, const char *s)
{
	sl_cj_buf_raw(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			sl_cj_buf_raw(b, e, 2);
		} else if (c < 0x20) {
			sl_cj_buf_printf(b, "\\u%04x", c);
		} else {
			sl_cj_buf_raw(b, s, 1);
		}
	}
	sl_cj_buf_raw(b, "\"", 1);
}

void
sl_cj_buf_printf(struct sl_cj_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
sl_cj_buf_fini(struct sl_cj_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}
