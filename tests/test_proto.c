/* SPDX-License-Identifier: BSD-3-Clause */
/* Codec tests: round trips and every class of bad frame. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/proto.h>

#include "check.h"


static uint8_t buf[4096] __attribute__((aligned(8)));

static void
test_publish_round_trip(void)
{
	struct sl_frame f;
	size_t off = 0;
	int n;

	n = sl_proto_put_publish(buf, sizeof(buf), 77, 5, SL_PUB_F_ACK_REQ, 9, 1234, "hello", 5);
	CHECK(n == (int)sizeof(struct sl_publish) + 5);
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == 1);
	CHECK(f.hdr->type == SL_FT_PUBLISH);
	CHECK(f.hdr->session == 77);
	CHECK(f.hdr->flags == SL_PUB_F_ACK_REQ);
	CHECK(((const struct sl_publish *)f.hdr)->topic_id == 5);
	CHECK(((const struct sl_publish *)f.hdr)->producer_seq == 9);
	CHECK(((const struct sl_publish *)f.hdr)->timestamp == 1234);
	CHECK(f.body_len == 5 && memcmp(f.body, "hello", 5) == 0);
	CHECK(off == (size_t)n);
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == 0);
}

/* Several frames share a datagram, each 8-byte aligned. */
static void
test_multi_frame(void)
{
	struct sl_frame f;
	size_t off = 0, len = 0;
	int n, i, count = 0;

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 5; i++) {
		n = sl_proto_put_publish(buf + len, sizeof(buf) - len, 1, (uint32_t)i + 1, 0,
					 (uint64_t)i, 0, "abc", (uint32_t)i);
		CHECK(n > 0);
		len += sl_proto_align((uint32_t)n);
	}
	n = sl_proto_put_resolve(buf + len, sizeof(buf) - len, 1, 42, "a.b.c", 5, 1);
	CHECK(n == (int)sizeof(struct sl_resolve) + 5);
	len += (size_t)n; /* last frame unpadded */
	while ((n = sl_proto_next(buf, len, &off, &f)) == 1) {
		CHECK(f.off % SL_FRAME_ALIGN == 0);
		if (count < 5) {
			CHECK(f.hdr->type == SL_FT_PUBLISH);
			CHECK(f.body_len == (uint32_t)count);
		} else {
			CHECK(f.hdr->type == SL_FT_RESOLVE);
			CHECK(f.body_len == 5 && memcmp(f.body, "a.b.c", 5) == 0);
			CHECK(((const struct sl_resolve *)f.hdr)->req_id == 42);
		}
		count++;
	}
	CHECK(n == 0);
	CHECK(count == 6);
}

/* Build one well-formed frame of @type with @extra body bytes. */
static size_t
make_frame(uint8_t type, uint32_t extra)
{
	uint32_t len = sl_proto_min_len(type) + extra;

	memset(buf, 0, sizeof(buf));
	sl_proto_hdr_init((struct sl_hdr *)buf, type, 0, len, 1);
	return len;
}

static int
parse_one(size_t len)
{
	struct sl_frame f;
	size_t off = 0;

	return sl_proto_next(buf, len, &off, &f);
}

