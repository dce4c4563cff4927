/* SPDX-License-Identifier: BSD-3-Clause */
/* Scale-out in the rx workers: the ERROR SL_E_MOVED that names the pair a topic moved to. */

#include <string.h>

#include <common/proto.h>

#include "topic_moved.h"
#include "tx.h"
#include "worker_internal.h"

bool
sl_worker_moved(struct sl_worker *w, uint32_t id, const union sl_peer *peer, uint32_t session,
		uint32_t req_id, uint8_t ftype, uint64_t detail)
{
	const struct sl_topic_state *ts = sl_route_state(&w->dp->route, id);
	struct sl_error_moved e;

	/* Acquire: pairs with the release store of the mark (moved_to whole). */
	if (likely(!__atomic_load_n(&ts->moved, __ATOMIC_ACQUIRE)))
		return false;
	memset(&e, 0, sizeof(e));
	sl_proto_hdr_init(&e.e.h, SL_FT_ERROR, 0, sizeof(e), session);
	e.e.req_id = req_id;
	e.e.code = SL_E_MOVED;
	e.e.frame_type = ftype;
	e.e.detail = detail;
	memcpy(e.addr, ts->moved_to.addr, sizeof(e.addr));
	e.port = ts->moved_to.port;
	e.epoch = ts->moved_to.epoch;
	memcpy(e.pair, ts->moved_to.pair, sizeof(e.pair));
	e.pair[sizeof(e.pair) - 1] = '\0';
	count(w, SL_CTR_errors_sent);
	sl_tx_frame(w, peer, &e, sizeof(e));
	return true;
}
