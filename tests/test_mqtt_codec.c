/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MQTT codec (gateway/mqtt_codec*.c): framing and the remaining length,
 * then every packet type at levels 4 and 5 encoded and decoded back, with
 * exact bytes where the specification gives them. The rejections are in
 * test_mqtt_reject.c.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_test.h"

static uint8_t buf[70000];

static bool
str_eq(struct sl_mqtt_str s, const char *v, size_t n)
{
	return s.len == n && (n == 0 || memcmp(s.ptr, v, n) == 0);
}
#define STR_EQ(s, lit) str_eq(s, S(lit))

/* Frame a header announcing @rem with @max: the value is pinned exactly. */
static void
remaining_pinned(uint32_t rem, unsigned hdr)
{
	struct sl_mqtt_frame f;
	uint8_t h[5];
	size_t n = mk(h, 0x30, "", 0);

	/* mk() writes the length of an empty body; redo it for @rem. */
	n = 1;
	{
		uint32_t v = rem;

		do {
			h[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
			v >>= 7;
		} while (v);
	}
	CHECK_EQ(n, hdr);
	CHECK_EQ(sl_mqtt_frame(h, n, rem + hdr, &f), rem ? 0 : (int)hdr);
	CHECK_EQ(sl_mqtt_frame(h, n, 0, &f), rem ? 0 : (int)hdr);
	if (rem + hdr > 2)
		CHECK_EQ(sl_mqtt_frame(h, n, rem + hdr - 1, &f), -SL_MQTT_RC_PACKET_TOO_LARGE);
	/* Every prefix of the header asks for more bytes. */
	for (size_t k = 0; k < n; k++)
		CHECK_EQ(sl_mqtt_frame(h, k, 0, &f), 0);
}

static void
test_remaining_length(void)
{
	static const uint32_t vals[] = { 0, 127, 128, 16383, 16384, 2097151, 2097152, 268435455 };
	static const unsigned hdrs[] = { 2, 2, 3, 3, 4, 4, 5, 5 };
	struct sl_mqtt_frame f;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		remaining_pinned(vals[i], hdrs[i]);
	/* Whole packets of the small sizes frame exactly. */
	for (i = 0; i < 5; i++) {
		size_t n;

		memset(buf, 0, sizeof(buf));
		n = mk(buf, 0x30, buf + 40000, vals[i]);
		CHECK_EQ(sl_mqtt_frame(buf, n, 0, &f), (int)n);
		CHECK_EQ(f.remaining, vals[i]);
		CHECK_EQ(f.hdr_len, hdrs[i]);
		CHECK(f.body == buf + hdrs[i] && f.type == 3 && f.flags == 0);
		CHECK_EQ(sl_mqtt_frame(buf, n - 1, 0, &f), 0);
	}
	/* A fifth length byte; the minimal form; the bytes' exact values. */
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\xff\xff\xff\xff\x7f"), 0, &f),
		 -SL_MQTT_RC_MALFORMED);
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\xff\xff\xff\xff"), 0, &f),
		 -SL_MQTT_RC_MALFORMED);
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\xff\xff\xff"), 0, &f), 0);
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\x80\x00"), 0, &f), -SL_MQTT_RC_MALFORMED);
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\xff\x80\x00"), 0, &f),
		 -SL_MQTT_RC_MALFORMED);
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\xc1\x02"), 0, &f), 0); /* 321 */
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\xc1\x02"), 324, &f), 0);
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\x30\xc1\x02"), 323, &f),
		 -SL_MQTT_RC_PACKET_TOO_LARGE);
	/* Two packets back to back: the first is framed alone. */
	CHECK_EQ(sl_mqtt_frame((const uint8_t *)S("\xc0\x00\xd0\x00"), 0, &f), 2);
	CHECK(f.type == SL_MQTT_PINGREQ && f.remaining == 0);
}

/* The encoder writes packets whose remaining length takes 1..3 bytes right. */
static void
test_encoded_lengths(void)
{
	static const uint32_t rems[] = { 0, 127, 128, 16383, 16384 };
	struct sl_mqtt_packet p;
	size_t i;

	for (i = 0; i < sizeof(rems) / sizeof(rems[0]); i++) {
		/* QoS 0 PUBLISH at level 4: 2 + topic "t" (1) + payload. */
		uint32_t pay = rems[i] >= 3 ? rems[i] - 3 : 0;
		struct sl_mqtt_publish pub = { .topic = STR("t"),
					       .payload = { (const char *)buf + 50000, pay } };
		int n = sl_mqtt_enc_publish(buf, sizeof(buf) / 2, SL_MQTT_V311, &pub);

		if (rems[i] < 3)
			continue;
		CHECK_EQ(n, (int)(rems[i] + (rems[i] < 128 ? 2 : rems[i] < 16384 ? 3 : 4)));
		CHECK_EQ(sl_mqtt_enc_publish(NULL, 0, SL_MQTT_V311, &pub), n);
		CHECK_EQ(sl_mqtt_parse(buf, (size_t)n, 0, SL_MQTT_V311, SL_MQTT_SERVER, &p), n);
		CHECK_EQ(p.u.publish.payload.len, pay);
	}
	/* A remaining length of 0: PINGREQ is exactly C0 00. */
	CHECK_EQ(sl_mqtt_enc_ping(buf, 2, SL_MQTT_PINGREQ), 2);
	CHECK(memcmp(buf, "\xc0\x00", 2) == 0);
	CHECK_EQ(sl_mqtt_enc_ping(buf, 2, SL_MQTT_PINGRESP), 2);
	CHECK(memcmp(buf, "\xd0\x00", 2) == 0);
	CHECK_EQ(sl_mqtt_enc_ping(buf, 1, SL_MQTT_PINGRESP), -ENOSPC);
	CHECK_EQ(sl_mqtt_enc_ping(NULL, 0, SL_MQTT_PINGRESP), 2);
	CHECK_EQ(sl_mqtt_enc_ping(buf, 2, SL_MQTT_PUBLISH), -EINVAL);
}

