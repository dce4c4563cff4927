/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The standby side of replication through the worker's real code (a ring
 * port, EAL without huge pages or PCI): a primary's sealed datagrams to
 * ha.repl_port map its topic to the local one, answer POS, append its
 * records to the local journal in order (seq, epochs, producer kept) with
 * one sync per iteration and an ACK of the durable seq; duplicates and gaps
 * are acknowledged as such; TRUNC cuts the journal back; a record in pieces
 * is put together; the producer-dedup table learns replicated publishes;
 * forged, replayed, old-epoch and foreign datagrams change nothing and are
 * counted; heartbeats are heard and answered.
 */

#include <sys/stat.h>

#include <common/clock.h>
#include <common/cnc.h>
#include <common/repl.h>

#include "dp_harness.h"
#include "producer.h"
#include "repl.h"
#include "repl_primary.h"
#include "journal.h"
#include "worker_internal.h"

#include "check.h"

#define PEER_IP 0x0200000au  /* 10.0.0.2 */
#define OTHER_IP 0x0900000au /* 10.0.0.9 */
#define RPORT 9600
#define RTOPIC 11 /* the primary's id of the topic */

static struct sl_dp dp;
static struct rte_ring *rx, *tx;
static uint8_t pair_key[SL_KEY_LEN];
static struct sl_repl_tx prim;	/* the primary's sender half */
static struct sl_repl_rx prim_rx; /* the primary's receiver half (what the standby says) */
static char root[64];
static uint32_t local;

static struct sl_repl *
R(void)
{
	return dp.repl;
}

static uint64_t
rctr(unsigned c)
{
	return sl_ctr_read(&R()->ctr[c]);
}

static uint64_t
wall_ms(void)
{
	return sl_wall_ns() / 1000000u;
}

/* Enqueue a datagram of @len bytes from @ip:RPORT to the standby's repl_port. */
static void
inject(uint32_t ip, const void *dgram, uint32_t len)
{
	CHECK(harness_send_udp(&dp, rx, ip, RPORT, RPORT, dgram, len) == 0);
}

/* A datagram being built by the test's primary. */
static uint64_t dbuf_[SL_REPL_DGRAM_MAX / 8];
static struct sl_repl_dgram D;

static void
begin(void)
{
	sl_repl_dgram_init(&D, dbuf_, SL_REPL_DGRAM_MAX);
}

/* Seal what was built (role PRIMARY at @epoch); its length. */
static uint32_t
seal(uint32_t epoch)
{
	int len = sl_repl_seal(&prim, &D, SL_HA_ROLE_PRIMARY, epoch, 0, wall_ms());

	CHECK(len > 0);
	return (uint32_t)len;
}

static void
send_sealed(uint32_t epoch)
{
	uint32_t len = seal(epoch);

	inject(PEER_IP, dbuf_, len);
}

/* What the standby sent: its frames, collected. */
struct seen {
	unsigned n_pos, n_ack, n_hb;
	struct sl_repl_pos pos;
	struct sl_repl_ack ack;
	struct sl_repl_hb hb;
	unsigned to_peer; /* datagrams to PEER_IP:RPORT from our repl_port */
};

static void
pump(unsigned polls, struct seen *s)
{
	void *m = NULL;

	memset(s, 0, sizeof(*s));
	while (polls--)
		sl_worker_poll(dp.workers[0]);
	while (rte_ring_dequeue(tx, &m) == 0) {
		struct rte_mbuf *mb = m;
		uint8_t *p = rte_pktmbuf_mtod(mb, uint8_t *);
		struct sl_pkt_info pi;
		const struct sl_repl_fhdr *f;
		uint32_t off = sizeof(struct sl_repl_hdr);
		int type;

		/* As the primary receives it: addressed to its repl_port. */
		if (sl_pkt_parse(p, mb->data_len, PEER_IP, htons(RPORT), &pi) == SL_PKT_UDP &&
		    pi.src_ip == HARNESS_IP && pi.src_port == htons(RPORT) &&
		    sl_repl_rx_open(&prim_rx, p + pi.payload_off, pi.payload_len, wall_ms()) == 0) {
			s->to_peer++;
			while ((type = sl_repl_next(p + pi.payload_off, pi.payload_len, &off, &f)) >
			       0) {
				if (type == SL_REPL_POS)
					s->n_pos++, memcpy(&s->pos, f, sizeof(s->pos));
				else if (type == SL_REPL_ACK)
					s->n_ack++, memcpy(&s->ack, f, sizeof(s->ack));
				else if (type == SL_REPL_HB)
					s->n_hb++, memcpy(&s->hb, f, sizeof(s->hb));
			}
		}
		rte_pktmbuf_free(mb);
	}
}

