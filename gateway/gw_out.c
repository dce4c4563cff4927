/* SPDX-License-Identifier: BSD-3-Clause */
/* Messages to MQTT clients: PUBLISH encoding, the inflight window, the queue behind it. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/*
 * Outbound QoS 1/2 packet ids are inflight slot numbers + 1: slot i holds
 * packet id i + 1 until acknowledged, so an ack finds its message in O(1)
 * and an id is never reused while in flight [MQTT-2.2.1-3]. The window is
 * min(max-inflight, the client's Receive Maximum) [MQTT-3.3.4-9]; beyond
 * it, and while the client is disconnected, messages wait in a ring of
 * max-queued (then dropped, counted queue_full).
 */

int
gw_out_write(struct gw_conn *c, const struct gw_msg *m, uint8_t qos, bool dup, uint8_t retain,
	     uint16_t pkt_id, uint32_t sub_id)
{
	uint32_t plen = 0, rem, total, left_s = 0;
	uint8_t *p, *w;
	bool v5 = c->level == SL_MQTT_V5;

	if (v5) {
		plen = m->props_len;
		if (m->expiry_ns) {
			/* The remaining lifetime is what is sent [MQTT-3.3.2-6]. */
			uint64_t left = m->expiry_ns > gw.now_ns ? m->expiry_ns - gw.now_ns : 0;

			left_s = (uint32_t)((left + 999999999ull) / 1000000000ull);
			plen += 5;
		}
		if (sub_id)
			plen += 1 + gw_varint_len(sub_id);
	}
	rem = 2 + m->topic_len + (qos ? 2 : 0) + (v5 ? gw_varint_len(plen) + plen : 0) + m->len;
	total = 1 + gw_varint_len(rem) + rem;
	if (total > c->max_packet_out)
		return -EMSGSIZE; /* [MQTT-3.1.2-25]: never sent, dropped */
	p = w = gw_conn_reserve(c, total);
	if (p == NULL)
		return -ENOBUFS;
	*w++ = (uint8_t)(SL_MQTT_PUBLISH << 4 | (dup ? 8 : 0) | qos << 1 | (retain ? 1 : 0));
	w += gw_varint_put(w, rem);
	*w++ = (uint8_t)(m->topic_len >> 8);
	*w++ = (uint8_t)m->topic_len;
	memcpy(w, gw_msg_topic(m), m->topic_len);
	w += m->topic_len;
	if (qos) {
		*w++ = (uint8_t)(pkt_id >> 8);
		*w++ = (uint8_t)pkt_id;
	}
	if (v5) {
		w += gw_varint_put(w, plen);
		if (m->expiry_ns) {
			*w++ = SL_MQTT_P_MESSAGE_EXPIRY;
			*w++ = (uint8_t)(left_s >> 24);
			*w++ = (uint8_t)(left_s >> 16);
			*w++ = (uint8_t)(left_s >> 8);
			*w++ = (uint8_t)left_s;
		}
		if (sub_id) {
			*w++ = SL_MQTT_P_SUBSCRIPTION_ID;
			w += gw_varint_put(w, sub_id);
		}
		memcpy(w, gw_msg_props(m), m->props_len);
		w += m->props_len;
	}
	memcpy(w, gw_msg_payload(m), m->len);
	w += m->len;
	gw_conn_commit(c, (uint32_t)(w - p));
	GW_INC(pub_out);
	return 0;
}

static bool
expired(const struct gw_msg *m)
{
	if (m->expiry_ns && gw.now_ns >= m->expiry_ns) {
		GW_INC(pub_out_expired); /* [MQTT-3.3.2-5] */
		return true;
	}
	return false;
}

static bool
can_send(const struct gw_sess *s)
{
	return s->conn != NULL && s->conn->state == GW_CONN_UP &&
	       gw_conn_pending(s->conn) <= gw.conf.tx_max;
}

static void
send_pubrel(struct gw_conn *c, uint16_t id)
{
	struct sl_mqtt_ack a = { .packet_id = id };
	uint8_t buf[8];
	int n = sl_mqtt_enc_ack(buf, sizeof(buf), c->level, SL_MQTT_PUBREL, &a);

	if (n > 0)
		gw_conn_send(c, buf, (uint32_t)n);
}

/* Put @o (its reference moves) into a free inflight slot and send it. */
static void
send_new(struct gw_sess *s, struct gw_out o)
{
	uint32_t i, n = gw.conf.max_inflight;
	int rc;

	if (s->infl == NULL) {
		s->infl = calloc(n, sizeof(*s->infl));
		if (s->infl == NULL) {
			gw_msg_unref(o.m);
			GW_INC(pub_out_dropped);
			return;
		}
	}
	/* From where the packet ids were last taken: usually free at once. */
	for (i = 0; i < n; i++) {
		uint32_t k = (s->next_pkt_id + i) % n;

		if (s->infl[k].state == 0) {
			o.pkt_id = (uint16_t)(k + 1);
			o.state = 1;
			s->infl[k] = o;
			s->n_infl++;
			s->next_pkt_id = (uint16_t)((k + 1) % n);
			rc = gw_out_write(s->conn, o.m, o.qos, o.dup, o.retain, o.pkt_id, o.sub_id);
			if (rc == -EMSGSIZE) {
				gw_msg_unref(o.m);
				s->infl[k].m = NULL;
				s->infl[k].state = 0;
				s->n_infl--;
				GW_INC(pub_out_dropped);
			} else if (rc < 0) {
				/* No room even past tx_max: the client is far too
				 * slow. The message stays inflight for a resume. */
				GW_INC(slow_disconnects);
				gw_conn_kill(s->conn, true);
			}
			return;
		}
	}
	gw_msg_unref(o.m); /* cannot happen: n_infl < cap <= n was checked */
}

