/* SPDX-License-Identifier: BSD-3-Clause */
/* Pair leadership decisions: a state machine without I/O, fed with the dataplane's view and etcd's answers. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ha.h"

#define MS 1000000ull

const char *
sl_ha_role_name(uint32_t role)
{
	static const char *const names[] = { "single", "unknown", "primary", "standby",
					     "candidate", "fenced" };

	return role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}

static void
say(struct sl_ha_fsm *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct sl_ha_fsm *f, const char *fmt, ...)
{
	char line[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (f->log != NULL)
		f->log(f->log_arg, line);
}

void
sl_ha_fsm_init(struct sl_ha_fsm *f, const char *node, sl_ha_log_fn log, void *log_arg)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->node, sizeof(f->node), "%s", node);
	f->log = log;
	f->log_arg = log_arg;
	f->role = SL_HA_ROLE_UNKNOWN;
	f->etcd_up = 1;
	f->gen = 1;
}

void
sl_ha_fsm_restart(struct sl_ha_fsm *f, uint64_t now)
{
	f->role = SL_HA_ROLE_UNKNOWN;
	f->epoch = 0;
	f->solo_epoch = 0;
	f->ack_from_ns = 0;
	f->etcd_ok_ns = 0;
	f->gen++;
	f->leader_known = 0;
	f->next_read_ns = 0;
	f->role_ns = now;
	f->attach_ns = now;
	f->primary_seen = 0;
	f->not_insync_logged = 0;
	f->insync_on_gen = 0;
	f->spur_until_ns = 0;
	f->force_req = 0;
}

static uint64_t
lease_ns(const struct sl_ha_dp *dp)
{
	return (dp->lease_ms ? dp->lease_ms : SL_HA_LEASE_MS_DEFAULT) * MS;
}

static uint64_t
detect_ns(const struct sl_ha_dp *dp)
{
	return (dp->detect_ms ? dp->detect_ms : SL_HA_DETECT_MS_DEFAULT) * MS;
}

/* How often etcd is read in a steady role: L/4, the lease renewal. */
static uint64_t
read_period_ns(const struct sl_ha_dp *dp)
{
	return lease_ns(dp) / 4;
}

static int
is_me(const struct sl_ha_fsm *f, const struct sl_ha_leader *l)
{
	return l->present && strcmp(l->node, f->node) == 0;
}

/* Take @role in @epoch (a change the dataplane applies at the next gen). */
static void
become(struct sl_ha_fsm *f, uint32_t role, uint32_t epoch, uint64_t now, const char *why)
{
	char ep[32];

	if (epoch != f->epoch)
		snprintf(ep, sizeof(ep), "epoch %u -> %u", f->epoch, epoch);
	else
		snprintf(ep, sizeof(ep), "epoch %u", epoch);
	say(f, "ha: %s -> %s, %s, after %llu ms as %s: %s", sl_ha_role_name(f->role),
	    sl_ha_role_name(role), ep, (unsigned long long)((now - f->role_ns) / MS),
	    sl_ha_role_name(f->role), why);
	if (epoch != f->epoch)
		f->primary_seen = 0;
	if (epoch > f->epoch_max)
		f->epoch_max = epoch;
	f->role = role;
	f->epoch = epoch;
	f->role_ns = now;
	f->not_insync_logged = 0;
	f->insync_on_gen = 0;
	f->cand_tries = 0;
	f->cand_resolve = 0;
	if (role != SL_HA_ROLE_PRIMARY) {
		f->solo_epoch = 0;
		f->ack_from_ns = 0;
		f->spur_until_ns = 0;
	}
	f->gen++;
}

static struct sl_ha_act
act_none(void)
{
	struct sl_ha_act a;

	memset(&a, 0, sizeof(a));
	return a;
}

