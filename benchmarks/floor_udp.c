/* SPDX-License-Identifier: BSD-3-Clause */
/* Machine floor: kernel UDP round trip, on loopback or to an echo in another namespace. */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#define FU_MAX_SIZE 1472
#define FU_MIN_SIZE 8 /* the sequence number */
#define FU_WARMUP 1000u
#define FU_LOSS_NS 100000000ull /* a reply later than 100 ms counts as lost */

struct fu_opts {
	int cpu;	    /* client (or echo) cpu; -1: not pinned */
	int echo_cpu;	    /* loopback mode: the echo thread's cpu */
	uint64_t count;
	double duration_s;
	size_t size;
	int echo;	    /* run only the echo server */
	int block;	    /* blocking receive instead of busy-polling */
	int json;
	int stop_echo;	    /* --peer: end the echo when done */
	const char *bind_ip;
	const char *peer_ip; /* NULL: loopback, echo thread in this process */
	uint16_t port;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
pin(int cpu, const char *who)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		fprintf(stderr, "sluice-floor-udp: cannot pin the %s to cpu %d\n", who, cpu);
}

static int
udp_socket(const char *ip, uint16_t port, struct sockaddr_in *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	/* bounds a blocking receive (--block) so that deadlines are still seen */
	struct timeval tv = { 0, 100000 };
	socklen_t len = sizeof(a);
	int fd;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "sluice-floor-udp: '%s' is not an IPv4 address\n", ip);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)bound, &len) < 0) {
		int rc = -errno;

		fprintf(stderr, "sluice-floor-udp: bind %s:%u: %s\n", ip, port, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

/* Receive one datagram: spin (MSG_DONTWAIT) or block, until @deadline. */
static ssize_t
recv_until(int fd, void *buf, size_t len, struct sockaddr_in *from, int block,
	   uint64_t deadline)
{
	socklen_t flen = sizeof(*from);
	ssize_t n;

	for (;;) {
		n = recvfrom(fd, buf, len, block ? 0 : MSG_DONTWAIT,
			     (struct sockaddr *)from, &flen);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
	}
}

/* Echo every datagram back to its sender; a zero-length one, or @deadline, ends it. */
static int
echo_loop(int fd, int block, uint64_t deadline)
{
	char buf[FU_MAX_SIZE];
	struct sockaddr_in from;
	ssize_t n;

	for (;;) {
		n = recv_until(fd, buf, sizeof(buf), &from, block, deadline);
		if (n == -ETIMEDOUT)
			return 0;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, sizeof(from));
	}
}

struct fu_echo {
	int fd;
	int cpu;
	int block;
	uint64_t deadline;
};

static void *
echo_thread(void *arg)
{
	struct fu_echo *e = arg;

	pin(e->cpu, "echo thread");
	echo_loop(e->fd, e->block, e->deadline);
	return NULL;
}

struct fu_result {
	uint64_t done, lost;
	double elapsed_s;
};

/* Round trips to @peer until count or duration; recvs time out after 100 ms (lost). */
static int
client_loop(int fd, const struct sockaddr_in *peer, const struct fu_opts *o, struct sl_hist *h,
	    struct fu_result *r)
{
	char out[FU_MAX_SIZE], in[FU_MAX_SIZE];
	uint64_t i, seq, t0, t1, start, end, limit = (uint64_t)(o->duration_s * 1e9);
	struct sockaddr_in from;
	ssize_t n;

	memset(out, 0x5a, sizeof(out));
	start = now_ns();
	for (i = 1; i <= o->count + FU_WARMUP; i++) {
		memcpy(out, &i, sizeof(i));
		t0 = now_ns();
		if (sendto(fd, out, o->size, 0, (const struct sockaddr *)peer, sizeof(*peer)) < 0)
			return -errno;
		do { /* a late reply to an earlier round trip is skipped */
			n = recv_until(fd, in, sizeof(in), &from, o->block, t0 + FU_LOSS_NS);
			seq = 0;
			if (n >= (ssize_t)sizeof(seq))
				memcpy(&seq, in, sizeof(seq));
		} while (n >= 0 && seq != i);
		t1 = now_ns();
		if (n == -ETIMEDOUT)
			r->lost++;
		else if (n < 0)
			return (int)n;
		else if (i > FU_WARMUP) {
			sl_hist_record(h, t1 - t0);
			r->done++;
		}
		if (i == FU_WARMUP)
			start = t1;
		if (t1 - start > limit && i > FU_WARMUP)
			break;
		if (r->lost > 100) {
			fprintf(stderr, "sluice-floor-udp: more than 100 round trips lost; "
				"is the echo running?\n");
			return -ETIMEDOUT;
		}
	}
	end = now_ns();
	r->elapsed_s = (double)(end - start) / 1e9;
	return 0;
}

static int
run_echo(const struct fu_opts *o)
{
	struct sockaddr_in me;
	int fd, rc;

	fd = udp_socket(o->bind_ip, o->port, &me);
	if (fd < 0)
		return fd;
	pin(o->cpu, "echo");
	if (!o->json)
		fprintf(stderr, "sluice-floor-udp: echo on %s:%u for at most %.0f s\n",
			o->bind_ip, o->port, o->duration_s);
	rc = echo_loop(fd, o->block, now_ns() + (uint64_t)(o->duration_s * 1e9));
	close(fd);
	return rc;
}

static int
run_client(const struct fu_opts *o, struct sl_hist *h, struct fu_result *r)
{
	struct fu_echo e = { .fd = -1, .cpu = o->echo_cpu, .block = o->block };
	struct sockaddr_in me, peer = { .sin_family = AF_INET, .sin_port = htons(o->port) };
	pthread_t th;
	int fd, rc, started = 0;

	fd = udp_socket(o->bind_ip, 0, &me);
	if (fd < 0)
		return fd;
	if (o->peer_ip == NULL) { /* loopback: the echo is a thread of ours */
		e.fd = udp_socket("127.0.0.1", 0, &peer);
		if (e.fd < 0) {
			rc = e.fd;
			goto out;
		}
		e.deadline = now_ns() + (uint64_t)(o->duration_s * 1e9) + 5000000000ull;
		rc = -pthread_create(&th, NULL, echo_thread, &e);
		if (rc < 0)
			goto out;
		started = 1;
	} else if (inet_pton(AF_INET, o->peer_ip, &peer.sin_addr) != 1) {
		fprintf(stderr, "sluice-floor-udp: --peer '%s' is not an IPv4 address\n",
			o->peer_ip);
		rc = -EINVAL;
		goto out;
	}
	pin(o->cpu, "client");
	rc = client_loop(fd, &peer, o, h, r);
	/* a zero-length datagram ends the echo */
	if (started || o->stop_echo)
		sendto(fd, "", 0, 0, (struct sockaddr *)&peer, sizeof(peer));
	if (started)
		pthread_join(th, NULL);
out:
	if (e.fd >= 0)
		close(e.fd);
	close(fd);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: sluice-floor-udp [options]\n"
		"Kernel UDP round trip, the floor for Sluice over UDP: the client sends a\n"
		"datagram, an echo returns it, N times one at a time, both busy-polling.\n"
		"Default: loopback, echo thread in this process on 127.0.0.1.\n"
		"  sluice-floor-udp --echo --bind IP [--port P]   echo only (another namespace)\n"
		"  sluice-floor-udp --peer IP [--port P]          client to that echo\n\n"
		"  -s, --size B        payload bytes, %d..%d (default 32)\n"
		"  -n, --count N       round trips (default 10000000)\n"
		"  -d, --duration S    time limit in seconds (default 1); --echo: its\n"
		"                      lifetime (it also ends on a zero-length datagram)\n"
		"  -p, --port P        echo UDP port (default 9600)\n"
		"      --bind IP       local address (default 127.0.0.1; echo: 0.0.0.0)\n"
		"      --cpu N         pin the client (or --echo) to cpu N (default 0)\n"
		"      --echo-cpu N    loopback: pin the echo thread to cpu N (default 1)\n"
		"      --block         blocking receives instead of busy-polling\n"
		"      --stop-echo     --peer: end the echo when done (zero-length datagram)\n"
		"      --json          one JSON object: p50_ns, p90_ns, p99_ns, p999_ns,\n"
		"                      p9999_ns, max_ns, ops_per_s (round trips/s), lost\n"
		"  -h, --help          this text\n"
		"Exit status: 0 done, 1 runtime failure (echo not answering), 2 bad usage.\n",
		FU_MIN_SIZE, FU_MAX_SIZE);
}

