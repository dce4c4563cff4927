/* SPDX-License-Identifier: BSD-3-Clause */
/* Control commands applied by the main lcore, sent through the CnC ring as sluice-control sends them (no EAL). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/cnc.h>
#include <common/ctrs.h>

#include "dataplane.h"
#include "durable.h"
#include "group_dp.h"
#include "journal.h"
#include "topic.h"

#include "check.h"
#include "dp_fake.h"

#define MB (1024ull * 1024)

static char root[64], jdir[128], name[64];
static struct sl_dp dp;
static struct sl_cnc *ctl; /* control's end of the region */

static uint64_t
push(uint32_t type, const void *payload, size_t len)
{
	struct sl_cnc_cmd c;
	uint64_t id = 0;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.len = (uint32_t)len;
	memcpy(&c.u, payload, len);
	CHECK_EQ(sl_cnc_cmd_push(ctl, &c, &id), 0);
	return id;
}

/* Play the workers' part of revocation sweeps: each round a worker was
 * told of is acknowledged (and the record neutralised). Returns how many. */
static unsigned
ack_sweeps(void)
{
	unsigned i, n = 0;

	for (i = 0; i < fake_n_sent; i++) {
		struct sl_handoff *h = &fake_sent[i].h;
		struct sl_handoff a = { .kind = SL_HO_AUTHZ_SWEPT, .topic = h->topic,
					.code = h->code, .src_worker = (uint8_t)fake_sent[i].worker };

		if (h->kind != SL_HO_AUTHZ_SWEEP)
			continue;
		h->kind = 0;
		sl_dp_ctl_swept(&dp, &a);
		n++;
	}
	return n;
}

/* Main-lcore polls (with the workers acknowledging sweeps) until nothing
 * moves; returns how many results came back (into @r). */
static unsigned
poll_results(struct sl_cnc_result *r, unsigned max)
{
	unsigned n = 0, i;

	for (i = 0; i < 8; i++) {
		sl_dp_ctl_poll(&dp);
		if (ack_sweeps() == 0)
			break;
	}
	while (n < max && sl_cnc_result_pop(ctl, &r[n]) == 1)
		n++;
	return n;
}

/* Send one command and return its result's rc; its message in @msg. */
static int
run(uint32_t type, const void *payload, size_t len, char *msg)
{
	struct sl_cnc_result r;
	uint64_t id = push(type, payload, len);
	unsigned n = poll_results(&r, 1);

	CHECK_EQ(n, 1);
	if (n != 1)
		return -EIO;
	CHECK_EQ(r.id, id);
	if (msg)
		snprintf(msg, sizeof(r.message), "%s", r.message);
	return r.rc;
}

static struct sl_cnc_topic
topic(const char *n, uint8_t durability, uint8_t bp, uint64_t retain_bytes, uint64_t age_s,
      uint64_t capacity)
{
	struct sl_cnc_topic t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", n);
	t.durability = durability;
	t.backpressure = bp;
	t.retain_bytes = retain_bytes;
	t.retain_age_s = age_s;
	t.capacity_bytes = capacity;
	return t;
}

static int
topic_cmd(uint32_t type, const struct sl_cnc_topic *t, char *msg)
{
	return run(type, t, sizeof(*t), msg);
}

static uint32_t
id_of(const char *n)
{
	return sl_route_topic_lookup(&dp.route, n, (uint32_t)strlen(n));
}

static uint64_t
created(void)
{
	return sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_topics_created]);
}

static void
spec_is(uint32_t id, uint8_t durability, uint8_t bp, uint64_t retain, uint64_t age, uint64_t cap)
{
	const struct sl_topic_spec *s = sl_dp_topic_spec(&dp, id);

	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_EQ(s->durability, durability);
	CHECK_EQ(s->backpressure, bp);
	CHECK_EQ(s->retain_bytes, retain);
	CHECK_EQ(s->retain_age_s, age);
	CHECK_EQ(s->capacity_bytes, cap);
}

static void
msg_has(const char *msg, const char *want)
{
	if (strstr(msg, want) == NULL)
		fprintf(stderr, "message '%s' does not say '%s'\n", msg, want);
	CHECK(strstr(msg, want) != NULL);
}

