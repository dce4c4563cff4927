/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared-memory clients, main-lcore half (common/shm.h for the layout;
 * shm_worker.c polls and writes the rings).
 *
 * Main lcore: a UNIX socket where local clients attach. Each gets a sealed
 * memory file of its own (memfd on huge pages when the host has them),
 * passed by SCM_RIGHTS; the socket stays open, so the client's exit (kill -9
 * included) is seen at once as a hang-up. A slot is reclaimed only after its
 * home worker let go of it and every worker has finished the loop iteration
 * it was in (a grace period), so no worker ever writes to an unmapped ring.
 *
 * Why memfd and not a file from libhugetlbfs: a hugetlbfs file can be
 * truncated by whoever holds it open, and a client that shrank its file
 * would fault the dataplane (SIGBUS) at its next access. A memfd is sealed
 * against shrinking and growing before it is passed, so the size the broker
 * mapped is the size that stays. libhugetlbfs still tells the page size.
 * One thing the seals do not stop: a client may punch a hole in its own
 * file. On 4 KiB pages the broker then reads zeros (nothing committed); on
 * huge pages, if the pool has no free page left to fault back in, the
 * broker's next access faults (SIGBUS), which on_sigbus below turns into
 * cutting that client off.
 *
 * Workers (shm_worker.c) read a client's tx ring in batches handed back to
 * the worker loop as rte_eth_rx_burst hands back packets, each with the
 * client's transport-tagged peer, and write replies and deliveries into
 * its rx ring of the writing worker (one per worker: one producer each).
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hugetlbfs.h>

#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include <common/cnc.h>
#include <common/fdpass.h>
#include <common/proto.h>
#include <common/log.h>
#include <common/clock.h>

#include "dataplane.h"
#include "large.h"
#include "lcore_main.h"
#include "shm_internal.h"
#include "shm_main.h"

#define ATTACH_TIMEOUT_NS 1000000000ull /* to send the attach request */
#define GRACE_POLLS 2			/* worker loop iterations before unmap */
#define REFUSED_LINGER_NS 100000000ull	/* ... for this long */


static uint32_t
log2u(uint32_t v)
{
	return 31u - (uint32_t)__builtin_clz(v);
}

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* --- a client region that faults ------------------------------------------------ */

/*
 * A client may punch a hole in its own region (the seals stop shrinking and
 * growing, not that). On huge pages, with none free, the next access of a
 * worker there faults with SIGBUS. Then the region is replaced in place by
 * anonymous memory (reads zeros: nothing committed), the client is marked
 * for cutting off, and the access is retried and goes on. Faults anywhere
 * else keep the default action.
 */
static struct sl_shm *fault_shm;