static int
parse_num(const char *what, const char *s, double lo, double hi, double *v)
{
	char *end;

	*v = strtod(s, &end);
	if (*end || end == s || !(*v >= lo && *v <= hi)) {
		fprintf(stderr, "sluice-floor-udp: %s wants a number in [%g, %g]\n", what, lo, hi);
		return -1;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct fu_opts *o)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "peer", required_argument, NULL, 'P' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "echo-cpu", required_argument, NULL, 'C' },
		{ "echo", no_argument, NULL, 'e' },
		{ "block", no_argument, NULL, 'B' },
		{ "stop-echo", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double v;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "s:n:d:p:h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			rc = parse_num("--size", optarg, FU_MIN_SIZE, FU_MAX_SIZE, &v);
			o->size = (size_t)v;
			break;
		case 'n':
			rc = parse_num("--count", optarg, 1, 1e12, &v);
			o->count = (uint64_t)v;
			break;
		case 'd':
			rc = parse_num("--duration", optarg, 0.001, 3600, &v);
			o->duration_s = v;
			break;
		case 'p':
			rc = parse_num("--port", optarg, 1, 65535, &v);
			o->port = (uint16_t)v;
			break;
		case 'c':
			rc = parse_num("--cpu", optarg, -1, 4095, &v);
			o->cpu = (int)v;
			break;
		case 'C':
			rc = parse_num("--echo-cpu", optarg, -1, 4095, &v);
			o->echo_cpu = (int)v;
			break;
		case 'b': o->bind_ip = optarg; break;
		case 'P': o->peer_ip = optarg; break;
		case 'e': o->echo = 1; break;
		case 'B': o->block = 1; break;
		case 'S': o->stop_echo = 1; break;
		case 'j': o->json = 1; break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (rc < 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-floor-udp: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->bind_ip == NULL)
		o->bind_ip = o->echo ? "0.0.0.0" : "127.0.0.1";
	if (o->peer_ip && strcmp(o->bind_ip, "127.0.0.1") == 0)
		o->bind_ip = "0.0.0.0";
	return 0;
}

