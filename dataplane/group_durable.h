/* SPDX-License-Identifier: BSD-3-Clause */
/* Durable consumer groups: snapshots from the owner worker, saves on the main lcore, settings file, restore, retention floor. */

#ifndef SLUICE_DP_GROUP_DURABLE_H
#define SLUICE_DP_GROUP_DURABLE_H

#include <stddef.h>
#include <stdint.h>

#include "group.h"
#include "group_spec.h"
#include "group_state.h"
#include "journal.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A durable group (docs/GROUPS.md 2.4) keeps two files in its topic's
 * journal directory:
 *   group-NAME.state  its position and unacknowledged set (persist/group_state.h)
 *   group-NAME.spec   its settings: struct sl_cnc_group with a CRC32C, so a
 *                     restarted dataplane makes the group again before control
 *                     resends it (temporary file, fsync, rename, fsync of the
 *                     directory).
 *
 * Who does what. The owner worker is the group's only user: at most every
 * SL_GDUR_SNAP_NS, and only when the group changed, it exports the cursor
 * and the unsettled set into one of two preallocated buffers
 * (sl_gdur_snap: no system call, no allocation, at most the buffer's
 * capacity in work). The main lcore saves the newest exported buffer with
 * sl_gstate_save (sl_gdur_flush: msync, a system call). Each buffer has a
 * state (FREE, FILLING, READY, SAVING) changed only by compare-and-swap, so
 * the main lcore never reads a buffer the worker is filling and the worker
 * never writes one being saved; when it finds none it can take, it skips
 * the snapshot (the next one covers it). Snapshots carry a generation: the
 * main lcore never saves one older than a snapshot it saved.
 */

#define SL_GDUR_SNAP_NS (10ull * 1000 * 1000) /* at most one snapshot per 10 ms */
/* --- key hashes ------------------------------------------------------------------ */

/* The hash key affinity uses for a message key of @len bytes (0 bytes:
 * SL_GROUP_NO_KEY; never 0 otherwise). Live offers and restores must use
 * the same. */
uint64_t sl_group_key_hash(const void *key, size_t len);

/* The key hash of the message a journal record holds (its header block's
 * key), SL_GROUP_NO_KEY when it has none or its block does not parse. */
uint64_t sl_gdur_record_key(const struct sl_jrec_view *v);

/* --- one durable group ----------------------------------------------------------- */

struct sl_gdur;

/* Counters (any thread may read; one writer each, as marked). */
struct sl_gdur_stats {
	uint64_t snaps;	      /* worker: snapshots exported */
	uint64_t snap_skipped; /* worker: no buffer free (one being saved, one filling) */
	uint64_t saves;	      /* main: snapshots saved */
	uint64_t save_errors; /* main: sl_gstate_save failed (the next save tries again) */
	uint64_t stale;	      /* main: snapshots dropped, a newer one was saved */
};

/*
 * Main lcore: open (creating) the state file of group @name in @dir with
 * room for @capacity entries (max_inflight + max_blocked) and allocate the
 * two snapshot buffers. An existing file with a smaller capacity is made
 * again at the larger one after its state is read (sl_gdur_load). @retain:
 * the group holds back retention (SL_CNC_GROUP_F_RETAIN). @ops NULL:
 * libpmem. Returns 0, -EINVAL, -ENOMEM or sl_gstate_open's error.
 */
int sl_gdur_open(struct sl_gdur **out, const char *dir, const char *name, uint32_t capacity,
		 int retain, const struct sl_persist_ops *ops);

/* Main lcore, after the owner is done with it. NULL is fine. */
void sl_gdur_close(struct sl_gdur *d);

/* What sl_gdur_load found. */
struct sl_gdur_loaded {
	uint64_t cursor;      /* the next seq to offer (0: none saved) */
	uint32_t n;	      /* unsettled entries loaded (in the load buffer) */
	int rc;		      /* sl_gstate_load's: >= 0, -ENOENT (fresh), -EUCLEAN (lost) */
	uint64_t generation;
};

/*
 * Main lcore, before the group is handed to its owner: read the saved
 * state into the load buffer (sl_gdur_restore reads it). -ENOENT: never
 * saved (a new group); -EUCLEAN: every slot damaged, the position is lost
 * (the group starts at the earliest retained message with a gap event).
 * Returns what sl_gstate_load returned, also in @out.
 */
int sl_gdur_load(struct sl_gdur *d, struct sl_gdur_loaded *out);

