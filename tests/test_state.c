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
	CHECK(sl_state_acl_grant(&s, "alice", "a.>", 16, err, sizeof(err)) == -EINVAL);
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
	expect_corrupt("{\"version\":5,\"topics\":[],\"users\":[],\"acls\":[]}", "version");
	expect_corrupt("{\"version\":0,\"topics\":[],\"users\":[],\"acls\":[]}", "version");
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
 * A state.json of version 1 as sluice-control wrote it before it used
 * libjansson (its own writer, same members in the same order): it loads,
 * and saving it again writes the same bytes but for version 2's
 * additions: the version, and each topic's and user's encryption policy
 * (the default, optional).
 */
/* Replace every occurrence of @from in @s (room for 1024 bytes) by @to. */
static void
replace_all(char *s, const char *from, const char *to)
{
	char out[1024], *p = s, *hit;
	size_t n = 0;

	while ((hit = strstr(p, from)) != NULL && n + (size_t)(hit - p) + strlen(to) < sizeof(out)) {
		memcpy(out + n, p, (size_t)(hit - p));
		n += (size_t)(hit - p);
		memcpy(out + n, to, strlen(to));
		n += strlen(to);
		p = hit + strlen(from);
	}
	snprintf(out + n, sizeof(out) - n, "%s", p);
	snprintf(s, 1024, "%s", out);
}

/* The version 1 text @text as version 4 writes it (version 2 added each
 * "encryption", version 3 "groups"; version 4 "partitions", written only
 * for a partitioned topic). */
static void
expect_v4(char *text)
{
	replace_all(text, "{\"version\":1,", "{\"version\":4,");
	replace_all(text, "\"perms\":[\"pub\",\"sub\"]}]}\n", "\"perms\":[\"pub\",\"sub\"]}],"
		    "\"groups\":[]}\n");
	replace_all(text, "\"capacity_mb\":256}", "\"capacity_mb\":256,\"encryption\":\"optional\"}");
	replace_all(text, "\"capacity_mb\":0}", "\"capacity_mb\":0,\"encryption\":\"optional\"}");
	replace_all(text, "\"admin\":false,", "\"admin\":false,\"encryption\":\"optional\",");
}

/*
 * Key rollover and encryption policies: key_add keeps the old key as the
 * second, a third is refused, key_retire drops the older; user and topic
 * policies are checked, updated, saved and loaded.
 */
