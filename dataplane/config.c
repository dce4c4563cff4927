/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane configuration files in nic-configs/: read with DPDK's rte_cfgfile
 * (no EAL needed), checked against one key table. */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>
#include <rte_log.h>

#include <common/proto.h>

#include <common/strutil.h>

#include "config.h"

enum val_kind { V_U32, V_U16, V_U8_BOOL, V_STR, V_IP, V_IDLE, V_TOPICS, V_DUR, V_RULES, V_AUTH,
		V_BP, V_BP_RULES, V_AESGCM };

struct key_def {
	const char *key;
	enum val_kind kind;
	size_t off;
	size_t size;	 /* for strings */
	uint64_t min, max; /* for numbers */
};

#define DP(k, kind, field, lo, hi) \
	{ k, kind, offsetof(struct sl_conf, field), sizeof(((struct sl_conf *)0)->field), lo, hi }
#define PT(k, kind, field, lo, hi)                                                    \
	{ k, kind, offsetof(struct sl_conf_port, field),                              \
	  sizeof(((struct sl_conf_port *)0)->field), lo, hi }
#define WK(k, kind, field, lo, hi)                                                    \
	{ k, kind, offsetof(struct sl_conf_worker, field),                            \
	  sizeof(((struct sl_conf_worker *)0)->field), lo, hi }

static const struct key_def dp_keys[] = {
	DP("name", V_STR, name, 0, 0),
	DP("eal_args", V_STR, eal_args, 0, 0),
	DP("main_lcore", V_U32, main_lcore, 0, 1023),
	DP("idle", V_IDLE, idle, 0, 0),
	DP("idle_max_us", V_U32, idle_max_us, 1, 100000),
	DP("idle_spin", V_U32, idle_spin, 0, 1u << 20),
	DP("burst", V_U16, burst, 1, 256),
	DP("mbufs", V_U32, mbufs, 1023, 4u << 20),
	DP("mbuf_cache", V_U32, mbuf_cache, 0, 512),
	DP("ring_size", V_U32, ring_size, 64, 1u << 20),
	DP("max_topics", V_U32, max_topics, 2, 65536), /* bounds the ACL table: 256 B per topic */
	/* 33 KiB of the counters area per topic and worker (common/lathist.h) */
	DP("hist_topics", V_U32, hist_topics, 0, 4096),
	DP("max_subscribers", V_U32, max_subscribers, 1, 4096),
	DP("max_sessions", V_U32, max_sessions, 2, 65535),
	DP("heartbeat_ms", V_U32, heartbeat_ms, 10, 600000),
	DP("session_timeout_ms", V_U32, session_timeout_ms, 30, 3600000),
	DP("max_producers", V_U32, max_producers, 1, 1u << 24),
	DP("producer_idle_s", V_U32, producer_idle_s, 1, 1u << 30),
	DP("producer_topics", V_U32, producer_topics, 1, 1u << 20),
	DP("auto_create_topics", V_U8_BOOL, auto_create_topics, 0, 1),
	DP("no_huge", V_U8_BOOL, no_huge, 0, 1),
	DP("memory_mb", V_U32, memory_mb, 64, 1u << 20),
	DP("topics", V_TOPICS, topics, 0, 0),
	DP("journal_dir", V_STR, journal_dir, 0, 0),
	DP("durability", V_DUR, durability, 0, 0),
	DP("durability_rules", V_RULES, rules, 0, 0),
	DP("segment_mb", V_U32, segment_mb, 1, 65536),
	DP("capacity_mb", V_U32, capacity_mb, 0, 1u << 24),
	DP("retain_mb", V_U32, retain_mb, 0, 1u << 24),
	DP("retain_s", V_U32, retain_s, 0, 1u << 30),
	DP("async_lag_ms", V_U32, async_lag_ms, 1, 60000),
	DP("auth", V_AUTH, auth_required, 0, 0),
	DP("aes_gcm", V_AESGCM, aes_gcm_off, 0, 0),
	DP("rate_limit", V_U32, rate_limit, 0, 100000000),
	DP("retransmit_window", V_U32, retransmit_window, 0, 65536),
	DP("retransmit_bytes", V_U32, retransmit_bytes, 0, 1u << 31),
	DP("nak_rate", V_U32, nak_rate, 1, 100000000),
	DP("status_idle_us", V_U32, status_idle_us, 10, 10000000),
	DP("udp_window", V_U32, udp_window, 1, 1u << 30),
	DP("bp_hold_ms", V_U32, bp_hold_ms, 1, 3600000),
	DP("max_message", V_U32, max_message, SL_MAX_PAYLOAD, SL_MAX_MESSAGE),
	DP("reassembly_bytes", V_U32, reassembly_bytes, 0, 1u << 31),
	DP("reassembly_session_bytes", V_U32, reassembly_session_bytes, 0, 1u << 31),
	DP("reassembly_ms", V_U32, reassembly_ms, 1, 600000),
	DP("backpressure", V_BP, backpressure, 0, 0),
	DP("backpressure_rules", V_BP_RULES, bp_rules, 0, 0),
	DP("shm", V_U8_BOOL, shm, 0, 1),
	DP("shm_max_clients", V_U32, shm_max_clients, 1, 4096),
	DP("shm_ring_kb", V_U32, shm_ring_kb, 16, 1u << 20),
	DP("shm_group", V_STR, shm_group, 0, 0),
	DP("shm_huge", V_U8_BOOL, shm_huge, 0, 1),
};

