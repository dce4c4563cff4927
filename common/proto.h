/* SPDX-License-Identifier: BSD-3-Clause */
/* Sluice wire protocol, versions 3 and 4: frame layouts, constants and the codec. */

#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <common/keyhash.h>

/* What applications see of the protocol too: port, payload limit, flags, error codes. */
#include <sluice/codes.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every structure in this file is laid out on the wire: little-endian,
 * fixed-width fields, no implicit padding (checked with _Static_assert in
 * proto.c). docs/PROTOCOL.md is the normative description.
 */

/* The highest version this code speaks, the lowest one it accepts, and the
 * header version every HELLO is sent with whatever the client speaks
 * (PROTOCOL.md section 9). Since version 4 a frame's header carries the
 * lowest version that defines its layout and flags (sl_proto_frame_version),
 * never more than the session's. */
#define SL_PROTO_VERSION 4u
#define SL_PROTO_VERSION_MIN 3u
#define SL_PROTO_HELLO_VERSION 1u
/* The version that added message headers, filters and consumer groups. */
#define SL_PROTO_V4 4u

/* A frame starts on an 8-byte boundary relative to the start of the datagram. */
#define SL_FRAME_ALIGN 8u
/* Largest UDP payload a v1 peer sends: IPv4 MTU 1500 - 20 (IP) - 8 (UDP). */
#define SL_MAX_DATAGRAM 1472u
/* Longest topic name, in bytes, without a terminator. */
#define SL_MAX_TOPIC_NAME 200u
/* Length of the client name in HELLO. */
#define SL_CLIENT_NAME_LEN 32u
/* Topic id 0 is never assigned: it means "no topic". */
#define SL_TOPIC_INVALID 0u

/* Frame types. Gaps are reserved; a receiver drops an unknown type. */
enum sl_frame_type {
	SL_FT_HELLO = 0x01,	/* client -> broker: open a session */
	SL_FT_CHALLENGE = 0x02, /* broker -> client: stateless cookie (v3) */
	SL_FT_AUTH = 0x03,	/* client -> broker: echoed cookie, proof (v3) */
	SL_FT_WELCOME = 0x04,	/* broker -> client: session opened */
	SL_FT_GOODBYE = 0x05,	/* either way: close the session */
	SL_FT_SEAL = 0x09,	/* either way: the sealed envelope of a datagram (v3) */
	SL_FT_RESOLVE = 0x10,	/* client -> broker: topic name to id */
	SL_FT_TOPIC = 0x11,	/* broker -> client: answer to RESOLVE */
	SL_FT_SUBSCRIBE = 0x12, /* client -> broker */
	SL_FT_UNSUBSCRIBE = 0x13, /* client -> broker */
	SL_FT_OK = 0x14,	/* broker -> client: request done */
	SL_FT_PSUBSCRIBE = 0x15,  /* client -> broker: subscribe to a pattern */
	SL_FT_PUNSUBSCRIBE = 0x16, /* client -> broker: drop a pattern subscription */
	SL_FT_PRODUCER = 0x17,	/* client -> broker: bind the session to a producer (v2) */
	SL_FT_PRODUCER_ID = 0x18, /* broker -> client: answer to PRODUCER (v2) */
	SL_FT_PUBLISH = 0x20,	/* client -> broker: one message */
	SL_FT_DELIVER = 0x21,	/* broker -> client: one message */
	SL_FT_PUBLISH_FRAG = 0x22, /* client -> broker: a piece of a large message (v2) */
	SL_FT_DELIVER_FRAG = 0x23, /* broker -> client: a piece of a large message (v2) */
	SL_FT_GDELIVER = 0x24,	/* broker -> client: a message to a group member (v4) */
	SL_FT_SKIP = 0x25,	/* broker -> client: seqs a subscription's filter skipped (v4) */
	SL_FT_GJOIN = 0x19,	/* client -> broker: join a consumer group (v4) */
	SL_FT_GROUP = 0x1A,	/* broker -> client: answer to GJOIN (v4) */
	SL_FT_GCTL = 0x1B,	/* client -> broker: leave, pause, resume, fetch (v4) */
	SL_FT_GACK = 0x33,	/* client -> broker: acknowledge group messages (v4) */
	SL_FT_GNAK = 0x34,	/* client -> broker: negative acknowledgement (v4) */
	SL_FT_ACK = 0x30,	/* broker -> client: publish accepted */
	SL_FT_NAK = 0x31,	/* client -> broker: retransmission request (v2) */
	SL_FT_CREDIT = 0x32,	/* client -> broker: flow-control credit (v2) */
	SL_FT_HEARTBEAT = 0x40, /* either way: liveness */
	SL_FT_STATUS = 0x41,	/* broker -> client: topics' latest sequences (v2) */
	SL_FT_ERROR = 0x7f,	/* broker -> client: request or frame refused */
};

