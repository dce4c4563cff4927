/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's internals shared by its gw_*.c files: connections, sessions, users. */

#ifndef SLUICE_GW_H
#define SLUICE_GW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <sluice/sluice.h>

#include "gw_conf.h"
#include "gw_ctrs.h"
#include "gw_msg.h"
#include "mqtt_codec.h"
#include "mqtt_topic.h"

/*
 * One thread runs everything (gw_loop.c): TCP connections, MQTT sessions,
 * and the pooled libsluice clients, one per authenticated user. Nothing is
 * freed from inside a callback: a connection to close is marked and closed
 * at the end of the loop iteration (gw_conn_reap), so a settle or delivery
 * callback may write to any connection safely.
 */

struct gw_sess;
struct gw_utop;
struct gw_user;

/* ---- connections (gw_conn.c) ---- */

enum gw_conn_state {
	GW_CONN_NEW = 0,     /* accepted, waiting for CONNECT */
	GW_CONN_UP = 1,	     /* CONNACK 0 sent */
	GW_CONN_CLOSING = 2, /* flushing its last packet, then closed */
	GW_CONN_DEAD = 3,    /* closed at the next reap */
};

struct gw_conn {
	int fd;
	uint8_t state;	   /* enum gw_conn_state */
	uint8_t level;	   /* protocol level of its CONNECT (0 before) */
	bool rd_blocked;   /* reading stopped: the broker's ring is full */
	bool was_blocked;  /* its last publish met a full ring (counted once) */
	bool wr_armed;	   /* EPOLLOUT asked for */
	bool in_flush;	   /* on the flush list */
	bool will_on_close; /* publish the session's will when it closes */
	uint32_t id;	   /* connection number, for logs */
	uint64_t last_rx_ns;
	uint64_t deadline_ns; /* keep-alive 1.5x (or connect timeout); 0 none */
	uint32_t keepalive_s;
	uint32_t max_packet_out; /* the client's Maximum Packet Size (v5) */
	struct gw_sess *sess;
	void *tls;	   /* TLS state (gw_tls.h), NULL: plain TCP */
	/* Received bytes not yet parsed (bounded by max-packet + 5). */
	uint8_t *rx;
	uint32_t rx_len, rx_cap;
	/* Bytes to send: tx[tx_off, tx_len). Grows to 2 * tx_max at most. */
	uint8_t *tx;
	uint32_t tx_off, tx_len, tx_cap;
	struct gw_conn *next_flush;   /* flush list (written this iteration) */
	struct gw_conn *next_blocked; /* blocked list (retry reading) */
	struct gw_conn *next_all, *prev_all;
};

/* Reserve @n bytes at the end of @c's send buffer: a pointer to write them
 * (then gw_conn_commit), or NULL when the buffer would exceed its bound
 * (the caller drops or disconnects and counts). */
uint8_t *gw_conn_reserve(struct gw_conn *c, uint32_t n);
void gw_conn_commit(struct gw_conn *c, uint32_t n);
/* Bytes waiting to be written. */
static inline uint32_t
gw_conn_pending(const struct gw_conn *c)
{
	return c->tx_len - c->tx_off;
}
/* Append a whole packet; -ENOBUFS when over the bound (the connection is
 * then closed as too slow). */
int gw_conn_send(struct gw_conn *c, const void *pkt, uint32_t n);
/* Close after flushing what is queued (a DISCONNECT or CONNACK refusal). */
void gw_conn_close_after_flush(struct gw_conn *c);
/* Close now (at the next reap); @will: publish the session's will. */
void gw_conn_kill(struct gw_conn *c, bool will);
/* Send a DISCONNECT with @rc at level 5 (nothing at level 4), then close;
 * counts nothing (the caller does). */
void gw_conn_disconnect(struct gw_conn *c, uint8_t rc, bool will);

/* ---- sessions (gw_sess.c) ---- */

/* An outbound QoS 1/2 message in flight or queued. */
struct gw_out {
	struct gw_msg *m;
	uint16_t pkt_id;
	uint8_t qos;
	uint8_t state; /* 0 free; 1 sent, PUBACK/PUBREC due; 2 PUBREL sent, PUBCOMP due */
	uint8_t retain; /* the RETAIN flag to send */
	uint8_t dup;	/* a replay of what may have been sent before a restart */
	uint32_t sub_id; /* subscription identifier to send (v5), 0 none */
};

