/* SPDX-License-Identifier: BSD-3-Clause */
/* The command-and-control region shared by sluice-control and the dataplane. */

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <common/cnc.h>
#include <common/clock.h>
#include <common/ctrs.h>

_Static_assert(sizeof(struct sl_cnc_cmd) == SL_CNC_CMD_SIZE, "command entry");
_Static_assert(sizeof(struct sl_cnc_hdr) == 128, "cnc header");
_Static_assert(sizeof(struct sl_cnc_topic) == SL_CNC_NAME_LEN + 72, "cnc topic");
_Static_assert(offsetof(struct sl_cnc_topic, moved_addr) == SL_CNC_NAME_LEN + 40,
	       "cnc topic: the moved mark took bytes after the old end (zero from older senders)");
_Static_assert(offsetof(struct sl_cnc_topic, partitions) == SL_CNC_NAME_LEN + 36,
	       "cnc topic partitions (version 5)");
_Static_assert(offsetof(struct sl_cnc_topic, max_message) == SL_CNC_NAME_LEN + 32,
	       "cnc topic: max_message took bytes after the old end (zero from older senders)");
_Static_assert(offsetof(struct sl_cnc_topic, backpressure) == SL_CNC_NAME_LEN + 1,
	       "cnc topic: backpressure took the first reserved byte");
_Static_assert(offsetof(struct sl_cnc_topic, retransmit_window) == SL_CNC_NAME_LEN + 4,
	       "cnc topic retransmit window");
_Static_assert(offsetof(struct sl_cnc_topic, retain_bytes) == SL_CNC_NAME_LEN + 8,
	       "cnc topic: layout after the reserved bytes unchanged");
_Static_assert(sizeof(struct sl_cnc_ring) == 128, "cnc ring indices");
_Static_assert(sizeof(struct sl_cnc_result) == 128, "cnc result");
_Static_assert((SL_CNC_RING_ENTRIES & (SL_CNC_RING_ENTRIES - 1)) == 0, "ring size");

struct sl_cnc {
	uint8_t *base;
	size_t size;
	int owner; /* the dataplane: removes the file on close */
	char path[PATH_MAX];
	struct sl_cnc_hdr *hdr;
	struct sl_cnc_ring *cmd_ring, *res_ring;
	struct sl_cnc_cmd *cmds;
	struct sl_cnc_result *res;
	struct sl_ctrs_hdr *ctrs;
};

#define OFF_CMD_RING 128u
#define OFF_RES_RING (OFF_CMD_RING + sizeof(struct sl_cnc_ring))
#define OFF_HA 1024u /* struct sl_cnc_ha, after the two rings */
#define OFF_CMDS 4096u
_Static_assert(OFF_HA + sizeof(struct sl_cnc_ha) <= OFF_CMDS, "CnC HA block fits");
#define OFF_RES (OFF_CMDS + SL_CNC_RING_ENTRIES * sizeof(struct sl_cnc_cmd))
#define OFF_CTRS (OFF_RES + SL_CNC_RING_ENTRIES * sizeof(struct sl_cnc_result))
#define TOTAL(slots, hs, hw) (OFF_CTRS + sl_ctrs_area_size_h((slots), (hs), (hw)))

