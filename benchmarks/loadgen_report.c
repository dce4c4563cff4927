/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-loadgen report: losses, duplicates and latency percentiles, as text or JSON. */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loadgen.h"

/* p50, p90, p99, p99.9, p99.99 and max of @h into @out. */
static void
percentiles(const struct sl_hist *h, uint64_t out[LG_NP])
{
	static const double ps[LG_NP - 1] = { 50, 90, 99, 99.9, 99.99 };
	unsigned i;

	for (i = 0; i < LG_NP - 1; i++)
		out[i] = sl_hist_percentile(h, ps[i]);
	out[LG_NP - 1] = sl_hist_max(h);
}

void
sl_lg_collect_stats(struct lg_run *r, struct lg_stats *st)
{
	struct sl_client_stats cs;
	unsigned i;

	for (i = 0; i < r->cf->subs; i++) {
		sl_client_stats(r->subs[i], &cs);
		r->gaps += cs.gaps;
		r->stash_drops += cs.stash_drops;
		r->naks_sent += cs.naks_sent;
		r->nak_seqs += cs.nak_seqs;
		r->retrans += cs.retrans_received;
		r->credits += cs.credits_sent;
		r->holes_given_up += cs.holes_given_up;
		r->dup_drops += cs.dup_drops;
		r->reordered += cs.reordered;
	}
	for (i = 0; i < r->cf->pubs; i++) {
		sl_client_stats(r->pubs[i].c, &cs);
		r->acked += cs.pub_acked;
		r->unacked += cs.pub_outstanding;
		r->refused += cs.publish_refused;
		r->resent += cs.resent;
		r->ooo_refused += cs.out_of_order;
		r->pub_datagrams += cs.datagrams;
	}
	if (r->cf->group)
		sl_lg_group_finish(r);
	st->expected = r->sent * (r->cf->subs ? lg_tracks(r->cf) : 0);
	/* A group's dead letters were given up on, not lost. */
	st->lost = st->expected > r->unique + r->dead_lettered
			   ? st->expected - r->unique - r->dead_lettered : 0;
	/* With --rate 0 and no --count the quota is only a cap, not a plan. */
	st->unsent = 0;
	if (r->cf->rate > 0 || r->cf->count)
		st->unsent = r->quota * r->cf->pubs - r->sent;
	st->send_s = (double)(r->send_end_ns - r->start_ns) / 1e9;
	st->pub_per_s = st->send_s > 0 ? (double)r->sent / st->send_s : 0;
	st->msgs_per_s = st->send_s > 0 ? (double)r->received / st->send_s : 0;
	if (r->cf->subs == 0)
		st->msgs_per_s = st->pub_per_s; /* nothing is delivered: the publish rate */
	percentiles(main_hist(r), st->p);
	percentiles(&r->hist, st->due);
	percentiles(&r->call, st->call);
}

/* Which latency p50_ns..max_ns carry. */
static const char *
latency_kind(const struct lg_run *r)
{
	if (r->cf->shm)
		return "publish-to-deliver";
	return r->cf->rate > 0 ? "from-due" : "from-send";
}

