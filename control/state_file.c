/* SPDX-License-Identifier: BSD-3-Clause */
/* state.json: the desired state as JSON (libjansson), saved atomically and loaded strictly. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/proto.h>

#include "jsonx.h"
#include "state.h"

/* 1: before keys rolled over and encryption policies; 2: users' "key2" and
 * "encryption", topics' "encryption"; 3: "groups", ACL entries' "group" and
 * the consume right; 4: topics' "partitions" (partitioned topics). Older
 * files load (version 1: users and topics read "optional", one key each; 1
 * and 2: no groups, every entry's group ""; 1 to 3: no partitioned topic);
 * saves write version 4, which an older sluice-control refuses rather than
 * taking a partitioned topic for an ordinary one. */
#define STATE_VERSION 4
#define STATE_VERSION_MIN 1
#define errf sl_state_errf

/* ---- to JSON ---- */

json_t *
sl_state_perms_json(uint16_t perms)
{
	json_t *a = json_array();
	unsigned i;

	for (i = 0; a != NULL && sl_state_perm_name(i) != NULL; i++)
		if (perms & (1u << i))
			json_array_append_new(a, json_string(sl_state_perm_name(i)));
	return a;
}

static json_t *
topics_to_json(const struct sl_state *s)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < s->n_topics; i++) {
		const struct sl_state_topic *t = &s->topics[i];

		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "name", t->name,
				      "durability", sl_durability_name(t->durability),
				      "backpressure", sl_cnc_bp_name(t->backpressure),
				      "retain_mb", (json_int_t)t->retain_mb,
				      "retain_s", (json_int_t)t->retain_s,
				      "capacity_mb", (json_int_t)t->capacity_mb);

		/* Only when set: absent means the dataplane's default. */
		if (o && t->retx_window != SL_CNC_RETX_DEFAULT)
			json_object_set_new(o, "retransmit_window",
					    json_integer((json_int_t)t->retx_window - 1));
		if (o)
			json_object_set_new(o, "encryption",
					    json_string(sl_cnc_enc_name(t->encryption)));
		if (o && t->max_message != 0)
			json_object_set_new(o, "max_message", json_integer(t->max_message));
		/* Only when partitioned: absent means an ordinary topic. */
		if (o && t->partitions != 0)
			json_object_set_new(o, "partitions", json_integer(t->partitions));
		/* Only when moved to another pair (docs/SCALEOUT.md). */
		if (o && t->moved.pair[0] != '\0')
			json_object_set_new(o, "moved", json_pack("{s:s, s:s, s:I}", "pair",
								  t->moved.pair, "addr", t->moved.addr,
								  "epoch", (json_int_t)t->moved.epoch));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
users_to_json(const struct sl_state *s)
{
	char hex[2 * SL_AUTH_KEY_LEN + 1];
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < s->n_users; i++) {
		const struct sl_state_user *u = &s->users[i];
		json_t *o;

		sl_auth_key_to_hex(u->key, hex);
		o = json_pack("{s:s, s:i, s:b, s:s, s:s}", "name", u->name, "uid", (int)u->uid,
			      "admin", (int)u->admin, "encryption",
			      sl_cnc_enc_name(u->encryption), "key", hex);
		if (o != NULL && u->has_key2) {
			sl_auth_key_to_hex(u->key2, hex);
			json_object_set_new(o, "key2", json_string(hex));
		}
		json_array_append_new(a, o);
	}
	memset(hex, 0, sizeof(hex));
	return a;
}

/* The policy settings by name, in SL_STATE_POLICY_F_* bit order. */
static const char *const policy_names[] = { "auth", "idle", "rate_limit" };

