/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt-loadgen's event loop: one thread, epoll over non-blocking TCP connections,
 * publishers on a fixed schedule (or as fast as a window allows) and subscribers that
 * time every delivery from its intended send time. */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mqtt_loadgen.h"

#define MAX_EVENTS 256
#define SUB_PID 1u /* the one SUBSCRIBE each connection sends */

static void
fail(struct mlg_run *r, const char *what, int err)
{
	if (r->fail == NULL) {
		snprintf(r->fail_buf, sizeof(r->fail_buf), "%s%s%s", what, err ? ": " : "",
			 err ? strerror(err) : "");
		r->fail = r->fail_buf;
	}
}

/* Bytes queued on @c and not yet written. */
static size_t
out_pending(const struct mlg_conn *c)
{
	return c->out_len - c->out_off;
}

/* Room for @need more bytes at the end of @c's output buffer: compact, then grow. */
static uint8_t *
out_room(struct mlg_conn *c, size_t need)
{
	if (c->out_len + need > c->out_cap && c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *n;

		while (cap < c->out_len + need)
			cap *= 2;
		n = realloc(c->out, cap);
		if (n == NULL)
			return NULL;
		c->out = n;
		c->out_cap = cap;
	}
	return c->out + c->out_len;
}

static void
watch(struct mlg_run *r, struct mlg_conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out == out)
		return;
	c->want_out = out;
	epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
conn_close(struct mlg_run *r, struct mlg_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = MLG_CLOSED;
}

/* Write what @c has queued, as much as the socket takes. Returns 0, or -1 when the
 * connection broke (closed, counted). */
static int
flush(struct mlg_run *r, struct mlg_conn *c)
{
	while (out_pending(c) > 0) {
		ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			watch(r, c, true);
			return 0;
		}
		r->errors++;
		fail(r, "send to the broker", n < 0 ? errno : EPIPE);
		conn_close(r, c);
		return -1;
	}
	c->out_off = c->out_len = 0;
	watch(r, c, false);
	return 0;
}

/* Encoders share this shape; @enc is called with the room it may fill. */
#define QUEUE(r, c, max, call)                                                   \
	({                                                                        \
		uint8_t *_b = out_room((c), (max));                               \
		long _n = _b ? (call) : -ENOMEM;                                  \
		if (_n > 0)                                                       \
			(c)->out_len += (size_t)_n;                               \
		else                                                              \
			fail((r), "encoding a packet", _n < 0 ? (int)-_n : EINVAL); \
		_n;                                                               \
	})
#define ROOM(c) ((c)->out_cap - (c)->out_len)

static int
conn_open(struct mlg_run *r, struct mlg_conn *c, const struct addrinfo *ai)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       ai->ai_protocol);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		int e = errno;

		close(c->fd);
		c->fd = -1;
		return -e;
	}
	c->state = MLG_TCP;
	c->want_out = true;
	c->started_ns = mlg_now_ns();
	c->recv_max = 65535;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		int e = errno;

		close(c->fd);
		c->fd = -1;
		return -e;
	}
	return 0;
}

static void
client_id(const struct mlg_run *r, const struct mlg_conn *c, char *buf, size_t cap)
{
	static const char *role[] = { "p", "s", "x" };

	if (c->role == MLG_SESS)
		snprintf(buf, cap, "%s-x%u", r->cf->client_id, c->idx);
	else
		snprintf(buf, cap, "%s-%08x-%s%u", r->cf->client_id, r->run_id, role[c->role],
			 c->idx);
}

/* The TCP connection is up: send CONNECT. Sessions are persistent unless
 * --sessions-clear ends them; publishers and subscribers start clean. */
static int
on_tcp_up(struct mlg_run *r, struct mlg_conn *c)
{
	char id[96];
	int err = 0;
	socklen_t len = sizeof(err);
	bool persist = c->role == MLG_SESS && !r->cf->sessions_clear;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		r->connect_failures++;
		fail(r, "connecting to the broker", err ? err : errno);
		conn_close(r, c);
		return -1;
	}
	client_id(r, c, id, sizeof(id));
	if (QUEUE(r, c, 512, mlg_wire_connect(r->cf, _b, ROOM(c), id, !persist,
					      persist ? UINT32_MAX : 0)) < 0)
		return -1;
	c->state = MLG_CONNACK;
	return flush(r, c);
}

