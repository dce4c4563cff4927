/* SPDX-License-Identifier: BSD-3-Clause */
/* Durable groups: snapshot hand-over under a racing owner, save and restore, the settings file, the retention floor. */

#include "check.h"
#include "persist_nop.h"
#include "group_durable.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/hdrs.h>

#define MS 1000000ull
#define SEG (64u * 1024)

static char base[64];

/* ---- helpers ---- */

static void
path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", base, name);
	mkdir(out, 0700);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct sl_group *
mk(uint32_t policy, uint32_t inflight)
{
	struct sl_group_cfg c = {
		.policy = policy, .max_members = 8, .max_inflight = inflight,
		.max_blocked = policy == SL_GROUP_KEY_AFFINITY ? inflight : 0,
	};
	size_t len = sl_group_mem_size(&c);
	struct sl_group *g = NULL;
	void *mem;

	if (len == 0 || posix_memalign(&mem, 64, len) != 0)
		abort();
	if (sl_group_init(&g, &c, mem, len) != 0)
		abort();
	return g;
}

static struct sl_cnc_group
spec(const char *topic, const char *name)
{
	struct sl_cnc_group g;

	memset(&g, 0, sizeof(g));
	snprintf(g.topic, sizeof(g.topic), "%s", topic);
	snprintf(g.name, sizeof(g.name), "%s", name);
	snprintf(g.dead_letter, sizeof(g.dead_letter), "%s.dlq", topic);
	g.policy = 3;
	g.flags = SL_CNC_GROUP_F_DURABLE | SL_CNC_GROUP_F_RETAIN;
	g.ack_wait_ms = 30000;
	g.max_deliveries = 5;
	g.grace_ms = 5000;
	g.max_inflight = 1000;
	g.max_blocked = 200;
	return g;
}

static ino_t
inode_of(const char *dir, const char *file)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	return stat(p, &st) == 0 ? st.st_ino : 0;
}

static int
exists(const char *dir, const char *file)
{
	return inode_of(dir, file) != 0;
}

/* ---- the settings file ---- */

struct scan_seen {
	char names[8][40];
	int rc[8];
	int n;
};

static int
scan_cb(void *ctx, const char *name, const struct sl_cnc_group *g, int rc)
{
	struct scan_seen *s = ctx;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		s->rc[s->n] = rc;
		if (rc == 0 && strcmp(g->name, name) != 0)
			s->rc[s->n] = 999;
	}
	s->n++;
	return 0;
}

static void
corrupt_byte(const char *dir, const char *file, long off)
{
	char p[512];
	FILE *f;
	int c;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	f = fopen(p, "r+b");
	if (f == NULL)
		return;
	fseek(f, off, SEEK_SET);
	c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ 0x10, f);
	fclose(f);
}

/* A file of a few bytes that is not a spec. */
static void
put_file(const char *dir, const char *file)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	f = fopen(p, "w");
	if (f != NULL) {
		fputs("not a group spec\n", f);
		fclose(f);
	}
}

/* Rename @from to @to in @dir. */
static void
move_file(const char *dir, const char *from, const char *to)
{
	char a[512], b[512];

	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	CHECK(rename(a, b) == 0);
}

