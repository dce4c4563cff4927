/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MQTT packet codec of sluice-mqtt: MQTT 3.1.1 (protocol level 4) and
 * MQTT 5.0 (protocol level 5), both directions.
 *
 * Decoding is in two steps, both on (pointer, length), with no allocation
 * and no I/O:
 *   1. sl_mqtt_frame() finds one packet in a byte stream: its fixed header
 *      and remaining length, checked against the configured maximum packet
 *      size before the body has even arrived;
 *   2. sl_mqtt_decode() parses that packet's variable header, properties and
 *      payload and applies the normative rules of both specifications that
 *      a single packet can violate (docs/MQTT.md lists them).
 * sl_mqtt_parse() does both. Every decoded string, binary field and payload
 * points into the input buffer (struct sl_mqtt_str): the caller keeps the
 * buffer alive while it uses the packet.
 *
 * A decoder failure is returned as the negated MQTT 5 reason code that the
 * specification names for it (-SL_MQTT_RC_MALFORMED, -SL_MQTT_RC_PROTOCOL_ERROR,
 * ...), so the gateway can answer as the specification says (a CONNACK or
 * DISCONNECT with that reason at level 5; the level 4 equivalent or closing
 * the connection at level 4) and count failures by reason. The values are
 * always <= -0x80.
 *
 * Encoders write one whole packet into (buffer, capacity) and return its
 * length, or -errno (values > -0x80, so never confused with a reason). With
 * a NULL buffer they return the length they would write, so a caller can
 * check it against the peer's Maximum Packet Size first.
 *
 * Everything here is reentrant: no global state.
 */

#ifndef SLUICE_GATEWAY_MQTT_CODEC_H
#define SLUICE_GATEWAY_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol levels (the CONNECT's Protocol Level byte). */
#define SL_MQTT_V311 4u
#define SL_MQTT_V5 5u

/* The largest remaining length a variable byte integer can carry (4 bytes). */
#define SL_MQTT_MAX_REMAINING 268435455u
/* Fixed header: one type/flags byte and 1..4 remaining-length bytes. */
#define SL_MQTT_MAX_FIXED_HDR 5u
/* The largest packet: fixed header plus SL_MQTT_MAX_REMAINING. */
#define SL_MQTT_MAX_PACKET (SL_MQTT_MAX_REMAINING + SL_MQTT_MAX_FIXED_HDR)
/* Largest UTF-8 string or binary field (two-byte length prefix). */
#define SL_MQTT_MAX_STR 65535u
/* Largest subscription identifier (a variable byte integer). */
#define SL_MQTT_MAX_SUB_ID 268435455u

/* Control packet types (fixed header bits 7..4). */
enum sl_mqtt_type {
	SL_MQTT_CONNECT = 1,
	SL_MQTT_CONNACK = 2,
	SL_MQTT_PUBLISH = 3,
	SL_MQTT_PUBACK = 4,
	SL_MQTT_PUBREC = 5,
	SL_MQTT_PUBREL = 6,
	SL_MQTT_PUBCOMP = 7,
	SL_MQTT_SUBSCRIBE = 8,
	SL_MQTT_SUBACK = 9,
	SL_MQTT_UNSUBSCRIBE = 10,
	SL_MQTT_UNSUBACK = 11,
	SL_MQTT_PINGREQ = 12,
	SL_MQTT_PINGRESP = 13,
	SL_MQTT_DISCONNECT = 14,
	SL_MQTT_AUTH = 15, /* level 5 only; reserved at level 4 */
};

/*
 * MQTT 5 reason codes (section 2.4). Several share a value (0x00 is
 * Success, Normal disconnection and Granted QoS 0). The X-macro lets the
 * gateway build its per-reason counters from the same list.
 */