/* The first LG_RANGES gap events and missing index ranges, as JSON lists. */
static void
report_json_ranges(const struct lg_run *r)
{
	uint64_t pair, i, first, n = 0, g;

	printf(",\"gap_ranges\":[");
	for (g = 0; g < r->ev.gap && g < LG_RANGES; g++)
		printf("%s{\"topic\":%u,\"first\":%" PRIu64 ",\"last\":%" PRIu64
		       ",\"error\":%u}", g ? "," : "", r->ev.gaps[g].topic_id, r->ev.gaps[g].first,
		       r->ev.gaps[g].last, r->ev.gaps[g].error);
	/* Message indexes never delivered, per (subscriber, publisher). */
	printf("],\"missing\":[");
	for (pair = 0; pair < (uint64_t)lg_tracks(r->cf) * r->cf->pubs && n < LG_RANGES; pair++) {
		const uint64_t *bm = &r->bitmap[pair * r->words];

		for (i = 0; i < r->pubs[pair % r->cf->pubs].next && n < LG_RANGES; i++) {
			if (bm[i / 64] & (UINT64_C(1) << (i % 64)))
				continue;
			first = i;
			while (i + 1 < r->pubs[pair % r->cf->pubs].next &&
			       !(bm[(i + 1) / 64] & (UINT64_C(1) << ((i + 1) % 64))))
				i++;
			printf("%s{\"sub\":%" PRIu64 ",\"pub\":%" PRIu64 ",\"first\":%" PRIu64
			       ",\"last\":%" PRIu64 "}", n++ ? "," : "", pair / r->cf->pubs,
			       pair % r->cf->pubs, first, i);
		}
	}
	printf("]");
}

void
sl_lg_report_json(const struct lg_run *r, const struct lg_stats *st)
{
	const struct lg_conf *cf = r->cf;

	printf("{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"duplicates\":%" PRIu64 ",\"msgs_per_s\":%.1f,\"p50_ns\":%" PRIu64
	       ",\"p90_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64 ",\"p999_ns\":%" PRIu64
	       ",\"p9999_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 ",\"expected\":%" PRIu64
	       ",\"unique\":%" PRIu64 ",\"unsent\":%" PRIu64 ",\"backpressure\":%" PRIu64
	       ",\"gaps\":%" PRIu64 ",\"stash_drops\":%" PRIu64 ",\"foreign\":%" PRIu64
	       ",\"corrupt\":%" PRIu64 ",\"latency_samples\":%" PRIu64 ",\"mean_ns\":%.0f"
	       ",\"publishers\":%u,\"subscribers\":%u,\"topics\":%u,\"size\":%u"
	       ",\"rate\":%.0f,\"send_s\":%.3f",
	       r->sent, r->received, st->lost, r->duplicates, st->msgs_per_s, st->p[0], st->p[1],
	       st->p[2], st->p[3], st->p[4], st->p[5], st->expected, r->unique, st->unsent,
	       r->backpressure, r->gaps, r->stash_drops, r->foreign, r->bad,
	       sl_hist_count(main_hist(r)), sl_hist_mean(main_hist(r)), cf->pubs, cf->subs,
	       cf->topics, cf->size, cf->rate, st->send_s);
	/* Added keys go after the old ones, whose order readers may rely on. */
	printf(",\"transport\":\"%s\",\"latency\":\"%s\",\"publish_per_s\":%.1f"
	       ",\"due_p50_ns\":%" PRIu64 ",\"due_p90_ns\":%" PRIu64 ",\"due_p99_ns\":%" PRIu64
	       ",\"due_p999_ns\":%" PRIu64 ",\"due_p9999_ns\":%" PRIu64 ",\"due_max_ns\":%" PRIu64
	       ",\"due_samples\":%" PRIu64 ",\"publish_call_p50_ns\":%" PRIu64
	       ",\"publish_call_p90_ns\":%" PRIu64 ",\"publish_call_p99_ns\":%" PRIu64
	       ",\"publish_call_p999_ns\":%" PRIu64 ",\"publish_call_p9999_ns\":%" PRIu64
	       ",\"publish_call_max_ns\":%" PRIu64 ",\"publish_call_samples\":%" PRIu64
	       ",\"tsc_ns_per_tick\":%.6f,\"window\":%" PRIu64,
	       cf->shm ? "shm" : "udp", latency_kind(r), st->pub_per_s, st->due[0], st->due[1],
	       st->due[2], st->due[3], st->due[4], st->due[5], sl_hist_count(&r->hist),
	       st->call[0], st->call[1], st->call[2], st->call[3], st->call[4], st->call[5],
	       sl_hist_count(&r->call), r->ns_per_tick, r->window);
	printf(",\"out_of_order\":%" PRIu64 ",\"restamped\":%" PRIu64 ",\"ack\":%s"
	       ",\"acked\":%" PRIu64 ",\"unacked\":%" PRIu64 ",\"refused\":%" PRIu64
	       ",\"events\":{\"disconnected\":%" PRIu64 ",\"reconnected\":%" PRIu64
	       ",\"gap\":%" PRIu64 ",\"gap_seqs\":%" PRIu64 ",\"incarnation\":%" PRIu64
	       ",\"fenced\":%" PRIu64 ",\"other\":%" PRIu64 "},\"pass\":%s",
	       r->out_of_order, r->restamped, cf->ack ? "true" : "false", r->acked, r->unacked,
	       r->refused, r->ev.disconnected, r->ev.reconnected, r->ev.gap, r->ev.gap_seqs,
	       r->ev.incarnation, r->ev.fenced, r->ev.group_error + r->ev.other,
	       sl_lg_failed(r, st) ? "false" : "true");
	/* How the datagrams were protected: not at all (no credentials, or
	 * shared memory), sealed with a MAC (credentials), or encrypted. */
	printf(",\"protection\":\"%s\"",
	       cf->user == NULL || cf->shm ? "none" : cf->encrypt ? "aead" : "mac");
	report_json_ranges(r);
	if (cf->group)
		sl_lg_group_report_json(r);
	printf("}\n");
}

