/* SPDX-License-Identifier: BSD-3-Clause */
/* State shared by the dataplane's files: ports, workers, pools, handoff format. */

#ifndef SLUICE_DP_DATAPLANE_H
#define SLUICE_DP_DATAPLANE_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <common/cnc.h>

#include "authz.h"
#include "config.h"
#include "counters.h"
#include "group_dp.h"
#include "ha.h"
#include "route.h"
#include "session.h"
#include "vip.h"

#define SL_TX_BUF 64 /* per worker, per port: flushed when full or per loop */

/* Runtime view of one configured port. */
struct sl_port_rt {
	uint16_t port_id;
	uint16_t udp_port; /* network order */
	uint32_t ip;	   /* network order */
	uint8_t mac[6];
	uint16_t n_txq;
	uint8_t multiseg; /* tx takes chained mbufs: zero-copy fan-out */
};

enum sl_handoff_kind {
	SL_HO_PUBLISH = 1,   /* owner: route and fan out the frame */
	SL_HO_SUBSCRIBE,     /* owner: add the sender to the topic */
	SL_HO_UNSUBSCRIBE,   /* owner: remove it */
	SL_HO_UNSUB_ALL,     /* owner: a session ended; m is NULL */
	SL_HO_RESOLVE,	     /* main lcore: create the topic */
	SL_HO_RESOLVE_DONE,  /* rx worker: answer the RESOLVE, topic holds the id */
	SL_HO_TOPIC_DELETE,  /* owner: the topic was deleted; m is NULL */
	SL_HO_PSUB,	     /* main lcore: a pattern subscription (m: the frame) */
	SL_HO_PUNSUB,	     /* main lcore: its removal */
	SL_HO_PSUB_DONE,     /* rx worker: answer it, code holds the result */
	SL_HO_PSUB_ADD,	     /* owner: subscribe the session in m's headers */
	SL_HO_PSUB_DEL,	     /* owner: unsubscribe session from topic; m NULL */
	SL_HO_SESSION_END,   /* main lcore: drop the session's patterns */
	SL_HO_SHM_ATTACH,    /* home worker: poll shm client slot topic */
	SL_HO_SHM_DETACH,    /* home worker: its client hung up; let go */
	SL_HO_SHM_DETACHED,  /* main lcore: the home worker let go of slot topic */
	SL_HO_NAK,	     /* owner: resend a range to the sender (m: the frame) */
	SL_HO_CREDIT,	     /* owner: raise the sender's credit (m: the frame) */
	SL_HO_PRODUCER,	     /* main lcore: bind a producer (m: the frame; code: uid) */
	SL_HO_PRODUCER_DONE, /* rx worker: answer it; code, producer_id/epoch hold the result */
	SL_HO_AUTHZ_SWEEP,   /* every worker: re-check round code (1 subscribers, 2 sessions)
			      * against the table; topic: the sweep's number */
	SL_HO_AUTHZ_SWEPT,   /* main lcore: src_worker did round code of sweep topic */
	SL_HO_GJOIN,	     /* owner: a GJOIN (m: the frame; code: uid, producer_epoch:
			      * its key serial) */
	SL_HO_GFRAME,	     /* owner: a GCTL, GACK or GNAK (m: the frame) */
	SL_HO_GROUP_ADD,     /* owner: take group topic (the group id) */
	SL_HO_GROUP_UPDATE,  /* owner: apply group topic's staged settings */
	SL_HO_GROUP_DEL,     /* owner: let go of group topic, then SL_HO_GROUP_GONE */
	SL_HO_GROUP_RESET,   /* owner: move group topic (code: how, producer_id: arg) */
	SL_HO_GROUP_GONE,    /* main lcore: free group topic */
	SL_HO_KINDS
};

#define SL_PSUB_MAX 1024 /* pattern subscriptions, all sessions together (full: SL_E_SUB_TABLE_FULL, drop psub_table_full) */

