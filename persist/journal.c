/* SPDX-License-Identifier: BSD-3-Clause */
/* Append-only, segmented, CRC-checked message journal on libpmem mappings. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpmem.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <common/clock.h>

#include "journal.h"

_Static_assert(sizeof(struct sl_jrec) == 56, "journal record header");
_Static_assert(offsetof(struct sl_jrec, crc) == 48, "crc offset");

#define ALIGN8(x) (((x) + 7u) & ~(uint64_t)7u)
#define REC_BYTES(len) (sizeof(struct sl_jrec) + ALIGN8((uint64_t)(len)))
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
#define SEG_VERSION 1u
#define SPARE_SUFFIX ".tmp" /* spare-N.tmp: a prepared segment, not yet numbered */

/* On-media segment header (SL_JSEG_HDR bytes). */
struct seg_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t segment_bytes;
	uint64_t first_seq;
	uint64_t created_ns;
	uint32_t crc; /* CRC32C of the bytes before it */
	uint32_t reserved;
	uint64_t commit[2]; /* commit watermark slots (journal.h) */
};
_Static_assert(sizeof(struct seg_hdr) == SL_JSEG_HDR, "segment header");
_Static_assert(offsetof(struct seg_hdr, commit) == 48, "commit slots");

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
	uint64_t reserved[2];
	uint32_t crc; /* CRC32C of the bytes before it */
	uint32_t pad;
};
_Static_assert(sizeof(struct meta) == 64, "journal.meta copy");
#define META_VERSION 2u

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
	int wm_valid;	    /* a commit slot held a valid watermark at open */
	uint8_t wm_slot;    /* the slot the next watermark goes to */
	int is_pmem;
	int read_only;	    /* mapped with mmap(PROT_READ) */
	int closed;	    /* ends with the SL_JREC_END marker, or damaged: no appends */
	struct idx_ent *idx;
	uint32_t n_idx, cap_idx;
	uint64_t idx_last_off;
};

struct sl_journal {
	/* A segment made ready by sl_journal_prepare (another thread), taken
	 * by the next roll; NULL when none. Exchanged atomically. */
	struct spare *spare;
	uint32_t want_spare; /* set by the owner, cleared by the preparer */
	uint64_t spare_no;   /* preparer: names the next spare file */
	int prep_err;	     /* preparer's last failure, 0 after a success; read by the owner */
	uint64_t prep_retry_ns, prep_backoff_ns; /* preparer: next attempt after a failure */
	int full;	     /* owner: the file system refused a segment, no spare since */
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
};

const struct sl_persist_ops sl_persist_libpmem = {
	.flush = pmem_flush,
	.drain = pmem_drain,
	.msync = pmem_msync,
	.is_pmem = pmem_is_pmem,
};

/* --- records ----------------------------------------------------------------- */

static uint32_t
rec_crc(const struct sl_jrec *r, const void *payload)
{
	uint32_t c = sl_crc32c(0, (const uint8_t *)r + CRC_FROM, CRC_LEN);

	return sl_crc32c(c, payload, r->len);
}

/*
 * The record at @off of @s if it is whole and its CRC holds; @seq, when not
 * 0, must match. Reads only inside the mapping (s->size).
 */
static const struct sl_jrec *
rec_at(const struct seg *s, uint64_t off, uint64_t seq)
{
	const struct sl_jrec *r;
	uint32_t len;

	if (off + sizeof(*r) > s->size)
		return NULL;
	r = (const struct sl_jrec *)(s->base + off);
	if ((r->commit >> 32) != SL_JREC_MAGIC)
		return NULL;
	len = (uint32_t)r->commit;
	if (len != r->len || len > SL_JREC_MAX_PAYLOAD || off + REC_BYTES(len) > s->size)
		return NULL;
	if ((seq && r->seq != seq) || r->batch > r->seq || r->batch == 0)
		return NULL;
	return rec_crc(r, r + 1) == r->crc ? r : NULL;
}

/* Index @off when @every bytes passed since the last entry (0: always, as
 * after a damaged range, so that reads never walk into one). */
static void
idx_add(struct seg *s, uint64_t seq, uint64_t ts, uint64_t off, uint32_t every)
{
	struct idx_ent *n;

	if (s->n_idx && every && off - s->idx_last_off < every)
		return;
	if (s->n_idx == s->cap_idx) {
		uint32_t cap = s->cap_idx ? s->cap_idx * 2 : 64;

		n = realloc(s->idx, cap * sizeof(*n));
		if (n == NULL)
			return; /* the index is a hint: reads still find records by scanning */
		s->idx = n;
		s->cap_idx = cap;
	}
	s->idx[s->n_idx++] = (struct idx_ent){ seq, ts, off };
	s->idx_last_off = off;
}

/* --- persistence ------------------------------------------------------------------ */

/*
 * Records are written with ordinary stores, pmem or not; what makes them
 * durable is persist_range at the group commit: on pmem one write-back per
 * cache line of the batch and one drain (a line shared by two records, or
 * by a record's header and its commit word, is written back once, not once
 * per store), on files one msync.
 */
static void
copy(struct seg *s, uint64_t off, const void *src, size_t len)
{
	memcpy(s->base + off, src, len);
}

/* Make [lo, hi) of @s durable. */
static int
persist_range(struct sl_journal *j, struct seg *s, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return 0;
	if (s->is_pmem) {
		j->ops->flush(s->base + lo, hi - lo);
		j->ops->drain();
		return 0;
	}
	return j->ops->msync(s->base + lo, hi - lo) < 0 ? -EIO : 0;
}

/* The 8-byte commit slot value saying that @count records of the segment
 * starting at @first_seq are committed. */
static uint64_t
wm_encode(uint64_t first_seq, uint32_t count)
{
	uint64_t v[2] = { first_seq, count };

	return (uint64_t)sl_crc32c(0x5354434du, v, sizeof(v)) << 32 | count;
}

/*
 * Persist @s's watermark: @last_seq and everything before it in the segment
 * are committed. Called only once the records themselves are persisted:
 * written after that drain, the watermark can never cover a record that is
 * not on the media. The slot not written last takes it, so a write torn by
 * a crash leaves the previous watermark valid.
 */
static int
wm_persist(struct sl_journal *j, struct seg *s, uint64_t last_seq)
{
	uint64_t v = wm_encode(s->first_seq, (uint32_t)(last_seq + 1 - s->first_seq));
	uint64_t off = offsetof(struct seg_hdr, commit) + s->wm_slot * sizeof(uint64_t);
	int rc;

	__atomic_store_n((uint64_t *)(s->base + off), v, __ATOMIC_RELAXED);
	rc = persist_range(j, s, off, off + sizeof(v));
	if (rc == 0) {
		s->wm_slot ^= 1;
		s->wm_seq = last_seq;
	}
	return rc;
}

int
sl_journal_sync(struct sl_journal *j)
{
	struct seg *s;
	int rc;

	if (j->batch_first == 0)
		return 0;
	s = &j->segs[j->n_segs - 1];
	rc = persist_range(j, s, j->dirty_lo, j->dirty_hi);
	if (rc == 0)
		rc = wm_persist(j, s, j->next_seq - 1);
	if (rc < 0) {
		/* What is in the batch may or may not be on the media: never
		 * acknowledge it, and accept nothing more. */
		j->damaged = 1;
		return rc;
	}
	j->durable_seq = j->next_seq - 1;
	j->batch_first = 0;
	j->dirty_lo = j->dirty_hi = 0;
	return 0;
}

/* --- segment files ---------------------------------------------------------------- */

static void
seg_path(const struct sl_journal *j, uint64_t first_seq, char *out, size_t len)
{
	snprintf(out, len, "%s/%020" PRIu64 ".seg", j->dir, first_seq);
}

