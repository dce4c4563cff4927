/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer groups in the dataplane: the group record, the dataplane's group table, and the entry points of the main lcore and the owner worker. */

#ifndef SLUICE_DP_GROUP_DP_H
#define SLUICE_DP_GROUP_DP_H

#include <stddef.h>
#include <stdint.h>

#include <common/cnc.h>
#include <common/filter.h>
#include <common/proto.h>

#include "group.h"
#include "peer.h"

struct rte_mbuf;

/*
 * A group is created by control (CnC GROUP_UPSERT) on the main lcore, which
 * allocates its record and the engine's memory, then hands it to the owner
 * worker of its topic (SL_HO_GROUP_ADD). From then on the owner is the only
 * writer of everything under "owner" below; the main lcore reads counters
 * (relaxed, single-writer words) for the counters area and frees the record
 * only after the owner gave it back (SL_HO_GROUP_GONE). docs/GROUPS.md 1.7.
 */

#define SL_DP_MAX_GROUPS 256u	    /* group ids 1..255, dataplane-wide */
#define SL_DP_GROUP_MEMBERS 64u	    /* member slots per group (engine's bound) */
#define SL_DP_GROUP_DEF_INFLIGHT 65536u
#define SL_DP_GROUP_DEF_BLOCKED 4096u
/* The largest payload area (header block and payload) a GDELIVER to a UDP
 * member carries: the frame must fit one datagram, sealed or not. */
#define SL_DP_GROUP_UDP_MAX (SL_MAX_DATAGRAM - 40u - 48u)

/* A group's counters the worker keeps besides the engine's (struct
 * sl_group_stats); the counters area shows both (counters.h). */
#define SL_GROUPX_LIST(X)                                                             \
	X(dead_dropped) X(filter_skipped) X(gap_lost) X(too_large) X(reset_dropped)    \
	X(send_failed) X(ack_not_member)
#define SL_X_GROUPX_ENUM(n) SL_GX_##n,
enum { SL_GROUPX_LIST(SL_X_GROUPX_ENUM) SL_GX_MAX };
#undef SL_X_GROUPX_ENUM

/* A message an unsettled entry of a group on a `none` topic needs after
 * the retransmit window let go of it: a reference on its mbuf (owner only). */
struct sl_group_ref {
	struct rte_mbuf *m; /* NULL: free */
	uint64_t seq;
	uint16_t off, len;
	uint32_t reserved;
};

/* Most such references a group holds (its unsettled messages on a `none`
 * topic): past it, and while the packet pool runs low, the group takes no
 * new message (back-pressure; behind the window it then gets a gap). */
#define SL_DP_GROUP_REFS 8192u

/* Where a member's deliveries go (owner only; index = its engine slot). */
struct sl_group_msub {
	union sl_peer peer;
	uint32_t session; /* 0: none (slot free, or the member was lost) */
	uint32_t user;	  /* SL_AUTHZ_SUB_USER of its session */
	uint64_t nacked;  /* GNAKs accepted from it */
	uint8_t home;	  /* worker its session lives on */
	uint8_t version;  /* its session's protocol version */
	uint8_t user_paused; /* GCTL PAUSE */
	uint8_t flow_paused; /* paused by the owner: its shared-memory ring is full */
	uint8_t reserved[4];
};

struct sl_group_rec {
	/* Set by the main lcore before the owner is told; fixed after. */
	uint32_t id;
	uint32_t topic;
	char name[SL_CNC_GROUP_NAME_LEN];
	char topic_name[SL_CNC_NAME_LEN];
	struct sl_group *g;
	void *mem; /* the engine's memory, main lcore allocates and frees it */
	size_t mem_len;
	uint8_t durable; /* SL_CNC_GROUP_F_DURABLE */
	uint8_t retain;	 /* SL_CNC_GROUP_F_RETAIN */
	uint8_t dying;	 /* main lcore: deleted, waiting for the owner */
	uint8_t reserved;
	/* Settings: @spec is the owner's copy (set before the handoff, then
	 * changed only by the owner). A change staged by the main lcore in
	 * @spec_next goes out with spec_gen (release) and an
	 * SL_HO_GROUP_UPDATE; the owner applies it and stores spec_applied
	 * (release) = spec_gen. One staged change at a time. */
	struct sl_cnc_group spec;
	struct sl_cnc_group spec_next;
	uint32_t spec_gen, spec_applied;
	/* --- owner --- */
	uint8_t live;	    /* on the owner's list */
	uint8_t has_filter; /* the group's filter (set by its first member) */
	uint8_t key_affinity; /* policy key-affinity: messages' keys are hashed */
	uint8_t give_back;  /* deleted: SL_HO_GROUP_GONE still to send */
	uint64_t cursor;    /* next topic seq to offer (relaxed: stats read it) */
	uint64_t changes;   /* bumped on every change of position or unsettled set:
			     * a durable save compares it with the last one saved */
	struct sl_filter filter;
	struct sl_group_msub m[SL_DP_GROUP_MEMBERS];
	uint64_t ctr[SL_GX_MAX]; /* SL_GROUPX_LIST, owner writes (sl_ctr_add) */
	/* `none` topics: references on the unsettled messages (open addressing
	 * by seq, ref_cap a power of two, at most ref_limit used); NULL for a
	 * journaled topic, which reads them back from its journal. Main lcore
	 * allocates, owner uses. */
	struct sl_group_ref *refs;
	uint32_t ref_cap, ref_limit, n_refs, ref_sweep;
	/* Durable groups: the persistence state group_durable.c hangs here
	 * (snapshot buffers); NULL for an in-memory group. */
	void *dur;
};

