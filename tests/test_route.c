/* SPDX-License-Identifier: BSD-3-Clause */
/* Routing tests: topic table, subscriber sets, fan-out model check, concurrency. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"

#include "check.h"


static int
create(struct sl_route *r, const char *name, uint32_t *id)
{
	return sl_route_topic_create(r, name, (uint32_t)strlen(name), id);
}

static uint32_t
lookup(const struct sl_route *r, const char *name)
{
	return sl_route_topic_lookup(r, name, (uint32_t)strlen(name));
}

static void
test_init(void)
{
	struct sl_route r;

	CHECK(sl_route_init(&r, 1, 4, 1) == -EINVAL);
	CHECK(sl_route_init(&r, 16, 0, 1) == -EINVAL);
	CHECK(sl_route_init(&r, 16, 4, 0) == -EINVAL);
	CHECK(sl_route_init(&r, 2, 1, 1) == 0);
	sl_route_fini(&r);
}

static void
test_topics(void)
{
	struct sl_route r;
	char name[SL_MAX_TOPIC_NAME + 2];
	uint32_t id, id2, i;
	const struct sl_topic *t;

	CHECK(sl_route_init(&r, 64, 4, 3) == 0);
	CHECK(lookup(&r, "md.eurusd") == 0);
	CHECK(create(&r, "md.eurusd", &id) == 1);
	CHECK(id != 0 && id < 64);
	CHECK(create(&r, "md.eurusd", &id2) == 0 && id2 == id);
	CHECK(lookup(&r, "md.eurusd") == id);
	CHECK(lookup(&r, "md.eurus") == 0);
	CHECK(lookup(&r, "md.eurusdx") == 0);
	CHECK(sl_route_topic_lookup(&r, "md.eurusd", 8) == 0); /* prefix */
	t = sl_route_topic_get(&r, id);
	CHECK(t != NULL);
	if (t) {
		CHECK(t->id == id && t->name_len == 9 && strcmp(t->name, "md.eurusd") == 0);
		CHECK(t->owner == id % 3);
	}
	CHECK(sl_route_topic_get(&r, 0) == NULL);
	CHECK(sl_route_topic_get(&r, id + 1) == NULL); /* not created yet */
	CHECK(sl_route_topic_get(&r, 64) == NULL);
	CHECK(sl_route_topic_get(&r, 0xffffffffu) == NULL);

	/* Invalid names: empty, spaces, control or non-ASCII bytes, too long. */
	id = 12345;
	CHECK(sl_route_topic_create(&r, "", 0, &id) == -EINVAL);
	CHECK(create(&r, "a b", &id) == -EINVAL);
	CHECK(create(&r, "a\tb", &id) == -EINVAL);
	CHECK(create(&r, "caf\xc3\xa9", &id) == -EINVAL);
	CHECK(sl_route_topic_create(&r, "a\0b", 3, &id) == -EINVAL);
	memset(name, 'n', sizeof(name));
	CHECK(sl_route_topic_create(&r, name, SL_MAX_TOPIC_NAME + 1, &id) == -EINVAL);
	CHECK(id == 12345);
	CHECK(lookup(&r, "a b") == 0);
	CHECK(r.n_topics == 1);
	/* The longest valid name. */
	CHECK(sl_route_topic_create(&r, name, SL_MAX_TOPIC_NAME, &id) == 1);
	CHECK(sl_route_topic_lookup(&r, name, SL_MAX_TOPIC_NAME) == id);
	t = sl_route_topic_get(&r, id);
	CHECK(t && t->name_len == SL_MAX_TOPIC_NAME && t->name[SL_MAX_TOPIC_NAME] == '\0');
	sl_route_fini(&r);

	/* Full at exactly max_topics - 1; ids 1 .. max_topics - 1, each once. */
	for (uint32_t max = 2; max <= 40; max += 19) {
		uint8_t seen[64] = { 0 };

		CHECK(sl_route_init(&r, max, 1, 4) == 0);
		for (i = 0; i < max - 1; i++) {
			snprintf(name, sizeof(name), "topic.%u", i);
			CHECK(create(&r, name, &id) == 1);
			CHECK(id >= 1 && id < max && !seen[id]);
			seen[id] = 1;
			t = sl_route_topic_get(&r, id);
			CHECK(t && t->owner == id % 4);
		}
		CHECK(create(&r, "one.too.many", &id) == -ENOSPC);
		CHECK(lookup(&r, "one.too.many") == 0);
		/* Existing names still resolve when the table is full. */
		for (i = 0; i < max - 1; i++) {
			snprintf(name, sizeof(name), "topic.%u", i);
			id = lookup(&r, name);
			CHECK(id != 0);
			CHECK(create(&r, name, &id2) == 0 && id2 == id);
		}
		sl_route_fini(&r);
	}
}

