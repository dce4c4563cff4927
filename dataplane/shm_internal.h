/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared-memory clients: the slot table both halves share (shm_main.c attaches, shm_worker.c polls). */

#ifndef SLUICE_DP_SHM_INTERNAL_H
#define SLUICE_DP_SHM_INTERNAL_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include <common/shm.h>

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
	uint8_t rang;	    /* committed to this iteration: doorbell to check */
	uint8_t pad[47];
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
	uint32_t max_frame;   /* largest frame accepted in tx (region's, our copy) */
	uint32_t max_deliver; /* largest DELIVER written whole into an rx ring */
	uint64_t tx_pos;    /* home worker: next record to read */
	uint64_t attach_tsc;
	uint64_t t0_ns;	    /* main lcore: when PENDING began */
	uint64_t grace[SL_SHM_MAX_RX]; /* main lcore: worker polls when DEAD began */
	int sock;
	int bell_fd;	    /* the client's doorbell (eventfd), or -1 (14.8) */
	uint64_t bells;	    /* times a worker rang it (atomic add: any worker) */
	pid_t pid;
	uid_t uid;
	uint8_t huge;	    /* backed by huge pages */
	uint8_t detach_pending; /* home: the DETACHED notice still has to reach main */
	uint32_t drain;	    /* home: it hung up; records still to read, at most */
	char name[32];
	struct sl_shm_rx rx[SL_SHM_MAX_RX];
};

#define REFUSED_MAX 16			/* refused connections waiting to be closed */

struct sl_shm {
	int listen_fd;
	char path[108];
	uint32_t max_clients;
	uint64_t region_size;
	uint32_t page_size; /* huge page size, or 0 when there are none */
	uint32_t huge_fallbacks;
	struct sl_shm_client *c;
	struct pollfd *pfd;
	uint32_t *pfd_slot;
	int refused[REFUSED_MAX];
	uint64_t refused_ns[REFUSED_MAX];
	uint32_t n_refused;
	int worker_bell[SL_SHM_MAX_RX]; /* each worker's doorbell (eventfd), or -1 */
};

#endif /* SLUICE_DP_SHM_INTERNAL_H */
