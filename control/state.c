/* SPDX-License-Identifier: BSD-3-Clause */
/* The control plane's desired state: topics, users, ACLs, policy, and their validation. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/proto.h>

#include "state.h"

#define errf sl_state_errf

int
sl_state_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void
sl_state_init(struct sl_state *s)
{
	memset(s, 0, sizeof(*s));
	s->next_uid = 1;
}

void
sl_state_fini(struct sl_state *s)
{
	free(s->topics);
	free(s->acls);
	free(s->groups);
	sl_state_init(s);
}

int
sl_state_copy(struct sl_state *dst, const struct sl_state *src)
{
	*dst = *src;
	dst->topics = NULL;
	dst->acls = NULL;
	dst->groups = NULL;
	dst->cap_topics = src->n_topics;
	dst->cap_acls = src->n_acls;
	dst->cap_groups = src->n_groups;
	if (src->n_topics) {
		dst->topics = malloc(src->n_topics * sizeof(*dst->topics));
		if (dst->topics == NULL)
			goto fail;
		memcpy(dst->topics, src->topics, src->n_topics * sizeof(*dst->topics));
	}
	if (src->n_acls) {
		dst->acls = malloc(src->n_acls * sizeof(*dst->acls));
		if (dst->acls == NULL)
			goto fail;
		memcpy(dst->acls, src->acls, src->n_acls * sizeof(*dst->acls));
	}
	if (src->n_groups) {
		dst->groups = malloc(src->n_groups * sizeof(*dst->groups));
		if (dst->groups == NULL)
			goto fail;
		memcpy(dst->groups, src->groups, src->n_groups * sizeof(*dst->groups));
	}
	return 0;
fail:
	free(dst->topics);
	free(dst->acls);
	sl_state_init(dst);
	return -ENOMEM;
}

/* ---- names ---- */

/* In SL_PERM_* bit order. */
static const char *const perm_names[] = { "pub", "sub", "admin", "consume" };

#define N_PERMS (sizeof(perm_names) / sizeof(perm_names[0]))
#define ALL_PERMS (SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN | SL_PERM_CONSUME)

_Static_assert(SL_PERM_CONSUME == 1u << 3 && N_PERMS == 4, "perm_names order");

int
sl_state_durability_parse(const char *s, uint8_t *out)
{
	int d = sl_durability_parse(s);

	if (d < 0)
		return -EINVAL;
	*out = (uint8_t)d;
	return 0;
}

int
sl_state_backpressure_parse(const char *s, uint8_t *out)
{
	int bp = sl_cnc_bp_parse(s);

	if (bp < 0)
		return -EINVAL;
	*out = (uint8_t)bp;
	return 0;
}

int
sl_state_encryption_parse(const char *s, uint8_t *out)
{
	int e = sl_cnc_enc_parse(s);

	if (e < 0)
		return -EINVAL;
	*out = (uint8_t)e;
	return 0;
}

static int
grow(void **arr, size_t *cap, size_t need, size_t esize)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * esize);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

const char *
sl_state_perm_name(unsigned i)
{
	return i < N_PERMS ? perm_names[i] : NULL;
}

int
sl_state_reserve(struct sl_state *s, size_t topics, size_t acls)
{
	if (grow((void **)&s->topics, &s->cap_topics, topics, sizeof(*s->topics)) ||
	    grow((void **)&s->acls, &s->cap_acls, acls, sizeof(*s->acls)))
		return -ENOMEM;
	return 0;
}

int
sl_state_reserve_groups(struct sl_state *s, size_t groups)
{
	return grow((void **)&s->groups, &s->cap_groups, groups, sizeof(*s->groups));
}

int
sl_state_perm_parse(const char *s)
{
	unsigned i;

	for (i = 0; i < N_PERMS; i++)
		if (strcmp(s, perm_names[i]) == 0)
			return 1 << i;
	return -EINVAL;
}

