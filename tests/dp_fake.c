/* SPDX-License-Identifier: BSD-3-Clause */
/* A dataplane context for unit tests of the main lcore's modules: no NIC, no worker lcore. */

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "durable.h"
#include "lcore_main.h"

#include "dp_fake.h"

struct fake_sent fake_sent[FAKE_SENT_MAX];
unsigned fake_n_sent;
int fake_ring_full;

int
sl_dp_send_to_worker(struct sl_dp *dp, uint32_t worker, struct sl_handoff *h)
{
	if (worker >= dp->n_workers) {
		fprintf(stderr, "dp_fake: handoff kind %u for worker %u of %u\n", h->kind, worker,
			dp->n_workers);
		abort();
	}
	if (fake_ring_full || fake_n_sent == FAKE_SENT_MAX)
		return -EAGAIN;
	fake_sent[fake_n_sent].worker = worker;
	fake_sent[fake_n_sent].h = *h;
	fake_n_sent++;
	return 0;
}

int
fake_dp_init(struct sl_dp *dp, const char *name, const char *journal_dir, unsigned n_workers)
{
	unsigned i;

	memset(dp, 0, sizeof(*dp));
	sl_conf_defaults(&dp->conf);
	snprintf(dp->conf.name, sizeof(dp->conf.name), "%s", name);
	snprintf(dp->conf.journal_dir, sizeof(dp->conf.journal_dir), "%s", journal_dir);
	dp->conf.segment_mb = 1;
	dp->n_workers = (uint16_t)n_workers;
	for (i = 0; i < n_workers; i++) {
		dp->workers[i] = aligned_alloc(64, sizeof(struct sl_worker));
		if (dp->workers[i] == NULL)
			return -ENOMEM;
		memset(dp->workers[i], 0, sizeof(struct sl_worker));
		dp->workers[i]->idx = i;
		dp->workers[i]->dp = dp;
	}
	return 0;
}

int
fake_dp_topics(struct sl_dp *dp, struct sl_dp_reload *rep)
{
	struct sl_dp_reload local;
	int rc;

	rc = sl_route_init(&dp->route, dp->conf.max_topics, dp->conf.max_subscribers,
			   dp->n_workers);
	if (rc < 0)
		return rc;
	return sl_dp_journals_load(dp, rep ? rep : &local);
}

void
fake_dp_fini(struct sl_dp *dp)
{
	unsigned i;

	sl_dp_journals_close(dp);
	sl_route_fini(&dp->route);
	for (i = 0; i < dp->n_workers; i++) {
		free(dp->workers[i]);
		dp->workers[i] = NULL;
	}
}

void
fake_sent_clear(void)
{
	fake_n_sent = 0;
}

unsigned
fake_sent_count(uint8_t kind, uint32_t topic)
{
	unsigned i, n = 0;

	for (i = 0; i < fake_n_sent; i++)
		n += fake_sent[i].h.kind == kind && (topic == 0 || fake_sent[i].h.topic == topic);
	return n;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
fake_rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
