/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pair's service address through the worker's real code on a ring port:
 * ARP for it answered only in a serving role (single, primary), gratuitous
 * ARP at once, +20 ms and +100 ms after becoming primary, datagrams to it
 * taken, and every answer (a handshake's, an ACK, a subscription's DELIVER)
 * sent from the address the client wrote to.
 */

#include <common/cnc.h>
#include <common/proto.h>

#include "dp_harness.h"
#include "vip.h"

#include "check.h"

#define VIP 0x6400000au /* 10.0.0.100, network order */

static struct sl_dp dp;
static struct rte_ring *rx, *tx;

/* One frame the worker sent, copied out of its mbuf. */
struct out {
	uint32_t len;
	uint8_t b[2048];
};

/* Poll @polls times; take at most @max frames the worker sent. */
static unsigned
drain(unsigned polls, struct out *o, unsigned max)
{
	unsigned n = 0;
	void *m = NULL;

	while (polls--)
		sl_worker_poll(dp.workers[0]);
	while (rte_ring_dequeue(tx, &m) == 0) {
		struct rte_mbuf *mb = m;

		if (n < max && mb->pkt_len <= sizeof(o[n].b)) {
			o[n].len = mb->pkt_len;
			memcpy(o[n].b, rte_pktmbuf_read(mb, 0, mb->pkt_len, o[n].b), mb->pkt_len);
			n++;
		}
		rte_pktmbuf_free(mb);
	}
	return n;
}

/* An ARP request from the client for @target. */
static void
send_arp(uint32_t target)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pkt_pool);
	uint32_t client = HARNESS_CLIENT_IP;
	uint8_t *f, *a;

	CHECK(m != NULL);
	if (m == NULL)
		return;
	f = (uint8_t *)rte_pktmbuf_append(m, 60);
	CHECK(f != NULL);
	if (f == NULL)
		return;
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, harness_client_mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	a = f + 14;
	a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = 1;
	memcpy(a + 8, harness_client_mac, 6);
	memcpy(a + 14, &client, 4);
	memcpy(a + 24, &target, 4);
	CHECK(rte_ring_enqueue(rx, m) == 0);
}

/* A datagram of @len bytes of frames from the client's @port to @dst. */
static void
send_to(uint32_t dst, uint16_t port, const void *frames, uint32_t len)
{
	CHECK(harness_send_to(&dp, rx, dst, port, frames, len) == 0);
}

static uint32_t
rd_ip(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Is @o our ARP reply telling the client that @ip is at our MAC? */
static int
is_arp_reply(const struct out *o, uint32_t ip)
{
	const uint8_t *a = o->b + 14;
	uint32_t client = HARNESS_CLIENT_IP;

	return o->len >= 42 && o->b[12] == 0x08 && o->b[13] == 0x06 && a[7] == 2 &&
	       memcmp(o->b, harness_client_mac, 6) == 0 &&
	       memcmp(a + 8, dp.ports[0].mac, 6) == 0 && rd_ip(a + 14) == ip &&
	       memcmp(a + 18, harness_client_mac, 6) == 0 && rd_ip(a + 24) == client;
}

/* Is @o a gratuitous ARP for the service address from our MAC? */
static int
is_garp(const struct out *o)
{
	const uint8_t *a = o->b + 14;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6];

	return o->len == SL_PKT_GARP_LEN && memcmp(o->b, bcast, 6) == 0 &&
	       memcmp(o->b + 6, dp.ports[0].mac, 6) == 0 && o->b[12] == 0x08 &&
	       o->b[13] == 0x06 && a[1] == 1 && a[3] == 0 && a[2] == 0x08 && a[4] == 6 &&
	       a[5] == 4 && a[6] == 0 && a[7] == 1 && memcmp(a + 8, dp.ports[0].mac, 6) == 0 &&
	       rd_ip(a + 14) == VIP && memcmp(a + 18, zero, 6) == 0 && rd_ip(a + 24) == VIP;
}

