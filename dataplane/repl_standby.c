/* SPDX-License-Identifier: BSD-3-Clause */
/* The standby's side of replication: the primary's topics mapped to local ones, its records applied to the local journals, positions and acknowledgements. */

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include <common/proto.h>

#include "producer.h"
#include "repl.h"
#include "journal.h"
#include "worker_internal.h"

/*
 * The standby keeps, per topic id of the primary (rtopic), the local topic
 * of the same name. Records are appended with sl_journal_append_replica
 * (their seq, timestamps, producer and leader epoch as the primary wrote
 * them), only in order: a later seq is a gap (ACK with the GAP flag: the
 * primary resends from what we hold), an earlier one a duplicate (ACK
 * again). Each iteration the journals appended to are synced once (group
 * commit), then ACKed with their durable seq: an ACK means the persist
 * barrier completed here, as a publisher's ACK does.
 *
 * Topic creation opens files: the main lcore does it (sl_repl_main_poll)
 * from a small request table; DATA for a topic not yet created is dropped
 * and resent by the primary. Truncation (rare: a rejoin after a divergent
 * history) makes file-system calls on this worker; the node is a standby
 * then, serving no client, and the journal's owner must be the one to do it.
 */

#define DIRTY_MAX 4096 /* rtopics appended to in one iteration; more commit early */

int
sl_repl_standby_init(struct sl_repl *r, uint32_t cap)
{
	r->n_rtopics = cap;
	r->rtopics = rte_zmalloc("sl_repl_rt", sizeof(*r->rtopics) * cap, RTE_CACHE_LINE_SIZE);
	r->dirty = rte_malloc("sl_repl_dirty", sizeof(*r->dirty) * DIRTY_MAX, 0);
	r->frag_cap = SL_MAX_MESSAGE;
	r->frag = rte_malloc("sl_repl_frag", r->frag_cap, RTE_CACHE_LINE_SIZE);
	if (r->rtopics == NULL || r->dirty == NULL || r->frag == NULL) {
		sl_repl_standby_fini(r);
		return -ENOMEM;
	}
	return 0;
}

void
sl_repl_standby_fini(struct sl_repl *r)
{
	rte_free(r->rtopics);
	rte_free(r->dirty);
	rte_free(r->frag);
	r->rtopics = NULL;
	r->dirty = NULL;
	r->frag = NULL;
}

static struct sl_topic_state *
local_state(struct sl_worker *w, const struct sl_repl_rtopic *rt)
{
	return sl_route_state(&w->dp->route, rt->local);
}

static void
snapshot(struct sl_topic_state *ts)
{
	__atomic_store_n(&ts->j_durable, sl_journal_durable_seq(ts->journal), __ATOMIC_RELAXED);
	__atomic_store_n(&ts->j_first, sl_journal_first_seq(ts->journal), __ATOMIC_RELAXED);
	__atomic_store_n(&ts->j_bytes, sl_journal_bytes(ts->journal), __ATOMIC_RELAXED);
	__atomic_store_n(&ts->seq, sl_journal_last_seq(ts->journal), __ATOMIC_RELAXED);
}

static void
send_pos(struct sl_worker *w, uint32_t rtopic, struct sl_repl_rtopic *rt)
{
	struct sl_topic_state *ts = local_state(w, rt);
	struct sl_journal *j = ts->journal;

	rt->pos_ns = sl_repl_now_ns(w);
	if (j == NULL) /* durability none here: nothing to resume from */
		(void)sl_repl_send_pos(w, w->dp->repl->up, rtopic, 0, 0, 0);
	else
		(void)sl_repl_send_pos(w, w->dp->repl->up, rtopic, sl_journal_last_epoch(j),
				       sl_journal_last_seq(j), sl_journal_first_seq(j));
}

static void
catchup_publish(struct sl_repl *r)
{
	sl_repl_gauge(r, SL_REPL_CTR_repl_catchup_done, r->catchup_done);
	sl_repl_gauge(r, SL_REPL_CTR_repl_catchup_total, r->catchup_total);
	if (r->ha) {
		__atomic_store_n(&r->ha->catchup_total, r->catchup_total, __ATOMIC_RELAXED);
		__atomic_store_n(&r->ha->catchup_done, r->catchup_done, __ATOMIC_RELAXED);
	}
}

