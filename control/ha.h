/* SPDX-License-Identifier: BSD-3-Clause */
/* Pair leadership through etcd: the decisions (a pure state machine) and the thread that runs them. */

#ifndef SLUICE_CONTROL_HA_H
#define SLUICE_CONTROL_HA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <common/cnc.h>

/*
 * docs/HA.md tells the whole story. In short: etcd holds, under
 * /sluice/pairs/<pair>/, the key "leader" = {"node","epoch","insync"}, and
 * every change of it is a compare-and-swap on its mod_revision. The
 * dataplane hears the peer (struct sl_cnc_ha's dataplane half); this module
 * reads that half, talks to etcd and writes the control half: the role, the
 * epoch, when a new primary may start acknowledging, whether sync
 * publishes may be acknowledged without the standby, and the etcd lease.
 *
 * The decisions are a state machine without I/O (struct sl_ha_fsm,
 * sl_ha_step, sl_ha_result), driven by the thread in ha.c and by tests with
 * scripted etcd answers and clocks. Times are CLOCK_MONOTONIC ns, as in the
 * CnC HA block.
 */

#define SL_HA_NODE_MAX 64
#define SL_HA_LEASE_MS_DEFAULT 100  /* L, until the dataplane says its ha.lease_ms */
#define SL_HA_DETECT_MS_DEFAULT 60
#define SL_HA_FAST_NS 1000000ull    /* the loop's period while a decision is pending */
#define SL_HA_CAS_RETRIES 3	    /* a promotion CAS lost to a change of insync only */

/* The value of the "leader" key, and its revision. */
struct sl_ha_leader {
	int present;		/* 0: no leader key */
	char node[SL_HA_NODE_MAX];
	uint32_t epoch;
	int insync;		/* the standby holds every acknowledged record */
	int64_t mod_rev;
};

/* A copy of the dataplane half of struct sl_cnc_ha, and whether it is there. */
struct sl_ha_dp {
	int ready;		/* a pair dataplane is attached (dp_lease_ms set) */
	uint64_t dp_gen;
	uint32_t dp_role, dp_epoch, lease_ms, detect_ms;
	uint64_t peer_heard_ns;
	uint32_t peer_role, peer_epoch;
	uint64_t behind_since_ns;
	uint32_t caught_up, fenced;
	uint64_t lag_records, lag_bytes, catchup_done, catchup_total;
	uint32_t dp_flags;	/* SL_HA_DP_F_*: a DR replica never promotes itself */
	uint64_t dr_lag_records, dr_lag_bytes, dr_report_ms;
	uint64_t polled_ns;	/* dp_polled_ns: 0 from a dataplane without it */
};

/* Why a compare-and-swap is made. */
enum sl_ha_why {
	SL_HA_WHY_CREATE = 1,	/* first node of the pair: epoch 1 */
	SL_HA_WHY_RESTART,	/* the leader key names this node: take epoch + 1 */
	SL_HA_WHY_PROMOTE,	/* standby, primary silent, in sync */
	SL_HA_WHY_FORCE,	/* sluicectl ha promote --force */
	SL_HA_WHY_INSYNC_OFF,	/* primary: the standby fell behind */
	SL_HA_WHY_INSYNC_ON,	/* primary: the standby caught up */
};

/* What the driver must do next. */
struct sl_ha_act {
	enum { SL_HA_ACT_NONE, SL_HA_ACT_READ, SL_HA_ACT_CAS } kind;
	enum sl_ha_why why;		/* CAS */
	int64_t mod_rev;		/* CAS: compare with (0: the key must not exist) */
	struct sl_ha_leader want;	/* CAS: the value to write */
};

typedef void (*sl_ha_log_fn)(void *arg, const char *line);

/* The state machine. Fields below "published" are what the driver writes
 * into the control half of the CnC block; the rest is its memory. */
struct sl_ha_fsm {
	char node[SL_HA_NODE_MAX];
	sl_ha_log_fn log;
	void *log_arg;

	/* published (ctl_gen = 2 * gen once written) */
	uint64_t gen;
	uint32_t role, epoch, solo_epoch;
	uint64_t ack_from_ns;
	uint64_t etcd_ok_ns;	/* written alone, without a gen bump */
	uint32_t epoch_max;	/* the highest epoch seen (kept across restarts) */

	/* what etcd said last */
	struct sl_ha_leader leader;
	int leader_known;	/* 0 after a CAS whose outcome is unknown */
	uint64_t leader_ns;	/* the time that read was sent */
	int etcd_up;
	uint64_t etcd_down_ns;
	uint64_t next_read_ns;

