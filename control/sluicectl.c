/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl: command-line client of sluice-control's admin socket (docs/CONTROL.md). */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <common/paths.h>
#include <common/policy.h>
#include <common/clock.h>

#include "ctl_json.h"

/* Exit codes scripts may rely on; listed in --help. */
#define SL_CTL_EXIT_OK		0
#define SL_CTL_EXIT_FAILED	1	/* refused by the daemon, or a local failure */
#define SL_CTL_EXIT_USAGE	2
#define SL_CTL_EXIT_UNREACHABLE	3
#define SL_CTL_EXIT_NOT_FOUND	4
#define SL_CTL_HELP		(-1)	/* internal: help was printed, exit 0 */

#define SL_CTL_REPLY_MAX	(4u << 20)	/* longest reply line accepted */
#define SL_CTL_TIMEOUT_MS	5000
#define SL_CTL_DEFAULT_NAME	"sluice"
#define SL_CTL_MAX_POS		4
#define SL_CTL_MAX_COLS		12
#define SL_CTL_MAX_RATE		100000000u	/* policy rate: as sluice-control's limit */

/* Global options and the socket they select. */
struct ctl {
	const char *name;	/* -n */
	const char *socket;	/* -s */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool json;
	bool quiet;
	int timeout_ms;
};

/* One answer of sluice-control: the raw line and its parse. */
struct reply {
	char *line;
	size_t len;
	struct sl_cj *root;
	const struct sl_cj *result;	/* NULL when the answer has none */
};

/* A verb-specific option: a flag (@val NULL) or one taking an argument. */
struct opt {
	const char *name;	/* long name without "--" */
	const char **val;
	bool *flag;
};

struct verb {
	const char *noun;
	const char *verb;	/* NULL: the noun alone is the command (stats) */
	const char *synopsis;
	const char *help;
	int (*run)(struct ctl *c, const struct verb *v, int argc, char **argv);
};

static volatile sig_atomic_t stop_requested;

static const char prog[] = "sluicectl";

/* ---------------------------------------------------------------- output */

static void __attribute__((format(printf, 1, 2)))
err_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Copy @s into @out, replacing control characters: names may come from
 * clients (unmanaged topics) and must not drive the terminal. */
static void
sanitize(char *out, size_t n, const char *s)
{
	size_t i = 0;

	for (; *s != '\0' && i + 1 < n; s++)
		out[i++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[i] = '\0';
}

/* A value as table text: exact numbers, "-" for absent or null. */
static void
fmt_val(char *out, size_t n, const struct sl_cj *v)
{
	uint64_t u;

	if (v == NULL || v->type == SL_CJ_NULL) {
		snprintf(out, n, "-");
	} else if (v->type == SL_CJ_BOOL) {
		snprintf(out, n, "%s", v->b ? "yes" : "no");
	} else if (sl_cj_u64(v, &u)) {
		snprintf(out, n, "%llu", (unsigned long long)u);
	} else if (v->type == SL_CJ_NUM) {
		snprintf(out, n, "%.15g", v->num);
	} else if (v->type == SL_CJ_STR) {
		sanitize(out, n, v->str);
	} else if (v->type == SL_CJ_ARR) {
		size_t len = 0;

		out[0] = '\0';
		for (const struct sl_cj *e = v->child; e != NULL && len + 1 < n; e = e->next) {
			if (e->type == SL_CJ_OBJ || e->type == SL_CJ_ARR) {
				snprintf(out, n, "[%zu items]", sl_cj_count(v));
				return;
			}
			if (len > 0)
				out[len++] = ',';
			fmt_val(out + len, n - len, e);
			len += strlen(out + len);
		}
	} else {
		snprintf(out, n, "{%zu members}", sl_cj_count(v));
	}
}

/* 1234 -> "1.2k": stats are for eyes; --json has the exact values. */
static void
fmt_human(char *out, size_t n, double v)
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

static void
fmt_bytes(char *out, size_t n, double v)
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

static void
fmt_duration(char *out, size_t n, double s)
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

/* An aligned text table; a header starting with '>' is right-aligned. */
struct table {
	int ncol;
	const char *hdr[SL_CTL_MAX_COLS];
	char **cell;	/* row-major, ncol per row */
	size_t nrow, cap;
};

static void
table_init(struct table *t, int ncol, const char *const *hdr)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol;
	for (int i = 0; i < ncol; i++)
		t->hdr[i] = hdr[i];
}

/* Append one row of @t->ncol strings (copied). Out of memory aborts: a CLI
 * that cannot allocate a table has nothing better to do. */
static void
table_row(struct table *t, const char *const *vals)
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

static void
table_print_row(const struct table *t, const int *w, const char *const *vals)
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

static void
table_print(struct table *t)
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
	for (size_t i = 0; i < t->nrow * (size_t)t->ncol; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->nrow = t->cap = 0;
}

/* Member @key ("a.b" for nested) of @o; "k1|k2": k1, or k2 when @o has no k1. */
static const struct sl_cj *
column_value(const struct sl_cj *o, const char *key)
{
	const char *bar = strchr(key, '|');
	const struct sl_cj *v;
	char first[128];

	if (bar == NULL || (size_t)(bar - key) >= sizeof(first))
		return sl_cj_path(o, key);
	memcpy(first, key, (size_t)(bar - key));
	first[bar - key] = '\0';
	v = sl_cj_path(o, first);
	return v != NULL && v->type != SL_CJ_NULL ? v : column_value(o, bar + 1);
}

/* A table whose columns are members of each object of @arr (see column_value). */
static void
print_object_table(const struct sl_cj *arr, int ncol, const char *const *hdr,
		   const char *const *keys)
{
	struct table t;
	char buf[SL_CTL_MAX_COLS][256];
	const char *vals[SL_CTL_MAX_COLS];

	table_init(&t, ncol, hdr);
	for (const struct sl_cj *o = arr != NULL && arr->type == SL_CJ_ARR ? arr->child : NULL;
	     o != NULL; o = o->next) {
		for (int i = 0; i < ncol; i++) {
			fmt_val(buf[i], sizeof(buf[i]), column_value(o, keys[i]));
			vals[i] = buf[i];
		}
		table_row(&t, vals);
	}
	table_print(&t);
}

/* "key  value" lines for the members of @obj, nested objects as "a.b". */
static void
kv_collect(struct table *t, const struct sl_cj *obj, const char *prefix)
{
	char key[256], val[512];
	const char *row[2] = { key, val };

	for (const struct sl_cj *m = obj->child; m != NULL; m = m->next) {
		char name[200];

		sanitize(name, sizeof(name), m->key);
		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", name);
		if (m->type == SL_CJ_OBJ && m->child != NULL) {
			kv_collect(t, m, key);
			continue;
		}
		fmt_val(val, sizeof(val), m);
		table_row(t, row);
	}
}

static void
print_kv(const struct sl_cj *obj)
{
	static const char *const hdr[] = { "FIELD", "VALUE" };
	struct table t;
	int w = 0;

	if (obj == NULL || obj->type != SL_CJ_OBJ)
		return;
	table_init(&t, 2, hdr);
	kv_collect(&t, obj, "");
	/* Key/value listings read better as "key: value" than with a header. */
	for (size_t r = 0; r < t.nrow; r++) {
		int l = (int)strlen(t.cell[r * 2]);

		w = l > w ? l : w;
	}
	for (size_t r = 0; r < t.nrow; r++) {
		printf("%s:%*s %s\n", t.cell[r * 2], w - (int)strlen(t.cell[r * 2]), "",
		       t.cell[r * 2 + 1]);
		free(t.cell[r * 2]);
		free(t.cell[r * 2 + 1]);
	}
	free(t.cell);
}

