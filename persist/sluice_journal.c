/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-journal: inspect, verify, dump and repair a Sluice journal directory. */

#include <ctype.h>
#include <dirent.h>
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
#define EXIT_TORN 4
#define EXIT_CORRUPT 5
#define HEX_PER_LINE 32

static const char open_note[] =
	"info, list, verify and dump open the journal read-only and change nothing on\n"
	"disk. Only repair writes: it cuts a torn tail (the last group commit, never\n"
	"acknowledged: zeroed), rewrites a damaged journal.meta, and leaves damaged\n"
	"committed records where they are (the broker serves around them).\n";

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " COMMAND [options] DIR\n"
		"Inspect a Sluice journal directory (segment files and journal.meta).\n\n"
		"Commands:\n"
		"  info DIR      sequence range, segments, bytes, leader epochs and the\n"
		"                recovery summary\n"
		"  list DIR      one line per segment: first/last seq and bytes used\n"
		"  verify DIR    check every record and read every one back; with --dups\n"
		"                also list messages stored twice (same producer id, epoch\n"
		"                and producer seq): exit 1 when there is any\n"
		"  dump DIR      print records (see '" PROG " dump --help')\n"
		"  repair DIR    cut a torn tail and rewrite a damaged journal.meta\n\n"
		"  -h, --help    show this help (also after a command)\n\n"
		"%s\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage error; verify also: 4 a torn\n"
		"tail (never acknowledged; the broker or repair cuts it), 5 corrupt:\n"
		"committed (acknowledged) records are damaged or missing (each range listed;\n"
		"the broker serves the rest). 5 wins over 4.\n",
		open_note);
}

static void
usage_cmd(FILE *out, const char *cmd)
{
	if (strcmp(cmd, "dump") == 0)
		fprintf(out,
			"Usage: " PROG " dump [--from SEQ] [--count N] [--hex] DIR\n"
			"Print records: seq, timestamp (ISO-8601 UTC with ns), the leader epoch it\n"
			"was written in (0: a single node, or written before segment version 5),\n"
			"producer id, epoch and seq, length and payload (text with \\xNN escapes,\n"
			"or hex). Producer epoch 0: not an idempotent producer (the id is the\n"
			"publishing session's).\n\n"
			"  -f, --from SEQ    first sequence to print (default: the first retained)\n"
			"  -n, --count N     print at most N records (default: all)\n"
			"  -x, --hex         print payloads as hex\n"
			"  -h, --help        show this help\n\n%s",
			open_note);
	else if (strcmp(cmd, "verify") == 0)
		fprintf(out,
			"Usage: " PROG " verify [--dups] DIR\n"
			"Check the journal as recovery would (read-only), list every damaged\n"
			"range with its file, offset and sequences, and read every record back.\n"
			"Exit 0 clean, 4 torn tail, 5 corrupt (committed data damaged).\n\n"
			"  -d, --dups    also list every (producer id, epoch, producer seq) stored\n"
			"                more than once, with the seqs holding it; exit 1 if any\n"
			"                (after 5 and 4)\n\n%s",
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

static bool
has_segments(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	bool found = false;
	size_t n;

	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		found = n > 4 && strcmp(e->d_name + n - 4, ".seg") == 0;
	}
	closedir(d);
	return found;
}

/* Refuse anything that is not an existing journal: opening would create one. */
static int
journal_open(const char *dir, struct sl_journal **j, struct sl_journal_recovery *rec,
	     bool writable)
{
	struct sl_journal_conf conf = { .segment_bytes = 64 * 1024, .read_only = !writable };
	char meta[4096];
	struct stat st;
	int rc;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": '%s' is not a directory\n", dir);
		return -1;
	}
	snprintf(meta, sizeof(meta), "%s/journal.meta", dir);
	if (stat(meta, &st) != 0 && !has_segments(dir)) {
		fprintf(stderr, PROG ": '%s' is not a journal: it has no journal.meta and no "
			"segment files\n", dir);
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
print_recovery(FILE *out, const struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	uint32_t i;

	fprintf(out, "recovery:      %s\n", rec->message);
	if (rec->meta_note[0])
		fprintf(out, "metadata:      %s\n", rec->meta_note);
	if (rec->torn)
		fprintf(out, "torn:          %" PRIu64 " bytes of a torn tail at seq %" PRIu64
			" (never acknowledged; cut by the broker or '" PROG " repair')\n",
			rec->truncated_bytes, rec->truncated_at_seq);
	if (rec->corrupt)
		fprintf(out, "corrupt:       %d range(s), %" PRIu64 " committed record(s) from seq %"
			PRIu64 "; the rest is served, appends go on\n", rec->corrupt,
			rec->corrupt_records, rec->corrupt_seq);
	for (i = 0; i < sl_journal_damage_count(j); i++) {
		fputs("  ", out);
		sl_journal_damage_describe(sl_journal_damage_get(j, i), out);
	}
}

/* The leader epoch of the last record, and where each retained epoch starts. */
static void
print_epochs(const struct sl_journal *j)
{
	uint64_t first;
	uint32_t e, i;

	printf("leader epoch:  %u\n", sl_journal_last_epoch(j));
	printf("epochs:       ");
	for (i = 0; sl_journal_epoch_get(j, i, &e, &first) == 0; i++)
		printf("%s %u from seq %" PRIu64, i ? "," : "", e, first);
	printf("%s\n", i ? "" : " none (no record)");
}

static int
cmd_info(struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	uint64_t first = sl_journal_first_seq(j), last = rec->last_seq;

	printf("first seq:     %" PRIu64 "\n", first);
	printf("last seq:      %" PRIu64 "\n", last);
	printf("records:       %" PRIu64 "\n", last >= first ? last - first + 1 : 0);
	printf("segments:      %u\n", rec->segments);
	printf("next seq:      %" PRIu64 "\n", rec->next_seq);
	printf("bytes:         %" PRIu64 "\n", sl_journal_bytes(j));
	if (rec->segments)
		printf("segment size:  %" PRIu64 "\n", sl_journal_bytes(j) / rec->segments);
	print_epochs(j);
	print_recovery(stdout, j, rec);
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
	for (seq = from; n < count && seq <= sl_journal_last_seq(j); seq++, n++) {
		uint64_t end;
		uint32_t kind = 0;

		rc = sl_journal_read(j, seq, &v);
		if (rc == -ENOENT)
			break;
		if (rc == -EUCLEAN && (end = sl_journal_gap_end(j, seq, &kind)) >= seq) {
			printf("%" PRIu64 "..%" PRIu64 "  GAP (%s: not in the journal; see '" PROG
			       " verify')\n", seq, end, sl_journal_damage_name(kind));
			seq = end;
			continue;
		}
		if (rc == -EUCLEAN) {
			fprintf(stderr, PROG ": seq %" PRIu64 " cannot be read; run '" PROG
				" verify' for details\n", seq);
			return EXIT_CORRUPT;
		}
		if (rc < 0) {
			fprintf(stderr, PROG ": reading seq %" PRIu64 ": %s\n", seq, strerror(-rc));
			return EXIT_FAIL;
		}
		printf("%" PRIu64 "  ", v.seq);
		print_ts(v.timestamp);
		printf("  leader %u  producer %" PRIu64 " epoch %u seq %" PRIu64 "  len %u  ",
		       v.leader_epoch, v.producer_id, v.producer_epoch, v.producer_seq, v.len);
		/* Segment version 3: the message's header block, then its payload. */
		if (v.hdrs_len)
			printf("hdrs %u  ", v.hdrs_len);
		print_payload((const uint8_t *)v.data + v.hdrs_len, v.len - v.hdrs_len, hex);
	}
	return 0;
}

/* (producer id, epoch, producer seq) -> the first seq holding it. */
struct dup_slot {
	uint64_t id, pseq, seq;
	uint32_t epoch, used;
};

struct dup_set {
	struct dup_slot *s;
	size_t cap, n;
};

static size_t
dup_hash(uint64_t id, uint32_t epoch, uint64_t pseq)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ull ^ pseq * 0xc2b2ae3d27d4eb4full ^ epoch;

	return (size_t)(h ^ h >> 29);
}

