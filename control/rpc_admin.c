/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's access commands: users and their keys, ACL entries, the dataplane policy. */

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "rpc.h"

/* ---- users ---- */

/* A fresh random key into @key; 0, or -1 with @r answered. */
static int
new_key(struct sl_req *r, uint8_t key[SL_AUTH_KEY_LEN])
{
	if (getrandom(key, SL_AUTH_KEY_LEN, 0) != (ssize_t)SL_AUTH_KEY_LEN)
		return sl_req_fail(r, "internal", "cannot make a key: getrandom: %s",
				   strerror(errno));
	return 0;
}

/* "encryption": off, optional or required into @out (untouched when absent).
 * 1 when given, 0 when absent, -1 with @r answered. */
static int
arg_encryption(struct sl_req *r, uint8_t *out)
{
	const char *enc = NULL;

	if (sl_req_arg_str(r, "encryption", 0, &enc))
		return -1;
	if (enc == NULL)
		return 0;
	if (sl_state_encryption_parse(enc, out) < 0)
		return sl_req_fail(r, "invalid", "encryption '%.32s' is invalid: use off, optional "
				   "or required", enc);
	return 1;
}

/* The answer naming user @name's new key @key. */
static void
key_result(struct sl_req *r, const char *name, uint16_t uid, const uint8_t key[SL_AUTH_KEY_LEN])
{
	char hex[2 * SL_AUTH_KEY_LEN + 1];

	sl_auth_key_to_hex(key, hex);
	r->res = json_pack("{s:s, s:i, s:s}", "name", name, "uid", (int)uid, "key", hex);
	memset(hex, 0, sizeof(hex));
}

int
sl_rpc_user_add(struct sl_req *r)
{
	static const char *const ok[] = { "name", "admin", "encryption", NULL };
	uint8_t key[SL_AUTH_KEY_LEN], enc = SL_CNC_ENC_OPTIONAL;
	struct sl_state next;
	struct sl_cnc_cmd c;
	const char *name;
	uint16_t uid;
	int admin = 0, rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name) ||
	    sl_req_arg_bool(r, "admin", &admin) || arg_encryption(r, &enc) < 0 ||
	    new_key(r, key))
		return -1;
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_user_add(&next, name, admin, key, &uid, r->err, sizeof(r->err));
	if (rc < 0) {
		memset(key, 0, sizeof(key));
		return sl_req_draft_fail(r, &next, rc, r->err);
	}
	sl_state_user_find(&next, name)->encryption = enc;
	sl_sync_cmd_user(&c, sl_state_user_find(&next, name));
	rc = sl_req_commit(r, &next, &c, 1);
	memset(&c, 0, sizeof(c));
	if (rc == 0)
		key_result(r, name, uid, key);
	memset(key, 0, sizeof(key));
	return rc;
}

/* The user as user.list and user.update show it (never its keys). */
static json_t *
user_json(const struct sl_state_user *u)
{
	return json_pack("{s:s, s:i, s:b, s:s, s:i}", "name", u->name, "uid", (int)u->uid,
			 "admin", (int)u->admin, "encryption", sl_cnc_enc_name(u->encryption),
			 "keys", u->has_key2 ? 2 : 1);
}

/* Send user @name of @next (changed by the caller) to the dataplane. */
static int
user_commit(struct sl_req *r, struct sl_state *next, const char *name)
{
	struct sl_cnc_cmd c;
	int rc;

	sl_sync_cmd_user(&c, sl_state_user_find(next, name));
	rc = sl_req_commit(r, next, &c, 1);
	memset(&c, 0, sizeof(c)); /* keys */
	return rc;
}

/* End of a change of user @name in @next (@rc: the state's verdict): the
 * user as it is now is the answer. */
static int
user_changed(struct sl_req *r, struct sl_state *next, const char *name, int rc)
{
	if (rc < 0)
		return sl_req_draft_fail(r, next, rc, r->err);
	if (user_commit(r, next, name))
		return -1;
	r->res = user_json(sl_state_user_find(&r->ctl->state, name));
	return 0;
}

int
sl_rpc_user_update(struct sl_req *r)
{
	static const char *const ok[] = { "name", "admin", "encryption", NULL };
	uint8_t enc = SL_CNC_ENC_OPTIONAL;
	struct sl_state next;
	const char *name;
	unsigned fields = 0;
	int admin = 0, rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name) ||
	    sl_req_arg_bool(r, "admin", &admin) || (rc = arg_encryption(r, &enc)) < 0)
		return -1;
	if (rc > 0)
		fields |= SL_STATE_UF_ENCRYPTION;
	if (r->args != NULL && json_object_get(r->args, "admin") != NULL)
		fields |= SL_STATE_UF_ADMIN;
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_user_update(&next, name, fields, admin, enc, r->err, sizeof(r->err));
	return user_changed(r, &next, name, rc);
}