static struct sl_ha_act
act_read_if_due(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	struct sl_ha_act a = act_none();

	/* A peer announcing a newer epoch than ours: etcd knows why; ask at
	 * once (bounded by the fast period). */
	if (now >= f->next_read_ns ||
	    (dp->peer_role == SL_HA_ROLE_PRIMARY && dp->peer_epoch > f->epoch &&
	     now >= f->leader_ns + SL_HA_FAST_NS))
		a.kind = SL_HA_ACT_READ;
	return a;
}

static struct sl_ha_act
act_cas(enum sl_ha_why why, const struct sl_ha_leader *base, const char *node, uint32_t epoch,
	int insync)
{
	struct sl_ha_act a = act_none();

	a.kind = SL_HA_ACT_CAS;
	a.why = why;
	a.mod_rev = base->present ? base->mod_rev : 0;
	a.want.present = 1;
	snprintf(a.want.node, sizeof(a.want.node), "%s", node);
	a.want.epoch = epoch;
	a.want.insync = insync;
	return a;
}

/* Has this standby's peer been heard as the primary of its epoch, lately? */
static int
standby_heard(const struct sl_ha_dp *dp, uint32_t epoch, uint64_t now, uint64_t detect)
{
	return dp->peer_role == SL_HA_ROLE_STANDBY && dp->peer_epoch == epoch &&
	       dp->peer_heard_ns != 0 && now < dp->peer_heard_ns + detect;
}

static struct sl_ha_act
step_unknown(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	if (!f->leader_known || f->leader_ns < f->attach_ns)
		return act_read_if_due(f, dp, now);
	/* No leader: the pair's first start (epoch 1), or its key was deleted:
	 * never an epoch below one this node has seen (journals refuse it). */
	if (!f->leader.present)
		return act_cas(SL_HA_WHY_CREATE, &f->leader, f->node, f->epoch_max + 1, 0);
	if (is_me(f, &f->leader))
		return act_cas(SL_HA_WHY_RESTART, &f->leader, f->node, f->leader.epoch + 1,
			       f->leader.insync);
	become(f, SL_HA_ROLE_STANDBY, f->leader.epoch, now, "another node leads the pair");
	return act_none();
}

static void
spurious_watch(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	/* The old primary's heartbeat, heard after this node decided it was
	 * dead and within detect of the promotion: it was alive. */
	if (f->spur_until_ns == 0)
		return;
	if (dp->peer_heard_ns > f->spur_heard_ns && dp->peer_epoch == f->spur_epoch &&
	    dp->peer_role == SL_HA_ROLE_PRIMARY && dp->peer_heard_ns <= f->spur_until_ns) {
		f->spurious++;
		say(f, "ha: spurious failover: the primary of epoch %u was heard again right "
		    "after this node took over (it was alive; raise ha.detect_ms?)", f->spur_epoch);
		f->spur_until_ns = 0;
	} else if (now > f->spur_until_ns) {
		f->spur_until_ns = 0;
	}
}

static struct sl_ha_act
step_primary(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	uint64_t d = detect_ns(dp);
	int behind = dp->behind_since_ns != 0 && now > dp->behind_since_ns + d;

	spurious_watch(f, dp, now);
	if (f->leader_known && !(is_me(f, &f->leader) && f->leader.epoch == f->epoch)) {
		become(f, SL_HA_ROLE_FENCED, f->epoch, now, "etcd names another leader: "
		       "deposed, acknowledging nothing");
		return act_none();
	}
	if (!f->leader_known)
		return act_read_if_due(f, dp, now);
	if (f->insync_on_gen != 0) {
		/* Sync publishes wait for the standby again (solo cleared);
		 * record it in sync once the dataplane applied that and the
		 * standby still holds everything. */
		if (dp->dp_gen < 2 * f->insync_on_gen)
			return act_read_if_due(f, dp, now);
		if (dp->caught_up && !behind && dp->behind_since_ns == 0)
			return act_cas(SL_HA_WHY_INSYNC_ON, &f->leader, f->node, f->epoch, 1);
		/* It fell behind again meanwhile: not before detect from now. */
		f->insync_on_gen = 0;
		f->insync_retry_ns = now + d;
	}
	if (f->leader.insync && behind)
		return act_cas(SL_HA_WHY_INSYNC_OFF, &f->leader, f->node, f->epoch, 0);
	if (!f->leader.insync && dp->caught_up && dp->behind_since_ns == 0 &&
	    now >= f->insync_retry_ns && standby_heard(dp, f->epoch, now, d)) {
		f->solo_epoch = 0;
		f->gen++;
		f->insync_on_gen = f->gen;
		return act_none();
	}
	if (!f->leader.insync && f->solo_epoch != f->epoch) {
		/* etcd records the standby out of sync in this epoch: sync
		 * publishes are acknowledged on this node's persist alone. */
		f->solo_epoch = f->epoch;
		f->gen++;
	}
	return act_read_if_due(f, dp, now);
}

