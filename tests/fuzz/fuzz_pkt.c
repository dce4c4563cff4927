/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the dataplane's packet parse (dataplane/pkt.c):
 * Ethernet, ARP, IPv4 and UDP from a NIC's raw bytes. The input is one
 * Ethernet frame, parsed for 10.0.0.1 port 7000 in an allocation of exactly
 * its size (AddressSanitizer sees any read past it).
 */

#include <arpa/inet.h>

#include <common/proto.h>

#include "counters.h"
#include "fuzz.h"
#include "pkt.h"

#define MY_IP 0x0100000au /* 10.0.0.1, network order */
#define MY_PORT 7000

static const uint8_t my_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

/* The builder's output parses back as what it was built from. */
static void
roundtrip(const uint8_t *payload, uint32_t plen)
{
	static uint8_t frame[SL_PKT_HDR_LEN + SL_MAX_DATAGRAM];
	struct sl_pkt_info pi;

	if (plen > SL_MAX_DATAGRAM)
		plen = SL_MAX_DATAGRAM;
	sl_pkt_build_udp(frame, my_mac, my_mac, 0x0200000au, MY_IP, htons(5555), htons(MY_PORT),
			 (uint16_t)plen);
	memcpy(frame + SL_PKT_HDR_LEN, payload, plen);
	FUZZ_CHECK(sl_pkt_parse(frame, SL_PKT_HDR_LEN + plen, MY_IP, htons(MY_PORT), &pi) ==
		   SL_PKT_UDP);
	FUZZ_CHECK(pi.payload_off == SL_PKT_HDR_LEN && pi.payload_len == plen);
	FUZZ_CHECK(pi.src_ip == 0x0200000au && pi.src_port == htons(5555));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_pkt_info pi;
	uint8_t *p;
	int rc;

	if (size > 65535)
		return 0; /* no NIC hands over more */
	p = malloc(size ? size : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	memset(&pi, 0, sizeof(pi));
	rc = sl_pkt_parse(p, (uint32_t)size, MY_IP, htons(MY_PORT), &pi);
	FUZZ_CHECK(rc == SL_PKT_UDP || rc == SL_PKT_ARP_REQ || (rc <= 0 && -rc < SL_DROP_MAX));
	if (rc == SL_PKT_UDP) {
		/* The payload lies inside the frame, after the headers, and it
		 * is for us. */
		FUZZ_CHECK(pi.payload_off >= SL_PKT_HDR_LEN);
		FUZZ_CHECK((uint32_t)pi.payload_off + pi.payload_len <= size);
		FUZZ_CHECK(pi.dst_ip == MY_IP && pi.dst_port == htons(MY_PORT));
	} else if (rc == SL_PKT_ARP_REQ) {
		/* The reply is written in place, inside the request. */
		FUZZ_CHECK(size >= SL_PKT_HDR_LEN);
		sl_pkt_arp_reply(p, my_mac, MY_IP);
		FUZZ_CHECK(memcmp(p + 6, my_mac, 6) == 0);
	}
	free(p);
	roundtrip(data, (uint32_t)size);
	return 0;
}
