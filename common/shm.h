/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-memory transport's memory layout, shared by libsluice and the
 * dataplane (docs/PROTOCOL.md section 14).
 *
 * A local client attaches over the dataplane's UNIX socket
 * (/run/sluice/NAME/shm.sock) and receives, by SCM_RIGHTS, one sealed
 * memory file of its own (huge pages when the host has them): a header, one
 * ring from the client to the broker (tx) and one ring per dataplane worker
 * from the broker to the client (rx[i], written only by worker i). Rings
 * carry the wire protocol's frames unchanged, one frame per record.
 *
 * Each ring is single-producer, single-consumer, a power of two bytes long
 * (at least 64). Positions are 64-bit byte counts that only grow; the offset
 * in the ring is pos & (size - 1). Version 3 lays records out in 64-byte
 * cache lines: a record is an 8-byte commit word, then its body, padded to
 * a whole number of lines, so every record starts a line. The commit word is
 * written last, with release, and is part of the record's first line:
 *   bits  0..23  body length in bytes (after the commit word)
 *   bits 24..31  kind: SL_SHM_K_FRAME (0): the body is one wire frame,
 *                unchanged; SL_SHM_K_MSG (1): the body is a message record
 *                (struct sl_shm_msg: a PUBLISH in the tx ring, a DELIVER in
 *                an rx ring, without the wire header)
 *   bits  0..31  all ones (SL_SHM_PAD): skip to the ring's end
 *   bits 32..63  lap: ((pos / size) mod (2^32 - 1)) + 1, never 0
 * so a word left from an earlier lap (or never written: 0) reads as "not
 * yet". A message of at most SL_SHM_LINE_PAYLOAD (32) payload bytes without
 * a header block is exactly one line, committed by the one store that ends
 * it. A record never wraps: when it does not fit before the end, a pad
 * record fills the rest of the lap. Before it commits a record, the
 * producer clears the 8 bytes after it (unless the record ends the lap): a
 * consumer that catches up reads zero there, never old bytes that could
 * pass for a commit word. The consumer publishes how far it has read in the
 * ring's cons word; the producer may not run more than size ahead of it.
 *
 * Trust: the broker treats every byte of this memory as hostile. It keeps
 * its own positions privately, copies a record before it parses it, checks
 * every length and position it reads, and cuts the client off (notice word)
 * at the first record that is not well formed.
 */

#ifndef SLUICE_SHM_H
#define SLUICE_SHM_H

#include <stdint.h>

#include <common/paths.h>
#include <common/proto.h>

#define SL_SHM_MAGIC 0x314d48534543554cull /* "LUCESHM1", little-endian */
#define SL_SHM_VERSION 3u /* 3: line records, message records; 2: max_frame and
			    * max_deliver above a datagram */
#define SL_SHM_MAX_RX 32u		    /* rx rings: one per dataplane worker */
#define SL_SHM_REC_HDR 8u		    /* commit word */
#define SL_SHM_PAD 0xffffffffu		    /* commit length of a pad record */
#define SL_SHM_LINE 64u			    /* records are whole lines */
#define SL_SHM_LEN_MAX 0x00ffffffu	    /* largest body a commit word says */
#define SL_SHM_K_FRAME 0u		    /* commit kind: a wire frame */
#define SL_SHM_K_MSG 1u			    /* commit kind: struct sl_shm_msg */
#define SL_SHM_SOCKET "shm.sock"	    /* in /run/sluice/NAME/ */

/* Ring header in the shared region: producer and consumer words on their own
 * cache lines, so the two sides do not share a line they both write. */
struct sl_shm_ring {
	uint64_t prod;	   /* reserved: v1 producers do not write it (the commit
			    * words say what is there) */
	uint64_t wakeups;  /* reserved */
	uint8_t pad0[48];
	uint64_t cons;	   /* consumer: position up to which records are released */
	uint64_t dropped;  /* rx rings: deliveries the broker dropped, ring full */
	uint32_t waiting;  /* consumer: 1 while it may sleep on its doorbell; a
			    * producer that commits and finds it set clears it
			    * and rings the doorbell (PROTOCOL.md 14.8) */
	uint8_t pad1[44];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct sl_shm_ring) == 128, "ring header layout");
_Static_assert(__builtin_offsetof(struct sl_shm_ring, waiting) == 80, "ring header layout");

/* Broker notice (struct sl_shm_region.notice): why the broker stopped
 * serving this client; 0 while it is served. */
enum sl_shm_notice {
	SL_SHM_SERVED = 0,
	SL_SHM_CUT_CORRUPT = 1,	  /* a record in the tx ring was not well formed */
	SL_SHM_CUT_SLOW = 2,	  /* disconnected: too slow (topic policy disconnect) */
	SL_SHM_CUT_SHUTDOWN = 3,  /* the dataplane is stopping */
	SL_SHM_CUT_EXPIRED = 4,	  /* the session expired or ended */
};

