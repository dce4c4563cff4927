/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: session set-up, requests with resend, publish and receive, over UDP or
 * shared memory (shm_link.c). */

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <common/auth.h>
#include <common/proto.h>
#include <common/clock.h>
#include <sluice/sluice.h>

#include "shm_link.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

#define RX_BURST 32	     /* datagrams per recvmmsg in sl_client_poll */
#define STASH_SLOTS 512	     /* datagrams with deliveries kept while a request waits */
#define SEQ_SLOTS 256	     /* topics tracked for gap counting; power of two */
#define WAIT_DRAIN_MAX 64    /* datagrams read per wake-up while a request waits */
#define RESEND_NS (200 * NS_PER_MS)
#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_SOCKBUF (4u << 20)
#define DEFAULT_HEARTBEAT_MS 1000u

/* Room for a frame of @n bytes once sealed: padded to 8, then the trailer. */
#define FRAME_ROOM(n) ((((n) + 7u) & ~(size_t)7u) + sizeof(struct sl_auth_trailer))
/* A request_run result: the broker answered HELLO with a CHALLENGE. */
#define HELLO_CHALLENGED 1

_Static_assert(SL_MAX_DATAGRAM % 8 == 0, "datagram buffers are arrays of uint64_t");
_Static_assert(FRAME_ROOM(sizeof(struct sl_publish) + SL_MAX_PAYLOAD) <= SL_MAX_DATAGRAM,
	       "a sealed maximal publish fits the transmit buffer");
_Static_assert((SEQ_SLOTS & (SEQ_SLOTS - 1)) == 0, "SEQ_SLOTS is a power of two");

/* One received datagram; uint64_t storage keeps frames 8-byte aligned for the casts. */
struct dgram {
	uint32_t len;
	uint32_t off; /* where the next unconsumed frame starts */
	uint64_t data[SL_MAX_DATAGRAM / 8];
};

/* Last broker sequence seen on a topic; topic_id 0 marks a free slot. */
struct topic_seq {
	uint32_t topic_id;
	uint64_t last;
};

/*
 * One publish of the window, in the ring slot of its producer sequence.
 * The resending producer will keep what a resend needs beside it.
 */
struct pub_slot {
	uint32_t topic_id;
	uint16_t error;	 /* refusal code; SL_E_NONE otherwise */
	uint8_t state;	 /* enum sl_pub_status */
	uint8_t ack_req; /* sent with SL_PUB_F_ACK_REQ */
};
_Static_assert(sizeof(struct pub_slot) == 8, "sluice.h says 8 bytes a window slot");

/*
 * The publish window (sluice.h, "Acknowledgements"): the state of
 * publishes pub_seq - mask .. pub_seq, in slot[seq & mask]. A slot is
 * reused only once its publish is settled, which the window check in
 * claim guarantees: every unsettled publish is above @settled, and no
 * publish is sent mask + 1 or more past it.
 */
struct pub_window {
	struct pub_slot *slot;
	uint64_t mask;
	uint64_t settled;	/* every publish 1..settled is settled */
	uint64_t acked;		/* every ACK-asking publish 1..acked was acknowledged */
	uint64_t first_refused; /* lowest ACK-asking publish refused; 0 if none */
	sl_settle_fn fn;
	void *arg;
};

enum pend_kind { PEND_NONE, PEND_HELLO, PEND_AUTH, PEND_REQ };

/* The one request/reply exchange in flight; replies are matched against it. */
struct pending {
	enum pend_kind kind;
	uint8_t type; /* frame type of the request */
	bool done;
	int rc;
	uint32_t req_id;
	uint64_t nonce;
	uint32_t value; /* topic id from TOPIC */
};

/*
 * Authentication (sl_client_opts user and key). The user's key itself is
 * never kept: connect derives the proof and the session key from it.
 */
struct auth {
	bool on;	       /* credentials given: HELLO asked to authenticate */
	bool sealing;	       /* WELCOME verified: every frame sent carries a trailer */
	uint32_t pending;      /* session id from CHALLENGE, for AUTH */
	uint32_t bad_welcomes; /* WELCOMEs that failed verification while connecting */
	uint64_t tx_seq;       /* trailer seq of the last frame sealed */
	uint8_t server_nonce[SL_AUTH_NONCE_LEN];
	uint8_t skey[SL_AUTH_SESSION_KEY_LEN];
};

struct sl_client {
	int fd;	   /* UDP socket, or the shared-memory attach socket */
	bool dead; /* broker said the session is gone: every call fails -ENOTCONN */
	struct sl_shm_link shm; /* shm.r set: the shared-memory transport */
	struct sl_publish *claim; /* open sl_client_claim, NULL if none */
	uint32_t session;
	uint32_t max_payload;
	uint32_t next_req_id;
	uint64_t timeout_ns;
	uint64_t hb_ns; /* send something at least this often: half the broker's interval */
	uint64_t last_tx_ns;
	uint64_t pub_seq;
	struct pub_window win;
	struct pending pend;
	struct auth auth;
	struct sl_client_stats st;

	/* Current receive burst: rx[rx_i] is being consumed, rx_n were read. */
	unsigned int rx_i;
	unsigned int rx_n;
	struct mmsghdr rx_msg[RX_BURST];
	struct iovec rx_iov[RX_BURST];
	struct dgram rx[RX_BURST];

	/* Ring of datagrams holding deliveries that arrived while a request waited. */
	unsigned int stash_head;
	unsigned int stash_n;
	struct dgram stash[STASH_SLOTS];

	struct dgram wbuf; /* read buffer while a request waits */
	uint64_t txbuf[SL_MAX_DATAGRAM / 8];
	struct topic_seq seqs[SEQ_SLOTS];
};

uint64_t
sl_now_ns(void)
{
	return sl_mono_ns();
}

