/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: the per-topic reorder buffer: in-order, once-only hand-off, NAKs for holes, gap events and credit (rules in reorder.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <common/hdrs.h>
#include <common/proto.h>

#include "reorder.h"

_Static_assert((SL_RO_TOPICS_MIN & (SL_RO_TOPICS_MIN - 1)) == 0 &&
	       (SL_RO_TOPICS_MAX & (SL_RO_TOPICS_MAX - 1)) == 0, "topic table sizes: powers of two");


static inline uint64_t
mask_of(const struct sl_reorder *ro)
{
	return ro->conf.window - 1;
}

static inline struct sl_ro_slot *
slot_of(const struct sl_reorder *ro, const struct sl_ro_topic *t, uint64_t seq)
{
	return &t->slot[seq & mask_of(ro)];
}

static inline bool
held(const struct sl_reorder *ro, const struct sl_ro_topic *t, uint64_t seq)
{
	return slot_of(ro, t, seq)->seq == seq;
}

/* Are seqs missing between head and the highest one known? */
static inline bool
has_hole(const struct sl_ro_topic *t)
{
	return t->started && t->top >= t->head && t->top - t->head + 1 > t->nbuf;
}

static void
set_ready(struct sl_reorder *ro, struct sl_ro_topic *t, bool on)
{
	if (t->ready == on)
		return;
	t->ready = on;
	if (on)
		ro->nready++;
	else
		ro->nready--;
}

static void
timer_at(struct sl_reorder *ro, uint64_t when)
{
	if (when < ro->timer_ns)
		ro->timer_ns = when;
}

/* A hole appeared: NAK it after nak_delay unless one is pending already. */
static void
arm(struct sl_reorder *ro, struct sl_ro_topic *t, uint64_t now)
{
	if (ro->ordered || t->nak_due != 0)
		return;
	t->nak_due = now + ro->conf.nak_delay_ns;
	if (t->nak_due == 0)
		t->nak_due = 1;
	t->stall_ns = now;
	t->stall_head = t->head;
	timer_at(ro, t->nak_due);
	timer_at(ro, now + ro->conf.gap_timeout_ns);
}

static void
credit_send(struct sl_reorder *ro, struct sl_ro_topic *t)
{
	uint64_t limit = t->head - 1 + ro->conf.window;

	t->credit_at = t->head + ro->conf.window / 4;
	if (ro->ordered || ro->ops.credit == NULL)
		return;
	if (ro->ops.credit(ro->ops.arg, t->id, limit) == 0) {
		t->credit_sent = limit;
		ro->st->credits_sent++;
	}
}

static void
gap_event(struct sl_reorder *ro, const struct sl_ro_topic *t, uint64_t first, uint64_t last,
	  uint16_t error)
{
	struct sl_event ev = {
		.type = SL_EV_GAP,
		.topic_id = t->id,
		.first = first,
		.last = last,
		.error = error,
	};

	/* Not for this subscription (its filter): nothing was lost. */
	if (error == SL_RO_FILTERED) {
		ro->st->filtered += last - first + 1;
		return;
	}
	ro->st->gaps += last - first + 1;
	ro->st->gap_events++;
	ro->st->gap_topic = t->id;
	ro->st->gap_first = first;
	ro->st->gap_last = last;
	if (ro->ops.event != NULL)
		ro->ops.event(ro->ops.arg, &ev);
}

/*
 * Hand a message to @fn. With @hdrs (v4, SL_DLV_F_HDRS) @data starts with
 * its header block, whose own fields give its length (also for a message
 * that came in pieces): the application sees the payload after it, and the
 * key and headers through the message's fields.
 */
bool
sl_ro_message_body(struct sl_message *m, const void *data, uint32_t len, bool hdrs)
{
	struct sl_hdrs_view v;
	int hl;

	m->data = data;
	m->len = len;
	if (!hdrs)
		return true;
	hl = sl_hdrs_block_len(data, len);
	if (hl < 0 || sl_hdrs_parse(data, (size_t)hl, &v) < 0)
		return false;
	m->hdrs = data;
	m->hdrs_len = (uint16_t)hl;
	m->n_hdrs = v.n;
	m->key = v.key;
	m->key_len = v.key_len;
	m->data = (const uint8_t *)data + hl;
	m->len = len - (uint32_t)hl;
	return true;
}

static void
message_out(struct sl_reorder *ro, uint32_t topic, uint64_t seq, uint64_t ts,
	    const void *data, uint32_t len, bool hdrs, sl_deliver_fn fn, void *arg)
{
	struct sl_message m = { .topic_id = topic, .seq = seq, .timestamp = ts };

	if (!sl_ro_message_body(&m, data, len, hdrs))
		ro->st->bad_frames++; /* not the broker's doing: passed whole */
	ro->st->delivered++;
	if (fn != NULL)
		fn(arg, &m);
}

/* Hand the buffered message at head to @fn and free its slot. */
static void
hand(struct sl_reorder *ro, struct sl_ro_topic *t, struct sl_ro_slot *s, sl_deliver_fn fn,
     void *arg)
{
	const uint8_t *data;

	if (s->frag != 0)
		data = t->fr.a[s->frag - 1].buf;
	else
		data = t->arena + (t->head & mask_of(ro)) * (uint64_t)ro->conf.slot_bytes;
	message_out(ro, t->id, s->seq, s->timestamp, data, s->len, s->hdrs != 0, fn, arg);
	if (s->frag != 0)
		sl_frag_rx_release(&t->fr, s->frag - 1u);
	s->seq = 0;
	s->frag = 0;
	s->hdrs = 0;
	t->nbuf--;
	t->head++;
}

/* The lost range holding @seq, or NULL. */
static struct sl_ro_lost *
lost_at(struct sl_ro_topic *t, uint64_t seq)
{
	unsigned int i;

	for (i = 0; i < SL_RO_LOST_RANGES; i++)
		if (t->lost[i].first != 0 && t->lost[i].first <= seq && seq <= t->lost[i].last)
			return &t->lost[i];
	return NULL;
}

/*
 * Head is missing: the last seq of the run to skip from it, or 0 to wait.
 * *@error and *@ours say why: the broker's code, or the client's give-up.
 */
static uint64_t
skip_end(const struct sl_reorder *ro, struct sl_ro_topic *t, uint16_t *error, bool *ours)
{
	struct sl_ro_lost *l = lost_at(t, t->head);
	uint64_t end, s, lim;

	if (l != NULL) {
		end = l->last;
		*error = l->error;
		*ours = false;
	} else if (t->head < t->giveup_below) {
		end = t->giveup_below - 1;
		*error = ro->ordered ? SL_E_NONE : SL_E_GAP_LOST;
		*ours = !ro->ordered;
	} else {
		return 0;
	}
	if (t->nbuf == 0)
		return end;
	/* Stop before the next message held: it is delivered, not skipped. */
	lim = t->head + ro->conf.window - 1;
	if (end < lim)
		lim = end;
	for (s = t->head + 1; s <= lim; s++)
		if (held(ro, t, s))
			return s - 1;
	return end;
}

/* Skip head..@end (all missing), telling the application. */
static void
skip(struct sl_reorder *ro, struct sl_ro_topic *t, uint64_t end, uint16_t error, bool ours)
{
	unsigned int i;

	gap_event(ro, t, t->head, end, error);
	if (ours)
		ro->st->holes_given_up++;
	t->head = end + 1;
	if (t->top < end)
		t->top = end;
	sl_frag_rx_drop_below(&t->fr, t->head);
	for (i = 0; i < SL_RO_LOST_RANGES; i++)
		if (t->lost[i].first != 0 && t->lost[i].last < t->head)
			t->lost[i].first = 0;
}

/*
 * Move head over what is held (handed to @fn, at most @budget) and over
 * missing seqs that are given up. Leaves t->ready set when budget ran out
 * with more to do. Returns the messages handed over.
 */
static int
advance(struct sl_reorder *ro, struct sl_ro_topic *t, sl_deliver_fn fn, void *arg, int budget)
{
	uint64_t start = t->head;
	struct sl_ro_slot *s;
	uint16_t error;
	uint64_t end;
	bool more = false;
	bool ours;
	int n = 0;

	for (;;) {
		s = slot_of(ro, t, t->head);
		if (s->seq == t->head && t->nbuf != 0) {
			if (n == budget) {
				more = true;
				break;
			}
			hand(ro, t, s, fn, arg);
			n++;
			continue;
		}
		end = skip_end(ro, t, &error, &ours);
		if (end == 0)
			break;
		skip(ro, t, end, error, ours);
	}
	set_ready(ro, t, more);
	if (t->head != start) {
		if (!has_hole(t))
			t->nak_due = 0; /* the next hole waits nak_delay again */
		if (t->head >= t->credit_at)
			credit_send(ro, t);
	}
	return n;
}

/* Keep @m (seq in the window, past head or over budget) in its slot. */
static void
buffer(struct sl_reorder *ro, struct sl_ro_topic *t, const struct sl_ro_msg *m, int frag_idx)
{
	struct sl_ro_slot *s = slot_of(ro, t, m->seq);

	s->seq = m->seq;
	s->timestamp = m->timestamp;
	s->hdrs = (m->flags & SL_DLV_F_HDRS) != 0;
	if (frag_idx >= 0) {
		s->len = m->msg_len;
		s->frag = (uint16_t)(frag_idx + 1);
	} else {
		s->len = m->len;
		s->frag = 0;
		memcpy(t->arena + (m->seq & mask_of(ro)) * (uint64_t)ro->conf.slot_bytes, m->data,
		       m->len);
	}
	t->nbuf++;
	if (m->seq > t->head)
		ro->st->reordered++;
}

/*
 * A piece of a large message: returns the reassembly slot when the message
 * is now whole, else -1 (kept or dropped, counted).
 */
static int
piece(struct sl_reorder *ro, struct sl_ro_topic *t, const struct sl_ro_msg *m)
{
	uint64_t evicted;
	int rc;

	rc = sl_frag_rx_piece(&t->fr, m->seq, m->msg_len, m->timestamp, m->frag_off, m->len,
			      m->data, &evicted);
	if (evicted != 0 && held(ro, t, evicted)) {
		/* Whole, but a slot was needed for an older message: it becomes a
		 * hole again, NAKed like any other. */
		slot_of(ro, t, evicted)->seq = 0;
		slot_of(ro, t, evicted)->frag = 0;
		t->nbuf--;
	}
	if (rc >= 0) {
		ro->st->frag_messages++;
		return rc;
	}
	if (rc == -EALREADY)
		ro->st->dup_drops++;
	else if (rc != -EINPROGRESS)
		ro->st->frag_drops++;
	return -1;
}

/* Not the fast path: see sl_ro_rx. */
static int
rx_slow(struct sl_reorder *ro, struct sl_ro_topic *t, const struct sl_ro_msg *m,
	sl_deliver_fn fn, void *arg, int budget, uint64_t now, bool *taken)
{
	int n = 0;
	int idx = -1;

	if (t->ended) {
		/* Taken and dropped: the application was told it ended. */
		*taken = true;
		ro->st->revoked_drops++;
		return 0;
	}
	*taken = false;
	if (!t->started)
		sl_ro_reset(ro, t, m->seq);
	if (t->ready) {
		n += advance(ro, t, fn, arg, budget);
		if (t->ready)
			return n;
	}
	if (m->seq >= t->head) {
		if (ro->ordered && m->seq > t->head && t->giveup_below < m->seq)
			t->giveup_below = m->seq; /* the broker skipped them: nothing fills */
		if (m->seq - t->head >= ro->conf.window &&
		    t->giveup_below < m->seq - ro->conf.window + 1)
			t->giveup_below = m->seq - ro->conf.window + 1; /* window full */
		if (t->head < t->giveup_below) {
			n += advance(ro, t, fn, arg, budget - n);
			if (t->ready || (m->seq >= t->head && m->seq - t->head >= ro->conf.window))
				return n;
		}
	}
	if (m->seq < t->head || held(ro, t, m->seq)) {
		ro->st->dup_drops++;
		*taken = true;
		return n;
	}
	if (!m->frag && m->len > ro->conf.slot_bytes && !(m->seq == t->head && n < budget)) {
		/* Larger than a slot (a whole large message over shared memory,
		 * which is ordered): at head it waits in its datagram for the
		 * next poll's budget; past head it cannot be kept. */
		*taken = m->seq != t->head;
		if (*taken)
			ro->st->frag_drops++;
		return n;
	}
	*taken = true;
	if (m->flags & SL_DLV_F_RETRANS)
		ro->st->retrans_received++;
	if (m->seq > t->top)
		t->top = m->seq;
	if (m->frag) {
		idx = piece(ro, t, m);
		if (idx < 0) {
			if (has_hole(t))
				arm(ro, t, now);
			return n;
		}
	}
	if (m->seq == t->head && n < budget) {
		if (idx >= 0) {
			message_out(ro, t->id, m->seq, t->fr.a[idx].timestamp, t->fr.a[idx].buf,
				    t->fr.a[idx].msg_len, (m->flags & SL_DLV_F_HDRS) != 0, fn, arg);
			sl_frag_rx_release(&t->fr, (unsigned int)idx);
		} else {
			message_out(ro, t->id, m->seq, m->timestamp, m->data, m->len,
				    (m->flags & SL_DLV_F_HDRS) != 0, fn, arg);
		}
		t->head++;
		n++;
		n += advance(ro, t, fn, arg, budget - n);
		if (t->head >= t->credit_at)
			credit_send(ro, t);
	} else {
		buffer(ro, t, m, idx);
		if (m->seq == t->head)
			set_ready(ro, t, true);
	}
	if (has_hole(t))
		arm(ro, t, now);
	return n;
}

int
sl_ro_rx(struct sl_reorder *ro, const struct sl_ro_msg *m, sl_deliver_fn fn, void *arg,
	 int budget, uint64_t now, bool *taken)
{
	struct sl_ro_topic *t = ro->last;

	if (t == NULL || t->id != m->topic) {
		t = sl_ro_topic_get(ro, m->topic);
		if (t == NULL) {
			/* Untracked (SL_RO_TOPICS_MAX topics, or no memory):
			 * passed on as it comes, counted; a piece cannot be. */
			*taken = true;
			ro->st->untracked++;
			if (m->frag) {
				ro->st->frag_drops++;
				return 0;
			}
			message_out(ro, m->topic, m->seq, m->timestamp, m->data, m->len,
				    (m->flags & SL_DLV_F_HDRS) != 0, fn, arg);
			return 1;
		}
		ro->last = t;
	}
	/* The fast path, every in-order message on a healthy link: one
	 * compare more than handing it over, no copy, no allocation. */
	if (m->seq == t->head && t->nbuf == 0 && !t->ready && !m->frag && t->started) {
		message_out(ro, t->id, m->seq, m->timestamp, m->data, m->len,
			    (m->flags & SL_DLV_F_HDRS) != 0, fn, arg);
		if (++t->head >= t->credit_at)
			credit_send(ro, t);
		*taken = true;
		return 1;
	}
	return rx_slow(ro, t, m, fn, arg, budget, now, taken);
}

int
sl_ro_drain(struct sl_reorder *ro, sl_deliver_fn fn, void *arg, int budget, uint64_t now)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < ro->ntopics && ro->nready != 0 && n < budget; i++) {
		struct sl_ro_topic *t = ro->topics[i];

		if (!t->ready)
			continue;
		n += advance(ro, t, fn, arg, budget - n);
		if (has_hole(t))
			arm(ro, t, now);
	}
	return n;
}

