/* SPDX-License-Identifier: BSD-3-Clause */
/* Machine floor: rte_ring ping-pong round trip between two lcores (SP/SC rings). */

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "hist.h"

#define FR_RING_SIZE 1024
#define FR_WARMUP 10000u
#define FR_STOP UINTPTR_MAX

struct fr_opts {
	uint64_t count;
	double duration_s;
	int json;
};

struct fr_rings {
	struct rte_ring *ping; /* main -> worker: one producer, one consumer */
	struct rte_ring *pong; /* worker -> main */
};

/* Worker lcore: echo every token back until the stop token. */
static int
ponger(void *arg)
{
	struct fr_rings *r = arg;
	void *tok = NULL;

	for (;;) {
		if (rte_ring_sc_dequeue(r->ping, &tok) != 0)
			continue;
		if ((uintptr_t)tok == FR_STOP)
			return 0;
		while (rte_ring_sp_enqueue(r->pong, tok) != 0)
			rte_pause();
	}
}

/* Round trips from the main lcore; returns how many were measured, or -ETIMEDOUT. */
static int64_t
pingpong(struct fr_rings *r, const struct fr_opts *o, struct sl_hist *h, double *elapsed_s)
{
	uint64_t hz = rte_get_tsc_hz(), limit = (uint64_t)(o->duration_s * (double)hz);
	double ns_per_tick = 1e9 / (double)hz;
	uint64_t i, t0, t1, start, done = 0;
	void *tok = NULL;

	start = rte_rdtsc_precise();
	for (i = 1; i <= o->count + FR_WARMUP; i++) {
		t0 = rte_rdtsc_precise();
		while (rte_ring_sp_enqueue(r->ping, (void *)(uintptr_t)i) != 0)
			rte_pause();
		while (rte_ring_sc_dequeue(r->pong, &tok) != 0) {
			if (rte_rdtsc() - t0 > hz) /* one second for one round trip */
				return -ETIMEDOUT;
		}
		t1 = rte_rdtsc_precise();
		if ((uintptr_t)tok != i)
			return -EPROTO;
		if (i > FR_WARMUP) {
			sl_hist_record(h, (uint64_t)((double)(t1 - t0) * ns_per_tick + 0.5));
			done++;
		} else if (i == FR_WARMUP) {
			start = t1;
		}
		if ((i & 1023) == 0 && t1 - start > limit)
			break;
	}
	*elapsed_s = (double)(rte_rdtsc_precise() - start) * ns_per_tick / 1e9;
	return (int64_t)done;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-floor-ring [EAL options] -- [options]\n"
		"rte_ring ping-pong round trip between the main lcore and one worker lcore:\n"
		"two single-producer/single-consumer rings, one token in flight.\n"
		"EAL example: --no-pci --no-huge -m 256 --file-prefix sl-floor-$$ -l 0,1\n\n"
		"  -n, --count N     round trips (default 10000000)\n"
		"  -d, --duration S  time limit in seconds (default 1)\n"
		"      --json        one JSON object: p50_ns, p90_ns, p99_ns, p999_ns,\n"
		"                    p9999_ns, max_ns, ops_per_s\n"
		"  -h, --help        this text\n"
		"Exit status: 0 done, 1 runtime failure, 2 bad usage.\n");
}

