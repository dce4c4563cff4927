/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's settings: one table drives the flags, the config file and --help. */

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/strutil.h>

#include "gw_conf.h"

#define PROG "sluice-mqtt"

enum kind { K_STR, K_U32, K_BOOL };

struct opt {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size; /* K_STR: buffer size */
	uint32_t min, max;
	const char *help;
};

#define S(f) offsetof(struct gw_conf, f), sizeof(((struct gw_conf *)0)->f)
#define U(f) offsetof(struct gw_conf, f), 0

static const struct opt opts[] = {
	{ "listen", K_STR, S(listen), 0, 0, "IPv4 address to listen on (0.0.0.0)" },
	{ "port", K_U32, U(port), 1, 65535, "TCP port (1883)" },
	{ "shm", K_STR, S(shm), 0, 0, "dataplane instance to attach to over shared memory (sluice)" },
	{ "credentials", K_STR, S(credentials), 0, 0,
	  "credentials file of the gateway's own session (anonymous clients);\n"
	  "                          none: an unauthenticated session" },
	{ "allow-anonymous", K_BOOL, U(allow_anonymous), 0, 1,
	  "accept CONNECT without a username, on the gateway's own session (off)" },
	{ "state-dir", K_STR, S(state_dir), 0, 0, "where retained messages and sessions are kept (/var/lib/sluice/mqtt)" },
	{ "name", K_STR, S(name), 0, 0, "name of this gateway in stats and metrics (mqtt-PORT)" },
	{ "max-connections", K_U32, U(max_conns), 1, 1000000, "open MQTT connections (10000)" },
	{ "max-inflight", K_U32, U(max_inflight), 1, 65535,
	  "outbound QoS 1/2 messages unacknowledged per session (64); a v5\n"
	  "                          client's Receive Maximum lowers it" },
	{ "max-packet", K_U32, U(max_packet), 64, 268435460, "largest MQTT packet, bytes (1048576)" },
	{ "keepalive-max", K_U32, U(keepalive_max), 0, 65535,
	  "cap on a client's keep-alive, s (0: no cap; v5 clients are told)" },
	{ "session-expiry-max", K_U32, U(session_expiry_max), 0, 0xffffffffu,
	  "cap on how long a disconnected persistent session is kept, s (86400)" },
	{ "max-queued", K_U32, U(max_queued), 0, 1000000,
	  "messages held for one session past its inflight window or while it is\n"
	  "                          disconnected (1000); more are dropped and counted" },
	{ "tx-max", K_U32, U(tx_max), 4096, 1u << 30,
	  "bytes queued to one slow client before QoS 0 is dropped; twice that\n"
	  "                          disconnects it (1048576)" },
	{ "max-subscriptions", K_U32, U(max_subs), 1, 65535, "subscriptions per session (256)" },
	{ "connect-timeout-ms", K_U32, U(connect_timeout_ms), 100, 600000,
	  "time a connection has to send CONNECT (10000)" },
	{ "spin-us", K_U32, U(spin_us), 0, 1000000,
	  "after work, poll this long before sleeping, us (50); 0 sleeps at once\n"
	  "                          (least CPU), more trades a core for latency" },
	{ "tls-cert", K_STR, S(tls_cert), 0, 0,
	  "server certificate chain (PEM): also listen for MQTT over TLS" },
	{ "tls-key", K_STR, S(tls_key), 0, 0, "its private key (PEM)" },
	{ "tls-port", K_U32, U(tls_port), 1, 65535, "TCP port for MQTT over TLS (8883)" },
	{ "verbose", K_BOOL, U(verbose), 0, 1, "log connections and refusals to stderr" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

void
gw_conf_defaults(struct gw_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "0.0.0.0");
	c->port = 1883;
	c->tls_port = 8883;
	snprintf(c->shm, sizeof(c->shm), "sluice");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/sluice/mqtt");
	c->max_conns = 10000;
	c->max_inflight = 64;
	c->max_packet = 1u << 20;
	c->keepalive_max = 0;
	c->session_expiry_max = 86400;
	c->max_queued = 1000;
	c->tx_max = 1u << 20;
	c->max_subs = 256;
	c->connect_timeout_ms = 10000;
	c->spin_us = 50;
}

static void
usage(void)
{
	size_t i;

	printf("usage: " PROG " [--config FILE] [--OPTION VALUE]...\n"
	       "MQTT 3.1.1 and 5.0 gateway to a Sluice dataplane on this host (docs/MQTT.md).\n\n"
	       "  --config FILE           settings as \"option = value\" lines ('#' comments),\n"
	       "                          applied where --config appears\n");
	for (i = 0; i < N_OPTS; i++)
		printf("  --%-22s%s\n", opts[i].name, opts[i].help);
	printf("  -h, --help              this text\n");
}

static int
set_opt(struct gw_conf *c, const struct opt *o, const char *val, const char *where)
{
	char *end;
	unsigned long long v;
	void *f = (char *)c + o->off;

	switch (o->kind) {
	case K_STR:
		if (strlen(val) >= o->size) {
			fprintf(stderr, PROG ": %s: %s is longer than %zu bytes\n", where, o->name,
				o->size - 1);
			return -1;
		}
		memcpy(f, val, strlen(val) + 1);
		return 0;
	case K_BOOL:
		if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") ||
		    !strcmp(val, "on"))
			v = 1;
		else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") ||
			 !strcmp(val, "off"))
			v = 0;
		else {
			fprintf(stderr, PROG ": %s: %s takes true or false, not '%s'\n", where,
				o->name, val);
			return -1;
		}
		if (o->off == offsetof(struct gw_conf, verbose))
			*(int *)f = (int)v;
		else
			*(bool *)f = v != 0;
		return 0;
	case K_U32:
		errno = 0;
		v = strtoull(val, &end, 10);
		if (errno || end == val || *end || v < o->min || v > o->max || !isdigit(*val)) {
			fprintf(stderr, PROG ": %s: %s '%s' is not a number from %u to %u\n", where,
				o->name, val, o->min, o->max);
			return -1;
		}
		if (o->off == offsetof(struct gw_conf, port))
			c->port = (uint16_t)v;
		else if (o->off == offsetof(struct gw_conf, tls_port))
			c->tls_port = (uint16_t)v;
		else
			*(uint32_t *)f = (uint32_t)v;
		return 0;
	}
	return -1;
}

