/* SPDX-License-Identifier: BSD-3-Clause */
/* Journal leader epochs: records carrying them (segment version 5), the epoch history,
 * appends of a primary's records on a replica, and truncation with its crash safety. */

#include <dirent.h>
#include <errno.h>
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
#include "persist_nop.h"

#define SEG (64u * 1024)
#define TS0 1700000000000000000ull

static char base[64];

static uint64_t
ts_of(uint64_t seq)
{
	return TS0 + seq * 1000;
}

/* Payload of record @seq: its length from the seq, bytes never zero. */
static uint32_t
len_of(uint64_t seq)
{
	return (uint32_t)(seq * 37 % 700);
}

static void
fill(uint64_t seq, uint8_t *p)
{
	uint32_t i, n = len_of(seq);

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(1 + (seq * 131 + i * 7) % 255);
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

static int
count_files(const char *dir, const char *sfx)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t l, k = strlen(sfx);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		l = strlen(e->d_name);
		n += l > k && strcmp(e->d_name + l - k, sfx) == 0;
	}
	closedir(d);
	return n;
}

static struct sl_journal_conf
conf(void)
{
	struct sl_journal_conf c = { .segment_bytes = SEG, .index_every = 4096,
				     .ops = &nop_persist_ops };

	return c;
}

static struct sl_journal *
open_dir(const char *dir, const struct sl_journal_conf *c, struct sl_journal_recovery *rec)
{
	struct sl_journal *j = NULL;
	int rc = sl_journal_open(&j, dir, c, rec);

	CHECK(rc == 0);
	if (rc != 0)
		fprintf(stderr, "open %s: %s (%s)\n", dir, strerror(-rc), rec ? rec->message : "");
	return rc == 0 ? j : NULL;
}

/* Append record @seq the ordinary way (its epoch: whatever is set). */
static int
append(struct sl_journal *j, uint64_t seq)
{
	uint8_t p[800];
	uint64_t got = 0;
	int rc;

	fill(seq, p);
	rc = sl_journal_append_producer(j, p, len_of(seq), ts_of(seq), 0x5eed, 3, seq * 2, &got);
	if (rc == 0 && got != seq) {
		fprintf(stderr, "append: seq %llu, wanted %llu\n", (unsigned long long)got,
			(unsigned long long)seq);
		return -EPROTO;
	}
	return rc;
}

/* Append record @seq as a replica, at leader epoch @epoch. */
static int
append_rep(struct sl_journal *j, uint64_t seq, uint32_t epoch)
{
	uint8_t p[800];
	struct sl_jrec_meta m = { .seq = seq, .timestamp = ts_of(seq), .producer_id = 0x5eed,
				  .producer_seq = seq * 2, .producer_epoch = 3,
				  .leader_epoch = epoch, .hdrs_len = len_of(seq) > 4 ? 4 : 0 };

	fill(seq, p);
	return sl_journal_append_replica(j, &m, p, len_of(seq));
}

/* Record @seq reads back as written, at leader epoch @epoch. */
static int
rec_ok(struct sl_journal *j, uint64_t seq, uint32_t epoch)
{
	uint8_t p[800];
	struct sl_jrec_view v;

	if (sl_journal_read(j, seq, &v) != 0)
		return 0;
	fill(seq, p);
	return v.seq == seq && v.len == len_of(seq) && v.timestamp == ts_of(seq) &&
	       v.producer_id == 0x5eed && v.producer_seq == seq * 2 && v.producer_epoch == 3 &&
	       v.leader_epoch == epoch && memcmp(v.data, p, v.len) == 0;
}

/* The epoch of record @seq in the journals the tests build: epochs
 * 0 (1..99), 2 (100..249), 5 (250..), unless a test says otherwise. */
static uint32_t
epoch_of(uint64_t seq)
{
	return seq < 100 ? 0 : seq < 250 ? 2 : 5;
}

