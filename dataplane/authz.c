/* SPDX-License-Identifier: BSD-3-Clause */
/* Users and ACLs as the dataplane enforces them: immutable tables, swapped whole. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/auth.h>
#include <common/proto.h>

#include "authz.h"

void
sl_authz_builder_init(struct sl_authz_builder *b, uint32_t required)
{
	memset(b, 0, sizeof(*b));
	b->required = required;
}

void
sl_authz_builder_fini(struct sl_authz_builder *b)
{
	if (b->stage != NULL) {
		sl_authz_builder_fini(b->stage);
		free(b->stage);
	}
	free(b->acl);
	free(b->acl_gen);
	memset(b, 0, sizeof(*b));
}

static int
say(char *msg, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return rc;
}

static int
acl_find(const struct sl_authz_builder *b, uint16_t uid, const char *pattern)
{
	uint32_t i;

	for (i = 0; i < b->n_acl; i++)
		if (b->acl[i].uid == uid && strcmp(b->acl[i].pattern, pattern) == 0)
			return (int)i;
	return -1;
}

static void
acl_remove(struct sl_authz_builder *b, uint32_t i)
{
	b->acl[i] = b->acl[b->n_acl - 1];
	b->acl_gen[i] = b->acl_gen[b->n_acl - 1];
	b->n_acl--;
}

static int
acl_set(struct sl_authz_builder *b, const struct sl_cnc_acl *a, char *msg, size_t len)
{
	int i;

	if (a->uid == 0 || a->uid >= SL_CNC_MAX_USERS || !b->users[a->uid].active)
		return say(msg, len, -ENOENT, "ACL for unknown user id %u", a->uid);
	if (!sl_proto_pattern_valid(a->pattern))
		return say(msg, len, -EINVAL, "invalid topic pattern '%s'", a->pattern);
	{
		size_t gl = strnlen(a->group, sizeof(a->group));

		if (gl == sizeof(a->group) || !sl_name_chars_ok(a->group, gl))
			return say(msg, len, -EINVAL, "invalid group name in the ACL entry");
	}
	i = acl_find(b, a->uid, a->pattern);
	if (a->perms == 0) {
		/* No permissions: no entry (none to remove is not an error). */
		if (i >= 0)
			acl_remove(b, (uint32_t)i);
		return 0;
	}
	if (i < 0) {
		if (b->n_acl == b->cap_acl) {
			uint32_t cap = b->cap_acl ? b->cap_acl * 2 : 64;
			struct sl_cnc_acl *n = realloc(b->acl, cap * sizeof(*n));
			uint64_t *g = realloc(b->acl_gen, cap * sizeof(*g));

			if (n)
				b->acl = n;
			if (g)
				b->acl_gen = g;
			if (!n || !g)
				return say(msg, len, -ENOMEM, "out of memory");
			b->cap_acl = cap;
		}
		i = (int)b->n_acl++;
	}
	b->acl[i] = *a;
	b->acl_gen[i] = b->sync_gen;
	return 0;
}

/* The serial for @key of user @d as it was (@same: the same owner): the
 * one it had if the user held it already, else a new one. */
static uint16_t
key_serial(struct sl_authz_builder *b, const struct sl_authz_user *d, int same,
	   const uint8_t key[32])
{
	if (same && memcmp(d->key, key, 32) == 0)
		return d->epoch;
	if (same && d->has_key2 && memcmp(d->key2, key, 32) == 0)
		return d->epoch2;
	/* 0 never: a fresh table's users hold serial 0 before any key. */
	if (++b->key_serial == 0)
		b->key_serial = 1;
	return b->key_serial;
}

static int
user_upsert(struct sl_authz_builder *b, const struct sl_cnc_user *u, char *msg, size_t len)
{
	struct sl_authz_user *d, next;
	int same;

	if (u->uid == 0 || u->uid >= SL_CNC_MAX_USERS)
		return say(msg, len, -EINVAL, "user id %u out of range 1..%d", u->uid,
			   SL_CNC_MAX_USERS - 1);
	if (!sl_auth_user_valid(u->name))
		return say(msg, len, -EINVAL, "invalid user name '%s'", u->name);
	if (u->encryption > SL_CNC_ENC_REQUIRED)
		return say(msg, len, -EINVAL, "encryption %u is not 0 (optional), 1 (off) or 2 "
			   "(required)", u->encryption);
	d = &b->users[u->uid];
	/* A key the user held keeps its serial (its sessions go on); a new
	 * owner of the id starts afresh, so the old owner's sessions end. */
	same = d->active && strncmp(d->name, u->name, sizeof(d->name)) == 0;
	memset(&next, 0, sizeof(next));
	next.active = 1;
	next.admin = !!(u->flags & SL_USER_F_ADMIN);
	next.encryption = u->encryption;
	next.epoch = key_serial(b, d, same, u->key);
	if (u->flags & SL_USER_F_KEY2) {
		next.has_key2 = 1;
		next.epoch2 = key_serial(b, d, same, u->key2);
		memcpy(next.key2, u->key2, sizeof(next.key2));
	}
	memcpy(next.name, u->name, sizeof(next.name));
	memcpy(next.key, u->key, sizeof(next.key));
	*d = next;
	memset(&next, 0, sizeof(next));
	b->user_gen[u->uid] = b->sync_gen;
	return 0;
}

