/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: the Sluice client API, over UDP (kernel sockets) or shared memory. */

#ifndef SLUICE_SLUICE_H
#define SLUICE_SLUICE_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/codes.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A client is one session with one broker. All calls on one client must come
 * from one thread at a time (no internal locking); separate clients are
 * independent. Every call that can fail returns 0 (or a count) on success
 * and -errno on failure. Only sl_client_connect, sl_client_resolve,
 * sl_client_subscribe, sl_client_subscribe_from and sl_client_unsubscribe
 * wait (for the broker's reply, up to the configured timeout, resending on
 * loss); publishing and polling never block, with two exceptions: the first
 * publish that asks for an ACK registers the producer (one round trip,
 * once per client), and while the client is reconnecting (opts
 * no_reconnect 0) each attempt runs inside the polling, waiting or
 * publishing call that finds it due and waits up to 500 ms for each of the
 * broker's replies (attempts come 50 ms, then doubling up to 2 s, apart;
 * between them calls return at once).
 *
 * Deliveries that arrive while a call waits for a reply are kept, every one,
 * and handed out in order by the next polls: kept in memory, up to 64 MiB of
 * them. Past that the call reads no more (over shared memory the rest stays
 * in the ring, and the topic's back-pressure policy applies to the broker;
 * over UDP the socket's buffer holds it, and what the kernel drops is a loss
 * in transit, recovered by NAK) and fails -ENOBUFS: poll, then ask again.
 */

struct sl_client;

#define SL_ACK_WINDOW_DEFAULT 65536u /* sl_client_opts ack_window when 0 */
#define SL_MAX_BROKERS 8 /* entries of sl_client_opts host's list */
#define SL_ACK_WINDOW_MAX (1u << 22)

/*
 * What became of one publish (sl_client_pub_status; sl_settle_fn).
 * A publish is *settled* once nothing more is to be waited for: it was sent
 * without SL_PUB_F_ACK_REQ, or the broker acknowledged or refused it.
 */
enum sl_pub_status {
	SL_PUB_NO_ACK = 0,	/* sent without SL_PUB_F_ACK_REQ; no refusal seen */
	SL_PUB_OUTSTANDING = 1, /* asked for an ACK; neither ACK nor refusal yet */
	SL_PUB_ACKED = 2,	/* the broker acknowledged it (docs/PROTOCOL.md 7.3) */
	SL_PUB_REFUSED = 3,	/* the broker refused it with an ERROR: not stored */
};

/*
 * Called from inside the client call that reads the broker's answer
 * (sl_client_poll, sl_client_wait, or a request such as sl_client_resolve
 * while it waits), exactly once per publish answered: @pub_seq is its
 * producer sequence, @topic_id its topic, @error SL_E_NONE when it was
 * acknowledged or the refusal's code (enum sl_error_code) when refused.
 * Publishes sent without SL_PUB_F_ACK_REQ are reported only if refused.
 * It must not call into the client, except for the const getters
 * (sl_client_acked, sl_client_settled, sl_client_pub_status,
 * sl_client_stats).
 */
typedef void (*sl_settle_fn)(void *arg, uint64_t pub_seq, uint32_t topic_id, uint16_t error);

/*
 * Events: what happens to the session and the streams besides messages and
 * acknowledgements, passed to sl_client_opts.on_event from inside
 * sl_client_poll, sl_client_wait or a publishing call.
 */
enum sl_event_type {
	SL_EV_DISCONNECTED = 1, /* the broker stopped answering or ended the
				 * session (error says why); libsluice is
				 * reconnecting */
	SL_EV_RECONNECTED = 2,	/* a new session is open: topics resolved,
				 * subscriptions resumed, unacknowledged
				 * publishes sent again */
	SL_EV_GAP = 3,		/* topic_id's first..last will never be
				 * delivered; error: SL_E_GAP_LOST (outside the
				 * broker's retransmit window and not
				 * journaled), SL_E_REPLAY_GAP (journal
				 * damaged) or SL_E_SLOW_CONSUMER (the broker
				 * cut this subscriber off) */
	SL_EV_INCARNATION = 4,	/* the broker restarted: sequences of topics
				 * without a journal begin again at 1 */
	SL_EV_FENCED = 5,	/* a newer instance of this producer took over;
				 * publishes are refused from now on */
	SL_EV_SUB_REVOKED = 6,	/* the broker ended the subscription to
				 * topic_id (docs/PROTOCOL.md 13.5); error:
				 * SL_E_DENIED (the user lost the right to
				 * subscribe), SL_E_AUTH_FAILED (the user was
				 * removed or the key retired) or
				 * SL_E_AUTH_REQUIRED (an anonymous session,
				 * and the broker now requires credentials).
				 * No delivery of the topic reaches the
				 * callback after this event, nothing is NAKed
				 * or credited for it, and a reconnect does not
				 * subscribe to it again; sl_client_subscribe
				 * may ask again (once the right is back). A
				 * topic reached through a pattern is taken up
				 * again only by a new session's PSUBSCRIBE. */
	SL_EV_SESSION_REVOKED = 7, /* the broker ended the session because its
				 * credentials no longer hold: error
				 * SL_E_AUTH_FAILED (user removed, or key
				 * retired) or SL_E_AUTH_REQUIRED (an
				 * anonymous session, and the broker now
				 * requires credentials). Final: the client
				 * does not reconnect (the same credentials
				 * would be refused) and wipes its copy of the
				 * key; every call fails -ENOTCONN from now on,
				 * with sl_client_stats last_error the code;
				 * sl_client_close frees it. */
	SL_EV_GROUP_ERROR = 8,	/* protocol version 4: the broker refused
				 * something about consumer group group_id
				 * (topic_id its topic); error:
				 * SL_E_NOT_HELD (an ack or nak named seq
				 * first, which this member does not hold:
				 * never given, another member's, or already
				 * settled; the frame's other seqs applied),
				 * SL_E_NO_GROUP (the group was deleted) or
				 * SL_E_DENIED (the user lost the right to
				 * consume from it): the membership is over,
				 * no delivery of it follows and a reconnect
				 * does not join it again;
				 * SL_E_GAP_LOST: first..last of the topic
				 * passed the group by (outside the broker's
				 * window or retention) and will never be
				 * delivered to it. See "Consumer groups". */
};

