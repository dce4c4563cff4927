/* SPDX-License-Identifier: BSD-3-Clause */
/* A topic's directory under journal_dir: its name, its saved spec, its removal (no EAL). */

#ifndef SLUICE_DP_TOPIC_DIR_H
#define SLUICE_DP_TOPIC_DIR_H

#include <stddef.h>
#include <stdint.h>

/*
 * Beside a durable topic's journal lies the file "policy": the topic's spec
 * as it was created or last updated (by sluice-control, or from the
 * dataplane's rules), so that a restart reloads the topic as it was and not
 * as the rules of the configuration would have it today. Text, one
 * "key = value" a line, written by atomic rename (policy.tmp, fsync,
 * rename, fsync of the directory):
 *
 *   # sluice topic spec
 *   version = 2
 *   durability = sync              none, async or sync
 *   backpressure = block           default, drop, block or disconnect
 *   retain_bytes = 104857600       0: the dataplane's retain_mb
 *   retain_age_s = 3600            0: the dataplane's retain_s
 *   capacity_bytes = 0             0: the dataplane's capacity_mb
 *   crc32c = 5e1c07a2              CRC32C of every byte before this line
 *
 * Version 1, written before the spec had more than the durability, is the
 * single line "durability = NAME": it still loads, with the other fields at
 * their defaults (0). A file that is neither is refused, naming the fault.
 *
 * Deleting a topic removes its directory: it is first renamed to a
 * tombstone (".deleted.N" under journal_dir, never loaded: the loader skips
 * names starting with '.') and journal_dir is fsynced, which makes the
 * deletion durable; the tombstone is then emptied and removed. A crash
 * between the two leaves a tombstone, which the next start removes.
 */

#define SL_TOPIC_SPEC_FILE "policy"
#define SL_TOPIC_SPEC_VERSION 2u
#define SL_TOPIC_SPEC_MAX 1024 /* bytes: a longer file is refused */
#define SL_TOPIC_TOMBSTONE ".deleted."

struct sl_topic_spec {
	uint8_t durability;	 /* enum sl_durability */
	uint8_t backpressure;	 /* SL_CNC_BP_*: 0 = the dataplane's rules */
	uint64_t retain_bytes;	 /* 0 = the dataplane's default */
	uint64_t retain_age_s;	 /* 0 = the dataplane's default */
	uint64_t capacity_bytes; /* 0 = the dataplane's default */
	uint32_t retransmit_window; /* SL_CNC_RETX_DEFAULT or 1 + messages */
	uint32_t max_message;	 /* largest message, bytes; 0 = the dataplane's default */
	uint8_t encryption;	 /* SL_CNC_ENC_*; not in the saved file: control resends it */
	uint16_t partitions;	 /* a partitioned topic's name: its partitions; 0 ordinary.
				  * Never journaled, so never in the saved file */
};

/*
 * A topic's directory name under journal_dir: [A-Za-z0-9._-] kept, other
 * bytes as %XX, and a leading '.' escaped so that no name maps to "." or
 * ".." or to a tombstone. Returns 0 or -ENAMETOOLONG (@outlen too small).
 */
int sl_topic_dir_name(const char *name, size_t len, char *out, size_t outlen);

/* The reverse: the topic named by directory @dir into @out (NUL terminated).
 * Returns 0, or -EINVAL when @dir is not a valid topic's directory name. */
int sl_topic_dir_parse_name(const char *dir, char *out, size_t outlen);

/* Write @s as the file's text into @buf (@cap bytes). Returns its length, or
 * -ENOSPC when @cap is too small. */
int sl_topic_spec_format(const struct sl_topic_spec *s, char *buf, size_t cap);

/*
 * Parse the file's text (@len bytes of @buf) into @out. Returns 0 or
 * -EBADMSG with @err saying what is wrong (bad checksum, unknown version,
 * key or value, a key twice or missing). @version, if not NULL, is set to
 * the format version read (1 or 2).
 */
int sl_topic_spec_parse(const char *buf, size_t len, struct sl_topic_spec *out,
			unsigned *version, char *err, size_t errlen);

/*
 * Save @s in directory @dir (atomic rename, the directory fsynced), unless
 * the file already holds exactly that. Returns 0 or -errno.
 */
int sl_topic_spec_save(const char *dir, const struct sl_topic_spec *s);

/*
 * Load the spec saved in @dir. Returns 0, -ENOENT (none saved), -EBADMSG
 * (damaged or unknown: @err says what, the file is left as it is) or
 * -errno reading it.
 */
int sl_topic_spec_load(const char *dir, struct sl_topic_spec *out, char *err, size_t errlen);

/*
 * Delete the topic directory @sub of @root durably: rename it to a fresh
 * tombstone name, fsync @root, then remove the tombstone and everything in
 * it. Returns 0 once the rename is durable (a failure to remove the
 * tombstone afterwards is left for sl_topic_dir_sweep), -ENOENT when there
 * is no such directory, or -errno (nothing was renamed).
 */
int sl_topic_dir_delete(const char *root, const char *sub);

/* Remove every tombstone under @root (an interrupted deletion). Returns the
 * number removed, or -errno when @root cannot be read (-ENOENT: none). */
int sl_topic_dir_sweep(const char *root);

#endif /* SLUICE_DP_TOPIC_DIR_H */