#define SL_MQTT_RC_LIST(X)                                            \
	X(SUCCESS, 0x00, "success")                                   \
	X(GRANTED_QOS1, 0x01, "granted QoS 1")                        \
	X(GRANTED_QOS2, 0x02, "granted QoS 2")                        \
	X(DISCONNECT_WITH_WILL, 0x04, "disconnect with will message") \
	X(NO_MATCHING_SUBSCRIBERS, 0x10, "no matching subscribers")   \
	X(NO_SUBSCRIPTION_EXISTED, 0x11, "no subscription existed")   \
	X(CONTINUE_AUTH, 0x18, "continue authentication")             \
	X(REAUTHENTICATE, 0x19, "re-authenticate")                    \
	X(UNSPECIFIED, 0x80, "unspecified error")                     \
	X(MALFORMED, 0x81, "malformed packet")                        \
	X(PROTOCOL_ERROR, 0x82, "protocol error")                     \
	X(IMPL_SPECIFIC, 0x83, "implementation specific error")       \
	X(UNSUPPORTED_VERSION, 0x84, "unsupported protocol version")  \
	X(CLIENT_ID_INVALID, 0x85, "client identifier not valid")     \
	X(BAD_USER_OR_PASSWORD, 0x86, "bad user name or password")    \
	X(NOT_AUTHORIZED, 0x87, "not authorized")                     \
	X(SERVER_UNAVAILABLE, 0x88, "server unavailable")             \
	X(SERVER_BUSY, 0x89, "server busy")                           \
	X(BANNED, 0x8A, "banned")                                     \
	X(SERVER_SHUTTING_DOWN, 0x8B, "server shutting down")         \
	X(BAD_AUTH_METHOD, 0x8C, "bad authentication method")         \
	X(KEEP_ALIVE_TIMEOUT, 0x8D, "keep alive timeout")             \
	X(SESSION_TAKEN_OVER, 0x8E, "session taken over")             \
	X(TOPIC_FILTER_INVALID, 0x8F, "topic filter invalid")         \
	X(TOPIC_NAME_INVALID, 0x90, "topic name invalid")             \
	X(PACKET_ID_IN_USE, 0x91, "packet identifier in use")         \
	X(PACKET_ID_NOT_FOUND, 0x92, "packet identifier not found")   \
	X(RECEIVE_MAX_EXCEEDED, 0x93, "receive maximum exceeded")     \
	X(TOPIC_ALIAS_INVALID, 0x94, "topic alias invalid")           \
	X(PACKET_TOO_LARGE, 0x95, "packet too large")                 \
	X(MESSAGE_RATE_TOO_HIGH, 0x96, "message rate too high")       \
	X(QUOTA_EXCEEDED, 0x97, "quota exceeded")                     \
	X(ADMIN_ACTION, 0x98, "administrative action")                \
	X(PAYLOAD_FORMAT_INVALID, 0x99, "payload format invalid")     \
	X(RETAIN_NOT_SUPPORTED, 0x9A, "retain not supported")         \
	X(QOS_NOT_SUPPORTED, 0x9B, "QoS not supported")               \
	X(USE_ANOTHER_SERVER, 0x9C, "use another server")             \
	X(SERVER_MOVED, 0x9D, "server moved")                         \
	X(SHARED_SUBS_NOT_SUPPORTED, 0x9E, "shared subscriptions not supported") \
	X(CONNECTION_RATE_EXCEEDED, 0x9F, "connection rate exceeded") \
	X(MAX_CONNECT_TIME, 0xA0, "maximum connect time")             \
	X(SUB_IDS_NOT_SUPPORTED, 0xA1, "subscription identifiers not supported") \
	X(WILDCARD_SUBS_NOT_SUPPORTED, 0xA2, "wildcard subscriptions not supported")

enum sl_mqtt_rc {
#define SL_MQTT_RC_ENUM(name, val, text) SL_MQTT_RC_##name = val,
	SL_MQTT_RC_LIST(SL_MQTT_RC_ENUM)
#undef SL_MQTT_RC_ENUM
	/* Aliases of 0x00. */
	SL_MQTT_RC_NORMAL_DISCONNECT = 0x00,
	SL_MQTT_RC_GRANTED_QOS0 = 0x00,
};

/* MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
enum sl_mqtt_v3_connack {
	SL_MQTT_V3_ACCEPTED = 0,
	SL_MQTT_V3_BAD_VERSION = 1,
	SL_MQTT_V3_ID_REJECTED = 2,
	SL_MQTT_V3_SERVER_UNAVAILABLE = 3,
	SL_MQTT_V3_BAD_USER_OR_PASSWORD = 4,
	SL_MQTT_V3_NOT_AUTHORIZED = 5,
};
/* MQTT 3.1.1 SUBACK failure return code. */
#define SL_MQTT_V3_SUBACK_FAILURE 0x80u

