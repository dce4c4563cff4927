/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker lcore: the loop, rx bursts of both transports, frames, sessions, topic owners, handoffs. */

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

#include <common/crypto.h>
#include <common/log.h>
#include <common/proto.h>

#include "dataplane.h"
#include "large.h"
#include "pkt.h"
#include "repl.h"
#include "retx.h"
#include "shm_worker.h"
#include "topic_moved.h"
#include "tx.h"
#include "worker_ha.h"
#include "worker_internal.h"

#define EXPIRY_PERIOD_MS 10 /* how often a worker scans for silent sessions */
#define EXPIRY_SCAN 256	    /* slots looked at per scan: bounds the pause */
#define GROUP_COMMIT_BURSTS 64 /* rx bursts gathered at most before one persist */
#define RETX_POLL_BUDGET 512 /* messages resent for NAKs per loop iteration, at most */

/* --- topic owner: subscribe, publish, fan-out ---------------------------------- */

/* (UN)SUBSCRIBE at the topic's owner, from a session of @user
 * (SL_AUTHZ_SUB_USER): kept with the subscription for revocation sweeps. */
static void
owner_subscribe(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint8_t kind,
		uint32_t user, uint8_t version)
{
	const struct sl_subscribe *s = rte_pktmbuf_mtod_offset(m, const struct sl_subscribe *, off);
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, s->topic_id);
	const struct sl_topic *t;
	struct sl_sub sub;
	uint16_t code;
	int rc;

	memset(&sub, 0, sizeof(sub));
	sl_tx_peer_of(m, &sub.peer);
	/* What its DELIVERs may carry (headers from version 4 on). */
	sl_peer_set_version(&sub.peer, version);
	sub.session = s->h.session;
	/* Live: its credit counts from the next message fanned out (a v1
	 * SUBSCRIBE has no window field: the default). */
	sub.credit = ts->dlv_seq + (s->h.length >= sizeof(*s) && s->window ? s->window
									: w->dp->conf.udp_window);
	if (kind == SL_HO_UNSUBSCRIBE) {
		sl_route_sub_del(&w->dp->route, s->topic_id, s->h.session);
		count(w, SL_CTR_unsubscribes);
		sl_worker_reply_ok(w, &sub.peer, s->h.session, s->req_id);
		return;
	}
	sub.req_id = s->req_id;
	/* Checked again here: a revocation's sweep may have passed this
	 * owner while the SUBSCRIBE, allowed under the old table, was on
	 * its way. */
	t = sl_route_topic_get(&w->dp->route, s->topic_id);
	code = t ? sl_worker_sub_verdict(sl_dp_authz(w->dp), user, t) : SL_E_UNKNOWN_TOPIC;
	if (unlikely(code != SL_E_NONE)) {
		drop(w, SL_DROP_denied);
		sl_worker_reply_error(w, &sub.peer, s->h.session, s->req_id, code, SL_FT_SUBSCRIBE,
				      s->topic_id);
		return;
	}
	{
		const struct sl_sub *old = sl_route_sub_find(&w->dp->route, s->topic_id,
							     s->h.session);

		/* A resent SUBSCRIBE (its OK was lost) must not restart a replay. */
		if (old && old->req_id == s->req_id) {
			sl_worker_reply_ok(w, &sub.peer, s->h.session, s->req_id);
			return;
		}
	}
	if (s->h.flags & SL_SUB_F_REPLAY) {
		rc = sl_worker_replay_start(w, s, &sub);
		if (rc < 0)
			return; /* refused and answered */
	}
	rc = sl_route_sub_add_user(&w->dp->route, s->topic_id, &sub, user);
	if (rc >= 0 && sl_worker_sub_filter_set(w, s) < 0) {
		sl_route_sub_del(&w->dp->route, s->topic_id, s->h.session);
		rc = -ENOSPC;
	}
	if (rc < 0) {
		drop(w, SL_DROP_sub_table_full);
		sl_worker_reply_error(w, &sub.peer, s->h.session, s->req_id, SL_E_SUB_TABLE_FULL,
			    SL_FT_SUBSCRIBE, s->topic_id);
		return;
	}
	count(w, SL_CTR_subscribes);
	/* Where its stream starts, so that a client whose first DELIVERs were
	 * reordered does not take a later one for the start. */
	sl_worker_reply_ok_seq(w, &sub.peer, s->h.session, s->req_id,
			       sub.replay_next ? sub.replay_next
					       : sl_worker_nak_bound(w, s->topic_id) + 1);
}

/* A PUBLISH at its topic's owner, from idempotent producer @pid at @epoch
 * (0: the session is not one): deduplicated, then stored or routed. */
