/* SPDX-License-Identifier: BSD-3-Clause */
/* Scratch files and directories for the harnesses that decode files. */

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "fuzz.h"

static char tmpdir[256];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

void
fuzz_empty_dir(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
tmpdir_remove(void)
{
	if (tmpdir[0]) {
		fuzz_empty_dir(tmpdir);
		rmdir(tmpdir);
	}
}

const char *
fuzz_tmpdir(const char *name)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0])
		return tmpdir;
	/* Memory rather than disk when there is a choice: the journal's and the
	 * control state's files are written for every input (five times as
	 * many executions a second). */
	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/%s.XXXXXX", base, name);
	if (mkdtemp(tmpdir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(tmpdir_remove);
	return tmpdir;
}

int
fuzz_write_file(const char *path, const void *data, size_t size)
{
	const uint8_t *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	while (size > 0) {
		n = write(fd, p, size);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		size -= (size_t)n;
	}
	return close(fd);
}

/*
 * The harnesses that run a worker (fuzz_handshake, fuzz_shm) allocate its
 * tables once at start; they are reached only through the worker structure,
 * which lives in DPDK memory that LeakSanitizer does not scan: not leaks.
 * Leaks made while handling an input are still found.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:sl_worker_init\nleak:harness_dp\n";
}
