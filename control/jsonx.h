/* SPDX-License-Identifier: BSD-3-Clause */
/* Typed member access over libjansson values, with the control plane's error convention. */

#ifndef SLUICE_CONTROL_JSONX_H
#define SLUICE_CONTROL_JSONX_H

#include <errno.h>
#include <stdint.h>

#include <jansson.h>

/*
 * sluice-control reads and writes JSON with libjansson (a strict RFC 8259
 * parser with correct escaping and UTF-8 checks). Documents are parsed with
 * SL_JSON_LOAD_FLAGS: a repeated key is refused, and so is "\u0000"
 * (jansson's default without JSON_ALLOW_NUL), since strings are handed on
 * as C strings. Output is compact, members in insertion order.
 */
#define SL_JSON_LOAD_FLAGS JSON_REJECT_DUPLICATES
#define SL_JSON_DUMP_FLAGS JSON_COMPACT

/* Member @key of @obj, NULL when absent, null, or @obj is not an object. */
static inline json_t *
sl_jget(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_null(v) ? NULL : v;
}

/* Member accessors: 0, -ENOENT (absent or null) or -EINVAL (wrong type or
 * range). @obj may be NULL or not an object (then -ENOENT). */
static inline int
sl_jget_str(const json_t *obj, const char *key, const char **out)
{
	json_t *v = sl_jget(obj, key);

	if (v != NULL && json_is_string(v))
		*out = json_string_value(v);
	return v == NULL ? -ENOENT : json_is_string(v) ? 0 : -EINVAL;
}

static inline int
sl_jget_u64(const json_t *obj, const char *key, uint64_t *out)
{
	json_t *v = sl_jget(obj, key);
	int ok = json_is_integer(v) && json_integer_value(v) >= 0;

	if (ok)
		*out = (uint64_t)json_integer_value(v);
	return v == NULL ? -ENOENT : ok ? 0 : -EINVAL;
}

static inline int
sl_jget_bool(const json_t *obj, const char *key, int *out)
{
	json_t *v = sl_jget(obj, key);

	if (json_is_boolean(v))
		*out = json_is_true(v);
	return v == NULL ? -ENOENT : json_is_boolean(v) ? 0 : -EINVAL;
}

/* A uint64 as a JSON integer: jansson's integers are int64, so a value
 * past INT64_MAX (never a real counter) saturates there. */
static inline json_t *
sl_json_u64(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* A double, or null when not finite (jansson refuses NaN and infinities). */
static inline json_t *
sl_json_real(double v)
{
	json_t *r = json_real(v);

	return r != NULL ? r : json_null();
}

#endif /* SLUICE_CONTROL_JSONX_H */