static const struct opt *
find_opt(const char *name)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (!strcmp(opts[i].name, name))
			return &opts[i];
	/* The config file may spell them with underscores too. */
	for (i = 0; i < N_OPTS; i++) {
		const char *a = opts[i].name, *b = name;

		while (*a && (*a == *b || (*a == '-' && *b == '_'))) {
			a++;
			b++;
		}
		if (!*a && !*b)
			return &opts[i];
	}
	return NULL;
}

int
gw_conf_set(struct gw_conf *c, const char *key, const char *val, const char *where)
{
	const struct opt *o = find_opt(key);

	if (o == NULL) {
		fprintf(stderr, PROG ": %s: unknown setting '%s' (see --help)\n", where, key);
		return -1;
	}
	return set_opt(c, o, val, where);
}

static int
load_file(struct gw_conf *c, const char *path)
{
	char line[1024], where[300], *k, *v, *eq;
	unsigned n = 0;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (f == NULL) {
		fprintf(stderr, PROG ": cannot read config file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		n++;
		if ((k = strchr(line, '#')) != NULL)
			*k = 0;
		k = sl_str_trim(line);
		if (!*k)
			continue;
		snprintf(where, sizeof(where), "%s:%u", path, n);
		eq = strchr(k, '=');
		if (eq == NULL) {
			/* A bare name is a boolean set to true. */
			rc = gw_conf_set(c, k, "true", where);
			continue;
		}
		*eq = 0;
		v = sl_str_trim(eq + 1);
		rc = gw_conf_set(c, sl_str_trim(k), v, where);
	}
	fclose(f);
	return rc;
}

int
gw_conf_parse(struct gw_conf *c, int argc, char **argv)
{
	const struct opt *o;
	const char *a, *val;
	char name[64];
	int i;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage();
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", a);
			return -1;
		}
		a += 2;
		val = strchr(a, '=');
		snprintf(name, sizeof(name), "%.*s", val ? (int)(val - a) : (int)strlen(a), a);
		if (!strcmp(name, "config")) {
			if (val == NULL && i + 1 >= argc)
				goto missing;
			if (load_file(c, val ? val + 1 : argv[++i]) < 0)
				return -1;
			continue;
		}
		o = find_opt(name);
		if (o == NULL) {
			fprintf(stderr, PROG ": unknown option '--%s' (see --help)\n", name);
			return -1;
		}
		if (val != NULL)
			val++;
		else if (o->kind == K_BOOL)
			val = "true";
		else if (i + 1 < argc)
			val = argv[++i];
		else
			goto missing;
		if (set_opt(c, o, val, "command line") < 0)
			return -1;
	}
	if (!c->tls_cert[0] != !c->tls_key[0]) {
		fprintf(stderr, PROG ": --tls-cert and --tls-key go together\n");
		return -1;
	}
	if (!c->name[0])
		snprintf(c->name, sizeof(c->name), "mqtt-%u", c->port);
	return 0;
missing:
	fprintf(stderr, PROG ": option '%s' needs a value\n", argv[i]);
	return -1;
}