/* Send NAKs for the missing runs between head and the highest seq known. */
static void
nak_holes(struct sl_reorder *ro, struct sl_ro_topic *t)
{
	uint64_t span, i, s, first = 0;
	unsigned int sent = 0;

	if (ro->ops.nak == NULL || t->top < t->head)
		return;
	/* Past the window nothing could be kept; credit holds the broker there. */
	span = t->top - t->head;
	if (span >= ro->conf.window)
		span = ro->conf.window - 1;
	/* Counted from head rather than compared with top + 1, which wraps for
	 * a top of 2^64 - 1 (a hostile DELIVER's seq) and never ends the loop. */
	for (i = 0; i <= span + 1 && sent < SL_RO_NAKS_PER_TICK; i++) {
		bool missing;

		s = t->head + i;
		missing = i <= span && !held(ro, t, s) && lost_at(t, s) == NULL;

		if (missing && first == 0)
			first = s;
		if (!missing && first != 0) {
			if (ro->ops.nak(ro->ops.arg, t->id, first, s - 1) == 0) {
				ro->st->naks_sent++;
				ro->st->nak_seqs += s - first;
			}
			sent++;
			first = 0;
		}
	}
}

/* The first seq held after head, or top + 1 when none is. */
static uint64_t
next_held(const struct sl_reorder *ro, const struct sl_ro_topic *t)
{
	uint64_t s, lim = t->head + ro->conf.window - 1;

	if (t->nbuf != 0)
		for (s = t->head + 1; s <= lim; s++)
			if (held(ro, t, s))
				return s;
	return t->top + 1;
}

