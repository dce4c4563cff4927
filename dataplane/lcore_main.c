/* SPDX-License-Identifier: BSD-3-Clause */
/* The main lcore's slow path: handoffs to workers, the slow-path ring, the duty loop. */

#include <errno.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "lcore_main.h"

#define SLOW_PATH_SLEEP_US 1000	    /* idle main lcore: sleep between polls */
#define SLOW_PATH_IDLE_SLEEP_US 10000 /* ... after SLOW_PATH_IDLE_POLLS without work */
#define SLOW_PATH_IDLE_POLLS 50
#define SLOW_BURST 32

int
sl_dp_send_to_worker(struct sl_dp *d, uint32_t worker, struct sl_handoff *h)
{
	int tries;

	/* The main lcore may wait a little: a worker drains its ring every poll. */
	for (tries = 0; tries < 100000; tries++) {
		if (rte_ring_enqueue_elem(d->workers[worker]->in, h, sizeof(*h)) == 0)
			return 0;
		rte_pause();
	}
	return -EAGAIN;
}

void
sl_dp_slow_path_on(struct sl_dp *dp, enum sl_handoff_kind kind, sl_slow_fn fn)
{
	if ((unsigned)kind < SL_HO_KINDS)
		dp->slow_fn[kind] = fn;
}

unsigned
sl_dp_slow_path_poll(struct sl_dp *d)
{
	struct sl_handoff h[SLOW_BURST];
	unsigned n, i;

	n = rte_ring_dequeue_burst_elem(d->slow, h, sizeof(h[0]), SLOW_BURST, NULL);
	for (i = 0; i < n; i++) {
		sl_slow_fn fn = h[i].kind < SL_HO_KINDS ? d->slow_fn[h[i].kind] : NULL;

		if (fn != NULL) {
			fn(d, &h[i]);
			continue;
		}
		sl_ctr_add(&d->main_ctr.drop[SL_DROP_unexpected_type], 1);
		if (h[i].m)
			rte_pktmbuf_free(h[i].m);
	}
	return n;
}

void
sl_dp_main_loop(struct sl_dp *dp, const sl_duty_fn *duties, unsigned n)
{
	unsigned i, work, idle = 0;

	/* The main lcore is the slow path: it never spins. It shares a core
	 * with other work, and on virtual machines every wake-up costs tens of
	 * microseconds of that core, so it sleeps when idle: a millisecond
	 * after recent work, ten after 50 ms of none. Topic creation, control
	 * commands and shared-memory attaches wait at most that long. */
	while (!__atomic_load_n(&dp->quit, __ATOMIC_RELAXED)) {
		for (work = 0, i = 0; i < n; i++)
			work += duties[i](dp);
		if (work != 0) {
			idle = 0;
			continue;
		}
		/* Each wake-up preempts whatever shares this core (a local
		 * client, on a small machine): after a while without work,
		 * wake ten times less often. */
		usleep(++idle < SLOW_PATH_IDLE_POLLS ? SLOW_PATH_SLEEP_US : SLOW_PATH_IDLE_SLEEP_US);
	}
}
