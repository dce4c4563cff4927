/* SPDX-License-Identifier: BSD-3-Clause */
/* Internals shared by the journal's files: on-media layouts, the journal's state, and
 * the hand-over between the journal's owner and its preparing thread. */

#ifndef SLUICE_JOURNAL_INTERNAL_H
#define SLUICE_JOURNAL_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

#define ALIGN8(x) (((x) + 7u) & ~(uint64_t)7u)
#define REC_BYTES(len) (sizeof(struct sl_jrec) + ALIGN8((uint64_t)(len)))
/* A record's bytes in segment @s (whose records may be of version 1). */
#define SREC_BYTES(s, len) ((s)->rec_hdr + ALIGN8((uint64_t)(len)))
#define CRC_FROM offsetof(struct sl_jrec, seq)
#define CRC_LEN (offsetof(struct sl_jrec, crc) - CRC_FROM)
#define META_NAME "journal.meta"
#ifdef MADV_POPULATE_READ
#define MADV_POPULATE_READ_ MADV_POPULATE_READ
#else
#define MADV_POPULATE_READ_ 22 /* Linux 5.14 */
#endif
#ifdef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE_ MADV_POPULATE_WRITE
#else
#define MADV_POPULATE_WRITE_ 23 /* Linux 5.14 */
#endif
#define SEG_VERSION 5u	 /* records carry their leader epoch (journal.h) */
#define SEG_VERSION_V4 4u /* records tagged with the segment's generation: still read */
#define SEG_VERSION_V3 3u /* records of 64 bytes, flags used: still read */
#define SEG_VERSION_V2 2u /* records of 64 bytes, flags 0: still read */
#define SEG_VERSION_V1 1u /* records of 56 bytes, still read */
/* A segment header version this code reads. */
#define SEG_VERSION_KNOWN(v) ((v) >= SEG_VERSION_V1 && (v) <= SEG_VERSION)
#define SL_JRECYCLE_MAX 16u /* retired segments kept for reuse at most */
#define SPARE_PREFIX "spare-"
#define SPARE_SUFFIX ".tmp" /* spare-N.tmp: a prepared segment, not yet numbered */
#define SL_JCHORES 32u	    /* owner -> preparer hand-over ring (a power of two) */
#define SL_JSPARES_MAX 4u   /* spares kept ready at most (a power of two) */
/* Spares kept ready by default: enough for this many bytes, at least one
 * (small segments fill in milliseconds, faster than one wake-up of a
 * preparing thread that sleeps when idle). */
#define SL_JSPARE_BYTES (64ull << 20)

/* On-media segment header (SL_JSEG_HDR bytes). */
struct seg_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t segment_bytes;
	uint64_t first_seq;
	uint64_t created_ns;
	uint32_t crc; /* CRC32C of the bytes before it (version 4 on: and of gen) */
	uint32_t gen; /* version 4 on: this use of the file (1..SL_JSEG_GEN_MAX); 0 before */
	uint64_t commit[2]; /* commit watermark slots (journal.h) */
};
_Static_assert(sizeof(struct seg_hdr) == SL_JSEG_HDR, "segment header");
_Static_assert(offsetof(struct seg_hdr, commit) == 48, "commit slots");
_Static_assert(offsetof(struct seg_hdr, gen) == 44, "generation");

/* journal.meta, version 1: one copy, written when the journal was created. */
struct meta_v1 {
	uint64_t magic;
	uint32_t version;
	uint32_t reserved;
	uint64_t segment_bytes;
	uint64_t created_ns;
	uint32_t crc;
	uint32_t pad;
};

/* journal.meta, version 2: two copies of this, one after the other. */
struct meta {
	uint64_t magic;
	uint32_t version;
	uint32_t size; /* sizeof(struct meta) */
	uint64_t segment_bytes;
	uint64_t created_ns;
	uint64_t last_seq; /* at the last clean close: a lower bound for the next */
	/* A truncation in progress (sl_journal_truncate): its keep + 1; 0 none.
	 * Written (with last_seq = keep) before the truncation changes a
	 * segment, cleared once it is done; an open finds it set only after a
	 * crash, and finishes the truncation. (Zero in journals written before.) */
	uint64_t trunc;
	uint64_t reserved;
	uint32_t crc; /* CRC32C of the bytes before it */
	uint32_t pad;
};
_Static_assert(sizeof(struct meta) == 64, "journal.meta copy");
_Static_assert(offsetof(struct meta, trunc) == 40, "journal.meta truncation intent");
#define META_VERSION 2u