/* A pattern subscription, kept by the main lcore. */
struct sl_psub {
	uint32_t session;
	uint16_t uid;
	uint8_t used;
	uint8_t src_worker;
	uint16_t off;	    /* the PSUBSCRIBE frame's offset in m */
	uint8_t clear;	    /* an unencrypted UDP session: never reaches a topic
			     * whose encryption policy is required */
	struct rte_mbuf *m; /* a reference: the subscriber's address headers */
	char pattern[SL_MAX_TOPIC_NAME + 1];
};

/*
 * One element of a handoff ring (rte_ring with 40-byte elements). When m is
 * set, the element holds one reference to it; the receiver frees it. A
 * PUBLISH carries the idempotent producer of its session (0: none) to the
 * topic's owner, which deduplicates by it.
 */
struct sl_handoff {
	struct rte_mbuf *m;
	uint32_t session;
	uint16_t off; /* frame offset from the mbuf's data start */
	uint16_t len;
	uint32_t topic;
	uint8_t kind;
	uint8_t src_worker;
	uint16_t code; /* enum sl_error_code result of the main lcore's work */
	uint64_t producer_id;
	uint32_t producer_epoch;
	uint16_t flags;	 /* SL_HO_F_* */
	uint8_t version; /* SUBSCRIBE: its session's protocol version */
	uint8_t reserved;
};
_Static_assert(sizeof(struct sl_handoff) == 40, "handoff element size");

/* SL_HO_PSUB: the session is an unencrypted UDP one (PROTOCOL.md 13.4). */
#define SL_HO_F_CLEAR (1u << 0)

struct sl_dp;
struct sl_durable_state;
struct sl_dedup;
struct sl_producer_reg;

#define SL_BACKLOG_MAX 4096
/* A backlog destination besides the workers: the main lcore's slow-path
 * ring (a session's end, which its pattern subscriptions must hear of). */
#define SL_BACKLOG_MAIN SL_CONF_MAX_WORKERS

struct sl_backlog {
	uint32_t dst;
	struct sl_handoff h;
};

#define SL_HELD_MAX 4096 /* messages held back per worker (policy block) */

/* A message held for subscribers without room; holds a reference to m. */
struct sl_held {
	struct rte_mbuf *m;
	uint16_t off;
	uint16_t len;
	uint32_t topic;
	uint64_t seq;
};

struct sl_large;
struct sl_repl;
struct sl_shm;
struct sl_topic_spec;

/* A topic deletion waiting for its owner to close the topic's journal. */
struct sl_dp_deletion {
	uint32_t topic;
	uint8_t pending; /* control commands after it wait until it is done */
	uint8_t sent;	 /* the owner has been told */
	uint8_t warned;
	uint64_t since_ns;
	struct sl_cnc_result result; /* its result, pushed once done */
};

/*
 * A revocation sweep (worker_revoke.c): after a command changed users or
 * ACLs, every worker re-checks its subscribers (round 1), then its sessions
 * (round 2); the command's result waits until all have.
 */
struct sl_dp_sweep {
	uint32_t gen;	 /* number of the sweep in progress */
	uint8_t round;	 /* 1 or 2; 0: none */
	uint8_t pending; /* a result waits for it; later commands wait too */
	uint8_t warned;
	uint8_t told[SL_CONF_MAX_WORKERS];  /* the round's handoff is in its ring */
	uint8_t acked[SL_CONF_MAX_WORKERS]; /* it did the round */
	uint64_t since_ns;
	struct sl_cnc_result result;
};

#define SL_TX_PEND 32 /* UDP peers with an open (batching) datagram, per worker */

