/* SPDX-License-Identifier: BSD-3-Clause */
/* Journal tests: round trips, persist-op counting, recovery of torn tails and damage, capacity. */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"

#include "check.h"

#define SEG (64u * 1024)
#define MAX_SEQ 4096
#define MAX_FILES 64
#define TS0 1700000000000000000ull
#define PRODUCER 0x5eedu

static char base[64];			/* mkdtemp root; everything lives under it */
static uint32_t lens[MAX_SEQ + 1];	/* payload length of each seq in the pristine journal */

static uint64_t
ts_of(uint64_t seq)
{
	return TS0 + seq * 1000;
}

/* Payload bytes are never zero, so zeroing any payload byte changes the record. */
static void
fill_payload(uint64_t seq, uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(1 + (seq * 131 + i * 7) % 255);
}

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void
path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", base, name);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- injected persist ops ---- */

static struct {
	unsigned long flushes, drains, msyncs;
	int pmem;	 /* what is_pmem answers */
	int fail_msync;	 /* msync fails with EIO */
	int real_msync;	 /* call libpmem's msync (durable) or only count */
	unsigned long allocs; /* segment files the journal tried to allocate */
	int fail_alloc;	 /* allocation fails with ENOSPC: the file system is full */
} po;

static void
po_flush(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
	po.flushes++;
}

static void
po_drain(void)
{
	po.drains++;
}

static int
po_msync(const void *addr, size_t len)
{
	po.msyncs++;
	if (po.fail_msync) {
		errno = EIO;
		return -1;
	}
	return po.real_msync ? sl_persist_libpmem.msync(addr, len) : 0;
}

static int
po_is_pmem(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
	return po.pmem;
}

static int
po_allocate(int fd, uint64_t len)
{
	po.allocs++;
	return po.fail_alloc ? -ENOSPC : -posix_fallocate(fd, 0, (off_t)len);
}

static const struct sl_persist_ops counting_ops = {
	.flush = po_flush,
	.drain = po_drain,
	.msync = po_msync,
	.is_pmem = po_is_pmem,
	.allocate = po_allocate,
};

static void
po_reset(int pmem)
{
	memset(&po, 0, sizeof(po));
	po.pmem = pmem;
}

static struct sl_journal_conf
conf_default(void)
{
	struct sl_journal_conf c = {.segment_bytes = SEG, .index_every = 4096};

	return c;
}

/* The file path with msync only counted: fast on ext4, same recovery logic. */
static struct sl_journal_conf
conf_fast(void)
{
	struct sl_journal_conf c = conf_default();

	po_reset(0);
	c.ops = &counting_ops;
	return c;
}

/* ---- helpers on journals ---- */

static int
append_seq(struct sl_journal *j, uint64_t expect_seq, uint32_t len)
{
	uint8_t buf[2048];
	uint64_t seq = 0;
	int rc;

	fill_payload(expect_seq, buf, len);
	rc = sl_journal_append(j, buf, len, ts_of(expect_seq), PRODUCER, expect_seq * 2, &seq);
	if (rc == 0) {
		CHECK(seq == expect_seq);
		if (expect_seq <= MAX_SEQ)
			lens[expect_seq] = len;
	}
	return rc;
}

/* Read @seq back and compare every field with what append_seq wrote, the
 * payload @len bytes. */
static int
record_is(struct sl_journal *j, uint64_t seq, uint32_t len)
{
	uint8_t buf[2048];
	struct sl_jrec_view v;

	if (sl_journal_read(j, seq, &v) != 0)
		return 0;
	fill_payload(seq, buf, v.len);
	return v.seq == seq && v.len == len && v.timestamp == ts_of(seq) &&
	       v.producer_id == PRODUCER && v.producer_seq == seq * 2 &&
	       (v.len == 0 || memcmp(v.data, buf, v.len) == 0);
}

/* As record_is, the length from lens[]. */
static int
record_ok(struct sl_journal *j, uint64_t seq)
{
	return record_is(j, seq, lens[seq]);
}

/* Append records @first..@last with a sync after every @batch; random lengths < @maxlen. */
static void
fill_journal(struct sl_journal *j, uint64_t first, uint64_t last, unsigned batch, uint32_t maxlen)
{
	uint64_t s;

	for (s = first; s <= last; s++) {
		CHECK(append_seq(j, s, (uint32_t)(rng() % maxlen)) == 0);
		if ((s - first + 1) % batch == 0)
			CHECK(sl_journal_sync(j) == 0);
	}
	CHECK(sl_journal_sync(j) == 0);
}

static int
count_segs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		n += l > 4 && strcmp(e->d_name + l - 4, ".seg") == 0;
	}
	closedir(d);
	return n;
}

/* ---- snapshots of a journal directory, to damage copies of it ---- */

struct snap {
	int n;
	char name[MAX_FILES][64];
	uint8_t *data[MAX_FILES];
	size_t size[MAX_FILES];
};

struct recpos {
	int file;
	size_t off;
};

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
snap_load(struct snap *s, const char *dir)
{
	char p[512];
	DIR *d = opendir(dir);
	struct dirent *e;
	int i;

	memset(s, 0, sizeof(*s));
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && s->n < MAX_FILES)
		if (e->d_name[0] != '.' && strlen(e->d_name) < 64)
			strcpy(s->name[s->n++], e->d_name);
	closedir(d);
	qsort(s->name, (size_t)s->n, sizeof(s->name[0]), name_cmp);
	for (i = 0; i < s->n; i++) {
		struct stat st;
		int fd;

		snprintf(p, sizeof(p), "%s/%s", dir, s->name[i]);
		fd = open(p, O_RDONLY);
		if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
			return -1;
		s->size[i] = (size_t)st.st_size;
		s->data[i] = malloc(s->size[i] + 1);
		if (s->data[i] == NULL || read(fd, s->data[i], s->size[i]) != (ssize_t)s->size[i])
			return -1;
		close(fd);
	}
	return 0;
}

static void
snap_free(struct snap *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->data[i]);
	s->n = 0;
}

static void
snap_copy(struct snap *dst, const struct snap *src)
{
	int i;

	*dst = *src;
	for (i = 0; i < src->n; i++) {
		dst->data[i] = malloc(src->size[i] + 1);
		memcpy(dst->data[i], src->data[i], src->size[i]);
	}
}

static int
snap_restore(const struct snap *s, const char *dir)
{
	char p[512];
	int i;

	rm_rf(dir);
	if (mkdir(dir, 0700) != 0)
		return -1;
	for (i = 0; i < s->n; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/%s", dir, s->name[i]);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, s->data[i], s->size[i]) != (ssize_t)s->size[i])
			return -1;
		close(fd);
	}
	return 0;
}

static int
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char p[512];
	int fd, rc;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	rc = write(fd, data, len) == (ssize_t)len ? 0 : -1;
	close(fd);
	return rc;
}

static int
is_seg(const struct snap *s, int i)
{
	size_t l = strlen(s->name[i]);

	return l > 4 && strcmp(s->name[i] + l - 4, ".seg") == 0;
}

static int
last_seg(const struct snap *s)
{
	int i, last = -1;

	for (i = 0; i < s->n; i++)
		if (is_seg(s, i))
			last = i;
	return last;
}

/* The generation in file @i's segment header: version 4 on; 0 before. */
static uint32_t
snap_gen(const struct snap *s, int i)
{
	uint32_t version, gen;

	if (s->size[i] < SL_JSEG_HDR)
		return 0;
	memcpy(&version, s->data[i] + 8, 4);
	memcpy(&gen, s->data[i] + 44, 4);
	return version >= 4 ? gen : 0;
}

/* Walk the records of every segment (layout of journal.h); returns the last seq found. */
static uint64_t
snap_index(const struct snap *s, struct recpos *pos)
{
	uint64_t last = 0;
	int i;

	for (i = 0; i < s->n; i++) {
		size_t off = SL_JSEG_HDR;
		uint32_t gen = snap_gen(s, i);

		if (!is_seg(s, i))
			continue;
		while (off + sizeof(struct sl_jrec) <= s->size[i]) {
			struct sl_jrec r;

			memcpy(&r, s->data[i] + off, sizeof(r));
			if (r.commit != SL_JREC_COMMIT_GEN(gen, r.len) || r.seq == 0 || r.seq > MAX_SEQ)
				break;
			pos[r.seq].file = i;
			pos[r.seq].off = off;
			last = r.seq;
			off += sizeof(r) + align8(r.len);
		}
	}
	return last;
}

static uint8_t *
rec_at(const struct snap *s, const struct recpos *pos, uint64_t seq)
{
	return s->data[pos[seq].file] + pos[seq].off;
}

/* Flip one random bit among the bytes a record's validity depends on (not the padding). */
static void
flip_random_bit(struct snap *s, const struct recpos *pos, uint64_t seq)
{
	size_t n = sizeof(struct sl_jrec) + lens[seq];
	size_t bit = rng() % (n * 8);

	rec_at(s, pos, seq)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static struct sl_journal *
open_dir(const char *dir, const struct sl_journal_conf *c, struct sl_journal_recovery *rec)
{
	struct sl_journal *j = NULL;
	int rc;

	memset(rec, 0xa5, sizeof(*rec));
	rc = sl_journal_open(&j, dir, c, rec);
	CHECK(rc == 0);
	if (rc != 0)
		fprintf(stderr, "open %s: %s\n", dir, strerror(-rc));
	return rc == 0 ? j : NULL;
}

/* ---- tests ---- */

static void
test_round_trip(void)
{
	struct sl_journal_conf c = conf_default();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	char dir[256];
	struct stat st;
	uint64_t s, seq;
	static uint8_t big[SL_JREC_MAX_PAYLOAD + 1];

	path_in(dir, sizeof(dir), "rt");
	c.segment_bytes = SEG - 8;
	CHECK(sl_journal_open(&j, dir, &c, NULL) == -EINVAL);
	c = conf_default();

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(rec.last_seq < rec.first_seq && rec.corrupt == 0);
	CHECK(sl_journal_last_seq(j) == 0 && sl_journal_durable_seq(j) == 0);
	CHECK(sl_journal_read(j, 1, &v) == -ENOENT);
	CHECK(sl_journal_sync(j) == 0);

	for (s = 1; s <= 100; s++) {
		CHECK(append_seq(j, s, (uint32_t)(rng() % 200)) == 0);
		CHECK(sl_journal_last_seq(j) == s);
		if (s % 10 == 0) {
			CHECK(sl_journal_sync(j) == 0);
			CHECK(sl_journal_durable_seq(j) == s);
		}
	}
	CHECK(sl_journal_first_seq(j) == 1);
	for (s = 1; s <= 100; s++)
		CHECK(record_ok(j, s));
	CHECK(sl_journal_read(j, 0, &v) == -ENOENT);
	CHECK(sl_journal_read(j, 101, &v) == -ENOENT);
	CHECK(sl_journal_append(j, big, SL_JREC_MAX_PAYLOAD + 1, ts_of(101), 1, 1, &seq) ==
	      -EMSGSIZE);
	/* Larger than a segment: refused without writing anything. */
	CHECK(sl_journal_append(j, big, SEG, ts_of(101), 1, 1, &seq) < 0);
	CHECK(sl_journal_last_seq(j) == 100);
	CHECK(sl_journal_damaged(j) == 0);
	sl_journal_close(j);

	/* A different segment size on reopen is ignored: the journal keeps its own. */
	c.segment_bytes = 2 * SEG;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 100 && rec.corrupt == 0);
	CHECK(rec.truncated_bytes == 0 && rec.segments == 1);
	CHECK(sl_journal_last_seq(j) == 100 && sl_journal_durable_seq(j) == 100);
	for (s = 1; s <= 100; s++)
		CHECK(record_ok(j, s));
	CHECK(append_seq(j, 101, 5) == 0);
	/* Close persists what is pending. */
	sl_journal_close(j);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.last_seq == 101 && record_ok(j, 101));
	CHECK(sl_journal_bytes(j) == SEG);
	sl_journal_close(j);
	sl_journal_close(NULL);
	rm_rf(dir);
}

