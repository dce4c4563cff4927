/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's command table, and what every command shares: arguments, errors, commits. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rpc.h"

static const struct {
	const char *name;
	sl_rpc_fn fn;
} commands[] = {
	{ "topic.create", sl_rpc_topic_create }, { "topic.delete", sl_rpc_topic_delete },
	{ "topic.update", sl_rpc_topic_update }, { "topic.list", sl_rpc_topic_list },
	{ "topic.show", sl_rpc_topic_show },	 { "topic.move", sl_rpc_topic_move },
	{ "topic.placement", sl_rpc_topic_placement },	 { "user.add", sl_rpc_user_add },
	{ "user.remove", sl_rpc_user_remove },	 { "user.list", sl_rpc_user_list },
	{ "acl.grant", sl_rpc_acl_grant },	 { "acl.revoke", sl_rpc_acl_revoke },
	{ "acl.list", sl_rpc_acl_list },	 { "policy.set", sl_rpc_policy_set },
	{ "policy.show", sl_rpc_policy_show },	 { "stats", sl_rpc_stats },
	{ "dataplane.status", sl_rpc_dataplane_status },
	{ "user.update", sl_rpc_user_update },	 { "user.key_add", sl_rpc_user_key_add },
	{ "user.key_retire", sl_rpc_user_key_retire },
	{ "acl.set", sl_rpc_acl_set },		 { "group.create", sl_rpc_group_create },
	{ "group.list", sl_rpc_group_list },	 { "group.show", sl_rpc_group_show },
	{ "group.delete", sl_rpc_group_delete }, { "group.reset", sl_rpc_group_reset },
	{ "group.update", sl_rpc_group_update },
	{ "ha.status", sl_rpc_ha_status },	 { "ha.promote", sl_rpc_ha_promote },
};

sl_rpc_fn
sl_rpc_find(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].fn;
	return NULL;
}

/* ---- errors and arguments ---- */

int
sl_req_fail(struct sl_req *r, const char *code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
code_of(int rc)
{
	switch (rc) {
	case -EINVAL:
	case -ENOSPC:
		return "invalid";
	case -EEXIST:
		return "exists";
	case -ENOENT:
		return "not_found";
	default:
		return "internal";
	}
}

int
sl_req_args_only(struct sl_req *r, const char *const *allowed)
{
	const char *key;
	const json_t *v;
	size_t i;

	if (r->args == NULL)
		return 0;
	json_object_foreach((json_t *)r->args, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return sl_req_fail(r, "invalid", "unknown argument '%.64s'", key);
	}
	return 0;
}

int
sl_req_arg_str(struct sl_req *r, const char *key, int required, const char **out)
{
	int rc = sl_jget_str(r->args, key, out);

	if (rc == -ENOENT && !required)
		return 0;
	if (rc == -ENOENT)
		return sl_req_fail(r, "invalid", "missing argument '%s'", key);
	if (rc < 0)
		return sl_req_fail(r, "invalid", "argument '%s' must be a string", key);
	return 0;
}

int
sl_req_arg_u64(struct sl_req *r, const char *key, uint64_t *out)
{
	if (sl_jget_u64(r->args, key, out) == -EINVAL)
		return sl_req_fail(r, "invalid", "argument '%s' must be an integer >= 0", key);
	return 0;
}

int
sl_req_arg_bool(struct sl_req *r, const char *key, int *out)
{
	if (sl_jget_bool(r->args, key, out) == -EINVAL)
		return sl_req_fail(r, "invalid", "argument '%s' must be true or false", key);
	return 0;
}

int
sl_req_arg_perms(struct sl_req *r, uint16_t dflt, uint16_t *out)
{
	const json_t *a = r->args ? json_object_get(r->args, "perms") : NULL, *p;
	size_t i;
	int bit;

	*out = dflt;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return sl_req_fail(r, "invalid", "'perms' must be a non-empty list of pub, sub, "
				   "admin, consume");
	*out = 0;
	json_array_foreach(a, i, p) {
		if (!json_is_string(p) || (bit = sl_state_perm_parse(json_string_value(p))) < 0)
			return sl_req_fail(r, "invalid", "unknown permission in 'perms': use pub, "
					   "sub, admin, consume");
		*out |= (uint16_t)bit;
	}
	return 0;
}

int
sl_req_ok_empty(struct sl_req *r)
{
	r->res = json_object();
	return 0;
}

/* ---- changing the state ---- */

int
sl_req_draft(struct sl_req *r, struct sl_state *next)
{
	if (sl_state_copy(next, &r->ctl->state) < 0)
		return sl_req_fail(r, "internal", "out of memory");
	return 0;
}

int
sl_req_draft_fail(struct sl_req *r, struct sl_state *next, int rc, const char *msg)
{
	char copy[sizeof(r->err)];

	snprintf(copy, sizeof(copy), "%s", msg);
	sl_state_fini(next);
	return sl_req_fail(r, code_of(rc), "%s", copy);
}

int
sl_req_commit(struct sl_req *r, struct sl_state *next, const struct sl_cnc_cmd *cmds, size_t n)
{
	char err[384];
	int64_t t;

	if (sl_state_save(next, r->ctl->state_dir, err, sizeof(err)) < 0) {
		sl_state_fini(next);
		sl_ctl_log(r->ctl, 1, "%s", err);
		return sl_req_fail(r, "internal", "%s; nothing changed", err);
	}
	sl_state_fini(&r->ctl->state);
	r->ctl->state = *next;
	t = sl_sync_submit(r->ctl->sync, cmds, n, sl_ctl_now_ns());
	if (t < 0) {
		/* Stored; a resync carries it. */
		sl_sync_request_resync(r->ctl->sync);
		return sl_req_fail(r, "dataplane", "stored, but the command queue to the dataplane "
				   "is full (%s); it will be sent with the next resync",
				   strerror((int)-t));
	}
	r->ticket = t;
	return 0;
}