static void
enqueue(struct gw_sess *s, struct gw_msg *m, uint8_t qos, uint8_t retain, uint32_t sub_id,
	bool dup)
{
	struct gw_out *o;

	if (s->q_len >= gw.conf.max_queued) {
		GW_INC(queue_full);
		return;
	}
	if (s->q_len == s->q_cap) {
		/* Grow the ring (doubling, up to max-queued): an idle session
		 * with nothing queued holds none. */
		uint32_t cap = s->q_cap ? s->q_cap * 2 : 16, i;
		struct gw_out *q;

		if (cap > gw.conf.max_queued)
			cap = gw.conf.max_queued;
		q = malloc(cap * sizeof(*q));
		if (q == NULL) {
			GW_INC(queue_full);
			return;
		}
		for (i = 0; i < s->q_len; i++)
			q[i] = s->q[(s->q_head + i) % s->q_cap];
		free(s->q);
		s->q = q;
		s->q_head = 0;
		s->q_cap = cap;
	}
	o = &s->q[(s->q_head + s->q_len) % s->q_cap];
	memset(o, 0, sizeof(*o));
	gw_msg_ref(m);
	o->m = m;
	o->qos = qos;
	o->retain = retain;
	o->sub_id = sub_id;
	o->dup = dup;
	s->q_len++;
}

void
gw_out_deliver(struct gw_sess *s, struct gw_msg *m, uint8_t qos, uint8_t retain, uint32_t sub_id)
{
	gw_out_deliver_dup(s, m, qos, retain, sub_id, false);
}

void
gw_out_deliver_dup(struct gw_sess *s, struct gw_msg *m, uint8_t qos, uint8_t retain,
		   uint32_t sub_id, bool dup)
{
	struct gw_out o = { 0 };

	if (expired(m))
		return;
	if (qos == 0) {
		/* At most once: a disconnected or slow client misses it. */
		if (!can_send(s) || gw_out_write(s->conn, m, 0, false, retain, 0, sub_id) < 0)
			GW_INC(pub_out_dropped);
		return;
	}
	if (s->q_len == 0 && s->n_infl < s->cap_infl && can_send(s)) {
		gw_msg_ref(m);
		o.m = m;
		o.qos = qos;
		o.retain = retain;
		o.sub_id = sub_id;
		o.dup = dup;
		send_new(s, o);
		return;
	}
	enqueue(s, m, qos, retain, sub_id, dup);
}

void
gw_out_pump(struct gw_sess *s)
{
	struct gw_out o;

	while (s->q_len > 0 && s->n_infl < s->cap_infl && can_send(s)) {
		o = s->q[s->q_head];
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
		if (expired(o.m)) {
			gw_msg_unref(o.m);
			continue;
		}
		send_new(s, o);
	}
}

static void
release(struct gw_sess *s, struct gw_out *o)
{
	gw_msg_unref(o->m);
	memset(o, 0, sizeof(*o));
	s->n_infl--;
}

void
gw_out_ack(struct gw_sess *s, uint8_t type, uint16_t pkt_id, uint8_t rc)
{
	struct gw_out *o;

	if (s == NULL || s->infl == NULL || pkt_id == 0 || pkt_id > gw.conf.max_inflight)
		return;
	o = &s->infl[pkt_id - 1];
	if (o->state == 0)
		return; /* unknown id: ignored (a late duplicate ack) */
	switch (type) {
	case SL_MQTT_PUBACK:
		if (o->qos == 1) {
			gw_persist_acked(s, o->m);
			release(s, o);
		}
		break;
	case SL_MQTT_PUBREC:
		if (o->qos != 2)
			break;
		if (rc >= 0x80) {
			release(s, o); /* the client refused it: done [MQTT-4.3.3-?] */
			break;
		}
		/* The message is the client's now; keep the id until PUBCOMP. */
		gw_persist_acked(s, o->m);
		o->state = 2;
		gw_msg_unref(o->m);
		o->m = NULL;
		send_pubrel(s->conn, pkt_id);
		break;
	case SL_MQTT_PUBCOMP:
		if (o->state == 2)
			release(s, o);
		break;
	}
	gw_out_pump(s);
}

void
gw_out_resume(struct gw_sess *s)
{
	uint32_t i;

	/* [MQTT-4.4.0-1]: unacknowledged PUBLISH (DUP set) and PUBREL are
	 * sent again on the resumed session. */
	for (i = 0; s->infl != NULL && i < gw.conf.max_inflight && s->conn != NULL; i++) {
		struct gw_out *o = &s->infl[i];

		if (o->state == 1) {
			GW_INC(pub_out_retried);
			if (gw_out_write(s->conn, o->m, o->qos, true, o->retain, o->pkt_id,
					 o->sub_id) == -ENOBUFS)
				return;
		} else if (o->state == 2) {
			send_pubrel(s->conn, o->pkt_id);
		}
	}
	gw_out_pump(s);
}

void
gw_out_release(struct gw_sess *s)
{
	uint32_t i;

	for (i = 0; s->infl != NULL && i < gw.conf.max_inflight; i++)
		gw_msg_unref(s->infl[i].m);
	for (i = 0; i < s->q_len; i++)
		gw_msg_unref(s->q[(s->q_head + i) % s->q_cap].m);
	free(s->infl);
	free(s->q);
	s->infl = NULL;
	s->q = NULL;
	s->n_infl = s->q_len = s->q_cap = 0;
}
