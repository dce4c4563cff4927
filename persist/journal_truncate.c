/* SPDX-License-Identifier: BSD-3-Clause */
/* Journal truncation: removing the records above a sequence (a replica discarding a
 * divergent tail), crash safe through an intent kept in journal.meta. */

#include <errno.h>
#include <string.h>

#include "journal_internal.h"

/* Tests stop the process here (conf.ops->step). */
static void
step(struct sl_journal *j)
{
	if (j->ops->step)
		j->ops->step(j->steps++);
}

/* Did recovery find damage in @s (a range it skips when reading)? */
static int
seg_damaged(const struct sl_journal *j, const struct seg *s)
{
	uint32_t i;

	for (i = 0; i < j->n_holes; i++)
		if (j->holes[i].segment == s->first_seq)
			return 1;
	return 0;
}

int
sl_jseg_cut(struct sl_journal *j, struct seg *s, uint64_t off, uint64_t keep)
{
	uint64_t slot = offsetof(struct seg_hdr, commit), hi, wm;
	uint64_t last = keep >= s->first_seq ? keep : s->first_seq - 1;
	int rc;

	/* The watermark first, both slots (recovery takes the larger of two
	 * valid ones): the records past it are no longer committed. Then
	 * their bytes go. A crash between leaves them above the watermark:
	 * the truncation intent in journal.meta has the next open finish. */
	wm = sl_jwm_encode(s->first_seq, (uint32_t)(last + 1 - s->first_seq));
	__atomic_store_n((uint64_t *)(s->base + slot), wm, __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(s->base + slot + 8), wm, __ATOMIC_RELAXED);
	rc = sl_jpersist_range(j, s, slot, slot + 16);
	if (rc < 0)
		return rc;
	step(j);
	hi = sl_jtail_end(s, off);
	if (hi > off) {
		memset(s->base + off, 0, hi - off);
		rc = sl_jpersist_range(j, s, off, hi);
		if (rc < 0)
			return rc;
	}
	s->used = off;
	s->last_seq = last;
	s->wm_seq = last;
	s->wm_valid = 1;
	s->wm_slot = 0;
	/* Appended to again, unless damaged (a bad header, a file cut short,
	 * damaged records kept: reads walk records from an index entry, and
	 * one past skipped bytes is only made by recovery, so appends go to a
	 * new segment, as after damage at the end of the last one). */
	s->closed = s->hdr_bad || s->size < j->seg_bytes || seg_damaged(j, s);
	while (s->n_idx && s->idx[s->n_idx - 1].seq > last)
		s->n_idx--;
	s->idx_last_off = s->n_idx ? s->idx[s->n_idx - 1].off : 0;
	return 0;
}

/* Below every damaged range: the records kept end at a valid one. */
static uint64_t
keep_valid(const struct sl_journal *j, uint64_t keep)
{
	uint32_t i;

	for (i = j->n_holes; i-- > 0;)
		if (j->holes[i].seq_lo <= keep && keep <= j->holes[i].seq_hi)
			keep = j->holes[i].seq_lo - 1;
	return keep;
}

/* Damaged ranges past @keep go with the records (a range naming no
 * sequence goes with its segment). */
static void
holes_trim(struct sl_journal *j, uint64_t keep)
{
	uint32_t i, n = 0;

	for (i = 0; i < j->n_holes; i++) {
		const struct sl_journal_damage *h = &j->holes[i];
		int stays = h->seq_lo <= h->seq_hi ? h->seq_hi <= keep : h->segment <= keep;

		if (stays)
			j->holes[n++] = *h;
	}
	j->n_holes = n;
}

/* The segments past @keep leave, the one holding it is cut after it. */
static int
truncate_segments(struct sl_journal *j, uint64_t keep)
{
	struct sl_jrec_view v;
	struct seg *s;
	uint64_t off;
	int rc;

	/* Every segment has its name (renames done), nothing else pending. */
	sl_jchores_drain(j);
	while (j->n_segs && j->segs[j->n_segs - 1].first_seq > keep) {
		step(j);
		if (sl_jseg_retire_last(j) < 0) {
			sl_jchores_drain(j);
			continue;
		}
		sl_jchores_drain(j); /* kept for reuse, or deleted */
	}
	rc = sl_journal_sync_dir(j->dir);
	if (rc < 0 || j->n_segs == 0)
		return rc;
	s = &j->segs[j->n_segs - 1];
	off = s->used;
	if (keep <= s->last_seq && keep >= s->first_seq) {
		rc = sl_journal_read(j, keep, &v);
		if (rc < 0)
			return rc;
		off = (uint64_t)((const uint8_t *)v.data - s->base) + ALIGN8((uint64_t)v.len);
		s->last_ts = v.timestamp;
	}
	step(j);
	return sl_jseg_cut(j, s, off, keep);
}

int
sl_journal_truncate(struct sl_journal *j, uint64_t keep)
{
	int rc;

	if (j->damaged)
		return -EROFS;
	keep = keep_valid(j, keep);
	if (keep >= j->next_seq - 1)
		return 0;
	rc = sl_journal_sync(j);
	if (rc < 0)
		return rc;
	/* The intent first: from here on, an open finishes the truncation. */
	j->steps = 0;
	step(j);
	rc = sl_jmeta_write(j, j->created_ns, keep, keep + 1, 1);
	if (rc < 0)
		goto fail;
	holes_trim(j, keep); /* (before the cut, which asks about the damage left) */
	rc = truncate_segments(j, keep);
	if (rc < 0)
		goto fail;
	j->next_seq = keep + 1;
	j->durable_seq = keep;
	j->meta_last = keep;
	j->rd_seq = 0; /* invalidate the read cursor */
	sl_jepoch_trim(j, j->n_segs ? j->segs[0].first_seq : keep + 1, keep);
	sl_jsegs_hint(j);
	step(j);
	/* Done: the intent goes (an append above @keep must not be cut by a
	 * later open). */
	rc = sl_jmeta_write(j, j->created_ns, keep, 0, 1);
	if (rc < 0)
		goto fail;
	step(j);
	return 0;

fail:
	/* journal.meta may hold the intent: nothing more may be appended
	 * (the next open finishes the truncation). */
	j->damaged = 1;
	return rc;
}