/* A datagram being filled with frames for one UDP peer (worker_tx.c). */
struct sl_tx_pend {
	struct rte_mbuf *m; /* headers built, frames appended; NULL = free */
	struct sl_peer_udp peer;
	uint16_t pidx;
	uint16_t frames; /* frames in it */
	uint32_t len;	 /* UDP payload bytes so far (a seal's header included) */
	/* A sealed session's datagram: its id, the seal state and where its
	 * precomputed key lies (its worker's table; the id is checked again
	 * after sealing); 0 / NULL for an unsealed one. */
	uint32_t session;
	uint8_t enc;
	struct sl_session_tx *stx;
	const struct sl_seal_key *key;
};

/* The last authentication failure a worker saw, for the main lcore's
 * rate-limited log (worker_auth.c). One writer; relaxed. */
struct sl_auth_log {
	uint64_t count;
	uint32_t ip;
	uint16_t port;
	uint32_t why; /* enum sl_drop */
	char user[32];
};

/* One worker lcore: polls one rx queue, owns the topics id % n_workers. */
struct sl_worker {
	struct sl_counters ctr; /* first: its own cache lines */
	uint32_t idx;
	uint32_t lcore;
	uint16_t port_idx; /* index into dp->ports of the polled port */
	uint16_t queue;
	struct rte_ring *in; /* MP/SC: other workers and main enqueue here */
	struct sl_dp *dp;
	struct sl_session_table sessions;
	uint64_t now; /* TSC at the start of this loop iteration */
	uint64_t next_timer;
	uint32_t idle_polls;
	/* Per datagram: at most one HELLO and one unsolicited ERROR, so a
	 * forged source address gets no more packets back than it sent. */
	uint8_t dgram_hello, dgram_error;
	/* The session whose key sealed the datagram at hand, or NULL. */
	struct sl_session *dgram_sealed;
	struct sl_rng rng; /* server nonces: no system call */
	struct sl_id_cache tx_idc; /* session ids of the frames it sends */
	struct sl_auth_log authlog;
	uint16_t n_tx[SL_CONF_MAX_PORTS];
	struct rte_mbuf *tx[SL_CONF_MAX_PORTS][SL_TX_BUF];
	uint16_t n_out[SL_CONF_MAX_WORKERS];
	struct sl_handoff *out; /* [n_workers][burst] staged handoffs */
	struct sl_durable_state *dur; /* journals: pending deliveries, acks, replays */
	struct sl_dedup *dedup;	      /* idempotent producers of the topics it owns */
	/* Control handoffs (subscribe, unsubscribe, session end) that met a
	 * full ring wait here, in order per destination, and are retried:
	 * dropping one would leave a subscription behind. */
	struct sl_backlog *backlog;
	uint32_t n_backlog;
	uint16_t n_backlog_dst[SL_CONF_MAX_WORKERS + 1]; /* + SL_BACKLOG_MAIN */
	/* Messages held back for subscribers without room (policy block). */
	struct sl_held *held;
	uint32_t n_held;
	uint32_t held_pass;
	/* Messages larger than a datagram: arena, reassembly (large.h). */
	struct sl_large *large;
	/* Shared-memory clients whose tx ring this worker polls (slots), then
	 * (SL_SHM_LISTS) those it committed to since its last doorbell check. */
	uint32_t *shm;
	uint32_t n_shm;
	uint32_t n_shm_rang;
	uint8_t shm_armed; /* home clients told it may sleep (their tx waiting) */
	/* Retransmit windows of the topics this worker owns (retx.c): one
	 * ring of retx_cap slots per owned topic, allocated at start. */
	struct sl_retx_slot *retx_arena;
	uint32_t retx_cap;	 /* slots per topic: a power of two, or 0 */
	uint32_t retx_budget;	 /* messages this iteration may still resend */
	uint64_t retx_bytes;	 /* mbuf bytes the windows hold */
	uint64_t retx_large;	 /* of those, large-message arena bytes */
	uint64_t retx_bytes_max;
	/* What the windows hold, oldest first, whatever the topic: the byte
	 * bound evicts from here, so a topic gone quiet cannot keep the
	 * budget from a busy one. Entries of messages already gone are
	 * skipped. */
	struct sl_retx_ref *retx_fifo;
	uint32_t retx_fifo_mask;
	uint64_t retx_fifo_head, retx_fifo_tail;
	/* Window references not yet added to retx_pend_m's count: while the
	 * frames of one mbuf (retx_batch: a shared-memory batch, a datagram)
	 * are handled, the window's references to that mbuf are added once,
	 * by sl_retx_flush, before its handler lets go of it (an atomic add
	 * a message otherwise). Other mbufs (a reassembled large message, a
	 * handoff) are referenced at once. */
	struct rte_mbuf *retx_batch;
	struct rte_mbuf *retx_pend_m;
	uint32_t retx_pend_n;
	/* Topics delivered to lately: STATUS once they go idle (flow.c). */
	uint32_t *status_list;
	uint32_t n_status, status_max;
	uint64_t next_status_scan, next_status_hb; /* TSC */
	/* DELIVER batching: one open datagram per UDP peer, flushed with tx. */
	struct sl_tx_pend pend[SL_TX_PEND];
	uint32_t n_pend, pend_next;
	/* Consumer groups of the topics it owns (worker_group.c). */
	struct sl_group_rec *grp[SL_DP_MAX_GROUPS];
	uint32_t n_grp;
	/* Ends session @s (its subscriptions everywhere, then itself): how the
	 * transports below the worker end a session without calling up. */
	void (*session_end)(struct sl_worker *w, struct sl_session *s);
	/* A pair member (dp->ha): the role, epoch and fence as of this
	 * iteration's start, and the leader epoch stamped in the header of
	 * every frame it sends to a client (0 on a single node). */
	struct sl_ha_view ha_view;
	uint32_t tx_epoch;
} __rte_cache_aligned;