static void
test_bad_frames(void)
{
	struct sl_hdr *h = (struct sl_hdr *)buf;
	size_t len;
	uint8_t t;

	/* Every known type parses at its minimum size and fails one byte short. */
	for (t = 0; t < 0xff; t++) {
		if (sl_proto_min_len(t) == 0) {
			len = make_frame(t, 0);
			h->length = 64;
			CHECK(parse_one(64) == -SL_PROTO_UNKNOWN_TYPE);
			continue;
		}
		if (t == SL_FT_RESOLVE || t == SL_FT_PSUBSCRIBE || t == SL_FT_PUNSUBSCRIBE ||
		    t == SL_FT_PRODUCER || t == SL_FT_PUBLISH_FRAG || t == SL_FT_DELIVER_FRAG)
			continue; /* need a name or data */
		if (t == SL_FT_GJOIN || t == SL_FT_GCTL || t == SL_FT_GACK)
			continue; /* zero fields are out of range: test_group_frames */
		len = make_frame(t, 0);
		CHECK(parse_one(len) == 1);
		h->length = (uint32_t)len - 1;
		CHECK(parse_one(len) == (len - 1 < sizeof(struct sl_hdr) ? -SL_PROTO_BAD_LENGTH
								    : -SL_PROTO_TRUNCATED));
	}
	/* Truncated header. */
	len = make_frame(SL_FT_HEARTBEAT, 0);
	CHECK(parse_one(15) == -SL_PROTO_TRUNCATED);
	CHECK(parse_one(1) == -SL_PROTO_TRUNCATED);
	/* Length past the datagram. */
	CHECK(parse_one(len - 1) == -SL_PROTO_BAD_LENGTH);
	/* Length overflow: huge values must not wrap the offset. */
	h->length = 0xffffffffu;
	CHECK(parse_one(len) == -SL_PROTO_BAD_LENGTH);
	h->length = 0xfffffff8u;
	CHECK(parse_one(len) == -SL_PROTO_BAD_LENGTH);
	/* Length below the header. */
	h->length = 0;
	CHECK(parse_one(len) == -SL_PROTO_BAD_LENGTH);
	h->length = 15;
	CHECK(parse_one(len) == -SL_PROTO_BAD_LENGTH);
	/* Version: 0 and anything above SL_PROTO_VERSION are refused;
	 * every known version parses (the session check is the caller's). */
	len = make_frame(SL_FT_HEARTBEAT, 0);
	h->version = SL_PROTO_VERSION + 1;
	CHECK(parse_one(len) == -SL_PROTO_BAD_VERSION);
	h->version = 0;
	CHECK(parse_one(len) == -SL_PROTO_BAD_VERSION);
	h->version = 1;
	CHECK(parse_one(len) == 1);
	/* A payload over a datagram's parses (a whole large message over
	 * shared memory); one over the largest message does not. */
	len = make_frame(SL_FT_PUBLISH, SL_MAX_PAYLOAD + 1);
	CHECK(parse_one(len) == 1);
	len = make_frame(SL_FT_PUBLISH, SL_MAX_PAYLOAD);
	CHECK(parse_one(len) == 1);
	{
		size_t big = sizeof(struct sl_publish) + SL_MAX_MESSAGE + 8, off = 0;
		uint8_t *b = calloc(1, big);
		struct sl_frame f;

		CHECK(b != NULL);
		sl_proto_hdr_init((struct sl_hdr *)b, SL_FT_PUBLISH, 0,
				  (uint32_t)sizeof(struct sl_publish) + SL_MAX_MESSAGE + 1, 1);
		CHECK(sl_proto_next(b, big, &off, &f) == -SL_PROTO_OVERSIZE);
		off = 0;
		sl_proto_hdr_init((struct sl_hdr *)b, SL_FT_PUBLISH, 0,
				  (uint32_t)sizeof(struct sl_publish) + SL_MAX_MESSAGE, 1);
		CHECK(sl_proto_next(b, big, &off, &f) == 1 && f.body_len == SL_MAX_MESSAGE);
		free(b);
	}
}

static void
test_resolve_validation(void)
{
	struct sl_resolve *r = (struct sl_resolve *)buf;
	char name[SL_MAX_TOPIC_NAME + 2];
	int n;

	memset(name, 'x', sizeof(name));
	CHECK(sl_proto_put_resolve(buf, sizeof(buf), 1, 1, name, SL_MAX_TOPIC_NAME, 0) > 0);
	CHECK(parse_one(sizeof(*r) + SL_MAX_TOPIC_NAME) == 1);
	CHECK(sl_proto_put_resolve(buf, sizeof(buf), 1, 1, name, SL_MAX_TOPIC_NAME + 1, 0) ==
	      -EINVAL);
	CHECK(sl_proto_put_resolve(buf, sizeof(buf), 1, 1, "", 0, 0) == -EINVAL);
	CHECK(sl_proto_put_resolve(buf, sizeof(buf), 1, 1, "a b", 3, 0) == -EINVAL);
	CHECK(sl_proto_put_resolve(buf, 10, 1, 1, "ab", 2, 0) == -ENOSPC);

	n = sl_proto_put_resolve(buf, sizeof(buf), 1, 1, "abcd", 4, 0);
	CHECK(n > 0);
	r->name_len = 3; /* disagrees with the frame length */
	CHECK(parse_one((size_t)n) == -SL_PROTO_BAD_LENGTH);
	r->name_len = 4;
	buf[sizeof(*r) + 1] = 0x01; /* control byte in the name */
	CHECK(parse_one((size_t)n) == -SL_PROTO_BAD_FIELD);

	/* Oversized name claimed in the field, frame long enough to hold it. */
	memset(buf, 'y', sizeof(buf));
	sl_proto_hdr_init(&r->h, SL_FT_RESOLVE, 0, sizeof(*r) + 300, 1);
	r->name_len = 300;
	CHECK(parse_one(sizeof(*r) + 300) == -SL_PROTO_OVERSIZE);
}

