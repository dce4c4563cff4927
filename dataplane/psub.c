/* SPDX-License-Identifier: BSD-3-Clause */
/* Pattern (wildcard) subscriptions: kept on the main lcore, expanded to topics. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include <common/proto.h>

#include "dataplane.h"
#include "lcore_main.h"

/*
 * A pattern subscription subscribes its session to every topic that matches
 * the pattern and that the user may subscribe to, now and as topics are
 * created later. The registry lives on the main lcore, which also creates
 * topics, so matching needs no synchronisation; subscriber sets stay with
 * the topics' owners, reached through their handoff rings. ACL changes apply
 * to topics subscribed after them. A topic whose encryption policy is
 * required is never reached from an unencrypted UDP session, as its
 * SUBSCRIBE would be refused: the session gets an ERROR
 * SL_E_ENCRYPTION_REQUIRED naming it, counted encryption_required.
 */

static void topic_created(struct sl_dp *dp, uint32_t topic);

int
sl_psub_init(struct sl_dp *dp)
{
	dp->psubs = calloc(SL_PSUB_MAX, sizeof(*dp->psubs));
	if (dp->psubs == NULL)
		return -ENOMEM;
	dp->on_topic_created = topic_created;
	return 0;
}

void
sl_psub_fini(struct sl_dp *dp)
{
	unsigned i;

	dp->on_topic_created = NULL;
	if (dp->psubs == NULL)
		return;
	for (i = 0; i < SL_PSUB_MAX; i++)
		if (dp->psubs[i].used)
			rte_pktmbuf_free(dp->psubs[i].m);
	free(dp->psubs);
	dp->psubs = NULL;
}

/* Topic @id if @p matches it, NULL if not. */
static const struct sl_topic *
matches(struct sl_dp *dp, const struct sl_psub *p, uint32_t id)
{
	const struct sl_topic *t = sl_route_topic_get(&dp->route, id);

	if (t == NULL || !sl_proto_pattern_match(p->pattern, t->name, t->name_len))
		return NULL;
	return t;
}

/* Does topic @t's policy refuse @p's session, an unencrypted UDP one? */
static int
enc_refused(struct sl_dp *dp, const struct sl_psub *p, const struct sl_topic *t)
{
	/* Relaxed: written by this lcore (topic create, sluicectl update). */
	return p->clear && __atomic_load_n(&sl_route_state(&dp->route, t->id)->enc,
					   __ATOMIC_RELAXED) == SL_CNC_ENC_REQUIRED;
}

/* Topic @id if @p matches it and the user may subscribe to it, else NULL. */
static const struct sl_topic *
permitted(struct sl_dp *dp, const struct sl_psub *p, uint32_t id)
{
	const struct sl_topic *t = matches(dp, p, id);

	if (t == NULL || !(sl_authz_perms(dp->authz, p->uid, t) & SL_PERM_SUB))
		return NULL;
	return t;
}

/* Does @p reach topic @id: it matches, the user may subscribe, and the
 * topic's encryption policy takes the session? */
static const struct sl_topic *
reaches(struct sl_dp *dp, const struct sl_psub *p, uint32_t id)
{
	const struct sl_topic *t = permitted(dp, p, id);

	if (t == NULL || enc_refused(dp, p, t))
		return NULL;
	return t;
}

/* Tell @p's owner worker to subscribe (SL_HO_PSUB_ADD, a slot already
 * claimed) or unsubscribe its session at topic @t. -EAGAIN: the ring
 * stayed full (counted; an ADD's claim is given back). */
static int
tell_owner(struct sl_dp *dp, const struct sl_psub *p, const struct sl_topic *t, uint8_t kind)
{
	/* code: the user, whom the owner re-checks when rights are revoked. */
	struct sl_handoff h = { .session = p->session, .topic = t->id, .kind = kind,
				.code = p->uid };

	if (kind == SL_HO_PSUB_ADD) {
		rte_mbuf_refcnt_update(p->m, 1);
		h.m = p->m;
	}
	if (sl_dp_send_to_worker(dp, t->owner, &h) == 0)
		return 0;
	sl_ctr_add(&dp->main_ctr.drop[SL_DROP_ring_full], 1);
	if (h.m) {
		rte_pktmbuf_free(h.m);
		sl_route_sub_unclaim(&dp->route, t->id);
	}
	return -EAGAIN;
}

/* Tell @p's session, through the worker it came from, that topic @topic
 * refused it (@code): the answer to its PSUBSCRIBE, or a notice about a
 * topic created later. */
