/* SPDX-License-Identifier: BSD-3-Clause */
/* Idempotent producers: producer ids, the registry's epoch rules and the dedup table (no EAL). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>

#include "journal.h"
#include "producer.h"

#include "check.h"

#define NOW_S 1760000000ull /* a wall clock in 2025 */
#define WALL_EPOCH ((uint32_t)(NOW_S - SL_PRODUCER_EPOCH_BASE))

static enum sl_dedup_verdict
check(struct sl_dedup *d, uint64_t id, uint32_t epoch, uint32_t topic, uint64_t pseq,
      uint64_t now, uint32_t *slot, uint64_t *orig)
{
	*orig = 0xdead;
	return sl_dedup_check(d, id, epoch, topic, pseq, true, now, slot, orig);
}

/* Stable, distinct and never 0; the user is part of the identity. */
static void
test_ids(void)
{
	uint64_t a = sl_producer_id("", "feed", 4);

	CHECK(a != 0 && a == sl_producer_id("", "feed", 4));
	CHECK(a != sl_producer_id("", "feeds", 5));
	CHECK(a != sl_producer_id("alice", "feed", 4));
	CHECK(sl_producer_id("ab", "c", 1) != sl_producer_id("a", "bc", 2));
	/* The value itself is part of the protocol (ids survive upgrades). */
	CHECK(sl_producer_id("", "feed", 4) == a);
}

/* Epoch 0: above every known epoch and the clock's count; resume: fenced
 * below the latest; full table refused; idle entries expire. */
static void
test_registry(void)
{
	struct sl_producer_reg r;
	uint32_t e, e2;

	CHECK(sl_producer_reg_init(&r, 2) == 0);
	CHECK(sl_producer_reg_bind(&r, 11, 0, NOW_S, &e) == 0 && e == WALL_EPOCH);
	/* A second instance in the same second: one higher, fencing the first. */
	CHECK(sl_producer_reg_bind(&r, 11, 0, NOW_S, &e2) == 0 && e2 == WALL_EPOCH + 1);
	CHECK(sl_producer_reg_bind(&r, 11, e, NOW_S, &e) == -EPERM);
	/* The newest resumes (a reconnect), and a later epoch is taken. */
	CHECK(sl_producer_reg_bind(&r, 11, e2, NOW_S, &e) == 0 && e == e2);
	CHECK(sl_producer_reg_bind(&r, 11, e2 + 5, NOW_S, &e) == 0 && e == e2 + 5);
	CHECK(sl_producer_reg_bind(&r, 11, e2, NOW_S, &e) == -EPERM);
	/* Full: a third producer is refused, known ones still bind. */
	CHECK(sl_producer_reg_bind(&r, 22, 0, NOW_S, &e) == 0);
	CHECK(sl_producer_reg_bind(&r, 33, 0, NOW_S, &e) == -ENOSPC);
	CHECK(sl_producer_reg_bind(&r, 22, 0, NOW_S + 1, &e) == 0);
	/* Seeded from a journal: a higher epoch than the clock gives. */
	CHECK(sl_producer_reg_seed(&r, 22, WALL_EPOCH + 100, NOW_S + 1) == 0);
	CHECK(sl_producer_reg_bind(&r, 22, 0, NOW_S + 1, &e) == 0 && e == WALL_EPOCH + 101);
	/* Idle: 22 used at NOW_S + 1, 11 at NOW_S; idle 10 s, now + 10.5. */
	CHECK(sl_producer_reg_expire(&r, NOW_S + 11, 10, 16) == 1);
	CHECK(sl_producer_reg_bind(&r, 33, 0, NOW_S + 11, &e) == 0);
	CHECK(sl_producer_reg_expire(&r, NOW_S + 100, 10, 16) == 2);
	CHECK(r.ix.n == 0);
	sl_producer_reg_fini(&r);
}