/* Encode, then decode as @side: the whole packet is consumed. */
static int
round_trip(int n, uint8_t level, enum sl_mqtt_side side, struct sl_mqtt_packet *p)
{
	int m;

	CHECK(n > 0);
	if (n <= 0)
		return -1;
	m = sl_mqtt_parse(buf, (size_t)n, 0, level, side, p);
	CHECK_EQ(m, n);
	/* Every strict prefix asks for more bytes. */
	for (int k = 0; k < n; k += 1 + k / 8)
		CHECK_EQ(sl_mqtt_parse(buf, (size_t)k, 0, level, side, p), 0);
	return m == n ? 0 : -1;
}

/* What mosquitto_pub -V mqttv311 -i c sends, byte for byte, and back. */
static void
test_connect_v4(void)
{
	static const uint8_t want[] = "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01" "c";
	struct sl_mqtt_connect c = { .level = 4, .clean_start = true, .keep_alive = 60,
				     .client_id = STR("c") };
	struct sl_mqtt_packet p;
	int n = sl_mqtt_enc_connect(buf, sizeof(buf), &c);

	CHECK_EQ(n, sizeof(want) - 1);
	CHECK(memcmp(buf, want, sizeof(want) - 1) == 0);
	CHECK_EQ(round_trip(n, 0, SL_MQTT_SERVER, &p), 0);
	CHECK(p.type == SL_MQTT_CONNECT && p.level == 4 && p.u.connect.level == 4);
	CHECK(p.u.connect.clean_start && p.u.connect.keep_alive == 60);
	CHECK(STR_EQ(p.u.connect.client_id, "c") && !p.u.connect.will);
	CHECK(!p.u.connect.has_username && !p.u.connect.has_password);
	/* Will, user name and password. */
	c = (struct sl_mqtt_connect){ .level = 4, .keep_alive = 5, .client_id = STR("dev-1"),
				      .will = true, .will_qos = 2, .will_retain = true,
				      .will_topic = STR("dev/1/status"),
				      .will_payload = STR("gone\0"), .has_username = true,
				      .username = STR("alice"), .has_password = true,
				      .password = STR("k\0ey") };
	n = sl_mqtt_enc_connect(buf, sizeof(buf), &c);
	CHECK_EQ(buf[9], 0xF4); /* user, pass, will retain, will QoS 2, will */
	CHECK_EQ(round_trip(n, 0, SL_MQTT_SERVER, &p), 0);
	CHECK(!p.u.connect.clean_start && p.u.connect.will && p.u.connect.will_qos == 2);
	CHECK(p.u.connect.will_retain && STR_EQ(p.u.connect.will_topic, "dev/1/status"));
	CHECK(STR_EQ(p.u.connect.will_payload, "gone\0"));
	CHECK(STR_EQ(p.u.connect.username, "alice") && STR_EQ(p.u.connect.password, "k\0ey"));
	CHECK(p.u.connect.props.present == 0);
	/* Level 4 ignores properties. */
	c.props.present = SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY);
	CHECK_EQ(sl_mqtt_enc_connect(buf, sizeof(buf), &c), n);
}

