/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice surviving the broker: liveness, reconnecting with backoff to a new session,
 * and restoring topics, subscriptions, the producer and unacknowledged publishes. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/log.h>

#include "client_internal.h"

static char *
dup_opt(const char *s, bool *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*fail = true;
	return d;
}

int
sl_cl_recon_init(struct sl_client *c, const struct sl_client_opts *o,
		 const struct sockaddr_in *sa, uint32_t n)
{
	struct recon *r = &c->rc;
	bool fail = false;

	r->on = !o->no_reconnect;
	r->o = *o;
	r->n_brokers = n;
	memcpy(r->brokers, sa, n * sizeof(*sa));
	r->sa = sa[0];
	r->host = dup_opt(o->host, &fail);
	r->name = dup_opt(o->name, &fail);
	r->shm = dup_opt(o->shm, &fail);
	r->user = dup_opt(o->user, &fail);
	if (fail)
		return -ENOMEM;
	r->o.host = r->host;
	r->o.name = r->name;
	r->o.shm = r->shm;
	r->o.user = r->user;
	r->o.key = NULL;
	r->o.last_error = NULL;
	r->o.producer = NULL;
	if (o->key != NULL) {
		/* Kept for authenticating again; wiped at close. */
		memcpy(r->key, o->key, sizeof(r->key));
		r->o.key = r->key;
	}
	r->liveness_ns = (uint64_t)o->liveness_ms * NS_PER_MS;
	r->max_ns = (uint64_t)o->reconnect_max_ms * NS_PER_MS;
	r->backoff_ns = RECONNECT_MIN_NS;
	r->fn = o->on_event;
	r->arg = o->event_arg;
	return 0;
}

void
sl_cl_recon_free(struct sl_client *c)
{
	struct recon *r = &c->rc;
	uint32_t i;

	sl_cl_wipe(r->key, sizeof(r->key));
	free(r->host);
	free(r->name);
	free(r->shm);
	free(r->user);
	for (i = 0; i < r->n_topics; i++)
		free(r->topics[i].name);
	free(r->topics);
	free(r->subs);
	for (i = 0; i < r->n_patterns; i++)
		free(r->patterns[i]);
	memset(r, 0, sizeof(*r));
}

void
sl_cl_event(struct sl_client *c, uint32_t type, uint32_t topic_id, uint64_t first,
	    uint64_t last, uint16_t error)
{
	struct sl_event ev = { .type = type, .topic_id = topic_id, .first = first, .last = last,
			       .error = error };

	if (c->rc.fn != NULL)
		c->rc.fn(c->rc.arg, &ev);
}

uint32_t
sl_cl_topic_to_broker(const struct sl_client *c, uint32_t app_id)
{
	uint32_t i;

	if (!c->rc.remapped)
		return app_id;
	for (i = 0; i < c->rc.n_topics; i++)
		if (c->rc.topics[i].app_id == app_id)
			return c->rc.topics[i].cur_id;
	return app_id;
}

uint32_t
sl_cl_topic_to_app(const struct sl_client *c, uint32_t broker_id)
{
	uint32_t i;

	if (!c->rc.remapped)
		return broker_id;
	for (i = 0; i < c->rc.n_topics; i++)
		if (c->rc.topics[i].cur_id == broker_id)
			return c->rc.topics[i].app_id;
	return broker_id;
}

uint32_t
sl_cl_recon_resolved(struct sl_client *c, const char *name, int create, uint32_t id)
{
	struct recon *r = &c->rc;
	struct rtopic *t;
	uint32_t i;

	for (i = 0; i < r->n_topics; i++) {
		t = &r->topics[i];
		if (strcmp(t->name, name) == 0) {
			t->cur_id = id;
			r->remapped |= id != t->app_id;
			return t->app_id;
		}
	}
	if (r->n_topics == r->cap_topics) {
		uint32_t cap = r->cap_topics ? 2 * r->cap_topics : 16;
		struct rtopic *n = realloc(r->topics, cap * sizeof(*n));

		if (n == NULL)
			return id; /* not restored after a reconnect: logged there */
		r->topics = n;
		r->cap_topics = cap;
	}
	t = &r->topics[r->n_topics];
	t->name = strdup(name);
	if (t->name == NULL)
		return id;
	t->app_id = id;
	t->cur_id = id;
	t->create = create != 0;
	r->n_topics++;
	return id;
}