static void
put_data(uint64_t seq, uint32_t epoch, const char *payload, uint64_t pid, uint64_t pseq)
{
	struct sl_repl_data m = { .rtopic = RTOPIC, .leader_epoch = epoch, .seq = seq,
				  .timestamp = 1000 + seq, .producer_id = pid,
				  .producer_seq = pseq, .producer_epoch = pid ? 1 : 0 };

	CHECK(sl_repl_put_data(&D, &m, payload, (uint32_t)strlen(payload), 0) ==
	      (int)strlen(payload));
}

static struct sl_journal *
J(void)
{
	return sl_route_state(&dp.route, local)->journal;
}

static int
topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	(void)arg;
	return harness_journal(ts, t, root, SL_DUR_SYNC);
}

/* TOPIC -> a creation asked of the main lcore -> POS once it is done. */
static void
test_topic(void)
{
	struct sl_repl_topic t = { .rtopic = RTOPIC, .durability = SL_DUR_SYNC, .last_seq = 5 };
	struct sl_repl_mkreq *q = &R()->mkreq[0];
	struct seen s;

	begin();
	CHECK(sl_repl_put_topic(&D, &t, "orders", 6) == 0);
	send_sealed(1);
	pump(2, &s);
	CHECK_EQ(s.n_pos, 0);
	CHECK_EQ(__atomic_load_n(&q->state, __ATOMIC_ACQUIRE), 1);
	CHECK_EQ(q->rtopic, RTOPIC);
	CHECK(strcmp(q->name, "orders") == 0);
	CHECK_EQ(q->spec.durability, SL_DUR_SYNC);
	CHECK_EQ(R()->rtopics[RTOPIC].state, SL_REPL_RT_CREATING);
	/* The main lcore's part: the topic exists here already. */
	q->local = local;
	q->rc = 0;
	__atomic_store_n(&q->state, 2, __ATOMIC_RELEASE);
	pump(1, &s);
	CHECK_EQ(R()->rtopics[RTOPIC].state, SL_REPL_RT_READY);
	CHECK_EQ(R()->rtopics[RTOPIC].local, local);
	CHECK_EQ(q->state, 0);
	CHECK_EQ(s.n_pos, 1);
	CHECK_EQ(s.pos.rtopic, RTOPIC);
	CHECK_EQ(s.pos.last_seq, 0);
	CHECK_EQ(R()->catchup_total, 5); /* the primary's 5 records are to come */
	/* Announced again: answered again, nothing created twice. */
	begin();
	CHECK(sl_repl_put_topic(&D, &t, "orders", 6) == 0);
	send_sealed(1);
	pump(1, &s);
	CHECK_EQ(s.n_pos, 1);
	CHECK_EQ(q->state, 0);
	CHECK_EQ(R()->catchup_total, 5); /* counted once */
}

