/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one logging macro: SL_LOG(LEVEL, fmt, ...), LEVEL one of ERR,
 * WARNING, NOTICE, INFO, DEBUG. In the dataplane (built with SL_LOG_RTE) a
 * line goes to DPDK's log under the type "sluice" (RTE_LOGTYPE_USER1), so
 * --log-level and the EAL's log stream apply; in the tools and daemons it
 * goes to stderr prefixed with the program's name. Never on a worker's hot
 * path: logging takes a lock and may make a system call.
 */

#ifndef SLUICE_COMMON_LOG_H
#define SLUICE_COMMON_LOG_H

#ifdef SL_LOG_RTE
#include <rte_log.h>

#define RTE_LOGTYPE_SLUICE RTE_LOGTYPE_USER1
#define SL_LOG(level, ...) RTE_LOG(level, SLUICE, __VA_ARGS__)
#else
#include <errno.h>
#include <stdio.h>

#define SL_LOG(level, ...)                                                       \
	(fprintf(stderr, "%s: ", program_invocation_short_name),                 \
	 fprintf(stderr, __VA_ARGS__))
#endif

#endif