static int
tx(struct sl_client *c, const void *buf, size_t len)
{
	if (c->shm.r) {
		if (sl_shm_link_send(&c->shm, buf, (uint32_t)len) < 0)
			return -EAGAIN;
		c->last_tx_ns = sl_now_ns();
		return 0;
	}
	if (send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* ENOBUFS is the kernel's other way of saying the queue is full. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return -EAGAIN;
		return -errno;
	}
	c->last_tx_ns = sl_now_ns();
	return 0;
}

/*
 * Once the session is authenticated, seal @frame (@len bytes, with room for
 * FRAME_ROOM(len)) with the next trailer seq, in place. A resend is sealed
 * again, so it gets a new seq and is no replay. Returns the length to send.
 */
static size_t
seal(struct sl_client *c, void *frame, size_t len)
{
	const uint32_t tlen = sizeof(struct sl_auth_trailer);
	struct sl_hdr *h = frame;
	uint32_t flen;

	if (!c->auth.sealing)
		return len;
	flen = sl_proto_align((uint32_t)len) + tlen;
	/* The MAC covers the padding, so its bytes must be defined. */
	memset((uint8_t *)frame + len, 0, flen - tlen - len);
	if (h->type == SL_FT_PUBLISH)
		((struct sl_publish *)frame)->payload_len =
			(uint32_t)(len - sizeof(struct sl_publish));
	sl_auth_seal(c->auth.skey, frame, flen, ++c->auth.tx_seq);
	return flen;
}

/* Send one frame of @len bytes, sealed when the session is authenticated. */
static int
tx_frame(struct sl_client *c, void *frame, size_t len)
{
	return tx(c, frame, seal(c, frame, len));
}

/* The broker stopped serving this client: every call fails -ENOTCONN, and
 * last_error says why (enum sl_shm_notice @why; 0 when it gave none). */
static void
shm_end(struct sl_client *c, uint32_t why)
{
	c->dead = true;
	c->st.last_error = why == SL_SHM_CUT_SLOW ? SL_E_SLOW_CONSUMER
			   : why == SL_SHM_CUT_CORRUPT ? SL_E_BAD_FRAME : SL_E_NO_SESSION;
}

/* Has the dataplane's end of the attach socket closed? One poll(2), at the
 * heartbeat interval only. */
static bool
shm_broker_gone(const struct sl_client *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

static void
heartbeat_maybe(struct sl_client *c, uint64_t now)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_heartbeat)) / 8];
	struct sl_heartbeat *hb = (struct sl_heartbeat *)buf;

	if (c->session == 0 || c->dead || now - c->last_tx_ns < c->hb_ns)
		return;
	if (c->shm.r && shm_broker_gone(c)) {
		/* The dataplane closed its end of the attach socket: it cut
		 * us off (the notice says why) or died without a word. */
		shm_end(c, sl_shm_link_notice(&c->shm));
		return;
	}
	sl_proto_hdr_init(&hb->h, SL_FT_HEARTBEAT, 0, sizeof(*hb), c->session);
	hb->timestamp = now;
	/* A heartbeat that does not go out is retried on the next poll. */
	(void)tx_frame(c, hb, sizeof(*hb));
}

/* Returns 1 when readable, 0 on timeout, -errno (-EINTR included) on failure. */
static int
wait_readable(const struct sl_client *c, uint64_t ns)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };

	if (c->shm.r)
		return sl_shm_link_wait(&c->shm, ns) || sl_shm_link_notice(&c->shm);
	if (ppoll(&p, 1, &ts, NULL) < 0)
		return -errno;
	return p.revents != 0;
}

static struct topic_seq *
seq_slot(struct sl_client *c, uint32_t topic)
{
	/* Fibonacci hashing: the top bits of the product spread sequential ids. */
	uint32_t i = (topic * 2654435761u) >> 24;
	unsigned int n;

	for (n = 0; n < SEQ_SLOTS; n++, i = (i + 1) & (SEQ_SLOTS - 1)) {
		struct topic_seq *s = &c->seqs[i];

		if (s->topic_id == topic)
			return s;
		if (s->topic_id == SL_TOPIC_INVALID) {
			s->topic_id = topic;
			s->last = 0;
			return s;
		}
	}
	return NULL; /* more topics than slots: gaps go uncounted for this one */
}

static void
deliver(struct sl_client *c, const struct sl_frame *f, sl_deliver_fn fn, void *arg)
{
	const struct sl_deliver *d = (const struct sl_deliver *)f->hdr;
	struct topic_seq *s = NULL;
	struct sl_message m;

	/* A delivery for another session (an earlier client that had this
	 * address and port) is not ours: count it, never pass it on. */
	if (d->h.session != c->session) {
		c->st.bad_frames++;
		return;
	}
	if (d->topic_id != SL_TOPIC_INVALID)
		s = seq_slot(c, d->topic_id);
	if (s != NULL) {
		/* Only forward jumps are gaps; a late or repeated frame fills none. */
		if (s->last != 0 && d->seq > s->last + 1)
			c->st.gaps += d->seq - s->last - 1;
		if (d->seq > s->last)
			s->last = d->seq;
	}
	m.topic_id = d->topic_id;
	m.len = f->body_len;
	m.seq = d->seq;
	m.timestamp = d->timestamp;
	m.data = f->body;
	c->st.delivered++;
	if (fn != NULL)
		fn(arg, &m);
}

static int
win_init(struct pub_window *w, const struct sl_client_opts *o)
{
	uint64_t size = o->ack_window ? o->ack_window : SL_ACK_WINDOW_DEFAULT;

	if (size > SL_ACK_WINDOW_MAX)
		return -EINVAL;
	while (size & (size - 1))
		size += size & -size; /* up to the next power of two */
	w->slot = calloc(size, sizeof(*w->slot));
	if (w->slot == NULL)
		return -ENOMEM;
	w->mask = size - 1;
	w->fn = o->on_settle;
	w->arg = o->settle_arg;
	return 0;
}

/* Is there no room for the next publish: would it be a window or more past
 * the oldest unsettled one, whose slot it would take? */