int
sl_state_topic_name_check(const char *name, char *err, size_t errlen)
{
	if (!sl_proto_topic_name_valid(name, strlen(name)))
		return errf(err, errlen, -EINVAL,
			    "topic name '%.200s' is invalid: 1-%u printable characters, no spaces",
			    name, SL_MAX_TOPIC_NAME);
	return 0;
}

int
sl_state_user_name_check(const char *name, char *err, size_t errlen)
{
	if (strlen(name) >= SL_AUTH_USER_LEN || !sl_auth_user_valid(name))
		return errf(err, errlen, -EINVAL,
			    "user name '%.64s' is invalid: 1-%d characters of A-Z a-z 0-9 . _ -",
			    name, SL_AUTH_USER_LEN - 1);
	return 0;
}

/* '.'-separated tokens, none empty; "*" is a whole token; ">" is a whole,
 * last token; the characters are those of topic names. */
int
sl_state_pattern_check(const char *pattern, char *err, size_t errlen)
{
	if (sl_proto_pattern_valid(pattern))
		return 0;
	return errf(err, errlen, -EINVAL,
		    "pattern '%.200s' is invalid: '.'-separated non-empty tokens of printable "
		    "characters; a token may be '*' (one token) or, last, '>' (one or more)",
		    pattern);
}

/* ---- lookups ---- */

struct sl_state_topic *
sl_state_topic_find(const struct sl_state *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_topics; i++)
		if (strcmp(s->topics[i].name, name) == 0)
			return &s->topics[i];
	return NULL;
}

struct sl_state_user *
sl_state_user_find(const struct sl_state *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_users; i++)
		if (strcmp(s->users[i].name, name) == 0)
			return (struct sl_state_user *)&s->users[i];
	return NULL;
}

struct sl_state_acl *
sl_state_acl_find(const struct sl_state *s, const char *user, const char *pattern)
{
	size_t i;

	for (i = 0; i < s->n_acls; i++)
		if (strcmp(s->acls[i].user, user) == 0 && strcmp(s->acls[i].pattern, pattern) == 0)
			return &s->acls[i];
	return NULL;
}

/* ---- mutations ---- */


static int
topic_check(const struct sl_state_topic *t, char *err, size_t errlen)
{
	int rc = sl_state_topic_name_check(t->name, err, errlen);

	if (rc < 0)
		return rc;
	if (t->durability > SL_DUR_SYNC)
		return errf(err, errlen, -EINVAL, "topic '%s': durability must be none, async or sync",
			    t->name);
	if (t->backpressure > SL_CNC_BP_DISCONNECT)
		return errf(err, errlen, -EINVAL, "topic '%s': backpressure must be drop, block, "
			    "disconnect or default", t->name);
	if (t->retain_mb > SL_STATE_MAX_MB || t->capacity_mb > SL_STATE_MAX_MB)
		return errf(err, errlen, -EINVAL, "topic '%s': retain_mb and capacity_mb must be "
			    "at most %llu", t->name, SL_STATE_MAX_MB);
	if (t->retx_window > SL_CNC_RETX_MAX + 1)
		return errf(err, errlen, -EINVAL, "topic '%s': retransmit_window must be at most "
			    "%u", t->name, SL_CNC_RETX_MAX);
	if (t->retain_s > SL_STATE_MAX_RETAIN_S)
		return errf(err, errlen, -EINVAL, "topic '%s': retain_s must be at most %llu",
			    t->name, SL_STATE_MAX_RETAIN_S);
	if (t->encryption > SL_CNC_ENC_REQUIRED)
		return errf(err, errlen, -EINVAL, "topic '%s': encryption must be off, optional "
			    "or required", t->name);
	if (t->max_message != 0 &&
	    (t->max_message < SL_MAX_PAYLOAD || t->max_message > SL_MAX_MESSAGE))
		return errf(err, errlen, -EINVAL, "topic '%s': max_message must be 0 (the "
			    "dataplane's default) or %u to %u bytes", t->name, SL_MAX_PAYLOAD,
			    SL_MAX_MESSAGE);
	return sl_state_part_check(t, err, errlen);
}