/* HELLO caps. */
#define SL_CAP_AUTH (1u << 0) /* authenticate: HELLO.name is the user name */
#define SL_CAP_ENC (1u << 1)  /* v3: ask for an encrypted session */
/* v3: the sender can seal with AES-256-GCM. In HELLO: offered; in the
 * CHALLENGE (kept only when the broker can and its configuration allows):
 * the session's suite is AES-256-GCM instead of ChaCha20-Poly1305. */
#define SL_CAP_AESGCM (1u << 2)
/* A version 3 HELLO is at least this long (zero padding after the name),
 * so that no answer to it is longer than what provoked it. */
#define SL_HELLO_MIN_LEN 96u

/* WELCOME flags. */
#define SL_WELCOME_F_AUTH (1u << 0) /* session authenticated: the WELCOME and
				     * every later datagram travel sealed */
#define SL_WELCOME_F_ENC (1u << 1)  /* ... and encrypted */
#define SL_WELCOME_F_AESGCM (1u << 2) /* ... sealed with AES-256-GCM (suite) */

/* SEAL flags. */
#define SL_SEAL_F_ENC (1u << 0) /* the inner bytes are ciphertext */

/* PUBLISH flags: SL_PUB_F_ACK_REQ, <sluice/codes.h>, and: */
#define SL_PUB_F_FIRST (1u << 1) /* v2, idempotent producer: producer_seq is the
				  * lowest of this topic's publishes the producer
				  * has not seen settled; only such a publish
				  * starts the broker's record of the stream */

/* DELIVER (and DELIVER_FRAG, GDELIVER) flags. */
#define SL_DLV_F_REPLAY (1u << 0) /* read back from the journal; timestamp is the
				   * broker's receive time (ns since the epoch) */
#define SL_DLV_F_RETRANS (1u << 1) /* sent again in answer to a NAK (v2) */
#define SL_DLV_F_HDRS (1u << 2)	   /* v4: the payload starts with a header block */

/* PUBLISH_FRAG / DELIVER_FRAG (v4) with SL_PUB_F_HDRS / SL_DLV_F_HDRS on
 * every piece: the message's bytes (msg_len) start with its header block,
 * whose own fields give its length; the block lies in the piece at
 * frag_off 0. */

/* ACK flags. */
#define SL_ACK_F_DUP (1u << 0) /* the publish was a duplicate of one already
				* accepted; seq is the original's, or 0 when the
				* broker no longer remembers it (v2) */

/* PRODUCER: longest producer name, bytes. */
#define SL_MAX_PRODUCER_NAME 64u

/* Large messages (v2, PUBLISH_FRAG / DELIVER_FRAG): the hard limit on one
 * message; each topic has its own limit at or below it (1 MiB by default). */
#define SL_MAX_MESSAGE (4u << 20)
#define SL_MAX_MESSAGE_DEFAULT (1u << 20)
/* Most data bytes one fragment carries (a sealed datagram of one fragment frame). */
#define SL_MAX_FRAG_DATA (SL_MAX_DATAGRAM - 48u - 40u)

/* NAK: the widest range one NAK may name. */
#define SL_NAK_MAX_RANGE 65536u

/* SUBSCRIBE flags SL_SUB_F_EARLIEST, _FROM_SEQ and _FROM_TIME: <sluice/codes.h>. */
#define SL_SUB_F_REPLAY (SL_SUB_F_EARLIEST | SL_SUB_F_FROM_SEQ | SL_SUB_F_FROM_TIME)

/* RESOLVE flags. */
#define SL_RESOLVE_F_CREATE (1u << 0) /* create the topic if it does not exist */
#define SL_RESOLVE_F_PARTS (1u << 1)  /* the client takes a partitioned topic's map
				       * (TOPIC with partitions, PROTOCOL.md 5.5) */
