/* SPDX-License-Identifier: BSD-3-Clause */
/* The latency histogram section of the counters area: layout, slots, sums and percentiles. */

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <common/lathist.h>

_Static_assert(sizeof(struct sl_lh_hdr) == 128, "histogram section header");
_Static_assert(offsetof(struct sl_lh_hdr, names) == 64, "histogram names offset");
_Static_assert(sizeof(struct sl_lh_block) == 64 + SL_LH_BUCKETS * 8, "histogram block");
_Static_assert(SL_LH_BUCKETS == 1024, "histogram buckets");
_Static_assert(SL_LH_M_MAX <= 4, "metric names fit the section header");

#define X_LH_NAME(n) #n,
const char *const sl_lh_metric_names[SL_LH_M_MAX] = { SL_LH_METRIC_LIST(X_LH_NAME) };
#undef X_LH_NAME

#define META_REL ((uint64_t)sizeof(struct sl_lh_hdr))
#define BLOCKS_REL(n) (META_REL + (uint64_t)(n) * sizeof(struct sl_ctrs_meta))

uint64_t
sl_lh_section_size(uint32_t n_slots, uint32_t n_workers)
{
	if (n_slots == 0 || n_workers == 0)
		return 0;
	return BLOCKS_REL(n_slots) +
	       (uint64_t)n_slots * n_workers * SL_LH_M_MAX * sizeof(struct sl_lh_block);
}

void
sl_lh_format(struct sl_lh_hdr *s, uint64_t off, uint32_t n_slots, uint32_t n_workers)
{
	unsigned i;

	s->sub_bits = SL_LH_SUB_BITS;
	s->range_bits = SL_LH_RANGE_BITS;
	s->n_buckets = SL_LH_BUCKETS;
	s->n_metrics = SL_LH_M_MAX;
	s->n_slots = n_slots;
	s->n_workers = n_workers;
	s->block_size = sizeof(struct sl_lh_block);
	s->meta_off = off + META_REL;
	s->blocks_off = off + BLOCKS_REL(n_slots);
	for (i = 0; i < SL_LH_M_MAX; i++)
		strncpy(s->names[i], sl_lh_metric_names[i], SL_LH_NAME_LEN - 1);
}

int
sl_lh_check(const struct sl_lh_hdr *s, uint64_t off, uint64_t area_size)
{
	if (s->sub_bits != SL_LH_SUB_BITS || s->range_bits != SL_LH_RANGE_BITS ||
	    s->n_buckets != SL_LH_BUCKETS || s->n_metrics != SL_LH_M_MAX ||
	    s->block_size != sizeof(struct sl_lh_block) || s->n_slots == 0 ||
	    s->n_slots > (1u << 16) || s->n_workers == 0 || s->n_workers > 1024 ||
	    s->meta_off != off + META_REL || s->blocks_off != off + BLOCKS_REL(s->n_slots) ||
	    off + sl_lh_section_size(s->n_slots, s->n_workers) != area_size)
		return -EPROTO;
	return 0;
}

void
sl_lh_slot_take(struct sl_ctrs_hdr *a, uint32_t slot, uint32_t topic, const char *name)
{
	struct sl_lh_hdr *s = sl_lh_section(a);
	struct sl_ctrs_meta *m = sl_lh_meta(a, s, slot);
	size_t klen = strnlen(name, SL_CTRS_KEY_LEN - 1);
	uint32_t w;
	unsigned k;

	/* Seqlock as sl_ctrs_slot_alloc: odd while the slot changes hands; the
	 * release fence orders the odd seq before the new identity and the
	 * zeroed blocks (pairs with the reader's acquire fence). */
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	m->type = 0;
	m->owner = topic;
	memset(m->key, 0, sizeof(m->key));
	memcpy(m->key, name, klen);
	for (w = 0; w < s->n_workers; w++)
		for (k = 0; k < SL_LH_M_MAX; k++)
			memset(sl_lh_block(a, s, slot, w, k), 0, sizeof(struct sl_lh_block));
	__atomic_store_n(&m->state, SL_CTRS_LIVE, __ATOMIC_RELAXED);
	/* Release: the identity is complete before seq turns even. */
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELEASE);
}

void
sl_lh_slot_free(struct sl_ctrs_hdr *a, uint32_t slot)
{
	struct sl_lh_hdr *s = sl_lh_section(a);
	struct sl_ctrs_meta *m = sl_lh_meta(a, s, slot);

	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&m->state, SL_CTRS_FREE, __ATOMIC_RELAXED);
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELEASE);
}

void
sl_lh_sum(const struct sl_ctrs_hdr *a, uint32_t slot, unsigned metric, struct sl_lh_sum *out)
{
	const struct sl_lh_hdr *s = sl_lh_section(a);
	uint32_t w;
	unsigned i;

	memset(out, 0, sizeof(*out));
	if (s == NULL || slot >= s->n_slots || metric >= SL_LH_M_MAX)
		return;
	for (w = 0; w < s->n_workers; w++) {
		const struct sl_lh_block *b = sl_lh_block(a, s, slot, w, metric);

		/* Relaxed loads: each word is one writer's, never torn. */
		out->sum += __atomic_load_n(&b->sum, __ATOMIC_RELAXED);
		for (i = 0; i < SL_LH_BUCKETS; i++)
			out->b[i] += __atomic_load_n(&b->b[i], __ATOMIC_RELAXED);
	}
	for (i = 0; i < SL_LH_BUCKETS; i++)
		out->count += out->b[i];
}

uint64_t
sl_lh_percentile(const struct sl_lh_sum *h, double p)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (h->count == 0)
		return 0;
	if (p >= 100.0) {
		for (i = SL_LH_BUCKETS; i-- > 0;)
			if (h->b[i])
				return sl_lh_bucket_high(i);
	}
	rank = sl_hist_rank(h->count, p > 0.0 ? p : 0.0);
	for (i = 0; i < SL_LH_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return sl_lh_bucket_high(i);
	}
	return sl_lh_bucket_high(SL_LH_BUCKETS - 1);
}