static void
test_connect_v5(void)
{
	static const struct sl_mqtt_user_prop up[2] = { { STR("k"), STR("v1") },
							{ STR("k"), STR("v2") } };
	struct sl_mqtt_connect c = {
		.level = 5, .keep_alive = 30, .client_id = STR(""), .will = true,
		.will_qos = 1, .will_topic = STR("w"), .will_payload = STR("bye"),
		.has_password = true, .password = STR("secret"),
		.props = { .present = SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY) |
			   SL_MQTT_PBIT(SL_MQTT_P_RECEIVE_MAX) |
			   SL_MQTT_PBIT(SL_MQTT_P_MAX_PACKET_SIZE) |
			   SL_MQTT_PBIT(SL_MQTT_P_TOPIC_ALIAS_MAX) |
			   SL_MQTT_PBIT(SL_MQTT_P_REQUEST_PROBLEM_INFO) |
			   SL_MQTT_PBIT(SL_MQTT_P_AUTH_METHOD) | SL_MQTT_PBIT(SL_MQTT_P_AUTH_DATA),
			   .session_expiry = 3600, .receive_max = 10, .max_packet_size = 65536,
			   .topic_alias_max = 7, .request_problem_info = 1,
			   .auth_method = STR("SCRAM"), .auth_data = STR("\x01\x02"),
			   .user = up, .n_user = 2 },
		.will_props = { .present = SL_MQTT_PBIT(SL_MQTT_P_WILL_DELAY) |
				SL_MQTT_PBIT(SL_MQTT_P_PAYLOAD_FORMAT) |
				SL_MQTT_PBIT(SL_MQTT_P_MESSAGE_EXPIRY) |
				SL_MQTT_PBIT(SL_MQTT_P_CONTENT_TYPE) |
				SL_MQTT_PBIT(SL_MQTT_P_RESPONSE_TOPIC) |
				SL_MQTT_PBIT(SL_MQTT_P_CORRELATION_DATA),
				.will_delay = 9, .payload_format = 1, .message_expiry = 99,
				.content_type = STR("text/plain"), .response_topic = STR("r/t"),
				.correlation_data = STR("\0x") },
	};
	struct sl_mqtt_user_prop u;
	struct sl_mqtt_packet p;
	const struct sl_mqtt_props *pr = &p.u.connect.props, *wp = &p.u.connect.will_props;
	uint32_t off = 0;

	CHECK_EQ(round_trip(sl_mqtt_enc_connect(buf, sizeof(buf), &c), 0, SL_MQTT_SERVER, &p), 0);
	CHECK(p.level == 5 && p.u.connect.client_id.len == 0 && !p.u.connect.clean_start);
	CHECK(!p.u.connect.has_username && STR_EQ(p.u.connect.password, "secret"));
	CHECK_EQ(pr->present, c.props.present | SL_MQTT_PBIT(SL_MQTT_P_USER_PROPERTY));
	CHECK(pr->session_expiry == 3600 && pr->receive_max == 10);
	CHECK(pr->max_packet_size == 65536 && pr->topic_alias_max == 7);
	CHECK(pr->request_problem_info == 1 && STR_EQ(pr->auth_method, "SCRAM"));
	CHECK(STR_EQ(pr->auth_data, "\x01\x02") && pr->n_user == 2 && pr->user == NULL);
	CHECK_EQ(sl_mqtt_user_next(pr, &off, &u), 1);
	CHECK(STR_EQ(u.name, "k") && STR_EQ(u.value, "v1"));
	CHECK_EQ(sl_mqtt_user_next(pr, &off, &u), 1);
	CHECK(STR_EQ(u.name, "k") && STR_EQ(u.value, "v2"));
	CHECK_EQ(sl_mqtt_user_next(pr, &off, &u), 0);
	CHECK(p.u.connect.will && p.u.connect.will_qos == 1 && !p.u.connect.will_retain);
	CHECK_EQ(wp->present, c.will_props.present);
	CHECK(wp->will_delay == 9 && wp->payload_format == 1 && wp->message_expiry == 99);
	CHECK(STR_EQ(wp->content_type, "text/plain") && STR_EQ(wp->response_topic, "r/t"));
	CHECK(STR_EQ(wp->correlation_data, "\0x") && STR_EQ(p.u.connect.will_payload, "bye"));
}

static void
test_connack(void)
{
	struct sl_mqtt_connack c = { .session_present = true };
	struct sl_mqtt_packet p;
	int n;

	/* Level 4: 20 02 01 00 exactly. */
	n = sl_mqtt_enc_connack(buf, sizeof(buf), 4, &c);
	CHECK(n == 4 && memcmp(buf, "\x20\x02\x01\x00", 4) == 0);
	CHECK_EQ(round_trip(n, 4, SL_MQTT_CLIENT, &p), 0);
	CHECK(p.u.connack.session_present && p.u.connack.rc == 0);
	c = (struct sl_mqtt_connack){ .rc = SL_MQTT_V3_BAD_USER_OR_PASSWORD };
	CHECK_EQ(round_trip(sl_mqtt_enc_connack(buf, sizeof(buf), 4, &c), 4, SL_MQTT_CLIENT, &p),
		 0);
	CHECK(p.u.connack.rc == 4 && !p.u.connack.session_present);
	/* Level 5: 20 03 00 00 00 without properties; then with. */
	c = (struct sl_mqtt_connack){ 0 };
	n = sl_mqtt_enc_connack(buf, sizeof(buf), 5, &c);
	CHECK(n == 5 && memcmp(buf, "\x20\x03\x00\x00\x00", 5) == 0);
	c.props = (struct sl_mqtt_props){
		.present = SL_MQTT_PBIT(SL_MQTT_P_ASSIGNED_CLIENT_ID) |
			   SL_MQTT_PBIT(SL_MQTT_P_MAX_QOS) | SL_MQTT_PBIT(SL_MQTT_P_RETAIN_AVAILABLE) |
			   SL_MQTT_PBIT(SL_MQTT_P_TOPIC_ALIAS_MAX) |
			   SL_MQTT_PBIT(SL_MQTT_P_SERVER_KEEP_ALIVE) |
			   SL_MQTT_PBIT(SL_MQTT_P_WILDCARD_SUB_AVAILABLE) |
			   SL_MQTT_PBIT(SL_MQTT_P_SUB_ID_AVAILABLE) |
			   SL_MQTT_PBIT(SL_MQTT_P_SHARED_SUB_AVAILABLE) |
			   SL_MQTT_PBIT(SL_MQTT_P_REASON_STRING) |
			   SL_MQTT_PBIT(SL_MQTT_P_RESPONSE_INFO) |
			   SL_MQTT_PBIT(SL_MQTT_P_SERVER_REFERENCE),
		.assigned_client_id = STR("auto-1"), .max_qos = 1, .retain_available = 1,
		.topic_alias_max = 16, .server_keep_alive = 20, .wildcard_sub_available = 1,
		.sub_id_available = 0, .shared_sub_available = 1, .reason_string = STR("ok"),
		.response_info = STR("resp/"), .server_reference = STR("other:1883")
	};
	CHECK_EQ(round_trip(sl_mqtt_enc_connack(buf, sizeof(buf), 5, &c), 5, SL_MQTT_CLIENT, &p),
		 0);
	CHECK_EQ(p.u.connack.props.present, c.props.present);
	CHECK(STR_EQ(p.u.connack.props.assigned_client_id, "auto-1"));
	CHECK(p.u.connack.props.max_qos == 1 && p.u.connack.props.topic_alias_max == 16);
	CHECK(p.u.connack.props.server_keep_alive == 20);
	CHECK(p.u.connack.props.shared_sub_available == 1);
	CHECK(p.u.connack.props.sub_id_available == 0);
	CHECK(STR_EQ(p.u.connack.props.server_reference, "other:1883"));
	c = (struct sl_mqtt_connack){ .rc = SL_MQTT_RC_NOT_AUTHORIZED };
	CHECK_EQ(round_trip(sl_mqtt_enc_connack(buf, sizeof(buf), 5, &c), 5, SL_MQTT_CLIENT, &p),
		 0);
	CHECK_EQ(p.u.connack.rc, 0x87);
	c.session_present = true; /* with a failure: not allowed */
	CHECK_EQ(sl_mqtt_enc_connack(buf, sizeof(buf), 5, &c), -EINVAL);
	CHECK_EQ(sl_mqtt_enc_connack(buf, sizeof(buf), 3, &c), -EINVAL);
}