static int
send_subscribe(struct mlg_run *r, struct mlg_conn *c)
{
	char filter[256];

	if (c->role == MLG_SESS && r->cf->sessions_filter) {
		/* "%u" in --sessions-filter stands for the session's index. */
		const char *f = r->cf->sessions_filter, *u = strstr(f, "%u");

		if (u)
			snprintf(filter, sizeof(filter), "%.*s%u%s", (int)(u - f), f, c->idx, u + 2);
		else
			snprintf(filter, sizeof(filter), "%s", f);
	} else if (c->role == MLG_SESS)
		snprintf(filter, sizeof(filter), "%s/sess/%u", r->cf->topic, c->idx);
	else if (r->cf->one_topic)
		snprintf(filter, sizeof(filter), "%s/0", r->cf->topic);
	else
		snprintf(filter, sizeof(filter), "%s/+", r->cf->topic);
	if (QUEUE(r, c, 512, mlg_wire_subscribe(r->cf, _b, ROOM(c), SUB_PID, filter,
						c->role == MLG_SESS ? 1 : r->cf->qos)) < 0)
		return -1;
	c->state = MLG_SUBACK;
	return 0;
}

/* A session is made (or ended): DISCONNECT and close. */
static void
sess_done(struct mlg_run *r, struct mlg_conn *c)
{
	if (QUEUE(r, c, 16, mlg_wire_disconnect(r->cf, _b, ROOM(c))) > 0)
		flush(r, c);
	if (c->fd >= 0) {
		c->state = MLG_READY; /* counted as made */
		epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
		shutdown(c->fd, SHUT_WR);
		close(c->fd);
		c->fd = -1;
	}
}

static bool
in_window(const struct mlg_run *r, uint64_t now)
{
	return now >= r->warm_end_ns && now < r->send_end_ns;
}

/* A PUBLISH reached subscriber @c. */
static void
on_message(struct mlg_run *r, struct mlg_conn *c, const struct mlg_pkt *p, uint64_t now)
{
	struct mlg_payload pl;
	struct mlg_seen *s;
	uint64_t w;

	if (p->payload_len < sizeof(pl)) {
		c->foreign++;
		return;
	}
	memcpy(&pl, p->payload, sizeof(pl));
	if (pl.run != r->run_id || pl.pub >= r->cf->pubs) {
		c->foreign++;
		return;
	}
	s = &c->seen[pl.pub];
	w = pl.index / 64;
	if (w >= s->nwords) {
		uint64_t n = s->nwords ? s->nwords : 1024;
		uint64_t *b;

		while (n <= w)
			n *= 2;
		b = realloc(s->bits, n * sizeof(*b));
		if (b == NULL) {
			fail(r, "duplicate tracking", ENOMEM);
			return;
		}
		memset(b + s->nwords, 0, (n - s->nwords) * sizeof(*b));
		s->bits = b;
		s->nwords = n;
	}
	if (s->bits[w] & (1ull << (pl.index % 64))) {
		c->dups++;
		return;
	}
	s->bits[w] |= 1ull << (pl.index % 64);
	s->count++;
	if (pl.index + 1 > s->next_min)
		s->next_min = pl.index + 1;
	c->received++;
	if (in_window(r, now))
		r->recv_win++;
	if (pl.sched_ns >= r->warm_end_ns)
		sl_hist_record(&r->lat, now > pl.sched_ns ? now - pl.sched_ns : 0);
}

static void
pid_free(struct mlg_run *r, struct mlg_conn *c, uint16_t pid, bool ok, uint64_t now)
{
	c->pid_state[pid] = 0;
	c->inflight--;
	if (ok) {
		c->acked++;
		if (in_window(r, now))
			r->acked_win++;
	} else {
		c->nacked++;
	}
}

