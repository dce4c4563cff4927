/* SPDX-License-Identifier: BSD-3-Clause */
/* Codec for the Sluice wire protocol (versions 3 and 4), shared by the dataplane and libsluice. */

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <common/proto.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the wire format is little-endian and the codec maps it directly");

_Static_assert(sizeof(struct sl_hdr) == 16, "sl_hdr");
_Static_assert(offsetof(struct sl_hdr, length) == 4, "sl_hdr.length");
_Static_assert(offsetof(struct sl_hdr, session) == 8, "sl_hdr.session");
_Static_assert(sizeof(struct sl_hello) == 64, "sl_hello");
_Static_assert(offsetof(struct sl_hello, nonce) == 24, "sl_hello.nonce");
_Static_assert(sizeof(struct sl_welcome) == 56, "sl_welcome");
_Static_assert(offsetof(struct sl_welcome, session_timeout_ms) == 52, "sl_welcome.timeout");
_Static_assert(sizeof(struct sl_challenge) == 72, "sl_challenge");
_Static_assert(offsetof(struct sl_challenge, issued) == 32, "sl_challenge.issued");
_Static_assert(offsetof(struct sl_challenge, cookie) == 56, "sl_challenge.cookie");
_Static_assert(sizeof(struct sl_auth) == 152, "sl_auth");
_Static_assert(offsetof(struct sl_auth, client_nonce) == 72, "sl_auth.client_nonce");
_Static_assert(offsetof(struct sl_auth, name) == 88, "sl_auth.name");
_Static_assert(offsetof(struct sl_auth, proof) == 120, "sl_auth.proof");
_Static_assert(sizeof(struct sl_seal) == 24, "sl_seal");
_Static_assert(SL_HELLO_MIN_LEN >= sizeof(struct sl_challenge) &&
		       SL_HELLO_MIN_LEN >= sizeof(struct sl_error),
	       "no answer to a HELLO is longer than the HELLO");
_Static_assert(sizeof(struct sl_resolve) == 24, "sl_resolve");
_Static_assert(sizeof(struct sl_topic_reply) == 24, "sl_topic_reply");
_Static_assert(sizeof(struct sl_topic_parts) == 32, "sl_topic_parts");
_Static_assert(sizeof(struct sl_topic_name) == 32, "sl_topic_name");
_Static_assert(offsetof(struct sl_topic_name, n_parts) == 24, "sl_topic_name.n_parts");
_Static_assert(offsetof(struct sl_topic_name, name_len) == 26, "sl_topic_name.name_len");
_Static_assert(offsetof(struct sl_welcome, features) == 38, "sl_welcome.features");
_Static_assert(offsetof(struct sl_topic_parts, n_parts) == 24, "sl_topic_parts.n_parts");
_Static_assert(sizeof(struct sl_subscribe) == 40, "sl_subscribe");
_Static_assert(sizeof(struct sl_producer) == 32, "sl_producer");
_Static_assert(sizeof(struct sl_producer_id) == 32, "sl_producer_id");
_Static_assert(sizeof(struct sl_publish_frag) == 48, "sl_publish_frag");
_Static_assert(sizeof(struct sl_deliver_frag) == 48, "sl_deliver_frag");
_Static_assert(sizeof(struct sl_nak) == 40, "sl_nak");
_Static_assert(sizeof(struct sl_credit) == 32, "sl_credit");
_Static_assert(sizeof(struct sl_status) == 24, "sl_status");
_Static_assert(sizeof(struct sl_status_entry) == 16, "sl_status_entry");
_Static_assert(sizeof(struct sl_ok) == 32, "sl_ok");
_Static_assert(sizeof(struct sl_publish) == 40, "sl_publish");
_Static_assert(offsetof(struct sl_publish, producer_seq) == 24, "sl_publish.pseq");
_Static_assert(sizeof(struct sl_deliver) == 40, "sl_deliver");
_Static_assert(offsetof(struct sl_deliver, seq) == 24, "sl_deliver.seq");
_Static_assert(sizeof(struct sl_ack) == 40, "sl_ack");
_Static_assert(sizeof(struct sl_heartbeat) == 24, "sl_heartbeat");
_Static_assert(sizeof(struct sl_error) == 32, "sl_error");
_Static_assert(sizeof(struct sl_error_gap) == 48, "sl_error_gap");
_Static_assert(sizeof(struct sl_error_moved) == 64, "sl_error_moved");
_Static_assert(offsetof(struct sl_error_moved, addr) == 32, "sl_error_moved.addr");
_Static_assert(offsetof(struct sl_error_moved, pair) == 44, "sl_error_moved.pair");
_Static_assert(offsetof(struct sl_publish, hdrs_len) == 20, "sl_publish.hdrs_len");
_Static_assert(offsetof(struct sl_deliver, hdrs_len) == 20, "sl_deliver.hdrs_len");
_Static_assert(sizeof(struct sl_skip) == 40, "sl_skip");
_Static_assert(sizeof(struct sl_gjoin) == 72, "sl_gjoin");
_Static_assert(offsetof(struct sl_gjoin, member_id) == 24, "sl_gjoin.member_id");
_Static_assert(offsetof(struct sl_gjoin, group) == 32, "sl_gjoin.group");
_Static_assert(offsetof(struct sl_gjoin, req_id) == 68, "sl_gjoin.req_id");
_Static_assert(sizeof(struct sl_group_reply) == 56, "sl_group_reply");
_Static_assert(offsetof(struct sl_group_reply, member_id) == 40, "sl_group_reply.member_id");
_Static_assert(sizeof(struct sl_gctl) == 32, "sl_gctl");
_Static_assert(sizeof(struct sl_gdeliver) == 48, "sl_gdeliver");
_Static_assert(offsetof(struct sl_gdeliver, group_id) == 40, "sl_gdeliver.group_id");
_Static_assert(sizeof(struct sl_gack) == 24, "sl_gack");
_Static_assert(sizeof(struct sl_gnak) == 40, "sl_gnak");
_Static_assert(SL_MAX_HDRS_LEN <= SL_MAX_FRAG_DATA, "a header block fits a message's first piece");
/* 40: a SEAL's header, sequence and tag (common/crypto.h SL_SEAL_OVERHEAD). */
_Static_assert(SL_MAX_PAYLOAD + sizeof(struct sl_publish) + 40 <= SL_MAX_DATAGRAM,
	       "one maximal publish fits a sealed datagram");
