/* SPDX-License-Identifier: BSD-3-Clause */
/* Opening a journal: journal.meta, and recovery (scan, verify, cut a torn tail,
 * report damage) of every segment; closing it. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/clock.h>

#include "journal_internal.h"

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

/*
 * Where the bytes this use of @s may have written past @off end (@off if
 * none). In a file's first use, the last non-zero byte, plus one: nothing
 * was there before. In a reused one every byte past this use's is an
 * earlier use's, none zero: there the end of the last record commit word
 * or end marker of this use's tag, found at any aligned offset (a torn
 * record whose commit word never landed left nothing that could be taken
 * for a record of this use, so it may stay).
 */
uint64_t
sl_jtail_end(const struct seg *s, uint64_t off)
{
	uint64_t hi = s->size, w, e, end = sl_jseg_end(s);
	uint32_t tag = sl_jseg_tag(s);

	if (!sl_jseg_reused(s)) {
		while (hi > off && s->base[hi - 1] == 0)
			hi--;
		return hi;
	}
	for (hi = off; off + sizeof(w) <= s->size; off += 8) {
		w = *(const uint64_t *)(s->base + off);
		if ((w >> 32) == tag && (uint32_t)w <= SL_JREC_MAX_PAYLOAD)
			e = off + SREC_BYTES(s, (uint32_t)w);
		else if (w == end || (w >> 32) == tag)
			e = off + sizeof(w);
		else
			continue;
		if (e > hi)
			hi = e < s->size ? e : s->size;
	}
	return hi;
}

/* Nothing of this use of @s past @off: zeros, or an earlier use's bytes. */
static int
blank(const struct seg *s, uint64_t off)
{
	return sl_jseg_reused(s) ? sl_jtail_end(s, off) <= off : all_zero(s, off, s->size);
}

/* The next valid record after @off with seq >= @seq (and < @below when not
 * 0), found by trying every aligned offset; 0 if none. */