void
sl_cl_recon_sub(struct sl_client *c, uint32_t app_id, uint16_t flags, uint64_t start, bool gone)
{
	struct recon *r = &c->rc;
	uint32_t i;

	for (i = 0; i < r->n_subs; i++)
		if (r->subs[i].app_id == app_id)
			break;
	if (gone) {
		if (i < r->n_subs)
			r->subs[i] = r->subs[--r->n_subs];
		return;
	}
	if (i == r->n_subs) {
		if (r->n_subs == r->cap_subs) {
			uint32_t cap = r->cap_subs ? 2 * r->cap_subs : 16;
			struct rsub *n = realloc(r->subs, cap * sizeof(*n));

			if (n == NULL)
				return;
			r->subs = n;
			r->cap_subs = cap;
		}
		r->n_subs++;
	}
	r->subs[i] = (struct rsub){ .app_id = app_id, .flags = flags, .start = start };
}

void
sl_cl_recon_sub_filter(struct sl_client *c, uint32_t app_id, const uint8_t *filter,
		       uint16_t flen)
{
	struct recon *r = &c->rc;
	uint32_t i;

	for (i = 0; i < r->n_subs; i++)
		if (r->subs[i].app_id == app_id) {
			r->subs[i].filter_len = flen;
			if (flen)
				memcpy(r->subs[i].filter, filter, flen);
		}
}

void
sl_cl_recon_pattern(struct sl_client *c, const char *pattern, bool gone)
{
	struct recon *r = &c->rc;
	uint32_t i;

	for (i = 0; i < r->n_patterns; i++)
		if (strcmp(r->patterns[i], pattern) == 0)
			break;
	if (gone) {
		if (i < r->n_patterns) {
			free(r->patterns[i]);
			r->patterns[i] = r->patterns[--r->n_patterns];
		}
		return;
	}
	if (i < r->n_patterns || r->n_patterns == MAX_PATTERNS)
		return;
	r->patterns[r->n_patterns] = strdup(pattern);
	if (r->patterns[r->n_patterns] != NULL)
		r->n_patterns++;
}

void
sl_cl_recon_incarnation(struct sl_client *c, uint64_t inc)
{
	struct recon *r = &c->rc;

	if (r->have_inc && inc != r->incarnation)
		r->inc_changed = true;
	r->have_inc = true;
	r->incarnation = inc;
}

void
sl_cl_broker_next(struct sl_client *c)
{
	struct recon *r = &c->rc;

	if (r->n_brokers < 2)
		return;
	r->cur = (r->cur + 1) % r->n_brokers;
	r->sa = r->brokers[r->cur];
	c->st.broker = r->cur;
}

void
sl_cl_session_lost(struct sl_client *c, uint16_t why)
{
	struct recon *r = &c->rc;

	if (c->pend.kind != PEND_NONE && !c->pend.done)
		sl_cl_pend_finish(&c->pend, -ENOTCONN);
	if (c->dead || r->down)
		return;
	if (r->attempting) {
		r->failed = true;
		return;
	}
	if (!r->on || c->session == 0) {
		c->dead = true;
		return;
	}
	/* The transport closes at the first attempt: a caller may be walking
	 * a datagram of the lost session right now. */
	r->down = true;
	r->why = why;
	r->since_ns = sl_now_ns();
	r->next_ns = r->since_ns;
	r->backoff_ns = RECONNECT_MIN_NS;
	r->walked = 0;
	/* This broker is not the pair's primary (now): the next one may be.
	 * Silence (SL_E_NONE from sl_cl_liveness_lost) moves on too. */
	if (why == SL_E_NOT_PRIMARY || (why == SL_E_NONE && r->silent))
		sl_cl_broker_next(c);
	c->st.disconnects++;
	sl_cl_event(c, SL_EV_DISCONNECTED, 0, 0, 0, why);
}

/* Is a request's failure one the next attempt may not see (timeout, lost
 * session, broker busy), rather than an answer about that topic? */
bool
sl_cl_transient(int rc)
{
	return rc == -ETIMEDOUT || rc == -ENOTCONN || rc == -EBUSY || rc == -EAGAIN ||
	       rc == -EPROTO;
}

static int
restore_topics(struct sl_client *c)
{
	struct recon *r = &c->rc;
	uint32_t i, id;
	int rc;

	r->remapped = false;
	for (i = 0; i < r->n_topics; i++) {
		struct rtopic *t = &r->topics[i];

		rc = sl_cl_resolve_raw(c, t->name, t->create, &id);
		if (rc < 0 && sl_cl_transient(rc))
			return rc;
		if (rc < 0) {
			SL_LOG(WARNING, "sluice: topic %s is gone after reconnecting: %d\n", t->name, rc);
			id = SL_TOPIC_INVALID;
		}
		t->cur_id = id;
		r->remapped |= id != t->app_id;
	}
	return 0;
}

