/* SPDX-License-Identifier: BSD-3-Clause */
/* Authorization tests: wildcard patterns, the command builder, permission tables. */

#include <errno.h>
#include <string.h>

#include "authz.h"
#include "authz_cmd.h"
#include "check.h"

static int
m(const char *pattern, const char *name)
{
	return sl_proto_pattern_match(pattern, name, strlen(name));
}

static void
test_patterns(void)
{
	CHECK(m("a.b", "a.b") && !m("a.b", "a.c") && !m("a.b", "a.b.c") && !m("a.b", "a"));
	CHECK(m("a.*", "a.b") && !m("a.*", "a.b.c") && !m("a.*", "a") && !m("a.*", "b.c"));
	CHECK(m("*.b", "x.b") && !m("*.b", "x.y.b") && m("*", "abc") && !m("*", "a.b"));
	CHECK(m("a.>", "a.b") && m("a.>", "a.b.c.d") && !m("a.>", "a") && !m("a.>", "b.c"));
	CHECK(m(">", "a") && m(">", "a.b.c"));
	CHECK(m("a.*.c", "a.x.c") && !m("a.*.c", "a.x.d") && m("*.*.>", "a.b.c.d"));
	CHECK(!m("ab", "a") && !m("a", "ab") && !m("orders", "orders.eu"));
	CHECK(sl_proto_pattern_valid("a.b") && sl_proto_pattern_valid("a.*.c") && sl_proto_pattern_valid("a.>"));
	CHECK(sl_proto_pattern_valid(">") && sl_proto_pattern_valid("*"));
	CHECK(!sl_proto_pattern_valid("") && !sl_proto_pattern_valid("a..b") && !sl_proto_pattern_valid("a.>.b"));
	CHECK(!sl_proto_pattern_valid("a*") && !sl_proto_pattern_valid("a.b>") && !sl_proto_pattern_valid(".a"));
	CHECK(!sl_proto_pattern_valid("a b") && !sl_proto_pattern_valid("a."));
}

static void
test_tables(void)
{
	struct sl_authz_builder b;
	struct sl_route r;
	struct sl_authz *a;
	uint32_t t_eu, t_us, t_x;
	uint16_t epoch;

	CHECK(sl_route_init(&r, 16, 4, 1) == 0);
	CHECK(sl_route_topic_create(&r, "orders.eu", 9, &t_eu) == 1);
	CHECK(sl_route_topic_create(&r, "orders.us", 9, &t_us) == 1);
	sl_authz_builder_init(&b, 1);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_user(2, "bob", 2, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_user(0, "zero", 2, -1)) == -EINVAL);
	CHECK(cmd_apply(&b, cmd_user(3, "bad name", 2, -1)) == -EINVAL);
	CHECK(cmd_apply(&b, cmd_acl(1, "orders.*", SL_PERM_PUB | SL_PERM_SUB)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(2, "orders.eu", SL_PERM_SUB)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(9, "orders.eu", SL_PERM_SUB)) == -ENOENT);
	CHECK(cmd_apply(&b, cmd_acl(2, "a..b", SL_PERM_SUB)) == -EINVAL);
	a = sl_authz_build(&b, &r);
	CHECK(a != NULL);
	CHECK(sl_authz_user_find(a, "alice") == 1 && sl_authz_user_find(a, "carol") == 0);
	CHECK(sl_authz_perms(a, 1, sl_route_topic_get(&r, t_eu)) == (SL_PERM_PUB | SL_PERM_SUB));
	CHECK(sl_authz_perms(a, 2, sl_route_topic_get(&r, t_eu)) == SL_PERM_SUB);
	CHECK(sl_authz_perms(a, 2, sl_route_topic_get(&r, t_us)) == 0); /* default deny */
	CHECK(sl_authz_perms(a, 0, sl_route_topic_get(&r, t_eu)) == 0); /* anonymous */
	/* A topic newer than the table: answered by scanning the ACL. */
	CHECK(sl_route_topic_create(&r, "orders.x", 8, &t_x) == 1);
	CHECK(sl_authz_perms(a, 1, sl_route_topic_get(&r, t_x)) == (SL_PERM_PUB | SL_PERM_SUB));
	CHECK(sl_authz_perms_by_name(a, 1, "other", 5) == 0);
	sl_authz_free(a);

	/* Revoke by setting no permissions; remove a user: its ACL goes too. */
	CHECK(cmd_apply(&b, cmd_acl(2, "orders.eu", 0)) == 0);
	epoch = b.users[1].epoch;
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_USER_DELETE, .u.user.uid = 1 }) == 0);
	CHECK(b.users[1].epoch != epoch && !b.users[1].active);
	a = sl_authz_build(&b, &r);
	CHECK(sl_authz_perms(a, 2, sl_route_topic_get(&r, t_eu)) == 0);
	CHECK(sl_authz_perms(a, 1, sl_route_topic_get(&r, t_eu)) == 0);
	CHECK(a->n_acl == 0);
	sl_authz_free(a);

	/* Open mode: everything for everyone. */
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_AUTH_MODE, .u.value = 0 }) == 0);
	a = sl_authz_build(&b, &r);
	CHECK(sl_authz_perms(a, 0, sl_route_topic_get(&r, t_us)) ==
	      (SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN));
	sl_authz_free(a);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_AUTH_MODE, .u.value = 7 }) == -EINVAL);
	sl_authz_builder_fini(&b);
	sl_route_fini(&r);
}