json_t *
sl_state_policy_to_json(const struct sl_state_policy *p)
{
	json_t *set = json_array();
	unsigned i;

	for (i = 0; set != NULL && i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (p->set & (1u << i))
			json_array_append_new(set, json_string(policy_names[i]));
	return json_pack("{s:s, s:s, s:I, s:o}", "auth", p->auth_required ? "required" : "open",
			 "idle", p->idle_backoff ? "backoff" : "busy",
			 "rate_limit", (json_int_t)p->rate_limit, "set", set);
}

json_t *
sl_state_acl_to_json(const struct sl_state_acl *a)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "user", a->user, "pattern", a->pattern, "perms",
			      sl_state_perms_json(a->perms));

	/* Only when set: absent (as in files before groups) is every group. */
	if (o != NULL && a->group[0] != '\0')
		json_object_set_new(o, "group", json_string(a->group));
	return o;
}

json_t *
sl_state_to_json(const struct sl_state *s)
{
	json_t *acls = json_array(), *groups = json_array();
	size_t i;

	for (i = 0; acls != NULL && i < s->n_acls; i++)
		json_array_append_new(acls, sl_state_acl_to_json(&s->acls[i]));
	for (i = 0; groups != NULL && i < s->n_groups; i++)
		json_array_append_new(groups, sl_state_group_to_json(&s->groups[i]));
	/* "o" steals each reference, also when the pack fails. */
	return json_pack("{s:i, s:i, s:o, s:o, s:o, s:o, s:o}", "version", STATE_VERSION,
			 "next_uid", (int)s->next_uid, "policy", sl_state_policy_to_json(&s->policy),
			 "topics", topics_to_json(s), "users", users_to_json(s), "acls", acls,
			 "groups", groups);
}

/* ---- from JSON ---- */

