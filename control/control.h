/* SPDX-License-Identifier: BSD-3-Clause */
/* What the pieces of sluice-control share: the process context, the admin socket, metrics. */

#ifndef SLUICE_CONTROL_CONTROL_H
#define SLUICE_CONTROL_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include <common/ctrs.h>

#include "ha.h"
#include "placement.h"
#include "state.h"
#include "sync.h"

/* How often the daemon samples the counters for "rates". */
#define SL_CTL_RATE_PERIOD_MS 1000

/* The two latest samples of the summed "counters" (objects by label). */
struct sl_ctl_rates {
	json_t *last, *base;
	uint64_t last_ns, base_ns; /* their sample_ns */
	uint64_t next_ns;
};

/* One per process; everything runs on the thread of the poll loop, but
 * for the metrics thread, which reads the counters area only. */
struct sl_ctl {
	const char *name;      /* the dataplane instance */
	const char *state_dir;
	int verbose;
	struct sl_state state; /* desired state, as last saved */
	struct sl_sync *sync;
	struct sl_ctl_rates rates;
	struct sl_ha *ha;      /* the HA thread (--etcd), or NULL */
	struct sl_place *place; /* scale-out placement (--advertise), or NULL */
};

/* CLOCK_REALTIME nanoseconds, the clock of the CnC region's words. */
uint64_t sl_ctl_now_ns(void);

/* Log to stderr: always for errors, with -v for info. */
void sl_ctl_log(const struct sl_ctl *ctl, int is_error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- the dataplane's counters (stats.c) ---- */

/* A copy of the counters area (free with sl_ctrs_view_free): 0, -ENOTCONN
 * (no dataplane), -EAGAIN (no sample yet) or -ENOMEM. */
int sl_ctl_counters(struct sl_ctl *ctl, struct sl_ctrs_view *v);

/* The dataplane's uptime at the sample of view @v, in seconds. */
double sl_ctl_uptime_s(const struct sl_ctrs_view *v);

/* The "stats" answer (docs/CONTROL.md) of view @v, without "rates". */
json_t *sl_ctl_stats_json(const struct sl_ctrs_view *v);

/* The latency histograms of view @v (docs/COUNTERS.md): a new array of
 * {"name", "id", METRIC: {"count", "sum_ns", "p50", "p90", "p99", "p99_9",
 * "max"}...}, one per topic with a histogram slot, in slot order. */
json_t *sl_ctl_latency_json(const struct sl_ctrs_view *v);

/* The "group" slots of view @v (docs/COUNTERS.md, key "TOPIC GROUP"), in
 * key order: a new array of {"topic", "group", VALUE...}. */
json_t *sl_ctl_groups_json(const struct sl_ctrs_view *v);

/* The "gmember" slots of @topic's group @group (key "TOPIC GROUP MEMBERID"),
 * in member order: a new array of {"member" (16 hex digits), VALUE...}. */
json_t *sl_ctl_group_members_json(const struct sl_ctrs_view *v, const char *topic,
				  const char *group);

/* sl_ctl_counters then sl_ctl_stats_json: 0 and a new object through
 * @out, or the errors of sl_ctl_counters. */
int sl_ctl_snapshot(struct sl_ctl *ctl, json_t **out);

/* Take a counters sample for the rates when one is due. */
void sl_ctl_rates_tick(struct sl_ctl *ctl, uint64_t now_ns);
/* Per-second rates of the counters over the last sampling interval: a new
 * object, empty until two samples exist. */
json_t *sl_ctl_rates_json(const struct sl_ctl *ctl);
void sl_ctl_rates_fini(struct sl_ctl *ctl);

/* ---- admin socket (server.c) ---- */

#define SL_SERVER_MAX_LINE 65536
#define SL_SERVER_MAX_CLIENTS 64

struct sl_server;

/* Listen on @path (mode 0660, group @group when not NULL). Refuses when
 * another process answers on @path. Returns 0 or -errno (message logged). */
int sl_server_open(struct sl_server **out, struct sl_ctl *ctl, const char *path,
		   const char *group);
/* Close every connection, remove the socket file. */
void sl_server_close(struct sl_server *srv);
/* Fill up to @cap pollfds; returns how many. */
size_t sl_server_pollfds(struct sl_server *srv, struct pollfd *fds, size_t cap);
/* Act on the @n pollfds filled by sl_server_pollfds (same order). */
void sl_server_handle(struct sl_server *srv, const struct pollfd *fds, size_t n);
/* Answer requests whose dataplane commands have finished. */
void sl_server_tick(struct sl_server *srv);

/* ---- metrics (metrics.c) ---- */

struct sl_metrics;

/* Bearer token lengths (sluice-control --metrics-token). */
#define SL_METRICS_TOKEN_MIN 16
#define SL_METRICS_TOKEN_MAX 256

/*
 * Listen on @addr ("IP:PORT"). With @token_file (not NULL), every request
 * must carry "Authorization: Bearer TOKEN", TOKEN the file's first line;
 * others are answered 401 and counted. Returns 0, -EINVAL (bad address or
 * token file), -EPERM (token file readable by group or others) or -errno.
 */
int sl_metrics_open(struct sl_metrics **out, struct sl_ctl *ctl, const char *addr,
		    const char *token_file);
/*
 * Read the token of @path into @out (@cap bytes): a regular file of mode
 * 0600 or stricter (as credentials files), one line of SL_METRICS_TOKEN_MIN
 * to _MAX visible ASCII characters. 0, or -errno with a message in @err.
 */
int sl_metrics_token_load(const char *path, char *out, size_t cap, char *err, size_t errlen);
/* Does Authorization header @header (may be NULL) carry @token? "" needs none. */
int sl_metrics_authorized(const char *token, const char *header);
void sl_metrics_close(struct sl_metrics *m);
size_t sl_metrics_pollfds(struct sl_metrics *m, struct pollfd *fds, size_t cap);
void sl_metrics_handle(struct sl_metrics *m, const struct pollfd *fds, size_t n);
/* Write the Prometheus text exposition into @f. */
void sl_metrics_render(struct sl_ctl *ctl, FILE *f);
/* The dataplane's part of it, from a counters area copy @v. */
void sl_metrics_render_view(const struct sl_ctrs_view *v, FILE *f);

#endif /* SLUICE_CONTROL_CONTROL_H */
