/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-worker session table: session ids, peer addresses, liveness (no EAL). */

#ifndef SLUICE_DP_SESSION_H
#define SLUICE_DP_SESSION_H

#include <stdint.h>

#include <common/auth.h>
#include <common/crypto.h>
#include <common/proto.h>

/*
 * A session belongs to the worker whose rx queue its packets arrive on (RSS
 * keeps a flow on one queue). Its id is a keyed permutation (common/crypto.h
 * sl_session_id_encode, a broker secret) of
 *   bits 31..24 worker index + 1, bit 23 sealed (every datagram to it is
 *   sealed: a sender that cannot find its key drops rather than send in
 *   the clear), bits 22..16 generation, bits 15..0 slot,
 * so ids cannot be guessed and a stale or forged id never matches a reused
 * slot. One table per worker, used only by that worker, except its
 * transmit side (struct sl_session_tx), which every worker reads.
 */

#define SL_SESSION_MAX 65535u
#define SL_SESSION_ID_SEALED (1u << 23) /* in the plain id */

struct sl_session {
	uint32_t id;	  /* 0 when the slot is free */
	uint32_t ip;	  /* address key (sl_peer_addr): IPv4 address or shm slot */
	uint16_t udp_port; /* ... and UDP port or slot generation */
	uint8_t transport; /* enum sl_transport of the peer that opened it */
	uint8_t version;   /* protocol version agreed in HELLO/WELCOME */
	uint8_t enc;	   /* sealed datagrams are encrypted (SL_SEAL_F_ENC) */
	uint8_t suite;	   /* SL_SUITE_*: the seal's AEAD, both directions */
	uint8_t reserved1[6];
	uint64_t nonce;	  /* HELLO's, echoed in AUTH: a resent AUTH gets the same WELCOME */
	uint64_t issued;  /* the CHALLENGE's time (ms) of the AUTH that opened it */
	uint64_t last_seen; /* caller's clock units */
	char name[SL_CLIENT_NAME_LEN];
	/* Authentication: state, user, the replay window (the precomputed
	 * keys are in the table's rxk and txk arrays, by slot). */
	uint8_t auth;	    /* SL_SESSION_AUTH_* */
	uint8_t reserved2;
	uint16_t uid;	    /* 0: anonymous (open mode) */
	uint16_t user_epoch; /* the user's epoch when authenticated */
	uint16_t reserved3;
	struct sl_replay_window rw;
	uint64_t rate_tat; /* publish rate limit: theoretical arrival time (GCRA) */
	/* Idempotent producer the session is bound to (PRODUCER); 0: none. */
	uint64_t producer_id;
	uint32_t producer_epoch;
	uint32_t producer_req; /* req_id of the PRODUCER that bound it */
};

#define SL_SESSION_AUTH_NONE 0	 /* open mode, no proof */
#define SL_SESSION_AUTH_OK 2	 /* proved; every UDP datagram is sealed */

/*
 * What a worker needs to seal a datagram to a session, whichever worker
 * sends it (a topic's owner delivers to sessions of every worker): this and
 * the slot's precomputed k_s2c in the table's txk array. The session's
 * worker writes them; others read them as a seqlock keyed by @id: load @id
 * (acquire), seal with the key where it lies, load @id again
 * (sl_session_tx_still); equal and the session's id: the datagram is good,
 * else it is dropped unsent. @seq is the broker->client transport sequence,
 * shared by every sender (relaxed fetch-add: only uniqueness matters).
 */
struct sl_session_tx {
	uint32_t id;	/* 0: no sealed session in the slot */
	uint8_t enc;
	uint8_t reserved[3];
	uint64_t seq;	/* last s2c sequence used */
	uint8_t pad[48];
} __attribute__((aligned(64)));

/* Decoded session ids, direct-mapped: the permutation costs four SipHash
 * calls, a hit a load. One writer. */
struct sl_id_cache {
	uint32_t id[256];
	uint32_t plain[256];
};

/* sl_session_id_decode(@k, @id) (@id != 0), through @c. */
static inline uint32_t
sl_id_cache_plain(struct sl_id_cache *c, const uint8_t *k, uint32_t id)
{
	unsigned i = id & 255;

	if (c->id[i] != id) {
		c->plain[i] = sl_session_id_decode(k, id);
		c->id[i] = id;
	}
	return c->plain[i];
}

