/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice internals: the client's state and the calls between its transport, session,
 * request, publish and receive files. */

#ifndef SLUICE_CLIENT_INTERNAL_H
#define SLUICE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <common/auth.h>
#include <common/crypto.h>
#include <common/proto.h>
#include <sluice/sluice.h>

#include "shm_link.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

#define RX_BURST 32	     /* datagrams per recvmmsg in sl_client_poll */
#define STASH_SLOTS 512	     /* first size of the stash ring; it doubles as needed */
#define STASH_MAX_BYTES (64u << 20) /* stashed bytes past which a request stops reading */
#define WAIT_DRAIN_MAX 64    /* datagrams read per wake-up while a request waits */
#define RESEND_NS (200 * NS_PER_MS)
#define PRODUCER_PROBE_NS (4 * RESEND_NS - NS_PER_MS) /* the first PRODUCER: four tries */
#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_SOCKBUF (4u << 20)
#define DEFAULT_HEARTBEAT_MS 1000u
#define DEFAULT_RESEND_MS 50u
#define RESEND_MAX_NS (1000 * NS_PER_MS)  /* resend backoff ceiling */
#define DEFAULT_RESEND_BYTES (16u << 20)
#define PTOPIC_SLOTS 4096u	   /* topics one client publishes to; power of two */
#define RECONNECT_MIN_NS (50 * NS_PER_MS)
#define RECONNECT_MAX_NS (2000 * NS_PER_MS)
#define RECONNECT_WAIT_NS (500 * NS_PER_MS) /* most one request of an attempt waits */
#define RECONNECT_WAIT_LIST_NS (150 * NS_PER_MS) /* ... with a list of brokers */
#define RECONNECT_LIST_GAP_NS (10 * NS_PER_MS)	 /* from a failed attempt to the next broker's */
#define MAX_PATTERNS 64u	   /* pattern subscriptions kept for a reconnect */
#define AUTH_WAIT_NS (4 * RESEND_NS - NS_PER_MS) /* AUTH unanswered: a new HELLO */

/* Room for a frame of @n bytes: padded to 8. */
#define FRAME_ROOM(n) (((n) + 7u) & ~(size_t)7u)
/* request_run results: the broker answered HELLO with a CHALLENGE; the
 * handshake must start again with a new HELLO (SL_E_HANDSHAKE). */
#define HELLO_CHALLENGED 1
#define HANDSHAKE_RESTART 2

_Static_assert(SL_MAX_DATAGRAM % 8 == 0, "datagram buffers are arrays of uint64_t");
_Static_assert(SL_SEAL_OVERHEAD + FRAME_ROOM(sizeof(struct sl_publish) + SL_MAX_PAYLOAD) <=
	       SL_MAX_DATAGRAM, "a sealed datagram holds a maximal publish");

/* One received datagram; uint64_t storage keeps frames 8-byte aligned for the casts. */
struct dgram {
	uint32_t len; /* where its frames end: before the tag of a sealed one */
	uint32_t off; /* where the next unconsumed frame starts */
	/* A shared-memory record larger than data (a whole large DELIVER)
	 * is in the client's big receive buffer instead: ext points there. */
	const uint8_t *ext;
	bool sealed;  /* opened: its seal verified, decrypted, not a replay */
	uint64_t data[SL_MAX_DATAGRAM / 8];
};

/* The bytes of @d. */
static inline const void *
sl_cl_dgram_bytes(const struct dgram *d)
{
	return d->ext != NULL ? (const void *)d->ext : (const void *)d->data;
}

/* A datagram with deliveries kept while a request waited: a copy of its
 * first @len bytes, its frames from @off. */
struct stashed {
	uint8_t *bytes;
	uint32_t len;
	uint32_t off;
	bool sealed;
};

/*
 * One publish of the window, in the ring slot of its producer sequence.
 * The resending producer will keep what a resend needs beside it.
 */
struct pub_slot {
	uint32_t topic_id;
	uint16_t error;	 /* refusal code; SL_E_NONE otherwise */
	uint8_t state;	 /* enum sl_pub_status */
	uint8_t ack_req; /* sent with SL_PUB_F_ACK_REQ */
};
_Static_assert(sizeof(struct pub_slot) == 8, "sluice.h says 8 bytes a window slot");

/*
 * What a resend needs of one publish of the window, beside its pub_slot;
 * only with a producer (idempotent publishing).
 */
struct pub_rec {
	uint64_t pseq;	    /* producer sequence on the wire: per topic */
	uint64_t timestamp;
	uint64_t off;	    /* where the payload copy starts in the arena */
	uint64_t sent_ns;   /* last sent; 0: send at the next resend tick */
	uint32_t len;	    /* payload bytes */
	uint8_t kept;	    /* the payload is in the arena */
	uint8_t pad;
	uint16_t hdrs_len;  /* v4: the copy starts with this many bytes of header block */
};