static void
test_publish(void)
{
	struct sl_mqtt_publish pub = { .topic = STR("a/b"), .payload = STR("hi") };
	struct sl_mqtt_packet p;
	int n, q;

	/* Level 4 QoS 0: 30 07 00 03 a/b hi. */
	n = sl_mqtt_enc_publish(buf, sizeof(buf), 4, &pub);
	CHECK(n == 9 && memcmp(buf, "\x30\x07\x00\x03" "a/bhi", 9) == 0);
	for (q = 0; q < 3; q++) {
		pub = (struct sl_mqtt_publish){ .qos = (uint8_t)q, .dup = q > 0, .retain = q == 1,
						.packet_id = q ? 0xBEEF : 0, .topic = STR("a/b"),
						.payload = STR("\0\1\2") };
		for (uint8_t lv = 4; lv <= 5; lv++) {
			n = sl_mqtt_enc_publish(buf, sizeof(buf), lv, &pub);
			CHECK_EQ(buf[0], 0x30 | (q ? 8 : 0) | q << 1 | (q == 1));
			CHECK_EQ(round_trip(n, lv, SL_MQTT_SERVER, &p), 0);
			CHECK(p.type == SL_MQTT_PUBLISH && p.u.publish.qos == q);
			CHECK(p.u.publish.dup == (q > 0) && p.u.publish.retain == (q == 1));
			CHECK(p.u.publish.packet_id == (q ? 0xBEEF : 0));
			CHECK(STR_EQ(p.u.publish.topic, "a/b"));
			CHECK(STR_EQ(p.u.publish.payload, "\0\1\2"));
		}
	}
}

/* Level 5 properties, as a server sends them (subscription ids too). */
static void
test_publish_props(void)
{
	static const struct sl_mqtt_user_prop up[3] = { { STR("a"), STR("1") },
							{ STR("b"), STR("") },
							{ STR("a"), STR("3") } };
	static const uint32_t ids[2] = { 5, 268435455 };
	struct sl_mqtt_publish pub = { .qos = 2, .packet_id = 0xBEEF, .topic = STR("a/b"),
				       .payload = STR("\0\1\2") };
	struct sl_mqtt_user_prop u;
	struct sl_mqtt_packet p;
	uint32_t off = 0, id;
	int n;

	pub.props = (struct sl_mqtt_props){
		.present = SL_MQTT_PBIT(SL_MQTT_P_PAYLOAD_FORMAT) |
			   SL_MQTT_PBIT(SL_MQTT_P_MESSAGE_EXPIRY) |
			   SL_MQTT_PBIT(SL_MQTT_P_TOPIC_ALIAS) |
			   SL_MQTT_PBIT(SL_MQTT_P_RESPONSE_TOPIC) |
			   SL_MQTT_PBIT(SL_MQTT_P_CORRELATION_DATA) |
			   SL_MQTT_PBIT(SL_MQTT_P_CONTENT_TYPE),
		.payload_format = 1, .message_expiry = 120, .topic_alias = 3,
		.response_topic = STR("reply/me"), .correlation_data = STR("\xff\x00"),
		.content_type = STR("application/json"), .user = up, .n_user = 3,
		.sub_ids = ids, .n_sub_ids = 2
	};
	n = sl_mqtt_enc_publish(buf, sizeof(buf), 5, &pub);
	CHECK_EQ(round_trip(n, 5, SL_MQTT_CLIENT, &p), 0);
	CHECK(p.u.publish.props.payload_format == 1 && p.u.publish.props.message_expiry == 120);
	CHECK(p.u.publish.props.topic_alias == 3);
	CHECK(STR_EQ(p.u.publish.props.response_topic, "reply/me"));
	CHECK(STR_EQ(p.u.publish.props.correlation_data, "\xff\x00"));
	CHECK(STR_EQ(p.u.publish.props.content_type, "application/json"));
	CHECK(p.u.publish.props.n_user == 3 && p.u.publish.props.n_sub_ids == 2);
	CHECK(p.u.publish.props.sub_id == 5);
	CHECK(sl_mqtt_sub_id_next(&p.u.publish.props, &off, &id) == 1 && id == 5);
	CHECK(sl_mqtt_sub_id_next(&p.u.publish.props, &off, &id) == 1 && id == 268435455);
	CHECK_EQ(sl_mqtt_sub_id_next(&p.u.publish.props, &off, &id), 0);
	off = 0;
	CHECK(sl_mqtt_user_next(&p.u.publish.props, &off, &u) == 1 && STR_EQ(u.value, "1"));
	CHECK(sl_mqtt_user_next(&p.u.publish.props, &off, &u) == 1 && STR_EQ(u.name, "b"));
	CHECK(sl_mqtt_user_next(&p.u.publish.props, &off, &u) == 1 && STR_EQ(u.value, "3"));
	CHECK_EQ(sl_mqtt_user_next(&p.u.publish.props, &off, &u), 0);
	CHECK(STR_EQ(p.u.publish.payload, "\0\1\2"));
	/* Decoded properties re-encode their user properties as they came. */
	{
		static uint8_t again[512];
		struct sl_mqtt_publish fwd = p.u.publish;
		int m;

		fwd.props.present &= ~SL_MQTT_PBIT(SL_MQTT_P_SUBSCRIPTION_ID);
		fwd.props.n_sub_ids = 0;
		pub.props.sub_ids = NULL;
		pub.props.n_sub_ids = 0;
		n = sl_mqtt_enc_publish(buf, sizeof(buf), 5, &pub);
		m = sl_mqtt_enc_publish(again, sizeof(again), 5, &fwd);
		CHECK(m == n && memcmp(again, buf, (size_t)n) == 0);
	}
}

