/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT encoding (mqtt_codec.h): what a server sends (CONNACK, PUBLISH, the
 * acks, SUBACK, UNSUBACK, PINGRESP, DISCONNECT, AUTH) and what a client
 * sends (CONNECT, PUBLISH, the acks, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
 * DISCONNECT). Each packet's body is produced twice by the same function:
 * once counting (to write the remaining length first), once writing.
 */

#include <errno.h>
#include <string.h>

#include "mqtt_codec_internal.h"

/* A writer that counts every byte and stores those that fit. */
struct wr {
	uint8_t *p; /* NULL: count only */
	size_t cap;
	size_t len;
	int err; /* first -errno */
};

static void
put(struct wr *w, const void *d, size_t n)
{
	if (w->p != NULL && n && w->len + n <= w->cap)
		memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
put_u8(struct wr *w, uint8_t v)
{
	put(w, &v, 1);
}

static void
put_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 2);
}

static void
put_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 4);
}

static void
put_varint(struct wr *w, size_t v)
{
	if (v > SL_MQTT_MAX_REMAINING) {
		w->err = w->err ? w->err : -EMSGSIZE;
		return;
	}
	do {
		uint8_t b = v & 0x7F;

		v >>= 7;
		put_u8(w, (uint8_t)(b | (v ? 0x80 : 0)));
	} while (v);
}

/* Binary data or a UTF-8 string: two-byte length, bytes. */
static void
put_str(struct wr *w, const struct sl_mqtt_str *s)
{
	if (s->len > SL_MQTT_MAX_STR || (s->len && s->ptr == NULL)) {
		w->err = w->err ? w->err : (s->len > SL_MQTT_MAX_STR ? -EMSGSIZE : -EINVAL);
		return;
	}
	put_u16(w, (uint16_t)s->len);
	put(w, s->ptr, s->len);
}

static void
put_pair(struct wr *w, const struct sl_mqtt_user_prop *u)
{
	put_u8(w, SL_MQTT_P_USER_PROPERTY);
	put_str(w, &u->name);
	put_str(w, &u->value);
}

/* The single-valued property @id of @pr (its bit set), id first. */
static void
put_prop(struct wr *w, const struct sl_mqtt_props *pr, uint8_t id)
{
	const struct sl_mqtt_str *s = NULL;

	put_u8(w, id);
	switch (id) {
	case SL_MQTT_P_PAYLOAD_FORMAT: put_u8(w, pr->payload_format); return;
	case SL_MQTT_P_REQUEST_PROBLEM_INFO: put_u8(w, pr->request_problem_info); return;
	case SL_MQTT_P_REQUEST_RESPONSE_INFO: put_u8(w, pr->request_response_info); return;
	case SL_MQTT_P_MAX_QOS: put_u8(w, pr->max_qos); return;
	case SL_MQTT_P_RETAIN_AVAILABLE: put_u8(w, pr->retain_available); return;
	case SL_MQTT_P_WILDCARD_SUB_AVAILABLE: put_u8(w, pr->wildcard_sub_available); return;
	case SL_MQTT_P_SUB_ID_AVAILABLE: put_u8(w, pr->sub_id_available); return;
	case SL_MQTT_P_SHARED_SUB_AVAILABLE: put_u8(w, pr->shared_sub_available); return;
	case SL_MQTT_P_SERVER_KEEP_ALIVE: put_u16(w, pr->server_keep_alive); return;
	case SL_MQTT_P_RECEIVE_MAX: put_u16(w, pr->receive_max); return;
	case SL_MQTT_P_TOPIC_ALIAS_MAX: put_u16(w, pr->topic_alias_max); return;
	case SL_MQTT_P_TOPIC_ALIAS: put_u16(w, pr->topic_alias); return;
	case SL_MQTT_P_MESSAGE_EXPIRY: put_u32(w, pr->message_expiry); return;
	case SL_MQTT_P_SESSION_EXPIRY: put_u32(w, pr->session_expiry); return;
	case SL_MQTT_P_WILL_DELAY: put_u32(w, pr->will_delay); return;
	case SL_MQTT_P_MAX_PACKET_SIZE: put_u32(w, pr->max_packet_size); return;
	case SL_MQTT_P_CONTENT_TYPE: s = &pr->content_type; break;
	case SL_MQTT_P_RESPONSE_TOPIC: s = &pr->response_topic; break;
	case SL_MQTT_P_CORRELATION_DATA: s = &pr->correlation_data; break;
	case SL_MQTT_P_ASSIGNED_CLIENT_ID: s = &pr->assigned_client_id; break;
	case SL_MQTT_P_AUTH_METHOD: s = &pr->auth_method; break;
	case SL_MQTT_P_AUTH_DATA: s = &pr->auth_data; break;
	case SL_MQTT_P_RESPONSE_INFO: s = &pr->response_info; break;
	case SL_MQTT_P_SERVER_REFERENCE: s = &pr->server_reference; break;
	case SL_MQTT_P_REASON_STRING: s = &pr->reason_string; break;
	default: w->err = w->err ? w->err : -EINVAL; return;
	}
	put_str(w, s);
}