static bool
win_full(const struct sl_client *c)
{
	return c->pub_seq + 1 - c->win.settled > c->win.mask + 1;
}

/* Move the marks over every settled publish. Each publish is passed once,
 * so this is O(1) per publish over a run, however the answers come. */
static void
win_advance(struct sl_client *c)
{
	struct pub_window *w = &c->win;

	while (w->settled < c->pub_seq) {
		const struct pub_slot *s = &w->slot[(w->settled + 1) & w->mask];

		if (s->state == SL_PUB_OUTSTANDING)
			break;
		w->settled++;
		if (w->first_refused != 0)
			continue;
		if (s->state == SL_PUB_REFUSED && s->ack_req)
			w->first_refused = w->settled;
		else
			w->acked = w->settled;
	}
}

/* Publish c->pub_seq was just sent. */
static void
win_sent(struct sl_client *c, uint32_t topic_id, uint16_t flags)
{
	struct pub_slot *s = &c->win.slot[c->pub_seq & c->win.mask];

	s->topic_id = topic_id;
	s->error = SL_E_NONE;
	s->ack_req = (flags & SL_PUB_F_ACK_REQ) != 0;
	s->state = s->ack_req ? SL_PUB_OUTSTANDING : SL_PUB_NO_ACK;
	if (s->ack_req)
		c->st.pub_outstanding++;
	else
		win_advance(c);
}

/*
 * An ACK (@error SL_E_NONE; @topic_id from the frame) or a refusal (@error
 * its code; @topic_id SL_TOPIC_INVALID: an ERROR names no topic) for
 * publish @seq of @session. Only the first answer to a publish in the
 * window counts; anything else is ignored and counted. A refusal may also
 * come for a publish that asked for no ACK (the broker refuses those too).
 */
static void
win_answer(struct sl_client *c, uint32_t session, uint64_t seq, uint32_t topic_id,
	   uint16_t error)
{
	struct pub_window *w = &c->win;
	struct pub_slot *s;

	if (session != c->session || seq == 0 || seq > c->pub_seq || c->pub_seq - seq > w->mask)
		goto ignored;
	s = &w->slot[seq & w->mask];
	if (error == SL_E_NONE) {
		if (s->state != SL_PUB_OUTSTANDING || s->topic_id != topic_id)
			goto ignored;
		s->state = SL_PUB_ACKED;
		c->st.pub_acked++;
	} else {
		if (s->state != SL_PUB_OUTSTANDING && s->state != SL_PUB_NO_ACK)
			goto ignored;
		s->state = SL_PUB_REFUSED;
		s->error = error;
		c->st.publish_refused++;
	}
	if (s->ack_req)
		c->st.pub_outstanding--;
	if (seq == w->settled + 1)
		win_advance(c);
	if (w->fn != NULL)
		w->fn(w->arg, seq, s->topic_id, error);
	return;

ignored:
	c->st.acks_ignored++;
}

static void
pend_finish(struct pending *p, int rc)
{
	p->done = true;
	p->rc = rc;
}

static bool
req_match(const struct pending *p, uint32_t req_id)
{
	return p->kind == PEND_REQ && !p->done && p->req_id == req_id;
}

static int
error_to_errno(uint16_t code)
{
	switch (code) {
	case SL_E_UNKNOWN_TOPIC:
		return -ENOENT;
	case SL_E_TOPIC_TABLE_FULL:
	case SL_E_SUB_TABLE_FULL:
		return -ENOSPC;
	case SL_E_BAD_NAME:
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
		return -EACCES;
	default:
		return -EPROTO;
	}
}

static bool
handshaking(const struct pending *p)
{
	return (p->kind == PEND_HELLO || p->kind == PEND_AUTH) && !p->done;
}

/*
 * Does the WELCOME @f prove that the broker knows the user's key? Only after
 * AUTH, with SL_WELCOME_F_AUTH and a trailer whose MAC holds under the
 * session key; a plain WELCOME to a client that asked to authenticate would
 * be a downgrade.
 */
static bool
welcome_verified(const struct sl_client *c, const struct sl_frame *f)
{
	uint64_t mac;

	if (c->pend.kind != PEND_AUTH || !(f->hdr->flags & SL_WELCOME_F_AUTH) ||
	    f->trailer == NULL)
		return false;
	mac = sl_auth_frame_mac(c->auth.skey, f->hdr, f->len);
	return sl_auth_memcmp(&mac, &f->trailer->mac, sizeof(mac)) == 0;
}

static void
on_welcome(struct sl_client *c, const struct sl_frame *f)
{
	const struct sl_welcome *w = (const struct sl_welcome *)f->hdr;
	uint32_t hb_ms = w->heartbeat_ms ? w->heartbeat_ms : DEFAULT_HEARTBEAT_MS;

	if (!handshaking(&c->pend) || w->nonce != c->pend.nonce)
		return; /* a reply to someone else's HELLO, or a duplicate */
	if (c->auth.on && !welcome_verified(c, f)) {
		/* Forged or downgraded: wait on for the broker's own WELCOME,
		 * remembering why the connect may fail. */
		c->auth.bad_welcomes++;
		return;
	}
	if (w->session == 0) {
		pend_finish(&c->pend, -EPROTO);
		return;
	}
	/* Shared memory needs no MAC: only this process holds the rings. */
	c->auth.sealing = c->auth.on && c->shm.r == NULL;
	c->session = w->session;
	c->hb_ns = hb_ms * NS_PER_MS / 2;
	c->max_payload = SL_MAX_PAYLOAD;
	if (w->max_payload != 0 && w->max_payload < SL_MAX_PAYLOAD)
		c->max_payload = w->max_payload;
	pend_finish(&c->pend, 0);
}

static void
on_challenge(struct sl_client *c, const struct sl_challenge *ch)
{
	/* Only an answer to our HELLO, and only when we asked to authenticate. */
	if (!c->auth.on || c->pend.kind != PEND_HELLO || c->pend.done ||
	    ch->nonce != c->pend.nonce || ch->h.session == 0)
		return;
	c->auth.pending = ch->h.session;
	memcpy(c->auth.server_nonce, ch->server_nonce, sizeof(c->auth.server_nonce));
	pend_finish(&c->pend, HELLO_CHALLENGED);
}

