/* SPDX-License-Identifier: BSD-3-Clause */
/* The counters area of the CnC region: layout, the dataplane's writer, a reader's copy. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/ctrs.h>
#include <common/lathist.h>

_Static_assert(sizeof(struct sl_ctrs_hdr) == 128, "counters area header");
_Static_assert(offsetof(struct sl_ctrs_hdr, sample_seq) == 72, "sample_seq offset");
_Static_assert(offsetof(struct sl_ctrs_hdr, hist_off) == 96, "hist_off offset");
_Static_assert(sizeof(struct sl_ctrs_meta) == 256, "counters metadata record");
_Static_assert(offsetof(struct sl_ctrs_meta, key) == 32, "metadata key offset");
_Static_assert(sizeof(struct sl_ctrs_type) == 4264, "counters type record");
_Static_assert(offsetof(struct sl_ctrs_type, labels) == 168, "type labels offset");

#define TYPES_OFF ((uint64_t)sizeof(struct sl_ctrs_hdr))
#define META_OFF (TYPES_OFF + SL_CTRS_MAX_TYPES * (uint64_t)sizeof(struct sl_ctrs_type))
#define VALUES_OFF(n) (META_OFF + (uint64_t)(n) * sizeof(struct sl_ctrs_meta))
#define SLOT_BYTES ((uint64_t)SL_CTRS_MAX_VALUES * sizeof(uint64_t))

size_t
sl_ctrs_area_size(uint32_t n_slots)
{
	return (size_t)(VALUES_OFF(n_slots) + (uint64_t)n_slots * SLOT_BYTES);
}

size_t
sl_ctrs_area_size_h(uint32_t n_slots, uint32_t hist_slots, uint32_t hist_workers)
{
	return sl_ctrs_area_size(n_slots) + (size_t)sl_lh_section_size(hist_slots, hist_workers);
}

static struct sl_ctrs_type *
types(struct sl_ctrs_hdr *a)
{
	return (struct sl_ctrs_type *)((uint8_t *)a + a->types_off);
}

static struct sl_ctrs_meta *
metas(struct sl_ctrs_hdr *a)
{
	return (struct sl_ctrs_meta *)((uint8_t *)a + a->meta_off);
}

int
sl_ctrs_format(struct sl_ctrs_hdr *a, size_t size, uint32_t n_slots)
{
	return sl_ctrs_format_h(a, size, n_slots, 0, 0);
}

int
sl_ctrs_format_h(struct sl_ctrs_hdr *a, size_t size, uint32_t n_slots, uint32_t hist_slots,
		 uint32_t hist_workers)
{
	if (n_slots == 0 || size < sl_ctrs_area_size_h(n_slots, hist_slots, hist_workers))
		return -EINVAL;
	a->version = SL_CTRS_VERSION;
	a->hdr_size = sizeof(struct sl_ctrs_hdr);
	a->type_size = sizeof(struct sl_ctrs_type);
	a->meta_size = sizeof(struct sl_ctrs_meta);
	a->n_types = SL_CTRS_MAX_TYPES;
	a->n_slots = n_slots;
	a->values_per_slot = SL_CTRS_MAX_VALUES;
	a->types_off = TYPES_OFF;
	a->meta_off = META_OFF;
	a->values_off = VALUES_OFF(n_slots);
	a->area_size = sl_ctrs_area_size_h(n_slots, hist_slots, hist_workers);
	a->hist_off = 0;
	if (sl_lh_section_size(hist_slots, hist_workers)) {
		a->hist_off = sl_ctrs_area_size(n_slots);
		sl_lh_format(sl_lh_section(a), a->hist_off, hist_slots, hist_workers);
	}
	/* Release: the geometry is complete before the magic says so. */
	__atomic_store_n(&a->magic, SL_CTRS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int
sl_ctrs_type_define(struct sl_ctrs_hdr *a, uint32_t type, const char *name,
		    const char *const *labels, const uint8_t *kinds, unsigned n)
{
	struct sl_ctrs_type *t;
	unsigned i;

	if (type >= a->n_types || n > SL_CTRS_MAX_VALUES || strlen(name) >= SL_CTRS_LABEL_LEN)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (strlen(labels[i]) >= SL_CTRS_LABEL_LEN)
			return -EINVAL;
	/* Types are defined before any slot uses them, before a reader can
	 * find such a slot: no ordering beyond the slot's own seq is needed. */
	t = &types(a)[type];
	memset(t, 0, sizeof(*t));
	memcpy(t->name, name, strlen(name) + 1);
	t->n_values = n;
	for (i = 0; i < n; i++) {
		t->kinds[i] = kinds[i];
		memcpy(t->labels[i], labels[i], strlen(labels[i]) + 1);
	}
	return 0;
}

uint64_t *
sl_ctrs_values(struct sl_ctrs_hdr *a, int slot)
{
	return (uint64_t *)((uint8_t *)a + a->values_off) + (size_t)slot * SL_CTRS_MAX_VALUES;
}

int
sl_ctrs_slot_alloc(struct sl_ctrs_hdr *a, uint32_t type, uint32_t owner, const char *key)
{
	struct sl_ctrs_meta *m = metas(a);
	uint64_t *v;
	uint32_t i;
	size_t klen = key ? strnlen(key, SL_CTRS_KEY_LEN - 1) : 0;

	for (i = 0; i < a->n_slots && m[i].state != SL_CTRS_FREE; i++)
		;
	if (i == a->n_slots) {
		a->alloc_failed++;
		return -ENOSPC;
	}
	m = &m[i];
	/* Seqlock: odd while the slot changes hands; the release fence orders
	 * the odd seq before the new identity and zeroed values (pairs with
	 * the reader's acquire fence before it re-reads seq). */
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	m->type = type;
	m->owner = owner;
	memset(m->key, 0, sizeof(m->key));
	if (klen)
		memcpy(m->key, key, klen);
	v = sl_ctrs_values(a, (int)i);
	for (uint32_t k = 0; k < SL_CTRS_MAX_VALUES; k++)
		sl_ctrs_set(&v[k], 0);
	__atomic_store_n(&m->state, SL_CTRS_LIVE, __ATOMIC_RELAXED);
	/* Release: the identity is complete before seq turns even. */
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELEASE);
	a->slots_used++;
	return (int)i;
}