/* One topic's timers at @now; returns when it wants the next tick. */
static uint64_t
tick_topic(struct sl_reorder *ro, struct sl_ro_topic *t, uint64_t now)
{
	uint64_t next;

	if (!has_hole(t)) {
		t->nak_due = 0;
		t->stall_ns = 0;
		return UINT64_MAX;
	}
	if (t->nak_due == 0)
		arm(ro, t, now);
	if (t->head != t->stall_head) {
		t->stall_head = t->head; /* progress: the clock starts again */
		t->stall_ns = now;
	} else if (now - t->stall_ns >= ro->conf.gap_timeout_ns && !held(ro, t, t->head)) {
		/* Nothing came for the hole at head: give it up (at the next
		 * poll's drain), so that a broker that never answers a NAK
		 * cannot stall the topic. */
		t->giveup_below = next_held(ro, t);
		t->stall_ns = now;
		set_ready(ro, t, true);
	}
	if (now >= t->nak_due) {
		nak_holes(ro, t);
		t->nak_due = now + ro->conf.nak_retry_ns;
	}
	next = t->stall_ns + ro->conf.gap_timeout_ns;
	if (t->nak_due < next)
		next = t->nak_due;
	/* Head held but not handed over yet (a poll's budget ran out): the
	 * drain moves it; look again a retry later rather than spin. */
	return next > now ? next : now + ro->conf.nak_retry_ns;
}

