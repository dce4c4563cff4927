/* SPDX-License-Identifier: BSD-3-Clause */
/* Replication state of a pair member: the link to the peer, the primary's per-topic positions, the standby's topic map. */

#ifndef SLUICE_DP_REPL_H
#define SLUICE_DP_REPL_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <common/cnc.h>
#include <common/repl.h>

#include "counters.h"
#include "topic_dir.h"

struct sl_dp;
struct sl_worker;

/*
 * docs/REPLICATION.md describes the protocol. The state lives in one
 * struct sl_repl hung off struct sl_dp (dp->repl; NULL on a single node,
 * where nothing here runs). With ha.peer the dataplane runs one worker, the
 * "replication worker" (r->w): it owns every topic, receives the peer's
 * datagrams (its rx path classifies them by UDP destination port before
 * session handling), and is the only writer of everything below but the
 * fields marked "main lcore".
 *
 * Files:
 *   repl_link.c     init from ha.*, key, datagram build/seal/send, receive/
 *                   verify/dispatch, heartbeats, the CnC HA block's peer_*.
 *   repl_standby.c  TOPIC, TRUNC, DATA -> the local journals, POS and ACK.
 *   repl_primary.c  positions, TOPIC announcements, streaming, go-back-N
 *                   (it installs struct sl_repl_primary_ops).
 *   ha.c            the role: applies the CnC control half, calls
 *                   sl_repl_set_role.
 */

#define SL_REPL_MAX_PEERS 2	  /* replicas of a primary: a standby, later a DR replica */
#define SL_REPL_WINDOW_RECORDS 4096 /* per topic per replica, in flight */
#define SL_REPL_WINDOW_BYTES (4u << 20)
#define SL_REPL_RTO_MS 20	  /* no ACK progress this long with records in flight: resend */
#define SL_REPL_ANNOUNCE_MS 50	  /* TOPIC resent this often until POS answers */
#define SL_REPL_MAX_SKEW_MS 10000 /* datagrams older (or newer) than this are refused */
#define SL_REPL_MKREQ 16	  /* standby: topic creations waiting on the main lcore */

/* The primary's view of one topic towards one replica (repl_primary.c). */
enum sl_repl_tpos_state {
	SL_REPL_TP_NONE = 0,	/* not announced yet */
	SL_REPL_TP_ANNOUNCED,	/* TOPIC sent, waiting for POS */
	SL_REPL_TP_TRUNCATING,	/* TRUNC sent, waiting for POS again */
	SL_REPL_TP_STREAMING,	/* sending from next_to_send */
};

struct sl_repl_tpos {
	uint64_t acked;	       /* the replica's persisted seq (its cumulative ACK) */
	uint64_t appended;     /* the replica's appended seq (ACK last_seq) */
	uint64_t next_to_send; /* next seq read from the journal and sent */
	uint64_t progress_ns;  /* last ACK progress, or the first send after it */
	uint64_t announce_ns;  /* when TOPIC / TRUNC go out again */
	uint64_t sent_end;     /* one past the highest seq sent this term: ACKs stop there */
	uint64_t goback_seq;   /* where the last go-back restarted the stream ... */
	uint64_t goback_ns;    /* ... and when: a GAP to the same place within an RTO waits */
	uint32_t state;	       /* enum sl_repl_tpos_state */
	uint32_t flags;
};

/* Standby: one topic of the primary (indexed by the primary's id, rtopic). */
enum sl_repl_rtopic_state {
	SL_REPL_RT_NONE = 0, /* unknown: DATA for it dropped (drop_repl_unknown_topic) */
	SL_REPL_RT_CREATING, /* the main lcore creates the local topic */
	SL_REPL_RT_READY,    /* local is the topic: frames apply */
	SL_REPL_RT_FAILED,   /* creation failed (logged by the main lcore); retried on TOPIC */
};

