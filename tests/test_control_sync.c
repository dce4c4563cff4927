/* SPDX-License-Identifier: BSD-3-Clause */
/* Control-to-dataplane sync against a fake dataplane in the same process. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "sync.h"

#include "check.h"

#define MS 1000000ull

/* What the fake dataplane saw, in order. */
static struct sl_cnc_cmd seen[8192];
static size_t n_seen;
static uint32_t refuse_type; /* answer commands of this type with -ENOENT */

static uint64_t
real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One drain of the main lcore: every command gets one result, in order. */
static int
fake_dataplane(struct sl_cnc *dp, uint64_t now)
{
	struct sl_cnc_result r;
	struct sl_cnc_cmd c;
	int n = 0;

	sl_cnc_hdr(dp)->dp_heartbeat_ns = now;
	while (sl_cnc_cmd_pop(dp, &c) == 1) {
		if (n_seen < sizeof(seen) / sizeof(seen[0]))
			seen[n_seen++] = c;
		memset(&r, 0, sizeof(r));
		r.id = c.id;
		if (c.type == refuse_type) {
			r.rc = -ENOENT;
			snprintf(r.message, sizeof(r.message), "no such thing");
		}
		CHECK(sl_cnc_result_push(dp, &r) == 0);
		n++;
	}
	return n;
}

/* Run control and the fake until both are idle. */
static void
settle(struct sl_sync *s, struct sl_cnc *dp, const struct sl_state *st, uint64_t *now)
{
	int i, work;

	for (i = 0; i < 1000; i++) {
		*now += MS;
		work = sl_sync_tick(s, st, *now);
		work += dp ? fake_dataplane(dp, *now) : 0;
		if (work == 0 && i > 2)
			return;
	}
}

