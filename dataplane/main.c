/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-dataplane: the DPDK primary process that moves Sluice messages. */

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/log.h>

#include "dataplane.h"
#include "durable.h"
#include "group_durable_dp.h"
#include "lcore_main.h"
#include "port.h"
#include "ha_main.h"
#include "producer_main.h"
#include "repl.h"
#include "shm_main.h"

#define MAX_EAL_ARGS 96
#define SLOW_RING_SIZE 1024
#define HDR_ROOM 128 /* Ethernet + IPv4 + UDP + DELIVER header, rounded up */

static struct sl_dp dp;

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: sluice-dataplane -c FILE [options] [-- EAL options]\n"
		"\n"
		"Runs the Sluice dataplane: worker lcores poll the NIC queues named in FILE,\n"
		"parse Sluice frames, route publishes to subscribers and send deliveries.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     port, queue and lcore layout (see nic-configs/)\n"
		"  -s, --set SEC.KEY=VAL override one config value, e.g. port0.ip=10.0.0.1\n"
		"                        or idle=backoff (dataplane section); repeatable\n"
		"  -n, --name NAME       instance name: EAL file prefix and telemetry\n"
		"                        directory /var/run/dpdk/NAME (default from FILE)\n"
		"      --idle MODE       busy (lowest latency, holds its cores) or backoff\n"
		"      --print-config    print the effective configuration and exit\n"
		"      --check           validate the configuration and exit\n"
		"  -h, --help            this text\n"
		"\n"
		"Counters: dpdk-telemetry.py -f NAME, then /sluice/stats, /sluice/topics,\n"
		"/sluice/workers, /sluice/config (or scripts/sluice-stats NAME).\n"
		"Stops cleanly on SIGINT or SIGTERM.\n");
}

static void
on_signal(int sig)
{
	(void)sig;
	/* Relaxed: workers poll the flag; no data is published through it. */
	__atomic_store_n(&dp.quit, 1, __ATOMIC_RELAXED);
}

