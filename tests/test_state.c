/* SPDX-License-Identifier: BSD-3-Clause */
/* Control plane state: validation, uids, ACLs, persistence and crash safety. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonx.h"
#include <common/proto.h>

#include "state.h"

#include "check.h"

static char dir[64];
static char err[512];

static const uint8_t key1[SL_AUTH_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
					       16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
					       28, 29, 30, 31, 32 };

static struct sl_state_topic
topic(const char *name, uint8_t dur)
{
	struct sl_state_topic t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	t.durability = dur;
	return t;
}

static void
test_topics(void)
{
	struct sl_state s;
	struct sl_state_topic t;

	sl_state_init(&s);
	t = topic("orders.eu", SL_DUR_SYNC);
	t.retain_mb = 64;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EEXIST);
	CHECK(strstr(err, "exists") != NULL);
	t = topic("a b", SL_DUR_NONE);
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "'a b' is invalid") != NULL);
	t = topic("", SL_DUR_NONE);
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	t = topic("x", 3);
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "durability") != NULL);
	t = topic("y", SL_DUR_NONE);
	t.capacity_mb = SL_STATE_MAX_MB + 1;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	memset(t.name, 'n', sizeof(t.name)); /* unterminated: refused, not overread */
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	CHECK(s.n_topics == 1);
	CHECK(sl_state_topic_find(&s, "orders.eu")->retain_mb == 64);
	CHECK(sl_state_topic_remove(&s, "nope", err, sizeof(err)) == -ENOENT);
	CHECK(sl_state_topic_remove(&s, "orders.eu", err, sizeof(err)) == 0);
	CHECK(s.n_topics == 0);
	CHECK(sl_state_durability_parse("async", &t.durability) == 0 && t.durability == 1);
	CHECK(sl_state_durability_parse("Sync", &t.durability) == -EINVAL);
	sl_state_fini(&s);
}