/* Scale-out: the moved mark rides on TOPIC_UPSERT and TOPIC_UPDATE and
 * starts a sweep (the subscribers told); all zero (an older control, or
 * moved back) clears it; a refused command changes nothing. */
static void
test_moved(void)
{
	struct sl_cnc_topic t = topic("c.moved", SL_DUR_NONE, SL_CNC_BP_DEFAULT, 0, 0, 0);
	const struct sl_topic_state *ts;
	uint64_t sweeps;
	char msg[256];
	uint32_t id;

	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), 0);
	id = id_of("c.moved");
	CHECK(id != 0);
	if (id == 0)
		return;
	ts = sl_route_state(&dp.route, id);
	CHECK_EQ(ts->moved, 0);
	memcpy(t.moved_addr, (const uint8_t[]){ 10, 0, 0, 2 }, 4);
	t.moved_port = 9500;
	t.moved_epoch = 3;
	snprintf(t.moved_pair, sizeof(t.moved_pair), "p2");
	sweeps = dp.authz_b.stats.revocation_sweeps;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), 0);
	CHECK_EQ(ts->moved, 1);
	/* Its subscribers are told by a sweep of every worker, answered after. */
	CHECK_EQ(dp.authz_b.stats.revocation_sweeps, sweeps + 1);
	CHECK(ts->moved_to.addr[0] == 10 && ts->moved_to.addr[3] == 2);
	CHECK(ts->moved_to.port == 9500 && ts->moved_to.epoch == 3);
	CHECK(strcmp(ts->moved_to.pair, "p2") == 0);
	/* Refused (another durability): the mark stays as it was. */
	t.durability = SL_DUR_ASYNC;
	t.moved_port = 0;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), -EEXIST);
	CHECK_EQ(ts->moved, 1);
	t.durability = SL_DUR_NONE;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), 0);
	CHECK_EQ(ts->moved, 0);
}

