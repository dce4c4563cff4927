/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker lcore: rx burst, parse, session checks, handoff, fan-out, tx burst. */

#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/proto.h>

#include "dataplane.h"
#include "pkt.h"
#include "shm.h"
#include "worker_internal.h"

#define EXPIRY_PERIOD_MS 10 /* how often a worker scans for silent sessions */
#define EXPIRY_SCAN 256	    /* slots looked at per scan: bounds the pause */
#define IDLE_SPIN 256	    /* empty polls before the backoff strategy sleeps */
#define GROUP_COMMIT_BURSTS 64 /* rx bursts gathered at most before one persist */

/* --- transmit ------------------------------------------------------------ */

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

static void
tx_flush(struct sl_worker *w)
{
	uint16_t i;

	for (i = 0; i < w->dp->n_ports; i++)
		if (w->n_tx[i])
			tx_flush_port(w, i);
}

void
sl_worker_tx_enqueue(struct sl_worker *w, uint16_t pidx, struct rte_mbuf *m)
{
	sl_ctr_add(&w->ctr.ctr[SL_CTR_tx_bytes], m->pkt_len);
	w->tx[pidx][w->n_tx[pidx]++] = m;
	if (w->n_tx[pidx] == SL_TX_BUF)
		tx_flush_port(w, pidx);
}

/* --- replies --------------------------------------------------------------- */

/* Peer address of a received datagram, from the headers rx validated. */
void
sl_worker_peer_of(const struct rte_mbuf *m, struct sl_sub *peer)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = p + m->l2_len;

	memcpy(peer->mac, p + 6, 6);
	memcpy(&peer->ip, ip + 12, 4);
	memcpy(&peer->udp_port, ip + m->l3_len, 2);
	peer->port_id = m->port;
}

uint16_t
sl_worker_port_index(const struct sl_dp *dp, uint16_t port_id)
{
	uint16_t i;

	for (i = 0; i < dp->n_ports; i++)
		if (dp->ports[i].port_id == port_id)
			return i;
	return 0;
}

/*
 * Allocate a reply to @peer with room for a frame of @flen bytes from
 * @pool. Returns the frame pointer and the mbuf through @out, or NULL.
 */
void *
sl_worker_reply_alloc(struct sl_worker *w, struct rte_mempool *pool, uint16_t pidx,
		      const struct sl_sub *peer, uint32_t flen, uint32_t wire_len,
		      struct rte_mbuf **out)
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
	sl_pkt_build_udp(d, p->mac, peer->mac, p->ip, peer->ip, p->udp_port, peer->udp_port,
			 (uint16_t)wire_len);
	m->port = p->port_id;
	*out = m;
	return d + SL_PKT_HDR_LEN;
}

/* Send a fixed-size frame (@frame, @flen bytes, header filled) to @peer. */
void
sl_worker_reply_frame(struct sl_worker *w, const struct sl_sub *peer, const void *frame, uint32_t flen)
{
	uint16_t pidx;
	struct rte_mbuf *m;
	void *d;

	if (peer->port_id == SL_SHM_PORT) {
		/* A full ring loses the reply: the client resends requests. */
		if (sl_shm_send(w, peer, frame, flen, NULL, 0) == -ENOBUFS)
			drop(w, SL_DROP_shm_ring_full);
		return;
	}
	pidx = sl_worker_port_index(w->dp, peer->port_id);
	d = sl_worker_reply_alloc(w, w->dp->pkt_pool, pidx, peer, flen, flen, &m);
	if (d == NULL)
		return;
	memcpy(d, frame, flen);
	sl_worker_tx_enqueue(w, pidx, m);
}

void
sl_worker_reply_error(struct sl_worker *w, const struct sl_sub *peer, uint32_t session, uint32_t req_id,
	    uint16_t code, uint8_t ftype, uint64_t detail)
{
	struct sl_error e;

	sl_proto_hdr_init(&e.h, SL_FT_ERROR, 0, sizeof(e), session);
	e.req_id = req_id;
	e.code = code;
	e.frame_type = ftype;
	e.detail = detail;
	count(w, SL_CTR_errors_sent);
	sl_worker_reply_frame(w, peer, &e, sizeof(e));
}

void
sl_worker_reply_ok(struct sl_worker *w, const struct sl_sub *peer, uint32_t session, uint32_t req_id)
{
	struct sl_ok ok;

	sl_proto_hdr_init(&ok.h, SL_FT_OK, 0, sizeof(ok), session);
	ok.req_id = req_id;
	ok.value = 0;
	sl_worker_reply_frame(w, peer, &ok, sizeof(ok));
}

/* --- topic owner: subscribe, publish, fan-out ---------------------------------- */

