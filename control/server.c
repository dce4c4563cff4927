/* SPDX-License-Identifier: BSD-3-Clause */
/* The admin socket: connections, one JSON request per line from sluicectl, answers in order. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc.h"

#define MAX_OUT (32u << 20) /* a client that reads nothing is dropped past this */
#define MAX_RESULT (16u << 20)

/* Bytes waiting to be sent; err is sticky (the client is dropped). */
struct outbuf {
	char *buf;
	size_t len, cap, off;
	int err;
};

struct client {
	int fd;
	char *in; /* SL_SERVER_MAX_LINE + 1 bytes */
	size_t in_len;
	int discarding; /* inside an over-long line: drop until its newline */
	struct outbuf out;
	int closing; /* close once out is sent */
	/* A request waiting for the dataplane. */
	int64_t ticket;
	json_t *pending;    /* its result value */
	json_t *pending_id; /* its "id", or NULL */
	int not_stored;	    /* nothing was stored: a failure reads "not applied" */
};

struct sl_server {
	struct sl_ctl *ctl;
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *c[SL_SERVER_MAX_CLIENTS];
	size_t n;
};

static void
out_put(struct outbuf *o, const char *s, size_t len)
{
	size_t ncap;
	char *p;

	if (o->err)
		return;
	if (o->len + len > MAX_OUT) {
		o->err = -E2BIG;
		return;
	}
	if (o->len + len > o->cap) {
		ncap = o->cap ? o->cap : 4096;
		while (ncap < o->len + len)
			ncap *= 2;
		p = realloc(o->buf, ncap);
		if (p == NULL) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = p;
		o->cap = ncap;
	}
	memcpy(o->buf + o->len, s, len);
	o->len += len;
}

/* ---- requests and answers ---- */

/* Queue one answer line: {"id":..., "ok":..., then "result" or "error" and "code"}. */
static void
answer(struct outbuf *out, const json_t *id, json_t *res, const char *code, const char *msg)
{
	json_t *o = json_object();
	char *text;

	if (id != NULL)
		json_object_set(o, "id", (json_t *)id);
	json_object_set_new(o, "ok", json_boolean(code == NULL));
	if (code == NULL) {
		json_object_set_new(o, "result", res != NULL ? json_incref(res) : json_object());
	} else {
		json_object_set_new(o, "error", json_string(msg));
		json_object_set_new(o, "code", json_string(code));
	}
	text = json_dumps(o, SL_JSON_DUMP_FLAGS);
	json_decref(o);
	if (text != NULL && code == NULL && strlen(text) > MAX_RESULT) {
		free(text);
		answer(out, id, NULL, "internal", "the answer is too large");
		return;
	}
	if (text == NULL) {
		out->err = -ENOMEM;
		return;
	}
	out_put(out, text, strlen(text));
	out_put(out, "\n", 1);
	free(text);
}

static void
answer_error(struct outbuf *out, const json_t *id, const char *code, const char *msg)
{
	answer(out, id, NULL, code, msg);
}

static int
envelope(const json_t *root, const char **cmd, const json_t **args, char *err, size_t errlen)
{
	const char *key;
	const json_t *v;

	if (!json_is_object(root))
		return snprintf(err, errlen, "a request must be a JSON object"), -1;
	json_object_foreach((json_t *)root, key, v)
		if (strcmp(key, "cmd") && strcmp(key, "args") && strcmp(key, "id"))
			return snprintf(err, errlen, "unknown request member '%.64s'", key), -1;
	if (sl_jget_str(root, "cmd", cmd) < 0)
		return snprintf(err, errlen, "a request needs \"cmd\", a string"), -1;
	*args = json_object_get(root, "args");
	if (*args != NULL && json_is_null(*args))
		*args = NULL;
	if (*args != NULL && !json_is_object(*args))
		return snprintf(err, errlen, "\"args\" must be an object"), -1;
	return 0;
}

static void
run_cmd(struct client *cl, struct sl_req *r, const char *cmd, json_t *id)
{
	sl_rpc_fn fn = sl_rpc_find(cmd);

	if (fn == NULL) {
		snprintf(r->err, sizeof(r->err), "unknown cmd '%.64s'", cmd);
		answer_error(&cl->out, id, "invalid", r->err);
	} else if (fn(r) < 0) {
		answer_error(&cl->out, id, r->code ? r->code : "internal", r->err);
	} else if (r->res == NULL) {
		answer_error(&cl->out, id, "internal", "out of memory");
	} else if (r->ticket > 0) {
		cl->ticket = r->ticket;
		cl->not_stored = r->not_stored;
		cl->pending = r->res;
		cl->pending_id = json_incref(id);
		r->res = NULL;
	} else {
		answer(&cl->out, id, r->res, NULL, NULL);
	}
	json_decref(r->res);
}