/* ------------------------------------------------------------- transport */

static int64_t
now_ms(void)
{
	return (int64_t)(sl_mono_ns() / 1000000);
}

static void
unreachable(const struct ctl *c, int err)
{
	const char *hint;

	switch (err) {
	case ENOENT:
	case ENOTDIR:
		hint = "no such socket: is sluice-control running? (pick another instance "
		       "with -n NAME or a socket with -s SOCKET)";
		break;
	case ECONNREFUSED:
		hint = "nobody is listening (stale socket): start sluice-control";
		break;
	case EACCES:
	case EPERM:
		hint = "permission denied: run as root or as a member of the socket's group "
		       "(sluice-control --socket-group)";
		break;
	case EAGAIN:
	case EINPROGRESS:
	case ETIMEDOUT:
		hint = "sluice-control did not accept the connection in time: it may be "
		       "overloaded or hung (-t MS waits longer)";
		break;
	default:
		hint = strerror(err);
		break;
	}
	err_msg("cannot reach sluice-control at %s: %s", c->path, hint);
}

/* Connect within @deadline; returns the socket or -errno. SO_SNDTIMEO bounds a
 * blocking AF_UNIX connect(2) on Linux (a full listen backlog waits on it). */
static int
ctl_connect(const struct ctl *c, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t left = deadline - now_ms();
	struct timeval tv;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (left < 1)
		left = 1;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	memcpy(sa.sun_path, c->path, strlen(c->path));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR && !stop_requested)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one line (without its '\n') into @r; returns 0 or an exit code. */
static int
recv_line(const struct ctl *c, int fd, int64_t deadline, struct reply *r)
{
	size_t cap = 0;
	char *nl = NULL;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0) {
			err_msg("sluice-control at %s did not answer within %d ms "
				"(-t MS waits longer)", c->path, c->timeout_ms);
			return SL_CTL_EXIT_UNREACHABLE;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR && !stop_requested)
				continue;
			if (errno != EINTR)	/* else Ctrl-C in stats --watch: quietly */
				err_msg("waiting for sluice-control: %s", strerror(errno));
			return SL_CTL_EXIT_UNREACHABLE;
		}
		if (pfd.revents == 0)
			continue;
		if (r->len + 65536 + 1 > cap) {
			cap = cap != 0 ? cap * 2 : 131072;
			r->line = realloc(r->line, cap);
			if (r->line == NULL)
				abort();
		}
		n = read(fd, r->line + r->len, cap - r->len - 1);
		if (n < 0 && errno == EINTR && !stop_requested)
			continue;
		if (n <= 0) {
			err_msg("sluice-control at %s closed the connection without answering%s%s",
				c->path, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return SL_CTL_EXIT_UNREACHABLE;
		}
		nl = memchr(r->line + r->len, '\n', (size_t)n);
		r->len += (size_t)n;
		if (nl != NULL)
			r->len = (size_t)(nl - r->line);
		if (r->len > SL_CTL_REPLY_MAX) {
			err_msg("reply from sluice-control is longer than %u bytes: refused",
				SL_CTL_REPLY_MAX);
			return SL_CTL_EXIT_FAILED;
		}
		if (nl != NULL) {
			r->line[r->len] = '\0';
			return 0;
		}
	}
}

static void
reply_fini(struct reply *r)
{
	sl_cj_free(r->root);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

/* Turn a parsed answer into an exit code, printing the daemon's refusal. */
static int
reply_check(struct reply *r)
{
	const struct sl_cj *ok = sl_cj_get(r->root, "ok");
	const char *msg, *code;
	char buf[1024];

	if (ok == NULL || ok->type != SL_CJ_BOOL) {
		err_msg("malformed reply from sluice-control: no \"ok\" member");
		return SL_CTL_EXIT_FAILED;
	}
	if (ok->b) {
		r->result = sl_cj_get(r->root, "result");
		return SL_CTL_EXIT_OK;
	}
	msg = sl_cj_str(sl_cj_get(r->root, "error"));
	code = sl_cj_str(sl_cj_get(r->root, "code"));
	if (msg != NULL) {
		sanitize(buf, sizeof(buf), msg);
		err_msg("%s", buf);
	} else {
		sanitize(buf, sizeof(buf), code != NULL ? code : "unknown");
		err_msg("sluice-control refused the command (code %s)", buf);
	}
	return code != NULL && strcmp(code, "not_found") == 0 ? SL_CTL_EXIT_NOT_FOUND
							      : SL_CTL_EXIT_FAILED;
}

/*
 * Send {"cmd":@cmd,"args":@args} (@args: a JSON object text, or NULL for
 * none) and read the answer into @r (to be released with reply_fini()).
 * Returns an exit code; every failure has been reported on stderr.
 */
static int
ctl_call(const struct ctl *c, const char *cmd, const struct sl_cj_buf *args, struct reply *r)
{
	int64_t deadline = now_ms() + c->timeout_ms;
	struct sl_cj_buf req = { 0 };
	size_t off = 0;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	sl_cj_buf_raw(&req, "{\"cmd\":", 7);
	sl_cj_buf_str(&req, cmd);
	if (args != NULL) {
		sl_cj_buf_raw(&req, ",\"args\":", 8);
		sl_cj_buf_raw(&req, args->p, args->len);
	}
	sl_cj_buf_raw(&req, "}\n", 2);
	if (req.err < 0 || (args != NULL && args->err < 0))
		abort();
	fd = ctl_connect(c, deadline);
	if (fd < 0) {
		sl_cj_buf_fini(&req);
		if (!stop_requested)
			unreachable(c, -fd);
		return SL_CTL_EXIT_UNREACHABLE;
	}
	rc = send_all(fd, req.p, req.len);
	sl_cj_buf_fini(&req);
	if (rc < 0) {
		err_msg("sending to sluice-control at %s: %s", c->path, strerror(-rc));
		rc = SL_CTL_EXIT_UNREACHABLE;
	} else {
		rc = recv_line(c, fd, deadline, r);
	}
	close(fd);
	if (rc == 0 && sl_cj_parse(r->line, r->len, &r->root, &off) < 0) {
		err_msg("malformed reply from sluice-control (not JSON near byte %zu)", off);
		rc = SL_CTL_EXIT_FAILED;
	}
	if (rc == 0)
		rc = reply_check(r);
	if (rc != 0)
		reply_fini(r);
	return rc;
}

/* --json: the daemon's result exactly as it sent it, one line. */
static void
print_result_raw(const struct reply *r)
{
	if (r->result == NULL)
		return;
	fwrite(r->line + r->result->off, 1, r->result->len, stdout);
	fputc('\n', stdout);
}

/* ------------------------------------------------------- argument parsing */

static void
print_verb_help(FILE *f, const struct verb *v)
{
	fprintf(f, "Usage: %s [GLOBAL OPTIONS] %s\n\n%s\n"
		"Global options (-n, -s, -t, --json, -q) may come before or after the\n"
		"command: see '%s --help'.\n", prog, v->synopsis, v->help, prog);
}

static int __attribute__((format(printf, 2, 3)))
usage_err(const struct verb *v, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (v != NULL)
		fprintf(stderr, "\nUsage: %s %s\nTry '%s %s%s%s --help'.\n", prog, v->synopsis,
			prog, v->noun, v->verb != NULL ? " " : "", v->verb != NULL ? v->verb : "");
	else
		fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return SL_CTL_EXIT_USAGE;
}

/*
 * Whether argv[*i] is option --@lng (or -@shrt when @shrt != 0). For an
 * option with an argument (@val != NULL) accepts "--x V", "--x=V", "-x V" and
 * "-xV", stores V and advances *i past it. Returns 1 on a match, 0 if it is
 * another option, -1 if its argument is missing.
 */
static int
match_opt(int argc, char **argv, int *i, char shrt, const char *lng, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (shrt != 0 && a[0] == '-' && a[1] == shrt && (a[2] == '\0' || val != NULL)) {
		a += 2;
	} else if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, lng, n) == 0 &&
		   (a[2 + n] == '\0' || (a[2 + n] == '=' && val != NULL))) {
		a += 2 + n + (a[2 + n] == '=');
		if (val != NULL && a[-1] == '=') {
			*val = a;
			return 1;
		}
	} else {
		return 0;
	}
	if (val == NULL)
		return 1;
	if (*a != '\0') {
		*val = a;
		return 1;
	}
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static bool
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Global options wherever they appear. Returns 1 consumed, 0 not global,
 * or SL_CTL_EXIT_USAGE (reported). */
