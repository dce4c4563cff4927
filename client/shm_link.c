/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: attach to a local dataplane and move frames through shared rings. */

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <common/fdpass.h>
#include <common/proto.h>
#include <common/shm.h>
#include <sluice/sluice.h>

#include "shm_link.h"

#define SPIN_NS 20000u	/* sl_shm_link_wait spins this long before it sleeps */
#define SLEEP_NS 20000u	/* first sleep; doubles up to SLEEP_MAX_NS */
#define SLEEP_MAX_NS 1000000u

static int
is_pow2(uint32_t v)
{
	return v >= 64 && (v & (v - 1)) == 0;
}

/* The region must describe itself consistently before it is used. */
static int
region_check(const struct sl_shm_region *r, uint64_t size)
{
	uint32_t i;

	if (r->magic != SL_SHM_MAGIC || r->version != SL_SHM_VERSION || r->size != size ||
	    r->n_rx == 0 || r->n_rx > SL_SHM_MAX_RX || !is_pow2(r->tx_size) ||
	    !is_pow2(r->rx_size) || r->tx_off < sizeof(*r) || r->tx_off + r->tx_size > size)
		return -EPROTO;
	for (i = 0; i < r->n_rx; i++)
		if (r->rx_off[i] < sizeof(*r) || r->rx_off[i] + r->rx_size > size)
			return -EPROTO;
	return 0;
}

/* The reply and, with status 0, the region's descriptor. */
static int
recv_reply(int sock, struct sl_shm_attach_rep *rep, int *fd, int *bell, uint64_t timeout_ns)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int fds[SL_FDPASS_MAX], nfd, rc;
	ssize_t n;

	rc = poll(&p, 1, (int)(timeout_ns / 1000000u));
	if (rc <= 0)
		return rc < 0 ? -errno : -ETIMEDOUT;
	n = sl_fdpass_recv(sock, rep, sizeof(*rep), fds, &nfd, 0);
	if (n < 0)
		return -errno;
	/* The region, then (14.8) the home worker's doorbell. */
	*fd = nfd > 0 ? fds[0] : -1;
	*bell = nfd > 1 ? fds[1] : -1;
	if (n != (ssize_t)sizeof(*rep) || rep->magic != SL_SHM_MAGIC || rep->status != 0 ||
	    *fd < 0) {
		if (*fd >= 0)
			close(*fd);
		if (*bell >= 0)
			close(*bell);
		*fd = *bell = -1;
	}
	if (n != (ssize_t)sizeof(*rep) || rep->magic != SL_SHM_MAGIC)
		return -EPROTO;
	if (rep->status != 0 || *fd < 0) {
		/* A dataplane of another layout says which it speaks. */
		if (rep->status == -EPROTO && rep->version != 0 && rep->version != SL_SHM_VERSION)
			return -EPROTONOSUPPORT;
		return rep->status ? rep->status : -EPROTO;
	}
	return 0;
}

int
sl_shm_link_init(struct sl_shm_link *l, void *p, uint64_t size)
{
	struct sl_shm_region *r = p;
	uint32_t i;
	int rc = region_check(r, size);

	if (rc < 0)
		return rc;
	memset(l, 0, sizeof(*l));
	l->bell_fd = l->broker_bell = -1;
	l->r = r;
	l->map_size = size;
	l->tx = (uint8_t *)p + r->tx_off;
	l->tx_size = r->tx_size;
	l->tx_shift = 31u - (uint32_t)__builtin_clz(r->tx_size);
	l->n_rx = r->n_rx;
	l->rx_size = r->rx_size;
	l->rx_shift = 31u - (uint32_t)__builtin_clz(r->rx_size);
	for (i = 0; i < l->n_rx; i++)
		l->rx[i] = (uint8_t *)p + r->rx_off[i];
	return 0;
}

static int
map_region(struct sl_shm_link *l, int fd, uint64_t size)
{
	struct stat st;
	void *p;
	int rc;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size)
		return -EPROTO;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	rc = sl_shm_link_init(l, p, size);
	if (rc < 0)
		munmap(p, size);
	return rc;
}

