/* SPDX-License-Identifier: BSD-3-Clause */
/* GET /metrics: the dataplane's counters area as Prometheus text, served by libmicrohttpd. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include <common/crypto.h>
#include <common/lathist.h>

#include "control.h"
#include "gateways.h"
#include "prom.h"

/*
 * libmicrohttpd runs without a thread of its own (MHD_USE_EPOLL, no
 * internal polling thread): its epoll descriptor joins sluice-control's
 * poll loop and MHD_run answers on that thread. A request reads the
 * counters area through the attachment that the loop may drop or replace
 * between two turns; on one thread nothing needs a lock, and a scrape
 * costs one copy of the area, small next to the loop's 50 ms tick.
 */

#define CONN_TIMEOUT_S 5
#define MAX_CONNS 16

struct sl_metrics {
	struct sl_ctl *ctl;
	struct MHD_Daemon *d;
	int epfd;
	char token[SL_METRICS_TOKEN_MAX + 1]; /* "" when none is required */
	uint64_t unauthorized;		       /* requests answered 401 */
};

/* ---- exposition ---- */

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fputs("# HELP ", f);
	sl_prom_put_name(f, name);
	fprintf(f, " %s\n# TYPE ", help);
	sl_prom_put_name(f, name);
	fprintf(f, " %s\n", type);
}

/* NAME{LABEL="VALUE"} V; @label may be NULL. */
static void
sample(FILE *f, const char *name, const char *label, const char *lv, uint64_t v)
{
	sl_prom_put_name(f, name);
	if (label != NULL) {
		fputc('{', f);
		sl_prom_put_name(f, label);
		fputs("=\"", f);
		sl_prom_put_label_value(f, lv);
		fputs("\"}", f);
	}
	fprintf(f, " %llu\n", (unsigned long long)v);
}

/* Is value @k of a slot a metric, and which family type? */
static const char *
metric_type(uint8_t kind)
{
	return kind == SL_CTRS_K_COUNT ? "counter" : kind == SL_CTRS_K_GAUGE ? "gauge" : NULL;
}

/* sluice_<label>_total: the counters of every worker and the main lcore, summed. */
static void
render_sums(FILE *f, const struct sl_ctrs_view *v, const char *type_name, const char *prefix,
	    const char *label, const char *help)
{
	int type = sl_ctrs_view_type(v, type_name);
	uint64_t sum[SL_CTRS_MAX_VALUES] = { 0 };
	const struct sl_ctrs_type *t = type >= 0 ? &v->types[type] : NULL;
	const struct sl_ctrs_meta *m;
	const uint64_t *vals;
	char name[96];
	uint32_t i, k;

	for (i = 0; t != NULL && i < v->hdr->n_slots; i++) {
		m = sl_ctrs_view_slot(v, i, NULL, &vals);
		if (m != NULL && (int)m->type == type)
			for (k = 0; k < t->n_values; k++)
				sum[k] += vals[k];
	}
	if (t == NULL)
		return;
	if (label != NULL) {
		/* One family, the label says which: sluice_drops_total{reason=...}. */
		snprintf(name, sizeof(name), "%s_total", prefix);
		family(f, name, "counter", help);
		for (k = 0; k < t->n_values; k++)
			sample(f, name, label, t->labels[k], sum[k]);
		return;
	}
	for (k = 0; k < t->n_values; k++) {
		if (metric_type(t->kinds[k]) == NULL)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", prefix, t->labels[k],
			 t->kinds[k] == SL_CTRS_K_COUNT ? "_total" : "");
		family(f, name, metric_type(t->kinds[k]), help);
		sample(f, name, NULL, NULL, sum[k]);
	}
}

/* Per-owner families: sluice_<type>_<label>[_total]{<type>="owner or key"}. */
static void
render_owned(FILE *f, const struct sl_ctrs_view *v, const char *type_name, const char *help)
{
	int type = sl_ctrs_view_type(v, type_name), del = -1;
	const struct sl_ctrs_type *t = type >= 0 ? &v->types[type] : NULL;
	const struct sl_ctrs_meta *m;
	const uint64_t *vals;
	char name[96], owner[16];
	uint32_t i, k;

	for (k = 0; t != NULL && k < t->n_values; k++)
		if (strcmp(t->labels[k], "deleted") == 0)
			del = (int)k;
	for (k = 0; t != NULL && k < t->n_values; k++) {
		if (metric_type(t->kinds[k]) == NULL)
			continue;
		snprintf(name, sizeof(name), "sluice_%s_%s%s", type_name, t->labels[k],
			 t->kinds[k] == SL_CTRS_K_COUNT ? "_total" : "");
		family(f, name, metric_type(t->kinds[k]), help);
		for (i = 0; i < v->hdr->n_slots; i++) {
			m = sl_ctrs_view_slot(v, i, NULL, &vals);
			/* A deleted topic's name may exist again: one series per name. */
			if (m == NULL || (int)m->type != type || (del >= 0 && vals[del]))
				continue;
			snprintf(owner, sizeof(owner), "%u", m->owner);
			sample(f, name, type_name, m->key[0] ? m->key : owner, vals[k]);
		}
	}
}

