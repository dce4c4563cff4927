/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-loadgen options: --help and the command line into struct lg_conf. */

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "loadgen.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: " LG_NAME " [options]\n"
		"Open-loop load against a running Sluice broker: N publishers and M subscribers\n"
		"in one process, each its own UDP session (or, with --shm, its own shared-memory\n"
		"rings). One thread polls them all, busy. Message i of a publisher is due at\n"
		"start + i / (rate / N); late messages are sent in a burst, never skipped, and\n"
		"latency runs from the due time, so stalls show in the percentiles.\n"
		"\n"
		"Over shared memory (--shm), publishers use the zero-copy API (claim, copy the\n"
		"payload, commit) and stamp the message with the TSC just before the commit;\n"
		"the subscriber takes the TSC difference (one host, one clock; calibrated\n"
		"against CLOCK_MONOTONIC at start). The JSON's p50_ns..max_ns are then this\n"
		"one-way publish-to-deliver latency, and due_p50_ns..due_max_ns the latency\n"
		"from the due time as over UDP (which also counts any wait before the\n"
		"publish). Over UDP both sets are the latency from the due time. Every run\n"
		"also times the publish call itself (claim+copy+commit, or\n"
		"sl_client_publish) with the TSC: publish_call_p50_ns..publish_call_max_ns.\n"
		"\n"
		"  --host HOST            broker address (default 127.0.0.1), or a pair's list\n"
		"                         HOST[:PORT],HOST[:PORT] (followed to the primary)\n"
		"  --port PORT            broker UDP port (default %u)\n"
		"      --shm NAME         attach every client over shared memory to the\n"
		"                         dataplane NAME on this host (or a socket path);\n"
		"                         --host and --port are then ignored\n"
		"  -P, --publishers N     publishing clients (default 1)\n"
		"  -S, --subscribers M    subscribing clients, each on every topic (default 1);\n"
		"                         0: publish only, msgs_per_s is then the publish rate\n"
		"  -r, --rate R           total msgs/s across publishers (default 10000);\n"
		"                         0: as fast as possible (on -EAGAIN poll and retry),\n"
		"                         latency from the send time (on shm only the\n"
		"                         publish-to-deliver figure: due_* keys are 0, and\n"
		"                         one message in 16 is timed and stamped, so that\n"
		"                         timing does not cost more than the publish)\n"
		"  -s, --size BYTES       payload size, %zu..%u (default 64)\n"
		"  -d, --duration SEC     send phase length (default 5); with -n, a time limit\n"
		"  -n, --count N          messages per publisher instead of a duration\n"
		"      --topics K         topics <prefix>.0 .. <prefix>.K-1 (default 1);\n"
		"                         publisher k publishes to topic k %% K\n"
		"      --topic-prefix P   topic name prefix (default loadgen)\n"
		"      --drain-ms MS      wait for stragglers after sending (default 500)\n"
		"      --warmup-ms MS     leave messages due in this first window out of the\n"
		"                         latency figures, not the counts (default 200)\n"
		"      --json             print one JSON object on stdout, nothing else\n"
		"      --credentials FILE authenticate every client with the user and key in\n"
		"                         FILE (\"user = NAME\", \"key = HEX\"; mode 600);\n"
		"                         default: $SLUICE_CREDENTIALS, or $SLUICE_USER and\n"
		"                         $SLUICE_KEY\n"
		"      --encrypt          every client asks for an encrypted session (needs\n"
		"                         credentials; UDP only: shared memory stays plain)\n"
		"      --cpu N            pin the loadgen to cpu N (keep it off the dataplane's\n"
		"                         worker core)\n"
		"      --window N         with --rate 0 and subscribers: publish at most N\n"
		"                         messages ahead of the slowest subscriber (a lost\n"
		"                         message counts as arrived once a later one does);\n"
		"                         0: no limit. Default over shm: 128 KiB worth of\n"
		"                         deliveries, so that subscribers polled by this same\n"
		"                         thread are not overrun; over UDP: 0\n"
		"      --ack              every publish asks for an ACK; the run fails unless\n"
		"                         all are acknowledged (waited for up to --drain-ms)\n"
		"      --ack-log FILE     --ack, and append a line to FILE for each publish\n"
		"                         acknowledged, when its ACK arrives: \"PUB INDEX\n"
		"                         WALL_NS EPOCH\" (publisher, message number as in\n"
		"                         the payload, CLOCK_REALTIME ns, the broker's leader\n"
		"                         epoch: 0 but on a pair); written through at once,\n"
		"                         so a failover test can time the first ACK of a new\n"
		"                         primary and match the journals against them\n"
		"      --events           a line on stderr per client event (disconnected,\n"
		"                         reconnected, gap, incarnation, fenced) also with\n"
		"                         --json; the first %u are printed, all are counted\n"
		"      --producer NAME    publisher k publishes as producer NAME-k (stable\n"
		"                         across runs: a later run fences an earlier one);\n"
		"                         default: a fresh producer per publisher\n"
		"      --batch-us US      over UDP, pack publishes into one datagram for up to\n"
		"                         US microseconds (default 0: each sent at once)\n"
		"      --group NAME       consumer groups (protocol version 4): instead of\n"
		"                         subscribers, --consumers members of group NAME of\n"
		"                         every topic (create it first: sluicectl group create),\n"
		"                         polled in turn by the one thread, each acking every\n"
		"                         message it gets; a message must be processed exactly\n"
		"                         once by any member (lost, duplicates). The JSON adds\n"
		"                         group, consumers, processed, redelivered,\n"
		"                         dead_lettered, group_acked, ack_failed, not_held and\n"
		"                         members (per member: delivered, redelivered)\n"
		"      --consumers N      group members (default 3)\n"
		"      --credit N         each member's credit, 1..%u (default 256)\n"
		"      --dead-letter TOPIC with --group: subscribe to the group's dead-letter\n"
		"                         topic and count this run's messages there\n"
		"                         (dead_lettered: given up on, not lost)\n"
		"  -q, --quiet            no progress line on stderr\n"
		"  -h, --help             this text\n"
		"\n"
		"msgs_per_s is deliveries per second over the send phase (with -S 0, publishes\n"
		"per second); publish_per_s is always publishes per second. Latency and\n"
		"publish-call figures leave out the warm-up window.\n"
		"\n"
		"Each payload starts with its publisher's index and message number: every\n"
		"subscriber checks that each publisher's messages arrive once each and in\n"
		"order (lost, duplicates, out_of_order). Payloads over %u bytes are\n"
		"larger than a datagram; libsluice sends them in fragments.\n"
		"\n"
		"SIGINT or SIGTERM ends the run early (still reported); SIGUSR1 ends the\n"
		"send phase only: the drain phase still waits for deliveries and ACKs.\n"
		"\n"
		"Exit status: 0 all delivered once and in order (with -S 0: all published;\n"
		"with --ack: all acknowledged), 3 messages lost, duplicated, out of order,\n"
		"corrupted or (--ack) not acknowledged, 1 runtime failure (no broker, session\n"
		"lost), 2 bad usage.\n",
		SL_PROTO_DEFAULT_PORT, sizeof(struct lg_payload), LG_MAX_SIZE, LG_EVENT_LINES,
		SL_MAX_GROUP_CREDIT, SL_MAX_PAYLOAD);
}

