/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice consumer groups (protocol version 4): join, leave, pause, fetch, batched acks,
 * naks, group deliveries and refusals, and rejoining after a reconnect. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/crypto.h>
#include <common/filter.h>
#include <common/log.h>

#include "client_internal.h"
#include "reorder.h"

#define MAX_GROUPS 64u
#define DEFAULT_CREDIT 256u

/* A group this client is a member of, kept to rejoin it in a new session. */
struct rgroup {
	uint32_t app_id;    /* the group id the application holds; 0: a free slot */
	uint32_t cur_id;    /* the broker's id in this session; 0: not joined in it */
	uint32_t topic;	    /* the application's topic id */
	uint32_t credit;    /* as asked */
	uint32_t jflags;    /* SL_GJOIN_F_PULL */
	bool paused;
	uint64_t member_id;
	uint64_t fetch_left; /* pull: asked for and not delivered yet */
	struct sl_group_info info; /* the first join's answer; group_id = app_id */
	char name[SL_GROUP_NAME_LEN];
	uint16_t filter_len;
	uint16_t n_acks;
	uint8_t filter[SL_MAX_FILTER_LEN];
	uint64_t acks[SL_MAX_GACK_SEQS]; /* queued for the next GACK */
};

struct sl_cl_groups {
	uint32_t n; /* slots in use or freed: g[0..n) */
	struct rgroup g[MAX_GROUPS];
};

void
sl_cl_group_free(struct sl_client *c)
{
	free(c->grp);
	c->grp = NULL;
}

static struct rgroup *
find_app(const struct sl_client *c, uint32_t app_id)
{
	uint32_t i;

	if (c->grp == NULL || app_id == 0)
		return NULL;
	for (i = 0; i < c->grp->n; i++)
		if (c->grp->g[i].app_id == app_id)
			return &c->grp->g[i];
	return NULL;
}

static struct rgroup *
find_cur(const struct sl_client *c, uint32_t cur_id)
{
	uint32_t i;

	if (c->grp == NULL || cur_id == 0)
		return NULL;
	for (i = 0; i < c->grp->n; i++)
		if (c->grp->g[i].app_id != 0 && c->grp->g[i].cur_id == cur_id)
			return &c->grp->g[i];
	return NULL;
}

/* The only group joined in this session, or NULL when there are none or several. */
static struct rgroup *
only_group(const struct sl_client *c)
{
	struct rgroup *one = NULL;
	uint32_t i;

	for (i = 0; c->grp != NULL && i < c->grp->n; i++) {
		if (c->grp->g[i].app_id == 0 || c->grp->g[i].cur_id == 0)
			continue;
		if (one != NULL)
			return NULL;
		one = &c->grp->g[i];
	}
	return one;
}

static void
forget(struct rgroup *g)
{
	memset(g, 0, sizeof(*g));
}

static void
group_event(struct sl_client *c, const struct rgroup *g, uint16_t code, uint64_t first,
	    uint64_t last)
{
	struct sl_event ev = { .type = SL_EV_GROUP_ERROR, .topic_id = g ? g->topic : 0,
			       .first = first, .last = last, .error = code,
			       .group_id = g ? g->app_id : 0 };

	if (c->rc.fn != NULL)
		c->rc.fn(c->rc.arg, &ev);
}

/* GJOIN @g (its broker topic @topic) and wait for GROUP: 0 with *@info, or -errno. */
static int
gjoin_raw(struct sl_client *c, const struct rgroup *g, uint32_t topic,
	  struct sl_group_info *info)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_gjoin) + SL_MAX_FILTER_LEN) / 8];
	struct sl_gjoin *j = (struct sl_gjoin *)buf;
	uint32_t len = (uint32_t)sizeof(*j) + g->filter_len;
	int rc;

	memset(j, 0, sizeof(*j));
	sl_cl_pend_start(c, SL_FT_GJOIN);
	sl_proto_hdr_init(&j->h, SL_FT_GJOIN, 0, len, c->session);
	j->topic_id = topic;
	j->credit = g->credit;
	j->member_id = g->member_id;
	memcpy(j->group, g->name, sizeof(j->group));
	j->flags = g->jflags | (g->filter_len ? SL_GJOIN_F_FILTER : 0);
	j->req_id = c->pend.req_id;
	if (g->filter_len)
		memcpy(j + 1, g->filter, g->filter_len);
	rc = sl_cl_request_run(c, j, len, sl_now_ns() + c->timeout_ns);
	if (rc == 0)
		*info = c->pend.ginfo;
	return rc;
}