void
sl_ro_tick(struct sl_reorder *ro, uint64_t now)
{
	uint64_t next = UINT64_MAX, when;
	unsigned int i;

	if (now < ro->timer_ns)
		return;
	for (i = 0; i < ro->ntopics; i++) {
		when = tick_topic(ro, ro->topics[i], now);
		if (when < next)
			next = when;
	}
	ro->timer_ns = next;
}

void
sl_ro_status(struct sl_reorder *ro, uint32_t topic, uint64_t last_seq, uint64_t now)
{
	struct sl_ro_topic *t = sl_ro_topic_find(ro, topic);

	ro->st->status_frames++;
	/* Before the first DELIVER there is no start to count holes from. */
	if (t == NULL || !t->started || ro->ordered || last_seq < t->head)
		return;
	if (last_seq > t->top)
		t->top = last_seq;
	if (has_hole(t))
		arm(ro, t, now);
}

void
sl_ro_lost(struct sl_reorder *ro, uint32_t topic, uint64_t first, uint64_t last,
	   uint16_t error, uint64_t now)
{
	struct sl_ro_topic *t = sl_ro_topic_find(ro, topic);
	struct sl_ro_lost *l;
	unsigned int i;

	/* A range reaching the end of the seq space is no range a broker sends. */
	if (t == NULL || t->ended || first == 0 || first > last || last >= UINT64_MAX / 2)
		return;
	if (!t->started) {
		/* Nothing delivered yet: the topic starts after the range. */
		gap_event(ro, t, first, last, error);
		if (last != UINT64_MAX)
			sl_ro_reset(ro, t, last + 1);
		return;
	}
	if (last < t->head)
		return; /* all of it was delivered or skipped already */
	if (first < t->head)
		first = t->head;
	/* A free entry, else the one that ends first. */
	l = &t->lost[0];
	for (i = 0; i < SL_RO_LOST_RANGES; i++) {
		if (t->lost[i].first == 0) {
			l = &t->lost[i];
			break;
		}
		if (t->lost[i].last < l->last)
			l = &t->lost[i];
	}
	l->first = first;
	l->last = last;
	l->error = error;
	if (last > t->top)
		t->top = last;
	if (first == t->head && !held(ro, t, first))
		set_ready(ro, t, true);
	else if (has_hole(t))
		arm(ro, t, now);
}