struct gw_sub {
	char *filter;	   /* as subscribed, "$share/G/..." included */
	uint16_t flen;
	uint8_t qos;
	uint8_t no_local, rap, rh;
	uint32_t sub_id;
	const char *mfilter; /* the filter to match (past "$share/G/") */
	uint16_t mflen;
	uint8_t n_pat;
	char *pat[2];	     /* the Sluice patterns it holds on the user */
	uint32_t group_id;   /* shared: the consumer group joined (0 none) */
	char *group;	     /* shared: the share name */
};

/* A persistent session's place in a journaled topic (gw_persist.c): the
 * broker's topic sequences it acknowledged and was given. */
struct gw_cur {
	char *topic;	     /* MQTT topic name (the exact filter) */
	uint16_t tlen;
	uint8_t durable;     /* 0 not known yet, 1 journaled, 2 durability none */
	bool hold;	     /* taken up, its replay not asked yet: takes nothing */
	bool behind;	     /* the session's queue was full: takes nothing until
			      * a replay from sent + 1 is asked (gw_persist_tick) */
	uint32_t tid;	     /* broker topic id, 0 until resolved */
	uint64_t acked;	     /* highest seq the client acknowledged (PUBACK, PUBREC) */
	uint64_t sent;	     /* highest seq given to the session (sent or queued) */
	uint64_t since_ns;   /* CLOCK_REALTIME when it began: the replay start
			      * while nothing was given */
	uint64_t dup_upto;   /* after a restart: seqs up to it may have been sent */
	uint64_t log_acked, log_sent; /* as last written to the state log */
};

struct gw_sess {
	char *cid;
	uint16_t cid_len;
	uint8_t level;
	bool persistent;      /* survives the connection (clean 0 / expiry > 0) */
	uint32_t id;	      /* unique in this process: the no-local source */
	uint32_t expiry_s;    /* after a disconnect; UINT32_MAX never */
	uint64_t expire_at_ns; /* while disconnected; 0 while connected */
	struct gw_conn *conn; /* NULL while disconnected */
	struct gw_user *user;
	struct gw_sess *hnext;	/* client id hash chain */
	struct gw_sess *anext, *aprev; /* every session (the timer's scan) */
	struct gw_sess *unext;	/* user's list of sessions */
	/* Subscriptions. */
	struct gw_sub *subs;
	uint32_t n_subs, cap_subs;
	/* Outbound QoS 1/2: the inflight window (a slot per packet id in use)
	 * and the queue behind it. */
	struct gw_out *infl;
	uint32_t n_infl, cap_infl; /* cap: min(max-inflight, Receive Maximum) */
	uint16_t next_pkt_id;
	struct gw_out *q;	   /* ring of max-queued */
	uint32_t q_head, q_len, q_cap;
	/* Inbound QoS 2: packet ids received and not yet released (PUBREL). */
	uint64_t *qos2_held;  /* 65536-bit sets, allocated at first QoS 2 */
	uint64_t *qos2_acked; /* of those, acknowledged by the broker */
	uint32_t n_qos2;      /* held now (Receive Maximum check) */
	/* Inbound topic aliases (v5): alias -> MQTT topic name. */
	char **alias;
	uint16_t alias_max;
	/* Will. */
	struct gw_msg *will;
	uint32_t will_delay_s;
	uint64_t will_at_ns;  /* pending delayed will; 0 none */
	/* Journal-backed persistence (gw_persist.c). */
	struct gw_cur *cur;   /* cursors of its durable topics */
	uint32_t n_cur;
	bool logged;	      /* in the state log */
	uint64_t away_real_ns; /* CLOCK_REALTIME of the last disconnect */
};

/* Find the session of client id @cid, or NULL. */
struct gw_sess *gw_sess_find(const char *cid, uint16_t len);
/* A new session (not yet attached), or NULL when out of memory. */
struct gw_sess *gw_sess_new(const char *cid, uint16_t len, struct gw_user *u);
/* End session @s: subscriptions dropped, messages released, removed. */
void gw_sess_free(struct gw_sess *s);
/* Timers: expire disconnected sessions, send delayed wills. */
void gw_sess_tick(uint64_t now_ns);
/* The connection of @s went away (not a takeover): keep or free it. */
void gw_sess_detach(struct gw_sess *s, uint64_t now_ns);
/* Publish @s's will (now or after its delay) and drop it. */
void gw_sess_will_due(struct gw_sess *s, uint64_t now_ns);
void gw_sess_will_send(struct gw_sess *s);
/* Every session (for shutdown). */
void gw_sess_free_all(void);
/* Call @fn for every session. */
void gw_sess_foreach(void (*fn)(struct gw_sess *s, void *arg), void *arg);
uint32_t gw_sess_count(void);

