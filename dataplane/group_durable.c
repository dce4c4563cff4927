/* SPDX-License-Identifier: BSD-3-Clause */
/* Durable consumer groups: snapshots from the owner worker, saves on the main lcore, settings file, restore, retention floor. */

#include "group_durable.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/hdrs.h>
#include <common/keyhash.h>

_Static_assert(sizeof(struct sl_group_unacked) == sizeof(struct sl_gstate_entry),
	       "an exported entry is saved as it is");
_Static_assert(offsetof(struct sl_group_unacked, delivery_count) ==
		       offsetof(struct sl_gstate_entry, delivery_count),
	       "same entry layout");

/* --- key hashes --------------------------------------------------------------------- */

uint64_t
sl_group_key_hash(const void *key, size_t len)
{
	uint64_t h;

	if (len == 0)
		return SL_GROUP_NO_KEY;
	h = sl_key_hash(key, len); /* the one key hash: partitions use it too */
	return h == SL_GROUP_NO_KEY ? 1 : h;
}

uint64_t
sl_gdur_record_key(const struct sl_jrec_view *v)
{
	struct sl_hdrs_view hv;

	if (v->hdrs_len == 0 || v->hdrs_len > v->len ||
	    sl_hdrs_parse(v->data, v->hdrs_len, &hv) < 0)
		return SL_GROUP_NO_KEY;
	return sl_group_key_hash(hv.key, hv.key_len);
}

/* --- snapshots -------------------------------------------------------------------------- */

enum { B_FREE = 0, B_FILLING, B_READY, B_SAVING };

struct snapbuf {
	uint32_t state; /* B_*: compare-and-swap only */
	uint32_t n;
	uint64_t gen;	/* atomic: read by the main lcore before it claims */
	uint64_t cursor;
	uint64_t floor;
	struct sl_group_unacked *e;
};

/* What a snapshot would change: any change to the cursor or the unsettled
 * set (an offer, a delivery, an ack, a settle) moves one of these. */
struct sig {
	uint64_t cursor, offered, delivered, redelivered, acked, inflight, blocked;
};

struct sl_gdur {
	struct sl_gstate *gs;
	const struct sl_persist_ops *ops;
	uint32_t cap;
	int retain;
	struct snapbuf b[2];
	/* owner worker */
	uint64_t gen, last_ns;
	struct sig last;
	int have_last;
	/* the last load, for the owner's restore (sl_gdur_start) */
	struct sl_gdur_loaded ld;
	int need_restore;
	/* floors and generations: one writer each, relaxed atomics */
	uint64_t live_floor, saved_floor, exported_gen, saved_gen;
	struct sl_gdur_stats st;
	char dir[PATH_MAX];
	char name[SL_CNC_GROUP_NAME_LEN];
};

#define LOAD(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)
#define BUMP(p) STORE(p, LOAD(p) + 1)

static int
bufs_alloc(struct sl_gdur *d, uint32_t cap)
{
	int i;

	for (i = 0; i < 2; i++) {
		free(d->b[i].e);
		d->b[i].e = calloc(cap, sizeof(struct sl_group_unacked));
		if (d->b[i].e == NULL)
			return -ENOMEM;
	}
	d->cap = cap;
	return 0;
}