/* topic update: the fields named change, the others stay; refusals change nothing. */
static void
test_topic_update(void)
{
	struct sl_state s;
	struct sl_state_topic t, now;
	char path[128];

	sl_state_init(&s);
	t = topic("orders.eu", SL_DUR_SYNC);
	t.retain_mb = 64;
	t.retain_s = 3600;
	t.capacity_mb = 256;
	t.backpressure = SL_CNC_BP_BLOCK;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);

	t = topic("orders.eu", SL_DUR_NONE);
	t.retain_mb = 10;
	t.capacity_mb = 128;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_RETAIN_MB | SL_STATE_TF_CAPACITY_MB, &now,
				    err, sizeof(err)) == 0);
	CHECK(now.retain_mb == 10 && now.capacity_mb == 128 && now.retain_s == 3600);
	CHECK(now.durability == SL_DUR_SYNC && now.backpressure == SL_CNC_BP_BLOCK);
	CHECK(sl_state_topic_find(&s, "orders.eu")->retain_mb == 10);
	CHECK(now.retx_window == SL_CNC_RETX_DEFAULT);
	t.retx_window = 1 + 0; /* none */
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_RETX_WINDOW, &now, err, sizeof(err)) == 0);
	CHECK(now.retx_window == 1 && now.retain_mb == 10);
	t.retx_window = SL_CNC_RETX_MAX + 2;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_RETX_WINDOW, &now, err, sizeof(err)) ==
	      -EINVAL);
	t.retx_window = SL_CNC_RETX_DEFAULT;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_RETX_WINDOW, &now, err, sizeof(err)) == 0);
	/* The largest message: 0 (the dataplane's) or SL_MAX_PAYLOAD..SL_MAX_MESSAGE. */
	t.max_message = 64 * 1024;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_MAX_MESSAGE, &now, err, sizeof(err)) == 0);
	CHECK(now.max_message == 64 * 1024 && now.retain_mb == 10);
	t.max_message = SL_MAX_PAYLOAD - 1;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_MAX_MESSAGE, &now, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(strstr(err, "max_message must be 0") != NULL);
	t.max_message = SL_MAX_MESSAGE + 1;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_MAX_MESSAGE, &now, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(sl_state_topic_find(&s, "orders.eu")->max_message == 64 * 1024);
	t.max_message = 0;

	t.backpressure = SL_CNC_BP_DEFAULT;
	t.retain_s = 0;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_BACKPRESSURE | SL_STATE_TF_RETAIN_S, &now,
				    err, sizeof(err)) == 0);
	CHECK(now.backpressure == SL_CNC_BP_DEFAULT && now.retain_s == 0 && now.retain_mb == 10);

	/* The same durability is no change; another is refused, saying what to do. */
	t.durability = SL_DUR_SYNC;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_DURABILITY, NULL, err, sizeof(err)) == 0);
	t.durability = SL_DUR_ASYNC;
	t.retain_mb = 1;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_DURABILITY | SL_STATE_TF_RETAIN_MB, NULL,
				    err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "cannot change") != NULL && strstr(err, "delete the topic") != NULL);
	CHECK(sl_state_topic_find(&s, "orders.eu")->retain_mb == 10);
	CHECK(sl_state_topic_find(&s, "orders.eu")->durability == SL_DUR_SYNC);

	t = topic("orders.eu", SL_DUR_SYNC);
	t.capacity_mb = SL_STATE_MAX_MB + 1;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_CAPACITY_MB, NULL, err,
				    sizeof(err)) == -EINVAL);
	CHECK(sl_state_topic_find(&s, "orders.eu")->capacity_mb == 128);
	t.backpressure = SL_CNC_BP_DISCONNECT + 1;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_BACKPRESSURE, NULL, err,
				    sizeof(err)) == -EINVAL);
	CHECK(sl_state_topic_update(&s, &t, 0, NULL, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "nothing to update") != NULL);
	t = topic("nope", SL_DUR_NONE);
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_RETAIN_MB, NULL, err,
				    sizeof(err)) == -ENOENT);
	memset(t.name, 'n', sizeof(t.name)); /* unterminated: refused, not overread */
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_RETAIN_MB, NULL, err,
				    sizeof(err)) == -ENOENT);

	/* What was updated is what is saved and loaded back. */
	t = topic("orders.eu", SL_DUR_SYNC);
	t.retx_window = 1 + 300;
	t.max_message = 2 * 1024 * 1024;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_RETX_WINDOW | SL_STATE_TF_MAX_MESSAGE, NULL,
				    err, sizeof(err)) == 0);
	CHECK(sl_state_dir_prepare(dir, err, sizeof(err)) == 0);
	CHECK(sl_state_save(&s, dir, err, sizeof(err)) == 0);
	sl_state_fini(&s);
	sl_state_init(&s);
	CHECK(sl_state_load(&s, dir, err, sizeof(err)) == 0);
	CHECK(s.n_topics == 1 && s.topics[0].retain_mb == 10 && s.topics[0].retain_s == 0 &&
	      s.topics[0].capacity_mb == 128 && s.topics[0].backpressure == SL_CNC_BP_DEFAULT);
	CHECK_EQ(s.topics[0].retx_window, 1 + 300);
	CHECK_EQ(s.topics[0].max_message, 2 * 1024 * 1024);
	sl_state_fini(&s);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	unlink(path);
}