/*
 * Per consumer group: sluice_group_<label>[_total]{topic="T",group="G"}
 * from the "group" slots, whose key is "TOPIC GROUP" (a topic name has no
 * space, nor has a group name).
 */
static void
render_groups(FILE *f, const struct sl_ctrs_view *v)
{
	int type = sl_ctrs_view_type(v, "group");
	const struct sl_ctrs_type *t = type >= 0 ? &v->types[type] : NULL;
	const struct sl_ctrs_meta *m;
	const uint64_t *vals;
	char name[96], topic[SL_CTRS_KEY_LEN];
	const char *sp;
	uint32_t i, k;

	for (k = 0; t != NULL && k < t->n_values; k++) {
		if (metric_type(t->kinds[k]) == NULL)
			continue;
		snprintf(name, sizeof(name), "sluice_group_%s%s", t->labels[k],
			 t->kinds[k] == SL_CTRS_K_COUNT ? "_total" : "");
		family(f, name, metric_type(t->kinds[k]),
		       "Per consumer group, from the dataplane's counters area.");
		for (i = 0; i < v->hdr->n_slots; i++) {
			m = sl_ctrs_view_slot(v, i, NULL, &vals);
			if (m == NULL || (int)m->type != type ||
			    (sp = strchr(m->key, ' ')) == NULL)
				continue;
			snprintf(topic, sizeof(topic), "%.*s", (int)(sp - m->key), m->key);
			sl_prom_put_name(f, name);
			fputs("{topic=\"", f);
			sl_prom_put_label_value(f, topic);
			fputs("\",group=\"", f);
			sl_prom_put_label_value(f, sp + 1);
			fprintf(f, "\"} %llu\n", (unsigned long long)vals[k]);
		}
	}
}

/* One series of the latency family: its labels, then @suffix's value. */
static void
lat_labels(FILE *f, const char *suffix, const char *topic, const char *stage)
{
	fprintf(f, "sluice_topic_latency_seconds%s{topic=\"", suffix);
	sl_prom_put_label_value(f, topic);
	fprintf(f, "\",stage=\"%s\"", stage);
}

/*
 * The latency histograms (docs/COUNTERS.md) as one Prometheus histogram
 * family, sluice_topic_latency_seconds{topic, stage}. The broker's 1024
 * buckets are exported at two `le` bounds per power of two from 64 ns to
 * 68.7 s (2^k - 1 and 3 * 2^(k-1) - 1 ns: bucket edges, so every count is
 * exact) and +Inf: 62 series per histogram rather than 1024. A stage with
 * nothing recorded yet is left out.
 */
static void
render_latency(FILE *f, const struct sl_ctrs_view *v)
{
	const struct sl_lh_hdr *s = sl_lh_section(v->hdr);
	struct sl_lh_sum *h;
	uint64_t cum, edge;
	uint32_t i;
	unsigned k, b, e, half;

	if (s == NULL || (h = malloc(sizeof(*h))) == NULL)
		return;
	family(f, "sluice_hist_no_slot_total", "counter",
	       "Topics that found every latency histogram slot taken (hist_topics).");
	sample(f, "sluice_hist_no_slot_total", NULL, NULL, s->no_slot);
	family(f, "sluice_topic_latency_seconds", "histogram",
	       "Per topic: PUBLISH received to persisted, to delivered (udp, shm), and "
	       "the lag of what is sent again (docs/COUNTERS.md).");
	for (i = 0; i < s->n_slots; i++) {
		const struct sl_ctrs_meta *m = sl_lh_meta(v->hdr, s, i);

		if (m->state != SL_CTRS_LIVE)
			continue;
		for (k = 0; k < SL_LH_M_MAX; k++) {
			sl_lh_sum(v->hdr, i, k, h);
			if (h->count == 0)
				continue;
			cum = 0;
			b = 0;
			for (e = 6; e <= SL_LH_RANGE_BITS; e++) {
				for (half = 0; half < 2; half++) {
					/* Below 2^e, then below 1.5 * 2^e (not past the range). */
					if (half && e == SL_LH_RANGE_BITS)
						break;
					edge = half ? (UINT64_C(3) << (e - 1)) - 1
						    : (UINT64_C(1) << e) - 1;
					for (; b < SL_LH_BUCKETS && sl_lh_bucket_high(b) <= edge; b++)
						cum += h->b[b];
					lat_labels(f, "_bucket", m->key, sl_lh_metric_names[k]);
					fprintf(f, ",le=\"%.10g\"} %llu\n", (double)edge / 1e9,
						(unsigned long long)cum);
				}
			}
			lat_labels(f, "_bucket", m->key, sl_lh_metric_names[k]);
			fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
			lat_labels(f, "_sum", m->key, sl_lh_metric_names[k]);
			fprintf(f, "} %.10g\n", (double)h->sum / 1e9);
			lat_labels(f, "_count", m->key, sl_lh_metric_names[k]);
			fprintf(f, "} %llu\n", (unsigned long long)h->count);
		}
	}
	free(h);
}

