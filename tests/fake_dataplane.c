/* SPDX-License-Identifier: BSD-3-Clause */
/* A fake dataplane process for sluice-control's tests: a CnC region, answers to commands, group counters. */

/*
 * Usage: fake_dataplane NAME LOG
 *
 * Creates the CnC region of instance NAME (as the dataplane does), answers
 * every command sluice-control sends and appends one line per command to
 * LOG. It keeps topics and consumer groups the way the dataplane answers
 * for them (docs/CONTROL.md):
 *   TOPIC_UPSERT      a topic; a name starting "refuse." is refused (EIO)
 *   GROUP_UPSERT      ENOENT for a topic it lacks; EPERM when an existing
 *                     group's durable flag differs; EINVAL for durable on a
 *                     topic of durability none; else the group is created
 *                     (members: one, counts from 10) or its settings set
 *   GROUP_DELETE      ENOENT for a group it lacks
 *   GROUP_RESET       ENOENT for a group it lacks; else reset_dropped + 1,
 *                     cursor = reset_arg (SEQ) or reset_how (others)
 *   TOPIC_DELETE      the topic's groups go (the topic stays: a fake)
 * It starts with the topic "client.t" (none, as a client's RESOLVE makes)
 * and the durable group "legacy" on topic "jobs" once "jobs" exists (as
 * reloaded from a saved spec). Counters are sampled every 50 ms. SIGTERM
 * ends it; the region is removed. With SLUICE_FAKE_HA=1 in its environment
 * it is a pair member (docs/HA.md): L 100 ms, detect 60 ms, role unknown
 * until it applies what sluice-control writes in the CnC HA block.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <common/clock.h>
#include <common/cnc.h>
#include <common/ctrs.h>

#define MAX_TOPICS 64
#define MAX_GROUPS 64

enum { T_DATAPLANE, T_TOPIC, T_GROUP, T_GMEMBER };

/* As docs/COUNTERS.md fixes them for slot types "group" and "gmember". */
static const char *const group_labels[] = {
	"members", "inflight", "pending", "cursor", "offered", "delivered", "redelivered",
	"acked", "nacked", "dead_lettered", "dead_dropped", "ack_not_held", "blocked_full",
	"no_credit", "filter_skipped", "gap_lost", "too_large", "reset_dropped",
};
enum { G_MEMBERS, G_INFLIGHT, G_PENDING, G_CURSOR, G_OFFERED, G_DELIVERED, G_REDELIVERED,
       G_ACKED, G_N = 18, G_RESET_DROPPED = 17 };
static const char *const member_labels[] = { "state", "outstanding", "credit", "delivered",
					     "acked", "nacked", "session" };

struct topic {
	char name[SL_CNC_NAME_LEN];
	uint8_t durability;
	int slot;
};

struct group {
	struct sl_cnc_group spec;
	int slot, member_slot;
};

static struct topic topics[MAX_TOPICS];
static struct group groups[MAX_GROUPS];
static unsigned n_topics, n_groups;
static struct sl_ctrs_hdr *area;
static FILE *dplog;
static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static struct topic *
topic_find(const char *name)
{
	for (unsigned i = 0; i < n_topics; i++)
		if (strcmp(topics[i].name, name) == 0)
			return &topics[i];
	return NULL;
}

static struct group *
group_find(const char *topic, const char *name)
{
	for (unsigned i = 0; i < n_groups; i++)
		if (strcmp(groups[i].spec.topic, topic) == 0 &&
		    strcmp(groups[i].spec.name, name) == 0)
			return &groups[i];
	return NULL;
}

static void
topic_add(const char *name, uint8_t durability)
{
	struct topic *t = &topics[n_topics++];

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->durability = durability;
	t->slot = sl_ctrs_slot_alloc(area, T_TOPIC, n_topics, name);
	sl_ctrs_set(&sl_ctrs_values(area, t->slot)[0], durability);
}

static struct group *
group_add(const struct sl_cnc_group *spec)
{
	struct group *g = &groups[n_groups++];
	char key[SL_CNC_NAME_LEN + SL_CNC_GROUP_NAME_LEN + 20];
	uint64_t *v;

	g->spec = *spec;
	snprintf(key, sizeof(key), "%s %s", spec->topic, spec->name);
	g->slot = sl_ctrs_slot_alloc(area, T_GROUP, n_groups, key);
	v = sl_ctrs_values(area, g->slot);
	sl_ctrs_set(&v[G_MEMBERS], 1);
	sl_ctrs_set(&v[G_DELIVERED], 10);
	sl_ctrs_set(&v[G_ACKED], 9);
	sl_ctrs_set(&v[G_INFLIGHT], 1);
	snprintf(key, sizeof(key), "%s %s %016llx", spec->topic, spec->name, 0xa1ull);
	g->member_slot = sl_ctrs_slot_alloc(area, T_GMEMBER, n_groups, key);
	v = sl_ctrs_values(area, g->member_slot);
	sl_ctrs_set(&v[0], 1); /* active */
	sl_ctrs_set(&v[1], 1);
	sl_ctrs_set(&v[3], 10);
	sl_ctrs_set(&v[4], 9);
	return g;
}