static struct sl_ha_act
step_standby(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	uint64_t d = detect_ns(dp);
	int silent;

	if (f->leader_known && is_me(f, &f->leader) && f->leader.epoch > f->epoch) {
		/* A promotion whose answer was lost and that etcd applied
		 * late: this node's heartbeats (at the old epoch) may have kept
		 * the old primary's lease alive meanwhile. Stop them, then read
		 * again: the lease is counted from that read. */
		become(f, SL_HA_ROLE_CANDIDATE, f->epoch, now, "etcd names this node: "
		       "stopping heartbeats before taking over");
		f->cand_resolve = 1;
		f->cand_force = 0;
		f->cand_heard_ns = dp->peer_heard_ns;
		f->cand_from_epoch = f->epoch;
		f->next_read_ns = 0;
		return act_none();
	}
	if (f->leader_known && !f->leader.present) {
		become(f, SL_HA_ROLE_UNKNOWN, f->epoch, now, "the leader key is gone: start over");
		return act_none();
	}
	if (f->leader_known && f->leader.present && !is_me(f, &f->leader) &&
	    f->leader.epoch != f->epoch) {
		become(f, SL_HA_ROLE_STANDBY, f->leader.epoch, now, "a new epoch of the leader");
		return act_none();
	}
	if (dp->peer_role == SL_HA_ROLE_PRIMARY && dp->peer_epoch == f->epoch &&
	    dp->peer_heard_ns >= f->attach_ns && dp->peer_heard_ns != 0)
		f->primary_seen = 1;
	if (f->force_req) {
		f->force_req = 0;
		if (!f->leader_known || !f->etcd_up) {
			snprintf(f->promote_msg, sizeof(f->promote_msg),
				 "not promoted: etcd is not reachable");
			return act_none();
		}
		f->cand_force = 1;
		f->cand_heard_ns = dp->peer_heard_ns;
		f->cand_from_epoch = f->leader.epoch;
		become(f, SL_HA_ROLE_CANDIDATE, f->epoch, now, "forced promotion asked");
		return act_none();
	}
	silent = dp->peer_heard_ns == 0 || now > dp->peer_heard_ns + d;
	if (!silent) {
		f->not_insync_logged = 0;
		f->dr_silent_logged = 0;
		f->starved_logged = 0;
		return act_read_if_due(f, dp, now);
	}
	if (dp->peer_heard_ns != 0 && dp->polled_ns != 0 && dp->polled_ns <= dp->peer_heard_ns + d) {
		/* This node's dataplane has not looked at what it received
		 * since the primary fell due (starved of CPU): the heartbeats
		 * may be waiting unread. Silence is evidence only once it has. */
		if (!f->starved_logged) {
			f->starved_logged = 1;
			f->starved++;
			say(f, "ha: primary unheard for %llu ms, but this node's dataplane has not "
			    "polled for %llu ms: not counted as silence (this node is short of CPU)",
			    (unsigned long long)((now - dp->peer_heard_ns) / MS),
			    (unsigned long long)(now > dp->polled_ns ? (now - dp->polled_ns) / MS : 0));
		}
		return act_read_if_due(f, dp, now);
	}
	if (dp->dp_flags & SL_HA_DP_F_DR) {
		/* A DR replica is asynchronous: it may lack what the primary
		 * acknowledged, and a silent primary may only mean the link to
		 * the remote site is down. Only an operator promotes it. */
		if (!f->dr_silent_logged && f->primary_seen) {
			f->dr_silent_logged = 1;
			say(f, "ha: primary silent: this DR replica does not promote itself "
			    "(sluicectl ha promote --dr takes over, losing at most the lag "
			    "last reported: %llu records)", (unsigned long long)dp->dr_lag_records);
		}
		return act_read_if_due(f, dp, now);
	}
	if (!f->primary_seen || !f->leader_known || !f->etcd_up)
		return act_read_if_due(f, dp, now);
	if (f->leader.insync && f->leader.epoch == f->epoch) {
		f->cand_force = 0;
		f->cand_heard_ns = dp->peer_heard_ns;
		f->cand_from_epoch = f->epoch;
		become(f, SL_HA_ROLE_CANDIDATE, f->epoch, now, "the primary is silent");
		say(f, "ha: primary silent for %llu ms (detect %llu ms)",
		    (unsigned long long)((now - dp->peer_heard_ns) / MS),
		    (unsigned long long)(d / MS));
		return act_none();
	}
	if (!f->not_insync_logged) {
		f->not_insync_logged = 1;
		say(f, "ha: primary silent, but this standby is out of sync: not promoting "
		    "(sluicectl ha promote --force to take over, losing what it lacks)");
	}
	return act_read_if_due(f, dp, now);
}

