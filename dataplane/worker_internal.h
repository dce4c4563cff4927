/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker internals shared by worker.c (routing) and worker_durable.c (journals). */

#ifndef SLUICE_DP_WORKER_INTERNAL_H
#define SLUICE_DP_WORKER_INTERNAL_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <common/proto.h>

#include "dataplane.h"

static inline void
drop(struct sl_worker *w, enum sl_drop why)
{
	sl_ctr_add(&w->ctr.drop[why], 1);
}

static inline void
count(struct sl_worker *w, enum sl_ctr c)
{
	sl_ctr_add(&w->ctr.ctr[c], 1);
}

struct sl_pkt_info;

/* Fill the DELIVER header @d of a @plen-byte payload to @session. */
static inline void
sl_worker_deliver_hdr(struct sl_deliver *d, uint16_t flags, uint32_t session, uint32_t topic,
		      uint32_t plen, uint64_t seq, uint64_t timestamp)
{
	sl_proto_hdr_init(&d->h, SL_FT_DELIVER, flags, (uint32_t)sizeof(*d) + plen, session);
	d->topic_id = topic;
	d->payload_len = 0;
	d->seq = seq;
	d->timestamp = timestamp;
}

/* Handle the frames of a datagram (or of a batch read from a shared-memory
 * ring) whose headers @pi describes. Does not free @m. */
void sl_worker_datagram(struct sl_worker *w, struct rte_mbuf *m, const struct sl_pkt_info *pi);
/* DELIVER (@dl, then @plen payload bytes) to shared-memory subscriber @sub,
 * applying the topic's back-pressure policy to a full ring. Returns 0 or
 * -errno. */
int sl_worker_shm_deliver(struct sl_worker *w, const struct sl_sub *sub,
			  const struct sl_deliver *dl, const void *payload, uint32_t plen);

/* Peer address of a received datagram, from the headers rx validated. */
void sl_worker_peer_of(const struct rte_mbuf *m, struct sl_sub *peer);
uint16_t sl_worker_port_index(const struct sl_dp *dp, uint16_t port_id);
void sl_worker_tx_enqueue(struct sl_worker *w, uint16_t pidx, struct rte_mbuf *m);
/* A frame of @flen bytes (of @wire_len on the wire) to @peer through port
 * index @pidx, from @pool: headers written, m->port set. */
void *sl_worker_reply_alloc(struct sl_worker *w, struct rte_mempool *pool, uint16_t pidx,
			    const struct sl_sub *peer, uint32_t flen, uint32_t wire_len,
			    struct rte_mbuf **out);
void sl_worker_reply_frame(struct sl_worker *w, const struct sl_sub *peer, const void *frame,
			   uint32_t flen);
void sl_worker_reply_error(struct sl_worker *w, const struct sl_sub *peer, uint32_t session,
			   uint32_t req_id, uint16_t code, uint8_t ftype, uint64_t detail);
void sl_worker_reply_ok(struct sl_worker *w, const struct sl_sub *peer, uint32_t session,
			uint32_t req_id);
void sl_worker_ack(struct sl_worker *w, const struct sl_sub *peer, uint32_t session,
		   uint32_t topic, uint64_t producer_seq, uint64_t seq);

/* DELIVER the PUBLISH frame at @off of @m, as topic sequence @seq, to every
 * live (not replaying) subscriber of its topic. */
void sl_worker_fan_out(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len,
		       uint64_t seq);

/* A session ended: every owner drops its subscriptions. */
void sl_worker_session_gone(struct sl_worker *w, uint32_t session);
/* End session @s: its subscriptions everywhere, then the session itself. */
void sl_worker_session_close(struct sl_worker *w, struct sl_session *s);

/* --- worker_auth.c --- */

/* HELLO: open (or find again) the session; CHALLENGE or WELCOME. */
void sl_worker_hello(struct sl_worker *w, const struct sl_frame *f, const struct sl_sub *peer);
/* AUTH: check the proof; WELCOME under the session key, or end the session. */
void sl_worker_auth(struct sl_worker *w, const struct sl_frame *f, const struct sl_sub *peer,
		    struct sl_session *s);
/* MAC, replay window and user checks for a frame of session @s. Returns 0,
 * or -1 when the frame was dropped (the session may have been closed). */
int sl_worker_frame_check(struct sl_worker *w, const struct sl_frame *f,
			  const struct sl_sub *peer, struct sl_session *s);

/* --- worker_durable.c --- */

/* The topic was deleted: persist and close its journal, drop its subscribers. */
void sl_worker_topic_delete(struct sl_worker *w, uint32_t topic);

/* Journal the PUBLISH at @off of @m (its topic has a journal); deliver and
 * acknowledge as the topic's durability says. */
void sl_worker_publish_durable(struct sl_worker *w, struct rte_mbuf *m, uint16_t off,
			       uint16_t len);
/* Persist this iteration's sync journals (one sync each) and release their
 * deliveries and acks. */
void sl_worker_commit(struct sl_worker *w);
/* Are sync publishes waiting for the commit (and is there room for more)? */
int sl_worker_commit_pending(const struct sl_worker *w);
/* Set up a replaying subscription in @sub from SUBSCRIBE @s. Returns 0, or
 * -1 after answering the subscriber with an ERROR. */
int sl_worker_replay_start(struct sl_worker *w, const struct sl_subscribe *s, struct sl_sub *sub);
/* Send the next replayed messages; returns the work done. */
unsigned sl_worker_replay_poll(struct sl_worker *w);
/* Async persistence and retention, called from the worker's timer. */
void sl_worker_durable_timers(struct sl_worker *w);
/* Allocate and free the worker's durability state. */
int sl_worker_durable_init(struct sl_worker *w);
void sl_worker_durable_fini(struct sl_worker *w);

#endif /* SLUICE_DP_WORKER_INTERNAL_H */