/* A resync drops exactly what was not resent; a re-key bumps the epoch. */
static void
test_sync(void)
{
	struct sl_authz_builder b;
	uint16_t e2;

	sl_authz_builder_init(&b, 1);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_user(2, "bob", 2, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(1, "a.>", SL_PERM_PUB)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(2, "b.>", SL_PERM_PUB)) == 0);
	e2 = b.users[2].epoch;
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_SYNC_END, .u.generation = 5 }) == -EINVAL);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_SYNC_BEGIN, .u.generation = 5 }) == 0);
	CHECK(cmd_apply(&b, cmd_user(2, "bob", 3, -1)) == 0); /* re-keyed */
	CHECK(cmd_apply(&b, cmd_acl(2, "b.>", SL_PERM_PUB)) == 0);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_SYNC_END, .u.generation = 5 }) == 0);
	CHECK(!b.users[1].active && b.users[2].active && b.users[2].epoch != e2);
	CHECK(b.n_acl == 1 && b.acl[0].uid == 2);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_TOPIC_UPSERT }) == -ENOTSUP);
	sl_authz_builder_fini(&b);
}

static struct sl_cnc_cmd
gen_cmd(uint32_t type, uint64_t gen)
{
	return (struct sl_cnc_cmd){ .type = type, .u.generation = gen };
}

/* Permissions of @uid on @topic in a table built from @b now, as the
 * dataplane would publish it. */
static uint8_t
perms_now(const struct sl_authz_builder *b, const struct sl_route *r, uint16_t uid,
	  uint32_t topic)
{
	struct sl_authz *a = sl_authz_build(b, r);
	uint8_t p;

	CHECK(a != NULL);
	if (a == NULL)
		return 0;
	p = sl_authz_perms(a, uid, sl_route_topic_get(r, topic));
	sl_authz_free(a);
	return p;
}

/*
 * A resync is staged: until its SYNC_END the table built from the builder
 * is the old one (an ACL_CLEAR inside it denies nobody, a user deleted
 * inside it keeps working), an open AUTH_MODE inside it is refused, and a
 * resync that never ends changes nothing; the next one starts from the
 * old state, not from the half-done one.
 */