/* ---- outbound delivery (gw_out.c) ---- */

/* Give @m to @s at @qos (already min(granted, message)); may queue. */
void gw_out_deliver(struct gw_sess *s, struct gw_msg *m, uint8_t qos, uint8_t retain,
		    uint32_t sub_id);
/* As gw_out_deliver, with the DUP flag on its first sending. */
void gw_out_deliver_dup(struct gw_sess *s, struct gw_msg *m, uint8_t qos, uint8_t retain,
			uint32_t sub_id, bool dup);
/* A PUBACK, PUBREC or PUBCOMP from @s's client. */
void gw_out_ack(struct gw_sess *s, uint8_t type, uint16_t pkt_id, uint8_t rc);
/* After a (re)connect: send the inflight again (DUP), then the queue. */
void gw_out_resume(struct gw_sess *s);
/* Send queued messages while the window has room. */
void gw_out_pump(struct gw_sess *s);
/* Release everything @s holds outbound. */
void gw_out_release(struct gw_sess *s);
/* Encode a PUBLISH of @m for @c into its send buffer: 0, -ENOBUFS (no
 * room), -EMSGSIZE (over the client's Maximum Packet Size: dropped). */
int gw_out_write(struct gw_conn *c, const struct gw_msg *m, uint8_t qos, bool dup,
		 uint8_t retain, uint16_t pkt_id, uint32_t sub_id);

/* ---- users: the pooled libsluice clients (gw_user.c) ---- */

struct gw_pattern {
	char *pat;
	uint32_t refs;
	struct gw_pattern *next;
};

/* What the settle callback does with a publish's answer. */
struct gw_pend {
	uint64_t pub_seq;    /* 0: free */
	struct gw_sess *s;   /* NULL: nobody to tell (will, gateway's own) */
	uint16_t pkt_id;
	uint8_t qos;
	uint8_t retain;	     /* store as retained once acknowledged */
	struct gw_msg *ret;  /* the retained message to store (a reference) */
};