struct sl_repl_rtopic {
	uint32_t local;	      /* local topic id when READY */
	uint8_t state;	      /* enum sl_repl_rtopic_state */
	uint8_t ack_due;      /* an ACK goes out after this iteration's commit */
	uint8_t gap;	      /* ... with SL_REPL_ACK_F_GAP */
	uint8_t dirty;	      /* appended since the last sync */
	uint64_t acked_sent;  /* the persisted seq the last ACK said */
	uint64_t pos_ns;      /* when POS was last sent (answer TOPIC at most this often) */
	uint64_t catchup_end; /* the primary's last seq when it joined (TOPIC) */
};

/* One peer node: the standby (on a primary) or the primary (on a standby). */
struct sl_repl_peer {
	uint32_t ip;	       /* network order */
	uint16_t port;	       /* network order */
	uint8_t mac[6];	       /* learned from its authenticated datagrams */
	uint8_t mac_known;     /* 0: send to broadcast until learned */
	uint32_t role;	       /* SL_HA_ROLE_* of its last HB */
	uint32_t epoch;	       /* leader epoch of its last HB */
	uint64_t heard_ns;     /* CLOCK_MONOTONIC of its last authenticated HB (0: never) */
	uint64_t hb_now_ns;    /* its HB's now_ns (echoed in ours) */
	uint64_t rtt_ns;       /* last round trip measured from an echo */
	struct sl_repl_rx rx;  /* its incarnation, key, replay window */
	/* The datagram being filled for it (an mbuf from pkt_pool; NULL none). */
	struct rte_mbuf *out;
	struct sl_repl_dgram d;
	/* The primary's positions of every topic for this peer, [route.cap]. */
	struct sl_repl_tpos *tpos;
};

/*
 * What the primary side provides (repl_primary.c installs it with
 * sl_repl_set_primary_ops); NULL members are skipped. Each is called on
 * the replication worker, from sl_repl_rx_pkt (on_pos, on_ack: frames of a
 * peer at this node's epoch while it is PRIMARY) or sl_repl_poll (poll).
 */
struct sl_repl_primary_ops {
	void (*on_pos)(struct sl_worker *w, unsigned peer, const struct sl_repl_pos *f);
	void (*on_ack)(struct sl_worker *w, unsigned peer, const struct sl_repl_ack *f);
	/* Send what is due (announcements, DATA within the window, resends).
	 * Returns the work done. */
	unsigned (*poll)(struct sl_worker *w, uint64_t now_ns);
	/* Peer @peer restarted (a new incarnation) or changed role or epoch
	 * (its HB): what it knew of this node's topics may be gone, so
	 * announce them again. */
	void (*on_peer_change)(struct sl_worker *w, unsigned peer);
};

/* A topic creation the standby asks of the main lcore. */
struct sl_repl_mkreq {
	uint32_t state; /* 0 free, 1 asked (worker, release), 2 done (main, release) */
	uint32_t rtopic;
	uint32_t local; /* done: the local id (0: failed) */
	int32_t rc;	/* done: sl_dp_topic_create's */
	struct sl_topic_spec spec;
	uint64_t last_seq; /* the primary's last record (TOPIC), for catch-up */
	uint16_t name_len;
	char name[SL_REPL_NAME_MAX + 1];
};

