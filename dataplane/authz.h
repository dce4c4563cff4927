/* SPDX-License-Identifier: BSD-3-Clause */
/* Users and ACLs as the dataplane enforces them: immutable tables, swapped whole. */

#ifndef SLUICE_DP_AUTHZ_H
#define SLUICE_DP_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/cnc.h>

#include "route.h"

/*
 * The main lcore keeps a mutable builder (fed by control commands) and
 * publishes immutable struct sl_authz tables built from it; workers only
 * read the table they loaded for the current frame. A table is freed once
 * every worker has passed a quiescent point after its replacement.
 *
 * uid 0 is the anonymous user of sessions opened without authentication
 * (allowed only in open mode, where everything is permitted).
 */

#define SL_AUTHZ_COMPUTED 0x80 /* perm byte holds a computed answer */

struct sl_authz_user {
	uint8_t active;
	uint8_t admin;
	uint16_t epoch;	/* changes when the user is removed or re-keyed */
	char name[32];
	uint8_t key[32];
};

struct sl_authz {
	uint32_t required;   /* authentication required */
	uint32_t max_topics;
	uint32_t n_acl;
	uint32_t reserved;
	struct sl_authz_user users[SL_CNC_MAX_USERS];
	struct sl_cnc_acl *acl;	/* n_acl entries */
	uint8_t *perm;		/* [max_topics][SL_CNC_MAX_USERS]: SL_AUTHZ_COMPUTED | SL_PERM_* */
};

struct sl_authz_builder {
	uint32_t required;
	uint64_t sync_gen;		  /* nonzero while a resync is in progress */
	uint64_t user_gen[SL_CNC_MAX_USERS]; /* generation that last set the user */
	struct sl_authz_user users[SL_CNC_MAX_USERS];
	uint32_t n_acl, cap_acl;
	struct sl_cnc_acl *acl;
	uint64_t *acl_gen;
};

void sl_authz_builder_init(struct sl_authz_builder *b, uint32_t required);
void sl_authz_builder_fini(struct sl_authz_builder *b);

/*
 * Apply one control command to the builder (USER_UPSERT, USER_DELETE,
 * ACL_SET, ACL_CLEAR, AUTH_MODE, SYNC_BEGIN, SYNC_END; others are not
 * this module's and return -ENOTSUP). Returns 0 or -errno with a reason in
 * @msg.
 */
int sl_authz_builder_apply(struct sl_authz_builder *b, const struct sl_cnc_cmd *c, char *msg,
			   size_t msglen);

/* A new immutable table from @b with permissions computed for every active
 * topic of @r. Returns NULL on allocation failure. */
struct sl_authz *sl_authz_build(const struct sl_authz_builder *b, const struct sl_route *r);
void sl_authz_free(struct sl_authz *a);

/* Permissions of @uid on a topic named @name, from the ACL (slow: scans). */
uint8_t sl_authz_perms_by_name(const struct sl_authz *a, uint16_t uid, const char *name,
			       size_t len);

/* Permissions of @uid on topic @t: the precomputed byte, or a scan for a
 * topic newer than the table. Open mode and uid 0 in open mode: all. */
static inline uint8_t
sl_authz_perms(const struct sl_authz *a, uint16_t uid, const struct sl_topic *t)
{
	uint8_t p;

	if (!a->required)
		return SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN;
	if (uid == 0)
		return 0;
	p = t->id < a->max_topics ? a->perm[(size_t)t->id * SL_CNC_MAX_USERS + uid] : 0;
	if (p & SL_AUTHZ_COMPUTED)
		return p & ~SL_AUTHZ_COMPUTED;
	return sl_authz_perms_by_name(a, uid, t->name, t->name_len);
}

/* uid of an active user called @name (NUL padded to 32), or 0. */
uint16_t sl_authz_user_find(const struct sl_authz *a, const char *name);

#endif /* SLUICE_DP_AUTHZ_H */
