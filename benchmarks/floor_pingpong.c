/* SPDX-License-Identifier: BSD-3-Clause */
/* Machine floors without DPDK: cache-line ping-pong round trip between two cores, and memcpy. */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "hist.h"
#include "pin.h"
#include "tsc.h"

#define PP_CACHE_LINE 64
#define PP_STOP UINT64_MAX
#define PP_WARMUP 10000u
/* memcpy samples time a batch of copies of at least this many bytes, so the
 * timer's own cost (tens of cycles) stays a small part of each sample. */
#define PP_BATCH_BYTES 16384u

/* One writer per line: the pinger writes ping, the ponger writes pong. */
struct pp_line {
	_Alignas(PP_CACHE_LINE) _Atomic uint64_t v;
	char pad[PP_CACHE_LINE - sizeof(uint64_t)];
};
_Static_assert(sizeof(struct pp_line) == PP_CACHE_LINE, "one cache line each");

static struct pp_line ping_line, pong_line;

struct pp_opts {
	int cpu[2];
	uint64_t count;
	double duration_s;
	size_t size;
	int memcpy_mode;
	int json;
};

static double ns_per_tick = 1.0;

/* Timestamp counter; a clock_gettime fallback keeps the file portable. */
static inline uint64_t
ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned aux;

	return __rdtscp(&aux);
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static void *
ponger(void *arg)
{
	int cpu = *(int *)arg;
	uint64_t last = 0, v;

	if (sl_bench_pin(cpu) < 0)
		fprintf(stderr, "sluice-floor-pingpong: cannot pin the ponger to cpu %d\n", cpu);
	for (;;) {
		/* acquire: pairs with the pinger's release store of ping */
		v = atomic_load_explicit(&ping_line.v, memory_order_acquire);
		if (v == last)
			continue;
		if (v == PP_STOP)
			break;
		/* release: pairs with the pinger's acquire load of pong */
		atomic_store_explicit(&pong_line.v, v, memory_order_release);
		last = v;
	}
	return NULL;
}

/* Round trips until count or duration; returns round trips done, or -1 on a stall. */
static int64_t
pingpong_run(const struct pp_opts *o, struct sl_hist *h, double *elapsed_s)
{
	uint64_t limit = (uint64_t)(o->duration_s * 1e9 / ns_per_tick);
	uint64_t stall = (uint64_t)(1e9 / ns_per_tick); /* one second for one round trip */
	uint64_t i, start, t0, t1, spins, done = 0;

	start = ticks();
	for (i = 1; i <= o->count + PP_WARMUP; i++) {
		t0 = ticks();
		atomic_store_explicit(&ping_line.v, i, memory_order_release);
		spins = 0;
		while (atomic_load_explicit(&pong_line.v, memory_order_acquire) != i) {
			if ((++spins & 0xffff) == 0 && ticks() - t0 > stall)
				return -1;
		}
		t1 = ticks();
		if (i > PP_WARMUP) {
			sl_hist_record(h, (uint64_t)((double)(t1 - t0) * ns_per_tick + 0.5));
			done++;
		} else if (i == PP_WARMUP) {
			start = t1; /* throughput counts measured round trips only */
		}
		/* The limit applies to the measured part: a slow warm-up on a
		 * busy machine must not end the run with no samples. */
		if (i > PP_WARMUP && (i & 1023) == 0 && t1 - start > limit)
			break;
	}
	*elapsed_s = (double)(ticks() - start) * ns_per_tick / 1e9;
	return (int64_t)done;
}

