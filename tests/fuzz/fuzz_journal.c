/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of journal recovery (persist/journal_recover.c): the
 * input is a segment file, possibly damaged, written as the journal's first
 * segment in an empty directory; the journal is opened (recovery runs),
 * every record it says it holds is read, one is appended and read back,
 * and a second open must find what the first left.
 *
 * Input: one flags byte, then the segment's bytes.
 *   bit 0: extend the file with zeros to the size its header claims (up to
 *          1 MiB), as a segment made by the journal is; else it stays as
 *          short as the input (a truncated file)
 *   bit 1: open read-only (nothing on disk changes)
 *   bit 2: the input's last META_LEN bytes are the journal's journal.meta;
 *          else there is none (recovery rebuilds it)
 */

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "journal.h"

#define SEG_MIN (64u * 1024)
#define SEG_MAX (1u << 20)
#define READS_MAX 4096u
#define META_LEN 128u

static char dir[512], seg[600], meta[600];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/journal", fuzz_tmpdir("fuzz_journal"));
	snprintf(seg, sizeof(seg), "%s/%020u.seg", dir, 1u);
	snprintf(meta, sizeof(meta), "%s/journal.meta", dir);
	return 0;
}

static void
open_conf(struct sl_journal_conf *conf, int read_only)
{
	memset(conf, 0, sizeof(*conf));
	conf->segment_bytes = SEG_MIN;
	conf->index_every = 4096;
	conf->read_only = read_only;
}

/* Every record recovery says is there reads back whole, or is a damaged
 * range it reported. Returns the records read. */
static uint64_t
read_all(struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	uint64_t seq, n = 0;
	struct sl_jrec_view v;
	uint32_t i;
	int rc;

	for (seq = rec->first_seq; seq <= rec->last_seq && seq - rec->first_seq < READS_MAX;
	     seq++) {
		rc = sl_journal_read(j, seq, &v);
		FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EUCLEAN);
		if (rc == 0) {
			const volatile uint8_t *d = v.data;
			uint8_t x = 0;

			FUZZ_CHECK(v.seq == seq);
			FUZZ_CHECK(v.len <= SEG_MAX);
			for (i = 0; i < v.len; i++)
				x ^= d[i];
			(void)x;
			n++;
		} else if (rc == -EUCLEAN) {
			uint32_t kind = 0;
			uint64_t end = sl_journal_gap_end(j, seq, &kind);

			FUZZ_CHECK(end >= seq);
			if (end > seq && end <= rec->last_seq + 1)
				seq = end - 1;
		}
	}
	return n;
}

static void
check_recovery(struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	uint32_t i, n = sl_journal_damage_count(j);

	FUZZ_CHECK(rec->next_seq >= 1);
	if (rec->last_seq >= rec->first_seq)
		FUZZ_CHECK(rec->next_seq > rec->last_seq);
	FUZZ_CHECK(memchr(rec->message, '\0', sizeof(rec->message)) != NULL);
	for (i = 0; i < n; i++) {
		const struct sl_journal_damage *d = sl_journal_damage_get(j, i);

		FUZZ_CHECK(d != NULL);
		FUZZ_CHECK(d->kind >= SL_JDMG_CORRUPT && d->kind <= SL_JDMG_SHORT);
		if (d->kind != SL_JDMG_HEADER && d->kind != SL_JDMG_SHORT &&
		    d->seq_lo <= d->seq_hi)
			FUZZ_CHECK(d->seq_hi < rec->next_seq);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "appended after recovery";
	struct sl_journal_recovery rec, rec2;
	struct sl_journal_conf conf;
	struct sl_journal *j = NULL;
	struct sl_jrec_view v;
	uint64_t claimed, seq;
	uint8_t flags;
	int rc;

	if (size < 1 || size > SEG_MAX + 1)
		return 0;
	flags = data[0];
	data++, size--;
	fuzz_empty_dir(dir);
	mkdir(dir, 0700);
	if ((flags & 4) && size >= META_LEN) {
		size -= META_LEN;
		if (fuzz_write_file(meta, data + size, META_LEN) < 0)
			return 0;
	}
	if (fuzz_write_file(seg, data, size) < 0)
		return 0;
	if ((flags & 1) && size >= 24) {
		memcpy(&claimed, data + 16, 8); /* header: segment_bytes */
		if (claimed > size && claimed <= SEG_MAX && truncate(seg, (off_t)claimed) < 0)
			return 0;
	}

	open_conf(&conf, flags & 2);
	memset(&rec, 0, sizeof(rec));
	rc = sl_journal_open(&j, dir, &conf, &rec);
	if (rc < 0) {
		FUZZ_CHECK(j == NULL || rc != 0);
		return 0;
	}
	check_recovery(j, &rec);
	(void)read_all(j, &rec);
	if (!(flags & 2) && !sl_journal_damaged(j)) {
		rc = sl_journal_append(j, msg, sizeof(msg), 1, 2, 3, &seq);
		if (rc == 0) {
			FUZZ_CHECK(seq >= rec.next_seq);
			FUZZ_CHECK(sl_journal_sync(j) == 0);
			FUZZ_CHECK(sl_journal_read(j, seq, &v) == 0);
			FUZZ_CHECK(v.len == sizeof(msg) && memcmp(v.data, msg, sizeof(msg)) == 0);
		}
	}
	sl_journal_close(j);

	/* Recovery settles: a second open finds no torn tail the first one
	 * cut, and never hands out a sequence the first one saw. */
	j = NULL;
	memset(&rec2, 0, sizeof(rec2));
	rc = sl_journal_open(&j, dir, &conf, &rec2);
	if (rc == 0) {
		check_recovery(j, &rec2);
		FUZZ_CHECK(rec2.next_seq >= rec.next_seq);
		if (!(flags & 2))
			FUZZ_CHECK(!rec2.torn);
		sl_journal_close(j);
	}
	return 0;
}