static void
owner_subscribe(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint8_t kind)
{
	const struct sl_subscribe *s = rte_pktmbuf_mtod_offset(m, const struct sl_subscribe *, off);
	struct sl_sub sub;
	int rc;

	sl_worker_peer_of(m, &sub);
	sub.session = s->h.session;
	sub.reserved = 0;
	sub.replay_next = 0;
	if (kind == SL_HO_UNSUBSCRIBE) {
		sl_route_sub_del(&w->dp->route, s->topic_id, s->h.session);
		count(w, SL_CTR_unsubscribes);
		sl_worker_reply_ok(w, &sub, s->h.session, s->req_id);
		return;
	}
	sub.req_id = s->req_id;
	{
		const struct sl_sub *old = sl_route_sub_find(&w->dp->route, s->topic_id,
							     s->h.session);

		/* A resent SUBSCRIBE (its OK was lost) must not restart a replay. */
		if (old && old->req_id == s->req_id) {
			sl_worker_reply_ok(w, &sub, s->h.session, s->req_id);
			return;
		}
	}
	if (s->h.flags & SL_SUB_F_REPLAY) {
		rc = sl_worker_replay_start(w, s, &sub);
		if (rc < 0)
			return; /* refused and answered */
	}
	rc = sl_route_sub_add(&w->dp->route, s->topic_id, &sub);
	if (rc < 0) {
		drop(w, SL_DROP_sub_table_full);
		sl_worker_reply_error(w, &sub, s->h.session, s->req_id, SL_E_SUB_TABLE_FULL,
			    SL_FT_SUBSCRIBE, s->topic_id);
		return;
	}
	count(w, SL_CTR_subscribes);
	sl_worker_reply_ok(w, &sub, s->h.session, s->req_id);
}

/*
 * One DELIVER to @sub: a fresh header mbuf chained to an indirect mbuf that
 * shares the publisher's payload, so fan-out costs a reference, not a copy.
 */
static int
deliver_one(struct sl_worker *w, struct rte_mbuf *m, const struct sl_publish *p,
	    uint32_t plen, uint16_t payload_off, uint64_t seq, const struct sl_sub *sub)
{
	struct sl_dp *dp = w->dp;
	uint16_t pidx;
	uint32_t flen = (uint32_t)sizeof(struct sl_deliver) + plen;
	struct rte_mbuf *h, *c = NULL;
	struct sl_deliver *d;

	if (sub->port_id == SL_SHM_PORT) {
		struct sl_deliver dl;

		sl_worker_deliver_hdr(&dl, 0, sub->session, p->topic_id, plen, seq, p->timestamp);
		return sl_worker_shm_deliver(w, sub, &dl, rte_pktmbuf_mtod_offset(m, const void *,
						payload_off), plen);
	}
	pidx = sl_worker_port_index(dp, sub->port_id);
	if (unlikely(!dp->ports[pidx].multiseg)) {
		/* This NIC cannot send chains: one copy per subscriber instead. */
		d = sl_worker_reply_alloc(w, dp->pkt_pool, pidx, sub, sizeof(*d) + plen,
					  sizeof(*d) + plen, &h);
		if (d == NULL)
			return -ENOBUFS;
		memcpy(d + 1, rte_pktmbuf_mtod_offset(m, const void *, payload_off), plen);
		plen = 0; /* nothing to chain */
		goto fill;
	}
	d = sl_worker_reply_alloc(w, dp->hdr_pool, pidx, sub, sizeof(*d), sizeof(*d) + plen,
				  &h);
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
fill:
	sl_worker_deliver_hdr(d, 0, sub->session, p->topic_id, flen - (uint32_t)sizeof(*d), seq,
			      p->timestamp);
	sl_worker_tx_enqueue(w, pidx, h);
	return 0;
}

/*
 * A DELIVER of @plen payload bytes (header @dl) into shared-memory
 * subscriber @sub's ring. A full ring is the topic's back-pressure policy
 * at work (block never gets here without room: fan_out checked): drop, or
 * disconnect the subscriber. Either way the subscriber can see it: a gap in
 * seq and the ring's dropped count, or the region's notice.
 */
int
sl_worker_shm_deliver(struct sl_worker *w, const struct sl_sub *sub, const struct sl_deliver *dl,
		      const void *payload, uint32_t plen)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, dl->topic_id);
	int rc = sl_shm_send(w, sub, dl, sizeof(*dl), payload, plen);

	if (likely(rc != -ENOBUFS))
		return rc;
	drop(w, SL_DROP_shm_ring_full);
	sl_shm_dropped(w, sub);
	if (ts->backpressure == SL_BP_DISCONNECT)
		sl_shm_kick(w, sub, SL_SHM_CUT_SLOW);
	return rc;
}

/* Policy block: does every live shared-memory subscriber have room for the
 * DELIVER of a PUBLISH of @len bytes (header and payload)? */
static int
bp_room(struct sl_worker *w, const struct sl_topic_state *ts, uint32_t len)
{
	uint32_t i, flen = len - (uint32_t)sizeof(struct sl_publish) + sizeof(struct sl_deliver);

	for (i = 0; i < ts->n_subs; i++)
		if (ts->subs[i].port_id == SL_SHM_PORT && !ts->subs[i].replay_next &&
		    !sl_shm_room(w, &ts->subs[i], flen))
			return 0;
	return 1;
}