/* Offset 0 of the region. Written by the broker before the file is passed;
 * the client reads it once and must not change it (the broker never reads
 * the geometry back: it keeps its own copy). */
struct sl_shm_region {
	uint64_t magic;
	uint32_t version;
	uint32_t n_rx;	     /* rx rings, = dataplane workers */
	uint64_t size;	     /* bytes mapped */
	uint32_t tx_size;    /* bytes, power of two */
	uint32_t rx_size;    /* bytes each, power of two */
	uint64_t tx_off;     /* data offsets from the region start */
	uint64_t rx_off[SL_SHM_MAX_RX];
	uint32_t max_frame;  /* largest frame the broker accepts in tx (v2: a
			      * PUBLISH larger than a datagram, up to this) */
	uint32_t slot;	     /* the broker's client slot, for counters */
	uint64_t tsc_hz;     /* broker's TSC rate, for timestamp conversion */
	uint32_t page_size;  /* backing page size in bytes */
	uint32_t max_deliver; /* v2: largest DELIVER the broker writes whole into an
			       * rx ring; larger messages come as DELIVER_FRAG */
	uint8_t pad[40];
	/* Own line: broker writes (release), client reads. */
	uint32_t notice __attribute__((aligned(64))); /* enum sl_shm_notice */
	uint32_t reserved2;
	uint8_t pad2[56];
	struct sl_shm_ring tx;
	struct sl_shm_ring rx[SL_SHM_MAX_RX];
};

/* Attach request, client to broker over the UNIX socket (SOCK_SEQPACKET). */
struct sl_shm_attach_req {
	uint64_t magic;	  /* SL_SHM_MAGIC */
	uint32_t version; /* SL_SHM_VERSION */
	uint32_t flags;	  /* SL_SHM_ATTACH_F_*; 0 from older clients */
	char name[32];	  /* shown in the broker's counters */
};

/* The request carries the client's doorbell, an eventfd (SCM_RIGHTS), and
 * asks for the broker's: with status 0 the reply then carries a second
 * descriptor, the eventfd of the worker that reads the tx ring (14.8). */
#define SL_SHM_ATTACH_F_DOORBELL 1u

/* Reply; with status 0 the region's file descriptor comes as SCM_RIGHTS. */
struct sl_shm_attach_rep {
	uint64_t magic;
	int32_t status;	  /* 0, or -errno: -EBUSY (no free slot), -EPROTO, -ENOMEM */
	uint32_t version; /* the broker's SL_SHM_VERSION (0 before version 3) */
	uint64_t size;	  /* bytes to map */
};

/*
 * A message record (commit kind SL_SHM_K_MSG): a PUBLISH in the tx ring, a
 * DELIVER in an rx ring, the wire frame's fields without its 16-byte header
 * (the session is the region's: the one this client opened over it). The
 * header block (hdrs_len bytes, with SL_PUB_F_HDRS / SL_DLV_F_HDRS in flags)
 * and the payload follow; the commit word's length counts 24 + both.
 */
struct sl_shm_msg {
	uint64_t commit;
	uint32_t topic_id;
	uint16_t flags;	    /* the frame's h.flags */
	uint16_t hdrs_len;
	uint64_t seq;	    /* tx: producer_seq; rx: the topic's seq */
	uint64_t timestamp;
	/* header block, then payload */
};

_Static_assert(sizeof(struct sl_shm_msg) == 32, "message record layout");
_Static_assert(__builtin_offsetof(struct sl_shm_msg, seq) == 16, "message record layout");
#define SL_SHM_MSG_BODY 24u /* a message record's bytes after the commit word */
/* Payload bytes a message record without headers carries in one line. */
#define SL_SHM_LINE_PAYLOAD (SL_SHM_LINE - (uint32_t)sizeof(struct sl_shm_msg))

/* PUBLISH and DELIVER agree on every field a message record carries. */
_Static_assert(sizeof(struct sl_publish) == sizeof(struct sl_deliver) &&
		       offsetof(struct sl_publish, topic_id) == offsetof(struct sl_deliver, topic_id) &&
		       offsetof(struct sl_publish, hdrs_len) == offsetof(struct sl_deliver, hdrs_len) &&
		       offsetof(struct sl_publish, producer_seq) == offsetof(struct sl_deliver, seq) &&
		       offsetof(struct sl_publish, timestamp) == offsetof(struct sl_deliver, timestamp),
	       "PUBLISH and DELIVER layouts");

/*
 * Write into @f (sizeof(struct sl_deliver) bytes) the wire header of the
 * frame of @type, SL_FT_PUBLISH (a tx record) or SL_FT_DELIVER (an rx
 * record), that message record @m stands for: @body bytes of header block
 * and payload follow, session @session. @m should be a copy where its
 * writer may still write.
 */
