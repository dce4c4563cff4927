/* SPDX-License-Identifier: BSD-3-Clause */
/* Pattern subscriptions on the main lcore: expansion to topics now and later, ACLs, encryption policy, removal, session end (EAL without NIC or hugepages). */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <common/cnc.h>
#include <common/proto.h>

#include "dataplane.h"
#include "durable.h"
#include "topic.h"

#include "check.h"
#include "dp_fake.h"

static struct sl_dp dp;
static struct rte_mempool *pool;

/* A PSUBSCRIBE (or PUNSUBSCRIBE) from @session of user @uid, as worker
 * @src hands it to the main lcore. */
static struct sl_handoff
frame(uint32_t session, uint16_t uid, uint8_t src, const char *pattern, int unsubscribe)
{
	struct sl_handoff h = { .session = session, .src_worker = src, .code = uid,
				.kind = unsubscribe ? SL_HO_PUNSUB : SL_HO_PSUB };
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;
	int n;

	CHECK(m != NULL);
	if (m == NULL)
		abort();
	p = rte_pktmbuf_append(m, 256);
	n = sl_proto_put_psubscribe(p, 256, session, 1, pattern, strlen(pattern), unsubscribe);
	CHECK(n > 0);
	h.m = m;
	h.len = (uint16_t)n;
	return h;
}

/* Hand @pattern to the main lcore, from a session that the worker flagged
 * @flags (SL_HO_F_*); returns the code its answer carries. */
static int
psub_flags(uint32_t session, uint16_t uid, const char *pattern, int unsubscribe,
	   uint32_t flags)
{
	struct sl_handoff h = frame(session, uid, 1, pattern, unsubscribe);
	unsigned i;

	h.flags = flags;
	sl_psub_handle(&dp, &h);
	for (i = 0; i < fake_n_sent; i++) {
		const struct sl_handoff *d = &fake_sent[i].h;

		if (d->kind != SL_HO_PSUB_DONE)
			continue;
		CHECK_EQ(fake_sent[i].worker, 1); /* answered by the worker it came from */
		CHECK_EQ(d->session, session);
		CHECK(d->m == h.m);
		return d->code;
	}
	CHECK(!"no PSUB_DONE");
	return -1;
}

static int
psub(uint32_t session, uint16_t uid, const char *pattern, int unsubscribe)
{
	return psub_flags(session, uid, pattern, unsubscribe, 0);
}

/* The workers' part: take the references the handoffs hold, forget them. */
static void
workers_drain(void)
{
	unsigned i;

	for (i = 0; i < fake_n_sent; i++)
		rte_pktmbuf_free(fake_sent[i].h.m);
	fake_sent_clear();
}

static uint32_t
create(const char *name)
{
	struct sl_topic_spec s;
	uint32_t id = 0;

	sl_dp_topic_spec_rules(&dp.conf, name, strlen(name), &s);
	CHECK_EQ(sl_dp_topic_create(&dp, name, strlen(name), &s, SL_TOPIC_RESOLVE, &id), 1);
	return id;
}

/* Was session @session added (or, for SL_HO_PSUB_DEL, removed) at topic
 * @id's owner? Exactly once, with the subscriber's frame for ADD. */
static void
told(uint8_t kind, uint32_t session, uint32_t id, int want)
{
	unsigned i, n = 0;

	for (i = 0; i < fake_n_sent; i++) {
		const struct fake_sent *s = &fake_sent[i];

		if (s->h.kind != kind || s->h.topic != id || s->h.session != session)
			continue;
		n++;
		CHECK_EQ(s->worker, dp.route.topics[id].owner);
		CHECK(kind == SL_HO_PSUB_ADD ? s->h.m != NULL : s->h.m == NULL);
	}
	if (n != (unsigned)want)
		fprintf(stderr, "%s of session %u at topic %s: %u, expected %d\n",
			kind == SL_HO_PSUB_ADD ? "PSUB_ADD" : "PSUB_DEL", session,
			dp.route.topics[id].name, n, want);
	CHECK_EQ(n, want);
}

