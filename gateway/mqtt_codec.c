/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT decoding, the shared part (mqtt_codec.h): framing, the bounded
 * reader, UTF-8 rules, properties and their iterators, names of codes. The
 * packet decoders are in mqtt_codec_dec.c, the encoders in mqtt_codec_enc.c.
 */

#include <errno.h>
#include <string.h>

#include "mqtt_codec_internal.h"
#include "mqtt_topic.h"

int
sl_mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet, struct sl_mqtt_frame *f)
{
	uint32_t rem = 0, shift = 0, hdr;
	unsigned i;

	if (max_packet == 0 || max_packet > SL_MQTT_MAX_PACKET)
		max_packet = SL_MQTT_MAX_PACKET;
	for (i = 1;; i++) {
		if (i > 4)
			return RC_MALFORMED; /* a fifth length byte [MQTT-1.5.5-1] */
		if (i >= len)
			return 0;
		rem |= (uint32_t)(buf[i] & 0x7F) << shift;
		if (!(buf[i] & 0x80)) {
			/* A last byte of 0 after others: not the minimal form. */
			if (buf[i] == 0 && i > 1)
				return RC_MALFORMED;
			break;
		}
		shift += 7;
	}
	hdr = i + 1;
	if ((uint64_t)hdr + rem > max_packet)
		return -SL_MQTT_RC_PACKET_TOO_LARGE;
	if (len - hdr < rem)
		return 0;
	f->type = buf[0] >> 4;
	f->flags = buf[0] & 0x0F;
	f->hdr_len = (uint8_t)hdr;
	f->remaining = rem;
	f->body = buf + hdr;
	return (int)(hdr + rem);
}

int
sl_mqtt_parse(const uint8_t *buf, size_t len, uint32_t max_packet, uint8_t level,
	      enum sl_mqtt_side side, struct sl_mqtt_packet *p)
{
	struct sl_mqtt_frame f;
	int n = sl_mqtt_frame(buf, len, max_packet, &f), rc;

	if (n <= 0)
		return n;
	rc = sl_mqtt_decode(&f, level, side, p);
	return rc < 0 ? rc : n;
}

bool
sl_mqtt_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, k, n;
	uint32_t cp;

	while (i < len) {
		uint8_t c = s[i];

		if (c < 0x80) {
			if (c == 0)
				return false; /* [MQTT-1.5.4-2] */
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) /* 0xC0, 0xC1: overlong */
			n = 1, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
			return false; /* overlong; surrogate [MQTT-1.5.4-1] */
		if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))
			return false;
		i += n + 1;
	}
	return true;
}

int
mqtt_rd_u8(struct mqtt_rd *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return RC_MALFORMED;
	*v = r->p[r->off++];
	return 0;
}

int
mqtt_rd_u16(struct mqtt_rd *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return RC_MALFORMED;
	*v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return 0;
}

int
mqtt_rd_u32(struct mqtt_rd *r, uint32_t *v)
{
	const uint8_t *b = r->p + r->off;

	if (rd_left(r) < 4)
		return RC_MALFORMED;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	r->off += 4;
	return 0;
}

int
mqtt_rd_varint(struct mqtt_rd *r, uint32_t *v)
{
	uint32_t val = 0;
	unsigned i;
	uint8_t b;

	for (i = 0; i < 4; i++) {
		if (mqtt_rd_u8(r, &b) < 0)
			return RC_MALFORMED;
		val |= (uint32_t)(b & 0x7F) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return RC_MALFORMED; /* not minimal [MQTT-1.5.5-1] */
			*v = val;
			return 0;
		}
	}
	return RC_MALFORMED;
}

int
mqtt_rd_bin(struct mqtt_rd *r, struct sl_mqtt_str *s)
{
	uint16_t n;

	if (mqtt_rd_u16(r, &n) < 0 || rd_left(r) < n)
		return RC_MALFORMED;
	s->ptr = (const char *)r->p + r->off;
	s->len = n;
	r->off += n;
	return 0;
}

