/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt: the MQTT 3.1.1 / 5.0 gateway to a Sluice dataplane (docs/MQTT.md). */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "gw.h"

static void
on_signal(int sig)
{
	(void)sig;
	gw.stop = 1;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int rc;

	gw_conf_defaults(&gw.conf);
	rc = gw_conf_parse(&gw.conf, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	gw.ep = gw.lfd = gw.tlfd = -1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The loop's naps are tens of microseconds: the default 50 us timer
	 * slack would double them. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	if (gw_names_open(gw.conf.shm) < 0)
		return 1;
	gw_ctl_open(gw.conf.shm);
	/* The gateway's own session first: it proves the dataplane is there
	 * (and the credentials good) before any client is accepted. */
	if (gw_user_own() == NULL) {
		fprintf(stderr, "sluice-mqtt: cannot attach to dataplane '%s' over shared memory%s "
				"(is it running? run with --verbose for the broker's answer)\n",
			gw.conf.shm, gw.conf.credentials[0] ? " with --credentials" : "");
		return 1;
	}
	rc = gw_ctrs_open(gw.conf.shm, gw.conf.name);
	if (rc == -EADDRINUSE) {
		fprintf(stderr, "sluice-mqtt: a gateway named '%s' is already running on "
				"dataplane '%s' (give another --name)\n", gw.conf.name, gw.conf.shm);
		rc = -1;
		goto out;
	}
	if (rc < 0)
		fprintf(stderr, "sluice-mqtt: warning: no counters file for '%s' (%s): stats "
				"and metrics will not show this gateway\n",
			gw.conf.name, strerror(-rc));
	rc = gw_retain_open(gw.conf.state_dir);
	if (rc < 0) {
		fprintf(stderr, "sluice-mqtt: cannot keep retained messages in %s: %s\n",
			gw.conf.state_dir, strerror(-rc));
		goto out;
	}
	rc = gw_persist_open(gw.conf.state_dir);
	if (rc < 0) {
		fprintf(stderr, "sluice-mqtt: cannot keep sessions in %s: %s\n",
			gw.conf.state_dir, strerror(-rc));
		goto out;
	}
	rc = gw_loop_init();
	if (rc < 0)
		goto out;
	fprintf(stderr, "sluice-mqtt: %s listening on %s:%u%s%.0u, dataplane '%s'\n",
		gw.conf.name, gw.conf.listen, gw.conf.port, gw.tlfd >= 0 ? " and TLS on " : "",
		gw.tlfd >= 0 ? gw.conf.tls_port : 0, gw.conf.shm);
	rc = gw_loop_run();
out:
	gw_loop_fini();
	gw_persist_close();
	gw_sess_free_all();
	gw_retain_close();
	gw_user_close_all();
	gw_names_close();
	gw_ctrs_close();
	gw_msg_pool_drain();
	return rc < 0 ? 1 : 0;
}
