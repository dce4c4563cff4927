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
 * to topics subscribed after them.
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

/* Subscribe @p's session to topic @id at its owner, if allowed. */
static void
expand(struct sl_dp *dp, const struct sl_psub *p, uint32_t id, uint8_t kind)
{
	const struct sl_topic *t = sl_route_topic_get(&dp->route, id);
	/* code: the user, whom the owner re-checks when rights are revoked. */
	struct sl_handoff h = { .session = p->session, .topic = id, .kind = kind, .code = p->uid };

	if (t == NULL || !sl_proto_pattern_match(p->pattern, t->name, t->name_len))
		return;
	if (kind == SL_HO_PSUB_ADD) {
		if (!(sl_authz_perms(dp->authz, p->uid, t) & SL_PERM_SUB))
			return;
		rte_mbuf_refcnt_update(p->m, 1);
		h.m = p->m;
	}
	if (sl_dp_send_to_worker(dp, t->owner, &h) < 0) {
		sl_ctr_add(&dp->main_ctr.drop[SL_DROP_ring_full], 1);
		if (h.m)
			rte_pktmbuf_free(h.m);
	}
}

static void
expand_all(struct sl_dp *dp, const struct sl_psub *p, uint8_t kind)
{
	uint32_t id, n = dp->route.n_topics;

	for (id = 1; id <= n && id < dp->route.cap; id++)
		expand(dp, p, id, kind);
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

static uint16_t
add(struct sl_dp *dp, struct sl_handoff *h, const char *pattern)
{
	struct sl_psub *p;
	unsigned i;

	if (!sl_proto_pattern_valid(pattern))
		return SL_E_BAD_NAME;
	if (find(dp, h->session, pattern))
		return SL_E_NONE; /* a resend */
	for (i = 0; i < SL_PSUB_MAX && dp->psubs[i].used; i++)
		;
	if (i == SL_PSUB_MAX)
		return SL_E_SUB_TABLE_FULL;
	p = &dp->psubs[i];
	p->used = 1;
	p->session = h->session;
	p->uid = h->code; /* the worker put the session's user there */
	p->src_worker = h->src_worker;
	snprintf(p->pattern, sizeof(p->pattern), "%s", pattern);
	rte_mbuf_refcnt_update(h->m, 1); /* kept for the address headers */
	p->m = h->m;
	expand_all(dp, p, SL_HO_PSUB_ADD);
	return SL_E_NONE;
}

void
sl_psub_handle(struct sl_dp *dp, struct sl_handoff *h)
{
	char pattern[SL_MAX_TOPIC_NAME + 1];
	struct sl_psub *p;
	uint16_t code = SL_E_NONE;

	if (h->kind == SL_HO_SESSION_END) {
		while ((p = find(dp, h->session, NULL)) != NULL)
			drop_entry(dp, p, 0); /* owners already dropped its subscriptions */
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
		code = add(dp, h, pattern);
	} else {
		p = find(dp, h->session, pattern);
		if (p)
			drop_entry(dp, p, 1);
	}
	h->kind = SL_HO_PSUB_DONE;
	h->code = code;
	if (sl_dp_send_to_worker(dp, h->src_worker, h) < 0) {
		sl_ctr_add(&dp->main_ctr.drop[SL_DROP_ring_full], 1);
		rte_pktmbuf_free(h->m);
	}
}

/* A topic was created: subscribe the sessions whose patterns match it. */
static void
topic_created(struct sl_dp *dp, uint32_t topic)
{
	unsigned i;

	for (i = 0; i < SL_PSUB_MAX; i++)
		if (dp->psubs[i].used)
			expand(dp, &dp->psubs[i], topic, SL_HO_PSUB_ADD);
}