static const struct key_def port_keys[] = {
	PT("vdev", V_STR, vdev, 0, 0),
	PT("pci", V_STR, pci, 0, 0),
	PT("ip", V_IP, ip, 0, 0),
	PT("udp_port", V_U16, udp_port, 1, 65535),
	PT("rx_queues", V_U16, rx_queues, 1, 64),
	PT("rx_desc", V_U16, rx_desc, 32, 16384),
	PT("tx_desc", V_U16, tx_desc, 32, 16384),
	PT("rss", V_U8_BOOL, rss, 0, 1),
	PT("promisc", V_U8_BOOL, promisc, 0, 1),
};

static const struct key_def worker_keys[] = {
	WK("lcore", V_U32, lcore, 0, 1023),
	WK("port", V_U16, port, 0, SL_CONF_MAX_PORTS - 1),
	WK("queue", V_U16, queue, 0, 63),
};

#define HA(k, kind, field, lo, hi)                                                    \
	{ k, kind, offsetof(struct sl_conf_ha, field),                                \
	  sizeof(((struct sl_conf_ha *)0)->field), lo, hi }

/* Section [ha]: a pair member (docs/REPLICATION.md, docs/HA.md). */
static const struct key_def ha_keys[] = {
	HA("peer", V_IP, peer, 0, 0),
	HA("repl_port", V_U16, repl_port, 1, 65535),
	HA("key", V_STR, key, 0, 0),
	HA("encrypt", V_U8_BOOL, encrypt, 0, 1),
	HA("service_ip", V_IP, service_ip, 0, 0),
	HA("hb_ms", V_U32, hb_ms, 1, 10000),
	HA("detect_ms", V_U32, detect_ms, 2, 60000),
	HA("lease_ms", V_U32, lease_ms, 2, 600000),
	HA("sync_replicas", V_U32, sync_replicas, 0, 1),
	HA("node", V_STR, node, 0, 0),
	HA("dr", V_U8_BOOL, dr, 0, 1),
	HA("dr_peer", V_IP, dr_peer, 0, 0),
	HA("peer2", V_IP, peer2, 0, 0),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
sl_conf_defaults(struct sl_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "sluice");
	c->main_lcore = 0;
	c->idle = SL_IDLE_BUSY;
	c->idle_max_us = 200;
	c->idle_spin = 256;
	c->burst = 32;
	c->mbufs = 16383;
	c->mbuf_cache = 256;
	c->ring_size = 4096;
	c->max_topics = 1024;
	c->hist_topics = 64;
	c->max_subscribers = 64;
	c->max_sessions = 4096;
	c->heartbeat_ms = 1000;
	c->session_timeout_ms = 3000;
	c->max_producers = 65536;
	c->producer_idle_s = 3600;
	c->producer_topics = 4096;
	c->auto_create_topics = 1;
	c->memory_mb = 512;
	snprintf(c->journal_dir, sizeof(c->journal_dir), "/var/lib/sluice/journal");
	c->durability = SL_DUR_NONE;
	c->segment_mb = 64;
	c->async_lag_ms = 10;
	c->max_message = SL_MAX_MESSAGE_DEFAULT;
	/* Above retransmit_bytes: the window keeps whole large messages in
	 * this memory, and reassembly needs room besides. */
	c->reassembly_bytes = 32u << 20;
	c->reassembly_session_bytes = SL_MAX_MESSAGE;
	c->reassembly_ms = 1000;
	c->backpressure = SL_BP_DROP;
	c->retransmit_window = 4096;
	c->retransmit_bytes = 16u << 20;
	c->nak_rate = 100000;
	c->status_idle_us = 1000;
	c->udp_window = 4096;
	c->bp_hold_ms = 1000;
	c->shm = 1;
	c->shm_max_clients = 64;
	c->shm_ring_kb = 512;
	c->shm_huge = 1;
	c->ha.repl_port = 9600;
	c->ha.hb_ms = 10;
	c->ha.detect_ms = 60;
	c->ha.lease_ms = 100;
	c->ha.sync_replicas = 1;
}

