/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt-loadgen internals: the run's configuration, its connections and the calls
 * between the option parser, the event loop, the packet glue over the gateway's codec
 * and the report. */

#ifndef SLUICE_MQTT_LOADGEN_H
#define SLUICE_MQTT_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "mqtt_codec.h"

#define MLG_NAME "sluice-mqtt-loadgen"
#define MLG_MAX_CLIENTS 1000u	     /* publishers, subscribers: each a TCP connection */
#define MLG_MAX_SESSIONS 100000u     /* --sessions */
#define MLG_MAX_RATE 1e7	     /* total msgs/s; far above what one thread sends over TCP */
#define MLG_MAX_SIZE (1u << 20)	     /* payload bytes */
#define MLG_IN_BUF (256u << 10)	     /* read buffer per connection: many packets per read */
#define MLG_OUT_HIGH (256u << 10)    /* a publisher stops encoding above this many unsent bytes */
#define MLG_BURST 256u		     /* messages a publisher encodes per loop pass, at most */
#define MLG_PACKET_MAX (MLG_MAX_SIZE + 1024u) /* largest packet we accept from the broker */
#define MLG_STALL_NS (2ull * 1000000000ull)   /* drain: give up after this long without progress */
#define MLG_CONNECT_NS (10ull * 1000000000ull) /* connect + CONNACK + SUBACK, per connection */
#define MLG_NS_PER_S 1000000000ull

/* Start of every payload; the rest, up to --size, is zero padding. Host byte order: the
 * same process writes and reads it (one clock, CLOCK_MONOTONIC). */
struct mlg_payload {
	uint32_t pub;	   /* publisher index */
	uint32_t run;	   /* run id, so a message of another run is not counted */
	uint64_t index;	   /* message index within the publisher */
	uint64_t sched_ns; /* intended send time: latency counts from here, not from the write */
};
_Static_assert(sizeof(struct mlg_payload) == 24, "payload header is 24 bytes");
_Static_assert(offsetof(struct mlg_payload, index) == 8, "index at 8");
_Static_assert(offsetof(struct mlg_payload, sched_ns) == 16, "sched_ns at 16");

struct mlg_conf {
	const char *host;
	const char *port;
	unsigned version;   /* MQTT protocol level: 4 (3.1.1) or 5 */
	unsigned pubs;
	unsigned subs;
	unsigned qos;
	uint32_t size;
	double rate;	    /* total msgs/s across publishers; 0: as fast as the window allows */
	double duration_s;  /* measured part, after the warm-up */
	double warmup_s;
	uint64_t drain_ms;  /* after the last send: wait for deliveries and acks, at most */
	uint32_t window;    /* max rate: messages a publisher runs ahead of its slowest subscriber */
	uint32_t inflight;  /* QoS 1/2: unacknowledged publishes per publisher, at most */
	const char *topic;  /* publisher k publishes TOPIC/k; subscribers take TOPIC/+ */
	int one_topic;	    /* --one-topic: every publisher on TOPIC/0, subscribed exactly */
	const char *client_id; /* prefix of every client id */
	const char *username;
	const char *password;
	uint16_t keepalive;
	unsigned sessions;  /* --sessions N: make N idle persistent sessions instead of a load */
	int sessions_clear; /* --sessions-clear: end the N sessions a --sessions run made */
	const char *sessions_filter; /* --sessions-filter: what each session subscribes to */
	unsigned parallel;  /* --sessions: connections in flight at once */
	int json;
	int quiet;
};

/* One TCP connection to the broker, publisher, subscriber or session maker. */
enum mlg_role { MLG_PUB, MLG_SUB, MLG_SESS };
enum mlg_state { MLG_TCP, MLG_CONNACK, MLG_SUBACK, MLG_READY, MLG_CLOSED };

/* Indexes a subscriber saw of one publisher: a bit each, grown on demand. */
struct mlg_seen {
	uint64_t *bits;
	uint64_t nwords;
	uint64_t count;	   /* distinct indexes */
	uint64_t next_min; /* highest index seen + 1: the max-rate window reads it */
};

