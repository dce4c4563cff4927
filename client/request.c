/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice requests: one request in flight, resent until answered, with deliveries that
 * race it stashed; resolve and subscribe. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/filter.h>

#include "client_internal.h"
#include "reorder.h"

void
sl_cl_pend_finish(struct pending *p, int rc)
{
	p->done = true;
	p->rc = rc;
}

bool
sl_cl_req_match(const struct pending *p, uint32_t req_id)
{
	return p->kind == PEND_REQ && !p->done && p->req_id == req_id;
}

int
sl_cl_error_to_errno(uint16_t code)
{
	switch (code) {
	case SL_E_UNKNOWN_TOPIC:
		return -ENOENT;
	case SL_E_TOPIC_TABLE_FULL:
	case SL_E_SUB_TABLE_FULL:
		return -ENOSPC;
	case SL_E_BAD_NAME:
	case SL_E_BAD_HEADERS:
		return -EINVAL;
	case SL_E_NO_SESSION:
		return -ENOTCONN;
	case SL_E_NO_JOURNAL:
		return -EOPNOTSUPP;
	case SL_E_REPLAY_BUSY:
		return -EBUSY; /* unlike SL_E_BUSY, left to the caller to retry */
	case SL_E_DENIED:
		return -EPERM;
	case SL_E_AUTH_REQUIRED:
	case SL_E_AUTH_FAILED:
	case SL_E_ENCRYPTION_REQUIRED:
		return -EACCES;
	case SL_E_FENCED:
		return -EPERM;
	case SL_E_PRODUCER_TABLE_FULL:
	case SL_E_GROUP_FULL:
		return -ENOSPC;
	case SL_E_NO_GROUP:
		return -ESRCH;
	case SL_E_VERSION:
		return -EPROTONOSUPPORT;
	case SL_E_MOVED:
		return -EREMCHG; /* sl_client_moved names where it went */
	default:
		return -EPROTO;
	}
}

/*
 * The stash: deliveries read while a request waits cannot reach the
 * application (its callback runs only in sl_client_poll), and the reply
 * may be behind them, so they are kept, every one of them: a ring of
 * copies that doubles as needed. Past STASH_MAX_BYTES the request reads
 * no more (wait_drain) and ends -ENOBUFS; what it left unread stays where
 * it was (the shared-memory ring, whose back-pressure then applies, or the
 * socket's buffer, past which the kernel drops and NAK recovers).
 */
