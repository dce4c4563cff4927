/* SPDX-License-Identifier: BSD-3-Clause */
/* The HA thread of sluice-control: the CnC HA block on one side, etcd on the other, sl_ha_step between. */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <common/clock.h>
#include <common/log.h>

#include "etcd.h"
#include "ha.h"
#include "jsonx.h"

#define MS 1000000ull
#define CHECK_REGION_NS (200 * MS) /* how often the region file is checked for a new one */
#define ATTACH_RETRY_NS (200 * MS)
#define NODE_PUT_MS 100		/* nodes/<node> is for people: never hold the loop long */

struct sl_ha {
	char pair[SL_HA_NODE_MAX], node[SL_HA_NODE_MAX], dp_name[72];
	char key_leader[192], key_node[256], path[PATH_MAX];
	struct sl_etcd *etcd;
	struct sl_etcd_kv kv;	/* the last answer (4 KiB: not on the stack) */
	pthread_t th;
	int stop;		/* atomic: set by sl_ha_stop */

	/* Shared with the admin socket's thread, under @mu. */
	pthread_mutex_t mu;
	int promote_req;
	struct sl_ha_fsm snap;
	struct sl_ha_dp snap_dp;
	int snap_attached;
	uint64_t snap_ns;
	char snap_err[256];

	/* The thread's own. */
	struct sl_ha_fsm f;
	struct sl_cnc *cnc;
	struct sl_cnc_ha *ha;
	dev_t dev;
	ino_t ino;
	int64_t dp_pid;
	uint64_t next_attach_ns, next_check_ns;
	uint64_t written_gen, written_ok;
	uint32_t put_role, put_epoch;
	uint64_t next_put_ns;
	int said_no_pair;
};

static void
log_line(void *arg, const char *line)
{
	struct sl_ha *h = arg;

	SL_LOG(NOTICE, "pair %s node %s: %s\n", h->pair, h->node, line);
}

/* ---- the CnC region ---- */

static void
detach(struct sl_ha *h)
{
	if (h->cnc != NULL)
		sl_cnc_close(h->cnc);
	h->cnc = NULL;
	h->ha = NULL;
}

static void
try_attach(struct sl_ha *h, uint64_t now)
{
	struct stat st;

	if (now < h->next_attach_ns)
		return;
	h->next_attach_ns = now + ATTACH_RETRY_NS;
	if (sl_cnc_attach(&h->cnc, h->dp_name, NULL) < 0) {
		h->cnc = NULL;
		return;
	}
	if (stat(h->path, &st) < 0) {
		detach(h);
		return;
	}
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->ha = sl_cnc_ha(h->cnc);
	h->dp_pid = __atomic_load_n(&sl_cnc_hdr(h->cnc)->dp_pid, __ATOMIC_RELAXED);
	h->next_check_ns = now + CHECK_REGION_NS;
	h->said_no_pair = 0;
	/* A new dataplane (or a restart of this process): decide from etcd
	 * again, from UNKNOWN; it serves nothing meanwhile. */
	sl_ha_fsm_restart(&h->f, now);
	/* Generations go on from what an earlier sluice-control wrote, so
	 * dp_gen >= 2 * gen keeps meaning "applied this". */
	if (h->f.gen < (h->ha->ctl_gen + 1) / 2 + 1)
		h->f.gen = (h->ha->ctl_gen + 1) / 2 + 1;
	/* Nothing written until etcd has been read: a dataplane that runs on
	 * (this process restarted) keeps its role meanwhile, fenced by its own
	 * lease if it is no longer entitled to it; a new one starts unknown. */
	h->written_gen = h->f.gen;
	h->written_ok = 0;
	h->put_role = UINT32_MAX;
}

/* Is the mapped region still the dataplane's (not replaced, not removed)? */
static void
check_region(struct sl_ha *h, uint64_t now)
{
	struct stat st;

	if (now < h->next_check_ns)
		return;
	h->next_check_ns = now + CHECK_REGION_NS;
	if (stat(h->path, &st) < 0 || st.st_dev != h->dev || st.st_ino != h->ino ||
	    __atomic_load_n(&sl_cnc_hdr(h->cnc)->dp_pid, __ATOMIC_RELAXED) != h->dp_pid) {
		SL_LOG(NOTICE, "pair %s node %s: ha: dataplane '%s' went away; waiting for it\n",
		       h->pair, h->node, h->dp_name);
		detach(h);
		h->next_attach_ns = 0;
		/* Nothing to lead until it is back (ha.status says unknown). */
		sl_ha_fsm_restart(&h->f, now);
	}
}

