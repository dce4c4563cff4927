/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the MQTT codec and topic mapping of sluice-mqtt
 * (gateway/mqtt_codec*.c, gateway/mqtt_topic.c), fed by any TCP client.
 *
 * Input: a selector byte, then a byte stream. The selector picks the side
 * (server or client), the starting protocol level (0: before CONNECT, 4
 * or 5) and a maximum packet size. The harness frames and decodes packet
 * after packet as a gateway would (a CONNECT sets the level) and checks:
 *   - every result is a length within the input, 0 (more bytes needed) or a
 *     negated MQTT 5 reason code >= 0x80 that has a name;
 *   - every decoded string points inside the input;
 *   - a decoded packet re-encodes, the encoding decodes again, and encoding
 *     that gives the same bytes (encode(decode(x)) is a fixed point);
 *   - topic names map to Sluice names and back to themselves; filters map
 *     to valid Sluice patterns, and on the input's last PUBLISH topic the
 *     MQTT matcher agrees with those patterns (names not starting with '$').
 */

#include <errno.h>

#include <common/proto.h>
#include <mqtt_codec.h>
#include <mqtt_topic.h>

#include "fuzz.h"

#define MAX_ENTRIES 64

static const uint8_t *in_lo, *in_hi;
/* The last PUBLISH topic of this input: what a later filter is matched against. */
static struct sl_mqtt_str last_topic;
static uint8_t enc1[1 << 20], enc2[1 << 20];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
inside(struct sl_mqtt_str s)
{
	if (s.len == 0)
		return;
	FUZZ_CHECK((const uint8_t *)s.ptr >= in_lo && (const uint8_t *)s.ptr + s.len <= in_hi);
}

/* Topic name @t: valid, mapped, mapped back to itself. */
static void
check_name(struct sl_mqtt_str t)
{
	char sl[SL_MAX_TOPIC_NAME + 1], back[SL_MAX_TOPIC_NAME * 3 + 1];
	int n, m;

	if (t.len == 0)
		return;
	FUZZ_CHECK(sl_mqtt_topic_name_valid(t.ptr, t.len));
	n = sl_mqtt_topic_to_sluice(sl, sizeof(sl), t.ptr, t.len);
	FUZZ_CHECK(n > 0 || n == -ENAMETOOLONG);
	if (n < 0)
		return;
	FUZZ_CHECK(sl_proto_topic_name_valid(sl, (size_t)n));
	m = sl_mqtt_topic_from_sluice(back, sizeof(back), sl, (size_t)n);
	FUZZ_CHECK(m == (int)t.len && memcmp(back, t.ptr, t.len) == 0);
}

/* Filter @f: mapped to valid patterns that agree with the MQTT matcher on @name. */
static void
check_filter(struct sl_mqtt_str f, struct sl_mqtt_str name)
{
	char sl[SL_MAX_TOPIC_NAME + 1];
	struct sl_mqtt_patterns p;
	struct sl_mqtt_share sh;
	uint32_t i;
	int rc, n;
	bool mq, sm = false;

	if (!sl_mqtt_topic_filter_valid(f.ptr, f.len))
		return;
	rc = sl_mqtt_share_parse(f.ptr, f.len, &sh);
	FUZZ_CHECK(rc == 0 || rc == 1);
	if (rc == 1)
		f = (struct sl_mqtt_str){ sh.filter, (uint32_t)sh.filter_len };
	rc = sl_mqtt_filter_to_sluice(f.ptr, f.len, &p);
	FUZZ_CHECK(rc == 0 || rc == -ENAMETOOLONG);
	if (rc < 0)
		return;
	for (i = 0; i < p.n; i++)
		FUZZ_CHECK(sl_proto_pattern_valid(p.pattern[i]));
	if (name.len == 0 || name.ptr[0] == '$')
		return;
	n = sl_mqtt_topic_to_sluice(sl, sizeof(sl), name.ptr, name.len);
	if (n < 0)
		return;
	mq = sl_mqtt_topic_match(f.ptr, f.len, name.ptr, name.len);
	for (i = 0; i < p.n; i++)
		sm |= sl_proto_pattern_match(p.pattern[i], sl, (size_t)n) != 0;
	FUZZ_CHECK(mq == sm);
}