static void
set_acl(void)
{
	struct sl_cnc_cmd c;
	char msg[128];
	uint16_t uid;

	sl_authz_builder_init(&dp.authz_b, 1);
	for (uid = 1; uid <= 2; uid++) {
		memset(&c, 0, sizeof(c));
		c.type = SL_CNC_USER_UPSERT;
		c.u.user.uid = uid;
		snprintf(c.u.user.name, sizeof(c.u.user.name), uid == 1 ? "alice" : "bob");
		CHECK_EQ(sl_authz_builder_apply(&dp.authz_b, &c, msg, sizeof(msg)), 0);
		memset(&c, 0, sizeof(c));
		c.type = SL_CNC_ACL_SET;
		c.u.acl.uid = uid;
		c.u.acl.perms = SL_PERM_SUB;
		snprintf(c.u.acl.pattern, sizeof(c.u.acl.pattern), uid == 1 ? "px.>" : ">");
		CHECK_EQ(sl_authz_builder_apply(&dp.authz_b, &c, msg, sizeof(msg)), 0);
	}
	dp.authz = sl_authz_build(&dp.authz_b, &dp.route);
	CHECK(dp.authz != NULL && dp.authz->required);
}

static void
test_patterns(void)
{
	uint32_t a, b, other, c, deep, e;
	int i;

	a = create("px.a");
	b = create("px.b");
	other = create("other");
	CHECK(dp.route.topics[a].owner != dp.route.topics[b].owner);
	set_acl();

	/* Existing topics that match, at their owners; the answer to the worker. */
	CHECK_EQ(psub(10, 2, "px.*", 0), SL_E_NONE);
	told(SL_HO_PSUB_ADD, 10, a, 1);
	told(SL_HO_PSUB_ADD, 10, b, 1);
	told(SL_HO_PSUB_ADD, 10, other, 0);
	CHECK_EQ(fake_n_sent, 3);
	/* One reference each: the answer, the two adds, and the registry's. */
	CHECK_EQ(rte_mbuf_refcnt_read(fake_sent[0].h.m), 4);
	workers_drain();
	CHECK_EQ(psub(10, 2, "px.*", 0), SL_E_NONE); /* a resend: nothing new */
	CHECK_EQ(fake_n_sent, 1);
	workers_drain();
	CHECK_EQ(psub(10, 2, "px.>.x", 0), SL_E_BAD_NAME);
	CHECK_EQ(fake_n_sent, 1);
	workers_drain();

	/* The ACL decides per topic: alice may subscribe to px.> only. */
	CHECK_EQ(psub(11, 1, ">", 0), SL_E_NONE);
	told(SL_HO_PSUB_ADD, 11, a, 1);
	told(SL_HO_PSUB_ADD, 11, b, 1);
	told(SL_HO_PSUB_ADD, 11, other, 0);
	workers_drain();

	/* A topic created later gets the sessions whose patterns match it. */
	c = create("px.c");
	told(SL_HO_PSUB_ADD, 10, c, 1);
	told(SL_HO_PSUB_ADD, 11, c, 1);
	workers_drain();
	deep = create("px.c.d"); /* '*' is one token: only ">" matches */
	told(SL_HO_PSUB_ADD, 10, deep, 0);
	told(SL_HO_PSUB_ADD, 11, deep, 1);
	workers_drain();
	e = create("other.e"); /* matches ">", but alice may not */
	told(SL_HO_PSUB_ADD, 11, e, 0);
	CHECK_EQ(fake_n_sent, 0);

	/* Unsubscribe: every topic the pattern matches, at its owner. */
	CHECK_EQ(psub(10, 2, "px.*", 1), SL_E_NONE);
	told(SL_HO_PSUB_DEL, 10, a, 1);
	told(SL_HO_PSUB_DEL, 10, b, 1);
	told(SL_HO_PSUB_DEL, 10, c, 1);
	told(SL_HO_PSUB_DEL, 10, deep, 0);
	told(SL_HO_PSUB_DEL, 10, other, 0);
	workers_drain();

	/* Session end: its patterns go, with a removal behind any add still
	 * on its way to an owner (which dropped the session's subscriptions
	 * already); a later topic reaches nobody. */
	{
		struct sl_handoff h = { .session = 11, .kind = SL_HO_SESSION_END };

		sl_psub_handle(&dp, &h);
	}
	told(SL_HO_PSUB_DEL, 11, a, 1);
	told(SL_HO_PSUB_DEL, 11, deep, 1);
	told(SL_HO_PSUB_DEL, 11, e, 1); /* matches; the ACL does not matter */
	told(SL_HO_PSUB_DEL, 11, other, 1);
	workers_drain();
	create("px.f");
	CHECK_EQ(fake_n_sent, 0);

	/* The registry is bounded: the next one is refused, nothing lost. */
	for (i = 0; i < SL_PSUB_MAX; i++) {
		char p[32];

		snprintf(p, sizeof(p), "full.%d", i);
		CHECK_EQ(psub(20, 2, p, 0), SL_E_NONE);
		workers_drain();
	}
	CHECK_EQ(psub(20, 2, "full.x", 0), SL_E_SUB_TABLE_FULL);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.drop[SL_DROP_psub_table_full]), 1);
	workers_drain();

	/* An answer that meets a full ring is counted, its frame freed. */
	fake_ring_full = 1;
	{
		struct sl_handoff h = frame(21, 2, 1, "px.*", 1);

		sl_psub_handle(&dp, &h);
	}
	fake_ring_full = 0;
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.drop[SL_DROP_ring_full]), 1);
	CHECK_EQ(fake_n_sent, 0);
}

