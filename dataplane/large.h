/* SPDX-License-Identifier: BSD-3-Clause */
/* Messages larger than one datagram at the broker: PUBLISH_FRAG reassembly per session, limits, and sending a stored message to one peer. */

#ifndef SLUICE_DP_LARGE_H
#define SLUICE_DP_LARGE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <common/proto.h>

#include "large_buf.h"
#include "peer.h"

struct sl_dp;
struct sl_frame;
struct sl_session;
struct sl_topic;
struct sl_worker;

/*
 * How a large message travels (PROTOCOL.md section 18). The rx worker of
 * the publisher's session reassembles the PUBLISH_FRAG pieces of one
 * (session, topic, producer_seq) in an arena buffer (large_buf.h), any
 * order, any piece boundaries, duplicates ignored (a bit per byte received,
 * kept after the payload: the buffer is an eighth larger than the message); complete, it is one PUBLISH frame (header
 * written by the broker, whole payload after it) in one contiguous buffer,
 * handed to the topic's owner like any PUBLISH but with handoff length 0:
 * "the length is in the frame's header" (sl_msg_plen). The owner journals
 * it as one record and fans it out; the transmit seam sends it to UDP
 * peers as DELIVER_FRAG pieces and to shared-memory peers whole when the
 * ring takes it (sl_large_deliver_frags otherwise). A PUBLISH frame larger
 * than a datagram, from shared memory, takes the same way from its
 * arrival.
 *
 * Limits, each refused with an ERROR to the publisher and counted:
 *  - the topic's max message (its spec, else the configuration's
 *    max_message; never above SL_MAX_MESSAGE nor what one journal segment
 *    holds): SL_E_TOO_BIG, detail producer_seq;
 *  - a session's bytes in reassembly (reassembly_session_bytes), the
 *    worker's arena (reassembly_bytes, which also holds the completed
 *    messages until every reference to them is gone: the retransmit
 *    window's included) and the table of
 *    messages in reassembly (SL_LARGE_SLOTS): SL_E_INCOMPLETE at the first
 *    piece, detail producer_seq;
 *  - a message whose pieces did not all arrive within reassembly_ms of its
 *    first: SL_E_INCOMPLETE, detail producer_seq, its buffer freed.
 * Pieces of a message refused less than reassembly_ms ago, or completed
 * (or expired) less than SL_LARGE_RECENT_MS ago, are dropped quietly
 * (counted), so that one refusal is one ERROR and a duplicated last piece
 * does not open a reassembly that can never finish.
 */

#define SL_LARGE_SLOTS 256     /* messages in reassembly at once, per worker */
#define SL_LARGE_RECENT 64     /* messages remembered as refused or completed */
#define SL_LARGE_RECENT_MS 10

struct sl_large_table;

/* A worker's large-message state (w->large). */
struct sl_large {
	struct sl_large_arena arena; /* buffers of messages, whole or in reassembly */
	struct sl_large_table *tab;  /* reassemblies in progress (large.c) */
};

/* Make and free worker @w's large-message state (w->large): its arena and
 * reassembly table. Main lcore. init returns 0 or -ENOMEM. */
int sl_large_init(struct sl_worker *w);
void sl_large_fini(struct sl_worker *w);

/*
 * A PUBLISH_FRAG @f of session @s from @peer (the frame checked, MAC
 * included), in datagram or batch @pkt. Returns a complete
 * message (a reference the caller hands on, then frees; its PUBLISH frame
 * at *off, handoff length 0) when @f was its last missing piece; else
 * NULL (kept, a duplicate dropped, or refused with an ERROR). Rx worker.
 */
struct rte_mbuf *sl_large_frag(struct sl_worker *w, struct rte_mbuf *pkt,
			       const struct sl_frame *f, const union sl_peer *peer,
			       const struct sl_session *s, uint16_t *off);

/*
 * A PUBLISH frame @f larger than one datagram (shared memory only),
 * already in an arena buffer (the batch @pkt is that buffer): 0 when topic
 * @t takes that size, else -1 after refusing it (SL_E_TOO_BIG). Rx worker.
 */
int sl_large_publish_check(struct sl_worker *w, const struct sl_topic *t,
			   const struct sl_frame *f, const union sl_peer *peer);

/* Expire reassemblies past reassembly_ms and take arena buffers back
 * (the worker's timer). */
void sl_large_timers(struct sl_worker *w);

/* The largest message topic @topic takes (bytes of payload). */
uint32_t sl_large_topic_max(const struct sl_dp *dp, uint32_t topic);

/* The largest message any topic may take here: WELCOME's max_message. */
uint32_t sl_large_welcome_max(const struct sl_dp *dp);

/*
 * Copy a shared-memory PUBLISH of more than a datagram into a new arena
 * buffer of worker @w: @hlen bytes at @head (a header made for a message
 * record; 0 for a frame record), then @len bytes from @src. Returns the
 * mbuf (data: the frame, pkt_len @hlen + @len) or NULL when the arena has
 * no room now.
 */
struct rte_mbuf *sl_large_shm_frame(struct sl_worker *w, const void *head, uint32_t hlen,
				    const void *src, uint32_t len);

/* Payload bytes of the message whose PUBLISH frame is at @off of @m, with
 * handoff length @len: @len less the header, or for a large message
 * (@len 0) what its header says. */
static inline uint32_t
sl_msg_plen(const struct rte_mbuf *m, uint16_t off, uint16_t len)
{
	const struct sl_publish *p;

	if (likely(len != 0))
		return len - (uint32_t)sizeof(struct sl_publish);
	p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	return p->h.length - (uint32_t)sizeof(*p);
}

/* How a piece goes out: the transmit seam's sl_tx_frame (a callback, so
 * that this file does not call back into the seam that calls it). */
typedef int (*sl_large_emit_fn)(struct sl_worker *w, const union sl_peer *peer,
				const void *frame, uint32_t flen);

/*
 * Send DELIVER @dl (its payload @payload, contiguous) to @peer as
 * DELIVER_FRAG pieces of up to SL_MAX_FRAG_DATA bytes, each through @emit,
 * in order, with dl's flags. Returns 0, or the first error @emit returned
 * (the pieces after it are not sent: the subscriber recovers the whole
 * message).
 */
int sl_large_deliver_frags(struct sl_worker *w, const union sl_peer *peer,
			   const struct sl_deliver *dl, const void *payload, sl_large_emit_fn emit);

/*
 * Send the stored message whose PUBLISH frame is at @off of @m (handoff
 * length @len, 0 for a large one) to @peer as topic sequence @seq with
 * DELIVER flags @flags: one DELIVER, or DELIVER_FRAG pieces, whichever the
 * peer's transport takes. For the owner's retransmissions. Returns what
 * sl_tx_deliver returns.
 */
int sl_tx_deliver_msg(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		      uint16_t flags, uint64_t seq, struct rte_mbuf *m, uint16_t off, uint16_t len);

#endif /* SLUICE_DP_LARGE_H */