/* A bad frame after good ones: the good ones come out, then the error. */
/* Pattern subscriptions share RESOLVE's layout and checks. */
static void
test_psubscribe(void)
{
	struct sl_frame f;
	size_t off = 0;
	int n;

	n = sl_proto_put_psubscribe(buf, sizeof(buf), 3, 9, "a.*.>", 5, 0);
	CHECK(n == (int)sizeof(struct sl_resolve) + 5);
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == 1);
	CHECK(f.hdr->type == SL_FT_PSUBSCRIBE && f.body_len == 5);
	CHECK(memcmp(f.body, "a.*.>", 5) == 0);
	n = sl_proto_put_psubscribe(buf, sizeof(buf), 3, 9, "a b", 3, 1);
	CHECK(n == -EINVAL);
	n = sl_proto_put_psubscribe(buf, sizeof(buf), 3, 9, "x", 1, 1);
	CHECK(((struct sl_hdr *)buf)->type == SL_FT_PUNSUBSCRIBE);
}

/* Version 4: the header field of PUBLISH/DELIVER, filters after SUBSCRIBE
 * and PSUBSCRIBE, the frame version each carries. */
static void
test_v4_frames(void)
{
	struct sl_publish *p = (struct sl_publish *)buf;
	struct sl_subscribe *s = (struct sl_subscribe *)buf;
	struct sl_resolve *r = (struct sl_resolve *)buf;
	const uint8_t *flt;
	struct sl_frame f;
	uint32_t flen = 0;
	size_t off;
	int n;

	/* A block of 4 bytes (no header, key "k") and 3 of payload. */
	n = sl_proto_put_publish(buf, sizeof(buf), 1, 3, 0, 1, 0, "\x00\x02kkabc", 7);
	CHECK(n == 47 && p->h.version == 3);
	p->h.flags = SL_PUB_F_HDRS;
	p->hdrs_len = 4;
	off = 0;
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == 1 && f.body_len == 7);
	CHECK(sl_proto_hdrs_len(p) == 4);
	CHECK(sl_proto_frame_version(SL_FT_PUBLISH, SL_PUB_F_HDRS) == 4);
	CHECK(sl_proto_frame_version(SL_FT_DELIVER_FRAG, SL_DLV_F_HDRS) == 4);
	CHECK(sl_proto_frame_version(SL_FT_PUBLISH, SL_PUB_F_ACK_REQ) == 3);
	/* The block's length past the payload, over its bound, under 2, or
	 * the reserved half not 0: malformed. */
	p->hdrs_len = 8;
	off = 0;
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == -SL_PROTO_BAD_FIELD);
	p->hdrs_len = 1;
	off = 0;
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == -SL_PROTO_BAD_FIELD);
	p->hdrs_len = 4;
	p->reserved = 1;
	off = 0;
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == -SL_PROTO_BAD_FIELD);
	p->reserved = 0;
	p->h.flags = 0; /* hdrs_len without the flag: v3's non-zero word */
	off = 0;
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == -SL_PROTO_BAD_FIELD);
	memset(buf, 0, 64 + SL_MAX_HDRS_LEN + 8);
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, SL_PUB_F_HDRS, 40 + SL_MAX_HDRS_LEN + 8, 1);
	p->hdrs_len = SL_MAX_HDRS_LEN + 1;
	off = 0;
	CHECK(sl_proto_next(buf, 40 + SL_MAX_HDRS_LEN + 8, &off, &f) == -SL_PROTO_BAD_FIELD);
	p->hdrs_len = SL_MAX_HDRS_LEN;
	off = 0;
	CHECK(sl_proto_next(buf, 40 + SL_MAX_HDRS_LEN + 8, &off, &f) == 1);

	/* SUBSCRIBE with a filter: version 4, the filter to the frame's end. */
	memset(buf, 0, 128);
	sl_proto_hdr_init(&s->h, SL_FT_SUBSCRIBE, SL_SUB_F_FILTER, sizeof(*s) + 5, 1);
	CHECK(s->h.version == 4);
	memcpy(s + 1, "\x01\x02\x01\x00" "a", 5);
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*s) + 5, &off, &f) == 1);
	flt = sl_proto_filter_of(&f, &flen);
	CHECK(flt == (const uint8_t *)(s + 1) && flen == 5);
	s->h.length = sizeof(*s); /* the flag without a filter */
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*s), &off, &f) == -SL_PROTO_TRUNCATED);
	s->h.length = sizeof(*s) + SL_MAX_FILTER_LEN + 1;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(buf), &off, &f) == -SL_PROTO_OVERSIZE);
	s->h.flags = 0; /* no flag: extra bytes are an extension, no filter */
	s->h.length = sizeof(*s) + 5;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*s) + 5, &off, &f) == 1 &&
	      sl_proto_filter_of(&f, &flen) == NULL);

	/* PSUBSCRIBE: the pattern, then its filter. */
	n = sl_proto_put_psubscribe(buf, sizeof(buf), 3, 9, "a.>", 3, 0);
	memcpy(buf + n, "\x01\x02\x01\x00" "b", 5);
	r->h.flags = SL_SUB_F_FILTER;
	r->h.length = (uint32_t)n + 5;
	off = 0;
	CHECK(sl_proto_next(buf, (size_t)n + 5, &off, &f) == 1 && f.body_len == 3);
	flt = sl_proto_filter_of(&f, &flen);
	CHECK(flt == buf + n && flen == 5);
	r->h.length = (uint32_t)n; /* nothing after the name */
	off = 0;
	CHECK(sl_proto_next(buf, (size_t)n, &off, &f) == -SL_PROTO_BAD_LENGTH);
}