static void
test_keys_and_encryption(void)
{
	static const uint8_t key2[SL_AUTH_KEY_LEN] = { 0xaa, 0xbb };
	static const uint8_t key3[SL_AUTH_KEY_LEN] = { 0xcc };
	struct sl_state s, b;
	struct sl_state_user *u;
	struct sl_state_topic t, now;
	uint16_t uid;

	sl_state_init(&s);
	CHECK(sl_state_user_add(&s, "ann", 0, key1, &uid, err, sizeof(err)) == 0);
	u = sl_state_user_find(&s, "ann");
	CHECK(u->encryption == SL_CNC_ENC_OPTIONAL && !u->has_key2);
	CHECK(sl_state_user_key_retire(&s, "ann", err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "one key only") != NULL);
	CHECK(sl_state_user_key_add(&s, "ghost", key2, err, sizeof(err)) == -ENOENT);
	CHECK(sl_state_user_key_add(&s, "ann", key2, err, sizeof(err)) == 0);
	CHECK(u->has_key2 && memcmp(u->key, key2, 32) == 0 && memcmp(u->key2, key1, 32) == 0);
	CHECK(sl_state_user_key_add(&s, "ann", key3, err, sizeof(err)) == -EEXIST);
	CHECK(strstr(err, "retire the older one first") != NULL);
	CHECK(memcmp(u->key, key2, 32) == 0 && memcmp(u->key2, key1, 32) == 0);
	/* The second key survives a save and a load. */
	CHECK(sl_state_dir_prepare(dir, err, sizeof(err)) == 0);
	CHECK(sl_state_save(&s, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.n_users == 1 && b.users[0].has_key2 && memcmp(b.users[0].key2, key1, 32) == 0 &&
	      memcmp(b.users[0].key, key2, 32) == 0);
	CHECK(same(&s, &b));
	sl_state_fini(&b);
	CHECK(sl_state_user_key_retire(&s, "ann", err, sizeof(err)) == 0);
	CHECK(!u->has_key2 && memcmp(u->key, key2, 32) == 0);
	/* Encryption of a user. */
	CHECK(sl_state_user_update(&s, "ann", 0, 0, 0, err, sizeof(err)) == -EINVAL);
	CHECK(sl_state_user_update(&s, "ann", SL_STATE_UF_ENCRYPTION, 0, 3, err,
				   sizeof(err)) == -EINVAL);
	CHECK(sl_state_user_update(&s, "nobody", SL_STATE_UF_ENCRYPTION, 0, 1, err,
				   sizeof(err)) == -ENOENT);
	CHECK(sl_state_user_update(&s, "ann", SL_STATE_UF_ENCRYPTION, 1, SL_CNC_ENC_REQUIRED, err,
				   sizeof(err)) == 0);
	CHECK(u->encryption == SL_CNC_ENC_REQUIRED && u->admin == 0);
	CHECK(sl_state_user_update(&s, "ann", SL_STATE_UF_ADMIN, 1, 0, err, sizeof(err)) == 0);
	CHECK(u->encryption == SL_CNC_ENC_REQUIRED && u->admin == 1);
	/* ... and of a topic. */
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "secret.x");
	t.encryption = 3;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	t.encryption = SL_CNC_ENC_OFF;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);
	t.encryption = SL_CNC_ENC_REQUIRED;
	CHECK(sl_state_topic_update(&s, &t, SL_STATE_TF_ENCRYPTION, &now, err, sizeof(err)) == 0);
	CHECK(now.encryption == SL_CNC_ENC_REQUIRED);
	CHECK(sl_state_save(&s, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.users[0].encryption == SL_CNC_ENC_REQUIRED && !b.users[0].has_key2);
	CHECK(b.n_topics == 1 && b.topics[0].encryption == SL_CNC_ENC_REQUIRED);
	sl_state_fini(&b);
	sl_state_fini(&s);
	expect_corrupt("{\"version\":2,\"topics\":[{\"name\":\"a\",\"encryption\":\"maybe\"}],"
		       "\"users\":[],\"acls\":[]}", "encryption must be");
	expect_corrupt("{\"version\":2,\"topics\":[],\"users\":[{\"name\":\"a\",\"uid\":1,"
		       "\"key\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		       "\"key2\":\"00\"}],\"acls\":[]}", "key2");
	expect_corrupt("{\"version\":2,\"topics\":[],\"users\":[{\"name\":\"a\",\"uid\":1,"
		       "\"key\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		       "\"encryption\":1}],\"acls\":[]}", "encryption");
}

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
	expect_v4(text);
	if (strcmp(back, text) != 0)
		fprintf(stderr, "saved:    %s\nexpected: %s\n", back, text);
	CHECK(strcmp(back, text) == 0);
	sl_state_fini(&b);
}

/*
 * Consumer groups and the consume right: checked when added, removed with
 * their topic, saved and loaded as they were; an ACL entry's group too; a
 * version 2 file (no groups, no entry groups) still loads.
 */
