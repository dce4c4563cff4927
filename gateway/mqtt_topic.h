/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT topic names and filters (MQTT 3.1.1 and 5.0 section 4.7) and their
 * mapping to Sluice topic names and patterns (docs/MQTT.md):
 *   - levels: MQTT '/' <-> Sluice '.';
 *   - inside a level, every byte Sluice names do not allow (anything but
 *     printable ASCII without space) and the bytes '.', '%', '*', '>' are
 *     written %XX, two upper-case hex digits; an empty level is "%" alone;
 *   - filters: '+' -> '*'; a trailing '#' -> '>' plus the parent name
 *     ("a/#" also matches "a"); '#' alone -> ">".
 * A mapped name or pattern longer than SL_MAX_TOPIC_NAME (200) bytes is
 * refused. No allocation; everything is reentrant.
 */

#ifndef SLUICE_GATEWAY_MQTT_TOPIC_H
#define SLUICE_GATEWAY_MQTT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <common/proto.h>

/* The prefix of a shared subscription's filter (MQTT 5 section 4.8.2). */
#define SL_MQTT_SHARE_PREFIX "$share/"

/*
 * Is @name (@len bytes) a valid MQTT topic name: 1..65535 bytes of
 * well-formed MQTT UTF-8 (sl_mqtt_utf8_valid) without '+' or '#'
 * [MQTT-4.7.1-1], [MQTT-4.7.3-1]?
 */
bool sl_mqtt_topic_name_valid(const char *name, size_t len);

/*
 * Is @filter (@len bytes) a valid MQTT topic filter: 1..65535 bytes of
 * well-formed MQTT UTF-8, '+' only as a whole level [MQTT-4.7.1-3], '#'
 * only as the whole last level [MQTT-4.7.1-2]? A "$share/GROUP/filter"
 * must also have a valid share name and filter (sl_mqtt_share_parse).
 */
bool sl_mqtt_topic_filter_valid(const char *filter, size_t len);

/*
 * Map MQTT topic name @name (@len bytes) to its Sluice topic name: writes
 * the name and a NUL into @out (@cap bytes) and returns its length
 * (1..SL_MAX_TOPIC_NAME). -EINVAL when @name is not a valid topic name,
 * -ENAMETOOLONG when the mapped name exceeds SL_MAX_TOPIC_NAME or
 * does not fit @cap with its NUL.
 */
int sl_mqtt_topic_to_sluice(char *out, size_t cap, const char *name, size_t len);

/*
 * Map Sluice topic name @name (@len bytes) back to the MQTT topic name it
 * stands for: writes it into @out (@cap bytes, not NUL terminated) and
 * returns its length. -EINVAL when @name is not a name the mapping
 * produces (not a valid Sluice name, a '%' not followed by two upper-case
 * hex digits or escaping a byte that needs none, a wildcard token, a result
 * that is not a valid MQTT topic name): such a native topic has no MQTT
 * name. -ENOSPC when @cap is too small (@len bytes always suffice: an
 * escape shrinks, a '.' stays one byte).
 */
int sl_mqtt_topic_from_sluice(char *out, size_t cap, const char *name, size_t len);

/* The Sluice subscriptions one MQTT filter needs: one or two patterns. */
struct sl_mqtt_patterns {
	uint32_t n; /* 1 or 2 */
	/*
	 * True when the filter has no wildcard: pattern[0] is then a plain
	 * topic name (the gateway may subscribe to it directly).
	 */
	bool exact;
	/* NUL-terminated; [1], when n is 2, is the parent name of a trailing '#'. */
	char pattern[2][SL_MAX_TOPIC_NAME + 1];
};

/*
 * Map MQTT filter @filter (@len bytes, not a "$share/" one: pass the filter
 * part of sl_mqtt_share_parse) to the Sluice pattern(s) whose union it
 * matches. Every pattern is valid for sl_proto_pattern_valid. Returns 0;
 * -EINVAL when @filter is not a valid filter or is a "$share/" filter,
 * -ENAMETOOLONG when a pattern would exceed SL_MAX_TOPIC_NAME.
 *
 * The patterns also match names starting with '$' where the MQTT filter
 * does not ([MQTT-4.7.2-1]: "#" and "+/..." do not match "$SYS/x"): the
 * gateway checks each delivery with sl_mqtt_topic_match.
 */
int sl_mqtt_filter_to_sluice(const char *filter, size_t len, struct sl_mqtt_patterns *out);

/* A parsed shared subscription "$share/GROUP/FILTER". */
struct sl_mqtt_share {
	const char *group; /* points into the filter passed in */
	size_t group_len;
	const char *filter;
	size_t filter_len;
};

/*
 * Parse @filter (@len bytes) as a shared subscription. Returns 1 and fills
 * @out when it starts with "$share/", has a share name of at least one
 * character without '/', '+' or '#' [MQTT-4.8.2-1], and then a '/' and a
 * valid non-shared topic filter [MQTT-4.8.2-2]; 0 when @filter is not a
 * shared subscription (no "$share/" prefix); -EINVAL when it starts with
 * "$share/" but is malformed.
 */
int sl_mqtt_share_parse(const char *filter, size_t len, struct sl_mqtt_share *out);

/*
 * Does MQTT topic filter @filter (@flen bytes, valid, not "$share/") match
 * topic name @name (@nlen bytes, valid)? '+' matches one level (also an
 * empty one), a trailing '#' the parent and any number of levels below;
 * a first-level wildcard does not match a name starting with '$'
 * [MQTT-4.7.2-1]. Returns true or false.
 */
bool sl_mqtt_topic_match(const char *filter, size_t flen, const char *name, size_t nlen);

#endif /* SLUICE_GATEWAY_MQTT_TOPIC_H */