/* A replay skipped a damaged range of the journal: count it (the range
 * also shows as a jump in seq, which deliver() counts in gaps). */
static void
on_gap(struct sl_client *c, const struct sl_error_gap *g)
{
	if (g->e.h.length < sizeof(*g) || g->first > g->last || g->e.h.session != c->session)
		return;
	c->st.replay_gaps++;
	c->st.replay_gap_seqs += g->last - g->first + 1;
	c->st.gap_topic = (uint32_t)g->e.detail;
	c->st.gap_first = g->first;
	c->st.gap_last = g->last;
}

static void
on_error(struct sl_client *c, const struct sl_error *e)
{
	struct pending *p = &c->pend;

	if (e->code == SL_E_REPLAY_GAP) {
		on_gap(c, (const struct sl_error_gap *)e);
		return; /* a notice about deliveries, not a refusal */
	}
	c->st.errors++;
	c->st.last_error = e->code;
	/* detail 0 names no publish: an ERROR about the session, which a
	 * PUBLISH only happened to trigger (SL_E_NO_SESSION, AUTH_FAILED).
	 * An ERROR saying SL_E_NONE refuses nothing, and acknowledges nothing. */
	if (e->frame_type == SL_FT_PUBLISH && e->detail != 0) {
		if (e->code == SL_E_NONE)
			c->st.acks_ignored++;
		else
			win_answer(c, e->h.session, e->detail, SL_TOPIC_INVALID, e->code);
	}
	if (e->code == SL_E_NO_SESSION && c->session != 0) {
		c->dead = true;
		if (p->kind == PEND_REQ && !p->done)
			pend_finish(p, -ENOTCONN);
		return;
	}
	if (e->code == SL_E_BUSY)
		return; /* the resend loop asks again until the timeout */
	if (e->frame_type == SL_FT_PUBLISH)
		return; /* not an answer to any request, whatever its req_id */
	if (handshaking(p))
		pend_finish(p, e->code == SL_E_AUTH_FAILED || e->code == SL_E_AUTH_REQUIRED ?
			    -EACCES : -EPROTO);
	else if (req_match(p, e->req_id))
		pend_finish(p, error_to_errno(e->code));
}

/* Everything but DELIVER: replies, acks, errors, heartbeat echoes. */
static void
rx_control(struct sl_client *c, const struct sl_frame *f)
{
	const void *h = f->hdr;

	switch (f->hdr->type) {
	case SL_FT_WELCOME:
		on_welcome(c, f);
		break;
	case SL_FT_CHALLENGE:
		on_challenge(c, h);
		break;
	case SL_FT_TOPIC: {
		const struct sl_topic_reply *t = h;

		if (req_match(&c->pend, t->req_id) && c->pend.type == SL_FT_RESOLVE) {
			c->pend.value = t->topic_id;
			pend_finish(&c->pend, t->topic_id != SL_TOPIC_INVALID ? 0 : -EPROTO);
		}
		break;
	}
	case SL_FT_OK:
		if (req_match(&c->pend, ((const struct sl_ok *)h)->req_id) &&
		    c->pend.type != SL_FT_RESOLVE)
			pend_finish(&c->pend, 0);
		break;
	case SL_FT_ACK: {
		const struct sl_ack *a = h;

		c->st.acks++;
		win_answer(c, a->h.session, a->producer_seq, a->topic_id, SL_E_NONE);
		break;
	}
	case SL_FT_ERROR:
		on_error(c, h);
		break;
	case SL_FT_GOODBYE:
		if (c->session != 0)
			c->dead = true;
		break;
	default:
		break; /* heartbeat echoes, and types a broker does not send */
	}
}

/*
 * Walk one datagram from d->off: control frames are handled, DELIVER frames
 * go to @fn until @budget is spent, and d->off keeps the place for the next
 * poll. @replay: a stashed datagram whose control frames were handled when
 * it arrived. Returns the deliveries made.
 */
static int
rx_live(struct sl_client *c, struct dgram *d, bool replay, sl_deliver_fn fn, void *arg,
	int budget)
{
	struct sl_frame f;
	size_t off = d->off;
	size_t at;
	int n = 0;
	int rc;

	for (;;) {
		at = off;
		rc = sl_proto_next(d->data, d->len, &off, &f);
		if (rc == 0)
			break;
		if (rc < 0) {
			/* Frame boundaries past a bad frame cannot be trusted. Stashed
			 * datagrams were cut before theirs, so this counts once. */
			c->st.bad_frames++;
			off = d->len;
			break;
		}
		if (f.hdr->type != SL_FT_DELIVER) {
			if (!replay)
				rx_control(c, &f);
			continue;
		}
		if (n == budget) {
			off = at;
			break;
		}
		deliver(c, &f, fn, arg);
		n++;
	}
	d->off = (uint32_t)off;
	return n;
}

static void
stash_put(struct sl_client *c, const struct dgram *d, size_t len, unsigned int ndeliver)
{
	struct dgram *s;

	if (c->stash_n == STASH_SLOTS) {
		c->st.stash_drops += ndeliver;
		return;
	}
	s = &c->stash[(c->stash_head + c->stash_n) % STASH_SLOTS];
	memcpy(s->data, d->data, len);
	s->len = (uint32_t)len;
	s->off = 0;
	c->stash_n++;
}

/* A datagram read while a request waits: act on control frames now, keep deliveries. */
static void
rx_waiting(struct sl_client *c, const struct dgram *d)
{
	struct sl_frame f;
	size_t off = 0;
	size_t end = 0;
	unsigned int ndeliver = 0;
	int rc;

	while ((rc = sl_proto_next(d->data, d->len, &off, &f)) == 1) {
		end = off;
		if (f.hdr->type == SL_FT_DELIVER)
			ndeliver++;
		else
			rx_control(c, &f);
	}
	if (rc < 0)
		c->st.bad_frames++;
	if (ndeliver > 0)
		stash_put(c, d, end, ndeliver);
}