static void
handle_line(struct sl_server *srv, struct client *cl, const char *line, size_t len)
{
	struct sl_req r = { .ctl = srv->ctl };
	json_error_t jerr;
	const char *cmd;
	json_t *doc;
	char err[160];

	doc = json_loadb(line, len, SL_JSON_LOAD_FLAGS, &jerr);
	if (doc == NULL) {
		snprintf(r.err, sizeof(r.err), "bad JSON at byte %d: %s", jerr.position, jerr.text);
		answer_error(&cl->out, NULL, "invalid", r.err);
		return;
	}
	if (envelope(doc, &cmd, &r.args, err, sizeof(err)) < 0) {
		answer_error(&cl->out, NULL, "invalid", err);
		json_decref(doc);
		return;
	}
	run_cmd(cl, &r, cmd, json_object_get(doc, "id"));
	json_decref(doc);
}

/* ---- connections ---- */

static void
client_free(struct sl_server *srv, size_t i)
{
	struct client *cl = srv->c[i];

	if (cl->ticket > 0)
		sl_sync_ticket_forget(srv->ctl->sync, cl->ticket);
	close(cl->fd);
	free(cl->in);
	free(cl->out.buf);
	json_decref(cl->pending);
	json_decref(cl->pending_id);
	free(cl);
	srv->c[i] = srv->c[--srv->n];
}

/* Handle every complete line in the input buffer, unless waiting. */
static void
client_lines(struct sl_server *srv, struct client *cl)
{
	char *nl;
	size_t used;

	while (cl->ticket == 0 && !cl->closing &&
	       (nl = memchr(cl->in, '\n', cl->in_len)) != NULL) {
		used = (size_t)(nl - cl->in) + 1;
		if (cl->discarding)
			cl->discarding = 0;
		else if (used > 1 && !(used == 2 && cl->in[0] == '\r'))
			handle_line(srv, cl, cl->in, used - 1);
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
	}
	if (cl->in_len > SL_SERVER_MAX_LINE && memchr(cl->in, '\n', cl->in_len) == NULL) {
		if (!cl->discarding)
			answer_error(&cl->out, NULL, "invalid",
				     "request line longer than 65536 bytes: refused");
		cl->discarding = 1;
		cl->in_len = 0;
	}
}

static int
client_read(struct sl_server *srv, struct client *cl)
{
	ssize_t n;

	if (cl->in_len > SL_SERVER_MAX_LINE)
		return 0; /* waiting for the dataplane with a full buffer */
	n = read(cl->fd, cl->in + cl->in_len, SL_SERVER_MAX_LINE + 1 - cl->in_len);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	cl->in_len += (size_t)n;
	client_lines(srv, cl);
	return 0;
}

