/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-control: owns the desired state, serves sluicectl, feeds the dataplane. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <common/clock.h>

#include "control.h"

#define TICK_MS 50
#define BUSY_TICK_MS 2 /* while commands or results are moving */
#define MAX_FDS (1 + SL_SERVER_MAX_CLIENTS + 1 + 16)

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct opts {
	const char *name, *state_dir, *socket, *group, *metrics, *metrics_token;
	const char *etcd, *pair, *node, *advertise;
	char socket_buf[256];
	int verbose;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-control [options]\n"
		"  -n, --name NAME        dataplane instance (default sluice)\n"
		"      --state-dir DIR    where state.json lives (default /var/lib/sluice/control)\n"
		"      --socket PATH      admin socket (default /run/sluice/NAME/control.sock)\n"
		"      --socket-group GRP group that may use the admin socket (mode 0660)\n"
		"      --metrics ADDR:PORT  Prometheus endpoint (default 127.0.0.1:9580; off)\n"
		"      --metrics-token FILE  require 'Authorization: Bearer TOKEN' on it, TOKEN\n"
		"                         the first line of FILE (mode 0600)\n"
		"      --etcd URL[,URL]   lead a broker pair through etcd (docs/HA.md), e.g.\n"
		"                         http://127.0.0.1:2379; without it no pair logic runs\n"
		"      --pair NAME        the pair's name in etcd (required with --etcd)\n"
		"      --node NAME        this node's name in the pair (default: --name)\n"
		"      --advertise IP:PORT  the pair's service address: with --etcd, record\n"
		"                         which topics this pair owns and move topics between\n"
		"                         pairs (scale-out, docs/SCALEOUT.md)\n"
		"  -v, --verbose          log each attach, resync and change\n"
		"  -h, --help             this text\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "metrics-token", required_argument, NULL, 't' },
		{ "etcd", required_argument, NULL, 'E' },
		{ "pair", required_argument, NULL, 'P' },
		{ "node", required_argument, NULL, 'N' },
		{ "advertise", required_argument, NULL, 'A' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->name = "sluice";
	o->state_dir = "/var/lib/sluice/control";
	o->metrics = "127.0.0.1:9580";
	while ((c = getopt_long(argc, argv, "n:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->name = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 's': o->socket = optarg; break;
		case 'g': o->group = optarg; break;
		case 'm': o->metrics = optarg; break;
		case 't': o->metrics_token = optarg; break;
		case 'E': o->etcd = optarg; break;
		case 'P': o->pair = optarg; break;
		case 'N': o->node = optarg; break;
		case 'A': o->advertise = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc || o->name[0] == '\0' || strchr(o->name, '/') || strlen(o->name) > 64) {
		fprintf(stderr, "sluice-control: %s\n", optind < argc
			? "unexpected argument" : "--name must be 1-64 characters without '/'");
		return -1;
	}
	if ((o->pair != NULL || o->node != NULL) && o->etcd == NULL) {
		fprintf(stderr, "sluice-control: --pair and --node need --etcd\n");
		return -1;
	}
	if (o->advertise != NULL && o->etcd == NULL) {
		fprintf(stderr, "sluice-control: --advertise needs --etcd and --pair (placement "
			"lives in etcd)\n");
		return -1;
	}
	if (o->etcd != NULL && o->pair == NULL) {
		fprintf(stderr, "sluice-control: --etcd needs --pair NAME (the pair's name in etcd)\n");
		return -1;
	}
	if (o->node == NULL)
		o->node = o->name;
	if (o->socket == NULL) {
		snprintf(o->socket_buf, sizeof(o->socket_buf), "%s/%s/" SL_CONTROL_SOCKET, SL_RUN_DIR,
			 o->name);
		o->socket = o->socket_buf;
	}
	return 0;
}

static int
load_state(struct sl_ctl *ctl)
{
	char err[512];
	int rc;

	if (sl_state_dir_prepare(ctl->state_dir, err, sizeof(err)) < 0) {
		sl_ctl_log(ctl, 1, "%s", err);
		return -1;
	}
	rc = sl_state_load(&ctl->state, ctl->state_dir, err, sizeof(err));
	if (rc == -ENOENT) {
		sl_ctl_log(ctl, 0, "%s", err);
		return 0;
	}
	if (rc < 0) {
		sl_ctl_log(ctl, 1, "%s", err);
		return -1;
	}
	sl_ctl_log(ctl, 0, "state: %zu topics, %zu users, %zu ACL entries", ctl->state.n_topics,
		   ctl->state.n_users, ctl->state.n_acls);
	return 0;
}

/* Note attach, detach and resync transitions for the operator. */
static void
log_transitions(struct sl_ctl *ctl, struct sl_sync_status *prev)
{
	struct sl_sync_status st;

	sl_sync_status(ctl->sync, sl_ctl_now_ns(), &st);
	if (st.attached && (!prev->attached || st.dp_pid != prev->dp_pid))
		sl_ctl_log(ctl, 0, "attached to dataplane '%s' (pid %lld)", ctl->name,
			   (long long)st.dp_pid);
	if (!st.attached && prev->attached)
		sl_ctl_log(ctl, 0, "dataplane '%s' went away; waiting for it", ctl->name);
	if (st.stale && !prev->stale)
		sl_ctl_log(ctl, 1, "dataplane '%s' heartbeat is %llu ms old", ctl->name,
			   (unsigned long long)st.heartbeat_age_ms);
	if (st.synced && !prev->synced)
		sl_ctl_log(ctl, 0, "dataplane '%s' in sync (resync #%llu)", ctl->name,
			   (unsigned long long)st.syncs);
	if (st.cnc_refused && st.cnc_refused != prev->cnc_refused) {
		if (st.cnc_refused == UINT32_MAX)
			sl_ctl_log(ctl, 1, "%s/%s/cnc is not a sluice control region: not attached",
				   SL_RUN_DIR, ctl->name);
		else
			sl_ctl_log(ctl, 1, "dataplane '%s' has a CnC region of version %u that this "
				   "sluice-control cannot read (it reads version %u, docs/COUNTERS.md): "
				   "run the sluice-control of the dataplane's release", ctl->name,
				   st.cnc_refused, SL_CNC_VERSION);
	}
	if (st.cmds_failed > prev->cmds_failed || st.cmds_timed_out > prev->cmds_timed_out)
		sl_ctl_log(ctl, 1, "dataplane refused %llu and did not answer %llu command(s) so far",
			   (unsigned long long)st.cmds_failed, (unsigned long long)st.cmds_timed_out);
	*prev = st;
}

static void
run(struct sl_ctl *ctl, struct sl_server *srv, struct sl_metrics *met)
{
	struct pollfd fds[MAX_FDS];
	struct sl_sync_status prev;
	size_t ns, nm = 0;
	int busy = 0;

	memset(&prev, 0, sizeof(prev));
	while (!stop) {
		ns = sl_server_pollfds(srv, fds, MAX_FDS);
		if (met != NULL)
			nm = sl_metrics_pollfds(met, fds + ns, MAX_FDS - ns);
		if (poll(fds, ns + nm, busy ? BUSY_TICK_MS : TICK_MS) < 0 && errno != EINTR) {
			sl_ctl_log(ctl, 1, "poll: %s", strerror(errno));
			break;
		}
		sl_server_handle(srv, fds, ns);
		if (met != NULL)
			sl_metrics_handle(met, fds + ns, nm);
		busy = sl_sync_tick(ctl->sync, &ctl->state, sl_ctl_now_ns()) > 0;
		sl_ctl_rates_tick(ctl, sl_ctl_now_ns());
		sl_server_tick(srv);
		if (ctl->place != NULL)
			sl_place_tick(ctl->place, sl_ctl_now_ns());
		log_transitions(ctl, &prev);
	}
}

/* The pair's HA thread (--etcd): it runs beside the poll loop. */
static int
start_ha(struct sl_ctl *ctl, const struct opts *o)
{
	struct sl_ha_conf hc = { .etcd = o->etcd, .pair = o->pair, .node = o->node,
				 .dp_name = o->name };
	char err[256];
	int rc;

	rc = sl_ha_start(&ctl->ha, &hc, err, sizeof(err));
	if (rc < 0) {
		sl_ctl_log(ctl, 1, "%s", err);
		return rc;
	}
	sl_ctl_log(ctl, 0, "pair '%s' node '%s': leadership through etcd %s", o->pair, o->node,
		   o->etcd);
	return 0;
}

/* Scale-out placement (--advertise): on the poll loop's thread. */
static int
start_placement(struct sl_ctl *ctl, const struct opts *o)
{
	char err[256];
	int rc;

	rc = sl_place_open(&ctl->place, ctl, o->etcd, o->pair, o->advertise, err, sizeof(err));
	if (rc < 0) {
		sl_ctl_log(ctl, 1, "%s", err);
		return rc;
	}
	sl_ctl_log(ctl, 0, "pair '%s': topic placement through etcd %s, service %s", o->pair,
		   o->etcd, o->advertise);
	return 0;
}

static int
setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sl_ctl ctl;
	struct sl_server *srv = NULL;
	struct sl_metrics *met = NULL;
	struct opts o;
	int rc = 1;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	memset(&ctl, 0, sizeof(ctl));
	ctl.name = o.name;
	ctl.state_dir = o.state_dir;
	ctl.verbose = o.verbose;
	sl_state_init(&ctl.state);
	if (setup_signals() < 0 || load_state(&ctl) < 0)
		goto out;
	if (sl_sync_create(&ctl.sync, o.name) < 0)
		goto out;
	if (sl_server_open(&srv, &ctl, o.socket, o.group) < 0)
		goto out;
	if (o.etcd != NULL && start_ha(&ctl, &o) < 0)
		goto out;
	if (o.advertise != NULL && start_placement(&ctl, &o) < 0)
		goto out;
	if (strcmp(o.metrics, "off") != 0 &&
	    sl_metrics_open(&met, &ctl, o.metrics, o.metrics_token) < 0)
		goto out;
	sl_ctl_log(&ctl, 0, "serving %s; dataplane '%s'; state in %s", o.socket, o.name,
		   o.state_dir);
	run(&ctl, srv, met);
	rc = 0;
out:
	sl_place_close(ctl.place);
	sl_ha_stop(ctl.ha);
	sl_metrics_close(met);
	sl_server_close(srv);
	sl_sync_destroy(ctl.sync);
	sl_ctl_rates_fini(&ctl);
	sl_state_fini(&ctl.state);
	return rc;
}
