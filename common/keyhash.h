/* SPDX-License-Identifier: BSD-3-Clause */
/* Hashes: the message-key hash (key affinity, partitions) and the name hash of in-process tables. */

#ifndef SLUICE_KEYHASH_H
#define SLUICE_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Partitions a partitioned topic may have (PROTOCOL.md 7.4). */
#define SL_MAX_PARTITIONS 64u

/*
 * FNV-1a 32 of @len bytes at @p: for in-process hash tables of short
 * names (topic names, client ids), never on the wire or on media. Pure;
 * any thread.
 */
static inline uint32_t
sl_name_hash(const void *p, size_t len)
{
	const uint8_t *b = (const uint8_t *)p;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/*
 * The 64-bit hash of a message key of @len bytes, written down in
 * docs/PROTOCOL.md 7.4 so that any client computes the same: FNV-1a 64
 * (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over the bytes,
 * then the MurmurHash3 finaliser's first half (h ^= h >> 33;
 * h *= 0xff51afd7ed558ccd; h ^= h >> 33). Pure; any thread.
 */
static inline uint64_t
sl_key_hash(const void *key, size_t len)
{
	const uint8_t *p = (const uint8_t *)key;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* The partition (0 .. @n - 1) of a message with key @key (@len >= 1
 * bytes) in a topic of @n >= 1 partitions: sl_key_hash modulo @n. */
static inline uint32_t
sl_key_partition(const void *key, size_t len, uint32_t n)
{
	return (uint32_t)(sl_key_hash(key, len) % n);
}

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_KEYHASH_H */