/* Leader epoch history entries kept per journal (see struct sl_journal). */
#define SL_JEPOCHS 64u

struct jepoch {
	uint64_t first_seq; /* the first record of this epoch */
	uint32_t epoch;
	uint32_t pad;
};

struct idx_ent {
	uint64_t seq;
	uint64_t ts;
	uint64_t off;
};

struct seg {
	uint8_t *base;
	size_t size;
	uint64_t used;	    /* write offset */
	uint64_t first_seq; /* from the header */
	uint64_t last_seq;  /* first_seq - 1 when empty */
	uint64_t last_ts;
	uint64_t wm_seq;    /* committed up to here (persisted watermark) */
	uint64_t spare_no;  /* its file was spare-N.tmp (renamed by the preparer); 0: not */
	uint32_t rec_hdr;   /* record header bytes: 64, or 56 in a version 1 segment */
	uint32_t version;   /* the header's SEG_VERSION*: appends go only to SEG_VERSION */
	uint32_t gen;	    /* this use of the file (version 4 on; 0 before): its records' tag */
	int hdr_bad;	    /* the header failed its checks at open: its history is unknown */
	int wm_valid;	    /* a commit slot held a valid watermark at open */
	uint8_t wm_slot;    /* the slot the next watermark goes to */
	int is_pmem;
	int read_only;	    /* mapped with mmap(PROT_READ) */
	int closed;	    /* ends with the SL_JREC_END marker, or damaged: no appends */
	/* Sparse index, allocated whole with the segment (sl_jidx_cap entries):
	 * appends never grow it. */
	struct idx_ent *idx;
	uint32_t n_idx, cap_idx;
	uint64_t idx_last_off;
};

/* The tag a record of @s carries in its commit word's high half: "RJLS"
 * xor the segment's generation (0, plain "RJLS", before version 4), and its
 * end marker likewise; a record or marker of an earlier use of the file
 * carries another. */
static inline uint32_t
sl_jseg_tag(const struct seg *s)
{
	return SL_JREC_MAGIC ^ s->gen;
}

static inline uint64_t
sl_jseg_end(const struct seg *s)
{
	return SL_JREC_END ^ (uint64_t)s->gen << 32;
}

/* Does @s hold bytes of an earlier use of its file past its own (a
 * recycled segment)? Its first use has generation 1 (0: before version 4). */
static inline int
sl_jseg_reused(const struct seg *s)
{
	return s->gen > 1;
}

/* The CRC a segment header must hold: of bytes 0..39, and from version 4
 * of its generation too. */
static inline uint32_t
sl_jseg_hdr_crc(const struct seg_hdr *h)
{
	uint32_t c = sl_crc32c(0, h, offsetof(struct seg_hdr, crc));

	return h->version >= SEG_VERSION_V4 ? sl_crc32c(c, &h->gen, sizeof(h->gen)) : c;
}

/* The first sequence of @r's group commit, in a segment of @version: from
 * version 5 on stored as its distance below the record's own sequence
 * (a batch never spans two segments, so it fits 32 bits as the commit
 * watermark's count does), before as the sequence itself. */
static inline uint64_t
sl_jrec_batch(const struct sl_jrec *r, uint32_t version)
{
	uint64_t b;

	if (version >= SEG_VERSION)
		return r->seq - r->batch_back;
	memcpy(&b, &r->batch_back, sizeof(b));
	return b;
}

/* A record's leader epoch: 0 before segment version 5. */
static inline uint32_t
sl_jrec_epoch(const struct sl_jrec *r, uint32_t version)
{
	return version >= SEG_VERSION ? r->leader_epoch : 0;
}

/* A segment made ready by sl_journal_prepare: file created as spare-N.tmp,
 * allocated and synced, mapped, pages faulted in, index allocated; and,
 * when the owner's segment table would be full after the roll that takes
 * it, a larger table for the owner to move to. */