/* MQTT 5 property identifiers (section 2.2.2.2). All are below 64. */
enum sl_mqtt_prop_id {
	SL_MQTT_P_PAYLOAD_FORMAT = 0x01,
	SL_MQTT_P_MESSAGE_EXPIRY = 0x02,
	SL_MQTT_P_CONTENT_TYPE = 0x03,
	SL_MQTT_P_RESPONSE_TOPIC = 0x08,
	SL_MQTT_P_CORRELATION_DATA = 0x09,
	SL_MQTT_P_SUBSCRIPTION_ID = 0x0B,
	SL_MQTT_P_SESSION_EXPIRY = 0x11,
	SL_MQTT_P_ASSIGNED_CLIENT_ID = 0x12,
	SL_MQTT_P_SERVER_KEEP_ALIVE = 0x13,
	SL_MQTT_P_AUTH_METHOD = 0x15,
	SL_MQTT_P_AUTH_DATA = 0x16,
	SL_MQTT_P_REQUEST_PROBLEM_INFO = 0x17,
	SL_MQTT_P_WILL_DELAY = 0x18,
	SL_MQTT_P_REQUEST_RESPONSE_INFO = 0x19,
	SL_MQTT_P_RESPONSE_INFO = 0x1A,
	SL_MQTT_P_SERVER_REFERENCE = 0x1C,
	SL_MQTT_P_REASON_STRING = 0x1F,
	SL_MQTT_P_RECEIVE_MAX = 0x21,
	SL_MQTT_P_TOPIC_ALIAS_MAX = 0x22,
	SL_MQTT_P_TOPIC_ALIAS = 0x23,
	SL_MQTT_P_MAX_QOS = 0x24,
	SL_MQTT_P_RETAIN_AVAILABLE = 0x25,
	SL_MQTT_P_USER_PROPERTY = 0x26,
	SL_MQTT_P_MAX_PACKET_SIZE = 0x27,
	SL_MQTT_P_WILDCARD_SUB_AVAILABLE = 0x28,
	SL_MQTT_P_SUB_ID_AVAILABLE = 0x29,
	SL_MQTT_P_SHARED_SUB_AVAILABLE = 0x2A,
};
/* The bit of property @id in struct sl_mqtt_props.present. */
#define SL_MQTT_PBIT(id) (1ull << (id))

/*
 * A UTF-8 string, binary data or payload: @len bytes at @ptr, not NUL
 * terminated. Decoded ones point into the input buffer.
 */
struct sl_mqtt_str {
	const char *ptr;
	uint32_t len;
};

/* A user property (name, value), both UTF-8 strings. */
struct sl_mqtt_user_prop {
	struct sl_mqtt_str name;
	struct sl_mqtt_str value;
};

/*
 * MQTT 5 properties of one packet (or of a CONNECT's will). A field holds a
 * value only when its bit, SL_MQTT_PBIT(SL_MQTT_P_*), is set in @present.
 *
 * Decoding fills the single-valued fields, counts the user properties in
 * @n_user and the subscription identifiers in @n_sub_ids (the first one in
 * @sub_id), and leaves @raw/@raw_len on the property block so that
 * sl_mqtt_user_next() and sl_mqtt_sub_id_next() walk every one; @user and
 * @sub_ids are NULL.
 *
 * Encoding writes every field whose bit is set (in identifier order), then
 * the @n_sub_ids values of @sub_ids (when @sub_ids is NULL: @sub_id once if
 * its bit is set), then the @n_user pairs of @user (when @user is NULL: the
 * user properties found in @raw, so decoded properties forward their user
 * properties unchanged). A zeroed struct means "no properties".
 */
