/* SPDX-License-Identifier: BSD-3-Clause */
/* Durable group state file: save/load, injected persist faults, torn saves, damaged slots. */

#include "check.h"
#include "group_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

/* --- the media model ------------------------------------------------------------ */

/*
 * What reaches the media is only what was persisted: every persist copies
 * its range from the mapping into the "media" image. A crash at persist
 * number crash_at copies, instead, a random half of the 8-byte words that
 * differ (stores the system may or may not have written back on its own),
 * fails, and from then on nothing more reaches the media. The file is then
 * rewritten with the media image and opened again, as after a restart.
 */
static uint8_t *media;
static const uint8_t *base;
static size_t media_len;
static int persists, crash_at, crashed, fail_at;
static int crash_saw_commit; /* a commit word was stored, not yet persisted, at the crash */

static void
media_persist(const void *addr, size_t len)
{
	const uint8_t *p = addr;
	size_t i;

	if (base == NULL || p < base || p + len > base + media_len) {
		CHECK(!"persist outside the mapping");
		return;
	}
	if (crashed)
		return;
	persists++;
	if (crash_at && persists == crash_at) {
		crashed = 1;
		for (i = 0; i + 8 <= media_len; i += 8) {
			uint64_t w;

			memcpy(&w, base + i, 8);
			if (memcmp(media + i, base + i, 8) != 0 &&
			    (uint32_t)(w >> 32) == SL_GSTATE_COMMIT_MAGIC)
				crash_saw_commit = 1;
		}
		for (i = 0; i + 8 <= media_len; i += 8)
			if (memcmp(media + i, base + i, 8) != 0 && rng() % 2)
				memcpy(media + i, base + i, 8);
		return;
	}
	memcpy(media + (p - base), p, len);
}

static void
t_flush(const void *addr, size_t len)
{
	media_persist(addr, len);
}

static void
t_drain(void)
{
}

static int
t_msync(const void *addr, size_t len)
{
	media_persist(addr, len);
	if (fail_at && persists == fail_at)
		return -1;
	return crashed ? -1 : 0;
}

static int use_pmem;

static int
t_is_pmem(const void *addr, size_t len)
{
	base = addr;
	media_len = len;
	return use_pmem;
}

static const struct sl_persist_ops model_ops = {
	.flush = t_flush, .drain = t_drain, .msync = t_msync, .is_pmem = t_is_pmem,
};

static void
model_reset(void)
{
	persists = crash_at = crashed = fail_at = crash_saw_commit = 0;
	base = NULL;
}

/* Open with the model: the media starts as the file is. */
static struct sl_gstate *
model_open(const char *name, uint32_t cap)
{
	struct sl_gstate *gs = NULL;
	int rc;

	model_reset();
	rc = sl_gstate_open(&gs, dir, name, cap, &model_ops);
	CHECK_EQ(rc, 0);
	if (rc != 0)
		abort();
	free(media);
	media = malloc(media_len);
	memcpy(media, base, media_len);
	return gs;
}

static void
file_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/group-%s.state", dir, name);
}

/* Close, and leave on disk only what reached the media. */
static void
model_crash(struct sl_gstate *gs, const char *name)
{
	char path[512];
	int fd;

	sl_gstate_close(gs);
	file_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, media, media_len, 0) == (ssize_t)media_len);
	close(fd);
}

/* Make (once) or empty (both slots zero, as new) the state file @name:
 * cheaper than a new file, whose creation syncs the directory. */
static void
zero_file(const char *name, uint32_t cap)
{
	struct sl_gstate *gs = NULL;
	size_t len;
	void *p;

	CHECK_EQ(sl_gstate_open(&gs, dir, name, cap, NULL), 0);
	if (gs == NULL)
		abort();
	p = sl_gstate_mapping(gs, &len);
	memset(p, 0, len);
	sl_gstate_close(gs);
}

/* --- helpers -------------------------------------------------------------------- */

struct state {
	uint64_t cursor;
	uint32_t n;
	struct sl_gstate_entry e[64];
};

static void
mk_state(struct state *s, uint64_t cursor, uint32_t n)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->cursor = cursor;
	s->n = n;
	for (i = 0; i < n; i++) {
		s->e[i].seq = cursor - n + i;
		s->e[i].delivery_count = i % 4;
	}
}

static int
save(struct sl_gstate *gs, const struct state *s)
{
	return sl_gstate_save(gs, s->cursor, s->e, s->n, 1000 + s->cursor);
}