void
sl_ctrs_slot_free(struct sl_ctrs_hdr *a, int slot)
{
	struct sl_ctrs_meta *m = &metas(a)[slot];

	if (m->state != SL_CTRS_LIVE)
		return;
	/* A full odd/even round: a reader that copied the slot under the old
	 * seq sees it move on and drops its copy. */
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&m->state, SL_CTRS_FREE, __ATOMIC_RELAXED);
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELEASE);
	a->slots_used--;
}

void
sl_ctrs_sample_begin(struct sl_ctrs_hdr *a)
{
	__atomic_store_n(&a->sample_seq, a->sample_seq + 1, __ATOMIC_RELAXED);
	/* Release fence: the odd seq is visible before any value of the new
	 * sample (pairs with the reader's acquire fence). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void
sl_ctrs_sample_end(struct sl_ctrs_hdr *a, uint64_t now_ns)
{
	__atomic_store_n(&a->sample_ns, now_ns, __ATOMIC_RELAXED);
	/* Release: every value of the sample before the even seq. */
	__atomic_store_n(&a->sample_seq, a->sample_seq + 1, __ATOMIC_RELEASE);
}

/* ---- reader ---- */

/* A word of the other process's area. Out of line: inlined into its
 * callers, GCC 12's sanitizer builds misreport the atomic load as an
 * overflow (-Wstringop-overflow). */
static __attribute__((noinline)) uint64_t
load_seq(const uint64_t *w, int order)
{
	return __atomic_load_n((uint64_t *)(uintptr_t)w, order);
}

int
sl_ctrs_check(const struct sl_ctrs_hdr *a, size_t avail, uint32_t *found_version)
{
	uint32_t n;

	if (found_version)
		*found_version = 0;
	if (avail < sizeof(*a))
		return -EINVAL;
	/* Acquire: pairs with the release store of the magic in format. */
	if (load_seq(&a->magic, __ATOMIC_ACQUIRE) != SL_CTRS_MAGIC)
		return -EPROTO;
	if (found_version)
		*found_version = a->version;
	if (a->version != SL_CTRS_VERSION || a->hdr_size != sizeof(*a) ||
	    a->type_size != sizeof(struct sl_ctrs_type) ||
	    a->meta_size != sizeof(struct sl_ctrs_meta) || a->n_types != SL_CTRS_MAX_TYPES ||
	    a->values_per_slot != SL_CTRS_MAX_VALUES)
		return -EPROTO;
	n = a->n_slots;
	if (n == 0 || n > (1u << 24) || a->types_off != TYPES_OFF || a->meta_off != META_OFF ||
	    a->values_off != VALUES_OFF(n) || a->area_size > avail)
		return -EINVAL;
	if (a->hist_off == 0)
		return a->area_size == sl_ctrs_area_size(n) ? 0 : -EINVAL;
	/* The histograms follow the values; their own geometry is checked
	 * against the area's size. */
	if (a->hist_off != sl_ctrs_area_size(n) ||
	    a->area_size < a->hist_off + sizeof(struct sl_lh_hdr))
		return -EINVAL;
	return sl_lh_check(sl_lh_section(a), a->hist_off, a->area_size) < 0 ? -EINVAL : 0;
}