/* An empty topic with a topic alias (level 5); what the encoder refuses. */
static void
test_publish_alias_refusals(void)
{
	struct sl_mqtt_publish pub;
	struct sl_mqtt_packet p;

	pub = (struct sl_mqtt_publish){ .topic = STR(""), .payload = STR("x"),
					.props = { .present = SL_MQTT_PBIT(SL_MQTT_P_TOPIC_ALIAS),
						   .topic_alias = 1 } };
	CHECK_EQ(round_trip(sl_mqtt_enc_publish(buf, sizeof(buf), 5, &pub), 5, SL_MQTT_SERVER, &p),
		 0);
	CHECK(p.u.publish.topic.len == 0 && p.u.publish.props.topic_alias == 1);
	/* Encoder refusals. */
	pub = (struct sl_mqtt_publish){ .qos = 3, .topic = STR("t") };
	CHECK_EQ(sl_mqtt_enc_publish(buf, sizeof(buf), 4, &pub), -EINVAL);
	pub.qos = 1;
	CHECK_EQ(sl_mqtt_enc_publish(buf, sizeof(buf), 4, &pub), -EINVAL); /* packet id 0 */
	pub = (struct sl_mqtt_publish){ .dup = true, .topic = STR("t") };
	CHECK_EQ(sl_mqtt_enc_publish(buf, sizeof(buf), 4, &pub), -EINVAL);
	pub = (struct sl_mqtt_publish){ .topic = STR("t"), .payload = STR("12345") };
	CHECK_EQ(sl_mqtt_enc_publish(buf, 9, 4, &pub), -ENOSPC);
	CHECK_EQ(sl_mqtt_enc_publish(buf, 10, 4, &pub), 10);
	CHECK_EQ(sl_mqtt_enc_publish(NULL, 0, 4, &pub), 10);
	pub.topic.len = 70000;
	CHECK_EQ(sl_mqtt_enc_publish(buf, sizeof(buf), 4, &pub), -EMSGSIZE);
	pub.topic.len = 1;
	pub.payload.len = SL_MQTT_MAX_REMAINING;
	CHECK_EQ(sl_mqtt_enc_publish(NULL, 0, 4, &pub), -EMSGSIZE);
	pub.payload.len = SL_MQTT_MAX_REMAINING - 3;
	CHECK_EQ(sl_mqtt_enc_publish(NULL, 0, 4, &pub), (int)SL_MQTT_MAX_PACKET);
}

static void
test_acks(void)
{
	static const uint8_t types[] = { SL_MQTT_PUBACK, SL_MQTT_PUBREC, SL_MQTT_PUBREL,
					 SL_MQTT_PUBCOMP };
	struct sl_mqtt_packet p;
	size_t i;
	int n;

	for (i = 0; i < 4; i++) {
		uint8_t t = types[i], fl = t == SL_MQTT_PUBREL ? 2 : 0;
		struct sl_mqtt_ack a = { .packet_id = 0x0102 };
		uint8_t want[4] = { (uint8_t)(t << 4 | fl), 2, 1, 2 };

		for (uint8_t lv = 4; lv <= 5; lv++) {
			/* Both levels: the short form, packet id only. */
			n = sl_mqtt_enc_ack(buf, sizeof(buf), lv, t, &a);
			CHECK(n == 4 && memcmp(buf, want, 4) == 0);
			CHECK_EQ(round_trip(n, lv, SL_MQTT_SERVER, &p), 0);
			CHECK_EQ(round_trip(n, lv, SL_MQTT_CLIENT, &p), 0);
			CHECK(p.type == t && p.u.ack.packet_id == 0x0102 && p.u.ack.rc == 0);
		}
		/* Level 5: a reason code alone, then with properties. */
		a.rc = (t == SL_MQTT_PUBREL || t == SL_MQTT_PUBCOMP) ? 0x92 : 0x10;
		n = sl_mqtt_enc_ack(buf, sizeof(buf), 5, t, &a);
		CHECK_EQ(n, 5);
		CHECK_EQ(round_trip(n, 5, SL_MQTT_SERVER, &p), 0);
		CHECK_EQ(p.u.ack.rc, a.rc);
		a.props.present = SL_MQTT_PBIT(SL_MQTT_P_REASON_STRING);
		a.props.reason_string = STR("why");
		n = sl_mqtt_enc_ack(buf, sizeof(buf), 5, t, &a);
		CHECK_EQ(round_trip(n, 5, SL_MQTT_CLIENT, &p), 0);
		CHECK(p.u.ack.rc == a.rc && STR_EQ(p.u.ack.props.reason_string, "why"));
		/* Level 4 writes neither. */
		CHECK_EQ(sl_mqtt_enc_ack(buf, sizeof(buf), 4, t, &a), 4);
		/* Properties with Success: the reason code is written (0x00). */
		a.rc = 0;
		n = sl_mqtt_enc_ack(buf, sizeof(buf), 5, t, &a);
		CHECK(n > 5 && buf[4] == 0);
		CHECK_EQ(round_trip(n, 5, SL_MQTT_SERVER, &p), 0);
	}
	/* A reason code without the property length (remaining length 3). */
	{
		struct sl_mqtt_packet q;

		CHECK_EQ(dec_raw(0x40, S("\x00\x01\x10"), 5, SL_MQTT_SERVER, &q), 5);
		CHECK(q.u.ack.rc == 0x10 && q.u.ack.props.present == 0);
	}
	CHECK_EQ(sl_mqtt_enc_ack(buf, sizeof(buf), 5, SL_MQTT_SUBACK,
				 &(struct sl_mqtt_ack){ .packet_id = 1 }), -EINVAL);
	CHECK_EQ(sl_mqtt_enc_ack(buf, sizeof(buf), 5, SL_MQTT_PUBACK,
				 &(struct sl_mqtt_ack){ .packet_id = 0 }), -EINVAL);
	CHECK_EQ(sl_mqtt_enc_ack(buf, 3, 5, SL_MQTT_PUBACK,
				 &(struct sl_mqtt_ack){ .packet_id = 1 }), -ENOSPC);
}

