/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus text exposition of the dataplane's counters over HTTP/1.0 (GET /metrics). */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"

#define MAX_CONNS 16
#define MAX_REQ 4096
#define MAX_BODY (8u << 20)
#define CONN_TIMEOUT_NS (5ull * 1000000000ull)

struct conn {
	int fd;
	char req[MAX_REQ + 1];
	size_t req_len;
	struct sl_jw out; /* the whole response once the request is read */
	size_t out_off;
	int answering;
	uint64_t deadline;
};

struct sl_metrics {
	struct sl_ctl *ctl;
	int lfd;
	struct conn *c[MAX_CONNS];
	size_t n;
};

/* ---- exposition ---- */

/* Metric names: [a-zA-Z0-9_], anything else becomes '_'. */
static void
put_name(struct sl_jw *w, const char *s)
{
	char b[128];
	size_t i;

	for (i = 0; s[i] != '\0' && i < sizeof(b) - 1; i++)
		b[i] = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				       (s[i] >= '0' && s[i] <= '9') || s[i] == '_'
			       ? s[i] : '_';
	sl_jw_raw(w, b, i);
}

/* Label values escape backslash, double quote and newline. */
static void
put_label_value(struct sl_jw *w, const char *s, size_t len)
{
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\"" : s[i] == '\n' ? "\\n" : NULL;

		if (esc == NULL)
			continue;
		sl_jw_raw(w, s + run, i - run);
		sl_jw_raw(w, esc, 2);
		run = i + 1;
	}
	sl_jw_raw(w, s + run, len - run);
}

static void
family(struct sl_jw *w, const char *name, const char *type, const char *help)
{
	sl_jw_raw(w, "# HELP ", 7);
	put_name(w, name);
	sl_jw_raw(w, " ", 1);
	sl_jw_raw(w, help, strlen(help));
	sl_jw_raw(w, "\n# TYPE ", 8);
	put_name(w, name);
	sl_jw_raw(w, " ", 1);
	sl_jw_raw(w, type, strlen(type));
	sl_jw_raw(w, "\n", 1);
}

/* One sample: NAME{LABEL="VALUE"} NUMBER. @label may be NULL. */
static void
sample(struct sl_jw *w, const char *name, const char *label, const struct sl_json *lv,
       const struct sl_json *v)
{
	char num[48];

	put_name(w, name);
	if (label != NULL && lv != NULL) {
		sl_jw_raw(w, "{", 1);
		put_name(w, label);
		sl_jw_raw(w, "=\"", 2);
		if (lv->type == SL_JSON_STR)
			put_label_value(w, lv->v.str.s, lv->v.str.len);
		else if (lv->type == SL_JSON_NUM) {
			snprintf(num, sizeof(num), "%.15g", lv->v.num.d);
			sl_jw_raw(w, num, strlen(num));
		}
		sl_jw_raw(w, "\"}", 2);
	}
	if (v->type == SL_JSON_BOOL)
		snprintf(num, sizeof(num), " %d\n", v->v.boolean);
	else if (v->flags & SL_JSON_F_UINT)
		snprintf(num, sizeof(num), " %llu\n", (unsigned long long)v->v.num.u);
	else
		snprintf(num, sizeof(num), " %.17g\n", v->v.num.d);
	sl_jw_raw(w, num, strlen(num));
}

static int
is_number(const struct sl_json *v)
{
	return v != NULL && (v->type == SL_JSON_NUM || v->type == SL_JSON_BOOL);
}

/* sluice_<counter>_total for each member of "counters". */
static void
render_counters(struct sl_jw *w, const struct sl_json *root)
{
	const struct sl_json *c = sl_json_get(root, "counters"), *k;
	char name[160];

	for (k = c && c->type == SL_JSON_OBJ ? c->v.kids.first : NULL; k != NULL; k = k->next) {
		if (!is_number(k))
			continue;
		snprintf(name, sizeof(name), "sluice_%.100s_total", k->key);
		family(w, name, "counter", "Dataplane event counter, all workers.");
		sample(w, name, NULL, NULL, k);
	}
}