/* Records @from..@to, each at epoch_of (set before it), synced every 7. */
static void
fill_epochs(struct sl_journal *j, uint64_t from, uint64_t to)
{
	uint64_t s;

	for (s = from; s <= to; s++) {
		if (s == from || epoch_of(s) != epoch_of(s - 1))
			CHECK(sl_journal_set_leader_epoch(j, epoch_of(s)) == 0);
		CHECK(append(j, s) == 0);
		if (s % 7 == 0)
			CHECK(sl_journal_sync(j) == 0);
	}
	CHECK(sl_journal_sync(j) == 0);
}

static int
all_ok(struct sl_journal *j, uint64_t from, uint64_t to)
{
	uint64_t s;

	for (s = from; s <= to; s++)
		if (!rec_ok(j, s, epoch_of(s))) {
			fprintf(stderr, "record %llu does not read back\n", (unsigned long long)s);
			return 0;
		}
	return 1;
}

/* The epoch history of @j as a string, to compare two journals by. */
static void
history(struct sl_journal *j, char *out, size_t n)
{
	uint64_t first;
	uint32_t e, i;
	size_t o = 0;

	out[0] = '\0';
	for (i = 0; sl_journal_epoch_get(j, i, &e, &first) == 0 && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%u@%llu ", e, (unsigned long long)first);
}

/*
 * A single node writes epoch 0 and nothing else; a set epoch goes on every
 * record after it, reads back, survives a reopen; it never goes down; the
 * history answers epoch_end.
 */
static void
test_epochs(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256], h1[512], h2[512];

	snprintf(dir, sizeof(dir), "%s/epochs", base);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(sl_journal_last_epoch(j) == 0 && sl_journal_epoch_end(j, 0) == 0);
	CHECK(append(j, 1) == 0 && sl_journal_last_epoch(j) == 0);
	CHECK(rec_ok(j, 1, 0));
	CHECK(sl_journal_epoch_end(j, 0) == 1 && sl_journal_epoch_end(j, 9) == 1);
	fill_epochs(j, 2, 400);
	CHECK(all_ok(j, 1, 400));
	CHECK(sl_journal_last_epoch(j) == 5);
	/* Never down: not below the last record's epoch. */
	CHECK(sl_journal_set_leader_epoch(j, 4) == -EINVAL);
	CHECK(sl_journal_set_leader_epoch(j, 5) == 0);
	/* The last seq of a record of epoch <= e. */
	CHECK_EQ(sl_journal_epoch_end(j, 0), 99);
	CHECK_EQ(sl_journal_epoch_end(j, 1), 99);
	CHECK_EQ(sl_journal_epoch_end(j, 2), 249);
	CHECK_EQ(sl_journal_epoch_end(j, 4), 249);
	CHECK_EQ(sl_journal_epoch_end(j, 5), 400);
	CHECK_EQ(sl_journal_epoch_end(j, 77), 400);
	history(j, h1, sizeof(h1));
	CHECK(strcmp(h1, "0@1 2@100 5@250 ") == 0);
	/* A set epoch with no record yet changes nothing the history says. */
	CHECK(sl_journal_set_leader_epoch(j, 9) == 0);
	CHECK(sl_journal_last_epoch(j) == 5 && sl_journal_epoch_end(j, 5) == 400);
	sl_journal_close(j);

	/* Rebuilt at open from the records; appends go on at the last epoch. */
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 400 && !rec.corrupt && !rec.torn);
	history(j, h2, sizeof(h2));
	CHECK(strcmp(h1, h2) == 0);
	CHECK(all_ok(j, 1, 400));
	CHECK(sl_journal_set_leader_epoch(j, 4) == -EINVAL);
	CHECK(append(j, 401) == 0 && rec_ok(j, 401, 5));
	CHECK(sl_journal_set_leader_epoch(j, 7) == 0 && append(j, 402) == 0);
	CHECK(rec_ok(j, 402, 7) && sl_journal_epoch_end(j, 6) == 401);
	sl_journal_close(j);

	/* The history many epochs long: never more than it holds, answers
	 * for the newest exact, for the oldest never above the truth. */
	rm_rf(dir);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	for (uint64_t s = 1; s <= 300; s++) {
		CHECK(sl_journal_set_leader_epoch(j, (uint32_t)s) == 0);
		CHECK(append(j, s) == 0);
	}
	CHECK(sl_journal_sync(j) == 0);
	CHECK_EQ(sl_journal_epoch_end(j, 299), 299);
	CHECK_EQ(sl_journal_epoch_end(j, 250), 250);
	for (uint32_t e = 1; e <= 300; e++)
		CHECK(sl_journal_epoch_end(j, e) <= e);
	sl_journal_close(j);
	j = open_dir(dir, &c, &rec);
	if (j) {
		CHECK_EQ(sl_journal_epoch_end(j, 280), 280);
		for (uint32_t e = 1; e <= 300; e++)
			CHECK(sl_journal_epoch_end(j, e) <= e);
		sl_journal_close(j);
	}
	rm_rf(dir);
}

