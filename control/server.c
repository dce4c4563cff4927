/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket: JSON requests, one per line, from sluicectl; the commands behind them. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define MAX_OUT (32u << 20) /* a client that reads nothing is dropped past this */
#define MAX_RESULT (16u << 20)

struct client {
	int fd;
	char *in; /* SL_SERVER_MAX_LINE + 1 bytes */
	size_t in_len;
	int discarding; /* inside an over-long line: drop until its newline */
	struct sl_jw out;
	size_t out_off;
	int closing; /* close once out is sent */
	/* A request waiting for the dataplane. */
	int64_t ticket;
	struct sl_jw pending; /* its result value */
	char *pending_id;     /* its "id", serialised, or NULL */
};

struct sl_server {
	struct sl_ctl *ctl;
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *c[SL_SERVER_MAX_CLIENTS];
	size_t n;
};

/* One request being answered. */
struct req {
	struct sl_ctl *ctl;
	const struct sl_json *args;
	struct sl_jw *res; /* the result value */
	const char *code;
	char err[512];
	int64_t ticket;
};

typedef int (*cmd_fn)(struct req *r);

/* ---- errors and arguments ---- */

static int
req_fail(struct req *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
req_fail(struct req *r, const char *code, const char *fmt, ...)
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

/* Refuse arguments this command does not take: a typo must not pass. */
static int
args_only(struct req *r, const char *const *allowed)
{
	const struct sl_json *a;
	size_t i;

	if (r->args == NULL)
		return 0;
	for (a = r->args->v.kids.first; a != NULL; a = a->next) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(a->key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return req_fail(r, "invalid", "unknown argument '%.64s'", a->key);
	}
	return 0;
}

static int
arg_str(struct req *r, const char *key, int required, const char **out)
{
	int rc = sl_json_get_str(r->args, key, out);

	if (rc == -ENOENT && !required)
		return 0;
	if (rc == -ENOENT)
		return req_fail(r, "invalid", "missing argument '%s'", key);
	if (rc < 0)
		return req_fail(r, "invalid", "argument '%s' must be a string", key);
	return 0;
}

static int
arg_u64(struct req *r, const char *key, uint64_t *out)
{
	int rc = sl_json_get_u64(r->args, key, out);

	if (rc == -EINVAL)
		return req_fail(r, "invalid", "argument '%s' must be an integer >= 0", key);
	return 0;
}

static int
arg_bool(struct req *r, const char *key, int *out)
{
	if (sl_json_get_bool(r->args, key, out) == -EINVAL)
		return req_fail(r, "invalid", "argument '%s' must be true or false", key);
	return 0;
}

/* "perms": a list of pub, sub, admin. Absent: @dflt. */
static int
arg_perms(struct req *r, uint16_t dflt, uint16_t *out)
{
	const struct sl_json *a = sl_json_get(r->args, "perms"), *p;
	int bit;

	*out = dflt;
	if (a == NULL || a->type == SL_JSON_NULL)
		return 0;
	if (a->type != SL_JSON_ARR || a->v.kids.count == 0)
		return req_fail(r, "invalid", "'perms' must be a non-empty list of pub, sub, admin");
	*out = 0;
	for (p = a->v.kids.first; p != NULL; p = p->next) {
		if (p->type != SL_JSON_STR || (bit = sl_state_perm_parse(p->v.str.s)) < 0)
			return req_fail(r, "invalid", "unknown permission in 'perms': use pub, sub, "
				       "admin");
		*out |= (uint16_t)bit;
	}
	return 0;
}

/* ---- changing the state ---- */

/* Work on a copy; on success it replaces the state, once saved. */
static int
draft(struct req *r, struct sl_state *next)
{
	if (sl_state_copy(next, &r->ctl->state) < 0)
		return req_fail(r, "internal", "out of memory");
	return 0;
}

/* @msg may be r->err itself. */
static int
draft_fail(struct req *r, struct sl_state *next, int rc, const char *msg)
{
	char copy[sizeof(r->err)];

	snprintf(copy, sizeof(copy), "%s", msg);
	sl_state_fini(next);
	return req_fail(r, code_of(rc), "%s", copy);
}

/* Save @next, make it the state, and send @n commands. Nothing is
 * acknowledged before the state is on disk. */
static int
commit(struct req *r, struct sl_state *next, const struct sl_cnc_cmd *cmds, size_t n)
{
	char err[384];
	int64_t t;

	if (sl_state_save(next, r->ctl->state_dir, err, sizeof(err)) < 0) {
		sl_state_fini(next);
		sl_ctl_log(r->ctl, 1, "%s", err);
		return req_fail(r, "internal", "%s; nothing changed", err);
	}
	sl_state_fini(&r->ctl->state);
	r->ctl->state = *next;
	t = sl_sync_submit(r->ctl->sync, cmds, n, sl_ctl_now_ns());
	if (t < 0) {
		/* Stored; a resync carries it. */
		sl_sync_request_resync(r->ctl->sync);
		return req_fail(r, "dataplane", "stored, but the command queue to the dataplane is "
			       "full (%s); it will be sent with the next resync", strerror((int)-t));
	}
	r->ticket = t;
	return 0;
}

/* ---- the live view ---- */

static const struct sl_json *
live_topics(struct sl_ctl *ctl, struct sl_json_doc **doc)
{
	const struct sl_json *t;

	*doc = NULL;
	if (sl_ctl_snapshot(ctl, doc) < 0)
		return NULL;
	t = sl_json_get(sl_json_root(*doc), "topics");
	return t != NULL && t->type == SL_JSON_ARR ? t : NULL;
}

static const struct sl_json *
live_find(const struct sl_json *topics, const char *name)
{
	const struct sl_json *t, *found = NULL;
	const char *n;
	int del;

	/* A name deleted and created again appears twice (old and new id):
	 * the one not deleted is the topic. */
	for (t = topics ? topics->v.kids.first : NULL; t != NULL; t = t->next) {
		if (sl_json_get_str(t, "name", &n) < 0 || strcmp(n, name) != 0)
			continue;
		del = 0;
		sl_json_get_bool(t, "deleted", &del);
		if (!del)
			return t;
		found = found ? found : t;
	}
	return found;
}

/*
 * A topic: desired settings (@t, may be NULL) merged with live ones. The
 * snapshot's "backpressure" is what the dataplane applies: it comes out as
 * "backpressure_applied", next to the desired one ("default" leaves the
 * choice to the dataplane's configuration, so the two may differ).
 */
static void
topic_json(struct sl_jw *w, const struct sl_state_topic *t, const struct sl_json *live)
{
	const struct sl_json *k;
	const char *name = "", *dur = "none", *bp = "default";

	if (t == NULL) {
		sl_json_get_str(live, "name", &name);
		sl_json_get_str(live, "durability", &dur);
		sl_json_get_str(live, "backpressure", &bp);
	}
	sl_jw_obj_begin(w);
	sl_jw_key(w, "name");
	sl_jw_str(w, t ? t->name : name);
	sl_jw_key(w, "durability");
	sl_jw_str(w, t ? sl_durability_name(t->durability) : dur);
	sl_jw_key(w, "backpressure");
	sl_jw_str(w, t ? sl_cnc_bp_name(t->backpressure) : bp);
	sl_jw_key(w, "retain_mb");
	sl_jw_u64(w, t ? t->retain_mb : 0);
	sl_jw_key(w, "retain_s");
	sl_jw_u64(w, t ? t->retain_s : 0);
	sl_jw_key(w, "capacity_mb");
	sl_jw_u64(w, t ? t->capacity_mb : 0);
	sl_jw_key(w, "managed");
	sl_jw_bool(w, t != NULL);
	sl_jw_key(w, "live");
	sl_jw_bool(w, live != NULL);
	for (k = live ? live->v.kids.first : NULL; k != NULL; k = k->next) {
		if (strcmp(k->key, "name") == 0 || strcmp(k->key, "durability") == 0)
			continue;
		sl_jw_key(w, strcmp(k->key, "backpressure") == 0 ? "backpressure_applied" : k->key);
		sl_jw_value(w, k);
	}
	sl_jw_obj_end(w);
}

/* ---- topics ---- */

/*
 * The arguments topic.create and topic.update share: the name, durability
 * (default none), back-pressure (default: the dataplane's policy), retention
 * and capacity into @t (name not copied). 0, or -1 with @r answered.
 */
static int
topic_spec_args(struct req *r, struct sl_state_topic *t, const char **name)
{
	static const char *const ok[] = { "name", "durability", "backpressure", "retain_mb",
					  "retain_s", "capacity_mb", NULL };
	const char *dur = "none", *bp = "default";

	memset(t, 0, sizeof(*t));
	if (args_only(r, ok) || arg_str(r, "name", 1, name) || arg_str(r, "durability", 0, &dur) ||
	    arg_str(r, "backpressure", 0, &bp) || arg_u64(r, "retain_mb", &t->retain_mb) ||
	    arg_u64(r, "retain_s", &t->retain_s) || arg_u64(r, "capacity_mb", &t->capacity_mb))
		return -1;
	if (sl_state_durability_parse(dur, &t->durability) < 0)
		return req_fail(r, "invalid", "durability '%.32s' is invalid: use none, async or sync",
				dur);
	if (sl_state_backpressure_parse(bp, &t->backpressure) < 0)
		return req_fail(r, "invalid", "backpressure '%.32s' is invalid: use drop, block or "
				"disconnect (or default: the dataplane's configured policy)", bp);
	return 0;
}

static int
cmd_topic_create(struct req *r)
{
	struct sl_state_topic t;
	struct sl_state next;
	struct sl_cnc_cmd c;
	const char *name;
	int rc;

	if (topic_spec_args(r, &t, &name))
		return -1;
	if (strlen(name) >= sizeof(t.name))
		return req_fail(r, "invalid", "topic name is too long: at most %d characters", 200);
	memcpy(t.name, name, strlen(name) + 1);
	if (draft(r, &next))
		return -1;
	rc = sl_state_topic_add(&next, &t, r->err, sizeof(r->err));
	if (rc < 0)
		return draft_fail(r, &next, rc, r->err);
	sl_sync_cmd_topic(&c, &t);
	if (commit(r, &next, &c, 1))
		return -1;
	topic_json(r->res, &t, NULL);
	return 0;
}

/* Which update fields the request names (SL_STATE_TF_*). */
static unsigned
update_fields(const struct req *r)
{
	static const char *const keys[] = { "durability", "backpressure", "retain_mb", "retain_s",
					    "capacity_mb" };
	unsigned i, f = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (sl_json_get(r->args, keys[i]) != NULL)
			f |= 1u << i;
	return f;
}

_Static_assert(SL_STATE_TF_DURABILITY == 1 && SL_STATE_TF_BACKPRESSURE == 2 &&
	       SL_STATE_TF_RETAIN_MB == 4 && SL_STATE_TF_RETAIN_S == 8 &&
	       SL_STATE_TF_CAPACITY_MB == 16, "update_fields order");

static int
cmd_topic_update(struct req *r)
{
	struct sl_state_topic t, now;
	struct sl_json_doc *doc;
	struct sl_state next;
	struct sl_cnc_cmd c;
	const char *name;
	int rc, live;

	if (topic_spec_args(r, &t, &name))
		return -1;
	if (strlen(name) >= sizeof(t.name))
		return req_fail(r, "not_found", "no topic '%.200s'", name);
	memcpy(t.name, name, strlen(name) + 1);
	if (sl_state_topic_find(&r->ctl->state, name) == NULL) {
		live = live_find(live_topics(r->ctl, &doc), name) != NULL;
		sl_json_doc_free(doc);
		if (live)
			return req_fail(r, "invalid", "topic '%.200s' was created by a client, not "
					"through sluice-control: adopt it first with 'topic create "
					"%.200s' and its current durability", name, name);
	}
	if (draft(r, &next))
		return -1;
	rc = sl_state_topic_update(&next, &t, update_fields(r), &now, r->err, sizeof(r->err));
	if (rc < 0)
		return draft_fail(r, &next, rc, r->err);
	/* As TOPIC_UPSERT, but never creates: a topic deleted meanwhile stays so. */
	sl_sync_cmd_topic(&c, &now);
	c.type = SL_CNC_TOPIC_UPDATE;
	if (commit(r, &next, &c, 1))
		return -1;
	topic_json(r->res, &now, NULL);
	return 0;
}

static int
cmd_topic_delete(struct req *r)
{
	static const char *const ok[] = { "name", NULL };
	struct sl_sync_status st;
	struct sl_json_doc *doc;
	struct sl_state next;
	struct sl_cnc_cmd c;
	const char *name;
	int rc, live;

	if (args_only(r, ok) || arg_str(r, "name", 1, &name))
		return -1;
	if (strlen(name) >= SL_CNC_NAME_LEN)
		return req_fail(r, "not_found", "no topic '%.200s'", name);
	/* A resync never deletes, and a dataplane that starts reloads the
	 * journals it finds: only a dataplane that hears the delete can make
	 * it last. */
	sl_sync_status(r->ctl->sync, sl_ctl_now_ns(), &st);
	if (!st.attached)
		return req_fail(r, "dataplane", "no dataplane is attached, and deleting a topic "
				"removes its journal, which only the dataplane can do; nothing "
				"changed: retry once the dataplane runs");
	sl_sync_cmd_topic_delete(&c, name);
	if (sl_state_topic_find(&r->ctl->state, name) == NULL) {
		/* A topic a client created: the dataplane may know it. */
		live = live_find(live_topics(r->ctl, &doc), name) != NULL;
		sl_json_doc_free(doc);
		if (!live)
			return req_fail(r, "not_found", "no topic '%.200s'", name);
		r->ticket = sl_sync_submit(r->ctl->sync, &c, 1, sl_ctl_now_ns());
		r->ticket = r->ticket < 0 ? 0 : r->ticket;
		sl_jw_obj_begin(r->res);
		sl_jw_obj_end(r->res);
		return 0;
	}
	if (draft(r, &next))
		return -1;
	rc = sl_state_topic_remove(&next, name, r->err, sizeof(r->err));
	if (rc < 0)
		return draft_fail(r, &next, rc, r->err);
	if (commit(r, &next, &c, 1))
		return -1;
	sl_jw_obj_begin(r->res);
	sl_jw_obj_end(r->res);
	return 0;
}

static int
live_deleted(const struct sl_json *t)
{
	int del = 0;

	sl_json_get_bool(t, "deleted", &del);
	return del;
}

static int
cmd_topic_list(struct req *r)
{
	static const char *const ok[] = { NULL };
	const struct sl_json *topics, *t;
	struct sl_json_doc *doc;
	const char *name;
	size_t i;

	if (args_only(r, ok))
		return -1;
	topics = live_topics(r->ctl, &doc);
	sl_jw_arr_begin(r->res);
	for (i = 0; i < r->ctl->state.n_topics; i++)
		topic_json(r->res, &r->ctl->state.topics[i],
			   live_find(topics, r->ctl->state.topics[i].name));
	for (t = topics ? topics->v.kids.first : NULL; t != NULL; t = t->next) {
		if (sl_json_get_str(t, "name", &name) < 0 || live_deleted(t) ||
		    sl_state_topic_find(&r->ctl->state, name))
			continue;
		topic_json(r->res, NULL, t);
	}
	sl_jw_arr_end(r->res);
	sl_json_doc_free(doc);
	return 0;
}

static int
cmd_topic_show(struct req *r)
{
	static const char *const ok[] = { "name", NULL };
	const struct sl_state_topic *t;
	const struct sl_json *live;
	struct sl_json_doc *doc;
	const char *name;

	if (args_only(r, ok) || arg_str(r, "name", 1, &name))
		return -1;
	t = sl_state_topic_find(&r->ctl->state, name);
	live = live_find(live_topics(r->ctl, &doc), name);
	if (t == NULL && (live == NULL || live_deleted(live))) {
		sl_json_doc_free(doc);
		return req_fail(r, "not_found", "no topic '%.200s'", name);
	}
	topic_json(r->res, t, live);
	sl_json_doc_free(doc);
	return 0;
}

/* ---- users ---- */

static int
cmd_user_add(struct req *r)
{
	static const char *const ok[] = { "name", "admin", NULL };
	uint8_t key[SL_AUTH_KEY_LEN];
	char hex[2 * SL_AUTH_KEY_LEN + 1];
	struct sl_state next;
	struct sl_cnc_cmd c;
	const char *name;
	uint16_t uid;
	int admin = 0, rc;

	if (args_only(r, ok) || arg_str(r, "name", 1, &name) || arg_bool(r, "admin", &admin))
		return -1;
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return req_fail(r, "internal", "cannot make a key: getrandom: %s", strerror(errno));
	if (draft(r, &next))
		return -1;
	rc = sl_state_user_add(&next, name, admin, key, &uid, r->err, sizeof(r->err));
	if (rc < 0)
		return draft_fail(r, &next, rc, r->err);
	sl_sync_cmd_user(&c, sl_state_user_find(&next, name));
	rc = commit(r, &next, &c, 1);
	memset(&c, 0, sizeof(c));
	if (rc == 0) {
		sl_auth_key_to_hex(key, hex);
		sl_jw_obj_begin(r->res);
		sl_jw_key(r->res, "name");
		sl_jw_str(r->res, name);
		sl_jw_key(r->res, "uid");
		sl_jw_u64(r->res, uid);
		sl_jw_key(r->res, "key");
		sl_jw_str(r->res, hex);
		sl_jw_obj_end(r->res);
		memset(hex, 0, sizeof(hex));
	}
	memset(key, 0, sizeof(key));
	return rc;
}

static int
cmd_user_remove(struct req *r)
{
	static const char *const ok[] = { "name", NULL };
	struct sl_state_user *u, gone;
	struct sl_state next;
	struct sl_cnc_cmd c[2];
	const char *name;
	int rc;

	if (args_only(r, ok) || arg_str(r, "name", 1, &name))
		return -1;
	u = sl_state_user_find(&r->ctl->state, name);
	if (u == NULL)
		return req_fail(r, "not_found", "no user '%.64s'", name);
	gone = *u;
	if (draft(r, &next))
		return -1;
	rc = sl_state_user_remove(&next, name, r->err, sizeof(r->err));
	if (rc < 0)
		return draft_fail(r, &next, rc, r->err);
	sl_sync_cmd_acl_clear(&c[0], gone.uid);
	sl_sync_cmd_user_delete(&c[1], &gone);
	memset(&gone, 0, sizeof(gone));
	if (commit(r, &next, c, 2))
		return -1;
	sl_jw_obj_begin(r->res);
	sl_jw_obj_end(r->res);
	return 0;
}

static int
cmd_user_list(struct req *r)
{
	static const char *const ok[] = { NULL };
	size_t i;

	if (args_only(r, ok))
		return -1;
	sl_jw_arr_begin(r->res);
	for (i = 0; i < r->ctl->state.n_users; i++) {
		const struct sl_state_user *u = &r->ctl->state.users[i];

		sl_jw_obj_begin(r->res);
		sl_jw_key(r->res, "name");
		sl_jw_str(r->res, u->name);
		sl_jw_key(r->res, "uid");
		sl_jw_u64(r->res, u->uid);
		sl_jw_key(r->res, "admin");
		sl_jw_bool(r->res, u->admin);
		sl_jw_obj_end(r->res);
	}
	sl_jw_arr_end(r->res);
	return 0;
}

/* ---- ACLs ---- */

static void
acls_json(struct sl_jw *w, const struct sl_state *s, const char *user)
{
	size_t i;

	sl_jw_arr_begin(w);
	for (i = 0; i < s->n_acls; i++) {
		if (user != NULL && strcmp(s->acls[i].user, user) != 0)
			continue;
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
}

/* Grant or revoke: the dataplane gets the user's whole list again (ACL_CLEAR
 * then ACL_SET per entry), so it never has to merge. */
static int
acl_change(struct req *r, int grant)
{
	static const char *const ok[] = { "user", "pattern", "perms", NULL };
	const struct sl_state_user *u;
	const struct sl_state_acl *a;
	struct sl_cnc_cmd c;
	struct sl_state next;
	const char *user, *pattern;
	uint16_t perms;
	int rc;

	if (args_only(r, ok) || arg_str(r, "user", 1, &user) || arg_str(r, "pattern", 1, &pattern) ||
	    arg_perms(r, grant ? 0 : SL_PERM_PUB | SL_PERM_SUB | SL_PERM_ADMIN, &perms))
		return -1;
	if (grant && perms == 0)
		return req_fail(r, "invalid", "missing argument 'perms' (a list of pub, sub, admin)");
	if (draft(r, &next))
		return -1;
	rc = grant ? sl_state_acl_grant(&next, user, pattern, perms, r->err, sizeof(r->err))
		   : sl_state_acl_revoke(&next, user, pattern, perms, r->err, sizeof(r->err));
	if (rc < 0)
		return draft_fail(r, &next, rc, r->err);
	/* Only the entry that changed, set to the perms it has now (0: gone):
	 * the user's other entries stay in force throughout. */
	u = sl_state_user_find(&next, user);
	a = sl_state_acl_find(&next, user, pattern);
	sl_sync_cmd_acl_set(&c, u->uid, pattern, a != NULL ? a->perms : 0);
	if (commit(r, &next, &c, 1))
		return -1;
	if (grant)
		acls_json(r->res, &r->ctl->state, user);
	else {
		sl_jw_obj_begin(r->res);
		sl_jw_obj_end(r->res);
	}
	return 0;
}

static int
cmd_acl_grant(struct req *r)
{
	return acl_change(r, 1);
}

static int
cmd_acl_revoke(struct req *r)
{
	return acl_change(r, 0);
}

static int
cmd_acl_list(struct req *r)
{
	static const char *const ok[] = { "user", NULL };
	const char *user = NULL;

	if (args_only(r, ok) || arg_str(r, "user", 0, &user))
		return -1;
	if (user != NULL && sl_state_user_find(&r->ctl->state, user) == NULL)
		return req_fail(r, "not_found", "no user '%.64s'", user);
	acls_json(r->res, &r->ctl->state, user);
	return 0;
}

/* ---- policy ---- */

static int
cmd_policy_set(struct req *r)
{
	static const char *const ok[] = { "auth", "idle", "rate_limit", NULL };
	const char *auth = NULL, *idle = NULL;
	uint64_t rate = 0;
	int have_rate;
	struct sl_cnc_cmd c[3];
	struct sl_state next;
	size_t n = 0;

	if (args_only(r, ok) || arg_str(r, "auth", 0, &auth) || arg_str(r, "idle", 0, &idle) ||
	    arg_u64(r, "rate_limit", &rate))
		return -1;
	have_rate = sl_json_get_u64(r->args, "rate_limit", &rate) == 0;
	if (auth == NULL && idle == NULL && !have_rate)
		return req_fail(r, "invalid", "give 'auth' (open or required), 'idle' (busy or "
			       "backoff) and/or 'rate_limit' (publishes per second per session, "
			       "0 = unlimited)");
	if (auth != NULL && strcmp(auth, "open") != 0 && strcmp(auth, "required") != 0)
		return req_fail(r, "invalid", "auth '%.32s' is invalid: use open or required", auth);
	if (idle != NULL && strcmp(idle, "busy") != 0 && strcmp(idle, "backoff") != 0)
		return req_fail(r, "invalid", "idle '%.32s' is invalid: use busy or backoff", idle);
	if (have_rate && rate > SL_STATE_MAX_RATE)
		return req_fail(r, "invalid", "rate_limit %llu is invalid: use 0..%u publishes per "
			       "second per session (0 = unlimited)", (unsigned long long)rate,
			       SL_STATE_MAX_RATE);
	if (draft(r, &next))
		return -1;
	/* What the operator names here is set from now on: resyncs resend it. */
	if (auth != NULL) {
		next.policy.auth_required = strcmp(auth, "required") == 0;
		next.policy.set |= SL_STATE_POLICY_F_AUTH;
		sl_sync_cmd_value(&c[n++], SL_CNC_AUTH_MODE, next.policy.auth_required);
	}
	if (idle != NULL) {
		next.policy.idle_backoff = strcmp(idle, "backoff") == 0;
		next.policy.set |= SL_STATE_POLICY_F_IDLE;
		sl_sync_cmd_value(&c[n++], SL_CNC_SET_IDLE, next.policy.idle_backoff);
	}
	if (have_rate) {
		next.policy.rate_limit = (uint32_t)rate;
		next.policy.set |= SL_STATE_POLICY_F_RATE;
		sl_sync_cmd_value(&c[n++], SL_CNC_SET_RATE, next.policy.rate_limit);
	}
	if (commit(r, &next, c, n))
		return -1;
	sl_state_policy_to_json(&r->ctl->state.policy, r->res);
	return 0;
}

static int
cmd_policy_show(struct req *r)
{
	static const char *const ok[] = { NULL };

	if (args_only(r, ok))
		return -1;
	sl_state_policy_to_json(&r->ctl->state.policy, r->res);
	return 0;
}

/* ---- dataplane views ---- */

static const char *
no_dataplane(struct sl_ctl *ctl)
{
	static char msg[160];

	snprintf(msg, sizeof(msg), "no dataplane attached: is sluice-dataplane -n %s running?",
		 ctl->name);
	return msg;
}

/* Per-second rates of the "counters" of @cur against @base. */
static void
rates_json(struct sl_jw *w, const struct sl_json *cur, const struct sl_json *base, double dt)
{
	const struct sl_json *k, *b;

	sl_jw_obj_begin(w);
	cur = sl_json_get(cur, "counters");
	base = sl_json_get(base, "counters");
	for (k = cur ? cur->v.kids.first : NULL; k != NULL && dt > 0; k = k->next) {
		b = sl_json_get(base, k->key);
		if (b == NULL || !(k->flags & SL_JSON_F_UINT) || !(b->flags & SL_JSON_F_UINT) ||
		    k->v.num.u < b->v.num.u)
			continue;
		sl_jw_key(w, k->key);
		sl_jw_double(w, (double)(k->v.num.u - b->v.num.u) / dt);
	}
	sl_jw_obj_end(w);
}

static int
cmd_stats(struct req *r)
{
	static const char *const ok[] = { NULL };
	struct sl_ctl *ctl = r->ctl;
	const struct sl_json *root, *k;
	struct sl_json_doc *doc;
	uint64_t ts = 0;
	int rc;

	if (args_only(r, ok))
		return -1;
	rc = sl_ctl_snapshot(ctl, &doc);
	if (rc == -ENOTCONN)
		return req_fail(r, "dataplane", "%s", no_dataplane(ctl));
	if (rc < 0)
		return req_fail(r, "dataplane", "the dataplane's stats snapshot is %s",
				rc == -EAGAIN ? "busy: try again" : "unreadable");
	root = sl_json_root(doc);
	if (sl_json_get_u64(root, "ts_ns", &ts) < 0)
		ts = sl_ctl_now_ns();
	if (ctl->stats_last == NULL || ts != ctl->stats_last_ts) {
		sl_json_doc_free(ctl->stats_base);
		ctl->stats_base = ctl->stats_last;
		ctl->stats_base_ts = ctl->stats_last_ts;
		ctl->stats_last = doc;
		ctl->stats_last_ts = ts;
	} else
		sl_json_doc_free(doc);
	root = sl_json_root(ctl->stats_last);
	sl_jw_obj_begin(r->res);
	for (k = root->type == SL_JSON_OBJ ? root->v.kids.first : NULL; k != NULL; k = k->next) {
		if (strcmp(k->key, "rates") == 0)
			continue;
		sl_jw_key(r->res, k->key);
		sl_jw_value(r->res, k);
	}
	sl_jw_key(r->res, "rates");
	rates_json(r->res, root, ctl->stats_base ? sl_json_root(ctl->stats_base) : NULL,
		   ctl->stats_base ? (double)(ctl->stats_last_ts - ctl->stats_base_ts) / 1e9 : 0);
	sl_jw_obj_end(r->res);
	return 0;
}

static size_t
array_len(const struct sl_json *root, const char *key)
{
	const struct sl_json *a = sl_json_get(root, key);

	return a != NULL && a->type == SL_JSON_ARR ? a->v.kids.count : 0;
}

static int
cmd_dataplane_status(struct req *r)
{
	static const char *const ok[] = { NULL };
	struct sl_sync_status st;
	struct sl_json_doc *doc = NULL;
	const struct sl_json *root = NULL;
	uint64_t now = sl_ctl_now_ns();

	if (args_only(r, ok))
		return -1;
	sl_sync_status(r->ctl->sync, now, &st);
	if (st.attached && sl_ctl_snapshot(r->ctl, &doc) == 0)
		root = sl_json_root(doc);
	sl_jw_obj_begin(r->res);
	sl_jw_key(r->res, "attached");
	sl_jw_bool(r->res, st.attached);
	sl_jw_key(r->res, "pid");
	sl_jw_i64(r->res, st.dp_pid);
	sl_jw_key(r->res, "uptime_s");
	sl_jw_double(r->res, st.attached && now > st.dp_start_ns
				     ? (double)(now - st.dp_start_ns) / 1e9 : 0.0);
	sl_jw_key(r->res, "heartbeat_age_ms");
	sl_jw_u64(r->res, st.heartbeat_age_ms);
	sl_jw_key(r->res, "workers");
	sl_jw_u64(r->res, array_len(root, "workers"));
	sl_jw_key(r->res, "ports");
	sl_jw_u64(r->res, array_len(root, "ports"));
	sl_jw_key(r->res, "synced");
	sl_jw_bool(r->res, st.synced);
	sl_jw_key(r->res, "stale");
	sl_jw_bool(r->res, st.stale);
	sl_jw_key(r->res, "syncs");
	sl_jw_u64(r->res, st.syncs);
	sl_jw_key(r->res, "syncs_completed");
	sl_jw_u64(r->res, st.syncs_completed);
	sl_jw_obj_end(r->res);
	sl_json_doc_free(doc);
	return 0;
}

static const struct {
	const char *name;
	cmd_fn fn;
} cmds[] = {
	{ "topic.create", cmd_topic_create },	{ "topic.delete", cmd_topic_delete },
	{ "topic.update", cmd_topic_update },
	{ "topic.list", cmd_topic_list },	{ "topic.show", cmd_topic_show },
	{ "user.add", cmd_user_add },		{ "user.remove", cmd_user_remove },
	{ "user.list", cmd_user_list },		{ "acl.grant", cmd_acl_grant },
	{ "acl.revoke", cmd_acl_revoke },	{ "acl.list", cmd_acl_list },
	{ "policy.set", cmd_policy_set },	{ "policy.show", cmd_policy_show },
	{ "stats", cmd_stats },			{ "dataplane.status", cmd_dataplane_status },
};

/* ---- requests and answers ---- */

static void
answer_error(struct sl_jw *out, const char *id, const char *code, const char *msg)
{
	sl_jw_obj_begin(out);
	if (id != NULL) {
		sl_jw_key(out, "id");
		sl_jw_json(out, id, strlen(id));
	}
	sl_jw_key(out, "ok");
	sl_jw_bool(out, 0);
	sl_jw_key(out, "error");
	sl_jw_str(out, msg);
	sl_jw_key(out, "code");
	sl_jw_str(out, code);
	sl_jw_obj_end(out);
	sl_jw_raw(out, "\n", 1);
}

static void
answer_ok(struct sl_jw *out, const char *id, const struct sl_jw *res)
{
	sl_jw_obj_begin(out);
	if (id != NULL) {
		sl_jw_key(out, "id");
		sl_jw_json(out, id, strlen(id));
	}
	sl_jw_key(out, "ok");
	sl_jw_bool(out, 1);
	sl_jw_key(out, "result");
	sl_jw_json(out, res->buf ? res->buf : "{}", res->buf ? res->len : 2);
	sl_jw_obj_end(out);
	sl_jw_raw(out, "\n", 1);
}

/* The request's "id" (any JSON value), re-serialised, or NULL. */
static char *
request_id(const struct sl_json *root)
{
	const struct sl_json *id = sl_json_get(root, "id");
	struct sl_jw w;

	if (id == NULL)
		return NULL;
	sl_jw_init(&w, 4096);
	sl_jw_value(&w, id);
	if (w.err) {
		sl_jw_free(&w);
		return NULL;
	}
	return w.buf;
}

static int
envelope(const struct sl_json *root, const char **cmd, const struct sl_json **args, char *err,
	 size_t errlen)
{
	const struct sl_json *k;

	if (root->type != SL_JSON_OBJ)
		return snprintf(err, errlen, "a request must be a JSON object"), -1;
	for (k = root->v.kids.first; k != NULL; k = k->next)
		if (strcmp(k->key, "cmd") && strcmp(k->key, "args") && strcmp(k->key, "id"))
			return snprintf(err, errlen, "unknown request member '%.64s'", k->key), -1;
	if (sl_json_get_str(root, "cmd", cmd) < 0)
		return snprintf(err, errlen, "a request needs \"cmd\", a string"), -1;
	*args = sl_json_get(root, "args");
	if (*args != NULL && (*args)->type == SL_JSON_NULL)
		*args = NULL;
	if (*args != NULL && (*args)->type != SL_JSON_OBJ)
		return snprintf(err, errlen, "\"args\" must be an object"), -1;
	return 0;
}

static void
run_cmd(struct client *cl, struct req *r, const char *cmd, char *id)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		snprintf(r->err, sizeof(r->err), "unknown cmd '%.64s'", cmd);
		answer_error(&cl->out, id, "invalid", r->err);
		free(id);
		return;
	}
	if (cmds[i].fn(r) < 0) {
		answer_error(&cl->out, id, r->code ? r->code : "internal", r->err);
		free(id);
	} else if (r->res->err) {
		answer_error(&cl->out, id, "internal", "the answer is too large");
		free(id);
	} else if (r->ticket > 0) {
		cl->ticket = r->ticket;
		cl->pending = *r->res;
		sl_jw_init(r->res, MAX_RESULT);
		cl->pending_id = id;
	} else {
		answer_ok(&cl->out, id, r->res);
		free(id);
	}
}