/* TOPIC_UPSERT and TOPIC_UPDATE: created with the spec sent, changed live, refused whole. */
static void
test_topics(void)
{
	struct sl_cnc_topic t;
	struct sl_authz *before;
	uint64_t published;
	char msg[128];
	uint32_t id;

	before = dp.authz;
	published = dp.authz_b.stats.tables_published;
	t = topic("c.sync", SL_DUR_SYNC, SL_CNC_BP_BLOCK, 5 * MB, 3600, 32 * MB);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), 0);
	id = id_of("c.sync");
	CHECK(id != 0);
	spec_is(id, SL_DUR_SYNC, SL_CNC_BP_BLOCK, 5 * MB, 3600, 32 * MB);
	CHECK_EQ(sl_route_state(&dp.route, id)->durability, SL_DUR_SYNC);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_BLOCK);
	CHECK(sl_route_state(&dp.route, id)->journal != NULL);
	CHECK_EQ(created(), 1);
	/* A table covering the new topic went out with the command. */
	CHECK(dp.authz != before);
	CHECK_EQ(dp.authz_b.stats.tables_published, published + 1);
	CHECK_EQ(dp.authz_dirty, 0);

	/* An existing topic: the spec sent, but for the durability, live. */
	t = topic("c.sync", SL_DUR_SYNC, SL_CNC_BP_DROP, 0, 60, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), 0);
	spec_is(id, SL_DUR_SYNC, SL_CNC_BP_DROP, 0, 60, 0);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_DROP);
	CHECK_EQ(created(), 1);
	t = topic("c.sync", SL_DUR_ASYNC, SL_CNC_BP_BLOCK, 1, 1, 1);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), -EEXIST);
	msg_has(msg, "exists with durability sync; delete it first");
	spec_is(id, SL_DUR_SYNC, SL_CNC_BP_DROP, 0, 60, 0);

	t = topic("no.such", SL_DUR_NONE, 0, 0, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), -ENOENT);
	msg_has(msg, "no topic no.such");
	CHECK_EQ(id_of("no.such"), 0);
	t = topic("c.sync", SL_DUR_NONE, SL_CNC_BP_BLOCK, 0, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), -EPERM);
	msg_has(msg, "cannot change while it exists");
	t = topic("c.sync", SL_DUR_SYNC, SL_CNC_BP_DISCONNECT, 2 * MB, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), 0);
	spec_is(id, SL_DUR_SYNC, SL_CNC_BP_DISCONNECT, 2 * MB, 0, 0);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_DISCONNECT);
	/* A capacity below what the journal holds (the owner's snapshot of
	 * its size, as after appends): refused, nothing changed. */
	__atomic_store_n(&sl_route_state(&dp.route, id)->j_bytes, 8 * MB, __ATOMIC_RELAXED);
	t = topic("c.sync", SL_DUR_SYNC, SL_CNC_BP_DROP, 0, 0,
		  sl_route_state(&dp.route, id)->j_bytes - 1);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), -ENOSPC);
	msg_has(msg, "more than that capacity; lower retention first");
	spec_is(id, SL_DUR_SYNC, SL_CNC_BP_DISCONNECT, 2 * MB, 0, 0);
	t.capacity_bytes = sl_route_state(&dp.route, id)->j_bytes;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), 0);
	spec_is(id, SL_DUR_SYNC, SL_CNC_BP_DROP, 0, 0, t.capacity_bytes);
	t.capacity_bytes = 0;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), 0);
	/* The largest message, live; out of range refused. */
	t.max_message = 100 * 1024;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), 0);
	CHECK_EQ(sl_route_state(&dp.route, id)->max_message, 100 * 1024);
	t.max_message = SL_MAX_MESSAGE + 1;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), -EINVAL);
	{
		char want[96];

		snprintf(want, sizeof(want), "max_message %u is not 0 (default) or %u..%u",
			 SL_MAX_MESSAGE + 1, SL_MAX_PAYLOAD, SL_MAX_MESSAGE);
		msg_has(msg, want);
	}
	CHECK_EQ(sl_route_state(&dp.route, id)->max_message, 100 * 1024);
	/* Above what one of its journal's segments holds: refused too. */
	t.max_message = sl_dp_topic_message_cap(&dp.conf, 1) + 1;
	CHECK(t.max_message <= SL_MAX_MESSAGE);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), -EINVAL);
	msg_has(msg, "more than one journal segment holds");
	t.max_message = 0;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), 0);
	CHECK_EQ(sl_route_state(&dp.route, id)->max_message,
		 RTE_MIN(dp.conf.max_message, sl_dp_topic_message_cap(&dp.conf, 1)));
	t = topic("c.sync", SL_DUR_SYNC, SL_CNC_BP_DISCONNECT, 2 * MB, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), 0);

	/* Bad commands: refused, saying what is wrong; nothing created. */
	t = topic("bad name", SL_DUR_NONE, 0, 0, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), -EINVAL);
	msg_has(msg, "invalid topic name 'bad name'");
	t = topic("c.dur", 3, 0, 0, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), -EINVAL);
	msg_has(msg, "durability 3 is not 0, 1 or 2");
	t = topic("c.bp", SL_DUR_NONE, 4, 0, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), -EINVAL);
	msg_has(msg, "backpressure 4 is not");
	memset(t.name, 'x', sizeof(t.name)); /* the ring's reader terminates it */
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, msg), -EINVAL);
	msg_has(msg, "invalid topic name 'xxx");
	CHECK_EQ(id_of("c.dur") + id_of("c.bp"), 0);
	CHECK_EQ(created(), 1);

	/* A memory-only topic: no journal, no directory. */
	t = topic("c.mem", SL_DUR_NONE, SL_CNC_BP_DEFAULT, 0, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, msg), 0);
	CHECK(sl_route_state(&dp.route, id_of("c.mem"))->journal == NULL);
	CHECK_EQ(created(), 2);
}

static int
group_cmd(uint32_t type, const char *tname, const char *gname, uint8_t flags, uint32_t ack_wait,
	  char *msg)
{
	struct sl_cnc_group g;

	memset(&g, 0, sizeof(g));
	snprintf(g.topic, sizeof(g.topic), "%s", tname);
	snprintf(g.name, sizeof(g.name), "%s", gname);
	g.flags = flags;
	g.ack_wait_ms = ack_wait;
	g.max_inflight = 64;
	return run(type, &g, sizeof(g), msg);
}