static void
test_groups(void)
{
	struct sl_state s, b;
	struct sl_state_topic t;
	struct sl_state_group g;
	const struct sl_state_acl *a;
	uint16_t uid;
	char text[1024];

	sl_state_init(&s);
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "jobs");
	t.durability = SL_DUR_SYNC;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);
	snprintf(t.name, sizeof(t.name), "mem");
	t.durability = SL_DUR_NONE;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);

	sl_state_group_defaults(&g, "jobs", "workers");
	CHECK(g.policy == SL_STATE_GROUP_RR && g.ack_wait_ms == 30000 &&
	      g.max_deliveries == 5 && g.grace_ms == 5000 && g.flags == 0);
	g.policy = SL_STATE_GROUP_KEY;
	g.flags = SL_CNC_GROUP_F_DURABLE | SL_CNC_GROUP_F_RETAIN;
	snprintf(g.dead_letter, sizeof(g.dead_letter), "jobs.dead");
	g.max_inflight = 1000;
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == 0);
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == -EEXIST);
	/* Bad names, policy, flags, ranges: refused, nothing added. */
	snprintf(g.name, sizeof(g.name), "a b");
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "group name 'a b' is invalid") != NULL);
	snprintf(g.name, sizeof(g.name), "w2");
	g.policy = 4;
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == -EINVAL);
	g.policy = SL_STATE_GROUP_LEAST;
	g.flags = SL_CNC_GROUP_F_RETAIN;
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "retain needs a durable group") != NULL);
	g.flags = 0;
	g.ack_wait_ms = SL_STATE_GROUP_MAX_MS + 1;
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == -EINVAL);
	g.ack_wait_ms = 100;
	snprintf(g.dead_letter, sizeof(g.dead_letter), "jobs");
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "dead-letter topic must not be") != NULL);
	g.dead_letter[0] = '\0';
	/* Durable needs a journaled topic (when control knows the topic). */
	sl_state_group_defaults(&g, "mem", "d");
	g.flags = SL_CNC_GROUP_F_DURABLE;
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "durability none") != NULL);
	g.flags = 0;
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == 0);
	/* A topic a client created (not in the desired state) may hold groups. */
	sl_state_group_defaults(&g, "client.made", "g1");
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == 0);
	CHECK(s.n_groups == 3);

	/* ACL: consume with a group; set replaces perms and group. */
	CHECK(sl_state_user_add(&s, "ann", 0, key1, &uid, err, sizeof(err)) == 0);
	CHECK(sl_state_acl_grant(&s, "ann", "jobs", SL_PERM_CONSUME, err, sizeof(err)) == 0);
	a = sl_state_acl_find(&s, "ann", "jobs");
	CHECK(a != NULL && a->perms == SL_PERM_CONSUME && a->group[0] == '\0');
	CHECK(sl_state_acl_set(&s, "ann", "jobs", SL_PERM_CONSUME | SL_PERM_SUB, "workers", err,
			       sizeof(err)) == 0);
	CHECK(a->perms == (SL_PERM_CONSUME | SL_PERM_SUB) && strcmp(a->group, "workers") == 0);
	CHECK(sl_state_acl_set(&s, "ann", "jobs", SL_PERM_CONSUME, "no good", err,
			       sizeof(err)) == -EINVAL);
	CHECK(strcmp(a->group, "workers") == 0);
	CHECK(sl_state_acl_set(&s, "ghost", "jobs", SL_PERM_CONSUME, NULL, err,
			       sizeof(err)) == -ENOENT);
	CHECK(sl_state_acl_set(&s, "ann", "m.>", SL_PERM_PUB, NULL, err, sizeof(err)) == 0);
	CHECK(sl_state_perm_parse("consume") == SL_PERM_CONSUME);
	CHECK(strcmp(sl_state_perm_name(3), "consume") == 0 && sl_state_perm_name(4) == NULL);

	/* Round trip. */
	CHECK(sl_state_dir_prepare(dir, err, sizeof(err)) == 0);
	CHECK(sl_state_save(&s, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(same(&s, &b));
	CHECK(b.n_groups == 3);
	g = *sl_state_group_find(&b, "jobs", "workers");
	CHECK(g.policy == SL_STATE_GROUP_KEY && g.max_inflight == 1000 &&
	      g.flags == (SL_CNC_GROUP_F_DURABLE | SL_CNC_GROUP_F_RETAIN) &&
	      strcmp(g.dead_letter, "jobs.dead") == 0 && g.ack_wait_ms == 30000);
	a = sl_state_acl_find(&b, "ann", "jobs");
	CHECK(a != NULL && strcmp(a->group, "workers") == 0 &&
	      a->perms == (SL_PERM_CONSUME | SL_PERM_SUB));
	sl_state_fini(&b);

	/* Update: settings change, the durable flag cannot. */
	g = *sl_state_group_find(&s, "jobs", "workers");
	g.ack_wait_ms = 10;
	g.flags = SL_CNC_GROUP_F_DURABLE;
	CHECK(sl_state_group_update(&s, &g, err, sizeof(err)) == 0);
	CHECK(sl_state_group_find(&s, "jobs", "workers")->ack_wait_ms == 10);
	g.flags = 0;
	CHECK(sl_state_group_update(&s, &g, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "is durable, which cannot change") != NULL);
	g.flags = SL_CNC_GROUP_F_RETAIN;
	CHECK(sl_state_group_update(&s, &g, err, sizeof(err)) == -EINVAL);
	snprintf(g.name, sizeof(g.name), "nosuch");
	g.flags = 0;
	CHECK(sl_state_group_update(&s, &g, err, sizeof(err)) == -ENOENT);
	CHECK(sl_state_group_find(&s, "jobs", "workers")->flags == SL_CNC_GROUP_F_DURABLE);

	/* Deleting a topic takes its groups; removing a group. */
	CHECK(sl_state_topic_remove(&s, "jobs", err, sizeof(err)) == 0);
	CHECK(s.n_groups == 2 && sl_state_group_find(&s, "jobs", "workers") == NULL);
	CHECK(sl_state_group_remove(&s, "mem", "zz", err, sizeof(err)) == -ENOENT);
	CHECK(sl_state_group_remove(&s, "mem", "d", err, sizeof(err)) == 0);
	CHECK(s.n_groups == 1);
	sl_state_fini(&s);

	/* A version 2 file: no "groups", entries without "group". */
	snprintf(text, sizeof(text), "{\"version\":2,\"topics\":[],\"users\":[{\"name\":\"a\","
		 "\"uid\":1,\"key\":\"%064d\"}],\"acls\":[{\"user\":\"a\",\"pattern\":"
		 "\"x.>\",\"perms\":[\"sub\"]}]}", 0);
	write_file("state.json", text);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.n_groups == 0 && b.n_acls == 1 && b.acls[0].group[0] == '\0');
	sl_state_fini(&b);
	/* Damaged groups are refused with the reason. */
	expect_corrupt("{\"version\":3,\"topics\":[],\"users\":[],\"acls\":[],\"groups\":{}}",
		       "\"groups\" must be an array");
	expect_corrupt("{\"version\":3,\"topics\":[],\"users\":[],\"acls\":[],\"groups\":"
		       "[{\"topic\":\"a\",\"name\":\"g\",\"policy\":\"fifo\"}]}", "policy must be");
	expect_corrupt("{\"version\":3,\"topics\":[],\"users\":[],\"acls\":[],\"groups\":"
		       "[{\"topic\":\"a\",\"name\":\"g\"},{\"topic\":\"a\",\"name\":\"g\"}]}",
		       "appears twice");
	expect_corrupt("{\"version\":3,\"topics\":[],\"users\":[],\"acls\":[],\"groups\":"
		       "[{\"topic\":\"a\",\"name\":\"g\",\"retain\":true}]}", "retain needs");
	snprintf(text, sizeof(text), "{\"version\":3,\"topics\":[],\"users\":[{\"name\":\"a\","
		 "\"uid\":1,\"key\":\"%064d\"}],\"acls\":[{\"user\":\"a\",\"pattern\":"
		 "\"x.>\",\"perms\":[\"consume\"],\"group\":\"b@d\"}]}", 0);
	expect_corrupt(text, "group name 'b@d' is invalid");
}

