/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt-loadgen's packets, encoded and decoded by the gateway's own codec
 * (gateway/mqtt_codec.h): the load tool speaks exactly the MQTT the gateway parses. */

#include <errno.h>
#include <string.h>

#include "mqtt_loadgen.h"

static struct sl_mqtt_str
str(const char *s)
{
	return (struct sl_mqtt_str){ .ptr = s, .len = s ? (uint32_t)strlen(s) : 0 };
}

long
mlg_wire_decode(const struct mlg_conf *cf, const uint8_t *buf, size_t len, struct mlg_pkt *p)
{
	struct sl_mqtt_packet pk;
	int n = sl_mqtt_parse(buf, len, MLG_PACKET_MAX, (uint8_t)cf->version, SL_MQTT_CLIENT, &pk);

	if (n <= 0)
		return n == 0 ? 0 : n == -SL_MQTT_RC_PACKET_TOO_LARGE ? -EMSGSIZE : -EPROTO;
	memset(p, 0, sizeof(*p));
	p->type = pk.type;
	p->flags = pk.flags;
	switch (pk.type) {
	case SL_MQTT_CONNACK:
		p->rc = pk.u.connack.rc;
		p->session_present = pk.u.connack.session_present;
		if (pk.u.connack.props.present & SL_MQTT_PBIT(SL_MQTT_P_RECEIVE_MAX))
			p->recv_max = pk.u.connack.props.receive_max;
		break;
	case SL_MQTT_PUBLISH:
		p->qos = pk.u.publish.qos;
		p->pid = pk.u.publish.packet_id;
		p->payload = (const uint8_t *)pk.u.publish.payload.ptr;
		p->payload_len = pk.u.publish.payload.len;
		break;
	case SL_MQTT_PUBACK:
	case SL_MQTT_PUBREC:
	case SL_MQTT_PUBREL:
	case SL_MQTT_PUBCOMP:
		p->pid = pk.u.ack.packet_id;
		p->rc = pk.u.ack.rc;
		break;
	case SL_MQTT_SUBACK:
		p->pid = pk.u.suback.packet_id;
		p->rc = pk.u.suback.n ? pk.u.suback.rcs[0] : 0x80;
		break;
	case SL_MQTT_DISCONNECT:
		p->rc = pk.u.disconnect.rc;
		break;
	default:
		break;
	}
	return n;
}

long
mlg_wire_connect(const struct mlg_conf *cf, uint8_t *buf, size_t cap, const char *client_id,
		 bool clean, uint32_t session_expiry)
{
	struct sl_mqtt_connect c = {
		.level = (uint8_t)cf->version,
		.clean_start = clean,
		.keep_alive = cf->keepalive,
		.client_id = str(client_id),
		.has_username = cf->username != NULL,
		.username = str(cf->username),
		.has_password = cf->password != NULL,
		.password = str(cf->password),
	};

	/* MQTT 5: a session outlives its connection only with a Session Expiry Interval. */
	if (session_expiry) {
		c.props.present |= SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY);
		c.props.session_expiry = session_expiry;
	}
	return sl_mqtt_enc_connect(buf, cap, &c);
}

long
mlg_wire_subscribe(const struct mlg_conf *cf, uint8_t *buf, size_t cap, uint16_t pid,
		   const char *filter, unsigned qos)
{
	struct sl_mqtt_sub_entry e = { .filter = str(filter), .qos = (uint8_t)qos };
	struct sl_mqtt_subscribe s = { .packet_id = pid, .n = 1, .entries = &e };

	return sl_mqtt_enc_subscribe(buf, cap, (uint8_t)cf->version, SL_MQTT_SUBSCRIBE, &s);
}

long
mlg_wire_publish(const struct mlg_conf *cf, uint8_t *buf, size_t cap, const char *topic,
		 unsigned qos, uint16_t pid, const uint8_t *payload, size_t len)
{
	struct sl_mqtt_publish p = {
		.qos = (uint8_t)qos,
		.topic = str(topic),
		.packet_id = pid,
		.payload = { .ptr = (const char *)payload, .len = (uint32_t)len },
	};

	return sl_mqtt_enc_publish(buf, cap, (uint8_t)cf->version, &p);
}

long
mlg_wire_ack(const struct mlg_conf *cf, uint8_t *buf, size_t cap, unsigned type, uint16_t pid)
{
	struct sl_mqtt_ack a = { .packet_id = pid };

	return sl_mqtt_enc_ack(buf, cap, (uint8_t)cf->version, (uint8_t)type, &a);
}

long
mlg_wire_disconnect(const struct mlg_conf *cf, uint8_t *buf, size_t cap)
{
	return sl_mqtt_enc_disconnect(buf, cap, (uint8_t)cf->version, SL_MQTT_DISCONNECT, NULL);
}

long
mlg_wire_pingreq(const struct mlg_conf *cf, uint8_t *buf, size_t cap)
{
	(void)cf;
	return sl_mqtt_enc_ping(buf, cap, SL_MQTT_PINGREQ);
}
