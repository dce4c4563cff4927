/* SPDX-License-Identifier: BSD-3-Clause */
/* Replication protocol between the two dataplanes of a pair: wire layouts, codec and the datagram seal. */

#ifndef SLUICE_REPL_H
#define SLUICE_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * docs/REPLICATION.md is the contract; this header pins it. One UDP
 * datagram, little-endian, every part 8-byte aligned:
 *
 *   struct sl_repl_hdr (40 bytes, associated data of the seal)
 *   frames: struct sl_repl_fhdr + body, each padded to 8 bytes
 *   tag (16 bytes)
 *
 * The whole datagram is sealed with ChaCha20-Poly1305 IETF (libsodium, as
 * common/crypto.h) under a key derived from the pair key and the sender's
 * incarnation; the frames are encrypted when the header says
 * SL_REPL_F_ENC, else only authenticated. Parsers take (buf, len), allocate
 * nothing, make no system call: workers and fuzzers call them.
 */

#define SL_REPL_MAGIC 0x50524c53u /* "SLRP" little-endian */
#define SL_REPL_VERSION 1
#define SL_REPL_TAG_LEN SL_TAG_LEN
#define SL_REPL_DGRAM_MAX 1472 /* UDP payload on a 1500-byte MTU */
#define SL_REPL_NAME_MAX 200   /* a topic name in TOPIC (SL_MAX_TOPIC_NAME) */

/* Header flags. */
#define SL_REPL_F_ENC (1u << 0) /* frames encrypted (the DR link), not only authenticated */

struct sl_repl_hdr {
	uint32_t magic;	      /* SL_REPL_MAGIC */
	uint8_t version;      /* SL_REPL_VERSION */
	uint8_t role;	      /* sender's SL_HA_ROLE_* */
	uint8_t flags;	      /* SL_REPL_F_* */
	uint8_t reserved;     /* 0 */
	uint32_t epoch;	      /* sender's leader epoch */
	uint32_t len;	      /* whole datagram: header, frames, tag */
	uint64_t incarnation; /* sender's: drawn at its start, larger at each start */
	uint64_t counter;     /* strictly increasing per incarnation, from 1: the nonce */
	uint64_t sent_ms;     /* sender's CLOCK_REALTIME, ms: stale datagrams are refused */
};
_Static_assert(sizeof(struct sl_repl_hdr) == 40, "repl header layout");
_Static_assert(offsetof(struct sl_repl_hdr, epoch) == 8, "repl header: epoch");
_Static_assert(offsetof(struct sl_repl_hdr, incarnation) == 16, "repl header: incarnation");
_Static_assert(offsetof(struct sl_repl_hdr, counter) == 24, "repl header: counter");
_Static_assert(offsetof(struct sl_repl_hdr, sent_ms) == 32, "repl header: sent_ms");

/* Frame types. */
enum sl_repl_type {
	SL_REPL_HB = 1,	   /* both ways: role, epoch, clocks */
	SL_REPL_TOPIC = 2, /* P->S: a replicated topic, its spec and name */
	SL_REPL_POS = 3,   /* S->P: where the standby's journal of a topic ends */
	SL_REPL_TRUNC = 4, /* P->S: remove the standby's records after keep */
	SL_REPL_DATA = 5,  /* P->S: one record (or a fragment of one) */
	SL_REPL_ACK = 6,   /* S->P: persisted up to seq (cumulative) */
	SL_REPL_LAG = 7,   /* P->DR replica: what it has not persisted, as the primary sees it */
	SL_REPL_TYPES
};

/* Every frame starts with this; len counts header and body, not padding. */
struct sl_repl_fhdr {
	uint8_t type;	   /* enum sl_repl_type */
	uint8_t flags;	   /* per type */
	uint16_t reserved; /* 0 */
	uint32_t len;
};
_Static_assert(sizeof(struct sl_repl_fhdr) == 8, "repl frame header layout");