_Static_assert(SL_MAX_FRAG_DATA + sizeof(struct sl_publish_frag) + 40 <= SL_MAX_DATAGRAM,
	       "one maximal fragment fits a sealed datagram");

static const uint16_t min_len[256] = {
	[SL_FT_HELLO] = sizeof(struct sl_hello),
	[SL_FT_CHALLENGE] = sizeof(struct sl_challenge),
	[SL_FT_AUTH] = sizeof(struct sl_auth),
	[SL_FT_WELCOME] = sizeof(struct sl_welcome),
	[SL_FT_GOODBYE] = sizeof(struct sl_hdr),
	[SL_FT_SEAL] = sizeof(struct sl_seal) + 16, /* header, seq, tag */
	[SL_FT_RESOLVE] = sizeof(struct sl_resolve),
	[SL_FT_TOPIC] = sizeof(struct sl_topic_reply),
	[SL_FT_SUBSCRIBE] = sizeof(struct sl_subscribe),
	[SL_FT_UNSUBSCRIBE] = sizeof(struct sl_subscribe),
	[SL_FT_PRODUCER] = sizeof(struct sl_producer),
	[SL_FT_PRODUCER_ID] = sizeof(struct sl_producer_id),
	[SL_FT_PUBLISH_FRAG] = sizeof(struct sl_publish_frag),
	[SL_FT_DELIVER_FRAG] = sizeof(struct sl_deliver_frag),
	[SL_FT_NAK] = sizeof(struct sl_nak),
	[SL_FT_CREDIT] = sizeof(struct sl_credit),
	[SL_FT_STATUS] = sizeof(struct sl_status),
	[SL_FT_OK] = 24, /* 32 in version 2: seq read only from frames that hold it */
	[SL_FT_PSUBSCRIBE] = sizeof(struct sl_resolve),
	[SL_FT_PUNSUBSCRIBE] = sizeof(struct sl_resolve),
	[SL_FT_PUBLISH] = sizeof(struct sl_publish),
	[SL_FT_DELIVER] = sizeof(struct sl_deliver),
	[SL_FT_ACK] = sizeof(struct sl_ack),
	[SL_FT_HEARTBEAT] = sizeof(struct sl_heartbeat),
	[SL_FT_ERROR] = sizeof(struct sl_error),
	[SL_FT_SKIP] = sizeof(struct sl_skip),
	[SL_FT_GJOIN] = sizeof(struct sl_gjoin),
	[SL_FT_GROUP] = sizeof(struct sl_group_reply),
	[SL_FT_GCTL] = sizeof(struct sl_gctl),
	[SL_FT_GDELIVER] = sizeof(struct sl_gdeliver),
	[SL_FT_GACK] = sizeof(struct sl_gack),
	[SL_FT_GNAK] = sizeof(struct sl_gnak),
};