static void
handle_line(struct sl_server *srv, struct client *cl, const char *line, size_t len)
{
	struct sl_json_limits lim = { SL_SERVER_MAX_LINE, 16, 1u << 20 };
	struct req r = { .ctl = srv->ctl };
	struct sl_json_error jerr;
	struct sl_json_doc *doc;
	struct sl_jw res;
	const char *cmd;
	char err[160];

	if (sl_json_parse(&doc, line, len, &lim, &jerr) < 0) {
		snprintf(r.err, sizeof(r.err), "bad JSON at byte %zu: %s", jerr.offset, jerr.msg);
		answer_error(&cl->out, NULL, "invalid", r.err);
		return;
	}
	if (envelope(sl_json_root(doc), &cmd, &r.args, err, sizeof(err)) < 0) {
		answer_error(&cl->out, NULL, "invalid", err);
		sl_json_doc_free(doc);
		return;
	}
	sl_jw_init(&res, MAX_RESULT);
	r.res = &res;
	run_cmd(cl, &r, cmd, request_id(sl_json_root(doc)));
	sl_jw_free(&res);
	sl_json_doc_free(doc);
}

/* ---- connections ---- */

static void
client_free(struct sl_server *srv, size_t i)
{
	struct client *cl = srv->c[i];

	if (cl->ticket > 0)
		sl_sync_ticket_forget(srv->ctl->sync, cl->ticket);
	close(cl->fd);
	free(cl->in);
	sl_jw_free(&cl->out);
	sl_jw_free(&cl->pending);
	free(cl->pending_id);
	free(cl);
	srv->c[i] = srv->c[--srv->n];
}

