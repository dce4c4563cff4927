/* SPDX-License-Identifier: BSD-3-Clause */
/* Minimal JSON reader and writer for sluicectl: parses one reply line into a tree. */

#ifndef SLUICE_CTL_JSON_H
#define SLUICE_CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_cj_type {
	SL_CJ_NULL,
	SL_CJ_BOOL,
	SL_CJ_NUM,
	SL_CJ_STR,
	SL_CJ_ARR,
	SL_CJ_OBJ,
};

/*
 * One value. Members of an object and elements of an array are chained by
 * @next from the container's @child, in document order. @off and @len locate
 * the value's text in the parsed buffer, so that a caller can echo a part of
 * the input exactly as it came (numbers keep every digit that way).
 */
struct sl_cj {
	enum sl_cj_type type;
	char *key;		/* member name when inside an object, else NULL */
	struct sl_cj *next;
	struct sl_cj *child;
	char *str;		/* SL_CJ_STR: decoded UTF-8, NUL terminated */
	double num;		/* SL_CJ_NUM */
	uint64_t u;		/* SL_CJ_NUM: exact value when @is_u64 */
	bool is_u64;		/* a non-negative integer that fits 64 bits */
	bool b;			/* SL_CJ_BOOL */
	size_t off, len;
};

/*
 * Parse exactly one JSON value from @s[0..@len) (surrounding white space
 * allowed; @s need not be NUL terminated). Nesting is limited to 64 levels.
 * On success *@out is the root, to be released with sl_cj_free().
 * Returns 0, -EINVAL (not one well-formed value; *@err_off is the offset of
 * the first offending byte when @err_off is not NULL) or -ENOMEM.
 * Thread-safe (no shared state).
 */
int sl_cj_parse(const char *s, size_t len, struct sl_cj **out, size_t *err_off);

/* Release a tree returned by sl_cj_parse(); NULL is a no-op. */
void sl_cj_free(struct sl_cj *v);

/* Member @key of object @obj; NULL if @obj is NULL, not an object, or has no such member. */
const struct sl_cj *sl_cj_get(const struct sl_cj *obj, const char *key);

/* Follow a '.'-separated list of member names, e.g. "counters.publishes". */
const struct sl_cj *sl_cj_path(const struct sl_cj *obj, const char *path);

/* The string of @v, or NULL if @v is NULL or not a string. */
const char *sl_cj_str(const struct sl_cj *v);

/*
 * Exact unsigned integer value of a number written without fraction or
 * exponent (e.g. 1764099000000000000). Returns false when @v is not such a
 * number or does not fit in 64 bits.
 */
bool sl_cj_u64(const struct sl_cj *v, uint64_t *out);

/* Numeric value of @v; false when @v is not a number. */
bool sl_cj_num(const struct sl_cj *v, double *out);

/* Number of elements (array) or members (object); 0 for anything else. */
size_t sl_cj_count(const struct sl_cj *v);

/* A growable output buffer; @err is set (-ENOMEM) once an append failed. */
struct sl_cj_buf {
	char *p;
	size_t len, cap;
	int err;
};

/* Append raw bytes. */
void sl_cj_buf_raw(struct sl_cj_buf *b, const char *s, size_t n);

/* Append @s as a quoted JSON string, escaping as RFC 8259 requires. */
void sl_cj_buf_str(struct sl_cj_buf *b, const char *s);

/* Append printf-formatted text. */
void sl_cj_buf_printf(struct sl_cj_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Release the buffer's memory and reset it to empty. */
void sl_cj_buf_fini(struct sl_cj_buf *b);

#endif /* SLUICE_CTL_JSON_H */
