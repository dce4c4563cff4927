/* SPDX-License-Identifier: BSD-3-Clause */
/* Persistent sessions on the broker's journal: cursors, the state log, replay on resume. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cnc.h"
#include "common/ctrs.h"
#include "common/policy.h"
#include "gw.h"
#include "gw_slog.h"

/*
 * A persistent session that is away costs a cursor, not a copy of every
 * message (docs/MQTT.md 6.6). For each exact, non-shared QoS 1/2
 * subscription of a persistent session to a journaled topic (durability
 * async or sync) the session keeps a cursor: the topic sequence the
 * client acknowledged (PUBACK, PUBREC) and the one last given to it. While
 * the client is away, messages of those topics are not queued: the
 * journal has them. When it comes back, the user's libsluice session
 * subscribes again from the cursor (sl_client_subscribe_from), and the
 * fan-out gives the replayed messages only to the sessions whose cursor is
 * behind them: the user's other sessions already had them live.
 *
 * The user's client then sees the topic's sequences again from the
 * cursor: a message at or below the highest sequence fanned out before
 * the replay (struct utop.replay_end) is a replay; above it, live.
 *
 * The sessions, their subscriptions and cursors are written to the state
 * log (gw_slog.h): sessions and subscriptions when they change, cursors
 * that moved at each tick (100 ms) and when the client goes away, then
 * fdatasync. After a restart (or kill -9) the sessions are read back as
 * dormant ones, without a broker session (the gateway keeps no keys): a
 * CONNECT with Clean Start 0 of the same client id and user takes one up
 * again, its subscriptions are made again and its durable topics replayed
 * from the acknowledged sequence. At least once: a message acknowledged
 * by the client in the last tick before a crash is delivered again (DUP
 * set when the log says it was sent; counted in redelivered).
 */

#define UTOP_MIN 16
#define COMPACT_BYTES (4u << 20) /* rewrite past this and 4x the live state */

/* What a user's client has fanned out of one topic. */
struct gw_utop {
	uint32_t tid;	     /* 0: free */
	uint8_t replaying;   /* a replay was asked and has not caught up */
	uint64_t hi;	     /* highest seq fanned out live */
	uint64_t replay_end; /* while replaying: at or below it, a replay */
};

/* A subscription of a dormant session. */
struct dsub {
	char *filter;
	uint16_t flen;
	uint8_t qos, opts;
	uint32_t sub_id;
};

/* A session read back from the log, not taken up yet. */
struct dorm {
	char *cid;
	uint16_t cid_len;
	char user[SL_AUTH_USER_LEN];
	uint8_t level;
	uint32_t expiry_s;
	uint64_t away_ns; /* CLOCK_REALTIME; 0: connected when last written */
	struct dsub *subs;
	uint32_t n_subs;
	struct gw_cur *cur;
	uint32_t n_cur;
	struct dorm *next;
};

static struct gw_slog slog = { .fd = -1 };
static struct dorm *dorms;
static uint32_t n_dorms;
static uint64_t live_bytes; /* what the last rewrite wrote */
static char log_path[PATH_MAX];
static bool closing; /* shutting down: cursors to the log, no more replays */

static uint64_t
real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint32_t
gw_persist_dormant(void)
{
	return n_dorms;
}

/* ---- the user's topics ---- */

static struct gw_utop *
utop_find(struct gw_user *u, uint32_t tid)
{
	uint32_t i;

	if (u->utop == NULL)
		return NULL;
	for (i = (tid * 2654435761u) & u->utop_mask; u->utop[i].tid != 0;
	     i = (i + 1) & u->utop_mask)
		if (u->utop[i].tid == tid)
			return &u->utop[i];
	return NULL;
}