static bool
rx_error_transient(int err)
{
	/* ECONNREFUSED is an ICMP error from an earlier send: the broker may
	 * not be up yet, which is the same as no answer so far. */
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNREFUSED;
}

/* One record from the broker's rings: its length, 0 if none, -ENOTCONN
 * when the broker stopped serving this client (its notice says why). */
static ssize_t
shm_recv(struct sl_client *c, void *buf, size_t cap)
{
	int n = sl_shm_link_recv(&c->shm, buf, cap);
	uint32_t why;

	if (n == -EMSGSIZE) {
		c->st.bad_frames++; /* larger than any v1 peer sends */
		return 0;
	}
	if (n == -EPROTO) {
		c->st.bad_frames++;
		c->dead = true;
		return -ENOTCONN;
	}
	if (n > 0)
		return n;
	why = sl_shm_link_notice(&c->shm);
	if (why == SL_SHM_SERVED)
		return 0;
	shm_end(c, why);
	return -ENOTCONN;
}

static int
wait_drain(struct sl_client *c)
{
	ssize_t n;
	int i;

	for (i = 0; i < WAIT_DRAIN_MAX && !c->pend.done; i++) {
		if (c->shm.r) {
			n = shm_recv(c, c->wbuf.data, sizeof(c->wbuf.data));
			if (n <= 0)
				return (int)n;
			c->wbuf.len = (uint32_t)n;
			c->wbuf.off = 0;
			rx_waiting(c, &c->wbuf);
			continue;
		}
		n = recv(c->fd, c->wbuf.data, sizeof(c->wbuf.data), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			return rx_error_transient(errno) ? 0 : -errno;
		if ((size_t)n > sizeof(c->wbuf.data)) {
			c->st.bad_frames++; /* larger than any v1 peer sends */
			continue;
		}
		c->wbuf.len = (uint32_t)n;
		c->wbuf.off = 0;
		rx_waiting(c, &c->wbuf);
	}
	return 0;
}

/*
 * Send @frame (@len bytes, room for FRAME_ROOM(len)) every RESEND_NS until
 * c->pend completes or @deadline passes; each send is sealed anew.
 */
static int
request_run(struct sl_client *c, void *frame, size_t len, uint64_t deadline)
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
			rc = tx_frame(c, frame, len);
			if (rc < 0 && rc != -EAGAIN && rc != -ECONNREFUSED)
				break;
			next_tx = now + RESEND_NS;
		}
		rc = wait_readable(c, (next_tx < deadline ? next_tx : deadline) - now);
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
request(struct sl_client *c, void *frame, size_t len)
{
	return request_run(c, frame, len, sl_now_ns() + c->timeout_ns);
}

