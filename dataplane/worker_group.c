/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer groups on the workers: group frames to the owner, joins, acks, member loss, revocation, reset, the group list. */

#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/filter.h>
#include <common/proto.h>

#include "group_durable_dp.h"
#include "journal.h"
#include "tx.h"
#include "worker_internal.h"

/*
 * A group frame arrives at its session's home worker, which checks what it
 * can (topic, group id, filter) and hands it to the owner of the group's
 * topic (SL_HO_GJOIN, SL_HO_GFRAME), as NAK and CREDIT go. The owner keeps
 * the group (struct sl_group_rec, its engine and its members' addresses),
 * answers, and drives its dispatch (worker_group_tx.c). PROTOCOL.md 19.
 */

static inline void
gctr(struct sl_group_rec *r, unsigned i, uint64_t n)
{
	sl_ctr_add(&r->ctr[i], n);
}

/* This owner's group @id, or NULL. */
static struct sl_group_rec *
owned(struct sl_worker *w, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < w->n_grp; i++)
		if (w->grp[i]->id == id && w->grp[i]->live)
			return w->grp[i];
	return NULL;
}

/* This owner's group @name of @topic, or NULL. */
static struct sl_group_rec *
owned_by_name(struct sl_worker *w, uint32_t topic, const char *name)
{
	uint32_t i;

	for (i = 0; i < w->n_grp; i++) {
		struct sl_group_rec *r = w->grp[i];

		if (r->live && r->topic == topic &&
		    strncmp(r->name, name, SL_CNC_GROUP_NAME_LEN) == 0)
			return r;
	}
	return NULL;
}

/* The member slot of @session in @r, or -1. */
static int
member_of(const struct sl_group_rec *r, uint32_t session)
{
	unsigned i;

	for (i = 0; i < SL_DP_GROUP_MEMBERS; i++)
		if (r->m[i].session == session)
			return (int)i;
	return -1;
}

/* --- the home worker: checks, then the owner ---------------------------------- */

