/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shm_stash: a request made while thousands of deliveries arrive over
 * shared memory loses none of them, for tests/e2e/stash.sh.
 *
 *   shm_stash NAME TOPIC N
 *
 * Attaches to dataplane NAME, subscribes to TOPIC and publishes N messages
 * to it without polling, then resolves another topic at once: the broker
 * writes the N deliveries into the rx ring before the resolve's reply, so
 * the client reads them all while it waits (the stash; more than its first
 * 512 slots when N > 512). It then polls until it has N messages and checks
 * that they came in order, sequences 1..N after the first, with no gap
 * event and nothing counted in stash_drops. Prints one line; exit 0 when
 * all held, 1 when not, 2 on a usage error. Every wait is bounded.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/sluice.h>

#define PROG "shm_stash"
#define NS_PER_MS 1000000ull
#define REPLY_MS 3000u	    /* a request's reply */
#define COLLECT_MS 10000ull /* all N deliveries, after the resolve */

struct seen {
	uint64_t n;
	uint64_t first;	   /* seq of the first delivery */
	uint64_t next;	   /* the seq expected next */
	uint64_t misorder; /* deliveries whose seq was not the one expected */
	uint64_t gaps;	   /* SL_EV_GAP events */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
on_msg(void *arg, const struct sl_message *m)
{
	struct seen *s = arg;

	if (s->n == 0)
		s->first = s->next = m->seq;
	if (m->seq != s->next)
		s->misorder++;
	s->next = m->seq + 1;
	s->n++;
}

static void
on_event(void *arg, const struct sl_event *ev)
{
	struct seen *s = arg;

	if (ev->type == SL_EV_GAP)
		s->gaps++;
}

static int
run(const char *dp, const char *topic, uint64_t n)
{
	struct seen s = { 0 };
	struct sl_client_opts o = { .shm = dp, .name = PROG, .timeout_ms = REPLY_MS,
				    .on_event = on_event, .event_arg = &s };
	char other[256];
	struct sl_client_stats st;
	struct sl_client *c;
	uint32_t id, id2;
	uint64_t i, end;
	int rc;

	rc = sl_client_connect(&c, &o);
	if (rc < 0) {
		fprintf(stderr, PROG ": connect %s: %s\n", dp, strerror(-rc));
		return 1;
	}
	rc = sl_client_resolve(c, topic, 1, &id);
	if (rc == 0)
		rc = sl_client_subscribe(c, id);
	for (i = 0; rc == 0 && i < n; i++)
		rc = sl_client_publish(c, id, &i, sizeof(i), 0, 0);
	if (rc < 0) {
		fprintf(stderr, PROG ": set-up (after %" PRIu64 " publishes): %s\n", i,
			strerror(-rc));
		goto fail;
	}
	/* The request: its reply comes after every delivery just caused. */
	snprintf(other, sizeof(other), "%s.other", topic);
	rc = sl_client_resolve(c, other, 1, &id2);
	if (rc < 0) {
		fprintf(stderr, PROG ": resolve while deliveries arrive: %s\n", strerror(-rc));
		goto fail;
	}
	end = now_ns() + COLLECT_MS * NS_PER_MS;
	while (s.n < n && now_ns() < end) {
		rc = sl_client_wait(c, on_msg, &s, 256, 10);
		if (rc < 0) {
			fprintf(stderr, PROG ": wait: %s\n", strerror(-rc));
			goto fail;
		}
	}
	sl_client_stats(c, &st);
	printf("received %" PRIu64 " of %" PRIu64 " seqs %" PRIu64 "..%" PRIu64
	       " misordered %" PRIu64 " gap_events %" PRIu64 " stash_drops %" PRIu64 "\n",
	       s.n, n, s.first, s.next - 1, s.misorder, s.gaps, st.stash_drops);
	sl_client_close(c);
	return s.n == n && s.misorder == 0 && s.gaps == 0 && st.gaps == 0 &&
			       st.stash_drops == 0 ? 0 : 1;

fail:
	sl_client_close(c);
	return 1;
}

int
main(int argc, char **argv)
{
	char *endp;
	unsigned long long n;

	if (argc != 4) {
		fprintf(stderr, "usage: " PROG " NAME TOPIC N\n");
		return 2;
	}
	n = strtoull(argv[3], &endp, 10);
	if (*endp != '\0' || n == 0 || n > 1000000) {
		fprintf(stderr, PROG ": N must be 1..1000000\n");
		return 2;
	}
	return run(argv[1], argv[2], n);
}
