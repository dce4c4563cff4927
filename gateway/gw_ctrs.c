/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-mqtt's counters file: the common/ctrs.h layout, one slot, one writer. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/ctrs.h"
#include "common/paths.h"
#include "gw_ctrs.h"

uint64_t gw_ctr[GW_C__N];

static const char *const names[] = {
#define GW_CTR_NAME(n, k) #n,
	GW_CTR_LIST(GW_CTR_NAME)
#undef GW_CTR_NAME
};

#define KIND_C SL_CTRS_K_COUNT
#define KIND_G SL_CTRS_K_GAUGE
static const uint8_t kinds[] = {
#define GW_CTR_KIND(n, k) KIND_##k,
	GW_CTR_LIST(GW_CTR_KIND)
#undef GW_CTR_KIND
};

_Static_assert(GW_C__N <= SL_CTRS_MAX_VALUES, "gateway counters fit one slot");

static struct sl_ctrs_hdr *area;
static size_t area_len;
static uint64_t *vals;
static char path[PATH_MAX];

const char *
gw_ctr_name(unsigned i)
{
	return i < GW_C__N ? names[i] : "?";
}

/* The instance's run directory: /run/sluice/NAME, or the directory of an
 * shm.sock path given instead of a name. */
static int
run_dir(const char *instance, char *out, size_t len)
{
	const char *slash = strrchr(instance, '/');

	if (slash != NULL)
		return snprintf(out, len, "%.*s", (int)(slash - instance), instance) < (int)len
			       ? 0 : -ENAMETOOLONG;
	return snprintf(out, len, SL_RUN_DIR "/%s", instance) < (int)len ? 0 : -ENAMETOOLONG;
}

/* Is the counters file at @p owned by another live process? */
static bool
owned_by_live(const char *p)
{
	const struct sl_ctrs_meta *m;
	struct sl_ctrs_view v;
	struct stat st;
	bool live = false;
	void *base;
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct sl_ctrs_hdr)) {
		base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (base != MAP_FAILED) {
			if (sl_ctrs_view_take(base, (size_t)st.st_size, &v) == 0) {
				m = sl_ctrs_view_slot(&v, 0, NULL, NULL);
				live = m != NULL && (pid_t)m->owner != getpid() &&
				       (kill((pid_t)m->owner, 0) == 0 || errno == EPERM);
				sl_ctrs_view_free(&v);
			}
			munmap(base, (size_t)st.st_size);
		}
	}
	close(fd);
	return live;
}

int
gw_ctrs_open(const char *instance, const char *name)
{
	char dir[PATH_MAX - 64], tmp[PATH_MAX + 8];
	int fd, rc, slot;

	rc = run_dir(instance, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/gw-%s.ctrs", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* One gateway per name and dataplane, as one sluice-control per
	 * socket: a second would overwrite the first's counters. */
	if (owned_by_live(path))
		return -EADDRINUSE;
	area_len = sl_ctrs_area_size(1);
	/* Built under a temporary name and renamed: a reader never maps a
	 * half-formatted file. 0600, as the CnC region: counters are the
	 * operator's. */
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)area_len) < 0)
		goto fail;
	area = mmap(NULL, area_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (area == MAP_FAILED) {
		area = NULL;
		goto fail;
	}
	close(fd);
	rc = sl_ctrs_format(area, area_len, 1);
	if (rc == 0)
		rc = sl_ctrs_type_define(area, 0, "mqtt", names, kinds, GW_C__N);
	slot = rc == 0 ? sl_ctrs_slot_alloc(area, 0, (uint32_t)getpid(), name) : rc;
	if (slot < 0 || rename(tmp, path) < 0) {
		rc = slot < 0 ? slot : -errno;
		munmap(area, area_len);
		area = NULL;
		unlink(tmp);
		return rc;
	}
	vals = sl_ctrs_values(area, slot);
	return 0;
fail:
	rc = -errno;
	close(fd);
	unlink(tmp);
	return rc;
}

void
gw_ctrs_publish(uint64_t now_ns)
{
	unsigned i;

	if (area == NULL)
		return;
	sl_ctrs_sample_begin(area);
	for (i = 0; i < GW_C__N; i++)
		sl_ctrs_set(&vals[i], gw_ctr[i]);
	sl_ctrs_sample_end(area, now_ns);
}

void
gw_ctrs_close(void)
{
	if (area == NULL)
		return;
	unlink(path);
	munmap(area, area_len);
	area = NULL;
}