static void
test_staged(void)
{
	struct sl_authz_builder b;
	struct sl_route r;
	uint32_t ta, tb;

	CHECK(sl_route_init(&r, 16, 4, 1) == 0);
	CHECK(sl_route_topic_create(&r, "a.x", 3, &ta) == 1);
	CHECK(sl_route_topic_create(&r, "b.x", 3, &tb) == 1);
	sl_authz_builder_init(&b, 1);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_user(2, "bob", 2, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(1, "a.>", SL_PERM_PUB)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(2, "b.>", SL_PERM_PUB)) == 0);

	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_BEGIN, 7)) == 0);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_ACL_CLEAR, .u.acl.uid = 1 }) == 0);
	CHECK(perms_now(&b, &r, 1, ta) == SL_PERM_PUB); /* the old table holds */
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_AUTH_MODE, .u.value = 0 }) == -EPERM);
	CHECK(b.required == 1 && perms_now(&b, &r, 0, ta) == 0);
	CHECK(cmd_apply(&b, cmd_acl(1, "a.>", SL_PERM_PUB | SL_PERM_SUB)) == 0);
	CHECK(perms_now(&b, &r, 1, ta) == SL_PERM_PUB);
	CHECK(perms_now(&b, &r, 2, tb) == SL_PERM_PUB); /* bob: not resent, not gone yet */
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_END, 7)) == 0);
	/* At SYNC_END, at once: alice's new entry, bob swept. */
	CHECK(perms_now(&b, &r, 1, ta) == (SL_PERM_PUB | SL_PERM_SUB));
	CHECK(perms_now(&b, &r, 2, tb) == 0 && !b.users[2].active);
	CHECK(b.required == 1);

	/* A resync whose control died before SYNC_END: nothing changes. */
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_BEGIN, 8)) == 0);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_USER_DELETE, .u.user.uid = 1 }) == 0);
	CHECK(cmd_apply(&b, cmd_user(3, "carol", 3, -1)) == 0);
	CHECK(perms_now(&b, &r, 1, ta) == (SL_PERM_PUB | SL_PERM_SUB));
	/* The next control's resync starts from the state in force. */
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_BEGIN, 9)) == 0);
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_END, 8)) == -EINVAL);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(1, "a.>", SL_PERM_PUB)) == 0);
	CHECK(perms_now(&b, &r, 1, ta) == (SL_PERM_PUB | SL_PERM_SUB));
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_END, 9)) == 0);
	CHECK(perms_now(&b, &r, 1, ta) == SL_PERM_PUB);
	CHECK(b.users[1].active && !b.users[3].active && b.n_acl == 1);

	/* Outside a resync commands apply at once, auth open included: that is
	 * the operator's explicit command. */
	CHECK(cmd_apply(&b, cmd_acl(1, "b.>", SL_PERM_SUB)) == 0);
	CHECK(perms_now(&b, &r, 1, tb) == SL_PERM_SUB);
	/* No permissions on a pattern without an entry: still no entry. */
	CHECK(cmd_apply(&b, cmd_acl(1, "none.>", 0)) == 0 && b.n_acl == 2);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_AUTH_MODE, .u.value = 0 }) == 0);
	CHECK(b.required == 0 && perms_now(&b, &r, 0, ta) != 0);
	/* Torn down with a resync still staged: freed (the sanitizer build checks). */
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_BEGIN, 10)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(1, "c.>", SL_PERM_SUB)) == 0);
	sl_authz_builder_fini(&b);
	sl_route_fini(&r);
}

