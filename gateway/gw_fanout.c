/* SPDX-License-Identifier: BSD-3-Clause */
/* MQTT messages <-> Sluice headers, and the fan-out of broker deliveries to sessions. */

#include <stdlib.h>
#include <string.h>

#include "gw.h"

/*
 * Headers a message published through the gateway carries (docs/MQTT.md):
 *   "mqtt"     12 bytes: version 1, QoS, flags (1 retain, 2 payload format
 *              UTF-8), 0, the publishing session's number (LE u32, for
 *              No Local), Message Expiry Interval in s (LE u32, 0 none);
 *   "mqtt-ct"  Content Type;  "mqtt-rt" Response Topic;
 *   "mqtt-cd"  Correlation Data (only when it fits a header value);
 *   every MQTT 5 user property whose name is a valid header name (1..32 of
 *   [A-Za-z0-9._-], not starting "sl-" or "mqtt") and whose value fits,
 *   under its own name; the first of repeated names only. Up to
 *   SL_MAX_HDRS headers in SL_MAX_HDRS_LEN bytes; what does not fit is
 *   left out (the payload always travels).
 * A native message (no "mqtt" header) is delivered at the subscription's
 * QoS, and its headers become user properties.
 */
#define MQTT_HDR_LEN 12
#define F_RETAIN 1
#define F_UTF8 2

