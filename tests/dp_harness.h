/* SPDX-License-Identifier: BSD-3-Clause */
/* A dataplane of one worker, built in a unit test: EAL without huge pages, pools, topics, a ring port. */

#ifndef SLUICE_TESTS_DP_HARNESS_H
#define SLUICE_TESTS_DP_HARNESS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <arpa/inet.h>

#include <common/crypto.h>
#include <common/proto.h>

#include "authz.h"
#include "dataplane.h"
#include "journal.h"
#include "pkt.h"
#include "port.h"
#include "route.h"
#include "shm_internal.h"

#define HARNESS_IP 0x0100000au /* 10.0.0.1, network order */
#define HARNESS_UDP_PORT 7000

/*
 * EAL on one lcore, no PCI, no huge pages (so it runs wherever the test
 * runs), a file prefix of its own. Returns 0, or 77 (skip) with a message
 * when EAL cannot start here.
 */
static int
harness_eal(const char *name)
{
	char prefix[64];
	char *argv[] = { (char *)name, (char *)"--no-pci", (char *)"--no-huge", (char *)"-m",
			 (char *)"256", (char *)"-l", (char *)"0", prefix,
			 (char *)"--log-level=lib.*:error", NULL };

	snprintf(prefix, sizeof(prefix), "--file-prefix=%s_%d", name, (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		printf("%s: skipped: EAL does not start here (%s)\n", name,
		       rte_strerror(rte_errno));
		return 77;
	}
	return 0;
}

/* Topics of the harness: durability none, back-pressure drop. */
static inline int
harness_topic_init(void *arg, const struct sl_topic *t, struct sl_topic_state *ts)
{
	const struct sl_dp *dp = arg;

	(void)t;
	ts->durability = SL_DUR_NONE;
	ts->backpressure = SL_BP_DROP;
	ts->retx_window = dp->conf.retransmit_window;
	return 0;
}

static inline uint32_t
harness_topic(struct sl_dp *dp, const char *name)
{
	uint32_t id = 0;

	if (sl_route_topic_create_init(&dp->route, name, (uint32_t)strlen(name),
				       harness_topic_init, dp, &id) < 0)
		return 0;
	return id;
}

/*
 * @dp: one worker (index 0, polled by the caller through sl_worker_poll),
 * open authorization, the pools and the slow-path ring. With @rx and @tx, a
 * port made of those two rings (the net_ring PMD): what the test enqueues
 * to @rx the worker receives, what it sends lands in @tx. Returns 0 or
 * -errno.
 */
static int
harness_dp(struct sl_dp *dp, struct rte_ring *rx, struct rte_ring *tx)
{
	static struct sl_authz open_authz; /* required 0: every permission */
	int rc;

	memset(dp, 0, sizeof(*dp));
	sl_conf_defaults(&dp->conf);
	dp->conf.mbufs = 2047;
	dp->conf.mbuf_cache = 0;
	dp->conf.ring_size = 1024;
	dp->conf.max_topics = 64;
	dp->conf.max_sessions = 64;
	dp->conf.shm_max_clients = 4;
	/* No STATUS frames unless a test asks for them: they would arrive
	 * among the replies a test counts. */
	dp->conf.status_idle_us = 10000000;
	dp->conf.heartbeat_ms = 600000;
	dp->conf.n_workers = 1;
	dp->conf.workers[0].lcore = rte_lcore_id();
	dp->n_workers = 1;
	dp->tsc_hz = rte_get_tsc_hz();
	dp->pkt_pool = rte_pktmbuf_pool_create("t_pkt", dp->conf.mbufs, 0, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	dp->hdr_pool = rte_pktmbuf_pool_create("t_hdr", dp->conf.mbufs, 0, 0,
					       RTE_PKTMBUF_HEADROOM + 128, SOCKET_ID_ANY);
	dp->clone_pool = rte_pktmbuf_pool_create("t_clone", dp->conf.mbufs, 0, 0, 0,
						 SOCKET_ID_ANY);
	dp->slow = rte_ring_create_elem("t_slow", sizeof(struct sl_handoff), 1024, SOCKET_ID_ANY,
					RING_F_SC_DEQ);
	if (!dp->pkt_pool || !dp->hdr_pool || !dp->clone_pool || !dp->slow)
		return -ENOMEM;
	rc = sl_route_init(&dp->route, dp->conf.max_topics, dp->conf.max_subscribers, 1);
	if (rc < 0)
		return rc;
	dp->authz = &open_authz;
	rc = sl_worker_init(dp, 0);
	if (rc < 0)
		return rc;
	if (rx == NULL)
		return 0;
	rc = rte_eth_from_rings("t_port", &rx, 1, &tx, 1, SOCKET_ID_ANY);
	if (rc < 0)
		return -rte_errno;
	dp->n_ports = dp->conf.n_ports = 1;
	/* The ethdev's own name, as sl_port_init looks it up. */
	if (rte_eth_dev_get_name_by_port((uint16_t)rc, dp->conf.ports[0].vdev) != 0)
		return -ENODEV;
	dp->conf.ports[0].ip = HARNESS_IP;
	dp->conf.ports[0].udp_port = HARNESS_UDP_PORT;
	dp->conf.ports[0].rx_queues = 1;
	dp->conf.ports[0].rx_desc = 512;
	dp->conf.ports[0].tx_desc = 512;
	return sl_port_init(dp, 0);
}

/*
 * The usual start of a harness test: EAL (harness_eal), the two rings of
 * the port (*@rx: what the test sends the worker, *@tx: what the worker
 * sends) and the dataplane on them (harness_dp). Returns 0, 77 (skip: EAL
 * does not start here) or 1 (failed, said on stderr).
 */
static inline int
harness_start(const char *name, struct sl_dp *dp, struct rte_ring **rx, struct rte_ring **tx)
{
	int rc = harness_eal(name);

	if (rc)
		return rc;
	*rx = rte_ring_create("t_rx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	*tx = rte_ring_create("t_tx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (*rx == NULL || *tx == NULL) {
		fprintf(stderr, "%s: port rings: %s\n", name, rte_strerror(rte_errno));
		return 1;
	}
	rc = harness_dp(dp, *rx, *tx);
	if (rc < 0) {
		fprintf(stderr, "%s: dataplane set-up: %s\n", name, strerror(-rc));
		return 1;
	}
	return 0;
}

/* Open topic @t's journal (1 MiB segments) in @root/ID, with @dur
 * durability, back-pressure drop and no retransmit window (so every read
 * again comes from the journal). For sl_route_topic_create_init's topic
 * set-up. Returns what sl_journal_open does. */
static inline int
harness_journal(struct sl_topic_state *ts, const struct sl_topic *t, const char *root,
		uint8_t dur)
{
	struct sl_journal_conf c = { .segment_bytes = 1u << 20, .index_every = 4096 };
	struct sl_journal_recovery rec;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/%u", root, t->id);
	ts->durability = dur;
	ts->backpressure = SL_BP_DROP;
	ts->retx_window = 0;
	return sl_journal_open(&ts->journal, dir, &c, &rec);
}

/* The end of a test that harness_start began: port, worker, routes, EAL. */
static inline void
harness_stop(struct sl_dp *dp)
{
	sl_port_fini(dp, 0);
	sl_worker_fini(dp->workers[0]);
	sl_route_fini(&dp->route);
	rte_eal_cleanup();
}

/* The client of the harness's port: where its datagrams come from. */
#define HARNESS_CLIENT_IP 0x0200000au /* 10.0.0.2, network order */
#define HARNESS_CLIENT_PORT 5555
static const uint8_t harness_client_mac[6] = { 0x02, 0, 0, 0, 0, 0x22 };

/*
 * A session of the harness's client from UDP @port, opened directly in
 * worker @w's table (no handshake), speaking this protocol version: @uid 0
 * anonymous, else authenticated as user @uid of key serial @serial.
 */
static inline struct sl_session *
harness_session(struct sl_worker *w, uint16_t port, uint16_t uid, uint16_t serial)
{
	struct sl_session *s = NULL;

	if (sl_session_open(&w->sessions, HARNESS_CLIENT_IP, htons(port), &s) < 0 || s == NULL)
		abort();
	s->transport = SL_TRANSPORT_UDP;
	s->auth = uid ? SL_SESSION_AUTH_OK : SL_SESSION_AUTH_NONE;
	s->uid = uid;
	s->user_epoch = serial;
	s->version = SL_PROTO_VERSION;
	s->last_seen = rte_get_tsc_cycles();
	return s;
}

/* Poll @w @polls times, then hand every frame it sent (the datagrams in
 * the port's @tx ring, freed) to @fn. */
static inline void
harness_pump(struct sl_worker *w, struct rte_ring *tx, unsigned polls,
	     void (*fn)(const struct sl_frame *f))
{
	void *m = NULL;

	while (polls--)
		sl_worker_poll(w);
	while (rte_ring_dequeue(tx, &m) == 0) {
		struct rte_mbuf *mb = m;
		uint8_t buf[4096];
		const uint8_t *p = rte_pktmbuf_read(mb, 0, mb->pkt_len, buf);
		struct sl_frame f;
		size_t off = 0;

		if (p && mb->pkt_len > SL_PKT_HDR_LEN)
			while (sl_proto_next(p + SL_PKT_HDR_LEN, mb->pkt_len - SL_PKT_HDR_LEN, &off,
					     &f) == 1)
				fn(&f);
		rte_pktmbuf_free(mb);
	}
}

/* Enqueue on @rx a UDP datagram of @len bytes from @src_ip (network order)
 * port @sport to @dst_ip (network order) port @dport (host order both).
 * Returns 0 or -ENOBUFS. */
static inline int
harness_send_dgram(struct sl_dp *dp, struct rte_ring *rx, uint32_t src_ip, uint16_t sport,
		   uint32_t dst_ip, uint16_t dport, const void *data, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pkt_pool);
	uint8_t *d;

	if (m == NULL)
		return -ENOBUFS;
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(SL_PKT_HDR_LEN + len));
	if (d == NULL) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	sl_pkt_build_udp(d, harness_client_mac, dp->ports[0].mac, src_ip, dst_ip, htons(sport),
			 htons(dport), (uint16_t)len);
	memcpy(d + SL_PKT_HDR_LEN, data, len);
	if (rte_ring_enqueue(rx, m) != 0) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	return 0;
}

/* From @src_ip port @sport to the harness's address, port @dport. */
static inline int
harness_send_udp(struct sl_dp *dp, struct rte_ring *rx, uint32_t src_ip, uint16_t sport,
		 uint16_t dport, const void *data, uint32_t len)
{
	return harness_send_dgram(dp, rx, src_ip, sport, HARNESS_IP, dport, data, len);
}

/* From the client's UDP port @port to address @dst, holding @len bytes of frames. */
static inline int
harness_send_to(struct sl_dp *dp, struct rte_ring *rx, uint32_t dst, uint16_t port,
		const void *frames, uint32_t len)
{
	return harness_send_dgram(dp, rx, HARNESS_CLIENT_IP, port, dst, HARNESS_UDP_PORT, frames,
				  len);
}

/* The same to the port's own address. */
static inline int
harness_send_from(struct sl_dp *dp, struct rte_ring *rx, uint16_t port, const void *frames,
		  uint32_t len)
{
	return harness_send_to(dp, rx, HARNESS_IP, port, frames, len);
}

/* Worker 0's counter @c and drop reason @d. */
static inline uint64_t
harness_ctr(const struct sl_dp *dp, enum sl_ctr c)
{
	return sl_ctr_read(&dp->workers[0]->ctr.ctr[c]);
}

static inline uint64_t
harness_drops(const struct sl_dp *dp, enum sl_drop d)
{
	return sl_ctr_read(&dp->workers[0]->ctr.drop[d]);
}

/* From the client's usual port. */
static inline int
harness_send(struct sl_dp *dp, struct rte_ring *rx, const void *frames, uint32_t len)
{
	return harness_send_from(dp, rx, HARNESS_CLIENT_PORT, frames, len);
}

/* A version 3 HELLO (SL_HELLO_MIN_LEN bytes, zero padded) into @buf.
 * Returns its length. */
static inline uint32_t
harness_hello(void *buf, uint64_t nonce, uint32_t caps, const char *name)
{
	struct sl_hello *h = (struct sl_hello *)buf;

	memset(buf, 0, SL_HELLO_MIN_LEN);
	sl_proto_hdr_init(&h->h, SL_FT_HELLO, 0, SL_HELLO_MIN_LEN, 0);
	h->h.version = SL_PROTO_HELLO_VERSION;
	h->min_version = h->max_version = SL_PROTO_VERSION;
	h->caps = caps;
	h->nonce = nonce;
	snprintf(h->name, sizeof(h->name), "%s", name);
	return SL_HELLO_MIN_LEN;
}

/* The AUTH answering CHALLENGE @c: echoed fields, a random client nonce,
 * and with @key the proof (the CHALLENGE's caps then should hold
 * SL_CAP_AUTH, @name the user). */
static inline void
harness_auth(struct sl_auth *a, const struct sl_challenge *c, const char *name,
	     const uint8_t *key)
{
	memset(a, 0, sizeof(*a));
	sl_proto_hdr_init(&a->h, SL_FT_AUTH, 0, sizeof(*a), 0);
	a->nonce = c->nonce;
	a->version = c->version;
	a->caps = c->caps;
	a->issued = c->issued;
	memcpy(a->server_nonce, c->server_nonce, sizeof(a->server_nonce));
	memcpy(a->cookie, c->cookie, sizeof(a->cookie));
	sl_random(a->client_nonce, sizeof(a->client_nonce));
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (key)
		sl_auth_proof_v3(key, a, a->proof);
}

/*
 * The client end of a sealed session, for harness_recv: set
 * harness_sealed to open the broker's SEALs (counted in opened, refused in
 * bad) and see their inner frames.
 */
struct harness_client {
	uint32_t session;
	uint8_t k_c2s[SL_KEY_LEN], k_s2c[SL_KEY_LEN];
	unsigned suite; /* SL_SUITE_*: the keys' AEAD */
	uint64_t tx_seq;
	struct sl_replay_window rw;
	unsigned opened, bad;
	int enc; /* the last SEAL opened was encrypted */
};
static struct harness_client *harness_sealed;
/* The client port harness_recv expects datagrams for. */
static uint16_t harness_rx_port = HARNESS_CLIENT_PORT;

/* Seal @len bytes of frames as @c would: into @out (room len + 48),
 * encrypted with @enc, at transport sequence @seq (0: the next). Returns
 * the datagram's length. */
static inline uint32_t
harness_seal(struct harness_client *c, const void *frames, uint32_t len, int enc, uint64_t seq,
	     uint8_t *out)
{
	uint32_t n = SL_SEAL_HDR_LEN + ((len + 7u) & ~7u) + SL_TAG_LEN;

	static struct sl_seal_key k;

	memset(out, 0, n);
	memcpy(out + SL_SEAL_HDR_LEN, frames, len);
	if (sl_seal_key_init(&k, c->suite, c->k_c2s) != 0)
		return 0;
	sl_seal_k(&k, SL_DIR_C2S, seq ? seq : ++c->tx_seq, c->session, enc, out, n);
	return n;
}

/*
 * Poll the worker @polls times, then hand each frame of each datagram it
 * sent (dequeued from @tx) to @fn with the datagram's index. Returns the
 * datagrams, or -1 for one not addressed to the client from the port.
 */
static inline int
harness_recv(struct sl_dp *dp, struct rte_ring *tx, unsigned polls,
	     void (*fn)(void *arg, const struct sl_frame *f, unsigned dgram), void *arg)
{
	int n = 0, bad = 0;
	void *m = NULL;

	while (polls--)
		sl_worker_poll(dp->workers[0]);
	while (rte_ring_dequeue(tx, &m) == 0) {
		struct rte_mbuf *mb = m;
		uint8_t buf[4096];
		const uint8_t *p = rte_pktmbuf_read(mb, 0, mb->pkt_len, buf);
		struct sl_pkt_info pi;
		struct sl_frame f;
		size_t off = 0;

		if (sl_pkt_parse(p, mb->pkt_len, HARNESS_CLIENT_IP, htons(harness_rx_port), &pi) !=
			    SL_PKT_UDP ||
		    pi.src_ip != HARNESS_IP || pi.src_port != htons(HARNESS_UDP_PORT) ||
		    memcmp(pi.dst_mac, harness_client_mac, 6) != 0 ||
		    pi.payload_len > SL_MAX_DATAGRAM)
			bad = 1;
		else if (harness_sealed && p[pi.payload_off + 1] == SL_FT_SEAL) {
			uint8_t *d = buf + 2048; /* a copy to open in place */
			const struct sl_seal *sh = (const struct sl_seal *)d;
			static struct sl_seal_key k;
			size_t ioff = 0;

			memcpy(d, p + pi.payload_off, pi.payload_len);
			/* Session 0: the WELCOME tells it. */
			if (sh->h.length != pi.payload_len ||
			    (harness_sealed->session && sh->h.session != harness_sealed->session) ||
			    sl_seal_key_init(&k, harness_sealed->suite, harness_sealed->k_s2c) != 0 ||
			    sl_seal_open_k(&k, SL_DIR_S2C, d, pi.payload_len) != 0 ||
			    sl_replay_check(&harness_sealed->rw, sh->seq) != 0) {
				harness_sealed->bad++;
			} else {
				harness_sealed->opened++;
				harness_sealed->enc = !!(sh->h.flags & SL_SEAL_F_ENC);
				while (sl_proto_next(d + SL_SEAL_HDR_LEN,
						     pi.payload_len - SL_SEAL_OVERHEAD, &ioff, &f) == 1)
					fn(arg, &f, (unsigned)n);
			}
		} else
			while (sl_proto_next(p + pi.payload_off, pi.payload_len, &off, &f) == 1)
				fn(arg, &f, (unsigned)n);
		n++;
		rte_pktmbuf_free(mb);
	}
	return bad ? -1 : n;
}

/*
 * A shared-memory client in slot @slot, generation @gen, over a region at
 * @base built in memory (no socket, no attach): a 4096-byte header page,
 * then its tx ring and one rx ring of @ring bytes each (2^@shift), the
 * region zeroed, frames up to a datagram. The caller hands it to a worker
 * with an SL_HO_SHM_ATTACH handoff.
 */
static inline void
harness_shm_client(struct sl_shm_client *c, uint8_t *base, uint32_t slot, uint16_t gen,
		   uint32_t ring, uint32_t shift)
{
	memset(base, 0, 4096 + 2 * (size_t)ring);
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = gen;
	c->base = base;
	c->size = 4096 + 2 * (uint64_t)ring;
	c->tx_off = 4096;
	c->rx_off[0] = 4096 + ring;
	c->tx_size = c->rx_size = ring;
	c->tx_shift = c->rx_shift = shift;
	c->max_frame = c->max_deliver = SL_MAX_DATAGRAM;
	c->sock = -1;
	c->bell_fd = -1;
}

/* A client of harness_shm_client puts frame @f (@len bytes) in its tx ring
 * (@base + 4096, @ring bytes, 1 << @shift), its producer position at *@pos. */
static inline void
harness_shm_put(uint8_t *base, uint32_t ring, uint32_t shift, uint64_t *pos, const void *f,
		uint32_t len)
{
	uint8_t *tx = base + 4096;
	uint32_t rec = sl_shm_rec_bytes(len), off;

	off = sl_shm_rec_place(tx, ring, shift, pos, rec);
	memcpy(tx + off + SL_SHM_REC_HDR, f, len);
	sl_shm_rec_commit(tx, ring, shift, *pos, len);
	*pos += rec;
}

#endif /* SLUICE_TESTS_DP_HARNESS_H */
