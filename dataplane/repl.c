/* SPDX-License-Identifier: BSD-3-Clause */
/* Replication of a pair member: start-up from ha.*, the receiving half (verify, dispatch), the worker's and main lcore's duties. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <common/clock.h>
#include <common/log.h>

#include "pkt.h"
#include "repl.h"
#include "topic.h"
#include "tx.h"
#include "worker_internal.h"

/* ---- start-up (main lcore) ------------------------------------------------ */

static int
load_key(const char *path, uint8_t key[SL_KEY_LEN])
{
	char buf[256];
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		SL_LOG(ERR, "ha.key %s: %s: the pair key file is needed with ha.peer (64 hex "
		       "digits, the same file on both nodes; e.g. openssl rand -hex 32 > FILE)\n",
		       path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
		SL_LOG(WARNING, "ha.key %s: readable by others (mode %03o): chmod 600 it\n", path,
		       (unsigned)(st.st_mode & 0777));
	n = read(fd, buf, sizeof(buf));
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc == 0)
		rc = sl_repl_key_parse(buf, (size_t)n, key);
	sl_wipe(buf, sizeof(buf));
	if (rc < 0)
		SL_LOG(ERR, "ha.key %s: %s\n", path,
		       rc == -EINVAL ? "not a pair key: the file must hold exactly 64 hex digits "
				       "(32 bytes), white space around them allowed"
				     : strerror(-rc));
	return rc;
}

/* Peer @ip (network order) on ha.repl_port; @enc: the link must be
 * encrypted both ways (a DR link). Returns its index. */
static unsigned
add_peer(struct sl_repl *r, uint32_t ip, uint8_t enc)
{
	struct sl_repl_peer *p = &r->peers[r->n_peers];

	p->ip = ip;
	p->port = r->repl_port;
	p->enc = enc;
	return r->n_peers++;
}