#define SL_RESOLVE_F_NAME (1u << 2)   /* the name is a topic id in decimal: the
				       * TOPIC answers with its name (5.4, 5.5) */

/* WELCOME features (its former reserved field; PROTOCOL.md 5.2). */
#define SL_FEAT_TOPIC_NAME (1u << 0) /* answers RESOLVE with SL_RESOLVE_F_NAME */

/* Error codes carried in ERROR frames: enum sl_error_code, <sluice/codes.h>. */

/* Reasons a receiver drops a frame or a datagram; also dataplane counters. */
enum sl_proto_err {
	SL_PROTO_OK = 0,
	SL_PROTO_TRUNCATED = 1,	   /* fewer bytes than a header or the type's body */
	SL_PROTO_BAD_LENGTH = 2,   /* length field below header or past datagram */
	SL_PROTO_BAD_VERSION = 3,  /* version 0, or above SL_PROTO_VERSION */
	SL_PROTO_UNKNOWN_TYPE = 4, /* type code not defined in this version */
	SL_PROTO_OVERSIZE = 5,	   /* payload or name over the protocol limit */
	SL_PROTO_BAD_FIELD = 6,	   /* a field holds a value the type forbids */
	SL_PROTO_ERR_MAX
};

struct sl_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t length;  /* this frame's bytes, header included, unpadded */
	uint32_t session; /* 0 before WELCOME */
	uint32_t reserved; /* senders write 0, receivers ignore */
};

struct sl_hello {
	struct sl_hdr h;
	uint16_t min_version;
	uint16_t max_version;
	uint32_t caps;	  /* reserved, 0 */
	uint64_t nonce;	  /* echoed in WELCOME to match replies */
	char name[SL_CLIENT_NAME_LEN]; /* NUL padded, for counters and logs */
};

/*
 * Broker -> client, the answer to every v3 HELLO (h.session 0). The broker
 * keeps nothing: @cookie binds the peer's address and the other fields
 * under a broker secret (common/crypto.h sl_cookie), and AUTH echoes them.
 */
struct sl_challenge {
	struct sl_hdr h;
	uint64_t nonce;		  /* HELLO's */
	uint16_t version;	  /* chosen for the session */
	uint16_t reserved;
	uint32_t caps;		  /* HELLO's caps as the broker accepts them */
	uint64_t issued;	  /* broker clock, ms; opaque to the client, echoed */
	uint8_t server_nonce[16];
	uint8_t cookie[16];
};

/*
 * Client -> broker after CHALLENGE (h.session 0): the CHALLENGE's fields
 * echoed, and with SL_CAP_AUTH the proof of the user's key
 * (common/crypto.h sl_auth_proof_v3); proof is zero otherwise.
 */
struct sl_auth {
	struct sl_hdr h;
	uint64_t nonce;		  /* HELLO's */
	uint16_t version;	  /* CHALLENGE's */
	uint16_t reserved;
	uint32_t caps;		  /* CHALLENGE's */
	uint64_t issued;	  /* CHALLENGE's */
	uint8_t server_nonce[16];
	uint8_t cookie[16];
	uint8_t client_nonce[16]; /* random per AUTH */
	char name[SL_CLIENT_NAME_LEN]; /* HELLO's name (the user with SL_CAP_AUTH), NUL padded */
	uint8_t proof[32];
};

/*
 * SEAL (v3): every datagram of an authenticated UDP session, both ways, is
 * one SEAL wrapping its frames: this header, the inner frames (each 8-byte
 * aligned), then a 16-byte tag; h.length counts all three and is a multiple
 * of 8. The tag is the session suite's AEAD (ChaCha20-Poly1305, or
 * AES-256-GCM when both sides agreed SL_CAP_AESGCM) under the direction's
 * key with nonce dir (4 bytes LE) || seq (8 bytes LE); with SL_SEAL_F_ENC the inner bytes
 * are ciphertext and the header is the associated data, without it every
 * byte before the tag is associated data (PROTOCOL.md section 3).
 */
struct sl_seal {
	struct sl_hdr h;
	uint64_t seq; /* transport sequence of this direction, from 1 */
};

