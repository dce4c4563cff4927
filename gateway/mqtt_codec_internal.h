/* SPDX-License-Identifier: BSD-3-Clause */
/* What the codec's files share: the bounded reader and the property parser. */

#ifndef SLUICE_GATEWAY_MQTT_CODEC_INTERNAL_H
#define SLUICE_GATEWAY_MQTT_CODEC_INTERNAL_H

#include "mqtt_codec.h"

/* A bounded cursor over one packet's body: every read checks the end. */
struct mqtt_rd {
	const uint8_t *p;
	uint32_t len;
	uint32_t off;
};

#define RC_MALFORMED (-SL_MQTT_RC_MALFORMED)
#define RC_PROTOCOL (-SL_MQTT_RC_PROTOCOL_ERROR)

static inline uint32_t
rd_left(const struct mqtt_rd *r)
{
	return r->len - r->off;
}

int mqtt_rd_u8(struct mqtt_rd *r, uint8_t *v);
int mqtt_rd_u16(struct mqtt_rd *r, uint16_t *v);
int mqtt_rd_u32(struct mqtt_rd *r, uint32_t *v);
/* A variable byte integer: at most 4 bytes, minimal form. 0 or -MALFORMED. */
int mqtt_rd_varint(struct mqtt_rd *r, uint32_t *v);
/* Binary data: a two-byte length then that many bytes. */
int mqtt_rd_bin(struct mqtt_rd *r, struct sl_mqtt_str *s);
/* A UTF-8 string: binary data that is also well-formed MQTT UTF-8. */
int mqtt_rd_str(struct mqtt_rd *r, struct sl_mqtt_str *s);

/* Property sets allowed in each packet (bits SL_MQTT_PBIT(id)). */
extern const uint64_t mqtt_props_connect, mqtt_props_will, mqtt_props_connack,
	mqtt_props_publish, mqtt_props_ack, mqtt_props_subscribe, mqtt_props_unsubscribe,
	mqtt_props_disconnect, mqtt_props_auth;

/*
 * Read a property block (length, then properties) into @pr, zeroed first.
 * Only ids in @allowed are accepted. 0 or a negated reason code.
 */
int mqtt_rd_props(struct mqtt_rd *r, uint64_t allowed, struct sl_mqtt_props *pr);

/* Decoders of each packet family (mqtt_codec_dec.c). */
int mqtt_dec_connect(struct mqtt_rd *r, struct sl_mqtt_connect *c);

#endif /* SLUICE_GATEWAY_MQTT_CODEC_INTERNAL_H */