/* Count what this topic lacks toward catch-up, once per (re)join. */
static void
catchup_note(struct sl_worker *w, struct sl_repl_rtopic *rt, uint64_t primary_last)
{
	struct sl_repl *r = w->dp->repl;
	struct sl_topic_state *ts;
	uint64_t have;

	if (rt->catchup_end != 0 || primary_last == 0)
		return;
	rt->catchup_end = primary_last;
	ts = local_state(w, rt);
	have = ts->journal ? sl_journal_last_seq(ts->journal) : 0;
	if (primary_last > have)
		r->catchup_total += primary_last - have;
	catchup_publish(r);
}

void
sl_repl_standby_on_topic(struct sl_worker *w, const struct sl_repl_topic *f)
{
	struct sl_repl *r = w->dp->repl;
	struct sl_repl_rtopic *rt;
	struct sl_repl_mkreq *q = NULL;
	unsigned i;

	if (f->rtopic == 0 || f->rtopic >= r->n_rtopics) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_unknown_topic, 1);
		return;
	}
	rt = &r->rtopics[f->rtopic];
	if (rt->state == SL_REPL_RT_READY) {
		const struct sl_topic *t = &w->dp->route.topics[rt->local];

		/* Still the same topic (the primary may have deleted the
		 * name and given its id to another). */
		if (__atomic_load_n(&t->active, __ATOMIC_ACQUIRE) && t->name_len == f->name_len &&
		    memcmp(t->name, f + 1, f->name_len) == 0) {
			catchup_note(w, rt, f->last_seq);
			send_pos(w, f->rtopic, rt);
			return;
		}
		rt->state = SL_REPL_RT_NONE;
	}
	if (rt->state == SL_REPL_RT_CREATING)
		return; /* the main lcore is at it; the primary announces again */
	for (i = 0; i < SL_REPL_MKREQ; i++)
		if (__atomic_load_n(&r->mkreq[i].state, __ATOMIC_ACQUIRE) == 0) {
			q = &r->mkreq[i];
			break;
		}
	if (q == NULL) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_no_room, 1);
		return;
	}
	memset(&q->spec, 0, sizeof(q->spec));
	q->spec.durability = f->durability;
	q->spec.backpressure = f->backpressure;
	q->spec.retain_bytes = f->retain_bytes;
	q->spec.retain_age_s = f->retain_age_s;
	q->spec.capacity_bytes = f->capacity_bytes;
	q->spec.retransmit_window = f->retransmit_window;
	q->spec.max_message = f->max_message;
	q->rtopic = f->rtopic;
	q->last_seq = f->last_seq;
	q->name_len = f->name_len;
	memcpy(q->name, f + 1, f->name_len);
	q->name[f->name_len] = '\0';
	q->local = 0;
	q->rc = 0;
	rt->state = SL_REPL_RT_CREATING;
	rt->catchup_end = 0;
	/* Release: the main lcore reads the request after seeing 1. */
	__atomic_store_n(&q->state, 1, __ATOMIC_RELEASE);
}

/* The main lcore's answers: the topics are there (or not). */
static unsigned
take_created(struct sl_worker *w, struct sl_repl *r)
{
	unsigned i, work = 0;

	for (i = 0; i < SL_REPL_MKREQ; i++) {
		struct sl_repl_mkreq *q = &r->mkreq[i];
		struct sl_repl_rtopic *rt;

		/* Acquire: pairs with the main lcore's release of the answer. */
		if (__atomic_load_n(&q->state, __ATOMIC_ACQUIRE) != 2)
			continue;
		rt = &r->rtopics[q->rtopic];
		if (rt->state == SL_REPL_RT_CREATING) {
			if (q->rc >= 0 && q->local != 0) {
				rt->local = q->local;
				rt->state = SL_REPL_RT_READY;
				if (q->rc == 1)
					sl_repl_count(r, SL_REPL_CTR_repl_topics_created, 1);
				catchup_note(w, rt, q->last_seq);
				send_pos(w, q->rtopic, rt);
			} else {
				rt->state = SL_REPL_RT_FAILED;
			}
		}
		__atomic_store_n(&q->state, 0, __ATOMIC_RELEASE);
		work++;
	}
	return work;
}

