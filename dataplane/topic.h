/* SPDX-License-Identifier: BSD-3-Clause */
/* Topics on the main lcore: the one way a topic is created, its spec, its journal's limits. */

#ifndef SLUICE_DP_TOPIC_H
#define SLUICE_DP_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include <common/policy.h>

#include "config.h"
#include "route.h"
#include "topic_dir.h"

struct sl_dp;
struct sl_cnc_topic;

/*
 * A topic is created, whoever asks, by sl_dp_topic_create from an explicit
 * spec (struct sl_topic_spec, topic_dir.h): durability, back-pressure,
 * retention and capacity, where SL_CNC_BP_DEFAULT and 0 mean "the
 * dataplane's configuration decides" and are resolved each time they are
 * read, so a changed configuration applies to them at the next start. The
 * spec is kept per topic (sl_dp_topic_spec) and, for a journaled topic,
 * saved beside its journal, where a restart reads it back.
 *
 * Everything here runs on the main lcore, the topic table's only writer.
 */

/* Who asks for a topic: decides what its creation counts and saves. */
enum sl_topic_origin {
	SL_TOPIC_CONFIG,      /* the configuration's topics, at start */
	SL_TOPIC_RELOAD,      /* a journal found at start; @spec is the one saved beside
			       * it, or the rules' when it has none (an older directory) */
	SL_TOPIC_RELOAD_KEEP, /* a journal whose saved spec cannot be read: @spec is the
			       * rules', and the file is left as it is for the operator */
	SL_TOPIC_CONTROL,     /* TOPIC_UPSERT from sluice-control */
	SL_TOPIC_RESOLVE,     /* a client's RESOLVE, with the rules' spec */
};

/*
 * The spec the configuration's rules give topic @name (@len bytes): its
 * durability from durability and durability_rules; back-pressure,
 * retention and capacity left to the configuration (SL_CNC_BP_DEFAULT, 0).
 */
void sl_dp_topic_spec_rules(const struct sl_conf *c, const char *name, size_t len,
			    struct sl_topic_spec *out);

/* The spec a TOPIC_UPSERT or TOPIC_UPDATE command carries. */
void sl_dp_topic_spec_from_cnc(const struct sl_cnc_topic *t, struct sl_topic_spec *out);

/*
 * Find or create topic @name (@len bytes) with @spec. A new topic gets its
 * durability and back-pressure, and for async and sync its journal under
 * journal_dir, opened (and recovered: its sequence continues) before any
 * worker can see the topic, with @spec saved beside it (best effort: a
 * failure is logged and the topic runs; not for SL_TOPIC_RELOAD_KEEP).
 * Then, once it is visible: the authorization table is marked for
 * rebuilding, control and RESOLVE creations are counted (topics_created),
 * and dp->on_topic_created, when set, is told (pattern subscriptions
 * expand to it). An existing topic is left as it is: @spec is not applied
 * (see sl_dp_topic_respec).
 * Sets *id. Returns 1 when created, 0 when it existed, -EINVAL (bad name or
 * spec), -ENOSPC (topic table full), -EBUSY (a deletion of that name is
 * still completing; or, from a RESOLVE, the name of a partitioned topic
 * whose partition NAME#0 exists and whose name control has not restored
 * yet), -ENOMEM, or -errno opening its journal (logged).
 * Main lcore only.
 */
int sl_dp_topic_create(struct sl_dp *dp, const char *name, size_t len,
		       const struct sl_topic_spec *spec, enum sl_topic_origin origin, uint32_t *id);

/* The spec topic @id was created with or last set to, or NULL when there is
 * no such topic. Main lcore only. */
const struct sl_topic_spec *sl_dp_topic_spec(struct sl_dp *dp, uint32_t id);

/*
 * Existing topic @id (active) takes @spec's back-pressure, retransmit
 * window (its owner applies it at the next message), retention and
 * capacity; its durability is not changed (the caller refuses a different
 * one). A journaled topic's saved spec is rewritten first; then its
 * journal's limits change (adopted by the owner at its next retention pass
 * or roll) and its back-pressure byte is set (read by the owner at each
 * delivery). Returns 0, or -errno saving the spec (nothing changed).
 */
int sl_dp_topic_respec(struct sl_dp *dp, uint32_t id, const struct sl_topic_spec *spec);

/* The back-pressure policy of topic @t for SL_CNC_BP_* @code: the one it
 * names, or for SL_CNC_BP_DEFAULT the dataplane's configured rules. */
enum sl_backpressure sl_dp_topic_backpressure(const struct sl_dp *dp, uint8_t code,
					      const struct sl_topic *t);

/* The largest message any topic may take: SL_MAX_MESSAGE, and for a
 * @journaled one what one journal segment holds (a record is one message). */
uint32_t sl_dp_topic_message_cap(const struct sl_conf *c, int journaled);

/* The retransmit window (messages) of a topic whose spec says @code
 * (SL_CNC_RETX_DEFAULT: the configuration's retransmit_window). */
uint32_t sl_dp_topic_retx_window(const struct sl_conf *c, uint32_t code);

/* The journal limits topic @id applies: its spec's, else the configuration's. */
void sl_dp_topic_limits(struct sl_dp *dp, uint32_t id, uint64_t *capacity_bytes,
			uint64_t *retain_bytes, uint64_t *retain_age_s);

/*
 * Remove the journal directory of deleted topic @id, durably (see
 * sl_topic_dir_delete), once its owner has handed its journal over (closed
 * here first), and forget
 * its spec. Returns 0 (also when it had none) or -errno (the directory is
 * still there).
 */
int sl_dp_topic_remove_dir(struct sl_dp *dp, uint32_t id);

/* The journal directory of topic @t under journal_dir (durable topics'
 * journals, their saved spec, their durable groups' files) into @dir.
 * 0, or -ENAMETOOLONG. */
int sl_dp_topic_dir(const struct sl_dp *dp, const struct sl_topic *t, char *dir, size_t len);

/* Free the specs of every topic (at teardown, journals closed). */
void sl_dp_topic_specs_free(struct sl_dp *dp);

#endif /* SLUICE_DP_TOPIC_H */
