/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl topic: create, update, delete, list and show topics; move them between pairs. */

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include <common/keyhash.h>
#include <common/policy.h>

#include "ctl.h"

/* --@opt N as integer member @key of @a; nothing when @s is NULL. */
static int
add_u64_arg(const struct sl_ctl_verb *v, json_t *a, const char *key, const char *opt,
	    const char *s)
{
	uint64_t n;

	if (s == NULL)
		return 0;
	/* jansson's integers are signed 64-bit: larger is no size anyway. */
	if (!sl_ctl_parse_u64(s, &n) || n > (uint64_t)INT64_MAX)
		return sl_ctl_usage_err(v, "--%s takes a non-negative integer, not '%s'", opt, s);
	if (json_object_set_new(a, key, json_integer((json_int_t)n)) < 0)
		abort();
	return 0;
}

/* The request arguments of topic create and update, or a usage error. */
static int
topic_spec_args(const struct sl_ctl_verb *v, json_t *a, const char *name, const char *dur,
		const char *bp, const char *enc, const char *const *sizes)
{
	int rc;

	if (dur != NULL && sl_durability_parse(dur) < 0)
		return sl_ctl_usage_err(v, "--durability is none, async or sync, not '%s'", dur);
	if (bp != NULL && sl_cnc_bp_parse(bp) < 0)
		return sl_ctl_usage_err(v, "--backpressure is drop, block or disconnect (or "
					"default: the dataplane's configured policy), not '%s'", bp);
	rc = sl_ctl_arg_str(v, a, "name", name);
	if (rc == 0 && dur != NULL)
		rc = sl_ctl_arg_str(v, a, "durability", dur);
	if (rc == 0 && bp != NULL)
		rc = sl_ctl_arg_str(v, a, "backpressure", bp);
	/* Checked by sluice-control, which knows the policies: off, optional, required. */
	if (rc == 0 && enc != NULL)
		rc = sl_ctl_arg_str(v, a, "encryption", enc);
	if (rc == 0)
		rc = add_u64_arg(v, a, "retain_mb", "retain-mb", sizes[0]);
	if (rc == 0)
		rc = add_u64_arg(v, a, "retain_s", "retain-s", sizes[1]);
	if (rc == 0)
		rc = add_u64_arg(v, a, "capacity_mb", "capacity-mb", sizes[2]);
	if (rc == 0)
		rc = add_u64_arg(v, a, "retransmit_window", "retransmit-window", sizes[3]);
	if (rc == 0)
		rc = add_u64_arg(v, a, "max_message", "max-message", sizes[4]);
	return rc;
}

/* topic create and topic update: NAME and the spec options, sent as @cmd. */
static int
topic_spec_call(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		const char *cmd, const char *done)
{
	const char *dur = NULL, *bp = NULL, *enc = NULL, *sizes[5] = { NULL, NULL, NULL, NULL, NULL };
	const char *parts = NULL;
	const char *pos[1];
	uint64_t n_parts;
	const struct sl_ctl_opt opts[] = {
		{ "durability", &dur, NULL }, { "backpressure", &bp, NULL },
		{ "encryption", &enc, NULL },
		{ "retain-mb", &sizes[0], NULL }, { "retain-s", &sizes[1], NULL },
		{ "capacity-mb", &sizes[2], NULL }, { "retransmit-window", &sizes[3], NULL },
		{ "max-message", &sizes[4], NULL }, { "partitions", &parts, NULL },
		{ NULL, NULL, NULL },
	};
	struct sl_ctl_reply r;
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc != 0)
		return rc;
	if (parts != NULL && strcmp(cmd, "topic.update") == 0)
		return sl_ctl_usage_err(v, "a topic's partitions cannot change: delete the topic "
					"and create it again with --partitions");
	if (parts != NULL && (!sl_ctl_parse_u64(parts, &n_parts) || n_parts < 1 ||
			      n_parts > SL_MAX_PARTITIONS))
		return sl_ctl_usage_err(v, "--partitions takes a number of partitions from 1 to %u, "
					"not '%s'", SL_MAX_PARTITIONS, parts);
	if (strcmp(cmd, "topic.update") == 0 && dur == NULL && bp == NULL && enc == NULL &&
	    sizes[0] == NULL && sizes[1] == NULL && sizes[2] == NULL && sizes[3] == NULL &&
	    sizes[4] == NULL)
		return sl_ctl_usage_err(v, "nothing to update: give --retain-mb, --retain-s, "
					"--capacity-mb, --retransmit-window, --max-message, "
					"--backpressure, --encryption or --durability");
	a = json_object();
	if (a == NULL)
		abort();
	rc = topic_spec_args(v, a, pos[0], dur, bp, enc, sizes);
	if (rc == 0)
		rc = add_u64_arg(v, a, "partitions", "partitions", parts);
	if (rc == 0)
		rc = sl_ctl_call(c, cmd, a, &r);
	json_decref(a);
	return sl_ctl_finish_change(c, rc, &r, "%s topic %s", done, pos[0]);
}