static int
parse_args(int argc, char **argv, struct fr_opts *o)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:d:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->count = strtoull(optarg, &end, 10);
			if (*end || o->count == 0) {
				fprintf(stderr, "sluice-floor-ring: --count wants a number > 0\n");
				return -1;
			}
			break;
		case 'd':
			o->duration_s = strtod(optarg, &end);
			if (*end || !(o->duration_s > 0 && o->duration_s <= 3600)) {
				fprintf(stderr, "sluice-floor-ring: --duration wants seconds "
					"in (0, 3600]\n");
				return -1;
			}
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
		fprintf(stderr, "sluice-floor-ring: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static void
report(const struct fr_opts *o, const struct sl_hist *h, double ops)
{
	if (o->json) {
		printf("{\"name\":\"ring\",\"count\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,"
		       "\"p99_ns\":%llu,\"p999_ns\":%llu,\"p9999_ns\":%llu,\"max_ns\":%llu,"
		       "\"ops_per_s\":%.1f}\n",
		       (unsigned long long)sl_hist_count(h),
		       (unsigned long long)sl_hist_percentile(h, 50),
		       (unsigned long long)sl_hist_percentile(h, 90),
		       (unsigned long long)sl_hist_percentile(h, 99),
		       (unsigned long long)sl_hist_percentile(h, 99.9),
		       (unsigned long long)sl_hist_percentile(h, 99.99),
		       (unsigned long long)sl_hist_max(h), ops);
		return;
	}
	printf("rte_ring round trip: %llu samples, ns: p50 %llu  p99 %llu  p99.9 %llu  max %llu;"
	       "  %.0f round trips/s\n",
	       (unsigned long long)sl_hist_count(h),
	       (unsigned long long)sl_hist_percentile(h, 50),
	       (unsigned long long)sl_hist_percentile(h, 99),
	       (unsigned long long)sl_hist_percentile(h, 99.9),
	       (unsigned long long)sl_hist_max(h), ops);
}

static int
run(const struct fr_opts *o, struct sl_hist *h, double *ops)
{
	struct fr_rings r = { NULL, NULL };
	unsigned worker;
	double el = 0;
	int64_t n;
	int rc;

	worker = rte_get_next_lcore(-1, 1, 0);
	if (worker >= RTE_MAX_LCORE) {
		fprintf(stderr, "sluice-floor-ring: needs two lcores (EAL -l 0,1)\n");
		return -EINVAL;
	}
	r.ping = rte_ring_create("sl_floor_ping", FR_RING_SIZE, SOCKET_ID_ANY,
				 RING_F_SP_ENQ | RING_F_SC_DEQ);
	r.pong = rte_ring_create("sl_floor_pong", FR_RING_SIZE, SOCKET_ID_ANY,
				 RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r.ping == NULL || r.pong == NULL) {
		rc = -rte_errno;
		goto out;
	}
	rc = rte_eal_remote_launch(ponger, &r, worker);
	if (rc < 0)
		goto out;
	n = pingpong(&r, o, h, &el);
	while (rte_ring_sp_enqueue(r.ping, (void *)FR_STOP) != 0)
		rte_pause();
	rte_eal_wait_lcore(worker);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	*ops = el > 0 ? (double)n / el : 0;
	rc = 0;
out:
	rte_ring_free(r.pong);
	rte_ring_free(r.ping);
	return rc;
}

int
main(int argc, char **argv)
{
	static struct sl_hist h; /* about 66 KiB: off the stack */
	struct fr_opts o = { .count = 10000000, .duration_s = 1.0 };
	double ops = 0;
	int n, rc;

	/* EAL would answer --help with its own text and exit: ours first. */
	for (n = 1; n < argc && strcmp(argv[n], "--") != 0; n++) {
		if (strcmp(argv[n], "-h") == 0 || strcmp(argv[n], "--help") == 0) {
			usage(stdout);
			return 0;
		}
	}
	/* EAL's console log goes to stdout on Linux; keep stdout for the result. */
	rte_openlog_stream(stderr);
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "sluice-floor-ring: EAL init failed: %s (try --no-pci --no-huge "
			"-m 256 --file-prefix NAME -l 0,1)\n", rte_strerror(rte_errno));
		return 1;
	}
	argv[n] = argv[0];
	if (parse_args(argc - n, argv + n, &o) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	sl_hist_init(&h, SL_HIST_SUB_BITS_DEFAULT);
	rc = run(&o, &h, &ops);
	if (rc < 0)
		fprintf(stderr, "sluice-floor-ring: %s\n", strerror(-rc));
	else
		report(&o, &h, ops);
	rte_eal_cleanup();
	return rc < 0 ? 1 : 0;
}
