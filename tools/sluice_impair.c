/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-impair: a test relay that forwards Ethernet frames between two
 * interfaces (raw AF_PACKET sockets, so it is transparent to ARP and to the
 * dataplane's af_packet port) and impairs IPv4 frames per direction with a
 * seeded random generator: loss, duplication, and holding a fraction of the
 * frames back for a fixed delay (reordering). Queues are bounded. It prints
 * what it did on SIGUSR1 and at exit, and exits by itself after --time.
 * It stands in for netem, which the test machines' kernels lack.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <common/clock.h>
#include <common/sig.h>

#define IMP_NAME "sluice-impair"
#define IMP_SLOT 2048u		/* bytes per held frame; larger ones are never held */
#define IMP_QUEUE_DEFAULT 4096u /* held frames per direction */
#define IMP_QUEUE_MAX 65536u
#define IMP_BURST 64u		/* frames read per socket per loop pass */
#define IMP_TIME_MAX_S 86400.0
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23 /* Linux 4.20 */
#endif

/* What one direction does to IPv4 frames; probabilities 0..1. */
struct imp_spec {
	double loss;
	double dup;
	double reorder;	  /* fraction held back for delay_us; 1 when only a delay is given */
	uint64_t delay_us;
	uint32_t queue;
	int reorder_set;
};

struct imp_held {
	uint64_t due_ns;
	uint32_t len;
	uint8_t data[IMP_SLOT];
};

struct imp_dir {
	const char *name; /* "ab" or "ba" */
	struct imp_spec spec;
	int in, out;	  /* sockets */
	uint64_t rng;
	int cut;	  /* SIGUSR2 toggles it when the direction is in --cut */
	struct imp_held *q;
	uint32_t head, n;
	/* counters */
	uint64_t rx, tx, lost, dups, held, overflow, cut_drops, passed, oversize, tx_err;
	uint64_t kernel_drops; /* frames the kernel dropped before the relay read them */
};

/* Add what the kernel dropped on d->in since the last call (reading resets it). */
static void
kernel_drops_update(struct imp_dir *d)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (getsockopt(d->in, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		d->kernel_drops += st.tp_drops;
}

static volatile sig_atomic_t stop_requested, dump_requested, cut_toggles;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_requested = 1;
	else if (sig == SIGUSR2)
		cut_toggles++;
	else
		stop_requested = 1;
}

/* Stop; USR1 dumps the counts, USR2 toggles the cut. */
static const int relay_sigs[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2 };

/* splitmix64: small, seedable, good enough to decide a frame's fate. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* True with probability @p. */
static int
chance(struct imp_dir *d, double p)
{
	if (p <= 0)
		return 0;
	return (double)(rng_next(&d->rng) >> 11) * 0x1.0p-53 < p;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " IMP_NAME " -a IFACE -b IFACE [options]\n"
		"Forward every frame between IFACE a and IFACE b; impair IPv4 frames.\n"
		"  --ab SPEC     impairment of frames from a to b\n"
		"  --ba SPEC     impairment of frames from b to a\n"
		"  --both SPEC   both directions (then --ab/--ba add to it)\n"
		"                SPEC: comma-separated loss=P,dup=P,reorder=P,delay-us=N,queue=N\n"
		"                (P 0..1; reorder: the fraction held back delay-us, default\n"
		"                1000; a delay without reorder holds every frame; queue:\n"
		"                frames held at most, default %u, past it sent at once)\n"
		"  --seed N      random seed (default 1); each direction draws its own stream\n"
		"  --time S      exit after S seconds (default 600)\n"
		"  --cut DIR     which direction SIGUSR2 cuts off and restores: ab, ba, both\n"
		"                (default both); a cut direction drops every IPv4 frame\n"
		"Prints one JSON line of counts on SIGUSR1 and at exit (SIGTERM, SIGINT, --time).\n",
		IMP_QUEUE_DEFAULT);
}

static int
parse_prob(const char *v, double *out)
{
	char *end;
	double p = strtod(v, &end);

	if (end == v || *end || !(p >= 0 && p <= 1))
		return -1;
	*out = p;
	return 0;
}