/* Encode @p (as the other side sends it) into @out: its length, or < 0. */
static int
encode(uint8_t *out, size_t cap, const struct sl_mqtt_packet *p, struct sl_mqtt_sub_entry *e)
{
	struct sl_mqtt_subscribe s;
	uint32_t off = 0, n = 0;

	switch (p->type) {
	case SL_MQTT_CONNECT: return sl_mqtt_enc_connect(out, cap, &p->u.connect);
	case SL_MQTT_CONNACK: return sl_mqtt_enc_connack(out, cap, p->level, &p->u.connack);
	case SL_MQTT_PUBLISH: return sl_mqtt_enc_publish(out, cap, p->level, &p->u.publish);
	case SL_MQTT_PUBACK: case SL_MQTT_PUBREC: case SL_MQTT_PUBREL: case SL_MQTT_PUBCOMP:
		return sl_mqtt_enc_ack(out, cap, p->level, p->type, &p->u.ack);
	case SL_MQTT_SUBSCRIBE: case SL_MQTT_UNSUBSCRIBE:
		s = p->u.subscribe;
		while (n < MAX_ENTRIES && sl_mqtt_sub_next(&s, p->type, &off, &e[n]) == 1)
			n++;
		if (n != s.n)
			return -E2BIG; /* more entries than the harness keeps */
		s.entries = e;
		return sl_mqtt_enc_subscribe(out, cap, p->level, p->type, &s);
	case SL_MQTT_SUBACK: case SL_MQTT_UNSUBACK:
		return sl_mqtt_enc_suback(out, cap, p->level, p->type, &p->u.suback);
	case SL_MQTT_DISCONNECT: case SL_MQTT_AUTH:
		return sl_mqtt_enc_disconnect(out, cap, p->level, p->type, &p->u.disconnect);
	default:
		return sl_mqtt_enc_ping(out, cap, p->type);
	}
}

/* Every string of a decoded packet lies in the input; names and filters map. */
static void
check_fields(const struct sl_mqtt_packet *p)
{
	struct sl_mqtt_sub_entry e;
	struct sl_mqtt_user_prop u;
	uint32_t off = 0, n = 0, id;

	switch (p->type) {
	case SL_MQTT_CONNECT:
		inside(p->u.connect.client_id);
		inside(p->u.connect.will_topic);
		inside(p->u.connect.will_payload);
		inside(p->u.connect.username);
		inside(p->u.connect.password);
		if (p->u.connect.will)
			check_name(p->u.connect.will_topic);
		break;
	case SL_MQTT_PUBLISH:
		inside(p->u.publish.topic);
		inside(p->u.publish.payload);
		check_name(p->u.publish.topic);
		if (p->u.publish.topic.len)
			last_topic = p->u.publish.topic;
		while (sl_mqtt_user_next(&p->u.publish.props, &off, &u) == 1) {
			inside(u.name);
			inside(u.value);
			n++;
		}
		FUZZ_CHECK(n == p->u.publish.props.n_user);
		for (off = 0, n = 0; sl_mqtt_sub_id_next(&p->u.publish.props, &off, &id) == 1; n++)
			FUZZ_CHECK(id >= 1 && id <= SL_MQTT_MAX_SUB_ID &&
				   (n > 0 || id == p->u.publish.props.sub_id));
		FUZZ_CHECK(n == p->u.publish.props.n_sub_ids);
		break;
	case SL_MQTT_SUBSCRIBE:
	case SL_MQTT_UNSUBSCRIBE:
		while (sl_mqtt_sub_next(&p->u.subscribe, p->type, &off, &e) == 1) {
			inside(e.filter);
			FUZZ_CHECK(e.qos <= 2 && e.retain_handling <= 2);
			check_filter(e.filter, last_topic);
			n++;
		}
		FUZZ_CHECK(n == p->u.subscribe.n);
		break;
	default:
		break;
	}
}