struct sl_welcome {
	struct sl_hdr h;
	uint32_t session;
	uint32_t heartbeat_ms; /* client sends something at least this often */
	uint64_t nonce;
	uint32_t max_payload;
	uint16_t version;      /* the version chosen for the session (v2) */
	uint16_t features;     /* SL_FEAT_*: what the broker does beyond its version */
	uint64_t incarnation;  /* changes each time the broker starts (v2) */
	uint32_t max_message;  /* largest message, fragmented, the broker takes (v2) */
	uint32_t session_timeout_ms; /* v3: the broker ends a session idle this long */
};

struct sl_resolve {
	struct sl_hdr h;
	uint32_t req_id;
	uint16_t name_len;
	uint16_t flags; /* SL_RESOLVE_F_* */
	/* name_len bytes of name follow */
};

struct sl_topic_reply {
	struct sl_hdr h;
	uint32_t req_id;
	uint32_t topic_id;
};

/*
 * A partitioned topic's TOPIC (answering a RESOLVE with SL_RESOLVE_F_PARTS):
 * the 24-byte TOPIC, then the number of partitions and their topic ids,
 * partition 0 first. Readers of the 24-byte TOPIC ignore the rest (5).
 */
struct sl_topic_parts {
	struct sl_topic_reply t; /* topic_id: the partitioned name's own id */
	uint16_t n_parts;	 /* 1 .. SL_MAX_PARTITIONS */
	uint16_t reserved;
	uint32_t reserved2;
	/* n_parts topic ids (u32) follow */
};

/*
 * The TOPIC answering a RESOLVE with SL_RESOLVE_F_NAME: the 24-byte TOPIC
 * (topic_id: the id asked for), then the topic's name. n_parts 0 tells it
 * from a partition map, whose count is never 0.
 */
struct sl_topic_name {
	struct sl_topic_reply t;
	uint16_t n_parts;  /* 0 */
	uint16_t name_len; /* 1 .. SL_MAX_TOPIC_NAME */
	uint32_t reserved;
	/* name_len bytes of name follow */
};

struct sl_subscribe { /* also UNSUBSCRIBE */
	struct sl_hdr h;
	uint32_t req_id;
	uint32_t topic_id;
	uint64_t start; /* with SL_SUB_F_FROM_SEQ / _FROM_TIME in h.flags */
	uint32_t window; /* v2: initial credit in messages over UDP; 0: broker default */
	uint32_t reserved;
};

struct sl_ok {
	struct sl_hdr h;
	uint32_t req_id;
	uint32_t value;
	uint64_t seq; /* v2, answering SUBSCRIBE: the first topic sequence this
		       * subscription is sent; 0 when not known */
};

/*
 * PRODUCER (v2), a request: bind this session to the producer @name of the
 * session's user. @epoch 0 asks for a new instance (a higher epoch, which
 * fences every older one); a non-zero @epoch resumes that instance, after
 * a reconnect, and is refused with SL_E_FENCED when a newer one exists.
 */
struct sl_producer {
	struct sl_hdr h;
	uint32_t req_id;
	uint16_t name_len;
	uint16_t flags;	  /* reserved, 0 */
	uint32_t epoch;
	uint32_t reserved;
	/* name_len bytes of name follow (1..SL_MAX_PRODUCER_NAME) */
};

struct sl_producer_id {
	struct sl_hdr h;
	uint32_t req_id;
	uint32_t epoch;	       /* producer_epoch granted */
	uint64_t producer_id;  /* stable for (user, name) across restarts */
};

struct sl_publish {
	struct sl_hdr h;
	uint32_t topic_id;
	/* v3: 0 (a frame with another value is malformed). v4 with
	 * SL_PUB_F_HDRS: the header block's bytes, at the start of the
	 * payload area; without it 0 as in v3. */
	uint16_t hdrs_len;
	uint16_t reserved;     /* 0 */
	uint64_t producer_seq; /* publisher's own sequence, echoed in ACK */
	uint64_t timestamp;    /* publisher's clock, opaque to the broker */
	/* h.length - sizeof(struct sl_publish) bytes follow: hdrs_len bytes
	 * of header block, then the message payload */
};

