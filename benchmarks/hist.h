/* SPDX-License-Identifier: BSD-3-Clause */
/* Log-linear latency histogram for nanosecond values, fixed memory, O(1) record. */

#ifndef SLUICE_BENCH_HIST_H
#define SLUICE_BENCH_HIST_H

#include <stdint.h>

#include <common/histmath.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Layout: common/histmath.h (HdrHistogram-style, base 2): with s = sub_bits,
 * a bucket is never wider than 1/2^s of the values in it (s = 7: under 0.8%).
 *
 * The struct is sized for SL_HIST_SUB_BITS_MAX whatever sub_bits is, so it
 * needs no allocation at all (about 66 KiB: keep it off small stacks).
 *
 * Thread-safety: one writer. sl_hist_record, sl_hist_merge into and
 * sl_hist_reset of one histogram must come from one thread; readers in
 * other threads get no consistent snapshot (fields are plain, not atomic),
 * so give each thread its own histogram and merge them once writers stop.
 */

#define SL_HIST_SUB_BITS_MIN 1u
#define SL_HIST_SUB_BITS_MAX 8u
#define SL_HIST_SUB_BITS_DEFAULT 7u
/* Values up to 2^40 - 1 ns (about 18 minutes) are kept; larger ones clamp. */
#define SL_HIST_RANGE_BITS 40u
#define SL_HIST_MAX_VALUE ((UINT64_C(1) << SL_HIST_RANGE_BITS) - 1)
/* Bucket count for sub_bits s is (RANGE_BITS + 1 - s) << s, largest at the max s. */
#define SL_HIST_BUCKETS(s) SL_HIST_NBUCKETS(SL_HIST_RANGE_BITS, (s))
#define SL_HIST_BUCKETS_MAX SL_HIST_BUCKETS(SL_HIST_SUB_BITS_MAX)

struct sl_hist {
	uint64_t count;	   /* values recorded, overflowed ones included */
	uint64_t overflow; /* values above SL_HIST_MAX_VALUE, clamped into the top bucket */
	uint64_t min;	   /* exact smallest value recorded (unclamped) */
	uint64_t max;	   /* exact largest value recorded (unclamped) */
	uint64_t sum;	   /* of clamped values, for the mean */
	unsigned sub_bits;
	unsigned nbuckets;
	uint64_t counts[SL_HIST_BUCKETS_MAX];
};

/*
 * Prepare @h, empty, with 2^@sub_bits linear buckets per power of two.
 * Returns 0, or -EINVAL when @sub_bits is outside
 * [SL_HIST_SUB_BITS_MIN, SL_HIST_SUB_BITS_MAX].
 */
int sl_hist_init(struct sl_hist *h, unsigned sub_bits);

/* Empty @h, keeping its sub_bits. */
void sl_hist_reset(struct sl_hist *h);

/*
 * Record one value. O(1), no allocation, no failure: a value above
 * SL_HIST_MAX_VALUE goes into the top bucket and is counted in overflow,
 * while min and max stay exact.
 */
static inline void
sl_hist_record(struct sl_hist *h, uint64_t v)
{
	uint64_t c = v;

	if (v > SL_HIST_MAX_VALUE) {
		c = SL_HIST_MAX_VALUE;
		h->overflow++;
	}
	h->counts[sl_hist_index(h->sub_bits, c)]++;
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += c;
	h->count++;
}

/*
 * Value at percentile @p (0..100; outside values are clamped): the highest
 * value equivalent to the bucket that holds the ceil(p% * count)-th smallest
 * value, bounded by the exact min and max, so p0 == min and p100 == max.
 * Returns 0 for an empty histogram.
 */
uint64_t sl_hist_percentile(const struct sl_hist *h, double p);

/* Add @src into @dst. With different sub_bits, each of @src's buckets lands
 * where its highest value falls in @dst (precision of the coarser one). */
void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src);

/* Lowest and highest value that land in bucket @idx of @h. */
uint64_t sl_hist_bucket_low(const struct sl_hist *h, unsigned idx);
uint64_t sl_hist_bucket_high(const struct sl_hist *h, unsigned idx);

static inline uint64_t
sl_hist_count(const struct sl_hist *h)
{
	return h->count;
}

/* Exact min and max; 0 when empty. */
static inline uint64_t
sl_hist_min(const struct sl_hist *h)
{
	return h->count ? h->min : 0;
}

static inline uint64_t
sl_hist_max(const struct sl_hist *h)
{
	return h->max;
}

static inline uint64_t
sl_hist_overflow(const struct sl_hist *h)
{
	return h->overflow;
}

/* Mean of the recorded values, overflowed ones counted as SL_HIST_MAX_VALUE;
 * 0 when empty. */
double sl_hist_mean(const struct sl_hist *h);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_BENCH_HIST_H */