static void
on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	struct sl_shm *s = __atomic_load_n(&fault_shm, __ATOMIC_ACQUIRE);
	uint8_t *a = si->si_addr;
	uint32_t i;

	(void)uctx;
	for (i = 0; s && i < s->max_clients; i++) {
		struct sl_shm_client *c = &s->c[i];
		uint8_t *b = __atomic_load_n(&c->base, __ATOMIC_ACQUIRE);

		if (b == NULL || a < b || a >= b + c->size)
			continue;
		if (mmap(b, c->size, PROT_READ | PROT_WRITE,
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			break;
		__atomic_store_n(&c->kick, SL_SHM_CUT_CORRUPT, __ATOMIC_RELEASE);
		__atomic_fetch_add(&c->faults, 1, __ATOMIC_RELAXED);
		return;
	}
	signal(sig, SIG_DFL); /* not ours: fault as it would have */
	raise(sig);
}

static void
fault_handler_install(struct sl_shm *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	__atomic_store_n(&fault_shm, s, __ATOMIC_RELEASE);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		SL_LOG(WARNING, "shared memory: no SIGBUS handler: %s\n", strerror(errno));
}

/* --- main lcore: attach ----------------------------------------------------------- */

static void
bells_close(struct sl_shm *s)
{
	for (uint32_t i = 0; i < SL_SHM_MAX_RX; i++)
		if (s->worker_bell[i] >= 0) {
			close(s->worker_bell[i]);
			s->worker_bell[i] = -1;
		}
}

int
sl_shm_init(struct sl_dp *dp)
{
	struct sl_shm *s;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[96];
	uint64_t ring = (uint64_t)dp->conf.shm_ring_kb << 10, hdr, size;
	gid_t gid = (gid_t)-1;
	long hp;
	int fd, rc;

	if (!dp->conf.shm)
		return 0;
	s = rte_zmalloc("sl_shm", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < SL_SHM_MAX_RX; i++)
		s->worker_bell[i] = -1;
	s->max_clients = dp->conf.shm_max_clients;
	s->c = rte_zmalloc("sl_shm_clients", sizeof(*s->c) * s->max_clients, RTE_CACHE_LINE_SIZE);
	/* The listening socket, then every client's. */
	s->pfd = rte_zmalloc("sl_shm_pfd", sizeof(*s->pfd) * (s->max_clients + 1), 0);
	s->pfd_slot = rte_zmalloc("sl_shm_pfd", sizeof(*s->pfd_slot) * (s->max_clients + 1), 0);
	if (s->c == NULL || s->pfd == NULL || s->pfd_slot == NULL)
		goto nomem;
	for (uint32_t i = 0; i < s->max_clients; i++) {
		s->c[i].slot = i;
		s->c[i].sock = -1;
		s->c[i].bell_fd = -1;
	}
	/* Each worker's doorbell: a client that commits to the tx ring of a
	 * worker about to sleep wakes it through this (14.8). */
	for (uint32_t i = 0; i < dp->n_workers && i < SL_SHM_MAX_RX; i++) {
		s->worker_bell[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (s->worker_bell[i] < 0)
			goto fail;
	}
	hp = gethugepagesize(); /* libhugetlbfs: the default huge page size, or -1 */
	s->page_size = hp > 0 && !dp->conf.no_huge && dp->conf.shm_huge ? (uint32_t)hp : 0;
	hdr = align_up(sizeof(struct sl_shm_region), 4096);
	size = hdr + ring * (1 + dp->n_workers);
	s->region_size = align_up(size, s->page_size ? s->page_size : 4096);

	rc = sl_cnc_run_dir(dp->conf.name, dir, sizeof(dir));
	if (rc < 0) {
		SL_LOG(ERR, "shared memory: cannot create the run directory of %s: %s\n",
			dp->conf.name, strerror(-rc));
		errno = -rc;
		goto fail;
	}
	if (dp->conf.shm_group[0]) {
		struct group *g = getgrnam(dp->conf.shm_group);

		if (g == NULL || chown(dir, (uid_t)-1, g->gr_gid) < 0) {
			SL_LOG(ERR, "shared memory: group %s for %s: %s\n",
				dp->conf.shm_group, dir, g ? strerror(errno) : "no such group");
			goto fail;
		}
		gid = g->gr_gid;
	}
	snprintf(s->path, sizeof(s->path), "%s/%s", dir, SL_SHM_SOCKET);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	unlink(s->path); /* left by a dataplane that was killed */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(s->path, 0660) < 0 ||
	    listen(fd, 64) < 0) {
		SL_LOG(ERR, "shared memory: socket %s: %s\n", s->path, strerror(errno));
		close(fd);
		goto fail;
	}
	if (gid != (gid_t)-1 && chown(s->path, (uid_t)-1, gid) < 0)
		SL_LOG(WARNING, "shared memory: chown %s failed\n", s->path);
	s->listen_fd = fd;
	dp->shm = s;
	fault_handler_install(s);
	SL_LOG(INFO, "shared memory: %s, up to %u clients, rings %u KiB, %u KiB each "
		"on %s pages\n", s->path, s->max_clients, dp->conf.shm_ring_kb,
		(unsigned)(s->region_size >> 10), s->page_size ? "huge" : "4 KiB");
	return 0;
nomem:
	errno = ENOMEM;
fail:
	rc = -(errno ? errno : EIO);
	bells_close(s);
	rte_free(s->pfd_slot);
	rte_free(s->pfd);
	rte_free(s->c);
	rte_free(s);
	return rc;
}

/* Is @fd an eventfd? A doorbell the workers write 8 bytes to must be one,
 * never a file or a socket the client chose. */
static int
is_eventfd(int fd)
{
	char path[32], link[32];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[eventfd]") == 0;
}

/* A sealed memory file of @size bytes, on huge pages when possible. */
static int
region_create(struct sl_shm *s, uint64_t size, uint8_t *huge, void **map)
{
	const unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	int attempt, fd;

	for (attempt = s->page_size ? 0 : 1; attempt < 2; attempt++) {
		fd = memfd_create("sluice-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING |
						(attempt == 0 ? MFD_HUGETLB : 0));
		if (fd < 0)
			continue;
		if (ftruncate(fd, (off_t)size) == 0) {
			/* MAP_POPULATE: a shortage of huge pages shows here, not as
			 * a fault later on a worker. */
			*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
				    fd, 0);
			if (*map != MAP_FAILED && fcntl(fd, F_ADD_SEALS, seals) == 0) {
				*huge = attempt == 0;
				if (attempt == 1 && s->page_size && s->huge_fallbacks++ == 0)
					SL_LOG(WARNING, "shared memory: no free huge "
						"pages; client rings on 4 KiB pages\n");
				return fd;
			}
			if (*map != MAP_FAILED)
				munmap(*map, size);
		}
		close(fd);
	}
	return -1;
}

