/* SPDX-License-Identifier: BSD-3-Clause */
/* Ethernet/ARP/IPv4/UDP parsing and header building on plain buffers (no EAL). */

#ifndef SLUICE_DP_PKT_H
#define SLUICE_DP_PKT_H

#include <stdint.h>

#define SL_PKT_HDR_LEN 42u /* Ethernet 14 + IPv4 20 + UDP 8 */
#define SL_PKT_GARP_LEN 60u /* Ethernet 14 + ARP 28, padded to the minimum frame */

/* The addresses a port answers for; network order. */
struct sl_pkt_local {
	uint32_t ip;	 /* the node's own address */
	uint32_t svc_ip; /* the service address of its pair (ha.service_ip); 0: none */
	uint16_t port;	 /* UDP port */
	uint8_t svc_arp; /* answer ARP for svc_ip: this node serves it now */
};

/* What sl_pkt_parse found; addresses and ports in network byte order. */
struct sl_pkt_info {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t src_ip;
	uint32_t dst_ip; /* the address it was sent to (an ARP request: asked for) */
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

/*
 * As sl_pkt_parse, for the addresses in @l: a datagram to l->ip or (when
 * set) l->svc_ip, an ARP request for l->ip, or for l->svc_ip while
 * l->svc_arp. out->dst_ip says which address it named (ARP: in
 * out->dst_ip only, with the MACs).
 */
int sl_pkt_parse_local(const uint8_t *p, uint32_t len, const struct sl_pkt_local *l,
		       struct sl_pkt_info *out);

/* Turn the ARP request at @p (validated by sl_pkt_parse) into our reply, in
 * place: @my_ip is the address asked for (sl_pkt_info.dst_ip). */
void sl_pkt_arp_reply(uint8_t *p, const uint8_t my_mac[6], uint32_t my_ip);

/*
 * Write a gratuitous ARP (SL_PKT_GARP_LEN bytes at @p): a broadcast ARP
 * request from @mac for @ip itself, by which the hosts of the segment
 * move their entry for @ip to @mac.
 */
void sl_pkt_build_garp(uint8_t *p, const uint8_t mac[6], uint32_t ip);

/*
 * Write Ethernet, IPv4 and UDP headers (SL_PKT_HDR_LEN bytes) at @p for a
 * datagram of @payload_len bytes. The IPv4 checksum is computed; the UDP
 * checksum is 0 (allowed for IPv4, RFC 768).
 */
void sl_pkt_build_udp(uint8_t *p, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		      uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
		      uint16_t payload_len);

#endif /* SLUICE_DP_PKT_H */
