/* SPDX-License-Identifier: BSD-3-Clause */
/* Message headers at the broker (protocol version 4): the publish-side check, header filters on the topic owner, and the SKIP notices that keep a filtered subscriber's loss recovery whole. */

#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

#include <common/filter.h>
#include <common/hdrs.h>

#include "route.h"
#include "worker_internal.h"

/* A filtered subscriber learns of a skipped run at the latest when it is
 * this long: its reorder window (4,096 by default) never waits on one. */
#define SKIP_RUN_MAX 256u

uint16_t
sl_worker_hdrs_check(const struct sl_publish *p, uint8_t version)
{
	struct sl_hdrs_view v;

	if (!(p->h.flags & SL_PUB_F_HDRS))
		return SL_E_NONE;
	if (version < SL_PROTO_V4)
		return SL_E_VERSION;
	/* The parser checked hdrs_len against the frame. */
	if (sl_hdrs_parse(p + 1, p->hdrs_len, &v) < 0 || sl_hdrs_reserved(&v))
		return SL_E_BAD_HEADERS;
	return SL_E_NONE;
}

int
sl_worker_filter_pass(struct sl_worker *w, uint32_t topic, const struct sl_sub *sub,
		      const void *block, uint16_t hdrs_len)
{
	struct sl_route *r = &w->dp->route;
	struct sl_topic_state *ts = sl_route_state(r, topic);
	const struct sl_sub_filter *sf;
	struct sl_hdrs_view v;

	if (likely(ts->n_filtered == 0))
		return 1;
	sf = sl_route_sub_filter(r, topic, (uint32_t)(sub - ts->subs));
	if (sf == NULL)
		return 1;
	/* Checked when it was published (or written by the broker). */
	if (hdrs_len == 0 || sl_hdrs_parse(block, hdrs_len, &v) < 0)
		return sl_filter_match(&sf->f, NULL);
	return sl_filter_match(&sf->f, &v);
}

/* Hand over subscriber @i's untold run, if any: 1 with *@first..*@last set. */
static int
run_take(struct sl_sub_filter *sf, uint64_t *first, uint64_t *last)
{
	if (sf->skip_first == 0)
		return 0;
	*first = sf->skip_first;
	*last = sf->skip_last;
	sf->skip_first = 0;
	return 1;
}

int
sl_worker_filter_live(struct sl_worker *w, uint32_t topic, const struct sl_sub *sub,
		      const void *block, uint16_t hdrs_len, uint64_t seq, uint64_t run[2])
{
	struct sl_route *r = &w->dp->route;
	struct sl_topic_state *ts = sl_route_state(r, topic);
	struct sl_sub_filter *sf = sl_route_sub_filter(r, topic, (uint32_t)(sub - ts->subs));

	run[0] = 0;
	if (sf == NULL)
		return 1;
	if (sl_worker_filter_pass(w, topic, sub, block, hdrs_len)) {
		/* Told before the message after it, so that it never looks lost. */
		run_take(sf, &run[0], &run[1]);
		return 1;
	}
	count(w, SL_CTR_filter_skipped);
	/* A run is contiguous: anything between (sent by another path, a
	 * replay's end) closes the one before. */
	if (sf->skip_first && sf->skip_last + 1 != seq)
		run_take(sf, &run[0], &run[1]);
	if (sf->skip_first == 0)
		sf->skip_first = seq;
	sf->skip_last = seq;
	/* At most two runs to tell at once would need two slots: a full run
	 * goes at the next call instead, one message later. */
	if (run[0] == 0 && sf->skip_last - sf->skip_first + 1 >= SKIP_RUN_MAX)
		run_take(sf, &run[0], &run[1]);
	return 0;
}

int
sl_worker_skip_take(struct sl_worker *w, uint32_t topic, uint32_t i, uint64_t run[2])
{
	struct sl_sub_filter *sf = sl_route_sub_filter(&w->dp->route, topic, i);

	return sf ? run_take(sf, &run[0], &run[1]) : 0;
}

uint16_t
sl_worker_filter_check(struct sl_worker *w, const struct sl_frame *f)
{
	struct sl_filter flt;
	const uint8_t *wire;
	uint32_t len = 0;

	wire = sl_proto_filter_of(f, &len);
	if (wire == NULL || sl_filter_parse(wire, len, &flt) == 0)
		return SL_E_NONE;
	count(w, SL_CTR_bad_headers);
	return SL_E_BAD_HEADERS;
}

int
sl_worker_sub_filter_set(struct sl_worker *w, const struct sl_subscribe *s)
{
	struct sl_filter flt;

	if (!(s->h.flags & SL_SUB_F_FILTER))
		return sl_route_sub_set_filter(&w->dp->route, s->topic_id, s->h.session, NULL);
	/* Checked on arrival (sl_worker_filter_check). */
	if (sl_filter_parse(s + 1, s->h.length - sizeof(*s), &flt) < 0)
		return -EINVAL;
	return sl_route_sub_set_filter(&w->dp->route, s->topic_id, s->h.session, &flt);
}