static void
region_init(const struct sl_dp *dp, struct sl_shm_client *c, struct sl_shm_region *r)
{
	uint64_t ring = (uint64_t)dp->conf.shm_ring_kb << 10;
	uint64_t off = align_up(sizeof(*r), 4096);
	uint32_t i;

	memset(r, 0, sizeof(*r));
	r->version = SL_SHM_VERSION;
	r->n_rx = dp->n_workers;
	r->size = c->size;
	r->tx_size = r->rx_size = (uint32_t)ring;
	r->tx_off = off;
	for (i = 0; i < dp->n_workers; i++)
		r->rx_off[i] = off + ring * (i + 1);
	/* Large messages whole, where a ring holds two of them: a PUBLISH up
	 * to the largest message a session may reassemble, a DELIVER up to
	 * the largest a topic takes. */
	r->max_frame = (uint32_t)RTE_MIN(ring / 2, sizeof(struct sl_publish) +
						       (uint64_t)sl_large_welcome_max(dp));
	r->max_deliver = (uint32_t)RTE_MIN(ring / 2, sizeof(struct sl_deliver) +
							 (uint64_t)SL_MAX_MESSAGE);
	if (r->max_frame < SL_MAX_DATAGRAM)
		r->max_frame = SL_MAX_DATAGRAM;
	if (r->max_deliver < SL_MAX_DATAGRAM)
		r->max_deliver = SL_MAX_DATAGRAM;
	r->slot = c->slot;
	r->tsc_hz = dp->tsc_hz;
	r->page_size = c->huge ? dp->shm->page_size : 4096;
	/* The broker's own copy of the geometry. */
	c->tx_off = r->tx_off;
	memcpy(c->rx_off, r->rx_off, sizeof(c->rx_off));
	c->tx_size = c->rx_size = (uint32_t)ring;
	c->max_frame = r->max_frame;
	c->max_deliver = r->max_deliver;
	c->tx_shift = c->rx_shift = log2u((uint32_t)ring);
	c->tx_pos = 0;
	memset(c->rx, 0, sizeof(c->rx));
	__atomic_store_n(&r->magic, SL_SHM_MAGIC, __ATOMIC_RELEASE);
}

