/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl's one RPC: connect to sluice-control's admin socket, send a request line, read
 * and check the answer. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <common/clock.h>

#include "ctl.h"

#define SL_CTL_REPLY_MAX	(4u << 20)	/* longest reply line accepted */

volatile sig_atomic_t sl_ctl_stop_requested;

int64_t
sl_ctl_now_ms(void)
{
	return (int64_t)(sl_mono_ns() / 1000000);
}

static void
unreachable(const struct sl_ctl *c, int err)
{
	const char *hint;

	switch (err) {
	case ENOENT:
	case ENOTDIR:
		hint = "no such socket: is sluice-control running? (pick another instance "
		       "with -n NAME or a socket with -s SOCKET)";
		break;
	case ECONNREFUSED:
		hint = "nobody is listening (stale socket): start sluice-control";
		break;
	case EACCES:
	case EPERM:
		hint = "permission denied: run as root or as a member of the socket's group "
		       "(sluice-control --socket-group)";
		break;
	case EAGAIN:
	case EINPROGRESS:
	case ETIMEDOUT:
		hint = "sluice-control did not accept the connection in time: it may be "
		       "overloaded or hung (-t MS waits longer)";
		break;
	default:
		hint = strerror(err);
		break;
	}
	sl_ctl_err("cannot reach sluice-control at %s: %s", c->path, hint);
}

/* Connect within @deadline; returns the socket or -errno. SO_SNDTIMEO bounds a
 * blocking AF_UNIX connect(2) on Linux (a full listen backlog waits on it). */
static int
ctl_connect(const struct sl_ctl *c, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t left = deadline - sl_ctl_now_ms();
	struct timeval tv;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (left < 1)
		left = 1;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	memcpy(sa.sun_path, c->path, strlen(c->path));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR && !sl_ctl_stop_requested)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one line (without its '\n') into @r; returns 0 or an exit code. */
static int
recv_line(const struct sl_ctl *c, int fd, int64_t deadline, struct sl_ctl_reply *r)
{
	size_t cap = 0;
	char *nl = NULL;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - sl_ctl_now_ms();
		ssize_t n;

		if (left <= 0) {
			sl_ctl_err("sluice-control at %s did not answer within %d ms "
				   "(-t MS waits longer)", c->path, c->timeout_ms);
			return SL_CTL_EXIT_UNREACHABLE;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR && !sl_ctl_stop_requested)
				continue;
			if (errno != EINTR)	/* else Ctrl-C in stats --watch: quietly */
				sl_ctl_err("waiting for sluice-control: %s", strerror(errno));
			return SL_CTL_EXIT_UNREACHABLE;
		}
		if (pfd.revents == 0)
			continue;
		if (r->len + 65536 + 1 > cap) {
			cap = cap != 0 ? cap * 2 : 131072;
			r->line = realloc(r->line, cap);
			if (r->line == NULL)
				abort();
		}
		n = read(fd, r->line + r->len, cap - r->len - 1);
		if (n < 0 && errno == EINTR && !sl_ctl_stop_requested)
			continue;
		if (n <= 0) {
			sl_ctl_err("sluice-control at %s closed the connection without answering%s%s",
				   c->path, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return SL_CTL_EXIT_UNREACHABLE;
		}
		nl = memchr(r->line + r->len, '\n', (size_t)n);
		r->len += (size_t)n;
		if (nl != NULL)
			r->len = (size_t)(nl - r->line);
		if (r->len > SL_CTL_REPLY_MAX) {
			sl_ctl_err("reply from sluice-control is longer than %u bytes: refused",
				   SL_CTL_REPLY_MAX);
			return SL_CTL_EXIT_FAILED;
		}
		if (nl != NULL) {
			r->line[r->len] = '\0';
			return 0;
		}
	}
}

static size_t
skip_ws(const char *s, size_t len, size_t off)
{
	while (off < len && (s[off] == ' ' || s[off] == '\t' || s[off] == '\n' || s[off] == '\r'))
		off++;
	return off;
}

/* Decode the one JSON value at @s[*@off..@len) (a key or a member's value),
 * advancing *@off past it; NULL when there is none. */
static json_t *
next_value(const char *s, size_t len, size_t *off)
{
	json_error_t e;
	json_t *v;

	*off = skip_ws(s, len, *off);
	/* Numbers as reals: only the value's extent matters here, and an
	 * integer beyond 64 bits must not stop the walk. */
	v = json_loadb(s + *off, len - *off,
		       JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_DECODE_INT_AS_REAL, &e);
	if (v != NULL)
		*off += (size_t)e.position;
	return v;
}

/*
 * Where the text of the top-level member "result" of the object in @s is:
 * --json prints it byte for byte as the daemon wrote it (numbers keep every
 * digit, member order and spelling stay). jansson decodes each key and value;
 * this walk only steps over the object's punctuation.
 */
