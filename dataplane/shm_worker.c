/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared-memory clients, worker half (shm_main.c attaches them).
 *
 * The home worker copies committed records from a client's tx ring into an
 * mbuf, many frames per mbuf, checking each record before it copies it, and
 * hands the batches back to the worker loop the way rte_eth_rx_burst hands
 * back packets: each batch carries the client's transport-tagged peer and
 * no made-up network header. The loop runs them through the same frame
 * handling as a datagram's frames: sessions, authentication, ACLs,
 * journals, acks and fan-out are transport-independent. Replies and
 * deliveries to a shared-memory peer go into its rx ring of the writing
 * worker (one per worker, so each ring has one producer).
 *
 * This file calls nothing of the worker's own files: a session a cut ends
 * goes through the worker's session_end callback.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_errno.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/proto.h>

#include "dataplane.h"
#include "large.h"
#include "shm_internal.h"
#include "shm_worker.h"
#include "worker_internal.h"

#define TX_BATCH_RECORDS 256		/* records per mbuf batch, at most */
#define TX_BATCHES 8			/* mbuf batches per client per poll, at most */

int sl_shm_peer_field = -1;

int
sl_shm_peer_field_register(void)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "sluice_shm_peer",
		.size = sizeof(union sl_peer),
		.align = __alignof__(union sl_peer),
	};
	int off = rte_mbuf_dynfield_register(&desc);

	if (off < 0)
		return -rte_errno;
	sl_shm_peer_field = off;
	return 0;
}

/* --- workers: the client's tx ring ----------------------------------------------- */

static struct sl_shm_client *
client_of(const struct sl_dp *dp, const struct sl_peer_shm *peer)
{
	struct sl_shm_client *c;

	if (dp->shm == NULL || peer->slot >= dp->shm->max_clients)
		return NULL;
	c = &dp->shm->c[peer->slot];
	if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != SL_SHM_LIVE || c->gen != peer->gen)
		return NULL;
	return c;
}

static void
list_del(struct sl_worker *w, uint32_t slot)
{
	uint32_t i;

	for (i = 0; i < w->n_shm; i++) {
		if (w->shm[i] == slot) {
			w->shm[i] = w->shm[--w->n_shm];
			return;
		}
	}
}

static void
notify_main(struct sl_worker *w, struct sl_shm_client *c)
{
	struct sl_handoff h = { .kind = SL_HO_SHM_DETACHED, .topic = c->slot, .session = c->gen };

	c->detach_pending = rte_ring_enqueue_elem(w->dp->slow, &h, sizeof(h)) != 0;
}

/* Stop serving client @c (home worker): end its session, tell it why, and
 * let the main lcore reclaim the slot. */
static void
cut(struct sl_worker *w, struct sl_shm_client *c, uint32_t why)
{
	struct sl_session *s = sl_session_find_addr(&w->sessions, c->slot, c->gen);

	if (why != SL_SHM_SERVED)
		__atomic_store_n(&((struct sl_shm_region *)c->base)->notice, why, __ATOMIC_RELEASE);
	if (why == SL_SHM_CUT_CORRUPT)
		drop(w, SL_DROP_shm_corrupt);
	else if (why == SL_SHM_CUT_SLOW)
		drop(w, SL_DROP_shm_slow_cut);
	list_del(w, c->slot);
	c->drain = 0;
	if (s && s->transport == SL_TRANSPORT_SHM)
		w->session_end(w, s);
	notify_main(w, c);
}

void
sl_shm_worker_handoff(struct sl_worker *w, const struct sl_handoff *h)
{
	struct sl_shm_client *c;

	if (w->dp->shm == NULL || h->topic >= w->dp->shm->max_clients)
		return;
	c = &w->dp->shm->c[h->topic];
	if (h->kind == SL_HO_SHM_ATTACH) {
		c->drain = 0;
		w->shm[w->n_shm++] = h->topic;
		return;
	}
	/*
	 * SL_HO_SHM_DETACH: the client hung up. What it committed before is
	 * read first, as the datagrams a UDP client sent before it exited
	 * still arrive (a publisher that closes right after its last publish
	 * loses none): the next bursts drain the ring, then cut it. Bounded:
	 * the ring holds at most tx_size / 64 records (a line each, at least)
	 * and every batch takes at least one. If this worker cut it off
	 * already, the main lcore has been (or is being) told.
	 */
	for (uint32_t i = 0; i < w->n_shm; i++)
		if (w->shm[i] == h->topic) {
			c->drain = c->tx_size / sl_shm_rec_bytes(sizeof(struct sl_hdr)) + 1;
			return;
		}
}