static void
owner_publish(struct sl_worker *w, struct rte_mbuf *m, uint16_t off, uint16_t len, uint64_t pid,
	      uint32_t epoch)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, p->topic_id);
	union sl_peer peer;
	/* producer_seq 0: a publish the producer does not sequence (no ACK
	 * asked), outside deduplication; its record still names the producer. */
	uint64_t dedup = p->producer_seq ? pid : 0;
	uint32_t slot = 0;
	uint64_t seq;

	if (unlikely(w->dp->ha != NULL) && !ts->journal && sl_worker_ha_unjournaled(w, m, p))
		return; /* a pair member's fence is closed */
	if (dedup && !sl_worker_producer_admit(w, m, p, pid, epoch, &slot))
		return;
	if (ts->journal) {
		if (sl_worker_publish_durable(w, m, off, len, pid, epoch, &seq) == 0 && dedup)
			sl_worker_producer_stored(w, slot, p->producer_seq, seq);
		return;
	}
	/* Durability none: routed now, acknowledged now. Owner-only writes;
	 * relaxed stores so telemetry reads whole words. */
	seq = ts->seq + 1;
	sl_ctr_add(&ts->seq, 1);
	sl_ctr_add(&ts->published, 1);
	count(w, SL_CTR_publishes);
	if (dedup)
		sl_worker_producer_stored(w, slot, p->producer_seq, seq);
	sl_worker_fan_out(w, m, off, len, seq);
	if (p->h.flags & SL_PUB_F_ACK_REQ) {
		sl_tx_peer_of(m, &peer);
		sl_worker_ack(w, &peer, p->h.session, p->topic_id, p->producer_seq, seq);
	}
}

/* --- handoff between lcores ----------------------------------------------------- */

/* Run a topic-owner action here or hand it to the owner. Takes no reference
 * from the caller: a handoff takes its own. */
static void
to_owner_at(struct sl_worker *w, const struct sl_topic *t, struct rte_mbuf *m, uint32_t session,
	    uint16_t off, uint16_t len, uint8_t kind, const struct sl_session *sess)
{
	struct sl_handoff h;

	if (t->owner == w->idx) {
		if (kind == SL_HO_PUBLISH)
			owner_publish(w, m, off, len, sess->producer_id, sess->producer_epoch);
		else if (kind == SL_HO_NAK)
			sl_flow_nak(w, m, off);
		else if (kind == SL_HO_CREDIT)
			sl_flow_credit(w, m, off);
		else
			owner_subscribe(w, m, off, kind,
					sess ? SL_AUTHZ_SUB_USER(sess->uid, sess->user_epoch) : 0,
					sess ? sess->version : 0);
		return;
	}
	rte_mbuf_refcnt_update(m, 1);
	h.m = m;
	h.session = session;
	h.off = off;
	h.len = len;
	h.topic = t->id;
	h.kind = kind;
	h.src_worker = (uint8_t)w->idx;
	/* A SUBSCRIBE carries its session's user and key serial. */
	h.code = kind == SL_HO_SUBSCRIBE && sess ? sess->uid : 0;
	/* Only a PUBLISH carries its session's producer (@sess may be NULL). */
	h.producer_id = kind == SL_HO_PUBLISH ? sess->producer_id : 0;
	h.producer_epoch = kind == SL_HO_PUBLISH ? sess->producer_epoch
			 : kind == SL_HO_SUBSCRIBE && sess ? sess->user_epoch : 0;
	h.flags = 0;
	h.version = sess ? sess->version : 0;
	h.reserved = 0;
	sl_worker_stage(w, t->owner, &h);
}

static void
to_owner(struct sl_worker *w, const struct sl_topic *t, struct rte_mbuf *m,
	 const struct sl_frame *f, uint16_t data_off, uint8_t kind, const struct sl_session *sess)
{
	/* A PUBLISH travels as header and payload. One in an
	 * arena buffer (larger than a datagram) travels with length 0: its
	 * header says (sl_msg_plen). */
	uint16_t len = (uint16_t)(kind != SL_HO_PUBLISH ? f->len
				  : sl_large_buf_is(m) ? 0 : sizeof(struct sl_publish) + f->body_len);

	to_owner_at(w, t, m, f->hdr->session, (uint16_t)(data_off + f->off), len, kind, sess);
}

/* --- receive: sessions and frames ---------------------------------------------- */

/* Frames that need the topic: check it exists, then go to its owner. */
/* A PUBLISH_FRAG: kept for its message; the message, once whole, is
 * published as a PUBLISH would be. */
