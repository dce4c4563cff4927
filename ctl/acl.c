/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl acl: grant, revoke and list permissions of users on topic patterns. */

#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* "pub,sub" -> "perms":["pub","sub"] in @a; usage error on anything else. */
static int
add_perms(const struct sl_ctl_verb *v, json_t *a, const char *perms)
{
	static const char *const known[] = { "pub", "sub", "admin", NULL };
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
	return sl_ctl_usage_err(v, "PERMS is a comma list of pub, sub and admin, not '%s'", perms);
}

static int
acl_change(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv, bool grant)
{
	const char *pos[3];
	struct sl_ctl_reply r;
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, NULL, pos, grant ? 3 : 2, 3);
	if (rc != 0)
		return rc;
	a = json_object();
	if (a == NULL)
		abort();
	rc = sl_ctl_arg_str(v, a, "user", pos[0]);
	if (rc == 0)
		rc = sl_ctl_arg_str(v, a, "pattern", pos[1]);
	if (rc == 0 && pos[2] != NULL)
		rc = add_perms(v, a, pos[2]);
	if (rc == 0)
		rc = sl_ctl_call(c, grant ? "acl.grant" : "acl.revoke", a, &r);
	json_decref(a);
	if (grant)
		return sl_ctl_finish_change(c, rc, &r, "granted %s on %s to %s", pos[2], pos[1],
					    pos[0]);
	return sl_ctl_finish_change(c, rc, &r, "revoked %s on %s from %s",
				    pos[2] != NULL ? pos[2] : "all permissions", pos[1], pos[0]);
}

static int
cmd_acl_grant(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return acl_change(c, v, argc, argv, true);
}

static int
cmd_acl_revoke(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return acl_change(c, v, argc, argv, false);
}

static void
print_acl_list(json_t *res)
{
	static const char *const hdr[] = { "USER", "PATTERN", "PERMS" };
	static const char *const keys[] = { "user", "pattern", "perms" };

	sl_ctl_print_objects(res, 3, hdr, keys);
}

static int
cmd_acl_list(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "acl.list", "user", 0, print_acl_list);
}

const struct sl_ctl_verb sl_ctl_acl_verbs[] = {
	{ "acl", "grant", "acl grant USER PATTERN PERMS",
	  "Grant PERMS, a comma list of pub, sub and admin, on topics matching PATTERN.\n"
	  "PATTERN: topic name whose '.'-separated tokens may be '*' (one token) or, last,\n"
	  "'>' (one or more tokens). Authorization is default-deny.\n", cmd_acl_grant },
	{ "acl", "revoke", "acl revoke USER PATTERN [PERMS]",
	  "Revoke PERMS (default: all) of USER on PATTERN.\n", cmd_acl_revoke },
	{ "acl", "list", "acl list [USER]", "List ACL entries, all or USER's.\n", cmd_acl_list },
	{ NULL, NULL, NULL, NULL, NULL },
};