/* Many records over several segments, checked through the API and on the media. */
static void
test_segment_roll(void)
{
	struct sl_journal_conf c = conf_default();
	struct sl_journal_recovery rec;
	static struct recpos pos[MAX_SEQ + 1];
	struct sl_journal *j;
	struct snap sn;
	char dir[256], *desc = NULL;
	size_t desclen = 0;
	uint64_t s, batch = 1;
	const uint64_t n = 2000;
	FILE *f;
	int i, nseg;

	path_in(dir, sizeof(dir), "roll");
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	fill_journal(j, 1, n, 13, 300);
	nseg = count_segs(dir);
	CHECK(nseg >= 5);
	CHECK(sl_journal_bytes(j) == (uint64_t)nseg * SEG);
	for (s = 1; s <= n; s++)
		CHECK(record_ok(j, s));
	f = open_memstream(&desc, &desclen);
	sl_journal_describe(j, f);
	fclose(f);
	CHECK(desclen > 0);
	free(desc);
	sl_journal_close(j);

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == n && rec.corrupt == 0);
	CHECK(rec.segments == (uint32_t)nseg);
	for (s = n; s >= 1; s--)
		CHECK(record_ok(j, s));
	CHECK(append_seq(j, n + 1, 10) == 0);
	sl_journal_close(j);

	/* On the media: names, sizes, commit words, CRCs, batch fields, end markers. */
	CHECK(snap_load(&sn, dir) == 0);
	CHECK(snap_index(&sn, pos) == n + 1);
	for (i = 0; i < sn.n; i++) {
		if (!is_seg(&sn, i))
			continue;
		CHECK(sn.size[i] == SEG);
	}
	for (s = 1; s <= n + 1; s++) {
		const uint8_t *r = rec_at(&sn, pos, s);
		struct sl_jrec h;
		uint32_t crc;
		char want[64];

		uint32_t gen = snap_gen(&sn, pos[s].file);

		memcpy(&h, r, sizeof(h));
		/* Version 5: the segment's generation, bytes 8..47 (the leader
		 * epoch at 20 among them), then 56..63, then the payload; its
		 * tag in the commit word. */
		CHECK(gen == 1 && h.commit == SL_JREC_COMMIT_GEN(gen, h.len));
		crc = sl_crc32c(0, &gen, 4);
		crc = sl_crc32c(crc, r + 8, 40);
		crc = sl_crc32c(crc, r + 56, 8);
		crc = sl_crc32c(crc, r + sizeof(h), h.len);
		CHECK(sizeof(h) == 64 && h.producer_epoch == 0 && h.flags == 0 && h.leader_epoch == 0);
		CHECK(h.seq == s && h.len == lens[s] && h.crc == crc);
		CHECK(h.timestamp == ts_of(s) && h.producer_id == PRODUCER);
		/* A roll syncs the old segment: a segment starts a new batch. */
		if (s > 1 && pos[s].file != pos[s - 1].file)
			batch = s;
		if (s <= n)
			CHECK(h.seq - h.batch_back == batch);
		if (s % 13 == 0)
			batch = s + 1;
		if (s == 1 || pos[s].file != pos[s - 1].file) {
			snprintf(want, sizeof(want), "%020llu.seg", (unsigned long long)s);
			CHECK(strcmp(sn.name[pos[s].file], want) == 0);
			CHECK(pos[s].off == SL_JSEG_HDR);
		}
		if (s > 1 && pos[s].file != pos[s - 1].file) {
			size_t end = pos[s - 1].off + sizeof(h) + align8(lens[s - 1]);
			uint64_t w;

			if (end + 8 <= SEG) {
				memcpy(&w, sn.data[pos[s - 1].file] + end, 8);
				CHECK(w == SL_JREC_END_GEN(snap_gen(&sn, pos[s - 1].file)));
			}
		}
	}
	snap_free(&sn);
	rm_rf(dir);
}

static void
test_seek_time(void)
{
	struct sl_journal_conf c = conf_default();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256];
	uint8_t p[300];
	uint64_t s, seq, n = 1500;

	path_in(dir, sizeof(dir), "seek");
	c.index_every = 1024;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	/* Timestamps rise in steps of three records: seek finds the first of equals. */
	for (s = 1; s <= n; s++) {
		fill_payload(s, p, 100);
		CHECK(sl_journal_append(j, p, 100, TS0 + (s / 3) * 100, 1, s, &seq) == 0);
	}
	CHECK(sl_journal_sync(j) == 0);
	CHECK(count_segs(dir) >= 2);
	CHECK(sl_journal_seek_time(j, 0) == 1);
	CHECK(sl_journal_seek_time(j, TS0) == 1);
	CHECK(sl_journal_seek_time(j, UINT64_MAX) == n + 1);
	CHECK(sl_journal_seek_time(j, TS0 + (n / 3) * 100 + 1) == n + 1);
	for (s = 1; s <= n; s++) {
		uint64_t t = TS0 + (s / 3) * 100, want = s / 3 * 3;

		if (want == 0)
			want = 1;
		if (s % 3 == 0 || s == 1)
			CHECK(sl_journal_seek_time(j, t) == want);
		/* Between two timestamps: the first record of the next step. */
		want = (s / 3 + 1) * 3;
		CHECK(sl_journal_seek_time(j, t + 1) == (want > n ? n + 1 : want));
	}
	sl_journal_close(j);
	rm_rf(dir);
}

/* One drain (pmem) or one msync (files) per sync, whatever the burst size. */
static void
test_persist_counts(int pmem)
{
	struct sl_journal_conf c = conf_default();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256];
	static const unsigned bursts[] = {1, 2, 5, 32, 100, 1, 64};
	uint64_t seq = 1;
	unsigned b, i;

	path_in(dir, sizeof(dir), pmem ? "ops-pmem" : "ops-file");
	po_reset(pmem);
	po.real_msync = 1;
	c.ops = &counting_ops;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(append_seq(j, seq++, 16) == 0); /* creates the first segment */
	CHECK(sl_journal_sync(j) == 0);
	for (b = 0; b < sizeof(bursts) / sizeof(bursts[0]); b++) {
		unsigned long d0 = po.drains, m0 = po.msyncs, f0 = po.flushes;

		for (i = 0; i < bursts[b]; i++)
			CHECK(append_seq(j, seq++, 16 + i % 40) == 0);
		/* Appends do not wait for persistence, nor write back. */
		CHECK(po.drains == d0 && po.msyncs == m0 && po.flushes == f0);
		CHECK(sl_journal_durable_seq(j) == seq - 1 - bursts[b]);
		CHECK(sl_journal_sync(j) == 0);
		/* One write-back of the batch's range and one drain on pmem,
		 * then the commit watermark's (one line, one drain); one msync
		 * of the range and one of the watermark on a file. */
		CHECK(po.flushes - f0 == (pmem ? 2u : 0u));
		CHECK(po.drains - d0 == (pmem ? 2u : 0u));
		CHECK(po.msyncs - m0 == (pmem ? 0u : 2u));
		CHECK(sl_journal_durable_seq(j) == seq - 1);
		/* Nothing pending: nothing to persist. */
		d0 = po.drains;
		m0 = po.msyncs;
		CHECK(sl_journal_sync(j) == 0);
		CHECK(sl_journal_sync(j) == 0);
		CHECK(po.drains == d0 && po.msyncs == m0);
	}
	CHECK(count_segs(dir) == 1); /* the bursts stayed in one segment */
	sl_journal_close(j);
	j = open_dir(dir, &c, &rec);
	if (j != NULL) {
		CHECK(rec.last_seq == seq - 1);
		CHECK(record_ok(j, seq - 1));
	}
	sl_journal_close(j);
	rm_rf(dir);
}

static void
test_msync_failure(void)
{
	struct sl_journal_conf c = conf_default();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256];
	uint64_t seq;

	path_in(dir, sizeof(dir), "eio");
	po_reset(0);
	po.real_msync = 1;
	c.ops = &counting_ops;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(append_seq(j, 1, 10) == 0);
	CHECK(sl_journal_sync(j) == 0);
	CHECK(append_seq(j, 2, 10) == 0);
	CHECK(append_seq(j, 3, 10) == 0);
	po.fail_msync = 1;
	CHECK(sl_journal_sync(j) == -EIO);
	CHECK(sl_journal_damaged(j) == 1);
	CHECK(sl_journal_durable_seq(j) == 1);
	CHECK(sl_journal_append(j, "x", 1, ts_of(4), 1, 1, &seq) == -EROFS);
	CHECK(sl_journal_last_seq(j) == 3);
	CHECK(record_ok(j, 1));
	sl_journal_close(j);
	rm_rf(dir);
}

/* A pristine journal of @n records over two or more segments, synced every @batch. */
static int
make_pristine(const char *dir, uint64_t n, unsigned batch, struct snap *sn, struct recpos *pos)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j;

	struct snap meta0;

	rm_rf(dir);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return -1;
	/* journal.meta as a crash would leave it (no last sequence from a
	 * clean close): what recovery finds must come from the segments. */
	CHECK(snap_load(&meta0, dir) == 0);
	fill_journal(j, 1, n, batch, 300);
	sl_journal_close(j);
	for (int i = 0; i < meta0.n; i++)
		if (strcmp(meta0.name[i], "journal.meta") == 0)
			CHECK(write_file(dir, "journal.meta", meta0.data[i], meta0.size[i]) == 0);
	snap_free(&meta0);
	CHECK(snap_load(sn, dir) == 0);
	CHECK(snap_index(sn, pos) == n);
	CHECK(count_segs(dir) >= 2);
	return count_segs(dir) >= 2 && snap_index(sn, pos) == n ? 0 : -1;
}

/*
 * After damage in the last records of a journal whose every record was
 * committed: the valid prefix is served, the damaged records are reported
 * as corrupt (never cut as a torn tail), their sequences stay taken, and
 * appends go on after them.
 */
static void
check_tail_damage(const char *dir, uint64_t first, uint64_t intact, uint64_t n)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	uint64_t s;
	int bad = failures;
	char msg[sizeof(rec.message)];
	uint32_t saved = lens[n + 1];

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	memcpy(msg, rec.message, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	CHECK(sl_journal_damaged(j) == 0 && rec.torn == 0);
	CHECK(rec.corrupt >= 1 && rec.corrupt_seq == intact + 1);
	CHECK(rec.corrupt_records == n - intact);
	CHECK(rec.first_seq == first && rec.last_seq == n && rec.next_seq == n + 1);
	for (s = first; s <= intact; s++)
		CHECK(record_ok(j, s));
	CHECK(sl_journal_read(j, intact + 1, &v) == -EUCLEAN);
	CHECK(sl_journal_gap_end(j, intact + 1, NULL) == n);
	CHECK(append_seq(j, n + 1, 3) == 0);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.corrupt >= 1 && rec.corrupt_seq == intact + 1 && rec.last_seq == n + 1);
	CHECK(record_ok(j, intact) && record_ok(j, n + 1));
	CHECK(sl_journal_read(j, n, &v) == -EUCLEAN);
	sl_journal_close(j);
	lens[n + 1] = saved;
	if (failures != bad)
		fprintf(stderr, "  (journal %s, expected %llu intact records; recovery: %s)\n", dir,
			(unsigned long long)intact, msg);
}

/* The number of leading records whose bytes (header and payload) @d leaves as in @p. */
static uint64_t
intact_prefix(const struct snap *p, const struct snap *d, const struct recpos *pos, uint64_t n)
{
	uint64_t s;

	for (s = 1; s <= n; s++) {
		size_t len = sizeof(struct sl_jrec) + lens[s];

		if (memcmp(rec_at(p, pos, s), rec_at(d, pos, s), len) != 0)
			break;
	}
	return s - 1;
}

/* Zero or garble the last segment from every offset of its last 3 records
 * (all committed): corrupt, never a torn tail. */
