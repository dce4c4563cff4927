/* SPDX-License-Identifier: BSD-3-Clause */
/* Reassembly of PUBLISH_FRAG per session at the rx worker, its limits and errors, and the seam that sends one stored message to one peer. */

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <common/hdrs.h>
#include <common/proto.h>

#include "dataplane.h"
#include "large.h"
#include "shm_worker.h"
#include "tx.h"
#include "worker_internal.h"

/* One message in reassembly. */
struct reasm {
	struct rte_mbuf *m;	/* its buffer's handle; NULL: the slot is free */
	uint8_t *data;		/* where the payload goes */
	uint32_t session, topic;
	uint32_t msg_len, have; /* bytes in all, bytes received */
	uint64_t producer_seq, timestamp;
	uint64_t started;	/* TSC of its first piece */
	union sl_peer peer;
	uint16_t flags;		/* of the pieces (SL_PUB_F_ACK_REQ) */
	uint8_t version;
	uint64_t *map;		/* one bit per byte received, after the payload */
};

/* A message refused or completed lately: its stray pieces are dropped. */
struct recent {
	uint32_t session, topic;
	uint64_t producer_seq;
	uint64_t until; /* TSC */
};

struct sl_large_table {
	uint32_t n_used;
	uint32_t last;		/* slot of the last piece: the next is likely the same */
	uint32_t recent_next;
	struct recent recent[SL_LARGE_RECENT];
	struct reasm slot[SL_LARGE_SLOTS];
};

/* --- the bytes received of one message ------------------------------------------------ */

/*
 * Mark bytes [lo, hi) received in @map (one bit per byte of the message).
 * Returns how many were new: 0 for a duplicate piece. A bit per byte keeps
 * any order and any piece boundaries exact, whatever size the sender chose
 * for its pieces; the map lives in the message's own arena buffer.
 */
static uint32_t
bits_set(uint64_t *map, uint32_t lo, uint32_t hi)
{
	uint32_t i, n = 0;

	for (i = lo / 64; i <= (hi - 1) / 64; i++) {
		uint32_t a = i * 64 > lo ? 0 : lo - i * 64;
		uint32_t b = (i + 1) * 64 < hi ? 64 : hi - i * 64;
		uint64_t mask = (b == 64 ? ~0ull : (1ull << b) - 1) & ~((1ull << a) - 1);

		n += (uint32_t)__builtin_popcountll(mask & ~map[i]);
		map[i] |= mask;
	}
	return n;
}

/* Bytes of the received-bytes map of a @msg_len-byte message. */
static uint32_t
map_bytes(uint32_t msg_len)
{
	return (msg_len + 63) / 64 * 8;
}

/* --- limits ------------------------------------------------------------------------- */

uint32_t
sl_large_topic_max(const struct sl_dp *dp, uint32_t topic)
{
	const struct sl_topic_state *ts = sl_route_state(&dp->route, topic);
	/* Relaxed: set by the main lcore at creation and respec, a word read
	 * whole; a publish racing a change may see either limit. */
	uint32_t max = __atomic_load_n(&ts->max_message, __ATOMIC_RELAXED);

	return max ? max : dp->conf.max_message;
}

static int
recent_find(struct sl_worker *w, struct sl_large_table *t, uint32_t session, uint32_t topic,
	    uint64_t producer_seq)
{
	uint32_t i;

	for (i = 0; i < SL_LARGE_RECENT; i++) {
		const struct recent *e = &t->recent[i];

		if (e->until > w->now && e->session == session && e->topic == topic &&
		    e->producer_seq == producer_seq)
			return 1;
	}
	return 0;
}

/* Remember a message for @ms: refused ones for reassembly_ms (their pieces
 * keep coming for as long as a whole message may take), completed ones for
 * SL_LARGE_RECENT_MS (a stray duplicate piece). */
static void
recent_add(struct sl_worker *w, struct sl_large_table *t, uint32_t session, uint32_t topic,
	   uint64_t producer_seq, uint32_t ms)
{
	struct recent *e = &t->recent[t->recent_next++ % SL_LARGE_RECENT];

	e->session = session;
	e->topic = topic;
	e->producer_seq = producer_seq;
	e->until = w->now + w->dp->tsc_hz * ms / 1000;
}

