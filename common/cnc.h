/* SPDX-License-Identifier: BSD-3-Clause */
/* The command-and-control region shared by sluice-control and the dataplane. */

#ifndef SLUICE_CNC_H
#define SLUICE_CNC_H

#include <stddef.h>
#include <stdint.h>

#include <common/paths.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One file, mapped shared by both processes (the model is Aeron's CnC file):
 * the dataplane creates it at start (SL_RUN_DIR/NAME/cnc, mode 0600) and
 * owns it; sluice-control attaches, and may die and re-attach at any time
 * while the dataplane keeps forwarding.
 *
 *   header       struct sl_cnc_hdr: magic, version, layout, liveness
 *   commands     SPSC ring, control -> dataplane, fixed-size entries
 *   results      SPSC ring, dataplane -> control: one per command, in order
 *   counters     the counters area (common/ctrs.h, docs/COUNTERS.md): labelled
 *                64-bit values, refreshed by the dataplane every
 *                SL_CNC_STATS_PERIOD_MS; sized when the region is created
 *
 * Every index and length read from the region is bounds-checked by the
 * reader: the other process is trusted to be sluice, not to be bug-free.
 * Version: a reader refuses a region whose magic or version differs.
 */

#define SL_CNC_MAGIC 0x31434e4345434c53ull /* "SLCECNC1" */
#define SL_CNC_VERSION 7u /* 2: the counters area replaced the JSON stats text;
			   * 3: users' second key and encryption policies;
			   * 4: consumer groups, the consume right, ACL group names;
			   * 5: partitioned topics (sl_cnc_topic.partitions);
			   * 6: latency histograms (counters area version 2);
			   * 7: the high-availability block (struct sl_cnc_ha) */
#define SL_CNC_RING_ENTRIES 256 /* power of two */
#define SL_CNC_CMD_SIZE 512
#define SL_CNC_STATS_PERIOD_MS 100

enum sl_cnc_cmd_type {
	SL_CNC_NOP = 0,
	SL_CNC_TOPIC_UPSERT = 1,  /* create a topic; on an existing one, set its spec but durability */
	SL_CNC_TOPIC_DELETE = 2,  /* delete a topic and its journal (answered once durable) */
	SL_CNC_USER_UPSERT = 3,	  /* add or change a user (id, name, key, flags) */
	SL_CNC_USER_DELETE = 4,	  /* remove a user: its sessions end */
	SL_CNC_ACL_SET = 5,	  /* set a user's permissions on a pattern (0: no entry) */
	SL_CNC_ACL_CLEAR = 6,	  /* remove all of a user's ACL entries */
	SL_CNC_AUTH_MODE = 7,	  /* open (no authentication) or required; open is
				   * refused (-EPERM) between SYNC_BEGIN and SYNC_END */
	SL_CNC_SET_IDLE = 8,	  /* worker idle strategy */
	SL_CNC_SYNC_BEGIN = 9,	  /* control (re)sends its whole state, staged ... */
	SL_CNC_SYNC_END = 10,	  /* ... and applied at once: users and ACLs not resent
				   * are dropped; a SYNC_BEGIN drops an unended one */
	SL_CNC_SET_RATE = 11,	  /* publishes per second per session; 0 = no limit */
	SL_CNC_TOPIC_UPDATE = 12, /* an existing topic's spec; -ENOENT if none, -EPERM for
				   * a different durability */
	SL_CNC_GROUP_UPSERT = 13, /* create a consumer group on a topic, or change an
				   * existing one's settings (-EPERM for a different
				   * durable flag: delete it first) */
	SL_CNC_GROUP_DELETE = 14, /* delete a group: its members get ERROR NO_GROUP, its
				   * state file goes (answered once durable) */
	SL_CNC_GROUP_RESET = 15,  /* move a group's position (reset_how, reset_arg); its
				   * unacknowledged set is dropped */
};

/* ACL permissions. */
#define SL_PERM_PUB (1u << 0)
#define SL_PERM_SUB (1u << 1)
#define SL_PERM_ADMIN (1u << 2) /* may create topics with RESOLVE */
#define SL_PERM_CONSUME (1u << 3) /* may join a consumer group of the topic (the
				   * entry's group names which; "" every group) */

/* User flags. */
#define SL_USER_F_ADMIN (1u << 0) /* may use sluicectl's admin verbs */
#define SL_USER_F_KEY2 (1u << 1)  /* key2 is valid too (key rollover) */

