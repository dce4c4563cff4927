/* SPDX-License-Identifier: BSD-3-Clause */
/* Replication protocol: codec round trips, seal and verify, forged, replayed, stale and malformed datagrams. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <common/cnc.h>
#include <common/crypto.h>
#include <common/repl.h>

#include "check.h"

#define NOW_MS 1700000000000ull

static uint8_t pair_key[SL_KEY_LEN];

static uint64_t buf_[SL_REPL_DGRAM_MAX / 8];

/* A datagram with one frame of each type, sealed; returns its length. */
static int
build_all(struct sl_repl_tx *tx, uint8_t *buf, uint32_t flags, uint64_t sent_ms)
{
	struct sl_repl_dgram d;
	struct sl_repl_topic t = { .rtopic = 7, .durability = 2, .backpressure = 1,
				   .retain_bytes = 1 << 20, .retain_age_s = 60,
				   .capacity_bytes = 8 << 20, .retransmit_window = 5,
				   .max_message = 65536, .last_seq = 99 };
	struct sl_repl_data m = { .rtopic = 7, .leader_epoch = 3, .seq = 42, .timestamp = 123,
				  .producer_id = 0xabcdef, .producer_seq = 17, .producer_epoch = 2,
				  .hdrs_len = 4 };
	static const char payload[] = "hdrsHELLO, standby";

	sl_repl_dgram_init(&d, buf, SL_REPL_DGRAM_MAX);
	CHECK_EQ(sl_repl_put_hb(&d, SL_HA_ROLE_PRIMARY, 3, 1000, 900, SL_REPL_HB_F_CAUGHT_UP), 0);
	CHECK_EQ(sl_repl_put_topic(&d, &t, "orders.eu", 9), 0);
	CHECK_EQ(sl_repl_put_pos(&d, 7, 2, 40, 1), 0);
	CHECK_EQ(sl_repl_put_trunc(&d, 7, 39), 0);
	CHECK_EQ(sl_repl_put_data(&d, &m, payload, sizeof(payload) - 1, 0),
		 (int)sizeof(payload) - 1);
	CHECK_EQ(sl_repl_put_ack(&d, 7, SL_REPL_ACK_F_GAP, 41, 42), 0);
	CHECK_EQ(sl_repl_put_lag(&d, 1234, 56789), 0);
	CHECK_EQ(d.frames, 7);
	return sl_repl_seal(tx, &d, SL_HA_ROLE_PRIMARY, 3, flags, sent_ms);
}

static void
check_frames(uint8_t *buf, uint32_t len)
{
	const struct sl_repl_fhdr *f;
	uint32_t off = sizeof(struct sl_repl_hdr), chunk;
	int type, n = 0;

	while ((type = sl_repl_next(buf, len, &off, &f)) > 0) {
		n++;
		switch (type) {
		case SL_REPL_HB: {
			const struct sl_repl_hb *h = (const void *)f;
			CHECK_EQ(h->role, SL_HA_ROLE_PRIMARY);
			CHECK_EQ(h->epoch, 3);
			CHECK_EQ(h->now_ns, 1000);
			CHECK_EQ(h->echo_ns, 900);
			CHECK_EQ(h->flags, SL_REPL_HB_F_CAUGHT_UP);
			break;
		}
		case SL_REPL_TOPIC: {
			const struct sl_repl_topic *t = (const void *)f;
			CHECK_EQ(t->rtopic, 7);
			CHECK_EQ(t->durability, 2);
			CHECK_EQ(t->backpressure, 1);
			CHECK_EQ(t->retain_bytes, 1 << 20);
			CHECK_EQ(t->capacity_bytes, 8 << 20);
			CHECK_EQ(t->max_message, 65536);
			CHECK_EQ(t->last_seq, 99);
			CHECK_EQ(t->name_len, 9);
			CHECK(memcmp(t + 1, "orders.eu", 9) == 0);
			break;
		}
		case SL_REPL_POS: {
			const struct sl_repl_pos *p = (const void *)f;
			CHECK_EQ(p->rtopic, 7);
			CHECK_EQ(p->last_epoch, 2);
			CHECK_EQ(p->last_seq, 40);
			CHECK_EQ(p->first_seq, 1);
			break;
		}
		case SL_REPL_TRUNC:
			CHECK_EQ(((const struct sl_repl_trunc *)f)->keep, 39);
			break;
		case SL_REPL_DATA: {
			const struct sl_repl_data *d = (const void *)f;
			const uint8_t *c = sl_repl_data_chunk(d, &chunk);
			CHECK_EQ(d->seq, 42);
			CHECK_EQ(d->leader_epoch, 3);
			CHECK_EQ(d->producer_id, 0xabcdef);
			CHECK_EQ(d->producer_seq, 17);
			CHECK_EQ(d->producer_epoch, 2);
			CHECK_EQ(d->hdrs_len, 4);
			CHECK_EQ(d->total_len, 18);
			CHECK_EQ(chunk, 18);
			CHECK(memcmp(c, "hdrsHELLO, standby", 18) == 0);
			break;
		}
		case SL_REPL_ACK: {
			const struct sl_repl_ack *a = (const void *)f;
			CHECK_EQ(a->flags, SL_REPL_ACK_F_GAP);
			CHECK_EQ(a->seq, 41);
			CHECK_EQ(a->last_seq, 42);
			break;
		}
		case SL_REPL_LAG: {
			const struct sl_repl_lag *l = (const void *)f;
			CHECK_EQ(l->records, 1234);
			CHECK_EQ(l->bytes, 56789);
			break;
		}
		default:
			CHECK(0);
		}
	}
	CHECK_EQ(type, 0);
	CHECK_EQ(n, 7);
}

