/* SPDX-License-Identifier: BSD-3-Clause */
/* Dataplane config tests: defaults, every key, overrides, every error, presets. */

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cfgfile.h>

#include "config.h"

#include "check.h"


/* ~25 KiB each: static, not on the stack. */
static struct sl_conf conf, conf2;
static char err[1024];
static char path[4096];

static uint32_t
ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

/* Write @text to a fresh temporary file; its name is left in path. */
static void
write_tmp(const char *text)
{
	const char *dir = getenv("TMPDIR");
	size_t len = strlen(text);
	int fd;

	snprintf(path, sizeof(path), "%s/sl-test-conf-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(1);
	}
	if (write(fd, text, len) != (ssize_t)len) {
		perror("write");
		exit(1);
	}
	close(fd);
}

/* Load @text over the defaults in conf; the file is removed afterwards. */
static int
load_text(const char *text)
{
	int rc;

	sl_conf_defaults(&conf);
	err[0] = '\0';
	write_tmp(text);
	rc = sl_conf_load(&conf, path, err, sizeof(err));
	unlink(path);
	return rc;
}

/*
 * A load that must fail with -EINVAL, with @what in the message after the
 * place it names: @at is "[section] key" for a value (rte_cfgfile keeps no
 * line numbers), ":N" for a syntax error at line N (rte_cfgfile's own
 * report), "" for a section or an entry before any section.
 */
static void
expect_load_error(const char *text, const char *at, const char *what, int src_line)
{
	char where[4200];
	int rc = load_text(text);

	if (at[0] == ':')
		snprintf(where, sizeof(where), "%s%s: ", path, at);
	else if (at[0])
		snprintf(where, sizeof(where), "%s: %s: ", path, at);
	else
		snprintf(where, sizeof(where), "%s: ", path);
	if (rc != -EINVAL || strncmp(err, where, strlen(where)) != 0 || !strstr(err, what)) {
		fprintf(stderr, "%s:%d: load error: rc %d, message '%s', wanted '%s...%s'\n",
			__FILE__, src_line, rc, err, where, what);
		failures++;
	}
}
#define LOAD_ERR(text, at, what) expect_load_error(text, at, what, __LINE__)

static void
test_defaults(void)
{
	sl_conf_defaults(&conf);
	CHECK(strcmp(conf.name, "sluice") == 0);
	CHECK(conf.eal_args[0] == '\0');
	CHECK(conf.main_lcore == 0);
	CHECK(conf.idle == SL_IDLE_BUSY);
	CHECK(conf.idle_max_us == 200);
	CHECK(conf.idle_spin == 256);
	CHECK(conf.burst == 32);
	CHECK(conf.mbufs == 16383);
	CHECK(conf.mbuf_cache == 256);
	CHECK(conf.ring_size == 4096);
	CHECK(conf.max_topics == 1024);
	CHECK(conf.max_subscribers == 64);
	CHECK(conf.max_sessions == 4096);
	CHECK(conf.heartbeat_ms == 1000);
	CHECK(conf.session_timeout_ms == 3000);
	CHECK(conf.auto_create_topics == 1);
	CHECK(conf.no_huge == 0);
	CHECK(conf.memory_mb == 512);
	CHECK(conf.n_ports == 0 && conf.n_workers == 0 && conf.n_topics == 0);
	/* Defaults alone have no port: validation must say so. */
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == -EINVAL);
}

