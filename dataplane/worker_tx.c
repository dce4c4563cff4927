/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's transmit seam (tx.h) and fan-out: every frame a worker sends,
 * to a UDP peer through its port's tx buffer or to a shared-memory client's
 * rx ring, and a topic's DELIVERs to its subscribers under its back-pressure
 * policy.
 */

#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <common/crypto.h>
#include <common/proto.h>

#include "dataplane.h"
#include "large.h"
#include "pkt.h"
#include "retx.h"
#include "shm_worker.h"
#include "tx.h"
#include "worker_internal.h"

/* --- UDP: the ports' tx buffers ---------------------------------------------- */

static void
tx_flush_port(struct sl_worker *w, uint16_t pidx)
{
	struct sl_port_rt *p = &w->dp->ports[pidx];
	uint16_t n = w->n_tx[pidx], sent = 0;
	int tries;

	/* A full tx ring usually drains within a few retries; past that the
	 * frames are dropped and counted rather than stalling the rx side. */
	for (tries = 0; tries < 4 && sent < n; tries++)
		sent += rte_eth_tx_burst(p->port_id, (uint16_t)w->idx, &w->tx[pidx][sent],
					 (uint16_t)(n - sent));
	if (sent < n) {
		sl_ctr_add(&w->ctr.drop[SL_DROP_tx_full], n - sent);
		rte_pktmbuf_free_bulk(&w->tx[pidx][sent], n - sent);
	}
	sl_ctr_add(&w->ctr.ctr[SL_CTR_tx_pkts], sent);
	w->n_tx[pidx] = 0;
}

static void pend_close_all(struct sl_worker *w);

void
sl_tx_flush(struct sl_worker *w)
{
	uint16_t i;

	pend_close_all(w);
	for (i = 0; i < w->dp->n_ports; i++)
		if (w->n_tx[i])
			tx_flush_port(w, i);
	sl_shm_worker_doorbells(w);
}

void
sl_worker_tx_enqueue(struct sl_worker *w, uint16_t pidx, struct rte_mbuf *m)
{
	sl_ctr_add(&w->ctr.ctr[SL_CTR_tx_bytes], m->pkt_len);
	w->tx[pidx][w->n_tx[pidx]++] = m;
	if (w->n_tx[pidx] == SL_TX_BUF)
		tx_flush_port(w, pidx);
}

static uint16_t
port_index(const struct sl_dp *dp, uint16_t port_id)
{
	uint16_t i;

	for (i = 0; i < dp->n_ports; i++)
		if (dp->ports[i].port_id == port_id)
			return i;
	return 0;
}

/* The address a datagram to @peer comes from: the one the peer wrote to,
 * so that a client's connected socket takes it. */
static uint32_t
src_ip(const struct sl_dp *dp, const struct sl_port_rt *p, const struct sl_peer_udp *peer)
{
	return peer->laddr && dp->vip.ip != 0 ? dp->vip.ip : p->ip;
}

_Static_assert(RTE_MAX_ETHPORTS <= 256, "union sl_peer keeps a port id in one byte");

void
sl_tx_peer_of(const struct rte_mbuf *m, union sl_peer *peer)
{
	const uint8_t *p;
	const uint8_t *ip;

	if (m->port == SL_SHM_PORT) {
		*peer = *sl_shm_mbuf_peer(m);
		return;
	}
	p = rte_pktmbuf_mtod(m, const uint8_t *);
	ip = p + m->l2_len;
	peer->udp.transport = SL_TRANSPORT_UDP;
	peer->udp.version = 0;
	memcpy(peer->udp.mac, p + 6, 6);
	memcpy(&peer->udp.ip, ip + 12, 4);
	memcpy(&peer->udp.port, ip + m->l3_len, 2);
	peer->udp.port_id = (uint8_t)m->port;
	peer->udp.laddr = (uint8_t)m->l4_len; /* handle_pkt's mark */
}

/*
 * An mbuf from @pool for a datagram to @peer through port index @pidx, with
 * room for @flen bytes of frame (@wire_len bytes of UDP payload in all:
 * more may be chained). Returns the frame pointer and the mbuf through
 * @out, or NULL (counted).
 */
