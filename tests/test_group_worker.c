/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Consumer groups on a real worker (one-worker harness): control creates a
 * group, members join with GJOIN over UDP and shared memory, the owner
 * dispatches GDELIVERs, takes GACK/GNAK, redelivers after ack-wait, a NAK
 * or a member's loss, dead-letters after max-deliveries, refuses hostile
 * acks, checks the consume right and obeys a revocation.
 */

#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>

#include <rte_cycles.h>
#include <rte_ring_elem.h>

#include <common/ctrs.h>
#include <common/filter.h>
#include <common/hdrs.h>
#include <common/lathist.h>
#include <common/proto.h>
#include <common/shm.h>

#include "authz_cmd.h"
#include "journal.h"
#include "lathist.h"
#include "retx.h"
#include "check.h"
#include "dp_harness.h"
#include "durable.h"
#include "group_dp.h"
#include "group_durable.h"
#include "group_durable_dp.h"
#include "lcore_main.h"
#include "shm_worker.h"
#include "topic.h"
#include "worker_internal.h"

#define MAX_GOT 2048
#define PUB_PORT 6000
#define SHM_RING 8192u
#define SHM_SHIFT 13u
#define SHM_SLOT 1u
#define SHM_GEN 5u

static struct sl_dp dp;
static struct sl_worker *w;
static struct rte_ring *rx, *tx;
static uint32_t topic, dl_topic;
static struct sl_session *pub;
/* The counters area with latency histograms: a redelivery records lag. */
static struct sl_ctrs_hdr *area;
static struct sl_lh_sum lag;

/* What the worker sent, frame by frame. */
struct got {
	uint32_t session;
	uint8_t type;
	uint16_t flags;
	uint64_t seq;
	uint32_t count;	 /* GDELIVER: delivery_count */
	uint32_t gid;	 /* GDELIVER, GROUP: group id */
	uint32_t topic;	 /* GDELIVER, DELIVER */
	uint16_t code;	 /* ERROR */
	uint8_t ftype;	 /* ERROR: frame type */
	uint64_t detail; /* ERROR */
	uint32_t req_id; /* ERROR */
	uint32_t credit; /* GROUP */
	uint16_t hdrs_len;
	uint32_t alen;
	uint8_t area[256];
};
static struct got got[MAX_GOT];
static unsigned n_got;

static void
record(const struct sl_frame *f)
{
	struct got *g;

	if (n_got == MAX_GOT)
		return;
	g = &got[n_got++];
	memset(g, 0, sizeof(*g));
	g->session = f->hdr->session;
	g->type = f->hdr->type;
	g->flags = f->hdr->flags;
	if (g->type == SL_FT_GDELIVER && f->len >= sizeof(struct sl_gdeliver)) {
		const struct sl_gdeliver *d = (const struct sl_gdeliver *)f->hdr;

		g->seq = d->seq;
		g->count = d->delivery_count;
		g->gid = d->group_id;
		g->topic = d->topic_id;
		g->hdrs_len = d->hdrs_len;
		g->alen = f->len - (uint32_t)sizeof(*d);
		memcpy(g->area, d + 1, RTE_MIN(g->alen, sizeof(g->area)));
	} else if (g->type == SL_FT_DELIVER && f->len >= sizeof(struct sl_deliver)) {
		const struct sl_deliver *d = (const struct sl_deliver *)f->hdr;

		g->seq = d->seq;
		g->topic = d->topic_id;
		g->hdrs_len = d->hdrs_len;
		g->alen = f->len - (uint32_t)sizeof(*d);
		memcpy(g->area, d + 1, RTE_MIN(g->alen, sizeof(g->area)));
	} else if (g->type == SL_FT_ERROR && f->len >= sizeof(struct sl_error)) {
		const struct sl_error *e = (const struct sl_error *)f->hdr;

		g->code = e->code;
		g->ftype = e->frame_type;
		g->detail = e->detail;
		g->req_id = e->req_id;
		if (f->len >= sizeof(struct sl_error_gap))
			g->seq = ((const struct sl_error_gap *)f->hdr)->first;
	} else if (g->type == SL_FT_GROUP && f->len >= sizeof(struct sl_group_reply)) {
		const struct sl_group_reply *r = (const struct sl_group_reply *)f->hdr;

		g->gid = r->group_id;
		g->credit = r->credit;
	}
}

/* Poll @polls times, then take every datagram the worker sent (any UDP
 * port: the frames' session tells the members apart). */
static void
pump(unsigned polls)
{
	harness_pump(w, tx, polls, record);
}

static void
reset_got(void)
{
	n_got = 0;
}

/* --- members and the publisher -------------------------------------------------- */

struct member {
	struct sl_session *s;
	uint16_t port;
	uint64_t mid;
};

static struct sl_session *
open_session(uint16_t port, uint16_t uid, uint16_t serial)
{
	return harness_session(w, port, uid, serial);
}

static void
member_open(struct member *mb, uint16_t port, uint64_t mid)
{
	mb->port = port;
	mb->mid = mid;
	mb->s = open_session(port, 0, 0);
}

static void
send_frame(uint16_t port, const void *f, uint32_t len)
{
	CHECK(harness_send_from(&dp, rx, port, f, len) == 0);
}

static void
gjoin_f(const struct member *mb, uint32_t tp, const char *group, uint32_t credit, uint32_t flags,
	uint32_t req)
{
	struct sl_gjoin j;

	memset(&j, 0, sizeof(j));
	sl_proto_hdr_init(&j.h, SL_FT_GJOIN, 0, sizeof(j), mb->s->id);
	j.topic_id = tp;
	j.credit = credit;
	j.member_id = mb->mid;
	snprintf(j.group, sizeof(j.group), "%s", group);
	j.flags = flags;
	j.req_id = req;
	send_frame(mb->port, &j, sizeof(j));
}

/* Join and return the group id the GROUP answer gave (0: none). */
static uint32_t
gjoin(const struct member *mb, const char *group, uint32_t credit)
{
	unsigned i;

	reset_got();
	gjoin_f(mb, topic, group, credit, 0, 77);
	pump(2);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GROUP && got[i].session == mb->s->id)
			return got[i].gid;
	return 0;
}

static void
gack(const struct member *mb, uint32_t gid, const uint64_t *seqs, uint16_t n, uint16_t flags)
{
	uint8_t buf[24 + 8 * SL_MAX_GACK_SEQS];
	struct sl_gack *a = (struct sl_gack *)buf;

	sl_proto_hdr_init(&a->h, SL_FT_GACK, 0, 24u + 8u * n, mb->s->id);
	a->group_id = gid;
	a->flags = flags;
	a->n = n;
	memcpy(buf + 24, seqs, 8u * n);
	send_frame(mb->port, buf, 24u + 8u * n);
}

static void
gnak(const struct member *mb, uint32_t gid, uint64_t seq, uint32_t delay_ms, uint32_t error)
{
	struct sl_gnak k;

	memset(&k, 0, sizeof(k));
	sl_proto_hdr_init(&k.h, SL_FT_GNAK, 0, sizeof(k), mb->s->id);
	k.group_id = gid;
	k.delay_ms = delay_ms;
	k.seq = seq;
	k.error = error;
	send_frame(mb->port, &k, sizeof(k));
}

/* Publish @n messages of @tp (payload: an 8-byte counter), one a datagram. */
static void
publish(uint32_t tp, unsigned n)
{
	static uint64_t ctr;
	uint8_t buf[64];
	struct sl_publish *p = (struct sl_publish *)buf;
	unsigned i;

	for (i = 0; i < n; i++) {
		memset(buf, 0, sizeof(buf));
		sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, sizeof(*p) + 8, pub->id);
		p->topic_id = tp;
		ctr++;
		memcpy(p + 1, &ctr, 8);
		send_frame(PUB_PORT, buf, sizeof(*p) + 8);
		if (i % 64 == 63)
			pump(1);
	}
}

/* --- control ------------------------------------------------------------------------ */

static struct sl_cnc_group
spec(const char *tname, const char *name)
{
	struct sl_cnc_group c;

	memset(&c, 0, sizeof(c));
	snprintf(c.topic, sizeof(c.topic), "%s", tname);
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.max_inflight = 1024;
	return c;
}

