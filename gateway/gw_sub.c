/* SPDX-License-Identifier: BSD-3-Clause */
/* SUBSCRIBE and UNSUBSCRIBE: MQTT filters to Sluice subscriptions, shared ones to groups. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

#define MAX_ENTRIES 256 /* reason codes answered per SUBSCRIBE */

static void
sub_free(struct gw_sess *s, struct gw_sub *sb)
{
	unsigned i;

	for (i = 0; i < sb->n_pat; i++) {
		gw_user_punsub(s->user, sb->pat[i]);
		free(sb->pat[i]);
	}
	if (sb->group_id)
		gw_user_group_leave(s->user, sb->group_id);
	free(sb->group);
	free(sb->filter);
	memset(sb, 0, sizeof(*sb));
}

void
gw_sub_drop_all(struct gw_sess *s)
{
	uint32_t i;

	for (i = 0; i < s->n_subs; i++)
		sub_free(s, &s->subs[i]);
	free(s->subs);
	s->subs = NULL;
	s->n_subs = s->cap_subs = 0;
}

static struct gw_sub *
sub_find(struct gw_sess *s, const char *f, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < s->n_subs; i++)
		if (s->subs[i].flen == len && !memcmp(s->subs[i].filter, f, len))
			return &s->subs[i];
	return NULL;
}

/* The Sluice side of a plain filter: a subscription to the topic when it
 * exists and has no wildcard (the ACL answers it), else its patterns.
 * Returns 0 or an MQTT 5 reason. */
static int
take_plain(struct gw_sess *s, struct gw_sub *sb)
{
	struct sl_mqtt_patterns pp;
	char key[16];
	uint32_t tid, i;
	int rc;

	if (sl_mqtt_filter_to_sluice(sb->mfilter, sb->mflen, &pp) < 0)
		return SL_MQTT_RC_TOPIC_FILTER_INVALID;
	if (pp.exact && gw_user_topic(s->user, sb->mfilter, sb->mflen, &tid) == 0) {
		snprintf(key, sizeof(key), "=%u", tid);
		rc = gw_user_psub(s->user, key);
		if (rc == -EPERM)
			return SL_MQTT_RC_NOT_AUTHORIZED;
		if (rc == 0) {
			sb->pat[0] = strdup(key);
			sb->n_pat = 1;
			if (sb->pat[0] == NULL) {
				gw_user_punsub(s->user, key);
				sb->n_pat = 0;
				return SL_MQTT_RC_UNSPECIFIED;
			}
			return 0;
		}
	}
	for (i = 0; i < pp.n && i < 2; i++) {
		rc = gw_user_psub(s->user, pp.pattern[i]);
		if (rc == 0 && (sb->pat[i] = strdup(pp.pattern[i])) == NULL) {
			gw_user_punsub(s->user, pp.pattern[i]);
			rc = -ENOMEM;
		}
		if (rc < 0) {
			while (i-- > 0) {
				gw_user_punsub(s->user, sb->pat[i]);
				free(sb->pat[i]);
				sb->pat[i] = NULL;
			}
			sb->n_pat = 0;
			return rc == -EPERM ? SL_MQTT_RC_NOT_AUTHORIZED
			     : rc == -ENOSPC ? SL_MQTT_RC_QUOTA_EXCEEDED
					     : SL_MQTT_RC_UNSPECIFIED;
		}
		sb->n_pat = (uint8_t)(i + 1);
	}
	return 0;
}

/*
 * "$share/G/topic" -> consumer group G of the topic. A group that does not
 * exist yet is created on the user's behalf by sluice-control, which owns
 * groups and refuses a user without admin on the topic (gw_ctl.c); then
 * joined. A shared filter with a wildcard has no group to map to: refused
 * with 0x9E (docs/MQTT.md).
 */
