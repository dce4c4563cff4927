/* SPDX-License-Identifier: BSD-3-Clause */
/* The pooled libsluice sessions, one per authenticated user: connect, poll, publish, acks. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/keyhash.h"
#include "gw.h"

#define ACK_WINDOW 16384u /* publishes awaiting an answer per user */
#define POLL_BURST 256
#define POLL_ROUNDS 32 /* up to 8192 deliveries per user per loop iteration */

struct gw_tc_ent {
	char *name; /* MQTT topic name; NULL: free */
	uint16_t len;
	uint32_t hash;
	uint32_t tid;
};

struct gw_group {
	char name[32];
	uint32_t tid;
	uint32_t gid;
	uint32_t refs;
	struct gw_group *next;
};

static struct gw_user *users;
static struct gw_user *own;
static bool polling; /* inside sl_client_poll (its callbacks run) */

static void on_settle(void *arg, uint64_t pub_seq, uint32_t topic_id, uint16_t error);

bool
gw_ident_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len >= SL_AUTH_USER_LEN)
		return false;
	for (i = 0; i < len; i++) {
		char ch = p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* Compare keys without an early exit: the time says nothing of where they differ. */
static bool
key_eq(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	unsigned i;

	for (i = 0; i < SL_AUTH_KEY_LEN; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

static struct gw_user *
user_open(const char *name, const uint8_t *key, uint8_t *rc)
{
	struct sl_client_opts o = { 0 };
	char cname[64], cuser[SL_AUTH_USER_LEN], err[256];
	uint8_t ckey[SL_AUTH_KEY_LEN];
	uint16_t last = 0;
	struct gw_user *u = calloc(1, sizeof(*u));
	int r;

	if (u == NULL)
		goto nomem;
	u->pend = calloc(ACK_WINDOW, sizeof(*u->pend));
	if (u->pend == NULL)
		goto nomem;
	u->pend_mask = ACK_WINDOW - 1;
	u->bell_fd = -1;
	o.shm = gw.conf.shm;
	snprintf(cname, sizeof(cname), "%s", gw.conf.name);
	o.name = cname;
	o.ack_window = ACK_WINDOW;
	o.on_settle = on_settle;
	o.settle_arg = u;
	o.on_event = gw_user_event;
	o.event_arg = u;
	o.last_error = &last;
	if (name != NULL) {
		snprintf(u->name, sizeof(u->name), "%s", name);
		memcpy(u->key, key, SL_AUTH_KEY_LEN);
		u->has_key = true;
		o.user = u->name;
		o.key = u->key;
	} else if (gw.conf.credentials[0]) {
		r = sl_client_opts_credentials(&o, gw.conf.credentials, cuser, ckey, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "sluice-mqtt: %s\n", err);
			*rc = SL_MQTT_RC_SERVER_UNAVAILABLE;
			goto fail;
		}
	}
	r = sl_client_connect(&u->cl, &o);
	if (r < 0) {
		GW_LOG("session for user '%s' refused: %s (broker code %u)\n",
		       name ? name : "(gateway)", strerror(-r), last);
		*rc = r == -EACCES ? (last == SL_E_AUTH_FAILED || last == SL_E_NONE
					      ? SL_MQTT_RC_BAD_USER_OR_PASSWORD
					      : SL_MQTT_RC_NOT_AUTHORIZED)
				   : SL_MQTT_RC_SERVER_UNAVAILABLE;
		goto fail;
	}
	u->next = users;
	users = u;
	GW_INC(user_sessions);
	return u;
nomem:
	*rc = SL_MQTT_RC_SERVER_UNAVAILABLE;
fail:
	if (u != NULL) {
		free(u->pend);
		memset(u->key, 0, sizeof(u->key));
		free(u);
	}
	return NULL;
}

struct gw_user *
gw_user_own(void)
{
	uint8_t rc;

	if (own == NULL || own->dead) {
		own = user_open(NULL, NULL, &rc);
		if (own != NULL)
			own->refs++; /* the gateway's own reference: never closed early */
	}
	return own;
}

struct gw_user *
gw_user_get(const char *name, uint16_t nlen, const uint8_t *pw, uint16_t pwlen, uint8_t *rc)
{
	char nbuf[SL_AUTH_USER_LEN], hex[2 * SL_AUTH_KEY_LEN + 1];
	uint8_t key[SL_AUTH_KEY_LEN];
	struct gw_user *u;

	if (name == NULL) {
		u = gw_user_own();
		if (u == NULL) {
			*rc = SL_MQTT_RC_SERVER_UNAVAILABLE;
			return NULL;
		}
		u->refs++;
		return u;
	}
	/* Username = Sluice user; password = its key as 64 hex digits. */
	if (!gw_ident_ok(name, nlen) || pw == NULL || pwlen != 2 * SL_AUTH_KEY_LEN) {
		*rc = SL_MQTT_RC_BAD_USER_OR_PASSWORD;
		return NULL;
	}
	memcpy(nbuf, name, nlen);
	nbuf[nlen] = 0;
	memcpy(hex, pw, pwlen);
	hex[pwlen] = 0;
	if (sl_auth_key_from_hex(hex, key) < 0) {
		*rc = SL_MQTT_RC_BAD_USER_OR_PASSWORD;
		return NULL;
	}
	memset(hex, 0, sizeof(hex));
	for (u = users; u != NULL; u = u->next)
		if (!u->dead && u->has_key && !strcmp(u->name, nbuf) && key_eq(u->key, key))
			break;
	if (u == NULL)
		u = user_open(nbuf, key, rc);
	memset(key, 0, sizeof(key));
	if (u != NULL)
		u->refs++;
	return u;
}

static void
user_close(struct gw_user *u)
{
	struct gw_user **pp;
	uint32_t i;

	for (pp = &users; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	for (i = 0; i <= u->pend_mask; i++)
		gw_msg_unref(u->pend[i].ret);
	sl_client_close(u->cl);
	while (u->patterns) {
		struct gw_pattern *p = u->patterns;

		u->patterns = p->next;
		free(p->pat);
		free(p);
	}
	while (u->groups) {
		struct gw_group *g = u->groups;

		u->groups = g->next;
		free(g);
	}
	for (i = 0; u->tc != NULL && i <= u->tc_mask; i++)
		free(u->tc[i].name);
	free(u->tc);
	gw_persist_user_free(u);
	free(u->pend);
	memset(u->key, 0, sizeof(u->key));
	if (u == own)
		own = NULL;
	free(u);
	GW_DEC(user_sessions);
}

void
gw_user_put(struct gw_user *u)
{
	if (u == NULL || --u->refs > 0)
		return;
	user_close(u);
}

void
gw_user_close_all(void)
{
	while (users != NULL)
		user_close(users);
}

void
gw_user_forget_sess(struct gw_user *u, struct gw_sess *s)
{
	uint32_t i;

	for (i = 0; i <= u->pend_mask; i++)
		if (u->pend[i].s == s)
			u->pend[i].s = NULL;
}

/* ---- answers and events from the broker ---- */

static void
on_settle(void *arg, uint64_t pub_seq, uint32_t topic_id, uint16_t error)
{
	struct gw_user *u = arg;
	struct gw_pend *p = &u->pend[pub_seq & u->pend_mask];
	struct gw_pend e;

	(void)topic_id;
	if (p->pub_seq != pub_seq)
		return; /* a QoS 0 publish refused: nobody waits for it */
	e = *p;
	memset(p, 0, sizeof(*p));
	if (e.ret != NULL) {
		/* Retained only once the broker took the message: a refused
		 * publish must not become what new subscribers see. */
		if (error == SL_E_NONE)
			gw_retain_set(e.ret);
		gw_msg_unref(e.ret);
	}
	if (e.s != NULL)
		gw_pubin_settled(e.s, e.pkt_id, e.qos, error);
}

static void
user_lost(struct gw_user *u)
{
	struct gw_sess *s;

	u->dead = true;
	for (s = u->sessions; s != NULL; s = s->unext)
		if (s->conn != NULL)
			gw_conn_disconnect(s->conn, SL_MQTT_RC_NOT_AUTHORIZED, true);
}

void
gw_user_event(void *arg, const struct sl_event *ev)
{
	struct gw_user *u = arg;

	if (ev->type == SL_EV_GAP) {
		/* Sequences of a subscribed topic that will never come: over
		 * shared memory, the dataplane dropped them on the way here
		 * (its ring to this process full, the topic's back-pressure
		 * policy drop). Not the gateway's to recover: counted. */
		GW_ADD(deliveries_lost, ev->last - ev->first + 1);
		return;
	}
	if (ev->type == SL_EV_INCARNATION || ev->type == SL_EV_RECONNECTED)
		gw_persist_user_reset(u);
	if (ev->type == SL_EV_DISCONNECTED || ev->type == SL_EV_RECONNECTED) {
		/* A new attachment, a new doorbell: the old one's descriptor
		 * is closed (and so out of the epoll set). */
		u->bell_fd = -1;
		return;
	}
	if (ev->type == SL_EV_SESSION_REVOKED) {
		GW_LOG("user '%s': session revoked by the broker\n", u->name);
		user_lost(u);
	}
}

static void
on_deliver(void *arg, const struct sl_message *msg)
{
	GW_INC(deliveries);
	gw_fanout(arg, msg);
}

/* Drain @u's rings (bounded): they fill as fast as every client's socket
 * feeds the broker, and a full one makes the broker drop (policy drop) or
 * hold publishers back (block). Returns the deliveries handed out. */
static int
user_poll(struct gw_user *u)
{
	int n, k, work = 0;

	for (k = 0; k < POLL_ROUNDS; k++) {
		polling = true;
		n = sl_client_poll(u->cl, on_deliver, u, POLL_BURST);
		polling = false;
		if (n == -ENOTCONN)
			user_lost(u);
		if (n <= 0)
			break;
		work += n;
		if (n < POLL_BURST)
			break;
	}
	return work;
}

int
gw_user_poll_all(void)
{
	struct gw_user *u;
	int work = 0;

	for (u = users; u != NULL; u = u->next)
		if (!u->dead)
			work += user_poll(u);
	return work;
}

int
gw_user_arm_all(void)
{
	struct gw_user *u;
	int rc = 0, fd;

	for (u = users; u != NULL && rc == 0; u = u->next) {
		if (u->dead)
			continue;
		fd = sl_client_wait_fd(u->cl);
		if (fd < 0) {
			rc = -1;
			break;
		}
		if (fd != u->bell_fd) {
			if (gw_loop_watch_bell(fd) < 0) {
				rc = -1;
				break;
			}
			u->bell_fd = fd;
		}
		rc = sl_client_arm(u->cl);
		rc = rc < 0 ? -1 : rc;
	}
	if (rc != 0)
		gw_user_disarm_all();
	return rc;
}

void
gw_user_disarm_all(void)
{
	struct gw_user *u;

	for (u = users; u != NULL; u = u->next)
		if (!u->dead)
			sl_client_disarm(u->cl);
}

void
gw_user_tick(void)
{
	struct sl_client_stats st;
	struct gw_user *u;

	/* Deliveries libsluice dropped itself (out of memory for its stash
	 * while a request such as a topic resolve waited): not seen by the
	 * gateway otherwise, so counted from its statistics. */
	for (u = users; u != NULL; u = u->next) {
		sl_client_stats(u->cl, &st);
		if (st.stash_drops > u->stash_drops) {
			GW_ADD(client_dropped, st.stash_drops - u->stash_drops);
			u->stash_drops = st.stash_drops;
		}
	}
}

/* ---- topics ---- */

static struct gw_tc_ent *
tc_slot(struct gw_user *u, const char *name, uint16_t len, uint32_t h)
{
	uint32_t i = h & u->tc_mask;

	while (u->tc[i].name != NULL) {
		if (u->tc[i].hash == h && u->tc[i].len == len && !memcmp(u->tc[i].name, name, len))
			return &u->tc[i];
		i = (i + 1) & u->tc_mask;
	}
	return &u->tc[i];
}

static int
tc_grow(struct gw_user *u)
{
	uint32_t i, n = u->tc ? (u->tc_mask + 1) * 2 : 64;
	struct gw_tc_ent *old = u->tc, *e;
	uint32_t old_n = u->tc ? u->tc_mask + 1 : 0;

	u->tc = calloc(n, sizeof(*u->tc));
	if (u->tc == NULL) {
		u->tc = old;
		return -ENOMEM;
	}
	u->tc_mask = n - 1;
	for (i = 0; i < old_n; i++) {
		if (old[i].name == NULL)
			continue;
		e = tc_slot(u, old[i].name, old[i].len, old[i].hash);
		*e = old[i];
	}
	free(old);
	return 0;
}

/*
 * A resolve waits for the broker's reply; libsluice keeps every delivery
 * that races it (its stash) for the next poll. Only past the stash's limit
 * (64 MiB) does it give up with -ENOBUFS, leaving the rest in the ring:
 * then hand out what it kept and ask again, unless this runs inside a
 * poll's callback (no poll inside a poll), where the publish is refused.
 */
static int
user_resolve(struct gw_user *u, const char *sname, int create, uint32_t *id)
{
	int rc = sl_client_resolve(u->cl, sname, create, id);

	if (rc == -ENOBUFS && !polling && !u->dead) {
		(void)user_poll(u);
		rc = sl_client_resolve(u->cl, sname, create, id);
	}
	return rc;
}

int
gw_user_topic_name(struct gw_user *u, uint32_t id, char *buf, size_t cap)
{
	if (u->dead)
		return -ENOTCONN;
	/* Inside a poll, libsluice is in the middle of handing out a burst. */
	if (polling)
		return -EAGAIN;
	return sl_client_topic_name(u->cl, id, buf, cap);
}

int
gw_user_topic(struct gw_user *u, const char *name, uint16_t len, uint32_t *id)
{
	char sname[SL_MAX_TOPIC_NAME + 1];
	uint32_t h = sl_name_hash(name, len);
	struct gw_tc_ent *e;
	int rc;

	if (u->tc != NULL) {
		e = tc_slot(u, name, len, h);
		if (e->name != NULL) {
			*id = e->tid;
			return 0;
		}
	}
	if (sl_mqtt_topic_to_sluice(sname, sizeof(sname), name, len) < 0)
		return SL_MQTT_RC_TOPIC_NAME_INVALID;
	/* A miss costs a round trip to the broker (once per user and topic). */
	rc = user_resolve(u, sname, 0, id);
	if (rc == -ENOENT)
		rc = user_resolve(u, sname, 1, id);
	if (rc == -EPERM)
		return SL_MQTT_RC_NOT_AUTHORIZED;
	if (rc == -EINVAL)
		return SL_MQTT_RC_TOPIC_NAME_INVALID;
	if (rc < 0)
		return SL_MQTT_RC_UNSPECIFIED;
	gw_names_learn(*id, name, len);
	if ((u->tc == NULL || (u->tc_used + 1) * 2 > u->tc_mask + 1) && tc_grow(u) < 0)
		return 0;
	e = tc_slot(u, name, len, h);
	e->name = malloc(len ? len : 1);
	if (e->name == NULL)
		return 0;
	memcpy(e->name, name, len);
	e->len = len;
	e->hash = h;
	e->tid = *id;
	u->tc_used++;
	return 0;
}

int
gw_user_psub(struct gw_user *u, const char *pat)
{
	struct gw_pattern *p;
	int rc;

	for (p = u->patterns; p != NULL; p = p->next)
		if (!strcmp(p->pat, pat)) {
			p->refs++;
			return 0;
		}
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->pat = strdup(pat)) == NULL) {
		free(p);
		return -ENOMEM;
	}
	/* "=ID": a plain subscription to an existing topic (the ACL answers
	 * it, unlike a pattern's, which skips what is not allowed). */
	rc = pat[0] == '=' ? sl_client_subscribe(u->cl, (uint32_t)strtoul(pat + 1, NULL, 10))
			   : sl_client_subscribe_pattern(u->cl, pat, 0);
	if (rc < 0) {
		free(p->pat);
		free(p);
		return rc;
	}
	p->refs = 1;
	p->next = u->patterns;
	u->patterns = p;
	return 0;
}

void
gw_user_punsub(struct gw_user *u, const char *pat)
{
	struct gw_pattern **pp, *p;

	for (pp = &u->patterns; (p = *pp) != NULL; pp = &p->next)
		if (!strcmp(p->pat, pat))
			break;
	if (p == NULL || --p->refs > 0)
		return;
	*pp = p->next;
	if (!u->dead && pat[0] == '=')
		sl_client_unsubscribe(u->cl, (uint32_t)strtoul(pat + 1, NULL, 10));
	else if (!u->dead)
		sl_client_subscribe_pattern(u->cl, pat, 1);
	free(p->pat);
	free(p);
}

void
gw_pubreq_of_msg(struct gw_pubreq *r, struct gw_msg *m)
{
	memset(r, 0, sizeof(*r));
	r->payload = gw_msg_payload(m);
	r->len = m->len;
	r->props = gw_msg_props(m);
	r->props_len = m->props_len;
	r->qos = m->qos;
	r->retain = m->retain;
	r->src = m->src;
	r->expiry_s = m->expiry_s;
	r->ret = m->retain ? m : NULL;
}

int
gw_user_publish(struct gw_user *u, uint32_t tid, const struct gw_pubreq *r, struct gw_sess *s,
		uint16_t pkt_id)
{
	struct sl_header h[SL_MAX_HDRS];
	uint8_t scratch[SL_MAX_HDRS_LEN];
	struct sl_pub_opts o = { 0 };
	struct gw_pend *p;
	uint64_t seq;
	int rc;

	if (u->dead)
		return -ENOTCONN;
	o.hdrs = h;
	o.n_hdrs = (uint16_t)gw_pub_headers(r, h, scratch);
	o.flags = r->qos > 0 ? SL_PUB_F_ACK_REQ : 0;
	o.timestamp = gw.now_ns;
	rc = sl_client_publish_ex(u->cl, tid, r->payload, r->len, &o);
	if (rc < 0)
		return rc;
	if (r->qos == 0) {
		if (r->ret != NULL)
			gw_retain_set(r->ret);
		return 0;
	}
	seq = sl_client_last_seq(u->cl);
	p = &u->pend[seq & u->pend_mask];
	gw_msg_unref(p->ret); /* cannot be set: its publish settled before the
			       * window let this one go (defensive) */
	p->pub_seq = seq;
	p->s = s;
	p->pkt_id = pkt_id;
	p->qos = r->qos;
	p->ret = r->ret;
	if (p->ret != NULL)
		gw_msg_ref(p->ret);
	return 0;
}

/* ---- consumer groups (shared subscriptions) ---- */

int
gw_user_group_join(struct gw_user *u, const char *group, uint32_t tid)
{
	struct sl_group_opts o = { 0 };
	struct sl_group_info info;
	struct gw_group *g;
	int rc;

	for (g = u->groups; g != NULL; g = g->next)
		if (g->tid == tid && !strcmp(g->name, group)) {
			g->refs++;
			return (int)g->gid;
		}
	if (strlen(group) >= sizeof(g->name))
		return -EINVAL;
	o.topic_id = tid;
	o.group = group;
	rc = sl_client_group_join(u->cl, &o, &info);
	if (rc < 0)
		return rc;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	snprintf(g->name, sizeof(g->name), "%s", group);
	g->tid = tid;
	g->gid = info.group_id;
	g->refs = 1;
	g->next = u->groups;
	u->groups = g;
	return (int)g->gid;
}

void
gw_user_group_leave(struct gw_user *u, uint32_t gid)
{
	struct gw_group **pp, *g;

	for (pp = &u->groups; (g = *pp) != NULL; pp = &g->next)
		if (g->gid == gid)
			break;
	if (g == NULL || --g->refs > 0)
		return;
	*pp = g->next;
	if (!u->dead)
		sl_client_group_leave(u->cl, gid);
	free(g);
}