static void
make_state(struct sl_state *st, int n_topics)
{
	static const uint8_t key[SL_AUTH_KEY_LEN] = { 7 };
	struct sl_state_topic t;
	char err[256];
	uint16_t uid;
	int i;

	sl_state_init(st);
	CHECK(sl_state_user_add(st, "alice", 1, key, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_user_add(st, "bob", 0, key, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_grant(st, "bob", "a.>", SL_PERM_PUB, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_grant(st, "bob", "b.*", SL_PERM_SUB, err, sizeof(err)) == 0);
	st->policy.auth_required = 1;
	st->policy.rate_limit = 500;
	st->policy.set = SL_STATE_POLICY_F_AUTH | SL_STATE_POLICY_F_RATE; /* idle: not set */
	for (i = 0; i < n_topics; i++) {
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "t%d", i);
		t.durability = SL_DUR_ASYNC;
		t.retain_mb = 2;
		CHECK(sl_state_topic_add(st, &t, err, sizeof(err)) == 0);
	}
}

/* The full resync sequence starting at seen[from]; returns its generation.
 * No ACL_CLEAR (it would deny until the entries follow) and, of the policy,
 * only what an operator set: auth required and the rate, not idle. */
static uint64_t
check_resync(size_t from, const struct sl_state *st)
{
	const struct sl_cnc_cmd *c = &seen[from];
	size_t want = 1 + st->n_users + st->n_acls + 2 + st->n_topics + 1, i;

	CHECK(n_seen - from == want);
	if (n_seen - from != want)
		return 0;
	CHECK(c[0].type == SL_CNC_SYNC_BEGIN);
	CHECK(c[1].type == SL_CNC_USER_UPSERT && c[1].u.user.uid == 1 &&
	      strcmp(c[1].u.user.name, "alice") == 0 && c[1].u.user.flags == SL_USER_F_ADMIN &&
	      c[1].u.user.key[0] == 7);
	CHECK(c[2].type == SL_CNC_USER_UPSERT && c[2].u.user.uid == 2);
	CHECK(c[3].type == SL_CNC_ACL_SET && c[3].u.acl.uid == 2 &&
	      strcmp(c[3].u.acl.pattern, "a.>") == 0 && c[3].u.acl.perms == SL_PERM_PUB);
	CHECK(c[4].type == SL_CNC_ACL_SET && strcmp(c[4].u.acl.pattern, "b.*") == 0);
	CHECK(c[5].type == SL_CNC_AUTH_MODE && c[5].u.value == 1);
	CHECK(c[6].type == SL_CNC_SET_RATE && c[6].u.value == 500);
	for (i = 0; i < st->n_topics; i++)
		CHECK(c[7 + i].type == SL_CNC_TOPIC_UPSERT &&
		      strcmp(c[7 + i].u.topic.name, st->topics[i].name) == 0 &&
		      c[7 + i].u.topic.durability == SL_DUR_ASYNC &&
		      c[7 + i].u.topic.retain_bytes == 2u << 20);
	CHECK(c[want - 1].type == SL_CNC_SYNC_END);
	CHECK(c[want - 1].u.generation == c[0].u.generation);
	for (i = 1; i < want; i++)
		CHECK(c[i].id == c[i - 1].id + 1);
	return c[0].u.generation;
}

/* How many commands of @type the resync starting at seen[from] holds, and
 * the value of the last one in @value. */
static int
count_type(size_t from, uint32_t type, uint32_t *value)
{
	int n = 0;
	size_t i;

	for (i = from; i < n_seen; i++)
		if (seen[i].type == type) {
			n++;
			if (value != NULL)
				*value = seen[i].u.value;
		}
	return n;
}

/*
 * A resync sends only the policy settings an operator set, and never
 * switches authentication off: a control with fresh state (nothing set)
 * leaves a dataplane's auth, idle strategy and rate limit as they are; an
 * explicit "auth open" is not resent either (only policy.set lowers it).
 */
static void
test_policy_resync(struct sl_sync *s, struct sl_cnc *dp, uint64_t *now)
{
	struct sl_state st;
	uint32_t v = 99;
	size_t from;

	sl_state_init(&st);
	from = n_seen;
	sl_sync_request_resync(s);
	settle(s, dp, &st, now);
	CHECK(count_type(from, SL_CNC_SYNC_BEGIN, NULL) == 1);
	CHECK(count_type(from, SL_CNC_SYNC_END, NULL) == 1);
	CHECK(count_type(from, SL_CNC_AUTH_MODE, NULL) == 0);
	CHECK(count_type(from, SL_CNC_SET_IDLE, NULL) == 0);
	CHECK(count_type(from, SL_CNC_SET_RATE, NULL) == 0);
	CHECK(count_type(from, SL_CNC_ACL_CLEAR, NULL) == 0);

	/* Explicitly open, busy, unlimited: idle and rate are resent as set,
	 * auth is not (a resync only ever raises it). */
	st.policy.set = SL_STATE_POLICY_F_ALL;
	from = n_seen;
	sl_sync_request_resync(s);
	settle(s, dp, &st, now);
	CHECK(count_type(from, SL_CNC_AUTH_MODE, NULL) == 0);
	CHECK(count_type(from, SL_CNC_SET_IDLE, &v) == 1 && v == 0);
	CHECK(count_type(from, SL_CNC_SET_RATE, &v) == 1 && v == 0);

	/* Set to required and backoff: both resent. */
	st.policy.auth_required = 1;
	st.policy.idle_backoff = 1;
	st.policy.set = SL_STATE_POLICY_F_AUTH | SL_STATE_POLICY_F_IDLE;
	from = n_seen;
	sl_sync_request_resync(s);
	settle(s, dp, &st, now);
	CHECK(count_type(from, SL_CNC_AUTH_MODE, &v) == 1 && v == 1);
	CHECK(count_type(from, SL_CNC_SET_IDLE, &v) == 1 && v == 1);
	CHECK(count_type(from, SL_CNC_SET_RATE, NULL) == 0);
	sl_state_fini(&st);
}

static void
test_tickets(struct sl_sync *s, struct sl_cnc *dp, const struct sl_state *st, uint64_t *now)
{
	struct sl_cnc_cmd c[2];
	char msg[200];
	int64_t t;

	/* A change: answered. */
	sl_sync_cmd_topic(&c[0], &st->topics[0]);
	t = sl_sync_submit(s, c, 1, *now);
	CHECK(t > 0);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == 0);
	settle(s, dp, st, now);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == 1);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == 2); /* forgotten */
	/* Refused: the dataplane's words reach the caller. */
	refuse_type = SL_CNC_TOPIC_UPDATE;
	sl_sync_cmd_topic(&c[0], &st->topics[0]);
	c[0].type = SL_CNC_TOPIC_UPDATE;
	sl_sync_cmd_topic_delete(&c[1], "t0");
	t = sl_sync_submit(s, c, 2, *now);
	settle(s, dp, st, now);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == -ENOENT);
	CHECK(strstr(msg, "refused") && strstr(msg, "no such thing"));
	/* A delete of what the dataplane lacks (ENOENT) is done, not refused. */
	refuse_type = SL_CNC_GROUP_DELETE;
	sl_sync_cmd_group_delete(&c[0], "t0", "gone");
	t = sl_sync_submit(s, c, 1, *now);
	settle(s, dp, st, now);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == 1);
	refuse_type = 0;
	/* Not answered: a timeout, and later answers are ignored. */
	t = sl_sync_submit(s, c, 1, *now);
	sl_sync_tick(s, st, *now + MS);
	sl_cnc_hdr(dp)->dp_heartbeat_ns = *now + 1100 * MS;
	*now += 1100 * MS;
	sl_sync_tick(s, st, *now);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == -ETIMEDOUT);
	CHECK(strstr(msg, "did not answer") != NULL);
	settle(s, dp, st, now);
	t = sl_sync_submit(s, c, 1, *now);
	settle(s, dp, st, now);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == 1);
}