struct spare {
	struct seg s;
	uint64_t no;	     /* spare-<no>.tmp */
	uint64_t created_ns; /* for the header the owner stamps */
	struct seg *grow;    /* NULL, or a table of grow_cap entries */
	uint32_t grow_cap;
	int reused;	     /* a retired segment's file, kept for reuse */
};

/*
 * Slow work the owner hands to the preparing thread. RENAME: a spare the
 * owner started a segment in gets its name (spare-N.tmp -> first_seq.seg),
 * and what the owner gave up is freed (the spare's holder, an outgrown
 * segment table). RETIRE: a segment retention removed from the journal is
 * unmapped, its index freed and its file unlinked.
 */
enum chore_kind { CHORE_RENAME = 1, CHORE_RETIRE };

struct chore {
	uint32_t kind;
	struct seg s; /* RETIRE: mapping, index and names; RENAME: first_seq, spare_no */
	void *free1, *free2;
};

struct sl_journal {
	/* Segments made ready by sl_journal_prepare (another thread), taken by
	 * the next rolls, in order: a ring of sp_depth at most. The preparer
	 * writes a slot, then sp_head (release); the owner reads sp_head
	 * (acquire), takes the slot, then sp_tail (release: the preparer
	 * reuses a slot only once the owner read it). */
	struct spare *spares[SL_JSPARES_MAX];
	uint32_t sp_head, sp_tail, sp_depth;
	uint32_t prep_cap;   /* preparer: the segment table size its spares arranged */
	uint64_t spare_no;   /* names the next spare file (atomic add) */
	int prep_err;	     /* preparer's last failure, 0 after a success; read by the owner */
	uint64_t prep_retry_ns, prep_backoff_ns; /* preparer: next attempt after a failure */
	int full;	     /* owner: the file system refused a segment, no spare since */
	uint64_t roll_waits; /* owner: rolls refused for want of a prepared spare */
	/* The owner's segment count, for the preparer to size the table by
	 * (relaxed: the preparer allows for one roll it has not seen yet). */
	uint32_t n_hint;
	/* Chores ring: the owner writes a slot, then ch_head (release); the
	 * preparer reads ch_head (acquire), does the slot, then ch_tail
	 * (release, so the owner reuses a slot only once it was read). ch_busy
	 * lets only one thread at a time do chores (a try, never a wait). */
	struct chore chores[SL_JCHORES];
	uint32_t ch_head, ch_tail, ch_busy;
	int chore_err;	     /* the last chore that failed: -errno */
	char dir[PATH_MAX];
	struct sl_journal_conf conf;
	const struct sl_persist_ops *ops;
	uint64_t seg_bytes;
	struct seg *segs;
	uint32_t n_segs, cap_segs;
	uint64_t next_seq;
	uint64_t durable_seq;
	uint64_t batch_first; /* 0 when nothing is pending */
	uint64_t dirty_lo, dirty_hi; /* in the last segment */
	int damaged;		     /* refuse appends: a persist failed, or read-only */
	uint64_t meta_last;	     /* journal.meta's last sequence (a lower bound) */
	uint64_t created_ns;	     /* journal.meta's creation time */
	struct sl_journal_damage *holes; /* damaged or skipped ranges, by seq */
	uint32_t n_holes, cap_holes;
	uint32_t rd_seg;	     /* sequential read cursor */
	uint64_t rd_off, rd_seq;
	/* Limits from sl_journal_set_limits (another thread), taken into conf
	 * by the writer: want_limits is a generation (release by the setter,
	 * acquire by the writer), the three values relaxed before it. */
	uint64_t want_capacity, want_retain, want_age_ns;
	uint32_t want_limits, have_limits;
	/* Retired segments kept for reuse (their files renamed spare-N.tmp,
	 * still mapped, marked SL_JSEG_RECYCLED), at most pool_max: filled by
	 * chores, emptied by the spares made from them; only while holding
	 * ch_busy. recycled: rolls into one of them (relaxed, any thread). */
	struct seg pool[SL_JRECYCLE_MAX];
	uint64_t pool_no[SL_JRECYCLE_MAX]; /* spare-<no>.tmp of each */
	uint32_t n_pool, pool_max;
	uint64_t recycled;
	/* Retention floor (sl_journal_set_floor): 0 none; relaxed, any thread.
	 * floor_overrides: segments retired past it (capacity), owner only. */
	uint64_t floor;
	uint64_t floor_overrides;
	/* Leader epochs (owner only): appends carry @epoch; the history holds
	 * the first sequence of each epoch the retained records have, oldest
	 * first, built at open and kept by appends, retention and truncation.
	 * Fixed size, so that appends never allocate: when full, the two
	 * oldest entries merge into the later epoch (sl_journal_epoch_end then
	 * answers lower for the older one: a replica truncates more, never
	 * less, than it must). */
	uint32_t epoch;
	uint32_t n_epochs;
	uint64_t epoch_last; /* the last record noted: where the last epoch ends */
	struct jepoch epochs[SL_JEPOCHS];
	/* journal.meta's truncation in progress, found at open: keep + 1 (0 none). */
	uint64_t trunc_pending;
	unsigned steps; /* conf.ops->step: the next step's number */
};