static void
test_data(void)
{
	struct sl_jrec_view v;
	struct seen s;
	uint64_t syncs = rctr(SL_REPL_CTR_repl_syncs);
	uint64_t orig = 0;
	uint32_t slot;

	sl_route_state(&dp.route, local)->dedup_built = 1;
	begin();
	put_data(1, 1, "one", 0, 0);
	put_data(2, 1, "two", 0, 0);
	put_data(3, 1, "three", 0xfeed, 7);
	put_data(4, 1, "four", 0, 0);
	put_data(5, 1, "five", 0, 0);
	send_sealed(1);
	pump(1, &s);
	CHECK_EQ(sl_journal_last_seq(J()), 5);
	CHECK_EQ(sl_journal_durable_seq(J()), 5);
	CHECK_EQ(rctr(SL_REPL_CTR_repl_syncs), syncs + 1); /* one commit for the batch */
	CHECK_EQ(rctr(SL_REPL_CTR_repl_records_applied), 5);
	CHECK_EQ(s.n_ack, 1);
	CHECK_EQ(s.ack.seq, 5);
	CHECK_EQ(s.ack.last_seq, 5);
	CHECK_EQ(s.ack.flags, 0);
	CHECK(sl_journal_read(J(), 3, &v) == 0);
	CHECK_EQ(v.seq, 3);
	CHECK_EQ(v.len, 5);
	CHECK(memcmp(v.data, "three", 5) == 0);
	CHECK_EQ(v.timestamp, 1003);
	CHECK_EQ(v.producer_id, 0xfeed);
	CHECK_EQ(v.producer_seq, 7);
	CHECK_EQ(sl_journal_last_epoch(J()), 1);
	CHECK_EQ(sl_route_state(&dp.route, local)->seq, 5);
	CHECK_EQ(R()->catchup_done, 5);
	/* The producer's publish 7 is known here: a resend after a failover
	 * is a duplicate of seq 3. */
	CHECK_EQ(sl_dedup_check(dp.workers[0]->dedup, 0xfeed, 1, local, 7, false, 0, &slot, &orig),
		 SL_DEDUP_DUP);
	CHECK_EQ(orig, 3);

	/* A resend of 3..4 (a lost ACK): acknowledged again, not stored. */
	begin();
	put_data(3, 1, "three", 0xfeed, 7);
	put_data(4, 1, "four", 0, 0);
	send_sealed(1);
	pump(1, &s);
	CHECK_EQ(sl_journal_last_seq(J()), 5);
	CHECK_EQ(rctr(SL_REPL_CTR_repl_dup_records), 2);
	CHECK_EQ(s.n_ack, 1);
	CHECK_EQ(s.ack.seq, 5);

	/* A gap: 8 after 5. Not stored; ACK with GAP at 5. */
	begin();
	put_data(8, 1, "eight", 0, 0);
	send_sealed(1);
	pump(1, &s);
	CHECK_EQ(sl_journal_last_seq(J()), 5);
	CHECK_EQ(rctr(SL_REPL_CTR_repl_gaps), 1);
	CHECK_EQ(s.n_ack, 1);
	CHECK_EQ(s.ack.flags, SL_REPL_ACK_F_GAP);
	CHECK_EQ(s.ack.seq, 5);
}

/* Forged, replayed, stale, foreign, old-epoch: nothing applied, each counted. */
static void
test_refused(void)
{
	static uint8_t keep[SL_REPL_DGRAM_MAX];
	struct sl_repl_tx other;
	uint8_t bad_key[SL_KEY_LEN];
	struct seen s;
	uint32_t len;

	begin();
	put_data(6, 1, "six", 0, 0);
	len = seal(1);
	memcpy(keep, dbuf_, len);
	/* One byte of the frames changed. */
	((uint8_t *)dbuf_)[60] ^= 1;
	inject(PEER_IP, dbuf_, len);
	pump(1, &s);
	CHECK_EQ(rctr(SL_REPL_CTR_drop_repl_bad_mac), 1);
	/* Another pair's key. */
	memset(bad_key, 0x77, sizeof(bad_key));
	sl_repl_tx_init(&other, bad_key, prim.incarnation + 1);
	begin();
	put_data(6, 1, "six", 0, 0);
	CHECK(sl_repl_seal(&other, &D, SL_HA_ROLE_PRIMARY, 1, 0, wall_ms()) > 0);
	inject(PEER_IP, dbuf_, D.len + SL_REPL_TAG_LEN);
	pump(1, &s);
	CHECK_EQ(rctr(SL_REPL_CTR_drop_repl_bad_mac), 2);
	/* The right datagram from an address that is not the peer's. */
	inject(OTHER_IP, keep, len);
	pump(1, &s);
	CHECK_EQ(rctr(SL_REPL_CTR_drop_repl_not_peer), 1);
	CHECK_EQ(sl_journal_last_seq(J()), 5);
	/* Stale: sent 20 s ago. */
	begin();
	put_data(6, 1, "six", 0, 0);
	CHECK(sl_repl_seal(&prim, &D, SL_HA_ROLE_PRIMARY, 1, 0, wall_ms() - 20000) > 0);
	inject(PEER_IP, dbuf_, D.len + SL_REPL_TAG_LEN);
	pump(1, &s);
	CHECK_EQ(rctr(SL_REPL_CTR_drop_repl_stale), 1);
	CHECK_EQ(sl_journal_last_seq(J()), 5);
	/* The genuine one, then its replay. */
	inject(PEER_IP, keep, len);
	pump(1, &s);
	CHECK_EQ(sl_journal_last_seq(J()), 6);
	inject(PEER_IP, keep, len);
	pump(1, &s);
	CHECK_EQ(rctr(SL_REPL_CTR_drop_repl_replay), 1);
	CHECK_EQ(rctr(SL_REPL_CTR_repl_dup_records), 2); /* never reached the journal */

	/* This node now follows epoch 2: epoch 1's stream is a deposed primary's. */
	sl_repl_set_role(R(), SL_HA_ROLE_STANDBY, 2);
	pump(1, &s);
	begin();
	put_data(7, 1, "seven", 0, 0);
	send_sealed(1);
	pump(1, &s);
	CHECK_EQ(rctr(SL_REPL_CTR_drop_repl_old_epoch), 1);
	CHECK_EQ(sl_journal_last_seq(J()), 6);
	/* A stream from a sender that says it is a standby: refused. */
	begin();
	put_data(7, 2, "seven", 0, 0);
	CHECK(sl_repl_seal(&prim, &D, SL_HA_ROLE_STANDBY, 2, 0, wall_ms()) > 0);
	inject(PEER_IP, dbuf_, D.len + SL_REPL_TAG_LEN);
	pump(1, &s);
	CHECK(rctr(SL_REPL_CTR_drop_repl_role) >= 1);
	CHECK_EQ(sl_journal_last_seq(J()), 6);
}