static void
attach_reply(int sock, int32_t status, uint64_t size, int fd, int bell)
{
	/* version: the layout this dataplane speaks, so that a client of
	 * another one can say so (PROTOCOL.md 14.1). */
	struct sl_shm_attach_rep rep = { .magic = SL_SHM_MAGIC, .status = status,
					 .version = SL_SHM_VERSION, .size = size };
	int fds[2] = { fd, bell };

	if (sl_fdpass_send(sock, &rep, sizeof(rep), fds, fd < 0 ? 0 : bell >= 0 ? 2 : 1,
			   MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		SL_LOG(DEBUG, "shared memory: attach reply: %s\n", strerror(errno));
}

static void
slot_close(struct sl_dp *dp, struct sl_shm_client *c)
{
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
	/* After the grace period, as the mapping: no worker rings it now. */
	if (c->bell_fd >= 0)
		close(c->bell_fd);
	c->bell_fd = -1;
	if (c->base) {
		uint8_t *b = c->base;

		/* Gone from the fault handler's view before it is unmapped. */
		__atomic_store_n(&c->base, NULL, __ATOMIC_RELEASE);
		munmap(b, c->size);
		sl_ctr_add(&dp->main_ctr.ctr[SL_CTR_shm_detached], 1);
	}
	c->gen++;
	__atomic_store_n(&c->state, SL_SHM_FREE, __ATOMIC_RELEASE);
}

/* Least loaded worker: clients each worker is home to. */
static uint16_t
pick_home(const struct sl_dp *dp)
{
	uint32_t load[SL_CONF_MAX_WORKERS] = { 0 }, i, best = 0;

	for (i = 0; i < dp->shm->max_clients; i++)
		if (dp->shm->c[i].state == SL_SHM_LIVE || dp->shm->c[i].state == SL_SHM_CLOSING)
			load[dp->shm->c[i].home]++;
	for (i = 1; i < dp->n_workers; i++)
		if (load[i] < load[best])
			best = i;
	return (uint16_t)best;
}

/* A client of another layout version: said in the log, at most once a
 * second (a counter, shm_bad_attach, counts every refusal). */
static void
version_refused(int sock, uint32_t version)
{
	static uint64_t last_ns;
	struct ucred cred = { .pid = 0 };
	socklen_t cl = sizeof(cred);
	uint64_t now = sl_mono_ns();

	if (last_ns != 0 && now - last_ns < 1000000000ull)
		return;
	last_ns = now;
	(void)getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
	SL_LOG(WARNING, "shared memory: refused client pid %d: it speaks shared-memory layout "
	       "version %u, this dataplane version %u (use the libsluice of this release)\n",
	       (int)cred.pid, version, SL_SHM_VERSION);
}

/* The attach request and, with SL_SHM_ATTACH_F_DOORBELL, the client's
 * doorbell (kept in c->bell_fd). A descriptor sent without the flag, or
 * anything but one eventfd, is closed. */
static ssize_t
recv_req(struct sl_shm_client *c, struct sl_shm_attach_req *req)
{
	int fds[SL_FDPASS_MAX], nfd, i;
	ssize_t n;

	n = sl_fdpass_recv(c->sock, req, sizeof(*req), fds, &nfd, MSG_DONTWAIT);
	if (n < 0)
		return n;
	if (n == (ssize_t)sizeof(*req) && nfd == 1 && (req->flags & SL_SHM_ATTACH_F_DOORBELL) &&
	    is_eventfd(fds[0])) {
		c->bell_fd = fds[0];
		return n;
	}
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	return n;
}

static void
attach(struct sl_dp *dp, struct sl_shm_client *c)
{
	struct sl_shm *s = dp->shm;
	struct sl_shm_attach_req req;
	struct sl_handoff h;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	void *map = NULL;
	ssize_t n;
	int fd;

	n = recv_req(c, &req);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(req) || req.magic != SL_SHM_MAGIC || req.version != SL_SHM_VERSION) {
		if (n > 0)
			attach_reply(c->sock, -EPROTO, 0, -1, -1);
		if (n == (ssize_t)sizeof(req) && req.magic == SL_SHM_MAGIC)
			version_refused(c->sock, req.version);
		sl_ctr_add(&dp->main_ctr.drop[SL_DROP_shm_bad_attach], 1);
		slot_close(dp, c);
		return;
	}
	if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
		c->pid = cred.pid;
		c->uid = cred.uid;
	}
	req.name[sizeof(req.name) - 1] = '\0';
	snprintf(c->name, sizeof(c->name), "%s", req.name);
	c->size = s->region_size;
	fd = region_create(s, c->size, &c->huge, &map);
	if (fd < 0) {
		SL_LOG(WARNING, "shared memory: no memory for client pid %d: %s\n",
			(int)c->pid, strerror(errno));
		attach_reply(c->sock, -ENOMEM, 0, -1, -1);
		slot_close(dp, c);
		return;
	}
	c->faults = 0;
	c->bells = 0;
	region_init(dp, c, map);
	__atomic_store_n(&c->base, (uint8_t *)map, __ATOMIC_RELEASE);
	c->home = pick_home(dp);
	c->kick = 0;
	c->dropped = 0;
	c->detach_pending = 0;
	c->drain = 0;
	c->attach_tsc = rte_rdtsc();
	__atomic_store_n(&c->state, SL_SHM_LIVE, __ATOMIC_RELEASE);
	h = (struct sl_handoff){ .kind = SL_HO_SHM_ATTACH, .topic = c->slot };
	if (sl_dp_send_to_worker(dp, c->home, &h) < 0) {
		attach_reply(c->sock, -EBUSY, 0, -1, -1);
		close(fd);
		sl_shm_detached(dp, c->slot, c->gen);
		return;
	}
	attach_reply(c->sock, 0, c->size, fd,
		     c->bell_fd >= 0 ? dp->shm->worker_bell[c->home] : -1);
	close(fd); /* the client holds it now; the mapping keeps the memory */
	sl_ctr_add(&dp->main_ctr.ctr[SL_CTR_shm_attached], 1);
	SL_LOG(INFO, "shared memory: client %u '%s' (pid %d uid %d) attached to "
		"worker %u, %lu KiB on %s pages\n", c->slot, c->name, (int)c->pid, (int)c->uid,
		c->home, (unsigned long)(c->size >> 10), c->huge ? "huge" : "4 KiB");
}

