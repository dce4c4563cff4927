/* SPDX-License-Identifier: BSD-3-Clause */
/* Header filters (protocol version 4): wire form, check, evaluation on the topic's owner worker. */

#include <errno.h>
#include <string.h>

#include <common/filter.h>

static int
clause_ok(uint8_t op, const uint8_t *name, uint8_t name_len, uint8_t value_len)
{
	switch (op) {
	case SL_FILTER_EQ:
		return sl_hdrs_name_valid((const char *)name, name_len) &&
		       value_len <= SL_MAX_HDR_VALUE;
	case SL_FILTER_PRESENT:
		return sl_hdrs_name_valid((const char *)name, name_len) && value_len == 0;
	case SL_FILTER_KEY_EQ:
		return name_len == 0 && value_len >= 1 && value_len <= SL_MAX_KEY;
	default:
		return 0;
	}
}

int
sl_filter_parse(const void *wire, size_t len, struct sl_filter *f)
{
	const uint8_t *p = wire;
	size_t off = 1;
	unsigned i;

	if (len < 1 || len > SL_MAX_FILTER_LEN)
		return -EBADMSG;
	f->n = p[0];
	if (f->n == 0 || f->n > SL_MAX_FILTER_CLAUSES)
		return -EBADMSG;
	for (i = 0; i < f->n; i++) {
		if (off + 3 > len)
			return -EBADMSG;
		f->op[i] = p[off];
		f->name_len[i] = p[off + 1];
		f->value_len[i] = p[off + 2];
		off += 3;
		if (off + f->name_len[i] + f->value_len[i] > len)
			return -EBADMSG;
		f->name_off[i] = (uint16_t)off;
		f->value_off[i] = (uint16_t)(off + f->name_len[i]);
		if (!clause_ok(f->op[i], p + off, f->name_len[i], f->value_len[i]))
			return -EBADMSG;
		off += (size_t)f->name_len[i] + f->value_len[i];
	}
	if (off != len)
		return -EBADMSG;
	memcpy(f->bytes, p, len);
	f->len = (uint16_t)len;
	return 0;
}

int
sl_filter_match(const struct sl_filter *f, const struct sl_hdrs_view *v)
{
	unsigned i;

	if (v == NULL)
		return 0;
	for (i = 0; i < f->n; i++) {
		const uint8_t *val;
		size_t vlen;

		if (f->op[i] == SL_FILTER_KEY_EQ) {
			if (v->key_len != f->value_len[i] ||
			    memcmp(v->key, f->bytes + f->value_off[i], v->key_len) != 0)
				return 0;
			continue;
		}
		if (!sl_hdrs_get(v, (const char *)f->bytes + f->name_off[i], f->name_len[i], &val,
				 &vlen))
			return 0;
		if (f->op[i] == SL_FILTER_EQ &&
		    (vlen != f->value_len[i] || memcmp(val, f->bytes + f->value_off[i], vlen) != 0))
			return 0;
	}
	return 1;
}

int
sl_filter_build(void *dst, size_t cap, const struct sl_filter_clause *c, unsigned n)
{
	uint8_t *p = dst;
	size_t off = 1, need = 1;
	unsigned i;

	if (n == 0 || n > SL_MAX_FILTER_CLAUSES)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		size_t nl = c[i].name ? strlen(c[i].name) : 0;

		if (nl > SL_MAX_HDR_NAME || c[i].value_len > 255 ||
		    (c[i].value_len && c[i].value == NULL) ||
		    !clause_ok(c[i].op, (const uint8_t *)c[i].name, (uint8_t)nl,
			       (uint8_t)c[i].value_len))
			return -EINVAL;
		need += 3 + nl + c[i].value_len;
	}
	if (need > SL_MAX_FILTER_LEN)
		return -EINVAL;
	if (need > cap)
		return -ENOSPC;
	p[0] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		size_t nl = c[i].name ? strlen(c[i].name) : 0;

		p[off] = c[i].op;
		p[off + 1] = (uint8_t)nl;
		p[off + 2] = (uint8_t)c[i].value_len;
		if (nl)
			memcpy(p + off + 3, c[i].name, nl);
		if (c[i].value_len)
			memcpy(p + off + 3 + nl, c[i].value, c[i].value_len);
		off += 3 + nl + c[i].value_len;
	}
	return (int)off;
}

int
sl_filter_clause_from_text(const char *text, struct sl_filter_clause *c,
			   char name[SL_MAX_HDR_NAME + 1])
{
	const char *eq = strchr(text, '=');
	size_t nlen = eq ? (size_t)(eq - text) : strlen(text), vlen;

	if (text[0] == '@') {
		if (strncmp(text, "@key=", 5) != 0)
			return -EINVAL;
		vlen = strlen(text + 5);
		if (vlen == 0 || vlen > SL_MAX_KEY)
			return -EINVAL;
		c->op = SL_FILTER_KEY_EQ;
		c->name = NULL;
		c->value = text + 5;
		c->value_len = (uint16_t)vlen;
		return 0;
	}
	if (!sl_hdrs_name_valid(text, nlen))
		return -EINVAL;
	memcpy(name, text, nlen);
	name[nlen] = 0;
	c->name = name;
	c->op = eq ? SL_FILTER_EQ : SL_FILTER_PRESENT;
	c->value = eq ? eq + 1 : NULL;
	vlen = eq ? strlen(eq + 1) : 0;
	if (vlen > SL_MAX_HDR_VALUE)
		return -EINVAL;
	c->value_len = (uint16_t)vlen;
	return 0;
}