static inline void
sl_shm_msg_frame_hdr(void *f, uint8_t type, const struct sl_shm_msg *m, uint32_t body,
		     uint32_t session)
{
	struct sl_deliver *d = (struct sl_deliver *)f;

	sl_proto_hdr_init(&d->h, type, m->flags, (uint32_t)sizeof(*d) + body, session);
	d->h.version = sl_proto_frame_version(type, m->flags);
	d->topic_id = m->topic_id;
	d->hdrs_len = m->hdrs_len;
	d->reserved = 0;
	d->seq = m->seq;
	d->timestamp = m->timestamp;
}

/* The lap of ring position @pos: (pos / size) mod (2^32 - 1), plus one, so
 * never 0 (what memory that was never written, or was cleared, reads as). */
static inline uint32_t
sl_shm_lap(uint64_t pos, uint32_t size_shift)
{
	return (uint32_t)((pos >> size_shift) % 0xffffffffull) + 1u;
}

/* Commit word of a frame record (or a pad, @len SL_SHM_PAD) at @pos. */
static inline uint64_t
sl_shm_commit_word(uint64_t pos, uint32_t size_shift, uint32_t len)
{
	return ((uint64_t)sl_shm_lap(pos, size_shift) << 32) | len;
}

/* Commit word of a message record at @pos whose body is @len bytes. */
static inline uint64_t
sl_shm_commit_msg(uint64_t pos, uint32_t size_shift, uint32_t len)
{
	return sl_shm_commit_word(pos, size_shift, len | (SL_SHM_K_MSG << 24));
}

/* A committed word's body length and kind (not for SL_SHM_PAD). */
static inline uint32_t
sl_shm_word_len(uint64_t word)
{
	return (uint32_t)word & SL_SHM_LEN_MAX;
}

static inline uint32_t
sl_shm_word_kind(uint64_t word)
{
	return ((uint32_t)word >> 24) & 0xffu;
}

/* Bytes a record of a @len-byte body takes in the ring: whole lines. */
static inline uint32_t
sl_shm_rec_bytes(uint32_t len)
{
	return (SL_SHM_REC_HDR + len + SL_SHM_LINE - 1u) & ~(SL_SHM_LINE - 1u);
}

/*
 * The producer's side of a ring (data at @ring, @size = 1 << @shift bytes),
 * the same for the client's tx ring and the broker's rx rings. The caller
 * keeps the position and decides whom to trust for the consumer's.
 */

/* Bytes that must be free at @pos for a record of @rec bytes: a pad first
 * if it does not fit before the lap's end, and the slot cleared after it. */
static inline uint64_t
sl_shm_rec_need(uint64_t pos, uint32_t size, uint32_t rec)
{
	uint32_t off = (uint32_t)(pos & (size - 1));

	return rec + SL_SHM_REC_HDR + (rec > size - off ? size - off : 0);
}

/* Room checked: write the pad if the record does not fit before the lap's
 * end, moving *pos past it. Returns the record's offset in the ring. */
static inline uint32_t
sl_shm_rec_place(uint8_t *ring, uint32_t size, uint32_t shift, uint64_t *pos, uint32_t rec)
{
	uint32_t off = (uint32_t)(*pos & (size - 1));

	if (rec <= size - off)
		return off;
	__atomic_store_n((uint64_t *)(ring + off), sl_shm_commit_word(*pos, shift, SL_SHM_PAD),
			 __ATOMIC_RELEASE);
	*pos += size - off;
	return 0;
}

/* Publish the record at @pos whose body is written, with commit word
 * @word (its length field says the body's bytes): clear the slot after it
 * (unless it ends the lap), then the commit word, release. */
static inline void
sl_shm_rec_commit_word(uint8_t *ring, uint32_t size, uint64_t pos, uint64_t word)
{
	uint32_t off = (uint32_t)(pos & (size - 1));
	uint32_t rec = sl_shm_rec_bytes(sl_shm_word_len(word));

	if (off + rec < size)
		*(uint64_t *)(ring + off + rec) = 0;
	/* Release: pairs with the consumer's acquire load of the word; the
	 * body (and the cleared slot) are visible before it. */
	__atomic_store_n((uint64_t *)(ring + off), word, __ATOMIC_RELEASE);
}

/* Publish the frame record at @pos whose @len-byte frame is written. */
static inline void
sl_shm_rec_commit(uint8_t *ring, uint32_t size, uint32_t shift, uint64_t pos, uint32_t len)
{
	sl_shm_rec_commit_word(ring, size, pos, sl_shm_commit_word(pos, shift, len));
}

#endif /* SLUICE_SHM_H */