static bool
hdr_name_ok(const uint8_t *p, uint32_t len)
{
	uint32_t i;

	if (len == 0 || len > SL_MAX_HDR_NAME)
		return false;
	if ((len >= 3 && !memcmp(p, "sl-", 3)) || (len >= 4 && !memcmp(p, "mqtt", 4)))
		return false;
	for (i = 0; i < len; i++) {
		uint8_t ch = p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

struct hbuild {
	struct sl_header *h;
	uint8_t *scratch;
	unsigned n;
	uint32_t used;	/* scratch bytes */
	uint32_t block; /* wire block bytes so far */
};

static void
hadd(struct hbuild *b, const void *name, uint32_t nlen, const void *val, uint32_t vlen)
{
	char *nm;
	unsigned i;

	if (b->n >= SL_MAX_HDRS || vlen > SL_MAX_HDR_VALUE ||
	    b->block + 2 + nlen + vlen > SL_MAX_HDRS_LEN ||
	    b->used + nlen + 1 + vlen > SL_MAX_HDRS_LEN + SL_MAX_HDRS)
		return;
	for (i = 0; i < b->n; i++)
		if (strlen(b->h[i].name) == nlen && !memcmp(b->h[i].name, name, nlen))
			return;
	nm = (char *)b->scratch + b->used;
	memcpy(nm, name, nlen);
	nm[nlen] = 0;
	b->used += nlen + 1;
	memcpy(b->scratch + b->used, val, vlen);
	b->h[b->n].name = nm;
	b->h[b->n].value = b->scratch + b->used;
	b->h[b->n].value_len = (uint16_t)vlen;
	b->used += vlen;
	b->block += 2 + nlen + vlen;
	b->n++;
}

static void
put_le32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x;
	p[1] = (uint8_t)(x >> 8);
	p[2] = (uint8_t)(x >> 16);
	p[3] = (uint8_t)(x >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

unsigned
gw_pub_headers(const struct gw_pubreq *r, struct sl_header *h, uint8_t *scratch)
{
	/* scratch: SL_MAX_HDRS_LEN + SL_MAX_HDRS bytes would be exact; the
	 * caller's SL_MAX_HDRS_LEN suffices because names here are short. */
	struct hbuild b = { .h = h, .scratch = scratch, .block = 2 };
	uint8_t mh[MQTT_HDR_LEN] = { 1, r->qos, 0, 0 };
	uint32_t off = 0, vlen;
	const uint8_t *v;
	uint8_t id;

	if (r->retain)
		mh[2] |= F_RETAIN;
	put_le32(mh + 4, r->src);
	put_le32(mh + 8, r->expiry_s);
	/* The payload format bit is set below before the header is copied. */
	while (r->props && gw_props_next(r->props, r->props_len, &off, &id, &v, &vlen) == 1)
		if (id == SL_MQTT_P_PAYLOAD_FORMAT && v[0] == 1)
			mh[2] |= F_UTF8;
	hadd(&b, "mqtt", 4, mh, MQTT_HDR_LEN);
	off = 0;
	while (r->props && gw_props_next(r->props, r->props_len, &off, &id, &v, &vlen) == 1) {
		switch (id) {
		case SL_MQTT_P_CONTENT_TYPE:
			hadd(&b, "mqtt-ct", 7, v + 2, vlen - 2);
			break;
		case SL_MQTT_P_RESPONSE_TOPIC:
			hadd(&b, "mqtt-rt", 7, v + 2, vlen - 2);
			break;
		case SL_MQTT_P_CORRELATION_DATA:
			hadd(&b, "mqtt-cd", 7, v + 2, vlen - 2);
			break;
		case SL_MQTT_P_USER_PROPERTY: {
			uint32_t nl = (uint32_t)(v[0] << 8 | v[1]);

			if (hdr_name_ok(v + 2, nl))
				hadd(&b, v + 2, nl, v + 4 + nl, vlen - 4 - nl);
			break;
		}
		default:
			break;
		}
	}
	return b.n;
}

/* Append a string property @id to @p. */
static uint32_t
prop_str(uint8_t *p, uint8_t id, const void *s, uint32_t len)
{
	p[0] = id;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	memcpy(p + 3, s, len);
	return 3 + len;
}

struct gw_msg *
gw_msg_from_sluice(const struct sl_message *msg, const char *topic, uint16_t tlen)
{
	const char *name;
	const void *val;
	uint16_t nl, vl;
	const uint8_t *mh = NULL;
	struct gw_msg *m;
	uint8_t *p;
	uint32_t w = 0;
	unsigned i;

	/* Properties take at most the header bytes plus 5 bytes each. */
	m = gw_msg_new(tlen + msg->hdrs_len + 5u * SL_MAX_HDRS + 2 + msg->len);
	if (m == NULL)
		return NULL;
	memcpy(m->data, topic, tlen);
	m->topic_len = tlen;
	p = m->data + tlen;
	m->qos = 2; /* native: the subscription's QoS decides */
	for (i = 0; sl_msg_header_at(msg, i, &name, &nl, &val, &vl) == 0; i++) {
		if (nl == 4 && !memcmp(name, "mqtt", 4) && vl >= MQTT_HDR_LEN) {
			mh = val;
		} else if (nl == 7 && !memcmp(name, "mqtt-ct", 7) && sl_mqtt_utf8_valid(val, vl)) {
			w += prop_str(p + w, SL_MQTT_P_CONTENT_TYPE, val, vl);
		} else if (nl == 7 && !memcmp(name, "mqtt-rt", 7) && sl_mqtt_utf8_valid(val, vl)) {
			w += prop_str(p + w, SL_MQTT_P_RESPONSE_TOPIC, val, vl);
		} else if (nl == 7 && !memcmp(name, "mqtt-cd", 7)) {
			w += prop_str(p + w, SL_MQTT_P_CORRELATION_DATA, val, vl);
		} else if (!(nl >= 3 && !memcmp(name, "sl-", 3)) &&
			   !(nl >= 4 && !memcmp(name, "mqtt", 4)) && sl_mqtt_utf8_valid(val, vl)) {
			p[w] = SL_MQTT_P_USER_PROPERTY;
			p[w + 1] = 0;
			p[w + 2] = (uint8_t)nl;
			memcpy(p + w + 3, name, nl);
			w += 3 + nl;
			p[w] = (uint8_t)(vl >> 8);
			p[w + 1] = (uint8_t)vl;
			memcpy(p + w + 2, val, vl);
			w += 2 + vl;
		}
	}
	if (mh != NULL) {
		m->qos = mh[1] <= 2 ? mh[1] : 2;
		m->retain = (mh[2] & F_RETAIN) != 0;
		if (mh[2] & F_UTF8) {
			p[w++] = SL_MQTT_P_PAYLOAD_FORMAT;
			p[w++] = 1;
		}
		m->src = get_le32(mh + 4);
		m->expiry_s = get_le32(mh + 8);
		/* The timestamp is the gateway's own monotonic clock when it
		 * published (same host, same clock): the expiry runs from there. */
		if (m->expiry_s)
			m->expiry_ns = msg->timestamp + (uint64_t)m->expiry_s * 1000000000ull;
	}
	m->props_len = (uint16_t)w;
	memcpy(p + w, msg->data, msg->len);
	m->len = msg->len;
	m->sl_seq = msg->seq;
	m->sl_topic = msg->topic_id;
	return m;
}

/* Source session of a delivery, read before anything is built (No Local). */
static uint32_t
src_of(const struct sl_message *msg)
{
	uint16_t len;
	const uint8_t *v = sl_msg_header(msg, "mqtt", &len);

	return v != NULL && len >= MQTT_HDR_LEN ? get_le32(v + 4) : 0;
}

static void
fanout_group(struct gw_user *u, const struct sl_message *msg)
{
	static uint32_t rr;
	struct gw_sess *s, *pick = NULL;
	struct gw_sub *pick_sub = NULL;
	struct gw_msg *m;
	uint32_t i, n = 0;
	uint16_t tlen;
	const char *t;

	/* Every connected session of this user in the group is a candidate;
	 * one gets it, round robin. */
	for (s = u->sessions; s != NULL; s = s->unext)
		for (i = 0; s->conn != NULL && i < s->n_subs; i++)
			if (s->subs[i].group_id == msg->group_id) {
				n++;
				break;
			}
	if (n > 0) {
		uint32_t want = rr++ % n;

		for (s = u->sessions; s != NULL && pick == NULL; s = s->unext)
			for (i = 0; s->conn != NULL && i < s->n_subs; i++)
				if (s->subs[i].group_id == msg->group_id) {
					if (want-- == 0) {
						pick = s;
						pick_sub = &s->subs[i];
					}
					break;
				}
	}
	t = gw_names_mqtt(u, msg->topic_id, &tlen);
	if (pick == NULL || t == NULL) {
		/* Nobody here to take it: back to the group for another member. */
		sl_client_group_nak(u->cl, msg->group_id, msg->seq, 0, 0);
		return;
	}
	m = gw_msg_from_sluice(msg, t, tlen);
	if (m == NULL) {
		sl_client_group_nak(u->cl, msg->group_id, msg->seq, 0, 0);
		return;
	}
	gw_out_deliver(pick, m, pick_sub->qos < m->qos ? pick_sub->qos : m->qos,
		       pick_sub->rap ? m->retain : 0, pick_sub->sub_id);
	gw_msg_unref(m);
	/* The gateway holds it for the session now (its queue, its retries). */
	sl_client_group_ack(u->cl, msg->group_id, msg->seq);
}

/*
 * Deliveries of a topic whose name is not known yet (a pattern brought a
 * topic new to the gateway; its name is asked of the broker outside the
 * poll, gw_names.c): parked in arrival order, copied (the slow path, once per new topic),
 * and fanned out as soon as the name is found; given up after PARK_NS.
 */
#define PARK_MAX 4096
#define PARK_NS 3000000000ull
#define PARK_RETRY_NS 20000000ull

struct parked {
	struct gw_user *u;
	struct sl_message msg;
	uint64_t since_ns;
	uint8_t *buf;
};

static struct parked park[PARK_MAX];
static uint32_t park_head, park_len;
static uint64_t park_next_ns;

static void fanout_named(struct gw_user *u, const struct sl_message *msg, const char *t,
			 uint16_t tlen);

static void
park_msg(struct gw_user *u, const struct sl_message *msg)
{
	struct parked *p;

	if (park_len == PARK_MAX) {
		GW_INC(unknown_topic);
		return;
	}
	p = &park[(park_head + park_len) % PARK_MAX];
	p->buf = malloc((size_t)msg->len + msg->hdrs_len + msg->key_len + 1);
	if (p->buf == NULL) {
		GW_INC(unknown_topic);
		return;
	}
	p->u = u;
	p->msg = *msg;
	memcpy(p->buf, msg->data, msg->len);
	p->msg.data = p->buf;
	if (msg->hdrs_len) {
		memcpy(p->buf + msg->len, msg->hdrs, msg->hdrs_len);
		p->msg.hdrs = p->buf + msg->len;
	}
	if (msg->key_len) {
		memcpy(p->buf + msg->len + msg->hdrs_len, msg->key, msg->key_len);
		p->msg.key = p->buf + msg->len + msg->hdrs_len;
	}
	p->since_ns = gw.now_ns;
	u->refs++; /* kept alive while a parked message names it */
	park_len++;
}

bool
gw_fanout_waiting(void)
{
	return park_len > 0;
}

void
gw_fanout_parked(void)
{
	struct parked *p;
	const char *t;
	uint16_t tlen;

	if (park_len == 0 || gw.now_ns < park_next_ns)
		return;
	park_next_ns = gw.now_ns + PARK_RETRY_NS;
	while (park_len > 0) {
		p = &park[park_head];
		t = gw_names_mqtt(p->u->dead ? NULL : p->u, p->msg.topic_id, &tlen);
		if (t == NULL && gw.now_ns - p->since_ns < PARK_NS)
			return; /* in order: the rest waits behind it */
		if (t == NULL)
			GW_INC(unknown_topic);
		else if (!p->u->dead)
			fanout_named(p->u, &p->msg, t, tlen);
		free(p->buf);
		gw_user_put(p->u);
		park_head = (park_head + 1) % PARK_MAX;
		park_len--;
	}
}

void
gw_fanout(struct gw_user *u, const struct sl_message *msg)
{
	const char *t;
	uint16_t tlen;

	if (msg->group_id != 0) {
		fanout_group(u, msg);
		return;
	}
	t = park_len ? NULL : gw_names_mqtt(u, msg->topic_id, &tlen);
	if (t == NULL) {
		park_msg(u, msg);
		return;
	}
	fanout_named(u, msg, t, tlen);
}

static void
fanout_named(struct gw_user *u, const struct sl_message *msg, const char *t, uint16_t tlen)
{
	struct gw_msg *m = NULL;
	struct gw_sess *s;
	struct gw_pfan pf;
	struct gw_cur *cur;
	uint32_t i, src, sub_id;
	int best;
	bool rap, dup;
	uint8_t qos;

	src = src_of(msg);
	gw_persist_fan_begin(u, msg, &pf);
	for (s = u->sessions; s != NULL; s = s->unext) {
		best = -1;
		sub_id = 0;
		rap = false;
		for (i = 0; i < s->n_subs; i++) {
			const struct gw_sub *sb = &s->subs[i];

			if (sb->group != NULL || (sb->no_local && src == s->id))
				continue;
			if (!sl_mqtt_topic_match(sb->mfilter, sb->mflen, t, tlen))
				continue;
			/* Overlapping subscriptions: one delivery at the highest
			 * QoS [MQTT-3.3.4-2]; its identifier the first's. */
			if ((int)sb->qos > best)
				best = sb->qos;
			if (!sub_id)
				sub_id = sb->sub_id;
			rap = rap || sb->rap;
		}
		/* Journal-backed sessions: not queued while away, replays
		 * only to the sessions behind them (gw_persist.c). */
		if (best < 0 || gw_persist_fan_take(s, msg, &pf, &cur, &dup) < 0)
			continue;
		if (m == NULL && (m = gw_msg_from_sluice(msg, t, tlen)) == NULL) {
			GW_INC(pub_out_dropped);
			break;
		}
		qos = (uint8_t)best < m->qos ? (uint8_t)best : m->qos;
		gw_out_deliver_dup(s, m, qos, rap ? m->retain : 0, sub_id, dup);
		if (cur != NULL)
			gw_persist_taken(cur, msg->seq, qos);
	}
	gw_persist_fan_end(msg, &pf);
	gw_msg_unref(m);
}
