/* SPDX-License-Identifier: BSD-3-Clause */
/* Main lcore side of idempotent producers: the registry of epochs, PRODUCER requests, seeding from journals. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <common/clock.h>
#include <common/proto.h>

#include "dataplane.h"
#include "journal.h"
#include "producer.h"
#include "producer_main.h"

#define REG_EXPIRY_SCAN 64	 /* registry slots looked at per request */
#define SEED_RECORDS_MAX 65536u	 /* journal records read back per topic at open */

static uint64_t
wall_s(void)
{
	return sl_wall_ns() / 1000000000u;
}

void
sl_producer_slow(struct sl_dp *d, struct sl_handoff *h)
{
	const struct sl_producer *r = rte_pktmbuf_mtod_offset(h->m, const struct sl_producer *,
							      h->off);
	const struct sl_authz *a = sl_dp_authz(d);
	char user[sizeof(a->users[0].name) + 1] = "";
	uint64_t now = wall_s();
	uint32_t epoch = 0;
	int rc = -EBUSY;

	/* The frame was validated by the worker: name_len fits the frame. */
	if (h->code != 0) {
		memcpy(user, a->users[h->code].name, sizeof(a->users[h->code].name));
		user[sizeof(user) - 1] = '\0';
	}
	h->producer_id = sl_producer_id(user, (const char *)(r + 1), r->name_len);
	if (d->producers) {
		sl_producer_reg_expire(d->producers, now, d->conf.producer_idle_s, REG_EXPIRY_SCAN);
		rc = sl_producer_reg_bind(d->producers, h->producer_id, r->epoch, now, &epoch);
		if (rc == -EPERM)
			sl_producer_reg_seed(d->producers, h->producer_id, 0, now);
	}
	h->kind = SL_HO_PRODUCER_DONE;
	h->producer_epoch = epoch;
	h->code = rc == 0 ? SL_E_NONE
		  : rc == -EPERM ? SL_E_FENCED
		  : rc == -ENOSPC ? SL_E_PRODUCER_TABLE_FULL
		  : SL_E_BUSY;
	if (rte_ring_enqueue_elem(d->workers[h->src_worker]->in, h, sizeof(*h)) != 0) {
		sl_ctr_add(&d->main_ctr.drop[SL_DROP_ring_full], 1);
		rte_pktmbuf_free(h->m);
	}
}

void
sl_producer_seed_journal(struct sl_dp *d, struct sl_journal *j)
{
	uint64_t first = sl_journal_first_seq(j), last = sl_journal_last_seq(j), s, now = wall_s();
	struct sl_jrec_view v;

	if (d->producers == NULL || first == 0 || last < first)
		return;
	s = last - first >= SEED_RECORDS_MAX ? last - SEED_RECORDS_MAX + 1 : first;
	for (; s <= last; s++)
		if (sl_journal_read(j, s, &v) == 0 && v.producer_epoch != 0)
			sl_producer_reg_seed(d->producers, v.producer_id, v.producer_epoch, now);
}

int
sl_producer_main_init(struct sl_dp *d)
{
	int rc;

	d->producers = calloc(1, sizeof(*d->producers));
	if (d->producers == NULL)
		return -ENOMEM;
	rc = sl_producer_reg_init(d->producers, d->conf.max_producers);
	if (rc < 0) {
		free(d->producers);
		d->producers = NULL;
	}
	return rc;
}

void
sl_producer_main_fini(struct sl_dp *d)
{
	if (d->producers == NULL)
		return;
	sl_producer_reg_fini(d->producers);
	free(d->producers);
	d->producers = NULL;
}