void
sl_worker_group_frame(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
		      uint16_t data_off, const union sl_peer *peer, struct sl_session *sess)
{
	const struct sl_hdr *hd = f->hdr;
	const struct sl_topic *t;
	struct sl_handoff h;
	uint32_t req_id = 0, detail;

	if (hd->type == SL_FT_GJOIN) {
		const struct sl_gjoin *j = (const struct sl_gjoin *)hd;

		req_id = j->req_id;
		detail = j->topic_id;
		t = sl_route_topic_get(&w->dp->route, j->topic_id);
		if (t == NULL) {
			drop(w, SL_DROP_unknown_topic);
			sl_worker_reply_error(w, peer, hd->session, req_id, SL_E_UNKNOWN_TOPIC,
					      hd->type, detail);
			return;
		}
		if (unlikely(sl_worker_filter_check(w, f) != SL_E_NONE)) {
			sl_worker_reply_error(w, peer, hd->session, req_id, SL_E_BAD_HEADERS,
					      hd->type, detail);
			return;
		}
		if (unlikely(sl_worker_enc_refused(w, t, peer, sess))) {
			sl_worker_reply_error(w, peer, hd->session, req_id,
					      SL_E_ENCRYPTION_REQUIRED, hd->type, detail);
			return;
		}
	} else {
		/* The group id is the first field of GCTL, GACK and GNAK alike. */
		uint32_t gid = ((const struct sl_gctl *)hd)->group_id;
		uint32_t topic = 0;

		if (hd->type == SL_FT_GCTL)
			req_id = ((const struct sl_gctl *)hd)->req_id;
		detail = gid;
		/* Acquire: pairs with the main lcore's release once the group is whole. */
		if (w->dp->groups && gid && gid < SL_DP_MAX_GROUPS)
			topic = __atomic_load_n(&w->dp->groups->topic_of[gid], __ATOMIC_ACQUIRE);
		t = sl_route_topic_get(&w->dp->route, topic);
	}
	if (t == NULL || w->dp->groups == NULL) {
		count(w, SL_CTR_no_group);
		sl_worker_reply_error(w, peer, hd->session, req_id, SL_E_NO_GROUP, hd->type, detail);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.m = m;
	h.session = hd->session;
	h.off = (uint16_t)(data_off + f->off);
	h.len = (uint16_t)f->len;
	h.topic = t->id;
	h.kind = hd->type == SL_FT_GJOIN ? SL_HO_GJOIN : SL_HO_GFRAME;
	h.src_worker = (uint8_t)w->idx;
	h.code = sess->uid;
	h.producer_epoch = sess->user_epoch;
	h.version = sess->version;
	if (t->owner == w->idx) {
		sl_worker_group_handoff(w, &h); /* m stays the caller's */
		return;
	}
	rte_mbuf_refcnt_update(m, 1);
	sl_worker_stage(w, t->owner, &h);
}

/* --- the owner: frames ------------------------------------------------------------ */

static void
reply_group(struct sl_worker *w, const struct sl_group_rec *r, const union sl_peer *peer,
	    uint32_t session, const struct sl_gjoin *j, uint32_t granted)
{
	struct sl_group_reply g;

	memset(&g, 0, sizeof(g));
	sl_proto_hdr_init(&g.h, SL_FT_GROUP, 0, sizeof(g), session);
	g.group_id = r->id;
	g.policy = (uint16_t)sl_group_config(r->g)->policy;
	g.ack_wait_ms = r->spec.ack_wait_ms;
	g.max_deliveries = r->spec.max_deliveries;
	g.grace_ms = r->spec.grace_ms;
	g.credit = granted;
	g.member_id = j->member_id;
	g.req_id = j->req_id;
	sl_tx_frame(w, peer, &g, sizeof(g));
}

/* The group's filter rule (PROTOCOL.md 19): the first member sets it, later
 * ones carry the same bytes or none. SL_E_NONE or SL_E_BAD_HEADERS. */
static uint16_t
join_filter(struct sl_group_rec *r, const struct sl_gjoin *j)
{
	const uint8_t *fb = (const uint8_t *)(j + 1);
	uint32_t flen = j->h.length - (uint32_t)sizeof(*j);
	struct sl_group_stats st;
	struct sl_filter tmp;

	sl_group_stats_get(r->g, &st);
	if (!(j->flags & SL_GJOIN_F_FILTER)) {
		if (st.members == 0)
			r->has_filter = 0; /* the first member's choice: none */
		return SL_E_NONE;
	}
	if (sl_filter_parse(fb, flen, &tmp) < 0)
		return SL_E_BAD_HEADERS;
	if (st.members == 0) {
		r->filter = tmp;
		r->has_filter = 1;
		return SL_E_NONE;
	}
	if (r->has_filter && r->filter.len == tmp.len && memcmp(r->filter.bytes, tmp.bytes,
								 tmp.len) == 0)
		return SL_E_NONE;
	return SL_E_BAD_HEADERS;
}

static void
owner_gjoin(struct sl_worker *w, const struct sl_handoff *h)
{
	const struct sl_gjoin *j = rte_pktmbuf_mtod_offset(h->m, const struct sl_gjoin *, h->off);
	const struct sl_topic *t = sl_route_topic_get(&w->dp->route, j->topic_id);
	struct sl_group_rec *r = t ? owned_by_name(w, t->id, j->group) : NULL;
	uint64_t now = sl_wgroup_now_ns(w);
	uint32_t slot = 0, granted = 0;
	struct sl_group_msub *ms;
	union sl_peer peer;
	uint16_t code;
	int rc, old;

	sl_tx_peer_of(h->m, &peer);
	sl_peer_set_version(&peer, h->version);
	if (r == NULL) {
		count(w, SL_CTR_no_group);
		sl_worker_reply_error(w, &peer, h->session, j->req_id,
				      t ? SL_E_NO_GROUP : SL_E_UNKNOWN_TOPIC, SL_FT_GJOIN, j->topic_id);
		return;
	}
	if (!sl_authz_may_consume(sl_dp_authz(w->dp), h->code, t->name, t->name_len, r->name)) {
		drop(w, SL_DROP_denied);
		sl_worker_reply_error(w, &peer, h->session, j->req_id, SL_E_DENIED, SL_FT_GJOIN,
				      j->topic_id);
		return;
	}
	old = member_of(r, h->session);
	if (old >= 0 && sl_group_member(r->g, (uint32_t)old)->member_id != j->member_id) {
		/* One member per session and group: GACK names no member. */
		sl_worker_reply_error(w, &peer, h->session, j->req_id, SL_E_GROUP_FULL,
				      SL_FT_GJOIN, j->topic_id);
		return;
	}
	code = join_filter(r, j);
	if (code != SL_E_NONE) {
		count(w, SL_CTR_bad_headers);
		sl_worker_reply_error(w, &peer, h->session, j->req_id, code, SL_FT_GJOIN,
				      j->topic_id);
		return;
	}
	rc = sl_group_join(r->g, j->member_id, h->session, j->credit,
			   (j->flags & SL_GJOIN_F_PULL) ? SL_GROUP_F_PULL : 0, now, &slot, &granted);
	if (rc < 0) {
		sl_worker_reply_error(w, &peer, h->session, j->req_id,
				      rc == -ENOSPC ? SL_E_GROUP_FULL : SL_E_BAD_FRAME, SL_FT_GJOIN,
				      j->topic_id);
		return;
	}
	ms = &r->m[slot];
	if (rc == 0 || ms->session != h->session) {
		/* New, or taken over by a new session: a fresh address. */
		if (rc == 0)
			ms->nacked = 0;
		ms->user_paused = ms->flow_paused = 0;
		if (rc == 1 && sl_group_member(r->g, slot)->state == SL_GROUP_M_PAUSED)
			sl_group_resume(r->g, slot);
	}
	ms->peer = peer;
	ms->session = h->session;
	ms->user = SL_AUTHZ_SUB_USER(h->code, h->producer_epoch);
	ms->home = h->src_worker;
	ms->version = h->version;
	r->changes++;
	reply_group(w, r, &peer, h->session, j, granted);
}

static void
owner_gctl(struct sl_worker *w, struct sl_group_rec *r, int slot, const struct sl_gctl *c,
	   const union sl_peer *peer, uint64_t now)
{
	int rc = 0;

	if (slot < 0) {
		/* Leaving a group one is not in is done already. */
		if (c->op == SL_GCTL_LEAVE)
			sl_worker_reply_ok(w, peer, c->h.session, c->req_id);
		else
			sl_worker_reply_error(w, peer, c->h.session, c->req_id, SL_E_NO_GROUP,
					      SL_FT_GCTL, c->group_id);
		return;
	}
	switch (c->op) {
	case SL_GCTL_LEAVE:
		rc = sl_group_leave(r->g, (uint32_t)slot, now);
		memset(&r->m[slot], 0, sizeof(r->m[slot]));
		r->changes++;
		break;
	case SL_GCTL_PAUSE:
		r->m[slot].user_paused = 1;
		rc = sl_group_pause(r->g, (uint32_t)slot);
		break;
	case SL_GCTL_RESUME:
		r->m[slot].user_paused = 0;
		rc = r->m[slot].flow_paused ? 0 : sl_group_resume(r->g, (uint32_t)slot);
		break;
	case SL_GCTL_FETCH:
		rc = sl_group_fetch(r->g, (uint32_t)slot, c->n);
		break;
	default:
		rc = -EINVAL;
	}
	if (rc < 0)
		sl_worker_reply_error(w, peer, c->h.session, c->req_id, SL_E_BAD_FRAME, SL_FT_GCTL,
				      c->group_id);
	else
		sl_worker_reply_ok(w, peer, c->h.session, c->req_id);
}

/* A sequence the member does not hold: counted, and the first of a frame
 * answered. GACK and GNAK carry no request id: the ERROR's req_id names
 * the group (@gid), so a client in several groups knows which. */
static void
not_held(struct sl_worker *w, const union sl_peer *peer, uint32_t session, uint8_t type,
	 uint32_t gid, uint64_t seq, int *told)
{
	if (*told)
		return;
	*told = 1;
	sl_worker_reply_error(w, peer, session, gid, SL_E_NOT_HELD, type, seq);
}

static void
owner_gack(struct sl_worker *w, struct sl_group_rec *r, int slot, const struct sl_gack *a,
	   const union sl_peer *peer, uint64_t now)
{
	const uint64_t *seqs = (const uint64_t *)(a + 1);
	int told = 0, rc;
	uint16_t i;

	if (slot < 0) {
		/* Not a member: nothing it names is held (the engine would say so). */
		gctr(r, SL_GX_ack_not_member, a->n);
		not_held(w, peer, a->h.session, SL_FT_GACK, a->group_id, a->n ? seqs[0] : 0, &told);
		return;
	}
	if (a->flags & SL_GACK_F_CUMULATIVE) {
		if (sl_group_ack_upto(r->g, (uint32_t)slot, seqs[0], now) < 0)
			not_held(w, peer, a->h.session, SL_FT_GACK, a->group_id, seqs[0], &told);
		r->changes++;
		return;
	}
	for (i = 0; i < a->n; i++) {
		rc = sl_group_ack(r->g, (uint32_t)slot, seqs[i], now);
		if (rc < 0)
			not_held(w, peer, a->h.session, SL_FT_GACK, a->group_id, seqs[i], &told);
		else
			sl_wgroup_ref_settled(r, seqs[i]);
	}
	r->changes++;
}

static void
owner_gnak(struct sl_worker *w, struct sl_group_rec *r, int slot, const struct sl_gnak *n,
	   const union sl_peer *peer, uint64_t now)
{
	int told = 0;

	if (slot < 0) {
		gctr(r, SL_GX_ack_not_member, 1);
		not_held(w, peer, n->h.session, SL_FT_GNAK, n->group_id, n->seq, &told);
		return;
	}
	if (sl_group_nak(r->g, (uint32_t)slot, n->seq, (uint64_t)n->delay_ms * 1000000ull,
			 n->error, now) < 0) {
		not_held(w, peer, n->h.session, SL_FT_GNAK, n->group_id, n->seq, &told);
		return;
	}
	sl_ctr_add(&r->m[slot].nacked, 1);
	r->changes++;
}

static void
owner_gframe(struct sl_worker *w, const struct sl_handoff *h)
{
	const struct sl_hdr *hd = rte_pktmbuf_mtod_offset(h->m, const struct sl_hdr *, h->off);
	uint32_t gid = ((const struct sl_gctl *)hd)->group_id;
	struct sl_group_rec *r = owned(w, gid);
	uint64_t now = sl_wgroup_now_ns(w);
	union sl_peer peer;
	int slot;

	sl_tx_peer_of(h->m, &peer);
	sl_peer_set_version(&peer, h->version);
	if (r == NULL) {
		/* Deleted meanwhile. */
		count(w, SL_CTR_no_group);
		sl_worker_reply_error(w, &peer, h->session,
				      hd->type == SL_FT_GCTL ? ((const struct sl_gctl *)hd)->req_id : 0,
				      SL_E_NO_GROUP, hd->type, gid);
		return;
	}
	slot = member_of(r, h->session);
	if (hd->type == SL_FT_GCTL)
		owner_gctl(w, r, slot, (const struct sl_gctl *)hd, &peer, now);
	else if (hd->type == SL_FT_GACK)
		owner_gack(w, r, slot, (const struct sl_gack *)hd, &peer, now);
	else if (hd->type == SL_FT_GNAK)
		owner_gnak(w, r, slot, (const struct sl_gnak *)hd, &peer, now);
}

/* --- the owner: the group's life ------------------------------------------------ */

static void
group_add(struct sl_worker *w, uint32_t id)
{
	struct sl_group_rec *r = w->dp->groups ? w->dp->groups->rec[id] : NULL;

	if (r == NULL || w->n_grp == SL_DP_MAX_GROUPS)
		return;
	r->key_affinity = sl_group_config(r->g)->policy == SL_GROUP_KEY_AFFINITY;
	sl_wgroup_dur_start(w, r);
	r->live = 1;
	w->grp[w->n_grp++] = r;
}

/* Staged settings from the main lcore (SL_HO_GROUP_UPDATE, or a poll's look). */
static void
group_update(struct sl_group_rec *r)
{
	/* Acquire: pairs with the main lcore's release of the staged settings. */
	uint32_t gen = __atomic_load_n(&r->spec_gen, __ATOMIC_ACQUIRE);

	if (gen == r->spec_applied)
		return;
	r->spec.ack_wait_ms = r->spec_next.ack_wait_ms;
	r->spec.max_deliveries = r->spec_next.max_deliveries;
	r->spec.grace_ms = r->spec_next.grace_ms;
	memcpy(r->spec.dead_letter, r->spec_next.dead_letter, sizeof(r->spec.dead_letter));
	sl_group_set_timing(r->g, (uint64_t)r->spec.ack_wait_ms * 1000000ull,
			    r->spec.max_deliveries, (uint64_t)r->spec.grace_ms * 1000000ull);
	/* Release: the main lcore may stage the next change once it sees this. */
	__atomic_store_n(&r->spec_applied, gen, __ATOMIC_RELEASE);
}

/* Tell the main lcore the group is let go of; 0, or -1 to retry later. */
static int
give_back(struct sl_worker *w, struct sl_group_rec *r)
{
	struct sl_handoff h = { .kind = SL_HO_GROUP_GONE, .topic = r->id,
				.src_worker = (uint8_t)w->idx };

	return rte_ring_enqueue_elem(w->dp->slow, &h, sizeof(h)) == 0 ? 0 : -1;
}

static void
group_del(struct sl_worker *w, uint32_t id)
{
	struct sl_group_rec *r = owned(w, id);
	unsigned i;

	if (r == NULL)
		return;
	for (i = 0; i < SL_DP_GROUP_MEMBERS; i++)
		if (r->m[i].session)
			sl_worker_reply_error(w, &r->m[i].peer, r->m[i].session, 0, SL_E_NO_GROUP,
					      SL_FT_GJOIN, r->id);
	sl_wgroup_refs_clear(r);
	r->live = 0;
	r->give_back = 1;
}

/* Drop groups let go of from the list once the main lcore heard of it. */
static void
list_sweep(struct sl_worker *w)
{
	uint32_t i, keep = 0;

	for (i = 0; i < w->n_grp; i++) {
		struct sl_group_rec *r = w->grp[i];

		if (r->give_back && give_back(w, r) == 0)
			continue; /* the main lcore frees it: never touched again */
		w->grp[keep++] = r;
	}
	w->n_grp = keep;
}

void
sl_worker_group_reset(struct sl_worker *w, struct sl_group_rec *r, uint32_t how, uint64_t arg)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, r->topic);
	struct sl_group_member keep[SL_DP_GROUP_MEMBERS];
	struct sl_group_msub ms[SL_DP_GROUP_MEMBERS];
	struct sl_group_cfg cfg = *sl_group_config(r->g);
	uint64_t last = sl_wgroup_last(w, r->topic), now = sl_wgroup_now_ns(w), cur;
	uint32_t i, slot;

	if (how == SL_CNC_RESET_EARLIEST)
		cur = ts->journal ? sl_journal_first_seq(ts->journal) : RTE_MAX(ts->retx_lo, 1ull);
	else if (how == SL_CNC_RESET_SEQ)
		cur = arg;
	else if (how == SL_CNC_RESET_TIME && ts->journal)
		cur = sl_journal_seek_time(ts->journal, arg);
	else
		cur = last + 1;
	/* The unsettled set goes: the engine is made afresh in its own
	 * memory and the members join again, keeping their state. */
	gctr(r, SL_GX_reset_dropped, sl_group_unacked_count(r->g));
	sl_wgroup_refs_clear(r);
	for (i = 0; i < SL_DP_GROUP_MEMBERS; i++)
		keep[i] = *sl_group_member(r->g, i);
	memcpy(ms, r->m, sizeof(ms));
	memset(r->m, 0, sizeof(r->m));
	if (sl_group_init(&r->g, &cfg, r->mem, r->mem_len) < 0)
		return; /* the same settings and memory it was made with: cannot fail */
	for (i = 0; i < SL_DP_GROUP_MEMBERS; i++) {
		if (keep[i].state == SL_GROUP_M_FREE ||
		    sl_group_join(r->g, keep[i].member_id, keep[i].session, keep[i].credit,
				  keep[i].flags, now, &slot, NULL) < 0)
			continue;
		r->m[slot] = ms[i];
		if (keep[i].state == SL_GROUP_M_PAUSED)
			sl_group_pause(r->g, slot);
		else if (keep[i].state == SL_GROUP_M_DISCONNECTED)
			sl_group_member_lost(r->g, slot, now);
	}
	__atomic_store_n(&r->cursor, cur, __ATOMIC_RELAXED);
	r->changes++;
	sl_wgroup_dur_snap(r, now, 1);
}

