/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt-loadgen: open-loop MQTT 3.1.1 / 5.0 load against any broker; --help and the
 * command line into struct mlg_conf. */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mqtt_loadgen.h"

uint64_t
mlg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * MLG_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: " MLG_NAME " [options]\n"
		"Open-loop MQTT load against any broker (MQTT 3.1.1 or 5.0 over TCP): N publisher\n"
		"and M subscriber connections in one process, one thread, epoll, non-blocking.\n"
		"Publisher k publishes to TOPIC/k (or all to TOPIC/0 with --one-topic); every\n"
		"subscriber subscribes to TOPIC/+ (TOPIC/0) and so receives every message.\n"
		"Packets are encoded and decoded by sluice-mqtt's own codec (gateway/mqtt_codec.h).\n"
		"\n"
		"At a fixed --rate, message j of the run (publisher j %% N, in turn) is due at\n"
		"start + j / rate; a message that could not go out on time (socket full, no\n"
		"in-flight slot) goes out late, never skipped, and its latency still counts from\n"
		"its due time: no coordinated omission. Each payload carries the publisher, a\n"
		"sequence number and the due time (CLOCK_MONOTONIC, this host); a subscriber\n"
		"takes now - due at the PUBLISH's arrival, and counts losses and duplicates.\n"
		"send_late_* says how late the tool itself got messages into the socket buffer:\n"
		"when it grows, the tool (or its CPU) is the bottleneck, not the broker.\n"
		"\n"
		"  -H, --host HOST        broker address (default 127.0.0.1)\n"
		"  -p, --port PORT        broker TCP port (default 1883)\n"
		"  -V, --mqtt-version V   3.1.1 (or 4) or 5 (default 3.1.1)\n"
		"  -P, --publishers N     publisher connections (default 1)\n"
		"  -S, --subscribers M    subscriber connections (default 1); 0: publish only\n"
		"  -q, --qos Q            0, 1 or 2, for PUBLISH and SUBSCRIBE (default 0)\n"
		"  -s, --size BYTES       payload, %zu..%u (default 64)\n"
		"  -r, --rate R           total msgs/s across publishers (default 10000);\n"
		"                         0: as fast as the window and in-flight limit allow\n"
		"                         (latency is then queueing, from the send time)\n"
		"  -d, --duration SEC     measured part of the run (default 5)\n"
		"  -w, --warmup SEC       sent before the measured part, left out of latency\n"
		"                         and rates, not of the counts (default 1)\n"
		"      --drain-ms MS      after sending, wait this long at most for deliveries\n"
		"                         and acks (default 5000; 2 s without progress ends it)\n"
		"      --window N         --rate 0: at most N messages ahead of the slowest\n"
		"                         subscriber's newest (default 1000)\n"
		"      --inflight N       QoS 1/2: unacknowledged publishes per publisher, at\n"
		"                         most (default 1000; v5: also the broker's Receive\n"
		"                         Maximum)\n"
		"  -t, --topic T          topic prefix (default mlg)\n"
		"      --one-topic        every publisher publishes to TOPIC/0, and subscribers\n"
		"                         subscribe to TOPIC/0 itself (no wildcard)\n"
		"  -i, --client-id ID     client id prefix (default mlg)\n"
		"  -u, --username U       CONNECT user name (Sluice: the user)\n"
		"      --password PW      CONNECT password (Sluice: the user's key)\n"
		"      --password-file F  the password is F's first line, or the value of a\n"
		"                         \"key = ...\" line (a Sluice credentials file), whose\n"
		"                         \"user = ...\" also sets --username if not given\n"
		"  -k, --keepalive SEC    keep-alive (default 60; a PINGREQ every half)\n"
		"      --sessions N       instead of a load: make N persistent sessions (client\n"
		"                         ids ID-x0..ID-x<N-1>, clean session 0, v5 session\n"
		"                         expiry 0xFFFFFFFF), each subscribed at QoS 1 to its own\n"
		"                         TOPIC/sess/i, then disconnected: idle stored sessions\n"
		"      --sessions-filter F  --sessions: subscribe to F instead, \"%%u\" in it\n"
		"                         standing for the session's index (one filter for all:\n"
		"                         the cost of a session without that of a topic each)\n"
		"      --sessions-clear   with --sessions N: connect those ids with a clean\n"
		"                         session and disconnect, which ends them\n"
		"      --parallel N       --sessions: connections at once (default 64)\n"
		"      --json             one JSON object on stdout, nothing else\n"
		"      --quiet            no progress on stderr\n"
		"      --help             this text\n"
		"\n"
		"Exit status: 0, 3 when messages were lost (sent but not received by every\n"
		"subscriber, or QoS > 0 not acknowledged), 1 when the run failed, 2 for usage.\n",
		sizeof(struct mlg_payload), MLG_MAX_SIZE);
}