/* The handoff of @kind the last command sent, or NULL. */
static const struct sl_handoff *
sent_kind(uint8_t kind)
{
	unsigned i;

	for (i = fake_n_sent; i-- > 0;)
		if (fake_sent[i].h.kind == kind)
			return &fake_sent[i].h;
	return NULL;
}

/* The "group" slot keyed @key in the counters area: its members value, or -1. */
static int64_t
group_slot_members(const char *key)
{
	struct sl_ctrs_hdr *a = sl_cnc_ctrs(dp.cnc);
	struct sl_ctrs_view v;
	int64_t found = -1;
	uint32_t i;
	int t;

	dp.next_stats_ns = 0;
	sl_dp_ctl_poll(&dp);
	if (sl_ctrs_view_take(a, a->area_size, &v) < 0)
		return -2;
	t = sl_ctrs_view_type(&v, "group");
	for (i = 0; t >= 0 && i < v.hdr->n_slots; i++) {
		const struct sl_ctrs_type *ty;
		const uint64_t *vals;
		const struct sl_ctrs_meta *m = sl_ctrs_view_slot(&v, i, &ty, &vals);

		if (m && (int)m->type == t && strcmp(m->key, key) == 0)
			found = (int64_t)vals[SL_STATS_G_members];
	}
	sl_ctrs_view_free(&v);
	return found;
}

/* GROUP_UPSERT, GROUP_DELETE, GROUP_RESET: checked, handed to the topic's
 * owner, changed live where safe, freed once the owner gave it back. */
static void
test_groups(void)
{
	struct sl_handoff gone = { .kind = SL_HO_GROUP_GONE };
	const struct sl_handoff *h;
	struct sl_group_rec *r;
	struct sl_cnc_group g;
	unsigned n0;
	char msg[128];
	uint32_t gid;

	fake_sent_clear();
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "no.such", "q", 0, 0, msg), -ENOENT);
	msg_has(msg, "no topic no.such");
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.mem", "bad name", 0, 0, msg), -EINVAL);
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.mem", "q", SL_CNC_GROUP_F_DURABLE, 0, msg),
		 -EINVAL);
	msg_has(msg, "needs a journaled topic");
	CHECK_EQ(fake_n_sent, 0);
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.mem", "q", 0, 0, msg), 0);
	h = sent_kind(SL_HO_GROUP_ADD);
	CHECK(h != NULL);
	if (h == NULL)
		return;
	gid = h->topic;
	r = dp.groups->rec[gid];
	CHECK(r != NULL && r->topic == id_of("c.mem") && dp.groups->topic_of[gid] == r->topic);
	CHECK_EQ(fake_sent[fake_n_sent - 1].worker, dp.route.topics[r->topic].owner);
	/* The same settings again (control's resync): nothing is sent. */
	n0 = fake_n_sent;
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.mem", "q", 0, 0, msg), 0);
	CHECK_EQ(fake_n_sent, n0);
	/* A safe change: staged for the owner. */
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.mem", "q", 0, 500, msg), 0);
	CHECK(sent_kind(SL_HO_GROUP_UPDATE) != NULL && r->spec_gen == 1 &&
	      r->spec_next.ack_wait_ms == 500);
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.mem", "q", 0, 600, msg), -EBUSY);
	msg_has(msg, "not applied yet");
	r->spec_applied = r->spec_gen; /* the owner applied it */
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.mem", "q", 0, 600, msg), 0);
	r->spec_applied = r->spec_gen;
	/* Durable on a journaled topic; the flag cannot change. */
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.sync", "d", SL_CNC_GROUP_F_DURABLE, 0, msg), 0);
	CHECK_EQ(group_cmd(SL_CNC_GROUP_UPSERT, "c.sync", "d", 0, 0, msg), -EPERM);
	msg_has(msg, "durable, which cannot change");
	CHECK_EQ(group_slot_members("c.sync d"), 0);
	/* Reset: to the owner with how and where. */
	memset(&g, 0, sizeof(g));
	snprintf(g.topic, sizeof(g.topic), "c.mem");
	snprintf(g.name, sizeof(g.name), "q");
	g.reset_how = SL_CNC_RESET_SEQ;
	g.reset_arg = 7;
	CHECK_EQ(run(SL_CNC_GROUP_RESET, &g, sizeof(g), msg), 0);
	h = sent_kind(SL_HO_GROUP_RESET);
	CHECK(h != NULL && h->topic == gid && h->code == SL_CNC_RESET_SEQ && h->producer_id == 7);
	g.reset_how = SL_CNC_RESET_TIME;
	CHECK_EQ(run(SL_CNC_GROUP_RESET, &g, sizeof(g), msg), -EINVAL);
	msg_has(msg, "needs a journaled topic");
	/* Delete: the owner lets go, then the record is freed. */
	CHECK_EQ(group_cmd(SL_CNC_GROUP_DELETE, "c.mem", "q", 0, 0, msg), 0);
	h = sent_kind(SL_HO_GROUP_DEL);
	CHECK(h != NULL && h->topic == gid && r->dying && dp.groups->topic_of[gid] == 0);
	CHECK_EQ(group_cmd(SL_CNC_GROUP_DELETE, "c.mem", "q", 0, 0, msg), -ENOENT);
	gone.topic = gid;
	sl_dp_group_gone(&dp, &gone);
	CHECK(dp.groups->rec[gid] == NULL);
	CHECK_EQ(group_cmd(SL_CNC_GROUP_DELETE, "c.sync", "d", 0, 0, msg), 0);
	gone.topic = sent_kind(SL_HO_GROUP_DEL)->topic;
	sl_dp_group_gone(&dp, &gone);
	CHECK_EQ(group_slot_members("c.sync d"), -1);
	fake_sent_clear();
}