/* The rejoin above unmapped the topic: announce it again (same name). */
static void
remap(uint32_t epoch)
{
	struct sl_repl_topic t = { .rtopic = RTOPIC, .durability = SL_DUR_SYNC };
	struct sl_repl_mkreq *q;
	struct seen s;
	unsigned i;

	begin();
	CHECK(sl_repl_put_topic(&D, &t, "orders", 6) == 0);
	send_sealed(epoch);
	pump(1, &s);
	for (i = 0; i < SL_REPL_MKREQ; i++) {
		q = &R()->mkreq[i];
		if (__atomic_load_n(&q->state, __ATOMIC_ACQUIRE) == 1) {
			q->local = local;
			q->rc = 0;
			__atomic_store_n(&q->state, 2, __ATOMIC_RELEASE);
		}
	}
	pump(1, &s);
	CHECK_EQ(R()->rtopics[RTOPIC].state, SL_REPL_RT_READY);
}

static void
test_trunc_and_frag(void)
{
	static char big[3000];
	struct sl_repl_data m = { .rtopic = RTOPIC, .leader_epoch = 2, .seq = 0 };
	struct sl_jrec_view v;
	struct seen s;
	uint32_t off = 0;
	unsigned pieces = 0;

	remap(2);
	/* A divergent tail: the primary keeps 4. */
	begin();
	CHECK(sl_repl_put_trunc(&D, RTOPIC, 4) == 0);
	send_sealed(2);
	pump(1, &s);
	CHECK_EQ(sl_journal_last_seq(J()), 4);
	CHECK_EQ(rctr(SL_REPL_CTR_repl_truncations), 1);
	CHECK_EQ(s.n_pos, 1);
	CHECK_EQ(s.pos.last_seq, 4);
	CHECK_EQ(s.pos.last_epoch, 1);
	/* Record 5 in pieces, in consecutive datagrams. */
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	m.seq = 5;
	while (off < sizeof(big)) {
		int n;

		begin();
		n = sl_repl_put_data(&D, &m, big, sizeof(big), off);
		CHECK(n > 0);
		if (n <= 0)
			return;
		off += (uint32_t)n;
		pieces++;
		send_sealed(2);
		pump(1, &s);
		if (off < sizeof(big))
			CHECK_EQ(sl_journal_last_seq(J()), 4);
	}
	CHECK(pieces >= 3);
	CHECK_EQ(sl_journal_last_seq(J()), 5);
	CHECK(sl_journal_read(J(), 5, &v) == 0);
	CHECK_EQ(v.len, sizeof(big));
	CHECK(memcmp(v.data, big, sizeof(big)) == 0);
	CHECK_EQ(sl_journal_last_epoch(J()), 2);
	CHECK_EQ(s.ack.seq, 5);
	/* A piece out of place (its first missing): dropped, not applied. */
	m.seq = 6;
	begin();
	CHECK(sl_repl_put_data(&D, &m, big, sizeof(big), 1400) > 0);
	send_sealed(2);
	pump(1, &s);
	CHECK_EQ(rctr(SL_REPL_CTR_drop_repl_frag), 1);
	CHECK_EQ(sl_journal_last_seq(J()), 5);
}

