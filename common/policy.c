/* SPDX-License-Identifier: BSD-3-Clause */
/* The policy name tables (policy.h). */

#include <string.h>

#include "policy.h"

static const char *const dur_names[SL_DUR_COUNT] = { "none", "async", "sync" };
static const char *const bp_names[SL_BP_COUNT] = { "drop", "block", "disconnect" };

static int
find(const char *name, const char *const *names, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
sl_durability_name(unsigned d)
{
	return d < SL_DUR_COUNT ? dur_names[d] : "unknown";
}

int
sl_durability_parse(const char *name)
{
	return find(name, dur_names, SL_DUR_COUNT);
}

const char *
sl_backpressure_name(unsigned b)
{
	return b < SL_BP_COUNT ? bp_names[b] : "unknown";
}

int
sl_backpressure_parse(const char *name)
{
	return find(name, bp_names, SL_BP_COUNT);
}

const char *
sl_cnc_bp_name(unsigned v)
{
	return v == 0 ? "default" : sl_backpressure_name(v - 1);
}

int
sl_cnc_bp_parse(const char *name)
{
	int b;

	if (strcmp(name, "default") == 0)
		return 0;
	b = sl_backpressure_parse(name);
	return b < 0 ? -1 : b + 1;
}