/* One packet from the broker on @c. Returns 0, or -1 to drop the connection. */
static int
on_packet(struct mlg_run *r, struct mlg_conn *c, const struct mlg_pkt *p, uint64_t now)
{
	switch (p->type) {
	case SL_MQTT_CONNACK:
		if (c->state != MLG_CONNACK || p->rc != 0) {
			r->errors++;
			snprintf(r->fail_buf, sizeof(r->fail_buf),
				 "the broker refused CONNECT (return code 0x%02x)", p->rc);
			if (r->fail == NULL)
				r->fail = r->fail_buf;
			return -1;
		}
		if (p->recv_max)
			c->recv_max = p->recv_max;
		if (c->role == MLG_PUB) {
			c->state = MLG_READY;
			return 0;
		}
		if (c->role == MLG_SESS && r->cf->sessions_clear) {
			sess_done(r, c);
			return 0;
		}
		return send_subscribe(r, c);
	case SL_MQTT_SUBACK:
		if (c->state != MLG_SUBACK || p->rc >= 0x80) {
			r->errors++;
			snprintf(r->fail_buf, sizeof(r->fail_buf),
				 "the broker refused SUBSCRIBE (reason code 0x%02x)", p->rc);
			if (r->fail == NULL)
				r->fail = r->fail_buf;
			return -1;
		}
		if (c->role == MLG_SESS)
			sess_done(r, c);
		else
			c->state = MLG_READY;
		return 0;
	case SL_MQTT_PUBLISH:
		if (p->qos == 1) {
			if (QUEUE(r, c, 16, mlg_wire_ack(r->cf, _b, ROOM(c), SL_MQTT_PUBACK, p->pid)) < 0)
				return -1;
		} else if (p->qos == 2) {
			if (QUEUE(r, c, 16, mlg_wire_ack(r->cf, _b, ROOM(c), SL_MQTT_PUBREC, p->pid)) < 0)
				return -1;
			/* Method A of 4.3.3: delivered once, a resend before PUBREL is no new message. */
			if (c->qos2_in[p->pid])
				return 0;
			c->qos2_in[p->pid] = 1;
		}
		on_message(r, c, p, now);
		return 0;
	case SL_MQTT_PUBREL:
		if (c->qos2_in)
			c->qos2_in[p->pid] = 0;
		return QUEUE(r, c, 16, mlg_wire_ack(r->cf, _b, ROOM(c), SL_MQTT_PUBCOMP, p->pid)) < 0
			       ? -1 : 0;
	case SL_MQTT_PUBACK:
		if (c->pid_state && c->pid_state[p->pid] == 1)
			pid_free(r, c, p->pid, p->rc < 0x80, now);
		return 0;
	case SL_MQTT_PUBREC:
		if (!c->pid_state || c->pid_state[p->pid] != 1)
			return 0;
		if (p->rc >= 0x80) {
			pid_free(r, c, p->pid, false, now);
			return 0;
		}
		c->pid_state[p->pid] = 2;
		return QUEUE(r, c, 16, mlg_wire_ack(r->cf, _b, ROOM(c), SL_MQTT_PUBREL, p->pid)) < 0
			       ? -1 : 0;
	case SL_MQTT_PUBCOMP:
		if (c->pid_state && c->pid_state[p->pid] == 2)
			pid_free(r, c, p->pid, p->rc < 0x80, now);
		return 0;
	case SL_MQTT_PINGRESP:
		return 0;
	case SL_MQTT_DISCONNECT:
		r->errors++;
		snprintf(r->fail_buf, sizeof(r->fail_buf),
			 "the broker sent DISCONNECT (reason code 0x%02x)", p->rc);
		if (r->fail == NULL)
			r->fail = r->fail_buf;
		return -1;
	default:
		r->errors++;
		fail(r, "unexpected packet from the broker", EPROTO);
		return -1;
	}
}

