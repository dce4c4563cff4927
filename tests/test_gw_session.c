/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's logic without processes: settings, the outbound window and queue, retained log. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw.h"

#include "check.h"

static struct gw_msg *
msg(const char *topic, const char *payload, uint8_t qos)
{
	struct gw_msg *m = gw_msg_new((uint32_t)(strlen(topic) + strlen(payload)));

	memcpy(m->data, topic, strlen(topic));
	m->topic_len = (uint16_t)strlen(topic);
	memcpy(m->data + m->topic_len, payload, strlen(payload));
	m->len = (uint32_t)strlen(payload);
	m->qos = qos;
	return m;
}

static void
test_conf(void)
{
	char path[] = "/tmp/test_gw_confXXXXXX";
	char *argv[] = { "sluice-mqtt", "--port", "2000", "--config", path, "--max-inflight=7", NULL };
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "# a comment\nmax_inflight = 3\nallow-anonymous\nshm = dp1\n");
	fclose(f);
	gw_conf_defaults(&gw.conf);
	CHECK(gw.conf.port == 1883 && gw.conf.max_inflight == 64 && !gw.conf.allow_anonymous);
	CHECK(gw_conf_parse(&gw.conf, 6, argv) == 0);
	CHECK(gw.conf.port == 2000);
	CHECK(gw.conf.max_inflight == 7); /* the flag after --config wins */
	CHECK(gw.conf.allow_anonymous);
	CHECK(!strcmp(gw.conf.shm, "dp1"));
	CHECK(!strcmp(gw.conf.name, "mqtt-2000"));
	{
		char *bad[] = { "sluice-mqtt", "--port", "70000", NULL };
		char *unk[] = { "sluice-mqtt", "--nope", NULL };

		CHECK(gw_conf_parse(&gw.conf, 3, bad) == -1);
		CHECK(gw_conf_parse(&gw.conf, 2, unk) == -1);
	}
	unlink(path);
}

/* Decode the PUBLISH packets written to @c: their packet ids and DUP flags. */
static int
sent(struct gw_conn *c, uint16_t *ids, bool *dup, int max)
{
	struct sl_mqtt_packet p;
	uint32_t off = c->tx_off;
	int n = 0, len;

	while (off < c->tx_len && n < max) {
		len = sl_mqtt_parse(c->tx + off, c->tx_len - off, 0, c->level, SL_MQTT_CLIENT, &p);
		if (len <= 0)
			break;
		if (p.type == SL_MQTT_PUBLISH) {
			ids[n] = p.u.publish.packet_id;
			dup[n] = p.u.publish.dup;
			n++;
		}
		off += (uint32_t)len;
	}
	c->tx_off = c->tx_len = 0;
	return n;
}

static void
test_window(void)
{
	struct gw_user *u = calloc(1, sizeof(*u));
	struct gw_conn *c = calloc(1, sizeof(*c));
	struct gw_sess *s;
	struct gw_msg *m[10];
	uint16_t ids[16];
	bool dup[16];
	int i, n;

	gw_conf_defaults(&gw.conf);
	gw.conf.max_inflight = 8;
	gw.conf.max_queued = 5;
	u->refs = 100;
	u->pend = calloc(1, sizeof(*u->pend));
	c->level = SL_MQTT_V5;
	c->state = GW_CONN_UP;
	c->max_packet_out = SL_MQTT_MAX_PACKET;
	c->fd = -1;
	s = gw_sess_new("c1", 2, u);
	s->conn = c;
	c->sess = s;
	s->cap_infl = 4; /* as if the client's Receive Maximum were 4 */
	for (i = 0; i < 10; i++) {
		m[i] = msg("a/b", "x", 1);
		gw_out_deliver(s, m[i], 1, 0, 0);
	}
	n = sent(c, ids, dup, 16);
	CHECK(n == 4);		/* the window */
	CHECK(s->n_infl == 4);
	CHECK(s->q_len == 5);	/* max-queued: the 10th dropped */
	CHECK(gw_ctr[GW_C_queue_full] == 1);
	CHECK(ids[0] == 1 && ids[3] == 4 && !dup[0]);
	gw_out_ack(s, SL_MQTT_PUBACK, 2, 0);
	n = sent(c, ids, dup, 16);
	CHECK(n == 1 && s->n_infl == 4 && s->q_len == 4);
	gw_out_ack(s, SL_MQTT_PUBACK, 2, 0); /* a repeated ack changes nothing */
	CHECK(s->n_infl == 4);
	/* A reconnect: the four unacknowledged go again with DUP. */
	gw_out_resume(s);
	n = sent(c, ids, dup, 16);
	CHECK(n == 4 && dup[0] && dup[3]);
	/* QoS 0 to a slow client is dropped, not queued. */
	gw.conf.tx_max = 4096;
	c->tx_len = 8192;
	c->tx_cap = 0;
	gw_out_deliver(s, m[0], 0, 0, 0);
	CHECK(gw_ctr[GW_C_pub_out_dropped] == 1);
	c->tx_len = 0;
	/* An expired message is not sent. */
	gw.now_ns = 1000;
	m[1]->expiry_ns = 500;
	gw_out_deliver(s, m[1], 0, 0, 0);
	CHECK(gw_ctr[GW_C_pub_out_expired] == 1);
	for (i = 0; i < 10; i++)
		gw_msg_unref(m[i]);
	s->conn = NULL;
	c->sess = NULL;
	gw_out_release(s);
	{
		uint64_t used, pooled;

		gw_msg_stats(&used, &pooled);
		CHECK(used == 0); /* every reference given back */
	}
	free(c->tx);
	free(c);
}