int
mqtt_rd_str(struct mqtt_rd *r, struct sl_mqtt_str *s)
{
	if (mqtt_rd_bin(r, s) < 0)
		return RC_MALFORMED;
	if (!sl_mqtt_utf8_valid((const uint8_t *)s->ptr, s->len))
		return RC_MALFORMED; /* [MQTT-1.5.3-1], [MQTT-1.5.4-1..2] */
	return 0;
}

/* Value types of the properties, by identifier. */
enum { PT_NONE, PT_BYTE, PT_U16, PT_U32, PT_VARINT, PT_STR, PT_BIN, PT_PAIR };

static uint8_t
prop_type(uint32_t id)
{
	switch (id) {
	case SL_MQTT_P_PAYLOAD_FORMAT: case SL_MQTT_P_REQUEST_PROBLEM_INFO:
	case SL_MQTT_P_REQUEST_RESPONSE_INFO: case SL_MQTT_P_MAX_QOS:
	case SL_MQTT_P_RETAIN_AVAILABLE: case SL_MQTT_P_WILDCARD_SUB_AVAILABLE:
	case SL_MQTT_P_SUB_ID_AVAILABLE: case SL_MQTT_P_SHARED_SUB_AVAILABLE:
		return PT_BYTE;
	case SL_MQTT_P_SERVER_KEEP_ALIVE: case SL_MQTT_P_RECEIVE_MAX:
	case SL_MQTT_P_TOPIC_ALIAS_MAX: case SL_MQTT_P_TOPIC_ALIAS:
		return PT_U16;
	case SL_MQTT_P_MESSAGE_EXPIRY: case SL_MQTT_P_SESSION_EXPIRY:
	case SL_MQTT_P_WILL_DELAY: case SL_MQTT_P_MAX_PACKET_SIZE:
		return PT_U32;
	case SL_MQTT_P_SUBSCRIPTION_ID:
		return PT_VARINT;
	case SL_MQTT_P_CONTENT_TYPE: case SL_MQTT_P_RESPONSE_TOPIC:
	case SL_MQTT_P_ASSIGNED_CLIENT_ID: case SL_MQTT_P_AUTH_METHOD:
	case SL_MQTT_P_RESPONSE_INFO: case SL_MQTT_P_SERVER_REFERENCE:
	case SL_MQTT_P_REASON_STRING:
		return PT_STR;
	case SL_MQTT_P_CORRELATION_DATA: case SL_MQTT_P_AUTH_DATA:
		return PT_BIN;
	case SL_MQTT_P_USER_PROPERTY:
		return PT_PAIR;
	default:
		return PT_NONE;
	}
}

#define B(id) SL_MQTT_PBIT(SL_MQTT_P_##id)
const uint64_t mqtt_props_connect = B(SESSION_EXPIRY) | B(RECEIVE_MAX) | B(MAX_PACKET_SIZE) |
	B(TOPIC_ALIAS_MAX) | B(REQUEST_RESPONSE_INFO) | B(REQUEST_PROBLEM_INFO) |
	B(USER_PROPERTY) | B(AUTH_METHOD) | B(AUTH_DATA);
const uint64_t mqtt_props_will = B(WILL_DELAY) | B(PAYLOAD_FORMAT) | B(MESSAGE_EXPIRY) |
	B(CONTENT_TYPE) | B(RESPONSE_TOPIC) | B(CORRELATION_DATA) | B(USER_PROPERTY);
const uint64_t mqtt_props_connack = B(SESSION_EXPIRY) | B(RECEIVE_MAX) | B(MAX_QOS) |
	B(RETAIN_AVAILABLE) | B(MAX_PACKET_SIZE) | B(ASSIGNED_CLIENT_ID) | B(TOPIC_ALIAS_MAX) |
	B(REASON_STRING) | B(USER_PROPERTY) | B(WILDCARD_SUB_AVAILABLE) | B(SUB_ID_AVAILABLE) |
	B(SHARED_SUB_AVAILABLE) | B(SERVER_KEEP_ALIVE) | B(RESPONSE_INFO) |
	B(SERVER_REFERENCE) | B(AUTH_METHOD) | B(AUTH_DATA);
