/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: the protocol values its API names (port, payload limit, flags, error codes). */

#ifndef SLUICE_CODES_H
#define SLUICE_CODES_H

#include <stdint.h>

/*
 * Installed with sluice.h, which includes it: an application needs these to
 * call the API (SL_PUB_F_ACK_REQ, SL_SUB_F_FROM_SEQ) and to read its answers
 * (enum sl_error_code). The wire codec uses the same definitions;
 * docs/PROTOCOL.md is the normative description.
 */

/* The broker's UDP port when sl_client_opts.port is 0. */
#define SL_PROTO_DEFAULT_PORT 9500u

/* Largest message payload in one PUBLISH or DELIVER frame: a sealed datagram
 * (protocol version 3) of one such frame fits 1472 bytes. */
#define SL_MAX_PAYLOAD 1392u

/* PUBLISH flags. */
#define SL_PUB_F_ACK_REQ (1u << 0) /* broker sends ACK once the publish is accepted */
#define SL_PUB_F_HDRS (1u << 2)	   /* v4: the payload starts with a header block */

/* Message headers (protocol version 4, PROTOCOL.md 5.8.1): a message carries
 * at most SL_MAX_HDRS name/value pairs and a key of at most SL_MAX_KEY
 * bytes, in a block of at most SL_MAX_HDRS_LEN bytes. Names are 1..32 bytes
 * of [A-Za-z0-9._-], case-sensitive, unique in a message; names starting
 * "sl-" are the broker's. Values are bytes. */
#define SL_MAX_HDRS 8u
#define SL_MAX_KEY 64u
#define SL_MAX_HDR_NAME 32u
#define SL_MAX_HDR_VALUE 128u
#define SL_MAX_HDRS_LEN 512u

/* Header filters (version 4, PROTOCOL.md 5.6.1): at most
 * SL_MAX_FILTER_CLAUSES clauses, all of which must hold, in at most
 * SL_MAX_FILTER_LEN bytes of wire form. */
#define SL_MAX_FILTER_CLAUSES 4u
#define SL_MAX_FILTER_LEN 256u

/* One message header, as an application gives or reads it. */
struct sl_header {
	const char *name;   /* NUL terminated, 1..SL_MAX_HDR_NAME bytes */
	const void *value;  /* value_len bytes, not terminated */
	uint16_t value_len; /* 0..SL_MAX_HDR_VALUE */
};

/* Filter clause operators (the wire's op byte). */
enum sl_filter_op {
	SL_FILTER_EQ = 1,      /* header @name present with exactly @value */
	SL_FILTER_PRESENT = 2, /* header @name present, any value */
	SL_FILTER_KEY_EQ = 3,  /* the message key equals @value */
};

/* One filter clause, as an application gives it (name NULL for KEY_EQ). */
struct sl_filter_clause {
	uint8_t op;	    /* enum sl_filter_op */
	const char *name;
	const void *value;
	uint16_t value_len;
};

/* SUBSCRIBE flags: where a subscriber starts. None set: live (new messages
 * only). Replay needs a topic with a journal (durability async or sync);
 * the broker sends the retained messages from the start point, then
 * continues live without gap or duplicate. */
#define SL_SUB_F_EARLIEST (1u << 0) /* from the oldest retained message */
#define SL_SUB_F_FROM_SEQ (1u << 1) /* from topic sequence `start` */
#define SL_SUB_F_FROM_TIME (1u << 2) /* from the first message at or after `start`
				      * (ns since the Unix epoch, broker clock) */
#define SL_SUB_F_FILTER (1u << 3) /* v4: a header filter follows the fixed part */

/* Credentials: a user's key is SL_AUTH_KEY_LEN bytes (64 hex digits in
 * credential files); a user name buffer holds SL_AUTH_USER_LEN bytes. */
#define SL_AUTH_KEY_LEN 32
#define SL_AUTH_USER_LEN 32 /* user names: 1..31 bytes [A-Za-z0-9._-] */