/* The topic of @rtopic, ready and journaled; NULL (counted) otherwise. */
static struct sl_repl_rtopic *
ready(struct sl_repl *r, struct sl_worker *w, uint32_t rtopic)
{
	struct sl_repl_rtopic *rt;

	if (rtopic == 0 || rtopic >= r->n_rtopics ||
	    r->rtopics[rtopic].state != SL_REPL_RT_READY) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_unknown_topic, 1);
		return NULL;
	}
	rt = &r->rtopics[rtopic];
	if (local_state(w, rt)->journal == NULL) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_journal, 1);
		return NULL;
	}
	return rt;
}

void
sl_repl_standby_on_trunc(struct sl_worker *w, const struct sl_repl_trunc *f)
{
	struct sl_repl *r = w->dp->repl;
	struct sl_repl_rtopic *rt = ready(r, w, f->rtopic);
	struct sl_topic_state *ts;
	int rc;

	if (rt == NULL)
		return;
	ts = local_state(w, rt);
	if (f->keep < sl_journal_last_seq(ts->journal)) {
		rc = sl_journal_truncate(ts->journal, f->keep);
		if (rc < 0) {
			sl_repl_count(r, SL_REPL_CTR_drop_repl_journal, 1);
			return;
		}
		sl_repl_count(r, SL_REPL_CTR_repl_truncations, 1);
		/* Dedup entries may name records now gone: built again from
		 * what the journal holds at the next publish here. */
		sl_worker_producer_topic_gone(w, rt->local);
		snapshot(ts);
	}
	if (r->frag_rtopic == f->rtopic)
		r->frag_have = 0, r->frag_rtopic = 0;
	send_pos(w, f->rtopic, rt);
}

static void
mark(struct sl_worker *w, struct sl_repl *r, uint32_t rtopic, struct sl_repl_rtopic *rt)
{
	if (rt->dirty)
		return;
	if (r->n_dirty == DIRTY_MAX)
		(void)sl_repl_standby_poll(w); /* commit early rather than grow */
	rt->dirty = 1;
	r->dirty[r->n_dirty++] = rtopic;
}

/* Append one whole record; @data of @len bytes. */
static void
apply(struct sl_worker *w, struct sl_repl *r, struct sl_repl_rtopic *rt,
      const struct sl_repl_data *f, const void *data, uint32_t len)
{
	struct sl_topic_state *ts = local_state(w, rt);
	struct sl_jrec_meta m = {
		.seq = f->seq,
		.timestamp = f->timestamp,
		.producer_id = f->producer_id,
		.producer_seq = f->producer_seq,
		.producer_epoch = f->producer_epoch,
		.leader_epoch = f->leader_epoch,
		.hdrs_len = f->hdrs_len,
	};
	uint64_t last = sl_journal_last_seq(ts->journal);
	int rc;

	if (f->seq <= last && last != 0) {
		/* Held already (a resend after a lost ACK): acknowledge again. */
		sl_repl_count(r, SL_REPL_CTR_repl_dup_records, 1);
		mark(w, r, f->rtopic, rt);
		return;
	}
	rc = sl_journal_append_replica(ts->journal, &m, data, len);
	if (rc == -ESPIPE) {
		sl_repl_count(r, SL_REPL_CTR_repl_gaps, 1);
		rt->gap = 1;
		mark(w, r, f->rtopic, rt);
		return;
	}
	if (rc < 0) {
		sl_repl_count(r, SL_REPL_CTR_drop_repl_journal, 1);
		mark(w, r, f->rtopic, rt); /* the primary hears where we are */
		return;
	}
	__atomic_store_n(&ts->seq, f->seq, __ATOMIC_RELAXED);
	sl_ctr_add(&ts->published, 1);
	/* As the publish path does: a resend of this producer's publish to
	 * this node, once it is primary, is recognised. */
	if (ts->dedup_built && f->producer_epoch != 0 && f->producer_seq != 0 &&
	    sl_dedup_rebuild(w->dedup, f->producer_id, f->producer_epoch, rt->local,
			     f->producer_seq, f->seq, w->now) < 0)
		drop(w, SL_DROP_producer_table_full);
	sl_repl_count(r, SL_REPL_CTR_repl_records_applied, 1);
	sl_repl_count(r, SL_REPL_CTR_repl_bytes_applied, len);
	if (rt->catchup_end && f->seq <= rt->catchup_end && r->catchup_done < r->catchup_total)
		r->catchup_done++;
	mark(w, r, f->rtopic, rt);
}

