/* SPDX-License-Identifier: BSD-3-Clause */
/* Keeping the dataplane in step with the desired state, through the CnC region. */

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync.h"

#define MS 1000000ull
#define INFLIGHT_MAX SL_CNC_RING_ENTRIES
#define TICKET_SYNC (-1) /* commands of a resync: no caller waits on them */

struct qcmd {
	struct sl_cnc_cmd cmd;
	int64_t ticket;
};

struct inflight {
	uint64_t id;
	uint64_t deadline;
	int64_t ticket;
	uint32_t type;
};

struct ticket {
	int64_t id;
	size_t remaining;
	int rc;
	uint64_t deadline;
	char msg[160];
};

struct sl_sync {
	char name[72];
	char path[PATH_MAX];
	struct sl_cnc *cnc;
	dev_t dev;
	ino_t ino;
	int64_t dp_pid;
	uint64_t dp_start_ns;
	int stale, synced, need_resync;
	uint64_t next_attach, resync_not_before, gen, sync_end_id;
	/* Commands waiting for room in the ring, oldest first. */
	struct qcmd *q;
	size_t q_head, q_len, q_cap;
	/* Commands in the ring or applied, waiting for their result. */
	struct inflight fl[INFLIGHT_MAX];
	size_t fl_head, fl_len;
	struct ticket *tk;
	size_t n_tk, cap_tk;
	int64_t next_ticket;
	uint64_t syncs, syncs_completed, sent, failed, timed_out;
	uint32_t cnc_refused; /* the CnC version of a region refused, 0 if none */
};

int
sl_sync_create(struct sl_sync **out, const char *name)
{
	struct sl_sync *s;

	if (name[0] == '\0' || strchr(name, '/') || strlen(name) > 64)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->path, sizeof(s->path), "%s/%s/cnc", SL_RUN_DIR, name);
	s->next_ticket = 1;
	*out = s;
	return 0;
}

/* ---- tickets ---- */

static struct ticket *
ticket_find(struct sl_sync *s, int64_t id)
{
	size_t i;

	for (i = 0; i < s->n_tk; i++)
		if (s->tk[i].id == id)
			return &s->tk[i];
	return NULL;
}

/* One of @id's commands finished with @rc. */
static void
ticket_note(struct sl_sync *s, int64_t id, int rc, const char *msg)
{
	struct ticket *t = id > 0 ? ticket_find(s, id) : NULL;

	if (t == NULL)
		return;
	if (t->remaining > 0)
		t->remaining--;
	if (rc < 0 && t->rc == 0) {
		t->rc = rc;
		snprintf(t->msg, sizeof(t->msg), "%s", msg);
	}
}

void
sl_sync_ticket_forget(struct sl_sync *s, int64_t id)
{
	struct ticket *t = ticket_find(s, id);

	if (t != NULL)
		*t = s->tk[--s->n_tk];
}

int
sl_sync_ticket_poll(struct sl_sync *s, int64_t id, char *msg, size_t msglen)
{
	struct ticket *t = ticket_find(s, id);
	int rc;

	if (t == NULL)
		return 2;
	if (t->rc == 0 && t->remaining > 0)
		return 0;
	rc = t->rc < 0 ? t->rc : 1;
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, "%s", t->rc < 0 ? t->msg : "");
	sl_sync_ticket_forget(s, id);
	return rc;
}

static void
tickets_expire(struct sl_sync *s, uint64_t now)
{
	size_t i;

	for (i = 0; i < s->n_tk; i++) {
		struct ticket *t = &s->tk[i];

		if (t->rc == 0 && t->remaining > 0 && now > t->deadline) {
			t->rc = -ETIMEDOUT;
			snprintf(t->msg, sizeof(t->msg),
				 "the dataplane did not answer within %d ms", SL_SYNC_TIMEOUT_MS);
			s->timed_out++;
		}
	}
}

/* Every waiting ticket fails: the dataplane they were meant for is gone. */
static void
tickets_fail_all(struct sl_sync *s, const char *why)
{
	size_t i;

	for (i = 0; i < s->n_tk; i++)
		if (s->tk[i].rc == 0 && s->tk[i].remaining > 0) {
			s->tk[i].rc = -ENOTCONN;
			snprintf(s->tk[i].msg, sizeof(s->tk[i].msg), "%s", why);
		}
}

