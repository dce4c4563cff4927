/* SPDX-License-Identifier: BSD-3-Clause */
/* One MQTT connection's bytes: bounded receive and send buffers, framing, closing. */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw.h"
#include "gw_tls.h"

#define RX_INIT 4096u
#define TX_INIT 4096u
#define READ_BUDGET (64u * 1024u) /* bytes read from one socket per wakeup */

uint8_t *
gw_conn_reserve(struct gw_conn *c, uint32_t n)
{
	uint32_t need, cap;
	uint8_t *p;

	if (c->state == GW_CONN_DEAD)
		return NULL;
	if (c->tx_off > 0 && c->tx_off == c->tx_len)
		c->tx_off = c->tx_len = 0;
	need = c->tx_len + n;
	if (need <= c->tx_cap)
		return c->tx + c->tx_len;
	/* Compact before growing: what was written is gone. */
	if (c->tx_off > 0) {
		memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
		c->tx_len -= c->tx_off;
		c->tx_off = 0;
		need = c->tx_len + n;
		if (need <= c->tx_cap)
			return c->tx + c->tx_len;
	}
	/* The bound: 2 * tx_max (QoS 0 stops at tx_max, see gw_out.c). */
	if (need > 2 * gw.conf.tx_max + gw.conf.max_packet)
		return NULL;
	cap = c->tx_cap ? c->tx_cap : TX_INIT;
	while (cap < need)
		cap *= 2;
	p = realloc(c->tx, cap);
	if (p == NULL)
		return NULL;
	c->tx = p;
	c->tx_cap = cap;
	return c->tx + c->tx_len;
}

void
gw_conn_commit(struct gw_conn *c, uint32_t n)
{
	c->tx_len += n;
	gw_conn_want_flush(c);
}

int
gw_conn_send(struct gw_conn *c, const void *pkt, uint32_t n)
{
	uint8_t *p = gw_conn_reserve(c, n);

	if (p == NULL) {
		if (c->state != GW_CONN_DEAD) {
			GW_INC(slow_disconnects);
			gw_conn_kill(c, true);
		}
		return -ENOBUFS;
	}
	memcpy(p, pkt, n);
	gw_conn_commit(c, n);
	return 0;
}

void
gw_conn_kill(struct gw_conn *c, bool will)
{
	if (c->state == GW_CONN_DEAD)
		return;
	if (c->rd_blocked) {
		c->rd_blocked = false;
		gw.n_blocked--;
	}
	c->state = GW_CONN_DEAD;
	c->will_on_close = will;
	gw.reap = true;
}

void
gw_conn_close_after_flush(struct gw_conn *c)
{
	if (c->state == GW_CONN_DEAD)
		return;
	c->state = GW_CONN_CLOSING;
	gw_conn_want_flush(c);
}

void
gw_conn_disconnect(struct gw_conn *c, uint8_t rc, bool will)
{
	struct sl_mqtt_disconnect d = { .rc = rc };
	uint8_t buf[16];
	int n;

	if (c->state == GW_CONN_DEAD)
		return;
	/* A DISCONNECT from the server exists at level 5 only
	 * [MQTT-3.14.0-1]; at level 4 the connection is just closed. */
	if (c->level == SL_MQTT_V5 && c->state == GW_CONN_UP) {
		n = sl_mqtt_enc_disconnect(buf, sizeof(buf), SL_MQTT_V5, SL_MQTT_DISCONNECT, &d);
		if (n > 0)
			gw_conn_send(c, buf, (uint32_t)n);
	}
	c->will_on_close = will;
	gw_conn_close_after_flush(c);
}

static int
rx_room(struct gw_conn *c)
{
	uint32_t cap, max = gw.conf.max_packet + SL_MQTT_MAX_FIXED_HDR;
	uint8_t *p;

	if (c->rx_len < c->rx_cap)
		return 0;
	if (c->rx_cap >= max)
		return -ENOBUFS; /* cannot happen: framing refuses larger first */
	cap = c->rx_cap ? c->rx_cap * 2 : RX_INIT;
	if (cap > max)
		cap = max;
	p = realloc(c->rx, cap);
	if (p == NULL)
		return -ENOMEM;
	c->rx = p;
	c->rx_cap = cap;
	return 0;
}

