/* SPDX-License-Identifier: BSD-3-Clause */
/* Log-linear latency histogram: percentiles, merge and reset (record is inline). */

#include <errno.h>
#include <math.h>
#include <string.h>

#include "hist.h"

int
sl_hist_init(struct sl_hist *h, unsigned sub_bits)
{
	if (sub_bits < SL_HIST_SUB_BITS_MIN || sub_bits > SL_HIST_SUB_BITS_MAX)
		return -EINVAL;
	h->sub_bits = sub_bits;
	h->nbuckets = SL_HIST_BUCKETS(sub_bits);
	sl_hist_reset(h);
	return 0;
}

void
sl_hist_reset(struct sl_hist *h)
{
	h->count = 0;
	h->overflow = 0;
	h->min = 0;
	h->max = 0;
	h->sum = 0;
	/* Only the buckets in use: with small sub_bits the tail is never touched. */
	memset(h->counts, 0, (size_t)h->nbuckets * sizeof(h->counts[0]));
}

uint64_t
sl_hist_bucket_low(const struct sl_hist *h, unsigned idx)
{
	unsigned s = h->sub_bits;
	unsigned shift;

	if (idx < (1u << s))
		return idx;
	/* idx = ((e - s + 1) << s) + sub: the bucket starts at (2^s + sub) << (e - s). */
	shift = (idx >> s) - 1u;
	return ((UINT64_C(1) << s) | (idx & ((1u << s) - 1u))) << shift;
}

uint64_t
sl_hist_bucket_high(const struct sl_hist *h, unsigned idx)
{
	unsigned s = h->sub_bits;

	if (idx < (1u << s))
		return idx;
	return sl_hist_bucket_low(h, idx) + (UINT64_C(1) << ((idx >> s) - 1u)) - 1u;
}

/* Rank (1-based) of the value at percentile @p of @count values. */
static uint64_t
percentile_rank(uint64_t count, double p)
{
	double x = p / 100.0 * (double)count;
	uint64_t rank;

	/* Shave a relative epsilon so that 99.99% of 100000 is rank 99990, not
	 * 99991 because 99.99 has no exact binary form. */
	x -= x * 1e-12;
	rank = (uint64_t)ceil(x);
	if (rank < 1)
		rank = 1;
	if (rank > count)
		rank = count;
	return rank;
}

uint64_t
sl_hist_percentile(const struct sl_hist *h, double p)
{
	uint64_t rank, seen = 0, v;
	unsigned i;

	if (h->count == 0)
		return 0;
	/* Written so that NaN lands on min. */
	if (!(p > 0.0))
		return h->min;
	if (p >= 100.0)
		return h->max;
	rank = percentile_rank(h->count, p);
	for (i = 0; i < h->nbuckets; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == h->nbuckets)
		return h->max; /* counts disagree with count: only if corrupted */
	v = sl_hist_bucket_high(h, i);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

void
sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src)
{
	unsigned i, j;

	if (src->count == 0)
		return;
	for (i = 0; i < src->nbuckets; i++) {
		if (src->counts[i] == 0)
			continue;
		j = i;
		if (src->sub_bits != dst->sub_bits)
			j = sl_hist_index(dst->sub_bits, sl_hist_bucket_high(src, i));
		dst->counts[j] += src->counts[i];
	}
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->sum += src->sum;
	dst->overflow += src->overflow;
	dst->count += src->count;
}

double
sl_hist_mean(const struct sl_hist *h)
{
	if (h->count == 0)
		return 0.0;
	return (double)h->sum / (double)h->count;
}