/* Byte offset of record @seq in the first segment file (records from 1). */
static uint64_t
off_of(uint64_t seq)
{
	uint64_t off = 64, s;

	for (s = 1; s < seq; s++)
		off += 64 + ((len_of(s) + 7u) & ~7u);
	return off;
}

static void
flip(const char *path, uint64_t off, uint8_t bit)
{
	int fd = open(path, O_RDWR);
	uint8_t b = 0;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(pread(fd, &b, 1, (off_t)off) == 1);
	b ^= bit;
	CHECK(pwrite(fd, &b, 1, (off_t)off) == 1);
	close(fd);
}

/*
 * The damage and torn-tail rules with version 5 records. The leader epoch
 * is covered by the CRC: a committed record with a bit of it flipped is
 * damage (corrupt, reported, read around), not another epoch. A record
 * above the watermark that fails its CRC is a torn tail, cut; its epoch
 * leaves the history.
 */
static void
test_epoch_damage(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	char dir[256], seg[300];
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/damage", base);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	fill_epochs(j, 1, 120);
	sl_journal_close(j);
	/* Two records of a new epoch appended, never synced: the process dies. */
	pid = fork();
	if (pid == 0) {
		if (sl_journal_open(&j, dir, &c, NULL) != 0 ||
		    sl_journal_set_leader_epoch(j, 9) != 0 || append(j, 121) != 0 ||
		    append(j, 122) != 0)
			_exit(1);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, NULL, 0) == pid);
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	flip(seg, off_of(110) + 20, 0x10);	     /* committed: its epoch */
	flip(seg, off_of(121) + 64 + 3, 0x01); /* above the watermark: its payload */
	c.read_only = 1;
	j = open_dir(dir, &c, &rec);
	c.read_only = 0;
	if (j) {
		CHECK(rec.corrupt == 1 && rec.corrupt_seq == 110 && rec.corrupt_records == 1);
		CHECK(rec.torn && rec.truncated_at_seq == 121);
		sl_journal_close(j);
	}
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.corrupt == 1 && rec.corrupt_seq == 110 && rec.torn);
	CHECK(sl_journal_read(j, 110, &v) == -EUCLEAN);
	CHECK(rec_ok(j, 109, 2) && rec_ok(j, 111, 2) && rec_ok(j, 120, 2));
	/* The torn records' sequences stay taken; their epoch is gone. */
	CHECK_EQ(sl_journal_last_epoch(j), 2);
	CHECK_EQ(sl_journal_epoch_end(j, 2), 120);
	CHECK(sl_journal_read(j, 121, &v) != 0);
	sl_journal_close(j);
	rm_rf(dir);
}

/* A segment of version 4 (no leader epoch: bytes 16..23 the batch's first
 * seq) rewritten from this version's: reads as epoch 0, and a new record
 * goes to a new segment of version 5. */