static void
test_spec_file(void)
{
	struct sl_cnc_group g = spec("orders", "billing"), back, other;
	struct scan_seen seen = { 0 };
	char dir[256];
	ino_t ino;
	int i;

	path_in(dir, sizeof(dir), "spec");
	CHECK(sl_gdur_spec_load(dir, "billing", &back) == -ENOENT);
	g.reset_how = SL_CNC_RESET_SEQ; /* a command's field: not saved */
	g.reset_arg = 77;
	CHECK(sl_gdur_spec_save(dir, &g) == 0);
	CHECK(exists(dir, "group-billing.spec") && !exists(dir, "group-billing.spec.tmp"));
	memset(&back, 0xee, sizeof(back));
	CHECK(sl_gdur_spec_load(dir, "billing", &back) == 0);
	g.reset_how = 0;
	g.reset_arg = 0;
	CHECK(memcmp(&back, &g, sizeof(g)) == 0);
	/* The same settings again: the file is left as it is. */
	ino = inode_of(dir, "group-billing.spec");
	CHECK(sl_gdur_spec_save(dir, &g) == 0);
	CHECK(inode_of(dir, "group-billing.spec") == ino);
	/* Changed settings: a new file replaces it. */
	g.ack_wait_ms = 1000;
	CHECK(sl_gdur_spec_save(dir, &g) == 0);
	CHECK(inode_of(dir, "group-billing.spec") != ino);
	CHECK(sl_gdur_spec_load(dir, "billing", &back) == 0 && back.ack_wait_ms == 1000);
	/* Bad names are refused before any file is touched. */
	other = spec("orders", ".hidden");
	CHECK(sl_gdur_spec_save(dir, &other) == -EINVAL);
	other = spec("orders", "a/b");
	CHECK(sl_gdur_spec_save(dir, &other) == -EINVAL);
	CHECK(sl_gdur_spec_load(dir, "", &back) == -EINVAL);

	/* Damage: every flipped byte is found. */
	for (i = 0; i < (int)sizeof(struct sl_gdur_spec_file); i += 37) {
		CHECK(sl_gdur_spec_save(dir, &g) == 0);
		corrupt_byte(dir, "group-billing.spec", i);
		CHECK(sl_gdur_spec_load(dir, "billing", &back) == -EBADMSG);
		CHECK(sl_gdur_files_remove(dir, "billing") == 0);
	}
	/* A file cut short, and one under another group's name. */
	CHECK(sl_gdur_spec_save(dir, &g) == 0);
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/group-billing.spec", dir);
		CHECK(truncate(p, sizeof(struct sl_gdur_spec_file) - 4) == 0);
	}
	CHECK(sl_gdur_spec_load(dir, "billing", &back) == -EBADMSG);
	CHECK(sl_gdur_spec_save(dir, &g) == 0);
	move_file(dir, "group-billing.spec", "group-copy.spec");
	CHECK(sl_gdur_spec_load(dir, "copy", &back) == -EBADMSG);
	CHECK(sl_gdur_spec_save(dir, &g) == 0);

	/* The scan: every group-*.spec in name order, damaged ones with their error. */
	other = spec("orders", "audit");
	CHECK(sl_gdur_spec_save(dir, &other) == 0);
	put_file(dir, "unrelated.spec");
	put_file(dir, "group-billing.state");
	CHECK(sl_gdur_spec_scan(dir, scan_cb, &seen) == 3);
	CHECK(seen.n == 3);
	CHECK(strcmp(seen.names[0], "audit") == 0 && seen.rc[0] == 0);
	CHECK(strcmp(seen.names[1], "billing") == 0 && seen.rc[1] == 0);
	CHECK(strcmp(seen.names[2], "copy") == 0 && seen.rc[2] == -EBADMSG);

	/* Deletion takes both files (and is fine when they are gone already). */
	CHECK(exists(dir, "group-billing.state"));
	CHECK(sl_gdur_files_remove(dir, "billing") == 0);
	CHECK(!exists(dir, "group-billing.spec") && !exists(dir, "group-billing.state"));
	CHECK(sl_gdur_files_remove(dir, "billing") == 0);
	CHECK(exists(dir, "group-audit.spec"));
	CHECK(sl_gdur_spec_scan("/nonexistent-sluice-dir", scan_cb, &seen) == -ENOENT);
}

/* ---- save and load ---- */

