/* SPDX-License-Identifier: BSD-3-Clause */
/* Histogram tests: exact small values, error bound, percentiles, merge, overflow. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#include "check.h"


/* Histograms are ~66 KiB each: static, not on the stack. */
static struct sl_hist h1, h2, h3;

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_init(void)
{
	CHECK(sl_hist_init(&h1, 0) == -EINVAL);
	CHECK(sl_hist_init(&h1, SL_HIST_SUB_BITS_MAX + 1) == -EINVAL);
	CHECK(sl_hist_init(&h1, SL_HIST_SUB_BITS_MIN) == 0);
	CHECK(sl_hist_init(&h1, SL_HIST_SUB_BITS_MAX) == 0);
	CHECK(h1.nbuckets == SL_HIST_BUCKETS_MAX);
}

static void
test_empty(void)
{
	CHECK(sl_hist_init(&h1, 7) == 0);
	CHECK(sl_hist_count(&h1) == 0);
	CHECK(sl_hist_min(&h1) == 0);
	CHECK(sl_hist_max(&h1) == 0);
	CHECK(sl_hist_mean(&h1) == 0.0);
	CHECK(sl_hist_percentile(&h1, 0) == 0);
	CHECK(sl_hist_percentile(&h1, 50) == 0);
	CHECK(sl_hist_percentile(&h1, 100) == 0);
}

/* Every value below 2^sub_bits has a bucket of its own. */
static void
test_exact_small(void)
{
	uint64_t v;
	unsigned i;

	CHECK(sl_hist_init(&h1, 7) == 0);
	for (v = 0; v < 128; v++) {
		CHECK(sl_hist_index(7, v) == v);
		CHECK(sl_hist_bucket_low(&h1, (unsigned)v) == v);
		CHECK(sl_hist_bucket_high(&h1, (unsigned)v) == v);
		sl_hist_record(&h1, v);
	}
	for (i = 0; i < 128; i++)
		CHECK(h1.counts[i] == 1);
	/* Ranks 1..128 hold 0..127: percentile k/128 must be exactly k-1. */
	CHECK(sl_hist_percentile(&h1, 100.0 * 1 / 128) == 0);
	CHECK(sl_hist_percentile(&h1, 100.0 * 64 / 128) == 63);
	CHECK(sl_hist_percentile(&h1, 100.0 * 100 / 128) == 99);
	CHECK(sl_hist_percentile(&h1, 100) == 127);
	CHECK(sl_hist_mean(&h1) == 63.5);
}

/* Bucket bounds tile the range with no holes and contain their values. */
static void
test_bucket_bounds(void)
{
	unsigned s, i;

	for (s = SL_HIST_SUB_BITS_MIN; s <= SL_HIST_SUB_BITS_MAX; s++) {
		CHECK(sl_hist_init(&h1, s) == 0);
		for (i = 0; i + 1 < h1.nbuckets; i++)
			CHECK(sl_hist_bucket_high(&h1, i) + 1 == sl_hist_bucket_low(&h1, i + 1));
		CHECK(sl_hist_bucket_high(&h1, h1.nbuckets - 1) == SL_HIST_MAX_VALUE);
		CHECK(sl_hist_index(s, SL_HIST_MAX_VALUE) == h1.nbuckets - 1);
		for (i = 0; i < 1000; i++) {
			uint64_t v = rng() >> (24 + rng() % 40);
			unsigned idx = sl_hist_index(s, v);

			CHECK(sl_hist_bucket_low(&h1, idx) <= v && v <= sl_hist_bucket_high(&h1, idx));
		}
	}
}

/*
 * Random values over many magnitudes: each percentile must lie within
 * 1/2^sub_bits above the true value from a sorted copy, never below it.
 */
#define SWEEP_N 200000

static uint64_t sweep[SWEEP_N];

static void
test_relative_error(void)
{
	static const double ps[] = { 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999 };
	unsigned s = 7, i;
	uint64_t truth, got, rank;

	CHECK(sl_hist_init(&h1, s) == 0);
	for (i = 0; i < SWEEP_N; i++) {
		/* log-uniform from 1 ns to ~2^39 ns */
		sweep[i] = 1 + (rng() >> (25 + rng() % 39));
		sl_hist_record(&h1, sweep[i]);
	}
	qsort(sweep, SWEEP_N, sizeof(sweep[0]), cmp_u64);
	CHECK(sl_hist_percentile(&h1, 0) == sweep[0]);
	CHECK(sl_hist_percentile(&h1, 100) == sweep[SWEEP_N - 1]);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		rank = (uint64_t)(ps[i] / 100.0 * SWEEP_N + 0.999999);
		truth = sweep[rank - 1];
		got = sl_hist_percentile(&h1, ps[i]);
		if (got < truth || (double)(got - truth) > (double)truth / (1u << s)) {
			fprintf(stderr, "p%g: got %llu, true %llu\n", ps[i], (unsigned long long)got,
				(unsigned long long)truth);
			failures++;
		}
	}
}