/* Load and compare with @want (NULL: expect @rc_want). */
static int
loads_as(struct sl_gstate *gs, const struct state *want, struct sl_gstate_info *info)
{
	struct sl_gstate_entry e[64];
	int rc = sl_gstate_load(gs, e, 64, info);

	if (rc < 0)
		return rc;
	if (want == NULL || (uint32_t)rc != want->n || info->cursor != want->cursor ||
	    memcmp(e, want->e, (size_t)rc * sizeof(e[0])) != 0)
		return -1000;
	return 0;
}

/* --- tests ------------------------------------------------------------------------ */

static void
test_basic(void)
{
	struct sl_gstate *gs = NULL;
	struct sl_gstate_info info;
	struct sl_gstate_counts cnt;
	struct sl_gstate_entry e[8];
	struct state s1, s2, s3;

	CHECK_EQ(sl_gstate_open(&gs, dir, "../x", 8, NULL), -EINVAL);
	CHECK_EQ(sl_gstate_open(&gs, dir, ".hidden", 8, NULL), -EINVAL);
	CHECK_EQ(sl_gstate_open(&gs, dir, "", 8, NULL), -EINVAL);
	CHECK_EQ(sl_gstate_open(&gs, dir, "a-name-that-is-much-too-long-for-a-group", 8, NULL),
		 -EINVAL);
	CHECK_EQ(sl_gstate_open(&gs, dir, "g", 0, NULL), -EINVAL);
	CHECK_EQ(sl_gstate_open(&gs, dir, "basic", 40, NULL), 0);
	CHECK(sl_gstate_capacity(gs) >= 40);
	CHECK_EQ(sl_gstate_load(gs, e, 8, &info), -ENOENT);
	CHECK_EQ(info.slot_status[0], SL_GSTATE_SLOT_EMPTY);
	CHECK_EQ(info.slot_status[1], SL_GSTATE_SLOT_EMPTY);
	mk_state(&s1, 100, 3);
	mk_state(&s2, 200, 0);
	mk_state(&s3, 300, 40);
	CHECK_EQ(save(gs, &s1), 0);
	CHECK_EQ(loads_as(gs, &s1, &info), 0);
	CHECK_EQ(info.generation, 1);
	CHECK_EQ(info.slot, 0);
	CHECK_EQ(info.saved_ns, 1100);
	CHECK_EQ(save(gs, &s2), 0);
	CHECK_EQ(loads_as(gs, &s2, &info), 0);
	CHECK_EQ(info.generation, 2);
	CHECK_EQ(info.slot, 1);
	CHECK_EQ(info.slot_status[0], SL_GSTATE_SLOT_VALID);
	CHECK_EQ(save(gs, &s3), 0);
	CHECK_EQ(sl_gstate_save(gs, 1, s3.e, sl_gstate_capacity(gs) + 1, 0), -ENOSPC);
	CHECK_EQ(sl_gstate_load(gs, e, 8, &info), -ENOSPC); /* 40 do not fit in 8 */
	CHECK_EQ(info.n, 40);
	sl_gstate_counts(gs, &cnt);
	CHECK_EQ(cnt.saves, 3);
	sl_gstate_close(gs);
	/* again after a restart, whatever capacity is asked: the file's */
	CHECK_EQ(sl_gstate_open(&gs, dir, "basic", 8, NULL), 0);
	CHECK(sl_gstate_capacity(gs) >= 40);
	CHECK_EQ(loads_as(gs, &s3, &info), 0);
	CHECK_EQ(info.generation, 3);
	/* a save right after open (no load first) never overwrites the newest */
	sl_gstate_close(gs);
	CHECK_EQ(sl_gstate_open(&gs, dir, "basic", 8, NULL), 0);
	CHECK_EQ(save(gs, &s1), 0);
	CHECK_EQ(loads_as(gs, &s1, &info), 0);
	CHECK_EQ(info.generation, 4);
	CHECK_EQ(info.slot, 1);
	sl_gstate_close(gs);
	CHECK_EQ(sl_gstate_remove(dir, "basic"), 0);
	CHECK_EQ(sl_gstate_remove(dir, "basic"), -ENOENT);
	sl_gstate_close(NULL);
}

/* A file of the wrong size is refused (-EUCLEAN) and can be removed. */
static void
test_bad_file(void)
{
	struct sl_gstate *gs = NULL;
	char path[512];
	int fd;

	file_path(path, sizeof(path), "short");
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 4096 + 100) == 0);
	close(fd);
	CHECK_EQ(sl_gstate_open(&gs, dir, "short", 8, NULL), -EUCLEAN);
	/* a state file cut in half by a truncation: one slot left */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(ftruncate(fd, 4096) == 0);
	close(fd);
	CHECK_EQ(sl_gstate_open(&gs, dir, "short", 8, NULL), -EUCLEAN);
	CHECK_EQ(sl_gstate_remove(dir, "short"), 0);
	CHECK_EQ(sl_gstate_open(&gs, dir, "short", 8, NULL), 0);
	sl_gstate_close(gs);
	sl_gstate_remove(dir, "short");
}