static void
fan_out_now(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len, uint64_t seq)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, p->topic_id);
	uint32_t plen = len - (uint32_t)sizeof(*p), i, sent = 0, live = 0;

	for (i = 0; i < ts->n_subs; i++) {
		/* A replaying subscriber gets this one from the journal. */
		if (ts->subs[i].replay_next)
			continue;
		live++;
		if (deliver_one(w, m, p, plen, (uint16_t)(off + sizeof(*p)), seq,
				&ts->subs[i]) == 0)
			sent++;
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
static unsigned
held_retry(struct sl_worker *w)
{
	uint32_t i, keep = 0, pass = ++w->held_pass;
	unsigned done = 0;

	for (i = 0; i < w->n_held; i++) {
		struct sl_held *e = &w->held[i];
		struct sl_topic_state *ts = sl_route_state(&w->dp->route, e->topic);

		if (ts->bp_pass != pass && bp_room(w, ts, e->len)) {
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
	if (ts->bp_held || (ts->backpressure == SL_BP_BLOCK && !bp_room(w, ts, len))) {
		hold(w, ts, m, off, len, p->topic_id, seq);
		return;
	}
	fan_out_now(w, m, off, len, seq);
}

void
sl_worker_ack(struct sl_worker *w, const struct sl_sub *peer, uint32_t session, uint32_t topic,
	      uint64_t producer_seq, uint64_t seq)
{
	struct sl_ack a;

	sl_proto_hdr_init(&a.h, SL_FT_ACK, 0, sizeof(a), session);
	a.topic_id = topic;
	a.reserved = 0;
	a.producer_seq = producer_seq;
	a.seq = seq;
	count(w, SL_CTR_acks);
	sl_worker_reply_frame(w, peer, &a, sizeof(a));
}

static void
owner_publish(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, p->topic_id);
	struct sl_sub peer;
	uint64_t seq;

	if (ts->journal) {
		sl_worker_publish_durable(w, m, off, len);
		return;
	}
	/* Durability none: routed now, acknowledged now. Owner-only writes;
	 * relaxed stores so telemetry reads whole words. */
	seq = ts->seq + 1;
	sl_ctr_add(&ts->seq, 1);
	sl_ctr_add(&ts->published, 1);
	count(w, SL_CTR_publishes);
	sl_worker_fan_out(w, m, off, len, seq);
	if (p->h.flags & SL_PUB_F_ACK_REQ) {
		sl_worker_peer_of(m, &peer);
		sl_worker_ack(w, &peer, p->h.session, p->topic_id, p->producer_seq, seq);
	}
}

/* --- handoff between lcores ----------------------------------------------------- */

/* Keep a control handoff for retry; publishes are never kept (their loss is
 * counted and the publisher gets no ack). Returns 0 or -ENOSPC. */
static int
backlog_add(struct sl_worker *w, uint32_t dst, const struct sl_handoff *h)
{
	if (h->kind == SL_HO_PUBLISH || w->n_backlog == SL_BACKLOG_MAX)
		return -ENOSPC;
	w->backlog[w->n_backlog++] = (struct sl_backlog){ dst, *h };
	w->n_backlog_dst[dst]++;
	return 0;
}

static void
backlog_retry(struct sl_worker *w)
{
	uint32_t i, keep = 0, blocked = 0; /* bit per destination that refused */

	for (i = 0; i < w->n_backlog; i++) {
		struct sl_backlog *b = &w->backlog[i];

		/* Per destination, in order: once one is refused, keep the rest. */
		if (!(blocked & (1u << b->dst)) &&
		    rte_ring_enqueue_elem(w->dp->workers[b->dst]->in, &b->h, sizeof(b->h)) == 0) {
			w->n_backlog_dst[b->dst]--;
			count(w, SL_CTR_handoff_out);
			continue;
		}
		blocked |= 1u << b->dst;
		w->backlog[keep++] = *b;
	}
	w->n_backlog = keep;
}

/* Enqueue the handoffs staged for @dst. What a full ring refuses is kept for
 * retry when it is control, else dropped and counted (references released)
 * rather than stalling this worker. */
static void
stage_push(struct sl_worker *w, uint32_t dst)
{
	struct sl_handoff *q = &w->out[dst * w->dp->conf.burst];
	uint16_t n = w->n_out[dst];
	unsigned done;

	done = rte_ring_enqueue_burst_elem(w->dp->workers[dst]->in, q, sizeof(*q), n, NULL);
	sl_ctr_add(&w->ctr.ctr[SL_CTR_handoff_out], done);
	for (; done < n; done++) {
		if (backlog_add(w, dst, &q[done]) == 0)
			continue;
		drop(w, SL_DROP_ring_full);
		if (q[done].m)
			rte_pktmbuf_free(q[done].m);
	}
	w->n_out[dst] = 0;
}

static void
stage(struct sl_worker *w, uint32_t dst, const struct sl_handoff *h)
{
	/* Control must not overtake control already waiting for @dst. */
	if (w->n_backlog_dst[dst] && h->kind != SL_HO_PUBLISH) {
		if (backlog_add(w, dst, h) == 0)
			return;
	}
	w->out[dst * w->dp->conf.burst + w->n_out[dst]++] = *h;
	if (w->n_out[dst] == w->dp->conf.burst)
		stage_push(w, dst);
}

static void
stage_flush(struct sl_worker *w)
{
	uint32_t dst;

	if (w->n_backlog)
		backlog_retry(w);
	for (dst = 0; dst < w->dp->n_workers; dst++)
		if (w->n_out[dst])
			stage_push(w, dst);
}

/* Run a topic-owner action here or hand it to the owner. Takes no reference
 * from the caller: a handoff takes its own. */
static void
to_owner(struct sl_worker *w, const struct sl_topic *t, struct rte_mbuf *m,
	 const struct sl_frame *f, uint16_t data_off, uint8_t kind)
{
	uint16_t off = (uint16_t)(data_off + f->off);
	/* A PUBLISH travels as header and payload: the padding and MAC trailer
	 * of an authenticated frame are not part of the message. */
	uint16_t len = (uint16_t)(kind == SL_HO_PUBLISH ? sizeof(struct sl_publish) + f->body_len
							: f->len);
	struct sl_handoff h;

	if (t->owner == w->idx) {
		if (kind == SL_HO_PUBLISH)
			owner_publish(w, m, off, len);
		else
			owner_subscribe(w, m, off, kind);
		return;
	}
	rte_mbuf_refcnt_update(m, 1);
	h.m = m;
	h.session = f->hdr->session;
	h.off = off;
	h.len = len;
	h.topic = t->id;
	h.kind = kind;
	h.src_worker = (uint8_t)w->idx;
	h.code = 0;
	stage(w, t->owner, &h);
}

/* A session ended: every owner drops its subscriptions. */
void
sl_worker_session_gone(struct sl_worker *w, uint32_t session)
{
	struct sl_handoff h = { .session = session, .kind = SL_HO_UNSUB_ALL };
	uint32_t i;

	for (i = 0; i < w->dp->n_workers; i++) {
		if (i == w->idx)
			sl_route_sub_del_session(&w->dp->route, i, session);
		else
			stage(w, i, &h);
	}
	/* Its pattern subscriptions too (main lcore); if that ring is full the
	 * entries stay until... never: count it. */
	if (rte_ring_enqueue_elem(w->dp->slow, &(struct sl_handoff){ .session = session,
					.kind = SL_HO_SESSION_END }, sizeof(struct sl_handoff)) != 0)
		drop(w, SL_DROP_slow_path_full);
}

void
sl_worker_session_close(struct sl_worker *w, struct sl_session *s)
{
	sl_worker_session_gone(w, s->id);
	sl_session_close(&w->sessions, s);
	count(w, SL_CTR_sessions_closed);
}


/* --- receive: sessions and frames ---------------------------------------------- */

static void
reply_topic(struct sl_worker *w, const struct sl_sub *peer, uint32_t session, uint32_t req_id,
	    uint32_t id)
{
	struct sl_topic_reply t;

	sl_proto_hdr_init(&t.h, SL_FT_TOPIC, 0, sizeof(t), session);
	t.req_id = req_id;
	t.topic_id = id;
	sl_worker_reply_frame(w, peer, &t, sizeof(t));
}

static void
handle_resolve(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
	       uint16_t data_off, const struct sl_sub *peer, const struct sl_session *sess)
{
	const struct sl_resolve *r = (const struct sl_resolve *)f->hdr;
	struct sl_handoff h;
	uint32_t id;

	count(w, SL_CTR_resolves);
	id = sl_route_topic_lookup(&w->dp->route, (const char *)f->body, f->body_len);
	if (id) {
		reply_topic(w, peer, r->h.session, r->req_id, id);
		return;
	}
	if (!(r->flags & SL_RESOLVE_F_CREATE) || !w->dp->conf.auto_create_topics) {
		drop(w, SL_DROP_unknown_topic);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_UNKNOWN_TOPIC, SL_FT_RESOLVE, 0);
		return;
	}
	/* Creating a topic is an admin right on a pattern that covers it. */
	if (!(sl_authz_perms_by_name(sl_dp_authz(w->dp), sess->uid, (const char *)f->body,
				     f->body_len) & SL_PERM_ADMIN)) {
		drop(w, SL_DROP_denied);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_DENIED, SL_FT_RESOLVE, 0);
		return;
	}
	/* Creating is the main lcore's job (single writer of the topic table). */
	rte_mbuf_refcnt_update(m, 1);
	h = (struct sl_handoff){ .m = m, .session = r->h.session,
				 .off = (uint16_t)(data_off + f->off), .len = (uint16_t)f->len,
				 .kind = SL_HO_RESOLVE, .src_worker = (uint8_t)w->idx };
	if (rte_ring_enqueue_elem(w->dp->slow, &h, sizeof(h)) != 0) {
		rte_pktmbuf_free(m);
		drop(w, SL_DROP_slow_path_full);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_BUSY, SL_FT_RESOLVE, 0);
	}
}