static int
parse_args(int argc, char **argv, int *eal_argc, char ***eal_argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "idle", required_argument, NULL, 'I' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char named[2][300]; /* --name and --idle as overrides */
	char err[512];
	const char *config = NULL;
	const char *sets[64];
	int nsets = 0, print = 0, check = 0, opt, i;

	sl_conf_defaults(&dp.conf);
	while ((opt = getopt_long(argc, argv, "c:s:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 's':
		case 'n':
		case 'I':
			if (nsets == 64) {
				fprintf(stderr, "sluice-dataplane: too many overrides\n");
				return -EINVAL;
			}
			if (opt == 's')
				sets[nsets++] = optarg;
			else {
				char *t = named[opt == 'n' ? 0 : 1];

				snprintf(t, sizeof(named[0]), "%s=%s", opt == 'n' ? "name" : "idle",
					 optarg);
				sets[nsets++] = t;
			}
			break;
		case 'P': print = 1; break;
		case 'C': check = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (config == NULL) {
		fprintf(stderr, "sluice-dataplane: no config file; pass -c nic-configs/<profile>"
			".conf (see --help)\n");
		return -EINVAL;
	}
	if (sl_conf_load(&dp.conf, config, err, sizeof(err)) < 0)
		goto bad;
	for (i = 0; i < nsets; i++)
		if (sl_conf_set(&dp.conf, sets[i], err, sizeof(err)) < 0)
			goto bad;
	if (sl_conf_validate(&dp.conf, err, sizeof(err)) < 0)
		goto bad;
	if (print)
		sl_conf_dump(&dp.conf, stdout);
	if (print || check)
		exit(0);
	*eal_argc = argc - optind;
	*eal_argv = argv + optind;
	return 0;
bad:
	fprintf(stderr, "sluice-dataplane: %s\n", err);
	return -EINVAL;
}

static int eal_args_overflow; /* sticky: checked once all are pushed */

static int
push(char **v, int *n, const char *s)
{
	if (*n >= MAX_EAL_ARGS - 1) {
		eal_args_overflow = 1;
		return -E2BIG;
	}
	v[(*n)++] = strdup(s);
	return 0;
}

/* EAL arguments from the config: lcores, devices, memory, file prefix. */
static int
build_eal_args(char **v, int extra_argc, char **extra_argv, const char *prog)
{
	const struct sl_conf *c = &dp.conf;
	char buf[512], *save = NULL, *tok, tmp[SL_CONF_STR];
	int n = 0, i, len, has_pci = 0;

	push(v, &n, prog);
	/* An explicit --lcores map in eal_args (lcore@cpu, e.g. two workers on
	 * one core of a small machine) replaces the plain list. */
	if (strstr(c->eal_args, "--lcores") == NULL) {
		len = snprintf(buf, sizeof(buf), "%u", c->main_lcore);
		for (i = 0; i < c->n_workers; i++)
			len += snprintf(buf + len, sizeof(buf) - (size_t)len, ",%u",
					c->workers[i].lcore);
		push(v, &n, "-l");
		push(v, &n, buf);
	}
	snprintf(buf, sizeof(buf), "%u", c->main_lcore);
	push(v, &n, "--main-lcore");
	push(v, &n, buf);
	push(v, &n, "--file-prefix");
	push(v, &n, c->name);
	for (i = 0; i < c->n_ports; i++) {
		if (c->ports[i].vdev[0]) {
			push(v, &n, "--vdev");
			push(v, &n, c->ports[i].vdev);
		} else {
			push(v, &n, "-a");
			push(v, &n, c->ports[i].pci);
			has_pci = 1;
		}
	}
	/* Never probe the PCI bus unless a port names a device on it. */
	if (!has_pci)
		push(v, &n, "--no-pci");
	if (c->no_huge) {
		push(v, &n, "--no-huge");
		snprintf(buf, sizeof(buf), "%u", c->memory_mb);
		push(v, &n, "-m");
		push(v, &n, buf);
	} else {
		/* Unlinked at once: nothing is left in hugetlbfs, even after kill -9. */
		push(v, &n, "--huge-unlink");
	}
	snprintf(tmp, sizeof(tmp), "%s", c->eal_args);
	for (tok = strtok_r(tmp, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		push(v, &n, tok);
	for (i = 0; i < extra_argc; i++)
		push(v, &n, extra_argv[i]);
	v[n] = NULL;
	return eal_args_overflow ? -E2BIG : n;
}

static int
create_pools(void)
{
	const struct sl_conf *c = &dp.conf;
	int socket = rte_socket_id();

	dp.pkt_pool = rte_pktmbuf_pool_create("sl_pkt", c->mbufs, c->mbuf_cache, 0,
					      RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	dp.hdr_pool = rte_pktmbuf_pool_create("sl_hdr", c->mbufs, c->mbuf_cache, 0,
					      RTE_PKTMBUF_HEADROOM + HDR_ROOM, socket);
	dp.clone_pool = rte_pktmbuf_pool_create("sl_clone", c->mbufs, c->mbuf_cache, 0, 0,
						socket);
	if (!dp.pkt_pool || !dp.hdr_pool || !dp.clone_pool) {
		SL_LOG(ERR, "mbuf pools: %s (reserve more hugepages or lower mbufs)\n",
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	dp.slow = rte_ring_create_elem("sl_slow", sizeof(struct sl_handoff), SLOW_RING_SIZE,
				       socket, RING_F_SC_DEQ);
	return dp.slow ? 0 : -rte_errno;
}

static int
create_topics(void)
{
	struct sl_dp_reload rep;
	struct sl_topic_spec spec;
	uint32_t id;
	int i, rc;

	rc = sl_route_init(&dp.route, dp.conf.max_topics, dp.conf.max_subscribers, dp.n_workers);
	if (rc < 0)
		return rc;
	rc = sl_dp_journals_load(&dp, &rep);
	if (rc < 0)
		SL_LOG(WARNING, "journal directory %s: %s\n", dp.conf.journal_dir,
			strerror(-rc));
	else if (rc > 0 || rep.failed > 0)
		printf("sluice-dataplane: %d topic journal(s) loaded from %s: %u by their saved "
		       "spec, %u by the rules (%u without a saved spec, %u with an unreadable "
		       "one); %u not loaded\n", rc, dp.conf.journal_dir,
		       rep.loaded - rep.no_spec - rep.bad_spec, rep.no_spec + rep.bad_spec,
		       rep.no_spec, rep.bad_spec, rep.failed);
	for (i = 0; i < dp.conf.n_topics; i++) {
		const char *name = dp.conf.topics[i];

		sl_dp_topic_spec_rules(&dp.conf, name, strlen(name), &spec);
		rc = sl_dp_topic_create(&dp, name, strlen(name), &spec, SL_TOPIC_CONFIG, &id);
		if (rc < 0) {
			fprintf(stderr, "sluice-dataplane: topic %s: %s\n", name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Main lcore: RESOLVE with create, from a worker's slow-path ring. The
 * topic table has one writer, this lcore; the answer goes back to the
 * worker the request came from. */
static void
slow_resolve(struct sl_dp *d, struct sl_handoff *h)
{
	const struct sl_resolve *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_resolve *,
							     h->off);
	const char *name = (const char *)(r + 1);
	struct sl_topic_spec spec;
	uint32_t id = 0;
	int rc;

	/* The frame was validated by the worker: name_len fits the frame. */
	sl_dp_topic_spec_rules(&d->conf, name, r->name_len, &spec);
	rc = sl_dp_topic_create(d, name, r->name_len, &spec, SL_TOPIC_RESOLVE, &id);
	h->kind = SL_HO_RESOLVE_DONE;
	h->topic = id;
	h->code = rc >= 0 ? SL_E_NONE
		  : rc == -ENOSPC ? SL_E_TOPIC_TABLE_FULL
		  : rc == -EINVAL ? SL_E_BAD_NAME
		  : rc == -EBUSY ? SL_E_BUSY /* its deletion is completing */
		  : SL_E_JOURNAL_DAMAGED;
	if (rte_ring_enqueue_elem(d->workers[h->src_worker]->in, h, sizeof(*h)) != 0) {
		sl_ctr_add(&d->main_ctr.drop[SL_DROP_ring_full], 1);
		rte_pktmbuf_free(h->m);
	}
}

static int
start(void)
{
	unsigned i;
	int rc;

	dp.n_workers = dp.conf.n_workers;
	dp.n_ports = dp.conf.n_ports;
	dp.tsc_hz = rte_get_tsc_hz();
	/* A new incarnation each start: clients learn from WELCOME that the
	 * sequences of non-durable topics started again. */
	if (getrandom(&dp.incarnation, sizeof(dp.incarnation), 0) != sizeof(dp.incarnation))
		dp.incarnation = rte_rdtsc() ^ ((uint64_t)getpid() << 32);
	if (dp.incarnation == 0)
		dp.incarnation = 1;
	rc = create_pools();
	if (rc < 0)
		return rc;
	rc = sl_producer_main_init(&dp); /* before topics: their journals seed it */
	if (rc < 0)
		return rc;
	rc = create_topics();
	if (rc < 0)
		return rc;
	for (i = 0; i < dp.n_workers; i++) {
		if (!rte_lcore_is_enabled(dp.conf.workers[i].lcore))
			return -EINVAL;
		rc = sl_worker_init(&dp, i);
		if (rc < 0)
			return rc;
	}
	/* Durable groups, with their owners' rings there to take them. */
	rc = dp.groups ? 0 : sl_dp_groups_init(&dp);
	rc = rc < 0 ? rc : sl_dp_groups_reload(&dp, sl_dp_group_upsert);
	if (rc < 0)
		SL_LOG(WARNING, "durable consumer groups not made again: %s\n", strerror(-rc));
	else if (rc > 0)
		printf("sluice-dataplane: %d durable consumer group(s) made again from their "
		       "saved settings\n", rc);
	for (i = 0; i < dp.n_ports; i++) {
		rc = sl_port_init(&dp, (uint16_t)i);
		if (rc < 0)
			return rc;
	}
	sl_vip_init(&dp);
	rc = sl_telemetry_init(&dp);
	if (rc < 0)
		SL_LOG(WARNING, "telemetry commands not registered\n");
	rc = sl_psub_init(&dp);
	if (rc < 0)
		return rc;
	rc = sl_shm_init(&dp);
	if (rc < 0) {
		fprintf(stderr, "sluice-dataplane: shared-memory transport: %s (set shm = no to "
			"run without it)\n", strerror(-rc));
		return rc;
	}
	rc = sl_dp_ctl_init(&dp);
	if (rc < 0)
		return rc;
	rc = sl_repl_init(&dp); /* a pair member (ha.peer), after the CnC region */
	if (rc < 0)
		return rc;
	return sl_dp_ha_init(&dp); /* its role and the primary's side, after the link */
}

static void
run_main_lcore(void)
{
	static const sl_duty_fn duties[] = { sl_dp_slow_path_poll, sl_dp_ctl_poll, sl_shm_poll,
					     sl_dp_journals_prepare, sl_worker_auth_log_poll,
					     sl_dp_groups_save, sl_vip_poll, sl_repl_main_poll,
					     sl_dp_ha_poll };
	unsigned i;

	sl_dp_slow_path_on(&dp, SL_HO_RESOLVE, slow_resolve);
	sl_dp_slow_path_on(&dp, SL_HO_PSUB, sl_psub_handle);
	sl_dp_slow_path_on(&dp, SL_HO_PUNSUB, sl_psub_handle);
	sl_dp_slow_path_on(&dp, SL_HO_SESSION_END, sl_psub_handle);
	sl_dp_slow_path_on(&dp, SL_HO_SHM_DETACHED, sl_shm_slow_detached);
	sl_dp_slow_path_on(&dp, SL_HO_PRODUCER, sl_producer_slow);
	sl_dp_slow_path_on(&dp, SL_HO_AUTHZ_SWEPT, sl_dp_ctl_swept);
	sl_dp_slow_path_on(&dp, SL_HO_GROUP_GONE, sl_dp_group_gone);
	for (i = 0; i < dp.n_workers; i++)
		rte_eal_remote_launch(sl_worker_main, dp.workers[i], dp.workers[i]->lcore);
	sl_dp_main_loop(&dp, duties, RTE_DIM(duties));
	rte_eal_mp_wait_lcore();
}

static void
print_banner(void)
{
	char ip[32];
	unsigned i;

	for (i = 0; i < dp.n_ports; i++) {
		const uint8_t *m = dp.ports[i].mac;
		const uint8_t *a = (const uint8_t *)&dp.ports[i].ip;

		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		printf("sluice-dataplane: port%u ethdev %u mac %02x:%02x:%02x:%02x:%02x:%02x "
		       "listening on %s:%u, fan-out %s\n", i, dp.ports[i].port_id, m[0], m[1], m[2],
		       m[3], m[4], m[5], ip, dp.conf.ports[i].udp_port,
		       dp.ports[i].multiseg ? "zero-copy (chained mbufs)" : "copying (no multi-seg tx)");
	}
	for (i = 0; i < dp.n_workers; i++)
		printf("sluice-dataplane: worker%u on lcore %u polls port%u queue %u (idle %s)\n", i,
		       dp.workers[i]->lcore, dp.workers[i]->port_idx, dp.workers[i]->queue,
		       dp.conf.idle == SL_IDLE_BUSY ? "busy" : "backoff");
	printf("sluice-dataplane: ready (name %s)\n", dp.conf.name);
	fflush(stdout);
}

static void
stop(void)
{
	unsigned i;

	sl_telemetry_stop(); /* no command may read what is freed below */
	for (i = 0; i < dp.n_ports; i++)
		if (dp.ports[i].n_txq)
			sl_port_fini(&dp, (uint16_t)i);
	sl_shm_fini(&dp); /* workers have stopped: nobody touches the rings */
	for (i = 0; i < dp.n_workers; i++)
		sl_worker_fini(dp.workers[i]);
	if (dp.slow) {
		struct sl_handoff h;

		while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0)
			rte_pktmbuf_free(h.m);
		rte_ring_free(dp.slow);
	}
	sl_dp_ha_fini(&dp); /* before the link: it frees what it hung there */
	sl_repl_fini(&dp);
	sl_dp_ctl_fini(&dp);
	sl_psub_fini(&dp);
	sl_dp_journals_close(&dp);
	sl_producer_main_fini(&dp);
	sl_route_fini(&dp.route);
	rte_mempool_free(dp.clone_pool);
	rte_mempool_free(dp.hdr_pool);
	rte_mempool_free(dp.pkt_pool);
}

/* EAL may reorder its argv: free the strings from a copy of the pointers. */
static char *eal_strings[MAX_EAL_ARGS];

static void
free_eal_args(void)
{
	unsigned i;

	for (i = 0; i < MAX_EAL_ARGS; i++)
		free(eal_strings[i]);
}

/* EAL's runtime directory (/var/run/dpdk/NAME): its memory maps' metadata,
 * about 2 MiB in tmpfs. EAL leaves it behind; a primary that is done with it
 * removes it, so instances that come and go do not fill /run. */
static char runtime_dir[PATH_MAX];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
runtime_dir_remove(void)
{
	if (runtime_dir[0] && strstr(runtime_dir, "/dpdk/"))
		nftw(runtime_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int
main(int argc, char **argv)
{
	char *eal_argv[MAX_EAL_ARGS], **extra;
	int eal_argc, extra_argc, rc;

	if (parse_args(argc, argv, &extra_argc, &extra) < 0)
		return 2;
	eal_argc = build_eal_args(eal_argv, extra_argc, extra, argv[0]);
	if (eal_argc < 0) {
		fprintf(stderr, "sluice-dataplane: more than %d EAL arguments (eal_args, ports "
			"and extra arguments together)\n", MAX_EAL_ARGS - 1);
		return 2;
	}
	memcpy(eal_strings, eal_argv, sizeof(eal_argv[0]) * (size_t)eal_argc);
	atexit(free_eal_args);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = rte_eal_init(eal_argc, eal_argv);
	if (rc < 0) {
		fprintf(stderr, "sluice-dataplane: EAL init failed: %s (hugepages reserved? run "
			"scripts/setup.sh, or set no_huge = yes)\n", rte_strerror(rte_errno));
		return 1;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	rc = start();
	if (rc < 0) {
		fprintf(stderr, "sluice-dataplane: start-up failed: %s\n", strerror(-rc));
		stop();
		rte_eal_cleanup();
		runtime_dir_remove();
		return 1;
	}
	print_banner();
	run_main_lcore();
	printf("sluice-dataplane: stopping\n");
	stop();
	rte_eal_cleanup();
	runtime_dir_remove();
	return 0;
}
