/* SPDX-License-Identifier: BSD-3-Clause */
/* A small JSON reader (bounded, into a tree) and writer for the control plane. */

#ifndef SLUICE_CONTROL_JSON_H
#define SLUICE_CONTROL_JSON_H

#include <stddef.h>
#include <stdint.h>

/*
 * The reader is strict RFC 8259 with three deliberate restrictions, because
 * every document it sees is either an admin request or state written by
 * sluice itself:
 *   - "\u0000" is refused (strings are handed on as C strings);
 *   - an object may not repeat a key;
 *   - an integer (no fraction, no exponent) must fit in int64 or uint64,
 *     and any number must be finite as a double.
 * Raw bytes in strings must be valid UTF-8 (no overlongs, no surrogates),
 * \u escapes must pair surrogates correctly.
 *
 * Bounds: the input length, the nesting depth and the bytes the tree may
 * allocate are all limited; a document over any limit is refused, with an
 * offset, before more memory is taken. Nodes and strings live in one arena
 * freed at once by sl_json_doc_free.
 *
 * Nothing here is thread-safe across threads sharing a doc or a writer;
 * distinct objects are independent.
 */

enum sl_json_type {
	SL_JSON_NULL,
	SL_JSON_BOOL,
	SL_JSON_NUM,
	SL_JSON_STR,
	SL_JSON_ARR,
	SL_JSON_OBJ,
};

#define SL_JSON_F_INT (1u << 0)	 /* integer literal that fits in int64: i */
#define SL_JSON_F_UINT (1u << 1) /* integer literal >= 0 that fits in uint64: u */

struct sl_json {
	enum sl_json_type type;
	uint32_t flags; /* SL_JSON_F_* for numbers */
	const char *key; /* member name when the parent is an object, else NULL */
	size_t key_len;
	struct sl_json *next; /* next sibling */
	union {
		int boolean;
		struct {
			double d;
			int64_t i;
			uint64_t u;
		} num;
		struct {
			const char *s; /* NUL terminated; never contains NUL */
			size_t len;
		} str;
		struct {
			struct sl_json *first;
			size_t count;
		} kids; /* arrays and objects */
	} v;
};

struct sl_json_limits {
	size_t max_len;	  /* bytes of input */
	unsigned max_depth; /* nested arrays and objects */
	size_t max_mem;	  /* bytes of tree and strings */
};

/* Defaults: 1 MiB input, depth 32, 8 MiB of tree. */
#define SL_JSON_DEFAULT_MAX_LEN (1u << 20)
#define SL_JSON_DEFAULT_MAX_DEPTH 32u
#define SL_JSON_DEFAULT_MAX_MEM (8u << 20)

struct sl_json_error {
	size_t offset;	 /* byte offset in the input where parsing stopped */
	char msg[96];	 /* what was wrong there */
};

struct sl_json_doc; /* a parsed document: the arena and its root */

/*
 * Parse @len bytes at @text (need not be NUL terminated). @lim may be NULL
 * for the defaults. Leading and trailing whitespace are allowed, anything
 * else after the value is an error.
 * Returns 0 and the document through @out, -EINVAL for malformed input,
 * -E2BIG when the input, the depth or the memory limit is exceeded (both
 * with @err filled), or -ENOMEM.
 */
int sl_json_parse(struct sl_json_doc **out, const char *text, size_t len,
		  const struct sl_json_limits *lim, struct sl_json_error *err);

/* The root value of @doc; never NULL for a parsed document. */
const struct sl_json *sl_json_root(const struct sl_json_doc *doc);

/* Free @doc and every node and string in it. NULL is a no-op. */
void sl_json_doc_free(struct sl_json_doc *doc);

/* Member @key of object @obj, or NULL (also when @obj is not an object). */
const struct sl_json *sl_json_get(const struct sl_json *obj, const char *key);

/* Typed member accessors: 0, -ENOENT (absent or null) or -EINVAL (wrong
 * type or range). */
int sl_json_get_str(const struct sl_json *obj, const char *key, const char **out);
int sl_json_get_u64(const struct sl_json *obj, const char *key, uint64_t *out);
int sl_json_get_bool(const struct sl_json *obj, const char *key, int *out);

/* Name of a type, for messages. */
const char *sl_json_type_name(enum sl_json_type t);

/*
 * Writer: appends to a growable buffer; tracks commas itself. Errors are
 * sticky (w->err, -ENOMEM or -E2BIG past @max bytes) and make every later
 * call a no-op, so a caller checks once at the end.
 */
struct sl_jw {
	char *buf;
	size_t len, cap, max;
	int err;
	unsigned depth;
	uint64_t has_items; /* bit d: the container at depth d has a member */
	int after_key;	    /* a key was written; the value needs no comma */
};

void sl_jw_init(struct sl_jw *w, size_t max);
void sl_jw_free(struct sl_jw *w);
void sl_jw_obj_begin(struct sl_jw *w);
void sl_jw_obj_end(struct sl_jw *w);
void sl_jw_arr_begin(struct sl_jw *w);
void sl_jw_arr_end(struct sl_jw *w);
void sl_jw_key(struct sl_jw *w, const char *key);
void sl_jw_str(struct sl_jw *w, const char *s);
void sl_jw_strn(struct sl_jw *w, const char *s, size_t len);
void sl_jw_u64(struct sl_jw *w, uint64_t v);
void sl_jw_i64(struct sl_jw *w, int64_t v);
void sl_jw_double(struct sl_jw *w, double v); /* non-finite values as null */
void sl_jw_bool(struct sl_jw *w, int v);
void sl_jw_null(struct sl_jw *w);
/* A parsed value, serialised again (compact). */
void sl_jw_value(struct sl_jw *w, const struct sl_json *v);
/* A value already serialised as JSON (@len bytes), inserted as is. */
void sl_jw_json(struct sl_jw *w, const char *json, size_t len);
/* Raw bytes, no comma handling: for line ends. */
void sl_jw_raw(struct sl_jw *w, const char *s, size_t len);

/*
 * Escape @len bytes of @s as the body of a JSON string (no quotes) into a
 * writer. Control bytes become \uXXXX, quote and backslash are escaped.
 */
void sl_jw_escape(struct sl_jw *w, const char *s, size_t len);

#endif /* SLUICE_CONTROL_JSON_H */