struct sl_repl {
	struct sl_dp *dp;
	struct sl_worker *w;	   /* the replication worker */
	struct sl_cnc_ha *ha;	   /* the CnC HA block, or NULL without control */
	uint16_t port_idx;	   /* port0 */
	uint16_t repl_port;	   /* network order */
	uint32_t ip;		   /* our port0 address, network order */
	uint8_t encrypt;	   /* seal with SL_REPL_F_ENC */
	uint32_t hb_ms, detect_ms, lease_ms, sync_replicas;
	/* Role and epoch applied now: written by the main lcore (ha.c through
	 * sl_repl_set_role, release), read by the worker (acquire). */
	uint32_t role;
	uint32_t epoch;
	uint64_t role_gen;	   /* bumped at each change (release) */
	struct sl_repl_tx tx;	   /* our incarnation, counter, key */
	uint64_t next_hb_ns;
	/* Clocks from the TSC without a system call: ns = tsc * ns_per_tsc +
	 * offset. The main lcore re-anchors the offsets (single 8-byte
	 * relaxed stores) so that they follow CLOCK_MONOTONIC and
	 * CLOCK_REALTIME as the kernel slews them. */
	double ns_per_tsc;
	int64_t mono_off_ns, wall_off_ns;
	uint64_t next_anchor_ns; /* main lcore */
	uint32_t role_seen_gen;	 /* worker: the role_gen it applied */
	unsigned n_peers;	   /* 1 today (ha.peer) */
	struct sl_repl_peer peers[SL_REPL_MAX_PEERS];
	struct sl_repl_primary_ops prim;
	/* Standby. */
	uint32_t n_rtopics;	   /* route.cap */
	struct sl_repl_rtopic *rtopics; /* [n_rtopics], by the primary's id */
	uint32_t *dirty;	   /* rtopics appended to this iteration */
	uint32_t n_dirty;
	uint64_t catchup_done;	   /* records applied since this node (re)joined */
	uint64_t catchup_total;	   /* records it was behind then */
	/* A record arriving in fragments (DATA frag_off > 0). */
	uint8_t *frag;		   /* [SL_MAX_MESSAGE-sized], rte_malloc'd at init */
	uint32_t frag_cap, frag_have;
	uint32_t frag_rtopic;
	uint64_t frag_seq;
	struct sl_repl_mkreq mkreq[SL_REPL_MKREQ];
	/* Counters ("repl" slot, counters.h SL_STATS_REPL_LIST): one writer,
	 * the replication worker (sl_repl_count); the main lcore samples them. */
	uint64_t ctr[SL_REPL_CTR_MAX] __attribute__((aligned(64)));
};

/* Count @n of replication counter @c (enum sl_repl_ctr): replication worker. */
static inline void
sl_repl_count(struct sl_repl *r, unsigned c, uint64_t n)
{
	sl_ctr_add(&r->ctr[c], n);
}

/* Set gauge @c (repl_lag_*, repl_catchup_*): replication worker. */
static inline void
sl_repl_gauge(struct sl_repl *r, unsigned c, uint64_t v)
{
	__atomic_store_n(&r->ctr[c], v, __ATOMIC_RELAXED);
}

/* ---- Main lcore -------------------------------------------------------- */

/*
 * With ha.peer configured: check the configuration (one worker; the key
 * file), load the pair key, draw the incarnation, allocate the state and
 * hang it off dp->repl; otherwise leave dp->repl NULL and return 0. Call
 * after the workers and the route are initialised, before they run.
 * Returns 0, or -EINVAL (with a message logged that says what to fix:
 * several workers, no ha.key, a key file not 64 hex digits), -errno
 * reading the key file, -ENOMEM.
 */
int sl_repl_init(struct sl_dp *dp);
void sl_repl_fini(struct sl_dp *dp);

/* Main lcore: apply role @role at @epoch (SL_HA_ROLE_*). The worker sees
 * it at its next iteration. A node that leaves STANDBY stops applying; one
 * that becomes STANDBY (re)joins: every topic's position is sent again. */
void sl_repl_set_role(struct sl_repl *r, uint32_t role, uint32_t epoch);

/* The primary side installs its operations (before the workers run). */
void sl_repl_set_primary_ops(struct sl_repl *r, const struct sl_repl_primary_ops *ops);

/* Main lcore duty: create the topics the standby asked for. Returns the
 * work done. */
unsigned sl_repl_main_poll(struct sl_dp *dp);

/* ---- Replication worker -------------------------------------------------- */

/*
 * The rx path's hook: @m was refused by the client path for its UDP port.
 * When it is a datagram to ha.repl_port from the peer: verify, dispatch,
 * free it and return 1 (dropped ones counted drop_repl_*). Else 0: the
 * caller goes on with @m.
 */