static int
stash_grow(struct sl_client *c)
{
	unsigned int cap = c->stash_cap ? c->stash_cap * 2 : STASH_SLOTS;
	struct stashed *n;
	unsigned int i;

	n = malloc(cap * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	for (i = 0; i < c->stash_n; i++)
		n[i] = c->stash[(c->stash_head + i) & (c->stash_cap - 1)];
	free(c->stash);
	c->stash = n;
	c->stash_cap = cap;
	c->stash_head = 0;
	return 0;
}

/* Keep the first @len bytes of @d. -ENOMEM: not kept (counted). */
static int
stash_put(struct sl_client *c, const struct dgram *d, size_t len, unsigned int ndeliver)
{
	struct stashed *s;
	uint8_t *copy;

	if (c->stash_n == c->stash_cap && stash_grow(c) < 0)
		goto nomem;
	/* A copy even of a record in the big receive buffer: the next large
	 * record needs that buffer, and the reply may be behind it. */
	copy = malloc(len);
	if (copy == NULL)
		goto nomem;
	memcpy(copy, sl_cl_dgram_bytes(d), len);
	s = &c->stash[(c->stash_head + c->stash_n) & (c->stash_cap - 1)];
	s->bytes = copy;
	s->len = (uint32_t)len;
	s->off = d->off; /* after a seal's header */
	s->sealed = d->sealed;
	c->stash_n++;
	c->stash_bytes += len;
	return 0;

nomem:
	/* Only when the process is out of memory: counted, and over UDP a
	 * hole the reorder buffer NAKs like any loss in transit. */
	c->st.stash_drops += ndeliver;
	return -ENOMEM;
}

void
sl_cl_stash_pop(struct sl_client *c)
{
	struct stashed *s = &c->stash[c->stash_head];

	c->stash_bytes -= s->len;
	free(s->bytes);
	s->bytes = NULL;
	c->stash_head = (c->stash_head + 1) & (c->stash_cap - 1);
	c->stash_n--;
}

void
sl_cl_stash_clear(struct sl_client *c, bool free_ring)
{
	while (c->stash_n > 0)
		sl_cl_stash_pop(c);
	if (free_ring) {
		free(c->stash);
		c->stash = NULL;
		c->stash_cap = 0;
	}
}

/* A datagram read while a request waits: act on control frames now, keep deliveries. */
static void
rx_waiting(struct sl_client *c, struct dgram *d)
{
	struct sl_frame f;
	size_t off = d->off;
	size_t end = 0;
	unsigned int ndeliver = 0;
	int rc;

	c->rx_sealed = d->sealed;
	while ((rc = sl_proto_next(sl_cl_dgram_bytes(d), d->len, &off, &f)) == 1) {
		end = off;
		if (!sl_cl_rx_frame_ok(c, d, &f, false))
			continue; /* left in the stash copy; skipped there quietly */
		if (f.hdr->type == SL_FT_DELIVER || f.hdr->type == SL_FT_DELIVER_FRAG ||
		    f.hdr->type == SL_FT_GDELIVER)
			ndeliver++;
		else
			sl_cl_rx_control(c, &f);
	}
	c->rx_sealed = false;
	if (rc < 0)
		c->st.bad_frames++;
	if (ndeliver > 0)
		(void)stash_put(c, d, end, ndeliver);
}

static int
wait_drain(struct sl_client *c)
{
	ssize_t n;
	int i;

	for (i = 0; i < WAIT_DRAIN_MAX && !c->pend.done; i++) {
		if (c->stash_bytes >= STASH_MAX_BYTES)
			return -ENOBUFS; /* poll first: nothing more is read */
		if (c->shm.r) {
			n = sl_cl_shm_recv(c, &c->wbuf);
			if (n <= 0)
				return (int)n;
			c->wbuf.len = (uint32_t)n;
			c->wbuf.off = 0;
			c->wbuf.sealed = false; /* shared memory is never sealed */
			rx_waiting(c, &c->wbuf);
			sl_cl_dgram_done(c, &c->wbuf); /* unless the stash kept it */
			continue;
		}
		n = recv(c->fd, c->wbuf.data, sizeof(c->wbuf.data), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			return sl_cl_rx_error_transient(errno) ? 0 : -errno;
		if ((size_t)n > sizeof(c->wbuf.data)) {
			c->st.bad_frames++; /* larger than any v1 peer sends */
			continue;
		}
		c->wbuf.len = (uint32_t)n;
		if (!sl_cl_rx_open(c, &c->wbuf) || c->wbuf.len == 0)
			continue;
		c->rc.last_rx_ns = sl_now_ns();
		rx_waiting(c, &c->wbuf);
	}
	return 0;
}

/*
 * Send @frame (@len bytes) every RESEND_NS until c->pend completes or
 * @deadline passes; each send is sealed anew.
 */
int
sl_cl_request_run(struct sl_client *c, const void *frame, size_t len, uint64_t deadline)
{
	uint64_t now = sl_now_ns();
	uint64_t next_tx = now;
	int rc = 0;

	while (!c->pend.done) {
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		if (now >= next_tx) {
			rc = sl_cl_tx_frame(c, frame, len);
			if (rc < 0 && rc != -EAGAIN && rc != -ECONNREFUSED)
				break;
			next_tx = now + RESEND_NS;
		}
		rc = sl_cl_wait_readable(c, (next_tx < deadline ? next_tx : deadline) - now);
		if (rc > 0)
			rc = wait_drain(c);
		if (rc < 0 && rc != -EINTR)
			break;
		rc = 0;
		now = sl_now_ns();
	}
	if (c->pend.done)
		rc = c->pend.rc;
	c->pend.kind = PEND_NONE;
	return rc;
}

static int
request(struct sl_client *c, const void *frame, size_t len)
{
	return sl_cl_request_run(c, frame, len, sl_now_ns() + c->timeout_ns);
}

/* Claim a request id (never 0, which ERROR uses for "no request"). */
void
sl_cl_pend_start(struct sl_client *c, uint8_t type)
{
	if (++c->next_req_id == 0)
		c->next_req_id = 1;
	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_REQ;
	c->pend.type = type;
	c->pend.req_id = c->next_req_id;
}

int
sl_cl_resolve_raw(struct sl_client *c, const char *name, int create, uint32_t *topic_id)
{
	uint64_t f[FRAME_ROOM(sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME) / 8];
	int len;
	int rc;

	sl_cl_pend_start(c, SL_FT_RESOLVE);
	len = sl_proto_put_resolve(f, sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME, c->session,
				   c->pend.req_id, name,
				   strnlen(name, SL_MAX_TOPIC_NAME + 1),
				   (create ? SL_RESOLVE_F_CREATE : 0) | SL_RESOLVE_F_PARTS);
	if (len < 0) {
		c->pend.kind = PEND_NONE;
		return len == -ENOSPC ? -EINVAL : len;
	}
	rc = request(c, f, (size_t)len);
	if (rc == 0)
		*topic_id = c->pend.value;
	return rc;
}

/* The TOPIC answering a RESOLVE by id: its name into c->pend. */
int
sl_cl_name_take(struct sl_client *c, const struct sl_frame *f)
{
	const char *name;
	int n = sl_proto_topic_name(f->hdr, f->len, &name);

	if (n < 0)
		return -EPROTO;
	memcpy(c->pend.name, name, (size_t)n);
	c->pend.name[n] = '\0';
	c->pend.name_len = (uint16_t)n;
	return 0;
}

static int
topic_name_raw(struct sl_client *c, uint32_t wire_id)
{
	uint64_t f[FRAME_ROOM(sizeof(struct sl_resolve) + 16) / 8];
	char digits[11];
	int n = sl_proto_topic_id_str(digits, wire_id);
	int len;
	int rc;

	sl_cl_pend_start(c, SL_FT_RESOLVE);
	c->pend.want_name = true;
	len = sl_proto_put_resolve(f, sizeof(f), c->session, c->pend.req_id, digits, (size_t)n,
				   SL_RESOLVE_F_NAME);
	if (len < 0) {
		c->pend.kind = PEND_NONE;
		return -EINVAL;
	}
	rc = request(c, f, (size_t)len);
	/* Only the id asked for: never a name some other answer carried. */
	if (rc == 0 && c->pend.value != wire_id)
		rc = -EPROTO;
	return rc;
}

int
sl_client_topic_name(struct sl_client *c, uint32_t topic_id, char *buf, size_t cap)
{
	int rc;

	if (c == NULL || buf == NULL || cap == 0 || topic_id == SL_TOPIC_INVALID)
		return -EINVAL;
	rc = sl_cl_ready(c);
	if (rc < 0)
		return rc;
	/* A broker without it would take the digits for a topic's name. */
	if (!(c->features & SL_FEAT_TOPIC_NAME))
		return -EOPNOTSUPP;
	rc = topic_name_raw(c, sl_cl_topic_to_broker(c, topic_id));
	if (sl_cl_again(c, rc)) {
		if (!(c->features & SL_FEAT_TOPIC_NAME))
			return -EOPNOTSUPP; /* reconnected to an older broker */
		rc = topic_name_raw(c, sl_cl_topic_to_broker(c, topic_id));
	}
	if (rc < 0)
		return rc;
	if ((size_t)c->pend.name_len + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(buf, c->pend.name, (size_t)c->pend.name_len + 1);
	return c->pend.name_len;
}

/* A request from the application while the session is down: one attempt
 * to reconnect now, whatever the backoff says. */
int
sl_cl_ready(struct sl_client *c)
{
	if (c->rc.down) {
		c->rc.next_ns = 0;
		(void)sl_cl_tick(c, sl_now_ns());
	}
	return c->dead || c->rc.down ? -ENOTCONN : 0;
}

/* The session was lost while the request waited (the broker expired it,
 * say, while the application was busy elsewhere): reconnect now and ask
 * once more, in the new session. */
bool
sl_cl_again(struct sl_client *c, int rc)
{
	return rc == -ENOTCONN && c->rc.down && !c->dead && sl_cl_ready(c) == 0;
}

int
sl_client_resolve(struct sl_client *c, const char *name, int create, uint32_t *topic_id)
{
	uint32_t id;
	int rc;

	if (name == NULL || topic_id == NULL)
		return -EINVAL;
	rc = sl_cl_ready(c);
	if (rc < 0)
		return rc;
	rc = sl_cl_resolve_raw(c, name, create, &id);
	if (sl_cl_again(c, rc))
		rc = sl_cl_resolve_raw(c, name, create, &id);
	if (rc == 0) {
		*topic_id = sl_cl_recon_resolved(c, name, create, id);
		rc = sl_cl_parts_resolved(c, name, *topic_id);
	}
	return rc;
}

int
sl_cl_producer_bind(struct sl_client *c)
{
	uint64_t f[FRAME_ROOM(sizeof(struct sl_producer) + SL_MAX_PRODUCER_NAME) / 8];
	struct sl_producer *r = (struct sl_producer *)f;
	size_t n = strlen(c->prod.name);
	uint64_t deadline = sl_now_ns() + c->timeout_ns;
	int rc;

	sl_cl_pend_start(c, SL_FT_PRODUCER);
	memset(r, 0, sizeof(*r));
	sl_proto_hdr_init(&r->h, SL_FT_PRODUCER, 0, (uint32_t)(sizeof(*r) + n), c->session);
	r->req_id = c->pend.req_id;
	r->name_len = (uint16_t)n;
	r->epoch = c->prod.epoch; /* 0: a new instance; else resume this one */
	memcpy(r + 1, c->prod.name, n);
	/*
	 * A broker that never answered PRODUCER may not take it at all, and
	 * drops it without counting it as a sign of life: give up before the
	 * session could expire (3 heartbeat intervals), and publish as in
	 * version 1. Four tries survive heavy loss.
	 */
	if (c->prod.epoch == 0 && c->timeout_ns > PRODUCER_PROBE_NS)
		deadline = sl_now_ns() + PRODUCER_PROBE_NS;
	rc = sl_cl_request_run(c, r, sizeof(*r) + n, deadline);
	if (rc == 0) {
		c->prod.bound = true;
		c->prod.epoch = c->pend.epoch;
		c->prod.id = c->pend.id;
		c->st.producer_id = c->prod.id;
		c->st.producer_epoch = c->prod.epoch;
	} else if (rc == -EPERM && c->st.last_error == SL_E_FENCED && !c->prod.fenced) {
		c->prod.fenced = true;
		sl_cl_event(c, SL_EV_FENCED, 0, 0, 0, SL_E_FENCED);
	}
	return rc;
}

/* A SUBSCRIBE (or UNSUBSCRIBE) frame, with filter @filter when @flen. */
static int
subscribe_frame(struct sl_client *c, uint8_t type, uint32_t topic_id, uint16_t flags,
		uint64_t start, const uint8_t *filter, uint16_t flen)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_subscribe) + SL_MAX_FILTER_LEN) / 8];
	struct sl_subscribe *s = (struct sl_subscribe *)buf;

	if (topic_id == SL_TOPIC_INVALID)
		return -ENOENT;
	if (flen > SL_MAX_FILTER_LEN)
		return -EINVAL;
	if (flen)
		flags |= SL_SUB_F_FILTER;
	memset(s, 0, sizeof(*s));
	sl_cl_pend_start(c, type);
	sl_proto_hdr_init(&s->h, type, flags, (uint32_t)sizeof(*s) + flen, c->session);
	s->req_id = c->pend.req_id;
	s->topic_id = topic_id;
	s->start = start;
	s->window = sl_cl_reorder_window(c); /* the initial credit, over UDP */
	s->reserved = 0;
	if (flen)
		memcpy(s + 1, filter, flen);
	return request(c, s, sizeof(*s) + flen);
}