/*
 * TOPIC_DELETE: the owner closes the journal first; the result, and the
 * commands behind it, wait until the directory is gone, so a create of the
 * same name that follows gets a fresh journal.
 */
static void
test_delete(void)
{
	struct sl_cnc_topic del = topic("c.sync", 0, 0, 0, 0, 0);
	struct sl_cnc_topic again = topic("c.sync", SL_DUR_ASYNC, SL_CNC_BP_DEFAULT, 0, 0, 0);
	struct sl_cnc_result r[4];
	uint32_t old = id_of("c.sync"), id;
	struct sl_topic_state *ts = sl_route_state(&dp.route, old);
	uint64_t seq, ids[3];
	char dir[256], msg[128];
	struct stat st;

	CHECK_EQ(sl_journal_append(ts->journal, "x", 1, 1, 0, 0, &seq), 0);
	CHECK_EQ(sl_journal_sync(ts->journal), 0);
	fake_sent_clear();
	fake_ring_full = 1; /* the owner's ring is full at first: retried */
	ids[0] = push(SL_CNC_TOPIC_DELETE, &del, sizeof(del));
	ids[1] = push(SL_CNC_TOPIC_UPSERT, &again, sizeof(again));
	ids[2] = push(SL_CNC_NOP, "", 0);
	CHECK_EQ(poll_results(r, 4), 0);
	CHECK_EQ(id_of("c.sync"), 0); /* stopped at once */
	CHECK_EQ(fake_n_sent, 0);
	fake_ring_full = 0;
	CHECK_EQ(poll_results(r, 4), 0);
	CHECK_EQ(fake_sent_count(SL_HO_TOPIC_DELETE, old), 1);
	CHECK_EQ(fake_sent[0].worker, old % dp.n_workers);
	CHECK_EQ(poll_results(r, 4), 0); /* the owner has not closed it yet */
	CHECK_EQ(fake_sent_count(SL_HO_TOPIC_DELETE, old), 1); /* told once */
	snprintf(dir, sizeof(dir), "%s/c.sync", jdir);
	CHECK_EQ(stat(dir, &st), 0);

	/* The owner's part (sl_worker_topic_delete). */
	sl_journal_close(ts->journal);
	ts->journal = NULL;
	__atomic_store_n(&ts->durability, SL_DUR_NONE, __ATOMIC_RELEASE);
	CHECK_EQ(poll_results(r, 4), 3);
	CHECK_EQ(r[0].id, ids[0]);
	CHECK_EQ(r[0].rc, 0);
	CHECK_EQ(r[1].id, ids[1]);
	CHECK_EQ(r[1].rc, 0);
	CHECK_EQ(r[2].id, ids[2]);
	id = id_of("c.sync");
	CHECK(id != 0 && id != old);
	CHECK_EQ(sl_route_state(&dp.route, id)->durability, SL_DUR_ASYNC);
	CHECK_EQ(sl_route_state(&dp.route, id)->seq, 0); /* nothing of the old journal */
	spec_is(id, SL_DUR_ASYNC, SL_CNC_BP_DEFAULT, 0, 0, 0);
	CHECK_EQ(created(), 3);

	del = topic("no.such", 0, 0, 0, 0, 0);
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_DELETE, &del, msg), -ENOENT);
	msg_has(msg, "no topic no.such");
}