struct sl_event {
	uint32_t type;	   /* enum sl_event_type */
	uint32_t topic_id; /* SL_EV_GAP, SL_EV_GROUP_ERROR; else 0 */
	uint64_t first;	   /* SL_EV_GAP: the range lost; SL_EV_GROUP_ERROR:
			    * the seq (or range) concerned, 0 if none */
	uint64_t last;
	uint16_t error;	   /* enum sl_error_code, SL_E_NONE if none */
	uint32_t group_id; /* SL_EV_GROUP_ERROR: the group (as joined); else 0 */
};

typedef void (*sl_event_fn)(void *arg, const struct sl_event *ev);

struct sl_client_opts {
	/*
	 * The broker, required for UDP: an IPv4 address or name, optionally
	 * with ":port", or a comma-separated list of them, up to
	 * SL_MAX_BROKERS ("a:9500,b:9500"): the members of a broker pair
	 * (docs/HA.md). sl_client_connect tries them in order until one
	 * opens a session (each waiting up to @timeout_ms); reconnecting
	 * moves to the next one when the broker answers SL_E_NOT_PRIMARY or
	 * falls silent (@liveness_ms), and walks the list (see @no_reconnect).
	 * A pair's service address, which always names its primary, is a
	 * one-entry list.
	 */
	const char *host;
	uint16_t port;	      /* broker UDP port where an entry names none; 0 means
			       * SL_PROTO_DEFAULT_PORT */
	const char *name;     /* shown in broker counters; may be NULL */
	uint32_t timeout_ms;  /* for request/reply calls; 0 means 2000 */
	uint32_t sndbuf;      /* socket buffer sizes in bytes; 0 keeps 4 MiB */
	uint32_t rcvbuf;
	/*
	 * Credentials, for a broker with `auth required` (docs/CONTROL.md).
	 * Both NULL: no authentication. Both set: @user (1..31 bytes of
	 * [A-Za-z0-9._-]) proves it holds @key (SL_AUTH_KEY_LEN = 32 bytes,
	 * common/auth.h) by challenge and response; the key never crosses the
	 * wire. With reconnecting on (the default) the client keeps a copy to
	 * authenticate again, wiped by sl_client_close; with @no_reconnect it
	 * is not used after sl_client_connect returns. The broker must prove
	 * it knows the key too (its WELCOME comes sealed under a key derived
	 * from it), and from then on every UDP datagram, both ways, is sealed
	 * under the session's key of its direction (ChaCha20-Poly1305, a
	 * 128-bit tag; docs/PROTOCOL.md 17): the client ignores, and counts in
	 * forged_dropped, anything from the broker's address that is not, an
	 * ERROR, GOODBYE or DELIVER included. With credentials, @name is
	 * ignored: the session is named after the user.
	 * sl_client_opts_credentials fills both from a file or the environment.
	 */
	const char *user;
	const uint8_t *key;
	/*
	 * Optional (may be NULL): where sl_client_connect stores, on failure,
	 * the code of the broker's ERROR that refused the session (enum
	 * sl_error_code; SL_E_NONE if none did), like sl_client_stats
	 * last_error of a client that never came to be. It tells the causes of
	 * -EACCES apart: SL_E_AUTH_FAILED, SL_E_AUTH_REQUIRED,
	 * SL_E_ENCRYPTION_REQUIRED, or SL_E_NONE when the broker did not prove
	 * it knows the key.
	 */
	uint16_t *last_error;
	/*
	 * Shared memory instead of UDP, to a dataplane on this host: its
	 * instance name (the `name` in its configuration; the socket is
	 * /run/sluice/NAME/shm.sock) or the path of that socket. @host and
	 * @port are then ignored. The client gets rings of its own, in memory
	 * only it and the dataplane can reach; the session, authentication,
	 * ACLs, acks and deliveries work as over UDP, except that frames carry
	 * no MAC. Publishing returns -EAGAIN when the ring to the broker is full
	 * (the broker is behind, or a topic with policy `block` holds
	 * publishers back); sl_client_fd then returns the attach socket, which
	 * is not for reading. NULL: UDP.
	 */
	const char *shm;
	/*
	 * The publish window: how many publishes may be sent past the oldest
	 * one still unsettled (asked for an ACK, neither acknowledged nor
	 * refused yet); see "Acknowledgements" below. Rounded up to a power of
	 * two; 0 means SL_ACK_WINDOW_DEFAULT; more than SL_ACK_WINDOW_MAX is
	 * -EINVAL. Allocated once by sl_client_connect (8 bytes a slot, and
	 * 48 more for what a resend needs, touched only by a producer).
	 */
	uint32_t ack_window;
	/*
	 * Optional (may be NULL): called once for each publish the broker
	 * answers, when its answer arrives; see sl_settle_fn.
	 */
	sl_settle_fn on_settle;
	void *settle_arg;
	/* Optional (may be NULL): called for each event; see sl_event. */
	sl_event_fn on_event;
	void *event_arg;
	/*
	 * Idempotent publishing (protocol version 2; docs/PROTOCOL.md 15 and
	 * 17). The producer name (1..64 bytes of [A-Za-z0-9._-] and other
	 * printable ASCII without spaces) under which the broker stores this
	 * client's publishes: a stable name makes one producer across
	 * restarts of the application, and a newer instance under the same
	 * name fences every older one (SL_EV_FENCED). NULL: a fresh name per
	 * process, "<user or name>-<pid>-<random hex>". The producer is
	 * registered (PRODUCER, one round trip) at connect when this is set,
	 * otherwise before the first publish that asks for an ACK, which then
	 * waits up to @timeout_ms once. See "Acknowledgements" below.
	 */
	const char *producer;
	/*
	 * A publish that asked for an ACK and has none after @resend_ms
	 * (0: 50 ms) is sent again with the same producer sequence, oldest
	 * first; the interval doubles on each round without progress, up to
	 * 1 s. The broker stores it once and acknowledges the repeat
	 * (SL_ACK_F_DUP). Copies of those publishes are kept until settled,
	 * within @resend_bytes (0: 16 MiB; each message takes its length,
	 * rounded up to 8): when full, publishing returns -EAGAIN.
	 */
	uint32_t resend_ms;
	uint32_t resend_bytes;
	/*
	 * Batching over UDP: publishes are packed into one datagram, sent
	 * when the next one does not fit, @flush_us after the first one of
	 * the datagram (checked by every publishing, polling and waiting
	 * call), or at sl_client_flush. 0: every publish is sent at once.
	 * Ignored over shared memory, where each publish is in the ring as
	 * soon as it is committed.
	 */
	uint32_t flush_us;
	/*
	 * Surviving the broker. @no_reconnect 0 (the default): a broker that
	 * sends nothing for @liveness_ms (0: 3 heartbeat intervals), ends the
	 * session (SL_E_NO_SESSION, GOODBYE) or, over shared memory, dies or
	 * cuts this client off, raises SL_EV_DISCONNECTED; the client then
	 * opens a new session with backoff (50 ms doubling to 2 s),
	 * authenticates again (the key is kept in the client until
	 * sl_client_close, which wipes it), resolves every topic name again
	 * (the topic ids the application holds stay valid), subscribes again
	 * (topics with a journal from the message after the last one
	 * delivered: no gap, no duplicate), rebinds the producer and sends
	 * every unacknowledged publish again, then raises SL_EV_RECONNECTED.
	 * It gives up after @reconnect_max_ms (0: never), and calls then fail
	 * -ENOTCONN. With a list of brokers (@host), a loss by SL_E_NOT_PRIMARY
	 * or by silence moves to the next broker first (other losses try the
	 * same one again), each failed attempt moves on too, the next attempt
	 * comes 10 ms later and waits at most 150 ms for each reply, and the
	 * backoff applies only after a whole round of the list failed.
	 * Frames of a leader epoch older than the newest seen are ignored
	 * (old_epoch_dropped; docs/PROTOCOL.md "Leader epoch"), so a deposed
	 * primary's late ACKs and DELIVERs never count. A topic that moved
	 * to another pair (ERROR SL_E_MOVED, docs/SCALEOUT.md) is followed:
	 * the session ends, the broker list becomes the one address the
	 * error names, the reconnect restores the session there, and the
	 * call that was refused (resolve, subscribe) is asked once more;
	 * publishes refused that way are sent again there. A client serves
	 * the topics of one pair: topics left on the old pair are reported
	 * gone after that reconnect. @no_reconnect 1: the
	 * first loss is final, as in protocol
	 * version 1 (-ENOTCONN from every call). Either way, a session whose
	 * credentials the broker revoked (SL_EV_SESSION_REVOKED) is final.
	 */
	uint8_t no_reconnect;
	uint32_t liveness_ms;
	uint32_t reconnect_max_ms;
	/*
	 * Delivery order over UDP (see "Delivery order" below). The reorder
	 * window: how many messages past the next expected one each subscribed
	 * topic may hold while it waits for a missing one, and the credit the
	 * client grants the broker (SUBSCRIBE's window, then CREDIT). Rounded
	 * up to a power of two, 4..65536; 0 means 4096. Allocated per topic at
	 * its first subscription or delivery (SL_MAX_PAYLOAD bytes a message,
	 * in pages the system provides only once a message waits in them).
	 */
	uint32_t reorder_window;
	uint32_t nak_delay_us;	 /* first NAK of a hole after this; 0 means 500 */
	uint32_t nak_retry_ms;	 /* NAK again this often while it lasts; 0 means 20 */
	uint32_t gap_timeout_ms; /* give up a hole that blocks the topic this long
				  * without progress (SL_EV_GAP); 0 means 2000 */
	/*
	 * Encryption on the wire (protocol version 3): ask the broker for an
	 * encrypted session (HELLO SL_CAP_ENC); every datagram's frames are
	 * then encrypted, not only authenticated. Needs credentials (-EINVAL
	 * without). The connect fails -EPROTONOSUPPORT when the broker opens
	 * the session unencrypted (the user's encryption policy is off), and
	 * -EACCES with last_error SL_E_ENCRYPTION_REQUIRED is what a client
	 * that did not ask gets where the user's policy requires it. Over
	 * shared memory nothing is encrypted (the rings are private memory)
	 * and an unencrypted session is accepted.
	 */
	uint8_t encrypt;
};