int
sl_state_topic_add(struct sl_state *s, const struct sl_state_topic *t, char *err, size_t errlen)
{
	int rc;

	if (memchr(t->name, '\0', sizeof(t->name)) == NULL)
		return errf(err, errlen, -EINVAL, "topic name too long: at most %u characters",
			    SL_MAX_TOPIC_NAME);
	rc = topic_check(t, err, errlen);
	if (rc < 0)
		return rc;
	if (sl_state_topic_find(s, t->name))
		return errf(err, errlen, -EEXIST, "topic '%s' exists already", t->name);
	rc = sl_state_part_conflict(s, t, err, errlen);
	if (rc < 0)
		return rc;
	if (s->n_topics >= SL_STATE_MAX_TOPICS)
		return errf(err, errlen, -ENOSPC, "too many topics (%d): delete one first",
			    SL_STATE_MAX_TOPICS);
	if (grow((void **)&s->topics, &s->cap_topics, s->n_topics + 1, sizeof(*t)) < 0)
		return errf(err, errlen, -ENOMEM, "out of memory");
	s->topics[s->n_topics++] = *t;
	return 0;
}

int
sl_state_topic_remove(struct sl_state *s, const char *name, char *err, size_t errlen)
{
	struct sl_state_topic *t = sl_state_topic_find(s, name);

	if (t == NULL)
		return errf(err, errlen, -ENOENT, "no topic '%.200s'", name);
	/* The dataplane deletes a topic's groups with it. */
	sl_state_groups_drop_topic(s, name);
	memmove(t, t + 1, (size_t)(s->topics + s->n_topics - (t + 1)) * sizeof(*t));
	s->n_topics--;
	return 0;
}

int
sl_state_topic_update(struct sl_state *s, const struct sl_state_topic *t, unsigned fields,
		      struct sl_state_topic *out, char *err, size_t errlen)
{
	struct sl_state_topic *cur, next;
	int rc;

	if (memchr(t->name, '\0', sizeof(t->name)) == NULL)
		return errf(err, errlen, -ENOENT, "no topic '%.200s'", t->name);
	cur = sl_state_topic_find(s, t->name);
	if (cur == NULL)
		return errf(err, errlen, -ENOENT, "no topic '%.200s'", t->name);
	if ((fields & (SL_STATE_TF_DURABILITY | SL_STATE_TF_BACKPRESSURE | SL_STATE_TF_RETAIN_MB |
		       SL_STATE_TF_RETAIN_S | SL_STATE_TF_CAPACITY_MB | SL_STATE_TF_RETX_WINDOW |
		       SL_STATE_TF_ENCRYPTION | SL_STATE_TF_MAX_MESSAGE)) == 0)
		return errf(err, errlen, -EINVAL, "topic '%s': nothing to update: give durability, "
			    "backpressure, retain_mb, retain_s, capacity_mb, retransmit_window, "
			    "encryption or max_message", t->name);
	next = *cur;
	if (fields & SL_STATE_TF_DURABILITY)
		next.durability = t->durability;
	if (fields & SL_STATE_TF_BACKPRESSURE)
		next.backpressure = t->backpressure;
	if (fields & SL_STATE_TF_RETAIN_MB)
		next.retain_mb = t->retain_mb;
	if (fields & SL_STATE_TF_RETAIN_S)
		next.retain_s = t->retain_s;
	if (fields & SL_STATE_TF_CAPACITY_MB)
		next.capacity_mb = t->capacity_mb;
	if (fields & SL_STATE_TF_RETX_WINDOW)
		next.retx_window = t->retx_window;
	if (fields & SL_STATE_TF_ENCRYPTION)
		next.encryption = t->encryption;
	if (fields & SL_STATE_TF_MAX_MESSAGE)
		next.max_message = t->max_message;
	rc = topic_check(&next, err, errlen);
	if (rc < 0)
		return rc;
	if (next.durability != cur->durability)
		return errf(err, errlen, -EINVAL, "topic '%s' has durability %s, which cannot "
			    "change while the topic exists (its journal, and what its "
			    "acknowledgements promised, depend on it): delete the topic (its "
			    "stored messages go) and create it again with durability %s", t->name,
			    sl_durability_name(cur->durability),
			    sl_durability_name(next.durability));
	*cur = next;
	if (out)
		*out = next;
	return 0;
}

