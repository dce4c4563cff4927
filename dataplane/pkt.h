/* SPDX-License-Identifier: BSD-3-Clause */
/* Ethernet/ARP/IPv4/UDP parsing and header building on plain buffers (no EAL). */

#ifndef SLUICE_DP_PKT_H
#define SLUICE_DP_PKT_H

#include <stdint.h>

#define SL_PKT_HDR_LEN 42u /* Ethernet 14 + IPv4 20 + UDP 8 */

/* What sl_pkt_parse found; addresses and ports in network byte order. */
struct sl_pkt_info {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t payload_off; /* UDP payload offset from the frame start */
	uint16_t payload_len;
};

enum sl_pkt_kind {
	SL_PKT_UDP = 1,	    /* a datagram for our address and port */
	SL_PKT_ARP_REQ = 2, /* an ARP request for our address */
};

/*
 * Classify an Ethernet frame of @len bytes at @p for the address @my_ip and
 * UDP port @my_port (both network order). Returns enum sl_pkt_kind (> 0),
 * or -enum sl_drop (counters.h, so <= 0: not_ipv4 is 0) saying why the
 * frame is not for us; test for a kind, not for a negative value. Reads only
 * within [p, p + len). Thread-safe.
 */
int sl_pkt_parse(const uint8_t *p, uint32_t len, uint32_t my_ip, uint16_t my_port,
		 struct sl_pkt_info *out);

/* Turn the ARP request at @p (validated by sl_pkt_parse) into our reply, in place. */
void sl_pkt_arp_reply(uint8_t *p, const uint8_t my_mac[6], uint32_t my_ip);

/*
 * Write Ethernet, IPv4 and UDP headers (SL_PKT_HDR_LEN bytes) at @p for a
 * datagram of @payload_len bytes. The IPv4 checksum is computed; the UDP
 * checksum is 0 (allowed for IPv4, RFC 768).
 */
void sl_pkt_build_udp(uint8_t *p, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		      uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
		      uint16_t payload_len);

#endif /* SLUICE_DP_PKT_H */
