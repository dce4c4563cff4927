/* SPDX-License-Identifier: BSD-3-Clause */
/* A durable consumer group's state file: two slots, CRC32C, commit word written last. */

#include "group_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpmem.h>

#include <common/proto.h>

/*
 * The commit word rule. Before a save writes a slot it clears the commit
 * word that slot had (or, when the slot held nothing valid, the whole
 * slot), persisted; then it writes header and entries, persisted; then the
 * commit word, persisted. So at any crash a slot holds a commit-like word
 * (high half SL_GSTATE_COMMIT_MAGIC) exactly when its save completed: a
 * slot without one is torn, never damaged; a slot with one that fails any
 * check was committed and then changed: damaged. A word counts as
 * commit-like when its high half is within 8 bits of the magic, so that a
 * flipped byte in the commit word itself still reads as damage. Entries
 * never look like one: a sequence would need to be near 2^62.
 */

#define SLOT_ALIGN 4096u
#define MAX_CAPACITY (1u << 20)
#define UNKNOWN UINT32_MAX

struct slot_hdr {
	uint32_t magic;
	uint32_t version;
	uint64_t generation;
	uint64_t cursor;
	uint32_t n;
	uint32_t crc;
	uint32_t capacity;
	uint32_t flags;
	uint64_t saved_ns;
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct slot_hdr) == SL_GSTATE_HDR, "slot header is 64 bytes");
_Static_assert(offsetof(struct slot_hdr, crc) == 28, "crc at 28");
_Static_assert(offsetof(struct slot_hdr, saved_ns) == 40, "saved_ns at 40");
_Static_assert(sizeof(struct sl_gstate_entry) == 16, "entry is 16 bytes");

struct sl_gstate;
static void rescan(struct sl_gstate *gs);

struct sl_gstate {
	const struct sl_persist_ops *ops;
	uint8_t *base;
	size_t len, slot_bytes;
	uint32_t capacity;
	int is_pmem;
	uint32_t next_slot;    /* the slot the next save writes */
	uint64_t generation;   /* of the newest committed state, 0 if none */
	uint32_t clean_n[2];   /* n of the committed state a slot holds, or UNKNOWN */
	struct sl_gstate_counts counts;
};

static int
name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n != 0 && n <= SL_GSTATE_NAME_MAX && name[0] != '.' && sl_name_chars_ok(name, n);
}