void
sl_worker_group_handoff(struct sl_worker *w, const struct sl_handoff *h)
{
	struct sl_group_rec *r;

	switch (h->kind) {
	case SL_HO_GJOIN:
		owner_gjoin(w, h);
		break;
	case SL_HO_GFRAME:
		owner_gframe(w, h);
		break;
	case SL_HO_GROUP_ADD:
		group_add(w, h->topic);
		break;
	case SL_HO_GROUP_UPDATE:
		r = owned(w, h->topic);
		if (r)
			group_update(r);
		break;
	case SL_HO_GROUP_DEL:
		group_del(w, h->topic);
		break;
	case SL_HO_GROUP_RESET:
		r = owned(w, h->topic);
		if (r)
			sl_worker_group_reset(w, r, h->code, h->producer_id);
		break;
	default:
		break;
	}
}

unsigned
sl_worker_group_poll(struct sl_worker *w)
{
	uint64_t now;
	unsigned n = 0;
	uint32_t i;

	if (w->n_grp == 0)
		return 0;
	now = sl_wgroup_now_ns(w);
	for (i = 0; i < w->n_grp; i++) {
		struct sl_group_rec *r = w->grp[i];

		if (!r->live)
			continue;
		group_update(r);
		n += sl_wgroup_dispatch(w, r, now);
		sl_wgroup_dur_snap(r, now, 0);
	}
	list_sweep(w);
	return n;
}