int
sl_shm_link_path(const char *target, char *out, size_t len)
{
	int n = strchr(target, '/') ? snprintf(out, len, "%s", target)
				    : snprintf(out, len, "%s/%s/%s", SL_RUN_DIR, target,
					       SL_SHM_SOCKET);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The request, with descriptor @bell (when >= 0) as SCM_RIGHTS. */
static ssize_t
send_req(int sock, const struct sl_shm_attach_req *req, int bell)
{
	return sl_fdpass_send(sock, req, sizeof(*req), &bell, bell >= 0 ? 1 : 0, MSG_NOSIGNAL);
}

int
sl_shm_link_attach(struct sl_shm_link *l, const char *target, const char *name,
		   uint64_t timeout_ns)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sl_shm_attach_req req;
	struct sl_shm_attach_rep rep;
	int sock, fd = -1, bell = -1, mine = -1, rc;

	rc = sl_shm_link_path(target, sa.sun_path, sizeof(sa.sun_path));
	if (rc < 0)
		return rc;
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto fail;
	}
	memset(&req, 0, sizeof(req));
	req.magic = SL_SHM_MAGIC;
	req.version = SL_SHM_VERSION;
	snprintf(req.name, sizeof(req.name), "%s", name ? name : "");
	/* Our doorbell goes with the request. A broker that predates
	 * doorbells ignores the flag and never receives the descriptor. */
	mine = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mine >= 0)
		req.flags = SL_SHM_ATTACH_F_DOORBELL;
	if (send_req(sock, &req, mine) != (ssize_t)sizeof(req)) {
		/* A broker with no free slot answers at once and closes: its
		 * reply may be waiting although the send failed. */
		rc = -errno;
		if (recv_reply(sock, &rep, &fd, &bell, 0) == -EBUSY)
			rc = -EBUSY;
		goto fail;
	}
	rc = recv_reply(sock, &rep, &fd, &bell, timeout_ns);
	if (rc < 0)
		goto fail;
	rc = map_region(l, fd, rep.size);
	close(fd); /* the mapping keeps the memory */
	if (rc < 0)
		goto fail;
	if (bell >= 0 && mine >= 0) {
		l->bell_fd = mine;
		l->broker_bell = bell;
	} else {
		if (bell >= 0)
			close(bell);
		if (mine >= 0)
			close(mine);
	}
	return sock;
fail:
	if (bell >= 0)
		close(bell);
	if (mine >= 0)
		close(mine);
	close(sock);
	return rc;
}

void
sl_shm_link_detach(struct sl_shm_link *l)
{
	if (l->r == NULL)
		return; /* never attached: the descriptors are not ours */
	munmap(l->r, l->map_size);
	l->r = NULL;
	if (l->bell_fd >= 0)
		close(l->bell_fd);
	if (l->broker_bell >= 0)
		close(l->broker_bell);
	l->bell_fd = l->broker_bell = -1;
}

/* --- client -> broker ------------------------------------------------------------- */

/* After a commit: wake the home worker if it said it may sleep (14.8). */
static inline void
ring_broker(struct sl_shm_link *l)
{
	uint64_t one = 1;

	if (l->broker_bell < 0)
		return;
	/* Store-load: the commit word before the flag's load; pairs with the
	 * worker's fence between setting the flag and its last poll. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&l->r->tx.waiting, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&l->r->tx.waiting, 0, __ATOMIC_ACQ_REL)) {
		(void)!write(l->broker_bell, &one, sizeof(one));
		l->bells_rung++;
	}
}

void *
sl_shm_link_claim(struct sl_shm_link *l, uint32_t len)
{
	uint32_t rec = sl_shm_rec_bytes(len), off;
	uint64_t need = sl_shm_rec_need(l->tx_pos, l->tx_size, rec);

	if (l->tx_pos + need - l->tx_cons > l->tx_size) {
		l->tx_cons = __atomic_load_n(&l->r->tx.cons, __ATOMIC_ACQUIRE);
		if (l->tx_pos + need - l->tx_cons > l->tx_size)
			return NULL;
	}
	off = sl_shm_rec_place(l->tx, l->tx_size, l->tx_shift, &l->tx_pos, rec);
	l->claim_pos = l->tx_pos;
	return l->tx + off + SL_SHM_REC_HDR;
}

void
sl_shm_link_commit(struct sl_shm_link *l, uint32_t len)
{
	/* The claim kept room for the slot this clears after the record. */
	sl_shm_rec_commit(l->tx, l->tx_size, l->tx_shift, l->claim_pos, len);
	l->tx_pos = l->claim_pos + sl_shm_rec_bytes(len);
	ring_broker(l);
}

