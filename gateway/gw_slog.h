/* SPDX-License-Identifier: BSD-3-Clause */
/* The session state log: persistent MQTT sessions' records in an append-only file. */

#ifndef SLUICE_GW_SLOG_H
#define SLUICE_GW_SLOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * STATE_DIR/sessions-NAME.log keeps what a persistent MQTT session needs
 * to survive the gateway (restart, kill -9): the session, its
 * subscriptions and, for each durable topic it subscribes to, its cursor
 * (the broker's topic sequence acknowledged by the client, and the one
 * last sent to it). Messages are not in it: the broker's journal has
 * them. Record layout (little-endian, GW_SLOG_HDR bytes then the client id
 * then the name):
 *
 *   u32 magic 0x31534c53 ("SLS1"), u32 record bytes (header included),
 *   u32 CRC32C of the bytes after this field, u8 type, u8 level, u8 qos,
 *   u8 opts, u16 cid_len, u16 name_len, u32 u32, u64 a, u64 b, u64 c
 *
 * A record that does not check (magic, length, CRC) ends the reading: a
 * torn tail from a crash mid-write loses that record only. The module
 * does files and bytes; what the records mean is gw_persist.c's.
 */

#define GW_SLOG_MAGIC 0x31534c53u
#define GW_SLOG_HDR 48u
#define GW_SLOG_NAME_MAX 65535u

enum gw_slog_type {
	GW_SLOG_SESS = 1,  /* a session: name = user, u32 = expiry s, level */
	GW_SLOG_END = 2,   /* the session is gone */
	GW_SLOG_SUB = 3,   /* a subscription: name = filter, qos, opts, u32 = sub id */
	GW_SLOG_UNSUB = 4, /* name = filter */
	GW_SLOG_CUR = 5,   /* a cursor: name = topic, a = acked, b = sent, c = since
			    * (CLOCK_REALTIME ns, where it starts when a = b = 0) */
	GW_SLOG_AWAY = 6,  /* disconnected since a (CLOCK_REALTIME ns), u32 = expiry s */
	GW_SLOG_TYPE_MAX = 6,
};

struct gw_slog_rec {
	uint8_t type; /* enum gw_slog_type */
	uint8_t level, qos, opts;
	uint16_t cid_len, name_len;
	uint32_t u32;
	uint64_t a, b, c;
	const char *cid;  /* not terminated */
	const char *name; /* not terminated; may be NULL when name_len is 0 */
};

struct gw_slog {
	int fd;		     /* -1: closed (appends are ignored) */
	bool dirty;	     /* appended since the last sync */
	uint64_t bytes;	     /* file size */
	char path[PATH_MAX];
};

/* Encode @r into @buf (@cap bytes). Returns its size, or -ENOSPC. */
int gw_slog_encode(uint8_t *buf, size_t cap, const struct gw_slog_rec *r);

/* Call @fn for each valid record of @buf[0..@n), in order, until the end
 * or the first record that does not check. Returns the bytes of valid
 * records (n when nothing was torn). Pointers in the record point into
 * @buf. */
size_t gw_slog_scan(const uint8_t *buf, size_t n,
		    void (*fn)(void *arg, const struct gw_slog_rec *r), void *arg);

/* Read log @path (a missing file is an empty log) through @fn, as
 * gw_slog_scan. *@torn: bytes after the last valid record. Returns the
 * number of records, or -errno. */
int gw_slog_load(const char *path, void (*fn)(void *arg, const struct gw_slog_rec *r),
		 void *arg, size_t *torn);

/* Start writing a new log for @path (to @path.tmp): append the live state
 * with gw_slog_append, then gw_slog_commit. Returns 0 or -errno. */
int gw_slog_begin(struct gw_slog *l, const char *path);
/* fsync the new file, rename it over the old, and keep appending to it. */
int gw_slog_commit(struct gw_slog *l);
/* Append a record (page cache: a gateway crash keeps it; the disk has it
 * after the next gw_slog_sync). Returns 0 or -errno (-EBADF closed). */
int gw_slog_append(struct gw_slog *l, const struct gw_slog_rec *r);
/* fdatasync when something was appended since the last. */
void gw_slog_sync(struct gw_slog *l);
void gw_slog_close(struct gw_slog *l);

/* CRC32C (Castagnoli), software. */
uint32_t gw_crc32c(uint32_t crc, const void *data, size_t len);

#endif /* SLUICE_GW_SLOG_H */