void
sl_shm_worker_timers(struct sl_worker *w)
{
	uint64_t timeout = w->dp->tsc_hz / 1000 * w->dp->conf.session_timeout_ms;
	uint32_t i;

	for (i = 0; i < w->n_shm; i++) {
		struct sl_shm_client *c = &w->dp->shm->c[w->shm[i]];

		if (sl_session_find_addr(&w->sessions, c->slot, c->gen)) {
			c->attach_tsc = w->now;
			continue;
		}
		/* No session for a session timeout: never said HELLO, or its
		 * session expired or ended (GOODBYE) and no new one came. A
		 * client attached during this loop iteration has an attach_tsc
		 * later than w->now (the main lcore read the TSC after this
		 * worker did): not expired, however the difference wraps. */
		if (w->now > c->attach_tsc && w->now - c->attach_tsc > timeout) {
			cut(w, c, SL_SHM_CUT_EXPIRED);
			i--; /* cut moved the last entry here */
		}
	}
	if (w->dp->shm == NULL)
		return;
	for (i = 0; i < w->dp->shm->max_clients; i++) {
		struct sl_shm_client *c = &w->dp->shm->c[i];

		if (c->detach_pending && c->home == w->idx)
			notify_main(w, c);
	}
}

/* Would this PUBLISH (in the batch copy) meet a topic holding publishers
 * back? Then it stays in the ring: the publisher fills up (back-pressure).
 * Frames of the batch that passed before the topic began to hold join the
 * held messages at the owner, in order. */
static int
publish_held_back(const struct sl_worker *w, const uint8_t *frame, uint32_t len)
{
	const struct sl_publish *p = (const struct sl_publish *)frame;

	if (len < sizeof(*p) || p->h.type != SL_FT_PUBLISH || p->topic_id == 0 ||
	    p->topic_id >= w->dp->route.cap)
		return 0;
	return __atomic_load_n(&sl_route_state(&w->dp->route, p->topic_id)->bp_held,
			       __ATOMIC_RELAXED) != 0;
}

/* The session id client @c's message records belong to: the one it opened
 * over its region (0 before WELCOME: the frame handler drops them then). */
static uint32_t
client_session(struct sl_worker *w, const struct sl_shm_client *c)
{
	const struct sl_session *s = sl_session_find_addr(&w->sessions, c->slot, c->gen);

	return s ? s->id : 0;
}

/* A committed record at @off of client @c's tx ring, as the frame it
 * carries or stands for. */
struct tx_rec {
	const uint8_t *src;	/* bytes to copy after the header (if any) */
	uint32_t src_len;
	uint32_t flen;		/* the wire frame's length */
	uint32_t rec;		/* bytes of the ring it takes */
	bool msg;		/* a message record: a PUBLISH header goes first */
	struct sl_shm_msg m;	/* its fields, copied */
};

/* Decode the record with commit word @word at @off: 0, or -1 when it is
 * not well formed (the caller cuts the client off). */
static int
tx_rec_decode(const struct sl_shm_client *c, const uint8_t *ring, uint32_t off, uint64_t word,
	      struct tx_rec *t)
{
	uint32_t len = sl_shm_word_len(word), kind = sl_shm_word_kind(word);

	t->rec = sl_shm_rec_bytes(len);
	t->src = ring + off + SL_SHM_REC_HDR;
	t->msg = kind == SL_SHM_K_MSG;
	if (unlikely(kind > SL_SHM_K_MSG || t->rec > c->tx_size - off))
		return -1;
	if (!t->msg) {
		t->src_len = t->flen = len;
		return len < sizeof(struct sl_hdr) || len > c->max_frame ? -1 : 0;
	}
	if (unlikely(len < SL_SHM_MSG_BODY ||
		     len - SL_SHM_MSG_BODY > c->max_frame - (uint32_t)sizeof(struct sl_publish)))
		return -1;
	memcpy(&t->m, ring + off, sizeof(t->m));
	t->src += SL_SHM_MSG_BODY;
	t->src_len = len - SL_SHM_MSG_BODY;
	t->flen = (uint32_t)sizeof(struct sl_publish) + t->src_len;
	return 0;
}