/* Parse an unsigned integer option within [min, max]; prints why on failure. */
static int
parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return sl_cli_parse_u64(LG_NAME, opt, s, min, max, out) < 0 ? -EINVAL : 0;
}

static int
parse_double(const char *opt, const char *s, double min, double max, double *out)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
		fprintf(stderr, LG_NAME ": %s expects a number, got '%s'\n", opt, s);
		return -EINVAL;
	}
	if (v < min || v > max) {
		fprintf(stderr, LG_NAME ": %s must be between %g and %g, got %g\n", opt, min, max,
			v);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

enum {
	OPT_HOST = 256,
	OPT_PORT,
	OPT_TOPICS,
	OPT_PREFIX,
	OPT_DRAIN,
	OPT_WARMUP,
	OPT_JSON,
	OPT_CREDENTIALS,
	OPT_SHM,
	OPT_CPU,
	OPT_WINDOW,
	OPT_ACK,
	OPT_EVENTS,
	OPT_PRODUCER,
	OPT_BATCH,
	OPT_ENCRYPT,
	OPT_GROUP,
	OPT_CONSUMERS,
	OPT_CREDIT,
	OPT_DEAD_LETTER,
	OPT_ACK_LOG,
};

static const struct option long_opts[] = {
	{ "host", required_argument, NULL, OPT_HOST },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "publishers", required_argument, NULL, 'P' },
	{ "subscribers", required_argument, NULL, 'S' },
	{ "rate", required_argument, NULL, 'r' },
	{ "size", required_argument, NULL, 's' },
	{ "duration", required_argument, NULL, 'd' },
	{ "count", required_argument, NULL, 'n' },
	{ "topics", required_argument, NULL, OPT_TOPICS },
	{ "topic-prefix", required_argument, NULL, OPT_PREFIX },
	{ "drain-ms", required_argument, NULL, OPT_DRAIN },
	{ "warmup-ms", required_argument, NULL, OPT_WARMUP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
	{ "shm", required_argument, NULL, OPT_SHM },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "ack", no_argument, NULL, OPT_ACK },
	{ "events", no_argument, NULL, OPT_EVENTS },
	{ "producer", required_argument, NULL, OPT_PRODUCER },
	{ "batch-us", required_argument, NULL, OPT_BATCH },
	{ "encrypt", no_argument, NULL, OPT_ENCRYPT },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "consumers", required_argument, NULL, OPT_CONSUMERS },
	{ "credit", required_argument, NULL, OPT_CREDIT },
	{ "dead-letter", required_argument, NULL, OPT_DEAD_LETTER },
	{ "ack-log", required_argument, NULL, OPT_ACK_LOG },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* One option with an argument; the flags and help are handled by the caller. */
