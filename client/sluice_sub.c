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

#include <sluice/proto.h>
#include <sluice/sluice.h>

#include "cli.h"

#define PROG "sluice-sub"
#define EXIT_USAGE 2
#define MAX_TOPICS 64
#define WAIT_SLICE_MS 100 /* how long a wait may hide a signal or the deadline */

struct sub_conf {
	const char *host;
	uint16_t port;
	const char *topics[MAX_TOPICS];
	unsigned int ntopics;
	uint64_t count;	      /* 0: no limit */
	uint64_t timeout_s;   /* 0: none */
	uint64_t unsub_after; /* 0: never */
	bool verbose;
	bool hex;
	bool stats;
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
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " -t TOPIC [-t TOPIC...] [options]\n"
		"Print messages from Sluice topics, one per line.\n\n"
		"  -h, --host HOST            broker address (default 127.0.0.1)\n"
		"  -p, --port PORT            broker UDP port (default %u)\n"
		"  -t, --topic NAME           topic to subscribe to; created if missing;\n"
		"                             repeatable, up to %u\n"
		"  -C, --count N              exit after N messages\n"
		"  -W, --timeout-s SECONDS    exit after SECONDS; status 1 if -C was given\n"
		"                             and fewer than N messages arrived\n"
		"  -v, --verbose              print \"TOPIC SEQ PAYLOAD\"\n"
		"      --hex                  print payloads in hex\n"
		"  -U, --unsubscribe-after N  after N messages on the first topic, unsubscribe\n"
		"                             from all topics and print nothing more\n"
		"      --stats                on exit print \"received N gaps G\" to stderr\n"
		"      --help                 show this help\n\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage error.\n",
		SL_PROTO_DEFAULT_PORT, MAX_TOPICS);
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
		{ "unsubscribe-after", required_argument, NULL, 'U' },
		{ "stats", no_argument, NULL, 'S' },
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
		case 'S': conf->stats = true; break;
		case 'p':
			rc |= sl_cli_parse_u64(PROG, "port", optarg, 1, UINT16_MAX, &v);
			conf->port = (uint16_t)v;
			break;
		case 'C': rc |= sl_cli_parse_u64(PROG, "count", optarg, 1, UINT64_MAX, &conf->count); break;
		case 'W': rc |= sl_cli_parse_u64(PROG, "timeout", optarg, 1, 86400 * 365, &conf->timeout_s); break;
		case 'U':
			rc |= sl_cli_parse_u64(PROG, "unsubscribe-after", optarg, 1, UINT64_MAX, &conf->unsub_after);
			break;
		case 'H': usage(stdout); return 1;
		default: rc = -1; break;
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
	return 0;
}

static const char *
topic_name(const struct sub_state *st, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < st->conf->ntopics; i++)
		if (st->ids[i] == id)
			return st->conf->topics[i];
	return "?";
}

static void
print_msg(const struct sub_state *st, const struct sl_message *m)
{
	const unsigned char *p = m->data;
	uint32_t i;

	if (st->conf->verbose)
		printf("%s %" PRIu64 " ", topic_name(st, m->topic_id), m->seq);
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

static void
on_msg(void *arg, const struct sl_message *m)
{
	struct sub_state *st = arg;
	const struct sub_conf *conf = st->conf;

	st->received++;
	if (st->muted || st->done)
		return;
	print_msg(st, m);
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
		rc = sl_client_resolve(c, conf->topics[i], 1, &st->ids[i]);
		if (rc == 0)
			rc = sl_client_subscribe(c, st->ids[i]);
		if (rc < 0) {
			fprintf(stderr, PROG ": cannot subscribe to '%s': %s\n", conf->topics[i],
				request_error(rc));
			return rc;
		}
	}
	return 0;
}

static int
unsubscribe_all(struct sl_client *c, struct sub_state *st)
{
	unsigned int i;
	int rc;

	for (i = 0; i < st->conf->ntopics; i++) {
		rc = sl_client_unsubscribe(c, st->ids[i]);
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
		rc = sl_client_wait(c, on_msg, st, 64, ms);
		if (rc == -ENOTCONN) {
			fprintf(stderr, PROG ": broker closed the session (restarted, or we were "
				"silent too long)\n");
			return rc;
		}
		if (rc < 0) {
			fprintf(stderr, PROG ": receive failed: %s\n", strerror(-rc));
			return rc;
		}
		if (st->muted && !st->unsubscribed) {
			rc = unsubscribe_all(c, st);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static void
signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	/* No SA_RESTART: the wait must return so the loop sees the flag. */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
main(int argc, char **argv)
{
	struct sub_conf conf = { .host = "127.0.0.1", .port = SL_PROTO_DEFAULT_PORT };
	struct sub_state st = { .conf = &conf };
	struct sl_client_opts opts = { 0 };
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
	signals_setup();
	if (conf.timeout_s)
		deadline = sl_now_ns() + conf.timeout_s * 1000000000u;
	opts.host = conf.host;
	opts.port = conf.port;
	opts.name = PROG;
	rc = sl_client_connect(&c, &opts);
	if (rc < 0) {
		sl_cli_report_connect(PROG, conf.host, conf.port, 0, rc);
		return 1;
	}
	rc = subscribe_all(c, &st);
	if (rc == 0)
		rc = receive(c, &st, deadline);
	sl_client_stats(c, &stats);
	sl_client_close(c);
	if (conf.stats)
		fprintf(stderr, "received %" PRIu64 " gaps %" PRIu64 "\n", st.received, stats.gaps);
	if (rc < 0)
		return 1;
	/* Only a timeout can leave -C short; a signal is a clean exit. */
	if (conf.count && st.printed < conf.count && !stop)
		return 1;
	return 0;
}
