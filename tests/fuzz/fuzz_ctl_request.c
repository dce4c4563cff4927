/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of sluice-control's request decoding (control/server.c
 * and the commands of control/rpc*.c): the input is what a client writes
 * on the admin socket, one JSON request per line. A real server listens on
 * a socket in a scratch directory, with its state saved there and no
 * dataplane; the harness writes the input, lets the server work, and reads
 * every answer.
 * Invariants: each answer is one line holding a JSON object with a boolean
 * "ok" (and "code" and "error" strings when false); a request line gets
 * exactly one answer; the server never stops answering.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "fuzz.h"
#include "jsonx.h"
#include "state.h"
#include "sync.h"

#define OUT_MAX (4u << 20)

static struct sl_ctl ctl;
static struct sl_server *srv;
static int cfd = -1;
static char sock_path[300];
static char *out;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = fuzz_tmpdir("fuzz_ctl");
	static char state_dir[300];
	static struct sl_sync *sync;

	(void)argc;
	(void)argv;
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
	signal(SIGPIPE, SIG_IGN);
	FUZZ_CHECK(mkdir(state_dir, 0700) == 0);
	FUZZ_CHECK(sl_sync_create(&sync, "fuzz-ctl-request") == 0);
	ctl.name = "fuzz-ctl-request";
	ctl.state_dir = state_dir;
	ctl.sync = sync;
	sl_state_init(&ctl.state);
	FUZZ_CHECK(sl_server_open(&srv, &ctl, sock_path, NULL) == 0);
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	FUZZ_CHECK(cfd >= 0 && strlen(sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	FUZZ_CHECK(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	out = malloc(OUT_MAX);
	FUZZ_CHECK(out != NULL);
	return 0;
}

/* One round of the control daemon's loop, without waiting. Returns
 * whether anything was ready. */
static int
serve_once(void)
{
	struct pollfd fds[SL_SERVER_MAX_CLIENTS + 1];
	size_t n = sl_server_pollfds(srv, fds, SL_SERVER_MAX_CLIENTS + 1);
	int ready = poll(fds, (nfds_t)n, 0);

	if (ready > 0)
		sl_server_handle(srv, fds, n);
	sl_server_tick(srv);
	return ready > 0;
}

/* Answers due: one per line that is not blank (the server skips those),
 * one per line too long to take. */
static size_t
count_lines(const uint8_t *d, size_t size)
{
	size_t i, start = 0, n = 0;

	for (i = 0; i <= size; i++) {
		if (i < size && d[i] != '\n')
			continue;
		if (i - start > SL_SERVER_MAX_LINE)
			n++;
		else if (i > start && !(i - start == 1 && d[start] == '\r'))
			n++;
		start = i + 1;
	}
	return n;
}

static void
check_answer(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *a = json_loadb(line, len, 0, &jerr);
	json_t *ok;

	FUZZ_CHECK(a != NULL && json_is_object(a));
	ok = json_object_get(a, "ok");
	FUZZ_CHECK(json_is_boolean(ok));
	if (json_is_false(ok)) {
		FUZZ_CHECK(json_is_string(json_object_get(a, "code")));
		FUZZ_CHECK(json_is_string(json_object_get(a, "error")));
	} else {
		FUZZ_CHECK(json_object_get(a, "result") != NULL);
	}
	json_decref(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t want, got = 0, have = 0, sent = 0, i, start;
	int idle = 0;
	ssize_t k;

	if (size > SL_SERVER_MAX_LINE + 1024)
		return 0;
	want = count_lines(data, size);
	/* Every input starts from an empty state. */
	sl_state_fini(&ctl.state);
	sl_state_init(&ctl.state);
	while (idle < 3) {
		if (sent < size + 1) {
			k = sent < size ? write(cfd, data + sent, size - sent) : write(cfd, "\n", 1);
			if (k > 0)
				sent += (size_t)k;
		}
		idle = serve_once() || sent < size + 1 ? 0 : idle + 1;
		while ((k = read(cfd, out + have, OUT_MAX - have)) > 0)
			have += (size_t)k;
		FUZZ_CHECK(k < 0 && errno == EAGAIN); /* never hung up on */
		FUZZ_CHECK(have < OUT_MAX);
	}
	for (i = 0, start = 0; i < have; i++) {
		if (out[i] != '\n')
			continue;
		check_answer(out + start, i - start);
		got++;
		start = i + 1;
	}
	FUZZ_CHECK(start == have); /* whole lines only */
	FUZZ_CHECK(got == want);
	return 0;
}