static void
read_dp(const struct sl_cnc_ha *ha, struct sl_ha_dp *dp)
{
	/* Each word has one writer (the dataplane), stored relaxed; the
	 * decisions tolerate a mix of two consecutive states. */
#define LD(x) __atomic_load_n(&ha->x, __ATOMIC_RELAXED)
	memset(dp, 0, sizeof(*dp));
	dp->dp_gen = LD(dp_gen);
	dp->dp_role = LD(dp_role);
	dp->dp_epoch = LD(dp_epoch);
	dp->lease_ms = LD(dp_lease_ms);
	dp->detect_ms = LD(dp_detect_ms);
	dp->peer_heard_ns = LD(peer_heard_ns);
	dp->peer_role = LD(peer_role);
	dp->peer_epoch = LD(peer_epoch);
	dp->behind_since_ns = LD(behind_since_ns);
	dp->caught_up = LD(caught_up);
	dp->fenced = LD(fenced);
	dp->lag_records = LD(lag_records);
	dp->lag_bytes = LD(lag_bytes);
	dp->catchup_done = LD(catchup_done);
	dp->catchup_total = LD(catchup_total);
	dp->dp_flags = LD(dp_flags);
	dp->dr_lag_records = LD(dr_lag_records);
	dp->dr_lag_bytes = LD(dr_lag_bytes);
	dp->dr_report_ms = LD(dr_report_ms);
	dp->polled_ns = LD(dp_polled_ns);
#undef LD
	/* A dataplane without ha.peer leaves L at 0 and says SINGLE. */
	dp->ready = dp->lease_ms != 0 && dp->dp_role != SL_HA_ROLE_SINGLE;
}

/*
 * The control half, seqlock-style: ctl_gen odd while the fields change,
 * then the even 2 * gen (release). The dataplane applies only an even
 * ctl_gen that reads the same before and after the fields (acquire).
 */
static void
write_ctl(struct sl_ha *h, uint64_t now)
{
	struct sl_cnc_ha *ha = h->ha;

	if (h->written_gen != h->f.gen) {
		__atomic_store_n(&ha->ctl_gen, 2 * h->f.gen - 1, __ATOMIC_RELAXED);
		/* Pairs with the dataplane's acquire of ctl_gen after the
		 * fields: the odd value is visible before any field changes. */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&ha->ctl_role, h->f.role, __ATOMIC_RELAXED);
		__atomic_store_n(&ha->ctl_epoch, h->f.epoch, __ATOMIC_RELAXED);
		__atomic_store_n(&ha->ctl_ack_from_ns, h->f.ack_from_ns, __ATOMIC_RELAXED);
		__atomic_store_n(&ha->ctl_solo_epoch, h->f.solo_epoch, __ATOMIC_RELAXED);
		/* Pairs with the dataplane's acquire load of ctl_gen. */
		__atomic_store_n(&ha->ctl_gen, 2 * h->f.gen, __ATOMIC_RELEASE);
		h->written_gen = h->f.gen;
	}
	if (h->written_ok != h->f.etcd_ok_ns) {
		/* A single word the dataplane reads on its own (relaxed). */
		__atomic_store_n(&ha->ctl_etcd_ok_ns, h->f.etcd_ok_ns, __ATOMIC_RELAXED);
		h->written_ok = h->f.etcd_ok_ns;
	}
	__atomic_store_n(&ha->ctl_heartbeat_ns, now, __ATOMIC_RELAXED);
}

/* ---- etcd ---- */