/* Frames that need the topic: check it exists, then go to its owner. */
/*
 * Publish rate limit per session, GCRA (a token bucket in one word): a
 * publish is allowed unless its theoretical arrival time runs more than the
 * burst (a tenth of a second's worth, at least one) ahead of now.
 */
static int
rate_exceeded(struct sl_worker *w, struct sl_session *s, uint32_t limit)
{
	uint64_t t = w->dp->tsc_hz / limit, burst = limit / 10 ? limit / 10 : 1;
	uint64_t tat = s->rate_tat > w->now ? s->rate_tat : w->now;

	if (tat - w->now > (burst - 1) * t)
		return 1;
	s->rate_tat = tat + t;
	return 0;
}

static void
handle_topic_frame(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
		   uint16_t data_off, const struct sl_sub *peer, struct sl_session *sess)
{
	uint32_t limit = __atomic_load_n(&w->dp->conf.rate_limit, __ATOMIC_RELAXED);
	const struct sl_authz *a = sl_dp_authz(w->dp);
	uint8_t type = f->hdr->type;
	const struct sl_topic *t;

	if (type == SL_FT_PUBLISH) {
		const struct sl_publish *p = (const struct sl_publish *)f->hdr;

		t = sl_route_topic_get(&w->dp->route, p->topic_id);
		if (unlikely(t == NULL)) {
			drop(w, SL_DROP_unknown_topic);
			sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_UNKNOWN_TOPIC, type,
				    p->producer_seq);
			return;
		}
		if (unlikely(!(sl_authz_perms(a, sess->uid, t) & SL_PERM_PUB))) {
			drop(w, SL_DROP_denied);
			sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_DENIED, type,
					      p->producer_seq);
			return;
		}
		/* A topic holding messages back (policy block) refuses UDP
		 * publishers; a shared-memory publisher's frames that got this
		 * far join the held ones at the owner (the ring reader stops
		 * taking more), so none is lost. */
		if (unlikely(peer->port_id != SL_SHM_PORT &&
			     __atomic_load_n(&sl_route_state(&w->dp->route, t->id)->bp_held,
					     __ATOMIC_RELAXED))) {
			drop(w, SL_DROP_backpressure);
			sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_BACKPRESSURE, type,
					      p->producer_seq);
			return;
		}
		if (limit && rate_exceeded(w, sess, limit)) {
			drop(w, SL_DROP_rate_limited);
			sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_RATE_LIMITED, type,
					      p->producer_seq);
			return;
		}
		to_owner(w, t, m, f, data_off, SL_HO_PUBLISH);
		return;
	}
	{
		const struct sl_subscribe *s = (const struct sl_subscribe *)f->hdr;

		t = sl_route_topic_get(&w->dp->route, s->topic_id);
		if (t == NULL) {
			drop(w, SL_DROP_unknown_topic);
			sl_worker_reply_error(w, peer, s->h.session, s->req_id, SL_E_UNKNOWN_TOPIC, type,
				    s->topic_id);
			return;
		}
		/* Leaving a topic needs no permission. */
		if (type == SL_FT_SUBSCRIBE && !(sl_authz_perms(a, sess->uid, t) & SL_PERM_SUB)) {
			drop(w, SL_DROP_denied);
			sl_worker_reply_error(w, peer, s->h.session, s->req_id, SL_E_DENIED, type,
					      s->topic_id);
			return;
		}
		to_owner(w, t, m, f, data_off,
			 type == SL_FT_SUBSCRIBE ? SL_HO_SUBSCRIBE : SL_HO_UNSUBSCRIBE);
	}
}

