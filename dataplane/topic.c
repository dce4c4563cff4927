/* SPDX-License-Identifier: BSD-3-Clause */
/* Topics on the main lcore: the one way a topic is created, its spec, its journal's limits. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/cnc.h>
#include <common/log.h>

#include "dataplane.h"
#include "journal.h"
#include "producer_main.h"
#include "topic.h"

/* SL_CNC_BP_* is 1 + enum sl_backpressure (the saved spec carries it too). */
_Static_assert(SL_CNC_BP_DROP == 1 + SL_BP_DROP && SL_CNC_BP_BLOCK == 1 + SL_BP_BLOCK &&
	       SL_CNC_BP_DISCONNECT == 1 + SL_BP_DISCONNECT, "back-pressure codes");

/* What the init callback of one creation needs: passed explicitly to it. */
struct create_ctx {
	struct sl_dp *dp;
	const struct sl_topic_spec *spec;
	int save; /* write the spec beside the journal */
};

void
sl_dp_topic_spec_rules(const struct sl_conf *c, const char *name, size_t len,
		       struct sl_topic_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->durability = (uint8_t)sl_conf_durability(c, name, len);
	out->backpressure = SL_CNC_BP_DEFAULT;
}

void
sl_dp_topic_spec_from_cnc(const struct sl_cnc_topic *t, struct sl_topic_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->durability = t->durability;
	out->backpressure = t->backpressure;
	out->encryption = t->encryption;
	out->retransmit_window = RTE_MIN(t->retransmit_window, SL_CNC_RETX_MAX + 1);
	out->retain_bytes = t->retain_bytes;
	out->retain_age_s = t->retain_age_s;
	out->capacity_bytes = t->capacity_bytes;
	out->max_message = t->max_message;
	out->partitions = t->partitions;
}

/*
 * The largest message @sp lets its topic take: its own limit, else the
 * configuration's max_message, never above SL_MAX_MESSAGE, and for a
 * journaled topic never above what one segment holds (a record is one
 * message: header, payload, the segment's header and end mark).
 */
uint32_t
sl_dp_topic_message_cap(const struct sl_conf *c, int journaled)
{
	uint64_t seg = ((uint64_t)c->segment_mb << 20) - SL_JSEG_HDR - sizeof(struct sl_jrec) - 16;

	return (uint32_t)(journaled ? RTE_MIN(seg, (uint64_t)SL_MAX_MESSAGE) : SL_MAX_MESSAGE);
}

static uint32_t
topic_max_message(const struct sl_conf *c, const struct sl_topic_spec *sp, int journaled)
{
	uint64_t max = sp && sp->max_message ? sp->max_message : c->max_message;

	return (uint32_t)RTE_MIN(max, (uint64_t)sl_dp_topic_message_cap(c, journaled));
}

/* The journal limits @sp gives: its own where set, else the configuration's. */
static void
resolve_limits(const struct sl_conf *c, const struct sl_topic_spec *sp,
	       struct sl_journal_conf *jc)
{
	memset(jc, 0, sizeof(*jc));
	jc->segment_bytes = (uint64_t)c->segment_mb << 20;
	jc->capacity_bytes = sp && sp->capacity_bytes ? sp->capacity_bytes
						      : (uint64_t)c->capacity_mb << 20;
	jc->retain_bytes = sp && sp->retain_bytes ? sp->retain_bytes
						  : (uint64_t)c->retain_mb << 20;
	jc->retain_age_ns = (sp && sp->retain_age_s ? sp->retain_age_s : c->retain_s) *
			    1000000000ull;
	/* The owner worker never makes a file-system call or allocates: the
	 * main lcore prepares spares, names rolled segments and deletes what
	 * retention retired (sl_dp_journals_prepare). */
	jc->prepared_only = 1;
}

uint32_t
sl_dp_topic_retx_window(const struct sl_conf *c, uint32_t code)
{
	return code == SL_CNC_RETX_DEFAULT ? c->retransmit_window : code - 1;
}

enum sl_backpressure
sl_dp_topic_backpressure(const struct sl_dp *dp, uint8_t code, const struct sl_topic *t)
{
	return code != SL_CNC_BP_DEFAULT ? (enum sl_backpressure)(code - 1)
					 : sl_conf_backpressure(&dp->conf, t->name, t->name_len);
}