static int
global_opt(struct ctl *c, const struct verb *v, int argc, char **argv, int *i)
{
	const char *t = NULL;
	uint64_t ms;
	int m;

	if ((m = match_opt(argc, argv, i, 'n', "name", &c->name)) != 0 ||
	    (m = match_opt(argc, argv, i, 's', "socket", &c->socket)) != 0 ||
	    (m = match_opt(argc, argv, i, 't', "timeout", &t)) != 0) {
		if (m < 0)
			return usage_err(v, "option %s needs an argument", argv[*i]);
		if (t != NULL && (!parse_u64(t, &ms) || ms == 0 || ms > INT_MAX / 2))
			return usage_err(v, "--timeout takes milliseconds (1 to %d), not '%s'",
					 INT_MAX / 2, t);
		if (t != NULL)
			c->timeout_ms = (int)ms;
		return 1;
	}
	if (match_opt(argc, argv, i, 0, "json", NULL) == 1)
		c->json = true;
	else if (match_opt(argc, argv, i, 'q', "quiet", NULL) == 1)
		c->quiet = true;
	else
		return 0;
	return 1;
}

/* The socket path: -s, else -n, else $SLUICE_CONTROL_SOCKET, else the default. */
static int
resolve_socket(struct ctl *c, const struct verb *v)
{
	const char *env = getenv("SLUICE_CONTROL_SOCKET");
	int n;

	if (c->name != NULL && c->socket != NULL)
		return usage_err(v, "-n NAME and -s SOCKET exclude each other");
	if (c->name != NULL && (c->name[0] == '\0' || strchr(c->name, '/') != NULL ||
				strcmp(c->name, ".") == 0 || strcmp(c->name, "..") == 0))
		return usage_err(v, "-n takes an instance name (no '/'), not '%s'", c->name);
	if (c->socket != NULL)
		n = snprintf(c->path, sizeof(c->path), "%s", c->socket);
	else if (c->name == NULL && env != NULL && env[0] != '\0')
		n = snprintf(c->path, sizeof(c->path), "%s", env);
	else
		n = snprintf(c->path, sizeof(c->path), SL_RUN_DIR "/%s/" SL_CONTROL_SOCKET,
			     c->name != NULL ? c->name : SL_CTL_DEFAULT_NAME);
	if (n <= 0 || (size_t)n >= sizeof(c->path))
		return usage_err(v, "socket path is empty or longer than %zu bytes",
				 sizeof(c->path) - 1);
	return 0;
}

/*
 * Parse a verb's arguments: its options @opts (NULL-terminated by name),
 * global options, --help, and between @min and @max positionals into @pos
 * (unused slots NULL). Returns 0, SL_CTL_HELP or SL_CTL_EXIT_USAGE.
 */
static int
parse_args(struct ctl *c, const struct verb *v, int argc, char **argv,
	   const struct opt *opts, const char **pos, int min, int max)
{
	bool dashdash = false;
	int npos = 0;

	for (int i = 0; i < max; i++)
		pos[i] = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int m = 0;

		if (!dashdash && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "--") == 0) {
				dashdash = true;
				continue;
			}
			if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
				print_verb_help(stdout, v);
				return SL_CTL_HELP;
			}
			for (const struct opt *o = opts; o != NULL && o->name != NULL && m == 0; o++) {
				m = match_opt(argc, argv, &i, 0, o->name, o->flag != NULL ? NULL : o->val);
				if (m == 1 && o->flag != NULL)
					*o->flag = true;
			}
			if (m == 0)
				m = global_opt(c, v, argc, argv, &i);
			if (m == SL_CTL_EXIT_USAGE)
				return m;
			if (m < 0)
				return usage_err(v, "option %s needs an argument", a);
			if (m == 0)
				return usage_err(v, "unknown option '%s'", a);
			continue;
		}
		if (npos == max)
			return usage_err(v, "unexpected argument '%s'", a);
		pos[npos++] = a;
	}
	if (npos < min)
		return usage_err(v, "too few arguments");
	return resolve_socket(c, v);
}

static bool
one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

/* Common end of a command that changes state: --json result, or a message. */
static int __attribute__((format(printf, 4, 5)))
finish_change(const struct ctl *c, int rc, struct reply *r, const char *fmt, ...)
{
	va_list ap;

	if (rc != 0)
		return rc;
	if (c->json) {
		print_result_raw(r);
	} else if (!c->quiet) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		fputc('\n', stdout);
	}
	reply_fini(r);
	return 0;
}

/* Send a command whose only argument is {"@key":"@val"} (or none if @key is NULL). */
static int
call_simple(const struct ctl *c, const char *cmd, const char *key, const char *val,
	    struct reply *r)
{
	struct sl_cj_buf a = { 0 };
	int rc;

	if (key == NULL)
		return ctl_call(c, cmd, NULL, r);
	sl_cj_buf_printf(&a, "{\"%s\":", key);
	sl_cj_buf_str(&a, val);
	sl_cj_buf_raw(&a, "}", 1);
	rc = ctl_call(c, cmd, &a, r);
	sl_cj_buf_fini(&a);
	return rc;
}

/* A read command: --json prints the result, otherwise @print does. */
static int
show_result(const struct ctl *c, int rc, struct reply *r, void (*print)(const struct sl_cj *))
{
	if (rc != 0)
		return rc;
	if (c->json)
		print_result_raw(r);
	else
		print(r->result);
	reply_fini(r);
	return 0;
}

/* ----------------------------------------------------------------- topic */

static int
add_u64_arg(const struct verb *v, struct sl_cj_buf *a, const char *key, const char *opt,
	    const char *s)
{
	uint64_t n;

	if (s == NULL)
		return 0;
	if (!parse_u64(s, &n))
		return usage_err(v, "--%s takes a non-negative integer, not '%s'", opt, s);
	sl_cj_buf_printf(a, ",\"%s\":%llu", key, (unsigned long long)n);
	return 0;
}