static int
upsert(const struct sl_cnc_group *c)
{
	struct sl_cnc_result r;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = sl_dp_group_upsert(&dp, c, &r);
	if (rc < 0)
		printf("upsert %s: %d %s\n", c->name, rc, r.message);
	pump(1);
	return rc;
}

/* Delete group @name of @tname and let its record go as the main lcore does. */
static void
group_delete_of(const char *tname, const char *name)
{
	struct sl_cnc_group c = spec(tname, name);
	struct sl_cnc_result r;
	struct sl_handoff h;
	int gone = 0;

	memset(&r, 0, sizeof(r));
	CHECK(sl_dp_group_delete(&dp, &c, &r) == 0);
	pump(2);
	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0) {
		if (h.kind == SL_HO_GROUP_GONE) {
			sl_dp_group_gone(&dp, &h);
			gone = 1;
		}
		if (h.m)
			rte_pktmbuf_free(h.m);
	}
	CHECK(gone);
}

static void
group_delete(const char *name)
{
	group_delete_of("g.t", name);
}

static struct sl_group_rec *
rec_of(uint32_t gid)
{
	return gid && gid < SL_DP_MAX_GROUPS ? dp.groups->rec[gid] : NULL;
}

static void
stats(uint32_t gid, struct sl_group_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (rec_of(gid))
		sl_group_stats_get(rec_of(gid)->g, st);
}

/* The GDELIVERs in got: count per session. */
static unsigned
gdelivers_to(uint32_t session)
{
	unsigned i, n = 0;

	for (i = 0; i < n_got; i++)
		n += got[i].type == SL_FT_GDELIVER && got[i].session == session;
	return n;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void
close_members(struct member *m, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (m[i].s && m[i].s->id)
			sl_worker_session_close(w, m[i].s);
	pump(1);
}

/* GJOIN of @mb as user @uid (key serial @serial) handed to the owner as
 * an authenticated session's home worker would (an authenticated UDP
 * session's frames come sealed; the owner's check is what is tested). */
static void
gjoin_as(const struct member *mb, uint16_t uid, uint16_t serial, const char *group)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pkt_pool);
	struct sl_handoff h;
	struct sl_gjoin j;
	uint8_t *d;

	if (m == NULL)
		abort();
	memset(&j, 0, sizeof(j));
	sl_proto_hdr_init(&j.h, SL_FT_GJOIN, 0, sizeof(j), mb->s->id);
	j.topic_id = topic;
	j.credit = 4;
	j.member_id = mb->mid;
	snprintf(j.group, sizeof(j.group), "%s", group);
	j.req_id = 9;
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(SL_PKT_HDR_LEN + sizeof(j)));
	sl_pkt_build_udp(d, harness_client_mac, dp.ports[0].mac, HARNESS_CLIENT_IP, HARNESS_IP,
			 htons(mb->port), htons(HARNESS_UDP_PORT), (uint16_t)sizeof(j));
	memcpy(d + SL_PKT_HDR_LEN, &j, sizeof(j));
	m->l2_len = 14;
	m->l3_len = 20;
	m->port = dp.ports[0].port_id;
	memset(&h, 0, sizeof(h));
	h.m = m;
	h.session = mb->s->id;
	h.off = SL_PKT_HDR_LEN;
	h.len = sizeof(j);
	h.topic = topic;
	h.kind = SL_HO_GJOIN;
	h.code = uid;
	h.producer_epoch = serial;
	h.version = SL_PROTO_VERSION;
	CHECK(rte_ring_enqueue_elem(w->in, &h, sizeof(h)) == 0);
	reset_got();
	pump(2);
}

static uint32_t
group_answer(const struct member *mb)
{
	unsigned i;

	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GROUP && got[i].session == mb->s->id)
			return got[i].gid;
	return 0;
}

/* --- the cases ------------------------------------------------------------------------ */

/* Three members share a stream; all ack: each message exactly once. */
static void
test_share_exactly_once(void)
{
	static uint8_t seen[512];
	struct member m[3];
	uint64_t first = sl_route_state(&dp.route, topic)->seq + 1;
	unsigned i, k, per[3] = { 0 }, acked = 0, dup = 0, rounds = 0;
	struct sl_cnc_group c = spec("g.t", "share");
	struct sl_group_stats st;
	uint32_t gid;

	CHECK(upsert(&c) == 0);
	for (i = 0; i < 3; i++)
		member_open(&m[i], 7100 + i, 100 + i);
	gid = gjoin(&m[0], "share", 16);
	CHECK(gid != 0);
	CHECK(gjoin(&m[1], "share", 16) == gid && gjoin(&m[2], "share", 16) == gid);
	memset(seen, 0, sizeof(seen));
	publish(topic, 300);
	while (acked < 300 && rounds++ < 200) {
		pump(2);
		for (i = 0; i < n_got; i++) {
			uint64_t s;

			if (got[i].type != SL_FT_GDELIVER)
				continue;
			s = got[i].seq - first;
			CHECK(got[i].gid == gid && got[i].topic == topic && got[i].count == 1);
			if (s >= 300)
				continue;
			if (seen[s]++)
				dup++;
			for (k = 0; k < 3; k++)
				if (got[i].session == m[k].s->id) {
					per[k]++;
					gack(&m[k], gid, &got[i].seq, 1, 0);
				}
			acked++;
		}
		reset_got();
	}
	pump(2);
	if (acked != 300 || dup)
		printf("share: acked %u dup %u per %u %u %u rounds %u\n", acked, dup, per[0], per[1],
		       per[2], rounds);
	CHECK(acked == 300 && dup == 0);
	for (i = 0; i < 300; i++)
		CHECK(seen[i] == 1);
	/* Round-robin over equal members: about a third each (one with no
	 * credit left is skipped until its acks come). */
	CHECK(per[0] >= 90 && per[1] >= 90 && per[2] >= 90);
	stats(gid, &st);
	CHECK(st.acked == 300 && st.inflight == 0 && st.delivered == 300 && st.redelivered == 0);
	close_members(m, 3);
	group_delete("share");
}

/* A member that never acks holds at most its credit; the others go on. */
static void
test_credit_bound(void)
{
	struct member m[3];
	struct sl_cnc_group c = spec("g.t", "credit");
	unsigned i, k, rounds = 0, others = 0;
	uint32_t gid;

	CHECK(upsert(&c) == 0);
	for (i = 0; i < 3; i++)
		member_open(&m[i], 7200 + i, 200 + i);
	gid = gjoin(&m[0], "credit", 4);
	CHECK(gid && gjoin(&m[1], "credit", 8) == gid && gjoin(&m[2], "credit", 8) == gid);
	publish(topic, 100);
	unsigned lazy = 0;

	while (others + lazy < 100 && rounds++ < 200) {
		pump(2);
		for (i = 0; i < n_got; i++) {
			if (got[i].type != SL_FT_GDELIVER)
				continue;
			if (got[i].session == m[0].s->id) {
				lazy++;
				continue; /* never acked */
			}
			for (k = 1; k < 3; k++)
				if (got[i].session == m[k].s->id)
					gack(&m[k], gid, &got[i].seq, 1, 0);
			others++;
		}
		reset_got();
	}
	CHECK(lazy == 4);
	CHECK(others == 96);
	CHECK(sl_group_member(rec_of(gid)->g, (uint32_t)sl_group_find(rec_of(gid)->g, 200))
		      ->outstanding == 4);
	close_members(m, 3);
	group_delete("credit");
}

