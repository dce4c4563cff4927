/* SPDX-License-Identifier: BSD-3-Clause */
/* Pattern subscriptions on the main lcore: expansion to topics now and later, ACLs, removal, session end (EAL without NIC or hugepages). */

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

/* Hand @pattern to the main lcore; returns the code its answer carries. */
static int
psub(uint32_t session, uint16_t uid, const char *pattern, int unsubscribe)
{
	struct sl_handoff h = frame(session, uid, 1, pattern, unsubscribe);
	unsigned i;

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

	/* Session end: its patterns go, without handoffs (the owners already
	 * dropped its subscriptions); a later topic reaches nobody. */
	{
		struct sl_handoff h = { .session = 11, .kind = SL_HO_SESSION_END };

		sl_psub_handle(&dp, &h);
	}
	CHECK_EQ(fake_n_sent, 0);
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
	CHECK_EQ(fake_dp_topics(&dp, NULL), 0);
	CHECK_EQ(sl_psub_init(&dp), 0);
	CHECK(dp.on_topic_created != NULL);
	if (pool != NULL)
		test_patterns();
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