struct mlg_conn {
	int fd;
	enum mlg_role role;
	enum mlg_state state;
	unsigned idx;
	uint64_t started_ns;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool want_out; /* EPOLLOUT registered */
	uint32_t recv_max; /* the broker's Receive Maximum (v5), else 65535 */
	/* publisher */
	uint64_t next;	   /* index of the next message to encode */
	uint64_t sent;	   /* encoded into the connection's buffer, written out as the socket takes it */
	uint64_t acked;	   /* PUBACK (QoS 1) or PUBCOMP (QoS 2) with success */
	uint64_t nacked;   /* v5 reason code >= 0x80 */
	uint32_t inflight;
	uint16_t next_pid;
	uint8_t *pid_state; /* per packet id: 0 free, 1 awaiting PUBACK/PUBREC, 2 awaiting PUBCOMP */
	uint64_t last_ping_ns;
	/* subscriber */
	struct mlg_seen *seen; /* one per publisher */
	uint64_t received, dups, foreign;
	uint8_t *qos2_in;      /* QoS 2 in: packet ids awaiting PUBREL */
};

struct mlg_run {
	const struct mlg_conf *cf;
	int ep;
	uint32_t run_id;
	struct mlg_conn *pubs, *subs;
	uint64_t t0_ns;		/* schedule origin */
	uint64_t warm_end_ns;	/* latency and rates count from here */
	uint64_t send_end_ns;	/* no message is due at or after this */
	uint64_t ns_per_msg;	/* per publisher; 0: max rate */
	uint64_t quota;		/* rate mode: messages publisher k < quota_rem sends; others one less */
	unsigned quota_rem;
	struct sl_hist lat;	/* publish (intended) -> deliver, measured messages */
	struct sl_hist late;	/* actual write into the socket buffer - intended send time */
	uint64_t sent_win, acked_win, recv_win; /* inside [warm_end, send_end) */
	uint64_t errors;	/* protocol errors, refused CONNECT/SUBSCRIBE, resets */
	uint64_t connect_failures;
	uint64_t stalled_ns;	/* end of the drain: how long nothing had moved */
	double wall_s, cpu_s, send_s;
	const char *fail;	/* first fatal error, for the report */
	char fail_buf[160];
};

/* --- mqtt_loadgen_wire.c: packets through the gateway's codec (gateway/mqtt_codec.h) --- */

/* What the loop needs of one packet from the broker. */
struct mlg_pkt {
	unsigned type;	    /* MQTT control packet type, 1..15 */
	unsigned flags;	    /* low nibble of the fixed header */
	uint16_t pid;	    /* packet identifier where the type has one */
	unsigned rc;	    /* CONNACK return/reason code, SUBACK's first code, ack reason */
	bool session_present;
	uint32_t recv_max;  /* CONNACK (v5): Receive Maximum, 0 when absent */
	unsigned qos;	    /* PUBLISH */
	const uint8_t *payload;
	size_t payload_len;
};

/*
 * Decode the first packet of @buf[0..@len). Returns its length in bytes (> 0) and fills
 * @p, 0 when more bytes are needed, or -EPROTO / -EMSGSIZE for what cannot be a packet.
 */
long mlg_wire_decode(const struct mlg_conf *cf, const uint8_t *buf, size_t len,
		     struct mlg_pkt *p);

/* Each encoder writes at most @cap bytes at @buf and returns the length, or -ENOSPC. */
long mlg_wire_connect(const struct mlg_conf *cf, uint8_t *buf, size_t cap, const char *client_id,
		      bool clean, uint32_t session_expiry);
long mlg_wire_subscribe(const struct mlg_conf *cf, uint8_t *buf, size_t cap, uint16_t pid,
			const char *filter, unsigned qos);
long mlg_wire_publish(const struct mlg_conf *cf, uint8_t *buf, size_t cap, const char *topic,
		      unsigned qos, uint16_t pid, const uint8_t *payload, size_t len);
/* SL_MQTT_PUBACK, PUBREC, PUBREL or PUBCOMP (@type) for @pid, success. */
long mlg_wire_ack(const struct mlg_conf *cf, uint8_t *buf, size_t cap, unsigned type,
		  uint16_t pid);
long mlg_wire_disconnect(const struct mlg_conf *cf, uint8_t *buf, size_t cap);
long mlg_wire_pingreq(const struct mlg_conf *cf, uint8_t *buf, size_t cap);

/* --- mqtt_loadgen_run.c --- */
int mlg_run_load(struct mlg_run *r);
int mlg_run_sessions(struct mlg_run *r);

/* --- mqtt_loadgen_report.c --- */
/* Print the load run's report (text or one JSON line); returns the exit status:
 * 0, 3 when messages were lost, 1 when the run failed. */
int mlg_report(struct mlg_run *r);
int mlg_report_sessions(struct mlg_run *r, unsigned ok, double elapsed_s);

/* --- mqtt_loadgen.c --- */
uint64_t mlg_now_ns(void);

#endif /* SLUICE_MQTT_LOADGEN_H */
