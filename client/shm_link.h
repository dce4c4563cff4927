/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice internals: the client end of the shared-memory transport. */

#ifndef SLUICE_CLIENT_SHM_LINK_H
#define SLUICE_CLIENT_SHM_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <common/shm.h>

/* The client's view of its region (common/shm.h). r is NULL when closed. */
struct sl_shm_link {
	struct sl_shm_region *r;
	uint64_t map_size;
	uint8_t *tx;
	uint32_t tx_size, tx_shift;
	uint64_t tx_pos;     /* next record */
	uint64_t tx_cons;    /* broker's consumer position, last read */
	uint64_t claim_pos;  /* record position of the open claim */
	uint32_t n_rx;
	uint32_t rx_size, rx_shift;
	uint32_t rx_next;    /* ring to look at first: round robin */
	uint8_t *rx[SL_SHM_MAX_RX];
	uint64_t rx_pos[SL_SHM_MAX_RX];
	/* Doorbells (PROTOCOL.md 14.8), -1 when the broker has none: ours,
	 * which the workers ring, and the home worker's, which we ring. */
	int bell_fd;
	int broker_bell;
	uint64_t bells_rung; /* times we woke the broker's worker */
	uint64_t bell_sleeps; /* sleeps on our doorbell */
	uint8_t armed;	      /* our rx rings' waiting flags are set */
};

/* The attach socket of dataplane @target (an instance name, or a path when
 * it contains '/') into @out. Returns 0 or -ENAMETOOLONG. */
int sl_shm_link_path(const char *target, char *out, size_t len);

/*
 * Attach to the dataplane @target: an instance name (its socket is
 * /run/sluice/NAME/shm.sock) or a socket path (contains '/'). @name is
 * shown in the broker's log. Waits up to @timeout_ns for the reply.
 * Returns the connected socket (keep it open: closing it detaches) and maps
 * the region into @l, or -ENOENT (no such dataplane), -ECONNREFUSED (not
 * running), -EACCES, -EBUSY (no free client slot), -ENOMEM,
 * -EPROTONOSUPPORT (a dataplane of another shared-memory layout version),
 * -EPROTO (not a Sluice dataplane), -ETIMEDOUT.
 */
int sl_shm_link_attach(struct sl_shm_link *l, const char *target, const char *name,
		       uint64_t timeout_ns);
void sl_shm_link_detach(struct sl_shm_link *l);

/* Use the region at @p (@size bytes) after checking its header; what
 * attach does once the file is mapped. Returns 0 or -EPROTO. */
int sl_shm_link_init(struct sl_shm_link *l, void *p, uint64_t size);

/* Reserve a record for a frame of @len bytes: its address, or NULL when the
 * ring has no room now (the broker is behind: back-pressure). */
void *sl_shm_link_claim(struct sl_shm_link *l, uint32_t len);
/* Publish the claimed record, whose frame is @len bytes (at most the
 * claimed length). */
void sl_shm_link_commit(struct sl_shm_link *l, uint32_t len);
/* Reserve a message record (a PUBLISH without its wire header) whose
 * header block and payload are @body bytes: the record, whose fields and
 * data (after it) the caller fills, or NULL when the ring has no room now.
 * One line when @body <= SL_SHM_LINE_PAYLOAD. */
struct sl_shm_msg *sl_shm_link_claim_msg(struct sl_shm_link *l, uint32_t body);
/* Publish the claimed message record, whose header block and payload are
 * @body bytes (at most the claimed). */
void sl_shm_link_commit_msg(struct sl_shm_link *l, uint32_t body);
/* Claim, copy, commit. Returns 0 or -EAGAIN. */
int sl_shm_link_send(struct sl_shm_link *l, const void *frame, uint32_t len);

/* Copy the next record from the broker into @buf (@cap bytes) as a wire
 * frame (a message record becomes the DELIVER it stands for, of session
 * @session): its length, or 0 when none is waiting. A record longer than
 * @cap is skipped and -EMSGSIZE returned; -EPROTO for a record a broker
 * does not write. */
int sl_shm_link_recv(struct sl_shm_link *l, void *buf, size_t cap);

/* As sl_shm_link_recv, but a record longer than @cap goes to @big
 * (@big_cap bytes) instead, and *@in_big is set; with @big NULL it is left
 * in the ring (0: read it when a big buffer is free). A record longer than
 * both is skipped and -EMSGSIZE returned. */
int sl_shm_link_recv_big(struct sl_shm_link *l, void *buf, size_t cap, void *big, size_t big_cap,
			 int *in_big, uint32_t session);
/* Is a record waiting? */
int sl_shm_link_ready(const struct sl_shm_link *l);
/* Wait up to @ns for a record: 1 when one is waiting, 0 on timeout. Spins
 * 20 us, then sleeps on the doorbell (or, without one, in steps that
 * double from 20 us to 1 ms). */
int sl_shm_link_wait(struct sl_shm_link *l, uint64_t ns);
/*
 * About to sleep on the doorbell (bell_fd readable): tell the workers to
 * ring it. Returns 1 when a record is waiting already (do not sleep; the
 * link is disarmed again), 0 when armed, -ENOTSUP without a doorbell (the
 * broker predates them: poll instead).
 */
int sl_shm_link_arm(struct sl_shm_link *l);
/* Awake: the workers need not ring; the doorbell is emptied if one rang. */
void sl_shm_link_disarm(struct sl_shm_link *l);
/* enum sl_shm_notice: why the broker stopped serving this client, 0 if it
 * has not. */
uint32_t sl_shm_link_notice(const struct sl_shm_link *l);

#endif /* SLUICE_CLIENT_SHM_LINK_H */