static void *
udp_alloc(struct sl_worker *w, struct rte_mempool *pool, uint16_t pidx,
	  const struct sl_peer_udp *peer, uint32_t flen, uint32_t wire_len, struct rte_mbuf **out)
{
	struct sl_port_rt *p = &w->dp->ports[pidx];
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *d;

	if (unlikely(m == NULL)) {
		drop(w, SL_DROP_no_mbuf);
		return NULL;
	}
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(SL_PKT_HDR_LEN + flen));
	if (unlikely(d == NULL)) {
		rte_pktmbuf_free(m);
		drop(w, SL_DROP_no_mbuf);
		return NULL;
	}
	sl_pkt_build_udp(d, p->mac, peer->mac, src_ip(w->dp, p, peer), peer->ip, p->udp_port,
			 peer->port, (uint16_t)wire_len);
	m->port = p->port_id;
	*out = m;
	return d + SL_PKT_HDR_LEN;
}

/* --- sealing (PROTOCOL.md section 3): one seal per datagram ----------------- */

/* How frames of one session go out: sealed under its precomputed key,
 * where its worker keeps it (checked again after sealing). */
struct seal_st {
	uint32_t session; /* 0: unsealed */
	uint8_t enc;
	struct sl_session_tx *stx;
	const struct sl_seal_key *key;
};

/*
 * The seal a frame of @session to @peer needs. Returns 0 (unsealed: an
 * open session, session 0, shared memory), 1 (sealed, @st filled), or -1
 * when the session is a sealed one whose keys are gone (it ended): the
 * frame is dropped, never sent in the clear.
 */
static int
seal_state(struct sl_worker *w, const union sl_peer *peer, uint32_t session, struct seal_st *st)
{
	struct sl_dp *dp = w->dp;
	uint32_t plain;
	int wi;

	st->session = 0;
	if (session == 0 || peer->transport != SL_TRANSPORT_UDP)
		return 0;
	plain = sl_id_cache_plain(&w->tx_idc, dp->session_idkey, session);
	if (likely(!(plain & SL_SESSION_ID_SEALED)))
		return 0;
	wi = (int)(plain >> 24) - 1;
	if (wi >= 0 && wi < dp->n_workers && dp->workers[wi]) {
		st->stx = sl_session_tx_get(&dp->workers[wi]->sessions, session, plain, &st->key,
					    &st->enc);
		if (st->stx) {
			st->session = session;
			return 1;
		}
	}
	st->session = 0;
	drop(w, SL_DROP_seal_no_keys);
	return -1;
}

/*
 * Seal @pd's datagram: the frames are at @d + 24 up to pd->len; padded to
 * 8, the tag appended. The sequence comes from the session's shared
 * counter; a session whose id moved meanwhile (ended: its key may have
 * changed under the seal) loses the datagram.
 */
static int
seal_close(struct sl_worker *w, struct sl_tx_pend *pd, uint8_t *d)
{
	uint32_t len = RTE_ALIGN_CEIL(pd->len, SL_FRAME_ALIGN) + SL_TAG_LEN;
	uint64_t seq;
	uint8_t *t;

	t = (uint8_t *)rte_pktmbuf_append(pd->m, (uint16_t)(len - pd->len));
	if (unlikely(t == NULL)) {
		drop(w, SL_DROP_no_mbuf);
		return -1;
	}
	memset(t, 0, len - pd->len);
	/* Relaxed: only uniqueness matters; every sender of the session
	 * takes its own. */
	seq = __atomic_add_fetch(&pd->stx->seq, 1, __ATOMIC_RELAXED);
	if (unlikely(seq >= SL_SEAL_SEQ_LIMIT)) {
		/* Never near in practice (2^48 datagrams); a nonce must never
		 * repeat, so the session sends nothing more and expires. */
		drop(w, SL_DROP_seal_seq_end);
		return -1;
	}
	sl_seal_k(pd->key, SL_DIR_S2C, seq, pd->session, pd->enc, d, len);
	if (unlikely(!sl_session_tx_still(pd->stx, pd->session))) {
		drop(w, SL_DROP_seal_no_keys);
		return -1;
	}
	pd->len = len;
	count(w, SL_CTR_sealed_tx);
	return 0;
}