uint32_t
sl_proto_min_len(uint8_t type)
{
	return min_len[type];
}

/* The variable part of a frame (a name, or a fragment's data) of @len bytes,
 * at most @max: it fills the frame's body. */
static int
var_part(struct sl_frame *f, uint32_t len, uint32_t max)
{
	if (len > max)
		return -SL_PROTO_OVERSIZE;
	if (len != f->body_len)
		return -SL_PROTO_BAD_LENGTH;
	return 0;
}

uint8_t
sl_proto_frame_version(uint8_t type, uint16_t flags)
{
	switch (type) {
	case SL_FT_PUBLISH:
	case SL_FT_DELIVER:
	case SL_FT_PUBLISH_FRAG:
	case SL_FT_DELIVER_FRAG:
		/* SL_PUB_F_HDRS and SL_DLV_F_HDRS are both bit 2. */
		return (flags & SL_PUB_F_HDRS) ? SL_PROTO_V4 : 3u;
	case SL_FT_SUBSCRIBE:
	case SL_FT_PSUBSCRIBE:
		return (flags & SL_SUB_F_FILTER) ? SL_PROTO_V4 : 3u;
	case SL_FT_SKIP:
	case SL_FT_GJOIN:
	case SL_FT_GROUP:
	case SL_FT_GCTL:
	case SL_FT_GDELIVER:
	case SL_FT_GACK:
	case SL_FT_GNAK:
		return SL_PROTO_V4;
	default:
		return 3u;
	}
}

/* Offset 20 of a PUBLISH or DELIVER (GDELIVER's too): v3's zero word, or
 * with the header flag v4's hdrs_len, within the payload area of @body_len
 * bytes; reserved stays 0. The block's content is the receiver's check
 * (common/hdrs.h), so that a broker can answer it. */
static int
hdrs_field(const struct sl_publish *p, uint32_t body_len)
{
	if (p->reserved != 0)
		return -SL_PROTO_BAD_FIELD;
	if (!(p->h.flags & SL_PUB_F_HDRS))
		return p->hdrs_len == 0 ? 0 : -SL_PROTO_BAD_FIELD;
	/* Two bytes at least: the header count and the key length. */
	if (p->hdrs_len < 2 || p->hdrs_len > SL_MAX_HDRS_LEN || p->hdrs_len > body_len)
		return -SL_PROTO_BAD_FIELD;
	return 0;
}

/* A filter after a fixed part, with flag @has: @f's body (1..SL_MAX_FILTER_LEN
 * bytes); without the flag nothing may follow but ignored extension bytes. */
static int
filter_part(struct sl_frame *f, int has)
{
	if (!has) {
		f->body_len = 0;
		return 0;
	}
	if (f->body_len == 0)
		return -SL_PROTO_TRUNCATED;
	return f->body_len > SL_MAX_FILTER_LEN ? -SL_PROTO_OVERSIZE : 0;
}