/* Refuse the message of piece @g: one ERROR, counted, and its next pieces
 * dropped quietly. */
static void
refuse(struct sl_worker *w, const struct sl_publish_frag *g, const union sl_peer *peer,
       uint16_t code, enum sl_drop why)
{
	drop(w, why);
	recent_add(w, w->large->tab, g->h.session, g->topic_id, g->producer_seq,
		   w->dp->conf.reassembly_ms);
	sl_worker_reply_error(w, peer, g->h.session, 0, code, SL_FT_PUBLISH_FRAG, g->producer_seq);
}

static uint64_t
session_bytes(const struct sl_large_table *t, uint32_t session)
{
	uint64_t sum = 0;
	uint32_t i, seen = 0;

	for (i = 0; i < SL_LARGE_SLOTS && seen < t->n_used; i++) {
		if (t->slot[i].m == NULL)
			continue;
		seen++;
		if (t->slot[i].session == session)
			sum += t->slot[i].msg_len;
	}
	return sum;
}

static void
slot_free(struct sl_large_table *t, struct reasm *r)
{
	if (r->m)
		rte_pktmbuf_free(r->m);
	r->m = NULL;
	t->n_used--;
}

/* --- reassembly -------------------------------------------------------------------- */

static struct reasm *
slot_find(struct sl_large_table *t, uint32_t session, uint32_t topic, uint64_t producer_seq)
{
	struct reasm *r = &t->slot[t->last];
	uint32_t i, seen = 0;

	if (r->m && r->session == session && r->topic == topic && r->producer_seq == producer_seq)
		return r;
	for (i = 0; i < SL_LARGE_SLOTS && seen < t->n_used; i++) {
		r = &t->slot[i];
		if (r->m == NULL)
			continue;
		seen++;
		if (r->session == session && r->topic == topic && r->producer_seq == producer_seq) {
			t->last = i;
			return r;
		}
	}
	return NULL;
}

/*
 * The first piece of a message: check the topic, the right to publish, the
 * size and the budgets, then take a buffer. The datagram's headers are
 * copied in front of the PUBLISH frame, so that the message's peer is
 * found as a datagram's is. Returns the slot or NULL (refused, answered).
 */
static struct reasm *
slot_open(struct sl_worker *w, struct rte_mbuf *pkt, const struct sl_publish_frag *g,
	  const union sl_peer *peer, const struct sl_session *s)
{
	struct sl_large_table *t = w->large->tab;
	const struct sl_topic *topic = sl_route_topic_get(&w->dp->route, g->topic_id);
	uint32_t i, hdrs = 0;
	struct rte_mbuf *m;
	struct reasm *r;

	if (topic == NULL) {
		drop(w, SL_DROP_unknown_topic);
		recent_add(w, t, g->h.session, g->topic_id, g->producer_seq,
			   w->dp->conf.reassembly_ms);
		sl_worker_reply_error(w, peer, g->h.session, 0, SL_E_UNKNOWN_TOPIC,
				      SL_FT_PUBLISH_FRAG, g->producer_seq);
		return NULL;
	}
	if (!(sl_authz_perms(sl_dp_authz(w->dp), s->uid, topic) & SL_PERM_PUB)) {
		refuse(w, g, peer, SL_E_DENIED, SL_DROP_denied);
		return NULL;
	}
	if (g->msg_len > sl_large_topic_max(w->dp, g->topic_id)) {
		refuse(w, g, peer, SL_E_TOO_BIG, SL_DROP_frag_too_big);
		return NULL;
	}
	if (t->n_used == SL_LARGE_SLOTS ||
	    session_bytes(t, g->h.session) + g->msg_len > w->dp->conf.reassembly_session_bytes) {
		refuse(w, g, peer, SL_E_INCOMPLETE, SL_DROP_frag_no_budget);
		return NULL;
	}
	if (peer->transport == SL_TRANSPORT_UDP)
		hdrs = (uint32_t)pkt->l2_len + pkt->l3_len + 8;
	m = hdrs <= SL_LARGE_HEADROOM
		? sl_large_buf_alloc(&w->large->arena, (uint32_t)sizeof(struct sl_publish) +
					     RTE_ALIGN_CEIL(g->msg_len, 8) + map_bytes(g->msg_len))
		: NULL;
	if (m == NULL) {
		refuse(w, g, peer, SL_E_INCOMPLETE, SL_DROP_frag_no_budget);
		return NULL;
	}
	m->data_off = (uint16_t)(m->data_off - hdrs);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_mtod(pkt, const uint8_t *), hdrs);
	m->l2_len = pkt->l2_len;
	m->l3_len = pkt->l3_len;
	m->l4_len = pkt->l4_len; /* the address written to (handle_pkt) */
	m->port = pkt->port;
	if (peer->transport == SL_TRANSPORT_SHM)
		*RTE_MBUF_DYNFIELD(m, sl_shm_peer_field, union sl_peer *) = *peer;
	sl_large_buf_set_len(m, hdrs + (uint32_t)sizeof(struct sl_publish) + g->msg_len);
	for (i = 0; t->slot[i].m; i++)
		;
	r = &t->slot[i];
	r->m = m;
	r->data = rte_pktmbuf_mtod_offset(m, uint8_t *, hdrs + sizeof(struct sl_publish));
	r->session = g->h.session;
	r->topic = g->topic_id;
	r->msg_len = g->msg_len;
	r->have = 0;
	r->producer_seq = g->producer_seq;
	r->timestamp = g->timestamp;
	r->started = w->now;
	r->peer = *peer;
	r->flags = g->h.flags;
	r->version = g->h.version;
	r->map = (uint64_t *)(void *)(r->data + RTE_ALIGN_CEIL(g->msg_len, 8));
	memset(r->map, 0, map_bytes(g->msg_len));
	t->n_used++;
	t->last = i;
	return r;
}