/* Ack-wait: an unacknowledged message goes to another member, count 2. */
static void
test_ack_wait(void)
{
	struct member m[2];
	struct sl_cnc_group c = spec("g.t", "ackwait");
	unsigned i, tries = 0, found = 0;
	uint64_t seq = 0;
	uint32_t gid;

	c.ack_wait_ms = 30;
	CHECK(upsert(&c) == 0);
	member_open(&m[0], 7300, 300);
	member_open(&m[1], 7301, 301);
	gid = gjoin(&m[0], "ackwait", 4);
	CHECK(gid != 0);
	reset_got();
	publish(topic, 1);
	pump(2);
	CHECK(gdelivers_to(m[0].s->id) == 1);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER)
			seq = got[i].seq;
	CHECK(gjoin(&m[1], "ackwait", 4) == gid);
	sl_lh_sum(area, 0, SL_LH_M_lag, &lag);
	CHECK(lag.count == 0);
	while (!found && tries++ < 100) {
		sleep_ms(2);
		m[0].s->last_seen = m[1].s->last_seen = rte_get_tsc_cycles();
		reset_got();
		pump(1);
		for (i = 0; i < n_got; i++)
			if (got[i].type == SL_FT_GDELIVER) {
				CHECK(got[i].session == m[1].s->id && got[i].seq == seq &&
				      got[i].count == 2 && (got[i].flags & SL_DLV_F_RETRANS));
				found = 1;
			}
	}
	CHECK(found);
	/* The redelivery's lag: from the broker's receipt, past the ack-wait. */
	sl_lh_sum(area, 0, SL_LH_M_lag, &lag);
	CHECK(lag.count == 1 && sl_lh_percentile(&lag, 100) >= 30000000u);
	/* The first holder's late ack is refused: it no longer holds it. */
	reset_got();
	gack(&m[0], gid, &seq, 1, 0);
	pump(2);
	CHECK(n_got == 1 && got[0].type == SL_FT_ERROR && got[0].code == SL_E_NOT_HELD &&
	      got[0].detail == seq && got[0].ftype == SL_FT_GACK);
	close_members(m, 2);
	group_delete("ackwait");
}

/* GNAK: redelivered (to the other member), count 2; after max-deliveries
 * the message goes to the dead-letter topic with the broker's headers. */
static void
test_nak_and_dead_letter(void)
{
	struct member m[2];
	struct sl_cnc_group c = spec("g.t", "poison");
	struct sl_session *dls;
	struct sl_sub sub;
	struct sl_hdrs_view v;
	const uint8_t *val;
	size_t vlen;
	unsigned i, j, dl = 0;
	uint64_t seq = 0;
	uint32_t gid;
	struct sl_group_stats st;

	c.max_deliveries = 2;
	snprintf(c.dead_letter, sizeof(c.dead_letter), "g.dl");
	CHECK(upsert(&c) == 0);
	/* A plain subscriber of the dead-letter topic, version 4 (headers). */
	dls = open_session(7499, 0, 0);
	memset(&sub, 0, sizeof(sub));
	sub.session = dls->id;
	sub.peer.udp.transport = SL_TRANSPORT_UDP;
	memcpy(sub.peer.udp.mac, harness_client_mac, 6);
	sub.peer.udp.ip = HARNESS_CLIENT_IP;
	sub.peer.udp.port = htons(7499);
	sub.peer.udp.port_id = dp.ports[0].port_id;
	sl_peer_set_version(&sub.peer, SL_PROTO_VERSION);
	sub.credit = UINT64_MAX;
	CHECK(sl_route_sub_add(&dp.route, dl_topic, &sub) == 0);
	member_open(&m[0], 7400, 400);
	member_open(&m[1], 7401, 401);
	gid = gjoin(&m[0], "poison", 4);
	CHECK(gid && gjoin(&m[1], "poison", 4) == gid);
	reset_got();
	publish(topic, 1);
	pump(2);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER)
			seq = got[i].seq;
	CHECK(seq != 0 && gdelivers_to(m[0].s->id) + gdelivers_to(m[1].s->id) == 1);
	/* Whoever has it NAKs it: the other gets it, count 2. */
	for (j = 0; j < 2; j++) {
		struct member *holder = NULL;

		for (i = 0; i < n_got; i++)
			if (got[i].type == SL_FT_GDELIVER)
				holder = got[i].session == m[0].s->id ? &m[0] : &m[1];
		CHECK(holder != NULL);
		if (holder == NULL)
			break;
		reset_got();
		gnak(holder, gid, seq, 0, 42);
		pump(3);
		if (j == 0) {
			CHECK(gdelivers_to(holder == &m[0] ? m[1].s->id : m[0].s->id) == 1);
			for (i = 0; i < n_got; i++)
				if (got[i].type == SL_FT_GDELIVER)
					CHECK(got[i].count == 2 && got[i].seq == seq);
		}
	}
	/* Second NAK at 2 deliveries: the dead-letter topic has it. */
	pump(3);
	for (i = 0; i < n_got; i++) {
		if (got[i].type != SL_FT_DELIVER || got[i].topic != dl_topic)
			continue;
		dl++;
		CHECK(got[i].session == dls->id && got[i].hdrs_len > 0);
		CHECK(sl_hdrs_parse(got[i].area, got[i].hdrs_len, &v) == 0);
		CHECK(sl_hdrs_get(&v, "sl-delivery-count", 17, &val, &vlen) && vlen == 1 &&
		      val[0] == '2');
		CHECK(sl_hdrs_get(&v, "sl-last-error", 13, &val, &vlen) && vlen == 2 &&
		      memcmp(val, "42", 2) == 0);
		CHECK(sl_hdrs_get(&v, "sl-topic", 8, &val, &vlen) && vlen == 3 &&
		      memcmp(val, "g.t", 3) == 0);
		CHECK(sl_hdrs_get(&v, "sl-group", 8, &val, &vlen) && vlen == 6 &&
		      memcmp(val, "poison", 6) == 0);
		{
			char sq[24];
			int n = snprintf(sq, sizeof(sq), "%llu", (unsigned long long)seq);

			CHECK(sl_hdrs_get(&v, "sl-seq", 6, &val, &vlen) && vlen == (size_t)n &&
			      memcmp(val, sq, vlen) == 0);
		}
		/* The payload follows unchanged: 8 bytes. */
		CHECK(got[i].alen == got[i].hdrs_len + 8u);
	}
	CHECK(dl == 1);
	stats(gid, &st);
	CHECK(st.dead_lettered == 1 && st.inflight == 0 && st.nacked == 2);
	CHECK(rec_of(gid)->ctr[SL_GX_dead_dropped] == 0);
	sl_route_sub_del(&dp.route, dl_topic, dls->id);
	sl_worker_session_close(w, dls);
	close_members(m, 2);
	group_delete("poison");
}

/* A member's session expires: its messages go to the others (grace 0). */
static void
test_member_expiry(void)
{
	struct member m[2];
	struct sl_cnc_group c = spec("g.t", "expire");
	unsigned i, tries = 0, moved = 0;
	uint32_t gid, old_timeout = dp.conf.session_timeout_ms;

	CHECK(upsert(&c) == 0);
	member_open(&m[0], 7500, 500);
	member_open(&m[1], 7501, 501);
	gid = gjoin(&m[0], "expire", 3);
	CHECK(gid != 0);
	reset_got();
	publish(topic, 3);
	pump(2);
	CHECK(gdelivers_to(m[0].s->id) == 3);
	CHECK(gjoin(&m[1], "expire", 8) == gid);
	/* m[0] goes silent: its session expires. */
	dp.conf.session_timeout_ms = 30;
	m[0].s->last_seen = 1;
	while (moved < 3 && tries++ < 200) {
		sleep_ms(1);
		m[1].s->last_seen = pub->last_seen = rte_get_tsc_cycles();
		reset_got();
		pump(1);
		for (i = 0; i < n_got; i++)
			if (got[i].type == SL_FT_GDELIVER) {
				CHECK(got[i].session == m[1].s->id && got[i].count == 2);
				moved++;
			}
	}
	dp.conf.session_timeout_ms = old_timeout;
	CHECK(moved == 3);
	CHECK(harness_ctr(&dp, SL_CTR_sessions_expired) >= 1);
	m[0].s = NULL;
	close_members(&m[1], 1);
	group_delete("expire");
}

