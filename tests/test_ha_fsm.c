/* SPDX-License-Identifier: BSD-3-Clause */
/* Pair leadership decisions (control/ha_fsm.c) with scripted etcd answers and clocks: no etcd, no dataplane. */

#include <stdio.h>
#include <string.h>

#include "ha.h"

#include "check.h"

#define MS 1000000ull
#define L (100 * MS)
#define D (60 * MS)

static char last_log[512];
static int n_logs;

static void
capture(void *arg, const char *line)
{
	(void)arg;
	snprintf(last_log, sizeof(last_log), "%s", line);
	n_logs++;
}

static struct sl_ha_dp
dp_ready(void)
{
	struct sl_ha_dp dp;

	memset(&dp, 0, sizeof(dp));
	dp.ready = 1;
	dp.lease_ms = 100;
	dp.detect_ms = 60;
	return dp;
}

static struct sl_ha_leader
leader(const char *node, uint32_t epoch, int insync, int64_t rev)
{
	struct sl_ha_leader l;

	memset(&l, 0, sizeof(l));
	if (node == NULL)
		return l;
	l.present = 1;
	snprintf(l.node, sizeof(l.node), "%s", node);
	l.epoch = epoch;
	l.insync = insync;
	l.mod_rev = rev;
	return l;
}

/* The dataplane applies what control wrote. */
static void
apply(const struct sl_ha_fsm *f, struct sl_ha_dp *dp)
{
	dp->dp_gen = 2 * f->gen;
	dp->dp_role = f->role;
	dp->dp_epoch = f->epoch;
}

/* Answer a read with @l at @now (1 ms round trip). */
static void
answer_read(struct sl_ha_fsm *f, struct sl_ha_dp *dp, struct sl_ha_leader l, uint64_t now)
{
	struct sl_ha_act a = sl_ha_step(f, dp, now);

	CHECK_EQ(a.kind, SL_HA_ACT_READ);
	sl_ha_result(f, &a, 0, &l, dp, now, now + MS);
}

/* A fresh primary of epoch @epoch at time @now, as the first node. */
static void
make_primary(struct sl_ha_fsm *f, struct sl_ha_dp *dp, uint64_t now)
{
	struct sl_ha_leader w;
	struct sl_ha_act a;

	sl_ha_fsm_init(f, "a", capture, NULL);
	sl_ha_fsm_restart(f, now);
	answer_read(f, dp, leader(NULL, 0, 0, 0), now);
	a = sl_ha_step(f, dp, now + MS);
	CHECK_EQ(a.kind, SL_HA_ACT_CAS);
	CHECK_EQ(a.why, SL_HA_WHY_CREATE);
	CHECK_EQ(a.mod_rev, 0);
	CHECK_EQ(a.want.epoch, 1);
	CHECK(a.want.insync == 0 && strcmp(a.want.node, "a") == 0);
	w = a.want;
	w.mod_rev = 10;
	sl_ha_result(f, &a, 1, &w, dp, now + MS, now + 2 * MS);
	apply(f, dp);
}