struct sl_repl_hb {
	struct sl_repl_fhdr f;
	uint32_t role;	  /* SL_HA_ROLE_* */
	uint32_t epoch;	  /* leader epoch this node applies */
	uint64_t now_ns;  /* sender's CLOCK_MONOTONIC when sent */
	uint64_t echo_ns; /* the now_ns of the last HB it heard from us (round trip) */
	uint32_t flags;	  /* SL_REPL_HB_F_* */
	uint32_t reserved;
};
_Static_assert(sizeof(struct sl_repl_hb) == 40, "repl HB layout");
#define SL_REPL_HB_F_CAUGHT_UP (1u << 0) /* primary: this replica holds every record */

struct sl_repl_topic {
	struct sl_repl_fhdr f;
	uint32_t rtopic;	    /* the primary's topic id: names the topic in later frames */
	uint8_t durability;	    /* enum sl_durability */
	uint8_t backpressure;	    /* SL_CNC_BP_* */
	uint8_t name_len;	    /* 1 .. SL_REPL_NAME_MAX, bytes after this struct */
	uint8_t reserved;
	uint64_t retain_bytes;	    /* the spec, as struct sl_topic_spec */
	uint64_t retain_age_s;
	uint64_t capacity_bytes;
	uint32_t retransmit_window;
	uint32_t max_message;
	uint64_t last_seq;	    /* the primary's last record when sent (catch-up progress) */
	/* char name[name_len] */
};
_Static_assert(sizeof(struct sl_repl_topic) == 56, "repl TOPIC layout");
_Static_assert(offsetof(struct sl_repl_topic, retain_bytes) == 16, "repl TOPIC: spec");

struct sl_repl_pos {
	struct sl_repl_fhdr f;
	uint32_t rtopic;
	uint32_t last_epoch; /* leader epoch of its last record (0: none) */
	uint64_t last_seq;   /* its last record (0: none) */
	uint64_t first_seq;  /* its first record (0: none) */
};
_Static_assert(sizeof(struct sl_repl_pos) == 32, "repl POS layout");

struct sl_repl_trunc {
	struct sl_repl_fhdr f;
	uint32_t rtopic;
	uint32_t reserved;
	uint64_t keep; /* records after keep go; 0: all (start over at the primary's first) */
};
_Static_assert(sizeof(struct sl_repl_trunc) == 24, "repl TRUNC layout");

/*
 * A record, or the fragment [frag_off, frag_off + chunk) of one when its
 * payload does not fit a datagram; fragments of a record go in order, in
 * consecutive datagrams, nothing of another record between them.
 */
struct sl_repl_data {
	struct sl_repl_fhdr f;
	uint32_t rtopic;
	uint32_t leader_epoch;
	uint64_t seq;
	uint64_t timestamp;	 /* the primary's record timestamp, ns */
	uint64_t producer_id;	 /* 0: no idempotent producer */
	uint64_t producer_seq;
	uint32_t producer_epoch;
	uint16_t hdrs_len;	 /* message headers at the payload's start */
	uint16_t reserved;
	uint32_t total_len;	 /* the record's payload bytes */
	uint32_t frag_off;	 /* where this chunk starts (0: first or only) */
	/* payload chunk: f.len - sizeof(struct sl_repl_data) bytes */
};
_Static_assert(sizeof(struct sl_repl_data) == 64, "repl DATA layout");
_Static_assert(offsetof(struct sl_repl_data, seq) == 16, "repl DATA: seq");
_Static_assert(offsetof(struct sl_repl_data, total_len) == 56, "repl DATA: total_len");

#define SL_REPL_ACK_F_GAP (1u << 0) /* a DATA past seq + 1 came: resend from seq + 1 */

struct sl_repl_ack {
	struct sl_repl_fhdr f;
	uint32_t rtopic;
	uint32_t flags;	   /* SL_REPL_ACK_F_* */
	uint64_t seq;	   /* persisted (durable) up to here */
	uint64_t last_seq; /* appended up to here (may not be durable yet) */
};
_Static_assert(sizeof(struct sl_repl_ack) == 32, "repl ACK layout");

/* The primary's view of a DR replica's lag, as of the datagram's sent_ms:
 * every record journaled by then that the replica had not acknowledged. */