/* --- UDP batching: frames to one peer share a datagram per iteration --------- */

#define BATCH_COPY_MAX 512 /* payloads up to this are copied into a batch */

/* The open datagram to @peer of (sealed) session @session (0: unsealed). */
static struct sl_tx_pend *
pend_find(struct sl_worker *w, const struct sl_peer_udp *peer, uint32_t session)
{
	uint32_t i;

	if (w->n_pend == 0)
		return NULL;
	for (i = 0; i < SL_TX_PEND; i++) {
		struct sl_tx_pend *pd = &w->pend[i];

		if (pd->m && pd->peer.ip == peer->ip && pd->peer.port == peer->port &&
		    pd->peer.port_id == peer->port_id && pd->peer.laddr == peer->laddr &&
		    pd->session == session)
			return pd;
	}
	return NULL;
}

/* Finish the datagram (sealed when it is a sealed session's; its headers
 * say its final length) and queue it. */
static void
pend_close(struct sl_worker *w, struct sl_tx_pend *pd)
{
	struct sl_port_rt *p = &w->dp->ports[pd->pidx];
	uint8_t *d = rte_pktmbuf_mtod(pd->m, uint8_t *);

	w->n_pend--;
	if (pd->session) {
		int rc = seal_close(w, pd, d + SL_PKT_HDR_LEN);

		pd->key = NULL;
		pd->session = 0;
		if (unlikely(rc < 0)) {
			rte_pktmbuf_free(pd->m);
			pd->m = NULL;
			return;
		}
	}
	sl_pkt_build_udp(d, p->mac, pd->peer.mac, src_ip(w->dp, p, &pd->peer), pd->peer.ip,
			 p->udp_port, pd->peer.port, (uint16_t)pd->len);
	sl_worker_tx_enqueue(w, pd->pidx, pd->m);
	pd->m = NULL;
}

static void
pend_close_all(struct sl_worker *w)
{
	uint32_t i;

	for (i = 0; i < SL_TX_PEND && w->n_pend; i++)
		if (w->pend[i].m)
			pend_close(w, &w->pend[i]);
}

/* A free entry for a new batch: past SL_TX_PEND peers, the next one in
 * turn is sent as it is. */
static struct sl_tx_pend *
pend_slot(struct sl_worker *w)
{
	struct sl_tx_pend *pd;
	uint32_t i;

	for (i = 0; i < SL_TX_PEND; i++) {
		pd = &w->pend[(w->pend_next + i) % SL_TX_PEND];
		if (pd->m == NULL)
			return pd;
	}
	pd = &w->pend[w->pend_next++ % SL_TX_PEND];
	pend_close(w, pd);
	return pd;
}

/* Append @a and @b (one frame) to @pd if they fit. Returns 0 or -ENOSPC. */
static int
pend_append(struct sl_worker *w, struct sl_tx_pend *pd, const void *a, uint32_t alen,
	    const void *b, uint32_t blen)
{
	uint32_t at = RTE_ALIGN_CEIL(pd->len, SL_FRAME_ALIGN);
	uint32_t tag = pd->session ? SL_TAG_LEN : 0;
	uint8_t *d;

	/* A sealed datagram ends with its tag, 8-aligned. */
	if (RTE_ALIGN_CEIL(at + alen + blen, SL_FRAME_ALIGN) + tag > SL_MAX_DATAGRAM)
		return -ENOSPC;
	d = (uint8_t *)rte_pktmbuf_append(pd->m, (uint16_t)(at + alen + blen - pd->len));
	if (d == NULL)
		return -ENOSPC;
	memset(d, 0, at - pd->len); /* padding to the frame boundary */
	d += at - pd->len;
	memcpy(d, a, alen);
	((struct sl_hdr *)d)->reserved = w->tx_epoch; /* the sender's leader epoch */
	if (blen)
		memcpy(d + alen, b, blen);
	pd->len = at + alen + blen;
	pd->frames++;
	count(w, SL_CTR_tx_batched);
	return 0;
}