static int
cmd_topic_create(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return topic_spec_call(c, v, argc, argv, "topic.create", "created");
}

static int
cmd_topic_update(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return topic_spec_call(c, v, argc, argv, "topic.update", "updated");
}

static int
cmd_topic_delete(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_name_verb(c, v, argc, argv, "topic.delete", "deleted topic");
}

static void
print_topic_list(json_t *res)
{
	static const char *const hdr[] = { "NAME", ">ID", "DURABILITY", "BACKPRESSURE", ">SUBS",
					   ">PUBLISHED", ">DELIVERED", ">DROPPED", ">SEQ",
					   ">JOURNAL_BYTES", ">PARTITIONS", "MANAGED" };
	/* Back-pressure: what the dataplane applies; the desired policy when
	 * the topic is not live. */
	static const char *const keys[] = { "name", "id", "durability",
					    "backpressure_applied|backpressure", "subscribers",
					    "published", "delivered", "dropped", "seq",
					    "journal_bytes", "partitions", "managed" };

	sl_ctl_print_objects(res, 12, hdr, keys);
}

static int
cmd_topic_list(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "topic.list", NULL, 0, print_topic_list);
}

static int
cmd_topic_show(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "topic.show", "name", 1, sl_ctl_print_kv);
}

/* Wait until this pair has marked @name moved (the target took it): 0 with
 * the last topic.placement answer in @st, or an exit code. */
static int
move_wait(const struct sl_ctl *c, const char *name, int64_t wait_ms, struct sl_ctl_reply *st)
{
	struct timespec ts = { 0, 50 * 1000000L };
	int64_t end = sl_ctl_now_ms() + wait_ms;
	const char *local;
	int rc;

	for (;;) {
		rc = sl_ctl_call_simple(c, "topic.placement", "name", name, st);
		if (rc != 0)
			return rc;
		local = json_string_value(json_object_get(st->result, "local"));
		if (local != NULL && strcmp(local, "moved") == 0)
			return 0;
		if (sl_ctl_now_ms() >= end) {
			sl_ctl_err("topic %s: the target pair did not take it within %lld ms (is its "
				   "sluice-control running with --etcd, --pair and --advertise?); "
				   "the move stays under way: see 'sluicectl topic placement %s'",
				   name, (long long)wait_ms, name);
			sl_ctl_reply_fini(st);
			return SL_CTL_EXIT_FAILED;
		}
		sl_ctl_reply_fini(st);
		nanosleep(&ts, NULL);
	}
}

static int
cmd_topic_move(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *to = NULL, *wait = NULL, *pos[1];
	const struct sl_ctl_opt opts[] = { { "to", &to, NULL }, { "wait-ms", &wait, NULL },
					   { NULL, NULL, NULL } };
	struct sl_ctl_reply r, st;
	uint64_t wait_ms = 10000;
	const json_t *m;
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc != 0)
		return rc;
	if (to == NULL)
		return sl_ctl_usage_err(v, "topic move needs --to PAIR");
	if (wait != NULL && (!sl_ctl_parse_u64(wait, &wait_ms) || wait_ms > 3600000))
		return sl_ctl_usage_err(v, "--wait-ms takes milliseconds up to 3600000, not '%s'",
					wait);
	a = json_object();
	if (a == NULL)
		abort();
	rc = sl_ctl_arg_str(v, a, "name", pos[0]);
	if (rc == 0)
		rc = sl_ctl_arg_str(v, a, "to", to);
	if (rc == 0)
		rc = sl_ctl_call(c, "topic.move", a, &r);
	json_decref(a);
	if (rc != 0)
		return rc;
	sl_ctl_reply_fini(&r);
	rc = move_wait(c, pos[0], (int64_t)wait_ms, &st);
	if (rc != 0)
		return rc;
	m = json_object_get(st.result, "moved");
	return sl_ctl_finish_change(c, rc, &st, "moved topic %s to pair %s (%s), placement epoch %lld",
				    pos[0], json_string_value(json_object_get(m, "pair")),
				    json_string_value(json_object_get(m, "addr")),
				    (long long)json_integer_value(json_object_get(m, "epoch")));
}

static int
cmd_topic_placement(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "topic.placement", "name", 1, sl_ctl_print_kv);
}