/* The last piece came: write the PUBLISH header in front of the payload and
 * give the message out. */
static struct rte_mbuf *
complete(struct sl_worker *w, struct sl_large_table *t, struct reasm *r, uint16_t *off)
{
	struct sl_publish *p = (struct sl_publish *)(void *)(r->data - sizeof(*p));
	struct rte_mbuf *m = r->m;

	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, r->flags, (uint32_t)sizeof(*p) + r->msg_len,
			  r->session);
	p->h.version = r->version;
	p->topic_id = r->topic;
	p->hdrs_len = 0;
	p->reserved = 0;
	if (r->flags & SL_PUB_F_HDRS) {
		/* v4: the block opens the message and says its own length;
		 * one that does not gets 1, which admission refuses. */
		int hl = sl_hdrs_block_len(r->data, r->msg_len);

		p->hdrs_len = (uint16_t)(hl < 0 ? 1 : hl);
	}
	p->producer_seq = r->producer_seq;
	p->timestamp = r->timestamp;
	*off = (uint16_t)((uint8_t *)p - rte_pktmbuf_mtod(m, uint8_t *));
	recent_add(w, t, r->session, r->topic, r->producer_seq, SL_LARGE_RECENT_MS);
	r->m = NULL; /* the reference goes to the caller */
	t->n_used--;
	count(w, SL_CTR_large_messages);
	return m;
}

struct rte_mbuf *
sl_large_frag(struct sl_worker *w, struct rte_mbuf *pkt, const struct sl_frame *f,
	      const union sl_peer *peer, const struct sl_session *s,
	      uint16_t *off)
{
	const struct sl_publish_frag *g = (const struct sl_publish_frag *)f->hdr;
	struct sl_large_table *t = w->large->tab;
	struct reasm *r;
	uint32_t added;

	count(w, SL_CTR_frags_received);
	r = slot_find(t, g->h.session, g->topic_id, g->producer_seq);
	if (r == NULL) {
		if (recent_find(w, t, g->h.session, g->topic_id, g->producer_seq)) {
			drop(w, SL_DROP_frag_refused);
			return NULL;
		}
		r = slot_open(w, pkt, g, peer, s);
		if (r == NULL)
			return NULL;
	}
	/* Every piece repeats the message's fields: one that disagrees is
	 * not a piece of this message. */
	if (unlikely(g->msg_len != r->msg_len)) {
		drop(w, SL_DROP_bad_field);
		return NULL;
	}
	added = bits_set(r->map, g->frag_off, g->frag_off + g->frag_len);
	if (added == 0) {
		count(w, SL_CTR_frag_dups);
		return NULL;
	}
	memcpy(r->data + g->frag_off, f->body, g->frag_len);
	r->have += added;
	if (r->have < r->msg_len)
		return NULL;
	return complete(w, t, r, off);
}