static struct sl_sub
sub(uint32_t session, uint32_t ip, uint16_t port)
{
	struct sl_sub s;

	memset(&s, 0, sizeof(s));
	s.session = session;
	s.peer.udp.transport = SL_TRANSPORT_UDP;
	s.peer.udp.ip = ip;
	s.peer.udp.port = port;
	s.peer.udp.port_id = (uint16_t)(session & 1);
	s.peer.udp.mac[5] = (uint8_t)session;
	return s;
}

/* How many times @session appears in topic @id. */
static unsigned
count_sub(const struct sl_route *r, uint32_t id, uint32_t session, const struct sl_sub **found)
{
	const struct sl_topic_state *ts = sl_route_state(r, id);
	unsigned i, n = 0;

	for (i = 0; i < ts->n_subs; i++)
		if (ts->subs[i].session == session) {
			n++;
			if (found)
				*found = &ts->subs[i];
		}
	return n;
}

static void
test_subs(void)
{
	struct sl_route r;
	struct sl_sub s;
	const struct sl_sub *f = NULL;
	uint32_t id, ids[9], i;
	char name[32];

	CHECK(sl_route_init(&r, 32, 4, 3) == 0);
	CHECK(create(&r, "t", &id) == 1);
	s = sub(100, 0x01020304, 5000);
	CHECK(sl_route_sub_add(&r, id, &s) == 0);
	CHECK(sl_route_state(&r, id)->n_subs == 1);
	/* Re-add: the address is refreshed, not duplicated. */
	s = sub(100, 0x05060708, 6000);
	CHECK(sl_route_sub_add(&r, id, &s) == 1);
	CHECK(sl_route_state(&r, id)->n_subs == 1);
	CHECK(count_sub(&r, id, 100, &f) == 1);
	CHECK(f && f->peer.udp.ip == 0x05060708 && f->peer.udp.port == 6000);
	/* Fill to max_subs. */
	for (i = 1; i < 4; i++) {
		s = sub(100 + i, i, (uint16_t)i);
		CHECK(sl_route_sub_add(&r, id, &s) == 0);
	}
	s = sub(200, 9, 9);
	CHECK(sl_route_sub_add(&r, id, &s) == -ENOSPC);
	CHECK(sl_route_state(&r, id)->n_subs == 4);
	CHECK(count_sub(&r, id, 200, NULL) == 0);
	/* A refresh still works on a full topic. */
	s = sub(102, 77, 77);
	CHECK(sl_route_sub_add(&r, id, &s) == 1);
	CHECK(count_sub(&r, id, 102, &f) == 1 && f->peer.udp.ip == 77);
	/* Delete. */
	CHECK(sl_route_sub_del(&r, id, 101) == 0);
	CHECK(count_sub(&r, id, 101, NULL) == 0 && sl_route_state(&r, id)->n_subs == 3);
	CHECK(sl_route_sub_del(&r, id, 101) == -ENOENT);
	CHECK(sl_route_sub_del(&r, id, 999) == -ENOENT);
	CHECK(count_sub(&r, id, 100, NULL) == 1 && count_sub(&r, id, 102, NULL) == 1 &&
	      count_sub(&r, id, 103, NULL) == 1);
	s = sub(200, 9, 9);
	CHECK(sl_route_sub_add(&r, id, &s) == 0); /* room again */
	CHECK(sl_route_state(&r, id)->sub_claims == 4);
	/* A claimed slot (a pattern subscription on its way) counts as taken. */
	CHECK(sl_route_sub_del(&r, id, 200) == 0);
	CHECK(sl_route_sub_claim(&r, id) == 0);
	CHECK(sl_route_sub_claim(&r, id) == -ENOSPC);
	s = sub(201, 9, 9);
	CHECK(sl_route_sub_add(&r, id, &s) == -ENOSPC);
	CHECK(sl_route_sub_add_claimed(&r, id, &s) == 0);
	CHECK(sl_route_state(&r, id)->n_subs == 4 && sl_route_state(&r, id)->sub_claims == 4);
	/* A claim for a session already there is given back. */
	CHECK(sl_route_sub_del(&r, id, 201) == 0);
	CHECK(sl_route_sub_claim(&r, id) == 0);
	s = sub(100, 1, 1);
	CHECK(sl_route_sub_add_claimed(&r, id, &s) == 1);
	CHECK(sl_route_state(&r, id)->sub_claims == 3);
	CHECK(sl_route_sub_claim(&r, id) == 0);
	sl_route_sub_unclaim(&r, id);
	CHECK(sl_route_state(&r, id)->sub_claims == 3);
	sl_route_fini(&r);

	/* del_session: only the topics of one owner. */
	CHECK(sl_route_init(&r, 32, 4, 3) == 0);
	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "t%u", i);
		CHECK(create(&r, name, &ids[i]) == 1);
		s = sub(7, 1, 1);
		CHECK(sl_route_sub_add(&r, ids[i], &s) == 0);
		s = sub(8, 1, 2);
		CHECK(sl_route_sub_add(&r, ids[i], &s) == 0);
	}
	CHECK(sl_route_sub_del_session(&r, 1, 7) == 3);
	for (i = 0; i < 9; i++) {
		unsigned owner = sl_route_topic_get(&r, ids[i])->owner;

		CHECK(count_sub(&r, ids[i], 7, NULL) == (owner == 1 ? 0u : 1u));
		CHECK(count_sub(&r, ids[i], 8, NULL) == 1);
	}
	CHECK(sl_route_sub_del_session(&r, 1, 7) == 0);
	CHECK(sl_route_sub_del_session(&r, 0, 7) == 3);
	CHECK(sl_route_sub_del_session(&r, 2, 7) == 3);
	for (i = 0; i < 9; i++)
		CHECK(count_sub(&r, ids[i], 7, NULL) == 0 && count_sub(&r, ids[i], 8, NULL) == 1);
	CHECK(sl_route_sub_del_session(&r, 0, 12345) == 0);
	sl_route_fini(&r);

	/* One worker owns everything. */
	CHECK(sl_route_init(&r, 8, 2, 1) == 0);
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "u%u", i);
		CHECK(create(&r, name, &ids[i]) == 1);
		s = sub(5, 1, 1);
		CHECK(sl_route_sub_add(&r, ids[i], &s) == 0);
	}
	CHECK(sl_route_sub_del_session(&r, 0, 5) == 7);
	sl_route_fini(&r);
}