/*
 * Did the run fail its promise: anything lost, duplicated, out of order or
 * corrupted, a timestamp changed other than by a replay after a reconnect,
 * or with --ack a publish not acknowledged?
 */
int
sl_lg_failed(const struct lg_run *r, const struct lg_stats *st)
{
	int replayed = r->ev.reconnected > 0 || r->ev.incarnation > 0;

	if (st->lost || r->duplicates || r->out_of_order || r->bad)
		return 1;
	if (r->restamped && !replayed)
		return 1;
	return r->cf->ack && (r->unacked || r->refused || r->acked < r->sent);
}

/* "TITLE; N samples, M in warm-up left out)" and the percentiles, in units of @div ns. */
static void
report_text_pcts(const char *title, const struct sl_hist *h, const uint64_t p[LG_NP],
		 double div, uint64_t skipped)
{
	static const char *const names[LG_NP] = { "p50", "p90", "p99", "p99.9", "p99.99",
						  "max" };
	unsigned i;

	printf("%s; %" PRIu64 " samples, %" PRIu64 " in warm-up left out)\n", title,
	       sl_hist_count(h), skipped);
	for (i = 0; i < LG_NP; i++)
		printf("  %-7s %10.*f\n", names[i], div > 1 ? 2 : 0, (double)p[i] / div);
}