/* Copy the whole area; 1 if no sample ran across the copy. */
static int
copy_once(const struct sl_ctrs_hdr *a, uint8_t *buf, size_t size)
{
	uint64_t before = load_seq(&a->sample_seq, __ATOMIC_ACQUIRE);

	memcpy(buf, a, size);
	/* Acquire fence: the copy is done before seq is read again. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return !(before & 1) && load_seq(&a->sample_seq, __ATOMIC_RELAXED) == before;
}

/* The same for the histogram slots of a view's copy (common/lathist.h). */
static void
views_hist_check(struct sl_ctrs_view *v, const struct sl_ctrs_hdr *a)
{
	const struct sl_lh_hdr *s = sl_lh_section(v->hdr);
	uint32_t i;

	for (i = 0; s != NULL && i < s->n_slots; i++) {
		struct sl_ctrs_meta *m = sl_lh_meta(v->hdr, s, i);
		const struct sl_ctrs_meta *live = sl_lh_meta(a, s, i);

		if (m->state == SL_CTRS_LIVE &&
		    ((m->seq & 1) || load_seq(&live->seq, __ATOMIC_ACQUIRE) != m->seq))
			m->state = SL_CTRS_FREE;
		m->key[SL_CTRS_KEY_LEN - 1] = '\0';
	}
}

int
sl_ctrs_view_take(const struct sl_ctrs_hdr *a, size_t avail, struct sl_ctrs_view *v)
{
	const struct sl_ctrs_meta *live;
	struct sl_ctrs_meta *m;
	size_t size;
	uint32_t i;
	int tries;

	memset(v, 0, sizeof(*v));
	/* The other process could change the geometry under us: it is
	 * checked live, then again in the copy, which alone is used. */
	if (sl_ctrs_check(a, avail, NULL) < 0)
		return -EPROTO;
	size = a->area_size;
	v->buf = malloc(size);
	if (v->buf == NULL)
		return -ENOMEM;
	for (tries = 0; tries < 8 && !v->consistent; tries++)
		v->consistent = copy_once(a, v->buf, size);
	v->hdr = (const struct sl_ctrs_hdr *)v->buf;
	if (sl_ctrs_check(v->hdr, size, NULL) < 0) {
		sl_ctrs_view_free(v);
		return -EPROTO;
	}
	v->types = (const struct sl_ctrs_type *)(v->buf + v->hdr->types_off);
	v->meta = (const struct sl_ctrs_meta *)(v->buf + v->hdr->meta_off);
	v->values = (const uint64_t *)(v->buf + v->hdr->values_off);
	v->sample_ns = v->hdr->sample_ns;
	for (i = 0; i < SL_CTRS_MAX_TYPES; i++) {
		struct sl_ctrs_type *t = (struct sl_ctrs_type *)(v->buf + v->hdr->types_off) + i;

		/* Bounds from the other process are enforced here, once. */
		if (t->n_values > SL_CTRS_MAX_VALUES)
			t->n_values = SL_CTRS_MAX_VALUES;
		t->name[SL_CTRS_LABEL_LEN - 1] = '\0';
		for (uint32_t k = 0; k < SL_CTRS_MAX_VALUES; k++)
			t->labels[k][SL_CTRS_LABEL_LEN - 1] = '\0';
	}
	/* A slot whose seq was odd in the copy, or moved since, held two
	 * owners while it was copied: not one of them is trusted. */
	m = (struct sl_ctrs_meta *)(v->buf + v->hdr->meta_off);
	live = (const struct sl_ctrs_meta *)((const uint8_t *)a + v->hdr->meta_off);
	for (i = 0; i < v->hdr->n_slots; i++) {
		if (m[i].state != SL_CTRS_LIVE)
			continue;
		if ((m[i].seq & 1) || load_seq(&live[i].seq, __ATOMIC_ACQUIRE) != m[i].seq ||
		    m[i].type >= SL_CTRS_MAX_TYPES)
			m[i].state = SL_CTRS_FREE;
		m[i].key[SL_CTRS_KEY_LEN - 1] = '\0';
	}
	views_hist_check(v, a);
	return 0;
}

void
sl_ctrs_view_free(struct sl_ctrs_view *v)
{
	free(v->buf);
	memset(v, 0, sizeof(*v));
}

const struct sl_ctrs_meta *
sl_ctrs_view_slot(const struct sl_ctrs_view *v, uint32_t i, const struct sl_ctrs_type **t,
		  const uint64_t **vals)
{
	const struct sl_ctrs_meta *m;

	if (v->buf == NULL || i >= v->hdr->n_slots)
		return NULL;
	m = &v->meta[i];
	if (m->state != SL_CTRS_LIVE)
		return NULL;
	if (t)
		*t = &v->types[m->type];
	if (vals)
		*vals = v->values + (size_t)i * SL_CTRS_MAX_VALUES;
	return m;
}

int
sl_ctrs_view_type(const struct sl_ctrs_view *v, const char *name)
{
	uint32_t i;

	for (i = 0; v->buf != NULL && i < v->hdr->n_types; i++)
		if (strncmp(v->types[i].name, name, SL_CTRS_LABEL_LEN) == 0)
			return (int)i;
	return -1;
}