static void
handle_frag(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
	    const union sl_peer *peer, struct sl_session *sess)
{
	const struct sl_topic *t;
	struct rte_mbuf *msg;
	uint16_t off;

	msg = sl_large_frag(w, m, f, peer, sess, &off);
	if (msg == NULL)
		return;
	t = sl_worker_publish_admit(w, rte_pktmbuf_mtod_offset(msg, const struct sl_publish *, off),
			  SL_FT_PUBLISH_FRAG, peer, sess);
	if (t)
		to_owner_at(w, t, msg, sess->id, off, 0, SL_HO_PUBLISH, sess);
	rte_pktmbuf_free(msg);
}

static void
handle_topic_frame(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
		   uint16_t data_off, const union sl_peer *peer, struct sl_session *sess)
{
	const struct sl_authz *a = sl_dp_authz(w->dp);
	uint8_t type = f->hdr->type;
	const struct sl_topic *t;

	if (type == SL_FT_PUBLISH) {
		/* Over UDP one frame carries at most WELCOME's max_payload; a
		 * larger message comes in PUBLISH_FRAG pieces. Only shared
		 * memory takes a large message as one frame. */
		if (unlikely(f->body_len > SL_MAX_PAYLOAD && peer->transport == SL_TRANSPORT_UDP)) {
			drop(w, SL_DROP_oversize);
			return;
		}
		t = sl_worker_publish_admit(w, (const struct sl_publish *)f->hdr, type, peer, sess);
		/* Larger than a datagram (shared memory): within the topic's limit. */
		if (t && (likely(f->body_len <= SL_MAX_PAYLOAD) ||
			  sl_large_publish_check(w, t, f, peer) == 0))
			to_owner(w, t, m, f, data_off, SL_HO_PUBLISH, sess);
		return;
	}
	{
		const struct sl_subscribe *s = (const struct sl_subscribe *)f->hdr;

		t = sl_route_topic_get(&w->dp->route, s->topic_id);
		if (t == NULL || unlikely(sl_route_state(&w->dp->route, t->id)->parts)) {
			drop(w, SL_DROP_unknown_topic);
			sl_worker_reply_error(w, peer, s->h.session, s->req_id,
					      t ? SL_E_PARTITIONED : SL_E_UNKNOWN_TOPIC, type, s->topic_id);
			return;
		}
		if (type == SL_FT_SUBSCRIBE && unlikely(sl_worker_moved(w, t->id, peer, s->h.session,
									 s->req_id, type, s->topic_id)))
			return; /* another pair owns it now */
		/* Leaving a topic needs no permission. */
		if (type == SL_FT_SUBSCRIBE && !(sl_authz_perms(a, sess->uid, t) & SL_PERM_SUB)) {
			drop(w, SL_DROP_denied);
			sl_worker_reply_error(w, peer, s->h.session, s->req_id, SL_E_DENIED, type,
					      s->topic_id);
			return;
		}
		if (type == SL_FT_SUBSCRIBE && unlikely(sl_worker_filter_check(w, f) != SL_E_NONE)) {
			sl_worker_reply_error(w, peer, s->h.session, s->req_id, SL_E_BAD_HEADERS,
					      type, s->topic_id);
			return;
		}
		if (type == SL_FT_SUBSCRIBE && unlikely(sl_worker_enc_refused(w, t, peer, sess))) {
			sl_worker_reply_error(w, peer, s->h.session, s->req_id,
					      SL_E_ENCRYPTION_REQUIRED, type, s->topic_id);
			return;
		}
		to_owner(w, t, m, f, data_off,
			 type == SL_FT_SUBSCRIBE ? SL_HO_SUBSCRIBE : SL_HO_UNSUBSCRIBE, sess);
	}
}

/* Pattern subscriptions are kept by the main lcore: hand the frame over. */
static void
handle_psub(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f, uint16_t data_off,
	    const union sl_peer *peer, const struct sl_session *sess)
{
	const struct sl_resolve *r = (const struct sl_resolve *)f->hdr;
	struct sl_handoff h = { .m = m, .session = r->h.session,
				.off = (uint16_t)(data_off + f->off), .len = (uint16_t)f->len,
				.kind = f->hdr->type == SL_FT_PSUBSCRIBE ? SL_HO_PSUB : SL_HO_PUNSUB,
				.src_worker = (uint8_t)w->idx, .code = sess->uid };

	/* The main lcore checks each topic's encryption policy against it. */
	if (peer->transport == SL_TRANSPORT_UDP && !sess->enc)
		h.flags = SL_HO_F_CLEAR;

	count(w, f->hdr->type == SL_FT_PSUBSCRIBE ? SL_CTR_subscribes : SL_CTR_unsubscribes);
	rte_mbuf_refcnt_update(m, 1);
	if (rte_ring_enqueue_elem(w->dp->slow, &h, sizeof(h)) != 0) {
		rte_pktmbuf_free(m);
		drop(w, SL_DROP_slow_path_full);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_BUSY, f->hdr->type, 0);
	}
}