static void
to_v4(const char *path)
{
	static uint8_t b[SEG];
	uint64_t off = 64, w, seq, batch;
	uint32_t gen, back, len, crc, v4 = 4;
	int fd = open(path, O_RDWR);

	CHECK(fd >= 0 && pread(fd, b, SEG, 0) == SEG);
	if (fd < 0)
		return;
	memcpy(&gen, b + 44, 4);
	memcpy(b + 8, &v4, 4);
	crc = sl_crc32c(sl_crc32c(0, b, 40), b + 44, 4);
	memcpy(b + 40, &crc, 4);
	for (;;) {
		memcpy(&w, b + off, 8);
		if ((w >> 32) != SL_JREC_TAG(gen))
			break;
		len = (uint32_t)w;
		memcpy(&seq, b + off + 8, 8);
		memcpy(&back, b + off + 16, 4);
		batch = seq - back;
		memcpy(b + off + 16, &batch, 8);
		crc = sl_crc32c(sl_crc32c(0, &gen, 4), b + off + 8, 40);
		crc = sl_crc32c(crc, b + off + 56, 8);
		crc = sl_crc32c(crc, b + off + 64, len);
		memcpy(b + off + 48, &crc, 4);
		off += 64 + ((len + 7u) & ~7u);
	}
	CHECK(pwrite(fd, b, SEG, 0) == SEG);
	close(fd);
}

static void
test_v4_reads_epoch0(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256], seg[300];
	uint64_t s;

	snprintf(dir, sizeof(dir), "%s/v4", base);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(sl_journal_set_leader_epoch(j, 6) == 0);
	for (s = 1; s <= 20; s++)
		CHECK(append(j, s) == 0);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	to_v4(seg);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 1 && rec.last_seq == 20 && !rec.corrupt && !rec.torn);
	for (s = 1; s <= 20; s++)
		CHECK(rec_ok(j, s, 0));
	CHECK(sl_journal_last_epoch(j) == 0 && sl_journal_epoch_end(j, 0) == 20);
	CHECK(sl_journal_set_leader_epoch(j, 3) == 0 && append(j, 21) == 0);
	CHECK(sl_journal_sync(j) == 0 && count_files(dir, ".seg") == 2);
	sl_journal_close(j);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.last_seq == 21 && !rec.corrupt && rec_ok(j, 20, 0) && rec_ok(j, 21, 3));
	CHECK(sl_journal_epoch_end(j, 2) == 20 && sl_journal_epoch_end(j, 3) == 21);
	sl_journal_close(j);
	rm_rf(dir);
}

/*
 * A replica's appends: the primary's seq, timestamp, producer fields, header
 * block and epoch kept; a seq that does not follow refused; an empty journal
 * starts at any seq above what it held; later appends never go below the
 * replica's epoch.
 */
static void
test_append_replica(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_jrec_view v;
	struct sl_journal *j;
	char dir[256];
	uint64_t s, got;

	snprintf(dir, sizeof(dir), "%s/replica", base);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	/* A new journal starts where the primary is. */
	CHECK(append_rep(j, 5000, 4) == 0);
	CHECK(sl_journal_first_seq(j) == 5000 && sl_journal_last_seq(j) == 5000);
	CHECK(append_rep(j, 5002, 4) == -ESPIPE && append_rep(j, 5000, 4) == -ESPIPE);
	CHECK(append_rep(j, 4999, 4) == -ESPIPE);
	CHECK(append_rep(j, 5001, 3) == -EINVAL); /* an epoch below the last */
	CHECK(sl_journal_last_seq(j) == 5000);
	for (s = 5001; s <= 5600; s++) /* across rolls */
		CHECK(append_rep(j, s, s < 5300 ? 4 : 8) == 0);
	CHECK(sl_journal_read(j, 5100, &v) == 0 && v.hdrs_len == 4 && v.leader_epoch == 4);
	CHECK(sl_journal_epoch_end(j, 4) == 5299 && sl_journal_epoch_end(j, 3) == 0);
	/* Plain appends now carry at least the replica's epoch. */
	CHECK(append(j, 5601) == 0 && sl_journal_read(j, 5601, &v) == 0 && v.leader_epoch == 8);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);

	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(rec.first_seq == 5000 && rec.last_seq == 5601 && !rec.corrupt && !rec.torn &&
	      sl_journal_damage_count(j) == 0);
	for (s = 5000; s <= 5600; s++)
		CHECK(rec_ok(j, s, s < 5300 ? 4 : 8));
	CHECK(sl_journal_epoch_end(j, 7) == 5299 && sl_journal_last_epoch(j) == 8);
	CHECK(append_rep(j, 5602, 8) == 0);
	/* A primary's record after a plain append: it follows, it goes. */
	CHECK(sl_journal_append(j, "x", 1, 1, 1, 1, &got) == 0 && got == 5603);
	sl_journal_close(j);
	rm_rf(dir);
}

