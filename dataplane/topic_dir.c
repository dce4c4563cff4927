/* SPDX-License-Identifier: BSD-3-Clause */
/* A topic's directory under journal_dir: its name, its saved spec, its removal (no EAL). */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <common/cnc.h>
#include <common/clock.h>
#include <common/proto.h>

#include <common/strutil.h>

#include "config.h"
#include "journal.h"
#include "topic_dir.h"

int
sl_topic_dir_name(const char *name, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		int keep = isalnum(c) || c == '_' || c == '-' || (c == '.' && i > 0);

		if (o + (keep ? 1 : 3) >= outlen)
			return -ENAMETOOLONG;
		if (keep) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int
sl_topic_dir_parse_name(const char *dir, char *out, size_t outlen)
{
	size_t o = 0;
	int hi, lo;

	for (; *dir; dir++) {
		char c = *dir;

		if (c == '%') {
			hi = sl_hex_upper_val(dir[1]);
			lo = hi < 0 ? -1 : sl_hex_upper_val(dir[2]);
			if (lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			dir += 2;
		}
		if (o + 1 >= outlen)
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return sl_proto_topic_name_valid(out, o) ? 0 : -EINVAL;
}

/* --- the saved spec ---------------------------------------------------------------------- */

static int
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

int
sl_topic_spec_format(const struct sl_topic_spec *s, char *buf, size_t cap)
{
	int n, m;

	n = snprintf(buf, cap, "# sluice topic spec\nversion = %u\ndurability = %s\n"
		     "backpressure = %s\nretain_bytes = %" PRIu64 "\nretain_age_s = %" PRIu64
		     "\ncapacity_bytes = %" PRIu64 "\n", SL_TOPIC_SPEC_VERSION,
		     sl_durability_name(s->durability), sl_cnc_bp_name(s->backpressure),
		     s->retain_bytes, s->retain_age_s, s->capacity_bytes);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	/* Only when set: a spec without it reads as before. */
	if (s->retransmit_window != SL_CNC_RETX_DEFAULT) {
		m = snprintf(buf + n, cap - (size_t)n, "retransmit_window = %" PRIu32 "\n",
			     s->retransmit_window - 1);
		if (m < 0 || (size_t)(n + m) >= cap)
			return -ENOSPC;
		n += m;
	}
	if (s->max_message != 0) {
		m = snprintf(buf + n, cap - (size_t)n, "max_message = %" PRIu32 "\n",
			     s->max_message);
		if (m < 0 || (size_t)(n + m) >= cap)
			return -ENOSPC;
		n += m;
	}
	m = snprintf(buf + n, cap - (size_t)n, "crc32c = %08" PRIx32 "\n",
		     sl_crc32c(0, buf, (size_t)n));
	if (m < 0 || (size_t)(n + m) >= cap)
		return -ENOSPC;
	return n + m;
}

static int
parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -EINVAL;
}

/* Split "key = value" (@line, NUL terminated, modified) into its halves. */
static int
split(char *line, char **key, char **val)
{
	char *eq = strstr(line, " = ");

	if (eq == NULL || eq == line || eq[3] == '\0')
		return -EINVAL;
	*eq = '\0';
	*key = line;
	*val = eq + 3;
	return 0;
}

enum { K_VERSION, K_DUR, K_BP, K_RETAIN, K_AGE, K_CAP, K_CRC, K_RETX, K_MAXMSG, K_MAX };
static const char *const keys[K_MAX] = { "version", "durability", "backpressure",
					 "retain_bytes", "retain_age_s", "capacity_bytes",
					 "crc32c", "retransmit_window", "max_message" };
#define K_OPTIONAL (1u << K_RETX | 1u << K_MAXMSG) /* keys a spec may leave out */

/* One "key = value" line of version 2 into @s; @seen collects the keys. */
static int
parse_line(char *line, struct sl_topic_spec *s, unsigned *seen, uint32_t *crc, char *err,
	   size_t errlen)
{
	char *k, *v;
	uint64_t u;
	int i, idx;

	if (split(line, &k, &v) < 0)
		return errf(err, errlen, "line '%.40s' is not 'key = value'", line);
	for (idx = 0; idx < K_MAX && strcmp(k, keys[idx]) != 0; idx++)
		;
	if (idx == K_MAX)
		return errf(err, errlen, "unknown key '%.40s'", k);
	if (*seen & 1u << idx)
		return errf(err, errlen, "key '%s' appears twice", k);
	*seen |= 1u << idx;
	switch (idx) {
	case K_VERSION:
		if (parse_u64(v, &u) < 0 || u != SL_TOPIC_SPEC_VERSION)
			return errf(err, errlen, "version '%.20s' is not %u (written by a newer "
				    "sluice?)", v, SL_TOPIC_SPEC_VERSION);
		return 0;
	case K_DUR:
		i = sl_durability_parse(v);
		if (i < 0)
			return errf(err, errlen, "durability '%.20s' is not none, async or sync", v);
		s->durability = (uint8_t)i;
		return 0;
	case K_BP:
		i = sl_cnc_bp_parse(v);
		if (i < 0)
			return errf(err, errlen, "backpressure '%.20s' is not default, drop, block "
				    "or disconnect", v);
		s->backpressure = (uint8_t)i;
		return 0;
	case K_RETX:
		if (parse_u64(v, &u) < 0 || u > SL_CNC_RETX_MAX)
			return errf(err, errlen, "retransmit_window '%.20s' is not 0..%u", v,
				    SL_CNC_RETX_MAX);
		s->retransmit_window = (uint32_t)u + 1;
		return 0;
	case K_MAXMSG:
		if (parse_u64(v, &u) < 0 || u < SL_MAX_PAYLOAD || u > SL_MAX_MESSAGE)
			return errf(err, errlen, "max_message '%.20s' is not %u..%u", v,
				    SL_MAX_PAYLOAD, SL_MAX_MESSAGE);
		s->max_message = (uint32_t)u;
		return 0;
	case K_CRC:
		if (strlen(v) != 8 || strspn(v, "0123456789abcdef") != 8)
			return errf(err, errlen, "crc32c '%.20s' is not 8 hex digits", v);
		*crc = (uint32_t)strtoul(v, NULL, 16);
		return 0;
	default:
		if (parse_u64(v, &u) < 0)
			return errf(err, errlen, "%s '%.30s' is not a number", k, v);
		*(idx == K_RETAIN ? &s->retain_bytes : idx == K_AGE ? &s->retain_age_s
								   : &s->capacity_bytes) = u;
		return 0;
	}
}

/* Version 1: "durability = NAME\n", nothing else. */
static int
parse_v1(const char *buf, size_t len, struct sl_topic_spec *out, char *err, size_t errlen)
{
	char line[64], *k, *v;
	int d;

	if (len >= sizeof(line) || len < 2 || buf[len - 1] != '\n')
		return errf(err, errlen, "not a topic spec (no version line)");
	memcpy(line, buf, len - 1);
	line[len - 1] = '\0';
	if (split(line, &k, &v) < 0 || strcmp(k, "durability") != 0)
		return errf(err, errlen, "not a topic spec (no version line)");
	d = sl_durability_parse(v);
	if (d < 0)
		return errf(err, errlen, "durability '%.20s' is not none, async or sync", v);
	memset(out, 0, sizeof(*out));
	out->durability = (uint8_t)d;
	return 0;
}

int
sl_topic_spec_parse(const char *buf, size_t len, struct sl_topic_spec *out, unsigned *version,
		    char *err, size_t errlen)
{
	static const char head[] = "# sluice topic spec\n";
	struct sl_topic_spec s;
	char line[128];
	size_t off, end, crc_off = 0;
	unsigned seen = 0;
	uint32_t crc = 0;
	int rc;

	if (len > SL_TOPIC_SPEC_MAX)
		return errf(err, errlen, "longer than %u bytes", SL_TOPIC_SPEC_MAX);
	if (memchr(buf, '\0', len) != NULL)
		return errf(err, errlen, "holds a NUL byte");
	if (len < sizeof(head) - 1 || memcmp(buf, head, sizeof(head) - 1) != 0) {
		rc = parse_v1(buf, len, out, err, errlen);
		if (rc == 0 && version)
			*version = 1;
		return rc;
	}
	memset(&s, 0, sizeof(s));
	for (off = sizeof(head) - 1; off < len; off = end + 1) {
		const char *nl = memchr(buf + off, '\n', len - off);

		if (nl == NULL)
			return errf(err, errlen, "the last line is cut short");
		end = (size_t)(nl - buf);
		if (end - off >= sizeof(line))
			return errf(err, errlen, "a line is longer than %zu bytes", sizeof(line) - 1);
		if (seen & 1u << K_CRC)
			return errf(err, errlen, "text after the crc32c line");
		memcpy(line, buf + off, end - off);
		line[end - off] = '\0';
		if (strncmp(line, "crc32c = ", 9) == 0)
			crc_off = off;
		rc = parse_line(line, &s, &seen, &crc, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (!(seen & 1u << K_CRC))
		return errf(err, errlen, "no crc32c line (the file is cut short)");
	if (sl_crc32c(0, buf, crc_off) != crc)
		return errf(err, errlen, "checksum mismatch: the file is damaged");
	if ((seen | K_OPTIONAL) != (1u << K_MAX) - 1)
		return errf(err, errlen, "a key is missing");
	*out = s;
	if (version)
		*version = SL_TOPIC_SPEC_VERSION;
	return 0;
}

/* Read up to SL_TOPIC_SPEC_MAX + 1 bytes of @path into @buf. */
static ssize_t
read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -errno;
	while ((size_t)got < cap && (n = read(fd, buf + got, cap - (size_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			got = -errno;
			break;
		}
		got += n;
	}
	close(fd);
	return got;
}

int
sl_topic_spec_save(const char *dir, const struct sl_topic_spec *s)
{
	char path[PATH_MAX], want[SL_TOPIC_SPEC_MAX], have[SL_TOPIC_SPEC_MAX + 1];
	ssize_t n;
	int len;

	len = sl_topic_spec_format(s, want, sizeof(want));
	if (len < 0)
		return len;
	if (snprintf(path, sizeof(path), "%s/" SL_TOPIC_SPEC_FILE, dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = read_small(path, have, sizeof(have));
	if (n == len && memcmp(have, want, (size_t)len) == 0)
		return 0;
	return sl_file_replace(dir, SL_TOPIC_SPEC_FILE, want, (size_t)len);
}

int
sl_topic_spec_load(const char *dir, struct sl_topic_spec *out, char *err, size_t errlen)
{
	char path[PATH_MAX], buf[SL_TOPIC_SPEC_MAX + 1];
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/" SL_TOPIC_SPEC_FILE, dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return sl_topic_spec_parse(buf, (size_t)n, out, NULL, err, errlen);
}

/* --- removal ------------------------------------------------------------------------------- */

/* Remove @dir and everything under it; best effort, depth-first. */
static int
remove_tree(int parent, const char *name, int depth)
{
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > 8)
		return -errno;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d)) != NULL) {
		int r;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		r = remove_tree(dirfd(d), e->d_name, depth + 1);
		rc = rc < 0 ? rc : r;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int
sl_topic_dir_delete(const char *root, const char *sub)
{
	static unsigned counter;
	char from[PATH_MAX], to[PATH_MAX];
	int rc;

	if (snprintf(from, sizeof(from), "%s/%s", root, sub) >= (int)sizeof(from))
		return -ENAMETOOLONG;
	/* Unique: a name deleted twice before its first tombstone is gone
	 * (removal failed) must not meet it. */
	snprintf(to, sizeof(to), "%s/" SL_TOPIC_TOMBSTONE "%" PRIx64 ".%u", root,
		 sl_wall_ns(), counter++);
	if (rename(from, to) < 0)
		return -errno;
	rc = sl_journal_sync_dir(root);
	if (rc < 0) {
		/* Not known durable: put it back, so that what we report is true. */
		(void)rename(to, from);
		return rc;
	}
	remove_tree(AT_FDCWD, to, 0);
	return 0;
}

int
sl_topic_dir_sweep(const char *root)
{
	struct dirent *e;
	DIR *d = opendir(root);
	int n = 0;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, SL_TOPIC_TOMBSTONE, strlen(SL_TOPIC_TOMBSTONE)) != 0)
			continue;
		if (remove_tree(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		sl_journal_sync_dir(root);
	return n;
}
