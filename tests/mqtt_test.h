/* SPDX-License-Identifier: BSD-3-Clause */
/* What the MQTT codec tests share: building raw packets and decoding them. */

#ifndef SLUICE_TESTS_MQTT_TEST_H
#define SLUICE_TESTS_MQTT_TEST_H

#include <string.h>

#include <mqtt_codec.h>

#include "check.h"

/* A string literal as (pointer, length), embedded NULs included. */
#define S(s) s, sizeof(s) - 1
/* A string literal as struct sl_mqtt_str. */
#define STR(s) ((struct sl_mqtt_str){ s, sizeof(s) - 1 })

/* Write fixed header @hdr0, the remaining length and @body into @out. */
static inline size_t
mk(uint8_t *out, uint8_t hdr0, const void *body, size_t n)
{
	size_t len = 1, v = n;

	out[0] = hdr0;
	do {
		out[len++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
		v >>= 7;
	} while (v);
	memcpy(out + len, body, n);
	return len + n;
}

/* Decode @hdr0 + @body at @level as @side; the decoder's return. */
static inline int
dec_raw(uint8_t hdr0, const void *body, size_t n, uint8_t level, enum sl_mqtt_side side,
	struct sl_mqtt_packet *p)
{
	static uint8_t buf[70000];
	size_t len = mk(buf, hdr0, body, n);

	return sl_mqtt_parse(buf, len, 0, level, side, p);
}

/* Expect decoding @hdr0 + @body to fail with reason @rc (a positive code). */
#define REJECT(rc, hdr0, body, level, side)                                       \
	do {                                                                       \
		struct sl_mqtt_packet p_;                                          \
		int r_ = dec_raw(hdr0, S(body), level, side, &p_);                 \
		if (r_ != -(int)(rc))                                              \
			fprintf(stderr, "%s:%d: expected -0x%02x, got %d\n",       \
				__FILE__, __LINE__, (unsigned)(rc), r_);           \
		CHECK(r_ == -(int)(rc));                                           \
	} while (0)

/* Expect decoding @hdr0 + @body to succeed (returning its length). */
#define ACCEPT(hdr0, body, level, side)                                            \
	do {                                                                       \
		struct sl_mqtt_packet p_;                                          \
		int r_ = dec_raw(hdr0, S(body), level, side, &p_);                 \
		if (r_ <= 0)                                                       \
			fprintf(stderr, "%s:%d: expected success, got %d\n",       \
				__FILE__, __LINE__, r_);                           \
		CHECK(r_ > 0);                                                     \
	} while (0)

#endif /* SLUICE_TESTS_MQTT_TEST_H */
