/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl acl: grant, set, revoke and list permissions of users on topic patterns. */

#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* "pub,sub" -> "perms":["pub","sub"] in @a; usage error on anything else. */
static int
add_perms(const struct sl_ctl_verb *v, json_t *a, const char *perms)
{
	static const char *const known[] = { "pub", "sub", "admin", "consume", NULL };
	json_t *list = json_array();
	const char *p = perms;
	char tok[16];

	if (list == NULL || json_object_set_new(a, "perms", list) < 0)
		abort();
	for (;;) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(tok))
			goto bad;
		memcpy(tok, p, n);
		tok[n] = '\0';
		if (!sl_ctl_one_of(tok, known))
			goto bad;
		if (json_array_append_new(list, json_string(tok)) < 0)
			abort();
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	return 0;
bad:
	return sl_ctl_usage_err(v, "PERMS is a comma list of pub, sub, admin and consume, not "
				"'%s'", perms);
}

/* Whether the comma list @perms names consume. */
static bool
has_consume(const char *perms)
{
	size_t n = strlen("consume");

	for (const char *p = perms; p != NULL; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (strncmp(p, "consume", n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

enum acl_op { ACL_GRANT, ACL_REVOKE, ACL_SET };

static int
acl_change(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv, enum acl_op op)
{
	static const char *const cmds[] = { "acl.grant", "acl.revoke", "acl.set" };
	const char *pos[3], *group = NULL;
	const struct sl_ctl_opt opts[] = { { "group", &group, NULL }, { NULL, NULL, NULL } };
	struct sl_ctl_reply r;
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, op == ACL_REVOKE ? NULL : opts, pos,
			       op == ACL_REVOKE ? 2 : 3, 3);
	if (rc != 0)
		return rc;
	if (group != NULL && !has_consume(pos[2]))
		return sl_ctl_usage_err(v, "--group names the group the consume right covers: "
					"give consume in PERMS too");
	a = json_object();
	if (a == NULL)
		abort();
	rc = sl_ctl_arg_str(v, a, "user", pos[0]);
	if (rc == 0)
		rc = sl_ctl_arg_str(v, a, "pattern", pos[1]);
	if (rc == 0 && pos[2] != NULL)
		rc = add_perms(v, a, pos[2]);
	if (rc == 0 && group != NULL)
		rc = sl_ctl_arg_str(v, a, "group", group);
	if (rc == 0)
		rc = sl_ctl_call(c, cmds[op], a, &r);
	json_decref(a);
	if (op == ACL_GRANT)
		return sl_ctl_finish_change(c, rc, &r, "granted %s on %s to %s%s%s", pos[2],
					    pos[1], pos[0], group ? ", group " : "",
					    group ? group : "");
	if (op == ACL_SET)
		return sl_ctl_finish_change(c, rc, &r, "set %s on %s for %s%s%s", pos[2], pos[1],
					    pos[0], group ? ", group " : "", group ? group : "");
	return sl_ctl_finish_change(c, rc, &r, "revoked %s on %s from %s",
				    pos[2] != NULL ? pos[2] : "all permissions", pos[1], pos[0]);
}

static int
cmd_acl_grant(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return acl_change(c, v, argc, argv, ACL_GRANT);
}

static int
cmd_acl_set(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return acl_change(c, v, argc, argv, ACL_SET);
}

static int
cmd_acl_revoke(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return acl_change(c, v, argc, argv, ACL_REVOKE);
}

static void
print_acl_list(json_t *res)
{
	static const char *const hdr[] = { "USER", "PATTERN", "PERMS", "GROUP" };
	static const char *const keys[] = { "user", "pattern", "perms", "group" };

	sl_ctl_print_objects(res, 4, hdr, keys);
}

static int
cmd_acl_list(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "acl.list", "user", 0, print_acl_list);
}

const struct sl_ctl_verb sl_ctl_acl_verbs[] = {
	{ "acl", "grant", "acl grant USER PATTERN PERMS [--group NAME]",
	  "Grant PERMS, a comma list of pub, sub, admin and consume, on topics matching\n"
	  "PATTERN, adding to what the entry holds. PATTERN: topic name whose '.'-separated\n"
	  "tokens may be '*' (one token) or, last, '>' (one or more tokens).\n"
	  "consume: may join the topics' consumer groups; --group NAME limits it to the\n"
	  "group NAME (default: the entry's group as it was; a new entry: every group).\n"
	  "Authorization is default-deny.\n", cmd_acl_grant },
	{ "acl", "set", "acl set USER PATTERN PERMS [--group NAME]",
	  "Set USER's entry for PATTERN to exactly PERMS (a comma list of pub, sub, admin\n"
	  "and consume), created if needed. --group NAME: the consume right covers only\n"
	  "group NAME of the matching topics (default: every group). Sessions already\n"
	  "open are held to the new entry at once (a member that lost consume is cut off).\n",
	  cmd_acl_set },
	{ "acl", "revoke", "acl revoke USER PATTERN [PERMS]",
	  "Revoke PERMS (default: all) of USER on PATTERN.\n", cmd_acl_revoke },
	{ "acl", "list", "acl list [USER]",
	  "List ACL entries, all or USER's. GROUP: the one group the consume right covers\n"
	  "('-': every group).\n", cmd_acl_list },
	{ NULL, NULL, NULL, NULL, NULL },
};