static int
resolve_host(const char *host, uint16_t port, struct sockaddr_in *sa)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;
	int rc;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	switch (rc) {
	case 0:
		break;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_SYSTEM:
		return -errno;
	default:
		return -ENOENT;
	}
	sa->sin_addr = ((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(ai);
	return 0;
}

static void
sockbuf_set(int fd, int force_opt, int opt, uint32_t bytes)
{
	int v = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;

	/* The FORCE variants pass net.core.[rw]mem_max but need CAP_NET_ADMIN;
	 * without it the plain option is capped by the kernel, which is fine. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

static int
socket_open(struct sl_client *c, const struct sockaddr_in *sa, const struct sl_client_opts *o)
{
	unsigned int i;

	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	sockbuf_set(c->fd, SO_SNDBUFFORCE, SO_SNDBUF, o->sndbuf ? o->sndbuf : DEFAULT_SOCKBUF);
	sockbuf_set(c->fd, SO_RCVBUFFORCE, SO_RCVBUF, o->rcvbuf ? o->rcvbuf : DEFAULT_SOCKBUF);
	/* Connected: the kernel drops datagrams from anyone but the broker. */
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int rc = -errno;

		close(c->fd);
		return rc;
	}
	for (i = 0; i < RX_BURST; i++) {
		c->rx_iov[i].iov_base = c->rx[i].data;
		c->rx_iov[i].iov_len = sizeof(c->rx[i].data);
		c->rx_msg[i].msg_hdr.msg_iov = &c->rx_iov[i];
		c->rx_msg[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

static uint64_t
nonce_new(void)
{
	uint64_t n;

	if (getrandom(&n, sizeof(n), GRND_NONBLOCK) == (ssize_t)sizeof(n))
		return n;
	/* Only has to tell this client's WELCOME from another's. */
	return sl_now_ns() ^ ((uint64_t)getpid() << 32);
}

/*
 * Prove the user's key (AUTH) after a CHALLENGE and wait for a WELCOME that
 * proves the broker knows it too. Only the session key is kept.
 */
static int
auth_run(struct sl_client *c, const struct sl_client_opts *o, uint64_t nonce,
	 uint64_t deadline)
{
	char user[SL_AUTH_USER_LEN] = { 0 };
	struct sl_auth a;
	ssize_t n;
	int rc;

	memset(&a, 0, sizeof(a));
	sl_proto_hdr_init(&a.h, SL_FT_AUTH, 0, sizeof(a), c->auth.pending);
	/* Blocks only before the kernel's pool is first seeded, early in boot. */
	n = getrandom(a.client_nonce, sizeof(a.client_nonce), 0);
	if (n != (ssize_t)sizeof(a.client_nonce))
		return n < 0 ? -errno : -EIO;
	memcpy(user, o->user, strlen(o->user));
	sl_auth_proof(o->key, nonce, c->auth.server_nonce, a.client_nonce, user, a.proof);
	sl_auth_session_key(o->key, c->auth.server_nonce, a.client_nonce, c->auth.skey);

	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_AUTH;
	c->pend.type = SL_FT_AUTH;
	c->pend.nonce = nonce;
	/* AUTH carries no trailer: sealing starts with the verified WELCOME. */
	rc = request_run(c, &a, sizeof(a), deadline);
	explicit_bzero(&a, sizeof(a));
	return rc;
}

/*
 * HELLO until WELCOME, or with credentials HELLO until CHALLENGE then AUTH
 * until WELCOME; both phases share one timeout.
 */
static int
handshake(struct sl_client *c, const struct sl_client_opts *o)
{
	uint64_t deadline = sl_now_ns() + c->timeout_ns;
	const char *name = o->name;
	struct sl_hello h;
	int rc;

	memset(&h, 0, sizeof(h));
	sl_proto_hdr_init(&h.h, SL_FT_HELLO, 0, sizeof(h), 0);
	h.min_version = SL_PROTO_VERSION;
	h.max_version = SL_PROTO_VERSION;
	h.nonce = nonce_new();
	if (c->auth.on) {
		h.caps = SL_CAP_AUTH;
		name = o->user; /* the broker names the session after its user */
	} else if (name == NULL) {
		name = program_invocation_short_name;
	}
	memcpy(h.name, name, strnlen(name, sizeof(h.name)));

	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_HELLO;
	c->pend.type = SL_FT_HELLO;
	c->pend.nonce = h.nonce;
	rc = request_run(c, &h, sizeof(h), deadline);
	if (rc == HELLO_CHALLENGED)
		rc = auth_run(c, o, h.nonce, deadline);
	if (rc == -ETIMEDOUT && c->auth.bad_welcomes > 0) {
		/* Something answered, but never proved it knows the key. */
		c->st.last_error = SL_E_NONE;
		rc = -EACCES;
	}
	return rc;
}

static int
opts_check(const struct sl_client_opts *o)
{
	if (o->host == NULL && o->shm == NULL)
		return -EINVAL;
	if (o->user == NULL && o->key == NULL)
		return 0;
	if (o->user == NULL || o->key == NULL || !sl_auth_user_valid(o->user))
		return -EINVAL;
	return 0;
}

/* Clear secrets. Out of line: inlined into its callers, the builtin trips a
 * false -Wstringop-overflow under the sanitizers. */
static __attribute__((noinline)) void
wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

int
sl_client_connect(struct sl_client **out, const struct sl_client_opts *opts)
{
	struct sockaddr_in sa;
	struct sl_client *c;
	int rc;

	if (out == NULL || opts == NULL)
		return -EINVAL;
	if (opts->last_error != NULL)
		*opts->last_error = SL_E_NONE;
	rc = opts_check(opts);
	if (rc < 0)
		return rc;
	if (opts->shm == NULL) {
		rc = resolve_host(opts->host, opts->port ? opts->port : SL_PROTO_DEFAULT_PORT, &sa);
		if (rc < 0)
			return rc;
	}
	/* Everything the client will need, allocated once: stash and bursts included. */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	rc = win_init(&c->win, opts);
	if (rc < 0)
		goto fail_free;
	c->timeout_ns = (opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS) * NS_PER_MS;
	c->hb_ns = DEFAULT_HEARTBEAT_MS * NS_PER_MS / 2;
	c->auth.on = opts->user != NULL;
	if (opts->shm) {
		rc = c->fd = sl_shm_link_attach(&c->shm, opts->shm,
						opts->user ? opts->user : opts->name, c->timeout_ns);
	} else {
		rc = socket_open(c, &sa, opts);
	}
	if (rc < 0)
		goto fail_free;
	rc = handshake(c, opts);
	if (rc < 0)
		goto fail_close;
	*out = c;
	return 0;

fail_close:
	if (opts->last_error != NULL)
		*opts->last_error = c->st.last_error;
	sl_shm_link_detach(&c->shm);
	close(c->fd);
fail_free:
	wipe(&c->auth, sizeof(c->auth));
	free(c->win.slot);
	free(c);
	return rc;
}

int
sl_client_opts_credentials(struct sl_client_opts *o, const char *path, char *user_buf,
			   uint8_t *key_buf, char *err, size_t errlen)
{
	int rc;

	if (path != NULL)
		rc = sl_auth_credentials_load(path, user_buf, key_buf, err, errlen);
	else
		rc = sl_auth_credentials_env(user_buf, key_buf, err, errlen);
	if (rc == -ENOENT && path == NULL)
		return 0;
	if (rc < 0)
		return rc;
	o->user = user_buf;
	o->key = key_buf;
	return 1;
}

/* Claim a request id (never 0, which ERROR uses for "no request"). */
static void
pend_start(struct sl_client *c, uint8_t type)
{
	if (++c->next_req_id == 0)
		c->next_req_id = 1;
	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.kind = PEND_REQ;
	c->pend.type = type;
	c->pend.req_id = c->next_req_id;
}

int
sl_client_resolve(struct sl_client *c, const char *name, int create, uint32_t *topic_id)
{
	uint64_t f[FRAME_ROOM(sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME) / 8];
	int len;
	int rc;

	if (name == NULL || topic_id == NULL)
		return -EINVAL;
	if (c->dead)
		return -ENOTCONN;
	pend_start(c, SL_FT_RESOLVE);
	/* The cap leaves the trailer's room free: a longer name is -ENOSPC. */
	len = sl_proto_put_resolve(f, sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME, c->session,
				   c->pend.req_id, name,
				   strnlen(name, SL_MAX_TOPIC_NAME + 1),
				   create ? SL_RESOLVE_F_CREATE : 0);
	if (len < 0) {
		c->pend.kind = PEND_NONE;
		return len == -ENOSPC ? -EINVAL : len;
	}
	rc = request(c, f, (size_t)len);
	if (rc == 0)
		*topic_id = c->pend.value;
	return rc;
}

static int
sub_request(struct sl_client *c, uint8_t type, uint32_t topic_id, uint16_t flags,
	    uint64_t start)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_subscribe)) / 8];
	struct sl_subscribe *s = (struct sl_subscribe *)buf;

	if (c->dead)
		return -ENOTCONN;
	if (topic_id == SL_TOPIC_INVALID)
		return -ENOENT;
	pend_start(c, type);
	sl_proto_hdr_init(&s->h, type, flags, sizeof(*s), c->session);
	s->req_id = c->pend.req_id;
	s->topic_id = topic_id;
	s->start = start;
	return request(c, s, sizeof(*s));
}