/* Hostile acks: a seq never given, another member's, and a non-member's. */
static void
test_hostile_ack(void)
{
	struct member m[3];
	struct sl_cnc_group c = spec("g.t", "hostile");
	uint64_t bogus = 999999, mine = 0, theirs = 0;
	struct sl_group_stats st;
	unsigned i;
	uint32_t gid;

	CHECK(upsert(&c) == 0);
	member_open(&m[0], 7600, 600);
	member_open(&m[1], 7601, 601);
	member_open(&m[2], 7602, 0); /* never joins */
	gid = gjoin(&m[0], "hostile", 4);
	CHECK(gid && gjoin(&m[1], "hostile", 4) == gid);
	reset_got();
	publish(topic, 2);
	pump(2);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER) {
			if (got[i].session == m[0].s->id)
				mine = got[i].seq;
			else
				theirs = got[i].seq;
		}
	CHECK(mine && theirs);
	reset_got();
	{
		uint64_t s3[3] = { bogus, theirs, mine };

		gack(&m[0], gid, s3, 3, 0);
	}
	pump(2);
	/* One ERROR for the frame (its first sequence not held); its own ack applies. */
	CHECK(n_got == 1 && got[0].code == SL_E_NOT_HELD && got[0].detail == bogus &&
	      got[0].session == m[0].s->id);
	CHECK(got[0].req_id == gid); /* GACK has no request id: the group's */
	stats(gid, &st);
	CHECK(st.ack_not_held == 2 && st.acked == 1);
	/* The other's message is still its own: its ack works. */
	reset_got();
	gack(&m[1], gid, &theirs, 1, 0);
	pump(2);
	CHECK(n_got == 0);
	/* A session that is not a member. */
	reset_got();
	gack(&m[2], gid, &mine, 1, 0);
	gnak(&m[2], gid, mine, 0, 1);
	pump(2);
	CHECK(n_got == 2 && got[0].code == SL_E_NOT_HELD && got[1].code == SL_E_NOT_HELD);
	CHECK(rec_of(gid)->ctr[SL_GX_ack_not_member] == 2);
	/* An unknown group id. */
	reset_got();
	gack(&m[0], 250, &mine, 1, 0);
	pump(2);
	CHECK(n_got == 1 && got[0].code == SL_E_NO_GROUP && got[0].detail == 250);
	close_members(m, 3);
	group_delete("hostile");
}

/* GJOIN's refusals: no such group, a version 3 session. */
static void
test_join_refusals(void)
{
	struct member m;

	member_open(&m, 7700, 700);
	reset_got();
	gjoin_f(&m, topic, "nosuch", 4, 0, 5);
	pump(2);
	CHECK(n_got == 1 && got[0].code == SL_E_NO_GROUP && got[0].detail == topic &&
	      got[0].ftype == SL_FT_GJOIN);
	reset_got();
	gjoin_f(&m, 60, "nosuch", 4, 0, 5);
	pump(2);
	CHECK(n_got == 1 && got[0].code == SL_E_UNKNOWN_TOPIC);
	m.s->version = 3;
	reset_got();
	gjoin_f(&m, topic, "nosuch", 4, 0, 5);
	pump(2);
	CHECK(n_got == 1 && got[0].code == SL_E_VERSION && got[0].detail == 4);
	close_members(&m, 1);
}

/* The consume right, then its revocation: the member leaves at once and
 * its messages go to the others. */
static void
test_consume_right(void)
{
	static struct sl_authz_builder b;
	struct sl_authz *t1, *t2, *t3;
	struct member m[2];
	struct sl_cnc_group c = spec("g.t", "acl");
	struct sl_handoff sw = { .kind = SL_HO_AUTHZ_SWEEP, .topic = 1, .code = 1 }, ack;
	const struct sl_authz *open = dp.authz;
	struct sl_group_stats st;
	unsigned i, moved = 0;
	uint32_t gid;

	CHECK(upsert(&c) == 0);
	sl_authz_builder_init(&b, 1);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_user(2, "bob", 2, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(1, "g.>", SL_PERM_SUB | SL_PERM_PUB)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(2, "g.>", SL_PERM_CONSUME)) == 0);
	t1 = sl_authz_build(&b, &dp.route);
	__atomic_store_n(&dp.authz, t1, __ATOMIC_RELEASE);
	member_open(&m[0], 7800, 800);
	member_open(&m[1], 7801, 801);
	/* alice has sub and pub, not consume. */
	gjoin_as(&m[0], 1, t1->users[1].epoch, "acl");
	CHECK(n_got == 1 && got[0].code == SL_E_DENIED && got[0].ftype == SL_FT_GJOIN &&
	      got[0].detail == topic);
	/* consume for another group only: still no. */
	{
		struct sl_cnc_cmd a = cmd_acl(1, "g.>", SL_PERM_CONSUME);

		snprintf(a.u.acl.group, sizeof(a.u.acl.group), "other");
		CHECK(cmd_apply(&b, a) == 0);
	}
	t2 = sl_authz_build(&b, &dp.route);
	__atomic_store_n(&dp.authz, t2, __ATOMIC_RELEASE);
	gjoin_as(&m[0], 1, t1->users[1].epoch, "acl");
	CHECK(n_got == 1 && got[0].code == SL_E_DENIED);
	/* bob may consume every group of g.>. */
	gjoin_as(&m[1], 2, t1->users[2].epoch, "acl");
	gid = group_answer(&m[1]);
	CHECK(gid != 0);
	/* And alice for this group by name. */
	{
		struct sl_cnc_cmd a = cmd_acl(1, "g.t", SL_PERM_CONSUME);

		snprintf(a.u.acl.group, sizeof(a.u.acl.group), "acl");
		CHECK(cmd_apply(&b, a) == 0);
	}
	t3 = sl_authz_build(&b, &dp.route);
	__atomic_store_n(&dp.authz, t3, __ATOMIC_RELEASE);
	gjoin_as(&m[0], 1, t1->users[1].epoch, "acl");
	CHECK(group_answer(&m[0]) == gid);
	/* Messages to both (published in open mode: the publisher is anonymous). */
	__atomic_store_n(&dp.authz, open, __ATOMIC_RELEASE);
	reset_got();
	publish(topic, 4);
	pump(2);
	__atomic_store_n(&dp.authz, t3, __ATOMIC_RELEASE);
	CHECK(gdelivers_to(m[1].s->id) == 2 && gdelivers_to(m[0].s->id) == 2);
	/* bob's consume right goes: the sweep makes him leave, no grace. */
	CHECK(cmd_apply(&b, cmd_acl(2, "g.>", SL_PERM_SUB)) == 0);
	{
		struct sl_authz *t4 = sl_authz_build(&b, &dp.route);

		__atomic_store_n(&dp.authz, t4, __ATOMIC_RELEASE);
		reset_got();
		CHECK(rte_ring_enqueue_elem(w->in, &sw, sizeof(sw)) == 0);
		pump(3);
		for (i = 0; i < n_got; i++) {
			if (got[i].type == SL_FT_ERROR && got[i].session == m[1].s->id)
				CHECK(got[i].code == SL_E_DENIED && got[i].ftype == SL_FT_GJOIN &&
				      got[i].detail == gid);
			if (got[i].type == SL_FT_GDELIVER) {
				CHECK(got[i].session == m[0].s->id && got[i].count == 2);
				moved++;
			}
		}
		/* Its two held messages went to alice, who has room for 2 more. */
		CHECK(moved == 2);
		stats(gid, &st);
		CHECK(st.members == 1);
		while (rte_ring_dequeue_elem(dp.slow, &ack, sizeof(ack)) == 0)
			;
		__atomic_store_n(&dp.authz, open, __ATOMIC_RELEASE);
		close_members(m, 2);
		group_delete("acl");
		sl_authz_free(t4);
	}
	sl_authz_free(t1);
	sl_authz_free(t2);
	sl_authz_free(t3);
	sl_authz_builder_fini(&b);
}

/* Publish one message of @tp with header color=@color (NULL: no block). */
static void
publish_color(uint32_t tp, const char *color)
{
	uint8_t buf[256];
	struct sl_publish *p = (struct sl_publish *)buf;
	struct sl_header hd = { "color", color, (uint16_t)(color ? strlen(color) : 0) };
	int blen = 0;

	memset(buf, 0, sizeof(buf));
	if (color)
		blen = sl_hdrs_build(p + 1, 128, "k", 1, &hd, 1);
	CHECK(blen >= 0);
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, color ? SL_PUB_F_HDRS : 0,
			  (uint32_t)(sizeof(*p) + (uint32_t)blen + 8), pub->id);
	p->topic_id = tp;
	p->hdrs_len = (uint16_t)blen;
	memset((uint8_t *)(p + 1) + blen, 0x11, 8);
	send_frame(PUB_PORT, buf, (uint32_t)(sizeof(*p) + (uint32_t)blen + 8));
}

