/* SPDX-License-Identifier: BSD-3-Clause */
/* The counters area of the CnC region: labelled 64-bit values written by the dataplane. */

#ifndef SLUICE_CTRS_H
#define SLUICE_CTRS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The model is Aeron's counters file. The dataplane (one writer: its main
 * lcore) owns the area; readers (sluice-control, tools, tests) map it and
 * copy. Layout, at the CnC header's ctrs_off (docs/COUNTERS.md):
 *
 *   struct sl_ctrs_hdr                      magic, version, geometry, sample clock
 *   struct sl_ctrs_type  [n_types]          a name and the labels of its values
 *   struct sl_ctrs_meta  [n_slots]          per slot: type, owner, generation, key
 *   uint64_t             [n_slots][values_per_slot]
 *   latency histograms (version 2, common/lathist.h), at hist_off
 *
 * A slot is one owner's block of values (the dataplane's counters, one
 * worker, one port, one topic...); its type says what each value is called
 * and how it reads (enum sl_ctrs_kind). Labels come from the dataplane's
 * X-macro counter lists: no reader carries its own copy of the schema.
 *
 * Values are written with relaxed stores, one aligned word each: a reader
 * never sees a torn value. A slot's identity is guarded by its seq word: odd
 * while the writer (re)assigns it, +2 on each assignment, so a reader that
 * sees the same even seq before and after copying a slot read one owner. A
 * whole sample (every slot refreshed at one instant) is bracketed by the
 * header's sample_seq the same way.
 */

#define SL_CTRS_MAGIC 0x3153525443434c53ull /* "SLCCTRS1" */
#define SL_CTRS_VERSION 3u /* 2: the latency histogram section (hist_off);
			    * 3: 128 values per slot (64 before) */
#define SL_CTRS_MAX_TYPES 16
#define SL_CTRS_MAX_VALUES 128 /* values per slot */
#define SL_CTRS_LABEL_LEN 32  /* NUL terminated */
#define SL_CTRS_KEY_LEN 208   /* a topic name fits (SL_CNC_NAME_LEN) */

/* How a value reads. */
enum sl_ctrs_kind {
	SL_CTRS_K_UNUSED = 0,
	SL_CTRS_K_COUNT = 1,	    /* monotonic event count: has a rate */
	SL_CTRS_K_GAUGE = 2,	    /* a level that goes up and down */
	SL_CTRS_K_ID = 3,	    /* an attribute (lcore, queue, pid): no metric */
	SL_CTRS_K_BOOL = 4,	    /* 0 or 1 */
	SL_CTRS_K_DURABILITY = 5,   /* enum sl_durability (common/policy.h) */
	SL_CTRS_K_BACKPRESSURE = 6, /* enum sl_backpressure (common/policy.h) */
	SL_CTRS_K_IDLE = 7,	    /* 0 busy, 1 backoff */
	SL_CTRS_K_NS = 8,	    /* CLOCK_REALTIME nanoseconds */
};

/* Slot states (low bits of nothing: a word of its own). */
#define SL_CTRS_FREE 0u
#define SL_CTRS_LIVE 1u

/* Owner of a slot not tied to a worker, port or topic: the main lcore. */
#define SL_CTRS_OWNER_MAIN 0xffffffffu

struct sl_ctrs_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;   /* sizeof(struct sl_ctrs_hdr) */
	uint32_t type_size;  /* sizeof(struct sl_ctrs_type) */
	uint32_t meta_size;  /* sizeof(struct sl_ctrs_meta) */
	uint32_t n_types;    /* SL_CTRS_MAX_TYPES */
	uint32_t n_slots;
	uint32_t values_per_slot; /* SL_CTRS_MAX_VALUES */
	uint32_t slots_used;	  /* live slots now (informative) */
	uint64_t types_off;  /* from the start of this header */
	uint64_t meta_off;
	uint64_t values_off;
	uint64_t area_size;  /* bytes from this header to the end of the values */
	uint64_t sample_seq; /* odd while a sample is written */
	uint64_t sample_ns;  /* CLOCK_REALTIME of the last complete sample */
	uint64_t alloc_failed; /* slots the writer could not get (area full) */
	uint64_t hist_off;     /* the latency histograms (common/lathist.h); 0: none */
	uint8_t pad[24];
};

struct sl_ctrs_type {
	char name[SL_CTRS_LABEL_LEN]; /* "" for an undefined type */
	uint32_t n_values;
	uint32_t reserved;
	uint8_t kinds[SL_CTRS_MAX_VALUES]; /* enum sl_ctrs_kind */
	char labels[SL_CTRS_MAX_VALUES][SL_CTRS_LABEL_LEN];
};

