/* SPDX-License-Identifier: BSD-3-Clause */
/* The broker's latency histograms: bucket math, the counters-area section, sums and percentiles. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/ctrs.h>
#include <common/lathist.h>

#include "check.h"

/* Bucket edges: values below 32 exact, then 32 linear buckets per power of
 * two; every bucket's bounds tile the range and hold their values. */
static void
test_boundaries(void)
{
	unsigned i;
	uint64_t v;

	for (v = 0; v < 32; v++) {
		CHECK_EQ(sl_hist_index(SL_LH_SUB_BITS, v), v);
		CHECK_EQ(sl_lh_bucket_high((unsigned)v), v);
	}
	/* 32..63: width 1; 64..127: width 2; 2^k: a new power starts a bucket. */
	CHECK_EQ(sl_hist_index(SL_LH_SUB_BITS, 32), 32);
	CHECK_EQ(sl_hist_index(SL_LH_SUB_BITS, 63), 63);
	CHECK_EQ(sl_hist_index(SL_LH_SUB_BITS, 64), 64);
	CHECK_EQ(sl_hist_index(SL_LH_SUB_BITS, 65), 64);
	CHECK_EQ(sl_hist_index(SL_LH_SUB_BITS, 66), 65);
	CHECK_EQ(sl_hist_idx_low(SL_LH_SUB_BITS, 65), 66);
	CHECK_EQ(sl_lh_bucket_high(64), 65);
	for (i = 0; i + 1 < SL_LH_BUCKETS; i++)
		CHECK_EQ(sl_lh_bucket_high(i) + 1, sl_hist_idx_low(SL_LH_SUB_BITS, i + 1));
	CHECK_EQ(sl_hist_index(SL_LH_SUB_BITS, SL_LH_MAX_NS), SL_LH_BUCKETS - 1);
	CHECK(sl_lh_bucket_high(SL_LH_BUCKETS - 1) == SL_LH_MAX_NS);
	for (i = 0; i < 100000; i++) {
		unsigned idx;

		v = rng() >> (28 + rng() % 36);
		idx = sl_hist_index(SL_LH_SUB_BITS, v);
		CHECK(idx < SL_LH_BUCKETS);
		CHECK(sl_hist_idx_low(SL_LH_SUB_BITS, idx) <= v && v <= sl_lh_bucket_high(idx));
	}
}

/* A bucket's highest value overstates any of its values by at most 1/32
 * (3.125%), over the whole range from tens of ns to a minute. */
static void
test_precision(void)
{
	uint64_t v, hi;
	double worst = 0;
	unsigned i;

	for (i = 0; i < 200000; i++) {
		v = 20 + (rng() >> (27 + rng() % 37)); /* shifts 27..63 */
		if (v > SL_LH_MAX_NS)
			v = SL_LH_MAX_NS;
		hi = sl_lh_bucket_high(sl_hist_index(SL_LH_SUB_BITS, v));
		CHECK(hi >= v);
		if ((double)(hi - v) / (double)v > worst)
			worst = (double)(hi - v) / (double)v;
	}
	CHECK(worst <= 1.0 / 32);
	CHECK(worst > 1.0 / 40); /* the bound is reached, not loose */
}

/* An area with a section for 3 topics and 2 workers, formatted. */
static struct sl_ctrs_hdr *
area_new(size_t *size)
{
	struct sl_ctrs_hdr *a;

	*size = sl_ctrs_area_size_h(4, 3, 2);
	a = calloc(1, *size);
	CHECK(a != NULL && sl_ctrs_format_h(a, *size, 4, 3, 2) == 0);
	return a;
}

static void
test_layout(void)
{
	size_t size;
	struct sl_ctrs_hdr *a = area_new(&size);
	struct sl_lh_hdr *s = sl_lh_section(a);
	uint32_t found;

	CHECK(size == sl_ctrs_area_size(4) + 128 + 3 * 256 + 3 * 2 * 4 * (64 + 1024 * 8));
	CHECK(s != NULL && a->hist_off == sl_ctrs_area_size(4));
	CHECK(s->n_slots == 3 && s->n_workers == 2 && s->n_buckets == 1024);
	CHECK(strcmp(s->names[SL_LH_M_persisted], "persisted") == 0);
	CHECK(strcmp(s->names[SL_LH_M_lag], "lag") == 0);
	CHECK(sl_ctrs_check(a, size, &found) == 0 && found == SL_CTRS_VERSION);
	/* Each worker's block on lines of its own. */
	CHECK(((uintptr_t)sl_lh_block(a, s, 1, 1, 2) - (uintptr_t)a) % 64 == 0);
	CHECK((uint8_t *)sl_lh_block(a, s, 2, 1, SL_LH_M_MAX - 1) + sizeof(struct sl_lh_block) ==
	      (uint8_t *)a + size);
	/* Bad geometry in the section: the area is refused. */
	s->n_buckets = 512;
	CHECK(sl_ctrs_check(a, size, &found) == -EINVAL);
	s->n_buckets = SL_LH_BUCKETS;
	s->n_workers = 3;
	CHECK(sl_ctrs_check(a, size, &found) == -EINVAL);
	s->n_workers = 2;
	/* A reader of version 1 finds version 2 and says so: the same check
	 * with the version it knows refuses it (as sluice-control did). */
	a->version = 1;
	CHECK(sl_ctrs_check(a, size, &found) == -EPROTO && found == 1);
	a->version = SL_CTRS_VERSION;
	/* No section: hist_off 0, the version-1 size. */
	free(a);
	size = sl_ctrs_area_size_h(4, 0, 2);
	CHECK(size == sl_ctrs_area_size(4));
	a = calloc(1, size);
	CHECK(sl_ctrs_format_h(a, size, 4, 0, 2) == 0 && a->hist_off == 0);
	CHECK(sl_lh_section(a) == NULL && sl_ctrs_check(a, size, NULL) == 0);
	free(a);
}

