/* SPDX-License-Identifier: BSD-3-Clause */
/* Append-only, segmented, CRC-checked message journal on libpmem mappings. */

#ifndef SLUICE_JOURNAL_H
#define SLUICE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * A journal is a directory of fixed-size segment files named by the
 * sequence of their first record (00000000000000000001.seg, ...) and a
 * metadata file (journal.meta). Segments are mapped with libpmem: on
 * persistent memory appends use non-temporal copies and one drain per
 * sl_journal_sync; on ordinary files libpmem's msync path makes the same
 * guarantee. Sequences start at 1 and have no holes.
 *
 * Record layout, 8-byte aligned, little-endian (struct sl_jrec, 56 bytes,
 * then the payload padded to 8 bytes):
 *
 *   0  u64 commit        SL_JREC_COMMIT(len): written last
 *   8  u64 seq
 *  16  u64 batch         seq of the first record of its group commit
 *  24  u64 timestamp     ns since the Unix epoch, assigned by the broker
 *  32  u64 producer_id
 *  40  u64 producer_seq
 *  48  u32 crc           CRC32C of bytes 8..47 and the payload
 *  52  u32 len           payload bytes
 *
 * A record is valid when its commit word, length and CRC agree and its seq
 * is the one expected; a torn record (crash mid-write) fails the CRC even
 * if the media persisted the commit word before the body.
 *
 * Recovery tells a torn tail from damage with the batch field. Records of
 * one group commit may reach the media in any order before its sync
 * completes, so an invalid record followed only by valid records of the
 * same batch is an unsynced tail (never acknowledged): truncated. A valid
 * record of a later batch proves the invalid one was synced: damage.
 *
 * Thread-safety: a journal has one writer (its topic's owner lcore); all
 * calls on one journal must come from one thread at a time.
 */

#define SL_JOURNAL_MAGIC 0x4c4e524a45434c53ull /* "SLCEJRNL" */
#define SL_JREC_MAGIC 0x534c4a52u		/* "RJLS" */
#define SL_JREC_COMMIT(len) ((uint64_t)SL_JREC_MAGIC << 32 | (uint32_t)(len))
#define SL_JREC_END ((uint64_t)0x454e4453u << 32) /* "SDNE": segment closed */
#define SL_JREC_MAX_PAYLOAD (1u << 20)
#define SL_JSEG_HDR 64u /* segment header bytes before the first record */

struct sl_jrec {
	uint64_t commit;
	uint64_t seq;
	uint64_t batch;
	uint64_t timestamp;
	uint64_t producer_id;
	uint64_t producer_seq;
	uint32_t crc;
	uint32_t len;
};

/* Persistence primitives, injectable so tests can count and fail them. */
struct sl_persist_ops {
	void (*flush)(const void *addr, size_t len); /* pmem: write back cache lines */
	void (*drain)(void);			      /* pmem: wait for the write-backs */
	int (*msync)(const void *addr, size_t len);			  /* files */
	int (*is_pmem)(const void *addr, size_t len);
	/* Reserve @len bytes of a new segment file: 0 or -errno (-ENOSPC when
	 * the file system is full). NULL: posix_fallocate. */
	int (*allocate)(int fd, uint64_t len);
};

/* libpmem's functions. */
extern const struct sl_persist_ops sl_persist_libpmem;

struct sl_journal_conf {
	uint64_t segment_bytes;	  /* size of each segment file (>= 64 KiB) */
	uint64_t capacity_bytes;  /* hard limit on all segments; 0 = unlimited */
	uint64_t retain_bytes;	  /* delete oldest segments above this; 0 = off */
	uint64_t retain_age_ns;	  /* delete segments whose newest record is older */
	uint32_t index_every;	  /* sparse index: one entry per this many bytes */
	const struct sl_persist_ops *ops; /* NULL = sl_persist_libpmem */
};

/* What recovery found when opening a journal. */
struct sl_journal_recovery {
	uint64_t first_seq, last_seq; /* valid range; last < first when empty */
	uint32_t segments;
	uint64_t truncated_bytes;    /* torn tail removed from the last segment */
	uint64_t truncated_at_seq;   /* the seq the torn record would have had */
	int corrupt;		     /* 1: damage inside committed data */
	uint64_t corrupt_seq;	     /* first seq that cannot be served */
	char message[256];	     /* human-readable summary */
};

struct sl_journal;

/* A record as read back: points into the mapping, valid until the segment
 * is deleted by retention. */
struct sl_jrec_view {
	uint64_t seq, timestamp, producer_id, producer_seq;
	uint32_t len;
	const void *data;
};

/*
 * Open the journal in @dir, creating it (mode 0700) if missing, and run
 * recovery: every segment is scanned, CRCs checked, a torn tail in the last
 * segment is truncated (zeroed and persisted). Damage followed by valid
 * records is not truncated: the journal opens read-only up to the damage
 * and reports it (rec->corrupt), so an operator decides.
 * An existing journal keeps the segment size it was created with.
 * Returns 0, -EINVAL (bad conf or metadata), or -errno from the file system.
 * @rec may be NULL.
 */
int sl_journal_open(struct sl_journal **out, const char *dir, const struct sl_journal_conf *conf,
		    struct sl_journal_recovery *rec);

/* Persist anything pending, unmap and free. NULL is fine. */
void sl_journal_close(struct sl_journal *j);

/*
 * Prepare the next segment ahead of time once the current one is in use
 * (allocated, mapped, its pages faulted in; a journal keeps one spare), so that the roll costs the
 * appending thread a rename instead of the segment's whole size. The only
 * call that may run on another thread than the journal's user, concurrently
 * with it (one preparing thread per journal). Returns 1 when it prepared
 * one, 0 when none is needed yet or a failed attempt is being backed off
 * (SL_JOURNAL_PREPARE_BACKOFF_MIN_MS doubling up to ..._MAX_MS), or -errno.
 * After -ENOSPC the journal counts as full: a roll that finds no spare
 * refuses at once (-ENOSPC) instead of creating the segment itself, until
 * a later call prepares one; after any other error the roll creates the
 * segment itself, as without this call.
 */
#define SL_JOURNAL_PREPARE_BACKOFF_MIN_MS 10u
#define SL_JOURNAL_PREPARE_BACKOFF_MAX_MS 500u
int sl_journal_prepare(struct sl_journal *j);

/*
 * Append one record without waiting for persistence; it becomes durable
 * at the next sl_journal_sync. Assigns and returns the record's sequence
 * in *seq. Returns 0, -ENOSPC (capacity reached and retention cannot free
 * a segment, or the file system is full: nothing was written), -EMSGSIZE,
 * -EROFS (journal damaged; see recovery), or -errno creating a segment.
 * Once the file system was found full (by sl_journal_prepare or by a roll),
 * a roll makes no system call until sl_journal_prepare has a spare again:
 * -ENOSPC costs the caller no more than a few loads.
 */
int sl_journal_append(struct sl_journal *j, const void *data, uint32_t len, uint64_t timestamp,
		      uint64_t producer_id, uint64_t producer_seq, uint64_t *seq);

/*
 * Make every appended record durable: one drain on persistent memory, or
 * msync of the dirty range on ordinary files. Cheap when nothing is pending.
 * Returns 0 or -EIO (the records since the last sync are not durable and
 * the journal turns read-only).
 */
int sl_journal_sync(struct sl_journal *j);

/* Sequence of the last record appended (0 if none) and the last durable one. */
uint64_t sl_journal_last_seq(const struct sl_journal *j);
uint64_t sl_journal_durable_seq(const struct sl_journal *j);
uint64_t sl_journal_first_seq(const struct sl_journal *j);
/* Bytes of all segments, and 1 if the journal refuses appends (-EROFS). */
uint64_t sl_journal_bytes(const struct sl_journal *j);
int sl_journal_damaged(const struct sl_journal *j);

/*
 * Read the record with sequence @seq. Returns 0, -ENOENT (before the first
 * retained record or after the last), -EUCLEAN (at or past damage).
 */
int sl_journal_read(struct sl_journal *j, uint64_t seq, struct sl_jrec_view *out);

/* First sequence whose timestamp is >= @ts_ns (last_seq + 1 if none). */
uint64_t sl_journal_seek_time(struct sl_journal *j, uint64_t ts_ns);

/*
 * Apply retention at time @now_ns (same clock as record timestamps):
 * delete whole segments, oldest first, never the one being written.
 * Returns the number of segments deleted, or -errno.
 */
int sl_journal_retain(struct sl_journal *j, uint64_t now_ns);

/* Describe the segments (first/last seq, bytes used) to @out. */
void sl_journal_describe(const struct sl_journal *j, FILE *out);

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2. */
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len);

#endif /* SLUICE_JOURNAL_H */
