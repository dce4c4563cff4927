/* SPDX-License-Identifier: BSD-3-Clause */
/* The journal's owner path (append, sync, retain, read) makes no file-system call and
 * allocates nothing when another thread prepares: proved by counting every libc and
 * libpmem call the journal can make, linked through -Wl,--wrap, per side. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <libpmem.h>

#include "check.h"
#include "journal.h"

#define SEG (64u * 1024)
#define PAYLOAD 200u

/* Who is calling: the owner's API, or the preparing (or opening) side. */
enum side { OWNER, PREPARER, N_SIDES };
static enum side side = PREPARER;

/* Calls seen per side: file-system calls, allocations (and frees). */
static struct {
	unsigned long fs, alloc;
} calls[N_SIDES];
static unsigned long flushes, drains;

#define FS() (calls[side].fs++)
#define ALLOC() (calls[side].alloc++)

/*
 * Every libc and libpmem function the journal's objects import that enters
 * the kernel, touches the file system or allocates (nm -u of the library),
 * but open64 (variadic, below): X(counter, return type, name, (parameters),
 * (arguments)). Each gets __real_ and __wrap_ declarations and a wrapper
 * that counts the call for the side making it. free counts as an
 * allocation: the owner's path does neither.
 */
#define WRAPPED(X)                                                                      \
	X(ALLOC, void *, malloc, (size_t n), (n))                                       \
	X(ALLOC, void *, calloc, (size_t n, size_t k), (n, k))                          \
	X(ALLOC, void *, realloc, (void *p, size_t n), (p, n))                          \
	X(FS, int, close, (int fd), (fd))                                               \
	X(FS, int, rename, (const char *a, const char *b), (a, b))                      \
	X(FS, int, unlink, (const char *path), (path))                                  \
	X(FS, void *, mmap64, (void *a, size_t l, int p, int f, int fd, off_t o),      \
	  (a, l, p, f, fd, o))                                                          \
	X(FS, int, munmap, (void *a, size_t l), (a, l))                                 \
	X(FS, int, fsync, (int fd), (fd))                                               \
	X(FS, int, madvise, (void *a, size_t l, int adv), (a, l, adv))                  \
	X(FS, int, posix_fallocate64, (int fd, off_t o, off_t l), (fd, o, l))           \
	X(FS, int, fstatvfs64, (int fd, struct statvfs *sv), (fd, sv))                  \
	X(FS, int, fstat64, (int fd, struct stat *st), (fd, st))                        \
	X(FS, int, stat64, (const char *path, struct stat *st), (path, st))             \
	X(FS, DIR *, opendir, (const char *path), (path))                               \
	X(FS, struct dirent *, readdir64, (DIR *d), (d))                                \
	X(FS, int, closedir, (DIR *d), (d))                                             \
	X(FS, int, access, (const char *path, int mode), (path, mode))                  \
	X(FS, ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))               \
	X(FS, ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))        \
	X(FS, int, mkdir, (const char *path, mode_t mode), (path, mode))                \
	X(FS, void *, pmem_map_file,                                                    \
	  (const char *path, size_t len, int flags, mode_t mode, size_t *mapped,        \
	   int *is_pmem), (path, len, flags, mode, mapped, is_pmem))                    \
	X(FS, int, pmem_unmap, (void *a, size_t l), (a, l))                             \
	X(FS, int, pmem_msync, (const void *a, size_t l), (a, l))

#define DECLARE(kind, ret, name, params, args)                                          \
	ret __real_##name params;                                                       \
	ret __wrap_##name params;
#define DEFINE(kind, ret, name, params, args)                                           \
	ret __wrap_##name params                                                        \
	{                                                                               \
		kind();                                                                 \
		return __real_##name args;                                              \
	}
WRAPPED(DECLARE)
WRAPPED(DEFINE)

void __real_free(void *p);
void __wrap_free(void *p);
int __real_open64(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);

