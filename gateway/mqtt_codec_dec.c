/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT decoding, packet by packet (mqtt_codec.h): the fixed header rules,
 * then each packet type's variable header, properties and payload at
 * protocol levels 4 and 5. Comments cite the normative statements
 * ([MQTT-x.x.x-y]) each check enforces; docs/MQTT.md has the table.
 */

#include <errno.h>
#include <string.h>

#include "mqtt_codec_internal.h"
#include "mqtt_topic.h"

/* Packet types each side receives. */
#define T(t) (1u << SL_MQTT_##t)
static const uint32_t server_rx = T(CONNECT) | T(PUBLISH) | T(PUBACK) | T(PUBREC) |
	T(PUBREL) | T(PUBCOMP) | T(SUBSCRIBE) | T(UNSUBSCRIBE) | T(PINGREQ) | T(DISCONNECT) |
	T(AUTH);
static const uint32_t client_rx = T(CONNACK) | T(PUBLISH) | T(PUBACK) | T(PUBREC) |
	T(PUBREL) | T(PUBCOMP) | T(SUBACK) | T(UNSUBACK) | T(PINGRESP) | T(DISCONNECT) |
	T(AUTH);
#undef T

/* Is @rc one of the @n codes of @set? */
static bool
rc_in(uint8_t rc, const uint8_t *set, size_t n)
{
	return memchr(set, rc, n) != NULL;
}

/* The level 5 reason codes each packet may carry (section 3.x.2.1). */
static const uint8_t rc_puback[] = { 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99 };
static const uint8_t rc_pubrel[] = { 0x00, 0x92 };
static const uint8_t rc_suback[] = { 0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97,
				     0x9E, 0xA1, 0xA2 };
static const uint8_t rc_unsuback[] = { 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91 };
static const uint8_t rc_disconnect[] = { 0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89,
					 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
					 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D,
					 0x9E, 0x9F, 0xA0, 0xA1, 0xA2 };
static const uint8_t rc_auth[] = { 0x00, 0x18, 0x19 };
static const uint8_t rc_connack[] = { 0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
				      0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A,
				      0x9B, 0x9C, 0x9D, 0x9F };

/* The rest of the packet must have been read: bytes left over are malformed. */
static int
rd_end(const struct mqtt_rd *r)
{
	return rd_left(r) ? RC_MALFORMED : 0;
}

/* Auth data without a method is a protocol error (3.1.2.11.10, 3.15.2.2.3). */
static int
auth_pair(const struct sl_mqtt_props *pr)
{
	if ((pr->present & SL_MQTT_PBIT(SL_MQTT_P_AUTH_DATA)) &&
	    !(pr->present & SL_MQTT_PBIT(SL_MQTT_P_AUTH_METHOD)))
		return RC_PROTOCOL;
	return 0;
}

/* CONNECT's protocol name and level; the rest is mqtt_dec_connect's. */
static int
connect_proto(struct mqtt_rd *r, struct sl_mqtt_connect *c)
{
	struct sl_mqtt_str name;
	uint8_t level;

	if (mqtt_rd_bin(r, &name) < 0 || mqtt_rd_u8(r, &level) < 0)
		return RC_MALFORMED;
	c->level = level;
	/* [MQTT-3.1.2-1], [MQTT-3.1.2-2]: a v5 server answers 0x84, v3.1.1 code 1. */
	if (name.len != 4 || memcmp(name.ptr, "MQTT", 4) != 0)
		return -SL_MQTT_RC_UNSUPPORTED_VERSION;
	if (level != SL_MQTT_V311 && level != SL_MQTT_V5)
		return -SL_MQTT_RC_UNSUPPORTED_VERSION;
	return 0;
}

/* CONNECT's flags byte [MQTT-3.1.2-3], [MQTT-3.1.2-11..15], [MQTT-3.1.2-22]. */
static int
connect_flags(struct sl_mqtt_connect *c, uint8_t fl)
{
	if (fl & 0x01)
		return RC_MALFORMED; /* reserved bit [MQTT-3.1.2-3] */
	c->clean_start = (fl & 0x02) != 0;
	c->will = (fl & 0x04) != 0;
	c->will_qos = (fl >> 3) & 3;
	c->will_retain = (fl & 0x20) != 0;
	c->has_password = (fl & 0x40) != 0;
	c->has_username = (fl & 0x80) != 0;
	if (c->will_qos == 3)
		return RC_MALFORMED; /* [MQTT-3.1.2-14] */
	if (!c->will && (c->will_qos || c->will_retain))
		return RC_MALFORMED; /* [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15] */
	if (c->level == SL_MQTT_V311 && c->has_password && !c->has_username)
		return RC_MALFORMED; /* [MQTT-3.1.2-22] */
	return 0;
}

