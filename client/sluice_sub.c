/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-sub: print messages from Sluice topics on standard output, like mosquitto_sub. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <common/auth.h>
#include <common/filter.h>
#include <common/proto.h>
#include <common/sig.h>
#include <sluice/sluice.h>

#include "cli.h"

#define PROG "sluice-sub"
#define EXIT_USAGE 2
#define MAX_TOPICS 64
#define WAIT_SLICE_MS 100 /* how long a wait may hide a signal or the deadline */
#define NS_PER_S 1000000000ull
#define GAPS_TOLD_MAX 20 /* gap events said one by one on stderr; the rest counted */

struct sub_conf {
	const char *host;
	uint16_t port;
	const char *shm; /* --shm NAME: shared memory to a local dataplane */
	const char *topics[MAX_TOPICS];
	unsigned int ntopics;
	uint64_t count;	      /* 0: no limit */
	uint64_t timeout_s;   /* 0: none */
	uint64_t reconnect_max_ms; /* --reconnect-max: 0 turns reconnecting off */
	uint64_t unsub_after; /* 0: never */
	const char *credentials; /* --credentials FILE; NULL: from the environment */
	bool encrypt;		 /* --encrypt */
	const char *from;     /* --from as given, for messages */
	uint16_t from_flags;  /* SL_SUB_F_*: 0 is live */
	uint64_t from_start;  /* seq or ns since the epoch, by from_flags */
	bool verbose;
	bool stamp; /* --stamp: each line starts with CLOCK_MONOTONIC ns */
	bool hex;
	bool stats;
	uint32_t window;      /* --window: reorder window and credit; 0: default */
	bool headers;	      /* --headers: print key and headers (v4) */
	/* --filter CLAUSE (v4), all of which must hold */
	struct sl_filter_clause filter[SL_MAX_FILTER_CLAUSES];
	char filter_names[SL_MAX_FILTER_CLAUSES][SL_MAX_HDR_NAME + 1];
	unsigned n_filter;
	/* --group NAME (v4): join the topic's consumer group instead of subscribing */
	const char *group;
	uint64_t member_id;   /* --member-id; 0: a random one */
	uint32_t credit;      /* --credit; 0: the library's default */
	uint32_t pull;	      /* --pull N: fetch N at a time; 0: pushed */
	uint64_t ack_delay_ms; /* --ack-delay-ms: work before each ack */
	uint64_t nak_seq;     /* --nak-seq: give this seq back every time; 0: none */
	bool no_ack;	      /* --no-ack */
};