static void
group_remove(struct group *g)
{
	sl_ctrs_slot_free(area, g->slot);
	sl_ctrs_slot_free(area, g->member_slot);
	*g = groups[--n_groups];
}

/* The durable group a restarted dataplane reloads from its saved spec. */
static void
legacy_group(void)
{
	struct sl_cnc_group spec = { .policy = 1, .flags = SL_CNC_GROUP_F_DURABLE };

	if (topic_find("jobs") == NULL || group_find("jobs", "legacy") != NULL)
		return;
	snprintf(spec.topic, sizeof(spec.topic), "jobs");
	snprintf(spec.name, sizeof(spec.name), "legacy");
	group_add(&spec);
}

static int
on_group(const struct sl_cnc_cmd *c, char *msg, size_t len)
{
	const struct sl_cnc_group *s = &c->u.group;
	const struct topic *t = topic_find(s->topic);
	struct group *g = group_find(s->topic, s->name);
	uint64_t *v;

	if (c->type != SL_CNC_GROUP_UPSERT && g == NULL)
		return snprintf(msg, len, "no group '%s' on topic '%s'", s->name, s->topic), -ENOENT;
	if (c->type == SL_CNC_GROUP_DELETE) {
		group_remove(g);
		return 0;
	}
	if (c->type == SL_CNC_GROUP_RESET) {
		v = sl_ctrs_values(area, g->slot);
		sl_ctrs_set(&v[G_RESET_DROPPED], v[G_RESET_DROPPED] + 1);
		sl_ctrs_set(&v[G_CURSOR], s->reset_how == SL_CNC_RESET_SEQ ? s->reset_arg
									   : s->reset_how);
		return 0;
	}
	if (t == NULL)
		return snprintf(msg, len, "unknown topic '%s'", s->topic), -ENOENT;
	if (t->durability == 0 && (s->flags & SL_CNC_GROUP_F_DURABLE))
		return snprintf(msg, len, "durable group on a topic without a journal"), -EINVAL;
	if (g != NULL && (g->spec.flags ^ s->flags) & SL_CNC_GROUP_F_DURABLE)
		return snprintf(msg, len, "group '%s' differs in durability: delete it first",
				s->name), -EPERM;
	if (g != NULL)
		g->spec = *s;
	else if (n_groups < MAX_GROUPS)
		group_add(s);
	return 0;
}

static int
on_cmd(const struct sl_cnc_cmd *c, char *msg, size_t len)
{
	const struct sl_cnc_group *g = &c->u.group;

	switch (c->type) {
	case SL_CNC_TOPIC_UPSERT:
		fprintf(dplog, "TOPIC_UPSERT %s\n", c->u.topic.name);
		if (strncmp(c->u.topic.name, "refuse.", 7) == 0)
			return snprintf(msg, len, "refused for the test"), -EIO;
		if (topic_find(c->u.topic.name) == NULL && n_topics < MAX_TOPICS)
			topic_add(c->u.topic.name, c->u.topic.durability);
		legacy_group();
		return 0;
	case SL_CNC_TOPIC_DELETE:
		fprintf(dplog, "TOPIC_DELETE %s\n", c->u.topic.name);
		/* The topic's groups go with it. */
		for (unsigned i = n_groups; i-- > 0;)
			if (strcmp(groups[i].spec.topic, c->u.topic.name) == 0)
				group_remove(&groups[i]);
		return 0;
	case SL_CNC_ACL_SET:
		fprintf(dplog, "ACL_SET %u %s %u %s\n", c->u.acl.uid, c->u.acl.pattern,
			c->u.acl.perms, c->u.acl.group[0] ? c->u.acl.group : "-");
		return 0;
	case SL_CNC_GROUP_UPSERT:
		fprintf(dplog, "GROUP_UPSERT %s %s policy=%u flags=%u ack_wait=%u max_del=%u "
			"grace=%u inflight=%u dl=%s\n", g->topic, g->name, g->policy, g->flags,
			g->ack_wait_ms, g->max_deliveries, g->grace_ms, g->max_inflight,
			g->dead_letter[0] ? g->dead_letter : "-");
		return on_group(c, msg, len);
	case SL_CNC_GROUP_DELETE:
		fprintf(dplog, "GROUP_DELETE %s %s\n", g->topic, g->name);
		return on_group(c, msg, len);
	case SL_CNC_GROUP_RESET:
		fprintf(dplog, "GROUP_RESET %s %s how=%u arg=%llu\n", g->topic, g->name,
			g->reset_how, (unsigned long long)g->reset_arg);
		return on_group(c, msg, len);
	case SL_CNC_SYNC_BEGIN:
	case SL_CNC_SYNC_END:
		fprintf(dplog, "%s\n", c->type == SL_CNC_SYNC_BEGIN ? "SYNC_BEGIN" : "SYNC_END");
		return 0;
	default:
		fprintf(dplog, "CMD %u\n", c->type);
		return 0;
	}
}

