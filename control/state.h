/* SPDX-License-Identifier: BSD-3-Clause */
/* The control plane's desired state: topics, users, ACLs, policy; validated and persisted. */

#ifndef SLUICE_CONTROL_STATE_H
#define SLUICE_CONTROL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <common/auth.h>
#include <common/cnc.h>
#include <common/keyhash.h>
#include <common/policy.h>

#include <jansson.h>

/*
 * What sluice-control wants the dataplane to hold. Every mutating call
 * validates its arguments completely before it changes anything: on error
 * the state is as it was, and @err (when not NULL) says what was wrong and
 * what to do, in words fit for an operator. Errors:
 *   -EINVAL  bad argument (name, pattern, durability, back-pressure, perms, range)
 *   -EEXIST  the topic or user exists already
 *   -ENOENT  no such topic, user or ACL entry
 *   -ENOSPC  a table is full
 *   -ENOMEM
 * Not thread-safe: sluice-control is single-threaded.
 */

#define SL_STATE_MAX_TOPICS 4096
#define SL_STATE_MAX_USERS (SL_CNC_MAX_USERS - 1) /* uids 1..255 */
#define SL_STATE_MAX_ACLS 4096
#define SL_STATE_MAX_GROUPS 4096
#define SL_STATE_MAX_MB (1ull << 40) /* retain_mb, capacity_mb: bytes fit in 64 bits */
#define SL_STATE_MAX_RETAIN_S (1ull << 40)
#define SL_STATE_MAX_RATE 100000000u /* policy.rate_limit: publishes/s per session */
#define SL_STATE_FILE "state.json"
#define SL_STATE_FILE_TMP "state.json.tmp"
#define SL_STATE_MAX_FILE (16u << 20)


struct sl_state_topic {
	char name[SL_CNC_NAME_LEN];
	uint8_t durability;   /* enum sl_durability */
	uint8_t backpressure; /* SL_CNC_BP_*: 0 = the dataplane's configured policy */
	uint64_t retain_mb;   /* 0 = the dataplane's default */
	uint64_t retain_s;    /* 0 = the dataplane's default */
	uint64_t capacity_mb; /* 0 = the dataplane's default */
	uint32_t retx_window; /* SL_CNC_RETX_DEFAULT, or 1 + messages (1: none) */
	uint8_t encryption;   /* SL_CNC_ENC_*: what UDP sessions must use for it */
	uint32_t max_message; /* largest message, bytes; 0 = the dataplane's max_message */
	uint16_t partitions;  /* 0: an ordinary topic; N: partitioned, its partitions the
			       * ordinary topics NAME#0 .. NAME#N-1 (state_part.c) */
	/* Scale-out (placement.c): the pair the topic moved to; pair "" while
	 * this pair owns it. The dataplane answers its clients SL_E_MOVED. */
	struct sl_state_moved {
		char pair[SL_CNC_PAIR_LEN];
		char addr[24]; /* "a.b.c.d:port" */
		uint32_t epoch;
	} moved;
};

/*
 * A user holds one key, or two while a key is rolled over: user.key_add
 * makes a new key the first and keeps the old one valid as the second
 * (key2), user.key_retire drops the second. Sessions proved with a key
 * that is no longer held end.
 */
struct sl_state_user {
	char name[SL_AUTH_USER_LEN];
	uint16_t uid; /* 1..255, stable while the user exists */
	uint8_t admin;
	uint8_t encryption; /* SL_CNC_ENC_*: what its UDP sessions use */
	uint8_t has_key2;   /* key2 is valid too */
	uint8_t key[SL_AUTH_KEY_LEN];  /* the newest key */
	uint8_t key2[SL_AUTH_KEY_LEN]; /* the older one, while has_key2 */
};

struct sl_state_acl {
	char user[SL_AUTH_USER_LEN];
	char pattern[SL_CNC_NAME_LEN];
	uint16_t perms; /* SL_PERM_*, never 0 */
	/* SL_PERM_CONSUME covers this one group of the matching topics; ""
	 * every group. Other rights ignore it. */
	char group[SL_CNC_GROUP_NAME_LEN];
};