/* Read up to a batch of committed records of client @c into one mbuf, as
 * wire frames. Returns the mbuf (NULL when nothing was read), or NULL with
 * *cutoff set when a bad record cut the client off; *full says the mbuf
 * filled up (more may wait). */
static struct rte_mbuf *
poll_batch(struct sl_worker *w, struct sl_shm_client *c, int *full, int *cutoff)
{
	const uint8_t *ring = c->base + c->tx_off;
	const uint32_t mask = c->tx_size - 1;
	struct sl_shm_region *r = (struct sl_shm_region *)c->base;
	struct rte_mbuf *m = NULL;
	uint8_t *dst = NULL;
	uint32_t room = 0, used = 0, frames = 0, k, session = 0, flen;
	uint64_t pos0 = c->tx_pos;
	struct tx_rec t;

	*full = 0;
	for (k = 0; k < TX_BATCH_RECORDS; k++) {
		uint32_t off = (uint32_t)(c->tx_pos & mask);
		/* Acquire: pairs with the client's release store of the word
		 * (sl_shm_rec_commit_word); the record's bytes are visible. */
		uint64_t word = __atomic_load_n((const uint64_t *)(ring + off), __ATOMIC_ACQUIRE);

		if ((uint32_t)(word >> 32) != sl_shm_lap(c->tx_pos, c->tx_shift))
			break; /* not committed yet */
		if ((uint32_t)word == SL_SHM_PAD) {
			c->tx_pos += c->tx_size - off;
			continue;
		}
		if (unlikely(tx_rec_decode(c, ring, off, word, &t) < 0))
			goto corrupt;
		if (t.msg && session == 0)
			session = client_session(w, c);
		flen = t.flen;
		if (unlikely(flen > SL_MAX_DATAGRAM)) {
			struct sl_publish ph;

			/* A frame larger than a datagram (a large PUBLISH): a
			 * batch of its own, in an arena buffer. */
			if (m != NULL) {
				*full = 1;
				break;
			}
			if (t.msg)
				sl_shm_msg_frame_hdr(&ph, SL_FT_PUBLISH, &t.m, t.src_len, session);
			m = sl_large_shm_frame(w, &ph, t.msg ? (uint32_t)sizeof(ph) : 0, t.src,
					       t.src_len);
			if (m == NULL) {
				/* Left in the ring until buffers come back. */
				drop(w, SL_DROP_frag_no_budget);
				break;
			}
			if (unlikely(rte_pktmbuf_mtod(m, const struct sl_hdr *)->length != flen))
				goto corrupt;
			if (unlikely(publish_held_back(w, rte_pktmbuf_mtod(m, const void *), flen))) {
				drop(w, SL_DROP_shm_held_back);
				rte_pktmbuf_free(m);
				m = NULL;
				break;
			}
			used = flen;
			c->tx_pos += t.rec;
			frames++;
			*full = 1; /* more may wait behind it */
			break;
		}
		if (m == NULL) {
			m = rte_pktmbuf_alloc(w->dp->pkt_pool);
			if (unlikely(m == NULL)) {
				drop(w, SL_DROP_no_mbuf); /* left in the ring: retried */
				break;
			}
			room = rte_pktmbuf_tailroom(m);
			dst = rte_pktmbuf_mtod(m, uint8_t *);
		}
		if (sl_proto_align(flen) > room - used) {
			*full = 1; /* the next batch takes it */
			break;
		}
		/* Copied before it is looked at: the client may still write. A
		 * message record becomes the PUBLISH frame it stands for. */
		if (t.msg) {
			sl_shm_msg_frame_hdr(dst + used, SL_FT_PUBLISH, &t.m, t.src_len, session);
			memcpy(dst + used + sizeof(struct sl_publish), t.src, t.src_len);
		} else {
			memcpy(dst + used, t.src, t.src_len);
		}
		/* The frame itself is checked as a datagram's frames are; one
		 * that fails there cuts the client off (the worker kicks it). */
		if (unlikely(((const struct sl_hdr *)(dst + used))->length != flen))
			goto corrupt;
		if (unlikely(publish_held_back(w, dst + used, flen))) {
			struct sl_session *sess = sl_session_find_addr(&w->sessions, c->slot,
								       c->gen);

			drop(w, SL_DROP_shm_held_back);
			/* Its heartbeats wait behind this PUBLISH: a publisher
			 * held back is alive, not silent. */
			if (sess)
				sess->last_seen = w->now;
			break; /* stays in the ring: the publisher fills up, back-pressure */
		}
		/* Frames start 8-byte aligned, as in a datagram: the padding
		 * is defined bytes. */
		if (sl_proto_align(flen) != flen)
			memset(dst + used + flen, 0, sl_proto_align(flen) - flen);
		used += sl_proto_align(flen);
		c->tx_pos += t.rec;
		frames++;
	}
	/* Consumed (copied): the client may reuse the space. */
	if (c->tx_pos != pos0)
		__atomic_store_n(&r->tx.cons, c->tx_pos, __ATOMIC_RELEASE);
	if (frames == 0) {
		if (m)
			rte_pktmbuf_free(m);
		return NULL;
	}
	if (sl_large_buf_is(m))
		sl_large_buf_set_len(m, used);
	else
		m->data_len = (uint16_t)used;
	m->pkt_len = used;
	m->port = SL_SHM_PORT;
	*RTE_MBUF_DYNFIELD(m, sl_shm_peer_field, union sl_peer *) = sl_peer_shm(c->slot, c->gen);
	sl_ctr_add(&w->ctr.ctr[SL_CTR_shm_rx_frames], frames);
	return m;

corrupt:
	if (m)
		rte_pktmbuf_free(m);
	cut(w, c, SL_SHM_CUT_CORRUPT);
	*cutoff = 1;
	return NULL;
}