const uint64_t mqtt_props_publish = B(PAYLOAD_FORMAT) | B(MESSAGE_EXPIRY) | B(TOPIC_ALIAS) |
	B(RESPONSE_TOPIC) | B(CORRELATION_DATA) | B(USER_PROPERTY) | B(SUBSCRIPTION_ID) |
	B(CONTENT_TYPE);
const uint64_t mqtt_props_ack = B(REASON_STRING) | B(USER_PROPERTY);
const uint64_t mqtt_props_subscribe = B(SUBSCRIPTION_ID) | B(USER_PROPERTY);
const uint64_t mqtt_props_unsubscribe = B(USER_PROPERTY);
const uint64_t mqtt_props_disconnect = B(SESSION_EXPIRY) | B(REASON_STRING) |
	B(USER_PROPERTY) | B(SERVER_REFERENCE);
const uint64_t mqtt_props_auth = B(AUTH_METHOD) | B(AUTH_DATA) | B(REASON_STRING) |
	B(USER_PROPERTY);
#undef B

/* A one-byte property: every one of them is a 0/1 flag except Maximum QoS. */
static int
prop_byte(struct sl_mqtt_props *pr, uint32_t id, uint8_t v)
{
	if (v > 1)
		return RC_PROTOCOL; /* each names "a value other than 0 or 1" */
	switch (id) {
	case SL_MQTT_P_PAYLOAD_FORMAT: pr->payload_format = v; break;
	case SL_MQTT_P_REQUEST_PROBLEM_INFO: pr->request_problem_info = v; break;
	case SL_MQTT_P_REQUEST_RESPONSE_INFO: pr->request_response_info = v; break;
	case SL_MQTT_P_MAX_QOS: pr->max_qos = v; break;
	case SL_MQTT_P_RETAIN_AVAILABLE: pr->retain_available = v; break;
	case SL_MQTT_P_WILDCARD_SUB_AVAILABLE: pr->wildcard_sub_available = v; break;
	case SL_MQTT_P_SUB_ID_AVAILABLE: pr->sub_id_available = v; break;
	default: pr->shared_sub_available = v; break;
	}
	return 0;
}

static int
prop_u16(struct sl_mqtt_props *pr, uint32_t id, uint16_t v)
{
	switch (id) {
	case SL_MQTT_P_SERVER_KEEP_ALIVE: pr->server_keep_alive = v; break;
	case SL_MQTT_P_RECEIVE_MAX:
		if (v == 0)
			return RC_PROTOCOL; /* 3.1.2.11.3, 3.2.2.3.3 */
		pr->receive_max = v;
		break;
	case SL_MQTT_P_TOPIC_ALIAS_MAX: pr->topic_alias_max = v; break;
	default:
		if (v == 0)
			return -SL_MQTT_RC_TOPIC_ALIAS_INVALID; /* [MQTT-3.3.2-8] */
		pr->topic_alias = v;
		break;
	}
	return 0;
}

static int
prop_u32(struct sl_mqtt_props *pr, uint32_t id, uint32_t v)
{
	switch (id) {
	case SL_MQTT_P_MESSAGE_EXPIRY: pr->message_expiry = v; break;
	case SL_MQTT_P_SESSION_EXPIRY: pr->session_expiry = v; break;
	case SL_MQTT_P_WILL_DELAY: pr->will_delay = v; break;
	default:
		if (v == 0)
			return RC_PROTOCOL; /* 3.1.2.11.4, 3.2.2.3.6 */
		pr->max_packet_size = v;
		break;
	}
	return 0;
}

static struct sl_mqtt_str *
prop_str_field(struct sl_mqtt_props *pr, uint32_t id)
{
	switch (id) {
	case SL_MQTT_P_CONTENT_TYPE: return &pr->content_type;
	case SL_MQTT_P_RESPONSE_TOPIC: return &pr->response_topic;
	case SL_MQTT_P_CORRELATION_DATA: return &pr->correlation_data;
	case SL_MQTT_P_ASSIGNED_CLIENT_ID: return &pr->assigned_client_id;
	case SL_MQTT_P_AUTH_METHOD: return &pr->auth_method;
	case SL_MQTT_P_AUTH_DATA: return &pr->auth_data;
	case SL_MQTT_P_RESPONSE_INFO: return &pr->response_info;
	case SL_MQTT_P_SERVER_REFERENCE: return &pr->server_reference;
	default: return &pr->reason_string;
	}
}

