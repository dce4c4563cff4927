/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-pub: publish messages to a Sluice topic from the command line, like mosquitto_pub. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <common/auth.h>
#include <common/proto.h>
#include <sluice/sluice.h>

#include "cli.h"

#define PROG "sluice-pub"
#define EXIT_USAGE 2
#define EXIT_UNACKED 3		 /* publishes refused, or not acknowledged in time */
#define POLL_EVERY 16		 /* publishes between polls that drain acks */
#define EAGAIN_SLEEP_NS 50000L	 /* back-off when the send buffer is full */

struct pub_conf {
	const char *host;
	uint16_t port;
	const char *shm; /* --shm NAME: shared memory to a local dataplane */
	const char *topic;
	const char *message;
	const char *file;
	const char *credentials; /* --credentials FILE; NULL: from the environment */
	bool encrypt;		 /* --encrypt */
	bool lines;
	bool ack;
	bool quiet;
	uint64_t count;
	uint64_t rate;
	uint32_t timeout_ms;
	uint32_t batch_us;	   /* --batch-us: publishes share datagrams this long */
	uint32_t reconnect_max_ms; /* --reconnect-max: 0 turns reconnecting off */
	const char *producer;	   /* --producer NAME: a stable producer identity */
	const char *key;	   /* --key K (protocol version 4) */
	uint32_t keys;		   /* --keys N: message i's key is KEY<i mod N> */
	struct sl_header hdrs[SL_MAX_HDRS]; /* --header NAME=VALUE, in order */
	char hdr_names[SL_MAX_HDRS][SL_MAX_HDR_NAME + 1];
	unsigned n_hdrs;
};

/* What every publish carries besides its payload: key and headers (set
 * once from the options, before the first publish; with --keys the key
 * changes per message, written into key_buf). */
static struct sl_pub_opts pub_extra;
static char key_buf[SL_MAX_KEY + 1];
static const char *key_base = "k";
static uint32_t key_count;
static uint64_t key_next;

struct pacer {
	uint64_t start_ns;
	uint64_t interval_ns; /* 0: as fast as possible */
	uint64_t sent;
	uint64_t timeout_ns;  /* give up when the window stays full this long */
};

/* The broker's answers, as the library settles them: one call per publish. */
struct answers {
	uint16_t refused_code; /* code of the first refusal, SL_E_NONE if none */
};

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " -t TOPIC (-m TEXT | -f FILE | -l) [options]\n"
		"Publish messages to a Sluice broker over UDP or shared memory.\n\n"
		"  -h, --host HOST       broker address (default 127.0.0.1), or a pair's list,\n"
		"                        HOST[:PORT],HOST[:PORT] (tried in order, followed\n"
		"                        to the primary on failover)\n"
		"  -p, --port PORT       broker UDP port (default %u)\n"
		"      --shm NAME        shared memory to the dataplane NAME on this host\n"
		"                        (its config name, or its socket path) instead of UDP\n"
		"  -t, --topic NAME      topic to publish to; created if missing (required).\n"
		"                        A partitioned topic: each message goes to its key's\n"
		"                        partition (--key, --keys), without a key all to one\n"
		"                        partition of this run\n"
		"  -m, --message TEXT    send TEXT\n"
		"  -f, --file FILE       send the contents of FILE as one message\n"
		"  -l, --stdin-line      send each line of standard input as a message\n"
		"  -n, --count N         send each message N times (default 1)\n"
		"  -r, --rate MSGS_PER_S pace sending; 0 = as fast as possible (default)\n"
		"  -a, --ack             ask for acks and wait for all of them; each publish\n"
		"                        counts once, however many acks come back for it\n"
		"  -q, --quiet           no summary line on success\n"
		"      --timeout MS      wait for the broker's replies (default 2000)\n"
		"      --batch-us US     pack publishes into shared datagrams, each sent at\n"
		"                        most US microseconds after its first (default 0:\n"
		"                        each at once; UDP only)\n"
		"      --header NAME=VALUE  give every message this header (repeatable, up to\n"
		"                        8; NAME: 1..32 of [A-Za-z0-9._-], not starting sl-)\n"
		"      --key KEY         give every message this key (1..64 bytes)\n"
		"      --keys N          rotate over N keys: message i (from 0) gets the key\n"
		"                        KEY<i mod N> (KEY from --key, default \"k\"), so\n"
		"                        key-affinity groups can be tried (1..1000000)\n"
		"      --producer NAME   publish as the producer NAME: with -a, resent\n"
		"                        messages are stored once, across restarts of this\n"
		"                        program too; a newer sluice-pub with the same NAME\n"
		"                        fences this one (default: a new producer per run)\n"
		"      --reconnect-max MS  when the broker goes away, reconnect for up to MS\n"
		"                        (default 30000; 0: fail at once)\n"
		"      --credentials FILE  authenticate with the user and key in FILE\n"
		"                        (\"user = NAME\", \"key = HEX\"; mode 600); default:\n"
		"                        $SLUICE_CREDENTIALS, or $SLUICE_USER and $SLUICE_KEY\n"
		"      --encrypt         ask for an encrypted session (needs credentials;\n"
		"                        UDP: shared memory stays private to this host)\n"
		"      --help            show this help\n\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage error, 3 the broker refused\n"
		"some messages or (with -a) did not acknowledge them all within the\n"
		"timeout; a line on standard error says how many of each.\n",
		SL_PROTO_DEFAULT_PORT);
}