/* The group frames (v4, PROTOCOL.md 19): lengths and bounds. */
static void
test_group_frames(void)
{
	struct sl_gjoin *j = (struct sl_gjoin *)buf;
	struct sl_gctl *c = (struct sl_gctl *)buf;
	struct sl_gack *a = (struct sl_gack *)buf;
	struct sl_gnak *k = (struct sl_gnak *)buf;
	struct sl_frame f;
	size_t off;

	CHECK(SL_FT_GJOIN == 0x19 && SL_FT_GROUP == 0x1A && SL_FT_GCTL == 0x1B &&
	      SL_FT_GDELIVER == 0x24 && SL_FT_GACK == 0x33 && SL_FT_GNAK == 0x34);
	CHECK(sl_proto_min_len(SL_FT_GROUP) == 56 && sl_proto_min_len(SL_FT_GDELIVER) == 48);

	make_frame(SL_FT_GJOIN, 0);
	CHECK(j->h.version == 4);
	j->credit = 16;
	j->member_id = 7;
	memcpy(j->group, "workers", 7);
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j), &off, &f) == 1);
	j->credit = SL_MAX_GROUP_CREDIT + 1;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j), &off, &f) == -SL_PROTO_BAD_FIELD);
	j->credit = 16;
	j->member_id = 0;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j), &off, &f) == -SL_PROTO_BAD_FIELD);
	j->member_id = 7;
	memset(j->group, 'g', sizeof(j->group)); /* not terminated */
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j), &off, &f) == -SL_PROTO_BAD_FIELD);
	memset(j->group, 0, sizeof(j->group));
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j), &off, &f) == -SL_PROTO_BAD_FIELD); /* empty */
	memcpy(j->group, "workers", 7);
	j->flags = SL_GJOIN_F_FILTER; /* flag, but no filter */
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j), &off, &f) == -SL_PROTO_TRUNCATED);
	memcpy(j + 1, "\x01\x02\x01\x00" "a", 5);
	j->h.length = sizeof(*j) + 5;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j) + 5, &off, &f) == 1 && f.body_len == 5);
	j->flags = 1u << 5;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*j) + 5, &off, &f) == -SL_PROTO_BAD_FIELD);

	make_frame(SL_FT_GCTL, 0);
	c->op = SL_GCTL_PAUSE;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*c), &off, &f) == 1);
	c->op = SL_GCTL_FETCH; /* FETCH needs n */
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*c), &off, &f) == -SL_PROTO_BAD_FIELD);
	c->n = 10;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*c), &off, &f) == 1);
	c->op = 9;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*c), &off, &f) == -SL_PROTO_BAD_FIELD);

	make_frame(SL_FT_GACK, 16);
	a->n = 2;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*a) + 16, &off, &f) == 1 && f.body_len == 16);
	a->n = 3; /* more seqs than the frame holds */
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*a) + 16, &off, &f) == -SL_PROTO_BAD_LENGTH);
	a->n = SL_MAX_GACK_SEQS + 1;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*a) + 16, &off, &f) == -SL_PROTO_BAD_FIELD);
	a->n = 2;
	a->flags = SL_GACK_F_CUMULATIVE; /* cumulative names one seq */
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*a) + 16, &off, &f) == -SL_PROTO_BAD_FIELD);

	make_frame(SL_FT_GNAK, 0);
	k->delay_ms = SL_MAX_NAK_DELAY;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*k), &off, &f) == 1);
	k->delay_ms = SL_MAX_NAK_DELAY + 1;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(*k), &off, &f) == -SL_PROTO_BAD_FIELD);
	CHECK(strcmp(sl_proto_type_name(SL_FT_GACK), "gack") == 0);
	CHECK(strcmp(sl_error_code_str(SL_E_BAD_HEADERS), "unknown error code") != 0);
}