/* Read one property's value (its id already read and allowed). */
static int
prop_one(struct mqtt_rd *r, uint32_t id, struct sl_mqtt_props *pr)
{
	struct sl_mqtt_str s, v;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;

	switch (prop_type(id)) {
	case PT_BYTE:
		return mqtt_rd_u8(r, &u8) < 0 ? RC_MALFORMED : prop_byte(pr, id, u8);
	case PT_U16:
		return mqtt_rd_u16(r, &u16) < 0 ? RC_MALFORMED : prop_u16(pr, id, u16);
	case PT_U32:
		return mqtt_rd_u32(r, &u32) < 0 ? RC_MALFORMED : prop_u32(pr, id, u32);
	case PT_VARINT:
		if (mqtt_rd_varint(r, &u32) < 0)
			return RC_MALFORMED;
		if (u32 == 0)
			return RC_PROTOCOL; /* 3.3.2.3.8, 3.8.2.1.2 */
		if (pr->n_sub_ids++ == 0)
			pr->sub_id = u32;
		return 0;
	case PT_STR:
		if (mqtt_rd_str(r, &s) < 0)
			return RC_MALFORMED;
		if (id == SL_MQTT_P_RESPONSE_TOPIC && !sl_mqtt_topic_name_valid(s.ptr, s.len))
			return RC_PROTOCOL; /* [MQTT-3.3.2-13], [MQTT-3.3.2-14] */
		*prop_str_field(pr, id) = s;
		return 0;
	case PT_BIN:
		if (mqtt_rd_bin(r, &s) < 0)
			return RC_MALFORMED;
		*prop_str_field(pr, id) = s;
		return 0;
	default: /* PT_PAIR */
		if (mqtt_rd_str(r, &s) < 0 || mqtt_rd_str(r, &v) < 0)
			return RC_MALFORMED;
		pr->n_user++;
		return 0;
	}
}

int
mqtt_rd_props(struct mqtt_rd *r, uint64_t allowed, struct sl_mqtt_props *pr)
{
	struct mqtt_rd b;
	uint32_t plen, id;
	int rc;

	memset(pr, 0, sizeof(*pr));
	if (mqtt_rd_varint(r, &plen) < 0 || plen > rd_left(r))
		return RC_MALFORMED;
	b = (struct mqtt_rd){ r->p + r->off, plen, 0 };
	r->off += plen;
	pr->raw = plen ? b.p : NULL;
	pr->raw_len = plen;
	while (rd_left(&b)) {
		if (mqtt_rd_varint(&b, &id) < 0)
			return RC_MALFORMED;
		/* An identifier not valid for the packet: malformed (2.2.2.2). */
		if (id >= 64 || !(allowed & SL_MQTT_PBIT(id)))
			return RC_MALFORMED;
		/* Only these two may repeat; any other twice is a protocol error. */
		if ((pr->present & SL_MQTT_PBIT(id)) && id != SL_MQTT_P_USER_PROPERTY &&
		    id != SL_MQTT_P_SUBSCRIPTION_ID)
			return RC_PROTOCOL;
		rc = prop_one(&b, id, pr);
		if (rc < 0)
			return rc;
		pr->present |= SL_MQTT_PBIT(id);
	}
	return 0;
}

/* Step over one property of a block the decoder accepted. */
static void
prop_walk(struct mqtt_rd *r, uint32_t *id, struct sl_mqtt_user_prop *u, uint32_t *varint)
{
	struct sl_mqtt_str s;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	(void)mqtt_rd_varint(r, id);
	switch (prop_type(*id)) {
	case PT_BYTE: (void)mqtt_rd_u8(r, &v8); break;
	case PT_U16: (void)mqtt_rd_u16(r, &v16); break;
	case PT_U32: (void)mqtt_rd_u32(r, &v32); break;
	case PT_VARINT: (void)mqtt_rd_varint(r, varint); break;
	case PT_STR:
	case PT_BIN: (void)mqtt_rd_bin(r, &s); break;
	case PT_PAIR:
		(void)mqtt_rd_bin(r, &u->name);
		(void)mqtt_rd_bin(r, &u->value);
		break;
	default:
		r->off = r->len; /* not from the decoder: stop */
		break;
	}
}

