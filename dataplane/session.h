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
 * keeps a flow on one queue). Its id encodes that worker, a slot and a
 * generation, so a stale or forged id never matches a reused slot:
 *   bits 31..24 worker index + 1, bits 23..16 generation, bits 15..0 slot.
 * One table per worker, used only by that worker: no synchronisation.
 */

#define SL_SESSION_MAX 65535u

struct sl_session {
	uint32_t id;	  /* 0 when the slot is free */
	uint32_t ip;	  /* address key (sl_peer_addr): IPv4 address or shm slot */
	uint16_t udp_port; /* ... and UDP port or slot generation */
	uint8_t transport; /* enum sl_transport of the peer that opened it */
	uint8_t version;   /* protocol version agreed in HELLO/WELCOME */
	uint8_t reserved1[8];
	uint64_t nonce;	  /* from HELLO: a resent HELLO gets the same WELCOME */
	uint64_t last_seen; /* caller's clock units */
	char name[SL_CLIENT_NAME_LEN];
	/* Authentication: state, user, and the session's MAC key and window. */
	uint8_t auth;	    /* SL_SESSION_AUTH_* */
	uint8_t reserved2;
	uint16_t uid;	    /* 0: anonymous (open mode) */
	uint16_t user_epoch; /* the user's epoch when authenticated */
	uint16_t reserved3;
	uint8_t server_nonce[SL_HS_NONCE_LEN];
	uint8_t k_c2s[SL_KEY_LEN];
	uint8_t k_s2c[SL_KEY_LEN];
	struct sl_replay_window rw;
	uint64_t rate_tat; /* publish rate limit: theoretical arrival time (GCRA) */
	/* Idempotent producer the session is bound to (PRODUCER); 0: none. */
	uint64_t producer_id;
	uint32_t producer_epoch;
	uint32_t producer_req; /* req_id of the PRODUCER that bound it */
};

#define SL_SESSION_AUTH_NONE 0	 /* open mode, no proof */
#define SL_SESSION_AUTH_PENDING 1 /* CHALLENGE sent, waiting for AUTH */
#define SL_SESSION_AUTH_OK 2	 /* proved; every frame carries a MAC */

struct sl_session_table {
	uint32_t cap;
	uint32_t worker;
	uint32_t n_active;
	uint32_t scan_pos;
	uint32_t nbuckets; /* power of two */
	uint32_t n_free;
	struct sl_session *s;
	uint32_t *bucket;   /* address hash -> slot + 1, 0 = empty */
	uint32_t *next;	    /* chain: slot -> slot + 1 */
	uint32_t *free_slots;
	uint8_t *gen;
};

typedef void (*sl_session_expired_fn)(void *arg, const struct sl_session *s);

/* Allocate room for @cap (<= SL_SESSION_MAX) sessions of worker @worker
 * (< 255). Returns 0, -EINVAL or -ENOMEM. */
int sl_session_table_init(struct sl_session_table *t, uint32_t cap, uint32_t worker);
void sl_session_table_fini(struct sl_session_table *t);

/* Worker index encoded in a session id, or -1 for id 0 or a bad worker field. */
static inline int
sl_session_worker(uint32_t id)
{
	return (int)(id >> 24) - 1;
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
