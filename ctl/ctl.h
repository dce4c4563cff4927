/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl's internals: the RPC to sluice-control, the printer, argument parsing, the nouns. */

#ifndef SLUICE_CTL_H
#define SLUICE_CTL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

/* Exit codes scripts may rely on; listed in --help. */
#define SL_CTL_EXIT_OK		0
#define SL_CTL_EXIT_FAILED	1	/* refused by the daemon, or a local failure */
#define SL_CTL_EXIT_USAGE	2
#define SL_CTL_EXIT_UNREACHABLE	3
#define SL_CTL_EXIT_NOT_FOUND	4
#define SL_CTL_HELP		(-1)	/* internal: help was printed, exit 0 */

#define SL_CTL_TIMEOUT_MS	5000
#define SL_CTL_DEFAULT_NAME	"sluice"
#define SL_CTL_MAX_COLS		12

extern const char sl_ctl_prog[];

/* Set by SIGINT/SIGTERM during stats --watch: blocking calls give up quietly. */
extern volatile sig_atomic_t sl_ctl_stop_requested;

/* Global options and the socket they select. */
struct sl_ctl {
	const char *name;	/* -n */
	const char *socket;	/* -s */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool json;
	bool quiet;
	int timeout_ms;
};

/* One answer of sluice-control: the raw line and its parse. */
struct sl_ctl_reply {
	char *line;
	size_t len;
	json_t *root;
	json_t *result;			/* borrowed from @root; NULL when the answer has none */
	size_t result_off, result_len;	/* @result's text in @line, as the daemon sent it */
};

/* A verb-specific option: a flag (@val NULL) or one taking an argument. */
struct sl_ctl_opt {
	const char *name;	/* long name without "--" */
	const char **val;
	bool *flag;
};

/* One command. Each noun's file lists its verbs in an array ended by a NULL @noun. */
struct sl_ctl_verb {
	const char *noun;
	const char *verb;	/* NULL: the noun alone is the command (stats) */
	const char *synopsis;
	const char *help;
	int (*run)(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv);
};

extern const struct sl_ctl_verb sl_ctl_topic_verbs[];
extern const struct sl_ctl_verb sl_ctl_user_verbs[];
extern const struct sl_ctl_verb sl_ctl_acl_verbs[];
extern const struct sl_ctl_verb sl_ctl_group_verbs[];
extern const struct sl_ctl_verb sl_ctl_policy_verbs[];
extern const struct sl_ctl_verb sl_ctl_stats_verbs[];
extern const struct sl_ctl_verb sl_ctl_dataplane_verbs[];
extern const struct sl_ctl_verb sl_ctl_ha_verbs[];

/* ------------------------------------------------------------ rpc.c */

/* Monotonic milliseconds. */
int64_t sl_ctl_now_ms(void);

/*
 * Send {"cmd":@cmd,"args":@args} (@args: an object, borrowed, or NULL for
 * none) and read the answer into @r (to be released with sl_ctl_reply_fini()).
 * Returns an exit code (SL_CTL_EXIT_*); every failure has been reported on
 * stderr, and on failure @r holds nothing.
 */
int sl_ctl_call(const struct sl_ctl *c, const char *cmd, json_t *args,
		struct sl_ctl_reply *r);

/* sl_ctl_call() with the only argument {"@key":"@val"}, or none if @key is NULL. */
int sl_ctl_call_simple(const struct sl_ctl *c, const char *cmd, const char *key,
		       const char *val, struct sl_ctl_reply *r);

/* Release what sl_ctl_call() stored in @r; an empty reply is a no-op. */
void sl_ctl_reply_fini(struct sl_ctl_reply *r);

/* ----------------------------------------------------------- args.c */

/*
 * Parse a verb's arguments: its options @opts (NULL-terminated by name),
 * global options, --help, and between @min and @max positionals into @pos
 * (unused slots NULL); then resolve the socket path.
 * Returns 0, SL_CTL_HELP (help printed) or SL_CTL_EXIT_USAGE (reported).
 */
int sl_ctl_parse_args(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		      const struct sl_ctl_opt *opts, const char **pos, int min, int max);

/* A global option at argv[*i]: 1 consumed, 0 not global, or SL_CTL_EXIT_USAGE. */
int sl_ctl_global_opt(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		      int *i);

