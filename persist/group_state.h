/* SPDX-License-Identifier: BSD-3-Clause */
/* A durable consumer group's saved position and unacknowledged set: two CRC-checked slots. */

#ifndef SLUICE_GROUP_STATE_H
#define SLUICE_GROUP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * File group-<name>.state in the topic's journal directory (docs/GROUPS.md
 * "State file"): two slots of slot_bytes each (a multiple of 4096, so that
 * a write to one never touches a page of the other), nothing else. A slot,
 * little-endian:
 *
 *   0  u32 magic       SL_GSTATE_MAGIC ("SLGS")
 *   4  u32 version     1
 *   8  u64 generation  one more than the slot saved before it (first: 1)
 *  16  u64 cursor      the next sequence to offer to the group
 *  24  u32 n           unacknowledged entries that follow
 *  28  u32 crc         CRC32C of bytes 0..27, then 32..63, then the entries
 *  32  u32 capacity    entries a slot holds ((slot_bytes - 72) / 16)
 *  36  u32 flags       0
 *  40  u64 saved_ns    wall-clock time of the save
 *  48  u64 reserved    0
 *  56  u64 reserved    0
 *  64  n x { u64 seq, u32 delivery_count, u32 reserved }
 *  64 + 16n  u64 commit  SL_GSTATE_COMMIT(generation): written last
 *
 * A save writes the slot that does not hold the newest valid state: header
 * and entries, persisted; then the commit word, persisted. A slot is valid
 * when its magic, version, capacity and n hold, its CRC matches and its
 * commit word is that of its generation; load takes the valid slot of the
 * higher generation. A slot without its commit word is torn (a save cut
 * short: never committed, the other slot holds the state); one with its
 * commit word whose other checks fail is damaged (it was committed, then
 * changed). Persistence goes through the journal's struct sl_persist_ops:
 * write-back and drain on persistent memory, msync on ordinary files.
 *
 * Thread-safety: one thread at a time per open state (a persistence
 * thread, never a worker: a save calls msync); separate states are
 * independent.
 */

#define SL_GSTATE_MAGIC 0x53474c53u /* "SLGS" */
#define SL_GSTATE_VERSION 1u
#define SL_GSTATE_HDR 64u
#define SL_GSTATE_COMMIT_MAGIC 0x43474c53u /* "SLGC" */
#define SL_GSTATE_COMMIT(gen) ((uint64_t)SL_GSTATE_COMMIT_MAGIC << 32 | (uint32_t)(gen))
#define SL_GSTATE_NAME_MAX 31u /* a group name: [A-Za-z0-9._-], not starting with '.' */

/* One unacknowledged message, as on the media. */
struct sl_gstate_entry {
	uint64_t seq;
	uint32_t delivery_count; /* deliveries made; 0: held back, never delivered */
	uint32_t reserved;	 /* 0 */
};

/* What load found in each slot (sl_gstate_info.slot_status). */
enum sl_gstate_slot_status {
	SL_GSTATE_SLOT_EMPTY = 0,   /* never written (all zero magic) */
	SL_GSTATE_SLOT_VALID = 1,
	SL_GSTATE_SLOT_TORN = 2,    /* no commit word: a save cut short */
	SL_GSTATE_SLOT_DAMAGED = 3, /* committed, then changed: bad CRC or field */
};

struct sl_gstate_info {
	uint64_t generation; /* of the state loaded */
	uint64_t cursor;
	uint64_t saved_ns;
	uint32_t n;	      /* entries loaded */
	uint32_t slot;	      /* 0 (A) or 1 (B) */
	uint32_t slot_status[2];
	uint32_t capacity;    /* entries a slot holds */
	uint32_t reserved;
};

struct sl_gstate;

/*
 * Open (creating when missing) the state file of group @name in @dir,
 * with room for @capacity entries (1..1,048,576) per slot when it is
 * created; an existing file keeps the capacity it was made with
 * (sl_gstate_capacity). @ops NULL: sl_persist_libpmem. Returns 0,
 * -EINVAL (bad name or capacity), -EUCLEAN (the file's size is not that of
 * a state file: remove it with sl_gstate_remove to start again), or
 * -errno from the file system.
 */
int sl_gstate_open(struct sl_gstate **out, const char *dir, const char *name,
		   uint32_t capacity, const struct sl_persist_ops *ops);

/* Entries one slot holds. */
uint32_t sl_gstate_capacity(const struct sl_gstate *gs);

/*
 * Read the newest valid state: its cursor and up to @max entries into
 * @ents, and what was found into @info (may be NULL). Also sets which slot
 * the next save writes. Returns the number of entries (all of them: -ENOSPC
 * when @max is too small), -ENOENT when no state was ever committed (both
 * slots empty or torn: a fresh group), or -EUCLEAN when no slot is valid and
 * at least one is damaged (the position is lost: the caller starts the
 * group at the topic's earliest retained sequence with a gap event).
 */
int sl_gstate_load(struct sl_gstate *gs, struct sl_gstate_entry *ents, uint32_t max,
		   struct sl_gstate_info *info);

/*
 * Save @cursor and the @n entries of @ents (their order is kept) with
 * @now_ns as the save's wall-clock time: three persists (the slot's old
 * commit word cleared, header and entries, the commit word; the first is
 * skipped for a slot never written). Returns 0 once committed and
 * persisted, -ENOSPC (@n above the capacity), or -EIO (a persist failed:
 * this save may or may not be on the media, the previous state is intact
 * in the other slot, and the next save writes the same slot again).
 */
int sl_gstate_save(struct sl_gstate *gs, uint64_t cursor, const struct sl_gstate_entry *ents,
		   uint32_t n, uint64_t now_ns);

/* Saves that committed, saves refused by a failed persist, and, at the
 * last load, torn and damaged slots. */
struct sl_gstate_counts {
	uint64_t saves, save_errors, torn, damaged;
};
void sl_gstate_counts(const struct sl_gstate *gs, struct sl_gstate_counts *c);

/* The mapping (for tools and tests that check the bytes). */
void *sl_gstate_mapping(const struct sl_gstate *gs, size_t *len);

/* Unmap and free. NULL is fine. */
void sl_gstate_close(struct sl_gstate *gs);

/* Delete the state file of group @name in @dir (and sync the directory).
 * 0, -ENOENT or -errno. */
int sl_gstate_remove(const char *dir, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_GROUP_STATE_H */
