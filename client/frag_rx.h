/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: reassembly of one topic's DELIVER_FRAG pieces into whole messages. */

#ifndef SLUICE_CLIENT_FRAG_RX_H
#define SLUICE_CLIENT_FRAG_RX_H

#include <stdbool.h>
#include <stdint.h>

/* Messages of one topic being reassembled at once; a piece of another
 * message finds no room unless it is older than one of them (see
 * sl_frag_rx_piece). */
#define SL_FRAG_RX_SLOTS 4u
/* Distinct byte ranges one message may arrive in before it is whole. */
#define SL_FRAG_RX_RANGES 32u

struct sl_frag_range {
	uint32_t lo, hi; /* bytes [lo, hi) arrived */
};

/* One message being reassembled, or whole and waiting for its turn. */
struct sl_frag_asm {
	uint64_t seq;	   /* 0: free */
	uint64_t timestamp;
	uint32_t msg_len;
	uint32_t nranges;
	bool whole;
	uint8_t *buf;	   /* max_message bytes, allocated at its first use, kept */
	struct sl_frag_range r[SL_FRAG_RX_RANGES];
};

/*
 * The reassembly state of one topic: at most SL_FRAG_RX_SLOTS messages of
 * at most @max_message bytes each, so the memory is bounded by
 * SL_FRAG_RX_SLOTS * max_message; each buffer is allocated once, when a
 * topic's first large message needs it, and reused.
 */
struct sl_frag_rx {
	uint32_t max_message;
	struct sl_frag_asm a[SL_FRAG_RX_SLOTS];
};

/* Start empty, for messages up to @max_message bytes. Allocates nothing. */
void sl_frag_rx_init(struct sl_frag_rx *fr, uint32_t max_message);

/* Free the buffers. */
void sl_frag_rx_fini(struct sl_frag_rx *fr);

/*
 * Take the piece @data (@len bytes at @off) of message @seq (@msg_len
 * bytes, @ts). When no slot is free, the slot of the newest message above
 * @seq (whole or not) is taken over, since the older message is needed
 * first; its seq goes to *@evicted (0 if none), so the caller forgets it.
 * Returns the slot index (>= 0) when the message is now whole, -EINPROGRESS
 * when pieces are still missing, -EALREADY for a piece of a message already
 * whole or bytes already held (a duplicate), -EMSGSIZE when @msg_len is over
 * max_message, -EINVAL when the piece contradicts earlier ones (another
 * msg_len) or lies outside the message, -ENOBUFS when no slot can be had
 * (every one holds an older message), -ENOMEM.
 */
int sl_frag_rx_piece(struct sl_frag_rx *fr, uint64_t seq, uint32_t msg_len, uint64_t ts,
		     uint32_t off, uint32_t len, const void *data, uint64_t *evicted);

/* Free slot @idx (its message was delivered or given up). */
void sl_frag_rx_release(struct sl_frag_rx *fr, unsigned int idx);

/* Free every slot holding a message below @seq (skipped), or all with
 * @seq UINT64_MAX. */
void sl_frag_rx_drop_below(struct sl_frag_rx *fr, uint64_t seq);

#endif /* SLUICE_CLIENT_FRAG_RX_H */