/* Pattern subscriptions are kept by the main lcore: hand the frame over. */
static void
handle_psub(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f, uint16_t data_off,
	    const struct sl_sub *peer, const struct sl_session *sess)
{
	const struct sl_resolve *r = (const struct sl_resolve *)f->hdr;
	struct sl_handoff h = { .m = m, .session = r->h.session,
				.off = (uint16_t)(data_off + f->off), .len = (uint16_t)f->len,
				.kind = f->hdr->type == SL_FT_PSUBSCRIBE ? SL_HO_PSUB : SL_HO_PUNSUB,
				.src_worker = (uint8_t)w->idx, .code = sess->uid };

	count(w, f->hdr->type == SL_FT_PSUBSCRIBE ? SL_CTR_subscribes : SL_CTR_unsubscribes);
	rte_mbuf_refcnt_update(m, 1);
	if (rte_ring_enqueue_elem(w->dp->slow, &h, sizeof(h)) != 0) {
		rte_pktmbuf_free(m);
		drop(w, SL_DROP_slow_path_full);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_BUSY, f->hdr->type, 0);
	}
}

static void
handle_heartbeat(struct sl_worker *w, const struct sl_frame *f, const struct sl_sub *peer)
{
	struct sl_heartbeat hb;

	count(w, SL_CTR_heartbeats);
	sl_proto_hdr_init(&hb.h, SL_FT_HEARTBEAT, 0, sizeof(hb), f->hdr->session);
	hb.timestamp = ((const struct sl_heartbeat *)f->hdr)->timestamp;
	sl_worker_reply_frame(w, peer, &hb, sizeof(hb));
}

/* Every frame but HELLO needs a live session that matches its source. */
static struct sl_session *
frame_session(struct sl_worker *w, const struct sl_frame *f, const struct sl_sub *peer,
	      struct sl_session *cached)
{
	struct sl_session *s = cached;

