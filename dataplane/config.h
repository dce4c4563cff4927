/* SPDX-License-Identifier: BSD-3-Clause */
/* Dataplane configuration: the nic-configs/ file format, parsed without EAL. */

#ifndef SLUICE_DP_CONFIG_H
#define SLUICE_DP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include <common/policy.h>

#define SL_CONF_MAX_PORTS 8
#define SL_CONF_MAX_WORKERS 32
#define SL_CONF_MAX_TOPICS 64 /* topics pre-declared in the file */
#define SL_CONF_STR 256

enum sl_idle_kind {
	SL_IDLE_BUSY = 0, /* spin with pause: lowest latency, holds the core */
	SL_IDLE_BACKOFF,  /* spin, then sleep up to idle_max_us: shares the core */
};

#define SL_CONF_MAX_RULES 32

/* "pattern=policy": pattern is a topic name, or a prefix ending in '*'. */
struct sl_conf_rule {
	char pattern[208];
	int policy; /* enum sl_durability or enum sl_backpressure */
};

struct sl_conf_port {
	char vdev[SL_CONF_STR];	 /* EAL --vdev argument, or "" for a PCI port */
	char pci[32];		 /* PCI address for -a, or "" for a virtual port */
	uint32_t ip;		 /* IPv4 address the port answers for, network order */
	uint16_t udp_port;	 /* Sluice UDP port, host order */
	uint16_t rx_queues;
	uint16_t rx_desc;
	uint16_t tx_desc;
	uint8_t rss;		 /* spread flows over rx queues with RSS */
	uint8_t promisc;
};

struct sl_conf_worker {
	uint32_t lcore;
	uint16_t port;
	uint16_t queue;
};

/*
 * High availability (section "ha", docs/REPLICATION.md, docs/HA.md). With
 * peer unset the dataplane is a single node (role SL_HA_ROLE_SINGLE) and
 * nothing below applies.
 */
struct sl_conf_ha {
	uint32_t peer;		 /* ha.peer: the peer dataplane's port0 IPv4, network order; 0 none */
	uint32_t service_ip;	 /* ha.service_ip: answered only while primary, network order; 0 none */
	uint16_t repl_port;	 /* ha.repl_port: replication and pair heartbeats, host order */
	uint8_t encrypt;	 /* ha.encrypt: frames encrypted too, not only authenticated */
	uint8_t dr;		 /* ha.dr: this node is a DR replica of the pair (docs/HA.md) */
	uint32_t hb_ms;		 /* ha.hb_ms: heartbeat period, both ways */
	uint32_t detect_ms;	 /* ha.detect_ms: peer silence that counts as dead */
	uint32_t lease_ms;	 /* ha.lease_ms: L, the primary's lease */
	uint32_t sync_replicas;	 /* ha.sync_replicas: replicas a sync ack waits for (0: none) */
	char key[SL_CONF_STR];	 /* ha.key: file with the pair key (64 hex digits) */
	char node[64];		 /* ha.node: this node's name ("": the instance name) */
	uint32_t dr_peer;	 /* ha.dr_peer: pair member: the DR replica's port0 IPv4; 0 none */
	uint32_t peer2;		 /* ha.peer2: DR replica: the pair's other member; 0 none */
};