int
sl_dp_topic_dir(const struct sl_dp *dp, const struct sl_topic *t, char *dir, size_t len)
{
	char sub[PATH_MAX / 2];
	int rc = sl_topic_dir_name(t->name, t->name_len, sub, sizeof(sub));

	if (rc < 0)
		return rc;
	return snprintf(dir, len, "%s/%s", dp->conf.journal_dir, sub) < (int)len ? 0
										  : -ENAMETOOLONG;
}

/* The spec table (main lcore only), made at the first topic. */
static struct sl_topic_spec *
spec_of(struct sl_dp *dp, uint32_t id)
{
	if (dp->specs == NULL)
		dp->specs = calloc(dp->route.cap, sizeof(*dp->specs));
	return dp->specs && id < dp->route.cap ? &dp->specs[id] : NULL;
}

/* What recovery found, one line per damaged range (file, offset, seqs). */
static void
recovery_log(const struct sl_topic *t, enum sl_durability d, const char *dir,
	     const struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	const struct sl_journal_damage *dm;
	char line[512];
	uint32_t i;
	FILE *f;

	if (rec->meta_note[0])
		SL_LOG(WARNING, "topic %s: %s/%s\n", t->name, dir, rec->meta_note);
	for (i = 0; (dm = sl_journal_damage_get(j, i)) != NULL; i++) {
		f = fmemopen(line, sizeof(line), "w");
		if (f == NULL)
			break;
		sl_journal_damage_describe(dm, f);
		fclose(f);
		line[sizeof(line) - 1] = '\0';
		if (dm->kind == SL_JDMG_TORN)
			SL_LOG(INFO, "topic %s: journal %s: %s", t->name, dir, line);
		else
			SL_LOG(ERR, "topic %s: JOURNAL CORRUPT: %s/%s", t->name, dir, line);
	}
	if (rec->corrupt)
		SL_LOG(ERR, "topic %s (%s): %s; the topic accepts publishes and replays "
			"around the damage (subscribers get a gap notice); inspect with "
			"sluice-journal verify %s\n", t->name, sl_durability_name(d), rec->message,
			dir);
	else if (rec->torn || rec->last_seq >= rec->first_seq)
		SL_LOG(INFO, "topic %s (%s): %s\n", t->name, sl_durability_name(d),
			rec->message);
}

/* Whether a deletion of a topic named as @t waits for its owner to close its
 * journal: the directory is still the old topic's until then. */
static int
deletion_pending(const struct sl_dp *dp, const struct sl_topic *t)
{
	const struct sl_topic *old = &dp->route.topics[dp->deleting.topic];

	return dp->deleting.pending && old->name_len == t->name_len &&
	       memcmp(old->name, t->name, t->name_len) == 0;
}

/* Open (and recover) a new topic's journal, continuing its sequence. */
static int
journal_attach(struct create_ctx *cx, const struct sl_topic *t, struct sl_topic_state *ts)
{
	struct sl_dp *dp = cx->dp;
	struct sl_journal_recovery rec;
	struct sl_journal_conf jc;
	char dir[PATH_MAX];
	int rc;

	rc = sl_dp_topic_dir(dp, t, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	resolve_limits(&dp->conf, cx->spec, &jc);
	rc = sl_journal_open(&ts->journal, dir, &jc, &rec);
	if (rc < 0) {
		SL_LOG(ERR, "topic %s: journal %s: %s (%s)\n", t->name, dir, strerror(-rc),
			rec.message);
		ts->journal = NULL;
		return rc;
	}
	/* Best effort: the topic runs either way; a restart would then take
	 * the rules' spec (or the one saved before). */
	rc = cx->save ? sl_topic_spec_save(dir, cx->spec) : 0;
	if (rc < 0)
		SL_LOG(WARNING, "topic %s: cannot save its spec in %s/" SL_TOPIC_SPEC_FILE
			": %s\n", t->name, dir, strerror(-rc));
	ts->seq = sl_journal_last_seq(ts->journal);
	ts->j_first = sl_journal_first_seq(ts->journal);
	ts->j_durable = sl_journal_durable_seq(ts->journal);
	ts->j_bytes = sl_journal_bytes(ts->journal);
	ts->j_corrupt = rec.corrupt_records;
	ts->replay_gaps = 0;
	ts->dedup_built = 0;
	sl_producer_seed_journal(dp, ts->journal);
	recovery_log(t, (enum sl_durability)cx->spec->durability, dir, ts->journal, &rec);
	return 0;
}

/* sl_topic_init_fn: a new topic's state, before any worker can see it. */
static int
topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	struct create_ctx *cx = arg;
	struct sl_topic_spec *sp = spec_of(cx->dp, t->id);
	int rc;

	if (sp == NULL)
		return -ENOMEM;
	if (deletion_pending(cx->dp, t)) {
		SL_LOG(WARNING, "topic %s: not created while its deletion completes\n",
			t->name);
		return -EBUSY;
	}
	ts->durability = cx->spec->durability;
	ts->backpressure = (uint8_t)sl_dp_topic_backpressure(cx->dp, cx->spec->backpressure, t);
	ts->retx_window = sl_dp_topic_retx_window(&cx->dp->conf, cx->spec->retransmit_window);
	ts->journal = NULL;
	if (cx->spec->durability != SL_DUR_NONE) {
		rc = journal_attach(cx, t, ts);
		if (rc < 0)
			return rc;
	}
	/* Relaxed: rx workers read it whole (sl_large_topic_max). */
	__atomic_store_n(&ts->max_message,
			 topic_max_message(&cx->dp->conf, cx->spec,
					   cx->spec->durability != SL_DUR_NONE),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&ts->enc, cx->spec->encryption, __ATOMIC_RELAXED);
	/* Before the topic is published (the release store of active): rx
	 * workers read it plainly. */
	ts->parts = cx->spec->partitions;
	ts->moved = 0; /* an id used again: control sets the mark after */
	*sp = *cx->spec;
	return 0;
}