static const char full_file[] =
	"# every key of every section\n"
	"\n"
	"[dataplane]\n"
	"name = inst-a            # trailing comment\n"
	"eal_args = --log-level=7 --in-memory\n"
	"\tmain_lcore\t=\t2\t\n"
	"idle = backoff\n"
	"idle_max_us = 500\n"
	"idle_spin = 16\n"
	"burst = 64\n"
	"mbufs = 32767\n"
	"mbuf_cache = 0x80\n"
	"ring_size = 1024\n"
	"max_topics = 100\n"
	"max_subscribers = 16\n"
	"max_sessions = 2000\n"
	"heartbeat_ms = 250\n"
	"session_timeout_ms = 750\n"
	"auto_create_topics = no\n"
	"no_huge = true\n"
	"memory_mb = 256\n"
	"topics = md.eurusd, md.usdjpy orders\n"
	"topics = fills\n"
	"\n"
	"[port0]\n"
	"vdev = net_ring0\n"
	"ip = 10.0.0.1\n"
	"udp_port = 9600\n"
	"rx_queues = 2\n"
	"rx_desc = 512\n"
	"tx_desc = 2048\n"
	"rss = off\n"
	"promisc = on\n"
	"[ port1 ]\n"
	"pci = 0000:03:00.0\n"
	"ip = 192.168.1.20\n"
	"\n"
	"[worker0]\n"
	"lcore = 3\n"
	"port = 0\n"
	"queue = 0\n"
	"[worker1]\n"
	"lcore = 4\n"
	"port = 0\n"
	"queue = 1\n"
	"[worker2]\n"
	"lcore = 5\n"
	"port = 1\n"
	"queue = 0\n";

static void
check_full(const struct sl_conf *c)
{
	CHECK(strcmp(c->name, "inst-a") == 0);
	CHECK(strcmp(c->eal_args, "--log-level=7 --in-memory") == 0);
	CHECK(c->main_lcore == 2);
	CHECK(c->idle == SL_IDLE_BACKOFF);
	CHECK(c->idle_max_us == 500);
	CHECK(c->idle_spin == 16);
	CHECK(c->burst == 64);
	CHECK(c->mbufs == 32767);
	CHECK(c->mbuf_cache == 128);
	CHECK(c->ring_size == 1024);
	CHECK(c->max_topics == 100);
	CHECK(c->max_subscribers == 16);
	CHECK(c->max_sessions == 2000);
	CHECK(c->heartbeat_ms == 250);
	CHECK(c->session_timeout_ms == 750);
	CHECK(c->auto_create_topics == 0);
	CHECK(c->no_huge == 1);
	CHECK(c->memory_mb == 256);
	CHECK(c->n_topics == 4);
	CHECK(strcmp(c->topics[0], "md.eurusd") == 0);
	CHECK(strcmp(c->topics[1], "md.usdjpy") == 0);
	CHECK(strcmp(c->topics[2], "orders") == 0);
	CHECK(strcmp(c->topics[3], "fills") == 0);
	CHECK(c->n_ports == 2);
	CHECK(strcmp(c->ports[0].vdev, "net_ring0") == 0 && c->ports[0].pci[0] == '\0');
	CHECK(c->ports[0].ip == ip4("10.0.0.1"));
	CHECK(c->ports[0].udp_port == 9600);
	CHECK(c->ports[0].rx_queues == 2);
	CHECK(c->ports[0].rx_desc == 512);
	CHECK(c->ports[0].tx_desc == 2048);
	CHECK(c->ports[0].rss == 0);
	CHECK(c->ports[0].promisc == 1);
	/* port1 sets only pci and ip: the rest are the port defaults. */
	CHECK(strcmp(c->ports[1].pci, "0000:03:00.0") == 0 && c->ports[1].vdev[0] == '\0');
	CHECK(c->ports[1].ip == ip4("192.168.1.20"));
	CHECK(c->ports[1].udp_port == 9500);
	CHECK(c->ports[1].rx_queues == 1);
	CHECK(c->ports[1].rx_desc == 1024 && c->ports[1].tx_desc == 1024);
	CHECK(c->ports[1].rss == 1 && c->ports[1].promisc == 0);
	CHECK(c->n_workers == 3);
	CHECK(c->workers[0].lcore == 3 && c->workers[0].port == 0 && c->workers[0].queue == 0);
	CHECK(c->workers[1].lcore == 4 && c->workers[1].port == 0 && c->workers[1].queue == 1);
	CHECK(c->workers[2].lcore == 5 && c->workers[2].port == 1 && c->workers[2].queue == 0);
}

static void
test_load_full(void)
{
	CHECK(load_text(full_file) == 0);
	check_full(&conf);
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
}

/* Every spelling of a boolean. */
static void
test_bools(void)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	char text[128];
	unsigned i;

	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[dataplane]\nno_huge = %s\n", yes[i]);
		CHECK(load_text(text) == 0 && conf.no_huge == 1);
		snprintf(text, sizeof(text), "[dataplane]\nauto_create_topics = %s\n", no[i]);
		CHECK(load_text(text) == 0 && conf.auto_create_topics == 0);
	}
}