int
sl_cl_subscribe_raw(struct sl_client *c, uint8_t type, uint32_t topic_id, uint16_t flags,
		    uint64_t start)
{
	return subscribe_frame(c, type, topic_id, flags, start, NULL, 0);
}

int
sl_cl_subscribe_filtered(struct sl_client *c, uint32_t topic_id, uint16_t flags,
			 uint64_t start, const uint8_t *filter, uint16_t flen)
{
	return subscribe_frame(c, SL_FT_SUBSCRIBE, topic_id, flags, start, filter, flen);
}

static int
sub_request(struct sl_client *c, uint8_t type, uint32_t topic_id, uint16_t flags,
	    uint64_t start, const uint8_t *filter, uint16_t flen)
{
	int rc = sl_cl_ready(c);

	if (rc < 0)
		return rc;
	if (topic_id == SL_TOPIC_INVALID)
		return -ENOENT;
	rc = subscribe_frame(c, type, sl_cl_topic_to_broker(c, topic_id), flags, start, filter,
			     flen);
	if (sl_cl_again(c, rc))
		rc = subscribe_frame(c, type, sl_cl_topic_to_broker(c, topic_id), flags, start,
				     filter, flen);
	if (rc == 0) {
		sl_cl_recon_sub(c, topic_id, flags, start, type == SL_FT_UNSUBSCRIBE);
		sl_cl_recon_sub_filter(c, topic_id, filter, flen);
	}
	return rc;
}

