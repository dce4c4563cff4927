/* SPDX-License-Identifier: BSD-3-Clause */
/* Walking MQTT 5 property blocks the codec decoded, and the forwardable subset. */

#include <string.h>

#include "gw.h"

unsigned
gw_varint_len(uint32_t x)
{
	return x < 128 ? 1 : x < 16384 ? 2 : x < 2097152 ? 3 : 4;
}

unsigned
gw_varint_put(uint8_t *p, uint32_t x)
{
	unsigned n = 0;

	do {
		uint8_t b = x & 0x7f;

		x >>= 7;
		p[n++] = x ? (uint8_t)(b | 0x80) : b;
	} while (x && n < 4);
	return n;
}

static int
varint_get(const uint8_t *p, uint32_t len, uint32_t *off, uint32_t *x)
{
	uint32_t v = 0, shift = 0;

	while (*off < len && shift < 28) {
		uint8_t b = p[(*off)++];

		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*x = v;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

/* Size of the value of property @id at @p (@left bytes), -1 if unknown. */
static int
value_len(uint8_t id, const uint8_t *p, uint32_t left)
{
	uint32_t a, b;

	switch (id) {
	case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
		return 1;
	case 0x13: case 0x21: case 0x22: case 0x23:
		return 2;
	case 0x02: case 0x11: case 0x18: case 0x27:
		return 4;
	case 0x0B: {
		uint32_t off = 0, x;

		return varint_get(p, left, &off, &x) < 0 ? -1 : (int)off;
	}
	case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1A: case 0x1C:
	case 0x1F:
		if (left < 2)
			return -1;
		return 2 + (p[0] << 8 | p[1]);
	case 0x26:
		if (left < 2)
			return -1;
		a = (uint32_t)(p[0] << 8 | p[1]);
		if (left < 4 + a)
			return -1;
		b = (uint32_t)(p[2 + a] << 8 | p[3 + a]);
		return (int)(4 + a + b);
	default:
		return -1;
	}
}

int
gw_props_next(const uint8_t *in, uint32_t len, uint32_t *off, uint8_t *id, const uint8_t **v,
	      uint32_t *vlen)
{
	int n;

	if (*off >= len)
		return 0;
	/* Identifiers are variable byte integers, all below 128: one byte. */
	*id = in[(*off)++];
	n = value_len(*id, in + *off, len - *off);
	if (n < 0 || (uint32_t)n > len - *off)
		return -1;
	*v = in + *off;
	*vlen = (uint32_t)n;
	*off += (uint32_t)n;
	return 1;
}

uint32_t
gw_props_forwardable(uint8_t *out, const uint8_t *in, uint32_t len)
{
	uint32_t off = 0, w = 0, vlen;
	const uint8_t *v;
	uint8_t id;

	if (in == NULL)
		return 0;
	while (gw_props_next(in, len, &off, &id, &v, &vlen) == 1) {
		switch (id) {
		case SL_MQTT_P_PAYLOAD_FORMAT:
		case SL_MQTT_P_CONTENT_TYPE:
		case SL_MQTT_P_RESPONSE_TOPIC:
		case SL_MQTT_P_CORRELATION_DATA:
		case SL_MQTT_P_USER_PROPERTY:
			out[w++] = id;
			memcpy(out + w, v, vlen);
			w += vlen;
			break;
		default:
			break;
		}
	}
	return w;
}
