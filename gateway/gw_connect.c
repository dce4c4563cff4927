/* SPDX-License-Identifier: BSD-3-Clause */
/* CONNECT and DISCONNECT: credentials, client ids, takeover, keep-alive, will. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw.h"

#define MAX_CID 256		/* longest client id kept */
#define TOPIC_ALIAS_MAX 16	/* inbound topic aliases offered (v5) */
#define INBOUND_RECEIVE_MAX 1024 /* inbound QoS 2 held at once (v5 Receive Maximum) */

static void
refuse(struct gw_conn *c, uint8_t rc5, const char *why)
{
	struct sl_mqtt_connack a = { 0 };
	uint8_t buf[64];
	int n;

	GW_INC(connect_refused);
	GW_LOG("connection %u: CONNECT refused: %s\n", c->id, why);
	a.rc = c->level == SL_MQTT_V5 ? rc5 : sl_mqtt_v3_connack_code(rc5);
	n = sl_mqtt_enc_connack(buf, sizeof(buf), c->level, &a);
	if (n > 0)
		gw_conn_send(c, buf, (uint32_t)n);
	gw_conn_close_after_flush(c);
}

/* "sl-" and 20 hex digits: an id no client is likely to choose. */
static void
assign_cid(char *out, size_t cap)
{
	uint8_t r[10];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (i = 0; i < sizeof(r); i++)
			r[i] = (uint8_t)rand();
	snprintf(out, cap, "sl-");
	for (i = 0; i < sizeof(r); i++)
		snprintf(out + 3 + 2 * i, cap - 3 - 2 * i, "%02x", r[i]);
}

/* The will of @k as a gateway message (NULL and *@rc set on failure). */
static struct gw_msg *
make_will(const struct sl_mqtt_connect *k, uint8_t level, uint8_t *rc)
{
	const struct sl_mqtt_props *wp = &k->will_props;
	uint32_t props_len = 0;
	struct gw_msg *m;
	char sname[SL_MAX_TOPIC_NAME + 1];

	if (sl_mqtt_topic_to_sluice(sname, sizeof(sname), k->will_topic.ptr, k->will_topic.len) < 0) {
		*rc = SL_MQTT_RC_TOPIC_NAME_INVALID;
		return NULL;
	}
	if (level == SL_MQTT_V5 && wp->raw != NULL)
		props_len = wp->raw_len;
	m = gw_msg_new(k->will_topic.len + props_len + k->will_payload.len);
	if (m == NULL) {
		*rc = SL_MQTT_RC_SERVER_UNAVAILABLE;
		return NULL;
	}
	memcpy(m->data, k->will_topic.ptr, k->will_topic.len);
	m->topic_len = (uint16_t)k->will_topic.len;
	/* The will's properties that travel with it are PUBLISH properties
	 * (payload format, content type, response topic, correlation data,
	 * user properties); Will Delay stays here, Message Expiry apart. */
	m->props_len = (uint16_t)gw_props_forwardable(m->data + m->topic_len, wp->raw, props_len);
	memcpy(m->data + m->topic_len + m->props_len, k->will_payload.ptr, k->will_payload.len);
	m->len = k->will_payload.len;
	m->qos = k->will_qos;
	m->retain = k->will_retain;
	if (level == SL_MQTT_V5 && (wp->present & SL_MQTT_PBIT(SL_MQTT_P_MESSAGE_EXPIRY)))
		m->expiry_s = wp->message_expiry; /* runs from when it is published */
	return m;
}

/* A second connection with the same client id: the first one ends
 * [MQTT-3.1.4-3] (v5: DISCONNECT 0x8E). */
static void
take_over(struct gw_sess *s, bool resume)
{
	struct gw_conn *old = s->conn;

	if (old == NULL)
		return;
	GW_INC(takeovers);
	gw_conn_disconnect(old, SL_MQTT_RC_SESSION_TAKEN_OVER, false);
	old->sess = NULL;
	s->conn = NULL;
	/* The old connection's will: now, unless delayed and the session
	 * goes on (the new connection then cancels it, [MQTT-3.1.3-9]). */
	if (s->will != NULL && !(resume && s->will_delay_s > 0))
		gw_sess_will_send(s);
}