/* A delivered message; the pointers are valid only inside the callback. */
struct sl_message {
	uint32_t topic_id;
	uint32_t len;	    /* payload bytes at @data (the header block excluded) */
	uint64_t seq;	    /* broker's per-topic sequence */
	uint64_t timestamp; /* the publisher's timestamp, as published; for a
			     * message replayed from the journal, the broker's
			     * receive time in ns since the Unix epoch */
	const void *data;
	/* Protocol version 4: the message's key and headers as published
	 * (sl_client_publish_ex); key_len 0 and n_hdrs 0 when it has none.
	 * Read headers with sl_msg_header / sl_msg_header_at. */
	const void *key;
	uint16_t key_len;
	uint16_t n_hdrs;
	uint16_t hdrs_len;  /* bytes of the header block at @hdrs */
	const void *hdrs;   /* the header block (PROTOCOL.md 5.8.1); NULL: none */
	/* Protocol version 4, a consumer group's delivery (see "Consumer
	 * groups"): the group as sl_client_group_join named it, and how many
	 * times the broker has delivered this message to the group (1 the
	 * first time; more: a redelivery). group_id 0: a subscription's
	 * delivery, delivery_count then 0. */
	uint32_t group_id;
	uint32_t delivery_count;
};

/*
 * The value of header @name of @msg: a pointer to its bytes (not
 * terminated) with *@len set, or NULL when @msg has no such header.
 * Names are case-sensitive. Valid inside the callback only. Thread-safe.
 */
const void *sl_msg_header(const struct sl_message *msg, const char *name, uint16_t *len);

/*
 * Header @i (0..n_hdrs-1) of @msg: 0 with *@name (not terminated, *@name_len
 * bytes), *@value and *@value_len set, or -ENOENT past the last.
 */
int sl_msg_header_at(const struct sl_message *msg, unsigned i, const char **name,
		     uint16_t *name_len, const void **value, uint16_t *value_len);

typedef void (*sl_deliver_fn)(void *arg, const struct sl_message *msg);