int
sl_journal_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Map a read-only journal's segment: nothing can be written through it. */
static int
seg_map_ro(const char *path, struct seg *s)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (st.st_size == 0)
		rc = -ENODATA;
	if (rc == 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			rc = -errno;
		else {
			s->base = p;
			s->size = (size_t)st.st_size;
			s->read_only = 1;
		}
	}
	close(fd);
	return rc;
}

static int
seg_map(struct sl_journal *j, const char *path, struct seg *s, int prefault)
{
	size_t mapped;
	int is_pmem, rc;

	memset(s, 0, sizeof(*s));
	if (j->conf.read_only) {
		rc = seg_map_ro(path, s);
		if (rc < 0)
			return rc;
		if (prefault)
			(void)madvise(s->base, s->size, MADV_POPULATE_READ_);
		return 0;
	}
	s->base = pmem_map_file(path, 0, 0, 0, &mapped, &is_pmem);
	if (s->base == NULL)
		return errno == EINVAL ? -ENODATA : -errno; /* EINVAL: an empty file */
	s->size = mapped;
	s->is_pmem = j->ops->is_pmem(s->base, mapped) != 0;
	/* Recovery reads it all: fault it in with one call rather than a fault
	 * per page. Not for a new segment: that would stall the appending
	 * worker for the whole size; its pages fault in as records reach them.
	 * Older kernels lack the advice; then pages fault in on first touch. */
	if (prefault)
		(void)madvise(s->base, mapped, MADV_POPULATE_READ_);
	return 0;
}

static void
seg_unmap(struct seg *s)
{
	if (s->base && s->read_only)
		munmap(s->base, s->size);
	else if (s->base)
		pmem_unmap(s->base, s->size);
	free(s->idx);
	memset(s, 0, sizeof(*s));
}

static int seg_stamp(struct sl_journal *j, struct seg *s, uint64_t first_seq);

/*
 * Reserve a new segment file's blocks: 0 or -errno. A file system without
 * the room is told by its free-block count first: some (tmpfs) allocate and
 * zero everything they can before failing, which would spend milliseconds
 * of a shared core on every attempt while the disk stays full.
 */
static int
seg_allocate(const struct sl_journal *j, int fd)
{
	struct statvfs sv;

	if (j->ops->allocate)
		return j->ops->allocate(fd, j->seg_bytes);
	if (fstatvfs(fd, &sv) == 0 && (uint64_t)sv.f_bfree * sv.f_frsize < j->seg_bytes)
		return -ENOSPC;
	return -posix_fallocate(fd, 0, (off_t)j->seg_bytes);
}