void
__wrap_free(void *p)
{
	if (p)
		ALLOC();
	__real_free(p);
}

int
__wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	FS();
	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return __real_open64(path, flags, mode);
}

/* Persistence as on persistent memory: write-backs and drains, counted;
 * no msync (on an ordinary file that is the one system call a group
 * commit makes, by design). */
static void po_flush(const void *a, size_t l) { (void)a; (void)l; flushes++; }
static void po_drain(void) { drains++; }
static int po_msync(const void *a, size_t l) { (void)a; (void)l; return -1; }
static int po_is_pmem(const void *a, size_t l) { (void)a; (void)l; return 1; }

static const struct sl_persist_ops pmem_ops = {
	.flush = po_flush, .drain = po_drain, .msync = po_msync, .is_pmem = po_is_pmem,
};

static void
rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "rm -rf %s failed\n", dir);
}

/* Files in @dir whose name ends with @sfx. */
static int
count_files(const char *dir, const char *sfx)
{
	DIR *d = __real_opendir(dir);
	struct dirent *e;
	size_t l, k = strlen(sfx);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = __real_readdir64(d)) != NULL) {
		l = strlen(e->d_name);
		n += l > k && strcmp(e->d_name + l - k, sfx) == 0;
	}
	__real_closedir(d);
	return n;
}

static uint8_t payload[PAYLOAD];

/*
 * Appends across many rolls with retention on; the owner's calls are counted
 * apart from sl_journal_prepare's. The preparer runs only when the owner is
 * refused for want of a spare (so every roll is one the owner could not do
 * without it) and after each retention pass.
 */
static void
test_owner_path_quiet(const char *root)
{
	struct sl_journal_conf c = { .segment_bytes = SEG, .index_every = 1024,
				     .retain_bytes = 3 * SEG, .ops = &pmem_ops,
				     .prepared_only = 1 };
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j = NULL;
	uint64_t seq, expect = 1, ts = 1000, refused = 0, retired = 0, first;
	char dir[512];
	int rc, prepared = 0;

	snprintf(dir, sizeof(dir), "%s/owner", root);
	side = PREPARER;
	rc = sl_journal_open(&j, dir, &c, &rec);
	CHECK(rc == 0);
	if (rc != 0)
		return;
	/* Spares made at open: 64 MiB worth of these small segments, at most 4. */
	CHECK(count_files(dir, ".tmp") == 4);
	memset(calls, 0, sizeof(calls));
	while (expect <= 20000) {
		side = OWNER;
		memset(payload, (int)expect, sizeof(payload));
		rc = sl_journal_append(j, payload, PAYLOAD, ts++, 7, expect, &seq);
		if (rc == -ENOSPC) {
			/* Refused whole: nothing written, nothing taken. */
			CHECK(sl_journal_last_seq(j) == expect - 1);
			refused++;
			side = PREPARER;
			rc = sl_journal_prepare(j);
			CHECK(rc == 1);
			prepared += rc == 1;
			continue;
		}
		CHECK(rc == 0 && seq == expect);
		if (rc != 0)
			break;
		if (expect % 16 == 0)
			CHECK(sl_journal_sync(j) == 0);
		if (expect % 500 == 0) {
			rc = sl_journal_retain(j, ts);
			CHECK(rc >= 0);
			retired += rc > 0 ? (uint64_t)rc : 0;
			first = sl_journal_first_seq(j);
			CHECK(sl_journal_read(j, first, &v) == 0 && v.seq == first);
			CHECK(sl_journal_read(j, expect, &v) == 0 && v.len == PAYLOAD &&
			      v.producer_seq == expect);
			CHECK(sl_journal_seek_time(j, ts - 10) <= expect);
			side = PREPARER;
			(void)sl_journal_prepare(j);
		}
		expect++;
	}
	side = OWNER;
	CHECK(sl_journal_sync(j) == 0 && sl_journal_durable_seq(j) == expect - 1);
	side = PREPARER;
	(void)sl_journal_prepare(j);
	/* Many rolls happened, each refused once (no spare until asked). */
	CHECK(refused > 30 && prepared == (int)refused);
	CHECK(sl_journal_roll_waits(j) == refused);
	CHECK(retired > 20);
	/* Most rolls took a retired segment kept for reuse (at most four
	 * kept): the owner's path is as quiet with those. */
	CHECK(sl_journal_recycled(j) > refused / 2);
	/* The owner side made no file-system call and allocated nothing. */
	CHECK(calls[OWNER].fs == 0);
	CHECK(calls[OWNER].alloc == 0);
	if (calls[OWNER].fs || calls[OWNER].alloc)
		fprintf(stderr, "owner: %lu fs calls, %lu allocations\n", calls[OWNER].fs,
			calls[OWNER].alloc);
	/* The preparer did that work: a file, a rename and an unlink a roll. */
	CHECK(calls[PREPARER].fs > 4 * refused && calls[PREPARER].alloc >= refused);
	CHECK(flushes > 0 && drains > 0);
	/* Retention's files are gone, the names are right, no spare is left over
	 * but those prepared ahead. */
	CHECK(count_files(dir, ".seg") <= 4);
	CHECK(count_files(dir, ".tmp") <= 4);
	sl_journal_close(j);
	CHECK(count_files(dir, ".tmp") == 0);

	/* What retention kept reopens whole. */
	c.ops = NULL;
	c.prepared_only = 0;
	CHECK(sl_journal_open(&j, dir, &c, &rec) == 0);
	if (j) {
		CHECK(rec.last_seq == expect - 1 && !rec.corrupt && !rec.torn);
		for (seq = rec.first_seq; seq <= rec.last_seq; seq++)
			if (sl_journal_read(j, seq, &v) != 0 || v.producer_seq != seq) {
				CHECK(!"record readable after reopen");
				break;
			}
		sl_journal_close(j);
	}
}

