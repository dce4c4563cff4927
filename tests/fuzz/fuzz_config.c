/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the dataplane's configuration parser
 * (dataplane/config.c): the input is written as a configuration file and
 * loaded over the defaults, then validated and dumped; its first line is
 * also given as a command-line override (section.key=value). No EAL.
 */

#include <stdio.h>

#include "config.h"
#include "fuzz.h"

static char path[512];
static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/dataplane.conf", fuzz_tmpdir("fuzz_config"));
	devnull = fopen("/dev/null", "w");
	FUZZ_CHECK(devnull != NULL);
	return 0;
}

/* What an error message must be: a terminated, non-empty line. */
static void
check_err(int rc, const char *err, size_t cap)
{
	FUZZ_CHECK(rc == 0 || rc < 0);
	if (rc < 0) {
		FUZZ_CHECK(memchr(err, '\0', cap) != NULL);
		FUZZ_CHECK(err[0] != '\0');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_conf c;
	char err[512], line[600];
	const uint8_t *nl;
	size_t n;
	int rc;

	if (size > 64 * 1024)
		return 0;
	if (fuzz_write_file(path, data, size) < 0)
		return 0;
	sl_conf_defaults(&c);
	err[0] = '\0';
	rc = sl_conf_load(&c, path, err, sizeof(err));
	check_err(rc, err, sizeof(err));
	if (rc == 0) {
		err[0] = '\0';
		rc = sl_conf_validate(&c, err, sizeof(err));
		check_err(rc, err, sizeof(err));
		sl_conf_dump(&c, devnull);
	}

	nl = memchr(data, '\n', size);
	n = nl ? (size_t)(nl - data) : size;
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = '\0';
	sl_conf_defaults(&c);
	err[0] = '\0';
	rc = sl_conf_set(&c, line, err, sizeof(err));
	check_err(rc, err, sizeof(err));
	return 0;
}