int
sl_rpc_user_key_add(struct sl_req *r)
{
	static const char *const ok[] = { "name", NULL };
	uint8_t key[SL_AUTH_KEY_LEN];
	struct sl_state next;
	const char *name;
	int rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name) || new_key(r, key))
		return -1;
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_user_key_add(&next, name, key, r->err, sizeof(r->err));
	if (rc < 0) {
		memset(key, 0, sizeof(key));
		return sl_req_draft_fail(r, &next, rc, r->err);
	}
	rc = user_commit(r, &next, name);
	if (rc == 0)
		key_result(r, name, sl_state_user_find(&r->ctl->state, name)->uid, key);
	memset(key, 0, sizeof(key));
	return rc;
}

int
sl_rpc_user_key_retire(struct sl_req *r)
{
	static const char *const ok[] = { "name", NULL };
	struct sl_state next;
	const char *name;
	int rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name))
		return -1;
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_user_key_retire(&next, name, r->err, sizeof(r->err));
	return user_changed(r, &next, name, rc);
}

int
sl_rpc_user_remove(struct sl_req *r)
{
	static const char *const ok[] = { "name", NULL };
	struct sl_state_user *u, gone;
	struct sl_state next;
	struct sl_cnc_cmd c[2];
	const char *name;
	int rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name))
		return -1;
	u = sl_state_user_find(&r->ctl->state, name);
	if (u == NULL)
		return sl_req_fail(r, "not_found", "no user '%.64s'", name);
	gone = *u;
	if (sl_req_draft(r, &next))
		return -1;
	rc = sl_state_user_remove(&next, name, r->err, sizeof(r->err));
	if (rc < 0)
		return sl_req_draft_fail(r, &next, rc, r->err);
	/* The user first: its subscribers are told SL_E_AUTH_FAILED (the user
	 * is gone), not SL_E_DENIED as they would be by its entries going
	 * first. The dataplane drops a deleted user's entries itself; the
	 * ACL_CLEAR after is for the record. */
	sl_sync_cmd_user_delete(&c[0], &gone);
	sl_sync_cmd_acl_clear(&c[1], gone.uid);
	memset(&gone, 0, sizeof(gone));
	if (sl_req_commit(r, &next, c, 2))
		return -1;
	return sl_req_ok_empty(r);
}

int
sl_rpc_user_list(struct sl_req *r)
{
	static const char *const ok[] = { NULL };
	size_t i;

	if (sl_req_args_only(r, ok))
		return -1;
	r->res = json_array();
	for (i = 0; i < r->ctl->state.n_users; i++)
		json_array_append_new(r->res, user_json(&r->ctl->state.users[i]));
	return 0;
}

/* ---- ACLs ---- */

static json_t *
acls_json(const struct sl_state *s, const char *user)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < s->n_acls; i++) {
		if (user != NULL && strcmp(s->acls[i].user, user) != 0)
			continue;
		json_array_append_new(a, sl_state_acl_to_json(&s->acls[i]));
	}
	return a;
}

enum acl_op { ACL_GRANT, ACL_REVOKE, ACL_SET };

/* The entry's new perms and group, by @op, in @next. */
static int
acl_apply(struct sl_req *r, struct sl_state *next, enum acl_op op, const char *user,
	  const char *pattern, uint16_t perms, const char *group)
{
	struct sl_state_acl *a;
	int rc;

	if (op == ACL_SET)
		return sl_state_acl_set(next, user, pattern, perms, group, r->err, sizeof(r->err));
	if (op == ACL_REVOKE)
		return sl_state_acl_revoke(next, user, pattern, perms, r->err, sizeof(r->err));
	rc = sl_state_acl_grant(next, user, pattern, perms, r->err, sizeof(r->err));
	if (rc < 0 || group == NULL)
		return rc;
	/* Grant with a group: the entry's consume right covers that group now. */
	a = sl_state_acl_find(next, user, pattern);
	return sl_state_acl_set(next, user, pattern, a->perms, group, r->err, sizeof(r->err));
}

