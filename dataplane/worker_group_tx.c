/* SPDX-License-Identifier: BSD-3-Clause */
/* Owner worker: a consumer group's dispatch loop, GDELIVER, dead letters and gap events. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <common/filter.h>
#include <common/hdrs.h>
#include <common/proto.h>

#include "group_durable.h"
#include "journal.h"
#include "large.h"
#include "retx.h"
#include "shm_worker.h"
#include "tx.h"
#include "worker_internal.h"

/*
 * docs/GROUPS.md 1.7: per poll, each group's time-driven work first (due
 * redeliveries, dead-letter decisions), then new messages from its cursor
 * while a member can take one. A message is read from the topic's
 * retransmit window, else from its journal; the worker never allocates a
 * byte for it (a dead letter takes one mbuf from the packet pool, as any
 * received frame does).
 */

#define POLL_OUT 32	    /* engine actions per group per poll */
#define OFFER_BUDGET 64	    /* new messages offered per group per poll */
#define SEND_RETRY_NS 1000000ull /* a delivery without room goes again this much later */
#define SHM_ROOM_MIN 2048u  /* ring room a shared-memory member needs to be offered one */
#define DL_ERR_TOO_LARGE 1u /* sl-last-error of a message too large for its member */
#define SL_HDR_GROUP "sl-group"

/* One message as the group sends it: its payload area (header block, then
 * payload) wherever it lies. */
struct gmsg {
	const uint8_t *area;
	uint32_t alen;
	uint16_t hdrs_len;
	uint16_t flags; /* SL_DLV_F_REPLAY when read from the journal */
	uint64_t ts;
	uint64_t rx_tsc, rx_ns; /* its receipt (window: TSC; journal: CLOCK_REALTIME), 0: unknown */
};

static inline void
gctr(struct sl_group_rec *r, unsigned i, uint64_t n)
{
	sl_ctr_add(&r->ctr[i], n);
}

uint64_t
sl_wgroup_now_ns(const struct sl_worker *w)
{
	/* The engine's clock: the loop's TSC in ns (no system call). */
	return (uint64_t)((unsigned __int128)w->now * 1000000000u / w->dp->tsc_hz);
}

/* The highest seq the group may be offered: as a NAK may name. */
uint64_t
sl_wgroup_last(struct sl_worker *w, uint32_t topic)
{
	return sl_worker_nak_bound(w, topic);
}

/* --- references on a `none` topic's unsettled messages ---------------------------- */

static inline uint32_t
ref_home(const struct sl_group_rec *r, uint64_t seq)
{
	return (uint32_t)((seq * 0x9e3779b97f4a7c15ull) >> 32) & (r->ref_cap - 1);
}

static struct sl_group_ref *
ref_find(const struct sl_group_rec *r, uint64_t seq)
{
	uint32_t i;

	if (r->refs == NULL)
		return NULL;
	for (i = ref_home(r, seq); r->refs[i].m; i = (i + 1) & (r->ref_cap - 1))
		if (r->refs[i].seq == seq)
			return &r->refs[i];
	return NULL;
}

/* Keep window slot @s (message @seq) by reference. 0, or -ENOSPC (full). */
static int
ref_take(struct sl_group_rec *r, uint64_t seq, const struct sl_retx_slot *s)
{
	uint32_t i;

	if (ref_find(r, seq))
		return 0;
	if (r->n_refs >= r->ref_limit)
		return -ENOSPC;
	for (i = ref_home(r, seq); r->refs[i].m; i = (i + 1) & (r->ref_cap - 1))
		;
	rte_mbuf_refcnt_update(s->m, 1);
	r->refs[i] = (struct sl_group_ref){ .m = s->m, .seq = seq, .off = s->off, .len = s->len };
	r->n_refs++;
	return 0;
}