/* Every property of @pr, without the length prefix. */
static void
put_props_body(struct wr *w, const struct sl_mqtt_props *pr)
{
	uint64_t single = pr->present & ~(SL_MQTT_PBIT(SL_MQTT_P_USER_PROPERTY) |
					  SL_MQTT_PBIT(SL_MQTT_P_SUBSCRIPTION_ID));
	struct sl_mqtt_user_prop u;
	uint32_t i, off = 0;

	/* The set bits only, lowest identifier first. */
	for (; single; single &= single - 1)
		put_prop(w, pr, (uint8_t)__builtin_ctzll(single));
	if (pr->sub_ids != NULL) {
		for (i = 0; i < pr->n_sub_ids; i++) {
			put_u8(w, SL_MQTT_P_SUBSCRIPTION_ID);
			put_varint(w, pr->sub_ids[i]);
		}
	} else if (pr->present & SL_MQTT_PBIT(SL_MQTT_P_SUBSCRIPTION_ID)) {
		put_u8(w, SL_MQTT_P_SUBSCRIPTION_ID);
		put_varint(w, pr->sub_id);
	}
	if (pr->user != NULL) {
		for (i = 0; i < pr->n_user; i++)
			put_pair(w, &pr->user[i]);
	} else {
		/* Decoded properties forward their user properties as they came. */
		while (pr->raw != NULL && sl_mqtt_user_next(pr, &off, &u) == 1)
			put_pair(w, &u);
	}
}

static size_t
props_len(const struct sl_mqtt_props *pr)
{
	struct wr c = { 0 };

	/* The common case: nothing to write. */
	if (pr == NULL || (pr->present == 0 && (pr->user == NULL || pr->n_user == 0) &&
			   pr->raw == NULL && (pr->sub_ids == NULL || pr->n_sub_ids == 0)))
		return 0;
	put_props_body(&c, pr);
	return c.len;
}

/* A property block: length, then properties (level 5 only). */
static void
put_props(struct wr *w, uint8_t level, const struct sl_mqtt_props *pr)
{
	if (level != SL_MQTT_V5)
		return;
	put_varint(w, props_len(pr));
	if (pr != NULL)
		put_props_body(w, pr);
}

/* What a body writer gets: the level, the packet type and the packet. */
struct enc {
	uint8_t level;
	uint8_t type;
	const void *pkt;
};
typedef void (*body_fn)(struct wr *w, const struct enc *e);

/* Fixed header @hdr0, remaining length, body; the returns of mqtt_codec.h. */
static int
finish(uint8_t *buf, size_t cap, uint8_t hdr0, body_fn body, const struct enc *e)
{
	struct wr c = { 0 }, w = { buf, cap, 0, 0 };

	body(&c, e);
	if (c.err)
		return c.err;
	if (c.len > SL_MQTT_MAX_REMAINING)
		return -EMSGSIZE;
	put_u8(&w, hdr0);
	put_varint(&w, c.len);
	body(&w, e);
	if (buf != NULL && w.len > cap)
		return -ENOSPC;
	return (int)w.len;
}

static bool
level_ok(uint8_t level)
{
	return level == SL_MQTT_V311 || level == SL_MQTT_V5;
}