/* GCTL @op (@n for FETCH) for broker group @cur_id: with @wait, a request
 * answered by OK; without, sent once (a refusal comes as an event). */
static int
gctl_raw(struct sl_client *c, uint32_t cur_id, uint32_t op, uint32_t n, bool wait)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_gctl)) / 8];
	struct sl_gctl *g = (struct sl_gctl *)buf;

	sl_proto_hdr_init(&g->h, SL_FT_GCTL, 0, sizeof(*g), c->session);
	g->group_id = cur_id;
	g->op = op;
	g->n = n;
	if (!wait) {
		/* No request waits for it: its own id, c->pend untouched. */
		if (++c->next_req_id == 0)
			c->next_req_id = 1;
		g->req_id = c->next_req_id;
		return sl_cl_tx_frame(c, g, sizeof(*g));
	}
	sl_cl_pend_start(c, SL_FT_GCTL);
	g->req_id = c->pend.req_id;
	return sl_cl_request_run(c, g, sizeof(*g), sl_now_ns() + c->timeout_ns);
}

/* Can group frames go out now? 0, -EAGAIN (reconnecting) or -ENOTCONN. */
static int
sendable(const struct sl_client *c)
{
	if (c->dead)
		return -ENOTCONN;
	if (c->rc.down || c->session == 0)
		return -EAGAIN;
	return 0;
}

/* Send @g's queued acks in one GACK: 0 (also with none queued), -EAGAIN
 * (kept), or -errno. */
static int
flush_group(struct sl_client *c, struct rgroup *g)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_gack) + 8 * SL_MAX_GACK_SEQS) / 8];
	struct sl_gack *a = (struct sl_gack *)buf;
	uint32_t len = (uint32_t)sizeof(*a) + 8u * g->n_acks;
	int rc;

	if (g->n_acks == 0)
		return 0;
	rc = sendable(c);
	if (rc < 0 || g->cur_id == 0)
		return rc < 0 ? rc : -EAGAIN;
	sl_proto_hdr_init(&a->h, SL_FT_GACK, 0, len, c->session);
	a->group_id = g->cur_id;
	a->flags = 0;
	a->n = g->n_acks;
	memcpy(a + 1, g->acks, 8u * g->n_acks);
	rc = sl_cl_tx_frame(c, a, len);
	if (rc == 0) {
		c->st.group_acked += g->n_acks;
		g->n_acks = 0;
	}
	return rc;
}

void
sl_cl_group_flush(struct sl_client *c)
{
	uint32_t i;

	if (c->grp == NULL || sendable(c) < 0)
		return;
	for (i = 0; i < c->grp->n; i++)
		if (c->grp->g[i].app_id != 0)
			(void)flush_group(c, &c->grp->g[i]);
}

/* The group named by an application call: 0 with *@out, or -errno. */
static int
member_of(struct sl_client *c, uint32_t group_id, struct rgroup **out)
{
	if (c->dead)
		return -ENOTCONN;
	*out = find_app(c, group_id);
	if (*out != NULL)
		return 0;
	if (!c->rc.down && sl_cl_version(c) < SL_PROTO_V4)
		return -EPROTONOSUPPORT;
	return -ENOENT;
}