struct sl_deliver {
	struct sl_hdr h;
	uint32_t topic_id;
	uint16_t hdrs_len;  /* as in sl_publish, with SL_DLV_F_HDRS */
	uint16_t reserved;
	uint64_t seq;	    /* per-topic sequence assigned by the broker, from 1 */
	uint64_t timestamp; /* copied from the PUBLISH */
	/* header block (hdrs_len bytes), then the payload */
};

/* SKIP (v4): sequences @first..@last of @topic_id are not for this
 * subscription (its filter skipped them); nothing is missing there and the
 * client does not NAK them (PROTOCOL.md 5.6.2). */
struct sl_skip {
	struct sl_hdr h;
	uint32_t topic_id;
	uint32_t reserved;
	uint64_t first;
	uint64_t last;
};

/* PUBLISH_FRAG and DELIVER_FRAG (v2): one piece of a message of @msg_len
 * bytes; every piece repeats the message's fields. */
struct sl_publish_frag {
	struct sl_hdr h;
	uint32_t topic_id;
	uint32_t msg_len;      /* the whole message's payload bytes */
	uint64_t producer_seq;
	uint64_t timestamp;
	uint32_t frag_off;     /* where this piece's data goes in the message */
	uint32_t frag_len;     /* data bytes in this piece */
	/* frag_len bytes follow */
};

struct sl_deliver_frag {
	struct sl_hdr h;
	uint32_t topic_id;
	uint32_t msg_len;
	uint64_t seq;
	uint64_t timestamp;
	uint32_t frag_off;
	uint32_t frag_len;
	/* frag_len bytes follow */
};

/* NAK (v2): send again topic @topic_id's messages @first..@last. */
struct sl_nak {
	struct sl_hdr h;
	uint32_t topic_id;
	uint32_t reserved;
	uint64_t first;
	uint64_t last;
};

/* CREDIT (v2): the subscriber takes topic @topic_id's messages up to and
 * including sequence @limit. Only ever raises the limit. */
struct sl_credit {
	struct sl_hdr h;
	uint32_t topic_id;
	uint32_t reserved;
	uint64_t limit;
};

/* STATUS (v2): @count entries follow, each a topic's latest sequence. */
struct sl_status_entry {
	uint32_t topic_id;
	uint32_t reserved;
	uint64_t last_seq;
};

struct sl_status {
	struct sl_hdr h;
	uint32_t count;
	uint32_t reserved;
	/* count struct sl_status_entry follow */
};

struct sl_ack {
	struct sl_hdr h;
	uint32_t topic_id;
	uint32_t reserved;
	uint64_t producer_seq;
	uint64_t seq; /* topic sequence the message got */
};

struct sl_heartbeat {
	struct sl_hdr h;
	uint64_t timestamp;
};

struct sl_error {
	struct sl_hdr h;
	uint32_t req_id; /* request it answers, 0 if none */
	uint16_t code;	 /* enum sl_error_code */
	uint16_t frame_type; /* type of the refused frame */
	uint64_t detail; /* topic id or producer sequence, by frame_type */
};

/* ERROR SL_E_REPLAY_GAP (frame_type DELIVER, req_id 0, detail = topic_id),
 * and in v2 SL_E_GAP_LOST (frame_type NAK) and SL_E_SLOW_CONSUMER (frame_type
 * DELIVER): the ERROR frame grown by the range skipped (PROTOCOL.md 5.12). */
struct sl_error_gap {
	struct sl_error e;
	uint64_t first; /* first sequence not delivered */
	uint64_t last;	/* last sequence not delivered */
};

/* ERROR SL_E_MOVED (PROTOCOL.md 5.13): the topic asked about (RESOLVE,
 * SUBSCRIBE, PUBLISH) is owned by another pair. The fixed ERROR keeps its
 * meaning (detail as for frame_type), and the frame grows by where the
 * topic went. A receiver that predates it reads the first 32 bytes. */
#define SL_PAIR_NAME_LEN 20u /* pair names: 1..19 bytes [A-Za-z0-9._-], NUL padded */

struct sl_error_moved {
	struct sl_error e;
	uint8_t addr[4];  /* the owning pair's service IPv4 address, network order */
	uint16_t port;	  /* its UDP port */
	uint16_t reserved;
	uint32_t epoch;	  /* placement epoch (etcd), raised by every move */
	char pair[SL_PAIR_NAME_LEN]; /* the owning pair's name, NUL padded */
};