/* Print "sluicectl: MESSAGE" and how to get help (for @v, or in general when
 * @v is NULL) on stderr; returns SL_CTL_EXIT_USAGE. */
int sl_ctl_usage_err(const struct sl_ctl_verb *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A decimal number without sign into *@out; false if @s is not one or overflows. */
bool sl_ctl_parse_u64(const char *s, uint64_t *out);

/* Whether @s is one of the NULL-terminated @set. */
bool sl_ctl_one_of(const char *s, const char *const *set);

/* Set @key of request arguments @a to the string @s (the user's text);
 * usage error when @s is not UTF-8, as JSON requires. */
int sl_ctl_arg_str(const struct sl_ctl_verb *v, json_t *a, const char *key, const char *s);

/* ---------------------------------------------------------- print.c */

/* "sluicectl: MESSAGE" on stderr. */
void sl_ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy @s into @out (@n bytes), control characters replaced by '?'. */
void sl_ctl_sanitize(char *out, size_t n, const char *s);

/* A value as table text: exact numbers, yes/no, "-" for absent or null. */
void sl_ctl_fmt_val(char *out, size_t n, const json_t *v);

/* Rounded for eyes: 1234 -> "1.2k", 3.5 MiB, 1h02m03s; NAN -> "-". */
void sl_ctl_fmt_human(char *out, size_t n, double v);
void sl_ctl_fmt_bytes(char *out, size_t n, double v);
void sl_ctl_fmt_duration(char *out, size_t n, double s);

/* Member at a '.'-separated @path of @o ("counters.publishes"); NULL if absent. */
json_t *sl_ctl_json_path(const json_t *o, const char *path);

/* The number at @path of @o, NAN when absent or not a number. */
double sl_ctl_num_at(const json_t *o, const char *path);

/* Whether @v is true (a JSON true; false for anything else). */
bool sl_ctl_is_true(const json_t *v);

/* The value of @v when it is an integer >= 0; false otherwise. */
bool sl_ctl_u64(const json_t *v, uint64_t *out);

/* An aligned text table; a header starting with '>' is right-aligned. */
struct sl_ctl_table {
	int ncol;
	const char *hdr[SL_CTL_MAX_COLS];
	char **cell;	/* row-major, ncol per row */
	size_t nrow, cap;
};

void sl_ctl_table_init(struct sl_ctl_table *t, int ncol, const char *const *hdr);
/* Append one row of @t->ncol strings (copied). */
void sl_ctl_table_row(struct sl_ctl_table *t, const char *const *vals);
/* Print the header and the rows, then empty @t. */
void sl_ctl_table_print(struct sl_ctl_table *t);
/* Empty @t without printing. */
void sl_ctl_table_fini(struct sl_ctl_table *t);

/* A table whose columns are members @keys of each object of array @arr;
 * a key "a.b" is nested, "k1|k2" is k1, or k2 when k1 is absent or null. */
void sl_ctl_print_objects(json_t *arr, int ncol, const char *const *hdr,
			  const char *const *keys);

/* "key: value" lines, aligned, for the members of @obj (nested as "a.b"). */
void sl_ctl_print_kv(json_t *obj);

/* --json: the daemon's result exactly as it sent it, one line. */
void sl_ctl_print_result_raw(const struct sl_ctl_reply *r);

/* End of a command that changes state (@rc from sl_ctl_call): the --json
 * result, or the message unless -q. Releases @r; returns the exit code. */
int sl_ctl_finish_change(const struct sl_ctl *c, int rc, struct sl_ctl_reply *r,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* End of a read command: --json prints the result, otherwise @print does.
 * Releases @r; returns the exit code. */
int sl_ctl_show_result(const struct sl_ctl *c, int rc, struct sl_ctl_reply *r,
		       void (*print)(json_t *));

/*
 * A command that only reads: between @min and (with @key) one positional,
 * sent as {"@key":POSITIONAL} when given, the result shown by @print (or
 * --json). Returns the exit code.
 */
int sl_ctl_read_verb(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		     const char *cmd, const char *key, int min, void (*print)(json_t *));

/* A change of one thing by NAME, sent as {"name":NAME}; "@done NAME" on
 * success. Returns the exit code. */
int sl_ctl_name_verb(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv,
		     const char *cmd, const char *done);

#endif /* SLUICE_CTL_H */