int
sl_client_subscribe_pattern(struct sl_client *c, const char *pattern, int unsubscribe)
{
	uint64_t f[FRAME_ROOM(sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME) / 8];
	int len;

	if (pattern == NULL)
		return -EINVAL;
	if (c->dead)
		return -ENOTCONN;
	pend_start(c, unsubscribe ? SL_FT_PUNSUBSCRIBE : SL_FT_PSUBSCRIBE);
	len = sl_proto_put_psubscribe(f, sizeof(struct sl_resolve) + SL_MAX_TOPIC_NAME,
				      c->session, c->pend.req_id, pattern,
				      strnlen(pattern, SL_MAX_TOPIC_NAME + 1), unsubscribe);
	if (len < 0) {
		c->pend.kind = PEND_NONE;
		return -EINVAL;
	}
	return request(c, f, (size_t)len);
}

int
sl_client_subscribe_from(struct sl_client *c, uint32_t topic_id, uint16_t flags,
			 uint64_t start)
{
	uint16_t from = flags & SL_SUB_F_REPLAY;
	struct topic_seq *s;
	int rc;

	/* At most one start point: (x & (x - 1)) clears the lowest bit set. */
	if ((flags & ~SL_SUB_F_REPLAY) != 0 || (from & (from - 1)) != 0)
		return -EINVAL;
	if (!(from & (SL_SUB_F_FROM_SEQ | SL_SUB_F_FROM_TIME)))
		start = 0; /* senders write 0 where the field has no meaning */
	rc = sub_request(c, SL_FT_SUBSCRIBE, topic_id, from, start);
	if (rc < 0)
		return rc;
	/*
	 * A new subscription starts wherever the topic or the replay starts:
	 * not a gap. Nothing was delivered while the request waited (deliveries
	 * that raced the OK are stashed and reach the callback only at the next
	 * poll), so resetting now covers replays sent before or after the OK.
	 */
	s = seq_slot(c, topic_id);
	if (s != NULL)
		s->last = 0;
	return 0;
}

int
sl_client_subscribe(struct sl_client *c, uint32_t topic_id)
{
	return sl_client_subscribe_from(c, topic_id, 0, 0);
}

int
sl_client_unsubscribe(struct sl_client *c, uint32_t topic_id)
{
	return sub_request(c, SL_FT_UNSUBSCRIBE, topic_id, 0, 0);
}

int
sl_client_claim(struct sl_client *c, uint32_t topic_id, uint32_t len, void **data)
{
	uint32_t flen = (uint32_t)sizeof(struct sl_publish) + len;
	struct sl_publish *p;

	if (c->dead)
		return -ENOTCONN;
	if (c->claim != NULL || data == NULL)
		return -EINVAL;
	if (len > c->max_payload)
		return -EMSGSIZE;
	if (win_full(c)) {
		c->st.window_full++;
		c->st.publish_eagain++;
		return -EAGAIN;
	}
	if (c->shm.r) {
		p = sl_shm_link_claim(&c->shm, flen);
		if (p == NULL) {
			c->st.publish_eagain++;
			return -EAGAIN;
		}
	} else {
		p = (struct sl_publish *)c->txbuf;
	}
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, 0, flen, c->session);
	p->topic_id = topic_id;
	p->payload_len = 0;
	c->claim = p;
	*data = p + 1;
	return 0;
}

int
sl_client_commit(struct sl_client *c, uint64_t timestamp, uint16_t flags)
{
	struct sl_publish *p = c->claim;
	uint32_t topic_id;
	int rc = 0;

	if (p == NULL || (flags & ~SL_PUB_F_ACK_REQ) != 0)
		return -EINVAL;
	c->claim = NULL;
	topic_id = p->topic_id; /* over shared memory, the broker's once committed */
	p->h.flags = flags;
	p->producer_seq = c->pub_seq + 1;
	p->timestamp = timestamp;
	if (c->shm.r) {
		sl_shm_link_commit(&c->shm, p->h.length);
	} else {
		rc = tx_frame(c, p, p->h.length);
		if (rc < 0) {
			if (rc == -EAGAIN)
				c->st.publish_eagain++;
			return rc;
		}
	}
	/* The sequence advances only for frames the broker's transport took,
	 * so acks can be matched against a gap-free range. */
	c->pub_seq++;
	c->st.published++;
	win_sent(c, topic_id, flags);
	return 0;
}

void
sl_client_abort(struct sl_client *c)
{
	struct sl_publish *p = c->claim;

	if (p == NULL)
		return;
	c->claim = NULL;
	if (c->shm.r) {
		/* The record was reserved: commit it as a frame the broker
		 * reads and ignores, so the ring stays in step. */
		sl_proto_hdr_init(&p->h, SL_FT_HEARTBEAT, 0, sizeof(struct sl_heartbeat),
				  c->session);
		((struct sl_heartbeat *)p)->timestamp = 0;
		sl_shm_link_commit(&c->shm, sizeof(struct sl_heartbeat));
	}
}

int
sl_client_publish(struct sl_client *c, uint32_t topic_id, const void *data, uint32_t len,
		  uint64_t timestamp, uint16_t flags)
{
	void *d;
	int rc;

	if ((len != 0 && data == NULL) || (flags & ~SL_PUB_F_ACK_REQ) != 0 || c->claim != NULL)
		return c->dead ? -ENOTCONN : -EINVAL;
	rc = sl_client_claim(c, topic_id, len, &d);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(d, data, len);
	return sl_client_commit(c, timestamp, flags);
}