static int
find_result_text(const char *s, size_t len, size_t *res_off, size_t *res_len)
{
	size_t off = skip_ws(s, len, 0);

	if (off >= len || s[off++] != '{')
		return -EINVAL;
	for (;;) {
		json_t *key = next_value(s, len, &off), *val;
		bool is_result = json_is_string(key) &&
				 strcmp(json_string_value(key), "result") == 0;
		size_t start;

		json_decref(key);
		off = skip_ws(s, len, off);
		if (key == NULL || off >= len || s[off++] != ':')
			return -EINVAL;
		start = skip_ws(s, len, off);
		val = next_value(s, len, &off);
		if (val == NULL)
			return -EINVAL;
		json_decref(val);
		if (is_result) {
			*res_off = start;
			*res_len = off - start;
			return 0;
		}
		off = skip_ws(s, len, off);
		if (off >= len || s[off++] != ',')
			return -ENOENT;
	}
}

/* Parse the answer line and turn it into an exit code, printing the daemon's refusal. */
static int
reply_check(struct sl_ctl_reply *r)
{
	json_t *ok;
	const char *msg, *code;
	char buf[1024];
	json_error_t e;

	r->root = json_loadb(r->line, r->len, 0, &e);
	/* An integer beyond 64 bits: still an answer, read as a real. */
	if (r->root == NULL)
		r->root = json_loadb(r->line, r->len, JSON_DECODE_INT_AS_REAL, &e);
	if (r->root == NULL) {
		sl_ctl_err("malformed reply from sluice-control (not JSON near byte %d)",
			   e.position);
		return SL_CTL_EXIT_FAILED;
	}
	ok = json_object_get(r->root, "ok");
	if (!json_is_boolean(ok)) {
		sl_ctl_err("malformed reply from sluice-control: no \"ok\" member");
		return SL_CTL_EXIT_FAILED;
	}
	if (json_is_true(ok)) {
		r->result = json_object_get(r->root, "result");
		if (r->result != NULL &&
		    find_result_text(r->line, r->len, &r->result_off, &r->result_len) < 0) {
			sl_ctl_err("malformed reply from sluice-control: no \"result\" text");
			return SL_CTL_EXIT_FAILED;
		}
		return SL_CTL_EXIT_OK;
	}
	msg = json_string_value(json_object_get(r->root, "error"));
	code = json_string_value(json_object_get(r->root, "code"));
	if (msg != NULL) {
		sl_ctl_sanitize(buf, sizeof(buf), msg);
		sl_ctl_err("%s", buf);
	} else {
		sl_ctl_sanitize(buf, sizeof(buf), code != NULL ? code : "unknown");
		sl_ctl_err("sluice-control refused the command (code %s)", buf);
	}
	return code != NULL && strcmp(code, "not_found") == 0 ? SL_CTL_EXIT_NOT_FOUND
							      : SL_CTL_EXIT_FAILED;
}

void
sl_ctl_reply_fini(struct sl_ctl_reply *r)
{
	json_decref(r->root);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

/* The request line, '\n' included; out of memory aborts. */
static char *
request_line(const char *cmd, json_t *args, size_t *len)
{
	json_t *req = json_object();
	char *text, *line;

	/* Insertion order is kept: "cmd" comes first, as docs/CONTROL.md shows. */
	if (req == NULL || json_object_set_new(req, "cmd", json_string(cmd)) < 0 ||
	    (args != NULL && json_object_set(req, "args", args) < 0))
		abort();
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL)
		abort();
	*len = strlen(text) + 1;
	line = realloc(text, *len + 1);
	if (line == NULL)
		abort();
	line[*len - 1] = '\n';
	line[*len] = '\0';
	return line;
}

int
sl_ctl_call(const struct sl_ctl *c, const char *cmd, json_t *args, struct sl_ctl_reply *r)
{
	int64_t deadline = sl_ctl_now_ms() + c->timeout_ms;
	size_t len;
	char *req;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	fd = ctl_connect(c, deadline);
	if (fd < 0) {
		if (!sl_ctl_stop_requested)
			unreachable(c, -fd);
		return SL_CTL_EXIT_UNREACHABLE;
	}
	req = request_line(cmd, args, &len);
	rc = send_all(fd, req, len);
	free(req);
	if (rc < 0) {
		sl_ctl_err("sending to sluice-control at %s: %s", c->path, strerror(-rc));
		rc = SL_CTL_EXIT_UNREACHABLE;
	} else {
		rc = recv_line(c, fd, deadline, r);
	}
	close(fd);
	if (rc == 0)
		rc = reply_check(r);
	if (rc != 0)
		sl_ctl_reply_fini(r);
	return rc;
}

int
sl_ctl_call_simple(const struct sl_ctl *c, const char *cmd, const char *key, const char *val,
		   struct sl_ctl_reply *r)
{
	json_t *a;
	int rc;

	if (key == NULL)
		return sl_ctl_call(c, cmd, NULL, r);
	a = json_object();
	if (a == NULL)
		abort();
	rc = sl_ctl_arg_str(NULL, a, key, val);
	if (rc != 0) {
		json_decref(a);
		return rc;
	}
	rc = sl_ctl_call(c, cmd, a, r);
	json_decref(a);
	return rc;
}
