/* SPDX-License-Identifier: BSD-3-Clause */
/* The control plane's desired state: topics, users, ACLs, policy; validated and persisted. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/proto.h>

#include "state.h"

#define STATE_VERSION 1

static int
errf(char *err, size_t errlen, int rc, const char *fmt, ...)
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
	sl_state_init(s);
}

int
sl_state_copy(struct sl_state *dst, const struct sl_state *src)
{
	*dst = *src;
	dst->topics = NULL;
	dst->acls = NULL;
	dst->cap_topics = src->n_topics;
	dst->cap_acls = src->n_acls;
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
	return 0;
fail:
	free(dst->topics);
	sl_state_init(dst);
	return -ENOMEM;
}

/* ---- names ---- */

static const char *const perm_names[] = { "pub", "sub", "admin" };

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
sl_state_perm_parse(const char *s)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, perm_names[i]) == 0)
			return 1 << i;
	return -EINVAL;
}

void
sl_state_perms_json(struct sl_jw *w, uint16_t perms)
{
	int i;

	sl_jw_arr_begin(w);
	for (i = 0; i < 3; i++)
		if (perms & (1u << i))
			sl_jw_str(w, perm_names[i]);
	sl_jw_arr_end(w);
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
	if (t->retain_s > SL_STATE_MAX_RETAIN_S)
		return errf(err, errlen, -EINVAL, "topic '%s': retain_s must be at most %llu",
			    t->name, SL_STATE_MAX_RETAIN_S);
	return 0;
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
		       SL_STATE_TF_RETAIN_S | SL_STATE_TF_CAPACITY_MB)) == 0)
		return errf(err, errlen, -EINVAL, "topic '%s': nothing to update: give durability, "
			    "backpressure, retain_mb, retain_s or capacity_mb", t->name);
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
	       char *err, size_t errlen)
{
	int rc;

	if (sl_state_user_find(s, user) == NULL)
		return errf(err, errlen, -ENOENT, "no user '%.64s': add it with user.add first",
			    user);
	rc = sl_state_pattern_check(pattern, err, errlen);
	if (rc < 0)
		return rc;
	if (perms == 0 || (perms & ~(SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN)))
		return errf(err, errlen, -EINVAL, "perms must be a non-empty list of pub, sub, admin");
	return 0;
}

