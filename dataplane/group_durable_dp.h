/* SPDX-License-Identifier: BSD-3-Clause */
/* Durable consumer groups in the dataplane: their files on the main lcore, restore, snapshots and the retention floor on the owner. */

#ifndef SLUICE_DP_GROUP_DURABLE_DP_H
#define SLUICE_DP_GROUP_DURABLE_DP_H

#include <stddef.h>
#include <stdint.h>

#include <common/cnc.h>

struct sl_dp;
struct sl_worker;
struct sl_group_rec;

/*
 * docs/GROUPS.md 2.4. The main lcore owns a durable group's files (its
 * settings, its state file) and saves the snapshots its owner exports; the
 * owner restores the group from the loaded state before it dispatches
 * anything, exports snapshots after its dispatch, and hands the topic's
 * retaining groups' floor to the journal before each retention pass.
 */

/* --- main lcore (group_durable_dp.c) --- */

/* A new durable group @r with settings @c: its settings saved beside the
 * journal, its state file opened and read (restored by the owner at
 * SL_HO_GROUP_ADD), r->dur set. 0 or -errno with @msg (@len) saying why. */
int sl_dp_gdur_attach(struct sl_dp *dp, struct sl_group_rec *r, const struct sl_cnc_group *c,
		      char *msg, size_t len);
/* Its settings changed (an upsert): saved again. 0 or -errno. */
int sl_dp_gdur_respec(struct sl_dp *dp, struct sl_group_rec *r, const struct sl_cnc_group *c);
/* GROUP_DELETE of a durable group: both files removed, durably. */
int sl_dp_gdur_remove(struct sl_dp *dp, struct sl_group_rec *r);
/* The record goes (r->dur closed). With @last_save (the workers have
 * stopped: a clean shutdown) its state is exported and saved first. */
void sl_dp_gdur_detach(struct sl_group_rec *r, int last_save);
/* Main loop duty: save the snapshots the owners exported. Returns saves made. */
unsigned sl_dp_groups_save(struct sl_dp *dp);
/* At start, workers made, before they run, the group table made: every
 * durable group whose group-NAME.spec lies in a durable topic's directory
 * is made again through @upsert (sl_dp_group_upsert). Returns the number
 * made. */
struct sl_cnc_result;
typedef int (*sl_dp_group_upsert_fn)(struct sl_dp *dp, const struct sl_cnc_group *c,
				     struct sl_cnc_result *r);
int sl_dp_groups_reload(struct sl_dp *dp, sl_dp_group_upsert_fn upsert);

/* --- owner worker (worker_group_durable.c) --- */

/* SL_HO_GROUP_ADD of a durable group: restore it from its saved state. */
void sl_wgroup_dur_start(struct sl_worker *w, struct sl_group_rec *r);
/* After its dispatch: a snapshot when one is due (@force: now, a reset). */
void sl_wgroup_dur_snap(struct sl_group_rec *r, uint64_t now, int force);

#endif /* SLUICE_DP_GROUP_DURABLE_DP_H */