#define SL_CNC_NAME_LEN 208 /* topic names and patterns, NUL terminated */

/*
 * Back-pressure policy of a topic (struct sl_cnc_topic.backpressure): what
 * the dataplane does when a shared-memory subscriber's ring is full. 0 is
 * "not set": the dataplane applies its own configuration (its keys
 * backpressure and backpressure_rules), so a control process that predates
 * this field, and a state file without it, mean what they always meant.
 * Otherwise the value is 1 + the dataplane's enum sl_backpressure.
 */
#define SL_CNC_BP_DEFAULT 0    /* the dataplane's configured policy for the name */
#define SL_CNC_BP_DROP 1       /* that subscriber misses the message (a gap) */
#define SL_CNC_BP_BLOCK 2      /* held; publishers held back until it has room */
#define SL_CNC_BP_DISCONNECT 3 /* that subscriber is disconnected with a notice */

/*
 * Retransmit window of a topic (struct sl_cnc_topic.retransmit_window): 0,
 * which a control process that predates the field writes, leaves it to the
 * dataplane's retransmit_window; otherwise 1 + the window in messages (so 1
 * is "no window"), at most 1 + SL_CNC_RETX_MAX.
 */
#define SL_CNC_RETX_DEFAULT 0u
#define SL_CNC_RETX_MAX 65535u

#define SL_CNC_PAIR_LEN 20 /* = SL_PAIR_NAME_LEN (common/proto.h) */

struct sl_cnc_topic {
	char name[SL_CNC_NAME_LEN];
	uint8_t durability;   /* 0 none, 1 async, 2 sync */
	uint8_t backpressure; /* SL_CNC_BP_* */
	uint8_t encryption;   /* SL_CNC_ENC_*: what UDP sessions must use for it */
	uint8_t reserved;
	uint32_t retransmit_window; /* SL_CNC_RETX_DEFAULT, or 1 + messages (1: none) */
	uint64_t retain_bytes;	 /* 0 = the dataplane's default */
	uint64_t retain_age_s;	 /* 0 = the dataplane's default */
	uint64_t capacity_bytes; /* 0 = the dataplane's default */
	uint32_t max_message;	 /* largest message, bytes; 0 = the dataplane's max_message */
	/* Version 5: 0 for an ordinary topic; N (1..SL_MAX_PARTITIONS) for the
	 * name of a partitioned topic, whose partitions are the ordinary topics
	 * NAME#0 .. NAME#N-1 (created first). Such a name takes no messages of
	 * its own: it answers RESOLVE with its partition map (PROTOCOL.md 7.4). */
	uint16_t partitions;
	uint16_t reserved2;
	/* Scale-out (docs/SCALEOUT.md): the topic moved to another pair, which
	 * RESOLVE, SUBSCRIBE and PUBLISH of it are told (ERROR SL_E_MOVED).
	 * All zero (what older senders write): not moved, or moved back. */
	uint8_t moved_addr[4];	/* that pair's service IPv4 address, network order */
	uint16_t moved_port;	/* its UDP port; 0: not moved */
	uint16_t reserved3;
	uint32_t moved_epoch;	/* placement epoch */
	char moved_pair[SL_CNC_PAIR_LEN]; /* NUL padded */
};

struct sl_cnc_user {
	uint16_t uid;	 /* 1 .. SL_CNC_MAX_USERS - 1, chosen by control */
	uint16_t flags;	 /* SL_USER_F_* */
	uint8_t encryption; /* SL_CNC_ENC_*: what this user's UDP sessions use */
	uint8_t reserved[3];
	char name[32];
	uint8_t key[32];
	uint8_t key2[32]; /* a second valid key (rollover), with SL_USER_F_KEY2 */
};

/* Encryption policy of a user or a topic (UDP sessions; shared memory is
 * private to the client's process and stays plaintext). */
#define SL_CNC_ENC_OPTIONAL 0 /* encrypted when the client asks (default) */
#define SL_CNC_ENC_OFF 1      /* never encrypted */
#define SL_CNC_ENC_REQUIRED 2 /* only encrypted sessions */

#define SL_CNC_MAX_USERS 256

#define SL_CNC_GROUP_NAME_LEN 32 /* group names: 1..31 bytes of [A-Za-z0-9._-], NUL padded */

