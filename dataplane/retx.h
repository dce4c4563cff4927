/* SPDX-License-Identifier: BSD-3-Clause */
/* Retransmit windows: each owned topic's last messages, held by reference for NAKs. */

#ifndef SLUICE_DP_RETX_H
#define SLUICE_DP_RETX_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "route.h"

struct sl_worker;

/*
 * A topic's owner keeps the PUBLISH frames of its last retx_window messages
 * (a reference on the received mbuf, no copy) in a ring of the worker's
 * arena, indexed by seq. The window is bounded per topic in messages and
 * per worker in mbuf bytes (retransmit_bytes, and never more than a share
 * of the mbuf pool); past the byte bound the topic being stored gives up
 * its oldest messages first, or the new one is not kept (retx_evicted).
 * Owner worker only, no allocation after sl_retx_init.
 */

/* Allocate the arena for the topics worker @w owns. Returns 0 or -ENOMEM. */
int sl_retx_init(struct sl_worker *w);
/* Release every held message and the arena. */
void sl_retx_fini(struct sl_worker *w);

/*
 * Message @seq of @topic was fanned out: keep its PUBLISH frame (@off,
 * @len in @m; a reference of its own) and note the delivery (for STATUS).
 */
void sl_retx_fanned(struct sl_worker *w, uint32_t topic, struct rte_mbuf *m, uint16_t off,
		    uint16_t len, uint64_t seq);

/*
 * Add the window's references still pending (w->retx_pend_*) to their
 * mbuf. Whoever set w->retx_batch to the mbuf whose frames it handles
 * clears it and calls this before it lets go of that mbuf.
 */
void sl_retx_flush(struct sl_worker *w);

/* The slot holding @seq of @topic, or NULL when the window does not hold it. */
const struct sl_retx_slot *sl_retx_find(struct sl_worker *w, uint32_t topic, uint64_t seq);

/* One held message, in the worker's oldest-first list. */
struct sl_retx_ref {
	uint32_t topic;
	uint32_t reserved;
	uint64_t seq;
};

/* Let go of everything @topic's window holds (topic deleted, window off). */
void sl_retx_clear(struct sl_worker *w, uint32_t topic);

#endif /* SLUICE_DP_RETX_H */