/*
 * A journal that holds no record but has a segment (its only record never
 * reached the media: a power loss after the segment was made): a replica
 * starts it at a later sequence all the same; the empty segment leaves.
 */
static void
test_replica_restart_empty_segment(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256], seg[300], meta[300];
	uint64_t v[2] = { 1, 0 }, wm;
	int fd;

	snprintf(dir, sizeof(dir), "%s/restart", base);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(append(j, 1) == 0 && sl_journal_sync(j) == 0);
	sl_journal_close(j);
	/* The record's bytes zeroed, the watermark "none committed", no
	 * journal.meta (it would name seq 1 as written). */
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	snprintf(meta, sizeof(meta), "%s/journal.meta", dir);
	wm = (uint64_t)sl_crc32c(0x5354434du, v, sizeof(v)) << 32;
	fd = open(seg, O_RDWR);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	{
		static uint8_t zero[4096];

		CHECK(pwrite(fd, zero, sizeof(zero), 64) == (ssize_t)sizeof(zero));
		CHECK(pwrite(fd, &wm, 8, 48) == 8 && pwrite(fd, &wm, 8, 56) == 8);
	}
	close(fd);
	CHECK(unlink(meta) == 0);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	CHECK(!rec.corrupt && !rec.torn && rec.next_seq == 1 && rec.segments == 1);
	CHECK(append_rep(j, 777, 2) == 0);
	CHECK(sl_journal_first_seq(j) == 777 && sl_journal_last_seq(j) == 777);
	CHECK(append_rep(j, 778, 2) == 0 && sl_journal_sync(j) == 0);
	sl_journal_close(j);
	CHECK(count_files(dir, ".seg") == 1 && count_files(dir, ".tmp") == 0);
	j = open_dir(dir, &c, &rec);
	if (j) {
		CHECK(!rec.corrupt && !rec.torn && sl_journal_damage_count(j) == 0);
		CHECK(rec.first_seq == 777 && rec.last_seq == 778 && rec_ok(j, 778, 2));
		sl_journal_close(j);
	}
	rm_rf(dir);
}

/* Journal @dir holds records 1..@n with epochs epoch_of, synced, and
 * (optionally) a recycling retention so that spares are in play. */
static struct sl_journal *
build(const char *dir, uint64_t n, const struct sl_journal_conf *c)
{
	struct sl_journal_recovery rec;
	struct sl_journal *j;

	rm_rf(dir);
	j = open_dir(dir, c, &rec);
	if (j)
		fill_epochs(j, 1, n);
	return j;
}

/*
 * Truncation inside the last segment, across segment boundaries (later
 * segments leave: kept for reuse or deleted), and below the first record
 * (the journal empty, a replica starting anywhere above what it kept). Each
 * time: what is kept reads back, the next append gets keep + 1, epochs
 * follow, and a reopen finds exactly that.
 */
