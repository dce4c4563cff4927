/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl's one printer: value formatting, aligned tables, key/value lists and --json output. */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

const char sl_ctl_prog[] = "sluicectl";

void
sl_ctl_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", sl_ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Names may come from clients (unmanaged topics) and must not drive the terminal. */
void
sl_ctl_sanitize(char *out, size_t n, const char *s)
{
	size_t i = 0;

	for (; *s != '\0' && i + 1 < n; s++)
		out[i++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[i] = '\0';
}

bool
sl_ctl_u64(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

bool
sl_ctl_is_true(const json_t *v)
{
	return json_is_true(v);
}

/* Array elements, comma-separated; "[N items]" when one is not a scalar. */
static void
fmt_array(char *out, size_t n, const json_t *v)
{
	size_t len = 0, i;
	json_t *e;

	out[0] = '\0';
	json_array_foreach(v, i, e) {
		if (len + 1 >= n)
			break;
		if (json_is_object(e) || json_is_array(e)) {
			snprintf(out, n, "[%zu items]", json_array_size(v));
			return;
		}
		if (len > 0)
			out[len++] = ',';
		sl_ctl_fmt_val(out + len, n - len, e);
		len += strlen(out + len);
	}
}

void
sl_ctl_fmt_val(char *out, size_t n, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		snprintf(out, n, "-");
	else if (json_is_boolean(v))
		snprintf(out, n, "%s", json_is_true(v) ? "yes" : "no");
	else if (json_is_integer(v))
		snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, n, "%.15g", json_real_value(v));
	else if (json_is_string(v))
		sl_ctl_sanitize(out, n, json_string_value(v));
	else if (json_is_array(v))
		fmt_array(out, n, v);
	else
		snprintf(out, n, "{%zu members}", json_object_size(v));
}

/* Stats are for eyes; --json has the exact values. */
void
sl_ctl_fmt_human(char *out, size_t n, double v)
{
	static const char sfx[] = " kMGTPE";
	int i = 0;

	if (isnan(v)) {
		snprintf(out, n, "-");
		return;
	}
	while (fabs(v) >= 999.95 && i < 6) {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(out, n, v == floor(v) ? "%.0f" : "%.1f", v);
	else
		snprintf(out, n, "%.1f%c", v, sfx[i]);
}

void
sl_ctl_fmt_bytes(char *out, size_t n, double v)
{
	static const char *const sfx[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int i = 0;

	if (isnan(v)) {
		snprintf(out, n, "-");
		return;
	}
	while (v >= 1023.95 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, i == 0 ? "%.0f%s" : "%.1f%s", v, sfx[i]);
}

void
sl_ctl_fmt_duration(char *out, size_t n, double s)
{
	unsigned long t = (unsigned long)s;

	if (isnan(s) || s < 0)
		snprintf(out, n, "-");
	else if (s < 60)
		snprintf(out, n, "%.1fs", s);
	else if (t < 3600)
		snprintf(out, n, "%lum%02lus", t / 60, t % 60);
	else if (t < 86400)
		snprintf(out, n, "%luh%02lum%02lus", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, n, "%lud%02luh%02lum", t / 86400, t / 3600 % 24, t / 60 % 60);
}

json_t *
sl_ctl_json_path(const json_t *o, const char *path)
{
	json_t *v = (json_t *)o;
	char key[256];

	while (v != NULL) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = json_object_get(v, key);	/* NULL when @v is not an object */
		if (path[n] == '\0')
			break;
		path += n + 1;
	}
	return v;
}

double
sl_ctl_num_at(const json_t *o, const char *path)
{
	json_t *v = sl_ctl_json_path(o, path);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

void
sl_ctl_table_init(struct sl_ctl_table *t, int ncol, const char *const *hdr)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol;
	for (int i = 0; i < ncol; i++)
		t->hdr[i] = hdr[i];
}

/* Out of memory aborts: a CLI that cannot allocate a table has nothing better to do. */
void
sl_ctl_table_row(struct sl_ctl_table *t, const char *const *vals)
{
	if (t->nrow == t->cap) {
		t->cap = t->cap != 0 ? t->cap * 2 : 16;
		t->cell = realloc(t->cell, t->cap * (size_t)t->ncol * sizeof(char *));
		if (t->cell == NULL)
			abort();
	}
	for (int i = 0; i < t->ncol; i++) {
		char **c = &t->cell[t->nrow * (size_t)t->ncol + (size_t)i];

		*c = strdup(vals[i]);
		if (*c == NULL)
			abort();
	}
	t->nrow++;
}

void
sl_ctl_table_fini(struct sl_ctl_table *t)
{
	for (size_t i = 0; i < t->nrow * (size_t)t->ncol; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->nrow = t->cap = 0;
}

static void
table_print_row(const struct sl_ctl_table *t, const int *w, const char *const *vals)
{
	for (int i = 0; i < t->ncol; i++) {
		bool right = t->hdr[i][0] == '>';
		bool last = i == t->ncol - 1;

		if (right)
			printf("%*s", w[i], vals[i]);
		else
			printf("%-*s", last ? 0 : w[i], vals[i]);
		fputs(last ? "\n" : "  ", stdout);
	}
}

void
sl_ctl_table_print(struct sl_ctl_table *t)
{
	int w[SL_CTL_MAX_COLS];
	const char *h[SL_CTL_MAX_COLS];

	for (int i = 0; i < t->ncol; i++) {
		h[i] = t->hdr[i] + (t->hdr[i][0] == '>');
		w[i] = (int)strlen(h[i]);
		for (size_t r = 0; r < t->nrow; r++) {
			int l = (int)strlen(t->cell[r * (size_t)t->ncol + (size_t)i]);

			w[i] = l > w[i] ? l : w[i];
		}
	}
	table_print_row(t, w, h);
	for (size_t r = 0; r < t->nrow; r++)
		table_print_row(t, w, (const char *const *)&t->cell[r * (size_t)t->ncol]);
	sl_ctl_table_fini(t);
}

/* Member @key of @o: see sl_ctl_print_objects(). */
static json_t *
column_value(const json_t *o, const char *key)
{
	const char *bar = strchr(key, '|');
	json_t *v;
	char first[128];

	if (bar == NULL || (size_t)(bar - key) >= sizeof(first))
		return sl_ctl_json_path(o, key);
	memcpy(first, key, (size_t)(bar - key));
	first[bar - key] = '\0';
	v = sl_ctl_json_path(o, first);
	return v != NULL && !json_is_null(v) ? v : column_value(o, bar + 1);
}

void
sl_ctl_print_objects(json_t *arr, int ncol, const char *const *hdr, const char *const *keys)
{
	struct sl_ctl_table t;
	char buf[SL_CTL_MAX_COLS][256];
	const char *vals[SL_CTL_MAX_COLS];
	size_t k;
	json_t *o;

	sl_ctl_table_init(&t, ncol, hdr);
	json_array_foreach(arr, k, o) {
		for (int i = 0; i < ncol; i++) {
			sl_ctl_fmt_val(buf[i], sizeof(buf[i]), column_value(o, keys[i]));
			vals[i] = buf[i];
		}
		sl_ctl_table_row(&t, vals);
	}
	sl_ctl_table_print(&t);
}

static void
kv_collect(struct sl_ctl_table *t, json_t *obj, const char *prefix)
{
	char key[256], val[512];
	const char *row[2] = { key, val };
	const char *k;
	json_t *m;

	json_object_foreach(obj, k, m) {
		char name[200];

		sl_ctl_sanitize(name, sizeof(name), k);
		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", name);
		if (json_is_object(m) && json_object_size(m) > 0) {
			kv_collect(t, m, key);
			continue;
		}
		sl_ctl_fmt_val(val, sizeof(val), m);
		sl_ctl_table_row(t, row);
	}
}

void
sl_ctl_print_kv(json_t *obj)
{
	static const char *const hdr[] = { "FIELD", "VALUE" };
	struct sl_ctl_table t;
	int w = 0;

	if (!json_is_object(obj))
		return;
	sl_ctl_table_init(&t, 2, hdr);
	kv_collect(&t, obj, "");
	/* Key/value listings read better as "key: value" than with a header. */
	for (size_t r = 0; r < t.nrow; r++) {
		int l = (int)strlen(t.cell[r * 2]);

		w = l > w ? l : w;
	}
	for (size_t r = 0; r < t.nrow; r++)
		printf("%s:%*s %s\n", t.cell[r * 2], w - (int)strlen(t.cell[r * 2]), "",
		       t.cell[r * 2 + 1]);
	sl_ctl_table_fini(&t);
}

void
sl_ctl_print_result_raw(const struct sl_ctl_reply *r)
{
	if (r->result == NULL)
		return;
	fwrite(r->line + r->result_off, 1, r->result_len, stdout);
	fputc('\n', stdout);
}

int
sl_ctl_finish_change(const struct sl_ctl *c, int rc, struct sl_ctl_reply *r, const char *fmt,
		     ...)
{
	va_list ap;

	if (rc != 0)
		return rc;
	if (c->json) {
		sl_ctl_print_result_raw(r);
	} else if (!c->quiet) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		fputc('\n', stdout);
	}
	sl_ctl_reply_fini(r);
	return 0;
}

int
sl_ctl_show_result(const struct sl_ctl *c, int rc, struct sl_ctl_reply *r,
		   void (*print)(json_t *))
{
	if (rc != 0)
		return rc;
	if (c->json)
		sl_ctl_print_result_raw(r);
	else
		print(r->result);
	sl_ctl_reply_fini(r);
	return 0;
}

int
sl_ctl_read_verb(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		 const char *cmd, const char *key, int min, void (*print)(json_t *))
{
	const char *pos[1] = { NULL };
	struct sl_ctl_reply r;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, NULL, pos, min, key != NULL ? 1 : 0);
	if (rc != 0)
		return rc;
	rc = sl_ctl_call_simple(c, cmd, pos[0] != NULL ? key : NULL, pos[0], &r);
	return sl_ctl_show_result(c, rc, &r, print);
}

int
sl_ctl_name_verb(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		 const char *cmd, const char *done)
{
	const char *pos[1];
	struct sl_ctl_reply r;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, NULL, pos, 1, 1);
	if (rc != 0)
		return rc;
	rc = sl_ctl_call_simple(c, cmd, "name", pos[0], &r);
	return sl_ctl_finish_change(c, rc, &r, "%s %s", done, pos[0]);
}