/*
 * Fan-out model check: random adds, deletes and session removals against a
 * plain membership matrix; after every operation the touched topics deliver
 * to exactly the expected sessions, at the expected addresses.
 */
#define M_TOPICS 24
#define M_WORKERS 4
#define M_SESSIONS 40
#define M_MAX_SUBS 12

static uint8_t ref_member[M_TOPICS + 1][M_SESSIONS];
static uint32_t ref_ip[M_TOPICS + 1][M_SESSIONS];

static int
model_topic_matches(const struct sl_route *r, uint32_t id)
{
	const struct sl_topic_state *ts = sl_route_state(r, id);
	uint8_t seen[M_SESSIONS] = { 0 };
	unsigned i, expect = 0;

	for (i = 0; i < M_SESSIONS; i++)
		expect += ref_member[id][i];
	if (ts->n_subs != expect)
		return 0;
	for (i = 0; i < ts->n_subs; i++) {
		uint32_t sess = ts->subs[i].session - 1000;

		if (sess >= M_SESSIONS || !ref_member[id][sess] || seen[sess])
			return 0;
		if (ts->subs[i].peer.udp.ip != ref_ip[id][sess])
			return 0;
		seen[sess] = 1;
	}
	return 1;
}

static void
test_fanout_model(void)
{
	struct sl_route r;
	uint32_t ids[M_TOPICS], i, op, id, sess, owner, expect, n;
	char name[32];
	struct sl_sub s;
	int rc, bad = 0;

	CHECK(sl_route_init(&r, M_TOPICS + 1, M_MAX_SUBS, M_WORKERS) == 0);
	for (i = 0; i < M_TOPICS; i++) {
		snprintf(name, sizeof(name), "fan.%u", i);
		CHECK(create(&r, name, &ids[i]) == 1);
		CHECK(ids[i] == i + 1); /* the model indexes by id */
	}
	memset(ref_member, 0, sizeof(ref_member));
	for (op = 0; op < 100000 && !bad; op++) {
		uint64_t x = rng();
		unsigned kind = (unsigned)(x % 16);

		id = (uint32_t)((x >> 8) % M_TOPICS) + 1;
		sess = (uint32_t)((x >> 16) % M_SESSIONS);
		if (kind < 8) {
			unsigned cnt = 0;

			for (i = 0; i < M_SESSIONS; i++)
				cnt += ref_member[id][i];
			s = sub(1000 + sess, (uint32_t)(x >> 32), (uint16_t)(x >> 24));
			rc = sl_route_sub_add(&r, id, &s);
			if (ref_member[id][sess])
				expect = 1;
			else if (cnt >= M_MAX_SUBS)
				expect = (uint32_t)-ENOSPC;
			else
				expect = 0;
			if (rc != (int)expect)
				bad = 1;
			if (rc >= 0) {
				ref_member[id][sess] = 1;
				ref_ip[id][sess] = s.peer.udp.ip;
			}
			if (!model_topic_matches(&r, id))
				bad = 1;
		} else if (kind < 15) {
			rc = sl_route_sub_del(&r, id, 1000 + sess);
			if (rc != (ref_member[id][sess] ? 0 : -ENOENT))
				bad = 1;
			ref_member[id][sess] = 0;
			if (!model_topic_matches(&r, id))
				bad = 1;
		} else {
			owner = (uint32_t)((x >> 8) % M_WORKERS);
			for (expect = 0, i = 1; i <= M_TOPICS; i++)
				if (i % M_WORKERS == owner && ref_member[i][sess]) {
					ref_member[i][sess] = 0;
					expect++;
				}
			n = sl_route_sub_del_session(&r, owner, 1000 + sess);
			if (n != expect)
				bad = 1;
			for (i = 1; i <= M_TOPICS; i++)
				if (!model_topic_matches(&r, i))
					bad = 1;
		}
		if (op % 1000 == 0)
			for (i = 1; i <= M_TOPICS; i++)
				if (!model_topic_matches(&r, i))
					bad = 1;
		if (bad)
			fprintf(stderr, "fan-out model diverged at op %u (kind %u, topic %u, "
				"session %u)\n", op, kind, id, sess);
	}
	CHECK(!bad);
	sl_route_fini(&r);
}