static void
user_delete(struct sl_authz_builder *b, uint16_t uid)
{
	uint32_t i = 0;

	/* Inactive: sl_authz_user_holds is false for every serial. */
	memset(&b->users[uid], 0, sizeof(b->users[uid]));
	while (i < b->n_acl) {
		if (b->acl[i].uid == uid)
			acl_remove(b, i);
		else
			i++;
	}
}

/* Drop an unfinished staged copy: its resync will never end. */
static void
stage_drop(struct sl_authz_builder *b)
{
	if (b->stage == NULL)
		return;
	sl_authz_builder_fini(b->stage);
	free(b->stage);
	b->stage = NULL;
	b->stats.syncs_abandoned++;
}

/* SYNC_BEGIN(@gen): stage a private copy of the users and the ACL. */
static int
stage_begin(struct sl_authz_builder *b, uint64_t gen, char *msg, size_t len)
{
	struct sl_authz_builder *st;

	if (gen == 0)
		return say(msg, len, -EINVAL, "sync generation 0");
	/* An unfinished resync (its control died): start clean from the
	 * builder, which it never touched. */
	stage_drop(b);
	st = malloc(sizeof(*st));
	if (st == NULL)
		return say(msg, len, -ENOMEM, "out of memory staging a resync");
	*st = *b;
	st->acl = malloc((b->n_acl ? b->n_acl : 1) * sizeof(*st->acl));
	st->acl_gen = malloc((b->n_acl ? b->n_acl : 1) * sizeof(*st->acl_gen));
	if (st->acl == NULL || st->acl_gen == NULL) {
		free(st->acl);
		free(st->acl_gen);
		free(st);
		return say(msg, len, -ENOMEM, "out of memory staging a resync");
	}
	if (b->n_acl) {
		memcpy(st->acl, b->acl, b->n_acl * sizeof(*st->acl));
		memcpy(st->acl_gen, b->acl_gen, b->n_acl * sizeof(*st->acl_gen));
	}
	st->cap_acl = b->n_acl ? b->n_acl : 1;
	st->sync_gen = gen;
	st->stage = NULL;
	memset(&st->stats, 0, sizeof(st->stats));
	b->stage = st;
	b->stats.syncs_begun++;
	return 0;
}

/* SYNC_END(@gen): whatever the resync did not resend is gone, and the
 * staged copy becomes the builder, in one step. */
static int
stage_end(struct sl_authz_builder *b, uint64_t gen, char *msg, size_t len)
{
	struct sl_authz_builder *st = b->stage;
	struct sl_authz_stats stats = b->stats;
	uint32_t i = 0, n_acl;
	uint16_t uid;

	if (st == NULL || gen != st->sync_gen)
		return say(msg, len, -EINVAL, "sync end without matching begin");
	n_acl = st->n_acl;
	for (uid = 1; uid < SL_CNC_MAX_USERS; uid++)
		if (st->users[uid].active && st->user_gen[uid] != gen) {
			user_delete(st, uid);
			stats.sync_users_swept++;
		}
	while (i < st->n_acl) {
		if (st->acl_gen[i] != gen)
			acl_remove(st, i);
		else
			i++;
	}
	stats.sync_acls_swept += n_acl - st->n_acl;
	stats.syncs_completed++;
	st->sync_gen = 0;
	free(b->acl);
	free(b->acl_gen);
	*b = *st;
	b->stats = stats;
	free(st);
	return 0;
}

