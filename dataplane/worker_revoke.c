/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of revocation: subscribers and sessions re-checked against a new authorization table; a moved topic's subscribers told. */

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/proto.h>

#include "topic_moved.h"
#include "worker_internal.h"

/*
 * Control changed users or ACLs: the main lcore published the new table
 * and then asks every worker, in two rounds (SL_HO_AUTHZ_SWEEP, code =
 * round), to bring what already exists in line with it:
 *   round 1, as topic owner: each subscriber whose user no longer holds
 *     the key its session proved, or whose right to subscribe is gone,
 *     gets an ERROR (SL_E_AUTH_FAILED or SL_E_DENIED, frame type
 *     SUBSCRIBE, detail the topic id, its SUBSCRIBE's req_id) and its
 *     subscription ends: no DELIVER reaches it after this;
 *   round 2, as home of sessions: each session whose user is gone or
 *     re-keyed (or anonymous while authentication is required) ends.
 * Subscriptions go first so that each gets its error from the owner, which
 * knows its address; a session's end would otherwise remove them silently.
 * Each round is acknowledged (SL_HO_AUTHZ_SWEPT) once its handoffs are in
 * the other workers' rings; the main lcore answers control's command only
 * after both rounds, so "done" means enforced.
 */

uint16_t
sl_worker_sub_verdict(const struct sl_authz *a, uint32_t user, const struct sl_topic *t)
{
	uint16_t uid = SL_AUTHZ_SUB_UID(user), serial = SL_AUTHZ_SUB_SERIAL(user);

	if (!a->required)
		return SL_E_NONE;
	if (uid == 0 || uid >= SL_CNC_MAX_USERS)
		return SL_E_AUTH_REQUIRED;
	/* Serial 0: a subscription made for a pattern (the main lcore knows
	 * the user, not the key); the session's own end covers a re-key. */
	if (!a->users[uid].active || (serial != 0 && !sl_authz_user_holds(&a->users[uid], serial)))
		return SL_E_AUTH_FAILED;
	if (!(sl_authz_perms(a, uid, t) & SL_PERM_SUB))
		return SL_E_DENIED;
	return SL_E_NONE;
}

/* Scale-out: a topic moved to another pair (its mark set before the
 * sweep, which control's TOPIC_UPDATE starts): each subscriber is told
 * SL_E_MOVED (frame type SUBSCRIBE, detail the topic id, its SUBSCRIBE's
 * req_id) and its subscription ends. Returns true for a moved topic. */
static bool
sweep_moved(struct sl_worker *w, uint32_t id, struct sl_topic_state *ts)
{
	uint32_t i;

	if (!__atomic_load_n(&ts->moved, __ATOMIC_ACQUIRE))
		return false;
	for (i = ts->n_subs; i-- > 0;) {
		struct sl_sub sub = ts->subs[i];

		sl_worker_moved(w, id, &sub.peer, sub.session, sub.req_id, SL_FT_SUBSCRIBE, id);
		sl_route_sub_del(&w->dp->route, id, sub.session);
	}
	return true;
}

/* Round 1: the subscribers of the topics this worker owns. */
static void
sweep_subscribers(struct sl_worker *w, const struct sl_authz *a)
{
	struct sl_route *r = &w->dp->route;
	uint32_t n = __atomic_load_n(&r->n_topics, __ATOMIC_ACQUIRE), id, i;

	for (id = w->idx ? w->idx : r->n_workers; id <= n && id < r->cap; id += r->n_workers) {
		const struct sl_topic *t = sl_route_topic_get(r, id);
		struct sl_topic_state *ts = sl_route_state(r, id);

		if (t == NULL || t->owner != w->idx)
			continue;
		if (unlikely(sweep_moved(w, id, ts)))
			continue;
		/* Backwards: a removal moves the last subscriber into its place. */
		for (i = ts->n_subs; i-- > 0;) {
			struct sl_sub sub = ts->subs[i];
			uint16_t code = sl_worker_sub_verdict(a, ts->sub_user[i], t);

			if (code == SL_E_NONE)
				continue;
			sl_worker_reply_error(w, &sub.peer, sub.session, sub.req_id, code,
					      SL_FT_SUBSCRIBE, id);
			sl_route_sub_del(r, id, sub.session);
			count(w, SL_CTR_subs_revoked);
		}
	}
}

/* Round 2: the sessions of this worker. */
static void
sweep_sessions(struct sl_worker *w, const struct sl_authz *a)
{
	struct sl_session_table *tab = &w->sessions;
	uint32_t i;

	for (i = 0; i < tab->cap; i++) {
		struct sl_session *s = &tab->s[i];
		uint16_t code;

		if (s->id == 0)
			continue;
		if (s->auth == SL_SESSION_AUTH_OK && !sl_authz_user_holds(&a->users[s->uid],
									  s->user_epoch))
			code = SL_E_AUTH_FAILED;
		else if (s->auth == SL_SESSION_AUTH_NONE && a->required)
			code = SL_E_AUTH_REQUIRED;
		else
			continue;
		/* A shared-memory client's address is all of its peer; a UDP
		 * client's MAC is known to its subscriptions, which round 1
		 * told, and its next frame is answered SL_E_NO_SESSION. */
		if (s->transport == SL_TRANSPORT_SHM) {
			union sl_peer peer = sl_peer_shm(s->ip, s->udp_port);

			sl_worker_reply_error(w, &peer, s->id, 0, code, SL_FT_AUTH, 0);
		}
		sl_worker_session_close(w, s);
		count(w, SL_CTR_sessions_revoked);
	}
}

void
sl_worker_authz_sweep(struct sl_worker *w, const struct sl_handoff *h)
{
	const struct sl_authz *a = sl_dp_authz(w->dp);
	struct sl_handoff ack = { .kind = SL_HO_AUTHZ_SWEPT, .topic = h->topic, .code = h->code,
				  .src_worker = (uint8_t)w->idx };

	if (h->session == 0) {
		/* The first time this round is seen: do it (a retry, below,
		 * only waits for the handoffs it made to leave). */
		if (h->code == 1) {
			sweep_subscribers(w, a);
			sl_worker_group_sweep(w, a);
		}
		else
			sweep_sessions(w, a);
	}
	sl_worker_stage_flush(w);
	/* The acknowledgement must not overtake the session ends it covers:
	 * while some wait in the backlog, look again at the next poll. */
	if (w->n_backlog == 0 &&
	    rte_ring_enqueue_elem(w->dp->slow, &ack, sizeof(ack)) == 0)
		return;
	ack = *h;
	ack.session = 1; /* done, only the acknowledgement is owed */
	if (rte_ring_enqueue_elem(w->in, &ack, sizeof(ack)) != 0)
		drop(w, SL_DROP_slow_path_full); /* the main lcore's wait warns */
}