/* A topic this client publishes to: its last producer sequence. */
struct ptopic {
	uint32_t topic_id; /* the application's id; 0: free */
	uint32_t round;	   /* the resend round whose first resend of this topic
			    * went out (flagged SL_PUB_F_FIRST) */
	uint64_t last_pseq;
};

/*
 * The producer (sluice.h opts.producer): the broker's identity of this
 * publisher, the per-topic sequences, and copies of unacknowledged
 * publishes for resending. Active once @bound (version 2 sessions, from the
 * first publish asking for an ACK); before, producer_seq is the publish
 * number, as in version 1.
 */
struct producer {
	bool v2;	     /* the session speaks version 2: idempotent publishing */
	bool bound;	     /* PRODUCER answered in this session */
	bool fenced;	     /* SL_E_FENCED: publishing fails -EPERM */
	bool unsupported;    /* the broker did not answer PRODUCER: as version 1 */
	bool ooo;	     /* SL_E_OUT_OF_ORDER seen: resend at the next tick */
	uint32_t epoch;	     /* granted; 0 before the first PRODUCER_ID */
	uint64_t id;
	char name[SL_MAX_PRODUCER_NAME + 1];
	struct pub_rec *rec; /* [win.mask + 1] */
	uint64_t *map;	     /* (topic, pseq) -> publish number; 0 free */
	uint64_t map_mask;
	struct ptopic *topics; /* [PTOPIC_SLOTS] */
	uint32_t *used;	       /* indexes of taken topics, in order of first use */
	uint32_t n_used;
	uint8_t *arena;	     /* payload copies, a byte ring */
	uint64_t arena_size; /* power of two */
	uint64_t arena_head; /* bytes ever reserved, and freed */
	uint64_t arena_tail;
	uint64_t resend_base_ns;
	uint64_t resend_ns;  /* current interval, backed off */
	uint64_t round_ns;   /* when the last resend round started */
	uint32_t round_no;   /* resend rounds started, from 1 */
	uint64_t cursor;     /* next publish of the round in progress; 0: none */
	uint64_t progress;   /* win.settled when the last round started */
};

/* The datagram being filled with publishes (opts.flush_us). */
struct batch {
	uint32_t end;	     /* where the last frame ends, unpadded: bytes to send */
	uint32_t frames;
	uint64_t first_ns;   /* when its first frame went in */
	uint64_t flush_ns;   /* opts.flush_us; 0: send each frame at once */
	uint64_t buf[SL_MAX_DATAGRAM / 8];
};

/* A topic name the application resolved, for resolving again after a reconnect. */
struct rtopic {
	uint32_t app_id; /* what the application holds */
	uint32_t cur_id; /* the broker's id in this session */
	uint8_t create;
	char *name;
};

/* A subscription, to make again after a reconnect. */
struct rsub {
	uint32_t app_id;
	uint16_t flags; /* as first asked */
	uint8_t no_journal; /* FROM_SEQ refused (durability none) */
	uint64_t start;
	uint16_t filter_len; /* v4: its header filter's wire form, 0: none */
	uint8_t filter[SL_MAX_FILTER_LEN];
};

/*
 * Reconnecting (sluice.h opts.no_reconnect): what the client needs to open
 * a session again, and what it must restore in it.
 */
struct recon {
	bool on;
	bool down;	      /* the session is lost; reconnecting */
	bool attempting;      /* inside an attempt: a loss fails the attempt */
	bool failed;	      /* the attempt in progress lost its session */
	bool remapped;	      /* some topic's cur_id differs from its app_id */
	bool have_inc;
	bool inc_changed;     /* this connect's WELCOME named a new incarnation */
	uint16_t why;	      /* code of the loss */
	uint64_t incarnation; /* of the last WELCOME */
	uint64_t since_ns;    /* when the session was lost */
	uint64_t next_ns;     /* next attempt */
	uint64_t backoff_ns;
	uint64_t max_ns;      /* give up after this long down; 0: never */
	uint64_t liveness_ns; /* opts.liveness_ms; 0: 3 heartbeat intervals */
	uint64_t last_rx_ns;  /* last datagram or record from the broker */
	uint64_t last_hb_ns;  /* last HEARTBEAT sent */
	uint64_t probe_ns;    /* first HEARTBEAT sent after last_rx_ns */
	struct sl_client_opts o; /* copies: the strings below */
	struct sockaddr_in sa;	 /* the broker of the next attempt: brokers[cur] */
	struct sockaddr_in brokers[SL_MAX_BROKERS]; /* opts.host's list, in its order */
	uint32_t n_brokers;
	uint32_t cur;
	uint32_t walked;	 /* attempts failed since the last session: a
				  * whole round of the list backs off */
	bool silent;		 /* the loss at hand is the broker's silence */
	char *host, *name, *shm, *user;
	uint8_t key[SL_AUTH_KEY_LEN];
	struct rtopic *topics;
	uint32_t n_topics, cap_topics;
	struct rsub *subs;
	uint32_t n_subs, cap_subs;
	char *patterns[MAX_PATTERNS];
	uint32_t n_patterns;
	sl_event_fn fn;
	void *arg;
};