/* Are the @n frames in @o, gratuitous ARPs aside (a take-over's schedule
 * may be running), exactly our ARP reply for @ip? */
static int
only_reply(const struct out *o, unsigned n, uint32_t ip)
{
	unsigned i, replies = 0, other = 0;

	for (i = 0; i < n; i++) {
		if (is_garp(&o[i]))
			continue;
		if (is_arp_reply(&o[i], ip))
			replies++;
		else
			other++;
	}
	return replies == 1 && other == 0;
}

/* Poll until the take-over that sent gratuitous ARPs beyond @before is
 * done announcing (all SL_VIP_ANNOUNCES sent), at most a second; what the
 * worker sends meanwhile is dropped. */
static void
announced(uint64_t before)
{
	uint64_t end = rte_get_tsc_cycles() + rte_get_tsc_hz();
	struct out o[4];

	while (dp.vip.sent < before + SL_VIP_ANNOUNCES && rte_get_tsc_cycles() < end) {
		drain(1, o, 4);
		rte_delay_us(500);
	}
	CHECK_EQ(dp.vip.sent, before + SL_VIP_ANNOUNCES);
	drain(1, o, 4);
}

/* Just after a take-over: an ARP request for the service address gets its
 * answer, beside the first gratuitous ARP; then the announcements' schedule
 * runs out, so that the next check starts quiet. */
static void
check_taken_over(void)
{
	uint64_t before = dp.vip.sent;
	struct out o[4];
	unsigned n;

	send_arp(VIP);
	n = drain(1, o, 4);
	CHECK(n == 2 && (is_garp(&o[0]) || is_garp(&o[1])) &&
	      (is_arp_reply(&o[0], VIP) || is_arp_reply(&o[1], VIP)));
	announced(before);
}

/* ARP for the node's address always; for the service address only while
 * serving. */
static void
test_arp_by_role(void)
{
	static const uint32_t silent[] = { SL_HA_ROLE_UNKNOWN, SL_HA_ROLE_STANDBY,
					   SL_HA_ROLE_CANDIDATE, SL_HA_ROLE_FENCED };
	struct out o[4];
	uint64_t ign;
	unsigned i, n;

	/* No role applied yet: silent. */
	ign = harness_drops(&dp, SL_DROP_arp_ignored);
	send_arp(VIP);
	CHECK(drain(2, o, 4) == 0);
	CHECK(harness_drops(&dp, SL_DROP_arp_ignored) == ign + 1);
	send_arp(HARNESS_IP);
	n = drain(2, o, 4);
	CHECK(n == 1 && is_arp_reply(&o[0], HARNESS_IP));

	for (i = 0; i < RTE_DIM(silent); i++) {
		sl_vip_set_role(&dp, silent[i]);
		send_arp(VIP);
		CHECK_EQ(drain(2, o, 4), 0);
		send_arp(HARNESS_IP);
		n = drain(2, o, 4);
		CHECK(n == 1 && is_arp_reply(&o[0], HARNESS_IP));
	}
	CHECK(dp.vip.sent == 0); /* no role served: nothing announced */

	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY);
	n = drain(1, o, 4); /* the first announcement, at once */
	CHECK(n == 1 && is_garp(&o[0]));
	send_arp(VIP);
	n = drain(1, o, 4);
	CHECK(only_reply(o, n, VIP));
	send_arp(HARNESS_IP);
	n = drain(1, o, 4);
	CHECK(only_reply(o, n, HARNESS_IP));

	/* Deposed: silent again, at once. */
	sl_vip_set_role(&dp, SL_HA_ROLE_FENCED);
	send_arp(VIP);
	CHECK(drain(2, o, 4) == 0);
	/* Single node (no pair): it serves the address. */
	sl_vip_set_role(&dp, SL_HA_ROLE_SINGLE);
	check_taken_over();
}

/* The main lcore's duty follows the applied role (no CnC region here:
 * single); a pair member reading single has no role yet and stays silent. */