/* In order, duplicates with the original's seq, out of order, a new epoch. */
static void
test_dedup_rules(void)
{
	struct sl_dedup d;
	uint64_t orig, p;
	uint32_t slot;

	CHECK(sl_dedup_init(&d, 8) == 0);
	/* Only a publish flagged FIRST starts a stream: a second publish that
	 * overtook the first is out of order, not the start (else the first
	 * would come back a duplicate and never be stored). */
	CHECK(sl_dedup_check(&d, 7, 3, 1, 101, false, 1, &slot, &orig) == SL_DEDUP_OUT_OF_ORDER);
	CHECK(sl_dedup_check(&d, 7, 3, 1, 101, false, 1, &slot, &orig) == SL_DEDUP_OUT_OF_ORDER);
	/* Any first seq flagged FIRST starts the stream. */
	CHECK(check(&d, 7, 3, 1, 100, 1, &slot, &orig) == SL_DEDUP_ACCEPT);
	sl_dedup_commit(&d, slot, 100, 1000);
	for (p = 101; p <= 500; p++) {
		CHECK(check(&d, 7, 3, 1, p, 2, &slot, &orig) == SL_DEDUP_ACCEPT);
		sl_dedup_commit(&d, slot, p, p + 900);
	}
	/* Duplicates: the original's topic seq while the ring holds it. */
	CHECK(check(&d, 7, 3, 1, 500, 3, &slot, &orig) == SL_DEDUP_DUP && orig == 1400);
	CHECK(check(&d, 7, 3, 1, 245, 3, &slot, &orig) == SL_DEDUP_DUP && orig == 1145);
	CHECK(check(&d, 7, 3, 1, 500 - SL_DEDUP_RING + 1, 3, &slot, &orig) == SL_DEDUP_DUP &&
	      orig == 500 - SL_DEDUP_RING + 1 + 900);
	/* Older than the ring: still a duplicate, seq 0. */
	CHECK(check(&d, 7, 3, 1, 500 - SL_DEDUP_RING, 3, &slot, &orig) == SL_DEDUP_DUP &&
	      orig == 0);
	CHECK(check(&d, 7, 3, 1, 1, 3, &slot, &orig) == SL_DEDUP_DUP && orig == 0);
	/* A gap, not flagged FIRST (it overtook 501): refused, nothing changed. */
	CHECK(sl_dedup_check(&d, 7, 3, 1, 502, false, 3, &slot, &orig) == SL_DEDUP_OUT_OF_ORDER);
	CHECK(check(&d, 7, 3, 1, 501, 3, &slot, &orig) == SL_DEDUP_ACCEPT);
	/* Not committed (the journal refused it): the same seq is new again. */
	CHECK(check(&d, 7, 3, 1, 501, 3, &slot, &orig) == SL_DEDUP_ACCEPT);
	/* Sequences are per topic: topic 2 starts its own. */
	CHECK(check(&d, 7, 3, 2, 1, 3, &slot, &orig) == SL_DEDUP_ACCEPT);
	sl_dedup_commit(&d, slot, 1, 1);
	CHECK(check(&d, 7, 3, 2, 1, 3, &slot, &orig) == SL_DEDUP_DUP && orig == 1);
	/* Fenced: an older epoch is refused; a newer one starts over. */
	CHECK(check(&d, 7, 2, 1, 501, 4, &slot, &orig) == SL_DEDUP_FENCED);
	CHECK(check(&d, 7, 4, 1, 1, 4, &slot, &orig) == SL_DEDUP_ACCEPT);
	sl_dedup_commit(&d, slot, 1, 1501);
	CHECK(check(&d, 7, 3, 1, 501, 4, &slot, &orig) == SL_DEDUP_FENCED);
	CHECK(check(&d, 7, 4, 1, 1, 4, &slot, &orig) == SL_DEDUP_DUP && orig == 1501);
	CHECK(check(&d, 7, 4, 1, 2, 4, &slot, &orig) == SL_DEDUP_ACCEPT);
	/* Once the stream exists, the flag changes nothing. */
	CHECK(sl_dedup_check(&d, 7, 4, 1, 2, false, 4, &slot, &orig) == SL_DEDUP_ACCEPT);
	sl_dedup_fini(&d);
}

/* A full table refuses new (producer, topic) pairs; expiry frees them;
 * a deleted topic's entries go. */
