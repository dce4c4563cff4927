/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl's argument parsing: global and verb options, positionals, the socket path, usage
 * errors. */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/paths.h>

#include "ctl.h"

static void
print_verb_help(FILE *f, const struct sl_ctl_verb *v)
{
	fprintf(f, "Usage: %s [GLOBAL OPTIONS] %s\n\n%s\n"
		"Global options (-n, -s, -t, --json, -q) may come before or after the\n"
		"command: see '%s --help'.\n", sl_ctl_prog, v->synopsis, v->help, sl_ctl_prog);
}

int
sl_ctl_usage_err(const struct sl_ctl_verb *v, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", sl_ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (v != NULL)
		fprintf(stderr, "\nUsage: %s %s\nTry '%s %s%s%s --help'.\n", sl_ctl_prog,
			v->synopsis, sl_ctl_prog, v->noun, v->verb != NULL ? " " : "",
			v->verb != NULL ? v->verb : "");
	else
		fprintf(stderr, "\nTry '%s --help'.\n", sl_ctl_prog);
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

bool
sl_ctl_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

bool
sl_ctl_one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

int
sl_ctl_arg_str(const struct sl_ctl_verb *v, json_t *a, const char *key, const char *s)
{
	char shown[256];

	/* json_string() checks the text is UTF-8; JSON has no other strings. */
	if (json_object_set_new(a, key, json_string(s)) == 0)
		return 0;
	sl_ctl_sanitize(shown, sizeof(shown), s);
	return sl_ctl_usage_err(v, "'%s' is not UTF-8 text", shown);
}

int
sl_ctl_global_opt(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv, int *i)
{
	const char *t = NULL;
	uint64_t ms;
	int m;

	if ((m = match_opt(argc, argv, i, 'n', "name", &c->name)) != 0 ||
	    (m = match_opt(argc, argv, i, 's', "socket", &c->socket)) != 0 ||
	    (m = match_opt(argc, argv, i, 't', "timeout", &t)) != 0) {
		if (m < 0)
			return sl_ctl_usage_err(v, "option %s needs an argument", argv[*i]);
		if (t != NULL && (!sl_ctl_parse_u64(t, &ms) || ms == 0 || ms > INT_MAX / 2))
			return sl_ctl_usage_err(v, "--timeout takes milliseconds (1 to %d), not '%s'",
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
resolve_socket(struct sl_ctl *c, const struct sl_ctl_verb *v)
{
	const char *env = getenv("SLUICE_CONTROL_SOCKET");
	int n;

	if (c->name != NULL && c->socket != NULL)
		return sl_ctl_usage_err(v, "-n NAME and -s SOCKET exclude each other");
	if (c->name != NULL && (c->name[0] == '\0' || strchr(c->name, '/') != NULL ||
				strcmp(c->name, ".") == 0 || strcmp(c->name, "..") == 0))
		return sl_ctl_usage_err(v, "-n takes an instance name (no '/'), not '%s'", c->name);
	if (c->socket != NULL)
		n = snprintf(c->path, sizeof(c->path), "%s", c->socket);
	else if (c->name == NULL && env != NULL && env[0] != '\0')
		n = snprintf(c->path, sizeof(c->path), "%s", env);
	else
		n = snprintf(c->path, sizeof(c->path), SL_RUN_DIR "/%s/" SL_CONTROL_SOCKET,
			     c->name != NULL ? c->name : SL_CTL_DEFAULT_NAME);
	if (n <= 0 || (size_t)n >= sizeof(c->path))
		return sl_ctl_usage_err(v, "socket path is empty or longer than %zu bytes",
					sizeof(c->path) - 1);
	return 0;
}

/* A verb's own option at argv[*i]: 1 matched, 0 not one, -1 argument missing. */
static int
verb_opt(const struct sl_ctl_opt *opts, int argc, char **argv, int *i)
{
	int m = 0;

	for (const struct sl_ctl_opt *o = opts; o != NULL && o->name != NULL && m == 0; o++) {
		m = match_opt(argc, argv, i, 0, o->name, o->flag != NULL ? NULL : o->val);
		if (m == 1 && o->flag != NULL)
			*o->flag = true;
	}
	return m;
}

int
sl_ctl_parse_args(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		  const struct sl_ctl_opt *opts, const char **pos, int min, int max)
{
	bool dashdash = false;
	int npos = 0;

	for (int i = 0; i < max; i++)
		pos[i] = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int m;

		if (!dashdash && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "--") == 0) {
				dashdash = true;
				continue;
			}
			if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
				print_verb_help(stdout, v);
				return SL_CTL_HELP;
			}
			m = verb_opt(opts, argc, argv, &i);
			if (m == 0)
				m = sl_ctl_global_opt(c, v, argc, argv, &i);
			if (m == SL_CTL_EXIT_USAGE)
				return m;
			if (m < 0)
				return sl_ctl_usage_err(v, "option %s needs an argument", a);
			if (m == 0)
				return sl_ctl_usage_err(v, "unknown option '%s'", a);
			continue;
		}
		if (npos == max)
			return sl_ctl_usage_err(v, "unexpected argument '%s'", a);
		pos[npos++] = a;
	}
	if (npos < min)
		return sl_ctl_usage_err(v, "too few arguments");
	return resolve_socket(c, v);
}