/*
 * A frame, @a (@alen bytes) then @b (@blen), to @peer: into the datagram
 * being filled for it, or a new one, sent at the end of the iteration. A
 * sealed session's (@st) datagram starts with room for the seal's header.
 */
static int
udp_send_copy(struct sl_worker *w, const struct sl_peer_udp *peer, const struct seal_st *st,
	      const void *a, uint32_t alen, const void *b, uint32_t blen)
{
	uint32_t hdr = st->session ? SL_SEAL_HDR_LEN : 0;
	struct sl_tx_pend *pd = pend_find(w, peer, st->session);
	struct rte_mbuf *m;
	uint16_t pidx;
	uint8_t *d;

	if (pd) {
		if (pend_append(w, pd, a, alen, b, blen) == 0)
			return 0;
		pend_close(w, pd);
	}
	pidx = port_index(w->dp, peer->port_id);
	d = udp_alloc(w, w->dp->pkt_pool, pidx, peer, hdr + alen + blen, hdr + alen + blen, &m);
	if (unlikely(d == NULL))
		return -ENOBUFS;
	memcpy(d + hdr, a, alen);
	((struct sl_hdr *)(d + hdr))->reserved = w->tx_epoch; /* the sender's leader epoch */
	if (blen)
		memcpy(d + hdr + alen, b, blen);
	pd = pend_slot(w);
	*pd = (struct sl_tx_pend){ .m = m, .peer = *peer, .pidx = pidx, .frames = 1,
				   .len = hdr + alen + blen, .session = st->session,
				   .enc = st->enc, .stx = st->stx, .key = st->key };
	w->n_pend++;
	return 0;
}

/*
 * @frame's session's seal for @peer; -ENOTCONN when it must be dropped: a
 * sealed session's frame after its keys are gone. An ERROR is the
 * exception: it answers a frame naming a session that does not exist
 * (NO_SESSION), carries no message, and goes in the clear.
 */
static inline int
frame_seal(struct sl_worker *w, const union sl_peer *peer, const void *frame, struct seal_st *st)
{
	const struct sl_hdr *h = frame;

	if (likely(seal_state(w, peer, h->session, st) >= 0))
		return 0;
	if (h->type != SL_FT_ERROR)
		return -ENOTCONN;
	st->session = 0;
	return 0;
}

/*
 * A DELIVER to a UDP peer: a fresh header mbuf chained to an indirect mbuf
 * that shares the publisher's payload, so fan-out costs a reference, not a
 * copy; one copy per subscriber where the NIC cannot send chains.
 */
static inline int
udp_deliver(struct sl_worker *w, const union sl_peer *up, const struct sl_deliver *dl,
	    struct rte_mbuf *m, uint16_t payload_off)
{
	const struct sl_peer_udp *peer = &up->udp;
	struct sl_dp *dp = w->dp;
	uint16_t pidx = port_index(dp, peer->port_id);
	uint32_t plen = dl->h.length - (uint32_t)sizeof(*dl);
	const void *payload = rte_pktmbuf_mtod_offset(m, const void *, payload_off);
	struct sl_tx_pend *pd;
	struct rte_mbuf *h, *c;
	struct sl_deliver *d;
	struct seal_st st;