static size_t
slot_bytes_for(uint32_t capacity)
{
	size_t n = SL_GSTATE_HDR + (size_t)capacity * sizeof(struct sl_gstate_entry) + 8;

	return (n + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
}

static int
state_path(char *buf, size_t len, const char *dir, const char *name, const char *suffix)
{
	int n = snprintf(buf, len, "%s/group-%s.state%s", dir, name, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Make the file, all zero (both slots empty), under a temporary name first:
 * a crash leaves either no state file or a whole one. */
static int
create_file(const char *dir, const char *path, const char *tmp, size_t len)
{
	int fd, rc;

	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = posix_fallocate(fd, 0, (off_t)len);
	if (rc != 0) {
		rc = -rc;
		goto fail;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return sl_journal_sync_dir(dir);

fail:
	close(fd);
	unlink(tmp);
	return rc;
}

int
sl_gstate_open(struct sl_gstate **out, const char *dir, const char *name, uint32_t capacity,
	       const struct sl_persist_ops *ops)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct sl_gstate *gs;
	size_t mapped = 0;
	struct stat st;
	int is_pmem = 0, rc;
	void *base;

	if (!name_ok(name) || capacity < 1 || capacity > MAX_CAPACITY)
		return -EINVAL;
	if (state_path(path, sizeof(path), dir, name, "") < 0 ||
	    state_path(tmp, sizeof(tmp), dir, name, ".tmp") < 0)
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		rc = create_file(dir, path, tmp, 2 * slot_bytes_for(capacity));
		if (rc < 0)
			return rc;
	}
	base = pmem_map_file(path, 0, 0, 0, &mapped, &is_pmem);
	if (base == NULL)
		return errno ? -errno : -EIO;
	/* Two page-aligned slots, each with room for its header, at least
	 * one entry and the commit word. */
	if (mapped % (2 * SLOT_ALIGN) != 0 || mapped / 2 < slot_bytes_for(1) ||
	    (mapped / 2 - SL_GSTATE_HDR - 8) / sizeof(struct sl_gstate_entry) > MAX_CAPACITY) {
		pmem_unmap(base, mapped);
		return -EUCLEAN;
	}
	gs = calloc(1, sizeof(*gs));
	if (gs == NULL) {
		pmem_unmap(base, mapped);
		return -ENOMEM;
	}
	gs->ops = ops ? ops : &sl_persist_libpmem;
	gs->base = base;
	gs->len = mapped;
	gs->slot_bytes = mapped / 2;
	gs->capacity = (uint32_t)((gs->slot_bytes - SL_GSTATE_HDR - 8) /
				  sizeof(struct sl_gstate_entry));
	gs->is_pmem = gs->ops->is_pmem(base, mapped) != 0;
	/* Know the newest committed state before any save, so that a save
	 * never overwrites it (sl_gstate_load reads it again). */
	rescan(gs);
	*out = gs;
	return 0;
}

uint32_t
sl_gstate_capacity(const struct sl_gstate *gs)
{
	return gs->capacity;
}

void *
sl_gstate_mapping(const struct sl_gstate *gs, size_t *len)
{
	if (len)
		*len = gs->len;
	return gs->base;
}

void
sl_gstate_counts(const struct sl_gstate *gs, struct sl_gstate_counts *c)
{
	*c = gs->counts;
}

void
sl_gstate_close(struct sl_gstate *gs)
{
	if (gs == NULL)
		return;
	pmem_unmap(gs->base, gs->len);
	free(gs);
}

int
sl_gstate_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (!name_ok(name))
		return -EINVAL;
	if (state_path(path, sizeof(path), dir, name, "") < 0)
		return -ENAMETOOLONG;
	if (unlink(path) < 0)
		return -errno;
	return sl_journal_sync_dir(dir);
}

/* --- slots ------------------------------------------------------------------------ */

static uint8_t *
slot_base(const struct sl_gstate *gs, uint32_t slot)
{
	return gs->base + (size_t)slot * gs->slot_bytes;
}

static uint64_t *
commit_at(const struct sl_gstate *gs, uint32_t slot, uint32_t n)
{
	return (uint64_t *)(slot_base(gs, slot) + SL_GSTATE_HDR +
			    (size_t)n * sizeof(struct sl_gstate_entry));
}

static uint32_t
slot_crc(const uint8_t *s, uint32_t n)
{
	uint32_t c = sl_crc32c(0, s, offsetof(struct slot_hdr, crc));

	c = sl_crc32c(c, s + offsetof(struct slot_hdr, capacity),
		      SL_GSTATE_HDR - offsetof(struct slot_hdr, capacity));
	return sl_crc32c(c, s + SL_GSTATE_HDR, (size_t)n * sizeof(struct sl_gstate_entry));
}

static int
commit_like(uint64_t w)
{
	return __builtin_popcount((uint32_t)(w >> 32) ^ SL_GSTATE_COMMIT_MAGIC) <= 8;
}

/* What slot @slot holds (enum sl_gstate_slot_status); its header into *@h. */
static uint32_t
slot_check(const struct sl_gstate *gs, uint32_t slot, struct slot_hdr *h)
{
	const uint8_t *s = slot_base(gs, slot);
	static const uint8_t zero[SL_GSTATE_HDR];
	uint32_t k, at = UNKNOWN;

	memcpy(h, s, sizeof(*h));
	for (k = 0; k <= gs->capacity; k++) {
		if (commit_like(*commit_at(gs, slot, k))) {
			at = k;
			break;
		}
	}
	if (at == UNKNOWN)
		return memcmp(s, zero, sizeof(zero)) == 0 ? SL_GSTATE_SLOT_EMPTY
							  : SL_GSTATE_SLOT_TORN;
	if (h->magic != SL_GSTATE_MAGIC || h->version != SL_GSTATE_VERSION ||
	    h->capacity != gs->capacity || h->flags != 0 || h->n != at ||
	    *commit_at(gs, slot, at) != SL_GSTATE_COMMIT(h->generation) ||
	    h->generation == 0 || h->crc != slot_crc(s, h->n))
		return SL_GSTATE_SLOT_DAMAGED;
	return SL_GSTATE_SLOT_VALID;
}

/* Check both slots: what each holds, the save target, and the newest
 * valid slot (UNKNOWN when none). */
static uint32_t
scan(struct sl_gstate *gs, struct slot_hdr h[2], uint32_t st[2])
{
	uint32_t i, best = UNKNOWN;

	gs->counts.torn = gs->counts.damaged = 0;
	for (i = 0; i < 2; i++) {
		st[i] = slot_check(gs, i, &h[i]);
		gs->clean_n[i] = st[i] == SL_GSTATE_SLOT_VALID ? h[i].n
			       : st[i] == SL_GSTATE_SLOT_EMPTY ? 0 : UNKNOWN;
		gs->counts.torn += st[i] == SL_GSTATE_SLOT_TORN;
		gs->counts.damaged += st[i] == SL_GSTATE_SLOT_DAMAGED;
		if (st[i] == SL_GSTATE_SLOT_VALID &&
		    (best == UNKNOWN || h[i].generation > h[best].generation))
			best = i;
	}
	gs->generation = best == UNKNOWN ? 0 : h[best].generation;
	gs->next_slot = best == UNKNOWN ? 0 : best ^ 1;
	return best;
}

static void
rescan(struct sl_gstate *gs)
{
	struct slot_hdr h[2];
	uint32_t st[2];

	scan(gs, h, st);
}

int
sl_gstate_load(struct sl_gstate *gs, struct sl_gstate_entry *ents, uint32_t max,
	       struct sl_gstate_info *info)
{
	struct slot_hdr h[2];
	uint32_t st[2], best;
	struct sl_gstate_info local;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	info->capacity = gs->capacity;
	best = scan(gs, h, st);
	info->slot_status[0] = st[0];
	info->slot_status[1] = st[1];
	if (best == UNKNOWN)
		return gs->counts.damaged ? -EUCLEAN : -ENOENT;
	info->generation = h[best].generation;
	info->cursor = h[best].cursor;
	info->saved_ns = h[best].saved_ns;
	info->n = h[best].n;
	info->slot = best;
	if (h[best].n > max)
		return -ENOSPC;
	if (h[best].n)
		memcpy(ents, slot_base(gs, best) + SL_GSTATE_HDR,
		       (size_t)h[best].n * sizeof(*ents));
	return (int)h[best].n;
}

/* Make [@p, @p + @len) of the mapping durable. */
static int
persist(struct sl_gstate *gs, const void *p, size_t len)
{
	if (gs->is_pmem) {
		gs->ops->flush(p, len);
		gs->ops->drain();
		return 0;
	}
	return gs->ops->msync(p, len) < 0 ? -EIO : 0;
}

/* Step one of a save: no commit-like word left in @slot. */
static int
slot_clear(struct sl_gstate *gs, uint32_t slot)
{
	uint32_t n = gs->clean_n[slot];
	uint64_t *c;

	if (n == UNKNOWN) {
		/* Torn, damaged or unknown: its stale words could be
		 * anywhere, so all of it goes. */
		memset(slot_base(gs, slot), 0, gs->slot_bytes);
		return persist(gs, slot_base(gs, slot), gs->slot_bytes);
	}
	c = commit_at(gs, slot, n);
	if (*c == 0)
		return 0;
	__atomic_store_n(c, 0, __ATOMIC_RELAXED);
	return persist(gs, c, sizeof(*c));
}

int
sl_gstate_save(struct sl_gstate *gs, uint64_t cursor, const struct sl_gstate_entry *ents,
	       uint32_t n, uint64_t now_ns)
{
	uint32_t t = gs->next_slot;
	uint8_t *s = slot_base(gs, t);
	struct slot_hdr h;
	int rc;

	if (n > gs->capacity)
		return -ENOSPC;
	rc = slot_clear(gs, t);
	if (rc < 0)
		goto fail;
	/* From here the slot holds no committed state, whatever happens. */
	gs->clean_n[t] = UNKNOWN;
	memset(&h, 0, sizeof(h));
	h.magic = SL_GSTATE_MAGIC;
	h.version = SL_GSTATE_VERSION;
	h.generation = gs->generation + 1;
	h.cursor = cursor;
	h.n = n;
	h.capacity = gs->capacity;
	h.saved_ns = now_ns;
	memcpy(s, &h, sizeof(h));
	if (n)
		memcpy(s + SL_GSTATE_HDR, ents, (size_t)n * sizeof(*ents));
	h.crc = slot_crc(s, n);
	memcpy(s + offsetof(struct slot_hdr, crc), &h.crc, sizeof(h.crc));
	rc = persist(gs, s, SL_GSTATE_HDR + (size_t)n * sizeof(*ents));
	if (rc < 0)
		goto fail;
	/* The commit word, last: one aligned 8-byte store (failure atomic on
	 * persistent memory; inside one page on a file). */
	__atomic_store_n(commit_at(gs, t, n), SL_GSTATE_COMMIT(h.generation), __ATOMIC_RELAXED);
	rc = persist(gs, commit_at(gs, t, n), sizeof(uint64_t));
	if (rc < 0)
		goto fail;
	gs->clean_n[t] = n;
	gs->generation = h.generation;
	gs->next_slot = t ^ 1;
	gs->counts.saves++;
	return 0;

fail:
	/* The other slot still holds the newest committed state: write this
	 * one again next time. */
	gs->counts.save_errors++;
	return rc;
}
