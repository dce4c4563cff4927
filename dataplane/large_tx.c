/* SPDX-License-Identifier: BSD-3-Clause */
/* Large messages where the transports meet them: DELIVER_FRAG pieces out, a large shared-memory PUBLISH in, the limits WELCOME states. */

#include <string.h>

#include <rte_mbuf.h>

#include <common/proto.h>

#include "dataplane.h"
#include "large.h"
#include "worker_internal.h"

int
sl_large_deliver_frags(struct sl_worker *w, const union sl_peer *peer,
		       const struct sl_deliver *dl, const void *payload, sl_large_emit_fn emit)
{
	union {
		struct sl_deliver_frag g;
		uint8_t b[sizeof(struct sl_deliver_frag) + SL_MAX_FRAG_DATA];
	} u;
	uint32_t plen = dl->h.length - (uint32_t)sizeof(*dl), off, n;
	int rc;

	for (off = 0; off < plen; off += n) {
		n = RTE_MIN(plen - off, SL_MAX_FRAG_DATA);
		sl_proto_hdr_init(&u.g.h, SL_FT_DELIVER_FRAG, dl->h.flags,
				  (uint32_t)sizeof(u.g) + n, dl->h.session);
		u.g.h.version = dl->h.version;
		u.g.topic_id = dl->topic_id;
		u.g.msg_len = plen;
		u.g.seq = dl->seq;
		u.g.timestamp = dl->timestamp;
		u.g.frag_off = off;
		u.g.frag_len = n;
		memcpy(u.b + sizeof(u.g), (const uint8_t *)payload + off, n);
		rc = emit(w, peer, &u, (uint32_t)sizeof(u.g) + n);
		if (rc < 0)
			return rc;
		count(w, SL_CTR_deliver_frags);
	}
	return 0;
}

struct rte_mbuf *
sl_large_shm_frame(struct sl_worker *w, const void *head, uint32_t hlen, const void *src,
		   uint32_t len)
{
	struct rte_mbuf *m = sl_large_buf_alloc(&w->large->arena, hlen + len);

	if (m == NULL)
		return NULL;
	if (hlen)
		memcpy(rte_pktmbuf_mtod(m, void *), head, hlen);
	memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, hlen), src, len);
	sl_large_buf_set_len(m, hlen + len);
	return m;
}

uint32_t
sl_large_welcome_max(const struct sl_dp *dp)
{
	uint64_t max = RTE_MIN((uint64_t)SL_MAX_MESSAGE, dp->conf.reassembly_session_bytes);

	return (uint32_t)RTE_MIN(max, dp->conf.reassembly_bytes);
}
