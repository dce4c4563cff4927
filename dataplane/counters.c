/* SPDX-License-Identifier: BSD-3-Clause */
/* Names of the dataplane counters, for telemetry and tools. */

#include <common/proto.h>

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