static void
test_subscribe(void)
{
	struct sl_mqtt_sub_entry in[3] = {
		{ .filter = STR("a/+"), .qos = 1 },
		{ .filter = STR("$share/g/b/#"), .qos = 2, .retain_as_published = true,
		  .retain_handling = 2 },
		{ .filter = STR("c"), .qos = 0, .no_local = true, .retain_handling = 1 },
	};
	struct sl_mqtt_subscribe s = { .packet_id = 7, .n = 3, .entries = in };
	struct sl_mqtt_sub_entry e;
	struct sl_mqtt_packet p;
	uint32_t off = 0, i;
	int n;

	/* Level 4: the options byte is the QoS alone. */
	n = sl_mqtt_enc_subscribe(buf, sizeof(buf), 4, SL_MQTT_SUBSCRIBE, &s);
	CHECK(buf[0] == 0x82 && buf[2] == 0 && buf[3] == 7);
	CHECK_EQ(round_trip(n, 4, SL_MQTT_SERVER, &p), 0);
	CHECK(p.u.subscribe.packet_id == 7 && p.u.subscribe.n == 3);
	for (i = 0; sl_mqtt_sub_next(&p.u.subscribe, SL_MQTT_SUBSCRIBE, &off, &e); i++) {
		CHECK(str_eq(e.filter, in[i].filter.ptr, in[i].filter.len));
		CHECK(e.qos == in[i].qos && !e.no_local && !e.retain_as_published);
		CHECK(e.retain_handling == 0 && e.filter_rc == 0);
	}
	CHECK_EQ(i, 3);
	/* Level 5: every option and a subscription identifier. */
	s.props.present = SL_MQTT_PBIT(SL_MQTT_P_SUBSCRIPTION_ID);
	s.props.sub_id = 300;
	n = sl_mqtt_enc_subscribe(buf, sizeof(buf), 5, SL_MQTT_SUBSCRIBE, &s);
	CHECK_EQ(round_trip(n, 5, SL_MQTT_SERVER, &p), 0);
	CHECK(p.u.subscribe.props.sub_id == 300 && p.u.subscribe.props.n_sub_ids == 1);
	off = 0;
	for (i = 0; sl_mqtt_sub_next(&p.u.subscribe, SL_MQTT_SUBSCRIBE, &off, &e); i++) {
		CHECK(e.qos == in[i].qos && e.no_local == in[i].no_local);
		CHECK(e.retain_as_published == in[i].retain_as_published);
		CHECK(e.retain_handling == in[i].retain_handling && e.filter_rc == 0);
	}
	CHECK_EQ(i, 3);
}

