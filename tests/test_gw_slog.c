/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's session state log: records, reopening, a torn or damaged tail, read-back. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "gw_slog.h"

#include "check.h"

/* What a scan saw: types in order, the last CUR's values. */
struct seen {
	int n;
	uint8_t types[64];
	uint64_t a, b, c;
	char name[64];
};

static void
see(void *arg, const struct gw_slog_rec *r)
{
	struct seen *s = arg;

	if (s->n < 64)
		s->types[s->n] = r->type;
	s->n++;
	if (r->type == GW_SLOG_CUR) {
		s->a = r->a;
		s->b = r->b;
		s->c = r->c;
		snprintf(s->name, sizeof(s->name), "%.*s", (int)r->name_len, r->name);
	}
}

static struct gw_slog_rec
rec(uint8_t type, const char *cid, const char *name)
{
	struct gw_slog_rec r = { .type = type, .cid = cid, .cid_len = (uint16_t)strlen(cid) };

	r.name = name;
	r.name_len = name ? (uint16_t)strlen(name) : 0;
	return r;
}

static void
test_codec(void)
{
	uint8_t buf[256];
	struct gw_slog_rec r = rec(GW_SLOG_CUR, "dev1", "plant/temp");
	struct seen s = { 0 };
	int n;

	r.a = 41;
	r.b = 43;
	r.c = 123456789ull;
	n = gw_slog_encode(buf, sizeof(buf), &r);
	CHECK(n == (int)(GW_SLOG_HDR + 4 + 10));
	CHECK(gw_slog_encode(buf, 20, &r) == -ENOSPC);
	CHECK(gw_slog_scan(buf, (size_t)n, see, &s) == (size_t)n);
	CHECK(s.n == 1 && s.a == 41 && s.b == 43 && s.c == 123456789ull);
	CHECK(!strcmp(s.name, "plant/temp"));
	/* A flipped byte anywhere: the CRC (or the magic, the length) refuses it. */
	for (int i = 0; i < n; i++) {
		memset(&s, 0, sizeof(s));
		buf[i] ^= 0x40;
		CHECK(gw_slog_scan(buf, (size_t)n, see, &s) == 0 && s.n == 0);
		buf[i] ^= 0x40;
	}
	/* The known CRC32C check value. */
	CHECK(gw_crc32c(0, "123456789", 9) == 0xe3069283u);
}

static void
test_file(void)
{
	char dir[] = "/tmp/test_gw_slogXXXXXX", path[256];
	struct gw_slog l = { .fd = -1 };
	struct gw_slog_rec r;
	struct seen s = { 0 };
	struct stat st;
	size_t torn;
	int i, n;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/sessions-t.log", dir);
	/* No file: an empty log. */
	CHECK(gw_slog_load(path, see, &s, &torn) == 0 && torn == 0 && s.n == 0);
	CHECK(gw_slog_begin(&l, path) == 0);
	r = rec(GW_SLOG_SESS, "dev1", "alice");
	CHECK(gw_slog_append(&l, &r) == 0);
	r = rec(GW_SLOG_SUB, "dev1", "plant/temp");
	CHECK(gw_slog_append(&l, &r) == 0);
	CHECK(gw_slog_commit(&l) == 0);
	/* Appends go on after the rename. */
	for (i = 1; i <= 3; i++) {
		r = rec(GW_SLOG_CUR, "dev1", "plant/temp");
		r.a = (uint64_t)i;
		r.b = (uint64_t)i + 1;
		CHECK(gw_slog_append(&l, &r) == 0);
	}
	CHECK(l.dirty);
	gw_slog_sync(&l);
	CHECK(!l.dirty);
	gw_slog_close(&l);
	CHECK(gw_slog_append(&l, &r) == -EBADF);
	CHECK(gw_slog_load(path, see, &s, &torn) == 5 && torn == 0);
	CHECK(s.types[0] == GW_SLOG_SESS && s.types[1] == GW_SLOG_SUB && s.a == 3 && s.b == 4);

	/* A torn tail: the last record cut at every length. */
	CHECK(stat(path, &st) == 0);
	for (n = 1; n < (int)(GW_SLOG_HDR + 4 + 10); n++) {
		CHECK(truncate(path, st.st_size - n) == 0);
		memset(&s, 0, sizeof(s));
		CHECK(gw_slog_load(path, see, &s, &torn) == 4);
		CHECK(torn == (size_t)(GW_SLOG_HDR + 4 + 10 - n));
		CHECK(s.a == 2 && s.b == 3);
		/* Put it back for the next cut. */
		l.fd = open(path, O_WRONLY | O_APPEND);
		CHECK(truncate(path, st.st_size - (GW_SLOG_HDR + 4 + 10)) == 0);
		r = rec(GW_SLOG_CUR, "dev1", "plant/temp");
		r.a = 3;
		r.b = 4;
		CHECK(gw_slog_append(&l, &r) == 0);
		gw_slog_close(&l);
	}
	/* Garbage after the records. */
	{
		int fd = open(path, O_WRONLY | O_APPEND);

		CHECK(write(fd, "garbage!", 8) == 8);
		close(fd);
		memset(&s, 0, sizeof(s));
		CHECK(gw_slog_load(path, see, &s, &torn) == 5 && torn == 8);
	}
	unlink(path);
	rmdir(dir);
}