struct sl_conf {
	char name[64];		 /* instance name: EAL file prefix and telemetry */
	char eal_args[SL_CONF_STR]; /* extra EAL arguments */
	uint32_t main_lcore;
	enum sl_idle_kind idle;
	uint32_t idle_max_us;
	uint32_t idle_spin;	 /* backoff: empty polls before the first sleep */
	uint16_t burst;
	uint32_t mbufs;		 /* per mempool */
	uint32_t mbuf_cache;
	uint32_t ring_size;	 /* per-worker handoff ring */
	uint32_t max_topics;
	uint32_t hist_topics;	 /* topics with latency histograms (0: none) */
	uint32_t max_subscribers; /* per topic */
	uint32_t max_sessions;	 /* per worker */
	uint32_t heartbeat_ms;
	uint32_t session_timeout_ms;
	uint32_t max_producers;	 /* producer registry (main lcore) */
	uint32_t producer_idle_s; /* a producer or dedup entry unused this long goes */
	uint32_t producer_topics; /* per worker: (producer, topic) dedup entries */
	uint8_t auto_create_topics;
	uint8_t auth_required;	 /* until sluice-control sets the policy */
	uint8_t aes_gcm_off;	 /* aes_gcm = off: sessions seal with ChaCha20-Poly1305 only */
	uint8_t no_huge;
	uint32_t memory_mb;	 /* with no_huge */
	char journal_dir[SL_CONF_STR]; /* one subdirectory per journaled topic */
	enum sl_durability durability; /* default policy for topics */
	uint32_t segment_mb;
	uint32_t capacity_mb;	 /* per topic journal; 0 = unlimited */
	uint32_t retain_mb;	 /* per topic; 0 = keep by size */
	uint32_t retain_s;	 /* per topic; 0 = keep by age */
	uint32_t async_lag_ms;	 /* async topics persist at least this often */
	uint32_t rate_limit;	 /* publishes per second per session; 0 = none */
	uint32_t retransmit_window; /* messages kept per topic for NAKs (default and
				     * largest per-topic window); 0 = none */
	uint32_t retransmit_bytes; /* mbuf bytes the window holds, per worker */
	uint32_t nak_rate;	 /* retransmitted messages per second per subscription */
	uint32_t status_idle_us; /* STATUS this long after a topic's last delivery */
	uint32_t udp_window;	 /* initial credit of a UDP subscription, messages */
	uint32_t bp_hold_ms;	 /* longest a UDP subscriber without credit holds a
				  * block topic before it is cut off */
	uint32_t max_message;	 /* topics' default largest message, bytes */
	uint32_t reassembly_bytes; /* per worker: large messages' arena */
	uint32_t reassembly_session_bytes; /* per session: bytes in reassembly */
	uint32_t reassembly_ms;	 /* a message's pieces all arrive within this */
	uint16_t n_rules;
	struct sl_conf_rule rules[SL_CONF_MAX_RULES];
	enum sl_backpressure backpressure; /* default policy for topics */
	uint16_t n_bp_rules;
	struct sl_conf_rule bp_rules[SL_CONF_MAX_RULES];
	uint8_t shm;		 /* serve shared-memory clients */
	uint32_t shm_max_clients;
	uint32_t shm_ring_kb;	 /* each ring; power of two */
	char shm_group[64];	 /* group owning the socket directory, "" = root's */
	uint8_t shm_huge;	 /* client regions on huge pages when free ones exist */
	struct sl_conf_ha ha;	 /* [ha]: a pair member (docs/HA.md); peer 0: single node */
	uint16_t n_ports;
	uint16_t n_workers;
	uint16_t n_topics;
	struct sl_conf_port ports[SL_CONF_MAX_PORTS];
	struct sl_conf_worker workers[SL_CONF_MAX_WORKERS];
	char topics[SL_CONF_MAX_TOPICS][208];
};

/* Fill @c with the built-in defaults (no ports, no workers). */
void sl_conf_defaults(struct sl_conf *c);

/*
 * Parse a configuration file into @c (call sl_conf_defaults first).
 * On error returns -EINVAL (or -errno from fopen) and writes a message naming
 * the file, the line and the problem into @err (@errlen bytes).
 * Not thread-safe with respect to @c.
 */
int sl_conf_load(struct sl_conf *c, const char *path, char *err, size_t errlen);

/*
 * Apply one "section.key=value" override (sections: dataplane, portN, workerN)
 * or "key=value" for the dataplane section. Same error contract as sl_conf_load.
 */
int sl_conf_set(struct sl_conf *c, const char *assignment, char *err, size_t errlen);

/* Check cross-field consistency after loading and overrides. Same contract. */
int sl_conf_validate(const struct sl_conf *c, char *err, size_t errlen);

/* The durability policy for topic @name (@len bytes): first matching rule,
 * else the default. */
enum sl_durability sl_conf_durability(const struct sl_conf *c, const char *name, size_t len);

/* The back-pressure policy for topic @name: first matching rule, else the default. */
enum sl_backpressure sl_conf_backpressure(const struct sl_conf *c, const char *name, size_t len);

/* Print the effective configuration in the file format. */
void sl_conf_dump(const struct sl_conf *c, FILE *out);

#endif /* SLUICE_DP_CONFIG_H */