int
sl_gdur_open(struct sl_gdur **out, const char *dir, const char *name, uint32_t capacity,
	     int retain, const struct sl_persist_ops *ops)
{
	struct sl_gdur *d;
	uint32_t cap;
	int rc;

	/* sl_gstate_open checks the name's characters. */
	if (name == NULL || strlen(name) >= sizeof(d->name) || capacity == 0 ||
	    strlen(dir) >= sizeof(d->dir))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	strcpy(d->dir, dir);
	strcpy(d->name, name);
	d->ops = ops;
	d->retain = retain;
	rc = sl_gstate_open(&d->gs, dir, name, capacity, ops);
	if (rc < 0) {
		free(d);
		return rc;
	}
	/* A file made for a larger group keeps its size: room for all it holds. */
	cap = sl_gstate_capacity(d->gs);
	rc = bufs_alloc(d, cap > capacity ? cap : capacity);
	if (rc < 0) {
		sl_gdur_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

void
sl_gdur_close(struct sl_gdur *d)
{
	if (d == NULL)
		return;
	sl_gstate_close(d->gs);
	free(d->b[0].e);
	free(d->b[1].e);
	free(d);
}

/* The file holds fewer entries than the group may have unsettled: make it
 * again at the group's size, its state saved into it at once. */
static int
grow_file(struct sl_gdur *d, const struct sl_gdur_loaded *ld)
{
	int rc;

	sl_gstate_close(d->gs);
	d->gs = NULL;
	rc = sl_gstate_remove(d->dir, d->name);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = sl_gstate_open(&d->gs, d->dir, d->name, d->cap, d->ops);
	if (rc < 0)
		return rc;
	if (ld->rc < 0)
		return 0;
	return sl_gstate_save(d->gs, ld->cursor, (const struct sl_gstate_entry *)d->b[0].e, ld->n,
			      0);
}

int
sl_gdur_load(struct sl_gdur *d, struct sl_gdur_loaded *out)
{
	struct sl_gstate_info info;
	int rc;

	memset(out, 0, sizeof(*out));
	/* The first buffer doubles as the load buffer: the owner restores from
	 * it before it exports anything. */
	rc = sl_gstate_load(d->gs, (struct sl_gstate_entry *)d->b[0].e, d->cap, &info);
	out->rc = rc;
	if (rc >= 0) {
		out->cursor = info.cursor;
		out->n = (uint32_t)rc;
		out->generation = info.generation;
	}
	d->ld = *out;
	d->need_restore = 1;
	if (sl_gstate_capacity(d->gs) < d->cap) {
		int g = grow_file(d, out);

		if (g < 0)
			return g;
	}
	return rc;
}

static void
gap_add(struct sl_gdur_restored *r, uint64_t lo, uint64_t hi)
{
	if (r->gap_first > r->gap_last) {
		r->gap_first = lo;
		r->gap_last = hi;
		return;
	}
	if (lo < r->gap_first)
		r->gap_first = lo;
	if (hi > r->gap_last)
		r->gap_last = hi;
}

void
sl_gdur_restore(struct sl_gdur *d, const struct sl_gdur_loaded *ld, struct sl_group *g,
		struct sl_journal *j, uint64_t next, uint64_t now, struct sl_gdur_restored *out)
{
	uint64_t first = j ? sl_journal_first_seq(j) : next;
	uint64_t lo, hi, low = 0;
	uint32_t i;

	memset(out, 0, sizeof(*out));
	out->gap_first = 1;
	out->cursor = next;
	if (ld->rc == -EUCLEAN) {
		/* Every saved slot damaged: start at the earliest retained. The
		 * caller counts the gap; which messages were lost is unknown. */
		out->cursor = first < next ? first : next;
		out->state_lost = 1;
	} else if (ld->rc >= 0) {
		out->cursor = ld->cursor;
		for (i = 0; i < ld->n; i++) {
			const struct sl_group_unacked *e = &d->b[0].e[i];
			struct sl_jrec_view v;

			if (j == NULL || sl_journal_read(j, e->seq, &v) < 0) {
				/* Retention (or damage) took it: it cannot come again. */
				out->dropped++;
				gap_add(out, e->seq, e->seq);
				continue;
			}
			if (sl_group_restore(g, e->seq, sl_gdur_record_key(&v), e->delivery_count,
					     now) < 0) {
				out->refused++;
				continue;
			}
			out->restored++;
			if (low == 0)
				low = e->seq;
		}
	}
	if (sl_gdur_gap(out->cursor, first, &lo, &hi)) {
		gap_add(out, lo, hi);
		out->jumped = hi - lo + 1;
		out->cursor = first;
	}
	/* Until the first snapshot: what was restored is still needed. */
	sl_gdur_set_start(d, low != 0 && low < out->cursor ? low : out->cursor);
}

int
sl_gdur_start(struct sl_gdur *d, struct sl_group *g, struct sl_journal *j, uint64_t next,
	      uint64_t now, struct sl_gdur_restored *out)
{
	if (!d->need_restore)
		return 0;
	d->need_restore = 0;
	sl_gdur_restore(d, &d->ld, g, j, next, now, out);
	return 1;
}

static void
sig_of(const struct sl_group *g, uint64_t cursor, struct sig *s)
{
	struct sl_group_stats st;

	sl_group_stats_get(g, &st);
	s->cursor = cursor;
	s->offered = st.offered;
	s->delivered = st.delivered;
	s->redelivered = st.redelivered;
	s->acked = st.acked;
	s->inflight = st.inflight;
	s->blocked = st.blocked;
}

/* Owner: a buffer to fill, claimed (FILLING), or NULL. A FREE one first;
 * else the older READY one (a newer snapshot replaces it). */
static struct snapbuf *
claim(struct sl_gdur *d)
{
	int order[2] = { 0, 1 }, k;

	if (LOAD(&d->b[1].state) == B_FREE ||
	    (LOAD(&d->b[0].state) != B_FREE && LOAD(&d->b[1].gen) < LOAD(&d->b[0].gen))) {
		order[0] = 1;
		order[1] = 0;
	}
	for (k = 0; k < 2; k++) {
		struct snapbuf *b = &d->b[order[k]];
		uint32_t want[2] = { B_FREE, B_READY }, w;

		for (w = 0; w < 2; w++) {
			uint32_t exp = want[w];

			/* Acquire: the main lcore's reads of a buffer it saved
			 * are done before its FREE store. */
			if (__atomic_compare_exchange_n(&b->state, &exp, B_FILLING, 0,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return b;
		}
	}
	return NULL;
}

int
sl_gdur_snap(struct sl_gdur *d, const struct sl_group *g, uint64_t cursor, uint64_t now,
	     int force)
{
	struct snapbuf *b;
	struct sig s;
	int n;

	if (!force && d->have_last && now - d->last_ns < SL_GDUR_SNAP_NS)
		return 0;
	sig_of(g, cursor, &s);
	if (!force && d->have_last && memcmp(&s, &d->last, sizeof(s)) == 0)
		return 0;
	b = claim(d);
	if (b == NULL) {
		BUMP(&d->st.snap_skipped);
		return -EBUSY;
	}
	n = sl_group_export(g, b->e, d->cap);
	if (n < 0) {
		__atomic_store_n(&b->state, B_FREE, __ATOMIC_RELEASE);
		return n;
	}
	b->n = (uint32_t)n;
	b->cursor = cursor;
	b->floor = sl_gdur_floor_of(cursor, b->e, b->n);
	STORE(&b->gen, ++d->gen);
	/* Release: the contents above are seen by whoever sees READY. */
	__atomic_store_n(&b->state, B_READY, __ATOMIC_RELEASE);
	d->last = s;
	d->last_ns = now;
	d->have_last = 1;
	STORE(&d->live_floor, b->floor);
	STORE(&d->exported_gen, d->gen);
	BUMP(&d->st.snaps);
	return 1;
}

int
sl_gdur_flush(struct sl_gdur *d, uint64_t wall_ns)
{
	uint64_t saved = LOAD(&d->saved_gen);
	struct snapbuf *b = NULL;
	uint32_t exp;
	int i, rc;

	for (i = 0; i < 2; i++) {
		struct snapbuf *c = &d->b[i];

		if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != B_READY)
			continue;
		if (b == NULL || LOAD(&c->gen) > LOAD(&b->gen))
			b = c;
	}
	if (b == NULL)
		return 0;
	exp = B_READY;
	/* Acquire: pairs with the owner's release of READY. A failed claim: the
	 * owner took the buffer back for a newer snapshot; the next call saves that. */
	if (!__atomic_compare_exchange_n(&b->state, &exp, B_SAVING, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return 0;
	if (b->gen <= saved) {
		BUMP(&d->st.stale);
		__atomic_store_n(&b->state, B_FREE, __ATOMIC_RELEASE);
		return 0;
	}
	rc = sl_gstate_save(d->gs, b->cursor, (const struct sl_gstate_entry *)b->e, b->n, wall_ns);
	if (rc < 0) {
		BUMP(&d->st.save_errors);
		__atomic_store_n(&b->state, B_READY, __ATOMIC_RELEASE);
		return rc;
	}
	STORE(&d->saved_gen, b->gen);
	STORE(&d->saved_floor, b->floor);
	BUMP(&d->st.saves);
	__atomic_store_n(&b->state, B_FREE, __ATOMIC_RELEASE);
	/* An older snapshot still waiting is superseded. */
	b = &d->b[b == &d->b[0]];
	exp = B_READY;
	if (LOAD(&b->gen) < LOAD(&d->saved_gen) &&
	    __atomic_compare_exchange_n(&b->state, &exp, B_SAVING, 0, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED)) {
		/* Checked again under the claim: the owner may have refilled it. */
		if (b->gen < LOAD(&d->saved_gen))
			BUMP(&d->st.stale);
		__atomic_store_n(&b->state, b->gen < LOAD(&d->saved_gen) ? B_FREE : B_READY,
				 __ATOMIC_RELEASE);
	}
	return 1;
}

uint64_t
sl_gdur_exported_gen(const struct sl_gdur *d)
{
	return LOAD(&d->exported_gen);
}

uint64_t
sl_gdur_saved_gen(const struct sl_gdur *d)
{
	return LOAD(&d->saved_gen);
}

uint64_t
sl_gdur_floor(const struct sl_gdur *d)
{
	uint64_t live = LOAD(&d->live_floor), saved = LOAD(&d->saved_floor);

	if (saved == 0)
		return live;
	return live != 0 && live < saved ? live : saved;
}

void
sl_gdur_set_start(struct sl_gdur *d, uint64_t cursor)
{
	STORE(&d->live_floor, cursor);
}

int
sl_gdur_retain(const struct sl_gdur *d)
{
	return d->retain;
}

void
sl_gdur_stats_get(const struct sl_gdur *d, struct sl_gdur_stats *st)
{
	st->snaps = LOAD(&d->st.snaps);
	st->snap_skipped = LOAD(&d->st.snap_skipped);
	st->saves = LOAD(&d->st.saves);
	st->save_errors = LOAD(&d->st.save_errors);
	st->stale = LOAD(&d->st.stale);
}

struct sl_gstate *
sl_gdur_state(struct sl_gdur *d)
{
	return d->gs;
}

/* --- retention arithmetic ------------------------------------------------------------- */

uint64_t
sl_gdur_floor_of(uint64_t cursor, const struct sl_group_unacked *ents, uint32_t n)
{
	/* Exported in sequence order: the first is the lowest. */
	if (n > 0 && (cursor == 0 || ents[0].seq < cursor))
		return ents[0].seq;
	return cursor;
}

int
sl_gdur_gap(uint64_t cursor, uint64_t first, uint64_t *lo, uint64_t *hi)
{
	if (cursor == 0 || cursor >= first)
		return 0;
	*lo = cursor;
	*hi = first - 1;
	return 1;
}
