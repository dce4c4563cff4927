/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-loadgen internals: the run's configuration and state, and the calls between its
 * option parser, its open-loop generator and its report. */

#ifndef SLUICE_LOADGEN_H
#define SLUICE_LOADGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <common/proto.h>
#include <sluice/sluice.h>

#include "hist.h"

#define LG_NAME "sluice-loadgen"
#define LG_MAX_CLIENTS 1000u	  /* per role; each is a socket with its own buffers */
#define LG_MAX_TOPICS 1000u
#define LG_MAX_RATE 1e8		  /* total msgs/s; a UDP loop in one thread is far below */
#define LG_MAX_DURATION_S 86400.0
#define LG_BITMAP_MAX (512ull << 20) /* bytes of duplicate/loss tracking we accept */
/* With --rate 0 and no --count, the quota assumes at most this rate per publisher
 * (over shared memory a publish is tens of ns, not microseconds). */
#define LG_ASAP_RATE_CAP 5e6
#define LG_ASAP_RATE_CAP_SHM 5e7
#define LG_CALIB_NS 50000000L	  /* TSC calibration against CLOCK_MONOTONIC */
/* Default --window over shm at --rate 0: this many bytes of deliveries in a
 * subscriber's ring, a quarter of the dataplane's default 512 KiB ring. */
#define LG_WINDOW_BYTES (128u << 10)
#define LG_BURST 64u		  /* messages per publisher or subscriber per loop pass */
#define LG_SHM_DRAIN_BURSTS 256u  /* shm: subscriber polls per pass, at most */
#define LG_GRACE_NS (10ull * 1000000000ull) /* lateness allowed past the planned end */
#define LG_ASAP_COUNT_LIMIT_NS (60ull * 1000000000ull)
#define LG_PUB_POLL_NS 1000000ull   /* publishers read acks and send heartbeats each ms */
#define LG_PROGRESS_NS 1000000000ull
#define LG_MAX_SIZE SL_MAX_MESSAGE /* larger than a datagram: libsluice fragments it */
#define LG_EVENT_LINES 20u	   /* event lines printed per run, at most */
#define LG_RANGES 8u		   /* gap and missing ranges kept for the JSON report */
#define NS_PER_S 1000000000ull

/* Start of every payload; the rest, up to --size, is zero padding. Host byte
 * order: the same process writes and reads it. */
struct lg_payload {
	uint32_t pub;	   /* publisher index */
	uint32_t run;	   /* run id, so traffic from another loadgen is not counted */
	uint64_t index;	   /* message index within the publisher */
	uint64_t sched_ns; /* scheduled send time, CLOCK_MONOTONIC */
};
_Static_assert(sizeof(struct lg_payload) == 24, "payload header is 24 bytes");
_Static_assert(offsetof(struct lg_payload, index) == 8, "index at 8");
_Static_assert(offsetof(struct lg_payload, sched_ns) == 16, "sched_ns at 16");

struct lg_conf {
	const char *host;
	uint16_t port;
	unsigned pubs;
	unsigned subs;
	int subs_set;	/* -S given */
	unsigned topics;
	const char *prefix;
	double rate; /* total msgs/s across publishers; 0: as fast as possible */
	uint32_t size;
	double duration_s;
	int duration_set;
	uint64_t count; /* per publisher; 0: run for the duration */
	uint64_t drain_ms;
	uint64_t warmup_ms;
	int json;
	int quiet;
	const char *credentials; /* --credentials FILE; NULL: from the environment */
	const char *user;	 /* credentials once loaded, for every client; NULL: none */
	const uint8_t *key;
	const char *shm; /* --shm NAME: shared memory to a local dataplane; NULL: UDP */
	int cpu;	 /* --cpu N; -1: not pinned */
	uint64_t window; /* --rate 0: messages ahead of the slowest subscriber; 0: no limit */
	int window_set;
	int ack;	 /* --ack: every publish asks for an ACK; all must be acknowledged */
	int events;	 /* --events: a line on stderr per event (always with text output) */
	const char *producer; /* --producer NAME: publisher k is producer NAME-k; NULL: fresh */
	uint32_t batch_us;    /* --batch-us: UDP publishes batched up to this long */
	int encrypt;	      /* --encrypt: encrypted sessions (with credentials) */
	/* --group NAME (v4): the subscribers are --consumers members of group
	 * NAME of every topic, each message processed by one of them, acked */
	const char *group;
	unsigned consumers;   /* --consumers N (default 3) */
	uint32_t credit;      /* --credit: each member's; 0: the library's default */
	const char *dead_letter; /* --dead-letter TOPIC: count what reaches it */
	const char *ack_log;	 /* --ack-log FILE: a line per acknowledged publish */
};

