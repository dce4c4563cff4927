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
	uint32_t reserved[5];
};
_Static_assert(sizeof(struct seg_hdr) == SL_JSEG_HDR, "segment header");

/* The metadata file: written once when the journal is created. */
struct meta {
	uint64_t magic;
	uint32_t version;
	uint32_t reserved;
	uint64_t segment_bytes;
	uint64_t created_ns;
	uint32_t crc;
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
	int is_pmem;
	int closed;	    /* ends with the SL_JREC_END marker */
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
	int damaged;		     /* refuse appends */
	uint64_t corrupt_seq;	     /* reads at or past it fail; 0 if none */
	uint32_t rd_seg;	     /* sequential read cursor */
	uint64_t rd_off, rd_seq;
};

const struct sl_persist_ops sl_persist_libpmem = {
	.flush = pmem_flush,
	.drain = pmem_drain,
	.msync = pmem_msync,
	.is_pmem = pmem_is_pmem,
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- records ----------------------------------------------------------------- */

static uint32_t
rec_crc(const struct sl_jrec *r, const void *payload)
{
	uint32_t c = sl_crc32c(0, (const uint8_t *)r + CRC_FROM, CRC_LEN);

	return sl_crc32c(c, payload, r->len);
}

/*
 * The record at @off of @s if it is whole and its CRC holds; @seq, when not
 * 0, must match. Reads only inside the mapping.
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

static void
idx_add(struct seg *s, uint64_t seq, uint64_t ts, uint64_t off, uint32_t every)
{
	struct idx_ent *n;

	if (s->n_idx && off - s->idx_last_off < every)
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

int
sl_journal_sync(struct sl_journal *j)
{
	struct seg *s;
	int rc;

	if (j->batch_first == 0)
		return 0;
	s = &j->segs[j->n_segs - 1];
	rc = persist_range(j, s, j->dirty_lo, j->dirty_hi);
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

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
seg_map(struct sl_journal *j, const char *path, struct seg *s, int prefault)
{
	size_t mapped;
	int is_pmem;

	memset(s, 0, sizeof(*s));
	s->base = pmem_map_file(path, 0, 0, 0, &mapped, &is_pmem);
	if (s->base == NULL)
		return -errno;
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
	if (s->base)
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

	seg_path(j, j->segs[0].first_seq, path, sizeof(path));
	seg_unmap(&j->segs[0]);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	memmove(&j->segs[0], &j->segs[1], (j->n_segs - 1) * sizeof(j->segs[0]));
	j->n_segs--;
	j->rd_seg = 0;
	j->rd_seq = 0; /* invalidate the read cursor */
	return 0;
}

int
sl_journal_retain(struct sl_journal *j, uint64_t now)
{
	const struct sl_journal_conf *c = &j->conf;
	int n = 0, rc;

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
	h.created_ns = now_ns();
	h.crc = sl_crc32c(0, &h, offsetof(struct seg_hdr, crc));
	copy(s, 0, &h, sizeof(h));
	rc = persist_range(j, s, 0, sizeof(h));
	if (rc == 0)
		rc = fsync_dir(j->dir);
	if (rc == 0) {
		s->used = SL_JSEG_HDR;
		s->first_seq = first_seq;
		s->last_seq = first_seq - 1;
	}
	return rc;
}