static void
connect_body(struct wr *w, const struct enc *e)
{
	const struct sl_mqtt_connect *c = e->pkt;
	const struct sl_mqtt_str name = { "MQTT", 4 };
	uint8_t fl = (uint8_t)((c->has_username ? 0x80 : 0) | (c->has_password ? 0x40 : 0) |
			       (c->will_retain ? 0x20 : 0) | (c->will_qos << 3) |
			       (c->will ? 0x04 : 0) | (c->clean_start ? 0x02 : 0));

	put_str(w, &name);
	put_u8(w, c->level);
	put_u8(w, fl);
	put_u16(w, c->keep_alive);
	put_props(w, c->level, &c->props);
	put_str(w, &c->client_id);
	if (c->will) {
		put_props(w, c->level, &c->will_props);
		put_str(w, &c->will_topic);
		put_str(w, &c->will_payload);
	}
	if (c->has_username)
		put_str(w, &c->username);
	if (c->has_password)
		put_str(w, &c->password);
}

int
sl_mqtt_enc_connect(uint8_t *buf, size_t cap, const struct sl_mqtt_connect *c)
{
	struct enc e = { c->level, SL_MQTT_CONNECT, c };

	if (!level_ok(c->level) || c->will_qos > 2 ||
	    (!c->will && (c->will_qos || c->will_retain)) ||
	    (c->level == SL_MQTT_V311 && c->has_password && !c->has_username))
		return -EINVAL;
	return finish(buf, cap, SL_MQTT_CONNECT << 4, connect_body, &e);
}

static void
connack_body(struct wr *w, const struct enc *e)
{
	const struct sl_mqtt_connack *c = e->pkt;

	put_u8(w, c->session_present ? 1 : 0);
	put_u8(w, c->rc);
	put_props(w, e->level, &c->props);
}

int
sl_mqtt_enc_connack(uint8_t *buf, size_t cap, uint8_t level, const struct sl_mqtt_connack *c)
{
	struct enc e = { level, SL_MQTT_CONNACK, c };

	if (!level_ok(level) || (c->rc != 0 && c->session_present))
		return -EINVAL; /* [MQTT-3.2.2-4], [MQTT-3.2.2-6] */
	return finish(buf, cap, SL_MQTT_CONNACK << 4, connack_body, &e);
}

static void
publish_body(struct wr *w, const struct enc *e)
{
	const struct sl_mqtt_publish *p = e->pkt;

	put_str(w, &p->topic);
	if (p->qos > 0)
		put_u16(w, p->packet_id);
	put_props(w, e->level, &p->props);
	if (p->payload.len && p->payload.ptr == NULL)
		w->err = w->err ? w->err : -EINVAL;
	else
		put(w, p->payload.ptr, p->payload.len);
}

int
sl_mqtt_enc_publish(uint8_t *buf, size_t cap, uint8_t level, const struct sl_mqtt_publish *p)
{
	struct enc e = { level, SL_MQTT_PUBLISH, p };
	uint8_t hdr0 = (uint8_t)(SL_MQTT_PUBLISH << 4 | (p->dup ? 0x08 : 0) | p->qos << 1 |
				 (p->retain ? 1 : 0));

	if (!level_ok(level) || p->qos > 2 || (p->qos > 0 && p->packet_id == 0) ||
	    (p->qos == 0 && p->dup))
		return -EINVAL; /* [MQTT-3.3.1-4], [MQTT-2.3.1-1], [MQTT-3.3.1-2] */
	return finish(buf, cap, hdr0, publish_body, &e);
}

static void
ack_body(struct wr *w, const struct enc *e)
{
	const struct sl_mqtt_ack *a = e->pkt;
	size_t pl = e->level == SL_MQTT_V5 ? props_len(&a->props) : 0;

	put_u16(w, a->packet_id);
	if (e->level != SL_MQTT_V5 || (a->rc == 0 && pl == 0))
		return; /* the short form (3.4.2.1) */
	put_u8(w, a->rc);
	if (pl)
		put_props(w, e->level, &a->props);
}