/* The owners' part: apply the recorded adds and removals to the subscriber
 * sets, as the workers do, then take the references. */
static void
owners_apply(void)
{
	struct sl_sub sub;
	unsigned i;

	for (i = 0; i < fake_n_sent; i++) {
		const struct sl_handoff *h = &fake_sent[i].h;

		memset(&sub, 0, sizeof(sub));
		sub.session = h->session;
		if (h->kind == SL_HO_PSUB_ADD)
			CHECK(sl_route_sub_add_claimed(&dp.route, h->topic, &sub) >= 0);
		else if (h->kind == SL_HO_PSUB_DEL)
			sl_route_sub_del(&dp.route, h->topic, h->session);
	}
	workers_drain();
}

static void
end_session(uint32_t session)
{
	struct sl_handoff h = { .session = session, .kind = SL_HO_SESSION_END };

	sl_psub_handle(&dp, &h);
}

/* The topic a PSUB_DONE recorded for @session names (its ERROR's detail),
 * with its code in *@code; 0 when there is none. */
static uint32_t
done_topic(uint32_t session, uint16_t *code)
{
	unsigned i;

	for (i = 0; i < fake_n_sent; i++) {
		const struct sl_handoff *h = &fake_sent[i].h;

		if (h->kind == SL_HO_PSUB_DONE && h->session == session) {
			const struct sl_resolve *r =
				rte_pktmbuf_mtod_offset(h->m, const struct sl_resolve *, h->off);

			CHECK_EQ(r->h.type, SL_FT_PSUBSCRIBE); /* answered with its req_id */
			*code = h->code;
			return h->topic;
		}
	}
	return 0;
}

/*
 * max_subscribers bounds pattern subscriptions as it bounds SUBSCRIBE: a
 * pattern reaching a topic without room is refused before any OK, as a
 * whole; a topic created later without room for a pattern's session tells
 * that session so with an ERROR naming the topic. Never an OK followed by a
 * subscription that silently is not there.
 */
