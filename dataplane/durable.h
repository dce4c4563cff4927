/* SPDX-License-Identifier: BSD-3-Clause */
/* Topic journals on the main lcore: reloaded at start, spare segments, closed at the end. */

#ifndef SLUICE_DP_DURABLE_H
#define SLUICE_DP_DURABLE_H

#include <stddef.h>
#include <stdint.h>

#include "topic.h"

struct sl_dp;

/* What sl_dp_journals_load found under journal_dir. */
struct sl_dp_reload {
	unsigned loaded;   /* topics created from a journal directory */
	unsigned no_spec;  /* ... of them without a saved spec (an older directory):
			    * the rules' spec, saved beside the journal */
	unsigned bad_spec; /* ... of them whose saved spec cannot be read: the
			    * rules' spec, the file left as it is (logged) */
	unsigned failed;   /* directories not loaded (logged): the topic is absent */
	unsigned swept;	   /* tombstones of interrupted deletions removed */
};

/*
 * Create a topic for every journal directory under journal_dir, so retained
 * messages can be replayed before anyone publishes again, each with the spec
 * saved beside it (topic_dir.h) through sl_dp_topic_create; first remove
 * what an interrupted deletion left. A directory without a saved spec loads
 * with the configuration's rules (which are then saved); one whose saved
 * spec cannot be read loads with them too, the file left for the operator.
 * A topic whose spec (the rules', for a directory without a readable one)
 * is durability none is created without its journal, which stays on disk
 * untouched. Fills @rep.
 * Returns the number loaded or -errno reading journal_dir (0 when missing).
 * Main lcore, before the workers run.
 */
int sl_dp_journals_load(struct sl_dp *dp, struct sl_dp_reload *rep);

/* Close every topic's journal and free the topics' specs (after the
 * workers stopped). */
void sl_dp_journals_close(struct sl_dp *dp);

/* Main lcore: prepare the next segment of every journal that has no spare
 * (sl_journal_prepare). Returns how many it prepared. */
unsigned sl_dp_journals_prepare(struct sl_dp *dp);

#endif /* SLUICE_DP_DURABLE_H */
