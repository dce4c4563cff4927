/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker's arena for messages larger than one datagram: contiguous buffers behind an mbuf handle, given back from any lcore. */

#ifndef SLUICE_DP_LARGE_BUF_H
#define SLUICE_DP_LARGE_BUF_H

#include <stdint.h>

#include <rte_mbuf.h>

/*
 * A large message lives in one contiguous buffer of a worker's arena
 * (preallocated at start on the main lcore, sized by the configuration's
 * reassembly_bytes), and travels through the broker as an ordinary mbuf
 * attached to that buffer as an external buffer: handoffs, held and
 * pending lists and the retransmit window keep and drop references to it
 * as to any other mbuf. The mbuf's data starts at the copied datagram
 * headers (or at the frame, from shared memory); pkt_len holds the bytes
 * from there to the end of the message, which may be more than data_len
 * (16 bits) can say: the bytes past data_len are read through the data
 * pointer, the buffer being contiguous.
 *
 * The buffer goes back when the last reference to it is freed, on
 * whichever lcore that is: the free callback puts it on the arena's
 * return ring (multi-producer), and the arena's worker takes it back at
 * its next allocation or timer. Nothing here allocates from the system or
 * makes a system call after sl_large_arena_init.
 */

/* Bytes kept in front of the frame for the datagram's headers (Ethernet,
 * IPv4 with options, UDP), so that sl_tx_peer_of finds the sender. */
#define SL_LARGE_HEADROOM 128u
/* Allocation unit of the arena. */
#define SL_LARGE_UNIT (16u << 10)

struct sl_large_arena {
	uint8_t *base;		/* n_units * SL_LARGE_UNIT bytes */
	uint64_t *map;		/* one bit per unit: set = in use */
	uint32_t n_units;
	uint32_t free_units;
	struct rte_ring *ret;	/* buffers whose last reference went, from any lcore */
	struct rte_mempool *pool; /* where the handle mbufs come from */
	uint64_t allocs, fails; /* owner-written statistics */
};

/*
 * Make arena @a of @bytes (rounded up to units; 0: an arena that never
 * gives a buffer) on NUMA @socket, named after worker @idx, handle mbufs
 * from @pool. Main lcore, at start. Returns 0 or -ENOMEM / -errno.
 */
int sl_large_arena_init(struct sl_large_arena *a, uint64_t bytes, int socket, uint32_t idx,
			struct rte_mempool *pool);
/* Release it; every buffer must have come back (workers stopped). */
void sl_large_arena_fini(struct sl_large_arena *a);

/*
 * An mbuf attached to a new buffer of SL_LARGE_HEADROOM + @bytes bytes: its
 * data starts after the headroom, data_len and pkt_len 0 (the caller moves
 * data_off back over what it writes in the headroom, and sets the lengths
 * with sl_large_buf_set_len). Returns NULL when the arena has no
 * contiguous run that large, or no handle mbuf is free. Arena's worker only.
 */
struct rte_mbuf *sl_large_buf_alloc(struct sl_large_arena *a, uint32_t bytes);

/* Take back the buffers whose last reference went. Arena's worker only.
 * Returns how many. */
unsigned sl_large_arena_reclaim(struct sl_large_arena *a);

/* 1 if @m is a large message's handle (an arena buffer). */
static inline int
sl_large_buf_is(const struct rte_mbuf *m)
{
	return RTE_MBUF_HAS_EXTBUF(m) != 0;
}

/* Arena bytes large buffer @m holds: whole units, whatever its length. */
uint64_t sl_large_buf_cost(const struct rte_mbuf *m);

/* Set @m's lengths to @bytes from its data start (see above). */
static inline void
sl_large_buf_set_len(struct rte_mbuf *m, uint32_t bytes)
{
	m->data_len = (uint16_t)(bytes < UINT16_MAX ? bytes : UINT16_MAX);
	m->pkt_len = bytes;
}

#endif /* SLUICE_DP_LARGE_BUF_H */