/* Group frames (v4): lengths and bounds; what they name is the broker's. */
static int
group_body(struct sl_frame *f, const uint8_t *p)
{
	switch (f->hdr->type) {
	case SL_FT_GJOIN: {
		const struct sl_gjoin *j = (const struct sl_gjoin *)p;

		if (j->credit == 0 || j->credit > SL_MAX_GROUP_CREDIT || j->member_id == 0 ||
		    j->group[0] == 0 || j->group[SL_GROUP_NAME_LEN - 1] != 0 ||
		    (j->flags & ~(SL_GJOIN_F_PULL | SL_GJOIN_F_FILTER)))
			return -SL_PROTO_BAD_FIELD;
		return filter_part(f, (j->flags & SL_GJOIN_F_FILTER) != 0);
	}
	case SL_FT_GCTL: {
		const struct sl_gctl *c = (const struct sl_gctl *)p;

		if (c->op < SL_GCTL_LEAVE || c->op > SL_GCTL_FETCH ||
		    (c->op == SL_GCTL_FETCH) != (c->n != 0) || c->n > SL_MAX_GROUP_CREDIT)
			return -SL_PROTO_BAD_FIELD;
		break;
	}
	case SL_FT_GACK: {
		const struct sl_gack *a = (const struct sl_gack *)p;

		if (a->n == 0 || a->n > SL_MAX_GACK_SEQS || (a->flags & ~SL_GACK_F_CUMULATIVE) ||
		    ((a->flags & SL_GACK_F_CUMULATIVE) && a->n != 1))
			return -SL_PROTO_BAD_FIELD;
		if ((uint32_t)a->n * 8u != f->body_len)
			return -SL_PROTO_BAD_LENGTH;
		return 0;
	}
	case SL_FT_GNAK:
		if (((const struct sl_gnak *)p)->delay_ms > SL_MAX_NAK_DELAY)
			return -SL_PROTO_BAD_FIELD;
		break;
	case SL_FT_GDELIVER:
		return hdrs_field((const struct sl_publish *)p, f->body_len);
	default:
		break;
	}
	f->body_len = 0;
	return 0;
}

/* Checks that depend on the type: variable parts and their limits. */
static int
frame_body(struct sl_frame *f, const uint8_t *p)
{
	uint32_t fixed = min_len[f->hdr->type];

	f->body = p + fixed;
	f->body_len = f->len - fixed;

	switch (f->hdr->type) {
	case SL_FT_SEAL:
		/* The envelope only: the inner frames are parsed once opened. */
		if (f->len & (SL_FRAME_ALIGN - 1))
			return -SL_PROTO_BAD_LENGTH;
		f->body = p + sizeof(struct sl_seal);
		f->body_len = f->len - fixed;
		return 0;
	case SL_FT_PUBLISH:
	case SL_FT_DELIVER: {
		/* v2's per-frame trailer carried a payload length; v3 has none
		 * and v4 keeps the header block's length there. */
		int rc = hdrs_field((const struct sl_publish *)p, f->body_len);

		if (rc < 0)
			return rc;
		/* A datagram bounds a frame over UDP; over shared memory a
		 * whole large message is one frame, up to the region's
		 * max_frame: the protocol's own bound is the largest message. */
		if (f->body_len > SL_MAX_MESSAGE)
			return -SL_PROTO_OVERSIZE;
		return 0;
	}
	case SL_FT_SUBSCRIBE:
		return filter_part(f, (f->hdr->flags & SL_SUB_F_FILTER) != 0);
	case SL_FT_PSUBSCRIBE:
		if (f->hdr->flags & SL_SUB_F_FILTER) {
			/* v4: the pattern, then its filter to the frame's end. */
			const struct sl_resolve *r = (const struct sl_resolve *)p;
			uint32_t flen;

			if (r->name_len > SL_MAX_TOPIC_NAME)
				return -SL_PROTO_OVERSIZE;
			if (r->name_len >= f->body_len)
				return -SL_PROTO_BAD_LENGTH;
			flen = f->body_len - r->name_len;
			if (flen > SL_MAX_FILTER_LEN)
				return -SL_PROTO_OVERSIZE;
			if (!sl_proto_topic_name_valid((const char *)f->body, r->name_len))
				return -SL_PROTO_BAD_FIELD;
			f->body_len = r->name_len; /* sl_proto_filter_of() finds the rest */
			return 0;
		}
		/* fall through */
	case SL_FT_RESOLVE:
	case SL_FT_PUNSUBSCRIBE: {
		const struct sl_resolve *r = (const struct sl_resolve *)p;
		int rc = var_part(f, r->name_len, SL_MAX_TOPIC_NAME);

		if (rc < 0)
			return rc;
		if (!sl_proto_topic_name_valid((const char *)f->body, r->name_len))
			return -SL_PROTO_BAD_FIELD;
		return 0;
	}
	case SL_FT_GJOIN:
	case SL_FT_GCTL:
	case SL_FT_GACK:
	case SL_FT_GNAK:
	case SL_FT_GDELIVER:
		return group_body(f, p);
	case SL_FT_PUBLISH_FRAG:
	case SL_FT_DELIVER_FRAG: {
		/* Same layout up to frag_len in both directions. */
		const struct sl_publish_frag *g = (const struct sl_publish_frag *)p;

		int rc;

		if (g->msg_len > SL_MAX_MESSAGE)
			return -SL_PROTO_OVERSIZE;
		rc = var_part(f, g->frag_len, SL_MAX_FRAG_DATA);
		if (rc < 0)
			return rc;
		if (g->frag_len == 0 || (uint64_t)g->frag_off + g->frag_len > g->msg_len)
			return -SL_PROTO_BAD_FIELD;
		return 0;
	}
	case SL_FT_PRODUCER: {
		const struct sl_producer *r = (const struct sl_producer *)p;
		int rc = var_part(f, r->name_len, SL_MAX_PRODUCER_NAME);

		if (rc < 0)
			return rc;
		if (!sl_proto_topic_name_valid((const char *)f->body, r->name_len))
			return -SL_PROTO_BAD_FIELD;
		return 0;
	}
	case SL_FT_STATUS: {
		const struct sl_status *st = (const struct sl_status *)p;

		if ((uint64_t)st->count * sizeof(struct sl_status_entry) > f->body_len)
			return -SL_PROTO_BAD_LENGTH;
		f->body_len = st->count * (uint32_t)sizeof(struct sl_status_entry);
		return 0;
	}
	default:
		/* Fixed-size types: longer frames carry extensions a later
		 * minor revision may define; v1 ignores the extra bytes. */
		f->body_len = 0;
		return 0;
	}
}

