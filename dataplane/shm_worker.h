/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared-memory clients, worker half: read their tx rings in bursts, write their rx rings. */

#ifndef SLUICE_DP_SHM_WORKER_H
#define SLUICE_DP_SHM_WORKER_H

#include <stdint.h>
#include <time.h>

#include <rte_mbuf.h>

#include <common/shm.h>

#include "dataplane.h"
#include "peer.h"

/* m->port of an mbuf that holds frames read from a shared-memory ring. */
#define SL_SHM_PORT 0xfffeu

struct sl_worker;
struct sl_handoff;

/* Offset of the mbuf dynamic field that holds the peer of a batch read from
 * a shared-memory ring (m->port == SL_SHM_PORT); -1 before registration. */
extern int sl_shm_peer_field;

/* Register that field (idempotent). Returns 0 or -errno. */
int sl_shm_peer_field_register(void);

/* The peer of shared-memory batch @m. */
static inline const union sl_peer *
sl_shm_mbuf_peer(const struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, sl_shm_peer_field, const union sl_peer *);
}

/* Bytes of a worker's two slot lists (w->shm): its home clients, then the
 * clients it committed records to since it last checked their doorbells. */
#define SL_SHM_LISTS(max_clients) (2 * sizeof(uint32_t) * ((max_clients) + 1))

/*
 * Worker: sleep for at most @ts, woken early by a home client's doorbell
 * (docs/PROTOCOL.md 14.8). The first call after work only arms the home
 * clients' tx rings (their waiting flag) and returns 0 without sleeping:
 * the caller polls once more, so a record committed before a client could
 * see the flag is found by that poll. The next call sleeps and returns 1.
 * Without shared-memory clients or a doorbell it just sleeps.
 */
int sl_shm_worker_sleep(struct sl_worker *w, const struct timespec *ts);

/* Worker: work was found, so no client needs to ring: disarm. */
void sl_shm_worker_disarm(struct sl_worker *w);

static inline void
sl_shm_worker_awake(struct sl_worker *w)
{
	if (unlikely(w->shm_armed))
		sl_shm_worker_disarm(w);
}

/* Worker, at the end of each loop iteration: ring the doorbell of each
 * client this iteration committed records to that waits on it. */
void sl_shm_worker_doorbells(struct sl_worker *w);

/*
 * Worker: the shared-memory counterpart of rte_eth_rx_burst. Reads the tx
 * rings of the clients this worker is home to into at most @n mbufs, each
 * a batch of whole frames of one client (no headers: its data starts at the
 * first frame), m->port SL_SHM_PORT and its peer in @peers[i] (and in the
 * mbuf, sl_shm_mbuf_peer). The caller owns and frees the mbufs. Clients
 * that hung up, broke the ring protocol or were kicked are cut off here
 * (their sessions end through w->session_end). Returns the batches.
 */
uint16_t sl_shm_rx_burst(struct sl_worker *w, struct rte_mbuf **pkts, union sl_peer *peers,
			 uint16_t n);
/* Worker: SL_HO_SHM_ATTACH / SL_HO_SHM_DETACH from the main lcore. */
void sl_shm_worker_handoff(struct sl_worker *w, const struct sl_handoff *h);
/* Worker timer: cut clients whose session is gone, retry notices. */
void sl_shm_worker_timers(struct sl_worker *w);

/*
 * Worker @w writes one frame, @alen bytes at @a then @blen at @b (may be
 * 0), into @peer's rx ring of this worker. Returns 0, -ENOBUFS (ring full)
 * or -ENOTCONN (the client is gone or was replaced).
 */
int sl_shm_send(struct sl_worker *w, const struct sl_peer_shm *peer, const void *a, uint32_t alen,
		const void *b, uint32_t blen);
/*
 * Worker @w writes DELIVER @dl (its payload, header block first, at
 * @payload) into @peer's rx ring of this worker as a message record (one
 * cache line for a small message). Returns as sl_shm_send.
 */
int sl_shm_send_deliver(struct sl_worker *w, const struct sl_peer_shm *peer,
			const struct sl_deliver *dl, const void *payload);
/* 1 if @peer's rx ring of this worker has room for a @flen-byte frame (or
 * the peer is gone: nothing to wait for), else 0. */
int sl_shm_room(struct sl_worker *w, const struct sl_peer_shm *peer, uint32_t flen);
/* The largest DELIVER frame @peer's rings take whole (the region's
 * max_deliver); a larger message goes in DELIVER_FRAG pieces. */
uint32_t sl_shm_max_deliver(struct sl_worker *w, const struct sl_peer_shm *peer);
/* Count a delivery dropped for @peer in the ring header it reads. */
void sl_shm_dropped(struct sl_worker *w, const struct sl_peer_shm *peer);
/* Any worker: disconnect @peer (enum sl_shm_notice @why); its home worker
 * does it at its next poll. */
void sl_shm_kick(struct sl_worker *w, const struct sl_peer_shm *peer, uint32_t why);

#endif /* SLUICE_DP_SHM_WORKER_H */