/*
 * A standby's path: records copied from a primary (sl_journal_append_replica),
 * starting an empty journal at the primary's sequence, through leader epoch
 * changes, rolls and retention, with epochs set and queried on the way: the
 * owner makes no file-system call and allocates nothing.
 */
static void
test_replica_path_quiet(const char *root)
{
	struct sl_journal_conf c = { .segment_bytes = SEG, .index_every = 1024,
				     .retain_bytes = 3 * SEG, .ops = &pmem_ops,
				     .prepared_only = 1 };
	struct sl_jrec_meta m = { .producer_id = 7, .hdrs_len = 8 };
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j = NULL;
	uint64_t seq = 10000, refused = 0, end;
	char dir[512];
	int rc;

	snprintf(dir, sizeof(dir), "%s/replica", root);
	side = PREPARER;
	CHECK(sl_journal_open(&j, dir, &c, &rec) == 0);
	if (j == NULL)
		return;
	memset(calls, 0, sizeof(calls));
	while (seq < 18000) {
		side = OWNER;
		m.seq = seq;
		m.timestamp = seq;
		m.producer_seq = seq;
		m.leader_epoch = (uint32_t)(seq / 1000); /* a new epoch every 1000 */
		rc = sl_journal_append_replica(j, &m, payload, PAYLOAD);
		if (rc == -ENOSPC) {
			refused++;
			side = PREPARER;
			CHECK(sl_journal_prepare(j) == 1);
			continue;
		}
		CHECK(rc == 0);
		if (rc != 0)
			break;
		if (seq % 16 == 0)
			CHECK(sl_journal_sync(j) == 0);
		if (seq % 500 == 0) {
			CHECK(sl_journal_retain(j, seq) >= 0);
			CHECK(sl_journal_last_epoch(j) == m.leader_epoch);
			/* The previous epoch ends before this one starts, or
			 * retention has taken all of it. */
			end = sl_journal_epoch_end(j, m.leader_epoch - 1);
			CHECK(end == (seq / 1000) * 1000 - 1 ||
			      (end == 0 && sl_journal_first_seq(j) > (seq / 1000) * 1000 - 1));
			CHECK(sl_journal_set_leader_epoch(j, m.leader_epoch) == 0);
			side = PREPARER;
			(void)sl_journal_prepare(j);
		}
		seq++;
	}
	side = OWNER;
	CHECK(sl_journal_sync(j) == 0 && sl_journal_durable_seq(j) == seq - 1);
	CHECK(sl_journal_read(j, seq - 1, &v) == 0 && v.leader_epoch == 17 && v.hdrs_len == 8);
	CHECK(refused > 10);
	CHECK(calls[OWNER].fs == 0);
	CHECK(calls[OWNER].alloc == 0);
	if (calls[OWNER].fs || calls[OWNER].alloc)
		fprintf(stderr, "replica owner: %lu fs calls, %lu allocations\n", calls[OWNER].fs,
			calls[OWNER].alloc);
	side = PREPARER;
	sl_journal_close(j);
}

