/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the command-line tools: number options, connect errors. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/proto.h>

#include <common/shm.h>

#include "cli.h"
#include "shm_link.h"

int
sl_cli_parse_u64(const char *prog, const char *what, const char *s, uint64_t min, uint64_t max,
		 uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "%s: %s '%s' is not a number from %" PRIu64 " to %" PRIu64 "\n",
			prog, what, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int
sl_cli_credentials(const char *prog, struct sl_client_opts *o, const char *path, char *user,
		   uint8_t *key)
{
	char err[512];

	if (sl_client_opts_credentials(o, path, user, key, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

int
sl_cli_encrypt(const char *prog, struct sl_client_opts *o, int encrypt)
{
	if (!encrypt)
		return 0;
	if (o->user == NULL) {
		fprintf(stderr, "%s: --encrypt needs credentials (the session's keys come from "
			"the user's key): give --credentials FILE or set SLUICE_CREDENTIALS\n",
			prog);
		return -1;
	}
	o->encrypt = 1;
	return 0;
}

const char *
sl_cli_revoked_why(uint16_t code)
{
	switch (code) {
	case SL_E_DENIED:
		return "the user's right to subscribe to it was revoked";
	case SL_E_AUTH_FAILED:
		return "the user was removed or its key retired";
	case SL_E_AUTH_REQUIRED:
		return "the broker now requires credentials (--credentials)";
	default:
		return sl_error_code_str(code);
	}
}

void
sl_cli_report_closed(const char *prog, const struct sl_client *c)
{
	struct sl_client_stats st;

	sl_client_stats(c, &st);
	if (st.last_error == SL_E_AUTH_FAILED || st.last_error == SL_E_AUTH_REQUIRED)
		fprintf(stderr, "%s: the broker ended the session: %s\n", prog,
			sl_cli_revoked_why(st.last_error));
	else if (st.last_error == SL_E_SLOW_CONSUMER)
		fprintf(stderr, "%s: disconnected by the broker: deliveries fell too far behind "
			"(the topic's back-pressure policy is disconnect)\n", prog);
	else if (st.last_error == SL_E_BAD_FRAME)
		fprintf(stderr, "%s: the broker cut the session off: it read a malformed frame "
			"from us\n", prog);
	else
		fprintf(stderr, "%s: broker closed the session (restarted, or we were silent "
			"too long)\n", prog);
}

int
sl_cli_report_attach(const char *prog, const char *shm, int rc)
{
	char path[PATH_MAX];

	if (shm == NULL || rc == -EACCES || rc == -ETIMEDOUT)
		return 0;
	switch (rc) {
	case -ENOENT:
	case -ECONNREFUSED:
		if (sl_shm_link_path(shm, path, sizeof(path)) < 0)
			snprintf(path, sizeof(path), "%s", shm);
		fprintf(stderr, "%s: no dataplane '%s' running on this host (no socket %s; "
			"is sluice-dataplane running with shm = yes?)\n", prog, shm, path);
		break;
	case -EBUSY:
		fprintf(stderr, "%s: dataplane '%s' serves its maximum of shared-memory clients "
			"(shm_max_clients)\n", prog, shm);
		break;
	case -ENOMEM:
		fprintf(stderr, "%s: dataplane '%s' has no memory for another client's rings "
			"(reserve more hugepages)\n", prog, shm);
		break;
	case -EPROTONOSUPPORT:
		fprintf(stderr, "%s: dataplane '%s' speaks another shared-memory layout than "
			"this libsluice (version %u): use the libsluice of the dataplane's "
			"release\n", prog, shm, SL_SHM_VERSION);
		break;
	case -EPROTO:
		fprintf(stderr, "%s: '%s' is not a Sluice dataplane of this version, or it "
			"refused the session\n", prog, shm);
		break;
	default:
		fprintf(stderr, "%s: cannot attach to dataplane '%s': %s\n", prog, shm,
			strerror(-rc));
		break;
	}
	return 1;
}

void
sl_cli_report_connect(const char *prog, const char *host, uint16_t port, uint32_t timeout_ms,
		      const char *user, uint16_t code, int rc)
{
	if (user == NULL)
		user = "";
	if (rc == -EACCES) {
		switch (code) {
		case SL_E_AUTH_REQUIRED:
			fprintf(stderr, "%s: the broker requires authentication: give "
				"--credentials FILE or set SLUICE_CREDENTIALS\n", prog);
			break;
		case SL_E_AUTH_FAILED:
			fprintf(stderr, "%s: broker refused the credentials of user '%s' (wrong "
				"key or unknown user)\n", prog, user);
			break;
		case SL_E_ENCRYPTION_REQUIRED:
			fprintf(stderr, "%s: the broker requires an encrypted session for user "
				"'%s': add --encrypt\n", prog, user);
			break;
		default:
			fprintf(stderr, "%s: the broker at %s:%u did not prove it knows the key "
				"of user '%s' (WELCOME not sealed with it): not the broker you "
				"meant, or it does not support authentication\n", prog, host, port,
				user);
			break;
		}
		return;
	}
	if (rc == -EPROTONOSUPPORT) {
		fprintf(stderr, "%s: the broker at %s:%u does not encrypt sessions of user '%s' "
			"(the user's encryption policy is off): drop --encrypt, or have the "
			"operator allow it (sluicectl user update --encryption optional)\n", prog,
			host, port, user);
		return;
	}
	switch (rc) {
	case -ETIMEDOUT:
	case -ECONNREFUSED:
		fprintf(stderr, "%s: no broker answered at %s:%u within %u ms (is "
			"sluice-dataplane running?)\n", prog, host, port,
			timeout_ms ? timeout_ms : 2000);
		break;
	case -ENOENT:
	case -EAGAIN:
		fprintf(stderr, "%s: cannot resolve host '%s' (check -h/--host)\n", prog, host);
		break;
	case -EPROTO:
		fprintf(stderr, "%s: broker at %s:%u refused the session (protocol version "
			"mismatch or session table full)\n", prog, host, port);
		break;
	default:
		fprintf(stderr, "%s: cannot reach broker at %s:%u: %s\n", prog, host, port,
			strerror(-rc));
		break;
	}
}