/* The will: properties (level 5), topic, payload [MQTT-3.1.3-10]. */
static int
connect_will(struct mqtt_rd *r, struct sl_mqtt_connect *c)
{
	int rc;

	if (c->level == SL_MQTT_V5) {
		rc = mqtt_rd_props(r, mqtt_props_will, &c->will_props);
		if (rc < 0)
			return rc;
	}
	if (mqtt_rd_str(r, &c->will_topic) < 0 || mqtt_rd_bin(r, &c->will_payload) < 0)
		return RC_MALFORMED;
	if (!sl_mqtt_topic_name_valid(c->will_topic.ptr, c->will_topic.len))
		return -SL_MQTT_RC_TOPIC_NAME_INVALID; /* [MQTT-3.1.3-11], 4.7.3 */
	return 0;
}

int
mqtt_dec_connect(struct mqtt_rd *r, struct sl_mqtt_connect *c)
{
	uint8_t fl;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = connect_proto(r, c);
	if (rc < 0)
		return rc;
	if (mqtt_rd_u8(r, &fl) < 0 || mqtt_rd_u16(r, &c->keep_alive) < 0)
		return RC_MALFORMED;
	rc = connect_flags(c, fl);
	if (rc < 0)
		return rc;
	if (c->level == SL_MQTT_V5) {
		rc = mqtt_rd_props(r, mqtt_props_connect, &c->props);
		if (rc < 0 || (rc = auth_pair(&c->props)) < 0)
			return rc;
	}
	if (mqtt_rd_str(r, &c->client_id) < 0)
		return RC_MALFORMED; /* [MQTT-3.1.3-4] */
	/* Level 4: an empty id needs Clean Session 1 [MQTT-3.1.3-8] (code 2). */
	if (c->level == SL_MQTT_V311 && c->client_id.len == 0 && !c->clean_start)
		return -SL_MQTT_RC_CLIENT_ID_INVALID;
	if (c->will && (rc = connect_will(r, c)) < 0)
		return rc;
	if (c->has_username && mqtt_rd_str(r, &c->username) < 0)
		return RC_MALFORMED; /* [MQTT-3.1.3-11] */
	if (c->has_password && mqtt_rd_bin(r, &c->password) < 0)
		return RC_MALFORMED;
	return rd_end(r);
}

static int
dec_connack(struct mqtt_rd *r, uint8_t level, struct sl_mqtt_connack *c)
{
	uint8_t fl;
	int rc;

	memset(c, 0, sizeof(*c));
	if (mqtt_rd_u8(r, &fl) < 0 || mqtt_rd_u8(r, &c->rc) < 0)
		return RC_MALFORMED;
	if (fl & 0xFE)
		return RC_MALFORMED; /* reserved [MQTT-3.2.2-1] */
	c->session_present = fl & 1;
	if (level == SL_MQTT_V5) {
		if (!rc_in(c->rc, rc_connack, sizeof(rc_connack)))
			return RC_PROTOCOL;
		rc = mqtt_rd_props(r, mqtt_props_connack, &c->props);
		if (rc < 0 || (rc = auth_pair(&c->props)) < 0)
			return rc;
	} else if (c->rc > SL_MQTT_V3_NOT_AUTHORIZED) {
		return RC_PROTOCOL;
	}
	if (c->rc != 0 && c->session_present)
		return RC_PROTOCOL; /* [MQTT-3.2.2-4] (3.1.1), [MQTT-3.2.2-6] (5.0) */
	return rd_end(r);
}

/* PUBLISH's fixed header flags [MQTT-3.3.1-2], [MQTT-3.3.1-4]. */
static int
publish_flags(struct sl_mqtt_publish *p, uint8_t flags)
{
	p->dup = (flags & 0x08) != 0;
	p->qos = (flags >> 1) & 3;
	p->retain = (flags & 0x01) != 0;
	if (p->qos == 3)
		return RC_MALFORMED; /* [MQTT-3.3.1-4] */
	if (p->dup && p->qos == 0)
		return RC_MALFORMED; /* [MQTT-3.3.1-2] */
	return 0;
}

static int
dec_publish(struct mqtt_rd *r, uint8_t flags, uint8_t level, enum sl_mqtt_side side,
	    struct sl_mqtt_publish *p)
{
	int rc;

