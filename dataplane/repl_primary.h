/* SPDX-License-Identifier: BSD-3-Clause */
/* The primary's side of replication: what each replica holds of each topic, streaming from the journals. */

#ifndef SLUICE_DP_REPL_PRIMARY_H
#define SLUICE_DP_REPL_PRIMARY_H

#include <stdint.h>

#include "dataplane.h"
#include "repl.h"

/*
 * Per topic and replica (struct sl_repl_tpos in repl.h): acked (the
 * replica's persisted seq) and next_to_send. The replication worker, while
 * this node is PRIMARY, announces every journaled topic (TOPIC, resent
 * until POS), answers POS with TRUNC (a divergent tail: the replica's last
 * seq is past the end of its last epoch in our journal, or it stops before
 * our first record) or starts streaming from the replica's last + 1, and
 * each iteration sends from next_to_send up to the journal's last seq, read
 * back with sl_journal_read (one path for live records and catch-up),
 * within a window and a burst budget; ACK without progress for an RTO with
 * records in flight, or an ACK with GAP: next_to_send = acked + 1
 * (go-back-N). docs/REPLICATION.md.
 */

#define SL_REPL_BURST_RECORDS 512     /* records sent per iteration, all topics */
#define SL_REPL_BURST_BYTES (1u << 20) /* ... and bytes */
#define SL_REPL_CAUGHT_UP_MS 100      /* within a burst of the end this long: caught up */

/* Allocate the primary's state and install its operations on dp->repl
 * (none without one). Returns 0 or -ENOMEM. Main lcore, before workers. */
int sl_repl_primary_init(struct sl_dp *dp);
void sl_repl_primary_fini(struct sl_dp *dp);

/* The operations sl_repl_primary_init installs (exposed for tests). */
void sl_repl_primary_on_pos(struct sl_worker *w, unsigned peer, const struct sl_repl_pos *f);
void sl_repl_primary_on_ack(struct sl_worker *w, unsigned peer, const struct sl_repl_ack *f);
unsigned sl_repl_primary_poll(struct sl_worker *w, uint64_t now_ns);

/* A sync publish of @topic up to @seq was acknowledged without waiting for
 * the standby (solo): the standby counts as caught up (CnC caught_up, so
 * it may be recorded in sync in etcd and promoted) only once it holds
 * @seq. Replication worker only. */
void sl_repl_primary_solo_acked(struct sl_dp *dp, uint32_t topic, uint64_t seq);

/*
 * The highest seq of @topic that ha.sync_replicas replicas have persisted
 * (their ACKs), 0 when none or no replication: what a sync publish waits
 * for. Replication worker only.
 */
static inline uint64_t
sl_repl_primary_acked(const struct sl_dp *dp, uint32_t topic)
{
	const struct sl_repl *r = dp->repl;
	uint64_t best[SL_REPL_MAX_PEERS] = { 0 };
	uint32_t k = dp->conf.ha.sync_replicas, n = 0, i, j;

	if (r == NULL || k == 0 || topic >= dp->route.cap)
		return 0;
	/* The k-th highest over the replicas (sorted insert: two at most). A
	 * DR replica is asynchronous: it never holds an acknowledgement back. */
	for (i = 0; i < r->n_peers; i++) {
		uint64_t a = r->peers[i].tpos ? r->peers[i].tpos[topic].acked : 0;

		if (r->peers[i].dr)
			continue;
		for (j = n++; j > 0 && best[j - 1] < a; j--)
			best[j] = best[j - 1];
		best[j] = a;
	}
	return k <= n ? best[k - 1] : 0;
}

#endif /* SLUICE_DP_REPL_PRIMARY_H */