/* How a configuration key names its policies: the parser and the three
 * names, for error messages. */
struct policy_names {
	int (*parse)(const char *name);
	const char *(*name)(unsigned v);
};

static const struct policy_names dur_policy = { sl_durability_parse, sl_durability_name };
static const struct policy_names bp_policy = { sl_backpressure_parse, sl_backpressure_name };

/* "pattern=policy" rules, comma or space separated, for @what (durability
 * or backpressure) with policy names @pn. */
static int
add_rules(struct sl_conf_rule *rules, uint16_t *n, const char *what,
	  const struct policy_names *pn, const char *v, char *err, size_t errlen)
{
	char tmp[1024], *save = NULL, *t, *eq;
	struct sl_conf_rule *r;

	snprintf(tmp, sizeof(tmp), "%s", v);
	for (t = strtok_r(tmp, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		eq = strrchr(t, '=');
		if (eq == NULL || eq == t)
			return fail(err, errlen, "%s rule '%s' is not pattern=policy "
				    "(e.g. orders.*=%s)", what, t, pn->name(2));
		*eq = '\0';
		if (*n >= SL_CONF_MAX_RULES)
			return fail(err, errlen, "more than %d %s rules", SL_CONF_MAX_RULES, what);
		r = &rules[*n];
		r->policy = pn->parse(eq + 1);
		if (strlen(t) >= sizeof(r->pattern) || r->policy < 0)
			return fail(err, errlen, "%s rule '%s=%s': policy is %s, %s or %s; "
				    "pattern at most %zu bytes", what, t, eq + 1, pn->name(0),
				    pn->name(1), pn->name(2), sizeof(r->pattern) - 1);
		snprintf(r->pattern, sizeof(r->pattern), "%s", t);
		(*n)++;
	}
	return 0;
}

/* Policy of the first rule matching @name, else @dflt. */
static int
rule_match(const struct sl_conf_rule *rules, unsigned n, const char *name, size_t len, int dflt)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		const char *p = rules[i].pattern;
		size_t pl = strlen(p);

		if (pl && p[pl - 1] == '*' ? len >= pl - 1 && !memcmp(name, p, pl - 1)
					   : len == pl && !memcmp(name, p, pl))
			return rules[i].policy;
	}
	return dflt;
}

enum sl_durability
sl_conf_durability(const struct sl_conf *c, const char *name, size_t len)
{
	return (enum sl_durability)rule_match(c->rules, c->n_rules, name, len, c->durability);
}

enum sl_backpressure
sl_conf_backpressure(const struct sl_conf *c, const char *name, size_t len)
{
	return (enum sl_backpressure)rule_match(c->bp_rules, c->n_bp_rules, name, len,
						c->backpressure);
}

static void
port_defaults(struct sl_conf_port *p)
{
	memset(p, 0, sizeof(*p));
	p->udp_port = SL_PROTO_DEFAULT_PORT;
	p->rx_queues = 1;
	p->rx_desc = 1024;
	p->tx_desc = 1024;
	p->rss = 1;
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") ||
		 !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int
add_topics(struct sl_conf *c, const char *v, char *err, size_t errlen)
{
	char tmp[1024], *save = NULL, *t;

	snprintf(tmp, sizeof(tmp), "%s", v);
	for (t = strtok_r(tmp, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		if (!sl_proto_topic_name_valid(t, strlen(t)))
			return fail(err, errlen, "topic name '%s' is invalid (1-%u printable "
				    "characters, no spaces)", t, SL_MAX_TOPIC_NAME);
		if (c->n_topics >= SL_CONF_MAX_TOPICS)
			return fail(err, errlen, "more than %d topics declared; create the "
				    "rest at run time", SL_CONF_MAX_TOPICS);
		snprintf(c->topics[c->n_topics++], sizeof(c->topics[0]), "%s", t);
	}
	return 0;
}

static int
set_number(void *field, const struct key_def *k, const char *v, char *err, size_t errlen)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno || end == v || *end != '\0' || v[0] == '-')
		return fail(err, errlen, "'%s' needs a number, got '%s'", k->key, v);
	if (n < k->min || n > k->max)
		return fail(err, errlen, "'%s' = %llu is out of range [%llu, %llu]", k->key, n,
			    (unsigned long long)k->min, (unsigned long long)k->max);
	if (k->kind == V_U32)
		*(uint32_t *)field = (uint32_t)n;
	else
		*(uint16_t *)field = (uint16_t)n;
	return 0;
}