static int
rx_burst(struct sl_client *c)
{
	int n;
	int i;

	if (c->shm.r) {
		ssize_t len = 0;

		for (n = 0; n < RX_BURST; n++) {
			len = shm_recv(c, c->rx[n].data, sizeof(c->rx[n].data));
			if (len <= 0)
				break;
			c->rx[n].len = (uint32_t)len;
			c->rx[n].off = 0;
		}
		c->rx_i = 0;
		c->rx_n = (unsigned int)n;
		return n > 0 || len == 0 ? n : (int)len;
	}
	n = recvmmsg(c->fd, c->rx_msg, RX_BURST, MSG_DONTWAIT, NULL);
	if (n < 0)
		return rx_error_transient(errno) ? 0 : -errno;
	for (i = 0; i < n; i++) {
		c->rx[i].len = c->rx_msg[i].msg_len;
		c->rx[i].off = 0;
		if (c->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			c->st.bad_frames++; /* larger than any v1 peer sends */
			c->rx[i].len = 0;
		}
	}
	c->rx_i = 0;
	c->rx_n = (unsigned int)n;
	return n;
}

static int
drain_rx(struct sl_client *c, sl_deliver_fn fn, void *arg, int budget)
{
	int n = 0;

	while (c->rx_i < c->rx_n && n < budget) {
		struct dgram *d = &c->rx[c->rx_i];

		n += rx_live(c, d, false, fn, arg, budget - n);
		if (d->off < d->len)
			break;
		c->rx_i++;
	}
	return n;
}

static int
drain_stash(struct sl_client *c, sl_deliver_fn fn, void *arg, int budget)
{
	int n = 0;

	while (c->stash_n > 0 && n < budget) {
		struct dgram *d = &c->stash[c->stash_head];

		n += rx_live(c, d, true, fn, arg, budget - n);
		if (d->off < d->len)
			break;
		c->stash_head = (c->stash_head + 1) % STASH_SLOTS;
		c->stash_n--;
	}
	return n;
}

int
sl_client_poll(struct sl_client *c, sl_deliver_fn fn, void *arg, int max)
{
	int n;
	int rc;

	if (max <= 0)
		return -EINVAL;
	if (c->dead)
		return -ENOTCONN;
	heartbeat_maybe(c, sl_now_ns());
	/* Order of age: the current burst was read before anything was stashed,
	 * and nothing new is read while either still holds deliveries. */
	n = drain_rx(c, fn, arg, max);
	n += drain_stash(c, fn, arg, max - n);
	if (n < max && c->rx_i == c->rx_n && c->stash_n == 0) {
		rc = rx_burst(c);
		if (rc < 0)
			return n > 0 ? n : rc;
		n += drain_rx(c, fn, arg, max - n);
	}
	/* Deliveries already handed out are reported; -ENOTCONN comes next call. */
	if (c->dead && n == 0)
		return -ENOTCONN;
	return n;
}

int
sl_client_wait(struct sl_client *c, sl_deliver_fn fn, void *arg, int max, int timeout_ms)
{
	uint64_t now = sl_now_ns();
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * NS_PER_MS;
	uint64_t wake;
	int rc;

	if (c->dead)
		return -ENOTCONN;
	if (c->rx_i < c->rx_n || c->stash_n > 0)
		return sl_client_poll(c, fn, arg, max);
	/* Wake for heartbeats too: a subscriber may wait far longer than the
	 * broker's expiry. The 1 ms floor stops a spin when a heartbeat cannot
	 * be sent. */
	for (;;) {
		heartbeat_maybe(c, now);
		if (c->dead)
			return -ENOTCONN; /* the heartbeat found the broker gone */
		wake = c->last_tx_ns + c->hb_ns;
		if (wake < now + NS_PER_MS)
			wake = now + NS_PER_MS;
		if (wake > deadline)
			wake = deadline;
		rc = wait_readable(c, wake > now ? wake - now : 0);
		if (rc == -EINTR)
			return 0; /* let the caller look at its signal flags */
		if (rc != 0)
			break;
		now = sl_now_ns();
		if (now >= deadline)
			break;
	}
	if (rc < 0)
		return rc;
	return sl_client_poll(c, fn, arg, max);
}

int
sl_client_fd(const struct sl_client *c)
{
	return c->fd;
}

uint32_t
sl_client_session(const struct sl_client *c)
{
	return c->session;
}

uint64_t
sl_client_acked(const struct sl_client *c)
{
	return c->win.acked;
}

uint64_t
sl_client_settled(const struct sl_client *c)
{
	return c->win.settled;
}

int
sl_client_pub_status(const struct sl_client *c, uint64_t pub_seq, uint16_t *error)
{
	const struct pub_slot *s;

	if (error != NULL)
		*error = SL_E_NONE;
	if (pub_seq == 0 || pub_seq > c->pub_seq)
		return -ENOENT;
	if (c->pub_seq - pub_seq > c->win.mask)
		return -ESTALE;
	s = &c->win.slot[pub_seq & c->win.mask];
	if (error != NULL)
		*error = s->error;
	return s->state;
}

uint64_t
sl_client_last_seq(const struct sl_client *c)
{
	return c->pub_seq;
}

void
sl_client_stats(const struct sl_client *c, struct sl_client_stats *out)
{
	*out = c->st;
}

void
sl_client_close(struct sl_client *c)
{
	uint64_t buf[FRAME_ROOM(sizeof(struct sl_hdr)) / 8];
	struct sl_hdr *h = (struct sl_hdr *)buf;

	if (c == NULL)
		return;
	if (c->session != 0 && !c->dead) {
		sl_proto_hdr_init(h, SL_FT_GOODBYE, 0, sizeof(*h), c->session);
		(void)tx_frame(c, h, sizeof(*h)); /* best effort: the broker expires us anyway */
	}
	sl_shm_link_detach(&c->shm);
	close(c->fd);
	wipe(&c->auth, sizeof(c->auth));
	free(c->win.slot);
	free(c);
}