static int
bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, MLG_NAME ": %s '%s': want %s (see --help)\n", opt, val, want);
	return -EINVAL;
}

static int
num(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
		char want[96];

		snprintf(want, sizeof(want), "a number %g..%g", lo, hi);
		return bad(opt, s, want);
	}
	*out = v;
	return 0;
}

/* "user = NAME" / "key = VALUE" of a Sluice credentials file, or a bare first line. */
static int
read_password_file(struct mlg_conf *cf, const char *path)
{
	static char user[256], key[1024], first[1024];
	char line[1024];
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, MLG_NAME ": --password-file %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *v, *nl = strchr(line, '\n');

		if (nl)
			*nl = 0;
		if (!first[0] && line[0] && line[0] != '#')
			snprintf(first, sizeof(first), "%s", line);
		v = strchr(line, '=');
		if (v == NULL)
			continue;
		for (*v++ = 0; *v == ' ' || *v == '\t'; v++)
			;
		if (strncmp(line, "user", 4) == 0)
			snprintf(user, sizeof(user), "%s", v);
		else if (strncmp(line, "key", 3) == 0)
			snprintf(key, sizeof(key), "%s", v);
	}
	fclose(f);
	cf->password = key[0] ? key : first;
	if (cf->username == NULL && user[0])
		cf->username = user;
	return 0;
}

enum {
	O_DRAIN = 256, O_WINDOW, O_INFLIGHT, O_PASSWORD, O_PWFILE, O_SESSIONS, O_SCLEAR,
	O_PARALLEL, O_SFILTER, O_ONE, O_JSON, O_QUIET, O_HELP,
};