static void
test_round_trip(uint32_t flags)
{
	uint8_t *buf = (uint8_t *)buf_;
	struct sl_repl_tx tx;
	struct sl_repl_rx rx;
	int len;

	sl_repl_tx_init(&tx, pair_key, sl_repl_incarnation(NOW_MS * 1000000, 5));
	sl_repl_rx_init(&rx, pair_key, 10000);
	len = build_all(&tx, buf, flags, NOW_MS);
	CHECK(len > 0 && len % 8 == 0);
	CHECK_EQ(((struct sl_repl_hdr *)buf)->counter, 1);
	if (flags & SL_REPL_F_ENC) /* the name is not in the clear */
		CHECK(memmem(buf, (size_t)len, "orders.eu", 9) == NULL);
	else
		CHECK(memmem(buf, (size_t)len, "orders.eu", 9) != NULL);
	CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS + 5), 0);
	check_frames(buf, (uint32_t)len);
	CHECK_EQ(rx.incarnation, tx.incarnation);
}

/* Every single-bit change of a sealed datagram is refused, and leaves it unchanged. */
static void
test_forged(uint32_t flags)
{
	uint8_t *buf = (uint8_t *)buf_, copy[SL_REPL_DGRAM_MAX];
	struct sl_repl_tx tx;
	struct sl_repl_rx rx;
	uint8_t other[SL_KEY_LEN];
	int len, bit, bad = 0;

	sl_repl_tx_init(&tx, pair_key, 4096);
	len = build_all(&tx, buf, flags, NOW_MS);
	memcpy(copy, buf, (size_t)len);
	for (bit = 0; bit < len * 8; bit += 7) {
		int rc;

		sl_repl_rx_init(&rx, pair_key, 10000);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS);
		/* Header bits may fail the header check first; none opens. */
		if (rc == 0)
			bad++;
		CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -EMSGSIZE || rc == -EINVAL ||
		      rc == -EALREADY);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(memcmp(buf, copy, (size_t)len) == 0);
		CHECK_EQ(rx.incarnation, 0);
	}
	CHECK_EQ(bad, 0);
	/* Sealed under another pair's key. */
	memset(other, 0x5a, sizeof(other));
	sl_repl_rx_init(&rx, other, 10000);
	CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS), -EBADMSG);
	CHECK(memcmp(buf, copy, (size_t)len) == 0);
	sl_repl_rx_init(&rx, pair_key, 10000);
	CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS), 0);
}