static int
pingpong(const struct pp_opts *o, struct sl_hist *h, double *ops_per_s)
{
	pthread_t th;
	double el = 0;
	int64_t n;
	int rc;

	if (sl_bench_pin(o->cpu[0]) < 0) {
		fprintf(stderr, "sluice-floor-pingpong: cannot pin to cpu %d; pick two cpus "
			"this machine has with --cpus A,B\n", o->cpu[0]);
		return -EINVAL;
	}
	rc = pthread_create(&th, NULL, ponger, (void *)&o->cpu[1]);
	if (rc != 0)
		return -rc;
	n = pingpong_run(o, h, &el);
	atomic_store_explicit(&ping_line.v, PP_STOP, memory_order_release);
	pthread_join(th, NULL);
	if (n < 0) {
		fprintf(stderr, "sluice-floor-pingpong: no answer for 1 s (is cpu %d busy?)\n",
			o->cpu[1]);
		return -ETIMEDOUT;
	}
	*ops_per_s = el > 0 ? (double)n / el : 0;
	return 0;
}

/* Per-copy time in picoseconds (a 64 B copy takes a few ns) and bytes/s. */
static int
memcpy_run(const struct pp_opts *o, struct sl_hist *h, double *ops_per_s, double *gbps)
{
	size_t batch = o->size >= PP_BATCH_BYTES ? 1 : PP_BATCH_BYTES / o->size;
	uint64_t limit = (uint64_t)(o->duration_s * 1e9 / ns_per_tick);
	uint64_t start, t0, t1, busy = 0, copies = 0, s;
	char *src, *dst;
	size_t k;

	if (sl_bench_pin(o->cpu[0]) < 0)
		fprintf(stderr, "sluice-floor-pingpong: cannot pin to cpu %d\n", o->cpu[0]);
	src = aligned_alloc(PP_CACHE_LINE, (o->size + PP_CACHE_LINE - 1) & ~(size_t)63);
	dst = aligned_alloc(PP_CACHE_LINE, (o->size + PP_CACHE_LINE - 1) & ~(size_t)63);
	if (src == NULL || dst == NULL) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	memset(src, 0x5a, o->size);
	memset(dst, 0, o->size);
	start = ticks();
	for (s = 0; s < o->count; s++) {
		t0 = ticks();
		for (k = 0; k < batch; k++) {
			memcpy(dst, src, o->size);
			/* The copy's result is "used": the compiler may not drop it. */
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
		t1 = ticks();
		if (s >= 16) { /* the first samples warm the caches and the TLB */
			busy += t1 - t0;
			copies += batch;
			sl_hist_record(h, (uint64_t)((double)(t1 - t0) * ns_per_tick * 1000.0 /
						     (double)batch + 0.5));
		}
		if (s >= 16 && t1 - start > limit)
			break;
	}
	free(src);
	free(dst);
	*ops_per_s = busy ? (double)copies / ((double)busy * ns_per_tick / 1e9) : 0;
	*gbps = *ops_per_s * (double)o->size / 1e9;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-floor-pingpong [--memcpy [--size B]] [options]\n"
		"Floors of this machine, to compare Sluice's figures against.\n"
		"Default: cache-line ping-pong round trip between two pinned threads,\n"
		"one cache line written by each side, timed with the TSC (calibrated to ns).\n"
		"--memcpy: time of one memcpy of B bytes (batched, per copy) and bandwidth.\n\n"
		"  --cpus A,B        cpus of the two threads (default 0,1; memcpy uses A)\n"
		"  -n, --count N     round trips, or memcpy samples (default 10000000)\n"
		"  -d, --duration S  time limit in seconds (default 1)\n"
		"  -s, --size B      memcpy size, 1..1073741824 (default 4096)\n"
		"      --memcpy      measure memcpy instead of the ping-pong\n"
		"      --json        one JSON object: p50_ns, p90_ns, p99_ns, p999_ns,\n"
		"                    p9999_ns, max_ns, ops_per_s (and gbps, size for memcpy)\n"
		"  -h, --help        this text\n"
		"Exit status: 0 done, 1 runtime failure, 2 bad usage.\n");
}

