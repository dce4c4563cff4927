/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice: reassembly of one topic's DELIVER_FRAG pieces into whole messages. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frag_rx.h"

void
sl_frag_rx_init(struct sl_frag_rx *fr, uint32_t max_message)
{
	memset(fr, 0, sizeof(*fr));
	fr->max_message = max_message;
}

void
sl_frag_rx_fini(struct sl_frag_rx *fr)
{
	unsigned int i;

	for (i = 0; i < SL_FRAG_RX_SLOTS; i++) {
		free(fr->a[i].buf);
		fr->a[i].buf = NULL;
		fr->a[i].seq = 0;
	}
}

void
sl_frag_rx_release(struct sl_frag_rx *fr, unsigned int idx)
{
	struct sl_frag_asm *a = &fr->a[idx];

	a->seq = 0;
	a->whole = false;
	a->nranges = 0;
}

void
sl_frag_rx_drop_below(struct sl_frag_rx *fr, uint64_t seq)
{
	unsigned int i;

	for (i = 0; i < SL_FRAG_RX_SLOTS; i++)
		if (fr->a[i].seq != 0 && fr->a[i].seq < seq)
			sl_frag_rx_release(fr, i);
}

/* The slot of @seq, a free one, or the newest above @seq to take over. */
static int
slot_for(struct sl_frag_rx *fr, uint64_t seq, uint64_t *evicted)
{
	int free_i = -1, newest = -1;
	unsigned int i;

	for (i = 0; i < SL_FRAG_RX_SLOTS; i++) {
		uint64_t s = fr->a[i].seq;

		if (s == seq)
			return (int)i;
		if (s == 0 && free_i < 0)
			free_i = (int)i;
		if (s > seq && (newest < 0 || s > fr->a[newest].seq))
			newest = (int)i;
	}
	if (free_i >= 0)
		return free_i;
	if (newest < 0)
		return -ENOBUFS;
	*evicted = fr->a[newest].seq;
	sl_frag_rx_release(fr, (unsigned int)newest);
	return newest;
}

/*
 * Add [lo, hi) to the sorted, disjoint ranges of @a. Returns 1 when new
 * bytes were added, 0 when all were held already, -ENOBUFS when the range
 * list is full (the piece is dropped; a resend brings it again).
 */
static int
range_add(struct sl_frag_asm *a, uint32_t lo, uint32_t hi)
{
	uint32_t i = 0, j, k;

	while (i < a->nranges && a->r[i].hi < lo)
		i++;
	/* r[i..j) touch or overlap [lo, hi): merge them into one. */
	for (j = i; j < a->nranges && a->r[j].lo <= hi; j++)
		;
	if (j - i == 1 && a->r[i].lo <= lo && a->r[i].hi >= hi)
		return 0;
	if (j == i) {
		if (a->nranges == SL_FRAG_RX_RANGES)
			return -ENOBUFS;
		memmove(&a->r[i + 1], &a->r[i], (a->nranges - i) * sizeof(a->r[0]));
		a->r[i].lo = lo;
		a->r[i].hi = hi;
		a->nranges++;
		return 1;
	}
	if (a->r[i].lo < lo)
		lo = a->r[i].lo;
	if (a->r[j - 1].hi > hi)
		hi = a->r[j - 1].hi;
	a->r[i].lo = lo;
	a->r[i].hi = hi;
	k = j - i - 1; /* ranges merged away */
	memmove(&a->r[i + 1], &a->r[j], (a->nranges - j) * sizeof(a->r[0]));
	a->nranges -= k;
	return 1;
}

int
sl_frag_rx_piece(struct sl_frag_rx *fr, uint64_t seq, uint32_t msg_len, uint64_t ts,
		 uint32_t off, uint32_t len, const void *data, uint64_t *evicted)
{
	struct sl_frag_asm *a;
	int idx;
	int rc;

	*evicted = 0;
	if (msg_len > fr->max_message)
		return -EMSGSIZE;
	if (len == 0 || off > msg_len || len > msg_len - off || seq == 0)
		return -EINVAL;
	idx = slot_for(fr, seq, evicted);
	if (idx < 0)
		return idx;
	a = &fr->a[idx];
	if (a->seq == seq) {
		if (a->whole)
			return -EALREADY;
		if (a->msg_len != msg_len)
			return -EINVAL;
	} else {
		if (a->buf == NULL) {
			a->buf = malloc(fr->max_message ? fr->max_message : 1);
			if (a->buf == NULL)
				return -ENOMEM;
		}
		a->seq = seq;
		a->msg_len = msg_len;
		a->timestamp = ts;
		a->nranges = 0;
		a->whole = false;
	}
	rc = range_add(a, off, off + len);
	if (rc <= 0)
		return rc == 0 ? -EALREADY : rc;
	memcpy(a->buf + off, data, len);
	if (a->nranges == 1 && a->r[0].lo == 0 && a->r[0].hi == msg_len) {
		a->whole = true;
		return idx;
	}
	return -EINPROGRESS;
}
