/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice's side of the protocol version 3 envelope: sealing what it sends, opening
 * and vetting what it receives (docs/PROTOCOL.md 17). */

#include <errno.h>
#include <string.h>

#include "client_internal.h"

uint32_t
sl_cl_seal(struct sl_client *c, void *buf, uint32_t end)
{
	uint32_t len = sl_proto_align(end) + SL_TAG_LEN;

	/* The tag covers the padding, so its bytes must be defined. */
	memset((uint8_t *)buf + end, 0, sl_proto_align(end) - end);
	sl_seal_k(&c->auth.k_c2s, SL_DIR_C2S, ++c->auth.tx_seq, c->session, c->auth.enc, buf,
		  len);
	return len;
}

void
sl_cl_unseal(struct sl_client *c, void *buf, uint32_t len)
{
	/* Our own datagram: it verifies, and comes back as plaintext. */
	if (c->auth.enc)
		(void)sl_seal_open_k(&c->auth.k_c2s, SL_DIR_C2S, buf, len);
}

/*
 * Send one frame in a datagram of its own, after what is batched. Sealed,
 * it is copied behind a seal header: a resend is sealed again, with a new
 * seq, so it is no replay.
 */
int
sl_cl_tx_frame(struct sl_client *c, const void *frame, size_t len)
{
	uint8_t *d = (uint8_t *)c->txbuf;

	(void)sl_cl_flush(c);
	if (!c->auth.sealing)
		return sl_cl_tx(c, frame, len);
	if (SL_SEAL_OVERHEAD + FRAME_ROOM(len) > SL_MAX_DATAGRAM)
		return -EMSGSIZE;
	memcpy(d + SL_SEAL_HDR_LEN, frame, len);
	return sl_cl_tx(c, d, sl_cl_seal(c, d, (uint32_t)(SL_SEAL_HDR_LEN + len)));
}

/* A plain datagram to an authenticated session: each of its frames is
 * counted as forged (at least one, however mangled), none is used. */
static void
forged_plain(struct sl_client *c, struct dgram *d)
{
	struct sl_frame f;
	size_t off = 0;
	uint64_t n = 0;

	while (sl_proto_next(d->data, d->len, &off, &f) == 1)
		n++;
	c->st.forged_dropped += n > 0 ? n : 1;
	d->len = 0;
}

/*
 * Over UDP only: shared memory is never sealed (its records are taken as
 * they are, each frame judged by sl_cl_rx_frame_ok).
 *
 * A SEAL is opened only with the keys of the handshake in progress or of
 * the session, and only once: a datagram that fails its tag is counted as
 * forged, one seen before (or older than the window) as a replay. Nothing
 * of either is used.
 */
bool
sl_cl_rx_open(struct sl_client *c, struct dgram *d)
{
	const struct sl_seal *s = sl_cl_dgram_bytes(d);
	uint32_t len;

	d->off = 0;
	d->sealed = false;
	if (d->len < sizeof(struct sl_hdr))
		return true;
	if (s->h.type != SL_FT_SEAL) {
		if (c->auth.sealing) {
			forged_plain(c, d);
			return false;
		}
		return true; /* plain frames: sl_cl_rx_frame_ok judges each */
	}
	len = s->h.length;
	if (!c->auth.keyed || len < SL_SEAL_OVERHEAD || len > d->len || len % 8 != 0 ||
	    (c->session != 0 && s->h.session != c->session) ||
	    (c->auth.enc && !(s->h.flags & SL_SEAL_F_ENC)) ||
	    sl_seal_open_k(&c->auth.k_s2c, SL_DIR_S2C, d->data, len) < 0) {
		c->st.forged_dropped++;
		/* Something answered the AUTH without knowing the key. */
		if (sl_cl_handshaking(&c->pend))
			c->auth.bad_welcomes++;
		d->len = 0;
		return false;
	}
	if (sl_replay_check(&c->auth.rx_win, s->seq) < 0) {
		c->st.replay_dropped++;
		d->len = 0;
		return false;
	}
	d->off = SL_SEAL_HDR_LEN;
	d->len = len - SL_TAG_LEN;
	d->sealed = true;
	return true;
}

/*
 * Inside a verified seal every frame is the broker's; it must be of the
 * seal's session and no handshake frame (else a broker fault: bad_frames).
 * Outside one, while handshaking, only the handshake's answers (CHALLENGE
 * and ERROR of session 0, WELCOME, whose own check follows) pass. Then an
 * authenticated UDP session takes no unsealed frame at all, and any other
 * takes only frames of its own session: in both cases an ERROR, GOODBYE or
 * DELIVER that anyone on the path could have written is ignored.
 */
static bool
frame_ok(struct sl_client *c, const struct dgram *d, const struct sl_frame *f, bool quiet)
{
	uint8_t t = f->hdr->type;

	if (d->sealed) {
		const struct sl_seal *s = sl_cl_dgram_bytes(d);

		if (f->hdr->session == s->h.session && t != SL_FT_SEAL && t != SL_FT_HELLO &&
		    t != SL_FT_CHALLENGE && t != SL_FT_AUTH)
			return true;
		if (!quiet)
			c->st.bad_frames++;
		return false;
	}
	if (sl_cl_handshaking(&c->pend) &&
	    (t == SL_FT_WELCOME ||
	     ((t == SL_FT_CHALLENGE || t == SL_FT_ERROR) && f->hdr->session == 0)))
		return true;
	if (!(c->auth.on && c->shm.r == NULL) && c->session != 0 && f->hdr->session == c->session)
		return true;
	if (!quiet)
		c->st.forged_dropped++;
	return false;
}

bool
sl_cl_rx_frame_ok(struct sl_client *c, const struct dgram *d, const struct sl_frame *f,
		  bool quiet)
{
	/* The broker's, then of a leader no older than the newest seen. */
	return frame_ok(c, d, f, quiet) && sl_cl_epoch_ok(c, f, quiet);
}