/* A family with one sample per member of object @obj, labelled by its key. */
static void
render_keyed(struct sl_jw *w, const struct sl_json *obj, const char *name, const char *label,
	     const char *help)
{
	const struct sl_json *k;
	struct sl_json lv;

	if (obj == NULL || obj->type != SL_JSON_OBJ)
		return;
	family(w, name, "counter", help);
	for (k = obj->v.kids.first; k != NULL; k = k->next) {
		if (!is_number(k))
			continue;
		memset(&lv, 0, sizeof(lv));
		lv.type = SL_JSON_STR;
		lv.v.str.s = k->key;
		lv.v.str.len = k->key_len;
		sample(w, name, label, &lv, k);
	}
}

struct field {
	const char *json, *metric, *type, *help;
};

static const struct field topic_fields[] = {
	{ "published", "sluice_topic_published_total", "counter", "Messages published." },
	{ "delivered", "sluice_topic_delivered_total", "counter", "Messages delivered." },
	{ "dropped", "sluice_topic_dropped_total", "counter", "Messages dropped." },
	{ "subscribers", "sluice_topic_subscribers", "gauge", "Current subscribers." },
	{ "seq", "sluice_topic_seq", "gauge", "Last sequence number." },
	{ "journal_bytes", "sluice_topic_journal_bytes", "gauge", "Journal size in bytes." },
	{ "journal_full", "sluice_topic_journal_full_total", "counter",
	  "Publishes refused because the topic's journal could not grow." },
	{ NULL, NULL, NULL, NULL },
};

static const struct field worker_fields[] = {
	{ "rx_pkts", "sluice_worker_rx_pkts_total", "counter", "Packets received by the worker." },
	{ "tx_pkts", "sluice_worker_tx_pkts_total", "counter", "Packets sent by the worker." },
	{ "sessions", "sluice_worker_sessions", "gauge", "Sessions owned by the worker." },
	{ NULL, NULL, NULL, NULL },
};

static const struct field port_fields[] = {
	{ "ipackets", "sluice_port_ipackets_total", "counter", "Packets received by the port." },
	{ "opackets", "sluice_port_opackets_total", "counter", "Packets sent by the port." },
	{ "imissed", "sluice_port_imissed_total", "counter", "Packets the port missed." },
	{ "ierrors", "sluice_port_ierrors_total", "counter", "Receive errors of the port." },
	{ NULL, NULL, NULL, NULL },
};

/* For each field, a family over the entries of array @key, labelled
 * @label with the value of their member @label_key. */
static void
render_array(struct sl_jw *w, const struct sl_json *root, const char *key, const char *label,
	     const char *label_key, const struct field *f)
{
	const struct sl_json *arr = sl_json_get(root, key), *e;

	if (arr == NULL || arr->type != SL_JSON_ARR)
		return;
	for (; f->json != NULL; f++) {
		family(w, f->metric, f->type, f->help);
		for (e = arr->v.kids.first; e != NULL; e = e->next) {
			const struct sl_json *v = sl_json_get(e, f->json);

			if (is_number(v))
				sample(w, f->metric, label, sl_json_get(e, label_key), v);
		}
	}
}

void
sl_metrics_render(struct sl_ctl *ctl, struct sl_jw *w)
{
	struct sl_json one = { .type = SL_JSON_NUM, .flags = SL_JSON_F_UINT | SL_JSON_F_INT };
	struct sl_json_doc *doc = NULL;
	const struct sl_json *root;
	int attached = sl_ctl_snapshot(ctl, &doc) == 0;

	one.v.num.u = 1;
	one.v.num.d = 1;
	family(w, "sluice_control_up", "gauge", "sluice-control is running.");
	sample(w, "sluice_control_up", NULL, NULL, &one);
	one.v.num.u = (uint64_t)attached;
	one.v.num.d = attached;
	family(w, "sluice_dataplane_attached", "gauge",
	       "1 when sluice-control is attached to a live dataplane with a readable snapshot.");
	sample(w, "sluice_dataplane_attached", NULL, NULL, &one);
	if (!attached)
		return;
	root = sl_json_root(doc);
	if (is_number(sl_json_get(root, "uptime_s"))) {
		family(w, "sluice_dataplane_uptime_seconds", "gauge", "Dataplane uptime.");
		sample(w, "sluice_dataplane_uptime_seconds", NULL, NULL,
		       sl_json_get(root, "uptime_s"));
	}
	render_counters(w, root);
	render_keyed(w, sl_json_get(root, "drops"), "sluice_drops_total", "reason",
		     "Frames or packets dropped, by reason.");
	render_array(w, root, "topics", "topic", "name", topic_fields);
	render_array(w, root, "workers", "worker", "worker", worker_fields);
	render_array(w, root, "ports", "port", "port", port_fields);
	sl_json_doc_free(doc);
}

