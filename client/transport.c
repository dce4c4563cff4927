/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice transport: the UDP socket or the shared-memory rings (shm_link.c), sending,
 * waiting and receiving bursts. */

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "client_internal.h"
#include "fault.h"

int
sl_cl_tx(struct sl_client *c, const void *buf, size_t len)
{
	if (c->shm.r) {
		if (sl_shm_link_send(&c->shm, buf, (uint32_t)len) < 0)
			return -EAGAIN;
		c->last_tx_ns = sl_now_ns();
		return 0;
	}
	if (sl_cl_fault_tx_lose()) {
		c->last_tx_ns = sl_now_ns(); /* lost on the way, as far as anyone can tell */
		return 0;
	}
	if (send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* ENOBUFS is the kernel's other way of saying the queue is full. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return -EAGAIN;
		return -errno;
	}
	c->last_tx_ns = sl_now_ns();
	return 0;
}

/* Sealed, the batch is one SEAL: its frames start after the seal header
 * and share one tag (and one seq). */
int
sl_cl_flush(struct sl_client *c)
{
	struct batch *b = &c->batch;
	uint32_t len = b->end;
	int rc;

	if (b->frames == 0)
		return 0;
	if (c->auth.sealing)
		len = sl_cl_seal(c, b->buf, b->end);
	rc = sl_cl_tx(c, b->buf, len);
	if (rc < 0) {
		if (c->auth.sealing)
			sl_cl_unseal(c, b->buf, len); /* kept for the next try */
		return rc;
	}
	c->st.datagrams++;
	b->frames = 0;
	b->end = 0;
	return 0;
}

void
sl_cl_batch_drop(struct sl_client *c)
{
	c->batch.frames = 0;
	c->batch.end = 0;
}

/* Where the first frame of a datagram goes, and what follows the last. */
static uint32_t
batch_head(const struct sl_client *c)
{
	return c->auth.sealing ? SL_SEAL_HDR_LEN : 0;
}

static uint32_t
batch_tail(const struct sl_client *c)
{
	return c->auth.sealing ? SL_TAG_LEN : 0;
}

void *
sl_cl_tx_claim(struct sl_client *c, uint32_t flen)
{
	struct batch *b = &c->batch;
	uint32_t room = sl_proto_align(flen) + batch_tail(c);
	uint32_t at;

	if (c->shm.r)
		return sl_shm_link_claim(&c->shm, flen);
	if (batch_head(c) + room > SL_MAX_DATAGRAM)
		return NULL;
	at = b->frames > 0 ? sl_proto_align(b->end) : batch_head(c);
	if (b->frames > 0 && at + room > SL_MAX_DATAGRAM) {
		if (sl_cl_flush(c) < 0)
			return NULL;
		at = batch_head(c);
	}
	/* Padding between frames: defined bytes, as the parser skips them. */
	if (b->frames > 0)
		memset((uint8_t *)b->buf + b->end, 0, at - b->end);
	return (uint8_t *)b->buf + at;
}

int
sl_cl_tx_commit(struct sl_client *c, void *frame, uint32_t flen)
{
	struct batch *b = &c->batch;
	uint32_t end0 = b->end;
	int rc;

	if (c->shm.r) {
		sl_shm_link_commit(&c->shm, flen);
		c->tx_count++; /* no clock read per record: the next tick times it */
		return 0;
	}
	b->end = (uint32_t)((uint8_t *)frame - (uint8_t *)b->buf + flen);
	if (b->frames++ == 0)
		b->first_ns = sl_now_ns();
	/* Full when not even the smallest publish would fit after it. */
	if (b->flush_ns != 0 &&
	    sl_proto_align(b->end) + FRAME_ROOM(sizeof(struct sl_publish) + 8) + batch_tail(c) <=
		    SL_MAX_DATAGRAM)
		return 0;
	rc = sl_cl_flush(c);
	if (rc < 0 && b->flush_ns == 0) {
		/* Unbatched: the frame was not sent, and takes no number. */
		b->end = end0;
		b->frames--;
		return rc;
	}
	return 0;
}

/* The broker stopped serving this client; last_error says why (enum
 * sl_shm_notice @why; 0 when it gave none). A dataplane that went away
 * without a word is reattached to (reconnect.c); one that cut this client
 * off (too slow, or it broke the ring) gave its verdict: every call fails
 * -ENOTCONN, as attaching again would only end the same way. */
void
sl_cl_shm_end(struct sl_client *c, uint32_t why)
{
	c->st.last_error = why == SL_SHM_CUT_SLOW ? SL_E_SLOW_CONSUMER
			   : why == SL_SHM_CUT_CORRUPT ? SL_E_BAD_FRAME : SL_E_NO_SESSION;
	if (why == SL_SHM_CUT_SLOW || why == SL_SHM_CUT_CORRUPT) {
		c->dead = true;
		if (c->pend.kind != PEND_NONE && !c->pend.done)
			sl_cl_pend_finish(&c->pend, -ENOTCONN);
		return;
	}
	sl_cl_session_lost(c, c->st.last_error);
}

/* Has the dataplane's end of the attach socket closed? One poll(2), at the
 * heartbeat interval only. */
bool
sl_cl_shm_broker_gone(const struct sl_client *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

/* Returns 1 when readable, 0 on timeout, -errno (-EINTR included) on failure. */
int
sl_cl_wait_readable(struct sl_client *c, uint64_t ns)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };

	if (c->shm.r)
		return sl_shm_link_wait(&c->shm, ns) || sl_shm_link_notice(&c->shm);
	if (ppoll(&p, 1, &ts, NULL) < 0)
		return -errno;
	return p.revents != 0;
}