/* A prepared segment and the name of its file (unique: "spare-N.tmp"). */
struct spare {
	struct seg s;
	char path[PATH_MAX + 32];
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
	now = mono_ns();
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

int
sl_journal_read(struct sl_journal *j, uint64_t seq, struct sl_jrec_view *out)
{
	const struct sl_jrec *r;
	struct seg *s;
	uint64_t off;
	uint32_t si;

	if (j->corrupt_seq && seq >= j->corrupt_seq)
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
		if ((r->commit >> 32) != SL_JREC_MAGIC || r->len > SL_JREC_MAX_PAYLOAD)
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
	return j->n_segs ? j->segs[0].first_seq : j->next_seq;
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

/* Read journal.meta, or write it for a new journal. Sets j->seg_bytes. */
static int
meta_load(struct sl_journal *j)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	struct meta m;
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/" META_NAME, j->dir);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, &m, sizeof(m));
		close(fd);
		if (n != sizeof(m) || m.magic != SL_JOURNAL_MAGIC || m.version != SEG_VERSION ||
		    m.crc != sl_crc32c(0, &m, offsetof(struct meta, crc)) ||
		    m.segment_bytes < 65536)
			return -EINVAL;
		j->seg_bytes = m.segment_bytes;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	memset(&m, 0, sizeof(m));
	m.magic = SL_JOURNAL_MAGIC;
	m.version = SEG_VERSION;
	m.segment_bytes = j->conf.segment_bytes;
	m.created_ns = now_ns();
	m.crc = sl_crc32c(0, &m, offsetof(struct meta, crc));
	/* Written whole or not at all: a temporary file renamed into place. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, &m, sizeof(m)) != sizeof(m) || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_dir(j->dir);
	j->seg_bytes = m.segment_bytes;
	return rc;
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

static int
hdr_valid(const struct sl_journal *j, const struct seg *s, uint64_t first_seq)
{
	const struct seg_hdr *h = (const struct seg_hdr *)s->base;

	return s->size >= SL_JSEG_HDR && h->magic == SL_JOURNAL_MAGIC &&
	       h->version == SEG_VERSION && h->first_seq == first_seq &&
	       h->segment_bytes == j->seg_bytes && s->size == j->seg_bytes &&
	       h->crc == sl_crc32c(0, h, offsetof(struct seg_hdr, crc));
}

/* Scan one segment's records from its start; returns the offset where the
 * valid records end (at an end marker, zeros or an invalid record). */
static uint64_t
seg_scan(struct sl_journal *j, struct seg *s)
{
	uint64_t off = SL_JSEG_HDR, expected = s->first_seq;
	const struct sl_jrec *r;

	while (off + sizeof(uint64_t) <= s->size) {
		if (*(const uint64_t *)(s->base + off) == SL_JREC_END) {
			s->closed = 1;
			break;
		}
		r = rec_at(s, off, expected);
		if (r == NULL)
			break;
		idx_add(s, r->seq, r->timestamp, off, j->conf.index_every);
		s->last_seq = r->seq;
		s->last_ts = r->timestamp;
		off += REC_BYTES(r->len);
		expected++;
	}
	s->used = off;
	return off;
}

/*
 * After an invalid record at @off (expected seq @seq) in segment @si: is
 * there a valid record of a later batch, proving the invalid one had been
 * synced? Looks at every aligned offset after it and at later segments.
 */
static int
later_batch_exists(struct sl_journal *j, uint32_t si, uint64_t off, uint64_t seq)
{
	const struct seg *s = &j->segs[si];
	const struct sl_jrec *r;
	uint32_t k;

	for (off += 8; off + sizeof(*r) <= s->size; off += 8) {
		/* An end marker in a segment that has a successor means the roll
		 * completed, and a roll syncs the segment before the next is used. */
		if (si + 1 < j->n_segs && *(const uint64_t *)(s->base + off) == SL_JREC_END)
			return 1;
		r = rec_at(s, off, 0);
		if (r && r->seq > seq && r->batch > seq)
			return 1;
	}
	for (k = si + 1; k < j->n_segs; k++)
		if (rec_at(&j->segs[k], SL_JSEG_HDR, j->segs[k].first_seq))
			return 1;
	return 0;
}

/* Zero a torn tail [off, last non-zero byte] and make it durable. */
static int
truncate_tail(struct sl_journal *j, struct seg *s, uint64_t off, uint64_t *bytes)
{
	uint64_t hi = s->size;
	int rc;

	while (hi > off && s->base[hi - 1] == 0)
		hi--;
	*bytes = hi - off;
	if (hi == off)
		return 0;
	memset(s->base + off, 0, hi - off);
	rc = persist_range(j, s, off, hi);
	return rc;
}

static void
drop_segments_after(struct sl_journal *j, uint32_t keep)
{
	char path[PATH_MAX + 32];

	while (j->n_segs > keep + 1) {
		struct seg *s = &j->segs[--j->n_segs];

		seg_path(j, s->first_seq, path, sizeof(path));
		seg_unmap(s);
		unlink(path);
	}
}

static int
recover_segment(struct sl_journal *j, uint32_t i, struct sl_journal_recovery *rec)
{
	struct seg *s = &j->segs[i];
	uint64_t end, bytes = 0, bad_seq;
	int rc;

	if (i > 0 && s->first_seq != j->segs[i - 1].last_seq + 1) {
		rec->corrupt = 1;
		rec->corrupt_seq = j->segs[i - 1].last_seq + 1;
		snprintf(rec->message, sizeof(rec->message), "sequences %" PRIu64 "..%" PRIu64
			 " are missing between segments", rec->corrupt_seq, s->first_seq - 1);
		return 1;
	}
	end = seg_scan(j, s);
	if (s->closed || end + sizeof(uint64_t) > s->size)
		return 0;
	bad_seq = s->last_seq + 1;
	if (later_batch_exists(j, i, end, bad_seq)) {
		rec->corrupt = 1;
		rec->corrupt_seq = bad_seq;
		snprintf(rec->message, sizeof(rec->message), "record %" PRIu64 " is damaged inside "
			 "committed data (segment %020" PRIu64 ".seg, offset %" PRIu64 "); records "
			 "from it on are not served: inspect with sluice-journal", bad_seq,
			 s->first_seq, end);
		return 1;
	}
	rc = truncate_tail(j, s, end, &bytes);
	if (rc < 0)
		return rc;
	drop_segments_after(j, i);
	if (bytes) {
		rec->truncated_bytes += bytes;
		rec->truncated_at_seq = s->last_seq + 1;
	}
	return 2; /* this is the last segment now */
}

/*
 * Segment @bad_seq's header is damaged: serve what the segments before it
 * hold, up to their first invalid record, and nothing from there on.
 */
static int
header_damaged(struct sl_journal *j, struct sl_journal_recovery *rec, uint64_t bad_seq)
{
	uint64_t stop = bad_seq;
	uint32_t i;

	for (i = 0; i < j->n_segs; i++) {
		struct seg *s = &j->segs[i];

		seg_scan(j, s);
		if (s->last_seq + 1 < stop && (!s->closed || s->last_seq + 1 !=
					       (i + 1 < j->n_segs ? j->segs[i + 1].first_seq : bad_seq)))
			stop = s->last_seq + 1;
	}
	rec->corrupt = 1;
	rec->corrupt_seq = stop;
	snprintf(rec->message, sizeof(rec->message), "segment %020" PRIu64 ".seg has a damaged "
		 "header; records from %" PRIu64 " on are not served: inspect with sluice-journal",
		 bad_seq, stop);
	j->damaged = 1;
	j->corrupt_seq = stop;
	j->next_seq = stop;
	return 0;
}

/* Does the segment file at @path start with a valid record @first_seq,
 * whatever its header says? */
static int
seg_has_record(struct sl_journal *j, const char *path, uint64_t first_seq)
{
	struct seg s;
	int found;

	if (seg_map(j, path, &s, 0) < 0)
		return 0;
	found = rec_at(&s, SL_JSEG_HDR, first_seq) != NULL;
	seg_unmap(&s);
	return found;
}

static int
recover(struct sl_journal *j, struct sl_journal_recovery *rec)
{
	uint64_t *firsts = NULL;
	uint32_t n = 0, i;
	struct seg s;
	int rc;

	rc = list_segments(j->dir, &firsts, &n);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		char path[PATH_MAX + 32];

		seg_path(j, firsts[i], path, sizeof(path));
		rc = seg_map(j, path, &s, 1);
		if (rc == 0 && !hdr_valid(j, &s, firsts[i])) {
			seg_unmap(&s);
			rc = -EBADMSG;
		}
		if (rc == -EBADMSG) {
			/* A roll whose header never reached the media leaves a last
			 * segment that cannot hold a record yet: remove it. Anything
			 * else with a bad header is damage, left for the operator. */
			if (i == n - 1 && !seg_has_record(j, path, firsts[i])) {
				unlink(path);
				rc = 0;
				break;
			}
			rc = header_damaged(j, rec, firsts[i]);
			goto out;
		}
		if (rc == 0) {
			s.first_seq = firsts[i];
			s.last_seq = firsts[i] - 1;
			rc = segs_push(j, &s);
		}
		if (rc < 0) {
			snprintf(rec->message, sizeof(rec->message), "segment %.160s: %s", path,
				 strerror(-rc));
			goto out;
		}
	}
	for (i = 0; i < j->n_segs; i++) {
		rc = recover_segment(j, i, rec);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			j->damaged = 1;
			j->corrupt_seq = rec->corrupt_seq;
			/* Every segment stays mapped: records before the damage are served. */
			j->next_seq = rec->corrupt_seq;
			rc = 0;
			goto out;
		}
		if (rc == 2)
			break;
	}
	j->next_seq = j->n_segs ? j->segs[j->n_segs - 1].last_seq + 1 : 1;
	rc = 0;
out:
	free(firsts);
	return rc;
}