static int
parse_args(int argc, char **argv, struct pp_opts *o)
{
	static const struct option lo[] = {
		{ "cpus", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 's' },
		{ "memcpy", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "n:d:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (sscanf(optarg, "%d,%d", &o->cpu[0], &o->cpu[1]) != 2 ||
			    o->cpu[0] < 0 || o->cpu[1] < 0 || o->cpu[0] == o->cpu[1]) {
				fprintf(stderr, "sluice-floor-pingpong: --cpus wants two different "
					"cpu numbers, e.g. 0,1\n");
				return -1;
			}
			break;
		case 'n':
			o->count = strtoull(optarg, &end, 10);
			if (*end || o->count == 0) {
				fprintf(stderr, "sluice-floor-pingpong: --count wants a number > 0\n");
				return -1;
			}
			break;
		case 'd':
			o->duration_s = strtod(optarg, &end);
			if (*end || !(o->duration_s > 0 && o->duration_s <= 3600)) {
				fprintf(stderr, "sluice-floor-pingpong: --duration wants seconds "
					"in (0, 3600]\n");
				return -1;
			}
			break;
		case 's':
			o->size = strtoull(optarg, &end, 10);
			if (*end || o->size == 0 || o->size > (1u << 30)) {
				fprintf(stderr, "sluice-floor-pingpong: --size wants 1..1073741824\n");
				return -1;
			}
			break;
		case 'm':
			o->memcpy_mode = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-floor-pingpong: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static void
report(const struct pp_opts *o, const struct sl_hist *h, double ops, double gbps)
{
	/* memcpy records picoseconds; the keys stay in ns */
	double div = o->memcpy_mode ? 1000.0 : 1.0;
	const char *name = o->memcpy_mode ? "memcpy" : "pingpong";

	if (o->json) {
		printf("{\"name\":\"%s\",\"count\":%llu,\"p50_ns\":%.3f,\"p90_ns\":%.3f,"
		       "\"p99_ns\":%.3f,\"p999_ns\":%.3f,\"p9999_ns\":%.3f,\"max_ns\":%.3f,"
		       "\"ops_per_s\":%.1f",
		       name, (unsigned long long)sl_hist_count(h),
		       sl_hist_percentile(h, 50) / div, sl_hist_percentile(h, 90) / div,
		       sl_hist_percentile(h, 99) / div, sl_hist_percentile(h, 99.9) / div,
		       sl_hist_percentile(h, 99.99) / div, sl_hist_max(h) / div, ops);
		if (o->memcpy_mode)
			printf(",\"size\":%zu,\"gbps\":%.3f", o->size, gbps);
		printf("}\n");
		return;
	}
	printf("%s%s: %llu samples, ns: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f;  %.0f ops/s",
	       name, o->memcpy_mode ? " (per copy)" : " round trip",
	       (unsigned long long)sl_hist_count(h), sl_hist_percentile(h, 50) / div,
	       sl_hist_percentile(h, 99) / div, sl_hist_percentile(h, 99.9) / div,
	       sl_hist_max(h) / div, ops);
	if (o->memcpy_mode)
		printf(", %zu B: %.2f GB/s", o->size, gbps);
	printf("\n");
}

int
main(int argc, char **argv)
{
	static struct sl_hist h; /* about 66 KiB: off the stack */
	struct pp_opts o = {
		.cpu = { 0, 1 }, .count = 10000000, .duration_s = 1.0, .size = 4096,
	};
	double ops = 0, gbps = 0;
	int rc;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	sl_hist_init(&h, SL_HIST_SUB_BITS_DEFAULT);
	ns_per_tick = sl_tsc_ns_per_tick(100 * 1000 * 1000);
	rc = o.memcpy_mode ? memcpy_run(&o, &h, &ops, &gbps) : pingpong(&o, &h, &ops);
	if (rc < 0) {
		fprintf(stderr, "sluice-floor-pingpong: %s\n", strerror(-rc));
		return 1;
	}
	report(&o, &h, ops, gbps);
	return 0;
}
