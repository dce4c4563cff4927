/* SPDX-License-Identifier: BSD-3-Clause */
/* Names of the dataplane counters, and the counters area's types built from the same lists. */

#include <errno.h>

#include <common/ctrs.h>
#include <common/proto.h>

#include "authz.h"
#include "counters.h"

#define SL_X_NAME(n) #n,
const char *const sl_ctr_names[SL_CTR_MAX] = { SL_CTR_LIST(SL_X_NAME) };
const char *const sl_drop_names[SL_DROP_MAX] = { SL_DROP_LIST(SL_X_NAME) };
#undef SL_X_NAME

enum sl_drop
sl_drop_from_proto(int err)
{
	switch (-err) {
	case SL_PROTO_TRUNCATED: return SL_DROP_truncated;
	case SL_PROTO_BAD_LENGTH: return SL_DROP_bad_length;
	case SL_PROTO_BAD_VERSION: return SL_DROP_bad_version;
	case SL_PROTO_UNKNOWN_TYPE: return SL_DROP_unknown_type;
	case SL_PROTO_OVERSIZE: return SL_DROP_oversize;
	default: return SL_DROP_bad_field;
	}
}

/* ---- the counters area's types ---- */

_Static_assert(SL_CTR_MAX <= SL_CTRS_MAX_VALUES && SL_DROP_MAX <= SL_CTRS_MAX_VALUES &&
	       SL_STATS_TOPIC_MAX <= SL_CTRS_MAX_VALUES &&
	       SL_STATS_G_MAX <= SL_CTRS_MAX_VALUES && SL_STATS_GM_MAX <= SL_CTRS_MAX_VALUES &&
	       SL_REPL_CTR_MAX <= SL_CTRS_MAX_VALUES, "a counter list outgrew a slot");
_Static_assert(SL_STATS_T_MAX <= SL_CTRS_MAX_TYPES, "counters area types");

#define X_LABEL(l, k) #l,
#define X_KIND(l, k) SL_CTRS_K_##k,
#define X_LABEL1(l) #l,
#define X_COUNT1(l) SL_CTRS_K_COUNT,
#define X_TNAME(id, name) name,

int
sl_stats_define_types(struct sl_ctrs_hdr *a)
{
	static const char *const names[] = { SL_STATS_TYPE_LIST(X_TNAME) };
	static const char *const dp_l[] = { SL_STATS_DP_LIST(X_LABEL) };
	static const uint8_t dp_k[] = { SL_STATS_DP_LIST(X_KIND) };
	static const char *const w_l[] = { SL_STATS_WORKER_LIST(X_LABEL) };
	static const uint8_t w_k[] = { SL_STATS_WORKER_LIST(X_KIND) };
	static const char *const p_l[] = { SL_STATS_PORT_LIST(X_LABEL) };
	static const uint8_t p_k[] = { SL_STATS_PORT_LIST(X_KIND) };
	static const char *const t_l[] = { SL_STATS_TOPIC_LIST(X_LABEL) };
	static const uint8_t t_k[] = { SL_STATS_TOPIC_LIST(X_KIND) };
	static const char *const g_l[] = { SL_STATS_GROUP_LIST(X_LABEL) };
	static const uint8_t g_k[] = { SL_STATS_GROUP_LIST(X_KIND) };
	static const char *const gm_l[] = { SL_STATS_GMEMBER_LIST(X_LABEL) };
	static const uint8_t gm_k[] = { SL_STATS_GMEMBER_LIST(X_KIND) };
	static const char *const r_l[] = { SL_STATS_REPL_LIST(X_LABEL) };
	static const uint8_t r_k[] = { SL_STATS_REPL_LIST(X_KIND) };
	static const char *const a_l[] = { SL_AUTHZ_STATS_LIST(X_LABEL1) };
	static const uint8_t a_k[] = { SL_AUTHZ_STATS_LIST(X_COUNT1) };
	static const uint8_t c_k[] = { SL_CTR_LIST(X_COUNT1) };
	static const uint8_t d_k[] = { SL_DROP_LIST(X_COUNT1) };
	static const struct {
		const char *const *labels;
		const uint8_t *kinds;
		unsigned n;
	} t[SL_STATS_T_MAX] = {
		[SL_STATS_T_DATAPLANE] = { dp_l, dp_k, SL_STATS_DP_MAX },
		[SL_STATS_T_COUNTERS] = { sl_ctr_names, c_k, SL_CTR_MAX },
		[SL_STATS_T_DROPS] = { sl_drop_names, d_k, SL_DROP_MAX },
		[SL_STATS_T_AUTHZ] = { a_l, a_k, SL_STATS_AUTHZ_MAX },
		[SL_STATS_T_WORKER] = { w_l, w_k, SL_STATS_W_MAX },
		[SL_STATS_T_PORT] = { p_l, p_k, SL_STATS_P_MAX },
		[SL_STATS_T_TOPIC] = { t_l, t_k, SL_STATS_TOPIC_MAX },
		[SL_STATS_T_GROUP] = { g_l, g_k, SL_STATS_G_MAX },
		[SL_STATS_T_GMEMBER] = { gm_l, gm_k, SL_STATS_GM_MAX },
		[SL_STATS_T_REPL] = { r_l, r_k, SL_REPL_CTR_MAX },
	};
	unsigned i;

	for (i = 0; i < SL_STATS_T_MAX; i++)
		if (sl_ctrs_type_define(a, i, names[i], t[i].labels, t[i].kinds, t[i].n) < 0)
			return -EINVAL;
	return 0;
}