/* --- members that go away ------------------------------------------------------- */

void
sl_worker_group_session_gone(struct sl_worker *w, uint32_t session)
{
	uint64_t now;
	uint32_t i;
	int slot;

	if (w->n_grp == 0)
		return;
	now = sl_wgroup_now_ns(w);
	for (i = 0; i < w->n_grp; i++) {
		struct sl_group_rec *r = w->grp[i];

		if (!r->live || (slot = member_of(r, session)) < 0)
			continue;
		/* Its grace applies: a rejoin with its member id takes its
		 * messages back. */
		sl_group_member_lost(r->g, (uint32_t)slot, now);
		r->m[slot].session = 0;
		r->changes++;
	}
}

/* May the member whose session is of @user (SL_AUTHZ_SUB_USER) stay in @r? */
static int
may_stay(struct sl_worker *w, const struct sl_authz *a, const struct sl_group_rec *r,
	 uint32_t user)
{
	uint16_t uid = SL_AUTHZ_SUB_UID(user), serial = SL_AUTHZ_SUB_SERIAL(user);
	const struct sl_topic *t = sl_route_topic_get(&w->dp->route, r->topic);

	if (!a->required)
		return 1;
	if (t == NULL || uid == 0 || uid >= SL_CNC_MAX_USERS ||
	    !sl_authz_user_holds(&a->users[uid], serial))
		return 0;
	return sl_authz_may_consume(a, uid, t->name, t->name_len, r->name);
}

void
sl_worker_group_sweep(struct sl_worker *w, const struct sl_authz *a)
{
	uint64_t now;
	uint32_t i, s;

	if (w->n_grp == 0)
		return;
	now = sl_wgroup_now_ns(w);
	for (i = 0; i < w->n_grp; i++) {
		struct sl_group_rec *r = w->grp[i];

		if (!r->live)
			continue;
		for (s = 0; s < SL_DP_GROUP_MEMBERS; s++) {
			struct sl_group_msub *ms = &r->m[s];

			if (ms->session == 0 || may_stay(w, a, r, ms->user))
				continue;
			/* At once, no grace: its messages go to the others. */
			sl_worker_reply_error(w, &ms->peer, ms->session, 0, SL_E_DENIED, SL_FT_GJOIN,
					      r->id);
			sl_group_leave(r->g, s, now);
			memset(ms, 0, sizeof(*ms));
			r->changes++;
			count(w, SL_CTR_subs_revoked); /* a membership is a subscription */
		}
	}
}