/* A dump loads back into the same configuration. */
/* conf dumped, then loaded into conf2. */
static void
dump_reload(void)
{
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/sl-test-dump-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	sl_conf_dump(&conf, f);
	fclose(f);
	sl_conf_defaults(&conf2);
	CHECK(sl_conf_load(&conf2, path, err, sizeof(err)) == 0);
	unlink(path);
}

static void
test_dump_round_trip(void)
{
	CHECK(load_text(full_file) == 0);
	dump_reload();
	check_full(&conf2);
}

/* [ha] service_ip: an address, not port0's own; kept by the dump. */
static void
test_ha_service_ip(void)
{
	CHECK(load_text(full_file) == 0);
	CHECK(conf.ha.service_ip == 0);
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.service_ip=10.0.0.1", err, sizeof(err)) == 0);
	CHECK(conf.ha.service_ip == ip4("10.0.0.1"));
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "service_ip is port0's own ip"));
	CHECK(sl_conf_set(&conf, "ha.service_ip=10.0.0.100", err, sizeof(err)) == 0);
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.service_ip=10.0.0", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "IPv4"));
	CHECK(sl_conf_set(&conf, "ha.bogus=1", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "unknown key 'bogus' in [ha]"));
	CHECK(sl_conf_set(&conf, "ha.peer=10.0.0.2", err, sizeof(err)) == 0);
	dump_reload();
	CHECK(conf2.ha.service_ip == ip4("10.0.0.100"));
}

static void
test_overrides(void)
{
	sl_conf_defaults(&conf);
	CHECK(sl_conf_set(&conf, "port0.ip=10.9.8.7", err, sizeof(err)) == 0);
	CHECK(conf.n_ports == 1 && conf.ports[0].ip == ip4("10.9.8.7"));
	CHECK(conf.ports[0].udp_port == 9500 && conf.ports[0].rx_queues == 1); /* defaults */
	CHECK(sl_conf_set(&conf, "idle=backoff", err, sizeof(err)) == 0);
	CHECK(conf.idle == SL_IDLE_BACKOFF);
	CHECK(sl_conf_set(&conf, "idle=busy", err, sizeof(err)) == 0);
	/* aes_gcm: auto (the default) or off; nothing else. */
	CHECK(conf.aes_gcm_off == 0);
	CHECK(sl_conf_set(&conf, "aes_gcm=off", err, sizeof(err)) == 0 && conf.aes_gcm_off == 1);
	CHECK(sl_conf_set(&conf, "dataplane.aes_gcm=auto", err, sizeof(err)) == 0 &&
	      conf.aes_gcm_off == 0);
	CHECK(sl_conf_set(&conf, "aes_gcm=yes", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "auto or off"));
	CHECK(conf.idle == SL_IDLE_BUSY);
	CHECK(sl_conf_set(&conf, "worker1.lcore=3", err, sizeof(err)) == 0);
	CHECK(conf.n_workers == 2 && conf.workers[1].lcore == 3);
	CHECK(sl_conf_set(&conf, "dataplane.burst = 16", err, sizeof(err)) == 0);
	CHECK(conf.burst == 16);
	CHECK(sl_conf_set(&conf, "port0.vdev=net_null0", err, sizeof(err)) == 0);
	CHECK(strcmp(conf.ports[0].vdev, "net_null0") == 0);
	CHECK(sl_conf_set(&conf, "topics=a.b", err, sizeof(err)) == 0);
	CHECK(conf.n_topics == 1 && strcmp(conf.topics[0], "a.b") == 0);
	/* An override replaces what a file said. */
	CHECK(load_text(full_file) == 0);
	CHECK(sl_conf_set(&conf, "port1.udp_port=7000", err, sizeof(err)) == 0);
	CHECK(conf.ports[1].udp_port == 7000 && conf.n_ports == 2);

	/* Errors: same -EINVAL contract, the message names the problem. */
	sl_conf_defaults(&conf);
	CHECK(sl_conf_set(&conf, "burst", err, sizeof(err)) == -EINVAL && strstr(err, "burst"));
	CHECK(sl_conf_set(&conf, "bogus=1", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "unknown key 'bogus'"));
	CHECK(sl_conf_set(&conf, "port0.bogus=1", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "unknown key 'bogus' in [port0]"));
	CHECK(sl_conf_set(&conf, "nosuch.key=1", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "unknown section [nosuch]"));
	CHECK(sl_conf_set(&conf, "burst=abc", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "needs a number"));
	CHECK(sl_conf_set(&conf, "idle=lazy", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "'idle'"));
	CHECK(sl_conf_set(&conf, "port0.ip=1.2.3", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "IPv4"));
	CHECK(sl_conf_set(&conf, "worker40.lcore=1", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "worker0..worker31"));
	{
		char big[600];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big, "name=", 5);
		CHECK(sl_conf_set(&conf, big, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "too long"));
	}
	CHECK(conf.burst == 32); /* failed overrides changed nothing */
}