static void
test_poll_role(void)
{
	struct out o[4];

	sl_vip_set_role(&dp, SL_HA_ROLE_STANDBY);
	dp.conf.ha.peer = 0x0300000au;
	CHECK_EQ(sl_vip_poll(&dp), 1);
	CHECK_EQ(dp.vip.role, SL_HA_ROLE_UNKNOWN);
	CHECK_EQ(sl_vip_poll(&dp), 0);
	send_arp(VIP);
	CHECK(drain(3, o, 4) == 0);
	dp.conf.ha.peer = 0;
	CHECK_EQ(sl_vip_poll(&dp), 1);
	CHECK_EQ(dp.vip.role, SL_HA_ROLE_SINGLE);
	check_taken_over();
}

/* Three announcements per take-over: at once, +20 ms, +100 ms, no more. */
static void
test_announce_schedule(void)
{
	struct out o[4];
	uint64_t t0, sent0, t;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t at[3];
	unsigned k = 0, n;

	sl_vip_set_role(&dp, SL_HA_ROLE_STANDBY);
	CHECK(drain(5, o, 4) == 0);
	sent0 = dp.vip.sent;
	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY);
	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY); /* idempotent: one take-over */
	t0 = rte_get_tsc_cycles();
	while ((t = rte_get_tsc_cycles()) - t0 < hz * 2 / 5) { /* 400 ms */
		n = drain(1, o, 4);
		CHECK(n <= 1);
		if (n == 1) {
			CHECK(is_garp(&o[0]));
			if (k < 3)
				at[k] = t;
			k++;
		}
		rte_delay_us(200);
	}
	CHECK_EQ(k, 3);
	CHECK_EQ(dp.vip.sent - sent0, 3);
	if (k == 3) {
		/* None early; late only by what a shared machine's scheduler
		 * may cost this loop. */
		CHECK((at[0] - t0) * 1000 / hz < 50);
		CHECK((at[1] - t0) * 1000 / hz >= 19 && (at[1] - t0) * 1000 / hz < 100);
		CHECK((at[2] - t0) * 1000 / hz >= 99 && (at[2] - t0) * 1000 / hz < 300);
	}
	/* Leaving the role mid-schedule stops the rest. */
	sl_vip_set_role(&dp, SL_HA_ROLE_STANDBY);
	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY);
	n = drain(1, o, 4);
	CHECK(n == 1 && is_garp(&o[0]));
	sl_vip_set_role(&dp, SL_HA_ROLE_FENCED);
	rte_delay_ms(120);
	CHECK(drain(3, o, 4) == 0);
	sent0 = dp.vip.sent;
	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY);
	announced(sent0);
}

/* The reply datagram in @o: from @src, to the client's @port. */
static int
udp_from(const struct out *o, uint32_t src, uint16_t port)
{
	struct sl_pkt_info pi;

	return sl_pkt_parse(o->b, o->len, HARNESS_CLIENT_IP, htons(port), &pi) == SL_PKT_UDP &&
	       pi.src_ip == src && pi.src_port == htons(HARNESS_UDP_PORT);
}

/* Answers come from the address written to, in any role: a HELLO's, and a
 * subscriber's DELIVER (its address kept from the SUBSCRIBE), also when the
 * publisher wrote to the other address. */