struct sl_dp {
	struct sl_conf conf;
	struct sl_route route;
	struct rte_mempool *pkt_pool;	/* rx and reply frames */
	struct rte_mempool *hdr_pool;	/* DELIVER headers, chained to payload */
	struct rte_mempool *clone_pool; /* indirect mbufs: shared payload */
	struct rte_ring *slow;		/* workers -> main lcore */
	uint16_t n_ports;
	uint16_t n_workers;
	uint64_t tsc_hz;
	uint64_t incarnation; /* random at start: WELCOME tells clients of a restart */
	/* Secrets drawn at start: the CHALLENGE cookie's key and the session-id
	 * permutation's key (common/crypto.h). */
	uint8_t cookie_secret[SL_COOKIE_SECRET_LEN];
	uint8_t session_idkey[SL_SESSION_ID_KEY_LEN];
	uint8_t secrets_drawn;
	/* Sessions may seal with AES-256-GCM: this CPU and build can, and
	 * the configuration's aes_gcm is not off. Set at start, read-only. */
	uint8_t aes_gcm;
	struct sl_port_rt ports[SL_CONF_MAX_PORTS];
	struct sl_vip vip; /* the pair's service address (vip.h) */
	struct sl_worker *workers[SL_CONF_MAX_WORKERS];
	struct sl_counters main_ctr; /* main lcore's own counters */
	volatile int quit;	     /* set by the signal handler */
	/* Control plane (main lcore only, except authz which workers read). */
	struct sl_cnc *cnc;
	struct sl_authz_builder authz_b;
	struct sl_authz *authz;	     /* current table: release store, acquire load */
	struct sl_topic_spec *specs;	/* [route.cap]: each topic's spec (topic.c), main lcore */
	/* Told of each topic created, once it is visible (main lcore; topic.c
	 * calls it): pattern subscriptions expand to it. NULL: nobody is. */
	void (*on_topic_created)(struct sl_dp *dp, uint32_t id);
	struct sl_dp_deletion deleting;
	struct sl_dp_sweep sweep;
	uint8_t authz_dirty;
	uint64_t next_stats_ns;
	struct sl_dp_stats *stats;	  /* the counters area's slots (stats.c) */
	struct sl_dp_lh *lh;		  /* latency histograms (lathist.h), or NULL */
	struct sl_authz_retired *retired; /* tables waiting for a grace period */
	struct sl_psub *psubs;		  /* [SL_PSUB_MAX], main lcore only */
	struct sl_shm *shm;		  /* shared-memory clients; NULL when off */
	struct sl_dp_groups *groups;	   /* consumer groups (group_dp.h); NULL: none */
	struct sl_producer_reg *producers; /* producer ids' latest epochs, main lcore;
					    * NULL: PRODUCER refused (SL_E_BUSY) */
	struct sl_repl *repl; /* replication of a pair member (repl.h); NULL: single node */
	struct sl_ha *ha;     /* role, epoch, fence of a pair member (ha.h); NULL: single node */
	struct sl_repl_prim *repl_prim; /* the primary's replication (repl_primary.h) */
	/* Main lcore: handlers of the slow-path ring, by kind (lcore_main.h). */
	void (*slow_fn[SL_HO_KINDS])(struct sl_dp *dp, struct sl_handoff *h);
};