static struct sl_ha_act
step_candidate(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	int stopped = dp->dp_gen >= 2 * f->gen && dp->dp_role == SL_HA_ROLE_CANDIDATE;

	/* Whether etcd took this node's CAS is unknown: heartbeats stay off
	 * (they would renew the old primary's lease) until a read sent after
	 * they stopped says. */
	if (f->cand_resolve) {
		if (!stopped)
			return act_none();
		return act_read_if_due(f, dp, now);
	}
	if (!f->cand_force && dp->peer_heard_ns > f->cand_heard_ns &&
	    dp->peer_role == SL_HA_ROLE_PRIMARY && dp->peer_epoch == f->cand_from_epoch) {
		become(f, SL_HA_ROLE_STANDBY, f->epoch, now, "the primary was heard again");
		return act_none();
	}
	/* Only once the dataplane has stopped its heartbeats: from then on
	 * the old primary's lease runs on etcd alone. */
	if (stopped)
		return act_cas(f->cand_force ? SL_HA_WHY_FORCE : SL_HA_WHY_PROMOTE, &f->leader,
			       f->node, f->leader.epoch + 1, 0);
	if (now > f->role_ns + lease_ns(dp)) {
		if (f->cand_force)
			snprintf(f->promote_msg, sizeof(f->promote_msg), "not promoted: the "
				 "dataplane did not stop its heartbeats within %u ms", dp->lease_ms);
		become(f, SL_HA_ROLE_STANDBY, f->epoch, now,
		       "the dataplane did not take the candidate role in time");
	}
	return act_none();
}

struct sl_ha_act
sl_ha_step(struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	if (!dp->ready)
		return act_none();
	if (f->force_req && f->role != SL_HA_ROLE_STANDBY) {
		f->force_req = 0;
		snprintf(f->promote_msg, sizeof(f->promote_msg), "not promoted: this node is %s",
			 sl_ha_role_name(f->role));
	}
	switch (f->role) {
	case SL_HA_ROLE_UNKNOWN:
		return step_unknown(f, dp, now);
	case SL_HA_ROLE_PRIMARY:
		return step_primary(f, dp, now);
	case SL_HA_ROLE_STANDBY:
		return step_standby(f, dp, now);
	case SL_HA_ROLE_CANDIDATE:
		return step_candidate(f, dp, now);
	case SL_HA_ROLE_FENCED:
		/* Once the dataplane has stopped acknowledging (or L later),
		 * follow the new leader: the dataplane rejoins and truncates. */
		if (dp->dp_gen >= 2 * f->gen || now > f->role_ns + lease_ns(dp))
			become(f, f->leader.present ? SL_HA_ROLE_STANDBY : SL_HA_ROLE_UNKNOWN,
			       f->leader.present ? f->leader.epoch : f->epoch, now,
			       f->leader.present ? "following the new leader" :
			       "the leader key is gone: start over");
		return act_none();
	default:
		return act_none();
	}
}