static void
test_bad_after_good(void)
{
	struct sl_frame f;
	size_t off = 0, len;
	int n;

	n = sl_proto_put_publish(buf, sizeof(buf), 1, 3, 0, 1, 0, "x", 1);
	len = sl_proto_align((uint32_t)n);
	memset(buf + len, 0xee, 16); /* garbage header */
	len += 16;
	CHECK(sl_proto_next(buf, len, &off, &f) == 1);
	CHECK(sl_proto_next(buf, len, &off, &f) == -SL_PROTO_BAD_VERSION);
}

/* Version 2's rules (PROTOCOL.md 9): a HELLO parses whatever its header
 * version; a later version's frame is refused with its header still handed
 * out so the broker can answer SL_E_VERSION; WELCOME and SUBSCRIBE are
 * their version 2 sizes. */
static void
test_versions(void)
{
	struct sl_hdr *h = (struct sl_hdr *)buf;
	struct sl_frame f;
	size_t off;
	unsigned v;

	CHECK(SL_PROTO_VERSION == 4 && SL_PROTO_VERSION_MIN == 3 && SL_PROTO_HELLO_VERSION == 1);
	memset(buf, 0, sizeof(buf));
	/* A frame carries the version that defines it (PROTOCOL.md 9). */
	sl_proto_hdr_init(h, SL_FT_HELLO, 0, sizeof(struct sl_hello), 0);
	CHECK(h->version == 3);
	for (v = 1; v <= 255; v++) {
		h->version = (uint8_t)v;
		off = 0;
		CHECK(sl_proto_next(buf, sizeof(struct sl_hello), &off, &f) == 1);
	}
	h->version = 0;
	off = 0;
	CHECK(sl_proto_next(buf, sizeof(struct sl_hello), &off, &f) == -SL_PROTO_BAD_VERSION);

	sl_proto_hdr_init(h, SL_FT_PUBLISH, 0, sizeof(struct sl_publish), 9);
	CHECK(h->version == 3);
	h->version = 5;
	off = 0;
	memset(&f, 0, sizeof(f));
	CHECK(sl_proto_next(buf, sizeof(struct sl_publish), &off, &f) == -SL_PROTO_BAD_VERSION);
	CHECK(f.hdr == h && f.hdr->type == SL_FT_PUBLISH && f.hdr->session == 9);
	CHECK(off == 0);

	CHECK(sl_proto_min_len(SL_FT_WELCOME) == 56);
	CHECK(sl_proto_min_len(SL_FT_SUBSCRIBE) == 40);
	CHECK(sl_proto_min_len(SL_FT_UNSUBSCRIBE) == 40);
	/* A version 1 WELCOME (40 bytes) or SUBSCRIBE (32) is too short now. */
	sl_proto_hdr_init(h, SL_FT_WELCOME, 0, 40, 1);
	off = 0;
	CHECK(sl_proto_next(buf, 40, &off, &f) == -SL_PROTO_TRUNCATED);
	sl_proto_hdr_init(h, SL_FT_SUBSCRIBE, 0, 32, 1);
	off = 0;
	CHECK(sl_proto_next(buf, 32, &off, &f) == -SL_PROTO_TRUNCATED);
	sl_proto_hdr_init(h, SL_FT_SUBSCRIBE, 0, 40, 1);
	off = 0;
	CHECK(sl_proto_next(buf, 40, &off, &f) == 1);
}