/* Read-back by the gateway: dormant sessions, their end, expiry, compaction. */
static void
test_persist_open(void)
{
	char dir[] = "/tmp/test_gw_persistXXXXXX", path[256];
	struct gw_slog l = { .fd = -1 };
	struct gw_slog_rec r;
	struct seen s = { 0 };
	size_t torn;
	int i;

	CHECK(mkdtemp(dir) != NULL);
	gw_conf_defaults(&gw.conf);
	snprintf(gw.conf.name, sizeof(gw.conf.name), "t");
	snprintf(path, sizeof(path), "%s/sessions-t.log", dir);
	CHECK(gw_slog_begin(&l, path) == 0);
	/* dev1: persistent, a subscription and a cursor moved 100 times. */
	r = rec(GW_SLOG_SESS, "dev1", "alice");
	r.u32 = UINT32_MAX;
	gw_slog_append(&l, &r);
	r = rec(GW_SLOG_SUB, "dev1", "plant/temp");
	r.qos = 1;
	gw_slog_append(&l, &r);
	for (i = 1; i <= 100; i++) {
		r = rec(GW_SLOG_CUR, "dev1", "plant/temp");
		r.a = r.b = (uint64_t)i;
		gw_slog_append(&l, &r);
	}
	/* dev2: ended. dev3: away since long ago with 10 s expiry. */
	r = rec(GW_SLOG_SESS, "dev2", "alice");
	r.u32 = 60;
	gw_slog_append(&l, &r);
	r = rec(GW_SLOG_END, "dev2", NULL);
	gw_slog_append(&l, &r);
	r = rec(GW_SLOG_SESS, "dev3", "bob");
	r.u32 = 10;
	gw_slog_append(&l, &r);
	r = rec(GW_SLOG_AWAY, "dev3", NULL);
	r.a = 1000000000ull; /* 1970 */
	r.u32 = 10;
	gw_slog_append(&l, &r);
	/* A record of a session never opened is ignored. */
	r = rec(GW_SLOG_SUB, "ghost", "x");
	gw_slog_append(&l, &r);
	CHECK(gw_slog_commit(&l) == 0);
	gw_slog_close(&l);

	CHECK(gw_persist_open(dir) == 0);
	CHECK(gw_persist_dormant() == 1);
	/* Rewritten: dev1 alone, its cursor once, at 100, and away from the
	 * restart (it was connected when the log ends). */
	CHECK(gw_slog_load(path, see, &s, &torn) == 4 && torn == 0);
	CHECK(s.types[0] == GW_SLOG_SESS && s.types[1] == GW_SLOG_SUB &&
	      s.types[2] == GW_SLOG_CUR && s.a == 100 && s.b == 100);
	CHECK(s.types[3] == GW_SLOG_AWAY);
	gw_persist_close();
	CHECK(gw_persist_dormant() == 0);
	/* Reopened after close: the same session again (a restart). */
	CHECK(gw_persist_open(dir) == 0);
	CHECK(gw_persist_dormant() == 1);
	gw_persist_close();
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_codec();
	test_file();
	test_persist_open();
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("gw_slog: all checks passed\n");
	return 0;
}