/* Let go of entry @i, moving later entries of its run back (no tombstones). */
static void
ref_drop_at(struct sl_group_rec *r, uint32_t i)
{
	uint32_t mask = r->ref_cap - 1, j = i, h;

	rte_pktmbuf_free(r->refs[i].m);
	r->refs[i].m = NULL;
	r->n_refs--;
	for (;;) {
		j = (j + 1) & mask;
		if (r->refs[j].m == NULL)
			return;
		h = ref_home(r, r->refs[j].seq);
		/* It stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (h > i && h <= j) : (h > i || h <= j))
			continue;
		r->refs[i] = r->refs[j];
		r->refs[j].m = NULL;
		i = j;
	}
}

void
sl_wgroup_ref_settled(struct sl_group_rec *r, uint64_t seq)
{
	struct sl_group_ref *f = ref_find(r, seq);

	if (f)
		ref_drop_at(r, (uint32_t)(f - r->refs));
}

void
sl_wgroup_refs_clear(struct sl_group_rec *r)
{
	uint32_t i;

	for (i = 0; r->refs && i < r->ref_cap; i++)
		if (r->refs[i].m) {
			rte_pktmbuf_free(r->refs[i].m);
			r->refs[i].m = NULL;
		}
	r->n_refs = 0;
}

/* Settled without our seeing which (a cumulative ack): a few entries per
 * poll are checked against the engine. */
static void
refs_sweep(struct sl_group_rec *r)
{
	uint32_t n;

	for (n = 0; n < 64 && r->n_refs; n++) {
		uint32_t i = r->ref_sweep++ & (r->ref_cap - 1);

		if (r->refs[i].m && !sl_group_unsettled(r->g, r->refs[i].seq))
			ref_drop_at(r, i);
	}
}

/* Fill @g from the PUBLISH frame at @off of @m (@len: 0 for a large one). */
static void
msg_of(struct gmsg *g, const struct rte_mbuf *m, uint16_t off, uint16_t len)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);

	g->area = (const uint8_t *)(p + 1);
	g->alen = sl_msg_plen(m, off, len);
	g->hdrs_len = sl_proto_hdrs_len(p);
	g->ts = p->timestamp;
	g->flags = 0;
	g->rx_tsc = 0;
	g->rx_ns = 0;
}

/* Message @seq of @r's topic: the window, the group's references, else
 * the journal. 0 or -ENOENT. */
static int
msg_read(struct sl_worker *w, const struct sl_group_rec *r, uint64_t seq, struct gmsg *g)
{
	uint32_t topic = r->topic;
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, topic);
	const struct sl_retx_slot *s = sl_retx_find(w, topic, seq);
	const struct sl_group_ref *f;
	struct sl_jrec_view v;

	if (s) {
		msg_of(g, s->m, s->off, s->len);
		g->rx_tsc = s->rx_tsc;
		return 0;
	}
	if ((f = ref_find(r, seq)) != NULL) {
		msg_of(g, f->m, f->off, f->len);
		return 0;
	}
	if (ts->journal == NULL || sl_journal_read(ts->journal, seq, &v) < 0)
		return -ENOENT;
	g->area = v.data;
	g->alen = v.len;
	g->hdrs_len = v.hdrs_len;
	g->ts = v.timestamp;
	g->flags = SL_DLV_F_REPLAY;
	g->rx_tsc = 0;
	g->rx_ns = v.timestamp;
	return 0;
}

/* --- sending ---------------------------------------------------------------------- */

/* GDELIVER @o (message @g) to its member. 0, -EMSGSIZE (too large for its
 * transport), -ENOBUFS (no room now) or -ENOTCONN (the client is gone). */
static int
gdeliver(struct sl_worker *w, struct sl_group_rec *r, const struct sl_group_out *o,
	 const struct gmsg *g)
{
	const struct sl_group_msub *ms = &r->m[o->slot];
	uint16_t flags = g->flags;
	struct sl_gdeliver d;

	if (o->delivery_count > 1)
		flags |= SL_DLV_F_RETRANS;
	if (g->hdrs_len)
		flags |= SL_DLV_F_HDRS;
	sl_proto_hdr_init(&d.h, SL_FT_GDELIVER, flags, (uint32_t)sizeof(d) + g->alen, ms->session);
	d.topic_id = r->topic;
	d.hdrs_len = g->hdrs_len;
	d.reserved = 0;
	d.seq = o->seq;
	d.timestamp = g->ts;
	d.group_id = r->id;
	d.delivery_count = o->delivery_count;
	if (ms->peer.transport == SL_TRANSPORT_UDP) {
		uint8_t buf[SL_MAX_DATAGRAM];

		/* Version 4 defines no group fragments: one datagram, sealed or not. */
		if (g->alen > SL_DP_GROUP_UDP_MAX)
			return -EMSGSIZE;
		memcpy(buf, &d, sizeof(d));
		memcpy(buf + sizeof(d), g->area, g->alen);
		return sl_tx_frame(w, &ms->peer, buf, (uint32_t)sizeof(d) + g->alen);
	}
	if (sizeof(d) + g->alen > sl_shm_max_deliver(w, &ms->peer.shm))
		return -EMSGSIZE;
	return sl_shm_send(w, &ms->peer.shm, &d, sizeof(d), g->area, g->alen);
}

/* ERROR SL_E_GAP_LOST (frame type GDELIVER, @first..@last, detail the
 * group id) to every member. */
