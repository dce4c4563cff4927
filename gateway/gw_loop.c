/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's one loop: epoll over TCP, the broker's rings polled, timers. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "gw_tls.h"

/*
 * Idle strategy. While work keeps coming the loop spins (epoll_wait with a
 * zero timeout, then the rings) for --spin-us after the last work: a
 * broker answer that comes within it costs no wake-up. Then it sleeps in
 * epoll_pwait2 until a socket or a doorbell wakes it: each user session's
 * doorbell (docs/PROTOCOL.md 14.8) is in the epoll set, armed just before
 * the sleep, so a record the broker writes wakes the loop at once. The
 * sleep lasts at most IDLE_NS, for libsluice's timers (resends,
 * heartbeats) and the loop's own. Without doorbells (a dataplane that
 * predates them), or while a connection waits for room in a full broker
 * ring or a delivery for a topic name, the loop naps NAP_NS at a time for
 * BACKOFF_NS, then IDLE_NS.
 */
#define BACKOFF_NS 20000000ull /* 20 ms of 50 us naps */
#define NAP_NS 50000ull
#define IDLE_NS 1000000ull    /* then 1 ms sleeps */
#define TICK_NS 100000000ull  /* timers: keep-alive, expiry, counters */
#define MAX_EVENTS 256

struct gw gw;
static struct gw_conn listen_tag;     /* epoll data of the listening socket */
static struct gw_conn listen_tls_tag; /* and of the TLS one */
static struct gw_conn bell_tag;	      /* of the user sessions' doorbells */

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t
real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
listen_on(uint16_t port, struct gw_conn *tag)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
	int one = 1, fd;

	if (inet_pton(AF_INET, gw.conf.listen, &sa.sin_addr) != 1) {
		fprintf(stderr, "sluice-mqtt: --listen '%s' is not an IPv4 address\n",
			gw.conf.listen);
		return -EINVAL;
	}
	sa.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0 ||
	    epoll_ctl(gw.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;

		fprintf(stderr, "sluice-mqtt: cannot listen on %s:%u: %s\n", gw.conf.listen, port,
			strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int
gw_loop_init(void)
{
	gw.tlfd = -1;
	gw.ep = epoll_create1(EPOLL_CLOEXEC);
	if (gw.ep < 0)
		return -errno;
	gw.lfd = listen_on(gw.conf.port, &listen_tag);
	if (gw.lfd < 0)
		return gw.lfd;
	if (gw.conf.tls_cert[0]) {
		if (gw_tls_init(gw.conf.tls_cert, gw.conf.tls_key) < 0)
			return -EINVAL;
		gw.tlfd = listen_on(gw.conf.tls_port, &listen_tls_tag);
		if (gw.tlfd < 0)
			return gw.tlfd;
	}
	gw.now_ns = mono_ns();
	return 0;
}

static void
conn_free(struct gw_conn *c)
{
	free(c->rx);
	free(c->tx);
	free(c);
}

static void
accept_all(int lfd, bool tls)
{
	struct epoll_event ev;
	struct gw_conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error (EMFILE): next wakeup */
		GW_INC(accepted);
		if (gw.n_conns >= gw.conf.max_conns) {
			/* Nothing is sent: a CONNACK would need the CONNECT first,
			 * and reading it would cost what the limit protects. */
			GW_INC(refused_max_conns);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		if (tls && (c->tls = gw_tls_new(fd)) == NULL) {
			close(fd);
			conn_free(c);
			continue;
		}
		c->id = ++gw.next_conn_id;
		c->last_rx_ns = gw.now_ns;
		c->deadline_ns = gw.now_ns + (uint64_t)gw.conf.connect_timeout_ms * 1000000ull;
		c->max_packet_out = SL_MQTT_MAX_PACKET;
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = c;
		if (epoll_ctl(gw.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			gw_tls_free(c->tls);
			close(fd);
			conn_free(c);
			continue;
		}
		c->next_all = gw.all;
		if (gw.all)
			gw.all->prev_all = c;
		gw.all = c;
		gw.n_conns++;
		GW_INC(connections);
	}
}

void
gw_conn_want_flush(struct gw_conn *c)
{
	if (c->in_flush || c->state == GW_CONN_DEAD)
		return;
	c->in_flush = true;
	c->next_flush = gw.flush;
	gw.flush = c;
}

static void
set_wr_armed(struct gw_conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0),
				  .data.ptr = c };

	if (c->wr_armed == on)
		return;
	c->wr_armed = on;
	epoll_ctl(gw.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what @c has queued: one send per connection per iteration however
 * many packets were queued (batching). */
static void
flush_one(struct gw_conn *c)
{
	ssize_t n;

	while (gw_conn_pending(c) > 0) {
		if (c->tls != NULL) {
			n = gw_tls_write(c->tls, c->tx + c->tx_off, gw_conn_pending(c));
			if (n < 0) {
				errno = (int)-n;
				n = -1;
			}
		} else {
			n = send(c->fd, c->tx + c->tx_off, gw_conn_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_wr_armed(c, true);
				return;
			}
			gw_conn_kill(c, true);
			return;
		}
		GW_ADD(tx_bytes, (uint64_t)n);
		c->tx_off += (uint32_t)n;
	}
	c->tx_off = c->tx_len = 0;
	set_wr_armed(c, false);
	if (c->state == GW_CONN_CLOSING)
		gw_conn_kill(c, c->will_on_close);
	else if (c->sess != NULL && c->sess->q_len > 0)
		gw_out_pump(c->sess); /* room again: what waited goes now */
}

static int
flush_all(void)
{
	struct gw_conn *c, *next;
	int n = 0;

	while ((c = gw.flush) != NULL) {
		gw.flush = NULL;
		for (; c != NULL; c = next) {
			next = c->next_flush;
			c->in_flush = false;
			if (c->state != GW_CONN_DEAD) {
				flush_one(c);
				n++;
			}
		}
	}
	return n;
}

void
gw_conn_reap(void)
{
	struct gw_conn *c, *next;

	if (!gw.reap)
		return;
	gw.reap = false;
	for (c = gw.all; c != NULL; c = next) {
		next = c->next_all;
		if (c->state != GW_CONN_DEAD || c->in_flush)
			continue;
		if (c->prev_all)
			c->prev_all->next_all = c->next_all;
		else
			gw.all = c->next_all;
		if (c->next_all)
			c->next_all->prev_all = c->prev_all;
		epoll_ctl(gw.ep, EPOLL_CTL_DEL, c->fd, NULL);
		gw_tls_free(c->tls); /* before the descriptor is closed */
		c->tls = NULL;
		close(c->fd);
		if (c->sess != NULL) {
			struct gw_sess *s = c->sess;

			c->sess = NULL;
			s->conn = NULL;
			if (c->will_on_close) {
				gw_sess_will_due(s, gw.now_ns);
			} else {
				/* A normal DISCONNECT discards the will [MQTT-3.1.2-10]. */
				gw_msg_unref(s->will);
				s->will = NULL;
			}
			gw_sess_detach(s, gw.now_ns);
		}
		gw.n_conns--;
		GW_DEC(connections);
		GW_INC(disconnects);
		conn_free(c);
	}
}

/* Keep-alive and connect deadlines: a scan every TICK_NS. */
static void
tick(void)
{
	struct gw_conn *c;

	for (c = gw.all; c != NULL; c = c->next_all) {
		if (c->deadline_ns == 0 || c->state == GW_CONN_DEAD || gw.now_ns < c->deadline_ns)
			continue;
		if (c->state == GW_CONN_NEW) {
			GW_INC(connect_timeout);
			gw_conn_kill(c, false);
		} else {
			/* [MQTT-3.1.2-24]: 1.5 keep-alives without a packet. */
			GW_INC(keepalive_expired);
			gw_conn_disconnect(c, SL_MQTT_RC_KEEP_ALIVE_TIMEOUT, true);
		}
	}
	gw_sess_tick(gw.now_ns);
	gw_user_tick();
	gw_retain_flush();
	gw_ctr[GW_C_sessions] = gw_sess_count();
	{
		uint64_t used, pooled;

		gw_msg_stats(&used, &pooled);
		gw_ctr[GW_C_msgs_in_use] = used;
	}
	gw_ctrs_publish(real_ns());
}

int
gw_loop_watch_bell(int fd)
{
	/* Edge-triggered: each ring is an event, and a count a late ring
	 * leaves behind (sl_client_disarm empties only what it knows rang)
	 * does not wake the loop again. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = &bell_tag };

	if (epoll_ctl(gw.ep, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST) {
		GW_LOG("doorbell %d: epoll_ctl: %s\n", fd, strerror(errno));
		return -1;
	}
	return 0;
}

/* How long the next epoll wait may sleep, @idle ns after the last work;
 * *@armed set when the user sessions' doorbells were armed for it. */
static long
sleep_ns(uint64_t idle, bool *armed)
{
	int rc;

	*armed = false;
	if (idle < (uint64_t)gw.conf.spin_us * 1000u)
		return 0;
	if (gw.n_blocked == 0 && !gw_fanout_waiting()) {
		rc = gw_user_arm_all();
		if (rc == 1)
			return 0; /* the broker wrote meanwhile */
		if (rc == 0) {
			*armed = true;
			return (long)IDLE_NS;
		}
	}
	return idle < (uint64_t)gw.conf.spin_us * 1000u + BACKOFF_NS ? (long)NAP_NS : (long)IDLE_NS;
}

int
gw_loop_run(void)
{
	struct epoll_event evs[MAX_EVENTS];
	struct timespec ts;
	uint64_t last_work, next_tick;
	bool armed;
	int i, n, work;

	last_work = next_tick = gw.now_ns;
	while (!gw.stop) {
		ts.tv_sec = 0;
		ts.tv_nsec = sleep_ns(gw.now_ns - last_work, &armed);
		if (ts.tv_nsec)
			GW_INC(loop_sleeps);
		n = epoll_pwait2(gw.ep, evs, MAX_EVENTS, &ts, NULL);
		if (armed)
			gw_user_disarm_all();
		gw.now_ns = mono_ns();
		GW_INC(loop_iterations);
		work = n > 0 ? n : 0;
		for (i = 0; i < n; i++) {
			struct gw_conn *c = evs[i].data.ptr;

			if (c == &bell_tag) {
				work--; /* the polls below count what it brought */
				continue;
			}
			if (c == &listen_tag || c == &listen_tls_tag) {
				accept_all(c == &listen_tag ? gw.lfd : gw.tlfd, c == &listen_tls_tag);
				continue;
			}
			if (c->state == GW_CONN_DEAD)
				continue;
			if (evs[i].events & EPOLLOUT)
				gw_conn_want_flush(c);
			/* TLS: a handshake or read that waited for the socket
			 * to take bytes goes on when it can. */
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) ||
			    (c->tls && (evs[i].events & EPOLLOUT)))
				gw_conn_input(c);
		}
		work += gw_user_poll_all();
		gw_fanout_parked();
		gw_conn_unblock_all();
		work += flush_all();
		gw_conn_reap();
		if (gw.now_ns >= next_tick) {
			tick();
			next_tick = gw.now_ns + TICK_NS;
		}
		if (work > 0)
			last_work = gw.now_ns;
	}
	return 0;
}

void
gw_loop_fini(void)
{
	struct gw_conn *c;

	flush_all();
	for (c = gw.all; c != NULL; c = c->next_all)
		if (c->state != GW_CONN_DEAD) {
			/* Server shutting down: v5 clients are told. A will is
			 * not sent: the gateway, not the client, went away. */
			gw_conn_disconnect(c, SL_MQTT_RC_SERVER_SHUTTING_DOWN, false);
		}
	flush_all();
	for (c = gw.all; c != NULL; c = c->next_all)
		c->state = GW_CONN_DEAD;
	gw.reap = true;
	gw_conn_reap();
	if (gw.lfd >= 0)
		close(gw.lfd);
	if (gw.tlfd >= 0)
		close(gw.tlfd);
	gw_tls_fini();
	if (gw.ep >= 0)
		close(gw.ep);
}
