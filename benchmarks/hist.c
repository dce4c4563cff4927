/* SPDX-License-Identifier: BSD-3-Clause */
/* Log-linear latency histogram: percentiles, merge and reset (record is inline). */

#include <errno.h>
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
	return sl_hist_idx_low(h->sub_bits, idx);
}

uint64_t
sl_hist_bucket_high(const struct sl_hist *h, unsigned idx)
{
	return sl_hist_idx_high(h->sub_bits, idx);
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
	rank = sl_hist_rank(h->count, p);
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
