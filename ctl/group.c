/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl group: create, update, list, show, delete and reset consumer groups. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define NS 1000000000ull
/* A bare number this large is a time in ns, not a sequence number: say so. */
#define SEQ_AMBIGUOUS 1000000000000000ull

static void
set_new(json_t *a, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(a, key, v) < 0)
		abort();
}

/* --@opt N, 0..UINT32_MAX, as member @key of @a; nothing when @s is NULL. */
static int
add_u32(const struct sl_ctl_verb *v, json_t *a, const char *key, const char *opt, const char *s)
{
	uint64_t n;

	if (s == NULL)
		return 0;
	if (!sl_ctl_parse_u64(s, &n) || n > UINT32_MAX)
		return sl_ctl_usage_err(v, "--%s takes an integer 0 to %u, not '%s'", opt,
					UINT32_MAX, s);
	set_new(a, key, json_integer((json_int_t)n));
	return 0;
}

/* {"topic":TOPIC,"name":NAME} into a new @a, or a usage error. */
static int
names_args(const struct sl_ctl_verb *v, const char *const *pos, json_t **a)
{
	int rc;

	*a = json_object();
	if (*a == NULL)
		abort();
	rc = sl_ctl_arg_str(v, *a, "topic", pos[0]);
	if (rc == 0)
		rc = sl_ctl_arg_str(v, *a, "name", pos[1]);
	if (rc != 0) {
		json_decref(*a);
		*a = NULL;
	}
	return rc;
}

/* group create and group update: TOPIC NAME and the settings given, sent as @cmd. */
static int
group_spec_call(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		bool update)
{
	static const char *const policies[] = { "rr", "least", "key", NULL };
	const char *pol = NULL, *dl = NULL, *ack = NULL, *maxd = NULL, *grace = NULL, *infl = NULL;
	bool durable = false, retain = false, no_retain = false;
	const struct sl_ctl_opt opts[] = {
		{ "policy", &pol, NULL }, { "ack-wait-ms", &ack, NULL },
		{ "max-deliveries", &maxd, NULL }, { "dead-letter", &dl, NULL },
		{ "grace-ms", &grace, NULL }, { "max-inflight", &infl, NULL },
		{ update ? "no-retain" : "durable", NULL, update ? &no_retain : &durable },
		{ "retain", NULL, &retain },
		{ NULL, NULL, NULL },
	};
	const char *pos[2];
	struct sl_ctl_reply r;
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 2, 2);
	if (rc != 0)
		return rc;
	if (pol != NULL && !sl_ctl_one_of(pol, policies))
		return sl_ctl_usage_err(v, "--policy is rr (round-robin), least (least "
					"outstanding) or key (key affinity), not '%s'", pol);
	if (!update && retain && !durable)
		return sl_ctl_usage_err(v, "--retain needs --durable: only a durable group's "
					"position can hold back retention");
	if (retain && no_retain)
		return sl_ctl_usage_err(v, "--retain and --no-retain exclude each other");
	if (update && !pol && !dl && !ack && !maxd && !grace && !infl && !retain && !no_retain)
		return sl_ctl_usage_err(v, "nothing to update: give --policy, --ack-wait-ms, "
					"--max-deliveries, --dead-letter, --grace-ms, "
					"--max-inflight, --retain or --no-retain");
	rc = names_args(v, pos, &a);
	if (rc != 0)
		return rc;
	if (pol != NULL)
		rc = sl_ctl_arg_str(v, a, "policy", pol);
	if (rc == 0 && dl != NULL)
		rc = sl_ctl_arg_str(v, a, "dead_letter", dl);
	if (rc == 0)
		rc = add_u32(v, a, "ack_wait_ms", "ack-wait-ms", ack);
	if (rc == 0)
		rc = add_u32(v, a, "max_deliveries", "max-deliveries", maxd);
	if (rc == 0)
		rc = add_u32(v, a, "grace_ms", "grace-ms", grace);
	if (rc == 0)
		rc = add_u32(v, a, "max_inflight", "max-inflight", infl);
	if (rc == 0 && durable)
		set_new(a, "durable", json_true());
	if (rc == 0 && (retain || no_retain))
		set_new(a, "retain", json_boolean(retain));
	if (rc == 0)
		rc = sl_ctl_call(c, update ? "group.update" : "group.create", a, &r);
	json_decref(a);
	return sl_ctl_finish_change(c, rc, &r, "%s group %s on topic %s",
				    update ? "updated" : "created", pos[1], pos[0]);
}

static int
cmd_group_create(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return group_spec_call(c, v, argc, argv, false);
}

static int
cmd_group_update(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return group_spec_call(c, v, argc, argv, true);
}

static void
print_group_list(json_t *res)
{
	static const char *const hdr[] = { "TOPIC", "NAME", "POLICY", "DURABLE", ">MEMBERS",
					   ">INFLIGHT", ">PENDING", ">DELIVERED", ">REDELIVERED",
					   ">ACKED", ">DEAD_LETTERED", "MANAGED" };
	static const char *const keys[] = { "topic", "name", "policy", "durable", "members",
					    "inflight", "pending", "delivered", "redelivered",
					    "acked", "dead_lettered", "managed" };

	sl_ctl_print_objects(res, 12, hdr, keys);
}