	if (unlikely(frame_seal(w, up, dl, &st) < 0))
		return -ENOTCONN;
	/* Sealed: the tag (and the ciphertext) cover the payload, so it is
	 * copied; no zero-copy chain. */
	if (unlikely(st.session))
		return udp_send_copy(w, peer, &st, dl, sizeof(*dl), payload, plen);
	pd = pend_find(w, peer, 0);
	/* Batched: it fits the peer's open datagram, or it is small. */
	if (pd && pend_append(w, pd, dl, sizeof(*dl), payload, plen) == 0)
		return 0;
	if (unlikely(!dp->ports[pidx].multiseg) || (pd == NULL && plen <= BATCH_COPY_MAX))
		return udp_send_copy(w, peer, &st, dl, sizeof(*dl), payload, plen);
	/* Zero-copy on its own, after what the peer's batch holds (order). */
	if (pd)
		pend_close(w, pd);
	d = udp_alloc(w, dp->hdr_pool, pidx, peer, sizeof(*d), sizeof(*d) + plen, &h);
	if (unlikely(d == NULL))
		return -ENOBUFS;
	if (plen) {
		c = rte_pktmbuf_alloc(dp->clone_pool);
		if (unlikely(c == NULL)) {
			rte_pktmbuf_free(h);
			drop(w, SL_DROP_no_mbuf);
			return -ENOBUFS;
		}
		rte_pktmbuf_attach(c, m); /* takes a reference on m's buffer */
		c->data_off = (uint16_t)(m->data_off + payload_off);
		c->data_len = (uint16_t)plen;
		c->pkt_len = plen;
		h->next = c;
		h->nb_segs = 2;
		h->pkt_len += plen;
	}
	*d = *dl;
	d->h.reserved = w->tx_epoch; /* the sender's leader epoch */
	sl_worker_tx_enqueue(w, pidx, h);
	return 0;
}

/* --- shared memory: the client's rx ring of this worker ----------------------- */

/*
 * A DELIVER (header @dl, then its payload) into shared-memory subscriber
 * @peer's ring. A full ring is the topic's back-pressure policy at work
 * (block never gets here without room: fan-out checked): drop, or
 * disconnect the subscriber. Either way the subscriber can see it: a gap in
 * seq and the ring's dropped count, or the region's notice.
 */
static int
shm_deliver(struct sl_worker *w, const struct sl_peer_shm *peer, const struct sl_deliver *dl,
	    const void *payload)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, dl->topic_id);
	int rc = sl_shm_send_deliver(w, peer, dl, payload);

	if (likely(rc != -ENOBUFS))
		return rc;
	drop(w, SL_DROP_shm_ring_full);
	sl_shm_dropped(w, peer);
	if (ts->backpressure == SL_BP_DISCONNECT)
		sl_shm_kick(w, peer, SL_SHM_CUT_SLOW);
	return rc;
}

/* --- the seam ------------------------------------------------------------------ */

/* The longest DELIVER one UDP datagram takes whole, sealed or not (a
 * sealed one adds 40 bytes): longer ones go as DELIVER_FRAG pieces. */
#define UDP_DELIVER_MAX ((uint32_t)sizeof(struct sl_deliver) + SL_MAX_PAYLOAD)

int
sl_tx_frame(struct sl_worker *w, const union sl_peer *peer, const void *frame, uint32_t flen)
{
	struct seal_st st;
	int rc;

	if (peer->transport == SL_TRANSPORT_UDP) {
		if (unlikely(frame_seal(w, peer, frame, &st) < 0))
			return -ENOTCONN;
		return udp_send_copy(w, &peer->udp, &st, frame, flen, NULL, 0);
	}
	/* A full ring loses the reply: the client resends requests. */
	rc = sl_shm_send(w, &peer->shm, frame, flen, NULL, 0);
	if (rc == -ENOBUFS)
		drop(w, SL_DROP_shm_ring_full);
	return rc;
}

int
sl_tx_deliver(struct sl_worker *w, const union sl_peer *peer, const struct sl_deliver *dl,
	      struct rte_mbuf *m, uint16_t payload_off)
{
	/* A large message: its payload is contiguous in its arena buffer. */
	if (unlikely(dl->h.length > UDP_DELIVER_MAX))
		return sl_tx_deliver_copy(w, peer, dl, rte_pktmbuf_mtod_offset(m, const void *,
									       payload_off));
	if (likely(peer->transport == SL_TRANSPORT_UDP))
		return udp_deliver(w, peer, dl, m, payload_off);
	return shm_deliver(w, &peer->shm, dl, rte_pktmbuf_mtod_offset(m, const void *,
								      payload_off));
}