static void
connack(struct gw_conn *c, struct gw_sess *s, bool present, const struct sl_mqtt_connect *k,
	const char *assigned, uint32_t ka_cap, bool expiry_capped)
{
	struct sl_mqtt_connack a = { .session_present = present, .rc = 0 };
	struct sl_mqtt_props *p = &a.props;
	uint8_t buf[512];
	int n;

	if (c->level == SL_MQTT_V5) {
		p->present = SL_MQTT_PBIT(SL_MQTT_P_RECEIVE_MAX) |
			     SL_MQTT_PBIT(SL_MQTT_P_MAX_PACKET_SIZE) |
			     SL_MQTT_PBIT(SL_MQTT_P_TOPIC_ALIAS_MAX) |
			     SL_MQTT_PBIT(SL_MQTT_P_RETAIN_AVAILABLE) |
			     SL_MQTT_PBIT(SL_MQTT_P_WILDCARD_SUB_AVAILABLE) |
			     SL_MQTT_PBIT(SL_MQTT_P_SUB_ID_AVAILABLE) |
			     SL_MQTT_PBIT(SL_MQTT_P_SHARED_SUB_AVAILABLE);
		p->receive_max = INBOUND_RECEIVE_MAX;
		p->max_packet_size = gw.conf.max_packet;
		p->topic_alias_max = TOPIC_ALIAS_MAX;
		p->retain_available = 1;
		p->wildcard_sub_available = 1;
		p->sub_id_available = 1;
		p->shared_sub_available = 1;
		if (assigned != NULL) {
			p->present |= SL_MQTT_PBIT(SL_MQTT_P_ASSIGNED_CLIENT_ID);
			p->assigned_client_id.ptr = assigned;
			p->assigned_client_id.len = (uint32_t)strlen(assigned);
		}
		if (ka_cap) {
			p->present |= SL_MQTT_PBIT(SL_MQTT_P_SERVER_KEEP_ALIVE);
			p->server_keep_alive = (uint16_t)ka_cap;
		}
		if (expiry_capped) {
			p->present |= SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY);
			p->session_expiry = s->expiry_s;
		}
	}
	(void)k;
	n = sl_mqtt_enc_connack(buf, sizeof(buf), c->level, &a);
	if (n > 0)
		gw_conn_send(c, buf, (uint32_t)n);
}

