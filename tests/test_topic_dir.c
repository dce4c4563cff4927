/* SPDX-License-Identifier: BSD-3-Clause */
/* A topic's directory: the saved spec (format, old format, damage, atomic save) and durable removal. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/cnc.h>
#include <common/proto.h>

#include "config.h"
#include "topic_dir.h"

#include "check.h"

static char root[64];
static char err[256];

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int
count_prefix(const char *dir, const char *prefix)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static const struct sl_topic_spec full = {
	.durability = SL_DUR_SYNC,
	.backpressure = SL_CNC_BP_BLOCK,
	.retain_bytes = 104857600,
	.retain_age_s = 3600,
	.capacity_bytes = 1ull << 40,
};

static int
same(const struct sl_topic_spec *a, const struct sl_topic_spec *b)
{
	return a->durability == b->durability && a->backpressure == b->backpressure &&
	       a->retain_bytes == b->retain_bytes && a->retain_age_s == b->retain_age_s &&
	       a->capacity_bytes == b->capacity_bytes;
}

/* parse(text) with the result in *out; returns parse's value. */
static int
parse(const char *text, struct sl_topic_spec *out, unsigned *v)
{
	return sl_topic_spec_parse(text, strlen(text), out, v, err, sizeof(err));
}

static void
test_format(void)
{
	struct sl_topic_spec s;
	char buf[SL_TOPIC_SPEC_MAX], bad[SL_TOPIC_SPEC_MAX];
	unsigned v = 0;
	int n, i;

	n = sl_topic_spec_format(&full, buf, sizeof(buf));
	CHECK(n > 0 && (size_t)n == strlen(buf));
	CHECK(strstr(buf, "version = 2\n") && strstr(buf, "durability = sync\n") &&
	      strstr(buf, "backpressure = block\n") && strstr(buf, "retain_age_s = 3600\n"));
	CHECK(parse(buf, &s, &v) == 0 && v == 2 && same(&s, &full));
	CHECK(sl_topic_spec_format(&full, buf, 40) == -ENOSPC);

	/* Every single byte changed is caught (the checksum, or the syntax). */
	n = sl_topic_spec_format(&full, buf, sizeof(buf));
	for (i = 0; i < n; i++) {
		memcpy(bad, buf, (size_t)n + 1);
		bad[i] ^= 0x01;
		if (parse(bad, &s, NULL) == 0 && !same(&s, &full))
			CHECK(!"a changed byte went unnoticed");
	}
	memcpy(bad, buf, (size_t)n + 1);
	*strstr(bad, "3600") = '4';
	CHECK(parse(bad, &s, NULL) == -EBADMSG && strstr(err, "checksum mismatch") != NULL);
	/* Cut short anywhere: refused. */
	for (i = 0; i < n; i++)
		CHECK(sl_topic_spec_parse(buf, (size_t)i, &s, NULL, err, sizeof(err)) == -EBADMSG);
}

static void
test_versions(void)
{
	struct sl_topic_spec s;
	unsigned v = 0;

	/* Version 1: the durability alone; the rest takes the defaults. */
	CHECK(parse("durability = async\n", &s, &v) == 0 && v == 1);
	CHECK(s.durability == SL_DUR_ASYNC && s.backpressure == SL_CNC_BP_DEFAULT &&
	      s.retain_bytes == 0 && s.retain_age_s == 0 && s.capacity_bytes == 0);
	CHECK(parse("durability = fast\n", &s, NULL) == -EBADMSG && strstr(err, "fast") != NULL);
	CHECK(parse("durability = async", &s, NULL) == -EBADMSG);
	CHECK(parse("", &s, NULL) == -EBADMSG);
	CHECK(parse("garbage\n", &s, NULL) == -EBADMSG);
	/* A version this dataplane does not know, an unknown key: refused. */
	CHECK(parse("# sluice topic spec\nversion = 3\n", &s, NULL) == -EBADMSG &&
	      strstr(err, "version") != NULL);
	CHECK(parse("# sluice topic spec\nversion = 2\ncolour = red\n", &s, NULL) == -EBADMSG &&
	      strstr(err, "unknown key 'colour'") != NULL);
	CHECK(parse("# sluice topic spec\nversion = 2\nversion = 2\n", &s, NULL) == -EBADMSG &&
	      strstr(err, "twice") != NULL);
	CHECK(parse("# sluice topic spec\nversion = 2\ndurability = sync\n", &s, NULL) ==
		      -EBADMSG && strstr(err, "crc32c") != NULL);
}