/* SL_RUN_DIR/NAME into @out, for a valid instance @name. */
static int
run_dir_path(const char *name, char *out, size_t len)
{
	if (name[0] == '\0' || strchr(name, '/') || strlen(name) > 64)
		return -EINVAL;
	if ((size_t)snprintf(out, len, "%s/%s", SL_RUN_DIR, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int
sl_cnc_run_dir(const char *name, char *out, size_t len)
{
	int rc = run_dir_path(name, out, len);

	if (rc < 0)
		return rc;
	if (mkdir(SL_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	/* 0750: members of the admin socket's group must reach it here. */
	if (mkdir(out, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
cnc_path(const char *name, char *out, size_t len, int make_dir)
{
	char dir[PATH_MAX];
	int rc = make_dir ? sl_cnc_run_dir(name, dir, sizeof(dir))
			  : run_dir_path(name, dir, sizeof(dir));

	if (rc < 0)
		return rc;
	if ((size_t)snprintf(out, len, "%.*s/cnc", (int)(len - 8), dir) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void
bind_layout(struct sl_cnc *c)
{
	c->hdr = (struct sl_cnc_hdr *)c->base;
	c->cmd_ring = (struct sl_cnc_ring *)(c->base + OFF_CMD_RING);
	c->res_ring = (struct sl_cnc_ring *)(c->base + OFF_RES_RING);
	c->cmds = (struct sl_cnc_cmd *)(c->base + OFF_CMDS);
	c->res = (struct sl_cnc_result *)(c->base + OFF_RES);
	c->ctrs = (struct sl_ctrs_hdr *)(c->base + OFF_CTRS);
}

int
sl_cnc_create(struct sl_cnc **out, const char *name, uint32_t ctr_slots)
{
	return sl_cnc_create_h(out, name, ctr_slots, 0, 0);
}

int
sl_cnc_create_h(struct sl_cnc **out, const char *name, uint32_t ctr_slots, uint32_t hist_slots,
		uint32_t hist_workers)
{
	size_t total = TOTAL(ctr_slots, hist_slots, hist_workers);
	struct sl_cnc *c;
	char tmp[PATH_MAX + 8];
	int fd, rc;

	if (ctr_slots == 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	rc = cnc_path(name, c->path, sizeof(c->path), 1);
	if (rc < 0)
		goto fail;
	/* Built in a temporary file and renamed: an attaching control process
	 * never sees a half-initialised region. */
	snprintf(tmp, sizeof(tmp), "%s.new", c->path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (ftruncate(fd, (off_t)total) < 0) {
		rc = -errno;
		close(fd);
		goto fail_unlink;
	}
	c->base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c->base == MAP_FAILED) {
		rc = -errno;
		goto fail_unlink;
	}
	c->size = total;
	c->owner = 1;
	bind_layout(c);
	c->hdr->version = SL_CNC_VERSION;
	c->hdr->hdr_size = sizeof(struct sl_cnc_hdr);
	c->hdr->total_size = total;
	c->hdr->cmd_ring_off = OFF_CMD_RING;
	c->hdr->cmd_off = OFF_CMDS;
	c->hdr->res_ring_off = OFF_RES_RING;
	c->hdr->res_off = OFF_RES;
	c->hdr->ctrs_off = OFF_CTRS;
	c->hdr->ha_off = OFF_HA;
	sl_ctrs_format_h(c->ctrs, total - OFF_CTRS, ctr_slots, hist_slots, hist_workers);
	c->hdr->dp_pid = getpid();
	c->hdr->dp_start_ns = sl_wall_ns();
	c->hdr->dp_heartbeat_ns = c->hdr->dp_start_ns;
	/* Release: the layout is complete before the magic says so. */
	__atomic_store_n(&c->hdr->magic, SL_CNC_MAGIC, __ATOMIC_RELEASE);
	if (rename(tmp, c->path) < 0) {
		rc = -errno;
		munmap(c->base, total);
		goto fail_unlink;
	}
	*out = c;
	return 0;
fail_unlink:
	unlink(tmp);
fail:
	free(c);
	return rc;
}

/* Does the mapped region @c speak this version and layout? */
static int
layout_check(struct sl_cnc *c, uint32_t *found_version)
{
	/* Acquire: pairs with the release store of the magic in create. */
	if (__atomic_load_n(&c->hdr->magic, __ATOMIC_ACQUIRE) != SL_CNC_MAGIC)
		return -EPROTO;
	if (found_version)
		*found_version = c->hdr->version;
	if (c->hdr->version != SL_CNC_VERSION || c->hdr->total_size != c->size ||
	    c->hdr->cmd_off != OFF_CMDS || c->hdr->res_off != OFF_RES ||
	    c->hdr->ctrs_off != OFF_CTRS || c->hdr->ha_off != OFF_HA)
		return -EPROTO;
	return sl_ctrs_check(c->ctrs, c->size - OFF_CTRS, NULL) < 0 ? -EPROTO : 0;
}

int
sl_cnc_attach(struct sl_cnc **out, const char *name, uint32_t *found_version)
{
	struct sl_cnc *c;
	struct stat st;
	int fd, rc;

	if (found_version)
		*found_version = 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	rc = cnc_path(name, c->path, sizeof(c->path), 0);
	if (rc < 0)
		goto fail;
	fd = open(c->path, O_RDWR);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct sl_cnc_hdr)) {
		rc = -EPROTO;
		close(fd);
		goto fail;
	}
	c->size = (size_t)st.st_size;
	c->base = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c->base == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	bind_layout(c);
	if (c->size <= OFF_CTRS + sizeof(struct sl_ctrs_hdr)) {
		/* Too small for this layout: only the header is safe to read. */
		if (__atomic_load_n(&c->hdr->magic, __ATOMIC_ACQUIRE) == SL_CNC_MAGIC &&
		    found_version)
			*found_version = c->hdr->version;
		rc = -EPROTO;
		munmap(c->base, c->size);
		goto fail;
	}
	rc = layout_check(c, found_version);
	if (rc < 0) {
		munmap(c->base, c->size);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	free(c);
	return rc;
}

void
sl_cnc_close(struct sl_cnc *c)
{
	if (c == NULL)
		return;
	if (c->owner) {
		char dir[PATH_MAX], *slash;

		unlink(c->path);
		/* The instance directory goes too once empty (control's socket
		 * may still be in it: then it stays). */
		snprintf(dir, sizeof(dir), "%s", c->path);
		slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			rmdir(dir);
		}
	}
	munmap(c->base, c->size);
	free(c);
}

struct sl_cnc_hdr *
sl_cnc_hdr(struct sl_cnc *c)
{
	return c->hdr;
}

struct sl_cnc_ha *
sl_cnc_ha(struct sl_cnc *c)
{
	return (struct sl_cnc_ha *)((uint8_t *)c->base + OFF_HA);
}

/*
 * Single-producer single-consumer ring over shared memory. The producer
 * writes the entry, then publishes head with release; the consumer reads
 * head with acquire, copies the entry, then frees it with a release store
 * of tail, which the producer reads with acquire before reusing the slot.
 */
static int
ring_push(struct sl_cnc_ring *r, void *slots, size_t esize, const void *e)
{
	uint64_t head = r->head;
	uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

	if (head - tail >= SL_CNC_RING_ENTRIES)
		return -EAGAIN;
	memcpy((uint8_t *)slots + (head % SL_CNC_RING_ENTRIES) * esize, e, esize);
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	return 0;
}

static int
ring_pop(struct sl_cnc_ring *r, const void *slots, size_t esize, void *out)
{
	uint64_t tail = r->tail;
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);

	if (head == tail)
		return 0;
	if (head - tail > SL_CNC_RING_ENTRIES) {
		/* A corrupt index from the other side: resynchronise, never
		 * read outside the ring. */
		__atomic_store_n(&r->tail, head, __ATOMIC_RELEASE);
		return 0;
	}
	memcpy(out, (const uint8_t *)slots + (tail % SL_CNC_RING_ENTRIES) * esize, esize);
	__atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
	return 1;
}

int
sl_cnc_cmd_push(struct sl_cnc *c, struct sl_cnc_cmd *cmd, uint64_t *id)
{
	cmd->id = c->cmd_ring->head + 1;
	if (id)
		*id = cmd->id;
	return ring_push(c->cmd_ring, c->cmds, sizeof(*cmd), cmd);
}

int
sl_cnc_cmd_pop(struct sl_cnc *c, struct sl_cnc_cmd *out)
{
	int rc = ring_pop(c->cmd_ring, c->cmds, sizeof(*out), out);

	if (rc == 1) {
		/* Strings from the other process are terminated here, once. */
		out->u.topic.name[SL_CNC_NAME_LEN - 1] = '\0';
		if (out->type == SL_CNC_USER_UPSERT)
			out->u.user.name[sizeof(out->u.user.name) - 1] = '\0';
		if (out->type == SL_CNC_ACL_SET)
			out->u.acl.pattern[SL_CNC_NAME_LEN - 1] = '\0';
	}
	return rc;
}

int
sl_cnc_result_push(struct sl_cnc *c, const struct sl_cnc_result *r)
{
	return ring_push(c->res_ring, c->res, sizeof(*r), r);
}

int
sl_cnc_result_pop(struct sl_cnc *c, struct sl_cnc_result *out)
{
	int rc = ring_pop(c->res_ring, c->res, sizeof(*out), out);

	if (rc == 1)
		out->message[sizeof(out->message) - 1] = '\0';
	return rc;
}

struct sl_ctrs_hdr *
sl_cnc_ctrs(struct sl_cnc *c)
{
	return c->ctrs;
}

size_t
sl_cnc_ctrs_size(struct sl_cnc *c)
{
	return c->size - OFF_CTRS;
}

int
sl_cnc_say(struct sl_cnc_result *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	r->rc = rc;
	return rc;
}
