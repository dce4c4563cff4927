/* SPDX-License-Identifier: BSD-3-Clause */
/* Durable consumer groups on the main lcore: settings and state files, saving the owners' snapshots, reload at start. */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <common/clock.h>
#include <common/log.h>

#include "dataplane.h"
#include "group_dp.h"
#include "group_durable.h"
#include "group_durable_dp.h"
#include "topic.h"

static int
group_dir(struct sl_dp *dp, uint32_t topic, char *dir, size_t len)
{
	const struct sl_topic *t = sl_route_topic_get(&dp->route, topic);

	return t ? sl_dp_topic_dir(dp, t, dir, len) : -ENOENT;
}

int
sl_dp_gdur_attach(struct sl_dp *dp, struct sl_group_rec *r, const struct sl_cnc_group *c,
		  char *msg, size_t len)
{
	const struct sl_group_cfg *cfg = sl_group_config(r->g);
	struct sl_gdur_loaded ld;
	char dir[PATH_MAX];
	struct sl_gdur *d;
	int rc;

	rc = group_dir(dp, r->topic, dir, sizeof(dir));
	if (rc == 0)
		rc = sl_gdur_spec_save(dir, c);
	if (rc < 0) {
		snprintf(msg, len, "group %s: settings not saved beside the journal: %s", r->name,
			 strerror(-rc));
		return rc;
	}
	rc = sl_gdur_open(&d, dir, r->name, cfg->max_inflight + cfg->max_blocked, r->retain, NULL);
	if (rc < 0) {
		snprintf(msg, len, "group %s: state file %s/group-%s.state: %s", r->name, dir,
			 r->name, rc == -EUCLEAN ? "not a state file (remove it)" : strerror(-rc));
		return rc;
	}
	rc = sl_gdur_load(d, &ld);
	if (rc >= 0)
		SL_LOG(INFO, "group %s of topic %s: saved state generation %llu loaded: cursor "
			"%llu, %u unacknowledged\n", r->name, r->topic_name,
			(unsigned long long)ld.generation, (unsigned long long)ld.cursor, ld.n);
	else if (rc == -EUCLEAN)
		SL_LOG(ERR, "group %s of topic %s: every slot of its state file is damaged: "
			"it starts at the earliest retained message (a gap event)\n", r->name,
			r->topic_name);
	else if (rc != -ENOENT) {
		snprintf(msg, len, "group %s: state file not read: %s", r->name, strerror(-rc));
		sl_gdur_close(d);
		return rc;
	}
	r->dur = d;
	return 0;
}

int
sl_dp_gdur_respec(struct sl_dp *dp, struct sl_group_rec *r, const struct sl_cnc_group *c)
{
	char dir[PATH_MAX];
	int rc;

	if (r->dur == NULL)
		return 0;
	rc = group_dir(dp, r->topic, dir, sizeof(dir));
	if (rc == 0)
		rc = sl_gdur_spec_save(dir, c);
	if (rc < 0)
		SL_LOG(WARNING, "group %s: changed settings not saved beside the journal: %s; "
			"a restart makes it with the old ones until control resends them\n",
			r->name, strerror(-rc));
	return rc;
}

int
sl_dp_gdur_remove(struct sl_dp *dp, struct sl_group_rec *r)
{
	char dir[PATH_MAX];
	int rc;

	if (r->dur == NULL)
		return 0;
	rc = group_dir(dp, r->topic, dir, sizeof(dir));
	if (rc == 0)
		rc = sl_gdur_files_remove(dir, r->name);
	if (rc < 0)
		SL_LOG(WARNING, "group %s: its files were not removed: %s; a restart makes it "
			"again\n", r->name, strerror(-rc));
	return rc;
}

void
sl_dp_gdur_detach(struct sl_group_rec *r, int last_save)
{
	if (r->dur == NULL)
		return;
	/* The workers have stopped: this thread is the group's only user now. */
	if (last_save && !r->dying && r->cursor != 0) {
		sl_gdur_snap(r->dur, r->g, r->cursor, sl_mono_ns(), 1);
		if (sl_gdur_flush(r->dur, sl_wall_ns()) < 0)
			SL_LOG(WARNING, "group %s: last state not saved at shutdown\n", r->name);
	}
	sl_gdur_close(r->dur);
	r->dur = NULL;
}

unsigned
sl_dp_groups_save(struct sl_dp *dp)
{
	unsigned i, n = 0;

	if (dp->groups == NULL)
		return 0;
	for (i = 1; i < SL_DP_MAX_GROUPS; i++) {
		struct sl_group_rec *r = dp->groups->rec[i];
		struct sl_gdur_stats st;
		int rc;

		if (r == NULL || r->dur == NULL || r->dying)
			continue;
		rc = sl_gdur_flush(r->dur, sl_wall_ns());
		if (rc > 0) {
			n++;
			continue;
		}
		if (rc == 0)
			continue;
		/* Said at the 1st, 2nd, 4th, 8th ... failure: the next save tries again. */
		sl_gdur_stats_get(r->dur, &st);
		if ((st.save_errors & (st.save_errors - 1)) == 0)
			SL_LOG(ERR, "group %s of topic %s: state not saved (%llu failures): %s\n",
				r->name, r->topic_name, (unsigned long long)st.save_errors,
				strerror(-rc));
	}
	return n;
}

struct reload_ctx {
	struct sl_dp *dp;
	sl_dp_group_upsert_fn upsert;
	const struct sl_topic *t;
	const char *dir;
	int made;
};

static int
reload_one(void *arg, const char *name, const struct sl_cnc_group *g, int rc)
{
	struct reload_ctx *x = arg;
	struct sl_cnc_result res = { 0 };
	struct sl_cnc_group c;

	if (rc < 0) {
		SL_LOG(ERR, "%s/group-%s.spec: %s: group %s not made again (control's resend "
			"makes it, from its saved state)\n", x->dir, name,
			rc == -EBADMSG ? "damaged" : strerror(-rc), name);
		return 0;
	}
	c = *g;
	/* The directory names the topic. */
	memset(c.topic, 0, sizeof(c.topic));
	memcpy(c.topic, x->t->name, x->t->name_len);
	if (x->upsert(x->dp, &c, &res) < 0) {
		SL_LOG(ERR, "group %s of topic %s not made again: %s\n", name, x->t->name,
			res.message);
		return 0;
	}
	x->made++;
	return 0;
}

int
sl_dp_groups_reload(struct sl_dp *dp, sl_dp_group_upsert_fn upsert)
{
	uint32_t id, n = __atomic_load_n(&dp->route.n_topics, __ATOMIC_ACQUIRE);
	struct reload_ctx x = { .dp = dp, .upsert = upsert };
	char dir[PATH_MAX];

	for (id = 1; id <= n && id < dp->route.cap; id++) {
		const struct sl_topic *t = sl_route_topic_get(&dp->route, id);

		if (t == NULL || sl_route_state(&dp->route, id)->journal == NULL ||
		    sl_dp_topic_dir(dp, t, dir, sizeof(dir)) < 0)
			continue;
		x.t = t;
		x.dir = dir;
		sl_gdur_spec_scan(dir, reload_one, &x);
	}
	return x.made;
}