/*
 * Partitioned topics: the count checked (1..64, the names within 200
 * characters), clashes with partition names refused both ways, saved as
 * version 4 and loaded back, a version 3 file still loads as ordinary
 * topics, and the dataplane commands it expands to: partitions first and
 * the name last when created, the name first when deleted, its groups once
 * per partition.
 */
static void
test_partitions(void)
{
	struct sl_cnc_cmd c[SL_MAX_PARTITIONS + 1], g1;
	struct sl_state s, b;
	struct sl_state_topic t;
	struct sl_state_group g;
	char name[SL_CNC_NAME_LEN];
	uint32_t idx = 99;
	size_t n, i;

	sl_state_init(&s);
	t = topic("trades", SL_DUR_SYNC);
	t.partitions = SL_MAX_PARTITIONS + 1;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "partitions must be 1 to 64") != NULL);
	memset(name, 'x', 198);
	name[198] = '\0';
	t = topic(name, SL_DUR_NONE);
	t.partitions = 11; /* "#10" makes 201 characters */
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "too long for 11 partitions") != NULL);
	t.partitions = 10; /* "#9": 200 */
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);
	/* A topic already holds a partition's name. */
	t = topic("trades#2", SL_DUR_NONE);
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);
	t = topic("trades", SL_DUR_SYNC);
	t.partitions = 4;
	t.retain_mb = 8;
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EEXIST);
	CHECK(strstr(err, "'trades#2' exists already") != NULL);
	CHECK(sl_state_topic_remove(&s, "trades#2", err, sizeof(err)) == 0);
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);
	/* ... and the other way: an ordinary topic under a partition's name. */
	t = topic("trades#3", SL_DUR_NONE);
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == -EEXIST);
	CHECK(strstr(err, "partition of partitioned topic 'trades'") != NULL);
	t = topic("trades#4", SL_DUR_NONE); /* past its partitions: an ordinary name */
	CHECK(sl_state_topic_add(&s, &t, err, sizeof(err)) == 0);
	CHECK(sl_state_part_of(&s, "trades#03", NULL) == NULL);
	CHECK(sl_state_part_of(&s, "trades#", NULL) == NULL);
	CHECK(sl_state_part_of(&s, "trades#1", &idx) != NULL && idx == 1);
	CHECK(sl_state_part_of(&s, "trades", NULL) == NULL);

	/* Created: the partitions with the spec, then the name (none, N). */
	n = sl_state_topic_cmds(sl_state_topic_find(&s, "trades"), SL_CNC_TOPIC_UPSERT, c,
				SL_MAX_PARTITIONS + 1);
	CHECK_EQ(n, 5);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "trades#%zu", i);
		CHECK(c[i].type == SL_CNC_TOPIC_UPSERT && strcmp(c[i].u.topic.name, name) == 0);
		CHECK(c[i].u.topic.durability == SL_DUR_SYNC && c[i].u.topic.partitions == 0);
		CHECK(c[i].u.topic.retain_bytes == 8u << 20);
	}
	CHECK(strcmp(c[4].u.topic.name, "trades") == 0 && c[4].u.topic.partitions == 4);
	CHECK(c[4].u.topic.durability == SL_DUR_NONE && c[4].u.topic.retain_bytes == 0);
	CHECK(sl_state_topic_cmds(sl_state_topic_find(&s, "trades"), SL_CNC_TOPIC_UPSERT, c, 4)
	      == 0);
	/* Updated: the partitions only. Deleted: the name first. */
	n = sl_state_topic_cmds(sl_state_topic_find(&s, "trades"), SL_CNC_TOPIC_UPDATE, c,
				SL_MAX_PARTITIONS + 1);
	CHECK(n == 4 && c[3].type == SL_CNC_TOPIC_UPDATE &&
	      strcmp(c[3].u.topic.name, "trades#3") == 0);
	n = sl_state_topic_cmds(sl_state_topic_find(&s, "trades"), SL_CNC_TOPIC_DELETE, c,
				SL_MAX_PARTITIONS + 1);
	CHECK(n == 5 && c[0].type == SL_CNC_TOPIC_DELETE && strcmp(c[0].u.topic.name, "trades") == 0);
	CHECK(c[4].type == SL_CNC_TOPIC_DELETE && strcmp(c[4].u.topic.name, "trades#3") == 0);
	/* An ordinary topic: one command. */
	n = sl_state_topic_cmds(sl_state_topic_find(&s, "trades#4"), SL_CNC_TOPIC_UPSERT, c, 1);
	CHECK(n == 1 && strcmp(c[0].u.topic.name, "trades#4") == 0);

	/* A group of it: the same group on every partition. */
	sl_state_group_defaults(&g, "trades", "workers");
	CHECK(sl_state_group_add(&s, &g, err, sizeof(err)) == 0);
	memset(&g1, 0, sizeof(g1));
	g1.type = SL_CNC_GROUP_UPSERT;
	snprintf(g1.u.group.topic, sizeof(g1.u.group.topic), "trades");
	snprintf(g1.u.group.name, sizeof(g1.u.group.name), "workers");
	n = sl_state_group_cmds(&s, &g1, c, SL_MAX_PARTITIONS);
	CHECK_EQ(n, 4);
	CHECK(strcmp(c[2].u.group.topic, "trades#2") == 0 &&
	      strcmp(c[2].u.group.name, "workers") == 0 && c[2].type == SL_CNC_GROUP_UPSERT);
	snprintf(g1.u.group.topic, sizeof(g1.u.group.topic), "trades#4");
	CHECK(sl_state_group_cmds(&s, &g1, c, SL_MAX_PARTITIONS) == 1 &&
	      strcmp(c[0].u.group.topic, "trades#4") == 0);

	/* Saved as version 4 with "partitions", loaded back the same. */
	CHECK(sl_state_save(&s, dir, err, sizeof(err)) == 0);
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(same(&s, &b));
	CHECK(sl_state_topic_find(&b, "trades")->partitions == 4);
	CHECK(sl_state_topic_find(&b, "trades#4")->partitions == 0);
	sl_state_fini(&b);
	sl_state_fini(&s);
	/* Refused on load: a bad count, or an entry under a partition's name. */
	expect_corrupt("{\"version\":4,\"topics\":[{\"name\":\"a\",\"durability\":\"none\","
		       "\"partitions\":0}],\"users\":[],\"acls\":[]}", "partitions must be 1 to 64");
	expect_corrupt("{\"version\":4,\"topics\":[{\"name\":\"a\",\"durability\":\"none\","
		       "\"partitions\":2},{\"name\":\"a#1\",\"durability\":\"none\"}],"
		       "\"users\":[],\"acls\":[]}", "also a partition");
	/* A version 3 file: ordinary topics, as before. */
	write_file("state.json", "{\"version\":3,\"topics\":[{\"name\":\"a\",\"durability\":"
		   "\"none\"}],\"users\":[],\"acls\":[],\"groups\":[]}");
	sl_state_init(&b);
	CHECK(sl_state_load(&b, dir, err, sizeof(err)) == 0);
	CHECK(b.n_topics == 1 && b.topics[0].partitions == 0);
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
	test_keys_and_encryption();
	test_groups();
	test_partitions();
	rm_dir();
	rmdir(tmpl);
	return check_result("state");
}
