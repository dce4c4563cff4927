/* SPDX-License-Identifier: BSD-3-Clause */
/* The one way the tools set their signal handlers: a flag-setting handler, no SA_RESTART. */

#ifndef SLUICE_COMMON_SIG_H
#define SLUICE_COMMON_SIG_H

#include <errno.h>
#include <signal.h>
#include <string.h>

/*
 * Install @fn for each of the @n signals in @sigs, with sa_flags @flags
 * (0, or SA_RESETHAND for a second signal that kills). Never SA_RESTART:
 * a blocking call (poll, nanosleep, recv) returns EINTR, so that the loop
 * around it sees the flag @fn sets. Returns 0, or -errno of the first
 * sigaction(2) that failed (the signals before it keep @fn). Call it from
 * the main thread before any other starts.
 */
static inline int
sl_sig_handle(void (*fn)(int), int flags, const int *sigs, unsigned int n)
{
	struct sigaction sa;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags & ~SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

#endif /* SLUICE_COMMON_SIG_H */
