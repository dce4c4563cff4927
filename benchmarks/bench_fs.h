// SPDX-License-Identifier: BSD-3-Clause
// File helpers shared by the Google Benchmark harnesses.

#ifndef SLUICE_BENCH_FS_H
#define SLUICE_BENCH_FS_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include <string>

// Remove @dir and everything below it (a benchmark's journal directory).
inline void
bench_rm_rf(const std::string &dir)
{
	nftw(
		dir.c_str(),
		[](const char *path, const struct stat *, int, struct FTW *) { return remove(path); },
		16, FTW_DEPTH | FTW_PHYS);
}

#endif // SLUICE_BENCH_FS_H