/* A string member copied into @dst of @cap bytes. */
static int
get_name(const json_t *o, const char *key, char *dst, size_t cap, const char *what, char *err,
	 size_t errlen)
{
	const char *v;

	if (sl_jget_str(o, key, &v) < 0)
		return errf(err, errlen, -EINVAL, "%s: \"%s\" must be a string", what, key);
	if (strlen(v) >= cap)
		return errf(err, errlen, -EINVAL, "%s: \"%s\" is longer than %zu characters", what,
			    key, cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
get_u64_opt(const json_t *o, const char *key, uint64_t *out, const char *what, char *err,
	    size_t errlen)
{
	int rc = sl_jget_u64(o, key, out);

	if (rc == -ENOENT) {
		*out = 0;
		return 0;
	}
	if (rc < 0)
		return errf(err, errlen, -EINVAL, "%s: \"%s\" must be an integer >= 0", what, key);
	return 0;
}

static int
moved_from_json(struct sl_state_topic *t, const json_t *m, char *err, size_t errlen)
{
	const char *pair = NULL, *addr = NULL;
	uint64_t epoch = 0;

	if (!json_is_object(m) || sl_jget_str(m, "pair", &pair) < 0 ||
	    sl_jget_str(m, "addr", &addr) < 0 || sl_jget_u64(m, "epoch", &epoch) < 0 ||
	    pair[0] == '\0' || strlen(pair) >= sizeof(t->moved.pair) ||
	    strlen(addr) >= sizeof(t->moved.addr) || epoch > UINT32_MAX)
		return errf(err, errlen, -EINVAL, "topic '%s': moved must be {\"pair\": NAME, "
			    "\"addr\": \"IP:PORT\", \"epoch\": N}", t->name);
	snprintf(t->moved.pair, sizeof(t->moved.pair), "%s", pair);
	snprintf(t->moved.addr, sizeof(t->moved.addr), "%s", addr);
	t->moved.epoch = (uint32_t)epoch;
	return 0;
}

static int
topic_from_json(struct sl_state_topic *t, const json_t *o, char *err, size_t errlen)
{
	const char *d = "none", *bp = "default", *enc = "optional";
	uint64_t w = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(o))
		return errf(err, errlen, -EINVAL, "topics: each entry must be an object");
	rc = get_name(o, "name", t->name, sizeof(t->name), "topic", err, errlen);
	if (rc < 0)
		return rc;
	if (sl_jget_str(o, "durability", &d) == -EINVAL ||
	    sl_state_durability_parse(d, &t->durability) < 0)
		return errf(err, errlen, -EINVAL, "topic '%s': durability must be none, async or "
			    "sync", t->name);
	/* Absent in files written before topics had a back-pressure policy. */
	if (sl_jget_str(o, "backpressure", &bp) == -EINVAL ||
	    sl_state_backpressure_parse(bp, &t->backpressure) < 0)
		return errf(err, errlen, -EINVAL, "topic '%s': backpressure must be drop, block, "
			    "disconnect or default", t->name);
	/* Absent in files of version 1: no requirement. */
	if (sl_jget_str(o, "encryption", &enc) == -EINVAL ||
	    sl_state_encryption_parse(enc, &t->encryption) < 0)
		return errf(err, errlen, -EINVAL, "topic '%s': encryption must be off, optional or "
			    "required", t->name);
	rc = get_u64_opt(o, "retain_mb", &t->retain_mb, t->name, err, errlen);
	if (rc == 0)
		rc = get_u64_opt(o, "retain_s", &t->retain_s, t->name, err, errlen);
	if (rc == 0)
		rc = get_u64_opt(o, "capacity_mb", &t->capacity_mb, t->name, err, errlen);
	if (rc == 0 && json_object_get(o, "retransmit_window") != NULL) {
		rc = get_u64_opt(o, "retransmit_window", &w, t->name, err, errlen);
		if (rc == 0 && w > SL_CNC_RETX_MAX)
			rc = errf(err, errlen, -EINVAL, "topic '%s': retransmit_window must be at "
				  "most %u", t->name, SL_CNC_RETX_MAX);
		t->retx_window = (uint32_t)w + 1;
	}
	/* Absent: the dataplane's max_message (and in files from before it). */
	if (rc == 0 && json_object_get(o, "max_message") != NULL) {
		rc = get_u64_opt(o, "max_message", &w, t->name, err, errlen);
		if (rc == 0 && (w < SL_MAX_PAYLOAD || w > SL_MAX_MESSAGE))
			rc = errf(err, errlen, -EINVAL, "topic '%s': max_message must be %u to %u "
				  "bytes", t->name, SL_MAX_PAYLOAD, SL_MAX_MESSAGE);
		t->max_message = (uint32_t)w;
	}
	/* Absent before version 4, and for an ordinary topic. */
	if (rc == 0 && json_object_get(o, "partitions") != NULL) {
		rc = get_u64_opt(o, "partitions", &w, t->name, err, errlen);
		if (rc == 0 && (w < 1 || w > SL_MAX_PARTITIONS))
			rc = errf(err, errlen, -EINVAL, "topic '%s': partitions must be 1 to %u",
				  t->name, SL_MAX_PARTITIONS);
		t->partitions = (uint16_t)w;
	}
	/* Absent: this pair owns the topic (and in files from before scale-out). */
	if (rc == 0 && json_object_get(o, "moved") != NULL)
		rc = moved_from_json(t, json_object_get(o, "moved"), err, errlen);
	return rc;
}

static int
user_from_json(struct sl_state_user *u, const json_t *o, char *err, size_t errlen)
{
	const char *hex, *enc = "optional";
	uint64_t uid;
	int admin = 0, rc;

	memset(u, 0, sizeof(*u));
	if (!json_is_object(o))
		return errf(err, errlen, -EINVAL, "users: each entry must be an object");
	rc = get_name(o, "name", u->name, sizeof(u->name), "user", err, errlen);
	if (rc < 0)
		return rc;
	if (sl_jget_u64(o, "uid", &uid) < 0 || uid > UINT16_MAX)
		return errf(err, errlen, -EINVAL, "user '%s': \"uid\" must be an integer 1..%d",
			    u->name, SL_STATE_MAX_USERS);
	u->uid = (uint16_t)uid;
	if (sl_jget_bool(o, "admin", &admin) == -EINVAL)
		return errf(err, errlen, -EINVAL, "user '%s': \"admin\" must be a boolean", u->name);
	u->admin = admin ? 1 : 0;
	if (sl_jget_str(o, "key", &hex) < 0 || strlen(hex) != 2 * SL_AUTH_KEY_LEN ||
	    sl_auth_key_from_hex(hex, u->key) < 0)
		return errf(err, errlen, -EINVAL, "user '%s': \"key\" must be %d hex digits",
			    u->name, 2 * SL_AUTH_KEY_LEN);
	rc = sl_jget_str(o, "key2", &hex);
	if (rc == -EINVAL || (rc == 0 && (strlen(hex) != 2 * SL_AUTH_KEY_LEN ||
					  sl_auth_key_from_hex(hex, u->key2) < 0)))
		return errf(err, errlen, -EINVAL, "user '%s': \"key2\" must be %d hex digits",
			    u->name, 2 * SL_AUTH_KEY_LEN);
	u->has_key2 = rc == 0;
	/* Absent in files of version 1: the default. */
	if (sl_jget_str(o, "encryption", &enc) == -EINVAL ||
	    sl_state_encryption_parse(enc, &u->encryption) < 0)
		return errf(err, errlen, -EINVAL, "user '%s': \"encryption\" must be off, optional "
			    "or required", u->name);
	return 0;
}

static int
perms_from_json(const json_t *arr, uint16_t *out)
{
	const json_t *p;
	size_t i;
	int bit;

	*out = 0;
	if (!json_is_array(arr))
		return -EINVAL;
	json_array_foreach(arr, i, p) {
		if (!json_is_string(p) || (bit = sl_state_perm_parse(json_string_value(p))) < 0)
			return -EINVAL;
		*out |= (uint16_t)bit;
	}
	return 0;
}

static int
acl_from_json(struct sl_state_acl *a, const json_t *o, char *err, size_t errlen)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(o))
		return errf(err, errlen, -EINVAL, "acls: each entry must be an object");
	rc = get_name(o, "user", a->user, sizeof(a->user), "acl", err, errlen);
	if (rc == 0)
		rc = get_name(o, "pattern", a->pattern, sizeof(a->pattern), "acl", err, errlen);
	if (rc < 0)
		return rc;
	if (perms_from_json(json_object_get(o, "perms"), &a->perms) < 0)
		return errf(err, errlen, -EINVAL, "acl '%s' '%s': \"perms\" must be a list of "
			    "pub, sub, admin, consume", a->user, a->pattern);
	/* Absent before version 3: every group. Checked by sl_state_validate. */
	if (json_object_get(o, "group") != NULL)
		return get_name(o, "group", a->group, sizeof(a->group), "acl", err, errlen);
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
policy_set_from_json(struct sl_state_policy *p, const json_t *arr, char *err, size_t errlen)
{
	const json_t *e;
	size_t k;
	unsigned i;

	p->set = 0;
	if (arr == NULL) {
		p->set = (p->auth_required ? SL_STATE_POLICY_F_AUTH : 0) |
			 (p->idle_backoff ? SL_STATE_POLICY_F_IDLE : 0) |
			 (p->rate_limit ? SL_STATE_POLICY_F_RATE : 0);
		return 0;
	}
	if (!json_is_array(arr))
		return errf(err, errlen, -EINVAL, "policy: \"set\" must be a list of auth, idle, "
			    "rate_limit");
	json_array_foreach(arr, k, e) {
		for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
			if (json_is_string(e) && strcmp(json_string_value(e), policy_names[i]) == 0)
				break;
		if (i == sizeof(policy_names) / sizeof(policy_names[0]))
			return errf(err, errlen, -EINVAL, "policy: \"set\" must be a list of auth, "
				    "idle, rate_limit");
		p->set |= (uint8_t)(1u << i);
	}
	return 0;
}