/* Distribution policies of a consumer group (struct sl_cnc_group.policy). */
#define SL_STATE_GROUP_RR 1    /* round-robin */
#define SL_STATE_GROUP_LEAST 2 /* least outstanding */
#define SL_STATE_GROUP_KEY 3   /* key affinity */

/* Defaults of group.create (docs/CONTROL.md). */
#define SL_STATE_GROUP_ACK_WAIT_MS 30000u
#define SL_STATE_GROUP_MAX_DELIVERIES 5u
#define SL_STATE_GROUP_GRACE_MS 5000u
#define SL_STATE_GROUP_MAX_MS (24u * 3600u * 1000u) /* ack_wait_ms, grace_ms: a day */

/*
 * A consumer group: one topic's, named; what GROUP_UPSERT carries. Its
 * topic need not be in the desired state (a topic a client created may
 * hold groups); the dataplane refuses a group whose topic it lacks.
 */
struct sl_state_group {
	char topic[SL_CNC_NAME_LEN];
	char name[SL_CNC_GROUP_NAME_LEN];
	char dead_letter[SL_CNC_NAME_LEN]; /* a topic, or "" (dead letters dropped, counted) */
	uint8_t policy;		 /* SL_STATE_GROUP_* */
	uint8_t flags;		 /* SL_CNC_GROUP_F_DURABLE, SL_CNC_GROUP_F_RETAIN */
	uint32_t ack_wait_ms;	 /* 0: no ack-wait redelivery */
	uint32_t max_deliveries; /* 0: no dead-lettering */
	uint32_t grace_ms;	 /* a disconnected member's time to rejoin */
	uint32_t max_inflight;	 /* 0: the dataplane's default */
};

/*
 * Which settings of the policy an operator set through control (policy.set).
 * Only those are ever sent to a dataplane: one that is not set is left as
 * the dataplane has it (its configuration, or an earlier control's command),
 * so a control process with fresh state changes nothing. Saved with the
 * state ("set" in "policy").
 */
#define SL_STATE_POLICY_F_AUTH (1u << 0)
#define SL_STATE_POLICY_F_IDLE (1u << 1)
#define SL_STATE_POLICY_F_RATE (1u << 2)
#define SL_STATE_POLICY_F_ALL (SL_STATE_POLICY_F_AUTH | SL_STATE_POLICY_F_IDLE | \
			       SL_STATE_POLICY_F_RATE)

struct sl_state_policy {
	uint8_t auth_required; /* 0 open, 1 required */
	uint8_t idle_backoff;  /* 0 busy, 1 backoff */
	uint8_t set;	       /* SL_STATE_POLICY_F_*: the settings an operator set */
	uint32_t rate_limit;   /* publishes/s per session, 0 = unlimited; <= SL_STATE_MAX_RATE */
};

struct sl_state {
	struct sl_state_topic *topics;
	size_t n_topics, cap_topics;
	struct sl_state_user users[SL_STATE_MAX_USERS];
	size_t n_users;
	struct sl_state_acl *acls;
	size_t n_acls, cap_acls;
	struct sl_state_group *groups;
	size_t n_groups, cap_groups;
	struct sl_state_policy policy;
	uint16_t next_uid; /* where the search for a free uid starts */
};

/* An empty state: no topics, users or ACLs, no policy setting set (their
 * values read auth open, idle busy, no rate limit, and are never sent). */
void sl_state_init(struct sl_state *s);
void sl_state_fini(struct sl_state *s);

/* Deep copy into @dst, which holds nothing (never initialised, or
 * finalised). Returns 0 or -ENOMEM (then @dst holds nothing). */
int sl_state_copy(struct sl_state *dst, const struct sl_state *src);

