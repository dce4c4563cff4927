/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice tests against a fake broker thread on a loopback UDP socket. */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <common/auth.h>
#include <common/crypto.h>
#include <common/hdrs.h>
#include <common/proto.h>
#include <sluice/sluice.h>

#include "check.h"


#define FAKE_SESSION 7u
#define FAKE_HB_MS 100u
#define FAKE_TOPICS 18u
#define ENCREQ_TOPIC 15u     /* encryption required: refused to unencrypted sessions */
#define FLOOD_TOPIC 5u	     /* SUBSCRIBE to it sends FLOOD_DGRAMS deliveries before OK */
#define FLOOD_DGRAMS 2000u   /* past the stash's first 512 slots: it must grow */
/* Durable topics of the fake: every accepted message is kept, with receive
 * time seq * 1000 ns, and a replay sends them all from the start point. */
#define REPLAY_TOPIC 6u	     /* the replay's DELIVERs come before the OK */
#define REPLAY_LATE_TOPIC 7u /* the replay's DELIVERs come after the OK */
#define NOJOURNAL_TOPIC 8u   /* durability none: replay refused, live fine */
#define RBUSY_TOPIC 9u	     /* replay refused with SL_E_REPLAY_BUSY */
#define JFULL_TOPIC 10u	     /* publishes refused: journal full */
#define JDAMAGED_TOPIC 11u   /* publishes refused: journal damaged */
#define RETAINED 3u	     /* messages on the replay topics before the test */
#define DENIED_TOPIC 12u     /* the ACL allows nothing on it (nor RESOLVE of "secret") */
/* Publishes to these get no answer from the fake: the test sends the ACKs
 * and ERRORs itself (inject), in the order and number it wants. */
#define SILENT_TOPIC 13u
#define SILENT_TOPIC2 14u
#define MS 1000000ull
/* The version 2 fake (fake_start v2): idempotent producers, fragments. */
#define V2_TOPIC 2u	     /* "t.v2"; FAKE_TOPICS - 1 once the fake renumbers it */
#define V2_MAX_MESSAGE 65536u
#define V2_EPOCH0 100u	     /* first epoch the fake grants */
#define V2_PRODUCER_ID 0xabcdefull
/* Consumer groups (v4): the fake's one group, on "t.group". */
#define GROUP_TOPIC 16u
#define GROUP_GID 71u
#define GROUP_SEQS 1024u	     /* seqs of GROUP_TOPIC the fake tracks */
#define GROUP_BACKLOG 256u

