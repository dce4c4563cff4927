/* SPDX-License-Identifier: BSD-3-Clause */
/* Leader epochs in a journal: the epoch appends carry, the history of where each epoch
 * starts, and appends of records copied from a primary (a standby's journal). */

#include <errno.h>
#include <string.h>

#include "journal_internal.h"

void
sl_jepoch_trim(struct sl_journal *j, uint64_t first_seq, uint64_t last_seq)
{
	uint32_t k = 0;

	while (j->n_epochs && j->epochs[j->n_epochs - 1].first_seq > last_seq)
		j->n_epochs--;
	if (j->epoch_last > last_seq)
		j->epoch_last = last_seq;
	/* An entry is still needed while its epoch has a retained record:
	 * while the next entry starts after the first retained one. */
	while (k + 1 < j->n_epochs && j->epochs[k + 1].first_seq <= first_seq)
		k++;
	if (k) {
		memmove(&j->epochs[0], &j->epochs[k], (j->n_epochs - k) * sizeof(j->epochs[0]));
		j->n_epochs -= k;
	}
	if (first_seq > last_seq)
		j->n_epochs = 0;
}

int
sl_journal_set_leader_epoch(struct sl_journal *j, uint32_t epoch)
{
	if (epoch < sl_journal_last_epoch(j))
		return -EINVAL;
	j->epoch = epoch;
	return 0;
}

uint32_t
sl_journal_last_epoch(const struct sl_journal *j)
{
	return j->n_epochs ? j->epochs[j->n_epochs - 1].epoch : 0;
}

uint64_t
sl_journal_epoch_end(const struct sl_journal *j, uint32_t epoch)
{
	uint32_t i;

	if (j->n_epochs == 0 || j->epochs[0].epoch > epoch)
		return 0;
	for (i = 1; i < j->n_epochs && j->epochs[i].epoch <= epoch; i++)
		;
	return i < j->n_epochs ? j->epochs[i].first_seq - 1 : j->epoch_last;
}

int
sl_journal_epoch_get(const struct sl_journal *j, uint32_t i, uint32_t *epoch, uint64_t *first_seq)
{
	if (i >= j->n_epochs)
		return -ENOENT;
	*epoch = j->epochs[i].epoch;
	*first_seq = j->epochs[i].first_seq;
	return 0;
}

/*
 * An empty journal (no record, nothing damaged) starts over at @seq, above
 * every sequence it held. Its segments, all empty, leave it as retention's
 * do (kept for reuse or deleted by the preparer); the next append stamps a
 * prepared spare at @seq. The last one gets its end marker first: a crash
 * before the preparer has removed it leaves a closed, empty segment before
 * the new one, which an open reports as a skipped (torn) range, not damage.
 * No system call but the end marker's persist (a roll's own).
 */
static int
restart_at(struct sl_journal *j, uint64_t seq)
{
	struct seg *s;
	uint64_t end;
	int rc;

	if (j->n_segs) {
		s = &j->segs[j->n_segs - 1];
		if (!s->closed) {
			end = sl_jseg_end(s);
			sl_jcopy(s, s->used, &end, sizeof(end));
			rc = sl_jpersist_range(j, s, s->used, s->used + sizeof(end));
			if (rc < 0) {
				j->damaged = 1;
				return rc;
			}
			s->closed = 1;
		}
		while (j->n_segs) {
			rc = sl_jseg_retire_oldest(j);
			if (rc < 0)
				return -ENOSPC; /* the hand-over ring is full: try again */
		}
		if (!j->conf.prepared_only)
			sl_jchores_run(j);
	}
	j->next_seq = seq;
	j->durable_seq = seq - 1;
	return 0;
}

int
sl_journal_append_replica(struct sl_journal *j, const struct sl_jrec_meta *m, const void *data,
			  uint32_t len)
{
	uint64_t seq;
	uint32_t set;
	int rc;

	if (j->damaged)
		return -EROFS;
	if (m->leader_epoch < sl_journal_last_epoch(j) || m->hdrs_len > len)
		return -EINVAL;
	if (m->seq != j->next_seq) {
		/* Anywhere above what it held, but only when it holds nothing. */
		if (m->seq < j->next_seq || j->n_epochs || j->n_holes || j->batch_first)
			return -ESPIPE;
		rc = restart_at(j, m->seq);
		if (rc < 0)
			return rc;
	}
	/* The record carries the primary's epoch (which may be below the one
	 * set here: a new primary's catch-up of an earlier epoch); later
	 * appends never go below it. */
	set = j->epoch;
	j->epoch = m->leader_epoch;
	rc = sl_journal_append_hdrs(j, data, len, m->hdrs_len, m->timestamp, m->producer_id,
				    m->producer_epoch, m->producer_seq, &seq);
	j->epoch = set > m->leader_epoch ? set : m->leader_epoch;
	return rc;
}