/* topic create and topic update: NAME and the spec options, sent as @cmd. */
static int
topic_spec_call(struct ctl *c, const struct verb *v, int argc, char **argv, const char *cmd,
		const char *done)
{
	const char *dur = NULL, *bp = NULL, *rmb = NULL, *rs = NULL, *cmb = NULL, *pos[1];
	const struct opt opts[] = {
		{ "durability", &dur, NULL }, { "backpressure", &bp, NULL },
		{ "retain-mb", &rmb, NULL }, { "retain-s", &rs, NULL },
		{ "capacity-mb", &cmb, NULL }, { NULL, NULL, NULL },
	};
	struct sl_cj_buf a = { 0 };
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc != 0)
		return rc;
	if (strcmp(cmd, "topic.update") == 0 && dur == NULL && bp == NULL && rmb == NULL &&
	    rs == NULL && cmb == NULL)
		return usage_err(v, "nothing to update: give --retain-mb, --retain-s, "
				 "--capacity-mb, --backpressure or --durability");
	if (dur != NULL && sl_durability_parse(dur) < 0)
		return usage_err(v, "--durability is none, async or sync, not '%s'", dur);
	if (bp != NULL && sl_cnc_bp_parse(bp) < 0)
		return usage_err(v, "--backpressure is drop, block or disconnect (or default: the "
				 "dataplane's configured policy), not '%s'", bp);
	sl_cj_buf_raw(&a, "{\"name\":", 8);
	sl_cj_buf_str(&a, pos[0]);
	if (dur != NULL) {
		sl_cj_buf_raw(&a, ",\"durability\":", 14);
		sl_cj_buf_str(&a, dur);
	}
	if (bp != NULL) {
		sl_cj_buf_raw(&a, ",\"backpressure\":", 16);
		sl_cj_buf_str(&a, bp);
	}
	rc = add_u64_arg(v, &a, "retain_mb", "retain-mb", rmb);
	if (rc == 0)
		rc = add_u64_arg(v, &a, "retain_s", "retain-s", rs);
	if (rc == 0)
		rc = add_u64_arg(v, &a, "capacity_mb", "capacity-mb", cmb);
	sl_cj_buf_raw(&a, "}", 1);
	if (rc == 0)
		rc = ctl_call(c, cmd, &a, &r);
	sl_cj_buf_fini(&a);
	return finish_change(c, rc, &r, "%s topic %s", done, pos[0]);
}

static int
cmd_topic_create(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	return topic_spec_call(c, v, argc, argv, "topic.create", "created");
}

static int
cmd_topic_update(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	return topic_spec_call(c, v, argc, argv, "topic.update", "updated");
}

static int
cmd_topic_delete(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *pos[1];
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 1, 1);
	if (rc != 0)
		return rc;
	rc = call_simple(c, "topic.delete", "name", pos[0], &r);
	return finish_change(c, rc, &r, "deleted topic %s", pos[0]);
}

static void
print_topic_list(const struct sl_cj *res)
{
	static const char *const hdr[] = { "NAME", ">ID", "DURABILITY", "BACKPRESSURE", ">SUBS",
					   ">PUBLISHED", ">DELIVERED", ">DROPPED", ">SEQ",
					   ">JOURNAL_BYTES", "MANAGED" };
	/* Back-pressure: what the dataplane applies; the desired policy when
	 * the topic is not live. */
	static const char *const keys[] = { "name", "id", "durability",
					    "backpressure_applied|backpressure", "subscribers",
					    "published", "delivered", "dropped", "seq",
					    "journal_bytes", "managed" };

	print_object_table(res, 11, hdr, keys);
}

static int
cmd_topic_list(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *pos[1];
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 0, 0);
	if (rc != 0)
		return rc;
	return show_result(c, call_simple(c, "topic.list", NULL, NULL, &r), &r,
			   print_topic_list);
}

static int
cmd_topic_show(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *pos[1];
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 1, 1);
	if (rc != 0)
		return rc;
	return show_result(c, call_simple(c, "topic.show", "name", pos[0], &r), &r, print_kv);
}

/* ------------------------------------------------------------------ user */

static bool
is_key_hex(const char *k)
{
	size_t n = 0;

	for (; k != NULL && k[n] != '\0'; n++)
		if (!((k[n] >= '0' && k[n] <= '9') || (k[n] >= 'a' && k[n] <= 'f') ||
		      (k[n] >= 'A' && k[n] <= 'F')))
			return false;
	return n == 64;
}

/* Write the credentials file opened by cmd_user_add; 0 or -errno. */
static int
write_credentials(int fd, const char *user, const char *key)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "user = %s\nkey = %s\n", user, key);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	/* Ask for 0600 whatever the umask. */
	if (fchmod(fd, 0600) < 0 || write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
		return errno != 0 ? -errno : -EIO;
	return 0;
}

/* Print or store the key of a user just added. */
static int
user_added(const struct ctl *c, struct reply *r, const char *name, const char *file, int fd)
{
	const char *key = sl_cj_str(sl_cj_get(r->result, "key"));
	char uid[32];
	int rc = 0;

	fmt_val(uid, sizeof(uid), sl_cj_get(r->result, "uid"));
	if (!is_key_hex(key)) {
		err_msg("user %s was added but sluice-control's reply has no valid key; "
			"remove the user and add it again", name);
		rc = SL_CTL_EXIT_FAILED;
	} else if (file != NULL && (rc = write_credentials(fd, name, key)) < 0) {
		err_msg("writing %s: %s; the key of user %s follows on stdout, store it now",
			file, strerror(-rc), name);
		printf("%s\n", key);
		rc = SL_CTL_EXIT_FAILED;
	} else if (c->json) {
		print_result_raw(r);
	} else if (file != NULL) {
		if (!c->quiet)
			printf("added user %s (uid %s); credentials written to %s\n", name, uid, file);
	} else if (c->quiet) {
		printf("%s\n", key);
	} else {
		printf("added user %s (uid %s)\nkey: %s\n"
		       "The key is shown only this once: store it now.\n", name, uid, key);
	}
	return rc;
}

static int
cmd_user_add(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *file = NULL, *pos[1];
	bool admin = false;
	const struct opt opts[] = {
		{ "admin", NULL, &admin }, { "credentials", &file, NULL }, { NULL, NULL, NULL },
	};
	struct sl_cj_buf a = { 0 };
	struct reply r;
	int rc, fd = -1;

	rc = parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc != 0)
		return rc;
	/* Claim the file before the user exists: a key nobody can store is lost. */
	if (file != NULL) {
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			err_msg("cannot create credentials file %s: %s%s", file, strerror(errno),
				errno == EEXIST ? " (not overwriting it: remove it or pick "
						  "another file)" : "");
			return SL_CTL_EXIT_FAILED;
		}
	}
	sl_cj_buf_raw(&a, "{\"name\":", 8);
	sl_cj_buf_str(&a, pos[0]);
	sl_cj_buf_printf(&a, ",\"admin\":%s}", admin ? "true" : "false");
	rc = ctl_call(c, "user.add", &a, &r);
	sl_cj_buf_fini(&a);
	if (rc == 0) {
		rc = user_added(c, &r, pos[0], file, fd);
		reply_fini(&r);
	}
	if (fd >= 0) {
		close(fd);
		if (rc != 0)
			unlink(file);
	}
	return rc;
}

static int
cmd_user_remove(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *pos[1];
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 1, 1);
	if (rc != 0)
		return rc;
	rc = call_simple(c, "user.remove", "name", pos[0], &r);
	return finish_change(c, rc, &r, "removed user %s", pos[0]);
}

static void
print_user_list(const struct sl_cj *res)
{
	static const char *const hdr[] = { "NAME", ">UID", "ADMIN" };
	static const char *const keys[] = { "name", "uid", "admin" };

	print_object_table(res, 3, hdr, keys);
}

static int
cmd_user_list(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *pos[1];
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 0, 0);
	if (rc != 0)
		return rc;
	return show_result(c, call_simple(c, "user.list", NULL, NULL, &r), &r, print_user_list);
}

/* ------------------------------------------------------------------- acl */

/* "pub,sub" -> ,"perms":["pub","sub"]; usage error on anything else. */
static int
add_perms(const struct verb *v, struct sl_cj_buf *a, const char *perms)
{
	static const char *const known[] = { "pub", "sub", "admin", NULL };
	const char *p = perms;
	char tok[16];

	sl_cj_buf_raw(a, ",\"perms\":[", 10);
	for (int i = 0;; i++) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(tok))
			goto bad;
		memcpy(tok, p, n);
		tok[n] = '\0';
		if (!one_of(tok, known))
			goto bad;
		if (i > 0)
			sl_cj_buf_raw(a, ",", 1);
		sl_cj_buf_str(a, tok);
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	sl_cj_buf_raw(a, "]", 1);
	return 0;