/* The group of an ack or nak of @seq: 0 with *@out, or -errno. */
static int
member_seq(struct sl_client *c, uint32_t group_id, uint64_t seq, struct rgroup **out)
{
	int rc = member_of(c, group_id, out);

	return rc == 0 && seq == 0 ? -EINVAL : rc;
}

/* A frame for @g that goes at once goes after its queued acks: 0 when they
 * went, -EAGAIN (reconnecting, or no room) or -ENOTCONN. */
static int
clear_to_send(struct sl_client *c, struct rgroup *g)
{
	int rc = flush_group(c, g);

	if (rc == 0)
		rc = sendable(c);
	return rc < 0 && rc != -ENOTCONN ? -EAGAIN : rc;
}

/* Check @o into @g (name, credit, flags, filter): 0 or -EINVAL. */
static int
group_from_opts(struct rgroup *g, const struct sl_group_opts *o)
{
	size_t n;
	int len;

	if (o->group == NULL || (o->flags & ~SL_GROUP_F_PULL) != 0 ||
	    o->credit > SL_MAX_GROUP_CREDIT || (o->n_filter != 0 && o->filter == NULL))
		return -EINVAL;
	n = strnlen(o->group, SL_GROUP_NAME_LEN);
	if (n == 0 || n == SL_GROUP_NAME_LEN || !sl_name_chars_ok(o->group, n))
		return -EINVAL;
	memset(g, 0, sizeof(*g));
	memcpy(g->name, o->group, n);
	g->topic = o->topic_id;
	g->credit = o->credit ? o->credit : DEFAULT_CREDIT;
	g->jflags = (o->flags & SL_GROUP_F_PULL) ? SL_GJOIN_F_PULL : 0;
	g->member_id = o->member_id;
	while (g->member_id == 0)
		sl_random(&g->member_id, sizeof(g->member_id));
	if (o->n_filter != 0) {
		len = sl_filter_build(g->filter, sizeof(g->filter), o->filter, o->n_filter);
		if (len < 0)
			return -EINVAL;
		g->filter_len = (uint16_t)len;
	}
	return 0;
}

/* A slot for a new group, or NULL when this client has MAX_GROUPS. */
static struct rgroup *
slot_new(struct sl_client *c)
{
	uint32_t i;

	if (c->grp == NULL) {
		c->grp = calloc(1, sizeof(*c->grp));
		if (c->grp == NULL)
			return NULL;
	}
	for (i = 0; i < c->grp->n; i++)
		if (c->grp->g[i].app_id == 0)
			return &c->grp->g[i];
	return c->grp->n < MAX_GROUPS ? &c->grp->g[c->grp->n++] : NULL;
}

int
sl_client_group_join(struct sl_client *c, const struct sl_group_opts *o,
		     struct sl_group_info *out)
{
	struct sl_group_info info;
	struct rgroup want, *g;
	uint32_t i;
	int rc;

	if (o == NULL || o->topic_id == SL_TOPIC_INVALID)
		return o == NULL ? -EINVAL : -ENOENT;
	if (c->n_parted && sl_cl_parted_find(c, o->topic_id) != NULL)
		return sl_cl_parts_group_join(c, o, out);
	rc = group_from_opts(&want, o);
	if (rc < 0)
		return rc;
	rc = sl_cl_ready(c);
	if (rc < 0)
		return rc;
	if (sl_cl_version(c) < SL_PROTO_V4)
		return -EPROTONOSUPPORT;
	for (i = 0; c->grp != NULL && i < c->grp->n; i++) {
		g = &c->grp->g[i];
		if (g->app_id != 0 && g->topic == want.topic && strcmp(g->name, want.name) == 0) {
			if (out != NULL)
				*out = g->info;
			return 0;
		}
	}
	rc = gjoin_raw(c, &want, sl_cl_topic_to_broker(c, want.topic), &info);
	if (sl_cl_again(c, rc))
		rc = gjoin_raw(c, &want, sl_cl_topic_to_broker(c, want.topic), &info);
	if (rc < 0)
		return rc;
	g = slot_new(c);
	if (g == NULL || info.group_id == 0 || find_app(c, info.group_id) != NULL) {
		/* Nowhere to keep it (or a broker answer we cannot tell
		 * apart from a group already joined): do not stay a member. */
		(void)gctl_raw(c, info.group_id, SL_GCTL_LEAVE, 0, true);
		return g == NULL ? -ENOSPC : -EPROTO;
	}
	*g = want;
	g->app_id = info.group_id;
	g->cur_id = info.group_id;
	info.member_id = g->member_id;
	g->info = info;
	if (out != NULL)
		*out = info;
	return 0;
}

