/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of RESOLVE: a name answered with its id (a partitioned name with its
 * partition map), or handed to the main lcore to be created; an id answered with its
 * name. */

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/proto.h>

#include "authz.h"
#include "topic_moved.h"
#include "tx.h"
#include "worker_internal.h"

/*
 * A partitioned topic is a name of its own in the topic table (durability
 * none, state.parts = N, no messages) and N ordinary topics NAME#0 ..
 * NAME#N-1, created by control before it (PROTOCOL.md 7.4). The map is
 * looked up here, by name, at each RESOLVE: partitions are ordinary topics
 * whose ids a restart may change, and a RESOLVE is no hot path (a few hash
 * lookups, no allocation, no formatting library).
 */
static void
resolve_parts(struct sl_worker *w, const union sl_peer *peer, const struct sl_resolve *r,
	      const char *name, uint32_t id, uint16_t n)
{
	uint64_t f[(sizeof(struct sl_topic_parts) + 4 * SL_MAX_PARTITIONS) / 8];
	uint32_t ids[SL_MAX_PARTITIONS];
	char pname[SL_MAX_TOPIC_NAME + 1];
	int len;
	uint32_t i;

	/* An old client would take the name's own id for a topic and hear
	 * nothing: it is told instead. */
	if (!(r->flags & SL_RESOLVE_F_PARTS)) {
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_PARTITIONED,
				      SL_FT_RESOLVE, n);
		return;
	}
	for (i = 0; i < n && i < SL_MAX_PARTITIONS; i++) {
		len = sl_proto_part_name(pname, sizeof(pname), name, r->name_len, i);
		ids[i] = len < 0 ? 0 : sl_route_topic_lookup(&w->dp->route, pname, (uint32_t)len);
		if (ids[i] == 0) {
			/* Control creates the partitions first and deletes
			 * them last: one missing is being deleted. */
			drop(w, SL_DROP_unknown_topic);
			sl_worker_reply_error(w, peer, r->h.session, r->req_id,
					      SL_E_UNKNOWN_TOPIC, SL_FT_RESOLVE, 0);
			return;
		}
	}
	len = sl_proto_put_topic_parts(f, sizeof(f), r->h.session, r->req_id, id, ids, i);
	if (len > 0)
		sl_tx_frame(w, peer, f, (uint32_t)len);
}

static void
resolve_answer(struct sl_worker *w, const union sl_peer *peer,
			 const struct sl_resolve *r, const char *name, uint32_t id)
{
	/* Written before the topic was published; never changed. */
	uint16_t n = sl_route_state(&w->dp->route, id)->parts;

	if (unlikely(sl_worker_moved(w, id, peer, r->h.session, r->req_id, SL_FT_RESOLVE, 0)))
		return; /* another pair owns it now */
	if (likely(n == 0))
		sl_worker_reply_topic(w, peer, r->h.session, r->req_id, id);
	else
		resolve_parts(w, peer, r, name, id, n);
}

/*
 * RESOLVE with SL_RESOLVE_F_NAME: the name field holds a topic id in
 * decimal, answered with the topic's name (PROTOCOL.md 5.4). A pattern
 * subscription delivers topics the client never resolved; this is how it
 * learns their names. A user learns only names it has some right on.
 */
static void
resolve_name(struct sl_worker *w, const union sl_peer *peer, const struct sl_resolve *r,
	     const struct sl_frame *f, const struct sl_session *sess)
{
	uint64_t buf[(sizeof(struct sl_topic_name) + SL_MAX_TOPIC_NAME + 7) / 8];
	uint32_t id = sl_proto_topic_id_parse((const char *)f->body, f->body_len);
	const struct sl_topic *t = sl_route_topic_get(&w->dp->route, id);
	int len;

	if (id == 0) {
		drop(w, SL_DROP_bad_field);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_BAD_NAME,
				      SL_FT_RESOLVE, 0);
		return;
	}
	if (t == NULL) {
		drop(w, SL_DROP_unknown_topic);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_UNKNOWN_TOPIC,
				      SL_FT_RESOLVE, id);
		return;
	}
	if (!sl_authz_perms(sl_dp_authz(w->dp), sess->uid, t)) {
		drop(w, SL_DROP_denied);
		sl_worker_reply_error(w, peer, r->h.session, r->req_id, SL_E_DENIED,
				      SL_FT_RESOLVE, id);
		return;
	}
	len = sl_proto_put_topic_name(buf, sizeof(buf), r->h.session, r->req_id, id, t->name,
				      t->name_len);
	if (len > 0)
		sl_tx_frame(w, peer, buf, (uint32_t)len);
}

void
sl_worker_resolve(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
		  uint16_t data_off, const union sl_peer *peer, const struct sl_session *sess)
{
	const struct sl_resolve *r = (const struct sl_resolve *)f->hdr;
	struct sl_handoff h;
	uint32_t id;

	count(w, SL_CTR_resolves);
	if (r->flags & SL_RESOLVE_F_NAME) {
		resolve_name(w, peer, r, f, sess);
		return;
	}
	id = sl_route_topic_lookup(&w->dp->route, (const char *)f->body, f->body_len);
	if (id) {
		resolve_answer(w, peer, r, (const char *)f->body, id);
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