static void
test_replay(void)
{
	uint8_t *buf = (uint8_t *)buf_, first[SL_REPL_DGRAM_MAX], old[SL_REPL_DGRAM_MAX];
	struct sl_repl_tx tx, tx2;
	struct sl_repl_rx rx;
	int len, len1, lenold, i;

	sl_repl_tx_init(&tx, pair_key, 1000);
	sl_repl_rx_init(&rx, pair_key, 10000);
	lenold = build_all(&tx, old, 0, NOW_MS);
	CHECK_EQ(sl_repl_rx_open(&rx, old, (uint32_t)lenold, NOW_MS), 0);
	/* The same datagram again: a replay. */
	CHECK_EQ(sl_repl_rx_open(&rx, old, (uint32_t)lenold, NOW_MS), -EALREADY);
	/* Out of order within the window: accepted once each. */
	len1 = build_all(&tx, first, 0, NOW_MS);
	len = build_all(&tx, buf, 0, NOW_MS);
	CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS), 0);
	CHECK_EQ(sl_repl_rx_open(&rx, first, (uint32_t)len1, NOW_MS), 0);
	CHECK_EQ(sl_repl_rx_open(&rx, first, (uint32_t)len1, NOW_MS), -EALREADY);
	/* Never delivered, then far behind the window: refused too. */
	len1 = build_all(&tx, first, 0, NOW_MS);
	for (i = 0; i < SL_REPLAY_WINDOW + 2; i++)
		len = build_all(&tx, buf, 0, NOW_MS);
	CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS), 0);
	CHECK_EQ(sl_repl_rx_open(&rx, first, (uint32_t)len1, NOW_MS), -EALREADY);
	len1 = build_all(&tx, first, 0, NOW_MS); /* built, never delivered */
	/* A restart of the sender: a larger incarnation is followed... */
	sl_repl_tx_init(&tx2, pair_key, 2000);
	len = build_all(&tx2, buf, 0, NOW_MS);
	CHECK_EQ(((struct sl_repl_hdr *)buf)->counter, 1);
	CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS), 0);
	CHECK_EQ(rx.incarnation, 2000);
	/* ...and the earlier incarnation's datagrams are replays from then on. */
	CHECK_EQ(sl_repl_rx_open(&rx, first, (uint32_t)len1, NOW_MS), -EALREADY);
	CHECK_EQ(sl_repl_rx_open(&rx, old, (uint32_t)lenold, NOW_MS), -EALREADY);
	/* Stale: sent too long ago (a capture replayed to a restarted receiver). */
	sl_repl_rx_init(&rx, pair_key, 10000);
	CHECK_EQ(sl_repl_rx_open(&rx, old, (uint32_t)lenold, NOW_MS + 10001), -ETIMEDOUT);
	CHECK_EQ(rx.incarnation, 0);
	CHECK_EQ(sl_repl_rx_open(&rx, old, (uint32_t)lenold, NOW_MS - 20000), -ETIMEDOUT);
	/* Incarnations grow with the start time. */
	CHECK(sl_repl_incarnation(2000000000ull, 0xfff) < sl_repl_incarnation(2000001000ull, 0));
}