static int
cmd_group_list(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "group.list", "topic", 0, print_group_list);
}

/* A member's "state" gauge in words (docs/COUNTERS.md, slot type gmember). */
static void
member_states(json_t *members)
{
	static const char *const names[] = { "?", "active", "paused", "pull", "disconnected" };
	uint64_t st;
	json_t *m;
	size_t i;

	json_array_foreach(members, i, m)
		if (sl_ctl_u64(json_object_get(m, "state"), &st) && st < 5 && st > 0)
			json_object_set_new(m, "state", json_string(names[st]));
}

static void
print_group_show(json_t *res)
{
	static const char *const hdr[] = { "MEMBER", "STATE", ">OUTSTANDING", ">CREDIT",
					   ">DELIVERED", ">ACKED", ">NACKED" };
	static const char *const keys[] = { "member", "state", "outstanding", "credit",
					    "delivered", "acked", "nacked" };
	json_t *copy = json_copy(res), *members = json_incref(json_object_get(res, "member_list"));

	if (copy == NULL)
		abort();
	json_object_del(copy, "member_list");
	sl_ctl_print_kv(copy);
	json_decref(copy);
	if (json_array_size(members) == 0) {
		printf("\nno members\n");
	} else {
		json_t *m = json_deep_copy(members);

		member_states(m);
		printf("\n");
		sl_ctl_print_objects(m, 7, hdr, keys);
		json_decref(m);
	}
	json_decref(members);
}

/* A command on TOPIC NAME alone, sent as @cmd: the exit code of the call,
 * its reply in @r (when 0), the names in @pos. */
static int
names_call(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
	   const char *cmd, const char **pos, struct sl_ctl_reply *r)
{
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, NULL, pos, 2, 2);
	if (rc == 0)
		rc = names_args(v, pos, &a);
	if (rc != 0)
		return rc;
	rc = sl_ctl_call(c, cmd, a, r);
	json_decref(a);
	return rc;
}

static int
cmd_group_show(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *pos[2];
	struct sl_ctl_reply r;
	int rc = names_call(c, v, argc, argv, "group.show", pos, &r);

	return sl_ctl_show_result(c, rc, &r, print_group_show);
}

static int
cmd_group_delete(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *pos[2];
	struct sl_ctl_reply r;
	int rc = names_call(c, v, argc, argv, "group.delete", pos, &r);

	return sl_ctl_finish_change(c, rc, &r, "deleted group %s of topic %s", pos[1], pos[0]);
}

/* Two digits at @s into *@out; false if they are not. */
static bool
two_digits(const char *s, int *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return false;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return true;
}

/*
 * RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), into ns since
 * the epoch. False if @s is not one, or before the epoch.
 */
static bool
parse_rfc3339(const char *s, uint64_t *ns)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, oh, om, n = 0;
	uint64_t frac = 0, scale = NS;
	int64_t t, off = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 ||
	    (s[10] != 'T' && s[10] != 't') || !two_digits(s + 11, &h) || s[13] != ':' ||
	    !two_digits(s + 14, &mi) || s[16] != ':' || !two_digits(s + 17, &sec))
		return false;
	s += 19;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*s - '0') * scale;
			}
		if (s[-1] == '.')
			return false;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && two_digits(s + 1, &oh) && s[3] == ':' &&
		   two_digits(s + 4, &om) && oh < 24 && om < 60) {
		off = (*s == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
		s += 6;
	} else {
		return false;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm) - off;
	if (t < 0 || (uint64_t)t > UINT64_MAX / NS - 1)
		return false;
	*ns = (uint64_t)t * NS + frac;
	return true;
}

/* --to earliest|latest|SEQ|TIME into request @a. */
static int
reset_to(const struct sl_ctl_verb *v, json_t *a, const char *to)
{
	size_t len = strlen(to);
	uint64_t n;
	char num[32];

	if (strcmp(to, "earliest") == 0 || strcmp(to, "latest") == 0) {
		set_new(a, "to", json_string(to));
		return 0;
	}
	if (sl_ctl_parse_u64(to, &n)) {
		if (n == 0 || n >= SEQ_AMBIGUOUS || n > INT64_MAX)
			return sl_ctl_usage_err(v, "--to %s: a sequence number is 1 to %llu; for "
						"a time in ns since the epoch write it with 'ns' "
						"after it (%sns), or give RFC 3339", to,
						SEQ_AMBIGUOUS - 1, to);
		set_new(a, "to", json_string("seq"));
		set_new(a, "seq", json_integer((json_int_t)n));
		return 0;
	}
	if (len > 2 && len < sizeof(num) && strcmp(to + len - 2, "ns") == 0) {
		memcpy(num, to, len - 2);
		num[len - 2] = '\0';
		if (!sl_ctl_parse_u64(num, &n) || n > INT64_MAX)
			goto bad;
	} else if (!parse_rfc3339(to, &n) || n > INT64_MAX) {
		goto bad;
	}
	set_new(a, "to", json_string("time"));
	set_new(a, "time_ns", json_integer((json_int_t)n));
	return 0;
bad:
	return sl_ctl_usage_err(v, "--to is earliest, latest, a sequence number, or a time: RFC "
				"3339 (2026-12-05T10:00:00Z) or ns since the epoch with 'ns' after "
				"it; not '%s'", to);
}