/* ---- etcd's answers ---- */

static void
result_error(struct sl_ha_fsm *f, const struct sl_ha_act *a, const struct sl_ha_dp *dp,
	     uint64_t t_resp)
{
	f->etcd_errors++;
	if (f->etcd_up) {
		f->etcd_up = 0;
		f->etcd_down_ns = t_resp;
		say(f, "ha: etcd unreachable: role %s kept, no promotion or in-sync change until "
		    "it answers", sl_ha_role_name(f->role));
	}
	f->next_read_ns = t_resp + read_period_ns(dp);
	if (a->kind != SL_HA_ACT_CAS)
		return;
	/* The write may or may not have happened: what etcd holds is unknown
	 * until the next read. */
	f->leader_known = 0;
	if (f->role == SL_HA_ROLE_CANDIDATE && !f->cand_resolve) {
		/* Stay a candidate (no heartbeats) until a read tells. */
		f->cand_resolve = 1;
		say(f, "ha: etcd did not answer the promotion: heartbeats stay off until "
		    "a read says whether it took");
	}
	/* INSYNC_ON unanswered: solo stays cleared (sync publishes wait for
	 * the standby) until a read says what etcd holds. */
	f->insync_on_gen = 0;
	f->insync_retry_ns = t_resp + detect_ns(dp);
}

static void
result_promote(struct sl_ha_fsm *f, const struct sl_ha_act *a, int won, const struct sl_ha_dp *dp,
	       uint64_t t_resp)
{
	uint64_t l = lease_ns(dp);

	if (won) {
		uint32_t old = f->epoch;

		become(f, SL_HA_ROLE_PRIMARY, a->want.epoch, t_resp, a->why == SL_HA_WHY_FORCE ?
		       "forced promotion won" : "promotion won");
		/* The old primary's lease came at best from an etcd read sent
		 * before this write committed (before t_resp), or from this
		 * node's heartbeats, stopped before the request was sent: it
		 * has run out L after t_resp. 10% for the clocks' rates. */
		f->ack_from_ns = t_resp + l + l / 10;
		/* A DR replica is not the old primary's standby: that one may
		 * renew the old primary's lease with heartbeats of the old epoch
		 * until its own etcd read (every L/4) names this node. One L
		 * more covers that read (docs/HA.md, Disaster recovery). */
		if (dp->dp_flags & SL_HA_DP_F_DR)
			f->ack_from_ns += l;
		f->solo_epoch = f->epoch;
		f->failovers++;
		f->last_failover_ms = f->cand_heard_ns && t_resp > f->cand_heard_ns ?
				      (t_resp - f->cand_heard_ns) / MS : 0;
		if (a->why == SL_HA_WHY_FORCE) {
			snprintf(f->promote_msg, sizeof(f->promote_msg),
				 "promoted: primary of epoch %u", f->epoch);
		} else {
			f->spur_epoch = old;
			f->spur_heard_ns = f->cand_heard_ns;
			f->spur_until_ns = t_resp + detect_ns(dp);
		}
		say(f, "ha: primary of epoch %u; last heard the old primary %llu ms ago; "
		    "acknowledging from +%llu ms", f->epoch,
		    (unsigned long long)f->last_failover_ms,
		    (unsigned long long)((f->ack_from_ns - t_resp) / MS));
		return;
	}
	f->cas_lost++;
	if (!f->cand_force && f->leader.present && f->leader.epoch == f->cand_from_epoch &&
	    f->leader.insync && ++f->cand_tries < SL_HA_CAS_RETRIES)
		return; /* the same primary, still in sync: only the revision moved; again */
	if (f->cand_force)
		snprintf(f->promote_msg, sizeof(f->promote_msg),
			 "not promoted: the leader changed meanwhile (now %s, epoch %u)",
			 f->leader.node, f->leader.epoch);
	say(f, "ha: promotion lost: etcd names %s, epoch %u", f->leader.present ? f->leader.node
	    : "nobody", f->leader.epoch);
	become(f, SL_HA_ROLE_STANDBY, f->leader.present && !is_me(f, &f->leader) ?
	       f->leader.epoch : f->epoch, t_resp, "lost the promotion");
}