static int
set_value(struct sl_conf *c, void *base, const struct key_def *k, const char *v, char *err,
	  size_t errlen)
{
	void *field = (char *)base + k->off;
	struct in_addr a;
	int b;

	switch (k->kind) {
	case V_U32:
	case V_U16:
		return set_number(field, k, v, err, errlen);
	case V_U8_BOOL:
		if (parse_bool(v, &b) < 0)
			return fail(err, errlen, "'%s' needs yes or no, got '%s'", k->key, v);
		*(uint8_t *)field = (uint8_t)b;
		return 0;
	case V_STR:
		if (strlen(v) >= k->size)
			return fail(err, errlen, "'%s' is longer than %zu characters", k->key,
				    k->size - 1);
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case V_IP:
		if (inet_pton(AF_INET, v, &a) != 1)
			return fail(err, errlen, "'%s' needs an IPv4 address, got '%s'", k->key, v);
		*(uint32_t *)field = a.s_addr;
		return 0;
	case V_IDLE:
		if (!strcmp(v, "busy"))
			*(enum sl_idle_kind *)field = SL_IDLE_BUSY;
		else if (!strcmp(v, "backoff"))
			*(enum sl_idle_kind *)field = SL_IDLE_BACKOFF;
		else
			return fail(err, errlen, "'idle' is busy or backoff, got '%s'", v);
		return 0;
	case V_TOPICS:
		return add_topics(c, v, err, errlen);
	case V_DUR:
	case V_BP: {
		const struct policy_names *pn = k->kind == V_DUR ? &dur_policy : &bp_policy;
		int i = pn->parse(v);

		if (i < 0)
			return fail(err, errlen, "'%s' is %s, %s or %s, got '%s'", k->key, pn->name(0),
				    pn->name(1), pn->name(2), v);
		*(int *)field = i;
		return 0;
	}
	case V_RULES:
		return add_rules(c->rules, &c->n_rules, "durability", &dur_policy, v, err, errlen);
	case V_BP_RULES:
		return add_rules(c->bp_rules, &c->n_bp_rules, "backpressure", &bp_policy, v, err,
				 errlen);
	case V_AUTH:
		if (!strcmp(v, "open") || !strcmp(v, "required")) {
			*(uint8_t *)field = v[0] == 'r';
			return 0;
		}
		return fail(err, errlen, "'auth' is open or required, got '%s'", v);
	case V_AESGCM:
		if (!strcmp(v, "auto") || !strcmp(v, "off")) {
			*(uint8_t *)field = v[0] == 'o';
			return 0;
		}
		return fail(err, errlen, "'aes_gcm' is auto or off, got '%s'", v);
	}
	return fail(err, errlen, "internal: bad key kind");
}

/* Resolve a section name to its key table and the struct the keys write into. */
static int
section_target(struct sl_conf *c, const char *sec, const struct key_def **keys, size_t *nkeys,
	       void **base, char *err, size_t errlen)
{
	unsigned long idx;
	char *end;

	if (!strcmp(sec, "dataplane")) {
		*keys = dp_keys, *nkeys = N(dp_keys), *base = c;
		return 0;
	}
	if (!strncmp(sec, "port", 4) && isdigit((unsigned char)sec[4])) {
		idx = strtoul(sec + 4, &end, 10);
		if (*end || idx >= SL_CONF_MAX_PORTS)
			return fail(err, errlen, "section [%s]: ports are port0..port%d", sec,
				    SL_CONF_MAX_PORTS - 1);
		while (c->n_ports <= idx)
			port_defaults(&c->ports[c->n_ports++]);
		*keys = port_keys, *nkeys = N(port_keys), *base = &c->ports[idx];
		return 0;
	}
	if (!strncmp(sec, "worker", 6) && isdigit((unsigned char)sec[6])) {
		idx = strtoul(sec + 6, &end, 10);
		if (*end || idx >= SL_CONF_MAX_WORKERS)
			return fail(err, errlen, "section [%s]: workers are worker0..worker%d",
				    sec, SL_CONF_MAX_WORKERS - 1);
		while (c->n_workers <= idx)
			memset(&c->workers[c->n_workers++], 0, sizeof(c->workers[0]));
		*keys = worker_keys, *nkeys = N(worker_keys), *base = &c->workers[idx];
		return 0;
	}
	if (!strcmp(sec, "ha")) {
		*keys = ha_keys, *nkeys = N(ha_keys), *base = &c->ha;
		return 0;
	}
	return fail(err, errlen, "unknown section [%s] (expected dataplane, portN, workerN, ha)",
		    sec);
}