int
sl_state_acl_grant(struct sl_state *s, const char *user, const char *pattern, uint16_t perms,
		   char *err, size_t errlen)
{
	struct sl_state_acl *a;
	int rc = acl_args_check(s, user, pattern, perms, err, errlen);

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
	int rc = acl_args_check(s, user, pattern, perms, err, errlen);

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
	if (rc < 0)
		return rc;
	if (s->n_acls > SL_STATE_MAX_ACLS)
		return errf(err, errlen, -EINVAL, "more than %d ACL entries", SL_STATE_MAX_ACLS);
	for (i = 0; i < s->n_acls; i++) {
		const struct sl_state_acl *a = &s->acls[i];

		rc = acl_args_check(s, a->user, a->pattern, a->perms, err, errlen);
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

/* ---- JSON ---- */

static void
topics_to_json(const struct sl_state *s, struct sl_jw *w)
{
	size_t i;

	sl_jw_arr_begin(w);
	for (i = 0; i < s->n_topics; i++) {
		const struct sl_state_topic *t = &s->topics[i];

		sl_jw_obj_begin(w);
		sl_jw_key(w, "name");
		sl_jw_str(w, t->name);
		sl_jw_key(w, "durability");
		sl_jw_str(w, sl_durability_name(t->durability));
		sl_jw_key(w, "backpressure");
		sl_jw_str(w, sl_cnc_bp_name(t->backpressure));
		sl_jw_key(w, "retain_mb");
		sl_jw_u64(w, t->retain_mb);
		sl_jw_key(w, "retain_s");
		sl_jw_u64(w, t->retain_s);
		sl_jw_key(w, "capacity_mb");
		sl_jw_u64(w, t->capacity_mb);
		sl_jw_obj_end(w);
	}
	sl_jw_arr_end(w);
}

static void
users_to_json(const struct sl_state *s, struct sl_jw *w)
{
	char hex[2 * SL_AUTH_KEY_LEN + 1];
	size_t i;

	sl_jw_arr_begin(w);
	for (i = 0; i < s->n_users; i++) {
		sl_jw_obj_begin(w);
		sl_jw_key(w, "name");
		sl_jw_str(w, s->users[i].name);
		sl_jw_key(w, "uid");
		sl_jw_u64(w, s->users[i].uid);
		sl_jw_key(w, "admin");
		sl_jw_bool(w, s->users[i].admin);
		sl_auth_key_to_hex(s->users[i].key, hex);
		sl_jw_key(w, "key");
		sl_jw_str(w, hex);
		sl_jw_obj_end(w);
	}
	sl_jw_arr_end(w);
	memset(hex, 0, sizeof(hex));
}

/* The policy settings by name, in SL_STATE_POLICY_F_* bit order. */
static const char *const policy_names[] = { "auth", "idle", "rate_limit" };

void
sl_state_policy_to_json(const struct sl_state_policy *p, struct sl_jw *w)
{
	unsigned i;

	sl_jw_obj_begin(w);
	sl_jw_key(w, "auth");
	sl_jw_str(w, p->auth_required ? "required" : "open");
	sl_jw_key(w, "idle");
	sl_jw_str(w, p->idle_backoff ? "backoff" : "busy");
	sl_jw_key(w, "rate_limit");
	sl_jw_u64(w, p->rate_limit);
	sl_jw_key(w, "set");
	sl_jw_arr_begin(w);
	for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (p->set & (1u << i))
			sl_jw_str(w, policy_names[i]);
	sl_jw_arr_end(w);
	sl_jw_obj_end(w);
}

void
sl_state_to_json(const struct sl_state *s, struct sl_jw *w)
{
	size_t i;

	sl_jw_obj_begin(w);
	sl_jw_key(w, "version");
	sl_jw_u64(w, STATE_VERSION);
	sl_jw_key(w, "next_uid");
	sl_jw_u64(w, s->next_uid);
	sl_jw_key(w, "policy");
	sl_state_policy_to_json(&s->policy, w);
	sl_jw_key(w, "topics");
	topics_to_json(s, w);
	sl_jw_key(w, "users");
	users_to_json(s, w);
	sl_jw_key(w, "acls");
	sl_jw_arr_begin(w);
	for (i = 0; i < s->n_acls; i++) {
		sl_jw_obj_begin(w);
		sl_jw_key(w, "user");
		sl_jw_str(w, s->acls[i].user);
		sl_jw_key(w, "pattern");
		sl_jw_str(w, s->acls[i].pattern);
		sl_jw_key(w, "perms");
		sl_state_perms_json(w, s->acls[i].perms);
		sl_jw_obj_end(w);
	}
	sl_jw_arr_end(w);
	sl_jw_obj_end(w);
}

/* A string member copied into @dst of @cap bytes. */
static int
get_name(const struct sl_json *o, const char *key, char *dst, size_t cap, const char *what,
	 char *err, size_t errlen)
{
	const char *v;

	if (sl_json_get_str(o, key, &v) < 0)
		return errf(err, errlen, -EINVAL, "%s: \"%s\" must be a string", what, key);
	if (strlen(v) >= cap)
		return errf(err, errlen, -EINVAL, "%s: \"%s\" is longer than %zu characters", what,
			    key, cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
get_u64_opt(const struct sl_json *o, const char *key, uint64_t *out, const char *what,
	    char *err, size_t errlen)
{
	int rc = sl_json_get_u64(o, key, out);

	if (rc == -ENOENT) {
		*out = 0;
		return 0;
	}
	if (rc < 0)
		return errf(err, errlen, -EINVAL, "%s: \"%s\" must be an integer >= 0", what, key);
	return 0;
}

static int
topic_from_json(struct sl_state_topic *t, const struct sl_json *o, char *err, size_t errlen)
{
	const char *d = "none", *bp = "default";
	int rc;

	memset(t, 0, sizeof(*t));
	if (o->type != SL_JSON_OBJ)
		return errf(err, errlen, -EINVAL, "topics: each entry must be an object");
	rc = get_name(o, "name", t->name, sizeof(t->name), "topic", err, errlen);
	if (rc < 0)
		return rc;
	if (sl_json_get_str(o, "durability", &d) == -EINVAL ||
	    sl_state_durability_parse(d, &t->durability) < 0)
		return errf(err, errlen, -EINVAL, "topic '%s': durability must be none, async or "
			    "sync", t->name);
	/* Absent in files written before topics had a back-pressure policy. */
	if (sl_json_get_str(o, "backpressure", &bp) == -EINVAL ||
	    sl_state_backpressure_parse(bp, &t->backpressure) < 0)
		return errf(err, errlen, -EINVAL, "topic '%s': backpressure must be drop, block, "
			    "disconnect or default", t->name);
	rc = get_u64_opt(o, "retain_mb", &t->retain_mb, t->name, err, errlen);
	if (rc == 0)
		rc = get_u64_opt(o, "retain_s", &t->retain_s, t->name, err, errlen);
	if (rc == 0)
		rc = get_u64_opt(o, "capacity_mb", &t->capacity_mb, t->name, err, errlen);
	return rc;
}

static int
user_from_json(struct sl_state_user *u, const struct sl_json *o, char *err, size_t errlen)
{
	const char *hex;
	uint64_t uid;
	int admin = 0, rc;

	memset(u, 0, sizeof(*u));
	if (o->type != SL_JSON_OBJ)
		return errf(err, errlen, -EINVAL, "users: each entry must be an object");
	rc = get_name(o, "name", u->name, sizeof(u->name), "user", err, errlen);
	if (rc < 0)
		return rc;
	if (sl_json_get_u64(o, "uid", &uid) < 0 || uid > UINT16_MAX)
		return errf(err, errlen, -EINVAL, "user '%s': \"uid\" must be an integer 1..%d",
			    u->name, SL_STATE_MAX_USERS);
	u->uid = (uint16_t)uid;
	if (sl_json_get_bool(o, "admin", &admin) == -EINVAL)
		return errf(err, errlen, -EINVAL, "user '%s': \"admin\" must be a boolean", u->name);
	u->admin = admin ? 1 : 0;
	if (sl_json_get_str(o, "key", &hex) < 0 || strlen(hex) != 2 * SL_AUTH_KEY_LEN ||
	    sl_auth_key_from_hex(hex, u->key) < 0)
		return errf(err, errlen, -EINVAL, "user '%s': \"key\" must be %d hex digits",
			    u->name, 2 * SL_AUTH_KEY_LEN);
	return 0;
}

static int
perms_from_json(const struct sl_json *arr, uint16_t *out)
{
	const struct sl_json *p;
	int bit;

	*out = 0;
	if (arr == NULL || arr->type != SL_JSON_ARR)
		return -EINVAL;
	for (p = arr->v.kids.first; p != NULL; p = p->next) {
		if (p->type != SL_JSON_STR || (bit = sl_state_perm_parse(p->v.str.s)) < 0)
			return -EINVAL;
		*out |= (uint16_t)bit;
	}
	return 0;
}

static int
acl_from_json(struct sl_state_acl *a, const struct sl_json *o, char *err, size_t errlen)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (o->type != SL_JSON_OBJ)
		return errf(err, errlen, -EINVAL, "acls: each entry must be an object");
	rc = get_name(o, "user", a->user, sizeof(a->user), "acl", err, errlen);
	if (rc == 0)
		rc = get_name(o, "pattern", a->pattern, sizeof(a->pattern), "acl", err, errlen);
	if (rc < 0)
		return rc;
	if (perms_from_json(sl_json_get(o, "perms"), &a->perms) < 0)
		return errf(err, errlen, -EINVAL, "acl '%s' '%s': \"perms\" must be a list of "
			    "pub, sub, admin", a->user, a->pattern);
	return 0;
}

/*
 * Which settings an operator set. A file written before "set" existed held
 * every setting, set or not: there, a value other than the default can
 * only have come from policy.set and counts as set; a default value counts
 * as not set, so loading an old file never lowers a dataplane's
 * authentication nor changes its idle strategy.
 */
static int
policy_set_from_json(struct sl_state_policy *p, const struct sl_json *arr, char *err,
		     size_t errlen)
{
	const struct sl_json *e;
	unsigned i;

	p->set = 0;
	if (arr == NULL) {
		p->set = (p->auth_required ? SL_STATE_POLICY_F_AUTH : 0) |
			 (p->idle_backoff ? SL_STATE_POLICY_F_IDLE : 0) |
			 (p->rate_limit ? SL_STATE_POLICY_F_RATE : 0);
		return 0;
	}
	if (arr->type != SL_JSON_ARR)
		return errf(err, errlen, -EINVAL, "policy: \"set\" must be a list of auth, idle, "
			    "rate_limit");
	for (e = arr->v.kids.first; e != NULL; e = e->next) {
		for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
			if (e->type == SL_JSON_STR && strcmp(e->v.str.s, policy_names[i]) == 0)
				break;
		if (i == sizeof(policy_names) / sizeof(policy_names[0]))
			return errf(err, errlen, -EINVAL, "policy: \"set\" must be a list of auth, "
				    "idle, rate_limit");
		p->set |= (uint8_t)(1u << i);
	}
	return 0;
}

static int
policy_from_json(struct sl_state_policy *p, const struct sl_json *o, char *err, size_t errlen)
{
	const char *auth = "open", *idle = "busy";
	uint64_t rate = 0;
	int rc;

	if (o == NULL)
		return 0;
	if (o->type != SL_JSON_OBJ || sl_json_get_str(o, "auth", &auth) == -EINVAL ||
	    sl_json_get_str(o, "idle", &idle) == -EINVAL ||
	    (strcmp(auth, "open") && strcmp(auth, "required")) ||
	    (strcmp(idle, "busy") && strcmp(idle, "backoff")))
		return errf(err, errlen, -EINVAL, "policy: auth must be open or required, idle "
			    "busy or backoff");
	p->auth_required = strcmp(auth, "required") == 0;
	p->idle_backoff = strcmp(idle, "backoff") == 0;
	/* Absent (a state.json older than the knob): no limit. */
	rc = sl_json_get_u64(o, "rate_limit", &rate);
	if ((rc < 0 && rc != -ENOENT) || rate > SL_STATE_MAX_RATE)
		return errf(err, errlen, -EINVAL, "policy: rate_limit must be an integer 0..%u "
			    "(publishes per second per session, 0 = unlimited)", SL_STATE_MAX_RATE);
	p->rate_limit = (uint32_t)rate;
	return policy_set_from_json(p, sl_json_get(o, "set"), err, errlen);
}

static const struct sl_json *
get_array(const struct sl_json *root, const char *key, char *err, size_t errlen)
{
	const struct sl_json *a = sl_json_get(root, key);

	if (a == NULL || a->type != SL_JSON_ARR) {
		errf(err, errlen, -EINVAL, "\"%s\" must be an array", key);
		return NULL;
	}
	return a;
}

static int
lists_from_json(struct sl_state *s, const struct sl_json *root, char *err, size_t errlen)
{
	const struct sl_json *topics, *users, *acls, *e;
	int rc = 0;

	topics = get_array(root, "topics", err, errlen);
	users = get_array(root, "users", err, errlen);
	acls = get_array(root, "acls", err, errlen);
	if (topics == NULL || users == NULL || acls == NULL)
		return -EINVAL;
	if (topics->v.kids.count > SL_STATE_MAX_TOPICS || users->v.kids.count > SL_STATE_MAX_USERS ||
	    acls->v.kids.count > SL_STATE_MAX_ACLS)
		return errf(err, errlen, -EINVAL, "more topics, users or ACL entries than allowed");
	if (grow((void **)&s->topics, &s->cap_topics, topics->v.kids.count, sizeof(*s->topics)) ||
	    grow((void **)&s->acls, &s->cap_acls, acls->v.kids.count, sizeof(*s->acls)))
		return errf(err, errlen, -ENOMEM, "out of memory");
	for (e = topics->v.kids.first; e != NULL && rc == 0; e = e->next)
		rc = topic_from_json(&s->topics[s->n_topics++], e, err, errlen);
	for (e = users->v.kids.first; e != NULL && rc == 0; e = e->next)
		rc = user_from_json(&s->users[s->n_users++], e, err, errlen);
	for (e = acls->v.kids.first; e != NULL && rc == 0; e = e->next)
		rc = acl_from_json(&s->acls[s->n_acls++], e, err, errlen);
	return rc;
}

int
sl_state_from_json(struct sl_state *s, const struct sl_json *root, char *err, size_t errlen)
{
	uint64_t v, next_uid = 1;
	int rc;

	if (root->type != SL_JSON_OBJ)
		return errf(err, errlen, -EINVAL, "the state must be a JSON object");
	if (sl_json_get_u64(root, "version", &v) < 0 || v != STATE_VERSION)
		return errf(err, errlen, -EINVAL, "\"version\" must be %d", STATE_VERSION);
	if (get_u64_opt(root, "next_uid", &next_uid, "state", err, errlen) < 0)
		return -EINVAL;
	s->next_uid = next_uid >= 1 && next_uid <= SL_STATE_MAX_USERS ? (uint16_t)next_uid : 1;
	rc = policy_from_json(&s->policy, sl_json_get(root, "policy"), err, errlen);
	if (rc == 0)
		rc = lists_from_json(s, root, err, errlen);
	if (rc == 0)
		rc = sl_state_validate(s, err, errlen);
	return rc;
}

/* ---- files ---- */

static int
mkdir_p(char *path, mode_t last_mode)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, last_mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
sl_state_dir_prepare(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return errf(err, errlen, -ENAMETOOLONG, "state directory path too long");
	rc = mkdir_p(path, 0700);
	if (rc < 0)
		return errf(err, errlen, rc, "cannot create state directory %s: %s", dir,
			    strerror(-rc));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return errf(err, errlen, -ENOTDIR, "state directory %s is not a directory", dir);
	/* The state holds user keys: nobody else may list or read it. */
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
		return errf(err, errlen, -errno, "cannot make %s mode 0700: %s", dir,
			    strerror(errno));
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
save_tmp(int dfd, const struct sl_jw *w)
{
	int fd, rc;

	fd = openat(dfd, SL_STATE_FILE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, w->buf, w->len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int
sl_state_save(const struct sl_state *s, const char *dir, char *err, size_t errlen)
{
	struct sl_jw w;
	int dfd, rc;

	sl_jw_init(&w, SL_STATE_MAX_FILE);
	sl_state_to_json(s, &w);
	sl_jw_raw(&w, "\n", 1);
	if (w.err) {
		rc = errf(err, errlen, w.err, "cannot serialise the state: %s", strerror(-w.err));
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = errf(err, errlen, -errno, "cannot open state directory %s: %s", dir,
			  strerror(errno));
		goto out;
	}
	rc = save_tmp(dfd, &w);
	if (rc == 0 && renameat(dfd, SL_STATE_FILE_TMP, dfd, SL_STATE_FILE) < 0)
		rc = -errno;
	/* The rename is durable only once the directory is. */
	if (rc == 0 && fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	if (rc < 0)
		errf(err, errlen, rc, "cannot save %s/%s: %s", dir, SL_STATE_FILE, strerror(-rc));
out:
	if (w.buf)
		memset(w.buf, 0, w.cap); /* keys */
	sl_jw_free(&w);
	return rc;
}

static int
read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SL_STATE_MAX_FILE) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size &&
	       ((n = read(fd, buf + got, (size_t)st.st_size - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int
sl_state_load(struct sl_state *s, const char *dir, char *err, size_t errlen)
{
	struct sl_json_limits lim = { SL_STATE_MAX_FILE, SL_JSON_DEFAULT_MAX_DEPTH,
				      8 * (size_t)SL_STATE_MAX_FILE };
	char path[PATH_MAX], why[256];
	struct sl_json_error jerr;
	struct sl_json_doc *doc;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, SL_STATE_FILE) >= (int)sizeof(path))
		return errf(err, errlen, -ENAMETOOLONG, "state directory path too long");
	rc = read_file(path, &buf, &len);
	if (rc == -ENOENT)
		return errf(err, errlen, rc, "no %s: starting with an empty state", path);
	if (rc == -EFBIG)
		return errf(err, errlen, -EINVAL, "%s is not a regular file of at most %u bytes",
			    path, SL_STATE_MAX_FILE);
	if (rc < 0)
		return errf(err, errlen, rc, "cannot read %s: %s", path, strerror(-rc));
	rc = sl_json_parse(&doc, buf, len, &lim, &jerr);
	memset(buf, 0, len);
	free(buf);
	if (rc < 0)
		return errf(err, errlen, -EINVAL, "%s is corrupt at byte %zu: %s; restore it from a "
			    "backup or move it away to start empty", path, jerr.offset, jerr.msg);
	rc = sl_state_from_json(s, sl_json_root(doc), why, sizeof(why));
	sl_json_doc_free(doc);
	if (rc < 0) {
		sl_state_fini(s);
		return errf(err, errlen, -EINVAL, "%s is invalid: %s; fix it or move it away to "
			    "start empty", path, why);
	}
	return 0;
}