struct sl_ctrs_meta {
	uint64_t seq;	/* odd while assigned; generation = seq / 2 */
	uint32_t state; /* SL_CTRS_FREE or SL_CTRS_LIVE */
	uint32_t type;	/* index into the type table */
	uint32_t owner; /* worker, port or topic id; SL_CTRS_OWNER_MAIN */
	uint32_t reserved;
	uint64_t reserved2;
	char key[SL_CTRS_KEY_LEN]; /* a topic's name; "" otherwise */
	uint8_t pad[16];
};

/* Bytes an area of @n_slots slots takes, without latency histograms. */
size_t sl_ctrs_area_size(uint32_t n_slots);

/* Bytes an area of @n_slots slots takes with histograms for @hist_slots
 * topics written by @hist_workers workers (0 and 0: none). */
size_t sl_ctrs_area_size_h(uint32_t n_slots, uint32_t hist_slots, uint32_t hist_workers);

/* ---- writer (the dataplane's main lcore) ---- */

/* Lay out an empty area of @n_slots at @base (@size bytes, zeroed). The
 * magic is stored last, with release. Returns 0 or -EINVAL (too small). */
int sl_ctrs_format(struct sl_ctrs_hdr *a, size_t size, uint32_t n_slots);

/* As sl_ctrs_format, with the latency histogram section of
 * sl_ctrs_area_size_h (none when @hist_slots or @hist_workers is 0). */
int sl_ctrs_format_h(struct sl_ctrs_hdr *a, size_t size, uint32_t n_slots, uint32_t hist_slots,
		     uint32_t hist_workers);

/* Define type @type: @name and @n values, their labels and kinds. Returns 0
 * or -EINVAL (bad index, too many values, label too long). */
int sl_ctrs_type_define(struct sl_ctrs_hdr *a, uint32_t type, const char *name,
			const char *const *labels, const uint8_t *kinds, unsigned n);

/* Take a free slot for (@type, @owner, @key: may be NULL), its values
 * zeroed, its generation advanced. Returns the slot index or -ENOSPC. */
int sl_ctrs_slot_alloc(struct sl_ctrs_hdr *a, uint32_t type, uint32_t owner, const char *key);

/* Give slot @slot back; a reader holding its old generation notices. */
void sl_ctrs_slot_free(struct sl_ctrs_hdr *a, int slot);

/* The values of @slot (writer side). */
uint64_t *sl_ctrs_values(struct sl_ctrs_hdr *a, int slot);

/* One value: a relaxed store, one aligned word (never torn). */
static inline void
sl_ctrs_set(uint64_t *v, uint64_t x)
{
	__atomic_store_n(v, x, __ATOMIC_RELAXED);
}

/* Bracket a refresh of every slot: readers that want all values of one
 * instant retry across it. @now_ns becomes sample_ns. */
void sl_ctrs_sample_begin(struct sl_ctrs_hdr *a);
void sl_ctrs_sample_end(struct sl_ctrs_hdr *a, uint64_t now_ns);

/* ---- reader ---- */

/*
 * A private copy of an area. Slots that changed owner during the copy are
 * marked free in the copy; consistent is 1 when the whole copy falls in one
 * sample (no refresh ran across it).
 */
struct sl_ctrs_view {
	uint8_t *buf;
	const struct sl_ctrs_hdr *hdr;
	const struct sl_ctrs_type *types;
	const struct sl_ctrs_meta *meta;
	const uint64_t *values;
	uint64_t sample_ns;
	int consistent;
};

/*
 * Check that the area at @a (@avail bytes mapped) is one this reader
 * knows: magic, version and geometry. Returns 0, -EPROTO (another magic,
 * version or layout: @found_version says which version, 0 if unknown) or
 * -EINVAL (the geometry does not fit in @avail).
 */
int sl_ctrs_check(const struct sl_ctrs_hdr *a, size_t avail, uint32_t *found_version);

/* Copy area @a (@avail bytes mapped) into @v, checking its geometry before
 * and after the copy. Returns 0, -EPROTO (sl_ctrs_check refused it) or
 * -ENOMEM. */
int sl_ctrs_view_take(const struct sl_ctrs_hdr *a, size_t avail, struct sl_ctrs_view *v);
void sl_ctrs_view_free(struct sl_ctrs_view *v);

/* Slot @i of a view when live, else NULL; its type through @t, its values
 * through @vals. */
const struct sl_ctrs_meta *sl_ctrs_view_slot(const struct sl_ctrs_view *v, uint32_t i,
					     const struct sl_ctrs_type **t, const uint64_t **vals);

/* Index of the type named @name in a view, or -1. */
int sl_ctrs_view_type(const struct sl_ctrs_view *v, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_CTRS_H */