static void
test_truncate(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256], h1[512], h2[512];
	struct sl_jrec_view v;
	uint64_t keep, segs, s;
	static const uint64_t keeps[] = { 599, 590, 400, 260, 249, 120, 99, 50, 1, 0 };

	snprintf(dir, sizeof(dir), "%s/trunc", base);
	for (size_t k = 0; k < sizeof(keeps) / sizeof(keeps[0]); k++) {
		keep = keeps[k];
		j = build(dir, 600, &c);
		if (j == NULL)
			return;
		segs = (uint64_t)count_files(dir, ".seg");
		CHECK(segs >= 4);
		CHECK(sl_journal_truncate(j, keep) == 0);
		CHECK_EQ(sl_journal_last_seq(j), keep);
		CHECK(sl_journal_durable_seq(j) == keep);
		CHECK(all_ok(j, 1, keep));
		CHECK(sl_journal_read(j, keep + 1, &v) == -ENOENT);
		CHECK(sl_journal_last_epoch(j) == (keep ? epoch_of(keep) : 0));
		CHECK(sl_journal_epoch_end(j, 2) == (keep < 250 ? keep : 249));
		CHECK((uint64_t)count_files(dir, ".seg") <= segs);
		history(j, h1, sizeof(h1));
		/* Appends go on at keep + 1, epochs from the set one. */
		if (keep) {
			CHECK(append(j, keep + 1) == 0);
			CHECK(rec_ok(j, keep + 1, 5));
		} else {
			/* Empty: a replica may start anywhere. */
			CHECK(append_rep(j, 700, 5) == 0);
		}
		CHECK(sl_journal_sync(j) == 0);
		history(j, h1, sizeof(h1));
		sl_journal_close(j);
		CHECK(count_files(dir, ".tmp") == 0);

		j = open_dir(dir, &c, &rec);
		if (j == NULL)
			return;
		CHECK(!rec.corrupt && !rec.torn && sl_journal_damage_count(j) == 0);
		if (keep) {
			CHECK_EQ(rec.last_seq, keep + 1);
			CHECK(rec.first_seq == 1 && all_ok(j, 1, keep) && rec_ok(j, keep + 1, 5));
		} else {
			CHECK(rec.first_seq == 700 && rec.last_seq == 700 && rec_ok(j, 700, 5));
		}
		history(j, h2, sizeof(h2));
		CHECK(strcmp(h1, h2) == 0);
		/* Appends again: the next sequence, rolls as usual. */
		for (s = rec.last_seq + 1; s < rec.last_seq + 300; s++)
			CHECK(append(j, s) == 0);
		CHECK(sl_journal_sync(j) == 0);
		sl_journal_close(j);
		j = open_dir(dir, &c, &rec);
		if (j) {
			CHECK(!rec.corrupt && !rec.torn && rec.last_seq == s - 1);
			sl_journal_close(j);
		}
	}
	/* Nothing above keep: nothing done. */
	j = build(dir, 50, &c);
	if (j) {
		CHECK(sl_journal_truncate(j, 50) == 0 && sl_journal_truncate(j, 80) == 0);
		CHECK(sl_journal_last_seq(j) == 50 && all_ok(j, 1, 50));
		/* Pending records are synced first; truncating within them keeps
		 * what is below keep, committed. */
		CHECK(append(j, 51) == 0 && append(j, 52) == 0);
		CHECK(sl_journal_truncate(j, 51) == 0 && sl_journal_durable_seq(j) == 51);
		sl_journal_close(j);
		j = open_dir(dir, &c, &rec);
		if (j) {
			CHECK(rec.last_seq == 51 && !rec.torn && all_ok(j, 1, 50));
			sl_journal_close(j);
		}
	}
	rm_rf(dir);
}

/* Records @from..@to with a preparing thread's work done when a roll
 * waits for it, and retention (then preparation) every 50. */
static void
append_retaining(struct sl_journal *j, uint64_t from, uint64_t to)
{
	uint64_t s;

	for (s = from; s <= to; s++) {
		int rc = append(j, s);

		while (rc == -ENOSPC) {
			CHECK(sl_journal_prepare(j) >= 0);
			rc = append(j, s);
		}
		CHECK(rc == 0);
		if (s % 50 == 0) {
			CHECK(sl_journal_sync(j) == 0);
			CHECK(sl_journal_retain(j, ts_of(s)) >= 0);
			while (sl_journal_prepare(j) == 1)
				;
		}
	}
	CHECK(sl_journal_sync(j) == 0);
}