static struct sl_lh_sum sum;

/* Two workers' blocks add up; percentiles and count come from the sum. */
static void
test_sum_percentiles(void)
{
	size_t size;
	struct sl_ctrs_hdr *a = area_new(&size);
	struct sl_lh_hdr *s = sl_lh_section(a);
	struct sl_ctrs_view v;
	uint64_t i;

	sl_lh_slot_take(a, 1, 7, "prices");
	/* Worker 0: 1..900 ns; worker 1: 100 values of 10 us and 1 of 2 s. */
	for (i = 1; i <= 900; i++)
		sl_lh_record_n(sl_lh_block(a, s, 1, 0, SL_LH_M_delivered_shm), i, 1);
	sl_lh_record_n(sl_lh_block(a, s, 1, 1, SL_LH_M_delivered_shm), 10000, 99);
	sl_lh_record_n(sl_lh_block(a, s, 1, 1, SL_LH_M_delivered_shm), 2000000000, 1);
	/* Another metric and another slot stay apart. */
	sl_lh_record_n(sl_lh_block(a, s, 1, 0, SL_LH_M_persisted), 5, 3);
	sl_lh_record_n(sl_lh_block(a, s, 2, 0, SL_LH_M_delivered_shm), 5, 3);
	/* Beyond the range: the top bucket. */
	sl_lh_record_n(sl_lh_block(a, s, 0, 1, SL_LH_M_lag), UINT64_C(1) << 40, 1);

	CHECK(sl_ctrs_view_take(a, size, &v) == 0);
	CHECK(sl_lh_meta(v.hdr, sl_lh_section(v.hdr), 1)->state == SL_CTRS_LIVE);
	CHECK(sl_lh_meta(v.hdr, sl_lh_section(v.hdr), 1)->owner == 7);
	CHECK(strcmp(sl_lh_meta(v.hdr, sl_lh_section(v.hdr), 1)->key, "prices") == 0);
	CHECK(sl_lh_meta(v.hdr, sl_lh_section(v.hdr), 0)->state == SL_CTRS_FREE);
	sl_lh_sum(v.hdr, 1, SL_LH_M_delivered_shm, &sum);
	CHECK_EQ(sum.count, 1000);
	CHECK_EQ(sum.sum, 900 * 901 / 2 + 99 * 10000 + 2000000000ull);
	/* Rank 500 is 500 ns (256..511 in width-8 buckets: 496..503). */
	CHECK_EQ(sl_lh_percentile(&sum, 50), 503);
	/* Rank 900 is 900 (512..1023 in width-16 buckets: 895..911 -> 911). */
	CHECK_EQ(sl_lh_percentile(&sum, 90), 911);
	/* Ranks 901..999: 10 us, in 9984..10239. */
	CHECK_EQ(sl_lh_percentile(&sum, 99), 10239);
	CHECK_EQ(sl_lh_percentile(&sum, 99.9), 10239);
	/* The 2 s one: max within 3.1% above it. */
	CHECK(sl_lh_percentile(&sum, 100) >= 2000000000ull &&
	      sl_lh_percentile(&sum, 100) <= 2000000000ull + 2000000000ull / 32);
	CHECK_EQ(sl_lh_percentile(&sum, 0), 1);
	sl_lh_sum(v.hdr, 1, SL_LH_M_persisted, &sum);
	CHECK(sum.count == 3 && sum.sum == 15 && sl_lh_percentile(&sum, 50) == 5);
	sl_lh_sum(v.hdr, 0, SL_LH_M_lag, &sum);
	CHECK(sum.count == 1 && sum.b[SL_LH_BUCKETS - 1] == 1 && sum.sum == SL_LH_MAX_NS);
	sl_lh_sum(v.hdr, 0, SL_LH_M_persisted, &sum);
	CHECK(sum.count == 0 && sl_lh_percentile(&sum, 99) == 0);
	sl_ctrs_view_free(&v);

	/* A slot given to another topic starts empty, under a new generation. */
	{
		uint64_t gen = sl_lh_meta(a, s, 1)->seq;

		sl_lh_slot_free(a, 1);
		CHECK(sl_lh_meta(a, s, 1)->state == SL_CTRS_FREE);
		sl_lh_slot_take(a, 1, 9, "orders");
		CHECK(sl_lh_meta(a, s, 1)->seq == gen + 4 && !(sl_lh_meta(a, s, 1)->seq & 1));
		sl_lh_sum(a, 1, SL_LH_M_delivered_shm, &sum);
		CHECK(sum.count == 0 && sum.sum == 0);
	}
	free(a);
}

int
main(void)
{
	test_boundaries();
	test_precision();
	test_layout();
	test_sum_percentiles();
	return check_result("test_lathist");
}
