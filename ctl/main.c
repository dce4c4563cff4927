/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl: command-line client of sluice-control's admin socket (docs/CONTROL.md): global
 * options, the commands, help. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* The nouns, in the order --help lists them. */
static const struct sl_ctl_verb *const nouns[] = {
	sl_ctl_topic_verbs, sl_ctl_group_verbs, sl_ctl_user_verbs, sl_ctl_acl_verbs,
	sl_ctl_policy_verbs, sl_ctl_stats_verbs, sl_ctl_dataplane_verbs, sl_ctl_ha_verbs,
};

#define NNOUNS (sizeof(nouns) / sizeof(nouns[0]))

/* Every verb of every noun. */
#define FOR_EACH_VERB(v) \
	for (size_t n_ = 0; n_ < NNOUNS; n_++) \
		for (const struct sl_ctl_verb *v = nouns[n_]; v->noun != NULL; v++)

static void
print_main_help(FILE *f)
{
	fprintf(f, "Usage: %s [-n NAME | -s SOCKET] [-t MS] [--json] [-q] NOUN VERB [ARGS]\n\n"
		"Administer a Sluice broker through sluice-control's admin socket.\n\n"
		"Commands:\n", sl_ctl_prog);
	FOR_EACH_VERB(v)
		fprintf(f, "  %s\n", v->synopsis);
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
		"  4  not found: the topic, group, user or entry named does not exist\n",
		SL_CTL_DEFAULT_NAME, SL_CTL_TIMEOUT_MS);
}

static void
print_noun_help(FILE *f, const char *noun)
{
	fprintf(f, "Usage:\n");
	FOR_EACH_VERB(v)
		if (strcmp(v->noun, noun) == 0)
			fprintf(f, "  %s %s\n", sl_ctl_prog, v->synopsis);
	fprintf(f, "\n'%s %s VERB --help' describes a command;\n"
		"'%s --help' lists the global options and exit codes.\n", sl_ctl_prog, noun,
		sl_ctl_prog);
}

static bool
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0;
}

/* Find NOUN [VERB] in argv[*i..]; prints help or a usage error when needed. */
static int
find_verb(int argc, char **argv, int *i, const struct sl_ctl_verb **out)
{
	const char *noun = argv[*i], *verb = *i + 1 < argc ? argv[*i + 1] : NULL;
	bool known = false;

	FOR_EACH_VERB(v) {
		if (strcmp(v->noun, noun) != 0)
			continue;
		known = true;
		if (v->verb == NULL) {
			*out = v;
			*i += 1;
			return 0;
		}
		if (verb != NULL && strcmp(v->verb, verb) == 0) {
			*out = v;
			*i += 2;
			return 0;
		}
	}
	if (!known)
		return sl_ctl_usage_err(NULL, "unknown command '%s'", noun);
	if (verb != NULL && is_help(verb)) {
		print_noun_help(stdout, noun);
		return SL_CTL_HELP;
	}
	if (verb == NULL)
		fprintf(stderr, "%s: %s needs a verb\n", sl_ctl_prog, noun);
	else
		fprintf(stderr, "%s: unknown command '%s %s'\n", sl_ctl_prog, noun, verb);
	print_noun_help(stderr, noun);
	return SL_CTL_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	struct sl_ctl c = { .timeout_ms = SL_CTL_TIMEOUT_MS };
	const struct sl_ctl_verb *v = NULL;
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
		rc = sl_ctl_global_opt(&c, NULL, argc, argv, &i);
		if (rc == SL_CTL_EXIT_USAGE)
			return rc;
		if (rc == 0)
			return sl_ctl_usage_err(NULL, "unknown option '%s'", argv[i]);
	}
	if (i >= argc)
		return sl_ctl_usage_err(NULL, "missing command");
	if (strcmp(argv[i], "help") == 0) {
		print_main_help(stdout);
		return SL_CTL_EXIT_OK;
	}
	rc = find_verb(argc, argv, &i, &v);
	if (rc == 0)
		rc = v->run(&c, v, argc - i, argv + i);
	if (fflush(stdout) != 0 && rc == 0) {
		sl_ctl_err("writing output: %s", strerror(errno));
		rc = SL_CTL_EXIT_FAILED;
	}
	return rc == SL_CTL_HELP ? SL_CTL_EXIT_OK : rc;
}
