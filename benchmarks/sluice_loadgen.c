/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-loadgen: open-loop publish/subscribe load against a broker, with latency percentiles. */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <common/auth.h>

#include "cli.h"
#include "tsc.h"

#include "loadgen.h"

static void
on_sigint(int sig)
{
	(void)sig;
	sl_lg_stop_requested = 1;
}

static void
on_sigusr1(int sig)
{
	(void)sig;
	sl_lg_send_end_requested = 1;
}

/* First ^C ends the send phase early and still reports; a second one kills.
 * SIGUSR1 ends the send phase and keeps the drain phase. */
static void
install_sigint(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_sigusr1;
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
}

static int
run_and_report(struct lg_run *r)
{
	struct lg_stats st;
	int rc, fail;

	rc = sl_lg_connect_all(r);
	if (rc == 0)
		rc = sl_lg_setup_topics(r);
	if (rc < 0)
		return 1;
	install_sigint();
	fail = sl_lg_run_send_phase(r) < 0;
	if (!fail)
		fail = sl_lg_run_drain_phase(r) < 0;
	sl_lg_collect_stats(r, &st);
	sl_lg_report_refused(r);
	if (r->cf->json)
		sl_lg_report_json(r, &st);
	else
		sl_lg_report_text(r, &st);
	fflush(stdout);
	if (fail)
		return 1;
	return sl_lg_failed(r, &st) ? 3 : 0;
}

/* --cpu: the whole process (one thread) on @cpu; -1 when it cannot be (reported). */
static int
pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, LG_NAME ": cannot run on cpu %d: %s (this machine has cpus "
			"0..%ld)\n", cpu, strerror(errno), sysconf(_SC_NPROCESSORS_ONLN) - 1);
		return -1;
	}
	return 0;
}

/* Credentials from --credentials or the environment; -1 when unusable (reported). */
static int
credentials(struct lg_conf *cf, char *user, uint8_t *key)
{
	struct sl_client_opts o = { 0 };

	if (sl_cli_credentials(LG_NAME, &o, cf->credentials, user, key) < 0 ||
	    sl_cli_encrypt(LG_NAME, &o, cf->encrypt) < 0)
		return -1;
	cf->user = o.user;
	cf->key = o.key;
	return 0;
}

int
main(int argc, char **argv)
{
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	struct lg_conf cf;
	struct lg_run *r;
	int rc;

	rc = sl_lg_parse_args(&cf, argc, argv);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "Try '" LG_NAME " --help'.\n");
		return 2;
	}
	if (credentials(&cf, user, key) < 0)
		return 1;
	if (cf.cpu >= 0 && pin_cpu(cf.cpu) < 0)
		return 1;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		fprintf(stderr, LG_NAME ": out of memory\n");
		return 1;
	}
	r->cf = &cf;
	if (sl_lg_plan_run(r) < 0) {
		free(r);
		return 2;
	}
	rc = sl_lg_run_alloc(r);
	if (rc == 0)
		rc = run_and_report(r);
	else
		rc = 1;
	sl_lg_run_free(r);
	explicit_bzero(key, sizeof(key));
	return rc;
}