/* Counters a client keeps about itself; see sl_client_stats. */
struct sl_client_stats {
	uint64_t published;	 /* PUBLISH frames handed to the kernel */
	uint64_t publish_eagain; /* publishes refused with -EAGAIN (back-pressure,
				  * or the publish window full) */
	uint64_t delivered;	 /* DELIVER frames passed to callbacks */
	uint64_t acks;		 /* ACK frames received, repeated ones included;
				  * pub_acked counts publishes */
	uint64_t errors;	 /* ERROR frames received */
	uint64_t gaps;		 /* topic sequence numbers never delivered:
				  * the ranges of SL_EV_GAP events */
	uint64_t bad_frames;	 /* frames from the broker that failed parsing */
	uint64_t stash_drops;	 /* deliveries that arrived while a call waited
				  * for a reply and were dropped because the
				  * process was out of memory (see the top:
				  * the stash never drops otherwise) */
	uint64_t publish_refused; /* publishes refused by an ERROR, each counted
				   * once; the message was not accepted, or, for
				   * SL_E_JOURNAL_DAMAGED on an async topic, may
				   * have been delivered but was not persisted */
	uint16_t last_error;	 /* code of the most recent ERROR of any kind
				  * (enum sl_error_code), SL_E_NONE if none;
				  * sl_error_code_str() gives its words */
	/* Acknowledgements, each publish counted once (see "Acknowledgements"). */
	uint64_t pub_acked;	  /* publishes acknowledged */
	uint64_t pub_outstanding; /* publishes that asked for an ACK and are
				   * neither acknowledged nor refused yet */
	uint64_t acks_ignored;	  /* ACKs, and ERRORs answering a PUBLISH, that
				   * settled nothing: repeated, for a publish never
				   * sent, already settled or out of the window, of
				   * another topic or session; also in acks/errors */
	uint64_t window_full;	  /* publishes refused -EAGAIN because the window
				   * was full (also in publish_eagain) */
	uint64_t replay_gaps;	 /* gap notices (SL_E_REPLAY_GAP): ranges a replay
				  * skipped because the broker's journal cannot
				  * serve them (damaged); not in errors */
	uint64_t replay_gap_seqs; /* sequences in those ranges */
	uint32_t gap_topic;	 /* the latest gap (event or notice): topic id
				  * and range */
	uint64_t gap_first, gap_last;
	/* Publishing and reconnecting (protocol version 2). */
	uint64_t resent;	  /* publishes sent again for want of an ACK */
	uint64_t dup_acks;	  /* ACKs with SL_ACK_F_DUP: the broker had the
				   * publish already (also in acks) */
	uint64_t out_of_order;	  /* SL_E_OUT_OF_ORDER refusals: a publish went
				   * past a lost one; sent again in order */
	uint64_t datagrams;	  /* UDP datagrams sent with publishes in them */
	uint64_t fragments;	  /* PUBLISH_FRAG pieces sent, resends included */
	uint64_t disconnects;	  /* sessions lost (SL_EV_DISCONNECTED) */
	uint64_t reconnects;	  /* new sessions opened (SL_EV_RECONNECTED) */
	uint64_t producer_id;	  /* the broker's id of this producer, 0 before
				   * it is registered; producer_epoch its epoch */
	uint32_t producer_epoch;
	/* Delivery order and loss recovery (see "Delivery order"). */
	uint64_t gap_events;	 /* SL_EV_GAP events raised */
	uint64_t holes_given_up; /* of those, ranges the client gave up itself:
				  * the reorder window was full, or nothing
				  * filled the hole for gap_timeout_ms */
	uint64_t dup_drops;	 /* deliveries dropped as duplicates (seq
				  * already handed over, or already held) */
	uint64_t reordered;	 /* deliveries that arrived ahead of a missing
				  * one and waited in the reorder window */
	uint64_t naks_sent;	 /* NAK frames sent */
	uint64_t nak_seqs;	 /* sequence numbers they asked for */
	uint64_t retrans_received; /* retransmitted deliveries taken */
	uint64_t credits_sent;	 /* CREDIT frames sent */
	uint64_t status_frames;	 /* STATUS entries received */
	uint64_t frag_messages;	 /* large messages reassembled from pieces */
	uint64_t frag_drops;	 /* pieces dropped: message over WELCOME's
				  * max_message, pieces that disagree, or no
				  * reassembly room (asked again by NAK) */
	uint64_t untracked;	 /* deliveries passed on unordered, without
				  * loss detection: their topic found no room
				  * in the reorder tables (65,536 topics, or
				  * memory); pieces of large messages among
				  * them are dropped (also in frag_drops) */
	/* The session's protection (protocol version 3, docs/PROTOCOL.md 17). */
	uint64_t forged_dropped; /* frames from the broker's address ignored as
				  * not the broker's: unsealed, or sealed with a
				  * bad tag, in an authenticated UDP session (an
				  * ERROR, GOODBYE or DELIVER included); naming
				  * another session in any other */
	uint64_t replay_dropped; /* sealed datagrams ignored as replays: seen
				  * before, or 1,024 or more below the newest */
	uint64_t handshake_restarts; /* handshakes begun again with a new HELLO:
				      * the cookie went stale (SL_E_HANDSHAKE)
				      * or the AUTH went unanswered */
	uint32_t session_timeout_ms; /* WELCOME: the broker ends a session idle
				      * this long; heartbeats go well within */
	uint8_t authenticated;	 /* the session proved the user's key */
	uint8_t encrypted;	 /* its datagrams are encrypted */
	/* Revocation (docs/PROTOCOL.md 13.5). */
	uint64_t subs_revoked;	 /* subscriptions the broker ended
				  * (SL_EV_SUB_REVOKED) */
	uint64_t revoked_drops;	 /* deliveries of a topic whose subscription
				  * the broker ended, dropped unseen: held in
				  * the reorder window or stashed when the
				  * ERROR came, or late */
	/* Header filters (protocol version 4). */
	uint64_t filtered;	 /* topic sequences a subscription's filter skipped,
				  * as the broker said (SKIP): not gaps */
	/* Consumer groups (protocol version 4, see "Consumer groups"). */
	uint64_t group_delivered;   /* group deliveries passed to callbacks (also
				     * in delivered) */
	uint64_t group_redelivered; /* of those, with delivery_count > 1 */
	uint64_t group_acked;	    /* seqs sent acknowledged (GACK; a cumulative
				     * ack counts 1) */
	uint64_t group_nacked;	    /* seqs given back (GNAK) */
	uint64_t group_not_held;    /* SL_E_NOT_HELD answers: acks or naks of
				     * seqs this member did not hold */
	uint64_t group_dropped;	    /* group deliveries dropped: for a group this
				     * client is not (or no longer) a member of */
	/* Broker pairs (docs/HA.md). */
	uint64_t old_epoch_dropped; /* frames ignored as from a leader epoch older
				     * than leader_epoch: a deposed primary's */
	uint32_t leader_epoch;	    /* the newest leader epoch a broker frame
				     * carried (0: a single broker) */
	uint32_t broker;	    /* index in the host list of the broker of the
				     * session (or of the next attempt) */
	/* Shared-memory doorbells (docs/PROTOCOL.md 14.8). */
	uint64_t bells_rung;	    /* times a commit woke the broker's sleeping
				     * worker */
	uint64_t bell_sleeps;	    /* sleeps on this client's doorbell (in
				     * sl_client_wait) */
};