/*
 * After a failover the new primary knows the stream up to what was
 * replicated to it, but the producer may have settled publishes past that
 * without their being stored here (refused BUSY by the deposed primary,
 * say). Its resend rounds start at its lowest unsettled publish, flagged
 * FIRST: that restarts the stream past the hole rather than drawing
 * OUT_OF_ORDER for ever; unflagged publishes past it still do.
 */
static void
test_dedup_restart_past_hole(void)
{
	struct sl_dedup d;
	uint64_t orig, p;
	uint32_t slot;

	CHECK(sl_dedup_init(&d, 8) == 0);
	/* Replicated to this node: pseq 1..100 as topic seqs 1..100. */
	for (p = 1; p <= 100; p++)
		CHECK(sl_dedup_rebuild(&d, 7, 3, 1, p, p, 1) == 0);
	/* 101..140 were refused elsewhere; the producer's next is 141. */
	CHECK(sl_dedup_check(&d, 7, 3, 1, 141, false, 2, &slot, &orig) == SL_DEDUP_OUT_OF_ORDER);
	CHECK(sl_dedup_check(&d, 7, 3, 1, 142, false, 2, &slot, &orig) == SL_DEDUP_OUT_OF_ORDER);
	/* The resend round's first: accepted, and the stream goes on from it. */
	CHECK(check(&d, 7, 3, 1, 141, 2, &slot, &orig) == SL_DEDUP_ACCEPT);
	sl_dedup_commit(&d, slot, 141, 101);
	CHECK(sl_dedup_check(&d, 7, 3, 1, 142, false, 2, &slot, &orig) == SL_DEDUP_ACCEPT);
	sl_dedup_commit(&d, slot, 142, 102);
	/* Resends of what is stored: duplicates with their seq; the hole's
	 * sequences were never stored here: duplicates answered with seq 0. */
	CHECK(sl_dedup_check(&d, 7, 3, 1, 141, false, 2, &slot, &orig) == SL_DEDUP_DUP &&
	      orig == 101);
	CHECK(sl_dedup_check(&d, 7, 3, 1, 100, false, 2, &slot, &orig) == SL_DEDUP_DUP &&
	      orig == 100);
	CHECK(sl_dedup_check(&d, 7, 3, 1, 120, false, 2, &slot, &orig) == SL_DEDUP_DUP &&
	      orig == 0);
	/* A delayed FIRST of an earlier round, already stored: a duplicate. */
	CHECK(check(&d, 7, 3, 1, 141, 2, &slot, &orig) == SL_DEDUP_DUP && orig == 101);
	sl_dedup_fini(&d);
}

