/* SPDX-License-Identifier: BSD-3-Clause */
/* MQTT packet decoding (mqtt_codec.h): framing, properties, each packet type. */

#include <errno.h>
#include <string.h>

#include "mqtt_codec.h"

int
sl_mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet, struct sl_mqtt_frame *f)
{
	(void)buf; (void)len; (void)max_packet; (void)f;
	return -SL_MQTT_RC_IMPL_SPECIFIC;
}

int
sl_mqtt_decode(const struct sl_mqtt_frame *f, uint8_t level, enum sl_mqtt_side side,
	       struct sl_mqtt_packet *p)
{
	(void)f; (void)level; (void)side; (void)p;
	return -SL_MQTT_RC_IMPL_SPECIFIC;
}

int
sl_mqtt_parse(const uint8_t *buf, size_t len, uint32_t max_packet, uint8_t level,
	      enum sl_mqtt_side side, struct sl_mqtt_packet *p)
{
	(void)buf; (void)len; (void)max_packet; (void)level; (void)side; (void)p;
	return -SL_MQTT_RC_IMPL_SPECIFIC;
}

int
sl_mqtt_sub_next(const struct sl_mqtt_subscribe *s, uint8_t type, uint32_t *off,
		 struct sl_mqtt_sub_entry *e)
{
	(void)s; (void)type; (void)off; (void)e;
	return 0;
}

int
sl_mqtt_user_next(const struct sl_mqtt_props *pr, uint32_t *off, struct sl_mqtt_user_prop *u)
{
	(void)pr; (void)off; (void)u;
	return 0;
}

int
sl_mqtt_sub_id_next(const struct sl_mqtt_props *pr, uint32_t *off, uint32_t *id)
{
	(void)pr; (void)off; (void)id;
	return 0;
}

bool
sl_mqtt_utf8_valid(const uint8_t *s, size_t len)
{
	(void)s; (void)len;
	return false;
}

uint8_t
sl_mqtt_v3_connack_code(uint8_t rc)
{
	(void)rc;
	return SL_MQTT_V3_SERVER_UNAVAILABLE;
}

const char *
sl_mqtt_rc_name(uint8_t rc)
{
	(void)rc;
	return "unknown";
}

const char *
sl_mqtt_type_name(uint8_t type)
{
	(void)type;
	return "reserved";
}