static void
test_truncation_sweep(void)
{
	static struct recpos pos[MAX_SEQ + 1];
	struct snap pr, dm;
	char pdir[256], wdir[256];
	const uint64_t n = 400;
	size_t x, from, to;
	int variant, ls, bad = failures;

	path_in(pdir, sizeof(pdir), "sweep-pristine");
	path_in(wdir, sizeof(wdir), "sweep-work");
	if (make_pristine(pdir, n, 7, &pr, pos) != 0)
		return;
	ls = last_seg(&pr);
	CHECK(pos[n - 2].file == ls && pos[n].file == ls);
	from = pos[n - 2].off;
	to = pos[n].off + sizeof(struct sl_jrec) + align8(lens[n]);
	for (variant = 0; variant < 2 && failures == bad; variant++) {
		for (x = from; x <= to && failures == bad; x++) {
			uint64_t intact;

			snap_copy(&dm, &pr);
			if (variant == 0) {
				memset(dm.data[ls] + x, 0, dm.size[ls] - x);
			} else {
				size_t b;

				for (b = x; b < to; b++)
					dm.data[ls][b] ^= (uint8_t)(1 + rng() % 255);
			}
			intact = intact_prefix(&pr, &dm, pos, n);
			CHECK(intact >= n - 3);
			if (intact == n) { /* the bytes changed were padding or after the end */
				snap_free(&dm);
				continue;
			}
			CHECK(snap_restore(&dm, wdir) == 0);
			check_tail_damage(wdir, 1, intact, n);
			if (failures != bad)
				fprintf(stderr, "  (%s from offset %zu of %s)\n",
					variant ? "garbage" : "zeros", x, pr.name[ls]);
			snap_free(&dm);
		}
	}
	snap_free(&pr);
	rm_rf(pdir);
	rm_rf(wdir);
}

/* One flipped bit in the last record, committed (acknowledged) before the
 * damage: corrupt, reported; its sequence is never handed out again. */
static void
test_tail_bitflip(void)
{
	static struct recpos pos[MAX_SEQ + 1];
	struct snap pr, dm;
	char pdir[256], wdir[256];
	const uint64_t n = 400;
	int i, bad = failures;

	path_in(pdir, sizeof(pdir), "flip-pristine");
	path_in(wdir, sizeof(wdir), "flip-work");
	if (make_pristine(pdir, n, 7, &pr, pos) != 0)
		return;
	for (i = 0; i < 300 && failures == bad; i++) {
		snap_copy(&dm, &pr);
		flip_random_bit(&dm, pos, n);
		CHECK(snap_restore(&dm, wdir) == 0);
		check_tail_damage(wdir, 1, n - 1, n);
		snap_free(&dm);
	}
	snap_free(&pr);
	rm_rf(pdir);
	rm_rf(wdir);
}

/* Damage in committed data is reported, never truncated; reads go around it,
 * appends go on, and the damaged bytes stay as they were. */
static void
check_corrupt(const char *dir, const struct snap *dm, const struct recpos *pos, uint64_t first,
	      uint64_t bad_seq, uint64_t n)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	struct snap after;
	uint32_t kind = 0;
	uint64_t s;
	int i;

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.corrupt == 1 && rec.corrupt_seq == bad_seq && rec.corrupt_records == 1);
	CHECK(rec.last_seq == n && rec.torn == 0);
	CHECK(sl_journal_damaged(j) == 0);
	CHECK(rec.first_seq == first);
	for (s = first; s <= n; s++)
		if (s != bad_seq)
			CHECK(record_ok(j, s));
	CHECK(sl_journal_read(j, bad_seq, &v) == -EUCLEAN);
	CHECK(sl_journal_gap_end(j, bad_seq, &kind) == bad_seq && kind == SL_JDMG_CORRUPT);
	CHECK(sl_journal_damage_count(j) == 1);
	CHECK(append_seq(j, n + 1, 5) == 0);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	/* The damaged record is left exactly as it was, for the operator. */
	CHECK(snap_load(&after, dir) == 0);
	for (i = 0; i < after.n && strcmp(after.name[i], dm->name[pos[bad_seq].file]) != 0; i++)
		;
	CHECK(i < after.n && memcmp(after.data[i] + pos[bad_seq].off, rec_at(dm, pos, bad_seq),
				    sizeof(struct sl_jrec) + lens[bad_seq]) == 0);
	snap_free(&after);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.corrupt == 1 && rec.corrupt_seq == bad_seq && rec.last_seq == n + 1);
	CHECK(record_ok(j, n + 1));
	sl_journal_close(j);
}

static void
test_mid_corruption(void)
{
	static struct recpos pos[MAX_SEQ + 1];
	struct snap pr, dm;
	char pdir[256], wdir[256];
	const uint64_t n = 700;
	const unsigned batch = 10;
	uint64_t s;
	int bad = failures, ls;

	path_in(pdir, sizeof(pdir), "mid-pristine");
	path_in(wdir, sizeof(wdir), "mid-work");
	if (make_pristine(pdir, n, batch, &pr, pos) != 0)
		return;
	ls = last_seg(&pr);
	CHECK(count_segs(pdir) >= 3);
	/* Every committed record but the last, in any segment, one random bit each. */
	for (s = 1; s < n && failures == bad; s++) {
		snap_copy(&dm, &pr);
		flip_random_bit(&dm, pos, s);
		CHECK(snap_restore(&dm, wdir) == 0);
		check_corrupt(wdir, &dm, pos, 1, s, n);
		if (failures != bad)
			fprintf(stderr, "  (bit flipped in seq %llu, segment %s%s)\n",
				(unsigned long long)s, dm.name[pos[s].file],
				pos[s].file == ls ? " (last)" : "");
		snap_free(&dm);
	}
	/* The last record of a non-last segment: every byte of its header. */
	for (s = 2; s < n && pos[s].file == pos[1].file; s++)
		;
	s--;
	CHECK(pos[s].file != ls);
	for (size_t b = 0; b < sizeof(struct sl_jrec) && failures == bad; b++) {
		snap_copy(&dm, &pr);
		rec_at(&dm, pos, s)[b] ^= 0x10;
		CHECK(snap_restore(&dm, wdir) == 0);
		check_corrupt(wdir, &dm, pos, 1, s, n);
		if (failures != bad)
			fprintf(stderr, "  (byte %zu of seq %llu)\n", b, (unsigned long long)s);
		snap_free(&dm);
	}
	snap_free(&pr);
	rm_rf(pdir);
	rm_rf(wdir);
}