int
sl_tx_deliver_copy(struct sl_worker *w, const union sl_peer *peer, const struct sl_deliver *dl,
		   const void *payload)
{
	/* Larger than a datagram, or than the shared-memory ring takes whole:
	 * in DELIVER_FRAG pieces. */
	if (unlikely(dl->h.length > UDP_DELIVER_MAX) &&
	    (peer->transport == SL_TRANSPORT_UDP ||
	     (dl->h.length > SL_MAX_DATAGRAM &&
	      dl->h.length > sl_shm_max_deliver(w, &peer->shm))))
		return sl_large_deliver_frags(w, peer, dl, payload, sl_tx_frame);
	if (peer->transport == SL_TRANSPORT_UDP) {
		struct seal_st st;

		if (unlikely(frame_seal(w, peer, dl, &st) < 0))
			return -ENOTCONN;
		return udp_send_copy(w, &peer->udp, &st, dl, sizeof(*dl), payload,
				     dl->h.length - (uint32_t)sizeof(*dl));
	}
	return shm_deliver(w, &peer->shm, dl, payload);
}

int
sl_tx_room(struct sl_worker *w, const union sl_peer *peer, uint32_t flen)
{
	if (peer->transport == SL_TRANSPORT_UDP)
		return 1;
	return sl_shm_room(w, &peer->shm, flen);
}

/* --- replies built on the seam ---------------------------------------------------- */

void
sl_worker_reply_error(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		      uint32_t req_id, uint16_t code, uint8_t ftype, uint64_t detail)
{
	struct sl_error e;

	sl_proto_hdr_init(&e.h, SL_FT_ERROR, 0, sizeof(e), session);
	e.req_id = req_id;
	e.code = code;
	e.frame_type = ftype;
	e.detail = detail;
	count(w, SL_CTR_errors_sent);
	sl_tx_frame(w, peer, &e, sizeof(e));
}

void
sl_worker_reply_topic(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		      uint32_t req_id, uint32_t id)
{
	struct sl_topic_reply t;

	sl_proto_hdr_init(&t.h, SL_FT_TOPIC, 0, sizeof(t), session);
	t.req_id = req_id;
	t.topic_id = id;
	sl_tx_frame(w, peer, &t, sizeof(t));
}

void
sl_worker_reply_ok(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		   uint32_t req_id)
{
	sl_worker_reply_ok_seq(w, peer, session, req_id, 0);
}

void
sl_worker_reply_ok_seq(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		       uint32_t req_id, uint64_t seq)
{
	struct sl_ok ok;

	sl_proto_hdr_init(&ok.h, SL_FT_OK, 0, sizeof(ok), session);
	ok.req_id = req_id;
	ok.value = 0;
	ok.seq = seq;
	sl_tx_frame(w, peer, &ok, sizeof(ok));
}

void
sl_worker_ack(struct sl_worker *w, const union sl_peer *peer, uint32_t session, uint32_t topic,
	      uint64_t producer_seq, uint64_t seq)
{
	struct sl_ack a;

	sl_proto_hdr_init(&a.h, SL_FT_ACK, 0, sizeof(a), session);
	a.topic_id = topic;
	a.reserved = 0;
	a.producer_seq = producer_seq;
	a.seq = seq;
	count(w, SL_CTR_acks);
	sl_tx_frame(w, peer, &a, sizeof(a));
}

/* --- fan-out -------------------------------------------------------------------- */

int
sl_worker_deliver_one(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
		      struct rte_mbuf *m, uint16_t off, uint16_t len, uint64_t seq, uint16_t flags)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	struct sl_deliver dl;
	uint32_t skip;

	skip = sl_worker_deliver_hdr_v(w, &dl, flags, sub->session, topic, sl_msg_plen(m, off, len),
				       sl_proto_hdrs_len(p), seq, p->timestamp,
				       sl_peer_version(&sub->peer));
	return sl_tx_deliver(w, &sub->peer, &dl, m, (uint16_t)(off + sizeof(*p) + skip));
}