struct sl_repl_lag {
	struct sl_repl_fhdr f;
	uint64_t records; /* over every journaled topic */
	uint64_t bytes;	  /* estimate: records times each topic's mean record size */
};
_Static_assert(sizeof(struct sl_repl_lag) == 24, "repl LAG layout");

/* ---- Datagram builder ------------------------------------------------ */

/* A datagram being filled in a caller's buffer of @cap bytes. */
struct sl_repl_dgram {
	uint8_t *buf;
	uint32_t cap;	 /* at most SL_REPL_DGRAM_MAX */
	uint32_t len;	 /* header + frames so far (no tag) */
	uint32_t frames;
};

/* Start a datagram in @buf (@cap bytes, 8-aligned): the header's room is
 * reserved; the seal fills it. */
void sl_repl_dgram_init(struct sl_repl_dgram *d, void *buf, uint32_t cap);

/* Body bytes a frame of @fixed header bytes could still carry after it. */
uint32_t sl_repl_dgram_room(const struct sl_repl_dgram *d, uint32_t fixed);

/* Append a frame of @type with @len bytes (header included), zeroed but for
 * its frame header. Returns it, or NULL when it does not fit. */
void *sl_repl_dgram_add(struct sl_repl_dgram *d, uint8_t type, uint32_t len);

/* Encoders: append one frame. Each returns 0, or -ENOSPC when it does not
 * fit (nothing appended), -EINVAL for a bad argument. */
int sl_repl_put_hb(struct sl_repl_dgram *d, uint32_t role, uint32_t epoch, uint64_t now_ns,
		   uint64_t echo_ns, uint32_t flags);
int sl_repl_put_topic(struct sl_repl_dgram *d, const struct sl_repl_topic *t, const char *name,
		      size_t name_len);
int sl_repl_put_pos(struct sl_repl_dgram *d, uint32_t rtopic, uint32_t last_epoch,
		    uint64_t last_seq, uint64_t first_seq);
int sl_repl_put_trunc(struct sl_repl_dgram *d, uint32_t rtopic, uint64_t keep);
int sl_repl_put_ack(struct sl_repl_dgram *d, uint32_t rtopic, uint32_t flags, uint64_t seq,
		    uint64_t last_seq);
int sl_repl_put_lag(struct sl_repl_dgram *d, uint64_t records, uint64_t bytes);
/*
 * DATA for @m (its f, total_len and frag_off are filled here) carrying
 * payload bytes [frag_off, total_len) of @payload, as many as fit (at
 * least one when total_len > frag_off; all of an empty record). Returns the
 * bytes put (>= 0), or -ENOSPC when not even the frame's header and one
 * byte fit.
 */
int sl_repl_put_data(struct sl_repl_dgram *d, const struct sl_repl_data *m, const void *payload,
		     uint32_t total_len, uint32_t frag_off);

/* ---- Parsing ----------------------------------------------------------- */

/*
 * Check the header of datagram @buf (@len bytes) before opening it: magic,
 * version, length (== @len, 8-aligned, room for header and tag), reserved
 * zero. Returns 0, -EPROTO (not ours: magic or version), -EMSGSIZE (length
 * wrong), -EINVAL (reserved bits).
 */
int sl_repl_hdr_check(const void *buf, uint32_t len);

/*
 * The next frame of an opened datagram: @buf/@len the whole datagram,
 * *@off the offset to read (start with sizeof(struct sl_repl_hdr)). Sets
 * *@f and advances *@off. Returns the frame type (> 0), 0 at the end (the
 * tag), or -EINVAL (a length out of bounds or below its type's minimum, a
 * TOPIC name length wrong, a DATA chunk past total_len), -ENOTSUP (an
 * unknown type: skipped by *@off, the caller may go on). Frames of a bad
 * length stop the walk: the rest is not read.
 */
int sl_repl_next(const void *buf, uint32_t len, uint32_t *off, const struct sl_repl_fhdr **f);