bad:
	return usage_err(v, "PERMS is a comma list of pub, sub and admin, not '%s'", perms);
}

static int
acl_change(struct ctl *c, const struct verb *v, int argc, char **argv, bool grant)
{
	const char *pos[3];
	struct sl_cj_buf a = { 0 };
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, grant ? 3 : 2, 3);
	if (rc != 0)
		return rc;
	sl_cj_buf_raw(&a, "{\"user\":", 8);
	sl_cj_buf_str(&a, pos[0]);
	sl_cj_buf_raw(&a, ",\"pattern\":", 11);
	sl_cj_buf_str(&a, pos[1]);
	if (pos[2] != NULL)
		rc = add_perms(v, &a, pos[2]);
	sl_cj_buf_raw(&a, "}", 1);
	if (rc == 0)
		rc = ctl_call(c, grant ? "acl.grant" : "acl.revoke", &a, &r);
	sl_cj_buf_fini(&a);
	if (grant)
		return finish_change(c, rc, &r, "granted %s on %s to %s", pos[2], pos[1], pos[0]);
	return finish_change(c, rc, &r, "revoked %s on %s from %s",
			     pos[2] != NULL ? pos[2] : "all permissions", pos[1], pos[0]);
}

static int
cmd_acl_grant(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	return acl_change(c, v, argc, argv, true);
}

static int
cmd_acl_revoke(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	return acl_change(c, v, argc, argv, false);
}

static void
print_acl_list(const struct sl_cj *res)
{
	static const char *const hdr[] = { "USER", "PATTERN", "PERMS" };
	static const char *const keys[] = { "user", "pattern", "perms" };

	print_object_table(res, 3, hdr, keys);
}

static int
cmd_acl_list(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *pos[1];
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 0, 1);
	if (rc != 0)
		return rc;
	rc = call_simple(c, "acl.list", pos[0] != NULL ? "user" : NULL, pos[0], &r);
	return show_result(c, rc, &r, print_acl_list);
}

/* ---------------------------------------------------------------- policy */

/* "key: value" lines, unaligned (scripts grep "auth: required"); rate_limit
 * in words: "N msgs/s per session" or "unlimited". */
static void
print_policy(const struct sl_cj *obj)
{
	char key[200], val[512];
	uint64_t u;

	if (obj == NULL || obj->type != SL_CJ_OBJ)
		return;
	for (const struct sl_cj *m = obj->child; m != NULL; m = m->next) {
		sanitize(key, sizeof(key), m->key);
		if (strcmp(m->key, "rate_limit") == 0 && sl_cj_u64(m, &u) && u == 0)
			snprintf(val, sizeof(val), "unlimited");
		else if (strcmp(m->key, "rate_limit") == 0 && sl_cj_u64(m, &u))
			snprintf(val, sizeof(val), "%llu msgs/s per session", (unsigned long long)u);
		else
			fmt_val(val, sizeof(val), m);
		printf("%s: %s\n", key, val);
	}
}

static int
cmd_policy_set(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	static const char *const auths[] = { "open", "required", NULL };
	static const char *const idles[] = { "busy", "backoff", NULL };
	const char *pos[6], *auth = NULL, *idle = NULL, *rate = NULL;
	struct sl_cj_buf a = { 0 };
	uint64_t rate_n = 0;
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 2, 6);
	if (rc != 0)
		return rc;
	for (int i = 0; i < 6 && pos[i] != NULL; i += 2) {
		const char **slot = strcmp(pos[i], "auth") == 0 ? &auth
				  : strcmp(pos[i], "idle") == 0 ? &idle
				  : strcmp(pos[i], "rate") == 0 ? &rate : NULL;

		if (slot == NULL || *slot != NULL)
			return usage_err(v, "expected auth, idle or rate (each once), not '%s'",
					 pos[i]);
		if (pos[i + 1] == NULL)
			return usage_err(v, "%s needs a value", pos[i]);
		*slot = pos[i + 1];
	}
	if (auth != NULL && !one_of(auth, auths))
		return usage_err(v, "auth is open or required, not '%s'", auth);
	if (idle != NULL && !one_of(idle, idles))
		return usage_err(v, "idle is busy or backoff, not '%s'", idle);
	if (rate != NULL && (!parse_u64(rate, &rate_n) || rate_n > SL_CTL_MAX_RATE))
		return usage_err(v, "rate is 0 (unlimited) to %u publishes per second per "
				 "session, not '%s'", SL_CTL_MAX_RATE, rate);
	sl_cj_buf_raw(&a, "{", 1);
	if (auth != NULL)
		sl_cj_buf_printf(&a, "\"auth\":\"%s\"", auth);
	if (idle != NULL)
		sl_cj_buf_printf(&a, "%s\"idle\":\"%s\"", auth != NULL ? "," : "", idle);
	if (rate != NULL)
		sl_cj_buf_printf(&a, "%s\"rate_limit\":%llu",
				 auth != NULL || idle != NULL ? "," : "",
				 (unsigned long long)rate_n);
	sl_cj_buf_raw(&a, "}", 1);
	rc = ctl_call(c, "policy.set", &a, &r);
	sl_cj_buf_fini(&a);
	if (rc == 0 && !c->json && !c->quiet && sl_cj_count(r.result) > 0) {
		print_policy(r.result);
		c->quiet = true;	/* the policy was the message */
	}
	return finish_change(c, rc, &r, "policy set");
}

static int
cmd_policy_show(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *pos[1];
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 0, 0);
	if (rc != 0)
		return rc;
	return show_result(c, call_simple(c, "policy.show", NULL, NULL, &r), &r, print_policy);
}

/* ----------------------------------------------------------------- stats */

/* Two consecutive snapshots and what is known of the time between them. */
struct stats_view {
	const struct sl_cj *cur;
	const struct sl_cj *prev;	/* NULL on the first */
	const struct sl_cj *rates;	/* the daemon's "rates", NULL if absent */
	double dt;			/* seconds from prev to cur; NAN if unknown */
};

static double
num_at(const struct sl_cj *o, const char *path)
{
	double d;

	return sl_cj_num(sl_cj_path(o, path), &d) ? d : NAN;
}

static double
per_second(double now, double before, double dt)
{
	/* A counter that went down was reset (dataplane restart): no rate. */
	if (isnan(now) || isnan(before) || isnan(dt) || dt <= 0 || now < before)
		return NAN;
	return (now - before) / dt;
}

/*
 * Rate of the counter at @path ("counters.publishes"): the daemon's
 * rates.<path>, or for a counter rates.<name> (docs/CONTROL.md leaves the
 * shape open: flat for counters, or mirroring the snapshot), else computed
 * from the previous snapshot.
 */
static double
rate_at(const struct stats_view *s, const char *path)
{
	double d = num_at(s->rates, path);

	if (isnan(d) && strncmp(path, "counters.", 9) == 0)
		d = num_at(s->rates, path + 9);
	if (!isnan(d))
		return d;
	return per_second(num_at(s->cur, path), num_at(s->prev, path), s->dt);
}