static struct gw_utop *
utop_get(struct gw_user *u, uint32_t tid)
{
	struct gw_utop *t = utop_find(u, tid), *old;
	uint32_t i, n, on;

	if (t != NULL)
		return t;
	if (u->utop == NULL || (u->utop_used + 1) * 2 > u->utop_mask + 1) {
		old = u->utop;
		on = old ? u->utop_mask + 1 : 0;
		n = on ? on * 2 : UTOP_MIN;
		u->utop = calloc(n, sizeof(*u->utop));
		if (u->utop == NULL) {
			u->utop = old;
			return NULL;
		}
		u->utop_mask = n - 1;
		for (i = 0; i < on; i++)
			if (old[i].tid != 0) {
				uint32_t k = (old[i].tid * 2654435761u) & u->utop_mask;

				while (u->utop[k].tid != 0)
					k = (k + 1) & u->utop_mask;
				u->utop[k] = old[i];
			}
		free(old);
	}
	for (i = (tid * 2654435761u) & u->utop_mask; u->utop[i].tid != 0;
	     i = (i + 1) & u->utop_mask)
		;
	u->utop[i].tid = tid;
	u->utop_used++;
	return &u->utop[i];
}

void
gw_persist_user_reset(struct gw_user *u)
{
	uint32_t i;

	/* A restarted broker may number a topic without a journal from 1
	 * again: what was fanned out says nothing about what comes. */
	for (i = 0; u->utop != NULL && i <= u->utop_mask; i++) {
		u->utop[i].hi = 0;
		u->utop[i].replaying = 0;
	}
}

void
gw_persist_user_free(struct gw_user *u)
{
	free(u->utop);
	u->utop = NULL;
	u->utop_used = u->utop_mask = 0;
}

/* Durability and last sequence of topic @tid, from the dataplane's counters
 * area (the slow path: at SUBSCRIBE and resume). Returns 0 or -ENOENT (not
 * named there yet: the area is sampled). */
struct topic_info {
	uint8_t *durable;
	uint64_t *seq;
};

static int
info_of_slot(const struct sl_ctrs_meta *m, const struct sl_ctrs_type *t, const uint64_t *vals,
	     void *arg)
{
	struct topic_info *ti = arg;
	int rc = -ENOENT;
	uint32_t k;

	(void)m;
	*ti->seq = 0;
	*ti->durable = 0;
	for (k = 0; k < t->n_values && k < SL_CTRS_MAX_VALUES; k++) {
		if (t->kinds[k] == SL_CTRS_K_DURABILITY) {
			*ti->durable = vals[k] == SL_DUR_NONE ? 2 : 1;
			rc = 0;
		} else if (!strcmp(t->labels[k], "seq")) {
			*ti->seq = vals[k];
		}
	}
	return rc;
}

static int
topic_info(uint32_t tid, uint8_t *durable, uint64_t *seq)
{
	struct topic_info ti = { durable, seq };

	return gw_names_topic_slot(tid, info_of_slot, &ti);
}

/* ---- the log ---- */

static void
rec_base(struct gw_slog_rec *r, uint8_t type, const char *cid, uint16_t cid_len)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->cid = cid;
	r->cid_len = cid_len;
}

static void
log_cur(const char *cid, uint16_t cid_len, struct gw_cur *c)
{
	struct gw_slog_rec r;

	rec_base(&r, GW_SLOG_CUR, cid, cid_len);
	r.name = c->topic;
	r.name_len = c->tlen;
	r.a = c->acked;
	r.b = c->sent;
	r.c = c->since_ns;
	if (gw_slog_append(&slog, &r) == 0) {
		c->log_acked = c->acked;
		c->log_sent = c->sent;
	}
}

static void
log_sub(const char *cid, uint16_t cid_len, const char *f, uint16_t flen, uint8_t qos,
	uint8_t opts, uint32_t sub_id)
{
	struct gw_slog_rec r;

	rec_base(&r, GW_SLOG_SUB, cid, cid_len);
	r.name = f;
	r.name_len = flen;
	r.qos = qos;
	r.opts = opts;
	r.u32 = sub_id;
	gw_slog_append(&slog, &r);
}

static void
log_sess(const char *cid, uint16_t cid_len, const char *user, uint8_t level, uint32_t expiry)
{
	struct gw_slog_rec r;

	rec_base(&r, GW_SLOG_SESS, cid, cid_len);
	r.name = user;
	r.name_len = (uint16_t)strlen(user);
	r.level = level;
	r.u32 = expiry;
	gw_slog_append(&slog, &r);
}

static void
log_away(const char *cid, uint16_t cid_len, uint64_t away_ns, uint32_t expiry)
{
	struct gw_slog_rec r;

	rec_base(&r, GW_SLOG_AWAY, cid, cid_len);
	r.a = away_ns;
	r.u32 = expiry;
	gw_slog_append(&slog, &r);
}