static void
tell_session(struct sl_dp *dp, const struct sl_psub *p, uint32_t topic, uint16_t code)
{
	struct sl_handoff h = { .session = p->session, .topic = topic, .off = p->off,
				.kind = SL_HO_PSUB_DONE, .src_worker = p->src_worker,
				.code = code, .m = p->m };

	rte_mbuf_refcnt_update(p->m, 1);
	if (sl_dp_send_to_worker(dp, p->src_worker, &h) < 0) {
		sl_ctr_add(&dp->main_ctr.drop[SL_DROP_ring_full], 1);
		rte_pktmbuf_free(h.m);
	}
}

/* Topic @t refuses @p's session for want of encryption: counted, and the
 * session told after its PSUBSCRIBE's answer. */
static void
tell_enc_refused(struct sl_dp *dp, const struct sl_psub *p, const struct sl_topic *t)
{
	sl_ctr_add(&dp->main_ctr.drop[SL_DROP_encryption_required], 1);
	tell_session(dp, p, t->id, SL_E_ENCRYPTION_REQUIRED);
}

/* After @p's OK: each topic it matches and may subscribe to but that
 * requires encryption it does not have. */
static void
tell_enc_refused_all(struct sl_dp *dp, const struct sl_psub *p)
{
	const struct sl_topic *t;
	uint32_t id, n = dp->route.n_topics;

	if (!p->clear)
		return;
	for (id = 1; id <= n && id < dp->route.cap; id++) {
		t = permitted(dp, p, id);
		if (t != NULL && enc_refused(dp, p, t))
			tell_enc_refused(dp, p, t);
	}
}

/*
 * Claim a subscriber slot at every topic @p reaches, so that the owners'
 * adds cannot fail after the OK. Returns 0, or the id of a topic without
 * room (every claim given back).
 */
static uint32_t
claim_all(struct sl_dp *dp, const struct sl_psub *p)
{
	uint32_t id, k, n = dp->route.n_topics;

	for (id = 1; id <= n && id < dp->route.cap; id++) {
		if (reaches(dp, p, id) == NULL || sl_route_sub_claim(&dp->route, id) == 0)
			continue;
		for (k = 1; k < id; k++)
			if (reaches(dp, p, k) != NULL)
				sl_route_sub_unclaim(&dp->route, k);
		return id;
	}
	return 0;
}

/* Send the claimed adds (or the removals) of @p to the owners: adds where
 * it reaches, removals wherever it matches (an ACL changed since must not
 * keep a subscription). Returns 0, or -EAGAIN when a ring stayed full (the
 * rest still sent). */
static int
expand_all(struct sl_dp *dp, const struct sl_psub *p, uint8_t kind)
{
	const struct sl_topic *t;
	uint32_t id, n = dp->route.n_topics;
	int rc = 0;

	for (id = 1; id <= n && id < dp->route.cap; id++) {
		t = kind == SL_HO_PSUB_ADD ? reaches(dp, p, id) : matches(dp, p, id);
		if (t != NULL && tell_owner(dp, p, t, kind) < 0)
			rc = -EAGAIN;
	}
	return rc;
}

static struct sl_psub *
find(struct sl_dp *dp, uint32_t session, const char *pattern)
{
	unsigned i;

	for (i = 0; i < SL_PSUB_MAX; i++)
		if (dp->psubs[i].used && dp->psubs[i].session == session &&
		    (pattern == NULL || strcmp(dp->psubs[i].pattern, pattern) == 0))
			return &dp->psubs[i];
	return NULL;
}

static void
drop_entry(struct sl_dp *dp, struct sl_psub *p, int unsubscribe)
{
	if (unsubscribe)
		expand_all(dp, p, SL_HO_PSUB_DEL);
	rte_pktmbuf_free(p->m);
	memset(p, 0, sizeof(*p));
}

/* Register @pattern for the session of @h. Returns the answer's code;
 * *@topic the topic that refused it, *@added the entry registered now (not
 * for a resend or a refusal). */
static uint16_t
add(struct sl_dp *dp, struct sl_handoff *h, const char *pattern, uint32_t *topic,
    struct sl_psub **added)
{
	struct sl_psub *p;
	unsigned i;