/*
 * Subscribe again. A topic with messages delivered resumes after the last
 * one (FROM_SEQ), which a topic with a journal serves without gap or
 * duplicate; one without a journal (SL_E_NO_JOURNAL) subscribes live, and
 * after a broker restart its sequences begin again.
 */
static int
restore_subs(struct sl_client *c, bool new_incarnation)
{
	struct recon *r = &c->rc;
	uint32_t i;
	int rc;

	for (i = 0; i < r->n_subs; i++) {
		struct rsub *s = &r->subs[i];
		uint32_t bid = sl_cl_topic_to_broker(c, s->app_id);
		uint64_t last = sl_cl_reorder_last_delivered(c, s->app_id);

		if (bid == SL_TOPIC_INVALID)
			continue;
		if (last > 0 && !s->no_journal) {
			rc = sl_cl_subscribe_filtered(c, bid, SL_SUB_F_FROM_SEQ, last + 1,
						      s->filter, s->filter_len);
			if (rc == 0) {
				sl_cl_reorder_reset(c, s->app_id, last + 1);
				continue;
			}
			if (rc != -EOPNOTSUPP)
				goto refused;
			s->no_journal = 1;
		}
		if (last > 0)
			rc = sl_cl_subscribe_filtered(c, bid, 0, 0, s->filter, s->filter_len);
		else
			rc = sl_cl_subscribe_filtered(c, bid, s->flags, s->start, s->filter,
						      s->filter_len);
		if (rc < 0)
			goto refused;
		/* Same incarnation: the topic goes on where it was, and the
		 * subscriber's state finds what it missed. */
		if (last == 0 || new_incarnation)
			sl_cl_reorder_reset(c, s->app_id, c->pend.seq);
		continue;
refused:
		if (sl_cl_transient(rc))
			return rc;
		SL_LOG(WARNING, "sluice: subscription to topic %u not restored: %d\n", s->app_id, rc);
	}
	for (i = 0; i < r->n_patterns; i++) {
		rc = sl_cl_psubscribe_raw(c, r->patterns[i], 0);
		if (rc < 0 && sl_cl_transient(rc))
			return rc;
	}
	return 0;
}

/* One attempt: a new session, and everything restored in it. */
static int
attempt(struct sl_client *c)
{
	struct recon *r = &c->rc;
	uint64_t timeout;
	bool new_inc;
	int rc;

	sl_cl_close_transport(c);
	r->attempting = true;
	r->failed = false;
	r->inc_changed = false;
	c->prod.bound = false;
	/* Each request of an attempt waits less than a connect may: the
	 * call the attempt runs in is the application's. */
	timeout = c->timeout_ns;
	if (c->timeout_ns > RECONNECT_WAIT_NS)
		c->timeout_ns = RECONNECT_WAIT_NS;
	/* With a list, a silent broker must not hold the walk up long. */
	if (r->n_brokers > 1 && c->timeout_ns > RECONNECT_WAIT_LIST_NS)
		c->timeout_ns = RECONNECT_WAIT_LIST_NS;
	rc = sl_cl_open(c);
	if (rc < 0)
		goto out;
	sl_cl_reorder_reconnected(c);
	new_inc = r->inc_changed;
	if (c->prod.v2 && c->prod.epoch != 0) {
		/* Resume with the epoch granted; fenced: publishing fails -EPERM. */
		rc = sl_cl_producer_bind(c);
		if (rc < 0 && !(rc == -EPERM && c->prod.fenced))
			goto fail;
	}
	rc = restore_topics(c);
	if (rc == 0)
		rc = restore_subs(c, new_inc);
	if (rc == 0)
		rc = sl_cl_group_rejoin(c);
	if (rc == 0 && r->failed)
		rc = -ENOTCONN;
	if (rc < 0)
		goto fail;
	sl_cl_resend_all(c);
	c->timeout_ns = timeout;
	r->attempting = false;
	r->down = false;
	c->st.reconnects++;
	if (new_inc)
		sl_cl_event(c, SL_EV_INCARNATION, 0, 0, 0, SL_E_NONE);
	sl_cl_event(c, SL_EV_RECONNECTED, 0, 0, 0, SL_E_NONE);
	return 0;

fail:
	sl_cl_close_transport(c);
out:
	c->timeout_ns = timeout;
	r->attempting = false;
	return rc;
}