/* Create, size, map and stamp a new segment starting at @first_seq. */
static int
seg_create(struct sl_journal *j, uint64_t first_seq, struct seg *s)
{
	char path[PATH_MAX + 32];
	int fd, rc;

	seg_path(j, first_seq, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -errno;
	rc = -seg_allocate(j, fd);
	close(fd);
	if (rc != 0)
		goto fail;
	rc = -seg_map(j, path, s, 0);
	if (rc != 0)
		goto fail;
	rc = -seg_stamp(j, s, first_seq);
	if (rc != 0) {
		seg_unmap(s);
		goto fail;
	}
	return 0;
fail:
	unlink(path);
	return -rc;
}

static int
segs_push(struct sl_journal *j, const struct seg *s)
{
	if (j->n_segs == j->cap_segs) {
		uint32_t cap = j->cap_segs ? j->cap_segs * 2 : 16;
		struct seg *n = realloc(j->segs, cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		j->segs = n;
		j->cap_segs = cap;
	}
	j->segs[j->n_segs++] = *s;
	return 0;
}

/* --- retention --------------------------------------------------------------------- */

static uint64_t
total_bytes(const struct sl_journal *j)
{
	return (uint64_t)j->n_segs * j->seg_bytes;
}

static int
seg_delete_oldest(struct sl_journal *j)
{
	char path[PATH_MAX + 32];
	uint32_t k;

	seg_path(j, j->segs[0].first_seq, path, sizeof(path));
	seg_unmap(&j->segs[0]);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	memmove(&j->segs[0], &j->segs[1], (j->n_segs - 1) * sizeof(j->segs[0]));
	j->n_segs--;
	/* Damaged ranges before what is retained are gone with it. */
	for (k = 0; k < j->n_holes && j->holes[k].seq_hi < j->segs[0].first_seq; k++)
		;
	if (k) {
		memmove(j->holes, j->holes + k, (j->n_holes - k) * sizeof(j->holes[0]));
		j->n_holes -= k;
	}
	j->rd_seg = 0;
	j->rd_seq = 0; /* invalidate the read cursor */
	return 0;
}

/* Writer: adopt the limits last set by sl_journal_set_limits, if any. */
static void
limits_take(struct sl_journal *j)
{
	uint32_t g = __atomic_load_n(&j->want_limits, __ATOMIC_ACQUIRE);

	if (g == j->have_limits)
		return;
	j->have_limits = g;
	j->conf.capacity_bytes = __atomic_load_n(&j->want_capacity, __ATOMIC_RELAXED);
	j->conf.retain_bytes = __atomic_load_n(&j->want_retain, __ATOMIC_RELAXED);
	j->conf.retain_age_ns = __atomic_load_n(&j->want_age_ns, __ATOMIC_RELAXED);
}

void
sl_journal_set_limits(struct sl_journal *j, uint64_t capacity_bytes, uint64_t retain_bytes,
		      uint64_t retain_age_ns)
{
	__atomic_store_n(&j->want_capacity, capacity_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&j->want_retain, retain_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&j->want_age_ns, retain_age_ns, __ATOMIC_RELAXED);
	/* Release: pairs with the acquire in limits_take; the values above
	 * are visible to a writer that sees the new generation. */
	__atomic_add_fetch(&j->want_limits, 1, __ATOMIC_RELEASE);
}

int
sl_journal_retain(struct sl_journal *j, uint64_t now)
{
	const struct sl_journal_conf *c = &j->conf;
	int n = 0, rc;

	limits_take(j);
	/* Never the last segment: it is the one being written. */
	while (j->n_segs > 1) {
		const struct seg *s = &j->segs[0];
		int by_size = c->retain_bytes && total_bytes(j) > c->retain_bytes;
		int by_age = c->retain_age_ns && s->last_ts + c->retain_age_ns < now;

		if (!by_size && !by_age)
			break;
		rc = seg_delete_oldest(j);
		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}

/* --- a segment prepared ahead ---------------------------------------------------------- */

/*
 * Creating a segment costs its whole size in allocation and zeroing (tens
 * of milliseconds for 64 MiB): done at a roll, that stalls the appending
 * worker and every topic it owns. sl_journal_prepare does it on another
 * thread as soon as the journal has no spare: the file is created under a
 * spare name, allocated, mapped and its pages faulted in; the roll then
 * only renames it, stamps its header and persists that.
 */

/* Stamp a fresh segment's header, make it durable, and start it empty at
 * @first_seq. */
static int
seg_stamp(struct sl_journal *j, struct seg *s, uint64_t first_seq)
{
	struct seg_hdr h = { 0 };
	int rc;

	h.magic = SL_JOURNAL_MAGIC;
	h.version = SEG_VERSION;
	h.hdr_size = SL_JSEG_HDR;
	h.segment_bytes = j->seg_bytes;
	h.first_seq = first_seq;
	h.created_ns = sl_wall_ns();
	h.crc = sl_crc32c(0, &h, offsetof(struct seg_hdr, crc));
	h.commit[0] = wm_encode(first_seq, 0); /* nothing committed yet, and known so */
	copy(s, 0, &h, sizeof(h));
	rc = persist_range(j, s, 0, sizeof(h));
	if (rc == 0)
		rc = sl_journal_sync_dir(j->dir);
	if (rc == 0) {
		s->used = SL_JSEG_HDR;
		s->first_seq = first_seq;
		s->last_seq = first_seq - 1;
		s->wm_seq = first_seq - 1;
		s->wm_valid = 1;
		s->wm_slot = 1;
	}
	return rc;
}

/* A prepared segment and the name of its file (unique: "spare-N.tmp"). */
struct spare {
	struct seg s;
	char path[PATH_MAX + 32];
};

/*
 * A spare could not be made. A full file system stays full for a while:
 * trying again at every call would spend the preparing thread (and, for a
 * file system that zeroes what it allocates, the core it shares) on
 * allocations bound to fail, so the attempts back off. The owner reads
 * prep_err to refuse at once rather than try the allocation itself.
 */
static void
prepare_failed(struct sl_journal *j, int rc, uint64_t now)
{
	uint64_t lo = SL_JOURNAL_PREPARE_BACKOFF_MIN_MS * 1000000ull;
	uint64_t hi = SL_JOURNAL_PREPARE_BACKOFF_MAX_MS * 1000000ull;

	j->prep_backoff_ns = j->prep_backoff_ns ? j->prep_backoff_ns * 2 : lo;
	if (j->prep_backoff_ns > hi)
		j->prep_backoff_ns = hi;
	j->prep_retry_ns = now + j->prep_backoff_ns;
	/* Release: pairs with the owner's acquire load in seg_next. */
	__atomic_store_n(&j->prep_err, rc == -EDQUOT ? -ENOSPC : rc, __ATOMIC_RELEASE);
}

/*
 * Who does what: only the owner sets want_spare (when it took the spare, or
 * found none at a roll), only the preparing thread clears it, and it
 * publishes a spare only into an empty slot. Each spare has a file of its
 * own, so the owner renaming the spare it took can never meet the preparer
 * creating the next one.
 */
int
sl_journal_prepare(struct sl_journal *j)
{
	struct spare *sp, *none = NULL;
	uint64_t now;
	int fd, rc;

	if (!__atomic_load_n(&j->want_spare, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&j->spare, __ATOMIC_ACQUIRE) != NULL)
		return 0;
	now = sl_mono_ns();
	if (now < j->prep_retry_ns)
		return 0;
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return -ENOMEM;
	snprintf(sp->path, sizeof(sp->path), "%s/spare-%" PRIu64 SPARE_SUFFIX, j->dir,
		 ++j->spare_no);
	fd = open(sp->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = seg_allocate(j, fd);
	close(fd);
	if (rc == 0)
		rc = seg_map(j, sp->path, &sp->s, 0);
	if (rc < 0) {
		unlink(sp->path);
		goto fail;
	}
	/* Fault every page in now, here: the worker then never takes a page
	 * fault in this segment. On files, read faults only: a written page
	 * would be written back to the disk although it holds nothing. */
	(void)madvise(sp->s.base, sp->s.size,
		      sp->s.is_pmem ? MADV_POPULATE_WRITE_ : MADV_POPULATE_READ_);
	__atomic_store_n(&j->want_spare, 0, __ATOMIC_RELAXED);
	if (!__atomic_compare_exchange_n(&j->spare, &none, sp, 0, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED)) {
		seg_unmap(&sp->s);
		unlink(sp->path);
		free(sp);
		return 0;
	}
	/* After the spare is published: an owner that still sees the old
	 * error refuses once more, then takes the spare. */
	j->prep_backoff_ns = 0;
	__atomic_store_n(&j->prep_err, 0, __ATOMIC_RELEASE);
	return 1;
fail:
	free(sp);
	prepare_failed(j, rc, now);
	return rc;
}

/* Take the prepared segment as the one starting at @first_seq. Returns 0,
 * -ENOENT when none is ready (create one now), or -errno. Either way the
 * next one is wanted. */
static int
seg_take_spare(struct sl_journal *j, uint64_t first_seq, struct seg *out)
{
	struct spare *sp = __atomic_exchange_n(&j->spare, NULL, __ATOMIC_ACQUIRE);
	char to[PATH_MAX + 32];
	int rc;

	if (sp == NULL) {
		__atomic_store_n(&j->want_spare, 1, __ATOMIC_RELEASE);
		return -ENOENT;
	}
	seg_path(j, first_seq, to, sizeof(to));
	rc = rename(sp->path, to) < 0 ? -errno : seg_stamp(j, &sp->s, first_seq);
	__atomic_store_n(&j->want_spare, 1, __ATOMIC_RELEASE);
	if (rc < 0) {
		seg_unmap(&sp->s);
		unlink(access(sp->path, F_OK) == 0 ? sp->path : to); /* wherever it is now */
		free(sp);
		return rc;
	}
	*out = sp->s;
	free(sp);
	return 0;
}

/*
 * The segment starting at @first_seq: the prepared spare, else one created
 * here, unless the file system is known to be full: then -ENOSPC at once,
 * without a system call, so that a full journal costs its owner (and the
 * other topics it serves) nothing per refused append. The preparing thread
 * retries and the next roll takes what it prepares.
 */
static int
seg_next(struct sl_journal *j, uint64_t first_seq, struct seg *out)
{
	int rc = seg_take_spare(j, first_seq, out);

	if (rc == 0)
		j->full = 0;
	if (rc != -ENOENT)
		return rc;
	/* Acquire: pairs with the release stores in sl_journal_prepare. */
	if (j->full || __atomic_load_n(&j->prep_err, __ATOMIC_ACQUIRE) == -ENOSPC)
		return -ENOSPC;
	rc = seg_create(j, first_seq, out);
	if (rc == -ENOSPC || rc == -EDQUOT) {
		j->full = 1;
		rc = -ENOSPC;
	}
	return rc;
}

static void
spare_drop(struct sl_journal *j)
{
	struct spare *sp = __atomic_exchange_n(&j->spare, NULL, __ATOMIC_ACQUIRE);

	if (sp == NULL)
		return;
	seg_unmap(&sp->s);
	unlink(sp->path);
	free(sp);
}

/* Spare files a journal that was not closed left behind. */
static void
spares_remove_stale(const char *dir)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t n;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (strncmp(e->d_name, "spare-", 6) == 0 && n > strlen(SPARE_SUFFIX) &&
		    strcmp(e->d_name + n - strlen(SPARE_SUFFIX), SPARE_SUFFIX) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

/* --- append -------------------------------------------------------------------------- */

/* Close the full segment with an end marker, make it durable, start the next. */
static int
roll(struct sl_journal *j, uint64_t now)
{
	struct seg *cur = &j->segs[j->n_segs - 1], next;
	uint64_t end = SL_JREC_END;
	int rc;

	limits_take(j);
	if (j->conf.capacity_bytes && total_bytes(j) + j->seg_bytes > j->conf.capacity_bytes) {
		rc = sl_journal_retain(j, now);
		if (rc < 0)
			return rc;
		cur = &j->segs[j->n_segs - 1];
		if (total_bytes(j) + j->seg_bytes > j->conf.capacity_bytes)
			return -ENOSPC;
	}
	rc = seg_next(j, j->next_seq, &next);
	if (rc < 0)
		return rc;
	/* Everything in the old segment is durable before the new one gets a
	 * record: recovery relies on it to call damage in an old segment. */
	if (!cur->closed) {
		copy(cur, cur->used, &end, sizeof(end));
		if (j->batch_first == 0)
			j->dirty_lo = cur->used;
		j->batch_first = j->batch_first ? j->batch_first : j->next_seq;
		j->dirty_hi = cur->used + sizeof(end);
		cur->closed = 1;
	}
	rc = sl_journal_sync(j);
	if (rc == 0)
		rc = segs_push(j, &next);
	if (rc < 0) {
		seg_unmap(&next);
		return rc;
	}
	return 0;
}

int
sl_journal_append(struct sl_journal *j, const void *data, uint32_t len, uint64_t timestamp,
		  uint64_t producer_id, uint64_t producer_seq, uint64_t *seq)
{
	uint64_t need = REC_BYTES(len), commit = SL_JREC_COMMIT(len);
	struct sl_jrec r;
	struct seg *s;
	int rc;

	if (j->damaged)
		return -EROFS;
	if (len > SL_JREC_MAX_PAYLOAD || need + SL_JSEG_HDR + 8 > j->seg_bytes)
		return -EMSGSIZE;
	if (j->n_segs == 0) {
		struct seg first;

		rc = seg_next(j, j->next_seq, &first);
		if (rc < 0)
			return rc;
		rc = segs_push(j, &first);
		if (rc < 0) {
			seg_unmap(&first);
			return rc;
		}
	}
	s = &j->segs[j->n_segs - 1];
	if (s->closed || s->used + need + 8 > s->size) { /* room for the end marker */
		rc = roll(j, timestamp);
		if (rc < 0)
			return rc;
		s = &j->segs[j->n_segs - 1];
	}
	if (j->batch_first == 0) {
		j->batch_first = j->next_seq;
		j->dirty_lo = s->used;
	}
	r = (struct sl_jrec){ .commit = 0, .seq = j->next_seq, .batch = j->batch_first,
			      .timestamp = timestamp, .producer_id = producer_id,
			      .producer_seq = producer_seq, .len = len };
	r.crc = rec_crc(&r, data);
	copy(s, s->used + sizeof(uint64_t), (const uint8_t *)&r + sizeof(uint64_t),
	     sizeof(r) - sizeof(uint64_t));
	if (len)
		copy(s, s->used + sizeof(r), data, len);
	/* The commit word goes last in program order; the CRC, not the order,
	 * is what recovery trusts (the media may persist in any order). */
	copy(s, s->used, &commit, sizeof(commit));
	idx_add(s, r.seq, timestamp, s->used, j->conf.index_every);
	s->used += need;
	s->last_seq = r.seq;
	s->last_ts = timestamp;
	j->dirty_hi = s->used;
	*seq = j->next_seq++;
	return 0;
}

/* --- reading ----------------------------------------------------------------------------- */

static void
view_of(const struct sl_jrec *r, struct sl_jrec_view *v)
{
	v->seq = r->seq;
	v->timestamp = r->timestamp;
	v->producer_id = r->producer_id;
	v->producer_seq = r->producer_seq;
	v->len = r->len;
	v->data = r + 1;
}

/* Index of the segment holding @seq (the caller checked the range). */
static uint32_t
seg_find(const struct sl_journal *j, uint64_t seq)
{
	uint32_t lo = 0, hi = j->n_segs - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi + 1) / 2;

		if (j->segs[mid].first_seq <= seq)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Offset of the last index entry at or before @seq, or the first record. */
static uint64_t
idx_find(const struct seg *s, uint64_t seq)
{
	uint32_t lo = 0, hi, mid;

	if (s->n_idx == 0 || s->idx[0].seq > seq)
		return SL_JSEG_HDR;
	hi = s->n_idx - 1;
	while (lo < hi) {
		mid = (lo + hi + 1) / 2;
		if (s->idx[mid].seq <= seq)
			lo = mid;
		else
			hi = mid - 1;
	}
	return s->idx[lo].off;
}

/* The damaged or skipped range holding @seq, or NULL. */
static const struct sl_journal_damage *
hole_of(const struct sl_journal *j, uint64_t seq)
{
	uint32_t lo = 0, hi = j->n_holes, mid;

	while (lo < hi) { /* first hole ending at or after @seq */
		mid = (lo + hi) / 2;
		if (j->holes[mid].seq_hi < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < j->n_holes && j->holes[lo].seq_lo <= seq && seq <= j->holes[lo].seq_hi)
		return &j->holes[lo];
	return NULL;
}

uint64_t
sl_journal_gap_end(const struct sl_journal *j, uint64_t seq, uint32_t *kind)
{
	const struct sl_journal_damage *h = hole_of(j, seq);

	if (h && kind)
		*kind = h->kind;
	return h ? h->seq_hi : 0;
}

uint32_t
sl_journal_damage_count(const struct sl_journal *j)
{
	return j->n_holes;
}

const struct sl_journal_damage *
sl_journal_damage_get(const struct sl_journal *j, uint32_t i)
{
	return i < j->n_holes ? &j->holes[i] : NULL;
}

const char *
sl_journal_damage_name(uint32_t kind)
{
	switch (kind) {
	case SL_JDMG_CORRUPT: return "corrupt";
	case SL_JDMG_MISSING: return "missing";
	case SL_JDMG_TORN: return "torn";
	case SL_JDMG_HEADER: return "header";
	case SL_JDMG_SHORT: return "short";
	default: return "unknown";
	}
}

void
sl_journal_damage_describe(const struct sl_journal_damage *d, FILE *out)
{
	static const char *const what[] = {
		[SL_JDMG_CORRUPT] = "committed (acknowledged) records fail their checksum: corrupt",
		[SL_JDMG_MISSING] = "committed (acknowledged) records are missing (zeroed or cut "
				    "off): corrupt",
		[SL_JDMG_TORN] = "a torn tail, never acknowledged; cut, its sequences stay taken",
		[SL_JDMG_HEADER] = "the segment header fails its checks: corrupt",
		[SL_JDMG_SHORT] = "the segment file is shorter than the journal's segment size "
				  "(cut short): corrupt",
	};
	const char *w = d->kind < sizeof(what) / sizeof(what[0]) && what[d->kind] ? what[d->kind]
										   : "?";

	if (d->seq_lo <= d->seq_hi)
		fprintf(out, "%s: %020" PRIu64 ".seg offset %" PRIu64 ": seq %" PRIu64 "..%" PRIu64
			" (%" PRIu64 " records): %s\n", sl_journal_damage_name(d->kind), d->segment,
			d->offset, d->seq_lo, d->seq_hi, d->seq_hi - d->seq_lo + 1, w);
	else
		fprintf(out, "%s: %020" PRIu64 ".seg offset %" PRIu64 ": %s (no record lost)\n",
			sl_journal_damage_name(d->kind), d->segment, d->offset, w);
}

int
sl_journal_read(struct sl_journal *j, uint64_t seq, struct sl_jrec_view *out)
{
	const struct sl_jrec *r;
	struct seg *s;
	uint64_t off;
	uint32_t si;

	if (j->n_holes && hole_of(j, seq))
		return -EUCLEAN;
	if (j->n_segs == 0 || seq < j->segs[0].first_seq || seq >= j->next_seq)
		return -ENOENT;
	/* Replay reads in order: continue from the previous read when we can. */
	if (seq == j->rd_seq && j->rd_seg < j->n_segs) {
		si = j->rd_seg;
		off = j->rd_off;
		if (off >= j->segs[si].used && si + 1 < j->n_segs) {
			si++;
			off = SL_JSEG_HDR;
		}
	} else {
		si = seg_find(j, seq);
		off = idx_find(&j->segs[si], seq);
	}
	s = &j->segs[si];
	for (;;) {
		if (off + sizeof(*r) > s->used)
			return -EUCLEAN; /* index or cursor out of step: never guess */
		r = (const struct sl_jrec *)(s->base + off);
		if ((r->commit >> 32) != SL_JREC_MAGIC || r->len > SL_JREC_MAX_PAYLOAD ||
		    r->seq > seq)
			return -EUCLEAN;
		if (r->seq == seq)
			break;
		off += REC_BYTES(r->len);
	}
	view_of(r, out);
	j->rd_seg = si;
	j->rd_off = off + REC_BYTES(r->len);
	j->rd_seq = seq + 1;
	return 0;
}

uint64_t
sl_journal_seek_time(struct sl_journal *j, uint64_t ts)
{
	struct sl_jrec_view v;
	uint64_t seq;
	uint32_t i, k;

	for (i = 0; i < j->n_segs; i++)
		if (j->segs[i].last_seq >= j->segs[i].first_seq && j->segs[i].last_ts >= ts)
			break;
	if (i == j->n_segs)
		return j->next_seq;
	/* Start from the last index entry older than @ts, then walk. */
	seq = j->segs[i].first_seq;
	for (k = 0; k < j->segs[i].n_idx && j->segs[i].idx[k].ts < ts; k++)
		seq = j->segs[i].idx[k].seq;
	for (; seq < j->next_seq; seq++) {
		if (sl_journal_read(j, seq, &v) < 0 || v.timestamp >= ts)
			break;
	}
	return seq;
}

uint64_t
sl_journal_last_seq(const struct sl_journal *j)
{
	return j->next_seq - 1;
}

uint64_t
sl_journal_durable_seq(const struct sl_journal *j)
{
	return j->durable_seq;
}

uint64_t
sl_journal_first_seq(const struct sl_journal *j)
{
	uint64_t f = j->n_segs ? j->segs[0].first_seq : j->next_seq;

	/* A first segment lost whole still counts: its range is a gap to report. */
	if (j->n_holes && j->holes[0].seq_lo <= j->holes[0].seq_hi && j->holes[0].seq_lo < f)
		f = j->holes[0].seq_lo;
	return f;
}

uint64_t
sl_journal_bytes(const struct sl_journal *j)
{
	return total_bytes(j);
}

int
sl_journal_damaged(const struct sl_journal *j)
{
	return j->damaged;
}

void
sl_journal_describe(const struct sl_journal *j, FILE *out)
{
	uint32_t i;

	for (i = 0; i < j->n_segs; i++) {
		const struct seg *s = &j->segs[i];

		fprintf(out, "%020" PRIu64 ".seg  seq %" PRIu64 "..%" PRIu64 "  used %" PRIu64
			" of %zu bytes  %s%s\n", s->first_seq, s->first_seq, s->last_seq, s->used,
			s->size, s->is_pmem ? "pmem" : "file (msync)", s->closed ? "  closed" : "");
	}
}

/* --- open and recovery ------------------------------------------------------------------- */

static int
mkdir_p(const char *dir)
{
	char tmp[PATH_MAX], *p;

	if (strlen(dir) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp, dir);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* First sequences of the segment files in the directory, sorted. */
static int
list_segments(const char *dir, uint64_t **out, uint32_t *n)
{
	uint32_t cap = 0, cnt = 0;
	uint64_t *v = NULL, *nv;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char *end;
		unsigned long long seq;

		if (strlen(e->d_name) != 24 || strcmp(e->d_name + 20, ".seg") != 0)
			continue;
		seq = strtoull(e->d_name, &end, 10);
		if (end != e->d_name + 20 || seq == 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = seq;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	*out = v;
	*n = cnt;
	return 0;
}

/* --- journal.meta ---------------------------------------------------------------------- */

static int
meta_valid(const struct meta *m)
{
	return m->magic == SL_JOURNAL_MAGIC && m->version == META_VERSION &&
	       m->size == sizeof(*m) && m->segment_bytes >= 65536 &&
	       m->crc == sl_crc32c(0, m, offsetof(struct meta, crc));
}

/* Write journal.meta whole or not at all: two copies, a temporary file
 * renamed into place. @durable: also sync the directory, so the new file is
 * the one found after a crash (not needed when the old one, a lower bound
 * on the last sequence, will do). */
static int
meta_write(struct sl_journal *j, uint64_t created_ns, uint64_t last_seq, int durable)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	struct meta m[2];
	int fd, rc = 0;

	memset(m, 0, sizeof(m));
	m[0].magic = SL_JOURNAL_MAGIC;
	m[0].version = META_VERSION;
	m[0].size = sizeof(m[0]);
	m[0].segment_bytes = j->seg_bytes;
	m[0].created_ns = created_ns;
	m[0].last_seq = last_seq;
	m[0].crc = sl_crc32c(0, &m[0], offsetof(struct meta, crc));
	m[1] = m[0];
	snprintf(path, sizeof(path), "%s/" META_NAME, j->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, m, sizeof(m)) != (ssize_t)sizeof(m) || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0 && durable)
		rc = sl_journal_sync_dir(j->dir);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/*
 * Read journal.meta: sets j->seg_bytes, j->meta_last and *created.
 * Returns 0, 1 when it is missing, 2 when it is unusable (rec says why),
 * or -errno.
 */
static int
meta_load(struct sl_journal *j, struct sl_journal_recovery *rec, uint64_t *created)
{
	char path[PATH_MAX + 32];
	uint8_t buf[2 * sizeof(struct meta) + 1];
	struct meta m[2];
	struct meta_v1 v1;
	int ok[2], fd, k;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/" META_NAME, j->dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	memset(m, 0, sizeof(m));
	memcpy(m, buf, (size_t)n < sizeof(m) ? (size_t)n : sizeof(m));
	for (k = 0; k < 2; k++)
		ok[k] = n == (ssize_t)sizeof(m) && meta_valid(&m[k]);
	if (ok[0] || ok[1]) {
		k = ok[0] ? 0 : 1;
		if (!ok[0] || !ok[1]) {
			rec->meta_damaged = 1;
			snprintf(rec->meta_note, sizeof(rec->meta_note), META_NAME ": copy %d of 2 "
				 "fails its checksum; copy %d is used (rewritten at the next clean"
				 " close)", 2 - k, k + 1);
		}
		j->seg_bytes = m[k].segment_bytes;
		j->meta_last = ok[0] && ok[1] && m[1].last_seq > m[0].last_seq ? m[1].last_seq
										: m[k].last_seq;
		*created = m[k].created_ns;
		return 0;
	}
	if (n == (ssize_t)sizeof(v1)) { /* written before the two copies */
		memcpy(&v1, buf, sizeof(v1));
		if (v1.magic == SL_JOURNAL_MAGIC && v1.version == 1 &&
		    v1.crc == sl_crc32c(0, &v1, offsetof(struct meta_v1, crc)) &&
		    v1.segment_bytes >= 65536) {
			j->seg_bytes = v1.segment_bytes;
			*created = v1.created_ns;
			return 0;
		}
	}
	rec->meta_damaged = 2;
	snprintf(rec->meta_note, sizeof(rec->meta_note), META_NAME ": %s; rebuilt from the "
		 "segment headers", n != (ssize_t)sizeof(m) && n != (ssize_t)sizeof(v1)
		 ? "wrong size" : "both copies fail their checksum");
	return 2;
}

/* The segment size the segment files were made with: from the first header
 * that holds, else from the size of the first full-looking file. */
static uint64_t
meta_rebuild_seg_bytes(struct sl_journal *j, const uint64_t *firsts, uint32_t n)
{
	char path[PATH_MAX + 32];
	uint64_t guess = 0;
	struct seg_hdr h;
	struct stat st;
	uint32_t i;
	int fd;

	for (i = 0; i < n; i++) {
		seg_path(j, firsts[i], path, sizeof(path));
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) && h.magic == SL_JOURNAL_MAGIC &&
		    h.crc == sl_crc32c(0, &h, offsetof(struct seg_hdr, crc)) &&
		    h.segment_bytes >= 65536) {
			close(fd);
			return h.segment_bytes;
		}
		if (guess == 0 && fstat(fd, &st) == 0 && st.st_size >= 65536 && st.st_size % 4096 == 0)
			guess = (uint64_t)st.st_size;
		close(fd);
	}
	return guess ? guess : j->conf.segment_bytes;
}

/* --- recovery ------------------------------------------------------------------------- */

static int
hole_add(struct sl_journal *j, uint64_t lo, uint64_t hi, const struct seg *s, uint64_t seg_first,
	 uint64_t off, uint32_t kind, struct sl_journal_recovery *rec)
{
	struct sl_journal_damage *n;

	if (j->n_holes == j->cap_holes) {
		uint32_t cap = j->cap_holes ? j->cap_holes * 2 : 8;

		n = realloc(j->holes, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		j->holes = n;
		j->cap_holes = cap;
	}
	(void)s;
	j->holes[j->n_holes++] = (struct sl_journal_damage){ lo, hi, seg_first, off, kind };
	if (kind != SL_JDMG_TORN) {
		rec->corrupt++;
		if (lo <= hi) {
			rec->corrupt_records += hi - lo + 1;
			if (rec->corrupt_seq == 0)
				rec->corrupt_seq = lo;
		}
	}
	return 0;
}

static int
all_zero(const struct seg *s, uint64_t from, uint64_t to)
{
	for (; from < to; from++)
		if (s->base[from])
			return 0;
	return 1;
}

/* The last non-zero byte of @s at or after @off, plus one (@off if none). */
static uint64_t
used_end(const struct seg *s, uint64_t off)
{
	uint64_t hi = s->size;

	while (hi > off && s->base[hi - 1] == 0)
		hi--;
	return hi;
}

/* The next valid record after @off with seq >= @seq (and < @below when not
 * 0), found by trying every aligned offset; 0 if none. */
static uint64_t
resync(const struct seg *s, uint64_t off, uint64_t seq, uint64_t below)
{
	const struct sl_jrec *r;

	for (off += 8; off + sizeof(*r) <= s->size; off += 8) {
		r = rec_at(s, off, 0);
		if (r && r->seq >= seq && (below == 0 || r->seq < below))
			return off;
	}
	return 0;
}

/* Records from @off whose commit word is present, walked by their lengths:
 * a torn tail's sequences that must stay taken. */
static uint64_t
commit_words(const struct seg *s, uint64_t off)
{
	uint64_t n = 0, w;

	while (off + sizeof(struct sl_jrec) <= s->size) {
		w = *(const uint64_t *)(s->base + off);
		if ((w >> 32) != SL_JREC_MAGIC || (uint32_t)w > SL_JREC_MAX_PAYLOAD)
			break;
		n++;
		off += REC_BYTES((uint32_t)w);
	}
	return n;
}

/* One past the largest seq of a valid record after @off (below @below when
 * not 0), or @seq if none: records of a torn batch may reach the media in
 * any order, and each keeps its sequence taken. */
static uint64_t
seq_after(const struct seg *s, uint64_t off, uint64_t seq, uint64_t below)
{
	const struct sl_jrec *r;

	for (; off + sizeof(*r) <= s->size; off += 8) {
		if ((*(const uint64_t *)(s->base + off) >> 32) != SL_JREC_MAGIC)
			continue;
		r = rec_at(s, off, 0);
		if (r && r->seq >= seq && (below == 0 || r->seq < below))
			seq = r->seq + 1;
	}
	return seq;
}

/* Legacy segments (no valid commit slot): is there a valid record of a later
 * batch after @off, proving the invalid record @seq at @off was synced? */
static int
later_batch_exists(const struct seg *s, uint64_t off, uint64_t seq)
{
	const struct sl_jrec *r;

	for (off += 8; off + sizeof(*r) <= s->size; off += 8) {
		r = rec_at(s, off, 0);
		if (r && r->seq > seq && r->batch > seq)
			return 1;
	}
	return 0;
}

static void
accept(struct sl_journal *j, struct seg *s, const struct sl_jrec *r, uint64_t off, int force)
{
	idx_add(s, r->seq, r->timestamp, off, force ? 0 : j->conf.index_every);
	s->last_seq = r->seq;
	s->last_ts = r->timestamp;
}

/* What the watermark (or, without one, the batch rule) says about the
 * invalid record @seq at @off: committed or not. */
static int
committed(const struct seg *s, uint64_t seq, uint64_t bound, uint64_t off)
{
	if (seq <= bound)
		return 1;
	return !s->wm_valid && later_batch_exists(s, off, seq);
}

/*
 * Scan segment @s from its first record: valid records are indexed, damaged
 * ranges in committed data recorded, skipped sequences recorded. @bound: the
 * last seq known committed (the watermark, or all of it when a later segment
 * proves so). @next_first: the next segment file's first seq, 0 for the last.
 * Returns the seq that follows the segment (*tail_off: where its valid data
 * ends, when the rest is a torn tail; 0 when not).
 */
static int
seg_recover(struct sl_journal *j, struct seg *s, uint64_t bound, uint64_t next_first,
	    uint64_t *expect_io, uint64_t *tail_off, struct sl_journal_recovery *rec)
{
	uint64_t off = SL_JSEG_HDR, expect = s->first_seq, o2, hi;
	const struct sl_jrec *r;
	int force = 0, rc = 0;

	*tail_off = 0;
	while (rc == 0 && off + sizeof(uint64_t) <= s->size) {
		if (*(const uint64_t *)(s->base + off) == SL_JREC_END) {
			s->closed = 1;
			break;
		}
		r = rec_at(s, off, 0);
		if (r && r->seq == expect) {
			accept(j, s, r, off, force);
			force = 0;
			off += REC_BYTES(r->len);
			expect++;
			continue;
		}
		if (r && r->seq > expect && (next_first == 0 || r->seq < next_first)) {
			/* Sequences skipped with no bytes between: a torn tail was
			 * cut here, its sequences kept taken. */
			rc = hole_add(j, expect, r->seq - 1, s, s->first_seq, off, SL_JDMG_TORN, rec);
			expect = r->seq;
			force = 1;
			continue;
		}
		o2 = resync(s, off, expect, next_first);
		if (o2 == 0 || !committed(s, expect, bound, off))
			break; /* the tail, or a torn batch (its records reach the media in any order) */
		r = (const struct sl_jrec *)(s->base + o2);
		rc = hole_add(j, expect, r->seq - 1, s, s->first_seq, off,
			      all_zero(s, off, o2) ? SL_JDMG_MISSING : SL_JDMG_CORRUPT, rec);
		off = o2;
		expect = r->seq;
		force = 1;
	}
	if (rc < 0)
		return rc;
	s->used = off;
	if (!s->closed && off + sizeof(uint64_t) <= s->size + 8) {
		int zero = all_zero(s, off, s->size);
		int cut_short = s->size < j->seg_bytes;

		if (expect <= bound || (!zero && committed(s, expect, bound, off))) {
			/* Committed records are damaged or gone at the end: keep the
			 * bytes, keep the sequences, append elsewhere. */
			hi = expect + commit_words(s, off);
			o2 = seq_after(s, off, expect, next_first);
			hi = hi > o2 ? hi : o2;
			hi = (hi > bound + 1 ? hi : bound + 1) - 1;
			if (hi < expect)
				hi = expect;
			rc = hole_add(j, expect, hi, s, s->first_seq, off,
				      zero || cut_short ? SL_JDMG_MISSING : SL_JDMG_CORRUPT, rec);
			expect = hi + 1;
			s->closed = 1;
		} else if (!zero) {
			hi = expect + commit_words(s, off);
			o2 = seq_after(s, off, expect, next_first);
			hi = hi > o2 ? hi : o2;
			rec->torn = 1;
			rec->truncated_at_seq = expect;
			rec->truncated_bytes += used_end(s, off) - off;
			*tail_off = off;
			if (hi > expect)
				rc = hole_add(j, expect, hi - 1, s, s->first_seq, off, SL_JDMG_TORN, rec);
			expect = hi;
		}
		if (cut_short)
			s->closed = 1; /* a file cut short is never written again */
	}
	if (rc == 0 && s->size < j->seg_bytes)
		rc = hole_add(j, expect, expect - 1, s, s->first_seq, s->size, SL_JDMG_SHORT, rec);
	if (rc == 0 && next_first && expect < next_first) {
		/* Sequences between this segment's end and the next one's start:
		 * skipped after a cut torn tail when the end marker follows the
		 * last record (a roll names the next segment after it), else lost. */
		rc = hole_add(j, expect, next_first - 1, s, s->first_seq, off,
			      expect <= bound && !(s->closed && off == s->used && s->used + 8 <= s->size &&
			      *(const uint64_t *)(s->base + s->used) == SL_JREC_END)
				      ? SL_JDMG_MISSING : SL_JDMG_TORN, rec);
		expect = next_first;
	}
	*expect_io = expect;
	return rc;
}

/* Zero a torn tail from @off to the last non-zero byte and make it durable. */
static int
truncate_tail(struct sl_journal *j, struct seg *s, uint64_t off)
{
	uint64_t hi = used_end(s, off);

	if (hi == off)
		return 0;
	memset(s->base + off, 0, hi - off);
	return persist_range(j, s, off, hi);
}

static int
hdr_valid(const struct sl_journal *j, const struct seg *s, uint64_t first_seq)
{
	const struct seg_hdr *h = (const struct seg_hdr *)s->base;

	return s->size >= SL_JSEG_HDR && h->magic == SL_JOURNAL_MAGIC &&
	       h->version == SEG_VERSION && h->first_seq == first_seq &&
	       h->segment_bytes == j->seg_bytes && s->size <= j->seg_bytes &&
	       h->crc == sl_crc32c(0, h, offsetof(struct seg_hdr, crc));
}

/* The watermark in @s's commit slots (the valid one with the larger count). */
static void
wm_load(struct seg *s)
{
	const struct seg_hdr *h = (const struct seg_hdr *)s->base;
	uint32_t k, cnt, best = 0;

	s->wm_valid = 0;
	s->wm_seq = s->first_seq - 1;
	for (k = 0; k < 2; k++) {
		cnt = (uint32_t)h->commit[k];
		if (h->commit[k] != wm_encode(s->first_seq, cnt) || (s->wm_valid && cnt < best))
			continue;
		s->wm_valid = 1;
		best = cnt;
		s->wm_seq = s->first_seq + cnt - 1;
		s->wm_slot = (uint8_t)(k ^ 1);
	}
}

/* One segment file as found on disk. */
struct segfile {
	uint64_t first;
	int32_t seg;	/* index in j->segs, or -1: not mapped */
	int lost;	/* shorter than a header: its records are gone */
	int residue;	/* a roll that never completed: not part of the journal */
	int has_rec;	/* its first record is valid */
};

static void
seg_remove(struct sl_journal *j, uint64_t first)
{
	char path[PATH_MAX + 32];

	seg_path(j, first, path, sizeof(path));
	unlink(path);
}

/* Map every segment file; mark the ones lost, and the residue of a roll. */
static int
load_files(struct sl_journal *j, const uint64_t *firsts, uint32_t n, struct segfile *sf,
	   struct sl_journal_recovery *rec)
{
	char path[PATH_MAX + 32];
	struct stat st;
	struct seg s;
	uint32_t i;
	int rc;

	for (i = 0; i < n; i++) {
		sf[i] = (struct segfile){ .first = firsts[i], .seg = -1 };
		seg_path(j, firsts[i], path, sizeof(path));
		if (stat(path, &st) < 0)
			return -errno;
		if (st.st_size < SL_JSEG_HDR) {
			sf[i].lost = 1;
			continue;
		}
		rc = seg_map(j, path, &s, 1);
		if (rc < 0) {
			snprintf(rec->message, sizeof(rec->message), "segment %.160s: %s", path,
				 strerror(-rc));
			return rc;
		}
		s.first_seq = firsts[i];
		s.last_seq = firsts[i] - 1;
		sf[i].has_rec = rec_at(&s, SL_JSEG_HDR, firsts[i]) != NULL;
		if (!hdr_valid(j, &s, firsts[i])) {
			/* A roll whose header never reached the media: a last
			 * segment that cannot hold a record yet. */
			if (i == n - 1 && !sf[i].has_rec && s.size == j->seg_bytes) {
				seg_unmap(&s);
				sf[i].residue = 1;
				continue;
			}
			rc = hole_add(j, firsts[i], firsts[i] - 1, &s, firsts[i], 0, SL_JDMG_HEADER,
				      rec);
			s.closed = 1;
		} else {
			wm_load(&s);
			rc = 0;
		}
		if (rc == 0)
			rc = segs_push(j, &s);
		if (rc < 0) {
			seg_unmap(&s);
			return rc;
		}
		sf[i].seg = (int32_t)(j->n_segs - 1);
	}
	return 0;
}

/* Does @s end with the end marker a roll writes? */
static int
seg_closed_on_disk(const struct seg *s)
{
	uint64_t e = used_end(s, SL_JSEG_HDR);

	return e >= SL_JSEG_HDR + 8 &&
	       *(const uint64_t *)(s->base + ((e - 1) & ~(uint64_t)7)) == SL_JREC_END;
}

/*
 * Segment files after the last one that holds a record, when that one was
 * not closed: a roll that crashed before the new segment got its first
 * record (an empty file, or one whose header never reached the media) left
 * them. They hold nothing; a writable open removes them. Not when
 * journal.meta knows of records in them: then they are damage.
 */
static void
mark_residue(struct sl_journal *j, struct segfile *sf, uint32_t n)
{
	uint32_t i = n;

	while (i > 1 && sf[i - 1].residue)
		i--;
	while (i > 1) {
		struct segfile *f = &sf[i - 1], *p = &sf[i - 2];

		if (p->seg < 0 || seg_closed_on_disk(&j->segs[p->seg]) || j->meta_last >= f->first)
			return;
		if (!f->lost && (f->has_rec || f->seg < 0 ||
				 !all_zero(&j->segs[f->seg], SL_JSEG_HDR, j->segs[f->seg].size)))
			return;
		f->residue = 1;
		i--;
	}
}

/* After a torn tail whose sequences stay taken: close the segment and start
 * the next one at once, so that its name keeps them taken across restarts. */
static int
reserve_roll(struct sl_journal *j, struct seg *s)
{
	uint64_t end = SL_JREC_END;
	struct seg next;
	int rc;

	if (s->used + sizeof(end) <= s->size) {
		copy(s, s->used, &end, sizeof(end));
		rc = persist_range(j, s, s->used, s->used + sizeof(end));
		if (rc < 0)
			return rc;
	}
	s->closed = 1;
	rc = seg_create(j, j->next_seq, &next);
	if (rc == 0) {
		rc = segs_push(j, &next);
		if (rc < 0)
			seg_unmap(&next);
	}
	return rc;
}

/* Valid records above the last segment's watermark that recovery keeps
 * (never acknowledged, but whole): persist them and commit them. */
static int
commit_kept(struct sl_journal *j, struct seg *s)
{
	int rc;

	if (s->closed || s->last_seq < s->first_seq || (s->wm_valid && s->wm_seq >= s->last_seq))
		return 0;
	rc = persist_range(j, s, SL_JSEG_HDR, s->used);
	return rc == 0 ? wm_persist(j, s, s->last_seq) : rc;
}

/* Damaged ranges in sequence order (header findings, noted while mapping,
 * come before the ranges the scans find). */
static int
cmp_hole(const void *a, const void *b)
{
	const struct sl_journal_damage *x = a, *y = b;

	if (x->seq_hi != y->seq_hi)
		return x->seq_hi < y->seq_hi ? -1 : 1;
	return x->seq_lo < y->seq_lo ? -1 : x->seq_lo > y->seq_lo;
}

static int
recover(struct sl_journal *j, const uint64_t *firsts, uint32_t n, struct sl_journal_recovery *rec)
{
	struct segfile *sf = calloc(n ? n : 1, sizeof(*sf));
	uint64_t expect, bound, hi, tail_off = 0, next_first, reserved = 0;
	uint32_t i, k, last;
	struct seg *s = NULL;
	int rc;

	if (sf == NULL)
		return -ENOMEM;
	rc = load_files(j, firsts, n, sf, rec);
	if (rc < 0)
		goto out;
	mark_residue(j, sf, n);
	for (last = n; last > 0 && sf[last - 1].residue; last--) {
		if (sf[last - 1].seg >= 0) {
			seg_unmap(&j->segs[--j->n_segs]);
			sf[last - 1].seg = -1;
		}
		if (!j->conf.read_only)
			seg_remove(j, sf[last - 1].first);
	}
	expect = last ? sf[0].first : 1;
	for (i = 0; i < last; i++) {
		next_first = i + 1 < last ? sf[i + 1].first : 0;
		if (sf[i].first > expect)
			expect = sf[i].first; /* (only the first segment starts past 1) */
		if (sf[i].seg < 0) {
			hi = next_first ? next_first - 1
					: (j->meta_last > sf[i].first ? j->meta_last : sf[i].first);
			rc = hole_add(j, sf[i].first, hi, NULL, sf[i].first, 0, SL_JDMG_MISSING, rec);
			if (rc < 0)
				goto out;
			expect = hi + 1;
			continue;
		}
		s = &j->segs[sf[i].seg];
		bound = s->wm_seq;
		/* A later segment holding a record: the roll persisted this one whole. */
		for (k = i + 1; k < last; k++)
			if (sf[k].has_rec && next_first)
				bound = next_first - 1;
		rc = seg_recover(j, s, bound, next_first, &expect, &tail_off, rec);
		if (rc < 0)
			goto out;
		if (tail_off && !j->conf.read_only) {
			rc = truncate_tail(j, s, tail_off);
			if (rc < 0)
				goto out;
		}
		if (tail_off && expect > s->last_seq + 1 && i + 1 == last)
			reserved = 1;
		if (i + 1 < last)
			s->closed = 1; /* appends only ever go to the last segment */
	}
	/* journal.meta knows of records past what the segments hold: lost. */
	if (last && j->meta_last >= expect) {
		rc = hole_add(j, expect, j->meta_last, NULL, sf[last - 1].first,
			      s && sf[last - 1].seg >= 0 ? s->used : 0, SL_JDMG_MISSING, rec);
		if (rc < 0)
			goto out;
		expect = j->meta_last + 1;
		if (s)
			s->closed = 1;
	}
	j->next_seq = expect;
	if (j->n_holes > 1)
		qsort(j->holes, j->n_holes, sizeof(j->holes[0]), cmp_hole);
	if (s && sf[last - 1].seg < 0)
		s->closed = 1; /* the last file is lost: the next append starts a new one */
	if (!j->conf.read_only && s && sf[last - 1].seg >= 0) {
		rc = commit_kept(j, s);
		if (rc == 0 && reserved)
			rc = reserve_roll(j, s);
	}
out:
	free(sf);
	return rc;
}

static void
recovery_summary(const struct sl_journal *j, struct sl_journal_recovery *rec)
{
	char torn[128] = "";
	int ro = j->conf.read_only;

	rec->segments = j->n_segs;
	rec->first_seq = sl_journal_first_seq(j);
	rec->last_seq = j->next_seq - 1;
	rec->next_seq = j->next_seq;
	if (rec->message[0])
		return;
	if (rec->torn)
		snprintf(torn, sizeof(torn), "; %s a torn tail of %" PRIu64 " bytes at seq %" PRIu64
			 " (never acknowledged)", ro ? "found (not cut: read-only)" : "cut",
			 rec->truncated_bytes, rec->truncated_at_seq);
	if (rec->corrupt)
		snprintf(rec->message, sizeof(rec->message), "recovered %" PRIu64 "..%" PRIu64
			 " with %d damaged range(s) in committed data, %" PRIu64 " record(s) "
			 "from seq %" PRIu64 ": CORRUPT, reported and skipped%s", rec->first_seq,
			 rec->last_seq, rec->corrupt, rec->corrupt_records, rec->corrupt_seq, torn);
	else
		snprintf(rec->message, sizeof(rec->message), "recovered %" PRIu64 "..%" PRIu64
			 "%s%s", rec->first_seq, rec->last_seq, rec->torn ? "" : " cleanly", torn);
}

int
sl_journal_open(struct sl_journal **out, const char *dir, const struct sl_journal_conf *conf,
		struct sl_journal_recovery *rec)
{
	struct sl_journal_recovery local;
	struct sl_journal *j;
	uint64_t *firsts = NULL, created = 0;
	uint32_t n = 0;
	struct stat st;
	int rc, meta;

	if (rec == NULL)
		rec = &local;
	memset(rec, 0, sizeof(*rec));
	if (conf->segment_bytes < 65536 || conf->segment_bytes % 4096 ||
	    strlen(dir) >= sizeof(j->dir))
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	strcpy(j->dir, dir);
	j->conf = *conf;
	if (j->conf.index_every == 0)
		j->conf.index_every = 4096;
	j->ops = conf->ops ? conf->ops : &sl_persist_libpmem;
	j->damaged = conf->read_only; /* refuse appends */
	if (conf->read_only)
		rc = stat(dir, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	else
		rc = mkdir_p(dir);
	if (rc == 0)
		rc = list_segments(dir, &firsts, &n);
	meta = rc == 0 ? meta_load(j, rec, &created) : rc;
	rc = meta < 0 ? meta : 0;
	if (meta == 1 && n == 0) { /* a new journal */
		j->seg_bytes = conf->segment_bytes;
		created = sl_wall_ns();
		rc = conf->read_only ? -ENOENT : meta_write(j, created, 0, 1);
	} else if (meta == 1 || meta == 2) {
		if (meta == 1) {
			rec->meta_damaged = 2;
			snprintf(rec->meta_note, sizeof(rec->meta_note), META_NAME " is missing; "
				 "rebuilt from the segment headers");
		}
		j->seg_bytes = meta_rebuild_seg_bytes(j, firsts, n);
		created = sl_wall_ns();
	}
	if (rc == 0)
		rc = recover(j, firsts, n, rec);
	if (rc == 0 && rec->meta_damaged && !conf->read_only)
		rc = meta_write(j, created, j->next_seq - 1, 1);
	free(firsts);
	if (rc < 0) {
		if (rec->message[0] == '\0')
			snprintf(rec->message, sizeof(rec->message), "journal %.160s: %s", dir,
				 strerror(-rc));
		sl_journal_close(j);
		return rc;
	}
	j->created_ns = created;
	j->durable_seq = j->next_seq - 1;
	if (!conf->read_only) {
		/* The next segment (or the first) is prepared ahead at once: at a
		 * high rate a segment fills faster than one can be made ready. */
		spares_remove_stale(j->dir);
		j->want_spare = 1;
	}
	recovery_summary(j, rec);
	*out = j;
	return 0;
}

void
sl_journal_close(struct sl_journal *j)
{
	uint32_t i;

	if (j == NULL)
		return;
	sl_journal_sync(j);
	/* The last sequence, for a recovery that finds the last segment lost. */
	if (!j->conf.read_only && !j->damaged && j->created_ns && j->next_seq - 1 != j->meta_last)
		(void)meta_write(j, j->created_ns, j->next_seq - 1, 0);
	spare_drop(j);
	for (i = 0; i < j->n_segs; i++)
		seg_unmap(&j->segs[i]);
	free(j->segs);
	free(j->holes);
	free(j);
}