static void
test_bounds(void)
{
	uint8_t *buf = (uint8_t *)buf_;
	struct sl_repl_tx tx;
	struct sl_repl_rx rx;
	struct sl_repl_dgram d;
	struct sl_repl_data m = { .rtopic = 1, .seq = 1 };
	const struct sl_repl_fhdr *f;
	struct sl_repl_fhdr *fh;
	static uint8_t big[5000];
	uint32_t off, got = 0, frames = 0;
	int len, rc;

	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	sl_repl_tx_init(&tx, pair_key, 77);
	sl_repl_rx_init(&rx, pair_key, 10000);
	/* A record larger than a datagram goes in fragments, reassembled here. */
	while (got < sizeof(big)) {
		uint32_t chunk;

		sl_repl_dgram_init(&d, buf, SL_REPL_DGRAM_MAX);
		rc = sl_repl_put_data(&d, &m, big, sizeof(big), got);
		CHECK(rc > 0);
		if (rc <= 0)
			break;
		len = sl_repl_seal(&tx, &d, SL_HA_ROLE_PRIMARY, 1, 0, NOW_MS);
		CHECK(len <= SL_REPL_DGRAM_MAX);
		CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS), 0);
		off = sizeof(struct sl_repl_hdr);
		CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), SL_REPL_DATA);
		const uint8_t *c = sl_repl_data_chunk((const void *)f, &chunk);
		CHECK_EQ(((const struct sl_repl_data *)f)->frag_off, got);
		CHECK(memcmp(c, big + got, chunk) == 0);
		got += chunk;
		frames++;
	}
	CHECK_EQ(got, sizeof(big));
	CHECK(frames >= 4);
	/* A full datagram refuses more. */
	sl_repl_dgram_init(&d, buf, SL_REPL_DGRAM_MAX);
	while (sl_repl_put_ack(&d, 1, 0, 1, 1) == 0)
		;
	CHECK(d.len + SL_REPL_TAG_LEN <= SL_REPL_DGRAM_MAX);
	CHECK_EQ(sl_repl_put_pos(&d, 1, 1, 1, 1), -ENOSPC);
	CHECK_EQ(sl_repl_put_data(&d, &m, big, 100, 0), -ENOSPC);
	CHECK(sl_repl_put_topic(&d, &(struct sl_repl_topic){ 0 }, "", 0) == -EINVAL);
	CHECK(sl_repl_put_topic(&d, &(struct sl_repl_topic){ 0 }, (const char *)big, 201) ==
	      -EINVAL);

	/* Header checks. */
	len = build_all(&tx, buf, 0, NOW_MS);
	CHECK_EQ(sl_repl_hdr_check(buf, (uint32_t)len), 0);
	CHECK_EQ(sl_repl_hdr_check(buf, (uint32_t)len - 8), -EMSGSIZE);
	CHECK_EQ(sl_repl_hdr_check(buf, 20), -EMSGSIZE);
	((struct sl_repl_hdr *)buf)->version = 2;
	CHECK_EQ(sl_repl_hdr_check(buf, (uint32_t)len), -EPROTO);
	CHECK_EQ(sl_repl_rx_open(&rx, buf, (uint32_t)len, NOW_MS), -EPROTO);
	((struct sl_repl_hdr *)buf)->version = SL_REPL_VERSION;
	((struct sl_repl_hdr *)buf)->magic ^= 1;
	CHECK_EQ(sl_repl_hdr_check(buf, (uint32_t)len), -EPROTO);
	((struct sl_repl_hdr *)buf)->magic ^= 1;
	((struct sl_repl_hdr *)buf)->reserved = 1;
	CHECK_EQ(sl_repl_hdr_check(buf, (uint32_t)len), -EINVAL);
	((struct sl_repl_hdr *)buf)->reserved = 0;

	/* Frame walk: lengths out of bounds stop it; unknown types are skipped. */
	off = sizeof(struct sl_repl_hdr);
	fh = (struct sl_repl_fhdr *)(buf + off);
	fh->len = (uint32_t)len; /* past the end */
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), -EINVAL);
	fh->len = 4; /* below a frame header */
	off = sizeof(struct sl_repl_hdr);
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), -EINVAL);
	fh->len = sizeof(struct sl_repl_hb) - 8; /* below HB's */
	off = sizeof(struct sl_repl_hdr);
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), -EINVAL);
	fh->len = sizeof(struct sl_repl_hb);
	fh->type = 99;
	off = sizeof(struct sl_repl_hdr);
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), -ENOTSUP);
	CHECK_EQ(off, sizeof(struct sl_repl_hdr) + sizeof(struct sl_repl_hb));
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), SL_REPL_TOPIC);
	/* A TOPIC whose name length disagrees with its frame length. */
	((struct sl_repl_topic *)f)->name_len = 10;
	off = sizeof(struct sl_repl_hdr) + sizeof(struct sl_repl_hb);
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), -EINVAL);
	/* A DATA chunk past its record's length. */
	len = build_all(&tx, buf, 0, NOW_MS);
	off = sizeof(struct sl_repl_hdr);
	while ((rc = sl_repl_next(buf, (uint32_t)len, &off, &f)) > 0 && rc != SL_REPL_DATA)
		;
	CHECK_EQ(rc, SL_REPL_DATA);
	((struct sl_repl_data *)f)->total_len = 5;
	off = (uint32_t)((const uint8_t *)f - buf);
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), -EINVAL);
	((struct sl_repl_data *)f)->total_len = 18;
	((struct sl_repl_data *)f)->frag_off = 19;
	off = (uint32_t)((const uint8_t *)f - buf);
	CHECK_EQ(sl_repl_next(buf, (uint32_t)len, &off, &f), -EINVAL);
}

static void
test_key_parse(void)
{
	uint8_t k[SL_KEY_LEN];
	char s[80];

	for (int i = 0; i < 32; i++)
		sprintf(s + 2 * i, "%02x", i * 7);
	CHECK_EQ(sl_repl_key_parse(s, 64, k), 0);
	CHECK_EQ(k[1], 7);
	CHECK_EQ(k[31], (31 * 7) & 0xff);
	strcpy(s + 64, "\n");
	CHECK_EQ(sl_repl_key_parse(s, 65, k), 0);
	CHECK_EQ(sl_repl_key_parse(s, 63, k), -EINVAL);
	s[10] = 'g';
	CHECK_EQ(sl_repl_key_parse(s, 64, k), -EINVAL);
	CHECK_EQ(sl_repl_key_parse("", 0, k), -EINVAL);
}

int
main(void)
{
	if (sl_crypto_init() < 0)
		return 77;
	for (unsigned i = 0; i < sizeof(pair_key); i++)
		pair_key[i] = (uint8_t)(i * 13 + 1);
	test_round_trip(0);
	test_round_trip(SL_REPL_F_ENC);
	test_forged(0);
	test_forged(SL_REPL_F_ENC);
	test_replay();
	test_bounds();
	test_key_parse();
	return check_result("test_repl_proto");
}
