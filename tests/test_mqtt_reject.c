/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MQTT codec's refusals (gateway/mqtt_codec_dec.c): every rule it
 * enforces, one hand-built packet each, with the reason code the decoder
 * must return (docs/MQTT.md's table), and the valid neighbour of each
 * where one tells the rule apart from a bug.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mqtt_test.h"

#define SRV SL_MQTT_SERVER
#define CLI SL_MQTT_CLIENT
#define MAL SL_MQTT_RC_MALFORMED
#define PROTO SL_MQTT_RC_PROTOCOL_ERROR

/* CONNECT variable header prefixes: protocol name, level. */
#define V4 "\x00\x04MQTT\x04"
#define V5 "\x00\x04MQTT\x05"

static void
test_header_rules(void)
{
	REJECT(MAL, 0x00, "", 4, SRV);			/* type 0 reserved */
	REJECT(MAL, 0xF0, "", 4, SRV);			/* AUTH at level 4 */
	REJECT(MAL, 0x60, "\x00\x01", 4, SRV);		/* PUBREL flags 0 [MQTT-2.2.2-2] */
	REJECT(MAL, 0x80, "\x00\x01\x00\x01" "a\x00", 4, SRV); /* SUBSCRIBE flags 0 */
	REJECT(MAL, 0xA0, "\x00\x01\x00\x01" "a", 4, SRV); /* UNSUBSCRIBE flags 0 */
	REJECT(MAL, 0xC1, "", 4, SRV);			/* PINGREQ flags */
	REJECT(MAL, 0x12, V4 "\x02\x00\x3c\x00\x01" "c", 0, SRV); /* CONNECT flags */
	REJECT(MAL, 0x42, "\x00\x01", 5, SRV);		/* PUBACK flags */
	REJECT(MAL, 0xE1, "", 5, SRV);			/* DISCONNECT flags */
	REJECT(PROTO, 0x20, "\x00\x00", 4, SRV);	/* a client sent CONNACK */
	REJECT(PROTO, 0x90, "\x00\x01\x00", 4, SRV);	/* a client sent SUBACK */
	REJECT(PROTO, 0xD0, "", 4, SRV);		/* a client sent PINGRESP */
	REJECT(PROTO, 0x10, V4 "\x02\x00\x3c\x00\x01" "c", 4, CLI); /* a server sent CONNECT */
	REJECT(PROTO, 0xC0, "", 5, CLI);		/* a server sent PINGREQ */
	REJECT(PROTO, 0x82, "\x00\x01\x00\x01" "a\x00", 5, CLI); /* a server sent SUBSCRIBE */
	REJECT(PROTO, 0x30, "\x00\x01" "a", 0, SRV);	/* PUBLISH before CONNECT */
	REJECT(PROTO, 0xC0, "", 0, SRV);		/* PINGREQ before CONNECT */
	REJECT(SL_MQTT_RC_UNSUPPORTED_VERSION, 0xC0, "", 3, SRV);
	REJECT(MAL, 0xC0, "\x00", 4, SRV);		/* PINGREQ with a body */
	REJECT(MAL, 0xD0, "\x00", 5, CLI);		/* PINGRESP with a body */
	REJECT(MAL, 0xE0, "\x00", 4, SRV);		/* level 4 DISCONNECT with a body */
	ACCEPT(0xC0, "", 4, SRV);
}

static void
test_frame_rules(void)
{
	struct sl_mqtt_packet p;
	uint8_t b[8] = { 0x30, 0x7F };

	/* Too large is known from the header alone, before the body. */
	CHECK_EQ(sl_mqtt_parse(b, 2, 100, 4, SRV, &p), -SL_MQTT_RC_PACKET_TOO_LARGE);
	CHECK_EQ(sl_mqtt_parse(b, 2, 129, 4, SRV, &p), 0);
	CHECK_EQ(sl_mqtt_parse((const uint8_t *)S("\x30\xff\xff\xff\xff\x01"), 0, 4, SRV, &p), -MAL);
	CHECK_EQ(sl_mqtt_parse((const uint8_t *)S("\x30\x80\x00"), 0, 4, SRV, &p), -MAL);
}

static void
test_connect_rules(void)
{
	struct sl_mqtt_packet p;

	ACCEPT(0x10, V4 "\x02\x00\x3c\x00\x01" "c", 0, SRV);
	ACCEPT(0x10, V5 "\x02\x00\x3c\x00\x00\x01" "c", 0, SRV);
	/* [MQTT-3.1.2-1], [MQTT-3.1.2-2]: the level read is reported. */
	CHECK_EQ(dec_raw(0x10, S("\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x01" "c"), 0, SRV, &p),
		 -SL_MQTT_RC_UNSUPPORTED_VERSION);
	CHECK(p.type == SL_MQTT_CONNECT && p.u.connect.level == 3);
	CHECK_EQ(dec_raw(0x10, S("\x00\x04MQTT\x06\x02\x00\x3c\x00\x01" "c"), 0, SRV, &p),
		 -SL_MQTT_RC_UNSUPPORTED_VERSION);
	CHECK(p.u.connect.level == 6);
	REJECT(SL_MQTT_RC_UNSUPPORTED_VERSION, 0x10, "\x00\x04MQTX\x04\x02\x00\x3c\x00\x01" "c",
	       0, SRV);
	CHECK_EQ(dec_raw(0x10, S("\x00\x04MQ"), 0, SRV, &p), -MAL);
	CHECK(p.u.connect.level == 0);
	/* Flags. */
	REJECT(MAL, 0x10, V4 "\x03\x00\x3c\x00\x01" "c", 0, SRV); /* reserved [MQTT-3.1.2-3] */
	REJECT(MAL, 0x10, V5 "\x03\x00\x3c\x00\x00\x01" "c", 0, SRV);
	REJECT(MAL, 0x10, V4 "\x1e\x00\x3c\x00\x01" "c\x00\x01w\x00\x00", 0, SRV); /* will QoS 3 */
	REJECT(MAL, 0x10, V4 "\x0a\x00\x3c\x00\x01" "c", 0, SRV);	/* will QoS, no will */
	REJECT(MAL, 0x10, V4 "\x22\x00\x3c\x00\x01" "c", 0, SRV);	/* will retain, no will */
	REJECT(MAL, 0x10, V4 "\x42\x00\x3c\x00\x01" "c\x00\x01p", 0, SRV); /* [MQTT-3.1.2-22] */
	ACCEPT(0x10, V5 "\x42\x00\x3c\x00\x00\x01" "c\x00\x01p", 0, SRV); /* fine in 5.0 */
	/* Client identifier [MQTT-3.1.3-8] (level 4 only). */
	REJECT(SL_MQTT_RC_CLIENT_ID_INVALID, 0x10, V4 "\x00\x00\x3c\x00\x00", 0, SRV);
	ACCEPT(0x10, V4 "\x02\x00\x3c\x00\x00", 0, SRV);
	ACCEPT(0x10, V5 "\x00\x00\x3c\x00\x00\x00", 0, SRV);
	REJECT(MAL, 0x10, V4 "\x02\x00\x3c\x00\x02" "c\xc3", 0, SRV);	/* ill-formed UTF-8 */
	REJECT(MAL, 0x10, V4 "\x02\x00\x3c\x00\x02" "c\x00", 0, SRV);	/* U+0000 */
	REJECT(MAL, 0x10, V4 "\x02\x00\x3c\x00\x03\xed\xb0\x80", 0, SRV); /* U+DC00 */
	REJECT(MAL, 0x10, V4 "\x02\x00\x3c\x00\x02\xc1\x81", 0, SRV);	/* overlong 'A' */
	/* Will topic, user name. */
	REJECT(SL_MQTT_RC_TOPIC_NAME_INVALID, 0x10, V4 "\x06\x00\x3c\x00\x01" "c\x00\x03w/#\x00\x00",
	       0, SRV);
	REJECT(SL_MQTT_RC_TOPIC_NAME_INVALID, 0x10, V4 "\x06\x00\x3c\x00\x01" "c\x00\x00\x00\x00", 0,
	       SRV);
	ACCEPT(0x10, V4 "\x06\x00\x3c\x00\x01" "c\x00\x01w\x00\x00", 0, SRV);
	REJECT(MAL, 0x10, V4 "\x82\x00\x3c\x00\x01" "c\x00\x01\xff", 0, SRV); /* user name */
	REJECT(MAL, 0x10, V4 "\x82\x00\x3c\x00\x01" "c", 0, SRV);	/* user name missing */
	ACCEPT(0x10, V4 "\xc2\x00\x3c\x00\x01" "c\x00\x01u\x00\x02\xff\x00", 0, SRV);
	/* Length: truncated, left over. */
	REJECT(MAL, 0x10, V4 "\x02\x00\x3c\x00\x02" "c", 0, SRV);
	REJECT(MAL, 0x10, V4 "\x02\x00\x3c\x00\x01" "cX", 0, SRV);
	REJECT(MAL, 0x10, V4 "\x02\x00", 0, SRV);
}

static void
test_property_rules(void)
{
	ACCEPT(0x10, V5 "\x02\x00\x3c\x05\x11\x00\x00\x00\x0a\x00\x01" "c", 0, SRV);
	/* Twice: protocol error; not allowed here or unknown: malformed. */
	REJECT(PROTO, 0x10, V5 "\x02\x00\x3c\x0a\x11\x00\x00\x00\x0a\x11\x00\x00\x00\x0a\x00\x01" "c",
	       0, SRV);
	REJECT(MAL, 0x10, V5 "\x02\x00\x3c\x03\x23\x00\x01\x00\x01" "c", 0, SRV); /* alias */
	REJECT(MAL, 0x10, V5 "\x02\x00\x3c\x02\x05\x00\x00\x01" "c", 0, SRV);	/* id 0x05 */
	REJECT(MAL, 0x10, V5 "\x02\x00\x3c\x03\x80\x01\x00\x00\x01" "c", 0, SRV); /* id 128 */
	REJECT(MAL, 0x10, V5 "\x02\x00\x3c\x09\x11\x00\x00\x00\x0a\x00\x01" "c", 0, SRV); /* long */
	REJECT(MAL, 0x10, V5 "\x02\x00\x3c\x02\x11\x00\x00\x01" "c", 0, SRV); /* short value */
	/* Values. */
	REJECT(PROTO, 0x10, V5 "\x02\x00\x3c\x03\x21\x00\x00\x00\x01" "c", 0, SRV); /* rcv max 0 */
	REJECT(PROTO, 0x10, V5 "\x02\x00\x3c\x05\x27\x00\x00\x00\x00\x00\x01" "c", 0, SRV);
	REJECT(PROTO, 0x10, V5 "\x02\x00\x3c\x02\x17\x02\x00\x01" "c", 0, SRV); /* problem 2 */
	REJECT(PROTO, 0x10, V5 "\x02\x00\x3c\x02\x19\x02\x00\x01" "c", 0, SRV); /* response 2 */
	REJECT(PROTO, 0x10, V5 "\x02\x00\x3c\x04\x16\x00\x01x\x00\x01" "c", 0, SRV); /* no method */
	ACCEPT(0x10, V5 "\x02\x00\x3c\x08\x15\x00\x01m\x16\x00\x01x\x00\x01" "c", 0, SRV);
	REJECT(MAL, 0x10, V5 "\x02\x00\x3c\x07\x26\x00\x01k\x00\x01\xff\x00\x01" "c", 0, SRV);
	ACCEPT(0x10, V5 "\x02\x00\x3c\x0e\x26\x00\x01k\x00\x01v\x26\x00\x01k\x00\x01v\x00\x01" "c",
	       0, SRV);
	/* Will properties: will delay allowed, session expiry not. */
	ACCEPT(0x10, V5 "\x06\x00\x3c\x00\x00\x01" "c\x05\x18\x00\x00\x00\x05\x00\x01w\x00\x00", 0,
	       SRV);
	REJECT(MAL, 0x10, V5 "\x06\x00\x3c\x00\x00\x01" "c\x05\x11\x00\x00\x00\x05\x00\x01w\x00\x00",
	       0, SRV);
	REJECT(PROTO, 0x10, V5 "\x06\x00\x3c\x00\x00\x01" "c\x02\x01\x02\x00\x01w\x00\x00", 0, SRV);
	REJECT(PROTO, 0x10, V5 "\x06\x00\x3c\x00\x00\x01" "c\x04\x08\x00\x01+\x00\x01w\x00\x00", 0,
	       SRV); /* response topic with a wildcard [MQTT-3.3.2-14] */
	/* A property length that is not a minimal variable byte integer. */
	REJECT(MAL, 0x10, V5 "\x02\x00\x3c\x80\x00\x00\x01" "c", 0, SRV);
}

static void
test_publish_rules(void)
{
	ACCEPT(0x30, "\x00\x01" "a", 4, SRV);
	REJECT(MAL, 0x36, "\x00\x01" "a\x00\x01", 4, SRV);	/* QoS 3 [MQTT-3.3.1-4] */
	REJECT(MAL, 0x38, "\x00\x01" "a", 4, SRV);		/* DUP at QoS 0 [MQTT-3.3.1-2] */
	REJECT(PROTO, 0x32, "\x00\x01" "a\x00\x00", 4, SRV);	/* packet id 0 */
	REJECT(PROTO, 0x34, "\x00\x01" "a\x00\x00\x00", 5, SRV);
	REJECT(MAL, 0x32, "\x00\x01" "a\x00", 4, SRV);	/* packet id cut */
	REJECT(SL_MQTT_RC_TOPIC_NAME_INVALID, 0x30, "\x00\x03" "a/+", 4, SRV); /* [MQTT-3.3.2-2] */
	REJECT(SL_MQTT_RC_TOPIC_NAME_INVALID, 0x30, "\x00\x03" "a/#\x00", 5, SRV);
	REJECT(SL_MQTT_RC_TOPIC_NAME_INVALID, 0x30, "\x00\x02" "#a", 4, SRV);
	REJECT(SL_MQTT_RC_TOPIC_NAME_INVALID, 0x30, "\x00\x00", 4, SRV); /* empty at level 4 */
	REJECT(PROTO, 0x30, "\x00\x00\x00", 5, SRV);		/* empty, no alias */
	ACCEPT(0x30, "\x00\x00\x03\x23\x00\x01", 5, SRV);	/* empty, alias 1 */
	REJECT(SL_MQTT_RC_TOPIC_ALIAS_INVALID, 0x30, "\x00\x01" "a\x03\x23\x00\x00", 5, SRV);
	REJECT(MAL, 0x30, "\x00\x02" "a\x00", 4, SRV);	/* U+0000 in the topic */
	REJECT(MAL, 0x30, "\x00\x02" "a\xe0", 4, SRV);	/* ill-formed UTF-8 */
	REJECT(MAL, 0x30, "\x00\x05" "a", 4, SRV);		/* topic past the end */
	/* Properties: subscription ids only from a server [MQTT-3.3.4-6]. */
	REJECT(PROTO, 0x30, "\x00\x01" "a\x02\x0b\x01", 5, SRV);
	ACCEPT(0x30, "\x00\x01" "a\x04\x0b\x01\x0b\x02", 5, CLI);
	REJECT(PROTO, 0x30, "\x00\x01" "a\x02\x0b\x00", 5, CLI); /* subscription id 0 */
	REJECT(MAL, 0x30, "\x00\x01" "a\x05\x0b\xff\xff\xff\xff", 5, CLI); /* 5-byte varint */
	REJECT(PROTO, 0x30, "\x00\x01" "a\x02\x01\x02", 5, SRV); /* payload format 2 */
	REJECT(PROTO, 0x30, "\x00\x01" "a\x0a\x02\x00\x00\x00\x01\x02\x00\x00\x00\x01", 5, SRV);
	REJECT(MAL, 0x30, "\x00\x01" "a\x05\x11\x00\x00\x00\x01", 5, SRV); /* session expiry */
	REJECT(PROTO, 0x30, "\x00\x01" "a\x04\x08\x00\x01#", 5, SRV); /* response topic */
	REJECT(MAL, 0x30, "\x00\x01" "a\x04\x03\x00\x01\xff", 5, SRV); /* content type UTF-8 */
	ACCEPT(0x30, "\x00\x01" "a\x04\x09\x00\x01\xff", 5, SRV); /* correlation: binary */
	REJECT(MAL, 0x30, "\x00\x01" "a\x05", 5, SRV);	/* property length past the end */
	REJECT(MAL, 0x30, "\x00\x01" "a", 5, SRV);		/* no property length */
}

static void
test_ack_rules(void)
{
	REJECT(PROTO, 0x40, "\x00\x00", 4, SRV);		/* packet id 0 */
	REJECT(PROTO, 0x62, "\x00\x00", 5, SRV);
	REJECT(MAL, 0x40, "\x00", 4, SRV);
	REJECT(MAL, 0x40, "\x00\x01\x00", 4, SRV);		/* level 4: 2 bytes only */
	REJECT(MAL, 0x70, "\x00\x01\x00\x00", 4, CLI);
	REJECT(PROTO, 0x40, "\x00\x01\x92", 5, SRV);		/* PUBACK: not 0x92 */
	REJECT(PROTO, 0x50, "\x00\x01\x01", 5, SRV);		/* PUBREC: not 0x01 */
	REJECT(PROTO, 0x62, "\x00\x01\x10", 5, SRV);		/* PUBREL: 0 or 0x92 */
	REJECT(PROTO, 0x70, "\x00\x01\x80", 5, SRV);		/* PUBCOMP: 0 or 0x92 */
	ACCEPT(0x62, "\x00\x01\x92", 5, SRV);
	ACCEPT(0x40, "\x00\x01\x99\x00", 5, SRV);
	REJECT(MAL, 0x40, "\x00\x01\x00\x03\x01\x00", 5, SRV); /* payload format not allowed */
	REJECT(MAL, 0x40, "\x00\x01\x00\x00\x00", 5, SRV);	/* left over */
	REJECT(PROTO, 0x40, "\x00\x01\x00\x08\x1f\x00\x01x\x1f\x00\x01y", 5, SRV); /* reason x2 */
}

static void
test_subscribe_rules(void)
{
	struct sl_mqtt_packet p;

	ACCEPT(0x82, "\x00\x01\x00\x01" "a\x02", 4, SRV);
	REJECT(PROTO, 0x82, "\x00\x01", 4, SRV);		/* no entry [MQTT-3.8.3-3] */
	REJECT(PROTO, 0x82, "\x00\x01\x00", 5, SRV);
	REJECT(PROTO, 0x82, "\x00\x00\x00\x01" "a\x00", 4, SRV); /* packet id 0 */
	REJECT(MAL, 0x82, "\x00\x01\x00\x01" "a", 4, SRV);	/* options byte missing */
	REJECT(MAL, 0x82, "\x00\x01\x00\x01" "a\x03", 4, SRV);	/* QoS 3 [MQTT-3-8.3-4] */
	REJECT(PROTO, 0x82, "\x00\x01\x00\x00\x01" "a\x03", 5, SRV); /* QoS 3 (5.0) */
	REJECT(MAL, 0x82, "\x00\x01\x00\x01" "a\x04", 4, SRV);	/* reserved bits (3.1.1) */
	REJECT(MAL, 0x82, "\x00\x01\x00\x00\x01" "a\x40", 5, SRV); /* reserved [MQTT-3.8.3-5] */
	REJECT(PROTO, 0x82, "\x00\x01\x00\x00\x01" "a\x30", 5, SRV); /* retain handling 3 */
	ACCEPT(0x82, "\x00\x01\x00\x00\x01" "a\x2e", 5, SRV);	/* RH 2, RAP, NL, QoS 2 */
	REJECT(PROTO, 0x82, "\x00\x01\x00\x00\x0a$share/g/a\x04", 5, SRV); /* [MQTT-3.8.3-4] */
	ACCEPT(0x82, "\x00\x01\x00\x00\x0a$share/g/a\x08", 5, SRV);
	/* Filters: level 4 refuses the packet, level 5 marks the entry. */
	REJECT(SL_MQTT_RC_TOPIC_FILTER_INVALID, 0x82, "\x00\x01\x00\x05" "a/#/b\x00", 4, SRV);
	REJECT(SL_MQTT_RC_TOPIC_FILTER_INVALID, 0x82, "\x00\x01\x00\x00\x00", 4, SRV); /* empty */
	REJECT(SL_MQTT_RC_TOPIC_FILTER_INVALID, 0x82, "\x00\x01\x00\x08$share/g\x00", 4, SRV);
	CHECK(dec_raw(0x82, S("\x00\x01\x00\x00\x00\x00"), 5, SRV, &p) > 0);
	{
		struct sl_mqtt_sub_entry e;
		uint32_t off = 0;

		CHECK(sl_mqtt_sub_next(&p.u.subscribe, SL_MQTT_SUBSCRIBE, &off, &e) == 1);
		CHECK(e.filter.len == 0 && e.filter_rc == SL_MQTT_RC_TOPIC_FILTER_INVALID);
	}
	REJECT(MAL, 0x82, "\x00\x01\x00\x00\x02" "a\xc3\x00", 5, SRV); /* ill-formed UTF-8 */
	/* Subscription identifier: one at most, not 0. */
	REJECT(PROTO, 0x82, "\x00\x01\x04\x0b\x01\x0b\x02\x00\x01" "a\x00", 5, SRV);
	REJECT(PROTO, 0x82, "\x00\x01\x02\x0b\x00\x00\x01" "a\x00", 5, SRV);
	REJECT(MAL, 0x82, "\x00\x01\x03\x1f\x00\x00\x00\x01" "a\x00", 5, SRV); /* reason string */
	/* UNSUBSCRIBE. */
	ACCEPT(0xA2, "\x00\x01\x00\x01" "a", 4, SRV);
	REJECT(PROTO, 0xA2, "\x00\x01", 4, SRV);		/* [MQTT-3.10.3-2] */
	REJECT(PROTO, 0xA2, "\x00\x00\x00\x01" "a", 4, SRV);
	REJECT(SL_MQTT_RC_TOPIC_FILTER_INVALID, 0xA2, "\x00\x01\x00\x02" "a#", 4, SRV);
	REJECT(MAL, 0xA2, "\x00\x01\x02\x0b\x01\x00\x01" "a", 5, SRV); /* sub id not allowed */
	ACCEPT(0xA2, "\x00\x01\x00\x00\x02" "a#", 5, SRV);
}

static void
test_server_packet_rules(void)
{
	/* CONNACK (as a client decodes it). */
	ACCEPT(0x20, "\x01\x00", 4, CLI);
	REJECT(MAL, 0x20, "\x02\x00", 4, CLI);			/* reserved [MQTT-3.2.2-1] */
	REJECT(PROTO, 0x20, "\x01\x05", 4, CLI);		/* session present + failure */
	REJECT(PROTO, 0x20, "\x00\x06", 4, CLI);		/* no v3 code 6 */
	REJECT(MAL, 0x20, "\x00\x00\x00", 4, CLI);
	REJECT(PROTO, 0x20, "\x00\x01\x00", 5, CLI);		/* not a CONNACK reason */
	REJECT(MAL, 0x20, "\x00\x00\x02\x23\x00", 5, CLI);	/* topic alias not allowed */
	ACCEPT(0x20, "\x00\x00\x02\x24\x01", 5, CLI);
	REJECT(PROTO, 0x20, "\x00\x00\x02\x24\x02", 5, CLI);	/* maximum QoS 2 */
	/* SUBACK, UNSUBACK. */
	REJECT(PROTO, 0x90, "\x00\x01\x03", 4, CLI);		/* [MQTT-3.9.3-2] */
	REJECT(PROTO, 0x90, "\x00\x01", 4, CLI);		/* no code */
	REJECT(PROTO, 0x90, "\x00\x01\x00\x11", 5, CLI);	/* 0x11 is UNSUBACK's */
	REJECT(MAL, 0xB0, "\x00\x01\x00", 4, CLI);
	REJECT(PROTO, 0xB0, "\x00\x01\x00\x02", 5, CLI);
	/* DISCONNECT and AUTH. */
	REJECT(PROTO, 0xE0, "\x01", 5, SRV);			/* not a DISCONNECT reason */
	ACCEPT(0xE0, "\x04", 5, SRV);
	REJECT(PROTO, 0xE0, "\x04", 5, CLI);			/* 0x04 is a client's */
	ACCEPT(0xE0, "\x00\x05\x11\x00\x00\x00\x01", 5, SRV);
	REJECT(PROTO, 0xE0, "\x00\x05\x11\x00\x00\x00\x01", 5, CLI); /* [MQTT-3.14.2-2] */
	REJECT(MAL, 0xE0, "\x00\x02\x23\x00", 5, SRV);		/* topic alias */
	REJECT(MAL, 0xE0, "\x00\x00\x00", 5, SRV);
	REJECT(PROTO, 0xF0, "\x01", 5, SRV);			/* AUTH: 0, 0x18, 0x19 */
	ACCEPT(0xF0, "\x19\x00", 5, SRV);
	REJECT(PROTO, 0xF0, "\x18\x04\x16\x00\x01x", 5, SRV);	/* data without a method */
	REJECT(MAL, 0xF0, "\x18\x02\x11\x00", 5, SRV);		/* session expiry */
}

static void
test_server_answer(void)
{
	uint8_t code;

	/* Level 4: only a bad level or client id get a CONNACK. */
	CHECK_EQ(sl_mqtt_server_answer(4, false, 0x84, &code), SL_MQTT_ANSWER_CONNACK);
	CHECK_EQ(code, SL_MQTT_V3_BAD_VERSION);
	CHECK_EQ(sl_mqtt_server_answer(3, false, 0x84, &code), SL_MQTT_ANSWER_CONNACK);
	CHECK_EQ(code, SL_MQTT_V3_BAD_VERSION);
	CHECK_EQ(sl_mqtt_server_answer(4, false, 0x85, &code), SL_MQTT_ANSWER_CONNACK);
	CHECK_EQ(code, SL_MQTT_V3_ID_REJECTED);
	CHECK_EQ(sl_mqtt_server_answer(4, false, 0x81, &code), SL_MQTT_ANSWER_CLOSE);
	CHECK_EQ(sl_mqtt_server_answer(4, true, 0x90, &code), SL_MQTT_ANSWER_CLOSE);
	CHECK_EQ(sl_mqtt_server_answer(4, true, 0x95, &code), SL_MQTT_ANSWER_CLOSE);
	/* Level 5: CONNACK before, DISCONNECT after, with the reason. */
	CHECK_EQ(sl_mqtt_server_answer(5, false, 0x81, &code), SL_MQTT_ANSWER_CONNACK);
	CHECK_EQ(code, 0x81);
	CHECK_EQ(sl_mqtt_server_answer(5, false, 0x90, &code), SL_MQTT_ANSWER_CONNACK);
	CHECK_EQ(sl_mqtt_server_answer(6, false, 0x84, &code), SL_MQTT_ANSWER_CONNACK);
	CHECK_EQ(code, 0x84);
	CHECK_EQ(sl_mqtt_server_answer(5, false, 0x8F, &code), SL_MQTT_ANSWER_CLOSE);
	CHECK_EQ(sl_mqtt_server_answer(5, true, 0x95, &code), SL_MQTT_ANSWER_DISCONNECT);
	CHECK_EQ(code, 0x95);
	CHECK_EQ(sl_mqtt_server_answer(5, true, 0x94, &code), SL_MQTT_ANSWER_DISCONNECT);
	CHECK_EQ(sl_mqtt_server_answer(5, true, 0x84, &code), SL_MQTT_ANSWER_CLOSE);
	CHECK_EQ(sl_mqtt_server_answer(0, false, 0x95, &code), SL_MQTT_ANSWER_CLOSE);
}

int
main(void)
{
	test_header_rules();
	test_frame_rules();
	test_connect_rules();
	test_property_rules();
	test_publish_rules();
	test_ack_rules();
	test_subscribe_rules();
	test_server_packet_rules();
	test_server_answer();
	return check_result("test_mqtt_reject");
}
