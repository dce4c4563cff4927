/* SPDX-License-Identifier: BSD-3-Clause */
/* Size-classed free lists behind struct gw_msg: malloc only while the pool grows. */

#include <stdlib.h>

#include "gw_msg.h"

/* Classes 256 B << 0..16 (256 B .. 16 MiB of data[]). */
#define N_CLASSES 17
#define CLASS0_SHIFT 8
/* A class keeps at most this many bytes of idle buffers: a burst of large
 * messages does not pin its peak forever. */
#define CLASS_KEEP_BYTES (32u << 20)

struct free_node {
	struct free_node *next;
};

static struct free_node *free_list[N_CLASSES];
static uint64_t free_bytes[N_CLASSES];
static uint64_t in_use;

static int
class_of(uint32_t need)
{
	int c = 0;

	while (c < N_CLASSES && (1u << (c + CLASS0_SHIFT)) < need)
		c++;
	return c < N_CLASSES ? c : -1;
}

struct gw_msg *
gw_msg_new(uint32_t need)
{
	int c = class_of(need);
	uint32_t cap;
	struct gw_msg *m;

	if (c < 0)
		return NULL;
	cap = 1u << (c + CLASS0_SHIFT);
	if (free_list[c] != NULL) {
		m = (struct gw_msg *)(void *)free_list[c];
		free_list[c] = free_list[c]->next;
		free_bytes[c] -= cap;
	} else {
		m = malloc(sizeof(*m) + cap);
		if (m == NULL)
			return NULL;
	}
	m->refs = 1;
	m->cap = cap;
	m->cls = (uint8_t)c;
	m->len = 0;
	m->topic_len = 0;
	m->props_len = 0;
	m->qos = 0;
	m->retain = 0;
	m->src = 0;
	m->expiry_ns = 0;
	m->sl_seq = 0;
	m->sl_topic = 0;
	m->expiry_s = 0;
	in_use++;
	return m;
}

void
gw_msg_unref(struct gw_msg *m)
{
	struct free_node *n;

	if (m == NULL || --m->refs > 0)
		return;
	in_use--;
	if (free_bytes[m->cls] + m->cap > CLASS_KEEP_BYTES) {
		free(m);
		return;
	}
	n = (struct free_node *)(void *)m;
	n->next = free_list[m->cls];
	free_list[m->cls] = n;
	free_bytes[m->cls] += m->cap;
}

void
gw_msg_stats(uint64_t *used, uint64_t *pooled_bytes)
{
	uint64_t b = 0;
	int c;

	for (c = 0; c < N_CLASSES; c++)
		b += free_bytes[c];
	*used = in_use;
	*pooled_bytes = b;
}

void
gw_msg_pool_drain(void)
{
	struct free_node *n;
	int c;

	for (c = 0; c < N_CLASSES; c++) {
		while ((n = free_list[c]) != NULL) {
			free_list[c] = n->next;
			free(n);
		}
		free_bytes[c] = 0;
	}
}