static int
parse_one(struct lg_conf *cf, int opt, const char *arg)
{
	uint64_t v;
	int rc;

	switch (opt) {
	case OPT_HOST:
		cf->host = arg;
		return 0;
	case OPT_PORT:
		rc = parse_u64("--port", arg, 1, 65535, &v);
		cf->port = (uint16_t)v;
		return rc;
	case 'P':
		rc = parse_u64("--publishers", arg, 1, LG_MAX_CLIENTS, &v);
		cf->pubs = (unsigned)v;
		return rc;
	case 'S':
		rc = parse_u64("--subscribers", arg, 0, LG_MAX_CLIENTS, &v);
		cf->subs = (unsigned)v;
		cf->subs_set = 1;
		return rc;
	case 'r':
		return parse_double("--rate", arg, 0, LG_MAX_RATE, &cf->rate);
	case 's':
		rc = parse_u64("--size", arg, sizeof(struct lg_payload), LG_MAX_SIZE, &v);
		cf->size = (uint32_t)v;
		return rc;
	case 'd':
		cf->duration_set = 1;
		return parse_double("--duration", arg, 0.001, LG_MAX_DURATION_S, &cf->duration_s);
	case 'n':
		return parse_u64("--count", arg, 1, UINT64_C(1) << 40, &cf->count);
	case OPT_TOPICS:
		rc = parse_u64("--topics", arg, 1, LG_MAX_TOPICS, &v);
		cf->topics = (unsigned)v;
		return rc;
	case OPT_PREFIX:
		cf->prefix = arg;
		return 0;
	case OPT_CREDENTIALS:
		cf->credentials = arg;
		return 0;
	case OPT_SHM:
		if (*arg == '\0') {
			fprintf(stderr, LG_NAME ": --shm wants the dataplane's instance name\n");
			return -EINVAL;
		}
		cf->shm = arg;
		return 0;
	case OPT_CPU:
		rc = parse_u64("--cpu", arg, 0, CPU_SETSIZE - 1, &v);
		cf->cpu = (int)v;
		return rc;
	case OPT_WINDOW:
		cf->window_set = 1;
		return parse_u64("--window", arg, 0, UINT64_C(1) << 32, &cf->window);
	case OPT_ACK:
		cf->ack = 1;
		return 0;
	case OPT_ACK_LOG:
		cf->ack = 1;
		cf->ack_log = arg;
		return 0;
	case OPT_EVENTS:
		cf->events = 1;
		return 0;
	case OPT_PRODUCER:
		cf->producer = arg;
		return 0;
	case OPT_BATCH:
		rc = parse_u64("--batch-us", arg, 0, 1000000, &v);
		cf->batch_us = (uint32_t)v;
		return rc;
	case OPT_GROUP:
		cf->group = arg;
		return 0;
	case OPT_CONSUMERS:
		rc = parse_u64("--consumers", arg, 1, LG_MAX_CLIENTS, &v);
		cf->consumers = (unsigned)v;
		return rc;
	case OPT_CREDIT:
		rc = parse_u64("--credit", arg, 1, SL_MAX_GROUP_CREDIT, &v);
		cf->credit = (uint32_t)v;
		return rc;
	case OPT_DEAD_LETTER:
		cf->dead_letter = arg;
		return 0;
	case OPT_DRAIN:
		return parse_u64("--drain-ms", arg, 0, 600000, &cf->drain_ms);
	case OPT_WARMUP:
		return parse_u64("--warmup-ms", arg, 0, 3600000, &cf->warmup_ms);
	}
	return -EINVAL;
}

