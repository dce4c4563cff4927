/* SPDX-License-Identifier: BSD-3-Clause */
/* The etcd client against a real etcd on 127.0.0.1: read, put, compare-and-swap, races, etcd gone. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "etcd.h"

#include "check.h"
#include "etcd_harness.h"

static struct etcd_proc etcd;

static void
test_open_errors(void)
{
	struct sl_etcd *e = NULL;

	CHECK(sl_etcd_open(&e, "", 0, 0) == -EINVAL);
	CHECK(sl_etcd_open(&e, "127.0.0.1:2379", 0, 0) == -EINVAL);
	CHECK(sl_etcd_open(&e, "http://a:1,,http://b:2", 0, 0) == -EINVAL);
	CHECK(sl_etcd_open(&e, "http://a:1,http://b:2,http://c:3,http://d:4,http://e:5,"
			   "http://f:6,http://g:7,http://h:8,http://i:9", 0, 0) == -EINVAL);
	CHECK(sl_etcd_open(&e, "http://127.0.0.1:1/,https://x:2", 0, 0) == 0);
	CHECK(strcmp(sl_etcd_endpoint(e), "http://127.0.0.1:1") == 0);
	sl_etcd_close(e);
}

static void
test_basic(void)
{
	struct sl_etcd *e;
	struct sl_etcd_kv kv, cur;
	int64_t rev;

	CHECK(sl_etcd_open(&e, etcd.url, 0, 0) == 0);
	CHECK(sl_etcd_get(e, "/t/none", &kv) == -ENOENT);
	CHECK(kv.create_rev == 0);
	/* Create: only when absent. */
	CHECK(sl_etcd_cas(e, "/t/a", 0, "one", 3, &cur) == 1);
	CHECK(cur.create_rev > 0 && cur.mod_rev == cur.create_rev);
	CHECK(cur.len == 3 && strcmp(cur.value, "one") == 0);
	rev = cur.mod_rev;
	CHECK(sl_etcd_cas(e, "/t/a", 0, "two", 3, &cur) == 0);
	CHECK(strcmp(cur.value, "one") == 0 && cur.mod_rev == rev);
	CHECK(sl_etcd_get(e, "/t/a", &kv) == 0);
	CHECK(strcmp(kv.value, "one") == 0 && kv.mod_rev == rev);
	/* Swap: only at the revision read. */
	CHECK(sl_etcd_cas(e, "/t/a", rev + 1000, "three", 5, &cur) == 0);
	CHECK(strcmp(cur.value, "one") == 0);
	CHECK(sl_etcd_cas(e, "/t/a", rev, "three", 5, &cur) == 1);
	CHECK(strcmp(cur.value, "three") == 0 && cur.mod_rev > rev);
	CHECK(sl_etcd_cas(e, "/t/a", rev, "four", 4, &cur) == 0);
	CHECK(strcmp(cur.value, "three") == 0);
	/* A lost CAS on an absent key says so. */
	CHECK(sl_etcd_cas(e, "/t/absent", 5, "x", 1, &cur) == 0);
	CHECK(cur.create_rev == 0);
	/* Put, binary-safe values, keys with odd bytes. */
	CHECK(sl_etcd_put(e, "/t/b/ü space", "a\0b", 3, 0) == 0);
	CHECK(sl_etcd_get(e, "/t/b/ü space", &kv) == 0);
	CHECK(kv.len == 3 && memcmp(kv.value, "a\0b", 3) == 0);
	CHECK(sl_etcd_errmsg(e)[0] == '\0');
	sl_etcd_close(e);
}

/* Two clients race to swap the same revision: exactly one wins. */
struct racer {
	struct sl_etcd *e;
	int64_t rev;
	const char *val;
	pthread_barrier_t *bar;
	int rc;
	struct sl_etcd_kv cur;
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->bar);
	r->rc = sl_etcd_cas(r->e, "/t/race", r->rev, r->val, strlen(r->val), &r->cur);
	return NULL;
}