/*
 * Batches of client @c's records into @pkts (room for @n), while they fill
 * mbufs, up to a bound that keeps the other clients and the NIC queue
 * served. Returns the batches, or -1 when the client was cut off (before
 * any batch of this call: frames already handed back are handled first).
 */
static int
poll_client(struct sl_worker *w, struct sl_shm_client *c, struct rte_mbuf **pkts,
	    union sl_peer *peers, uint16_t n)
{
	uint32_t why = __atomic_exchange_n(&c->kick, 0, __ATOMIC_ACQUIRE);
	int got = 0, full = 1, cutoff = 0, rounds;
	struct rte_mbuf *m;

	if (unlikely(why)) {
		cut(w, c, why);
		return -1;
	}
	if (unlikely(c->drain == 1)) { /* hung up, and read to the bound */
		cut(w, c, SL_SHM_SERVED);
		return -1;
	}
	for (rounds = 0; full && rounds < TX_BATCHES && got < n; rounds++) {
		m = poll_batch(w, c, &full, &cutoff);
		if (m == NULL)
			break;
		peers[got] = sl_peer_shm(c->slot, c->gen);
		pkts[got++] = m;
		if (unlikely(c->drain > 1))
			c->drain--;
	}
	if (unlikely(cutoff))
		return got ? got : -1;
	/* Hung up and read to the end: let go (only once nothing of this call
	 * is waiting to be handled, so its session outlives its frames). */
	if (unlikely(c->drain) && got == 0) {
		cut(w, c, SL_SHM_SERVED);
		return -1;
	}
	return got;
}

uint16_t
sl_shm_rx_burst(struct sl_worker *w, struct rte_mbuf **pkts, union sl_peer *peers, uint16_t n)
{
	uint16_t got = 0;
	uint32_t i;
	int k;

	for (i = 0; i < w->n_shm && got < n; i++) {
		k = poll_client(w, &w->dp->shm->c[w->shm[i]], pkts + got, peers + got,
				(uint16_t)(n - got));
		if (k < 0)
			i--; /* cut: the last entry moved here */
		else
			got = (uint16_t)(got + k);
	}
	return got;
}

/* --- workers: doorbells (PROTOCOL.md 14.8) ---------------------------------------- */

/*
 * A consumer that is about to sleep sets its ring's waiting flag, then
 * (after a full fence) looks at the ring once more; a producer commits, then
 * (after a full fence) reads the flag, and rings the consumer's doorbell, an
 * eventfd, when it finds it set. Either the consumer's last look sees the
 * record or the producer sees the flag: no record waits for a sleeper's
 * timeout. The producer clears the flag as it rings (exchange), so a burst
 * rings once. A client's doorbell costs the worker one write(2) per
 * sleep of that client; a client that sets its flag and never sleeps only
 * costs itself wake-ups (and the worker that write per loop iteration).
 */

static uint32_t *
rang_list(struct sl_worker *w)
{
	return w->shm + w->dp->conf.shm_max_clients + 1;
}

static void
ring_bell(int fd)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is near 2^64: it is ringing already. */
	(void)!write(fd, &one, sizeof(one));
}