static void
gap_event(struct sl_worker *w, struct sl_group_rec *r, uint64_t first, uint64_t last)
{
	struct sl_error_gap e;
	unsigned i;

	gctr(r, SL_GX_gap_lost, last - first + 1);
	for (i = 0; i < SL_DP_GROUP_MEMBERS; i++) {
		if (r->m[i].session == 0)
			continue;
		sl_proto_hdr_init(&e.e.h, SL_FT_ERROR, 0, sizeof(e), r->m[i].session);
		e.e.req_id = 0;
		e.e.code = SL_E_GAP_LOST;
		e.e.frame_type = SL_FT_GDELIVER;
		e.e.detail = r->id;
		e.first = first;
		e.last = last;
		count(w, SL_CTR_errors_sent);
		sl_tx_frame(w, &r->m[i].peer, &e, sizeof(e));
	}
}

/* One decimal header value into @buf. */
static void
hdr_num(struct sl_header *h, const char *name, char *buf, size_t cap, uint64_t v)
{
	int n = snprintf(buf, cap, "%llu", (unsigned long long)v);

	h->name = name;
	h->value = buf;
	h->value_len = (uint16_t)n;
}

/*
 * Build the dead letter of message @g (@seq, @count deliveries, last error
 * @err) as a PUBLISH of topic @dt in a fresh mbuf: its header block is the
 * original's plus the broker's sl-* headers. NULL when it does not fit
 * (headers, block or mbuf).
 */
static struct rte_mbuf *
dl_build(struct sl_worker *w, const struct sl_group_rec *r, const struct gmsg *g, uint32_t dt,
	 uint64_t seq, uint32_t cnt, uint32_t err, uint32_t *flen)
{
	char names[SL_MAX_HDRS][SL_MAX_HDR_NAME + 1], num[4][24], tname[24];
	struct sl_header hs[SL_MAX_HDRS];
	struct sl_hdrs_view v;
	struct sl_publish *p;
	struct rte_mbuf *m;
	uint32_t plen, i, n = 0;
	size_t tl = strnlen(r->topic_name, sizeof(r->topic_name));
	uint8_t *d;
	int blen;

	memset(&v, 0, sizeof(v));
	if (g->hdrs_len && sl_hdrs_parse(g->area, g->hdrs_len, &v) < 0)
		return NULL;
	if (v.n + 5u > SL_MAX_HDRS)
		return NULL;
	for (i = 0; i < v.n; i++) {
		memcpy(names[i], v.h[i].name, v.h[i].name_len);
		names[i][v.h[i].name_len] = '\0';
		hs[n].name = names[i];
		hs[n].value = v.h[i].value;
		hs[n++].value_len = v.h[i].value_len;
	}
	hdr_num(&hs[n++], SL_HDR_DELIVERY_COUNT, num[0], sizeof(num[0]), cnt);
	hdr_num(&hs[n++], SL_HDR_LAST_ERROR, num[1], sizeof(num[1]), err);
	hs[n].name = SL_HDR_TOPIC;
	if (tl <= SL_MAX_HDR_VALUE) {
		hs[n].value = r->topic_name;
		hs[n++].value_len = (uint16_t)tl;
	} else { /* a name longer than a header value: its id, as "#ID" */
		hs[n].value = tname;
		hs[n++].value_len = (uint16_t)snprintf(tname, sizeof(tname), "#%u", r->topic);
	}
	hdr_num(&hs[n++], SL_HDR_SEQ, num[2], sizeof(num[2]), seq);
	hs[n].name = SL_HDR_GROUP;
	hs[n].value = r->name;
	hs[n++].value_len = (uint16_t)strnlen(r->name, sizeof(r->name));
	m = rte_pktmbuf_alloc(w->dp->pkt_pool);
	if (m == NULL)
		return NULL;
	plen = g->alen - g->hdrs_len;
	d = rte_pktmbuf_mtod(m, uint8_t *);
	blen = sl_hdrs_build(d + sizeof(*p), rte_pktmbuf_tailroom(m) - sizeof(*p), v.key,
			     v.key_len, hs, n);
	if (blen < 0 || sizeof(*p) + (uint32_t)blen + plen > rte_pktmbuf_tailroom(m)) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(d + sizeof(*p) + blen, g->area + g->hdrs_len, plen);
	*flen = (uint32_t)sizeof(*p) + (uint32_t)blen + plen;
	p = (struct sl_publish *)d;
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, SL_PUB_F_HDRS, *flen, 0);
	p->topic_id = dt;
	p->hdrs_len = (uint16_t)blen;
	p->reserved = 0;
	p->producer_seq = 0;
	p->timestamp = g->ts;
	rte_pktmbuf_append(m, (uint16_t)*flen);
	/* Nobody to answer: a refusal (journal full) goes to a peer no client
	 * has (a shared-memory slot that does not exist). */
	m->port = SL_SHM_PORT;
	{
		union sl_peer *pe = RTE_MBUF_DYNFIELD(m, sl_shm_peer_field, union sl_peer *);

		memset(pe, 0, sizeof(*pe));
		pe->shm.transport = SL_TRANSPORT_SHM;
		pe->shm.slot = UINT32_MAX;
	}
	return m;
}