/* Names and parsers, for messages and the socket protocol. */
int sl_state_durability_parse(const char *s, uint8_t *out); /* 0 or -EINVAL */
/* Back-pressure: "default" (SL_CNC_BP_DEFAULT), "drop", "block", "disconnect". */
int sl_state_backpressure_parse(const char *s, uint8_t *out); /* 0 or -EINVAL */
/* Encryption policy: "optional" (SL_CNC_ENC_OPTIONAL), "off", "required". */
int sl_state_encryption_parse(const char *s, uint8_t *out); /* 0 or -EINVAL */
int sl_state_perm_parse(const char *s);			     /* SL_PERM_* bit or -EINVAL */
/* Name of permission bit @i (0 pub, 1 sub, 2 admin, 3 consume), or NULL. */
const char *sl_state_perm_name(unsigned i);
/* @perms as a new JSON array of names (NULL when out of memory). */
json_t *sl_state_perms_json(uint16_t perms);

/* @p as a new JSON object: "auth", "idle", "rate_limit", and "set", the
 * list of the settings an operator set (state.json, policy.show). */
json_t *sl_state_policy_to_json(const struct sl_state_policy *p);

/* Room for @topics topics and @acls ACL entries. 0 or -ENOMEM. */
int sl_state_reserve(struct sl_state *s, size_t topics, size_t acls);
/* Room for @groups groups. 0 or -ENOMEM. */
int sl_state_reserve_groups(struct sl_state *s, size_t groups);

/* snprintf @fmt into @err (when not NULL) and return @rc. */
int sl_state_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Validators: 0, or -EINVAL with a message. */
int sl_state_topic_name_check(const char *name, char *err, size_t errlen);
int sl_state_user_name_check(const char *name, char *err, size_t errlen);
int sl_state_pattern_check(const char *pattern, char *err, size_t errlen);

/* Lookups: NULL when absent. */
struct sl_state_topic *sl_state_topic_find(const struct sl_state *s, const char *name);
struct sl_state_user *sl_state_user_find(const struct sl_state *s, const char *name);
struct sl_state_acl *sl_state_acl_find(const struct sl_state *s, const char *user,
				       const char *pattern);

/* Add a topic (-EEXIST if its name is taken). */
int sl_state_topic_add(struct sl_state *s, const struct sl_state_topic *t, char *err,
		       size_t errlen);
int sl_state_topic_remove(struct sl_state *s, const char *name, char *err, size_t errlen);

/* Fields of a topic update (SL_STATE_TF_*): which members of @t apply. */
#define SL_STATE_TF_DURABILITY (1u << 0)
#define SL_STATE_TF_BACKPRESSURE (1u << 1)
#define SL_STATE_TF_RETAIN_MB (1u << 2)
#define SL_STATE_TF_RETAIN_S (1u << 3)
#define SL_STATE_TF_CAPACITY_MB (1u << 4)
#define SL_STATE_TF_RETX_WINDOW (1u << 5)
#define SL_STATE_TF_ENCRYPTION (1u << 6)
#define SL_STATE_TF_MAX_MESSAGE (1u << 8) /* a bit apart: fields may be added before it */

/*
 * Change the @fields of topic @t->name to @t's values; the topic as it is
 * now is copied to @out (may be NULL). -ENOENT when there is no such topic,
 * -EINVAL when @fields is empty, a value is out of range, or the durability
 * would change: a topic's durability is fixed while it exists (its journal
 * and what its acknowledgements promised depend on it).
 */
int sl_state_topic_update(struct sl_state *s, const struct sl_state_topic *t, unsigned fields,
			  struct sl_state_topic *out, char *err, size_t errlen);

/* Add a user with @key; its uid is chosen here (a free one, preferring
 * uids not used recently) and returned through @uid. */
int sl_state_user_add(struct sl_state *s, const char *name, int admin,
		      const uint8_t key[SL_AUTH_KEY_LEN], uint16_t *uid, char *err,
		      size_t errlen);
/* Fields of a user update (SL_STATE_UF_*). */
#define SL_STATE_UF_ADMIN (1u << 0)
#define SL_STATE_UF_ENCRYPTION (1u << 1)