/* A request (LEAVE, PAUSE, RESUME) for @g, asked again in a new session
 * when the session was lost while it waited. */
static int
gctl_request(struct sl_client *c, struct rgroup *g, uint32_t op)
{
	int rc = sl_cl_ready(c);

	if (rc < 0)
		return rc;
	(void)flush_group(c, g);
	rc = gctl_raw(c, g->cur_id, op, 0, true);
	if (sl_cl_again(c, rc)) {
		(void)flush_group(c, g);
		rc = gctl_raw(c, g->cur_id, op, 0, true);
	}
	return rc;
}

int
sl_client_group_leave(struct sl_client *c, uint32_t group_id)
{
	struct rgroup *g;
	int rc = c->n_parted ? sl_cl_parts_group_leave(c, group_id) : 1;

	if (rc != 1)
		return rc;
	rc = member_of(c, group_id, &g);
	if (rc < 0)
		return rc;
	rc = gctl_request(c, g, SL_GCTL_LEAVE);
	/* Gone at the broker already (deleted, or a rejoin refused): left. */
	if (rc == 0 || rc == -ESRCH)
		forget(g);
	return rc == -ESRCH ? 0 : rc;
}

static int
pause_one(struct sl_client *c, uint32_t group_id, uint32_t pause)
{
	struct rgroup *g;
	int rc = member_of(c, group_id, &g);

	if (rc < 0)
		return rc;
	rc = gctl_request(c, g, pause ? SL_GCTL_PAUSE : SL_GCTL_RESUME);
	if (rc == 0)
		g->paused = pause != 0;
	return rc;
}

static int
fetch_one(struct sl_client *c, uint32_t group_id, uint32_t n)
{
	struct rgroup *g;
	int rc = member_of(c, group_id, &g);

	if (rc < 0)
		return rc;
	if (n == 0 || n > SL_MAX_GROUP_CREDIT || !(g->jflags & SL_GJOIN_F_PULL))
		return -EINVAL;
	rc = sendable(c);
	if (rc == 0)
		rc = gctl_raw(c, g->cur_id, SL_GCTL_FETCH, n, false);
	if (rc == 0)
		g->fetch_left += n;
	return rc;
}

/* @one(@group_id, @arg); for a partitioned topic's group (partition.c),
 * one id for a group on each partition, @one of each. */
static int
each_part(struct sl_client *c, uint32_t group_id,
	  int (*one)(struct sl_client *c, uint32_t group_id, uint32_t arg), uint32_t arg)
{
	const uint32_t *ids;
	uint32_t i, n = 0;
	int rc = 0;

	ids = c->n_parted ? sl_cl_parts_group_ids(c, group_id, &n) : NULL;
	if (ids == NULL)
		return one(c, group_id, arg);
	for (i = 0; i < n && rc == 0; i++)
		rc = one(c, ids[i], arg);
	return rc;
}

int
sl_client_group_pause(struct sl_client *c, uint32_t group_id, int pause)
{
	return each_part(c, group_id, pause_one, pause != 0);
}

int
sl_client_group_fetch(struct sl_client *c, uint32_t group_id, uint32_t n)
{
	return each_part(c, group_id, fetch_one, n);
}

