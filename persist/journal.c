/* SPDX-License-Identifier: BSD-3-Clause */
/* Journal appends, group commit, reads and retention's choice of segments: the
 * owner's side, which makes no file-system call and allocates nothing. */

#include <errno.h>
#include <inttypes.h>
#include <libpmem.h>
#include <stdlib.h>
#include <string.h>

#include <common/clock.h>

#include "journal_internal.h"

_Static_assert(sizeof(struct sl_jrec) == 64, "journal record header");
_Static_assert(offsetof(struct sl_jrec, crc) == 48, "crc offset");
_Static_assert(offsetof(struct sl_jrec, producer_epoch) == SL_JREC_V1_BYTES, "v2 fields");
_Static_assert(offsetof(struct sl_jrec, batch_back) == 16, "v5 batch");
_Static_assert(offsetof(struct sl_jrec, leader_epoch) == 20, "v5 leader epoch");

const struct sl_persist_ops sl_persist_libpmem = {
	.flush = pmem_flush,
	.drain = pmem_drain,
	.msync = pmem_msync,
	.is_pmem = pmem_is_pmem,
};

/* --- records ----------------------------------------------------------------- */

/* CRC of record @r of segment version @version (header of @hdr bytes: 56
 * in version 1); from version 4 it covers the segment's generation @gen
 * first, so a record of another use of the file never passes as this one's. */
static uint32_t
rec_crc(const struct sl_jrec *r, uint32_t hdr, uint32_t version, uint32_t gen,
	const void *payload)
{
	uint32_t c = version >= SEG_VERSION_V4 ? sl_crc32c(0, &gen, sizeof(gen)) : 0;

	c = sl_crc32c(c, (const uint8_t *)r + CRC_FROM, CRC_LEN);
	if (hdr > SL_JREC_V1_BYTES)
		c = sl_crc32c(c, (const uint8_t *)r + SL_JREC_V1_BYTES, hdr - SL_JREC_V1_BYTES);
	return sl_crc32c(c, payload, r->len);
}

const struct sl_jrec *
sl_jrec_at(const struct seg *s, uint64_t off, uint64_t seq)
{
	const struct sl_jrec *r;
	uint32_t len;

	if (off + s->rec_hdr > s->size)
		return NULL;
	r = (const struct sl_jrec *)(s->base + off);
	if ((r->commit >> 32) != sl_jseg_tag(s))
		return NULL;
	len = (uint32_t)r->commit;
	if (len != r->len || len > SL_JREC_MAX_PAYLOAD || off + SREC_BYTES(s, len) > s->size)
		return NULL;
	if ((seq && r->seq != seq) || sl_jrec_batch(r, s->version) > r->seq ||
	    sl_jrec_batch(r, s->version) == 0)
		return NULL;
	/* A record below this use's first sequence is not one of its records
	 * (belt and braces to the tag and the CRC, which are what keep an
	 * earlier use's records out: after sl_journal_truncate an earlier
	 * use's sequences may be above this use's). */
	if (s->version >= SEG_VERSION_V4 && r->seq < s->first_seq)
		return NULL;
	return rec_crc(r, s->rec_hdr, s->version, s->gen, (const uint8_t *)r + s->rec_hdr) == r->crc
		       ? r : NULL;
}

int
sl_jrec_own(const struct seg *s, uint64_t off)
{
	const struct sl_jrec *r = (const struct sl_jrec *)(s->base + off);

	return s->version >= SEG_VERSION_V4 && off + s->rec_hdr <= s->size &&
	       r->len <= SL_JREC_MAX_PAYLOAD && off + SREC_BYTES(s, r->len) <= s->size &&
	       r->seq >= s->first_seq &&
	       rec_crc(r, s->rec_hdr, s->version, s->gen, (const uint8_t *)r + s->rec_hdr) == r->crc;
}

uint32_t
sl_jidx_cap(const struct sl_journal *j)
{
	uint64_t room = j->seg_bytes - SL_JSEG_HDR;
	uint64_t by_rec = room / REC_BYTES(0), by_every = room / j->conf.index_every;

	/* An entry is added at most once per index_every bytes, the first at
	 * the segment's first record: room / every + 1, and no more than one
	 * per record. */
	return (uint32_t)((by_rec < by_every ? by_rec : by_every) + 2);
}

/* --- persistence ------------------------------------------------------------------ */

/*
 * Records are written with ordinary stores, pmem or not; what makes them
 * durable is persist_range at the group commit: on pmem one write-back per
 * cache line of the batch and one drain (a line shared by two records, or
 * by a record's header and its commit word, is written back once, not once
 * per store), on files one msync.
 */