struct sl_shm_msg *
sl_shm_link_claim_msg(struct sl_shm_link *l, uint32_t body)
{
	uint8_t *d = sl_shm_link_claim(l, SL_SHM_MSG_BODY + body);

	return d ? (struct sl_shm_msg *)(d - SL_SHM_REC_HDR) : NULL;
}

void
sl_shm_link_commit_msg(struct sl_shm_link *l, uint32_t body)
{
	uint32_t len = SL_SHM_MSG_BODY + body;

	sl_shm_rec_commit_word(l->tx, l->tx_size, l->claim_pos,
			       sl_shm_commit_msg(l->claim_pos, l->tx_shift, len));
	l->tx_pos = l->claim_pos + sl_shm_rec_bytes(len);
	ring_broker(l);
}

int
sl_shm_link_send(struct sl_shm_link *l, const void *frame, uint32_t len)
{
	void *d = sl_shm_link_claim(l, len);

	if (d == NULL)
		return -EAGAIN;
	memcpy(d, frame, len);
	sl_shm_link_commit(l, len);
	return 0;
}

/* --- broker -> client ------------------------------------------------------------- */

/* Commit word of the record at ring @i's position, 0 if not committed yet. */
static uint64_t
rx_word(const struct sl_shm_link *l, uint32_t i)
{
	uint64_t pos = l->rx_pos[i];
	uint64_t w = __atomic_load_n((const uint64_t *)(l->rx[i] + (pos & (l->rx_size - 1))),
				     __ATOMIC_ACQUIRE);

	return (uint32_t)(w >> 32) == sl_shm_lap(pos, l->rx_shift) ? w : 0;
}

int
sl_shm_link_ready(const struct sl_shm_link *l)
{
	uint32_t i;

	for (i = 0; i < l->n_rx; i++)
		if (rx_word(l, i))
			return 1;
	return 0;
}

int
sl_shm_link_recv_big(struct sl_shm_link *l, void *buf, size_t cap, void *big, size_t big_cap,
		     int *in_big, uint32_t session)
{
	uint32_t k, i, len, flen, off, kind;
	const uint8_t *rec;
	uint64_t w;

	for (k = 0; k < l->n_rx; k++) {
		i = (l->rx_next + k) % l->n_rx;
		w = rx_word(l, i);
		if (w == 0)
			continue;
		off = (uint32_t)(l->rx_pos[i] & (l->rx_size - 1));
		if ((uint32_t)w == SL_SHM_PAD) {
			l->rx_pos[i] += l->rx_size - off;
			w = rx_word(l, i);
			if (w == 0)
				continue;
			off = 0;
		}
		len = sl_shm_word_len(w);
		kind = sl_shm_word_kind(w);
		/* Not what a broker writes: stop reading. */
		if ((uint32_t)w == SL_SHM_PAD || kind > SL_SHM_K_MSG ||
		    (kind == SL_SHM_K_MSG && len < SL_SHM_MSG_BODY) ||
		    sl_shm_rec_bytes(len) > l->rx_size - off)
			return -EPROTO;
		/* A message record becomes the DELIVER frame it stands for. */
		flen = kind == SL_SHM_K_MSG ? len - SL_SHM_MSG_BODY + (uint32_t)sizeof(struct sl_deliver)
					    : len;
		*in_big = 0;
		if (flen > cap && big == NULL && flen <= big_cap)
			return 0; /* a large record waits for the big buffer */
		l->rx_pos[i] += sl_shm_rec_bytes(len);
		l->rx_next = i + 1;
		rec = l->rx[i] + off;
		if (flen <= cap || flen <= big_cap) {
			uint8_t *dst = flen <= cap ? buf : big;

			*in_big = flen > cap;
			if (kind == SL_SHM_K_MSG) {
				/* The DELIVER frame it stands for. */
				sl_shm_msg_frame_hdr(dst, SL_FT_DELIVER, (const struct sl_shm_msg *)rec,
						     len - SL_SHM_MSG_BODY, session);
				memcpy(dst + sizeof(struct sl_deliver), rec + sizeof(struct sl_shm_msg),
				       len - SL_SHM_MSG_BODY);
			} else {
				memcpy(dst, rec + SL_SHM_REC_HDR, len);
			}
		}
		/* Release: done reading the record before the broker may reuse it. */
		__atomic_store_n(&l->r->rx[i].cons, l->rx_pos[i], __ATOMIC_RELEASE);
		return flen <= cap || flen <= big_cap ? (int)flen : -EMSGSIZE;
	}
	return 0;
}

