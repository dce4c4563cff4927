/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket's commands: one request, its arguments, its answer; shared by each noun's file. */

#ifndef SLUICE_CONTROL_RPC_H
#define SLUICE_CONTROL_RPC_H

#include <stdint.h>

#include "control.h"
#include "jsonx.h"

/* One request being answered. */
struct sl_req {
	struct sl_ctl *ctl;
	const json_t *args; /* an object, or NULL */
	json_t *res;	    /* the result value, set by the command */
	const char *code;   /* on failure: the error code (docs/CONTROL.md) */
	char err[512];	    /* ... and its message */
	int64_t ticket;	    /* > 0: answer once the dataplane has applied it */
	int not_stored;	    /* a ticket's failure reads "not applied", not "stored, but" */
};

typedef int (*sl_rpc_fn)(struct sl_req *r);

/* The command named @cmd ("topic.create"...), or NULL. */
sl_rpc_fn sl_rpc_find(const char *cmd);

/* ---- errors and arguments (rpc.c): each returns 0, or -1 with @r answered ---- */

int sl_req_fail(struct sl_req *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Refuse arguments not in the NULL-terminated @allowed: a typo must not pass. */
int sl_req_args_only(struct sl_req *r, const char *const *allowed);
int sl_req_arg_str(struct sl_req *r, const char *key, int required, const char **out);
int sl_req_arg_u64(struct sl_req *r, const char *key, uint64_t *out);
int sl_req_arg_bool(struct sl_req *r, const char *key, int *out);
/* "perms": a list of pub, sub, admin, consume. Absent: @dflt. */
int sl_req_arg_perms(struct sl_req *r, uint16_t dflt, uint16_t *out);
/* The empty object, as the result of a command that returns nothing. */
int sl_req_ok_empty(struct sl_req *r);

/* ---- changing the state (rpc.c) ---- */

/* Work on a copy @next of the state; on success it replaces the state. */
int sl_req_draft(struct sl_req *r, struct sl_state *next);
/* Drop @next and fail with @msg (may be r->err) coded from @rc. */
int sl_req_draft_fail(struct sl_req *r, struct sl_state *next, int rc, const char *msg);
/* Save @next, make it the state, send @n commands to the dataplane.
 * Nothing is acknowledged before the state is on disk. */
int sl_req_commit(struct sl_req *r, struct sl_state *next, const struct sl_cnc_cmd *cmds,
		  size_t n);

/* Does the dataplane's counters area hold topic @name, not deleted? 0 also
 * when no dataplane is attached or sampled. */
int sl_rpc_topic_live(struct sl_ctl *ctl, const char *name);

/* ---- each noun's commands ---- */

int sl_rpc_topic_create(struct sl_req *r);
int sl_rpc_topic_delete(struct sl_req *r);
int sl_rpc_topic_update(struct sl_req *r);
int sl_rpc_topic_list(struct sl_req *r);
int sl_rpc_topic_show(struct sl_req *r);
int sl_rpc_topic_move(struct sl_req *r);
int sl_rpc_topic_placement(struct sl_req *r);
int sl_rpc_user_add(struct sl_req *r);
int sl_rpc_user_remove(struct sl_req *r);
int sl_rpc_user_list(struct sl_req *r);
int sl_rpc_user_update(struct sl_req *r);
int sl_rpc_user_key_add(struct sl_req *r);
int sl_rpc_user_key_retire(struct sl_req *r);
int sl_rpc_acl_grant(struct sl_req *r);
int sl_rpc_acl_revoke(struct sl_req *r);
int sl_rpc_acl_list(struct sl_req *r);
int sl_rpc_acl_set(struct sl_req *r);
int sl_rpc_group_create(struct sl_req *r);
int sl_rpc_group_update(struct sl_req *r);
int sl_rpc_group_list(struct sl_req *r);
int sl_rpc_group_show(struct sl_req *r);
int sl_rpc_group_delete(struct sl_req *r);
int sl_rpc_group_reset(struct sl_req *r);
int sl_rpc_policy_set(struct sl_req *r);
int sl_rpc_policy_show(struct sl_req *r);
int sl_rpc_stats(struct sl_req *r);
int sl_rpc_dataplane_status(struct sl_req *r);
int sl_rpc_ha_status(struct sl_req *r);
int sl_rpc_ha_promote(struct sl_req *r);

#endif /* SLUICE_CONTROL_RPC_H */