static void
test_heartbeats(void)
{
	struct seen s;
	uint64_t heard;

	begin();
	CHECK(sl_repl_put_hb(&D, SL_HA_ROLE_PRIMARY, 2, 12345, 0, 0) == 0);
	send_sealed(2);
	pump(1, &s);
	CHECK_EQ(R()->peers[0].role, SL_HA_ROLE_PRIMARY);
	CHECK_EQ(R()->peers[0].epoch, 2);
	heard = R()->peers[0].heard_ns;
	CHECK(heard != 0);
	CHECK_EQ(R()->peers[0].hb_now_ns, 12345);
	/* The standby's own HB carries its role and epoch and echoes ours. */
	R()->next_hb_ns = 0;
	pump(1, &s);
	CHECK(s.n_hb >= 1);
	CHECK_EQ(s.hb.role, SL_HA_ROLE_STANDBY);
	CHECK_EQ(s.hb.epoch, 2);
	CHECK_EQ(s.hb.echo_ns, 12345);
	/* Any authenticated datagram of the primary at the role and epoch of
	 * its last HB refreshes heard_ns (an HB lost among DATA is not
	 * silence); one claiming another role does not. */
	{
		uint64_t hbs = rctr(SL_REPL_CTR_repl_hb_received);
		int len;

		R()->peers[0].heard_ns = 1;
		begin();
		CHECK(sl_repl_put_trunc(&D, 0, 0) == 0); /* no HB in it */
		len = sl_repl_seal(&prim, &D, SL_HA_ROLE_STANDBY, 2, 0, wall_ms());
		CHECK(len > 0);
		inject(PEER_IP, dbuf_, (uint32_t)len);
		pump(1, &s);
		CHECK_EQ(R()->peers[0].heard_ns, 1);
		begin();
		CHECK(sl_repl_put_trunc(&D, 0, 0) == 0);
		send_sealed(2);
		pump(1, &s);
		CHECK(R()->peers[0].heard_ns > 1);
		CHECK_EQ(rctr(SL_REPL_CTR_repl_hb_received), hbs);
		CHECK_EQ(R()->peers[0].role, SL_HA_ROLE_PRIMARY);
	}
	/* A candidate is silent. */
	sl_repl_set_role(R(), SL_HA_ROLE_CANDIDATE, 2);
	R()->next_hb_ns = 0;
	pump(2, &s);
	CHECK_EQ(s.n_hb, 0);
	/* An old epoch's HB is still heard: the deposed primary is alive. */
	sl_repl_set_role(R(), SL_HA_ROLE_STANDBY, 3);
	begin();
	CHECK(sl_repl_put_hb(&D, SL_HA_ROLE_PRIMARY, 2, 22222, 0, 0) == 0);
	send_sealed(2);
	pump(1, &s);
	CHECK_EQ(R()->peers[0].hb_now_ns, 22222);
}

/*
 * The primary's side of the same link: the replica's ACKs after a go-back.
 * It acknowledges what it got from the first send, beyond next_to_send:
 * taken (not refused until the resend passes it, which kept sync publishes
 * waiting and resent whole windows), and a burst of GAPs for one loss goes
 * back once.
 */
