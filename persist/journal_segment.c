/* SPDX-License-Identifier: BSD-3-Clause */
/* Journal segment files: creating, mapping and deleting them, the spare segment
 * prepared ahead, and the slow work the owner hands to the preparing thread. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <common/clock.h>

#include "journal_internal.h"

/* --- segment files ---------------------------------------------------------------- */

void
sl_jseg_path(const struct sl_journal *j, uint64_t first_seq, char *out, size_t len)
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

int
sl_file_replace(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	ssize_t n;
	int fd, rc = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len)
		rc = n < 0 ? -errno : -EIO;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	/* The rename survives a crash only once the directory is synced. */
	return sl_journal_sync_dir(dir);
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

int
sl_jseg_map(struct sl_journal *j, const char *path, struct seg *s, int prefault)
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

void
sl_jseg_unmap(struct seg *s)
{
	if (s->base && s->read_only)
		munmap(s->base, s->size);
	else if (s->base)
		pmem_unmap(s->base, s->size);
	free(s->idx);
	memset(s, 0, sizeof(*s));
}

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

int
sl_jseg_create(struct sl_journal *j, uint64_t first_seq, struct seg *s)
{
	char path[PATH_MAX + 32];
	int fd, rc;

	sl_jseg_path(j, first_seq, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -errno;
	rc = -seg_allocate(j, fd);
	close(fd);
	if (rc != 0)
		goto fail;
	rc = -sl_jseg_map(j, path, s, 0);
	if (rc != 0)
		goto fail;
	s->idx = malloc(sl_jidx_cap(j) * sizeof(*s->idx));
	s->cap_idx = s->idx ? sl_jidx_cap(j) : 0;
	rc = -sl_jseg_stamp(j, s, first_seq, sl_wall_ns());
	if (rc == 0)
		rc = -sl_journal_sync_dir(j->dir);
	if (rc != 0) {
		sl_jseg_unmap(s);
		goto fail;
	}
	return 0;
fail:
	unlink(path);
	return -rc;
}

int
sl_jsegs_push(struct sl_journal *j, const struct seg *s)
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

/* --- segments prepared ahead ------------------------------------------------------------ */

/*
 * Creating a segment costs its whole size in allocation and zeroing (tens
 * of milliseconds for 64 MiB), and any system call stalls the appending
 * worker and every topic it owns. So the owner's roll only switches to a
 * spare that sl_journal_prepare made on another thread: the file created
 * as spare-N.tmp, allocated and synced, its directory entry synced,
 * mapped, its pages faulted in, its index allocated. The owner stamps the
 * header (a persist, like a group commit) and hands the rename to its
 * segment name back to the preparer (a chore, below). A crash before that
 * rename leaves a spare whose header names its first sequence: the next
 * open gives it that name (sl_jspares_recover).
 */

static void
spare_path(const struct sl_journal *j, uint64_t no, char *out, size_t len)
{
	snprintf(out, len, "%s/" SPARE_PREFIX "%" PRIu64 SPARE_SUFFIX, j->dir, no);
}

static void
spare_free(struct spare *sp)
{
	sl_jseg_unmap(&sp->s);
	free(sp->grow);
	free(sp);
}

/*
 * Recycling. A segment retention retired keeps its file, its blocks, its
 * page-cache pages (or persistent-memory pages) and its mapping: allocating
 * and faulting in fresh pages costs the kernel far more than the records
 * themselves. Its file is renamed spare-N.tmp and both commit slots marked
 * SL_JSEG_RECYCLED, and it waits in j->pool (at most pool_max of them) for
 * the next spare to be made from it, generation one up. Its old records
 * stay where they are: every record carries its segment's generation, so
 * none of them is ever taken for one of the next use (journal.h).
 */

/* A retired segment kept for reuse, taken out of the pool into @sp: 1, or 0
 * when there is none (or another thread is in the pool just now: the
 * caller makes a fresh one). */
static int
pool_pop(struct sl_journal *j, struct spare *sp)
{
	struct seg *s;
	int got = 0;

	/* Acquire: pairs with the release below and in sl_jchores_run; the
	 * pool is only touched by the thread holding ch_busy. */
	if (__atomic_exchange_n(&j->ch_busy, 1, __ATOMIC_ACQUIRE))
		return 0;
	if (j->n_pool) {
		s = &j->pool[--j->n_pool]; /* the most recently retired: pages warmest */
		/* Its next use, one generation up (an older version's file
		 * counts as used once, so a reused one is always above 1). */
		sp->s = (struct seg){ .base = s->base, .size = s->size, .is_pmem = s->is_pmem,
				      .idx = s->idx, .cap_idx = s->cap_idx,
				      .gen = (s->gen ? s->gen : 1) + 1 };
		sp->no = j->pool_no[j->n_pool];
		sp->reused = 1;
		got = 1;
	}
	__atomic_store_n(&j->ch_busy, 0, __ATOMIC_RELEASE);
	return got;
}

/* Preparer, in a RETIRE chore: may @s be kept for reuse? Not past
 * pool_max, nor when its files would take the journal over its capacity
 * (the disk must be freed); not a file cut short, one whose header failed
 * (its history is unknown) or one at the last generation. */
static int
pool_room(const struct sl_journal *j, const struct seg *s)
{
	uint64_t cap = __atomic_load_n(&j->conf.capacity_bytes, __ATOMIC_RELAXED);
	uint64_t files = (uint64_t)__atomic_load_n(&j->n_hint, __ATOMIC_RELAXED) + j->n_pool + 1;

	return j->n_pool < j->pool_max && s->base && !s->read_only && !s->hdr_bad &&
	       s->size == j->seg_bytes && s->gen < SL_JSEG_GEN_MAX &&
	       (cap == 0 || files * j->seg_bytes <= cap);
}

/*
 * Keep retired segment @s (file @path) for reuse: renamed spare-N.tmp, the
 * directory synced, then both commit slots marked recycled and persisted.
 * A crash before the mark leaves a spare whose header still names the
 * segment: the next open gives it its name back, whole (its successor is
 * still on disk, since retention retires in order); after the mark the
 * next open deletes it. 1: kept; 0: not (the caller deletes it); -errno.
 */
static int
pool_keep(struct sl_journal *j, struct seg *s, const char *path)
{
	uint64_t mark = SL_JSEG_RECYCLED, off = offsetof(struct seg_hdr, commit), no;
	char to[PATH_MAX + 32];
	int rc;

	if (!pool_room(j, s))
		return 0;
	no = __atomic_add_fetch(&j->spare_no, 1, __ATOMIC_RELAXED);
	spare_path(j, no, to, sizeof(to));
	if (rename(path, to) < 0)
		return 0; /* deleted as before (by either name) */
	rc = sl_journal_sync_dir(j->dir);
	if (rc == 0) {
		sl_jcopy(s, off, &mark, sizeof(mark));
		sl_jcopy(s, off + sizeof(mark), &mark, sizeof(mark));
		rc = sl_jpersist_range(j, s, off, off + 2 * sizeof(mark));
	}
	if (rc < 0) {
		sl_jseg_unmap(s);
		unlink(to);
		return rc;
	}
	j->pool[j->n_pool] = *s;
	j->pool_no[j->n_pool++] = no;
	return 1;
}

/* Make a spare: everything a roll needs, done here so the roll makes no
 * system call. Sizes the owner's next segment table from its hints. A
 * retired segment kept for reuse is taken first: its file is allocated,
 * named and mapped already. */
static int
spare_make(struct sl_journal *j, struct spare **out)
{
	/* Acquire: pairs with the owner's release of sp_tail. */
	uint32_t queued = j->sp_head - __atomic_load_n(&j->sp_tail, __ATOMIC_ACQUIRE);
	/* The owner's table when it takes this spare: its segments now, one
	 * per spare queued ahead of this one, and one for a roll whose count
	 * this thread may not see yet. */
	uint32_t need = __atomic_load_n(&j->n_hint, __ATOMIC_RELAXED) + queued + 2;
	char path[PATH_MAX + 32];
	struct spare *sp;
	int fd, rc;

	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return -ENOMEM;
	if (pool_pop(j, sp)) {
		spare_path(j, sp->no, path, sizeof(path));
		rc = 0;
		goto ready;
	}
	sp->no = __atomic_add_fetch(&j->spare_no, 1, __ATOMIC_RELAXED);
	spare_path(j, sp->no, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		free(sp);
		return rc;
	}
	rc = seg_allocate(j, fd);
	/* The file's size is on the disk before a record is in it. */
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		rc = sl_jseg_map(j, path, &sp->s, 0);
	if (rc < 0)
		goto fail;
	sp->s.cap_idx = sl_jidx_cap(j);
	sp->s.idx = malloc(sp->s.cap_idx * sizeof(*sp->s.idx));
	if (sp->s.idx == NULL)
		rc = -ENOMEM;
	else /* its pages faulted in here too, not on the worker */
		memset(sp->s.idx, 0, sp->s.cap_idx * sizeof(*sp->s.idx));
ready:
	/* Fault every page in now, here: the worker then never takes a page
	 * fault in this segment (a reused one's are mostly in already: then
	 * this costs a walk of its page tables). On files, read faults only:
	 * a written page would be written back to the disk although it holds
	 * nothing. */
	if (rc == 0)
		(void)madvise(sp->s.base, sp->s.size,
			      sp->s.is_pmem ? MADV_POPULATE_WRITE_ : MADV_POPULATE_READ_);
	/* The roll that takes this spare adds one segment: a larger table
	 * goes with it when the owner's would be full by then. */
	if (rc == 0 && need > j->prep_cap) {
		sp->grow_cap = j->prep_cap ? j->prep_cap : 16;
		while (sp->grow_cap < 2 * need)
			sp->grow_cap *= 2;
		sp->grow = malloc(sp->grow_cap * sizeof(*sp->grow));
		if (sp->grow == NULL)
			rc = -ENOMEM;
	}
	/* Its directory entry is durable before a record goes into it (a
	 * reused one's was synced when it was kept). */
	if (rc == 0 && !sp->reused)
		rc = sl_journal_sync_dir(j->dir);
	if (rc < 0)
		goto fail_map;
	if (sp->grow)
		j->prep_cap = sp->grow_cap;
	sp->created_ns = sl_wall_ns();
	*out = sp;
	return 0;

fail_map:
	spare_free(sp);
	unlink(path);
	return rc;
fail:
	free(sp);
	unlink(path);
	return rc;
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
	/* Release: pairs with the owner's acquire load in spare_inline. */
	__atomic_store_n(&j->prep_err, rc == -EDQUOT ? -ENOSPC : rc, __ATOMIC_RELEASE);
}

/*
 * Who does what: only the preparing thread fills the spares ring (up to
 * sp_depth), only the owner takes from it. Each spare has a file of its own,
 * so the preparer renaming a spare the owner took can never meet the one it
 * creates next. The chores come first: segments retention retired give back
 * the room a new spare may need. One spare per call: the caller calls again
 * while it returns 1.
 */
int
sl_journal_prepare(struct sl_journal *j)
{
	struct spare *sp = NULL;
	uint64_t now;
	int rc;

	sl_jchores_run(j);
	/* Acquire: pairs with the owner's release of sp_tail. */
	if (j->sp_head - __atomic_load_n(&j->sp_tail, __ATOMIC_ACQUIRE) >= j->sp_depth)
		return 0;
	now = sl_mono_ns();
	if (now < j->prep_retry_ns)
		return 0;
	rc = spare_make(j, &sp);
	if (rc < 0) {
		prepare_failed(j, rc, now);
		return rc;
	}
	j->spares[j->sp_head & (SL_JSPARES_MAX - 1)] = sp;
	/* Release: pairs with the owner's acquire in sl_jseg_take; the
	 * spare's contents are visible to an owner that sees it counted. */
	__atomic_store_n(&j->sp_head, j->sp_head + 1, __ATOMIC_RELEASE);
	/* After the spare is published: an owner that still sees the old
	 * error refuses once more, then takes the spare. */
	j->prep_backoff_ns = 0;
	__atomic_store_n(&j->prep_err, 0, __ATOMIC_RELEASE);
	return 1;
}

/* --- the owner's hand-over -------------------------------------------------------------- */

static uint32_t
chore_room(const struct sl_journal *j)
{
	/* Acquire: pairs with the release of ch_tail in sl_jchores_run: a
	 * slot is reused only after the preparer is done reading it. */
	return SL_JCHORES - (j->ch_head - __atomic_load_n(&j->ch_tail, __ATOMIC_ACQUIRE));
}

/* Owner: the caller checked chore_room. */
static void
chore_post(struct sl_journal *j, const struct chore *c)
{
	j->chores[j->ch_head & (SL_JCHORES - 1)] = *c;
	/* Release: pairs with the acquire in sl_jchores_run; the slot is
	 * written before the preparer can see it. */
	__atomic_store_n(&j->ch_head, j->ch_head + 1, __ATOMIC_RELEASE);
}

void
sl_jsegs_hint(struct sl_journal *j)
{
	__atomic_store_n(&j->n_hint, j->n_segs, __ATOMIC_RELAXED);
}

/* Owner, with no preparing thread (conf.prepared_only off) and no spare:
 * create the segment itself under its own name, as a journal without a
 * preparer always did, unless the file system is known to be full: then
 * -ENOSPC at once, without a system call, until sl_journal_prepare has a
 * spare ready. */
static int
seg_inline(struct sl_journal *j, uint64_t first_seq, struct spare **out)
{
	struct spare *sp;
	int rc;

	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return -ENOMEM;
	/* A retired segment kept for reuse needs no room on the disk. */
	if (pool_pop(j, sp)) {
		sp->created_ns = sl_wall_ns();
		rc = sl_jseg_stamp(j, &sp->s, first_seq, sp->created_ns);
		if (rc < 0) {
			sl_jseg_giveup(j, sp);
			return rc;
		}
		sp->s.spare_no = sp->no;
		__atomic_add_fetch(&j->recycled, 1, __ATOMIC_RELAXED);
		*out = sp;
		return 0;
	}
	/* Acquire: pairs with the release stores in prepare_failed. */
	if (j->full || __atomic_load_n(&j->prep_err, __ATOMIC_ACQUIRE) == -ENOSPC) {
		free(sp);
		return -ENOSPC;
	}
	rc = sl_jseg_create(j, first_seq, &sp->s);
	if (rc == -ENOSPC || rc == -EDQUOT) {
		j->full = 1;
		rc = -ENOSPC;
	}
	if (rc < 0) {
		free(sp);
		return rc;
	}
	*out = sp;
	return 0;
}

/* The next prepared spare, or NULL. */
static struct spare *
spare_peek(const struct sl_journal *j)
{
	/* Acquire: pairs with the release of sp_head in sl_journal_prepare. */
	if (__atomic_load_n(&j->sp_head, __ATOMIC_ACQUIRE) == j->sp_tail)
		return NULL;
	return j->spares[j->sp_tail & (SL_JSPARES_MAX - 1)];
}

static void
spare_pop(struct sl_journal *j)
{
	/* Release: the slot is read; pairs with the preparer's acquire. */
	__atomic_store_n(&j->sp_tail, j->sp_tail + 1, __ATOMIC_RELEASE);
}

int
sl_jseg_take(struct sl_journal *j, uint64_t first_seq, struct spare **out)
{
	struct spare *sp = spare_peek(j);
	int rc;

	if (!j->conf.prepared_only) {
		/* No one else does them here: the rename needs a free slot. */
		while (chore_room(j) == 0)
			sl_jchores_run(j);
		if (sp == NULL) {
			/* Named and stamped already: nothing to rename. */
			rc = seg_inline(j, first_seq, out);
			if (rc == 0)
				j->full = 0;
			return rc;
		}
	} else if (sp == NULL || chore_room(j) == 0 ||
		   (j->n_segs == j->cap_segs && sp->grow == NULL)) {
		/* Nothing to switch to yet: refused as a full journal is, and
		 * counted. */
		__atomic_add_fetch(&j->roll_waits, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	spare_pop(j);
	j->full = 0;
	rc = sl_jseg_stamp(j, &sp->s, first_seq, sp->created_ns);
	if (rc < 0) {
		sl_jseg_giveup(j, sp);
		return rc;
	}
	sp->s.spare_no = sp->no;
	if (sp->reused)
		__atomic_add_fetch(&j->recycled, 1, __ATOMIC_RELAXED);
	*out = sp;
	return 0;
}

/* Owner, after a roll took a spare: hand @c to the preparer (done here at
 * once without a preparing thread). */
static void
handover(struct sl_journal *j, const struct chore *c)
{
	chore_post(j, c);
	sl_jsegs_hint(j);
	if (!j->conf.prepared_only)
		sl_jchores_run(j);
}

/* The owner's segment table moves to the spare's larger one, if it has one
 * (the old one goes to the preparer to free); then the segment is added. */
int
sl_jseg_start(struct sl_journal *j, struct spare *sp)
{
	struct chore c = { .kind = CHORE_RENAME, .free1 = sp };

	if (sp->grow && sp->grow_cap > j->cap_segs) {
		if (j->n_segs)
			memcpy(sp->grow, j->segs, j->n_segs * sizeof(*j->segs));
		c.free2 = j->segs;
		j->segs = sp->grow;
		j->cap_segs = sp->grow_cap;
		sp->grow = NULL;
	} else if (j->n_segs == j->cap_segs) {
		/* Only without a preparing thread (sl_jseg_take): grow here. */
		struct seg *n = realloc(j->segs, (j->cap_segs ? j->cap_segs * 2 : 16) * sizeof(*n));

		if (n == NULL) {
			sl_jseg_giveup(j, sp);
			return -ENOMEM;
		}
		j->segs = n;
		j->cap_segs = j->cap_segs ? j->cap_segs * 2 : 16;
	}
	j->segs[j->n_segs++] = sp->s;
	sp->s.base = NULL; /* now the table's */
	sp->s.idx = NULL;
	c.s.first_seq = j->segs[j->n_segs - 1].first_seq;
	c.s.spare_no = sp->no;
	handover(j, &c);
	return 0;
}

void
sl_jseg_giveup(struct sl_journal *j, struct spare *sp)
{
	struct chore c = { .kind = CHORE_RETIRE, .free1 = sp };

	/* A stamped spare that never got a record: its file goes. */
	c.s = sp->s;
	c.s.first_seq = 0;
	c.s.spare_no = sp->no;
	sp->s.base = NULL;
	sp->s.idx = NULL;
	handover(j, &c);
}

int
sl_jseg_retire_oldest(struct sl_journal *j)
{
	struct chore c = { .kind = CHORE_RETIRE };
	uint32_t k;

	if (chore_room(j) == 0)
		return -EAGAIN;
	c.s = j->segs[0];
	chore_post(j, &c);
	memmove(&j->segs[0], &j->segs[1], (j->n_segs - 1) * sizeof(j->segs[0]));
	j->n_segs--;
	sl_jsegs_hint(j);
	sl_jepoch_trim(j, j->n_segs ? j->segs[0].first_seq : j->next_seq, j->next_seq - 1);
	/* Damaged ranges before what is retained are gone with it. */
	for (k = 0; j->n_segs && k < j->n_holes && j->holes[k].seq_hi < j->segs[0].first_seq; k++)
		;
	if (k) {
		memmove(j->holes, j->holes + k, (j->n_holes - k) * sizeof(j->holes[0]));
		j->n_holes -= k;
	}
	j->rd_seg = 0;
	j->rd_seq = 0; /* invalidate the read cursor */
	return 0;
}

int
sl_jseg_retire_last(struct sl_journal *j)
{
	struct chore c = { .kind = CHORE_RETIRE };

	if (chore_room(j) == 0)
		return -EAGAIN;
	c.s = j->segs[j->n_segs - 1];
	chore_post(j, &c);
	j->n_segs--;
	sl_jsegs_hint(j);
	j->rd_seg = 0;
	j->rd_seq = 0; /* invalidate the read cursor */
	return 0;
}

void
sl_jchores_drain(struct sl_journal *j)
{
	/* Acquire: pairs with the release of ch_tail in sl_jchores_run. */
	while (__atomic_load_n(&j->ch_tail, __ATOMIC_ACQUIRE) != j->ch_head)
		if (sl_jchores_run(j) == 0)
			sched_yield(); /* the preparing thread is doing them */
}

static int
chore_do(struct sl_journal *j, struct chore *c, int *renamed)
{
	char from[PATH_MAX + 32], to[PATH_MAX + 32];
	uint64_t first = c->s.first_seq, no = c->s.spare_no;
	int rc = 0;

	if (no)
		spare_path(j, no, from, sizeof(from));
	if (first)
		sl_jseg_path(j, first, to, sizeof(to));
	if (c->kind == CHORE_RENAME) {
		if (no && rename(from, to) < 0) /* none: created under its name */
			rc = -errno;
		*renamed |= no != 0;
	} else {
		/* A retired segment (not a spare given up) may be kept for
		 * reuse, its mapping with it. */
		if (first && (rc = pool_keep(j, &c->s, to)) != 0) {
			if (c->free1)
				spare_free(c->free1);
			free(c->free2);
			return rc < 0 ? rc : 0;
		}
		sl_jseg_unmap(&c->s);
		/* By either name: a rename that failed leaves the spare's. */
		if (first && unlink(to) < 0 && errno != ENOENT)
			rc = -errno;
		if (no && unlink(from) < 0 && errno != ENOENT)
			rc = -errno;
	}
	if (c->free1)
		spare_free(c->free1);
	free(c->free2);
	return rc;
}

unsigned
sl_jchores_run(struct sl_journal *j)
{
	uint32_t h, t;
	unsigned n = 0;
	int renamed = 0, rc;

	/* One thread at a time (the owner does them itself when there is no
	 * preparing thread); another that finds them being done moves on. */
	if (__atomic_exchange_n(&j->ch_busy, 1, __ATOMIC_ACQUIRE))
		return 0;
	/* Acquire: pairs with the release in chore_post. */
	h = __atomic_load_n(&j->ch_head, __ATOMIC_ACQUIRE);
	for (t = __atomic_load_n(&j->ch_tail, __ATOMIC_RELAXED); t != h; t++, n++) {
		rc = chore_do(j, &j->chores[t & (SL_JCHORES - 1)], &renamed);
		if (rc < 0)
			j->chore_err = rc;
		/* Release: the slot is read; pairs with chore_room's acquire. */
		__atomic_store_n(&j->ch_tail, t + 1, __ATOMIC_RELEASE);
	}
	/* New names survive a crash (without, recovery would rename again). */
	if (renamed && (rc = sl_journal_sync_dir(j->dir)) < 0)
		j->chore_err = rc;
	__atomic_store_n(&j->ch_busy, 0, __ATOMIC_RELEASE);
	return n;
}

void
sl_jspare_drop(struct sl_journal *j)
{
	char path[PATH_MAX + 32];
	struct spare *sp;

	while ((sp = spare_peek(j)) != NULL) {
		spare_pop(j);
		spare_path(j, sp->no, path, sizeof(path));
		spare_free(sp);
		unlink(path);
	}
	/* Segments kept for reuse go too (an open would delete them). */
	while (j->n_pool) {
		j->n_pool--;
		spare_path(j, j->pool_no[j->n_pool], path, sizeof(path));
		sl_jseg_unmap(&j->pool[j->n_pool]);
		unlink(path);
	}
}

/*
 * What a spare file left by a process that stopped is: one a roll started
 * a segment in has a valid header naming its first sequence, and takes that
 * name (its records are the journal's). One never used (no valid header,
 * no record) goes. One with bytes past a header that fails is left where it
 * is: nothing says which sequences it holds.
 */
static int
spare_recover_one(struct sl_journal *j, const char *path, uint64_t *no_max, int *renamed)
{
	char to[PATH_MAX + 32];
	uint8_t buf[SL_JSEG_HDR + 8];
	const struct seg_hdr *h = (const struct seg_hdr *)buf;
	unsigned long long no = strtoull(strrchr(path, '/') + 1 + strlen(SPARE_PREFIX), NULL, 10);
	ssize_t n;
	int fd;

	if (no > *no_max)
		*no_max = no;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(buf, 0, sizeof(buf));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	if (h->magic == SL_JOURNAL_MAGIC && SEG_VERSION_KNOWN(h->version) &&
	    h->crc == sl_jseg_hdr_crc(h) &&
	    (h->commit[0] == SL_JSEG_RECYCLED || h->commit[1] == SL_JSEG_RECYCLED))
		return unlink(path) < 0 ? -errno : 0; /* kept for reuse, never used again */
	if (h->magic == SL_JOURNAL_MAGIC &&
	    SEG_VERSION_KNOWN(h->version) && h->first_seq &&
	    h->crc == sl_jseg_hdr_crc(h)) {
		sl_jseg_path(j, h->first_seq, to, sizeof(to));
		if (access(to, F_OK) == 0)
			return 0; /* (cannot be: a name is never given twice) */
		*renamed = 1;
		return rename(path, to) < 0 ? -errno : 0;
	}
	if (*(const uint64_t *)(buf + SL_JSEG_HDR) == 0)
		return unlink(path) < 0 ? -errno : 0;
	return 0;
}

int
sl_jspares_recover(struct sl_journal *j)
{
	char path[PATH_MAX + 300];
	uint64_t no_max = 0;
	struct dirent *e;
	DIR *d = opendir(j->dir);
	size_t n, sfx = strlen(SPARE_SUFFIX);
	int rc = 0, renamed = 0;

	if (d == NULL)
		return -errno;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (strncmp(e->d_name, SPARE_PREFIX, strlen(SPARE_PREFIX)) != 0 || n <= sfx ||
		    strcmp(e->d_name + n - sfx, SPARE_SUFFIX) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", j->dir, e->d_name);
		rc = spare_recover_one(j, path, &no_max, &renamed);
	}
	closedir(d);
	if (rc == 0 && renamed)
		rc = sl_journal_sync_dir(j->dir);
	j->spare_no = no_max; /* a spare left in place keeps its name */
	return rc;
}