/* Make [lo, hi) of @s durable. */
int
sl_jpersist_range(struct sl_journal *j, struct seg *s, uint64_t lo, uint64_t hi)
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
uint64_t
sl_jwm_encode(uint64_t first_seq, uint32_t count)
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
int
sl_jwm_persist(struct sl_journal *j, struct seg *s, uint64_t last_seq)
{
	uint64_t v = sl_jwm_encode(s->first_seq, (uint32_t)(last_seq + 1 - s->first_seq));
	uint64_t off = offsetof(struct seg_hdr, commit) + s->wm_slot * sizeof(uint64_t);
	int rc;

	__atomic_store_n((uint64_t *)(s->base + off), v, __ATOMIC_RELAXED);
	rc = sl_jpersist_range(j, s, off, off + sizeof(v));
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
	rc = sl_jpersist_range(j, s, j->dirty_lo, j->dirty_hi);
	if (rc == 0)
		rc = sl_jwm_persist(j, s, j->next_seq - 1);
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

/* Stamp a fresh segment's header and make it durable (a persist, as at a
 * group commit: no other system call); start it empty at @first_seq. */
int
sl_jseg_stamp(struct sl_journal *j, struct seg *s, uint64_t first_seq, uint64_t created_ns)
{
	struct seg_hdr h = { 0 };
	int rc;

	h.magic = SL_JOURNAL_MAGIC;
	h.version = SEG_VERSION;
	h.hdr_size = SL_JSEG_HDR;
	h.segment_bytes = j->seg_bytes;
	h.first_seq = first_seq;
	h.created_ns = created_ns;
	if (s->gen == 0)
		s->gen = 1; /* the file's first use */
	h.gen = s->gen;
	h.crc = sl_jseg_hdr_crc(&h);
	h.commit[0] = sl_jwm_encode(first_seq, 0); /* nothing committed yet, and known so */
	sl_jcopy(s, 0, &h, sizeof(h));
	rc = sl_jpersist_range(j, s, 0, sizeof(h));
	if (rc == 0) {
		s->rec_hdr = sizeof(struct sl_jrec);
		s->version = SEG_VERSION;
		s->used = SL_JSEG_HDR;
		s->first_seq = first_seq;
		s->last_seq = first_seq - 1;
		s->wm_seq = first_seq - 1;
		s->wm_valid = 1;
		s->wm_slot = 1;
	}
	return rc;
}

/* --- retention --------------------------------------------------------------------- */

static uint64_t
total_bytes(const struct sl_journal *j)
{
	return (uint64_t)j->n_segs * j->seg_bytes;
}

/* Writer: adopt the limits last set by sl_journal_set_limits, if any. */
static void
limits_take(struct sl_journal *j)
{
	uint32_t g = __atomic_load_n(&j->want_limits, __ATOMIC_ACQUIRE);

	if (g == j->have_limits)
		return;
	j->have_limits = g;
	/* Relaxed store: the preparer reads it when it decides whether a
	 * retired segment may be kept for reuse (journal_segment.c). */
	__atomic_store_n(&j->conf.capacity_bytes,
			 __atomic_load_n(&j->want_capacity, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
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

void
sl_journal_set_floor(struct sl_journal *j, uint64_t seq)
{
	__atomic_store_n(&j->floor, seq, __ATOMIC_RELAXED);
}

uint64_t
sl_journal_floor(const struct sl_journal *j)
{
	return __atomic_load_n(&j->floor, __ATOMIC_RELAXED);
}

uint64_t
sl_journal_floor_overrides(const struct sl_journal *j)
{
	return __atomic_load_n(&j->floor_overrides, __ATOMIC_RELAXED);
}

/* The next roll would be refused for capacity: the floor gives way. */
static int
at_capacity(const struct sl_journal *j)
{
	return j->conf.capacity_bytes &&
	       total_bytes(j) + j->seg_bytes > j->conf.capacity_bytes;
}

int
sl_journal_retain(struct sl_journal *j, uint64_t now)
{
	const struct sl_journal_conf *c = &j->conf;
	uint64_t floor = sl_journal_floor(j);
	int n = 0;

	limits_take(j);
	/* Never the last segment: it is the one being written. */
	while (j->n_segs > 1) {
		const struct seg *s = &j->segs[0];
		int by_size = c->retain_bytes && total_bytes(j) > c->retain_bytes;
		int by_age = c->retain_age_ns && s->last_ts + c->retain_age_ns < now;
		int held = floor != 0 && s->last_seq >= floor;

		if (!by_size && !by_age)
			break;
		/* A group still needs it: kept, unless the journal is full
		 * (then retention wins and the group sees a gap). */
		if (held && !at_capacity(j))
			break;
		/* Handed to the preparer, which unmaps and unlinks it: no
		 * system call here. A full hand-over ring waits for the next pass. */
		if (sl_jseg_retire_oldest(j) < 0)
			break;
		if (held)
			__atomic_store_n(&j->floor_overrides, j->floor_overrides + 1,
					 __ATOMIC_RELAXED);
		n++;
	}
	if (n && !j->conf.prepared_only)
		sl_jchores_run(j);
	return n;
}
/* --- append -------------------------------------------------------------------------- */

/*
 * Close the full segment with an end marker, make it durable, start the
 * next in the prepared spare. Nothing here makes a system call (on files,
 * the persists are msyncs: the group commit's own) or allocates: the spare
 * was made, and is renamed and its holder freed, by sl_journal_prepare.
 */
static int
roll(struct sl_journal *j, uint64_t now)
{
	uint64_t end;
	struct spare *next;
	struct seg *cur;
	int rc;

	limits_take(j);
	if (j->conf.capacity_bytes && total_bytes(j) + j->seg_bytes > j->conf.capacity_bytes) {
		rc = sl_journal_retain(j, now);
		if (rc < 0)
			return rc;
		if (total_bytes(j) + j->seg_bytes > j->conf.capacity_bytes)
			return -ENOSPC;
	}
	rc = sl_jseg_take(j, j->next_seq, &next);
	if (rc < 0)
		return rc;
	/* Everything in the old segment is durable before the new one gets a
	 * record: recovery relies on it to call damage in an old segment. */
	cur = &j->segs[j->n_segs - 1];
	if (!cur->closed) {
		end = sl_jseg_end(cur);
		sl_jcopy(cur, cur->used, &end, sizeof(end));
		if (j->batch_first == 0)
			j->dirty_lo = cur->used;
		j->batch_first = j->batch_first ? j->batch_first : j->next_seq;
		j->dirty_hi = cur->used + sizeof(end);
		cur->closed = 1;
	}
	rc = sl_journal_sync(j);
	if (rc < 0) {
		sl_jseg_giveup(j, next);
		return rc;
	}
	return sl_jseg_start(j, next);
}

int
sl_journal_append(struct sl_journal *j, const void *data, uint32_t len, uint64_t timestamp,
		  uint64_t producer_id, uint64_t producer_seq, uint64_t *seq)
{
	return sl_journal_append_producer(j, data, len, timestamp, producer_id, 0, producer_seq,
					  seq);
}

int
sl_journal_append_producer(struct sl_journal *j, const void *data, uint32_t len,
			   uint64_t timestamp, uint64_t producer_id, uint32_t producer_epoch,
			   uint64_t producer_seq, uint64_t *seq)
{
	return sl_journal_append_hdrs(j, data, len, 0, timestamp, producer_id, producer_epoch,
				      producer_seq, seq);
}

/* Every append comes here; its record carries the leader epoch j->epoch
 * (sl_journal_append_replica sets it for its record). */
int
sl_journal_append_hdrs(struct sl_journal *j, const void *data, uint32_t len, uint16_t hdrs_len,
		       uint64_t timestamp, uint64_t producer_id, uint32_t producer_epoch,
		       uint64_t producer_seq, uint64_t *seq)
{
	uint64_t need = REC_BYTES(len), commit;
	uint32_t epoch = j->epoch;
	struct sl_jrec r;
	struct seg *s;
	int rc;

	if (j->damaged)
		return -EROFS;
	if (len > SL_JREC_MAX_PAYLOAD || need + SL_JSEG_HDR + 8 > j->seg_bytes)
		return -EMSGSIZE;
	if (hdrs_len > len)
		return -EINVAL;
	if (j->n_segs == 0) {
		struct spare *first;

		rc = sl_jseg_take(j, j->next_seq, &first);
		if (rc == 0)
			rc = sl_jseg_start(j, first);
		if (rc < 0)
			return rc;
	}
	s = &j->segs[j->n_segs - 1];
	/* Room for the end marker; a segment of an older version gets no new
	 * record (an older reader would take a header block for payload). */
	if (s->closed || s->used + need + 8 > s->size || s->version != SEG_VERSION) {
		rc = roll(j, timestamp);
		if (rc < 0)
			return rc;
		s = &j->segs[j->n_segs - 1];
	}
	if (j->batch_first == 0) {
		j->batch_first = j->next_seq;
		j->dirty_lo = s->used;
	}
	r = (struct sl_jrec){ .commit = 0, .seq = j->next_seq,
			      .batch_back = (uint32_t)(j->next_seq - j->batch_first),
			      .leader_epoch = epoch, .timestamp = timestamp, .producer_id = producer_id,
			      .producer_seq = producer_seq, .len = len,
			      .producer_epoch = producer_epoch,
			      .flags = hdrs_len ? SL_JREC_F_HDRS | (uint32_t)hdrs_len << 16 : 0 };
	r.crc = rec_crc(&r, sizeof(r), SEG_VERSION, s->gen, data);
	commit = (uint64_t)sl_jseg_tag(s) << 32 | len;
	sl_jcopy(s, s->used + sizeof(uint64_t), (const uint8_t *)&r + sizeof(uint64_t),
	     sizeof(r) - sizeof(uint64_t));
	if (len)
		sl_jcopy(s, s->used + sizeof(r), data, len);
	/* The commit word goes last in program order; the CRC, not the order,
	 * is what recovery trusts (the media may persist in any order). */
	sl_jcopy(s, s->used, &commit, sizeof(commit));
	sl_jidx_add(s, r.seq, timestamp, s->used, j->conf.index_every, 0);
	s->used += need;
	s->last_seq = r.seq;
	s->last_ts = timestamp;
	j->dirty_hi = s->used;
	sl_jepoch_note(j, r.seq, epoch);
	*seq = j->next_seq++;
	return 0;
}
/* --- reading ----------------------------------------------------------------------------- */

static void
view_of(const struct seg *s, const struct sl_jrec *r, struct sl_jrec_view *v)
{
	v->seq = r->seq;
	v->timestamp = r->timestamp;
	v->producer_id = r->producer_id;
	v->producer_seq = r->producer_seq;
	v->len = r->len;
	v->producer_epoch = s->rec_hdr > SL_JREC_V1_BYTES ? r->producer_epoch : 0;
	v->leader_epoch = sl_jrec_epoch(r, s->version);
	v->data = (const uint8_t *)r + s->rec_hdr;
	/* Flags exist from version 3 on (covered by the CRC, so never a
	 * length past the record's). */
	v->hdrs_len = s->version >= SEG_VERSION_V3 && (r->flags & SL_JREC_F_HDRS) &&
				      (r->flags >> 16) <= r->len
			      ? (uint16_t)(r->flags >> 16) : 0;
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

/* Does a damaged range recovery reported start at @off of segment @s? */
static int
skipped_at(const struct sl_journal *j, const struct seg *s, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < j->n_holes; i++)
		if (j->holes[i].segment == s->first_seq && j->holes[i].offset == off)
			return 1;
	return 0;
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
	/* Replay reads in order: continue from the previous read when we can.
	 * Not where recovery skipped damaged bytes that lost no record (they
	 * may even hold a copy of the next record that failed its CRC): the
	 * index has an entry past them. */
	si = j->n_segs;
	if (seq == j->rd_seq && j->rd_seg < j->n_segs) {
		si = j->rd_seg;
		off = j->rd_off;
		if (off >= j->segs[si].used && si + 1 < j->n_segs) {
			si++;
			off = SL_JSEG_HDR;
		}
		if (j->n_holes && skipped_at(j, &j->segs[si], off))
			si = j->n_segs;
	}
	if (si == j->n_segs) {
		si = seg_find(j, seq);
		off = idx_find(&j->segs[si], seq);
	}
	s = &j->segs[si];
	for (;;) {
		if (off + s->rec_hdr > s->used)
			return -EUCLEAN; /* index or cursor out of step: never guess */
		r = (const struct sl_jrec *)(s->base + off);
		if ((r->commit >> 32) != sl_jseg_tag(s) || r->len > SL_JREC_MAX_PAYLOAD ||
		    r->seq > seq)
			return -EUCLEAN;
		if (r->seq == seq)
			break;
		off += SREC_BYTES(s, r->len);
	}
	view_of(s, r, out);
	j->rd_seg = si;
	j->rd_off = off + SREC_BYTES(s, r->len);
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
			" of %zu bytes  %s  version %u, generation %u%s\n", s->first_seq,
			s->first_seq, s->last_seq, s->used, s->size,
			s->is_pmem ? "pmem" : "file (msync)", s->version, s->gen,
			s->closed ? "  closed" : "");
	}
}

uint64_t
sl_journal_recycled(const struct sl_journal *j)
{
	return __atomic_load_n(&j->recycled, __ATOMIC_RELAXED);
}

uint64_t
sl_journal_roll_waits(const struct sl_journal *j)
{
	return __atomic_load_n(&j->roll_waits, __ATOMIC_RELAXED);
}