static int
cmd_group_reset(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *to = NULL, *pos[2];
	const struct sl_ctl_opt opts[] = { { "to", &to, NULL }, { NULL, NULL, NULL } };
	struct sl_ctl_reply r;
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 2, 2);
	if (rc != 0)
		return rc;
	if (to == NULL)
		return sl_ctl_usage_err(v, "--to is required: earliest, latest, SEQ or TIME");
	rc = names_args(v, pos, &a);
	if (rc != 0)
		return rc;
	rc = reset_to(v, a, to);
	if (rc == 0)
		rc = sl_ctl_call(c, "group.reset", a, &r);
	json_decref(a);
	return sl_ctl_finish_change(c, rc, &r, "reset group %s of topic %s to %s", pos[1], pos[0],
				    to);
}

const struct sl_ctl_verb sl_ctl_group_verbs[] = {
	{ "group", "create",
	  "group create TOPIC NAME [--policy rr|least|key] [--ack-wait-ms N] "
	  "[--max-deliveries N] [--dead-letter TOPIC] [--grace-ms N] [--durable] [--retain] "
	  "[--max-inflight N]",
	  "Create consumer group NAME on TOPIC (which must exist): each of the topic's\n"
	  "messages goes to one member of the group, which acknowledges it. NAME: 1-31\n"
	  "characters of A-Z a-z 0-9 . _ -. A new group starts at the topic's next message.\n"
	  "--policy: rr, round-robin (default); least, the member with the most free\n"
	  "credit first; key, key affinity (a key's messages in order, one member at a\n"
	  "time). --ack-wait-ms: redelivered when not acknowledged in this time (default\n"
	  "30000; 0: never). --max-deliveries: after this many deliveries a message goes\n"
	  "to the dead-letter topic (default 5; 0: never). --dead-letter TOPIC: where\n"
	  "(default none: such messages are dropped and counted). --grace-ms: a\n"
	  "disconnected member's time to rejoin before its messages go to the others\n"
	  "(default 5000). --max-inflight: most unacknowledged messages in the group (0\n"
	  "or not given: the dataplane's default). --durable: the position and the\n"
	  "unacknowledged set survive a dataplane restart (journaled topics only; default:\n"
	  "in memory). --retain (with --durable): retention keeps what the group still\n"
	  "needs, up to the topic's capacity (default: retention wins and the group sees\n"
	  "a gap). 'group update' changes the settings but --durable.\n",
	  cmd_group_create },
	{ "group", "update",
	  "group update TOPIC NAME [--policy rr|least|key] [--ack-wait-ms N] "
	  "[--max-deliveries N] [--dead-letter TOPIC] [--grace-ms N] [--max-inflight N] "
	  "[--retain|--no-retain]",
	  "Change the settings of group NAME of TOPIC, live: those given change, the others\n"
	  "stay (as for 'group create'; --dead-letter '' sets none). Members and the\n"
	  "position stay. Whether the group is durable cannot change while it exists\n"
	  "(its saved position goes with it): delete it and create it again.\n",
	  cmd_group_update },
	{ "group", "list", "group list [TOPIC]",
	  "List consumer groups, all or TOPIC's: settings and the dataplane's counters\n"
	  "(MEMBERS, INFLIGHT: delivered and not yet acknowledged, PENDING: not yet\n"
	  "offered, ...; '-' while the dataplane does not hold the group). MANAGED is 'no'\n"
	  "for a group only the dataplane has (reloaded from its saved spec).\n",
	  cmd_group_list },
	{ "group", "show", "group show TOPIC NAME",
	  "Show group NAME of TOPIC: its settings and counters, one a line, then its\n"
	  "members: id, state (active, paused, pull, disconnected), OUTSTANDING (held\n"
	  "unacknowledged), credit, delivered, acked, nacked.\n", cmd_group_show },
	{ "group", "delete", "group delete TOPIC NAME",
	  "Delete group NAME of TOPIC: its members are told (ERROR NO_GROUP) and a durable\n"
	  "group's saved position goes, durably before this returns. Deleting a durable\n"
	  "group needs a running dataplane.\n", cmd_group_delete },
	{ "group", "reset", "group reset TOPIC NAME --to earliest|latest|SEQ|TIME",
	  "Move group NAME's position: earliest (the topic's earliest retained message),\n"
	  "latest (after its last message), SEQ (the next sequence number to offer, from\n"
	  "1) or TIME (the first message stored at or after it: RFC 3339 such as\n"
	  "2026-12-05T10:00:00Z, or ns since the epoch written with 'ns' after it;\n"
	  "journaled topics only). The group's unacknowledged messages are dropped\n"
	  "(counted reset_dropped). Needs a running dataplane; nothing is stored.\n",
	  cmd_group_reset },
	{ NULL, NULL, NULL, NULL, NULL },
};
