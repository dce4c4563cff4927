/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-control's /metrics bearer token: the token file's rules and the Authorization check. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "control.h"

static char dir[64], path[128];

static void
write_token(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
	CHECK(chmod(path, mode) == 0);
}

static int
load(char *out, char *err)
{
	return sl_metrics_token_load(path, out, SL_METRICS_TOKEN_MAX + 1, err, 256);
}

static void
test_load(void)
{
	char tok[SL_METRICS_TOKEN_MAX + 1], err[256], longer[SL_METRICS_TOKEN_MAX + 3];

	write_token("0123456789abcdef0123\n", 0600);
	CHECK(load(tok, err) == 0 && strcmp(tok, "0123456789abcdef0123") == 0);
	write_token("0123456789abcdef0123", 0400); /* no newline, read-only: fine */
	CHECK(load(tok, err) == 0 && strcmp(tok, "0123456789abcdef0123") == 0);
	write_token("0123456789abcdef0123\r\n\n", 0600);
	CHECK(load(tok, err) == 0 && strcmp(tok, "0123456789abcdef0123") == 0);
	/* Group or others may read it: refused, as credentials files are. */
	write_token("0123456789abcdef0123\n", 0640);
	CHECK(load(tok, err) == -EPERM && strstr(err, "chmod 600") != NULL && tok[0] == '\0');
	write_token("0123456789abcdef0123\n", 0604);
	CHECK(load(tok, err) == -EPERM);
	/* Too short, spaces, a second line, too long. */
	write_token("short\n", 0600);
	CHECK(load(tok, err) == -EINVAL && strstr(err, "visible characters") != NULL);
	write_token("0123456789 abcdef0123\n", 0600);
	CHECK(load(tok, err) == -EINVAL);
	write_token("0123456789abcdef0123\nsecond line\n", 0600);
	CHECK(load(tok, err) == -EINVAL);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	write_token(longer, 0600);
	CHECK(load(tok, err) == -EINVAL);
	longer[SL_METRICS_TOKEN_MAX] = '\0';
	write_token(longer, 0600);
	CHECK(load(tok, err) == 0 && strlen(tok) == SL_METRICS_TOKEN_MAX);
	unlink(path);
	CHECK(load(tok, err) == -ENOENT);
	CHECK(sl_metrics_token_load(dir, tok, sizeof(tok), err, sizeof(err)) == -EINVAL);
}

static void
test_authorized(void)
{
	const char *t = "0123456789abcdef0123";

	CHECK(sl_metrics_authorized("", NULL));
	CHECK(sl_metrics_authorized("", "anything"));
	CHECK(!sl_metrics_authorized(t, NULL));
	CHECK(!sl_metrics_authorized(t, ""));
	CHECK(sl_metrics_authorized(t, "Bearer 0123456789abcdef0123"));
	CHECK(sl_metrics_authorized(t, "bearer 0123456789abcdef0123"));
	CHECK(!sl_metrics_authorized(t, "Basic 0123456789abcdef0123"));
	CHECK(!sl_metrics_authorized(t, "Bearer 0123456789abcdef012"));
	CHECK(!sl_metrics_authorized(t, "Bearer 0123456789abcdef01234"));
	CHECK(!sl_metrics_authorized(t, "Bearer 0123456789abcdef0124"));
	CHECK(!sl_metrics_authorized(t, "Bearer 0123456789abcdef0123 extra"));
	CHECK(!sl_metrics_authorized(t, "0123456789abcdef0123"));
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sl_mtok_XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	test_load();
	test_authorized();
	unlink(path);
	rmdir(dir);
	return check_result("metrics_token");
}