struct sub_state {
	const struct sub_conf *conf;
	uint32_t ids[MAX_TOPICS];
	uint64_t received; /* every delivery, including those after -U */
	uint64_t printed;
	uint64_t first_topic;
	bool muted;	   /* -U reached: print nothing more */
	bool unsubscribed;
	bool done;	   /* -C reached */
	uint64_t gaps_told; /* replay gap notices reported on stderr */
	uint64_t events_told; /* gap events reported on stderr */
	uint64_t events_untold; /* gap events past GAPS_TOLD_MAX */
	struct sl_client *c;	/* for the group's acks from the callback */
	uint32_t group_id;	/* joined; 0: plain subscriptions */
	uint64_t fetch_left;	/* --pull: asked for and not delivered yet */
	int ack_err;		/* the first ack or nak that failed */
	bool group_lost;	/* the broker ended the membership */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const int stop_sigs[] = { SIGINT, SIGTERM };

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " -t TOPIC [-t TOPIC...] [options]\n"
		"Print messages from Sluice topics, one per line.\n\n"
		"  -h, --host HOST            broker address (default 127.0.0.1), or a pair's\n"
		"                             list HOST[:PORT],HOST[:PORT] (tried in order,\n"
		"                             followed to the primary on failover)\n"
		"      --shm NAME             shared memory to the dataplane NAME on this host\n"
		"                             (its config name, or its socket path) instead of UDP\n"
		"      --reconnect-max MS     when the broker goes away, reconnect for up to MS\n"
		"                             (default 30000; 0: exit at once)\n"
		"  -p, --port PORT            broker UDP port (default %u)\n"
		"  -t, --topic NAME           topic to subscribe to; created if missing;\n"
		"                             repeatable, up to %u. A pattern (tokens\n"
		"                             '*' = one, last '>' = one or more, e.g.\n"
		"                             'orders.*') subscribes to every matching\n"
		"                             topic, also later ones; printed as #ID.\n"
		"                             A partitioned topic: all its partitions, each\n"
		"                             message printed under its partition, NAME#I\n"
		"  -C, --count N              exit after N messages\n"
		"  -W, --timeout-s SECONDS    exit after SECONDS; status 1 if -C was given\n"
		"                             and fewer than N messages arrived\n"
		"  -v, --verbose              print \"TOPIC SEQ PAYLOAD\"\n"
		"      --hex                  print payloads in hex\n"
		"      --stamp                start each line with the time it was printed\n"
		"                             (CLOCK_MONOTONIC ns: one clock for every\n"
		"                             process on the host, to order their lines)\n"
		"  -U, --unsubscribe-after N  after N messages on the first topic, unsubscribe\n"
		"                             from all topics and print nothing more\n"
		"      --from WHERE           where each subscription starts: live (default,\n"
		"                             new messages only), earliest (oldest retained),\n"
		"                             seq:N (topic sequence N), time:T (T in ns since\n"
		"                             the epoch, or UTC like 2026-11-25T19:30:00Z or\n"
		"                             2026-11-25T19:30:00.250Z); all but live need a\n"
		"                             topic with a journal (durability async or sync)\n"
		"      --stats                on exit print \"received N gaps G replay_gaps R (S\n"
		"                             seqs)\" to stderr (G: messages never delivered;\n"
		"                             R: ranges the broker said it cannot replay, also\n"
		"                             each said on stderr), then \"recovery: naks K (Q\n"
		"                             seqs) retransmitted T duplicates D reordered O\n"
		"                             gap_events E given_up U\"\n"
		"      --headers              print each message's key and headers before its\n"
		"                             payload: [key=K name=value ...]\n"
		"      --filter CLAUSE        deliver only messages that pass: NAME=VALUE\n"
		"                             (header NAME is VALUE), NAME (header present),\n"
		"                             @key=VALUE (the message key); repeatable, up to\n"
		"                             4, all must hold; plain topics only\n"
		"      --group NAME           join the topic's consumer group NAME (one -t, a\n"
		"                             plain topic) instead of subscribing: each message\n"
		"                             goes to one member of the group; each is\n"
		"                             acknowledged after it is printed\n"
		"      --member-id N          the member's stable id (non-zero): a consumer\n"
		"                             restarted with the same id within the group's\n"
		"                             grace period takes its messages back (default:\n"
		"                             a random one)\n"
		"      --credit N             group: most unacknowledged messages held, 1..%u\n"
		"                             (default 256)\n"
		"      --pull N               group: fetch N messages at a time (1..%u) instead\n"
		"                             of having them pushed\n"
		"      --ack-delay-ms MS      group: wait MS before each ack (slow work)\n"
		"      --nak-seq SEQ          group: give message SEQ back (nak) every time it\n"
		"                             comes, instead of acking it (a poison message)\n"
		"      --no-ack               group: never acknowledge (messages come back\n"
		"                             after the group's ack wait)\n"
		"                             With --group, -v and --headers also print each\n"
		"                             message's delivery count: delivery=N\n"
		"      --window N             over UDP: messages per topic held while a\n"
		"                             missing one is asked for again, and the credit\n"
		"                             granted to the broker (4..65536; default 4096)\n"
		"      --credentials FILE     authenticate with the user and key in FILE\n"
		"                             (\"user = NAME\", \"key = HEX\"; mode 600);\n"
		"                             default: $SLUICE_CREDENTIALS, or $SLUICE_USER\n"
		"                             and $SLUICE_KEY\n"
		"      --encrypt              ask for an encrypted session (needs credentials;\n"
		"                             UDP: shared memory stays private to this host)\n"
		"      --help                 show this help\n\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage error.\n",
		SL_PROTO_DEFAULT_PORT, MAX_TOPICS, SL_MAX_GROUP_CREDIT, SL_MAX_GROUP_CREDIT);
}

static int
add_topic(struct sub_conf *conf, const char *name)
{
	if (conf->ntopics == MAX_TOPICS) {
		fprintf(stderr, PROG ": too many topics: at most %u -t options\n", MAX_TOPICS);
		return -1;
	}
	conf->topics[conf->ntopics++] = name;
	return 0;
}

/* Days from 1970-01-01 to @y-@m-@d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil); timegm(3) would consult the time zone
 * machinery for what is plain arithmetic. */
static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly @n decimal digits at *@p into *@out and advances *@p. */
static int
digits(const char **p, unsigned int n, unsigned int *out)
{
	unsigned int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (unsigned int)(**p - '0');
	}
	*out = v;
	return 0;
}

