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
 * persistent memory appends use ordinary stores, write-backs and drains in
 * sl_journal_sync; on ordinary files libpmem's msync path makes the same
 * guarantee. Sequences start at 1 and only ever grow; a sequence that any
 * record on disk ever had is never handed out again (see "Recovery").
 *
 * Segment header (64 bytes, versions 4 and 5; versions 1-3 have the same
 * header, with no generation):
 *
 *   0  u64 magic          SL_JOURNAL_MAGIC
 *   8  u32 version        5 (1-4: older record formats, still read)
 *  12  u32 hdr_size       64
 *  16  u64 segment_bytes
 *  24  u64 first_seq      also the file's name
 *  32  u64 created_ns
 *  40  u32 crc            CRC32C of bytes 0..39, then (version 4 on) of bytes 44..47
 *  44  u32 gen            version 4 on: the generation, which use of this file
 *                         this is (1..SL_JSEG_GEN_MAX); 0 before
 *  48  u64 commit slot 0  the commit watermark, see below
 *  56  u64 commit slot 1
 *
 * Record layout, version 5, 8-byte aligned, little-endian (struct sl_jrec,
 * 64 bytes, then the payload padded to 8 bytes):
 *
 *   0  u64 commit        SL_JREC_COMMIT_GEN(gen, len): written last; its
 *                        high half is the tag "RJLS" xor the segment's gen
 *   8  u64 seq
 *  16  u32 batch_back    seq minus the seq of the first record of its group
 *                        commit (a batch never spans two segments)
 *  20  u32 leader_epoch  the epoch of the leader that wrote it (0: a single
 *                        node, or written before version 5)
 *  24  u64 timestamp     ns since the Unix epoch, assigned by the broker
 *  32  u64 producer_id   an idempotent producer's id; else the publishing
 *                        session's id (producer_epoch 0)
 *  40  u64 producer_seq  the publisher's sequence for this topic
 *  48  u32 crc           CRC32C of the segment's gen (u32), bytes 8..47,
 *                        56..63, then the payload
 *  52  u32 len           payload bytes
 *  56  u32 producer_epoch  the idempotent producer's epoch; 0: not one
 *  60  u32 flags         SL_JREC_F_*, bits 16..31 hdrs_len (version 3 on)
 *
 * Version 4 is the same but for bytes 16..23: one u64, the seq of the
 * first record of its group commit (no leader epoch: read as 0). Versions
 * 2 and 3 have the plain SL_JREC_COMMIT(len) commit word and a CRC
 * without the generation (flags 0 in version 2). Version 1 records (in
 * segments whose header says version 1) are the first 56 bytes of this, the
 * payload at 56 and the CRC over bytes 8..47 and the payload; readers take
 * their producer_epoch as 0. Appends always write version 5: a journal
 * opened with an older segment last starts a new segment for its next
 * record. Every earlier format stays readable (docs/JOURNAL.md).
 *
 * Leader epochs. Every record carries the leader epoch its journal was
 * told to write (sl_journal_set_leader_epoch; 0 by default, so a single
 * node writes 0), or, for a record copied from a primary
 * (sl_journal_append_replica), the primary's. Epochs never go down along
 * a journal. An in-memory history (the first sequence of each epoch) is
 * rebuilt from the records at open: sl_journal_epoch_end answers from it.
 *
 * Generations. A segment file may be used again (see "Recycling"): its
 * bytes past this use's records are an earlier use's records, not zeros. A
 * record belongs to the segment's current use only if its commit word
 * carries the tag of the header's generation and its CRC, which covers the
 * generation, holds (and its seq is not below first_seq: belt and braces,
 * since after sl_journal_truncate an earlier use may have had higher
 * sequences; the tag and the CRC are what keep them out). Anything else, an earlier
 * use's record or end marker included, is no record of this use: it reads
 * as the end of the valid data, exactly as zeros do in a file's first use,
 * and the commit watermark rule below decides what that end is. Generation
 * 1 is a file's first use (zeros past its records); in a reused file
 * (generation 2 and up) a torn tail is what carries this use's tag, and
 * only that is cut.
 *
 * Commit. A record is committed when it lies at or below its segment's
 * commit watermark. sl_journal_sync persists the batch's records (write-back
 * and drain, or msync), then writes the watermark (the number of records of
 * the segment that are committed, low 32 bits, and a CRC32C of that count
 * and the segment's first_seq, high 32 bits: one 8-byte store, failure
 * atomic) into the slot not written last, and persists it: a second drain
 * (or msync of the header page). Only then does sl_journal_durable_seq move,
 * and only records at or below it are acknowledged. The two slots alternate
 * so that a write torn by a crash leaves the previous watermark intact;
 * recovery takes the valid slot with the larger count. A segment closed by
 * a roll has a watermark covering all its records; a later segment holding
 * a valid record also proves the earlier one committed (a roll persists the
 * old segment before the new one gets a record).
 *
 * Recovery tells damage from a torn tail by the watermark alone:
 *  - corrupt: a record at or below the watermark that fails its CRC, has a
 *    bad commit word or length, or whose bytes are zeroed or cut off (file
 *    truncated). It was acknowledged: it is reported (file, offset, seqs),
 *    left on disk untouched, and its sequences stay taken. Reads of it fail
 *    with -EUCLEAN; valid records before and after it are served, and the
 *    journal keeps accepting appends (in a new segment when the damage is
 *    at the end of the last one, so the damaged bytes are never
 *    overwritten). Valid records after damage are found again by scanning
 *    aligned offsets for a record whose commit word, length and CRC hold.
 *  - torn: anything invalid above the watermark of the last segment: the
 *    batch in flight at a crash, never acknowledged. A writable open zeroes
 *    it (persisted) and appends go on from there; a read-only open only
 *    reports it. Records above the watermark whose commit word is present
 *    still keep their sequences: the next sequence is one past the largest
 *    one seen on disk (counted through commit words where the body is torn),
 *    so such a record's sequence is never reused.
 * A segment whose slots are both invalid (one written before watermarks
 * existed, or damaged) falls back to the batch rule: an invalid record is
 * committed if a valid record of a later batch follows it.
 *
 * journal.meta holds two copies (64 bytes each, CRC32C) of: segment size,
 * creation time and the last sequence at the last clean close. A copy that
 * fails its check is reported and the other used; with both bad (or the file
 * missing while segments exist) it is rebuilt from the segment headers. The
 * last sequence is a lower bound for the next one: it tells how many records
 * a lost last segment (truncated to nothing) held.
 *
 * Recycling. A segment retention retires is kept for reuse (up to
 * conf.recycle of them) rather than deleted: its file is renamed
 * spare-N.tmp, the directory synced, then both commit slots are set to
 * SL_JSEG_RECYCLED (8-byte stores, persisted), and it stays mapped. The next
 * spare is made from it (generation one up) before any new file is
 * allocated, so its pages cost no allocation, zeroing or page fault. It is
 * deleted instead when enough are kept, when keeping it would take the
 * journal's files over capacity_bytes, at the last generation, or when its
 * header failed at open. A spare-N.tmp whose header holds and whose commit
 * slot says SL_JSEG_RECYCLED is found at open only after a crash: it is
 * deleted (a crash before the mark leaves its old header: it takes its
 * segment name back, whole, and is retired again).
 *
 * Spare segments. The next segment is made ahead, by sl_journal_prepare,
 * as spare-N.tmp (allocated, all zero, or recycled as above). A roll stamps its header and
 * appends to it at once; sl_journal_prepare then renames it to its
 * first_seq.seg name and syncs the directory. A spare-N.tmp found at open
 * whose header is valid is such a segment, not yet renamed when the
 * process stopped: it takes its name and is recovered like any other
 * (a writable open; a read-only one does not see it). One without a valid
 * header and without a record goes; one with bytes past a bad header is
 * left in place (nothing says which sequences it holds). Versions before
 * this rule deleted every spare-N.tmp at open: a journal that stopped in
 * that window must be opened by this version first.
 *
 * Thread-safety: a journal has one writer (its topic's owner lcore); all
 * calls on one journal must come from one thread at a time, except
 * sl_journal_prepare and sl_journal_set_limits (see each).
 */

#define SL_JOURNAL_MAGIC 0x4c4e524a45434c53ull /* "SLCEJRNL" */
#define SL_JREC_MAGIC 0x534c4a52u		/* "RJLS" */
#define SL_JREC_COMMIT(len) ((uint64_t)SL_JREC_MAGIC << 32 | (uint32_t)(len))
#define SL_JREC_END ((uint64_t)0x454e4453u << 32) /* "SDNE": segment closed */
/* Segment version 4: a record's commit word and the end marker carry the
 * segment's generation gen (1..SL_JSEG_GEN_MAX) xor-ed into their high half,
 * so that those of an earlier use of the file are not this use's. The cap
 * keeps every tag of one kind apart from every tag of the other. */
#define SL_JSEG_GEN_MAX 0xffffffu
#define SL_JREC_TAG(gen) (SL_JREC_MAGIC ^ (uint32_t)(gen))
#define SL_JREC_COMMIT_GEN(gen, len) ((uint64_t)SL_JREC_TAG(gen) << 32 | (uint32_t)(len))
#define SL_JREC_END_GEN(gen) (SL_JREC_END ^ (uint64_t)(uint32_t)(gen) << 32)
/* Both commit slots of a retired segment kept for reuse (spare-N.tmp): not
 * a segment any more, whatever its header says. "SLJRECYC" */
#define SL_JSEG_RECYCLED 0x43594345524a4c53ull
/* The largest record payload: SL_MAX_MESSAGE, the wire protocol's hard
 * limit on one message (a record must also fit its segment). */
#define SL_JREC_MAX_PAYLOAD (4u << 20)
#define SL_JSEG_HDR 64u /* segment header bytes before the first record */
#define SL_JREC_V1_BYTES 56u /* header of a version 1 record */

struct sl_jrec {
	uint64_t commit;
	uint64_t seq;
	/* Version 5; before, these 8 bytes are the batch's first seq (u64). */
	uint32_t batch_back;
	uint32_t leader_epoch;
	uint64_t timestamp;
	uint64_t producer_id;
	uint64_t producer_seq;
	uint32_t crc;
	uint32_t len;
	uint32_t producer_epoch; /* version 2 */
	uint32_t flags;		 /* version 3: SL_JREC_F_*, bits 16..31 hdrs_len; 0 before */
};

/* Record flags (segment version 3). With SL_JREC_F_HDRS the record's data
 * starts with the message's header block (protocol version 4), hdrs_len =
 * flags >> 16 bytes of it, covered by the CRC like the rest: len counts
 * block and payload. */
#define SL_JREC_F_HDRS (1u << 0)

/* Persistence primitives, injectable so tests can count and fail them. */
struct sl_persist_ops {
	void (*flush)(const void *addr, size_t len); /* pmem: write back cache lines */
	void (*drain)(void);			      /* pmem: wait for the write-backs */
	int (*msync)(const void *addr, size_t len);			  /* files */
	int (*is_pmem)(const void *addr, size_t len);
	/* Reserve @len bytes of a new segment file: 0 or -errno (-ENOSPC when
	 * the file system is full). NULL: posix_fallocate. */
	int (*allocate)(int fd, uint64_t len);
	/* NULL in production. Tests: called before each durable step of a
	 * change made of several (sl_journal_truncate; @step counts from 0
	 * within the call), so that a test can stop the process there and
	 * check what an open finds. */
	void (*step)(unsigned step);
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
	int read_only;		  /* map read-only and change nothing on disk */
	/* 1: another thread calls sl_journal_prepare (the dataplane's main
	 * lcore): appends, syncs and retention make no file-system call and
	 * allocate nothing, a roll only switches to the prepared spare (else
	 * -ENOSPC, counted in sl_journal_roll_waits) and retention only marks
	 * segments retired, for sl_journal_prepare to unmap and unlink.
	 * 0 (tools, tests): the appending thread does that work itself. */
	int prepared_only;
	/* Spares sl_journal_prepare keeps ready (1..4); 0: enough for 64 MiB,
	 * at least one (small segments fill faster than a preparing thread
	 * that sleeps when idle may wake up). */
	uint32_t spares;
	/* Retired segments kept for reuse as spares (1..16), their pages
	 * already allocated; 0: as many as spares are kept; -1: none (every
	 * retired segment is deleted, a spare always made afresh). */
	int32_t recycle;
};

/* What a damaged range of sequences is (struct sl_journal_damage). */
enum sl_jdamage_kind {
	SL_JDMG_CORRUPT = 1, /* committed records whose bytes fail their checks */
	SL_JDMG_MISSING,     /* committed records whose bytes are gone: zeroed, or the
			      * file truncated (or named by journal.meta, not on disk) */
	SL_JDMG_TORN,	     /* never committed: a torn tail, cut (sequences kept taken) */
	SL_JDMG_HEADER,	     /* a segment header fails its checks */
	SL_JDMG_SHORT,	     /* a segment file is shorter than it was made (its lost
			      * records, if any, are a MISSING range of their own) */
	/* HEADER and SHORT name no sequence (seq_lo > seq_hi) */
};

/* One damaged or skipped range found by recovery. */
struct sl_journal_damage {
	uint64_t seq_lo, seq_hi; /* sequences that cannot be served */
	uint64_t segment;	 /* first_seq of the segment file (its name) */
	uint64_t offset;	 /* byte offset in that file where it starts */
	uint32_t kind;		 /* enum sl_jdamage_kind */
};

/* What recovery found when opening a journal. */
struct sl_journal_recovery {
	uint64_t first_seq, last_seq; /* range held (damaged ranges inside it included);
				       * last < first when empty */
	uint64_t next_seq;	      /* what the next append gets */
	uint32_t segments;
	uint64_t truncated_bytes;    /* torn tail bytes (zeroed unless read-only) */
	uint64_t truncated_at_seq;   /* the seq the torn record would have had */
	int torn;		     /* 1: a torn tail was found */
	int corrupt;		     /* damaged ranges in committed data (CORRUPT, MISSING,
				      * HEADER); 0 when none */
	uint64_t corrupt_seq;	     /* first damaged committed seq (0 if none) */
	uint64_t corrupt_records;    /* committed sequences that cannot be served */
	int meta_damaged;	     /* journal.meta: 1 one copy bad, 2 rebuilt */
	char meta_note[192];	     /* what was wrong with journal.meta */
	char message[256];	     /* human-readable summary */
};
struct sl_journal;

/* A record as read back: points into the mapping, valid until the segment
 * is deleted by retention. */
struct sl_jrec_view {
	uint64_t seq, timestamp, producer_id, producer_seq;
	uint32_t len;
	uint32_t producer_epoch; /* 0 in a version 1 record */
	uint32_t leader_epoch;	 /* the leader epoch it was written in (0 before version 5) */
	uint16_t hdrs_len;	 /* header-block bytes at the start of data (version 3) */
	const void *data;
};

/*
 * Open the journal in @dir, creating it (mode 0700) if missing, and run
 * recovery (see "Recovery" above): every segment is scanned and CRCs
 * checked; a torn tail is cut (zeroed and persisted); damage in committed
 * data is reported (rec->corrupt, sl_journal_damage_get), left on disk, and
 * read around; appends go on. With conf->read_only nothing on disk changes
 * (no cut, no metadata rebuilt, nothing created) and appends fail -EROFS.
 * An existing journal keeps the segment size it was created with.
 * Returns 0, -EINVAL (bad conf), -ENOENT (read-only and no journal there),
 * or -errno from the file system.
 * @rec may be NULL.
 */
int sl_journal_open(struct sl_journal **out, const char *dir, const struct sl_journal_conf *conf,
		    struct sl_journal_recovery *rec);

/* Persist anything pending, unmap and free; unused spares and the segments
 * kept for reuse are deleted. NULL is fine. */
void sl_journal_close(struct sl_journal *j);

/*
 * The journal's slow work, for a thread other than the appending one (the
 * dataplane's main lcore). First the chores the owner handed over: a
 * segment a roll started in the spare gets its name (spare-N.tmp renamed
 * to its first sequence, the directory synced), and segments retention
 * retired are kept for reuse (see "Recycling") or unmapped and their files
 * unlinked. Then one more segment is prepared ahead, while fewer than
 * conf.spares are ready (a writable open makes them all with
 * conf.prepared_only): from a segment kept for reuse if there is one, else
 * its file created, allocated and synced, mapped, its pages faulted in, its
 * sparse index allocated (and,
 * when needed, a larger segment table), so that a roll costs the appending
 * thread a header stamp and no system call. Call again while it returns 1. The only call that may run on another thread than the
 * journal's user, concurrently with it (one preparing thread per journal;
 * never concurrently with sl_journal_close). Returns 1 when it prepared a
 * spare, 0 when none is needed yet or a failed attempt is being backed off
 * (SL_JOURNAL_PREPARE_BACKOFF_MIN_MS doubling up to ..._MAX_MS), or -errno.
 * After -ENOSPC the journal counts as full: a roll that finds no spare
 * refuses at once (-ENOSPC) instead of creating the segment itself, until
 * a later call prepares one; after any other error (and without
 * conf.prepared_only) the roll creates the segment itself.
 */
#define SL_JOURNAL_PREPARE_BACKOFF_MIN_MS 10u
#define SL_JOURNAL_PREPARE_BACKOFF_MAX_MS 500u
int sl_journal_prepare(struct sl_journal *j);

/*
 * Append one record without waiting for persistence; it becomes durable
 * at the next sl_journal_sync. Assigns and returns the record's sequence
 * in *seq. Returns 0, -ENOSPC (capacity reached and retention cannot free
 * a segment, the file system is full, or, with conf.prepared_only, the
 * segment is full and no spare is prepared yet: nothing was written),
 * -EMSGSIZE, -EROFS (a persist failed, or opened read-only), or -errno
 * creating a segment (only without conf.prepared_only).
 * With conf.prepared_only no call here makes a file-system call or
 * allocates: a roll stamps the prepared spare's header and persists it
 * (flush and drain, or msync on an ordinary file: the group commit's own
 * primitive, through conf.ops).
 * Once the file system was found full (by sl_journal_prepare or by a roll),
 * a roll makes no system call until sl_journal_prepare has a spare again:
 * -ENOSPC costs the caller no more than a few loads.
 */
int sl_journal_append(struct sl_journal *j, const void *data, uint32_t len, uint64_t timestamp,
		      uint64_t producer_id, uint64_t producer_seq, uint64_t *seq);
/* As sl_journal_append, for idempotent producer @producer_id at
 * @producer_epoch (sl_journal_append writes epoch 0). */
int sl_journal_append_producer(struct sl_journal *j, const void *data, uint32_t len,
			       uint64_t timestamp, uint64_t producer_id, uint32_t producer_epoch,
			       uint64_t producer_seq, uint64_t *seq);
/* As sl_journal_append_producer, for a message whose first @hdrs_len bytes
 * of @data are its header block (stored with SL_JREC_F_HDRS; 0: none).
 * Also -EINVAL when @hdrs_len is over @len. */
int sl_journal_append_hdrs(struct sl_journal *j, const void *data, uint32_t len,
			   uint16_t hdrs_len, uint64_t timestamp, uint64_t producer_id,
			   uint32_t producer_epoch, uint64_t producer_seq, uint64_t *seq);

/*
 * Leader epochs (a replicated pair; see "Leader epochs" above).
 *
 * sl_journal_set_leader_epoch: appends from now on carry @epoch. Returns 0,
 * or -EINVAL when @epoch is below the last record's epoch (epochs never go
 * down along a journal). No system call, no allocation. Owner thread.
 *
 * sl_journal_last_epoch: the leader epoch of the last record (0 when the
 * journal holds none).
 *
 * sl_journal_epoch_end: the last sequence of a record whose leader epoch is
 * <= @epoch; 0 when no retained record has one (also when the records of
 * that epoch are gone to retention: the caller then starts over). A record
 * of a later epoch may follow: the answer is where a replica whose last
 * record has epoch @epoch and a later seq diverged. O(epochs), from memory.
 */
int sl_journal_set_leader_epoch(struct sl_journal *j, uint32_t epoch);
uint32_t sl_journal_last_epoch(const struct sl_journal *j);
uint64_t sl_journal_epoch_end(const struct sl_journal *j, uint32_t epoch);
/* The @i-th entry of the epoch history, oldest first: the epoch and the
 * first sequence written in it. 0, or -ENOENT past the end. */
int sl_journal_epoch_get(const struct sl_journal *j, uint32_t i, uint32_t *epoch,
			 uint64_t *first_seq);

/* A record's fields as a primary wrote them, for sl_journal_append_replica. */
struct sl_jrec_meta {
	uint64_t seq, timestamp, producer_id, producer_seq;
	uint32_t producer_epoch, leader_epoch;
	uint16_t hdrs_len; /* header-block bytes at the start of the data (0: none) */
};

/*
 * Append a record copied from a primary, keeping its sequence, timestamp,
 * producer fields and leader epoch (a standby's journal). @m->seq must be
 * sl_journal_last_seq + 1, or, when the journal holds no record (and no
 * damaged or skipped range: sl_journal_truncate below the first record
 * makes it so), any sequence above every one it held (sl_journal_last_seq):
 * the journal then starts there. Later appends carry at least
 * @m->leader_epoch (the epoch set by sl_journal_set_leader_epoch rises to
 * it). The record is durable at the next sl_journal_sync, as with
 * sl_journal_append.
 * Returns 0; -ESPIPE (the sequence does not follow: nothing written);
 * -EINVAL (@m->leader_epoch below the last record's, or hdrs_len over
 * @len); or any error of sl_journal_append. As sl_journal_append, with
 * conf.prepared_only it makes no system call and allocates nothing (also
 * when it starts an empty journal at a new sequence: a prepared spare is
 * stamped, as a roll does). Owner thread.
 */
int sl_journal_append_replica(struct sl_journal *j, const struct sl_jrec_meta *m,
			      const void *data, uint32_t len);

/*
 * Remove every record with a sequence above @keep, committed ones too (a
 * replica discarding a divergent tail); the next append gets @keep + 1.
 * When @keep is below the first retained record the journal is left empty
 * and sl_journal_append_replica may start it at any sequence above @keep.
 * When @keep falls in a damaged range, the records kept end before it
 * (sl_journal_last_seq says where). Pending appends are synced first.
 * Crash safe: journal.meta records the truncation (keep) durably before
 * any segment changes and clears it when all is done; an open that finds it
 * set finishes it, so a crash at any point leaves the journal as it was or
 * truncated, never a mix, and never anything read as damage. Later segments
 * leave the journal as retention retires them (kept for reuse as spares,
 * or deleted); the segment holding @keep is cut after it and appended to
 * again. The sequences past @keep are handed out again: the one exception
 * to "a sequence is never handed out again".
 * Slow and rare: it makes file-system calls (journal.meta written twice,
 * fsyncs, renames or unlinks; it does the chores itself and waits, briefly,
 * for a preparing thread in the middle of one). Owner thread.
 * Returns 0 (also when nothing is above @keep), -EROFS (read-only, or a
 * persist failed before: refused), or -errno (then the journal refuses
 * appends, as after a failed sync, and the next open finishes the
 * truncation).
 */
int sl_journal_truncate(struct sl_journal *j, uint64_t keep);

/*
 * Make every appended record durable and committed: persist the records
 * (one drain on persistent memory, or msync of the dirty range on ordinary
 * files), then the segment's commit watermark (a second drain, or msync of
 * the header page). Cheap when nothing is pending.
 * Returns 0 or -EIO (the records since the last sync are not committed and
 * the journal turns read-only).
 */
int sl_journal_sync(struct sl_journal *j);

/* Sequence of the last record appended (0 if none) and the last committed
 * one (at or below a persisted watermark: the only ones to acknowledge). */
uint64_t sl_journal_last_seq(const struct sl_journal *j);
uint64_t sl_journal_durable_seq(const struct sl_journal *j);
uint64_t sl_journal_first_seq(const struct sl_journal *j);
/* Bytes of all segments, and 1 if the journal refuses appends (-EROFS: a
 * persist failed, or read-only). Damage found at open does not count. */
uint64_t sl_journal_bytes(const struct sl_journal *j);
int sl_journal_damaged(const struct sl_journal *j);

/*
 * Read the record with sequence @seq. Returns 0, -ENOENT (before the first
 * retained record or after the last), -EUCLEAN (in a damaged or skipped
 * range: sl_journal_gap_end says where it ends).
 */
int sl_journal_read(struct sl_journal *j, uint64_t seq, struct sl_jrec_view *out);

/* The last sequence of the damaged or skipped range holding @seq, with its
 * kind in *kind (may be NULL); 0 when @seq is in none. */
uint64_t sl_journal_gap_end(const struct sl_journal *j, uint64_t seq, uint32_t *kind);

/* Damaged and skipped ranges recovery found, in sequence order: the count,
 * and the @i-th (NULL past the end). */
uint32_t sl_journal_damage_count(const struct sl_journal *j);
const struct sl_journal_damage *sl_journal_damage_get(const struct sl_journal *j, uint32_t i);

/* "corrupt", "missing", "torn", "header" */
const char *sl_journal_damage_name(uint32_t kind);

/* Write one line describing @d (file, offset, seqs, what) to @out. */
void sl_journal_damage_describe(const struct sl_journal_damage *d, FILE *out);

/* First sequence whose timestamp is >= @ts_ns (last_seq + 1 if none). */
uint64_t sl_journal_seek_time(struct sl_journal *j, uint64_t ts_ns);

/*
 * Apply retention at time @now_ns (same clock as record timestamps):
 * retire whole segments, oldest first, never the one being written. A
 * retired segment leaves the journal at once (its records are no longer
 * served); its mapping and file go at the next sl_journal_prepare, or
 * here without conf.prepared_only. At most a few dozen segments wait to
 * be deleted at a time; past that, retention waits for the next call.
 * Returns the number of segments retired.
 */
int sl_journal_retain(struct sl_journal *j, uint64_t now_ns);

/*
 * Retention floor: sl_journal_retain never retires a segment holding a
 * sequence >= @seq (a durable consumer group with RETAIN still needs it:
 * the lowest of its unacknowledged messages and its cursor), unless the
 * journal is at its capacity_bytes (the next roll would be refused): then
 * retention wins, counted in sl_journal_floor_overrides, and the group
 * finds its messages gone (a gap). 0 (the default): no floor. A floor only
 * holds back what retain_bytes or retain_age_ns would delete. Any thread
 * (relaxed: the owner adopts it at its next retention pass).
 */
void sl_journal_set_floor(struct sl_journal *j, uint64_t seq);
uint64_t sl_journal_floor(const struct sl_journal *j);
/* Segments retired although the floor held them (capacity reached). */
uint64_t sl_journal_floor_overrides(const struct sl_journal *j);

/* Rolls that took a recycled segment rather than a fresh one. Any thread. */
uint64_t sl_journal_recycled(const struct sl_journal *j);

/* Rolls refused because no spare was prepared yet (conf.prepared_only):
 * each refused the append that needed it with -ENOSPC. Any thread. */
uint64_t sl_journal_roll_waits(const struct sl_journal *j);

/*
 * Change the journal's capacity_bytes, retain_bytes and retain_age_ns (as
 * in struct sl_journal_conf). Safe from any one thread at a time,
 * concurrently with the writer: the writer adopts them at its next
 * retention pass or segment roll, so a lowered retention deletes segments
 * at the next sl_journal_retain and a capacity applies from the next roll.
 */
void sl_journal_set_limits(struct sl_journal *j, uint64_t capacity_bytes, uint64_t retain_bytes,
			   uint64_t retain_age_ns);

/* Describe the segments (first/last seq, bytes used) to @out. */
void sl_journal_describe(const struct sl_journal *j, FILE *out);

/*
 * fsync(2) the directory @dir, so that entries created, renamed or removed
 * in it survive a crash (the journal's segment rolls, a topic's saved spec).
 * Returns 0 or -errno.
 */
int sl_journal_sync_dir(const char *dir);

/*
 * Replace file @name in @dir with @len bytes of @data durably: written to
 * @name.tmp, fsynced, renamed over @name, the directory fsynced; a crash
 * leaves the old file or the new one (and maybe a .tmp). For the small
 * files beside a journal (a topic's spec, a group's settings). 0 or -errno.
 */
int sl_file_replace(const char *dir, const char *name, const void *data, size_t len);

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2. */
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len);

#endif /* SLUICE_JOURNAL_H */
