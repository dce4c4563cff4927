/* SPDX-License-Identifier: BSD-3-Clause */
/* The policy name tables (policy.h). */

#include <string.h>

#include "policy.h"

struct names {
	const char *const *v;
	unsigned n;
};

static const char *const dur_v[SL_DUR_COUNT] = { "none", "async", "sync" };
static const char *const bp_v[SL_BP_COUNT] = { "drop", "block", "disconnect" };
static const struct names dur_names = { dur_v, SL_DUR_COUNT };
static const struct names bp_names = { bp_v, SL_BP_COUNT };

static const char *
name_of(const struct names *t, unsigned i)
{
	return i < t->n ? t->v[i] : "unknown";
}

static int
find(const struct names *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->n; i++)
		if (strcmp(name, t->v[i]) == 0)
			return (int)i;
	return -1;
}

const char *
sl_durability_name(unsigned d)
{
	return name_of(&dur_names, d);
}

int
sl_durability_parse(const char *name)
{
	return find(&dur_names, name);
}

const char *
sl_backpressure_name(unsigned b)
{
	return name_of(&bp_names, b);
}

int
sl_backpressure_parse(const char *name)
{
	return find(&bp_names, name);
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

/* Indexed by SL_CNC_ENC_* (common/cnc.h): 0 optional, 1 off, 2 required. */
static const char *const enc_v[] = { "optional", "off", "required" };
static const struct names enc_names = { enc_v, 3 };

const char *
sl_cnc_enc_name(unsigned v)
{
	return name_of(&enc_names, v);
}

int
sl_cnc_enc_parse(const char *name)
{
	return find(&enc_names, name);
}
