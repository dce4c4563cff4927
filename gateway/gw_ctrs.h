/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's counters: one list, kept in a counters file sluice-control reads. */

#ifndef SLUICE_GW_CTRS_H
#define SLUICE_GW_CTRS_H

#include <stdint.h>

/*
 * X(name, kind): kind C a count (has a rate, Prometheus _total), G a gauge.
 * The order is the file's value order; append only. docs/MQTT.md lists
 * what each one counts.
 */
#define GW_CTR_LIST(X)                                                                  \
	X(connections, G)       /* MQTT connections open now */                         \
	X(sessions, G)          /* MQTT sessions held (connected, away, read back) */ \
	X(accepted, C)          /* TCP connections accepted */                          \
	X(refused_max_conns, C) /* closed at accept: max-connections reached */         \
	X(connects, C)          /* CONNACK 0 sent */                                    \
	X(connect_refused, C)   /* CONNACK with a refusal sent */                       \
	X(auth_failed, C)       /* of those, bad username or password */                \
	X(takeovers, C)         /* sessions taken over by a new CONNECT (0x8E) */       \
	X(keepalive_expired, C) /* closed: nothing received for 1.5 keep-alive */       \
	X(connect_timeout, C)   /* closed: no CONNECT in connect-timeout-ms */          \
	X(disconnects, C)       /* connections closed, any reason */                    \
	X(rx_bytes, C)                                                                  \
	X(tx_bytes, C)                                                                  \
	X(pub_in, C)            /* PUBLISH packets received */                          \
	X(pub_in_qos0, C)                                                               \
	X(pub_in_qos1, C)                                                               \
	X(pub_in_qos2, C)                                                               \
	X(pub_in_dup, C)        /* QoS 2 DUP of a held packet id: not published again */ \
	X(pub_in_denied, C)     /* refused by the broker's ACL (0x87) */                \
	X(pub_in_refused, C)    /* refused by the broker for another reason */          \
	X(pub_in_blocked, C)    /* times a socket's reading stopped: broker ring full */ \
	X(pub_out, C)           /* PUBLISH packets sent to MQTT clients */              \
	X(pub_out_dropped, C)   /* deliveries dropped: client too slow, queue full */   \
	X(pub_out_expired, C)   /* deliveries dropped: Message Expiry passed */         \
	X(pub_out_retried, C)   /* QoS 1/2 sent again (DUP) after a reconnect */        \
	X(deliveries, C)        /* broker deliveries taken by the gateway */            \
	X(unknown_topic, C)     /* deliveries of a topic whose name was not found */    \
	X(subscribes, C)        /* SUBSCRIBE packets */                                 \
	X(sub_refused, C)       /* filters refused in SUBACK (ACL, invalid, limits) */  \
	X(unsubscribes, C)                                                              \
	X(retained, G)          /* retained messages stored */                          \
	X(retained_sent, C)     /* retained messages given to new subscriptions */      \
	X(wills_sent, C)        /* will messages published */                           \
	X(slow_disconnects, C)  /* clients disconnected: tx queue over twice tx-max */  \
	X(bad_malformed, C)     /* malformed packets (0x81 or close) */                 \
	X(bad_protocol, C)      /* protocol errors (0x82 or close) */                   \
	X(bad_version, C)       /* unsupported protocol level (0x84 / 1) */             \
	X(bad_before_connect, C) /* a packet other than CONNECT first */               \
	X(bad_too_large, C)     /* packets over max-packet (0x95) */                    \
	X(bad_topic, C)         /* invalid topic name: wildcards, mapping (0x90) */     \
	X(bad_inflight, C)      /* inbound QoS 2 over Receive Maximum (0x93) */         \
	X(bad_alias, C)         /* invalid topic alias (0x94) */                        \
	X(queue_full, C)        /* messages dropped: max-queued reached */              \
	X(loop_iterations, C)                                                           \
	X(loop_sleeps, C)       /* epoll waits that slept (idle) */                     \
	X(user_sessions, G)     /* pooled libsluice sessions (one per user) */          \
	X(msgs_in_use, G)       /* message buffers referenced */                        \
	X(deliveries_lost, C)   /* broker sequences never delivered (SL_EV_GAP): the */ \
	                        /* dataplane dropped them, e.g. its ring full (drop) */ \
	X(client_dropped, C)    /* deliveries libsluice dropped (no memory for its stash) */ \
	X(names_asked, C)       /* topic names the broker gave (RESOLVE by id) */       \
	X(names_area, C)        /* ... read from the counters area (an older broker) */ \
	X(sess_restored, C)     /* persistent sessions read back from the state log */ \
	X(sess_taken_up, C)     /* of those, taken up again by their client */      \
	X(persist_skipped, C)   /* durable-topic messages not queued for an away */ \
				/* session: the journal keeps them */           \
	X(replays, C)           /* journal replays asked for resumed sessions */    \
	X(replay_failed, C)     /* replays the broker refused (busy, gone) */       \
	X(replayed, C)          /* messages given to a session from a replay */     \
	X(cursor_behind, C)     /* a session's queue full: its durable topic */     \
				/* replayed later rather than dropped */        \
	X(redelivered, C)       /* of those, maybe sent before a restart (DUP) */

enum gw_ctr {
#define GW_CTR_ENUM(n, k) GW_C_##n,
	GW_CTR_LIST(GW_CTR_ENUM)
#undef GW_CTR_ENUM
	GW_C__N
};

/* The values, written by the loop thread only. */
extern uint64_t gw_ctr[GW_C__N];

#define GW_INC(n) (gw_ctr[GW_C_##n]++)
#define GW_ADD(n, v) (gw_ctr[GW_C_##n] += (v))
#define GW_DEC(n) (gw_ctr[GW_C_##n]--)

/*
 * Create the counters file /run/sluice/INSTANCE/mqtt-NAME.ctrs (the layout
 * of common/ctrs.h: one type "mqtt", one slot keyed NAME, owner = pid), so
 * sluice-control lists it under "gateways" in stats and in /metrics.
 * @instance is the dataplane's instance (--shm). Returns 0 or -errno (the
 * gateway runs without the file then, and says so).
 */
int gw_ctrs_open(const char *instance, const char *name);

/* Copy gw_ctr into the file (once in a while: it is a plain store each). */
void gw_ctrs_publish(uint64_t now_ns);

/* Remove the file (at exit). */
void gw_ctrs_close(void);

/* Name of counter @i (for logs and tests). */
const char *gw_ctr_name(unsigned i);

#endif /* SLUICE_GW_CTRS_H */
