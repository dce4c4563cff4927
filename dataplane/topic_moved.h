/* SPDX-License-Identifier: BSD-3-Clause */
/* Scale-out in the dataplane: a topic owned by another pair now (docs/SCALEOUT.md). */

#ifndef SLUICE_DP_TOPIC_MOVED_H
#define SLUICE_DP_TOPIC_MOVED_H

#include <stdbool.h>
#include <stdint.h>

#include "peer.h"

struct sl_worker;

/*
 * Rx worker, on the slow paths that name topic @id (RESOLVE, SUBSCRIBE,
 * the refusals of PUBLISH): when the topic moved, answer @peer with ERROR
 * SL_E_MOVED (@session, @req_id, @ftype, @detail as in any refusal of that
 * frame, grown by the new pair, its address and epoch) and return true;
 * else false, nothing sent. One relaxed-cost acquire load when not moved.
 */
bool sl_worker_moved(struct sl_worker *w, uint32_t id, const union sl_peer *peer,
		     uint32_t session, uint32_t req_id, uint8_t ftype, uint64_t detail);

#endif /* SLUICE_DP_TOPIC_MOVED_H */