int
sl_client_group_ack(struct sl_client *c, uint32_t group_id, uint64_t seq)
{
	struct rgroup *g;
	int rc = member_seq(c, group_id, seq, &g);

	if (rc < 0)
		return rc;
	if (g->n_acks == SL_MAX_GACK_SEQS && flush_group(c, g) < 0)
		return -EAGAIN;
	g->acks[g->n_acks++] = seq;
	if (g->n_acks == SL_MAX_GACK_SEQS)
		(void)flush_group(c, g); /* or at the next poll */
	return 0;
}

int
sl_client_group_ack_upto(struct sl_client *c, uint32_t group_id, uint64_t seq)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_gack) + 8) / 8];
	struct sl_gack *a = (struct sl_gack *)buf;
	struct rgroup *g;
	int rc = member_seq(c, group_id, seq, &g);

	if (rc == 0)
		rc = clear_to_send(c, g);
	if (rc < 0)
		return rc;
	sl_proto_hdr_init(&a->h, SL_FT_GACK, 0, sizeof(*a) + 8, c->session);
	a->group_id = g->cur_id;
	a->flags = SL_GACK_F_CUMULATIVE;
	a->n = 1;
	memcpy(a + 1, &seq, 8);
	rc = sl_cl_tx_frame(c, a, sizeof(*a) + 8);
	if (rc == 0)
		c->st.group_acked++;
	return rc;
}

int
sl_client_group_nak(struct sl_client *c, uint32_t group_id, uint64_t seq, uint32_t delay_ms,
		    uint32_t error)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_gnak)) / 8];
	struct sl_gnak *k = (struct sl_gnak *)buf;
	struct rgroup *g;
	int rc = member_seq(c, group_id, seq, &g);

	if (rc == 0 && delay_ms > SL_MAX_NAK_DELAY)
		rc = -EINVAL;
	if (rc == 0)
		rc = clear_to_send(c, g);
	if (rc < 0)
		return rc;
	sl_proto_hdr_init(&k->h, SL_FT_GNAK, 0, sizeof(*k), c->session);
	k->group_id = g->cur_id;
	k->delay_ms = delay_ms;
	k->seq = seq;
	k->error = error;
	k->reserved = 0;
	rc = sl_cl_tx_frame(c, k, sizeof(*k));
	if (rc == 0)
		c->st.group_nacked++;
	return rc;
}