static void
handle_heartbeat(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer)
{
	struct sl_heartbeat hb;

	count(w, SL_CTR_heartbeats);
	sl_proto_hdr_init(&hb.h, SL_FT_HEARTBEAT, 0, sizeof(hb), f->hdr->session);
	hb.timestamp = ((const struct sl_heartbeat *)f->hdr)->timestamp;
	sl_tx_frame(w, peer, &hb, sizeof(hb));
}

/* NAK and CREDIT go to the topic's owner, which keeps the subscription;
 * one for a topic that does not exist is bogus, counted, not answered. */
static void
handle_flow(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
	    uint16_t data_off)
{
	/* NAK and CREDIT both start with the topic id after the header. */
	const struct sl_credit *c = (const struct sl_credit *)f->hdr;
	const struct sl_topic *t = sl_route_topic_get(&w->dp->route, c->topic_id);
	uint8_t type = f->hdr->type;

	if (t == NULL) {
		drop(w, type == SL_FT_NAK ? SL_DROP_nak_bad : SL_DROP_credit_bad);
		return;
	}
	to_owner(w, t, m, f, data_off, type == SL_FT_NAK ? SL_HO_NAK : SL_HO_CREDIT, NULL);
}

static void
handle_frame(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
	     uint16_t data_off, const union sl_peer *peer, struct sl_session **sess)
{
	uint8_t type = f->hdr->type;

	count(w, SL_CTR_frames);
	if (unlikely(w->dgram_sealed != NULL) &&
	    (type == SL_FT_SEAL || type == SL_FT_HELLO || type == SL_FT_AUTH ||
	     f->hdr->session != w->dgram_sealed->id)) {
		/* Inside a seal: frames of the sealing session only, and no
		 * handshake (it happens in the clear, session 0). */
		drop(w, SL_DROP_seal_inner_bad);
		return;
	}
	if (unlikely(w->dp->ha != NULL) && sl_worker_ha_refused(w, f, peer))
		return; /* a pair member that is not primary serves no client */
	if (type == SL_FT_HELLO) {
		sl_worker_hello(w, f, peer);
		*sess = NULL;
		return;
	}
	if (type == SL_FT_AUTH) {
		sl_worker_auth(w, f, peer);
		*sess = NULL;
		return;
	}
	if (type != SL_FT_PUBLISH && type != SL_FT_PUBLISH_FRAG && type != SL_FT_SUBSCRIBE &&
	    type != SL_FT_UNSUBSCRIBE &&
	    type != SL_FT_RESOLVE && type != SL_FT_HEARTBEAT && type != SL_FT_GOODBYE &&
	    type != SL_FT_PSUBSCRIBE && type != SL_FT_PUNSUBSCRIBE &&
	    type != SL_FT_NAK && type != SL_FT_CREDIT && type != SL_FT_PRODUCER &&
	    !SL_FT_IS_GROUP_REQ(type)) {
		drop(w, SL_DROP_unexpected_type); /* broker-to-client types: ignore */
		return;
	}
	*sess = sl_worker_frame_session(w, f, peer, *sess);
	if (*sess == NULL)
		return;
	if (unlikely(f->hdr->version > (*sess)->version ||
		     f->hdr->version < sl_proto_frame_version(type, f->hdr->flags))) {
		/* A frame carries the version that defines it, at most the
		 * session's (PROTOCOL.md 9); detail: the version it needs. */
		drop(w, SL_DROP_bad_version);
		sl_worker_reply_error(w, peer, f->hdr->session, 0, SL_E_VERSION, type,
				      sl_proto_frame_version(type, f->hdr->flags));
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
	case SL_FT_PUBLISH_FRAG:
		handle_frag(w, m, f, peer, *sess);
		break;
	case SL_FT_RESOLVE:
		sl_worker_resolve(w, m, f, data_off, peer, *sess);
		break;
	case SL_FT_PSUBSCRIBE:
	case SL_FT_PUNSUBSCRIBE:
		/* Pattern subscriptions take no filter yet: said, not ignored. */
		if (unlikely(f->hdr->flags & SL_SUB_F_FILTER)) {
			count(w, SL_CTR_bad_headers);
			sl_worker_reply_error(w, peer, f->hdr->session,
					      ((const struct sl_resolve *)f->hdr)->req_id,
					      SL_E_BAD_HEADERS, type, 0);
			break;
		}
		handle_psub(w, m, f, data_off, peer, *sess);
		break;
	case SL_FT_NAK:
	case SL_FT_CREDIT:
		handle_flow(w, m, f, data_off);
		break;
	case SL_FT_HEARTBEAT:
		handle_heartbeat(w, f, peer);
		break;
	case SL_FT_PRODUCER:
		sl_worker_producer_request(w, m, f, data_off, peer, *sess);
		break;
	case SL_FT_GJOIN:
	case SL_FT_GCTL:
	case SL_FT_GACK:
	case SL_FT_GNAK:
		sl_worker_group_frame(w, m, f, data_off, peer, *sess);
		break;
	case SL_FT_GOODBYE:
		count(w, SL_CTR_goodbyes);
		sl_worker_session_close(w, *sess);
		*sess = NULL;
		break;
	}
}