static int
assign(struct sl_conf *c, const char *sec, const char *key, const char *val, char *err,
       size_t errlen)
{
	const struct key_def *keys;
	size_t nkeys, i;
	void *base;
	int rc;

	rc = section_target(c, sec, &keys, &nkeys, &base, err, errlen);
	if (rc < 0)
		return rc;
	for (i = 0; i < nkeys; i++)
		if (!strcmp(keys[i].key, key))
			return set_value(c, base, &keys[i], val, err, errlen);
	return fail(err, errlen, "unknown key '%s' in [%s]", key, sec);
}

/* Section 0 with CFG_FLAG_GLOBAL_SECTION: what comes before any header. */
#define GLOBAL_SECTION 0

/*
 * Read @path with rte_cfgfile (no EAL needed). It reports its own syntax
 * errors (a section header without ']', a line too long) only to the DPDK
 * log, with their line numbers: that text is captured into @log.
 */
static struct rte_cfgfile *
cfgfile_read(const char *path, char *log, size_t loglen)
{
	const struct rte_cfgfile_parameters params = { .comment_character = '#' };
	FILE *prev = rte_log_get_stream(), *mem = fmemopen(log, loglen, "w");
	struct rte_cfgfile *cfg;
	char *p;

	log[0] = '\0';
	if (mem)
		rte_openlog_stream(mem);
	cfg = rte_cfgfile_load_with_params(path, CFG_FLAG_GLOBAL_SECTION | CFG_FLAG_EMPTY_VALUES,
					   &params);
	if (mem) {
		rte_openlog_stream(prev);
		fclose(mem);
	}
	log[loglen - 1] = '\0';
	p = strstr(log, "(): "); /* the library's function name */
	if (p)
		memmove(log, p + 4, strlen(p + 4) + 1);
	p = log + strlen(log);
	while (p > log && isspace((unsigned char)p[-1]))
		*--p = '\0';
	for (p = log; isspace((unsigned char)*p); p++)
		;
	memmove(log, p, strlen(p) + 1);
	return cfg;
}

/* Apply every entry of section @i, in file order (repeated keys and
 * repeated sections included: the last value wins, lists add up). */
static int
load_section(struct sl_conf *c, struct rte_cfgfile *cfg, int i, const char *path, char *err,
	     size_t errlen)
{
	char sec[CFG_NAME_LEN], msg[512];
	struct rte_cfgfile_entry *e = NULL;
	const struct key_def *k;
	int n, j, rc = 0;
	size_t nk;
	void *b;

	n = rte_cfgfile_section_num_entries_by_index(cfg, sec, i);
	if (n > 0) {
		e = malloc((size_t)n * sizeof(*e));
		if (e == NULL)
			return fail(err, errlen, "%s: out of memory", path);
		n = rte_cfgfile_section_entries_by_index(cfg, i, sec, e, n);
	}
	if (i == GLOBAL_SECTION) {
		if (n > 0)
			rc = fail(err, errlen, "%s: '%s' appears before any [section]", path,
				  e[0].name);
		goto out;
	}
	/* The port or worker entry exists even if the section is empty. */
	rc = section_target(c, sec, &k, &nk, &b, msg, sizeof(msg));
	if (rc < 0) {
		fail(err, errlen, "%s: %s", path, msg);
		goto out;
	}
	for (j = 0; j < n && rc == 0; j++) {
		/* rte_cfgfile cuts longer values to CFG_VALUE_LEN - 1 bytes. */
		if (strlen(e[j].value) >= CFG_VALUE_LEN - 1)
			rc = fail(msg, sizeof(msg), "'%s' is %d characters or longer (at most %d)",
				  e[j].name, CFG_VALUE_LEN - 1, CFG_VALUE_LEN - 2);
		else
			rc = assign(c, sec, e[j].name, e[j].value, msg, sizeof(msg));
		/* rte_cfgfile keeps no line numbers: the section and key say where. */
		if (rc < 0)
			snprintf(err, errlen, "%s: [%s] %s: %s", path, sec, e[j].name, msg);
	}
out:
	free(e);
	return rc;
}

int
sl_conf_load(struct sl_conf *c, const char *path, char *err, size_t errlen)
{
	struct rte_cfgfile *cfg;
	char log[512];
	int i, n, rc = 0;
	FILE *f;

	/* rte_cfgfile does not say why it could not open a file. */
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot open config '%s': %s", path, strerror(errno));
		return rc;
	}
	fclose(f);
	cfg = cfgfile_read(path, log, sizeof(log));
	if (cfg == NULL) {
		unsigned line;
		int at = 0;

		/* "line N - what": said as path:N: what, like a compiler. */
		if (sscanf(log, "line %u - %n", &line, &at) == 1 && at > 0)
			return fail(err, errlen, "%s:%u: %s", path, line, log + at);
		return fail(err, errlen, "%s: %s", path, log[0] ? log : "cannot be read");
	}
	n = rte_cfgfile_num_sections(cfg, NULL, 0);
	for (i = 0; i < n && rc == 0; i++)
		rc = load_section(c, cfg, i, path, err, errlen);
	rte_cfgfile_close(cfg);
	return rc;
}