int
sl_cl_group_deliver(struct sl_client *c, const struct sl_frame *f, sl_deliver_fn fn, void *arg)
{
	const struct sl_gdeliver *d = (const struct sl_gdeliver *)f->hdr;
	struct rgroup *g = find_cur(c, d->group_id);
	struct sl_message m;

	if (g == NULL) {
		c->st.group_dropped++; /* left, refused, or never joined */
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.topic_id = g->topic;
	m.seq = d->seq;
	m.timestamp = d->timestamp;
	m.group_id = g->app_id;
	m.delivery_count = d->delivery_count;
	if (!sl_ro_message_body(&m, f->body, f->body_len, (d->h.flags & SL_DLV_F_HDRS) != 0))
		c->st.bad_frames++; /* not the broker's doing: passed whole */
	c->st.delivered++;
	c->st.group_delivered++;
	if (d->delivery_count > 1)
		c->st.group_redelivered++;
	if (g->fetch_left > 0)
		g->fetch_left--;
	if (fn != NULL)
		fn(arg, &m);
	return 1;
}

void
sl_cl_group_on_reply(struct sl_client *c, const struct sl_group_reply *r)
{
	struct sl_group_info *i = &c->pend.ginfo;

	if (!sl_cl_req_match(&c->pend, r->req_id) || c->pend.type != SL_FT_GJOIN)
		return;
	i->group_id = r->group_id;
	i->policy = r->policy;
	i->ack_wait_ms = r->ack_wait_ms;
	i->max_deliveries = r->max_deliveries;
	i->grace_ms = r->grace_ms;
	i->credit = r->credit;
	i->member_id = r->member_id;
	sl_cl_pend_finish(&c->pend, r->group_id != 0 ? 0 : -EPROTO);
}

static bool
group_frame(uint8_t t)
{
	return SL_FT_IS_GROUP_REQ(t) || t == SL_FT_GDELIVER;
}

/*
 * Which group an ERROR names. A gap notice (frame type GDELIVER) and a
 * refused GJOIN or GCTL carry the group in detail; an ack or nak refused
 * carries the seq there and the group in req_id (GACK and GNAK have no
 * request id of their own). A client in one group needs neither.
 */
static struct rgroup *
error_group(const struct sl_client *c, const struct sl_error *e)
{
	struct rgroup *g;

	if (e->frame_type == SL_FT_GACK || e->frame_type == SL_FT_GNAK)
		g = find_cur(c, e->req_id);
	else
		g = find_cur(c, (uint32_t)e->detail);
	return g != NULL ? g : only_group(c);
}

bool
sl_cl_group_on_error(struct sl_client *c, const struct sl_error *e)
{
	const struct sl_error_gap *gap = (const struct sl_error_gap *)e;
	uint64_t first = 0, last = 0;
	struct rgroup *g;

	if (!group_frame(e->frame_type) || c->session == 0 || e->h.session != c->session)
		return false;
	/* The session's own troubles, and the answer of the request waiting. */
	if (e->code == SL_E_NO_SESSION || e->code == SL_E_AUTH_FAILED ||
	    e->code == SL_E_AUTH_REQUIRED || e->code == SL_E_BUSY ||
	    (e->frame_type != SL_FT_GACK && e->frame_type != SL_FT_GNAK &&
	     e->frame_type != SL_FT_GDELIVER && sl_cl_req_match(&c->pend, e->req_id)))
		return false;
	g = error_group(c, e);
	if (e->code == SL_E_GAP_LOST) {
		if (e->h.length < sizeof(*gap) || gap->first > gap->last)
			return true;
		first = gap->first;
		last = gap->last;
		c->st.gaps += last - first + 1;
	} else {
		c->st.errors++;
		c->st.last_error = e->code;
		if (e->code == SL_E_NOT_HELD) {
			c->st.group_not_held++;
			first = last = e->detail;
		}
	}
	group_event(c, g, e->code, first, last);
	/* The membership is over: nothing of it follows, nothing to rejoin. */
	if (g != NULL && (e->code == SL_E_NO_GROUP || e->code == SL_E_DENIED))
		forget(g);
	return true;
}

int
sl_cl_group_rejoin(struct sl_client *c)
{
	struct sl_group_info info;
	struct rgroup *g;
	uint32_t i, topic, n;
	int rc;

	for (i = 0; c->grp != NULL && i < c->grp->n; i++) {
		g = &c->grp->g[i];
		if (g->app_id == 0)
			continue;
		g->cur_id = 0;
		topic = sl_cl_topic_to_broker(c, g->topic);
		rc = topic == SL_TOPIC_INVALID ? -ENOENT : gjoin_raw(c, g, topic, &info);
		if (rc == 0 && g->paused)
			rc = gctl_raw(c, info.group_id, SL_GCTL_PAUSE, 0, true);
		if (rc < 0 && sl_cl_transient(rc))
			return rc;
		if (rc < 0) {
			SL_LOG(WARNING, "sluice: group %s not joined again: %d\n", g->name, rc);
			group_event(c, g, c->st.last_error, 0, 0);
			forget(g);
			continue;
		}
		g->cur_id = info.group_id;
		if (g->fetch_left > 0) {
			/* What was asked for and not delivered is asked again. */
			n = g->fetch_left < SL_MAX_GROUP_CREDIT ? (uint32_t)g->fetch_left
								 : SL_MAX_GROUP_CREDIT;
			g->fetch_left = 0;
			if (gctl_raw(c, g->cur_id, SL_GCTL_FETCH, n, false) == 0)
				g->fetch_left = n;
		}
	}
	return 0;
}