struct sl_mqtt_props {
	uint64_t present;
	uint8_t payload_format;		     /* 0x01: 0 bytes, 1 UTF-8 */
	uint8_t request_problem_info;	     /* 0x17 */
	uint8_t request_response_info;	     /* 0x19 */
	uint8_t max_qos;		     /* 0x24 */
	uint8_t retain_available;	     /* 0x25 */
	uint8_t wildcard_sub_available;	     /* 0x28 */
	uint8_t sub_id_available;	     /* 0x29 */
	uint8_t shared_sub_available;	     /* 0x2A */
	uint16_t server_keep_alive;	     /* 0x13 */
	uint16_t receive_max;		     /* 0x21 */
	uint16_t topic_alias_max;	     /* 0x22 */
	uint16_t topic_alias;		     /* 0x23 */
	uint32_t message_expiry;	     /* 0x02, seconds */
	uint32_t session_expiry;	     /* 0x11, seconds */
	uint32_t will_delay;		     /* 0x18, seconds */
	uint32_t max_packet_size;	     /* 0x27 */
	uint32_t sub_id;		     /* 0x0B, the first one */
	struct sl_mqtt_str content_type;     /* 0x03 */
	struct sl_mqtt_str response_topic;   /* 0x08 */
	struct sl_mqtt_str correlation_data; /* 0x09, binary */
	struct sl_mqtt_str assigned_client_id; /* 0x12 */
	struct sl_mqtt_str auth_method;	     /* 0x15 */
	struct sl_mqtt_str auth_data;	     /* 0x16, binary */
	struct sl_mqtt_str response_info;    /* 0x1A */
	struct sl_mqtt_str server_reference; /* 0x1C */
	struct sl_mqtt_str reason_string;    /* 0x1F */
	/* 0x26 user properties, 0x0B subscription identifiers (see above). */
	uint32_t n_user;
	uint32_t n_sub_ids;
	const struct sl_mqtt_user_prop *user; /* encoding only */
	const uint32_t *sub_ids;	      /* encoding only */
	const uint8_t *raw;		      /* decoding only: the block */
	uint32_t raw_len;
};

/* CONNECT (both directions of the codec: the gateway decodes, clients encode). */
struct sl_mqtt_connect {
	uint8_t level;	    /* 4 or 5; on a decode failure, the byte read (0 if none) */
	bool clean_start;   /* Clean Session at level 4 */
	uint16_t keep_alive; /* seconds, 0 = off */
	struct sl_mqtt_str client_id;
	bool will;
	uint8_t will_qos;
	bool will_retain;
	struct sl_mqtt_str will_topic;
	struct sl_mqtt_str will_payload;   /* binary */
	struct sl_mqtt_props will_props;   /* level 5 */
	bool has_username;
	bool has_password;
	struct sl_mqtt_str username;
	struct sl_mqtt_str password;	   /* binary */
	struct sl_mqtt_props props;	   /* level 5 */
};

/* CONNACK. @rc: an MQTT 5 reason code at level 5, a v3 return code at level 4. */
struct sl_mqtt_connack {
	bool session_present;
	uint8_t rc;
	struct sl_mqtt_props props; /* level 5 */
};

/* PUBLISH. */
struct sl_mqtt_publish {
	uint8_t qos; /* 0..2 */
	bool dup;
	bool retain;
	struct sl_mqtt_str topic; /* may be empty at level 5 when a topic alias is set */
	uint16_t packet_id;	  /* QoS 1 and 2 only; 0 at QoS 0 */
	struct sl_mqtt_props props; /* level 5 */
	struct sl_mqtt_str payload;
};

/*
 * PUBACK, PUBREC, PUBREL, PUBCOMP. @rc is 0 (Success) when the packet
 * omitted it (level 4, or the level 5 short form).
 */
struct sl_mqtt_ack {
	uint16_t packet_id;
	uint8_t rc;
	struct sl_mqtt_props props; /* level 5 */
};

/* Subscription options (the byte after each SUBSCRIBE topic filter). */
#define SL_MQTT_SUB_QOS_MASK 0x03u
#define SL_MQTT_SUB_NO_LOCAL 0x04u /* level 5 */
#define SL_MQTT_SUB_RAP 0x08u	   /* retain as published, level 5 */
#define SL_MQTT_SUB_RH_SHIFT 4	   /* retain handling 0..2, level 5 */

/* One SUBSCRIBE entry (and, with only @filter, one UNSUBSCRIBE entry). */
struct sl_mqtt_sub_entry {
	struct sl_mqtt_str filter;
	uint8_t qos;		/* 0..2 */
	bool no_local;		/* level 5 */
	bool retain_as_published; /* level 5 */
	uint8_t retain_handling; /* 0..2, level 5 */
	/*
	 * Decoding only: 0 when @filter is a valid topic filter (mqtt_topic.h,
	 * including the $share form), else SL_MQTT_RC_TOPIC_FILTER_INVALID.
	 * The decoder refuses such a filter at level 4 (where the whole packet
	 * is a protocol violation); at level 5 the gateway answers that entry
	 * with 0x8F in the SUBACK.
	 */
	uint8_t filter_rc;
};