/* UNSUBSCRIBE: filters only, both levels; a bad filter kept at level 5; refusals. */
static void
test_unsubscribe(void)
{
	struct sl_mqtt_sub_entry in[2] = { { .filter = STR("a/+") },
					   { .filter = STR("$share/g/b/#") } };
	struct sl_mqtt_subscribe s = { .packet_id = 7, .n = 1, .entries = in };
	struct sl_mqtt_sub_entry e;
	struct sl_mqtt_packet p;
	uint32_t off;
	int n;

	for (uint8_t lv = 4; lv <= 5; lv++) {
		n = sl_mqtt_enc_subscribe(buf, sizeof(buf), lv, SL_MQTT_UNSUBSCRIBE,
					  &(struct sl_mqtt_subscribe){ .packet_id = 9, .n = 2,
								       .entries = in });
		CHECK(buf[0] == 0xA2);
		CHECK_EQ(round_trip(n, lv, SL_MQTT_SERVER, &p), 0);
		CHECK(p.type == SL_MQTT_UNSUBSCRIBE && p.u.subscribe.n == 2);
		off = 0;
		CHECK(sl_mqtt_sub_next(&p.u.subscribe, SL_MQTT_UNSUBSCRIBE, &off, &e) == 1);
		CHECK(STR_EQ(e.filter, "a/+"));
		CHECK(sl_mqtt_sub_next(&p.u.subscribe, SL_MQTT_UNSUBSCRIBE, &off, &e) == 1);
		CHECK(STR_EQ(e.filter, "$share/g/b/#"));
		CHECK_EQ(sl_mqtt_sub_next(&p.u.subscribe, SL_MQTT_UNSUBSCRIBE, &off, &e), 0);
	}
	/* Level 5 keeps a bad filter for a per-entry 0x8F. */
	in[0].filter = STR("a/#/b");
	n = sl_mqtt_enc_subscribe(buf, sizeof(buf), 5, SL_MQTT_SUBSCRIBE,
				  &(struct sl_mqtt_subscribe){ .packet_id = 1, .n = 1, .entries = in });
	CHECK_EQ(round_trip(n, 5, SL_MQTT_SERVER, &p), 0);
	off = 0;
	CHECK(sl_mqtt_sub_next(&p.u.subscribe, SL_MQTT_SUBSCRIBE, &off, &e) == 1);
	CHECK_EQ(e.filter_rc, SL_MQTT_RC_TOPIC_FILTER_INVALID);
	/* Encoder refusals. */
	s.n = 0;
	CHECK_EQ(sl_mqtt_enc_subscribe(buf, sizeof(buf), 5, SL_MQTT_SUBSCRIBE, &s), -EINVAL);
	s.n = 1;
	in[0].qos = 3;
	CHECK_EQ(sl_mqtt_enc_subscribe(buf, sizeof(buf), 5, SL_MQTT_SUBSCRIBE, &s), -EINVAL);
	in[0].qos = 0;
	s.packet_id = 0;
	CHECK_EQ(sl_mqtt_enc_subscribe(buf, sizeof(buf), 5, SL_MQTT_SUBSCRIBE, &s), -EINVAL);
	s.packet_id = 1;
	CHECK_EQ(sl_mqtt_enc_subscribe(buf, sizeof(buf), 5, SL_MQTT_PUBLISH, &s), -EINVAL);
}

static void
test_suback(void)
{
	static const uint8_t rc4[] = { 0, 1, 2, 0x80 }, rc5[] = { 0, 0x8F, 0xA2 },
			     urc5[] = { 0, 0x11 };
	struct sl_mqtt_suback s = { .packet_id = 3, .n = 4, .rcs = rc4 };
	struct sl_mqtt_packet p;
	int n;

	n = sl_mqtt_enc_suback(buf, sizeof(buf), 4, SL_MQTT_SUBACK, &s);
	CHECK(n == 8 && memcmp(buf, "\x90\x06\x00\x03\x00\x01\x02\x80", 8) == 0);
	CHECK_EQ(round_trip(n, 4, SL_MQTT_CLIENT, &p), 0);
	CHECK(p.u.suback.n == 4 && memcmp(p.u.suback.rcs, rc4, 4) == 0);
	s = (struct sl_mqtt_suback){ .packet_id = 3, .n = 3, .rcs = rc5,
				     .props = { .present = SL_MQTT_PBIT(SL_MQTT_P_REASON_STRING),
						.reason_string = STR("no") } };
	CHECK_EQ(round_trip(sl_mqtt_enc_suback(buf, sizeof(buf), 5, SL_MQTT_SUBACK, &s), 5,
			    SL_MQTT_CLIENT, &p), 0);
	CHECK(p.u.suback.n == 3 && memcmp(p.u.suback.rcs, rc5, 3) == 0);
	CHECK(STR_EQ(p.u.suback.props.reason_string, "no"));
	/* UNSUBACK: packet id only at level 4 (B0 02 00 03), codes at level 5. */
	n = sl_mqtt_enc_suback(buf, sizeof(buf), 4, SL_MQTT_UNSUBACK,
			       &(struct sl_mqtt_suback){ .packet_id = 3 });
	CHECK(n == 4 && memcmp(buf, "\xb0\x02\x00\x03", 4) == 0);
	CHECK_EQ(round_trip(n, 4, SL_MQTT_CLIENT, &p), 0);
	n = sl_mqtt_enc_suback(buf, sizeof(buf), 5, SL_MQTT_UNSUBACK,
			       &(struct sl_mqtt_suback){ .packet_id = 3, .n = 2, .rcs = urc5 });
	CHECK(n == 7 && memcmp(buf, "\xb0\x05\x00\x03\x00\x00\x11", 7) == 0);
	CHECK_EQ(round_trip(n, 5, SL_MQTT_CLIENT, &p), 0);
	CHECK(p.u.suback.n == 2 && p.u.suback.rcs[1] == 0x11);
	CHECK_EQ(sl_mqtt_enc_suback(buf, sizeof(buf), 5, SL_MQTT_SUBACK,
				    &(struct sl_mqtt_suback){ .packet_id = 3 }), -EINVAL);
}