/* Publish message @seq (@g: NULL when it could not be read) to the
 * group's dead-letter topic, through that topic's owner; then it is settled. */
static void
dead_letter(struct sl_worker *w, struct sl_group_rec *r, uint64_t seq, const struct gmsg *g,
	    uint32_t cnt, uint32_t err)
{
	const char *name = r->spec.dead_letter;
	uint32_t dt = name[0] ? sl_route_topic_lookup(&w->dp->route, name,
						      (uint32_t)strnlen(name, SL_CNC_NAME_LEN))
			      : 0;
	const struct sl_topic *t = sl_route_topic_get(&w->dp->route, dt);
	struct sl_handoff h;
	struct rte_mbuf *m;
	uint32_t flen;

	m = t && g ? dl_build(w, r, g, dt, seq, cnt, err, &flen) : NULL;
	if (m == NULL) {
		gctr(r, SL_GX_dead_dropped, 1);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.m = m; /* the handoff takes this reference */
	h.off = 0;
	h.len = (uint16_t)flen;
	h.topic = dt;
	h.kind = SL_HO_PUBLISH;
	h.src_worker = (uint8_t)w->idx;
	/* Its owner, this worker included, takes it as any publish. */
	sl_worker_stage(w, t->owner, &h);
}

/* A message the chosen member cannot take at all (too large for UDP): it
 * goes to the dead-letter topic at once and is settled. */
static void
too_large(struct sl_worker *w, struct sl_group_rec *r, const struct sl_group_out *o,
	  const struct gmsg *g)
{
	gctr(r, SL_GX_too_large, 1);
	dead_letter(w, r, o->seq, g, o->delivery_count, DL_ERR_TOO_LARGE);
	sl_group_drop(r->g, o->slot, o->seq); /* settled, not acknowledged */
	sl_wgroup_ref_settled(r, o->seq);
}

/* Send what the engine said (@o: a delivery); handle what went wrong. */
static void
send_out(struct sl_worker *w, struct sl_group_rec *r, const struct sl_group_out *o,
	 const struct gmsg *g, uint64_t now)
{
	int rc = gdeliver(w, r, o, g);

	if (likely(rc == 0)) {
		count(w, SL_CTR_delivers);
		if (o->delivery_count > 1)
			sl_lh_lag(w, r->topic, g->rx_tsc, g->rx_ns); /* a redelivery */
		return;
	}
	if (rc == -EMSGSIZE) {
		too_large(w, r, o, g);
		return;
	}
	gctr(r, SL_GX_send_failed, 1);
	if (rc == -ENOTCONN) {
		/* The client went away: its session's end follows; until then
		 * the member is lost (its grace applies). */
		sl_group_member_lost(r->g, o->slot, now);
		r->m[o->slot].session = 0;
		return;
	}
	/* No room: it goes again shortly (a NAK without error). */
	sl_group_nak(r->g, o->slot, o->seq, SEND_RETRY_NS, 0, now);
}

/* The engine's actions: deliveries and dead-letter decisions. */
static unsigned
poll_actions(struct sl_worker *w, struct sl_group_rec *r, uint64_t now)
{
	struct sl_group_out out[POLL_OUT];
	struct gmsg g;
	unsigned n = sl_group_poll(r->g, now, out, POLL_OUT), i;

	for (i = 0; i < n; i++) {
		int have = msg_read(w, r, out[i].seq, &g) == 0;

		r->changes++;
		if (out[i].action == SL_GROUP_ACT_DEAD_LETTER) {
			dead_letter(w, r, out[i].seq, have ? &g : NULL, out[i].delivery_count,
				    out[i].last_error);
			sl_group_dead_settled(r->g, out[i].seq);
			sl_wgroup_ref_settled(r, out[i].seq);
			continue;
		}
		if (!have) {
			/* Not readable any more (a reference could not be kept): lost, said. */
			gap_event(w, r, out[i].seq, out[i].seq);
			sl_group_drop(r->g, out[i].slot, out[i].seq);
			continue;
		}
		send_out(w, r, &out[i], &g, now);
	}
	return n;
}

/* The cursor's message is not there: move past what can no longer be read. */
static void
cursor_gap(struct sl_worker *w, struct sl_group_rec *r)
{
	struct sl_topic_state *ts = sl_route_state(&w->dp->route, r->topic);
	uint64_t lo = ts->journal ? sl_journal_first_seq(ts->journal) : ts->retx_lo;
	uint64_t next = r->cursor < lo ? lo : r->cursor + 1;

	gap_event(w, r, r->cursor, next - 1);
	__atomic_store_n(&r->cursor, next, __ATOMIC_RELAXED);
}

/* Shared-memory members whose ring is nearly full take nothing new until
 * it drains (a GDELIVER the ring refuses would cost a delivery). */
static void
flow_check(struct sl_worker *w, struct sl_group_rec *r)
{
	unsigned i;

	for (i = 0; i < SL_DP_GROUP_MEMBERS; i++) {
		struct sl_group_msub *ms = &r->m[i];
		int room;

		if (ms->session == 0 || ms->peer.transport != SL_TRANSPORT_SHM)
			continue;
		room = sl_tx_room(w, &ms->peer, SHM_ROOM_MIN);
		if (!room && !ms->flow_paused) {
			ms->flow_paused = 1;
			sl_group_pause(r->g, i);
		} else if (room && ms->flow_paused) {
			ms->flow_paused = 0;
			if (!ms->user_paused)
				sl_group_resume(r->g, i);
		}
	}
}

/* The packet pool is low (an eighth left): references would starve receive. */
static int
pool_low(struct sl_worker *w)
{
	const struct rte_mempool *mp = w->dp->pkt_pool;

	return rte_mempool_avail_count(mp) < mp->size / 8;
}

/* New messages from the cursor, while a member can take one. */
static unsigned
offer_new(struct sl_worker *w, struct sl_group_rec *r, uint64_t now)
{
	uint64_t last = sl_wgroup_last(w, r->topic);
	unsigned n = 0;
	struct sl_group_out o;
	struct sl_hdrs_view v;
	struct gmsg g;
	int rc;

	if (r->refs && r->cursor <= last && (r->n_refs >= r->ref_limit || pool_low(w)))
		return 0; /* no room to keep more: wait for settles */
	while (r->cursor <= last && n < OFFER_BUDGET && sl_group_can_take(r->g) &&
	       (r->refs == NULL || r->n_refs < r->ref_limit)) {
		uint64_t kh = SL_GROUP_NO_KEY;
		int parsed = 0;

		n++;
		if (msg_read(w, r, r->cursor, &g) < 0) {
			cursor_gap(w, r);
			continue;
		}
		if (g.hdrs_len && (r->has_filter || r->key_affinity))
			parsed = sl_hdrs_parse(g.area, g.hdrs_len, &v) == 0;
		if (r->has_filter && !sl_filter_match(&r->filter, parsed ? &v : NULL)) {
			/* Skipped: the group's position moves past it. */
			gctr(r, SL_GX_filter_skipped, 1);
			__atomic_store_n(&r->cursor, r->cursor + 1, __ATOMIC_RELAXED);
			continue;
		}
		if (parsed && v.key_len)
			kh = sl_group_key_hash(v.key, v.key_len);
		rc = sl_group_offer(r->g, r->cursor, kh, now, &o);
		if (rc < 0 && rc != -EEXIST)
			break; /* back-pressure: offered again after an ack or a poll */
		if (r->refs && rc >= 0) {
			const struct sl_retx_slot *s = sl_retx_find(w, r->topic, r->cursor);

			/* Past the window it is read from this reference. */
			if (s)
				ref_take(r, r->cursor, s);
		}
		__atomic_store_n(&r->cursor, r->cursor + 1, __ATOMIC_RELAXED);
		r->changes++;
		if (rc == 1)
			send_out(w, r, &o, &g, now);
	}
	return n;
}

unsigned
sl_wgroup_dispatch(struct sl_worker *w, struct sl_group_rec *r, uint64_t now)
{
	unsigned n;

	if (r->cursor == 0) /* new: from the topic's next message */
		__atomic_store_n(&r->cursor, sl_wgroup_last(w, r->topic) + 1, __ATOMIC_RELAXED);
	flow_check(w, r);
	if (r->refs)
		refs_sweep(r);
	n = poll_actions(w, r, now);
	return n + offer_new(w, r, now);
}