/*
 * SUBSCRIBE and UNSUBSCRIBE. Decoding sets @n and @raw/@raw_len (the
 * payload) and leaves @entries NULL: sl_mqtt_sub_next() walks the entries.
 * Encoding writes the @n entries of @entries.
 */
struct sl_mqtt_subscribe {
	uint16_t packet_id;
	struct sl_mqtt_props props; /* level 5; a subscription identifier at most */
	uint32_t n;
	const struct sl_mqtt_sub_entry *entries; /* encoding only */
	const uint8_t *raw;			 /* decoding only */
	uint32_t raw_len;
};

/* SUBACK and UNSUBACK: one reason code per entry of the request. */
struct sl_mqtt_suback {
	uint16_t packet_id;
	struct sl_mqtt_props props; /* level 5 */
	uint32_t n;
	const uint8_t *rcs; /* decoded: points into the input */
};

/*
 * DISCONNECT and AUTH (level 5). @rc is 0 when omitted (level 4 DISCONNECT
 * has no variable header).
 */
struct sl_mqtt_disconnect {
	uint8_t rc;
	struct sl_mqtt_props props;
};

/* A decoded packet: @type selects the member of @u (none for PINGREQ/PINGRESP). */
struct sl_mqtt_packet {
	uint8_t type;  /* enum sl_mqtt_type */
	uint8_t flags; /* fixed header bits 3..0 */
	uint8_t level; /* the protocol level it was decoded at */
	union {
		struct sl_mqtt_connect connect;
		struct sl_mqtt_connack connack;
		struct sl_mqtt_publish publish;
		struct sl_mqtt_ack ack;		     /* PUBACK, PUBREC, PUBREL, PUBCOMP */
		struct sl_mqtt_subscribe subscribe;  /* SUBSCRIBE, UNSUBSCRIBE */
		struct sl_mqtt_suback suback;	     /* SUBACK, UNSUBACK */
		struct sl_mqtt_disconnect disconnect; /* DISCONNECT, AUTH */
	} u;
};

/* One framed packet (sl_mqtt_frame()). */
struct sl_mqtt_frame {
	uint8_t type;	    /* enum sl_mqtt_type, or 0 (reserved) */
	uint8_t flags;	    /* fixed header bits 3..0 */
	uint8_t hdr_len;    /* 2..5 */
	uint32_t remaining; /* the remaining length */
	const uint8_t *body; /* the @remaining bytes after the fixed header */
};

/* Which end decodes: what a client sends differs from what a server sends. */
enum sl_mqtt_side {
	SL_MQTT_SERVER = 0, /* we are the server: decoding packets a client sent */
	SL_MQTT_CLIENT = 1, /* we are a client: decoding packets a server sent */
};

/*
 * Frame one packet at the start of @buf (@len bytes received so far).
 * @max_packet: the largest whole packet accepted (fixed header included),
 * 2..SL_MQTT_MAX_PACKET; 0 means SL_MQTT_MAX_PACKET.
 *
 * Returns the packet's total length (> 0) and fills @f when the whole packet
 * is in @buf; 0 when more bytes are needed; -SL_MQTT_RC_MALFORMED when the
 * remaining length is not a valid variable byte integer (a fifth length byte
 * [MQTT-1.5.5-1]); -SL_MQTT_RC_PACKET_TOO_LARGE as soon as the remaining
 * length is known and the packet would exceed @max_packet (the caller
 * answers 0x95 at level 5 / closes at level 4 without waiting for the
 * body). Checks nothing about the type and flags (sl_mqtt_decode does).
 */
int sl_mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet, struct sl_mqtt_frame *f);

