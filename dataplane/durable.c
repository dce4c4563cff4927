/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic journals on the main lcore: reloaded at start, spare segments, closed at the end. */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "dataplane.h"
#include "durable.h"
#include "journal.h"
#include "topic.h"

#include <common/log.h>

/* Load the journal in @sub (topic @name) with the spec saved beside it;
 * a directory without one, or with one that cannot be read, is loaded with
 * the rules' spec (see sl_dp_journals_load), counted in @rep. */
static void
load_one(struct sl_dp *dp, const char *sub, const char *name, struct sl_dp_reload *rep)
{
	enum sl_topic_origin origin = SL_TOPIC_RELOAD;
	char dir[PATH_MAX + 256], err[160];
	struct sl_topic_spec spec;
	size_t len = strlen(name);
	uint32_t id;
	int rc;

	rc = snprintf(dir, sizeof(dir), "%s/%s", dp->conf.journal_dir, sub) < (int)sizeof(dir)
		     ? sl_topic_spec_load(dir, &spec, err, sizeof(err))
		     : -ENAMETOOLONG;
	if (rc == -ENOENT) {
		sl_dp_topic_spec_rules(&dp->conf, name, len, &spec);
		SL_LOG(NOTICE, "topic %s: %s has no saved spec (an older directory, or "
			"its saving failed): the configuration's rules apply (durability %s)%s\n",
			name, dir, sl_durability_name(spec.durability),
			spec.durability == SL_DUR_NONE ? "; its journal stays on disk, untouched"
						       : ", and are saved beside the journal");
		rep->no_spec++;
	} else if (rc < 0) {
		/* Left as it is, for the operator: not overwritten with the
		 * rules' spec, which may not be what it held. */
		sl_dp_topic_spec_rules(&dp->conf, name, len, &spec);
		SL_LOG(ERR, "topic %s: saved spec %s/" SL_TOPIC_SPEC_FILE " not read: %s; the "
			"configuration's rules apply until sluice-control sets it\n", name, dir,
			rc == -EBADMSG ? err : strerror(-rc));
		origin = SL_TOPIC_RELOAD_KEEP;
		rep->bad_spec++;
	}
	rc = sl_dp_topic_create(dp, name, len, &spec, origin, &id);
	if (rc == 0)
		rc = -EEXIST; /* two directory names for one topic (%XX spelled out) */
	if (rc < 0) {
		SL_LOG(ERR, "journal %s not loaded: %s\n", dir, strerror(-rc));
		rep->failed++;
		return;
	}
	rep->loaded++;
}

int
sl_dp_journals_load(struct sl_dp *dp, struct sl_dp_reload *rep)
{
	char name[SL_MAX_TOPIC_NAME + 1];
	struct dirent *e;
	DIR *d;
	int rc;

	memset(rep, 0, sizeof(*rep));
	/* Deletions a crash interrupted after they were made durable. */
	rc = sl_topic_dir_sweep(dp->conf.journal_dir);
	if (rc > 0) {
		SL_LOG(INFO, "%s: removed %d deleted topic journal(s) left by an "
			"interrupted deletion\n", dp->conf.journal_dir, rc);
		rep->swept = (unsigned)rc;
	}
	d = opendir(dp->conf.journal_dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		/* Tombstones and anything not named as a topic are not ours. */
		if (e->d_name[0] == '.' || sl_topic_dir_parse_name(e->d_name, name,
								   sizeof(name)) < 0)
			continue;
		load_one(dp, e->d_name, name, rep);
	}
	closedir(d);
	return (int)rep->loaded;
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
	sl_dp_topic_specs_free(dp);
}