int
sl_repl_init(struct sl_dp *dp)
{
	const struct sl_conf_ha *h = &dp->conf.ha;
	struct sl_repl *r;
	uint8_t key[SL_KEY_LEN];
	uint32_t rnd;
	unsigned i;
	int rc;

	if (h->peer == 0)
		return 0; /* a single node: nothing here runs */
	if (dp->n_workers != 1) {
		SL_LOG(ERR, "ha.peer needs one worker (%u configured)\n", dp->n_workers);
		return -EINVAL;
	}
	if (h->key[0] == '\0') {
		SL_LOG(ERR, "ha.peer is set but ha.key is not: name the pair key file\n");
		return -EINVAL;
	}
	rc = load_key(h->key, key);
	if (rc < 0)
		return rc;
	rc = -ENOMEM;
	r = rte_zmalloc("sl_repl", sizeof(*r), RTE_CACHE_LINE_SIZE);
	if (r == NULL)
		goto fail;
	r->dp = dp;
	r->w = dp->workers[0];
	r->ha = dp->cnc ? sl_cnc_ha(dp->cnc) : NULL;
	r->port_idx = 0;
	r->ip = dp->ports[0].ip;
	r->repl_port = rte_cpu_to_be_16(h->repl_port);
	r->encrypt = h->encrypt;
	r->hb_ms = h->hb_ms;
	r->detect_ms = h->detect_ms;
	r->lease_ms = h->lease_ms;
	r->sync_replicas = h->sync_replicas;
	r->role = SL_HA_ROLE_UNKNOWN;
	r->ns_per_tsc = 1e9 / (double)dp->tsc_hz;
	sl_repl_clock_anchor(r);
	sl_random(&rnd, sizeof(rnd));
	sl_repl_tx_init(&r->tx, key, sl_repl_incarnation(sl_wall_ns(), rnd));
	/* A pair member: its peer, and maybe a DR replica (async, encrypted).
	 * A DR replica: the pair's members, whichever is primary (encrypted). */
	r->dr_node = h->dr;
	r->n_peers = 0;
	add_peer(r, h->peer, h->dr);
	if (h->dr_peer)
		r->peers[add_peer(r, h->dr_peer, 1)].dr = 1;
	if (h->peer2)
		add_peer(r, h->peer2, 1);
	for (i = 0; i < r->n_peers; i++) {
		sl_repl_rx_init(&r->peers[i].rx, key, SL_REPL_MAX_SKEW_MS);
		r->peers[i].tpos = rte_zmalloc("sl_repl_tpos",
					       sizeof(struct sl_repl_tpos) * dp->route.cap,
					       RTE_CACHE_LINE_SIZE);
		if (r->peers[i].tpos == NULL)
			goto fail_tpos;
	}
	rc = sl_repl_standby_init(r, dp->route.cap);
	if (rc < 0)
		goto fail_tpos;
	if (r->ha) {
		__atomic_store_n(&r->ha->dp_flags, (h->dr ? SL_HA_DP_F_DR : 0) |
				 (h->dr_peer ? SL_HA_DP_F_DR_PEER : 0), __ATOMIC_RELAXED);
		__atomic_store_n(&r->ha->dp_lease_ms, h->lease_ms, __ATOMIC_RELAXED);
		__atomic_store_n(&r->ha->dp_detect_ms, h->detect_ms, __ATOMIC_RELAXED);
	}
	sl_wipe(key, sizeof(key));
	if (h->dr)
		SL_LOG(INFO, "replication: DR replica of the pair (%u upstream node(s)), "
		       "encrypted; promoted only by an operator (sluicectl ha promote --dr)\n",
		       r->n_peers);
	else if (h->dr_peer)
		SL_LOG(INFO, "replication: streams to a DR replica too (async, encrypted; "
		       "acknowledgements never wait for it)\n");
	dp->repl = r;
	return 0;

fail_tpos:
	for (i = 0; i < r->n_peers; i++) {
		rte_free(r->peers[i].tpos);
		sl_repl_rx_wipe(&r->peers[i].rx);
	}
	sl_repl_tx_wipe(&r->tx);
	rte_free(r);
fail:
	sl_wipe(key, sizeof(key));
	SL_LOG(ERR, "replication: %s\n", strerror(-rc));
	return rc;
}

void
sl_repl_fini(struct sl_dp *dp)
{
	struct sl_repl *r = dp->repl;
	unsigned i;

	if (r == NULL)
		return;
	dp->repl = NULL;
	sl_repl_standby_fini(r);
	for (i = 0; i < r->n_peers; i++) {
		rte_pktmbuf_free(r->peers[i].out);
		rte_free(r->peers[i].tpos);
		sl_repl_rx_wipe(&r->peers[i].rx);
	}
	sl_repl_tx_wipe(&r->tx);
	rte_free(r);
}

/* ---- main lcore duty ---------------------------------------------------------- */

unsigned
sl_repl_main_poll(struct sl_dp *dp)
{
	struct sl_repl *r = dp->repl;
	unsigned i, work = 0;

	if (r == NULL)
		return 0;
	if (sl_mono_ns() >= r->next_anchor_ns)
		sl_repl_clock_anchor(r);
	for (i = 0; i < SL_REPL_MKREQ; i++) {
		struct sl_repl_mkreq *q = &r->mkreq[i];
		uint32_t id = 0;
		int rc;

		/* Acquire: pairs with the worker's release of the request. */
		if (__atomic_load_n(&q->state, __ATOMIC_ACQUIRE) != 1)
			continue;
		rc = sl_dp_topic_create(dp, q->name, q->name_len, &q->spec, SL_TOPIC_CONTROL, &id);
		if (rc < 0)
			SL_LOG(ERR, "replication: topic %.*s from the primary not created: %s\n",
			       (int)q->name_len, q->name, strerror(-rc));
		q->rc = rc;
		q->local = rc >= 0 ? id : 0;
		/* Release: the worker reads local and rc after seeing 2. */
		__atomic_store_n(&q->state, 2, __ATOMIC_RELEASE);
		work++;
	}
	return work;
}