/* --- consumer groups (v4, PROTOCOL.md section 19) --- */

#define SL_GROUP_NAME_LEN 32u	    /* GJOIN.group: NUL padded */
#define SL_MAX_GROUP_CREDIT 4096u   /* most unacknowledged messages per member */
#define SL_MAX_GACK_SEQS 64u	    /* seqs one GACK names */
#define SL_MAX_NAK_DELAY 3600000u   /* GNAK delay_ms bound */

/* The group frames a client sends. */
#define SL_FT_IS_GROUP_REQ(t)                                                            \
	((t) == SL_FT_GJOIN || (t) == SL_FT_GCTL || (t) == SL_FT_GACK || (t) == SL_FT_GNAK)

/* GJOIN flags (the u32 @flags field). */
#define SL_GJOIN_F_PULL (1u << 0)   /* the member fetches (GCTL FETCH) */
#define SL_GJOIN_F_FILTER (1u << 1) /* a header filter follows the fixed part */

/* GCTL ops. */
enum sl_gctl_op {
	SL_GCTL_LEAVE = 1,
	SL_GCTL_PAUSE = 2,
	SL_GCTL_RESUME = 3,
	SL_GCTL_FETCH = 4, /* n more messages for a pull member */
};

/* GACK flags. */
#define SL_GACK_F_CUMULATIVE (1u << 0) /* every message held with seq <= seqs[0] */

/* GROUP policies (GROUP.policy). */
enum sl_group_policy {
	SL_GROUP_RR = 1,    /* round-robin */
	SL_GROUP_LEAST = 2, /* least outstanding: most free credit first */
	SL_GROUP_KEY = 3,   /* key affinity, per-key order */
};

/* GJOIN, C->B: join group @group of topic @topic_id as member @member_id;
 * answered with GROUP (or ERROR) carrying @req_id. */
struct sl_gjoin {
	struct sl_hdr h;
	uint32_t topic_id;
	uint32_t credit;	/* max unacknowledged, 1..SL_MAX_GROUP_CREDIT */
	uint64_t member_id;	/* stable, client-chosen, non-zero */
	char group[SL_GROUP_NAME_LEN]; /* NUL padded, [A-Za-z0-9._-], 1..31 bytes */
	uint32_t flags;		/* SL_GJOIN_F_* */
	uint32_t req_id;
	/* with SL_GJOIN_F_FILTER: a filter (common/filter.h) to the frame's end */
};

/* GROUP, B->C: the answer to GJOIN. */
struct sl_group_reply {
	struct sl_hdr h;
	uint32_t group_id;
	uint16_t policy;	/* enum sl_group_policy */
	uint16_t reserved;
	uint32_t ack_wait_ms;
	uint32_t max_deliveries;
	uint32_t grace_ms;
	uint32_t credit;	/* granted */
	uint64_t member_id;
	uint32_t req_id;	/* GJOIN's */
	uint32_t reserved2;
};

/* GCTL, C->B: answered with OK (or ERROR) carrying @req_id. */
struct sl_gctl {
	struct sl_hdr h;
	uint32_t group_id;
	uint32_t op;		/* enum sl_gctl_op */
	uint32_t n;		/* FETCH: 1..SL_MAX_GROUP_CREDIT messages; 0 otherwise */
	uint32_t req_id;
};

/* GDELIVER, B->C: a DELIVER to one member of a group. */
struct sl_gdeliver {
	struct sl_hdr h;
	uint32_t topic_id;
	uint16_t hdrs_len;	/* with SL_DLV_F_HDRS */
	uint16_t reserved;
	uint64_t seq;
	uint64_t timestamp;
	uint32_t group_id;
	uint32_t delivery_count; /* 1 the first time */
	/* header block, then payload */
};

/* GACK, C->B: @n seqs follow (1..SL_MAX_GACK_SEQS). */
struct sl_gack {
	struct sl_hdr h;
	uint32_t group_id;
	uint16_t flags;		/* SL_GACK_F_* */
	uint16_t n;
	/* n u64 seqs follow */
};

/* GNAK, C->B. */
struct sl_gnak {
	struct sl_hdr h;
	uint32_t group_id;
	uint32_t delay_ms;	/* 0..SL_MAX_NAK_DELAY */
	uint64_t seq;
	uint32_t error;		/* application code, kept as sl-last-error */
	uint32_t reserved;
};

