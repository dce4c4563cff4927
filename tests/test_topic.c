/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic creation from an explicit spec and the journal reload that gives every topic back (no EAL). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/cnc.h>

#include "dataplane.h"
#include "durable.h"
#include "journal.h"
#include "topic.h"

#include "check.h"
#include "dp_fake.h"

#define MB (1024ull * 1024)

static char root[64], jdir[128];
static struct sl_dp dp;
static uint32_t told[64];
static unsigned n_told;

static void
on_created(struct sl_dp *d, uint32_t id)
{
	CHECK(d == &dp);
	if (n_told < 64)
		told[n_told++] = id;
}

static struct sl_topic_spec
spec(uint8_t durability, uint8_t bp, uint64_t retain_bytes, uint64_t retain_age_s,
     uint64_t capacity_bytes)
{
	return (struct sl_topic_spec){ .durability = durability, .backpressure = bp,
				       .retain_bytes = retain_bytes,
				       .retain_age_s = retain_age_s,
				       .capacity_bytes = capacity_bytes };
}

static void
spec_eq(const struct sl_topic_spec *got, const struct sl_topic_spec *want)
{
	CHECK(got != NULL);
	if (got == NULL)
		return;
	CHECK_EQ(got->durability, want->durability);
	CHECK_EQ(got->backpressure, want->backpressure);
	CHECK_EQ(got->retain_bytes, want->retain_bytes);
	CHECK_EQ(got->retain_age_s, want->retain_age_s);
	CHECK_EQ(got->capacity_bytes, want->capacity_bytes);
	CHECK_EQ(got->retransmit_window, want->retransmit_window);
	CHECK_EQ(got->max_message, want->max_message);
}

static uint32_t
id_of(const char *name)
{
	return sl_route_topic_lookup(&dp.route, name, (uint32_t)strlen(name));
}

static uint32_t
create(const char *name, const struct sl_topic_spec *s, enum sl_topic_origin origin, int want)
{
	uint32_t id = 0;
	int rc = sl_dp_topic_create(&dp, name, strlen(name), s, origin, &id);

	if (rc != want)
		fprintf(stderr, "create %s: %d (%s), expected %d\n", name, rc,
			rc < 0 ? strerror(-rc) : "ok", want);
	CHECK_EQ(rc, want);
	return id;
}

/* What the owner worker does: append @n records and make them durable. */
static void
append(uint32_t id, unsigned n)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, id);
	uint64_t seq;
	unsigned i;

	CHECK(ts->journal != NULL);
	if (ts->journal == NULL)
		return;
	for (i = 0; i < n; i++)
		CHECK_EQ(sl_journal_append(ts->journal, "msg", 3, 1000 + i, 0, 0, &seq), 0);
	CHECK_EQ(sl_journal_sync(ts->journal), 0);
	ts->seq = seq;
}

/* What the owner does when told of a deletion: close the journal, then say so. */
static void
owner_close(uint32_t id)
{
	struct sl_topic_state *ts = sl_route_state(&dp.route, id);

	sl_journal_close(ts->journal);
	ts->journal = NULL;
	__atomic_store_n(&ts->durability, SL_DUR_NONE, __ATOMIC_RELEASE);
}

static void
path(char *out, size_t cap, const char *topic, const char *file)
{
	snprintf(out, cap, "%s/%s%s%s", jdir, topic, file ? "/" : "", file ? file : "");
}

static int
exists(const char *topic, const char *file)
{
	char p[256];
	struct stat st;

	path(p, sizeof(p), topic, file);
	return stat(p, &st) == 0;
}

static size_t
slurp(const char *topic, const char *file, char *buf, size_t cap)
{
	char p[256];
	size_t n = 0;
	FILE *f;

	path(p, sizeof(p), topic, file);
	f = fopen(p, "r");
	CHECK(f != NULL);
	if (f) {
		n = fread(buf, 1, cap, f);
		fclose(f);
	}
	return n;
}

static void
saved_eq(const char *topic, const struct sl_topic_spec *want)
{
	struct sl_topic_spec got;
	char p[256], err[160];
	int rc;

	path(p, sizeof(p), topic, NULL);
	rc = sl_topic_spec_load(p, &got, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "saved spec of %s: %s\n", topic, rc == -EBADMSG ? err : strerror(-rc));
	CHECK_EQ(rc, 0);
	if (rc == 0)
		spec_eq(&got, want);
}