struct gw_user {
	char name[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	bool has_key;
	bool dead;	     /* session revoked or given up: no new users */
	uint32_t refs;	     /* sessions using it */
	struct sl_client *cl;
	struct gw_user *next;
	struct gw_sess *sessions; /* via gw_sess.unext */
	struct gw_pattern *patterns;
	/* Topic name -> id cache (open addressing). */
	struct gw_tc_ent *tc;
	uint32_t tc_mask, tc_used;
	/* Publishes awaiting the broker's answer, by pub_seq & pend_mask. */
	struct gw_pend *pend;
	uint32_t pend_mask;
	/* Consumer groups joined for shared subscriptions. */
	struct gw_group *groups;
	uint64_t stash_drops; /* the client's stash_drops already counted */
	int bell_fd;	      /* its doorbell, in the loop's epoll set; -1 none */
	/* Topics with cursors: what was fanned out, replays (gw_persist.c). */
	struct gw_utop *utop;
	uint32_t utop_mask, utop_used;
};

/*
 * The user for @name/@key (pooled; a new libsluice session when none or
 * the key differs), or NULL with *@rc = the MQTT 5 reason to refuse with
 * (0x86 bad credentials, 0x87 not authorized, 0x88 unavailable). @name
 * NULL: the gateway's own session (anonymous clients).
 */
struct gw_user *gw_user_get(const char *name, uint16_t nlen, const uint8_t *pw, uint16_t pwlen,
			    uint8_t *rc);
void gw_user_put(struct gw_user *u);
/* Is @p (@len bytes) a Sluice user or consumer-group name: 1..31 bytes of
 * [A-Za-z0-9._-]? */
bool gw_ident_ok(const char *p, size_t len);
/* The gateway's own session (wills of anonymous clients, and so on). */
struct gw_user *gw_user_own(void);
/* Poll every user's client: deliveries, acks. Returns work done. */
int gw_user_poll_all(void);
/*
 * Before the loop sleeps: arm every user's doorbell (docs/PROTOCOL.md
 * 14.8), its descriptor in the loop's epoll set, so that the broker's next
 * record wakes the loop. Returns 1 when one has something waiting already
 * (do not sleep), 0 when all are armed, -1 when one has no doorbell (a
 * dataplane that predates them: nap and poll); only 0 leaves them armed.
 */
int gw_user_arm_all(void);
/* Awake: disarm every user's doorbell. */
void gw_user_disarm_all(void);
/* libsluice's event callback of user @arg: a gap is counted in
 * deliveries_lost, a revoked session disconnects its MQTT clients. */
void gw_user_event(void *arg, const struct sl_event *ev);
/* Timers: count what the clients dropped themselves (client_dropped). */
void gw_user_tick(void);
/* Resolve MQTT topic @name to a topic id for @u (cache, then the broker,
 * creating it when allowed). Returns 0 or an MQTT 5 reason code (0x87 not
 * authorized, 0x90 topic name invalid, 0x80 other). */
int gw_user_topic(struct gw_user *u, const char *name, uint16_t len, uint32_t *id);
/* The native name of topic @id, asked of the broker as @u, into @buf (@cap
 * bytes): its length, -EAGAIN inside a poll's callback (no request there),
 * or sl_client_topic_name's -errno. */
int gw_user_topic_name(struct gw_user *u, uint32_t id, char *buf, size_t cap);
/* Take (refs++) or drop a pattern subscription of @u. 0 or -errno. */
int gw_user_psub(struct gw_user *u, const char *pat);
void gw_user_punsub(struct gw_user *u, const char *pat);
/* One MQTT message to publish into the broker (pointers valid for the call). */
struct gw_pubreq {
	const uint8_t *payload;
	uint32_t len;
	const uint8_t *props;	/* raw v5 property block (any; the
				 * forwardable ones become headers) */
	uint32_t props_len;
	uint8_t qos, retain;
	uint32_t src;		/* publishing session's number, 0 none */
	uint32_t expiry_s;	/* Message Expiry Interval, 0 none */
	struct gw_msg *ret;	/* stored as retained once acknowledged (a
				 * reference is taken), NULL none */
};

/* Publish @r to topic @tid for session @s (NULL: nobody to tell) with
 * packet id @pkt_id. QoS 0: fire and forget; 1/2: ACK asked, and @s told
 * through gw_pubin_settled. Returns 0, -EAGAIN (ring or window full), or
 * another -errno. */
int gw_user_publish(struct gw_user *u, uint32_t tid, const struct gw_pubreq *r,
		    struct gw_sess *s, uint16_t pkt_id);
/* The publish request of stored message @m (a will, a retained copy). */
void gw_pubreq_of_msg(struct gw_pubreq *r, struct gw_msg *m);
/* Forget session @s in pending answers (it is being freed). */
void gw_user_forget_sess(struct gw_user *u, struct gw_sess *s);
/* Join (or leave) consumer group @group of topic @tid for a shared
 * subscription. Returns the group id (> 0) or -errno. */
int gw_user_group_join(struct gw_user *u, const char *group, uint32_t tid);
void gw_user_group_leave(struct gw_user *u, uint32_t group_id);
void gw_user_close_all(void);

/* The MQTT topic name of broker topic @id (cached; else asked of the broker
 * as user @u, or read from the dataplane's counters area when the broker
 * predates that), or NULL: not known (yet; never asked inside a poll). */
const char *gw_names_mqtt(struct gw_user *u, uint32_t id, uint16_t *len);
void gw_names_learn(uint32_t id, const char *mqtt, uint16_t len);
int gw_names_open(const char *instance);
void gw_names_close(void);
/* The dataplane's counters area: call @fn with the slot of topic @id (its
 * meta, type and values) until it returns 0; -ENOENT from @fn looks on.
 * Returns 0, or -ENOENT (no such slot yet: the area is sampled). */
struct sl_ctrs_meta;
struct sl_ctrs_type;
typedef int (*gw_topic_slot_fn)(const struct sl_ctrs_meta *m, const struct sl_ctrs_type *t,
				const uint64_t *vals, void *arg);
int gw_names_topic_slot(uint32_t id, gw_topic_slot_fn fn, void *arg);

/* ---- sluice-control's admin socket (gw_ctl.c) ---- */

/* The dataplane instance NAME of --shm @shm (NAME or SL_RUN_DIR/NAME/shm.sock). */
void gw_instance_of(const char *shm, char *out, size_t cap);
/* Talk to the sluice-control of the instance of --shm @shm. */
void gw_ctl_open(const char *shm);
/* Create consumer group @group of topic @topic on MQTT user @user's behalf
 * (group.create with for_user; waits up to 2 s, and up to 300 ms more for
 * a topic created a moment ago to reach sluice-control). 0 (created now or
 * already there), -EPERM (the user may not: no admin on the topic),
 * -ENOENT (no such topic), or -errno (no sluice-control, no answer). */
int gw_ctl_group_create(const char *user, const char *topic, const char *group);

/* ---- MQTT packets in (gw_mqtt.c, gw_connect.c, gw_pubin.c, gw_sub.c) ---- */

/* Handle one decoded packet of @c. */
void gw_mqtt_handle(struct gw_conn *c, const struct sl_mqtt_packet *p);
/* A decode failure (negated reason) of @c's stream. */
void gw_mqtt_bad(struct gw_conn *c, int rc, uint8_t type);
void gw_connect(struct gw_conn *c, const struct sl_mqtt_connect *k);
void gw_disconnect_in(struct gw_conn *c, const struct sl_mqtt_disconnect *d);
/* PUBLISH in. Returns 0, or -EAGAIN when the broker's ring is full and the
 * packet must be read again later (reading stops). */
int gw_pubin(struct gw_conn *c, const struct sl_mqtt_publish *p);
void gw_pubrel_in(struct gw_conn *c, uint16_t pkt_id);
/* The broker answered a publish of session @s. */
void gw_pubin_settled(struct gw_sess *s, uint16_t pkt_id, uint8_t qos, uint16_t error);
void gw_subscribe(struct gw_conn *c, const struct sl_mqtt_subscribe *k);
void gw_unsubscribe(struct gw_conn *c, const struct sl_mqtt_subscribe *k);
/* Make subscription @filter of a session read back from the state log
 * again (opts: bit 0 No Local, 1 Retain As Published, 2-3 Retain
 * Handling), as SUBSCRIBE does but without retained messages. Returns the
 * SUBACK reason code it would have had. */
uint8_t gw_sub_restore(struct gw_sess *s, const char *filter, uint16_t flen, uint8_t qos,
		       uint8_t opts, uint32_t sub_id);
/* Drop every subscription of @s (its patterns and groups). */
void gw_sub_drop_all(struct gw_sess *s);
/* A broker delivery on user @u's client: fan it out. */
void gw_fanout(struct gw_user *u, const struct sl_message *msg);
/* Fan out the deliveries parked for want of a topic name, when found. */
void gw_fanout_parked(void);
/* Are deliveries parked (the loop must come back for them)? */
bool gw_fanout_waiting(void);
/* Build a gateway message from a broker delivery (NULL: dropped, counted). */
struct gw_msg *gw_msg_from_sluice(const struct sl_message *msg, const char *topic, uint16_t tlen);
/* Build the Sluice headers of @r into @h (SL_MAX_HDRS), their values
 * in @scratch (SL_MAX_HDRS_LEN bytes); returns the count. */
unsigned gw_pub_headers(const struct gw_pubreq *r, struct sl_header *h, uint8_t *scratch);

/* ---- MQTT 5 property blocks (gw_props.c) ---- */
/* Copy from raw block @in (@len bytes, decoded already) the properties a
 * PUBLISH forwards to subscribers (payload format, content type, response
 * topic, correlation data, user properties) to @out (room for @len).
 * Returns the bytes written. */
uint32_t gw_props_forwardable(uint8_t *out, const uint8_t *in, uint32_t len);
/* Walk raw block @in: returns 1 with the property's id and its bytes
 * (value without the id) in *@v / *@vlen, 0 at the end, -1 if malformed. */
int gw_props_next(const uint8_t *in, uint32_t len, uint32_t *off, uint8_t *id,
		  const uint8_t **v, uint32_t *vlen);
/* Write variable byte integer @x at @p: returns its length (1..4). */
unsigned gw_varint_put(uint8_t *p, uint32_t x);
unsigned gw_varint_len(uint32_t x);

/* ---- retained (gw_retain.c) ---- */
int gw_retain_open(const char *dir);
/* Store @m (refs taken) as the retained message of its topic, or delete
 * the topic's with an empty payload. */
void gw_retain_set(struct gw_msg *m);
/* Give the retained messages matching @sub to @s. */
void gw_retain_deliver(struct gw_sess *s, const struct gw_sub *sub);
void gw_retain_flush(void);
void gw_retain_close(void);

/* ---- persistent sessions on the journal (gw_persist.c) ---- */
/* Read STATE_DIR/sessions-NAME.log back (dormant sessions) and rewrite it. */
int gw_persist_open(const char *dir);
/* At shutdown, before the sessions are freed (they stay in the log). */
void gw_persist_close(void);
/* Timers: cursors that moved to the log, fdatasync, dormant expiry. */
void gw_persist_tick(uint64_t now_ns);
/* CONNECT of @s (before CONNACK): take up its dormant session when Clean
 * Start is 0 and the user is the same, else drop it. Returns Session
 * Present. */
bool gw_persist_restore(struct gw_sess *s, bool clean_start, bool present);
/* After CONNACK: log the session, replay its durable topics. */
void gw_persist_resume(struct gw_sess *s);
/* The client went away (the session stays). */
void gw_persist_detach(struct gw_sess *s);
/* The session ends: out of the log. */
void gw_persist_forget(struct gw_sess *s);
/* A subscription of @s was made or changed / is being removed. */
void gw_persist_sub(struct gw_sess *s, const struct gw_sub *sb);
void gw_persist_unsub(struct gw_sess *s, const struct gw_sub *sb);
/* The fan-out of one delivery: begin, per matching session take (0: give
 * it, with *@cur to pass to gw_persist_taken; -1: not for it), end. */
struct gw_pfan {
	struct gw_utop *ut;
	bool replay;
};
void gw_persist_fan_begin(struct gw_user *u, const struct sl_message *msg, struct gw_pfan *pf);
int gw_persist_fan_take(struct gw_sess *s, const struct sl_message *msg, const struct gw_pfan *pf,
			struct gw_cur **cur, bool *dup);
void gw_persist_taken(struct gw_cur *c, uint64_t seq, uint8_t qos);
void gw_persist_fan_end(const struct sl_message *msg, const struct gw_pfan *pf);
struct gw_cur *gw_persist_cur_of(struct gw_sess *s, uint32_t tid);
/* The client acknowledged @m (PUBACK, PUBREC). */
void gw_persist_acked(struct gw_sess *s, const struct gw_msg *m);
/* The user's client reconnected to a (maybe restarted) broker. */
void gw_persist_user_reset(struct gw_user *u);
void gw_persist_user_free(struct gw_user *u);
/* Sessions read back and not taken up yet. */
uint32_t gw_persist_dormant(void);

/* ---- the process (main.c, gw_loop.c) ---- */
struct gw {
	struct gw_conf conf;
	int ep;		/* epoll */
	int lfd;	/* listening socket */
	int tlfd;	/* listening socket for TLS, -1 none */
	uint64_t now_ns;
	uint32_t n_conns;
	uint32_t next_conn_id;
	uint32_t next_sess_id;
	struct gw_conn *flush;	  /* connections with bytes to send */
	struct gw_conn *all;	  /* every connection */
	bool reap;		  /* some connection is DEAD */
	uint32_t n_blocked;	  /* connections with rd_blocked */
	volatile int stop;
};

extern struct gw gw;

#define GW_LOG(...)                                                  \
	do {                                                         \
		if (gw.conf.verbose)                                 \
			fprintf(stderr, "sluice-mqtt: " __VA_ARGS__); \
	} while (0)

int gw_loop_init(void);
/* Add doorbell @fd to the loop's epoll set (woken, the loop polls). */
int gw_loop_watch_bell(int fd);
int gw_loop_run(void);
void gw_loop_fini(void);
/* Mark @c as having bytes to send this iteration. */
void gw_conn_want_flush(struct gw_conn *c);
void gw_conn_reap(void);
/* Read and handle @c's input (also to resume a blocked connection). */
void gw_conn_input(struct gw_conn *c);
/* Handle the bytes already in @c's rx buffer. */
void gw_conn_parse(struct gw_conn *c);
/* Retry the connections whose reading stopped on a full broker ring. */
void gw_conn_unblock_all(void);

#endif /* SLUICE_GW_H */
