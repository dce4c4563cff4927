/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-journal: inspect, verify and dump a Sluice journal directory. */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "journal.h"

#define PROG "sluice-journal"
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_TRUNCATED 4
#define EXIT_CORRUPT 5
#define HEX_PER_LINE 32

static const char open_note[] =
	"Note: opening a journal runs recovery, as the broker does. A torn tail (the\n"
	"last, never acknowledged, group commit) is zeroed on disk; damage inside\n"
	"committed data is only reported, never changed. To look without any change,\n"
	"run the tool on a copy (cp -a DIR COPY).\n";

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " COMMAND [options] DIR\n"
		"Inspect a Sluice journal directory (segment files and journal.meta).\n\n"
		"Commands:\n"
		"  info DIR      sequence range, segments, bytes and the recovery summary\n"
		"  list DIR      one line per segment: first/last seq and bytes used\n"
		"  verify DIR    run recovery and read every record back\n"
		"  dump DIR      print records (see '" PROG " dump --help')\n\n"
		"  -h, --help    show this help (also after a command)\n\n"
		"%s\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage error, 4 a torn tail was\n"
		"truncated, 5 the journal is damaged (records from the damage on are not\n"
		"served).\n",
		open_note);
}

static void
usage_cmd(FILE *out, const char *cmd)
{
	if (strcmp(cmd, "dump") == 0)
		fprintf(out,
			"Usage: " PROG " dump [--from SEQ] [--count N] [--hex] DIR\n"
			"Print records: seq, timestamp (ISO-8601 UTC with ns), producer id and\n"
			"seq, length and payload (text with \\xNN escapes, or hex).\n\n"
			"  -f, --from SEQ    first sequence to print (default: the first retained)\n"
			"  -n, --count N     print at most N records (default: all)\n"
			"  -x, --hex         print payloads as hex\n"
			"  -h, --help        show this help\n\n%s",
			open_note);
	else if (strcmp(cmd, "verify") == 0)
		fprintf(out,
			"Usage: " PROG " verify DIR\n"
			"Run recovery, print what it found (and what it truncated), and read\n"
			"every record back. Exit 0 clean, 4 torn tail truncated, 5 damaged.\n\n%s",
			open_note);
	else
		fprintf(out, "Usage: " PROG " %s DIR\n\n%s", cmd, open_note);
}

static int
parse_u64(const char *what, const char *s, uint64_t min, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || s[0] == '-' || v < min) {
		fprintf(stderr, PROG ": %s '%s' is not a number >= %" PRIu64 "\n", what, s, min);
		return -1;
	}
	*out = v;
	return 0;
}

/* Refuse anything that is not an existing journal: opening would create one. */
static int
journal_open(const char *dir, struct sl_journal **j, struct sl_journal_recovery *rec)
{
	struct sl_journal_conf conf = { .segment_bytes = 64 * 1024 };
	char meta[4096];
	struct stat st;
	int rc;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": '%s' is not a directory\n", dir);
		return -1;
	}
	snprintf(meta, sizeof(meta), "%s/journal.meta", dir);
	if (stat(meta, &st) != 0) {
		fprintf(stderr, PROG ": '%s' is not a journal: it has no journal.meta\n", dir);
		return -1;
	}
	rc = sl_journal_open(j, dir, &conf, rec);
	if (rc < 0) {
		fprintf(stderr, PROG ": cannot open journal '%s': %s%s%s\n", dir, strerror(-rc),
			rec->message[0] ? ": " : "", rec->message);
		return -1;
	}
	return 0;
}

static void
print_recovery(FILE *out, const struct sl_journal_recovery *rec)
{
	fprintf(out, "recovery:      %s\n", rec->message);
	if (rec->truncated_bytes)
		fprintf(out, "truncated:     %" PRIu64 " bytes of a torn tail at seq %" PRIu64
			" (never acknowledged)\n", rec->truncated_bytes, rec->truncated_at_seq);
	if (rec->corrupt)
		fprintf(out, "damaged:       from seq %" PRIu64 " on; records before it are served,"
			" appends are refused\n", rec->corrupt_seq);
}

static int
cmd_info(struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	uint64_t first = sl_journal_first_seq(j), last = rec->last_seq;

	printf("first seq:     %" PRIu64 "\n", first);
	printf("last seq:      %" PRIu64 "\n", last);
	printf("records:       %" PRIu64 "\n", last >= first ? last - first + 1 : 0);
	printf("segments:      %u\n", rec->segments);
	printf("bytes:         %" PRIu64 "\n", sl_journal_bytes(j));
	if (rec->segments)
		printf("segment size:  %" PRIu64 "\n", sl_journal_bytes(j) / rec->segments);
	print_recovery(stdout, rec);
	return 0;
}

static void
print_ts(uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000u);
	char buf[64];
	struct tm tm;

	if (gmtime_r(&sec, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, sizeof(buf), "@%" PRIu64, ns / 1000000000u);
	printf("%s.%09" PRIu64 "Z", buf, ns % 1000000000u);
}