int
sl_authz_builder_apply(struct sl_authz_builder *live, const struct sl_cnc_cmd *c, char *msg,
		       size_t len)
{
	/* Inside a resync every change goes to the staged copy. */
	struct sl_authz_builder *b = live->stage != NULL ? live->stage : live;
	uint16_t uid;
	uint32_t i;

	msg[0] = '\0';
	switch (c->type) {
	case SL_CNC_USER_UPSERT:
		return user_upsert(b, &c->u.user, msg, len);
	case SL_CNC_USER_DELETE:
		uid = c->u.user.uid;
		if (uid == 0 || uid >= SL_CNC_MAX_USERS || !b->users[uid].active)
			return say(msg, len, -ENOENT, "no user with id %u", uid);
		user_delete(b, uid);
		return 0;
	case SL_CNC_ACL_SET:
		return acl_set(b, &c->u.acl, msg, len);
	case SL_CNC_ACL_CLEAR:
		for (i = 0; i < b->n_acl;) {
			if (b->acl[i].uid == c->u.acl.uid)
				acl_remove(b, i);
			else
				i++;
		}
		return 0;
	case SL_CNC_AUTH_MODE:
		if (c->u.value > 1)
			return say(msg, len, -EINVAL, "auth mode %u is not 0 (open) or 1 (required)",
				   c->u.value);
		/* Only an operator's own command opens the door, never a
		 * resync: a control process with fresh or stale state must
		 * not switch authentication off. */
		if (b != live && b->required && c->u.value == 0) {
			live->stats.sync_auth_kept++;
			return say(msg, len, -EPERM, "a resync never lowers authentication; it stays "
				   "required (policy set auth open lowers it)");
		}
		b->required = c->u.value;
		return 0;
	case SL_CNC_SYNC_BEGIN:
		return stage_begin(live, c->u.generation, msg, len);
	case SL_CNC_SYNC_END:
		return stage_end(live, c->u.generation, msg, len);
	default:
		return -ENOTSUP;
	}
}

uint8_t
sl_authz_perms_by_name(const struct sl_authz *a, uint16_t uid, const char *name, size_t len)
{
	uint8_t p = 0;
	uint32_t i;

	if (!a->required)
		return SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN;
	if (uid == 0 || uid >= SL_CNC_MAX_USERS || !a->users[uid].active)
		return 0;
	for (i = 0; i < a->n_acl; i++)
		if (a->acl[i].uid == uid && sl_proto_pattern_match(a->acl[i].pattern, name, len))
			p |= (uint8_t)a->acl[i].perms;
	return p & (SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN);
}

int
sl_authz_may_consume(const struct sl_authz *a, uint16_t uid, const char *name, size_t len,
		     const char *group)
{
	uint32_t i;

	if (!a->required)
		return 1;
	if (uid == 0 || uid >= SL_CNC_MAX_USERS || !a->users[uid].active)
		return 0;
	for (i = 0; i < a->n_acl; i++) {
		const struct sl_cnc_acl *e = &a->acl[i];

		if (e->uid == uid && (e->perms & SL_PERM_CONSUME) &&
		    (e->group[0] == '\0' ||
		     strncmp(e->group, group, SL_CNC_GROUP_NAME_LEN) == 0) &&
		    sl_proto_pattern_match(e->pattern, name, len))
			return 1;
	}
	return 0;
}

struct sl_authz *
sl_authz_build(const struct sl_authz_builder *b, const struct sl_route *r)
{
	struct sl_authz *a = calloc(1, sizeof(*a));
	uint32_t id, n;
	uint16_t uid;

	if (a == NULL)
		return NULL;
	a->required = b->required;
	a->max_topics = r->cap;
	memcpy(a->users, b->users, sizeof(a->users));
	a->n_acl = b->n_acl;
	a->acl = malloc((b->n_acl ? b->n_acl : 1) * sizeof(*a->acl));
	a->perm = calloc((size_t)r->cap * SL_CNC_MAX_USERS, 1);
	if (a->acl == NULL || a->perm == NULL) {
		sl_authz_free(a);
		return NULL;
	}
	if (b->n_acl) /* b->acl may be NULL when empty: memcpy must not see it */
		memcpy(a->acl, b->acl, b->n_acl * sizeof(*a->acl));
	/* Acquire: pairs with the topic creator's release of n_topics' topics. */
	n = __atomic_load_n(&r->n_topics, __ATOMIC_ACQUIRE);
	for (id = 1; id <= n && id < r->cap; id++) {
		const struct sl_topic *t = sl_route_topic_get(r, id);

		if (t == NULL)
			continue;
		for (uid = 1; uid < SL_CNC_MAX_USERS; uid++)
			if (a->users[uid].active)
				a->perm[(size_t)id * SL_CNC_MAX_USERS + uid] =
					SL_AUTHZ_COMPUTED |
					sl_authz_perms_by_name(a, uid, t->name, t->name_len);
	}
	return a;
}

void
sl_authz_free(struct sl_authz *a)
{
	if (a == NULL)
		return;
	free(a->acl);
	free(a->perm);
	free(a);
}

uint16_t
sl_authz_user_find(const struct sl_authz *a, const char *name)
{
	uint16_t uid;

	for (uid = 1; uid < SL_CNC_MAX_USERS; uid++)
		if (a->users[uid].active && strncmp(a->users[uid].name, name, 32) == 0)
			return uid;
	return 0;
}