static void
log_end(const char *cid, uint16_t cid_len)
{
	struct gw_slog_rec r;

	rec_base(&r, GW_SLOG_END, cid, cid_len);
	gw_slog_append(&slog, &r);
}

static uint8_t
sub_opts(const struct gw_sub *sb)
{
	return (uint8_t)((sb->no_local ? 1 : 0) | (sb->rap ? 2 : 0) | (sb->rh & 3) << 2);
}

/* ---- dormant sessions ---- */

static struct dorm *
dorm_find(const char *cid, uint16_t len, struct dorm ***pp)
{
	struct dorm **p;

	for (p = &dorms; *p != NULL; p = &(*p)->next)
		if ((*p)->cid_len == len && !memcmp((*p)->cid, cid, len)) {
			if (pp != NULL)
				*pp = p;
			return *p;
		}
	return NULL;
}

static void
cur_free_all(struct gw_cur *c, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		free(c[i].topic);
	free(c);
}

static void
dorm_free(struct dorm *d)
{
	uint32_t i;

	for (i = 0; i < d->n_subs; i++)
		free(d->subs[i].filter);
	free(d->subs);
	cur_free_all(d->cur, d->n_cur);
	free(d->cid);
	free(d);
	n_dorms--;
}

static void
dorm_drop(const char *cid, uint16_t len)
{
	struct dorm **pp, *d = dorm_find(cid, len, &pp);

	if (d != NULL) {
		*pp = d->next;
		dorm_free(d);
	}
}