/* A candidate whose CAS outcome was unknown read @cur, sent after its
 * heartbeats stopped and answered at @t_resp. */
static void
result_resolve(struct sl_ha_fsm *f, const struct sl_ha_leader *cur, const struct sl_ha_dp *dp,
	       uint64_t t_resp)
{
	uint64_t l = lease_ns(dp);
	int force = f->cand_force;

	if (is_me(f, cur) && cur->epoch > f->epoch) {
		/* The write took, at the latest before this answer; the old
		 * primary's lease (etcd reads, this node's heartbeats) ran out
		 * L after that at the latest. */
		become(f, SL_HA_ROLE_PRIMARY, cur->epoch, t_resp, "etcd took the promotion");
		f->ack_from_ns = t_resp + l + l / 10;
		f->solo_epoch = cur->insync ? 0 : f->epoch;
		f->failovers++;
		if (force)
			snprintf(f->promote_msg, sizeof(f->promote_msg),
				 "promoted: primary of epoch %u", f->epoch);
		return;
	}
	if (force)
		snprintf(f->promote_msg, sizeof(f->promote_msg),
			 "not promoted: etcd did not take it (leader %s, epoch %u)",
			 cur->present ? cur->node : "none", cur->epoch);
	become(f, SL_HA_ROLE_STANDBY, cur->present && !is_me(f, cur) ? cur->epoch : f->epoch,
	       t_resp, "etcd did not take the promotion");
}

void
sl_ha_result(struct sl_ha_fsm *f, const struct sl_ha_act *a, int rc,
	     const struct sl_ha_leader *cur, const struct sl_ha_dp *dp, uint64_t t_send,
	     uint64_t t_resp)
{
	if (rc < 0) {
		result_error(f, a, dp, t_resp);
		return;
	}
	if (!f->etcd_up)
		say(f, "ha: etcd reachable again after %llu ms",
		    (unsigned long long)((t_resp - f->etcd_down_ns) / MS));
	f->etcd_up = 1;
	f->leader = *cur;
	if (cur->present && cur->epoch > f->epoch_max)
		f->epoch_max = cur->epoch;
	f->leader_known = 1;
	f->leader_ns = t_send;
	f->next_read_ns = t_send + read_period_ns(dp);
	if (a->kind == SL_HA_ACT_READ) {
		if (f->role == SL_HA_ROLE_PRIMARY && is_me(f, cur) && cur->epoch == f->epoch)
			f->etcd_ok_ns = t_send;
		if (f->role == SL_HA_ROLE_CANDIDATE && f->cand_resolve)
			result_resolve(f, cur, dp, t_resp);
		return;
	}
	if (rc == 0 && a->why != SL_HA_WHY_PROMOTE && a->why != SL_HA_WHY_FORCE)
		f->cas_lost++;
	switch (a->why) {
	case SL_HA_WHY_CREATE:
	case SL_HA_WHY_RESTART:
		if (rc == 1) {
			become(f, SL_HA_ROLE_PRIMARY, a->want.epoch, t_resp, a->why ==
			       SL_HA_WHY_CREATE ? "first node of the pair" :
			       "etcd named this node: next epoch");
			/* No other node led since this one did (the CAS): nobody
			 * else can be acknowledging. */
			f->ack_from_ns = t_resp;
			f->solo_epoch = a->want.insync ? 0 : f->epoch;
			f->etcd_ok_ns = t_send;
		}
		break; /* lost: the next step decides again on what etcd holds */
	case SL_HA_WHY_PROMOTE:
	case SL_HA_WHY_FORCE:
		result_promote(f, a, rc == 1, dp, t_resp);
		break;
	case SL_HA_WHY_INSYNC_OFF:
		if (rc == 1) {
			f->solo_epoch = f->epoch;
			f->gen++;
			f->etcd_ok_ns = t_send;
			say(f, "ha: standby out of sync (sync publishes waited over %u ms): "
			    "acknowledging them alone in epoch %u", dp->detect_ms, f->epoch);
		}
		break;
	case SL_HA_WHY_INSYNC_ON:
		f->insync_on_gen = 0;
		if (rc == 0)
			f->insync_retry_ns = t_resp + detect_ns(dp);
		if (rc == 1) {
			f->etcd_ok_ns = t_send;
			say(f, "ha: standby in sync in epoch %u: sync publishes wait for its persist",
			    f->epoch);
		}
		break;
	}
}

