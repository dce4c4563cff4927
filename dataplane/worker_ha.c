/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker side of a pair member: the role and fence each iteration, NOT_PRIMARY answers, the fence for unjournaled topics. */

#include <rte_mbuf.h>

#include <common/proto.h>

#include "ha.h"
#include "ha_main.h"
#include "journal.h"
#include "tx.h"
#include "worker_ha.h"
#include "worker_internal.h"

void
sl_worker_ha_refresh(struct sl_worker *w)
{
	const struct sl_ha *ha = w->dp->ha;

	sl_ha_view_take(ha, &w->ha_view, w->now, 0);
	w->ha_view.peer_ok_ns = sl_dp_ha_peer_ok(w->dp, SL_HA_ST_EPOCH(w->ha_view.state));
	w->tx_epoch = SL_HA_ST_EPOCH(w->ha_view.state);
}

int
sl_worker_ha_refused(struct sl_worker *w, const struct sl_frame *f, const union sl_peer *peer)
{
	if (likely(sl_ha_view_serves(&w->ha_view)))
		return 0;
	drop(w, SL_DROP_not_primary);
	/* One answer a datagram: a forged source gets no more than it sent. */
	if (!w->dgram_error) {
		w->dgram_error = 1;
		sl_worker_reply_error(w, peer, f->hdr->session, 0, SL_E_NOT_PRIMARY, f->hdr->type,
				      SL_HA_ST_EPOCH(w->ha_view.state));
	}
	return 1;
}

int
sl_worker_ha_unjournaled(struct sl_worker *w, struct rte_mbuf *m, const struct sl_publish *p)
{
	union sl_peer peer;

	if (likely(sl_ha_may_ack(w->dp->ha, &w->ha_view)))
		return 0;
	/* Neither delivered nor acknowledged: nothing of it happened. */
	drop(w, SL_DROP_ha_fenced);
	if (p->h.flags & SL_PUB_F_ACK_REQ) {
		sl_tx_peer_of(m, &peer);
		sl_worker_reply_error(w, &peer, p->h.session, 0,
				      sl_ha_view_serves(&w->ha_view) ? SL_E_BUSY : SL_E_NOT_PRIMARY,
				      SL_FT_PUBLISH, p->producer_seq);
	}
	return 1;
}

int
sl_worker_ha_journal_epoch(struct sl_worker *w, struct sl_journal *j)
{
	/* Records appended from now carry the epoch this node leads; the
	 * journal refuses an epoch below its last record's (a deposed node
	 * whose journal a newer primary wrote to must not append). */
	return sl_journal_set_leader_epoch(j, SL_HA_ST_EPOCH(w->ha_view.state));
}
