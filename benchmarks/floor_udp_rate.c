/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Machine floor: kernel UDP packets per second one way, a sender blasting
 * sendmmsg bursts at a sink in another namespace that counts them; the floor
 * for Sluice's maximum message rate over UDP through one worker.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <common/clock.h>

#define FR_NAME "sluice-floor-udp-rate"
#define FR_BURST 32u
#define FR_MAX_SIZE 1472u
#define FR_IDLE_NS 500000000ull /* sink: this long without a datagram ends the run */

struct fr_opts {
	const char *bind_ip, *peer_ip;
	uint16_t port;
	size_t size;
	double duration_s;
	int cpu;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " FR_NAME " --sink --bind IP [--port P] [-d S] [--cpu N]\n"
		"       " FR_NAME " --peer IP [--port P] [-s B] [-d S] [--cpu N]\n"
		"Kernel UDP one way, as fast as one thread sends (sendmmsg, %u a call): the sink\n"
		"counts what arrives and prints one JSON object: pkts, pkts_per_s (first to\n"
		"last datagram), bytes_per_s. It ends %llu ms after the last datagram, or\n"
		"after -d seconds plus that. -s payload 8..%u (default 64), -d the sender's\n"
		"duration (default 1; the sink's limit is 10x that), --port (default 9601).\n",
		FR_BURST, FR_IDLE_NS / 1000000, FR_MAX_SIZE);
}

static int
sock_at(const char *ip, uint16_t port, int bind_it)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, buf = 8 << 20;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, FR_NAME ": '%s' is not an IPv4 address\n", ip);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, bind_it ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &buf, sizeof(buf));
	if ((bind_it ? bind(fd, (struct sockaddr *)&a, sizeof(a)) :
		       connect(fd, (struct sockaddr *)&a, sizeof(a))) < 0) {
		fprintf(stderr, FR_NAME ": %s:%u: %s\n", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
run_sink(const struct fr_opts *o)
{
	static uint8_t bufs[FR_BURST][FR_MAX_SIZE + 64];
	struct mmsghdr m[FR_BURST];
	struct iovec iov[FR_BURST];
	uint64_t pkts = 0, bytes = 0, first = 0, last = 0, now, start = sl_mono_ns();
	uint64_t limit = start + (uint64_t)(o->duration_s * 10e9) + FR_IDLE_NS;
	int fd = sock_at(o->bind_ip, o->port, 1), n, i;

	if (fd < 0)
		return 1;
	for (i = 0; i < (int)FR_BURST; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	for (;;) {
		now = sl_mono_ns();
		if (now > limit || (pkts && now - last > FR_IDLE_NS))
			break;
		n = recvmmsg(fd, m, FR_BURST, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		if (!pkts)
			first = now;
		last = now;
		pkts += (uint64_t)n;
		for (i = 0; i < n; i++)
			bytes += m[i].msg_len;
	}
	close(fd);
	printf("{\"pkts\":%llu,\"pkts_per_s\":%.1f,\"bytes_per_s\":%.1f,\"msgs_per_s\":%.1f}\n",
	       (unsigned long long)pkts, last > first ? (double)pkts * 1e9 / (double)(last - first) : 0,
	       last > first ? (double)bytes * 1e9 / (double)(last - first) : 0,
	       last > first ? (double)pkts * 1e9 / (double)(last - first) : 0);
	return pkts ? 0 : 1;
}

static int
run_sender(const struct fr_opts *o)
{
	static uint8_t payload[FR_MAX_SIZE];
	struct mmsghdr m[FR_BURST];
	struct iovec iov = { payload, o->size };
	uint64_t end = sl_mono_ns() + (uint64_t)(o->duration_s * 1e9);
	int fd = sock_at(o->peer_ip, o->port, 0), i;

	if (fd < 0)
		return 1;
	for (i = 0; i < (int)FR_BURST; i++)
		m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1 };
	while (sl_mono_ns() < end)
		(void)sendmmsg(fd, m, FR_BURST, 0); /* a full queue just waits for the next call */
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sink", no_argument, NULL, 'k' },	     { "bind", required_argument, NULL, 'b' },
		{ "peer", required_argument, NULL, 'P' },    { "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },    { "duration", required_argument, NULL, 'd' },
		{ "cpu", required_argument, NULL, 'c' },     { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fr_opts o = { .port = 9601, .size = 64, .duration_s = 1, .cpu = -1 };
	int sink = 0, c;
	cpu_set_t set;

	while ((c = getopt_long(argc, argv, "s:d:p:h", lo, NULL)) != -1) {
		switch (c) {
		case 'k': sink = 1; break;
		case 'b': o.bind_ip = optarg; break;
		case 'P': o.peer_ip = optarg; break;
		case 'p': o.port = (uint16_t)atoi(optarg); break;
		case 's': o.size = strtoul(optarg, NULL, 10); break;
		case 'd': o.duration_s = atof(optarg); break;
		case 'c': o.cpu = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.size < 8 || o.size > FR_MAX_SIZE || !(o.duration_s > 0 && o.duration_s <= 60) ||
	    o.port == 0 || (sink ? o.bind_ip == NULL : o.peer_ip == NULL)) {
		usage(stderr);
		return 2;
	}
	if (o.cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			fprintf(stderr, FR_NAME ": cannot pin to cpu %d\n", o.cpu);
	}
	return sink ? run_sink(&o) : run_sender(&o);
}
