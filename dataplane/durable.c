/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic journals on the slow path: open on topic creation, reload at start. */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_log.h>

#include "dataplane.h"
#include "durable.h"
#include "journal.h"
#include "topic_dir.h"

#include <common/cnc.h>
#include <common/log.h>


int
sl_dp_topic_dirname(const char *name, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		int keep = isalnum(c) || c == '_' || c == '-' || (c == '.' && i > 0);

		if (o + (keep ? 1 : 3) >= outlen)
			return -ENAMETOOLONG;
		if (keep) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sl_dp_topic_from_dirname(const char *dir, char *out, size_t outlen)
{
	size_t o = 0;
	int hi, lo;

	for (; *dir; dir++) {
		char c = *dir;

		if (c == '%') {
			hi = hexval(dir[1]);
			lo = hi < 0 ? -1 : hexval(dir[2]);
			if (lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			dir += 2;
		}
		if (o + 1 >= outlen)
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return sl_proto_topic_name_valid(out, o) ? 0 : -EINVAL;
}

static void
journal_conf(const struct sl_conf *c, struct sl_journal_conf *jc)
{
	memset(jc, 0, sizeof(*jc));
	jc->segment_bytes = (uint64_t)c->segment_mb << 20;
	jc->capacity_bytes = (uint64_t)c->capacity_mb << 20;
	jc->retain_bytes = (uint64_t)c->retain_mb << 20;
	jc->retain_age_ns = (uint64_t)c->retain_s * 1000000000ull;
	/* The owner worker never makes a file-system call or allocates: the
	 * main lcore prepares spares, names rolled segments and deletes what
	 * retention retired (sl_dp_journals_prepare). */
	jc->prepared_only = 1;
}

/* The journal limits of a topic: its spec's where set, else the configuration's. */
static void
spec_limits(const struct sl_topic_spec *sp, struct sl_journal_conf *jc)
{
	if (sp->retain_bytes)
		jc->retain_bytes = sp->retain_bytes;
	if (sp->retain_age_s)
		jc->retain_age_ns = sp->retain_age_s * 1000000000ull;
	if (sp->capacity_bytes)
		jc->capacity_bytes = sp->capacity_bytes;
}

static int
topic_dir(const struct sl_dp *dp, const struct sl_topic *t, char *dir, size_t len)
{
	char sub[PATH_MAX / 2];
	int rc = sl_dp_topic_dirname(t->name, t->name_len, sub, sizeof(sub));

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

enum sl_backpressure
sl_dp_topic_backpressure(const struct sl_dp *dp, uint8_t code, const struct sl_topic *t)
{
	/* SL_CNC_BP_* is 1 + enum sl_backpressure (checked in ctl.c). */
	return code != SL_CNC_BP_DEFAULT ? (enum sl_backpressure)(code - 1)
					 : sl_conf_backpressure(&dp->conf, t->name, t->name_len);
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

int
sl_dp_topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	struct sl_dp *dp = arg;
	const struct sl_cnc_topic *o = dp->topic_override;
	struct sl_topic_spec *sp = spec_of(dp, t->id);
	struct sl_journal_recovery rec;
	struct sl_journal_conf jc;
	char dir[PATH_MAX];
	enum sl_durability d;
	int rc;

	if (sp == NULL)
		return -ENOMEM;
	if (deletion_pending(dp, t)) {
		SL_LOG(WARNING, "topic %s: not created while its deletion completes\n",
			t->name);
		return -EBUSY;
	}
	/* A topic created by sluice-control, or reloaded with its saved spec,
	 * carries its own; otherwise the configuration's rules decide. */
	memset(sp, 0, sizeof(*sp));
	if (o) {
		sp->durability = o->durability;
		sp->backpressure = o->backpressure;
		sp->retain_bytes = o->retain_bytes;
		sp->retain_age_s = o->retain_age_s;
		sp->capacity_bytes = o->capacity_bytes;
	} else {
		sp->durability = (uint8_t)sl_conf_durability(&dp->conf, t->name, t->name_len);
	}
	d = (enum sl_durability)sp->durability;
	ts->durability = (uint8_t)d;
	ts->backpressure = (uint8_t)sl_dp_topic_backpressure(dp, sp->backpressure, t);
	ts->journal = NULL;
	if (d == SL_DUR_NONE)
		return 0;
	rc = topic_dir(dp, t, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	journal_conf(&dp->conf, &jc);
	spec_limits(sp, &jc);
	rc = sl_journal_open(&ts->journal, dir, &jc, &rec);
	if (rc < 0) {
		SL_LOG(ERR, "topic %s: journal %s: %s (%s)\n", t->name, dir, strerror(-rc),
			rec.message);
		ts->journal = NULL;
		return rc;
	}
	/* Best effort: the topic runs either way; a restart would then take
	 * the rules' spec (or the one saved before). */
	rc = dp->topic_spec_keep ? 0 : sl_topic_spec_save(dir, sp);
	if (rc < 0)
		SL_LOG(WARNING, "topic %s: cannot save its spec in %s/" SL_TOPIC_SPEC_FILE
			": %s\n", t->name, dir, strerror(-rc));
	ts->seq = sl_journal_last_seq(ts->journal);
	ts->j_first = sl_journal_first_seq(ts->journal);
	ts->j_durable = sl_journal_durable_seq(ts->journal);
	ts->j_bytes = sl_journal_bytes(ts->journal);
	ts->j_corrupt = rec.corrupt_records;
	ts->replay_gaps = 0;
	recovery_log(t, d, dir, ts->journal, &rec);
	return 0;
}

void
sl_dp_topic_limits(struct sl_dp *dp, uint32_t id, uint64_t *capacity_bytes,
		   uint64_t *retain_bytes, uint64_t *retain_age_s)
{
	const struct sl_topic_spec *sp = spec_of(dp, id);
	struct sl_journal_conf jc;

	journal_conf(&dp->conf, &jc);
	if (sp)
		spec_limits(sp, &jc);
	*capacity_bytes = jc.capacity_bytes;
	*retain_bytes = jc.retain_bytes;
	*retain_age_s = jc.retain_age_ns / 1000000000ull;
}

int
sl_dp_topic_respec(struct sl_dp *dp, uint32_t id, const struct sl_cnc_topic *o)
{
	const struct sl_topic *t = &dp->route.topics[id];
	struct sl_topic_state *ts = sl_route_state(&dp->route, id);
	struct sl_topic_spec *sp = spec_of(dp, id), next;
	struct sl_journal_conf jc;
	char dir[PATH_MAX];
	int rc;

	if (sp == NULL)
		return -ENOMEM;
	next = *sp;
	next.backpressure = o->backpressure;
	next.retain_bytes = o->retain_bytes;
	next.retain_age_s = o->retain_age_s;
	next.capacity_bytes = o->capacity_bytes;
	if (ts->journal) {
		/* Saved first: what is applied is what a restart reloads. */
		rc = topic_dir(dp, t, dir, sizeof(dir));
		if (rc == 0)
			rc = sl_topic_spec_save(dir, &next);
		if (rc < 0)
			return rc;
		journal_conf(&dp->conf, &jc);
		spec_limits(&next, &jc);
		/* The journal's writer (the owner) adopts them at its next
		 * retention pass or roll; see sl_journal_set_limits. */
		sl_journal_set_limits(ts->journal, jc.capacity_bytes, jc.retain_bytes,
				      jc.retain_age_ns);
	}
	*sp = next;
	return 0;
}

int
sl_dp_topic_remove_dir(struct sl_dp *dp, uint32_t id)
{
	const struct sl_topic *t = &dp->route.topics[id];
	char sub[PATH_MAX / 2];
	int rc = sl_dp_topic_dirname(t->name, t->name_len, sub, sizeof(sub));

	if (rc == 0)
		rc = sl_topic_dir_delete(dp->conf.journal_dir, sub);
	if (rc == 0 || rc == -ENOENT) {
		if (spec_of(dp, id))
			memset(spec_of(dp, id), 0, sizeof(struct sl_topic_spec));
		return 0;
	}
	return rc;
}

int
sl_dp_journals_load(struct sl_dp *dp)
{
	char name[SL_MAX_TOPIC_NAME + 1], dir[PATH_MAX + 256], err[160];
	struct sl_topic_spec spec;
	struct sl_cnc_topic o;
	struct dirent *e;
	uint32_t id;
	int n = 0, rc;
	DIR *d;

	/* Deletions a crash interrupted after they were made durable. */
	rc = sl_topic_dir_sweep(dp->conf.journal_dir);
	if (rc > 0)
		SL_LOG(INFO, "%s: removed %d deleted topic journal(s) left by an "
			"interrupted deletion\n", dp->conf.journal_dir, rc);
	d = opendir(dp->conf.journal_dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || sl_dp_topic_from_dirname(e->d_name, name,
								      sizeof(name)) < 0)
			continue;
		/* The spec it was created with, if saved; else the rules. A
		 * journal left by a topic whose policy is now none stays on
		 * disk untouched; the topic is created either way. */
		memset(&o, 0, sizeof(o));
		rc = snprintf(dir, sizeof(dir), "%s/%s", dp->conf.journal_dir, e->d_name) <
			     (int)sizeof(dir) ? sl_topic_spec_load(dir, &spec, err, sizeof(err))
					      : -ENAMETOOLONG;
		if (rc == 0) {
			o.durability = spec.durability;
			o.backpressure = spec.backpressure;
			o.retain_bytes = spec.retain_bytes;
			o.retain_age_s = spec.retain_age_s;
			o.capacity_bytes = spec.capacity_bytes;
		} else if (rc != -ENOENT) {
			/* Left as it is, for the operator: not overwritten with
			 * the rules' spec, which may not be what it held. */
			SL_LOG(ERR, "topic %s: saved spec %s/" SL_TOPIC_SPEC_FILE " not "
				"read: %s; the configuration's rules apply until sluice-control "
				"sets it\n", name, dir, rc == -EBADMSG ? err : strerror(-rc));
			dp->topic_spec_keep = 1;
		}
		dp->topic_override = rc == 0 ? &o : NULL;
		rc = sl_route_topic_create_init(&dp->route, name, (uint32_t)strlen(name),
						sl_dp_topic_init, dp, &id);
		dp->topic_override = NULL;
		dp->topic_spec_keep = 0;
		if (rc < 0) {
			SL_LOG(ERR, "journal %s/%s not loaded: %s\n", dp->conf.journal_dir,
				e->d_name, strerror(-rc));
			continue;
		}
		n += rc == 1;
	}
	closedir(d);
	return n;
}

unsigned
sl_dp_journals_prepare(struct sl_dp *dp)
{
	uint32_t id, n = __atomic_load_n(&dp->route.n_topics, __ATOMIC_ACQUIRE);
	unsigned done = 0;

	/* Main lcore: the topic table's only writer, so an active topic's
	 * journal is not closed under this loop (a delete deactivates the
	 * topic here before its owner closes the journal). */
	for (id = 1; id <= n && id < dp->route.cap; id++) {
		struct sl_topic_state *ts = sl_route_state(&dp->route, id);
		const struct sl_topic *t = sl_route_topic_get(&dp->route, id);
		int rc;

		if (ts->journal == NULL || t == NULL)
			continue;
		/* Also deletes the segments the owner's retention retired and
		 * names the segments its rolls started. */
		rc = sl_journal_prepare(ts->journal);
		done += rc > 0;
		/* Said once when it fills, once when it has room again: the
		 * journal backs its attempts off meanwhile. */
		if (rc == -ENOSPC && !ts->j_nospace)
			SL_LOG(WARNING, "topic %s: journal file system full: publishes "
				"are refused (journal full) until space is freed\n", t->name);
		else if (rc > 0 && ts->j_nospace)
			SL_LOG(NOTICE, "topic %s: journal has room again\n", t->name);
		if (rc == -ENOSPC || rc > 0)
			ts->j_nospace = rc < 0;
	}
	return done;
}

void
sl_dp_journals_close(struct sl_dp *dp)
{
	uint32_t id;

	for (id = 1; id < dp->route.cap; id++) {
		struct sl_topic_state *ts = &dp->route.state[id];

		if (ts->journal) {
			sl_journal_close(ts->journal);
			ts->journal = NULL;
		}
	}
	free(dp->specs);
	dp->specs = NULL;
}
