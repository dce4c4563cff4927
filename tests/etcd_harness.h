/* SPDX-License-Identifier: BSD-3-Clause */
/* A real etcd for unit tests: started on free 127.0.0.1 ports in a temporary data dir, stopped by pid. */

#ifndef SLUICE_TESTS_ETCD_HARNESS_H
#define SLUICE_TESTS_ETCD_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"

struct etcd_proc {
	pid_t pid;
	int port, peer_port;
	char dir[64];
	char url[64];
};

/* A port the kernel just gave out on 127.0.0.1 (free, as far as anyone knows). */
static inline int
etcd_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static inline int
etcd_installed(void)
{
	return access("/usr/bin/etcd", X_OK) == 0;
}

/* Start etcd (client port @port, or a free one when 0, reusing @p->dir
 * when set) and wait until it answers. 0 or -1. */
static inline int
etcd_start(struct etcd_proc *p, int port)
{
	char client[64], peer[64], cluster[96];
	struct sl_etcd *e;
	struct sl_etcd_kv kv;
	int i, rc = -1, fd;

	if (p->dir[0] == '\0') {
		snprintf(p->dir, sizeof(p->dir), "/tmp/sluice-etcd-XXXXXX");
		if (mkdtemp(p->dir) == NULL)
			return -1;
	}
	p->port = port ? port : etcd_free_port();
	p->peer_port = etcd_free_port();
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", p->port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", p->peer_port);
	snprintf(p->url, sizeof(p->url), "%s", client);
	snprintf(cluster, sizeof(cluster), "default=%s", peer);
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl("/usr/bin/etcd", "etcd", "--data-dir", p->dir, "--listen-client-urls", client,
		      "--advertise-client-urls", client, "--listen-peer-urls", peer,
		      "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
		      (char *)NULL);
		_exit(127);
	}
	if (sl_etcd_open(&e, client, 50, 500) < 0)
		return -1;
	for (i = 0; i < 200; i++) { /* 10 s */
		int r = sl_etcd_get(e, "/sluice-test/ping", &kv);

		if (r == 0 || r == -ENOENT) {
			rc = 0;
			break;
		}
		usleep(50000);
	}
	sl_etcd_close(e);
	if (rc < 0)
		fprintf(stderr, "etcd on %s did not answer in 10 s\n", client);
	return rc;
}

/* Stop it (SIGKILL by pid: a crash, as far as clients can tell). */
static inline void
etcd_stop(struct etcd_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
}

/* Stop it and remove its data. */
static inline void
etcd_destroy(struct etcd_proc *p)
{
	char cmd[128];

	etcd_stop(p);
	if (p->dir[0] != '\0' && strncmp(p->dir, "/tmp/sluice-etcd-", 17) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", p->dir);
	}
	p->dir[0] = '\0';
}

/* Monotonic milliseconds. */
static inline uint64_t
etcd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif /* SLUICE_TESTS_ETCD_HARNESS_H */