/* ---- receiving (replication worker) ------------------------------------------ */

static void
cnc_peer(struct sl_repl *r, const struct sl_repl_peer *p)
{
	uint64_t pair;

	/* The block's peer is the pair's other member: a pair member's DR
	 * replica is not it (control would take its heartbeats for the
	 * standby's); a DR replica's is whichever member is primary. */
	if (r->ha == NULL || p->dr || (r->dr_node && p->role != SL_HA_ROLE_PRIMARY))
		return;
	/* peer_role and peer_epoch are read as one 8-byte word: one store. */
	pair = (uint64_t)p->role | (uint64_t)p->epoch << 32;
	__atomic_store_n((uint64_t *)(void *)&r->ha->peer_role, pair, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ha->peer_heard_ns, p->heard_ns, __ATOMIC_RELAXED);
}

static void
on_hb(struct sl_worker *w, struct sl_repl *r, unsigned idx, const struct sl_repl_hb *hb)
{
	struct sl_repl_peer *p = &r->peers[idx];
	uint64_t now = sl_repl_now_ns(w);
	int changed = p->role != hb->role || p->epoch != hb->epoch;

	p->role = hb->role;
	p->epoch = hb->epoch;
	p->heard_ns = now;
	p->hb_now_ns = hb->now_ns;
	if (hb->echo_ns && hb->echo_ns <= now)
		p->rtt_ns = now - hb->echo_ns;
	sl_repl_count(r, SL_REPL_CTR_repl_hb_received, 1);
	cnc_peer(r, p);
	if (changed && r->prim.on_peer_change && sl_repl_role(r) == SL_HA_ROLE_PRIMARY)
		r->prim.on_peer_change(w, idx);
}

/* A DR replica: its primary's view of its lag, as of the datagram's
 * sent_ms (the newest report wins: what a promotion may lose). */
static void
on_lag(struct sl_repl *r, const struct sl_repl_hdr *h, const struct sl_repl_lag *f)
{
	sl_repl_count(r, SL_REPL_CTR_repl_dr_lag_reports, 1);
	sl_repl_gauge(r, SL_REPL_CTR_repl_dr_lag_records, f->records);
	sl_repl_gauge(r, SL_REPL_CTR_repl_dr_lag_bytes, f->bytes);
	if (r->ha == NULL || h->sent_ms < __atomic_load_n(&r->ha->dr_report_ms, __ATOMIC_RELAXED))
		return;
	/* Single words, relaxed: control reads the three after one another
	 * and may mix two consecutive reports, each an honest bound of its time. */
	__atomic_store_n(&r->ha->dr_lag_records, f->records, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ha->dr_lag_bytes, f->bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ha->dr_report_ms, h->sent_ms, __ATOMIC_RELAXED);
}