static void
test_load_errors(void)
{
	char text[4096];
	size_t n;

	LOAD_ERR("[dataplane]\nbogus = 1\n", "[dataplane] bogus", "unknown key 'bogus' in [dataplane]");
	LOAD_ERR("[port0]\nlcore = 1\n", "[port0] lcore", "unknown key 'lcore' in [port0]");
	LOAD_ERR("# c\n[nonsense]\n", "", "unknown section [nonsense]");
	LOAD_ERR("[dataplane]\n[GLOBAL]\nburst = 4\n", "", "unknown section [GLOBAL]");
	LOAD_ERR("[port8]\n", "", "port0..port7");
	LOAD_ERR("[port0x]\n", "", "port0..port7");
	LOAD_ERR("[worker32]\n", "", "worker0..worker31");
	LOAD_ERR("[dataplane]\nburst = abc\n", "[dataplane] burst", "'burst' needs a number, got 'abc'");
	LOAD_ERR("[dataplane]\nburst = 12x\n", "[dataplane] burst", "'burst' needs a number");
	LOAD_ERR("[dataplane]\nburst = -1\n", "[dataplane] burst", "'burst' needs a number");
	LOAD_ERR("[dataplane]\nburst =\n", "[dataplane] burst", "'burst' needs a number");
	LOAD_ERR("[dataplane]\nmbufs = 99999999999999999999999\n", "[dataplane] mbufs", "'mbufs' needs a number");
	LOAD_ERR("[dataplane]\nburst = 0\n", "[dataplane] burst", "'burst' = 0 is out of range [1, 256]");
	LOAD_ERR("[dataplane]\nburst = 257\n", "[dataplane] burst", "out of range");
	LOAD_ERR("[dataplane]\nmain_lcore = 1024\n", "[dataplane] main_lcore", "out of range");
	LOAD_ERR("[dataplane]\nmax_topics = 1\n", "[dataplane] max_topics", "out of range");
	LOAD_ERR("[dataplane]\nmax_sessions = 65536\n", "[dataplane] max_sessions", "out of range");
	LOAD_ERR("[port0]\nudp_port = 0\n", "[port0] udp_port", "'udp_port' = 0 is out of range");
	LOAD_ERR("[port0]\nudp_port = 65536\n", "[port0] udp_port", "out of range");
	LOAD_ERR("[port0]\nrx_queues = 65\n", "[port0] rx_queues", "out of range");
	LOAD_ERR("[worker0]\nport = 8\n", "[worker0] port", "out of range");
	LOAD_ERR("[worker0]\nqueue = 64\n", "[worker0] queue", "out of range");
	LOAD_ERR("[dataplane]\nno_huge = maybe\n", "[dataplane] no_huge", "'no_huge' needs yes or no, got 'maybe'");
	LOAD_ERR("[port0]\nrss = 2\n", "[port0] rss", "'rss' needs yes or no");
	LOAD_ERR("[port0]\nip = 10.0.0.256\n", "[port0] ip", "'ip' needs an IPv4 address, got '10.0.0.256'");
	LOAD_ERR("[port0]\nip = fe80::1\n", "[port0] ip", "needs an IPv4 address");
	LOAD_ERR("[port0]\nip = host.example\n", "[port0] ip", "needs an IPv4 address");
	LOAD_ERR("[dataplane]\nidle = sleepy\n", "[dataplane] idle", "'idle' is busy or backoff, got 'sleepy'");
	LOAD_ERR("burst = 3\n[dataplane]\n", "", "'burst' appears before any [section]");
	LOAD_ERR("\n\n[dataplane\n", ":3", "no terminating ']'");
	/* rte_cfgfile reads a header up to its ']', and skips a line with
	 * neither '[' nor '=' (as a comment): documented, not errors. */
	CHECK(load_text("[dataplane] x\nburst = 9\n") == 0 && conf.burst == 9);
	CHECK(load_text("[dataplane]\njust words\nburst = 10\n") == 0 && conf.burst == 10);
	LOAD_ERR("[dataplane]\nname = "
		 "0123456789012345678901234567890123456789012345678901234567890123\n",
		 "[dataplane] name", "'name' is longer than 63 characters");
	LOAD_ERR("[dataplane]\ntopics = ok bad\x01name\n", "[dataplane] topics", "topic name 'bad\x01name' is invalid");
	/* The error stops the load at its line: later lines are not applied. */
	LOAD_ERR("[dataplane]\nburst = x\nmbufs = 2047\n", "[dataplane] burst", "needs a number");
	CHECK(conf.mbufs == 16383);

	/* More than SL_CONF_MAX_TOPICS declared topics. */
	n = (size_t)snprintf(text, sizeof(text), "[dataplane]\n");
	for (unsigned i = 0; i <= SL_CONF_MAX_TOPICS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "topics = t%u\n", i);
	LOAD_ERR(text, "[dataplane] topics", "more than 64 topics");

	/* A line longer than rte_cfgfile's buffer (CFG_NAME_LEN + CFG_VALUE_LEN
	 * + 4 bytes, newline included), then one that just fits. */
	n = (size_t)snprintf(text, sizeof(text), "[dataplane]\n# ");
	memset(text + n, 'x', 2000);
	snprintf(text + n + 2000, sizeof(text) - n - 2000, "\nburst = 8\n");
	LOAD_ERR(text, ":2", "line too long");
	n = (size_t)snprintf(text, sizeof(text), "[dataplane]\n# ");
	memset(text + n, 'x', CFG_NAME_LEN + CFG_VALUE_LEN + 1 - n);
	snprintf(text + CFG_NAME_LEN + CFG_VALUE_LEN + 1, sizeof(text), "\nburst = 8\n");
	CHECK(load_text(text) == 0 && conf.burst == 8);
	/* A value rte_cfgfile would cut short is refused, not cut. */
	n = (size_t)snprintf(text, sizeof(text), "[dataplane]\neal_args = ");
	memset(text + n, 'a', CFG_VALUE_LEN);
	snprintf(text + n + CFG_VALUE_LEN, sizeof(text) - n - CFG_VALUE_LEN, "\n");
	LOAD_ERR(text, "[dataplane] eal_args", "255 characters or longer");

	/* Comments ('#', whole-line or after a value; '\#' is a '#'),
	 * repeated keys (the last value wins, lists add up), repeated sections
	 * (merged in order), empty values. */
	CHECK(load_text("# top\n[dataplane]   # c\n  burst = 16   # c2\nburst = 24\n"
			"topics = a, b\ntopics = c\neal_args = --x\\#y\nshm_group =\n"
			"[port0]\nip = 10.0.0.1\n[worker0]\nlcore = 1\n[port0]\nrx_queues = 3\n"
			"[dataplane]\nburst = 40\n") == 0);
	CHECK(conf.burst == 40 && conf.n_topics == 3 && strcmp(conf.topics[2], "c") == 0);
	CHECK(strcmp(conf.eal_args, "--x#y") == 0 && conf.shm_group[0] == '\0');
	CHECK(conf.n_ports == 1 && conf.ports[0].ip == htonl(0x0a000001) &&
	      conf.ports[0].rx_queues == 3 && conf.n_workers == 1 && conf.workers[0].lcore == 1);
	/* A ';' is not a comment in this format. */
	LOAD_ERR("[dataplane]\nburst = 8 ; eight\n", "[dataplane] burst", "needs a number");
	/* A repeated key whose second value is bad fails at that key. */
	LOAD_ERR("[port0]\nudp_port = 9000\nudp_port = 0\n", "[port0] udp_port", "out of range");

	/* A missing file: -errno and the path in the message. */
	sl_conf_defaults(&conf);
	CHECK(sl_conf_load(&conf, "/nonexistent/sluice.conf", err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "/nonexistent/sluice.conf") != NULL);
}