/* Grant, revoke or set one entry: the dataplane gets that entry alone. */
static int
acl_change(struct sl_req *r, enum acl_op op)
{
	static const char *const ok[] = { "user", "pattern", "perms", "group", NULL };
	static const char *const ok_revoke[] = { "user", "pattern", "perms", NULL };
	const struct sl_state_user *u;
	const struct sl_state_acl *a;
	struct sl_cnc_cmd c;
	struct sl_state next;
	const char *user, *pattern, *group = NULL;
	uint16_t perms;
	int rc;

	if (sl_req_args_only(r, op == ACL_REVOKE ? ok_revoke : ok) ||
	    sl_req_arg_str(r, "user", 1, &user) || sl_req_arg_str(r, "pattern", 1, &pattern) ||
	    sl_req_arg_str(r, "group", 0, &group) ||
	    sl_req_arg_perms(r, op == ACL_REVOKE ? SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN |
					       SL_PERM_CONSUME : 0, &perms))
		return -1;
	if (op != ACL_REVOKE && perms == 0)
		return sl_req_fail(r, "invalid", "missing argument 'perms' (a list of pub, sub, "
				   "admin, consume)");
	if (group != NULL && group[0] != '\0' && !(perms & SL_PERM_CONSUME))
		return sl_req_fail(r, "invalid", "'group' names the group the consume right "
				   "covers: give consume in 'perms' too");
	if (sl_req_draft(r, &next))
		return -1;
	rc = acl_apply(r, &next, op, user, pattern, perms, group);
	if (rc < 0)
		return sl_req_draft_fail(r, &next, rc, r->err);
	/* Only the entry that changed, set to the perms it has now (0: gone):
	 * the user's other entries stay in force throughout. */
	u = sl_state_user_find(&next, user);
	a = sl_state_acl_find(&next, user, pattern);
	sl_sync_cmd_acl_set(&c, u->uid, pattern, a != NULL ? a->perms : 0,
			    a != NULL ? a->group : NULL);
	if (sl_req_commit(r, &next, &c, 1))
		return -1;
	if (op == ACL_REVOKE)
		return sl_req_ok_empty(r);
	r->res = acls_json(&r->ctl->state, user);
	return 0;
}

int
sl_rpc_acl_grant(struct sl_req *r)
{
	return acl_change(r, ACL_GRANT);
}

int
sl_rpc_acl_revoke(struct sl_req *r)
{
	return acl_change(r, ACL_REVOKE);
}

int
sl_rpc_acl_set(struct sl_req *r)
{
	return acl_change(r, ACL_SET);
}

int
sl_rpc_acl_list(struct sl_req *r)
{
	static const char *const ok[] = { "user", NULL };
	const char *user = NULL;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "user", 0, &user))
		return -1;
	if (user != NULL && sl_state_user_find(&r->ctl->state, user) == NULL)
		return sl_req_fail(r, "not_found", "no user '%.64s'", user);
	r->res = acls_json(&r->ctl->state, user);
	return 0;
}

/* ---- policy ---- */

int
sl_rpc_policy_set(struct sl_req *r)
{
	static const char *const ok[] = { "auth", "idle", "rate_limit", NULL };
	const char *auth = NULL, *idle = NULL;
	uint64_t rate = 0;
	int have_rate;
	struct sl_cnc_cmd c[3];
	struct sl_state next;
	size_t n = 0;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "auth", 0, &auth) ||
	    sl_req_arg_str(r, "idle", 0, &idle) ||
	    sl_req_arg_u64(r, "rate_limit", &rate))
		return -1;
	have_rate = sl_jget_u64(r->args, "rate_limit", &rate) == 0;
	if (auth == NULL && idle == NULL && !have_rate)
		return sl_req_fail(r, "invalid", "give 'auth' (open or required), 'idle' (busy or "
				   "backoff) and/or 'rate_limit' (publishes per second per session, "
				   "0 = unlimited)");
	if (auth != NULL && strcmp(auth, "open") != 0 && strcmp(auth, "required") != 0)
		return sl_req_fail(r, "invalid", "auth '%.32s' is invalid: use open or required",
				   auth);
	if (idle != NULL && strcmp(idle, "busy") != 0 && strcmp(idle, "backoff") != 0)
		return sl_req_fail(r, "invalid", "idle '%.32s' is invalid: use busy or backoff",
				   idle);
	if (have_rate && rate > SL_STATE_MAX_RATE)
		return sl_req_fail(r, "invalid", "rate_limit %llu is invalid: use 0..%u publishes per "
				   "second per session (0 = unlimited)", (unsigned long long)rate,
				   SL_STATE_MAX_RATE);
	if (sl_req_draft(r, &next))
		return -1;
	/* What the operator names here is set from now on: resyncs resend it. */
	if (auth != NULL) {
		next.policy.auth_required = strcmp(auth, "required") == 0;
		next.policy.set |= SL_STATE_POLICY_F_AUTH;
		sl_sync_cmd_value(&c[n++], SL_CNC_AUTH_MODE, next.policy.auth_required);
	}
	if (idle != NULL) {
		next.policy.idle_backoff = strcmp(idle, "backoff") == 0;
		next.policy.set |= SL_STATE_POLICY_F_IDLE;
		sl_sync_cmd_value(&c[n++], SL_CNC_SET_IDLE, next.policy.idle_backoff);
	}
	if (have_rate) {
		next.policy.rate_limit = (uint32_t)rate;
		next.policy.set |= SL_STATE_POLICY_F_RATE;
		sl_sync_cmd_value(&c[n++], SL_CNC_SET_RATE, next.policy.rate_limit);
	}
	if (sl_req_commit(r, &next, c, n))
		return -1;
	r->res = sl_state_policy_to_json(&r->ctl->state.policy);
	return 0;
}

int
sl_rpc_policy_show(struct sl_req *r)
{
	static const char *const ok[] = { NULL };

	if (sl_req_args_only(r, ok))
		return -1;
	r->res = sl_state_policy_to_json(&r->ctl->state.policy);
	return 0;
}