/* Handle every complete line in the input buffer, unless waiting. */
static void
client_lines(struct sl_server *srv, struct client *cl)
{
	char *nl;
	size_t used;

	while (cl->ticket == 0 && !cl->closing &&
	       (nl = memchr(cl->in, '\n', cl->in_len)) != NULL) {
		used = (size_t)(nl - cl->in) + 1;
		if (cl->discarding)
			cl->discarding = 0;
		else if (used > 1 && !(used == 2 && cl->in[0] == '\r'))
			handle_line(srv, cl, cl->in, used - 1);
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
	}
	if (cl->in_len > SL_SERVER_MAX_LINE && memchr(cl->in, '\n', cl->in_len) == NULL) {
		if (!cl->discarding)
			answer_error(&cl->out, NULL, "invalid",
				     "request line longer than 65536 bytes: refused");
		cl->discarding = 1;
		cl->in_len = 0;
	}
}

static int
client_read(struct sl_server *srv, struct client *cl)
{
	ssize_t n;

	if (cl->in_len > SL_SERVER_MAX_LINE)
		return 0; /* waiting for the dataplane with a full buffer */
	n = read(cl->fd, cl->in + cl->in_len, SL_SERVER_MAX_LINE + 1 - cl->in_len);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	cl->in_len += (size_t)n;
	client_lines(srv, cl);
	return 0;
}

