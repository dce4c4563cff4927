/* SPDX-License-Identifier: BSD-3-Clause */
/* journal.meta: the journal's segment size, creation time, last sequence at a clean close
 * and a truncation in progress, kept in two checked copies. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_internal.h"

/* --- journal.meta ---------------------------------------------------------------------- */

static int
meta_valid(const struct meta *m)
{
	return m->magic == SL_JOURNAL_MAGIC && m->version == META_VERSION &&
	       m->size == sizeof(*m) && m->segment_bytes >= 65536 &&
	       m->crc == sl_crc32c(0, m, offsetof(struct meta, crc));
}

/* Write journal.meta whole or not at all: two copies, a temporary file
 * renamed into place. @durable: also sync the directory, so the new file is
 * the one found after a crash (not needed when the old one, a lower bound
 * on the last sequence, will do). */
int
sl_jmeta_write(struct sl_journal *j, uint64_t created_ns, uint64_t last_seq, uint64_t trunc,
	       int durable)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	struct meta m[2];
	int fd, rc = 0;

	memset(m, 0, sizeof(m));
	m[0].magic = SL_JOURNAL_MAGIC;
	m[0].version = META_VERSION;
	m[0].size = sizeof(m[0]);
	m[0].segment_bytes = j->seg_bytes;
	m[0].created_ns = created_ns;
	m[0].last_seq = last_seq;
	m[0].trunc = trunc;
	m[0].crc = sl_crc32c(0, &m[0], offsetof(struct meta, crc));
	m[1] = m[0];
	snprintf(path, sizeof(path), "%s/" META_NAME, j->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, m, sizeof(m)) != (ssize_t)sizeof(m) || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0 && durable)
		rc = sl_journal_sync_dir(j->dir);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/*
 * Read journal.meta: sets j->seg_bytes, j->meta_last and *created.
 * Returns 0, 1 when it is missing, 2 when it is unusable (rec says why),
 * or -errno.
 */
int
sl_jmeta_load(struct sl_journal *j, struct sl_journal_recovery *rec, uint64_t *created)
{
	char path[PATH_MAX + 32];
	uint8_t buf[2 * sizeof(struct meta) + 1];
	struct meta m[2];
	struct meta_v1 v1;
	int ok[2], fd, k;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/" META_NAME, j->dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	memset(m, 0, sizeof(m));
	memcpy(m, buf, (size_t)n < sizeof(m) ? (size_t)n : sizeof(m));
	for (k = 0; k < 2; k++)
		ok[k] = n == (ssize_t)sizeof(m) && meta_valid(&m[k]);
	if (ok[0] || ok[1]) {
		k = ok[0] ? 0 : 1;
		if (!ok[0] || !ok[1]) {
			rec->meta_damaged = 1;
			snprintf(rec->meta_note, sizeof(rec->meta_note), META_NAME ": copy %d of 2 "
				 "fails its checksum; copy %d is used (rewritten at the next clean"
				 " close)", 2 - k, k + 1);
		}
		j->seg_bytes = m[k].segment_bytes;
		j->meta_last = ok[0] && ok[1] && m[1].last_seq > m[0].last_seq ? m[1].last_seq
										: m[k].last_seq;
		*created = m[k].created_ns;
		/* An intent says keep = last_seq (written together): anything
		 * else in the field is not one. */
		j->trunc_pending = m[k].trunc == m[k].last_seq + 1 ? m[k].trunc : 0;
		return 0;
	}
	if (n == (ssize_t)sizeof(v1)) { /* written before the two copies */
		memcpy(&v1, buf, sizeof(v1));
		if (v1.magic == SL_JOURNAL_MAGIC && v1.version == 1 &&
		    v1.crc == sl_crc32c(0, &v1, offsetof(struct meta_v1, crc)) &&
		    v1.segment_bytes >= 65536) {
			j->seg_bytes = v1.segment_bytes;
			*created = v1.created_ns;
			return 0;
		}
	}
	rec->meta_damaged = 2;
	snprintf(rec->meta_note, sizeof(rec->meta_note), META_NAME ": %s; rebuilt from the "
		 "segment headers", n != (ssize_t)sizeof(m) && n != (ssize_t)sizeof(v1)
		 ? "wrong size" : "both copies fail their checksum");
	return 2;
}

/* The segment size the segment files were made with: from the first header
 * that holds, else from the size of the first full-looking file. */
uint64_t
sl_jmeta_rebuild_seg_bytes(struct sl_journal *j, const uint64_t *firsts, uint32_t n)
{
	char path[PATH_MAX + 32];
	uint64_t guess = 0;
	struct seg_hdr h;
	struct stat st;
	uint32_t i;
	int fd;

	for (i = 0; i < n; i++) {
		sl_jseg_path(j, firsts[i], path, sizeof(path));
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) && h.magic == SL_JOURNAL_MAGIC &&
		    h.crc == sl_jseg_hdr_crc(&h) &&
		    h.segment_bytes >= 65536) {
			close(fd);
			return h.segment_bytes;
		}
		if (guess == 0 && fstat(fd, &st) == 0 && st.st_size >= 65536 && st.st_size % 4096 == 0)
			guess = (uint64_t)st.st_size;
		close(fd);
	}
	return guess ? guess : j->conf.segment_bytes;
}