static void
limits_eq(uint32_t id, uint64_t capacity, uint64_t retain, uint64_t age)
{
	uint64_t c, r, a;

	sl_dp_topic_limits(&dp, id, &c, &r, &a);
	CHECK_EQ(c, capacity);
	CHECK_EQ(r, retain);
	CHECK_EQ(a, age);
}

static void
start(void)
{
	char err[256];
	int rc;

	CHECK_EQ(fake_dp_init(&dp, "ut-topic", jdir, 2), 0);
	dp.conf.durability = SL_DUR_NONE;
	dp.conf.retain_mb = 64;
	dp.conf.retain_s = 600;
	dp.conf.capacity_mb = 256;
	rc = sl_conf_set(&dp.conf, "durability_rules=rule.*=async", err, sizeof(err));
	if (rc == 0)
		rc = sl_conf_set(&dp.conf, "backpressure_rules=rule.*=block", err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "config: %s\n", err);
	CHECK_EQ(rc, 0);
}

static const struct sl_topic_spec s_sync = { SL_DUR_SYNC, SL_CNC_BP_BLOCK, 5 * MB, 3600, 32 * MB };
static const struct sl_topic_spec s_async = { SL_DUR_ASYNC, SL_CNC_BP_DEFAULT, 0, 0, 0 };
static const struct sl_topic_spec s_bad = { SL_DUR_SYNC, SL_CNC_BP_DISCONNECT, 0, 7, 0 };
static const struct sl_topic_spec s_rules = { SL_DUR_ASYNC, SL_CNC_BP_DEFAULT, 0, 0, 0 };
static const struct sl_topic_spec s_none = { SL_DUR_NONE, SL_CNC_BP_DROP, 0, 0, 0 };
static char bad_saved[SL_TOPIC_SPEC_MAX];
static size_t bad_len;