static int
parse(int argc, char **argv, struct mlg_conf *cf)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "mqtt-version", required_argument, NULL, 'V' },
		{ "publishers", required_argument, NULL, 'P' },
		{ "subscribers", required_argument, NULL, 'S' },
		{ "qos", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "topic", required_argument, NULL, 't' },
		{ "client-id", required_argument, NULL, 'i' },
		{ "username", required_argument, NULL, 'u' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "drain-ms", required_argument, NULL, O_DRAIN },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "inflight", required_argument, NULL, O_INFLIGHT },
		{ "password", required_argument, NULL, O_PASSWORD },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "sessions", required_argument, NULL, O_SESSIONS },
		{ "sessions-clear", no_argument, NULL, O_SCLEAR },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "sessions-filter", required_argument, NULL, O_SFILTER },
		{ "one-topic", no_argument, NULL, O_ONE },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *pwfile = NULL;
	double v;
	int o, rc = 0;

	*cf = (struct mlg_conf){
		.host = "127.0.0.1", .port = "1883", .version = 4, .pubs = 1, .subs = 1,
		.size = 64, .rate = 10000, .duration_s = 5, .warmup_s = 1, .drain_ms = 5000,
		.window = 1000, .inflight = 1000, .topic = "mlg", .client_id = "mlg",
		.keepalive = 60, .parallel = 64,
	};
	while (rc == 0 && (o = getopt_long(argc, argv, "H:p:V:P:S:q:s:r:d:w:t:i:u:k:", opts,
					   NULL)) != -1) {
		switch (o) {
		case 'H': cf->host = optarg; break;
		case 'p': cf->port = optarg; break;
		case 'V':
			if (!strcmp(optarg, "3.1.1") || !strcmp(optarg, "4"))
				cf->version = 4;
			else if (!strcmp(optarg, "5") || !strcmp(optarg, "5.0"))
				cf->version = 5;
			else
				rc = bad("--mqtt-version", optarg, "3.1.1 or 5");
			break;
		case 'P':
			if ((rc = num("--publishers", optarg, 1, MLG_MAX_CLIENTS, &v)) == 0)
				cf->pubs = (unsigned)v;
			break;
		case 'S':
			if ((rc = num("--subscribers", optarg, 0, MLG_MAX_CLIENTS, &v)) == 0)
				cf->subs = (unsigned)v;
			break;
		case 'q':
			if ((rc = num("--qos", optarg, 0, 2, &v)) == 0)
				cf->qos = (unsigned)v;
			break;
		case 's':
			if ((rc = num("--size", optarg, sizeof(struct mlg_payload), MLG_MAX_SIZE,
				      &v)) == 0)
				cf->size = (uint32_t)v;
			break;
		case 'r': rc = num("--rate", optarg, 0, MLG_MAX_RATE, &cf->rate); break;
		case 'd': rc = num("--duration", optarg, 0.01, 3600, &cf->duration_s); break;
		case 'w': rc = num("--warmup", optarg, 0, 3600, &cf->warmup_s); break;
		case 't': cf->topic = optarg; break;
		case 'i': cf->client_id = optarg; break;
		case 'u': cf->username = optarg; break;
		case 'k':
			if ((rc = num("--keepalive", optarg, 0, 65535, &v)) == 0)
				cf->keepalive = (uint16_t)v;
			break;
		case O_DRAIN:
			if ((rc = num("--drain-ms", optarg, 0, 3600000, &v)) == 0)
				cf->drain_ms = (uint64_t)v;
			break;
		case O_WINDOW:
			if ((rc = num("--window", optarg, 1, 1e9, &v)) == 0)
				cf->window = (uint32_t)v;
			break;
		case O_INFLIGHT:
			if ((rc = num("--inflight", optarg, 1, 65535, &v)) == 0)
				cf->inflight = (uint32_t)v;
			break;
		case O_PASSWORD: cf->password = optarg; break;
		case O_PWFILE: pwfile = optarg; break;
		case O_SESSIONS:
			if ((rc = num("--sessions", optarg, 1, MLG_MAX_SESSIONS, &v)) == 0)
				cf->sessions = (unsigned)v;
			break;
		case O_SCLEAR: cf->sessions_clear = 1; break;
		case O_PARALLEL:
			if ((rc = num("--parallel", optarg, 1, 1000, &v)) == 0)
				cf->parallel = (unsigned)v;
			break;
		case O_SFILTER: cf->sessions_filter = optarg; break;
		case O_ONE: cf->one_topic = 1; break;
		case O_JSON: cf->json = 1; break;
		case O_QUIET: cf->quiet = 1; break;
		case O_HELP: usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (rc == 0 && optind < argc)
		rc = bad("argument", argv[optind], "options only");
	if (rc == 0 && cf->sessions_clear && !cf->sessions)
		rc = bad("--sessions-clear", "", "--sessions N too");
	if (rc == 0 && pwfile)
		rc = read_password_file(cf, pwfile);
	if (rc == 0 && strlen(cf->topic) > 200)
		rc = bad("--topic", cf->topic, "at most 200 bytes");
	return rc;
}

int
main(int argc, char **argv)
{
	static struct mlg_run r; /* two histograms: off the stack */
	struct mlg_conf cf;
	struct rusage ru;
	struct timespec ts;
	uint64_t t0;
	int rc;

	if (parse(argc, argv, &cf) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	/* Wake-ups on time: the default 50 us timer slack would delay every due message. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	r.cf = &cf;
	r.ep = -1;
	r.run_id = (uint32_t)(ts.tv_nsec ^ ((uint32_t)getpid() << 12) ^ (uint32_t)ts.tv_sec);
	sl_hist_init(&r.lat, SL_HIST_SUB_BITS_DEFAULT);
	sl_hist_init(&r.late, SL_HIST_SUB_BITS_DEFAULT);
	if (cf.sessions) {
		rc = mlg_run_sessions(&r);
		if (rc < 0 || r.fail) {
			fprintf(stderr, MLG_NAME ": %s\n", r.fail ? r.fail : "sessions failed");
			return 1;
		}
		return rc;
	}
	t0 = mlg_now_ns();
	mlg_run_load(&r);
	r.wall_s = (double)(mlg_now_ns() - t0) / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	r.cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	return mlg_report(&r);
}