int
sl_shm_link_recv(struct sl_shm_link *l, void *buf, size_t cap)
{
	int in_big;

	return sl_shm_link_recv_big(l, buf, cap, NULL, 0, &in_big, 0);
}

int
sl_shm_link_arm(struct sl_shm_link *l)
{
	uint32_t i;

	if (l->bell_fd < 0)
		return -ENOTSUP;
	for (i = 0; i < l->n_rx; i++)
		__atomic_store_n(&l->r->rx[i].waiting, 1u, __ATOMIC_RELAXED);
	l->armed = 1;
	/* Store-load: the flags before the last look at the rings; pairs
	 * with the worker's fence between its commits and the flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (sl_shm_link_ready(l)) {
		sl_shm_link_disarm(l);
		return 1;
	}
	return 0;
}

/* Clear the flags; did a worker ring (it clears a flag as it rings)? */
static bool
disarm_flags(struct sl_shm_link *l)
{
	bool rang = false;
	uint32_t i;

	if (!l->armed)
		return false;
	l->armed = 0;
	for (i = 0; i < l->n_rx; i++)
		rang |= __atomic_exchange_n(&l->r->rx[i].waiting, 0u, __ATOMIC_ACQ_REL) == 0;
	return rang;
}

void
sl_shm_link_disarm(struct sl_shm_link *l)
{
	uint64_t v;

	/* Emptied only when rung: no system call for a wake that was a
	 * socket's or a timeout. A ring whose write lands after this read
	 * leaves a count behind: an edge-triggered watcher never sees it, a
	 * level-triggered one wakes once more (sl_shm_link_wait reads it). */
	if (l->bell_fd >= 0 && disarm_flags(l))
		(void)!read(l->bell_fd, &v, sizeof(v));
}

int
sl_shm_link_wait(struct sl_shm_link *l, uint64_t ns)
{
	uint64_t t0 = sl_now_ns(), now = t0, nap = SLEEP_NS;
	struct timespec ts;

	for (;;) {
		if (sl_shm_link_ready(l))
			return 1;
		if (now - t0 >= ns || sl_shm_link_notice(l))
			return 0;
		if (now - t0 < SPIN_NS) {
			__builtin_ia32_pause();
		} else if (l->bell_fd >= 0) {
			struct pollfd p = { .fd = l->bell_fd, .events = POLLIN };
			uint64_t left = ns - (now - t0);

			/* Woken by the worker that commits the next record;
			 * the notice word comes with no ring, so at most 1 s. */
			if (left > 1000000000ull)
				left = 1000000000ull;
			ts.tv_sec = (time_t)(left / 1000000000ull);
			ts.tv_nsec = (long)(left % 1000000000ull);
			if (sl_shm_link_arm(l) == 0) {
				uint64_t v;
				int rc;

				l->bell_sleeps++;
				rc = ppoll(&p, 1, &ts, NULL);
				if ((disarm_flags(l) || (rc > 0 && (p.revents & POLLIN))))
					(void)!read(l->bell_fd, &v, sizeof(v));
				if (rc < 0 && errno == EINTR)
					return sl_shm_link_ready(l);
			}
		} else {
			/* Sleep in growing steps: an idle subscriber costs a few
			 * hundred wake-ups a second, not tens of thousands. */
			ts.tv_sec = 0;
			ts.tv_nsec = (long)(nap < ns - (now - t0) ? nap : ns - (now - t0));
			nanosleep(&ts, NULL);
			if (nap < SLEEP_MAX_NS)
				nap *= 2;
		}
		now = sl_now_ns();
	}
}

uint32_t
sl_shm_link_notice(const struct sl_shm_link *l)
{
	return __atomic_load_n(&l->r->notice, __ATOMIC_ACQUIRE);
}