void
sl_worker_skip_send(struct sl_worker *w, const struct sl_sub *sub, uint32_t topic,
		    uint64_t first, uint64_t last)
{
	struct sl_skip k;

	sl_proto_hdr_init(&k.h, SL_FT_SKIP, 0, sizeof(k), sub->session);
	k.topic_id = topic;
	k.reserved = 0;
	k.first = first;
	k.last = last;
	count(w, SL_CTR_skips_sent);
	sl_tx_frame(w, &sub->peer, &k, sizeof(k));
}

void
sl_worker_skip_flush_topic(struct sl_worker *w, uint32_t topic)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	uint64_t run[2];
	uint32_t i;

	if (likely(ts->n_filtered == 0))
		return;
	for (i = 0; i < ts->n_subs; i++)
		if (sl_worker_skip_take(w, topic, i, run))
			sl_worker_skip_send(w, &ts->subs[i], topic, run[0], run[1]);
}

void
sl_worker_gap_error(struct sl_worker *w, const struct sl_sub *sub, uint16_t code,
		    uint8_t ftype, uint32_t topic, uint64_t first, uint64_t last)
{
	struct sl_error_gap g;

	sl_proto_hdr_init(&g.e.h, SL_FT_ERROR, 0, sizeof(g), sub->session);
	g.e.req_id = 0;
	g.e.code = code;
	g.e.frame_type = ftype;
	g.e.detail = topic;
	g.first = first;
	g.last = last;
	count(w, SL_CTR_errors_sent);
	sl_tx_frame(w, &sub->peer, &g, sizeof(g));
}

void
sl_worker_cut_off(struct sl_worker *w, uint32_t topic, uint32_t i, uint64_t first)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	struct sl_sub sub = ts->subs[i];

	/* It gets nothing from @first on: the range names what the topic
	 * holds now; the subscription is gone, so later ones go too. */
	sl_worker_gap_error(w, &sub, SL_E_SLOW_CONSUMER, SL_FT_DELIVER, topic, first,
			    RTE_MAX(first, ts->seq));
	count(w, SL_CTR_slow_consumer_cuts);
	sl_route_sub_del(&w->dp->route, topic, sub.session);
}

/* A UDP subscriber whose credit does not reach @seq. */
static inline int
no_credit(const struct sl_sub *sub, uint64_t seq)
{
	return sub->peer.transport == SL_TRANSPORT_UDP && seq > sub->credit;
}

/* Policy block: does every live subscriber have room (and credit) for the
 * DELIVER of message @seq, a PUBLISH of @len bytes (header and payload)? */
static int
bp_room(struct sl_worker *w, const struct sl_topic_state *ts, struct rte_mbuf *m, uint16_t off,
	uint16_t len, uint64_t seq)
{
	uint32_t i, flen = sl_msg_plen(m, off, len) + (uint32_t)sizeof(struct sl_deliver);

	for (i = 0; i < ts->n_subs; i++)
		if (!ts->subs[i].replay_next &&
		    (no_credit(&ts->subs[i], seq) || !sl_tx_room(w, &ts->subs[i].peer, flen)))
			return 0;
	return 1;
}

/* Policy block: cut off the UDP subscribers that held message @seq back
 * for longer than bp_hold_ms. Returns how many. */
static unsigned
bp_expire(struct sl_worker *w, uint32_t topic, struct sl_topic_state *ts, uint64_t seq)
{
	uint64_t hold = w->dp->tsc_hz * w->dp->conf.bp_hold_ms / 1000;
	unsigned cut = 0;
	uint32_t i = 0;

	while (i < ts->n_subs) {
		struct sl_sub *sub = &ts->subs[i];

		if (sub->replay_next || !no_credit(sub, seq)) {
			i++;
			continue;
		}
		if (sub->stall_since == 0)
			sub->stall_since = w->now;
		if (w->now - sub->stall_since < hold) {
			i++;
			continue;
		}
		sl_worker_cut_off(w, topic, i, seq); /* the last one moved to i */
		cut++;
	}
	return cut;
}