/*
 * The publish window (sluice.h, "Acknowledgements"): the state of
 * publishes pub_seq - mask .. pub_seq, in slot[seq & mask]. A slot is
 * reused only once its publish is settled, which the window check in
 * claim guarantees: every unsettled publish is above @settled, and no
 * publish is sent mask + 1 or more past it.
 */
struct pub_window {
	struct pub_slot *slot;
	uint64_t mask;
	uint64_t settled;	/* every publish 1..settled is settled */
	uint64_t acked;		/* every ACK-asking publish 1..acked was acknowledged */
	uint64_t first_refused; /* lowest ACK-asking publish refused; 0 if none */
	sl_settle_fn fn;
	void *arg;
};

enum pend_kind { PEND_NONE, PEND_HELLO, PEND_AUTH, PEND_REQ };

/* The one request/reply exchange in flight; replies are matched against it. */
struct pending {
	enum pend_kind kind;
	uint8_t type; /* frame type of the request */
	bool done;
	int rc;
	uint32_t req_id;
	uint64_t nonce;
	uint32_t value; /* topic id from TOPIC */
	uint32_t epoch; /* PRODUCER_ID */
	uint64_t id;
	uint64_t seq; /* OK answering SUBSCRIBE: where the stream starts, 0 unknown */
	struct sl_group_info ginfo; /* GROUP answering GJOIN */
	uint16_t n_parts; /* TOPIC of a partitioned topic: its partitions (0: ordinary) */
	uint32_t parts[SL_MAX_PARTITIONS]; /* ... and their ids (the broker's) */
	bool want_name;	  /* a RESOLVE by id: the TOPIC carries the name */
	uint16_t name_len;
	char name[SL_MAX_TOPIC_NAME + 1];
};

/*
 * The handshake and the session's protection (docs/PROTOCOL.md 17). With
 * credentials the AUTH proves the user's key and both sides derive one key
 * per direction from it; every UDP datagram of the session is then one
 * SEAL (a MAC, or AEAD with encryption) both ways.
 */
struct auth {
	bool on;	       /* credentials given: HELLO asked to authenticate */
	bool keyed;	       /* AUTH sent with a proof: k_c2s and k_s2c derived */
	bool sealing;	       /* authenticated UDP session: every datagram sealed */
	bool enc;	       /* the session is encrypted (WELCOME SL_WELCOME_F_ENC) */
	uint32_t bad_welcomes; /* WELCOMEs that failed verification while connecting */
	uint32_t caps;	       /* HELLO's caps */
	uint64_t tx_seq;       /* seal seq of the last datagram sent */
	char name[SL_CLIENT_NAME_LEN]; /* HELLO's name, echoed in AUTH */
	struct sl_challenge ch;	       /* the CHALLENGE answered */
	uint8_t suite;		       /* SL_SUITE_*: the CHALLENGE kept SL_CAP_AESGCM or not */
	struct sl_replay_window rx_win; /* of the broker's seal seqs */
	/* The session's keys, precomputed (k_c2s seals, k_s2c opens). */
	struct sl_seal_key k_c2s;
	struct sl_seal_key k_s2c;
};

struct sl_client {
	int fd;	   /* UDP socket, or the shared-memory attach socket */
	bool dead; /* broker said the session is gone: every call fails -ENOTCONN */
	struct sl_shm_link shm; /* shm.r set: the shared-memory transport */
	/* Open sl_client_claim, NULL if none: a PUBLISH frame, or over shared
	 * memory a message record (claim_msg) in the tx ring. */
	void *claim;
	void *claim_data;	  /* where the claim's header block and payload go */
	uint32_t claim_len;	  /* their claimed bytes */
	bool claim_msg;
	uint32_t session;
	uint32_t max_payload;
	uint32_t next_req_id;
	uint64_t timeout_ns;
	uint64_t hb_ns; /* send something at least this often: half the broker's interval */
	uint64_t last_tx_ns;	  /* as of the tick that saw tx_count move */
	uint64_t tx_count;	  /* frames and records sent: moves without a clock read */
	uint64_t tx_seen;	  /* tx_count at last_tx_ns */
	uint64_t rx_count;	  /* shared-memory records read, likewise for
				   * rc.last_rx_ns */
	uint64_t rx_seen;
	uint64_t pub_seq;
	uint64_t max_message;	  /* WELCOME max_message; max_payload when v1 */
	uint16_t features;	  /* WELCOME features (SL_FEAT_*) */
	struct pub_window win;
	struct producer prod;
	struct batch batch;
	struct recon rc;
	uint8_t *big;		  /* claim buffer for a message over one frame */
	uint32_t big_len;	  /* claimed length when the claim is in @big */
	uint8_t *big_rx;	  /* receive buffer for one whole large DELIVER
				   * over shared memory (allocated at first use) */
	bool big_rx_busy;	  /* a dgram (received or stashed) points into it */
	uint32_t claim_topic;	  /* the application's topic id of the open claim */
	struct pending pend;
	struct auth auth;
	bool rx_sealed; /* the frames being handled came in a verified seal */
	struct sl_error_moved moved; /* the last ERROR SL_E_MOVED; port 0: none */
	uint32_t epoch; /* the newest leader epoch a broker frame carried; never
			 * goes back (PROTOCOL.md, "Leader epoch") */
	struct sl_client_stats st;