/* GJOIN with filter @f (@flen bytes). */
static void
gjoin_filter(const struct member *mb, const char *group, const void *f, uint32_t flen)
{
	uint8_t buf[sizeof(struct sl_gjoin) + SL_MAX_FILTER_LEN + 8];
	struct sl_gjoin *j = (struct sl_gjoin *)buf;

	memset(buf, 0, sizeof(buf));
	sl_proto_hdr_init(&j->h, SL_FT_GJOIN, 0, (uint32_t)sizeof(*j) + flen, mb->s->id);
	j->topic_id = topic;
	j->credit = 16;
	j->member_id = mb->mid;
	snprintf(j->group, sizeof(j->group), "%s", group);
	j->flags = SL_GJOIN_F_FILTER;
	j->req_id = 12;
	memcpy(buf + sizeof(*j), f, flen);
	reset_got();
	send_frame(mb->port, buf, (uint32_t)sizeof(*j) + flen);
	pump(2);
}

/* The group's filter: the first member sets it, a later one must carry the
 * same or none; skipped messages move the position, counted. */
static void
test_filter(void)
{
	struct sl_filter_clause red = { SL_FILTER_EQ, "color", "red", 3 };
	struct sl_filter_clause blue = { SL_FILTER_EQ, "color", "blue", 4 };
	uint8_t fr[64], fb[64];
	int lr = sl_filter_build(fr, sizeof(fr), &red, 1), lb = sl_filter_build(fb, sizeof(fb),
										  &blue, 1);
	struct sl_cnc_group c = spec("g.t", "filt");
	struct member m[3];
	struct sl_group_rec *r;
	uint64_t start;
	unsigned i, n = 0;
	uint32_t gid;

	CHECK(lr > 0 && lb > 0);
	CHECK(upsert(&c) == 0);
	member_open(&m[0], 7900, 900);
	member_open(&m[1], 7901, 901);
	member_open(&m[2], 7902, 902);
	gjoin_filter(&m[0], "filt", fr, (uint32_t)lr);
	gid = n_got == 1 && got[0].type == SL_FT_GROUP ? got[0].gid : 0;
	CHECK(gid != 0);
	r = rec_of(gid);
	/* Another filter: refused; none: takes the group's. */
	gjoin_filter(&m[1], "filt", fb, (uint32_t)lb);
	CHECK(n_got == 1 && got[0].code == SL_E_BAD_HEADERS && got[0].ftype == SL_FT_GJOIN);
	CHECK(gjoin(&m[2], "filt", 16) == gid);
	start = r->cursor;
	reset_got();
	publish_color(topic, "red");
	publish_color(topic, "blue");
	publish_color(topic, NULL);
	publish_color(topic, "red");
	pump(3);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER) {
			n++;
			CHECK(got[i].hdrs_len > 0 && (got[i].flags & SL_DLV_F_HDRS));
		}
	CHECK(n == 2);
	CHECK(r->ctr[SL_GX_filter_skipped] == 2 && r->cursor == start + 4);
	close_members(m, 3);
	group_delete("filt");
}

/* A group that falls behind a none topic's retransmit window jumps to the
 * window's first message: a gap event to every member, counted. */
static void
test_window_gap(void)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	struct sl_cnc_group c = spec("g.t", "gap");
	uint32_t old = ts->retx_window, gid;
	struct member m;
	uint64_t held = 0, first;
	unsigned i, gaps = 0, later = 0;

	CHECK(upsert(&c) == 0);
	member_open(&m, 7950, 950);
	gid = gjoin(&m, "gap", 1);
	CHECK(gid != 0);
	ts->retx_window = 8;
	first = ts->seq + 1;
	/* The member holds one and never acks: the window (8) moves on. */
	reset_got();
	publish(topic, 1);
	pump(2);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER)
			held = got[i].seq;
	CHECK(held == first);
	reset_got();
	publish(topic, 40);
	pump(3);
	CHECK(gdelivers_to(m.s->id) == 0 && n_got == 0);
	/* Its ack frees its credit: the cursor (first + 1) is out of the window. */
	gack(&m, gid, &held, 1, 0);
	pump(3);
	for (i = 0; i < n_got; i++) {
		if (got[i].type == SL_FT_ERROR && got[i].code == SL_E_GAP_LOST) {
			gaps++;
			CHECK(got[i].ftype == SL_FT_GDELIVER && got[i].detail == gid &&
			      got[i].seq == first + 1);
		}
		if (got[i].type == SL_FT_GDELIVER)
			later = (unsigned)got[i].seq;
	}
	CHECK(gaps == 1 && rec_of(gid)->ctr[SL_GX_gap_lost] == 40 - 8);
	CHECK(later == first + 40 - 8 + 1); /* the window's first */
	ts->retx_window = old;
	close_members(&m, 1);
	group_delete("gap");
}

/* GCTL: pause, resume, leave; a pull member fetches. */
static void
test_gctl(void)
{
	struct sl_cnc_group c = spec("g.t", "ctlops");
	struct member m;
	struct sl_gctl g;
	struct sl_group_stats st;
	uint32_t gid;

	CHECK(upsert(&c) == 0);
	member_open(&m, 7960, 960);
	reset_got();
	gjoin_f(&m, topic, "ctlops", 8, SL_GJOIN_F_PULL, 4);
	pump(2);
	gid = n_got == 1 && got[0].type == SL_FT_GROUP ? got[0].gid : 0;
	CHECK(gid != 0);
	reset_got();
	publish(topic, 5);
	pump(3);
	CHECK(gdelivers_to(m.s->id) == 0); /* pull: nothing until it fetches */
	memset(&g, 0, sizeof(g));
	sl_proto_hdr_init(&g.h, SL_FT_GCTL, 0, sizeof(g), m.s->id);
	g.group_id = gid;
	g.op = SL_GCTL_FETCH;
	g.n = 2;
	g.req_id = 31;
	reset_got();
	send_frame(m.port, &g, sizeof(g));
	pump(3);
	CHECK(gdelivers_to(m.s->id) == 2);
	g.op = SL_GCTL_LEAVE;
	g.n = 0;
	reset_got();
	send_frame(m.port, &g, sizeof(g));
	pump(2);
	CHECK(n_got >= 1 && got[0].type == SL_FT_OK);
	stats(gid, &st);
	CHECK(st.members == 0 && st.pending == 2); /* its two are due again */
	close_members(&m, 1);
	group_delete("ctlops");
}

/* A restarted client (a new session) with the same member id takes the
 * member over: what it held is its own again. */
static void
test_takeover(void)
{
	struct sl_cnc_group c = spec("g.t", "takeover");
	struct member a, b;
	uint64_t seqs[2];
	unsigned i, n = 0;
	uint32_t gid;
	struct sl_group_stats st;

	c.grace_ms = 10000;
	CHECK(upsert(&c) == 0);
	member_open(&a, 7980, 980);
	member_open(&b, 7981, 980); /* the same member id, another session */
	gid = gjoin(&a, "takeover", 2);
	CHECK(gid != 0);
	reset_got();
	publish(topic, 2);
	pump(2);
	for (i = 0; i < n_got && n < 2; i++)
		if (got[i].type == SL_FT_GDELIVER && got[i].session == a.s->id)
			seqs[n++] = got[i].seq;
	CHECK(n == 2);
	if (n != 2)
		return;
	/* a's session ends (grace 10 s); b joins as the same member. */
	sl_worker_session_close(w, a.s);
	a.s = NULL;
	pump(2); /* the session's end reaches the owner through its ring */
	stats(gid, &st);
	CHECK(st.members_lost == 1 && st.inflight == 2);
	CHECK(gjoin(&b, "takeover", 2) == gid);
	stats(gid, &st);
	CHECK(st.members == 1 && st.rejoined == 1);
	reset_got();
	gack(&b, gid, seqs, 2, 0);
	pump(2);
	CHECK(n_got == 0);
	stats(gid, &st);
	CHECK(st.acked == 2 && st.inflight == 0 && st.redelivered == 0);
	close_members(&b, 1);
	group_delete("takeover");
}

