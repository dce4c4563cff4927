/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-memory ring's two ways of telling the consumer a record is
 * there, measured between two cores with the real layout (common/shm.h):
 * "line", where the consumer polls the commit word at its own position
 * (the line the producer writes next), and "doorbell", where the producer
 * also stores its position in a word of its own line after each commit and
 * the consumer polls that word, touching record lines only once they are
 * written. Prints, per mode, the one-way latency of a one-line (32-byte)
 * message at a paced rate, the producer's cost per message at that rate,
 * and the rate the pair sustains flat out.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/shm.h>

#include "hist.h"
#include "pin.h"
#include "tsc.h"

#define RING_SHIFT 20u /* 1 MiB ring, as a client's default tx ring */
#define RING (1u << RING_SHIFT)
#define PAYLOAD SL_SHM_LINE_PAYLOAD

struct ring_pair {
	_Alignas(64) uint64_t prod;  /* doorbell: producer position (release) */
	_Alignas(64) uint64_t cons;  /* consumer position (release) */
	_Alignas(64) uint64_t stop;
	_Alignas(64) uint8_t data[RING];
};

struct run {
	struct ring_pair *r;
	int doorbell;
	uint64_t count;
	uint64_t gap_ticks;	/* between messages; 0: flat out */
	int cpu[2];
	struct sl_hist lat;	/* one-way, ticks */
	struct sl_hist call;	/* producer's claim + copy + commit, ticks */
	uint64_t t0, t1;
	uint64_t got;
};

/* Consumer: take records until @count were read; records carry the tick
 * their commit was made at, in the timestamp field. */
static void *
consumer(void *arg)
{
	struct run *x = arg;
	struct ring_pair *r = x->r;
	uint64_t pos = 0, prod = 0;

	if (sl_bench_pin(x->cpu[1]) < 0)
		return NULL;
	while (x->got < x->count) {
		const struct sl_shm_msg *m;
		uint64_t w;

		if (x->doorbell && pos == prod) {
			/* Acquire: pairs with the producer's release of prod. */
			prod = __atomic_load_n(&r->prod, __ATOMIC_ACQUIRE);
			if (pos == prod) {
				__builtin_ia32_pause();
				continue;
			}
		}
		m = (const struct sl_shm_msg *)(r->data + (pos & (RING - 1)));
		/* Acquire: pairs with the release of the commit word. */
		w = __atomic_load_n(&m->commit, __ATOMIC_ACQUIRE);
		if ((uint32_t)(w >> 32) != sl_shm_lap(pos, RING_SHIFT)) {
			__builtin_ia32_pause();
			continue;
		}
		if ((uint32_t)w == SL_SHM_PAD) {
			pos += RING - (pos & (RING - 1));
		} else {
			/* Flat out the records carry no stamp: a TSC read on
			 * each side would cost more than the line itself. */
			if (x->gap_ticks) {
				uint64_t now = __rdtsc();

				sl_hist_record(&x->lat, now > m->timestamp ? now - m->timestamp : 0);
			}
			pos += sl_shm_rec_bytes(sl_shm_word_len(w));
			x->got++;
		}
		__atomic_store_n(&r->cons, pos, __ATOMIC_RELEASE);
	}
	x->t1 = __rdtsc();
	return NULL;
}

/* Producer: @count one-line messages, paced @gap_ticks apart (or flat out). */
static void
producer(struct run *x)
{
	struct ring_pair *r = x->r;
	uint64_t pos = 0, cons = 0, next, i;
	uint8_t payload[PAYLOAD];
	uint32_t rec = sl_shm_rec_bytes(SL_SHM_MSG_BODY + PAYLOAD), off;

	memset(payload, 0x5a, sizeof(payload));
	x->t0 = next = __rdtsc();
	for (i = 0; i < x->count; i++) {
		struct sl_shm_msg *m;
		uint64_t a = 0, b;

		if (x->gap_ticks) {
			while (__rdtsc() < next)
				__builtin_ia32_pause();
			next += x->gap_ticks;
			a = __rdtsc();
		}
		while (pos + sl_shm_rec_need(pos, RING, rec) - cons > RING)
			cons = __atomic_load_n(&r->cons, __ATOMIC_ACQUIRE);
		off = sl_shm_rec_place(r->data, RING, RING_SHIFT, &pos, rec);
		m = (struct sl_shm_msg *)(r->data + off);
		m->topic_id = 1;
		m->flags = 0;
		m->hdrs_len = 0;
		m->seq = i + 1;
		memcpy(m + 1, payload, PAYLOAD);
		m->timestamp = x->gap_ticks ? __rdtsc() : 0;
		sl_shm_rec_commit_word(r->data, RING, pos,
				       sl_shm_commit_msg(pos, RING_SHIFT, SL_SHM_MSG_BODY + PAYLOAD));
		pos += rec;
		if (x->doorbell)
			__atomic_store_n(&r->prod, pos, __ATOMIC_RELEASE);
		if (x->gap_ticks) {
			b = __rdtsc();
			sl_hist_record(&x->call, b - a);
		}
	}
}