/*
 * A refused connection is closed a little later, its request read first:
 * closing a UNIX socket with unread data resets the connection, and the
 * client would see ECONNRESET instead of the -EBUSY it was sent.
 */
static void
refused_close(struct sl_shm *s, uint32_t k)
{
	char junk[64];

	while (recv(s->refused[k], junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	close(s->refused[k]);
	s->refused[k] = s->refused[--s->n_refused];
	s->refused_ns[k] = s->refused_ns[s->n_refused];
}

static void
refuse_later(struct sl_shm *s, int fd)
{
	if (s->n_refused == REFUSED_MAX)
		refused_close(s, 0);
	s->refused[s->n_refused] = fd;
	s->refused_ns[s->n_refused++] = sl_mono_ns();
}

static void
refused_expire(struct sl_shm *s, uint64_t now)
{
	uint32_t k = 0;

	while (k < s->n_refused)
		if (now - s->refused_ns[k] > REFUSED_LINGER_NS)
			refused_close(s, k);
		else
			k++;
}

static void
accept_new(struct sl_dp *dp)
{
	struct sl_shm *s = dp->shm;
	uint32_t i;
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < s->max_clients; i++)
			if (s->c[i].state == SL_SHM_FREE)
				break;
		if (i == s->max_clients) {
			attach_reply(fd, -EBUSY, 0, -1, -1);
			refuse_later(s, fd);
			sl_ctr_add(&dp->main_ctr.drop[SL_DROP_shm_no_slot], 1);
			continue;
		}
		s->c[i].sock = fd;
		s->c[i].t0_ns = sl_mono_ns();
		s->c[i].state = SL_SHM_PENDING;
	}
}

/* The client hung up (exit, kill -9, close): its home worker lets go first. */
static void
hang_up(struct sl_dp *dp, struct sl_shm_client *c)
{
	struct sl_handoff h = { .kind = SL_HO_SHM_DETACH, .topic = c->slot };

	close(c->sock);
	c->sock = -1;
	__atomic_store_n(&c->state, SL_SHM_CLOSING, __ATOMIC_RELEASE);
	if (sl_dp_send_to_worker(dp, c->home, &h) < 0)
		c->state = SL_SHM_LIVE; /* retried at the next poll: the socket is gone */
}

static int
grace_over(const struct sl_dp *dp, const struct sl_shm_client *c)
{
	uint32_t i;

	for (i = 0; i < dp->n_workers; i++)
		if (sl_ctr_read(&dp->workers[i]->ctr.ctr[SL_CTR_polls]) < c->grace[i] + GRACE_POLLS)
			return 0;
	return 1;
}

void
sl_shm_detached(struct sl_dp *dp, uint32_t slot, uint32_t gen)
{
	struct sl_shm_client *c;
	uint32_t i;

	if (dp->shm == NULL || slot >= dp->shm->max_clients)
		return;
	c = &dp->shm->c[slot];
	if (c->gen != gen || (c->state != SL_SHM_LIVE && c->state != SL_SHM_CLOSING))
		return; /* already reclaimed */
	/* Seq-cst: the store is visible before the poll counts are read, so
	 * an iteration that began after them sees the client dead. */
	__atomic_store_n(&c->state, SL_SHM_DEAD, __ATOMIC_SEQ_CST);
	for (i = 0; i < dp->n_workers; i++)
		c->grace[i] = sl_ctr_read(&dp->workers[i]->ctr.ctr[SL_CTR_polls]);
}

void
sl_shm_slow_detached(struct sl_dp *dp, struct sl_handoff *h)
{
	sl_shm_detached(dp, h->topic, h->session);
}