static void
test_snap_save_load(void)
{
	struct sl_group *g = mk(SL_GROUP_ROUND_ROBIN, 64);
	struct sl_group_unacked ex[64];
	struct sl_gstate_entry ents[64];
	struct sl_gstate_info info;
	struct sl_gdur_loaded ld;
	struct sl_gdur_stats st;
	struct sl_group_out o;
	struct sl_gdur *d, *d2;
	uint64_t now = 1000 * MS, s;
	uint32_t slot;
	char dir[256];
	int n, i;

	path_in(dir, sizeof(dir), "save");
	CHECK(sl_gdur_open(&d, dir, "g1", 64, 0, NULL) == 0);
	CHECK(sl_gdur_load(d, &ld) == -ENOENT && ld.rc == -ENOENT);
	CHECK(sl_gdur_floor(d) == 0);
	sl_gdur_set_start(d, 1);
	CHECK(sl_gdur_floor(d) == 1);
	CHECK(sl_group_join(g, 7, 70, 100, 0, now, &slot, NULL) == 0);
	for (s = 1; s <= 10; s++)
		CHECK(sl_group_offer(g, s, SL_GROUP_NO_KEY, now, &o) == 1);
	CHECK(sl_group_ack(g, slot, 1, now) == 0 && sl_group_ack(g, slot, 2, now) == 0);
	CHECK(sl_group_ack(g, slot, 5, now) == 0);
	/* The first snapshot; then none before 10 ms, none without a change. */
	CHECK(sl_gdur_snap(d, g, 11, now, 0) == 1);
	CHECK(sl_gdur_exported_gen(d) == 1 && sl_gdur_saved_gen(d) == 0);
	CHECK(sl_gdur_floor(d) == 3);
	CHECK(sl_group_ack(g, slot, 3, now) == 0);
	CHECK(sl_gdur_snap(d, g, 11, now + 9 * MS, 0) == 0);
	CHECK(sl_gdur_snap(d, g, 11, now + 10 * MS, 0) == 1);
	CHECK(sl_gdur_snap(d, g, 11, now + 30 * MS, 0) == 0); /* nothing changed */
	CHECK(sl_gdur_snap(d, g, 11, now + 30 * MS, 1) == 1); /* forced */
	CHECK(sl_gdur_floor(d) == 4);
	/* The main lcore saves the newest; the older one waiting is stale. */
	CHECK(sl_gdur_flush(d, 123) == 1);
	CHECK(sl_gdur_saved_gen(d) == 3);
	CHECK(sl_gdur_flush(d, 124) == 0);
	sl_gdur_stats_get(d, &st);
	CHECK(st.snaps == 3 && st.saves == 1 && st.stale == 1 && st.snap_skipped == 0);
	/* What was saved is what the engine exports. */
	n = sl_group_export(g, ex, 64);
	CHECK(n == 6);
	CHECK(sl_gstate_load(sl_gdur_state(d), ents, 64, &info) == n);
	CHECK(info.cursor == 11 && info.saved_ns == 123);
	for (i = 0; i < n; i++)
		CHECK(ents[i].seq == ex[i].seq && ents[i].delivery_count == ex[i].delivery_count);
	/* The cursor moves: a change. A floor lower than the saved one (a reset
	 * to earlier) wins at once. */
	CHECK(sl_gdur_snap(d, g, 12, now + 41 * MS, 0) == 1);
	CHECK(sl_gdur_floor(d) == 4);
	sl_gdur_set_start(d, 2);
	CHECK(sl_gdur_floor(d) == 2);
	CHECK(sl_gdur_flush(d, 125) == 1);
	CHECK(sl_gdur_floor(d) == 2);
	sl_gdur_close(d);

	/* Opened again (a restart): the last saved state. */
	CHECK(sl_gdur_open(&d2, dir, "g1", 64, 0, NULL) == 0);
	CHECK(sl_gdur_load(d2, &ld) == n && ld.n == (uint32_t)n && ld.cursor == 12);
	sl_gdur_close(d2);
	/* A larger group: the file is made again at its size, the state kept. */
	CHECK(sl_gdur_open(&d2, dir, "g1", 5000, 0, NULL) == 0);
	CHECK(sl_gdur_load(d2, &ld) == n && ld.cursor == 12);
	CHECK(sl_gstate_capacity(sl_gdur_state(d2)) >= 5000);
	sl_gdur_close(d2);
	CHECK(sl_gdur_open(&d2, dir, "g1", 64, 0, NULL) == 0);
	CHECK(sl_gstate_capacity(sl_gdur_state(d2)) >= 5000);
	CHECK(sl_gdur_load(d2, &ld) == n && ld.cursor == 12);
	sl_gdur_close(d2);
	free(g);
}

