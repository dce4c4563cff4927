/* SPDX-License-Identifier: BSD-3-Clause */
/* Persistence primitives that do nothing, for tests that stop processes, never
 * the machine: the page cache is the media, and thousands of syncs stay fast. */

#ifndef SLUICE_TESTS_PERSIST_NOP_H
#define SLUICE_TESTS_PERSIST_NOP_H

#include <stddef.h>

#include "journal.h"

static inline int
nop_msync(const void *a, size_t l)
{
	(void)a;
	(void)l;
	return 0;
}

static inline int
not_pmem(const void *a, size_t l)
{
	(void)a;
	(void)l;
	return 0;
}

static inline void
nop_flush(const void *a, size_t l)
{
	(void)a;
	(void)l;
}

static inline void
nop_drain(void)
{
}

/* The ordinary-file path (not pmem) with no write-back: same code path. */
static const struct sl_persist_ops nop_persist_ops = {
	.flush = nop_flush, .drain = nop_drain, .msync = nop_msync, .is_pmem = not_pmem,
};

#endif /* SLUICE_TESTS_PERSIST_NOP_H */