int
sl_client_subscribe_pattern(struct sl_client *c, const char *pattern, int unsubscribe)
{
	int rc;

	if (pattern == NULL)
		return -EINVAL;
	rc = sl_cl_ready(c);
	if (rc < 0)
		return rc;
	rc = sl_cl_psubscribe_raw(c, pattern, unsubscribe);
	if (sl_cl_again(c, rc))
		rc = sl_cl_psubscribe_raw(c, pattern, unsubscribe);
	if (rc == 0)
		sl_cl_recon_pattern(c, pattern, unsubscribe != 0);
	return rc;
}

int
sl_cl_psubscribe_raw(struct sl_client *c, const char *pattern, int unsubscribe)
{
	uint64_t f[FRAME_ROOM(sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME) / 8];
	int len;

	sl_cl_pend_start(c, unsubscribe ? SL_FT_PUNSUBSCRIBE : SL_FT_PSUBSCRIBE);
	len = sl_proto_put_psubscribe(f, sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME,
				      c->session, c->pend.req_id, pattern,
				      strnlen(pattern, SL_MAX_TOPIC_NAME + 1), unsubscribe);
	if (len < 0) {
		c->pend.kind = PEND_NONE;
		return -EINVAL;
	}
	return request(c, f, (size_t)len);
}