static int
uid_used(const struct sl_state *s, uint16_t uid)
{
	size_t i;

	for (i = 0; i < s->n_users; i++)
		if (s->users[i].uid == uid)
			return 1;
	return 0;
}

int
sl_state_user_add(struct sl_state *s, const char *name, int admin,
		  const uint8_t key[SL_AUTH_KEY_LEN], uint16_t *uid, char *err, size_t errlen)
{
	struct sl_state_user *u;
	uint16_t cand;
	int rc, i;

	rc = sl_state_user_name_check(name, err, errlen);
	if (rc < 0)
		return rc;
	if (sl_state_user_find(s, name))
		return errf(err, errlen, -EEXIST, "user '%s' exists already", name);
	if (s->n_users >= SL_STATE_MAX_USERS)
		return errf(err, errlen, -ENOSPC, "too many users (%d): remove one first",
			    SL_STATE_MAX_USERS);
	/* Round robin from next_uid: a removed user's uid is taken again only
	 * after every other one, so stale references age out first. */
	cand = s->next_uid >= 1 && s->next_uid <= SL_STATE_MAX_USERS ? s->next_uid : 1;
	for (i = 0; i < SL_STATE_MAX_USERS && uid_used(s, cand); i++)
		cand = cand >= SL_STATE_MAX_USERS ? 1 : cand + 1;
	u = &s->users[s->n_users++];
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = cand;
	u->admin = admin ? 1 : 0;
	memcpy(u->key, key, SL_AUTH_KEY_LEN);
	s->next_uid = cand >= SL_STATE_MAX_USERS ? 1 : cand + 1;
	if (uid)
		*uid = cand;
	return 0;
}

int
sl_state_user_update(struct sl_state *s, const char *name, unsigned fields, int admin,
		     uint8_t encryption, char *err, size_t errlen)
{
	struct sl_state_user *u = sl_state_user_find(s, name);

	if (u == NULL)
		return errf(err, errlen, -ENOENT, "no user '%.64s'", name);
	if ((fields & (SL_STATE_UF_ADMIN | SL_STATE_UF_ENCRYPTION)) == 0)
		return errf(err, errlen, -EINVAL, "user '%s': nothing to update: give admin or "
			    "encryption", name);
	if ((fields & SL_STATE_UF_ENCRYPTION) && encryption > SL_CNC_ENC_REQUIRED)
		return errf(err, errlen, -EINVAL, "user '%s': encryption must be off, optional or "
			    "required", name);
	if (fields & SL_STATE_UF_ADMIN)
		u->admin = admin ? 1 : 0;
	if (fields & SL_STATE_UF_ENCRYPTION)
		u->encryption = encryption;
	return 0;
}

int
sl_state_user_key_add(struct sl_state *s, const char *name, const uint8_t key[SL_AUTH_KEY_LEN],
		      char *err, size_t errlen)
{
	struct sl_state_user *u = sl_state_user_find(s, name);

	if (u == NULL)
		return errf(err, errlen, -ENOENT, "no user '%.64s'", name);
	/* A third key would silently end the sessions of the oldest: the
	 * operator retires it first, knowingly. */
	if (u->has_key2)
		return errf(err, errlen, -EEXIST, "user '%s' holds two keys already: retire the "
			    "older one first (user key-retire %s)", name, name);
	memcpy(u->key2, u->key, SL_AUTH_KEY_LEN);
	memcpy(u->key, key, SL_AUTH_KEY_LEN);
	u->has_key2 = 1;
	return 0;
}

int
sl_state_user_key_retire(struct sl_state *s, const char *name, char *err, size_t errlen)
{
	struct sl_state_user *u = sl_state_user_find(s, name);

	if (u == NULL)
		return errf(err, errlen, -ENOENT, "no user '%.64s'", name);
	if (!u->has_key2)
		return errf(err, errlen, -ENOENT, "user '%s' holds one key only: nothing to "
			    "retire (add a new key first with user key-add %s)", name, name);
	memset(u->key2, 0, SL_AUTH_KEY_LEN);
	u->has_key2 = 0;
	return 0;
}