/* Creation: the spec given is the spec the topic has, its journal's and its saved one. */
static void
test_create(void)
{
	struct sl_topic_spec s, s2 = spec(SL_DUR_ASYNC, SL_CNC_BP_DROP, 1, 1, 1);
	struct sl_topic_state *ts;
	uint32_t id, again;

	start();
	CHECK_EQ(fake_dp_topics(&dp, NULL), 0); /* no journal_dir yet: nothing loaded */
	dp.on_topic_created = on_created;

	id = create("t.sync", &s_sync, SL_TOPIC_CONTROL, 1);
	ts = sl_route_state(&dp.route, id);
	CHECK(id != 0 && sl_route_topic_get(&dp.route, id) != NULL);
	CHECK_EQ(ts->durability, SL_DUR_SYNC);
	CHECK_EQ(ts->backpressure, SL_BP_BLOCK);
	CHECK(ts->journal != NULL);
	spec_eq(sl_dp_topic_spec(&dp, id), &s_sync);
	saved_eq("t.sync", &s_sync);
	limits_eq(id, 32 * MB, 5 * MB, 3600);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_topics_created]), 1);
	CHECK_EQ(dp.authz_dirty, 1);
	CHECK_EQ(n_told, 1);
	CHECK_EQ(told[0], id);

	/* An existing topic is found, not changed, not counted, not told again. */
	again = create("t.sync", &s2, SL_TOPIC_CONTROL, 0);
	CHECK_EQ(again, id);
	spec_eq(sl_dp_topic_spec(&dp, id), &s_sync);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_topics_created]), 1);
	CHECK_EQ(n_told, 1);

	/* A client's RESOLVE: the rules' spec, resolved where it says default. */
	sl_dp_topic_spec_rules(&dp.conf, "rule.a", 6, &s);
	spec_eq(&s, &s_rules);
	id = create("rule.a", &s, SL_TOPIC_RESOLVE, 1);
	ts = sl_route_state(&dp.route, id);
	CHECK_EQ(ts->durability, SL_DUR_ASYNC);
	CHECK_EQ(ts->backpressure, SL_BP_BLOCK); /* backpressure_rules */
	limits_eq(id, 256 * MB, 64 * MB, 600);
	saved_eq("rule.a", &s_rules);
	append(id, 5);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_topics_created]), 2);

	/* The configuration's topics: not counted (as before), still told. */
	sl_dp_topic_spec_rules(&dp.conf, "cfg.none", 8, &s);
	CHECK_EQ(s.durability, SL_DUR_NONE);
	id = create("cfg.none", &s, SL_TOPIC_CONFIG, 1);
	CHECK(sl_route_state(&dp.route, id)->journal == NULL);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_DROP); /* the default */
	CHECK(!exists("cfg.none", NULL)); /* durability none: no directory at all */
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_topics_created]), 2);
	CHECK_EQ(n_told, 3);
	id = create("t.none", &s_none, SL_TOPIC_CONTROL, 1);
	spec_eq(sl_dp_topic_spec(&dp, id), &s_none);

	/* Refused: nothing created, counted or told. */
	s = s_async;
	s.durability = SL_DUR_COUNT;
	create("t.baddur", &s, SL_TOPIC_CONTROL, -EINVAL);
	s = s_async;
	s.backpressure = SL_CNC_BP_DISCONNECT + 1;
	create("t.badbp", &s, SL_TOPIC_CONTROL, -EINVAL);
	create("bad name", &s_async, SL_TOPIC_RESOLVE, -EINVAL);
	CHECK_EQ(id_of("t.baddur") + id_of("t.badbp"), 0);
	CHECK_EQ(n_told, 4);

	/* A name whose deletion is completing waits for it (-EBUSY). */
	id = create("t.async", &s_async, SL_TOPIC_CONTROL, 1);
	append(id, 7);
	sl_route_topic_deactivate(&dp.route, id);
	dp.deleting = (struct sl_dp_deletion){ .topic = id, .pending = 1 };
	create("t.async", &s_async, SL_TOPIC_CONTROL, -EBUSY);
	owner_close(id);
	CHECK_EQ(sl_dp_topic_remove_dir(&dp, id), 0);
	CHECK(!exists("t.async", NULL));
	dp.deleting.pending = 0;
	again = create("t.async", &s_async, SL_TOPIC_CONTROL, 1);
	CHECK(again != id);
	CHECK_EQ(sl_route_state(&dp.route, again)->seq, 0); /* a fresh journal */
	append(again, 2);

	/* Respec: all but the durability, saved first. */
	id = id_of("t.sync");
	append(id, 3);
	s = spec(SL_DUR_NONE, SL_CNC_BP_DROP, 1 * MB, 0, 0);
	CHECK_EQ(sl_dp_topic_respec(&dp, id, &s), 0);
	s.durability = SL_DUR_SYNC;
	spec_eq(sl_dp_topic_spec(&dp, id), &s);
	saved_eq("t.sync", &s);
	CHECK_EQ(sl_route_state(&dp.route, id)->durability, SL_DUR_SYNC);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_DROP);
	limits_eq(id, 256 * MB, 1 * MB, 600);
	CHECK_EQ(sl_dp_topic_respec(&dp, 999, &s), -ENOENT);
	/* The retransmit window: the configuration's until set; set (0 is
	 * none), saved with the spec and applied to the topic's state. */
	CHECK_EQ(sl_route_state(&dp.route, id)->retx_window, dp.conf.retransmit_window);
	s.retransmit_window = 1 + 100;
	CHECK_EQ(sl_dp_topic_respec(&dp, id, &s), 0);
	saved_eq("t.sync", &s);
	CHECK_EQ(sl_route_state(&dp.route, id)->retx_window, 100);
	s.retransmit_window = 1 + 0;
	CHECK_EQ(sl_dp_topic_respec(&dp, id, &s), 0);
	saved_eq("t.sync", &s);
	CHECK_EQ(sl_route_state(&dp.route, id)->retx_window, 0);
	s.retransmit_window = SL_CNC_RETX_DEFAULT;
	CHECK_EQ(sl_dp_topic_respec(&dp, id, &s), 0);
	saved_eq("t.sync", &s);
	CHECK_EQ(sl_route_state(&dp.route, id)->retx_window, 4096);
	/* The largest message: the configuration's until set; set, saved
	 * with the spec and applied; 0 again, the configuration's. */
	CHECK_EQ(sl_route_state(&dp.route, id)->max_message,
		 RTE_MIN(dp.conf.max_message, sl_dp_topic_message_cap(&dp.conf, 1)));
	s.max_message = 64 * 1024;
	CHECK_EQ(sl_dp_topic_respec(&dp, id, &s), 0);
	saved_eq("t.sync", &s);
	CHECK_EQ(sl_route_state(&dp.route, id)->max_message, 64 * 1024);
	s.max_message = 0;
	CHECK_EQ(sl_dp_topic_respec(&dp, id, &s), 0);
	saved_eq("t.sync", &s);
	CHECK_EQ(sl_route_state(&dp.route, id)->max_message,
		 RTE_MIN(dp.conf.max_message, sl_dp_topic_message_cap(&dp.conf, 1)));

	/* For the reload: a directory from before specs were saved (matching
	 * a rule and not), and one whose spec is damaged. */
	create("rule.old", &s_sync, SL_TOPIC_CONTROL, 1);
	append(id_of("rule.old"), 4);
	create("old.none", &s_sync, SL_TOPIC_CONTROL, 1);
	append(id_of("old.none"), 1);
	create("rule.bad", &s_bad, SL_TOPIC_CONTROL, 1);
	append(id_of("rule.bad"), 6);
	fake_dp_fini(&dp);
}