static void
test_reply_source(uint32_t topic)
{
	uint8_t h[SL_HELLO_MIN_LEN];
	struct sl_subscribe s;
	struct {
		struct sl_publish p;
		uint8_t payload[8];
	} pub;
	struct sl_session *sub, *pb;
	struct sl_hdr fh;
	struct out o[4];
	unsigned n, i, acks = 0, dels = 0;

	sl_vip_set_role(&dp, SL_HA_ROLE_STANDBY); /* taking datagrams is not ARP's matter */
	send_to(VIP, 5601, h, harness_hello(h, 1, 0, "v"));
	n = drain(2, o, 4);
	CHECK(n == 1 && udp_from(&o[0], VIP, 5601));
	send_to(HARNESS_IP, 5602, h, harness_hello(h, 2, 0, "v"));
	n = drain(2, o, 4);
	CHECK(n == 1 && udp_from(&o[0], HARNESS_IP, 5602));
	n = (unsigned)dp.vip.sent;
	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY);
	announced(n);

	sub = harness_session(dp.workers[0], 5603, 0, 0);
	pb = harness_session(dp.workers[0], 5604, 0, 0);
	memset(&s, 0, sizeof(s));
	sl_proto_hdr_init(&s.h, SL_FT_SUBSCRIBE, 0, sizeof(s), sub->id);
	s.req_id = 3;
	s.topic_id = topic;
	send_to(VIP, 5603, &s, sizeof(s));
	n = drain(2, o, 4);
	CHECK(n == 1 && udp_from(&o[0], VIP, 5603));

	memset(&pub, 0, sizeof(pub));
	sl_proto_hdr_init(&pub.p.h, SL_FT_PUBLISH, SL_PUB_F_ACK_REQ, sizeof(pub), pb->id);
	pub.p.topic_id = topic;
	pub.p.producer_seq = 1;
	memcpy(pub.payload, "via-node", 8);
	send_to(HARNESS_IP, 5604, &pub, sizeof(pub));
	n = drain(3, o, 4);
	CHECK_EQ(n, 2);
	for (i = 0; i < n; i++) {
		if (o[i].len < SL_PKT_HDR_LEN + sizeof(fh))
			continue;
		memcpy(&fh, o[i].b + SL_PKT_HDR_LEN, sizeof(fh)); /* at offset 42: unaligned */
		if (fh.type == SL_FT_ACK) {
			acks++;
			CHECK(udp_from(&o[i], HARNESS_IP, 5604));
		} else if (fh.type == SL_FT_DELIVER) {
			dels++;
			CHECK(udp_from(&o[i], VIP, 5603));
		}
	}
	CHECK(acks == 1 && dels == 1);
}

/* A pair member's first polls, before sluice-control decided its role
 * (the CnC's dp_role still reads SINGLE, 0): the service address is
 * neither answered nor announced. */
static void
test_pair_member_start(void)
{
	struct out o[4];
	uint64_t sent0;
	unsigned i;

	rte_delay_ms(120); /* earlier take-overs' schedules run out */
	drain(2, o, 4);
	dp.conf.ha.peer = 0x6500000au; /* 10.0.0.101 */
	sl_vip_init(&dp);
	sent0 = dp.vip.sent;
	for (i = 0; i < 3; i++)
		(void)sl_vip_poll(&dp);
	CHECK_EQ(dp.vip.role, SL_HA_ROLE_UNKNOWN);
	send_arp(VIP);
	CHECK_EQ(drain(3, o, 4), 0);
	CHECK(dp.vip.sent == sent0);
	/* Once control makes it primary, it takes the address over. */
	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(drain(1, o, 4), 1);
	CHECK(is_garp(&o[0]));
	dp.conf.ha.peer = 0;
}

int
main(void)
{
	uint32_t topic;
	int rc = harness_start("test_vip", &dp, &rx, &tx);

	if (rc)
		return rc;
	/* Without a service address nothing of it exists. */
	sl_vip_init(&dp);
	sl_vip_set_role(&dp, SL_HA_ROLE_PRIMARY);
	{
		struct out o[2];

		CHECK(drain(2, o, 2) == 0);
		send_arp(VIP);
		CHECK(drain(2, o, 2) == 0);
		send_to(VIP, 5600, "12345678", 8);
		CHECK(drain(2, o, 2) == 0);
		CHECK(harness_drops(&dp, SL_DROP_not_for_us) == 1);
	}
	dp.conf.ha.service_ip = VIP;
	sl_vip_init(&dp);
	topic = harness_topic(&dp, "prices");
	CHECK(topic != 0);
	test_arp_by_role();
	test_poll_role();
	test_announce_schedule();
	test_reply_source(topic);
	test_pair_member_start();
	harness_stop(&dp);
	if (failures)
		fprintf(stderr, "test_vip: %d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
