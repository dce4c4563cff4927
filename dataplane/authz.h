/* SPDX-License-Identifier: BSD-3-Clause */
/* Users and ACLs as the dataplane enforces them: immutable tables, swapped whole. */

#ifndef SLUICE_DP_AUTHZ_H
#define SLUICE_DP_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include <common/cnc.h>

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

/*
 * A user as the workers see it. Each key carries a serial (epoch for key,
 * epoch2 for key2), drawn from one counter of the builder, so no two keys
 * ever held share one: a session records the serial of the key it proved
 * (struct sl_session.user_epoch) and stays valid exactly while that key is
 * one of its user's (sl_authz_user_holds). Rolling a key over keeps the
 * older key's serial as epoch2; retiring it, re-keying both keys, removing
 * the user or giving the uid to another user end the sessions of the keys
 * gone.
 */
struct sl_authz_user {
	uint8_t active;
	uint8_t admin;
	uint16_t epoch;	 /* serial of key */
	uint8_t has_key2; /* key2 is valid too (SL_USER_F_KEY2) */
	uint8_t encryption; /* SL_CNC_ENC_* */
	uint16_t epoch2; /* serial of key2, while has_key2 */
	char name[32];
	uint8_t key[32];
	uint8_t key2[32];
};

/* A subscriber's user as its topic's owner keeps it (struct sl_topic_state
 * sub_user): uid and the serial of the key its session proved (0: not
 * known, for a pattern's subscriptions: only the user is checked). */
#define SL_AUTHZ_SUB_USER(uid, serial) ((uint32_t)(uid) | (uint32_t)(serial) << 16)
#define SL_AUTHZ_SUB_UID(user) ((uint16_t)((user) & 0xffff))
#define SL_AUTHZ_SUB_SERIAL(user) ((uint16_t)((user) >> 16))

/* Is @serial (a session's user_epoch) one of active user @u's keys? */
static inline int
sl_authz_user_holds(const struct sl_authz_user *u, uint16_t serial)
{
	return u->active && (u->epoch == serial || (u->has_key2 && u->epoch2 == serial));
}

struct sl_authz {
	uint32_t required;   /* authentication required */
	uint32_t max_topics;
	uint32_t n_acl;
	uint32_t reserved;
	struct sl_authz_user users[SL_CNC_MAX_USERS];
	struct sl_cnc_acl *acl;	/* n_acl entries */
	uint8_t *perm;		/* [max_topics][SL_CNC_MAX_USERS]: SL_AUTHZ_COMPUTED | SL_PERM_* */
};

/* What resyncs did to the builder, and how often a table went out. Main
 * lcore only: written by the builder and publish, read by the snapshot. */
/* The fields of struct sl_authz_stats, for the counters area. */
#define SL_AUTHZ_STATS_LIST(X)                                                        \
	X(syncs_begun) X(syncs_completed) X(syncs_abandoned) X(sync_users_swept)        \
	X(sync_acls_swept) X(sync_auth_kept) X(tables_published) X(revocation_sweeps)
#define SL_X_ENUM_AUTHZ(l) SL_STATS_AUTHZ_##l,
enum { SL_AUTHZ_STATS_LIST(SL_X_ENUM_AUTHZ) SL_STATS_AUTHZ_MAX };
#undef SL_X_ENUM_AUTHZ

struct sl_authz_stats {
	uint64_t syncs_begun;	       /* SYNC_BEGIN applied: a staged copy started */
	uint64_t syncs_completed;      /* SYNC_END applied: the staged copy went live */
	uint64_t syncs_abandoned;      /* a staged copy dropped by the next SYNC_BEGIN */
	uint64_t sync_users_swept;     /* users removed at SYNC_END: not resent */
	uint64_t sync_acls_swept;      /* ACL entries removed at SYNC_END: not resent */
	uint64_t sync_auth_kept;       /* AUTH_MODE open refused inside a resync */
	uint64_t tables_published;     /* immutable tables handed to the workers */
	uint64_t revocation_sweeps;    /* times the workers re-checked sessions and subscribers */
};

/*
 * Resyncs are staged: SYNC_BEGIN(g) starts a private copy of the builder
 * (@stage), every user, ACL and AUTH_MODE command until SYNC_END(g) changes
 * only that copy, and SYNC_END sweeps what the resync did not resend and
 * makes the copy the builder, so the table the workers enforce changes
 * once, from the old state to the new one, never through a half-sent one.
 * A resync that never ends (control killed mid-way) leaves the builder as
 * it was; the next SYNC_BEGIN drops the unfinished copy and starts afresh.
 * Outside a resync, commands change the builder itself.
 */
struct sl_authz_builder {
	uint32_t required;
	uint64_t sync_gen;		  /* of a staged copy: the generation it stages */
	uint64_t user_gen[SL_CNC_MAX_USERS]; /* generation that last set the user */
	uint16_t key_serial;		  /* the last key serial given out */
	struct sl_authz_user users[SL_CNC_MAX_USERS];
	uint32_t n_acl, cap_acl;
	struct sl_cnc_acl *acl;
	uint64_t *acl_gen;
	struct sl_authz_builder *stage;	  /* the resync in progress, or NULL */
	struct sl_authz_stats stats;
};

void sl_authz_builder_init(struct sl_authz_builder *b, uint32_t required);
/* Free the builder's tables and any unfinished staged copy. */
void sl_authz_builder_fini(struct sl_authz_builder *b);

/*
 * Apply one control command to the builder (USER_UPSERT, USER_DELETE,
 * ACL_SET, ACL_CLEAR, AUTH_MODE, SYNC_BEGIN, SYNC_END; others are not
 * this module's and return -ENOTSUP). Returns 0 or -errno with a reason in
 * @msg: -EINVAL (bad argument, SYNC_END without its SYNC_BEGIN), -ENOENT
 * (unknown user), -ENOMEM, -EPERM (AUTH_MODE open inside a resync: a
 * resync never lowers authentication; the staged copy keeps it required).
 */
int sl_authz_builder_apply(struct sl_authz_builder *b, const struct sl_cnc_cmd *c, char *msg,
			   size_t msglen);

/* 1 while a resync is staged (between SYNC_BEGIN and SYNC_END): the
 * builder itself, what sl_authz_build reads, does not change meanwhile. */
static inline int
sl_authz_builder_staging(const struct sl_authz_builder *b)
{
	return b->stage != NULL;
}

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

/* May @uid join consumer group @group (NUL padded) of the topic named @name
 * (@len bytes)? Open mode: yes. Else an ACL entry of @uid whose pattern
 * covers the topic, with SL_PERM_CONSUME, whose group is "" or @group.
 * 1 or 0 (slow: scans; GJOIN and revocation sweeps only). */
int sl_authz_may_consume(const struct sl_authz *a, uint16_t uid, const char *name, size_t len,
			 const char *group);

/* uid of an active user called @name (NUL padded to 32), or 0. */
uint16_t sl_authz_user_find(const struct sl_authz *a, const char *name);

#endif /* SLUICE_DP_AUTHZ_H */