	/* Current receive burst: rx[rx_i] is being consumed, rx_n were read. */
	unsigned int rx_i;
	unsigned int rx_n;
	struct mmsghdr rx_msg[RX_BURST];
	struct iovec rx_iov[RX_BURST];
	struct dgram rx[RX_BURST];

	/* Ring of datagrams holding deliveries that arrived while a request
	 * waited (request.c): grows to hold them all, up to STASH_MAX_BYTES. */
	unsigned int stash_head;
	unsigned int stash_n;
	unsigned int stash_cap;	 /* a power of two; 0 before the first */
	size_t stash_bytes;
	struct stashed *stash;

	struct dgram wbuf; /* read buffer while a request waits */
	uint64_t txbuf[SL_MAX_DATAGRAM / 8];
	struct sl_cl_reorder *ro; /* per-topic order, loss recovery, credit: reorder.h */
	struct sl_cl_groups *grp; /* consumer groups joined (group.c); NULL: none yet */
	struct sl_cl_parts *parts; /* partitioned topics resolved (partition.c); NULL: none */
	uint32_t n_parted;	   /* how many: 0 keeps publishing off partition.c */
};

/*
 * Every function below runs on the thread that owns the client (sluice.h:
 * a client is not thread-safe); none blocks longer than its timeout.
 */

/* ---- transport.c: UDP socket or shared-memory rings */

/* Hand @buf (@len bytes, sealed already) to the transport: 0, -EAGAIN when
 * it has no room now, or -errno. */
int sl_cl_tx(struct sl_client *c, const void *buf, size_t len);

/*
 * Whether received UDP datagram @d may be used. A sealed one is verified,
 * decrypted in place and checked against the replay window, and @d's
 * off..len become its inner frames; one that fails is dropped and counted
 * (forged_dropped, replay_dropped). Unsealed ones pass here; their frames
 * meet sl_cl_rx_frame_ok one by one.
 */
bool sl_cl_rx_open(struct sl_client *c, struct dgram *d);

/* May frame @f of datagram @d (opened) be used? If not, it is counted
 * (forged_dropped or old_epoch_dropped, unless @quiet) and must be
 * skipped. */
bool sl_cl_rx_frame_ok(struct sl_client *c, const struct dgram *d, const struct sl_frame *f,
		       bool quiet);

/* The broker stopped serving this client: every call fails -ENOTCONN, and
 * last_error says why (enum sl_shm_notice @why; 0 when it gave none). */
void sl_cl_shm_end(struct sl_client *c, uint32_t why);

/* Has the dataplane's end of the attach socket closed? One poll(2). */
bool sl_cl_shm_broker_gone(const struct sl_client *c);

/* Wait up to @ns for input: 1 when readable, 0 on timeout, -errno (-EINTR
 * included) on failure. */
int sl_cl_wait_readable(struct sl_client *c, uint64_t ns);

/* Whether a receive error @err only means "nothing yet". */
bool sl_cl_rx_error_transient(int err);

/* One record from the broker's rings: its length, 0 if none, -ENOTCONN
 * when the broker stopped serving this client (its notice says why). */
/* One record from the broker's rings into @d (data, or the big receive
 * buffer for a record larger than a datagram, while it is free). */
ssize_t sl_cl_shm_recv(struct sl_client *c, struct dgram *d);
/* @d is consumed: if it held the big receive buffer, the buffer is free. */
void sl_cl_dgram_done(struct sl_client *c, struct dgram *d);

/* @host (dotted quad or name) and @port into @sa: 0, -ENOENT, -EAGAIN, -ENOMEM or -errno. */
int sl_cl_resolve_host(const char *host, uint16_t port, struct sockaddr_in *sa);