/* A message too large for a UDP member's datagram goes to the dead-letter
 * topic at once, settled, counted too_large. */
static void
test_too_large(void)
{
	struct sl_cnc_group c = spec("g.t", "big");
	struct sl_topic_state *dts = sl_route_state(&dp.route, dl_topic);
	static uint8_t buf[sizeof(struct sl_publish) + SL_MAX_PAYLOAD];
	struct sl_publish *p = (struct sl_publish *)buf;
	uint64_t dl0 = dts->published;
	struct sl_group_stats st;
	struct member m;
	uint32_t gid;

	snprintf(c.dead_letter, sizeof(c.dead_letter), "g.dl");
	CHECK(upsert(&c) == 0);
	member_open(&m, 7990, 990);
	gid = gjoin(&m, "big", 4);
	CHECK(gid != 0);
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, sizeof(buf), pub->id);
	p->topic_id = topic;
	memset(p + 1, 0x5a, SL_MAX_PAYLOAD);
	reset_got();
	send_frame(PUB_PORT, buf, sizeof(buf));
	pump(3);
	CHECK(gdelivers_to(m.s->id) == 0);
	stats(gid, &st);
	CHECK(rec_of(gid)->ctr[SL_GX_too_large] == 1 && st.inflight == 0);
	CHECK(rec_of(gid)->ctr[SL_GX_dead_dropped] == 0 && dts->published == dl0 + 1);
	close_members(&m, 1);
	group_delete("big");
}

/* On a `none` topic a message a member holds stays readable after the
 * retransmit window let go of it (the group keeps a reference): when the
 * member dies it goes to another, count 2, and nothing is lost. */
static void
test_held_past_window(void)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, topic);
	struct sl_cnc_group c = spec("g.t", "keep");
	uint32_t old = ts->retx_window, gid;
	struct member m[2];
	struct sl_group_rec *r;
	uint64_t held = 0;
	unsigned i, k, moved = 0, others = 0, rounds = 0;

	CHECK(upsert(&c) == 0);
	member_open(&m[0], 7995, 995);
	member_open(&m[1], 7996, 996);
	gid = gjoin(&m[0], "keep", 1);
	CHECK(gid != 0);
	r = rec_of(gid);
	ts->retx_window = 8;
	reset_got();
	publish(topic, 1);
	pump(2);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER)
			held = got[i].seq;
	CHECK(held != 0 && r->n_refs == 1);
	CHECK(gjoin(&m[1], "keep", 16) == gid);
	reset_got();
	/* In steps the window (8) holds, acked as they come: no gap. */
	while (others < 40 && rounds++ < 100) {
		if (rounds <= 10)
			publish(topic, 4);
		pump(2);
		for (i = 0; i < n_got; i++)
			if (got[i].type == SL_FT_GDELIVER && got[i].session == m[1].s->id) {
				gack(&m[1], gid, &got[i].seq, 1, 0);
				others++;
			}
		reset_got();
	}
	pump(2);
	CHECK(others == 40 && r->ctr[SL_GX_gap_lost] == 0);
	CHECK(sl_retx_find(w, topic, held) == NULL && r->n_refs == 1);
	/* m[0] goes (no grace): its message, long out of the window, moves. */
	sl_worker_session_close(w, m[0].s);
	m[0].s = NULL;
	for (k = 0; k < 5 && !moved; k++) {
		pump(2);
		for (i = 0; i < n_got; i++)
			if (got[i].type == SL_FT_GDELIVER && got[i].seq == held) {
				CHECK(got[i].session == m[1].s->id && got[i].count == 2);
				moved++;
				gack(&m[1], gid, &got[i].seq, 1, 0);
			}
		reset_got();
	}
	pump(2);
	CHECK(moved == 1 && r->ctr[SL_GX_gap_lost] == 0 && r->n_refs == 0);
	ts->retx_window = old;
	close_members(&m[1], 1);
	group_delete("keep");
}

/* --- a journaled topic ------------------------------------------------------------ */

static char jroot[64];

/* A topic with an async journal in a directory of the test's own. */
static int
journal_topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	(void)arg;
	/* No retransmit window: every group read comes from the journal. */
	return harness_journal(ts, t, jroot, SL_DUR_ASYNC);
}

/* A group on a journaled topic reads its messages from the journal
 * (GDELIVER with REPLAY); a reset to the earliest message goes back. */
static void
test_journaled(void)
{
	struct sl_cnc_group c = spec("g.j", "jrn");
	struct sl_cnc_result r;
	struct member m;
	uint32_t jt = 0, gid;
	unsigned i, n = 0, replay = 0;

	snprintf(jroot, sizeof(jroot), "/tmp/sl_gw_XXXXXX");
	CHECK(mkdtemp(jroot) != NULL);
	CHECK(sl_route_topic_create_init(&dp.route, "g.j", 3, journal_topic_init, &dp, &jt) == 1);
	if (jt == 0)
		return;
	/* Not durable: this topic was made without a directory of its own for
	 * a durable group's files (the durable groups' tests cover those). */
	CHECK(upsert(&c) == 0);
	member_open(&m, 7970, 970);
	reset_got();
	gjoin_f(&m, jt, "jrn", 64, 0, 1);
	pump(2);
	gid = n_got == 1 && got[0].type == SL_FT_GROUP ? got[0].gid : 0;
	CHECK(gid != 0);
	reset_got();
	publish(jt, 5);
	pump(3);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER) {
			n++;
			replay += !!(got[i].flags & SL_DLV_F_REPLAY);
			gack(&m, gid, &got[i].seq, 1, 0);
		}
	CHECK(n == 5 && replay == 5);
	pump(2);
	/* Back to the earliest: the five again, from the journal. */
	c.reset_how = SL_CNC_RESET_EARLIEST;
	memset(&r, 0, sizeof(r));
	CHECK(sl_dp_group_reset(&dp, &c, &r) == 0);
	reset_got();
	pump(3);
	CHECK(gdelivers_to(m.s->id) == 5);
	close_members(&m, 1);
	group_delete_of("g.j", "jrn");
	{
		struct sl_topic_state *ts = sl_route_state(&dp.route, jt);

		/* The owner lets go of the journal first (its async flush list
		 * still names the topic), as a topic deletion does. */
		sl_route_topic_deactivate(&dp.route, jt);
		sl_worker_topic_delete(w, jt);
		sl_journal_close(ts->closing);
		ts->closing = NULL;
	}
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", jroot);
		CHECK(system(cmd) == 0);
	}
}

/* --- shared memory ---------------------------------------------------------------- */

static struct sl_shm shm;
static struct sl_shm_client clients[4];
static uint8_t *base;
static uint64_t shm_tx_pos, shm_rx_pos;

static void
shm_put(const void *frame, uint32_t len)
{
	harness_shm_put(base, SHM_RING, SHM_SHIFT, &shm_tx_pos, frame, len);
}

/* The frames the worker wrote to the client's rx ring since the last look. */
static void
shm_take(void)
{
	uint8_t *ring = base + 4096 + SHM_RING;

	for (;;) {
		uint32_t off = (uint32_t)(shm_rx_pos & (SHM_RING - 1));
		uint64_t cw = __atomic_load_n((uint64_t *)(ring + off), __ATOMIC_ACQUIRE);
		uint32_t len = (uint32_t)cw;
		struct sl_frame f;
		size_t foff = 0;

		if (cw == 0 || (cw >> 32) != sl_shm_lap(shm_rx_pos, SHM_SHIFT))
			return;
		if (len == SL_SHM_PAD) {
			shm_rx_pos += SHM_RING - off;
			continue;
		}
		if (sl_proto_next(ring + off + SL_SHM_REC_HDR, len, &foff, &f) == 1)
			record(&f);
		shm_rx_pos += sl_shm_rec_bytes(len);
		/* The consumer's position, as a client publishes it. */
		__atomic_store_n(&((struct sl_shm_region *)base)->rx[0].cons, shm_rx_pos,
				 __ATOMIC_RELEASE);
	}
}