static struct sl_cnc_user
user(uint16_t uid, const char *n)
{
	struct sl_cnc_user u;

	memset(&u, 0, sizeof(u));
	u.uid = uid;
	snprintf(u.name, sizeof(u.name), "%s", n);
	memset(u.key, uid, sizeof(u.key));
	return u;
}

static struct sl_cnc_acl
acl(uint16_t uid, uint16_t perms, const char *pattern)
{
	struct sl_cnc_acl a;

	memset(&a, 0, sizeof(a));
	a.uid = uid;
	a.perms = perms;
	snprintf(a.pattern, sizeof(a.pattern), "%s", pattern);
	return a;
}

static uint8_t
perms(uint16_t uid, const char *topic_name)
{
	const struct sl_topic *t = sl_route_topic_get(&dp.route, id_of(topic_name));

	CHECK(t != NULL);
	return t ? sl_authz_perms(dp.authz, uid, t) : 0xff;
}

/* Users, ACLs, authentication and a staged resync: the table the workers read. */
static void
test_users(void)
{
	struct sl_cnc_user u;
	struct sl_cnc_acl a;
	uint32_t v;
	uint64_t g;
	char msg[128];

	u = user(1, "alice");
	CHECK_EQ(run(SL_CNC_USER_UPSERT, &u, sizeof(u), msg), 0);
	a = acl(1, SL_PERM_SUB, "c.>");
	CHECK_EQ(run(SL_CNC_ACL_SET, &a, sizeof(a), msg), 0);
	v = 1;
	CHECK_EQ(run(SL_CNC_AUTH_MODE, &v, sizeof(v), msg), 0);
	CHECK_EQ(dp.authz->required, 1);
	CHECK_EQ(sl_cnc_hdr(ctl)->auth_required, 1);
	CHECK_EQ(perms(1, "c.mem"), SL_PERM_SUB);
	CHECK_EQ(perms(2, "c.mem"), 0);
	u = user(0, "zero");
	CHECK_EQ(run(SL_CNC_USER_UPSERT, &u, sizeof(u), msg), -EINVAL);
	msg_has(msg, "user id 0 out of range");

	/* A resync changes the table once, at its end. */
	g = 7;
	CHECK_EQ(run(SL_CNC_SYNC_BEGIN, &g, sizeof(g), msg), 0);
	u = user(2, "bob");
	CHECK_EQ(run(SL_CNC_USER_UPSERT, &u, sizeof(u), msg), 0);
	a = acl(2, SL_PERM_PUB | SL_PERM_SUB, ">");
	CHECK_EQ(run(SL_CNC_ACL_SET, &a, sizeof(a), msg), 0);
	v = 0;
	CHECK_EQ(run(SL_CNC_AUTH_MODE, &v, sizeof(v), msg), -EPERM);
	CHECK_EQ(perms(2, "c.mem"), 0); /* staged, not yet enforced */
	CHECK_EQ(perms(1, "c.mem"), SL_PERM_SUB);
	CHECK_EQ(run(SL_CNC_SYNC_END, &g, sizeof(g), msg), 0);
	CHECK_EQ(perms(2, "c.mem"), SL_PERM_PUB | SL_PERM_SUB);
	CHECK_EQ(perms(1, "c.mem"), 0); /* alice was not resent: swept */
	CHECK_EQ(dp.authz->required, 1);
	CHECK_EQ(dp.authz_b.stats.syncs_completed, 1);
	CHECK_EQ(dp.authz_b.stats.sync_users_swept, 1);
	g = 8;
	CHECK_EQ(run(SL_CNC_SYNC_END, &g, sizeof(g), msg), -EINVAL);
	msg_has(msg, "sync end without matching begin");
	u = user(2, "bob");
	CHECK_EQ(run(SL_CNC_USER_DELETE, &u, sizeof(u), msg), 0);
	CHECK_EQ(perms(2, "c.mem"), 0);
	CHECK_EQ(run(SL_CNC_USER_DELETE, &u, sizeof(u), msg), -ENOENT);
	msg_has(msg, "no user with id 2");
}