static const struct sl_cj *
find_named(const struct sl_cj *arr, const char *name)
{
	if (arr == NULL || name == NULL)
		return NULL;
	if (arr->type == SL_CJ_OBJ)	/* {"orders.eu":{...}} */
		return sl_cj_get(arr, name);
	for (const struct sl_cj *e = arr->type == SL_CJ_ARR ? arr->child : NULL; e != NULL;
	     e = e->next) {
		const char *n = sl_cj_str(sl_cj_get(e, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

static double
topic_rate(const struct stats_view *s, const struct sl_cj *t, const char *field)
{
	const char *name = sl_cj_str(sl_cj_get(t, "name"));
	double d = num_at(find_named(sl_cj_get(s->rates, "topics"), name), field);

	if (!isnan(d))
		return d;
	return per_second(num_at(t, field),
			  num_at(find_named(sl_cj_get(s->prev, "topics"), name), field), s->dt);
}

/* Seconds between two snapshots: their ts_ns, else the client's clock. */
static double
snapshot_dt(const struct sl_cj *cur, const struct sl_cj *prev, double client_dt)
{
	uint64_t a, b;

	if (prev == NULL)
		return NAN;
	if (sl_cj_u64(sl_cj_get(cur, "pid"), &a) && sl_cj_u64(sl_cj_get(prev, "pid"), &b) &&
	    a != b)
		return NAN;	/* another dataplane: counters restarted */
	if (sl_cj_u64(sl_cj_get(cur, "ts_ns"), &a) && sl_cj_u64(sl_cj_get(prev, "ts_ns"), &b))
		return a > b ? (double)(a - b) / 1e9 : NAN;
	return client_dt;
}

static void
render_header(const struct stats_view *s)
{
	char pid[32], up[32], in[16], out[16], pub[16], del[16];
	const struct sl_cj *auth = sl_cj_get(s->cur, "auth_required");
	const char *idle = sl_cj_str(sl_cj_get(s->cur, "idle"));

	fmt_val(pid, sizeof(pid), sl_cj_get(s->cur, "pid"));
	fmt_duration(up, sizeof(up), num_at(s->cur, "uptime_s"));
	printf("dataplane pid %s, up %s, auth %s, idle %s\n", pid, up,
	       auth == NULL ? "-" : (auth->type == SL_CJ_BOOL ? auth->b : auth->num != 0)
				? "required" : "open",
	       idle != NULL ? idle : "-");
	fmt_human(in, sizeof(in), rate_at(s, "counters.publishes"));
	fmt_human(out, sizeof(out), rate_at(s, "counters.delivers"));
	fmt_human(pub, sizeof(pub), num_at(s->cur, "counters.publishes"));
	fmt_human(del, sizeof(del), num_at(s->cur, "counters.delivers"));
	printf("messages/s in %s, out %s (published %s, delivered %s since start)\n\n",
	       in, out, pub, del);
}

/* The non-zero members of @group ("counters", "drops") with their rates. */
static void
render_group(const struct stats_view *s, const char *group, const char *title)
{
	const char *hdr[] = { title, ">TOTAL", ">PER_S" };
	const struct sl_cj *g = sl_cj_get(s->cur, group);
	char name[128], path[192], total[16], rate[16];
	const char *row[3] = { name, total, rate };
	struct table t;

	table_init(&t, 3, hdr);
	for (const struct sl_cj *m = g != NULL && g->type == SL_CJ_OBJ ? g->child : NULL;
	     m != NULL; m = m->next) {
		if (m->type != SL_CJ_NUM || m->num == 0)
			continue;
		sanitize(name, sizeof(name), m->key);
		snprintf(path, sizeof(path), "%s.%s", group, m->key);
		fmt_human(total, sizeof(total), m->num);
		fmt_human(rate, sizeof(rate), rate_at(s, path));
		table_row(&t, row);
	}
	if (t.nrow == 0)
		printf("%s: none\n\n", strcmp(group, "drops") == 0 ? "drops" : group);
	else {
		table_print(&t);
		fputc('\n', stdout);
	}
	free(t.cell);
}

static void
render_topics(const struct stats_view *s)
{
	static const char *const hdr[] = { "TOPIC", "DURABILITY", ">SUBS", ">PUBLISHED",
					   ">PUB/S", ">DELIVERED", ">DELIV/S", ">DROPPED",
					   ">JOURNAL" };
	const struct sl_cj *topics = sl_cj_get(s->cur, "topics");
	char v[9][128];
	const char *row[9];
	struct table t;

	table_init(&t, 9, hdr);
	for (const struct sl_cj *e = topics != NULL && topics->type == SL_CJ_ARR ? topics->child
										  : NULL;
	     e != NULL; e = e->next) {
		const struct sl_cj *del = sl_cj_get(e, "deleted");

		if (del != NULL && del->type == SL_CJ_BOOL && del->b)
			continue;
		fmt_val(v[0], sizeof(v[0]), sl_cj_get(e, "name"));
		fmt_val(v[1], sizeof(v[1]), sl_cj_get(e, "durability"));
		fmt_human(v[2], sizeof(v[2]), num_at(e, "subscribers"));
		fmt_human(v[3], sizeof(v[3]), num_at(e, "published"));
		fmt_human(v[4], sizeof(v[4]), topic_rate(s, e, "published"));
		fmt_human(v[5], sizeof(v[5]), num_at(e, "delivered"));
		fmt_human(v[6], sizeof(v[6]), topic_rate(s, e, "delivered"));
		fmt_human(v[7], sizeof(v[7]), num_at(e, "dropped"));
		fmt_bytes(v[8], sizeof(v[8]), num_at(e, "journal_bytes"));
		for (int i = 0; i < 9; i++)
			row[i] = v[i];
		table_row(&t, row);
	}
	if (t.nrow == 0)
		printf("topics: none\n");
	else
		table_print(&t);
	free(t.cell);
}

static void
render_stats(const struct stats_view *s, bool watch)
{
	render_header(s);
	/* The live view keeps to what moves; the one-shot view lists every total. */
	if (!watch)
		render_group(s, "counters", "COUNTER");
	render_group(s, "drops", "DROP_REASON");
	render_topics(s);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Sleep until @deadline_ms (monotonic) or a signal asks to stop. */
static void
sleep_until(int64_t deadline_ms)
{
	int64_t left;

	while (!stop_requested && (left = deadline_ms - now_ms()) > 0) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
}

static void
watch_frame(const struct ctl *c, const struct reply *cur, const struct reply *prev,
	    double client_dt, double interval, bool tty, uint64_t n)
{
	struct stats_view s = { .cur = cur->result, .prev = prev->result };
	char when[32];
	time_t now = time(NULL);

	if (c->json) {
		print_result_raw(cur);
		return;
	}
	s.rates = sl_cj_get(s.cur, "rates");
	s.dt = snapshot_dt(s.cur, s.prev, client_dt);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	if (tty)
		fputs("\033[H\033[2J", stdout);
	else if (n > 0)
		fputc('\n', stdout);
	printf("sluicectl stats --watch %gs   %s%s\n", interval, when,
	       tty ? "   (Ctrl-C quits)" : "");
	render_stats(&s, true);
}

static int
stats_watch(const struct ctl *c, double interval, uint64_t count)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct reply prev = { 0 }, cur;
	bool tty = isatty(STDOUT_FILENO);
	int64_t prev_ms = 0;
	int rc = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (uint64_t n = 0; !stop_requested; n++) {
		int64_t t0 = now_ms();

		rc = call_simple(c, "stats", NULL, NULL, &cur);
		if (rc == 0) {
			watch_frame(c, &cur, &prev, (double)(t0 - prev_ms) / 1000, interval, tty, n);
			fflush(stdout);
			reply_fini(&prev);
			prev = cur;
			prev_ms = t0;
		} else if (rc != SL_CTL_EXIT_UNREACHABLE || prev.root == NULL) {
			break;	/* a refusal, or never reached: nothing to watch */
		}
		/* else: sluice-control restarting; the message is out, try again */
		if (count != 0 && n + 1 >= count)
			break;
		sleep_until(t0 + (int64_t)(interval * 1000));
	}
	reply_fini(&prev);
	return stop_requested ? 0 : rc;
}

static int
cmd_stats(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const char *count_s = NULL, *pos[1];
	bool watch = false;
	const struct opt opts[] = {
		{ "watch", NULL, &watch }, { "count", &count_s, NULL }, { NULL, NULL, NULL },
	};
	double interval = 1;
	uint64_t count = 0;
	struct reply r;
	int rc;

	rc = parse_args(c, v, argc, argv, opts, pos, 0, 1);
	if (rc != 0)
		return rc;
	if (count_s != NULL && (!parse_u64(count_s, &count) || count == 0))
		return usage_err(v, "--count takes a positive integer, not '%s'", count_s);
	if (pos[0] != NULL) {
		char *end;

		interval = strtod(pos[0], &end);
		if (!watch || *end != '\0' || !(interval >= 0.05 && interval <= 86400))
			return usage_err(v, "SECONDS follows --watch and is 0.05 to 86400, "
					 "not '%s'", pos[0]);
	}
	if (watch || count_s != NULL)
		return stats_watch(c, interval, count);
	rc = call_simple(c, "stats", NULL, NULL, &r);
	if (rc != 0)
		return rc;
	if (c->json) {
		print_result_raw(&r);
	} else {
		struct stats_view s = { .cur = r.result, .dt = NAN };

		s.rates = sl_cj_get(s.cur, "rates");
		render_stats(&s, false);
	}
	reply_fini(&r);
	return 0;
}

/* ------------------------------------------------------------- dataplane */

/* "attached", "pid", ... as "key: value" lines, then whatever else is scalar. */
static void
print_dataplane_fields(const struct sl_cj *res)
{
	static const char *const known[] = { "attached", "pid", "uptime_s", "heartbeat_age_ms",
					     NULL };
	const struct sl_cj *att = sl_cj_get(res, "attached");
	double age = num_at(res, "heartbeat_age_ms");
	char pid[32], up[32], name[64], val[256];

	fmt_val(pid, sizeof(pid), sl_cj_get(res, "pid"));
	fmt_duration(up, sizeof(up), num_at(res, "uptime_s"));
	printf("attached:      %s\npid:           %s\nuptime:        %s\n",
	       att != NULL && att->type == SL_CJ_BOOL && att->b ? "yes" : "no", pid, up);
	if (isnan(age))
		printf("heartbeat age: -\n");
	else
		printf("heartbeat age: %.0f ms\n", age);
	/* Counts ("workers":2) and any field this client does not know yet. */
	for (const struct sl_cj *m = res != NULL && res->type == SL_CJ_OBJ ? res->child : NULL;
	     m != NULL; m = m->next) {
		if (one_of(m->key, known) || m->type == SL_CJ_ARR || m->type == SL_CJ_OBJ)
			continue;
		snprintf(name, sizeof(name), "%s:", m->key);
		sanitize(name, sizeof(name), name);
		fmt_val(val, sizeof(val), m);
		printf("%-14s %s\n", name, val);
	}
}

/* The worker and port tables of @src (dataplane.status's, or a stats snapshot). */
static void
print_dataplane_tables(const struct sl_cj *src)
{
	static const char *const whdr[] = { ">WORKER", ">LCORE", ">PORT", ">QUEUE", ">RX_PKTS",
					    ">TX_PKTS", ">SESSIONS" };
	static const char *const wkeys[] = { "worker", "lcore", "port", "queue", "rx_pkts",
					     "tx_pkts", "sessions" };
	static const char *const phdr[] = { ">PORT", ">IPACKETS", ">OPACKETS", ">IMISSED",
					    ">IERRORS" };
	static const char *const pkeys[] = { "port", "ipackets", "opackets", "imissed",
					     "ierrors" };
	const struct sl_cj *w = sl_cj_get(src, "workers"), *p = sl_cj_get(src, "ports");

	if (w != NULL && w->type == SL_CJ_ARR && w->child != NULL) {
		fputc('\n', stdout);
		print_object_table(w, 7, whdr, wkeys);
	}
	if (p != NULL && p->type == SL_CJ_ARR && p->child != NULL) {
		fputc('\n', stdout);
		print_object_table(p, 5, phdr, pkeys);
	}
}

static int
cmd_dataplane_status(struct ctl *c, const struct verb *v, int argc, char **argv)
{
	const struct sl_cj *att, *w;
	struct reply r, snap;
	const char *pos[1];
	int rc;

	rc = parse_args(c, v, argc, argv, NULL, pos, 0, 0);
	if (rc != 0)
		return rc;
	rc = call_simple(c, "dataplane.status", NULL, NULL, &r);
	if (rc != 0 || c->json)
		return show_result(c, rc, &r, print_dataplane_fields);
	print_dataplane_fields(r.result);
	att = sl_cj_get(r.result, "attached");
	w = sl_cj_get(r.result, "workers");
	if (w != NULL && w->type == SL_CJ_ARR) {
		print_dataplane_tables(r.result);
	} else if (att != NULL && att->type == SL_CJ_BOOL && att->b) {
		/* A status with counts only: the stats snapshot has the tables. */
		fflush(stdout);
		if (call_simple(c, "stats", NULL, NULL, &snap) == 0) {
			print_dataplane_tables(snap.result);
			reply_fini(&snap);
		}
	}
	reply_fini(&r);
	return 0;
}

/* ------------------------------------------------------------ the verbs */

static const struct verb verbs[] = {
	{ "topic", "create",
	  "topic create NAME [--durability none|async|sync] [--backpressure drop|block|disconnect] "
	  "[--retain-mb N] [--retain-s N] [--capacity-mb N]",
	  "Create topic NAME. --durability: none (default), async (journaled, acked before\n"
	  "the write is durable) or sync (acked once durable). --backpressure: what happens\n"
	  "when a shared-memory subscriber's ring is full: drop (that subscriber misses the\n"
	  "message and sees the gap), block (publishers are held back until it has room) or\n"
	  "disconnect (that subscriber is cut off with a notice); not given (or default):\n"
	  "the dataplane's backpressure and backpressure_rules decide. Given for a topic a\n"
	  "client already created, it applies at once. --retain-mb and --retain-s bound\n"
	  "the journal by size and age; --capacity-mb sizes it (0: the dataplane's\n"
	  "default). Options not given are left to sluice-control's defaults.\n",
	  cmd_topic_create },
	{ "topic", "update",
	  "topic update NAME [--retain-mb N] [--retain-s N] [--capacity-mb N] "
	  "[--backpressure drop|block|disconnect|default] [--durability none|async|sync]",
	  "Change the settings of topic NAME, live: those given change, the others stay.\n"
	  "Retention applies at the journal's next retention pass, capacity from its next\n"
	  "segment, back-pressure at once; all are saved and survive restarts (0: the\n"
	  "dataplane's default). The durability cannot change while the topic exists:\n"
	  "--durability with another value is refused (exit status 1) and changes\n"
	  "nothing; delete the topic (its stored messages go) and create it again.\n"
	  "A topic a client created must first be adopted with 'topic create'.\n",
	  cmd_topic_update },
	{ "topic", "delete", "topic delete NAME",
	  "Delete topic NAME (the only way a topic goes: a resync never drops one). Its\n"
	  "journal is removed with it, durably before this returns: after a restart the\n"
	  "topic is still gone, and a topic created again under its name starts at\n"
	  "sequence 1.\n",
	  cmd_topic_delete },
	{ "topic", "list", "topic list",
	  "List topics: the desired state merged with the dataplane's live counters.\n"
	  "BACKPRESSURE is the policy the dataplane applies (the desired one while the\n"
	  "topic is not live). MANAGED is 'no' for topics that clients created.\n",
	  cmd_topic_list },
	{ "topic", "show", "topic show NAME",
	  "Show topic NAME with its counters, one field a line.\n", cmd_topic_show },
	{ "user", "add", "user add NAME [--admin] [--credentials FILE]",
	  "Add user NAME and print its key (64 hex digits). The key is shown this once\n"
	  "only. --credentials FILE writes \"user = NAME\" and \"key = HEX\" lines to FILE\n"
	  "(mode 0600) instead of printing the key; an existing FILE is never\n"
	  "overwritten. With -q only the key is printed, for $(...).\n", cmd_user_add },
	{ "user", "remove", "user remove NAME",
	  "Remove user NAME: its ACL entries go too and its sessions end.\n", cmd_user_remove },
	{ "user", "list", "user list", "List users (never their keys).\n", cmd_user_list },
	{ "acl", "grant", "acl grant USER PATTERN PERMS",
	  "Grant PERMS, a comma list of pub, sub and admin, on topics matching PATTERN.\n"
	  "PATTERN: topic name whose '.'-separated tokens may be '*' (one token) or, last,\n"
	  "'>' (one or more tokens). Authorization is default-deny.\n", cmd_acl_grant },
	{ "acl", "revoke", "acl revoke USER PATTERN [PERMS]",
	  "Revoke PERMS (default: all) of USER on PATTERN.\n", cmd_acl_revoke },
	{ "acl", "list", "acl list [USER]", "List ACL entries, all or USER's.\n", cmd_acl_list },
	{ "policy", "set", "policy set [auth open|required] [idle busy|backoff] [rate N]",
	  "Set the authentication policy (required: clients must prove their key), the\n"
	  "dataplane's idle strategy (busy: spin, backoff: sleep when idle), the rate\n"
	  "limit (at most N publishes per second per session, 0 = unlimited, up to\n"
	  "100000000; publishes above it are refused with ERROR RATE_LIMITED), or any\n"
	  "combination, e.g. 'policy set auth required', 'policy set rate 1000' or\n"
	  "'policy set auth open idle backoff rate 0'.\n",
	  cmd_policy_set },
	{ "policy", "show", "policy show", "Show the policy.\n", cmd_policy_show },
	{ "stats", NULL, "stats [--watch [SECONDS]] [--count N]",
	  "Without --watch: the dataplane's totals, drops by reason (non-zero only) and\n"
	  "per-topic counters with their rates. Numbers are rounded (k, M); --json has\n"
	  "them exact.\n"
	  "With --watch: refresh every SECONDS (default 1) until Ctrl-C or N refreshes\n"
	  "(--count): messages/s in and out, drops/s by reason, and per topic published/s,\n"
	  "delivered/s, subscribers and journal bytes. Rates are sluice-control's when it\n"
	  "sends them, else computed from consecutive snapshots. With --json, one\n"
	  "snapshot a line.\n", cmd_stats },
	{ "dataplane", "status", "dataplane status",
	  "Whether the dataplane is attached, its pid, uptime and heartbeat age, its\n"
	  "workers (lcore, port, queue, packets) and ports.\n", cmd_dataplane_status },
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static void
print_main_help(FILE *f)
{
	fprintf(f, "Usage: %s [-n NAME | -s SOCKET] [-t MS] [--json] [-q] NOUN VERB [ARGS]\n\n"
		"Administer a Sluice broker through sluice-control's admin socket.\n\n"
		"Commands:\n", prog);
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(f, "  %s\n", verbs[i].synopsis);
	fprintf(f, "\nOptions (also accepted after the command):\n"
		"  -n, --name NAME     broker instance: socket /run/sluice/NAME/control.sock\n"
		"                      (default instance: %s)\n"
		"  -s, --socket PATH   the admin socket itself\n"
		"  -t, --timeout MS    connect and reply timeout, milliseconds (default %d)\n"
		"      --json          print the daemon's result object as one JSON line,\n"
		"                      numbers exact (nothing for commands without a result)\n"
		"  -q, --quiet         print nothing when a change succeeds (user add: the key)\n"
		"  -h, --help          this help; after NOUN or NOUN VERB, that command's\n\n"
		"Environment:\n"
		"  SLUICE_CONTROL_SOCKET  the socket when neither -n nor -s is given\n\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  the command failed: sluice-control refused it (its message on stderr),\n"
		"     its reply was unusable, or a local file could not be written\n"
		"  2  usage error\n"
		"  3  cannot reach sluice-control (no socket, nobody listening, permission\n"
		"     denied, no answer in time)\n"
		"  4  not found: the topic, user or entry named does not exist\n",
		SL_CTL_DEFAULT_NAME, SL_CTL_TIMEOUT_MS);
}

static void
print_noun_help(FILE *f, const char *noun)
{
	fprintf(f, "Usage:\n");
	for (size_t i = 0; i < NVERBS; i++)
		if (strcmp(verbs[i].noun, noun) == 0)
			fprintf(f, "  %s %s\n", prog, verbs[i].synopsis);
	fprintf(f, "\n'%s %s VERB --help' describes a command;\n"
		"'%s --help' lists the global options and exit codes.\n", prog, noun, prog);
}

static bool
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0;
}

/* Find NOUN [VERB] in argv[*i..]; prints help or a usage error when needed. */
static int
find_verb(int argc, char **argv, int *i, const struct verb **out)
{
	const char *noun = argv[*i], *verb = *i + 1 < argc ? argv[*i + 1] : NULL;
	bool known = false;

	for (size_t k = 0; k < NVERBS; k++) {
		if (strcmp(verbs[k].noun, noun) != 0)
			continue;
		known = true;
		if (verbs[k].verb == NULL) {
			*out = &verbs[k];
			*i += 1;
			return 0;
		}
		if (verb != NULL && strcmp(verbs[k].verb, verb) == 0) {
			*out = &verbs[k];
			*i += 2;
			return 0;
		}
	}
	if (!known)
		return usage_err(NULL, "unknown command '%s'", noun);
	if (verb != NULL && is_help(verb)) {
		print_noun_help(stdout, noun);
		return SL_CTL_HELP;
	}
	if (verb == NULL)
		fprintf(stderr, "%s: %s needs a verb\n", prog, noun);
	else
		fprintf(stderr, "%s: unknown command '%s %s'\n", prog, noun, verb);
	print_noun_help(stderr, noun);
	return SL_CTL_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	struct ctl c = { .timeout_ms = SL_CTL_TIMEOUT_MS };
	const struct verb *v = NULL;
	int i = 1, rc;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (is_help(argv[i])) {
			print_main_help(stdout);
			return SL_CTL_EXIT_OK;
		}
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		rc = global_opt(&c, NULL, argc, argv, &i);
		if (rc == SL_CTL_EXIT_USAGE)
			return rc;
		if (rc == 0)
			return usage_err(NULL, "unknown option '%s'", argv[i]);
	}
	if (i >= argc)
		return usage_err(NULL, "missing command");
	if (strcmp(argv[i], "help") == 0) {
		print_main_help(stdout);
		return SL_CTL_EXIT_OK;
	}
	rc = find_verb(argc, argv, &i, &v);
	if (rc == 0)
		rc = v->run(&c, v, argc - i, argv + i);
	if (fflush(stdout) != 0 && rc == 0) {
		err_msg("writing output: %s", strerror(errno));
		rc = SL_CTL_EXIT_FAILED;
	}
	return rc == SL_CTL_HELP ? SL_CTL_EXIT_OK : rc;
}