struct sl_session_table {
	uint32_t cap;
	uint32_t worker;
	uint32_t n_active;
	uint32_t scan_pos;
	uint32_t nbuckets; /* power of two */
	uint32_t n_free;
	struct sl_session *s;
	struct sl_session_tx *tx; /* per slot; read by every worker */
	/* Precomputed seal keys per slot (common/crypto.h struct
	 * sl_seal_key, 1 KiB each): k_c2s, the owner's alone; k_s2c, read
	 * by every worker under tx[slot]'s seqlock. 2 KiB per session,
	 * allocated and touched at start. */
	struct sl_seal_key *rxk;
	struct sl_seal_key *txk;
	uint8_t idkey[SL_SESSION_ID_KEY_LEN]; /* the broker's session-id key */
	struct sl_id_cache idc; /* the owner's lookups */
	uint32_t *bucket;   /* address hash -> slot + 1, 0 = empty */
	uint32_t *next;	    /* chain: slot -> slot + 1 */
	uint32_t *free_slots;
	uint8_t *gen;
};

typedef void (*sl_session_expired_fn)(void *arg, const struct sl_session *s);

/* Allocate room for @cap (<= SL_SESSION_MAX) sessions of worker @worker
 * (< 255), ids under @idkey (SL_SESSION_ID_KEY_LEN bytes; NULL: all zero,
 * for tests). Returns 0, -EINVAL or -ENOMEM. */
int sl_session_table_init(struct sl_session_table *t, uint32_t cap, uint32_t worker,
			  const uint8_t *idkey);
void sl_session_table_fini(struct sl_session_table *t);

/* Worker index encoded in session id @id under @idkey, or -1 for id 0 or a
 * bad worker field. */
static inline int
sl_session_worker(const uint8_t *idkey, uint32_t id)
{
	return id == 0 ? -1 : (int)(sl_session_id_decode(idkey, id) >> 24) - 1;
}

/*
 * Seal state of session @id (@plain: its decoded form, from any id cache)
 * in table @t (any worker may call): *@key points at its precomputed k_s2c
 * and *@enc is set when @id is a live sealed session. Returns the slot's
 * struct (for its seq), or NULL. The key may change under the caller when
 * the session ends: seal with it, then check sl_session_tx_still and drop
 * the datagram when that fails.
 */
struct sl_session_tx *sl_session_tx_get(struct sl_session_table *t, uint32_t id,
					uint32_t plain, const struct sl_seal_key **key,
					uint8_t *enc);

/* Session @s's precomputed receive key (k_c2s). The owner only. */
static inline const struct sl_seal_key *
sl_session_rx_key(const struct sl_session_table *t, const struct sl_session *s)
{
	return &t->rxk[s - t->s];
}

/* Is @tx still session @id's (after a fetch-add on its seq and sealing
 * with its key)? */
static inline int
sl_session_tx_still(const struct sl_session_tx *tx, uint32_t id)
{
	/* The seqlock's read check: the fence keeps the key's reads and the
	 * seq's fetch-add before the load; it pairs with the release fence
	 * after the owner clears the id (sl_session_close,
	 * sl_session_keys_set), so an unchanged id means neither was the
	 * next session's. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&tx->id, __ATOMIC_RELAXED) == id;
}

/*
 * Make session @s sealed with @suite (SL_SUITE_*) under @k_c2s (receive)
 * and @k_s2c (transmit), precomputed into the slot's keys: gives it a
 * sealed id (call before its id is told to anyone). The owner only.
 * Returns 0, or -ENOTSUP when @suite cannot run here (the session is left
 * unsealed).
 */
int sl_session_keys_set(struct sl_session_table *t, struct sl_session *s, unsigned suite,
			const uint8_t k_c2s[SL_KEY_LEN], const uint8_t k_s2c[SL_KEY_LEN],
			uint8_t enc);

/* Is session id @id (under @idkey) a sealed session's? */
static inline int
sl_session_id_sealed(const uint8_t *idkey, uint32_t id)
{
	return id != 0 && (sl_session_id_decode(idkey, id) & SL_SESSION_ID_SEALED);
}

/* The session for this peer address, or NULL. */
struct sl_session *sl_session_find_addr(struct sl_session_table *t, uint32_t ip, uint16_t port);

/* The live session @id if it belongs to this peer address, or NULL. */
struct sl_session *sl_session_get(struct sl_session_table *t, uint32_t id, uint32_t ip,
				  uint16_t port);

/* Open a session for a peer with no session. Returns 0 and sets *out, or
 * -ENOSPC when the table is full. */
int sl_session_open(struct sl_session_table *t, uint32_t ip, uint16_t port,
		    struct sl_session **out);

void sl_session_close(struct sl_session_table *t, struct sl_session *s);

/*
 * Close sessions not seen since @now - @timeout, looking at no more than
 * @max_scan slots per call (the scan resumes where it stopped, so the cost
 * per call is bounded). @fn is called for each before it is closed.
 * Returns the number closed.
 */
uint32_t sl_session_expire(struct sl_session_table *t, uint64_t now, uint64_t timeout,
			   uint32_t max_scan, sl_session_expired_fn fn, void *arg);

#endif /* SLUICE_DP_SESSION_H */