static void
test_start_roles(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready(), none;
	struct sl_ha_act a;
	uint64_t t = 1000 * MS;
	struct sl_ha_leader w;

	/* Nothing happens without a pair dataplane. */
	memset(&none, 0, sizeof(none));
	sl_ha_fsm_init(&f, "a", capture, NULL);
	CHECK_EQ(sl_ha_step(&f, &none, t).kind, SL_HA_ACT_NONE);

	/* First node: epoch 1, acknowledging at once, alone (no standby in sync). */
	make_primary(&f, &dp, t);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(f.epoch, 1);
	CHECK_EQ(f.ack_from_ns, t + 2 * MS);
	CHECK_EQ(f.solo_epoch, 1);
	CHECK_EQ(f.etcd_ok_ns, t + MS);

	/* Another leader: standby of its epoch. */
	sl_ha_fsm_init(&f, "b", capture, NULL);
	sl_ha_fsm_restart(&f, t);
	answer_read(&f, &dp, leader("a", 3, 1, 7), t);
	CHECK_EQ(sl_ha_step(&f, &dp, t + MS).kind, SL_HA_ACT_NONE);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(f.epoch, 3);
	CHECK_EQ(f.solo_epoch, 0);

	/* The leader names this node (a restart): next epoch, insync kept. */
	sl_ha_fsm_init(&f, "a", capture, NULL);
	sl_ha_fsm_restart(&f, t);
	answer_read(&f, &dp, leader("a", 3, 1, 7), t);
	a = sl_ha_step(&f, &dp, t + MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_RESTART);
	CHECK(a.mod_rev == 7 && a.want.epoch == 4 && a.want.insync == 1);
	/* Lost to the other node meanwhile: standby of its epoch. */
	w = leader("b", 4, 0, 9);
	sl_ha_result(&f, &a, 0, &w, &dp, t + MS, t + 2 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_UNKNOWN);
	sl_ha_step(&f, &dp, t + 3 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(f.epoch, 4);

	/* etcd unreachable at start: stays UNKNOWN, retries at L/4. */
	sl_ha_fsm_init(&f, "a", capture, NULL);
	sl_ha_fsm_restart(&f, t);
	a = sl_ha_step(&f, &dp, t);
	CHECK_EQ(a.kind, SL_HA_ACT_READ);
	sl_ha_result(&f, &a, -111, NULL, &dp, t, t + MS);
	CHECK_EQ(f.role, SL_HA_ROLE_UNKNOWN);
	CHECK_EQ(f.etcd_up, 0);
	CHECK_EQ(f.etcd_errors, 1);
	CHECK_EQ(sl_ha_step(&f, &dp, t + 2 * MS).kind, SL_HA_ACT_NONE);
	CHECK_EQ(sl_ha_step(&f, &dp, t + MS + L / 4).kind, SL_HA_ACT_READ);
}

/* A standby that has heard its primary, then silence: promotion. */
static void
make_standby(struct sl_ha_fsm *f, struct sl_ha_dp *dp, uint64_t t, int insync)
{
	sl_ha_fsm_init(f, "b", capture, NULL);
	sl_ha_fsm_restart(f, t);
	answer_read(f, dp, leader("a", 1, insync, 20), t);
	sl_ha_step(f, dp, t + MS);
	apply(f, dp);
	dp->peer_role = SL_HA_ROLE_PRIMARY;
	dp->peer_epoch = 1;
	dp->peer_heard_ns = t + 2 * MS;
	CHECK_EQ(sl_ha_step(f, dp, t + 2 * MS).kind, SL_HA_ACT_NONE);
	CHECK_EQ(f->role, SL_HA_ROLE_STANDBY);
	CHECK(f->primary_seen);
}

static void
test_promotion(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready();
	struct sl_ha_act a;
	struct sl_ha_leader w;
	uint64_t t = 5000 * MS, heard, t_resp;

	make_standby(&f, &dp, t, 1);
	heard = dp.peer_heard_ns;
	/* Not yet silent for detect: nothing. Fast polling once a third of it passed. */
	CHECK(sl_ha_step(&f, &dp, heard + D).kind != SL_HA_ACT_CAS);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(sl_ha_wait_ns(&f, &dp, heard + D / 2), SL_HA_FAST_NS);
	CHECK(sl_ha_wait_ns(&f, &dp, heard + MS) > SL_HA_FAST_NS);
	/* Silent: candidate first (the dataplane stops its heartbeats) ... */
	CHECK_EQ(sl_ha_step(&f, &dp, heard + D + MS).kind, SL_HA_ACT_NONE);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	/* ... no CAS before the dataplane applied it ... */
	CHECK_EQ(sl_ha_step(&f, &dp, heard + D + 2 * MS).kind, SL_HA_ACT_NONE);
	apply(&f, &dp);
	a = sl_ha_step(&f, &dp, heard + D + 3 * MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_PROMOTE);
	CHECK(a.mod_rev == 20 && a.want.epoch == 2 && !a.want.insync);
	CHECK(strcmp(a.want.node, "b") == 0);
	/* ... won at t_resp: primary of epoch 2, acknowledging from t_resp + L + 10%. */
	t_resp = heard + D + 5 * MS;
	w = a.want;
	w.mod_rev = 21;
	sl_ha_result(&f, &a, 1, &w, &dp, heard + D + 3 * MS, t_resp);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(f.epoch, 2);
	CHECK(f.ack_from_ns >= t_resp + L);
	CHECK_EQ(f.ack_from_ns, t_resp + L + L / 10);
	CHECK_EQ(f.solo_epoch, 2);
	CHECK_EQ(f.failovers, 1);
	CHECK_EQ(f.spurious, 0);
	/* The old primary's heartbeat right after: a spurious failover, counted. */
	apply(&f, &dp);
	dp.peer_heard_ns = t_resp + MS;
	sl_ha_step(&f, &dp, t_resp + 2 * MS);
	CHECK_EQ(f.spurious, 1);
	CHECK(strstr(last_log, "spurious") != NULL);
}

/* An in-sync standby whose primary fell silent, up to its promotion CAS
 * (the act returned), the silence noticed at *@now. */
static struct sl_ha_act
standby_to_cas(struct sl_ha_fsm *f, struct sl_ha_dp *dp, uint64_t t, uint64_t *now)
{
	make_standby(f, dp, t, 1);
	*now = dp->peer_heard_ns + D + MS;
	sl_ha_step(f, dp, *now);
	apply(f, dp);
	return sl_ha_step(f, dp, *now + MS);
}

static void
test_candidate_lost_and_aborted(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready();
	struct sl_ha_act a;
	struct sl_ha_leader w;
	uint64_t t = 9000 * MS, now;

	/* CAS lost to another epoch: standby of it. */
	a = standby_to_cas(&f, &dp, t, &now);
	CHECK_EQ(a.kind, SL_HA_ACT_CAS);
	w = leader("c", 2, 0, 30);
	sl_ha_result(&f, &a, 0, &w, &dp, now + MS, now + 2 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(f.epoch, 2);
	CHECK_EQ(f.failovers, 0);
	CHECK_EQ(f.cas_lost, 1);

	/* Lost only to a revision change (same primary, still in sync): again. */
	a = standby_to_cas(&f, &dp, t, &now);
	w = leader("a", 1, 1, 31);
	sl_ha_result(&f, &a, 0, &w, &dp, now + MS, now + 2 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	a = sl_ha_step(&f, &dp, now + 3 * MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.mod_rev == 31);

	/* The primary heard again before the CAS: back to standby. */
	make_standby(&f, &dp, t, 1);
	now = dp.peer_heard_ns + D + MS;
	sl_ha_step(&f, &dp, now);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	dp.peer_heard_ns = now + MS;
	CHECK_EQ(sl_ha_step(&f, &dp, now + 2 * MS).kind, SL_HA_ACT_NONE);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);

	/* etcd does not answer the CAS: still a candidate (no heartbeats: they
	 * would renew the old primary's lease), no new CAS; a read that names
	 * this node makes it primary, L after that read's answer. */
	a = standby_to_cas(&f, &dp, t, &now);
	sl_ha_result(&f, &a, -110, NULL, &dp, now + MS, now + 101 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	CHECK_EQ(f.leader_known, 0);
	CHECK_EQ(sl_ha_step(&f, &dp, now + 102 * MS).kind, SL_HA_ACT_NONE);
	dp.peer_heard_ns = now + 103 * MS; /* even the old primary heard: no standby yet */
	now += 200 * MS;
	answer_read(&f, &dp, leader("b", 2, 0, 40), now);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(f.epoch, 2);
	CHECK_EQ(f.ack_from_ns, now + MS + L + L / 10);
	CHECK_EQ(f.failovers, 1);
	/* ... or one that does not: standby again. */
	a = standby_to_cas(&f, &dp, t, &now);
	sl_ha_result(&f, &a, -110, NULL, &dp, now + MS, now + 101 * MS);
	now += 200 * MS;
	answer_read(&f, &dp, leader("a", 1, 1, 20), now);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(f.epoch, 1);

	/* A standby that reads its own name at a newer epoch (a CAS applied
	 * after its answer was lost): heartbeats off first, then a read. */
	make_standby(&f, &dp, t, 1);
	now = dp.peer_heard_ns + MS;
	dp.peer_heard_ns = now + L - MS; /* the primary is alive */
	answer_read(&f, &dp, leader("b", 2, 0, 41), now + L);
	CHECK_EQ(sl_ha_step(&f, &dp, now + L + 2 * MS).kind, SL_HA_ACT_NONE);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	CHECK_EQ(sl_ha_step(&f, &dp, now + L + 3 * MS).kind, SL_HA_ACT_NONE); /* not applied */
	apply(&f, &dp);
	answer_read(&f, &dp, leader("b", 2, 0, 41), now + L + 4 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(f.ack_from_ns, now + L + 5 * MS + L + L / 10);
}

static void
test_no_promotion(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready();
	struct sl_ha_act a;
	uint64_t t = 20000 * MS, now;
	int i, logs;

	/* Out of sync: never promotes by itself, says so once. */
	make_standby(&f, &dp, t, 0);
	now = dp.peer_heard_ns + D + MS;
	logs = n_logs;
	for (i = 0; i < 1000; i++) {
		a = sl_ha_step(&f, &dp, now + (uint64_t)i * MS);
		if (a.kind == SL_HA_ACT_READ)
			sl_ha_result(&f, &a, 0, &f.leader, &dp, now + (uint64_t)i * MS,
				     now + (uint64_t)i * MS);
		CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	}
	CHECK_EQ(n_logs, logs + 1);
	CHECK(strstr(last_log, "out of sync: not promoting") != NULL);
	/* ... and does not poll fast for a promotion it will not make. */
	CHECK(sl_ha_wait_ns(&f, &dp, now + 990 * MS) > SL_HA_FAST_NS); /* next read at +1000 */

	/* A standby that never heard its primary since it started (restarted
	 * while the primary was down): no promotion, even "in sync". */
	sl_ha_fsm_init(&f, "b", capture, NULL);
	sl_ha_fsm_restart(&f, t);
	dp = dp_ready();
	answer_read(&f, &dp, leader("a", 1, 1, 20), t);
	sl_ha_step(&f, &dp, t + MS);
	apply(&f, &dp);
	for (i = 0; i < 500; i++) {
		a = sl_ha_step(&f, &dp, t + 100 * MS + (uint64_t)i * MS);
		if (a.kind == SL_HA_ACT_READ)
			sl_ha_result(&f, &a, 0, &f.leader, &dp, t, t);
	}
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);

	/* etcd unreachable: the standby keeps its role, no promotion. */
	make_standby(&f, &dp, t, 1);
	dp.peer_heard_ns = t + L - MS;
	a = sl_ha_step(&f, &dp, t + L);
	CHECK_EQ(a.kind, SL_HA_ACT_READ);
	sl_ha_result(&f, &a, -111, NULL, &dp, t + L, t + L + MS);
	now = dp.peer_heard_ns + D + 10 * MS;
	for (i = 0; i < 300; i++) {
		a = sl_ha_step(&f, &dp, now + (uint64_t)i * MS);
		if (a.kind == SL_HA_ACT_READ)
			sl_ha_result(&f, &a, -111, NULL, &dp, now, now + (uint64_t)i * MS);
		CHECK(a.kind != SL_HA_ACT_CAS);
	}
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
}

static void
test_primary(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready();
	struct sl_ha_act a;
	struct sl_ha_leader w;
	uint64_t t = 30000 * MS, now, gen;

	make_primary(&f, &dp, t);
	now = t + 10 * MS;
	/* Lease renewals: a read every L/4, etcd_ok = its send time. */
	a = sl_ha_step(&f, &dp, now);
	CHECK_EQ(a.kind, SL_HA_ACT_NONE);
	now = t + MS + L / 4;
	answer_read(&f, &dp, leader("a", 1, 0, 10), now);
	CHECK_EQ(f.etcd_ok_ns, now);
	/* etcd down: the role stays, the lease is not renewed. */
	now += L / 4;
	a = sl_ha_step(&f, &dp, now);
	CHECK_EQ(a.kind, SL_HA_ACT_READ);
	sl_ha_result(&f, &a, -110, NULL, &dp, now, now + L);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(f.etcd_ok_ns, now - L / 4);
	now += L + L / 4;
	answer_read(&f, &dp, leader("a", 1, 0, 10), now);
	CHECK_EQ(f.etcd_ok_ns, now);
	CHECK(f.etcd_up);

	/* The standby caught up: solo cleared first, the CAS to in sync only
	 * once the dataplane applied that. */
	dp.caught_up = 1;
	dp.peer_role = SL_HA_ROLE_STANDBY;
	dp.peer_epoch = 1;
	dp.peer_heard_ns = now + MS;
	gen = f.gen;
	CHECK_EQ(sl_ha_step(&f, &dp, now + 2 * MS).kind, SL_HA_ACT_NONE);
	CHECK_EQ(f.solo_epoch, 0);
	CHECK_EQ(f.gen, gen + 1);
	CHECK(sl_ha_step(&f, &dp, now + 3 * MS).kind != SL_HA_ACT_CAS);
	apply(&f, &dp);
	a = sl_ha_step(&f, &dp, now + 3 * MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_INSYNC_ON && a.want.insync == 1);
	CHECK(a.want.epoch == 1 && a.mod_rev == 10);
	w = a.want;
	w.mod_rev = 11;
	sl_ha_result(&f, &a, 1, &w, &dp, now + 3 * MS, now + 4 * MS);
	CHECK(f.leader.insync);
	CHECK_EQ(f.solo_epoch, 0);

	/* The standby stops answering: sync publishes wait; over detect, the
	 * CAS to out of sync, then solo. */
	now += 10 * MS;
	dp.caught_up = 0;
	dp.behind_since_ns = now;
	CHECK(sl_ha_step(&f, &dp, now + D / 2).kind != SL_HA_ACT_CAS);
	a = sl_ha_step(&f, &dp, now + D + MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_INSYNC_OFF && a.want.insync == 0);
	CHECK_EQ(f.solo_epoch, 0); /* not before etcd has it */
	w = a.want;
	w.mod_rev = 12;
	sl_ha_result(&f, &a, 1, &w, &dp, now + D + MS, now + D + 2 * MS);
	CHECK_EQ(f.solo_epoch, 1);
	CHECK(!f.leader.insync);
	/* ... unanswered instead: no solo. */
	dp = dp_ready();
	make_primary(&f, &dp, t);
	answer_read(&f, &dp, leader("a", 1, 1, 10), t + L);
	CHECK_EQ(f.solo_epoch, 1); /* from the start */
	f.solo_epoch = 0;	    /* as after the in-sync CAS */
	dp.behind_since_ns = t + L;
	a = sl_ha_step(&f, &dp, t + L + D + MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_INSYNC_OFF);
	sl_ha_result(&f, &a, -110, NULL, &dp, t + L + D + MS, t + L + D + 101 * MS);
	CHECK_EQ(f.solo_epoch, 0);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);

	/* Deposed: etcd names another leader: fenced, then standby of it. */
	dp = dp_ready();
	make_primary(&f, &dp, t);
	answer_read(&f, &dp, leader("b", 2, 0, 50), t + L);
	sl_ha_step(&f, &dp, t + L + MS);
	CHECK_EQ(f.role, SL_HA_ROLE_FENCED);
	CHECK_EQ(f.ack_from_ns, 0);
	sl_ha_step(&f, &dp, t + L + 2 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_FENCED); /* until the dataplane applied it */
	apply(&f, &dp);
	sl_ha_step(&f, &dp, t + L + 3 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(f.epoch, 2);

	/* The leader key deleted: start over, at an epoch above any seen. */
	answer_read(&f, &dp, leader(NULL, 0, 0, 0), t + 2 * L);
	sl_ha_step(&f, &dp, t + 2 * L + MS);
	CHECK_EQ(f.role, SL_HA_ROLE_UNKNOWN);
	a = sl_ha_step(&f, &dp, t + 2 * L + 2 * MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_CREATE && a.want.epoch == 3);
}

static void
test_force(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready();
	struct sl_ha_act a;
	struct sl_ha_leader w;
	uint64_t t = 40000 * MS;

	make_standby(&f, &dp, t, 0);
	f.force_req = 1;
	sl_ha_step(&f, &dp, t + 3 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	apply(&f, &dp);
	a = sl_ha_step(&f, &dp, t + 4 * MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_FORCE && a.want.epoch == 2);
	w = a.want;
	sl_ha_result(&f, &a, 1, &w, &dp, t + 4 * MS, t + 5 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);
	CHECK(f.ack_from_ns >= t + 5 * MS + L);
	CHECK(strstr(f.promote_msg, "promoted") != NULL);
	/* Asked of a primary: refused with words. */
	f.force_req = 1;
	sl_ha_step(&f, &dp, t + 6 * MS);
	CHECK(strstr(f.promote_msg, "this node is primary") != NULL);
}

/* A DR replica (the dataplane's SL_HA_DP_F_DR): in sync or not, a silent
 * primary never makes it a candidate; said once. Promoted by hand, it
 * acknowledges one lease later than a pair's standby would: the old
 * primary's standby may renew that one's lease until it reads etcd. */
static void
test_dr_replica(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready();
	struct sl_ha_act a;
	struct sl_ha_leader w;
	uint64_t t = 60000 * MS, heard, now;
	int logs, i;

	dp.dp_flags = SL_HA_DP_F_DR;
	make_standby(&f, &dp, t, 1);
	heard = dp.peer_heard_ns;
	logs = n_logs;
	for (i = 1; i <= 50; i++) {
		now = heard + D + (uint64_t)i * 10 * MS;
		a = sl_ha_step(&f, &dp, now);
		CHECK(a.kind != SL_HA_ACT_CAS);
		if (a.kind == SL_HA_ACT_READ) {
			w = leader("a", 1, 1, 20); /* etcd still says in sync */
			sl_ha_result(&f, &a, 0, &w, &dp, now, now + MS);
		}
		CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	}
	CHECK(strstr(last_log, "DR replica does not promote itself") != NULL);
	CHECK_EQ(n_logs, logs + 1);
	/* sluicectl ha promote --dr. */
	now = heard + D + 600 * MS;
	f.force_req = 1;
	sl_ha_step(&f, &dp, now);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	apply(&f, &dp);
	a = sl_ha_step(&f, &dp, now + MS);
	CHECK(a.kind == SL_HA_ACT_CAS && a.why == SL_HA_WHY_FORCE && a.want.epoch == 2);
	CHECK(strcmp(a.want.node, "b") == 0 && !a.want.insync);
	w = a.want;
	sl_ha_result(&f, &a, 1, &w, &dp, now + MS, now + 2 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(f.ack_from_ns, now + 2 * MS + 2 * L + L / 10);
	CHECK_EQ(f.solo_epoch, 2);
}

static void
test_leader_codec(void)
{
	struct sl_ha_leader l = leader("node-1", 7, 1, 0), m;
	char buf[128];
	int n;

	n = sl_ha_leader_encode(&l, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(strcmp(buf, "{\"node\":\"node-1\",\"epoch\":7,\"insync\":true}") == 0);
	CHECK(sl_ha_leader_decode(buf, (size_t)n, &m) == 0);
	CHECK(m.present && m.epoch == 7 && m.insync && strcmp(m.node, "node-1") == 0);
	strcpy(buf, "{\"node\":\"a\",\"epoch\":0,\"insync\":true}");
	CHECK(sl_ha_leader_decode(buf, strlen(buf), &m) < 0);
	strcpy(buf, "{\"node\":\"a\",\"epoch\":1}");
	CHECK(sl_ha_leader_decode(buf, strlen(buf), &m) < 0);
	CHECK(sl_ha_leader_decode("garbage", 7, &m) < 0);
	CHECK(sl_ha_leader_encode(&l, buf, 8) < 0);
}

/* A standby whose own dataplane did not run past the primary's due time
 * (starved of CPU) does not take its stall for the primary's silence. */
static void
test_starved_standby(void)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp = dp_ready();
	uint64_t t = 5000 * MS, heard;

	make_standby(&f, &dp, t, 1);
	heard = dp.peer_heard_ns;
	dp.polled_ns = heard + 5 * MS; /* its last look: shortly after the last HB */
	n_logs = 0;
	CHECK_EQ(sl_ha_step(&f, &dp, heard + 3 * D).kind != SL_HA_ACT_CAS, 1);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(f.starved, 1);
	CHECK(strstr(last_log, "not counted as silence") != NULL);
	/* Still stalled: one note per episode. */
	sl_ha_step(&f, &dp, heard + 3 * D + MS);
	CHECK_EQ(f.starved, 1);
	CHECK_EQ(n_logs, 1);
	/* It runs again, and the heartbeats it held were there: no failover. */
	dp.peer_heard_ns = heard + 3 * D + 2 * MS;
	dp.polled_ns = heard + 3 * D + 2 * MS;
	sl_ha_step(&f, &dp, heard + 3 * D + 3 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_STANDBY);
	/* Its dataplane polled past the due time and heard nothing: silence. */
	heard = dp.peer_heard_ns;
	dp.polled_ns = heard + D + MS;
	sl_ha_step(&f, &dp, heard + D + 2 * MS);
	CHECK_EQ(f.role, SL_HA_ROLE_CANDIDATE);
	CHECK_EQ(f.starved, 1);
}

int
main(void)
{
	test_leader_codec();
	test_start_roles();
	test_promotion();
	test_starved_standby();
	test_candidate_lost_and_aborted();
	test_no_promotion();
	test_primary();
	test_force();
	test_dr_replica();
	return check_result("ha_fsm");
}
