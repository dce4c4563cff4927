/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-loadgen generator: connect, plan, then publish open-loop at the set rate (no
 * coordinated omission) and receive, recording latencies. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <common/clock.h>
#include <common/shm.h>

#include "cli.h"
#include "tsc.h"

#include "loadgen.h"

volatile sig_atomic_t sl_lg_stop_requested;
volatile sig_atomic_t sl_lg_send_end_requested;
static uint8_t payload_buf[LG_MAX_SIZE];

/*
 * Decide how many messages each publisher sends and size the bitmap that
 * catches losses and duplicates. Returns 0, or -E2BIG when the bitmap would
 * be absurd (message printed).
 */
int
sl_lg_plan_run(struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	double quota, bytes;

	r->ns_per_msg = cf->rate > 0 ? 1e9 * cf->pubs / cf->rate : 0;
	r->sample_mask = cf->shm && cf->rate == 0 ? LG_SAMPLE - 1 : 0;
	if (cf->count)
		quota = (double)cf->count;
	else if (cf->rate > 0)
		/* indexes whose due time falls inside the duration; index 0 always does */
		quota = fmax(1, ceil(cf->duration_s * 1e9 / r->ns_per_msg));
	else
		quota = ceil(cf->duration_s * (cf->shm ? LG_ASAP_RATE_CAP_SHM : LG_ASAP_RATE_CAP));
	bytes = (double)lg_tracks(cf) * cf->pubs * ceil(quota / 64) * 8;
	if (bytes > (double)LG_BITMAP_MAX) {
		fprintf(stderr, LG_NAME ": tracking %.0f messages per publisher for %u publishers"
			" x %u subscribers needs %.0f MiB (limit %llu MiB); lower --rate, "
			"--duration, --count, --publishers or --subscribers\n", quota, cf->pubs,
			cf->subs, bytes / (1 << 20), LG_BITMAP_MAX >> 20);
		return -E2BIG;
	}
	r->quota = (uint64_t)quota;
	r->words = (r->quota + 63) / 64;
	if (cf->rate > 0 || cf->subs == 0)
		r->window = 0;
	else if (cf->window_set)
		r->window = cf->window;
	else if (cf->shm)
		r->window = LG_WINDOW_BYTES / sl_shm_rec_bytes((uint32_t)sizeof(struct sl_deliver) +
								cf->size);
	return 0;
}

/* Hard end of the send phase, once start_ns is known. */
static uint64_t
plan_stop(const struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	uint64_t dur = (uint64_t)(cf->duration_s * 1e9);

	if (cf->count == 0)
		/* Late messages may still go out for a while: never skipped, but bounded. */
		return r->start_ns + dur + (cf->rate > 0 ? LG_GRACE_NS : 0);
	if (cf->duration_set)
		return r->start_ns + dur;
	if (cf->rate > 0)
		return r->start_ns + (uint64_t)((double)r->quota * r->ns_per_msg) + LG_GRACE_NS;
	return r->start_ns + LG_ASAP_COUNT_LIMIT_NS;
}

static const char *
event_name(uint32_t type)
{
	switch (type) {
	case SL_EV_DISCONNECTED: return "disconnected";
	case SL_EV_RECONNECTED: return "reconnected";
	case SL_EV_GAP: return "gap";
	case SL_EV_INCARNATION: return "broker restarted (new incarnation)";
	case SL_EV_FENCED: return "fenced";
	case SL_EV_GROUP_ERROR: return "group error";
	default: return "unknown event";
	}
}

/* Events of any client: counted, and (with text output or --events) a line
 * on stderr for the first few. */