int
sl_mqtt_enc_ack(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		const struct sl_mqtt_ack *a)
{
	struct enc e = { level, type, a };

	if (!level_ok(level) || type < SL_MQTT_PUBACK || type > SL_MQTT_PUBCOMP ||
	    a->packet_id == 0)
		return -EINVAL;
	return finish(buf, cap, (uint8_t)(type << 4 | (type == SL_MQTT_PUBREL ? 2 : 0)), ack_body,
		      &e);
}

static void
subscribe_body(struct wr *w, const struct enc *e)
{
	const struct sl_mqtt_subscribe *s = e->pkt;
	uint32_t i;

	put_u16(w, s->packet_id);
	put_props(w, e->level, &s->props);
	for (i = 0; i < s->n; i++) {
		const struct sl_mqtt_sub_entry *x = &s->entries[i];

		put_str(w, &x->filter);
		if (e->type != SL_MQTT_SUBSCRIBE)
			continue;
		if (e->level == SL_MQTT_V5)
			put_u8(w, (uint8_t)(x->qos | (x->no_local ? SL_MQTT_SUB_NO_LOCAL : 0) |
					    (x->retain_as_published ? SL_MQTT_SUB_RAP : 0) |
					    x->retain_handling << SL_MQTT_SUB_RH_SHIFT));
		else
			put_u8(w, x->qos);
	}
}

int
sl_mqtt_enc_subscribe(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		      const struct sl_mqtt_subscribe *s)
{
	struct enc e = { level, type, s };
	uint32_t i;

	if (!level_ok(level) || (type != SL_MQTT_SUBSCRIBE && type != SL_MQTT_UNSUBSCRIBE) ||
	    s->n == 0 || s->entries == NULL || s->packet_id == 0)
		return -EINVAL;
	for (i = 0; i < s->n; i++)
		if (s->entries[i].qos > 2 || s->entries[i].retain_handling > 2)
			return -EINVAL;
	return finish(buf, cap, (uint8_t)(type << 4 | 2), subscribe_body, &e);
}

static void
suback_body(struct wr *w, const struct enc *e)
{
	const struct sl_mqtt_suback *s = e->pkt;

	put_u16(w, s->packet_id);
	put_props(w, e->level, &s->props);
	if (e->type == SL_MQTT_SUBACK || e->level == SL_MQTT_V5)
		put(w, s->rcs, s->n);
}

int
sl_mqtt_enc_suback(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		   const struct sl_mqtt_suback *s)
{
	struct enc e = { level, type, s };
	bool codes = type == SL_MQTT_SUBACK || level == SL_MQTT_V5;

	if (!level_ok(level) || (type != SL_MQTT_SUBACK && type != SL_MQTT_UNSUBACK) ||
	    s->packet_id == 0 || (codes && (s->n == 0 || s->rcs == NULL)))
		return -EINVAL;
	return finish(buf, cap, (uint8_t)(type << 4), suback_body, &e);
}

static void
disconnect_body(struct wr *w, const struct enc *e)
{
	const struct sl_mqtt_disconnect *d = e->pkt;
	size_t pl;

	if (e->level != SL_MQTT_V5 || d == NULL)
		return;
	pl = props_len(&d->props);
	if (d->rc == 0 && pl == 0)
		return; /* both omitted: Normal disconnection / Success */
	put_u8(w, d->rc);
	if (pl)
		put_props(w, e->level, &d->props);
}

int
sl_mqtt_enc_disconnect(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		       const struct sl_mqtt_disconnect *d)
{
	struct enc e = { level, type, d };

	if (!level_ok(level) || (type != SL_MQTT_DISCONNECT && type != SL_MQTT_AUTH) ||
	    (type == SL_MQTT_AUTH && level != SL_MQTT_V5))
		return -EINVAL;
	return finish(buf, cap, (uint8_t)(type << 4), disconnect_body, &e);
}

int
sl_mqtt_enc_ping(uint8_t *buf, size_t cap, uint8_t type)
{
	if (type != SL_MQTT_PINGREQ && type != SL_MQTT_PINGRESP)
		return -EINVAL;
	if (buf == NULL)
		return 2;
	if (cap < 2)
		return -ENOSPC;
	buf[0] = (uint8_t)(type << 4);
	buf[1] = 0;
	return 2;
}