static void
reconnect_maybe(struct sl_client *c, uint64_t now)
{
	struct recon *r = &c->rc;

	if (now < r->next_ns)
		return;
	if (r->max_ns != 0 && now - r->since_ns >= r->max_ns) {
		sl_cl_close_transport(c);
		c->dead = true;
		c->st.last_error = r->why;
		return;
	}
	if (attempt(c) == 0)
		return;
	/* Walk the list: the next broker at once, the backoff only after a
	 * whole round failed. */
	sl_cl_broker_next(c);
	if (r->n_brokers > 1 && ++r->walked % r->n_brokers != 0) {
		r->next_ns = sl_now_ns() + RECONNECT_LIST_GAP_NS;
		return;
	}
	r->next_ns = sl_now_ns() + r->backoff_ns;
	r->backoff_ns = 2 * r->backoff_ns < RECONNECT_MAX_NS ? 2 * r->backoff_ns : RECONNECT_MAX_NS;
}

bool
sl_cl_liveness_lost(struct sl_client *c, uint64_t now)
{
	struct recon *r = &c->rc;
	uint64_t limit = r->liveness_ns ? r->liveness_ns : 6 * c->hb_ns;

	/* Only a probe the broker left unanswered counts: after a caller's
	 * own pause, the first heartbeat gets its full time. Over shared
	 * memory a broker holding a publisher back (policy block) reads
	 * nothing of it for as long as it holds it: there the attach socket
	 * and the notice word tell a dead dataplane (heartbeat_maybe). */
	if (!r->on || r->down || c->dead || c->session == 0 || c->shm.r != NULL ||
	    r->probe_ns <= r->last_rx_ns ||
	    now - r->probe_ns < limit)
		return false;
	r->silent = true;
	sl_cl_session_lost(c, SL_E_NONE);
	r->silent = false;
	return true;
}

void
sl_cl_clock_marks(struct sl_client *c, uint64_t now)
{
	if (c->tx_count != c->tx_seen) {
		c->tx_seen = c->tx_count;
		c->last_tx_ns = now;
	}
	if (c->rx_count != c->rx_seen) {
		c->rx_seen = c->rx_count;
		c->rc.last_rx_ns = now;
	}
}

int
sl_cl_tick(struct sl_client *c, uint64_t now)
{
	int rc = sl_cl_tick_pre(c, now);

	if (rc == 0)
		sl_cl_tick_post(c, now);
	return rc;
}

int
sl_cl_tick_pre(struct sl_client *c, uint64_t now)
{
	if (c->dead)
		return -ENOTCONN;
	sl_cl_clock_marks(c, now);
	if (c->rc.down) {
		reconnect_maybe(c, now);
		if (c->dead)
			return -ENOTCONN;
		if (c->rc.down)
			return -EAGAIN;
		now = sl_now_ns();
	}
	sl_cl_heartbeat_maybe(c, now);
	if (c->dead)
		return -ENOTCONN;
	if (c->rc.down)
		return -EAGAIN;
	sl_cl_group_flush(c);
	return 0;
}

void
sl_cl_tick_post(struct sl_client *c, uint64_t now)
{
	if (c->dead || c->rc.down)
		return;
	sl_cl_resend_tick(c, now);
	if (c->batch.frames != 0 && now - c->batch.first_ns >= c->batch.flush_ns)
		(void)sl_cl_flush(c);
}

uint64_t
sl_cl_wake(const struct sl_client *c, uint64_t now)
{
	const struct recon *r = &c->rc;
	uint64_t t, hb;

	if (r->down)
		return r->next_ns > now ? r->next_ns : now;
	/* Records sent or read since the last tick count as now. */
	t = (c->tx_count != c->tx_seen ? now : c->last_tx_ns) + c->hb_ns;
	hb = c->rx_count != c->rx_seen ? now : r->last_rx_ns;
	hb = (hb > r->last_hb_ns ? hb : r->last_hb_ns) + c->hb_ns;
	if (hb < t)
		t = hb;
	if (r->on && r->probe_ns > r->last_rx_ns) {
		hb = r->probe_ns + (r->liveness_ns ? r->liveness_ns : 6 * c->hb_ns);
		if (hb < t)
			t = hb;
	}
	if (c->batch.frames != 0 && c->batch.first_ns + c->batch.flush_ns < t)
		t = c->batch.first_ns + c->batch.flush_ns;
	if (c->prod.bound && c->win.settled != c->pub_seq && now + c->prod.resend_base_ns / 2 < t)
		t = now + c->prod.resend_base_ns / 2;
	return t;
}
