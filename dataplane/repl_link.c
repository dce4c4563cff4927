/* SPDX-License-Identifier: BSD-3-Clause */
/* The replication link's sending half: clocks, role, datagrams built, sealed and queued on port0. */

#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <common/clock.h>

#include "pkt.h"
#include "repl.h"
#include "worker_internal.h"

/*
 * Frames go into one open datagram per peer, an mbuf from pkt_pool whose
 * UDP payload the builder (common/repl.h) fills in place; a full one, and
 * every open one at the end of the worker's iteration, is sealed, given
 * its Ethernet/IPv4/UDP headers (port0's address and ha.repl_port to the
 * peer's) and queued on the worker's tx buffer, which the loop sends with
 * the rest. Until the peer's MAC is learned from one of its authenticated
 * datagrams, frames go to the Ethernet broadcast address: the pair shares
 * one segment (docs/REPLICATION.md, Transport).
 */

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint64_t
sl_repl_now_ns(const struct sl_worker *w)
{
	const struct sl_repl *r = w->dp->repl;

	/* Relaxed: one word, re-anchored now and then by the main lcore. */
	return (uint64_t)((int64_t)((double)w->now * r->ns_per_tsc) +
			  __atomic_load_n(&r->mono_off_ns, __ATOMIC_RELAXED));
}

uint64_t
sl_repl_wall_ms(const struct sl_worker *w)
{
	const struct sl_repl *r = w->dp->repl;

	return (uint64_t)((int64_t)((double)w->now * r->ns_per_tsc) +
			  __atomic_load_n(&r->wall_off_ns, __ATOMIC_RELAXED)) / 1000000u;
}

/* Main lcore: the offsets of the TSC-derived clocks from the kernel's. */
void
sl_repl_clock_anchor(struct sl_repl *r)
{
	uint64_t mono = sl_mono_ns(), wall = sl_wall_ns();
	int64_t t = (int64_t)((double)rte_rdtsc() * r->ns_per_tsc);

	__atomic_store_n(&r->mono_off_ns, (int64_t)mono - t, __ATOMIC_RELAXED);
	__atomic_store_n(&r->wall_off_ns, (int64_t)wall - t, __ATOMIC_RELAXED);
	r->next_anchor_ns = mono + 100 * 1000000ull;
}

void
sl_repl_set_role(struct sl_repl *r, uint32_t role, uint32_t epoch)
{
	/* Release: the worker reads role_gen (acquire), then role and epoch. */
	__atomic_store_n(&r->epoch, epoch, __ATOMIC_RELEASE);
	__atomic_store_n(&r->role, role, __ATOMIC_RELEASE);
	__atomic_fetch_add(&r->role_gen, 1, __ATOMIC_RELEASE);
}

void
sl_repl_set_primary_ops(struct sl_repl *r, const struct sl_repl_primary_ops *ops)
{
	r->prim = *ops;
}

/* Seal @p's open datagram and queue it for tx. */
static void
seal_and_queue(struct sl_worker *w, struct sl_repl *r, struct sl_repl_peer *p)
{
	struct rte_mbuf *m = p->out;
	int len;

	p->out = NULL;
	if (p->d.frames == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	len = sl_repl_seal(&r->tx, &p->d, sl_repl_role(r), sl_repl_epoch(r),
			   r->encrypt || p->enc ? SL_REPL_F_ENC : 0, sl_repl_wall_ms(w));
	if (len < 0) { /* the counter ran out: 2^48 datagrams of one start */
		sl_repl_count(r, SL_REPL_CTR_drop_repl_no_room, 1);
		rte_pktmbuf_free(m);
		return;
	}
	sl_pkt_build_udp(rte_pktmbuf_mtod(m, uint8_t *), w->dp->ports[r->port_idx].mac,
			 p->mac_known ? p->mac : bcast, r->ip, p->ip, r->repl_port, p->port,
			 (uint16_t)len);
	m->data_len = (uint16_t)(SL_PKT_HDR_LEN + (uint32_t)len);
	m->pkt_len = m->data_len;
	sl_repl_count(r, SL_REPL_CTR_repl_dgrams_sent, 1);
	sl_worker_tx_enqueue(w, r->port_idx, m);
}

/* The open datagram for peer @peer, opened when none; NULL without mbufs. */
static struct sl_repl_dgram *
open_dgram(struct sl_worker *w, struct sl_repl *r, struct sl_repl_peer *p)
{
	struct rte_mbuf *m;
	uint32_t room;

	if (p->out)
		return &p->d;
	m = rte_pktmbuf_alloc(w->dp->pkt_pool);
	if (m == NULL) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_no_mbuf, 1);
		return NULL;
	}
	room = rte_pktmbuf_tailroom(m);
	room = room > SL_PKT_HDR_LEN ? room - SL_PKT_HDR_LEN : 0;
	p->out = m;
	sl_repl_dgram_init(&p->d, rte_pktmbuf_mtod_offset(m, uint8_t *, SL_PKT_HDR_LEN),
			   room < SL_REPL_DGRAM_MAX ? room : SL_REPL_DGRAM_MAX);
	return &p->d;
}

/*
 * Run @put on the open datagram for @peer; when it does not fit, seal that
 * one and try once more on a fresh datagram.
 */