static int
leader_of(struct sl_ha *h, int rc, const struct sl_etcd_kv *kv, struct sl_ha_leader *l)
{
	memset(l, 0, sizeof(*l));
	if (rc == -ENOENT || (rc >= 0 && kv->create_rev == 0))
		return rc == -ENOENT ? 0 : rc;
	if (rc < 0)
		return rc;
	if (sl_ha_leader_decode(kv->value, kv->len, l) < 0) {
		SL_LOG(ERR, "pair %s node %s: ha: %s holds no leader record ('%.80s'): "
		       "treated as etcd unusable\n", h->pair, h->node, h->key_leader, kv->value);
		return -EPROTO;
	}
	l->mod_rev = kv->mod_rev;
	return rc;
}

static void
do_act(struct sl_ha *h, const struct sl_ha_act *a, const struct sl_ha_dp *dp)
{
	struct sl_etcd_kv *kv = &h->kv;
	struct sl_ha_leader cur;
	char val[256];
	uint64_t t0, t1;
	int rc;

	t0 = sl_mono_ns();
	if (a->kind == SL_HA_ACT_READ) {
		rc = sl_etcd_get(h->etcd, h->key_leader, kv);
	} else {
		rc = sl_ha_leader_encode(&a->want, val, sizeof(val));
		if (rc >= 0)
			rc = sl_etcd_cas(h->etcd, h->key_leader, a->mod_rev, val, (size_t)rc, kv);
	}
	t1 = sl_mono_ns();
	rc = leader_of(h, rc, kv, &cur);
	if (rc < 0) {
		pthread_mutex_lock(&h->mu);
		snprintf(h->snap_err, sizeof(h->snap_err), "%s", sl_etcd_errmsg(h->etcd));
		pthread_mutex_unlock(&h->mu);
	}
	sl_ha_result(&h->f, a, rc, &cur, dp, t0, t1);
}

/* nodes/<node> = {"role","epoch","updated"} for people and sluicectl;
 * best effort, after each settled change. */
static void
put_node(struct sl_ha *h, uint64_t now)
{
	char val[160];
	int n;

	if (h->f.role == h->put_role && h->f.epoch == h->put_epoch)
		return;
	/* Not while a role is transient, a new primary waits out the old
	 * one's lease, or etcd is away; a failed write waits a second: this
	 * loop's etcd reads (the lease) come first. */
	if (h->f.role == SL_HA_ROLE_CANDIDATE || !h->f.etcd_up || now < h->f.ack_from_ns ||
	    now < h->next_put_ns)
		return;
	n = snprintf(val, sizeof(val), "{\"role\":\"%s\",\"epoch\":%u,\"updated\":%llu}",
		     sl_ha_role_name(h->f.role), h->f.epoch,
		     (unsigned long long)(sl_wall_ns() / MS));
	if (sl_etcd_put(h->etcd, h->key_node, val, (size_t)n, NODE_PUT_MS) < 0) {
		h->f.etcd_errors++;
		h->next_put_ns = now + 1000 * MS;
		return;
	}
	h->put_role = h->f.role;
	h->put_epoch = h->f.epoch;
}

static void
publish_snapshot(struct sl_ha *h, const struct sl_ha_dp *dp, uint64_t now)
{
	pthread_mutex_lock(&h->mu);
	if (h->promote_req) {
		h->promote_req = 0;
		h->f.force_req = 1;
		h->f.promote_msg[0] = '\0';
	}
	h->snap = h->f;
	h->snap_dp = *dp;
	h->snap_attached = h->cnc != NULL;
	h->snap_ns = now;
	pthread_mutex_unlock(&h->mu);
}