	if (s == NULL || s->id != f->hdr->session)
		s = sl_session_get(&w->sessions, f->hdr->session, peer->ip, peer->udp_port);
	/* A datagram never reaches a shared-memory session, nor the reverse,
	 * whatever address it claims. */
	if (s && (s->port_id == SL_SHM_PORT) != (peer->port_id == SL_SHM_PORT))
		s = NULL;
	if (unlikely(s == NULL)) {
		drop(w, SL_DROP_no_session);
		if (f->hdr->type != SL_FT_GOODBYE && !w->dgram_error) {
			w->dgram_error = 1;
			sl_worker_reply_error(w, peer, f->hdr->session, 0, SL_E_NO_SESSION,
					      f->hdr->type, 0);
		}
		return NULL;
	}
	return s;
}

static void
handle_frame(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
	     uint16_t data_off, const struct sl_sub *peer, struct sl_session **sess)
{
	uint8_t type = f->hdr->type;

	count(w, SL_CTR_frames);
	if (type == SL_FT_HELLO) {
		sl_worker_hello(w, f, peer);
		*sess = NULL;
		return;
	}
	if (type != SL_FT_PUBLISH && type != SL_FT_SUBSCRIBE && type != SL_FT_UNSUBSCRIBE &&
	    type != SL_FT_RESOLVE && type != SL_FT_HEARTBEAT && type != SL_FT_GOODBYE &&
	    type != SL_FT_AUTH && type != SL_FT_PSUBSCRIBE && type != SL_FT_PUNSUBSCRIBE) {
		drop(w, SL_DROP_unexpected_type); /* broker-to-client types: ignore */
		return;
	}
	*sess = frame_session(w, f, peer, *sess);
	if (*sess == NULL)
		return;
	if (type == SL_FT_AUTH) {
		sl_worker_auth(w, f, peer, *sess);
		*sess = NULL; /* the session may have been closed */
		return;
	}
	if (unlikely(sl_worker_frame_check(w, f, peer, *sess) < 0)) {
		*sess = NULL;
		return;
	}
	(*sess)->last_seen = w->now;
	switch (type) {
	case SL_FT_PUBLISH:
	case SL_FT_SUBSCRIBE:
	case SL_FT_UNSUBSCRIBE:
		handle_topic_frame(w, m, f, data_off, peer, *sess);
		break;
	case SL_FT_RESOLVE:
		handle_resolve(w, m, f, data_off, peer, *sess);
		break;
	case SL_FT_PSUBSCRIBE:
	case SL_FT_PUNSUBSCRIBE:
		handle_psub(w, m, f, data_off, peer, *sess);
		break;
	case SL_FT_HEARTBEAT:
		handle_heartbeat(w, f, peer);
		break;
	case SL_FT_GOODBYE:
		count(w, SL_CTR_goodbyes);
		sl_worker_session_close(w, *sess);
		*sess = NULL;
		break;
	}
}

void
sl_worker_datagram(struct sl_worker *w, struct rte_mbuf *m, const struct sl_pkt_info *pi)
{
	const uint8_t *data = rte_pktmbuf_mtod_offset(m, const uint8_t *, pi->payload_off);
	struct sl_session *sess = NULL;
	struct sl_frame f;
	struct sl_sub peer;
	size_t off = 0;
	int rc;

	m->l2_len = 14;
	m->l3_len = (uint16_t)(pi->payload_off - 14 - 8);
	memcpy(peer.mac, pi->src_mac, 6);
	peer.ip = pi->src_ip;
	peer.udp_port = pi->src_port;
	peer.port_id = m->port;
	peer.session = 0;
	peer.reserved = 0;
	peer.req_id = 0;
	peer.replay_next = 0;
	w->dgram_hello = 0;
	w->dgram_error = 0;
	while ((rc = sl_proto_next(data, pi->payload_len, &off, &f)) == 1)
		handle_frame(w, m, &f, pi->payload_off, &peer, &sess);
	/* The rest of a datagram after a bad frame cannot be framed: one drop.
	 * Records from a shared-memory ring are framed by the client itself:
	 * a bad one means a broken client, which is cut off (PROTOCOL.md 14.5). */
	if (unlikely(rc < 0)) {
		drop(w, sl_drop_from_proto(rc));
		if (m->port == SL_SHM_PORT)
			sl_shm_kick(w, &peer, SL_SHM_CUT_CORRUPT);
	}
}

static void
handle_pkt(struct sl_worker *w, struct rte_mbuf *m)
{
	struct sl_port_rt *p = &w->dp->ports[w->port_idx];
	struct sl_pkt_info pi;
	int rc;

	sl_ctr_add(&w->ctr.ctr[SL_CTR_rx_bytes], m->pkt_len);
	if (unlikely(m->nb_segs != 1)) { /* larger than any datagram we accept */
		drop(w, SL_DROP_udp_length);
		rte_pktmbuf_free(m);
		return;
	}
	rc = sl_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, p->ip, p->udp_port,
			  &pi);
	if (rc == SL_PKT_UDP) {
		sl_worker_datagram(w, m, &pi);
		rte_pktmbuf_free(m); /* handoffs and deliveries hold their own references */
		return;
	}
	if (rc == SL_PKT_ARP_REQ) {
		sl_pkt_arp_reply(rte_pktmbuf_mtod(m, uint8_t *), p->mac, p->ip);
		count(w, SL_CTR_arp_replies);
		sl_worker_tx_enqueue(w, w->port_idx, m);
		return;
	}
	drop(w, (enum sl_drop)-rc);
	rte_pktmbuf_free(m);
}