	memset(p, 0, sizeof(*p));
	rc = publish_flags(p, flags);
	if (rc < 0)
		return rc;
	if (mqtt_rd_str(r, &p->topic) < 0)
		return RC_MALFORMED;
	if (p->qos > 0) {
		if (mqtt_rd_u16(r, &p->packet_id) < 0)
			return RC_MALFORMED;
		if (p->packet_id == 0)
			return RC_PROTOCOL; /* [MQTT-2.3.1-1] (3.1.1), [MQTT-2.2.1-3] (5.0) */
	}
	if (level == SL_MQTT_V5) {
		rc = mqtt_rd_props(r, mqtt_props_publish, &p->props);
		if (rc < 0)
			return rc;
		/* A client never sends a subscription identifier [MQTT-3.3.4-6]. */
		if (side == SL_MQTT_SERVER && p->props.n_sub_ids)
			return RC_PROTOCOL;
	}
	if (p->topic.len == 0) {
		/* Level 5: an empty name needs a topic alias (3.3.2.3.4). */
		if (level != SL_MQTT_V5)
			return -SL_MQTT_RC_TOPIC_NAME_INVALID; /* [MQTT-4.7.3-1] */
		if (!p->props.topic_alias)
			return RC_PROTOCOL;
	} else if (!sl_mqtt_topic_name_valid(p->topic.ptr, p->topic.len)) {
		/* Wildcards are not allowed in a topic name [MQTT-3.3.2-2]. */
		return -SL_MQTT_RC_TOPIC_NAME_INVALID;
	}
	p->payload.ptr = (const char *)r->p + r->off;
	p->payload.len = rd_left(r);
	r->off = r->len;
	return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP: packet id, then (level 5) reason and properties. */
static int
dec_ack(struct mqtt_rd *r, uint8_t type, uint8_t level, struct sl_mqtt_ack *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (mqtt_rd_u16(r, &a->packet_id) < 0)
		return RC_MALFORMED;
	if (a->packet_id == 0)
		return RC_PROTOCOL; /* [MQTT-2.3.1-1], [MQTT-2.2.1-3] */
	if (level != SL_MQTT_V5 || rd_left(r) == 0)
		return rd_end(r); /* level 5 short form: Success (3.4.2.1) */
	(void)mqtt_rd_u8(r, &a->rc);
	if (type == SL_MQTT_PUBACK || type == SL_MQTT_PUBREC) {
		if (!rc_in(a->rc, rc_puback, sizeof(rc_puback)))
			return RC_PROTOCOL;
	} else if (!rc_in(a->rc, rc_pubrel, sizeof(rc_pubrel))) {
		return RC_PROTOCOL;
	}
	if (rd_left(r) == 0)
		return 0; /* no property length: no properties (3.4.2.2.1) */
	rc = mqtt_rd_props(r, mqtt_props_ack, &a->props);
	return rc < 0 ? rc : rd_end(r);
}

/* One SUBSCRIBE entry's options byte (3.8.3.1). */
static int
sub_options(const struct sl_mqtt_str *filter, uint8_t o, uint8_t level)
{
	if ((o & SL_MQTT_SUB_QOS_MASK) == 3)
		return level == SL_MQTT_V5 ? RC_PROTOCOL : RC_MALFORMED; /* [MQTT-3-8.3-4] */
	if (level != SL_MQTT_V5)
		return (o & 0xFC) ? RC_MALFORMED : 0; /* reserved bits [MQTT-3-8.3-4] */
	if (o & 0xC0)
		return RC_MALFORMED; /* reserved bits [MQTT-3.8.3-5] */
	if (((o >> SL_MQTT_SUB_RH_SHIFT) & 3) == 3)
		return RC_PROTOCOL; /* retain handling 3 (3.8.3.1) */
	/* No Local on a shared subscription [MQTT-3.8.3-4] (5.0). */
	if ((o & SL_MQTT_SUB_NO_LOCAL) && filter->len >= 7 &&
	    memcmp(filter->ptr, SL_MQTT_SHARE_PREFIX, 7) == 0)
		return RC_PROTOCOL;
	return 0;
}

/* SUBSCRIBE's and UNSUBSCRIBE's entries: at least one, each well-formed. */
static int
sub_entries(struct mqtt_rd *r, uint8_t type, uint8_t level, struct sl_mqtt_subscribe *s)
{
	struct sl_mqtt_str f;
	uint8_t o;
	int rc;

	s->raw = r->p + r->off;
	s->raw_len = rd_left(r);
	while (rd_left(r)) {
		if (mqtt_rd_str(r, &f) < 0)
			return RC_MALFORMED;
		if (type == SL_MQTT_SUBSCRIBE) {
			if (mqtt_rd_u8(r, &o) < 0)
				return RC_MALFORMED;
			rc = sub_options(&f, o, level);
			if (rc < 0)
				return rc;
		}
		/* Level 4 has no per-entry refusal for a bad filter: close. */
		if (level != SL_MQTT_V5 && !sl_mqtt_topic_filter_valid(f.ptr, f.len))
			return -SL_MQTT_RC_TOPIC_FILTER_INVALID;
		s->n++;
	}
	/* [MQTT-3.8.3-3], [MQTT-3.10.3-2]: at least one entry. */
	return s->n ? 0 : RC_PROTOCOL;
}

static int
dec_subscribe(struct mqtt_rd *r, uint8_t type, uint8_t level, struct sl_mqtt_subscribe *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if (mqtt_rd_u16(r, &s->packet_id) < 0)
		return RC_MALFORMED;
	if (s->packet_id == 0)
		return RC_PROTOCOL; /* [MQTT-2.3.1-1], [MQTT-2.2.1-3] */
	if (level == SL_MQTT_V5) {
		rc = mqtt_rd_props(r, type == SL_MQTT_SUBSCRIBE ? mqtt_props_subscribe :
				   mqtt_props_unsubscribe, &s->props);
		if (rc < 0)
			return rc;
		if (s->props.n_sub_ids > 1)
			return RC_PROTOCOL; /* given twice (3.8.2.1.2) */
	}
	return sub_entries(r, type, level, s);
}

static int
dec_suback(struct mqtt_rd *r, uint8_t type, uint8_t level, struct sl_mqtt_suback *s)
{
	uint32_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	if (mqtt_rd_u16(r, &s->packet_id) < 0)
		return RC_MALFORMED;
	if (s->packet_id == 0)
		return RC_PROTOCOL;
	if (level == SL_MQTT_V5 && (rc = mqtt_rd_props(r, mqtt_props_ack, &s->props)) < 0)
		return rc;
	s->rcs = r->p + r->off;
	s->n = rd_left(r);
	r->off = r->len;
	if (type == SL_MQTT_UNSUBACK && level != SL_MQTT_V5)
		return s->n ? RC_MALFORMED : 0; /* 3.1.1 UNSUBACK: packet id only */
	if (s->n == 0)
		return RC_PROTOCOL;
	for (i = 0; i < s->n; i++) {
		if (type == SL_MQTT_UNSUBACK) {
			if (!rc_in(s->rcs[i], rc_unsuback, sizeof(rc_unsuback)))
				return RC_PROTOCOL;
		} else if (level == SL_MQTT_V5 ? !rc_in(s->rcs[i], rc_suback, sizeof(rc_suback)) :
			   (s->rcs[i] > 2 && s->rcs[i] != SL_MQTT_V3_SUBACK_FAILURE)) {
			return RC_PROTOCOL; /* [MQTT-3.9.3-2] (3.1.1) */
		}
	}
	return 0;
}

/* DISCONNECT and AUTH (level 5; level 4 DISCONNECT is empty [MQTT-3.14.1-1]). */
static int
dec_disconnect(struct mqtt_rd *r, uint8_t type, uint8_t level, enum sl_mqtt_side side,
	       struct sl_mqtt_disconnect *d)
{
	int rc;

