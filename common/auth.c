/* SPDX-License-Identifier: BSD-3-Clause */
/* User names, keys as hex, and credentials from files or the environment. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/auth.h>
#include <common/proto.h>

/* Largest credentials file read: it holds two short lines and comments. */
#define CRED_FILE_MAX 8192

/* ---- user names and keys ---- */

/* @n bytes at @s form a valid user name. */
static int
user_valid_n(const char *s, size_t n)
{
	return n != 0 && n < SL_AUTH_USER_LEN && sl_name_chars_ok(s, n);
}

int
sl_auth_user_valid(const char *name)
{
	if (name == NULL)
		return 0;
	return user_valid_n(name, strnlen(name, SL_AUTH_USER_LEN));
}

static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2 * SL_AUTH_KEY_LEN hex digits at @s (@n bytes). */
static int
key_from_hex_n(const char *s, size_t n, uint8_t key[SL_AUTH_KEY_LEN])
{
	uint8_t k[SL_AUTH_KEY_LEN];
	size_t i;

	if (n != 2 * SL_AUTH_KEY_LEN)
		return -EINVAL;
	for (i = 0; i < SL_AUTH_KEY_LEN; i++) {
		int hi = hex_val((unsigned char)s[2 * i]);
		int lo = hex_val((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			explicit_bzero(k, sizeof(k));
			return -EINVAL;
		}
		k[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, k, sizeof(k));
	explicit_bzero(k, sizeof(k));
	return 0;
}

int
sl_auth_key_from_hex(const char *hex, uint8_t key[SL_AUTH_KEY_LEN])
{
	if (hex == NULL)
		return -EINVAL;
	return key_from_hex_n(hex, strnlen(hex, 2 * SL_AUTH_KEY_LEN + 1), key);
}

void
sl_auth_key_to_hex(const uint8_t key[SL_AUTH_KEY_LEN], char hex[2 * SL_AUTH_KEY_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SL_AUTH_KEY_LEN; i++) {
		hex[2 * i] = digits[key[i] >> 4];
		hex[2 * i + 1] = digits[key[i] & 15];
	}
	hex[2 * SL_AUTH_KEY_LEN] = '\0';
}

/* ---- credentials ---- */

__attribute__((format(printf, 4, 5))) static int
cred_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim blanks from both ends of [*s, *s + *n). */
static void
trim(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

struct cred_parse {
	const char *path;
	char user[SL_AUTH_USER_LEN];
	uint8_t key[SL_AUTH_KEY_LEN];
	unsigned have_user, have_key; /* line numbers, 0 when not seen */
};

/* One line without its newline. */
static int
cred_line(struct cred_parse *cp, unsigned lineno, const char *s, size_t n, char *err,
	  size_t errlen)
{
	const char *hash = memchr(s, '#', n);
	const char *eq, *val;
	size_t klen, vlen;

	if (hash)
		n = (size_t)(hash - s);
	trim(&s, &n);
	if (n == 0)
		return 0;
	eq = memchr(s, '=', n);
	if (eq == NULL)
		return cred_err(err, errlen, -EINVAL,
				"%s:%u: expected 'user = NAME' or 'key = HEX'", cp->path, lineno);
	klen = (size_t)(eq - s);
	val = eq + 1;
	vlen = n - klen - 1;
	trim(&s, &klen);
	trim(&val, &vlen);
	if (klen == 4 && memcmp(s, "user", 4) == 0) {
		if (cp->have_user)
			return cred_err(err, errlen, -EINVAL, "%s:%u: user already given on line %u",
					cp->path, lineno, cp->have_user);
		if (!user_valid_n(val, vlen))
			return cred_err(err, errlen, -EINVAL,
					"%s:%u: bad user name: use 1 to %d characters from "
					"A-Z a-z 0-9 . _ -",
					cp->path, lineno, SL_AUTH_USER_LEN - 1);
		memset(cp->user, 0, sizeof(cp->user));
		memcpy(cp->user, val, vlen);
		cp->have_user = lineno;
		return 0;
	}
	if (klen == 3 && memcmp(s, "key", 3) == 0) {
		if (cp->have_key)
			return cred_err(err, errlen, -EINVAL, "%s:%u: key already given on line %u",
					cp->path, lineno, cp->have_key);
		/* The message never quotes the value: it is a secret. */
		if (key_from_hex_n(val, vlen, cp->key) < 0)
			return cred_err(err, errlen, -EINVAL,
					"%s:%u: bad key: it must be %d hex digits (0-9, a-f)",
					cp->path, lineno, 2 * SL_AUTH_KEY_LEN);
		cp->have_key = lineno;
		return 0;
	}
	return cred_err(err, errlen, -EINVAL, "%s:%u: unknown setting '%.*s': expected user or key",
			cp->path, lineno, (int)(klen > 32 ? 32 : klen), s);
}

static int
cred_parse_buf(struct cred_parse *cp, const char *buf, size_t len, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (memchr(p, '\0', n))
			return cred_err(err, errlen, -EINVAL, "%s:%u: NUL byte: not a text file",
					cp->path, lineno);
		rc = cred_line(cp, lineno, p, n, err, errlen);
		if (rc < 0)
			return rc;
		p += n + 1;
	}
	if (!cp->have_user)
		return cred_err(err, errlen, -EINVAL, "%s: no 'user = NAME' line", cp->path);
	if (!cp->have_key)
		return cred_err(err, errlen, -EINVAL, "%s: no 'key = HEX' line (%d hex digits)",
				cp->path, 2 * SL_AUTH_KEY_LEN);
	return 0;
}

/* Read all of @fd (a regular file of at most CRED_FILE_MAX bytes) into @buf. */
static ssize_t
read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
sl_auth_credentials_load(const char *path, char user[SL_AUTH_USER_LEN],
			 uint8_t key[SL_AUTH_KEY_LEN], char *err, size_t errlen)
{
	char buf[CRED_FILE_MAX + 1];
	struct cred_parse cp;
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return cred_err(err, errlen, rc, "%s: no such credentials file", path);
		return cred_err(err, errlen, rc, "%s: cannot open: %s", path, strerror(-rc));
	}
	/* fstat the open file: a check on the path could be raced. */
	if (fstat(fd, &st) < 0) {
		rc = cred_err(err, errlen, -errno, "%s: cannot stat: %s", path, strerror(errno));
		goto out_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cred_err(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out_fd;
	}
	if (st.st_mode & 077) {
		rc = cred_err(err, errlen, -EPERM,
			      "%s: mode %04o lets group or others access the key: "
			      "run 'chmod 600 %s'",
			      path, (unsigned)(st.st_mode & 07777), path);
		goto out_fd;
	}
	n = read_all(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = cred_err(err, errlen, (int)n, "%s: read: %s", path, strerror((int)-n));
		goto out_buf;
	}
	if (n > CRED_FILE_MAX) {
		rc = cred_err(err, errlen, -EINVAL,
			      "%s: larger than %d bytes: not a credentials file", path,
			      CRED_FILE_MAX);
		goto out_buf;
	}
	memset(&cp, 0, sizeof(cp));
	cp.path = path;
	rc = cred_parse_buf(&cp, buf, (size_t)n, err, errlen);
	if (rc == 0) {
		memcpy(user, cp.user, SL_AUTH_USER_LEN);
		memcpy(key, cp.key, SL_AUTH_KEY_LEN);
	}
	explicit_bzero(&cp, sizeof(cp));
out_buf:
	explicit_bzero(buf, sizeof(buf));
out_fd:
	close(fd);
	return rc;
}

int
sl_auth_credentials_env(char user[SL_AUTH_USER_LEN], uint8_t key[SL_AUTH_KEY_LEN], char *err,
			size_t errlen)
{
	const char *path = getenv("SLUICE_CREDENTIALS");
	const char *u = getenv("SLUICE_USER");
	const char *k = getenv("SLUICE_KEY");

	int rc;

	if (path && *path) {
		rc = sl_auth_credentials_load(path, user, key, err, errlen);
		/* -ENOENT means "no credentials given": a named file that is
		 * missing is a mistake to report, not a reason to go on
		 * without authentication. */
		if (rc == -ENOENT)
			rc = cred_err(err, errlen, -EINVAL,
				      "SLUICE_CREDENTIALS=%s: no such file: fix the path or unset it",
				      path);
		return rc;
	}
	if (u && !*u)
		u = NULL;
	if (k && !*k)
		k = NULL;
	if (!u && !k)
		return cred_err(err, errlen, -ENOENT,
				"no credentials: set SLUICE_CREDENTIALS to a credentials file, "
				"or SLUICE_USER and SLUICE_KEY");
	if (!k)
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_USER is set but SLUICE_KEY is not: set both, or neither");
	if (!u)
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_KEY is set but SLUICE_USER is not: set both, or neither");
	if (!sl_auth_user_valid(u))
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_USER: bad user name: use 1 to %d characters from "
				"A-Z a-z 0-9 . _ -",
				SL_AUTH_USER_LEN - 1);
	if (sl_auth_key_from_hex(k, key) < 0)
		return cred_err(err, errlen, -EINVAL,
				"SLUICE_KEY: bad key: it must be %d hex digits (0-9, a-f)",
				2 * SL_AUTH_KEY_LEN);
	memset(user, 0, SL_AUTH_USER_LEN);
	memcpy(user, u, strlen(u));
	return 0;
}