static void
test_stale(struct sl_sync *s, struct sl_cnc *dp, const struct sl_state *st, uint64_t *now)
{
	struct sl_sync_status ss;
	size_t from;

	/* The dataplane hangs for 3 s, then comes back: state is resent. */
	*now += 3000 * MS;
	sl_sync_tick(s, st, *now);
	sl_sync_status(s, *now, &ss);
	CHECK(ss.attached && ss.stale && !ss.synced && ss.heartbeat_age_ms >= 2000);
	from = n_seen;
	settle(s, dp, st, now);
	check_resync(from, st);
	sl_sync_status(s, *now, &ss);
	CHECK(!ss.stale && ss.synced);
}

/* The dataplane exits (its file goes), then a new one starts. */
static struct sl_cnc *
test_restart(struct sl_sync *s, struct sl_cnc *dp, const char *name, const struct sl_state *st,
	     uint64_t *now, uint64_t gen)
{
	struct sl_sync_status ss;
	struct sl_cnc_cmd c;
	char msg[200];
	int64_t t;
	size_t from;

	sl_sync_cmd_topic(&c, &st->topics[0]);
	t = sl_sync_submit(s, &c, 1, *now);
	sl_cnc_close(dp);
	settle(s, NULL, st, now);
	sl_sync_status(s, *now, &ss);
	CHECK(!ss.attached);
	CHECK(sl_sync_ticket_poll(s, t, msg, sizeof(msg)) == -ENOTCONN);
	CHECK(sl_sync_submit(s, &c, 1, *now) == 0); /* nothing to wait for */
	CHECK(sl_cnc_create(&dp, name, 64) == 0);
	from = n_seen;
	*now += SL_SYNC_RETRY_MS * MS;
	sl_cnc_hdr(dp)->dp_heartbeat_ns = *now;
	settle(s, dp, st, now);
	CHECK(check_resync(from, st) > gen);
	sl_sync_status(s, *now, &ss);
	CHECK(ss.attached && ss.synced && ss.dp_pid == getpid());
	return dp;
}

/* A new region replaces the file while the old one is still mapped. */
static struct sl_cnc *
test_replaced(struct sl_sync *s, struct sl_cnc *dp, const char *name, const struct sl_state *st,
	      uint64_t *now, struct sl_cnc **old)
{
	size_t from = n_seen;

	*old = dp;
	CHECK(sl_cnc_create(&dp, name, 64) == 0);
	sl_cnc_hdr(dp)->dp_heartbeat_ns = *now;
	settle(s, dp, st, now);
	check_resync(from, st);
	/* dp_start_ns changes in place: resync too. */
	from = n_seen;
	sl_cnc_hdr(dp)->dp_start_ns += 1;
	settle(s, dp, st, now);
	check_resync(from, st);
	return dp;
}

static void
test_dead_pid(struct sl_sync *s, struct sl_cnc *dp, const struct sl_state *st, uint64_t *now)
{
	struct sl_sync_status ss;
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	/* The region of a dataplane killed with -9 stays behind. */
	sl_cnc_hdr(dp)->dp_pid = child;
	settle(s, NULL, st, now);
	sl_sync_status(s, *now, &ss);
	CHECK(!ss.attached);
	*now += SL_SYNC_RETRY_MS * MS;
	settle(s, NULL, st, now);
	sl_sync_status(s, *now, &ss);
	CHECK(!ss.attached);
	sl_cnc_hdr(dp)->dp_pid = getpid();
}