static void
print_payload(const uint8_t *p, uint32_t len, bool hex)
{
	uint32_t i;

	if (hex) {
		for (i = 0; i < len; i++)
			printf("%s%02x", i % HEX_PER_LINE ? "" : "\n    ", p[i]);
		printf("\n");
		return;
	}
	printf("\"");
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			printf("\\%c", p[i]);
		else if (isprint(p[i]))
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	printf("\"\n");
}

static int
cmd_dump(struct sl_journal *j, uint64_t from, uint64_t count, bool hex)
{
	struct sl_jrec_view v;
	uint64_t seq, n = 0;
	int rc;

	if (from == 0)
		from = sl_journal_first_seq(j);
	if (from < sl_journal_first_seq(j)) {
		fprintf(stderr, PROG ": seq %" PRIu64 " is no longer retained: the first is %" PRIu64
			"\n", from, sl_journal_first_seq(j));
		return EXIT_FAIL;
	}
	for (seq = from; n < count && seq <= sl_journal_last_seq(j) + 1; seq++, n++) {
		rc = sl_journal_read(j, seq, &v);
		if (rc == -ENOENT)
			break;
		if (rc == -EUCLEAN) {
			fprintf(stderr, PROG ": seq %" PRIu64 " is at or past damage in the journal;"
				" run '" PROG " verify' for details\n", seq);
			return EXIT_CORRUPT;
		}
		if (rc < 0) {
			fprintf(stderr, PROG ": reading seq %" PRIu64 ": %s\n", seq, strerror(-rc));
			return EXIT_FAIL;
		}
		printf("%" PRIu64 "  ", v.seq);
		print_ts(v.timestamp);
		printf("  producer %" PRIu64 "/%" PRIu64 "  len %u  ", v.producer_id,
		       v.producer_seq, v.len);
		print_payload(v.data, v.len, hex);
	}
	return 0;
}

static int
cmd_verify(struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	struct sl_jrec_view v;
	uint64_t seq, n = 0;
	int rc;

	for (seq = sl_journal_first_seq(j); seq <= rec->last_seq; seq++, n++) {
		rc = sl_journal_read(j, seq, &v);
		if (rc < 0) {
			printf("read of seq %" PRIu64 " failed: %s\n", seq, strerror(-rc));
			return EXIT_CORRUPT;
		}
	}
	printf("read back:     %" PRIu64 " records\n", n);
	print_recovery(stdout, rec);
	if (rec->corrupt) {
		printf("verdict:       DAMAGED from seq %" PRIu64 ": keep a copy of the directory"
		       " and decide whether to cut the journal there\n", rec->corrupt_seq);
		return EXIT_CORRUPT;
	}
	if (rec->truncated_bytes) {
		printf("verdict:       torn tail truncated (%" PRIu64 " bytes from seq %" PRIu64
		       "); the rest is clean\n", rec->truncated_bytes, rec->truncated_at_seq);
		return EXIT_TRUNCATED;
	}
	printf("verdict:       clean\n");
	return 0;
}

/* Parse the command's options; returns the directory, or NULL (*exit_code set). */
static const char *
parse_cmd(int argc, char **argv, const char *cmd, uint64_t *from, uint64_t *count, bool *hex,
	  int *exit_code)
{
	static const struct option dump_opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option plain_opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool dump = strcmp(cmd, "dump") == 0;
	int opt, rc = 0;

	*exit_code = EXIT_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, dump ? "f:n:xh" : "h", dump ? dump_opts : plain_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'f': rc |= parse_u64("--from", optarg, 1, from); break;
		case 'n': rc |= parse_u64("--count", optarg, 0, count); break;
		case 'x': *hex = true; break;
		case 'h':
			usage_cmd(stdout, cmd);
			*exit_code = 0;
			return NULL;
		default: rc = -1; break;
		}
	}
	if (rc != 0)
		return NULL;
	if (optind >= argc) {
		fprintf(stderr, PROG " %s: no journal directory given\n", cmd);
		return NULL;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, PROG " %s: unexpected argument '%s'\n", cmd, argv[optind + 1]);
		return NULL;
	}
	return argv[optind];
}

int
main(int argc, char **argv)
{
	static const char *const cmds[] = { "info", "list", "verify", "dump" };
	struct sl_journal_recovery rec = { 0 };
	struct sl_journal *j = NULL;
	uint64_t from = 0, count = UINT64_MAX;
	const char *cmd, *dir;
	bool hex = false;
	int code;
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmd, cmds[i]) != 0; i++)
		;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, PROG ": unknown command '%s': use info, list, verify or dump"
			" (see --help)\n", cmd);
		return EXIT_USAGE;
	}
	dir = parse_cmd(argc - 1, argv + 1, cmd, &from, &count, &hex, &code);
	if (dir == NULL)
		return code;
	if (journal_open(dir, &j, &rec) < 0)
		return EXIT_FAIL;
	if (strcmp(cmd, "info") == 0)
		code = cmd_info(j, &rec);
	else if (strcmp(cmd, "list") == 0)
		code = (sl_journal_describe(j, stdout), 0);
	else if (strcmp(cmd, "verify") == 0)
		code = cmd_verify(j, &rec);
	else
		code = cmd_dump(j, from, count, hex);
	sl_journal_close(j);
	if (fflush(stdout) != 0) {
		fprintf(stderr, PROG ": writing output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return code;
}
