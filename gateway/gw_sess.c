/* SPDX-License-Identifier: BSD-3-Clause */
/* MQTT sessions: the client-id table, persistence after a disconnect, expiry, wills. */

#include <stdlib.h>
#include <string.h>

#include <common/keyhash.h>

#include "gw.h"

#define HASH_BITS 16
#define HASH_SIZE (1u << HASH_BITS)

static struct gw_sess *table[HASH_SIZE];
static struct gw_sess *all; /* every session, for the timer: not the table's
			     * 65,536 buckets each tick */
static uint32_t n_sess;

static uint32_t
hash(const char *p, uint16_t len)
{
	return sl_name_hash(p, len) & (HASH_SIZE - 1);
}

uint32_t
gw_sess_count(void)
{
	return n_sess + gw_persist_dormant();
}

struct gw_sess *
gw_sess_find(const char *cid, uint16_t len)
{
	struct gw_sess *s;

	for (s = table[hash(cid, len)]; s != NULL; s = s->hnext)
		if (s->cid_len == len && memcmp(s->cid, cid, len) == 0)
			return s;
	return NULL;
}

struct gw_sess *
gw_sess_new(const char *cid, uint16_t len, struct gw_user *u)
{
	struct gw_sess *s = calloc(1, sizeof(*s));
	uint32_t h;

	if (s == NULL)
		return NULL;
	s->cid = malloc((size_t)len + 1);
	if (s->cid == NULL) {
		free(s);
		return NULL;
	}
	memcpy(s->cid, cid, len);
	s->cid[len] = 0;
	s->cid_len = len;
	s->id = ++gw.next_sess_id;
	s->user = u;
	s->next_pkt_id = 0; /* the next inflight slot to try: packet id 1 */
	h = hash(cid, len);
	s->hnext = table[h];
	table[h] = s;
	s->unext = u->sessions;
	u->sessions = s;
	s->anext = all;
	if (all != NULL)
		all->aprev = s;
	all = s;
	n_sess++;
	return s;
}

static void
unlink_sess(struct gw_sess *s)
{
	struct gw_sess **pp;

	for (pp = &table[hash(s->cid, s->cid_len)]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	for (pp = &s->user->sessions; *pp != NULL; pp = &(*pp)->unext)
		if (*pp == s) {
			*pp = s->unext;
			break;
		}
	if (s->aprev != NULL)
		s->aprev->anext = s->anext;
	else
		all = s->anext;
	if (s->anext != NULL)
		s->anext->aprev = s->aprev;
}

void
gw_sess_free(struct gw_sess *s)
{
	uint32_t i;

	if (s->conn != NULL) {
		s->conn->sess = NULL;
		s->conn = NULL;
	}
	unlink_sess(s);
	gw_persist_forget(s);
	gw_sub_drop_all(s);
	gw_out_release(s);
	gw_user_forget_sess(s->user, s);
	gw_msg_unref(s->will);
	for (i = 0; s->alias != NULL && i <= s->alias_max; i++)
		free(s->alias[i]);
	free(s->alias);
	free(s->qos2_held);
	free(s->qos2_acked);
	gw_user_put(s->user);
	free(s->cid);
	free(s);
	n_sess--;
}

void
gw_sess_will_send(struct gw_sess *s)
{
	struct gw_msg *m = s->will;
	struct gw_pubreq r;
	uint32_t tid;

	s->will = NULL;
	s->will_at_ns = 0;
	if (m == NULL)
		return;
	/* Published under the client's own user, so its ACL applies to the
	 * will as to any publish [MQTT-3.1.2-8]; QoS 1/2 ask for the ACK so
	 * the broker stores it under the topic's durability. */
	gw_pubreq_of_msg(&r, m);
	if (gw_user_topic(s->user, gw_msg_topic(m), m->topic_len, &tid) == 0 &&
	    gw_user_publish(s->user, tid, &r, NULL, 0) == 0)
		GW_INC(wills_sent);
	gw_msg_unref(m);
}

void
gw_sess_will_due(struct gw_sess *s, uint64_t now_ns)
{
	if (s->will == NULL)
		return;
	if (s->will_delay_s == 0 || !s->persistent) {
		/* A session that ends with the connection sends its will at
		 * once (v5: at the earlier of the delay and the expiry). */
		gw_sess_will_send(s);
		return;
	}
	s->will_at_ns = now_ns + (uint64_t)s->will_delay_s * 1000000000ull;
}

void
gw_sess_detach(struct gw_sess *s, uint64_t now_ns)
{
	/* Inbound topic aliases last one connection [MQTT-3.3.2-7]. */
	if (s->alias != NULL) {
		uint32_t i;

		for (i = 0; i <= s->alias_max; i++) {
			free(s->alias[i]);
			s->alias[i] = NULL;
		}
	}
	if (!s->persistent) {
		gw_sess_will_send(s);
		gw_sess_free(s);
		return;
	}
	/* An idle session keeps only what it must: the QoS 2 id sets (16 KiB)
	 * and the window go when nothing is in them. */
	if (s->n_qos2 == 0) {
		free(s->qos2_held);
		free(s->qos2_acked);
		s->qos2_held = s->qos2_acked = NULL;
	}
	if (s->n_infl == 0 && s->q_len == 0)
		gw_out_release(s);
	gw_persist_detach(s);
	s->expire_at_ns = s->expiry_s == UINT32_MAX
				  ? UINT64_MAX
				  : now_ns + (uint64_t)s->expiry_s * 1000000000ull;
	if (s->expire_at_ns == now_ns)
		s->expire_at_ns = now_ns + 1;
}

void
gw_sess_tick(uint64_t now_ns)
{
	struct gw_sess *s, *next;

	/* A scan of the sessions each tick (100 ms): they are few compared
	 * with messages. (Not of the hash table: its 65,536 buckets took
	 * 100 us a tick, a stall every message behind it waited out.) */
	for (s = all; s != NULL; s = next) {
		next = s->anext;
		if (s->conn != NULL)
			continue;
		if (s->will_at_ns && now_ns >= s->will_at_ns)
			gw_sess_will_send(s);
		if (s->expire_at_ns && now_ns >= s->expire_at_ns) {
			gw_sess_will_send(s);
			gw_sess_free(s);
		}
	}
	gw_persist_tick(now_ns);
}

void
gw_sess_foreach(void (*fn)(struct gw_sess *s, void *arg), void *arg)
{
	struct gw_sess *s, *next;

	/* The list, not the hash table: this runs every tick. */
	for (s = all; s != NULL; s = next) {
		next = s->anext;
		fn(s, arg);
	}
}

void
gw_sess_free_all(void)
{
	uint32_t h;

	for (h = 0; h < HASH_SIZE; h++)
		while (table[h] != NULL)
			gw_sess_free(table[h]);
}