/* ---- attach, detach, liveness ---- */

static void
detach(struct sl_sync *s, const char *why)
{
	struct sl_cnc_hdr *h;

	if (s->cnc == NULL)
		return;
	h = sl_cnc_hdr(s->cnc);
	if (__atomic_load_n(&h->control_pid, __ATOMIC_RELAXED) == (int64_t)getpid())
		__atomic_store_n(&h->control_pid, 0, __ATOMIC_RELAXED);
	sl_cnc_close(s->cnc);
	s->cnc = NULL;
	s->q_head = s->q_len = 0;
	s->fl_head = s->fl_len = 0;
	s->synced = 0;
	s->stale = 0;
	tickets_fail_all(s, why);
}

static int
pid_alive(int64_t pid)
{
	return pid > 0 && pid <= INT_MAX && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

static void
try_attach(struct sl_sync *s, uint64_t now)
{
	struct sl_cnc_hdr *h;
	struct stat st;
	uint32_t found;
	int rc;

	s->next_attach = now + SL_SYNC_RETRY_MS * MS;
	if (stat(s->path, &st) < 0)
		return;
	rc = sl_cnc_attach(&s->cnc, s->name, &found);
	if (rc == -EPROTO)
		s->cnc_refused = found ? found : UINT32_MAX;
	if (rc < 0)
		return;
	s->cnc_refused = 0;
	h = sl_cnc_hdr(s->cnc);
	/* A dataplane killed with -9 leaves its region behind: not attached. */
	if (!pid_alive(__atomic_load_n(&h->dp_pid, __ATOMIC_ACQUIRE))) {
		sl_cnc_close(s->cnc);
		s->cnc = NULL;
		return;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->dp_pid = h->dp_pid;
	s->dp_start_ns = h->dp_start_ns;
	s->stale = 0;
	s->need_resync = 1;
	s->resync_not_before = 0;
}

/* Returns 1 when the region must be dropped (and perhaps re-attached). */
static int
region_replaced(struct sl_sync *s)
{
	struct sl_cnc_hdr *h = sl_cnc_hdr(s->cnc);
	struct stat st;

	if (stat(s->path, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino)
		return 1;
	return !pid_alive(__atomic_load_n(&h->dp_pid, __ATOMIC_ACQUIRE));
}

static void
check_liveness(struct sl_sync *s, uint64_t now)
{
	struct sl_cnc_hdr *h = sl_cnc_hdr(s->cnc);
	uint64_t hb;

	if (region_replaced(s)) {
		detach(s, "the dataplane went away before answering; the change is stored and "
			  "will be sent when it is back");
		try_attach(s, now);
		return;
	}
	/* Acquire: pairs with the dataplane's stores of its liveness words. */
	if (__atomic_load_n(&h->dp_pid, __ATOMIC_ACQUIRE) != s->dp_pid ||
	    __atomic_load_n(&h->dp_start_ns, __ATOMIC_ACQUIRE) != s->dp_start_ns) {
		s->dp_pid = h->dp_pid;
		s->dp_start_ns = h->dp_start_ns;
		s->need_resync = 1;
	}
	hb = __atomic_load_n(&h->dp_heartbeat_ns, __ATOMIC_ACQUIRE);
	if (now > hb && now - hb > SL_SYNC_STALE_MS * MS) {
		s->stale = 1;
		s->synced = 0;
	} else if (s->stale) {
		s->stale = 0;
		s->need_resync = 1;
	}
}

void
sl_sync_destroy(struct sl_sync *s)
{
	if (s == NULL)
		return;
	detach(s, "control is shutting down");
	free(s->q);
	free(s->tk);
	free(s);
}

void
sl_sync_request_resync(struct sl_sync *s)
{
	s->need_resync = 1;
	s->resync_not_before = 0;
}

/* ---- command builders ---- */

static void
cmd_init(struct sl_cnc_cmd *c, uint32_t type, uint32_t len)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->len = len;
}

/* The moved mark of a topic (docs/SCALEOUT.md); an address that does not
 * parse (the state file checked it) leaves the mark off. */
static void
moved_to_cnc(struct sl_cnc_topic *c, const struct sl_state_moved *m)
{
	char host[sizeof(m->addr)];
	char *colon, *end;
	unsigned long port;

	snprintf(host, sizeof(host), "%s", m->addr);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return;
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535 || inet_pton(AF_INET, host, c->moved_addr) != 1)
		return;
	c->moved_port = (uint16_t)port;
	c->moved_epoch = m->epoch;
	snprintf(c->moved_pair, sizeof(c->moved_pair), "%s", m->pair);
}

void
sl_sync_cmd_topic(struct sl_cnc_cmd *c, const struct sl_state_topic *t)
{
	cmd_init(c, SL_CNC_TOPIC_UPSERT, sizeof(c->u.topic));
	snprintf(c->u.topic.name, sizeof(c->u.topic.name), "%s", t->name);
	c->u.topic.durability = t->durability;
	c->u.topic.backpressure = t->backpressure;
	c->u.topic.retain_bytes = t->retain_mb << 20;
	c->u.topic.retain_age_s = t->retain_s;
	c->u.topic.capacity_bytes = t->capacity_mb << 20;
	c->u.topic.retransmit_window = t->retx_window;
	c->u.topic.encryption = t->encryption;
	c->u.topic.max_message = t->max_message;
	if (t->moved.pair[0] != '\0')
		moved_to_cnc(&c->u.topic, &t->moved);
}

void
sl_sync_cmd_topic_delete(struct sl_cnc_cmd *c, const char *name)
{
	cmd_init(c, SL_CNC_TOPIC_DELETE, sizeof(c->u.topic));
	snprintf(c->u.topic.name, sizeof(c->u.topic.name), "%s", name);
}

void
sl_sync_cmd_user(struct sl_cnc_cmd *c, const struct sl_state_user *u)
{
	cmd_init(c, SL_CNC_USER_UPSERT, sizeof(c->u.user));
	c->u.user.uid = u->uid;
	c->u.user.flags = (u->admin ? SL_USER_F_ADMIN : 0) | (u->has_key2 ? SL_USER_F_KEY2 : 0);
	c->u.user.encryption = u->encryption;
	snprintf(c->u.user.name, sizeof(c->u.user.name), "%s", u->name);
	memcpy(c->u.user.key, u->key, sizeof(c->u.user.key));
	if (u->has_key2)
		memcpy(c->u.user.key2, u->key2, sizeof(c->u.user.key2));
}

void
sl_sync_cmd_user_delete(struct sl_cnc_cmd *c, const struct sl_state_user *u)
{
	cmd_init(c, SL_CNC_USER_DELETE, sizeof(c->u.user));
	c->u.user.uid = u->uid;
	snprintf(c->u.user.name, sizeof(c->u.user.name), "%s", u->name);
}

void
sl_sync_cmd_acl_clear(struct sl_cnc_cmd *c, uint16_t uid)
{
	cmd_init(c, SL_CNC_ACL_CLEAR, sizeof(c->u.acl));
	c->u.acl.uid = uid;
}

void
sl_sync_cmd_acl_set(struct sl_cnc_cmd *c, uint16_t uid, const char *pattern, uint16_t perms,
		    const char *group)
{
	cmd_init(c, SL_CNC_ACL_SET, sizeof(c->u.acl));
	c->u.acl.uid = uid;
	c->u.acl.perms = perms;
	snprintf(c->u.acl.pattern, sizeof(c->u.acl.pattern), "%s", pattern);
	if (group != NULL)
		snprintf(c->u.acl.group, sizeof(c->u.acl.group), "%s", group);
}

void
sl_sync_cmd_group(struct sl_cnc_cmd *c, const struct sl_state_group *g)
{
	cmd_init(c, SL_CNC_GROUP_UPSERT, sizeof(c->u.group));
	snprintf(c->u.group.topic, sizeof(c->u.group.topic), "%s", g->topic);
	snprintf(c->u.group.name, sizeof(c->u.group.name), "%s", g->name);
	snprintf(c->u.group.dead_letter, sizeof(c->u.group.dead_letter), "%s", g->dead_letter);
	c->u.group.policy = g->policy;
	c->u.group.flags = g->flags;
	c->u.group.ack_wait_ms = g->ack_wait_ms;
	c->u.group.max_deliveries = g->max_deliveries;
	c->u.group.grace_ms = g->grace_ms;
	c->u.group.max_inflight = g->max_inflight;
}

void
sl_sync_cmd_group_delete(struct sl_cnc_cmd *c, const char *topic, const char *name)
{
	cmd_init(c, SL_CNC_GROUP_DELETE, sizeof(c->u.group));
	snprintf(c->u.group.topic, sizeof(c->u.group.topic), "%s", topic);
	snprintf(c->u.group.name, sizeof(c->u.group.name), "%s", name);
}

void
sl_sync_cmd_group_reset(struct sl_cnc_cmd *c, const char *topic, const char *name, uint32_t how,
			uint64_t arg)
{
	sl_sync_cmd_group_delete(c, topic, name);
	c->type = SL_CNC_GROUP_RESET;
	c->u.group.reset_how = how;
	c->u.group.reset_arg = arg;
}

void
sl_sync_cmd_value(struct sl_cnc_cmd *c, uint32_t type, uint32_t value)
{
	cmd_init(c, type, sizeof(c->u.value));
	c->u.value = value;
}

/* ---- queue ---- */

static int
enqueue(struct sl_sync *s, const struct sl_cnc_cmd *c, int64_t ticket)
{
	struct qcmd *q;
	size_t cap;

	if (s->q_head > 0 && s->q_head + s->q_len == s->q_cap) {
		memmove(s->q, s->q + s->q_head, s->q_len * sizeof(*s->q));
		s->q_head = 0;
	}
	if (s->q_head + s->q_len == s->q_cap) {
		cap = s->q_cap ? s->q_cap * 2 : 64;
		q = realloc(s->q, cap * sizeof(*q));
		if (q == NULL)
			return -ENOMEM;
		s->q = q;
		s->q_cap = cap;
	}
	s->q[s->q_head + s->q_len].cmd = *c;
	s->q[s->q_head + s->q_len].ticket = ticket;
	s->q_len++;
	return 0;
}

int64_t
sl_sync_submit(struct sl_sync *s, const struct sl_cnc_cmd *cmds, size_t n, uint64_t now)
{
	struct ticket *t;
	size_t i, cap;

	if (s->cnc == NULL || n == 0)
		return 0;
	if (s->q_len + n > SL_SYNC_MAX_QUEUE)
		return -ENOSPC;
	if (s->n_tk == s->cap_tk) {
		cap = s->cap_tk ? s->cap_tk * 2 : 16;
		t = realloc(s->tk, cap * sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		s->tk = t;
		s->cap_tk = cap;
	}
	t = &s->tk[s->n_tk++];
	memset(t, 0, sizeof(*t));
	t->id = s->next_ticket++;
	t->remaining = n;
	t->deadline = now + SL_SYNC_TIMEOUT_MS * MS;
	for (i = 0; i < n; i++)
		if (enqueue(s, &cmds[i], t->id) < 0) {
			/* Those already queued run; nobody waits for them. */
			s->n_tk--;
			return -ENOMEM;
		}
	return t->id;
}

/* ---- resync ---- */

/* Every ACL entry of @u, as it is: no ACL_CLEAR, which would leave the
 * user without permissions until the entries followed. The dataplane
 * stages the resync and drops, at SYNC_END, the entries not resent. */
static void
resync_user(struct sl_sync *s, const struct sl_state *st, const struct sl_state_user *u)
{
	struct sl_cnc_cmd c;
	size_t i;

	for (i = 0; i < st->n_acls; i++)
		if (strcmp(st->acls[i].user, u->name) == 0) {
			sl_sync_cmd_acl_set(&c, u->uid, st->acls[i].pattern, st->acls[i].perms,
					    st->acls[i].group);
			enqueue(s, &c, TICKET_SYNC);
		}
}

/*
 * The policy settings an operator set through control, and only those: a
 * setting never set is the dataplane's own (its configuration), and a
 * control with fresh state must not replace it with a default. Auth is
 * only ever raised here: required -> open is the operator's explicit
 * policy.set alone, never a resync (the dataplane refuses it inside one).
 */
static void
resync_policy(struct sl_sync *s, const struct sl_state_policy *p)
{
	struct sl_cnc_cmd c;

	if ((p->set & SL_STATE_POLICY_F_AUTH) && p->auth_required) {
		sl_sync_cmd_value(&c, SL_CNC_AUTH_MODE, 1);
		enqueue(s, &c, TICKET_SYNC);
	}
	if (p->set & SL_STATE_POLICY_F_IDLE) {
		sl_sync_cmd_value(&c, SL_CNC_SET_IDLE, p->idle_backoff);
		enqueue(s, &c, TICKET_SYNC);
	}
	if (p->set & SL_STATE_POLICY_F_RATE) {
		sl_sync_cmd_value(&c, SL_CNC_SET_RATE, p->rate_limit);
		enqueue(s, &c, TICKET_SYNC);
	}
}

static void
start_resync(struct sl_sync *s, const struct sl_state *st, uint64_t now)
{
	struct sl_cnc_cmd c;
	size_t i;

	s->gen = now > s->gen ? now : s->gen + 1;
	s->need_resync = 0;
	s->synced = 0;
	s->syncs++;
	cmd_init(&c, SL_CNC_SYNC_BEGIN, sizeof(c.u.generation));
	c.u.generation = s->gen;
	enqueue(s, &c, TICKET_SYNC);
	for (i = 0; i < st->n_users; i++) {
		sl_sync_cmd_user(&c, &st->users[i]);
		enqueue(s, &c, TICKET_SYNC);
	}
	for (i = 0; i < st->n_users; i++)
		resync_user(s, st, &st->users[i]);
	resync_policy(s, &st->policy);
	for (i = 0; i < st->n_topics; i++) {
		struct sl_cnc_cmd parts[SL_MAX_PARTITIONS + 1];
		size_t k, n = sl_state_topic_cmds(&st->topics[i], SL_CNC_TOPIC_UPSERT, parts,
						  SL_MAX_PARTITIONS + 1);

		for (k = 0; k < n; k++)
			enqueue(s, &parts[k], TICKET_SYNC);
	}
	/* After the topics they belong to; an upsert with the same settings
	 * changes nothing, so a group the dataplane kept (or reloaded from its
	 * saved spec) keeps its members and position. */
	for (i = 0; i < st->n_groups; i++) {
		struct sl_cnc_cmd parts[SL_MAX_PARTITIONS];
		size_t k, n;

		sl_sync_cmd_group(&c, &st->groups[i]);
		n = sl_state_group_cmds(st, &c, parts, SL_MAX_PARTITIONS);

		for (k = 0; k < n; k++)
			enqueue(s, &parts[k], TICKET_SYNC);
	}
	cmd_init(&c, SL_CNC_SYNC_END, sizeof(c.u.generation));
	c.u.generation = s->gen;
	enqueue(s, &c, TICKET_SYNC);
	memset(&c, 0, sizeof(c)); /* a key passed through */
}

/* ---- ring traffic ---- */

static int
push_queued(struct sl_sync *s, uint64_t now)
{
	struct inflight *f;
	struct qcmd *q;
	uint64_t id;
	int n = 0;

	while (s->q_len > 0 && s->fl_len < INFLIGHT_MAX) {
		q = &s->q[s->q_head];
		if (sl_cnc_cmd_push(s->cnc, &q->cmd, &id) < 0)
			break;
		f = &s->fl[(s->fl_head + s->fl_len++) % INFLIGHT_MAX];
		f->id = id;
		f->deadline = now + SL_SYNC_TIMEOUT_MS * MS;
		f->ticket = q->ticket;
		f->type = q->cmd.type;
		if (f->type == SL_CNC_SYNC_END)
			s->sync_end_id = id;
		memset(&q->cmd, 0, sizeof(q->cmd));
		s->q_head++;
		s->q_len--;
		s->sent++;
		n++;
	}
	if (s->q_len == 0)
		s->q_head = 0;
	return n;
}

static void
inflight_done(struct sl_sync *s, int rc, const char *why)
{
	struct inflight *f = &s->fl[s->fl_head];
	char msg[160];

	/* Deleting what the dataplane does not hold reaches what was asked. */
	if (rc == -ENOENT && (f->type == SL_CNC_TOPIC_DELETE || f->type == SL_CNC_GROUP_DELETE))
		rc = 0;
	if (rc < 0) {
		s->failed++;
		snprintf(msg, sizeof(msg), "the dataplane refused: %s (%s)", why, strerror(-rc));
	}
	if (f->ticket == TICKET_SYNC && f->type == SL_CNC_SYNC_END && f->id == s->sync_end_id) {
		s->synced = rc == 0;
		s->syncs_completed += rc == 0;
	}
	ticket_note(s, f->ticket, rc, rc < 0 ? msg : "");
	s->fl_head = (s->fl_head + 1) % INFLIGHT_MAX;
	s->fl_len--;
}

static int
take_results(struct sl_sync *s)
{
	struct sl_cnc_result r;
	int n = 0;

	while (sl_cnc_result_pop(s->cnc, &r) == 1) {
		n++;
		/* Results come in command order; an older id than the oldest we
		 * wait for answers a command of an earlier control process. */
		while (s->fl_len > 0 && s->fl[s->fl_head].id < r.id)
			inflight_done(s, -EPROTO, "no result for this command");
		if (s->fl_len == 0 || s->fl[s->fl_head].id != r.id)
			continue;
		if (r.rc > 0 || r.rc < -4095)
			r.rc = -EPROTO;
		inflight_done(s, r.rc, r.message[0] ? r.message : "no reason given");
	}
	return n;
}

static void
inflight_expire(struct sl_sync *s, uint64_t now)
{
	while (s->fl_len > 0 && now > s->fl[s->fl_head].deadline) {
		if (s->fl[s->fl_head].ticket == TICKET_SYNC) {
			/* A resync nobody answered: send it all again later. */
			s->need_resync = 1;
			s->resync_not_before = now + SL_SYNC_STALE_MS * MS;
		}
		s->timed_out++;
		ticket_note(s, s->fl[s->fl_head].ticket, -ETIMEDOUT,
			    "the dataplane did not answer within 1000 ms");
		s->fl_head = (s->fl_head + 1) % INFLIGHT_MAX;
		s->fl_len--;
	}
}

int
sl_sync_tick(struct sl_sync *s, const struct sl_state *st, uint64_t now)
{
	struct sl_cnc_hdr *h;
	int n = 0;

	if (s->cnc == NULL && now >= s->next_attach)
		try_attach(s, now);
	if (s->cnc != NULL)
		check_liveness(s, now);
	if (s->cnc != NULL) {
		h = sl_cnc_hdr(s->cnc);
		/* Relaxed: a liveness hint for the dataplane and tools, no data
		 * is published with it. */
		__atomic_store_n(&h->control_pid, (int64_t)getpid(), __ATOMIC_RELAXED);
		__atomic_store_n(&h->control_heartbeat_ns, now, __ATOMIC_RELAXED);
		if (s->need_resync && !s->stale && now >= s->resync_not_before)
			start_resync(s, st, now);
		n += take_results(s);
		n += push_queued(s, now);
		inflight_expire(s, now);
	}
	tickets_expire(s, now);
	return n;
}

void
sl_sync_status(const struct sl_sync *s, uint64_t now, struct sl_sync_status *out)
{
	uint64_t hb;

	memset(out, 0, sizeof(*out));
	out->syncs = s->syncs;
	out->syncs_completed = s->syncs_completed;
	out->cmds_sent = s->sent;
	out->cmds_failed = s->failed;
	out->cmds_timed_out = s->timed_out;
	out->cnc_refused = s->cnc_refused;
	if (s->cnc == NULL)
		return;
	hb = __atomic_load_n(&sl_cnc_hdr(s->cnc)->dp_heartbeat_ns, __ATOMIC_ACQUIRE);
	out->attached = 1;
	out->stale = s->stale;
	out->synced = s->synced;
	out->dp_pid = s->dp_pid;
	out->dp_start_ns = s->dp_start_ns;
	out->heartbeat_age_ms = now > hb ? (now - hb) / MS : 0;
}

int
sl_sync_counters(struct sl_sync *s, struct sl_ctrs_view *v)
{
	if (s->cnc == NULL)
		return -ENOTCONN;
	return sl_ctrs_view_take(sl_cnc_ctrs(s->cnc), sl_cnc_ctrs_size(s->cnc), v);
}