int
sl_proto_next(const void *buf, size_t len, size_t *off, struct sl_frame *f)
{
	const uint8_t *base = buf;
	const struct sl_hdr *h;
	size_t o = *off;
	size_t rest;
	uint32_t fixed;
	int rc;

	if (o >= len)
		return 0;
	rest = len - o;
	if (rest < sizeof(struct sl_hdr))
		return -SL_PROTO_TRUNCATED;
	h = (const struct sl_hdr *)(base + o);
	if (h->version == 0)
		return -SL_PROTO_BAD_VERSION;
	if (h->version > SL_PROTO_VERSION && h->type != SL_FT_HELLO) {
		/* A later version's frame: the length is where every version
		 * keeps it, so the receiver can answer with SL_E_VERSION. */
		f->hdr = h;
		f->off = (uint32_t)o;
		f->len = h->length <= rest ? h->length : (uint32_t)rest;
		f->body = NULL;
		f->body_len = 0;
		return -SL_PROTO_BAD_VERSION;
	}
	fixed = min_len[h->type];
	if (fixed == 0)
		return -SL_PROTO_UNKNOWN_TYPE;
	if (h->length < sizeof(struct sl_hdr) || h->length > rest)
		return -SL_PROTO_BAD_LENGTH;
	if (h->length < fixed)
		return -SL_PROTO_TRUNCATED;

	f->hdr = h;
	f->off = (uint32_t)o;
	f->len = h->length;
	rc = frame_body(f, base + o);
	if (rc < 0)
		return rc;
	/* Padding after the last frame is optional. */
	o += sl_proto_align(h->length);
	*off = o < len ? o : len;
	return 1;
}

void
sl_proto_hdr_init(struct sl_hdr *h, uint8_t type, uint16_t flags, uint32_t length,
		  uint32_t session)
{
	h->version = sl_proto_frame_version(type, flags);
	h->type = type;
	h->flags = flags;
	h->length = length;
	h->session = session;
	h->reserved = 0;
}

