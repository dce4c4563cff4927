/* SPDX-License-Identifier: BSD-3-Clause */
/* MQTT packet encoding (mqtt_codec.h): what a server and a client send. */

#include <errno.h>
#include <string.h>

#include "mqtt_codec.h"

int
sl_mqtt_enc_ping(uint8_t *buf, size_t cap, uint8_t type)
{
	(void)buf; (void)cap; (void)type;
	return -ENOSYS;
}

int
sl_mqtt_enc_connect(uint8_t *buf, size_t cap, const struct sl_mqtt_connect *c)
{
	(void)buf; (void)cap; (void)c;
	return -ENOSYS;
}

int
sl_mqtt_enc_connack(uint8_t *buf, size_t cap, uint8_t level, const struct sl_mqtt_connack *c)
{
	(void)buf; (void)cap; (void)level; (void)c;
	return -ENOSYS;
}

int
sl_mqtt_enc_publish(uint8_t *buf, size_t cap, uint8_t level, const struct sl_mqtt_publish *p)
{
	(void)buf; (void)cap; (void)level; (void)p;
	return -ENOSYS;
}

int
sl_mqtt_enc_ack(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		const struct sl_mqtt_ack *a)
{
	(void)buf; (void)cap; (void)level; (void)type; (void)a;
	return -ENOSYS;
}

int
sl_mqtt_enc_subscribe(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		      const struct sl_mqtt_subscribe *s)
{
	(void)buf; (void)cap; (void)level; (void)type; (void)s;
	return -ENOSYS;
}

int
sl_mqtt_enc_suback(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		   const struct sl_mqtt_suback *s)
{
	(void)buf; (void)cap; (void)level; (void)type; (void)s;
	return -ENOSYS;
}

int
sl_mqtt_enc_disconnect(uint8_t *buf, size_t cap, uint8_t level, uint8_t type,
		       const struct sl_mqtt_disconnect *d)
{
	(void)buf; (void)cap; (void)level; (void)type; (void)d;
	return -ENOSYS;
}