/* An element another lcore handed us. */
static void
handle_handoff(struct sl_worker *w, struct sl_handoff *h)
{
	struct sl_session *s;
	struct sl_sub peer;

	count(w, SL_CTR_handoff_in);
	switch (h->kind) {
	case SL_HO_PUBLISH:
		owner_publish(w, h->m, h->off, h->len);
		break;
	case SL_HO_SUBSCRIBE:
	case SL_HO_UNSUBSCRIBE:
		owner_subscribe(w, h->m, h->off, h->kind);
		break;
	case SL_HO_UNSUB_ALL:
		sl_route_sub_del_session(&w->dp->route, w->idx, h->session);
		break;
	case SL_HO_TOPIC_DELETE:
		sl_worker_topic_delete(w, h->topic);
		break;
	case SL_HO_SHM_ATTACH:
	case SL_HO_SHM_DETACH:
		sl_shm_worker_handoff(w, h);
		break;
	case SL_HO_PSUB_ADD:
		sl_worker_peer_of(h->m, &peer);
		peer.session = h->session;
		peer.reserved = 0;
		peer.req_id = 0;
		peer.replay_next = 0;
		if (sl_route_sub_add(&w->dp->route, h->topic, &peer) < 0)
			drop(w, SL_DROP_sub_table_full);
		break;
	case SL_HO_PSUB_DEL:
		sl_route_sub_del(&w->dp->route, h->topic, h->session);
		break;
	case SL_HO_PSUB_DONE: {
		const struct sl_resolve *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_resolve *,
								     h->off);

		sl_worker_peer_of(h->m, &peer);
		if (sl_session_get(&w->sessions, h->session, peer.ip, peer.udp_port) == NULL)
			break;
		if (h->code == SL_E_NONE)
			sl_worker_reply_ok(w, &peer, h->session, r->req_id);
		else
			sl_worker_reply_error(w, &peer, h->session, r->req_id, h->code, r->h.type, 0);
		break;
	}
	case SL_HO_RESOLVE_DONE: {
		const struct sl_resolve *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_resolve *,
								     h->off);

		sl_worker_peer_of(h->m, &peer);
		s = sl_session_get(&w->sessions, h->session, peer.ip, peer.udp_port);
		if (s == NULL)
			break; /* the session ended meanwhile: nobody to answer */
		if (h->code != SL_E_NONE) {
			drop(w, h->code == SL_E_TOPIC_TABLE_FULL ? SL_DROP_topic_table_full
								  : SL_DROP_journal_damaged);
			sl_worker_reply_error(w, &peer, h->session, r->req_id, h->code, SL_FT_RESOLVE, 0);
		} else {
			reply_topic(w, &peer, h->session, r->req_id, h->topic);
		}
		break;
	}
	default:
		break;
	}
	if (h->m)
		rte_pktmbuf_free(h->m);
}

/* --- timers, idle, main loop ------------------------------------------------------ */

static void
on_expired(void *arg, const struct sl_session *s)
{
	struct sl_worker *w = arg;

	sl_worker_session_gone(w, s->id);
	count(w, SL_CTR_sessions_expired);
}

static void
timers(struct sl_worker *w)
{
	uint64_t hz = w->dp->tsc_hz;

	if (w->now < w->next_timer)
		return;
	w->next_timer = w->now + hz * EXPIRY_PERIOD_MS / 1000;
	sl_session_expire(&w->sessions, w->now, hz * w->dp->conf.session_timeout_ms / 1000,
			  EXPIRY_SCAN, on_expired, w);
	if (w->dp->shm)
		sl_shm_worker_timers(w);
}

static void
idle(struct sl_worker *w, unsigned work)
{
	struct timespec ts;
	uint32_t us;

	if (work || w->dp->conf.idle == SL_IDLE_BUSY) {
		w->idle_polls = 0;
		rte_pause();
		return;
	}
	if (++w->idle_polls < IDLE_SPIN) {
		rte_pause();
		return;
	}
	/* Back off exponentially from 1 us to idle_max_us. */
	us = 1u << RTE_MIN((w->idle_polls - IDLE_SPIN) / 8, 20u);
	us = RTE_MIN(us, w->dp->conf.idle_max_us);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)us * 1000;
	nanosleep(&ts, NULL);
	count(w, SL_CTR_idle_sleeps);
}