static void
test_users(void)
{
	struct sl_state s;
	uint16_t uid, uid2;
	char name[32];
	int i;

	sl_state_init(&s);
	CHECK(sl_state_user_add(&s, "alice", 1, key1, &uid, err, sizeof(err)) == 0 && uid == 1);
	CHECK(sl_state_user_add(&s, "bob", 0, key1, &uid2, err, sizeof(err)) == 0 && uid2 == 2);
	CHECK(sl_state_user_add(&s, "alice", 0, key1, &uid, err, sizeof(err)) == -EEXIST);
	CHECK(sl_state_user_add(&s, "bad name", 0, key1, &uid, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "invalid") != NULL);
	CHECK(sl_state_user_add(&s, "", 0, key1, &uid, err, sizeof(err)) == -EINVAL);
	CHECK(sl_state_user_add(&s, "a23456789012345678901234567890123", 0, key1, &uid, err,
				sizeof(err)) == -EINVAL);
	/* A removed uid is not handed out again at once. */
	CHECK(sl_state_user_remove(&s, "alice", err, sizeof(err)) == 0);
	CHECK(sl_state_user_remove(&s, "alice", err, sizeof(err)) == -ENOENT);
	CHECK(sl_state_user_add(&s, "carol", 0, key1, &uid, err, sizeof(err)) == 0 && uid == 3);
	CHECK(sl_state_user_find(&s, "bob")->uid == 2); /* stable */
	/* Fill the table: 255 users, uids unique, then full. */
	for (i = 0; s.n_users < SL_STATE_MAX_USERS; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		CHECK(sl_state_user_add(&s, name, 0, key1, &uid, err, sizeof(err)) == 0);
		CHECK(uid >= 1 && uid <= 255);
	}
	CHECK(sl_state_validate(&s, err, sizeof(err)) == 0);
	CHECK(sl_state_user_add(&s, "late", 0, key1, &uid, err, sizeof(err)) == -ENOSPC);
	CHECK(sl_state_user_remove(&s, "u7", err, sizeof(err)) == 0);
	CHECK(sl_state_user_add(&s, "late", 0, key1, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_validate(&s, err, sizeof(err)) == 0);
	sl_state_fini(&s);
}

static void
test_patterns(void)
{
	static const char *const good[] = { "a", "a.b", "a.*", "*.b", "a.>", ">", "*", "a.*.c.>",
					    "x-y_z.1" };
	static const char *const bad[] = { "", "a..b", ".a", "a.", "a.>.b", "a*", "a.b*", ">a",
					   "a b", "a.>>", "a.**" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(sl_state_pattern_check(good[i], err, sizeof(err)) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(sl_state_pattern_check(bad[i], err, sizeof(err)) == -EINVAL);
		CHECK(strstr(err, "is invalid") != NULL);
	}
}

static void
test_acls(void)
{
	struct sl_state s;
	uint16_t uid;

	sl_state_init(&s);
	CHECK(sl_state_user_add(&s, "alice", 0, key1, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_grant(&s, "bob", "a.>", SL_PERM_PUB, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "no user 'bob'") != NULL);
	CHECK(sl_state_acl_grant(&s, "alice", "a..b", SL_PERM_PUB, err, sizeof(err)) == -EINVAL);
	CHECK(sl_state_acl_grant(&s, "alice", "a.>", 0, err, sizeof(err)) == -EINVAL);
	CHECK(sl_state_acl_grant(&s, "alice", "a.>", 8, err, sizeof(err)) == -EINVAL);
	CHECK(s.n_acls == 0);
	CHECK(sl_state_acl_grant(&s, "alice", "a.>", SL_PERM_PUB, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_grant(&s, "alice", "a.>", SL_PERM_SUB, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_grant(&s, "alice", "b.*", SL_PERM_ADMIN, err, sizeof(err)) == 0);
	CHECK(s.n_acls == 2);
	CHECK(sl_state_acl_find(&s, "alice", "a.>")->perms == (SL_PERM_PUB | SL_PERM_SUB));
	CHECK(sl_state_acl_revoke(&s, "alice", "c", SL_PERM_PUB, err, sizeof(err)) == -ENOENT);
	CHECK(sl_state_acl_revoke(&s, "alice", "a.>", SL_PERM_PUB, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_find(&s, "alice", "a.>")->perms == SL_PERM_SUB);
	CHECK(sl_state_acl_revoke(&s, "alice", "a.>", SL_PERM_SUB, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_find(&s, "alice", "a.>") == NULL && s.n_acls == 1);
	/* Removing the user removes its entries. */
	CHECK(sl_state_user_remove(&s, "alice", err, sizeof(err)) == 0);
	CHECK(s.n_acls == 0);
	CHECK(sl_state_perm_parse("sub") == SL_PERM_SUB && sl_state_perm_parse("all") == -EINVAL);
	sl_state_fini(&s);
}

static void
fill(struct sl_state *s)
{
	struct sl_state_topic t = topic("orders.eu", SL_DUR_SYNC);
	uint16_t uid;

	t.retain_mb = 10;
	t.retain_s = 3600;
	t.capacity_mb = 256;
	sl_state_init(s);
	CHECK(sl_state_topic_add(s, &t, err, sizeof(err)) == 0);
	t = topic("ticks", SL_DUR_NONE);
	CHECK(sl_state_topic_add(s, &t, err, sizeof(err)) == 0);
	CHECK(sl_state_user_add(s, "alice", 1, key1, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_user_add(s, "bob", 0, key1, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_user_remove(s, "alice", err, sizeof(err)) == 0);
	CHECK(sl_state_user_add(s, "alice", 1, key1, &uid, err, sizeof(err)) == 0 && uid == 3);
	CHECK(sl_state_acl_grant(s, "bob", "orders.*", SL_PERM_SUB | SL_PERM_PUB, err,
				 sizeof(err)) == 0);
	s->policy.auth_required = 1;
	s->policy.idle_backoff = 1;
	s->policy.rate_limit = 2500;
}

/* @s as state.json's text (without the newline); free it. */
static char *
state_text(const struct sl_state *s)
{
	json_t *j = sl_state_to_json(s);
	char *text = j ? json_dumps(j, SL_JSON_DUMP_FLAGS) : NULL;

	json_decref(j);
	return text;
}

static int
same(const struct sl_state *a, const struct sl_state *b)
{
	char *ta = state_text(a), *tb = state_text(b);
	int eq = ta && tb && strcmp(ta, tb) == 0;

	free(ta);
	free(tb);
	return eq;
}

static void
write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void
test_persist(void)
{
	struct sl_state a, b;
	struct stat st;
	char path[128];
	uint16_t uid;

	fill(&a);
	CHECK(sl_state_dir_prepare(dir, err, sizeof(err)) == 0);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == -ENOENT);
	CHECK(sl_state_save(&a, dir, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(same(&a, &b));
	CHECK(memcmp(sl_state_user_find(&b, "alice")->key, key1, sizeof(key1)) == 0);
	CHECK(sl_state_user_find(&b, "alice")->uid == 3);
	CHECK(b.policy.auth_required == 1 && b.policy.idle_backoff == 1);
	CHECK(b.policy.rate_limit == 2500);
	/* The uid cursor survives a restart: the next user does not get 2's
	 * predecessor's old uid back. */
	CHECK(sl_state_user_add(&b, "carol", 0, key1, &uid, err, sizeof(err)) == 0 && uid == 4);
	sl_state_fini(&b);

	/* A crash mid-save leaves state.json.tmp: ignored, state.json wins. */
	write_file("state.json.tmp", "{\"version\":1,\"topics\":[{\"name\":\"half");
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(same(&a, &b));
	sl_state_fini(&b);
	/* And the next save replaces it. */
	CHECK(sl_state_save(&a, dir, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/state.json.tmp", dir);
	CHECK(access(path, F_OK) < 0);
	sl_state_fini(&a);
}

static void
expect_corrupt(const char *text, const char *why)
{
	struct sl_state s;

	write_file("state.json", text);
	sl_state_init(&s);
	CHECK(sl_state_load(&s, dir, err, sizeof(err)) == -EINVAL);
	if (strstr(err, why) == NULL)
		fprintf(stderr, "message '%s' lacks '%s'\n", err, why);
	CHECK(strstr(err, why) != NULL);
	CHECK(s.n_topics == 0 && s.n_users == 0 && s.n_acls == 0);
	sl_state_fini(&s);
}

static void
test_corrupt(void)
{
	static const char k[] = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
	char doc[1024], path[128];
	struct stat st;

	expect_corrupt("{\"version\":1,\"topics\":[", "corrupt at byte 23");
	expect_corrupt("", "corrupt at byte 0");
	expect_corrupt("[]", "must be a JSON object");
	expect_corrupt("{\"version\":2,\"topics\":[],\"users\":[],\"acls\":[]}", "version");
	expect_corrupt("{\"version\":1,\"topics\":[{\"name\":\"a b\"}],\"users\":[],\"acls\":[]}",
		       "'a b' is invalid");
	expect_corrupt("{\"version\":1,\"topics\":[{\"name\":\"a\",\"durability\":\"fast\"}],"
		       "\"users\":[],\"acls\":[]}", "durability");
	snprintf(doc, sizeof(doc), "{\"version\":1,\"topics\":[],\"users\":[{\"name\":\"a\","
		 "\"uid\":1,\"key\":\"%s\"},{\"name\":\"a\",\"uid\":2,\"key\":\"%s\"}],"
		 "\"acls\":[]}", k, k);
	expect_corrupt(doc, "appears twice");
	snprintf(doc, sizeof(doc), "{\"version\":1,\"topics\":[],\"users\":[{\"name\":\"a\","
		 "\"uid\":1,\"key\":\"%s\"},{\"name\":\"b\",\"uid\":1,\"key\":\"%s\"}],"
		 "\"acls\":[]}", k, k);
	expect_corrupt(doc, "share uid 1");
	snprintf(doc, sizeof(doc), "{\"version\":1,\"topics\":[],\"users\":[{\"name\":\"a\","
		 "\"uid\":0,\"key\":\"%s\"}],\"acls\":[]}", k);
	expect_corrupt(doc, "uid 0");
	expect_corrupt("{\"version\":1,\"topics\":[],\"users\":[{\"name\":\"a\",\"uid\":1,"
		       "\"key\":\"zz\"}],\"acls\":[]}", "hex digits");
	expect_corrupt("{\"version\":1,\"topics\":[],\"users\":[],\"acls\":[{\"user\":\"ghost\","
		       "\"pattern\":\"a\",\"perms\":[\"pub\"]}]}", "no user 'ghost'");
	snprintf(doc, sizeof(doc), "{\"version\":1,\"topics\":[],\"users\":[{\"name\":\"a\","
		 "\"uid\":1,\"key\":\"%s\"}],\"acls\":[{\"user\":\"a\",\"pattern\":\"x..y\","
		 "\"perms\":[\"pub\"]}]}", k);
	expect_corrupt(doc, "pattern 'x..y' is invalid");
	snprintf(doc, sizeof(doc), "{\"version\":1,\"topics\":[],\"users\":[{\"name\":\"a\","
		 "\"uid\":1,\"key\":\"%s\"}],\"acls\":[{\"user\":\"a\",\"pattern\":\"x\","
		 "\"perms\":[\"write\"]}]}", k);
	expect_corrupt(doc, "perms");
	expect_corrupt("{\"version\":1,\"policy\":{\"auth\":\"maybe\"},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "policy");
	/* The corrupt file is left alone for the operator. */
	snprintf(path, sizeof(path), "%s/state.json", dir);
	CHECK(stat(path, &st) == 0 && st.st_size > 0);
}

/* policy.rate_limit: persisted, defaulted when absent, validated. */
static void
test_rate_limit(void)
{
	struct sl_state a, b;
	char *w;

	/* Round trip, at the largest value allowed. */
	fill(&a);
	a.policy.rate_limit = SL_STATE_MAX_RATE;
	CHECK(sl_state_validate(&a, err, sizeof(err)) == 0);
	w = state_text(&a);
	CHECK(w != NULL && strstr(w, "\"rate_limit\":100000000,") != NULL);
	free(w);
	CHECK(sl_state_save(&a, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.policy.rate_limit == SL_STATE_MAX_RATE && same(&a, &b));
	sl_state_fini(&b);
	/* 0 (unlimited) too. */
	a.policy.rate_limit = 0;
	CHECK(sl_state_save(&a, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.policy.rate_limit == 0 && same(&a, &b));
	sl_state_fini(&b);
	/* Above the limit: refused by validation, never saved that way. */
	a.policy.rate_limit = SL_STATE_MAX_RATE + 1;
	CHECK(sl_state_validate(&a, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "rate_limit") != NULL);
	sl_state_fini(&a);

	/* A state.json from before the knob: no key (or no policy) loads as 0. */
	write_file("state.json", "{\"version\":1,\"policy\":{\"auth\":\"required\","
		   "\"idle\":\"backoff\"},\"topics\":[],\"users\":[],\"acls\":[]}");
	sl_state_init(&b);
	b.policy.rate_limit = 7;
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.policy.rate_limit == 0 && b.policy.auth_required == 1 &&
	      b.policy.idle_backoff == 1);
	sl_state_fini(&b);
	write_file("state.json", "{\"version\":1,\"topics\":[],\"users\":[],\"acls\":[]}");
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0 && b.policy.rate_limit == 0);
	sl_state_fini(&b);
	write_file("state.json", "{\"version\":1,\"policy\":{\"rate_limit\":1000},"
		   "\"topics\":[],\"users\":[],\"acls\":[]}");
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0 && b.policy.rate_limit == 1000);
	sl_state_fini(&b);

	/* Bad values stop the load with a reason. */
	expect_corrupt("{\"version\":1,\"policy\":{\"rate_limit\":100000001},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "rate_limit");
	expect_corrupt("{\"version\":1,\"policy\":{\"rate_limit\":4294967296},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "rate_limit");
	expect_corrupt("{\"version\":1,\"policy\":{\"rate_limit\":-1},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "rate_limit");
	expect_corrupt("{\"version\":1,\"policy\":{\"rate_limit\":1.5},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "rate_limit");
	expect_corrupt("{\"version\":1,\"policy\":{\"rate_limit\":\"1000\"},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "rate_limit");
}

/* Load @text as state.json into @b (initialised here): the load's result. */
static int
load_text(struct sl_state *b, const char *text)
{
	write_file("state.json", text);
	sl_state_init(b);
	return sl_state_load(b, dir, err, sizeof(err));
}

/*
 * Which policy settings an operator set is persisted ("set"), so a
 * restarted control resends only those. A state.json from before "set":
 * values other than the default count as set, defaults as not set (an old
 * file's "auth":"open" must not lower a dataplane's authentication).
 */
static void
test_policy_set(void)
{
	struct sl_state a, b;
	char *w;

	/* Fresh state: nothing set, and saved so. */
	sl_state_init(&a);
	CHECK(a.policy.set == 0);
	w = state_text(&a);
	CHECK(w != NULL && strstr(w, "\"set\":[]") != NULL);
	free(w);
	CHECK(sl_state_save(&a, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0 && b.policy.set == 0);
	sl_state_fini(&b);
	/* Explicit settings round-trip, an explicit "open" included. */
	a.policy.set = SL_STATE_POLICY_F_AUTH | SL_STATE_POLICY_F_RATE;
	CHECK(sl_state_save(&a, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.policy.set == (SL_STATE_POLICY_F_AUTH | SL_STATE_POLICY_F_RATE) &&
	      b.policy.auth_required == 0 && same(&a, &b));
	sl_state_fini(&b);
	sl_state_fini(&a);
	CHECK(load_text(&b, "{\"version\":1,\"policy\":{\"auth\":\"required\",\"idle\":\"busy\","
			"\"rate_limit\":0,\"set\":[\"idle\"]},\"topics\":[],\"users\":[],"
			"\"acls\":[]}") == 0);
	CHECK(b.policy.set == SL_STATE_POLICY_F_IDLE && b.policy.auth_required == 1);
	sl_state_fini(&b);

	/* Files from before "set". */
	CHECK(load_text(&b, "{\"version\":1,\"policy\":{\"auth\":\"open\",\"idle\":\"busy\","
			"\"rate_limit\":0},\"topics\":[],\"users\":[],\"acls\":[]}") == 0);
	CHECK(b.policy.set == 0);
	sl_state_fini(&b);
	CHECK(load_text(&b, "{\"version\":1,\"policy\":{\"auth\":\"required\",\"idle\":\"busy\","
			"\"rate_limit\":0},\"topics\":[],\"users\":[],\"acls\":[]}") == 0);
	CHECK(b.policy.set == SL_STATE_POLICY_F_AUTH);
	sl_state_fini(&b);
	CHECK(load_text(&b, "{\"version\":1,\"policy\":{\"auth\":\"open\",\"idle\":\"backoff\","
			"\"rate_limit\":5},\"topics\":[],\"users\":[],\"acls\":[]}") == 0);
	CHECK(b.policy.set == (SL_STATE_POLICY_F_IDLE | SL_STATE_POLICY_F_RATE));
	sl_state_fini(&b);

	/* Anything else in "set" stops the load with a reason. */
	expect_corrupt("{\"version\":1,\"policy\":{\"set\":[\"auth\",\"speed\"]},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "\"set\"");
	expect_corrupt("{\"version\":1,\"policy\":{\"set\":\"auth\"},\"topics\":[],"
		       "\"users\":[],\"acls\":[]}", "\"set\"");
}

static void
test_copy(void)
{
	struct sl_state a, b;
	struct sl_state_topic t = topic("zz", SL_DUR_ASYNC);

	fill(&a);
	CHECK(sl_state_copy(&b, &a) == 0);
	CHECK(same(&a, &b));
	CHECK(sl_state_topic_add(&b, &t, err, sizeof(err)) == 0);
	CHECK(!same(&a, &b) && a.n_topics == 2);
	sl_state_fini(&a);
	sl_state_fini(&b);
}

static void
rm_dir(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/state.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.json.tmp", dir);
	unlink(path);
	rmdir(dir);
}

/*
 * A state.json as sluice-control wrote it before it used libjansson (its
 * own writer, same members in the same order): it loads, and saving it
 * again writes the very same bytes.
 */
static void
test_old_file(void)
{
	static const char head[] =
		"{\"version\":1,\"next_uid\":4,\"policy\":{\"auth\":\"required\",\"idle\":"
		"\"backoff\",\"rate_limit\":2500,\"set\":[\"auth\",\"rate_limit\"]},\"topics\":"
		"[{\"name\":\"orders.eu\",\"durability\":\"sync\",\"backpressure\":\"block\","
		"\"retain_mb\":10,\"retain_s\":3600,\"capacity_mb\":256},{\"name\":\"q\\\"uo\\\\te\","
		"\"durability\":\"none\",\"backpressure\":\"default\",\"retain_mb\":0,\"retain_s\":0,"
		"\"capacity_mb\":0}],\"users\":[{\"name\":\"bob\",\"uid\":2,\"admin\":false,\"key\":\"";
	static const char tail[] = "\"}],\"acls\":[{\"user\":\"bob\",\"pattern\":\"orders.*\","
				   "\"perms\":[\"pub\",\"sub\"]}]}\n";
	char hex[2 * SL_AUTH_KEY_LEN + 1], text[1024], path[160], back[1024];
	struct sl_state b;
	FILE *f;
	size_t n;

	sl_auth_key_to_hex(key1, hex);
	snprintf(text, sizeof(text), "%s%s%s", head, hex, tail);
	write_file("state.json", text);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.n_topics == 2 && strcmp(b.topics[1].name, "q\"uo\\te") == 0);
	CHECK(b.topics[0].backpressure == SL_CNC_BP_BLOCK && b.topics[0].capacity_mb == 256);
	CHECK(b.n_users == 1 && b.users[0].uid == 2 && memcmp(b.users[0].key, key1, 32) == 0);
	CHECK(b.policy.set == (SL_STATE_POLICY_F_AUTH | SL_STATE_POLICY_F_RATE));
	CHECK(sl_state_save(&b, dir, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	f = fopen(path, "r");
	n = f ? fread(back, 1, sizeof(back) - 1, f) : 0;
	back[n] = '\0';
	if (f)
		fclose(f);
	if (strcmp(back, text) != 0)
		fprintf(stderr, "saved:    %s\nexpected: %s\n", back, text);
	CHECK(strcmp(back, text) == 0);
	sl_state_fini(&b);
}

int
main(void)
{
	char tmpl[] = "/tmp/sl_state_XXXXXX";

	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* A nested directory: sl_state_dir_prepare creates it 0700. */
	snprintf(dir, sizeof(dir), "%s/st", tmpl);
	test_topics();
	test_topic_update();
	test_users();
	test_patterns();
	test_acls();
	test_persist();
	test_corrupt();
	test_rate_limit();
	test_policy_set();
	test_copy();
	test_old_file();
	rm_dir();
	rmdir(tmpl);
	return check_result("state");
}