/* The counters area as the dataplane writes it, read through the syncer. */
static void
test_counters(struct sl_sync *s, struct sl_cnc *dp)
{
	static const char *const labels[] = { "published", "subscribers" };
	static const uint8_t kinds[] = { SL_CTRS_K_COUNT, SL_CTRS_K_GAUGE };
	struct sl_ctrs_hdr *a = sl_cnc_ctrs(dp);
	const struct sl_ctrs_meta *m;
	const struct sl_ctrs_type *t;
	const uint64_t *vals;
	struct sl_ctrs_view v;
	int slot;

	CHECK(sl_ctrs_type_define(a, 3, "topic", labels, kinds, 2) == 0);
	slot = sl_ctrs_slot_alloc(a, 3, 7, "orders.eu");
	CHECK(slot >= 0);
	sl_ctrs_sample_begin(a);
	sl_ctrs_set(&sl_ctrs_values(a, slot)[0], 41);
	sl_ctrs_sample_end(a, 1234);
	CHECK(sl_sync_counters(s, &v) == 0 && v.consistent && v.sample_ns == 1234);
	m = sl_ctrs_view_slot(&v, (uint32_t)slot, &t, &vals);
	CHECK(m != NULL && m->owner == 7 && strcmp(m->key, "orders.eu") == 0);
	CHECK(t != NULL && strcmp(t->labels[0], "published") == 0 && vals[0] == 41);
	sl_ctrs_view_free(&v);
	sl_ctrs_slot_free(a, slot);
}

/*
 * Consumer groups ride every resync: GROUP_UPSERT for each, after the
 * topics they belong to and before SYNC_END, with every setting; ACL
 * entries carry their group. A group the dataplane refuses (its topic
 * gone, say) does not fail the resync.
 */
static void
test_group_resync(struct sl_sync *s, struct sl_cnc *dp, uint64_t *now)
{
	static const uint8_t key[SL_AUTH_KEY_LEN] = { 9 };
	struct sl_state_topic t;
	struct sl_state_group g;
	struct sl_sync_status ss;
	struct sl_cnc_cmd one;
	struct sl_state st;
	char err[256];
	size_t from, i, last_topic = 0, first_group = 0, end = 0;
	uint16_t uid;
	int groups = 0, acl_group = 0;

	sl_state_init(&st);
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "jobs");
	t.durability = SL_DUR_SYNC;
	CHECK(sl_state_topic_add(&st, &t, err, sizeof(err)) == 0);
	sl_state_group_defaults(&g, "jobs", "workers");
	g.policy = SL_STATE_GROUP_KEY;
	g.flags = SL_CNC_GROUP_F_DURABLE;
	g.max_inflight = 777;
	snprintf(g.dead_letter, sizeof(g.dead_letter), "jobs.dead");
	CHECK(sl_state_group_add(&st, &g, err, sizeof(err)) == 0);
	sl_state_group_defaults(&g, "jobs", "audit");
	CHECK(sl_state_group_add(&st, &g, err, sizeof(err)) == 0);
	CHECK(sl_state_user_add(&st, "w", 0, key, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_set(&st, "w", "jobs", SL_PERM_CONSUME, "workers", err,
			       sizeof(err)) == 0);

	for (int round = 0; round < 2; round++) {
		/* Second round: the dataplane refuses every group. */
		refuse_type = round ? SL_CNC_GROUP_UPSERT : 0;
		from = n_seen;
		groups = acl_group = 0;
		sl_sync_request_resync(s);
		settle(s, dp, &st, now);
		for (i = from; i < n_seen; i++) {
			const struct sl_cnc_cmd *c = &seen[i];

			if (c->type == SL_CNC_TOPIC_UPSERT)
				last_topic = i;
			if (c->type == SL_CNC_SYNC_END)
				end = i;
			if (c->type == SL_CNC_ACL_SET && strcmp(c->u.acl.group, "workers") == 0 &&
			    c->u.acl.perms == SL_PERM_CONSUME)
				acl_group++;
			if (c->type != SL_CNC_GROUP_UPSERT)
				continue;
			if (groups++ == 0) {
				first_group = i;
				CHECK(strcmp(c->u.group.topic, "jobs") == 0 &&
				      strcmp(c->u.group.name, "workers") == 0 &&
				      strcmp(c->u.group.dead_letter, "jobs.dead") == 0 &&
				      c->u.group.policy == SL_STATE_GROUP_KEY &&
				      c->u.group.flags == SL_CNC_GROUP_F_DURABLE &&
				      c->u.group.ack_wait_ms == 30000 &&
				      c->u.group.max_deliveries == 5 && c->u.group.grace_ms == 5000 &&
				      c->u.group.max_inflight == 777);
			} else {
				CHECK(strcmp(c->u.group.name, "audit") == 0 &&
				      c->u.group.policy == SL_STATE_GROUP_RR &&
				      c->u.group.flags == 0 && c->u.group.dead_letter[0] == '\0');
			}
		}
		CHECK(groups == 2 && acl_group == 1);
		CHECK(last_topic < first_group && first_group < end);
		sl_sync_status(s, *now, &ss);
		CHECK(ss.synced);
	}
	refuse_type = 0;
	sl_state_fini(&st);

	/* The one-off commands. */
	sl_sync_cmd_group_delete(&one, "jobs", "audit");
	CHECK(one.type == SL_CNC_GROUP_DELETE && strcmp(one.u.group.topic, "jobs") == 0 &&
	      strcmp(one.u.group.name, "audit") == 0 && one.len == sizeof(one.u.group));
	sl_sync_cmd_group_reset(&one, "jobs", "audit", SL_CNC_RESET_SEQ, 42);
	CHECK(one.type == SL_CNC_GROUP_RESET && strcmp(one.u.group.name, "audit") == 0 &&
	      one.u.group.reset_how == SL_CNC_RESET_SEQ && one.u.group.reset_arg == 42);
	sl_sync_cmd_acl_set(&one, 3, "a.>", SL_PERM_SUB, NULL);
	CHECK(one.u.acl.group[0] == '\0' && one.u.acl.perms == SL_PERM_SUB);
}