/* The one user the authenticating fake knows. */
#define FAKE_USER "alice"
static const uint8_t fake_key[SL_AUTH_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* How the authenticating fake answers a good AUTH. */
enum welcome_mode {
	WELCOME_GOOD,	     /* sealed under the session key */
	WELCOME_FORGED,	     /* sealed under another key, as by someone without the user's */
	WELCOME_PLAIN,	     /* no SL_WELCOME_F_AUTH, not sealed: a downgrade */
	WELCOME_FORGED_GOOD, /* a forged one, then the genuine one */
	WELCOME_SUITE_LIE,   /* sealed right, SL_WELCOME_F_AESGCM saying the other suite */
};

/* The user's encryption policy at the fake (as SL_CNC_ENC_*). */
enum enc_policy { ENC_OPTIONAL, ENC_OFF, ENC_REQUIRED };
#define FAKE_SESSION_TIMEOUT_MS 10000u

/* The fake broker: one thread, one socket, replies to whoever sent. */
struct fake {
	int fd;
	uint16_t port;
	pthread_t thread;
	atomic_bool stop;
	atomic_uint heartbeats;
	atomic_uint goodbyes;
	atomic_uint resolves;
	atomic_uint rbusy_subs;	     /* SUBSCRIBEs seen for RBUSY_TOPIC */
	atomic_uint sub_flags;	     /* header flags of the last SUBSCRIBE */
	atomic_ullong sub_start;     /* start of the last SUBSCRIBE */
	atomic_uint silent_pubs;     /* PUBLISHes to the silent topics */
	/* Authentication: set before the thread starts. */
	bool auth;		     /* every session must authenticate */
	/* Set by the tests. */
	atomic_int welcome_mode;     /* enum welcome_mode */
	atomic_int enc_policy;	     /* enum enc_policy */
	atomic_uint drop_auth;	     /* AUTHs to ignore: the client must resend them */
	atomic_uint stale_auths;     /* AUTHs to answer SL_E_HANDSHAKE (cookie stale) */
	/* Counted by the fake. */
	atomic_uint challenges;	     /* CHALLENGEs sent */
	atomic_uint auths;	     /* AUTH frames handled */
	atomic_uint sealed_ok;	     /* frames that came in a SEAL that verified */
	atomic_uint sealed_bad;	     /* frames of an authenticated session that came
				      * unsealed, in a seal that failed its tag or
				      * replay check, or unencrypted in an encrypted one */
	atomic_uint sealed_by_type[128]; /* frames in a verified SEAL, by type */
	atomic_uint enc_dgrams;	     /* verified SEALs with SL_SEAL_F_ENC */
	atomic_ullong tx_seq;	     /* broker->client seal seq of the session */
	/* The session's keys: written by the thread at AUTH, read by the
	 * tests' injections once the client is connected. */
	uint8_t k_c2s[SL_KEY_LEN];
	uint8_t k_s2c[SL_KEY_LEN];
	atomic_bool sealing;	     /* the session's datagrams go sealed */
	bool enc;		     /* ... and encrypted */
	atomic_bool aes;	     /* the CHALLENGE keeps SL_CAP_AESGCM */
	atomic_uint suite;	     /* the session's SL_SUITE_* (from its AUTH's caps) */
	/* Owned by the thread. */
	struct sockaddr_in peer;
	bool subscribed[FAKE_TOPICS];
	uint64_t seq[FAKE_TOPICS];
	unsigned int lossy_seen;
	bool keyed;		     /* the current session has keys (authenticated) */
	uint64_t hello_nonce;	     /* of the current session's AUTH */
	uint64_t issued;
	uint8_t client_nonce[SL_HS_NONCE_LEN];
	uint8_t secret[SL_COOKIE_SECRET_LEN];
	struct sl_replay_window rx_win;
	uint64_t in[SL_MAX_DATAGRAM / 8];
	uint64_t out[SL_MAX_DATAGRAM / 8]; /* send buffer */

	/* Version 2 (set before the thread starts). */
	bool v2;
	/* Set by the tests. */
	atomic_uint drop_pubs;	     /* PUBLISH frames to ignore, as lost on the way */
	atomic_uint lose_acks;	     /* ACKs not to send, the publishes stored */
	atomic_bool silent;	     /* read and ignore everything */
	atomic_bool fence_pubs;	     /* refuse publishes with SL_E_FENCED */
	atomic_bool renumber;	     /* "t.v2" resolves to FAKE_TOPICS - 1 */
	atomic_bool restart;	     /* restart (fake_restart) before the next datagram */
	atomic_bool lose_session;    /* answer RESOLVE "lost.once" with SL_E_NO_SESSION */
	atomic_bool expire_pub;	     /* answer the next PUBLISH as for an expired session */
	atomic_ullong incarnation;
	/* Counted by the fake. */
	atomic_uint hellos;
	atomic_uint psubs;	     /* PSUBSCRIBE requests */
	atomic_uint producers;	     /* PRODUCER requests */
	atomic_uint producer_epoch;  /* epoch of the last PRODUCER request */
	atomic_uint dups;	     /* publishes answered as duplicates */
	atomic_uint ooos;	     /* publishes refused out of order */
	atomic_uint stored[FAKE_TOPICS]; /* publishes accepted, by topic */
	atomic_uint max_batch;	     /* most PUBLISH frames seen in one datagram */
	atomic_uint pub_dgrams;	     /* datagrams with a PUBLISH frame */
	atomic_uint frag_pieces;     /* PUBLISH_FRAG frames */
	atomic_uint frag_msgs;	     /* messages reassembled, content checked */
	atomic_uint frag_bad;	     /* pieces out of place, or content wrong */
	atomic_uint sub_flags_t[FAKE_TOPICS]; /* the last SUBSCRIBE, by topic */
	atomic_uint subs_t[FAKE_TOPICS];     /* SUBSCRIBE frames, by topic */
	atomic_ullong sub_start_t[FAKE_TOPICS];
	atomic_ushort peer_port;     /* the client's port of the last HELLO */
	/* Owned by the thread. */
	uint32_t epoch_gen;
	uint64_t last_pseq[FAKE_TOPICS]; /* dedup state, per topic; 0: no entry */
	uint64_t stored_pseq[FAKE_TOPICS][64]; /* in the order accepted */
	uint64_t frag_pseq;
	uint32_t frag_got;
	uint8_t frag_buf[V2_MAX_MESSAGE];

	/* Consumer groups (v4). Set by the tests. */
	atomic_bool v3;		     /* CHALLENGE and WELCOME say version 3 */
	/* Counted by the fake. */
	atomic_uint gjoins;	     /* GJOIN frames answered with GROUP */
	atomic_ullong gmember;	     /* member_id of the last GJOIN */
	atomic_uint gjoin_credit;    /* credit of the last GJOIN */
	atomic_uint gjoin_flags;     /* flags of the last GJOIN */
	atomic_uint gctls[SL_GCTL_FETCH + 1]; /* GCTL frames, by op */
	atomic_uint gack_frames;     /* GACK frames */
	atomic_uint gack_seqs;	     /* seqs they named */
	atomic_uint gack_max;	     /* most seqs in one GACK */
	atomic_uint gack_cum;	     /* cumulative GACKs */
	atomic_ullong gack_cum_seq;  /* the last one's seq */
	atomic_uint gacked;	     /* held seqs settled by GACKs */
	atomic_uint gnaks;	     /* GNAK frames */
	atomic_uint gnak_delay;	     /* the last one's delay_ms and error */
	atomic_uint gnak_error;
	atomic_uint not_held;	     /* SL_E_NOT_HELD ERRORs sent */
	atomic_uint gdelivered;	     /* GDELIVER frames sent */
	/* Owned by the thread. */
	bool gjoined, gpaused, gpull;
	uint32_t gfetch;	     /* pull: messages asked for, not sent */
	uint64_t gback[GROUP_BACKLOG]; /* seqs waiting for the member */
	unsigned gback_n;
	uint8_t gheld[GROUP_SEQS];   /* per seq: 1 held by the member, 2 settled */
	uint8_t gcount[GROUP_SEQS];  /* deliveries of the seq so far */
	uint8_t ghdrs[GROUP_SEQS];   /* published as "hdrs": delivered with a key and header */
	uint64_t gredo_seq, gredo_ns; /* a nak's redelivery, due then */
};

/* @frames (@len bytes) sealed under the session's broker->client key with
 * seal seq @seq, at @dst (room SL_MAX_DATAGRAM): the datagram's length. */
static size_t
fake_seal_seq(struct fake *fk, void *dst, const void *frames, size_t len, uint64_t seq,
	      const uint8_t *key)
{
	size_t dlen = SL_SEAL_HDR_LEN + sl_proto_align((uint32_t)len) + SL_TAG_LEN;

	struct sl_seal_key k;

	memset(dst, 0, dlen);
	memcpy((uint8_t *)dst + SL_SEAL_HDR_LEN, frames, len);
	if (sl_seal_key_init(&k, atomic_load(&fk->suite), key) != 0)
		return 0;
	sl_seal_k(&k, SL_DIR_S2C, seq, FAKE_SESSION, fk->enc, dst, (uint32_t)dlen);
	return dlen;
}

/* The datagram of @frames as the fake sends it to @to: sealed with the
 * next seq once the session is. Any thread. */
static void
fake_send_to(struct fake *fk, const struct sockaddr_in *to, const void *frames, size_t len)
{
	uint64_t d[SL_MAX_DATAGRAM / 8 + 8];
	const void *buf = frames;

	if (atomic_load(&fk->sealing)) {
		len = fake_seal_seq(fk, d, frames, len, atomic_fetch_add(&fk->tx_seq, 1) + 1,
				    fk->k_s2c);
		buf = d;
	}
	(void)sendto(fk->fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void
fake_send(struct fake *fk, const void *buf, size_t len)
{
	fake_send_to(fk, &fk->peer, buf, len);
}

/* Handshake frames (CHALLENGE, ERRORs answering HELLO or AUTH) go unsealed. */
static void
fake_send_plain(struct fake *fk, const void *buf, size_t len)
{
	(void)sendto(fk->fd, buf, len, 0, (const struct sockaddr *)&fk->peer, sizeof(fk->peer));
}

static void
fake_error(struct fake *fk, uint32_t req_id, uint16_t code, uint8_t type, uint64_t detail)
{
	struct sl_error *e = (struct sl_error *)fk->out;

	sl_proto_hdr_init(&e->h, SL_FT_ERROR, 0, sizeof(*e), FAKE_SESSION);
	e->req_id = req_id;
	e->code = code;
	e->frame_type = type;
	e->detail = detail;
	fake_send(fk, e, sizeof(*e));
}

/* An ERROR answering HELLO or AUTH: session 0, detail the HELLO's nonce. */
static void
fake_error_hs(struct fake *fk, uint16_t code, uint8_t type, uint64_t nonce)
{
	struct sl_error *e = (struct sl_error *)fk->out;

	sl_proto_hdr_init(&e->h, SL_FT_ERROR, 0, sizeof(*e), 0);
	e->req_id = 0;
	e->code = code;
	e->frame_type = type;
	e->detail = nonce;
	fake_send_plain(fk, e, sizeof(*e));
}

/* Writes a DELIVER with @seq at @at in fk->out; returns its aligned length. */
static size_t
fake_put_deliver_seq(struct fake *fk, size_t at, uint32_t topic, uint64_t seq, uint16_t flags,
		     uint64_t ts, const void *p, uint32_t len)
{
	struct sl_deliver *d = (struct sl_deliver *)((uint8_t *)fk->out + at);

	sl_proto_hdr_init(&d->h, SL_FT_DELIVER, flags, sizeof(*d) + len, FAKE_SESSION);
	d->topic_id = topic;
	d->hdrs_len = 0;
	d->reserved = 0;
	d->seq = seq;
	d->timestamp = ts;
	memcpy(d + 1, p, len);
	return sl_proto_align((uint32_t)(sizeof(*d) + len));
}

/* A live DELIVER with the topic's next sequence number. */
static size_t
fake_put_deliver(struct fake *fk, size_t at, uint32_t topic, const void *p, uint32_t len)
{
	return fake_put_deliver_seq(fk, at, topic, ++fk->seq[topic], 0, 42, p, len);
}

/* A WELCOME for HELLO @nonce; sealed with @key when not NULL. */
static void
fake_welcome(struct fake *fk, uint64_t nonce, const uint8_t *key)
{
	struct sl_welcome *w = (struct sl_welcome *)fk->out;
	uint64_t d[SL_MAX_DATAGRAM / 8];
	size_t len = sizeof(*w);

	memset(w, 0, sizeof(*w));
	sl_proto_hdr_init(&w->h, SL_FT_WELCOME, 0, sizeof(*w), FAKE_SESSION);
	if (key != NULL)
		w->h.flags = SL_WELCOME_F_AUTH | (fk->enc ? SL_WELCOME_F_ENC : 0) |
			     ((atomic_load(&fk->suite) == SL_SUITE_AES256_GCM) !=
					      (atomic_load(&fk->welcome_mode) == WELCOME_SUITE_LIE)
				      ? SL_WELCOME_F_AESGCM
				      : 0);
	w->session = FAKE_SESSION;
	w->heartbeat_ms = FAKE_HB_MS;
	w->nonce = nonce;
	w->max_payload = SL_MAX_PAYLOAD;
	w->version = atomic_load(&fk->v3) ? SL_PROTO_VERSION_MIN : SL_PROTO_VERSION;
	/* The older broker of test_group_v3 predates RESOLVE by id too. */
	w->features = atomic_load(&fk->v3) ? 0 : SL_FEAT_TOPIC_NAME;
	w->max_message = SL_MAX_MESSAGE_DEFAULT;
	w->session_timeout_ms = FAKE_SESSION_TIMEOUT_MS;
	if (fk->v2) {
		w->incarnation = atomic_load(&fk->incarnation);
		w->max_message = V2_MAX_MESSAGE;
	}
	if (key == NULL) {
		fake_send_plain(fk, w, len);
		return;
	}
	len = fake_seal_seq(fk, d, w, len, atomic_fetch_add(&fk->tx_seq, 1) + 1, key);
	(void)sendto(fk->fd, d, len, 0, (const struct sockaddr *)&fk->peer, sizeof(fk->peer));
}

/* The cookie of a CHALLENGE to the current peer, as the broker computes it. */
static void
fake_cookie(struct fake *fk, uint64_t nonce, uint16_t version, uint32_t caps, uint64_t issued,
	    const uint8_t *server_nonce, uint8_t out[SL_COOKIE_LEN])
{
	struct sl_cookie_in in = { .transport = 0, .ip = fk->peer.sin_addr.s_addr,
				   .port = fk->peer.sin_port, .version = version, .caps = caps,
				   .nonce = nonce, .issued = issued };

	memcpy(in.server_nonce, server_nonce, sizeof(in.server_nonce));
	sl_cookie(fk->secret, &in, out);
}

/* Every HELLO gets a CHALLENGE; the fake keeps nothing of it. */
static void
fake_challenge(struct fake *fk, const struct sl_hello *h)
{
	struct sl_challenge *ch = (struct sl_challenge *)fk->out;

	atomic_fetch_add(&fk->challenges, 1);
	memset(ch, 0, sizeof(*ch));
	sl_proto_hdr_init(&ch->h, SL_FT_CHALLENGE, 0, sizeof(*ch), 0);
	ch->nonce = h->nonce;
	ch->version = atomic_load(&fk->v3) ? SL_PROTO_VERSION_MIN : SL_PROTO_VERSION;
	ch->caps = h->caps & (SL_CAP_AUTH | SL_CAP_ENC |
			      (atomic_load(&fk->aes) ? SL_CAP_AESGCM : 0));
	ch->issued = sl_now_ns() / MS;
	sl_random(ch->server_nonce, sizeof(ch->server_nonce));
	fake_cookie(fk, ch->nonce, ch->version, ch->caps, ch->issued, ch->server_nonce,
		    ch->cookie);
	fake_send_plain(fk, ch, sizeof(*ch));
}

static void
fake_hello(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_hello *h = (const struct sl_hello *)f->hdr;

	atomic_fetch_add(&fk->hellos, 1);
	atomic_store(&fk->peer_port, ntohs(fk->peer.sin_port));
	/* PROTOCOL.md 9: HELLO in header version 1, the versions in its body;
	 * a version 3 HELLO is padded to SL_HELLO_MIN_LEN. */
	if (h->h.version != SL_PROTO_HELLO_VERSION || h->min_version != SL_PROTO_VERSION_MIN ||
	    h->max_version != SL_PROTO_VERSION || f->len < SL_HELLO_MIN_LEN)
		return; /* the client never gets a CHALLENGE: its connect fails */
	if (strncmp(h->name, "oldver", 6) == 0) {
		fake_error_hs(fk, SL_E_VERSION, SL_FT_HELLO, h->nonce);
		return;
	}
	fake_challenge(fk, h);
}

static bool
take_one(atomic_uint *n)
{
	unsigned int v = atomic_load(n);

	return v > 0 && atomic_compare_exchange_strong(n, &v, v - 1);
}

/* AUTH's checks as the broker makes them, in its order; NONE: accepted. */
static uint16_t
fake_auth_check(struct fake *fk, const struct sl_auth *a)
{
	int policy = atomic_load(&fk->enc_policy);
	bool auth = (a->caps & SL_CAP_AUTH) != 0;
	bool enc = (a->caps & SL_CAP_ENC) != 0;
	uint8_t proof[32];

	if (take_one(&fk->stale_auths))
		return SL_E_HANDSHAKE;
	if (fk->auth && !auth)
		return SL_E_AUTH_REQUIRED;
	if (auth) {
		sl_auth_proof_v3(fake_key, a, proof);
		if (strncmp(a->name, FAKE_USER, sizeof(a->name)) != 0 ||
		    sl_ct_memcmp(proof, a->proof, sizeof(proof)) != 0)
			return SL_E_AUTH_FAILED;
	}
	if ((enc && !auth) || (auth && policy == ENC_REQUIRED && !enc))
		return SL_E_ENCRYPTION_REQUIRED;
	return SL_E_NONE;
}

/* The cookie, the proof, the encryption policy; WELCOME as welcome_mode says. */
static void
fake_auth(struct fake *fk, const struct sl_auth *a)
{
	uint8_t cookie[SL_COOKIE_LEN];
	uint8_t forged[SL_KEY_LEN];
	int mode = atomic_load(&fk->welcome_mode);
	uint16_t code;

	if (take_one(&fk->drop_auth))
		return;
	atomic_fetch_add(&fk->auths, 1);
	fake_cookie(fk, a->nonce, a->version, a->caps, a->issued, a->server_nonce, cookie);
	if (sl_ct_memcmp(cookie, a->cookie, sizeof(cookie)) != 0)
		return; /* not a CHALLENGE of ours to this address: dropped */
	code = fake_auth_check(fk, a);
	if (code != SL_E_NONE) {
		fake_error_hs(fk, code, SL_FT_AUTH, a->nonce);
		return;
	}
	/* A resent AUTH gets the same WELCOME again, with the same keys. */
	if (a->nonce != fk->hello_nonce || a->issued != fk->issued ||
	    memcmp(a->client_nonce, fk->client_nonce, sizeof(fk->client_nonce)) != 0) {
		fk->hello_nonce = a->nonce;
		fk->issued = a->issued;
		memcpy(fk->client_nonce, a->client_nonce, sizeof(fk->client_nonce));
		atomic_store(&fk->sealing, false);
		fk->keyed = (a->caps & SL_CAP_AUTH) != 0;
		fk->enc = fk->keyed && (((a->caps & SL_CAP_ENC) &&
					 atomic_load(&fk->enc_policy) != ENC_OFF) ||
					atomic_load(&fk->enc_policy) == ENC_REQUIRED);
		memset(&fk->rx_win, 0, sizeof(fk->rx_win));
		atomic_store(&fk->tx_seq, 0);
		atomic_store(&fk->suite, a->caps & SL_CAP_AESGCM ? SL_SUITE_AES256_GCM
								 : SL_SUITE_CHACHA20_POLY1305);
		if (fk->keyed)
			sl_session_keys_suite(fake_key, a->server_nonce, a->client_nonce,
					      atomic_load(&fk->suite), fk->k_c2s, fk->k_s2c);
	}
	if (!fk->keyed) {
		fake_welcome(fk, a->nonce, NULL);
		return;
	}
	memcpy(forged, fk->k_s2c, sizeof(forged));
	forged[0] ^= 1;
	if (mode == WELCOME_PLAIN)
		fake_welcome(fk, a->nonce, NULL);
	if (mode == WELCOME_FORGED || mode == WELCOME_FORGED_GOOD)
		fake_welcome(fk, a->nonce, forged);
	if (mode == WELCOME_GOOD || mode == WELCOME_FORGED_GOOD || mode == WELCOME_SUITE_LIE) {
		fake_welcome(fk, a->nonce, fk->k_s2c);
		atomic_store(&fk->sealing, true);
	}
}

/* RESOLVE by id: topic 1 is "t.a", 3 "lossy" (answered only the resend),
 * 9 one the user has no right on; others do not exist. */
static void
fake_topic_name(struct fake *fk, const struct sl_resolve *r, const char *digits)
{
	uint32_t id = sl_proto_topic_id_parse(digits, strlen(digits));
	const char *name = id == 1 ? "t.a" : id == 3 ? "lossy" : NULL;
	int len;

	if (id == 3 && fk->lossy_seen++ == 0)
		return;
	if (id == 9 || id == 0 || name == NULL) {
		fake_error(fk, r->req_id,
			   id == 9 ? SL_E_DENIED : id == 0 ? SL_E_BAD_NAME : SL_E_UNKNOWN_TOPIC,
			   SL_FT_RESOLVE, id);
		return;
	}
	len = sl_proto_put_topic_name(fk->out, SL_MAX_DATAGRAM, FAKE_SESSION, r->req_id, id,
				      name, strlen(name));
	fake_send(fk, fk->out, (size_t)len);
}

static void
fake_resolve(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_resolve *r = (const struct sl_resolve *)f->hdr;
	struct sl_topic_reply *t = (struct sl_topic_reply *)fk->out;
	char name[SL_MAX_TOPIC_NAME + 1];

	atomic_fetch_add(&fk->resolves, 1);
	memcpy(name, f->body, r->name_len);
	name[r->name_len] = '\0';
	if (r->flags & SL_RESOLVE_F_NAME) {
		fake_topic_name(fk, r, name);
		return;
	}
	if (strcmp(name, "lossy") == 0 && fk->lossy_seen++ == 0)
		return; /* the client must resend */
	if (strcmp(name, "lost.once") == 0 && atomic_exchange(&fk->lose_session, false)) {
		fake_error(fk, 0, SL_E_NO_SESSION, SL_FT_RESOLVE, 0);
		return; /* as for a session the broker expired */
	}
	if (strcmp(name, "full") == 0) {
		fake_error(fk, r->req_id, SL_E_TOPIC_TABLE_FULL, SL_FT_RESOLVE, 0);
		return;
	}
	if (strcmp(name, "secret") == 0) {
		fake_error(fk, r->req_id, SL_E_DENIED, SL_FT_RESOLVE, 0);
		return;
	}
	if (!(r->flags & SL_RESOLVE_F_CREATE)) {
		fake_error(fk, r->req_id, SL_E_UNKNOWN_TOPIC, SL_FT_RESOLVE, 0);
		return;
	}
	sl_proto_hdr_init(&t->h, SL_FT_TOPIC, 0, sizeof(*t), FAKE_SESSION);
	t->req_id = r->req_id;
	t->topic_id = strcmp(name, "t.a") == 0 ? 1 : strcmp(name, "lossy") == 0 ? 3 : 4;
	if (strcmp(name, "t.v2") == 0)
		t->topic_id = atomic_load(&fk->renumber) ? FAKE_TOPICS - 1 : V2_TOPIC;
	if (strcmp(name, "t.group") == 0)
		t->topic_id = GROUP_TOPIC;
	fake_send(fk, t, sizeof(*t));
}

static void
fake_ok(struct fake *fk, uint32_t req_id)
{
	struct sl_ok *ok = (struct sl_ok *)fk->out;

	sl_proto_hdr_init(&ok->h, SL_FT_OK, 0, sizeof(*ok), FAKE_SESSION);
	ok->req_id = req_id;
	ok->value = 0;
	ok->seq = 0; /* start unknown: the first DELIVER sets it */
	fake_send(fk, ok, sizeof(*ok));
}

/* The kept messages of @topic from the subscription's start point, one per datagram. */
static void
fake_replay(struct fake *fk, const struct sl_subscribe *s)
{
	uint64_t seq = 1;
	size_t len;

	if (s->h.flags & SL_SUB_F_FROM_SEQ)
		seq = s->start > 0 ? s->start : 1;
	else if (s->h.flags & SL_SUB_F_FROM_TIME)
		seq = s->start / 1000 + (s->start % 1000 != 0); /* first with seq*1000 >= start */
	for (; seq <= fk->seq[s->topic_id]; seq++) {
		len = fake_put_deliver_seq(fk, 0, s->topic_id, seq, SL_DLV_F_REPLAY, seq * 1000,
					   "replay", 6);
		fake_send(fk, fk->out, len);
	}
}

/* Replay refusals of the fake; returns the error code, or 0 to go on. */
static uint16_t
fake_replay_refusal(struct fake *fk, const struct sl_subscribe *s)
{
	if (s->topic_id == RBUSY_TOPIC)
		atomic_fetch_add(&fk->rbusy_subs, 1);
	if (s->h.type != SL_FT_SUBSCRIBE || !(s->h.flags & SL_SUB_F_REPLAY))
		return 0;
	if (s->topic_id == RBUSY_TOPIC)
		return SL_E_REPLAY_BUSY;
	if (s->topic_id != REPLAY_TOPIC && s->topic_id != REPLAY_LATE_TOPIC)
		return SL_E_NO_JOURNAL;
	return 0;
}

static void
fake_subscribe(struct fake *fk, const struct sl_subscribe *s)
{
	bool replay = (s->h.flags & SL_SUB_F_REPLAY) != 0;
	unsigned int i;
	uint16_t code;
	size_t len;

	if (s->topic_id == 0 || s->topic_id >= FAKE_TOPICS) {
		fake_error(fk, s->req_id, SL_E_UNKNOWN_TOPIC, s->h.type, s->topic_id);
		return;
	}
	if (s->h.type == SL_FT_SUBSCRIBE) {
		atomic_store(&fk->sub_flags, s->h.flags);
		atomic_store(&fk->sub_start, s->start);
		atomic_store(&fk->sub_flags_t[s->topic_id], s->h.flags);
		atomic_store(&fk->sub_start_t[s->topic_id], s->start);
		atomic_fetch_add(&fk->subs_t[s->topic_id], 1);
	}
	if (s->topic_id == DENIED_TOPIC) {
		fake_error(fk, s->req_id, SL_E_DENIED, s->h.type, s->topic_id);
		return;
	}
	if (s->topic_id == ENCREQ_TOPIC && !(fk->keyed && fk->enc)) {
		fake_error(fk, s->req_id, SL_E_ENCRYPTION_REQUIRED, s->h.type, s->topic_id);
		return;
	}
	code = fake_replay_refusal(fk, s);
	if (code != 0) {
		fake_error(fk, s->req_id, code, s->h.type, s->topic_id);
		return;
	}
	fk->subscribed[s->topic_id] = s->h.type == SL_FT_SUBSCRIBE;
	if (replay && s->topic_id == REPLAY_LATE_TOPIC) {
		fake_ok(fk, s->req_id);
		fake_replay(fk, s);
		return;
	}
	if (replay) {
		fake_replay(fk, s); /* must wait in the client's stash for its next poll */
		fake_ok(fk, s->req_id);
		return;
	}
	/* Deliveries racing the OK: the client must keep them for its next poll. */
	for (i = 0; s->h.type == SL_FT_SUBSCRIBE &&
		    i < (s->topic_id == FLOOD_TOPIC ? FLOOD_DGRAMS : 1); i++) {
		len = fake_put_deliver(fk, 0, s->topic_id, "retained", 8);
		fake_send(fk, fk->out, len);
	}
	fake_ok(fk, s->req_id);
}

static void
fake_ack_seq(struct fake *fk, uint32_t topic, uint64_t pseq, uint64_t seq, uint16_t flags)
{
	struct sl_ack *a = (struct sl_ack *)fk->out;
	unsigned int n = atomic_load(&fk->lose_acks);

	if (n > 0 && atomic_compare_exchange_strong(&fk->lose_acks, &n, n - 1))
		return;
	sl_proto_hdr_init(&a->h, SL_FT_ACK, flags, sizeof(*a), FAKE_SESSION);
	a->topic_id = topic;
	a->reserved = 0;
	a->producer_seq = pseq;
	a->seq = seq;
	fake_send(fk, a, sizeof(*a));
}

static void
fake_ack(struct fake *fk, const struct sl_publish *p)
{
	fake_ack_seq(fk, p->topic_id, p->producer_seq, fk->seq[p->topic_id] + 1, 0);
}

/*
 * The broker's dedup for a bound producer (v2), per topic: true when the
 * publish is new and goes on as before; else answered here (duplicate:
 * ACK with SL_ACK_F_DUP; a sequence past a hole: SL_E_OUT_OF_ORDER; fenced).
 * Producer sequence 0 is not deduplicated.
 */
static bool
fake_dedup(struct fake *fk, uint8_t type, uint32_t topic, uint64_t pseq, uint16_t flags)
{
	uint64_t *last = &fk->last_pseq[topic];
	unsigned int n;

	if (!fk->v2 || pseq == 0)
		return true;
	if (atomic_load(&fk->fence_pubs)) {
		fake_error(fk, 0, SL_E_FENCED, type, pseq);
		return false;
	}
	if (*last != 0 && pseq <= *last) {
		atomic_fetch_add(&fk->dups, 1);
		if (flags & SL_PUB_F_ACK_REQ)
			fake_ack_seq(fk, topic, pseq, 0, SL_ACK_F_DUP);
		return false;
	}
	if (*last != 0 && pseq > *last + 1) {
		atomic_fetch_add(&fk->ooos, 1);
		fake_error(fk, 0, SL_E_OUT_OF_ORDER, type, pseq);
		return false;
	}
	*last = pseq;
	n = atomic_load(&fk->stored[topic]);
	if (n < 64)
		fk->stored_pseq[topic][n] = pseq;
	atomic_fetch_add(&fk->stored[topic], 1); /* after: the test reads up to it */
	return true;
}

/* A piece of a large message: pieces come in order over loopback; the
 * whole is checked against the pattern the test writes (byte i = i * 7). */
static void
fake_frag(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_publish_frag *g = (const struct sl_publish_frag *)f->hdr;
	uint32_t i;

	atomic_fetch_add(&fk->frag_pieces, 1);
	if (g->frag_off == 0) {
		fk->frag_pseq = g->producer_seq;
		fk->frag_got = 0;
	}
	if (g->msg_len > V2_MAX_MESSAGE || g->frag_off != fk->frag_got ||
	    g->producer_seq != fk->frag_pseq || f->body_len != g->frag_len) {
		atomic_fetch_add(&fk->frag_bad, 1);
		return;
	}
	memcpy(fk->frag_buf + g->frag_off, f->body, g->frag_len);
	fk->frag_got += g->frag_len;
	if (fk->frag_got < g->msg_len)
		return;
	for (i = 0; i < g->msg_len; i++)
		if (fk->frag_buf[i] != (uint8_t)(i * 7))
			break;
	if (i != g->msg_len) {
		atomic_fetch_add(&fk->frag_bad, 1);
		return;
	}
	atomic_fetch_add(&fk->frag_msgs, 1);
	if (!fake_dedup(fk, SL_FT_PUBLISH_FRAG, g->topic_id, g->producer_seq, g->h.flags))
		return;
	if (g->h.flags & SL_PUB_F_ACK_REQ)
		fake_ack_seq(fk, g->topic_id, g->producer_seq, ++fk->seq[g->topic_id], 0);
}

/* PRODUCER: epoch 0 gets a new one, a resumed epoch is granted as asked. */
static void
fake_producer(struct fake *fk, const struct sl_producer *r)
{
	struct sl_producer_id *p = (struct sl_producer_id *)fk->out;

	atomic_fetch_add(&fk->producers, 1);
	atomic_store(&fk->producer_epoch, r->epoch);
	if (!fk->v2) {
		/* A broker without idempotent producers: the client publishes
		 * as in version 1. */
		fake_error(fk, r->req_id, SL_E_BAD_FRAME, SL_FT_PRODUCER, 0);
		return;
	}
	sl_proto_hdr_init(&p->h, SL_FT_PRODUCER_ID, 0, sizeof(*p), FAKE_SESSION);
	p->req_id = r->req_id;
	p->epoch = r->epoch != 0 ? r->epoch : V2_EPOCH0 + fk->epoch_gen++;
	p->producer_id = V2_PRODUCER_ID;
	fake_send(fk, p, sizeof(*p));
}


/* --- consumer groups (v4): one group "work" (GROUP_GID) on GROUP_TOPIC, one member --- */

/* A GDELIVER of GROUP_TOPIC's @seq, payload "m<seq>" (with key "k1" and
 * header h=v when it was published as "hdrs"). */
static void
fake_gdeliver(struct fake *fk, uint64_t seq)
{
	struct sl_gdeliver *d = (struct sl_gdeliver *)fk->out;
	uint8_t *body = (uint8_t *)(d + 1);
	const struct sl_header h = { .name = "h", .value = "v", .value_len = 1 };
	char text[32];
	int hl = 0, n;

	memset(d, 0, sizeof(*d));
	if (fk->ghdrs[seq])
		hl = sl_hdrs_build(body, SL_MAX_HDRS_LEN, "k1", 2, &h, 1);
	if (hl < 0)
		hl = 0;
	n = snprintf(text, sizeof(text), "m%" PRIu64, seq);
	memcpy(body + hl, text, (size_t)n);
	sl_proto_hdr_init(&d->h, SL_FT_GDELIVER, hl > 0 ? SL_DLV_F_HDRS : 0,
			  (uint32_t)(sizeof(*d) + (size_t)hl + (size_t)n), FAKE_SESSION);
	d->topic_id = GROUP_TOPIC;
	d->hdrs_len = (uint16_t)hl;
	d->seq = seq;
	d->timestamp = 42;
	d->group_id = GROUP_GID;
	d->delivery_count = ++fk->gcount[seq];
	fk->gheld[seq] = 1;
	atomic_fetch_add(&fk->gdelivered, 1);
	fake_send(fk, d, sizeof(*d) + (size_t)hl + (size_t)n);
}

/* Send what waits, as the member may take it: joined, not paused, and a
 * pull member only what it fetched. */
static void
fake_gpump(struct fake *fk)
{
	unsigned i = 0;

	while (i < fk->gback_n && fk->gjoined && !fk->gpaused && (!fk->gpull || fk->gfetch > 0)) {
		fake_gdeliver(fk, fk->gback[i++]);
		if (fk->gpull)
			fk->gfetch--;
	}
	memmove(fk->gback, fk->gback + i, (fk->gback_n - i) * sizeof(fk->gback[0]));
	fk->gback_n -= i;
}

static void
fake_gpublish(struct fake *fk, const struct sl_frame *f)
{
	uint64_t seq = ++fk->seq[GROUP_TOPIC];

	if (seq >= GROUP_SEQS || fk->gback_n == GROUP_BACKLOG)
		return;
	fk->ghdrs[seq] = f->body_len == 4 && memcmp(f->body, "hdrs", 4) == 0;
	fk->gback[fk->gback_n++] = seq;
	fake_gpump(fk);
}

static void
fake_gjoin(struct fake *fk, const struct sl_gjoin *j)
{
	struct sl_group_reply *r = (struct sl_group_reply *)fk->out;

	if (j->topic_id != GROUP_TOPIC) {
		fake_error(fk, j->req_id, SL_E_UNKNOWN_TOPIC, SL_FT_GJOIN, j->topic_id);
		return;
	}
	if (strcmp(j->group, "work") != 0) {
		fake_error(fk, j->req_id, SL_E_NO_GROUP, SL_FT_GJOIN, j->topic_id);
		return;
	}
	/* A rejoin keeps what the member held (the broker's takeover). */
	fk->gjoined = true;
	fk->gpull = (j->flags & SL_GJOIN_F_PULL) != 0;
	fk->gpaused = false;
	fk->gfetch = 0;
	atomic_store(&fk->gmember, j->member_id);
	atomic_store(&fk->gjoin_credit, j->credit);
	atomic_store(&fk->gjoin_flags, j->flags);
	memset(r, 0, sizeof(*r));
	sl_proto_hdr_init(&r->h, SL_FT_GROUP, 0, sizeof(*r), FAKE_SESSION);
	r->group_id = GROUP_GID;
	r->policy = SL_GROUP_RR;
	r->ack_wait_ms = 30000;
	r->max_deliveries = 5;
	r->grace_ms = 5000;
	r->credit = j->credit < 100 ? j->credit : 100;
	r->member_id = j->member_id;
	r->req_id = j->req_id;
	atomic_fetch_add(&fk->gjoins, 1); /* before: the test reads it once answered */
	fake_send(fk, r, sizeof(*r));
	fake_gpump(fk);
}

static void
fake_gctl(struct fake *fk, const struct sl_gctl *g)
{
	atomic_fetch_add(&fk->gctls[g->op], 1);
	if (g->group_id != GROUP_GID || !fk->gjoined) {
		fake_error(fk, g->req_id, SL_E_NO_GROUP, SL_FT_GCTL, g->group_id);
		return;
	}
	if (g->op == SL_GCTL_LEAVE)
		fk->gjoined = false;
	else if (g->op == SL_GCTL_PAUSE || g->op == SL_GCTL_RESUME)
		fk->gpaused = g->op == SL_GCTL_PAUSE;
	else
		fk->gfetch += g->n;
	fake_ok(fk, g->req_id);
	fake_gpump(fk);
}

/* A seq the member does not hold: ERROR SL_E_NOT_HELD, the group in req_id. */
static void
fake_not_held(struct fake *fk, uint8_t type, uint64_t seq)
{
	atomic_fetch_add(&fk->not_held, 1);
	fake_error(fk, GROUP_GID, SL_E_NOT_HELD, type, seq);
}

static void
fake_gack(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_gack *a = (const struct sl_gack *)f->hdr;
	const uint64_t *seqs = (const uint64_t *)f->body;
	uint64_t s;
	unsigned i;

	atomic_fetch_add(&fk->gack_frames, 1);
	atomic_fetch_add(&fk->gack_seqs, a->n);
	if (a->n > atomic_load(&fk->gack_max))
		atomic_store(&fk->gack_max, a->n);
	if (a->flags & SL_GACK_F_CUMULATIVE) {
		atomic_fetch_add(&fk->gack_cum, 1);
		atomic_store(&fk->gack_cum_seq, seqs[0]);
		for (s = 1; s <= seqs[0] && s < GROUP_SEQS; s++)
			if (fk->gheld[s] == 1) {
				fk->gheld[s] = 2;
				atomic_fetch_add(&fk->gacked, 1);
			}
		return;
	}
	for (i = 0; i < a->n; i++) {
		s = seqs[i];
		if (s < GROUP_SEQS && fk->gheld[s] == 1) {
			fk->gheld[s] = 2;
			atomic_fetch_add(&fk->gacked, 1);
		} else {
			fake_not_held(fk, SL_FT_GACK, s);
		}
	}
}

/* A nak: the message goes back, redelivered after its delay (the main loop). */
static void
fake_gnak(struct fake *fk, const struct sl_gnak *k)
{
	atomic_fetch_add(&fk->gnaks, 1);
	atomic_store(&fk->gnak_delay, k->delay_ms);
	atomic_store(&fk->gnak_error, k->error);
	if (k->seq >= GROUP_SEQS || fk->gheld[k->seq] != 1) {
		fake_not_held(fk, SL_FT_GNAK, k->seq);
		return;
	}
	fk->gheld[k->seq] = 0;
	fk->gredo_seq = k->seq;
	fk->gredo_ns = sl_now_ns() + k->delay_ms * MS;
}

/* Payload words steer the fake: "expire", "multi", "gap", "bad". */
static void
fake_publish(struct fake *fk, const struct sl_frame *f)
{
	const struct sl_publish *p = (const struct sl_publish *)f->hdr;
	size_t len = 0;
	int i;

	if (p->topic_id == 0 || p->topic_id >= FAKE_TOPICS) {
		fake_error(fk, 0, SL_E_UNKNOWN_TOPIC, SL_FT_PUBLISH, p->producer_seq);
		return;
	}
	if (p->topic_id == DENIED_TOPIC) {
		fake_error(fk, 0, SL_E_DENIED, SL_FT_PUBLISH, p->producer_seq);
		return;
	}
	if (p->topic_id == ENCREQ_TOPIC && !(fk->keyed && fk->enc)) {
		fake_error(fk, 0, SL_E_ENCRYPTION_REQUIRED, SL_FT_PUBLISH, p->topic_id);
		return;
	}
	if (p->topic_id == SILENT_TOPIC || p->topic_id == SILENT_TOPIC2) {
		atomic_fetch_add(&fk->silent_pubs, 1);
		return;
	}
	if (p->topic_id == JFULL_TOPIC || p->topic_id == JDAMAGED_TOPIC) {
		/* As the broker does: no ACK, an ERROR naming the producer_seq. */
		fake_error(fk, 0, p->topic_id == JFULL_TOPIC ? SL_E_JOURNAL_FULL :
			   SL_E_JOURNAL_DAMAGED, SL_FT_PUBLISH, p->producer_seq);
		return;
	}
	if (f->body_len == 6 && memcmp(f->body, "expire", 6) == 0) {
		fake_error(fk, 0, SL_E_NO_SESSION, SL_FT_PUBLISH, 0);
		return;
	}
	if (atomic_exchange(&fk->expire_pub, false)) {
		/* As the broker answers a publish of a session it expired:
		 * SL_E_NO_SESSION naming the publish (PROTOCOL.md 5.12). */
		fake_error(fk, 0, SL_E_NO_SESSION, SL_FT_PUBLISH, p->producer_seq);
		return;
	}
	if (!fake_dedup(fk, SL_FT_PUBLISH, p->topic_id, p->producer_seq, f->hdr->flags))
		return;
	if (f->hdr->flags & SL_PUB_F_ACK_REQ)
		fake_ack(fk, p);
	if (p->topic_id == GROUP_TOPIC) {
		fake_gpublish(fk, f);
		return;
	}
	if (!fk->subscribed[p->topic_id]) {
		fk->seq[p->topic_id]++; /* accepted (and kept, on a replay topic) */
		return;
	}
	if (f->body_len == 3 && memcmp(f->body, "gap", 3) == 0)
		fk->seq[p->topic_id] += 2;
	for (i = 0; i < (f->body_len == 5 && memcmp(f->body, "multi", 5) == 0 ? 3 : 1); i++)
		len += fake_put_deliver(fk, len, p->topic_id, f->body, f->body_len);
	if (f->body_len == 3 && memcmp(f->body, "bad", 3) == 0) {
		/* A frame with a wrong version, then one the client must not trust. */
		memset((uint8_t *)fk->out + len, 0x5a, sizeof(struct sl_hdr));
		len += sizeof(struct sl_hdr);
		len += fake_put_deliver(fk, len, p->topic_id, "lost", 4);
	}
	fake_send(fk, fk->out, len);
}

static void
fake_frame(struct fake *fk, const struct sl_frame *f)
{
	uint8_t type = f->hdr->type;

	switch (type) {
	case SL_FT_HELLO:
		fake_hello(fk, f);
		break;
	case SL_FT_AUTH:
		fake_auth(fk, (const struct sl_auth *)f->hdr);
		break;
	case SL_FT_RESOLVE:
		fake_resolve(fk, f);
		break;
	case SL_FT_SUBSCRIBE:
	case SL_FT_UNSUBSCRIBE:
		fake_subscribe(fk, (const struct sl_subscribe *)f->hdr);
		break;
	case SL_FT_PUBLISH:
		fake_publish(fk, f);
		break;
	case SL_FT_PUBLISH_FRAG:
		fake_frag(fk, f);
		break;
	case SL_FT_PSUBSCRIBE:
		atomic_fetch_add(&fk->psubs, 1);
		fake_ok(fk, ((const struct sl_resolve *)f->hdr)->req_id);
		break;
	case SL_FT_PRODUCER:
		fake_producer(fk, (const struct sl_producer *)f->hdr);
		break;
	case SL_FT_GJOIN:
		fake_gjoin(fk, (const struct sl_gjoin *)f->hdr);
		break;
	case SL_FT_GCTL:
		fake_gctl(fk, (const struct sl_gctl *)f->hdr);
		break;
	case SL_FT_GACK:
		fake_gack(fk, f);
		break;
	case SL_FT_GNAK:
		fake_gnak(fk, (const struct sl_gnak *)f->hdr);
		break;
	case SL_FT_HEARTBEAT:
		atomic_fetch_add(&fk->heartbeats, 1);
		fake_send(fk, f->hdr, f->len);
		break;
	case SL_FT_GOODBYE:
		atomic_fetch_add(&fk->goodbyes, 1);
		atomic_store(&fk->sealing, false); /* the session is over */
		break;
	default:
		break;
	}
}

/*
 * As the dataplane: a datagram of an authenticated session is one SEAL
 * whose tag holds under k_c2s, with a seq new to the replay window (and
 * encrypted when the session is); its inner frames are the session's. Only
 * HELLO and AUTH go unsealed. Returns where its frames start and end.
 */
static bool
fake_open(struct fake *fk, size_t n, size_t *off, size_t *end)
{
	const struct sl_seal *s = (const struct sl_seal *)fk->in;
	struct sl_seal_key k;

	*off = 0;
	*end = n;
	if (n < sizeof(struct sl_hdr) || s->h.type != SL_FT_SEAL)
		return false;
	if (!fk->keyed || s->h.length > n || s->h.length < SL_SEAL_OVERHEAD ||
	    s->h.session != FAKE_SESSION || (fk->enc && !(s->h.flags & SL_SEAL_F_ENC)) ||
	    sl_seal_key_init(&k, atomic_load(&fk->suite), fk->k_c2s) != 0 ||
	    sl_seal_open_k(&k, SL_DIR_C2S, fk->in, s->h.length) < 0 ||
	    sl_replay_check(&fk->rx_win, s->seq) < 0) {
		*end = 0;
		atomic_fetch_add(&fk->sealed_bad, 1);
		return false;
	}
	if (s->h.flags & SL_SEAL_F_ENC)
		atomic_fetch_add(&fk->enc_dgrams, 1);
	*off = SL_SEAL_HDR_LEN;
	*end = s->h.length - SL_TAG_LEN;
	return true;
}

/* May the fake act on frame @f, which came sealed or not? */
static bool
fake_frame_ok(struct fake *fk, const struct sl_frame *f, bool sealed)
{
	uint8_t type = f->hdr->type;

	if (sealed) {
		if (type == SL_FT_HELLO || type == SL_FT_AUTH || type == SL_FT_SEAL) {
			atomic_fetch_add(&fk->sealed_bad, 1);
			return false;
		}
		atomic_fetch_add(&fk->sealed_ok, 1);
		atomic_fetch_add(&fk->sealed_by_type[type & 0x7f], 1);
		return true;
	}
	if (fk->auth && type != SL_FT_HELLO && type != SL_FT_AUTH) {
		atomic_fetch_add(&fk->sealed_bad, 1);
		return false; /* dropped, as the dataplane does */
	}
	return true;
}

/* The fake restarts: a new incarnation, every producer's state forgotten. */
static void
fake_restart(struct fake *fk)
{
	memset(fk->last_pseq, 0, sizeof(fk->last_pseq));
	atomic_fetch_add(&fk->incarnation, 1);
}

static void *
fake_main(void *arg)
{
	struct fake *fk = arg;
	struct pollfd p = { .fd = fk->fd, .events = POLLIN };
	struct sl_frame f;
	unsigned int pubs;
	socklen_t alen;
	bool sealed;
	ssize_t n;
	size_t off, end;

	while (!atomic_load(&fk->stop)) {
		if (atomic_exchange(&fk->restart, false))
			fake_restart(fk);
		if (fk->gredo_seq != 0 && sl_now_ns() >= fk->gredo_ns) {
			fake_gdeliver(fk, fk->gredo_seq); /* a nak's delay ran out */
			fk->gredo_seq = 0;
		}
		if (poll(&p, 1, 5) <= 0)
			continue;
		alen = sizeof(fk->peer);
		n = recvfrom(fk->fd, fk->in, sizeof(fk->in), 0, (struct sockaddr *)&fk->peer,
			     &alen);
		if (n <= 0 || atomic_load(&fk->silent))
			continue;
		pubs = 0;
		sealed = fake_open(fk, (size_t)n, &off, &end);
		while (sl_proto_next(fk->in, end, &off, &f) == 1) {
			if (!fake_frame_ok(fk, &f, sealed))
				continue;
			if (f.hdr->type == SL_FT_PUBLISH) {
				unsigned int d = atomic_load(&fk->drop_pubs);

				pubs++;
				if (d > 0 && atomic_compare_exchange_strong(&fk->drop_pubs, &d, d - 1))
					continue;
			}
			fake_frame(fk, &f);
		}
		if (pubs > 0)
			atomic_fetch_add(&fk->pub_dgrams, 1);
		if (pubs > atomic_load(&fk->max_batch))
			atomic_store(&fk->max_batch, pubs);
	}
	return NULL;
}


/* @auth: the fake requires authentication, as `auth required`; @v2: it
 * speaks protocol version 2 (producers, fragments, incarnation). */
static int
fake_start_v(struct fake *fk, bool auth, bool v2)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	memset(fk, 0, sizeof(*fk));
	fk->auth = auth;
	fk->v2 = v2;
	sl_random(fk->secret, sizeof(fk->secret));
	atomic_store(&fk->incarnation, 1000);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fk->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fk->fd < 0 || bind(fk->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fk->fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	fk->port = ntohs(sa.sin_port);
	fk->seq[REPLAY_TOPIC] = RETAINED;
	fk->seq[REPLAY_LATE_TOPIC] = RETAINED;
	return pthread_create(&fk->thread, NULL, fake_main, fk) == 0 ? 0 : -1;
}

static int
fake_start(struct fake *fk, bool auth)
{
	return fake_start_v(fk, auth, false);
}

/* An authenticating fake whose user has encryption policy @policy. */
static int
fake_start_auth(struct fake *fk, int policy)
{
	if (fake_start(fk, true) < 0) {
		perror("fake broker");
		return -1;
	}
	atomic_store(&fk->enc_policy, policy);
	return 0;
}

static void
fake_stop(struct fake *fk)
{
	atomic_store(&fk->stop, true);
	pthread_join(fk->thread, NULL);
	close(fk->fd);
}

struct collect {
	unsigned int n;
	uint32_t topic;
	uint64_t seq;
	uint64_t ts;
	uint64_t seqs[16]; /* the first 16 sequence numbers, in arrival order */
	char last[64];
};

static void
on_msg(void *arg, const struct sl_message *m)
{
	struct collect *col = arg;
	uint32_t len = m->len < sizeof(col->last) - 1 ? m->len : sizeof(col->last) - 1;

	if (col->n < sizeof(col->seqs) / sizeof(col->seqs[0]))
		col->seqs[col->n] = m->seq;
	col->n++;
	col->topic = m->topic_id;
	col->seq = m->seq;
	col->ts = m->timestamp;
	memcpy(col->last, m->data, len);
	col->last[len] = '\0';
}

/* Poll until @want deliveries arrived or 1 s passed; @max per call. */
static void
collect(struct sl_client *c, struct collect *col, unsigned int want, int max)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;
	int rc;

	while (col->n < want && sl_now_ns() < deadline) {
		rc = sl_client_wait(c, on_msg, col, max, 10);
		CHECK(rc >= 0 && rc <= max);
		if (rc < 0)
			break;
	}
}

/* Connect as the fake expects: with its user's credentials when it authenticates. */
static int
fake_connect(struct fake *fk, struct sl_client **c, const char *name)
{
	/* Version 1 behaviour: a lost session stays lost (test_expire). The
	 * fake answers no NAK: a jump in seq it makes on purpose is given up
	 * by the client after 50 ms, as a broker's SL_E_GAP_LOST would. */
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = name,
				    .timeout_ms = 1000, .no_reconnect = 1,
				    .gap_timeout_ms = 50 };

	if (fk->auth) {
		o.user = FAKE_USER;
		o.key = fake_key;
		o.encrypt = atomic_load(&fk->enc_policy) == ENC_REQUIRED;
	}
	return sl_client_connect(c, &o);
}

/* Connect to @fk as @user with @key (both may be NULL); *@code gets last_error. */
static int
auth_connect(struct fake *fk, struct sl_client **c, const char *user, const uint8_t *key,
	     uint32_t timeout_ms, uint16_t *code)
{
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = "other",
				    .timeout_ms = timeout_ms, .user = user, .key = key,
				    .last_error = code };

	*code = 0xffff; /* connect must overwrite it */
	return sl_client_connect(c, &o);
}