/*
 * Open a session: resolve the address, then the version 3 handshake: HELLO,
 * the broker's CHALLENGE (a cookie: the broker keeps nothing yet), AUTH
 * echoing it (with credentials, with the proof of the user's key), WELCOME.
 * With credentials the WELCOME must come sealed under the session key
 * (mutual authentication). HELLO and AUTH are resent every 200 ms; an AUTH
 * unanswered for 800 ms, or refused because its cookie went stale
 * (SL_E_HANDSHAKE), starts again with a new HELLO (stats
 * handshake_restarts); the whole exchange has one timeout.
 * A WELCOME that fails verification (not sealed under the session key, or
 * a plain WELCOME though the client asked to authenticate) is ignored,
 * since whoever can send one cannot stop the broker's own from arriving; if
 * none verified by the timeout, the connect fails with -EACCES (last_error
 * SL_E_NONE), not -ETIMEDOUT: something answered that does not know the key.
 * Returns 0 and sets *out, or -EINVAL (bad options: no host, only one of
 * user and key, invalid user name, encrypt without credentials, ack_window
 * over SL_ACK_WINDOW_MAX), -ENOENT (host not found), -ETIMEDOUT (no
 * broker answered), -EACCES (credentials refused: SL_E_AUTH_FAILED, wrong
 * key or unknown user; none given but the broker requires them:
 * SL_E_AUTH_REQUIRED; encryption required for this user but not asked for,
 * or asked for without credentials: SL_E_ENCRYPTION_REQUIRED; or the broker
 * failed to prove it knows the key; see opts->last_error),
 * -EPROTONOSUPPORT (encrypt asked, and the broker opened the session
 * unencrypted), -EPROTO (broker refused or spoke another version), -ENOMEM,
 * or another -errno from the socket calls.
 */
int sl_client_connect(struct sl_client **out, const struct sl_client_opts *opts);

/*
 * Credentials for @o, for tools: from the file @path when not NULL, else
 * from the environment (SLUICE_CREDENTIALS naming a file, or SLUICE_USER
 * with SLUICE_KEY; see sl_auth_credentials_env in common/auth.h). A file
 * holds "user = NAME" and "key = 64 hex digits" lines and must not be
 * accessible by group or others. Never take a key on the command line.
 * @user_buf (32 bytes, SL_AUTH_USER_LEN) and @key_buf (32 bytes,
 * SL_AUTH_KEY_LEN) receive them and must outlive sl_client_connect; on
 * success o->user and o->key point at them.
 * Returns 1 when credentials were set, 0 when @path is NULL and the
 * environment names none (o->user and o->key untouched), or -ENOENT,
 * -EPERM (file readable by others), -EINVAL (bad contents), with a message
 * for the user in @err (@errlen bytes). Thread-safe.
 */
int sl_client_opts_credentials(struct sl_client_opts *o, const char *path, char *user_buf,
			       uint8_t *key_buf, char *err, size_t errlen);

/*
 * Look up a topic's numeric id by name; with @create, create it if missing.
 * Returns 0 and sets *topic_id, or -EINVAL (bad name), -ENOENT (no such
 * topic and @create is 0), -ENOSPC (broker's topic table full), -EPERM
 * (the ACL does not allow it: SL_E_DENIED; creating needs admin),
 * -ETIMEDOUT, -ENOTCONN (session expired and not reconnected).
 * The id stays the application's for the client's life: after a reconnect
 * the name is resolved again and, should the broker give it another id,
 * the client translates in both directions (publishes, deliveries, acks).
 * A partitioned topic (sluicectl topic create --partitions N) resolves to
 * one id too: a publish to it goes to partition sl_key_hash(key) mod N
 * (docs/PROTOCOL.md 7.4), or without a key to this client's one partition
 * (chosen at random when resolved, kept: its unkeyed messages stay in
 * order); subscribing (and unsubscribing) covers every partition, joining
 * a group joins the group of that name on every partition. Deliveries
 * carry the partition's topic id (sl_client_partitions). Also -ENOSPC
 * when the client holds 64 partitioned topics already.
 */
int sl_client_resolve(struct sl_client *c, const char *name, int create, uint32_t *topic_id);

/*
 * The name of topic @topic_id (one the application never resolved: a
 * pattern subscription delivers topics by id) into @buf (@cap bytes, NUL
 * terminated). Asks the broker (a RESOLVE by id, docs/PROTOCOL.md 5.4;
 * waits like sl_client_resolve; nothing is cached). Returns the name's
 * length, or -EINVAL, -ENOENT (no such topic), -EPERM (the user has no
 * right on the topic), -ENAMETOOLONG (@cap too small; 201 bytes
 * always fit: names are at most 200), -EOPNOTSUPP (a broker that predates the request: its
 * WELCOME does not offer it), -ETIMEDOUT, -ENOTCONN, -ENOBUFS.
 */
int sl_client_topic_name(struct sl_client *c, uint32_t topic_id, char *buf, size_t cap);

/*
 * Where the broker last said a topic went (ERROR SL_E_MOVED): the pair's
 * name into @pair (@cap bytes, NUL terminated), its "a.b.c.d:port" into
 * @addr (@addr_cap bytes), and its placement epoch. Returns 0, or -ENOENT
 * when no broker of this client said so. With reconnecting on, the client
 * has already followed it; with @no_reconnect, calls refused that way fail
 * -EREMCHG and this names where to connect.
 */
int sl_client_moved(const struct sl_client *c, char *pair, size_t cap, char *addr,
		    size_t addr_cap, uint32_t *epoch);

/*
 * The partitions of partitioned topic @topic_id (an id sl_client_resolve
 * gave): their topic ids, partition 0 first, into @ids (room for @cap; NULL
 * for the count alone). Order holds within a partition, not across them.
 * Returns the number of partitions (1..64), 0 for an ordinary topic.
 */