/*
 * The dataplane's "group" and "gmember" slots: the stats answer's
 * "groups", a group's members, and the Prometheus families
 * sluice_group_*{topic,group}.
 */
static void
test_group_counters(struct sl_sync *s, struct sl_cnc *dp)
{
	static const char *const gl[] = { "members", "delivered", "acked", "cursor" };
	static const uint8_t gk[] = { SL_CTRS_K_GAUGE, SL_CTRS_K_COUNT, SL_CTRS_K_COUNT,
				      SL_CTRS_K_ID };
	static const char *const ml[] = { "state", "outstanding", "delivered", "acked" };
	static const uint8_t mk[] = { SL_CTRS_K_GAUGE, SL_CTRS_K_GAUGE, SL_CTRS_K_COUNT,
				      SL_CTRS_K_COUNT };
	struct sl_ctrs_hdr *a = sl_cnc_ctrs(dp);
	struct sl_ctrs_view v;
	const json_t *e;
	json_t *groups, *members, *stats;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int g1, g2, m1, m2, m3;

	CHECK(sl_ctrs_type_define(a, 5, "group", gl, gk, 4) == 0);
	CHECK(sl_ctrs_type_define(a, 6, "gmember", ml, mk, 4) == 0);
	g1 = sl_ctrs_slot_alloc(a, 5, 1, "jobs workers");
	g2 = sl_ctrs_slot_alloc(a, 5, 1, "a.b audit");
	m1 = sl_ctrs_slot_alloc(a, 6, 1, "jobs workers 00000000000000b2");
	m2 = sl_ctrs_slot_alloc(a, 6, 1, "jobs workers 00000000000000a1");
	m3 = sl_ctrs_slot_alloc(a, 6, 1, "jobs workersx 0000000000000001");
	CHECK(g1 >= 0 && g2 >= 0 && m1 >= 0 && m2 >= 0 && m3 >= 0);
	sl_ctrs_sample_begin(a);
	sl_ctrs_set(&sl_ctrs_values(a, g1)[0], 2);
	sl_ctrs_set(&sl_ctrs_values(a, g1)[1], 70);
	sl_ctrs_set(&sl_ctrs_values(a, g1)[2], 65);
	sl_ctrs_set(&sl_ctrs_values(a, g1)[3], 71);
	sl_ctrs_set(&sl_ctrs_values(a, g2)[1], 9);
	sl_ctrs_set(&sl_ctrs_values(a, m1)[0], 1);
	sl_ctrs_set(&sl_ctrs_values(a, m1)[1], 3);
	sl_ctrs_set(&sl_ctrs_values(a, m1)[2], 40);
	sl_ctrs_set(&sl_ctrs_values(a, m2)[0], 4);
	sl_ctrs_set(&sl_ctrs_values(a, m2)[2], 30);
	sl_ctrs_sample_end(a, 5678);
	CHECK(sl_sync_counters(s, &v) == 0);

	groups = sl_ctl_groups_json(&v);
	CHECK(json_array_size(groups) == 2);
	e = json_array_get(groups, 0); /* key order: "a.b audit" first */
	CHECK(strcmp(json_string_value(json_object_get(e, "topic")), "a.b") == 0 &&
	      strcmp(json_string_value(json_object_get(e, "group")), "audit") == 0 &&
	      json_integer_value(json_object_get(e, "delivered")) == 9);
	e = json_array_get(groups, 1);
	CHECK(strcmp(json_string_value(json_object_get(e, "topic")), "jobs") == 0 &&
	      json_integer_value(json_object_get(e, "members")) == 2 &&
	      json_integer_value(json_object_get(e, "acked")) == 65 &&
	      json_integer_value(json_object_get(e, "cursor")) == 71);
	json_decref(groups);

	/* Only this group's members ("workersx" is another group), by id. */
	members = sl_ctl_group_members_json(&v, "jobs", "workers");
	CHECK(json_array_size(members) == 2);
	e = json_array_get(members, 0);
	CHECK(strcmp(json_string_value(json_object_get(e, "member")), "00000000000000a1") == 0 &&
	      json_integer_value(json_object_get(e, "state")) == 4 &&
	      json_integer_value(json_object_get(e, "delivered")) == 30 &&
	      json_object_get(e, "topic") == NULL);
	e = json_array_get(members, 1);
	CHECK(json_integer_value(json_object_get(e, "outstanding")) == 3);
	json_decref(members);

	stats = sl_ctl_stats_json(&v);
	CHECK(json_array_size(json_object_get(stats, "groups")) == 2);
	json_decref(stats);

	f = open_memstream(&text, &len);
	CHECK(f != NULL);
	sl_metrics_render_view(&v, f);
	fclose(f);
	CHECK(strstr(text, "# TYPE sluice_group_delivered_total counter\n") != NULL);
	CHECK(strstr(text, "sluice_group_delivered_total{topic=\"jobs\",group=\"workers\"} 70\n"));
	CHECK(strstr(text, "sluice_group_delivered_total{topic=\"a.b\",group=\"audit\"} 9\n"));
	CHECK(strstr(text, "# TYPE sluice_group_members gauge\n") != NULL);
	CHECK(strstr(text, "sluice_group_members{topic=\"jobs\",group=\"workers\"} 2\n"));
	CHECK(strstr(text, "sluice_group_cursor") == NULL); /* an id: no metric */
	free(text);
	sl_ctrs_view_free(&v);
	sl_ctrs_slot_free(a, g1);
	sl_ctrs_slot_free(a, g2);
	sl_ctrs_slot_free(a, m1);
	sl_ctrs_slot_free(a, m2);
	sl_ctrs_slot_free(a, m3);
}

