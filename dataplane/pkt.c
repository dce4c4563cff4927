/* SPDX-License-Identifier: BSD-3-Clause */
/* Ethernet/ARP/IPv4/UDP parsing and header building on plain buffers (no EAL). */

#include <arpa/inet.h>
#include <string.h>

#include "counters.h"
#include "pkt.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_ARP 0x0806
#define ETH_HLEN 14
#define ARP_LEN 28
#define IPPROTO_UDP_ 17

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]); /* network order to host */
}

static uint32_t
rd32_raw(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4); /* keeps network order */
	return v;
}

static int
parse_arp(const uint8_t *a, uint32_t len, const struct sl_pkt_local *l, struct sl_pkt_info *out)
{
	uint32_t target;

	if (len < ARP_LEN)
		return -SL_DROP_arp_ignored;
	/* Ethernet hardware, IPv4 protocol, 6/4 address lengths, request. */
	if (rd16(a) != 1 || rd16(a + 2) != ETH_P_IPV4 || a[4] != 6 || a[5] != 4 ||
	    rd16(a + 6) != 1)
		return -SL_DROP_arp_ignored;
	target = rd32_raw(a + 24);
	/* The service address only while this node serves it: the other node
	 * of the pair stays silent, so the address is where the primary is. */
	if (target != l->ip && (l->svc_ip == 0 || target != l->svc_ip || !l->svc_arp))
		return -SL_DROP_arp_ignored;
	out->dst_ip = target;
	return SL_PKT_ARP_REQ;
}

/* One's-complement sum of an IPv4 header of @len bytes (a multiple of 4),
 * complemented: 0 over a header whose checksum field is right. */