int
sl_large_publish_check(struct sl_worker *w, const struct sl_topic *t, const struct sl_frame *f,
		       const union sl_peer *peer)
{
	const struct sl_publish *p = (const struct sl_publish *)f->hdr;

	if (f->body_len <= sl_large_topic_max(w->dp, t->id))
		return 0;
	drop(w, SL_DROP_frag_too_big);
	sl_worker_reply_error(w, peer, p->h.session, 0, SL_E_TOO_BIG, SL_FT_PUBLISH,
			      p->producer_seq);
	return -1;
}

void
sl_large_timers(struct sl_worker *w)
{
	struct sl_large_table *t = w->large->tab;
	uint64_t limit = w->dp->tsc_hz * w->dp->conf.reassembly_ms / 1000;
	uint32_t i, seen = 0, n = t->n_used;

	sl_large_arena_reclaim(&w->large->arena);
	for (i = 0; i < SL_LARGE_SLOTS && seen < n; i++) {
		struct reasm *r = &t->slot[i];

		if (r->m == NULL)
			continue;
		seen++;
		if (w->now - r->started < limit)
			continue;
		drop(w, SL_DROP_frag_timeout);
		/* Only a session still there is told. */
		if (sl_session_get(&w->sessions, r->session, sl_peer_addr(&r->peer),
				   sl_peer_port(&r->peer)))
			sl_worker_reply_error(w, &r->peer, r->session, 0, SL_E_INCOMPLETE,
					      SL_FT_PUBLISH_FRAG, r->producer_seq);
		recent_add(w, t, r->session, r->topic, r->producer_seq, SL_LARGE_RECENT_MS);
		slot_free(t, r);
	}
}

/* --- the seam for one stored message ------------------------------------------------- */

int
sl_tx_deliver_msg(struct sl_worker *w, const union sl_peer *peer, uint32_t session,
		  uint16_t flags, uint64_t seq, struct rte_mbuf *m, uint16_t off, uint16_t len)
{
	const struct sl_publish *p = rte_pktmbuf_mtod_offset(m, const struct sl_publish *, off);
	struct sl_deliver dl;
	uint32_t skip;

	skip = sl_worker_deliver_hdr_v(w, &dl, flags, session, p->topic_id,
				       sl_msg_plen(m, off, len), sl_proto_hdrs_len(p), seq,
				       p->timestamp, sl_peer_version(peer));
	return sl_tx_deliver(w, peer, &dl, m, (uint16_t)(off + sizeof(*p) + skip));
}

/* --- setup ------------------------------------------------------------------------------ */

int
sl_large_init(struct sl_worker *w)
{
	struct sl_large *l;
	int rc;

	l = rte_zmalloc("sl_large", sizeof(*l), RTE_CACHE_LINE_SIZE);
	if (l == NULL)
		return -ENOMEM;
	l->tab = rte_zmalloc("sl_large_tab", sizeof(*l->tab), RTE_CACHE_LINE_SIZE);
	if (l->tab == NULL) {
		rte_free(l);
		return -ENOMEM;
	}
	rc = sl_large_arena_init(&l->arena, w->dp->conf.reassembly_bytes,
				 (int)rte_socket_id(), w->idx, w->dp->pkt_pool);
	if (rc < 0) {
		rte_free(l->tab);
		rte_free(l);
		return rc;
	}
	w->large = l;
	return 0;
}

void
sl_large_fini(struct sl_worker *w)
{
	struct sl_large *l = w->large;
	uint32_t i;

	if (l == NULL)
		return;
	for (i = 0; i < SL_LARGE_SLOTS; i++)
		if (l->tab->slot[i].m)
			slot_free(l->tab, &l->tab->slot[i]);
	/* A buffer still referenced elsewhere (another worker not yet
	 * stopped) would come back to a freed ring: the arena then stays. */
	sl_large_arena_reclaim(&l->arena);
	if (l->arena.free_units == l->arena.n_units)
		sl_large_arena_fini(&l->arena);
	rte_free(l->tab);
	rte_free(l);
	w->large = NULL;
}
