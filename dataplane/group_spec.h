/* SPDX-License-Identifier: BSD-3-Clause */
/* A durable consumer group's settings file beside its topic's journal: save, load, scan, removal. */

#ifndef SLUICE_DP_GROUP_SPEC_H
#define SLUICE_DP_GROUP_SPEC_H

#include <stdint.h>

#include <common/cnc.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * group-NAME.spec in the topic's journal directory holds a durable group's
 * settings, so that a restarted dataplane makes the group again before
 * control resends it (control's resend is an upsert: the same settings
 * change nothing). Written durably: group-NAME.spec.tmp, fsync, rename,
 * fsync of the directory. (No group engine here: common/proto.h, which
 * this uses, and dataplane/group.h do not go in one file.)
 */

#define SL_GDUR_SPEC_MAGIC 0x50534753u		/* "SGSP" */
#define SL_GDUR_SPEC_VERSION 1u
#define SL_GDUR_PREFIX "group-"
#define SL_GDUR_SPEC_SUFFIX ".spec"

/* --- the settings file ----------------------------------------------------------- */

/* group-NAME.spec, little-endian: u32 magic, u32 version, struct
 * sl_cnc_group (CnC version 4 layout, reset fields zero), u32 crc32c of
 * everything before it, u32 zero. */
struct sl_gdur_spec_file {
	uint32_t magic;
	uint32_t version;
	struct sl_cnc_group g;
	uint32_t crc;
	uint32_t reserved;
};

/* Save @g's settings beside its topic's journal in @dir (unchanged file:
 * nothing written). 0, -EINVAL (bad name) or -errno. */
int sl_gdur_spec_save(const char *dir, const struct sl_cnc_group *g);

/* Load group @name's settings from @dir. 0, -ENOENT, -EBADMSG (damaged:
 * wrong size, magic, version, CRC, or a name that is not @name) or -errno. */
int sl_gdur_spec_load(const char *dir, const char *name, struct sl_cnc_group *out);

/* Group deletion: remove group-NAME.spec and group-NAME.state from @dir,
 * durably (the directory synced). 0 (also when neither existed) or -errno. */
int sl_gdur_files_remove(const char *dir, const char *name);

/*
 * Every group-*.spec in @dir, in name order: @fn is called with the
 * settings (rc 0) or with NULL and the load error (a damaged file: the
 * group cannot be made again, the caller says so). A non-zero return from
 * @fn stops the scan. Returns the number of files found, or -errno.
 */
typedef int (*sl_gdur_spec_fn)(void *ctx, const char *name, const struct sl_cnc_group *g,
			       int rc);
int sl_gdur_spec_scan(const char *dir, sl_gdur_spec_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_DP_GROUP_SPEC_H */