struct sl_cnc_acl {
	uint16_t uid;
	uint16_t perms; /* SL_PERM_* */
	uint32_t reserved;
	/* Topic name or pattern: '.'-separated tokens; "*" matches one token,
	 * ">" as the last token matches one or more. */
	char pattern[SL_CNC_NAME_LEN];
	/* SL_PERM_CONSUME: the one group of the matching topics it covers, NUL
	 * padded; "" (all zero) covers every group. Other rights ignore it. An
	 * entry is still one per (uid, pattern): setting it again replaces it. */
	char group[SL_CNC_GROUP_NAME_LEN];
};

/* Consumer groups (docs/GROUPS.md, docs/CONTROL.md). */

#define SL_CNC_GROUP_F_DURABLE (1u << 0) /* position and unacknowledged set saved
					  * beside the topic's journal (journaled
					  * topics only) */
#define SL_CNC_GROUP_F_RETAIN (1u << 1)	 /* durable: retention keeps what the group
					  * still needs (else it gets a gap event) */

/* struct sl_cnc_group.reset_how (GROUP_RESET). */
#define SL_CNC_RESET_EARLIEST 1 /* the topic's earliest retained message */
#define SL_CNC_RESET_LATEST 2	/* after the topic's last message */
#define SL_CNC_RESET_SEQ 3	/* reset_arg: the next seq to offer */
#define SL_CNC_RESET_TIME 4	/* reset_arg: first message stored at or after this
				 * CLOCK_REALTIME ns (journaled topics) */

struct sl_cnc_group {
	char topic[SL_CNC_NAME_LEN];
	char name[SL_CNC_GROUP_NAME_LEN];
	char dead_letter[SL_CNC_NAME_LEN]; /* topic for dead letters; "" none: a
					    * dead letter is dropped and counted */
	uint8_t policy;		/* 1 round-robin, 2 least-outstanding, 3 key-affinity */
	uint8_t flags;		/* SL_CNC_GROUP_F_* */
	uint16_t reserved;
	uint32_t ack_wait_ms;	/* 0: no ack-wait redelivery */
	uint32_t max_deliveries; /* 0: no dead-lettering */
	uint32_t grace_ms;	/* a disconnected member's time to rejoin */
	uint32_t max_inflight;	/* 0: the dataplane's default */
	uint32_t max_blocked;	/* key affinity; 0: the dataplane's default */
	uint32_t reset_how;	/* GROUP_RESET: SL_CNC_RESET_* */
	uint32_t reserved2;
	uint64_t reset_arg;	/* GROUP_RESET: seq or ns */
};

struct sl_cnc_cmd {
	uint32_t type; /* enum sl_cnc_cmd_type */
	uint32_t len;  /* bytes of the payload used */
	uint64_t id;   /* increasing; echoed in the result */
	union {
		struct sl_cnc_topic topic;
		struct sl_cnc_user user;
		struct sl_cnc_acl acl;
		struct sl_cnc_group group;
		uint32_t value;	      /* AUTH_MODE: 0 open, 1 required; SET_IDLE; SET_RATE */
		uint64_t generation;  /* SYNC_BEGIN / SYNC_END */
		uint8_t raw[SL_CNC_CMD_SIZE - 16];
	} u;
};

_Static_assert(sizeof(struct sl_cnc_cmd) == SL_CNC_CMD_SIZE, "CnC command layout");

struct sl_cnc_result {
	uint64_t id;
	int32_t rc; /* 0 or -errno */
	uint32_t reserved;
	char message[112]; /* why, when rc < 0 */
};

/* Set @r's rc to @rc and its message (truncated to fit) from @fmt; returns @rc. */
int sl_cnc_say(struct sl_cnc_result *r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct sl_cnc_ring {
	/* Producer and consumer indices on their own cache lines: one writer
	 * each. Free-running; slot = index % SL_CNC_RING_ENTRIES. */
	uint64_t head; /* next slot the producer fills */
	uint8_t pad0[56];
	uint64_t tail; /* next slot the consumer reads */
	uint8_t pad1[56];
};

struct sl_cnc_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t total_size;
	uint64_t cmd_ring_off, cmd_off;	      /* ring indices, entries */
	uint64_t res_ring_off, res_off;
	uint64_t ctrs_off;		      /* struct sl_ctrs_hdr (common/ctrs.h) */
	int64_t dp_pid;
	uint64_t dp_start_ns;		      /* CLOCK_REALTIME */
	uint64_t dp_heartbeat_ns;	      /* refreshed by the dataplane */
	int64_t control_pid;		      /* 0 when none attached */
	uint64_t control_heartbeat_ns;	      /* refreshed by sluice-control */
	uint32_t auth_required;		      /* what the dataplane enforces now */
	uint32_t reserved;
	uint64_t ha_off;		      /* version 7: struct sl_cnc_ha */
	uint8_t pad[8];
};