static void
test_save_load(void)
{
	struct sl_topic_spec s, two = full;
	char dir[128], path[192];
	struct stat a, b;

	snprintf(dir, sizeof(dir), "%s/orders.eu", root);
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(sl_topic_spec_load(dir, &s, err, sizeof(err)) == -ENOENT);
	CHECK(sl_topic_spec_save(dir, &full) == 0);
	CHECK(sl_topic_spec_load(dir, &s, err, sizeof(err)) == 0 && same(&s, &full));
	snprintf(path, sizeof(path), "%s/" SL_TOPIC_SPEC_FILE ".tmp", dir);
	CHECK(!exists(path));
	/* Saving what the file holds already writes nothing. */
	snprintf(path, sizeof(path), "%s/" SL_TOPIC_SPEC_FILE, dir);
	CHECK(stat(path, &a) == 0);
	CHECK(sl_topic_spec_save(dir, &full) == 0);
	CHECK(stat(path, &b) == 0 && a.st_ino == b.st_ino);
	/* A change is a new file renamed over the old one. */
	two.retain_bytes = 1;
	CHECK(sl_topic_spec_save(dir, &two) == 0);
	CHECK(stat(path, &b) == 0 && a.st_ino != b.st_ino);
	CHECK(sl_topic_spec_load(dir, &s, err, sizeof(err)) == 0 && same(&s, &two));
	/* An old file loads; a damaged one is reported and left alone. */
	put(path, "durability = sync\n");
	CHECK(sl_topic_spec_load(dir, &s, err, sizeof(err)) == 0 && s.durability == SL_DUR_SYNC);
	put(path, "# sluice topic spec\nversion = 2\ndurability = sync\nbackpressure = block\n"
		  "retain_bytes = 0\nretain_age_s = 0\ncapacity_bytes = 0\ncrc32c = 00000000\n");
	CHECK(sl_topic_spec_load(dir, &s, err, sizeof(err)) == -EBADMSG &&
	      strstr(err, "checksum") != NULL);
	/* A leftover policy.tmp (a crash mid-save) changes nothing. */
	snprintf(path, sizeof(path), "%s/" SL_TOPIC_SPEC_FILE ".tmp", dir);
	put(path, "half");
	CHECK(sl_topic_spec_save(dir, &full) == 0);
	CHECK(sl_topic_spec_load(dir, &s, err, sizeof(err)) == 0 && same(&s, &full));
}

static void
test_delete(void)
{
	char dir[128], path[192], tomb[128];

	/* A topic directory with files and a subdirectory. */
	snprintf(dir, sizeof(dir), "%s/del.me", root);
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
	put(path, "segment");
	snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/sub/x", dir);
	put(path, "x");
	CHECK(sl_topic_spec_save(dir, &full) == 0);

	CHECK(sl_topic_dir_delete(root, "del.me") == 0);
	CHECK(!exists(dir));
	CHECK(count_prefix(root, SL_TOPIC_TOMBSTONE) == 0);
	CHECK(sl_topic_dir_delete(root, "del.me") == -ENOENT);
	/* The name is free again: a new directory, nothing of the old one. */
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(sl_topic_spec_load(dir, &(struct sl_topic_spec){ 0 }, err, sizeof(err)) == -ENOENT);
	CHECK(rmdir(dir) == 0);

	/* What a crash between the rename and the removal leaves: swept, and
	 * nothing else is touched. */
	snprintf(tomb, sizeof(tomb), "%s/" SL_TOPIC_TOMBSTONE "17.0", root);
	CHECK(mkdir(tomb, 0700) == 0);
	snprintf(path, sizeof(path), "%s/journal.meta", tomb);
	put(path, "meta");
	CHECK(sl_topic_dir_sweep(root) == 1);
	CHECK(!exists(tomb));
	snprintf(path, sizeof(path), "%s/orders.eu/" SL_TOPIC_SPEC_FILE, root);
	CHECK(exists(path));
	CHECK(sl_topic_dir_sweep(root) == 0);
	CHECK(sl_topic_dir_sweep("/nonexistent/sluice") == -ENOENT);
}

/* Directory names: every byte a topic name may hold survives the round trip,
 * and no name maps to ".", "..", a tombstone or a path. */
static void
test_names(void)
{
	static const char *const names[] = { "orders.eu", "a-b_c.9", "x/y", "%41", ".dot",
					     "sp ace", "a..b", "..", "t\xc3\xa9" };
	char dir[256], back[SL_MAX_TOPIC_NAME + 1];
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len = strlen(names[i]);

		if (!sl_proto_topic_name_valid(names[i], len))
			continue;
		CHECK(sl_topic_dir_name(names[i], len, dir, sizeof(dir)) == 0);
		CHECK(strchr(dir, '/') == NULL && dir[0] != '.');
		CHECK(sl_topic_dir_parse_name(dir, back, sizeof(back)) == 0);
		CHECK(strcmp(back, names[i]) == 0);
	}
	CHECK(sl_topic_dir_name("orders.eu", 9, dir, sizeof(dir)) == 0);
	CHECK(strcmp(dir, "orders.eu") == 0);
	CHECK(sl_topic_dir_name("x/y", 3, dir, sizeof(dir)) == 0);
	CHECK(strcmp(dir, "x%2Fy") == 0);
	CHECK(sl_topic_dir_name(".a", 2, dir, sizeof(dir)) == 0);
	CHECK(strcmp(dir, "%2Ea") == 0);
	CHECK(sl_topic_dir_name("orders.eu", 9, dir, 9) == -ENAMETOOLONG);
	CHECK(sl_topic_dir_parse_name("bad%zz", back, sizeof(back)) == -EINVAL);
	CHECK(sl_topic_dir_parse_name("cut%4", back, sizeof(back)) == -EINVAL);
	CHECK(sl_topic_dir_parse_name("", back, sizeof(back)) == -EINVAL);
	CHECK(sl_topic_dir_parse_name("abcdef", back, 4) == -EINVAL);
}

int
main(void)
{
	char cmd[128];

	snprintf(root, sizeof(root), "/tmp/sl_topic_dir_XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_names();
	test_format();
	test_versions();
	test_save_load();
	test_delete();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_result("topic_dir");
}
