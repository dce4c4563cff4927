/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A topic's policies and their names: one table for the dataplane's
 * configuration, the saved topic spec, sluice-control's state and
 * sluicectl, so a name means the same thing everywhere.
 */

#ifndef SLUICE_COMMON_POLICY_H
#define SLUICE_COMMON_POLICY_H

#include <stdint.h>

/* Durability, as the journal, the CnC region and the state file carry it. */
enum sl_durability {
	SL_DUR_NONE = 0, /* memory only: routed and forgotten */
	SL_DUR_ASYNC,	 /* journaled, persisted within async_lag_ms */
	SL_DUR_SYNC,	 /* persisted before ack and before delivery */
	SL_DUR_COUNT
};

/* What happens to a message for a subscriber whose shared-memory ring is full. */
enum sl_backpressure {
	SL_BP_DROP = 0,	  /* that subscriber misses it: a gap it sees (seq, counter) */
	SL_BP_BLOCK,	  /* held; publishers held back until it has room */
	SL_BP_DISCONNECT, /* that subscriber is disconnected with a notice */
	SL_BP_COUNT
};

/* "none", "async", "sync"; "unknown" out of range. */
const char *sl_durability_name(unsigned d);
/* The enum sl_durability named @name, or -1. */
int sl_durability_parse(const char *name);

/* "drop", "block", "disconnect"; "unknown" out of range. */
const char *sl_backpressure_name(unsigned b);
/* The enum sl_backpressure named @name, or -1. */
int sl_backpressure_parse(const char *name);

/*
 * A topic's back-pressure as the CnC region, the saved spec and the state
 * file carry it (SL_CNC_BP_*): 0 "default" (the dataplane's configured
 * policy for the name), else 1 + enum sl_backpressure.
 */
const char *sl_cnc_bp_name(unsigned v);
/* The SL_CNC_BP_* value named @name ("default" included), or -1. */
int sl_cnc_bp_parse(const char *name);

/*
 * An encryption policy of a user or a topic (SL_CNC_ENC_*, common/cnc.h):
 * "optional" (0, the default), "off", "required"; "unknown" out of range.
 */
const char *sl_cnc_enc_name(unsigned v);
/* The SL_CNC_ENC_* value named @name, or -1. */
int sl_cnc_enc_parse(const char *name);

#endif