static void
acl_remove_at(struct sl_state *s, size_t i)
{
	memmove(&s->acls[i], &s->acls[i + 1], (s->n_acls - i - 1) * sizeof(s->acls[0]));
	s->n_acls--;
}

int
sl_state_user_remove(struct sl_state *s, const char *name, char *err, size_t errlen)
{
	struct sl_state_user *u = sl_state_user_find(s, name);
	size_t i;

	if (u == NULL)
		return errf(err, errlen, -ENOENT, "no user '%.64s'", name);
	for (i = s->n_acls; i-- > 0;)
		if (strcmp(s->acls[i].user, name) == 0)
			acl_remove_at(s, i);
	memmove(u, u + 1, (size_t)(s->users + s->n_users - (u + 1)) * sizeof(*u));
	s->n_users--;
	return 0;
}

static int
acl_args_check(const struct sl_state *s, const char *user, const char *pattern, uint16_t perms,
	       const char *group, char *err, size_t errlen)
{
	int rc;

	if (sl_state_user_find(s, user) == NULL)
		return errf(err, errlen, -ENOENT, "no user '%.64s': add it with user.add first",
			    user);
	rc = sl_state_pattern_check(pattern, err, errlen);
	if (rc < 0)
		return rc;
	if (perms == 0 || (perms & ~ALL_PERMS))
		return errf(err, errlen, -EINVAL, "perms must be a non-empty list of pub, sub, "
			    "admin, consume");
	if (group != NULL && group[0] != '\0')
		return sl_state_group_name_check(group, err, errlen);
	return 0;
}

int
sl_state_acl_grant(struct sl_state *s, const char *user, const char *pattern, uint16_t perms,
		   char *err, size_t errlen)
{
	struct sl_state_acl *a;
	int rc = acl_args_check(s, user, pattern, perms, NULL, err, errlen);

	if (rc < 0)
		return rc;
	a = sl_state_acl_find(s, user, pattern);
	if (a != NULL) {
		a->perms |= perms;
		return 0;
	}
	if (s->n_acls >= SL_STATE_MAX_ACLS)
		return errf(err, errlen, -ENOSPC, "too many ACL entries (%d): revoke some first",
			    SL_STATE_MAX_ACLS);
	if (grow((void **)&s->acls, &s->cap_acls, s->n_acls + 1, sizeof(*a)) < 0)
		return errf(err, errlen, -ENOMEM, "out of memory");
	a = &s->acls[s->n_acls++];
	memset(a, 0, sizeof(*a));
	snprintf(a->user, sizeof(a->user), "%s", user);
	snprintf(a->pattern, sizeof(a->pattern), "%s", pattern);
	a->perms = perms;
	return 0;
}

int
sl_state_acl_revoke(struct sl_state *s, const char *user, const char *pattern, uint16_t perms,
		    char *err, size_t errlen)
{
	struct sl_state_acl *a;
	int rc = acl_args_check(s, user, pattern, perms, NULL, err, errlen);

	if (rc < 0)
		return rc;
	a = sl_state_acl_find(s, user, pattern);
	if (a == NULL)
		return errf(err, errlen, -ENOENT, "user '%s' has no ACL entry for '%s'", user,
			    pattern);
	a->perms &= (uint16_t)~perms;
	if (a->perms == 0)
		acl_remove_at(s, (size_t)(a - s->acls));
	return 0;
}

int
sl_state_acl_set(struct sl_state *s, const char *user, const char *pattern, uint16_t perms,
		 const char *group, char *err, size_t errlen)
{
	struct sl_state_acl *a;
	int rc = acl_args_check(s, user, pattern, perms, group, err, errlen);

	if (rc < 0)
		return rc;
	if (sl_state_acl_find(s, user, pattern) == NULL) {
		rc = sl_state_acl_grant(s, user, pattern, perms, err, errlen);
		if (rc < 0)
			return rc;
	}
	a = sl_state_acl_find(s, user, pattern);
	a->perms = perms;
	memset(a->group, 0, sizeof(a->group));
	if (group != NULL)
		memcpy(a->group, group, strlen(group));
	return 0;
}