	memset(d, 0, sizeof(*d));
	if (level != SL_MQTT_V5 || rd_left(r) == 0)
		return rd_end(r); /* omitted: Normal disconnection / Success */
	(void)mqtt_rd_u8(r, &d->rc);
	if (type == SL_MQTT_AUTH ? !rc_in(d->rc, rc_auth, sizeof(rc_auth)) :
	    !rc_in(d->rc, rc_disconnect, sizeof(rc_disconnect)))
		return RC_PROTOCOL;
	/* 0x04 (with will) is only a client's; 3.14.2.1. */
	if (type == SL_MQTT_DISCONNECT && side == SL_MQTT_CLIENT && d->rc == 0x04)
		return RC_PROTOCOL;
	if (rd_left(r) == 0)
		return 0;
	rc = mqtt_rd_props(r, type == SL_MQTT_AUTH ? mqtt_props_auth : mqtt_props_disconnect,
			   &d->props);
	if (rc < 0 || (rc = auth_pair(&d->props)) < 0)
		return rc;
	/* A server's DISCONNECT carries no session expiry [MQTT-3.14.2-2]. */
	if (side == SL_MQTT_CLIENT &&
	    (d->props.present & SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY)))
		return RC_PROTOCOL;
	return rd_end(r);
}

/* The fixed header's checks, before the body: type, flags, direction, level. */
static int
check_header(const struct sl_mqtt_frame *f, uint8_t level, enum sl_mqtt_side side)
{
	uint8_t want;

	if (f->type == 0)
		return RC_MALFORMED; /* reserved type (2.1.2) */
	if (f->type != SL_MQTT_CONNECT) {
		if (level == 0)
			return RC_PROTOCOL; /* CONNECT first [MQTT-3.1.0-1] */
		if (level != SL_MQTT_V311 && level != SL_MQTT_V5)
			return -SL_MQTT_RC_UNSUPPORTED_VERSION;
		if (f->type == SL_MQTT_AUTH && level == SL_MQTT_V311)
			return RC_MALFORMED; /* type 15 is reserved in 3.1.1 */
	}
	/* [MQTT-2.2.2-1], [MQTT-2.2.2-2] (3.1.1); [MQTT-2.1.3-1] (5.0). */
	want = (f->type == SL_MQTT_PUBREL || f->type == SL_MQTT_SUBSCRIBE ||
		f->type == SL_MQTT_UNSUBSCRIBE) ? 0x02 : 0x00;
	if (f->type != SL_MQTT_PUBLISH && f->flags != want)
		return RC_MALFORMED;
	if (!((side == SL_MQTT_SERVER ? server_rx : client_rx) & (1u << f->type)))
		return RC_PROTOCOL;
	return 0;
}