/* The payload chunk of DATA frame @d and its length. */
static inline const uint8_t *
sl_repl_data_chunk(const struct sl_repl_data *d, uint32_t *chunk)
{
	*chunk = d->f.len - (uint32_t)sizeof(*d);
	return (const uint8_t *)(d + 1);
}

/* ---- Seal ---------------------------------------------------------------- */

/*
 * The sender's half: its incarnation, counter and key. The key is
 * HKDF-SHA256 (salt "sluice-repl-v1", IKM the pair key, info
 * "sluice-repl-v1 " || incarnation LE 8 bytes): every incarnation seals
 * under a key of its own, so that (key, nonce) never repeats across starts.
 * Nonce: 0 (4 bytes) || counter (LE 8).
 */
struct sl_repl_tx {
	uint64_t incarnation;
	uint64_t counter; /* the last used */
	uint8_t key[SL_KEY_LEN];
};

/* Derive the key of @incarnation from @pair_key. */
void sl_repl_key(const uint8_t pair_key[SL_KEY_LEN], uint64_t incarnation,
		 uint8_t out[SL_KEY_LEN]);

/* A new incarnation from @start_wall_ns (CLOCK_REALTIME at start) and
 * @rnd: (start in us) << 12 | 12 random bits, so a later start is larger. */
uint64_t sl_repl_incarnation(uint64_t start_wall_ns, uint32_t rnd);

void sl_repl_tx_init(struct sl_repl_tx *tx, const uint8_t pair_key[SL_KEY_LEN],
		     uint64_t incarnation);

/*
 * Seal datagram @d (its frames in place): write the header (@role, @epoch,
 * @flags, @sent_ms, the next counter), encrypt the frames when @flags has
 * SL_REPL_F_ENC, append the tag. Returns the datagram's length, or
 * -ENOSPC when no room for the tag is left (cannot happen through the
 * builder), -EOVERFLOW when the counter ran out (the sender must restart
 * with a new incarnation).
 */
int sl_repl_seal(struct sl_repl_tx *tx, struct sl_repl_dgram *d, uint32_t role, uint32_t epoch,
		 uint32_t flags, uint64_t sent_ms);

/*
 * The receiver's half, one per peer: the incarnation it follows, its key,
 * the replay window of its counters. Zero it, then sl_repl_rx_init.
 */
struct sl_repl_rx {
	uint8_t pair_key[SL_KEY_LEN];
	uint64_t incarnation; /* 0: none yet */
	uint8_t key[SL_KEY_LEN];
	struct sl_replay_window win;
	uint64_t max_skew_ms; /* refuse datagrams whose sent_ms is further off than this */
};

void sl_repl_rx_init(struct sl_repl_rx *rx, const uint8_t pair_key[SL_KEY_LEN],
		     uint64_t max_skew_ms);

/*
 * Verify and open datagram @buf of @len bytes received at @now_ms
 * (CLOCK_REALTIME): header check, seal (a new incarnation: only when larger
 * than the one followed, adopted once its datagram verifies), freshness,
 * counter (replay window), then the frames decrypted in place. Returns 0,
 * or -EPROTO / -EMSGSIZE / -EINVAL (sl_repl_hdr_check), -EBADMSG (the tag
 * does not hold: forged or damaged; nothing changed), -EALREADY (a counter
 * seen before, or an older incarnation: a replay), -ETIMEDOUT (sent_ms
 * further than max_skew_ms from @now_ms). Only 0 changes @rx.
 */
int sl_repl_rx_open(struct sl_repl_rx *rx, void *buf, uint32_t len, uint64_t now_ms);

/* Zero the secrets in @tx / @rx. */
void sl_repl_tx_wipe(struct sl_repl_tx *tx);
void sl_repl_rx_wipe(struct sl_repl_rx *rx);

/*
 * Parse a pair key file's text @s (@len bytes): 64 hex digits, surrounding
 * white space allowed. Returns 0, or -EINVAL (not 64 hex digits).
 */
int sl_repl_key_parse(const char *s, size_t len, uint8_t out[SL_KEY_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_REPL_H */