/* Rates: sluice-control's, over its samples of the area, per second of the
 * dataplane's sample clock; a count that went back has none. */
static void
test_rates(struct sl_sync *s, struct sl_cnc *dp)
{
	static const char *const cl[] = { "publishes" };
	static const char *const tl[] = { "published", "subscribers" };
	static const uint8_t ck[] = { SL_CTRS_K_COUNT };
	static const uint8_t tk[] = { SL_CTRS_K_COUNT, SL_CTRS_K_GAUGE };
	struct sl_ctrs_hdr *a = sl_cnc_ctrs(dp);
	struct sl_ctl ctl = { .name = "rates", .sync = s };
	uint64_t t0 = 5000000000000ull, now = real_now();
	const json_t *t;
	json_t *r;
	int c0, cm, tp;

	CHECK(sl_ctrs_type_define(a, 1, "counters", cl, ck, 1) == 0);
	CHECK(sl_ctrs_type_define(a, 3, "topic", tl, tk, 2) == 0);
	c0 = sl_ctrs_slot_alloc(a, 1, 0, NULL);
	cm = sl_ctrs_slot_alloc(a, 1, SL_CTRS_OWNER_MAIN, NULL);
	tp = sl_ctrs_slot_alloc(a, 3, 5, "orders");
	CHECK(c0 >= 0 && cm >= 0 && tp >= 0);
	sl_ctrs_set(&sl_ctrs_values(a, c0)[0], 100);
	sl_ctrs_set(&sl_ctrs_values(a, cm)[0], 50);
	sl_ctrs_set(&sl_ctrs_values(a, tp)[0], 10);
	sl_ctrs_sample_end(a, t0);
	sl_ctl_rates_tick(&ctl, now);
	r = sl_ctl_rates_json(&ctl);
	CHECK(json_object_size(r) == 0); /* one sample: no rate yet */
	json_decref(r);
	/* Two seconds of the dataplane's clock later, whenever the tick runs. */
	sl_ctrs_set(&sl_ctrs_values(a, c0)[0], 400);
	sl_ctrs_set(&sl_ctrs_values(a, tp)[0], 70);
	sl_ctrs_set(&sl_ctrs_values(a, tp)[1], 3);
	sl_ctrs_sample_end(a, t0 + 2000000000ull);
	sl_ctl_rates_tick(&ctl, now + SL_CTL_RATE_PERIOD_MS * MS / 2); /* not due: no sample */
	r = sl_ctl_rates_json(&ctl);
	CHECK(json_object_size(r) == 0);
	json_decref(r);
	sl_ctl_rates_tick(&ctl, now + SL_CTL_RATE_PERIOD_MS * MS);
	r = sl_ctl_rates_json(&ctl);
	CHECK(json_real_value(json_object_get(json_object_get(r, "counters"), "publishes")) == 150.0);
	t = json_array_get(json_object_get(r, "topics"), 0);
	CHECK(json_array_size(json_object_get(r, "topics")) == 1);
	CHECK(json_is_string(json_object_get(t, "name")) &&
	      strcmp(json_string_value(json_object_get(t, "name")), "orders") == 0);
	CHECK(json_real_value(json_object_get(t, "published")) == 30.0);
	CHECK(json_object_get(t, "subscribers") == NULL); /* a gauge has no rate */
	json_decref(r);
	/* The dataplane restarted: its counts went back, no rate for them. */
	sl_ctrs_set(&sl_ctrs_values(a, c0)[0], 0);
	sl_ctrs_set(&sl_ctrs_values(a, cm)[0], 0);
	sl_ctrs_sample_end(a, t0 + 3000000000ull);
	sl_ctl_rates_tick(&ctl, now + 2 * SL_CTL_RATE_PERIOD_MS * MS);
	r = sl_ctl_rates_json(&ctl);
	CHECK(json_object_get(json_object_get(r, "counters"), "publishes") == NULL);
	CHECK(json_real_value(json_object_get(json_array_get(json_object_get(r, "topics"), 0),
					      "published")) == 0.0);
	json_decref(r);
	sl_ctl_rates_fini(&ctl);
	sl_ctrs_slot_free(a, c0);
	sl_ctrs_slot_free(a, cm);
	sl_ctrs_slot_free(a, tp);
}