/* The dataplane's own settings, and a command it does not know. */
static void
test_settings(void)
{
	uint64_t before = sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_cnc_commands]);
	uint32_t v;
	char msg[128];

	v = 2;
	CHECK_EQ(run(SL_CNC_SET_IDLE, &v, sizeof(v), msg), -EINVAL);
	msg_has(msg, "idle 2 is not 0 (busy) or 1 (backoff)");
	v = SL_IDLE_BACKOFF;
	CHECK_EQ(run(SL_CNC_SET_IDLE, &v, sizeof(v), msg), 0);
	CHECK_EQ(dp.conf.idle, SL_IDLE_BACKOFF);
	v = 100000001;
	CHECK_EQ(run(SL_CNC_SET_RATE, &v, sizeof(v), msg), -EINVAL);
	msg_has(msg, "rate limit 100000001 is above 100000000");
	v = 1000;
	CHECK_EQ(run(SL_CNC_SET_RATE, &v, sizeof(v), msg), 0);
	CHECK_EQ(dp.conf.rate_limit, 1000);
	v = 0;
	CHECK_EQ(run(99, &v, sizeof(v), msg), -ENOTSUP);
	msg_has(msg, "unknown command type 99");
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_cnc_commands]), before + 5);
}

/* Acknowledge round @round of the sweep for worker @worker only. */
static void
ack_one(unsigned worker, uint8_t round)
{
	unsigned i;

	for (i = 0; i < fake_n_sent; i++) {
		struct sl_handoff *h = &fake_sent[i].h;
		struct sl_handoff a = { .kind = SL_HO_AUTHZ_SWEPT, .topic = h->topic, .code = round,
					.src_worker = (uint8_t)worker };

		if (h->kind != SL_HO_AUTHZ_SWEEP || fake_sent[i].worker != worker || h->code != round)
			continue;
		h->kind = 0;
		sl_dp_ctl_swept(&dp, &a);
	}
}

/* A change of users or ACLs is answered only once every worker re-checked
 * its subscribers, then its sessions; commands after it wait. */
