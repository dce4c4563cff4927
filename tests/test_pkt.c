/* SPDX-License-Identifier: BSD-3-Clause */
/* Packet tests: UDP build/parse round trip, every drop reason, ARP, garbage. */

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "pkt.h"

#include "check.h"


static const uint8_t our_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static uint32_t our_ip, peer_ip, other_ip;
static uint16_t our_port, peer_port;

static uint8_t frame[2048];

/* One's-complement sum of the IPv4 header at @ip, @hlen bytes. */
static uint16_t
ones_sum(const uint8_t *ip, unsigned hlen)
{
	uint32_t sum = 0;
	unsigned i;

	for (i = 0; i < hlen; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Recompute the IPv4 header checksum after a test edited the header. */
static void
fix_ip_csum(uint8_t *ip)
{
	unsigned hlen = (ip[0] & 0xfu) * 4;
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = (uint16_t)~ones_sum(ip, hlen);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
}

/* A well-formed datagram from the peer to us; returns the frame length. */
static uint32_t
good_udp(uint16_t payload_len)
{
	uint16_t i;

	memset(frame, 0, sizeof(frame));
	sl_pkt_build_udp(frame, peer_mac, our_mac, peer_ip, our_ip, peer_port, our_port,
			 payload_len);
	for (i = 0; i < payload_len; i++)
		frame[SL_PKT_HDR_LEN + i] = (uint8_t)(i * 7 + 1);
	return SL_PKT_HDR_LEN + payload_len;
}

static int
parse(uint32_t len, struct sl_pkt_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return sl_pkt_parse(frame, len, our_ip, our_port, info);
}

static void
test_round_trip(void)
{
	struct sl_pkt_info info;
	uint8_t *ip = frame + 14, *udp = frame + 34;
	uint32_t len = good_udp(100), be;

	CHECK(len == 142);
	/* Headers as written. */
	CHECK(memcmp(frame, our_mac, 6) == 0 && memcmp(frame + 6, peer_mac, 6) == 0);
	CHECK(frame[12] == 0x08 && frame[13] == 0x00);
	CHECK(ip[0] == 0x45);
	CHECK((ip[2] << 8 | ip[3]) == 128);
	CHECK((ip[6] & 0x40) && (ip[6] & 0x3f) == 0 && ip[7] == 0); /* DF, no fragment */
	CHECK(ip[8] > 0 && ip[9] == 17);
	memcpy(&be, ip + 12, 4);
	CHECK(be == peer_ip);
	memcpy(&be, ip + 16, 4);
	CHECK(be == our_ip);
	CHECK(ones_sum(ip, 20) == 0xffff); /* the header checksum verifies */
	CHECK((udp[4] << 8 | udp[5]) == 108);
	CHECK(udp[6] == 0 && udp[7] == 0);

	CHECK(parse(len, &info) == SL_PKT_UDP);
	CHECK(memcmp(info.src_mac, peer_mac, 6) == 0);
	CHECK(memcmp(info.dst_mac, our_mac, 6) == 0);
	CHECK(info.src_ip == peer_ip && info.dst_ip == our_ip);
	CHECK(info.src_port == peer_port && info.dst_port == our_port);
	CHECK(info.payload_off == SL_PKT_HDR_LEN);
	CHECK(info.payload_len == 100);
	CHECK(frame[info.payload_off + 99] == (uint8_t)(99 * 7 + 1));

	/* Empty and large datagrams; checksum for several lengths. */
	CHECK(parse(good_udp(0), &info) == SL_PKT_UDP && info.payload_len == 0);
	CHECK(ones_sum(frame + 14, 20) == 0xffff);
	CHECK(parse(good_udp(1472), &info) == SL_PKT_UDP && info.payload_len == 1472);
	CHECK(ones_sum(frame + 14, 20) == 0xffff);
	CHECK(parse(good_udp(1), &info) == SL_PKT_UDP && info.payload_len == 1);
	CHECK(ones_sum(frame + 14, 20) == 0xffff);
}

/* Minimum Ethernet frames are padded: the UDP length decides the payload. */
static void
test_padding(void)
{
	struct sl_pkt_info info;
	uint32_t len = good_udp(4);

	CHECK(len == 46);
	memset(frame + len, 0xee, 60 - len);
	CHECK(parse(60, &info) == SL_PKT_UDP);
	CHECK(info.payload_off == SL_PKT_HDR_LEN && info.payload_len == 4);

	/* IP total length covers more than the UDP length says: still UDP length. */
	len = good_udp(20);
	frame[38] = 0, frame[39] = 8 + 10;
	CHECK(parse(len, &info) == SL_PKT_UDP && info.payload_len == 10);
}

/* A damaged IPv4 header checksum is an ip_header drop. */
static void
test_ip_checksum(void)
{
	struct sl_pkt_info info;
	uint32_t len = good_udp(10);

	CHECK(parse(len, &info) == SL_PKT_UDP);
	frame[14 + 8] ^= 1; /* TTL changed, checksum not updated */
	CHECK(parse(len, &info) == -SL_DROP_ip_header);
	fix_ip_csum(frame + 14);
	CHECK(parse(len, &info) == SL_PKT_UDP);
}

/* IPv4 options (ihl 6): the UDP header moves by 4 bytes. */
static void
test_ip_options(void)
{
	struct sl_pkt_info info;
	uint32_t len = good_udp(10);
	uint16_t tot;

	memmove(frame + 38, frame + 34, 8 + 10);
	memset(frame + 34, 0x01, 4); /* four NOP options */
	frame[14] = 0x46;
	tot = 20 + 4 + 8 + 10;
	frame[16] = (uint8_t)(tot >> 8), frame[17] = (uint8_t)tot;
	fix_ip_csum(frame + 14);
	len += 4;
	CHECK(parse(len, &info) == SL_PKT_UDP);
	CHECK(info.src_port == peer_port && info.dst_port == our_port);
	CHECK(info.payload_off == 14 + 24 + 8);
	CHECK(info.payload_len == 10);
	CHECK(frame[info.payload_off] == 1 && frame[info.payload_off + 9] == (uint8_t)(9 * 7 + 1));
	/* The largest header, ihl 15 (60 bytes), with no room for UDP. */
	len = good_udp(0);
	frame[14] = 0x4f;
	CHECK(parse(len, &info) == -SL_DROP_ip_header);
}

static void
expect_drop(uint32_t len, enum sl_drop why, int line)
{
	struct sl_pkt_info info;
	int rc = parse(len, &info);

	if (rc != -(int)why) {
		fprintf(stderr, "%s:%d: parse returned %d, wanted -%s (%d)\n", __FILE__, line,
			rc, sl_drop_names[why], -(int)why);
		failures++;
	}
}
#define DROP(len, why) expect_drop(len, SL_DROP_##why, __LINE__)

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void
test_drops(void)
{
	uint32_t len;

	/* Ethernet */
	len = good_udp(8);
	DROP(0, not_ipv4);
	DROP(13, not_ipv4);
	put16(frame + 12, 0x86dd);
	DROP(len, not_ipv4);
	put16(frame + 12, 0x8100);
	DROP(len, not_ipv4);

	/* IPv4 header */
	len = good_udp(8);
	DROP(14, ip_header);
	DROP(14 + 19, ip_header);
	frame[14] = 0x65; /* version 6 */
	DROP(len, ip_header);
	frame[14] = 0x44; /* ihl 4 */
	DROP(len, ip_header);
	frame[14] = 0x40;
	DROP(len, ip_header);
	len = good_udp(8);
	DROP(len - 1, ip_header); /* total length beyond the frame */
	put16(frame + 16, 19);	  /* total length below the header */
	DROP(len, ip_header);

	/* Fragments */
	len = good_udp(8);
	frame[20] = 0x20; /* MF */
	DROP(len, ip_fragment);
	frame[20] = 0x00, frame[21] = 0x01; /* offset 8 bytes */
	DROP(len, ip_fragment);
	frame[20] = 0x1f, frame[21] = 0xff;
	DROP(len, ip_fragment);
	frame[20] = 0x40, frame[21] = 0x00; /* DF alone is fine */
	fix_ip_csum(frame + 14);
	CHECK(parse(len, &(struct sl_pkt_info){ 0 }) == SL_PKT_UDP);
	frame[20] = 0x00;
	fix_ip_csum(frame + 14);
	CHECK(parse(len, &(struct sl_pkt_info){ 0 }) == SL_PKT_UDP);

	/* Address, protocol, port */
	len = good_udp(8);
	memcpy(frame + 30, &other_ip, 4);
	DROP(len, not_for_us);
	len = good_udp(8);
	frame[23] = 6; /* TCP */
	DROP(len, not_udp);
	frame[23] = 1; /* ICMP */
	DROP(len, not_udp);
	len = good_udp(8);
	put16(frame + 36, (uint16_t)(ntohs(our_port) + 1));
	DROP(len, wrong_port);

	/* UDP length */
	len = good_udp(8);
	put16(frame + 38, 7);
	DROP(len, udp_length);
	put16(frame + 38, 0);
	DROP(len, udp_length);
	put16(frame + 38, 17); /* one past the IP payload */
	DROP(len, udp_length);
	put16(frame + 38, 16);
	CHECK(parse(len, &(struct sl_pkt_info){ 0 }) == SL_PKT_UDP);
	len = good_udp(0);
	put16(frame + 16, 27); /* IP payload too short for a UDP header */
	fix_ip_csum(frame + 14);
	DROP(len, udp_length);
}

/* An ARP packet from the peer; @op 1 request, 2 reply. */
static uint32_t
arp(uint16_t op, uint32_t target_ip)
{
	uint8_t *a = frame + 14;

	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);
	memcpy(frame + 6, peer_mac, 6);
	put16(frame + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6, a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, peer_mac, 6);
	memcpy(a + 14, &peer_ip, 4);
	memcpy(a + 24, &target_ip, 4);
	return 14 + 28;
}

static void
test_arp(void)
{
	struct sl_pkt_info info;
	uint8_t *a = frame + 14;
	uint32_t len, be;

	len = arp(1, our_ip);
	CHECK(parse(len, &info) == SL_PKT_ARP_REQ);
	CHECK(parse(60, &info) == SL_PKT_ARP_REQ); /* padded */
	sl_pkt_arp_reply(frame, our_mac, our_ip);
	CHECK(memcmp(frame, peer_mac, 6) == 0);	     /* Ethernet dst = asker */
	CHECK(memcmp(frame + 6, our_mac, 6) == 0);   /* Ethernet src = us */
	CHECK(frame[12] == 0x08 && frame[13] == 0x06);
	CHECK(a[0] == 0 && a[1] == 1 && a[2] == 0x08 && a[3] == 0 && a[4] == 6 && a[5] == 4);
	CHECK(a[6] == 0 && a[7] == 2);		     /* opcode reply */
	CHECK(memcmp(a + 8, our_mac, 6) == 0);	     /* sender = us */
	memcpy(&be, a + 14, 4);
	CHECK(be == our_ip);
	CHECK(memcmp(a + 18, peer_mac, 6) == 0);     /* target = asker */
	memcpy(&be, a + 24, 4);
	CHECK(be == peer_ip);
	/* Our own reply is not a request for us. */
	DROP(len, arp_ignored);

	len = arp(1, other_ip);
	DROP(len, arp_ignored);
	len = arp(2, our_ip);
	DROP(len, arp_ignored);
	len = arp(1, our_ip);
	DROP(len - 1, arp_ignored); /* truncated */
	DROP(14, arp_ignored);
	a[4] = 8;
	DROP(len, arp_ignored);
	len = arp(1, our_ip);
	put16(a, 6); /* hardware type IEEE 802 */
	DROP(len, arp_ignored);
	len = arp(1, our_ip);
	put16(a + 2, 0x86dd);
	DROP(len, arp_ignored);
}

/*
 * The service address (sl_pkt_parse_local): datagrams to it are taken in
 * any role and say which address they named; ARP for it is answered only
 * while the node serves it (svc_arp); without one configured it is a
 * stranger's address.
 */
static void
test_service_ip(void)
{
	struct sl_pkt_local l = { .ip = our_ip, .svc_ip = other_ip, .port = our_port };
	struct sl_pkt_local none = { .ip = our_ip, .port = our_port };
	struct sl_pkt_info info;
	uint8_t *a = frame + 14;
	uint32_t len, be;

	memset(frame, 0, sizeof(frame));
	sl_pkt_build_udp(frame, peer_mac, our_mac, peer_ip, other_ip, peer_port, our_port, 8);
	len = SL_PKT_HDR_LEN + 8;
	CHECK(sl_pkt_parse_local(frame, len, &l, &info) == SL_PKT_UDP);
	CHECK(info.dst_ip == other_ip && info.src_ip == peer_ip && info.payload_len == 8);
	CHECK(sl_pkt_parse_local(frame, len, &none, &info) == -SL_DROP_not_for_us);
	CHECK(sl_pkt_parse(frame, len, our_ip, our_port, &info) == -SL_DROP_not_for_us);
	len = good_udp(8); /* the node's own address still works, and says so */
	CHECK(sl_pkt_parse_local(frame, len, &l, &info) == SL_PKT_UDP);
	CHECK(info.dst_ip == our_ip);

	len = arp(1, other_ip);
	CHECK(sl_pkt_parse_local(frame, len, &l, &info) == -SL_DROP_arp_ignored);
	l.svc_arp = 1;
	memset(&info, 0, sizeof(info));
	CHECK(sl_pkt_parse_local(frame, len, &l, &info) == SL_PKT_ARP_REQ);
	CHECK(info.dst_ip == other_ip);
	CHECK(sl_pkt_parse_local(frame, len, &none, &info) == -SL_DROP_arp_ignored);
	len = arp(1, our_ip);
	CHECK(sl_pkt_parse_local(frame, len, &l, &info) == SL_PKT_ARP_REQ && info.dst_ip == our_ip);
	l.svc_arp = 0;
	CHECK(sl_pkt_parse_local(frame, len, &l, &info) == SL_PKT_ARP_REQ && info.dst_ip == our_ip);
	len = arp(1, 0); /* svc_ip 0 never matches a target of 0 */
	none.svc_arp = 1;
	CHECK(sl_pkt_parse_local(frame, len, &none, &info) == -SL_DROP_arp_ignored);

	/* The reply names the address asked for. */
	len = arp(1, other_ip);
	sl_pkt_arp_reply(frame, our_mac, other_ip);
	memcpy(&be, a + 14, 4);
	CHECK(be == other_ip && memcmp(a + 8, our_mac, 6) == 0 && a[7] == 2);

	/* A gratuitous ARP: broadcast request from us for the address itself. */
	memset(frame, 0x5a, sizeof(frame));
	sl_pkt_build_garp(frame, our_mac, other_ip);
	CHECK(memcmp(frame, "\xff\xff\xff\xff\xff\xff", 6) == 0);
	CHECK(memcmp(frame + 6, our_mac, 6) == 0);
	CHECK(frame[12] == 0x08 && frame[13] == 0x06);
	CHECK(a[0] == 0 && a[1] == 1 && a[2] == 0x08 && a[3] == 0 && a[4] == 6 && a[5] == 4);
	CHECK(a[6] == 0 && a[7] == 1);
	CHECK(memcmp(a + 8, our_mac, 6) == 0);
	memcpy(&be, a + 14, 4);
	CHECK(be == other_ip);
	CHECK(memcmp(a + 18, "\0\0\0\0\0\0", 6) == 0);
	memcpy(&be, a + 24, 4);
	CHECK(be == other_ip);
	for (len = 42; len < SL_PKT_GARP_LEN; len++)
		CHECK(frame[len] == 0); /* padding */
	CHECK(frame[SL_PKT_GARP_LEN] == 0x5a); /* and nothing past it */
	/* The other node of the pair, not serving, keeps silent at it. */
	CHECK(sl_pkt_parse_local(frame, SL_PKT_GARP_LEN, &l, &info) == -SL_DROP_arp_ignored);
}

/*
 * Random frames in exactly-sized heap buffers: under ASan any read past the
 * length is reported. Often forced far enough to reach the deeper checks.
 */
static void
test_random_garbage(void)
{
	struct sl_pkt_info info;
	unsigned iter, i, len, seen_udp = 0, seen_arp = 0;
	int rc;

	for (iter = 0; iter < 200000; iter++) {
		uint8_t *p;
		uint64_t r = rng();

		len = (unsigned)(r % 129);
		p = malloc(len ? len : 1);
		if (!p)
			abort();
		for (i = 0; i < len; i++)
			p[i] = (uint8_t)rng();
		if (len >= 14 && (r >> 8) % 4 != 0) {
			int arp_frame = (r >> 10) % 8 == 0;
			uint8_t h[42];

			/* Forced header fields, written only where they fit in @len. */
			memcpy(h, p, len < 42 ? len : 42);
			h[12] = 0x08, h[13] = arp_frame ? 0x06 : 0x00;
			if (arp_frame) {
				put16(h + 14, 1), put16(h + 16, 0x0800);
				h[18] = 6, h[19] = 4, put16(h + 20, 1);
				memcpy(h + 38, &our_ip, 4);
			} else if ((r >> 13) % 2) {
				h[14] = (uint8_t)(0x45 + (r >> 14) % 3);
				/* Total length around the frame length, sometimes beyond it. */
				put16(h + 16, (uint16_t)(len - 14 + (r >> 16) % 8 - 4));
				h[20] = 0x40, h[21] = 0;
				h[23] = 17;
				memcpy(h + 30, &our_ip, 4);
				memcpy(h + 36, &our_port, 2);
				put16(h + 38, (uint16_t)((r >> 24) % 128));
				if ((r >> 40) % 8)
					fix_ip_csum(h + 14);
			}
			memcpy(p, h, len < 42 ? len : 42);
		}
		rc = sl_pkt_parse(p, len, our_ip, our_port, &info);
		if (rc == SL_PKT_UDP) {
			seen_udp++;
			CHECK(info.payload_off >= SL_PKT_HDR_LEN);
			CHECK((unsigned)info.payload_off + info.payload_len <= len);
			CHECK(info.dst_ip == our_ip && info.dst_port == our_port);
		} else if (rc == SL_PKT_ARP_REQ) {
			seen_arp++;
			CHECK(len >= 42);
		} else {
			/* SL_DROP_not_ipv4 is 0, so that drop is returned as 0. */
			CHECK(rc <= 0 && -rc >= SL_DROP_not_ipv4 && -rc <= SL_DROP_udp_length);
		}
		free(p);
	}
	/* The forcing above must actually reach the accept paths. */
	CHECK(seen_udp > 100);
	CHECK(seen_arp > 100);
}

int
main(void)
{
	our_ip = htonl(0x0a4d0001);   /* 10.77.0.1 */
	peer_ip = htonl(0x0a4d0002);  /* 10.77.0.2 */
	other_ip = htonl(0x0a4d0003); /* 10.77.0.3 */
	our_port = htons(9500);
	peer_port = htons(40001);

	test_round_trip();
	test_padding();
	test_ip_checksum();
	test_ip_options();
	test_drops();
	test_arp();
	test_service_ip();
	test_random_garbage();
	return check_result("test_pkt");
}