static int
client_write(struct client *cl)
{
	ssize_t n;

	if (cl->out.err)
		return -1;
	while (cl->out_off < cl->out.len) {
		n = send(cl->fd, cl->out.buf + cl->out_off, cl->out.len - cl->out_off,
			 MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		cl->out_off += (size_t)n;
	}
	cl->out.len = cl->out_off = 0;
	return cl->closing ? -1 : 0;
}

static void
accept_clients(struct sl_server *srv)
{
	struct client *cl;
	int fd;

	while ((fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (srv->n >= SL_SERVER_MAX_CLIENTS) {
			sl_ctl_log(srv->ctl, 1, "admin socket: too many clients, refusing one");
			close(fd);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (cl == NULL || (cl->in = malloc(SL_SERVER_MAX_LINE + 1)) == NULL) {
			free(cl);
			close(fd);
			continue;
		}
		cl->fd = fd;
		sl_jw_init(&cl->out, MAX_OUT);
		sl_jw_init(&cl->pending, MAX_RESULT);
		srv->c[srv->n++] = cl;
	}
}

size_t
sl_server_pollfds(struct sl_server *srv, struct pollfd *fds, size_t cap)
{
	size_t i, n = 0;

	if (cap == 0)
		return 0;
	fds[n].fd = srv->lfd;
	fds[n++].events = POLLIN;
	for (i = 0; i < srv->n && n < cap; i++) {
		fds[n].fd = srv->c[i]->fd;
		/* While a request waits for the dataplane, the next ones wait
		 * in the socket: answers keep the order of requests. */
		fds[n].events = (short)((srv->c[i]->out.len > srv->c[i]->out_off ? POLLOUT : 0) |
					(srv->c[i]->ticket == 0 ? POLLIN : 0));
		n++;
	}
	return n;
}

void
sl_server_handle(struct sl_server *srv, const struct pollfd *fds, size_t n)
{
	size_t i, j;

	/* Clients first, by fd: the array shifts when one closes. */
	for (j = 1; j < n; j++) {
		for (i = 0; i < srv->n && srv->c[i]->fd != fds[j].fd; i++)
			;
		if (i == srv->n || fds[j].revents == 0)
			continue;
		if (((fds[j].revents & (POLLIN | POLLHUP | POLLERR)) &&
		     client_read(srv, srv->c[i]) < 0) ||
		    client_write(srv->c[i]) < 0)
			client_free(srv, i);
	}
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_clients(srv);
}

void
sl_server_tick(struct sl_server *srv)
{
	struct client *cl;
	char msg[200], err[320];
	size_t i;
	int rc;

	for (i = 0; i < srv->n; i++) {
		cl = srv->c[i];
		if (cl->ticket == 0)
			continue;
		rc = sl_sync_ticket_poll(srv->ctl->sync, cl->ticket, msg, sizeof(msg));
		if (rc == 0)
			continue;
		if (rc > 0 || rc == -ENOENT)
			answer_ok(&cl->out, cl->pending_id, &cl->pending);
		else {
			snprintf(err, sizeof(err), "stored, but %s", msg);
			answer_error(&cl->out, cl->pending_id, "dataplane", err);
		}
		cl->ticket = 0;
		sl_jw_free(&cl->pending);
		sl_jw_init(&cl->pending, MAX_RESULT);
		free(cl->pending_id);
		cl->pending_id = NULL;
		client_lines(srv, cl);
		if (client_write(cl) < 0)
			client_free(srv, i--);
	}
	/* Answers written by handle_line: try to send them now. */
	for (i = 0; i < srv->n; i++)
		if (srv->c[i]->out.len > srv->c[i]->out_off && client_write(srv->c[i]) < 0)
			client_free(srv, i--);
}

/* ---- the listening socket ---- */

/* Is someone answering on @path? Then it is not ours to remove. */
static int
socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), used;

	if (fd < 0)
		return 0;
	used = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return used;
}

static int
socket_dir(struct sl_ctl *ctl, const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (slash = dir + 1; *slash; slash++) {
		if (*slash != '/')
			continue;
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		sl_ctl_log(ctl, 1, "cannot create %s: %s", dir, strerror(errno));
		return rc;
	}
	return 0;
}

static int
socket_perms(struct sl_ctl *ctl, const char *path, const char *group)
{
	struct group *g;

	if (group != NULL) {
		g = getgrnam(group);
		if (g == NULL) {
			sl_ctl_log(ctl, 1, "--socket-group %s: no such group", group);
			return -EINVAL;
		}
		if (chown(path, (uid_t)-1, g->gr_gid) < 0) {
			sl_ctl_log(ctl, 1, "cannot give %s to group %s: %s", path, group,
				   strerror(errno));
			return -errno;
		}
	}
	/* Who may connect may administer: owner and group only. */
	if (chmod(path, 0660) < 0) {
		sl_ctl_log(ctl, 1, "cannot chmod %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int
sl_server_open(struct sl_server **out, struct sl_ctl *ctl, const char *path, const char *group)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sl_server *srv;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		sl_ctl_log(ctl, 1, "socket path %s is too long (max %zu)", path,
			   sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (socket_in_use(&sa)) {
		sl_ctl_log(ctl, 1, "another sluice-control answers on %s: stop it first", path);
		return -EADDRINUSE;
	}
	rc = socket_dir(ctl, path);
	if (rc < 0)
		return rc;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -ENOMEM;
	srv->ctl = ctl;
	memcpy(srv->path, path, strlen(path) + 1);
	unlink(path); /* a socket left by a control process that died */
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0 || bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(srv->lfd, 64) < 0) {
		rc = -errno;
		sl_ctl_log(ctl, 1, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = socket_perms(ctl, path, group);
	if (rc < 0)
		goto fail_unlink;
	*out = srv;
	return 0;
fail_unlink:
	unlink(path);
fail:
	if (srv->lfd >= 0)
		close(srv->lfd);
	free(srv);
	return rc;
}

void
sl_server_close(struct sl_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->n > 0)
		client_free(srv, srv->n - 1);
	close(srv->lfd);
	unlink(srv->path);
	free(srv);
}
