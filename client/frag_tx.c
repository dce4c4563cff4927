/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice large messages on send: a message over one frame goes as PUBLISH_FRAG pieces. */

#include <errno.h>
#include <string.h>

#include "client_internal.h"

uint32_t
sl_cl_frame_max(const struct sl_client *c)
{
	uint32_t max = c->max_payload;

	/* Over shared memory a record may be larger than a datagram: one
	 * PUBLISH when the region says the broker takes frames that large
	 * (a region limited to a datagram's size keeps the UDP limits). */
	if (c->shm.r && c->prod.v2 && c->shm.r->max_frame > SL_MAX_DATAGRAM) {
		uint32_t m = c->shm.r->max_frame - (uint32_t)sizeof(struct sl_publish);

		if (m > max)
			max = m;
	}
	return max;
}

/* Data bytes of one piece: a whole datagram (or shared-memory frame) of
 * one PUBLISH_FRAG, trailer included, in multiples of 8. */
static uint32_t
piece_max(const struct sl_client *c)
{
	uint32_t room = SL_MAX_DATAGRAM;
	uint32_t n;

	if (c->shm.r && c->shm.r->max_frame < room)
		room = c->shm.r->max_frame;
	n = room - (uint32_t)sizeof(struct sl_publish_frag);
	if (c->auth.sealing)
		n -= SL_TAG_LEN;
	n &= ~7u;
	return n < SL_MAX_FRAG_DATA ? n : SL_MAX_FRAG_DATA;
}

int
sl_cl_frag_send(struct sl_client *c, uint32_t topic_id, uint64_t pseq, uint64_t ts,
		uint16_t flags, const uint8_t *data, uint32_t len)
{
	uint32_t piece = piece_max(c);
	uint32_t off, n, flen;
	int sent = 0;
	int rc;

	for (off = 0; off < len; off += n) {
		struct sl_publish_frag *g;

		n = len - off < piece ? len - off : piece;
		flen = (uint32_t)sizeof(*g) + n;
		g = sl_cl_tx_claim(c, flen);
		if (g == NULL) {
			rc = -EAGAIN;
			goto stop;
		}
		sl_proto_hdr_init(&g->h, SL_FT_PUBLISH_FRAG, flags, flen, c->session);
		g->topic_id = topic_id;
		g->msg_len = len;
		g->producer_seq = pseq;
		g->timestamp = ts;
		g->frag_off = off;
		g->frag_len = n;
		memcpy(g + 1, data + off, n);
		rc = sl_cl_tx_commit(c, g, flen);
		if (rc < 0)
			goto stop;
		sent++;
		c->st.fragments++;
	}
	return 0;

stop:
	/* Some pieces went: the message is sent, as far as the caller goes;
	 * an unacknowledged one is completed by a resend. */
	return sent > 0 ? sent : rc;
}