static int
dup_grow(struct dup_set *d)
{
	struct dup_set n = { .cap = d->cap ? d->cap * 2 : 4096 };
	size_t i, k;

	n.s = calloc(n.cap, sizeof(*n.s));
	if (n.s == NULL)
		return -ENOMEM;
	for (i = 0; i < d->cap; i++) {
		if (!d->s[i].used)
			continue;
		k = dup_hash(d->s[i].id, d->s[i].epoch, d->s[i].pseq) & (n.cap - 1);
		while (n.s[k].used)
			k = (k + 1) & (n.cap - 1);
		n.s[k] = d->s[i];
	}
	n.n = d->n;
	free(d->s);
	*d = n;
	return 0;
}

/* The seq already holding @v's producer key, or 0 after adding it. */
static int
dup_add(struct dup_set *d, const struct sl_jrec_view *v, uint64_t *first)
{
	size_t k;

	if ((d->n + 1) * 2 > d->cap && dup_grow(d) < 0)
		return -ENOMEM;
	k = dup_hash(v->producer_id, v->producer_epoch, v->producer_seq) & (d->cap - 1);
	for (; d->s[k].used; k = (k + 1) & (d->cap - 1)) {
		if (d->s[k].id == v->producer_id && d->s[k].epoch == v->producer_epoch &&
		    d->s[k].pseq == v->producer_seq) {
			*first = d->s[k].seq;
			return 1;
		}
	}
	d->s[k] = (struct dup_slot){ v->producer_id, v->producer_seq, v->seq, v->producer_epoch, 1 };
	d->n++;
	*first = 0;
	return 0;
}

