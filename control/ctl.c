/* SPDX-License-Identifier: BSD-3-Clause */
/* What every piece of sluice-control uses: the clock of the CnC region and the log. */

#include <stdarg.h>
#include <stdio.h>

#include <common/clock.h>

#include "control.h"

uint64_t
sl_ctl_now_ns(void)
{
	return sl_wall_ns();
}

void
sl_ctl_log(const struct sl_ctl *ctl, int is_error, const char *fmt, ...)
{
	va_list ap;

	if (!is_error && !ctl->verbose)
		return;
	fprintf(stderr, "sluice-control: %s", is_error ? "error: " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