#define WITH_ROOM(w, peer, call)                                                       \
	({                                                                             \
		struct sl_repl *r_ = (w)->dp->repl;                                    \
		struct sl_repl_peer *p_ = &r_->peers[peer];                            \
		struct sl_repl_dgram *d;                                               \
		int rc_ = -ENOBUFS, try_;                                              \
		for (try_ = 0; try_ < 2; try_++) {                                     \
			d = open_dgram((w), r_, p_);                                   \
			if (d == NULL) {                                               \
				rc_ = -ENOBUFS;                                        \
				break;                                                 \
			}                                                              \
			rc_ = (call);                                                  \
			if (rc_ != -ENOSPC || d->frames == 0)                          \
				break;                                                 \
			seal_and_queue((w), r_, p_);                                   \
		}                                                                      \
		rc_;                                                                   \
	})

static int
peer_ok(const struct sl_worker *w, unsigned peer)
{
	return w->dp->repl != NULL && peer < w->dp->repl->n_peers;
}

/* @rc, and counter @c counted when it is 0. */
static int
counted(struct sl_worker *w, int rc, unsigned c)
{
	if (rc == 0)
		sl_repl_count(w->dp->repl, c, 1);
	return rc;
}

int
sl_repl_send_topic(struct sl_worker *w, unsigned peer, const struct sl_repl_topic *t,
		   const char *name, size_t name_len)
{
	if (!peer_ok(w, peer))
		return -EINVAL;
	return counted(w, WITH_ROOM(w, peer, sl_repl_put_topic(d, t, name, name_len)),
		       SL_REPL_CTR_repl_topics_announced);
}

int
sl_repl_send_trunc(struct sl_worker *w, unsigned peer, uint32_t rtopic, uint64_t keep)
{
	if (!peer_ok(w, peer))
		return -EINVAL;
	return counted(w, WITH_ROOM(w, peer, sl_repl_put_trunc(d, rtopic, keep)),
		       SL_REPL_CTR_repl_truncs_sent);
}

int
sl_repl_send_pos(struct sl_worker *w, unsigned peer, uint32_t rtopic, uint32_t last_epoch,
		 uint64_t last_seq, uint64_t first_seq)
{
	if (!peer_ok(w, peer))
		return -EINVAL;
	return counted(w, WITH_ROOM(w, peer, sl_repl_put_pos(d, rtopic, last_epoch, last_seq,
							      first_seq)),
		       SL_REPL_CTR_repl_pos_sent);
}

int
sl_repl_send_ack(struct sl_worker *w, unsigned peer, uint32_t rtopic, uint32_t flags,
		 uint64_t seq, uint64_t last_seq)
{
	if (!peer_ok(w, peer))
		return -EINVAL;
	return counted(w, WITH_ROOM(w, peer, sl_repl_put_ack(d, rtopic, flags, seq, last_seq)),
		       SL_REPL_CTR_repl_acks_sent);
}

int
sl_repl_send_lag(struct sl_worker *w, unsigned peer, uint64_t records, uint64_t bytes)
{
	if (!peer_ok(w, peer))
		return -EINVAL;
	return WITH_ROOM(w, peer, sl_repl_put_lag(d, records, bytes));
}

int
sl_repl_send_data(struct sl_worker *w, unsigned peer, const struct sl_repl_data *m,
		  const void *payload, uint32_t len)
{
	struct sl_repl *r = w->dp->repl;
	uint32_t off = 0;
	int rc;

	if (!peer_ok(w, peer))
		return -EINVAL;
	/* Fragments of one record go in consecutive datagrams: each piece
	 * fills what room is left, then the datagram is sealed. */
	do {
		rc = WITH_ROOM(w, peer, sl_repl_put_data(d, m, payload, len, off));
		if (rc < 0)
			return rc;
		off += (uint32_t)rc;
		if (off < len)
			seal_and_queue(w, r, &r->peers[peer]);
	} while (off < len);
	sl_repl_count(r, SL_REPL_CTR_repl_records_sent, 1);
	sl_repl_count(r, SL_REPL_CTR_repl_bytes_sent, len);
	return 0;
}

/* A heartbeat to every peer (not while CANDIDATE: a candidate's silence is
 * what lets the old primary's lease run out). */
void
sl_repl_send_hb(struct sl_worker *w, uint64_t now_ns)
{
	struct sl_repl *r = w->dp->repl;
	uint32_t role = sl_repl_role(r), epoch = sl_repl_epoch(r);
	unsigned i;

	if (role == SL_HA_ROLE_CANDIDATE)
		return;
	for (i = 0; i < r->n_peers; i++) {
		struct sl_repl_peer *p = &r->peers[i];
		uint32_t flags = 0;

		if (role == SL_HA_ROLE_PRIMARY && r->ha &&
		    __atomic_load_n(&r->ha->caught_up, __ATOMIC_RELAXED))
			flags |= SL_REPL_HB_F_CAUGHT_UP;
		if (WITH_ROOM(w, i, sl_repl_put_hb(d, role, epoch, now_ns, p->hb_now_ns, flags)) == 0)
			sl_repl_count(r, SL_REPL_CTR_repl_hb_sent, 1);
	}
}

void
sl_repl_flush(struct sl_worker *w)
{
	struct sl_repl *r = w->dp->repl;
	unsigned i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].out)
			seal_and_queue(w, r, &r->peers[i]);
}