static uint16_t
ip_csum(const uint8_t *h, uint32_t len)
{
	uint32_t sum = 0, i;

	for (i = 0; i < len; i += 2)
		sum += rd16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int
parse_udp(const uint8_t *ip, uint32_t len, const struct sl_pkt_local *l, struct sl_pkt_info *out)
{
	uint32_t ihl, tot, dst;
	const uint8_t *udp;
	uint16_t ulen;

	if (len < 20 || (ip[0] >> 4) != 4)
		return -SL_DROP_ip_header;
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	tot = rd16(ip + 2);
	if (ihl < 20 || tot < ihl || tot > len)
		return -SL_DROP_ip_header;
	/* More-fragments flag or a fragment offset: we never reassemble. */
	if (rd16(ip + 6) & 0x3fff)
		return -SL_DROP_ip_fragment;
	/* The service address whatever the role: a client that still has the
	 * address at this node hears its refusal (NOT_PRIMARY) instead of
	 * silence. */
	dst = rd32_raw(ip + 16);
	if (dst != l->ip && (l->svc_ip == 0 || dst != l->svc_ip))
		return -SL_DROP_not_for_us;
	if (ip[9] != IPPROTO_UDP_)
		return -SL_DROP_not_udp;
	/* The UDP checksum is not checked: virtual NICs hand over datagrams
	 * whose checksum the sender left to offload. The IP header's is always
	 * computed by the sender. */
	if (ip_csum(ip, ihl) != 0)
		return -SL_DROP_ip_header;
	if (tot - ihl < 8)
		return -SL_DROP_udp_length;
	udp = ip + ihl;
	memcpy(&out->dst_port, udp + 2, 2);
	if (out->dst_port != l->port)
		return -SL_DROP_wrong_port;
	ulen = rd16(udp + 4);
	if (ulen < 8 || ulen > tot - ihl)
		return -SL_DROP_udp_length;
	memcpy(&out->src_port, udp, 2);
	out->src_ip = rd32_raw(ip + 12);
	out->dst_ip = dst;
	out->payload_off = (uint16_t)(ETH_HLEN + ihl + 8);
	out->payload_len = (uint16_t)(ulen - 8);
	return SL_PKT_UDP;
}

int
sl_pkt_parse(const uint8_t *p, uint32_t len, uint32_t my_ip, uint16_t my_port,
	     struct sl_pkt_info *out)
{
	struct sl_pkt_local l = { .ip = my_ip, .port = my_port };

	return sl_pkt_parse_local(p, len, &l, out);
}

int
sl_pkt_parse_local(const uint8_t *p, uint32_t len, const struct sl_pkt_local *l,
		   struct sl_pkt_info *out)
{
	uint16_t type;

	if (len < ETH_HLEN)
		return -SL_DROP_not_ipv4;
	type = rd16(p + 12);
	memcpy(out->dst_mac, p, 6);
	memcpy(out->src_mac, p + 6, 6);
	if (type == ETH_P_ARP)
		return parse_arp(p + ETH_HLEN, len - ETH_HLEN, l, out);
	if (type != ETH_P_IPV4)
		return -SL_DROP_not_ipv4;
	return parse_udp(p + ETH_HLEN, len - ETH_HLEN, l, out);
}

void
sl_pkt_arp_reply(uint8_t *p, const uint8_t my_mac[6], uint32_t my_ip)
{
	uint8_t *a = p + ETH_HLEN;

	/* Ethernet: back to the asker. */
	memcpy(p, p + 6, 6);
	memcpy(p + 6, my_mac, 6);
	/* ARP: opcode reply; target := sender; sender := us. */
	a[6] = 0, a[7] = 2;
	memcpy(a + 18, a + 8, 6);
	memcpy(a + 24, a + 14, 4);
	memcpy(a + 8, my_mac, 6);
	memcpy(a + 14, &my_ip, 4);
}

void
sl_pkt_build_garp(uint8_t *p, const uint8_t mac[6], uint32_t ip)
{
	uint8_t *a = p + ETH_HLEN;

	memset(p, 0, SL_PKT_GARP_LEN);
	memset(p, 0xff, 6); /* broadcast */
	memcpy(p + 6, mac, 6);
	p[12] = ETH_P_ARP >> 8, p[13] = ETH_P_ARP & 0xff;
	/* A request for our own address (RFC 5227's announcement): hosts
	 * that hold an entry for it take the new MAC, none answers. */
	a[0] = 0, a[1] = 1;
	a[2] = ETH_P_IPV4 >> 8, a[3] = ETH_P_IPV4 & 0xff;
	a[4] = 6, a[5] = 4;
	a[6] = 0, a[7] = 1;
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, &ip, 4);
	memcpy(a + 24, &ip, 4); /* target MAC stays zero */
}

void
sl_pkt_build_udp(uint8_t *p, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		 uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
		 uint16_t payload_len)
{
	uint8_t *ip = p + ETH_HLEN, *udp = ip + 20;
	uint16_t tot = (uint16_t)(20 + 8 + payload_len), ulen = (uint16_t)(8 + payload_len);
	uint16_t csum;

	memcpy(p, dst_mac, 6);
	memcpy(p + 6, src_mac, 6);
	p[12] = ETH_P_IPV4 >> 8, p[13] = ETH_P_IPV4 & 0xff;
	ip[0] = 0x45, ip[1] = 0;
	ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[4] = 0, ip[5] = 0;	  /* id: unused, DF set */
	ip[6] = 0x40, ip[7] = 0;
	ip[8] = 64, ip[9] = IPPROTO_UDP_;
	ip[10] = 0, ip[11] = 0;
	memcpy(ip + 12, &src_ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	csum = ip_csum(ip, 20);
	ip[10] = (uint8_t)(csum >> 8), ip[11] = (uint8_t)csum;
	memcpy(udp, &src_port, 2);
	memcpy(udp + 2, &dst_port, 2);
	udp[4] = (uint8_t)(ulen >> 8), udp[5] = (uint8_t)ulen;
	udp[6] = 0, udp[7] = 0;
}
