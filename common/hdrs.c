/* SPDX-License-Identifier: BSD-3-Clause */
/* Message header block codec (protocol version 4), shared by the dataplane and libsluice. */

#include <errno.h>
#include <string.h>

#include <common/hdrs.h>
#include <common/proto.h>

_Static_assert(SL_MAX_HDRS <= 255 && SL_MAX_KEY <= 255 && SL_MAX_HDR_NAME <= 255 &&
		       SL_MAX_HDR_VALUE <= 255,
	       "every count and length of the block is one byte");
_Static_assert(2 + SL_MAX_KEY + SL_MAX_HDRS * (2 + SL_MAX_HDR_NAME + SL_MAX_HDR_VALUE) >
		       SL_MAX_HDRS_LEN,
	       "the block's own bound is tighter than its parts'");

int
sl_hdrs_name_valid(const char *name, size_t len)
{
	return len != 0 && len <= SL_MAX_HDR_NAME && sl_name_chars_ok(name, len);
}

int
sl_hdrs_block_len(const void *data, size_t avail)
{
	const uint8_t *p = data;
	size_t off, lim = avail < SL_MAX_HDRS_LEN ? avail : SL_MAX_HDRS_LEN;
	unsigned i, n;

	if (lim < 2)
		return -EBADMSG;
	n = p[0];
	off = 2 + (size_t)p[1];
	if (n > SL_MAX_HDRS)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		if (off + 2 > lim)
			return -EBADMSG;
		off += 2 + (size_t)p[off] + p[off + 1];
	}
	return off <= lim ? (int)off : -EBADMSG;
}

int
sl_hdrs_parse(const void *block, size_t len, struct sl_hdrs_view *v)
{
	const uint8_t *p = block;
	size_t off;
	unsigned i, j;

	if (len < 2 || len > SL_MAX_HDRS_LEN)
		return -EBADMSG;
	v->n = p[0];
	v->key_len = p[1];
	v->len = (uint16_t)len;
	if (v->n > SL_MAX_HDRS || v->key_len > SL_MAX_KEY || 2u + v->key_len > len)
		return -EBADMSG;
	v->key = v->key_len ? p + 2 : NULL;
	off = 2 + (size_t)v->key_len;
	for (i = 0; i < v->n; i++) {
		struct sl_hdr_ref *h = &v->h[i];

		if (off + 2 > len)
			return -EBADMSG;
		h->name_len = p[off];
		h->value_len = p[off + 1];
		off += 2;
		if (h->value_len > SL_MAX_HDR_VALUE || off + h->name_len + h->value_len > len)
			return -EBADMSG;
		h->name = p + off;
		h->value = p + off + h->name_len;
		off += (size_t)h->name_len + h->value_len;
		if (!sl_hdrs_name_valid((const char *)h->name, h->name_len))
			return -EBADMSG;
		for (j = 0; j < i; j++)
			if (v->h[j].name_len == h->name_len &&
			    memcmp(v->h[j].name, h->name, h->name_len) == 0)
				return -EBADMSG;
	}
	return off == len ? 0 : -EBADMSG;
}

int
sl_hdrs_reserved(const struct sl_hdrs_view *v)
{
	static const size_t plen = sizeof(SL_HDR_RESERVED_PREFIX) - 1;
	unsigned i;

	for (i = 0; i < v->n; i++)
		if (v->h[i].name_len >= plen && memcmp(v->h[i].name, SL_HDR_RESERVED_PREFIX, plen) == 0)
			return 1;
	return 0;
}

int
sl_hdrs_build(void *dst, size_t cap, const void *key, size_t key_len,
	      const struct sl_header *hdrs, unsigned n)
{
	uint8_t *p = dst;
	size_t need = 2 + key_len, off;
	unsigned i, j;

	if (n > SL_MAX_HDRS || key_len > SL_MAX_KEY || (key_len && key == NULL))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		size_t nl = hdrs[i].name ? strlen(hdrs[i].name) : 0;

		if (!sl_hdrs_name_valid(hdrs[i].name, nl) || hdrs[i].value_len > SL_MAX_HDR_VALUE ||
		    (hdrs[i].value_len && hdrs[i].value == NULL))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (strcmp(hdrs[i].name, hdrs[j].name) == 0)
				return -EINVAL;
		need += 2 + nl + hdrs[i].value_len;
	}
	if (need > SL_MAX_HDRS_LEN)
		return -EINVAL;
	if (need > cap)
		return -ENOSPC;
	p[0] = (uint8_t)n;
	p[1] = (uint8_t)key_len;
	if (key_len)
		memcpy(p + 2, key, key_len);
	off = 2 + key_len;
	for (i = 0; i < n; i++) {
		size_t nl = strlen(hdrs[i].name);

		p[off] = (uint8_t)nl;
		p[off + 1] = (uint8_t)hdrs[i].value_len;
		memcpy(p + off + 2, hdrs[i].name, nl);
		if (hdrs[i].value_len)
			memcpy(p + off + 2 + nl, hdrs[i].value, hdrs[i].value_len);
		off += 2 + nl + hdrs[i].value_len;
	}
	return (int)off;
}

int
sl_hdrs_get(const struct sl_hdrs_view *v, const char *name, size_t name_len,
	    const uint8_t **val, size_t *len)
{
	unsigned i;

	for (i = 0; i < v->n; i++)
		if (v->h[i].name_len == name_len && memcmp(v->h[i].name, name, name_len) == 0) {
			*val = v->h[i].value;
			*len = v->h[i].value_len;
			return 1;
		}
	return 0;
}