/* A small valid configuration built with overrides, for validation tests. */
static void
base(void)
{
	static const char *const set[] = {
		"port0.vdev=net_ring0", "port0.ip=10.0.0.1", "port0.rx_queues=2",
		"worker0.lcore=1",	"worker0.queue=0",    "worker1.lcore=2",
		"worker1.queue=1",
	};
	unsigned i;

	sl_conf_defaults(&conf);
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		if (sl_conf_set(&conf, set[i], err, sizeof(err)) != 0)
			abort();
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
}

static void
expect_invalid(const char *what, int src_line)
{
	err[0] = '\0';
	if (sl_conf_validate(&conf, err, sizeof(err)) != -EINVAL || !strstr(err, what)) {
		fprintf(stderr, "%s:%d: validate: message '%s', wanted '%s'\n", __FILE__,
			src_line, err, what);
		failures++;
	}
}
#define INVALID(what) expect_invalid(what, __LINE__)

static void
test_validate(void)
{
	sl_conf_defaults(&conf);
	INVALID("no [portN] section");
	sl_conf_defaults(&conf);
	sl_conf_set(&conf, "port0.vdev=net_ring0", err, sizeof(err));
	sl_conf_set(&conf, "port0.ip=10.0.0.1", err, sizeof(err));
	INVALID("no [workerN] section");

	base();
	conf.ports[0].rx_queues = 3;
	INVALID("[port0] rx queue 2 has no worker");
	base();
	conf.workers[1].lcore = 1;
	INVALID("[worker0] and [worker1] share lcore 1");
	base();
	conf.workers[1].lcore = 0;
	INVALID("[worker1] lcore 0 is the main lcore");
	base();
	conf.main_lcore = 2;
	INVALID("lcore 2 is the main lcore");
	base();
	conf.ports[0].rx_queues = 1;
	INVALID("[worker1] queue 1: port0 has 1 rx_queues");
	base();
	conf.workers[1].port = 1;
	conf.ports[0].rx_queues = 1;
	INVALID("[worker1] port 1 is not configured");
	base();
	conf.workers[1].queue = 0;
	conf.ports[0].rx_queues = 1;
	INVALID("poll the same queue");
	base();
	conf.ring_size = 1000;
	INVALID("ring_size 1000 is not a power of two");
	base();
	conf.heartbeat_ms = 1000;
	conf.session_timeout_ms = 1999;
	INVALID("must be at least twice heartbeat_ms");
	conf.session_timeout_ms = 2000;
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	base();
	snprintf(conf.ports[0].pci, sizeof(conf.ports[0].pci), "0000:01:00.0");
	INVALID("[port0] needs exactly one of vdev or pci");
	conf.ports[0].vdev[0] = '\0';
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	conf.ports[0].pci[0] = '\0';
	INVALID("[port0] needs exactly one of vdev or pci");
	base();
	conf.ports[0].ip = 0;
	INVALID("[port0] has no ip");
	base();
	conf.max_topics = 3;
	sl_conf_set(&conf, "topics=a b", err, sizeof(err));
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	sl_conf_set(&conf, "topics=c", err, sizeof(err));
	INVALID("3 topics declared but max_topics is 3");
}