static int
take_shared(struct gw_sess *s, struct gw_sub *sb, const struct sl_mqtt_share *sh)
{
	char sname[SL_MAX_TOPIC_NAME + 1];
	struct sl_mqtt_patterns pp;
	char group[32];
	uint32_t tid;
	int rc;

	if (!gw_ident_ok(sh->group, sh->group_len))
		return SL_MQTT_RC_TOPIC_FILTER_INVALID;
	if (sl_mqtt_filter_to_sluice(sh->filter, sh->filter_len, &pp) < 0)
		return SL_MQTT_RC_TOPIC_FILTER_INVALID;
	if (!pp.exact)
		return SL_MQTT_RC_SHARED_SUBS_NOT_SUPPORTED;
	rc = gw_user_topic(s->user, sh->filter, (uint16_t)sh->filter_len, &tid);
	if (rc != 0)
		return rc == SL_MQTT_RC_TOPIC_NAME_INVALID ? SL_MQTT_RC_TOPIC_FILTER_INVALID : rc;
	snprintf(group, sizeof(group), "%.*s", (int)sh->group_len, sh->group);
	rc = gw_user_group_join(s->user, group, tid);
	if (rc == -ESRCH && sl_mqtt_topic_to_sluice(sname, sizeof(sname), sh->filter,
						    (uint16_t)sh->filter_len) >= 0) {
		rc = gw_ctl_group_create(s->user->name, sname, group);
		if (rc == 0)
			rc = gw_user_group_join(s->user, group, tid);
		else if (rc != -EPERM)
			rc = -ESRCH; /* no sluice-control to ask: as before */
	}
	if (rc < 0)
		return rc == -EPERM ? SL_MQTT_RC_NOT_AUTHORIZED
		     : rc == -ESRCH ? SL_MQTT_RC_SHARED_SUBS_NOT_SUPPORTED
				    : SL_MQTT_RC_UNSPECIFIED;
	sb->group_id = (uint32_t)rc;
	sb->group = strdup(group);
	return sb->group ? 0 : SL_MQTT_RC_UNSPECIFIED;
}

/* One entry of a SUBSCRIBE. Returns the SUBACK reason code. */
static uint8_t
subscribe_one(struct gw_sess *s, const struct sl_mqtt_sub_entry *e, uint32_t sub_id,
	      bool *send_retained)
{
	struct sl_mqtt_share sh;
	struct gw_sub nb = { 0 }, *old;
	int shared, rc;

	*send_retained = false;
	if (e->filter_rc)
		return e->filter_rc;
	old = sub_find(s, e->filter.ptr, e->filter.len);
	if (old != NULL) {
		/* [MQTT-3.8.4-3]: replaces the options of the existing one;
		 * the Sluice side stays as it is. */
		old->qos = e->qos;
		old->no_local = e->no_local;
		old->rap = e->retain_as_published;
		old->rh = e->retain_handling;
		old->sub_id = sub_id;
		*send_retained = !old->group && e->retain_handling == 0;
		return e->qos;
	}
	if (s->n_subs >= gw.conf.max_subs)
		return SL_MQTT_RC_QUOTA_EXCEEDED;
	if (s->n_subs == s->cap_subs) {
		uint32_t cap = s->cap_subs ? s->cap_subs * 2 : 4;
		struct gw_sub *p = realloc(s->subs, cap * sizeof(*p));

		if (p == NULL)
			return SL_MQTT_RC_UNSPECIFIED;
		s->subs = p;
		s->cap_subs = cap;
	}
	nb.filter = malloc(e->filter.len + 1);
	if (nb.filter == NULL)
		return SL_MQTT_RC_UNSPECIFIED;
	memcpy(nb.filter, e->filter.ptr, e->filter.len);
	nb.filter[e->filter.len] = 0;
	nb.flen = (uint16_t)e->filter.len;
	nb.qos = e->qos;
	nb.no_local = e->no_local;
	nb.rap = e->retain_as_published;
	nb.rh = e->retain_handling;
	nb.sub_id = sub_id;
	shared = sl_mqtt_share_parse(nb.filter, nb.flen, &sh);
	if (shared < 0) {
		rc = SL_MQTT_RC_TOPIC_FILTER_INVALID;
	} else if (shared == 1) {
		nb.mfilter = nb.filter + (sh.filter - nb.filter);
		nb.mflen = (uint16_t)sh.filter_len;
		rc = take_shared(s, &nb, &sh);
	} else {
		nb.mfilter = nb.filter;
		nb.mflen = nb.flen;
		rc = take_plain(s, &nb);
	}
	if (rc != 0) {
		free(nb.group);
		free(nb.filter);
		return (uint8_t)rc;
	}
	s->subs[s->n_subs++] = nb;
	/* Retained messages: not for shared subscriptions [MQTT-3.8.4-?],
	 * handling 0 always, 1 only for a new subscription. */
	*send_retained = shared == 0 && nb.rh != 2;
	return e->qos;
}