static void
test_disconnect_auth_ping(void)
{
	struct sl_mqtt_disconnect d = { .rc = SL_MQTT_RC_DISCONNECT_WITH_WILL };
	struct sl_mqtt_packet p;
	int n;

	/* Level 4 and level 5 with nothing to say: E0 00. */
	CHECK(sl_mqtt_enc_disconnect(buf, sizeof(buf), 4, SL_MQTT_DISCONNECT, &d) == 2);
	CHECK(memcmp(buf, "\xe0\x00", 2) == 0);
	CHECK_EQ(round_trip(2, 4, SL_MQTT_SERVER, &p), 0);
	CHECK(sl_mqtt_enc_disconnect(buf, sizeof(buf), 5, SL_MQTT_DISCONNECT, NULL) == 2);
	CHECK_EQ(round_trip(2, 5, SL_MQTT_CLIENT, &p), 0);
	CHECK(p.type == SL_MQTT_DISCONNECT && p.u.disconnect.rc == 0);
	/* A reason code alone: E0 01 04. */
	n = sl_mqtt_enc_disconnect(buf, sizeof(buf), 5, SL_MQTT_DISCONNECT, &d);
	CHECK(n == 3 && memcmp(buf, "\xe0\x01\x04", 3) == 0);
	CHECK_EQ(round_trip(n, 5, SL_MQTT_SERVER, &p), 0);
	CHECK_EQ(p.u.disconnect.rc, 4);
	/* The client's session expiry, the server's reason and reference. */
	d = (struct sl_mqtt_disconnect){
		.props = { .present = SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY),
			   .session_expiry = 0xFFFFFFFF } };
	CHECK_EQ(round_trip(sl_mqtt_enc_disconnect(buf, sizeof(buf), 5, SL_MQTT_DISCONNECT, &d),
			    5, SL_MQTT_SERVER, &p), 0);
	CHECK(p.u.disconnect.rc == 0 && p.u.disconnect.props.session_expiry == 0xFFFFFFFF);
	d = (struct sl_mqtt_disconnect){
		.rc = SL_MQTT_RC_USE_ANOTHER_SERVER,
		.props = { .present = SL_MQTT_PBIT(SL_MQTT_P_SERVER_REFERENCE) |
				      SL_MQTT_PBIT(SL_MQTT_P_REASON_STRING),
			   .server_reference = STR("h2"), .reason_string = STR("moving") } };
	CHECK_EQ(round_trip(sl_mqtt_enc_disconnect(buf, sizeof(buf), 5, SL_MQTT_DISCONNECT, &d),
			    5, SL_MQTT_CLIENT, &p), 0);
	CHECK(p.u.disconnect.rc == 0x9C && STR_EQ(p.u.disconnect.props.server_reference, "h2"));
	/* AUTH: level 5 only; F0 00 is Success. */
	d = (struct sl_mqtt_disconnect){
		.rc = SL_MQTT_RC_CONTINUE_AUTH,
		.props = { .present = SL_MQTT_PBIT(SL_MQTT_P_AUTH_METHOD) |
				      SL_MQTT_PBIT(SL_MQTT_P_AUTH_DATA),
			   .auth_method = STR("SCRAM"), .auth_data = STR("x") } };
	CHECK_EQ(round_trip(sl_mqtt_enc_disconnect(buf, sizeof(buf), 5, SL_MQTT_AUTH, &d), 5,
			    SL_MQTT_SERVER, &p), 0);
	CHECK(p.type == SL_MQTT_AUTH && p.u.disconnect.rc == 0x18);
	CHECK(STR_EQ(p.u.disconnect.props.auth_method, "SCRAM"));
	CHECK_EQ(sl_mqtt_enc_disconnect(buf, sizeof(buf), 5, SL_MQTT_AUTH, NULL), 2);
	CHECK_EQ(round_trip(2, 5, SL_MQTT_CLIENT, &p), 0);
	CHECK_EQ(sl_mqtt_enc_disconnect(buf, sizeof(buf), 4, SL_MQTT_AUTH, &d), -EINVAL);
	/* PINGREQ and PINGRESP both ways. */
	CHECK_EQ(round_trip(sl_mqtt_enc_ping(buf, sizeof(buf), SL_MQTT_PINGREQ), 4,
			    SL_MQTT_SERVER, &p), 0);
	CHECK(p.type == SL_MQTT_PINGREQ);
	CHECK_EQ(round_trip(sl_mqtt_enc_ping(buf, sizeof(buf), SL_MQTT_PINGRESP), 5,
			    SL_MQTT_CLIENT, &p), 0);
	CHECK(p.type == SL_MQTT_PINGRESP);
}

static void
test_names(void)
{
	CHECK(strcmp(sl_mqtt_rc_name(0x81), "malformed packet") == 0);
	CHECK(strcmp(sl_mqtt_rc_name(0x95), "packet too large") == 0);
	CHECK(strcmp(sl_mqtt_rc_name(0x03), "unknown") == 0);
	CHECK(strcmp(sl_mqtt_type_name(SL_MQTT_PUBLISH), "PUBLISH") == 0);
	CHECK(strcmp(sl_mqtt_type_name(0), "reserved") == 0);
	CHECK(strcmp(sl_mqtt_type_name(200), "reserved") == 0);
	CHECK_EQ(sl_mqtt_v3_connack_code(0), 0);
	CHECK_EQ(sl_mqtt_v3_connack_code(0x84), 1);
	CHECK_EQ(sl_mqtt_v3_connack_code(0x85), 2);
	CHECK_EQ(sl_mqtt_v3_connack_code(0x88), 3);
	CHECK_EQ(sl_mqtt_v3_connack_code(0x86), 4);
	CHECK_EQ(sl_mqtt_v3_connack_code(0x87), 5);
	CHECK_EQ(sl_mqtt_v3_connack_code(0x81), 3);
}

int
main(void)
{
	test_remaining_length();
	test_encoded_lengths();
	test_connect_v4();
	test_connect_v5();
	test_connack();
	test_publish();
	test_publish_props();
	test_publish_alias_refusals();
	test_acks();
	test_subscribe();
	test_unsubscribe();
	test_suback();
	test_disconnect_auth_ping();
	test_names();
	return check_result("test_mqtt_codec");
}
