/* SPDX-License-Identifier: BSD-3-Clause */
/* The journal's replica calls, declared until the journal library provides them. */

#ifndef SLUICE_DP_REPL_JCOMPAT_H
#define SLUICE_DP_REPL_JCOMPAT_H

#include <stdint.h>

#include "journal.h"

/* As docs/JOURNAL.md will describe them (segment version 5): leader
 * epochs, replica appends, truncation. repl_jcompat.c refuses each with
 * -ENOTSUP until then. */
struct sl_jrec_meta {
	uint64_t seq, timestamp, producer_id, producer_seq;
	uint32_t producer_epoch, leader_epoch;
	uint16_t hdrs_len;
};

uint32_t sl_journal_last_epoch(const struct sl_journal *j);
uint64_t sl_journal_epoch_end(const struct sl_journal *j, uint32_t epoch);
int sl_journal_append_replica(struct sl_journal *j, const struct sl_jrec_meta *m,
			      const void *data, uint32_t len);
int sl_journal_truncate(struct sl_journal *j, uint64_t keep);

#endif