static void
test_connect_errors(struct fake *fk)
{
	struct sl_client_opts o = { .host = "127.0.0.1", .timeout_ms = 300 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct sl_client *c = NULL;
	uint64_t t0;
	int fd, rc;

	CHECK(sl_client_connect(&c, &(struct sl_client_opts){ .host = NULL }) == -EINVAL);
	/* A port nobody listens on: ICMP refusals must not end the retries early. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	o.port = ntohs(sa.sin_port);
	t0 = sl_now_ns();
	rc = sl_client_connect(&c, &o);
	CHECK(rc == -ETIMEDOUT);
	CHECK(sl_now_ns() - t0 >= 290 * MS && sl_now_ns() - t0 < 1500 * MS);
	CHECK(fake_connect(fk, &c, "oldver") == -EPROTO);
	sl_client_close(NULL);
}

static void
test_resolve(struct sl_client *c)
{
	uint32_t id = 0;
	uint64_t t0;

	CHECK(sl_client_resolve(c, "t.a", 1, &id) == 0 && id == 1);
	CHECK(sl_client_resolve(c, "full", 1, &id) == -ENOSPC);
	CHECK(sl_client_resolve(c, "missing", 0, &id) == -ENOENT);
	CHECK(sl_client_resolve(c, "a b", 1, &id) == -EINVAL);
	CHECK(sl_client_resolve(c, "", 1, &id) == -EINVAL);
	t0 = sl_now_ns();
	CHECK(sl_client_resolve(c, "lossy", 1, &id) == 0 && id == 3);
	CHECK(sl_now_ns() - t0 >= 150 * MS); /* answered only the resend */
}

/* Topic id to name (RESOLVE by id), as a pattern subscriber asks. */
static void
test_topic_name(struct sl_client *c, struct fake *fk)
{
	char name[SL_MAX_TOPIC_NAME + 1];
	uint64_t t0;

	CHECK(sl_client_topic_name(c, 1, name, sizeof(name)) == 3 && strcmp(name, "t.a") == 0);
	CHECK(sl_client_topic_name(c, 1, name, 3) == -ENAMETOOLONG);
	CHECK(sl_client_topic_name(c, 1, name, 4) == 3);
	CHECK(sl_client_topic_name(c, 9, name, sizeof(name)) == -EPERM);
	CHECK(sl_client_topic_name(c, 12, name, sizeof(name)) == -ENOENT);
	CHECK(sl_client_topic_name(c, 0, name, sizeof(name)) == -EINVAL);
	fk->lossy_seen = 0;
	t0 = sl_now_ns();
	CHECK(sl_client_topic_name(c, 3, name, sizeof(name)) == 5 && strcmp(name, "lossy") == 0);
	CHECK(sl_now_ns() - t0 >= 150 * MS); /* answered only the resend */
}

static void
test_subscribe_publish(struct sl_client *c)
{
	static char big[SL_MAX_MESSAGE_DEFAULT + 1]; /* over WELCOME max_message */
	struct collect col = { 0 };
	struct sl_client_stats st;

	CHECK(sl_client_subscribe(c, 1) == 0);
	CHECK(sl_client_subscribe(c, 99) == -ENOENT);
	CHECK(sl_client_subscribe(c, 0) == -ENOENT);
	/* The delivery that raced the OK was stashed, not lost. */
	CHECK(sl_client_poll(c, on_msg, &col, 8) == 1);
	CHECK(col.topic == 1 && col.seq == 1 && strcmp(col.last, "retained") == 0);

	CHECK(sl_client_publish(c, 1, "hello", 5, 1, SL_PUB_F_ACK_REQ) == 0);
	CHECK(sl_client_last_seq(c) == 1);
	collect(c, &col, 2, 8);
	CHECK(col.n == 2 && col.seq == 2 && strcmp(col.last, "hello") == 0);
	CHECK(sl_client_acked(c) == 1);
	CHECK(sl_client_publish(c, 1, big, sizeof(big), 0, 0) == -EMSGSIZE);
	CHECK(sl_client_publish(c, 1, "x", 1, 0, 0x80) == -EINVAL);
	CHECK(sl_client_last_seq(c) == 1);

	/* Three deliveries in one datagram, handed out one per poll. */
	CHECK(sl_client_publish(c, 1, "multi", 5, 0, 0) == 0);
	collect(c, &col, 5, 1);
	CHECK(col.n == 5 && col.seq == 5);

	CHECK(sl_client_publish(c, 1, "gap", 3, 0, 0) == 0);
	collect(c, &col, 6, 8);
	CHECK(col.seq == 8);

	CHECK(sl_client_publish(c, 50, "x", 1, 0, 0) == 0);
	CHECK(sl_client_publish(c, 1, "bad", 3, 0, 0) == 0);
	collect(c, &col, 7, 8);
	CHECK(col.n == 7 && strcmp(col.last, "bad") == 0);
	(void)sl_client_wait(c, on_msg, &col, 8, 50);
	CHECK(col.n == 7); /* the frame after the bad one was dropped */

	sl_client_stats(c, &st);
	CHECK(st.published == 5);
	CHECK(st.delivered == 7);
	CHECK(st.acks == 1);
	CHECK(st.gaps == 2);
	CHECK(st.errors == 5); /* full, missing, subscribe 99, publish to 50, PRODUCER */
	CHECK(st.bad_frames == 1);
	CHECK(st.stash_drops == 0);
	CHECK(sl_client_session(c) == FAKE_SESSION);
}

/* Replay delivered before the OK: stashed, then handed out in order, then live. */
static void
test_replay_earliest(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	struct sl_client_stats st0, st;

	sl_client_stats(c, &st0);
	/* Bad flags never reach the wire. */
	CHECK(sl_client_subscribe_from(c, REPLAY_TOPIC, SL_SUB_F_EARLIEST | SL_SUB_F_FROM_SEQ,
				       1) == -EINVAL);
	CHECK(sl_client_subscribe_from(c, REPLAY_TOPIC, 0x80, 0) == -EINVAL);

	CHECK(sl_client_subscribe_from(c, REPLAY_TOPIC, SL_SUB_F_EARLIEST, 99) == 0);
	CHECK(atomic_load(&fk->sub_flags) == SL_SUB_F_EARLIEST);
	CHECK(atomic_load(&fk->sub_start) == 0); /* meaningless here: sent as 0 */
	collect(c, &col, RETAINED, 8);
	CHECK(col.n == RETAINED && col.seqs[0] == 1 && col.seqs[1] == 2 && col.seqs[2] == 3);
	CHECK(col.ts == 3000 && strcmp(col.last, "replay") == 0);
	CHECK(sl_client_publish(c, REPLAY_TOPIC, "live", 4, 0, 0) == 0);
	collect(c, &col, RETAINED + 1, 8);
	CHECK(col.n == RETAINED + 1 && col.seq == 4 && strcmp(col.last, "live") == 0);
	sl_client_stats(c, &st);
	CHECK(st.gaps == st0.gaps);
	/* A jump after the replay is a real gap (e.g. retention deleted messages). */
	CHECK(sl_client_publish(c, REPLAY_TOPIC, "gap", 3, 0, 0) == 0);
	collect(c, &col, RETAINED + 2, 8);
	CHECK(col.seq == 7);
	sl_client_stats(c, &st);
	CHECK(st.gaps - st0.gaps == 2);
	CHECK(st.errors == st0.errors);
}

/* Replay delivered after the OK, from a sequence and from a time. */
static void
test_replay_from(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	struct sl_client_stats st0, st;
	int i;

	/* Live: the delivery racing the OK is seq 4; then away while 5..7 come. */
	CHECK(sl_client_subscribe(c, REPLAY_LATE_TOPIC) == 0);
	CHECK(atomic_load(&fk->sub_flags) == 0 && atomic_load(&fk->sub_start) == 0);
	collect(c, &col, 1, 8);
	CHECK(col.n == 1 && col.seq == RETAINED + 1);
	CHECK(sl_client_unsubscribe(c, REPLAY_LATE_TOPIC) == 0);
	for (i = 0; i < 3; i++)
		CHECK(sl_client_publish(c, REPLAY_LATE_TOPIC, "away", 4, 0, 0) == 0);

	/* Starting at 7 is what was asked for: no gap after the 4 seen before. */
	sl_client_stats(c, &st0);
	CHECK(sl_client_subscribe_from(c, REPLAY_LATE_TOPIC, SL_SUB_F_FROM_SEQ, 7) == 0);
	CHECK(atomic_load(&fk->sub_flags) == SL_SUB_F_FROM_SEQ);
	CHECK(atomic_load(&fk->sub_start) == 7);
	collect(c, &col, 2, 8);
	CHECK(col.n == 2 && col.seq == 7 && strcmp(col.last, "replay") == 0);
	CHECK(sl_client_publish(c, REPLAY_LATE_TOPIC, "live", 4, 0, 0) == 0);
	collect(c, &col, 3, 8);
	CHECK(col.n == 3 && col.seq == 8 && strcmp(col.last, "live") == 0);
	sl_client_stats(c, &st);
	CHECK(st.gaps == st0.gaps);

	/* From a time: the fake received seq N at N * 1000 ns. */
	memset(&col, 0, sizeof(col));
	CHECK(sl_client_subscribe_from(c, REPLAY_LATE_TOPIC, SL_SUB_F_FROM_TIME, 5500) == 0);
	CHECK(atomic_load(&fk->sub_flags) == SL_SUB_F_FROM_TIME);
	CHECK(atomic_load(&fk->sub_start) == 5500);
	collect(c, &col, 3, 8);
	(void)sl_client_wait(c, on_msg, &col, 8, 30);
	CHECK(col.n == 3 && col.seqs[0] == 6 && col.seqs[1] == 7 && col.seqs[2] == 8);
	sl_client_stats(c, &st);
	CHECK(st.gaps == st0.gaps);
	CHECK(st.errors == st0.errors);
}

/* Replay refusals map to errnos; live subscribing to the same topic still works. */
static void
test_replay_refused(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	struct sl_client_stats st0, st;
	uint64_t t0;

	sl_client_stats(c, &st0);
	CHECK(sl_client_subscribe_from(c, NOJOURNAL_TOPIC, SL_SUB_F_EARLIEST, 0) == -EOPNOTSUPP);
	sl_client_stats(c, &st);
	CHECK(st.errors == st0.errors + 1);
	CHECK(st.last_error == SL_E_NO_JOURNAL);
	CHECK(st.publish_refused == st0.publish_refused);
	CHECK(sl_client_subscribe_from(c, NOJOURNAL_TOPIC, 0, 0) == 0);
	collect(c, &col, 1, 8); /* the delivery that raced the OK */
	CHECK(col.n == 1 && col.topic == NOJOURNAL_TOPIC);

	/* Unlike SL_E_BUSY, not retried until the timeout: answered at once. */
	t0 = sl_now_ns();
	CHECK(sl_client_subscribe_from(c, RBUSY_TOPIC, SL_SUB_F_FROM_SEQ, 1) == -EBUSY);
	CHECK(sl_now_ns() - t0 < 500 * MS);
	CHECK(atomic_load(&fk->rbusy_subs) == 1);
	sl_client_stats(c, &st);
	CHECK(st.last_error == SL_E_REPLAY_BUSY);
}

/* Poll until @want ERROR frames more than @errors0 arrived, or 1 s passed. */
static void
wait_errors(struct sl_client *c, uint64_t errors0, uint64_t want, struct sl_client_stats *st)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;

	do {
		CHECK(sl_client_wait(c, NULL, NULL, 8, 10) >= 0);
		sl_client_stats(c, st);
	} while (st->errors - errors0 < want && sl_now_ns() < deadline);
}