void
gw_connect(struct gw_conn *c, const struct sl_mqtt_connect *k)
{
	const struct sl_mqtt_props *pr = &k->props;
	char cid[MAX_CID + 1], assigned[32];
	struct gw_user *u;
	struct gw_sess *s;
	struct gw_msg *will = NULL;
	uint32_t expiry = 0, ka, ka_cap = 0, cap;
	bool present = false, capped = false, assign = false;
	uint8_t rc = 0;

	c->level = k->level;
	if (k->client_id.len > MAX_CID) {
		refuse(c, SL_MQTT_RC_CLIENT_ID_INVALID, "client id too long");
		return;
	}
	if (k->client_id.len == 0) {
		/* [MQTT-3.1.3-6]: the server assigns one (v3.1.1: only with
		 * Clean Session 1, the codec refused the other case). */
		assign_cid(assigned, sizeof(assigned));
		memcpy(cid, assigned, strlen(assigned) + 1);
		assign = true;
	} else {
		memcpy(cid, k->client_id.ptr, k->client_id.len);
		cid[k->client_id.len] = 0;
	}
	if (k->has_username) {
		u = gw_user_get(k->username.ptr, (uint16_t)k->username.len,
				(const uint8_t *)k->password.ptr,
				k->has_password ? (uint16_t)k->password.len : 0, &rc);
	} else if (gw.conf.allow_anonymous) {
		u = gw_user_get(NULL, 0, NULL, 0, &rc);
	} else {
		u = NULL;
		rc = SL_MQTT_RC_NOT_AUTHORIZED;
	}
	if (u == NULL) {
		if (rc == SL_MQTT_RC_BAD_USER_OR_PASSWORD || rc == SL_MQTT_RC_NOT_AUTHORIZED)
			GW_INC(auth_failed);
		refuse(c, rc, "credentials");
		return;
	}
	if (k->will) {
		will = make_will(k, c->level, &rc);
		if (will == NULL) {
			gw_user_put(u);
			refuse(c, rc, "will");
			return;
		}
	}
	/* Session lifetime after the connection: v5 Session Expiry Interval
	 * (0 by default), v3.1.1 Clean Session 0 = as long as allowed. */
	if (c->level == SL_MQTT_V5)
		expiry = (pr->present & SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY)) ? pr->session_expiry : 0;
	else
		expiry = k->clean_start ? 0 : UINT32_MAX;
	if (expiry > gw.conf.session_expiry_max) {
		expiry = gw.conf.session_expiry_max;
		capped = c->level == SL_MQTT_V5;
	}

	s = gw_sess_find(cid, (uint16_t)strlen(cid));
	if (s != NULL) {
		bool resume = !k->clean_start && s->user == u;

		take_over(s, resume);
		if (!resume) {
			gw_sess_free(s);
			s = NULL;
		} else {
			/* The delayed will of the old connection is cancelled. */
			gw_msg_unref(s->will);
			s->will = NULL;
			s->will_at_ns = 0;
			present = true;
		}
	}
	if (s == NULL) {
		s = gw_sess_new(cid, (uint16_t)strlen(cid), u);
		if (s == NULL) {
			gw_msg_unref(will);
			gw_user_put(u);
			refuse(c, SL_MQTT_RC_SERVER_UNAVAILABLE, "out of memory");
			return;
		}
	} else {
		gw_user_put(u); /* the session holds its own reference */
	}
	s->level = c->level;
	s->expiry_s = expiry;
	s->persistent = expiry > 0;
	s->expire_at_ns = 0;
	s->will = will;
	s->will_delay_s = (c->level == SL_MQTT_V5 && k->will &&
			   (k->will_props.present & SL_MQTT_PBIT(SL_MQTT_P_WILL_DELAY)))
				  ? k->will_props.will_delay : 0;
	cap = gw.conf.max_inflight;
	if (c->level == SL_MQTT_V5 && (pr->present & SL_MQTT_PBIT(SL_MQTT_P_RECEIVE_MAX)) &&
	    pr->receive_max < cap)
		cap = pr->receive_max;
	s->cap_infl = cap;
	if (c->level == SL_MQTT_V5 && (pr->present & SL_MQTT_PBIT(SL_MQTT_P_MAX_PACKET_SIZE)))
		c->max_packet_out = pr->max_packet_size;
	ka = k->keep_alive;
	if (gw.conf.keepalive_max && c->level == SL_MQTT_V5 &&
	    (ka == 0 || ka > gw.conf.keepalive_max)) {
		ka = gw.conf.keepalive_max;
		ka_cap = ka;
	}
	c->keepalive_s = ka;
	c->deadline_ns = ka ? gw.now_ns + (uint64_t)ka * 1500000000ull : 0;
	/* Before the connection is attached: what the restored subscriptions
	 * bring while they wait for the broker is queued, not written ahead
	 * of the CONNACK. */
	present = gw_persist_restore(s, k->clean_start, present);
	c->sess = s;
	s->conn = c;
	c->state = GW_CONN_UP;
	GW_INC(connects);
	GW_LOG("connection %u: client '%s' level %u%s\n", c->id, cid, c->level,
	       present ? " (session resumed)" : "");
	connack(c, s, present, k, assign && c->level == SL_MQTT_V5 ? assigned : NULL, ka_cap,
		capped);
	if (present)
		gw_out_resume(s);
	gw_persist_resume(s);
}

void
gw_disconnect_in(struct gw_conn *c, const struct sl_mqtt_disconnect *d)
{
	struct gw_sess *s = c->sess;

	/* [MQTT-3.14.4-3]: a normal DISCONNECT discards the will; v5 reason
	 * 0x04 asks for it. A v5 client may lower or raise a non-zero
	 * session expiry here, never from 0 [MQTT-3.14.2-2]. */
	if (s != NULL && c->level == SL_MQTT_V5 &&
	    (d->props.present & SL_MQTT_PBIT(SL_MQTT_P_SESSION_EXPIRY))) {
		if (s->expiry_s == 0 && d->props.session_expiry != 0) {
			GW_INC(bad_protocol);
			gw_conn_disconnect(c, SL_MQTT_RC_PROTOCOL_ERROR, true);
			return;
		}
		s->expiry_s = d->props.session_expiry < gw.conf.session_expiry_max
				      ? d->props.session_expiry : gw.conf.session_expiry_max;
		s->persistent = s->expiry_s > 0;
	}
	gw_conn_kill(c, c->level == SL_MQTT_V5 && d->rc == SL_MQTT_RC_DISCONNECT_WITH_WILL);
}