bool
sl_cl_rx_error_transient(int err)
{
	/* ECONNREFUSED is an ICMP error from an earlier send: the broker may
	 * not be up yet, which is the same as no answer so far. */
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNREFUSED;
}

/* One record from the broker's rings: its length, 0 if none, -ENOTCONN
 * when the broker stopped serving this client (its notice says why). */
ssize_t
sl_cl_shm_recv(struct sl_client *c, struct dgram *d)
{
	size_t big_cap = sizeof(struct sl_deliver) + SL_MAX_MESSAGE;
	int in_big = 0, n;
	uint32_t why;

	/* Over shared memory the broker writes a large message whole, up to
	 * the region's max_deliver: one such record at a time is read into
	 * the big buffer, the next waits in the ring until it is free. */
	if (c->big_rx == NULL && c->shm.r->max_deliver > SL_MAX_DATAGRAM)
		c->big_rx = malloc(big_cap);
	if (c->big_rx == NULL)
		big_cap = 0;
	n = sl_shm_link_recv_big(&c->shm, d->data, sizeof(d->data),
				 c->big_rx_busy ? NULL : c->big_rx, big_cap, &in_big, c->session);
	d->ext = NULL;
	if (n == -EMSGSIZE) {
		c->st.bad_frames++; /* larger than the region says the broker writes */
		return 0;
	}
	if (n == -EPROTO) {
		c->st.bad_frames++;
		sl_cl_shm_end(c, SL_SHM_CUT_CORRUPT);
		return -ENOTCONN;
	}
	if (n > 0) {
		if (in_big) {
			d->ext = c->big_rx;
			c->big_rx_busy = true;
		}
		c->rx_count++; /* no clock read per record: the next tick times it */
		return n;
	}
	why = sl_shm_link_notice(&c->shm);
	if (why == SL_SHM_SERVED)
		return 0;
	sl_cl_shm_end(c, why);
	return -ENOTCONN;
}

void
sl_cl_dgram_done(struct sl_client *c, struct dgram *d)
{
	if (d->ext != NULL) {
		d->ext = NULL;
		c->big_rx_busy = false;
	}
}

int
sl_cl_resolve_host(const char *host, uint16_t port, struct sockaddr_in *sa)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;
	int rc;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	switch (rc) {
	case 0:
		break;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_SYSTEM:
		return -errno;
	default:
		return -ENOENT;
	}
	sa->sin_addr = ((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(ai);
	return 0;
}

static void
sockbuf_set(int fd, int force_opt, int opt, uint32_t bytes)
{
	int v = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;

	/* The FORCE variants pass net.core.[rw]mem_max but need CAP_NET_ADMIN;
	 * without it the plain option is capped by the kernel, which is fine. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

int
sl_cl_socket_open(struct sl_client *c, const struct sockaddr_in *sa, const struct sl_client_opts *o)
{
	unsigned int i;

	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	sockbuf_set(c->fd, SO_SNDBUFFORCE, SO_SNDBUF, o->sndbuf ? o->sndbuf : DEFAULT_SOCKBUF);
	sockbuf_set(c->fd, SO_RCVBUFFORCE, SO_RCVBUF, o->rcvbuf ? o->rcvbuf : DEFAULT_SOCKBUF);
	/* Connected: the kernel drops datagrams from anyone but the broker. */
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int rc = -errno;

		close(c->fd);
		return rc;
	}
	for (i = 0; i < RX_BURST; i++) {
		c->rx_iov[i].iov_base = c->rx[i].data;
		c->rx_iov[i].iov_len = sizeof(c->rx[i].data);
		c->rx_msg[i].msg_hdr.msg_iov = &c->rx_iov[i];
		c->rx_msg[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

int
sl_cl_rx_burst(struct sl_client *c)
{
	bool live = false;
	int n;
	int i;

	if (c->shm.r) {
		ssize_t len = 0;

		for (n = 0; n < RX_BURST; n++) {
			len = sl_cl_shm_recv(c, &c->rx[n]);
			if (len <= 0)
				break;
			c->rx[n].len = (uint32_t)len;
			c->rx[n].off = 0;
			c->rx[n].sealed = false; /* shared memory is never sealed */
		}
		c->rx_i = 0;
		c->rx_n = (unsigned int)n;
		return n > 0 || len == 0 ? n : (int)len;
	}
	n = recvmmsg(c->fd, c->rx_msg, RX_BURST, MSG_DONTWAIT, NULL);
	if (n < 0)
		return sl_cl_rx_error_transient(errno) ? 0 : -errno;
	for (i = 0; i < n; i++) {
		c->rx[i].len = c->rx_msg[i].msg_len;
		c->rx[i].off = 0;
		c->rx[i].ext = NULL;
		if (c->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			c->st.bad_frames++; /* larger than any v1 peer sends */
			c->rx[i].len = 0;
		}
		if (sl_cl_fault_rx_lose())
			c->rx[i].len = 0; /* as if it never arrived */
		/* A datagram it drops reads as empty, and is no sign of life:
		 * forgeries must not keep a dead session looking alive. */
		if (sl_cl_rx_open(c, &c->rx[i]) && c->rx[i].len > 0)
			live = true;
	}
	if (live)
		c->rc.last_rx_ns = sl_now_ns();
	c->rx_i = 0;
	c->rx_n = (unsigned int)n;
	return n;
}