static void
test_sweep(void)
{
	struct sl_cnc_result r[2];
	struct sl_cnc_user u = user(5, "sweepy");
	struct sl_cnc_topic t = topic("sw.t", SL_DUR_NONE, SL_CNC_BP_DEFAULT, 0, 0, 0);
	uint64_t id, id2, sweeps = dp.authz_b.stats.revocation_sweeps;

	fake_sent_clear();
	id = push(SL_CNC_USER_UPSERT, &u, sizeof(u));
	id2 = push(SL_CNC_TOPIC_UPSERT, &t, sizeof(t));
	sl_dp_ctl_poll(&dp);
	CHECK_EQ(sl_cnc_result_pop(ctl, &r[0]), 0);
	CHECK_EQ(fake_sent_count(SL_HO_AUTHZ_SWEEP, 0), 2);
	CHECK_EQ(dp.authz->users[5].active, 1); /* the table is out already */
	CHECK_EQ(dp.sweep.round, 1);
	ack_one(0, 1);
	sl_dp_ctl_poll(&dp);
	CHECK_EQ(sl_cnc_result_pop(ctl, &r[0]), 0);
	CHECK_EQ(dp.sweep.round, 1);
	/* A late acknowledgement of another sweep counts for nothing. */
	sl_dp_ctl_swept(&dp, &(struct sl_handoff){ .kind = SL_HO_AUTHZ_SWEPT, .code = 1,
						   .topic = dp.sweep.gen - 1, .src_worker = 1 });
	sl_dp_ctl_poll(&dp);
	CHECK_EQ(dp.sweep.round, 1);
	ack_one(1, 1);
	sl_dp_ctl_poll(&dp);
	CHECK_EQ(dp.sweep.round, 2);
	CHECK_EQ(fake_sent_count(SL_HO_AUTHZ_SWEEP, 0), 2); /* round 2, both workers */
	CHECK_EQ(sl_cnc_result_pop(ctl, &r[0]), 0);
	ack_one(0, 2);
	ack_one(1, 2);
	sl_dp_ctl_poll(&dp);
	CHECK_EQ(sl_cnc_result_pop(ctl, &r[0]), 1);
	CHECK_EQ(r[0].id, id);
	CHECK_EQ(r[0].rc, 0);
	CHECK_EQ(sl_cnc_result_pop(ctl, &r[1]), 1); /* the topic, which waited */
	CHECK_EQ(r[1].id, id2);
	CHECK_EQ(dp.authz_b.stats.revocation_sweeps, sweeps + 1);
	CHECK_EQ(dp.sweep.pending, 0);
	/* A topic's encryption policy reaches the field the workers read. */
	t.encryption = SL_CNC_ENC_REQUIRED;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, NULL), 0);
	CHECK_EQ(sl_route_state(&dp.route, id_of("sw.t"))->enc, SL_CNC_ENC_REQUIRED);
	t.encryption = 3;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPDATE, &t, NULL), -EINVAL);
	CHECK_EQ(sl_route_state(&dp.route, id_of("sw.t"))->enc, SL_CNC_ENC_REQUIRED);
	t = topic("sw.enc", SL_DUR_NONE, SL_CNC_BP_DEFAULT, 0, 0, 0);
	t.encryption = SL_CNC_ENC_OFF;
	CHECK_EQ(topic_cmd(SL_CNC_TOPIC_UPSERT, &t, NULL), 0);
	CHECK_EQ(sl_route_state(&dp.route, id_of("sw.enc"))->enc, SL_CNC_ENC_OFF);
	/* A user's second key and policy reach the workers' table. */
	u.flags = SL_USER_F_KEY2;
	memset(u.key2, 0x5a, sizeof(u.key2));
	u.encryption = SL_CNC_ENC_REQUIRED;
	CHECK_EQ(run(SL_CNC_USER_UPSERT, &u, sizeof(u), NULL), 0);
	CHECK(dp.authz->users[5].has_key2 && dp.authz->users[5].key2[0] == 0x5a);
	CHECK_EQ(dp.authz->users[5].encryption, SL_CNC_ENC_REQUIRED);
	fake_sent_clear();
}

int
main(void)
{
	int rc;

	snprintf(root, sizeof(root), "/tmp/sl_ctl_XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(jdir, sizeof(jdir), "%s/journal", root);
	snprintf(name, sizeof(name), "ut-ctl-%d", (int)getpid());
	CHECK_EQ(fake_dp_init(&dp, name, jdir, 2), 0);
	CHECK_EQ(fake_dp_topics(&dp, NULL), 0);
	CHECK_EQ(sl_dp_ctl_init(&dp), 0);
	if (dp.cnc == NULL) {
		/* The region lives under SL_RUN_DIR, which needs root. */
		fprintf(stderr, "ctl: cannot create the CnC region under %s: skipped\n", SL_RUN_DIR);
		sl_dp_ctl_fini(&dp);
		fake_dp_fini(&dp);
		fake_rm_tree(root);
		return 77;
	}
	rc = sl_cnc_attach(&ctl, name, NULL);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		test_topics();
		test_groups();
		test_delete();
		test_users();
		test_sweep();
		test_settings();
		test_moved(); /* last: the topic counts above are exact */
		sl_cnc_close(ctl);
	}
	sl_dp_ctl_fini(&dp);
	fake_dp_fini(&dp);
	fake_rm_tree(root);
	return check_result("ctl");
}