int sl_client_partitions(struct sl_client *c, uint32_t topic_id, uint32_t *ids, uint32_t cap);

/*
 * Start (or stop) receiving deliveries for @topic_id, live: from the next
 * message accepted on the topic. Subscribing twice is not an error.
 * sl_client_subscribe(c, t) is sl_client_subscribe_from(c, t, 0, 0).
 * Returns 0, -ENOENT (no such topic), -ENOSPC (the topic has its maximum
 * number of subscribers), -EPERM (the ACL does not allow it: SL_E_DENIED),
 * -EACCES (the topic takes only encrypted sessions: SL_E_ENCRYPTION_REQUIRED;
 * connect with opts.encrypt), -ETIMEDOUT, -ENOTCONN.
 */
int sl_client_subscribe(struct sl_client *c, uint32_t topic_id);
int sl_client_unsubscribe(struct sl_client *c, uint32_t topic_id);

/*
 * Subscribe to every topic matching @pattern ('.'-separated tokens; "*"
 * matches one token, ">" as the last token one or more), now and as topics
 * are created, among those the ACL lets this user subscribe to, and over
 * an unencrypted UDP session not those whose policy requires encryption
 * (each such topic is named by an ERROR SL_E_ENCRYPTION_REQUIRED after the
 * OK, counted in errors and last_error); or, with
 * @unsubscribe, drop that pattern subscription. Deliveries carry topic ids
 * the client may never have resolved. Returns 0, -EINVAL (bad pattern),
 * -ENOSPC (the broker's pattern table is full), -ETIMEDOUT, -ENOTCONN.
 */
int sl_client_subscribe_pattern(struct sl_client *c, const char *pattern, int unsubscribe);

/*
 * Subscribe to @topic_id starting at a point in the topic's journal.
 * @flags: 0 for live (like sl_client_subscribe), or exactly one of
 * SL_SUB_F_EARLIEST (oldest retained message; @start ignored),
 * SL_SUB_F_FROM_SEQ (topic sequence @start, or the oldest retained message
 * if that is later), SL_SUB_F_FROM_TIME (first message the broker received
 * at or after @start, in ns since the Unix epoch on the broker's clock; not
 * sl_now_ns(), which is monotonic).
 * The broker sends the retained messages in sequence order, then continues
 * live without gap or duplicate; replayed messages reach the deliver
 * callback through sl_client_poll/sl_client_wait like live ones, whether
 * the broker sent them before or after its OK. The gap counter restarts for
 * the topic: the first message delivered after this call sets its baseline,
 * and later jumps in seq (e.g. retention deleted messages meanwhile) count
 * as gaps.
 * Returns 0, -EINVAL (unknown flag bits, or more than one start point),
 * -EOPNOTSUPP (a replay on a topic without a journal: durability none),
 * -EBUSY (the broker has too many replays in progress: retry later; not
 * retried here), and the errors of sl_client_subscribe.
 */
int sl_client_subscribe_from(struct sl_client *c, uint32_t topic_id, uint16_t flags,
			     uint64_t start);

/*
 * As sl_client_subscribe_from, with a header filter (protocol version 4):
 * the broker delivers only the messages for which every clause of
 * @clauses[0..@n) holds (1..SL_MAX_FILTER_CLAUSES; n 0: no filter). EQ:
 * header @name with exactly @value; PRESENT: header @name; KEY_EQ: the key
 * equals @value. A message without headers passes no clause. Sequences the
 * filter skips are not gaps: the broker says so (SKIP) and they raise no
 * SL_EV_GAP and are never NAKed. Subscribing again replaces the filter.
 * Returns what sl_client_subscribe_from does, -EINVAL for a malformed
 * filter (or SL_E_BAD_HEADERS from the broker), -EPROTONOSUPPORT when the
 * broker speaks version 3 only.
 */
int sl_client_subscribe_filter(struct sl_client *c, uint32_t topic_id, uint16_t flags,
			       uint64_t start, const struct sl_filter_clause *clauses,
			       unsigned n);

/* Consumer groups: joining, acknowledging, giving back (sluice/group.h). */
#include <sluice/group.h>

/*
 * Acknowledgements.
 *
 * Publishes are numbered 1, 2, 3... (the publish number, one for all
 * topics of the client; sl_client_last_seq; in protocol version 1 it was
 * the producer sequence on the wire too). The broker answers a publish
 * that asked for an ACK (SL_PUB_F_ACK_REQ) with an ACK or an ERROR that
 * names its number; answers come back out of order (several broker workers
 * own different topics), may be repeated (a duplicated datagram) or may be
 * lost. The client keeps the state of the last ack_window publishes
 * (sl_client_opts) in a ring indexed by producer sequence, and settles each
 * publish at most once: the first ACK acknowledges it, the first refusing
 * ERROR refuses it, and any other ACK or refusal (repeated, for a number
 * never sent or already settled, older than the window, for another topic
 * or session) is ignored and counted in sl_client_stats acks_ignored.
 *
 * The window is the resend window: a publish may be sent only while its
 * number is less than ack_window past the oldest unsettled publish (above
 * sl_client_settled()); otherwise sl_client_publish and sl_client_claim
 * return -EAGAIN with nothing sent (counted in window_full and
 * publish_eagain), and the caller polls for answers, or gives up on them.
 * Publishes without SL_PUB_F_ACK_REQ are settled when sent and never fill
 * the window; a refusal of one is still counted while the window holds it.
 *
 * What the application reads, each in O(1):
 *   sl_client_acked()      every publish 1..N that asked for an ACK was
 *                          acknowledged (the contiguous acknowledged mark);
 *   sl_client_settled()    every publish 1..N is settled (acknowledged,
 *                          refused, or sent without asking for an ACK);
 *   sl_client_pub_status() what became of one publish in the window;
 *   sl_client_stats()      pub_acked, publish_refused, pub_outstanding,
 *                          acks_ignored, each publish counted once;
 *   opts.on_settle         a callback per answered publish.
 * A publish unanswered when the caller stops waiting was neither
 * acknowledged nor refused: it may or may not have been stored.
 *
 * Idempotent publishing (protocol version 2, docs/PROTOCOL.md 15 and 17).
 * The first publish that asks for an ACK registers the client as a
 * producer (opts.producer, or a fresh name per process); from then on a
 * publish asking for an ACK carries a producer sequence of its own topic
 * (1, 2, 3... per topic), which the client maps to and from the publish
 * number, so everything above holds unchanged. Such a publish is kept
 * (a copy, within opts.resend_bytes) until settled and sent again, oldest
 * first, when no ACK came within opts.resend_ms (doubling up to 1 s while
 * nothing settles), after SL_E_OUT_OF_ORDER (a publish before it was lost
 * on the way), and after a reconnect (SL_E_NO_SESSION naming such a
 * publish ends the session, not the publish: it is sent again in the new
 * one). The broker stores each (producer,
 * topic, sequence) once and answers a repeat with an ACK flagged
 * SL_ACK_F_DUP, which settles the publish as acknowledged (counted in
 * sl_client_stats dup_acks): what is acknowledged is in the topic exactly
 * once. A publish without SL_PUB_F_ACK_REQ carries producer sequence 0: at
 * most once, never resent. SL_E_FENCED (a newer instance of the same
 * producer name) raises SL_EV_FENCED, refuses that publish, and every
 * later publish fails -EPERM. A broker that does not answer PRODUCER gets
 * publishes as in version 1 (no resend, no deduplication).
 *
 * Large messages: a publish longer than WELCOME's max_payload (1,400 bytes)
 * and at most its max_message (1 MiB by default) goes as PUBLISH_FRAG
 * pieces, acknowledged once; over shared memory as one frame when the
 * region takes it. Longer than max_message: -EMSGSIZE.
 */

