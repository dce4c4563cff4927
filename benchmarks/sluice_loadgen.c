/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-loadgen: open-loop publish/subscribe load against a broker, with latency percentiles. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <common/auth.h>
#include <common/proto.h>
#include <common/shm.h>
#include <sluice/sluice.h>

#include "cli.h"

#include "hist.h"
#include "tsc.h"

#define LG_NAME "sluice-loadgen"
#define LG_MAX_CLIENTS 1000u	  /* per role; each is a socket with its own buffers */
#define LG_MAX_TOPICS 1000u
#define LG_MAX_RATE 1e8		  /* total msgs/s; a UDP loop in one thread is far below */
#define LG_MAX_DURATION_S 86400.0
#define LG_BITMAP_MAX (512ull << 20) /* bytes of duplicate/loss tracking we accept */
/* With --rate 0 and no --count, the quota assumes at most this rate per publisher
 * (over shared memory a publish is tens of ns, not microseconds). */
#define LG_ASAP_RATE_CAP 5e6
#define LG_ASAP_RATE_CAP_SHM 5e7
#define LG_CALIB_NS 50000000L	  /* TSC calibration against CLOCK_MONOTONIC */
/* Default --window over shm at --rate 0: this many bytes of deliveries in a
 * subscriber's ring, a quarter of the dataplane's default 512 KiB ring. */
#define LG_WINDOW_BYTES (128u << 10)
#define LG_BURST 64u		  /* messages per publisher or subscriber per loop pass */
#define LG_SHM_DRAIN_BURSTS 256u  /* shm: subscriber polls per pass, at most */
#define LG_GRACE_NS (10ull * 1000000000ull) /* lateness allowed past the planned end */
#define LG_ASAP_COUNT_LIMIT_NS (60ull * 1000000000ull)
#define LG_PUB_POLL_NS 1000000ull   /* publishers read acks and send heartbeats each ms */
#define LG_PROGRESS_NS 1000000000ull
#define NS_PER_S 1000000000ull

/* Start of every payload; the rest, up to --size, is zero padding. Host byte
 * order: the same process writes and reads it. */
struct lg_payload {
	uint32_t pub;	   /* publisher index */
	uint32_t run;	   /* run id, so traffic from another loadgen is not counted */
	uint64_t index;	   /* message index within the publisher */
	uint64_t sched_ns; /* scheduled send time, CLOCK_MONOTONIC */
};
_Static_assert(sizeof(struct lg_payload) == 24, "payload header is 24 bytes");
_Static_assert(offsetof(struct lg_payload, index) == 8, "index at 8");
_Static_assert(offsetof(struct lg_payload, sched_ns) == 16, "sched_ns at 16");

struct lg_conf {
	const char *host;
	uint16_t port;
	unsigned pubs;
	unsigned subs;
	unsigned topics;
	const char *prefix;
	double rate; /* total msgs/s across publishers; 0: as fast as possible */
	uint32_t size;
	double duration_s;
	int duration_set;
	uint64_t count; /* per publisher; 0: run for the duration */
	uint64_t drain_ms;
	uint64_t warmup_ms;
	int json;
	int quiet;
	const char *credentials; /* --credentials FILE; NULL: from the environment */
	const char *user;	 /* credentials once loaded, for every client; NULL: none */
	const uint8_t *key;
	const char *shm; /* --shm NAME: shared memory to a local dataplane; NULL: UDP */
	int cpu;	 /* --cpu N; -1: not pinned */
	uint64_t window; /* --rate 0: messages ahead of the slowest subscriber; 0: no limit */
	int window_set;
};

struct lg_pub {
	struct sl_client *c;
	uint32_t topic_id;
	uint64_t next; /* index of the next message to send */
};

struct lg_run {
	const struct lg_conf *cf;
	struct lg_pub *pubs;
	struct sl_client **subs;
	uint32_t *topic_ids;
	uint32_t run_id;
	uint64_t quota;	   /* messages each publisher is to send */
	uint64_t words;	   /* bitmap words per (subscriber, publisher) pair */
	uint64_t *bitmap;  /* [sub][pub][words]: one bit per message index */
	uint64_t *hi;	   /* with a window: [sub][pub] highest index delivered + 1 */
	uint64_t *acc;	   /* with a window: [sub] sum of its hi[], how far it has got */
	double ns_per_msg; /* per publisher; 0 when the rate is unbounded */
	uint64_t start_ns;
	uint64_t warmup_end_ns;
	uint64_t stop_ns;     /* hard end of the send phase */
	uint64_t send_end_ns; /* when the send phase did end */
	unsigned cur_sub;     /* subscriber being polled, for the callback */
	uint64_t sent, received, unique, duplicates, foreign, bad, warmup_skipped;
	uint64_t backpressure, gaps, stash_drops;
	uint64_t call_skipped; /* publishes in the warm-up window, not timed */
	uint64_t window;       /* in effect; 0: none */
	uint64_t prog_received, prog_ns;
	double ns_per_tick; /* TSC calibration (1 where there is no TSC) */
	uint64_t tsc_start; /* TSC when the send phase began: no stamp of ours is older */
	struct sl_hist hist;   /* from the due time (the send time with --rate 0) */
	struct sl_hist oneway; /* shared memory: publish (commit) to delivery, TSC */
	struct sl_hist call;   /* time spent inside the publish call */
};

