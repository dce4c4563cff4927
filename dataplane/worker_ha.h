/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of a pair member (dp->ha set): the per-iteration view, refusals, the fence for unjournaled topics. */

#ifndef SLUICE_DP_WORKER_HA_H
#define SLUICE_DP_WORKER_HA_H

#include <rte_mbuf.h>

#include <common/proto.h>

#include "dataplane.h"

struct sl_journal;

/* Start of an iteration (w->now set): take the role, epoch and fence's
 * inputs into w->ha_view, the epoch into w->tx_epoch. */
void sl_worker_ha_refresh(struct sl_worker *w);

/* Client frame @f from @peer on a node that is not primary now: counted
 * (drop not_primary) and answered ERROR SL_E_NOT_PRIMARY (at most once a
 * datagram; detail: the epoch). Returns 1 when refused, 0 to go on. */
int sl_worker_ha_refused(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer);

/* PUBLISH @p (in @m) to a topic without a journal (delivered and
 * acknowledged at once): while the fence is closed it is neither, counted
 * (drop ha_fenced) and, when it asked for an ACK, answered ERROR SL_E_BUSY
 * (a primary whose lease ran out: retry) or SL_E_NOT_PRIMARY. Returns 1
 * when refused, 0 to go on. */
int sl_worker_ha_unjournaled(struct sl_worker *w, struct rte_mbuf *m, const struct sl_publish *p);

/* Appends to @j from now carry this node's leader epoch. Returns 0, or
 * -EINVAL when the journal already holds a later epoch's records. */
int sl_worker_ha_journal_epoch(struct sl_worker *w, struct sl_journal *j);

#endif /* SLUICE_DP_WORKER_HA_H */