/* The inner frames of a sealed datagram (opened in place), from @off on. */
static int
inner_frames(struct sl_worker *w, struct rte_mbuf *m, uint16_t data_off, uint32_t len,
	     const union sl_peer *peer, struct sl_session *sess)
{
	const uint8_t *data = rte_pktmbuf_mtod_offset(m, const uint8_t *, data_off);
	struct sl_frame f;
	size_t off = 0;
	int rc;

	while ((rc = sl_proto_next(data, len, &off, &f)) == 1) {
		handle_frame(w, m, &f, data_off, peer, &sess);
		/* GOODBYE, a revoked user: the seal's session is gone, and
		 * with it every later frame of the datagram. */
		if (w->dgram_sealed->id == 0)
			return 0;
		sess = w->dgram_sealed;
	}
	if (unlikely(rc < 0)) {
		drop(w, sl_drop_from_proto(rc));
		return -1;
	}
	return 0;
}

/*
 * A datagram that starts with a SEAL (PROTOCOL.md section 3): the only
 * frame of its datagram. Opened (decrypted) in place in @m, so handoffs of
 * its inner frames carry plaintext offsets as for any datagram.
 */
static int
sealed(struct sl_worker *w, struct rte_mbuf *m, uint16_t data_off, uint32_t len,
       const union sl_peer *peer)
{
	uint8_t *data = rte_pktmbuf_mtod_offset(m, uint8_t *, data_off);
	struct sl_session *s;
	struct sl_frame f;
	size_t off = 0;
	int rc;

	count(w, SL_CTR_frames);
	rc = sl_proto_next(data, len, &off, &f);
	if (unlikely(rc != 1 || f.len != len)) {
		drop(w, rc < 0 ? sl_drop_from_proto(rc) : SL_DROP_bad_length);
		return -1;
	}
	if (sl_worker_seal_open(w, data, f.len, peer, &s) < 0)
		return -1;
	w->dgram_sealed = s;
	count(w, SL_CTR_sealed_rx);
	rc = inner_frames(w, m, (uint16_t)(data_off + SL_SEAL_HDR_LEN), f.body_len, peer, s);
	w->dgram_sealed = NULL;
	return rc;
}

static int
frames_of(struct sl_worker *w, struct rte_mbuf *m, uint16_t data_off, uint32_t len,
	  const union sl_peer *peer)
{
	const uint8_t *data = rte_pktmbuf_mtod_offset(m, const uint8_t *, data_off);
	struct sl_session *sess = NULL;
	struct sl_frame f;
	size_t off = 0;
	int rc;

	w->dgram_hello = 0;
	w->dgram_error = 0;
	w->dgram_sealed = NULL;
	f.hdr = NULL;
	if (len >= sizeof(struct sl_hdr) && data[1] == SL_FT_SEAL &&
	    peer->transport == SL_TRANSPORT_UDP)
		return sealed(w, m, data_off, len, peer);
	while ((rc = sl_proto_next(data, len, &off, &f)) == 1)
		handle_frame(w, m, &f, data_off, peer, &sess);
	/* The rest of a datagram after a bad frame cannot be framed: one drop. */
	if (unlikely(rc < 0)) {
		drop(w, sl_drop_from_proto(rc));
		/* A version newer than this broker's: say so, once. */
		if (rc == -SL_PROTO_BAD_VERSION && f.hdr && f.hdr->version > SL_PROTO_VERSION &&
		    !w->dgram_error) {
			w->dgram_error = 1;
			sl_worker_reply_error(w, peer, f.hdr->session, 0, SL_E_VERSION, f.hdr->type, 0);
		}
		return -1;
	}
	return 0;
}

/*
 * The frames of one datagram, or of one batch read from a shared-memory
 * ring, at @data_off of @m (@len bytes), from @peer. Does not free @m; the
 * retransmit window's references to @m are added once, here, when they are
 * all known. Returns 0, or -1 when a frame could not be framed (the rest is
 * dropped).
 */
static int
frames(struct sl_worker *w, struct rte_mbuf *m, uint16_t data_off, uint32_t len,
       const union sl_peer *peer)
{
	int rc;

	w->retx_batch = m;
	rc = frames_of(w, m, data_off, len, peer);
	w->retx_batch = NULL;
	sl_retx_flush(w);
	return rc;
}