const struct sl_ctl_verb sl_ctl_topic_verbs[] = {
	{ "topic", "create",
	  "topic create NAME [--durability none|async|sync] [--backpressure drop|block|disconnect] "
	  "[--retain-mb N] [--retain-s N] [--capacity-mb N] [--retransmit-window N] "
	  "[--max-message BYTES] [--encryption off|optional|required] [--partitions N]",
	  "Create topic NAME. --durability: none (default), async (journaled, acked before\n"
	  "the write is durable) or sync (acked once durable). --backpressure: what happens\n"
	  "when a shared-memory subscriber's ring is full: drop (that subscriber misses the\n"
	  "message and sees the gap), block (publishers are held back until it has room) or\n"
	  "disconnect (that subscriber is cut off with a notice); not given (or default):\n"
	  "the dataplane's backpressure and backpressure_rules decide. Given for a topic a\n"
	  "client already created, it applies at once. --retain-mb and --retain-s bound\n"
	  "the journal by size and age; --capacity-mb sizes it (0: the dataplane's\n"
	  "default). --retransmit-window: how many of its latest messages the broker keeps\n"
	  "to resend to a UDP subscriber that lost them (0: none; not given: the\n"
	  "dataplane's retransmit_window, also the largest it applies). --max-message:\n"
	  "the largest message it takes, 1392 to 4194304 bytes (0 or not given: the\n"
	  "dataplane's max_message); larger ones are refused (SL_E_TOO_BIG). --encryption:\n"
	  "required refuses publishing and subscribing over UDP sessions that are not\n"
	  "encrypted (shared memory is allowed); off and optional (default) require\n"
	  "nothing. Options not given are left to sluice-control's defaults.\n"
	  "--partitions N (1 to 64) makes a partitioned topic: N ordinary topics NAME#0 ..\n"
	  "NAME#N-1, each with the settings above and its own journal, order and owner\n"
	  "worker; publishers pick a partition by message key, subscribers and groups of\n"
	  "NAME get all of them (docs/CONTROL.md). Its partitions never change: delete\n"
	  "NAME (with its partitions) and create it again.\n",
	  cmd_topic_create },
	{ "topic", "update",
	  "topic update NAME [--retain-mb N] [--retain-s N] [--capacity-mb N] "
	  "[--retransmit-window N] [--max-message BYTES] "
	  "[--backpressure drop|block|disconnect|default] "
	  "[--encryption off|optional|required] [--durability none|async|sync]",
	  "Change the settings of topic NAME, live: those given change, the others stay.\n"
	  "Retention applies at the journal's next retention pass, capacity from its next\n"
	  "segment, back-pressure, the retransmit window, the largest message and the\n"
	  "encryption policy at once; all are saved and survive restarts (0: the\n"
	  "dataplane's default).\n"
	  "The durability cannot change while the topic exists (its journal's records\n"
	  "and acknowledgements depend on it): --durability with another value is\n"
	  "refused (exit status 1) and changes nothing; delete the topic (its stored\n"
	  "messages go) and create it again. --capacity-mb below what the journal\n"
	  "holds now is refused the same way: lower --retain-mb or --retain-s first.\n"
	  "A topic a client created must first be adopted with 'topic create'.\n",
	  cmd_topic_update },
	{ "topic", "delete", "topic delete NAME",
	  "Delete topic NAME (the only way a topic goes: a resync never drops one). Its\n"
	  "journal is removed with it, durably before this returns: after a restart the\n"
	  "topic is still gone, and a topic created again under its name starts at\n"
	  "sequence 1. A partitioned topic goes with all its partitions; a partition\n"
	  "alone cannot be deleted.\n",
	  cmd_topic_delete },
	{ "topic", "list", "topic list",
	  "List topics: the desired state merged with the dataplane's live counters.\n"
	  "BACKPRESSURE is the policy the dataplane applies (the desired one while the\n"
	  "topic is not live). MANAGED is 'no' for topics that clients created.\n",
	  cmd_topic_list },
	{ "topic", "show", "topic show NAME",
	  "Show topic NAME with its counters, one field a line.\n", cmd_topic_show },
	{ "topic", "move", "topic move NAME --to PAIR [--wait-ms N]",
	  "Move topic NAME from this pair to pair PAIR (scale-out, docs/SCALEOUT.md): the\n"
	  "target's sluice-control creates it with the same settings and takes its\n"
	  "placement in etcd (compare-and-swap, epoch + 1); then this pair answers clients\n"
	  "of the topic with ERROR SL_E_MOVED naming PAIR and its address, and libsluice\n"
	  "follows. Only new messages go to PAIR: what this pair's journal holds stays\n"
	  "here (its sequence starts again at 1 there). Waits up to --wait-ms (default\n"
	  "10000) for the target to take it. Needs sluice-control with --etcd, --pair\n"
	  "and --advertise on both pairs.\n",
	  cmd_topic_move },
	{ "topic", "placement", "topic placement NAME",
	  "Show which pair etcd says owns topic NAME (pair, addr, epoch; moving_to during\n"
	  "a move) and whether this pair owns it (local: owned, moved or absent).\n",
	  cmd_topic_placement },
	{ NULL, NULL, NULL, NULL, NULL },
};