/* Crash (no close) after a synced batch of 10 and an unsynced one of 5 (or 4 + 1 synced). */
static int
crash_after_batches(const char *dir, int sync_second)
{
	pid_t pid;
	int st;

	rm_rf(dir);
	pid = fork();
	if (pid == 0) {
		struct sl_journal_conf c = conf_default();
		struct sl_journal *j;
		uint64_t s;
		int ok = sl_journal_open(&j, dir, &c, NULL) == 0;

		for (s = 1; ok && s <= 15; s++) {
			ok = append_seq(j, s, 40) == 0;
			if (s == 10 || (sync_second && s == 14))
				ok = ok && sl_journal_sync(j) == 0;
		}
		_exit(ok ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	for (uint64_t s = 1; s <= 15; s++)
		lens[s] = 40;
	return 0;
}

static void
test_unsynced_reorder(void)
{
	static struct recpos pos[MAX_SEQ + 1];
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	struct snap sn;
	char dir[256];
	uint32_t kind = 0;
	int variant, sync_second, whole;

	path_in(dir, sizeof(dir), "reorder");
	for (variant = 0; variant < 3; variant++) {
		sync_second = variant == 1;
		whole = variant == 2; /* record 12 entirely missing, its commit word too */
		CHECK(crash_after_batches(dir, sync_second) == 0);
		CHECK(snap_load(&sn, dir) == 0);
		CHECK(snap_index(&sn, pos) == 15);
		/* Record 12 never (or only partly) reached the media; 13..15 did. */
		memset(rec_at(&sn, pos, 12) + (whole ? 0 : 20), 0,
		       sizeof(struct sl_jrec) + 40 - (whole ? 0 : 20));
		CHECK(snap_restore(&sn, dir) == 0);
		j = open_dir(dir, &c, &rec);
		if (j == NULL)
			break;
		if (!sync_second) {
			/* 11..15 are above the watermark (10): a torn tail, cut;
			 * 11 is whole and kept, 12..15 keep their sequences. */
			CHECK(rec.corrupt == 0 && sl_journal_damaged(j) == 0);
			CHECK(rec.torn == 1 && rec.truncated_at_seq == 12 && rec.truncated_bytes > 0);
			CHECK(rec.last_seq == 15 && rec.next_seq == 16);
			CHECK(record_ok(j, 11));
			CHECK(sl_journal_read(j, 12, &v) == -EUCLEAN);
			CHECK(sl_journal_gap_end(j, 12, &kind) == 15 && kind == SL_JDMG_TORN);
			CHECK(append_seq(j, 16, 7) == 0);
			CHECK(sl_journal_sync(j) == 0);
			CHECK(record_ok(j, 16));
			sl_journal_close(j);
			/* Cut for good: the next open finds no tail, and still
			 * never hands 12..15 out again. */
			j = open_dir(dir, &c, &rec);
			if (j == NULL)
				break;
			CHECK(rec.corrupt == 0 && rec.torn == 0 && rec.next_seq == 17);
			CHECK(record_ok(j, 11) && record_ok(j, 16));
			CHECK(sl_journal_gap_end(j, 13, &kind) == 15 && kind == SL_JDMG_TORN);
		} else {
			/* The watermark is 14: 12 was committed, so it is damage. */
			CHECK(rec.corrupt == 1 && rec.corrupt_seq == 12 && rec.torn == 0);
			CHECK(sl_journal_read(j, 12, &v) == -EUCLEAN);
			CHECK(record_ok(j, 11) && record_ok(j, 13) && record_ok(j, 15));
			CHECK(rec.next_seq == 16);
		}
		sl_journal_close(j);
		snap_free(&sn);
	}
	rm_rf(dir);
}

/*
 * The commit watermark decides, not the position: a crash (no clean close)
 * after 30 records synced in batches of 10, then damage at rest. Damage at
 * or below the watermark, the last record included, is corrupt and keeps
 * its sequence; a bad record above it is a torn tail. A read-only open
 * reports the same and changes no byte.
 */
static int
crash_after(const char *dir, uint64_t synced, uint64_t unsynced)
{
	pid_t pid;
	int st;

	rm_rf(dir);
	pid = fork();
	if (pid == 0) {
		struct sl_journal_conf c = conf_default();
		struct sl_journal *j;
		uint64_t s;
		int ok = sl_journal_open(&j, dir, &c, NULL) == 0;

		for (s = 1; ok && s <= synced + unsynced; s++) {
			ok = append_seq(j, s, 64) == 0;
			if (s <= synced && s % 10 == 0)
				ok = ok && sl_journal_sync(j) == 0;
		}
		_exit(ok ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	for (uint64_t s = 1; s <= synced + unsynced; s++)
		lens[s] = 64;
	return 0;
}

static int
same_tree(const struct snap *a, const char *dir)
{
	struct snap b;
	int i, same;

	if (snap_load(&b, dir) != 0)
		return 0;
	same = a->n == b.n;
	for (i = 0; same && i < a->n; i++)
		same = strcmp(a->name[i], b.name[i]) == 0 && a->size[i] == b.size[i] &&
		       memcmp(a->data[i], b.data[i], a->size[i]) == 0;
	snap_free(&b);
	return same;
}

static void
test_commit_watermark(void)
{
	static struct recpos pos[MAX_SEQ + 1];
	struct sl_journal_conf c = conf_fast(), ro = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	struct snap sn;
	char dir[256];
	uint32_t kind = 0;
	uint64_t s;
	int variant;

	ro.read_only = 1;
	path_in(dir, sizeof(dir), "watermark");
	for (variant = 0; variant < 4; variant++) {
		CHECK(crash_after(dir, 30, variant == 3 ? 5 : 0) == 0);
		CHECK(snap_load(&sn, dir) == 0);
		CHECK(snap_index(&sn, pos) == (variant == 3 ? 35u : 30u));
		if (variant == 0)
			rec_at(&sn, pos, 30)[sizeof(struct sl_jrec) + 9] ^= 0x20; /* last record */
		else if (variant == 1)
			memset(rec_at(&sn, pos, 28), 0, 3 * (sizeof(struct sl_jrec) + 64));
		else if (variant == 2)
			rec_at(&sn, pos, 15)[sizeof(struct sl_jrec) + 1] ^= 1;
		else
			rec_at(&sn, pos, 33)[sizeof(struct sl_jrec) + 3] ^= 1; /* above the watermark */
		CHECK(snap_restore(&sn, dir) == 0);
		snap_free(&sn);
		CHECK(snap_load(&sn, dir) == 0);

		/* Read-only first: the same verdict, nothing changed. */
		j = open_dir(dir, &ro, &rec);
		if (j == NULL)
			break;
		CHECK(rec.torn == (variant == 3) && (rec.corrupt != 0) == (variant != 3));
		CHECK(sl_journal_append(j, "x", 1, 1, 1, 1, &s) == -EROFS);
		sl_journal_close(j);
		CHECK(same_tree(&sn, dir));

		j = open_dir(dir, &c, &rec);
		if (j == NULL)
			break;
		CHECK(sl_journal_damaged(j) == 0);
		switch (variant) {
		case 0:
			CHECK(rec.corrupt == 1 && rec.corrupt_seq == 30 && rec.torn == 0);
			CHECK(sl_journal_gap_end(j, 30, &kind) == 30 && kind == SL_JDMG_CORRUPT);
			break;
		case 1:
			CHECK(rec.corrupt == 1 && rec.corrupt_seq == 28 && rec.corrupt_records == 3);
			CHECK(sl_journal_gap_end(j, 28, &kind) == 30 && kind == SL_JDMG_MISSING);
			break;
		case 2:
			CHECK(rec.corrupt == 1 && rec.corrupt_seq == 15 && rec.corrupt_records == 1);
			CHECK(record_ok(j, 16) && record_ok(j, 30));
			break;
		case 3:
			CHECK(rec.corrupt == 0 && rec.torn == 1 && rec.truncated_at_seq == 33);
			CHECK(record_ok(j, 31) && record_ok(j, 32));
			CHECK(sl_journal_gap_end(j, 33, &kind) == 35 && kind == SL_JDMG_TORN);
			break;
		}
		CHECK(record_ok(j, 1) && record_ok(j, 14));
		s = variant == 3 ? 36 : 31;
		CHECK(rec.next_seq == s && sl_journal_read(j, s, &v) == -ENOENT);
		/* The next append never reuses a sequence a record on disk had. */
		CHECK(append_seq(j, s, 10) == 0);
		CHECK(sl_journal_sync(j) == 0);
		sl_journal_close(j);
		j = open_dir(dir, &c, &rec);
		if (j == NULL)
			break;
		CHECK(record_ok(j, s) && rec.next_seq == s + 1);
		CHECK((rec.corrupt != 0) == (variant != 3) && rec.torn == 0);
		sl_journal_close(j);
		snap_free(&sn);
	}
	rm_rf(dir);
}

/*
 * Lost files: the last segment cut to nothing or to half, journal.meta with
 * flipped bytes or missing. The journal opens, keeps every valid record and
 * its sequence, and says what was wrong with which file.
 */
static void
test_lost_files(void)
{
	static struct recpos pos[MAX_SEQ + 1];
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	struct snap pr, dm;
	char pdir[256], wdir[256];
	const uint64_t n = 400;
	uint64_t f, half_last, s;
	size_t cut;
	int ls, mi, variant;

	path_in(pdir, sizeof(pdir), "lost-pristine");
	path_in(wdir, sizeof(wdir), "lost-work");
	if (make_pristine(pdir, n, 7, &pr, pos) != 0)
		return;
	/* A clean close records the last sequence in journal.meta. */
	j = open_dir(pdir, &c, &rec);
	if (j == NULL)
		return;
	sl_journal_close(j);
	snap_free(&pr);
	CHECK(snap_load(&pr, pdir) == 0);
	ls = last_seg(&pr);
	f = strtoull(pr.name[ls], NULL, 10);
	for (mi = 0; mi < pr.n && strcmp(pr.name[mi], "journal.meta") != 0; mi++)
		;
	CHECK(mi < pr.n && pr.size[mi] == 128);
	cut = (pos[f].off + pos[n].off) / 2;
	for (half_last = f; half_last <= n && pos[half_last].off + sizeof(struct sl_jrec) +
		     align8(lens[half_last]) <= cut; half_last++)
		;
	half_last--;
	CHECK(half_last > f && half_last < n);
	for (variant = 0; variant < 6; variant++) {
		snap_copy(&dm, &pr);
		if (variant == 0)
			dm.size[ls] = 0;
		else if (variant == 1)
			dm.size[ls] = cut;
		else if (variant == 2) { /* one byte in each copy: both bad */
			dm.data[mi][17] ^= 0x40;
			dm.data[mi][64 + 33] ^= 0x02;
		} else if (variant == 3) { /* two bytes in one copy */
			dm.data[mi][9] ^= 0x01;
			dm.data[mi][40] ^= 0x80;
		} else if (variant == 4) {
			dm.size[mi] = 0;
		} else {
			dm.size[ls] = 0; /* and journal.meta gone too: only the names are left */
			dm.size[mi] = 3;
		}
		CHECK(snap_restore(&dm, wdir) == 0);
		c.segment_bytes = 2 * SEG; /* must not matter: the journal has its own */
		j = open_dir(wdir, &c, &rec);
		c.segment_bytes = SEG;
		if (j == NULL) {
			snap_free(&dm);
			break;
		}
		CHECK(sl_journal_damaged(j) == 0);
		CHECK(rec.first_seq == 1);
		for (s = 1; s < f; s++)
			CHECK(record_ok(j, s));
		switch (variant) {
		case 0:
			CHECK(rec.corrupt == 1 && rec.corrupt_seq == f && rec.next_seq == n + 1);
			CHECK(sl_journal_gap_end(j, f, NULL) == n);
			break;
		case 1:
			for (s = f; s <= half_last; s++)
				CHECK(record_ok(j, s));
			CHECK(rec.corrupt == 2 && rec.corrupt_seq == half_last + 1); /* + SHORT */
			CHECK(rec.next_seq == n + 1 && sl_journal_read(j, n, &v) == -EUCLEAN);
			break;
		case 5:
			/* Nothing says how many records the lost segment held:
			 * its first sequence at least stays taken. */
			CHECK(rec.corrupt == 1 && rec.corrupt_seq == f && rec.next_seq == f + 1);
			CHECK(rec.meta_damaged == 2 && strstr(rec.meta_note, "journal.meta") != NULL);
			break;
		default:
			CHECK(rec.corrupt == 0 && rec.next_seq == n + 1 && record_ok(j, n));
			CHECK(rec.meta_damaged == (variant == 3 ? 1 : 2));
			CHECK(strstr(rec.meta_note, "journal.meta") != NULL);
			break;
		}
		s = rec.next_seq;
		CHECK(append_seq(j, s, 20) == 0);
		CHECK(sl_journal_sync(j) == 0);
		sl_journal_close(j);
		/* journal.meta is whole again, and the segment size the journal's own. */
		j = open_dir(wdir, &c, &rec);
		if (j != NULL) {
			CHECK(rec.meta_damaged == 0 && record_ok(j, s) && rec.next_seq == s + 1);
			CHECK(sl_journal_bytes(j) % SEG == 0 && record_ok(j, f - 1));
			sl_journal_close(j);
		}
		snap_free(&dm);
	}
	snap_free(&pr);
	rm_rf(pdir);
	rm_rf(wdir);
}

/*
 * Damage next to a segment roll. A roll syncs the old segment before the new
 * one gets a record, so damage in a non-last segment is always in committed
 * data, even when the new segment holds no valid record yet (crash during its
 * first append). A damaged segment header hides committed records too.
 */
static void
test_damage_near_roll(void)
{
	static struct recpos pos[MAX_SEQ + 1];
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j = NULL;
	struct snap pr, dm;
	char pdir[256], wdir[256], seg[600];
	const uint64_t n = 400;
	uint64_t f;
	int ls, i, rc;

	path_in(pdir, sizeof(pdir), "roll-pristine");
	path_in(wdir, sizeof(wdir), "roll-work");
	if (make_pristine(pdir, n, 7, &pr, pos) != 0)
		return;
	ls = last_seg(&pr);
	f = strtoull(pr.name[ls], NULL, 10);
	CHECK(f > 1 && pos[f].file == ls && pos[f - 1].file != ls);

	/* Crash during the first append to the new segment: a clean tail (its
	 * watermark slots as a segment without watermark has them). */
	snap_copy(&dm, &pr);
	memset(dm.data[ls] + 48, 0, dm.size[ls] - 48);
	CHECK(snap_restore(&dm, wdir) == 0);
	j = open_dir(wdir, &c, &rec);
	if (j != NULL) {
		CHECK(rec.corrupt == 0 && rec.last_seq == f - 1 && record_ok(j, f - 1));
		sl_journal_close(j);
	}
	/* ... and a flipped bit in the last record of the old segment: damage. */
	CHECK(snap_restore(&dm, wdir) == 0);
	rec_at(&dm, pos, f - 1)[sizeof(struct sl_jrec) / 2] ^= 4;
	CHECK(snap_restore(&dm, wdir) == 0);
	check_corrupt(wdir, &dm, pos, 1, f - 1, f - 1);
	snap_free(&dm);

	/* A damaged header of a segment that holds records: never dropped quietly. */
	for (i = 0; i < pr.n; i++) {
		if (!is_seg(&pr, i))
			continue;
		snap_copy(&dm, &pr);
		dm.data[i][rng() % 40] ^= (uint8_t)(1u << (rng() % 8));
		CHECK(snap_restore(&dm, wdir) == 0);
		j = NULL;
		memset(&rec, 0, sizeof(rec));
		rc = sl_journal_open(&j, wdir, &c, &rec);
		CHECK(rc < 0 || rec.corrupt == 1);
		if (rc == 0)
			CHECK(rec.corrupt_seq <= strtoull(pr.name[i], NULL, 10));
		sl_journal_close(j);
		snprintf(seg, sizeof(seg), "%s/%s", wdir, pr.name[i]);
		CHECK(access(seg, F_OK) == 0);
		if (rc == 0 && rec.corrupt == 0)
			fprintf(stderr, "  (header of %s damaged: \"%s\")\n", pr.name[i],
				rec.message);
		snap_free(&dm);
	}
	snap_free(&pr);
	rm_rf(pdir);
	rm_rf(wdir);
}

static void
copy_tree(const char *from, const char *to)
{
	struct snap sn;

	CHECK(snap_load(&sn, from) == 0);
	CHECK(snap_restore(&sn, to) == 0);
	snap_free(&sn);
}

static void
test_full_and_retention(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	char dir[256], d2[256], d3[256];
	uint64_t s, last, first;
	int rc = 0, i;

	path_in(dir, sizeof(dir), "full");
	path_in(d2, sizeof(d2), "full-bytes");
	path_in(d3, sizeof(d3), "full-age");
	c.capacity_bytes = 4 * SEG;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	for (s = 1; s < MAX_SEQ; s++) {
		rc = append_seq(j, s, 200);
		if (rc != 0)
			break;
		if (s % 16 == 0)
			CHECK(sl_journal_sync(j) == 0);
	}
	CHECK(rc == -ENOSPC);
	last = s - 1;
	CHECK(last > 3 * SEG / 256);
	CHECK(sl_journal_last_seq(j) == last);
	CHECK(append_seq(j, last + 1, 200) == -ENOSPC);
	CHECK(sl_journal_last_seq(j) == last && sl_journal_damaged(j) == 0);
	CHECK(sl_journal_sync(j) == 0 && sl_journal_durable_seq(j) == last);
	CHECK(count_segs(dir) == 4 && sl_journal_bytes(j) <= c.capacity_bytes);
	CHECK(record_ok(j, 1) && record_ok(j, last));
	CHECK(sl_journal_read(j, last + 1, &v) == -ENOENT);
	/* Retention configured only by age; a retain call that is too early frees nothing. */
	CHECK(sl_journal_retain(j, ts_of(last)) == 0);
	sl_journal_close(j);
	copy_tree(dir, d2);
	copy_tree(dir, d3);

	/* Reopen with retain_bytes: the oldest segments go, appends succeed again. */
	c = conf_fast();
	c.capacity_bytes = 4 * SEG;
	c.retain_bytes = 2 * SEG;
	j = open_dir(d2, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.last_seq == last && rec.corrupt == 0);
	CHECK(append_seq(j, last + 1, 200) == 0);
	first = sl_journal_first_seq(j);
	CHECK(first > 1);
	CHECK(sl_journal_read(j, 1, &v) == -ENOENT);
	CHECK(sl_journal_read(j, first - 1, &v) == -ENOENT);
	CHECK(record_ok(j, first) && record_ok(j, last + 1));
	for (s = last + 2, i = 0; i < 2000; i++, s++)
		if (append_seq(j, s, 200) != 0)
			break;
	CHECK(i == 2000);
	CHECK(count_segs(d2) <= 4);
	CHECK(sl_journal_retain(j, ts_of(s)) >= 0);
	CHECK(count_segs(d2) <= 2 && count_segs(d2) >= 1);
	CHECK(sl_journal_bytes(j) <= 2 * SEG);
	CHECK(record_ok(j, s - 1) && record_ok(j, sl_journal_first_seq(j)));
	sl_journal_close(j);

	/* Age retention with a late clock: every segment but the active one goes. */
	c = conf_fast();
	c.capacity_bytes = 4 * SEG;
	c.retain_age_ns = 1000000000;
	j = open_dir(d3, &c, &rec);
	if (j == NULL)
		return;
	/* Nothing is a second old yet. */
	CHECK(sl_journal_retain(j, ts_of(last + 1)) == 0);
	CHECK(append_seq(j, last + 1, 200) == -ENOSPC);
	CHECK(sl_journal_first_seq(j) == 1 && count_segs(d3) == 4);
	rc = sl_journal_retain(j, ts_of(last) + 3600ull * 1000000000);
	CHECK(rc == 3 && count_segs(d3) == 1);
	first = sl_journal_first_seq(j);
	CHECK(first > 1 && first <= last);
	CHECK(sl_journal_read(j, first - 1, &v) == -ENOENT);
	CHECK(record_ok(j, first) && record_ok(j, last));
	for (s = sl_journal_last_seq(j) + 1, i = 0; i < 500; i++, s++)
		if (append_seq(j, s, 200) != 0)
			break;
	CHECK(i == 500);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	j = open_dir(d3, &c, &rec);
	if (j != NULL) {
		CHECK(rec.first_seq == first && rec.last_seq == s - 1 && rec.corrupt == 0);
		CHECK(record_ok(j, s - 1) && record_ok(j, first));
	}
	sl_journal_close(j);
	rm_rf(dir);
	rm_rf(d2);
	rm_rf(d3);
}

/* The segment holding @seq: its first sequence (the first retained when
 * retention went up to it), found by reading back. */
static uint64_t
seg_first_of(struct sl_journal *j, uint64_t seq)
{
	struct sl_jrec_view v;

	while (seq > 1 && sl_journal_read(j, seq - 1, &v) == 0)
		seq--;
	return seq;
}

/*
 * A retention floor (a durable group's position) holds back retention by
 * size and by age: no segment holding a sequence at or above it goes. Only
 * when the journal is at its capacity does retention win, and that is
 * counted.
 */
static void
test_retention_floor(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	uint64_t s, floor, first;
	char dir[256], d2[256];
	int rc = 0;

	path_in(dir, sizeof(dir), "floor");
	path_in(d2, sizeof(d2), "floor-cap");
	c.retain_bytes = 2 * SEG;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(sl_journal_floor(j) == 0);
	sl_journal_set_floor(j, 1);
	CHECK(sl_journal_floor(j) == 1);
	for (s = 1; s <= 1500; s++)
		CHECK(append_seq(j, s, 200) == 0);
	CHECK(sl_journal_sync(j) == 0);
	CHECK(count_segs(dir) >= 5);
	/* Floor 1: retention by size would delete, the floor keeps everything. */
	CHECK(sl_journal_retain(j, ts_of(s)) == 0);
	CHECK(sl_journal_first_seq(j) == 1 && record_ok(j, 1));
	/* The floor moves to the middle: segments wholly below it go, the
	 * one holding it stays whole. */
	floor = 700;
	sl_journal_set_floor(j, floor);
	rc = sl_journal_retain(j, ts_of(s));
	CHECK(rc > 0);
	first = sl_journal_first_seq(j);
	CHECK(first > 1 && first <= floor);
	CHECK(record_ok(j, floor) && record_ok(j, first));
	CHECK(first == seg_first_of(j, floor));
	/* Retention by size alone would have gone further. */
	CHECK(sl_journal_bytes(j) > 2 * SEG);
	CHECK(sl_journal_floor_overrides(j) == 0);
	/* No floor: retention by size as before. */
	sl_journal_set_floor(j, 0);
	CHECK(sl_journal_retain(j, ts_of(s)) > 0);
	CHECK(sl_journal_bytes(j) <= 2 * SEG && sl_journal_first_seq(j) > floor);
	CHECK(sl_journal_floor_overrides(j) == 0);
	sl_journal_close(j);

	/* At capacity the floor gives way: appends go on, the override is counted. */
	c = conf_fast();
	c.retain_bytes = 2 * SEG;
	c.capacity_bytes = 4 * SEG;
	j = open_dir(d2, &c, &rec);
	if (j == NULL)
		return;
	sl_journal_set_floor(j, 1);
	for (s = 1; s <= 3000; s++) {
		rc = append_seq(j, s, 200);
		if (rc != 0)
			break;
		if (s % 16 == 0)
			CHECK(sl_journal_sync(j) == 0);
		if (s % 64 == 0)
			CHECK(sl_journal_retain(j, ts_of(s)) >= 0);
	}
	CHECK(rc == 0 && s == 3001);
	CHECK(sl_journal_bytes(j) <= 4 * SEG);
	CHECK(sl_journal_floor_overrides(j) > 0);
	CHECK(sl_journal_first_seq(j) > 1 && record_ok(j, 3000));
	sl_journal_close(j);
	rm_rf(dir);
	rm_rf(d2);
}

/* ---- segments prepared ahead, on another thread ---- */

struct preparer {
	struct sl_journal *j;
	int stop;
	unsigned prepared;
};

static void *
prepare_loop(void *arg)
{
	struct preparer *p = arg;
	struct timespec ts = { 0, 200000 };

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		int rc = sl_journal_prepare(p->j);

		CHECK(rc >= 0);
		p->prepared += rc > 0;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Files in @dir whose name starts with @pfx. */
static int
count_prefix(const char *dir, const char *pfx)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, pfx, strlen(pfx)) == 0;
	closedir(d);
	return n;
}

/* Is a prepared spare segment file (spare-N.tmp) in @dir? */
static int
spare_exists(const char *dir)
{
	return count_prefix(dir, "spare-") > 0;
}

static void
test_prepare_ahead(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct preparer p = { 0 };
	struct sl_journal *j;
	pthread_t t;
	char dir[256];
	uint64_t seq;
	int segs;

	path_in(dir, sizeof(dir), "prepare");
	c.spares = 1; /* one kept ready: the counts below */
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	/* A new journal has no segment: the first can be prepared. */
	CHECK(sl_journal_prepare(j) == 1);
	CHECK(spare_exists(dir) && count_segs(dir) == 0);
	CHECK(sl_journal_prepare(j) == 0); /* one at a time */
	CHECK(append_seq(j, 1, 100) == 0);
	CHECK(!spare_exists(dir) && count_segs(dir) == 1); /* taken, renamed */
	/* The next one as soon as this one is in use. */
	CHECK(sl_journal_prepare(j) == 1);
	CHECK(sl_journal_prepare(j) == 0);
	for (seq = 2; seq <= 200; seq++)
		CHECK(append_seq(j, seq, 200) == 0);
	CHECK(count_segs(dir) == 1);
	for (; seq <= 400; seq++)
		CHECK(append_seq(j, seq, 200) == 0);
	CHECK(count_segs(dir) >= 2 && !spare_exists(dir));
	CHECK(sl_journal_sync(j) == 0);
	/* Another thread prepares while this one appends across many rolls. */
	p.j = j;
	CHECK(pthread_create(&t, NULL, prepare_loop, &p) == 0);
	for (; seq <= MAX_SEQ; seq++) {
		CHECK(append_seq(j, seq, (uint32_t)(seq * 37 % 900)) == 0);
		if (seq % 16 == 0)
			CHECK(sl_journal_sync(j) == 0);
	}
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	CHECK(sl_journal_sync(j) == 0);
	segs = count_segs(dir);
	CHECK(segs > 20);
	CHECK(p.prepared > 0);
	sl_journal_close(j);
	CHECK(!spare_exists(dir)); /* an unused spare goes with the journal */
	{
		/* One left by a process that died: removed at the next open. */
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/spare-99.tmp", dir);
		f = fopen(path, "w");
		if (f)
			fclose(f);
		CHECK(spare_exists(dir));
	}
	j = open_dir(dir, &c, &rec);
	CHECK(!spare_exists(dir));
	if (j == NULL)
		return;
	CHECK(rec.last_seq == MAX_SEQ && !rec.corrupt && rec.truncated_bytes == 0);
	for (seq = 1; seq <= MAX_SEQ; seq++)
		if (!record_ok(j, seq)) {
			CHECK(record_ok(j, seq));
			break;
		}
	sl_journal_close(j);
	rm_rf(dir);
}

/* ---- a full file system ---- */

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Prepare until a spare is ready, waiting out the back-off (bounded). */
static int
prepare_until_ready(struct sl_journal *j)
{
	int i, rc = 0;

	for (i = 0; i < 100 && rc != 1; i++) {
		rc = sl_journal_prepare(j);
		if (rc != 1)
			sleep_ms(SL_JOURNAL_PREPARE_BACKOFF_MAX_MS / 20);
	}
	return rc;
}

/*
 * When no segment can be allocated, appends that need one are refused at
 * once with -ENOSPC and never try to allocate themselves (that is the
 * preparing thread's job, backed off); records appended before stay; once
 * the file system has room, preparing succeeds and appends go on with the
 * next sequence.
 */
static void
test_full_filesystem(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	unsigned long allocs;
	uint64_t seq, last;
	char dir[256];
	int i, rc;

	path_in(dir, sizeof(dir), "fullfs");
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	/* Full from the start: the preparer fails, then backs off. */
	po.fail_alloc = 1;
	CHECK(sl_journal_prepare(j) == -ENOSPC);
	CHECK(po.allocs == 1);
	CHECK(sl_journal_prepare(j) == 0 && po.allocs == 1);
	for (i = 0; i < 1000; i++)
		CHECK(append_seq(j, 1, 100) == -ENOSPC);
	CHECK(po.allocs == 1); /* the appender never tried */
	CHECK(count_segs(dir) == 0 && !spare_exists(dir));
	CHECK(sl_journal_last_seq(j) == 0);

	/* Space returns: the preparer tries again after its back-off. */
	po.fail_alloc = 0;
	CHECK(prepare_until_ready(j) == 1);
	CHECK(append_seq(j, 1, 100) == 0);
	CHECK(sl_journal_sync(j) == 0);

	/* Full again while a segment is in use: it fills, then refuses. */
	po.fail_alloc = 1;
	CHECK(sl_journal_prepare(j) == -ENOSPC);
	allocs = po.allocs;
	for (seq = 2; (rc = append_seq(j, seq, 200)) == 0; seq++)
		;
	CHECK(rc == -ENOSPC);
	last = seq - 1;
	CHECK(last > 100 && count_segs(dir) == 1);
	for (i = 0; i < 1000; i++)
		CHECK(append_seq(j, last + 1, 200) == -ENOSPC);
	CHECK(po.allocs == allocs);
	CHECK(sl_journal_last_seq(j) == last);
	CHECK(sl_journal_sync(j) == 0 && sl_journal_durable_seq(j) == last);
	CHECK(!sl_journal_damaged(j));
	for (seq = 1; seq <= last; seq++)
		if (!record_ok(j, seq)) {
			CHECK(record_ok(j, seq));
			break;
		}

	/* Room again: preparing succeeds and the roll takes the spare. */
	po.fail_alloc = 0;
	CHECK(prepare_until_ready(j) == 1);
	CHECK(append_seq(j, last + 1, 200) == 0);
	CHECK(count_segs(dir) == 2);
	CHECK(sl_journal_sync(j) == 0 && sl_journal_durable_seq(j) == last + 1);
	sl_journal_close(j);

	/* Without a preparer: the first roll that cannot allocate tries once,
	 * and then refuses without trying until a spare is prepared. */
	rm_rf(dir);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	po.fail_alloc = 1;
	allocs = po.allocs;
	CHECK(append_seq(j, 1, 100) == -ENOSPC);
	CHECK(po.allocs == allocs + 1);
	for (i = 0; i < 1000; i++)
		CHECK(append_seq(j, 1, 100) == -ENOSPC);
	CHECK(po.allocs == allocs + 1);
	po.fail_alloc = 0;
	CHECK(prepare_until_ready(j) == 1);
	CHECK(append_seq(j, 1, 100) == 0);
	sl_journal_close(j);

	/* The journal reopens with everything that was acknowledged. */
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.last_seq == 1 && !rec.corrupt && record_ok(j, 1));
	sl_journal_close(j);
	rm_rf(dir);
}

/*
 * Rewrite segment @path, written by this version, in the layout of segment
 * version @version (1..4): the header's version, no generation before 4; records
 * with the plain "RJLS" commit word and a CRC without the generation; in
 * version 1 records of 56 bytes (no producer_epoch, no flags, CRC of bytes
 * 8..47 and the payload). The commit watermark counts records, so it
 * stays. Returns the records converted.
 */
static int
to_version(const char *path, uint32_t version)
{
	static uint8_t in[SEG], out[SEG];
	uint64_t off = 64, o = 64, w;
	int fd = open(path, O_RDWR), n = 0;
	uint32_t crc, len, gen, back, hdr = version == 1 ? 56 : 64;

	CHECK(fd >= 0);
	if (fd < 0)
		return 0;
	CHECK(pread(fd, in, SEG, 0) == SEG);
	memcpy(&gen, in + 44, 4);
	memset(out, 0, sizeof(out));
	memcpy(out, in, 64);
	memcpy(out + 8, &version, 4);
	if (version < 4)
		memset(out + 44, 0, 4); /* no generation before version 4 */
	crc = sl_crc32c(0, out, 40);
	if (version >= 4)
		crc = sl_crc32c(crc, out + 44, 4);
	memcpy(out + 40, &crc, 4);
	for (;;) {
		memcpy(&w, in + off, 8);
		if ((w >> 32) != SL_JREC_TAG(gen))
			break;
		len = (uint32_t)w;
		w = version >= 4 ? SL_JREC_COMMIT_GEN(gen, len) : SL_JREC_COMMIT(len);
		memcpy(out + o, in + off, hdr);
		memcpy(out + o, &w, 8);
		/* Bytes 16..23: the batch's first seq (u64) before version 5. */
		memcpy(&w, in + off + 8, 8);
		memcpy(&back, in + off + 16, 4);
		w -= back;
		memcpy(out + o + 16, &w, 8);
		crc = sl_crc32c(version >= 4 ? sl_crc32c(0, &gen, 4) : 0, out + o + 8, 40);
		if (hdr > 56)
			crc = sl_crc32c(crc, in + off + 56, 8);
		crc = sl_crc32c(crc, in + off + 64, len);
		memcpy(out + o + 48, &crc, 4);
		memcpy(out + o + hdr, in + off + 64, len);
		off += 64 + align8(len);
		o += hdr + align8(len);
		n++;
	}
	CHECK(pwrite(fd, out, SEG, 0) == SEG);
	close(fd);
	return n;
}

/*
 * A journal of version 1 records (as written before producer epochs) still
 * opens and reads, epoch 0; a new record goes to a new segment of version 2
 * records, and both read back after a reopen.
 */
static void
test_v1_segments(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	uint8_t p[100];
	char dir[256], seg[300];
	uint64_t seq, s;

	path_in(dir, sizeof(dir), "v1");
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	for (s = 1; s <= 5; s++) {
		fill_payload(s, p, (uint32_t)(s * 10));
		CHECK(sl_journal_append(j, p, (uint32_t)(s * 10), ts_of(s), PRODUCER, 100 + s,
					&seq) == 0 && seq == s);
	}
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	CHECK(to_version(seg, 1) == 5);

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 5 && !rec.corrupt && !rec.torn);
	for (s = 1; s <= 5; s++) {
		CHECK(sl_journal_read(j, s, &v) == 0);
		fill_payload(s, p, (uint32_t)(s * 10));
		CHECK(v.len == s * 10 && memcmp(v.data, p, v.len) == 0);
		CHECK(v.producer_id == PRODUCER && v.producer_seq == 100 + s && v.producer_epoch == 0);
		CHECK(v.timestamp == ts_of(s));
	}
	/* A version 2 record: into a new segment. */
	fill_payload(6, p, 60);
	CHECK(sl_journal_append_producer(j, p, 60, ts_of(6), 0xabcdef, 7, 42, &seq) == 0 &&
	      seq == 6);
	CHECK(sl_journal_sync(j) == 0);
	CHECK(count_segs(dir) == 2);
	sl_journal_close(j);

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 6 && !rec.corrupt && !rec.torn);
	CHECK(sl_journal_read(j, 3, &v) == 0 && v.producer_seq == 103 && v.producer_epoch == 0);
	CHECK(sl_journal_read(j, 6, &v) == 0 && v.producer_id == 0xabcdef &&
	      v.producer_epoch == 7 && v.producer_seq == 42 && v.len == 60 &&
	      memcmp(v.data, p, 60) == 0);
	sl_journal_close(j);
	/* A flipped payload byte of a version 1 record is damage, not a tail. */
	{
		int fd = open(seg, O_RDWR);
		uint8_t b;

		CHECK(fd >= 0 && pread(fd, &b, 1, 64 + 56 + 3) == 1);
		b ^= 0x10;
		CHECK(pwrite(fd, &b, 1, 64 + 56 + 3) == 1);
		close(fd);
	}
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.corrupt && rec.corrupt_seq == 1);
	CHECK(sl_journal_read(j, 1, &v) == -EUCLEAN);
	CHECK(sl_journal_read(j, 2, &v) == 0 && v.producer_seq == 102);
	sl_journal_close(j);
	rm_rf(dir);
}