	/* memory of this role */
	uint64_t role_ns;	/* when it was taken */
	uint64_t attach_ns;	/* when the current dataplane was first seen */
	int primary_seen;	/* standby: heard the primary of its epoch since attach */
	int not_insync_logged;
	int starved_logged;	/* standby: this silence was put down to CPU starvation */
	int dr_silent_logged;	/* DR replica: "primary silent, not promoting" said */
	uint64_t cand_heard_ns;	/* candidate: peer_heard_ns when it decided */
	uint32_t cand_from_epoch;
	int cand_force, cand_tries;
	int cand_resolve;	/* candidate whose CAS outcome is unknown: read first */
	uint64_t insync_on_gen;	/* primary: solo cleared at this gen, awaiting CAS */
	uint64_t insync_retry_ns; /* primary: no new in-sync attempt before this */
	uint64_t spur_until_ns;	/* primary after a promotion: watch for the old one */
	uint64_t spur_heard_ns;
	uint32_t spur_epoch;
	int force_req;		/* sluicectl ha promote --force asked */
	char promote_msg[160];	/* the outcome of the last forced promotion */

	/* counters */
	uint64_t failovers, spurious, etcd_errors, cas_lost;
	uint64_t starved;	/* standby: silences not counted, its dataplane not run since */
	uint64_t last_failover_ms; /* primary silent seen -> promoted, this node */
};

/* A new machine for node @node (role UNKNOWN). */
void sl_ha_fsm_init(struct sl_ha_fsm *f, const char *node, sl_ha_log_fn log, void *log_arg);

/* The dataplane was replaced (or first attached) at @now: start over from
 * UNKNOWN, keeping the counters. */
void sl_ha_fsm_restart(struct sl_ha_fsm *f, uint64_t now);

/* Given the dataplane half @dp at @now, change the role when that needs no
 * etcd answer, and say what to ask etcd (or nothing). */
struct sl_ha_act sl_ha_step(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now);

/*
 * The outcome of act @a, sent at @t_send and answered at @t_resp: @rc 0
 * (READ answered: @cur is the leader, present or not), 1 or 0 (CAS won or
 * lost: @cur the leader now), or < 0 (etcd unreachable or broken: @cur
 * unused).
 */
void sl_ha_result(struct sl_ha_fsm *f, const struct sl_ha_act *a, int rc,
		  const struct sl_ha_leader *cur, const struct sl_ha_dp *dp, uint64_t t_send,
		  uint64_t t_resp);

/* How long the driver may sleep after a step at @now. */
uint64_t sl_ha_wait_ns(const struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now);

/* "primary", "standby"... for SL_HA_ROLE_* @role. */
const char *sl_ha_role_name(uint32_t role);

/* The leader key's JSON value, and its parse: 0 or -EPROTO. */
int sl_ha_leader_encode(const struct sl_ha_leader *l, char *out, size_t cap);
int sl_ha_leader_decode(const char *json, size_t len, struct sl_ha_leader *l);

/* ---- the thread (ha.c) ---- */

struct sl_ha_conf {
	const char *etcd;	/* endpoint URLs, comma-separated */
	const char *pair;	/* the pair's name in etcd */
	const char *node;	/* this node's name */
	const char *dp_name;	/* the dataplane instance whose CnC region to use */
	unsigned connect_ms, total_ms; /* etcd timeouts (0: defaults) */
};

struct sl_ha;

/* Validate @c (names: 1-63 of [A-Za-z0-9._-]), open the etcd client and
 * start the thread. Returns 0, -EINVAL (with words in @err), -ENOMEM or
 * -errno of pthread_create. */
int sl_ha_start(struct sl_ha **out, const struct sl_ha_conf *c, char *err, size_t errlen);

/* Stop the thread (joins it), leave the CnC block as it is, free. */
void sl_ha_stop(struct sl_ha *h);

/* The ha.status answer (docs/CONTROL.md): a new object. Thread-safe. */
json_t *sl_ha_status_json(struct sl_ha *h);

/* What a DR replica's promotion may lose: its primary's last lag report. */
struct sl_ha_dr_lag {
	uint64_t records, bytes;
	uint64_t report_ms;	/* the primary's CLOCK_REALTIME of that report (0: none) */
};

/* Ask for a forced promotion of this node (sluicectl ha promote --force,
 * or --dr: @dr, which must be a DR replica's). 0 asked (its outcome shows
 * in ha.status "promote"; *@lag, when not NULL, the DR lag as of the ask),
 * -EALREADY (primary already), -EINVAL (not a standby now, or --dr on a
 * node that is no DR replica: words in @err). Thread-safe. */
int sl_ha_promote(struct sl_ha *h, int dr, struct sl_ha_dr_lag *lag, char *err, size_t errlen);

#endif /* SLUICE_CONTROL_HA_H */