/* A failed persist: -EIO, counted; the newest committed state stays
 * loadable and the next save goes on. */
static void
test_persist_fault(int pmem)
{
	struct sl_gstate *gs;
	struct sl_gstate_info info;
	struct sl_gstate_counts cnt;
	struct state s1, s2, s3;
	int k;

	use_pmem = pmem;
	mk_state(&s1, 10, 2);
	mk_state(&s2, 20, 5);
	mk_state(&s3, 30, 1);
	for (k = 1; k <= 3 && !pmem; k++) {
		gs = model_open("fault", 16);
		CHECK_EQ(save(gs, &s1), 0);
		CHECK_EQ(save(gs, &s2), 0);
		fail_at = persists + k; /* clear, body, commit */
		CHECK_EQ(save(gs, &s3), -EIO);
		sl_gstate_counts(gs, &cnt);
		CHECK_EQ(cnt.save_errors, 1);
		fail_at = 0;
		/* the mapping holds s2, or s3 when only the commit's persist failed */
		CHECK_EQ(loads_as(gs, k == 3 ? &s3 : &s2, &info), 0);
		CHECK_EQ(save(gs, &s1), 0);
		CHECK_EQ(loads_as(gs, &s1, &info), 0);
		sl_gstate_close(gs);
		sl_gstate_remove(dir, "fault");
	}
	/* the persist calls a save makes: the slot's old commit word cleared
	 * (none in a slot never written), header and entries, the commit word */
	gs = model_open("fault", 16);
	CHECK_EQ(save(gs, &s1), 0);
	CHECK_EQ(persists, 2);
	CHECK_EQ(save(gs, &s2), 0);
	CHECK_EQ(save(gs, &s3), 0);
	CHECK_EQ(persists, 2 + 2 + 3);
	sl_gstate_close(gs);
	sl_gstate_remove(dir, "fault");
}

/* Crash at every persist of a save, with stores written back at random:
 * after the restart the state is the previous one, or the new one once
 * its commit word could have reached the media; the slot cut short reads
 * as torn (or as its older valid state), never as damaged. */
static void
test_torn(int pmem)
{
	struct state s[4];
	int k, trial, i;

	use_pmem = pmem;
	for (i = 0; i < 4; i++)
		mk_state(&s[i], 100 * (i + 1), (uint32_t)(5 + 13 * i) % 64);
	zero_file("torn", 64);
	for (k = 1; k <= 3; k++) {
		for (trial = 0; trial < 200; trial++) {
			struct sl_gstate *gs = model_open("torn", 64);
			struct sl_gstate_info info;
			int saved = 1 + trial % 3, rc, other;

			for (i = 0; i < saved; i++)
				CHECK_EQ(save(gs, &s[i]), 0);
			crash_at = persists + k;
			rc = save(gs, &s[saved]);
			if (!crashed) /* this save made fewer persists than k */
				CHECK_EQ(rc, 0);
			else
				CHECK(rc == -EIO || pmem);
			model_crash(gs, "torn");
			CHECK_EQ(sl_gstate_open(&gs, dir, "torn", 64, NULL), 0);
			if (!crashed) {
				CHECK_EQ(loads_as(gs, &s[saved], &info), 0);
				rc = 1;
			} else {
				rc = loads_as(gs, &s[saved - 1], &info);
				/* the new state only where its commit word was
				 * stored and could have been written back */
				if (rc != 0 && crash_saw_commit)
					rc = loads_as(gs, &s[saved], &info);
				CHECK_EQ(rc, 0);
			}
			if (rc == 0 && info.cursor == s[saved - 1].cursor) {
				other = (int)info.slot ^ 1;
				CHECK(info.slot_status[other] == SL_GSTATE_SLOT_TORN ||
				      info.slot_status[other] == SL_GSTATE_SLOT_VALID ||
				      info.slot_status[other] == SL_GSTATE_SLOT_EMPTY);
				CHECK_EQ(info.generation, (uint64_t)saved);
			}
			/* the next save after the restart commits */
			CHECK_EQ(save(gs, &s[3]), 0);
			CHECK_EQ(loads_as(gs, &s[3], &info), 0);
			sl_gstate_close(gs);
			zero_file("torn", 64);
		}
	}
	sl_gstate_remove(dir, "torn");
}

