/* SPDX-License-Identifier: BSD-3-Clause */
/* The session state log: record codec, loading with a torn tail, rewriting, appending. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_slog.h"

uint32_t
gw_crc32c(uint32_t crc, const void *data, size_t len)
{
	static uint32_t tab[256];
	const uint8_t *p = data;
	uint32_t i, k, c;

	if (tab[1] == 0) {
		for (i = 0; i < 256; i++) {
			for (c = i, k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
			tab[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Little-endian hosts only (x86-64, arm64), as the retained log. */
static void
put(uint8_t *p, const void *v, size_t n)
{
	memcpy(p, v, n);
}

int
gw_slog_encode(uint8_t *buf, size_t cap, const struct gw_slog_rec *r)
{
	uint32_t len = GW_SLOG_HDR + r->cid_len + r->name_len, magic = GW_SLOG_MAGIC, crc;

	if (len > cap)
		return -ENOSPC;
	put(buf, &magic, 4);
	put(buf + 4, &len, 4);
	buf[12] = r->type;
	buf[13] = r->level;
	buf[14] = r->qos;
	buf[15] = r->opts;
	put(buf + 16, &r->cid_len, 2);
	put(buf + 18, &r->name_len, 2);
	put(buf + 20, &r->u32, 4);
	put(buf + 24, &r->a, 8);
	put(buf + 32, &r->b, 8);
	put(buf + 40, &r->c, 8);
	memcpy(buf + GW_SLOG_HDR, r->cid, r->cid_len);
	if (r->name_len)
		memcpy(buf + GW_SLOG_HDR + r->cid_len, r->name, r->name_len);
	crc = gw_crc32c(0, buf + 12, len - 12);
	put(buf + 8, &crc, 4);
	return (int)len;
}

size_t
gw_slog_scan(const uint8_t *b, size_t n, void (*fn)(void *arg, const struct gw_slog_rec *r),
	     void *arg)
{
	struct gw_slog_rec r;
	uint32_t magic, len, crc;
	size_t off = 0;

	while (n - off >= GW_SLOG_HDR) {
		memcpy(&magic, b + off, 4);
		memcpy(&len, b + off + 4, 4);
		memcpy(&crc, b + off + 8, 4);
		if (magic != GW_SLOG_MAGIC || len < GW_SLOG_HDR || len > n - off ||
		    gw_crc32c(0, b + off + 12, len - 12) != crc)
			break;
		memset(&r, 0, sizeof(r));
		r.type = b[off + 12];
		r.level = b[off + 13];
		r.qos = b[off + 14];
		r.opts = b[off + 15];
		memcpy(&r.cid_len, b + off + 16, 2);
		memcpy(&r.name_len, b + off + 18, 2);
		memcpy(&r.u32, b + off + 20, 4);
		memcpy(&r.a, b + off + 24, 8);
		memcpy(&r.b, b + off + 32, 8);
		memcpy(&r.c, b + off + 40, 8);
		/* A record that checks but does not add up is damage, not a
		 * torn write: it stops the reading all the same. */
		if ((uint32_t)GW_SLOG_HDR + r.cid_len + r.name_len != len || r.cid_len == 0 ||
		    r.type == 0 || r.type > GW_SLOG_TYPE_MAX)
			break;
		r.cid = (const char *)b + off + GW_SLOG_HDR;
		r.name = r.name_len ? r.cid + r.cid_len : NULL;
		fn(arg, &r);
		off += len;
	}
	return off;
}

struct counted {
	void (*fn)(void *arg, const struct gw_slog_rec *r);
	void *arg;
	int n;
};

static void
count_one(void *arg, const struct gw_slog_rec *r)
{
	struct counted *c = arg;

	c->n++;
	c->fn(c->arg, r);
}

int
gw_slog_load(const char *path, void (*fn)(void *arg, const struct gw_slog_rec *r), void *arg,
	     size_t *torn)
{
	struct counted c = { fn, arg, 0 };
	struct stat st;
	uint8_t *b;
	size_t used;
	int in, rc = 0;

	*torn = 0;
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(in, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (st.st_size == 0)
		goto out;
	b = malloc((size_t)st.st_size);
	if (b == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (read(in, b, (size_t)st.st_size) != st.st_size) {
		rc = -EIO;
		free(b);
		goto out;
	}
	used = gw_slog_scan(b, (size_t)st.st_size, count_one, &c);
	*torn = (size_t)st.st_size - used;
	free(b);
	rc = c.n;
out:
	close(in);
	return rc;
}

int
gw_slog_begin(struct gw_slog *l, const char *path)
{
	char tmp[PATH_MAX + 8];

	snprintf(l->path, sizeof(l->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	l->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	l->bytes = 0;
	l->dirty = false;
	return l->fd < 0 ? -errno : 0;
}

int
gw_slog_commit(struct gw_slog *l)
{
	char tmp[PATH_MAX + 8];
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", l->path);
	if (fsync(l->fd) < 0 || rename(tmp, l->path) < 0)
		rc = -errno;
	close(l->fd);
	l->fd = -1;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	return l->fd < 0 ? -errno : 0;
}

int
gw_slog_append(struct gw_slog *l, const struct gw_slog_rec *r)
{
	uint8_t buf[GW_SLOG_HDR + 2 * 65536];
	int n;

	if (l->fd < 0)
		return -EBADF;
	n = gw_slog_encode(buf, sizeof(buf), r);
	if (n < 0)
		return n;
	/* One write per record, O_APPEND: a crash leaves whole records and
	 * at most one torn one at the end. */
	if (write(l->fd, buf, (size_t)n) != n)
		return -EIO;
	l->bytes += (uint64_t)n;
	l->dirty = true;
	return 0;
}

void
gw_slog_sync(struct gw_slog *l)
{
	if (l->dirty && l->fd >= 0)
		fdatasync(l->fd);
	l->dirty = false;
}

void
gw_slog_close(struct gw_slog *l)
{
	gw_slog_sync(l);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