/* Uniform 1..100000, shuffled in by a stride so the order is not sorted. */
static void
test_uniform(void)
{
	uint64_t i, v, p50, p9999;

	CHECK(sl_hist_init(&h1, 7) == 0);
	for (i = 0; i < 100000; i++) {
		v = (i * 7919) % 100000 + 1; /* 7919 is prime: a permutation */
		sl_hist_record(&h1, v);
	}
	p50 = sl_hist_percentile(&h1, 50);
	p9999 = sl_hist_percentile(&h1, 99.99);
	CHECK(sl_hist_count(&h1) == 100000);
	CHECK(p50 >= 50000 && p50 <= 50500);
	CHECK(p9999 >= 99990 && p9999 <= 100000);
	CHECK(sl_hist_percentile(&h1, 99) >= 99000 && sl_hist_percentile(&h1, 99) <= 99990);
	CHECK(sl_hist_max(&h1) == 100000);
	CHECK(sl_hist_percentile(&h1, 100) == 100000);
	CHECK(sl_hist_min(&h1) == 1);
	CHECK(sl_hist_percentile(&h1, 0) == 1);
	CHECK(sl_hist_mean(&h1) == 50000.5);
	CHECK(sl_hist_overflow(&h1) == 0);
}

/* Merging two halves gives the same buckets as recording everything in one. */
static void
test_merge(void)
{
	uint64_t i, v;

	CHECK(sl_hist_init(&h1, 7) == 0);
	CHECK(sl_hist_init(&h2, 7) == 0);
	CHECK(sl_hist_init(&h3, 7) == 0);
	for (i = 0; i < 50000; i++) {
		v = 1000 + (rng() % 1000000);
		sl_hist_record(i % 2 ? &h1 : &h2, v);
		sl_hist_record(&h3, v);
	}
	sl_hist_record(&h2, SL_HIST_MAX_VALUE + 5);
	sl_hist_record(&h3, SL_HIST_MAX_VALUE + 5);
	sl_hist_record(&h1, 3);
	sl_hist_record(&h3, 3);
	sl_hist_merge(&h1, &h2);
	CHECK(sl_hist_count(&h1) == sl_hist_count(&h3));
	CHECK(sl_hist_min(&h1) == 3);
	CHECK(sl_hist_max(&h1) == SL_HIST_MAX_VALUE + 5);
	CHECK(sl_hist_overflow(&h1) == 1);
	CHECK(h1.sum == h3.sum);
	CHECK(memcmp(h1.counts, h3.counts, h3.nbuckets * sizeof(h3.counts[0])) == 0);
	CHECK(sl_hist_percentile(&h1, 99.9) == sl_hist_percentile(&h3, 99.9));

	/* Into an empty histogram: min must come from the source, not stay 0. */
	CHECK(sl_hist_init(&h2, 7) == 0);
	sl_hist_merge(&h2, &h3);
	CHECK(sl_hist_min(&h2) == 3);
	CHECK(sl_hist_count(&h2) == sl_hist_count(&h3));

	/* Coarser destination: counts land in the buckets of the values' tops. */
	CHECK(sl_hist_init(&h2, 4) == 0);
	sl_hist_merge(&h2, &h3);
	CHECK(sl_hist_count(&h2) == sl_hist_count(&h3));
	CHECK(h2.counts[sl_hist_index(4, 3)] == 1);
	CHECK(h2.counts[h2.nbuckets - 1] == 1);
	v = sl_hist_percentile(&h2, 50);
	CHECK(v >= sl_hist_percentile(&h3, 50) &&
	      v - sl_hist_percentile(&h3, 50) <= sl_hist_percentile(&h3, 50) / 8);
}

/* Values past the range clamp into the top bucket; min and max stay exact. */
static void
test_overflow(void)
{
	CHECK(sl_hist_init(&h1, 7) == 0);
	sl_hist_record(&h1, 10);
	sl_hist_record(&h1, SL_HIST_MAX_VALUE);
	sl_hist_record(&h1, SL_HIST_MAX_VALUE + 1);
	sl_hist_record(&h1, UINT64_MAX);
	CHECK(sl_hist_count(&h1) == 4);
	CHECK(sl_hist_overflow(&h1) == 2);
	CHECK(h1.counts[h1.nbuckets - 1] == 3);
	CHECK(sl_hist_max(&h1) == UINT64_MAX);
	CHECK(sl_hist_percentile(&h1, 100) == UINT64_MAX);
	CHECK(sl_hist_percentile(&h1, 25) == 10);
	CHECK(sl_hist_percentile(&h1, 50) == SL_HIST_MAX_VALUE);
	CHECK(sl_hist_percentile(&h1, 75) == SL_HIST_MAX_VALUE);
	CHECK(sl_hist_mean(&h1) == (10.0 + 3.0 * (double)SL_HIST_MAX_VALUE) / 4.0);
}

static void
test_reset(void)
{
	CHECK(sl_hist_init(&h1, 5) == 0);
	sl_hist_record(&h1, 77);
	sl_hist_record(&h1, 1u << 30);
	sl_hist_reset(&h1);
	CHECK(h1.sub_bits == 5);
	CHECK(sl_hist_count(&h1) == 0 && sl_hist_max(&h1) == 0 && sl_hist_min(&h1) == 0);
	CHECK(sl_hist_percentile(&h1, 99) == 0);
	sl_hist_record(&h1, 900);
	CHECK(sl_hist_min(&h1) == 900 && sl_hist_max(&h1) == 900);
	CHECK(sl_hist_percentile(&h1, 50) == 900);
	CHECK(sl_hist_percentile(&h1, -3) == 900 && sl_hist_percentile(&h1, 1000) == 900);
}

int
main(void)
{
	test_init();
	test_empty();
	test_exact_small();
	test_bucket_bounds();
	test_relative_error();
	test_uniform();
	test_merge();
	test_overflow();
	test_reset();
	return check_result("test_hist");
}
