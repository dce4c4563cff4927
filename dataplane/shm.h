/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared-memory clients: attach on the main lcore, rings polled by workers. */

#ifndef SLUICE_DP_SHM_H
#define SLUICE_DP_SHM_H

#include <stdint.h>
#include <sys/types.h>

#include <common/shm.h>

/*
 * A shared-memory peer in a struct sl_sub: port_id is SL_SHM_PORT, ip the
 * client's slot and udp_port the slot's generation, so a subscription left
 * from an earlier client of the same slot never reaches the next one.
 */
#define SL_SHM_PORT 0xfffeu

enum sl_shm_state {
	SL_SHM_FREE = 0,
	SL_SHM_PENDING,	 /* connected, attach request not read yet */
	SL_SHM_LIVE,	 /* mapped, polled by its home worker */
	SL_SHM_CLOSING,	 /* home worker told to let go */
	SL_SHM_DEAD,	 /* nobody polls it; unmapped after a grace period */
};

/* Broker-private producer state of one rx ring: written by its worker only. */
struct sl_shm_rx {
	uint64_t pos;	    /* next record position */
	uint64_t cons;	    /* consumer position last read and validated */
	uint8_t pad[48];
} __attribute__((aligned(64)));

/* One client slot. The geometry is the broker's own copy: never read back
 * from the shared header. */
struct sl_shm_client {
	uint32_t state;	    /* enum sl_shm_state; release store, acquire load */
	uint16_t gen;
	uint16_t home;	    /* worker that polls the tx ring */
	uint32_t kick;	    /* enum sl_shm_notice an owner asks home to apply */
	uint64_t dropped;   /* deliveries dropped, ring full (atomic add: any owner) */
	uint32_t faults;    /* accesses that faulted (a hole punched in the region) */
	uint32_t slot;
	uint8_t *base;	    /* mapping */
	uint64_t size;
	uint64_t tx_off;
	uint64_t rx_off[SL_SHM_MAX_RX];
	uint32_t tx_size, rx_size;
	uint32_t tx_shift, rx_shift;
	uint64_t tx_pos;    /* home worker: next record to read */
	uint64_t attach_tsc;
	uint64_t t0_ns;	    /* main lcore: when PENDING began */
	uint64_t grace[SL_SHM_MAX_RX]; /* main lcore: worker polls when DEAD began */
	int sock;
	pid_t pid;
	uid_t uid;
	uint8_t huge;	    /* backed by huge pages */
	uint8_t detach_pending; /* home: the DETACHED notice still has to reach main */
	char name[32];
	struct sl_shm_rx rx[SL_SHM_MAX_RX];
};

struct sl_dp;
struct sl_worker;
struct sl_handoff;
struct sl_sub;

/* Main lcore: the listening socket and the slot table (conf.shm). Returns 0
 * or -errno. */
int sl_shm_init(struct sl_dp *dp);
/* Main lcore: accept, attach, notice hang-ups, reclaim. Returns work done. */
unsigned sl_shm_poll(struct sl_dp *dp);
/* Main lcore: a worker let go of @slot, generation @gen (SL_HO_SHM_DETACHED). */
void sl_shm_detached(struct sl_dp *dp, uint32_t slot, uint32_t gen);
/* Main lcore, at exit: tell clients, unmap, close. */
void sl_shm_fini(struct sl_dp *dp);

struct rte_tel_data;
/* Telemetry thread: one entry per attached client into dict @d ("c<slot>"). */
int sl_shm_telemetry(const struct sl_dp *dp, struct rte_tel_data *d);

/* Worker: read the tx rings of the clients this worker is home to. */
unsigned sl_shm_worker_poll(struct sl_worker *w);
/* Worker: SL_HO_SHM_ATTACH / SL_HO_SHM_DETACH from the main lcore. */
void sl_shm_worker_handoff(struct sl_worker *w, const struct sl_handoff *h);
/* Worker timer: cut clients whose session is gone, retry notices. */
void sl_shm_worker_timers(struct sl_worker *w);

/*
 * Worker @w writes one frame, @alen bytes at @a then @blen at @b (may be
 * 0), into @peer's rx ring of this worker. Returns 0, -ENOBUFS (ring full)
 * or -ENOTCONN (the client is gone or was replaced).
 */
int sl_shm_send(struct sl_worker *w, const struct sl_sub *peer, const void *a, uint32_t alen,
		const void *b, uint32_t blen);
/* 1 if @peer's rx ring of this worker has room for a @flen-byte frame (or
 * the peer is gone: nothing to wait for), else 0. */
int sl_shm_room(struct sl_worker *w, const struct sl_sub *peer, uint32_t flen);
/* Count a delivery dropped for @peer in the ring header it reads. */
void sl_shm_dropped(struct sl_worker *w, const struct sl_sub *peer);
/* Owner: disconnect @peer (topic policy); its home worker does it. */
void sl_shm_kick(struct sl_worker *w, const struct sl_sub *peer, uint32_t why);

#endif /* SLUICE_DP_SHM_H */