void
gw_subscribe(struct gw_conn *c, const struct sl_mqtt_subscribe *k)
{
	struct gw_sess *s = c->sess;
	uint8_t rcs[MAX_ENTRIES];
	bool retained[MAX_ENTRIES];
	struct sl_mqtt_sub_entry e;
	struct sl_mqtt_suback a = { .packet_id = k->packet_id };
	uint32_t off = 0, n = 0, sub_id = 0, i;
	uint8_t *buf;
	int len;

	GW_INC(subscribes);
	if (c->level == SL_MQTT_V5 && (k->props.present & SL_MQTT_PBIT(SL_MQTT_P_SUBSCRIPTION_ID)))
		sub_id = k->props.sub_id;
	while (sl_mqtt_sub_next(k, SL_MQTT_SUBSCRIBE, &off, &e) == 1) {
		uint8_t rc;

		if (n == MAX_ENTRIES) {
			GW_INC(bad_protocol);
			gw_conn_disconnect(c, SL_MQTT_RC_QUOTA_EXCEEDED, true);
			return;
		}
		rc = subscribe_one(s, &e, sub_id, &retained[n]);
		if (rc < 0x80 && (s->persistent || s->n_cur))
			gw_persist_sub(s, sub_find(s, e.filter.ptr, e.filter.len));
		if (rc >= 0x80) {
			GW_INC(sub_refused);
			/* v3.1.1 knows only 0x80 [MQTT-3.9.3-2]. */
			if (c->level != SL_MQTT_V5)
				rc = SL_MQTT_V3_SUBACK_FAILURE;
		}
		rcs[n++] = rc;
	}
	a.n = n;
	a.rcs = rcs;
	len = sl_mqtt_enc_suback(NULL, 0, c->level, SL_MQTT_SUBACK, &a);
	buf = len > 0 ? gw_conn_reserve(c, (uint32_t)len) : NULL;
	if (buf == NULL) {
		gw_conn_kill(c, true);
		return;
	}
	len = sl_mqtt_enc_suback(buf, (uint32_t)len, c->level, SL_MQTT_SUBACK, &a);
	if (len > 0)
		gw_conn_commit(c, (uint32_t)len);
	/* [MQTT-3.3.1-6]: matching retained messages follow the SUBACK. */
	off = 0;
	for (i = 0; i < n && sl_mqtt_sub_next(k, SL_MQTT_SUBSCRIBE, &off, &e) == 1; i++) {
		struct gw_sub *sb;

		if (!retained[i] || rcs[i] >= 0x80)
			continue;
		sb = sub_find(s, e.filter.ptr, e.filter.len);
		if (sb != NULL)
			gw_retain_deliver(s, sb);
	}
}

uint8_t
gw_sub_restore(struct gw_sess *s, const char *filter, uint16_t flen, uint8_t qos, uint8_t opts,
	       uint32_t sub_id)
{
	struct sl_mqtt_sub_entry e = {
		.filter = { .ptr = filter, .len = flen },
		.qos = qos,
		.no_local = opts & 1,
		.retain_as_published = (opts & 2) != 0,
		.retain_handling = (opts >> 2) & 3,
	};
	bool retained;

	return subscribe_one(s, &e, sub_id, &retained);
}

void
gw_unsubscribe(struct gw_conn *c, const struct sl_mqtt_subscribe *k)
{
	struct gw_sess *s = c->sess;
	uint8_t rcs[MAX_ENTRIES];
	struct sl_mqtt_sub_entry e;
	struct sl_mqtt_suback a = { .packet_id = k->packet_id };
	struct gw_sub *sb;
	uint32_t off = 0, n = 0;
	uint8_t buf[MAX_ENTRIES + 32];
	int len;

	GW_INC(unsubscribes);
	while (n < MAX_ENTRIES && sl_mqtt_sub_next(k, SL_MQTT_UNSUBSCRIBE, &off, &e) == 1) {
		sb = sub_find(s, e.filter.ptr, e.filter.len);
		if (sb == NULL) {
			rcs[n++] = SL_MQTT_RC_NO_SUBSCRIPTION_EXISTED;
			continue;
		}
		gw_persist_unsub(s, sb);
		sub_free(s, sb);
		*sb = s->subs[--s->n_subs];
		rcs[n++] = 0;
	}
	a.n = n;
	a.rcs = rcs;
	len = sl_mqtt_enc_suback(buf, sizeof(buf), c->level, SL_MQTT_UNSUBACK, &a);
	if (len > 0)
		gw_conn_send(c, buf, (uint32_t)len);
}