static void
test_sub_limit(void)
{
	uint64_t full0 = sl_ctr_read(&dp.main_ctr.drop[SL_DROP_sub_table_full]);
	struct sl_sub direct = { .session = 100 };
	uint32_t a, b, late;
	uint16_t code = 0;

	CHECK_EQ(dp.route.max_subs, 2);
	end_session(10);
	end_session(20);
	workers_drain();
	a = create("lim.a");
	b = create("lim.b");
	CHECK_EQ(sl_route_sub_add(&dp.route, b, &direct), 0);
	direct.session = 101;
	CHECK_EQ(sl_route_sub_add(&dp.route, b, &direct), 0);

	/* lim.b is full: the pattern is refused, naming it, and nothing is
	 * subscribed anywhere (lim.a's claim is given back). */
	CHECK_EQ(psub(30, 2, "lim.*", 0), SL_E_SUB_TABLE_FULL);
	CHECK_EQ(done_topic(30, &code), b);
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_ADD, 0), 0);
	CHECK_EQ(sl_route_state(&dp.route, a)->sub_claims, 0);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.drop[SL_DROP_sub_table_full]), full0 + 1);
	workers_drain();
	create("lim.c"); /* not registered: reaches nobody */
	CHECK_EQ(fake_n_sent, 0);

	/* Room again: accepted, and the owners' adds cannot fail. */
	CHECK_EQ(sl_route_sub_del(&dp.route, b, 101), 0);
	CHECK_EQ(psub(30, 2, "lim.*", 0), SL_E_NONE);
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_ADD, 0), 3);
	owners_apply();
	CHECK_EQ(sl_route_state(&dp.route, b)->n_subs, 2);
	CHECK(sl_route_sub_find(&dp.route, a, 30) != NULL);
	/* A SUBSCRIBE now meets the full topic too. */
	direct.session = 102;
	CHECK_EQ(sl_route_sub_add(&dp.route, b, &direct), -ENOSPC);

	/* A claim that is still on its way counts: lim.a has one subscriber
	 * and one pattern's add in flight, so a third is refused. */
	CHECK_EQ(psub(31, 2, "lim.a", 0), SL_E_NONE);
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_ADD, a), 1);
	workers_drain(); /* not applied yet */
	direct.session = 103;
	CHECK_EQ(sl_route_sub_add(&dp.route, a, &direct), -ENOSPC);

	/* A topic created later with room for two of three patterns: the
	 * third session gets an ERROR naming it, the others are added. */
	for (code = 40; code <= 42; code++) {
		CHECK_EQ(psub(code, 2, "late.*", 0), SL_E_NONE);
		workers_drain();
	}
	late = create("late.x");
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_ADD, late), 2);
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_DONE, 0), 1);
	CHECK_EQ(done_topic(42, &code), late);
	CHECK_EQ(code, SL_E_SUB_TABLE_FULL);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.drop[SL_DROP_sub_table_full]), full0 + 2);
	owners_apply();
	CHECK_EQ(sl_route_state(&dp.route, late)->n_subs, 2);
	CHECK(sl_route_sub_find(&dp.route, late, 42) == NULL);

	/* A removal an owner cannot be told of is not answered OK: BUSY, and
	 * the pattern stays for the resend. */
	fake_ring_full = 1;
	{
		uint64_t full = sl_ctr_read(&dp.main_ctr.drop[SL_DROP_ring_full]);
		struct sl_handoff h = frame(40, 2, 1, "late.*", 1);

		sl_psub_handle(&dp, &h); /* the answer meets the full ring too: freed */
		CHECK_EQ(sl_ctr_read(&dp.main_ctr.drop[SL_DROP_ring_full]), full + 2);
	}
	fake_ring_full = 0;
	CHECK_EQ(psub(40, 2, "late.*", 0), SL_E_NONE); /* still there: a resend */
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_ADD, 0), 0);
	workers_drain();

	/* Unsubscribing gives the slot back: a session that was refused gets in. */
	CHECK_EQ(psub(40, 2, "late.*", 1), SL_E_NONE);
	owners_apply();
	CHECK_EQ(sl_route_state(&dp.route, late)->sub_claims, 1);
	CHECK_EQ(psub(43, 2, "late.x", 0), SL_E_NONE);
	owners_apply();
	CHECK(sl_route_sub_find(&dp.route, late, 43) != NULL);
	for (code = 30; code <= 43; code++)
		end_session(code);
	workers_drain();
}

static uint32_t
create_enc(const char *name, uint8_t encryption)
{
	struct sl_topic_spec s;
	uint32_t id = 0;

	sl_dp_topic_spec_rules(&dp.conf, name, strlen(name), &s);
	s.encryption = encryption;
	CHECK_EQ(sl_dp_topic_create(&dp, name, strlen(name), &s, SL_TOPIC_RESOLVE, &id), 1);
	return id;
}

/* Where the PSUB_DONE of @session with @code sits among the recorded
 * handoffs (its topic in *@topic); -1 if none. */
static int
done_at(uint32_t session, uint16_t code, uint32_t *topic)
{
	unsigned i;

	for (i = 0; i < fake_n_sent; i++) {
		const struct sl_handoff *h = &fake_sent[i].h;

		if (h->kind == SL_HO_PSUB_DONE && h->session == session && h->code == code) {
			CHECK_EQ(fake_sent[i].worker, 1); /* through the worker it came from */
			*topic = h->topic;
			return (int)i;
		}
	}
	return -1;
}

/*
 * A topic whose encryption policy is required is never reached by the
 * pattern of an unencrypted UDP session (the worker flags it
 * SL_HO_F_CLEAR), neither at PSUBSCRIBE nor when created later: no slot
 * claimed, no add, and the session gets an ERROR SL_E_ENCRYPTION_REQUIRED
 * naming the topic after its OK, counted. The pattern of an encrypted or a
 * shared-memory session (no flag) reaches it.
 */