/* --group: its members are the subscribers. -1 (reported) when the options disagree. */
static int
group_args(struct lg_conf *cf)
{
	if (cf->group == NULL) {
		if (cf->consumers || cf->credit || cf->dead_letter) {
			fprintf(stderr, LG_NAME ": --consumers, --credit and --dead-letter go with "
				"--group NAME\n");
			return -1;
		}
		return 0;
	}
	if (cf->subs_set) {
		fprintf(stderr, LG_NAME ": with --group the members are the subscribers: give "
			"--consumers N, not --subscribers\n");
		return -1;
	}
	if (cf->dead_letter && !sl_proto_topic_name_valid(cf->dead_letter,
							  strlen(cf->dead_letter))) {
		fprintf(stderr, LG_NAME ": --dead-letter '%s' is not a topic name\n",
			cf->dead_letter);
		return -1;
	}
	cf->subs = cf->consumers ? cf->consumers : 3;
	return 0;
}

/* Returns 0 to run, 1 after --help, or -EINVAL for bad usage (message printed). */
int
sl_lg_parse_args(struct lg_conf *cf, int argc, char **argv)
{
	char name[SL_MAX_TOPIC_NAME + 16];
	int opt;

	*cf = (struct lg_conf){ .host = "127.0.0.1", .port = SL_PROTO_DEFAULT_PORT,
				.pubs = 1, .subs = 1, .topics = 1, .prefix = "loadgen",
				.rate = 10000, .size = 64, .duration_s = 5,
				.drain_ms = 500, .warmup_ms = 200, .cpu = -1 };
	while ((opt = getopt_long(argc, argv, "P:S:r:s:d:n:qh", long_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 1;
		} else if (opt == 'q') {
			cf->quiet = 1;
		} else if (opt == OPT_JSON) {
			cf->json = 1;
		} else if (opt == OPT_ENCRYPT) {
			cf->encrypt = 1;
		} else if (opt == '?' || parse_one(cf, opt, optarg) < 0) {
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, LG_NAME ": unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (group_args(cf) < 0)
		return -EINVAL;
	/* The longest name decides: "<prefix>.<K-1>". */
	snprintf(name, sizeof(name), "%s.%u", cf->prefix, cf->topics - 1);
	if (strlen(cf->prefix) > SL_MAX_TOPIC_NAME ||
	    !sl_proto_topic_name_valid(name, strlen(name))) {
		fprintf(stderr, LG_NAME ": --topic-prefix '%s' does not make a valid topic name "
			"(1..%u printable ASCII bytes, no spaces)\n", cf->prefix, SL_MAX_TOPIC_NAME);
		return -EINVAL;
	}
	return 0;
}