/* A region of another CnC version, or with another counters layout, is
 * refused, and the status says which version was found. */
static void
test_version(const struct sl_state *st, uint64_t *now)
{
	struct sl_sync_status ss;
	struct sl_cnc *dp;
	struct sl_sync *s;
	char name[32], dir[96];

	snprintf(name, sizeof(name), "ctlver%d", (int)getpid());
	CHECK(sl_cnc_create(&dp, name, 8) == 0);
	sl_cnc_hdr(dp)->version = SL_CNC_VERSION - 1;
	CHECK(sl_sync_create(&s, name) == 0);
	sl_sync_tick(s, st, *now);
	sl_sync_status(s, *now, &ss);
	CHECK(!ss.attached && ss.cnc_refused == SL_CNC_VERSION - 1);
	sl_cnc_hdr(dp)->version = SL_CNC_VERSION;
	sl_cnc_ctrs(dp)->version = SL_CTRS_VERSION + 1;
	*now += SL_SYNC_RETRY_MS * MS;
	sl_sync_tick(s, st, *now);
	sl_sync_status(s, *now, &ss);
	CHECK(!ss.attached && ss.cnc_refused == SL_CNC_VERSION);
	sl_cnc_ctrs(dp)->version = SL_CTRS_VERSION;
	*now += SL_SYNC_RETRY_MS * MS;
	sl_sync_tick(s, st, *now);
	sl_sync_status(s, *now, &ss);
	CHECK(ss.attached && ss.cnc_refused == 0);
	sl_sync_destroy(s);
	sl_cnc_close(dp);
	snprintf(dir, sizeof(dir), "%s/%s", SL_RUN_DIR, name);
	rmdir(dir);
}