static void
recovery_summary(const struct sl_journal *j, struct sl_journal_recovery *rec)
{
	rec->segments = j->n_segs;
	rec->first_seq = sl_journal_first_seq(j);
	rec->last_seq = j->corrupt_seq ? j->corrupt_seq - 1 : j->next_seq - 1;
	if (rec->corrupt || rec->message[0])
		return;
	if (rec->truncated_bytes)
		snprintf(rec->message, sizeof(rec->message), "recovered %" PRIu64 "..%" PRIu64
			 "; truncated a torn tail of %" PRIu64 " bytes at seq %" PRIu64
			 " (never acknowledged)", rec->first_seq, rec->last_seq,
			 rec->truncated_bytes, rec->truncated_at_seq);
	else
		snprintf(rec->message, sizeof(rec->message), "recovered %" PRIu64 "..%" PRIu64
			 " cleanly", rec->first_seq, rec->last_seq);
}

int
sl_journal_open(struct sl_journal **out, const char *dir, const struct sl_journal_conf *conf,
		struct sl_journal_recovery *rec)
{
	struct sl_journal_recovery local;
	struct sl_journal *j;
	int rc;

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
	rc = mkdir_p(dir);
	if (rc == 0)
		rc = meta_load(j);
	if (rc == 0)
		rc = recover(j, rec);
	if (rc < 0) {
		if (rec->message[0] == '\0')
			snprintf(rec->message, sizeof(rec->message), "journal %.160s: %s", dir,
				 strerror(-rc));
		sl_journal_close(j);
		return rc;
	}
	j->durable_seq = j->next_seq - 1;
	/* The next segment (or the first) is prepared ahead at once: at a high
	 * rate a segment fills faster than one can be made ready. */
	spares_remove_stale(j->dir);
	j->want_spare = 1;
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
	spare_drop(j);
	for (i = 0; i < j->n_segs; i++)
		seg_unmap(&j->segs[i]);
	free(j->segs);
	free(j);
}
