/* SPDX-License-Identifier: BSD-3-Clause */
/* What the pieces of sluice-control share: the process context, the admin socket, metrics. */

#ifndef SLUICE_CONTROL_CONTROL_H
#define SLUICE_CONTROL_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "state.h"
#include "sync.h"

/* One per process; everything runs on the thread of the poll loop. */
struct sl_ctl {
	const char *name;      /* the dataplane instance */
	const char *state_dir;
	int verbose;
	struct sl_state state; /* desired state, as last saved */
	struct sl_sync *sync;
	char *stats_buf;       /* SL_CNC_STATS_SIZE bytes */
	/* For "rates": the two latest distinct snapshots seen by "stats". */
	struct sl_json_doc *stats_last, *stats_base;
	uint64_t stats_last_ts, stats_base_ts;
};

/* CLOCK_REALTIME nanoseconds, the clock of the CnC region's words. */
uint64_t sl_ctl_now_ns(void);

/* Log to stderr: always for errors, with -v for info. */
void sl_ctl_log(const struct sl_ctl *ctl, int is_error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The latest dataplane snapshot, parsed: 0 and a document to free, or
 * -ENOTCONN (no dataplane), -EAGAIN, -EINVAL (unparsable snapshot).
 */
int sl_ctl_snapshot(struct sl_ctl *ctl, struct sl_json_doc **out);

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

/* Listen on @addr ("IP:PORT"). Returns 0, -EINVAL (bad address) or -errno. */
int sl_metrics_open(struct sl_metrics **out, struct sl_ctl *ctl, const char *addr);
void sl_metrics_close(struct sl_metrics *m);
size_t sl_metrics_pollfds(struct sl_metrics *m, struct pollfd *fds, size_t cap);
void sl_metrics_handle(struct sl_metrics *m, const struct pollfd *fds, size_t n);
/* Write the Prometheus text exposition into @w. */
void sl_metrics_render(struct sl_ctl *ctl, struct sl_jw *w);

#endif /* SLUICE_CONTROL_CONTROL_H */