int sl_repl_rx_pkt(struct sl_worker *w, struct rte_mbuf *m);

/*
 * Once per worker iteration, before the group commit: the standby syncs
 * what it appended and ACKs it, heartbeats, the primary's poll (records
 * up to the journal's last seq, persisted here or not); then the open
 * datagrams are sealed and handed to the NIC at once. Returns the work done.
 */
unsigned sl_repl_poll(struct sl_worker *w);

/* CLOCK_MONOTONIC ns at the worker's loop TSC (w->now; no system call). */
uint64_t sl_repl_now_ns(const struct sl_worker *w);
/* CLOCK_REALTIME ms likewise (the header's sent_ms). */
uint64_t sl_repl_wall_ms(const struct sl_worker *w);

/* ---- Sending (replication worker): frames go into the open datagram for
 * peer @peer; a full one is sealed and queued and a new one opened. Each
 * returns 0, or -ENOBUFS (no mbuf: counted drop_repl_no_mbuf; the protocol
 * resends), -EINVAL. ---- */

int sl_repl_send_topic(struct sl_worker *w, unsigned peer, const struct sl_repl_topic *t,
		       const char *name, size_t name_len);
int sl_repl_send_trunc(struct sl_worker *w, unsigned peer, uint32_t rtopic, uint64_t keep);
/* One record (fragmented over datagrams when larger than one): @m's
 * rtopic, seq, epochs, timestamp, producer and hdrs_len; @payload of @len. */
int sl_repl_send_data(struct sl_worker *w, unsigned peer, const struct sl_repl_data *m,
		      const void *payload, uint32_t len);
int sl_repl_send_pos(struct sl_worker *w, unsigned peer, uint32_t rtopic, uint32_t last_epoch,
		     uint64_t last_seq, uint64_t first_seq);
int sl_repl_send_ack(struct sl_worker *w, unsigned peer, uint32_t rtopic, uint32_t flags,
		     uint64_t seq, uint64_t last_seq);
/* Seal and queue the open datagrams now (sl_repl_poll does at its end). */
void sl_repl_flush(struct sl_worker *w);
/* A heartbeat to every peer (none while CANDIDATE); sl_repl_poll sends
 * them every ha.hb_ms. */
void sl_repl_send_hb(struct sl_worker *w, uint64_t now_ns);

/* Main lcore: re-anchor the worker's TSC clocks on the kernel's
 * (sl_repl_main_poll does every 100 ms). */
void sl_repl_clock_anchor(struct sl_repl *r);

/* The role the worker applies now (acquire: pairs with sl_repl_set_role). */
static inline uint32_t
sl_repl_role(const struct sl_repl *r)
{
	return __atomic_load_n(&r->role, __ATOMIC_ACQUIRE);
}

static inline uint32_t
sl_repl_epoch(const struct sl_repl *r)
{
	return __atomic_load_n(&r->epoch, __ATOMIC_ACQUIRE);
}

/* ---- Standby (repl_standby.c; called by repl_link.c's dispatch) ---- */

/* Allocate / free the standby's tables. */
int sl_repl_standby_init(struct sl_repl *r, uint32_t cap);
void sl_repl_standby_fini(struct sl_repl *r);
void sl_repl_standby_on_topic(struct sl_worker *w, const struct sl_repl_topic *f);
void sl_repl_standby_on_trunc(struct sl_worker *w, const struct sl_repl_trunc *f);
void sl_repl_standby_on_data(struct sl_worker *w, const struct sl_repl_data *f);
/* After the commit: sync the journals appended to, send the ACKs due, take
 * the main lcore's finished creations. Returns the work done. */
unsigned sl_repl_standby_poll(struct sl_worker *w);
/* The node (re)joins as a standby: positions are sent again, catch-up
 * progress starts over. */
void sl_repl_standby_rejoin(struct sl_worker *w);

#endif /* SLUICE_DP_REPL_H */