/*
 * Truncation with a preparing setup and recycling: the segments it removes
 * join the segments kept for reuse (or go), spares stay usable, the
 * directory holds no stray file after a close, and later rolls reuse them.
 */
static void
test_truncate_recycle(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256];
	uint64_t s, r0, end, first;

	c.prepared_only = 1;
	c.spares = 2;
	c.recycle = 4;
	c.retain_bytes = 6 * SEG;
	snprintf(dir, sizeof(dir), "%s/trunc-recycle", base);
	rm_rf(dir);
	j = open_dir(dir, &c, &rec);
	if (j == NULL)
		return;
	append_retaining(j, 1, 1500);
	CHECK(count_files(dir, ".seg") >= 5);
	/* Keep the middle of the second retained segment. */
	s = sl_journal_first_seq(j) + 120;
	CHECK(sl_journal_truncate(j, s) == 0 && sl_journal_last_seq(j) == s);
	CHECK(count_files(dir, ".seg") <= 2);
	CHECK(count_files(dir, ".tmp") <= 2 + 4);
	r0 = sl_journal_recycled(j);
	end = s + 1500;
	/* Onward: rolls take the spares, some of them recycled from the cut. */
	append_retaining(j, s + 1, end);
	CHECK(sl_journal_recycled(j) > r0);
	/* Below the first retained record (retention took 1..first - 1): the
	 * journal is empty; a replica starts it anywhere above keep, not at or
	 * below it. */
	first = sl_journal_first_seq(j);
	CHECK(first > 100);
	CHECK(sl_journal_truncate(j, first - 50) == 0);
	CHECK(sl_journal_last_seq(j) == first - 50 && sl_journal_first_seq(j) == first - 49);
	CHECK(count_files(dir, ".seg") == 0 && sl_journal_last_epoch(j) == 0);
	CHECK(append_rep(j, first - 50, 6) == -ESPIPE);
	{
		int rc = append_rep(j, first + 10000, 6);

		while (rc == -ENOSPC) {
			CHECK(sl_journal_prepare(j) >= 0);
			rc = append_rep(j, first + 10000, 6);
		}
		CHECK(rc == 0);
	}
	CHECK(sl_journal_first_seq(j) == first + 10000 && sl_journal_last_epoch(j) == 6);
	CHECK(append_rep(j, first + 10001, 6) == 0 && sl_journal_sync(j) == 0);
	while (sl_journal_prepare(j) == 1) /* (the new segment's rename, too) */
		;
	CHECK(count_files(dir, ".seg") == 1);
	s = sl_journal_last_seq(j);
	sl_journal_close(j);
	CHECK(count_files(dir, ".tmp") == 0);
	c.prepared_only = 0;
	j = open_dir(dir, &c, &rec);
	if (j) {
		CHECK(!rec.corrupt && !rec.torn && rec.last_seq == s);
		CHECK(rec.first_seq == first + 10000 && sl_journal_damage_count(j) == 0);
		CHECK(rec_ok(j, first + 10000, 6) && rec_ok(j, first + 10001, 6));
		sl_journal_close(j);
	}
	rm_rf(dir);
}

/* ---- crash points ---- */

static unsigned crash_at;

static void
crash_step(unsigned step)
{
	if (step == crash_at)
		_exit(42);
}

static const struct sl_persist_ops crash_ops = {
	.flush = nop_flush, .drain = nop_drain, .msync = nop_msync,
	.is_pmem = not_pmem, .step = crash_step,
};

/*
 * Truncate in a child process that stops at crash point @at (exit 42), or
 * finishes (exit 0). Returns the exit status, -1 on failure.
 */