/*
 * SEAL (v3): the envelope alone is checked: at least header, seq and tag,
 * a multiple of 8; body spans the inner bytes. PUBLISH and DELIVER carry
 * payload_len 0 (v2's trailer length is malformed now).
 */
static void
test_seal_envelope(void)
{
	struct sl_seal *s = (struct sl_seal *)buf;
	struct sl_publish *p;
	struct sl_frame f, in;
	size_t off, ioff;
	uint32_t len;

	memset(buf, 0, sizeof(buf));
	CHECK(sl_proto_min_len(SL_FT_SEAL) == 40);
	CHECK(sl_proto_put_publish(buf + 24, 64, 5, 7, 0, 1, 2, "abcdefgh", 8) == 48);
	len = 24 + 48 + 16;
	sl_proto_hdr_init(&s->h, SL_FT_SEAL, 0, len, 5);
	s->seq = 1;
	off = 0;
	CHECK(sl_proto_next(buf, len, &off, &f) == 1 && f.hdr->type == SL_FT_SEAL);
	CHECK(off == len && f.body == buf + 24 && f.body_len == 48);
	ioff = 0;
	CHECK(sl_proto_next(f.body, f.body_len, &ioff, &in) == 1);
	CHECK(in.hdr->type == SL_FT_PUBLISH && in.body_len == 8);
	CHECK(memcmp(in.body, "abcdefgh", 8) == 0);
	/* Not a multiple of 8. */
	s->h.length = len - 4;
	off = 0;
	CHECK(sl_proto_next(buf, len, &off, &f) == -SL_PROTO_BAD_LENGTH);
	/* Too short for the tag. */
	s->h.length = 32;
	off = 0;
	CHECK(sl_proto_next(buf, len, &off, &f) == -SL_PROTO_TRUNCATED);
	/* Longer than the datagram. */
	s->h.length = len + 8;
	off = 0;
	CHECK(sl_proto_next(buf, len, &off, &f) == -SL_PROTO_BAD_LENGTH);
	/* The smallest: nothing inside. */
	s->h.length = 40;
	off = 0;
	CHECK(sl_proto_next(buf, 40, &off, &f) == 1 && f.body_len == 0);

	/* PUBLISH with a payload length: malformed in v3. */
	p = (struct sl_publish *)buf;
	CHECK(sl_proto_put_publish(buf, 64, 5, 7, 0, 1, 2, "abcdefgh", 8) == 48);
	p->hdrs_len = 8; /* without SL_PUB_F_HDRS */
	off = 0;
	CHECK(sl_proto_next(buf, 48, &off, &f) == -SL_PROTO_BAD_FIELD);
	p->h.type = SL_FT_DELIVER;
	off = 0;
	CHECK(sl_proto_next(buf, 48, &off, &f) == -SL_PROTO_BAD_FIELD);
	p->hdrs_len = 0;
	off = 0;
	CHECK(sl_proto_next(buf, 48, &off, &f) == 1 && f.body_len == 8);
	CHECK(strcmp(sl_proto_type_name(SL_FT_SEAL), "seal") == 0);
}