/* ---- the hand-over under a racing owner ---- */

#define RACE_K 48	 /* unsettled messages the owner keeps */
#define RACE_STEPS 40000 /* owner iterations */

struct race {
	struct sl_gdur *d;
	struct sl_group *g;
	int done;
	uint64_t snaps;
	uint64_t skipped; /* both buffers busy at that instant (-EBUSY) */
};

/* The owner: each step offers the next message and acks the oldest, so an
 * export is always RACE_K consecutive sequences ending just below the
 * cursor, with delivery counts that encode the sequence. Every step is a
 * snapshot (the clock moves 10 ms a step): the buffers turn over as fast as
 * they can. */
static void *
owner(void *arg)
{
	struct race *r = arg;
	struct sl_group_out o;
	uint64_t now = 1, cursor = 1;
	uint32_t slot;
	int i, spin, rc;

	CHECK(sl_group_join(r->g, 1, 1, SL_MAX_GROUP_CREDIT, 0, now, &slot, NULL) == 0);
	for (i = 0; i < RACE_STEPS; i++) {
		if (sl_group_offer(r->g, cursor, SL_GROUP_NO_KEY, now, &o) != 1) {
			CHECK(0);
			break;
		}
		cursor++;
		if (cursor > RACE_K + 1)
			CHECK(sl_group_ack(r->g, slot, cursor - RACE_K - 1, now) == 0);
		now += SL_GDUR_SNAP_NS;
		rc = sl_gdur_snap(r->d, r->g, cursor, now, 0);
		/* Skipped when the main lcore took the other buffer between
		 * this claim's two tries: the next snapshot covers it. The
		 * last one is tried until taken, as the next poll would. */
		while (rc == -EBUSY && i == RACE_STEPS - 1)
			rc = sl_gdur_snap(r->d, r->g, cursor, now, 0);
		if (rc == 1)
			r->snaps++;
		else if (rc == -EBUSY)
			r->skipped++;
		else
			CHECK(0);
		/* A worker does other work between snapshots: give the main
		 * lcore's saves a chance to overlap the next export. */
		for (spin = 0; spin < 300; spin++)
			__asm__ volatile("" ::: "memory");
	}
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A saved state is whole: RACE_K (or, at the start, fewer) consecutive
 * sequences ending at cursor - 1, each delivered once. */
static int
consistent(const struct sl_gstate_entry *e, int n, uint64_t cursor)
{
	int i, want = cursor - 1 < RACE_K ? (int)(cursor - 1) : RACE_K;

	if (n != want)
		return 0;
	for (i = 0; i < n; i++)
		if (e[i].seq != cursor - (uint64_t)n + (uint64_t)i || e[i].delivery_count != 1)
			return 0;
	return 1;
}

static void
test_race(void)
{
	static struct sl_gstate_entry ents[RACE_K + 8];
	struct race r = { 0 };
	struct sl_gstate_info info;
	struct sl_gdur_stats st;
	uint64_t last_gen = 0, last_cursor = 0, saves = 0, bad = 0;
	pthread_t t;
	char dir[256];
	int n;

	path_in(dir, sizeof(dir), "race");
	r.g = mk(SL_GROUP_ROUND_ROBIN, 1024);
	if (sl_gdur_open(&r.d, dir, "race", 1024, 1, &nop_persist_ops) != 0) {
		CHECK(0);
		return;
	}
	if (pthread_create(&t, NULL, owner, &r) != 0) {
		CHECK(0);
		return;
	}
	for (;;) {
		int done = __atomic_load_n(&r.done, __ATOMIC_ACQUIRE);
		int rc = sl_gdur_flush(r.d, 1);

		CHECK(rc >= 0);
		if (rc == 1) {
			saves++;
			n = sl_gstate_load(sl_gdur_state(r.d), ents, RACE_K + 8, &info);
			if (!consistent(ents, n, info.cursor))
				bad++;
			/* Never an older state after a newer one. */
			if (info.cursor <= last_cursor || sl_gdur_saved_gen(r.d) <= last_gen)
				bad++;
			last_cursor = info.cursor;
			last_gen = sl_gdur_saved_gen(r.d);
		}
		if (done && rc == 0)
			break;
	}
	pthread_join(t, NULL);
	sl_gdur_stats_get(r.d, &st);
	printf("race: %llu snapshots, %llu saved, %llu stale, %llu skipped, %llu bad\n",
	       (unsigned long long)st.snaps, (unsigned long long)st.saves,
	       (unsigned long long)st.stale, (unsigned long long)st.snap_skipped,
	       (unsigned long long)bad);
	CHECK(bad == 0);
	CHECK(st.snaps == r.snaps && st.snap_skipped == r.skipped);
	CHECK(r.snaps + r.skipped == RACE_STEPS && r.snaps > RACE_STEPS / 2);
	/* How many saves overlap the owner's exports depends on the
	 * scheduler (a loaded machine may save only a handful): the checks
	 * are that every save was whole and in order, and the last one taken. */
	CHECK(saves == st.saves && saves >= 1);
	/* The last snapshot was saved: nothing newer is lost at a clean stop. */
	CHECK(last_cursor == RACE_STEPS + 1);
	CHECK(sl_gdur_floor(r.d) == RACE_STEPS + 1 - RACE_K);
	sl_gdur_close(r.d);
	free(r.g);
}

/* ---- restore with key affinity ---- */

static struct sl_journal *
journal_with_keys(const char *dir, uint64_t n, uint32_t pad)
{
	struct sl_journal_conf c = { .segment_bytes = SEG, .ops = &nop_persist_ops };
	uint8_t buf[2048];
	struct sl_journal *j = NULL;
	uint64_t s, seq;
	char key[16];
	int blen;

	if (sl_journal_open(&j, dir, &c, NULL) != 0)
		return NULL;
	for (s = 1; s <= n; s++) {
		/* Keys k0..k3; every fifth message has none. */
		snprintf(key, sizeof(key), "k%u", (unsigned)(s % 4));
		blen = sl_hdrs_build(buf, sizeof(buf), key, s % 5 == 0 ? 0 : strlen(key), NULL, 0);
		memset(buf + blen, 'x', pad);
		if (sl_journal_append_hdrs(j, buf, (uint32_t)blen + pad, (uint16_t)blen, s, 1, 0, s,
					   &seq) != 0 || seq != s) {
			sl_journal_close(j);
			return NULL;
		}
	}
	sl_journal_sync(j);
	return j;
}

static uint64_t
key_of_seq(uint64_t s)
{
	char key[16];

	snprintf(key, sizeof(key), "k%u", (unsigned)(s % 4));
	return s % 5 == 0 ? SL_GROUP_NO_KEY : sl_group_key_hash(key, strlen(key));
}

static void
test_restore_key_order(void)
{
	struct sl_group *g = mk(SL_GROUP_KEY_AFFINITY, 256), *g2;
	struct sl_group_out o, out[64];
	struct sl_group_unacked ex[256], ex2[256];
	struct sl_gdur_loaded ld;
	struct sl_gdur_restored rs;
	struct sl_jrec_view v;
	struct sl_journal *j;
	struct sl_gdur *d;
	uint64_t now = 5000 * MS, s, seen_first[4] = { 0 };
	uint32_t a, b, i, nout, first_slot = 0;
	char dir[256], jdir[256];
	int n, n2, k;

	path_in(dir, sizeof(dir), "restore");
	path_in(jdir, sizeof(jdir), "restore/journal");
	j = journal_with_keys(jdir, 40, 16);
	CHECK(j != NULL);
	if (j == NULL)
		return;
	/* The key hash read from a record is the one the live path computes. */
	for (s = 1; s <= 40; s++)
		CHECK(sl_journal_read(j, s, &v) == 0 && sl_gdur_record_key(&v) == key_of_seq(s));
	CHECK(sl_group_key_hash("", 0) == SL_GROUP_NO_KEY && sl_group_key_hash("a", 1) != 0);

	CHECK(sl_gdur_open(&d, dir, "keys", 512, 0, NULL) == 0);
	CHECK(sl_gdur_load(d, &ld) == -ENOENT);
	CHECK(sl_group_join(g, 11, 1, 16, 0, now, &a, NULL) == 0);
	CHECK(sl_group_join(g, 22, 2, 16, 0, now, &b, NULL) == 0);
	/* Offer 1..30: each key has one in flight, the rest held behind it. */
	for (s = 1; s <= 30; s++) {
		CHECK(sl_group_offer(g, s, key_of_seq(s), now, &o) >= 0);
		if (s == 1)
			first_slot = o.slot;
	}
	/* Some acks: the keys' next messages go out by poll. */
	CHECK(sl_group_ack(g, first_slot, 1, now) == 0);
	for (k = 0; k < 3; k++) {
		nout = sl_group_poll(g, now, out, 64);
		for (i = 0; i < nout; i++)
			if (out[i].seq % 3 == 0)
				CHECK(sl_group_ack(g, out[i].slot, out[i].seq, now) == 0);
	}
	n = sl_group_export(g, ex, 256);
	CHECK(n > 8);
	CHECK(sl_gdur_snap(d, g, 31, now, 0) == 1);
	CHECK(sl_gdur_flush(d, 1) == 1);
	sl_gdur_close(d);

	/* The restart: a fresh group, the state loaded and put back. */
	CHECK(sl_gdur_open(&d, dir, "keys", 512, 0, NULL) == 0);
	CHECK(sl_gdur_load(d, &ld) == n && ld.cursor == 31);
	g2 = mk(SL_GROUP_KEY_AFFINITY, 256);
	CHECK(sl_gdur_start(d, g2, j, 41, now, &rs) == 1);
	CHECK(rs.restored == (uint32_t)n && rs.dropped == 0 && rs.refused == 0);
	CHECK(sl_gdur_start(d, g2, j, 41, now, &rs) == 0); /* once */
	CHECK(rs.cursor == 31 && rs.gap_first > rs.gap_last);
	CHECK(sl_gdur_floor(d) == ex[0].seq);
	/* The same unsettled set, counts kept. */
	n2 = sl_group_export(g2, ex2, 256);
	CHECK(n2 == n);
	for (k = 0; k < n && k < n2; k++)
		CHECK(ex2[k].seq == ex[k].seq && ex2[k].delivery_count == ex[k].delivery_count);
	/* Per-key order: the first poll sends each key's lowest restored
	 * message only (later ones held behind it), every unkeyed one. */
	CHECK(sl_group_join(g2, 11, 1, 64, 0, now, &a, NULL) == 0);
	nout = sl_group_poll(g2, now, out, 64);
	CHECK(nout > 0);
	for (i = 0; i < nout; i++) {
		uint64_t key = key_of_seq(out[i].seq);

		CHECK(out[i].reason == SL_GROUP_R_RESTORED);
		if (key == SL_GROUP_NO_KEY)
			continue;
		CHECK(seen_first[out[i].seq % 4] == 0);
		seen_first[out[i].seq % 4] = out[i].seq;
		/* It is the lowest saved message of its key. */
		for (k = 0; k < n && ex[k].seq < out[i].seq; k++)
			CHECK(ex[k].seq % 5 == 0 || ex[k].seq % 4 != out[i].seq % 4);
	}
	/* Acking a key's message lets the next one of that key go, in order. */
	for (i = 0; i < nout; i++)
		CHECK(sl_group_ack(g2, a, out[i].seq, now) == 0);
	nout = sl_group_poll(g2, now, out, 64);
	for (i = 0; i < nout; i++)
		if (key_of_seq(out[i].seq) != SL_GROUP_NO_KEY)
			CHECK(out[i].seq > seen_first[out[i].seq % 4]);
	sl_gdur_close(d);
	free(g2);

	/* Retention took the oldest records meanwhile: their entries are dropped,
	 * the cursor jumps to the earliest retained, the range is reported. */
	{
		struct sl_group *g3 = mk(SL_GROUP_KEY_AFFINITY, 256);
		struct sl_journal *j2;
		char j2dir[256];
		uint64_t first;

		path_in(j2dir, sizeof(j2dir), "restore/journal2");
		j2 = journal_with_keys(j2dir, 600, 1000);
		CHECK(j2 != NULL);
		if (j2 == NULL)
			return;
		sl_journal_set_limits(j2, 0, 2 * SEG, 0);
		CHECK(sl_journal_retain(j2, 0) > 0);
		first = sl_journal_first_seq(j2);
		CHECK(first > 31);
		CHECK(sl_gdur_open(&d, dir, "keys", 512, 0, NULL) == 0);
		CHECK(sl_gdur_load(d, &ld) == n);
		sl_gdur_restore(d, &ld, g3, j2, 601, now, &rs);
		CHECK(rs.restored == 0 && rs.dropped == (uint32_t)n);
		CHECK(rs.cursor == first);
		CHECK(rs.gap_first == ex[0].seq && rs.gap_last == first - 1);
		CHECK(rs.jumped == first - 31 && !rs.state_lost);
		CHECK(sl_group_unacked_count(g3) == 0);
		/* A lost state (every slot damaged): the earliest retained. */
		ld.rc = -EUCLEAN;
		sl_gdur_restore(d, &ld, g3, j2, 601, now, &rs);
		CHECK(rs.cursor == first && rs.restored == 0 && rs.state_lost);
		/* Never saved: the topic's next message. */
		ld.rc = -ENOENT;
		sl_gdur_restore(d, &ld, g3, j2, 601, now, &rs);
		CHECK(rs.cursor == 601 && rs.gap_first > rs.gap_last && rs.jumped == 0);
		sl_gdur_close(d);
		sl_journal_close(j2);
		free(g3);
	}
	sl_journal_close(j);
	free(g);
}

/* ---- retention arithmetic ---- */

static void
test_floor_arith(void)
{
	struct sl_group_unacked e[3] = { { 5, 1, 0 }, { 9, 2, 0 }, { 12, 0, 0 } };
	uint64_t lo = 0, hi = 0;

	CHECK(sl_gdur_floor_of(20, e, 3) == 5);
	CHECK(sl_gdur_floor_of(4, e, 3) == 4); /* reset back past its set */
	CHECK(sl_gdur_floor_of(20, e, 0) == 20);
	CHECK(sl_gdur_floor_of(0, NULL, 0) == 0);
	CHECK(sl_gdur_gap(10, 10, &lo, &hi) == 0);
	CHECK(sl_gdur_gap(11, 10, &lo, &hi) == 0);
	CHECK(sl_gdur_gap(0, 10, &lo, &hi) == 0);
	CHECK(sl_gdur_gap(3, 10, &lo, &hi) == 1 && lo == 3 && hi == 9);
}

int
main(void)
{
	strcpy(base, "/tmp/sl-gdur-test-XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 77;
	}
	test_spec_file();
	test_snap_save_load();
	test_race();
	test_restore_key_order();
	test_floor_arith();
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return check_result("test_group_durable");
}