int
sl_conf_set(struct sl_conf *c, const char *assignment, char *err, size_t errlen)
{
	char tmp[512], *eq, *dot, *key;
	const char *sec = "dataplane";

	if (strlen(assignment) >= sizeof(tmp))
		return fail(err, errlen, "override too long");
	snprintf(tmp, sizeof(tmp), "%s", assignment);
	eq = strchr(tmp, '=');
	if (!eq)
		return fail(err, errlen, "override '%s' is not section.key=value", assignment);
	*eq = '\0';
	key = tmp;
	dot = strchr(tmp, '.');
	if (dot) {
		*dot = '\0';
		sec = tmp;
		key = dot + 1;
	}
	return assign(c, sec, sl_str_trim(key), sl_str_trim(eq + 1), err, errlen);
}

static int
validate_workers(const struct sl_conf *c, char *err, size_t errlen)
{
	unsigned i, j;

	for (i = 0; i < c->n_workers; i++) {
		const struct sl_conf_worker *w = &c->workers[i];

		if (w->port >= c->n_ports)
			return fail(err, errlen, "[worker%u] port %u is not configured", i, w->port);
		if (w->queue >= c->ports[w->port].rx_queues)
			return fail(err, errlen, "[worker%u] queue %u: port%u has %u rx_queues", i,
				    w->queue, w->port, c->ports[w->port].rx_queues);
		if (w->lcore == c->main_lcore)
			return fail(err, errlen, "[worker%u] lcore %u is the main lcore; give "
				    "workers their own cores", i, w->lcore);
		for (j = 0; j < i; j++) {
			if (c->workers[j].lcore == w->lcore)
				return fail(err, errlen, "[worker%u] and [worker%u] share lcore %u",
					    j, i, w->lcore);
			if (c->workers[j].port == w->port && c->workers[j].queue == w->queue)
				return fail(err, errlen, "[worker%u] and [worker%u] poll the same "
					    "queue", j, i);
		}
	}
	return 0;
}

/* A pair member: its key, one worker, timings in order. */
static int
validate_ha(const struct sl_conf *c, char *err, size_t errlen)
{
	const struct sl_conf_ha *h = &c->ha;

	if (h->peer == 0) {
		if (h->dr || h->dr_peer || h->peer2)
			return fail(err, errlen, "[ha] dr, dr_peer and peer2 need peer: a DR "
				    "replica names the pair's members, a pair member its peer");
		return 0;
	}
	if (h->dr && h->dr_peer)
		return fail(err, errlen, "[ha] a DR replica (dr = yes) has no dr_peer: name the "
			    "pair's members with peer and peer2");
	if (!h->dr && h->peer2)
		return fail(err, errlen, "[ha] peer2 is for a DR replica (dr = yes): a pair "
			    "member has one peer (and maybe a dr_peer)");
	if ((h->dr_peer && (h->dr_peer == h->peer || h->dr_peer == c->ports[0].ip)) ||
	    (h->peer2 && (h->peer2 == h->peer || h->peer2 == c->ports[0].ip)))
		return fail(err, errlen, "[ha] dr_peer / peer2 must be a third address, not "
			    "peer's or this node's own");
	if (h->key[0] == '\0')
		return fail(err, errlen, "[ha] peer is set but key is not: name the file holding "
			    "the pair's key (64 hex digits, the same on both nodes)");
	if (c->n_workers != 1)
		return fail(err, errlen, "[ha] a pair member runs one worker (%u configured): "
			    "replication reaches each topic's journal through it; keep [worker0] "
			    "only and rx_queues = 1", c->n_workers);
	if (h->peer == c->ports[0].ip)
		return fail(err, errlen, "[ha] peer is this node's own port0 address: name the "
			    "other node's");
	if (h->repl_port == c->ports[0].udp_port)
		return fail(err, errlen, "[ha] repl_port %u is the clients' udp_port: choose "
			    "another", h->repl_port);
	if (h->detect_ms <= h->hb_ms || h->lease_ms < h->detect_ms)
		return fail(err, errlen, "[ha] needs hb_ms (%u) < detect_ms (%u) <= lease_ms (%u)",
			    h->hb_ms, h->detect_ms, h->lease_ms);
	return 0;
}