int
sl_mqtt_user_next(const struct sl_mqtt_props *pr, uint32_t *off, struct sl_mqtt_user_prop *u)
{
	struct mqtt_rd r = { pr->raw, pr->raw_len, *off };
	uint32_t id, v;

	while (r.off < r.len) {
		prop_walk(&r, &id, u, &v);
		*off = r.off;
		if (id == SL_MQTT_P_USER_PROPERTY)
			return 1;
	}
	return 0;
}

int
sl_mqtt_sub_id_next(const struct sl_mqtt_props *pr, uint32_t *off, uint32_t *sub_id)
{
	struct mqtt_rd r = { pr->raw, pr->raw_len, *off };
	struct sl_mqtt_user_prop u;
	uint32_t id;

	while (r.off < r.len) {
		prop_walk(&r, &id, &u, sub_id);
		*off = r.off;
		if (id == SL_MQTT_P_SUBSCRIPTION_ID)
			return 1;
	}
	return 0;
}

int
sl_mqtt_sub_next(const struct sl_mqtt_subscribe *s, uint8_t type, uint32_t *off,
		 struct sl_mqtt_sub_entry *e)
{
	struct mqtt_rd r = { s->raw, s->raw_len, *off };
	uint8_t o = 0;

	if (r.off >= r.len || mqtt_rd_bin(&r, &e->filter) < 0)
		return 0;
	if (type == SL_MQTT_SUBSCRIBE && mqtt_rd_u8(&r, &o) < 0)
		return 0;
	*off = r.off;
	e->qos = o & SL_MQTT_SUB_QOS_MASK;
	e->no_local = (o & SL_MQTT_SUB_NO_LOCAL) != 0;
	e->retain_as_published = (o & SL_MQTT_SUB_RAP) != 0;
	e->retain_handling = (o >> SL_MQTT_SUB_RH_SHIFT) & 3;
	e->filter_rc = sl_mqtt_topic_filter_valid(e->filter.ptr, e->filter.len) ?
		0 : SL_MQTT_RC_TOPIC_FILTER_INVALID;
	return 1;
}

uint8_t
sl_mqtt_v3_connack_code(uint8_t rc)
{
	switch (rc) {
	case SL_MQTT_RC_SUCCESS: return SL_MQTT_V3_ACCEPTED;
	case SL_MQTT_RC_UNSUPPORTED_VERSION: return SL_MQTT_V3_BAD_VERSION;
	case SL_MQTT_RC_CLIENT_ID_INVALID: return SL_MQTT_V3_ID_REJECTED;
	case SL_MQTT_RC_BAD_USER_OR_PASSWORD:
	case SL_MQTT_RC_BAD_AUTH_METHOD: return SL_MQTT_V3_BAD_USER_OR_PASSWORD;
	case SL_MQTT_RC_NOT_AUTHORIZED:
	case SL_MQTT_RC_BANNED: return SL_MQTT_V3_NOT_AUTHORIZED;
	default: return SL_MQTT_V3_SERVER_UNAVAILABLE;
	}
}

const char *
sl_mqtt_rc_name(uint8_t rc)
{
	switch (rc) {
#define SL_MQTT_RC_CASE(name, val, text) case val: return text;
		SL_MQTT_RC_LIST(SL_MQTT_RC_CASE)
#undef SL_MQTT_RC_CASE
	default: return "unknown";
	}
}

const char *
sl_mqtt_type_name(uint8_t type)
{
	static const char *const names[16] = {
		"reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
		"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
		"PINGRESP", "DISCONNECT", "AUTH",
	};

	return type < 16 ? names[type] : "reserved";
}