static void
fan_out_now(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len, uint64_t seq)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	uint32_t topic = p->topic_id;
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	uint32_t i = 0, sent = 0, live = 0;

	sl_retx_fanned(w, topic, m, off, len, seq);
	while (i < ts->n_subs) {
		const struct sl_sub *sub = &ts->subs[i];

		/* A replaying subscriber gets this one from the journal. */
		if (sub->replay_next) {
			i++;
			continue;
		}
		if (unlikely(ts->n_filtered)) {
			uint64_t run[2];
			int pass = sl_worker_filter_live(w, topic, sub, p + 1, sl_proto_hdrs_len(p),
							 seq, run);

			if (run[0])
				sl_worker_skip_send(w, sub, topic, run[0], run[1]);
			if (!pass) {
				i++;
				continue;
			}
		}
		live++;
		if (unlikely(no_credit(sub, seq))) {
			if (ts->backpressure == SL_BP_DISCONNECT) {
				sl_worker_cut_off(w, topic, i, seq);
				continue;
			}
			/* Drop: it NAKs it later (the window or journal may
			 * still hold it); block gets here only after its
			 * policy changed while a message was held. */
			count(w, SL_CTR_credit_drops);
			i++;
			continue;
		}
		if (sl_worker_deliver_one(w, sub, topic, m, off, len, seq, 0) == 0) {
			sent++;
			sl_lh_delivered(w, topic, sub->peer.transport);
		}
		i++;
	}
	sl_ctr_add(&ts->delivered, sent);
	sl_ctr_add(&ts->dropped, live - sent);
	sl_ctr_add(&w->ctr.ctr[SL_CTR_delivers], sent);
}

/* Policy block, a subscriber without room: keep the message (a reference)
 * until every subscriber has room; while a topic holds messages, its
 * publishers are held back. The held list is bounded: past it the message
 * is dropped and counted (subscribers see the gap). */
static void
hold(struct sl_worker *w, struct sl_topic_state *ts, struct rte_mbuf *m, uint16_t off,
     uint16_t len, uint32_t topic, uint64_t seq)
{
	if (w->n_held == SL_HELD_MAX) {
		drop(w, SL_DROP_bp_overflow);
		sl_ctr_add(&ts->dropped, ts->n_subs);
		return;
	}
	rte_mbuf_refcnt_update(m, 1);
	w->held[w->n_held++] = (struct sl_held){ m, off, len, topic, seq };
	__atomic_store_n(&ts->bp_held, ts->bp_held + 1, __ATOMIC_RELAXED);
	count(w, SL_CTR_bp_held);
}

/* Deliver held messages whose subscribers have room now, in order per topic. */
unsigned
sl_worker_held_retry(struct sl_worker *w)
{
	uint32_t i, keep = 0, pass = ++w->held_pass;
	unsigned done = 0;

	for (i = 0; i < w->n_held; i++) {
		struct sl_held *e = &w->held[i];
		struct sl_topic_state *ts = sl_route_state(&w->dp->route, e->topic);

		if (ts->bp_pass != pass &&
		    (bp_room(w, ts, e->m, e->off, e->len, e->seq) ||
		     (bp_expire(w, e->topic, ts, e->seq) &&
		      bp_room(w, ts, e->m, e->off, e->len, e->seq)))) {
			fan_out_now(w, e->m, e->off, e->len, e->seq);
			rte_pktmbuf_free(e->m);
			__atomic_store_n(&ts->bp_held, ts->bp_held - 1, __ATOMIC_RELAXED);
			done++;
			continue;
		}
		ts->bp_pass = pass; /* later messages of the topic wait behind this one */
		w->held[keep++] = *e;
	}
	w->n_held = keep;
	return done;
}

void
sl_worker_fan_out(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len,
		  uint64_t seq)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, p->topic_id);

	/* Behind held messages of its topic, whatever the policy is now (it
	 * may have changed while they wait): order is kept. */
	if (ts->bp_held || (ts->backpressure == SL_BP_BLOCK && !bp_room(w, ts, m, off, len, seq))) {
		hold(w, ts, m, off, len, p->topic_id, seq);
		return;
	}
	fan_out_now(w, m, off, len, seq);
}

