/* SPDX-License-Identifier: BSD-3-Clause */
/* A dataplane context for unit tests of the main lcore's modules: no NIC, no worker lcore. */

#ifndef SLUICE_TESTS_DP_FAKE_H
#define SLUICE_TESTS_DP_FAKE_H

#include <stdint.h>

#include "dataplane.h"

/*
 * The main lcore hands work to the workers with sl_dp_send_to_worker and
 * sums counters with sl_dp_ctr_sum; the real ones live beside the run loop
 * and the telemetry commands, with the rest of the process. This file
 * supplies both: every handoff is recorded here, in order, with the worker
 * it was for, and the test plays the workers' part; the sums are the main
 * lcore's own counters.
 */

#define FAKE_SENT_MAX 4096

struct fake_sent {
	uint32_t worker;
	struct sl_handoff h; /* holds the mbuf reference the worker would get */
};

extern struct fake_sent fake_sent[FAKE_SENT_MAX];
extern unsigned fake_n_sent;
extern int fake_ring_full; /* sl_dp_send_to_worker answers -EAGAIN while set */

/*
 * Fill @dp as start-up would for a dataplane of @n_workers workers, with
 * journals under @journal_dir and instance name @name: the configuration's
 * defaults (the caller may change dp->conf before fake_dp_topics), worker
 * structures (no lcore, no ring). Returns 0 or -errno.
 */
int fake_dp_init(struct sl_dp *dp, const char *name, const char *journal_dir,
		 unsigned n_workers);

/* The topic table (sl_route_init) and the journals found under
 * journal_dir (sl_dp_journals_load, report in @rep if not NULL). Returns
 * what sl_dp_journals_load does. */
struct sl_dp_reload;
int fake_dp_topics(struct sl_dp *dp, struct sl_dp_reload *rep);

/* What the main lcore's teardown does: journals closed, tables freed. */
void fake_dp_fini(struct sl_dp *dp);

/* Forget the recorded handoffs (their mbufs, if any, must be freed by the caller). */
void fake_sent_clear(void);

/* How many recorded handoffs are of @kind (for @topic, unless it is 0). */
unsigned fake_sent_count(uint8_t kind, uint32_t topic);

/* Remove @dir and everything under it (a test's temporary files). */
void fake_rm_tree(const char *dir);

#endif /* SLUICE_TESTS_DP_FAKE_H */