/* Append the record after *@n (producer_seq and timestamp: its number). */
static int
append_n(struct sl_journal *j, uint64_t *n, uint64_t *seq)
{
	*n += 1;
	return sl_journal_append(j, payload, PAYLOAD, *n, 1, *n, seq);
}

/*
 * A crash after a roll, before the preparer renamed the spare the owner
 * switched to: the acknowledged records in spare-N.tmp are the journal's,
 * and the next open gives the file its segment name.
 */
static void
test_crash_before_rename(const char *root)
{
	struct sl_journal_conf c = { .segment_bytes = SEG, .prepared_only = 1, .spares = 1 };
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j = NULL;
	char dir[512], copy[512], cmd[1200];
	uint64_t seq, n = 0, durable;
	int rc, k;

	snprintf(dir, sizeof(dir), "%s/crash", root);
	snprintf(copy, sizeof(copy), "%s/crash-copy", root);
	side = PREPARER;
	CHECK(sl_journal_open(&j, dir, &c, &rec) == 0);
	if (j == NULL)
		return;
	/* Fill the first segment (its spare made at open), take one more
	 * spare, then roll into it and commit records there. */
	while ((rc = append_n(j, &n, &seq)) == 0)
		;
	CHECK(rc == -ENOSPC);
	n--;
	CHECK(sl_journal_prepare(j) == 1);
	for (k = 0, rc = 0; rc == 0 && k < 50; k++)
		rc = append_n(j, &n, &seq);
	CHECK(rc == 0 && sl_journal_sync(j) == 0);
	durable = sl_journal_durable_seq(j);
	CHECK(durable == n);
	/* The second segment's file still has its spare name. */
	CHECK(count_files(dir, ".seg") == 1 && count_files(dir, ".tmp") == 1);
	/* "Crash": a copy of the files as they are, the journal never closed. */
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dir, copy);
	CHECK(system(cmd) == 0);
	sl_journal_close(j);
	c.prepared_only = 0;
	CHECK(sl_journal_open(&j, copy, &c, &rec) == 0);
	if (j == NULL)
		return;
	CHECK(count_files(copy, ".seg") == 2 && count_files(copy, ".tmp") == 0);
	CHECK(rec.last_seq == durable && !rec.corrupt && rec.segments == 2);
	CHECK(sl_journal_read(j, durable, &v) == 0 && v.producer_seq == durable);
	CHECK(append_n(j, &n, &seq) == 0 && seq == durable + 1);
	sl_journal_close(j);
}

int
main(void)
{
	char root[] = "/tmp/sl-jworker-XXXXXX";

	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_owner_path_quiet(root);
	test_crash_before_rename(root);
	test_replica_path_quiet(root);
	rm_rf(root);
	return check_result("test_journal_worker");
}