/* The dataplane's groups (dp->groups). rec: main lcore's table (a record
 * stays until its owner gave it back). topic_of: the topic of a live group
 * id, 0 none; written by the main lcore (release), read by any worker to
 * route GCTL/GACK/GNAK to the owner. */
struct sl_dp_groups {
	struct sl_group_rec *rec[SL_DP_MAX_GROUPS];
	uint32_t topic_of[SL_DP_MAX_GROUPS];
	/* Counters-area slots (stats.c): the group's, and each member's. */
	int32_t slot[SL_DP_MAX_GROUPS];
	int32_t mslot[SL_DP_MAX_GROUPS][SL_DP_GROUP_MEMBERS];
	uint64_t mslot_id[SL_DP_MAX_GROUPS][SL_DP_GROUP_MEMBERS]; /* member it shows */
};

struct sl_dp;
struct sl_worker;
struct sl_handoff;
struct sl_frame;
struct sl_cnc_result;
struct sl_authz;

/* --- main lcore (group_ctl.c) --- */

/* Allocate the table (dp->groups). 0 or -ENOMEM. */
int sl_dp_groups_init(struct sl_dp *dp);
/* Free every record (workers stopped). */
void sl_dp_groups_fini(struct sl_dp *dp);
/* CnC GROUP_UPSERT, GROUP_DELETE, GROUP_RESET: 0 or -errno with @r's message set. */
int sl_dp_group_upsert(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r);
int sl_dp_group_delete(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r);
int sl_dp_group_reset(struct sl_dp *dp, const struct sl_cnc_group *c, struct sl_cnc_result *r);
/* Topic @topic is being deleted: its groups go with it. */
void sl_dp_group_topic_gone(struct sl_dp *dp, uint32_t topic);
/* Slow-path handler of SL_HO_GROUP_GONE: the owner let go of a group. */
void sl_dp_group_gone(struct sl_dp *dp, struct sl_handoff *h);
/* The engine configuration of @c (defaults filled in). */
void sl_dp_group_cfg(const struct sl_cnc_group *c, struct sl_group_cfg *cfg);

/* --- worker (worker_group.c) --- */

/* A group frame (GJOIN, GCTL, GACK, GNAK) from session @sess on its home
 * worker: checked and handed to the group's owner. */
struct sl_session;
void sl_worker_group_frame(struct sl_worker *w, struct rte_mbuf *m, const struct sl_frame *f,
			   uint16_t data_off, const union sl_peer *peer, struct sl_session *sess);
/* Group handoffs (SL_HO_GJOIN ... SL_HO_GROUP_RESET); other kinds ignored. */
void sl_worker_group_handoff(struct sl_worker *w, const struct sl_handoff *h);
/* Owner: dispatch (redeliveries, then new messages). Returns the work done. */
unsigned sl_worker_group_poll(struct sl_worker *w);
/* Session @session ended: its memberships of this worker's groups are lost. */
void sl_worker_group_session_gone(struct sl_worker *w, uint32_t session);
/* Revocation sweep, round 1: members without the consume right leave. */
void sl_worker_group_sweep(struct sl_worker *w, const struct sl_authz *a);
/* Owner: the group's position moves (GROUP_RESET @how, @arg). */
void sl_worker_group_reset(struct sl_worker *w, struct sl_group_rec *r, uint32_t how, uint64_t arg);

#endif /* SLUICE_DP_GROUP_DP_H */