/* ---- whole-state validation ---- */

static int
validate_topics(const struct sl_state *s, char *err, size_t errlen)
{
	size_t i, j;
	int rc;

	if (s->n_topics > SL_STATE_MAX_TOPICS)
		return errf(err, errlen, -EINVAL, "more than %d topics", SL_STATE_MAX_TOPICS);
	for (i = 0; i < s->n_topics; i++) {
		rc = topic_check(&s->topics[i], err, errlen);
		if (rc < 0)
			return rc;
		for (j = 0; j < i; j++)
			if (strcmp(s->topics[i].name, s->topics[j].name) == 0)
				return errf(err, errlen, -EINVAL, "topic '%s' appears twice",
					    s->topics[i].name);
		if (sl_state_part_of(s, s->topics[i].name, NULL))
			return errf(err, errlen, -EINVAL, "topic '%s' is also a partition of a "
				    "partitioned topic", s->topics[i].name);
	}
	return 0;
}

static int
validate_users(const struct sl_state *s, char *err, size_t errlen)
{
	size_t i, j;
	int rc;

	for (i = 0; i < s->n_users; i++) {
		const struct sl_state_user *u = &s->users[i];

		rc = sl_state_user_name_check(u->name, err, errlen);
		if (rc < 0)
			return rc;
		if (u->uid < 1 || u->uid > SL_STATE_MAX_USERS)
			return errf(err, errlen, -EINVAL, "user '%s': uid %u is not in 1..%d",
				    u->name, u->uid, SL_STATE_MAX_USERS);
		if (u->encryption > SL_CNC_ENC_REQUIRED || u->has_key2 > 1)
			return errf(err, errlen, -EINVAL, "user '%s': encryption must be off, "
				    "optional or required", u->name);
		for (j = 0; j < i; j++) {
			if (strcmp(u->name, s->users[j].name) == 0)
				return errf(err, errlen, -EINVAL, "user '%s' appears twice",
					    u->name);
			if (u->uid == s->users[j].uid)
				return errf(err, errlen, -EINVAL, "users '%s' and '%s' share uid %u",
					    s->users[j].name, u->name, u->uid);
		}
	}
	return 0;
}

int
sl_state_validate(const struct sl_state *s, char *err, size_t errlen)
{
	size_t i;
	int rc;

	rc = validate_topics(s, err, errlen);
	if (rc == 0)
		rc = validate_users(s, err, errlen);
	if (rc == 0)
		rc = sl_state_groups_validate(s, err, errlen);
	if (rc < 0)
		return rc;
	if (s->n_acls > SL_STATE_MAX_ACLS)
		return errf(err, errlen, -EINVAL, "more than %d ACL entries", SL_STATE_MAX_ACLS);
	for (i = 0; i < s->n_acls; i++) {
		const struct sl_state_acl *a = &s->acls[i];

		rc = acl_args_check(s, a->user, a->pattern, a->perms, a->group, err, errlen);
		if (rc < 0)
			return -EINVAL;
		if (sl_state_acl_find(s, a->user, a->pattern) != a)
			return errf(err, errlen, -EINVAL, "ACL entry '%s' '%s' appears twice",
				    a->user, a->pattern);
	}
	if (s->policy.auth_required > 1 || s->policy.idle_backoff > 1 ||
	    (s->policy.set & ~SL_STATE_POLICY_F_ALL))
		return errf(err, errlen, -EINVAL, "policy: auth must be open or required, idle "
			    "busy or backoff");
	if (s->policy.rate_limit > SL_STATE_MAX_RATE)
		return errf(err, errlen, -EINVAL, "policy: rate_limit must be an integer 0..%u "
			    "(publishes per second per session, 0 = unlimited)", SL_STATE_MAX_RATE);
	return 0;
}