static void
on_event(void *arg, const struct sl_event *ev)
{
	struct lg_run *r = arg;
	struct lg_events *e = &r->ev;
	uint64_t n = e->disconnected + e->reconnected + e->gap + e->incarnation + e->fenced +
		     e->group_error + e->other;

	switch (ev->type) {
	case SL_EV_DISCONNECTED: e->disconnected++; break;
	case SL_EV_RECONNECTED: e->reconnected++; break;
	case SL_EV_GAP:
		if (e->gap < LG_RANGES)
			e->gaps[e->gap] = *ev;
		e->gap++;
		if (ev->last >= ev->first)
			e->gap_seqs += ev->last - ev->first + 1;
		break;
	case SL_EV_INCARNATION: e->incarnation++; break;
	case SL_EV_FENCED: e->fenced++; break;
	case SL_EV_GROUP_ERROR: e->group_error++; break;
	default: e->other++; break;
	}
	if ((r->cf->json && !r->cf->events) || n >= LG_EVENT_LINES)
		return;
	if (ev->type == SL_EV_GAP)
		fprintf(stderr, LG_NAME ": event: gap on topic %u: %" PRIu64 "..%" PRIu64 " (%s)\n",
			ev->topic_id, ev->first, ev->last, sl_error_code_str(ev->error));
	else
		fprintf(stderr, LG_NAME ": event: %s%s%s\n", event_name(ev->type),
			ev->error ? ": " : "", ev->error ? sl_error_code_str(ev->error) : "");
}

/* --ack-log: a line per acknowledged publish of publisher @arg. Publish
 * number N of a publisher carries message index N - 1 (every publish asks
 * for an ACK). The leader epoch is the newest the client has seen, the
 * ACK's own included: which primary of a pair acknowledged it. */
static void
on_settle_log(void *arg, uint64_t pub_seq, uint32_t topic_id, uint16_t error)
{
	struct lg_pub *p = arg;
	struct sl_client_stats st;

	(void)topic_id;
	if (error != SL_E_NONE || pub_seq == 0)
		return;
	sl_client_stats(p->c, &st);
	fprintf(p->run->ack_log, "%u %" PRIu64 " %" PRIu64 " %u\n", p->idx, pub_seq - 1,
		sl_wall_ns(), st.leader_epoch);
}

/* Connect one client; @pub is the publisher it is for, NULL for a subscriber. */
static int
connect_one(struct lg_run *r, const char *name, const char *producer, struct lg_pub *pub,
	    struct sl_client **out)
{
	const struct lg_conf *cf = r->cf;
	uint16_t code = SL_E_NONE;
	struct sl_client_opts o = { .host = cf->host, .port = cf->port, .name = name,
				    .user = cf->user, .key = cf->key, .last_error = &code,
				    .shm = cf->shm, .on_event = on_event, .event_arg = r,
				    .producer = producer, .flush_us = cf->batch_us,
				    .encrypt = (uint8_t)cf->encrypt };
	int rc;

	if (pub != NULL && r->ack_log != NULL) {
		o.on_settle = on_settle_log;
		o.settle_arg = pub;
	}

	rc = sl_client_connect(out, &o);
	if (rc < 0 && !sl_cli_report_attach(LG_NAME, cf->shm, rc))
		sl_cli_report_connect(LG_NAME, cf->host, cf->port, 0, cf->user, code, rc);
	return rc;
}

/* Publishers are subscribed to nothing; poll them only for acks and heartbeats. */
static void
on_pub_deliver(void *arg, const struct sl_message *m)
{
	(void)arg;
	(void)m;
}

static void on_deliver(void *arg, const struct sl_message *m);

/*
 * Poll every client connected so far, as the set-up goes: libsluice sends
 * heartbeats only from inside its calls (sluice.h: at least every heartbeat
 * interval), and a set-up of many clients, topics and subscriptions can
 * take longer than the broker's session timeout (a loaded machine, a long
 * round trip), which would end the sessions of the clients connected first.
 */