static void
handle_pkt(struct sl_worker *w, struct rte_mbuf *m)
{
	struct sl_port_rt *p = &w->dp->ports[w->port_idx];
	struct sl_pkt_info pi;
	union sl_peer peer;
	int rc;

	sl_ctr_add(&w->ctr.ctr[SL_CTR_rx_bytes], m->pkt_len);
	if (unlikely(m->nb_segs != 1)) { /* larger than any datagram we accept */
		drop(w, SL_DROP_udp_length);
		rte_pktmbuf_free(m);
		return;
	}
	rc = sl_vip_parse(w->dp, w->port_idx, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
			  &pi);
	if (rc == SL_PKT_UDP) {
		/* Where handoffs read the peer from again (sl_tx_peer_of); l4_len:
		 * written to the service address, which replies come from. */
		m->l2_len = 14;
		m->l3_len = (uint16_t)(pi.payload_off - 14 - 8);
		m->l4_len = pi.dst_ip != p->ip;
		peer.udp.transport = SL_TRANSPORT_UDP;
		peer.udp.version = 0;
		memcpy(peer.udp.mac, pi.src_mac, 6);
		peer.udp.ip = pi.src_ip;
		peer.udp.port = pi.src_port;
		peer.udp.port_id = (uint8_t)m->port;
		peer.udp.laddr = (uint8_t)m->l4_len;
		frames(w, m, pi.payload_off, pi.payload_len, &peer);
		rte_pktmbuf_free(m); /* handoffs and deliveries hold their own references */
		return;
	}
	if (unlikely(rc == -SL_DROP_wrong_port) && w->dp->repl && sl_repl_rx_pkt(w, m))
		return; /* the pair's replication port (repl.c) */
	if (rc == SL_PKT_ARP_REQ) {
		sl_pkt_arp_reply(rte_pktmbuf_mtod(m, uint8_t *), p->mac, pi.dst_ip);
		count(w, SL_CTR_arp_replies);
		sl_worker_tx_enqueue(w, w->port_idx, m);
		return;
	}
	drop(w, (enum sl_drop)-rc);
	rte_pktmbuf_free(m);
}

/*
 * Batches read from shared-memory rings. Records from a ring are framed by
 * the client itself: a batch that cannot be framed means a broken client,
 * which is cut off (PROTOCOL.md 14.5); the rest of its batches in this burst
 * are not handled.
 */
static void
handle_shm(struct sl_worker *w, struct rte_mbuf **pkts, const union sl_peer *peers, uint16_t n)
{
	uint32_t bad = UINT32_MAX;
	uint16_t i;

	for (i = 0; i < n; i++) {
		if (peers[i].shm.slot != bad &&
		    frames(w, pkts[i], 0, pkts[i]->pkt_len, &peers[i]) < 0) {
			sl_shm_kick(w, &peers[i].shm, SL_SHM_CUT_CORRUPT);
			bad = peers[i].shm.slot;
		}
		rte_pktmbuf_free(pkts[i]);
	}
}

