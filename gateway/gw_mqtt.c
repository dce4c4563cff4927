/* SPDX-License-Identifier: BSD-3-Clause */
/* Dispatch of decoded MQTT packets, and the answer to each kind of bad input. */

#include <stdio.h>

#include "gw.h"

static void
send_connack_refusal(struct gw_conn *c, uint8_t rc5)
{
	struct sl_mqtt_connack a = { 0 };
	uint8_t buf[64];
	int n;

	a.rc = c->level == SL_MQTT_V5 ? rc5 : sl_mqtt_v3_connack_code(rc5);
	n = sl_mqtt_enc_connack(buf, sizeof(buf), c->level == SL_MQTT_V5 ? SL_MQTT_V5 : SL_MQTT_V311,
				&a);
	if (n > 0)
		gw_conn_send(c, buf, (uint32_t)n);
	gw_conn_close_after_flush(c);
}

/*
 * A packet that failed framing or decoding (@rc, a negated MQTT 5 reason).
 * Before CONNECT only a CONNACK may answer (and only for a CONNECT); after
 * it, a level 5 client gets a DISCONNECT with the reason [MQTT-4.13.1-1],
 * a level 4 client is disconnected [MQTT-4.8.0-1]. The will is published:
 * the connection did not end with a DISCONNECT.
 */
void
gw_mqtt_bad(struct gw_conn *c, int rc, uint8_t type)
{
	uint8_t r = (uint8_t)-rc;

	switch (r) {
	case SL_MQTT_RC_PACKET_TOO_LARGE: GW_INC(bad_too_large); break;
	case SL_MQTT_RC_UNSUPPORTED_VERSION: GW_INC(bad_version); break;
	case SL_MQTT_RC_PROTOCOL_ERROR: GW_INC(bad_protocol); break;
	case SL_MQTT_RC_TOPIC_NAME_INVALID:
	case SL_MQTT_RC_TOPIC_FILTER_INVALID: GW_INC(bad_topic); break;
	case SL_MQTT_RC_TOPIC_ALIAS_INVALID: GW_INC(bad_alias); break;
	case SL_MQTT_RC_CLIENT_ID_INVALID: break; /* counted as a refused connect */
	default: GW_INC(bad_malformed); break;
	}
	GW_LOG("connection %u: %s (%s)\n", c->id, sl_mqtt_rc_name(r), sl_mqtt_type_name(type));
	if (c->state == GW_CONN_NEW) {
		if (type == SL_MQTT_CONNECT &&
		    (r == SL_MQTT_RC_UNSUPPORTED_VERSION || r == SL_MQTT_RC_CLIENT_ID_INVALID ||
		     c->level == SL_MQTT_V5)) {
			/* [MQTT-3.1.2-2]: CONNACK 0x84 (level 5) or return code 1
			 * (any other level), then close; 0x85 / 2 for a client id
			 * the server refuses [MQTT-3.1.3-9]. */
			GW_INC(connect_refused);
			send_connack_refusal(c, r);
			return;
		}
		gw_conn_kill(c, false);
		return;
	}
	gw_conn_disconnect(c, r, true);
}

static void
ping(struct gw_conn *c)
{
	uint8_t buf[2];

	if (sl_mqtt_enc_ping(buf, sizeof(buf), SL_MQTT_PINGRESP) == 2)
		gw_conn_send(c, buf, 2);
}

void
gw_mqtt_handle(struct gw_conn *c, const struct sl_mqtt_packet *p)
{
	if (c->state == GW_CONN_NEW) {
		if (p->type != SL_MQTT_CONNECT) {
			/* [MQTT-3.1.0-1]: the first packet must be CONNECT. */
			GW_INC(bad_before_connect);
			GW_LOG("connection %u: %s before CONNECT\n", c->id,
			       sl_mqtt_type_name(p->type));
			gw_conn_kill(c, false);
			return;
		}
		gw_connect(c, &p->u.connect);
		return;
	}
	if (c->state != GW_CONN_UP)
		return;
	switch (p->type) {
	case SL_MQTT_CONNECT:
		/* [MQTT-3.1.0-2]: a second CONNECT is a protocol violation. */
		GW_INC(bad_protocol);
		gw_conn_disconnect(c, SL_MQTT_RC_PROTOCOL_ERROR, true);
		break;
	case SL_MQTT_PUBACK:
	case SL_MQTT_PUBREC:
	case SL_MQTT_PUBCOMP:
		gw_out_ack(c->sess, p->type, p->u.ack.packet_id, p->u.ack.rc);
		break;
	case SL_MQTT_PUBREL:
		gw_pubrel_in(c, p->u.ack.packet_id);
		break;
	case SL_MQTT_SUBSCRIBE:
		gw_subscribe(c, &p->u.subscribe);
		break;
	case SL_MQTT_UNSUBSCRIBE:
		gw_unsubscribe(c, &p->u.subscribe);
		break;
	case SL_MQTT_PINGREQ:
		ping(c);
		break;
	case SL_MQTT_DISCONNECT:
		gw_disconnect_in(c, &p->u.disconnect);
		break;
	case SL_MQTT_AUTH:
		/* No enhanced authentication: CONNECT never named a method, so
		 * an AUTH is a protocol error [MQTT-4.12.0-1]. */
		GW_INC(bad_protocol);
		gw_conn_disconnect(c, SL_MQTT_RC_PROTOCOL_ERROR, true);
		break;
	default:
		GW_INC(bad_protocol);
		gw_conn_disconnect(c, SL_MQTT_RC_PROTOCOL_ERROR, true);
		break;
	}
}