/* Copy file @name from directory @from to directory @to. */
static void
copy_file(const char *from, const char *to, const char *name)
{
	char src[512], dst[512], b[4096];
	FILE *in, *out;
	size_t n;

	snprintf(src, sizeof(src), "%s/%s", from, name);
	snprintf(dst, sizeof(dst), "%s/%s", to, name);
	in = fopen(src, "rb");
	out = fopen(dst, "wb");
	CHECK(in != NULL && out != NULL);
	while (in && out && (n = fread(b, 1, sizeof(b), in)) > 0)
		CHECK(fwrite(b, 1, n, out) == n);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
}

/*
 * Segment version 3 (message headers): a record's header block is stored
 * with SL_JREC_F_HDRS and its length, covered by the CRC, read back as
 * written; and a journal written by the version 2 code (checked in:
 * tests/data/journal-v2, five records "v2-message-N" of producer 7 epoch 2)
 * still opens, read-only and writable, its records read with no header
 * block, and a record with one goes to a new version 3 segment.
 */
static void
test_v2_journal(const char *data_dir)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	char dir[256], want[32], seg[300];
	const char blk_msg[] = "\x01\x00\x01\x02" "ab" "payload";
	uint64_t seq, s;
	int fd;

	path_in(dir, sizeof(dir), "v3hdrs");
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(sl_journal_append_hdrs(j, blk_msg, 13, 6, ts_of(1), PRODUCER, 1, 1, &seq) == 0);
	CHECK(sl_journal_append_hdrs(j, "plain", 5, 0, ts_of(2), PRODUCER, 1, 2, &seq) == 0);
	CHECK(sl_journal_append_hdrs(j, "x", 1, 2, ts_of(3), PRODUCER, 1, 3, &seq) == -EINVAL);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.last_seq == 2 && !rec.corrupt && !rec.torn);
	CHECK(sl_journal_read(j, 1, &v) == 0 && v.len == 13 && v.hdrs_len == 6 &&
	      memcmp(v.data, blk_msg, 13) == 0);
	CHECK(sl_journal_read(j, 2, &v) == 0 && v.len == 5 && v.hdrs_len == 0);
	sl_journal_close(j);
	/* The flags are under the CRC: a flipped hdrs_len is damage. */
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	fd = open(seg, O_RDWR);
	{
		uint8_t b;

		CHECK(fd >= 0 && pread(fd, &b, 1, 64 + 62) == 1);
		b ^= 0x01;
		CHECK(pwrite(fd, &b, 1, 64 + 62) == 1);
		close(fd);
	}
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.corrupt && rec.corrupt_seq == 1);
	CHECK(sl_journal_read(j, 1, &v) == -EUCLEAN);
	sl_journal_close(j);
	rm_rf(dir);

	if (data_dir == NULL) {
		fprintf(stderr, "test_v2_journal: no data directory given\n");
		failures++;
		return;
	}
	path_in(dir, sizeof(dir), "v2");
	CHECK(mkdir(dir, 0700) == 0);
	copy_file(data_dir, dir, "00000000000000000001.seg");
	copy_file(data_dir, dir, "journal.meta");
	c.read_only = 1;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 5 && !rec.corrupt && !rec.torn);
	for (s = 1; s <= 5; s++) {
		snprintf(want, sizeof(want), "v2-message-%u", (unsigned)s);
		CHECK(sl_journal_read(j, s, &v) == 0);
		CHECK(v.len == strlen(want) && memcmp(v.data, want, v.len) == 0 && v.hdrs_len == 0);
		CHECK(v.producer_id == 7 && v.producer_epoch == 2 && v.producer_seq == s);
		CHECK(v.timestamp == 1700000000000000000ull + s);
	}
	sl_journal_close(j);
	c.read_only = 0;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.last_seq == 5 && !rec.corrupt && !rec.torn);
	CHECK(sl_journal_append_hdrs(j, blk_msg, 13, 6, ts_of(6), PRODUCER, 1, 6, &seq) == 0 &&
	      seq == 6);
	CHECK(sl_journal_sync(j) == 0);
	CHECK(count_segs(dir) == 2); /* a version 2 segment gets no version 3 record */
	sl_journal_close(j);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 6 && !rec.corrupt && !rec.torn);
	CHECK(sl_journal_read(j, 3, &v) == 0 && v.hdrs_len == 0 && v.len == 12);
	CHECK(sl_journal_read(j, 6, &v) == 0 && v.hdrs_len == 6 && v.len == 13);
	sl_journal_close(j);
	rm_rf(dir);
}