/* Open c->fd, a UDP socket connected to @sa, buffers sized from @o: 0 or -errno. */
int sl_cl_socket_open(struct sl_client *c, const struct sockaddr_in *sa,
		      const struct sl_client_opts *o);

/* Read up to RX_BURST datagrams into c->rx: how many, or -errno (-ENOTCONN:
 * the broker stopped serving this client). */
int sl_cl_rx_burst(struct sl_client *c);

/* ---- session.c: connect, handshake and authentication, heartbeats, close */

/*
 * Seal the datagram @buf whose frames fill [SL_SEAL_HDR_LEN, @end), with
 * the next seq of this direction (encrypted when the session is): the
 * length to send. sl_cl_unseal undoes the encryption of one that could not
 * be sent, so that it can be sealed again (with a new seq) later.
 */
uint32_t sl_cl_seal(struct sl_client *c, void *buf, uint32_t end);
void sl_cl_unseal(struct sl_client *c, void *buf, uint32_t len);

/* Send one frame of @len bytes (room for FRAME_ROOM(len)), in a datagram
 * of its own sealed when the session is authenticated, after the pending
 * batch: as sl_cl_tx(). */
int sl_cl_tx_frame(struct sl_client *c, const void *frame, size_t len);

/* Send GOODBYE for the session (best effort). */
void sl_cl_goodbye(struct sl_client *c);

/* Send a heartbeat when nothing went out for c->hb_ns; over shared memory,
 * notice a broker that is gone. */
void sl_cl_heartbeat_maybe(struct sl_client *c, uint64_t now);

/* HELLO (and with credentials CHALLENGE, AUTH) until WELCOME, with
 * c->rc.o: 0 or as sl_client_connect. */
int sl_cl_handshake(struct sl_client *c);

/* Open the transport (c->rc.o, c->rc.sa) and a session on it: 0 or as
 * sl_client_connect; on failure nothing stays open. */
int sl_cl_open(struct sl_client *c);

/* Close the socket or detach from the region; forget what was received or
 * batched for that session. */
void sl_cl_close_transport(struct sl_client *c);

/* Clear a secret. */
void sl_cl_wipe(void *p, size_t n);

/* Is @p a HELLO or AUTH still waiting for its answer? */
bool sl_cl_handshaking(const struct pending *p);

/* The answers of the handshake. */
void sl_cl_on_welcome(struct sl_client *c, const struct sl_frame *f);
void sl_cl_on_challenge(struct sl_client *c, const struct sl_challenge *ch);

/* ---- request.c: requests with resend, resolve and subscribe */

/* The stash's oldest datagram is consumed: free it. */
void sl_cl_stash_pop(struct sl_client *c);
/* Forget what the stash holds (a session that is gone); @free_ring also
 * frees the ring itself (the client closes). */
void sl_cl_stash_clear(struct sl_client *c, bool free_ring);

/* The TOPIC @f answering a RESOLVE by id: its name into c->pend. 0 or
 * -EPROTO (no valid name in it). */
int sl_cl_name_take(struct sl_client *c, const struct sl_frame *f);

/* The pending request is answered with @rc. */
void sl_cl_pend_finish(struct pending *p, int rc);

/* Is @req_id the pending request's, still unanswered? */
bool sl_cl_req_match(const struct pending *p, uint32_t req_id);

/* A broker's refusal code as -errno. */
int sl_cl_error_to_errno(uint16_t code);

/*
 * Send @frame (@len bytes, room for FRAME_ROOM(len)) every RESEND_NS until
 * c->pend completes or @deadline passes; each send is sealed anew. Returns
 * c->pend's result, -ETIMEDOUT or -errno.
 */
int sl_cl_request_run(struct sl_client *c, const void *frame, size_t len, uint64_t deadline);

/* Start request @type: a new req_id in c->pend. */
void sl_cl_pend_start(struct sl_client *c, uint8_t type);

/* An application's request: 0 when a session is up (after one reconnect
 * attempt now if it was down), else -ENOTCONN. */
int sl_cl_ready(struct sl_client *c);

/* Did request result @rc lose its session, now reconnected: ask again? */
bool sl_cl_again(struct sl_client *c, int rc);

/* The requests as the broker sees them, topic ids its own, nothing
 * recorded for a reconnect: what the public calls and reconnect.c use. */
int sl_cl_resolve_raw(struct sl_client *c, const char *name, int create, uint32_t *topic_id);
int sl_cl_subscribe_raw(struct sl_client *c, uint8_t type, uint32_t topic_id, uint16_t flags,
			uint64_t start);