/* Whether a slot of type @type_name exists (the "repl" slot: pair members
 * and DR replicas only). */
static int
has_slot(const struct sl_ctrs_view *v, const char *type_name)
{
	int type = sl_ctrs_view_type(v, type_name);
	uint32_t i;

	for (i = 0; type >= 0 && i < v->hdr->n_slots; i++) {
		const struct sl_ctrs_meta *m = sl_ctrs_view_slot(v, i, NULL, NULL);

		if (m != NULL && (int)m->type == type)
			return 1;
	}
	return 0;
}

void
sl_metrics_render_view(const struct sl_ctrs_view *v, FILE *f)
{
	family(f, "sluice_dataplane_uptime_seconds", "gauge", "Dataplane uptime.");
	fprintf(f, "sluice_dataplane_uptime_seconds %.17g\n", sl_ctl_uptime_s(v));
	render_sums(f, v, "counters", "sluice_", NULL, "Dataplane event counter, all workers.");
	render_sums(f, v, "drops", "sluice_drops", "reason",
		    "Frames or packets dropped, by reason.");
	render_sums(f, v, "authz", "sluice_authz_", NULL,
		    "Authorization table builder: resyncs and tables published.");
	render_owned(f, v, "topic", "Per topic, from the dataplane's counters area.");
	render_owned(f, v, "worker", "Per worker, from the dataplane's counters area.");
	render_owned(f, v, "port", "Per port, from the dataplane's counters area.");
	if (has_slot(v, "repl"))
		render_sums(f, v, "repl", "sluice_", NULL, "Replication of a pair member or a DR "
			    "replica (docs/REPLICATION.md; repl_dr_lag_*: the DR replica's lag).");
	render_groups(f, v);
	render_latency(f, v);
}

void
sl_metrics_render(struct sl_ctl *ctl, FILE *f)
{
	struct sl_ctrs_view v;
	int attached = sl_ctl_counters(ctl, &v) == 0;

	family(f, "sluice_control_up", "gauge", "sluice-control is running.");
	sample(f, "sluice_control_up", NULL, NULL, 1);
	family(f, "sluice_dataplane_attached", "gauge",
	       "1 when sluice-control is attached to a live dataplane with a readable snapshot.");
	sample(f, "sluice_dataplane_attached", NULL, NULL, (uint64_t)attached);
	sl_ctl_gateways_metrics(f, ctl->name);
	if (!attached)
		return;
	sl_metrics_render_view(&v, f);
	sl_ctrs_view_free(&v);
}

/* ---- the bearer token ---- */

