/* SPDX-License-Identifier: BSD-3-Clause */
/* Keeping the dataplane in step with the desired state, through the CnC region. */

#ifndef SLUICE_CONTROL_SYNC_H
#define SLUICE_CONTROL_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include <common/cnc.h>
#include <common/ctrs.h>

#include "state.h"

/*
 * A struct sl_sync attaches to dataplane instance NAME's CnC region and
 * keeps it fed. Everything happens in sl_sync_tick, called from the
 * control process's poll loop (every 50 ms, and sooner while work waits):
 *   - not attached: try sl_cnc_attach every SL_SYNC_RETRY_MS;
 *   - attached: notice a new dataplane (the file was replaced, or dp_pid or
 *     dp_start_ns changed), a dead one (the file is gone) or a hung one
 *     (heartbeat older than SL_SYNC_STALE_MS; when it is fresh again the
 *     state is resent): detach, re-attach, resynchronise;
 *   - resynchronise with SYNC_BEGIN(gen), USER_UPSERT for every user,
 *     ACL_SET per entry for every user (no ACL_CLEAR: the dataplane stages
 *     the resync and sweeps what was not resent at SYNC_END), then only the
 *     policy settings an operator set (AUTH_MODE only to require auth,
 *     SET_IDLE, SET_RATE), TOPIC_UPSERT for every topic, GROUP_UPSERT for
 *     every consumer group, SYNC_END(gen);
 *   - move queued commands into the command ring as it frees, match
 *     results to commands by id, expire commands that got no answer;
 *   - refresh control_pid and control_heartbeat_ns.
 *
 * Individual changes are submitted as a batch of commands (a "ticket")
 * whose outcome the caller polls: done when every command has its result,
 * failed on the first refusal, on a timeout, or if the dataplane goes away.
 *
 * Time is injected (@now_ns, CLOCK_REALTIME nanoseconds like the region's
 * words) so tests can drive it. Not thread-safe.
 */

#define SL_SYNC_RETRY_MS 500
#define SL_SYNC_STALE_MS 2000
#define SL_SYNC_TIMEOUT_MS 1000 /* a ticket's commands must all be answered in this */
#define SL_SYNC_MAX_QUEUE 65536 /* commands queued but not yet in the ring */

struct sl_sync;

struct sl_sync_status {
	int attached;	    /* a region is mapped */
	int stale;	    /* its heartbeat is older than SL_SYNC_STALE_MS */
	int synced;	    /* the last resync's SYNC_END was answered */
	int64_t dp_pid;
	uint64_t dp_start_ns;
	uint64_t heartbeat_age_ms;
	uint64_t syncs;	    /* resyncs started since control started */
	uint64_t syncs_completed; /* ... whose SYNC_END the dataplane applied */
	uint64_t cmds_sent, cmds_failed, cmds_timed_out;
	/* The CnC version of a region found but refused (another version or
	 * layout; UINT32_MAX when even its magic differs), 0 if none. */
	uint32_t cnc_refused;
};

/* A new, unattached syncer for instance @name. Returns 0, -EINVAL (bad
 * name) or -ENOMEM. */
int sl_sync_create(struct sl_sync **out, const char *name);

/* Clear control_pid in the region if attached, unmap, free. */
void sl_sync_destroy(struct sl_sync *s);

/* One round of work (see above) against desired state @st.
 * Returns the number of things done (commands moved, results taken), so a
 * caller can poll again soon when it is not 0. */
int sl_sync_tick(struct sl_sync *s, const struct sl_state *st, uint64_t now_ns);

/* Force a full resynchronisation at the next tick (if attached). */
void sl_sync_request_resync(struct sl_sync *s);

void sl_sync_status(const struct sl_sync *s, uint64_t now_ns, struct sl_sync_status *out);

/*
 * Submit @n commands (their ids are assigned when they enter the ring) as
 * one ticket. When not attached the commands are dropped: the next resync
 * carries the state. Returns a ticket > 0, 0 when not attached (nothing to
 * wait for), or -ENOSPC (queue full) / -ENOMEM.
 */
int64_t sl_sync_submit(struct sl_sync *s, const struct sl_cnc_cmd *cmds, size_t n,
		       uint64_t now_ns);

/*
 * Outcome of @ticket: 1 done (every command answered 0), 0 still waiting,
 * or < 0: the first error (a command's -errno result, -ETIMEDOUT, or
 * -ENOTCONN when the dataplane went away) with words in @msg. A finished
 * ticket is forgotten once it has been reported; 2 for an unknown ticket
 * (nothing to wait for: never an error code, which a command's own result,
 * -ENOENT say, could be mistaken for).
 */
int sl_sync_ticket_poll(struct sl_sync *s, int64_t ticket, char *msg, size_t msglen);

/* Drop a ticket nobody waits for any more (its commands still run). */
void sl_sync_ticket_forget(struct sl_sync *s, int64_t ticket);

/* A private copy of the attached dataplane's counters area (free it with
 * sl_ctrs_view_free). Returns 0, -ENOTCONN when not attached, -EPROTO (the
 * area's geometry changed) or -ENOMEM. */
int sl_sync_counters(struct sl_sync *s, struct sl_ctrs_view *v);

/* Command builders: fill @c (zeroed first) for the given object. */
void sl_sync_cmd_topic(struct sl_cnc_cmd *c, const struct sl_state_topic *t);
void sl_sync_cmd_topic_delete(struct sl_cnc_cmd *c, const char *name);
void sl_sync_cmd_user(struct sl_cnc_cmd *c, const struct sl_state_user *u);
void sl_sync_cmd_user_delete(struct sl_cnc_cmd *c, const struct sl_state_user *u);
void sl_sync_cmd_acl_clear(struct sl_cnc_cmd *c, uint16_t uid);
/* @group: the consume right's one group, NULL or "" for every group. */
void sl_sync_cmd_acl_set(struct sl_cnc_cmd *c, uint16_t uid, const char *pattern,
			 uint16_t perms, const char *group);
/* GROUP_UPSERT of @g; GROUP_DELETE; GROUP_RESET (@how SL_CNC_RESET_*, @arg
 * the seq or CLOCK_REALTIME ns it takes). */
void sl_sync_cmd_group(struct sl_cnc_cmd *c, const struct sl_state_group *g);
void sl_sync_cmd_group_delete(struct sl_cnc_cmd *c, const char *topic, const char *name);
void sl_sync_cmd_group_reset(struct sl_cnc_cmd *c, const char *topic, const char *name,
			     uint32_t how, uint64_t arg);
/* AUTH_MODE (0 open, 1 required), SET_IDLE (0 busy, 1 backoff), SET_RATE (msgs/s). */
void sl_sync_cmd_value(struct sl_cnc_cmd *c, uint32_t type, uint32_t value);

#endif /* SLUICE_CONTROL_SYNC_H */
