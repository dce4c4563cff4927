/* SPDX-License-Identifier: BSD-3-Clause */
/* A durable consumer group's settings file beside its topic's journal: save, load, scan, removal. */

#include "group_spec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <common/proto.h>

#include "group_state.h"
#include "journal.h"

static int
name_ok(const char *name, size_t max)
{
	size_t n = name ? strnlen(name, max) : 0;

	return n != 0 && n < max && n <= SL_GSTATE_NAME_MAX && name[0] != '.' &&
	       sl_name_chars_ok(name, n);
}

static int
file_path(char *out, size_t cap, const char *dir, const char *name, const char *suffix)
{
	int n = snprintf(out, cap, "%s/" SL_GDUR_PREFIX "%s%s", dir, name, suffix);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static void
spec_image(struct sl_gdur_spec_file *f, const struct sl_cnc_group *g)
{
	memset(f, 0, sizeof(*f));
	f->magic = SL_GDUR_SPEC_MAGIC;
	f->version = SL_GDUR_SPEC_VERSION;
	f->g = *g;
	/* A reset is a command, not a setting. */
	f->g.reset_how = 0;
	f->g.reset_arg = 0;
	f->g.reserved = 0;
	f->g.reserved2 = 0;
	f->crc = sl_crc32c(0, f, offsetof(struct sl_gdur_spec_file, crc));
}

/* Read exactly one spec file image from @path: 0, -ENOENT, -EBADMSG (size). */
static int
spec_read(const char *path, struct sl_gdur_spec_file *f)
{
	char extra;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	n = read(fd, f, sizeof(*f));
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != sizeof(*f) || read(fd, &extra, 1) != 0)
		rc = -EBADMSG;
	close(fd);
	return rc;
}

int
sl_gdur_spec_save(const char *dir, const struct sl_cnc_group *g)
{
	char path[PATH_MAX], file[64];
	struct sl_gdur_spec_file want, have;

	if (!name_ok(g->name, sizeof(g->name)))
		return -EINVAL;
	if (file_path(path, sizeof(path), dir, g->name, SL_GDUR_SPEC_SUFFIX) < 0)
		return -ENAMETOOLONG;
	spec_image(&want, g);
	if (spec_read(path, &have) == 0 && memcmp(&have, &want, sizeof(want)) == 0)
		return 0;
	snprintf(file, sizeof(file), SL_GDUR_PREFIX "%s" SL_GDUR_SPEC_SUFFIX, g->name);
	return sl_file_replace(dir, file, &want, sizeof(want));
}

int
sl_gdur_spec_load(const char *dir, const char *name, struct sl_cnc_group *out)
{
	struct sl_gdur_spec_file f;
	char path[PATH_MAX];
	int rc;

	if (!name_ok(name, SL_CNC_GROUP_NAME_LEN))
		return -EINVAL;
	if (file_path(path, sizeof(path), dir, name, SL_GDUR_SPEC_SUFFIX) < 0)
		return -ENAMETOOLONG;
	rc = spec_read(path, &f);
	if (rc < 0)
		return rc;
	if (f.magic != SL_GDUR_SPEC_MAGIC || f.version != SL_GDUR_SPEC_VERSION ||
	    f.reserved != 0 || f.crc != sl_crc32c(0, &f, offsetof(struct sl_gdur_spec_file, crc)))
		return -EBADMSG;
	/* The file names the group: its contents must agree. */
	if (strnlen(f.g.name, sizeof(f.g.name)) == sizeof(f.g.name) || strcmp(f.g.name, name) != 0 ||
	    strnlen(f.g.topic, sizeof(f.g.topic)) == sizeof(f.g.topic) ||
	    strnlen(f.g.dead_letter, sizeof(f.g.dead_letter)) == sizeof(f.g.dead_letter))
		return -EBADMSG;
	*out = f.g;
	return 0;
}

int
sl_gdur_files_remove(const char *dir, const char *name)
{
	static const char *const suffix[] = { SL_GDUR_SPEC_SUFFIX, SL_GDUR_SPEC_SUFFIX ".tmp",
					      ".state", ".state.tmp" };
	char path[PATH_MAX];
	size_t i;
	int rc = 0;

	if (!name_ok(name, SL_CNC_GROUP_NAME_LEN))
		return -EINVAL;
	/* The spec first: a crash after it leaves a state file nothing loads
	 * (a group made again under the name starts from it: the name's
	 * position, as control would expect of a durable group). */
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (file_path(path, sizeof(path), dir, name, suffix[i]) < 0)
			return -ENAMETOOLONG;
		if (unlink(path) < 0 && errno != ENOENT && rc == 0)
			rc = -errno;
	}
	if (rc < 0)
		return rc;
	return sl_journal_sync_dir(dir);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
sl_gdur_spec_scan(const char *dir, sl_gdur_spec_fn fn, void *ctx)
{
	const size_t plen = strlen(SL_GDUR_PREFIX), slen = strlen(SL_GDUR_SPEC_SUFFIX);
	char **names = NULL, **grown;
	size_t n = 0, cap = 0, i;
	struct dirent *e;
	int rc = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l <= plen + slen || strncmp(e->d_name, SL_GDUR_PREFIX, plen) != 0 ||
		    strcmp(e->d_name + l - slen, SL_GDUR_SPEC_SUFFIX) != 0 ||
		    l - plen - slen > SL_GSTATE_NAME_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL) {
				rc = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[n] = strndup(e->d_name + plen, l - plen - slen);
		if (names[n] == NULL) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0 && n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; rc == 0 && i < n; i++) {
		struct sl_cnc_group g;
		int lrc = sl_gdur_spec_load(dir, names[i], &g);

		if (fn(ctx, names[i], lrc == 0 ? &g : NULL, lrc) != 0)
			break;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc < 0 ? rc : (int)n;
}