/* A frame as the parser hands it out: points into the caller's buffer. */
struct sl_frame {
	const struct sl_hdr *hdr;
	uint32_t off;	      /* offset of the frame in the datagram */
	uint32_t len;	      /* hdr->length, validated */
	const uint8_t *body;  /* payload (PUBLISH/DELIVER), name (RESOLVE), or
			       * SEAL's inner bytes (before the tag) */
	uint32_t body_len;
};

/* Fixed size of the type's header part, or 0 for an unknown type. */
uint32_t sl_proto_min_len(uint8_t type);

/*
 * The version a frame of @type with header @flags carries in its header:
 * the lowest that defines it (4 for the group frames, SKIP, and the header
 * and filter flags; 3 otherwise). A session may carry a frame whose version
 * is at most its own (PROTOCOL.md 9). Thread-safe.
 */
uint8_t sl_proto_frame_version(uint8_t type, uint16_t flags);

/*
 * Parse the next frame of a datagram.
 * @buf, @len: the whole UDP payload. @off: in, where to look; out, where the
 * next frame starts (aligned). @f: filled on success.
 * Returns 1 when a frame was parsed, 0 at the end of the datagram, or
 * -enum sl_proto_err when the frame at @off is bad; the rest of the datagram
 * must then be dropped, since frame boundaries can no longer be trusted.
 * Versions 1..SL_PROTO_VERSION are accepted (a HELLO with any non-zero
 * version): whether a frame's version is the one its session agreed is the
 * caller's check. A higher version gives -SL_PROTO_BAD_VERSION with f->hdr,
 * f->off and f->len set, so that the receiver can still answer it.
 * A SEAL frame (v3) is checked for its envelope only: h.length a multiple
 * of 8 and at least header, seq and tag; f->body and f->body_len then span
 * the inner bytes, which the caller opens (sl_seal_open) and parses with
 * this function in turn (offsets relative to f->body).
 * Thread-safe; touches only its arguments.
 */
int sl_proto_next(const void *buf, size_t len, size_t *off, struct sl_frame *f);

/*
 * Fill a header. @length is the frame's unpadded length; the version is
 * sl_proto_frame_version(@type, @flags).
 */
void sl_proto_hdr_init(struct sl_hdr *h, uint8_t type, uint16_t flags, uint32_t length,
		       uint32_t session);

/* Frame length rounded up to SL_FRAME_ALIGN. */
static inline uint32_t
sl_proto_align(uint32_t len)
{
	return (len + (SL_FRAME_ALIGN - 1)) & ~(SL_FRAME_ALIGN - 1);
}

/* Every one of the @n bytes at @s is in the alphabet of names: user names,
 * header names and group names share [A-Za-z0-9._-] (each caller keeps its
 * own length and other rules). */
static inline int
sl_name_chars_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Write a PUBLISH frame with its payload at @dst (room: @cap bytes).
 * Returns the frame's unpadded length, or -ENOSPC or -EMSGSIZE.
 */
int sl_proto_put_publish(void *dst, size_t cap, uint32_t session, uint32_t topic,
			 uint16_t flags, uint64_t producer_seq, uint64_t ts,
			 const void *payload, uint32_t plen);

/* The header-block bytes of PUBLISH or DELIVER frame @h (0 without the
 * SL_PUB_F_HDRS / SL_DLV_F_HDRS flag, bit 2 for both). */
static inline uint16_t
sl_proto_hdrs_len(const struct sl_publish *p)
{
	return (p->h.flags & SL_PUB_F_HDRS) ? p->hdrs_len : 0;
}

/*
 * Write a RESOLVE frame for @name (@nlen bytes). Returns the frame length,
 * -ENOSPC, or -EINVAL for a bad name.
 */
int sl_proto_put_resolve(void *dst, size_t cap, uint32_t session, uint32_t req_id,
			 const char *name, size_t nlen, uint16_t flags);

/* Partition @i of a partitioned topic is the ordinary topic "NAME#i" (i in
 * decimal, no leading zeros; PROTOCOL.md 7.4). */
#define SL_PART_SEP '#'