/* YYYY-MM-DDTHH:MM:SS[.fraction]Z (UTC, 1 to 9 fraction digits) to ns since the epoch. */
static int
parse_utc(const char *s, uint64_t *ns)
{
	static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned int y, mo, d, h, mi, sec, frac = 0, nfrac = 0, dig;
	int64_t secs;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
	    digits(&s, 2, &d) || (*s != 'T' && *s != 't') || (s++, digits(&s, 2, &h)) ||
	    *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &sec))
		return -1;
	if (*s == '.' || *s == ',') {
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
			if (nfrac == 9)
				return -1; /* finer than a nanosecond */
			frac = frac * 10 + (unsigned int)(*s - '0');
		}
		if (nfrac == 0)
			return -1;
		for (dig = nfrac; dig < 9; dig++)
			frac *= 10;
	}
	if ((*s != 'Z' && *s != 'z') || s[1] != '\0')
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 59)
		return -1;
	if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
		return -1;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if ((uint64_t)secs > (UINT64_MAX - frac) / NS_PER_S)
		return -1; /* past 2554, where u64 nanoseconds end */
	*ns = (uint64_t)secs * NS_PER_S + frac;
	return 0;
}

/* --from WHERE into conf->from_flags and conf->from_start; -1 (reported) if bad. */
static int
parse_from(struct sub_conf *conf, const char *where)
{
	const char *arg;

	conf->from = where;
	conf->from_start = 0;
	if (strcmp(where, "live") == 0) {
		conf->from_flags = 0;
		return 0;
	}
	if (strcmp(where, "earliest") == 0) {
		conf->from_flags = SL_SUB_F_EARLIEST;
		return 0;
	}
	if (strncmp(where, "seq:", 4) == 0) {
		conf->from_flags = SL_SUB_F_FROM_SEQ;
		/* Topic sequences start at 1. */
		return sl_cli_parse_u64(PROG, "--from seq:N", where + 4, 1, UINT64_MAX,
					&conf->from_start);
	}
	if (strncmp(where, "time:", 5) == 0) {
		arg = where + 5;
		conf->from_flags = SL_SUB_F_FROM_TIME;
		if (strchr(arg, '-') == NULL)
			return sl_cli_parse_u64(PROG, "--from time:T (ns since the epoch)", arg, 0,
						UINT64_MAX, &conf->from_start);
		if (parse_utc(arg, &conf->from_start) == 0)
			return 0;
		fprintf(stderr, PROG ": --from time: '%s' is not a UTC time like "
			"2026-11-25T19:30:00Z or 2026-11-25T19:30:00.5Z (1970 to 2554), nor ns "
			"since the epoch\n", arg);
		return -1;
	}
	fprintf(stderr, PROG ": --from '%s': use live, earliest, seq:N or time:T\n", where);
	return -1;
}

static bool
is_pattern(const char *t)
{
	return strchr(t, '*') != NULL || strchr(t, '>') != NULL;
}

/* One of the group options (-1, reported, for any other). */
static int
parse_group_opt(struct sub_conf *conf, int opt)
{
	uint64_t v;
	int rc;

	switch (opt) {
	case 'G':
		conf->group = optarg;
		return 0;
	case 'I':
		return sl_cli_parse_u64(PROG, "member-id", optarg, 1, UINT64_MAX, &conf->member_id);
	case 'c':
		rc = sl_cli_parse_u64(PROG, "credit", optarg, 1, SL_MAX_GROUP_CREDIT, &v);
		conf->credit = (uint32_t)v;
		return rc;
	case 'L':
		rc = sl_cli_parse_u64(PROG, "pull", optarg, 1, SL_MAX_GROUP_CREDIT, &v);
		conf->pull = (uint32_t)v;
		return rc;
	case 'A':
		return sl_cli_parse_u64(PROG, "ack-delay-ms", optarg, 0, 3600000,
					&conf->ack_delay_ms);
	case 'k':
		return sl_cli_parse_u64(PROG, "nak-seq", optarg, 1, UINT64_MAX, &conf->nak_seq);
	case 'n':
		conf->no_ack = true;
		return 0;
	default:
		return -1;
	}
}

/* The group options go together: one plain topic, no start point. */
static int
group_args_check(const struct sub_conf *conf)
{
	if (conf->group == NULL) {
		if (conf->member_id || conf->credit || conf->pull || conf->ack_delay_ms ||
		    conf->nak_seq || conf->no_ack) {
			fprintf(stderr, PROG ": --member-id, --credit, --pull, --ack-delay-ms, "
				"--nak-seq and --no-ack go with --group NAME\n");
			return -1;
		}
		return 0;
	}
	if (conf->ntopics != 1 || is_pattern(conf->topics[0])) {
		fprintf(stderr, PROG ": --group joins the group of one topic: give exactly one "
			"-t NAME, not a pattern\n");
		return -1;
	}
	if (conf->from_flags != 0 || conf->unsub_after != 0) {
		fprintf(stderr, PROG ": --group takes no --from or -U: the group keeps its own "
			"position\n");
		return -1;
	}
	return 0;
}