/* A user's second key and policies, a topic's policy, go into their commands. */
static void
test_cmd_fields(void)
{
	static const uint8_t k1[SL_AUTH_KEY_LEN] = { 1 }, k2[SL_AUTH_KEY_LEN] = { 2 };
	struct sl_state st;
	struct sl_state_topic t;
	struct sl_cnc_cmd c;
	char err[256];
	uint16_t uid;

	sl_state_init(&st);
	CHECK(sl_state_user_add(&st, "eve", 0, k1, &uid, err, sizeof(err)) == 0);
	sl_sync_cmd_user(&c, sl_state_user_find(&st, "eve"));
	CHECK(c.u.user.flags == 0 && c.u.user.encryption == SL_CNC_ENC_OPTIONAL &&
	      c.u.user.key2[0] == 0 && c.u.user.key[0] == 1);
	CHECK(sl_state_user_key_add(&st, "eve", k2, err, sizeof(err)) == 0);
	CHECK(sl_state_user_update(&st, "eve", SL_STATE_UF_ENCRYPTION | SL_STATE_UF_ADMIN, 1,
				   SL_CNC_ENC_REQUIRED, err, sizeof(err)) == 0);
	sl_sync_cmd_user(&c, sl_state_user_find(&st, "eve"));
	CHECK(c.type == SL_CNC_USER_UPSERT && c.u.user.uid == uid);
	CHECK(c.u.user.flags == (SL_USER_F_ADMIN | SL_USER_F_KEY2));
	CHECK(c.u.user.encryption == SL_CNC_ENC_REQUIRED);
	CHECK(c.u.user.key[0] == 2 && c.u.user.key2[0] == 1);
	CHECK(sl_state_user_key_retire(&st, "eve", err, sizeof(err)) == 0);
	sl_sync_cmd_user(&c, sl_state_user_find(&st, "eve"));
	CHECK(c.u.user.flags == SL_USER_F_ADMIN && c.u.user.key2[0] == 0);
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "enc.t");
	t.encryption = SL_CNC_ENC_REQUIRED;
	sl_sync_cmd_topic(&c, &t);
	CHECK(c.type == SL_CNC_TOPIC_UPSERT && c.u.topic.encryption == SL_CNC_ENC_REQUIRED);
	sl_state_fini(&st);
}

int
main(void)
{
	struct sl_cnc *dp, *old = NULL;
	struct sl_sync_status ss;
	struct sl_sync *s;
	struct sl_state st;
	char name[32], buf[256];
	uint64_t now = real_now(), gen;

	test_cmd_fields();
	snprintf(name, sizeof(name), "ctltest%d", (int)getpid());
	if (sl_cnc_create(&dp, name, 64) < 0) {
		fprintf(stderr, "control_sync: cannot create %s/%s (not root?): skipped\n",
			SL_RUN_DIR, name);
		return 77;
	}
	make_state(&st, 300); /* more than the ring holds */
	CHECK(sl_sync_create(&s, name) == 0);
	CHECK(sl_sync_create(&s, "a/b") == -EINVAL);
	sl_cnc_hdr(dp)->dp_heartbeat_ns = now;
	settle(s, dp, &st, &now);
	gen = check_resync(0, &st);
	sl_sync_status(s, now, &ss);
	CHECK(ss.attached && ss.synced && !ss.stale && ss.syncs == 1);
	CHECK(sl_cnc_hdr(dp)->control_pid == getpid());
	CHECK(sl_cnc_hdr(dp)->control_heartbeat_ns >= now - 2 * MS);
	test_counters(s, dp);
	test_rates(s, dp);
	test_group_resync(s, dp, &now);
	test_group_counters(s, dp);

	test_tickets(s, dp, &st, &now);
	test_policy_resync(s, dp, &now);
	sl_sync_request_resync(s);
	settle(s, dp, &st, &now);
	sl_sync_status(s, now, &ss);
	CHECK(ss.synced && ss.syncs_completed == ss.syncs && ss.syncs >= 5);
	test_stale(s, dp, &st, &now);
	dp = test_restart(s, dp, name, &st, &now, gen);
	dp = test_replaced(s, dp, name, &st, &now, &old);
	test_dead_pid(s, dp, &st, &now);
	test_version(&st, &now);

	sl_sync_destroy(s);
	CHECK(sl_cnc_hdr(dp)->control_pid == 0 || sl_cnc_hdr(dp)->control_pid == getpid());
	sl_cnc_close(dp);
	sl_cnc_close(old);
	snprintf(buf, sizeof(buf), "%s/%s", SL_RUN_DIR, name);
	rmdir(buf);
	sl_state_fini(&st);
	return check_result("control_sync");
}