static int
subscribe(struct sl_client *c, uint32_t topic_id, uint16_t flags, uint64_t start,
	  const uint8_t *filter, uint16_t flen)
{
	uint16_t from = flags & SL_SUB_F_REPLAY;
	uint32_t parts[SL_MAX_PARTITIONS];
	int rc, i, n;

	/* At most one start point: (x & (x - 1)) clears the lowest bit set. */
	if ((flags & ~SL_SUB_F_REPLAY) != 0 || (from & (from - 1)) != 0)
		return -EINVAL;
	/* A partitioned topic: each of its partitions. */
	n = c->n_parted ? sl_client_partitions(c, topic_id, parts, SL_MAX_PARTITIONS) : 0;
	for (i = 0; i < n; i++) {
		rc = subscribe(c, parts[i], flags, start, filter, flen);
		if (rc < 0)
			return rc;
	}
	if (n > 0)
		return 0;
	if (!(from & (SL_SUB_F_FROM_SEQ | SL_SUB_F_FROM_TIME)))
		start = 0; /* senders write 0 where the field has no meaning */
	rc = sub_request(c, SL_FT_SUBSCRIBE, topic_id, from, start, filter, flen);
	if (rc < 0)
		return rc;
	/*
	 * A new subscription starts wherever the topic or the replay starts:
	 * not a gap. The broker's OK names that sequence (0 from a broker that
	 * does not: then the first DELIVER sets it), so a first message
	 * overtaken by a later one is still waited for. Nothing was delivered
	 * while the request waited (deliveries that raced the OK are stashed
	 * and reach the callback only at the next poll), so resetting now
	 * covers deliveries sent before or after the OK.
	 */
	sl_cl_reorder_reset(c, topic_id, c->pend.seq);
	return 0;
}

int
sl_client_subscribe_from(struct sl_client *c, uint32_t topic_id, uint16_t flags,
			 uint64_t start)
{
	return subscribe(c, topic_id, flags, start, NULL, 0);
}

int
sl_client_subscribe_filter(struct sl_client *c, uint32_t topic_id, uint16_t flags,
			   uint64_t start, const struct sl_filter_clause *clauses, unsigned n)
{
	uint8_t wire[SL_MAX_FILTER_LEN];
	int len;

	if (n == 0)
		return subscribe(c, topic_id, flags, start, NULL, 0);
	len = sl_filter_build(wire, sizeof(wire), clauses, n);
	if (len < 0)
		return -EINVAL;
	if (sl_cl_version(c) < SL_PROTO_V4)
		return c->dead ? -ENOTCONN : -EPROTONOSUPPORT;
	return subscribe(c, topic_id, flags, start, wire, (uint16_t)len);
}

int
sl_client_subscribe(struct sl_client *c, uint32_t topic_id)
{
	return sl_client_subscribe_from(c, topic_id, 0, 0);
}

int
sl_client_unsubscribe(struct sl_client *c, uint32_t topic_id)
{
	uint32_t parts[SL_MAX_PARTITIONS];
	int rc, i, n = c->n_parted ? sl_client_partitions(c, topic_id, parts, SL_MAX_PARTITIONS) : 0;

	for (i = 0; i < n; i++) {
		rc = sl_client_unsubscribe(c, parts[i]);
		if (rc < 0)
			return rc;
	}
	if (n > 0)
		return 0;
	rc = sub_request(c, SL_FT_UNSUBSCRIBE, topic_id, 0, 0, NULL, 0);

	if (rc == 0)
		sl_cl_reorder_unsubscribed(c, topic_id);
	return rc;
}