/* What resyncs did, counted; the builder says when it is staging. */
static void
test_sync_stats(void)
{
	struct sl_authz_builder b;

	sl_authz_builder_init(&b, 1);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_user(2, "bob", 2, -1)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(2, "b.>", SL_PERM_PUB)) == 0);
	CHECK(cmd_apply(&b, cmd_acl(2, "c.>", SL_PERM_PUB)) == 0);
	CHECK(!sl_authz_builder_staging(&b));
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_BEGIN, 1)) == 0);
	CHECK(sl_authz_builder_staging(&b));
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_BEGIN, 2)) == 0);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_AUTH_MODE, .u.value = 0 }) == -EPERM);
	CHECK(cmd_apply(&b, gen_cmd(SL_CNC_SYNC_END, 2)) == 0);
	CHECK(!sl_authz_builder_staging(&b));
	CHECK(b.stats.syncs_begun == 2 && b.stats.syncs_abandoned == 1 &&
	      b.stats.syncs_completed == 1);
	CHECK(b.stats.sync_users_swept == 1 && b.stats.sync_acls_swept == 2);
	CHECK(b.stats.sync_auth_kept == 1);
	sl_authz_builder_fini(&b);
}

/* A user rolling its key over: the sessions of a key still held go on
 * (its serial stays), those of a key gone end; a new owner of the uid
 * never matches an old session. */
static void
test_key_rollover(void)
{
	struct sl_authz_builder b;
	struct sl_cnc_cmd c;
	uint16_t s_old, s_new;

	sl_authz_builder_init(&b, 1);
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 1, -1)) == 0);
	s_old = b.users[1].epoch;
	CHECK(sl_authz_user_holds(&b.users[1], s_old) && !b.users[1].has_key2);
	/* key-add: the new key first, the old one second, with its serial. */
	c = cmd_user(1, "alice", 2, -1);
	c.u.user.flags = SL_USER_F_KEY2;
	memset(c.u.user.key2, 1, sizeof(c.u.user.key2));
	c.u.user.encryption = SL_CNC_ENC_REQUIRED;
	CHECK(cmd_apply(&b, c) == 0);
	s_new = b.users[1].epoch;
	CHECK(b.users[1].has_key2 && b.users[1].epoch2 == s_old && s_new != s_old);
	CHECK(b.users[1].key2[0] == 1 && b.users[1].key[0] == 2);
	CHECK(b.users[1].encryption == SL_CNC_ENC_REQUIRED);
	CHECK(sl_authz_user_holds(&b.users[1], s_old) && sl_authz_user_holds(&b.users[1], s_new));
	/* The same command again changes nothing. */
	CHECK(cmd_apply(&b, c) == 0);
	CHECK(b.users[1].epoch == s_new && b.users[1].epoch2 == s_old);
	/* key-retire: the older key's sessions end, the newer's go on. */
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 2, -1)) == 0);
	CHECK(!b.users[1].has_key2 && b.users[1].epoch == s_new);
	CHECK(!sl_authz_user_holds(&b.users[1], s_old) && sl_authz_user_holds(&b.users[1], s_new));
	/* Both keys replaced: every session ends. */
	CHECK(cmd_apply(&b, cmd_user(1, "alice", 9, -1)) == 0);
	CHECK(!sl_authz_user_holds(&b.users[1], s_new) && b.users[1].epoch != s_old);
	/* Another user given the uid, even with the same key: no old session holds. */
	s_new = b.users[1].epoch;
	CHECK(cmd_apply(&b, cmd_user(1, "mallory", 9, -1)) == 0);
	CHECK(!sl_authz_user_holds(&b.users[1], s_new));
	/* Removed: nothing holds. */
	s_new = b.users[1].epoch;
	CHECK(cmd_apply(&b, (struct sl_cnc_cmd){ .type = SL_CNC_USER_DELETE, .u.user.uid = 1 }) == 0);
	CHECK(!sl_authz_user_holds(&b.users[1], s_new) && !sl_authz_user_holds(&b.users[1], 0));
	c = cmd_user(2, "bob", 1, -1);
	c.u.user.encryption = 3;
	CHECK(cmd_apply(&b, c) == -EINVAL);
	sl_authz_builder_fini(&b);
}

int
main(void)
{
	test_key_rollover();
	test_patterns();
	test_tables();
	test_sync();
	test_staged();
	test_sync_stats();
	return check_result("test_authz");
}