static void
test_race(void)
{
	struct racer r[2] = { { .val = "node-a" }, { .val = "node-b" } };
	pthread_barrier_t bar;
	pthread_t th[2];
	struct sl_etcd_kv kv;
	int round, i, wins_a = 0, wins_b = 0;

	pthread_barrier_init(&bar, NULL, 2);
	for (i = 0; i < 2; i++) {
		CHECK(sl_etcd_open(&r[i].e, etcd.url, 0, 1000) == 0);
		r[i].bar = &bar;
	}
	for (round = 0; round < 20; round++) {
		/* Round 0 races to create; later rounds to swap what is there. */
		int64_t rev = 0;

		if (round > 0) {
			CHECK(sl_etcd_get(r[0].e, "/t/race", &kv) == 0);
			rev = kv.mod_rev;
		}
		for (i = 0; i < 2; i++) {
			r[i].rev = rev;
			pthread_create(&th[i], NULL, race, &r[i]);
		}
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		CHECK((r[0].rc == 1) + (r[1].rc == 1) == 1);
		CHECK(r[0].rc >= 0 && r[1].rc >= 0);
		/* The loser sees the winner's value. */
		i = r[0].rc == 1 ? 1 : 0;
		CHECK(strcmp(r[i].cur.value, r[1 - i].val) == 0);
		CHECK(sl_etcd_get(r[0].e, "/t/race", &kv) == 0);
		CHECK(strcmp(kv.value, r[1 - i].val) == 0);
		wins_a += r[0].rc == 1;
		wins_b += r[1].rc == 1;
	}
	CHECK_EQ(wins_a + wins_b, 20);
	for (i = 0; i < 2; i++)
		sl_etcd_close(r[i].e);
	pthread_barrier_destroy(&bar);
}

/* A dead endpoint first in the list: the next one answers. */
static void
test_endpoints(void)
{
	char list[160];
	struct sl_etcd *e;
	struct sl_etcd_kv kv;

	snprintf(list, sizeof(list), "http://127.0.0.1:%d,%s", etcd_free_port(), etcd.url);
	CHECK(sl_etcd_open(&e, list, 0, 0) == 0);
	CHECK(sl_etcd_get(e, "/t/a", &kv) == 0);
	CHECK(strcmp(sl_etcd_endpoint(e), etcd.url) == 0);
	CHECK(sl_etcd_get(e, "/t/a", &kv) == 0); /* the good one first from now on */
	sl_etcd_close(e);
}

/* Something that accepts connections and never answers: the request ends
 * at the total timeout. */
static void
test_silent_endpoint(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	struct sl_etcd *e;
	struct sl_etcd_kv kv;
	char url[64];
	uint64_t t0, dt;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0 && listen(fd, 8) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	CHECK(sl_etcd_open(&e, url, 50, 100) == 0);
	t0 = etcd_now_ms();
	CHECK(sl_etcd_get(e, "/t/a", &kv) == -ETIMEDOUT);
	dt = etcd_now_ms() - t0;
	CHECK(dt >= 90 && dt < 400);
	CHECK(strstr(sl_etcd_errmsg(e), url) != NULL);
	/* A write waits longer (etcd syncs its log first), bounded too. */
	t0 = etcd_now_ms();
	CHECK(sl_etcd_cas(e, "/t/a", 0, "x", 1, &kv) == -ETIMEDOUT);
	dt = etcd_now_ms() - t0;
	CHECK(dt >= SL_ETCD_WRITE_MS - 10 && dt < SL_ETCD_WRITE_MS + 400);
	sl_etcd_close(e);
	close(fd);
}

/* etcd gone: clean errors at once, no hang; back: it answers again. */
static void
test_etcd_down(void)
{
	struct sl_etcd *e;
	struct sl_etcd_kv kv;
	uint64_t t0;

	CHECK(sl_etcd_open(&e, etcd.url, 0, 0) == 0);
	CHECK(sl_etcd_get(e, "/t/a", &kv) == 0); /* a kept-alive connection */
	etcd_stop(&etcd);
	t0 = etcd_now_ms();
	CHECK(sl_etcd_get(e, "/t/a", &kv) == -ECONNREFUSED);
	CHECK(kv.create_rev == 0);
	CHECK(sl_etcd_put(e, "/t/a", "x", 1, 0) == -ECONNREFUSED);
	CHECK(sl_etcd_cas(e, "/t/a", 0, "x", 1, &kv) == -ECONNREFUSED);
	CHECK(etcd_now_ms() - t0 < 400);
	CHECK(strstr(sl_etcd_errmsg(e), etcd.url) != NULL);
	fprintf(stderr, "etcd down: \"%s\"\n", sl_etcd_errmsg(e));
	CHECK(etcd_start(&etcd, etcd.port) == 0);
	CHECK(sl_etcd_get(e, "/t/a", &kv) == 0);
	CHECK(strcmp(kv.value, "three") == 0);
	sl_etcd_close(e);
}

int
main(void)
{
	test_open_errors();
	if (!etcd_installed()) {
		fprintf(stderr, "etcd not installed (scripts/setup.sh installs etcd-server): skip\n");
		return 77;
	}
	if (etcd_start(&etcd, 0) < 0) {
		etcd_destroy(&etcd);
		return 1;
	}
	test_basic();
	test_race();
	test_endpoints();
	test_silent_endpoint();
	test_etcd_down();
	etcd_destroy(&etcd);
	return check_result("etcd");
}