/* Events a run's clients raised (sl_client_opts.on_event), by type. */
struct lg_events {
	uint64_t disconnected, reconnected, gap, incarnation, fenced, group_error, other;
	uint64_t gap_seqs; /* sequences in the SL_EV_GAP ranges */
	struct sl_event gaps[LG_RANGES]; /* the first SL_EV_GAP events */
};

struct lg_pub {
	struct sl_client *c;
	uint32_t topic_id;
	uint64_t next; /* index of the next message to send */
	unsigned idx;	    /* its index among the publishers (--ack-log lines) */
	struct lg_run *run; /* its run (the settle callback's argument) */
};

struct lg_run {
	const struct lg_conf *cf;
	struct lg_pub *pubs;
	struct sl_client **subs;
	uint32_t *topic_ids;
	FILE *ack_log;	   /* --ack-log, line buffered; NULL without */
	bool parted;	   /* a topic is partitioned: messages arrive on its partitions */
	uint32_t run_id;
	uint64_t quota;	   /* messages each publisher is to send */
	uint64_t words;	   /* bitmap words per (subscriber, publisher) pair */
	uint64_t *bitmap;  /* [sub][pub][words]: one bit per message index */
	uint64_t *hi;	   /* with a window: [sub][pub] highest index delivered + 1 */
	uint64_t *acc;	   /* with a window: [sub] sum of its hi[], how far it has got */
	double ns_per_msg; /* per publisher; 0 when the rate is unbounded */
#define LG_SAMPLE 16u
	uint64_t start_ns;
	uint64_t warmup_end_ns;
	uint64_t stop_ns;     /* hard end of the send phase */
	uint64_t send_end_ns; /* when the send phase did end */
	unsigned cur_sub;     /* subscriber being polled, for the callback */
	uint64_t *last;	   /* [sub][pub] highest index delivered + 1: order check */
	uint64_t sent, received, unique, duplicates, foreign, bad, warmup_skipped;
	uint64_t out_of_order; /* first deliveries of an index below one already delivered */
	uint64_t restamped;    /* timestamp not the publisher's (replayed from a journal) */
	uint64_t acked, unacked, refused; /* --ack: publishes, from the clients' counts */
	struct lg_events ev;
	uint64_t backpressure, gaps, stash_drops;
	/* Subscribers' loss recovery (sums of their client stats). */
	uint64_t naks_sent, nak_seqs, retrans, credits, holes_given_up, dup_drops, reordered;
	/* Publishers' resends (sums of their client stats). */
	uint64_t resent, ooo_refused, pub_datagrams;
	uint64_t call_skipped; /* publishes in the warm-up window, not timed */
	/* Over shm at --rate 0, one publish in LG_SAMPLE is timed and stamped
	 * (mask LG_SAMPLE - 1; 0: every one): three TSC reads a message would
	 * otherwise cost this thread more than the broker spends on it. */
	uint32_t sample_mask;
	uint32_t sample_i;
	uint64_t window;       /* in effect; 0: none */
	uint64_t prog_received, prog_ns;
	double ns_per_tick; /* TSC calibration (1 where there is no TSC) */
	uint64_t tsc_start; /* TSC when the send phase began: no stamp of ours is older */
	struct sl_hist hist;   /* from the due time (the send time with --rate 0) */
	struct sl_hist oneway; /* shared memory: publish (commit) to delivery, TSC */
	struct sl_hist call;   /* time spent inside the publish call */
	/* --group: per member (r->subs[j]) messages processed and redelivered,
	 * and the dead-letter topic's subscriber. */
	uint64_t *member_delivered;
	uint64_t *member_redelivered;
	struct sl_client *dead;
	uint32_t dead_topic;
	uint64_t redelivered;	   /* group deliveries with delivery_count > 1 */
	uint64_t dead_lettered;	   /* this run's messages read from the dead-letter topic */
	uint64_t ack_failed;	   /* acks the library refused (queue full, session gone) */
	uint64_t group_acked, group_not_held; /* members' client stats, summed */
};