static void
test_publish_refused(struct sl_client *c)
{
	struct sl_client_stats st0, st;
	uint64_t acked0 = sl_client_acked(c);
	int i;

	sl_client_stats(c, &st0);
	for (i = 0; i < 3; i++)
		CHECK(sl_client_publish(c, JFULL_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_errors(c, st0.errors, 3, &st);
	CHECK(st.errors - st0.errors == 3);
	CHECK(st.publish_refused - st0.publish_refused == 3);
	CHECK(st.last_error == SL_E_JOURNAL_FULL);
	CHECK(st.acks == st0.acks && sl_client_acked(c) == acked0);
	CHECK(st.published - st0.published == 3); /* the kernel took them all */

	/* The most recent code wins. */
	CHECK(sl_client_publish(c, JDAMAGED_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_errors(c, st0.errors, 4, &st);
	CHECK(st.publish_refused - st0.publish_refused == 4);
	CHECK(st.last_error == SL_E_JOURNAL_DAMAGED);
}

static void
test_heartbeat(struct sl_client *c, struct fake *fk)
{
	struct collect col = { 0 };
	unsigned int before = atomic_load(&fk->heartbeats);
	uint64_t t0 = sl_now_ns();

	/* Silent for 3 broker intervals: wait must send heartbeats on its own. */
	while (sl_now_ns() - t0 < 3 * FAKE_HB_MS * MS)
		CHECK(sl_client_wait(c, on_msg, &col, 8, 300) >= 0);
	CHECK(atomic_load(&fk->heartbeats) - before >= 4);
	CHECK(col.n == 0);
}

/* More deliveries race a request's answer than the stash first has room
 * for: every one is kept, in order, for the next polls. */
static void
test_stash_overflow(struct sl_client *c)
{
	struct collect col = { 0 };
	struct sl_client_stats st0, st;
	int rcvbuf = 0;
	socklen_t len = sizeof(rcvbuf);

	getsockopt(sl_client_fd(c), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	if (rcvbuf < (4 << 20)) {
		/* Without CAP_NET_ADMIN the kernel itself would drop the flood. */
		fprintf(stderr, "stash overflow: skipped, SO_RCVBUF is %d\n", rcvbuf);
		return;
	}
	sl_client_stats(c, &st0);
	CHECK(sl_client_subscribe(c, FLOOD_TOPIC) == 0);
	collect(c, &col, FLOOD_DGRAMS, 64);
	sl_client_stats(c, &st);
	CHECK(st.stash_drops == 0);
	CHECK(col.n == FLOOD_DGRAMS);
	CHECK(col.seqs[0] == 1 && col.seqs[15] == 16 && col.seq == FLOOD_DGRAMS);
	CHECK(st.gaps == st0.gaps);
	CHECK(st.delivered - st0.delivered == FLOOD_DGRAMS);
}

static void
test_expire(struct sl_client *c)
{
	struct collect col = { 0 };
	uint32_t id;
	int rc = 0;
	int i;

	CHECK(sl_client_publish(c, 1, "expire", 6, 0, 0) == 0);
	for (i = 0; i < 100 && rc != -ENOTCONN; i++)
		rc = sl_client_wait(c, on_msg, &col, 8, 10);
	CHECK(rc == -ENOTCONN);
	CHECK(sl_client_poll(c, on_msg, &col, 8) == -ENOTCONN);
	CHECK(sl_client_resolve(c, "t.a", 1, &id) == -ENOTCONN);
	CHECK(sl_client_publish(c, 1, "x", 1, 0, 0) == -ENOTCONN);
}

/* Waits (bounded, 2 s) until the fake has counted exactly @want GOODBYEs,
 * then a further 10 ms to see that no extra one follows. */
static bool
wait_goodbyes(struct fake *fk, unsigned int want)
{
	for (int i = 0; i < 1000 && atomic_load(&fk->goodbyes) < want; i++)
		usleep(2000);
	usleep(10000);
	return atomic_load(&fk->goodbyes) == want;
}

static void
test_goodbye(struct fake *fk)
{
	unsigned int before = atomic_load(&fk->goodbyes);
	struct sl_client *c;

	CHECK(fake_connect(fk, &c, "bye") == 0);
	sl_client_close(c);
	CHECK(wait_goodbyes(fk, before + 1));
}

/* SL_E_DENIED: -EPERM for requests, a publish refusal for publishes. */
static void
test_denied(struct sl_client *c)
{
	struct sl_client_stats st0, st;
	uint32_t id = 0;

	sl_client_stats(c, &st0);
	CHECK(sl_client_resolve(c, "secret", 1, &id) == -EPERM && id == 0);
	sl_client_stats(c, &st);
	CHECK(st.last_error == SL_E_DENIED);
	CHECK(sl_client_subscribe(c, DENIED_TOPIC) == -EPERM);
	CHECK(sl_client_unsubscribe(c, DENIED_TOPIC) == -EPERM);
	CHECK(sl_client_publish(c, DENIED_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_errors(c, st0.errors, 4, &st);
	CHECK(st.errors - st0.errors == 4);
	CHECK(st.publish_refused - st0.publish_refused == 1);
	CHECK(st.last_error == SL_E_DENIED);
	CHECK(st.acks == st0.acks);
}

/* Wait up to 1 s for the client's ack of its last publish. (The session's
 * earlier publishes include refused ones: the acknowledged mark stays below
 * the first of them.) */
static void
wait_acked(struct sl_client *c)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;
	uint64_t seq = sl_client_last_seq(c);

	while (sl_client_pub_status(c, seq, NULL) == SL_PUB_OUTSTANDING && sl_now_ns() < deadline)
		CHECK(sl_client_wait(c, NULL, NULL, 8, 10) >= 0);
	CHECK(sl_client_pub_status(c, seq, NULL) == SL_PUB_ACKED);
	CHECK(sl_client_settled(c) == seq);
}

/* Sealed frames the fake must parse: a maximal publish (in one sealed
 * datagram), names needing padding. */
static void
test_sealed(struct sl_client *c, struct fake *fk)
{
	static char big[SL_MAX_PAYLOAD];
	unsigned int ok0 = atomic_load(&fk->sealed_ok);
	unsigned int frags0 = atomic_load(&fk->frag_pieces);
	uint32_t id = 0;

	/* Topic 2 has no subscriber: an ACK, no delivery. One PUBLISH, not
	 * pieces: the fake's fragments would want another content. */
	memset(big, 'b', sizeof(big));
	CHECK(sl_client_publish(c, 2, big, sizeof(big), 0, SL_PUB_F_ACK_REQ) == 0);
	wait_acked(c);
	CHECK(sl_client_publish(c, 2, "odd", 3, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_acked(c);
	CHECK(sl_client_resolve(c, "t.a", 1, &id) == 0 && id == 1);
	CHECK(sl_client_resolve(c, "twelve.chars", 1, &id) == 0 && id == 4);
	CHECK(atomic_load(&fk->sealed_ok) - ok0 >= 4);
	CHECK(atomic_load(&fk->frag_pieces) == frags0);
}

/* The broker side of the handshake, and how the client takes each answer. */
static void
test_auth_connect(struct fake *fk)
{
	uint8_t wrong[SL_AUTH_KEY_LEN];
	struct sl_client *c = NULL;
	unsigned int auths0;
	uint16_t code;
	uint64_t t0;

	memcpy(wrong, fake_key, sizeof(wrong));
	wrong[31] ^= 0x80;
	/* Both or neither, and a valid user name: checked before anything is sent. */
	CHECK(auth_connect(fk, &c, FAKE_USER, NULL, 300, &code) == -EINVAL);
	CHECK(auth_connect(fk, &c, NULL, fake_key, 300, &code) == -EINVAL);
	CHECK(auth_connect(fk, &c, "bad user", fake_key, 300, &code) == -EINVAL);
	CHECK(atomic_load(&fk->challenges) == 0);

	/* No credentials where they are required: refused at once, not timed out
	 * (the bound is half the timeout: a loaded machine must not fail it). */
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, NULL, NULL, 1000, &code) == -EACCES);
	CHECK(code == SL_E_AUTH_REQUIRED);
	CHECK(sl_now_ns() - t0 < 500 * MS);

	/* Wrong key, unknown user: the same answer, as the broker gives. */
	CHECK(auth_connect(fk, &c, FAKE_USER, wrong, 1000, &code) == -EACCES);
	CHECK(code == SL_E_AUTH_FAILED);
	CHECK(auth_connect(fk, &c, "mallory", fake_key, 1000, &code) == -EACCES);
	CHECK(code == SL_E_AUTH_FAILED);
	CHECK(atomic_load(&fk->sealed_ok) == 0);

	/* Success, with the first AUTH lost: resent after 200 ms. */
	atomic_store(&fk->drop_auth, true);
	auths0 = atomic_load(&fk->auths);
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 1000, &code) == 0);
	CHECK(code == SL_E_NONE);
	CHECK(sl_now_ns() - t0 >= 150 * MS);
	CHECK(atomic_load(&fk->auths) == auths0 + 1);
	CHECK(c != NULL && sl_client_session(c) == FAKE_SESSION);
	sl_client_close(c);

	/* A WELCOME not sealed under the session key is ignored: with no
	 * genuine one by the timeout, -EACCES with no broker error code. */
	atomic_store(&fk->welcome_mode, WELCOME_FORGED);
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 400, &code) == -EACCES);
	CHECK(code == SL_E_NONE);
	CHECK(sl_now_ns() - t0 >= 390 * MS);
	/* Nor does a WELCOME without the AUTH flag and trailer do (a downgrade). */
	atomic_store(&fk->welcome_mode, WELCOME_PLAIN);
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 400, &code) == -EACCES);
	CHECK(code == SL_E_NONE);
	/* A forged WELCOME cannot stop the genuine one that follows. */
	atomic_store(&fk->welcome_mode, WELCOME_FORGED_GOOD);
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 1000, &code) == 0);
	CHECK(sl_now_ns() - t0 < 500 * MS);
	sl_client_close(c);
	atomic_store(&fk->welcome_mode, WELCOME_GOOD);
}

/*
 * The AES-256-GCM suite: libsluice offers it (this CPU has AES-NI); a
 * CHALLENGE that keeps it makes the session AES-256-GCM both ways, one that
 * drops it ChaCha20-Poly1305. A WELCOME, sealed right, whose
 * SL_WELCOME_F_AESGCM names the other suite is no broker's: ignored, the
 * connect times out.
 */
static void
test_auth_suites(struct fake *fk)
{
	struct sl_client *c = NULL;
	int policy = atomic_load(&fk->enc_policy);
	unsigned int goodbyes, i;
	uint16_t code;

	atomic_store(&fk->enc_policy, ENC_OPTIONAL);
	atomic_store(&fk->aes, true);
	goodbyes = atomic_load(&fk->sealed_by_type[SL_FT_GOODBYE]);
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 1000, &code) == 0);
	CHECK(atomic_load(&fk->suite) == SL_SUITE_AES256_GCM);
	if (c)
		sl_client_close(c); /* its GOODBYE opened under AES-256-GCM */
	/* The fake's thread counts it when it gets to it. */
	for (i = 0; i < 500 && atomic_load(&fk->sealed_by_type[SL_FT_GOODBYE]) == goodbyes; i++)
		usleep(2000);
	CHECK(atomic_load(&fk->sealed_by_type[SL_FT_GOODBYE]) == goodbyes + 1);
	atomic_store(&fk->welcome_mode, WELCOME_SUITE_LIE);
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 400, &code) == -EACCES);
	CHECK(code == SL_E_NONE && atomic_load(&fk->suite) == SL_SUITE_AES256_GCM);
	atomic_store(&fk->aes, false);
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 400, &code) == -EACCES);
	CHECK(code == SL_E_NONE && atomic_load(&fk->suite) == SL_SUITE_CHACHA20_POLY1305);
	atomic_store(&fk->welcome_mode, WELCOME_GOOD);
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 1000, &code) == 0);
	CHECK(atomic_load(&fk->suite) == SL_SUITE_CHACHA20_POLY1305);
	if (c)
		sl_client_close(c);
	atomic_store(&fk->enc_policy, policy);
}

/* After the whole suite: every frame sent after a WELCOME passed the fake's check. */
static void
test_auth_all_sealed(struct fake *fk)
{
	static const uint8_t types[] = { SL_FT_RESOLVE, SL_FT_SUBSCRIBE, SL_FT_UNSUBSCRIBE,
					 SL_FT_PUBLISH, SL_FT_HEARTBEAT, SL_FT_GOODBYE };
	struct sl_hdr h;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned int i;
	int fd;

	CHECK(atomic_load(&fk->sealed_bad) == 0);
	for (i = 0; i < sizeof(types); i++) {
		if (atomic_load(&fk->sealed_by_type[types[i]]) == 0)
			fprintf(stderr, "no sealed frame of type %s\n", sl_proto_type_name(types[i]));
		CHECK(atomic_load(&fk->sealed_by_type[types[i]]) > 0);
	}
	/* The check can fail: a frame without a trailer is caught. */
	sl_proto_hdr_init(&h, SL_FT_GOODBYE, 0, sizeof(h), FAKE_SESSION);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(fk->port);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&sa, sizeof(sa)) == sizeof(h));
	for (i = 0; i < 100 && atomic_load(&fk->sealed_bad) == 0; i++)
		usleep(2000);
	CHECK(atomic_load(&fk->sealed_bad) == 1);
	close(fd);
}

/* sl_client_opts_credentials: a file, the environment, or nothing. */
static void
test_credentials(void)
{
	char path[] = "/tmp/sluice-test-credsXXXXXX";
	char hex[2 * SL_AUTH_KEY_LEN + 1];
	struct sl_client_opts o = { 0 };
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	char err[256];
	FILE *f;
	int fd;

	sl_auth_key_to_hex(fake_key, hex);
	fd = mkstemp(path); /* mode 0600 */
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fprintf(f, "# test\nuser = %s\nkey = %s\n", FAKE_USER, hex);
	fclose(f);
	CHECK(sl_client_opts_credentials(&o, path, user, key, err, sizeof(err)) == 1);
	CHECK(o.user == user && strcmp(user, FAKE_USER) == 0);
	CHECK(o.key == key && memcmp(key, fake_key, sizeof(key)) == 0);
	CHECK(chmod(path, 0644) == 0);
	o = (struct sl_client_opts){ 0 };
	CHECK(sl_client_opts_credentials(&o, path, user, key, err, sizeof(err)) == -EPERM);
	CHECK(o.user == NULL && o.key == NULL && strstr(err, path) != NULL);
	unlink(path);
	/* A named file that is missing is an error, not "no credentials". */
	CHECK(sl_client_opts_credentials(&o, path, user, key, err, sizeof(err)) == -ENOENT);

	unsetenv("SLUICE_CREDENTIALS");
	unsetenv("SLUICE_USER");
	unsetenv("SLUICE_KEY");
	CHECK(sl_client_opts_credentials(&o, NULL, user, key, err, sizeof(err)) == 0);
	CHECK(o.user == NULL && o.key == NULL);
	setenv("SLUICE_USER", FAKE_USER, 1);
	CHECK(sl_client_opts_credentials(&o, NULL, user, key, err, sizeof(err)) == -EINVAL);
	setenv("SLUICE_KEY", hex, 1);
	memset(key, 0, sizeof(key));
	CHECK(sl_client_opts_credentials(&o, NULL, user, key, err, sizeof(err)) == 1);
	CHECK(o.user == user && strcmp(user, FAKE_USER) == 0);
	CHECK(memcmp(key, fake_key, sizeof(key)) == 0);
	unsetenv("SLUICE_USER");
	unsetenv("SLUICE_KEY");
}