static int
setup_service(struct lg_run *r)
{
	unsigned k;
	int rc;

	for (k = 0; k < r->cf->pubs + r->cf->subs; k++) {
		struct sl_client *c = k < r->cf->pubs ? r->pubs[k].c : r->subs[k - r->cf->pubs];

		if (c == NULL)
			continue;
		if (k < r->cf->pubs) {
			rc = sl_client_poll(c, on_pub_deliver, NULL, LG_BURST);
		} else {
			r->cur_sub = k - r->cf->pubs;
			rc = sl_client_poll(c, on_deliver, r, LG_BURST);
		}
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": %s %u during set-up: %s\n",
				k < r->cf->pubs ? "publisher" : "subscriber",
				k < r->cf->pubs ? k : k - r->cf->pubs,
				rc == -ENOTCONN ? "broker dropped the session" : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int
sl_lg_connect_all(struct lg_run *r)
{
	char name[SL_CLIENT_NAME_LEN], producer[80];
	unsigned i;
	int rc;

	if (r->cf->ack_log != NULL) {
		r->ack_log = fopen(r->cf->ack_log, "a");
		if (r->ack_log == NULL) {
			fprintf(stderr, LG_NAME ": --ack-log %s: %s\n", r->cf->ack_log,
				strerror(errno));
			return -errno;
		}
		/* Line buffered: each ACK is in the file when the next call returns. */
		setvbuf(r->ack_log, NULL, _IOLBF, 0);
	}
	for (i = 0; i < r->cf->pubs; i++) {
		r->pubs[i].idx = i;
		r->pubs[i].run = r;
		snprintf(name, sizeof(name), "loadgen-pub-%u", i);
		snprintf(producer, sizeof(producer), "%s-%u", r->cf->producer ? r->cf->producer : "",
			 i);
		rc = connect_one(r, name, r->cf->producer ? producer : NULL, &r->pubs[i],
				 &r->pubs[i].c);
		if (rc == 0)
			rc = setup_service(r);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < r->cf->subs; i++) {
		snprintf(name, sizeof(name), r->cf->group ? "loadgen-member-%u" : "loadgen-sub-%u",
			 i);
		rc = connect_one(r, name, NULL, NULL, &r->subs[i]);
		if (rc == 0)
			rc = setup_service(r);
		if (rc < 0)
			return rc;
	}
	if (r->cf->dead_letter)
		return connect_one(r, "loadgen-dead", NULL, NULL, &r->dead);
	return 0;
}

/*
 * A partitioned topic (sluicectl topic create --partitions): each client
 * holds the partition map only of names it resolved, so every other
 * publisher and subscriber resolves it too (the same ids: they are the
 * broker's). Each publisher then keeps to its own partition (it sends no
 * key), subscribers and group members get every partition.
 */
static int
resolve_each(struct lg_run *r, const char *name, uint32_t want)
{
	unsigned k;
	uint32_t id;
	int rc;

	for (k = 1; k < r->cf->pubs + r->cf->subs; k++) {
		struct sl_client *c = k < r->cf->pubs ? r->pubs[k].c : r->subs[k - r->cf->pubs];

		rc = sl_client_resolve(c, name, 0, &id);
		if (rc == 0 && id != want)
			rc = -EPROTO;
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Did a message of publisher @pub arrive on its topic, or on one of its
 * topic's partitions? */
static bool
topic_ok(const struct lg_run *r, uint32_t got, unsigned pub)
{
	uint32_t ids[64];
	int i, n;

	if (got == r->pubs[pub].topic_id)
		return true;
	n = r->parted ? sl_client_partitions(r->pubs[0].c, r->pubs[pub].topic_id, ids, 64) : 0;
	for (i = 0; i < n; i++)
		if (ids[i] == got)
			return true;
	return false;
}

/* Create the topics, point each publisher at one, subscribe everyone to all. */
int
sl_lg_setup_topics(struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	char name[SL_MAX_TOPIC_NAME + 16];
	unsigned k, j;
	int rc;

	for (k = 0; k < cf->topics; k++) {
		snprintf(name, sizeof(name), "%s.%u", cf->prefix, k);
		rc = sl_client_resolve(r->pubs[0].c, name, 1, &r->topic_ids[k]);
		if (rc == 0 && sl_client_partitions(r->pubs[0].c, r->topic_ids[k], NULL, 0) > 0) {
			r->parted = true;
			rc = resolve_each(r, name, r->topic_ids[k]);
		}
		if (rc == 0)
			rc = setup_service(r);
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": creating topic '%s' failed: %s%s\n", name,
				strerror(-rc), rc == -ENOSPC ? " (broker's topic table full)" :
				rc == -EPERM ? " (ACL; creating a topic needs admin)" : "");
			return rc;
		}
	}
	for (k = 0; k < cf->pubs; k++)
		r->pubs[k].topic_id = r->topic_ids[k % cf->topics];
	if (cf->group)
		return sl_lg_group_setup(r);
	for (j = 0; j < cf->subs; j++) {
		for (k = 0; k < cf->topics; k++) {
			rc = sl_client_subscribe(r->subs[j], r->topic_ids[k]);
			if (rc == 0)
				rc = setup_service(r);
			if (rc < 0) {
				fprintf(stderr, LG_NAME ": subscriber %u cannot subscribe to %s.%u: "
					"%s%s\n", j, cf->prefix, k, strerror(-rc),
					rc == -ENOSPC ? " (topic's subscriber table full)" :
					rc == -EPERM ? " (ACL)" : "");
				return rc;
			}
		}
	}
	return 0;
}

/* Is the message's timestamp the one its publisher gave it? Over UDP that
 * is the due time; over shared memory a TSC stamp from this run, not later
 * than @tsc (when it arrived). */
static int
stamp_ok(const struct lg_run *r, const struct sl_message *m, const struct lg_payload *pl,
	 uint64_t tsc)
{
	if (r->cf->shm)
		return m->timestamp >= r->tsc_start && m->timestamp <= tsc;
	return m->timestamp == pl->sched_ns;
}

/* How far track @t (subscriber, or the group) has got into publisher
 * @pub's stream, for the window: a later message stands for the lost ones
 * before it. */
static inline void
window_note(struct lg_run *r, unsigned t, uint32_t pub, uint64_t index)
{
	uint64_t *h = &r->hi[(uint64_t)t * r->cf->pubs + pub];

	if (index + 1 > *h) {
		r->acc[t] += index + 1 - *h;
		*h = index + 1;
	}
}

/* Messages the publishers may send now without running more than the
 * window ahead of the slowest subscriber; UINT64_MAX without a window. */
static uint64_t
window_room(const struct lg_run *r)
{
	uint64_t least = UINT64_MAX;
	unsigned j;

	if (r->window == 0)
		return UINT64_MAX;
	for (j = 0; j < lg_tracks(r->cf); j++)
		if (r->acc[j] < least)
			least = r->acc[j];
	return r->sent - least >= r->window ? 0 : r->window - (r->sent - least);
}

/* Delivery to subscriber r->cur_sub: check it, mark it, time it. */
static void
on_deliver(void *arg, const struct sl_message *m)
{
	struct lg_run *r = arg;
	/* TSC first: the one-way figure should end as soon as the message is
	 * ours. A message sent unstamped (sampling at --rate 0) needs none. */
	bool unstamped = r->sample_mask != 0 && m->timestamp == 0;
	uint64_t tsc = unstamped ? 0 : lg_ticks(), now, bit, pair, *w;
	/* A group's members share one track: each message processed once by any. */
	unsigned track = r->cf->group ? 0 : r->cur_sub;
	struct lg_payload pl;

	if (r->cf->group)
		sl_lg_group_note(r, m);
	/* On shm at --rate 0 the from-send figure is not kept (usage): spare the clock read. */
	now = r->cf->shm && r->ns_per_msg == 0 ? 0 : sl_now_ns();
	if (m->len < sizeof(pl)) {
		r->foreign++;
		return;
	}
	memcpy(&pl, m->data, sizeof(pl));
	if (pl.run != r->run_id || pl.pub >= r->cf->pubs || pl.index >= r->quota) {
		r->foreign++;
		return;
	}
	/* Ours, but not as sent: the broker mangled length or topic. */
	if (m->len != r->cf->size || !topic_ok(r, m->topic_id, pl.pub))
		r->bad++;
	/* A journal replay carries the broker's receive time; anything else is mangled. */
	if (!unstamped && !stamp_ok(r, m, &pl, tsc))
		r->restamped++;
	r->received++;
	pair = (uint64_t)track * r->cf->pubs + pl.pub;
	w = &r->bitmap[pair * r->words + pl.index / 64];
	bit = UINT64_C(1) << (pl.index % 64);
	if (*w & bit) {
		r->duplicates++;
		return;
	}
	*w |= bit;
	r->unique++;
	/* A publisher's messages share one topic: they must arrive in index
	 * order; a group's members, polled in turn, each see their share. */
	if (pl.index < r->last[pair] && !r->cf->group)
		r->out_of_order++;
	else if (pl.index >= r->last[pair])
		r->last[pair] = pl.index + 1;
	if (r->window)
		window_note(r, track, pl.pub, pl.index);
	if (pl.sched_ns < r->warmup_end_ns) {
		r->warmup_skipped++;
		return;
	}
	if (r->cf->shm && !unstamped && m->timestamp >= r->tsc_start && m->timestamp <= tsc)
		sl_hist_record(&r->oneway, ticks_to_ns(r, tsc - m->timestamp));
	if (now)
		sl_hist_record(&r->hist, now > pl.sched_ns ? now - pl.sched_ns : 0);
}

/*
 * Due time of publisher @p's next message; the send time when rate is 0:
 * over UDP read per message, over shared memory @now (the pass's start),
 * since a clock read per message would cost about as much as the publish.
 */
static uint64_t
due_ns(const struct lg_run *r, const struct lg_pub *p, uint64_t now)
{
	if (r->ns_per_msg == 0)
		return r->cf->shm ? now : sl_now_ns();
	return r->start_ns + (uint64_t)((double)p->next * r->ns_per_msg);
}

/*
 * One publish of payload_buf through the API, timed into r->call when
 * @timed. Over shared memory: claim, copy, commit, with the TSC stamp taken
 * as late as it can be, just before the commit; over UDP a plain publish
 * with the due time as timestamp. Returns what the API returned.
 */
static int
pub_one(struct lg_run *r, struct lg_pub *p, uint64_t sched_ns, int timed)
{
	uint32_t len = r->cf->size;
	uint16_t flags = r->cf->ack ? SL_PUB_F_ACK_REQ : 0;
	/* Sampled at --rate 0 over shm (sample_mask): the rest are not timed
	 * and carry timestamp 0, which the subscriber side leaves out of the
	 * latency figures. */
	bool clocked = (r->sample_i++ & r->sample_mask) == 0;
	uint64_t t0 = clocked ? lg_ticks() : 0, t1;
	void *d;
	int rc;

	if (r->cf->shm) {
		rc = sl_client_claim(p->c, p->topic_id, len, &d);
		if (rc < 0)
			return rc;
		memcpy(d, payload_buf, len);
		rc = sl_client_commit(p->c, clocked ? lg_ticks() : 0, flags);
	} else {
		rc = sl_client_publish(p->c, p->topic_id, payload_buf, len, sched_ns, flags);
	}
	if (!clocked || rc != 0)
		return rc;
	t1 = lg_ticks();
	if (timed)
		sl_hist_record(&r->call, ticks_to_ns(r, t1 - t0));
	else
		r->call_skipped++;
	return rc;
}

/* Send publisher @p's messages that are due by @now, up to a burst and
 * *@room (counted down). Returns 0 or a -errno other than -EAGAIN (which
 * just ends the burst). */
static int
pub_send_due(struct lg_run *r, struct lg_pub *p, unsigned idx, uint64_t now, uint64_t *room)
{
	struct lg_payload pl = { .pub = idx, .run = r->run_id };
	unsigned n;
	int rc;

	for (n = 0; n < LG_BURST && p->next < r->quota && *room > 0; n++) {
		pl.sched_ns = due_ns(r, p, now);
		if (r->ns_per_msg > 0 && pl.sched_ns > now)
			break;
		pl.index = p->next;
		memcpy(payload_buf, &pl, sizeof(pl));
		rc = pub_one(r, p, pl.sched_ns, pl.sched_ns >= r->warmup_end_ns);
		if (rc == -EAGAIN) {
			/* Stays due: retried next pass, and its latency will show the wait. */
			r->backpressure++;
			break;
		}
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": publisher %u: publish failed: %s\n", idx,
				strerror(-rc));
			return rc;
		}
		p->next++;
		r->sent++;
		(*room)--;
	}
	return 0;
}

