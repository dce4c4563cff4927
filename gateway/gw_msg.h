/* SPDX-License-Identifier: BSD-3-Clause */
/* Reference-counted messages of the gateway, from size-classed free lists. */

#ifndef SLUICE_GW_MSG_H
#define SLUICE_GW_MSG_H

#include <stdint.h>

/*
 * One application message as the gateway holds it between the broker and
 * the MQTT sessions it goes to: one copy, shared by every session that
 * delivers it (fan-out takes a reference each), freed when the last one
 * lets go. Buffers come from per-class free lists that only grow, so after
 * warm-up the hot path does not call malloc.
 *
 * Layout of data[]: the MQTT topic name (topic_len bytes), the MQTT 5
 * PUBLISH properties to forward (props_len bytes, already in wire form,
 * without the property-length prefix), then the payload (len bytes).
 */
struct gw_msg {
	uint32_t refs;
	uint32_t cap;	     /* bytes of data[] */
	uint32_t len;	     /* payload bytes */
	uint16_t topic_len;
	uint16_t props_len;
	uint8_t qos;	     /* the publisher's QoS (0..2) */
	uint8_t retain;	     /* published with RETAIN */
	uint8_t cls;	     /* size class (free list) */
	uint8_t pad;
	uint32_t src;	     /* publishing MQTT session's number (no-local), 0 native */
	uint64_t expiry_ns;  /* CLOCK_MONOTONIC deadline (Message Expiry), 0 none */
	uint64_t sl_seq;     /* broker topic sequence, 0 for gateway-made ones */
	uint32_t sl_topic;   /* broker topic id (0 unknown) */
	uint32_t expiry_s;   /* Message Expiry Interval as received, 0 none */
	uint8_t data[];
};

/* A message with room for @need bytes of data[], refs 1; NULL when out of
 * memory or @need is over the largest class (16 MiB). */
struct gw_msg *gw_msg_new(uint32_t need);

static inline void
gw_msg_ref(struct gw_msg *m)
{
	m->refs++;
}

/* Drop a reference; the last one puts the buffer back on its free list. */
void gw_msg_unref(struct gw_msg *m);

static inline const char *
gw_msg_topic(const struct gw_msg *m)
{
	return (const char *)m->data;
}

static inline const uint8_t *
gw_msg_props(const struct gw_msg *m)
{
	return m->data + m->topic_len;
}

static inline const uint8_t *
gw_msg_payload(const struct gw_msg *m)
{
	return m->data + m->topic_len + m->props_len;
}

/* Buffers held: in use and on the free lists (for counters and tests). */
void gw_msg_stats(uint64_t *in_use, uint64_t *pooled_bytes);

/* Free every pooled buffer (at exit; messages still referenced stay). */
void gw_msg_pool_drain(void);

#endif /* SLUICE_GW_MSG_H */