int
sl_proto_put_publish(void *dst, size_t cap, uint32_t session, uint32_t topic,
		     uint16_t flags, uint64_t producer_seq, uint64_t ts,
		     const void *payload, uint32_t plen)
{
	struct sl_publish *p = dst;
	uint32_t flen = sizeof(*p) + plen;

	if (plen > SL_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (flen > cap)
		return -ENOSPC;
	sl_proto_hdr_init(&p->h, SL_FT_PUBLISH, flags, flen, session);
	p->topic_id = topic;
	p->hdrs_len = 0;
	p->reserved = 0;
	p->producer_seq = producer_seq;
	p->timestamp = ts;
	if (plen)
		memcpy(p + 1, payload, plen);
	return (int)flen;
}

const uint8_t *
sl_proto_filter_of(const struct sl_frame *f, uint32_t *len)
{
	uint8_t type = f->hdr->type;

	if ((type == SL_FT_SUBSCRIBE || type == SL_FT_PSUBSCRIBE) &&
	    !(f->hdr->flags & SL_SUB_F_FILTER))
		return NULL;
	if (type == SL_FT_GJOIN && !(((const struct sl_gjoin *)f->hdr)->flags & SL_GJOIN_F_FILTER))
		return NULL;
	if (type == SL_FT_PSUBSCRIBE) {
		*len = f->len - (uint32_t)sizeof(struct sl_resolve) - f->body_len;
		return f->body + f->body_len;
	}
	if (type != SL_FT_SUBSCRIBE && type != SL_FT_GJOIN)
		return NULL;
	*len = f->body_len;
	return f->body;
}

int
sl_proto_topic_name_valid(const char *name, size_t nlen)
{
	size_t i;

	if (nlen == 0 || nlen > SL_MAX_TOPIC_NAME)
		return 0;
	for (i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

int
sl_proto_put_psubscribe(void *dst, size_t cap, uint32_t session, uint32_t req_id,
			const char *pattern, size_t len, int unsubscribe)
{
	int n = sl_proto_put_resolve(dst, cap, session, req_id, pattern, len, 0);

	if (n > 0)
		((struct sl_hdr *)dst)->type = unsubscribe ? SL_FT_PUNSUBSCRIBE : SL_FT_PSUBSCRIBE;
	return n;
}

int
sl_proto_put_resolve(void *dst, size_t cap, uint32_t session, uint32_t req_id,
		     const char *name, size_t nlen, uint16_t flags)
{
	struct sl_resolve *r = dst;
	uint32_t flen;

	if (!sl_proto_topic_name_valid(name, nlen))
		return -EINVAL;
	flen = (uint32_t)(sizeof(*r) + nlen);
	if (flen > cap)
		return -ENOSPC;
	sl_proto_hdr_init(&r->h, SL_FT_RESOLVE, 0, flen, session);
	r->req_id = req_id;
	r->name_len = (uint16_t)nlen;
	r->flags = flags;
	memcpy(r + 1, name, nlen);
	return (int)flen;
}

int
sl_proto_part_name(char *out, size_t cap, const char *name, size_t len, uint32_t i)
{
	char digits[10];
	size_t n = 0, k;

	/* By hand, not snprintf: a worker answers RESOLVE with it. */
	do {
		digits[n++] = (char)('0' + i % 10);
		i /= 10;
	} while (i);
	if (len + 1 + n > SL_MAX_TOPIC_NAME || len + 1 + n + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(out, name, len);
	out[len] = SL_PART_SEP;
	for (k = 0; k < n; k++)
		out[len + 1 + k] = digits[n - 1 - k];
	out[len + 1 + n] = '\0';
	return (int)(len + 1 + n);
}

int
sl_proto_put_topic_parts(void *dst, size_t cap, uint32_t session, uint32_t req_id,
			 uint32_t topic_id, const uint32_t *ids, uint32_t n)
{
	struct sl_topic_parts *t = dst;
	uint32_t flen = (uint32_t)(sizeof(*t) + 4u * n);

	if (n == 0 || n > SL_MAX_PARTITIONS)
		return -EINVAL;
	if (flen > cap)
		return -ENOSPC;
	sl_proto_hdr_init(&t->t.h, SL_FT_TOPIC, 0, flen, session);
	t->t.req_id = req_id;
	t->t.topic_id = topic_id;
	t->n_parts = (uint16_t)n;
	t->reserved = 0;
	t->reserved2 = 0;
	memcpy(t + 1, ids, 4u * n);
	return (int)flen;
}

int
sl_proto_topic_parts(const void *frame, uint32_t len, uint32_t *ids, uint32_t cap)
{
	const struct sl_topic_parts *t = frame;
	uint32_t i;

	if (len < sizeof(*t))
		return 0; /* an ordinary topic's TOPIC */
	if (t->n_parts == 0 || t->n_parts > SL_MAX_PARTITIONS || t->n_parts > cap ||
	    len < sizeof(*t) + 4u * t->n_parts)
		return -EBADMSG;
	memcpy(ids, t + 1, 4u * t->n_parts);
	for (i = 0; i < t->n_parts; i++)
		if (ids[i] == 0)
			return -EBADMSG;
	return t->n_parts;
}

int
sl_proto_put_topic_name(void *dst, size_t cap, uint32_t session, uint32_t req_id,
			uint32_t topic_id, const char *name, size_t nlen)
{
	struct sl_topic_name *t = dst;
	uint32_t flen = (uint32_t)(sizeof(*t) + nlen);

	if (nlen == 0 || nlen > SL_MAX_TOPIC_NAME)
		return -EINVAL;
	if (flen > cap)
		return -ENOSPC;
	sl_proto_hdr_init(&t->t.h, SL_FT_TOPIC, 0, flen, session);
	t->t.req_id = req_id;
	t->t.topic_id = topic_id;
	t->n_parts = 0;
	t->name_len = (uint16_t)nlen;
	t->reserved = 0;
	memcpy(t + 1, name, nlen);
	return (int)flen;
}

int
sl_proto_topic_name(const void *frame, uint32_t len, const char **name)
{
	const struct sl_topic_name *t = frame;

	if (len < sizeof(*t) || t->n_parts != 0 || t->name_len == 0 ||
	    t->name_len > SL_MAX_TOPIC_NAME || len < sizeof(*t) + t->name_len ||
	    !sl_proto_topic_name_valid((const char *)(t + 1), t->name_len))
		return -EBADMSG;
	*name = (const char *)(t + 1);
	return t->name_len;
}

int
sl_proto_topic_id_str(char *out, uint32_t id)
{
	char digits[10];
	int n = 0, k;

	do {
		digits[n++] = (char)('0' + id % 10);
		id /= 10;
	} while (id);
	for (k = 0; k < n; k++)
		out[k] = digits[n - 1 - k];
	out[n] = '\0';
	return n;
}

uint32_t
sl_proto_topic_id_parse(const char *p, size_t len)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 10 || p[0] == '0')
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* Length of the token starting at @s (up to '.' or @end). */
static size_t
token_len(const char *s, const char *end)
{
	const char *p = s;

	while (p < end && *p != '.')
		p++;
	return (size_t)(p - s);
}

int
sl_proto_pattern_match(const char *pattern, const char *name, size_t len)
{
	const char *p = pattern, *pend = pattern + strlen(pattern);
	const char *n = name, *nend = name + len;

	for (;;) {
		size_t pl = token_len(p, pend), nl;

		if (n > nend)
			return 0;
		nl = token_len(n, nend);
		if (pl == 1 && p[0] == '>')
			return nl > 0 || n < nend; /* one or more tokens remain */
		if (!(pl == 1 && p[0] == '*') && (pl != nl || memcmp(p, n, pl) != 0))
			return 0;
		if (pl == 1 && p[0] == '*' && nl == 0)
			return 0;
		p += pl;
		n += nl;
		if (p == pend || n == nend)
			return p == pend && n == nend;
		p++, n++; /* both at '.' */
	}
}

int
sl_proto_pattern_valid(const char *pattern)
{
	size_t len = strlen(pattern), i, start = 0;

	if (!sl_proto_topic_name_valid(pattern, len))
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && pattern[i] != '.')
			continue;
		/* token [start, i) */
		if (i == start)
			return 0; /* empty token */
		if (memchr(pattern + start, '*', i - start) && i - start != 1)
			return 0;
		if (memchr(pattern + start, '>', i - start) && (i - start != 1 || i != len))
			return 0;
		start = i + 1;
	}
	return 1;
}

const char *
sl_proto_type_name(uint8_t type)
{
	switch (type) {
	case SL_FT_HELLO: return "hello";
	case SL_FT_CHALLENGE: return "challenge";
	case SL_FT_AUTH: return "auth";
	case SL_FT_WELCOME: return "welcome";
	case SL_FT_GOODBYE: return "goodbye";
	case SL_FT_SEAL: return "seal";
	case SL_FT_RESOLVE: return "resolve";
	case SL_FT_TOPIC: return "topic";
	case SL_FT_SUBSCRIBE: return "subscribe";
	case SL_FT_UNSUBSCRIBE: return "unsubscribe";
	case SL_FT_OK: return "ok";
	case SL_FT_PSUBSCRIBE: return "psubscribe";
	case SL_FT_PUNSUBSCRIBE: return "punsubscribe";
	case SL_FT_PUBLISH: return "publish";
	case SL_FT_DELIVER: return "deliver";
	case SL_FT_ACK: return "ack";
	case SL_FT_NAK: return "nak";
	case SL_FT_CREDIT: return "credit";
	case SL_FT_HEARTBEAT: return "heartbeat";
	case SL_FT_STATUS: return "status";
	case SL_FT_PRODUCER: return "producer";
	case SL_FT_PRODUCER_ID: return "producer_id";
	case SL_FT_PUBLISH_FRAG: return "publish_frag";
	case SL_FT_DELIVER_FRAG: return "deliver_frag";
	case SL_FT_ERROR: return "error";
	case SL_FT_SKIP: return "skip";
	case SL_FT_GJOIN: return "gjoin";
	case SL_FT_GROUP: return "group";
	case SL_FT_GCTL: return "gctl";
	case SL_FT_GDELIVER: return "gdeliver";
	case SL_FT_GACK: return "gack";
	case SL_FT_GNAK: return "gnak";
	default: return "unknown";
	}
}

const char *
sl_proto_err_name(int err)
{
	static const char *const names[SL_PROTO_ERR_MAX] = {
		[SL_PROTO_OK] = "ok",
		[SL_PROTO_TRUNCATED] = "truncated",
		[SL_PROTO_BAD_LENGTH] = "bad_length",
		[SL_PROTO_BAD_VERSION] = "bad_version",
		[SL_PROTO_UNKNOWN_TYPE] = "unknown_type",
		[SL_PROTO_OVERSIZE] = "oversize",
		[SL_PROTO_BAD_FIELD] = "bad_field",
	};

	if (err < 0)
		err = -err;
	if (err >= SL_PROTO_ERR_MAX)
		return "unknown";
	return names[err];
}

const char *
sl_error_code_str(uint16_t code)
{
	switch (code) {
	case SL_E_NONE: return "no error";
	case SL_E_BAD_FRAME: return "malformed frame";
	case SL_E_NO_SESSION: return "no such session (expired or never opened)";
	case SL_E_UNKNOWN_TOPIC: return "no such topic";
	case SL_E_TOPIC_TABLE_FULL: return "topic table full";
	case SL_E_SUB_TABLE_FULL: return "too many subscribers on this topic";
	case SL_E_VERSION: return "no protocol version in common";
	case SL_E_BAD_NAME: return "invalid topic name";
	case SL_E_BUSY: return "broker busy, retry later";
	case SL_E_SESSION_TABLE_FULL: return "session table full";
	case SL_E_JOURNAL_FULL: return "topic journal full (retention cannot free space)";
	case SL_E_JOURNAL_DAMAGED: return "topic journal damaged or failed; see broker log";
	case SL_E_NO_JOURNAL: return "topic has no journal (durability none): cannot replay";
	case SL_E_REPLAY_BUSY: return "too many replays in progress, retry later";
	case SL_E_AUTH_REQUIRED: return "authentication required: give credentials";
	case SL_E_AUTH_FAILED: return "authentication failed: unknown user or wrong key";
	case SL_E_DENIED: return "not allowed by the ACL";
	case SL_E_RATE_LIMITED: return "over the publish rate limit: slow down";
	case SL_E_BACKPRESSURE: return "a subscriber of the topic is behind: publish later";
	case SL_E_SLOW_CONSUMER: return "disconnected: deliveries fell too far behind";
	case SL_E_REPLAY_GAP: return "replay gap: the broker's journal cannot serve a damaged range";
	case SL_E_FENCED: return "fenced: a newer instance of this producer exists";
	case SL_E_PRODUCER_TABLE_FULL: return "producer table full";
	case SL_E_OUT_OF_ORDER: return "producer sequence out of order: resend in order";
	case SL_E_GAP_LOST: return "messages lost: outside the retransmit window and not journaled";
	case SL_E_TOO_BIG: return "message larger than the topic allows";
	case SL_E_INCOMPLETE: return "fragments of a message did not all arrive";
	case SL_E_ENCRYPTION_REQUIRED: return "an encrypted session is required";
	case SL_E_HANDSHAKE: return "handshake cookie stale or invalid: start again";
	case SL_E_BAD_HEADERS: return "malformed message headers or filter, or a reserved (sl-) header name";
	case SL_E_NO_GROUP: return "no such consumer group";
	case SL_E_GROUP_FULL: return "the consumer group has no room for another member";
	case SL_E_NOT_HELD: return "acknowledged a message this member does not hold";
	case SL_E_PARTITIONED: return "partitioned topic: this client cannot use its partitions";
	case SL_E_NOT_PRIMARY: return "not the primary broker of its pair: try another broker";
	case SL_E_MOVED: return "the topic moved to another pair: connect to the address the error names";
	default: return "unknown error code";
	}
}