/*
 * Damage between two records that loses none: bytes recovery skips before a
 * record it finds again. Here they are a copy of the next record with a
 * payload byte flipped (its CRC fails): reading in order returns every
 * record as written, never the damaged copy, and never fails at it.
 */
static void
test_gap_without_loss(void)
{
	struct sl_journal_conf conf = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j = NULL;
	char dir[128], seg[192];
	uint8_t r3[104];
	uint64_t s;
	int fd;

	path_in(dir, sizeof(dir), "gap_no_loss");
	CHECK(sl_journal_open(&j, dir, &conf, NULL) == 0);
	for (s = 1; s <= 3; s++)
		CHECK(append_seq(j, s, 40) == 0);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	/* Record 3 (64 + 40 bytes) moves one record on; a damaged copy of it
	 * takes its place. */
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	fd = open(seg, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, r3, sizeof(r3), 64 + 2 * 104) == (ssize_t)sizeof(r3));
	CHECK(pwrite(fd, r3, sizeof(r3), 64 + 3 * 104) == (ssize_t)sizeof(r3));
	r3[64 + 5] ^= 0x40;
	CHECK(pwrite(fd, r3, sizeof(r3), 64 + 2 * 104) == (ssize_t)sizeof(r3));
	close(fd);
	CHECK(sl_journal_open(&j, dir, &conf, &rec) == 0);
	CHECK(rec.first_seq == 1 && rec.last_seq == 3 && rec.corrupt_records == 0);
	for (s = 1; s <= 3; s++)
		CHECK(record_ok(j, s));
	sl_journal_close(j);
	rm_rf(dir);
}