/*
 * One thread creates topics while another looks them up: a lookup returns
 * either 0 or the id of a fully initialised topic with that name.
 */
#define C_TOPICS 4000

struct conc {
	struct sl_route r;
	int done;	    /* creator finished; release/acquire */
	unsigned next;	    /* name the creator works on; relaxed, a hint only */
	unsigned errors;
	unsigned found;
	uint64_t seed;
};

static void
conc_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "conc.%u.%s", i, (i & 1) ? "odd" : "even.longer.name");
}

static void *
conc_reader(void *arg)
{
	struct conc *c = arg;
	uint64_t x = c->seed;
	char name[64];
	int last = 0;

	/* One more full pass after the creator is done: everything must be found. */
	while (!last) {
		unsigned k;

		last = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
		for (k = 0; k < (last ? C_TOPICS : 64u); k++) {
			unsigned i;
			uint32_t len, id;
			const struct sl_topic *t;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Half the lookups chase the creator, where a half-made topic
			 * would be visible; the rest cover the whole table. */
			if (last)
				i = k;
			else if (x & 1)
				i = (__atomic_load_n(&c->next, __ATOMIC_RELAXED) +
				     (unsigned)(x >> 1) % 3) % C_TOPICS;
			else
				i = (unsigned)(x % C_TOPICS);
			conc_name(name, sizeof(name), i);
			len = (uint32_t)strlen(name);
			id = sl_route_topic_lookup(&c->r, name, len);
			if (id == 0) {
				if (last)
					c->errors++;
				continue;
			}
			c->found++;
			t = sl_route_topic_get(&c->r, id);
			if (id >= c->r.cap || !t || t->id != id || t->name_len != len ||
			    memcmp(t->name, name, len) != 0 || t->name[len] != '\0' ||
			    t->owner != id % c->r.n_workers)
				c->errors++;
		}
	}
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
test_concurrent_lookup(void)
{
	static struct conc c;
	double t0 = now_s();
	unsigned round, total_found = 0;
	char name[64];
	pthread_t th;

	for (round = 0; round < 50 && now_s() - t0 < 0.5; round++) {
		uint32_t id;
		unsigned i;

		memset(&c, 0, sizeof(c));
		c.seed = rng() | 1;
		if (sl_route_init(&c.r, C_TOPICS + 1, 1, 3) != 0) {
			CHECK(0);
			return;
		}
		if (pthread_create(&th, NULL, conc_reader, &c) != 0) {
			CHECK(0);
			sl_route_fini(&c.r);
			return;
		}
		for (i = 0; i < C_TOPICS; i++) {
			__atomic_store_n(&c.next, i, __ATOMIC_RELAXED);
			conc_name(name, sizeof(name), i);
			if (sl_route_topic_create(&c.r, name, (uint32_t)strlen(name), &id) != 1)
				c.errors++;
		}
		/* Release: pairs with the reader's acquire of done. */
		__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
		pthread_join(th, NULL);
		CHECK(c.errors == 0);
		total_found += c.found;
		sl_route_fini(&c.r);
	}
	CHECK(total_found >= (unsigned)C_TOPICS * round); /* the final passes at least */
}

int
main(void)
{
	test_init();
	test_topics();
	test_subs();
	test_fanout_model();
	test_concurrent_lookup();
	return check_result("test_route");
}