/* What a restore did. */
struct sl_gdur_restored {
	uint64_t cursor;	  /* where the group goes on */
	uint32_t restored;	  /* entries put back (sl_group_restore) */
	uint32_t dropped;	  /* saved entries no longer in the journal (retention or
				   * damage): lost, counted gap_lost by the caller */
	uint32_t refused;	  /* sl_group_restore refused (table smaller than saved) */
	int state_lost;		  /* the state file had no valid slot (-EUCLEAN) */
	uint64_t jumped;	  /* messages the cursor jumped over (retention took them) */
	uint64_t gap_first, gap_last; /* the range lost, gap_first > gap_last when none */
};

/*
 * Owner (or the main lcore before the group runs): put the loaded state
 * back into @g, a group made afresh: each saved entry in sequence order
 * with its key hash read from journal @j (sl_gdur_record_key) and its
 * delivery count, due at once; entries the journal no longer holds are
 * dropped. The cursor continues from the saved one, or from the journal's
 * earliest retained sequence when that is later (or the state was lost:
 * -EUCLEAN). @next is the topic's next sequence, the start of a group with
 * no saved state. No system call, no allocation.
 */
void sl_gdur_restore(struct sl_gdur *d, const struct sl_gdur_loaded *ld, struct sl_group *g,
		     struct sl_journal *j, uint64_t next, uint64_t now,
		     struct sl_gdur_restored *out);

/* Owner: sl_gdur_restore from what the last sl_gdur_load read, once:
 * returns 1 the first time after a load (with @out filled), 0 after. */
int sl_gdur_start(struct sl_gdur *d, struct sl_group *g, struct sl_journal *j, uint64_t next,
		  uint64_t now, struct sl_gdur_restored *out);

/*
 * Owner worker: export @g and @cursor into a free buffer when
 * @now >= the last snapshot + SL_GDUR_SNAP_NS and the group changed since
 * (or @force: a reset, a deletion's last word). Returns 1 when a snapshot
 * was exported, 0 when none was due, -EBUSY when no buffer could be taken
 * (counted snap_skipped; the next call tries again), -ENOSPC when the set
 * is over the buffers' capacity (cannot happen with the capacity
 * sl_gdur_open was given for this group's configuration).
 */
int sl_gdur_snap(struct sl_gdur *d, const struct sl_group *g, uint64_t cursor, uint64_t now,
		 int force);

/*
 * Main lcore: save the newest exported snapshot, if one is waiting and it
 * is newer than the last saved (@wall_ns: the save's wall-clock time).
 * Returns 1 when saved, 0 when nothing was waiting, or sl_gstate_save's
 * error (the snapshot is kept for the next call).
 */
int sl_gdur_flush(struct sl_gdur *d, uint64_t wall_ns);

/* Generation of the last snapshot exported and of the last one saved. */
uint64_t sl_gdur_exported_gen(const struct sl_gdur *d);
uint64_t sl_gdur_saved_gen(const struct sl_gdur *d);

/*
 * The group's retention floor: the lowest sequence it may still read, the
 * smaller of the last saved state's (what a restart restores) and the
 * last export's: min(lowest unsettled, cursor). 0 before any snapshot was
 * exported or a start was set. Any thread.
 */
uint64_t sl_gdur_floor(const struct sl_gdur *d);
/* Owner: the group starts (or was reset) at @cursor with nothing unsettled:
 * its floor until the next snapshot. */
void sl_gdur_set_start(struct sl_gdur *d, uint64_t cursor);
int sl_gdur_retain(const struct sl_gdur *d);

void sl_gdur_stats_get(const struct sl_gdur *d, struct sl_gdur_stats *st);

/* The open state file (tools and tests; the main lcore's only). */
struct sl_gstate *sl_gdur_state(struct sl_gdur *d);

/* --- retention arithmetic ------------------------------------------------------------ */

/* min(lowest unsettled, cursor) of an exported set (@ents in sequence
 * order, @n of them); 0 when @cursor is 0 and there is nothing. */
uint64_t sl_gdur_floor_of(uint64_t cursor, const struct sl_group_unacked *ents, uint32_t n);

/*
 * A group whose cursor fell behind the journal's earliest retained
 * sequence @first: returns 1 with the lost range @cursor..@first - 1 in
 * *@lo, *@hi (the gap event: the cursor jumps to @first, gap_lost counts
 * hi - lo + 1, members get ERROR SL_E_GAP_LOST), else 0.
 */
int sl_gdur_gap(uint64_t cursor, uint64_t first, uint64_t *lo, uint64_t *hi);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_DP_GROUP_DURABLE_H */