/* Read what @c has, handle every whole packet. */
static void
on_readable(struct mlg_run *r, struct mlg_conn *c)
{
	/* A few reads per event, so one busy subscriber does not starve the schedule. */
	for (int reads = 0; reads < 8; reads++) {
		size_t off = 0, room;
		ssize_t n;
		uint64_t now;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap * 2;
			uint8_t *b = cap <= MLG_PACKET_MAX * 2 ? realloc(c->in, cap) : NULL;

			if (b == NULL) {
				r->errors++;
				fail(r, "a packet from the broker larger than expected", EMSGSIZE);
				conn_close(r, c);
				return;
			}
			c->in = b;
			c->in_cap = cap;
		}
		room = c->in_cap - c->in_len;
		n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			if (c->role != MLG_SESS || c->state != MLG_READY) {
				r->errors++;
				fail(r, "the broker closed a connection", n < 0 ? errno : 0);
			}
			conn_close(r, c);
			return;
		}
		c->in_len += (size_t)n;
		now = mlg_now_ns();
		while (off < c->in_len) {
			struct mlg_pkt p;
			long len = mlg_wire_decode(r->cf, c->in + off, c->in_len - off, &p);

			if (len == 0)
				break;
			if (len < 0 || on_packet(r, c, &p, now) < 0) {
				if (len < 0) {
					r->errors++;
					fail(r, "a malformed packet from the broker", (int)-len);
				}
				conn_close(r, c);
				return;
			}
			off += (size_t)len;
			if (c->fd < 0) /* a session closed itself */
				return;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
		if ((size_t)n < room)
			break; /* a short read: the socket is empty */
	}
	if (c->fd >= 0 && out_pending(c) > 0)
		flush(r, c);
}

static void
on_event(struct mlg_run *r, struct mlg_conn *c, uint32_t ev)
{
	if (c->fd < 0)
		return;
	if (c->state == MLG_TCP) {
		if (on_tcp_up(r, c) < 0)
			return;
	} else if (ev & EPOLLOUT) {
		if (flush(r, c) < 0)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(r, c);
}

/* Wait up to @timeout_ns for events and handle them. */
static void
poll_once(struct mlg_run *r, uint64_t timeout_ns)
{
	struct epoll_event evs[MAX_EVENTS];
	struct timespec ts = { (time_t)(timeout_ns / MLG_NS_PER_S),
			       (long)(timeout_ns % MLG_NS_PER_S) };
	int n = epoll_pwait2(r->ep, evs, MAX_EVENTS, &ts, NULL);

	for (int i = 0; i < n; i++)
		on_event(r, evs[i].data.ptr, evs[i].events);
}

static int
resolve(const struct mlg_conf *cf, struct addrinfo **ai)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	int rc = getaddrinfo(cf->host, cf->port, &hints, ai);

	if (rc != 0) {
		fprintf(stderr, MLG_NAME ": cannot resolve %s:%s: %s\n", cf->host, cf->port,
			gai_strerror(rc));
		return -1;
	}
	return 0;
}