void
gw_conn_parse(struct gw_conn *c)
{
	struct sl_mqtt_frame f;
	struct sl_mqtt_packet p;
	uint32_t off = 0;
	int n, rc;

	while (c->state == GW_CONN_NEW || c->state == GW_CONN_UP) {
		n = sl_mqtt_frame(c->rx + off, c->rx_len - off, gw.conf.max_packet, &f);
		if (n == 0)
			break;
		if (n < 0) {
			gw_mqtt_bad(c, n, 0);
			break;
		}
		rc = sl_mqtt_decode(&f, c->level ? c->level : SL_MQTT_V311, SL_MQTT_SERVER, &p);
		if (rc < 0) {
			if (f.type == SL_MQTT_CONNECT && c->state == GW_CONN_NEW)
				c->level = p.u.connect.level == SL_MQTT_V5 ? SL_MQTT_V5 : SL_MQTT_V311;
			if (rc == -SL_MQTT_RC_UNSUPPORTED_VERSION || rc == -SL_MQTT_RC_CLIENT_ID_INVALID)
				c->level = p.u.connect.level == SL_MQTT_V5 ? SL_MQTT_V5 : SL_MQTT_V311;
			gw_mqtt_bad(c, rc, f.type);
			break;
		}
		c->last_rx_ns = gw.now_ns;
		if (p.type == SL_MQTT_PUBLISH && c->state == GW_CONN_UP) {
			if (gw_pubin(c, &p.u.publish) == -EAGAIN) {
				/* Back-pressure: keep this packet, stop reading. */
				if (!c->rd_blocked) {
					if (!c->was_blocked)
						GW_INC(pub_in_blocked);
					c->was_blocked = true;
					c->rd_blocked = true;
					gw.n_blocked++;
				}
				break;
			}
			c->was_blocked = false;
		} else {
			gw_mqtt_handle(c, &p);
		}
		off += (uint32_t)n;
	}
	if (off > 0) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	/* Any packet restarts the keep-alive [MQTT-3.1.2-24]. */
	if (c->state == GW_CONN_UP && c->keepalive_s)
		c->deadline_ns = c->last_rx_ns + (uint64_t)c->keepalive_s * 1500000000ull;
}

/*
 * Acknowledge what was just read at once, not with our answer. A client
 * with Nagle's algorithm on (mosquitto_pub's default, libmosquitto's, many
 * others') sends its next small packet only once the previous one is
 * acknowledged; Linux delays that ACK until we send something, and for a
 * QoS 1 PUBLISH that is the PUBACK, which waits for the broker under the
 * topic's durability (async: the next periodic persist, up to 10 ms). So
 * every publish waited for the one before it to be persisted: 6 ms median
 * at 1,000 msg/s through mosquitto_pub. TCP_QUICKACK is not sticky: set
 * after each read. One system call per read, none per message.
 */
static void
quick_ack(struct gw_conn *c)
{
	static const int one = 1;

	if (c->fd >= 0)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

void
gw_conn_input(struct gw_conn *c)
{
	uint32_t budget = READ_BUDGET;
	ssize_t n;

	if (c->rd_blocked)
		return; /* the blocked list resumes it */
	/* TLS may hold decrypted bytes epoll cannot see: read them all. */
	while ((budget > 0 || (c->tls && gw_tls_pending(c->tls))) &&
	       (c->state == GW_CONN_NEW || c->state == GW_CONN_UP)) {
		if (rx_room(c) < 0) {
			gw_conn_kill(c, true);
			return;
		}
		if (c->tls != NULL) {
			n = gw_tls_read(c->tls, c->rx + c->rx_len, c->rx_cap - c->rx_len);
			if (n < 0) {
				errno = (int)-n;
				n = -1;
			}
		} else {
			n = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, MSG_DONTWAIT);
		}
		if (n == 0) {
			/* The client closed without DISCONNECT: the will goes
			 * [MQTT-3.1.2-8]. */
			gw_conn_kill(c, true);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				gw_conn_kill(c, true);
			return;
		}
		GW_ADD(rx_bytes, (uint64_t)n);
		quick_ack(c);
		c->rx_len += (uint32_t)n;
		budget = (uint32_t)n < budget ? budget - (uint32_t)n : 0;
		gw_conn_parse(c);
		if (c->rd_blocked)
			return;
	}
	/* Budget spent with bytes possibly left in the socket: level-triggered
	 * epoll reports it again next iteration, other clients go first. */
}

void
gw_conn_unblock_all(void)
{
	struct gw_conn *c;

	if (gw.n_blocked == 0)
		return;
	for (c = gw.all; c != NULL; c = c->next_all) {
		if (!c->rd_blocked)
			continue;
		c->rd_blocked = false;
		gw.n_blocked--;
		if (c->state == GW_CONN_DEAD)
			continue;
		gw_conn_parse(c);
		if (!c->rd_blocked)
			gw_conn_input(c);
	}
}