/* Every preset in nic-configs/ loads and validates. */
static int
test_presets(const char *dir)
{
	char pattern[4096];
	glob_t g;
	size_t i;
	int rc;

	snprintf(pattern, sizeof(pattern), "%s/*.conf", dir);
	rc = glob(pattern, 0, NULL, &g);
	if (rc == GLOB_NOMATCH) {
		printf("test_config: no .conf files in %s: skipped\n", dir);
		return 77;
	}
	if (rc != 0) {
		fprintf(stderr, "test_config: glob %s failed\n", pattern);
		return 1;
	}
	for (i = 0; i < g.gl_pathc; i++) {
		sl_conf_defaults(&conf);
		if (sl_conf_load(&conf, g.gl_pathv[i], err, sizeof(err)) != 0 ||
		    sl_conf_validate(&conf, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", g.gl_pathv[i], err);
			failures++;
		} else {
			printf("%s: ok\n", g.gl_pathv[i]);
		}
	}
	globfree(&g);
	return failures ? 1 : 0;
}

/* Durability and back-pressure rules: first match wins, prefix with '*',
 * the default otherwise; bad rules are errors that say what is wrong. */
static void
test_policy_rules(void)
{
	CHECK(load_text("[dataplane]\n"
			"durability = async\n"
			"durability_rules = orders.*=sync, orders.x=none ticks=none\n"
			"backpressure_rules = orders.*=block md.*=disconnect\n"
			"shm = no\nshm_max_clients = 8\nshm_ring_kb = 64\nshm_group = traders\n") == 0);
	CHECK(sl_conf_durability(&conf, "orders.eu", 9) == SL_DUR_SYNC);
	CHECK(sl_conf_durability(&conf, "orders.x", 8) == SL_DUR_SYNC); /* first match */
	CHECK(sl_conf_durability(&conf, "ticks", 5) == SL_DUR_NONE);
	CHECK(sl_conf_durability(&conf, "tick", 4) == SL_DUR_ASYNC);
	CHECK(sl_conf_backpressure(&conf, "orders.eu", 9) == SL_BP_BLOCK);
	CHECK(sl_conf_backpressure(&conf, "md.x", 4) == SL_BP_DISCONNECT);
	CHECK(sl_conf_backpressure(&conf, "other", 5) == SL_BP_DROP);
	CHECK(conf.shm == 0 && conf.shm_max_clients == 8 && conf.shm_ring_kb == 64);
	CHECK(strcmp(conf.shm_group, "traders") == 0);
	CHECK(strcmp(sl_backpressure_name(SL_BP_BLOCK), "block") == 0);
	CHECK(sl_durability_parse("sync") == SL_DUR_SYNC && sl_durability_parse("none") == SL_DUR_NONE);
	CHECK(sl_durability_parse("block") == -1 && sl_durability_parse("") == -1);
	CHECK(load_text("[dataplane]\nbackpressure = disconnect\n") == 0);
	CHECK(sl_conf_backpressure(&conf, "x", 1) == SL_BP_DISCONNECT);
	LOAD_ERR("[dataplane]\nbackpressure = wait\n", "[dataplane] backpressure", "drop, block or disconnect");
	LOAD_ERR("[dataplane]\nbackpressure_rules = a.*\n", "[dataplane] backpressure_rules", "not pattern=policy");
	LOAD_ERR("[dataplane]\nbackpressure_rules = a.*=sync\n", "[dataplane] backpressure_rules", "drop, block or disconnect");
	LOAD_ERR("[dataplane]\ndurability_rules = a.*=block\n", "[dataplane] durability_rules", "none, async or sync");
	LOAD_ERR("[dataplane]\nshm_ring_kb = 8\n", "[dataplane] shm_ring_kb", "out of range");
	sl_conf_defaults(&conf);
	CHECK(conf.shm == 1 && conf.shm_max_clients == 64 && conf.shm_ring_kb == 512);
	CHECK(conf.backpressure == SL_BP_DROP);
}

/* Section [ha]: defaults, overrides, the checks of a pair member, the dump. */
static void
test_ha(void)
{
	char buf[4096];
	FILE *f;

	sl_conf_defaults(&conf);
	CHECK(conf.ha.peer == 0 && conf.ha.repl_port == 9600 && conf.ha.hb_ms == 10 &&
	      conf.ha.detect_ms == 60 && conf.ha.lease_ms == 100 && conf.ha.sync_replicas == 1);
	base();
	/* No peer: a single node, whatever else is set. */
	CHECK(sl_conf_set(&conf, "ha.hb_ms=5", err, sizeof(err)) == 0);
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.peer=10.0.0.2", err, sizeof(err)) == 0);
	CHECK(conf.ha.peer == htonl(0x0a000002));
	CHECK(sl_conf_set(&conf, "ha.peer=nowhere", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "'peer' needs an IPv4 address"));
	INVALID("[ha] peer is set but key is not");
	CHECK(sl_conf_set(&conf, "ha.key=/etc/sluice/pair.key", err, sizeof(err)) == 0);
	INVALID("[ha] a pair member runs one worker (2 configured)");
	conf.n_workers = 1;
	conf.ports[0].rx_queues = 1;
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.detect_ms=5", err, sizeof(err)) == 0);
	INVALID("[ha] needs hb_ms (5) < detect_ms (5) <= lease_ms (100)");
	CHECK(sl_conf_set(&conf, "ha.detect_ms=50", err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.repl_port=9500", err, sizeof(err)) == 0);
	INVALID("[ha] repl_port 9500 is the clients' udp_port");
	CHECK(sl_conf_set(&conf, "ha.repl_port=9700", err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.peer=10.0.0.1", err, sizeof(err)) == 0);
	INVALID("[ha] peer is this node's own port0 address");
	CHECK(sl_conf_set(&conf, "ha.peer=10.0.0.2", err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.encrypt=yes", err, sizeof(err)) == 0 && conf.ha.encrypt);
	CHECK(sl_conf_set(&conf, "ha.sync_replicas=2", err, sizeof(err)) == -EINVAL);
	CHECK(sl_conf_set(&conf, "ha.bogus=1", err, sizeof(err)) == -EINVAL &&
	      strstr(err, "unknown key 'bogus' in [ha]"));
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	/* A DR replica names the pair's members; a member names its DR replica. */
	CHECK(sl_conf_set(&conf, "ha.peer2=10.0.0.3", err, sizeof(err)) == 0);
	INVALID("[ha] peer2 is for a DR replica (dr = yes)");
	CHECK(sl_conf_set(&conf, "ha.dr=yes", err, sizeof(err)) == 0 && conf.ha.dr);
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.dr_peer=10.0.0.4", err, sizeof(err)) == 0);
	INVALID("[ha] a DR replica (dr = yes) has no dr_peer");
	CHECK(sl_conf_set(&conf, "ha.dr=no", err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.peer2=0.0.0.0", err, sizeof(err)) == 0);
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	CHECK(sl_conf_set(&conf, "ha.dr_peer=10.0.0.2", err, sizeof(err)) == 0);
	INVALID("[ha] dr_peer / peer2 must be a third address");
	CHECK(sl_conf_set(&conf, "ha.dr_peer=10.0.0.4", err, sizeof(err)) == 0);
	CHECK(sl_conf_validate(&conf, err, sizeof(err)) == 0);
	/* The dump reads back the same. */
	f = fmemopen(buf, sizeof(buf), "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	sl_conf_dump(&conf, f);
	fclose(f);
	CHECK(strstr(buf, "[ha]\npeer = 10.0.0.2\nrepl_port = 9700\nkey = /etc/sluice/pair.key\n"
			  "encrypt = yes\n"));
	CHECK(strstr(buf, "hb_ms = 5\ndetect_ms = 50\nlease_ms = 100\n"));
	CHECK(load_text(buf) == 0);
	CHECK(conf.ha.peer == htonl(0x0a000002) && conf.ha.repl_port == 9700 && conf.ha.encrypt &&
	      conf.ha.detect_ms == 50 && strcmp(conf.ha.key, "/etc/sluice/pair.key") == 0);
	CHECK(conf.ha.dr_peer == htonl(0x0a000004) && !conf.ha.dr && conf.ha.peer2 == 0);
}

int
main(int argc, char **argv)
{
	/* With a directory argument: check the presets there, nothing else. */
	if (argc > 1)
		return test_presets(argv[1]);
	test_defaults();
	test_load_full();
	test_bools();
	test_dump_round_trip();
	test_overrides();
	test_ha_service_ip();
	test_load_errors();
	test_validate();
	test_policy_rules();
	test_ha();
	return check_result("test_config");
}