/* --- acknowledgements: answers sent by the test itself, as a broker's or not --- */

/* What the client's settle callback saw. */
struct settled {
	unsigned int n;
	uint64_t seq[32];
	uint16_t error[32];
	uint32_t topic[32];
};

static void
on_settle(void *arg, uint64_t pub_seq, uint32_t topic_id, uint16_t error)
{
	struct settled *s = arg;

	if (s->n < 32) {
		s->seq[s->n] = pub_seq;
		s->error[s->n] = error;
		s->topic[s->n] = topic_id;
	}
	s->n++;
}

/* Where the fake's datagrams must go to reach @c: the client's own address. */
struct injector {
	struct fake *fk;
	struct sl_client *c;
	struct sockaddr_in to;
};

/* Send @frame from the fake's socket and wait until the client has read it. */
static void
inject(struct injector *in, const void *frame, size_t len)
{
	uint64_t deadline = sl_now_ns() + 1000 * MS;
	struct sl_client_stats st0, st;

	sl_client_stats(in->c, &st0);
	fake_send_to(in->fk, &in->to, frame, len);
	do {
		CHECK(sl_client_wait(in->c, NULL, NULL, 8, 10) >= 0);
		sl_client_stats(in->c, &st);
	} while (st.acks + st.errors == st0.acks + st0.errors && sl_now_ns() < deadline);
	CHECK(st.acks + st.errors == st0.acks + st0.errors + 1);
}

static void
inject_ack(struct injector *in, uint32_t session, uint32_t topic, uint64_t pub_seq)
{
	struct sl_ack a;

	sl_proto_hdr_init(&a.h, SL_FT_ACK, 0, sizeof(a), session);
	a.topic_id = topic;
	a.reserved = 0;
	a.producer_seq = pub_seq;
	a.seq = 1000 + pub_seq;
	inject(in, &a, sizeof(a));
}

/* Wait up to 1 s until @field of the client's stats passed @want. */
#define WAIT_STAT(c, field, want)                                                      \
	do {                                                                           \
		struct sl_client_stats st_;                                            \
		uint64_t dl_ = sl_now_ns() + 1000 * MS;                                \
		do {                                                                   \
			CHECK(sl_client_wait((c), NULL, NULL, 8, 5) >= 0);             \
			sl_client_stats((c), &st_);                                    \
		} while (st_.field < (want) && sl_now_ns() < dl_);                     \
	} while (0)

/* An ACK of another session: dropped unread, counted as forged (inside a
 * seal, which only the broker can make, as the broker's fault). */
static void
inject_foreign_ack(struct injector *in, uint32_t topic, uint64_t pub_seq)
{
	struct sl_client_stats st0, st;
	struct sl_ack a;

	sl_client_stats(in->c, &st0);
	sl_proto_hdr_init(&a.h, SL_FT_ACK, 0, sizeof(a), FAKE_SESSION + 1);
	a.topic_id = topic;
	a.reserved = 0;
	a.producer_seq = pub_seq;
	a.seq = 1000 + pub_seq;
	fake_send_to(in->fk, &in->to, &a, sizeof(a));
	if (in->fk->auth) {
		WAIT_STAT(in->c, bad_frames, st0.bad_frames + 1);
		sl_client_stats(in->c, &st);
		CHECK(st.bad_frames == st0.bad_frames + 1);
	} else {
		WAIT_STAT(in->c, forged_dropped, st0.forged_dropped + 1);
		sl_client_stats(in->c, &st);
		CHECK(st.forged_dropped == st0.forged_dropped + 1);
	}
	CHECK(st.acks == st0.acks && st.acks_ignored == st0.acks_ignored);
}

static void
inject_refusal(struct injector *in, uint64_t pub_seq, uint16_t code)
{
	struct sl_error e;

	sl_proto_hdr_init(&e.h, SL_FT_ERROR, 0, sizeof(e), FAKE_SESSION);
	e.req_id = 0;
	e.code = code;
	e.frame_type = SL_FT_PUBLISH;
	e.detail = pub_seq;
	inject(in, &e, sizeof(e));
}

/* Publish on a silent topic and wait until the fake has it, so that answers
 * the test sends later cannot overtake it. */
static void
pub_silent(struct fake *fk, struct sl_client *c, uint32_t topic, uint16_t flags)
{
	unsigned int n0 = atomic_load(&fk->silent_pubs);
	int i;

	CHECK(sl_client_publish(c, topic, "s", 1, 0, flags) == 0);
	for (i = 0; i < 500 && atomic_load(&fk->silent_pubs) == n0; i++)
		usleep(1000);
	CHECK(atomic_load(&fk->silent_pubs) == n0 + 1);
}

/* Status of publish @seq, and the refusal code it carries. */
static int
status(struct sl_client *c, uint64_t seq, uint16_t *code)
{
	*code = 0xffff;
	return sl_client_pub_status(c, seq, code);
}

/*
 * One ACK settles one publish: out of order, across topics, each counted
 * once; repeated and stray answers settle nothing and are counted.
 */
static void
test_acks_distinct(struct injector *in, struct settled *cb)
{
	struct sl_client *c = in->c;
	struct sl_client_stats st;
	uint16_t code;

	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);	/* 1 */
	pub_silent(in->fk, c, SILENT_TOPIC2, SL_PUB_F_ACK_REQ); /* 2 */
	pub_silent(in->fk, c, SILENT_TOPIC, 0);			/* 3: no ACK asked */
	pub_silent(in->fk, c, SILENT_TOPIC2, SL_PUB_F_ACK_REQ); /* 4 */
	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);	/* 5 */
	CHECK(sl_client_last_seq(c) == 5);
	sl_client_stats(c, &st);
	CHECK(st.pub_outstanding == 4 && st.pub_acked == 0);
	CHECK(sl_client_acked(c) == 0 && sl_client_settled(c) == 0);
	CHECK(status(c, 1, &code) == SL_PUB_OUTSTANDING && code == SL_E_NONE);
	CHECK(status(c, 3, &code) == SL_PUB_NO_ACK);
	CHECK(status(c, 0, &code) == -ENOENT && status(c, 6, &code) == -ENOENT);

	/* Out of order: the later publishes first, from the other topic too. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 2);
	CHECK(status(c, 2, &code) == SL_PUB_ACKED);
	CHECK(sl_client_acked(c) == 0 && sl_client_settled(c) == 0);
	/* Repeated: a duplicated datagram. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 2);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 5);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 4);
	sl_client_stats(c, &st);
	CHECK(st.acks == 4 && st.pub_acked == 3 && st.acks_ignored == 1);
	CHECK(st.pub_outstanding == 1);
	CHECK(sl_client_acked(c) == 0 && sl_client_settled(c) == 0);

	/* Strays: no publish 0, none sent yet, the wrong topic. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 0);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 9);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 1);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 3); /* asked for no ACK */
	/* Another session's: not even read as an ACK (forged_dropped). */
	inject_foreign_ack(in, SILENT_TOPIC, 1);
	sl_client_stats(c, &st);
	CHECK(st.acks_ignored == 5 && st.pub_acked == 3);
	CHECK(status(c, 1, &code) == SL_PUB_OUTSTANDING);
	CHECK(sl_client_acked(c) == 0);

	/* The oldest comes last: the marks jump over all five. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 1);
	CHECK(sl_client_acked(c) == 5 && sl_client_settled(c) == 5);
	/* Already settled: ignored, whichever answer it is. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 1);
	inject_refusal(in, 1, SL_E_JOURNAL_FULL);
	sl_client_stats(c, &st);
	CHECK(st.pub_acked == 4 && st.pub_outstanding == 0 && st.acks_ignored == 7);
	CHECK(st.publish_refused == 0);
	CHECK(status(c, 1, &code) == SL_PUB_ACKED && code == SL_E_NONE);
	CHECK(cb->n == 4 && cb->seq[0] == 2 && cb->seq[1] == 5 && cb->seq[2] == 4 &&
	      cb->seq[3] == 1);
	CHECK(cb->topic[0] == SILENT_TOPIC2 && cb->topic[3] == SILENT_TOPIC);
	CHECK(cb->error[0] == SL_E_NONE && cb->error[3] == SL_E_NONE);
}

/* A window of 8: the ninth publish past the oldest unsettled one waits. */
static void
test_acks_window(struct injector *in)
{
	struct sl_client *c = in->c;
	struct sl_client_stats st0, st;
	uint16_t code;
	uint64_t seq;
	void *d;

	sl_client_stats(c, &st0);
	for (seq = 6; seq <= 13; seq++)
		pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == -EAGAIN);
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, 0) == -EAGAIN);
	CHECK(sl_client_claim(c, SILENT_TOPIC, 1, &d) == -EAGAIN);
	sl_client_stats(c, &st);
	CHECK(st.window_full - st0.window_full == 3);
	CHECK(st.publish_eagain - st0.publish_eagain == 3);
	CHECK(st.published - st0.published == 8 && sl_client_last_seq(c) == 13);
	usleep(20000);
	CHECK(atomic_load(&in->fk->silent_pubs) == 13); /* nothing was sent */
	/* The window remembers the last 8 publishes only. */
	CHECK(status(c, 5, &code) == -ESTALE);
	CHECK(status(c, 6, &code) == SL_PUB_OUTSTANDING);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 5); /* too old to tell: a stray */
	sl_client_stats(c, &st);
	CHECK(st.acks_ignored - st0.acks_ignored == 1);

	/* A later ACK does not make room; the oldest does, one place. */
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 13);
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == -EAGAIN);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 6);
	CHECK(sl_client_settled(c) == 6 && sl_client_acked(c) == 6);
	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ); /* 14 */
	CHECK(sl_client_publish(c, SILENT_TOPIC, "x", 1, 0, SL_PUB_F_ACK_REQ) == -EAGAIN);
	for (seq = 12; seq >= 7; seq--) {
		CHECK(sl_client_acked(c) == 6);
		inject_ack(in, FAKE_SESSION, SILENT_TOPIC, seq);
	}
	CHECK(sl_client_acked(c) == 13 && sl_client_settled(c) == 13);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 14);
	CHECK(sl_client_acked(c) == 14 && sl_client_settled(c) == 14);
	sl_client_stats(c, &st);
	CHECK(st.pub_acked - st0.pub_acked == 9 && st.pub_outstanding == 0);
}

/* A refusal settles its publish as refused, once; the acknowledged mark
 * stays below it, the settled mark moves on. */
static void
test_acks_refused(struct injector *in, struct settled *cb)
{
	struct sl_client *c = in->c;
	struct sl_client_stats st0, st;
	unsigned int n0 = cb->n;
	uint16_t code;

	sl_client_stats(c, &st0);
	pub_silent(in->fk, c, SILENT_TOPIC2, SL_PUB_F_ACK_REQ); /* 15 */
	pub_silent(in->fk, c, SILENT_TOPIC, 0);			/* 16: no ACK asked */
	pub_silent(in->fk, c, SILENT_TOPIC, SL_PUB_F_ACK_REQ);	/* 17 */
	CHECK(sl_client_settled(c) == 14);
	inject_refusal(in, 15, SL_E_JOURNAL_FULL);
	CHECK(status(c, 15, &code) == SL_PUB_REFUSED && code == SL_E_JOURNAL_FULL);
	CHECK(sl_client_settled(c) == 16 && sl_client_acked(c) == 14);
	/* Repeated, or an ACK after the refusal: ignored. */
	inject_refusal(in, 15, SL_E_JOURNAL_FULL);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC2, 15);
	CHECK(status(c, 15, &code) == SL_PUB_REFUSED && code == SL_E_JOURNAL_FULL);
	/* A publish that asked for no ACK can be refused too; once. */
	inject_refusal(in, 16, SL_E_DENIED);
	inject_refusal(in, 16, SL_E_DENIED);
	CHECK(status(c, 16, &code) == SL_PUB_REFUSED && code == SL_E_DENIED);
	/* A refusal of nothing sent; an ERROR with no error in it. */
	inject_refusal(in, 18, SL_E_JOURNAL_FULL);
	inject_refusal(in, 17, SL_E_NONE);
	CHECK(status(c, 17, &code) == SL_PUB_OUTSTANDING);
	inject_ack(in, FAKE_SESSION, SILENT_TOPIC, 17);
	CHECK(sl_client_settled(c) == 17 && sl_client_acked(c) == 14);
	sl_client_stats(c, &st);
	CHECK(st.publish_refused - st0.publish_refused == 2);
	CHECK(st.pub_acked - st0.pub_acked == 1 && st.pub_outstanding == 0);
	CHECK(st.acks_ignored - st0.acks_ignored == 5);
	CHECK(st.errors - st0.errors == 6);
	CHECK(cb->n - n0 == 3);
	CHECK(cb->seq[n0] == 15 && cb->error[n0] == SL_E_JOURNAL_FULL &&
	      cb->topic[n0] == SILENT_TOPIC2);
	CHECK(cb->seq[n0 + 1] == 16 && cb->error[n0 + 1] == SL_E_DENIED);
	CHECK(cb->seq[n0 + 2] == 17 && cb->error[n0 + 2] == SL_E_NONE);
}

static void
test_acks(struct fake *fk)
{
	struct settled cb = { 0 };
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = "acks",
				    .timeout_ms = 1000, .ack_window = 8, .on_settle = on_settle,
				    .settle_arg = &cb };
	struct injector in = { .fk = fk };
	socklen_t len = sizeof(in.to);

	if (fk->auth) {
		o.user = FAKE_USER;
		o.key = fake_key;
		o.encrypt = atomic_load(&fk->enc_policy) == ENC_REQUIRED;
	}
	o.ack_window = SL_ACK_WINDOW_MAX + 1;
	CHECK(sl_client_connect(&in.c, &o) == -EINVAL);
	o.ack_window = 5; /* rounded up to 8 */
	CHECK(sl_client_connect(&in.c, &o) == 0);
	if (in.c == NULL)
		return;
	CHECK(getsockname(sl_client_fd(in.c), (struct sockaddr *)&in.to, &len) == 0);
	atomic_store(&fk->silent_pubs, 0);
	test_acks_distinct(&in, &cb);
	test_acks_window(&in);
	test_acks_refused(&in, &cb);
	sl_client_close(in.c);
}

/* ---- Version 3: what the client takes from the broker's address ---- */

static void wait_settled(struct sl_client *c, unsigned int ms);

/* A DELIVER of @topic's message @seq ("v3-<seq>") at @buf: its length. */
static size_t
put_deliver(void *buf, uint32_t session, uint32_t topic, uint64_t seq)
{
	struct sl_deliver *d = buf;
	int n;

	sl_proto_hdr_init(&d->h, SL_FT_DELIVER, 0, sizeof(*d), session);
	d->topic_id = topic;
	d->hdrs_len = 0;
	d->reserved = 0;
	d->seq = seq;
	d->timestamp = 7;
	n = sprintf((char *)(d + 1), "v3-%u", (unsigned int)seq);
	d->h.length += (uint32_t)n;
	return d->h.length;
}

/* Send @len bytes from the fake's address to the client, as they are. */
static void
send_raw(struct injector *in, const void *buf, size_t len)
{
	CHECK(sendto(in->fk->fd, buf, len, 0, (const struct sockaddr *)&in->to,
		     sizeof(in->to)) == (ssize_t)len);
}

/* Poll the client for @ms, collecting deliveries into @col. */
static void
settle_for(struct sl_client *c, struct collect *col, unsigned int ms)
{
	uint64_t deadline = sl_now_ns() + ms * MS;

	while (sl_now_ns() < deadline)
		CHECK(sl_client_wait(c, on_msg, col, 8, 5) >= 0);
}

static int
forge_connect(struct fake *fk, struct sl_client **c, struct injector *in)
{
	socklen_t len = sizeof(in->to);
	int rc = fake_connect(fk, c, "forge");

	in->fk = fk;
	in->c = *c;
	if (rc == 0)
		CHECK(getsockname(sl_client_fd(*c), (struct sockaddr *)&in->to, &len) == 0);
	return rc;
}

/*
 * An ERROR SL_E_NO_SESSION, a GOODBYE and a DELIVER written by someone on
 * the path, from the broker's address: in an authenticated session they
 * come unsealed (or sealed with a bit flipped); in an open one they name
 * another session. Each is ignored and counted; the session lives on, and
 * the broker's own DELIVER after them is taken.
 */
static void
test_forged(struct fake *fk)
{
	uint64_t buf[SL_MAX_DATAGRAM / 8];
	uint64_t sealed[SL_MAX_DATAGRAM / 8];
	uint32_t session = fk->auth ? FAKE_SESSION : FAKE_SESSION + 1;
	struct sl_error *e = (struct sl_error *)buf;
	struct collect col = { 0 };
	struct sl_client_stats st0, st;
	struct injector in;
	struct sl_client *c;
	size_t len;

	if (forge_connect(fk, &c, &in) != 0) {
		CHECK(0);
		return;
	}
	CHECK(sl_client_subscribe(c, SILENT_TOPIC) == 0);
	collect(c, &col, 1, 8); /* the fake's "retained", seq 1 */
	CHECK(col.n == 1);
	sl_client_stats(c, &st0);

	sl_proto_hdr_init(&e->h, SL_FT_ERROR, 0, sizeof(*e), session);
	e->req_id = 0;
	e->code = SL_E_NO_SESSION;
	e->frame_type = SL_FT_PUBLISH;
	e->detail = 0;
	send_raw(&in, e, sizeof(*e));
	sl_proto_hdr_init((struct sl_hdr *)buf, SL_FT_GOODBYE, 0, sizeof(struct sl_hdr), session);
	send_raw(&in, buf, sizeof(struct sl_hdr));
	len = put_deliver(buf, session, SILENT_TOPIC, 2);
	send_raw(&in, buf, len);
	WAIT_STAT(c, forged_dropped, st0.forged_dropped + 3);
	if (fk->auth) {
		/* Sealed, but a bit flipped on the way: the tag fails. */
		len = fake_seal_seq(fk, sealed, buf, len, atomic_fetch_add(&fk->tx_seq, 1) + 1,
				    fk->k_s2c);
		((uint8_t *)sealed)[SL_SEAL_HDR_LEN + 30] ^= 0x10;
		send_raw(&in, sealed, len);
		WAIT_STAT(c, forged_dropped, st0.forged_dropped + 4);
	}
	settle_for(c, &col, 30);
	sl_client_stats(c, &st);
	CHECK(st.forged_dropped - st0.forged_dropped == (fk->auth ? 4u : 3u));
	CHECK(col.n == 1 && st.delivered == st0.delivered);
	CHECK(st.errors == st0.errors && st.disconnects == 0);
	CHECK(sl_client_session(c) == FAKE_SESSION);
	/* The session is alive: a publish is acknowledged, and the broker's
	 * own DELIVER of message 2 is taken. */
	CHECK(sl_client_publish(c, 2, "alive", 5, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_acked(c);
	len = put_deliver(buf, FAKE_SESSION, SILENT_TOPIC, 2);
	fake_send_to(fk, &in.to, buf, len);
	collect(c, &col, 2, 8);
	CHECK(col.n == 2 && col.seq == 2 && strcmp(col.last, "v3-2") == 0);
	sl_client_close(c);
}

/*
 * The broker->client replay window: a datagram sealed with a seq already
 * seen, or 1,024 or more below the newest, is rejected and counted; one
 * reordered inside the window is taken.
 */
static void
test_replay_window(struct fake *fk)
{
	uint64_t frame[SL_MAX_DATAGRAM / 8];
	uint64_t d1[SL_MAX_DATAGRAM / 8], d2[SL_MAX_DATAGRAM / 8];
	struct collect col = { 0 };
	struct sl_client_stats st0, st;
	struct injector in;
	struct sl_client *c;
	struct sl_heartbeat hb;
	size_t len, l1, l2;
	uint64_t t, m;

	if (forge_connect(fk, &c, &in) != 0) {
		CHECK(0);
		return;
	}
	CHECK(sl_client_subscribe(c, SILENT_TOPIC) == 0);
	collect(c, &col, 1, 8); /* the fake's "retained": message m */
	m = col.seq;
	sl_client_stats(c, &st0);

	/* Reordered: seal seq t + 2 (message m + 2) before t + 1 (m + 1). */
	t = atomic_fetch_add(&fk->tx_seq, 2);
	len = put_deliver(frame, FAKE_SESSION, SILENT_TOPIC, m + 2);
	l1 = fake_seal_seq(fk, d1, frame, len, t + 2, fk->k_s2c);
	len = put_deliver(frame, FAKE_SESSION, SILENT_TOPIC, m + 1);
	l2 = fake_seal_seq(fk, d2, frame, len, t + 1, fk->k_s2c);
	send_raw(&in, d1, l1);
	send_raw(&in, d2, l2);
	collect(c, &col, 3, 8);
	CHECK(col.n == 3 && col.seqs[1] == m + 1 && col.seqs[2] == m + 2);

	/* Replayed as captured: dropped. */
	send_raw(&in, d1, l1);
	WAIT_STAT(c, replay_dropped, st0.replay_dropped + 1);
	sl_client_stats(c, &st);
	CHECK(st.replay_dropped == st0.replay_dropped + 1 && col.n == 3);

	/* The newest seq jumps 2,000 ahead; then one 1,100 below it is too
	 * old (dropped), one 500 below it, never seen, is taken. */
	sl_proto_hdr_init(&hb.h, SL_FT_HEARTBEAT, 0, sizeof(hb), FAKE_SESSION);
	hb.timestamp = 0;
	t = atomic_fetch_add(&fk->tx_seq, 2000) + 2000;
	len = fake_seal_seq(fk, d1, &hb, sizeof(hb), t, fk->k_s2c);
	send_raw(&in, d1, len);
	len = put_deliver(frame, FAKE_SESSION, SILENT_TOPIC, m + 3);
	l1 = fake_seal_seq(fk, d1, frame, len, t - 1100, fk->k_s2c);
	send_raw(&in, d1, l1);
	WAIT_STAT(c, replay_dropped, st0.replay_dropped + 2);
	settle_for(c, &col, 20);
	CHECK(col.n == 3);
	l1 = fake_seal_seq(fk, d1, frame, len, t - 500, fk->k_s2c);
	send_raw(&in, d1, l1);
	collect(c, &col, 4, 8);
	CHECK(col.n == 4 && col.seq == m + 3);
	sl_client_stats(c, &st);
	CHECK(st.replay_dropped == st0.replay_dropped + 2);
	CHECK(st.forged_dropped == st0.forged_dropped);
	sl_client_close(c);
}

/* SL_E_HANDSHAKE to the AUTH, or an AUTH left unanswered: a new HELLO. */
static void
test_handshake_restart(struct fake *fk)
{
	struct sl_client_stats st;
	struct sl_client *c = NULL;
	unsigned int hellos0 = atomic_load(&fk->hellos);
	uint16_t code;
	uint64_t t0 = sl_now_ns();

	atomic_store(&fk->stale_auths, 1);
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 2000, &code) == 0);
	CHECK(sl_now_ns() - t0 < 500 * MS); /* at once, not after a timeout */
	CHECK(atomic_load(&fk->stale_auths) == 0);
	CHECK(atomic_load(&fk->hellos) - hellos0 == 2);
	if (c != NULL) {
		sl_client_stats(c, &st);
		CHECK(st.handshake_restarts == 1 && st.authenticated == 1);
		sl_client_close(c);
	}

	/* Four AUTHs lost (800 ms of resends), then a new HELLO, whose AUTH
	 * is lost once more and resent. */
	atomic_store(&fk->drop_auth, 5);
	hellos0 = atomic_load(&fk->hellos);
	t0 = sl_now_ns();
	CHECK(auth_connect(fk, &c, FAKE_USER, fake_key, 3000, &code) == 0);
	CHECK(sl_now_ns() - t0 >= 900 * MS);
	CHECK(atomic_load(&fk->drop_auth) == 0);
	CHECK(atomic_load(&fk->hellos) - hellos0 == 2);
	if (c != NULL) {
		sl_client_stats(c, &st);
		CHECK(st.handshake_restarts == 1);
		sl_client_close(c);
	}
}