static int
cmd_verify(struct sl_journal *j, const struct sl_journal_recovery *rec, bool dups)
{
	struct dup_set ds = { 0 };
	uint64_t n_dups = 0, first;
	struct sl_jrec_view v;
	uint64_t seq, n = 0, gaps = 0, end;
	int rc;

	for (seq = sl_journal_first_seq(j); seq <= rec->last_seq; seq++) {
		rc = sl_journal_read(j, seq, &v);
		if (rc == -EUCLEAN && (end = sl_journal_gap_end(j, seq, NULL)) >= seq) {
			gaps += end - seq + 1;
			seq = end;
			continue;
		}
		if (rc < 0) {
			printf("read of seq %" PRIu64 " failed: %s\n", seq, strerror(-rc));
			free(ds.s);
			return EXIT_CORRUPT;
		}
		n++;
		if (!dups || v.producer_seq == 0)
			continue; /* 0: a publish nobody sequenced */
		rc = dup_add(&ds, &v, &first);
		if (rc < 0) {
			fprintf(stderr, PROG ": out of memory checking duplicates\n");
			free(ds.s);
			return EXIT_FAIL;
		}
		if (rc == 1 && n_dups++ < 100)
			printf("duplicate:     producer %" PRIu64 " epoch %u seq %" PRIu64
			       " stored at seq %" PRIu64 " and %" PRIu64 "\n", v.producer_id,
			       v.producer_epoch, v.producer_seq, first, v.seq);
	}
	free(ds.s);
	printf("read back:     %" PRIu64 " records (%" PRIu64 " sequences in gaps)\n", n, gaps);
	if (dups)
		printf("duplicates:    %" PRIu64 "\n", n_dups);
	print_recovery(stdout, j, rec);
	if (rec->corrupt) {
		printf("verdict:       CORRUPT: committed (acknowledged) records are damaged or "
		       "missing from seq %" PRIu64 "; the broker serves around them and reports "
		       "the gap. Keep a copy of the directory.\n", rec->corrupt_seq);
		return EXIT_CORRUPT;
	}
	if (rec->torn) {
		printf("verdict:       torn tail (%" PRIu64 " bytes from seq %" PRIu64 ", never "
		       "acknowledged); the rest is clean. The broker cuts it at start, or run '"
		       PROG " repair'.\n", rec->truncated_bytes, rec->truncated_at_seq);
		return EXIT_TORN;
	}
	if (n_dups) {
		printf("verdict:       DUPLICATES: %" PRIu64 " message(s) stored more than once\n",
		       n_dups);
		return EXIT_FAIL;
	}
	printf("verdict:       clean\n");
	return 0;
}

static int
cmd_repair(struct sl_journal *j, const struct sl_journal_recovery *rec)
{
	print_recovery(stdout, j, rec);
	printf("repair:        %s%s%s\n", rec->torn ? "torn tail cut" : "no torn tail",
	       rec->meta_damaged ? "; journal.meta rewritten" : "",
	       rec->corrupt ? "; damaged committed records left in place (served around)" : "");
	return 0;
}

/* Parse the command's options; returns the directory, or NULL (*exit_code set). */
static const char *
parse_cmd(int argc, char **argv, const char *cmd, uint64_t *from, uint64_t *count, bool *hex,
	  bool *dups, int *exit_code)
{
	static const struct option dump_opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option verify_opts[] = {
		{ "dups", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option plain_opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool dump = strcmp(cmd, "dump") == 0, verify = strcmp(cmd, "verify") == 0;
	int opt, rc = 0;

	*exit_code = EXIT_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, dump ? "f:n:xh" : verify ? "dh" : "h",
				  dump ? dump_opts : verify ? verify_opts : plain_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'd': *dups = true; break;
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
	static const char *const cmds[] = { "info", "list", "verify", "dump", "repair" };
	struct sl_journal_recovery rec = { 0 };
	struct sl_journal *j = NULL;
	uint64_t from = 0, count = UINT64_MAX;
	const char *cmd, *dir;
	bool hex = false, dups = false;
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
		fprintf(stderr, PROG ": unknown command '%s': use info, list, verify, dump or"
			" repair (see --help)\n", cmd);
		return EXIT_USAGE;
	}
	dir = parse_cmd(argc - 1, argv + 1, cmd, &from, &count, &hex, &dups, &code);
	if (dir == NULL)
		return code;
	if (journal_open(dir, &j, &rec, strcmp(cmd, "repair") == 0) < 0)
		return EXIT_FAIL;
	if (strcmp(cmd, "info") == 0)
		code = cmd_info(j, &rec);
	else if (strcmp(cmd, "list") == 0)
		code = (sl_journal_describe(j, stdout), 0);
	else if (strcmp(cmd, "verify") == 0)
		code = cmd_verify(j, &rec, dups);
	else if (strcmp(cmd, "repair") == 0)
		code = cmd_repair(j, &rec);
	else
		code = cmd_dump(j, from, count, hex);
	sl_journal_close(j);
	if (fflush(stdout) != 0) {
		fprintf(stderr, PROG ": writing output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return code;
}