/* Cursor of @topic in the array *@c (*@n), added when @add. */
static struct gw_cur *
cur_find(struct gw_cur **c, uint32_t *n, const char *topic, uint16_t tlen, bool add)
{
	struct gw_cur *p;
	uint32_t i;

	for (i = 0; i < *n; i++)
		if ((*c)[i].tlen == tlen && !memcmp((*c)[i].topic, topic, tlen))
			return &(*c)[i];
	if (!add)
		return NULL;
	p = realloc(*c, (*n + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	*c = p;
	p = &p[*n];
	memset(p, 0, sizeof(*p));
	p->topic = malloc(tlen ? tlen : 1);
	if (p->topic == NULL)
		return NULL;
	memcpy(p->topic, topic, tlen);
	p->tlen = tlen;
	(*n)++;
	return p;
}

static void
cur_del(struct gw_cur **c, uint32_t *n, const char *topic, uint16_t tlen)
{
	struct gw_cur *p = cur_find(c, n, topic, tlen, false);

	if (p == NULL)
		return;
	free(p->topic);
	*p = (*c)[--(*n)];
}

static void
apply(void *arg, const struct gw_slog_rec *r)
{
	struct dorm *d = dorm_find(r->cid, r->cid_len, NULL);
	struct gw_cur *c;
	uint32_t i;

	(void)arg;
	if (r->type == GW_SLOG_END) {
		dorm_drop(r->cid, r->cid_len);
		return;
	}
	if (r->type == GW_SLOG_SESS && d == NULL) {
		d = calloc(1, sizeof(*d));
		if (d == NULL || (d->cid = malloc(r->cid_len)) == NULL) {
			free(d);
			return;
		}
		memcpy(d->cid, r->cid, r->cid_len);
		d->cid_len = r->cid_len;
		d->next = dorms;
		dorms = d;
		n_dorms++;
	}
	if (d == NULL)
		return; /* a record of a session that ended */
	switch (r->type) {
	case GW_SLOG_SESS:
		snprintf(d->user, sizeof(d->user), "%.*s", (int)r->name_len,
			 r->name ? r->name : "");
		d->level = r->level;
		d->expiry_s = r->u32;
		d->away_ns = 0;
		break;
	case GW_SLOG_AWAY:
		d->away_ns = r->a;
		d->expiry_s = r->u32;
		break;
	case GW_SLOG_SUB:
		for (i = 0; i < d->n_subs; i++)
			if (d->subs[i].flen == r->name_len &&
			    !memcmp(d->subs[i].filter, r->name, r->name_len))
				break;
		if (i == d->n_subs) {
			struct dsub *p = realloc(d->subs, (d->n_subs + 1) * sizeof(*p));
			char *f = malloc(r->name_len ? r->name_len : 1);

			if (p == NULL || f == NULL || r->name_len == 0) {
				if (p != NULL)
					d->subs = p;
				free(f);
				return;
			}
			d->subs = p;
			memcpy(f, r->name, r->name_len);
			p[i].filter = f;
			p[i].flen = r->name_len;
			d->n_subs++;
		}
		d->subs[i].qos = r->qos;
		d->subs[i].opts = r->opts;
		d->subs[i].sub_id = r->u32;
		break;
	case GW_SLOG_UNSUB:
		for (i = 0; i < d->n_subs; i++)
			if (d->subs[i].flen == r->name_len &&
			    !memcmp(d->subs[i].filter, r->name, r->name_len)) {
				free(d->subs[i].filter);
				d->subs[i] = d->subs[--d->n_subs];
				break;
			}
		cur_del(&d->cur, &d->n_cur, r->name, r->name_len);
		break;
	case GW_SLOG_CUR:
		c = r->name_len ? cur_find(&d->cur, &d->n_cur, r->name, r->name_len, true) : NULL;
		if (c != NULL) {
			c->acked = c->log_acked = r->a;
			c->sent = c->log_sent = r->b;
			c->since_ns = r->c;
		}
		break;
	default:
		break;
	}
}

/* Everything a session stands for in the log, for a rewrite. */
static void
write_dorm(const struct dorm *d)
{
	uint32_t i;

	log_sess(d->cid, d->cid_len, d->user, d->level, d->expiry_s);
	for (i = 0; i < d->n_subs; i++)
		log_sub(d->cid, d->cid_len, d->subs[i].filter, d->subs[i].flen, d->subs[i].qos,
			d->subs[i].opts, d->subs[i].sub_id);
	for (i = 0; i < d->n_cur; i++)
		log_cur(d->cid, d->cid_len, &d->cur[i]);
	if (d->away_ns)
		log_away(d->cid, d->cid_len, d->away_ns, d->expiry_s);
}

static void
write_sess(struct gw_sess *s, void *arg)
{
	uint32_t i;

	(void)arg;
	if (!s->logged)
		return;
	log_sess(s->cid, s->cid_len, s->user->name, s->level, s->expiry_s);
	for (i = 0; i < s->n_subs; i++)
		log_sub(s->cid, s->cid_len, s->subs[i].filter, s->subs[i].flen, s->subs[i].qos,
			sub_opts(&s->subs[i]), s->subs[i].sub_id);
	for (i = 0; i < s->n_cur; i++)
		log_cur(s->cid, s->cid_len, &s->cur[i]);
	if (s->conn == NULL)
		log_away(s->cid, s->cid_len, s->away_real_ns, s->expiry_s);
}

/* Write the live state to a new log and switch to it. */
static int
rewrite(void)
{
	struct dorm *d;
	int rc;

	gw_slog_close(&slog);
	rc = gw_slog_begin(&slog, log_path);
	if (rc < 0)
		return rc;
	for (d = dorms; d != NULL; d = d->next)
		write_dorm(d);
	gw_sess_foreach(write_sess, NULL);
	live_bytes = slog.bytes;
	rc = gw_slog_commit(&slog);
	slog.bytes = live_bytes;
	return rc;
}

int
gw_persist_open(const char *dir)
{
	struct dorm **pp, *d;
	uint64_t now = real_ns();
	size_t torn = 0;
	int n;

	closing = false;
	snprintf(log_path, sizeof(log_path), "%s/sessions-%s.log", dir, gw.conf.name);
	n = gw_slog_load(log_path, apply, NULL, &torn);
	if (n < 0)
		return n;
	if (torn)
		fprintf(stderr, "sluice-mqtt: %s: %zu bytes after the last whole record "
				"left out (a write cut short)\n", log_path, torn);
	/* A session connected when the gateway stopped is away from now. */
	for (pp = &dorms; (d = *pp) != NULL;) {
		if (d->away_ns == 0)
			d->away_ns = now;
		if (d->expiry_s != UINT32_MAX &&
		    now >= d->away_ns + (uint64_t)d->expiry_s * 1000000000ull) {
			*pp = d->next;
			dorm_free(d);
			continue;
		}
		pp = &d->next;
	}
	GW_ADD(sess_restored, n_dorms);
	return rewrite();
}

void
gw_persist_close(void)
{
	closing = true;
	gw_persist_tick(gw.now_ns);
	/* Sessions freed from here on (shutdown) stay in the log. */
	gw_slog_close(&slog);
	while (dorms != NULL) {
		struct dorm *d = dorms;

		dorms = d->next;
		dorm_free(d);
	}
}

static void replay(struct gw_sess *s, struct gw_cur *c);

static void
flush_sess(struct gw_sess *s, void *arg)
{
	uint32_t i;

	(void)arg;
	/* Cursors that fell behind a full queue: read on once it is half empty. */
	for (i = 0; !closing && s->conn != NULL && i < s->n_cur; i++)
		if (s->cur[i].behind && s->q_len <= gw.conf.max_queued / 2)
			replay(s, &s->cur[i]);
	for (i = 0; s->logged && i < s->n_cur; i++)
		if (s->cur[i].acked != s->cur[i].log_acked || s->cur[i].sent != s->cur[i].log_sent)
			log_cur(s->cid, s->cid_len, &s->cur[i]);
}

void
gw_persist_tick(uint64_t now_ns)
{
	struct dorm **pp, *d;
	uint64_t now = real_ns();

	(void)now_ns;
	if (slog.fd < 0)
		return;
	for (pp = &dorms; (d = *pp) != NULL;) {
		if (d->expiry_s != UINT32_MAX &&
		    now >= d->away_ns + (uint64_t)d->expiry_s * 1000000000ull) {
			log_end(d->cid, d->cid_len);
			*pp = d->next;
			dorm_free(d);
			continue;
		}
		pp = &d->next;
	}
	gw_sess_foreach(flush_sess, NULL);
	gw_slog_sync(&slog);
	if (slog.bytes > COMPACT_BYTES && slog.bytes > 4 * live_bytes)
		rewrite();
}

/* ---- sessions ---- */

/* A cursor for subscription @sb of @s when it is one: exact, not shared,
 * QoS 1/2, on a topic with a journal. */
static void
cur_add(struct gw_sess *s, const struct gw_sub *sb)
{
	struct sl_mqtt_patterns pp;
	struct gw_utop *ut;
	struct gw_cur *c;
	uint64_t seq = 0;
	uint8_t dur = 0;
	uint32_t tid;
	int rc;

	if (sb->group != NULL || sb->qos == 0 ||
	    sl_mqtt_filter_to_sluice(sb->mfilter, sb->mflen, &pp) < 0 || !pp.exact ||
	    gw_user_topic(s->user, sb->mfilter, sb->mflen, &tid) != 0)
		return;
	rc = topic_info(tid, &dur, &seq);
	GW_LOG("session '%s': '%.*s' topic %u durability %s\n", s->cid, (int)sb->mflen,
	       sb->mfilter, tid, rc < 0 ? "not known yet" : dur == 2 ? "none" : "journaled");
	if (rc == 0 && dur == 2)
		return; /* durability none: the memory queue, as before */
	c = cur_find(&s->cur, &s->n_cur, sb->mfilter, sb->mflen, true);
	if (c == NULL)
		return;
	c->tid = tid;
	c->durable = dur;
	ut = utop_get(s->user, tid);
	/* From what the user's client has seen, or else from now. */
	if (c->sent == 0 && ut != NULL && ut->hi)
		c->acked = c->sent = ut->hi;
	if (c->since_ns == 0)
		c->since_ns = real_ns();
	if (s->logged)
		log_cur(s->cid, s->cid_len, c);
}

void
gw_persist_sub(struct gw_sess *s, const struct gw_sub *sb)
{
	if (!s->persistent)
		return;
	if (s->logged)
		log_sub(s->cid, s->cid_len, sb->filter, sb->flen, sb->qos, sub_opts(sb),
			sb->sub_id);
	cur_add(s, sb);
}

void
gw_persist_unsub(struct gw_sess *s, const struct gw_sub *sb)
{
	struct gw_slog_rec r;

	cur_del(&s->cur, &s->n_cur, sb->mfilter, sb->mflen);
	if (!s->logged)
		return;
	rec_base(&r, GW_SLOG_UNSUB, s->cid, s->cid_len);
	r.name = sb->filter;
	r.name_len = sb->flen;
	gw_slog_append(&slog, &r);
}

bool
gw_persist_restore(struct gw_sess *s, bool clean_start, bool present)
{
	struct dorm **pp, *d = dorm_find(s->cid, s->cid_len, &pp);
	uint32_t i;

	if (d == NULL)
		return present;
	*pp = d->next;
	if (clean_start || present || strcmp(d->user, s->user->name) != 0) {
		/* Discarded [MQTT-3.1.2-4]: another user's is never taken. */
		log_end(d->cid, d->cid_len);
		dorm_free(d);
		return present;
	}
	cur_free_all(s->cur, s->n_cur);
	s->cur = d->cur;
	s->n_cur = d->n_cur;
	d->cur = NULL;
	d->n_cur = 0;
	/* What was sent but not acknowledged before the restart comes again
	 * from the journal, DUP set. Until its replay is asked, a cursor
	 * takes nothing: what arrives meanwhile (the subscriptions below
	 * wait for the broker and poll) comes again in the replay. */
	for (i = 0; i < s->n_cur; i++) {
		s->cur[i].dup_upto = s->cur[i].sent;
		s->cur[i].sent = s->cur[i].acked;
		s->cur[i].hold = true;
		if (gw_user_topic(s->user, s->cur[i].topic, s->cur[i].tlen, &s->cur[i].tid) != 0)
			s->cur[i].tid = 0;
	}
	/* Its subscriptions again (no retained messages: not a SUBSCRIBE). */
	for (i = 0; i < d->n_subs; i++)
		gw_sub_restore(s, d->subs[i].filter, d->subs[i].flen, d->subs[i].qos,
			       d->subs[i].opts, d->subs[i].sub_id);
	s->logged = true;
	GW_INC(sess_taken_up);
	dorm_free(d);
	return true;
}

/* Ask the user's client for topic @c from where session @s stands. */
static void
replay(struct gw_sess *s, struct gw_cur *c)
{
	struct gw_user *u = s->user;
	struct gw_utop *ut;
	uint64_t seq = 0, start;
	uint16_t flags;
	uint8_t dur = 0;
	int rc;

	c->hold = false;
	c->behind = false;
	if (c->tid == 0 && gw_user_topic(u, c->topic, c->tlen, &c->tid) != 0)
		return;
	if (topic_info(c->tid, &dur, &seq) == 0)
		c->durable = dur;
	if (c->durable == 2)
		return;
	ut = utop_get(u, c->tid);
	if (ut == NULL)
		return;
	/* Nothing passed it by while it was away. */
	if (ut->hi && c->sent == ut->hi && !ut->replaying)
		return;
	if (c->sent) {
		flags = SL_SUB_F_FROM_SEQ;
		start = c->sent + 1;
	} else {
		flags = SL_SUB_F_FROM_TIME;
		start = c->since_ns;
	}
	rc = sl_client_subscribe_from(u->cl, c->tid, flags, start);
	if (rc == -EOPNOTSUPP) {
		c->durable = 2;
		return;
	}
	if (rc < 0) {
		GW_LOG("session '%s': replay of '%.*s' refused: %s\n", s->cid, (int)c->tlen,
		       c->topic, strerror(-rc));
		GW_INC(replay_failed);
		return;
	}
	c->durable = 1;
	GW_INC(replays);
	/* What the user's other sessions had live ends at hi; a client new
	 * since the restart has no hi: the topic's sequence now. */
	if (!ut->replaying)
		ut->replay_end = ut->hi ? ut->hi : seq;
	else if (ut->hi > ut->replay_end)
		ut->replay_end = ut->hi;
	ut->replaying = ut->replay_end > 0;
}

void
gw_persist_resume(struct gw_sess *s)
{
	uint32_t i;

	if (s->persistent && slog.fd >= 0) {
		log_sess(s->cid, s->cid_len, s->user->name, s->level, s->expiry_s);
		s->logged = true;
	}
	for (i = 0; i < s->n_cur; i++)
		replay(s, &s->cur[i]);
}

void
gw_persist_detach(struct gw_sess *s)
{
	uint32_t i;
	uint8_t dur;
	uint64_t seq;

	s->away_real_ns = real_ns();
	for (i = 0; i < s->n_cur; i++)
		if (s->cur[i].durable == 0 && s->cur[i].tid &&
		    topic_info(s->cur[i].tid, &dur, &seq) == 0)
			s->cur[i].durable = dur;
	if (!s->logged)
		return;
	for (i = 0; i < s->n_cur; i++)
		if (s->cur[i].acked != s->cur[i].log_acked || s->cur[i].sent != s->cur[i].log_sent)
			log_cur(s->cid, s->cid_len, &s->cur[i]);
	log_away(s->cid, s->cid_len, s->away_real_ns, s->expiry_s);
}

void
gw_persist_forget(struct gw_sess *s)
{
	if (s->logged)
		log_end(s->cid, s->cid_len);
	s->logged = false;
	cur_free_all(s->cur, s->n_cur);
	s->cur = NULL;
	s->n_cur = 0;
}

/* ---- the fan-out ---- */

void
gw_persist_fan_begin(struct gw_user *u, const struct sl_message *msg, struct gw_pfan *pf)
{
	pf->ut = u->utop != NULL ? utop_find(u, msg->topic_id) : NULL;
	pf->replay = pf->ut != NULL && pf->ut->replaying && msg->seq <= pf->ut->replay_end;
}

void
gw_persist_fan_end(const struct sl_message *msg, const struct gw_pfan *pf)
{
	struct gw_utop *ut = pf->ut;

	if (ut == NULL)
		return;
	if (ut->replaying && msg->seq >= ut->replay_end)
		ut->replaying = 0; /* caught up: what comes next is live */
	if (!pf->replay && msg->seq > ut->hi)
		ut->hi = msg->seq;
}

struct gw_cur *
gw_persist_cur_of(struct gw_sess *s, uint32_t tid)
{
	uint32_t i;

	for (i = 0; i < s->n_cur; i++)
		if (s->cur[i].tid == tid)
			return &s->cur[i];
	return NULL;
}

int
gw_persist_fan_take(struct gw_sess *s, const struct sl_message *msg, const struct gw_pfan *pf,
		    struct gw_cur **cur, bool *dup)
{
	struct gw_cur *c = s->n_cur ? gw_persist_cur_of(s, msg->topic_id) : NULL;

	*cur = c;
	*dup = false;
	if (c == NULL)
		return pf->replay ? -1 : 0; /* a replay is not for sessions that had it */
	if (c->hold)
		return -1;
	if (s->conn == NULL && c->durable == 1) {
		if (!pf->replay)
			GW_INC(persist_skipped); /* the journal keeps it */
		return -1;
	}
	if (msg->seq <= c->sent || c->behind)
		return -1; /* had it, or takes it later from the journal */
	if (s->q_len >= gw.conf.max_queued) {
		/* Its queue is full: rather than drop, stop here and read the
		 * journal again from sent + 1 once the queue has drained. */
		c->behind = true;
		GW_INC(cursor_behind);
		return -1;
	}
	if (pf->replay || msg->seq <= c->dup_upto)
		GW_INC(replayed);
	if (msg->seq <= c->dup_upto) {
		*dup = true;
		GW_INC(redelivered);
	}
	return 0;
}

void
gw_persist_taken(struct gw_cur *c, uint64_t seq, uint8_t qos)
{
	/* QoS 0 is never acknowledged: done once nothing before it waits. */
	if (qos == 0 && c->acked == c->sent)
		c->acked = seq;
	c->sent = seq;
}

void
gw_persist_acked(struct gw_sess *s, const struct gw_msg *m)
{
	struct gw_cur *c;

	if (s->n_cur == 0 || m == NULL || m->sl_seq == 0)
		return;
	c = gw_persist_cur_of(s, m->sl_topic);
	/* PUBACKs come in the order of the PUBLISHes [MQTT-4.6.0-2]. */
	if (c != NULL && m->sl_seq > c->acked && m->sl_seq <= c->sent)
		c->acked = m->sl_seq;
}