/* Set the @fields of user @name to @admin and @encryption (SL_CNC_ENC_*).
 * -ENOENT (no such user), -EINVAL (no field, or a value out of range). */
int sl_state_user_update(struct sl_state *s, const char *name, unsigned fields, int admin,
			 uint8_t encryption, char *err, size_t errlen);

/* Rollover: @key becomes user @name's first key and its current key the
 * second. -ENOENT (no such user), -EEXIST (it holds two keys already:
 * retire the older first). */
int sl_state_user_key_add(struct sl_state *s, const char *name,
			  const uint8_t key[SL_AUTH_KEY_LEN], char *err, size_t errlen);
/* Drop user @name's older key. -ENOENT (no such user, or one key only). */
int sl_state_user_key_retire(struct sl_state *s, const char *name, char *err, size_t errlen);

/* Remove a user and every ACL entry of it. */
int sl_state_user_remove(struct sl_state *s, const char *name, char *err, size_t errlen);

/* Add @perms to @user's entry for @pattern (created if needed, its group
 * ""). */
int sl_state_acl_grant(struct sl_state *s, const char *user, const char *pattern,
		       uint16_t perms, char *err, size_t errlen);
/*
 * Set @user's entry for @pattern to exactly @perms (not 0) and @group (NULL
 * or "": every group), created if needed. -ENOENT (no such user), -EINVAL
 * (pattern, perms, group name), -ENOSPC.
 */
int sl_state_acl_set(struct sl_state *s, const char *user, const char *pattern, uint16_t perms,
		     const char *group, char *err, size_t errlen);
/* Take @perms from the entry; an entry left with none is removed.
 * -ENOENT when the user or the entry does not exist. */
int sl_state_acl_revoke(struct sl_state *s, const char *user, const char *pattern,
			uint16_t perms, char *err, size_t errlen);

/* ---- partitioned topics (state_part.c) ---- */

/* The partitioned topic of which @name is a partition ("NAME#i", i below
 * its count; *@index = i when @index is not NULL), or NULL. */
const struct sl_state_topic *sl_state_part_of(const struct sl_state *s, const char *name,
					      uint32_t *index);
/* @t's partitions: 0..SL_MAX_PARTITIONS, every partition name within
 * SL_MAX_TOPIC_NAME. 0 or -EINVAL with a message. */
int sl_state_part_check(const struct sl_state_topic *t, char *err, size_t errlen);
/* Would adding @t clash with a partitioned topic (@t is one's partition) or
 * an existing topic (one of @t's partition names)? 0, -EEXIST or -EINVAL. */
int sl_state_part_conflict(const struct sl_state *s, const struct sl_state_topic *t, char *err,
			   size_t errlen);
/*
 * The dataplane commands of @type (TOPIC_UPSERT, TOPIC_UPDATE,
 * TOPIC_DELETE) for topic @t into @out (room for @cap): one for an
 * ordinary topic; for a partitioned one each partition's, and the name's
 * own (created after the partitions, deleted before them; not updated).
 * Returns the number written, 0 when @cap is too small.
 */
size_t sl_state_topic_cmds(const struct sl_state_topic *t, uint32_t type, struct sl_cnc_cmd *out,
			   size_t cap);
/* Group command @c (GROUP_UPSERT, _DELETE, _RESET) as the dataplane takes
 * it, into @out (room for @cap): @c itself; for a group of a partitioned
 * topic of @s, one per partition (a group of the same name on each).
 * Returns the number written, 0 when @cap is too small. */
size_t sl_state_group_cmds(const struct sl_state *s, const struct sl_cnc_cmd *c,
			   struct sl_cnc_cmd *out, size_t cap);

/* ---- consumer groups (state_group.c) ---- */

/* Group names: 1..31 of A-Z a-z 0-9 . _ -. 0, or -EINVAL with a message. */
int sl_state_group_name_check(const char *name, char *err, size_t errlen);
/* "rr", "least", "key" <-> SL_STATE_GROUP_*; parse: 0 or -EINVAL. */
int sl_state_group_policy_parse(const char *s, uint8_t *out);
const char *sl_state_group_policy_name(uint8_t policy);