void
sl_repl_standby_on_data(struct sl_worker *w, const struct sl_repl_data *f)
{
	struct sl_repl *r = w->dp->repl;
	struct sl_repl_rtopic *rt = ready(r, w, f->rtopic);
	const uint8_t *chunk;
	uint32_t n;

	if (rt == NULL)
		return;
	chunk = sl_repl_data_chunk(f, &n);
	if (f->frag_off == 0 && n == f->total_len) {
		apply(w, r, rt, f, chunk, n);
		return;
	}
	/* A piece of a record larger than a datagram: pieces come in order. */
	if (f->frag_off == 0) {
		if (f->total_len > r->frag_cap) {
			sl_repl_count(r, SL_REPL_CTR_drop_repl_frag, 1);
			return;
		}
		r->frag_rtopic = f->rtopic;
		r->frag_seq = f->seq;
		r->frag_have = 0;
	} else if (r->frag_rtopic != f->rtopic || r->frag_seq != f->seq ||
		   r->frag_have != f->frag_off) {
		/* A piece lost or out of order: the primary resends the record. */
		sl_repl_count(r, SL_REPL_CTR_drop_repl_frag, 1);
		r->frag_rtopic = 0;
		return;
	}
	memcpy(r->frag + r->frag_have, chunk, n);
	r->frag_have += n;
	if (r->frag_have < f->total_len)
		return;
	r->frag_rtopic = 0;
	apply(w, r, rt, f, r->frag, f->total_len);
}

unsigned
sl_repl_standby_poll(struct sl_worker *w)
{
	struct sl_repl *r = w->dp->repl;
	unsigned work = take_created(w, r);
	uint32_t i;

	/* Group commit: each journal appended to this iteration is synced
	 * once; then its durable seq is acknowledged. */
	for (i = 0; i < r->n_dirty; i++) {
		uint32_t rtopic = r->dirty[i];
		struct sl_repl_rtopic *rt = &r->rtopics[rtopic];
		struct sl_topic_state *ts;

		rt->dirty = 0;
		if (rt->local == 0)
			continue;
		ts = local_state(w, rt);
		if (ts->journal == NULL)
			continue;
		(void)sl_journal_sync(ts->journal);
		sl_repl_count(r, SL_REPL_CTR_repl_syncs, 1);
		snapshot(ts);
		if (rt->state != SL_REPL_RT_READY)
			continue; /* unmapped meanwhile (a rejoin): synced all the same */
		rt->acked_sent = sl_journal_durable_seq(ts->journal);
		(void)sl_repl_send_ack(w, r->up, rtopic, rt->gap ? SL_REPL_ACK_F_GAP : 0,
				       rt->acked_sent, sl_journal_last_seq(ts->journal));
		rt->gap = 0;
		work++;
	}
	if (r->n_dirty)
		catchup_publish(r);
	r->n_dirty = 0;
	return work;
}

void
sl_repl_standby_rejoin(struct sl_worker *w)
{
	struct sl_repl *r = w->dp->repl;
	uint32_t i;

	/* A new primary (or the same one restarted) numbers its topics its
	 * own way: the map is rebuilt from its announcements. */
	for (i = 0; i < r->n_rtopics; i++) {
		struct sl_repl_rtopic *rt = &r->rtopics[i];

		if (rt->state == SL_REPL_RT_READY || rt->state == SL_REPL_RT_FAILED)
			rt->state = SL_REPL_RT_NONE;
		rt->catchup_end = 0;
		rt->gap = 0;
	}
	r->frag_rtopic = 0;
	r->catchup_done = 0;
	r->catchup_total = 0;
	catchup_publish(r);
}