/* The authorization table a worker uses for the frame at hand. */
static inline const struct sl_authz *
sl_dp_authz(const struct sl_dp *dp)
{
	/* Acquire: pairs with the release store in sl_dp_ctl_poll. */
	return __atomic_load_n(&dp->authz, __ATOMIC_ACQUIRE);
}

/* Allocate the worker's tables and rings. Returns 0 or -errno. */
int sl_worker_init(struct sl_dp *dp, uint32_t idx);
void sl_worker_fini(struct sl_worker *w);

/* The lcore entry point; @arg is the struct sl_worker. Returns at dp->quit. */
int sl_worker_main(void *arg);
/* One iteration of the worker's loop (rx bursts, handoffs, commit, tx
 * flush, timers), for tests that drive a worker themselves. Returns the
 * work done. */
unsigned sl_worker_poll(struct sl_worker *w);

/* Main lcore duty: log the workers' authentication failures (they only
 * record them), at most one line per worker a second. */
unsigned sl_worker_auth_log_poll(struct sl_dp *dp);

/* Sum of counter @idx (a drop reason when @drop) over the main lcore and
 * every worker; relaxed reads, safe from any thread. */
uint64_t sl_dp_ctr_sum(const struct sl_dp *dp, unsigned idx, int drop);

/* Control plane on the main lcore (ctl.c): the CnC region, commands, the
 * authorization table, the counters area's samples (stats.c). init returns
 * 0 or -errno (the dataplane runs without control when the region cannot
 * be created). */
int sl_dp_ctl_init(struct sl_dp *dp);
/* Drain commands, publish tables and stats; returns the work done. */
unsigned sl_dp_ctl_poll(struct sl_dp *dp);
/* Slow-path handler of SL_HO_AUTHZ_SWEPT: a worker did a sweep's round. */
void sl_dp_ctl_swept(struct sl_dp *dp, struct sl_handoff *h);
void sl_dp_ctl_fini(struct sl_dp *dp);

/* Pattern subscriptions on the main lcore (psub.c). init also sets
 * dp->on_topic_created, so that a topic created later that matches a
 * pattern gets its sessions; fini clears it. */
int sl_psub_init(struct sl_dp *dp);
void sl_psub_fini(struct sl_dp *dp);
/* Handle a PSUB, PUNSUB or SESSION_END element from a worker. */
void sl_psub_handle(struct sl_dp *dp, struct sl_handoff *h);

/* Register the /sluice/... rte_telemetry commands. Returns 0 or -errno. */
int sl_telemetry_init(struct sl_dp *dp);
/* Make the commands refuse (-EBUSY) and wait for those running to finish. */
void sl_telemetry_stop(void);

#endif /* SLUICE_DP_DATAPLANE_H */