/* An element another lcore handed us. */
static void
handle_handoff(struct sl_worker *w, struct sl_handoff *h)
{
	struct sl_session *s;
	union sl_peer peer;
	struct sl_sub sub;

	count(w, SL_CTR_handoff_in);
	switch (h->kind) {
	case SL_HO_PUBLISH:
		owner_publish(w, h->m, h->off, h->len, h->producer_id, h->producer_epoch);
		break;
	case SL_HO_SUBSCRIBE:
	case SL_HO_UNSUBSCRIBE:
		owner_subscribe(w, h->m, h->off, h->kind,
				SL_AUTHZ_SUB_USER(h->code, h->producer_epoch), h->version);
		break;
	case SL_HO_AUTHZ_SWEEP:
		sl_worker_authz_sweep(w, h);
		break;
	case SL_HO_NAK:
		sl_flow_nak(w, h->m, h->off);
		break;
	case SL_HO_CREDIT:
		sl_flow_credit(w, h->m, h->off);
		break;
	case SL_HO_UNSUB_ALL:
		sl_route_sub_del_session(&w->dp->route, w->idx, h->session);
		sl_worker_group_session_gone(w, h->session);
		break;
	case SL_HO_TOPIC_DELETE:
		sl_worker_topic_delete(w, h->topic);
		sl_worker_producer_topic_gone(w, h->topic);
		break;
	case SL_HO_PRODUCER_DONE:
		sl_worker_producer_done(w, h);
		break;
	case SL_HO_SHM_ATTACH:
	case SL_HO_SHM_DETACH:
		sl_shm_worker_handoff(w, h);
		break;
	case SL_HO_PSUB_ADD:
		memset(&sub, 0, sizeof(sub));
		sl_tx_peer_of(h->m, &sub.peer);
		sub.session = h->session;
		sub.credit = sl_route_state(&w->dp->route, h->topic)->dlv_seq +
			     w->dp->conf.udp_window;
		/* The main lcore claimed its slot before answering OK; h->code
		 * is the pattern's user (its key serial is not known). */
		sl_route_sub_add_claimed_user(&w->dp->route, h->topic, &sub, h->code);
		break;
	case SL_HO_PSUB_DEL:
		sl_route_sub_del(&w->dp->route, h->topic, h->session);
		break;
	case SL_HO_PSUB_DONE: {
		const struct sl_resolve *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_resolve *,
								     h->off);

		sl_tx_peer_of(h->m, &peer);
		if (sl_session_get(&w->sessions, h->session, sl_peer_addr(&peer),
				   sl_peer_port(&peer)) == NULL)
			break;
		if (h->code == SL_E_NONE)
			sl_worker_reply_ok(w, &peer, h->session, r->req_id);
		else
			sl_worker_reply_error(w, &peer, h->session, r->req_id, h->code, r->h.type,
					      h->topic); /* the topic without room, or 0 */
		break;
	}
	case SL_HO_RESOLVE_DONE: {
		const struct sl_resolve *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_resolve *,
								     h->off);

		sl_tx_peer_of(h->m, &peer);
		s = sl_session_get(&w->sessions, h->session, sl_peer_addr(&peer),
				   sl_peer_port(&peer));
		if (s == NULL)
			break; /* the session ended meanwhile: nobody to answer */
		if (h->code != SL_E_NONE) {
			drop(w, h->code == SL_E_TOPIC_TABLE_FULL ? SL_DROP_topic_table_full
								  : SL_DROP_journal_damaged);
			sl_worker_reply_error(w, &peer, h->session, r->req_id, h->code, SL_FT_RESOLVE, 0);
		} else {
			sl_worker_reply_topic(w, &peer, h->session, r->req_id, h->topic);
		}
		break;
	}
	default: /* consumer groups' kinds */
		sl_worker_group_handoff(w, h);
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
	sl_worker_producer_timers(w);
	sl_large_timers(w);
}

static void
idle(struct sl_worker *w, unsigned work)
{
	struct timespec ts;
	uint32_t us;

	if (work || w->dp->conf.idle == SL_IDLE_BUSY) {
		w->idle_polls = 0;
		sl_shm_worker_awake(w);
		rte_pause();
		return;
	}
	if (++w->idle_polls < w->dp->conf.idle_spin) {
		rte_pause();
		return;
	}
	/* Back off exponentially from 1 us to idle_max_us. */
	us = 1u << RTE_MIN((w->idle_polls - w->dp->conf.idle_spin) / 8, 20u);
	us = RTE_MIN(us, w->dp->conf.idle_max_us);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)us * 1000;
	if (sl_shm_worker_sleep(w, &ts))
		count(w, SL_CTR_idle_sleeps);
}

/* The arrays of one loop iteration: received frames, their peers, handoffs. */
struct poll_bufs {
	struct rte_mbuf *pkts[256];
	union sl_peer peers[256];
	struct sl_handoff in[256];
};

static unsigned
poll_once(struct sl_worker *w, struct poll_bufs *b)
{
	struct rte_mbuf **pkts = b->pkts;
	struct sl_handoff *in = b->in;
	struct sl_port_rt *p = &w->dp->ports[w->port_idx];
	uint16_t burst = w->dp->conf.burst, n, i;
	unsigned nin, j, total = 0, rounds = 0;

	w->now = rte_rdtsc();
	if (unlikely(w->dp->ha != NULL))
		sl_worker_ha_refresh(w); /* role, epoch, fence for this iteration */
	sl_lh_poll(w); /* the last iteration's deliveries, timed by this TSC */
	w->retx_budget = RETX_POLL_BUDGET;
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
	/* Shared-memory clients: the same frames, a burst of batches. */
	if (w->n_shm) {
		n = sl_shm_rx_burst(w, pkts, b->peers, RTE_DIM(b->pkts));
		handle_shm(w, pkts, b->peers, n);
		total += n;
	}
	nin = rte_ring_dequeue_burst_elem(w->in, in, sizeof(*in), burst, NULL);
	for (j = 0; j < nin; j++)
		handle_handoff(w, &in[j]);
	if (w->n_held)
		nin += sl_worker_held_retry(w);
	/* Replays read only what is durable. A pair member streams this
	 * iteration's records before its own persist, so that the standby's
	 * persist overlaps it. Then the sync journals are persisted once each
	 * and their messages released. */
	nin += sl_worker_replay_poll(w);
	if (w->dp->repl)
		nin += sl_repl_poll(w);
	sl_worker_commit(w);
	nin += sl_worker_group_poll(w); /* after the commit: what it made durable */
	sl_worker_stage_flush(w);
	sl_worker_durable_timers(w);
	nin += sl_flow_status_poll(w);
	nin += sl_vip_announce_poll(w);
	sl_tx_flush(w);
	timers(w);
	return total + nin;
}