int
sl_mqtt_decode(const struct sl_mqtt_frame *f, uint8_t level, enum sl_mqtt_side side,
	       struct sl_mqtt_packet *p)
{
	struct mqtt_rd r = { f->body, f->remaining, 0 };
	int rc;

	p->type = f->type;
	p->flags = f->flags;
	p->level = level;
	if (f->type == SL_MQTT_CONNECT)
		p->u.connect.level = 0;
	rc = check_header(f, level, side);
	if (rc < 0)
		return rc;
	switch (f->type) {
	case SL_MQTT_CONNECT:
		rc = mqtt_dec_connect(&r, &p->u.connect);
		p->level = p->u.connect.level;
		return rc;
	case SL_MQTT_CONNACK:
		return dec_connack(&r, level, &p->u.connack);
	case SL_MQTT_PUBLISH:
		return dec_publish(&r, f->flags, level, side, &p->u.publish);
	case SL_MQTT_PUBACK:
	case SL_MQTT_PUBREC:
	case SL_MQTT_PUBREL:
	case SL_MQTT_PUBCOMP:
		return dec_ack(&r, f->type, level, &p->u.ack);
	case SL_MQTT_SUBSCRIBE:
	case SL_MQTT_UNSUBSCRIBE:
		return dec_subscribe(&r, f->type, level, &p->u.subscribe);
	case SL_MQTT_SUBACK:
	case SL_MQTT_UNSUBACK:
		return dec_suback(&r, f->type, level, &p->u.suback);
	case SL_MQTT_DISCONNECT:
	case SL_MQTT_AUTH:
		return dec_disconnect(&r, f->type, level, side, &p->u.disconnect);
	default: /* PINGREQ, PINGRESP */
		return rd_end(&r);
	}
}

enum sl_mqtt_answer
sl_mqtt_server_answer(uint8_t level, bool connected, uint8_t rc, uint8_t *code)
{
	*code = rc;
	if (level == 0)
		return SL_MQTT_ANSWER_CLOSE;
	if (level < SL_MQTT_V5) {
		if (connected)
			return SL_MQTT_ANSWER_CLOSE; /* [MQTT-4.8.0-1] */
		if (rc != SL_MQTT_RC_UNSUPPORTED_VERSION && rc != SL_MQTT_RC_CLIENT_ID_INVALID)
			return SL_MQTT_ANSWER_CLOSE; /* [MQTT-3.1.4-1] */
		*code = sl_mqtt_v3_connack_code(rc);
		return SL_MQTT_ANSWER_CONNACK;
	}
	if (!connected)
		return rc_in(rc, rc_connack, sizeof(rc_connack)) && rc >= 0x80 ?
			SL_MQTT_ANSWER_CONNACK : SL_MQTT_ANSWER_CLOSE;
	return rc_in(rc, rc_disconnect, sizeof(rc_disconnect)) && rc >= 0x80 ?
		SL_MQTT_ANSWER_DISCONNECT : SL_MQTT_ANSWER_CLOSE;
}