/* One flipped byte anywhere in a committed slot: that slot reads as
 * damaged (never torn) and the other one is loaded; both slots damaged:
 * -EUCLEAN, the position is lost and said so. */
static void
test_damage(void)
{
	struct sl_gstate *gs = NULL;
	struct sl_gstate_info info;
	struct state s1, s2;
	uint8_t *pristine, *img;
	size_t len, slot_bytes, used1, used2;
	char path[512];
	int iter, fd;

	mk_state(&s1, 1000, 7);
	mk_state(&s2, 2000, 20);
	CHECK_EQ(sl_gstate_open(&gs, dir, "dmg", 20, NULL), 0);
	CHECK_EQ(save(gs, &s1), 0); /* slot 0 */
	CHECK_EQ(save(gs, &s2), 0); /* slot 1 */
	pristine = sl_gstate_mapping(gs, &len);
	img = malloc(len);
	memcpy(img, pristine, len);
	pristine = img;
	img = malloc(len);
	sl_gstate_close(gs);
	slot_bytes = len / 2;
	used1 = SL_GSTATE_HDR + 7 * 16 + 8;
	used2 = SL_GSTATE_HDR + 20 * 16 + 8;
	file_path(path, sizeof(path), "dmg");
	for (iter = 0; iter < 3000; iter++) {
		int which = (int)(rng() % 2), both = iter % 10 == 9, rc;
		size_t off = rng() % (which ? used2 : used1);
		uint8_t flip = (uint8_t)(1 + rng() % 255);

		memcpy(img, pristine, len);
		img[which * slot_bytes + off] ^= flip;
		if (both)
			img[(which ^ 1) * slot_bytes + rng() % (which ? used1 : used2)] ^= flip;
		fd = open(path, O_WRONLY);
		CHECK(pwrite(fd, img, len, 0) == (ssize_t)len);
		close(fd);
		CHECK_EQ(sl_gstate_open(&gs, dir, "dmg", 20, NULL), 0);
		rc = loads_as(gs, both ? NULL : which ? &s1 : &s2, &info);
		if (both) {
			CHECK_EQ(rc, -EUCLEAN);
			CHECK_EQ(info.slot_status[0], SL_GSTATE_SLOT_DAMAGED);
			CHECK_EQ(info.slot_status[1], SL_GSTATE_SLOT_DAMAGED);
		} else {
			CHECK_EQ(rc, 0);
			CHECK_EQ(info.slot_status[which], SL_GSTATE_SLOT_DAMAGED);
			CHECK_EQ(info.slot_status[which ^ 1], SL_GSTATE_SLOT_VALID);
			{
				struct sl_gstate_counts c;

				sl_gstate_counts(gs, &c);
				CHECK_EQ(c.damaged, 1);
				CHECK_EQ(c.torn, 0);
			}
		}
		sl_gstate_close(gs);
	}
	/* a flip past the commit word, in space no save used, harms nothing */
	memcpy(img, pristine, len);
	img[slot_bytes + used2 + 100] ^= 0xff;
	fd = open(path, O_WRONLY);
	CHECK(pwrite(fd, img, len, 0) == (ssize_t)len);
	close(fd);
	CHECK_EQ(sl_gstate_open(&gs, dir, "dmg", 20, NULL), 0);
	CHECK_EQ(loads_as(gs, &s2, &info), 0);
	sl_gstate_close(gs);
	/* a zeroed slot is empty, the other loads */
	memcpy(img, pristine, len);
	memset(img + slot_bytes, 0, slot_bytes);
	fd = open(path, O_WRONLY);
	CHECK(pwrite(fd, img, len, 0) == (ssize_t)len);
	close(fd);
	CHECK_EQ(sl_gstate_open(&gs, dir, "dmg", 20, NULL), 0);
	CHECK_EQ(loads_as(gs, &s1, &info), 0);
	CHECK_EQ(info.slot_status[1], SL_GSTATE_SLOT_EMPTY);
	/* and the next save goes to the empty slot, keeping s1 */
	CHECK_EQ(save(gs, &s2), 0);
	CHECK_EQ(info.slot, 0);
	CHECK_EQ(loads_as(gs, &s2, &info), 0);
	CHECK_EQ(info.slot, 1);
	sl_gstate_close(gs);
	sl_gstate_remove(dir, "dmg");
	free(img);
	free(pristine);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/sl-gstate-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_basic();
	test_bad_file();
	test_persist_fault(0);
	test_persist_fault(1);
	test_torn(0);
	test_torn(1);
	test_damage();
	free(media);
	rmdir(dir);
	return check_result("test_group_state");
}
