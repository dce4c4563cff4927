/* SPDX-License-Identifier: BSD-3-Clause */
/* MQTT topic names and filters and their Sluice mapping (mqtt_topic.h). */

#include <errno.h>
#include <string.h>

#include "mqtt_codec.h"
#include "mqtt_topic.h"

bool
sl_mqtt_topic_name_valid(const char *name, size_t len)
{
	(void)name; (void)len;
	return false;
}

bool
sl_mqtt_topic_filter_valid(const char *filter, size_t len)
{
	(void)filter; (void)len;
	return false;
}

int
sl_mqtt_topic_to_sluice(char *out, size_t cap, const char *name, size_t len)
{
	(void)out; (void)cap; (void)name; (void)len;
	return -ENOSYS;
}

int
sl_mqtt_topic_from_sluice(char *out, size_t cap, const char *name, size_t len)
{
	(void)out; (void)cap; (void)name; (void)len;
	return -ENOSYS;
}

int
sl_mqtt_filter_to_sluice(const char *filter, size_t len, struct sl_mqtt_patterns *out)
{
	(void)filter; (void)len; (void)out;
	return -ENOSYS;
}

int
sl_mqtt_share_parse(const char *filter, size_t len, struct sl_mqtt_share *out)
{
	(void)filter; (void)len; (void)out;
	return -ENOSYS;
}

bool
sl_mqtt_topic_match(const char *filter, size_t flen, const char *name, size_t nlen)
{
	(void)filter; (void)flen; (void)name; (void)nlen;
	return false;
}