	if (!sl_proto_pattern_valid(pattern))
		return SL_E_BAD_NAME;
	if (find(dp, h->session, pattern))
		return SL_E_NONE; /* a resend */
	for (i = 0; i < SL_PSUB_MAX && dp->psubs[i].used; i++)
		;
	if (i == SL_PSUB_MAX) {
		sl_ctr_add(&dp->main_ctr.drop[SL_DROP_psub_table_full], 1);
		return SL_E_SUB_TABLE_FULL;
	}
	p = &dp->psubs[i];
	p->session = h->session;
	p->uid = h->code; /* the worker put the session's user there */
	p->clear = !!(h->flags & SL_HO_F_CLEAR);
	p->src_worker = h->src_worker;
	p->off = h->off;
	snprintf(p->pattern, sizeof(p->pattern), "%s", pattern);
	/* All or nothing, before the answer: a topic without room refuses
	 * the whole pattern, which is then not registered. */
	*topic = claim_all(dp, p);
	if (*topic != 0) {
		sl_ctr_add(&dp->main_ctr.drop[SL_DROP_sub_table_full], 1);
		memset(p, 0, sizeof(*p));
		return SL_E_SUB_TABLE_FULL;
	}
	p->used = 1;
	rte_mbuf_refcnt_update(h->m, 1); /* kept for the address headers */
	p->m = h->m;
	if (expand_all(dp, p, SL_HO_PSUB_ADD) < 0) {
		/* An owner could not be told: undo what was sent; the client
		 * resends. */
		drop_entry(dp, p, 1);
		return SL_E_BUSY;
	}
	*added = p;
	return SL_E_NONE;
}

void
sl_psub_handle(struct sl_dp *dp, struct sl_handoff *h)
{
	char pattern[SL_MAX_TOPIC_NAME + 1];
	struct sl_psub *p, *added = NULL;
	uint16_t code = SL_E_NONE;
	uint32_t topic = 0;

	if (h->kind == SL_HO_SESSION_END) {
		/* The owners dropped its subscriptions, but an add this lcore
		 * sent before may reach an owner after that: a removal behind
		 * it in the same ring takes it out again, and its slot. */
		while ((p = find(dp, h->session, NULL)) != NULL)
			drop_entry(dp, p, 1);
		return;
	}
	{
		const struct sl_resolve *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_resolve *,
								     h->off);

		/* Validated by the worker's parser: name_len fits the frame. */
		memcpy(pattern, r + 1, r->name_len);
		pattern[r->name_len] = '\0';
	}
	if (h->kind == SL_HO_PSUB) {
		code = add(dp, h, pattern, &topic, &added);
	} else {
		p = find(dp, h->session, pattern);
		/* An owner that could not be told keeps the subscription: the
		 * pattern stays too and the answer is BUSY, so that the
		 * client's resend tries again rather than hearing OK. */
		if (p && expand_all(dp, p, SL_HO_PSUB_DEL) < 0)
			code = SL_E_BUSY;
		else if (p)
			drop_entry(dp, p, 0);
	}
	h->kind = SL_HO_PSUB_DONE;
	h->code = code;
	h->topic = topic;
	if (sl_dp_send_to_worker(dp, h->src_worker, h) < 0) {
		sl_ctr_add(&dp->main_ctr.drop[SL_DROP_ring_full], 1);
		rte_pktmbuf_free(h->m);
	}
	/* Behind the OK in the same ring, so the client hears the answer
	 * first: the topics refused for want of encryption. */
	if (added != NULL)
		tell_enc_refused_all(dp, added);
}

/*
 * A topic was created: subscribe the sessions whose patterns reach it. A
 * session the topic has no room for is told with an ERROR
 * SL_E_SUB_TABLE_FULL naming the topic (the PSUBSCRIBE was answered long
 * ago); its pattern stays for other topics.
 */
static void
topic_created(struct sl_dp *dp, uint32_t topic)
{
	const struct sl_topic *t;
	struct sl_psub *p;
	unsigned i;

	for (i = 0; i < SL_PSUB_MAX; i++) {
		p = &dp->psubs[i];
		if (!p->used || (t = permitted(dp, p, topic)) == NULL)
			continue;
		if (enc_refused(dp, p, t)) {
			tell_enc_refused(dp, p, t);
			continue;
		}
		if (sl_route_sub_claim(&dp->route, topic) < 0) {
			sl_ctr_add(&dp->main_ctr.drop[SL_DROP_sub_table_full], 1);
			tell_session(dp, p, topic, SL_E_SUB_TABLE_FULL);
			continue;
		}
		tell_owner(dp, p, t, SL_HO_PSUB_ADD);
	}
}
