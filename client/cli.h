/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the command-line tools: number options, connect errors. */

#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdint.h>

#include <sluice/sluice.h>

/*
 * Parse @s as a decimal number in [@min, @max] into *out. On failure prints
 * "PROG: WHAT 'S' is not a number from MIN to MAX" and returns -1.
 */
int sl_cli_parse_u64(const char *prog, const char *what, const char *s, uint64_t min,
		     uint64_t max, uint64_t *out);

/*
 * Explain a failed sl_client_connect (@rc) to the user on stderr. @user (may
 * be NULL) and @code (the connect's last_error) word the authentication
 * refusals.
 */
void sl_cli_report_connect(const char *prog, const char *host, uint16_t port,
			   uint32_t timeout_ms, const char *user, uint16_t code, int rc);

/*
 * Explain a failed shared-memory attach to the dataplane @shm (NULL: not
 * shared memory) on stderr. Returns 1 when it did, 0 when @rc is for
 * sl_cli_report_connect (authentication refusals, or not shared memory).
 */
int sl_cli_report_attach(const char *prog, const char *shm, int rc);

/*
 * Say on stderr why @c's session is gone (a call returned -ENOTCONN): the
 * broker cut it off as too slow, revoked its credentials, or it restarted
 * or expired the session.
 */
void sl_cli_report_closed(const char *prog, const struct sl_client *c);

/*
 * Why the broker revoked a subscription or a session (SL_EV_SUB_REVOKED,
 * SL_EV_SESSION_REVOKED), from the event's @code, in words.
 */
const char *sl_cli_revoked_why(uint16_t code);

/*
 * Credentials from @path (--credentials) or the environment into @o, as
 * sl_client_opts_credentials. Returns 0 (also when none were given), or -1
 * after saying why they are unusable.
 */
int sl_cli_credentials(const char *prog, struct sl_client_opts *o, const char *path, char *user,
		       uint8_t *key);

/*
 * --encrypt: ask @o for an encrypted session when @encrypt. Returns 0, or -1
 * after saying that it needs credentials (call after sl_cli_credentials).
 */
int sl_cli_encrypt(const char *prog, struct sl_client_opts *o, int encrypt);

#endif /* SLUICE_CLI_H */