/* Damage the saved state as time and operators do. */
static void
age_the_directories(void)
{
	char p[256];
	char *line;

	path(p, sizeof(p), "rule.old", SL_TOPIC_SPEC_FILE);
	CHECK_EQ(unlink(p), 0);
	path(p, sizeof(p), "old.none", SL_TOPIC_SPEC_FILE);
	CHECK_EQ(unlink(p), 0);
	bad_len = slurp("rule.bad", SL_TOPIC_SPEC_FILE, bad_saved, sizeof(bad_saved));
	line = memmem(bad_saved, bad_len, "retain_age_s = 7", 16);
	CHECK(line != NULL);
	if (line) {
		line[15] = '8'; /* the checksum no longer matches */
		path(p, sizeof(p), "rule.bad", SL_TOPIC_SPEC_FILE);
		FILE *f = fopen(p, "w");

		CHECK(f != NULL);
		if (f) {
			fwrite(bad_saved, 1, bad_len, f);
			fclose(f);
		}
	}
	snprintf(p, sizeof(p), "%s/" SL_TOPIC_TOMBSTONE "1.0", jdir);
	CHECK_EQ(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/bad%%zz", jdir); /* not a topic's name */
	CHECK_EQ(mkdir(p, 0700), 0);
}

/* Reload: every journaled topic back with its spec and sequence. */
static void
test_reload(void)
{
	struct sl_topic_spec want;
	struct sl_dp_reload rep;
	char now[SL_TOPIC_SPEC_MAX];
	uint32_t id;
	int rc;

	age_the_directories();
	start();
	n_told = 0;
	dp.on_topic_created = on_created;
	rc = fake_dp_topics(&dp, &rep);
	CHECK_EQ(rc, 6);
	CHECK_EQ(rep.loaded, 6); /* t.sync rule.a t.async rule.old old.none rule.bad */
	CHECK_EQ(rep.no_spec, 2);
	CHECK_EQ(rep.bad_spec, 1);
	CHECK_EQ(rep.failed, 0);
	CHECK_EQ(rep.swept, 1);
	CHECK_EQ(n_told, 6);
	CHECK_EQ(sl_ctr_read(&dp.main_ctr.ctr[SL_CTR_topics_created]), 0); /* as before */
	CHECK(!exists(SL_TOPIC_TOMBSTONE "1.0", NULL));
	CHECK_EQ(id_of("cfg.none") + id_of("t.none"), 0); /* never journaled */

	/* The saved spec, as last set, and the sequence. */
	id = id_of("t.sync");
	want = spec(SL_DUR_SYNC, SL_CNC_BP_DROP, 1 * MB, 0, 0);
	spec_eq(sl_dp_topic_spec(&dp, id), &want);
	CHECK_EQ(sl_route_state(&dp.route, id)->seq, 3);
	CHECK_EQ(sl_route_state(&dp.route, id)->durability, SL_DUR_SYNC);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_DROP);
	limits_eq(id, 256 * MB, 1 * MB, 600);

	id = id_of("rule.a");
	spec_eq(sl_dp_topic_spec(&dp, id), &s_rules);
	CHECK_EQ(sl_route_state(&dp.route, id)->seq, 5);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_BLOCK);

	id = id_of("t.async"); /* the one created again after the deletion */
	spec_eq(sl_dp_topic_spec(&dp, id), &s_async);
	CHECK_EQ(sl_route_state(&dp.route, id)->seq, 2);
	CHECK_EQ(sl_route_state(&dp.route, id)->backpressure, SL_BP_DROP);

	/* No saved spec: the rules', saved now, the sequence kept. */
	id = id_of("rule.old");
	spec_eq(sl_dp_topic_spec(&dp, id), &s_rules);
	CHECK_EQ(sl_route_state(&dp.route, id)->seq, 4);
	saved_eq("rule.old", &s_rules);
	/* ... and the rules say none: loaded without its journal, left untouched. */
	id = id_of("old.none");
	CHECK(id != 0);
	CHECK_EQ(sl_route_state(&dp.route, id)->durability, SL_DUR_NONE);
	CHECK(sl_route_state(&dp.route, id)->journal == NULL);
	CHECK(!exists("old.none", SL_TOPIC_SPEC_FILE));
	CHECK(exists("old.none", "journal.meta"));

	/* A damaged spec: the rules', the file left as it was. */
	id = id_of("rule.bad");
	spec_eq(sl_dp_topic_spec(&dp, id), &s_rules);
	CHECK_EQ(sl_route_state(&dp.route, id)->seq, 6);
	CHECK_EQ(slurp("rule.bad", SL_TOPIC_SPEC_FILE, now, sizeof(now)), bad_len);
	CHECK(memcmp(now, bad_saved, bad_len) == 0);

	/* The configuration's topics come after: one reloaded is left as it is. */
	create("rule.a", &s_sync, SL_TOPIC_CONFIG, 0);
	spec_eq(sl_dp_topic_spec(&dp, id_of("rule.a")), &s_rules);
	fake_dp_fini(&dp);
}