/* A shared-memory member gets GDELIVERs (one ring record each) and acks. */
static void
test_shm_member(void)
{
	struct sl_shm_client *sc = &clients[SHM_SLOT];
	struct sl_handoff h = { .kind = SL_HO_SHM_ATTACH, .topic = SHM_SLOT };
	struct sl_cnc_group c = spec("g.t", "shm");
	struct sl_session *s = NULL;
	struct sl_gjoin j;
	unsigned i, n = 0, tries = 0;
	uint32_t gid = 0;
	struct sl_group_stats st;

	base = aligned_alloc(4096, 4096 + 2 * SHM_RING);
	CHECK(base != NULL);
	if (base == NULL)
		return;
	shm.max_clients = 4;
	shm.c = clients;
	dp.shm = &shm;
	harness_shm_client(sc, base, SHM_SLOT, SHM_GEN, SHM_RING, SHM_SHIFT);
	__atomic_store_n(&sc->state, SL_SHM_LIVE, __ATOMIC_RELEASE);
	sl_shm_worker_handoff(w, &h);
	CHECK(sl_session_open(&w->sessions, SHM_SLOT, SHM_GEN, &s) == 0 && s != NULL);
	if (s == NULL)
		return;
	s->transport = SL_TRANSPORT_SHM;
	s->auth = SL_SESSION_AUTH_NONE;
	s->version = SL_PROTO_VERSION;
	s->last_seen = rte_get_tsc_cycles();
	CHECK(upsert(&c) == 0);
	memset(&j, 0, sizeof(j));
	sl_proto_hdr_init(&j.h, SL_FT_GJOIN, 0, sizeof(j), s->id);
	j.topic_id = topic;
	j.credit = 64;
	j.member_id = 900;
	snprintf(j.group, sizeof(j.group), "shm");
	j.req_id = 3;
	shm_put(&j, sizeof(j));
	reset_got();
	pump(2);
	shm_take();
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GROUP)
			gid = got[i].gid;
	CHECK(gid != 0 && got[0].credit == 64);
	reset_got();
	publish(topic, 10);
	while (n < 10 && tries++ < 50) {
		pump(1);
		shm_take();
		for (; n < n_got; n++)
			;
	}
	CHECK(gdelivers_to(s->id) == 10);
	for (i = 0; i < n_got; i++)
		if (got[i].type == SL_FT_GDELIVER) {
			uint8_t buf[32];
			struct sl_gack *a = (struct sl_gack *)buf;

			CHECK(got[i].gid == gid && got[i].count == 1 && got[i].alen == 8);
			sl_proto_hdr_init(&a->h, SL_FT_GACK, 0, 32, s->id);
			a->group_id = gid;
			a->flags = 0;
			a->n = 1;
			memcpy(buf + 24, &got[i].seq, 8);
			shm_put(buf, 32);
		}
	pump(2);
	stats(gid, &st);
	CHECK(st.acked == 10 && st.inflight == 0);
	sl_worker_session_close(w, s);
	pump(1);
	group_delete("shm");
	w->n_shm = 0;
	dp.shm = NULL;
	free(base);
}

/* Control: what GROUP_UPSERT refuses, and a live change of settings. */
static void
test_control(void)
{
	struct sl_cnc_group c = spec("g.t", "ctl");
	struct sl_cnc_result r;
	struct sl_group_rec *g;
	unsigned i;

	memset(&r, 0, sizeof(r));
	c = spec("g.none", "ctl");
	CHECK(sl_dp_group_upsert(&dp, &c, &r) == -ENOENT);
	c = spec("g.t", "bad name");
	CHECK(sl_dp_group_upsert(&dp, &c, &r) == -EINVAL);
	c = spec("g.t", "ctl");
	c.flags = SL_CNC_GROUP_F_DURABLE;
	CHECK(sl_dp_group_upsert(&dp, &c, &r) == -EINVAL); /* durability none */
	c.flags = SL_CNC_GROUP_F_RETAIN;
	CHECK(sl_dp_group_upsert(&dp, &c, &r) == -EINVAL);
	c.flags = 0;
	c.policy = 4;
	CHECK(sl_dp_group_upsert(&dp, &c, &r) == -EINVAL);
	c.policy = 0;
	snprintf(c.dead_letter, sizeof(c.dead_letter), "g.t");
	CHECK(sl_dp_group_upsert(&dp, &c, &r) == -EINVAL);
	c.dead_letter[0] = '\0';
	CHECK(upsert(&c) == 0);
	g = NULL;
	for (i = 1; i < SL_DP_MAX_GROUPS; i++)
		if (dp.groups->rec[i] && strcmp(dp.groups->rec[i]->name, "ctl") == 0)
			g = dp.groups->rec[i];
	CHECK(g != NULL && g->live);
	if (g == NULL)
		return;
	/* The same again: nothing changes. */
	CHECK(upsert(&c) == 0 && g->spec_gen == 0);
	/* A safe change: applied by the owner. */
	c.ack_wait_ms = 1234;
	c.max_deliveries = 7;
	CHECK(upsert(&c) == 0);
	pump(1);
	CHECK(g->spec_applied == g->spec_gen && g->spec_gen == 1);
	CHECK(sl_group_config(g->g)->ack_wait_ns == 1234000000ull &&
	      sl_group_config(g->g)->max_deliveries == 7);
	/* The policy cannot change; nor durable (-EPERM). */
	c.policy = 2;
	CHECK(sl_dp_group_upsert(&dp, &c, &r) == -EPERM);
	c.policy = 0;
	/* Reset to a seq: the position moves. */
	c.reset_how = SL_CNC_RESET_SEQ;
	c.reset_arg = 5;
	CHECK(sl_dp_group_reset(&dp, &c, &r) == 0);
	pump(1);
	CHECK(g->cursor == 5);
	c.reset_how = SL_CNC_RESET_LATEST;
	CHECK(sl_dp_group_reset(&dp, &c, &r) == 0);
	pump(1);
	CHECK(g->cursor == sl_route_state(&dp.route, topic)->seq + 1);
	group_delete("ctl");
	c = spec("g.t", "ctl");
	CHECK(sl_dp_group_delete(&dp, &c, &r) == -ENOENT);
}

/* --- a durable group across a kill -9 of the dataplane ------------------------------- */

#define RESTART_PUB 20u	 /* messages before the last save */
#define RESTART_MORE 5u	 /* delivered after it, never acked */
#define RESTART_MID 0x5eed0001ull

/* Acked before the last save: every message up to RESTART_PUB but these. */
static int
restart_unacked(uint64_t s)
{
	return s == 5 || s == 9 || s > 12;
}

/* Phase 1 (a child process): a durable group on a journaled topic, a
 * member that acks some messages, the state saved, more acks and
 * deliveries after the save; then SIGKILL. Writes "ok" to @dir/phase1 when
 * every check held, just before it dies. */
static void
restart_phase1(const char *dir)
{
	struct sl_topic_spec ts = { .durability = SL_DUR_ASYNC };
	struct sl_cnc_group c = spec("g.t", "dur");
	struct sl_group_rec *r;
	struct member mb;
	uint64_t acks[RESTART_PUB], s;
	uint32_t gid;
	unsigned n = 0, k;
	char path[256];
	FILE *f;

	if (harness_start("test_group_restart1", &dp, &rx, &tx) != 0)
		_exit(2);
	w = dp.workers[0];
	snprintf(dp.conf.journal_dir, sizeof(dp.conf.journal_dir), "%s", dir);
	CHECK(sl_dp_groups_init(&dp) == 0);
	CHECK(sl_dp_topic_create(&dp, "g.t", 3, &ts, SL_TOPIC_CONFIG, &topic) == 1);
	pub = open_session(PUB_PORT, 0, 0);
	c.flags = SL_CNC_GROUP_F_DURABLE;
	CHECK(upsert(&c) == 0);
	member_open(&mb, 7001, RESTART_MID);
	gid = gjoin(&mb, "dur", 64);
	CHECK(gid != 0);
	r = rec_of(gid);
	CHECK(r != NULL && r->dur != NULL);
	snprintf(path, sizeof(path), "%s/g.t/group-dur.spec", dir);
	CHECK(access(path, R_OK) == 0);
	reset_got();
	publish(topic, RESTART_PUB);
	pump(4);
	CHECK(gdelivers_to(mb.s->id) == RESTART_PUB);
	for (s = 1; s <= RESTART_PUB; s++)
		if (!restart_unacked(s))
			acks[n++] = s;
	gack(&mb, gid, acks, (uint16_t)n, 0);
	/* The owner exports (at most every 10 ms), the main lcore saves; the
	 * async journal commits within its lag. */
	for (k = 0; k < 10; k++) {
		sleep_ms(12);
		pump(2);
		sl_dp_groups_save(&dp);
	}
	CHECK(r->dur && sl_gdur_saved_gen(r->dur) == sl_gdur_exported_gen(r->dur));
	CHECK(sl_group_unacked_count(r->g) == RESTART_PUB - n);
	/* After the last save: two more acks and five more deliveries, never saved. */
	acks[0] = 13;
	acks[1] = 14;
	gack(&mb, gid, acks, 2, 0);
	reset_got();
	publish(topic, RESTART_MORE);
	pump(4);
	CHECK(gdelivers_to(mb.s->id) == RESTART_MORE);
	/* The journal commits them (the messages are there after the crash). */
	sleep_ms(15);
	pump(2);
	CHECK(sl_journal_durable_seq(sl_route_state(&dp.route, topic)->journal) ==
	      RESTART_PUB + RESTART_MORE);
	snprintf(path, sizeof(path), "%s/phase1", dir);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "%s\n", failures == 0 ? "ok" : "failed");
		fclose(f);
	}
	raise(SIGKILL);
	_exit(3);
}