void
sl_shm_worker_doorbells(struct sl_worker *w)
{
	uint32_t *list = rang_list(w), i;

	if (w->n_shm_rang == 0)
		return;
	/* Store-load: this iteration's commits before the flags' loads; pairs
	 * with the client's fence between its flag and its last look. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < w->n_shm_rang; i++) {
		struct sl_shm_client *c = &w->dp->shm->c[list[i]];
		/* Committed to in this iteration: still mapped (the grace
		 * period outlasts the iteration), bell_fd still open. */
		uint32_t *flag = &((struct sl_shm_region *)c->base)->rx[w->idx].waiting;

		c->rx[w->idx].rang = 0;
		if (__atomic_load_n(flag, __ATOMIC_RELAXED) &&
		    __atomic_exchange_n(flag, 0, __ATOMIC_ACQ_REL)) {
			ring_bell(c->bell_fd);
			__atomic_fetch_add(&c->bells, 1, __ATOMIC_RELAXED); /* several workers */
		}
	}
	w->n_shm_rang = 0;
}

static void
arm(struct sl_worker *w, uint32_t on)
{
	uint32_t i;

	for (i = 0; i < w->n_shm; i++) {
		struct sl_shm_client *c = &w->dp->shm->c[w->shm[i]];

		__atomic_store_n(&((struct sl_shm_region *)c->base)->tx.waiting, on,
				 __ATOMIC_RELAXED);
	}
	w->shm_armed = (uint8_t)on;
}

void
sl_shm_worker_disarm(struct sl_worker *w)
{
	arm(w, 0);
}