void
sl_lg_report_text(const struct lg_run *r, const struct lg_stats *st)
{
	const struct lg_conf *cf = r->cf;
	char title[160];

	printf("%u publisher(s), %u subscriber(s), %u topic(s), %u-byte payloads, %s, send "
	       "phase %.2f s\n", cf->pubs, cf->subs, cf->topics, cf->size,
	       cf->shm ? "shared memory" : "UDP", st->send_s);
	if (cf->rate > 0)
		printf("target rate   %.0f msgs/s\n", cf->rate);
	else if (r->window)
		printf("target rate   unbounded, at most %" PRIu64 " messages ahead of the "
		       "slowest subscriber\n", r->window);
	else
		printf("target rate   unbounded\n");
	printf("sent          %" PRIu64 "\n", r->sent);
	printf("received      %" PRIu64 "\n", r->received);
	printf("expected      %" PRIu64 "\n", st->expected);
	printf("lost          %" PRIu64 "\n", st->lost);
	printf("duplicates    %" PRIu64 "\n", r->duplicates);
	printf("msgs_per_s    %.1f%s\n", st->msgs_per_s, cf->subs ? "" : " (published: no "
	       "subscribers)");
	printf("publish_per_s %.1f\n", st->pub_per_s);
	printf("backpressure  %" PRIu64 "\n", r->backpressure);
	printf("gaps          %" PRIu64 "\n", r->gaps);
	printf("out_of_order  %" PRIu64 "\n", r->out_of_order);
	if (cf->ack)
		printf("acked         %" PRIu64 " (unacked %" PRIu64 ", refused %" PRIu64 ")\n",
		       r->acked, r->unacked, r->refused);
	printf("events        %" PRIu64 " disconnected, %" PRIu64 " reconnected, %" PRIu64
	       " gaps (%" PRIu64 " seqs), %" PRIu64 " incarnation, %" PRIu64 " fenced\n",
	       r->ev.disconnected, r->ev.reconnected, r->ev.gap, r->ev.gap_seqs,
	       r->ev.incarnation, r->ev.fenced);
	if (cf->group)
		sl_lg_group_report_text(r);
	if (r->naks_sent || r->holes_given_up || r->dup_drops || r->reordered)
		printf("recovery      %" PRIu64 " NAKs (%" PRIu64 " seqs), %" PRIu64
		       " retransmits taken, %" PRIu64 " reordered, %" PRIu64 " duplicates dropped, %"
		       PRIu64 " holes given up, %" PRIu64 " CREDITs\n",
		       r->naks_sent, r->nak_seqs, r->retrans, r->reordered, r->dup_drops,
		       r->holes_given_up, r->credits);
	if (r->resent || r->ooo_refused)
		printf("resends       %" PRIu64 " publishes sent again, %" PRIu64
		       " OUT_OF_ORDER refusals, %" PRIu64 " datagrams with publishes\n",
		       r->resent, r->ooo_refused, r->pub_datagrams);
	if (r->restamped)
		printf("restamped     %" PRIu64 " (timestamp not the publisher's: replayed, or "
		       "mangled)\n", r->restamped);
	if (st->unsent)
		printf("unsent        %" PRIu64 " (send phase ended before they went out)\n",
		       st->unsent);
	if (r->bad)
		printf("corrupt       %" PRIu64 " (length or topic changed)\n", r->bad);
	if (r->foreign)
		printf("foreign       %" PRIu64 " (not from this run, ignored)\n", r->foreign);
	if (cf->shm)
		report_text_pcts("latency (us, publish to deliver, TSC stamp at commit",
				 &r->oneway, st->p, 1e3, r->warmup_skipped);
	if (!cf->shm || cf->rate > 0) {
		snprintf(title, sizeof(title), "latency (us, from %s",
			 cf->rate > 0 ? "scheduled time" : "send time");
		report_text_pcts(title, &r->hist, st->due, 1e3, r->warmup_skipped);
	}
	report_text_pcts(cf->shm ? "publish call (ns, claim+copy+commit" :
			 "publish call (ns, sl_client_publish", &r->call, st->call, 1,
			 r->call_skipped);
}

/* Publishes the broker refused (seen as ERRORs by the publishers' polls). */
void
sl_lg_report_refused(const struct lg_run *r)
{
	struct sl_client_stats cs;
	unsigned k;

	for (k = 0; k < r->cf->pubs; k++) {
		sl_client_stats(r->pubs[k].c, &cs);
		if (cs.publish_refused == 0)
			continue;
		if (cs.last_error == SL_E_DENIED)
			fprintf(stderr, LG_NAME ": publisher %u: not allowed to publish to '%s.%u' "
				"(ACL): %" PRIu64 " messages refused\n", k, r->cf->prefix,
				k % r->cf->topics, cs.publish_refused);
		else
			fprintf(stderr, LG_NAME ": publisher %u: broker refused %" PRIu64
				" messages: %s\n", k, cs.publish_refused,
				sl_error_code_str(cs.last_error));
	}
}