unsigned
sl_worker_poll(struct sl_worker *w)
{
	struct poll_bufs b;
	unsigned work = poll_once(w, &b);

	count(w, SL_CTR_polls);
	return work;
}

int
sl_worker_main(void *arg)
{
	struct sl_worker *w = arg;
	struct poll_bufs b;
	unsigned work;

	w->next_timer = rte_rdtsc();
	/* Relaxed: the flag only needs to be seen eventually; nothing is
	 * published through it. */
	while (!__atomic_load_n(&w->dp->quit, __ATOMIC_RELAXED)) {
		work = poll_once(w, &b);
		count(w, SL_CTR_polls);
		idle(w, work);
	}
	sl_tx_flush(w);
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
	w->session_end = sl_worker_session_close;
	rc = sl_shm_peer_field_register();
	if (rc < 0)
		goto fail_w;
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
	/* The handshake's secrets, once per dataplane, before any worker
	 * runs (sl_random may make a system call; workers never do). */
	if (!dp->secrets_drawn) {
		if (sl_crypto_init() < 0) {
			rc = -EIO;
			goto fail_ring;
		}
		sl_random(dp->cookie_secret, sizeof(dp->cookie_secret));
		sl_random(dp->session_idkey, sizeof(dp->session_idkey));
		dp->aes_gcm = !dp->conf.aes_gcm_off && sl_crypto_aesgcm_available();
		SL_LOG(INFO, "seal suites: ChaCha20-Poly1305%s%s%s\n",
		       dp->aes_gcm ? ", AES-256-GCM (" : "",
		       dp->aes_gcm ? sl_crypto_aesgcm_impl() : "",
		       dp->aes_gcm ? ")" : dp->conf.aes_gcm_off ? " (aes_gcm = off)"
							  : " (no AES-NI: no AES-256-GCM)");
		dp->secrets_drawn = 1;
	}
	sl_rng_seed(&w->rng);
	rc = sl_session_table_init(&w->sessions, dp->conf.max_sessions, idx, dp->session_idkey);
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
	w->shm = rte_zmalloc_socket("sl_shm_list", SL_SHM_LISTS(dp->conf.shm_max_clients),
				    RTE_CACHE_LINE_SIZE, socket);
	if (w->held == NULL || w->shm == NULL) {
		rc = -ENOMEM;
		goto fail_held;
	}
	rc = sl_worker_durable_init(w);
	if (rc < 0)
		goto fail_held;
	w->status_max = dp->conf.max_topics / dp->n_workers + 1;
	w->status_list = rte_zmalloc_socket("sl_status", sizeof(uint32_t) * w->status_max,
					    RTE_CACHE_LINE_SIZE, socket);
	rc = w->status_list ? sl_retx_init(w) : -ENOMEM;
	if (rc < 0)
		goto fail_durable;
	rc = sl_worker_producer_init(w);
	if (rc < 0)
		goto fail_retx;
	rc = sl_large_init(w);
	if (rc < 0)
		goto fail_producer;
	dp->workers[idx] = w;
	return 0;

fail_producer:
	sl_worker_producer_fini(w);
fail_retx:
	sl_retx_fini(w);
fail_durable:
	rte_free(w->status_list);
	sl_worker_durable_fini(w);
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
	uint32_t i;

	if (w == NULL)
		return;
	/* Release the references still queued to this worker. */
	while (rte_ring_dequeue_elem(w->in, &h, sizeof(h)) == 0)
		if (h.m)
			rte_pktmbuf_free(h.m);
	sl_worker_durable_fini(w);
	for (i = 0; i < SL_TX_PEND; i++)
		if (w->pend[i].m)
			rte_pktmbuf_free(w->pend[i].m);
	sl_retx_fini(w);
	rte_free(w->status_list);
	sl_worker_producer_fini(w);
	for (; w->n_held; w->n_held--)
		rte_pktmbuf_free(w->held[w->n_held - 1].m);
	rte_free(w->held);
	rte_free(w->shm);
	for (; w->n_backlog; w->n_backlog--)
		if (w->backlog[w->n_backlog - 1].h.m)
			rte_pktmbuf_free(w->backlog[w->n_backlog - 1].h.m);
	rte_free(w->backlog);
	sl_large_fini(w); /* after every reference this worker held */
	sl_session_table_fini(&w->sessions);
	rte_ring_free(w->in);
	rte_free(w->out);
	rte_free(w);
}