/* What a new topic means to the rest of the main lcore, in one place. */
static void
topic_created(struct sl_dp *dp, uint32_t id, enum sl_topic_origin origin)
{
	/* Its permissions are computed when the table is next published. */
	dp->authz_dirty = 1;
	/* Counted as before: the topics made while running, not those the
	 * configuration and the journals gave at start. */
	if (origin == SL_TOPIC_CONTROL || origin == SL_TOPIC_RESOLVE)
		sl_ctr_add(&dp->main_ctr.ctr[SL_CTR_topics_created], 1);
	if (dp->on_topic_created)
		dp->on_topic_created(dp, id);
}

/*
 * A client's RESOLVE would create @name while its partition 0 exists: the
 * name of a partitioned topic whose partitions (journaled, reloaded at
 * start) are back before control restored the name itself. Created as an
 * ordinary topic it would take messages nobody reads and keep control's
 * partitioned topic out: refused as busy (the client asks again) until
 * control's resync brings the name.
 */
static int
partitions_wait_name(const struct sl_dp *dp, const char *name, size_t len)
{
	char p0[SL_MAX_TOPIC_NAME + 1];
	int n = sl_proto_part_name(p0, sizeof(p0), name, len, 0);

	return n > 0 && sl_route_topic_lookup(&dp->route, p0, (uint32_t)n) != 0 &&
	       sl_route_topic_lookup(&dp->route, name, (uint32_t)len) == 0;
}

int
sl_dp_topic_create(struct sl_dp *dp, const char *name, size_t len,
		   const struct sl_topic_spec *spec, enum sl_topic_origin origin, uint32_t *id)
{
	struct create_ctx cx = { .dp = dp, .spec = spec, .save = origin != SL_TOPIC_RELOAD_KEEP };
	int rc;

	if (spec->durability >= SL_DUR_COUNT || spec->backpressure > SL_CNC_BP_DISCONNECT ||
	    len > SL_MAX_TOPIC_NAME)
		return -EINVAL;
	if (origin == SL_TOPIC_RESOLVE && partitions_wait_name(dp, name, len))
		return -EBUSY;
	rc = sl_route_topic_create_init(&dp->route, name, (uint32_t)len, topic_init, &cx, id);
	if (rc == 1)
		topic_created(dp, *id, origin);
	return rc;
}

const struct sl_topic_spec *
sl_dp_topic_spec(struct sl_dp *dp, uint32_t id)
{
	if (sl_route_topic_get(&dp->route, id) == NULL)
		return NULL;
	return spec_of(dp, id);
}

/*
 * An existing topic's back-pressure, live. This is how a topic the
 * dataplane made before control spoke (a client's RESOLVE, a journal
 * reloaded at start: both from the rules) gets the policy control holds for
 * it, at every resync. The owner worker reads the byte at each delivery to
 * a full ring and at each fan-out: relaxed, nothing pairs with it; a
 * delivery racing the change follows either policy. Leaving block: the
 * messages the topic holds are still delivered, in order, as room frees up,
 * and publishers stay held back until then; but one already past that
 * check (in the owner's handoff ring or journal) when the policy changes is
 * fanned out at once, ahead of them.
 */
