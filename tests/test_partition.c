/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice's partition choice: the map a TOPIC carries, and the partition each publish goes to. */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <client/client_internal.h>
#include <common/keyhash.h>
#include <common/proto.h>

#include "check.h"

/* A TOPIC answering the pending RESOLVE, taken as rx.c takes it. */
static int
take_topic(struct sl_client *c, uint32_t id, const uint32_t *ids, uint32_t n)
{
	uint64_t f[(sizeof(struct sl_topic_parts) + 4 * SL_MAX_PARTITIONS) / 8];
	struct sl_frame fr;
	size_t off = 0;
	int len;

	len = n ? sl_proto_put_topic_parts(f, sizeof(f), 1, 1, id, ids, n) : 24;
	if (n == 0) {
		struct sl_topic_reply *t = (struct sl_topic_reply *)f;

		sl_proto_hdr_init(&t->h, SL_FT_TOPIC, 0, 24, 1);
		t->req_id = 1;
		t->topic_id = id;
	}
	if (len < 0 || sl_proto_next(f, (size_t)len, &off, &fr) != 1)
		return -EINVAL;
	memset(&c->pend, 0, sizeof(c->pend));
	return sl_cl_parts_take(c, &fr);
}

int
main(void)
{
	static const uint32_t ids[4] = { 11, 12, 13, 14 };
	struct sl_client *c = calloc(1, sizeof(*c));
	uint32_t got[SL_MAX_PARTITIONS], sticky, i;
	uint64_t f[8];
	struct sl_frame fr;
	size_t off = 0;

	if (c == NULL)
		return 1;
	/* An ordinary topic: no map, publishing unchanged. */
	CHECK(take_topic(c, 5, NULL, 0) == 0 && c->pend.n_parts == 0);
	CHECK(sl_cl_parts_resolved(c, "plain", 5) == 0);
	CHECK(c->n_parted == 0 && sl_cl_part_pick(c, 5, "k", 1) == 5);
	CHECK(sl_client_partitions(c, 5, got, SL_MAX_PARTITIONS) == 0);

	/* "orders", 4 partitions: each resolved as the ordinary "orders#i". */
	CHECK(take_topic(c, 10, ids, 4) == 0 && c->pend.n_parts == 4);
	CHECK(sl_cl_parts_resolved(c, "orders", 10) == 0);
	CHECK(c->n_parted == 1);
	CHECK(sl_client_partitions(c, 10, got, SL_MAX_PARTITIONS) == 4);
	CHECK(got[0] == 11 && got[3] == 14);
	CHECK(sl_client_partitions(c, 10, NULL, 0) == 4);
	CHECK(c->rc.n_topics == 4 && strcmp(c->rc.topics[2].name, "orders#2") == 0);

	/* Keyed: the partition PROTOCOL.md 7.4's vectors name. */
	CHECK_EQ(sl_cl_part_pick(c, 10, "key-1", 5), ids[3]);
	CHECK_EQ(sl_cl_part_pick(c, 10, "order-42", 8), ids[0]);
	CHECK_EQ(sl_cl_part_pick(c, 10, "a", 1), ids[1]);
	for (i = 0; i < 1000; i++) {
		char key[16];
		int n = snprintf(key, sizeof(key), "k%u", i);

		CHECK_EQ(sl_cl_part_pick(c, 10, key, (uint16_t)n),
			 ids[sl_key_hash(key, (size_t)n) % 4]);
	}
	/* Without a key: one partition, always the same. */
	sticky = sl_cl_part_pick(c, 10, NULL, 0);
	CHECK(sticky >= 11 && sticky <= 14);
	for (i = 0; i < 100; i++)
		CHECK(sl_cl_part_pick(c, 10, NULL, 0) == sticky);
	/* Another topic's id, or a partition's own id, goes where it says. */
	CHECK(sl_cl_part_pick(c, 5, "key-1", 5) == 5);
	CHECK(sl_cl_part_pick(c, 12, "key-1", 5) == 12);

	/* Resolved again (say after a reconnect): the same ids, same sticky. */
	CHECK(take_topic(c, 10, ids, 4) == 0);
	CHECK(sl_cl_parts_resolved(c, "orders", 10) == 0);
	CHECK(c->n_parted == 1 && c->rc.n_topics == 4);
	CHECK(sl_cl_part_pick(c, 10, NULL, 0) == sticky);

	/* A malformed map fails the RESOLVE. */
	CHECK(sl_proto_put_topic_parts(f, sizeof(f), 1, 1, 10, ids, 4) == 48);
	{
		uint16_t nine = 9; /* ids beyond the frame */

		memcpy((uint8_t *)f + offsetof(struct sl_topic_parts, n_parts), &nine, 2);
	}
	CHECK(sl_proto_next(f, 48, &off, &fr) == 1);
	CHECK(sl_cl_parts_take(c, &fr) == -EPROTO && c->pend.n_parts == 0);

	sl_cl_recon_free(c);
	sl_cl_parts_free(c);
	free(c);
	return check_result("test_partition");
}