/* --- journal.c: records and persistence --- */

/* The record at @off of @s if it is whole and its CRC holds; @seq, when not
 * 0, must match. Reads only inside the mapping. */
const struct sl_jrec *sl_jrec_at(const struct seg *s, uint64_t off, uint64_t seq);
/* Is the record at @off of @s this use's by its CRC (which covers the
 * generation from version 4 on), whatever its commit word says? */
int sl_jrec_own(const struct seg *s, uint64_t off);
/* Index entries a segment can need: bounded by the records it can hold
 * and by the index stride. */
uint32_t sl_jidx_cap(const struct sl_journal *j);
/* Index @off when @every bytes passed since the last entry (0: always).
 * Grows the index only with @may_grow (recovery, on the opening thread).
 * Inline: it runs for every append. */
static inline void
sl_jidx_add(struct seg *s, uint64_t seq, uint64_t ts, uint64_t off, uint32_t every, int may_grow)
{
	struct idx_ent *n;

	if (s->n_idx && every && off - s->idx_last_off < every)
		return;
	if (s->n_idx == s->cap_idx) {
		uint32_t cap = s->cap_idx ? s->cap_idx * 2 : 64;

		/* The index is a hint (reads still find records by scanning):
		 * a full one on the append path stays as it is. */
		if (!may_grow)
			return;
		n = realloc(s->idx, cap * sizeof(*n));
		if (n == NULL)
			return;
		s->idx = n;
		s->cap_idx = cap;
	}
	s->idx[s->n_idx++] = (struct idx_ent){ seq, ts, off };
	s->idx_last_off = off;
}
/* Make [lo, hi) of @s durable: 0 or -EIO. */
/* The journal's only way of writing a mapping: ordinary stores (inline: a
 * few per append, most of fixed size). */
static inline void
sl_jcopy(struct seg *s, uint64_t off, const void *src, size_t len)
{
	memcpy(s->base + off, src, len);
}
int sl_jpersist_range(struct sl_journal *j, struct seg *s, uint64_t lo, uint64_t hi);
uint64_t sl_jwm_encode(uint64_t first_seq, uint32_t count);
int sl_jwm_persist(struct sl_journal *j, struct seg *s, uint64_t last_seq);
/* Stamp a fresh segment's header, persist it and start it empty. */
int sl_jseg_stamp(struct sl_journal *j, struct seg *s, uint64_t first_seq, uint64_t created_ns);

/* --- journal_epoch.c: leader epochs --- */

/* Record @seq has leader epoch @epoch (appended, or found at open): a new
 * history entry when the epoch changes. No allocation. Inline: it runs for
 * every append. */
static inline void
sl_jepoch_note(struct sl_journal *j, uint64_t seq, uint32_t epoch)
{
	j->epoch_last = seq;
	/* Epochs never go down along a journal (the appends refuse it): a
	 * lower one can only be a file written otherwise, and counts as the
	 * current epoch (sl_journal_epoch_end then answers lower for it). */
	if (__builtin_expect(j->n_epochs && epoch <= j->epochs[j->n_epochs - 1].epoch, 1))
		return;
	if (j->n_epochs == SL_JEPOCHS) {
		/* Full: the two oldest merge into the later epoch. Asked about
		 * the older one, epoch_end then says 0 (nothing known to be
		 * of it): a replica truncates more than it must, never less. */
		j->epochs[1].first_seq = j->epochs[0].first_seq;
		memmove(&j->epochs[0], &j->epochs[1], (SL_JEPOCHS - 1) * sizeof(j->epochs[0]));
		j->n_epochs--;
	}
	j->epochs[j->n_epochs++] = (struct jepoch){ .first_seq = seq, .epoch = epoch };
}
/* Forget the history before @first_seq (retention) and after @last_seq
 * (truncation), keeping what the records left need. */