static void
test_primary_acks(void)
{
	struct sl_worker *w = dp.workers[0];
	struct sl_repl_tpos *tp;
	struct sl_repl_ack a;

	CHECK_EQ(sl_repl_primary_init(&dp), 0);
	tp = &R()->peers[0].tpos[local];
	memset(tp, 0, sizeof(*tp));
	tp->state = SL_REPL_TP_STREAMING;
	tp->acked = tp->appended = 100;
	tp->next_to_send = tp->sent_end = 4197; /* 101..4196 in flight */
	w->ha_view.now_ns = 1000000000ull;
	tp->next_to_send = 101; /* as an RTO's go-back left it */
	memset(&a, 0, sizeof(a));
	a.rtopic = local;
	a.seq = 4000;
	a.last_seq = 4196;
	sl_repl_primary_on_ack(w, 0, &a);
	CHECK_EQ(tp->acked, 4000);
	CHECK_EQ(tp->appended, 4196);
	CHECK_EQ(tp->next_to_send, 4001); /* what it persisted is not resent */
	/* Never past what was sent. */
	a.seq = 4197;
	a.last_seq = 4197;
	sl_repl_primary_on_ack(w, 0, &a);
	CHECK_EQ(tp->acked, 4000);
	CHECK_EQ(tp->appended, 4196);
	/* A loss at 4301: GAPs from every datagram behind it. */
	tp->next_to_send = tp->sent_end = 4500;
	a.flags = SL_REPL_ACK_F_GAP;
	a.seq = 4300;
	a.last_seq = 4300;
	sl_repl_primary_on_ack(w, 0, &a);
	CHECK_EQ(tp->next_to_send, 4301);
	tp->next_to_send = 4400; /* resent 4301..4399 */
	w->ha_view.now_ns += 1000000ull;
	sl_repl_primary_on_ack(w, 0, &a); /* a GAP sent before the resend came */
	CHECK_EQ(tp->next_to_send, 4400);
	/* Still missing an RTO later: back again. */
	w->ha_view.now_ns += (SL_REPL_RTO_MS + 1) * 1000000ull;
	sl_repl_primary_on_ack(w, 0, &a);
	CHECK_EQ(tp->next_to_send, 4301);
	memset(tp, 0, sizeof(*tp));
	sl_repl_primary_fini(&dp);
}

static int
write_key(const char *path)
{
	FILE *f = fopen(path, "w");
	unsigned i;

	if (f == NULL)
		return -1;
	for (i = 0; i < SL_KEY_LEN; i++)
		fprintf(f, "%02x", pair_key[i]);
	fprintf(f, "\n");
	return fclose(f);
}

int
main(void)
{
	char keyfile[96];
	int rc;

	rc = harness_start("test_repl_standby", &dp, &rx, &tx);
	if (rc)
		return rc;
	snprintf(root, sizeof(root), "/tmp/sl-repl-standby.%d", (int)getpid());
	CHECK(mkdir(root, 0700) == 0);
	for (unsigned i = 0; i < SL_KEY_LEN; i++)
		pair_key[i] = (uint8_t)(0x40 + i);
	snprintf(keyfile, sizeof(keyfile), "%s/pair.key", root);
	CHECK(write_key(keyfile) == 0 && chmod(keyfile, 0600) == 0);
	CHECK(sl_route_topic_create_init(&dp.route, "orders", 6, topic_init, NULL, &local) >= 0);
	CHECK(local != 0 && J() != NULL);

	/* Without ha.peer: a single node, nothing set up. */
	CHECK_EQ(sl_repl_init(&dp), 0);
	CHECK(dp.repl == NULL);
	/* A key file that is not one: a clear refusal. */
	dp.conf.ha.peer = PEER_IP;
	dp.conf.ha.repl_port = RPORT;
	snprintf(dp.conf.ha.key, sizeof(dp.conf.ha.key), "%s/missing.key", root);
	CHECK(sl_repl_init(&dp) < 0);
	snprintf(dp.conf.ha.key, sizeof(dp.conf.ha.key), "%s", keyfile);
	CHECK_EQ(sl_repl_init(&dp), 0);
	CHECK(dp.repl != NULL);
	if (dp.repl == NULL)
		return 1;
	sl_repl_tx_init(&prim, pair_key, 1000);
	sl_repl_rx_init(&prim_rx, pair_key, 10000);
	sl_repl_set_role(R(), SL_HA_ROLE_STANDBY, 1);

	test_topic();
	test_data();
	test_refused();
	test_trunc_and_frag();
	test_heartbeats();
	test_primary_acks();

	/* The topics' journals (the test's own and those TOPIC created). */
	for (uint32_t id = 1; id < dp.route.cap; id++) {
		struct sl_topic_state *ts = &dp.route.state[id];

		sl_journal_close(ts->journal);
		ts->journal = NULL;
		sl_journal_close(ts->closing);
		ts->closing = NULL;
	}
	sl_repl_fini(&dp);
	harness_stop(&dp);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		CHECK(system(cmd) == 0);
	}
	return check_result("test_repl_standby");
}