/* Frames other than HB: by what the sender is and what this node is. */
static void
on_frame(struct sl_worker *w, struct sl_repl *r, unsigned idx, const struct sl_repl_hdr *h,
	 const struct sl_repl_fhdr *f)
{
	uint32_t role = sl_repl_role(r), epoch = sl_repl_epoch(r);

	switch (f->type) {
	case SL_REPL_TOPIC:
	case SL_REPL_TRUNC:
	case SL_REPL_DATA:
		/* A primary's stream: applied by a standby (a candidate keeps
		 * applying until it wins: what it applies is the old primary's). */
		if (h->role != SL_HA_ROLE_PRIMARY || r->peers[idx].dr ||
		    (role != SL_HA_ROLE_STANDBY && role != SL_HA_ROLE_CANDIDATE)) {
			sl_repl_count(r, SL_REPL_CTR_drop_repl_role, 1);
			return;
		}
		if (idx != r->up) {
			/* A DR replica hears the pair's other member as primary:
			 * a newer epoch (a failover) is followed, its topic ids
			 * its own; an older one is a deposed primary that has
			 * not seen its fence yet. */
			if (h->epoch <= r->up_epoch) {
				sl_repl_count(r, SL_REPL_CTR_drop_repl_old_epoch, 1);
				return;
			}
			r->up = (uint8_t)idx;
			sl_repl_standby_rejoin(w);
		}
		r->up_epoch = h->epoch;
		if (f->type == SL_REPL_TOPIC)
			sl_repl_standby_on_topic(w, (const struct sl_repl_topic *)f);
		else if (f->type == SL_REPL_TRUNC)
			sl_repl_standby_on_trunc(w, (const struct sl_repl_trunc *)f);
		else
			sl_repl_standby_on_data(w, (const struct sl_repl_data *)f);
		return;
	case SL_REPL_POS:
	case SL_REPL_ACK:
		/* A replica's answers: only to the primary of its epoch. */
		if (role != SL_HA_ROLE_PRIMARY || h->epoch != epoch) {
			sl_repl_count(r, SL_REPL_CTR_drop_repl_role, 1);
			return;
		}
		if (f->type == SL_REPL_POS) {
			if (r->prim.on_pos)
				r->prim.on_pos(w, idx, (const struct sl_repl_pos *)f);
		} else {
			sl_repl_count(r, SL_REPL_CTR_repl_acks_received, 1);
			if (r->prim.on_ack)
				r->prim.on_ack(w, idx, (const struct sl_repl_ack *)f);
		}
		return;
	case SL_REPL_LAG:
		if (h->role != SL_HA_ROLE_PRIMARY || !r->dr_node) {
			sl_repl_count(r, SL_REPL_CTR_drop_repl_role, 1);
			return;
		}
		on_lag(r, h, (const struct sl_repl_lag *)f);
		return;
	default:
		return;
	}
}

static unsigned
drop_of(int rc)
{
	switch (rc) {
	case -EBADMSG: return SL_REPL_CTR_drop_repl_bad_mac;
	case -EALREADY: return SL_REPL_CTR_drop_repl_replay;
	case -ETIMEDOUT: return SL_REPL_CTR_drop_repl_stale;
	case -EPROTO: return SL_REPL_CTR_drop_repl_version;
	default: return SL_REPL_CTR_drop_repl_malformed;
	}
}

/* One authenticated datagram from peer @idx: every frame, in order. */
static void
dispatch(struct sl_worker *w, struct sl_repl *r, unsigned idx, uint8_t *buf, uint32_t len)
{
	const struct sl_repl_hdr *h = (const void *)buf;
	const struct sl_repl_fhdr *f;
	uint32_t off = sizeof(*h);
	int old = h->epoch < sl_repl_epoch(r), type;
	struct sl_repl_peer *p = &r->peers[idx];

	/* Any authenticated datagram of the peer in the role and epoch of its
	 * last HB proves it alive as much as an HB does: under a flood of
	 * DATA (a catch-up) the one datagram of ten ms holding the HB may be
	 * the one the receive ring dropped. */
	if (p->heard_ns != 0 && h->role == p->role && h->epoch == p->epoch) {
		p->heard_ns = sl_repl_now_ns(w);
		cnc_peer(r, p);
	}

	while ((type = sl_repl_next(buf, len, &off, &f)) != 0) {
		if (type == -ENOTSUP)
			continue; /* a later version's frame: skipped */
		if (type < 0) {
			sl_repl_count(r, SL_REPL_CTR_drop_repl_malformed, 1);
			return;
		}
		if (type == SL_REPL_HB) {
			/* Heard, whatever its epoch: a deposed primary is alive. */
			on_hb(w, r, idx, (const struct sl_repl_hb *)f);
			continue;
		}
		if (old) {
			sl_repl_count(r, SL_REPL_CTR_drop_repl_old_epoch, 1);
			continue;
		}
		on_frame(w, r, idx, h, f);
	}
}