/* The protocol version of the session (0 before the first WELCOME). */
uint8_t sl_cl_version(const struct sl_client *c);
/* A SUBSCRIBE carrying the header filter @filter (@flen wire bytes, v4). */
int sl_cl_subscribe_filtered(struct sl_client *c, uint32_t topic_id, uint16_t flags,
			     uint64_t start, const uint8_t *filter, uint16_t flen);
int sl_cl_psubscribe_raw(struct sl_client *c, const char *pattern, int unsubscribe);

/* ---- publish.c: the publish window, claim and commit */

/* Size the window from @o: 0, -EINVAL (too large) or -ENOMEM. */
int sl_cl_win_init(struct pub_window *w, const struct sl_client_opts *o);

/*
 * An ACK (@error SL_E_NONE; @topic_id from the frame) or a refusal (@error
 * its code; @topic_id SL_TOPIC_INVALID) for publish @seq of @session.
 */
void sl_cl_win_answer(struct sl_client *c, uint32_t session, uint64_t seq, uint32_t topic_id,
		      uint16_t error);

/* ACK @a from the broker; ERROR @e refusing a PUBLISH or PUBLISH_FRAG. */
void sl_cl_on_ack(struct sl_client *c, const struct sl_ack *a);
void sl_cl_on_pub_error(struct sl_client *c, const struct sl_error *e);

/* PRODUCER_ID answering the pending PRODUCER. */
void sl_cl_on_producer_id(struct sl_client *c, const struct sl_producer_id *p);

/* Flush the pending batch: 0, -EAGAIN (kept for the next try) or -errno. */
int sl_cl_flush(struct sl_client *c);

/*
 * Room for a frame of @flen bytes (FRAME_ROOM(flen) over UDP): in the
 * pending datagram, flushed first when it has none, or in the shared-memory
 * ring. NULL when there is no room now (-EAGAIN).
 */
void *sl_cl_tx_claim(struct sl_client *c, uint32_t flen);

/* The frame at @frame (@flen bytes, from sl_cl_tx_claim) is complete: seal
 * it and add it to the datagram, sent now without batching. 0, or the
 * send's error (the frame is then taken back: not sent). */
int sl_cl_tx_commit(struct sl_client *c, void *frame, uint32_t flen);

/* Drop the pending datagram (the session it was for is gone). */
void sl_cl_batch_drop(struct sl_client *c);

/* ---- frag_tx.c: messages over one frame, as PUBLISH_FRAG pieces */

/* Largest payload sent as one PUBLISH frame on this transport. */
uint32_t sl_cl_frame_max(const struct sl_client *c);

/* Send @len bytes at @data as pieces of one message (topic @topic_id as the
 * broker knows it, producer sequence @pseq): 0 when every piece went, the
 * number of pieces sent when the transport filled up midway (positive), or
 * -errno when none went. */
int sl_cl_frag_send(struct sl_client *c, uint32_t topic_id, uint64_t pseq, uint64_t ts,
		    uint16_t flags, const uint8_t *data, uint32_t len);

/* ---- producer.c: producer registration, sequences per topic, resending */

/* Register (or, after a reconnect, resume) the producer: 0, -EPERM
 * (fenced), -ENOSPC (the broker's producer table is full), -ETIMEDOUT, or
 * -errno. */
int sl_cl_producer_bind(struct sl_client *c);

/* Allocate the producer's state for a window of win.mask + 1: 0 or -ENOMEM. */
int sl_cl_producer_init(struct sl_client *c, const struct sl_client_opts *o);
void sl_cl_producer_free(struct sl_client *c);

/* The topic state of @topic_id, taken if new; NULL when the table is full. */
struct ptopic *sl_cl_ptopic(struct sl_client *c, uint32_t topic_id);

/* Arena room for a payload of @len bytes? */
bool sl_cl_arena_room(const struct sl_client *c, uint32_t len);

/* Publish @seq (slot and rec filled) was committed: keep what a resend needs. */
void sl_cl_producer_sent(struct sl_client *c, uint64_t seq, const void *data, uint32_t len,
			 bool ack_req);

/* Publish @seq was answered: no ACK will be matched to it any more. */
void sl_cl_producer_settled(struct sl_client *c, uint64_t seq);

/* The settled mark passed publish @seq: its copy's bytes are free. */
void sl_cl_producer_release(struct sl_client *c, uint64_t seq);

/* The publish number of (@topic_id, @pseq), 0 if none outstanding. With
 * @topic_id SL_TOPIC_INVALID: of any topic. */
uint64_t sl_cl_producer_find(const struct sl_client *c, uint32_t topic_id, uint64_t pseq);

/* Resend what is due: unacknowledged publishes, oldest first. */
void sl_cl_resend_tick(struct sl_client *c, uint64_t now);

/* Resend every unacknowledged publish at the next tick (after a reconnect). */
void sl_cl_resend_all(struct sl_client *c);

