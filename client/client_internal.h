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
#include <common/proto.h>
#include <sluice/sluice.h>

#include "shm_link.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

#define RX_BURST 32	     /* datagrams per recvmmsg in sl_client_poll */
#define STASH_SLOTS 512	     /* datagrams with deliveries kept while a request waits */
#define WAIT_DRAIN_MAX 64    /* datagrams read per wake-up while a request waits */
#define RESEND_NS (200 * NS_PER_MS)
#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_SOCKBUF (4u << 20)
#define DEFAULT_HEARTBEAT_MS 1000u

/* Room for a frame of @n bytes once sealed: padded to 8, then the trailer. */
#define FRAME_ROOM(n) ((((n) + 7u) & ~(size_t)7u) + sizeof(struct sl_auth_trailer))
/* A request_run result: the broker answered HELLO with a CHALLENGE. */
#define HELLO_CHALLENGED 1

_Static_assert(SL_MAX_DATAGRAM % 8 == 0, "datagram buffers are arrays of uint64_t");
_Static_assert(FRAME_ROOM(sizeof(struct sl_publish) + SL_MAX_PAYLOAD) <= SL_MAX_DATAGRAM,
	       "a sealed maximal publish fits the transmit buffer");

/* One received datagram; uint64_t storage keeps frames 8-byte aligned for the casts. */
struct dgram {
	uint32_t len;
	uint32_t off; /* where the next unconsumed frame starts */
	uint64_t data[SL_MAX_DATAGRAM / 8];
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
};

/*
 * Authentication (sl_client_opts user and key). The user's key itself is
 * never kept: connect derives the proof and the session key from it.
 */
struct auth {
	bool on;	       /* credentials given: HELLO asked to authenticate */
	bool sealing;	       /* WELCOME verified: every frame sent carries a trailer */
	uint32_t pending;      /* session id from CHALLENGE, for AUTH */
	uint32_t bad_welcomes; /* WELCOMEs that failed verification while connecting */
	uint64_t tx_seq;       /* trailer seq of the last frame sealed */
	uint8_t server_nonce[SL_AUTH_NONCE_LEN];
	uint8_t skey[SL_AUTH_SESSION_KEY_LEN];
};

struct sl_client {
	int fd;	   /* UDP socket, or the shared-memory attach socket */
	bool dead; /* broker said the session is gone: every call fails -ENOTCONN */
	struct sl_shm_link shm; /* shm.r set: the shared-memory transport */
	struct sl_publish *claim; /* open sl_client_claim, NULL if none */
	uint32_t session;
	uint32_t max_payload;
	uint32_t next_req_id;
	uint64_t timeout_ns;
	uint64_t hb_ns; /* send something at least this often: half the broker's interval */
	uint64_t last_tx_ns;
	uint64_t pub_seq;
	struct pub_window win;
	struct pending pend;
	struct auth auth;
	struct sl_client_stats st;

	/* Current receive burst: rx[rx_i] is being consumed, rx_n were read. */
	unsigned int rx_i;
	unsigned int rx_n;
	struct mmsghdr rx_msg[RX_BURST];
	struct iovec rx_iov[RX_BURST];
	struct dgram rx[RX_BURST];

	/* Ring of datagrams holding deliveries that arrived while a request waited. */
	unsigned int stash_head;
	unsigned int stash_n;
	struct dgram stash[STASH_SLOTS];

	struct dgram wbuf; /* read buffer while a request waits */
	uint64_t txbuf[SL_MAX_DATAGRAM / 8];
	struct sl_cl_reorder *ro; /* per-topic order, loss recovery, credit: reorder.h */
};

/*
 * Every function below runs on the thread that owns the client (sluice.h:
 * a client is not thread-safe); none blocks longer than its timeout.
 */

/* ---- transport.c: UDP socket or shared-memory rings */

/* Hand @buf (@len bytes, sealed already) to the transport: 0, -EAGAIN when
 * it has no room now, or -errno. */
int sl_cl_tx(struct sl_client *c, const void *buf, size_t len);

/* The broker stopped serving this client: every call fails -ENOTCONN, and
 * last_error says why (enum sl_shm_notice @why; 0 when it gave none). */
void sl_cl_shm_end(struct sl_client *c, uint32_t why);

/* Has the dataplane's end of the attach socket closed? One poll(2). */
bool sl_cl_shm_broker_gone(const struct sl_client *c);

/* Wait up to @ns for input: 1 when readable, 0 on timeout, -errno (-EINTR
 * included) on failure. */
int sl_cl_wait_readable(const struct sl_client *c, uint64_t ns);

/* Whether a receive error @err only means "nothing yet". */
bool sl_cl_rx_error_transient(int err);

/* One record from the broker's rings: its length, 0 if none, -ENOTCONN
 * when the broker stopped serving this client (its notice says why). */
ssize_t sl_cl_shm_recv(struct sl_client *c, void *buf, size_t cap);

/* @host (dotted quad or name) and @port into @sa: 0, -ENOENT, -EAGAIN, -ENOMEM or -errno. */
int sl_cl_resolve_host(const char *host, uint16_t port, struct sockaddr_in *sa);

/* Open c->fd, a UDP socket connected to @sa, buffers sized from @o: 0 or -errno. */
int sl_cl_socket_open(struct sl_client *c, const struct sockaddr_in *sa,
		      const struct sl_client_opts *o);

/* Read up to RX_BURST datagrams into c->rx: how many, or -errno (-ENOTCONN:
 * the broker stopped serving this client). */
int sl_cl_rx_burst(struct sl_client *c);

/* ---- session.c: connect, handshake and authentication, heartbeats, close */

/* Send one frame of @len bytes (room for FRAME_ROOM(len)), sealed when the
 * session is authenticated: as sl_cl_tx(). */
int sl_cl_tx_frame(struct sl_client *c, void *frame, size_t len);

/* Send a heartbeat when nothing went out for c->hb_ns; over shared memory,
 * notice a broker that is gone. */
void sl_cl_heartbeat_maybe(struct sl_client *c, uint64_t now);

/* Is @p a HELLO or AUTH still waiting for its answer? */
bool sl_cl_handshaking(const struct pending *p);

/* The answers of the handshake. */
void sl_cl_on_welcome(struct sl_client *c, const struct sl_frame *f);
void sl_cl_on_challenge(struct sl_client *c, const struct sl_challenge *ch);

/* ---- request.c: requests with resend, resolve and subscribe */

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
int sl_cl_request_run(struct sl_client *c, void *frame, size_t len, uint64_t deadline);

/* ---- publish.c: the publish window, claim and commit */

/* Size the window from @o: 0, -EINVAL (too large) or -ENOMEM. */
int sl_cl_win_init(struct pub_window *w, const struct sl_client_opts *o);

/*
 * An ACK (@error SL_E_NONE; @topic_id from the frame) or a refusal (@error
 * its code; @topic_id SL_TOPIC_INVALID) for publish @seq of @session.
 */
void sl_cl_win_answer(struct sl_client *c, uint32_t session, uint64_t seq, uint32_t topic_id,
		      uint16_t error);

/* ---- rx.c: delivery and the broker's control frames */

/* Everything but DELIVER: replies, acks, errors, heartbeat echoes. */
void sl_cl_rx_control(struct sl_client *c, const struct sl_frame *f);

#endif /* SLUICE_CLIENT_INTERNAL_H */