static int
conns_alloc(struct mlg_run *r)
{
	const struct mlg_conf *cf = r->cf;
	size_t in_cap = MLG_IN_BUF;

	while (in_cap < 2 * ((size_t)cf->size + 512))
		in_cap *= 2;
	r->pubs = calloc(cf->pubs ? cf->pubs : 1, sizeof(*r->pubs));
	r->subs = calloc(cf->subs ? cf->subs : 1, sizeof(*r->subs));
	if (r->pubs == NULL || r->subs == NULL)
		return -ENOMEM;
	for (unsigned k = 0; k < cf->pubs; k++) {
		struct mlg_conn *c = &r->pubs[k];

		c->fd = -1, c->role = MLG_PUB, c->idx = k;
		c->in_cap = 4096;
		c->in = malloc(c->in_cap);
		c->pid_state = calloc(65536, 1);
		c->next_pid = 1;
		if (c->in == NULL || c->pid_state == NULL || out_room(c, MLG_OUT_HIGH * 2) == NULL)
			return -ENOMEM;
	}
	for (unsigned k = 0; k < cf->subs; k++) {
		struct mlg_conn *c = &r->subs[k];

		c->fd = -1, c->role = MLG_SUB, c->idx = k;
		c->in_cap = in_cap;
		c->in = malloc(c->in_cap);
		c->seen = calloc(cf->pubs ? cf->pubs : 1, sizeof(*c->seen));
		c->qos2_in = calloc(65536, 1);
		if (c->in == NULL || c->seen == NULL || c->qos2_in == NULL ||
		    out_room(c, 64 << 10) == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* Connect every publisher and subscriber, wait for CONNACKs and SUBACKs. */
static int
connect_all(struct mlg_run *r)
{
	struct addrinfo *ai;
	uint64_t deadline;
	int rc = 0;

	if (resolve(r->cf, &ai) < 0)
		return -1;
	for (unsigned k = 0; k < r->cf->subs && rc == 0; k++)
		rc = conn_open(r, &r->subs[k], ai);
	for (unsigned k = 0; k < r->cf->pubs && rc == 0; k++)
		rc = conn_open(r, &r->pubs[k], ai);
	freeaddrinfo(ai);
	if (rc < 0) {
		fail(r, "opening a connection", -rc);
		return -1;
	}
	deadline = mlg_now_ns() + MLG_CONNECT_NS;
	for (;;) {
		unsigned ready = 0;

		for (unsigned k = 0; k < r->cf->subs; k++)
			ready += r->subs[k].state == MLG_READY;
		for (unsigned k = 0; k < r->cf->pubs; k++)
			ready += r->pubs[k].state == MLG_READY;
		if (ready == r->cf->subs + r->cf->pubs)
			return 0;
		if (r->fail != NULL)
			return -1;
		if (mlg_now_ns() > deadline) {
			fail(r, "connections not ready (CONNACK/SUBACK) within 10 s", ETIMEDOUT);
			return -1;
		}
		poll_once(r, 10000000);
	}
}

/* Intended send time of message @i of publisher @k: message i * P + k of one schedule at
 * the total rate, so publishers interleave evenly. */
static uint64_t
due_ns(const struct mlg_run *r, unsigned k, uint64_t i)
{
	double j = (double)i * r->cf->pubs + k;

	return r->t0_ns + (uint64_t)(j * 1e9 / r->cf->rate);
}

static bool
pub_can_send(const struct mlg_run *r, const struct mlg_conn *c)
{
	uint32_t cap = r->cf->inflight < c->recv_max ? r->cf->inflight : c->recv_max;

	if (c->fd < 0 || c->state != MLG_READY || out_pending(c) >= MLG_OUT_HIGH)
		return false;
	if (r->cf->qos > 0 && c->inflight >= cap)
		return false;
	if (r->ns_per_msg == 0 && r->cf->subs > 0) {
		/* Max rate: at most --window ahead of the slowest subscriber's newest. */
		for (unsigned s = 0; s < r->cf->subs; s++)
			if (r->subs[s].fd >= 0 &&
			    c->next - r->subs[s].seen[c->idx].next_min >= r->cf->window)
				return false;
	}
	return true;
}

static int
pub_one(struct mlg_run *r, struct mlg_conn *c, uint8_t *payload, uint64_t sched, uint64_t now)
{
	struct mlg_payload pl = { .pub = c->idx, .run = r->run_id, .index = c->next,
				  .sched_ns = sched };
	char topic[256];
	uint16_t pid = 0;
	long n;

	snprintf(topic, sizeof(topic), "%s/%u", r->cf->topic, r->cf->one_topic ? 0 : c->idx);
	memcpy(payload, &pl, sizeof(pl));
	if (r->cf->qos > 0) {
		while (c->pid_state[c->next_pid] != 0 || c->next_pid == 0)
			c->next_pid++;
		pid = c->next_pid++;
	}
	n = QUEUE(r, c, r->cf->size + strlen(topic) + 64,
		  mlg_wire_publish(r->cf, _b, ROOM(c), topic, r->cf->qos, pid, payload,
				   r->cf->size));
	if (n < 0)
		return -1;
	if (pid) {
		c->pid_state[pid] = 1;
		c->inflight++;
	}
	c->next++;
	c->sent++;
	if (now >= r->warm_end_ns && sched < r->send_end_ns) {
		r->sent_win++;
		sl_hist_record(&r->late, now > sched ? now - sched : 0);
	}
	return 0;
}

/* Messages publisher @k is to send in rate mode. */
static uint64_t
pub_quota(const struct mlg_run *r, unsigned k)
{
	return r->quota - (k >= r->quota_rem);
}

/* Encode what publisher @c has due by @now (a burst at most) and write it. Returns the
 * messages sent. */
static unsigned
pub_send_due(struct mlg_run *r, struct mlg_conn *c, uint8_t *payload, uint64_t now)
{
	unsigned n = 0;

	while (n < MLG_BURST && pub_can_send(r, c)) {
		uint64_t sched;

		if (r->ns_per_msg) {
			if (c->next >= pub_quota(r, c->idx))
				break;
			sched = due_ns(r, c->idx, c->next);
			if (sched > now)
				break;
		} else {
			if (now >= r->send_end_ns)
				break;
			sched = now;
		}
		if (pub_one(r, c, payload, sched, now) < 0)
			break;
		n++;
	}
	if (n && c->fd >= 0)
		flush(r, c);
	return n;
}

static bool
sending_done(const struct mlg_run *r, uint64_t now)
{
	if (r->ns_per_msg == 0)
		return now >= r->send_end_ns;
	for (unsigned k = 0; k < r->cf->pubs; k++)
		if (r->pubs[k].fd >= 0 && r->pubs[k].next < pub_quota(r, k))
			return false;
	return true;
}

/* Everything sent was acknowledged and reached every subscriber. */
static uint64_t
progress(const struct mlg_run *r, bool *complete)
{
	uint64_t sent = 0, got = 0, acked = 0;
	bool all = true;

	for (unsigned k = 0; k < r->cf->pubs; k++) {
		const struct mlg_conn *c = &r->pubs[k];

		sent += c->sent;
		acked += c->acked + c->nacked;
		if (c->fd >= 0 && out_pending(c) > 0)
			all = false;
		if (r->cf->qos > 0 && c->acked + c->nacked < c->sent)
			all = false;
	}
	for (unsigned s = 0; s < r->cf->subs; s++) {
		got += r->subs[s].received + r->subs[s].dups;
		if (r->subs[s].received < sent && r->subs[s].fd >= 0)
			all = false;
	}
	*complete = all;
	return got + acked;
}

static void
keepalive(struct mlg_run *r, struct mlg_conn *c, uint64_t now)
{
	uint64_t every = (uint64_t)r->cf->keepalive * MLG_NS_PER_S / 2;

	if (c->fd < 0 || c->state != MLG_READY || every == 0)
		return;
	if (c->last_ping_ns == 0)
		c->last_ping_ns = now;
	if (now - c->last_ping_ns < every)
		return;
	c->last_ping_ns = now;
	if (QUEUE(r, c, 8, mlg_wire_pingreq(r->cf, _b, ROOM(c))) > 0)
		flush(r, c);
}

static uint64_t
next_wake(const struct mlg_run *r, uint64_t now, bool sending)
{
	uint64_t wake = now + 10000000; /* 10 ms: keep-alive and end checks */

	if (!sending)
		return wake;
	if (r->send_end_ns > now && r->send_end_ns < wake)
		wake = r->send_end_ns;
	for (unsigned k = 0; k < r->cf->pubs; k++) {
		const struct mlg_conn *c = &r->pubs[k];

		if (!pub_can_send(r, c))
			continue; /* an ack, a delivery or a writable socket wakes us */
		if (r->ns_per_msg == 0)
			return now;
		if (c->next < pub_quota(r, k)) {
			uint64_t d = due_ns(r, k, c->next);

			if (d < wake)
				wake = d;
		}
	}
	return wake > now ? wake : now;
}

static void
disconnect_all(struct mlg_run *r)
{
	struct mlg_conn *sets[2] = { r->pubs, r->subs };
	unsigned counts[2] = { r->cf->pubs, r->cf->subs };

	for (int s = 0; s < 2; s++)
		for (unsigned k = 0; k < counts[s]; k++) {
			struct mlg_conn *c = &sets[s][k];

			if (c->fd < 0)
				continue;
			if (QUEUE(r, c, 16, mlg_wire_disconnect(r->cf, _b, ROOM(c))) > 0)
				flush(r, c);
			conn_close(r, c);
		}
}

int
mlg_run_load(struct mlg_run *r)
{
	const struct mlg_conf *cf = r->cf;
	uint8_t *payload = calloc(1, cf->size);
	uint64_t now, last = 0, last_move, drain_end = 0;
	int rc = -1;

	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (payload == NULL || r->ep < 0 || conns_alloc(r) < 0) {
		fail(r, "setting up", ENOMEM);
		goto out;
	}
	if (connect_all(r) < 0)
		goto out;
	/* Subscriptions are in place once SUBACK came; start a little later so the
	 * first due messages are not all late by the set-up's own time. */
	r->t0_ns = mlg_now_ns() + 1000000;
	r->warm_end_ns = r->t0_ns + (uint64_t)(cf->warmup_s * 1e9);
	r->send_end_ns = r->warm_end_ns + (uint64_t)(cf->duration_s * 1e9);
	if (cf->rate > 0) {
		/* Messages due before send_end, split over publishers in schedule order. */
		uint64_t total = (uint64_t)((cf->warmup_s + cf->duration_s) * cf->rate);

		r->ns_per_msg = (uint64_t)(1e9 * cf->pubs / cf->rate);
		if (r->ns_per_msg == 0)
			r->ns_per_msg = 1;
		r->quota = total / cf->pubs + 1;
		r->quota_rem = (unsigned)(total % cf->pubs);
	}
	last_move = mlg_now_ns();
	for (;;) {
		bool sending, complete;
		uint64_t moved;

		now = mlg_now_ns();
		sending = !sending_done(r, now);
		if (sending)
			for (unsigned k = 0; k < cf->pubs; k++)
				pub_send_due(r, &r->pubs[k], payload, now);
		for (unsigned k = 0; k < cf->pubs; k++)
			keepalive(r, &r->pubs[k], now);
		for (unsigned k = 0; k < cf->subs; k++) {
			keepalive(r, &r->subs[k], now);
			if (r->subs[k].fd >= 0 && out_pending(&r->subs[k]) > 0)
				flush(r, &r->subs[k]);
		}
		moved = progress(r, &complete);
		if (moved != last) {
			last = moved;
			last_move = now;
		}
		if (!sending) {
			if (drain_end == 0) {
				drain_end = now + cf->drain_ms * 1000000ull;
				r->send_s = (double)(now - r->t0_ns) / 1e9;
			}
			if (complete || now >= drain_end || now - last_move > MLG_STALL_NS)
				break;
		}
		poll_once(r, next_wake(r, now, sending) - now);
	}
	r->stalled_ns = now - last_move;
	rc = 0;
out:
	disconnect_all(r);
	free(payload);
	if (r->ep >= 0)
		close(r->ep);
	return rc;
}

/* --sessions N: N connections, at most --parallel at once, each CONNECT (persistent
 * session), SUBSCRIBE to its own filter at QoS 1, DISCONNECT; or with --sessions-clear,
 * CONNECT with a clean session, which ends the stored one, and DISCONNECT. */
int
mlg_run_sessions(struct mlg_run *r)
{
	const struct mlg_conf *cf = r->cf;
	struct mlg_conn *c = calloc(cf->sessions, sizeof(*c));
	struct addrinfo *ai = NULL;
	unsigned opened = 0, finished = 0, ok = 0;
	uint64_t t0 = mlg_now_ns();
	int rc = -1;

	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c == NULL || r->ep < 0 || resolve(cf, &ai) < 0)
		goto out;
	while (finished < cf->sessions) {
		uint64_t now = mlg_now_ns();

		while (opened < cf->sessions && opened - finished < cf->parallel) {
			struct mlg_conn *x = &c[opened];
			int e;

			x->role = MLG_SESS, x->idx = opened++;
			x->in_cap = 4096;
			x->in = malloc(x->in_cap);
			if (x->in == NULL || out_room(x, 1024) == NULL) {
				fail(r, "setting up", ENOMEM);
				goto out;
			}
			e = conn_open(r, x, ai);
			if (e < 0) {
				r->connect_failures++;
				fail(r, "opening a connection", -e);
				x->state = MLG_CLOSED;
			}
		}
		poll_once(r, 10000000);
		now = mlg_now_ns();
		finished = 0, ok = 0;
		for (unsigned i = 0; i < opened; i++) {
			if (c[i].fd >= 0 && now - c[i].started_ns > MLG_CONNECT_NS) {
				fail(r, "a session not made within 10 s", ETIMEDOUT);
				conn_close(r, &c[i]);
				c[i].state = MLG_CLOSED;
			}
			if (c[i].fd < 0) {
				finished++;
				ok += c[i].state == MLG_READY;
			}
		}
	}
	rc = 0;
out:
	if (ai)
		freeaddrinfo(ai);
	for (unsigned i = 0; c && i < opened; i++) {
		if (c[i].fd >= 0)
			close(c[i].fd);
		free(c[i].in);
		free(c[i].out);
	}
	free(c);
	if (r->ep >= 0)
		close(r->ep);
	if (rc == 0)
		rc = mlg_report_sessions(r, ok, (double)(mlg_now_ns() - t0) / 1e9);
	return rc;
}
