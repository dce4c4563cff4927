/* SPDX-License-Identifier: BSD-3-Clause */
/* Dataplane counters: event counters and drop reasons, one block per worker. */

#ifndef SLUICE_DP_COUNTERS_H
#define SLUICE_DP_COUNTERS_H

#include <stdint.h>

/*
 * Each worker owns one struct sl_counters and is its only writer; readers
 * (telemetry thread) load the words with relaxed atomics and may see a
 * slightly stale but never torn value: every counter is one aligned 64-bit
 * word.
 */

#define SL_CTR_LIST(X)                                                               \
	X(rx_pkts) X(rx_bytes) X(tx_pkts) X(tx_bytes) X(frames) X(hellos)                 \
	X(welcomes) X(resolves) X(topics_created) X(subscribes) X(unsubscribes)        \
	X(publishes) X(delivers) X(acks) X(errors_sent) X(heartbeats) X(goodbyes)      \
	X(sessions_opened) X(sessions_closed) X(sessions_expired) X(arp_replies)       \
	X(handoff_out) X(handoff_in) X(idle_sleeps) X(polls) X(journal_appends)        \
	X(journal_syncs) X(replayed) X(replays_started) X(challenges)                \
	X(auth_ok) X(auth_aesgcm) X(cnc_commands) X(shm_attached) X(shm_detached)         \
	X(shm_rx_frames)                                                               \
	X(shm_tx_frames) X(bp_held) X(replay_gaps) X(version_refused) X(nak_received)   \
	X(nak_limited) X(retransmitted) X(gap_lost) X(status_sent) X(credit_drops)      \
	X(slow_consumer_cuts) X(tx_batched) X(retx_evicted)   \
	X(producers_bound) X(dup_publishes) X(frags_received) X(frag_dups) X(large_messages)   \
	X(deliver_frags) X(sealed_rx) X(sealed_tx) X(subs_revoked) X(sessions_revoked)  \
	X(hdrs_stripped) X(filter_skipped) X(skips_sent) X(bad_headers) X(no_group)

#define SL_DROP_LIST(X)                                                              \
	X(not_ipv4) X(arp_ignored) X(ip_header) X(ip_fragment) X(not_for_us)             \
	X(not_udp) X(wrong_port) X(udp_length) X(truncated) X(bad_length)              \
	X(bad_version) X(unknown_type) X(oversize) X(bad_field) X(no_session)          \
	X(unknown_topic) X(unexpected_type) X(ring_full) X(no_mbuf) X(tx_full)         \
	X(session_table_full) X(sub_table_full) X(topic_table_full) X(slow_path_full)  \
	X(journal_full) X(journal_damaged) X(no_journal) X(replay_busy) X(extra_hello)   \
	X(auth_required) X(auth_failed) X(mac_missing) X(bad_mac) X(mac_replay) X(denied)    \
	X(user_revoked) X(rate_limited) X(shm_bad_attach) X(shm_no_slot) X(shm_corrupt)   \
	X(shm_slow_cut) X(shm_gone) X(shm_ring_full) X(shm_held_back) X(backpressure)    \
	X(bp_overflow) X(nak_bad) X(credit_bad) X(producer_fenced) X(producer_out_of_order)      \
	X(producer_table_full) X(frag_too_big) X(frag_no_budget) X(frag_timeout) X(frag_refused) \
	X(hello_short) X(cookie_bad) X(cookie_stale) X(auth_stale) X(seal_inner_bad)     \
	X(seal_no_keys) X(encryption_required) X(seal_seq_end) \
	X(psub_table_full)

/*
 * The blocks the counters area of the CnC region carries besides the two
 * lists above (docs/COUNTERS.md): each entry is (label, kind), the kind an
 * enum sl_ctrs_kind suffix (common/ctrs.h). These lists are the only
 * description of the stats: sluice-control, /metrics and sluicectl take
 * the labels from the area, which the dataplane fills from here.
 */
#define SL_STATS_DP_LIST(X)                                                           \
	X(pid, ID) X(start_ns, NS) X(auth_required, BOOL) X(idle, IDLE)                 \
	X(topic_slots_full, COUNT) X(hist_no_slot, COUNT)