int
main(int argc, char **argv)
{
	static struct sl_hist h; /* about 66 KiB: off the stack */
	struct fu_opts o = {
		.cpu = 0, .echo_cpu = 1, .count = 10000000, .duration_s = 1.0, .size = 32,
		.port = 9600,
	};
	struct fu_result r = { 0 };
	double ops;
	int rc;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.echo) {
		rc = run_echo(&o);
		if (rc < 0)
			fprintf(stderr, "sluice-floor-udp: echo: %s\n", strerror(-rc));
		return rc < 0 ? 1 : 0;
	}
	sl_hist_init(&h, SL_HIST_SUB_BITS_DEFAULT);
	rc = run_client(&o, &h, &r);
	if (rc < 0) {
		fprintf(stderr, "sluice-floor-udp: %s\n", strerror(-rc));
		return 1;
	}
	ops = r.elapsed_s > 0 ? (double)r.done / r.elapsed_s : 0;
	if (o.json)
		printf("{\"name\":\"udp-%s\",\"size\":%zu,\"count\":%llu,\"lost\":%llu,"
		       "\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,"
		       "\"p9999_ns\":%llu,\"max_ns\":%llu,\"ops_per_s\":%.1f}\n",
		       o.peer_ip ? "peer" : "loopback", o.size, (unsigned long long)r.done,
		       (unsigned long long)r.lost,
		       (unsigned long long)sl_hist_percentile(&h, 50),
		       (unsigned long long)sl_hist_percentile(&h, 90),
		       (unsigned long long)sl_hist_percentile(&h, 99),
		       (unsigned long long)sl_hist_percentile(&h, 99.9),
		       (unsigned long long)sl_hist_percentile(&h, 99.99),
		       (unsigned long long)sl_hist_max(&h), ops);
	else
		printf("udp round trip %s, %zu B: %llu samples (%llu lost), ns: p50 %llu  p99 %llu  "
		       "p99.9 %llu  max %llu;  %.0f round trips/s\n",
		       o.peer_ip ? o.peer_ip : "loopback", o.size, (unsigned long long)r.done,
		       (unsigned long long)r.lost,
		       (unsigned long long)sl_hist_percentile(&h, 50),
		       (unsigned long long)sl_hist_percentile(&h, 99),
		       (unsigned long long)sl_hist_percentile(&h, 99.9),
		       (unsigned long long)sl_hist_max(&h), ops);
	return 0;
}
