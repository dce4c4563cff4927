/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the wire codec (common/proto.c sl_proto_next) over a
 * whole datagram, every frame type, then of what a client does with the
 * frames it receives that need no socket: DELIVER and DELIVER_FRAG into the
 * reorder buffer (client/reorder.c, as client/rx.c hands them over), STATUS
 * entries and gap ERRORs. The input is one datagram's UDP payload, in an
 * allocation of exactly its size.
 */

#include <stdbool.h>

#include <common/proto.h>
#include <sluice/sluice.h>

#include "fuzz.h"
#include "reorder.h"

#define MS 1000000ull

static uint64_t delivered_bytes;

static int
ro_nak(void *arg, uint32_t topic, uint64_t first, uint64_t last)
{
	(void)arg;
	(void)topic;
	FUZZ_CHECK(first <= last);
	return 0;
}

static int
ro_credit(void *arg, uint32_t topic, uint64_t limit)
{
	(void)arg;
	(void)topic;
	(void)limit;
	return 0;
}

static void
ro_event(void *arg, const struct sl_event *ev)
{
	(void)arg;
	(void)ev;
}

/* A message handed to the application: every byte of it is readable. */
static void
on_msg(void *arg, const struct sl_message *m)
{
	const volatile uint8_t *d = m->data;
	uint32_t i;
	uint8_t x = 0;

	(void)arg;
	FUZZ_CHECK(m->len <= SL_MAX_MESSAGE);
	for (i = 0; i < m->len; i++)
		x ^= d[i];
	delivered_bytes += x;
}

/* The frame's parts lie inside it, and the frame inside the datagram. */
static void
check_frame(const uint8_t *buf, size_t len, size_t before, size_t after,
	    const struct sl_frame *f)
{
	const uint8_t *start = buf + f->off;

	FUZZ_CHECK(f->off == before);
	FUZZ_CHECK((const uint8_t *)f->hdr == start);
	FUZZ_CHECK(f->len == f->hdr->length);
	FUZZ_CHECK(f->len >= sizeof(struct sl_hdr) && f->len >= sl_proto_min_len(f->hdr->type));
	FUZZ_CHECK((size_t)f->off + f->len <= len);
	FUZZ_CHECK(after > before && after <= len);
	if (f->body_len > 0) {
		FUZZ_CHECK(f->body >= start + sizeof(struct sl_hdr));
		FUZZ_CHECK(f->body + f->body_len <= start + f->len);
	}
#ifdef SL_HDR_F_AUTH /* protocol 2: a MAC trailer per frame */
	if (f->trailer != NULL) {
		FUZZ_CHECK((const uint8_t *)f->trailer + sizeof(*f->trailer) == start + f->len);
		FUZZ_CHECK(f->body == NULL || f->body_len == 0 ||
			   f->body + f->body_len <= (const uint8_t *)f->trailer);
	}
#endif
	switch (f->hdr->type) {
	case SL_FT_PUBLISH:
	case SL_FT_DELIVER:
		FUZZ_CHECK(f->body_len <= SL_MAX_MESSAGE);
		break;
	case SL_FT_RESOLVE:
	case SL_FT_PSUBSCRIBE:
	case SL_FT_PUNSUBSCRIBE:
	case SL_FT_PRODUCER:
		FUZZ_CHECK(sl_proto_topic_name_valid((const char *)f->body, f->body_len));
		break;
	case SL_FT_PUBLISH_FRAG:
	case SL_FT_DELIVER_FRAG: {
		const struct sl_publish_frag *g = (const struct sl_publish_frag *)f->hdr;

		FUZZ_CHECK(g->frag_len == f->body_len && g->frag_len > 0);
		FUZZ_CHECK((uint64_t)g->frag_off + g->frag_len <= g->msg_len);
		FUZZ_CHECK(g->msg_len <= SL_MAX_MESSAGE);
		break;
	}
	case SL_FT_STATUS:
		FUZZ_CHECK(f->body_len % sizeof(struct sl_status_entry) == 0);
		break;
	default:
		break;
	}
}

