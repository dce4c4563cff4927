/* SPDX-License-Identifier: BSD-3-Clause */
/* PUBLISH from MQTT clients into the broker: QoS 0/1/2, aliases, acks after the broker's. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

#define TOPIC_ALIAS_MAX 16	 /* as gw_connect.c offers */
#define INBOUND_RECEIVE_MAX 1024 /* as gw_connect.c offers */

static void
send_ack(struct gw_conn *c, uint8_t type, uint16_t pkt_id, uint8_t rc)
{
	struct sl_mqtt_ack a = { .packet_id = pkt_id, .rc = rc };
	uint8_t buf[16];
	int n;

	n = sl_mqtt_enc_ack(buf, sizeof(buf), c->level, type, &a);
	if (n > 0)
		gw_conn_send(c, buf, (uint32_t)n);
}

static bool
bit_get(const uint64_t *set, uint16_t id)
{
	return set != NULL && (set[id >> 6] >> (id & 63)) & 1;
}

static void
bit_put(uint64_t *set, uint16_t id, bool on)
{
	if (on)
		set[id >> 6] |= 1ull << (id & 63);
	else
		set[id >> 6] &= ~(1ull << (id & 63));
}

static int
qos2_sets(struct gw_sess *s)
{
	if (s->qos2_held != NULL)
		return 0;
	s->qos2_held = calloc(1024, sizeof(uint64_t));
	s->qos2_acked = calloc(1024, sizeof(uint64_t));
	if (s->qos2_held == NULL || s->qos2_acked == NULL) {
		free(s->qos2_held);
		free(s->qos2_acked);
		s->qos2_held = s->qos2_acked = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Refuse a publish: v5 with a reason in the ack (QoS 1/2; nothing at QoS
 * 0), v3.1.1 by closing the connection, its only way to say no. */
static void
refuse(struct gw_conn *c, const struct sl_mqtt_publish *p, uint8_t rc)
{
	if (c->level != SL_MQTT_V5) {
		gw_conn_kill(c, true);
		return;
	}
	if (p->qos == 1)
		send_ack(c, SL_MQTT_PUBACK, p->packet_id, rc);
	else if (p->qos == 2)
		send_ack(c, SL_MQTT_PUBREC, p->packet_id, rc);
}

/* The topic of @p, through its alias if any. Returns 0 or a reason. */
static int
topic_of(struct gw_conn *c, const struct sl_mqtt_publish *p, const char **t, uint16_t *len)
{
	struct gw_sess *s = c->sess;
	uint16_t a;
	char *copy;

	*t = p->topic.ptr;
	*len = (uint16_t)p->topic.len;
	if (c->level != SL_MQTT_V5 || !(p->props.present & SL_MQTT_PBIT(SL_MQTT_P_TOPIC_ALIAS)))
		return 0;
	a = p->props.topic_alias;
	if (a == 0 || a > TOPIC_ALIAS_MAX)
		return SL_MQTT_RC_TOPIC_ALIAS_INVALID; /* [MQTT-3.3.2-9] */
	if (s->alias == NULL) {
		s->alias = calloc(TOPIC_ALIAS_MAX + 1, sizeof(char *));
		if (s->alias == NULL)
			return SL_MQTT_RC_UNSPECIFIED;
		s->alias_max = TOPIC_ALIAS_MAX;
	}
	if (p->topic.len > 0) {
		copy = malloc(p->topic.len + 1);
		if (copy == NULL)
			return SL_MQTT_RC_UNSPECIFIED;
		memcpy(copy, p->topic.ptr, p->topic.len);
		copy[p->topic.len] = 0;
		free(s->alias[a]);
		s->alias[a] = copy;
		return 0;
	}
	if (s->alias[a] == NULL)
		return SL_MQTT_RC_PROTOCOL_ERROR; /* an alias never set [MQTT-3.3.4-?] */
	*t = s->alias[a];
	*len = (uint16_t)strlen(s->alias[a]);
	return 0;
}

/* A retained copy of @p (the message retained once the broker took it). */
static struct gw_msg *
retained_copy(const struct sl_mqtt_publish *p, const char *t, uint16_t tlen, uint8_t level)
{
	uint32_t plen = level == SL_MQTT_V5 && p->props.raw ? p->props.raw_len : 0;
	struct gw_msg *m = gw_msg_new(tlen + plen + p->payload.len);

	if (m == NULL)
		return NULL;
	memcpy(m->data, t, tlen);
	m->topic_len = tlen;
	m->props_len = (uint16_t)gw_props_forwardable(m->data + tlen, p->props.raw, plen);
	memcpy(m->data + tlen + m->props_len, p->payload.ptr, p->payload.len);
	m->len = p->payload.len;
	m->qos = p->qos;
	m->retain = 1;
	if (level == SL_MQTT_V5 && (p->props.present & SL_MQTT_PBIT(SL_MQTT_P_MESSAGE_EXPIRY))) {
		m->expiry_s = p->props.message_expiry;
		m->expiry_ns = gw.now_ns + (uint64_t)m->expiry_s * 1000000000ull;
	}
	return m;
}

int
gw_pubin(struct gw_conn *c, const struct sl_mqtt_publish *p)
{
	struct gw_sess *s = c->sess;
	struct gw_pubreq r = { 0 };
	const char *t;
	uint16_t tlen;
	uint32_t tid;
	int rc;

	if (!c->was_blocked) { /* a retry after a full ring is not another packet */
		GW_INC(pub_in);
		gw_ctr[GW_C_pub_in_qos0 + p->qos]++;
	}
	rc = topic_of(c, p, &t, &tlen);
	if (rc != 0) {
		GW_INC(bad_alias);
		gw_conn_disconnect(c, (uint8_t)rc, true);
		return 0;
	}
	if (p->qos == 2 && bit_get(s->qos2_held, p->packet_id)) {
		/* Already taken: a resend. PUBREC again once acknowledged; not
		 * published twice [MQTT-4.3.3-10]. */
		GW_INC(pub_in_dup);
		if (bit_get(s->qos2_acked, p->packet_id))
			send_ack(c, SL_MQTT_PUBREC, p->packet_id, 0);
		return 0;
	}
	if (p->qos == 2 && s->n_qos2 >= INBOUND_RECEIVE_MAX) {
		GW_INC(bad_inflight); /* [MQTT-3.3.4-9] */
		gw_conn_disconnect(c, SL_MQTT_RC_RECEIVE_MAX_EXCEEDED, true);
		return 0;
	}
	rc = gw_user_topic(s->user, t, tlen, &tid);
	if (rc != 0) {
		if (rc == SL_MQTT_RC_NOT_AUTHORIZED)
			GW_INC(pub_in_denied);
		else if (rc == SL_MQTT_RC_TOPIC_NAME_INVALID)
			GW_INC(bad_topic);
		else
			GW_INC(pub_in_refused);
		refuse(c, p, (uint8_t)rc);
		return 0;
	}
	r.payload = (const uint8_t *)p->payload.ptr;
	r.len = p->payload.len;
	if (c->level == SL_MQTT_V5) {
		r.props = p->props.raw;
		r.props_len = p->props.raw_len;
		if (p->props.present & SL_MQTT_PBIT(SL_MQTT_P_MESSAGE_EXPIRY))
			r.expiry_s = p->props.message_expiry;
	}
	r.qos = p->qos;
	r.retain = p->retain;
	r.src = s->id;
	if (p->retain) {
		r.ret = retained_copy(p, t, tlen, c->level);
		if (r.ret == NULL) {
			refuse(c, p, SL_MQTT_RC_UNSPECIFIED);
			return 0;
		}
	}
	if (p->qos == 2 && qos2_sets(s) < 0) {
		gw_msg_unref(r.ret);
		refuse(c, p, SL_MQTT_RC_UNSPECIFIED);
		return 0;
	}
	rc = gw_user_publish(s->user, tid, &r, s, p->packet_id);
	gw_msg_unref(r.ret); /* the pending answer holds its own reference */
	if (rc == -EAGAIN)
		return -EAGAIN;
	if (rc < 0) {
		GW_INC(pub_in_refused);
		refuse(c, p, rc == -EMSGSIZE ? SL_MQTT_RC_PACKET_TOO_LARGE
					     : SL_MQTT_RC_UNSPECIFIED);
		return 0;
	}
	if (p->qos == 2) {
		bit_put(s->qos2_held, p->packet_id, true);
		s->n_qos2++;
	}
	return 0;
}

void
gw_pubin_settled(struct gw_sess *s, uint16_t pkt_id, uint8_t qos, uint16_t error)
{
	struct gw_conn *c = s->conn;
	uint8_t rc = error == SL_E_NONE ? 0
		   : error == SL_E_DENIED ? SL_MQTT_RC_NOT_AUTHORIZED
		   : error == SL_E_JOURNAL_FULL ? SL_MQTT_RC_QUOTA_EXCEEDED
					       : SL_MQTT_RC_UNSPECIFIED;

	if (error != SL_E_NONE) {
		if (error == SL_E_DENIED)
			GW_INC(pub_in_denied);
		else
			GW_INC(pub_in_refused);
	}
	if (qos == 2) {
		if (rc == 0) {
			bit_put(s->qos2_acked, pkt_id, true);
		} else if (bit_get(s->qos2_held, pkt_id)) {
			bit_put(s->qos2_held, pkt_id, false);
			s->n_qos2--;
		}
	}
	if (c == NULL || c->state != GW_CONN_UP)
		return; /* the client sends it again after reconnecting */
	if (rc != 0 && c->level != SL_MQTT_V5) {
		gw_conn_kill(c, true);
		return;
	}
	send_ack(c, qos == 1 ? SL_MQTT_PUBACK : SL_MQTT_PUBREC, pkt_id, rc);
}

void
gw_pubrel_in(struct gw_conn *c, uint16_t pkt_id)
{
	struct gw_sess *s = c->sess;
	uint8_t rc = 0;

	if (bit_get(s->qos2_held, pkt_id)) {
		bit_put(s->qos2_held, pkt_id, false);
		bit_put(s->qos2_acked, pkt_id, false);
		s->n_qos2--;
	} else {
		rc = SL_MQTT_RC_PACKET_ID_NOT_FOUND; /* already released: still PUBCOMP */
	}
	send_ack(c, SL_MQTT_PUBCOMP, pkt_id, c->level == SL_MQTT_V5 ? rc : 0);
}
