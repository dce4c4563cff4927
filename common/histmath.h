/* SPDX-License-Identifier: BSD-3-Clause */
/* Log-linear bucket arithmetic (HdrHistogram-style, base 2) shared by every histogram. */

#ifndef SLUICE_HISTMATH_H
#define SLUICE_HISTMATH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * With s = sub_bits, values below 2^s get one bucket each and are exact;
 * every range [2^e, 2^(e+1)) above that is split into 2^s linear buckets of
 * width 2^(e-s), so a bucket is never wider than 1/2^s of the values in it.
 * Bucket index = v for v < 2^s, else ((e - s + 1) << s) + the s bits below
 * the leading one; the two cases join without a hole, so the index is dense
 * and values up to 2^r - 1 need SL_HIST_NBUCKETS(r, s) buckets.
 *
 * The loadgen's histogram (benchmarks/hist.h) and the broker's latency
 * histograms (common/lathist.h) both use these: one definition of a bucket.
 */

#define SL_HIST_NBUCKETS(range_bits, s) (((range_bits) + 1u - (s)) << (s))

/* Bucket holding @v for @s sub-bucket bits (@v already clamped to the range). */
static inline unsigned
sl_hist_index(unsigned s, uint64_t v)
{
	unsigned e;

	if (v < (UINT64_C(1) << s))
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return ((e - s + 1u) << s) + (unsigned)((v >> (e - s)) & ((UINT64_C(1) << s) - 1));
}

/* Lowest value that lands in bucket @idx. */
static inline uint64_t
sl_hist_idx_low(unsigned s, unsigned idx)
{
	unsigned shift;

	if (idx < (1u << s))
		return idx;
	/* idx = ((e - s + 1) << s) + sub: the bucket starts at (2^s + sub) << (e - s). */
	shift = (idx >> s) - 1u;
	return ((UINT64_C(1) << s) | (idx & ((1u << s) - 1u))) << shift;
}

/* Highest value that lands in bucket @idx. */
static inline uint64_t
sl_hist_idx_high(unsigned s, unsigned idx)
{
	if (idx < (1u << s))
		return idx;
	return sl_hist_idx_low(s, idx) + (UINT64_C(1) << ((idx >> s) - 1u)) - 1u;
}

/*
 * Rank (1-based) of the value at percentile @p (0 < p < 100) of @count
 * values: ceil(p% of count), a relative epsilon shaved so that 99.99% of
 * 100000 is rank 99990, not 99991 (99.99 has no exact binary form).
 */
static inline uint64_t
sl_hist_rank(uint64_t count, double p)
{
	double x = p / 100.0 * (double)count;
	uint64_t rank;

	x -= x * 1e-12;
	rank = (uint64_t)x;
	if ((double)rank < x)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > count)
		rank = count;
	return rank;
}

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_HISTMATH_H */
