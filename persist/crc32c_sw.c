/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC32C in portable C (one table, bytewise) for CPUs without SSE4.2. */

#include "journal.h"

static uint32_t table[256];

static void
init_table(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		for (c = i, j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
}

uint32_t
sl_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = ~crc;

	if (table[1] == 0)
		init_table(); /* idempotent: racing initialisers write the same values */
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