static void
test_encryption(void)
{
	uint64_t enc0 = sl_ctr_read(&dp.main_ctr.drop[SL_DROP_encryption_required]);
	uint32_t sec, open, late, topic = 0;
	int ok, notice;

	sec = create_enc("enc.sec", SL_CNC_ENC_REQUIRED);
	open = create_enc("enc.open", SL_CNC_ENC_OPTIONAL);
	workers_drain();

	CHECK_EQ(psub_flags(50, 2, "enc.*", 0, SL_HO_F_CLEAR), SL_E_NONE);
	told(SL_HO_PSUB_ADD, 50, open, 1);
	told(SL_HO_PSUB_ADD, 50, sec, 0);
	CHECK_EQ(sl_route_state(&dp.route, sec)->sub_claims, 0);
	ok = done_at(50, SL_E_NONE, &topic);
	notice = done_at(50, SL_E_ENCRYPTION_REQUIRED, &topic);
	CHECK(ok >= 0 && notice > ok); /* the answer first */
	CHECK_EQ(topic, sec);
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_DONE, 0), 2);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.drop[SL_DROP_encryption_required]), enc0 + 1);
	workers_drain();
	CHECK_EQ(psub_flags(50, 2, "enc.*", 0, SL_HO_F_CLEAR), SL_E_NONE); /* a resend */
	CHECK_EQ(fake_n_sent, 1);
	workers_drain();

	/* Encrypted, or over shared memory: reached. */
	CHECK_EQ(psub(51, 2, "enc.*", 0), SL_E_NONE);
	told(SL_HO_PSUB_ADD, 51, open, 1);
	told(SL_HO_PSUB_ADD, 51, sec, 1);
	CHECK_EQ(fake_sent_count(SL_HO_PSUB_DONE, 0), 1);
	workers_drain();

	/* Created later: the same for each session. */
	late = create_enc("enc.late", SL_CNC_ENC_REQUIRED);
	told(SL_HO_PSUB_ADD, 50, late, 0);
	told(SL_HO_PSUB_ADD, 51, late, 1);
	CHECK_EQ(sl_route_state(&dp.route, late)->sub_claims, 1);
	CHECK(done_at(50, SL_E_ENCRYPTION_REQUIRED, &topic) >= 0);
	CHECK_EQ(topic, late);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.drop[SL_DROP_encryption_required]), enc0 + 2);
	workers_drain();
	end_session(50);
	end_session(51);
	workers_drain();
}

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = { argv[0], "--no-pci", "--no-huge", "-m", "64", "--no-telemetry",
			"-l", "0", "--log-level", "lib.eal:error", "--file-prefix", prefix, NULL };
	char rundir[PATH_MAX];
	int rc;

	(void)argc;
	snprintf(prefix, sizeof(prefix), "ut-psub-%d", (int)getpid());
	rc = rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal);
	if (rc < 0) {
		fprintf(stderr, "psub: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	pool = rte_pktmbuf_pool_create("ut_psub", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	CHECK(pool != NULL);
	CHECK_EQ(fake_dp_init(&dp, "ut-psub", "/nonexistent/ut-psub", 2), 0);
	dp.conf.max_subscribers = 2; /* test_sub_limit fills topics */
	CHECK_EQ(fake_dp_topics(&dp, NULL), 0);
	CHECK_EQ(sl_psub_init(&dp), 0);
	CHECK(dp.on_topic_created != NULL);
	if (pool != NULL) {
		test_patterns();
		test_sub_limit();
		test_encryption();
	}
	sl_psub_fini(&dp);
	CHECK(dp.on_topic_created == NULL);
	workers_drain();
	/* Every reference taken was given back. */
	if (pool != NULL)
		CHECK_EQ(rte_mempool_in_use_count(pool), 0);
	sl_authz_free(dp.authz);
	sl_authz_builder_fini(&dp.authz_b);
	fake_dp_fini(&dp);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	/* EAL leaves its runtime directory (/var/run/dpdk/PREFIX) behind. */
	if (strstr(rundir, "/dpdk/ut-psub-"))
		fake_rm_tree(rundir);
	return check_result("psub");
}
