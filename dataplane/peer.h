/* SPDX-License-Identifier: BSD-3-Clause */
/* A client's address on whichever transport it uses: UDP through a port, or a shared-memory slot (no EAL). */

#ifndef SLUICE_DP_PEER_H
#define SLUICE_DP_PEER_H

#include <stdint.h>
#include <string.h>

/* Which member of union sl_peer applies: the first byte of every member. */
enum sl_transport {
	SL_TRANSPORT_UDP = 0, /* kernel-bypass UDP: mbufs through tx_burst */
	SL_TRANSPORT_SHM = 1, /* a local client's shared-memory rings */
};

/*
 * Where a frame goes back to. Each member starts with the transport byte
 * (a common initial sequence), so peer->transport says which member is
 * meant without making the struct bigger than its largest member.
 */
union sl_peer {
	uint8_t transport; /* enum sl_transport */
	struct sl_peer_udp {
		uint8_t transport; /* SL_TRANSPORT_UDP */
		uint8_t mac[6];	   /* the sender's (or next hop's) MAC */
		uint8_t version;   /* a subscription's session's protocol version; 0: not known */
		uint32_t ip;	   /* network order */
		uint16_t port;	   /* UDP port, network order */
		uint8_t port_id;   /* DPDK port it arrived on (< RTE_MAX_ETHPORTS) */
		uint8_t laddr;	   /* the address it wrote to, which replies come
				    * from: 0 the port's own, 1 the service address */
	} udp;
	struct sl_peer_shm {
		uint8_t transport; /* SL_TRANSPORT_SHM */
		uint8_t version;   /* as udp.version */
		uint8_t reserved[2];
		uint32_t slot;	   /* the client's slot */
		uint16_t gen;	   /* the slot's generation: a later client of the
				    * same slot is another peer */
		uint16_t reserved2;
		uint32_t reserved3;
	} shm;
};
#ifndef __cplusplus
_Static_assert(sizeof(union sl_peer) == 16, "peer size");
#endif

/* The session table's address key of @p: IPv4 address and UDP port, or
 * slot and generation. Sessions also keep the transport, so a key that
 * matches across transports never finds the other's session. */
static inline uint32_t
sl_peer_addr(const union sl_peer *p)
{
	return p->transport == SL_TRANSPORT_SHM ? p->shm.slot : p->udp.ip;
}

static inline uint16_t
sl_peer_port(const union sl_peer *p)
{
	return p->transport == SL_TRANSPORT_SHM ? p->shm.gen : p->udp.port;
}

/* The protocol version a subscription's session speaks (0: not known,
 * treated as the lowest: nothing of a later version is sent to it). The
 * byte is at another offset in each member. */
static inline uint8_t
sl_peer_version(const union sl_peer *p)
{
	return p->transport == SL_TRANSPORT_SHM ? p->shm.version : p->udp.version;
}

static inline void
sl_peer_set_version(union sl_peer *p, uint8_t v)
{
	if (p->transport == SL_TRANSPORT_SHM)
		p->shm.version = v;
	else
		p->udp.version = v;
}

/* A shared-memory peer. */
static inline union sl_peer
sl_peer_shm(uint32_t slot, uint16_t gen)
{
	union sl_peer p;

	memset(&p, 0, sizeof(p));
	p.shm.transport = SL_TRANSPORT_SHM;
	p.shm.slot = slot;
	p.shm.gen = gen;
	return p;
}

#endif /* SLUICE_DP_PEER_H */