int
sl_conf_validate(const struct sl_conf *c, char *err, size_t errlen)
{
	unsigned i, q, covered;
	int rc;

	if (c->n_ports == 0)
		return fail(err, errlen, "no [portN] section: configure at least one port");
	if (c->n_workers == 0)
		return fail(err, errlen, "no [workerN] section: configure at least one worker");
	if (c->ring_size & (c->ring_size - 1))
		return fail(err, errlen, "ring_size %u is not a power of two", c->ring_size);
	if (c->shm_ring_kb & (c->shm_ring_kb - 1))
		return fail(err, errlen, "shm_ring_kb %u is not a power of two", c->shm_ring_kb);
	/* One region per client holds a tx ring and an rx ring per worker. */
	if ((uint64_t)c->shm_ring_kb * (1u + c->n_workers) > (1u << 20))
		return fail(err, errlen, "shm_ring_kb %u x (1 + %u workers) is over 1 GiB per "
			    "shared-memory client; lower shm_ring_kb", c->shm_ring_kb, c->n_workers);
	if (c->session_timeout_ms < 2 * c->heartbeat_ms)
		return fail(err, errlen, "session_timeout_ms (%u) must be at least twice "
			    "heartbeat_ms (%u)", c->session_timeout_ms, c->heartbeat_ms);
	if (c->capacity_mb && c->capacity_mb < 2 * c->segment_mb)
		return fail(err, errlen, "capacity_mb (%u) must hold at least two segments of "
			    "segment_mb (%u)", c->capacity_mb, c->segment_mb);
	if (c->reassembly_session_bytes > c->reassembly_bytes)
		return fail(err, errlen, "reassembly_session_bytes (%u) is more than the worker's "
			    "reassembly_bytes (%u): raise reassembly_bytes or lower the other",
			    c->reassembly_session_bytes, c->reassembly_bytes);
	if (c->max_message > c->reassembly_session_bytes)
		return fail(err, errlen, "max_message (%u) is more than reassembly_session_bytes "
			    "(%u): a session could never reassemble such a message; raise "
			    "reassembly_session_bytes (and reassembly_bytes)", c->max_message,
			    c->reassembly_session_bytes);
	if (c->n_topics >= c->max_topics)
		return fail(err, errlen, "%u topics declared but max_topics is %u", c->n_topics,
			    c->max_topics);
	if (c->ha.service_ip != 0 && c->ha.service_ip == c->ports[0].ip)
		return fail(err, errlen, "[ha] service_ip is port0's own ip: the service address "
			    "moves between the nodes, so give it an address of its own");
	for (i = 0; i < c->n_ports; i++) {
		const struct sl_conf_port *p = &c->ports[i];

		if (!!p->vdev[0] == !!p->pci[0])
			return fail(err, errlen, "[port%u] needs exactly one of vdev or pci", i);
		if (p->ip == 0)
			return fail(err, errlen, "[port%u] has no ip", i);
		for (q = 0; q < p->rx_queues; q++) {
			unsigned w;

			for (covered = 0, w = 0; w < c->n_workers; w++)
				covered |= c->workers[w].port == i && c->workers[w].queue == q;
			if (!covered)
				return fail(err, errlen, "[port%u] rx queue %u has no worker; add a "
					    "[workerN] for it or lower rx_queues", i, q);
		}
	}
	rc = validate_ha(c, err, errlen);
	if (rc < 0)
		return rc;
	return validate_workers(c, err, errlen);
}