static int
policy_from_json(struct sl_state_policy *p, const json_t *o, char *err, size_t errlen)
{
	const char *auth = "open", *idle = "busy";
	uint64_t rate = 0;
	int rc;

	if (o == NULL)
		return 0;
	if (!json_is_object(o) || sl_jget_str(o, "auth", &auth) == -EINVAL ||
	    sl_jget_str(o, "idle", &idle) == -EINVAL ||
	    (strcmp(auth, "open") && strcmp(auth, "required")) ||
	    (strcmp(idle, "busy") && strcmp(idle, "backoff")))
		return errf(err, errlen, -EINVAL, "policy: auth must be open or required, idle "
			    "busy or backoff");
	p->auth_required = strcmp(auth, "required") == 0;
	p->idle_backoff = strcmp(idle, "backoff") == 0;
	/* Absent (a state.json older than the knob): no limit. */
	rc = sl_jget_u64(o, "rate_limit", &rate);
	if ((rc < 0 && rc != -ENOENT) || rate > SL_STATE_MAX_RATE)
		return errf(err, errlen, -EINVAL, "policy: rate_limit must be an integer 0..%u "
			    "(publishes per second per session, 0 = unlimited)", SL_STATE_MAX_RATE);
	p->rate_limit = (uint32_t)rate;
	return policy_set_from_json(p, json_object_get(o, "set"), err, errlen);
}