static int
parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (end == v || *end || errno || x > max || v[0] == '-')
		return -1;
	*out = x;
	return 0;
}

static int
parse_spec(const char *arg, struct imp_spec *s)
{
	char buf[256], *save = NULL, *tok, *eq;
	uint64_t x = 0;
	int rc = 0;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (eq == NULL)
			return -1;
		*eq++ = '\0';
		if (strcmp(tok, "loss") == 0)
			rc = parse_prob(eq, &s->loss);
		else if (strcmp(tok, "dup") == 0)
			rc = parse_prob(eq, &s->dup);
		else if (strcmp(tok, "reorder") == 0) {
			rc = parse_prob(eq, &s->reorder);
			s->reorder_set = 1;
		} else if (strcmp(tok, "delay-us") == 0)
			rc = parse_u64(eq, 10000000, &s->delay_us);
		else if (strcmp(tok, "queue") == 0) {
			rc = parse_u64(eq, IMP_QUEUE_MAX, &x);
			if (rc == 0 && x == 0)
				rc = -1;
			s->queue = (uint32_t)x;
		} else
			return -1;
	}
	return rc;
}

/* After parsing: fill the defaults the spec's own words imply. */
static void
spec_finish(struct imp_spec *s)
{
	if (s->queue == 0)
		s->queue = IMP_QUEUE_DEFAULT;
	if (s->reorder_set && s->reorder > 0 && s->delay_us == 0)
		s->delay_us = 1000;
	if (!s->reorder_set && s->delay_us > 0)
		s->reorder = 1;
}

static int
open_iface(const char *ifname)
{
	struct sockaddr_ll sll = { 0 };
	struct packet_mreq mr = { 0 };
	int fd, one = 1, buf = 64 << 20;
	unsigned idx = if_nametoindex(ifname);

	if (idx == 0) {
		fprintf(stderr, IMP_NAME ": no interface '%s' in this namespace\n", ifname);
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0) {
		fprintf(stderr, IMP_NAME ": raw socket: %s (needs CAP_NET_RAW)\n", strerror(errno));
		return -1;
	}
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)idx;
	mr.mr_ifindex = (int)idx;
	mr.mr_type = PACKET_MR_PROMISC;
	/* Our own transmissions must not come back as frames to forward. */
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		fprintf(stderr, IMP_NAME ": %s: %s\n", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return fd;
}

static void
xmit(struct imp_dir *d, const void *frame, size_t len)
{
	if (send(d->out, frame, len, MSG_DONTWAIT) < 0)
		d->tx_err++;
	else
		d->tx++;
}

static int
is_ipv4(const uint8_t *f, size_t len)
{
	return len >= 14 && f[12] == 0x08 && f[13] == 0x00;
}

/* Hold @f until delay_us from @now; 0, or -1 when the queue is full. */
static int
hold(struct imp_dir *d, const uint8_t *f, size_t len, uint64_t now)
{
	struct imp_held *h;

	if (d->n == d->spec.queue)
		return -1;
	h = &d->q[(d->head + d->n) % d->spec.queue];
	h->due_ns = now + d->spec.delay_us * 1000;
	h->len = (uint32_t)len;
	memcpy(h->data, f, len);
	d->n++;
	return 0;
}

/* The fate of one frame read on d->in. */
static void
impair(struct imp_dir *d, const uint8_t *f, size_t len, uint64_t now)
{
	int copies, i;

	d->rx++;
	if (!is_ipv4(f, len)) {
		/* ARP and the like: the link itself, not the traffic under test. */
		d->passed++;
		xmit(d, f, len);
		return;
	}
	if (d->cut) {
		d->cut_drops++;
		return;
	}
	if (chance(d, d->spec.loss)) {
		d->lost++;
		return;
	}
	copies = 1;
	if (chance(d, d->spec.dup)) {
		d->dups++;
		copies = 2;
	}
	for (i = 0; i < copies; i++) {
		if (d->spec.delay_us > 0 && chance(d, d->spec.reorder)) {
			if (len > IMP_SLOT) {
				d->oversize++;
			} else if (hold(d, f, len, now) == 0) {
				d->held++;
				continue;
			} else {
				d->overflow++;
			}
		}
		xmit(d, f, len);
	}
}