#define SL_STATS_WORKER_LIST(X)                                                       \
	X(lcore, ID) X(port, ID) X(queue, ID) X(rx_pkts, COUNT) X(tx_pkts, COUNT)      \
	X(sessions, GAUGE)

#define SL_STATS_PORT_LIST(X)                                                         \
	X(ipackets, COUNT) X(opackets, COUNT) X(imissed, COUNT) X(ierrors, COUNT)

/* A consumer group ("group", key "TOPIC GROUP") and one of its members
 * ("gmember", key "TOPIC GROUP MEMBERID"): docs/COUNTERS.md. */
#define SL_STATS_GROUP_LIST(X)                                                        \
	X(members, GAUGE) X(inflight, GAUGE) X(pending, GAUGE) X(cursor, ID)            \
	X(offered, COUNT) X(delivered, COUNT) X(redelivered, COUNT) X(acked, COUNT)     \
	X(nacked, COUNT) X(dead_lettered, COUNT) X(dead_dropped, COUNT)                 \
	X(ack_not_held, COUNT) X(blocked_full, COUNT) X(no_credit, COUNT)               \
	X(filter_skipped, COUNT) X(gap_lost, COUNT) X(too_large, COUNT)                 \
	X(reset_dropped, COUNT)

#define SL_STATS_GMEMBER_LIST(X)                                                      \
	X(state, GAUGE) X(outstanding, GAUGE) X(credit, GAUGE) X(delivered, COUNT)     \
	X(acked, COUNT) X(nacked, COUNT) X(session, ID)

#define SL_STATS_TOPIC_LIST(X)                                                        \
	X(subscribers, GAUGE) X(published, COUNT) X(delivered, COUNT) X(dropped, COUNT) \
	X(seq, GAUGE) X(journal_first, GAUGE) X(journal_durable, GAUGE)                 \
	X(journal_bytes, GAUGE) X(journal_full, COUNT) X(replay_gaps, COUNT)           \
	X(retain_bytes, GAUGE) X(retain_age_s, GAUGE) X(capacity_bytes, GAUGE)          \
	X(durability, DURABILITY) X(backpressure, BACKPRESSURE) X(deleted, BOOL)

/*
 * Replication of a pair member ("repl", one slot, only with ha.peer:
 * docs/COUNTERS.md, docs/REPLICATION.md). Written by the replication worker
 * (struct sl_repl.ctr, sl_repl_count); repl_* count events, drop_repl_*
 * datagrams or frames refused, each for the reason its label names.
 */
#define SL_STATS_REPL_LIST(X)                                                         \
	X(repl_dgrams_sent, COUNT) X(repl_dgrams_received, COUNT)                     \
	X(repl_hb_sent, COUNT) X(repl_hb_received, COUNT)                             \
	X(repl_topics_announced, COUNT) X(repl_records_sent, COUNT)                   \
	X(repl_bytes_sent, COUNT) X(repl_resends, COUNT) X(repl_truncs_sent, COUNT)    \
	X(repl_acks_received, COUNT) X(repl_records_applied, COUNT)                   \
	X(repl_bytes_applied, COUNT) X(repl_dup_records, COUNT) X(repl_gaps, COUNT)     \
	X(repl_truncations, COUNT) X(repl_acks_sent, COUNT) X(repl_pos_sent, COUNT)     \
	X(repl_topics_created, COUNT) X(repl_syncs, COUNT)                              \
	X(repl_lag_records, GAUGE) X(repl_lag_bytes, GAUGE)                           \
	X(repl_catchup_done, GAUGE) X(repl_catchup_total, GAUGE)                       \
	X(drop_repl_bad_mac, COUNT) X(drop_repl_replay, COUNT)                        \
	X(drop_repl_old_epoch, COUNT) X(drop_repl_stale, COUNT)                       \
	X(drop_repl_malformed, COUNT) X(drop_repl_version, COUNT)                     \
	X(drop_repl_not_peer, COUNT) X(drop_repl_unknown_topic, COUNT)                \
	X(drop_repl_role, COUNT) X(drop_repl_journal, COUNT)                          \
	X(drop_repl_no_mbuf, COUNT) X(drop_repl_frag, COUNT) X(drop_repl_no_room, COUNT)    \
	X(ha_not_primary, COUNT) X(ha_fenced, COUNT) X(ha_wait_full, COUNT)              \
	X(ha_held_refused, COUNT) X(drop_repl_read, COUNT)                            \
	X(repl_dr_lag_records, GAUGE) X(repl_dr_lag_bytes, GAUGE)                     \
	X(repl_dr_lag_reports, COUNT) X(drop_repl_clear, COUNT)