/*
 * High availability (docs/HA.md): the state a pair member's sluice-control
 * (which talks to etcd) and its dataplane (which hears the peer) share. Each
 * word has one writer: the first half is written by sluice-control, the
 * second by the dataplane. Times are CLOCK_MONOTONIC ns (both processes run
 * on one host). A dataplane without a pair configured (no ha.peer) writes
 * role SL_HA_ROLE_SINGLE and ignores the control half.
 */
#define SL_HA_ROLE_SINGLE 0    /* no pair: acknowledges on its own authority */
#define SL_HA_ROLE_UNKNOWN 1   /* pair member, no role decided yet: serves nothing */
#define SL_HA_ROLE_PRIMARY 2   /* the leader of ctl_epoch: serves clients */
#define SL_HA_ROLE_STANDBY 3   /* follows the primary of ctl_epoch: applies its records */
#define SL_HA_ROLE_CANDIDATE 4 /* a standby that stopped its heartbeats to take over */
#define SL_HA_ROLE_FENCED 5    /* deposed: acknowledges nothing, serves no client */

struct sl_cnc_ha {
	/* Written by sluice-control, seqlock-style: it sets ctl_gen odd,
	 * writes the fields, then sets ctl_gen to the next even value
	 * (release); the dataplane reads ctl_gen (acquire), then the fields,
	 * then ctl_gen again, and applies only an even value read the same
	 * both times (an odd one: the fields are being written). */
	uint64_t ctl_gen;
	uint32_t ctl_role;	/* SL_HA_ROLE_*: what etcd says this node is */
	uint32_t ctl_epoch;	/* the leader epoch of that role */
	uint64_t ctl_ack_from_ns; /* a new primary acknowledges nothing before this:
				   * the deposed one's lease has run out by then */
	uint32_t ctl_solo_epoch;  /* == ctl_epoch: etcd records the standby out of sync
				   * in this epoch, so sync publishes are acknowledged
				   * without it; else they wait for its persist */
	uint32_t ctl_reserved;
	/* Renewed alone (no ctl_gen bump, relaxed: a single 8-byte store). */
	uint64_t ctl_etcd_ok_ns;  /* etcd confirmed this node the primary of ctl_epoch as
				   * of this time (taken before the request was sent) */
	uint64_t ctl_heartbeat_ns; /* sluice-control's HA loop is alive */
	uint8_t ctl_pad[16];
	/* Written by the dataplane (relaxed stores; each a single 8-byte word or
	 * a u32 pair that is read as one). */
	uint64_t dp_gen;	  /* the ctl_gen last applied */
	uint32_t dp_role;	  /* the role applied now */
	uint32_t dp_epoch;	  /* the epoch applied now */
	uint32_t dp_lease_ms;	  /* ha.lease_ms: L */
	uint32_t dp_detect_ms;	  /* ha.detect_ms: peer silence that counts as dead */
	uint64_t peer_heard_ns;	  /* last authenticated heartbeat from the peer */
	uint32_t peer_role;	  /* what that heartbeat said: role and epoch */
	uint32_t peer_epoch;
	uint64_t behind_since_ns; /* primary: since when sync publishes wait on a standby
				   * that does not answer (0: none waiting) */
	uint32_t caught_up;	  /* primary: the standby holds every record (live) */
	uint32_t fenced;	  /* primary: the lease ran out, acknowledgements stopped */
	uint64_t lag_records;	  /* primary: records the standby has not persisted */
	uint64_t lag_bytes;
	uint64_t catchup_done;	  /* standby: records applied since it (re)joined ... */
	uint64_t catchup_total;	  /* ... out of this many it was behind when it joined */
	/* Disaster recovery (in what was padding: zero from an older dataplane). */
	uint64_t dr_lag_records;  /* primary: records its DR replica has not persisted;
				   * DR replica: the last such report of its primary */
	uint64_t dr_lag_bytes;	  /* ... bytes (an estimate) */
	uint64_t dr_report_ms;	  /* DR replica: the primary's CLOCK_REALTIME (ms) when it
				   * made that report (0: none yet); primary: 0 */
	uint32_t dp_flags;	  /* SL_HA_DP_F_* */
	uint32_t dp_reserved;
	/* The replication worker's pass over what it had received, stamped
	 * every ha.hb_ms (in what was padding: 0 from an older dataplane).
	 * A standby's primary counts as silent only once this is later than
	 * peer_heard_ns + detect: a dataplane that has not run since then
	 * (this node starved of CPU) may hold its heartbeats unread. */
	uint64_t dp_polled_ns;
};
#define SL_HA_DP_F_DR (1u << 0)	     /* this dataplane is a DR replica (ha.dr) */
#define SL_HA_DP_F_DR_PEER (1u << 1) /* this pair member streams to a DR replica */