unsigned
sl_shm_poll(struct sl_dp *dp)
{
	struct sl_shm *s = dp->shm;
	uint64_t now;
	unsigned work = 0, n = 0, i;
	char junk[64];

	if (s == NULL)
		return 0;
	/* One poll(2) for the listening socket and every client's. */
	s->pfd[n] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	s->pfd_slot[n++] = UINT32_MAX;
	now = sl_mono_ns();
	if (s->n_refused)
		refused_expire(s, now);
	for (i = 0; i < s->max_clients; i++) {
		struct sl_shm_client *c = &s->c[i];
		uint32_t st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);

		if (st == SL_SHM_DEAD) {
			if (grace_over(dp, c)) {
				slot_close(dp, c);
				work++;
			}
			continue;
		}
		if (st == SL_SHM_PENDING && now - c->t0_ns > ATTACH_TIMEOUT_NS) {
			sl_ctr_add(&dp->main_ctr.drop[SL_DROP_shm_bad_attach], 1);
			slot_close(dp, c);
			continue;
		}
		if (st == SL_SHM_LIVE && c->sock < 0) {
			hang_up(dp, c); /* an earlier try met a full ring */
			continue;
		}
		if ((st == SL_SHM_PENDING || st == SL_SHM_LIVE) && c->sock >= 0) {
			s->pfd[n] = (struct pollfd){ .fd = c->sock, .events = POLLIN | POLLRDHUP };
			s->pfd_slot[n++] = i;
		}
	}
	if (poll(s->pfd, n, 0) <= 0)
		return work;
	for (i = 0; i < n; i++) {
		struct sl_shm_client *c;

		if (s->pfd[i].revents == 0)
			continue;
		work++;
		if (s->pfd_slot[i] == UINT32_MAX) {
			accept_new(dp);
			continue;
		}
		c = &s->c[s->pfd_slot[i]];
		if (c->state == SL_SHM_PENDING) {
			attach(dp, c);
			continue;
		}
		/* A live client says nothing more on the socket: anything but
		 * a hang-up is read and ignored. */
		if ((s->pfd[i].revents & (POLLHUP | POLLRDHUP | POLLERR)) ||
		    recv(c->sock, junk, sizeof(junk), MSG_DONTWAIT) == 0)
			hang_up(dp, c);
	}
	return work;
}

void
sl_shm_fini(struct sl_dp *dp)
{
	struct sl_shm *s = dp->shm;
	uint32_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->max_clients; i++) {
		struct sl_shm_client *c = &s->c[i];

		if (c->base)
			__atomic_store_n(&((struct sl_shm_region *)c->base)->notice,
					 SL_SHM_CUT_SHUTDOWN, __ATOMIC_RELEASE);
		slot_close(dp, c);
	}
	while (s->n_refused)
		refused_close(s, 0);
	bells_close(s);
	__atomic_store_n(&fault_shm, NULL, __ATOMIC_RELEASE);
	signal(SIGBUS, SIG_DFL);
	close(s->listen_fd);
	unlink(s->path);
	rte_free(s->pfd_slot);
	rte_free(s->pfd);
	rte_free(s->c);
	rte_free(s);
	dp->shm = NULL;
}

static const char *const state_names[] = { "free", "pending", "live", "closing", "dead" };

int
sl_shm_telemetry(const struct sl_dp *dp, struct rte_tel_data *d)
{
	const struct sl_shm *s = dp->shm;
	uint32_t i, st, n = 0;

	if (s == NULL)
		return 0;
	for (i = 0; i < s->max_clients && n < RTE_TEL_MAX_DICT_ENTRIES; i++) {
		const struct sl_shm_client *c = &s->c[i];
		struct rte_tel_data *e;
		char key[16];

		st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
		if (st != SL_SHM_LIVE && st != SL_SHM_CLOSING)
			continue;
		e = rte_tel_data_alloc();
		if (e == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(e);
		rte_tel_data_add_dict_string(e, "name", c->name);
		rte_tel_data_add_dict_string(e, "state", state_names[st]);
		rte_tel_data_add_dict_u64(e, "pid", (uint64_t)c->pid);
		rte_tel_data_add_dict_u64(e, "uid", (uint64_t)c->uid);
		rte_tel_data_add_dict_u64(e, "worker", c->home);
		rte_tel_data_add_dict_u64(e, "region_kb", c->size >> 10);
		rte_tel_data_add_dict_string(e, "pages", c->huge ? "huge" : "4k");
		rte_tel_data_add_dict_u64(e, "tx_read", __atomic_load_n(&c->tx_pos, __ATOMIC_RELAXED));
		/* Not from the region: it may be unmapped under this thread. */
		rte_tel_data_add_dict_u64(e, "dropped", __atomic_load_n(&c->dropped, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(e, "faults", __atomic_load_n(&c->faults, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_string(e, "doorbell", c->bell_fd >= 0 ? "yes" : "no");
		rte_tel_data_add_dict_u64(e, "doorbells", __atomic_load_n(&c->bells, __ATOMIC_RELAXED));
		snprintf(key, sizeof(key), "c%u", i);
		rte_tel_data_add_dict_container(d, key, e, 0);
		n++;
	}
	return 0;
}