int
sl_repl_rx_pkt(struct sl_worker *w, struct rte_mbuf *m)
{
	struct sl_repl *r = w->dp->repl;
	struct sl_pkt_info pi;
	struct sl_repl_peer *p = NULL;
	uint64_t inc;
	unsigned i;
	int rc;

	if (r == NULL || w != r->w || w->port_idx != r->port_idx)
		return 0;
	if (sl_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, r->ip, r->repl_port,
			 &pi) != SL_PKT_UDP)
		return 0;
	sl_repl_count(r, SL_REPL_CTR_repl_dgrams_received, 1);
	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].ip == pi.src_ip && r->peers[i].port == pi.src_port) {
			p = &r->peers[i];
			break;
		}
	if (p == NULL) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_not_peer, 1);
		goto done;
	}
	/* A DR link carries encrypted datagrams only: a clear one (however
	 * well authenticated) is a misconfigured or downgraded sender. */
	if (p->enc && (pi.payload_len < sizeof(struct sl_repl_hdr) ||
		       !(rte_pktmbuf_mtod_offset(m, const struct sl_repl_hdr *, pi.payload_off)->flags &
			 SL_REPL_F_ENC))) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_clear, 1);
		goto done;
	}
	inc = p->rx.incarnation;
	rc = sl_repl_rx_open(&p->rx, rte_pktmbuf_mtod_offset(m, uint8_t *, pi.payload_off),
			     pi.payload_len, sl_repl_wall_ms(w));
	if (rc < 0) {
		sl_repl_count(r, drop_of(rc), 1);
		goto done;
	}
	/* Authenticated: where to send it from now on. */
	memcpy(p->mac, pi.src_mac, 6);
	p->mac_known = 1;
	if (inc != p->rx.incarnation) {
		/* The peer (re)started: what it knew is gone, and what we knew
		 * of its topic ids too. */
		if (inc != 0 && i == r->up)
			sl_repl_standby_rejoin(w);
		if (r->prim.on_peer_change && sl_repl_role(r) == SL_HA_ROLE_PRIMARY)
			r->prim.on_peer_change(w, i);
	}
	dispatch(w, r, i, rte_pktmbuf_mtod_offset(m, uint8_t *, pi.payload_off), pi.payload_len);
done:
	rte_pktmbuf_free(m);
	return 1;
}

/* ---- the worker's duty ------------------------------------------------------------ */

unsigned
sl_repl_poll(struct sl_worker *w)
{
	struct sl_repl *r = w->dp->repl;
	uint64_t now;
	uint32_t gen;
	unsigned work = 0;

	if (r == NULL || w != r->w)
		return 0;
	now = sl_repl_now_ns(w);
	/* Acquire: pairs with sl_repl_set_role's release. */
	gen = (uint32_t)__atomic_load_n(&r->role_gen, __ATOMIC_ACQUIRE);
	if (gen != r->role_seen_gen) {
		r->role_seen_gen = gen;
		if (sl_repl_role(r) == SL_HA_ROLE_STANDBY)
			sl_repl_standby_rejoin(w);
		r->next_hb_ns = 0; /* tell the peer at once */
	}
	work += sl_repl_standby_poll(w);
	if (now >= r->next_hb_ns) {
		sl_repl_send_hb(w, now);
		r->next_hb_ns = now + (uint64_t)r->hb_ms * 1000000u;
		/* This iteration's receive burst came before: whatever the
		 * peer sent until shortly before @now has been heard. */
		if (r->ha != NULL)
			__atomic_store_n(&r->ha->dp_polled_ns, now, __ATOMIC_RELAXED);
		work++;
	}
	if (sl_repl_role(r) == SL_HA_ROLE_PRIMARY && r->prim.poll)
		work += r->prim.poll(w, now);
	sl_repl_flush(w);
	/* On the wire now, not at the end of the iteration: the group commit
	 * that follows blocks in the persist barrier while the standby
	 * receives, persists and acknowledges these records. */
	if (work)
		sl_tx_flush(w);
	return work;
}