/* ---- reconnect.c: liveness, reconnecting, topic ids across sessions */

/* Keep copies of what a reconnect needs from @o: 0, -ENOMEM. */
/* ---- brokers.c: the broker list and the leader epoch */

/*
 * Resolve @list, "host[:port][,host[:port]]..." (at most SL_MAX_BROKERS;
 * @def_port where an entry names none), into @out, *@n entries. Returns 0,
 * -EINVAL (an empty entry, a bad port, too many), or sl_cl_resolve_host's
 * error for an entry that does not resolve.
 */
int sl_cl_brokers_resolve(const char *list, uint16_t def_port, struct sockaddr_in *out,
			  uint32_t *n);

/*
 * Is broker frame @f of a leader epoch (sl_hdr.reserved) no older than the
 * newest this client has seen? The newest is raised to it. An older one is
 * counted (old_epoch_dropped, unless @quiet) and must be skipped, except
 * an ERROR SL_E_NOT_PRIMARY.
 */
bool sl_cl_epoch_ok(struct sl_client *c, const struct sl_frame *f, bool quiet);

/*
 * ERROR SL_E_MOVED @e (e->h.length bytes): note where the topic went
 * and, with reconnecting on, make that address the one broker and end the
 * session (reconnecting follows). Returns true when the client follows,
 * false when @e is to be taken as an ordinary refusal (too short, no
 * reconnecting, shared memory).
 */
bool sl_cl_moved(struct sl_client *c, const struct sl_error *e);

/* Reconnecting's state from @o; @sa: the @n brokers of its host list. */
int sl_cl_recon_init(struct sl_client *c, const struct sl_client_opts *o,
		     const struct sockaddr_in *sa, uint32_t n);

/* The next broker of the list becomes the one to try (no-op for one). */
void sl_cl_broker_next(struct sl_client *c);
void sl_cl_recon_free(struct sl_client *c);

/* Raise event @type (sl_event_type) with @error for @topic_id, @first..@last. */
void sl_cl_event(struct sl_client *c, uint32_t type, uint32_t topic_id, uint64_t first,
		 uint64_t last, uint16_t error);

/* The session is gone (@why: SL_E_NO_SESSION, SL_E_SLOW_CONSUMER...):
 * reconnect, or with reconnecting off, fail every call -ENOTCONN. */
void sl_cl_session_lost(struct sl_client *c, uint16_t why);

/* Records sent and read since the last call (tx_count, rx_count) are
 * timed @now: the shared-memory path reads no clock per record. */
void sl_cl_clock_marks(struct sl_client *c, uint64_t now);

/* Liveness, reconnect attempts, resends and the batch's deadline: what
 * polling does besides receiving. Returns -ENOTCONN when the client gave
 * up, -EAGAIN while it is down, else 0. */
int sl_cl_tick(struct sl_client *c, uint64_t now);

/* sl_cl_tick in two halves, for sl_client_poll: the first (liveness,
 * reconnect, heartbeat, group acks; same returns) before reading, the
 * second (resends, the batch's deadline) after, so that ACKs already
 * waiting settle their publishes before a resend round is judged due. */
int sl_cl_tick_pre(struct sl_client *c, uint64_t now);
void sl_cl_tick_post(struct sl_client *c, uint64_t now);

/* Has the broker left a heartbeat unanswered for the liveness time? Then
 * the session is lost (sl_cl_session_lost) and it returns true. Call it
 * only after reading what was waiting. */
bool sl_cl_liveness_lost(struct sl_client *c, uint64_t now);

/* When sl_cl_tick next has something to do (absolute ns). */
uint64_t sl_cl_wake(const struct sl_client *c, uint64_t now);

/* A WELCOME's incarnation, seen while (re)connecting. */
void sl_cl_recon_incarnation(struct sl_client *c, uint64_t inc);

/* Topic ids: the broker's for the application's, and back (identity until a
 * reconnect gives a topic another id). */
uint32_t sl_cl_topic_to_broker(const struct sl_client *c, uint32_t app_id);
uint32_t sl_cl_topic_to_app(const struct sl_client *c, uint32_t broker_id);

/* Is a request's failure one the next attempt may not see (timeout, lost
 * session, broker busy), rather than an answer about what it asked? */
bool sl_cl_transient(int rc);

/* A resolve of @name answered @id (broker's): the application's id for it. */
uint32_t sl_cl_recon_resolved(struct sl_client *c, const char *name, int create, uint32_t id);
/* A subscription was made (or, with @gone, dropped). */
void sl_cl_recon_sub(struct sl_client *c, uint32_t app_id, uint16_t flags, uint64_t start,
		     bool gone);
/* ... with the header filter @filter (@flen bytes, 0: none) it carries. */
void sl_cl_recon_sub_filter(struct sl_client *c, uint32_t app_id, const uint8_t *filter,
			    uint16_t flen);