/*
 * Publish one message. Never blocks. @flags: SL_PUB_F_ACK_REQ to get an ACK.
 * @timestamp is carried to subscribers untouched (sl_message.timestamp).
 * Returns 0, -EAGAIN when the socket's send buffer is full, the publish
 * window or the copies kept for resending are (back-pressure: poll, then
 * retry), or the client is reconnecting, -EMSGSIZE when @len is over the
 * broker's max_message (WELCOME; 1 MiB by default, SL_MAX_PAYLOAD from a
 * version 1 broker), -EINVAL for unknown @flags, -EPERM once fenced
 * (SL_EV_FENCED), -ENOSPC when the client already publishes to 4096
 * topics, -ENOTCONN after the broker closed the session and the client
 * gave up reconnecting (or does not reconnect), or another -errno; the
 * first publish asking for an ACK may also return what registering the
 * producer does (-ENOSPC: the broker's producer table is full).
 * A refusal by the broker (unknown topic, SL_E_JOURNAL_FULL,
 * SL_E_JOURNAL_DAMAGED, SL_E_DENIED when the ACL does not allow publishing)
 * arrives later as an ERROR, seen by a poll: the publish is settled as
 * refused (counted in sl_client_stats publish_refused) and last_error is
 * set. What an ACK means depends on the topic's durability; see
 * docs/PROTOCOL.md 7.3.
 */
int sl_client_publish(struct sl_client *c, uint32_t topic_id, const void *data, uint32_t len,
		      uint64_t timestamp, uint16_t flags);

/* What sl_client_publish_ex publishes besides the payload. */
struct sl_pub_opts {
	uint16_t flags;		     /* SL_PUB_F_ACK_REQ */
	uint64_t timestamp;	     /* as sl_client_publish's */
	const void *key;	     /* the message key, key_len bytes (0..SL_MAX_KEY); */
	uint16_t key_len;	     /* 0: none */
	const struct sl_header *hdrs; /* n_hdrs headers (0..SL_MAX_HDRS) */
	uint16_t n_hdrs;
};

/*
 * Publish one message with a key and headers (protocol version 4): they
 * travel unchanged to version 4 subscribers (sl_message.key, hdrs), are
 * stored in the journal, and subscribers' header filters test them; a
 * version 3 subscriber gets the payload alone. Header names are 1..32
 * bytes of [A-Za-z0-9._-], unique; names starting "sl-" are the broker's.
 * The header block (at most SL_MAX_HDRS_LEN bytes) counts against
 * max_message. Without key and headers it is sl_client_publish.
 * Returns what sl_client_publish does, and -EINVAL for headers or a key
 * over their limits, a bad, repeated or reserved name, or a NULL @o;
 * -EPROTONOSUPPORT when the broker speaks version 3 only. A broker that
 * refuses the block anyway answers SL_E_BAD_HEADERS (a refusal, as for
 * sl_client_publish).
 */
int sl_client_publish_ex(struct sl_client *c, uint32_t topic_id, const void *data, uint32_t len,
			 const struct sl_pub_opts *o);

/*
 * Zero-copy publish: reserve room for a message of @len bytes on @topic_id
 * and get where to write it in *data; sl_client_commit then publishes it
 * (or sl_client_abort gives the room back). Over shared memory the message
 * is written in place in the ring the broker reads; over UDP into the
 * client's send buffer. One claim may be open at a time, and no other call
 * on the client may come between claim and commit.
 * The publish takes its number at commit, and the window is checked here:
 * a claim that succeeds has a place in it.
 * Returns 0, -EAGAIN (no room now: back-pressure or the window full, as for
 * publish), -EMSGSIZE, -EINVAL (a claim is already open, or @data is NULL),
 * -ENOTCONN.
 */
int sl_client_claim(struct sl_client *c, uint32_t topic_id, uint32_t len, void **data);

/*
 * Publish the claimed message with @timestamp and @flags (as
 * sl_client_publish). Over shared memory it cannot fail after a successful
 * claim; over UDP it returns what sending returns (-EAGAIN: the message is
 * not sent and the claim is closed). -EINVAL when no claim is open.
 * A process killed between claim and commit leaves nothing the broker
 * delivers: the record is committed last, in one word.
 */
int sl_client_commit(struct sl_client *c, uint64_t timestamp, uint16_t flags);

/* Give the open claim's room back without publishing (no-op if none). */
void sl_client_abort(struct sl_client *c);

/*
 * Send the datagram of publishes batched so far (opts.flush_us) now.
 * Returns 0 (also when nothing was batched, and always over shared
 * memory), -EAGAIN when the socket's send buffer is full or the client is
 * reconnecting (the batch is kept; try again after a poll), -ENOTCONN.
 */
int sl_client_flush(struct sl_client *c);