/* ---- recycled segments ---- */

/* Payload length of record @seq in the recycling tests (any seq, no table). */
static uint32_t
len_of(uint64_t seq)
{
	return 16 + (uint32_t)((seq * 2654435761u) >> 7) % 240;
}

static int
append_det(struct sl_journal *j, uint64_t expect_seq)
{
	return append_seq(j, expect_seq, len_of(expect_seq));
}

/* Record @seq reads back exactly as append_det wrote it. */
static int
det_ok(struct sl_journal *j, uint64_t seq)
{
	return record_is(j, seq, len_of(seq));
}

/* The generation in the header of segment file @first_seq of @dir (0: none). */
static uint32_t
file_gen(const char *dir, uint64_t first_seq)
{
	char p[512];
	uint32_t gen = 0;
	int fd;

	snprintf(p, sizeof(p), "%s/%020llu.seg", dir, (unsigned long long)first_seq);
	fd = open(p, O_RDONLY);
	if (fd < 0 || pread(fd, &gen, 4, 44) != 4)
		gen = 0;
	if (fd >= 0)
		close(fd);
	return gen;
}

/* The first sequence of the segment being written: the last .seg in @dir. */
static uint64_t
live_first(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t max = 0, v;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l == 24 && strcmp(e->d_name + 20, ".seg") == 0 &&
		    (v = strtoull(e->d_name, NULL, 10)) > max)
			max = v;
	}
	closedir(d);
	return max;
}

/* Every record from the first retained to the last reads back as written,
 * each exactly once; none before the first. */
static int
det_all_ok(struct sl_journal *j)
{
	struct sl_jrec_view v;
	uint64_t s, first = sl_journal_first_seq(j), last = sl_journal_last_seq(j);

	if (first > 1 && sl_journal_read(j, first - 1, &v) != -ENOENT)
		return 0;
	for (s = first; s <= last; s++)
		if (!det_ok(j, s))
			return 0;
	return sl_journal_read(j, last + 1, &v) == -ENOENT;
}

/*
 * Fill, retire and reuse segments hundreds of times: retention's segments
 * come back as spares, so after the first few no file is allocated again;
 * the files stay few; each reuse is one generation up; every retained
 * record reads back exactly once, before and after a reopen, and never one
 * of an earlier use.
 */
static void
test_recycle_many(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256];
	uint64_t seq = 1, reused = 0, warm_allocs = 0, max_gen = 0, g;
	int phase, bad = failures;

	path_in(dir, sizeof(dir), "recycle-many");
	c.retain_bytes = 2 * SEG;
	c.recycle = 2;
	for (phase = 0; phase < 2 && failures == bad; phase++) {
		uint64_t base_reused;

		j = open_dir(dir, &c, &rec);
		if (j == NULL)
			return;
		CHECK(rec.corrupt == 0 && rec.torn == 0 && rec.next_seq == seq);
		/* Kept spares do not outlive the journal: none after an open. */
		CHECK(count_prefix(dir, "spare-") == 0);
		CHECK(det_all_ok(j));
		base_reused = sl_journal_recycled(j);
		CHECK(base_reused == 0);
		warm_allocs = 0;
		while (sl_journal_recycled(j) < 250 && failures == bad) {
			CHECK(append_det(j, seq) == 0);
			seq++;
			if (seq % 7 == 0)
				CHECK(sl_journal_sync(j) == 0);
			CHECK(sl_journal_retain(j, ts_of(seq)) >= 0);
			if (sl_journal_recycled(j) == 2 && warm_allocs == 0)
				warm_allocs = po.allocs;
			if (sl_journal_recycled(j) % 50 == 49 && seq % 97 == 0) {
				CHECK(det_all_ok(j));
				g = file_gen(dir, live_first(dir));
				max_gen = g > max_gen ? g : max_gen;
			}
		}
		reused += sl_journal_recycled(j);
		/* Only the first segments were allocated: every roll since
		 * took a retired one. */
		CHECK(warm_allocs > 0 && po.allocs == warm_allocs);
		CHECK(count_segs(dir) <= 3 && count_prefix(dir, "spare-") <= 2);
		CHECK(sl_journal_sync(j) == 0);
		CHECK(det_all_ok(j));
		g = file_gen(dir, live_first(dir));
		max_gen = g > max_gen ? g : max_gen;
		sl_journal_close(j);
		CHECK(count_prefix(dir, "spare-") == 0);
	}
	CHECK(reused >= 500);
	/* Three or four files took turns: each was used a hundred times or so. */
	CHECK(max_gen > 50);
	if (failures != bad)
		fprintf(stderr, "  (recycle-many: %llu reuses, generation up to %llu, seq %llu)\n",
			(unsigned long long)reused, (unsigned long long)max_gen,
			(unsigned long long)seq);
	j = open_dir(dir, &c, &rec);
	if (j != NULL) {
		CHECK(rec.corrupt == 0 && rec.torn == 0 && rec.next_seq == seq);
		CHECK(det_all_ok(j));
	}
	sl_journal_close(j);
	rm_rf(dir);
}

/* Append det records, sync every 7 and apply retention after each, until
 * @reuses rolls took a recycled segment. Returns the next seq. */
static uint64_t
cycle_until(struct sl_journal *j, uint64_t seq, uint64_t reuses)
{
	while (sl_journal_recycled(j) < reuses) {
		if (append_det(j, seq) != 0) {
			CHECK(!"append while cycling");
			break;
		}
		seq++;
		if (seq % 7 == 0)
			CHECK(sl_journal_sync(j) == 0);
		CHECK(sl_journal_retain(j, ts_of(seq)) >= 0);
	}
	return seq;
}

/* The file named @name in @sn, or -1. */
static int
snap_find(const struct snap *sn, const char *name)
{
	int i;

	for (i = 0; i < sn->n; i++)
		if (strcmp(sn->name[i], name) == 0)
			return i;
	return -1;
}

/* A work directory on tmpfs when there is one (the sweeps rewrite it
 * thousands of times), else under base. */
static void
fast_dir(char *out, size_t n, const char *name)
{
	struct stat st;

	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(out, n, "/dev/shm/%s-%d", name, (int)getpid());
	else
		path_in(out, n, name);
}

/*
 * A live reused segment: the journal's files while it was being written
 * (records @first..@n, the last synced @w), and the bytes its file held
 * before this use, from the use before. Built once for the tests below.
 */
struct reused {
	struct snap sa, sb;	/* all synced (w = n_a); then 3 more unsynced (n_b) */
	uint64_t first, lf;	/* first retained seq; the live segment's first */
	uint64_t n_a, n_b;
	int li;			/* the live segment's index in sa and sb */
	uint8_t *stale;		/* its file before this use (SEG bytes) */
};

static int
reused_build(struct reused *r, const char *dir)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	struct snap pool;
	char name[64];
	uint64_t seq = 1, before;
	int k, i, bad = failures;

	memset(r, 0, sizeof(*r));
	r->stale = malloc(SEG);
	c.retain_bytes = 2 * SEG;
	c.recycle = 1;
	rm_rf(dir);
	j = open_dir(dir, &c, &rec);
	if (j == NULL || r->stale == NULL)
		return -1;
	seq = cycle_until(j, seq, 3);
	/* Wait for the next segment kept for reuse, and take its bytes: the
	 * next roll starts in it. */
	before = sl_journal_recycled(j);
	for (k = 0; sl_journal_recycled(j) == before && k < 100000; k++) {
		CHECK(append_det(j, seq) == 0);
		seq++;
		if (sl_journal_retain(j, ts_of(seq)) > 0) {
			CHECK(snap_load(&pool, dir) == 0);
			for (i = 0; i < pool.n && strncmp(pool.name[i], "spare-", 6) != 0; i++)
				;
			CHECK(i < pool.n && pool.size[i] == SEG);
			if (i < pool.n && pool.size[i] == SEG)
				memcpy(r->stale, pool.data[i], SEG);
			snap_free(&pool);
		}
	}
	CHECK(sl_journal_recycled(j) == before + 1);
	r->lf = seq - 1; /* the append that rolled */
	CHECK(live_first(dir) == r->lf && file_gen(dir, r->lf) >= 2);
	for (k = 0; k < 7; k++)
		CHECK(append_det(j, seq++) == 0);
	CHECK(sl_journal_sync(j) == 0);
	r->n_a = seq - 1;
	r->first = sl_journal_first_seq(j);
	CHECK(snap_load(&r->sa, dir) == 0);
	for (k = 0; k < 3; k++)
		CHECK(append_det(j, seq++) == 0);
	r->n_b = seq - 1;
	CHECK(snap_load(&r->sb, dir) == 0); /* a crash: never synced */
	sl_journal_close(j);
	snprintf(name, sizeof(name), "%020llu.seg", (unsigned long long)r->lf);
	r->li = snap_find(&r->sa, name);
	CHECK(r->li >= 0 && r->li == snap_find(&r->sb, name));
	/* The old use's records are all over the rest of the file. */
	CHECK(memcmp(r->stale + 4096, r->sa.data[r->li] + 4096, 4096) != 0);
	return r->li >= 0 && failures == bad ? 0 : -1;
}

static void
reused_free(struct reused *r)
{
	snap_free(&r->sa);
	snap_free(&r->sb);
	free(r->stale);
}

/* Offsets of the live segment's records in @sn (by walking them). */
static int
live_offsets(const struct snap *sn, int li, uint64_t lf, uint64_t n, size_t *off)
{
	size_t o = SL_JSEG_HDR;
	uint64_t s;

	for (s = lf; s <= n; s++) {
		off[s - lf] = o;
		o += sizeof(struct sl_jrec) + align8(len_of(s));
	}
	off[n - lf + 1] = o;
	(void)sn;
	(void)li;
	return 0;
}

/*
 * Open @dir, a crash image of the journal whose records @first..@n were
 * appended, @w committed, and whose live segment holds whole @first..@k:
 * the acknowledged records come back exactly once; damage to one is
 * reported as damage, a cut above the watermark is not; nothing of an
 * earlier use comes back; sequences are never handed out twice.
 */
static void
check_crash_image(const char *dir, uint64_t first, uint64_t k, uint64_t w, uint64_t n,
		  int append)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	uint64_t s, next;
	int damaged;

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	damaged = rec.corrupt;
	CHECK(sl_journal_damaged(j) == 0 && rec.first_seq == first);
	if (k >= w) {
		CHECK(rec.corrupt == 0);
		CHECK(rec.next_seq >= k + 1);
	} else {
		CHECK(rec.corrupt >= 1 && rec.corrupt_seq == k + 1);
		CHECK(sl_journal_gap_end(j, k + 1, NULL) >= w);
		CHECK(rec.next_seq >= w + 1);
	}
	CHECK(rec.next_seq <= n + 1);
	/* Every record whole: nothing torn, nothing cut (an earlier use's
	 * bytes after them are no tail of this one). */
	if (k == n)
		CHECK(rec.torn == 0 && rec.truncated_bytes == 0 && rec.next_seq == n + 1);
	for (s = first; s <= k; s++)
		CHECK(det_ok(j, s));
	for (; s < rec.next_seq; s++)
		CHECK(sl_journal_read(j, s, &v) == -EUCLEAN);
	CHECK(sl_journal_read(j, rec.next_seq, &v) == -ENOENT);
	next = rec.next_seq;
	if (append) {
		CHECK(append_det(j, next) == 0);
		CHECK(sl_journal_sync(j) == 0);
	}
	sl_journal_close(j);
	if (!append)
		return;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.next_seq == next + 1 && rec.torn == 0 && !rec.corrupt == !damaged);
	CHECK(det_ok(j, next) && (k < first || det_ok(j, k)));
	sl_journal_close(j);
}