/*
 * Parse framed packet @f at protocol level @level (4 or 5: the level of the
 * connection's CONNECT; ignored for a CONNECT, which carries its own; 0
 * before any CONNECT, when every other packet is a protocol error
 * [MQTT-3.1.0-1]) as received by @side. Fills @p; strings point into @f's
 * buffer.
 *
 * Returns 0, or a negated reason code:
 *   -SL_MQTT_RC_MALFORMED: reserved type 0 (or 15 at level 4), wrong fixed
 *     header flags, a length that runs past the packet or bytes left over,
 *     ill-formed UTF-8 (or U+0000, or a surrogate, or an overlong form), QoS
 *     3, DUP at QoS 0, CONNECT flag rules, an unknown property or one not
 *     allowed in this packet, a bad subscription option, ...;
 *   -SL_MQTT_RC_PROTOCOL_ERROR: a packet type this @side never receives
 *     (or anything but CONNECT at @level 0), a reason code not allowed in
 *     the packet, a
 *     property given twice or with a forbidden value, packet identifier 0
 *     where one is required, SUBSCRIBE / UNSUBSCRIBE without an entry, an
 *     empty topic name without a topic alias, No Local on a shared
 *     subscription, authentication data without a method;
 *   -SL_MQTT_RC_UNSUPPORTED_VERSION: CONNECT with a protocol name other
 *     than "MQTT" or a level other than 4 and 5 (p->u.connect.level holds
 *     the level byte so the gateway answers in the client's format); any
 *     other packet with @level not 0, 4 or 5 (a caller's mistake);
 *   -SL_MQTT_RC_CLIENT_ID_INVALID: level 4 CONNECT with an empty client id
 *     and Clean Session 0 [MQTT-3.1.3-8] (CONNACK return code 2);
 *   -SL_MQTT_RC_TOPIC_NAME_INVALID: a PUBLISH (or will) topic with a
 *     wildcard, or empty at level 4;
 *   -SL_MQTT_RC_TOPIC_FILTER_INVALID: a SUBSCRIBE / UNSUBSCRIBE filter that
 *     is not a valid filter, at level 4 (see struct sl_mqtt_sub_entry);
 *   -SL_MQTT_RC_TOPIC_ALIAS_INVALID: topic alias 0.
 * On CONNECT failures p->u.connect.level is the level byte when it was read.
 */
int sl_mqtt_decode(const struct sl_mqtt_frame *f, uint8_t level, enum sl_mqtt_side side,
		   struct sl_mqtt_packet *p);

/*
 * sl_mqtt_frame() then sl_mqtt_decode(): returns the number of bytes the
 * packet took (> 0) and fills @p; 0 when more bytes are needed; or a negated
 * reason code from either.
 */
int sl_mqtt_parse(const uint8_t *buf, size_t len, uint32_t max_packet, uint8_t level,
		  enum sl_mqtt_side side, struct sl_mqtt_packet *p);

/*
 * Walk the entries of a decoded SUBSCRIBE or UNSUBSCRIBE (@type says which:
 * UNSUBSCRIBE entries have only a filter). Start with *@off = 0. Returns 1
 * and fills @e while there is an entry, 0 after the last.
 */
int sl_mqtt_sub_next(const struct sl_mqtt_subscribe *s, uint8_t type, uint32_t *off,
		     struct sl_mqtt_sub_entry *e);

/*
 * Walk the user properties of decoded properties @pr (in order, duplicates
 * kept, as MQTT 5 requires). Start with *@off = 0. Returns 1 and fills @u
 * while there is one, 0 after the last.
 */
int sl_mqtt_user_next(const struct sl_mqtt_props *pr, uint32_t *off, struct sl_mqtt_user_prop *u);

/* Walk the subscription identifiers of decoded @pr, as sl_mqtt_user_next. */
int sl_mqtt_sub_id_next(const struct sl_mqtt_props *pr, uint32_t *off, uint32_t *id);

/*
 * Is @s (@len bytes) a well-formed MQTT UTF-8 string: well-formed UTF-8 (no
 * overlong form, nothing above U+10FFFF), no surrogate U+D800..U+DFFF
 * [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2]? Also for a PUBLISH payload with
 * Payload Format Indicator 1 (the gateway's choice to check it).
 */
bool sl_mqtt_utf8_valid(const uint8_t *s, size_t len);

