/* SPDX-License-Identifier: BSD-3-Clause */
/* Placeholders of the journal's replica calls: refused until the journal library provides them. */

#include <errno.h>

#include "repl_jcompat.h"

uint32_t
sl_journal_last_epoch(const struct sl_journal *j)
{
	(void)j;
	return 0;
}

uint64_t
sl_journal_epoch_end(const struct sl_journal *j, uint32_t epoch)
{
	(void)j;
	(void)epoch;
	return 0;
}

int
sl_journal_append_replica(struct sl_journal *j, const struct sl_jrec_meta *m, const void *data,
			  uint32_t len)
{
	(void)j;
	(void)m;
	(void)data;
	(void)len;
	return -ENOTSUP;
}

int
sl_journal_truncate(struct sl_journal *j, uint64_t keep)
{
	(void)j;
	(void)keep;
	return -ENOTSUP;
}