int
sl_shm_worker_sleep(struct sl_worker *w, const struct timespec *ts)
{
	int bell = w->dp->shm ? w->dp->shm->worker_bell[w->idx] : -1;
	struct pollfd p = { .fd = bell, .events = POLLIN };
	uint64_t v;

	if (bell < 0 || w->n_shm == 0) {
		nanosleep(ts, NULL);
		return 1;
	}
	if (!w->shm_armed) {
		arm(w, 1);
		/* Store-load: the flags before the next poll's loads of the
		 * commit words; pairs with the client's fence after a commit. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return 0;
	}
	if (ppoll(&p, 1, ts, NULL) > 0)
		(void)!read(bell, &v, sizeof(v));
	/* Disarmed: a client that rang cleared its own flag; the next idle
	 * call arms them all again before the worker sleeps. */
	arm(w, 0);
	return 1;
}

/* --- workers: rx rings ------------------------------------------------------------- */

/* Room for a record of @rec bytes at the producer position (and a pad
 * before it if needed)? Re-reads the consumer word when the cached one is
 * not enough; a consumer word out of range cuts the client off. */
static int
rx_room(struct sl_worker *w, struct sl_shm_client *c, struct sl_shm_rx *x, uint32_t rec)
{
	struct sl_shm_region *r = (struct sl_shm_region *)c->base;
	uint64_t need = sl_shm_rec_need(x->pos, c->rx_size, rec), cons;

	if (x->pos + need - x->cons <= c->rx_size)
		return 1;
	cons = __atomic_load_n(&r->rx[w->idx].cons, __ATOMIC_ACQUIRE);
	if (unlikely(cons > x->pos || x->pos - cons > c->rx_size || (cons & 7))) {
		/* The client scribbled on its consumer word: its home worker
		 * cuts it off at its next poll (not here: this may run in the
		 * middle of that worker's own poll of the client). */
		__atomic_store_n(&c->kick, SL_SHM_CUT_CORRUPT, __ATOMIC_RELEASE);
		return -1;
	}
	x->cons = cons;
	return x->pos + need - x->cons <= c->rx_size;
}

uint32_t
sl_shm_max_deliver(struct sl_worker *w, const struct sl_peer_shm *peer)
{
	struct sl_shm_client *c = client_of(w->dp, peer);

	return c ? c->max_deliver : SL_MAX_DATAGRAM;
}

int
sl_shm_room(struct sl_worker *w, const struct sl_peer_shm *peer, uint32_t flen)
{
	struct sl_shm_client *c = client_of(w->dp, peer);

	if (c == NULL)
		return 1;
	return rx_room(w, c, &c->rx[w->idx], sl_shm_rec_bytes(flen)) != 0;
}

/* A record of a @len-byte body in @peer's rx ring of this worker: its
 * address (the commit word's), with *@cp the client; or NULL and *@rc
 * -ENOBUFS (ring full) or -ENOTCONN. */
static uint8_t *
rx_claim(struct sl_worker *w, const struct sl_peer_shm *peer, uint32_t len,
	 struct sl_shm_client **cp, int *rc)
{
	struct sl_shm_client *c = client_of(w->dp, peer);
	uint8_t *ring;
	struct sl_shm_rx *x;
	uint32_t rec = sl_shm_rec_bytes(len), off;

	if (unlikely(c == NULL)) {
		drop(w, SL_DROP_shm_gone);
		*rc = -ENOTCONN;
		return NULL;
	}
	x = &c->rx[w->idx];
	ring = c->base + c->rx_off[w->idx];
	*rc = rx_room(w, c, x, rec);
	if (*rc <= 0) {
		*rc = *rc < 0 ? -ENOTCONN : -ENOBUFS;
		return NULL;
	}
	off = sl_shm_rec_place(ring, c->rx_size, c->rx_shift, &x->pos, rec);
	*cp = c;
	return ring + off;
}

/* Commit the claimed record (commit word @word, made for the ring's
 * producer position) and move past it. */
static void
rx_commit(struct sl_worker *w, struct sl_shm_client *c, uint64_t word)
{
	struct sl_shm_rx *x = &c->rx[w->idx];

	sl_shm_rec_commit_word(c->base + c->rx_off[w->idx], c->rx_size, x->pos, word);
	x->pos += sl_shm_rec_bytes(sl_shm_word_len(word));
	sl_ctr_add(&w->ctr.ctr[SL_CTR_shm_tx_frames], 1);
	if (!x->rang && c->bell_fd >= 0) {
		x->rang = 1;
		rang_list(w)[w->n_shm_rang++] = c->slot;
	}
}

int
sl_shm_send(struct sl_worker *w, const struct sl_peer_shm *peer, const void *a, uint32_t alen,
	    const void *b, uint32_t blen)
{
	uint32_t len = alen + blen;
	struct sl_shm_client *c;
	uint8_t *rec;
	int rc;

	rec = rx_claim(w, peer, len, &c, &rc);
	if (rec == NULL)
		return rc;
	memcpy(rec + SL_SHM_REC_HDR, a, alen);
	((struct sl_hdr *)(rec + SL_SHM_REC_HDR))->reserved = w->tx_epoch; /* leader epoch */
	if (blen)
		memcpy(rec + SL_SHM_REC_HDR + alen, b, blen);
	rx_commit(w, c, sl_shm_commit_word(c->rx[w->idx].pos, c->rx_shift, len));
	return 0;
}

int
sl_shm_send_deliver(struct sl_worker *w, const struct sl_peer_shm *peer,
		    const struct sl_deliver *dl, const void *payload)
{
	uint32_t body = dl->h.length - (uint32_t)sizeof(*dl), len = SL_SHM_MSG_BODY + body;
	struct sl_shm_client *c;
	struct sl_shm_msg *m;
	int rc;

	m = (struct sl_shm_msg *)rx_claim(w, peer, len, &c, &rc);
	if (m == NULL)
		return rc;
	/* The message record: the DELIVER without its wire header, one line
	 * for a small message, its commit word (last) in that line. */
	m->topic_id = dl->topic_id;
	m->flags = dl->h.flags;
	m->hdrs_len = dl->hdrs_len;
	m->seq = dl->seq;
	m->timestamp = dl->timestamp;
	memcpy(m + 1, payload, body);
	rx_commit(w, c, sl_shm_commit_msg(c->rx[w->idx].pos, c->rx_shift, len));
	return 0;
}

void
sl_shm_kick(struct sl_worker *w, const struct sl_peer_shm *peer, uint32_t why)
{
	struct sl_shm_client *c = client_of(w->dp, peer);

	if (c)
		__atomic_store_n(&c->kick, why, __ATOMIC_RELEASE);
}

void
sl_shm_dropped(struct sl_worker *w, const struct sl_peer_shm *peer)
{
	struct sl_shm_client *c = client_of(w->dp, peer);
	uint64_t *d;

	if (c == NULL)
		return;
	__atomic_fetch_add(&c->dropped, 1, __ATOMIC_RELAXED); /* several owners */
	d = &((struct sl_shm_region *)c->base)->rx[w->idx].dropped;
	/* The client only reads it; a client that scribbles here fools itself. */
	__atomic_store_n(d, __atomic_load_n(d, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}