/*
 * A partitioned topic's name (control's upsert: durability none, partitions
 * N) keeps its count in the topic's state; while only its partitions exist
 * (reloaded before control restores the name), a client's RESOLVE does not
 * create the name as an ordinary topic (-EBUSY), control's upsert does.
 */
static void
test_partitioned(void)
{
	struct sl_topic_spec none = spec(SL_DUR_NONE, 0, 0, 0, 0), parted = none;
	uint32_t id;

	start();
	CHECK(fake_dp_topics(&dp, NULL) >= 0); /* test_reload's journals, as they were */
	create("pp#0", &none, SL_TOPIC_CONTROL, 1);
	create("pp#1", &none, SL_TOPIC_CONTROL, 1);
	create("pp", &none, SL_TOPIC_RESOLVE, -EBUSY);
	CHECK_EQ(id_of("pp"), 0);
	create("pp#2", &none, SL_TOPIC_RESOLVE, 1); /* a partition's own name: ordinary */
	parted.partitions = 2;
	id = create("pp", &parted, SL_TOPIC_CONTROL, 1);
	CHECK(id != 0 && sl_route_state(&dp.route, id)->parts == 2);
	CHECK_EQ(sl_route_state(&dp.route, id_of("pp#0"))->parts, 0);
	/* Existing now: a RESOLVE finds it. */
	CHECK_EQ(create("pp", &none, SL_TOPIC_RESOLVE, 0), id);
	/* No partition 0: an ordinary name, as ever. */
	create("qq", &none, SL_TOPIC_RESOLVE, 1);
	fake_dp_fini(&dp);
}

int
main(void)
{
	snprintf(root, sizeof(root), "/tmp/sl_topic_XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(jdir, sizeof(jdir), "%s/journal", root);
	test_create();
	test_reload();
	test_partitioned();
	fake_rm_tree(root);
	return check_result("topic");
}