void sl_cl_recon_pattern(struct sl_client *c, const char *pattern, bool gone);

/*
 * The subscriber's per-topic ordering state (reorder.c), keyed by the
 * application's topic id: the last sequence handed to the application (0 if
 * none), and a restart of the topic at @next_seq (0: the first delivery
 * sets it, as for a new live subscription).
 */
uint64_t sl_cl_reorder_last_delivered(struct sl_client *c, uint32_t topic);
void sl_cl_reorder_reset(struct sl_client *c, uint32_t topic, uint64_t next_seq);

/* The broker ended the subscription of application topic @topic: its
 * deliveries are dropped from now on (sl_ro_end). A new session takes
 * every such topic up again (sl_cl_reorder_reconnected): the broker then
 * sends only what that session subscribes. */
void sl_cl_reorder_revoked(struct sl_client *c, uint32_t topic);
void sl_cl_reorder_reconnected(struct sl_client *c);

/* ---- group.c: consumer groups (v4) */

/* A GDELIVER (@f, session checked): to @fn as a message of its group.
 * Returns 1 when handed over, 0 when dropped (no such group). */
int sl_cl_group_deliver(struct sl_client *c, const struct sl_frame *f, sl_deliver_fn fn,
			void *arg);

/* GROUP answering the pending GJOIN. */
void sl_cl_group_on_reply(struct sl_client *c, const struct sl_group_reply *g);

/* ---- partition.c: partitioned topics ---- */

struct sl_cl_parted;

/* TOPIC @f answers the pending RESOLVE: its partition map (if any) into
 * c->pend. 0, or -EPROTO for a malformed map. */
int sl_cl_parts_take(struct sl_client *c, const struct sl_frame *f);
/* The RESOLVE of @name just answered (application id @app_id) carried a
 * map: keep it, each partition resolved as an ordinary topic. 0 (also
 * without a map), -ENOMEM, -ENOSPC (64 partitioned topics), -EPROTO. */
int sl_cl_parts_resolved(struct sl_client *c, const char *name, uint32_t app_id);
/* The partitioned topic of application id @app_id, or NULL. */
const struct sl_cl_parted *sl_cl_parted_find(const struct sl_client *c, uint32_t app_id);
uint32_t sl_cl_part_pick_slow(const struct sl_client *c, uint32_t topic_id, const void *key,
			      uint16_t key_len);
void sl_cl_parts_free(struct sl_client *c);
/* sl_client_group_join of a partitioned topic: the group of that name
 * joined on every partition (all or none); *@out is partition 0's, whose
 * group id stands for all of them in sl_client_group_leave. */
int sl_cl_parts_group_join(struct sl_client *c, const struct sl_group_opts *o,
			   struct sl_group_info *out);
/* sl_client_group_leave of such a group id: every partition's group left.
 * Returns what the leaves did, or 1 when @group_id is no such id. */
int sl_cl_parts_group_leave(struct sl_client *c, uint32_t group_id);
/* The group ids (one per partition, *@n of them) that @group_id, an id
 * sl_cl_parts_group_join gave, stands for; NULL when it is no such id. */
const uint32_t *sl_cl_parts_group_ids(struct sl_client *c, uint32_t group_id, uint32_t *n);

/* The topic a publish to application topic @topic_id with key @key
 * (@key_len bytes; 0: none) goes to: @topic_id itself unless it is
 * partitioned, else the partition hash(key) mod N, or without a key this
 * client's sticky partition. */
static inline uint32_t
sl_cl_part_pick(const struct sl_client *c, uint32_t topic_id, const void *key, uint16_t key_len)
{
	if (__builtin_expect(c->n_parted == 0, 1))
		return topic_id;
	return sl_cl_part_pick_slow(c, topic_id, key, key_len);
}

/* An ERROR about a group frame that answers no pending request: an
 * SL_EV_GROUP_ERROR (and the membership ended for NO_GROUP and DENIED).
 * Returns true when it was one (handled). */
bool sl_cl_group_on_error(struct sl_client *c, const struct sl_error *e);

/* Send the acks queued for every group (best effort: kept on -EAGAIN). */
void sl_cl_group_flush(struct sl_client *c);

/* A new session: join every group again with its member id, and resume
 * pauses and pull requests. 0, or a transient -errno (the attempt fails). */
int sl_cl_group_rejoin(struct sl_client *c);

void sl_cl_group_free(struct sl_client *c);

/* ---- rx.c: delivery and the broker's control frames */

/* Everything but DELIVER: replies, acks, errors, heartbeat echoes. */
void sl_cl_rx_control(struct sl_client *c, const struct sl_frame *f);

#endif /* SLUICE_CLIENT_INTERNAL_H */