static const json_t *
get_array(const json_t *root, const char *key, char *err, size_t errlen)
{
	const json_t *a = json_object_get(root, key);

	if (!json_is_array(a)) {
		errf(err, errlen, -EINVAL, "\"%s\" must be an array", key);
		return NULL;
	}
	return a;
}

/* "groups": absent in files before version 3 (none). */
static int
groups_from_json(struct sl_state *s, const json_t *groups, char *err, size_t errlen)
{
	const json_t *e;
	size_t i;
	int rc;

	if (groups == NULL)
		return 0;
	if (!json_is_array(groups))
		return errf(err, errlen, -EINVAL, "\"groups\" must be an array");
	if (json_array_size(groups) > SL_STATE_MAX_GROUPS)
		return errf(err, errlen, -EINVAL, "more than %d groups", SL_STATE_MAX_GROUPS);
	if (sl_state_reserve_groups(s, json_array_size(groups)) < 0)
		return errf(err, errlen, -ENOMEM, "out of memory");
	json_array_foreach(groups, i, e) {
		rc = sl_state_group_from_json(&s->groups[s->n_groups++], e, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
lists_from_json(struct sl_state *s, const json_t *root, char *err, size_t errlen)
{
	const json_t *topics, *users, *acls, *e;
	size_t i;
	int rc = 0;

	topics = get_array(root, "topics", err, errlen);
	users = get_array(root, "users", err, errlen);
	acls = get_array(root, "acls", err, errlen);
	if (topics == NULL || users == NULL || acls == NULL)
		return -EINVAL;
	if (json_array_size(topics) > SL_STATE_MAX_TOPICS ||
	    json_array_size(users) > SL_STATE_MAX_USERS ||
	    json_array_size(acls) > SL_STATE_MAX_ACLS)
		return errf(err, errlen, -EINVAL, "more topics, users or ACL entries than allowed");
	if (sl_state_reserve(s, json_array_size(topics), json_array_size(acls)) < 0)
		return errf(err, errlen, -ENOMEM, "out of memory");
	json_array_foreach(topics, i, e) {
		rc = topic_from_json(&s->topics[s->n_topics++], e, err, errlen);
		if (rc < 0)
			return rc;
	}
	json_array_foreach(users, i, e) {
		rc = user_from_json(&s->users[s->n_users++], e, err, errlen);
		if (rc < 0)
			return rc;
	}
	json_array_foreach(acls, i, e) {
		rc = acl_from_json(&s->acls[s->n_acls++], e, err, errlen);
		if (rc < 0)
			return rc;
	}
	return groups_from_json(s, json_object_get(root, "groups"), err, errlen);
}

int
sl_state_from_json(struct sl_state *s, const json_t *root, char *err, size_t errlen)
{
	uint64_t v, next_uid = 1;
	int rc;

	if (!json_is_object(root))
		return errf(err, errlen, -EINVAL, "the state must be a JSON object");
	if (sl_jget_u64(root, "version", &v) < 0 || v < STATE_VERSION_MIN || v > STATE_VERSION)
		return errf(err, errlen, -EINVAL, "\"version\" must be %d to %d (a newer "
			    "sluice-control wrote it?)", STATE_VERSION_MIN, STATE_VERSION);
	if (get_u64_opt(root, "next_uid", &next_uid, "state", err, errlen) < 0)
		return -EINVAL;
	s->next_uid = next_uid >= 1 && next_uid <= SL_STATE_MAX_USERS ? (uint16_t)next_uid : 1;
	rc = policy_from_json(&s->policy, json_object_get(root, "policy"), err, errlen);
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
save_tmp(int dfd, const char *text, size_t len)
{
	int fd, rc;

	fd = openat(dfd, SL_STATE_FILE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, text, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* @s as the text of state.json (a line), into @out; free with wipe_free. */
static int
serialise(const struct sl_state *s, char **out, size_t *len)
{
	json_t *root = sl_state_to_json(s);
	char *text;

	if (root == NULL)
		return -ENOMEM;
	text = json_dumps(root, SL_JSON_DUMP_FLAGS);
	json_decref(root);
	if (text == NULL)
		return -ENOMEM;
	*len = strlen(text);
	if (*len + 1 > SL_STATE_MAX_FILE) {
		memset(text, 0, *len);
		free(text);
		return -E2BIG;
	}
	*out = text;
	return 0;
}

int
sl_state_save(const struct sl_state *s, const char *dir, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int dfd, rc;

	/* jansson's copies of the keys (in the tree, freed by decref) are
	 * not wiped: the process holds them in its state anyway. */
	rc = serialise(s, &text, &len);
	if (rc < 0) {
		errf(err, errlen, rc, "cannot serialise the state: %s", strerror(-rc));
		return rc;
	}
	text[len] = '\n'; /* the NUL goes: written by length */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = errf(err, errlen, -errno, "cannot open state directory %s: %s", dir,
			  strerror(errno));
		goto out;
	}
	rc = save_tmp(dfd, text, len + 1);
	if (rc == 0 && renameat(dfd, SL_STATE_FILE_TMP, dfd, SL_STATE_FILE) < 0)
		rc = -errno;
	/* The rename is durable only once the directory is. */
	if (rc == 0 && fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	if (rc < 0)
		errf(err, errlen, rc, "cannot save %s/%s: %s", dir, SL_STATE_FILE, strerror(-rc));
out:
	memset(text, 0, len + 1); /* keys */
	free(text);
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
	char path[PATH_MAX], why[256];
	json_error_t jerr;
	json_t *doc;
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
	doc = json_loadb(buf, len, SL_JSON_LOAD_FLAGS, &jerr);
	memset(buf, 0, len);
	free(buf);
	if (doc == NULL)
		return errf(err, errlen, -EINVAL, "%s is corrupt at byte %d: %s; restore it from a "
			    "backup or move it away to start empty", path, jerr.position, jerr.text);
	rc = sl_state_from_json(s, doc, why, sizeof(why));
	json_decref(doc);
	if (rc < 0) {
		sl_state_fini(s);
		return errf(err, errlen, -EINVAL, "%s is invalid: %s; fix it or move it away to "
			    "start empty", path, why);
	}
	return 0;
}