/* Phase 2: a new dataplane on the same directory makes the group again
 * from its settings file and restores it: its position, its unacknowledged
 * set (delivered again with the count kept), then what came after. */
static void
restart_phase2(const char *dir)
{
	struct sl_topic_spec ts = { .durability = SL_DUR_ASYNC };
	struct sl_cnc_group c = spec("g.t", "keep");
	struct sl_group_rec *r = NULL;
	struct member mb, keeper;
	unsigned i, again = 0, fresh = 0, other = 0;
	uint64_t acks[64], seen[RESTART_PUB + RESTART_MORE + 1] = { 0 };
	uint32_t gid;
	char path[256], line[16] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/phase1", dir);
	f = fopen(path, "r");
	CHECK(f != NULL && fgets(line, sizeof(line), f) != NULL && strcmp(line, "ok\n") == 0);
	if (f)
		fclose(f);
	if (harness_start("test_group_restart2", &dp, &rx, &tx) != 0)
		return;
	w = dp.workers[0];
	snprintf(dp.conf.journal_dir, sizeof(dp.conf.journal_dir), "%s", dir);
	CHECK(sl_dp_topic_create(&dp, "g.t", 3, &ts, SL_TOPIC_RELOAD, &topic) == 1);
	pub = open_session(PUB_PORT, 0, 0);
	CHECK(sl_journal_last_seq(sl_route_state(&dp.route, topic)->journal) ==
	      RESTART_PUB + RESTART_MORE);
	CHECK(sl_dp_groups_init(&dp) == 0);
	CHECK(sl_dp_groups_reload(&dp, sl_dp_group_upsert) == 1);
	pump(2);
	for (i = 1; i < SL_DP_MAX_GROUPS && r == NULL; i++)
		r = dp.groups->rec[i];
	CHECK(r != NULL && r->dur != NULL && r->durable);
	if (r == NULL)
		return;
	/* Where the last save left it: 10 unacknowledged, the cursor after 20. */
	CHECK_EQ(r->cursor, RESTART_PUB + 1);
	CHECK_EQ(sl_group_unacked_count(r->g), 10);
	member_open(&mb, 7002, RESTART_MID);
	gid = gjoin(&mb, "dur", 64);
	CHECK(gid == r->id);
	pump(4);
	for (i = 0; i < n_got; i++) {
		if (got[i].type != SL_FT_GDELIVER)
			continue;
		CHECK(got[i].seq >= 1 && got[i].seq <= RESTART_PUB + RESTART_MORE);
		if (got[i].seq > RESTART_PUB + RESTART_MORE)
			continue;
		seen[got[i].seq]++;
		if (got[i].seq <= RESTART_PUB && restart_unacked(got[i].seq) &&
		    got[i].count == 2 && (got[i].flags & SL_DLV_F_RETRANS))
			again++;
		else if (got[i].seq > RESTART_PUB && got[i].count == 1)
			fresh++;
		else
			other++;
	}
	/* The saved unacknowledged set again (13 and 14 too: acked after the
	 * save, at least once), with their counts; then the five after the
	 * saved cursor, as first deliveries; nothing acked before the save. */
	CHECK_EQ(again, 10);
	CHECK_EQ(fresh, RESTART_MORE);
	CHECK_EQ(other, 0);
	for (i = 1; i <= RESTART_PUB + RESTART_MORE; i++)
		CHECK(seen[i] == (i <= RESTART_PUB && !restart_unacked(i) ? 0u : 1u));
	for (i = 1; i <= RESTART_PUB + RESTART_MORE; i++)
		acks[i - 1] = i;
	acks[0] = RESTART_PUB + RESTART_MORE;
	gack(&mb, gid, acks, 1, SL_GACK_F_CUMULATIVE);
	pump(2);
	CHECK_EQ(sl_group_unacked_count(r->g), 0);
	/* A retaining group that holds messages unacknowledged holds back the
	 * journal's retention from its lowest one; "dur" (not retaining) adds
	 * no floor. The owner sets it at its next retention pass (1 s). */
	c.flags = SL_CNC_GROUP_F_DURABLE | SL_CNC_GROUP_F_RETAIN;
	CHECK(upsert(&c) == 0);
	member_open(&keeper, 7003, RESTART_MID + 1);
	CHECK(gjoin(&keeper, "keep", 64) != 0);
	reset_got();
	publish(topic, 3);
	pump(4);
	CHECK_EQ(gdelivers_to(keeper.s->id), 3);
	sleep_ms(600); /* (nanosleep takes under a second) */
	sleep_ms(600);
	pump(2);
	sl_dp_groups_save(&dp);
	CHECK_EQ(sl_journal_floor(sl_route_state(&dp.route, topic)->journal),
		 RESTART_PUB + RESTART_MORE + 1);
	close_members(&keeper, 1);
	close_members(&mb, 1);
	pump(2);
	sl_dp_groups_fini(&dp);
	sl_dp_journals_close(&dp);
	harness_stop(&dp);
}

static int
restart_main(void)
{
	char dir[] = "/tmp/sl-group-restart-XXXXXX", cmd[128];
	int status = 0;
	pid_t pid;

	if (mkdtemp(dir) == NULL)
		return 77;
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		restart_phase1(dir);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	restart_phase2(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("%s not removed\n", dir);
	return check_result("test_group_worker --restart");
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc > 1 && strcmp(argv[1], "--restart") == 0)
		return restart_main();
	rc = harness_start("test_group_worker", &dp, &rx, &tx);
	if (rc)
		return rc;
	w = dp.workers[0];
	CHECK(sl_dp_groups_init(&dp) == 0);
	topic = harness_topic(&dp, "g.t");
	dl_topic = harness_topic(&dp, "g.dl");
	CHECK(topic != 0 && dl_topic != 0);
	pub = open_session(PUB_PORT, 0, 0);
	{
		size_t size = sl_ctrs_area_size_h(4, 1, 1);

		area = calloc(1, size);
		CHECK(area != NULL && sl_ctrs_format_h(area, size, 4, 1, 1) == 0);
		CHECK(sl_dp_lh_init_area(&dp, area) == 0);
		CHECK(sl_dp_lh_topic(&dp, topic, "g.t") == 0);
	}
	test_control();
	test_join_refusals();
	test_share_exactly_once();
	test_credit_bound();
	test_ack_wait();
	test_nak_and_dead_letter();
	test_member_expiry();
	test_hostile_ack();
	test_consume_right();
	test_filter();
	test_window_gap();
	test_gctl();
	test_takeover();
	test_too_large();
	test_held_past_window();
	test_journaled();
	test_shm_member();
	pump(2);
	sl_dp_groups_fini(&dp);
	sl_dp_lh_fini(&dp);
	free(area);
	harness_stop(&dp);
	return check_result("test_group_worker");
}
