/* SPDX-License-Identifier: BSD-3-Clause */
/* Retained messages: the last retained message of each MQTT topic, kept in a file. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <common/keyhash.h>

#include "gw.h"

/*
 * Why a file and not a Sluice topic: a retained message must outlive the
 * gateway (restart, kill -9) whatever the durability of its topic (a topic
 * of durability none keeps nothing), must be found by MQTT topic name at
 * every SUBSCRIBE (a journal replay per subscription would be a round trip
 * and a scan), and is one message per topic, not a stream. So the gateway
 * keeps them in memory (a hash table of messages shared with the fan-out)
 * and appends every change to STATE_DIR/retained-NAME.log, a log of
 * records:
 *
 *   u32 magic 0x52544e31 ("1NTR"), u32 record bytes (header included),
 *   u16 topic_len, u8 qos, u8 0, u32 props_len, u32 payload_len,
 *   u64 expiry (CLOCK_REALTIME s, 0 none), topic, props, payload
 *
 * little-endian; an empty payload deletes the topic's message. At start
 * the log is read (a torn last record, from a crash mid-write, ends the
 * reading), applied, and written again compacted (temporary file, fsync,
 * rename). Changes reach the page cache at once (a gateway crash loses
 * nothing the broker acknowledged) and the disk at the next tick's
 * fdatasync (100 ms). The message is stored once the broker acknowledged
 * the publish (QoS 1/2) or sent it (QoS 0).
 */

#define MAGIC 0x52544e31u
#define HDR 28u

struct ent {
	struct gw_msg *m; /* NULL: free */
	uint32_t hash;
};

static struct ent *tab;
static uint32_t tab_mask, tab_used;
static int fd = -1;
static bool dirty;
static char path[PATH_MAX];

static struct ent *
find(const char *t, uint16_t len, uint32_t h)
{
	uint32_t i = h & tab_mask;

	while (tab[i].m != NULL) {
		if (tab[i].hash == h && tab[i].m->topic_len == len &&
		    !memcmp(gw_msg_topic(tab[i].m), t, len))
			return &tab[i];
		i = (i + 1) & tab_mask;
	}
	return &tab[i];
}

static int
grow(void)
{
	struct ent *old = tab;
	uint32_t i, n = tab ? (tab_mask + 1) * 2 : 256, on = tab ? tab_mask + 1 : 0;

	tab = calloc(n, sizeof(*tab));
	if (tab == NULL) {
		tab = old;
		return -ENOMEM;
	}
	tab_mask = n - 1;
	for (i = 0; i < on; i++)
		if (old[i].m != NULL)
			*find(gw_msg_topic(old[i].m), old[i].m->topic_len, old[i].hash) = old[i];
	free(old);
	return 0;
}

/* Remove @e keeping the probe chains whole (backward shift). */
static void
remove_ent(struct ent *e)
{
	uint32_t i = (uint32_t)(e - tab), j = i, k;

	gw_msg_unref(e->m);
	e->m = NULL;
	tab_used--;
	for (;;) {
		j = (j + 1) & tab_mask;
		if (tab[j].m == NULL)
			return;
		k = tab[j].hash & tab_mask;
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			tab[i] = tab[j];
			tab[j].m = NULL;
			i = j;
		}
	}
}

static uint64_t
real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

static void
put32(uint8_t *p, uint32_t x)
{
	memcpy(p, &x, 4); /* little-endian hosts only (x86-64, arm64) */
}

static int
write_rec(int to, const struct gw_msg *m, bool del)
{
	uint8_t h[HDR];
	uint32_t plen = del ? 0 : m->props_len, len = del ? 0 : m->len;
	uint64_t exp = 0;
	struct iovec iov[4];
	ssize_t want;

	if (!del && m->expiry_ns) {
		uint64_t left = m->expiry_ns > gw.now_ns ? m->expiry_ns - gw.now_ns : 0;

		exp = real_s() + left / 1000000000ull + 1;
	}
	put32(h, MAGIC);
	put32(h + 4, HDR + m->topic_len + plen + len);
	h[8] = (uint8_t)m->topic_len;
	h[9] = (uint8_t)(m->topic_len >> 8);
	h[10] = m->qos;
	h[11] = 0;
	put32(h + 12, plen);
	put32(h + 16, len);
	memcpy(h + 20, &exp, 8);
	iov[0] = (struct iovec){ h, HDR };
	iov[1] = (struct iovec){ (void *)gw_msg_topic(m), m->topic_len };
	iov[2] = (struct iovec){ (void *)gw_msg_props(m), plen };
	iov[3] = (struct iovec){ (void *)gw_msg_payload(m), len };
	want = HDR + m->topic_len + plen + len;
	return writev(to, iov, 4) == want ? 0 : -EIO;
}