static int
enc_connect(struct fake *fk, struct sl_client **c, const char *user, const uint8_t *key,
	    uint8_t encrypt, uint16_t *code)
{
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = "enc",
				    .timeout_ms = 1000, .user = user, .key = key,
				    .encrypt = encrypt, .last_error = code };

	*code = 0xffff;
	return sl_client_connect(c, &o);
}

/* Encryption asked for, granted and refused; required and not asked for. */
static void
test_encryption(struct fake *fk)
{
	uint64_t frame[SL_MAX_DATAGRAM / 8], d[SL_MAX_DATAGRAM / 8];
	struct sl_client_stats st, st0;
	struct sl_client *c = NULL;
	struct injector in = { .fk = fk };
	socklen_t slen = sizeof(in.to);
	unsigned int enc0, bye0;
	uint16_t code;
	uint32_t id;
	size_t len;

	/* No keys without credentials: refused before anything is sent. */
	CHECK(enc_connect(fk, &c, NULL, NULL, 1, &code) == -EINVAL);

	atomic_store(&fk->enc_policy, ENC_OPTIONAL);
	enc0 = atomic_load(&fk->enc_dgrams);
	CHECK(enc_connect(fk, &c, FAKE_USER, fake_key, 1, &code) == 0);
	if (c == NULL)
		return;
	sl_client_stats(c, &st);
	CHECK(st.encrypted == 1 && st.authenticated == 1);
	CHECK(st.session_timeout_ms == FAKE_SESSION_TIMEOUT_MS);
	CHECK(sl_client_resolve(c, "t.a", 1, &id) == 0 && id == 1);
	CHECK(sl_client_publish(c, 2, "secret", 6, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_acked(c);
	CHECK(atomic_load(&fk->enc_dgrams) - enc0 >= 2);
	/* In an encrypted session a datagram sealed with the right key but
	 * not encrypted is not the broker's either. */
	CHECK(getsockname(sl_client_fd(c), (struct sockaddr *)&in.to, &slen) == 0);
	in.c = c;
	sl_client_stats(c, &st0);
	fk->enc = false;
	len = put_deliver(frame, FAKE_SESSION, 1, 1);
	len = fake_seal_seq(fk, d, frame, len, atomic_fetch_add(&fk->tx_seq, 1) + 1, fk->k_s2c);
	fk->enc = true;
	send_raw(&in, d, len);
	WAIT_STAT(c, forged_dropped, st0.forged_dropped + 1);
	sl_client_stats(c, &st);
	CHECK(st.forged_dropped == st0.forged_dropped + 1 && st.delivered == st0.delivered);
	/* The close's own GOODBYE reaches the fake asynchronously: count it
	 * before taking the baseline for the next one. */
	bye0 = atomic_load(&fk->goodbyes);
	sl_client_close(c);
	CHECK(wait_goodbyes(fk, bye0 + 1));

	/* Asked for, but the user's policy is off: the session is not used. */
	atomic_store(&fk->enc_policy, ENC_OFF);
	bye0 = atomic_load(&fk->goodbyes);
	CHECK(enc_connect(fk, &c, FAKE_USER, fake_key, 1, &code) == -EPROTONOSUPPORT);
	CHECK(wait_goodbyes(fk, bye0 + 1));
	/* Off, not asked for: an authenticated session with a MAC only, which
	 * a topic that requires encryption refuses; each publish to it is
	 * refused once (the ERROR names the topic), the others go on. */
	CHECK(enc_connect(fk, &c, FAKE_USER, fake_key, 0, &code) == 0);
	if (c != NULL) {
		sl_client_stats(c, &st0);
		CHECK(st0.encrypted == 0 && st0.authenticated == 1);
		CHECK(sl_client_subscribe(c, ENCREQ_TOPIC) == -EACCES);
		sl_client_stats(c, &st);
		CHECK(st.last_error == SL_E_ENCRYPTION_REQUIRED);
		CHECK(sl_client_publish(c, ENCREQ_TOPIC, "a", 1, 0, SL_PUB_F_ACK_REQ) == 0);
		CHECK(sl_client_publish(c, 2, "b", 1, 0, SL_PUB_F_ACK_REQ) == 0);
		CHECK(sl_client_publish(c, ENCREQ_TOPIC, "c", 1, 0, SL_PUB_F_ACK_REQ) == 0);
		wait_settled(c, 1000);
		CHECK(sl_client_pub_status(c, 1, &code) == SL_PUB_REFUSED &&
		      code == SL_E_ENCRYPTION_REQUIRED);
		CHECK(sl_client_pub_status(c, 2, &code) == SL_PUB_ACKED);
		CHECK(sl_client_pub_status(c, 3, &code) == SL_PUB_REFUSED &&
		      code == SL_E_ENCRYPTION_REQUIRED);
		sl_client_stats(c, &st);
		CHECK(st.publish_refused - st0.publish_refused == 2);
		sl_client_close(c);
	}
	/* Required, not asked for: refused, and said so. */
	atomic_store(&fk->enc_policy, ENC_REQUIRED);
	CHECK(enc_connect(fk, &c, FAKE_USER, fake_key, 0, &code) == -EACCES);
	CHECK(code == SL_E_ENCRYPTION_REQUIRED);
	atomic_store(&fk->enc_policy, ENC_OPTIONAL);
}

/*
 * An authenticated client whose broker goes silent: the loss is noticed by
 * liveness (a plain GOODBYE meanwhile changes nothing), and the new session
 * comes from a whole new handshake: new keys, under which the fake checks
 * everything sent after it.
 */
static void
test_auth_reconnect(struct fake *fk)
{
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = "recon",
				    .timeout_ms = 1000, .user = FAKE_USER, .key = fake_key,
				    .liveness_ms = 300 };
	unsigned int hellos0, auths0, ok0;
	struct sl_client_stats st;
	struct sl_client *c = NULL;
	struct injector in = { .fk = fk };
	socklen_t slen = sizeof(in.to);
	uint8_t k0[SL_KEY_LEN];
	struct sl_hdr bye;
	uint64_t deadline;

	CHECK(sl_client_connect(&c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(getsockname(sl_client_fd(c), (struct sockaddr *)&in.to, &slen) == 0);
	in.c = c;
	memcpy(k0, fk->k_s2c, sizeof(k0));
	hellos0 = atomic_load(&fk->hellos);
	auths0 = atomic_load(&fk->auths);
	atomic_store(&fk->silent, true);
	sl_proto_hdr_init(&bye, SL_FT_GOODBYE, 0, sizeof(bye), FAKE_SESSION);
	send_raw(&in, &bye, sizeof(bye));
	deadline = sl_now_ns() + 2000 * MS;
	do {
		CHECK(sl_client_wait(c, NULL, NULL, 8, 10) >= 0);
		sl_client_stats(c, &st);
	} while (st.disconnects == 0 && sl_now_ns() < deadline);
	CHECK(st.disconnects == 1 && st.forged_dropped >= 1);
	atomic_store(&fk->silent, false);
	do {
		CHECK(sl_client_wait(c, NULL, NULL, 8, 10) >= 0);
		sl_client_stats(c, &st);
	} while (st.reconnects == 0 && sl_now_ns() < deadline);
	CHECK(st.reconnects == 1 && st.authenticated == 1);
	CHECK(atomic_load(&fk->hellos) > hellos0 && atomic_load(&fk->auths) > auths0);
	CHECK(memcmp(k0, fk->k_s2c, sizeof(k0)) != 0); /* new keys */
	ok0 = atomic_load(&fk->sealed_ok);
	CHECK(sl_client_publish(c, 2, "again", 5, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_acked(c);
	CHECK(atomic_load(&fk->sealed_ok) > ok0);
	sl_client_close(c);
}

/* Everything a session does, against a fake with or without authentication. */
static void
test_session(struct fake *fk)
{
	struct sl_client *c = NULL;

	CHECK(fake_connect(fk, &c, "test") == 0);
	if (c != NULL) {
		test_resolve(c);
		test_subscribe_publish(c);
		test_topic_name(c, fk);
		test_replay_earliest(c, fk);
		test_replay_from(c, fk);
		test_replay_refused(c, fk);
		test_publish_refused(c);
		test_denied(c);
		if (fk->auth)
			test_sealed(c, fk);
		test_heartbeat(c, fk);
		test_stash_overflow(c);
		test_expire(c);
		sl_client_close(c);
	}
	test_goodbye(fk);
	test_acks(fk);
}

/* ---- Version 2: idempotent publishing, batching, fragments, reconnect */

struct evlog {
	unsigned int n;
	uint32_t type[16];
	uint16_t error[16];
	uint64_t ns[16]; /* when it came */
};

static void
on_event(void *arg, const struct sl_event *ev)
{
	struct evlog *l = arg;

	if (l->n < 16) {
		l->type[l->n] = ev->type;
		l->error[l->n] = ev->error;
		l->ns[l->n] = sl_now_ns();
	}
	l->n++;
}

/* The events, and the last SL_EV_GROUP_ERROR's fields. */
struct group_evlog {
	struct evlog log;
	uint32_t group_id, topic_id;
	uint64_t first;
};

static void
on_gevent(void *arg, const struct sl_event *ev)
{
	struct group_evlog *g = arg;

	if (ev->type == SL_EV_GROUP_ERROR) {
		g->group_id = ev->group_id;
		g->topic_id = ev->topic_id;
		g->first = ev->first;
	}
	on_event(&g->log, ev);
}

static int
v2_connect(struct fake *fk, struct sl_client **c, struct sl_client_opts *o)
{
	o->host = "127.0.0.1";
	o->port = fk->port;
	if (o->timeout_ms == 0)
		o->timeout_ms = 1000;
	return sl_client_connect(c, o);
}

/* Wait (up to @ms) until every publish so far is settled. */
static void
wait_settled(struct sl_client *c, unsigned int ms)
{
	uint64_t deadline = sl_now_ns() + ms * MS;

	while (sl_client_settled(c) < sl_client_last_seq(c) && sl_now_ns() < deadline)
		CHECK(sl_client_wait(c, NULL, NULL, 8, 5) >= 0);
}

/*
 * A lost ACK: the publish is sent again after resend_ms with the same
 * producer sequence; the broker keeps one copy and answers SL_ACK_F_DUP,
 * which settles the publish, once.
 */
static void
test_v2_lost_ack(struct fake *fk)
{
	struct settled cb = { 0 };
	struct sl_client_opts o = { .name = "v2ack", .on_settle = on_settle, .settle_arg = &cb };
	struct sl_client_stats st;
	struct sl_client *c;
	uint32_t t;

	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(sl_client_resolve(c, "t.v2", 1, &t) == 0 && t == V2_TOPIC);
	CHECK(atomic_load(&fk->producers) == 0); /* registered before the first publish */
	atomic_store(&fk->lose_acks, 1);
	CHECK(sl_client_publish(c, t, "a", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	CHECK(atomic_load(&fk->producers) == 1);
	wait_settled(c, 1000);
	sl_client_stats(c, &st);
	CHECK(sl_client_acked(c) == 1);
	CHECK(st.pub_acked == 1 && st.pub_outstanding == 0);
	CHECK(st.resent >= 1 && st.dup_acks == 1);
	CHECK(cb.n == 1 && cb.seq[0] == 1 && cb.error[0] == SL_E_NONE && cb.topic[0] == t);
	CHECK(atomic_load(&fk->stored[V2_TOPIC]) == 1); /* once, resend or not */
	CHECK(atomic_load(&fk->dups) >= 1);
	CHECK(st.producer_id == V2_PRODUCER_ID && st.producer_epoch == V2_EPOCH0);

	/* A lost PUBLISH: the next ones are refused out of order, then all of
	 * them are sent again in order and stored once each. */
	atomic_store(&fk->drop_pubs, 1);
	CHECK(sl_client_publish(c, t, "b", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	CHECK(sl_client_publish(c, t, "c", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	CHECK(sl_client_publish(c, t, "d", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_settled(c, 1000);
	sl_client_stats(c, &st);
	CHECK(sl_client_acked(c) == 4 && st.pub_acked == 4 && cb.n == 4);
	CHECK(st.out_of_order >= 1 && atomic_load(&fk->ooos) >= 1);
	CHECK(atomic_load(&fk->stored[V2_TOPIC]) == 4);
	for (unsigned int i = 0; i < 4; i++)
		CHECK(fk->stored_pseq[V2_TOPIC][i] == i + 1);
	sl_client_close(c);
}

/* Publishes share a datagram until the flush deadline or sl_client_flush. */
static void
test_v2_batching(struct fake *fk)
{
	struct sl_client_opts o = { .name = "v2batch", .flush_us = 300000 };
	struct sl_client_stats st;
	struct sl_client *c;
	unsigned int d0;
	int i;

	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	d0 = atomic_load(&fk->pub_dgrams);
	atomic_store(&fk->max_batch, 0);
	for (i = 0; i < 6; i++)
		CHECK(sl_client_publish(c, V2_TOPIC, "batched", 7, 0, 0) == 0);
	usleep(50000);
	CHECK(atomic_load(&fk->pub_dgrams) == d0); /* held for the deadline */
	CHECK(sl_client_flush(c) == 0);
	for (i = 0; i < 100 && atomic_load(&fk->pub_dgrams) == d0; i++)
		usleep(2000);
	CHECK(atomic_load(&fk->pub_dgrams) == d0 + 1);
	CHECK(atomic_load(&fk->max_batch) == 6);
	/* The deadline sends the next batch by itself, from a wait. */
	for (i = 0; i < 3; i++)
		CHECK(sl_client_publish(c, V2_TOPIC, "later", 5, 0, 0) == 0);
	CHECK(sl_client_wait(c, NULL, NULL, 8, 400) >= 0);
	for (i = 0; i < 100 && atomic_load(&fk->pub_dgrams) == d0 + 1; i++)
		usleep(2000);
	CHECK(atomic_load(&fk->pub_dgrams) == d0 + 2);
	/* Full datagrams go at once: 1,000-byte publishes, one per datagram. */
	{
		static char big[1000];

		CHECK(sl_client_publish(c, V2_TOPIC, big, sizeof(big), 0, 0) == 0);
		CHECK(sl_client_publish(c, V2_TOPIC, big, sizeof(big), 0, 0) == 0);
	}
	sl_client_stats(c, &st);
	CHECK(st.datagrams == 3 && st.published == 11);
	sl_client_close(c);
}

/* A message over one datagram goes as PUBLISH_FRAG pieces, acknowledged
 * once; over WELCOME max_message it is -EMSGSIZE. */
static void
test_v2_fragments(struct fake *fk)
{
	struct settled cb = { 0 };
	struct sl_client_opts o = { .name = "v2frag", .on_settle = on_settle, .settle_arg = &cb };
	static uint8_t msg[V2_MAX_MESSAGE + 1];
	struct sl_client_stats st;
	struct sl_client *c;
	unsigned int p0 = atomic_load(&fk->frag_pieces);
	uint32_t i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	{ int r_ = sl_client_publish(c, V2_TOPIC, msg, 5000, 0, SL_PUB_F_ACK_REQ); if (r_) fprintf(stderr, "rc %d\n", r_); CHECK(r_ == 0); }
	wait_settled(c, 1000);
	sl_client_stats(c, &st);
	CHECK(st.pub_acked == 1 && cb.n == 1 && st.fragments == 4);
	CHECK(atomic_load(&fk->frag_pieces) == p0 + 4); /* 1384 + 1384 + 1384 + 848 */
	CHECK(atomic_load(&fk->frag_msgs) == 1 && atomic_load(&fk->frag_bad) == 0);
	CHECK(sl_client_publish(c, V2_TOPIC, msg, V2_MAX_MESSAGE, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_settled(c, 1000);
	CHECK(sl_client_acked(c) == 2 && atomic_load(&fk->frag_msgs) == 2);
	CHECK(atomic_load(&fk->frag_bad) == 0);
	CHECK(sl_client_publish(c, V2_TOPIC, msg, V2_MAX_MESSAGE + 1, 0, SL_PUB_F_ACK_REQ) ==
	      -EMSGSIZE);
	CHECK(sl_client_last_seq(c) == 2);
	sl_client_close(c);
}

/* Copies of unacknowledged publishes stay within resend_bytes. */
static void
test_v2_bounded(struct fake *fk)
{
	struct sl_client_opts o = { .name = "v2bound", .resend_bytes = 4096 };
	static char m[1000];
	struct sl_client_stats st;
	struct sl_client *c;
	int i;

	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	for (i = 0; i < 4; i++)
		CHECK(sl_client_publish(c, SILENT_TOPIC, m, sizeof(m), 0, SL_PUB_F_ACK_REQ) == 0);
	CHECK(sl_client_publish(c, SILENT_TOPIC, m, sizeof(m), 0, SL_PUB_F_ACK_REQ) == -EAGAIN);
	/* Publishes without ACK keep no copy. */
	CHECK(sl_client_publish(c, SILENT_TOPIC, m, 8, 0, 0) == 0);
	sl_client_stats(c, &st);
	CHECK(st.window_full == 1 && st.pub_outstanding == 4);
	sl_client_close(c);
}

/* SL_E_FENCED: SL_EV_FENCED, the publish refused, publishing -EPERM. */
static void
test_v2_fenced(struct fake *fk)
{
	struct evlog ev = { 0 };
	struct settled cb = { 0 };
	struct sl_client_opts o = { .name = "v2fence", .on_event = on_event, .event_arg = &ev,
				    .on_settle = on_settle, .settle_arg = &cb };
	struct sl_client *c;

	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	atomic_store(&fk->fence_pubs, true);
	CHECK(sl_client_publish(c, V2_TOPIC, "f", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_settled(c, 1000);
	atomic_store(&fk->fence_pubs, false);
	CHECK(ev.n == 1 && ev.type[0] == SL_EV_FENCED && ev.error[0] == SL_E_FENCED);
	CHECK(cb.n == 1 && cb.error[0] == SL_E_FENCED);
	CHECK(sl_client_publish(c, V2_TOPIC, "g", 1, 0, SL_PUB_F_ACK_REQ) == -EPERM);
	sl_client_close(c);
}

static void
wait_events(struct sl_client *c, struct evlog *ev, unsigned int n, struct collect *col)
{
	uint64_t deadline = sl_now_ns() + 3000 * MS;

	while (ev->n < n && sl_now_ns() < deadline)
		CHECK(sl_client_wait(c, on_msg, col, 8, 20) >= 0);
}

/* How many events of @type @l holds (of its first 16). */
static unsigned int
ev_count(const struct evlog *l, uint32_t type)
{
	unsigned int i, n = 0;

	for (i = 0; i < l->n && i < 16; i++)
		n += l->type[i] == type;
	return n;
}

/* An ERROR from the broker about session FAKE_SESSION, sealed when the
 * session is, at @buf: its length. */
static size_t
put_error(void *buf, uint32_t req_id, uint16_t code, uint8_t type, uint64_t detail)
{
	struct sl_error *e = buf;

	sl_proto_hdr_init(&e->h, SL_FT_ERROR, 0, sizeof(*e), FAKE_SESSION);
	e->req_id = req_id;
	e->code = code;
	e->frame_type = type;
	e->detail = detail;
	return sizeof(*e);
}

/*
 * Revocation (PROTOCOL.md 13.5). The broker ends one subscription with an
 * ERROR (frame type SUBSCRIBE, the req_id of a SUBSCRIBE long answered,
 * detail the topic): the client raises SL_EV_SUB_REVOKED, drops what it
 * held of the topic and whatever of it still arrives, NAKs nothing for it
 * and gives none of it up as a gap, and does not subscribe to it again at
 * a reconnect; the other subscription goes on, and a new SUBSCRIBE takes
 * the topic up again. A SUBSCRIBE refused while asking stays an answer
 * (-EPERM), not a revocation. Then the broker ends the session itself
 * (frame type AUTH, or detail 0 answering another frame):
 * SL_EV_SESSION_REVOKED, every call -ENOTCONN from then on, and no
 * reconnect.
 */
static void
test_revoked(struct fake *fk)
{
	struct evlog ev = { 0 };
	struct collect col = { 0 };
	struct sl_client_opts o = { .host = "127.0.0.1", .port = fk->port, .name = "revoke",
				    .timeout_ms = 1000, .gap_timeout_ms = 50,
				    .on_event = on_event, .event_arg = &ev };
	uint16_t code = fk->auth ? SL_E_AUTH_FAILED : SL_E_AUTH_REQUIRED;
	uint64_t buf[SL_MAX_DATAGRAM / 8];
	struct sl_client_stats st0, st1, st;
	unsigned int subs1, subs2, hellos, n0;
	uint64_t r1, r2;
	struct injector in = { .fk = fk };
	socklen_t slen = sizeof(in.to);
	struct sl_client *c = NULL;
	struct sl_hdr bye;
	uint64_t deadline;
	size_t len;
	int rc;

	if (fk->auth) {
		o.user = FAKE_USER;
		o.key = fake_key;
		o.encrypt = atomic_load(&fk->enc_policy) == ENC_REQUIRED;
	}
	CHECK(sl_client_connect(&c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(getsockname(sl_client_fd(c), (struct sockaddr *)&in.to, &slen) == 0);
	in.c = c;
	CHECK(sl_client_subscribe(c, SILENT_TOPIC) == 0);
	CHECK(sl_client_subscribe(c, SILENT_TOPIC2) == 0);
	collect(c, &col, 2, 8); /* "retained", seq 1 of each */
	CHECK(col.n == 2);
	CHECK(sl_client_subscribe(c, DENIED_TOPIC) == -EPERM);
	CHECK(ev.n == 0);
	/* Where each topic's stream is (the fake's thread is idle now). */
	r1 = fk->seq[SILENT_TOPIC];
	r2 = fk->seq[SILENT_TOPIC2];

	/* Message r1 + 2 arrives before r1 + 1: held in the reorder window. */
	sl_client_stats(c, &st0);
	len = put_deliver(buf, FAKE_SESSION, SILENT_TOPIC, r1 + 2);
	fake_send_to(fk, &in.to, buf, len);
	deadline = sl_now_ns() + 1000 * MS;
	do {
		CHECK(sl_client_wait(c, on_msg, &col, 8, 5) >= 0);
		sl_client_stats(c, &st);
	} while (st.reordered == st0.reordered && sl_now_ns() < deadline);
	CHECK(st.reordered == st0.reordered + 1 && col.n == 2);

	/* The right is revoked. */
	len = put_error(buf, 1, SL_E_DENIED, SL_FT_SUBSCRIBE, SILENT_TOPIC);
	inject(&in, buf, len);
	sl_client_stats(c, &st);
	CHECK(ev.n == 1 && ev.type[0] == SL_EV_SUB_REVOKED && ev.error[0] == SL_E_DENIED);
	CHECK(st.subs_revoked == st0.subs_revoked + 1);
	CHECK(st.revoked_drops == st0.revoked_drops + 1); /* the one held */
	CHECK(st.last_error == SL_E_DENIED && st.disconnects == 0);
	st1 = st; /* a NAK of the hole may have gone before the ERROR came */
	/* Late messages of it are dropped, the hole neither NAKed nor
	 * given up; the other topic is delivered. */
	n0 = col.n;
	len = put_deliver(buf, FAKE_SESSION, SILENT_TOPIC, r1 + 1);
	fake_send_to(fk, &in.to, buf, len);
	len = put_deliver(buf, FAKE_SESSION, SILENT_TOPIC, r1 + 4);
	fake_send_to(fk, &in.to, buf, len);
	len = put_deliver(buf, FAKE_SESSION, SILENT_TOPIC2, r2 + 1);
	fake_send_to(fk, &in.to, buf, len);
	collect(c, &col, n0 + 1, 8);
	settle_for(c, &col, 120); /* beyond nak_delay and gap_timeout */
	sl_client_stats(c, &st);
	CHECK(col.n == n0 + 1 && col.topic == SILENT_TOPIC2 && col.seq == r2 + 1);
	CHECK(st.revoked_drops == st0.revoked_drops + 3);
	CHECK(st.naks_sent == st1.naks_sent && st.gap_events == st1.gap_events);
	CHECK(ev.n == 1);

	/* A reconnect subscribes again to SILENT_TOPIC2 only. */
	subs1 = atomic_load(&fk->subs_t[SILENT_TOPIC]);
	subs2 = atomic_load(&fk->subs_t[SILENT_TOPIC2]);
	sl_proto_hdr_init(&bye, SL_FT_GOODBYE, 0, sizeof(bye), FAKE_SESSION);
	fake_send_to(fk, &in.to, &bye, sizeof(bye));
	deadline = sl_now_ns() + 2000 * MS;
	do {
		CHECK(sl_client_wait(c, on_msg, &col, 8, 10) >= 0);
		sl_client_stats(c, &st);
	} while (st.reconnects == 0 && sl_now_ns() < deadline);
	CHECK(st.reconnects == 1);
	CHECK(atomic_load(&fk->subs_t[SILENT_TOPIC]) == subs1);
	CHECK(atomic_load(&fk->subs_t[SILENT_TOPIC2]) > subs2); /* FROM_SEQ, then live */
	/* Asked again (the right is back): delivered again. */
	CHECK(getsockname(sl_client_fd(c), (struct sockaddr *)&in.to, &slen) == 0);
	n0 = col.n;
	CHECK(sl_client_subscribe(c, SILENT_TOPIC) == 0);
	collect(c, &col, n0 + 1, 8);
	CHECK(col.n >= n0 + 1 && col.topic == SILENT_TOPIC);

	/* The session's credentials are revoked: final. */
	hellos = atomic_load(&fk->hellos);
	sl_client_stats(c, &st0);
	/* As the sweep sends it over shared memory (frame type AUTH), or as a
	 * worker answers any frame of a session whose user is gone. */
	len = put_error(buf, 0, code, fk->auth ? SL_FT_AUTH : SL_FT_HEARTBEAT, 0);
	fake_send_to(fk, &in.to, buf, len);
	deadline = sl_now_ns() + 1000 * MS;
	do
		rc = sl_client_wait(c, on_msg, &col, 8, 10);
	while (rc >= 0 && sl_now_ns() < deadline);
	CHECK(rc == -ENOTCONN);
	CHECK(ev.n >= 1 && ev.type[(ev.n - 1) % 16] == SL_EV_SESSION_REVOKED &&
	      ev.error[(ev.n - 1) % 16] == code);
	CHECK(ev_count(&ev, SL_EV_SESSION_REVOKED) == 1);
	CHECK(sl_client_subscribe(c, SILENT_TOPIC2) == -ENOTCONN);
	CHECK(sl_client_publish(c, 2, "x", 1, 0, 0) == -ENOTCONN);
	usleep(150 * 1000);
	CHECK(sl_client_poll(c, on_msg, &col, 8) == -ENOTCONN);
	sl_client_stats(c, &st);
	CHECK(st.last_error == code && st.disconnects == st0.disconnects);
	CHECK(atomic_load(&fk->hellos) == hellos); /* no reconnect */
	sl_client_close(c);
}

/*
 * A broker that goes silent, then restarts with a new incarnation and
 * another id for a topic: the client notices within the liveness time,
 * opens a new session, resolves and subscribes again (a journaled topic
 * from the message after the last one delivered), resumes its producer,
 * sends the unacknowledged publish again, and raises the events in order.
 */
static void
test_v2_reconnect(struct fake *fk)
{
	struct evlog ev = { 0 };
	struct collect col = { 0 };
	struct sl_client_opts o = { .name = "v2recon", .on_event = on_event, .event_arg = &ev,
				    .liveness_ms = 300 };
	struct sl_client_stats st;
	unsigned int hellos, resolves, port, epoch, psubs;
	uint64_t t0;
	struct sl_client *c;
	uint32_t t;

	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(sl_client_resolve(c, "t.v2", 1, &t) == 0 && t == V2_TOPIC);
	CHECK(sl_client_subscribe(c, t) == 0);
	CHECK(sl_client_subscribe_from(c, REPLAY_TOPIC, SL_SUB_F_EARLIEST, 0) == 0);
	CHECK(sl_client_subscribe_pattern(c, "t.>", 0) == 0);
	collect(c, &col, 1 + RETAINED, 8); /* "retained" on t, then the replay */
	CHECK(col.n == 1 + RETAINED && col.seq == RETAINED);
	CHECK(sl_client_publish(c, t, "p", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_settled(c, 1000);
	CHECK(sl_client_acked(c) == 1);
	sl_client_stats(c, &st);
	epoch = st.producer_epoch;
	hellos = atomic_load(&fk->hellos);
	psubs = atomic_load(&fk->psubs);
	resolves = atomic_load(&fk->resolves);
	port = atomic_load(&fk->peer_port);

	/* Silence: a publish goes unanswered, then the heartbeats. */
	atomic_store(&fk->silent, true);
	CHECK(sl_client_publish(c, t, "q", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	t0 = sl_now_ns();
	wait_events(c, &ev, 1, &col);
	CHECK(ev.n == 1 && ev.type[0] == SL_EV_DISCONNECTED);
	/* liveness_ms after the first unanswered heartbeat (every 50 ms) */
	CHECK(ev.ns[0] - t0 >= 300 * MS && ev.ns[0] - t0 < 600 * MS);
	CHECK(sl_client_publish(c, t, "x", 1, 0, SL_PUB_F_ACK_REQ) == -EAGAIN);

	atomic_store(&fk->renumber, true);
	atomic_store(&fk->restart, true);
	usleep(100000);
	atomic_store(&fk->silent, false);
	wait_events(c, &ev, 3, &col);
	CHECK(ev.n == 3 && ev.type[1] == SL_EV_INCARNATION && ev.type[2] == SL_EV_RECONNECTED);
	CHECK(atomic_load(&fk->hellos) >= hellos + 1);
	CHECK(atomic_load(&fk->peer_port) != port); /* a new socket, a new session */
	CHECK(atomic_load(&fk->resolves) == resolves + 1);
	CHECK(atomic_load(&fk->psubs) == psubs + 1);
	CHECK(atomic_load(&fk->sub_flags_t[REPLAY_TOPIC]) == SL_SUB_F_FROM_SEQ);
	CHECK(atomic_load(&fk->sub_start_t[REPLAY_TOPIC]) == RETAINED + 1);
	CHECK(atomic_load(&fk->sub_flags_t[FAKE_TOPICS - 1]) == 0); /* live, its new id */
	CHECK(epoch >= V2_EPOCH0 && atomic_load(&fk->producer_epoch) == epoch); /* resumed */
	wait_settled(c, 1000);
	sl_client_stats(c, &st);
	CHECK(sl_client_acked(c) == 2 && st.reconnects == 1 && st.disconnects == 1);
	CHECK(atomic_load(&fk->stored[FAKE_TOPICS - 1]) == 1); /* "q", resent once stored */

	/* The application's topic id still works, both ways. The fake's
	 * "retained" for the new subscription may still be waiting: drain it. */
	while (sl_client_wait(c, on_msg, &col, 8, 50) > 0)
		;
	col.n = 0;
	CHECK(sl_client_publish(c, t, "m", 1, 0, 0) == 0);
	collect(c, &col, 1, 8);
	CHECK(col.n == 1 && col.topic == t && strcmp(col.last, "m") == 0);

	/* SL_E_NO_SESSION from a live broker: a new session at once. */
	CHECK(sl_client_publish(c, t, "expire", 6, 0, 0) == 0);
	wait_events(c, &ev, 5, &col);
	CHECK(ev.n == 5 && ev.type[3] == SL_EV_DISCONNECTED && ev.error[3] == SL_E_NO_SESSION &&
	      ev.type[4] == SL_EV_RECONNECTED);
	CHECK(sl_client_publish(c, t, "r", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_settled(c, 1000);
	CHECK(sl_client_acked(c) == 5 && sl_client_last_seq(c) == 5); /* p q m expire r */

	/* A request whose session is lost meanwhile is asked again in a new one. */
	atomic_store(&fk->lose_session, true);
	CHECK(sl_client_resolve(c, "lost.once", 1, &t) == 0 && t == 4);
	CHECK(ev.n == 7 && ev.type[5] == SL_EV_DISCONNECTED && ev.type[6] == SL_EV_RECONNECTED);
	atomic_store(&fk->renumber, false);
	sl_client_close(c);
}

/*
 * The broker expired the session and answers the next publish, which asked
 * for an ACK, with SL_E_NO_SESSION naming it. That ends the session, not
 * the publish: the client reconnects and sends it again in the new session,
 * where it is stored once and acknowledged; it is never settled as refused.
 */
static void
test_v2_expired_publish(struct fake *fk)
{
	struct evlog ev = { 0 };
	struct collect col = { 0 };
	struct sl_client_opts o = { .name = "v2expired", .on_event = on_event, .event_arg = &ev };
	struct sl_client_stats st;
	struct sl_client *c;
	unsigned int n0;
	uint16_t code;
	uint32_t t;

	atomic_store(&fk->restart, true); /* no producer state from the tests before */
	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(sl_client_resolve(c, "t.v2", 1, &t) == 0 && t == V2_TOPIC);
	n0 = atomic_load(&fk->stored[V2_TOPIC]);
	CHECK(n0 + 2 <= 64); /* within what the fake remembers */
	CHECK(sl_client_publish(c, t, "a", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_settled(c, 1000);
	atomic_store(&fk->expire_pub, true);
	CHECK(sl_client_publish(c, t, "b", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_events(c, &ev, 2, &col);
	CHECK(ev.n == 2 && ev.type[0] == SL_EV_DISCONNECTED && ev.error[0] == SL_E_NO_SESSION &&
	      ev.type[1] == SL_EV_RECONNECTED);
	wait_settled(c, 1000);
	CHECK(status(c, 2, &code) == SL_PUB_ACKED && code == SL_E_NONE);
	CHECK(sl_client_acked(c) == 2);
	/* Stored once each, in order: the fake's dedup saw producer_seq 1, 2. */
	CHECK(atomic_load(&fk->stored[V2_TOPIC]) == n0 + 2);
	CHECK(n0 + 2 > 64 ||
	      (fk->stored_pseq[V2_TOPIC][n0] == 1 && fk->stored_pseq[V2_TOPIC][n0 + 1] == 2));
	sl_client_stats(c, &st);
	CHECK(st.publish_refused == 0 && st.disconnects == 1 && st.reconnects == 1);
	CHECK(st.last_error == SL_E_NO_SESSION);
	sl_client_close(c);

	/* A client that does not reconnect will not send it again: refused. */
	memset(&ev, 0, sizeof(ev));
	o.no_reconnect = 1;
	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(sl_client_publish(c, V2_TOPIC, "c", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	wait_settled(c, 1000);
	atomic_store(&fk->expire_pub, true);
	CHECK(sl_client_publish(c, V2_TOPIC, "d", 1, 0, SL_PUB_F_ACK_REQ) == 0);
	for (int i = 0; i < 200 && sl_client_poll(c, NULL, NULL, 8) >= 0; i++)
		usleep(1000);
	CHECK(sl_client_poll(c, NULL, NULL, 8) == -ENOTCONN);
	CHECK(status(c, 2, &code) == SL_PUB_REFUSED && code == SL_E_NO_SESSION);
	sl_client_close(c);
}


/* --- consumer groups (v4) --- */

struct gcollect {
	unsigned int n;
	uint32_t group_id, topic, count;
	uint64_t seq;
	uint64_t seqs[128]; /* in arrival order */
	uint32_t counts[128];
	char last[32];
	char key[8];
	char hdr[8];	    /* header "h" of the last message */
};

static void
on_gmsg(void *arg, const struct sl_message *m)
{
	struct gcollect *g = arg;
	const void *v;
	uint16_t vl;
	uint32_t len = m->len < sizeof(g->last) - 1 ? m->len : sizeof(g->last) - 1;

	if (g->n < 128) {
		g->seqs[g->n] = m->seq;
		g->counts[g->n] = m->delivery_count;
	}
	g->n++;
	g->group_id = m->group_id;
	g->topic = m->topic_id;
	g->count = m->delivery_count;
	g->seq = m->seq;
	memcpy(g->last, m->data, len);
	g->last[len] = '\0';
	snprintf(g->key, sizeof(g->key), "%.*s", m->key_len < 7 ? (int)m->key_len : 7,
		 (const char *)m->key);
	v = sl_msg_header(m, "h", &vl);
	snprintf(g->hdr, sizeof(g->hdr), "%.*s", v != NULL && vl < 7 ? (int)vl : 0,
		 v != NULL ? (const char *)v : "");
}

/* Poll until @want group deliveries in all arrived, or @ms passed. */
static void
gcollect(struct sl_client *c, struct gcollect *g, unsigned int want, unsigned int ms)
{
	uint64_t deadline = sl_now_ns() + ms * MS;

	while (g->n < want && sl_now_ns() < deadline)
		CHECK(sl_client_wait(c, on_gmsg, g, 16, 5) >= 0);
}

/* Wait (without calling into the client) until @v reaches @want, up to 1 s. */
static bool
wait_atomic(atomic_uint *v, unsigned int want)
{
	for (int i = 0; i < 200 && atomic_load(v) < want; i++)
		usleep(5000);
	return atomic_load(v) == want;
}

/* Poll @c (delivering into @g) until @v reaches @want, up to 1 s. */
static bool
poll_until(struct sl_client *c, struct gcollect *g, atomic_uint *v, unsigned int want)
{
	for (int i = 0; i < 200 && atomic_load(v) < want; i++)
		CHECK(sl_client_wait(c, on_gmsg, g, 16, 5) >= 0);
	return atomic_load(v) == want;
}

static int
group_connect(struct fake *fk, struct sl_client **c, struct sl_client_opts *o)
{
	o->host = "127.0.0.1";
	o->port = fk->port;
	o->timeout_ms = 1000;
	if (fk->auth) {
		o->user = FAKE_USER;
		o->key = fake_key;
		o->encrypt = atomic_load(&fk->enc_policy) == ENC_REQUIRED;
	}
	return sl_client_connect(c, o);
}

/* Publish @n messages to the group's topic: the fake hands each to the member. */
static void
gpublish(struct sl_client *c, unsigned int n, const char *text)
{
	for (unsigned int i = 0; i < n; i++)
		CHECK(sl_client_publish(c, GROUP_TOPIC, text, (uint32_t)strlen(text), 0, 0) == 0);
}

/* Join, deliveries with group id and delivery count, refusals of join. */
static void
test_group_join(struct fake *fk, struct sl_client *c, struct sl_group_info *info)
{
	struct sl_group_opts go = { .topic_id = GROUP_TOPIC, .group = "nope" };
	struct sl_group_info again;
	struct gcollect g = { 0 };
	struct sl_client_stats st;
	unsigned int joins;
	char want[32];

	CHECK(sl_client_group_join(c, &go, info) == -ESRCH);	/* SL_E_NO_GROUP */
	go.group = "a b";
	CHECK(sl_client_group_join(c, &go, info) == -EINVAL);
	go.group = "work";
	go.credit = SL_MAX_GROUP_CREDIT + 1;
	CHECK(sl_client_group_join(c, &go, info) == -EINVAL);
	go.credit = 0;
	go.flags = 2;
	CHECK(sl_client_group_join(c, &go, info) == -EINVAL);
	go.flags = 0;
	go.topic_id = 4;
	CHECK(sl_client_group_join(c, &go, info) == -ENOENT); /* SL_E_UNKNOWN_TOPIC */
	go.topic_id = GROUP_TOPIC;
	CHECK(sl_client_group_ack(c, GROUP_GID, 1) == -ENOENT); /* not a member yet */
	joins = atomic_load(&fk->gjoins);
	go.member_id = 0x1234;
	CHECK(sl_client_group_join(c, &go, info) == 0);
	CHECK(info->group_id == GROUP_GID && info->member_id == 0x1234 && info->credit == 100 &&
	      info->policy == SL_GROUP_RR && info->ack_wait_ms == 30000 &&
	      info->max_deliveries == 5 && info->grace_ms == 5000);
	CHECK(atomic_load(&fk->gmember) == 0x1234 && atomic_load(&fk->gjoin_credit) == 256);
	CHECK(atomic_load(&fk->gjoin_flags) == 0);
	/* Joining again answers what the first join did, asking nothing. */
	CHECK(sl_client_group_join(c, &go, &again) == 0 && again.group_id == GROUP_GID);
	CHECK(atomic_load(&fk->gjoins) == joins + 1);

	gpublish(c, 3, "x");
	gpublish(c, 1, "hdrs");
	gcollect(c, &g, 4, 1000);
	CHECK(g.n == 4 && g.group_id == GROUP_GID && g.topic == GROUP_TOPIC);
	CHECK(g.counts[0] == 1 && g.counts[3] == 1 && g.seqs[1] == g.seqs[0] + 1);
	snprintf(want, sizeof(want), "m%" PRIu64, g.seq);
	CHECK(strcmp(g.last, want) == 0);
	/* The header block is parsed as DELIVER's: key, headers, then payload. */
	CHECK(strcmp(g.key, "k1") == 0 && strcmp(g.hdr, "v") == 0 && g.last[0] == 'm');
	sl_client_stats(c, &st);
	CHECK(st.group_delivered == 4 && st.group_redelivered == 0);

	/* Cumulative: everything held up to the fourth, one GACK of one seq. */
	CHECK(sl_client_group_ack_upto(c, GROUP_GID, g.seqs[3]) == 0);
	CHECK(wait_atomic(&fk->gack_cum, 1) && atomic_load(&fk->gack_cum_seq) == g.seqs[3]);
	CHECK(wait_atomic(&fk->gacked, 4) && atomic_load(&fk->gack_frames) == 1);
}

/* 65 acks: 64 go in one GACK when the 64th is queued, the 65th at the next poll. */
static void
test_group_ack_batch(struct fake *fk, struct sl_client *c)
{
	struct gcollect g = { 0 };
	struct sl_client_stats st;
	unsigned int i, frames = atomic_load(&fk->gack_frames);
	unsigned int seqs = atomic_load(&fk->gack_seqs), acked = atomic_load(&fk->gacked);

	gpublish(c, 65, "y");
	gcollect(c, &g, 65, 2000);
	CHECK(g.n == 65);
	if (g.n != 65)
		return;
	/* Nothing sent before the 64th... */
	for (i = 0; i < 63; i++)
		CHECK(sl_client_group_ack(c, GROUP_GID, g.seqs[i]) == 0);
	usleep(20000);
	CHECK(atomic_load(&fk->gack_frames) == frames);
	/* ...which sends all of them in one, at once. */
	CHECK(sl_client_group_ack(c, GROUP_GID, g.seqs[63]) == 0);
	CHECK(sl_client_group_ack(c, GROUP_GID, g.seqs[64]) == 0);
	CHECK(wait_atomic(&fk->gack_frames, frames + 1));
	CHECK(atomic_load(&fk->gack_seqs) == seqs + 64 && atomic_load(&fk->gack_max) == 64);
	usleep(20000);
	CHECK(atomic_load(&fk->gack_frames) == frames + 1); /* the 65th waits */
	CHECK(sl_client_poll(c, on_gmsg, &g, 16) >= 0);
	CHECK(wait_atomic(&fk->gack_frames, frames + 2));
	CHECK(atomic_load(&fk->gack_seqs) == seqs + 65);
	CHECK(wait_atomic(&fk->gacked, acked + 65) && atomic_load(&fk->not_held) == 0);
	sl_client_stats(c, &st);
	CHECK(st.group_acked == 1 + 65); /* the cumulative ack counts one */
}

/* An ack of a seq never given: SL_E_NOT_HELD, an SL_EV_GROUP_ERROR event. */
static void
test_group_not_held(struct fake *fk, struct sl_client *c, struct evlog *ev,
		    const struct group_evlog *gev)
{
	struct gcollect g = { 0 };
	struct sl_client_stats st;
	unsigned int n0 = ev->n;

	CHECK(sl_client_group_ack(c, GROUP_GID, 999) == 0);
	CHECK(poll_until(c, &g, &fk->not_held, 1));
	for (int i = 0; i < 200 && ev->n == n0; i++)
		CHECK(sl_client_wait(c, on_gmsg, &g, 16, 5) >= 0);
	CHECK(ev->n == n0 + 1 && ev->type[n0] == SL_EV_GROUP_ERROR &&
	      ev->error[n0] == SL_E_NOT_HELD);
	CHECK(gev->group_id == GROUP_GID && gev->topic_id == GROUP_TOPIC && gev->first == 999);
	sl_client_stats(c, &st);
	CHECK(st.group_not_held == 1 && st.last_error == SL_E_NOT_HELD);
}

/* A nak with a delay: redelivered no sooner, delivery count 2. */
static void
test_group_nak(struct fake *fk, struct sl_client *c)
{
	struct gcollect g = { 0 };
	struct sl_client_stats st;
	uint64_t t0;

	gpublish(c, 1, "z");
	gcollect(c, &g, 1, 1000);
	CHECK(g.n == 1 && g.count == 1);
	CHECK(sl_client_group_nak(c, GROUP_GID, g.seq, SL_MAX_NAK_DELAY + 1, 7) == -EINVAL);
	t0 = sl_now_ns();
	CHECK(sl_client_group_nak(c, GROUP_GID, g.seq, 150, 7) == 0);
	gcollect(c, &g, 2, 1000);
	CHECK(g.n == 2 && g.seqs[1] == g.seqs[0] && g.count == 2);
	CHECK(sl_now_ns() - t0 >= 150 * MS);
	CHECK(atomic_load(&fk->gnak_delay) == 150 && atomic_load(&fk->gnak_error) == 7);
	sl_client_stats(c, &st);
	CHECK(st.group_redelivered == 1 && st.group_nacked == 1);
	CHECK(sl_client_group_ack(c, GROUP_GID, g.seq) == 0);
}

/* Pause holds deliveries back, resume lets them go; leave ends the membership. */
static void
test_group_pause_leave(struct fake *fk, struct sl_client *c)
{
	struct gcollect g = { 0 };

	CHECK(sl_client_group_pause(c, GROUP_GID, 1) == 0);
	CHECK(atomic_load(&fk->gctls[SL_GCTL_PAUSE]) == 1);
	gpublish(c, 1, "p");
	gcollect(c, &g, 1, 100);
	CHECK(g.n == 0);
	CHECK(sl_client_group_pause(c, GROUP_GID, 0) == 0);
	gcollect(c, &g, 1, 1000);
	CHECK(g.n == 1 && g.group_id == GROUP_GID);
	CHECK(sl_client_group_ack(c, GROUP_GID, g.seq) == 0);
	CHECK(sl_client_group_fetch(c, GROUP_GID, 1) == -EINVAL); /* not a pull member */
	CHECK(sl_client_group_leave(c, GROUP_GID) == 0);
	CHECK(atomic_load(&fk->gctls[SL_GCTL_LEAVE]) == 1);
	CHECK(sl_client_group_ack(c, GROUP_GID, g.seq) == -ENOENT);
}

/* A pull member gets what it fetches, no more. */
static void
test_group_pull(struct fake *fk, struct sl_client *c)
{
	struct sl_group_opts go = { .topic_id = GROUP_TOPIC, .group = "work", .credit = 10,
				    .flags = SL_GROUP_F_PULL };
	struct sl_group_info info;
	struct gcollect g = { 0 };

	CHECK(sl_client_group_join(c, &go, &info) == 0 && info.credit == 10);
	CHECK(atomic_load(&fk->gjoin_flags) == SL_GJOIN_F_PULL);
	CHECK(info.member_id != 0 && atomic_load(&fk->gmember) == info.member_id);
	gpublish(c, 3, "q");
	gcollect(c, &g, 1, 100);
	CHECK(g.n == 0);
	CHECK(sl_client_group_fetch(c, info.group_id, 0) == -EINVAL);
	CHECK(sl_client_group_fetch(c, info.group_id, SL_MAX_GROUP_CREDIT + 1) == -EINVAL);
	CHECK(sl_client_group_fetch(c, info.group_id, 2) == 0);
	gcollect(c, &g, 3, 150);
	CHECK(g.n == 2);
	CHECK(sl_client_group_fetch(c, info.group_id, 1) == 0);
	gcollect(c, &g, 3, 1000);
	CHECK(g.n == 3 && atomic_load(&fk->gctls[SL_GCTL_FETCH]) == 2);
	CHECK(sl_client_group_ack_upto(c, info.group_id, g.seqs[2]) == 0);
	CHECK(sl_client_group_leave(c, info.group_id) == 0);
}

/*
 * What the broker says about a group unasked: a gap (SL_E_GAP_LOST, frame
 * type GDELIVER, the range after the ERROR) is an event and counted; a
 * revocation (SL_E_DENIED, frame type GJOIN, detail the group) is an event
 * that ends the membership: later deliveries of the group are dropped.
 */
static void
test_group_events(struct fake *fk, struct sl_client *c, struct group_evlog *gev)
{
	struct sl_group_opts go = { .topic_id = GROUP_TOPIC, .group = "work" };
	uint64_t buf[(sizeof(struct sl_error_gap) + 7) / 8];
	struct sl_error_gap *e = (struct sl_error_gap *)buf;
	struct sl_group_info info;
	struct gcollect g = { 0 };
	struct sl_client_stats st0, st;
	unsigned int n0;

	CHECK(sl_client_group_join(c, &go, &info) == 0);
	sl_client_stats(c, &st0);
	n0 = gev->log.n;
	sl_proto_hdr_init(&e->e.h, SL_FT_ERROR, 0, sizeof(*e), FAKE_SESSION);
	e->e.req_id = 0;
	e->e.code = SL_E_GAP_LOST;
	e->e.frame_type = SL_FT_GDELIVER;
	e->e.detail = GROUP_GID;
	e->first = 5;
	e->last = 9;
	fake_send(fk, e, sizeof(*e));
	for (int i = 0; i < 200 && gev->log.n == n0; i++)
		CHECK(sl_client_wait(c, on_gmsg, &g, 16, 5) >= 0);
	CHECK(gev->log.n == n0 + 1 && gev->log.type[n0] == SL_EV_GROUP_ERROR &&
	      gev->log.error[n0] == SL_E_GAP_LOST && gev->group_id == info.group_id &&
	      gev->first == 5);
	sl_client_stats(c, &st);
	CHECK(st.gaps == st0.gaps + 5 && st.errors == st0.errors);

	fake_send(fk, e, put_error(e, 0, SL_E_DENIED, SL_FT_GJOIN, GROUP_GID));
	for (int i = 0; i < 200 && gev->log.n == n0 + 1; i++)
		CHECK(sl_client_wait(c, on_gmsg, &g, 16, 5) >= 0);
	CHECK(gev->log.n == n0 + 2 && gev->log.error[n0 + 1] == SL_E_DENIED &&
	      gev->group_id == info.group_id);
	CHECK(sl_client_group_ack(c, info.group_id, 1) == -ENOENT);
	gpublish(c, 1, "late"); /* the fake still sends it: dropped */
	for (int i = 0; i < 200 && st.group_dropped == st0.group_dropped; i++) {
		CHECK(sl_client_wait(c, on_gmsg, &g, 16, 5) >= 0);
		sl_client_stats(c, &st);
	}
	CHECK(st.group_dropped == st0.group_dropped + 1 && g.n == 0);
}

/* A broker that speaks version 3: every group call -EPROTONOSUPPORT. */
static void
test_group_v3(struct fake *fk)
{
	struct sl_group_opts go = { .topic_id = GROUP_TOPIC, .group = "work" };
	struct sl_client_opts o = { .name = "groupv3", .no_reconnect = 1 };
	struct sl_group_info info;
	struct sl_client *c;
	unsigned int joins = atomic_load(&fk->gjoins);

	atomic_store(&fk->v3, true);
	CHECK(group_connect(fk, &c, &o) == 0);
	atomic_store(&fk->v3, false);
	if (c == NULL)
		return;
	CHECK(sl_client_group_join(c, &go, &info) == -EPROTONOSUPPORT);
	{
		char name[SL_MAX_TOPIC_NAME + 1];
		unsigned int resolves = atomic_load(&fk->resolves);

		/* Its WELCOME offers no RESOLVE by id: not asked at all. */
		CHECK(sl_client_topic_name(c, 1, name, sizeof(name)) == -EOPNOTSUPP);
		CHECK(atomic_load(&fk->resolves) == resolves);
	}
	CHECK(sl_client_group_ack(c, GROUP_GID, 1) == -EPROTONOSUPPORT);
	CHECK(sl_client_group_fetch(c, GROUP_GID, 1) == -EPROTONOSUPPORT);
	CHECK(atomic_load(&fk->gjoins) == joins);
	sl_client_close(c);
}

static void
test_groups(struct fake *fk)
{
	struct group_evlog gev = { 0 };
	struct sl_client_opts o = { .name = "group", .no_reconnect = 1, .on_event = on_gevent,
				    .event_arg = &gev };
	struct sl_group_info info;
	struct sl_client *c;
	uint32_t t;

	CHECK(group_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(sl_client_resolve(c, "t.group", 1, &t) == 0 && t == GROUP_TOPIC);
	test_group_join(fk, c, &info);
	test_group_ack_batch(fk, c);
	test_group_not_held(fk, c, &gev.log, &gev);
	test_group_nak(fk, c);
	test_group_pause_leave(fk, c);
	test_group_pull(fk, c);
	test_group_events(fk, c, &gev);
	sl_client_close(c);
	test_group_v3(fk);
}

/*
 * Reconnecting: the client joins every group again with the same member
 * id, a paused member pauses again, and what it held stays its own (acks
 * of messages delivered before the loss settle them after it).
 */
static void
test_group_rejoin(struct fake *fk)
{
	struct group_evlog gev = { 0 };
	struct sl_client_opts o = { .name = "grejoin", .on_event = on_gevent, .event_arg = &gev };
	struct sl_group_opts go = { .topic_id = GROUP_TOPIC, .group = "work", .member_id = 0x99 };
	struct sl_group_info info;
	struct gcollect g = { 0 };
	struct collect col = { 0 };
	struct sl_client *c;
	unsigned int joins, pauses, acked;
	uint32_t t;

	CHECK(v2_connect(fk, &c, &o) == 0);
	if (c == NULL)
		return;
	CHECK(sl_client_resolve(c, "t.group", 1, &t) == 0 && t == GROUP_TOPIC);
	CHECK(sl_client_group_join(c, &go, &info) == 0 && info.member_id == 0x99);
	joins = atomic_load(&fk->gjoins);
	gpublish(c, 2, "r");
	gcollect(c, &g, 2, 1000);
	CHECK(g.n == 2);
	CHECK(sl_client_group_pause(c, info.group_id, 1) == 0);
	pauses = atomic_load(&fk->gctls[SL_GCTL_PAUSE]);
	acked = atomic_load(&fk->gacked);

	/* The broker expired the session: a new one, inside this request. */
	atomic_store(&fk->lose_session, true);
	CHECK(sl_client_resolve(c, "lost.once", 1, &t) == 0);
	wait_events(c, &gev.log, 2, &col);
	CHECK(gev.log.n == 2 && gev.log.type[0] == SL_EV_DISCONNECTED &&
	      gev.log.type[1] == SL_EV_RECONNECTED);
	CHECK(atomic_load(&fk->gjoins) == joins + 1 && atomic_load(&fk->gmember) == 0x99);
	CHECK(atomic_load(&fk->gctls[SL_GCTL_PAUSE]) == pauses + 1);
	CHECK(sl_client_group_ack(c, info.group_id, g.seqs[0]) == 0);
	CHECK(sl_client_group_ack(c, info.group_id, g.seqs[1]) == 0);
	CHECK(poll_until(c, &g, &fk->gacked, acked + 2));
	CHECK(sl_client_group_pause(c, info.group_id, 0) == 0);
	gpublish(c, 1, "s");
	gcollect(c, &g, 3, 1000);
	CHECK(g.n == 3 && g.group_id == info.group_id && g.count == 1);
	CHECK(sl_client_group_ack(c, info.group_id, g.seq) == 0);
	CHECK(sl_client_group_leave(c, info.group_id) == 0);
	sl_client_close(c);
}

static void
test_v2(void)
{
	static struct fake fk;

	if (fake_start_v(&fk, false, true) < 0) {
		perror("fake broker");
		CHECK(0);
		return;
	}
	test_v2_lost_ack(&fk);
	test_v2_batching(&fk);
	test_v2_fragments(&fk);
	test_v2_bounded(&fk);
	test_v2_fenced(&fk);
	test_v2_reconnect(&fk);
	test_v2_expired_publish(&fk);
	test_group_rejoin(&fk);
	fake_stop(&fk);
}

int
main(void)
{
	static struct fake fk;

	/* The fake draws its secrets before any client starts libsodium. */
	if (sl_crypto_init() < 0 || fake_start(&fk, false) < 0) {
		perror("fake broker");
		return 1;
	}
	test_connect_errors(&fk);
	test_session(&fk);
	test_forged(&fk);
	test_revoked(&fk);
	test_groups(&fk);
	fake_stop(&fk);

	/* The same session with authentication: every datagram sealed and
	 * checked, both ways; then encrypted too. */
	if (fake_start_auth(&fk, ENC_OPTIONAL) < 0)
		return 1;
	test_auth_connect(&fk);
	test_session(&fk);
	test_forged(&fk);
	test_replay_window(&fk);
	test_handshake_restart(&fk);
	test_encryption(&fk);
	test_auth_reconnect(&fk);
	test_auth_all_sealed(&fk);
	test_revoked(&fk);
	test_groups(&fk);
	fake_stop(&fk);

	/* Encryption required for the user: every datagram encrypted. */
	if (fake_start_auth(&fk, ENC_REQUIRED) < 0)
		return 1;
	test_session(&fk);
	CHECK(atomic_load(&fk.enc_dgrams) > 100);
	test_auth_all_sealed(&fk);
	fake_stop(&fk);

	/* AES-256-GCM where this CPU has it: the whole session suite again in
	 * that suite, encrypted, and what a WELCOME may say of the suite. */
	if (sl_crypto_aesgcm_available()) {
		if (fake_start_auth(&fk, ENC_REQUIRED) < 0)
			return 1;
		atomic_store(&fk.aes, true);
		test_session(&fk);
		CHECK(atomic_load(&fk.suite) == SL_SUITE_AES256_GCM);
		CHECK(atomic_load(&fk.enc_dgrams) > 100);
		test_auth_all_sealed(&fk);
		test_auth_suites(&fk);
		fake_stop(&fk);
	}

	test_credentials();
	test_v2();
	return check_result("test_client");
}