/* Error codes carried in ERROR frames. */
enum sl_error_code {
	SL_E_NONE = 0,
	SL_E_BAD_FRAME = 1,	  /* frame failed validation */
	SL_E_NO_SESSION = 2,	  /* session id unknown or expired: send HELLO */
	SL_E_UNKNOWN_TOPIC = 3,	  /* topic id or name does not exist */
	SL_E_TOPIC_TABLE_FULL = 4, /* no room for another topic */
	SL_E_SUB_TABLE_FULL = 5,  /* no room for another subscriber on the topic */
	SL_E_VERSION = 6,	  /* no protocol version in common */
	SL_E_BAD_NAME = 7,	  /* topic name empty, too long or with bad bytes */
	SL_E_BUSY = 8,		  /* broker overloaded: retry later */
	SL_E_SESSION_TABLE_FULL = 9, /* no room for another session */
	SL_E_JOURNAL_FULL = 10,	  /* topic journal at capacity: publish not accepted */
	SL_E_JOURNAL_DAMAGED = 11, /* topic journal damaged or failed: read-only */
	SL_E_NO_JOURNAL = 12,	  /* replay asked on a topic without a journal */
	SL_E_REPLAY_BUSY = 13,	  /* too many replays in progress: retry later */
	SL_E_AUTH_REQUIRED = 14,  /* the broker requires authentication */
	SL_E_AUTH_FAILED = 15,	  /* unknown user or wrong proof */
	SL_E_DENIED = 16,	  /* the ACL does not allow it */
	SL_E_RATE_LIMITED = 17,	  /* over the session's publish rate: slow down */
	SL_E_BACKPRESSURE = 18,	  /* a subscriber of the topic is behind (policy block) */
	SL_E_SLOW_CONSUMER = 19,  /* disconnected: deliveries fell behind (policy disconnect) */
	SL_E_REPLAY_GAP = 20,	  /* notice: a replay skips sequences the journal cannot serve */
	SL_E_FENCED = 21,	  /* a newer instance of this producer exists */
	SL_E_PRODUCER_TABLE_FULL = 22, /* no room for another producer */
	SL_E_OUT_OF_ORDER = 23,	  /* producer sequence ahead of the next expected: resend in order */
	SL_E_GAP_LOST = 24,	  /* notice: messages that can no longer be sent again */
	SL_E_TOO_BIG = 25,	  /* message larger than the topic's limit */
	SL_E_INCOMPLETE = 26,	  /* fragments of a message did not all arrive in time */
	SL_E_ENCRYPTION_REQUIRED = 27, /* v3: the user or topic requires an encrypted session */
	SL_E_HANDSHAKE = 28,	  /* v3: the AUTH's cookie is stale or not the broker's: start again with HELLO */
	SL_E_BAD_HEADERS = 29,	  /* v4: a header block or filter is malformed or uses a reserved name */
	SL_E_NO_GROUP = 30,	  /* v4: no such consumer group */
	SL_E_GROUP_FULL = 31,	  /* v4: the group's member table is full */
	SL_E_NOT_HELD = 32,	  /* v4: acknowledged a message this member does not hold */
	SL_E_PARTITIONED = 33,	  /* v4: the name is a partitioned topic: resolve it with
				   * RESOLVE's PARTS flag and use its partitions */
	SL_E_NOT_PRIMARY = 34,	  /* this broker is not the primary of its pair (a standby, or
				   * deposed): try the next broker of the list */
	SL_E_MOVED = 35,	  /* the topic moved to another pair: the ERROR frame grown by
				   * struct sl_error_moved names it and its address */
	SL_E_MAX
};

#ifdef __cplusplus
extern "C" {
#endif

/* Error @code in words ("no such topic"): a constant string, never NULL,
 * also for codes this version does not know. Thread-safe. */
const char *sl_error_code_str(uint16_t code);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_CODES_H */