static int
client_write(struct client *cl)
{
	ssize_t n;

	if (cl->out.err)
		return -1;
	while (cl->out.off < cl->out.len) {
		n = send(cl->fd, cl->out.buf + cl->out.off, cl->out.len - cl->out.off,
			 MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		cl->out.off += (size_t)n;
	}
	cl->out.len = cl->out.off = 0;
	return cl->closing ? -1 : 0;
}

static void
accept_clients(struct sl_server *srv)
{
	struct client *cl;
	int fd;

	while ((fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (srv->n >= SL_SERVER_MAX_CLIENTS) {
			sl_ctl_log(srv->ctl, 1, "admin socket: too many clients, refusing one");
			close(fd);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (cl == NULL || (cl->in = malloc(SL_SERVER_MAX_LINE + 1)) == NULL) {
			free(cl);
			close(fd);
			continue;
		}
		cl->fd = fd;
		srv->c[srv->n++] = cl;
	}
}

size_t
sl_server_pollfds(struct sl_server *srv, struct pollfd *fds, size_t cap)
{
	size_t i, n = 0;

	if (cap == 0)
		return 0;
	fds[n].fd = srv->lfd;
	fds[n++].events = POLLIN;
	for (i = 0; i < srv->n && n < cap; i++) {
		fds[n].fd = srv->c[i]->fd;
		/* While a request waits for the dataplane, the next ones wait
		 * in the socket: answers keep the order of requests. */
		fds[n].events = (short)((srv->c[i]->out.len > srv->c[i]->out.off ? POLLOUT : 0) |
					(srv->c[i]->ticket == 0 ? POLLIN : 0));
		n++;
	}
	return n;
}

void
sl_server_handle(struct sl_server *srv, const struct pollfd *fds, size_t n)
{
	size_t i, j;

	/* Clients first, by fd: the array shifts when one closes. */
	for (j = 1; j < n; j++) {
		for (i = 0; i < srv->n && srv->c[i]->fd != fds[j].fd; i++)
			;
		if (i == srv->n || fds[j].revents == 0)
			continue;
		if (((fds[j].revents & (POLLIN | POLLHUP | POLLERR)) &&
		     client_read(srv, srv->c[i]) < 0) ||
		    client_write(srv->c[i]) < 0)
			client_free(srv, i);
	}
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_clients(srv);
}

void
sl_server_tick(struct sl_server *srv)
{
	struct client *cl;
	char msg[200], err[320];
	size_t i;
	int rc;

	for (i = 0; i < srv->n; i++) {
		cl = srv->c[i];
		if (cl->ticket == 0)
			continue;
		rc = sl_sync_ticket_poll(srv->ctl->sync, cl->ticket, msg, sizeof(msg));
		if (rc == 0)
			continue;
		/* 2: a ticket the syncer forgot; a command's -ENOENT is a refusal. */
		if (rc > 0)
			answer(&cl->out, cl->pending_id, cl->pending, NULL, NULL);
		else {
			snprintf(err, sizeof(err), "%s%s",
				 cl->not_stored ? "not applied: " : "stored, but ", msg);
			answer_error(&cl->out, cl->pending_id, "dataplane", err);
		}
		cl->ticket = 0;
		json_decref(cl->pending);
		json_decref(cl->pending_id);
		cl->pending = cl->pending_id = NULL;
		client_lines(srv, cl);
		if (client_write(cl) < 0)
			client_free(srv, i--);
	}
	/* Answers written by handle_line: try to send them now. */
	for (i = 0; i < srv->n; i++)
		if (srv->c[i]->out.len > srv->c[i]->out.off && client_write(srv->c[i]) < 0)
			client_free(srv, i--);
}

/* ---- the listening socket ---- */

/* Is someone answering on @path? Then it is not ours to remove. */
static int
socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), used;

	if (fd < 0)
		return 0;
	used = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return used;
}

static int
socket_dir(struct sl_ctl *ctl, const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (slash = dir + 1; *slash; slash++) {
		if (*slash != '/')
			continue;
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		sl_ctl_log(ctl, 1, "cannot create %s: %s", dir, strerror(errno));
		return rc;
	}
	return 0;
}

static int
socket_perms(struct sl_ctl *ctl, const char *path, const char *group)
{
	struct group *g;

	if (group != NULL) {
		g = getgrnam(group);
		if (g == NULL) {
			sl_ctl_log(ctl, 1, "--socket-group %s: no such group", group);
			return -EINVAL;
		}
		if (chown(path, (uid_t)-1, g->gr_gid) < 0) {
			sl_ctl_log(ctl, 1, "cannot give %s to group %s: %s", path, group,
				   strerror(errno));
			return -errno;
		}
	}
	/* Who may connect may administer: owner and group only. */
	if (chmod(path, 0660) < 0) {
		sl_ctl_log(ctl, 1, "cannot chmod %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int
sl_server_open(struct sl_server **out, struct sl_ctl *ctl, const char *path, const char *group)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sl_server *srv;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		sl_ctl_log(ctl, 1, "socket path %s is too long (max %zu)", path,
			   sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (socket_in_use(&sa)) {
		sl_ctl_log(ctl, 1, "another sluice-control answers on %s: stop it first", path);
		return -EADDRINUSE;
	}
	rc = socket_dir(ctl, path);
	if (rc < 0)
		return rc;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -ENOMEM;
	srv->ctl = ctl;
	memcpy(srv->path, path, strlen(path) + 1);
	unlink(path); /* a socket left by a control process that died */
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0 || bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(srv->lfd, 64) < 0) {
		rc = -errno;
		sl_ctl_log(ctl, 1, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = socket_perms(ctl, path, group);
	if (rc < 0)
		goto fail_unlink;
	*out = srv;
	return 0;
fail_unlink:
	unlink(path);
fail:
	if (srv->lfd >= 0)
		close(srv->lfd);
	free(srv);
	return rc;
}

void
sl_server_close(struct sl_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->n > 0)
		client_free(srv, srv->n - 1);
	close(srv->lfd);
	unlink(srv->path);
	free(srv);
}