static void
test_retained(void)
{
	char dir[] = "/tmp/test_gw_retXXXXXX";
	struct gw_msg *a, *b, *del;
	char cmd[128];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(gw.conf.name, sizeof(gw.conf.name), "t");
	CHECK(gw_retain_open(dir) == 0);
	a = msg("r/a", "one", 1);
	b = msg("r/b", "two", 0);
	del = msg("r/a", "", 0);
	gw_retain_set(a);
	gw_retain_set(b);
	CHECK(gw_ctr[GW_C_retained] == 2);
	gw_retain_set(del);
	CHECK(gw_ctr[GW_C_retained] == 1);
	gw_retain_set(a);
	gw_retain_close();
	/* A torn record at the end (a crash mid-write) is ignored. */
	snprintf(cmd, sizeof(cmd), "printf '1NTR\\377' >> %s/retained-t.log", dir);
	CHECK(system(cmd) == 0);
	gw_ctr[GW_C_retained] = 0;
	CHECK(gw_retain_open(dir) == 0);
	CHECK(gw_ctr[GW_C_retained] == 2);
	gw_retain_close();
	gw_msg_unref(a);
	gw_msg_unref(b);
	gw_msg_unref(del);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

static void
test_props(void)
{
	/* payload format 1, topic alias 5, user property ("k","v"), expiry 9 */
	static const uint8_t in[] = { 0x01, 1, 0x23, 0, 5, 0x26, 0, 1, 'k', 0, 1, 'v',
				      0x02, 0, 0, 0, 9 };
	static const uint8_t want[] = { 0x01, 1, 0x26, 0, 1, 'k', 0, 1, 'v' };
	uint8_t out[sizeof(in)];
	uint32_t n = gw_props_forwardable(out, in, sizeof(in));

	CHECK(n == sizeof(want) && !memcmp(out, want, n));
}

/* A gap libsluice reports (the dataplane dropped deliveries toward the
 * gateway, policy drop) is counted, never passed over in silence. */
static void
test_gap_counted(void)
{
	struct gw_user u = { 0 };
	struct sl_event ev = { .type = SL_EV_GAP, .topic_id = 7, .first = 5, .last = 9 };
	uint64_t before = gw_ctr[GW_C_deliveries_lost];

	gw_user_event(&u, &ev);
	CHECK(gw_ctr[GW_C_deliveries_lost] == before + 5);
	ev.first = ev.last = 12;
	gw_user_event(&u, &ev);
	CHECK(gw_ctr[GW_C_deliveries_lost] == before + 6);
	ev = (struct sl_event){ .type = SL_EV_RECONNECTED };
	gw_user_event(&u, &ev);
	CHECK(gw_ctr[GW_C_deliveries_lost] == before + 6);
	CHECK(!u.dead);
}

int
main(void)
{
	test_conf();
	test_window();
	test_retained();
	test_props();
	test_gap_counted();
	if (failures)
		fprintf(stderr, "test_gw_session: %d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