static void
test_put_limits(void)
{
	static uint8_t big[SL_MAX_PAYLOAD + 1];

	CHECK(sl_proto_put_publish(buf, sizeof(buf), 1, 1, 0, 1, 0, big, sizeof(big)) ==
	      -EMSGSIZE);
	CHECK(sl_proto_put_publish(buf, 40, 1, 1, 0, 1, 0, big, 1) == -ENOSPC);
	CHECK(sl_proto_put_publish(buf, 40, 1, 1, 0, 1, 0, NULL, 0) == 40);
}

/* Pseudo-random garbage never crashes the parser and never runs past the end. */
static void
test_random_garbage(void)
{
	struct sl_frame f;
	uint64_t x = 88172645463325252ull;
	int iter, i, rc;

	for (iter = 0; iter < 200000; iter++) {
		size_t len, off = 0;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = x % 200;
		for (i = 0; i < (int)len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		if (len >= 2 && (iter & 1)) {
			buf[0] = SL_PROTO_VERSION; /* get past the version check often */
			buf[1] = (uint8_t)(iter & 0x7f);
		}
		while ((rc = sl_proto_next(buf, len, &off, &f)) == 1) {
			CHECK(f.off + f.len <= len);
			CHECK(off <= len);
		}
		CHECK(rc <= 0 && rc > -SL_PROTO_ERR_MAX);
	}
}

static void
test_names(void)
{
	CHECK(strcmp(sl_proto_type_name(SL_FT_PUBLISH), "publish") == 0);
	CHECK(strcmp(sl_proto_type_name(0xee), "unknown") == 0);
	CHECK(strcmp(sl_proto_err_name(-SL_PROTO_OVERSIZE), "oversize") == 0);
	CHECK(strcmp(sl_proto_err_name(99), "unknown") == 0);
	CHECK(strcmp(sl_error_code_str(SL_E_UNKNOWN_TOPIC), "no such topic") == 0);
}

/* The key hash and partition choice against the vectors written in
 * PROTOCOL.md 7.4 (any client computes the same), partition names, and the
 * TOPIC with a partition map both ways. */
static void
test_partitions(void)
{
	static const struct {
		const char *key;
		size_t len;
		uint64_t hash;
		uint32_t mod4, mod7;
	} v[] = {
		{ "a", 1, 0xed8170de1919a24dull, 1, 0 },
		{ "key-1", 5, 0x82cf29c031760973ull, 3, 4 },
		{ "order-42", 8, 0x90fb18c753c91d08ull, 0, 5 },
		{ "sluice", 6, 0x08227bb4a7f6f8a0ull, 0, 1 },
		{ "\x00\xff", 2, 0x24087fa6bb7ba314ull, 0, 5 },
		{ "", 0, 0xecba3df2c3383c52ull, 2, 0 },
	};
	uint64_t f[(sizeof(struct sl_topic_parts) + 4 * SL_MAX_PARTITIONS) / 8 + 1];
	uint32_t ids[SL_MAX_PARTITIONS], got[SL_MAX_PARTITIONS], i;
	struct sl_topic_parts *tp = (struct sl_topic_parts *)f;
	char name[SL_MAX_TOPIC_NAME + 1], big[SL_MAX_TOPIC_NAME + 1];
	struct sl_frame fr;
	size_t off = 0;
	int len;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK(sl_key_hash(v[i].key, v[i].len) == v[i].hash);
		if (v[i].len) {
			CHECK_EQ(sl_key_partition(v[i].key, v[i].len, 4), v[i].mod4);
			CHECK_EQ(sl_key_partition(v[i].key, v[i].len, 7), v[i].mod7);
			CHECK_EQ(sl_key_partition(v[i].key, v[i].len, 1), 0);
		}
	}
	/* Names: NAME#i, i in decimal without leading zeros. */
	CHECK_EQ(sl_proto_part_name(name, sizeof(name), "orders", 6, 0), 8);
	CHECK(strcmp(name, "orders#0") == 0);
	CHECK_EQ(sl_proto_part_name(name, sizeof(name), "orders", 6, 63), 9);
	CHECK(strcmp(name, "orders#63") == 0);
	CHECK(sl_proto_topic_name_valid(name, 9));
	memset(big, 'x', sizeof(big));
	CHECK_EQ(sl_proto_part_name(name, sizeof(name), big, 197, 9), 199);
	CHECK_EQ(sl_proto_part_name(name, sizeof(name), big, 197, 10), 200);
	CHECK_EQ(sl_proto_part_name(name, sizeof(name), big, 198, 10), -ENAMETOOLONG);
	CHECK_EQ(sl_proto_part_name(name, 5, "orders", 6, 1), -ENAMETOOLONG);
	/* TOPIC with a map: written, parsed as a TOPIC, read back. */
	for (i = 0; i < SL_MAX_PARTITIONS; i++)
		ids[i] = 100 + i;
	len = sl_proto_put_topic_parts(f, sizeof(f), 7, 9, 42, ids, 4);
	CHECK_EQ(len, 32 + 16);
	CHECK(sl_proto_next(f, (size_t)len, &off, &fr) == 1 && fr.hdr->type == SL_FT_TOPIC);
	CHECK_EQ(((const struct sl_topic_reply *)fr.hdr)->topic_id, 42);
	CHECK_EQ(sl_proto_topic_parts(fr.hdr, fr.len, got, SL_MAX_PARTITIONS), 4);
	CHECK(got[0] == 100 && got[3] == 103);
	CHECK_EQ(sl_proto_topic_parts(fr.hdr, fr.len, got, 3), -EBADMSG); /* no room */
	len = sl_proto_put_topic_parts(f, sizeof(f), 7, 9, 42, ids, SL_MAX_PARTITIONS);
	CHECK_EQ(len, 32 + 4 * SL_MAX_PARTITIONS);
	CHECK_EQ(sl_proto_topic_parts(f, (uint32_t)len, got, SL_MAX_PARTITIONS),
		 SL_MAX_PARTITIONS);
	CHECK_EQ(sl_proto_put_topic_parts(f, sizeof(f), 7, 9, 42, ids, 0), -EINVAL);
	CHECK_EQ(sl_proto_put_topic_parts(f, sizeof(f), 7, 9, 42, ids, SL_MAX_PARTITIONS + 1),
		 -EINVAL);
	CHECK_EQ(sl_proto_put_topic_parts(f, 40, 7, 9, 42, ids, 4), -ENOSPC);
	/* An ordinary TOPIC has no map; a malformed map is refused. */
	CHECK_EQ(sl_proto_topic_parts(f, 24, got, SL_MAX_PARTITIONS), 0);
	sl_proto_put_topic_parts(f, sizeof(f), 7, 9, 42, ids, 4);
	CHECK_EQ(sl_proto_topic_parts(f, 32 + 12, got, SL_MAX_PARTITIONS), -EBADMSG);
	tp->n_parts = 0;
	CHECK_EQ(sl_proto_topic_parts(f, 48, got, SL_MAX_PARTITIONS), -EBADMSG);
	tp->n_parts = SL_MAX_PARTITIONS + 1;
	CHECK_EQ(sl_proto_topic_parts(f, sizeof(f), got, SL_MAX_PARTITIONS + 1), -EBADMSG);
	tp->n_parts = 4;
	((uint32_t *)(tp + 1))[2] = 0;
	CHECK_EQ(sl_proto_topic_parts(f, 48, got, SL_MAX_PARTITIONS), -EBADMSG);
	CHECK(strcmp(sl_error_code_str(SL_E_PARTITIONED), "unknown error code") != 0);
}

int
main(void)
{
	test_publish_round_trip();
	test_multi_frame();
	test_bad_frames();
	test_resolve_validation();
	test_bad_after_good();
	test_versions();
	test_seal_envelope();
	test_psubscribe();
	test_v4_frames();
	test_group_frames();
	test_put_limits();
	test_random_garbage();
	test_names();
	test_partitions();
	return check_result("test_proto");
}