uint64_t
sl_ha_wait_ns(const struct sl_ha_fsm *f, const struct sl_ha_dp *dp, uint64_t now)
{
	uint64_t d = detect_ns(dp), w = read_period_ns(dp);

	if (!dp->ready)
		return 10 * MS;
	if (f->role == SL_HA_ROLE_UNKNOWN || f->role == SL_HA_ROLE_CANDIDATE ||
	    f->role == SL_HA_ROLE_FENCED || f->insync_on_gen != 0 || dp->dp_gen < 2 * f->gen ||
	    f->spur_until_ns != 0)
		return SL_HA_FAST_NS;
	/* A standby that could take over, whose primary has been quiet for a
	 * third of detect, polls fast, so promotion follows the dataplane's
	 * verdict within ~1 ms (not one that could not: out of sync, never
	 * heard its primary, no etcd). */
	if (f->role == SL_HA_ROLE_STANDBY && now > dp->peer_heard_ns + d / 3 &&
	    f->primary_seen && f->etcd_up && f->leader_known && f->leader.insync)
		return SL_HA_FAST_NS;
	if (w > d / 3)
		w = d / 3;
	if (f->next_read_ns > now && f->next_read_ns - now < w)
		w = f->next_read_ns - now;
	else if (f->next_read_ns <= now)
		w = SL_HA_FAST_NS;
	return w < SL_HA_FAST_NS ? SL_HA_FAST_NS : w;
}

/* ---- the leader key's value ---- */

int
sl_ha_leader_encode(const struct sl_ha_leader *l, char *out, size_t cap)
{
	json_t *o = json_pack("{s:s, s:I, s:b}", "node", l->node, "epoch", (json_int_t)l->epoch,
			      "insync", l->insync);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = -ENOMEM;

	json_decref(o);
	if (s != NULL) {
		rc = strlen(s) < cap ? (int)strlen(s) : -ENOSPC;
		if (rc >= 0)
			memcpy(out, s, (size_t)rc + 1);
		free(s);
	}
	return rc;
}

int
sl_ha_leader_decode(const char *js, size_t len, struct sl_ha_leader *l)
{
	json_t *o = json_loadb(js, len, JSON_REJECT_DUPLICATES, NULL), *n, *e, *i;
	int rc = -EPROTO;

	memset(l, 0, sizeof(*l));
	n = json_object_get(o, "node");
	e = json_object_get(o, "epoch");
	i = json_object_get(o, "insync");
	if (json_is_string(n) && json_string_length(n) > 0 &&
	    json_string_length(n) < SL_HA_NODE_MAX && json_is_integer(e) &&
	    json_integer_value(e) > 0 && json_integer_value(e) <= UINT32_MAX &&
	    json_is_boolean(i)) {
		l->present = 1;
		snprintf(l->node, sizeof(l->node), "%s", json_string_value(n));
		l->epoch = (uint32_t)json_integer_value(e);
		l->insync = json_is_true(i);
		rc = 0;
	}
	json_decref(o);
	return rc;
}