/*
 * Delivery order. Over UDP with a version 2 broker, each topic's messages
 * reach the deliver callback in sequence order, each exactly once: the
 * client holds messages that arrive early (up to reorder_window per topic),
 * drops duplicates, asks the broker to send missing ones again (NAK, after
 * nak_delay_us, then every nak_retry_ms), learns of lost tails from the
 * broker's STATUS frames, and grants the broker credit for reorder_window
 * messages past the last one delivered. A live subscription starts at the
 * first message that arrives. A range that cannot be delivered is skipped
 * with an SL_EV_GAP event (on_event) naming it, counted in gap_events and
 * gaps: when the broker says so (SL_E_GAP_LOST, SL_E_REPLAY_GAP,
 * SL_E_SLOW_CONSUMER), when a message arrives reorder_window or more past
 * a missing one (the oldest holes are given up to make room), and when
 * nothing fills a hole for gap_timeout_ms (SL_E_GAP_LOST in both). Over
 * shared memory, and with a version 1 broker, nothing is reordered or
 * retransmitted: a jump in sequence is an SL_EV_GAP at once (error
 * SL_E_NONE: the broker dropped those messages, policy drop). Large
 * messages sent in pieces (DELIVER_FRAG) are delivered whole.
 */

/*
 * Receive without blocking: passes up to @max deliveries to @fn and handles
 * acks, errors and heartbeats. Also sends a heartbeat when one is due, so a
 * client that sends nothing else (a subscriber, a publisher between
 * publishes) must call it at least every heartbeat interval: the broker ends
 * a session it heard nothing from for its session timeout (WELCOME;
 * sl_client_stats session_timeout_ms).
 * @fn may be NULL for a publisher that only wants its acks (deliveries are
 * then counted and dropped).
 * It also resends unacknowledged publishes, sends a batch whose deadline
 * passed, watches the broker's liveness and, while the session is lost,
 * reconnects (see the top of this file); it returns 0 while reconnecting.
 * Returns the number of deliveries passed to @fn (0 if none were waiting),
 * -ENOTCONN when the broker says the session is gone and the client does
 * not reconnect (or gave up), or revoked the session's credentials
 * (SL_EV_SESSION_REVOKED), -EINVAL when @max < 1, or another -errno from
 * recvmmsg(2).
 */
int sl_client_poll(struct sl_client *c, sl_deliver_fn fn, void *arg, int max);

/*
 * Like sl_client_poll, but first waits up to @timeout_ms for the socket to
 * become readable (poll(2)). For subscribers that do not need to spin.
 * Over shared memory there is no descriptor to wait on: it spins 20 us,
 * then sleeps in steps that double from 20 us to 1 ms, so a message after
 * a quiet spell may wait up to a millisecond; spin on sl_client_poll for
 * the lowest latency.
 * Heartbeats are sent while it waits. @timeout_ms < 0 waits without limit.
 * A signal ends the wait early and returns 0; so may the reorder buffer's
 * timers (a NAK or a give-up due, see "Delivery order"), which run in the
 * poll it ends with.
 */
int sl_client_wait(struct sl_client *c, sl_deliver_fn fn, void *arg, int max, int timeout_ms);

/* The UDP socket, for callers that multiplex with epoll. Do not read it.
 * A reconnect opens a new one: ask again after SL_EV_RECONNECTED (-1
 * while reconnecting). */
int sl_client_fd(const struct sl_client *c);

/*
 * Event loops over shared memory. A shared-memory client has no socket to
 * wait on for deliveries; it has a doorbell: sl_client_wait_fd() is a
 * descriptor (an eventfd) that becomes readable when the broker writes to
 * this client while it is armed. Before sleeping (epoll_wait, poll with
 * that descriptor among others), call sl_client_arm(): it returns 1 when
 * something is waiting already (poll instead of sleeping; the client is
 * not armed), 0 when armed, or -ENOTSUP when there is no doorbell (a UDP
 * client: wait on sl_client_fd(); a broker that predates doorbells: poll
 * on a timer). After waking, call sl_client_disarm(), then
 * sl_client_poll(). Watch the descriptor edge-triggered (EPOLLET):
 * sl_client_disarm() empties it only when the broker rang, so a ring that
 * lands just after it leaves a count that a level-triggered watch would
 * wake on again. An armed client costs the broker one write(2) per
 * wake-up; a disarmed one nothing. A waiting caller must still wake by
 * sl_client_wait's rules (heartbeats, resends): at least every
 * millisecond or so while publishes are in flight.
 */
int sl_client_wait_fd(const struct sl_client *c);
int sl_client_arm(struct sl_client *c);
void sl_client_disarm(struct sl_client *c);

/* Session id the broker assigned. */
uint32_t sl_client_session(const struct sl_client *c);

/*
 * The contiguous acknowledged mark: the highest N such that every publish
 * numbered 1..N that asked for an ACK has been acknowledged (publishes sent
 * without SL_PUB_F_ACK_REQ are passed over); 0 if none. It never moves
 * back, and it stops for good below the first publish the broker refused:
 * from there on, count (sl_client_stats) or ask per publish. All publishes
 * so far were acknowledged when it equals sl_client_last_seq().
 */
uint64_t sl_client_acked(const struct sl_client *c);

/*
 * The contiguous settled mark: the highest N such that every publish
 * numbered 1..N is settled (acknowledged, refused, or sent without asking
 * for an ACK); 0 if none. Nothing is outstanding when it equals
 * sl_client_last_seq(). The window ends ack_window publishes past it.
 */
uint64_t sl_client_settled(const struct sl_client *c);

/*
 * What became of publish @pub_seq: returns enum sl_pub_status and, for
 * SL_PUB_REFUSED, the refusal's code in *@error (when not NULL; SL_E_NONE
 * otherwise). -ENOENT when no publish has that number yet (0 included),
 * -ESTALE when it is older than the window remembers (the last ack_window
 * publishes; it was settled before the window moved on).
 */
int sl_client_pub_status(const struct sl_client *c, uint64_t pub_seq, uint16_t *error);

/*
 * Producer sequence of the last successful sl_client_publish (0 if none).
 * Publishes are numbered 1, 2, 3... and a publish that fails (-EAGAIN
 * included) takes no number, so the published range has no holes.
 */
uint64_t sl_client_last_seq(const struct sl_client *c);

void sl_client_stats(const struct sl_client *c, struct sl_client_stats *out);

/* Send GOODBYE (best effort), close the socket and free the client. NULL is ok. */
void sl_client_close(struct sl_client *c);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC), for timestamps. */
uint64_t sl_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_SLUICE_H */