static uint64_t
resync(const struct seg *s, uint64_t off, uint64_t seq, uint64_t below)
{
	const struct sl_jrec *r;

	for (off += 8; off + s->rec_hdr <= s->size; off += 8) {
		r = sl_jrec_at(s, off, 0);
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

	while (off + s->rec_hdr <= s->size) {
		w = *(const uint64_t *)(s->base + off);
		if ((w >> 32) != sl_jseg_tag(s) || (uint32_t)w > SL_JREC_MAX_PAYLOAD)
			break;
		n++;
		off += SREC_BYTES(s, (uint32_t)w);
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

	for (; off + s->rec_hdr <= s->size; off += 8) {
		if ((*(const uint64_t *)(s->base + off) >> 32) != sl_jseg_tag(s))
			continue;
		r = sl_jrec_at(s, off, 0);
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

	for (off += 8; off + s->rec_hdr <= s->size; off += 8) {
		r = sl_jrec_at(s, off, 0);
		if (r && r->seq > seq && sl_jrec_batch(r, s->version) > seq)
			return 1;
	}
	return 0;
}

static void
accept(struct sl_journal *j, struct seg *s, const struct sl_jrec *r, uint64_t off, int force)
{
	sl_jidx_add(s, r->seq, r->timestamp, off, force ? 0 : j->conf.index_every, 1);
	sl_jepoch_note(j, r->seq, sl_jrec_epoch(r, s->version));
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
	int force = 0, rc = 0, cut = 0;

	*tail_off = 0;
	while (rc == 0 && off + sizeof(uint64_t) <= s->size) {
		if (next_first == 0 && j->trunc_pending && expect >= j->trunc_pending) {
			cut = 1; /* a truncation to finish: what follows goes */
			break;
		}
		if (*(const uint64_t *)(s->base + off) == sl_jseg_end(s)) {
			s->closed = 1;
			break;
		}
		r = sl_jrec_at(s, off, 0);
		if (r && r->seq == expect) {
			accept(j, s, r, off, force);
			force = 0;
			off += SREC_BYTES(s, r->len);
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
	if (!cut && !s->closed && off + sizeof(uint64_t) <= s->size + 8) {
		/* (A record of this use whose commit word is damaged is not
		 * blank: in a reused segment its word alone cannot say so.) */
		int zero = blank(s, off) && !(sl_jseg_reused(s) && sl_jrec_own(s, off));
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
			rec->truncated_bytes += sl_jtail_end(s, off) - off;
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
			      *(const uint64_t *)(s->base + s->used) == sl_jseg_end(s))
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
	uint64_t hi = sl_jtail_end(s, off);

	if (hi <= off)
		return 0;
	memset(s->base + off, 0, hi - off);
	return sl_jpersist_range(j, s, off, hi);
}

static int
hdr_valid(const struct sl_journal *j, const struct seg *s, uint64_t first_seq)
{
	const struct seg_hdr *h = (const struct seg_hdr *)s->base;

	return s->size >= SL_JSEG_HDR && h->magic == SL_JOURNAL_MAGIC &&
	       SEG_VERSION_KNOWN(h->version) && h->first_seq == first_seq &&
	       h->segment_bytes == j->seg_bytes && s->size <= j->seg_bytes &&
	       (h->version < SEG_VERSION_V4 || (h->gen >= 1 && h->gen <= SL_JSEG_GEN_MAX)) &&
	       h->crc == sl_jseg_hdr_crc(h);
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
		if (h->commit[k] != sl_jwm_encode(s->first_seq, cnt) || (s->wm_valid && cnt < best))
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

	sl_jseg_path(j, first, path, sizeof(path));
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
		sl_jseg_path(j, firsts[i], path, sizeof(path));
		if (stat(path, &st) < 0)
			return -errno;
		if (st.st_size < SL_JSEG_HDR) {
			sf[i].lost = 1;
			continue;
		}
		rc = sl_jseg_map(j, path, &s, 1);
		if (rc < 0) {
			snprintf(rec->message, sizeof(rec->message), "segment %.160s: %s", path,
				 strerror(-rc));
			return rc;
		}
		s.first_seq = firsts[i];
		s.last_seq = firsts[i] - 1;
		/* Records of the version the header names. */
		s.version = s.size >= SL_JSEG_HDR ? ((const struct seg_hdr *)s.base)->version
						  : SEG_VERSION;
		/* Its generation as the header says, damaged or not: records of
		 * an earlier use still fail (their tag and CRC are another
		 * generation's). A version field that is not one: a
		 * generation says the current version, none the last layout
		 * before generations. */
		s.gen = s.size >= SL_JSEG_HDR ? ((const struct seg_hdr *)s.base)->gen : 0;
		if (!SEG_VERSION_KNOWN(s.version))
			s.version = s.gen ? SEG_VERSION : SEG_VERSION_V3;
		if (s.version < SEG_VERSION_V4)
			s.gen = 0;
		s.rec_hdr = s.version == SEG_VERSION_V1 ? SL_JREC_V1_BYTES : sizeof(struct sl_jrec);
		s.cap_idx = sl_jidx_cap(j);
		s.idx = malloc(s.cap_idx * sizeof(*s.idx));
		if (s.idx == NULL) {
			sl_jseg_unmap(&s);
			return -ENOMEM;
		}
		sf[i].has_rec = sl_jrec_at(&s, SL_JSEG_HDR, firsts[i]) != NULL;
		if (!hdr_valid(j, &s, firsts[i])) {
			/* A roll whose header never reached the media: a last
			 * segment that cannot hold a record yet. */
			if (i == n - 1 && !sf[i].has_rec && s.size == j->seg_bytes) {
				sl_jseg_unmap(&s);
				sf[i].residue = 1;
				continue;
			}
			rc = hole_add(j, firsts[i], firsts[i] - 1, &s, firsts[i], 0, SL_JDMG_HEADER,
				      rec);
			s.closed = 1;
			s.hdr_bad = 1;
		} else {
			wm_load(&s);
			rc = 0;
		}
		if (rc == 0)
			rc = sl_jsegs_push(j, &s);
		if (rc < 0) {
			sl_jseg_unmap(&s);
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
	uint64_t e = sl_jtail_end(s, SL_JSEG_HDR);

	return e >= SL_JSEG_HDR + 8 &&
	       *(const uint64_t *)(s->base + ((e - 1) & ~(uint64_t)7)) == sl_jseg_end(s);
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
		if (!f->lost && (f->has_rec || f->seg < 0 || !blank(&j->segs[f->seg], SL_JSEG_HDR)))
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
	uint64_t end = sl_jseg_end(s);
	struct seg next;
	int rc;

	if (s->used + sizeof(end) <= s->size) {
		sl_jcopy(s, s->used, &end, sizeof(end));
		rc = sl_jpersist_range(j, s, s->used, s->used + sizeof(end));
		if (rc < 0)
			return rc;
	}
	s->closed = 1;
	rc = sl_jseg_create(j, j->next_seq, &next);
	if (rc == 0) {
		rc = sl_jsegs_push(j, &next);
		if (rc < 0)
			sl_jseg_unmap(&next);
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
	rc = sl_jpersist_range(j, s, SL_JSEG_HDR, s->used);
	return rc == 0 ? sl_jwm_persist(j, s, s->last_seq) : rc;
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
			sl_jseg_unmap(&j->segs[--j->n_segs]);
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
		rc = j->trunc_pending ? sl_jseg_cut(j, s, s->used, j->trunc_pending - 1) : 0;
		if (rc == 0)
			rc = commit_kept(j, s);
		if (rc == 0 && reserved)
			rc = reserve_roll(j, s);
	}
out:
	free(sf);
	return rc;
}

/*
 * A truncation (sl_journal_truncate) stopped by a crash: journal.meta says
 * what it keeps. The segment files past it leave the list (and the
 * directory, unless read-only); recovery stops the last one's scan after
 * the kept records and cuts the rest (journal_truncate.c), so the journal
 * opens as the truncation left it when done.
 */
static int
trunc_files(struct sl_journal *j, const uint64_t *firsts, uint32_t *n)
{
	char path[PATH_MAX + 32];
	int removed = 0;

	while (*n && firsts[*n - 1] >= j->trunc_pending) {
		(*n)--;
		if (j->conf.read_only)
			continue;
		sl_jseg_path(j, firsts[*n], path, sizeof(path));
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		removed = 1;
	}
	return removed ? sl_journal_sync_dir(j->dir) : 0;
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
	/* A roll's spare not yet renamed holds records: it is named first. */
	if (rc == 0 && !conf->read_only)
		rc = sl_jspares_recover(j);
	if (rc == 0)
		rc = list_segments(dir, &firsts, &n);
	meta = rc == 0 ? sl_jmeta_load(j, rec, &created) : rc;
	rc = meta < 0 ? meta : 0;
	if (meta == 1 && n == 0) { /* a new journal */
		j->seg_bytes = conf->segment_bytes;
		created = sl_wall_ns();
		rc = conf->read_only ? -ENOENT : sl_jmeta_write(j, created, 0, 0, 1);
	} else if (meta == 1 || meta == 2) {
		if (meta == 1) {
			rec->meta_damaged = 2;
			snprintf(rec->meta_note, sizeof(rec->meta_note), META_NAME " is missing; "
				 "rebuilt from the segment headers");
		}
		j->seg_bytes = sl_jmeta_rebuild_seg_bytes(j, firsts, n);
		created = sl_wall_ns();
	}
	if (rc == 0 && j->trunc_pending)
		rc = trunc_files(j, firsts, &n);
	if (rc == 0)
		rc = recover(j, firsts, n, rec);
	if (rc == 0 && j->trunc_pending && j->next_seq < j->trunc_pending)
		j->next_seq = j->trunc_pending; /* everything went: it starts after keep */
	if (rc == 0 && j->trunc_pending && !conf->read_only) {
		rc = sl_jmeta_write(j, created, j->next_seq - 1, 0, 1);
		j->trunc_pending = 0;
	}
	if (rc == 0 && rec->meta_damaged && !conf->read_only)
		rc = sl_jmeta_write(j, created, j->next_seq - 1, 0, 1);
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
	j->epoch = sl_journal_last_epoch(j); /* appends never go below it */
	recovery_summary(j, rec);
	if (!conf->read_only) {
		/* The next segment (or the first) is prepared ahead at once: at a
		 * high rate a segment fills faster than one can be made ready.
		 * With a preparing thread, the first spare is made here, so that
		 * the first append finds it (a failure is the preparer's to
		 * retry: the journal opens). */
		sl_jsegs_hint(j);
		j->prep_cap = j->cap_segs;
		j->sp_depth = conf->spares ? conf->spares : (uint32_t)(SL_JSPARE_BYTES / j->seg_bytes);
		if (j->sp_depth < 1)
			j->sp_depth = 1;
		if (j->sp_depth > SL_JSPARES_MAX)
			j->sp_depth = SL_JSPARES_MAX;
		j->pool_max = conf->recycle < 0 ? 0 : conf->recycle ? (uint32_t)conf->recycle
								   : j->sp_depth;
		if (j->pool_max > SL_JRECYCLE_MAX)
			j->pool_max = SL_JRECYCLE_MAX;
		while (conf->prepared_only && sl_journal_prepare(j) == 1)
			;
	}
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
		(void)sl_jmeta_write(j, j->created_ns, j->next_seq - 1, 0, 0);
	/* No preparing thread runs now (the caller's contract): what the
	 * owner handed over is done here. */
	sl_jchores_run(j);
	sl_jspare_drop(j);
	for (i = 0; i < j->n_segs; i++)
		sl_jseg_unmap(&j->segs[i]);
	free(j->segs);
	free(j->holes);
	free(j);
}