/* --header NAME=VALUE into the next of conf->hdrs: 0, or -1 (reported). */
static int
parse_header(struct pub_conf *conf, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t nlen = eq ? (size_t)(eq - arg) : 0;
	struct sl_header *h = &conf->hdrs[conf->n_hdrs];

	if (conf->n_hdrs == SL_MAX_HDRS) {
		fprintf(stderr, PROG ": --header: at most %u headers\n", SL_MAX_HDRS);
		return -1;
	}
	if (eq == NULL || nlen == 0 || nlen > SL_MAX_HDR_NAME || strlen(eq + 1) > SL_MAX_HDR_VALUE) {
		fprintf(stderr, PROG ": --header '%s': give NAME=VALUE (name 1..%u bytes, value "
			"up to %u)\n", arg, SL_MAX_HDR_NAME, SL_MAX_HDR_VALUE);
		return -1;
	}
	memcpy(conf->hdr_names[conf->n_hdrs], arg, nlen);
	conf->hdr_names[conf->n_hdrs][nlen] = 0;
	h->name = conf->hdr_names[conf->n_hdrs];
	h->value = eq + 1;
	h->value_len = (uint16_t)strlen(eq + 1);
	conf->n_hdrs++;
	return 0;
}

/* Returns 0 to run, 1 after --help, -1 on a usage error (already reported). */
static int
parse_args(int argc, char **argv, struct pub_conf *conf)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "topic", required_argument, NULL, 't' },
		{ "message", required_argument, NULL, 'm' },
		{ "file", required_argument, NULL, 'f' },
		{ "stdin-line", no_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "ack", no_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "credentials", required_argument, NULL, 'K' },
		{ "encrypt", no_argument, NULL, 'E' },
		{ "shm", required_argument, NULL, 'M' },
		{ "batch-us", required_argument, NULL, 'B' },
		{ "producer", required_argument, NULL, 'P' },
		{ "reconnect-max", required_argument, NULL, 'R' },
		{ "header", required_argument, NULL, 'D' },
		{ "key", required_argument, NULL, 'k' },
		{ "keys", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt;
	int rc = 0;

	while ((opt = getopt_long(argc, argv, "h:p:t:m:f:ln:r:aq", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': conf->host = optarg; break;
		case 't': conf->topic = optarg; break;
		case 'm': conf->message = optarg; break;
		case 'f': conf->file = optarg; break;
		case 'l': conf->lines = true; break;
		case 'a': conf->ack = true; break;
		case 'q': conf->quiet = true; break;
		case 'K': conf->credentials = optarg; break;
		case 'E': conf->encrypt = true; break;
		case 'M': conf->shm = optarg; break;
		case 'P': conf->producer = optarg; break;
		case 'D': rc |= parse_header(conf, optarg); break;
		case 'k':
			conf->key = optarg;
			if (strlen(optarg) == 0 || strlen(optarg) > SL_MAX_KEY) {
				fprintf(stderr, PROG ": --key: 1..%u bytes\n", SL_MAX_KEY);
				rc = -1;
			}
			break;
		case 'Y':
			rc |= sl_cli_parse_u64(PROG, "keys", optarg, 1, 1000000, &v);
			conf->keys = (uint32_t)v;
			break;
		case 'B':
			rc |= sl_cli_parse_u64(PROG, "batch-us", optarg, 0, 1000000, &v);
			conf->batch_us = (uint32_t)v;
			break;
		case 'R':
			rc |= sl_cli_parse_u64(PROG, "reconnect-max", optarg, 0, 86400000, &v);
			conf->reconnect_max_ms = (uint32_t)v;
			break;
		case 'p':
			rc |= sl_cli_parse_u64(PROG, "port", optarg, 1, UINT16_MAX, &v);
			conf->port = (uint16_t)v;
			break;
		case 'n': rc |= sl_cli_parse_u64(PROG, "count", optarg, 1, UINT64_MAX, &conf->count); break;
		case 'r': rc |= sl_cli_parse_u64(PROG, "rate", optarg, 0, 1000000000, &conf->rate); break;
		case 'T':
			rc |= sl_cli_parse_u64(PROG, "timeout", optarg, 1, 3600000, &v);
			conf->timeout_ms = (uint32_t)v;
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
	if (conf->topic == NULL) {
		fprintf(stderr, PROG ": no topic: give one with -t NAME\n");
		return -1;
	}
	if ((conf->message != NULL) + (conf->file != NULL) + conf->lines != 1) {
		fprintf(stderr, PROG ": give exactly one of -m TEXT, -f FILE or -l\n");
		return -1;
	}
	/* --keys appends up to 6 digits (N <= 1000000) to the --key base. */
	if (conf->keys != 0 && conf->key != NULL && strlen(conf->key) + 6 > SL_MAX_KEY) {
		fprintf(stderr, PROG ": --key with --keys: at most %u bytes (digits follow)\n",
			SL_MAX_KEY - 6);
		return -1;
	}
	return 0;
}

static void
report_resolve(const struct pub_conf *conf, int rc)
{
	switch (rc) {
	case -EINVAL:
		fprintf(stderr, PROG ": invalid topic name '%s': use 1 to %u printable ASCII "
			"characters without spaces\n", conf->topic, SL_MAX_TOPIC_NAME);
		break;
	case -ENOSPC:
		fprintf(stderr, PROG ": broker's topic table is full; cannot create '%s'\n",
			conf->topic);
		break;
	case -ETIMEDOUT:
		fprintf(stderr, PROG ": broker stopped answering while resolving '%s'\n",
			conf->topic);
		break;
	case -EPERM:
		fprintf(stderr, PROG ": not allowed to look up or create topic '%s' (ACL; "
			"creating a topic needs admin)\n", conf->topic);
		break;
	default:
		fprintf(stderr, PROG ": cannot resolve topic '%s': %s\n", conf->topic,
			strerror(-rc));
		break;
	}
}

static void
report_publish(const struct pub_conf *conf, int rc)
{
	if (rc == -ETIMEDOUT)
		fprintf(stderr, PROG ": broker stopped answering: no acks for %u ms with the "
			"window of %u unacknowledged messages full\n", conf->timeout_ms,
			SL_ACK_WINDOW_DEFAULT);
	else if (rc == -ENOTCONN)
		fprintf(stderr, PROG ": broker closed the session (restarted, or we were "
			"silent too long) and did not come back within %u ms\n",
			conf->reconnect_max_ms);
	else if (rc == -EPERM)
		fprintf(stderr, PROG ": a newer instance of producer '%s' took over: this one "
			"may publish no more\n", conf->producer ? conf->producer : "(this run's)");
	else if (rc == -EMSGSIZE)
		fprintf(stderr, PROG ": message is larger than the broker takes\n");
	else if (rc == -EPROTONOSUPPORT)
		fprintf(stderr, PROG ": the broker speaks protocol version 3: it takes no "
			"--header or --key\n");
	else if (rc == -EINVAL && (conf->n_hdrs || conf->key))
		fprintf(stderr, PROG ": bad --header or --key: names are 1..%u bytes of "
			"[A-Za-z0-9._-], unique, not starting 'sl-' (the broker's); at most %u "
			"bytes of headers and key in all\n", SL_MAX_HDR_NAME, SL_MAX_HDRS_LEN);
	else if (rc == -ECONNREFUSED)
		fprintf(stderr, PROG ": broker at %s:%u went away (port unreachable)\n",
			conf->host, conf->port);
	else
		fprintf(stderr, PROG ": publish failed: %s\n", strerror(-rc));
}

/* Reads all of @path into @buf; at most SL_MAX_MESSAGE bytes, in pieces
 * over one datagram's size (the broker may take less: -EMSGSIZE then). */
static int
read_file(const char *path, char *buf, uint32_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, PROG ": cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, SL_MAX_MESSAGE + 1, f);
	if (ferror(f) || n > SL_MAX_MESSAGE) {
		if (ferror(f))
			fprintf(stderr, PROG ": cannot read '%s': %s\n", path, strerror(errno));
		else
			fprintf(stderr, PROG ": '%s' is larger than one message can carry "
				"(%u bytes)\n", path, SL_MAX_MESSAGE);
		fclose(f);
		return -1;
	}
	fclose(f);
	*len = (uint32_t)n;
	return 0;
}

static void
pace(struct pacer *p)
{
	struct timespec ts;
	uint64_t at;

	if (p->interval_ns == 0)
		return;
	/* Absolute schedule: a late send does not push every later one back. */
	at = p->start_ns + p->sent * p->interval_ns;
	ts.tv_sec = (time_t)(at / 1000000000u);
	ts.tv_nsec = (long)(at % 1000000000u);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * Publish once, waiting out back-pressure. A full window (acks not coming
 * back) is waited out only while the broker settles something at least
 * every timeout: -ETIMEDOUT then.
 */
static int
publish_one(struct sl_client *c, uint32_t topic, const char *data, uint32_t len,
	    uint16_t flags, const struct pacer *p)
{
	const struct timespec backoff = { .tv_sec = 0, .tv_nsec = EAGAIN_SLEEP_NS };
	uint64_t stall_ns = 0, stall_mark = 0;
	struct sl_client_stats st;
	uint64_t full0;
	int rc;

	sl_client_stats(c, &st);
	full0 = st.window_full;
	if (key_count != 0) {
		int n = snprintf(key_buf, sizeof(key_buf), "%s%llu", key_base,
				 (unsigned long long)(key_next++ % key_count));

		pub_extra.key_len = (uint16_t)n; /* fits: checked with the options */
	}
	for (;;) {
		pub_extra.flags = flags;
		pub_extra.timestamp = sl_now_ns();
		rc = sl_client_publish_ex(c, topic, data, len, &pub_extra);
		if (rc != -EAGAIN)
			break;
		sl_client_stats(c, &st);
		if (st.window_full != full0) {
			full0 = st.window_full;
			if (stall_ns == 0 || sl_client_settled(c) != stall_mark) {
				stall_ns = sl_now_ns();
				stall_mark = sl_client_settled(c);
			} else if (sl_now_ns() - stall_ns > p->timeout_ns) {
				return -ETIMEDOUT;
			}
		}
		rc = sl_client_poll(c, NULL, NULL, 64);
		if (rc == -ENOTCONN)
			return rc;
		nanosleep(&backoff, NULL);
	}
	return rc;
}

/* Publish @n copies of one message; back-pressure is waited out, never dropped. */
static int
publish_msg(struct sl_client *c, uint32_t topic, const char *data, uint32_t len, uint64_t n,
	    uint16_t flags, struct pacer *p)
{
	uint64_t i;
	int rc;

	for (i = 0; i < n; i++) {
		pace(p);
		rc = publish_one(c, topic, data, len, flags, p);
		if (rc < 0)
			return rc;
		/* Drain acks and send heartbeats; acks left in the socket buffer
		 * would overflow it on long runs. */
		if (++p->sent % POLL_EVERY == 0) {
			rc = sl_client_poll(c, NULL, NULL, 64);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int
publish_lines(struct sl_client *c, uint32_t topic, const struct pub_conf *conf, uint16_t flags,
	      struct pacer *p)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t lineno = 0;
	int rc = 0;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > SL_MAX_MESSAGE) {
			fprintf(stderr, PROG ": line %" PRIu64 " is %zd bytes; a message holds at "
				"most %u\n", lineno, len, SL_MAX_MESSAGE);
			rc = -EMSGSIZE;
			break;
		}
		rc = publish_msg(c, topic, line, (uint32_t)len, conf->count, flags, p);
		if (rc < 0) {
			report_publish(conf, rc);
			break;
		}
	}
	free(line);
	return rc;
}

/* What happens to the session, on standard error as it happens. */
static void
on_event(void *arg, const struct sl_event *ev)
{
	const struct pub_conf *conf = arg;

	switch (ev->type) {
	case SL_EV_DISCONNECTED:
		fprintf(stderr, PROG ": lost the broker (%s); reconnecting\n",
			ev->error != SL_E_NONE ? sl_error_code_str(ev->error) : "no answer");
		break;
	case SL_EV_RECONNECTED:
		if (!conf->quiet)
			fprintf(stderr, PROG ": reconnected; unacknowledged messages sent again\n");
		break;
	case SL_EV_INCARNATION:
		if (!conf->quiet)
			fprintf(stderr, PROG ": the broker restarted\n");
		break;
	case SL_EV_FENCED:
		fprintf(stderr, PROG ": fenced: a newer instance of this producer took over\n");
		break;
	case SL_EV_SESSION_REVOKED:
		fprintf(stderr, PROG ": the broker ended the session: %s\n",
			sl_cli_revoked_why(ev->error));
		break;
	default:
		break;
	}
}

static void
on_settle(void *arg, uint64_t pub_seq, uint32_t topic_id, uint16_t error)
{
	struct answers *a = arg;

	(void)pub_seq;
	(void)topic_id;
	if (error != SL_E_NONE && a->refused_code == SL_E_NONE)
		a->refused_code = error;
}

/*
 * Wait until every publish is settled (acknowledged or refused, each once,
 * by the library's count: repeated or stray acks count for nothing) or the
 * timeout passes.
 */
static void
wait_acks(struct sl_client *c, uint32_t timeout_ms)
{
	uint64_t deadline = sl_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct sl_client_stats st;

	for (;;) {
		sl_client_stats(c, &st);
		if (st.pub_outstanding == 0 || sl_now_ns() >= deadline ||
		    sl_client_wait(c, NULL, NULL, 64, 10) == -ENOTCONN)
			return;
	}
}

/* Why the broker refused publishes: the first refusal's code, in words. */
static void
report_refused(const struct pub_conf *conf, const struct sl_client_stats *st, uint16_t code)
{
	const char *hint = code == SL_E_UNKNOWN_TOPIC ? " (topic removed?)" : "";

	if (code == SL_E_DENIED)
		fprintf(stderr, PROG ": not allowed to publish to '%s' (ACL): %" PRIu64 " of %"
			PRIu64 " messages refused\n", conf->topic, st->publish_refused,
			st->published);
	else if (code == SL_E_ENCRYPTION_REQUIRED)
		fprintf(stderr, PROG ": topic '%s' takes only encrypted sessions (publish with "
			"--encrypt): %" PRIu64 " of %" PRIu64 " messages refused\n", conf->topic,
			st->publish_refused, st->published);
	else if (conf->ack)
		fprintf(stderr, PROG ": %" PRIu64 " of %" PRIu64 " messages were not acknowledged: "
			"%s%s\n", st->publish_refused, st->published, sl_error_code_str(code),
			hint);
	else
		fprintf(stderr, PROG ": broker refused %" PRIu64 " of %" PRIu64 " messages to '%s': "
			"%s%s\n", st->publish_refused, st->published, conf->topic,
			sl_error_code_str(code), hint);
}

static int
run(struct sl_client *c, const struct pub_conf *conf, const struct answers *ans)
{
	static char buf[SL_MAX_MESSAGE + 1];
	struct pacer p = { .start_ns = sl_now_ns(),
			   .timeout_ns = (uint64_t)conf->timeout_ms * 1000000u };
	uint16_t flags = conf->ack ? SL_PUB_F_ACK_REQ : 0;
	struct sl_client_stats st;
	uint32_t topic, len;
	uint64_t missing;
	int rc;

	rc = sl_client_resolve(c, conf->topic, 1, &topic);
	if (rc < 0) {
		report_resolve(conf, rc);
		return 1;
	}
	if (conf->rate)
		p.interval_ns = 1000000000u / conf->rate;
	if (conf->lines) {
		rc = publish_lines(c, topic, conf, flags, &p);
	} else {
		if (conf->message != NULL) {
			len = (uint32_t)strnlen(conf->message, SL_MAX_MESSAGE + 1);
			memcpy(buf, conf->message, len);
		} else if (read_file(conf->file, buf, &len) < 0) {
			return 1;
		}
		if (len > SL_MAX_MESSAGE) {
			fprintf(stderr, PROG ": message is longer than %u bytes\n", SL_MAX_MESSAGE);
			return 1;
		}
		rc = publish_msg(c, topic, buf, len, conf->count, flags, &p);
		if (rc < 0)
			report_publish(conf, rc);
	}
	(void)sl_client_flush(c); /* the last batch; a full buffer: the next poll */
	if (conf->ack && rc != -ETIMEDOUT)
		wait_acks(c, conf->timeout_ms);
	else
		(void)sl_client_poll(c, NULL, NULL, 64); /* pick up early refusals */
	sl_client_stats(c, &st);
	missing = st.pub_outstanding; /* 0 without -a: nothing asked for an ACK */
	if (st.publish_refused)
		report_refused(conf, &st, ans->refused_code);
	if (missing)
		fprintf(stderr, PROG ": %" PRIu64 " of %" PRIu64 " messages were not acknowledged "
			"within %u ms\n", missing, st.published, conf->timeout_ms);
	if (missing || st.publish_refused)
		fprintf(stderr, PROG ": %" PRIu64 " published to '%s', %" PRIu64 " acknowledged, %"
			PRIu64 " refused, %" PRIu64 " unanswered\n", st.published, conf->topic,
			st.pub_acked, st.publish_refused, missing);
	else if (!conf->quiet && rc == 0)
		fprintf(stderr, PROG ": %" PRIu64 " published to '%s' (topic %u), %" PRIu64
			" acked, %" PRIu64 " send retries\n", st.published, conf->topic, topic,
			st.pub_acked, st.publish_eagain);
	if (st.acks_ignored && !conf->quiet)
		fprintf(stderr, PROG ": %" PRIu64 " repeated or stray acks ignored\n",
			st.acks_ignored);
	if ((st.resent || st.reconnects) && !conf->quiet)
		fprintf(stderr, PROG ": %" PRIu64 " sent again for want of an ack (%" PRIu64
			" already stored), %" PRIu64 " reconnects\n", st.resent, st.dup_acks,
			st.reconnects);
	if (rc < 0 && rc != -ETIMEDOUT)
		return 1;
	return missing || st.publish_refused ? EXIT_UNACKED : 0;
}

int
main(int argc, char **argv)
{
	struct pub_conf conf = {
		.host = "127.0.0.1",
		.port = SL_PROTO_DEFAULT_PORT,
		.count = 1,
		.timeout_ms = 2000,
		.reconnect_max_ms = 30000,
	};
	struct sl_client_opts opts = { 0 };
	struct answers ans = { SL_E_NONE };
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	uint16_t code = SL_E_NONE;
	struct sl_client *c;
	int rc;

	rc = parse_args(argc, argv, &conf);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "Try '" PROG " --help' for more information.\n");
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	opts.host = conf.host;
	opts.shm = conf.shm;
	opts.port = conf.port;
	opts.name = PROG;
	opts.timeout_ms = conf.timeout_ms;
	opts.last_error = &code;
	opts.on_settle = on_settle;
	opts.settle_arg = &ans;
	opts.on_event = on_event;
	opts.event_arg = &conf;
	opts.flush_us = conf.batch_us;
	opts.producer = conf.producer;
	opts.no_reconnect = conf.reconnect_max_ms == 0;
	opts.reconnect_max_ms = conf.reconnect_max_ms;
	if (sl_cli_credentials(PROG, &opts, conf.credentials, user, key) < 0 ||
	    sl_cli_encrypt(PROG, &opts, conf.encrypt) < 0)
		return 1;
	rc = sl_client_connect(&c, &opts);
	explicit_bzero(key, sizeof(key));
	if (rc < 0) {
		if (!sl_cli_report_attach(PROG, conf.shm, rc))
			sl_cli_report_connect(PROG, conf.host, conf.port, conf.timeout_ms, opts.user, code,
				      rc);
		return 1;
	}
	pub_extra.key = conf.key;
	pub_extra.key_len = conf.key ? (uint16_t)strlen(conf.key) : 0;
	if (conf.keys != 0) {
		key_base = conf.key ? conf.key : "k";
		key_count = conf.keys;
		pub_extra.key = key_buf;
	}
	pub_extra.hdrs = conf.hdrs;
	pub_extra.n_hdrs = (uint16_t)conf.n_hdrs;
	rc = run(c, &conf, &ans);
	sl_client_close(c);
	return rc;
}