/*
 * Encoders. Each writes one whole packet into @buf (@cap bytes) and returns
 * its length; with @buf NULL, returns the length it would write. Errors:
 *   -ENOSPC: @cap is too small (nothing useful was written);
 *   -EMSGSIZE: the packet would be longer than SL_MQTT_MAX_PACKET, or a
 *     string longer than SL_MQTT_MAX_STR;
 *   -EINVAL: @level is not 4 or 5, or a field breaks a rule the receiver
 *     would reject (QoS 3, packet id 0 at QoS > 0, an ack type that is not
 *     one, SUBSCRIBE without entries, ...).
 * Properties are written at level 5 only (ignored at level 4). The
 * encoders do not check strings for UTF-8 well-formedness (the gateway
 * only sends what it decoded or mapped back from a checked name).
 */
int sl_mqtt_enc_connect(uint8_t *buf, size_t cap, const struct sl_mqtt_connect *c);
/* @c->rc: a reason code at level 5, a v3 return code at level 4. */
int sl_mqtt_enc_connack(uint8_t *buf, size_t cap, uint8_t level, const struct sl_mqtt_connack *c);
int sl_mqtt_enc_publish(uint8_t *buf, size_t cap, uint8_t level, const struct sl_mqtt_publish *p);
/*
 * @type: SL_MQTT_PUBACK, PUBREC, PUBREL or PUBCOMP. At level 5 writes the
 * short form (packet id only) when @a->rc is 0 and there are no properties.
 */
int sl_mqtt_enc_ack(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		    const struct sl_mqtt_ack *a);
/* @type: SL_MQTT_SUBSCRIBE or SL_MQTT_UNSUBSCRIBE; @s->n >= 1 entries. */
int sl_mqtt_enc_subscribe(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
			  const struct sl_mqtt_subscribe *s);
/* @type: SL_MQTT_SUBACK or SL_MQTT_UNSUBACK (no payload at level 4). */
int sl_mqtt_enc_suback(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		       const struct sl_mqtt_suback *s);
/*
 * DISCONNECT (@type SL_MQTT_DISCONNECT; at level 4 the two-byte packet,
 * @d ignored) or AUTH (@type SL_MQTT_AUTH, level 5 only). At level 5 the
 * reason and properties are omitted when @d is NULL or holds rc 0 and no
 * properties.
 */
int sl_mqtt_enc_disconnect(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
			   const struct sl_mqtt_disconnect *d);
/* PINGREQ or PINGRESP (@type): the two-byte packets. */
int sl_mqtt_enc_ping(uint8_t *buf, size_t cap, uint8_t type);

/* What a server does about a packet it could not decode. */
enum sl_mqtt_answer {
	SL_MQTT_ANSWER_CLOSE = 0,	/* close the connection without a word */
	SL_MQTT_ANSWER_CONNACK = 1,	/* send CONNACK with the code, then close */
	SL_MQTT_ANSWER_DISCONNECT = 2,	/* send DISCONNECT with the code, then close */
};

/*
 * How a server answers decode failure @rc (a positive reason code, the
 * negation of what sl_mqtt_decode / sl_mqtt_frame returned), as both
 * specifications say: before the CONNECT is accepted (@connected false) a
 * level 5 client gets a CONNACK with @rc when @rc is a CONNACK reason
 * (4.13.1), a level 4 client a CONNACK with return code 1 (unsupported
 * level, [MQTT-3.1.2-2]) or 2 (client id, [MQTT-3.1.3-9]) and otherwise
 * only a close ([MQTT-3.1.4-1], [MQTT-4.8.0-1]); after it, a level 5
 * client gets a DISCONNECT with @rc (4.13.1) and a level 4 client a close.
 * @level: the connection's level, or for a failed CONNECT the level byte it
 * carried (p->u.connect.level; 0 when unknown: close). A level above 5 is
 * answered in the level 5 format. Sets *@code to the code to send
 * (a v3 return code for a level 4 CONNACK). Never fails.
 */
enum sl_mqtt_answer sl_mqtt_server_answer(uint8_t level, bool connected, uint8_t rc,
					  uint8_t *code);

/* The v3.1.1 CONNACK return code that stands for MQTT 5 reason @rc. */
uint8_t sl_mqtt_v3_connack_code(uint8_t rc);
/* The name of reason code @rc ("malformed packet"), "unknown" if none. */
const char *sl_mqtt_rc_name(uint8_t rc);
/* The name of packet type @type ("PUBLISH"), "reserved" if none. */
const char *sl_mqtt_type_name(uint8_t type);

#endif /* SLUICE_GATEWAY_MQTT_CODEC_H */