/* Is @x in the header (or first payload word) of a record at @off[...]? */
static int
in_rec_header(const size_t *off, uint64_t nrec, size_t x)
{
	uint64_t i;

	for (i = 0; i < nrec; i++)
		if (x >= off[i] && x < off[i] + sizeof(struct sl_jrec) + 8)
			return 1;
	return 0;
}

/*
 * Every cut of the live, reused segment: its bytes from offset x on are
 * (a) what the file held before this use (the writes from x on never
 * reached the media) or (b) zeros, with all its records committed, and
 * with the last three appended but not committed (a crash mid-batch): x
 * at every byte of every record's header and first payload word, and
 * every word of the payloads, up to past the last record.
 */
static void
test_recycle_cut_sweep(void)
{
	static struct reused r;
	static size_t off[64];
	struct snap dm;
	char bdir[256], wdir[256];
	int state, variant, bad = failures;
	size_t x, end;

	path_in(bdir, sizeof(bdir), "recycle-sweep");
	fast_dir(wdir, sizeof(wdir), "sl-jrec-sweep");
	if (reused_build(&r, bdir) != 0) {
		reused_free(&r);
		return;
	}
	for (state = 0; state < 2 && failures == bad; state++) {
		const struct snap *sn = state ? &r.sb : &r.sa;
		uint64_t n = state ? r.n_b : r.n_a, k;

		live_offsets(sn, r.li, r.lf, n, off);
		end = off[n - r.lf + 1];
		for (x = SL_JSEG_HDR; x <= end + 8 && failures == bad; x++) {
			if (x % 8 && !in_rec_header(off, n - r.lf + 1, x))
				continue;
			for (variant = 0; variant < 2 && failures == bad; variant++) {
				/* zeros: the old sweep's cut, every word here */
				if (variant == 1 && (state == 1 || x % 8))
					continue;
				snap_copy(&dm, sn);
				if (variant == 0)
					memcpy(dm.data[r.li] + x, r.stale + x, SEG - x);
				else
					memset(dm.data[r.li] + x, 0, SEG - x);
				for (k = r.lf; k <= n; k++)
					if (memcmp(dm.data[r.li] + off[k - r.lf],
						   sn->data[r.li] + off[k - r.lf],
						   sizeof(struct sl_jrec) + len_of(k)) != 0)
						break;
				CHECK(snap_restore(&dm, wdir) == 0);
				check_crash_image(wdir, r.first, k - 1, r.n_a, n, x % 8 == 0);
				if (failures != bad)
					fprintf(stderr, "  (%s from offset %zu of the reused segment"
						" %020llu.seg, %s; %llu whole)\n",
						variant ? "zeros" : "the earlier use's bytes", x,
						(unsigned long long)r.lf,
						state ? "3 records not committed" : "all committed",
						(unsigned long long)(k - r.lf));
				snap_free(&dm);
			}
		}
	}
	reused_free(&r);
	rm_rf(bdir);
	rm_rf(wdir);
}

/* One flipped bit in any record of the reused segment, or any byte of its
 * last record's commit word (its generation's tag included): corrupt,
 * reported, never a stale record in its place. */
static void
test_recycle_bitflip(void)
{
	static struct reused r;
	static size_t off[64];
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	struct snap dm;
	char bdir[256], wdir[256];
	uint32_t kind;
	uint64_t s, t, n;
	int b, bad = failures;

	path_in(bdir, sizeof(bdir), "recycle-flip");
	fast_dir(wdir, sizeof(wdir), "sl-jrec-flip");
	if (reused_build(&r, bdir) != 0) {
		reused_free(&r);
		return;
	}
	n = r.n_a;
	live_offsets(&r.sa, r.li, r.lf, n, off);
	for (s = r.lf; s <= n + 8 && failures == bad; s++) {
		/* s > n: byte s - n - 1 of the last record's commit word */
		uint64_t bad_seq = s <= n ? s : n;

		snap_copy(&dm, &r.sa);
		if (s <= n) {
			size_t bit = rng() % ((sizeof(struct sl_jrec) + len_of(s)) * 8);

			dm.data[r.li][off[s - r.lf] + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		} else {
			dm.data[r.li][off[n - r.lf] + (s - n - 1)] ^= 0x10;
		}
		CHECK(snap_restore(&dm, wdir) == 0);
		j = open_dir(wdir, &c, &rec);
		if (j != NULL) {
			kind = 0;
			CHECK(rec.corrupt == 1 && rec.corrupt_seq == bad_seq &&
			      rec.corrupt_records == 1 && rec.next_seq == n + 1);
			CHECK(sl_journal_read(j, bad_seq, &v) == -EUCLEAN);
			CHECK(sl_journal_gap_end(j, bad_seq, &kind) == bad_seq &&
			      kind == SL_JDMG_CORRUPT);
			for (t = r.first; t <= n; t++)
				if (t != bad_seq)
					CHECK(det_ok(j, t));
			CHECK(append_det(j, n + 1) == 0 && sl_journal_sync(j) == 0);
			sl_journal_close(j);
		}
		if (failures != bad) {
			fprintf(stderr, "  (flip in seq %llu of the reused segment, %s)\n",
				(unsigned long long)bad_seq, s <= n ? "a random bit" : "commit word");
			b = (int)(s - n);
			(void)b;
		}
		snap_free(&dm);
	}
	reused_free(&r);
	rm_rf(bdir);
	rm_rf(wdir);
}

/* Group commit in a reused segment: still one write-back and one drain for
 * a batch's records and one for its watermark, whatever the batch size. */
static void
test_recycle_persist_counts(void)
{
	struct sl_journal_conf c = conf_default();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	static const unsigned bursts[] = { 1, 2, 5, 32, 1 };
	char dir[256];
	uint64_t seq;
	unsigned b, i;

	path_in(dir, sizeof(dir), "recycle-ops");
	po_reset(1);
	c.ops = &counting_ops;
	c.retain_bytes = 2 * SEG;
	c.recycle = 1;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	seq = cycle_until(j, 1, 2);
	CHECK(file_gen(dir, live_first(dir)) >= 2);
	CHECK(sl_journal_sync(j) == 0);
	for (b = 0; b < sizeof(bursts) / sizeof(bursts[0]); b++) {
		unsigned long d0 = po.drains, f0 = po.flushes, m0 = po.msyncs;

		for (i = 0; i < bursts[b]; i++)
			CHECK(append_det(j, seq++) == 0);
		CHECK(po.drains == d0 && po.flushes == f0);
		CHECK(sl_journal_sync(j) == 0);
		CHECK(po.flushes - f0 == 2 && po.drains - d0 == 2 && po.msyncs == m0);
	}
	CHECK(sl_journal_recycled(j) == 2); /* the bursts stayed in the reused segment */
	sl_journal_close(j);
	rm_rf(dir);
}

/*
 * A journal of segment version 3 (rewritten from this version's) loads and
 * reads; the next record goes to a new segment of version 4; retention
 * retires the old segment and its file comes back as a spare, generation
 * 2: none of its version 3 records is ever read again, also after a reopen.
 * And a journal that stopped with a retired segment kept for reuse (a
 * spare marked recycled) opens clean: that spare goes.
 */
static void
test_recycle_old_format(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	char dir[256], copy[256], seg[300], cmd[1200];
	uint64_t s, seq;

	path_in(dir, sizeof(dir), "recycle-v3");
	path_in(copy, sizeof(copy), "recycle-v3-crash");
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	for (s = 1; s <= 5; s++)
		CHECK(append_det(j, s) == 0);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	CHECK(to_version(seg, 3) == 5);

	c.retain_bytes = 2 * SEG;
	c.recycle = 1;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 5 && !rec.corrupt && !rec.torn);
	for (s = 1; s <= 5; s++)
		CHECK(det_ok(j, s));
	seq = cycle_until(j, 6, 1);
	CHECK(sl_journal_first_seq(j) > 5 && sl_journal_read(j, 5, &v) == -ENOENT);
	CHECK(file_gen(dir, live_first(dir)) == 2);
	CHECK(det_all_ok(j));
	/* Keep going until a segment waits for reuse, then "crash". */
	while (count_prefix(dir, "spare-") == 0)
		seq = cycle_until(j, seq, sl_journal_recycled(j) + 1);
	CHECK(sl_journal_sync(j) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", copy, dir, copy);
	CHECK(system(cmd) == 0);
	sl_journal_close(j);
	j = open_dir(copy, &c, &rec);
	if (j == NULL)
		return;
	CHECK(count_prefix(copy, "spare-") == 0);
	CHECK(!rec.corrupt && !rec.torn && rec.next_seq == seq && det_all_ok(j));
	CHECK(sl_journal_read(j, 3, &v) == -ENOENT);
	sl_journal_close(j);
	rm_rf(dir);
	rm_rf(copy);
}

/*
 * How many retired segments are kept: never so many that the journal's
 * files would pass capacity_bytes (the disk must be freed), and none with
 * conf.recycle -1 (every retired segment deleted, every roll a new file).
 */
static void
test_recycle_bounds(void)
{
	struct sl_journal_conf c = conf_fast();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256];
	uint64_t seq = 1, allocs;
	int most = 0, files, i;

	path_in(dir, sizeof(dir), "recycle-bounds");
	c.capacity_bytes = 4 * SEG;
	c.retain_bytes = 2 * SEG;
	c.recycle = 4;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	for (i = 0; i < 3000; i++) {
		CHECK(append_det(j, seq++) == 0);
		if (seq % 7 == 0)
			CHECK(sl_journal_sync(j) == 0);
		CHECK(sl_journal_retain(j, ts_of(seq)) >= 0);
		files = count_segs(dir) + count_prefix(dir, "spare-");
		most = files > most ? files : most;
	}
	CHECK(most <= 4 && sl_journal_recycled(j) > 5);
	CHECK(po.allocs <= 4); /* the rest were retired segments */
	CHECK(det_all_ok(j));
	sl_journal_close(j);
	rm_rf(dir);

	c = conf_fast();
	c.retain_bytes = 2 * SEG;
	c.recycle = -1;
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	for (seq = 1, i = 0; i < 3000; i++) {
		CHECK(append_det(j, seq++) == 0);
		CHECK(sl_journal_retain(j, ts_of(seq)) >= 0);
		CHECK(count_prefix(dir, "spare-") == 0);
	}
	/* A new file for every segment: 3000 records of 200 bytes on average
	 * fill nine of 64 KiB. */
	allocs = po.allocs;
	CHECK(sl_journal_recycled(j) == 0 && allocs >= 8);
	CHECK(det_all_ok(j));
	sl_journal_close(j);
	rm_rf(dir);
}

int
main(int argc, char **argv)
{
	strcpy(base, "/tmp/sl-journal-test-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 77;
	}
	test_round_trip();
	test_segment_roll();
	test_seek_time();
	test_persist_counts(1);
	test_persist_counts(0);
	test_msync_failure();
	test_truncation_sweep();
	test_tail_bitflip();
	test_mid_corruption();
	test_unsynced_reorder();
	test_commit_watermark();
	test_lost_files();
	test_damage_near_roll();
	test_full_and_retention();
	test_retention_floor();
	test_prepare_ahead();
	test_full_filesystem();
	test_v1_segments();
	test_gap_without_loss();
	test_v2_journal(argc > 1 ? argv[1] : NULL);
	test_recycle_many();
	test_recycle_cut_sweep();
	test_recycle_bitflip();
	test_recycle_persist_counts();
	test_recycle_old_format();
	test_recycle_bounds();
	rm_rf(base);
	return check_result("test_journal");
}