/*
 * Over shared memory each subscriber is drained (up to LG_SHM_DRAIN_BURSTS
 * bursts) before the publishers go again: an empty poll costs nanoseconds
 * there, and a publisher in the same thread would otherwise outrun its own
 * subscribers at --rate 0 until their rings overflow. Over UDP one burst,
 * as a poll costs a system call.
 */
static int
poll_subs(struct lg_run *r)
{
	unsigned j, k, bursts = r->cf->shm ? LG_SHM_DRAIN_BURSTS : 1;
	int rc;

	for (j = 0; j < r->cf->subs; j++) {
		r->cur_sub = j;
		k = 0;
		do
			rc = sl_client_poll(r->subs[j], on_deliver, r, LG_BURST);
		while (rc > 0 && ++k < bursts);
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": subscriber %u: %s\n", j,
				rc == -ENOTCONN ? "broker dropped the session" : strerror(-rc));
			return rc;
		}
	}
	return sl_lg_group_poll_dead(r);
}

static int
poll_pubs(struct lg_run *r)
{
	unsigned k;
	int rc;

	for (k = 0; k < r->cf->pubs; k++) {
		rc = sl_client_poll(r->pubs[k].c, on_pub_deliver, NULL, LG_BURST);
		if (rc < 0) {
			fprintf(stderr, LG_NAME ": publisher %u: %s\n", k,
				rc == -ENOTCONN ? "broker dropped the session" : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void
progress(struct lg_run *r, uint64_t now)
{
	double dt = (double)(now - r->prog_ns) / 1e9;

	fprintf(stderr, LG_NAME ": %6.1fs sent %" PRIu64 " received %" PRIu64
		" rate %.0f/s p99 %.2f us\n", (double)(now - r->start_ns) / 1e9, r->sent,
		r->received, dt > 0 ? (double)(r->received - r->prog_received) / dt : 0.0,
		(double)sl_hist_percentile(main_hist(r), 99) / 1e3);
	r->prog_received = r->received;
	r->prog_ns = now;
}

/* Work that both phases do each pass: receive, keep publishers alive, report. */
static int
loop_service(struct lg_run *r, uint64_t now, uint64_t *next_pub_poll, uint64_t *next_prog)
{
	int rc;

	rc = poll_subs(r);
	if (rc < 0)
		return rc;
	if (now >= *next_pub_poll) {
		rc = poll_pubs(r);
		if (rc < 0)
			return rc;
		*next_pub_poll = now + LG_PUB_POLL_NS;
	}
	if (now >= *next_prog) {
		if (!r->cf->quiet && !r->cf->json)
			progress(r, now);
		*next_prog += LG_PROGRESS_NS;
	}
	return 0;
}

/* Busy-polls: a sleeping loop would add its wake-up latency to every figure. */
int
sl_lg_run_send_phase(struct lg_run *r)
{
	uint64_t now, next_pub_poll, next_prog, room;
	unsigned k;
	int rc = 0, busy;

	r->tsc_start = lg_ticks();
	r->start_ns = sl_now_ns();
	r->warmup_end_ns = r->start_ns + r->cf->warmup_ms * 1000000ull;
	r->stop_ns = plan_stop(r);
	r->prog_ns = r->start_ns;
	next_pub_poll = r->start_ns + LG_PUB_POLL_NS;
	next_prog = r->start_ns + LG_PROGRESS_NS;
	for (;;) {
		now = sl_now_ns();
		if (now >= r->stop_ns || sl_lg_stop_requested || sl_lg_send_end_requested)
			break;
		busy = 0;
		room = window_room(r);
		for (k = 0; k < r->cf->pubs; k++) {
			rc = pub_send_due(r, &r->pubs[k], k, now, &room);
			if (rc < 0)
				goto out;
			busy |= r->pubs[k].next < r->quota;
		}
		if (!busy)
			break;
		rc = loop_service(r, now, &next_pub_poll, &next_prog);
		if (rc < 0)
			goto out;
	}
out:
	/* What is still batched goes now (a full socket: at the drain's polls). */
	for (k = 0; r->cf->batch_us && k < r->cf->pubs; k++)
		(void)sl_client_flush(r->pubs[k].c);
	r->send_end_ns = sl_now_ns();
	return rc;
}

/* With --ack: is every publish settled (acknowledged or refused)? */
static int
all_settled(const struct lg_run *r)
{
	unsigned k;

	for (k = 0; r->cf->ack && k < r->cf->pubs; k++)
		if (sl_client_settled(r->pubs[k].c) < sl_client_last_seq(r->pubs[k].c))
			return 0;
	return 1;
}

/* Keep receiving for the drain period, or until every copy has arrived and
 * (with --ack) every publish is settled. */
int
sl_lg_run_drain_phase(struct lg_run *r)
{
	uint64_t now, next_pub_poll = 0, next_prog, end;
	uint64_t expected = r->sent * (r->cf->subs ? lg_tracks(r->cf) : 0);
	int rc;

	now = sl_now_ns();
	end = now + r->cf->drain_ms * 1000000ull;
	next_prog = r->prog_ns + LG_PROGRESS_NS;
	/* Dead letters stand for the messages the group gave up on. */
	while (now < end && (r->unique + r->dead_lettered < expected || !all_settled(r)) &&
	       !sl_lg_stop_requested) {
		rc = loop_service(r, now, &next_pub_poll, &next_prog);
		if (rc < 0)
			return rc;
		now = sl_now_ns();
	}
	return 0;
}

int
sl_lg_run_alloc(struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;

	r->pubs = calloc(cf->pubs, sizeof(*r->pubs));
	r->subs = calloc(cf->subs ? cf->subs : 1, sizeof(*r->subs));
	r->topic_ids = calloc(cf->topics, sizeof(*r->topic_ids));
	r->bitmap = calloc((size_t)lg_tracks(cf) * cf->pubs * r->words + 1, sizeof(*r->bitmap));
	r->last = calloc((size_t)lg_tracks(cf) * cf->pubs + 1, sizeof(*r->last));
	if (r->window) {
		r->hi = calloc((size_t)lg_tracks(cf) * cf->pubs, sizeof(*r->hi));
		r->acc = calloc(lg_tracks(cf), sizeof(*r->acc));
	}
	r->member_delivered = calloc(cf->subs + 1, sizeof(*r->member_delivered));
	r->member_redelivered = calloc(cf->subs + 1, sizeof(*r->member_redelivered));
	if (!r->pubs || !r->subs || !r->topic_ids || !r->bitmap || !r->last ||
	    !r->member_delivered || !r->member_redelivered ||
	    (r->window && (!r->hi || !r->acc))) {
		fprintf(stderr, LG_NAME ": out of memory\n");
		return -ENOMEM;
	}
	/* Touch the bitmap now (it may be tens of MiB at --rate 0 over shm), so
	 * its page faults do not land in the send phase. */
	memset(r->bitmap, 0,
	       ((size_t)lg_tracks(cf) * cf->pubs * r->words + 1) * sizeof(*r->bitmap));
	/* Any value that differs between runs will do; it only tells runs apart. */
	r->run_id = (uint32_t)(sl_now_ns() ^ ((uint64_t)getpid() << 16)) | 1u;
	r->ns_per_tick = sl_tsc_ns_per_tick(LG_CALIB_NS);
	if (sl_hist_init(&r->hist, SL_HIST_SUB_BITS_DEFAULT) < 0 ||
	    sl_hist_init(&r->oneway, SL_HIST_SUB_BITS_DEFAULT) < 0)
		return -EINVAL;
	return sl_hist_init(&r->call, SL_HIST_SUB_BITS_DEFAULT);
}

void
sl_lg_run_free(struct lg_run *r)
{
	unsigned i;

	for (i = 0; r->pubs && i < r->cf->pubs; i++)
		sl_client_close(r->pubs[i].c);
	for (i = 0; r->subs && i < r->cf->subs; i++)
		sl_client_close(r->subs[i]);
	sl_client_close(r->dead);
	if (r->ack_log != NULL)
		fclose(r->ack_log);
	free(r->member_delivered);
	free(r->member_redelivered);
	free(r->pubs);
	free(r->subs);
	free(r->topic_ids);
	free(r->bitmap);
	free(r->last);
	free(r->hi);
	free(r->acc);
	free(r);
}
