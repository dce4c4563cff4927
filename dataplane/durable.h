/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic journals on the slow path: open on topic creation, reload at start. */

#ifndef SLUICE_DP_DURABLE_H
#define SLUICE_DP_DURABLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "route.h"

struct sl_dp;
struct sl_cnc_topic;

/*
 * sl_topic_init_fn for the dataplane (@arg is the struct sl_dp): decide the
 * topic's durability from the config and, for async and sync, open (and
 * recover) its journal under journal_dir, continuing its sequence.
 * Logs what recovery found. Main lcore only.
 */
int sl_dp_topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts);

/* The back-pressure policy of topic @t for SL_CNC_BP_* @code: the one it
 * names, or for SL_CNC_BP_DEFAULT the dataplane's configured rules. */
enum sl_backpressure sl_dp_topic_backpressure(const struct sl_dp *dp, uint8_t code,
					      const struct sl_topic *t);

/*
 * Topic @id (active, main lcore) takes @o's back-pressure code, retention
 * and capacity (0: the configuration's): for a journaled topic its saved
 * spec is rewritten first, then its journal's limits change (adopted by the
 * owner at its next retention pass or roll). Back-pressure itself is set by
 * the caller. Returns 0, or -errno saving the spec (nothing changed).
 */
int sl_dp_topic_respec(struct sl_dp *dp, uint32_t id, const struct sl_cnc_topic *o);

/* The journal limits topic @id applies: its spec's, else the configuration's. */
void sl_dp_topic_limits(struct sl_dp *dp, uint32_t id, uint64_t *capacity_bytes,
			uint64_t *retain_bytes, uint64_t *retain_age_s);

/*
 * Remove the journal directory of deleted topic @id, durably (see
 * sl_topic_dir_delete), once its owner has closed the journal. Main lcore.
 * Returns 0 (also when it had none) or -errno (the directory is still there).
 */
int sl_dp_topic_remove_dir(struct sl_dp *dp, uint32_t id);

/* Create a topic for every journal found under journal_dir, so retained
 * messages can be replayed before anyone publishes again, each with the
 * spec saved beside it (topic_dir.h); first remove what an interrupted
 * deletion left. Returns the number loaded or -errno. */
int sl_dp_journals_load(struct sl_dp *dp);

/* Close every topic's journal (after the workers stopped). */
void sl_dp_journals_close(struct sl_dp *dp);

/* Journal directory name for a topic: [A-Za-z0-9._-] kept, other bytes as
 * %XX, and a leading '.' escaped so no name maps to "." or "..".
 * Returns 0 or -ENAMETOOLONG. The reverse returns -EINVAL on a bad name. */
int sl_dp_topic_dirname(const char *name, size_t len, char *out, size_t outlen);
int sl_dp_topic_from_dirname(const char *dir, char *out, size_t outlen);

/* Main lcore: the journals' slow work (sl_journal_prepare): delete the
 * segments their owners' retention retired, name the segments their rolls
 * started, and prepare the next segment of every journal that has no
 * spare. Returns how many spares it prepared. */
unsigned sl_dp_journals_prepare(struct sl_dp *dp);

#endif /* SLUICE_DP_DURABLE_H */