/* Returns 0 to run, 1 after --help, -1 on a usage error (already reported). */
static int
parse_args(int argc, char **argv, struct sub_conf *conf)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "topic", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'C' },
		{ "timeout-s", required_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hex", no_argument, NULL, 'X' },
		{ "stamp", no_argument, NULL, 'Z' },
		{ "unsubscribe-after", required_argument, NULL, 'U' },
		{ "stats", no_argument, NULL, 'S' },
		{ "from", required_argument, NULL, 'F' },
		{ "credentials", required_argument, NULL, 'K' },
		{ "encrypt", no_argument, NULL, 'E' },
		{ "shm", required_argument, NULL, 'M' },
		{ "reconnect-max", required_argument, NULL, 'R' },
		{ "window", required_argument, NULL, 'N' },
		{ "headers", no_argument, NULL, 'D' },
		{ "filter", required_argument, NULL, 'Q' },
		{ "group", required_argument, NULL, 'G' },
		{ "member-id", required_argument, NULL, 'I' },
		{ "credit", required_argument, NULL, 'c' },
		{ "pull", required_argument, NULL, 'L' },
		{ "ack-delay-ms", required_argument, NULL, 'A' },
		{ "nak-seq", required_argument, NULL, 'k' },
		{ "no-ack", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt;
	int rc = 0;

	while ((opt = getopt_long(argc, argv, "h:p:t:C:W:vU:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': conf->host = optarg; break;
		case 't': rc |= add_topic(conf, optarg); break;
		case 'v': conf->verbose = true; break;
		case 'X': conf->hex = true; break;
		case 'Z': conf->stamp = true; break;
		case 'S': conf->stats = true; break;
		case 'D': conf->headers = true; break;
		case 'Q':
			if (conf->n_filter == SL_MAX_FILTER_CLAUSES ||
			    sl_filter_clause_from_text(optarg, &conf->filter[conf->n_filter],
						       conf->filter_names[conf->n_filter]) < 0) {
				fprintf(stderr, PROG ": --filter '%s': give NAME=VALUE, NAME or "
					"@key=VALUE (at most %u)\n", optarg, SL_MAX_FILTER_CLAUSES);
				rc = -1;
				break;
			}
			conf->n_filter++;
			break;
		case 'F': rc |= parse_from(conf, optarg); break;
		case 'K': conf->credentials = optarg; break;
		case 'E': conf->encrypt = true; break;
		case 'M': conf->shm = optarg; break;
		case 'R':
			rc |= sl_cli_parse_u64(PROG, "reconnect-max", optarg, 0, 86400000,
					       &conf->reconnect_max_ms);
			break;
		case 'p':
			rc |= sl_cli_parse_u64(PROG, "port", optarg, 1, UINT16_MAX, &v);
			conf->port = (uint16_t)v;
			break;
		case 'C': rc |= sl_cli_parse_u64(PROG, "count", optarg, 1, UINT64_MAX, &conf->count); break;
		case 'W': rc |= sl_cli_parse_u64(PROG, "timeout", optarg, 1, 86400 * 365, &conf->timeout_s); break;
		case 'U':
			rc |= sl_cli_parse_u64(PROG, "unsubscribe-after", optarg, 1, UINT64_MAX, &conf->unsub_after);
			break;
		case 'N':
			rc |= sl_cli_parse_u64(PROG, "window", optarg, 4, 65536, &v);
			conf->window = (uint32_t)v;
			break;
		case 'H': usage(stdout); return 1;
		default: rc |= parse_group_opt(conf, opt); break;
		}
	}
	if (rc != 0)
		return -1;
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (conf->ntopics == 0) {
		fprintf(stderr, PROG ": no topic: give at least one -t NAME\n");
		return -1;
	}
	return group_args_check(conf);
}

static const char *
topic_name(const struct sub_state *st, uint32_t id)
{
	static char unknown[16], part[SL_MAX_TOPIC_NAME + 1];
	uint32_t parts[SL_MAX_PARTITIONS];
	unsigned int i;
	int k, n;

	for (i = 0; i < st->conf->ntopics; i++)
		if (st->ids[i] == id)
			return st->conf->topics[i];
	/* A partition of a partitioned topic: its own name, NAME#i. */
	for (i = 0; st->c != NULL && i < st->conf->ntopics; i++) {
		n = sl_client_partitions(st->c, st->ids[i], parts, SL_MAX_PARTITIONS);
		for (k = 0; k < n; k++)
			if (parts[k] == id &&
			    sl_proto_part_name(part, sizeof(part), st->conf->topics[i],
					       strlen(st->conf->topics[i]), (uint32_t)k) > 0)
				return part;
	}
	/* Reached through a pattern: only the id is known. */
	snprintf(unknown, sizeof(unknown), "#%u", id);
	return unknown;
}

/* "[key=K name=value ...] " (values as bytes; "[]" without any). */
static void
print_headers(const struct sl_message *m)
{
	const char *name;
	const void *val;
	uint16_t nl, vl;
	unsigned i;

	putchar('[');
	if (m->group_id)
		printf("delivery=%u%s", m->delivery_count, m->key_len || m->n_hdrs ? " " : "");
	if (m->key_len)
		printf("key=%.*s%s", (int)m->key_len, (const char *)m->key, m->n_hdrs ? " " : "");
	for (i = 0; sl_msg_header_at(m, i, &name, &nl, &val, &vl) == 0; i++)
		printf("%s%.*s=%.*s", i ? " " : "", (int)nl, name, (int)vl, (const char *)val);
	printf("] ");
}

static void
print_msg(const struct sub_state *st, const struct sl_message *m)
{
	const unsigned char *p = m->data;
	uint32_t i;

	if (st->conf->stamp)
		printf("%" PRIu64 " ", sl_now_ns());
	if (st->conf->verbose)
		printf("%s %" PRIu64 " ", topic_name(st, m->topic_id), m->seq);
	if (st->conf->verbose && !st->conf->headers && m->group_id)
		printf("delivery=%u ", m->delivery_count);
	if (st->conf->headers)
		print_headers(m);
	if (st->conf->hex) {
		for (i = 0; i < m->len; i++)
			printf("%02x", p[i]);
	} else {
		fwrite(p, 1, m->len, stdout);
	}
	putchar('\n');
	/* Readers sit on the other end of a pipe and want each line now. */
	fflush(stdout);
}

/* A group delivery is printed: acknowledge it (after the work it stands
 * for), give it back (--nak-seq), or neither (--no-ack). */
static void
settle(struct sub_state *st, const struct sl_message *m)
{
	const struct sub_conf *conf = st->conf;
	struct timespec ts = { .tv_sec = (time_t)(conf->ack_delay_ms / 1000),
			       .tv_nsec = (long)(conf->ack_delay_ms % 1000) * 1000000L };
	int rc;

	if (st->fetch_left > 0)
		st->fetch_left--;
	if (conf->ack_delay_ms)
		nanosleep(&ts, NULL);
	if (conf->no_ack)
		return;
	if (conf->nak_seq == m->seq)
		rc = sl_client_group_nak(st->c, m->group_id, m->seq, 0, 1);
	else
		rc = sl_client_group_ack(st->c, m->group_id, m->seq);
	if (rc < 0 && st->ack_err == 0)
		st->ack_err = rc;
}

static void
on_msg(void *arg, const struct sl_message *m)
{
	struct sub_state *st = arg;
	const struct sub_conf *conf = st->conf;

	st->received++;
	/* A group's message past -C stays unacknowledged: leaving the group
	 * at exit hands it to another member. */
	if (st->muted || st->done)
		return;
	print_msg(st, m);
	if (m->group_id)
		settle(st, m);
	st->printed++;
	if (conf->count && st->printed >= conf->count)
		st->done = true;
	/* Unsubscribing waits for the broker, so it happens after the poll returns. */
	if (conf->unsub_after && m->topic_id == st->ids[0] &&
	    ++st->first_topic >= conf->unsub_after)
		st->muted = true;
}

static const char *
request_error(int rc)
{
	switch (rc) {
	case -EINVAL:
		return "invalid name: use 1 to 200 printable ASCII characters without spaces";
	case -ENOSPC:
		return "broker table full";
	case -ENOENT:
		return "no such topic";
	case -ETIMEDOUT:
		return "broker stopped answering";
	case -ENOTCONN:
		return "session expired";
	case -EBUSY:
		return "broker has too many replays in progress; retry later or use --from live";
	case -EPERM:
		return "not allowed (ACL)";
	case -EACCES:
		return "the topic takes only encrypted sessions: connect with --encrypt";
	default:
		return strerror(-rc);
	}
}

static int
subscribe_all(struct sl_client *c, struct sub_state *st)
{
	const struct sub_conf *conf = st->conf;
	unsigned int i;
	int rc;

	for (i = 0; i < conf->ntopics; i++) {
		if (is_pattern(conf->topics[i])) {
			st->ids[i] = SL_TOPIC_INVALID;
			if (conf->n_filter) {
				fprintf(stderr, PROG ": --filter applies to plain topics, not to "
					"the pattern '%s'\n", conf->topics[i]);
				return -EINVAL;
			}
			rc = sl_client_subscribe_pattern(c, conf->topics[i], 0);
			if (rc < 0) {
				fprintf(stderr, PROG ": cannot subscribe to pattern '%s': %s\n",
					conf->topics[i], rc == -EINVAL ? "invalid pattern ('*' and '>' "
					"must be whole tokens, '>' last)" : request_error(rc));
				return rc;
			}
			continue;
		}
		rc = sl_client_resolve(c, conf->topics[i], 1, &st->ids[i]);
		if (rc == -EPERM) {
			fprintf(stderr, PROG ": not allowed to look up or create topic '%s' (ACL; "
				"creating a topic needs admin)\n", conf->topics[i]);
			return rc;
		}
		if (rc == 0)
			rc = sl_client_subscribe_filter(c, st->ids[i], conf->from_flags,
							conf->from_start, conf->filter,
							conf->n_filter);
		if (rc == -EPROTONOSUPPORT) {
			fprintf(stderr, PROG ": the broker speaks protocol version 3: it takes no "
				"--filter\n");
			return rc;
		}
		if (rc == -EINVAL && conf->n_filter) {
			fprintf(stderr, PROG ": the broker refused the --filter of '%s'\n",
				conf->topics[i]);
			return rc;
		}
		if (rc == -EPERM) {
			fprintf(stderr, PROG ": not allowed to subscribe to '%s' (ACL)\n",
				conf->topics[i]);
			return rc;
		}
		if (rc == -EACCES) {
			fprintf(stderr, PROG ": topic '%s' takes only encrypted sessions: "
				"subscribe with --encrypt\n", conf->topics[i]);
			return rc;
		}
		if (rc == -EOPNOTSUPP) {
			fprintf(stderr, PROG ": topic %s has no journal (durability none): cannot "
				"replay (--from %s); use --from live\n", conf->topics[i], conf->from);
			return rc;
		}
		if (rc < 0) {
			fprintf(stderr, PROG ": cannot subscribe to '%s': %s\n", conf->topics[i],
				request_error(rc));
			return rc;
		}
	}
	return 0;
}

/* --group: join the topic's group instead of subscribing. */
static int
join_group(struct sl_client *c, struct sub_state *st)
{
	const struct sub_conf *conf = st->conf;
	struct sl_group_opts go = { .group = conf->group, .member_id = conf->member_id,
				    .credit = conf->credit,
				    .flags = conf->pull ? SL_GROUP_F_PULL : 0,
				    .filter = conf->filter, .n_filter = conf->n_filter };
	struct sl_group_info info;
	const char *why;
	int rc;

	rc = sl_client_resolve(c, conf->topics[0], 1, &st->ids[0]);
	if (rc < 0) {
		fprintf(stderr, PROG ": cannot look up topic '%s': %s\n", conf->topics[0],
			rc == -EPERM ? "not allowed (ACL; creating a topic needs admin)" :
			request_error(rc));
		return rc;
	}
	go.topic_id = st->ids[0];
	rc = sl_client_group_join(c, &go, &info);
	if (rc == 0) {
		st->group_id = info.group_id;
		if (conf->verbose)
			fprintf(stderr, PROG ": joined group %s of %s as member %" PRIu64
				" (credit %u, ack wait %u ms, max deliveries %u)\n", conf->group,
				conf->topics[0], info.member_id, info.credit, info.ack_wait_ms,
				info.max_deliveries);
		return 0;
	}
	switch (rc) {
	case -ESRCH:
		why = "no such group on the topic (create it: sluicectl group create TOPIC NAME)";
		break;
	case -EPERM:
		why = "not allowed to consume from it (ACL: the consume right)";
		break;
	case -EINVAL:
		why = conf->n_filter ? "bad name, or a --filter other than the group's"
				     : "bad group name: 1..31 of [A-Za-z0-9._-]";
		break;
	case -ENOSPC:
		why = "the group has its maximum number of members";
		break;
	case -EPROTONOSUPPORT:
		why = "the broker speaks protocol version 3: it has no consumer groups";
		break;
	default:
		why = request_error(rc);
		break;
	}
	fprintf(stderr, PROG ": cannot join group '%s' of '%s': %s\n", conf->group,
		conf->topics[0], why);
	return rc;
}

/* --pull: ask for the next N once the last ones have come. */
static int
fetch_more(struct sl_client *c, struct sub_state *st)
{
	int rc;

	if (st->conf->pull == 0 || st->fetch_left > 0 || st->done)
		return 0;
	rc = sl_client_group_fetch(c, st->group_id, st->conf->pull);
	if (rc == -EAGAIN)
		return 0; /* next time round */
	if (rc < 0) {
		fprintf(stderr, PROG ": fetch failed: %s\n", strerror(-rc));
		return rc;
	}
	st->fetch_left = st->conf->pull;
	return 0;
}

static int
unsubscribe_all(struct sl_client *c, struct sub_state *st)
{
	unsigned int i;
	int rc;

	for (i = 0; i < st->conf->ntopics; i++) {
		rc = is_pattern(st->conf->topics[i])
			     ? sl_client_subscribe_pattern(c, st->conf->topics[i], 1)
			     : sl_client_unsubscribe(c, st->ids[i]);
		if (rc < 0) {
			fprintf(stderr, PROG ": cannot unsubscribe from '%s': %s\n",
				st->conf->topics[i], request_error(rc));
			return rc;
		}
	}
	st->unsubscribed = true;
	fprintf(stderr, "unsubscribed\n");
	return 0;
}

/* Say on stderr when the broker told of a range it cannot replay. */
static void
report_gap(struct sl_client *c, struct sub_state *st)
{
	struct sl_client_stats s;

	sl_client_stats(c, &s);
	if (s.replay_gaps == st->gaps_told)
		return;
	st->gaps_told = s.replay_gaps;
	fprintf(stderr, PROG ": gap: topic %s seq %" PRIu64 "..%" PRIu64 " cannot be replayed "
		"(damaged in the broker's journal)\n", topic_name(st, s.gap_topic), s.gap_first,
		s.gap_last);
}

/* Events: what the library tells besides messages, said on stderr. */
static void
on_event(void *arg, const struct sl_event *ev)
{
	struct sub_state *st = arg;
	const char *why;

	switch (ev->type) {
	case SL_EV_GAP:
		/* Replay gaps are told from the notice itself (report_gap). */
		if (ev->error == SL_E_REPLAY_GAP)
			return;
		if (st->events_told == GAPS_TOLD_MAX) {
			st->events_untold++;
			return;
		}
		st->events_told++;
		if (ev->error == SL_E_SLOW_CONSUMER)
			why = "the broker cut this subscriber off: it fell too far behind";
		else if (ev->error == SL_E_NONE)
			why = "dropped by the broker: this subscriber fell behind (policy drop)";
		else
			why = "lost: no longer held by the broker, or not received in time";
		fprintf(stderr, PROG ": gap: topic %s seq %" PRIu64 "..%" PRIu64 " %s\n",
			topic_name(st, ev->topic_id), ev->first, ev->last, why);
		break;
	case SL_EV_DISCONNECTED:
		fprintf(stderr, PROG ": disconnected (%s); reconnecting\n",
			ev->error ? sl_error_code_str(ev->error) : "broker silent");
		break;
	case SL_EV_RECONNECTED:
		fprintf(stderr, PROG ": reconnected\n");
		break;
	case SL_EV_INCARNATION:
		fprintf(stderr, PROG ": the broker restarted: topics without a journal start "
			"again at seq 1\n");
		break;
	case SL_EV_SUB_REVOKED:
		fprintf(stderr, PROG ": the broker ended the subscription to %s: %s\n",
			topic_name(st, ev->topic_id), sl_cli_revoked_why(ev->error));
		break;
	case SL_EV_GROUP_ERROR:
		if (ev->error == SL_E_NOT_HELD)
			fprintf(stderr, PROG ": group %s: seq %" PRIu64 " was not this member's "
				"to settle (not held: already settled or redelivered elsewhere)\n",
				st->conf->group, ev->first);
		else if (ev->error == SL_E_GAP_LOST)
			fprintf(stderr, PROG ": group %s: seq %" PRIu64 "..%" PRIu64 " lost: "
				"no longer held by the broker\n", st->conf->group, ev->first,
				ev->last);
		else
			fprintf(stderr, PROG ": group %s: %s; no longer a member\n",
				st->conf->group, sl_error_code_str(ev->error));
		if (ev->error == SL_E_NO_GROUP || ev->error == SL_E_DENIED)
			st->group_lost = st->done = true;
		break;
	default:
		break;
	}
}

/* Receive until -C, -W or a signal. Returns 0 or a negative errno (reported). */
static int
receive(struct sl_client *c, struct sub_state *st, uint64_t deadline)
{
	uint64_t now;
	int ms;
	int rc;

	while (!stop && !st->done) {
		ms = WAIT_SLICE_MS;
		if (deadline) {
			now = sl_now_ns();
			if (now >= deadline)
				break;
			if ((deadline - now) / 1000000u < (uint64_t)ms)
				ms = (int)((deadline - now + 999999u) / 1000000u);
		}
		rc = fetch_more(c, st);
		if (rc < 0)
			return rc;
		rc = sl_client_wait(c, on_msg, st, 64, ms);
		if (rc == -ENOTCONN) {
			sl_cli_report_closed(PROG, c);
			return rc;
		}
		if (rc < 0) {
			fprintf(stderr, PROG ": receive failed: %s\n", strerror(-rc));
			return rc;
		}
		report_gap(c, st);
		if (st->ack_err < 0) {
			fprintf(stderr, PROG ": acknowledging failed: %s\n", strerror(-st->ack_err));
			return st->ack_err;
		}
		if (st->muted && !st->unsubscribed) {
			rc = unsubscribe_all(c, st);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sub_conf conf = { .host = "127.0.0.1", .port = SL_PROTO_DEFAULT_PORT,
				 .reconnect_max_ms = 30000 };
	struct sub_state st = { .conf = &conf };
	struct sl_client_opts opts = { 0 };
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	uint16_t code = SL_E_NONE;
	struct sl_client_stats stats;
	struct sl_client *c;
	uint64_t deadline = 0;
	int rc;

	rc = parse_args(argc, argv, &conf);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "Try '" PROG " --help' for more information.\n");
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	(void)sl_sig_handle(on_signal, 0, stop_sigs, sizeof(stop_sigs) / sizeof(stop_sigs[0]));
	if (conf.timeout_s)
		deadline = sl_now_ns() + conf.timeout_s * 1000000000u;
	opts.host = conf.host;
	opts.shm = conf.shm;
	opts.port = conf.port;
	opts.name = PROG;
	opts.last_error = &code;
	opts.no_reconnect = conf.reconnect_max_ms == 0;
	opts.reconnect_max_ms = (uint32_t)conf.reconnect_max_ms;
	opts.on_event = on_event;
	opts.reorder_window = conf.window;
	opts.event_arg = &st;
	if (sl_cli_credentials(PROG, &opts, conf.credentials, user, key) < 0 ||
	    sl_cli_encrypt(PROG, &opts, conf.encrypt) < 0)
		return 1;
	rc = sl_client_connect(&c, &opts);
	explicit_bzero(key, sizeof(key));
	if (rc < 0) {
		if (!sl_cli_report_attach(PROG, conf.shm, rc))
			sl_cli_report_connect(PROG, conf.host, conf.port, 0, opts.user, code, rc);
		return 1;
	}
	st.c = c;
	rc = conf.group ? join_group(c, &st) : subscribe_all(c, &st);
	if (rc == 0)
		rc = receive(c, &st, deadline);
	/* Whatever is still held goes to the other members now, acks first. */
	if (st.group_id && !st.group_lost && sl_client_group_leave(c, st.group_id) < 0 &&
	    rc == 0)
		fprintf(stderr, PROG ": leaving group %s failed: its messages move after "
			"the grace period\n", conf.group);
	if (st.group_lost && rc == 0)
		rc = -ENOTCONN;
	sl_client_stats(c, &stats);
	sl_client_close(c);
	if (conf.stats)
		fprintf(stderr, "received %" PRIu64 " gaps %" PRIu64 " replay_gaps %" PRIu64
			" (%" PRIu64 " seqs)\n", st.received, stats.gaps, stats.replay_gaps,
			stats.replay_gap_seqs);
	if (conf.stats)
		fprintf(stderr, "recovery: naks %" PRIu64 " (%" PRIu64 " seqs) retransmitted %" PRIu64
			" duplicates %" PRIu64 " reordered %" PRIu64 " gap_events %" PRIu64
			" given_up %" PRIu64 "\n", stats.naks_sent, stats.nak_seqs,
			stats.retrans_received, stats.dup_drops, stats.reordered, stats.gap_events,
			stats.holes_given_up);
	if (conf.stats && conf.group)
		fprintf(stderr, "group: delivered %" PRIu64 " redelivered %" PRIu64 " acked %" PRIu64
			" nacked %" PRIu64 " not_held %" PRIu64 "\n", stats.group_delivered,
			stats.group_redelivered, stats.group_acked, stats.group_nacked,
			stats.group_not_held);
	if (st.events_untold > 0)
		fprintf(stderr, PROG ": %" PRIu64 " more gaps not said one by one\n",
			st.events_untold);
	if (rc < 0)
		return 1;
	/* Only a timeout can leave -C short; a signal is a clean exit. */
	if (conf.count && st.printed < conf.count && !stop)
		return 1;
	return 0;
}