/* Rows of the loss/duplicate bitmap: one per subscriber, or a single one
 * for a group, whose members share the work. */
static inline unsigned
lg_tracks(const struct lg_conf *cf)
{
	return cf->group ? 1u : cf->subs;
}

#define LG_NP 6 /* p50, p90, p99, p99.9, p99.99, max */

struct lg_stats {
	uint64_t expected, lost, unsent;
	double send_s, msgs_per_s, pub_per_s;
	uint64_t p[LG_NP];    /* the headline latency: one-way on shm, from due on UDP */
	uint64_t due[LG_NP];  /* from the due (or send) time */
	uint64_t call[LG_NP]; /* inside the publish call */
};

/* Time stamp counter, or the monotonic clock in ns where there is none. */
static inline uint64_t
lg_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return sl_now_ns();
#endif
}

static inline uint64_t
ticks_to_ns(const struct lg_run *r, uint64_t ticks)
{
	return (uint64_t)((double)ticks * r->ns_per_tick + 0.5);
}

/* The histogram behind p50_ns..max_ns: what the latency target names. */
static inline const struct sl_hist *
main_hist(const struct lg_run *r)
{
	return r->cf->shm ? &r->oneway : &r->hist;
}

/* Set by SIGINT: the send and drain phases end early. */
extern volatile sig_atomic_t sl_lg_stop_requested;
/* Set by SIGUSR1: the send phase ends now, the drain phase runs as usual
 * (a test that decides when the load is over, then wants its report). */
extern volatile sig_atomic_t sl_lg_send_end_requested;

/* ---- loadgen_opts.c: options */

/* Fill @cf from the command line. Returns 0 to run, 1 after --help, or
 * -EINVAL for bad usage (message printed). */
int sl_lg_parse_args(struct lg_conf *cf, int argc, char **argv);

/* ---- loadgen_run.c: the open-loop generator */

/* Allocate @r's per-client arrays and histograms: 0 or -ENOMEM. */
int sl_lg_run_alloc(struct lg_run *r);
void sl_lg_run_free(struct lg_run *r);

/* Decide how many messages each publisher sends and size the bitmap that
 * catches losses and duplicates: 0, or -E2BIG (message printed). */
int sl_lg_plan_run(struct lg_run *r);

/* Connect every publisher and subscriber: 0 or -errno (message printed). */
int sl_lg_connect_all(struct lg_run *r);

/* Create the topics, point each publisher at one, subscribe everyone to all. */
int sl_lg_setup_topics(struct lg_run *r);

/* Send at the planned rate, busy-polling; then receive what is still on its way. */
int sl_lg_run_send_phase(struct lg_run *r);
int sl_lg_run_drain_phase(struct lg_run *r);

/* ---- loadgen_group.c: --group */

/* Every member joins group cf->group of every topic; the dead-letter
 * topic gets a subscriber of its own. 0 or -errno (message printed). */
int sl_lg_group_setup(struct lg_run *r);

/* A delivery to member r->cur_sub: acknowledged, counted. */
void sl_lg_group_note(struct lg_run *r, const struct sl_message *m);

/* Read the dead-letter topic: 0 or -errno (message printed). */
int sl_lg_group_poll_dead(struct lg_run *r);

/* Send the acks still queued, and sum the members' stats. */
void sl_lg_group_finish(struct lg_run *r);

/* The JSON keys and the text line of a group run. */
void sl_lg_group_report_json(const struct lg_run *r);
void sl_lg_group_report_text(const struct lg_run *r);

/* ---- loadgen_report.c: the report */

void sl_lg_collect_stats(struct lg_run *r, struct lg_stats *st);
void sl_lg_report_json(const struct lg_run *r, const struct lg_stats *st);
/* 1 when the run broke its promise (see the exit status in --help), else 0. */
int sl_lg_failed(const struct lg_run *r, const struct lg_stats *st);
void sl_lg_report_text(const struct lg_run *r, const struct lg_stats *st);
/* Publishes the broker refused (seen as ERRORs by the publishers' polls). */
void sl_lg_report_refused(const struct lg_run *r);

#endif /* SLUICE_LOADGEN_H */