void
sl_ro_credit_all(struct sl_reorder *ro)
{
	unsigned int i;

	if (ro->ordered)
		return;
	for (i = 0; i < ro->ntopics; i++)
		if (ro->topics[i]->started)
			credit_send(ro, ro->topics[i]);
}

void
sl_ro_reset(struct sl_reorder *ro, struct sl_ro_topic *t, uint64_t next)
{
	uint64_t i;

	if (t->nbuf != 0)
		for (i = 0; i < ro->conf.window; i++)
			t->slot[i].seq = 0;
	sl_frag_rx_drop_below(&t->fr, UINT64_MAX);
	set_ready(ro, t, false);
	memset(t->lost, 0, sizeof(t->lost));
	t->nbuf = 0;
	t->ended = false;
	t->giveup_below = 0;
	t->nak_due = 0;
	t->stall_ns = 0;
	t->started = next != 0;
	t->head = next;
	t->top = next != 0 ? next - 1 : 0;
	t->stall_head = next;
	/* SUBSCRIBE's window granted this much already. */
	t->credit_sent = next != 0 ? next - 1 + ro->conf.window : 0;
	t->credit_at = next + ro->conf.window / 4;
}

void
sl_ro_end(struct sl_reorder *ro, struct sl_ro_topic *t)
{
	ro->st->revoked_drops += t->nbuf;
	sl_ro_reset(ro, t, 0);
	t->ended = true;
}