static unsigned
poll_once(struct sl_worker *w, struct rte_mbuf **pkts, struct sl_handoff *in)
{
	struct sl_port_rt *p = &w->dp->ports[w->port_idx];
	uint16_t burst = w->dp->conf.burst, n, i;
	unsigned nin, j, total = 0, rounds = 0;

	w->now = rte_rdtsc();
	/* Adaptive group commit: while sync publishes wait for this
	 * iteration's persist and the queue keeps delivering full bursts, take
	 * more before persisting. A slow persist so gathers a bigger batch
	 * rather than falling behind the offered rate. */
	do {
		n = rte_eth_rx_burst(p->port_id, w->queue, pkts, burst);
		if (n == 0)
			break;
		sl_ctr_add(&w->ctr.ctr[SL_CTR_rx_pkts], n);
		for (i = 0; i < n; i++)
			handle_pkt(w, pkts[i]);
		total += n;
	} while (n == burst && sl_worker_commit_pending(w) && ++rounds < GROUP_COMMIT_BURSTS);
	if (w->n_shm)
		total += sl_shm_worker_poll(w);
	nin = rte_ring_dequeue_burst_elem(w->in, in, sizeof(*in), burst, NULL);
	for (j = 0; j < nin; j++)
		handle_handoff(w, &in[j]);
	if (w->n_held)
		nin += held_retry(w);
	/* Replays read only what is durable; then this iteration's sync
	 * journals are persisted once each and their messages released. */
	nin += sl_worker_replay_poll(w);
	sl_worker_commit(w);
	stage_flush(w);
	sl_worker_durable_timers(w);
	tx_flush(w);
	timers(w);
	return total + nin;
}

int
sl_worker_main(void *arg)
{
	struct sl_worker *w = arg;
	struct rte_mbuf *pkts[256];
	struct sl_handoff in[256];
	unsigned work;

	w->next_timer = rte_rdtsc();
	/* Relaxed: the flag only needs to be seen eventually; nothing is
	 * published through it. */
	while (!__atomic_load_n(&w->dp->quit, __ATOMIC_RELAXED)) {
		work = poll_once(w, pkts, in);
		count(w, SL_CTR_polls);
		idle(w, work);
	}
	tx_flush(w);
	return 0;
}

int
sl_worker_init(struct sl_dp *dp, uint32_t idx)
{
	struct sl_worker *w;
	char name[RTE_RING_NAMESIZE];
	int socket = rte_lcore_to_socket_id(dp->conf.workers[idx].lcore);
	int rc;

	w = rte_zmalloc_socket("sl_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (w == NULL)
		return -ENOMEM;
	w->idx = idx;
	w->dp = dp;
	w->lcore = dp->conf.workers[idx].lcore;
	w->port_idx = dp->conf.workers[idx].port;
	w->queue = dp->conf.workers[idx].queue;
	w->out = rte_zmalloc_socket("sl_stage", sizeof(struct sl_handoff) * dp->conf.burst *
				    dp->n_workers, RTE_CACHE_LINE_SIZE, socket);
	if (w->out == NULL) {
		rc = -ENOMEM;
		goto fail_w;
	}
	snprintf(name, sizeof(name), "sl_in_%u", idx);
	w->in = rte_ring_create_elem(name, sizeof(struct sl_handoff), dp->conf.ring_size, socket,
				     RING_F_SC_DEQ);
	if (w->in == NULL) {
		rc = -rte_errno;
		goto fail_out;
	}
	rc = sl_session_table_init(&w->sessions, dp->conf.max_sessions, idx);
	if (rc < 0)
		goto fail_ring;
	w->backlog = rte_zmalloc_socket("sl_backlog", sizeof(*w->backlog) * SL_BACKLOG_MAX,
					RTE_CACHE_LINE_SIZE, socket);
	if (w->backlog == NULL) {
		rc = -ENOMEM;
		goto fail_sessions;
	}
	w->held = rte_zmalloc_socket("sl_held", sizeof(*w->held) * SL_HELD_MAX,
				     RTE_CACHE_LINE_SIZE, socket);
	w->shm = rte_zmalloc_socket("sl_shm_list", sizeof(*w->shm) * (dp->conf.shm_max_clients + 1),
				    RTE_CACHE_LINE_SIZE, socket);
	if (w->held == NULL || w->shm == NULL) {
		rc = -ENOMEM;
		goto fail_held;
	}
	rc = sl_worker_durable_init(w);
	if (rc < 0)
		goto fail_held;
	dp->workers[idx] = w;
	return 0;

fail_held:
	rte_free(w->shm);
	rte_free(w->held);
	rte_free(w->backlog);
fail_sessions:
	sl_session_table_fini(&w->sessions);
fail_ring:
	rte_ring_free(w->in);
fail_out:
	rte_free(w->out);
fail_w:
	rte_free(w);
	return rc;
}

void
sl_worker_fini(struct sl_worker *w)
{
	struct sl_handoff h;

	if (w == NULL)
		return;
	/* Release the references still queued to this worker. */
	while (rte_ring_dequeue_elem(w->in, &h, sizeof(h)) == 0)
		if (h.m)
			rte_pktmbuf_free(h.m);
	sl_worker_durable_fini(w);
	for (; w->n_held; w->n_held--)
		rte_pktmbuf_free(w->held[w->n_held - 1].m);
	rte_free(w->held);
	rte_free(w->shm);
	for (; w->n_backlog; w->n_backlog--)
		if (w->backlog[w->n_backlog - 1].h.m)
			rte_pktmbuf_free(w->backlog[w->n_backlog - 1].h.m);
	rte_free(w->backlog);
	sl_session_table_fini(&w->sessions);
	rte_ring_free(w->in);
	rte_free(w->out);
	rte_free(w);
}