/* Send what is due; returns ns until the next held frame is (UINT64_MAX: none). */
static uint64_t
release(struct imp_dir *d, uint64_t now)
{
	struct imp_held *h;

	while (d->n > 0) {
		h = &d->q[d->head];
		if (h->due_ns > now)
			return h->due_ns - now;
		xmit(d, h->data, h->len);
		d->head = (d->head + 1) % d->spec.queue;
		d->n--;
	}
	return UINT64_MAX;
}

static void
read_burst(struct imp_dir *d, uint8_t *buf, size_t cap)
{
	unsigned i;
	ssize_t n;

	for (i = 0; i < IMP_BURST; i++) {
		n = recv(d->in, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			return;
		if ((size_t)n > cap) {
			d->rx++;
			d->oversize++;
			continue;
		}
		impair(d, buf, (size_t)n, sl_mono_ns());
	}
}

static void
dump(struct imp_dir *dirs, uint64_t seed, double elapsed_s)
{
	struct imp_dir *d;
	unsigned i;

	printf("{\"seed\":%" PRIu64 ",\"elapsed_s\":%.3f", seed, elapsed_s);
	for (i = 0; i < 2; i++) {
		d = &dirs[i];
		kernel_drops_update(d);
		printf(",\"%s\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 ",\"lost\":%" PRIu64
		       ",\"dup\":%" PRIu64 ",\"held\":%" PRIu64 ",\"overflow\":%" PRIu64
		       ",\"cut\":%" PRIu64 ",\"passed\":%" PRIu64 ",\"oversize\":%" PRIu64
		       ",\"tx_err\":%" PRIu64 ",\"kernel_drops\":%" PRIu64 ",\"queued\":%u}",
		       d->name, d->rx, d->tx, d->lost, d->dups, d->held, d->overflow, d->cut_drops,
		       d->passed, d->oversize, d->tx_err, d->kernel_drops, d->n);
	}
	printf("}\n");
	fflush(stdout);
}

struct imp_conf {
	const char *ifa, *ifb;
	uint64_t seed;
	double time_s;
	int cut_ab, cut_ba;
};

static int
parse_args(int argc, char **argv, struct imp_conf *cf, struct imp_dir *dirs)
{
	static const struct option lo[] = {
		{ "ab", required_argument, NULL, 1 },	{ "ba", required_argument, NULL, 2 },
		{ "both", required_argument, NULL, 3 }, { "seed", required_argument, NULL, 4 },
		{ "time", required_argument, NULL, 5 }, { "cut", required_argument, NULL, 6 },
		{ "help", no_argument, NULL, 'h' },	{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "a:b:h", lo, NULL)) != -1) {
		switch (c) {
		case 'a': cf->ifa = optarg; break;
		case 'b': cf->ifb = optarg; break;
		case 1:
		case 2:
		case 3:
			if ((c != 2 && parse_spec(optarg, &dirs[0].spec) < 0) ||
			    (c != 1 && parse_spec(optarg, &dirs[1].spec) < 0)) {
				fprintf(stderr, IMP_NAME ": bad impairment '%s'\n", optarg);
				return -1;
			}
			break;
		case 4:
			if (parse_u64(optarg, UINT64_MAX, &cf->seed) < 0) {
				fprintf(stderr, IMP_NAME ": --seed wants a number\n");
				return -1;
			}
			break;
		case 5:
			cf->time_s = strtod(optarg, &end);
			if (end == optarg || *end || !(cf->time_s > 0 && cf->time_s <= IMP_TIME_MAX_S)) {
				fprintf(stderr, IMP_NAME ": --time wants seconds, 0 < S <= 86400\n");
				return -1;
			}
			break;
		case 6:
			cf->cut_ab = strcmp(optarg, "ab") == 0 || strcmp(optarg, "both") == 0;
			cf->cut_ba = strcmp(optarg, "ba") == 0 || strcmp(optarg, "both") == 0;
			if (!cf->cut_ab && !cf->cut_ba) {
				fprintf(stderr, IMP_NAME ": --cut wants ab, ba or both\n");
				return -1;
			}
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (cf->ifa == NULL || cf->ifb == NULL || optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Poll both sockets until the next held frame is due, then forward. */
static void
relay_loop(struct imp_dir *dirs, const struct imp_conf *cf, uint64_t start)
{
	struct pollfd pfd[2] = { { .fd = dirs[0].in, .events = POLLIN },
				 { .fd = dirs[1].in, .events = POLLIN } };
	static uint8_t buf[65536];
	uint64_t now, end = start + (uint64_t)(cf->time_s * 1e9), wait, w;
	sig_atomic_t toggles_seen = 0;
	struct timespec ts;
	unsigned i;

	while (!stop_requested) {
		now = sl_mono_ns();
		if (now >= end)
			break;
		if (cut_toggles != toggles_seen) {
			toggles_seen = cut_toggles;
			dirs[0].cut = cf->cut_ab ? (toggles_seen & 1) : 0;
			dirs[1].cut = cf->cut_ba ? (toggles_seen & 1) : 0;
		}
		if (dump_requested) {
			dump_requested = 0;
			dump(dirs, cf->seed, (double)(now - start) / 1e9);
		}
		wait = end - now;
		for (i = 0; i < 2; i++) {
			w = release(&dirs[i], now);
			if (w < wait)
				wait = w;
		}
		ts.tv_sec = (time_t)(wait / 1000000000ull);
		ts.tv_nsec = (long)(wait % 1000000000ull);
		if (ppoll(pfd, 2, &ts, NULL) <= 0)
			continue;
		for (i = 0; i < 2; i++)
			if (pfd[i].revents & POLLIN)
				read_burst(&dirs[i], buf, sizeof(buf));
	}
}

int
main(int argc, char **argv)
{
	struct imp_conf cf = { .seed = 1, .time_s = 600, .cut_ab = 1, .cut_ba = 1 };
	struct imp_dir dirs[2] = { { .name = "ab" }, { .name = "ba" } };
	int fa, fb, rc, i;
	uint64_t start;

	rc = parse_args(argc, argv, &cf, dirs);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	fa = open_iface(cf.ifa);
	fb = fa < 0 ? -1 : open_iface(cf.ifb);
	if (fb < 0)
		return 1;
	dirs[0].in = fa;
	dirs[0].out = fb;
	dirs[1].in = fb;
	dirs[1].out = fa;
	for (i = 0; i < 2; i++) {
		spec_finish(&dirs[i].spec);
		/* Distinct streams per direction, both fixed by the one seed. */
		dirs[i].rng = cf.seed * 2 + (uint64_t)i + 1;
		dirs[i].q = calloc(dirs[i].spec.queue, sizeof(*dirs[i].q));
		if (dirs[i].q == NULL) {
			fprintf(stderr, IMP_NAME ": out of memory\n");
			return 1;
		}
	}
	(void)sl_sig_handle(on_signal, 0, relay_sigs, sizeof(relay_sigs) / sizeof(relay_sigs[0]));
	start = sl_mono_ns();
	fprintf(stderr, IMP_NAME ": relaying %s <-> %s, seed %" PRIu64 ", for %.0f s\n", cf.ifa,
		cf.ifb, cf.seed, cf.time_s);
	relay_loop(dirs, &cf, start);
	/* Frames still held are sent: the relay's end is not a loss to count. */
	for (i = 0; i < 2; i++)
		release(&dirs[i], UINT64_MAX);
	dump(dirs, cf.seed, (double)(sl_mono_ns() - start) / 1e9);
	close(fa);
	close(fb);
	free(dirs[0].q);
	free(dirs[1].q);
	return 0;
}