_Static_assert(sizeof(struct sl_cnc_ha) == 192, "CnC HA block layout");
_Static_assert(offsetof(struct sl_cnc_ha, dp_gen) == 64, "CnC HA block: dataplane half");
_Static_assert(offsetof(struct sl_cnc_ha, dr_lag_records) == 152, "CnC HA block: DR lag");
_Static_assert(offsetof(struct sl_cnc_ha, dp_polled_ns) == 184, "CnC HA block: polled stamp");

struct sl_cnc; /* a mapped region, either side */

/*
 * The run directory of instance @name (SL_RUN_DIR/NAME, mode 0750), created
 * if missing, its path in @out (@len bytes): where the region and the
 * shared-memory socket live. Returns 0, -EINVAL (bad name), -ENAMETOOLONG
 * or -errno.
 */
int sl_cnc_run_dir(const char *name, char *out, size_t len);

/*
 * Dataplane side: create (or replace) the region for instance @name, with a
 * counters area of @ctr_slots slots (formatted, no type defined yet), and
 * map it. Returns 0 or -errno.
 */
int sl_cnc_create(struct sl_cnc **out, const char *name, uint32_t ctr_slots);

/* As sl_cnc_create, the area with latency histograms for @hist_slots
 * topics written by @hist_workers workers (common/lathist.h). */
int sl_cnc_create_h(struct sl_cnc **out, const char *name, uint32_t ctr_slots,
		    uint32_t hist_slots, uint32_t hist_workers);

/*
 * Control side: map the region of a running dataplane @name. Returns 0,
 * -ENOENT (no dataplane of that name), -EPROTO (magic, version or layout
 * differ: @found_version, when not NULL, tells the region's CnC version, or
 * 0 when even the magic differs), or -errno.
 */
int sl_cnc_attach(struct sl_cnc **out, const char *name, uint32_t *found_version);

/* Unmap; the dataplane side also removes the file. */
void sl_cnc_close(struct sl_cnc *c);

struct sl_cnc_hdr *sl_cnc_hdr(struct sl_cnc *c);

/* The region's high-availability block (either side). */
struct sl_cnc_ha *sl_cnc_ha(struct sl_cnc *c);

/* Control: queue a command (its id is assigned and returned through @id).
 * Returns 0 or -EAGAIN when the ring is full. */
int sl_cnc_cmd_push(struct sl_cnc *c, struct sl_cnc_cmd *cmd, uint64_t *id);

/* Dataplane: take the next command. Returns 1, or 0 when none waits. */
int sl_cnc_cmd_pop(struct sl_cnc *c, struct sl_cnc_cmd *out);

/* Dataplane: report the result of a command. Returns 0 or -EAGAIN. */
int sl_cnc_result_push(struct sl_cnc *c, const struct sl_cnc_result *r);

/* Control: take the next result. Returns 1, or 0 when none waits. */
int sl_cnc_result_pop(struct sl_cnc *c, struct sl_cnc_result *out);

/* The region's counters area (either side; checked at attach), and the
 * bytes mapped for it (what a reader passes to sl_ctrs_view_take). */
struct sl_ctrs_hdr *sl_cnc_ctrs(struct sl_cnc *c);
size_t sl_cnc_ctrs_size(struct sl_cnc *c);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_CNC_H */