/* encode(decode(x)) decodes, and encodes to the same bytes again. */
static void
check_reencode(const struct sl_mqtt_packet *p, enum sl_mqtt_side side)
{
	static struct sl_mqtt_sub_entry e1[MAX_ENTRIES], e2[MAX_ENTRIES];
	struct sl_mqtt_packet q;
	int n1, n2, rc;

	n1 = encode(enc1, sizeof(enc1), p, e1);
	if (n1 == -E2BIG || n1 == -ENOSPC)
		return;
	FUZZ_CHECK(n1 > 0);
	FUZZ_CHECK(encode(NULL, 0, p, e1) == n1);
	rc = sl_mqtt_parse(enc1, (size_t)n1, 0, p->level, side, &q);
	FUZZ_CHECK(rc == n1);
	FUZZ_CHECK(q.type == p->type && q.level == p->level);
	n2 = encode(enc2, sizeof(enc2), &q, e2);
	FUZZ_CHECK(n2 == n1 && memcmp(enc1, enc2, (size_t)n1) == 0);
}

/*
 * A server's answer to decode failure @rc is a packet a client decodes:
 * a CONNACK (level 4 or 5 format) or a level 5 DISCONNECT.
 */
static void
check_answer(uint8_t level, bool connected, uint8_t rc)
{
	uint8_t code, fmt = level >= SL_MQTT_V5 ? SL_MQTT_V5 : SL_MQTT_V311;
	enum sl_mqtt_answer a = sl_mqtt_server_answer(level, connected, rc, &code);
	struct sl_mqtt_packet q;
	int n;

	FUZZ_CHECK(strcmp(sl_mqtt_rc_name(rc), "unknown") != 0);
	if (a == SL_MQTT_ANSWER_CONNACK) {
		FUZZ_CHECK(!connected && level != 0);
		n = sl_mqtt_enc_connack(enc1, sizeof(enc1), fmt,
					&(struct sl_mqtt_connack){ .rc = code });
		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(sl_mqtt_parse(enc1, (size_t)n, 0, fmt, SL_MQTT_CLIENT, &q) == n);
		FUZZ_CHECK(q.u.connack.rc == code && code != 0);
	} else if (a == SL_MQTT_ANSWER_DISCONNECT) {
		FUZZ_CHECK(connected && level == SL_MQTT_V5 && code == rc);
		n = sl_mqtt_enc_disconnect(enc1, sizeof(enc1), SL_MQTT_V5, SL_MQTT_DISCONNECT,
					   &(struct sl_mqtt_disconnect){ .rc = code });
		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(sl_mqtt_parse(enc1, (size_t)n, 0, SL_MQTT_V5, SL_MQTT_CLIENT, &q) == n);
		FUZZ_CHECK(q.u.disconnect.rc == code);
	} else {
		FUZZ_CHECK(a == SL_MQTT_ANSWER_CLOSE);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxes[4] = { 0, 64, 1024, 2 };
	struct sl_mqtt_packet p;
	enum sl_mqtt_side side;
	uint8_t level;
	uint32_t max;
	size_t off = 1;

	if (size < 1)
		return 0;
	side = (data[0] & 1) ? SL_MQTT_CLIENT : SL_MQTT_SERVER;
	level = (uint8_t[]){ 0, 4, 5, 5 }[(data[0] >> 1) & 3];
	max = maxes[(data[0] >> 3) & 3];
	if (side == SL_MQTT_CLIENT && level == 0)
		level = 4;
	in_lo = data;
	in_hi = data + size;
	last_topic = (struct sl_mqtt_str){ NULL, 0 };
	while (off < size) {
		int rc;

		p.type = 0; /* a framing failure decodes nothing */
		rc = sl_mqtt_parse(data + off, size - off, max, level, side, &p);

		FUZZ_CHECK(rc <= (int)(size - off));
		if (rc == 0)
			break;
		if (rc < 0) {
			FUZZ_CHECK(-rc >= 0x80 && -rc <= 0xA2);
			/* A failed CONNECT is answered at the level it carried. */
			check_answer(level == 0 && p.type == SL_MQTT_CONNECT ? p.u.connect.level :
				     level, level != 0 && side == SL_MQTT_SERVER, (uint8_t)-rc);
			break; /* the gateway closes the connection */
		}
		FUZZ_CHECK(strcmp(sl_mqtt_type_name(p.type), "reserved") != 0);
		check_fields(&p);
		check_reencode(&p, side);
		if (p.type == SL_MQTT_CONNECT)
			level = p.level;
		off += (size_t)rc;
	}
	return 0;
}
