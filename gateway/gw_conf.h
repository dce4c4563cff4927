/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's settings: defaults, command-line flags and the config file. */

#ifndef SLUICE_GW_CONF_H
#define SLUICE_GW_CONF_H

#include <stdbool.h>
#include <stdint.h>

struct gw_conf {
	char listen[64];	  /* IPv4 address to bind; default 0.0.0.0 */
	uint16_t port;		  /* default 1883 */
	char shm[128];		  /* dataplane instance (or its shm.sock path) */
	char credentials[256];	  /* the gateway's own session; "" none */
	char state_dir[256];	  /* retained messages file lives here */
	char name[32];		  /* counters name; default mqtt-PORT */
	bool allow_anonymous;	  /* CONNECT without username uses own session */
	uint32_t max_conns;	  /* open MQTT connections */
	uint32_t max_inflight;	  /* outbound QoS 1/2 unacknowledged per session */
	uint32_t max_packet;	  /* largest MQTT packet accepted (and sent) */
	uint32_t keepalive_max;	  /* s; a client's larger (or 0) keep-alive is
				   * capped (v5 Server Keep Alive); 0: no cap */
	uint32_t session_expiry_max; /* s; cap on a v5 Session Expiry Interval and
				      * the expiry of v3.1.1 persistent sessions */
	uint32_t max_queued;	  /* messages held for one session (offline or
				   * beyond its inflight window) */
	uint32_t tx_max;	  /* bytes waiting to be written to one client
				   * before QoS 0 is dropped and then the client
				   * disconnected as too slow */
	uint32_t max_subs;	  /* subscriptions per session */
	uint32_t connect_timeout_ms; /* from accept to CONNECT */
	uint32_t spin_us;	  /* the loop spins this long after work, then
				   * sleeps until a socket or doorbell wakes it */
	char tls_cert[256];	  /* PEM chain; "" no TLS listener */
	char tls_key[256];
	uint16_t tls_port;	  /* default 8883 */
	int verbose;
};

/* Fill @c with the defaults. */
void gw_conf_defaults(struct gw_conf *c);

/*
 * Apply the command line (and the --config FILE it names, read where it
 * appears, so later flags override it). Returns 0, 1 when --help was
 * printed, or -1 after a message on stderr.
 */
int gw_conf_parse(struct gw_conf *c, int argc, char **argv);

/* Apply one "key = value" setting (the long option name without "--").
 * Returns 0 or -1 after a message naming @where. */
int gw_conf_set(struct gw_conf *c, const char *key, const char *val, const char *where);

#endif /* SLUICE_GW_CONF_H */