void
sl_ro_end_clear(struct sl_reorder *ro)
{
	unsigned int i;

	for (i = 0; i < ro->ntopics; i++)
		if (ro->topics[i]->ended)
			sl_ro_reset(ro, ro->topics[i], 0);
}

/* ---- the topic table */

static unsigned int
id_hash(const struct sl_reorder *ro, uint32_t id)
{
	/* Fibonacci hashing: the top bits of the product spread sequential ids. */
	return (id * 2654435761u) >> (32 - ro->id_bits);
}

struct sl_ro_topic *
sl_ro_topic_find(struct sl_reorder *ro, uint32_t id)
{
	unsigned int mask = (1u << ro->id_bits) - 1, i, n;

	if (ro->cap == 0)
		return NULL;
	for (n = 0, i = id_hash(ro, id); n <= mask; n++, i = (i + 1) & mask) {
		struct sl_ro_topic *t = ro->by_id[i];

		if (t == NULL)
			return NULL;
		if (t->id == id)
			return t;
	}
	return NULL;
}

static void
by_id_add(struct sl_reorder *ro, struct sl_ro_topic *t)
{
	unsigned int mask = (1u << ro->id_bits) - 1, i;

	for (i = id_hash(ro, t->id); ro->by_id[i] != NULL; i = (i + 1) & mask)
		;
	ro->by_id[i] = t;
}