/* ---- HTTP ---- */

static void
respond(struct sl_metrics *m, struct conn *c)
{
	struct sl_jw body;
	char head[256];
	int n;

	sl_jw_init(&body, MAX_BODY);
	c->req[c->req_len] = '\0';
	if (strncmp(c->req, "GET /metrics ", 13) == 0 || strncmp(c->req, "GET /metrics\r", 13) == 0) {
		sl_metrics_render(m->ctl, &body);
		n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			     body.err ? "500 Internal Server Error" : "200 OK",
			     "text/plain; version=0.0.4; charset=utf-8", body.err ? 0 : body.len);
	} else {
		sl_jw_raw(&body, "not found: try GET /metrics\n", 28);
		n = snprintf(head, sizeof(head), "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain"
			     "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
	}
	sl_jw_init(&c->out, MAX_BODY + sizeof(head));
	sl_jw_raw(&c->out, head, (size_t)n);
	if (!body.err)
		sl_jw_raw(&c->out, body.buf, body.len);
	sl_jw_free(&body);
	c->answering = 1;
}

static void
conn_free(struct sl_metrics *m, size_t i)
{
	close(m->c[i]->fd);
	sl_jw_free(&m->c[i]->out);
	free(m->c[i]);
	m->c[i] = m->c[--m->n];
}

/* Returns -1 when the connection is finished. */
static int
conn_io(struct sl_metrics *m, struct conn *c)
{
	ssize_t n;

	if (!c->answering) {
		n = read(c->fd, c->req + c->req_len, MAX_REQ - c->req_len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n > 0)
			c->req_len += (size_t)n;
		c->req[c->req_len] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n") || c->req_len == MAX_REQ)
			respond(m, c);
	}
	while (c->answering && c->out_off < c->out.len) {
		n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
	}
	return c->answering ? -1 : 0;
}

size_t
sl_metrics_pollfds(struct sl_metrics *m, struct pollfd *fds, size_t cap)
{
	uint64_t now = sl_ctl_now_ns();
	size_t i, n = 0;

	/* Slow or silent clients are dropped here, once per loop turn. */
	for (i = 0; i < m->n; i++)
		if (now > m->c[i]->deadline)
			conn_free(m, i--);
	if (cap == 0)
		return 0;
	fds[n].fd = m->lfd;
	fds[n++].events = POLLIN;
	for (i = 0; i < m->n && n < cap; i++) {
		fds[n].fd = m->c[i]->fd;
		fds[n++].events = m->c[i]->answering ? POLLOUT : POLLIN;
	}
	return n;
}

static void
accept_conns(struct sl_metrics *m)
{
	struct conn *c;
	int fd;

	while ((fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		c = m->n < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline = sl_ctl_now_ns() + CONN_TIMEOUT_NS;
		sl_jw_init(&c->out, 0);
		m->c[m->n++] = c;
	}
}

void
sl_metrics_handle(struct sl_metrics *m, const struct pollfd *fds, size_t n)
{
	size_t i, j;

	for (j = 1; j < n; j++) {
		if (fds[j].revents == 0)
			continue;
		for (i = 0; i < m->n && m->c[i]->fd != fds[j].fd; i++)
			;
		if (i < m->n && conn_io(m, m->c[i]) < 0)
			conn_free(m, i);
	}
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_conns(m);
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
sl_metrics_open(struct sl_metrics **out, struct sl_ctl *ctl, const char *addr)
{
	struct sockaddr_in sa;
	struct sl_metrics *m;
	int one = 1, rc;

	if (parse_addr(addr, &sa) < 0) {
		sl_ctl_log(ctl, 1, "--metrics %s: expected IPv4-ADDRESS:PORT or off", addr);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->ctl = ctl;
	m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(m->lfd, 16) < 0) {
		rc = -errno;
		sl_ctl_log(ctl, 1, "metrics: cannot listen on %s: %s (use --metrics ADDR:PORT or "
			   "off)", addr, strerror(errno));
		if (m->lfd >= 0)
			close(m->lfd);
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void
sl_metrics_close(struct sl_metrics *m)
{
	if (m == NULL)
		return;
	while (m->n > 0)
		conn_free(m, m->n - 1);
	close(m->lfd);
	free(m);
}