#define LG_NP 6 /* p50, p90, p99, p99.9, p99.99, max */

struct lg_stats {
	uint64_t expected, lost, unsent;
	double send_s, msgs_per_s, pub_per_s;
	uint64_t p[LG_NP];    /* the headline latency: one-way on shm, from due on UDP */
	uint64_t due[LG_NP];  /* from the due (or send) time */
	uint64_t call[LG_NP]; /* inside the publish call */
};

static volatile sig_atomic_t stop_requested;
static uint8_t payload_buf[SL_MAX_PAYLOAD];

static void
on_sigint(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Time stamp counter, or the monotonic clock in ns where there is none. */
static inline uint64_t
lg_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return sl_now_ns();
#endif
}

static inline uint64_t
ticks_to_ns(const struct lg_run *r, uint64_t ticks)
{
	return (uint64_t)((double)ticks * r->ns_per_tick + 0.5);
}

/* The histogram behind p50_ns..max_ns: what the latency target names. */
static const struct sl_hist *
main_hist(const struct lg_run *r)
{
	return r->cf->shm ? &r->oneway : &r->hist;
}

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
		"  --host HOST            broker address (default 127.0.0.1)\n"
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
		"                         publish-to-deliver figure: due_* keys are 0)\n"
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
		"      --cpu N            pin the loadgen to cpu N (keep it off the dataplane's\n"
		"                         worker core)\n"
		"      --window N         with --rate 0 and subscribers: publish at most N\n"
		"                         messages ahead of the slowest subscriber (a lost\n"
		"                         message counts as arrived once a later one does);\n"
		"                         0: no limit. Default over shm: 128 KiB worth of\n"
		"                         deliveries, so that subscribers polled by this same\n"
		"                         thread are not overrun; over UDP: 0\n"
		"  -q, --quiet            no progress line on stderr\n"
		"  -h, --help             this text\n"
		"\n"
		"msgs_per_s is deliveries per second over the send phase (with -S 0, publishes\n"
		"per second); publish_per_s is always publishes per second. Latency and\n"
		"publish-call figures leave out the warm-up window.\n"
		"\n"
		"Exit status: 0 all delivered once (with -S 0: all published), 3 messages lost,\n"
		"duplicated or corrupted, 1 runtime failure (no broker, session lost), 2 bad\n"
		"usage.\n",
		SL_PROTO_DEFAULT_PORT, sizeof(struct lg_payload), SL_MAX_PAYLOAD);
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
		return rc;
	case 'r':
		return parse_double("--rate", arg, 0, LG_MAX_RATE, &cf->rate);
	case 's':
		rc = parse_u64("--size", arg, sizeof(struct lg_payload), SL_MAX_PAYLOAD, &v);
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
	case OPT_DRAIN:
		return parse_u64("--drain-ms", arg, 0, 600000, &cf->drain_ms);
	case OPT_WARMUP:
		return parse_u64("--warmup-ms", arg, 0, 3600000, &cf->warmup_ms);
	}
	return -EINVAL;
}

