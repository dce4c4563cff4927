/* SPDX-License-Identifier: BSD-3-Clause */
/* Authorization commands for tests, as sluice-control sends them: users and ACL entries, applied to a builder. */

#ifndef SLUICE_TESTS_AUTHZ_CMD_H
#define SLUICE_TESTS_AUTHZ_CMD_H

#include <stdio.h>
#include <string.h>

#include "authz.h"

/* SL_CNC_USER_UPSERT of user @uid named @name, every key byte @key; with
 * @key2 >= 0 a second key (SL_USER_F_KEY2), every byte @key2. */
static inline struct sl_cnc_cmd
cmd_user(uint16_t uid, const char *name, uint8_t key, int key2)
{
	struct sl_cnc_cmd c = { .type = SL_CNC_USER_UPSERT };

	c.u.user.uid = uid;
	snprintf(c.u.user.name, sizeof(c.u.user.name), "%s", name);
	memset(c.u.user.key, key, sizeof(c.u.user.key));
	if (key2 >= 0) {
		c.u.user.flags = SL_USER_F_KEY2;
		memset(c.u.user.key2, key2, sizeof(c.u.user.key2));
	}
	return c;
}

/* SL_CNC_ACL_SET: user @uid gets @perms (SL_PERM_*) on @pattern. */
static inline struct sl_cnc_cmd
cmd_acl(uint16_t uid, const char *pattern, uint16_t perms)
{
	struct sl_cnc_cmd c = { .type = SL_CNC_ACL_SET };

	c.u.acl.uid = uid;
	c.u.acl.perms = perms;
	snprintf(c.u.acl.pattern, sizeof(c.u.acl.pattern), "%s", pattern);
	return c;
}

/* @c applied to @b: what sl_authz_builder_apply returns. */
static inline int
cmd_apply(struct sl_authz_builder *b, struct sl_cnc_cmd c)
{
	char msg[128];

	return sl_authz_builder_apply(b, &c, msg, sizeof(msg));
}

#endif /* SLUICE_TESTS_AUTHZ_CMD_H */
