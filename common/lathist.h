/* SPDX-License-Identifier: BSD-3-Clause */
/* The broker's latency histograms: their layout in the counters area, record and read. */

#ifndef SLUICE_LATHIST_H
#define SLUICE_LATHIST_H

#include <stdint.h>

#include <common/ctrs.h>
#include <common/histmath.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Per topic that has a histogram slot, one block per (worker, metric): the
 * worker is the block's only writer, readers add the workers' blocks up
 * (docs/COUNTERS.md, "Latency histograms"). Buckets: common/histmath.h with
 * 5 sub-bucket bits (a bucket is at most 1/32, 3.1%, of its values wide) and
 * nanosecond values up to 2^36 - 1 (68.7 s); a larger value is counted in
 * the top bucket, its sum with the clamped value.
 *
 * The section lives in the counters area at the area header's hist_off:
 *
 *   struct sl_lh_hdr                               geometry, metric names
 *   struct sl_ctrs_meta   [n_slots]                per slot: topic id, name, generation
 *   struct sl_lh_block    [n_slots][n_workers][n_metrics]
 */

#define SL_LH_SUB_BITS 5u
#define SL_LH_RANGE_BITS 36u
#define SL_LH_MAX_NS ((UINT64_C(1) << SL_LH_RANGE_BITS) - 1)
#define SL_LH_BUCKETS SL_HIST_NBUCKETS(SL_LH_RANGE_BITS, SL_LH_SUB_BITS) /* 1024 */
#define SL_LH_NAME_LEN 16

/* The metrics, in block order (name, what). */
#define SL_LH_METRIC_LIST(X)                                                           \
	X(persisted)     /* PUBLISH received -> its journal record persisted */        \
	X(delivered_udp) /* PUBLISH received -> DELIVER sent to a UDP subscriber */     \
	X(delivered_shm) /* PUBLISH received -> DELIVER written to a shm subscriber */  \
	X(lag)           /* message received -> sent again (retransmit, replay, redelivery) */

#define SL_X_LH_ENUM(n) SL_LH_M_##n,
enum sl_lh_metric { SL_LH_METRIC_LIST(SL_X_LH_ENUM) SL_LH_M_MAX };
#undef SL_X_LH_ENUM

extern const char *const sl_lh_metric_names[SL_LH_M_MAX];

struct sl_lh_hdr {
	uint32_t sub_bits;   /* SL_LH_SUB_BITS */
	uint32_t range_bits; /* SL_LH_RANGE_BITS */
	uint32_t n_buckets;  /* SL_LH_BUCKETS */
	uint32_t n_metrics;  /* SL_LH_M_MAX */
	uint32_t n_slots;    /* topics that can have histograms */
	uint32_t n_workers;
	uint32_t block_size; /* sizeof(struct sl_lh_block) */
	uint32_t reserved;
	uint64_t meta_off;   /* from the start of the counters area */
	uint64_t blocks_off; /* from the start of the counters area */
	uint64_t no_slot;    /* topics seen without a histogram slot (all taken) */
	uint64_t reserved2;
	char names[4][SL_LH_NAME_LEN]; /* the metrics' names, NUL terminated */
};

/* One worker's histogram of one metric of one topic: its own cache lines. */
struct sl_lh_block {
	uint64_t sum;	 /* of the recorded values, ns */
	uint64_t pad[7]; /* the buckets start on a line of their own */
	uint64_t b[SL_LH_BUCKETS];
} __attribute__((aligned(64)));

/* Bytes a section of @n_slots topics and @n_workers writers takes (0 for none). */
uint64_t sl_lh_section_size(uint32_t n_slots, uint32_t n_workers);

/* Lay out the section at @s (zeroed memory, @off from the area's start). */
void sl_lh_format(struct sl_lh_hdr *s, uint64_t off, uint32_t n_slots, uint32_t n_workers);

/* Is section @s (its area @area_size bytes) one this reader knows, and in
 * bounds? 0 or -EPROTO. */
int sl_lh_check(const struct sl_lh_hdr *s, uint64_t off, uint64_t area_size);

/* The section of area @a, or NULL when it has none. */
static inline struct sl_lh_hdr *
sl_lh_section(const struct sl_ctrs_hdr *a)
{
	return a->hist_off ? (struct sl_lh_hdr *)((uint8_t *)(uintptr_t)a + a->hist_off) : NULL;
}

static inline struct sl_ctrs_meta *
sl_lh_meta(const struct sl_ctrs_hdr *a, const struct sl_lh_hdr *s, uint32_t slot)
{
	return (struct sl_ctrs_meta *)((uint8_t *)(uintptr_t)a + s->meta_off) + slot;
}

static inline struct sl_lh_block *
sl_lh_block(const struct sl_ctrs_hdr *a, const struct sl_lh_hdr *s, uint32_t slot,
	    uint32_t worker, unsigned metric)
{
	return (struct sl_lh_block *)((uint8_t *)(uintptr_t)a + s->blocks_off) +
	       ((size_t)slot * s->n_workers + worker) * SL_LH_M_MAX + metric;
}

/*
 * Record @n values of @ns nanoseconds into @b. The writer is the block's
 * only one: plain adds published with relaxed stores (a reader may see a
 * value a moment old, never a torn word), no atomic read-modify-write.
 */
static inline void
sl_lh_record_n(struct sl_lh_block *b, uint64_t ns, uint64_t n)
{
	unsigned i;

	ns = ns > SL_LH_MAX_NS ? SL_LH_MAX_NS : ns;
	i = sl_hist_index(SL_LH_SUB_BITS, ns);
	__atomic_store_n(&b->b[i], b->b[i] + n, __ATOMIC_RELAXED);
	__atomic_store_n(&b->sum, b->sum + ns * n, __ATOMIC_RELAXED);
}

/* ---- writer (main lcore): slots ---- */

/* Give slot @slot to topic @topic (@name), its blocks zeroed, its
 * generation advanced (the seqlock of struct sl_ctrs_meta). */
void sl_lh_slot_take(struct sl_ctrs_hdr *a, uint32_t slot, uint32_t topic, const char *name);
void sl_lh_slot_free(struct sl_ctrs_hdr *a, uint32_t slot);

/* ---- reader ---- */

/* One metric of one topic, the workers' blocks added up. */
struct sl_lh_sum {
	uint64_t count, sum;
	uint64_t b[SL_LH_BUCKETS];
};

/* Add the blocks of @slot, metric @metric, over every worker, into @out
 * (zeroed first). */
void sl_lh_sum(const struct sl_ctrs_hdr *a, uint32_t slot, unsigned metric,
	       struct sl_lh_sum *out);

/* The value at percentile @p (0..100) of @h: the highest value of the
 * bucket holding the ceil(p% * count)-th value (p 100: the highest bucket
 * with a count); 0 when empty. */
uint64_t sl_lh_percentile(const struct sl_lh_sum *h, double p);

/* Highest value bucket @idx holds (its Prometheus `le`). */
static inline uint64_t
sl_lh_bucket_high(unsigned idx)
{
	return sl_hist_idx_high(SL_LH_SUB_BITS, idx);
}

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_LATHIST_H */