/*
 * Write partition @i's topic name for partitioned topic @name (@len bytes)
 * into @out (@cap bytes, NUL terminated). Returns its length, or
 * -ENAMETOOLONG when it would be over SL_MAX_TOPIC_NAME or @cap. No
 * allocation, no formatting library: a worker may call it.
 */
int sl_proto_part_name(char *out, size_t cap, const char *name, size_t len, uint32_t i);

/*
 * Write a partitioned topic's TOPIC (struct sl_topic_parts) answering
 * @req_id: its own id @topic_id and the @n partition ids @ids. Returns the
 * frame length, -EINVAL (@n not 1..SL_MAX_PARTITIONS) or -ENOSPC.
 */
int sl_proto_put_topic_parts(void *dst, size_t cap, uint32_t session, uint32_t req_id,
			     uint32_t topic_id, const uint32_t *ids, uint32_t n);

/*
 * The partition map of a TOPIC frame of @len bytes (a parsed frame: at
 * least 24): copies the ids into @ids (room for @cap) and returns their
 * number, 0 for an ordinary topic's 24-byte TOPIC, or -EBADMSG (a count of
 * 0 or over SL_MAX_PARTITIONS or @cap, ids missing, an id 0).
 */
int sl_proto_topic_parts(const void *frame, uint32_t len, uint32_t *ids, uint32_t cap);

/*
 * Write the TOPIC (struct sl_topic_name) answering RESOLVE @req_id with
 * SL_RESOLVE_F_NAME: topic @topic_id is named @name (@nlen bytes). Returns
 * the frame length, -EINVAL (@nlen not 1..SL_MAX_TOPIC_NAME) or -ENOSPC.
 */
int sl_proto_put_topic_name(void *dst, size_t cap, uint32_t session, uint32_t req_id,
			    uint32_t topic_id, const char *name, size_t nlen);

/*
 * The name a TOPIC frame of @len bytes (a parsed frame: at least 24)
 * carries: *@name points into the frame. Returns its length, or -EBADMSG
 * (no name: a 24-byte TOPIC, a partition map, a bad length or name).
 */
int sl_proto_topic_name(const void *frame, uint32_t len, const char **name);

/*
 * The RESOLVE name field of a topic id (SL_RESOLVE_F_NAME): @id in decimal,
 * no leading zero, into @out (room for 11). Returns its length. No
 * formatting library. sl_proto_topic_id_parse reads it back: the id, or 0
 * when @p (@len bytes) is not such a number of 1..UINT32_MAX.
 */
int sl_proto_topic_id_str(char *out, uint32_t id);
uint32_t sl_proto_topic_id_parse(const char *p, size_t len);

/* True if @name (@nlen bytes) is a valid topic name: 1..SL_MAX_TOPIC_NAME
 * printable ASCII bytes without spaces. */
int sl_proto_topic_name_valid(const char *name, size_t nlen);

/* Does topic @name (@len bytes) match @pattern? Tokens are '.'-separated;
 * "*" matches exactly one token; ">" as the last token one or more.
 * Thread-safe. */
int sl_proto_pattern_match(const char *pattern, const char *name, size_t len);

/* Is @pattern (NUL terminated) well-formed: a valid topic name whose tokens
 * are non-empty, with '*' and '>' only as whole tokens and '>' only last? */
int sl_proto_pattern_valid(const char *pattern);

/*
 * Write a PSUBSCRIBE (or, with @unsubscribe, PUNSUBSCRIBE) frame for the
 * topic pattern @pattern (@len bytes): the layout of RESOLVE, the pattern in
 * place of the name. Same returns as sl_proto_put_resolve.
 */
int sl_proto_put_psubscribe(void *dst, size_t cap, uint32_t session, uint32_t req_id,
			    const char *pattern, size_t len, int unsubscribe);

/* The filter a parsed SUBSCRIBE, PSUBSCRIBE or GJOIN frame @f carries (v4,
 * its filter flag set): its bytes, *@len of them; NULL when it has none. */
const uint8_t *sl_proto_filter_of(const struct sl_frame *f, uint32_t *len);

/* Constant strings for logs and CLIs. Never NULL. (sl_error_code_str():
 * <sluice/codes.h>.) */
const char *sl_proto_type_name(uint8_t type);
const char *sl_proto_err_name(int err); /* takes the positive enum value */

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_PROTO_H */