static int
truncate_crashing(const char *dir, uint64_t keep, unsigned at, int recycle)
{
	pid_t pid;
	int st;

	pid = fork();
	if (pid == 0) {
		struct sl_journal_conf c = conf();
		struct sl_journal *j;

		c.ops = &crash_ops;
		c.recycle = recycle ? 4 : -1;
		crash_at = at;
		if (sl_journal_open(&j, dir, &c, NULL) != 0)
			_exit(1);
		_exit(sl_journal_truncate(j, keep) == 0 ? 0 : 2);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * A crash at every step of a truncation (and within the journal.meta writes'
 * steps): the journal reopens either as it was (1..n) or truncated (1..keep,
 * the next append keep + 1), never with damage, a torn tail or a mix; read
 * only and writable opens agree; and a second open finds what the first left.
 */
static void
test_truncate_crash(void)
{
	struct sl_journal_conf c = conf();
	struct sl_journal_recovery rec;
	struct sl_journal *j;
	char dir[256];
	static const uint64_t keeps[] = { 590, 300, 120, 0 };
	uint64_t n = 600, keep;
	unsigned at, before = 0, after = 0;
	int st, recycle;

	snprintf(dir, sizeof(dir), "%s/crash", base);
	for (recycle = 0; recycle <= 1; recycle++)
	for (size_t k = 0; k < sizeof(keeps) / sizeof(keeps[0]); k++) {
		keep = keeps[k];
		for (at = 0;; at++) {
			uint64_t last;

			j = build(dir, n, &c);
			if (j == NULL)
				return;
			sl_journal_close(j);
			st = truncate_crashing(dir, keep, at, recycle);
			CHECK(st == 0 || st == 42);
			if (st != 0 && st != 42)
				break;
			/* Read-only first: it changes nothing and must agree. */
			c.read_only = 1;
			j = open_dir(dir, &c, &rec);
			c.read_only = 0;
			if (j == NULL)
				break;
			last = rec.last_seq;
			CHECK(!rec.corrupt && !rec.torn && sl_journal_damage_count(j) == 0);
			sl_journal_close(j);
			j = open_dir(dir, &c, &rec);
			if (j == NULL)
				break;
			CHECK(!rec.corrupt && !rec.torn && sl_journal_damage_count(j) == 0);
			CHECK_EQ(rec.last_seq, last);
			if (rec.last_seq == n) {
				before++;
				CHECK(rec.first_seq == 1 && all_ok(j, 1, n));
			} else {
				after++;
				CHECK_EQ(rec.last_seq, keep);
				CHECK(keep == 0 || (rec.first_seq == 1 && all_ok(j, 1, keep)));
				CHECK(sl_journal_read(j, keep + 1, &(struct sl_jrec_view){ 0 }) ==
				      -ENOENT);
				CHECK(sl_journal_last_epoch(j) == (keep ? epoch_of(keep) : 0));
			}
			/* Appends go on after what it holds, and stay. */
			CHECK(append(j, rec.last_seq + 1) == 0 && sl_journal_sync(j) == 0);
			last = rec.last_seq + 1;
			sl_journal_close(j);
			j = open_dir(dir, &c, &rec);
			if (j) {
				CHECK(!rec.corrupt && !rec.torn && rec.last_seq == last);
				CHECK(rec_ok(j, last, last > keep && last <= n ? epoch_of(last) : 5));
				sl_journal_close(j);
			}
			if (st == 0)
				break; /* no crash point left */
		}
		CHECK(at >= 3);
	}
	/* Both outcomes were seen: a crash before the intent, and after. */
	CHECK(before > 0 && after > 0);
	rm_rf(dir);
}

int
main(void)
{
	strcpy(base, "/tmp/sl-jepoch-test-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 77;
	}
	test_epochs();
	test_epoch_damage();
	test_v4_reads_epoch0();
	test_append_replica();
	test_replica_restart_empty_segment();
	test_truncate();
	test_truncate_recycle();
	test_truncate_crash();
	rm_rf(base);
	return check_result("test_journal_epoch");
}