void sl_jepoch_trim(struct sl_journal *j, uint64_t first_seq, uint64_t last_seq);

/* --- journal_truncate.c --- */

/* Cut @s after record @keep, which ends at @off: both commit slots say
 * @keep, the bytes past it are zeroed, all persisted; @s takes appends
 * again (unless damaged). Its index and last timestamp the caller keeps. */
int sl_jseg_cut(struct sl_journal *j, struct seg *s, uint64_t off, uint64_t keep);

/* --- journal_recover.c --- */

/* Where the bytes this use of @s may have written past @off end. */
uint64_t sl_jtail_end(const struct seg *s, uint64_t off);

/* --- journal_meta.c: journal.meta --- */

/* Write journal.meta whole or not at all (see journal_meta.c): 0 or -errno. */
int sl_jmeta_write(struct sl_journal *j, uint64_t created_ns, uint64_t last_seq, uint64_t trunc,
		   int durable);
/* Read journal.meta: 0, 1 missing, 2 unusable, or -errno. */
int sl_jmeta_load(struct sl_journal *j, struct sl_journal_recovery *rec, uint64_t *created);
uint64_t sl_jmeta_rebuild_seg_bytes(struct sl_journal *j, const uint64_t *firsts, uint32_t n);

/* --- journal_segment.c: files, mappings, spares, chores --- */

void sl_jseg_path(const struct sl_journal *j, uint64_t first_seq, char *out, size_t len);
int sl_jseg_map(struct sl_journal *j, const char *path, struct seg *s, int prefault);
void sl_jseg_unmap(struct seg *s);
/* Create, size, map and stamp a segment named by @first_seq (opening thread). */
int sl_jseg_create(struct sl_journal *j, uint64_t first_seq, struct seg *s);
/* Append @s to the segment table, growing it (opening thread). */
int sl_jsegs_push(struct sl_journal *j, const struct seg *s);
/*
 * Owner, at a roll: take the prepared spare and stamp it as the segment
 * starting at @first_seq (not yet in j->segs: sl_jseg_start adds it, or
 * sl_jseg_giveup hands it back). -ENOSPC when none is ready (counted in
 * roll_waits; without conf.prepared_only the owner makes one itself, and
 * -ENOSPC means the file system is full), or -errno (a persist failed).
 */
int sl_jseg_take(struct sl_journal *j, uint64_t first_seq, struct spare **out);
int sl_jseg_start(struct sl_journal *j, struct spare *sp); /* 0, -ENOMEM (no preparer only) */
void sl_jseg_giveup(struct sl_journal *j, struct spare *sp);
/* Owner: hand segment 0 to the preparer for deletion; 0 or -EAGAIN (no room
 * in the chores ring). */
int sl_jseg_retire_oldest(struct sl_journal *j);
/* Owner: hand the last segment to the preparer (truncation); 0 or -EAGAIN. */
int sl_jseg_retire_last(struct sl_journal *j);
/* Owner: do every chore handed over, waiting for a preparing thread that
 * is doing some (file-system calls: truncation only). */
void sl_jchores_drain(struct sl_journal *j);
/* Do the chores the owner handed over. Returns how many. */
unsigned sl_jchores_run(struct sl_journal *j);
/* Publish the owner's segment count to the preparer. */
void sl_jsegs_hint(struct sl_journal *j);
/* Opening thread, before listing segments: a spare a roll had started a
 * segment in (valid header) gets its segment name; unused ones go. */
int sl_jspares_recover(struct sl_journal *j);
/* Drop the unused spare, if any (close). */
void sl_jspare_drop(struct sl_journal *j);

#endif /* SLUICE_JOURNAL_INTERNAL_H */