/* Returns 0 to run, 1 after --help, or -EINVAL for bad usage (message printed). */
static int
parse_args(struct lg_conf *cf, int argc, char **argv)
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
		} else if (opt == '?' || parse_one(cf, opt, optarg) < 0) {
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, LG_NAME ": unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
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

/*
 * Decide how many messages each publisher sends and size the bitmap that
 * catches losses and duplicates. Returns 0, or -E2BIG when the bitmap would
 * be absurd (message printed).
 */
static int
plan_run(struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	double quota, bytes;

	r->ns_per_msg = cf->rate > 0 ? 1e9 * cf->pubs / cf->rate : 0;
	if (cf->count)
		quota = (double)cf->count;
	else if (cf->rate > 0)
		/* indexes whose due time falls inside the duration; index 0 always does */
		quota = fmax(1, ceil(cf->duration_s * 1e9 / r->ns_per_msg));
	else
		quota = ceil(cf->duration_s * (cf->shm ? LG_ASAP_RATE_CAP_SHM : LG_ASAP_RATE_CAP));
	bytes = (double)cf->subs * cf->pubs * ceil(quota / 64) * 8;
	if (bytes > (double)LG_BITMAP_MAX) {
		fprintf(stderr, LG_NAME ": tracking %.0f messages per publisher for %u publishers"
			" x %u subscribers needs %.0f MiB (limit %llu MiB); lower --rate, "
			"--duration, --count, --publishers or --subscribers\n", quota, cf->pubs,
			cf->subs, bytes / (1 << 20), LG_BITMAP_MAX >> 20);
		return -E2BIG;
	}
	r->quota = (uint64_t)quota;
	r->words = (r->quota + 63) / 64;
	if (cf->rate > 0 || cf->subs == 0)
		r->window = 0;
	else if (cf->window_set)
		r->window = cf->window;
	else if (cf->shm)
		r->window = LG_WINDOW_BYTES / sl_shm_rec_bytes((uint32_t)sizeof(struct sl_deliver) +
								cf->size);
	return 0;
}

/* Hard end of the send phase, once start_ns is known. */
static uint64_t
plan_stop(const struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	uint64_t dur = (uint64_t)(cf->duration_s * 1e9);

	if (cf->count == 0)
		/* Late messages may still go out for a while: never skipped, but bounded. */
		return r->start_ns + dur + (cf->rate > 0 ? LG_GRACE_NS : 0);
	if (cf->duration_set)
		return r->start_ns + dur;
	if (cf->rate > 0)
		return r->start_ns + (uint64_t)((double)r->quota * r->ns_per_msg) + LG_GRACE_NS;
	return r->start_ns + LG_ASAP_COUNT_LIMIT_NS;
}

static int
connect_one(const struct lg_conf *cf, const char *name, struct sl_client **out)
{
	uint16_t code = SL_E_NONE;
	struct sl_client_opts o = { .host = cf->host, .port = cf->port, .name = name,
				    .user = cf->user, .key = cf->key, .last_error = &code,
				    .shm = cf->shm };
	int rc;

	rc = sl_client_connect(out, &o);
	if (rc < 0 && !sl_cli_report_attach(LG_NAME, cf->shm, rc))
		sl_cli_report_connect(LG_NAME, cf->host, cf->port, 0, cf->user, code, rc);
	return rc;
}

static int
connect_all(struct lg_run *r)
{
	char name[SL_CLIENT_NAME_LEN];
	unsigned i;
	int rc;

	for (i = 0; i < r->cf->pubs; i++) {
		snprintf(name, sizeof(name), "loadgen-pub-%u", i);
		rc = connect_one(r->cf, name, &r->pubs[i].c);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < r->cf->subs; i++) {
		snprintf(name, sizeof(name), "loadgen-sub-%u", i);
		rc = connect_one(r->cf, name, &r->subs[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Create the topics, point each publisher at one, subscribe everyone to all. */
static int
setup_topics(struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	char name[SL_MAX_TOPIC_NAME + 16];
	unsigned k, j;
	int rc;

	for (k = 0; k < cf->topics; k++) {
		snprintf(name, sizeof(name), "%s.%u", cf->prefix, k);
		rc = sl_client_resolve(r->pubs[0].c, name, 1, &r->topic_ids[k]);
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": creating topic '%s' failed: %s%s\n", name,
				strerror(-rc), rc == -ENOSPC ? " (broker's topic table full)" :
				rc == -EPERM ? " (ACL; creating a topic needs admin)" : "");
			return rc;
		}
	}
	for (k = 0; k < cf->pubs; k++)
		r->pubs[k].topic_id = r->topic_ids[k % cf->topics];
	for (j = 0; j < cf->subs; j++) {
		for (k = 0; k < cf->topics; k++) {
			rc = sl_client_subscribe(r->subs[j], r->topic_ids[k]);
			if (rc < 0) {
				fprintf(stderr, LG_NAME ": subscriber %u cannot subscribe to %s.%u: "
					"%s%s\n", j, cf->prefix, k, strerror(-rc),
					rc == -ENOSPC ? " (topic's subscriber table full)" :
					rc == -EPERM ? " (ACL)" : "");
				return rc;
			}
		}
	}
	return 0;
}

/* Is the message's timestamp the one its publisher gave it? Over UDP that
 * is the due time; over shared memory a TSC stamp from this run, not later
 * than @tsc (when it arrived). */
static int
stamp_ok(const struct lg_run *r, const struct sl_message *m, const struct lg_payload *pl,
	 uint64_t tsc)
{
	if (r->cf->shm)
		return m->timestamp >= r->tsc_start && m->timestamp <= tsc;
	return m->timestamp == pl->sched_ns;
}

/* How far subscriber r->cur_sub has got into publisher @pub's stream, for
 * the window: a later message stands for the lost ones before it. */
static inline void
window_note(struct lg_run *r, uint32_t pub, uint64_t index)
{
	uint64_t *h = &r->hi[(uint64_t)r->cur_sub * r->cf->pubs + pub];

	if (index + 1 > *h) {
		r->acc[r->cur_sub] += index + 1 - *h;
		*h = index + 1;
	}
}

/* Messages the publishers may send now without running more than the
 * window ahead of the slowest subscriber; UINT64_MAX without a window. */
static uint64_t
window_room(const struct lg_run *r)
{
	uint64_t least = UINT64_MAX;
	unsigned j;

	if (r->window == 0)
		return UINT64_MAX;
	for (j = 0; j < r->cf->subs; j++)
		if (r->acc[j] < least)
			least = r->acc[j];
	return r->sent - least >= r->window ? 0 : r->window - (r->sent - least);
}

/* Delivery to subscriber r->cur_sub: check it, mark it, time it. */
static void
on_deliver(void *arg, const struct sl_message *m)
{
	struct lg_run *r = arg;
	/* TSC first: the one-way figure should end as soon as the message is ours. */
	uint64_t tsc = lg_ticks(), now, bit, *w;
	struct lg_payload pl;

	/* On shm at --rate 0 the from-send figure is not kept (usage): spare the clock read. */
	now = r->cf->shm && r->ns_per_msg == 0 ? 0 : sl_now_ns();
	if (m->len < sizeof(pl)) {
		r->foreign++;
		return;
	}
	memcpy(&pl, m->data, sizeof(pl));
	if (pl.run != r->run_id || pl.pub >= r->cf->pubs || pl.index >= r->quota) {
		r->foreign++;
		return;
	}
	/* Ours, but not as sent: the broker mangled length, topic or timestamp. */
	if (m->len != r->cf->size || !stamp_ok(r, m, &pl, tsc) ||
	    m->topic_id != r->pubs[pl.pub].topic_id)
		r->bad++;
	r->received++;
	w = &r->bitmap[((uint64_t)r->cur_sub * r->cf->pubs + pl.pub) * r->words + pl.index / 64];
	bit = UINT64_C(1) << (pl.index % 64);
	if (*w & bit) {
		r->duplicates++;
		return;
	}
	*w |= bit;
	r->unique++;
	if (r->window)
		window_note(r, pl.pub, pl.index);
	if (pl.sched_ns < r->warmup_end_ns) {
		r->warmup_skipped++;
		return;
	}
	if (r->cf->shm && m->timestamp >= r->tsc_start && m->timestamp <= tsc)
		sl_hist_record(&r->oneway, ticks_to_ns(r, tsc - m->timestamp));
	if (now)
		sl_hist_record(&r->hist, now > pl.sched_ns ? now - pl.sched_ns : 0);
}

/* Publishers are subscribed to nothing; poll them only for acks and heartbeats. */
static void
on_pub_deliver(void *arg, const struct sl_message *m)
{
	(void)arg;
	(void)m;
}

/*
 * Due time of publisher @p's next message; the send time when rate is 0:
 * over UDP read per message, over shared memory @now (the pass's start),
 * since a clock read per message would cost about as much as the publish.
 */
static uint64_t
due_ns(const struct lg_run *r, const struct lg_pub *p, uint64_t now)
{
	if (r->ns_per_msg == 0)
		return r->cf->shm ? now : sl_now_ns();
	return r->start_ns + (uint64_t)((double)p->next * r->ns_per_msg);
}

/*
 * One publish of payload_buf through the API, timed into r->call when
 * @timed. Over shared memory: claim, copy, commit, with the TSC stamp taken
 * as late as it can be, just before the commit; over UDP a plain publish
 * with the due time as timestamp. Returns what the API returned.
 */
static int
pub_one(struct lg_run *r, struct lg_pub *p, uint64_t sched_ns, int timed)
{
	uint32_t len = r->cf->size;
	uint64_t t0, t1;
	void *d;
	int rc;

	t0 = lg_ticks();
	if (r->cf->shm) {
		rc = sl_client_claim(p->c, p->topic_id, len, &d);
		if (rc < 0)
			return rc;
		memcpy(d, payload_buf, len);
		rc = sl_client_commit(p->c, lg_ticks(), 0);
	} else {
		rc = sl_client_publish(p->c, p->topic_id, payload_buf, len, sched_ns, 0);
	}
	t1 = lg_ticks();
	if (rc == 0 && timed)
		sl_hist_record(&r->call, ticks_to_ns(r, t1 - t0));
	else if (rc == 0)
		r->call_skipped++;
	return rc;
}

/* Send publisher @p's messages that are due by @now, up to a burst and
 * *@room (counted down). Returns 0 or a -errno other than -EAGAIN (which
 * just ends the burst). */
static int
pub_send_due(struct lg_run *r, struct lg_pub *p, unsigned idx, uint64_t now, uint64_t *room)
{
	struct lg_payload pl = { .pub = idx, .run = r->run_id };
	unsigned n;
	int rc;

	for (n = 0; n < LG_BURST && p->next < r->quota && *room > 0; n++) {
		pl.sched_ns = due_ns(r, p, now);
		if (r->ns_per_msg > 0 && pl.sched_ns > now)
			break;
		pl.index = p->next;
		memcpy(payload_buf, &pl, sizeof(pl));
		rc = pub_one(r, p, pl.sched_ns, pl.sched_ns >= r->warmup_end_ns);
		if (rc == -EAGAIN) {
			/* Stays due: retried next pass, and its latency will show the wait. */
			r->backpressure++;
			break;
		}
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": publisher %u: publish failed: %s\n", idx,
				strerror(-rc));
			return rc;
		}
		p->next++;
		r->sent++;
		(*room)--;
	}
	return 0;
}

/*
 * Over shared memory each subscriber is drained (up to LG_SHM_DRAIN_BURSTS
 * bursts) before the publishers go again: an empty poll costs nanoseconds
 * there, and a publisher in the same thread would otherwise outrun its own
 * subscribers at --rate 0 until their rings overflow. Over UDP one burst,
 * as a poll costs a system call.
 */
static int
poll_subs(struct lg_run *r)
{
	unsigned j, k, bursts = r->cf->shm ? LG_SHM_DRAIN_BURSTS : 1;
	int rc;

	for (j = 0; j < r->cf->subs; j++) {
		r->cur_sub = j;
		k = 0;
		do
			rc = sl_client_poll(r->subs[j], on_deliver, r, LG_BURST);
		while (rc > 0 && ++k < bursts);
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": subscriber %u: %s\n", j,
				rc == -ENOTCONN ? "broker dropped the session" : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int
poll_pubs(struct lg_run *r)
{
	unsigned k;
	int rc;

	for (k = 0; k < r->cf->pubs; k++) {
		rc = sl_client_poll(r->pubs[k].c, on_pub_deliver, NULL, LG_BURST);
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": publisher %u: %s\n", k,
				rc == -ENOTCONN ? "broker dropped the session" : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void
progress(struct lg_run *r, uint64_t now)
{
	double dt = (double)(now - r->prog_ns) / 1e9;

	fprintf(stderr, LG_NAME ": %6.1fs sent %" PRIu64 " received %" PRIu64
		" rate %.0f/s p99 %.2f us\n", (double)(now - r->start_ns) / 1e9, r->sent,
		r->received, dt > 0 ? (double)(r->received - r->prog_received) / dt : 0.0,
		(double)sl_hist_percentile(main_hist(r), 99) / 1e3);
	r->prog_received = r->received;
	r->prog_ns = now;
}

/* Work that both phases do each pass: receive, keep publishers alive, report. */
static int
loop_service(struct lg_run *r, uint64_t now, uint64_t *next_pub_poll, uint64_t *next_prog)
{
	int rc;

	rc = poll_subs(r);
	if (rc < 0)
		return rc;
	if (now >= *next_pub_poll) {
		rc = poll_pubs(r);
		if (rc < 0)
			return rc;
		*next_pub_poll = now + LG_PUB_POLL_NS;
	}
	if (now >= *next_prog) {
		if (!r->cf->quiet && !r->cf->json)
			progress(r, now);
		*next_prog += LG_PROGRESS_NS;
	}
	return 0;
}

/* Busy-polls: a sleeping loop would add its wake-up latency to every figure. */
static int
run_send_phase(struct lg_run *r)
{
	uint64_t now, next_pub_poll, next_prog, room;
	unsigned k;
	int rc = 0, busy;

	r->tsc_start = lg_ticks();
	r->start_ns = sl_now_ns();
	r->warmup_end_ns = r->start_ns + r->cf->warmup_ms * 1000000ull;
	r->stop_ns = plan_stop(r);
	r->prog_ns = r->start_ns;
	next_pub_poll = r->start_ns + LG_PUB_POLL_NS;
	next_prog = r->start_ns + LG_PROGRESS_NS;
	for (;;) {
		now = sl_now_ns();
		if (now >= r->stop_ns || stop_requested)
			break;
		busy = 0;
		room = window_room(r);
		for (k = 0; k < r->cf->pubs; k++) {
			rc = pub_send_due(r, &r->pubs[k], k, now, &room);
			if (rc < 0)
				goto out;
			busy |= r->pubs[k].next < r->quota;
		}
		if (!busy)
			break;
		rc = loop_service(r, now, &next_pub_poll, &next_prog);
		if (rc < 0)
			goto out;
	}
out:
	r->send_end_ns = sl_now_ns();
	return rc;
}

/* Keep receiving for the drain period, or until every copy has arrived. */
static int
run_drain_phase(struct lg_run *r)
{
	uint64_t now, next_pub_poll = 0, next_prog, end;
	uint64_t expected = r->sent * r->cf->subs;
	int rc;

	now = sl_now_ns();
	end = now + r->cf->drain_ms * 1000000ull;
	next_prog = r->prog_ns + LG_PROGRESS_NS;
	while (now < end && r->unique < expected && !stop_requested) {
		rc = loop_service(r, now, &next_pub_poll, &next_prog);
		if (rc < 0)
			return rc;
		now = sl_now_ns();
	}
	return 0;
}

/* p50, p90, p99, p99.9, p99.99 and max of @h into @out. */
static void
percentiles(const struct sl_hist *h, uint64_t out[LG_NP])
{
	static const double ps[LG_NP - 1] = { 50, 90, 99, 99.9, 99.99 };
	unsigned i;

	for (i = 0; i < LG_NP - 1; i++)
		out[i] = sl_hist_percentile(h, ps[i]);
	out[LG_NP - 1] = sl_hist_max(h);
}

static void
collect_stats(struct lg_run *r, struct lg_stats *st)
{
	struct sl_client_stats cs;
	unsigned i;

	for (i = 0; i < r->cf->subs; i++) {
		sl_client_stats(r->subs[i], &cs);
		r->gaps += cs.gaps;
		r->stash_drops += cs.stash_drops;
	}
	st->expected = r->sent * r->cf->subs;
	st->lost = st->expected > r->unique ? st->expected - r->unique : 0;
	/* With --rate 0 and no --count the quota is only a cap, not a plan. */
	st->unsent = 0;
	if (r->cf->rate > 0 || r->cf->count)
		st->unsent = r->quota * r->cf->pubs - r->sent;
	st->send_s = (double)(r->send_end_ns - r->start_ns) / 1e9;
	st->pub_per_s = st->send_s > 0 ? (double)r->sent / st->send_s : 0;
	st->msgs_per_s = st->send_s > 0 ? (double)r->received / st->send_s : 0;
	if (r->cf->subs == 0)
		st->msgs_per_s = st->pub_per_s; /* nothing is delivered: the publish rate */
	percentiles(main_hist(r), st->p);
	percentiles(&r->hist, st->due);
	percentiles(&r->call, st->call);
}

/* Which latency p50_ns..max_ns carry. */
static const char *
latency_kind(const struct lg_run *r)
{
	if (r->cf->shm)
		return "publish-to-deliver";
	return r->cf->rate > 0 ? "from-due" : "from-send";
}

static void
report_json(const struct lg_run *r, const struct lg_stats *st)
{
	const struct lg_conf *cf = r->cf;

	printf("{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"duplicates\":%" PRIu64 ",\"msgs_per_s\":%.1f,\"p50_ns\":%" PRIu64
	       ",\"p90_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64 ",\"p999_ns\":%" PRIu64
	       ",\"p9999_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 ",\"expected\":%" PRIu64
	       ",\"unique\":%" PRIu64 ",\"unsent\":%" PRIu64 ",\"backpressure\":%" PRIu64
	       ",\"gaps\":%" PRIu64 ",\"stash_drops\":%" PRIu64 ",\"foreign\":%" PRIu64
	       ",\"corrupt\":%" PRIu64 ",\"latency_samples\":%" PRIu64 ",\"mean_ns\":%.0f"
	       ",\"publishers\":%u,\"subscribers\":%u,\"topics\":%u,\"size\":%u"
	       ",\"rate\":%.0f,\"send_s\":%.3f",
	       r->sent, r->received, st->lost, r->duplicates, st->msgs_per_s, st->p[0], st->p[1],
	       st->p[2], st->p[3], st->p[4], st->p[5], st->expected, r->unique, st->unsent,
	       r->backpressure, r->gaps, r->stash_drops, r->foreign, r->bad,
	       sl_hist_count(main_hist(r)), sl_hist_mean(main_hist(r)), cf->pubs, cf->subs,
	       cf->topics, cf->size, cf->rate, st->send_s);
	/* Added keys go after the old ones, whose order readers may rely on. */
	printf(",\"transport\":\"%s\",\"latency\":\"%s\",\"publish_per_s\":%.1f"
	       ",\"due_p50_ns\":%" PRIu64 ",\"due_p90_ns\":%" PRIu64 ",\"due_p99_ns\":%" PRIu64
	       ",\"due_p999_ns\":%" PRIu64 ",\"due_p9999_ns\":%" PRIu64 ",\"due_max_ns\":%" PRIu64
	       ",\"due_samples\":%" PRIu64 ",\"publish_call_p50_ns\":%" PRIu64
	       ",\"publish_call_p90_ns\":%" PRIu64 ",\"publish_call_p99_ns\":%" PRIu64
	       ",\"publish_call_p999_ns\":%" PRIu64 ",\"publish_call_p9999_ns\":%" PRIu64
	       ",\"publish_call_max_ns\":%" PRIu64 ",\"publish_call_samples\":%" PRIu64
	       ",\"tsc_ns_per_tick\":%.6f,\"window\":%" PRIu64 "}\n",
	       cf->shm ? "shm" : "udp", latency_kind(r), st->pub_per_s, st->due[0], st->due[1],
	       st->due[2], st->due[3], st->due[4], st->due[5], sl_hist_count(&r->hist),
	       st->call[0], st->call[1], st->call[2], st->call[3], st->call[4], st->call[5],
	       sl_hist_count(&r->call), r->ns_per_tick, r->window);
}

/* "TITLE; N samples, M in warm-up left out)" and the percentiles, in units of @div ns. */
static void
report_text_pcts(const char *title, const struct sl_hist *h, const uint64_t p[LG_NP],
		 double div, uint64_t skipped)
{
	static const char *const names[LG_NP] = { "p50", "p90", "p99", "p99.9", "p99.99",
						  "max" };
	unsigned i;

	printf("%s; %" PRIu64 " samples, %" PRIu64 " in warm-up left out)\n", title,
	       sl_hist_count(h), skipped);
	for (i = 0; i < LG_NP; i++)
		printf("  %-7s %10.*f\n", names[i], div > 1 ? 2 : 0, (double)p[i] / div);
}

static void
report_text(const struct lg_run *r, const struct lg_stats *st)
{
	const struct lg_conf *cf = r->cf;
	char title[160];

	printf("%u publisher(s), %u subscriber(s), %u topic(s), %u-byte payloads, %s, send "
	       "phase %.2f s\n", cf->pubs, cf->subs, cf->topics, cf->size,
	       cf->shm ? "shared memory" : "UDP", st->send_s);
	if (cf->rate > 0)
		printf("target rate   %.0f msgs/s\n", cf->rate);
	else if (r->window)
		printf("target rate   unbounded, at most %" PRIu64 " messages ahead of the "
		       "slowest subscriber\n", r->window);
	else
		printf("target rate   unbounded\n");
	printf("sent          %" PRIu64 "\n", r->sent);
	printf("received      %" PRIu64 "\n", r->received);
	printf("expected      %" PRIu64 "\n", st->expected);
	printf("lost          %" PRIu64 "\n", st->lost);
	printf("duplicates    %" PRIu64 "\n", r->duplicates);
	printf("msgs_per_s    %.1f%s\n", st->msgs_per_s, cf->subs ? "" : " (published: no "
	       "subscribers)");
	printf("publish_per_s %.1f\n", st->pub_per_s);
	printf("backpressure  %" PRIu64 "\n", r->backpressure);
	printf("gaps          %" PRIu64 "\n", r->gaps);
	if (st->unsent)
		printf("unsent        %" PRIu64 " (send phase ended before they went out)\n",
		       st->unsent);
	if (r->bad)
		printf("corrupt       %" PRIu64 " (length, topic or timestamp changed)\n", r->bad);
	if (r->foreign)
		printf("foreign       %" PRIu64 " (not from this run, ignored)\n", r->foreign);
	if (cf->shm)
		report_text_pcts("latency (us, publish to deliver, TSC stamp at commit",
				 &r->oneway, st->p, 1e3, r->warmup_skipped);
	if (!cf->shm || cf->rate > 0) {
		snprintf(title, sizeof(title), "latency (us, from %s",
			 cf->rate > 0 ? "scheduled time" : "send time");
		report_text_pcts(title, &r->hist, st->due, 1e3, r->warmup_skipped);
	}
	report_text_pcts(cf->shm ? "publish call (ns, claim+copy+commit" :
			 "publish call (ns, sl_client_publish", &r->call, st->call, 1,
			 r->call_skipped);
}

static int
run_alloc(struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;

	r->pubs = calloc(cf->pubs, sizeof(*r->pubs));
	r->subs = calloc(cf->subs ? cf->subs : 1, sizeof(*r->subs));
	r->topic_ids = calloc(cf->topics, sizeof(*r->topic_ids));
	r->bitmap = calloc((size_t)cf->subs * cf->pubs * r->words + 1, sizeof(*r->bitmap));
	if (r->window) {
		r->hi = calloc((size_t)cf->subs * cf->pubs, sizeof(*r->hi));
		r->acc = calloc(cf->subs, sizeof(*r->acc));
	}
	if (!r->pubs || !r->subs || !r->topic_ids || !r->bitmap ||
	    (r->window && (!r->hi || !r->acc))) {
		fprintf(stderr, LG_NAME ": out of memory\n");
		return -ENOMEM;
	}
	/* Touch the bitmap now (it may be tens of MiB at --rate 0 over shm), so
	 * its page faults do not land in the send phase. */
	memset(r->bitmap, 0, ((size_t)cf->subs * cf->pubs * r->words + 1) * sizeof(*r->bitmap));
	/* Any value that differs between runs will do; it only tells runs apart. */
	r->run_id = (uint32_t)(sl_now_ns() ^ ((uint64_t)getpid() << 16)) | 1u;
	r->ns_per_tick = sl_tsc_ns_per_tick(LG_CALIB_NS);
	if (sl_hist_init(&r->hist, SL_HIST_SUB_BITS_DEFAULT) < 0 ||
	    sl_hist_init(&r->oneway, SL_HIST_SUB_BITS_DEFAULT) < 0)
		return -EINVAL;
	return sl_hist_init(&r->call, SL_HIST_SUB_BITS_DEFAULT);
}

static void
run_free(struct lg_run *r)
{
	unsigned i;

	for (i = 0; r->pubs && i < r->cf->pubs; i++)
		sl_client_close(r->pubs[i].c);
	for (i = 0; r->subs && i < r->cf->subs; i++)
		sl_client_close(r->subs[i]);
	free(r->pubs);
	free(r->subs);
	free(r->topic_ids);
	free(r->bitmap);
	free(r->hi);
	free(r->acc);
	free(r);
}

/* First ^C ends the send phase early and still reports; a second one kills. */
static void
install_sigint(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Publishes the broker refused (seen as ERRORs by the publishers' polls). */
static void
report_refused(const struct lg_run *r)
{
	struct sl_client_stats cs;
	unsigned k;

	for (k = 0; k < r->cf->pubs; k++) {
		sl_client_stats(r->pubs[k].c, &cs);
		if (cs.publish_refused == 0)
			continue;
		if (cs.last_error == SL_E_DENIED)
			fprintf(stderr, LG_NAME ": publisher %u: not allowed to publish to '%s.%u' "
				"(ACL): %" PRIu64 " messages refused\n", k, r->cf->prefix,
				k % r->cf->topics, cs.publish_refused);
		else
			fprintf(stderr, LG_NAME ": publisher %u: broker refused %" PRIu64
				" messages: %s\n", k, cs.publish_refused,
				sl_error_code_str(cs.last_error));
	}
}

static int
run_and_report(struct lg_run *r)
{
	struct lg_stats st;
	int rc, fail;

	rc = connect_all(r);
	if (rc == 0)
		rc = setup_topics(r);
	if (rc < 0)
		return 1;
	install_sigint();
	fail = run_send_phase(r) < 0;
	if (!fail)
		fail = run_drain_phase(r) < 0;
	collect_stats(r, &st);
	report_refused(r);
	if (r->cf->json)
		report_json(r, &st);
	else
		report_text(r, &st);
	fflush(stdout);
	if (fail)
		return 1;
	return (st.lost || r->duplicates || r->bad) ? 3 : 0;
}

/* --cpu: the whole process (one thread) on @cpu; -1 when it cannot be (reported). */
static int
pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, LG_NAME ": cannot run on cpu %d: %s (this machine has cpus "
			"0..%ld)\n", cpu, strerror(errno), sysconf(_SC_NPROCESSORS_ONLN) - 1);
		return -1;
	}
	return 0;
}

/* Credentials from --credentials or the environment; -1 when unusable (reported). */
static int
credentials(struct lg_conf *cf, char *user, uint8_t *key)
{
	struct sl_client_opts o = { 0 };

	if (sl_cli_credentials(LG_NAME, &o, cf->credentials, user, key) < 0)
		return -1;
	cf->user = o.user;
	cf->key = o.key;
	return 0;
}

int
main(int argc, char **argv)
{
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	struct lg_conf cf;
	struct lg_run *r;
	int rc;

	rc = parse_args(&cf, argc, argv);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "Try '" LG_NAME " --help'.\n");
		return 2;
	}
	if (credentials(&cf, user, key) < 0)
		return 1;
	if (cf.cpu >= 0 && pin_cpu(cf.cpu) < 0)
		return 1;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		fprintf(stderr, LG_NAME ": out of memory\n");
		return 1;
	}
	r->cf = &cf;
	if (plan_run(r) < 0) {
		free(r);
		return 2;
	}
	rc = run_alloc(r);
	if (rc == 0)
		rc = run_and_report(r);
	else
		rc = 1;
	run_free(r);
	explicit_bzero(key, sizeof(key));
	return rc;
}
