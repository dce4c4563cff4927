/* SPDX-License-Identifier: BSD-3-Clause */
/* What every libFuzzer harness shares: the entry point, invariant checks, scratch directories. */

#ifndef SLUICE_TESTS_FUZZ_H
#define SLUICE_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * An invariant of the decoder under test: a broken one is a finding, so it
 * aborts (libFuzzer saves the input as a crash) and says which.
 */
#define FUZZ_CHECK(cond)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                     \
			abort();                                                            \
		}                                                                           \
	} while (0)

/*
 * A scratch directory of this process under $TMPDIR (or /dev/shm, or
 * /tmp), made once
 * and removed at exit. Aborts when it cannot be made: the harness cannot run.
 */
const char *fuzz_tmpdir(const char *name);

/* Write @size bytes to @path (created or truncated). 0 or -1. */
int fuzz_write_file(const char *path, const void *data, size_t size);

/* Remove everything under @dir, keeping @dir itself. */
void fuzz_empty_dir(const char *dir);

#endif /* SLUICE_TESTS_FUZZ_H */
