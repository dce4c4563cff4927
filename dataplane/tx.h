/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker's transmit seam: one way to send a frame to a peer, whichever transport it is on. */

#ifndef SLUICE_DP_TX_H
#define SLUICE_DP_TX_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <common/proto.h>

#include "peer.h"

struct sl_worker;

/*
 * Every frame a worker sends goes through these functions; they alone look
 * at the peer's transport. UDP: an mbuf with Ethernet/IPv4/UDP headers,
 * buffered per port and sent with tx_burst at the end of the loop
 * iteration (or when the buffer fills). Shared memory: a record in the
 * client's rx ring of this worker, visible to the client at once.
 * All are for the worker lcore that owns @w only.
 */

/* Send @frame (@flen bytes, header filled) to @peer. A reply lost here is
 * counted; clients resend requests. Returns 0, -ENOBUFS (no mbuf, or the
 * client's ring is full) or -ENOTCONN (the client is gone). */
int sl_tx_frame(struct sl_worker *w, const union sl_peer *peer, const void *frame, uint32_t flen);

/*
 * DELIVER header @dl to @peer followed by its payload: dl's length less the
 * header, at @payload_off of @m. UDP shares the payload with @m (a
 * reference, no copy) when the port sends chained mbufs. A full
 * shared-memory ring is the topic's back-pressure policy at work: the
 * delivery is dropped and counted where the client sees it, or the client
 * is disconnected (policy disconnect). Returns 0, -ENOBUFS or -ENOTCONN.
 */
int sl_tx_deliver(struct sl_worker *w, const union sl_peer *peer, const struct sl_deliver *dl,
		  struct rte_mbuf *m, uint16_t payload_off);

/* As sl_tx_deliver with the payload copied from @payload (a journal's
 * record, for a replay). */
int sl_tx_deliver_copy(struct sl_worker *w, const union sl_peer *peer,
		       const struct sl_deliver *dl, const void *payload);

/* 1 if @peer can take a @flen-byte frame now: always for UDP (the NIC's
 * queue is not known ahead), ring room for shared memory (or the client is
 * gone: nothing to wait for). */
int sl_tx_room(struct sl_worker *w, const union sl_peer *peer, uint32_t flen);

/* Send what the worker has buffered for its ports (end of a loop iteration). */
void sl_tx_flush(struct sl_worker *w);

/* The peer a received frame came from: a UDP datagram's headers (as rx
 * validated them) or a shared-memory batch's peer field. */
void sl_tx_peer_of(const struct rte_mbuf *m, union sl_peer *peer);

#endif /* SLUICE_DP_TX_H */