static void
set_backpressure(struct sl_dp *dp, const struct sl_topic *t, uint8_t code)
{
	struct sl_topic_state *ts = sl_route_state(&dp->route, t->id);
	enum sl_backpressure bp = sl_dp_topic_backpressure(dp, code, t);

	if (ts->backpressure == (uint8_t)bp)
		return;
	SL_LOG(INFO, "topic %s: back-pressure %s (was %s)\n", t->name,
		sl_backpressure_name(bp),
		sl_backpressure_name((enum sl_backpressure)ts->backpressure));
	__atomic_store_n(&ts->backpressure, (uint8_t)bp, __ATOMIC_RELAXED);
}

int
sl_dp_topic_respec(struct sl_dp *dp, uint32_t id, const struct sl_topic_spec *spec)
{
	const struct sl_topic *t = sl_route_topic_get(&dp->route, id);
	struct sl_topic_state *ts = sl_route_state(&dp->route, id);
	struct sl_topic_spec *sp = spec_of(dp, id), next;
	struct sl_journal_conf jc;
	char dir[PATH_MAX];
	int rc;

	if (t == NULL)
		return -ENOENT;
	if (sp == NULL)
		return -ENOMEM;
	if (spec->backpressure > SL_CNC_BP_DISCONNECT)
		return -EINVAL;
	next = *spec;
	next.durability = sp->durability;
	if (ts->journal) {
		/* Saved first: what is applied is what a restart reloads. */
		rc = sl_dp_topic_dir(dp, t, dir, sizeof(dir));
		if (rc == 0)
			rc = sl_topic_spec_save(dir, &next);
		if (rc < 0)
			return rc;
		resolve_limits(&dp->conf, &next, &jc);
		/* The journal's writer (the owner) adopts them at its next
		 * retention pass or roll; see sl_journal_set_limits. */
		sl_journal_set_limits(ts->journal, jc.capacity_bytes, jc.retain_bytes,
				      jc.retain_age_ns);
	}
	*sp = next;
	set_backpressure(dp, t, next.backpressure);
	/* Relaxed: the owner reads it at each fan-out; nothing pairs with it. */
	__atomic_store_n(&ts->retx_window,
			 sl_dp_topic_retx_window(&dp->conf, next.retransmit_window),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&ts->max_message,
			 topic_max_message(&dp->conf, &next, next.durability != SL_DUR_NONE),
			 __ATOMIC_RELAXED);
	/* Relaxed: rx workers check it per frame; nothing pairs with it. */
	__atomic_store_n(&ts->enc, next.encryption, __ATOMIC_RELAXED);
	return 0;
}

void
sl_dp_topic_limits(struct sl_dp *dp, uint32_t id, uint64_t *capacity_bytes,
		   uint64_t *retain_bytes, uint64_t *retain_age_s)
{
	struct sl_journal_conf jc;

	resolve_limits(&dp->conf, spec_of(dp, id), &jc);
	*capacity_bytes = jc.capacity_bytes;
	*retain_bytes = jc.retain_bytes;
	*retain_age_s = jc.retain_age_ns / 1000000000ull;
}

int
sl_dp_topic_remove_dir(struct sl_dp *dp, uint32_t id)
{
	const struct sl_topic *t = &dp->route.topics[id];
	struct sl_topic_state *ts = sl_route_state(&dp->route, id);
	struct sl_topic_spec *sp;
	char sub[PATH_MAX / 2];
	int rc = sl_topic_dir_name(t->name, t->name_len, sub, sizeof(sub));

	/* The journal its owner handed over (sl_worker_topic_delete): closed
	 * here, on the main lcore, before its files go. */
	if (ts->closing != NULL) {
		sl_journal_close(ts->closing);
		ts->closing = NULL;
	}
	if (rc == 0)
		rc = sl_topic_dir_delete(dp->conf.journal_dir, sub);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	sp = spec_of(dp, id);
	if (sp)
		memset(sp, 0, sizeof(*sp));
	return 0;
}

void
sl_dp_topic_specs_free(struct sl_dp *dp)
{
	free(dp->specs);
	dp->specs = NULL;
}