void
gw_retain_set(struct gw_msg *m)
{
	uint32_t h = sl_name_hash(gw_msg_topic(m), m->topic_len);
	struct ent *e;

	if (tab == NULL || ((tab_used + 1) * 2 > tab_mask + 1 && grow() < 0))
		return;
	e = find(gw_msg_topic(m), m->topic_len, h);
	if (m->len == 0) {
		/* [MQTT-3.3.1-10]: an empty retained message deletes. */
		if (e->m != NULL)
			remove_ent(e);
	} else {
		if (e->m != NULL)
			gw_msg_unref(e->m);
		else
			tab_used++;
		gw_msg_ref(m);
		e->m = m;
		e->hash = h;
	}
	gw_ctr[GW_C_retained] = tab_used;
	if (fd >= 0 && write_rec(fd, m, m->len == 0) == 0)
		dirty = true;
}

static void
load(const uint8_t *b, size_t n)
{
	size_t off = 0;
	uint32_t magic, len, plen, paylen;
	uint16_t tlen;
	uint64_t exp, now = real_s();
	struct gw_msg *m;

	while (off + HDR <= n) {
		memcpy(&magic, b + off, 4);
		memcpy(&len, b + off + 4, 4);
		if (magic != MAGIC || len < HDR || len > n - off)
			break; /* a torn tail */
		tlen = (uint16_t)(b[off + 8] | b[off + 9] << 8);
		memcpy(&plen, b + off + 12, 4);
		memcpy(&paylen, b + off + 16, 4);
		memcpy(&exp, b + off + 20, 8);
		if ((uint64_t)HDR + tlen + plen + paylen != len || tlen == 0)
			break;
		m = gw_msg_new(tlen + plen + paylen);
		if (m == NULL)
			break;
		memcpy(m->data, b + off + HDR, (size_t)tlen + plen + paylen);
		m->topic_len = tlen;
		m->props_len = (uint16_t)plen;
		m->len = paylen;
		m->qos = b[off + 10] <= 2 ? b[off + 10] : 0;
		m->retain = 1;
		if (exp) {
			m->expiry_ns = exp > now ? gw.now_ns + (exp - now) * 1000000000ull : 1;
			m->expiry_s = (uint32_t)(exp > now ? exp - now : 0);
		}
		if (!m->expiry_ns || m->expiry_ns > gw.now_ns || m->len == 0)
			gw_retain_set(m);
		gw_msg_unref(m);
		off += len;
	}
}

/* mkdir -p, the last level 0700 (retained messages are the operator's). */
static int
mkdir_p(const char *dir)
{
	char p[PATH_MAX];
	size_t i;

	snprintf(p, sizeof(p), "%s", dir);
	for (i = 1; p[i]; i++) {
		if (p[i] != '/')
			continue;
		p[i] = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		p[i] = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int
gw_retain_open(const char *dir)
{
	char tmp[PATH_MAX + 8];
	struct stat st;
	uint8_t *b = NULL;
	uint32_t i;
	int in, rc;

	if (grow() < 0)
		return -ENOMEM;
	rc = mkdir_p(dir);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/retained-%s.log", dir, gw.conf.name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in >= 0) {
		if (fstat(in, &st) == 0 && st.st_size > 0 && (b = malloc((size_t)st.st_size)) &&
		    read(in, b, (size_t)st.st_size) == st.st_size)
			load(b, (size_t)st.st_size);
		free(b);
		close(in);
	}
	/* Compact: the live messages only, then the log goes on from there. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (i = 0; i <= tab_mask; i++)
		if (tab[i].m != NULL && write_rec(fd, tab[i].m, false) < 0)
			goto fail;
	if (fsync(fd) < 0 || rename(tmp, path) < 0)
		goto fail;
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	return fd < 0 ? -errno : 0;
fail:
	rc = -errno;
	close(fd);
	fd = -1;
	unlink(tmp);
	return rc;
}

void
gw_retain_flush(void)
{
	if (dirty && fd >= 0)
		fdatasync(fd);
	dirty = false;
}

void
gw_retain_deliver(struct gw_sess *s, const struct gw_sub *sub)
{
	uint32_t i, tid;
	struct gw_msg *m;

	for (i = 0; tab != NULL && i <= tab_mask; i++) {
		m = tab[i].m;
		if (m == NULL || !sl_mqtt_topic_match(sub->mfilter, sub->mflen, gw_msg_topic(m),
						      m->topic_len))
			continue;
		/* The broker decides whether this user may read the topic: a
		 * subscription to it (idempotent; a pattern of this filter
		 * covers it already) is refused when the ACL says no. */
		if ((gw_user_topic(s->user, gw_msg_topic(m), m->topic_len, &tid) != 0 ||
		     sl_client_subscribe(s->user->cl, tid) < 0))
			continue;
		GW_INC(retained_sent);
		/* [MQTT-3.3.1-8]: RETAIN set on messages sent for a new
		 * subscription. */
		gw_out_deliver(s, m, sub->qos < m->qos ? sub->qos : m->qos, 1, sub->sub_id);
	}
}

void
gw_retain_close(void)
{
	uint32_t i;

	gw_retain_flush();
	if (fd >= 0)
		close(fd);
	fd = -1;
	for (i = 0; tab != NULL && i <= tab_mask; i++)
		gw_msg_unref(tab[i].m);
	free(tab);
	tab = NULL;
	tab_used = 0;
}