void
sl_conf_dump(const struct sl_conf *c, FILE *out)
{
	char ip[INET_ADDRSTRLEN];
	unsigned i;

	fprintf(out, "[dataplane]\nname = %s\nmain_lcore = %u\nidle = %s\nidle_max_us = %u\n"
		"idle_spin = %u\n"
		"burst = %u\nmbufs = %u\nmbuf_cache = %u\nring_size = %u\nmax_topics = %u\n"
		"max_subscribers = %u\nmax_sessions = %u\nheartbeat_ms = %u\n"
		"session_timeout_ms = %u\nauto_create_topics = %s\nno_huge = %s\n"
		"memory_mb = %u\neal_args = %s\nmax_producers = %u\nproducer_idle_s = %u\n"
		"producer_topics = %u\nhist_topics = %u\n",
		c->name, c->main_lcore, c->idle == SL_IDLE_BUSY ? "busy" : "backoff",
		c->idle_max_us, c->idle_spin, c->burst, c->mbufs, c->mbuf_cache, c->ring_size, c->max_topics,
		c->max_subscribers, c->max_sessions, c->heartbeat_ms, c->session_timeout_ms,
		c->auto_create_topics ? "yes" : "no", c->no_huge ? "yes" : "no", c->memory_mb,
		c->eal_args, c->max_producers, c->producer_idle_s, c->producer_topics,
		c->hist_topics);
	for (i = 0; i < c->n_topics; i++)
		fprintf(out, "topics = %s\n", c->topics[i]);
	fprintf(out, "journal_dir = %s\ndurability = %s\nsegment_mb = %u\ncapacity_mb = %u\n"
		"retain_mb = %u\nretain_s = %u\nasync_lag_ms = %u\nauth = %s\nrate_limit = %u\n"
		"aes_gcm = %s\n",
		c->journal_dir,
		sl_durability_name(c->durability), c->segment_mb, c->capacity_mb, c->retain_mb,
		c->retain_s, c->async_lag_ms, c->auth_required ? "required" : "open", c->rate_limit,
		c->aes_gcm_off ? "off" : "auto");
	for (i = 0; i < c->n_rules; i++)
		fprintf(out, "durability_rules = %s=%s\n", c->rules[i].pattern,
			sl_durability_name(c->rules[i].policy));
	fprintf(out, "backpressure = %s\n", sl_backpressure_name(c->backpressure));
	for (i = 0; i < c->n_bp_rules; i++)
		fprintf(out, "backpressure_rules = %s=%s\n", c->bp_rules[i].pattern,
			sl_backpressure_name(c->bp_rules[i].policy));
	fprintf(out, "retransmit_window = %u\nretransmit_bytes = %u\nnak_rate = %u\n"
		"status_idle_us = %u\nudp_window = %u\nbp_hold_ms = %u\n", c->retransmit_window,
		c->retransmit_bytes, c->nak_rate, c->status_idle_us, c->udp_window, c->bp_hold_ms);
	fprintf(out, "max_message = %u\nreassembly_bytes = %u\nreassembly_session_bytes = %u\n"
		"reassembly_ms = %u\n", c->max_message, c->reassembly_bytes,
		c->reassembly_session_bytes, c->reassembly_ms);
	fprintf(out, "shm = %s\nshm_max_clients = %u\nshm_ring_kb = %u\nshm_group = %s\n"
		"shm_huge = %s\n", c->shm ? "yes" : "no", c->shm_max_clients, c->shm_ring_kb,
		c->shm_group, c->shm_huge ? "yes" : "no");
	for (i = 0; i < c->n_ports; i++) {
		const struct sl_conf_port *p = &c->ports[i];

		inet_ntop(AF_INET, &p->ip, ip, sizeof(ip));
		fprintf(out, "\n[port%u]\n%s = %s\nip = %s\nudp_port = %u\nrx_queues = %u\n"
			"rx_desc = %u\ntx_desc = %u\nrss = %s\npromisc = %s\n", i,
			p->vdev[0] ? "vdev" : "pci", p->vdev[0] ? p->vdev : p->pci, ip, p->udp_port,
			p->rx_queues, p->rx_desc, p->tx_desc, p->rss ? "yes" : "no",
			p->promisc ? "yes" : "no");
	}
	for (i = 0; i < c->n_workers; i++)
		fprintf(out, "\n[worker%u]\nlcore = %u\nport = %u\nqueue = %u\n", i,
			c->workers[i].lcore, c->workers[i].port, c->workers[i].queue);
	if (c->ha.peer == 0) {
		/* A single node may still answer a service address. */
		if (c->ha.service_ip != 0) {
			inet_ntop(AF_INET, &c->ha.service_ip, ip, sizeof(ip));
			fprintf(out, "\n[ha]\nservice_ip = %s\n", ip);
		}
		return;
	}
	inet_ntop(AF_INET, &c->ha.peer, ip, sizeof(ip));
	fprintf(out, "\n[ha]\npeer = %s\nrepl_port = %u\nkey = %s\nencrypt = %s\n", ip,
		c->ha.repl_port, c->ha.key, c->ha.encrypt ? "yes" : "no");
	if (c->ha.service_ip) {
		inet_ntop(AF_INET, &c->ha.service_ip, ip, sizeof(ip));
		fprintf(out, "service_ip = %s\n", ip);
	}
	fprintf(out, "hb_ms = %u\ndetect_ms = %u\nlease_ms = %u\nsync_replicas = %u\nnode = %s\n",
		c->ha.hb_ms, c->ha.detect_ms, c->ha.lease_ms, c->ha.sync_replicas, c->ha.node);
	if (c->ha.dr)
		fprintf(out, "dr = yes\n");
	if (c->ha.dr_peer) {
		inet_ntop(AF_INET, &c->ha.dr_peer, ip, sizeof(ip));
		fprintf(out, "dr_peer = %s\n", ip);
	}
	if (c->ha.peer2) {
		inet_ntop(AF_INET, &c->ha.peer2, ip, sizeof(ip));
		fprintf(out, "peer2 = %s\n", ip);
	}
}
