/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-control's admin socket, for what only the control plane does: creating the consumer
 * group of a shared subscription on an MQTT user's behalf. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/paths.h"
#include "gw.h"

/*
 * Consumer groups are the control plane's desired state (docs/CONTROL.md):
 * the dataplane runs only the groups sluice-control sends it, and neither
 * the client protocol nor libsluice creates one. So the gateway asks
 * sluice-control, over the admin socket of the dataplane's instance
 * (SL_RUN_DIR/NAME/control.sock), with "for_user": control checks that the
 * MQTT user could have created the topic (admin on it) before it creates
 * the group with the defaults of group.create. One request line, one
 * answer line, bounded by CTL_TIMEOUT_MS; the loop waits for it as it waits
 * for the broker's answer to a subscribe.
 */

#define CTL_TIMEOUT_MS 2000
#define CTL_REPLY_MAX 65536

static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

void
gw_instance_of(const char *shm, char *out, size_t cap)
{
	const char *slash = strrchr(shm, '/');
	const char *start = slash;

	if (slash == NULL) {
		snprintf(out, cap, "%s", shm);
		return;
	}
	/* SL_RUN_DIR/NAME/shm.sock: the instance is the directory. */
	while (start > shm && start[-1] != '/')
		start--;
	snprintf(out, cap, "%.*s", (int)(slash - start), start);
}

void
gw_ctl_open(const char *shm)
{
	char instance[128];
	int n;

	gw_instance_of(shm, instance, sizeof(instance));
	n = snprintf(sock_path, sizeof(sock_path), "%s/%.80s/%s", SL_RUN_DIR, instance,
		     SL_CONTROL_SOCKET);
	if (n < 0 || (size_t)n >= sizeof(sock_path))
		sock_path[0] = '\0'; /* no such socket: groups are not created */
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send @line and read one answer line into @buf (@cap bytes, NUL
 * terminated). 0 or -errno (-ETIMEDOUT, -ENOENT: no sluice-control). */
static int
call(const char *line, char *buf, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_MS / 1000,
			      .tv_usec = (CTL_TIMEOUT_MS % 1000) * 1000 };
	int64_t deadline = now_ms() + CTL_TIMEOUT_MS;
	size_t len = strlen(line), off = 0;
	int fd, rc = 0;
	ssize_t n;

	memcpy(sa.sun_path, sock_path, strlen(sock_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (left <= 0 || off + 1 >= cap) {
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		n = read(fd, buf + off, cap - off - 1);
		if (n <= 0) {
			rc = n < 0 ? -errno : -EPROTO;
			break;
		}
		off += (size_t)n;
		buf[off] = '\0';
		if (memchr(buf, '\n', off) != NULL)
			break;
	}
out:
	close(fd);
	return rc;
}

static int
group_create_once(const char *user, const char *topic, const char *group)
{
	static char buf[CTL_REPLY_MAX];
	json_t *req, *ans;
	const char *code;
	char *line;
	int rc;

	req = json_pack("{s:s, s:{s:s, s:s, s:s}}", "cmd", "group.create", "args", "topic",
			topic, "name", group, "for_user", user);
	line = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (line == NULL)
		return -ENOMEM;
	/* json_dumps writes no raw newline: the one appended ends the request. */
	rc = snprintf(buf, sizeof(buf), "%s\n", line) < (int)sizeof(buf) ? 0 : -E2BIG;
	free(line);
	if (rc == 0)
		rc = call(buf, buf, sizeof(buf)); /* sent whole before the answer is read */
	if (rc < 0) {
		GW_LOG("group %s of topic %s: sluice-control at %s: %s\n", group, topic, sock_path,
		       strerror(-rc));
		return rc;
	}
	ans = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	if (ans == NULL)
		return -EPROTO;
	code = json_string_value(json_object_get(ans, "code"));
	if (json_is_true(json_object_get(ans, "ok")) || (code && !strcmp(code, "exists")))
		rc = 0; /* made now, or by someone else meanwhile */
	else if (code && !strcmp(code, "denied"))
		rc = -EPERM;
	else
		rc = code && !strcmp(code, "not_found") ? -ENOENT : -EIO;
	if (rc < 0 && rc != -ENOENT) {
		const char *why = json_string_value(json_object_get(ans, "error"));

		GW_LOG("group %s of topic %s for user %s: sluice-control refused: %s\n", group,
		       topic, user, why != NULL ? why : "?");
	}
	json_decref(ans);
	return rc;
}

/*
 * A topic a client created a moment ago (the resolve just before) is known
 * to sluice-control only from the dataplane's counters area, sampled every
 * 100 ms (docs/COUNTERS.md): not_found is asked again, every 50 ms, for at
 * most NOT_FOUND_TRIES, before it counts.
 */
#define NOT_FOUND_TRIES 6

int
gw_ctl_group_create(const char *user, const char *topic, const char *group)
{
	const struct timespec pause = { .tv_nsec = 50 * 1000000L };
	int rc, i;

	for (i = 0;; i++) {
		rc = group_create_once(user, topic, group);
		if (rc != -ENOENT || i + 1 == NOT_FOUND_TRIES)
			return rc;
		nanosleep(&pause, NULL);
	}
}