static int
define_types(void)
{
	static const char *const dl[] = { "pid", "start_ns" };
	static const char *const tl[] = { "durability", "deleted" };
	static const uint8_t dk[] = { SL_CTRS_K_ID, SL_CTRS_K_NS };
	static const uint8_t tk[] = { SL_CTRS_K_DURABILITY, SL_CTRS_K_BOOL };
	static const uint8_t mk[] = { SL_CTRS_K_GAUGE, SL_CTRS_K_GAUGE, SL_CTRS_K_GAUGE,
				      SL_CTRS_K_COUNT, SL_CTRS_K_COUNT, SL_CTRS_K_COUNT,
				      SL_CTRS_K_ID };
	uint8_t gk[G_N];

	for (unsigned i = 0; i < G_N; i++)
		gk[i] = i < G_CURSOR ? SL_CTRS_K_GAUGE : i == G_CURSOR ? SL_CTRS_K_ID
								      : SL_CTRS_K_COUNT;
	return sl_ctrs_type_define(area, T_DATAPLANE, "dataplane", dl, dk, 2) ||
	       sl_ctrs_type_define(area, T_TOPIC, "topic", tl, tk, 2) ||
	       sl_ctrs_type_define(area, T_GROUP, "group", group_labels, gk, G_N) ||
	       sl_ctrs_type_define(area, T_GMEMBER, "gmember", member_labels, mk, 7);
}

/* A pair member's dataplane: apply the control half when ctl_gen is even
 * and reads the same around the fields (the seqlock of common/cnc.h). */
static void
ha_apply(struct sl_cnc_ha *h)
{
	uint64_t g1 = __atomic_load_n(&h->ctl_gen, __ATOMIC_ACQUIRE), g2;
	uint32_t role = __atomic_load_n(&h->ctl_role, __ATOMIC_RELAXED);
	uint32_t epoch = __atomic_load_n(&h->ctl_epoch, __ATOMIC_RELAXED);

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	g2 = __atomic_load_n(&h->ctl_gen, __ATOMIC_RELAXED);
	if (g1 != g2 || (g1 & 1) || g1 == h->dp_gen)
		return;
	__atomic_store_n(&h->dp_role, role, __ATOMIC_RELAXED);
	__atomic_store_n(&h->dp_epoch, epoch, __ATOMIC_RELAXED);
	__atomic_store_n(&h->dp_gen, g1, __ATOMIC_RELEASE);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec tick = { 0, 5000000 };
	struct sl_cnc_result r;
	struct sl_cnc_cmd c;
	struct sl_cnc_ha *ha = NULL;
	struct sl_cnc *cnc;
	uint64_t next_sample = 0;
	int dp;

	_Static_assert(sizeof(group_labels) / sizeof(group_labels[0]) == G_N, "group labels");
	if (argc != 3) {
		fprintf(stderr, "usage: fake_dataplane NAME LOG\n");
		return 2;
	}
	dplog = fopen(argv[2], "a");
	if (dplog == NULL || sl_cnc_create(&cnc, argv[1], 256) < 0) {
		fprintf(stderr, "fake_dataplane: cannot create the log or the region of %s\n",
			argv[1]);
		return 1;
	}
	setvbuf(dplog, NULL, _IOLBF, 0);
	area = sl_cnc_ctrs(cnc);
	if (define_types() != 0)
		return 1;
	dp = sl_ctrs_slot_alloc(area, T_DATAPLANE, SL_CTRS_OWNER_MAIN, NULL);
	sl_ctrs_set(&sl_ctrs_values(area, dp)[0], (uint64_t)getpid());
	sl_ctrs_set(&sl_ctrs_values(area, dp)[1], sl_cnc_hdr(cnc)->dp_start_ns);
	topic_add("client.t", 0);
	if (getenv("SLUICE_FAKE_HA") != NULL && strcmp(getenv("SLUICE_FAKE_HA"), "1") == 0) {
		ha = sl_cnc_ha(cnc);
		ha->dp_role = SL_HA_ROLE_UNKNOWN;
		ha->dp_detect_ms = 60;
		__atomic_store_n(&ha->dp_lease_ms, 100, __ATOMIC_RELEASE);
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		uint64_t now = sl_wall_ns();

		__atomic_store_n(&sl_cnc_hdr(cnc)->dp_heartbeat_ns, now, __ATOMIC_RELEASE);
		while (sl_cnc_cmd_pop(cnc, &c) == 1) {
			memset(&r, 0, sizeof(r));
			r.id = c.id;
			r.rc = on_cmd(&c, r.message, sizeof(r.message));
			while (sl_cnc_result_push(cnc, &r) == -EAGAIN)
				nanosleep(&tick, NULL);
		}
		if (ha != NULL)
			ha_apply(ha);
		if (now >= next_sample) {
			sl_ctrs_sample_begin(area);
			sl_ctrs_sample_end(area, now);
			next_sample = now + 50000000ull;
		}
		nanosleep(&tick, NULL);
	}
	sl_cnc_close(cnc);
	fclose(dplog);
	return 0;
}
