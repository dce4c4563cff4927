/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the command-line tools: number options, connect errors. */

#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdint.h>

/*
 * Parse @s as a decimal number in [@min, @max] into *out. On failure prints
 * "PROG: WHAT 'S' is not a number from MIN to MAX" and returns -1.
 */
int sl_cli_parse_u64(const char *prog, const char *what, const char *s, uint64_t min,
		     uint64_t max, uint64_t *out);

/* Explain a failed sl_client_connect (@rc) to the user on stderr. */
void sl_cli_report_connect(const char *prog, const char *host, uint16_t port,
			   uint32_t timeout_ms, int rc);

#endif /* SLUICE_CLI_H */
