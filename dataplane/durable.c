/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic journals on the slow path: open on topic creation, reload at start. */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_log.h>

#include "dataplane.h"
#include "durable.h"
#include "journal.h"

#include <sluice/cnc.h>

#define RTE_LOGTYPE_SLUICE RTE_LOGTYPE_USER1

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
}

#define POLICY_FILE "policy" /* in a topic's journal directory: its durability */

/* Remember the topic's durability beside its journal, so a restart reloads
 * the topic as it was created (by sluicectl, say) and not as the rules of
 * the configuration would have it. Best effort: a failure is logged. */
static void
policy_save(const char *dir, enum sl_durability d)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32], want[32], have[32] = "";
	FILE *f;

	snprintf(want, sizeof(want), "durability = %s\n", sl_durability_name(d));
	if (snprintf(path, sizeof(path), "%s/" POLICY_FILE, dir) >= (int)sizeof(path))
		return;
	f = fopen(path, "r");
	if (f) {
		if (fgets(have, sizeof(have), f) == NULL)
			have[0] = '\0';
		fclose(f);
	}
	if (strcmp(have, want) == 0)
		return;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "w");
	if (f == NULL || fputs(want, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0 ||
	    fclose(f) != 0 || rename(tmp, path) != 0) {
		RTE_LOG(WARNING, SLUICE, "%s: cannot record the topic's durability: %s\n", path,
			strerror(errno));
		if (f)
			fclose(f);
	}
}

/* The durability recorded in journal directory @dir, or -1 if none. */
static int
policy_load(const char *dir)
{
	char path[PATH_MAX + 16], line[64], name[16];
	int i = -1;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/" POLICY_FILE, dir) >= (int)sizeof(path))
		return -1;
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) && sscanf(line, "durability = %15s", name) == 1)
		i = sl_durability_parse(name);
	fclose(f);
	return i;
}

enum sl_backpressure
sl_dp_topic_backpressure(const struct sl_dp *dp, uint8_t code, const struct sl_topic *t)
{
	/* SL_CNC_BP_* is 1 + enum sl_backpressure (checked in ctl.c). */
	return code != SL_CNC_BP_DEFAULT ? (enum sl_backpressure)(code - 1)
					 : sl_conf_backpressure(&dp->conf, t->name, t->name_len);
}

int
sl_dp_topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	struct sl_dp *dp = arg;
	struct sl_journal_recovery rec;
	struct sl_journal_conf jc;
	char dir[PATH_MAX], sub[PATH_MAX / 2];
	enum sl_durability d;
	int rc;

	/* A topic created by sluice-control carries its own policy. */
	d = dp->topic_override ? (enum sl_durability)dp->topic_override->durability
			       : sl_conf_durability(&dp->conf, t->name, t->name_len);
	ts->durability = (uint8_t)d;
	ts->backpressure = (uint8_t)sl_dp_topic_backpressure(
		dp, dp->topic_override ? dp->topic_override->backpressure : SL_CNC_BP_DEFAULT, t);
	ts->journal = NULL;
	if (d == SL_DUR_NONE)
		return 0;
	rc = sl_dp_topic_dirname(t->name, t->name_len, sub, sizeof(sub));
	if (rc < 0)
		return rc;
	snprintf(dir, sizeof(dir), "%s/%s", dp->conf.journal_dir, sub);
	journal_conf(&dp->conf, &jc);
	if (dp->topic_override) {
		const struct sl_cnc_topic *o = dp->topic_override;

		if (o->retain_bytes)
			jc.retain_bytes = o->retain_bytes;
		if (o->retain_age_s)
			jc.retain_age_ns = o->retain_age_s * 1000000000ull;
		if (o->capacity_bytes)
			jc.capacity_bytes = o->capacity_bytes;
	}
	rc = sl_journal_open(&ts->journal, dir, &jc, &rec);
	if (rc < 0) {
		RTE_LOG(ERR, SLUICE, "topic %s: journal %s: %s (%s)\n", t->name, dir, strerror(-rc),
			rec.message);
		ts->journal = NULL;
		return rc;
	}
	policy_save(dir, d);
	ts->seq = sl_journal_last_seq(ts->journal);
	ts->j_first = sl_journal_first_seq(ts->journal);
	ts->j_durable = sl_journal_durable_seq(ts->journal);
	ts->j_bytes = sl_journal_bytes(ts->journal);
	if (rec.corrupt)
		RTE_LOG(ERR, SLUICE, "topic %s: JOURNAL DAMAGED: %s; publishes to it are refused "
			"until an operator repairs %s\n", t->name, rec.message, dir);
	else if (rec.truncated_bytes || rec.last_seq >= rec.first_seq)
		RTE_LOG(INFO, SLUICE, "topic %s (%s): %s\n", t->name, sl_durability_name(d),
			rec.message);
	return 0;
}

int
sl_dp_journals_load(struct sl_dp *dp)
{
	char name[SL_MAX_TOPIC_NAME + 1], dir[PATH_MAX + 256];
	struct sl_cnc_topic o;
	struct dirent *e;
	uint32_t id;
	int n = 0, rc, dur;
	DIR *d;

	d = opendir(dp->conf.journal_dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || sl_dp_topic_from_dirname(e->d_name, name,
								      sizeof(name)) < 0)
			continue;
		/* The durability it was created with, if recorded; else the
		 * rules. A journal left by a topic whose policy is now none
		 * stays on disk untouched; the topic is created either way. */
		dur = snprintf(dir, sizeof(dir), "%s/%s", dp->conf.journal_dir, e->d_name) <
			      (int)sizeof(dir) ? policy_load(dir) : -1;
		memset(&o, 0, sizeof(o));
		o.durability = (uint8_t)dur;
		dp->topic_override = dur >= 0 ? &o : NULL;
		rc = sl_route_topic_create_init(&dp->route, name, (uint32_t)strlen(name),
						sl_dp_topic_init, dp, &id);
		dp->topic_override = NULL;
		if (rc < 0) {
			RTE_LOG(ERR, SLUICE, "journal %s/%s not loaded: %s\n", dp->conf.journal_dir,
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
		rc = sl_journal_prepare(ts->journal);
		done += rc > 0;
		/* Said once when it fills, once when it has room again: the
		 * journal backs its attempts off meanwhile. */
		if (rc == -ENOSPC && !ts->j_nospace)
			RTE_LOG(WARNING, SLUICE, "topic %s: journal file system full: publishes "
				"are refused (journal full) until space is freed\n", t->name);
		else if (rc > 0 && ts->j_nospace)
			RTE_LOG(NOTICE, SLUICE, "topic %s: journal has room again\n", t->name);
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
}