/* The client's receive side, as client/rx.c drives it, without a socket. */
static void
client_rx(struct sl_reorder *ro, const struct sl_frame *f, uint64_t now)
{
	struct sl_ro_msg m;
	bool taken;
	int n;

	switch (f->hdr->type) {
	case SL_FT_DELIVER:
	case SL_FT_DELIVER_FRAG:
		m.flags = f->hdr->flags;
		m.data = f->body;
		m.len = f->body_len;
		if (f->hdr->type == SL_FT_DELIVER) {
			const struct sl_deliver *d = (const struct sl_deliver *)f->hdr;

			m.topic = d->topic_id;
			m.seq = d->seq;
			m.timestamp = d->timestamp;
			m.frag = false;
			m.msg_len = 0;
			m.frag_off = 0;
		} else {
			const struct sl_deliver_frag *d = (const struct sl_deliver_frag *)f->hdr;

			m.topic = d->topic_id;
			m.seq = d->seq;
			m.timestamp = d->timestamp;
			m.frag = true;
			m.msg_len = d->msg_len;
			m.frag_off = d->frag_off;
		}
		n = sl_ro_rx(ro, &m, on_msg, NULL, 64, now, &taken);
		FUZZ_CHECK(n >= 0 && n <= 64);
		if (!taken) {
			(void)sl_ro_drain(ro, on_msg, NULL, 1 << 20, now);
			n = sl_ro_rx(ro, &m, on_msg, NULL, 64, now, &taken);
			FUZZ_CHECK(n >= 0 && taken);
		}
		break;
	case SL_FT_STATUS: {
		const struct sl_status_entry *e = (const struct sl_status_entry *)f->body;
		uint32_t i, k = f->body_len / (uint32_t)sizeof(*e);

		for (i = 0; i < k; i++)
			sl_ro_status(ro, e[i].topic_id, e[i].last_seq, now);
		break;
	}
	case SL_FT_ERROR: {
		const struct sl_error_gap *g = (const struct sl_error_gap *)f->hdr;

		/* As client/rx.c on_gap: only a whole gap frame, first <= last. */
		if ((g->e.code == SL_E_REPLAY_GAP || g->e.code == SL_E_GAP_LOST ||
		     g->e.code == SL_E_SLOW_CONSUMER) &&
		    f->len >= sizeof(*g) && g->first <= g->last)
			sl_ro_lost(ro, (uint32_t)g->e.detail, g->first, g->last, g->e.code, now);
		break;
	}
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sl_ro_conf conf = {
		.window = 64,
		.slot_bytes = SL_MAX_PAYLOAD,
		.max_message = 1u << 16,
		.nak_delay_ns = MS / 2,
		.nak_retry_ns = 20 * MS,
		.gap_timeout_ns = 2000 * MS,
	};
	static const struct sl_ro_ops ops = { ro_nak, ro_credit, ro_event, NULL };
	struct sl_client_stats st;
	struct sl_reorder ro;
	struct sl_frame f;
	size_t off = 0, before, frames = 0;
	uint64_t now = 1000 * MS;
	uint8_t *buf;
	int rc;

	if (size > SL_MAX_DATAGRAM)
		return 0; /* the socket never hands over more */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	memset(&st, 0, sizeof(st));
	memset(&ro, 0, sizeof(ro));
	FUZZ_CHECK(sl_ro_init(&ro, &conf, &ops, &st) == 0);
	for (;;) {
		before = off;
		memset(&f, 0, sizeof(f));
		rc = sl_proto_next(buf, size, &off, &f);
		FUZZ_CHECK(rc <= 1 && rc > -SL_PROTO_ERR_MAX);
		if (rc <= 0) {
			/* Nothing consumed by a refusal. */
			FUZZ_CHECK(off == before);
			if (rc == -SL_PROTO_BAD_VERSION && f.hdr != NULL)
				FUZZ_CHECK((size_t)f.off + f.len <= size);
			break;
		}
		check_frame(buf, size, before, off, &f);
		FUZZ_CHECK(++frames <= size / 8);
		client_rx(&ro, &f, now);
		now += MS;
	}
	/* Timers: NAKs of holes, then giving up on them. */
	sl_ro_tick(&ro, now + 10 * MS);
	sl_ro_tick(&ro, now + 5000 * MS);
	(void)sl_ro_drain(&ro, on_msg, NULL, 1 << 20, now + 5000 * MS);
	sl_ro_fini(&ro);
	free(buf);
	return 0;
}