/* A group with defaults (rr, ack-wait 30 s, 5 deliveries, grace 5 s) for
 * @topic and @name (copied, truncated: checked when added). */
void sl_state_group_defaults(struct sl_state_group *g, const char *topic, const char *name);

/* The group @name of @topic, or NULL. */
struct sl_state_group *sl_state_group_find(const struct sl_state *s, const char *topic,
					   const char *name);

/*
 * Add group @g: names, policy, flags (retain needs durable), ranges checked;
 * durable on a topic of the desired state whose durability is none:
 * -EINVAL (a group's position is saved beside the topic's journal).
 * -EEXIST when the topic has a group of that name.
 */
int sl_state_group_add(struct sl_state *s, const struct sl_state_group *g, char *err,
		       size_t errlen);
/* Set the settings of the existing group @g->topic, @g->name to @g's,
 * checked as for sl_state_group_add. -ENOENT (no such group), -EINVAL (a
 * value, or the durable flag would change: delete and create again). */
int sl_state_group_update(struct sl_state *s, const struct sl_state_group *g, char *err,
			  size_t errlen);
/* Remove group @name of @topic: 0 or -ENOENT. */
int sl_state_group_remove(struct sl_state *s, const char *topic, const char *name, char *err,
			  size_t errlen);
/* Remove every group of @topic (its deletion takes them); how many went. */
size_t sl_state_groups_drop_topic(struct sl_state *s, const char *topic);

/* @g as a new JSON object (state.json, group.create/list/show): "topic",
 * "name", "policy", "ack_wait_ms", "max_deliveries", "grace_ms",
 * "max_inflight", "durable", "retain", and "dead_letter" when set. */
json_t *sl_state_group_to_json(const struct sl_state_group *g);
/* The reverse, into @g, checked as sl_state_group_add checks (but for the
 * topic's durability). 0 or -EINVAL with a message. */
int sl_state_group_from_json(struct sl_state_group *g, const json_t *o, char *err, size_t errlen);

/* Check every group (names, ranges, no two the same). */
int sl_state_groups_validate(const struct sl_state *s, char *err, size_t errlen);

/* Check a whole state (as loaded from a file): names, uniqueness, uids,
 * ACL users, patterns, perms, durability, back-pressure, ranges. */
int sl_state_validate(const struct sl_state *s, char *err, size_t errlen);

/* ---- state.json (state_file.c) ---- */

/* An ACL entry as JSON: "user", "pattern", "perms", and "group" when set. */
json_t *sl_state_acl_to_json(const struct sl_state_acl *a);

/* Serialise, keys included (hex): a new object, NULL when out of memory. */
json_t *sl_state_to_json(const struct sl_state *s);
/* Fill an initialised, empty @s from a parsed document, then validate. */
int sl_state_from_json(struct sl_state *s, const json_t *root, char *err, size_t errlen);

/*
 * Create @dir (mode 0700, parents 0755) if needed and make sure it is 0700.
 * Returns 0 or -errno (message in @err).
 */
int sl_state_dir_prepare(const char *dir, char *err, size_t errlen);

/*
 * Write @s to @dir/state.json atomically: state.json.tmp (mode 0600),
 * fsync, rename, fsync of the directory. When this returns 0 the state
 * survives a crash. Returns 0 or -errno (message in @err).
 */
int sl_state_save(const struct sl_state *s, const char *dir, char *err, size_t errlen);

/*
 * Load @dir/state.json into an initialised, empty @s. A leftover
 * state.json.tmp is ignored (it is an interrupted save; state.json is
 * still the last complete one). Returns 0, -ENOENT when there is no
 * state.json (a first start), -EINVAL when it is corrupt or invalid (never
 * silently replaced: the caller refuses to start), or -errno.
 */
int sl_state_load(struct sl_state *s, const char *dir, char *err, size_t errlen);

#endif /* SLUICE_CONTROL_STATE_H */