static void
test_dedup_full_expiry(void)
{
	struct sl_dedup d;
	uint64_t orig;
	uint32_t slot, i;

	CHECK(sl_dedup_init(&d, 4) == 0);
	for (i = 0; i < 4; i++) {
		CHECK(check(&d, 100 + i, 1, 5, 1, 10 * i, &slot, &orig) == SL_DEDUP_ACCEPT);
		sl_dedup_commit(&d, slot, 1, i + 1);
	}
	CHECK(check(&d, 200, 1, 5, 1, 50, &slot, &orig) == SL_DEDUP_FULL);
	CHECK(check(&d, 100, 1, 6, 1, 50, &slot, &orig) == SL_DEDUP_FULL);
	/* Known pairs still work when full. */
	CHECK(check(&d, 101, 1, 5, 1, 50, &slot, &orig) == SL_DEDUP_DUP && orig == 2);
	/* Idle 25: entries last used at 0 and 20 (100 and 102) ... 101 at 50. */
	CHECK(sl_dedup_expire(&d, 46, 25, 4) == 2);
	CHECK(d.ix.n == 2);
	CHECK(check(&d, 200, 1, 5, 1, 60, &slot, &orig) == SL_DEDUP_ACCEPT);
	/* An expired producer is new again: its next seq is accepted. */
	CHECK(check(&d, 100, 1, 5, 9, 60, &slot, &orig) == SL_DEDUP_ACCEPT);
	CHECK(check(&d, 300, 1, 5, 1, 60, &slot, &orig) == SL_DEDUP_FULL);
	sl_dedup_drop_topic(&d, 5);
	CHECK(d.ix.n == 0);
	CHECK(check(&d, 300, 1, 5, 1, 60, &slot, &orig) == SL_DEDUP_ACCEPT);
	sl_dedup_fini(&d);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * Rebuild from a journal's records, as the owner does at recovery: the last
 * seq, the epoch and the ring come back, so a resend after a restart is a
 * duplicate answered with its original seq; older epochs' records and
 * records of no producer (epoch 0) are ignored; version 1 style duplicates
 * stored by an older broker keep the first.
 */
static void
test_rebuild_from_journal(void)
{
	struct sl_journal_conf c = { .segment_bytes = 64 * 1024, .index_every = 4096 };
	char dir[] = "/tmp/sl-producer-test-XXXXXX";
	struct sl_journal *j = NULL;
	struct sl_jrec_view v;
	struct sl_dedup d;
	uint64_t seq, orig, s, p;
	uint32_t slot;

	if (mkdtemp(dir) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(sl_journal_open(&j, dir, &c, NULL) == 0);
	if (j == NULL)
		return;
	/* Producer 9 epoch 1: pseq 1..10; then epoch 2: pseq 1..5, with
	 * session publishes (epoch 0) and producer 8 in between. */
	for (p = 1; p <= 10; p++)
		CHECK(sl_journal_append_producer(j, "x", 1, 1, 9, 1, p, &seq) == 0);
	CHECK(sl_journal_append_producer(j, "s", 1, 1, 0x01000001, 0, 77, &seq) == 0);
	for (p = 1; p <= 5; p++) {
		CHECK(sl_journal_append_producer(j, "y", 1, 1, 9, 2, p, &seq) == 0);
		CHECK(sl_journal_append_producer(j, "z", 1, 1, 8, 5, p, &seq) == 0);
	}
	/* pseq 5 of epoch 2 stored twice (by an older broker). */
	CHECK(sl_journal_append_producer(j, "y", 1, 1, 9, 2, 5, &seq) == 0);
	CHECK(sl_journal_sync(j) == 0);
	sl_journal_close(j);
	j = NULL;

	CHECK(sl_journal_open(&j, dir, &c, NULL) == 0);
	if (j == NULL)
		return;
	CHECK(sl_dedup_init(&d, 16) == 0);
	for (s = sl_journal_first_seq(j); s <= sl_journal_last_seq(j); s++)
		if (sl_journal_read(j, s, &v) == 0 && v.producer_epoch)
			CHECK(sl_dedup_rebuild(&d, v.producer_id, v.producer_epoch, 3,
					       v.producer_seq, v.seq, 0) == 0);
	CHECK(d.ix.n == 2); /* (9, 3) and (8, 3); the session's record is not a producer's */
	/* Producer 9, epoch 2: pseq 1 was journal seq 12, pseq 5 seq 20. */
	CHECK(check(&d, 9, 2, 3, 1, 1, &slot, &orig) == SL_DEDUP_DUP && orig == 12);
	CHECK(check(&d, 9, 2, 3, 5, 1, &slot, &orig) == SL_DEDUP_DUP && orig == 20);
	CHECK(check(&d, 9, 1, 3, 10, 1, &slot, &orig) == SL_DEDUP_FENCED);
	CHECK(sl_dedup_check(&d, 9, 2, 3, 7, false, 1, &slot, &orig) == SL_DEDUP_OUT_OF_ORDER);
	CHECK(check(&d, 9, 2, 3, 6, 1, &slot, &orig) == SL_DEDUP_ACCEPT);
	CHECK(check(&d, 8, 5, 3, 3, 1, &slot, &orig) == SL_DEDUP_DUP && orig == 17);
	sl_dedup_fini(&d);
	sl_journal_close(j);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	test_ids();
	test_registry();
	test_dedup_rules();
	test_dedup_restart_past_hole();
	test_dedup_full_expiry();
	test_rebuild_from_journal();
	return check_result("test_producer");
}