/* Type ids of the counters area, and the names readers find them by. */
#define SL_STATS_TYPE_LIST(X)                                                         \
	X(DATAPLANE, "dataplane") X(COUNTERS, "counters") X(DROPS, "drops")             \
	X(AUTHZ, "authz") X(WORKER, "worker") X(PORT, "port") X(TOPIC, "topic")   \
	X(GROUP, "group") X(GMEMBER, "gmember") X(REPL, "repl")

#define SL_X_ENUM_CTR(n) SL_CTR_##n,
#define SL_X_ENUM_DROP(n) SL_DROP_##n,
enum sl_ctr { SL_CTR_LIST(SL_X_ENUM_CTR) SL_CTR_MAX };
enum sl_drop { SL_DROP_LIST(SL_X_ENUM_DROP) SL_DROP_MAX };
#undef SL_X_ENUM_CTR
#undef SL_X_ENUM_DROP

/* The counters area's type ids, and each list's value indices: one prefix
 * for the four lists, so a label repeated across them does not compile. */
#define SL_X_ENUM_TYPE(id, name) SL_STATS_T_##id,
enum sl_stats_type { SL_STATS_TYPE_LIST(SL_X_ENUM_TYPE) SL_STATS_T_MAX };
#undef SL_X_ENUM_TYPE
#define SL_X_ENUM_V(l, k) SL_STATS_##l,
enum { SL_STATS_DP_LIST(SL_X_ENUM_V) SL_STATS_DP_MAX };
enum { SL_STATS_WORKER_LIST(SL_X_ENUM_V) SL_STATS_W_MAX };
enum { SL_STATS_PORT_LIST(SL_X_ENUM_V) SL_STATS_P_MAX };
enum { SL_STATS_TOPIC_LIST(SL_X_ENUM_V) SL_STATS_TOPIC_MAX };
#undef SL_X_ENUM_V
/* Groups' and members' labels repeat the topics' (delivered...): prefixes of their own. */
#define SL_X_ENUM_R(l, k) SL_REPL_CTR_##l,
enum sl_repl_ctr { SL_STATS_REPL_LIST(SL_X_ENUM_R) SL_REPL_CTR_MAX };
#undef SL_X_ENUM_R
#define SL_X_ENUM_G(l, k) SL_STATS_G_##l,
#define SL_X_ENUM_GM(l, k) SL_STATS_GM_##l,
enum { SL_STATS_GROUP_LIST(SL_X_ENUM_G) SL_STATS_G_MAX };
enum { SL_STATS_GMEMBER_LIST(SL_X_ENUM_GM) SL_STATS_GM_MAX };
#undef SL_X_ENUM_G
#undef SL_X_ENUM_GM

struct sl_counters {
	uint64_t ctr[SL_CTR_MAX];
	uint64_t drop[SL_DROP_MAX];
} __attribute__((aligned(64)));

/* Single-writer increment: a plain add, published with a relaxed store so a
 * concurrent reader never sees a torn word. */
static inline void
sl_ctr_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static inline uint64_t
sl_ctr_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

extern const char *const sl_ctr_names[SL_CTR_MAX];
extern const char *const sl_drop_names[SL_DROP_MAX];

struct sl_ctrs_hdr;

/* Define every type of the counters area @a (common/ctrs.h) from the lists
 * above and SL_AUTHZ_STATS_LIST: names, labels, kinds. Returns 0 or
 * -EINVAL (a list outgrew a slot). */
int sl_stats_define_types(struct sl_ctrs_hdr *a);

/* Map a negative parser result (-enum sl_proto_err) to a drop reason. */
enum sl_drop sl_drop_from_proto(int err);

#endif /* SLUICE_DP_COUNTERS_H */