int
sl_metrics_token_load(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	char buf[SL_METRICS_TOKEN_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len, i;
	int fd, rc = 0;

	if (cap > 0)
		out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return sl_state_errf(err, errlen, -errno, "metrics token file %s: %s", path,
				     strerror(errno));
	/* fstat the open file: a check on the path could be raced. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		rc = sl_state_errf(err, errlen, -EINVAL, "metrics token file %s: not a regular "
				   "file", path);
	else if (st.st_mode & 077)
		rc = sl_state_errf(err, errlen, -EPERM, "metrics token file %s: mode %04o lets "
				   "group or others read the token: run 'chmod 600 %s'", path,
				   (unsigned)(st.st_mode & 07777), path);
	n = rc == 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
	close(fd);
	if (rc < 0)
		return rc;
	if (n < 0)
		return sl_state_errf(err, errlen, -errno, "metrics token file %s: %s", path,
				     strerror(errno));
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	/* One line of visible ASCII (RFC 6750's b64token and more), long
	 * enough not to be guessed. */
	for (i = 0; i < len && buf[i] > ' ' && buf[i] < 0x7f; i++)
		;
	if (i != len || len < SL_METRICS_TOKEN_MIN || len > SL_METRICS_TOKEN_MAX ||
	    len >= cap || (buf[len] != '\0' && strspn(buf + len, "\r\n") != strlen(buf + len)))
		rc = sl_state_errf(err, errlen, -EINVAL, "metrics token file %s: want one line of "
				   "%d to %d visible characters, no spaces (e.g. from 'openssl rand "
				   "-hex 32')", path, SL_METRICS_TOKEN_MIN, SL_METRICS_TOKEN_MAX);
	else
		memcpy(out, buf, len);
	if (rc == 0)
		out[len] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

int
sl_metrics_authorized(const char *token, const char *header)
{
	static const char scheme[] = "Bearer ";
	size_t tlen = strlen(token), hlen;

	if (tlen == 0)
		return 1;
	if (header == NULL || strncasecmp(header, scheme, sizeof(scheme) - 1) != 0)
		return 0;
	header += sizeof(scheme) - 1;
	while (*header == ' ')
		header++;
	hlen = strcspn(header, " \t");
	/* Constant time over the token's length: timing tells nothing of
	 * how much of a guess was right. */
	return hlen == tlen && header[hlen] == '\0' && sl_ct_memcmp(header, token, tlen) == 0;
}

/* ---- HTTP ---- */

/* 401: the scrape did not carry the token. */
static enum MHD_Result
refuse(struct sl_metrics *m, struct MHD_Connection *conn)
{
	static const char msg[] = "unauthorized: send 'Authorization: Bearer TOKEN' (the token in "
				  "sluice-control's --metrics-token file)\n";
	struct MHD_Response *r;
	enum MHD_Result rc;

	m->unauthorized++;
	r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"sluice-metrics\"");
	rc = MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_len, void **req)
{
	static const char nf[] = "not found: try GET /metrics\n";
	struct sl_metrics *m = cls;
	struct MHD_Response *r;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result rc;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	/* Before anything else: without the token, not even a 404. */
	if (!sl_metrics_authorized(m->token, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
									  MHD_HTTP_HEADER_AUTHORIZATION)))
		return refuse(m, conn);
	if (strcmp(method, "GET") != 0 || strcmp(url, "/metrics") != 0) {
		r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf,
						    MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_FOUND;
		MHD_add_response_header(r, "Content-Type", "text/plain");
	} else {
		f = open_memstream(&body, &len);
		if (f == NULL)
			return MHD_NO;
		sl_metrics_render(m->ctl, f);
		family(f, "sluice_control_metrics_unauthorized_total", "counter",
		       "Requests to this endpoint refused 401: no valid bearer token.");
		sample(f, "sluice_control_metrics_unauthorized_total", NULL, NULL, m->unauthorized);
		if (fclose(f) != 0) {
			free(body);
			return MHD_NO;
		}
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, "Content-Type",
					"text/plain; version=0.0.4; charset=utf-8");
	}
	if (r == NULL)
		return MHD_NO;
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static int
parse_addr(const char *addr, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

int
sl_metrics_open(struct sl_metrics **out, struct sl_ctl *ctl, const char *addr,
		const char *token_file)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;
	struct sl_metrics *m;
	char err[512];
	int rc;

	if (parse_addr(addr, &sa) < 0) {
		sl_ctl_log(ctl, 1, "--metrics %s: expected IPv4-ADDRESS:PORT or off", addr);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->ctl = ctl;
	if (token_file != NULL) {
		rc = sl_metrics_token_load(token_file, m->token, sizeof(m->token), err,
					   sizeof(err));
		if (rc < 0) {
			sl_ctl_log(ctl, 1, "%s", err);
			free(m);
			return rc;
		}
	} else if (sa.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) {
		sl_ctl_log(ctl, 1, "--metrics %s without --metrics-token answers anyone who "
			   "reaches it: give --metrics-token FILE to require a bearer token", addr);
	}
	errno = 0;
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, ntohs(sa.sin_port), NULL, NULL,
				answer, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNS, MHD_OPTION_END);
	info = m->d ? MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (info == NULL) {
		rc = errno ? -errno : -EADDRINUSE;
		sl_ctl_log(ctl, 1, "metrics: cannot listen on %s: %s (use --metrics ADDR:PORT or "
			   "off)", addr, strerror(-rc));
		if (m->d)
			MHD_stop_daemon(m->d);
		free(m);
		return rc;
	}
	m->epfd = info->epoll_fd;
	*out = m;
	return 0;
}

size_t
sl_metrics_pollfds(struct sl_metrics *m, struct pollfd *fds, size_t cap)
{
	if (cap == 0)
		return 0;
	fds[0].fd = m->epfd;
	fds[0].events = POLLIN;
	return 1;
}

void
sl_metrics_handle(struct sl_metrics *m, const struct pollfd *fds, size_t n)
{
	/* Every turn, not only when readable: connection timeouts run here. */
	(void)fds;
	(void)n;
	MHD_run(m->d);
}

void
sl_metrics_close(struct sl_metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	explicit_bzero(m->token, sizeof(m->token));
	free(m);
}