/* Double the tables (load at most 1/2 in by_id). 0, -ENOSPC at
 * SL_RO_TOPICS_MAX, -ENOMEM; the old tables stay on failure. */
static int
tables_grow(struct sl_reorder *ro)
{
	uint32_t cap = ro->cap ? 2 * ro->cap : SL_RO_TOPICS_MIN, i;
	struct sl_ro_topic **topics, **by_id;
	unsigned int bits = 1;

	if (cap > SL_RO_TOPICS_MAX)
		return -ENOSPC;
	while ((1u << bits) < 2 * cap)
		bits++;
	topics = realloc(ro->topics, cap * sizeof(*topics));
	if (topics == NULL)
		return -ENOMEM;
	ro->topics = topics;
	by_id = calloc((size_t)1 << bits, sizeof(*by_id));
	if (by_id == NULL)
		return -ENOMEM;
	free(ro->by_id);
	ro->by_id = by_id;
	ro->id_bits = bits;
	ro->cap = cap;
	for (i = 0; i < ro->ntopics; i++)
		by_id_add(ro, ro->topics[i]);
	return 0;
}

static void
topic_free(const struct sl_reorder *ro, struct sl_ro_topic *t)
{
	if (t->arena != NULL)
		munmap(t->arena, (size_t)ro->conf.window * ro->conf.slot_bytes);
	sl_frag_rx_fini(&t->fr);
	free(t->slot);
	free(t);
}

/* A new topic @id (not known yet); NULL when the table is full or memory short. */
static struct sl_ro_topic *
topic_new(struct sl_reorder *ro, uint32_t id)
{
	struct sl_ro_topic *t;
	void *p;

	if (id == 0 || (ro->ntopics == ro->cap && tables_grow(ro) < 0))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->slot = calloc(ro->conf.window, sizeof(*t->slot));
	/* Pages of the arena cost memory only once a message waits in them. */
	p = mmap(NULL, (size_t)ro->conf.window * ro->conf.slot_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	t->arena = p == MAP_FAILED ? NULL : p;
	sl_frag_rx_init(&t->fr, ro->conf.max_message);
	if (t->slot == NULL || t->arena == NULL) {
		topic_free(ro, t);
		return NULL;
	}
	t->id = id;
	ro->topics[ro->ntopics++] = t;
	by_id_add(ro, t);
	return t;
}

struct sl_ro_topic *
sl_ro_topic_get(struct sl_reorder *ro, uint32_t id)
{
	struct sl_ro_topic *t = sl_ro_topic_find(ro, id);

	return t != NULL ? t : topic_new(ro, id);
}

int
sl_ro_init(struct sl_reorder *ro, const struct sl_ro_conf *conf, const struct sl_ro_ops *ops,
	   struct sl_client_stats *st)
{
	uint32_t w = conf->window ? conf->window : SL_RO_WINDOW_DEFAULT;

	if (w > SL_RO_MAX_WINDOW || w < 4)
		return -EINVAL;
	ro->conf = *conf;
	/* Round up to a power of two: slots are indexed by seq & (window - 1). */
	ro->conf.window = 1;
	while (ro->conf.window < w)
		ro->conf.window <<= 1;
	if (ro->conf.slot_bytes == 0)
		ro->conf.slot_bytes = SL_MAX_PAYLOAD;
	ro->ops = *ops;
	ro->st = st;
	ro->timer_ns = UINT64_MAX;
	return 0;
}

void
sl_ro_fini(struct sl_reorder *ro)
{
	unsigned int i;

	for (i = 0; i < ro->ntopics; i++)
		topic_free(ro, ro->topics[i]);
	ro->ntopics = 0;
	ro->nready = 0;
	free(ro->topics);
	free(ro->by_id);
	ro->topics = NULL;
	ro->by_id = NULL;
	ro->cap = 0;
	ro->id_bits = 0;
	ro->last = NULL;
}