static int
run_once(struct run *x)
{
	pthread_t t;

	memset(x->r, 0, sizeof(*x->r));
	x->got = 0;
	if (sl_hist_init(&x->lat, 7) < 0 || sl_hist_init(&x->call, 7) < 0)
		return -ENOMEM;
	if (sl_bench_pin(x->cpu[0]) < 0 || pthread_create(&t, NULL, consumer, x) != 0)
		return -EINVAL;
	producer(x);
	pthread_join(t, NULL);
	return x->got == x->count ? 0 : -EIO;
}

static void
usage(const char *p)
{
	printf("usage: %s [--mode line|doorbell] [--count N] [--rate MSGS_PER_S] [--cpus A,B] [--json]\n"
	       "  Times the shared-memory ring's line polling against a doorbell word (both\n"
	       "  unless --mode), with one-line (32-byte payload) message records: one-way\n"
	       "  latency and the producer's cost at --rate (default 100000) over --count\n"
	       "  messages (default 200000), and the flat-out rate over ten times as many.\n", p);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' }, { "rate", required_argument, NULL, 'r' },
		{ "cpus", required_argument, NULL, 'c' }, { "json", no_argument, NULL, 'j' },
		{ "mode", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct run x = { .count = 200000, .cpu = { 0, 1 } };
	double ns = sl_tsc_ns_per_tick(50000000L), rate = 100000;
	int json = 0, o, mode, first = 0, last = 1;

	while ((o = getopt_long(argc, argv, "n:r:c:m:jh", lo, NULL)) != -1) {
		switch (o) {
		case 'm':
			if (strcmp(optarg, "line") == 0) {
				first = last = 0;
			} else if (strcmp(optarg, "doorbell") == 0) {
				first = last = 1;
			} else {
				fprintf(stderr, "bench-shm-ring: --mode is line or doorbell\n");
				return 2;
			}
			break;
		case 'n': x.count = strtoull(optarg, NULL, 10); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &x.cpu[0], &x.cpu[1]) != 2) {
				fprintf(stderr, "bench-shm-ring: --cpus takes A,B\n");
				return 2;
			}
			break;
		case 'j': json = 1; break;
		case 'h': usage(argv[0]); return 0;
		default: usage(argv[0]); return 2;
		}
	}
	if (x.count == 0 || rate <= 0) {
		fprintf(stderr, "bench-shm-ring: --count and --rate must be positive\n");
		return 2;
	}
	x.r = aligned_alloc(64, sizeof(*x.r));
	if (x.r == NULL)
		return 1;
	for (mode = first; mode <= last; mode++) {
		double mps, q[6], c50, c99;
		static const double pct[6] = { 50, 90, 99, 99.9, 99.99, 100 };
		int k;

		x.doorbell = mode;
		x.gap_ticks = (uint64_t)(1e9 / rate / ns);
		if (run_once(&x) < 0)
			return 1;
		for (k = 0; k < 6; k++)
			q[k] = (double)sl_hist_percentile(&x.lat, pct[k]) * ns;
		c50 = (double)sl_hist_percentile(&x.call, 50) * ns;
		c99 = (double)sl_hist_percentile(&x.call, 99) * ns;
		x.gap_ticks = 0;
		x.count *= 10;
		if (run_once(&x) < 0)
			return 1;
		x.count /= 10;
		mps = (double)x.count * 10 / ((double)(x.t1 - x.t0) * ns / 1e9);
		/* Latency keys as sluice-loadgen writes them; msgs_per_s the
		 * flat-out rate. */
		if (json)
			printf("{\"mode\":\"%s\",\"count\":%" PRIu64 ",\"p50_ns\":%.0f,\"p90_ns\":%.0f,"
			       "\"p99_ns\":%.0f,\"p999_ns\":%.0f,\"p9999_ns\":%.0f,\"max_ns\":%.0f,"
			       "\"publish_call_p50_ns\":%.0f,\"publish_call_p99_ns\":%.0f,"
			       "\"msgs_per_s\":%.0f}\n", mode ? "doorbell" : "line", x.count, q[0],
			       q[1], q[2], q[3], q[4], q[5], c50, c99, mps);
		else
			printf("%-8s one-way p50 %6.0f ns p99 %7.0f ns | producer p50 %4.0f ns p99 "
			       "%5.0f ns | flat out %.2f M msg/s\n", mode ? "doorbell" : "line", q[0],
			       q[2], c50, c99, mps / 1e6);
	}
	free(x.r);
	return 0;
}