static void *
ha_thread(void *arg)
{
	struct sl_ha *h = arg;
	struct sl_ha_act a;
	struct sl_ha_dp dp;
	struct timespec ts;
	uint64_t now, w;
	int acts;

	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		now = sl_mono_ns();
		if (h->cnc == NULL)
			try_attach(h, now);
		else
			check_region(h, now);
		memset(&dp, 0, sizeof(dp));
		if (h->cnc != NULL)
			read_dp(h->ha, &dp);
		if (h->cnc != NULL && !dp.ready && !h->said_no_pair &&
		    now > h->f.attach_ns + 2000 * MS) {
			h->said_no_pair = 1;
			SL_LOG(WARNING, "pair %s node %s: ha: dataplane '%s' runs without a pair "
			       "(no ha.peer in its configuration): nothing to lead\n", h->pair,
			       h->node, h->dp_name);
		}
		/* A few decisions in a row (a read, then the CAS it calls for). */
		for (acts = 0; acts < 4; acts++) {
			a = sl_ha_step(&h->f, &dp, now);
			if (h->cnc != NULL)
				write_ctl(h, now);
			if (a.kind == SL_HA_ACT_NONE)
				break;
			do_act(h, &a, &dp);
			now = sl_mono_ns();
			if (h->cnc != NULL)
				read_dp(h->ha, &dp);
		}
		if (h->cnc != NULL) {
			write_ctl(h, now);
			if (dp.ready)
				put_node(h, sl_mono_ns());
		}
		publish_snapshot(h, &dp, now);
		w = sl_ha_wait_ns(&h->f, &dp, sl_mono_ns());
		ts.tv_sec = (time_t)(w / SL_NS_PER_S);
		ts.tv_nsec = (long)(w % SL_NS_PER_S);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---- the API ---- */

static int
name_ok(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n >= SL_HA_NODE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
sl_ha_start(struct sl_ha **out, const struct sl_ha_conf *c, char *err, size_t errlen)
{
	struct sl_ha *h;
	int rc;

	if (!name_ok(c->pair) || !name_ok(c->node)) {
		snprintf(err, errlen, "--pair and --node must be 1-%d characters of A-Z a-z 0-9 . _ -",
			 SL_HA_NODE_MAX - 1);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	snprintf(h->pair, sizeof(h->pair), "%s", c->pair);
	snprintf(h->node, sizeof(h->node), "%s", c->node);
	snprintf(h->dp_name, sizeof(h->dp_name), "%s", c->dp_name);
	snprintf(h->key_leader, sizeof(h->key_leader), "/sluice/pairs/%s/leader", c->pair);
	snprintf(h->key_node, sizeof(h->key_node), "/sluice/pairs/%s/nodes/%s", c->pair, c->node);
	snprintf(h->path, sizeof(h->path), "%s/%s/cnc", SL_RUN_DIR, c->dp_name);
	rc = sl_etcd_open(&h->etcd, c->etcd, c->connect_ms, c->total_ms);
	if (rc < 0) {
		snprintf(err, errlen, "--etcd '%s': %s", c->etcd, rc == -EINVAL ?
			 "give 1-8 comma-separated http:// or https:// URLs" : strerror(-rc));
		free(h);
		return rc;
	}
	sl_ha_fsm_init(&h->f, h->node, log_line, h);
	h->snap = h->f;
	pthread_mutex_init(&h->mu, NULL);
	rc = pthread_create(&h->th, NULL, ha_thread, h);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the HA thread: %s", strerror(rc));
		pthread_mutex_destroy(&h->mu);
		sl_etcd_close(h->etcd);
		free(h);
		return -rc;
	}
	*out = h;
	return 0;
}

void
sl_ha_stop(struct sl_ha *h)
{
	if (h == NULL)
		return;
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELAXED);
	pthread_join(h->th, NULL);
	detach(h);
	sl_etcd_close(h->etcd);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int
sl_ha_promote(struct sl_ha *h, int dr, struct sl_ha_dr_lag *lag, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	if (lag) {
		lag->records = h->snap_dp.dr_lag_records;
		lag->bytes = h->snap_dp.dr_lag_bytes;
		lag->report_ms = h->snap_dp.dr_report_ms;
	}
	if (dr && !(h->snap_dp.dp_flags & SL_HA_DP_F_DR)) {
		snprintf(err, errlen, "node %s is not a DR replica (its dataplane has no ha.dr): "
			 "promote a pair's standby with --force", h->node);
		rc = -EINVAL;
	} else if (h->snap.role == SL_HA_ROLE_PRIMARY) {
		snprintf(err, errlen, "node %s is the primary already (epoch %u)", h->node,
			 h->snap.epoch);
		rc = -EALREADY;
	} else if (h->snap.role != SL_HA_ROLE_STANDBY) {
		snprintf(err, errlen, "node %s is %s, not a standby: nothing to promote", h->node,
			 sl_ha_role_name(h->snap.role));
		rc = -EINVAL;
	} else {
		h->promote_req = 1;
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static json_t *
ms_ago(uint64_t now, uint64_t t)
{
	return t == 0 ? json_null() : json_integer(now > t ? (json_int_t)((now - t) / MS) : 0);
}

json_t *
sl_ha_status_json(struct sl_ha *h)
{
	struct sl_ha_fsm f;
	struct sl_ha_dp dp;
	uint64_t now = sl_mono_ns();
	char err[256];
	int attached;
	json_t *o, *leader;

	pthread_mutex_lock(&h->mu);
	f = h->snap;
	dp = h->snap_dp;
	attached = h->snap_attached;
	snprintf(err, sizeof(err), "%s", h->snap_err);
	pthread_mutex_unlock(&h->mu);
	leader = f.leader_known && f.leader.present ?
		 json_pack("{s:s, s:I, s:b}", "node", f.leader.node, "epoch",
			   (json_int_t)f.leader.epoch, "insync", f.leader.insync) : json_null();
	o = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:b, s:I, s:I}",
		      "node", h->node, "pair", h->pair, "role", sl_ha_role_name(f.role),
		      "epoch", (json_int_t)f.epoch, "leader", leader,
		      "insync", f.leader_known && f.leader.present ? json_boolean(f.leader.insync)
								    : json_null(),
		      "solo", f.role == SL_HA_ROLE_PRIMARY && f.solo_epoch == f.epoch,
		      "lag_records", (json_int_t)dp.lag_records,
		      "lag_bytes", (json_int_t)dp.lag_bytes);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "catchup", json_pack("{s:I, s:I}", "done",
		(json_int_t)dp.catchup_done, "total", (json_int_t)dp.catchup_total));
	json_object_set_new(o, "dataplane", json_pack("{s:b, s:s, s:I, s:b, s:I, s:I}",
		"attached", attached, "role", sl_ha_role_name(dp.dp_role),
		"epoch", (json_int_t)dp.dp_epoch, "fenced", dp.fenced != 0,
		"lease_ms", (json_int_t)dp.lease_ms, "detect_ms", (json_int_t)dp.detect_ms));
	json_object_set_new(o, "peer", json_pack("{s:s, s:I, s:o}",
		"role", sl_ha_role_name(dp.peer_role), "epoch", (json_int_t)dp.peer_epoch,
		"heard_ms_ago", ms_ago(now, dp.peer_heard_ns)));
	json_object_set_new(o, "ack_from_in_ms", f.ack_from_ns > now ?
		json_integer((json_int_t)((f.ack_from_ns - now) / MS)) : json_integer(0));
	json_object_set_new(o, "etcd_ok_ms_ago", ms_ago(now, f.etcd_ok_ns));
	json_object_set_new(o, "failovers", json_integer((json_int_t)f.failovers));
	json_object_set_new(o, "spurious_failovers", json_integer((json_int_t)f.spurious));
	json_object_set_new(o, "starved_silences", json_integer((json_int_t)f.starved));
	json_object_set_new(o, "last_failover_ms", json_integer((json_int_t)f.last_failover_ms));
	json_object_set_new(o, "etcd", json_pack("{s:b, s:s, s:I, s:I, s:s}",
		"reachable", f.etcd_up, "endpoint", sl_etcd_endpoint(h->etcd),
		"errors", (json_int_t)f.etcd_errors, "cas_lost", (json_int_t)f.cas_lost,
		"error", f.etcd_up ? "" : err));
	json_object_set_new(o, "promote", json_string(f.promote_msg));
	json_object_set_new(o, "dr", json_pack("{s:b, s:b, s:I, s:I, s:o}",
		"replica", (dp.dp_flags & SL_HA_DP_F_DR) != 0,
		"streams_to_dr", (dp.dp_flags & SL_HA_DP_F_DR_PEER) != 0,
		"lag_records", (json_int_t)dp.dr_lag_records,
		"lag_bytes", (json_int_t)dp.dr_lag_bytes,
		"report_ms_ago", dp.dr_report_ms == 0 ? json_null() :
		json_integer((json_int_t)(sl_wall_ns() / MS > dp.dr_report_ms ?
					  sl_wall_ns() / MS - dp.dr_report_ms : 0))));
	return o;
}
