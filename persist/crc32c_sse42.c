/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC32C with the SSE4.2 crc32 instruction: 8 bytes per step. */

#include <nmmintrin.h>
#include <string.h>

#include "journal.h"

uint32_t
sl_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
