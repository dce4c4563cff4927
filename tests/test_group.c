/* SPDX-License-Identifier: BSD-3-Clause */
/* Consumer-group engine: policies, credit, acks, redelivery, dead letters, members, key order, a model. */

#include "check.h"
#include "group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

static struct sl_group *
mk(const struct sl_group_cfg *c)
{
	size_t len = sl_group_mem_size(c);
	struct sl_group *g = NULL;
	void *mem;

	if (len == 0 || posix_memalign(&mem, 64, len) != 0)
		abort();
	if (sl_group_init(&g, c, mem, len) != 0)
		abort();
	return g;
}

static void
rm(struct sl_group *g)
{
	free(g);
}

static struct sl_group_cfg
cfg(uint32_t policy)
{
	struct sl_group_cfg c = {
		.policy = policy, .max_members = 8, .max_inflight = 1024,
		.max_blocked = policy == SL_GROUP_KEY_AFFINITY ? 1024 : 0,
	};
	return c;
}

static uint32_t
join(struct sl_group *g, uint64_t id, uint32_t credit, uint32_t flags)
{
	uint32_t slot = 99;
	int rc = sl_group_join(g, id, id * 10, credit, flags, 0, &slot, NULL);

	CHECK(rc == 0 || rc == 1);
	return slot;
}

static void
test_init(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN), bad;
	struct sl_group *g;
	size_t len = sl_group_mem_size(&c);
	void *mem = NULL;

	CHECK(len > 0);
	bad = c;
	bad.policy = 9;
	CHECK_EQ(sl_group_mem_size(&bad), 0);
	bad = c;
	bad.max_members = 65;
	CHECK_EQ(sl_group_mem_size(&bad), 0);
	bad = c;
	bad.max_inflight = 0;
	CHECK_EQ(sl_group_mem_size(&bad), 0);
	bad = c;
	bad.max_blocked = 4; /* only key affinity holds messages back */
	CHECK_EQ(sl_group_mem_size(&bad), 0);
	bad = c;
	bad.max_credit = SL_MAX_GROUP_CREDIT + 1;
	CHECK_EQ(sl_group_mem_size(&bad), 0);
	if (posix_memalign(&mem, 64, len + 64) != 0)
		abort();
	CHECK_EQ(sl_group_init(&g, &c, mem, len - 1), -ENOMEM);
	CHECK_EQ(sl_group_init(&g, &c, (char *)mem + 8, len), -EINVAL);
	CHECK_EQ(sl_group_init(&g, &c, mem, len), 0);
	/* join's refusals */
	CHECK_EQ(sl_group_join(g, 0, 1, 4, 0, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(sl_group_join(g, 1, 1, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(sl_group_join(g, 1, 1, 4, 0x80, 0, NULL, NULL), -EINVAL);
	free(mem);
}

/* Members table full: SL_E_GROUP_FULL; credit clamped to max_credit. */
static void
test_members_full(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g;
	uint32_t slot, granted, i;

	c.max_members = 3;
	c.max_credit = 16;
	g = mk(&c);
	for (i = 0; i < 3; i++)
		CHECK_EQ(sl_group_join(g, 100 + i, i, 1000, 0, 0, &slot, &granted), 0);
	CHECK_EQ(granted, 16);
	CHECK_EQ(sl_group_join(g, 200, 9, 4, 0, 0, &slot, NULL), -ENOSPC);
	/* the same id again is a rejoin, not a new member */
	CHECK_EQ(sl_group_join(g, 101, 77, 4, 0, 0, &slot, NULL), 1);
	CHECK_EQ(slot, 1);
	CHECK_EQ(sl_group_member(g, 1)->session, 77);
	CHECK_EQ(sl_group_find(g, 102), 2);
	CHECK_EQ(sl_group_find(g, 999), -ENOENT);
	CHECK_EQ(sl_group_leave(g, 0, 0), 0);
	CHECK_EQ(sl_group_leave(g, 0, 0), -ENOENT);
	CHECK_EQ(sl_group_join(g, 200, 9, 4, 0, 0, &slot, NULL), 0);
	CHECK_EQ(slot, 0);
	rm(g);
}

/* Three members, everyone acks: each message reaches exactly one member
 * exactly once, and the work is spread evenly. */
static void
test_exactly_once(uint32_t policy)
{
	struct sl_group_cfg c = cfg(policy);
	struct sl_group *g = mk(&c);
	enum { N = 30000 };
	static uint8_t seen[N + 1];
	uint64_t per[3] = { 0 }, held[3][8], seq = 1, now = 0;
	uint32_t nheld[3] = { 0 }, s[3], i, j;
	struct sl_group_out o;
	struct sl_group_stats st;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 3; i++)
		s[i] = join(g, i + 1, 8, 0);
	while (seq <= N) {
		int rc = sl_group_offer(g, seq, policy == SL_GROUP_KEY_AFFINITY ? seq % 97 + 1 : 0,
					now, &o);

		if (rc == 1) {
			CHECK(o.slot < 3 && o.action == SL_GROUP_ACT_DELIVER);
			if (o.slot >= 3 || nheld[o.slot] >= 8) {
				CHECK(!"a member got more than its credit");
				break;
			}
			CHECK_EQ(o.delivery_count, 1);
			CHECK_EQ(o.seq, seq);
			CHECK_EQ(o.member_id, o.slot + 1);
			CHECK_EQ(o.session, (o.slot + 1) * 10);
			seen[seq]++;
			per[o.slot]++;
			held[o.slot][nheld[o.slot]++] = seq;
			seq++;
			continue;
		}
		if (rc == 0) {
			seq++;
			continue;
		}
		CHECK_EQ(rc, -EAGAIN);
		if (rc != -EAGAIN || nheld[0] + nheld[1] + nheld[2] == 0)
			break; /* refused with nobody full: a failure already counted */
		/* every member full: all ack what they hold */
		for (i = 0; i < 3; i++) {
			CHECK_EQ(nheld[i], 8);
			for (j = 0; j < nheld[i]; j++)
				CHECK_EQ(sl_group_ack(g, s[i], held[i][j], now), 0);
			nheld[i] = 0;
		}
		now += 1000;
	}
	for (;;) {
		struct sl_group_out out[64];
		unsigned n = sl_group_poll(g, now, out, 64), k;
		int any = 0;

		for (k = 0; k < n; k++) {
			CHECK_EQ(out[k].action, SL_GROUP_ACT_DELIVER);
			if (out[k].slot >= 3 || nheld[out[k].slot] >= 8) {
				CHECK(!"a member got more than its credit");
				break;
			}
			seen[out[k].seq]++;
			per[out[k].slot]++;
			held[out[k].slot][nheld[out[k].slot]++] = out[k].seq;
		}
		for (i = 0; i < 3; i++) {
			for (j = 0; j < nheld[i]; j++)
				CHECK_EQ(sl_group_ack(g, s[i], held[i][j], now), 0);
			any |= nheld[i] != 0;
			nheld[i] = 0;
		}
		if (!any && n == 0)
			break;
	}
	for (i = 1; i <= N; i++)
		if (seen[i] != 1) {
			CHECK_EQ(seen[i], 1);
			break;
		}
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.offered, N);
	CHECK_EQ(st.acked, N);
	CHECK_EQ(st.delivered, N);
	CHECK_EQ(st.redelivered, 0);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.blocked, 0);
	CHECK_EQ(per[0] + per[1] + per[2], N);
	if (policy != SL_GROUP_KEY_AFFINITY) {
		/* round-robin and least-outstanding with equal members: equal shares */
		CHECK_EQ(per[0], N / 3);
		CHECK_EQ(per[1], N / 3);
	} else {
		for (i = 0; i < 3; i++)
			CHECK(per[i] > N / 10); /* every member takes part */
	}
	rm(g);
}

/* Round-robin takes turns in slot order; least-outstanding fills the
 * emptiest first, ties in turn. */
static void
test_fairness(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g = mk(&c);
	struct sl_group_out o;
	uint32_t i, last = 99;
	uint64_t seq = 1;

	for (i = 0; i < 3; i++)
		join(g, i + 1, 100, 0);
	for (i = 0; i < 30; i++) {
		CHECK_EQ(sl_group_offer(g, seq++, 0, 0, &o), 1);
		if (last != 99)
			CHECK_EQ(o.slot, (last + 1) % 3);
		last = o.slot;
	}
	rm(g);

	c = cfg(SL_GROUP_LEAST_OUTSTANDING);
	g = mk(&c);
	join(g, 1, 10, 0);
	/* member 1 alone gets five */
	for (i = 0; i < 5; i++) {
		CHECK_EQ(sl_group_offer(g, seq++, 0, 0, &o), 1);
		CHECK_EQ(o.slot, 0);
	}
	join(g, 2, 10, 0);
	join(g, 3, 20, 0);
	/* member 3 has 20 free: it takes until it has as much free as ... */
	for (i = 0; i < 10; i++) {
		CHECK_EQ(sl_group_offer(g, seq++, 0, 0, &o), 1);
		CHECK_EQ(o.slot, 2);
	}
	/* now 2 and 3 have 10 free, 1 has 5: 2 and 3 alternate down to 5 */
	{
		uint32_t cnt[3] = { 0 };

		for (i = 0; i < 10; i++) {
			CHECK_EQ(sl_group_offer(g, seq++, 0, 0, &o), 1);
			cnt[o.slot]++;
		}
		CHECK_EQ(cnt[0], 0);
		CHECK_EQ(cnt[1], 5);
		CHECK_EQ(cnt[2], 5);
	}
	/* all 5 free: the next 15 go five each */
	{
		uint32_t cnt[3] = { 0 };

		for (i = 0; i < 15; i++) {
			CHECK_EQ(sl_group_offer(g, seq++, 0, 0, &o), 1);
			cnt[o.slot]++;
		}
		CHECK_EQ(cnt[0], 5);
		CHECK_EQ(cnt[1], 5);
		CHECK_EQ(cnt[2], 5);
	}
	CHECK_EQ(sl_group_offer(g, seq, 0, 0, &o), -EAGAIN);
	CHECK_EQ(sl_group_can_take(g), 0);
	rm(g);
}

/* A member that never acks gets its credit's worth and no more; the
 * others keep going. */
static void
test_credit_bound(uint32_t policy)
{
	struct sl_group_cfg c = cfg(policy);
	struct sl_group *g = mk(&c);
	struct sl_group_out o;
	struct sl_group_stats st;
	uint32_t got[3] = { 0 }, i;
	uint64_t seq;

	for (i = 0; i < 3; i++)
		join(g, i + 1, 4, 0);
	for (seq = 1; seq <= 3000; seq++) {
		int rc = sl_group_offer(g, seq, seq % 13 + 1, 0, &o);

		if (rc == 0)
			continue; /* held behind its key: a poll sends it */
		CHECK_EQ(rc, 1);
		got[o.slot]++;
		if (o.slot != 0)
			CHECK_EQ(sl_group_ack(g, o.slot, o.seq, 0), 0);
		for (;;) {
			struct sl_group_out out[8];
			unsigned n = sl_group_poll(g, 0, out, 8), k;

			for (k = 0; k < n; k++) {
				got[out[k].slot]++;
				if (out[k].slot != 0)
					CHECK_EQ(sl_group_ack(g, out[k].slot, out[k].seq, 0), 0);
			}
			if (n == 0)
				break;
		}
	}
	sl_group_stats_get(g, &st);
	if (policy == SL_GROUP_LEAST_OUTSTANDING) {
		/* the acking members always have more free credit */
		CHECK(got[0] >= 1 && got[0] <= 4);
		CHECK_EQ(sl_group_member(g, 0)->outstanding, got[0]);
		CHECK_EQ(got[0] + got[1] + got[2], 3000);
	} else {
		CHECK_EQ(got[0], 4);
		CHECK_EQ(sl_group_member(g, 0)->outstanding, 4);
	}
	if (policy == SL_GROUP_ROUND_ROBIN)
		CHECK_EQ(got[1] + got[2], 2996);
	else if (policy == SL_GROUP_KEY_AFFINITY)
		/* keys whose one message the silent member holds wait behind
		 * it (bounded by max_blocked), the rest flow */
		CHECK_EQ(got[1] + got[2] + st.blocked, 2996);
	rm(g);
}

/* Ack-wait: an unacked message goes again, to another member, with its
 * delivery count; the first holder's late ack is refused. */
static void
test_ack_wait(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g;
	struct sl_group_out o, out[4];
	struct sl_group_stats st;

	c.ack_wait_ns = 30 * MS;
	g = mk(&c);
	join(g, 1, 4, 0);
	join(g, 2, 4, 0);
	CHECK_EQ(sl_group_offer(g, 7, 0, 1 * MS, &o), 1);
	CHECK_EQ(o.slot, 0);
	CHECK_EQ(sl_group_next_due(g), 31 * MS);
	CHECK_EQ(sl_group_poll(g, 31 * MS - 1, out, 4), 0);
	CHECK_EQ(sl_group_poll(g, 31 * MS, out, 4), 1);
	CHECK_EQ(out[0].seq, 7);
	CHECK_EQ(out[0].slot, 1);
	CHECK_EQ(out[0].delivery_count, 2);
	CHECK_EQ(out[0].reason, SL_GROUP_R_ACK_WAIT);
	CHECK_EQ(sl_group_member(g, 0)->outstanding, 0);
	CHECK_EQ(sl_group_ack(g, 0, 7, 32 * MS), -ENOENT);
	CHECK_EQ(sl_group_ack(g, 1, 7, 32 * MS), 0);
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.expired, 1);
	CHECK_EQ(st.redelivered, 1);
	CHECK_EQ(st.ack_not_held, 1);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(sl_group_next_due(g), UINT64_MAX);
	/* the redelivery avoids the last holder even when its turn is next */
	CHECK_EQ(sl_group_offer(g, 20, 0, 40 * MS, &o), 1);
	CHECK_EQ(o.slot, 0);
	CHECK_EQ(sl_group_offer(g, 21, 0, 40 * MS, &o), 1);
	CHECK_EQ(o.slot, 1);
	CHECK_EQ(sl_group_ack(g, 1, 21, 40 * MS), 0);
	CHECK_EQ(sl_group_ack(g, 0, 20, 69 * MS), 0);
	CHECK_EQ(sl_group_offer(g, 22, 0, 69 * MS, &o), 1);
	CHECK_EQ(o.slot, 0); /* round-robin: 0 is next after 1 */
	CHECK_EQ(sl_group_offer(g, 23, 0, 69 * MS, &o), 1);
	CHECK_EQ(o.slot, 1);
	CHECK_EQ(sl_group_ack(g, 1, 23, 69 * MS), 0);
	CHECK_EQ(sl_group_poll(g, 99 * MS, out, 4), 1);
	CHECK_EQ(out[0].seq, 22);
	CHECK_EQ(out[0].slot, 1); /* 0 would be next, but 0 held it */
	CHECK_EQ(sl_group_ack(g, 1, 22, 99 * MS), 0);
	/* with one member only, the redelivery goes back to it */
	sl_group_leave(g, 1, 100 * MS);
	CHECK_EQ(sl_group_offer(g, 8, 0, 100 * MS, &o), 1);
	CHECK_EQ(sl_group_poll(g, 130 * MS, out, 4), 1);
	CHECK_EQ(out[0].slot, 0);
	CHECK_EQ(out[0].delivery_count, 2);
	rm(g);
}

/* GNAK with a delay: due again at now + delay, its code kept. */
static void
test_nak_delay(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g = mk(&c);
	struct sl_group_out o, out[4];

	join(g, 1, 4, 0);
	join(g, 2, 4, 0);
	CHECK_EQ(sl_group_offer(g, 1, 0, 0, &o), 1);
	CHECK_EQ(sl_group_nak(g, 1, 1, 5 * MS, 42, 0), -ENOENT); /* not its message */
	CHECK_EQ(sl_group_nak(g, 0, 1, 5 * MS, 42, 10 * MS), 0);
	CHECK_EQ(sl_group_nak(g, 0, 1, 5 * MS, 42, 10 * MS), -ENOENT); /* no longer held */
	CHECK_EQ(sl_group_poll(g, 15 * MS - 1, out, 4), 0);
	CHECK_EQ(sl_group_next_due(g), 15 * MS);
	CHECK_EQ(sl_group_poll(g, 15 * MS, out, 4), 1);
	CHECK_EQ(out[0].slot, 1);
	CHECK_EQ(out[0].delivery_count, 2);
	CHECK_EQ(out[0].reason, SL_GROUP_R_NAK);
	CHECK_EQ(out[0].last_error, 42);
	/* delay 0: at the next poll; capped at SL_MAX_NAK_DELAY_MS */
	CHECK_EQ(sl_group_nak(g, 1, 1, 0, 43, 16 * MS), 0);
	CHECK_EQ(sl_group_poll(g, 16 * MS, out, 4), 1);
	CHECK_EQ(out[0].slot, 0);
	CHECK_EQ(out[0].delivery_count, 3);
	CHECK_EQ(sl_group_nak(g, 0, 1, UINT64_MAX / 2, 44, 17 * MS), 0);
	CHECK_EQ(sl_group_next_due(g), 17 * MS + SL_MAX_NAK_DELAY_MS * MS);
	rm(g);
}

/* max_deliveries: then a dead-letter decision with the count and last
 * error; settled once the caller published it. */
static void
test_dead_letter(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_KEY_AFFINITY);
	struct sl_group *g;
	struct sl_group_out o, out[4];
	struct sl_group_stats st;
	uint64_t now = 0;
	uint32_t d;

	c.max_deliveries = 3;
	g = mk(&c);
	join(g, 1, 4, 0);
	join(g, 2, 4, 0);
	CHECK_EQ(sl_group_offer(g, 5, 77, now, &o), 1);
	CHECK_EQ(sl_group_offer(g, 6, 77, now, &o), 0); /* same key: waits */
	for (d = 1; d <= 3; d++) {
		int s = -1, i;

		for (i = 0; i < 2; i++)
			if (sl_group_member(g, (uint32_t)i)->outstanding)
				s = i;
		CHECK(s >= 0);
		CHECK_EQ(sl_group_nak(g, (uint32_t)s, 5, 0, 100 + d, now), 0);
		now += MS;
		CHECK_EQ(sl_group_poll(g, now, out, 4), 1);
		if (d < 3) {
			CHECK_EQ(out[0].action, SL_GROUP_ACT_DELIVER);
			CHECK_EQ(out[0].seq, 5);
			CHECK_EQ(out[0].delivery_count, d + 1);
		}
	}
	CHECK_EQ(out[0].action, SL_GROUP_ACT_DEAD_LETTER);
	CHECK_EQ(out[0].seq, 5);
	CHECK_EQ(out[0].delivery_count, 3);
	CHECK_EQ(out[0].last_error, 103);
	CHECK_EQ(out[0].reason, SL_GROUP_R_NAK);
	/* the key stays busy until the dead letter is settled */
	CHECK_EQ(sl_group_poll(g, now, out, 4), 0);
	CHECK_EQ(sl_group_ack(g, 0, 5, now), -ENOENT);
	CHECK_EQ(sl_group_ack(g, 1, 5, now), -ENOENT);
	/* dead-letter topic full: decide again later */
	CHECK_EQ(sl_group_dead_retry(g, 5, now + MS), 0);
	CHECK_EQ(sl_group_poll(g, now, out, 4), 0);
	CHECK_EQ(sl_group_poll(g, now + MS, out, 4), 1);
	CHECK_EQ(out[0].action, SL_GROUP_ACT_DEAD_LETTER);
	CHECK_EQ(sl_group_dead_settled(g, 5), 0);
	CHECK_EQ(sl_group_dead_settled(g, 5), -ENOENT);
	CHECK_EQ(sl_group_dead_settled(g, 6), -ENOENT);
	/* now 6 goes */
	CHECK_EQ(sl_group_poll(g, now + MS, out, 4), 1);
	CHECK_EQ(out[0].seq, 6);
	CHECK_EQ(out[0].delivery_count, 1);
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.dead_lettered, 2);
	CHECK_EQ(st.nacked, 3);
	CHECK_EQ(st.inflight, 1);
	rm(g);
}

/* A lost member's messages wait for it during its grace, go to the others
 * after it; a rejoin within the grace keeps them. */
static void
test_member_lost(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g;
	struct sl_group_out o, out[8];
	struct sl_group_stats st;
	uint32_t a, b, i;

	c.grace_ns = 100 * MS;
	g = mk(&c);
	a = join(g, 1, 2, 0);
	b = join(g, 2, 2, 0);
	for (i = 1; i <= 4; i++)
		CHECK_EQ(sl_group_offer(g, i, 0, 0, &o), 1);
	CHECK_EQ(sl_group_member_lost(g, a, 10 * MS), 0);
	CHECK_EQ(sl_group_member_lost(g, a, 10 * MS), -ENOENT);
	CHECK_EQ(sl_group_member(g, a)->state, SL_GROUP_M_DISCONNECTED);
	CHECK_EQ(sl_group_next_due(g), 110 * MS);
	CHECK_EQ(sl_group_poll(g, 109 * MS, out, 8), 0);
	/* rejoin (a new session) within the grace: it still holds 1 and 3 */
	CHECK_EQ(sl_group_join(g, 1, 555, 2, 0, 109 * MS, &i, NULL), 1);
	CHECK_EQ(i, a);
	CHECK_EQ(sl_group_member(g, a)->outstanding, 2);
	CHECK_EQ(sl_group_ack(g, a, 1, 109 * MS), 0);
	CHECK_EQ(sl_group_poll(g, 200 * MS, out, 8), 0);
	/* lost again, past the grace: 3 goes to b once b has credit */
	CHECK_EQ(sl_group_member_lost(g, a, 300 * MS), 0);
	CHECK_EQ(sl_group_poll(g, 400 * MS, out, 8), 0); /* b is full */
	CHECK_EQ(sl_group_member(g, a)->state, SL_GROUP_M_FREE);
	CHECK_EQ(sl_group_ack(g, b, 2, 400 * MS), 0);
	CHECK_EQ(sl_group_poll(g, 400 * MS, out, 8), 1);
	CHECK_EQ(out[0].seq, 3);
	CHECK_EQ(out[0].slot, b);
	CHECK_EQ(out[0].delivery_count, 2);
	CHECK_EQ(out[0].reason, SL_GROUP_R_MEMBER_LOST);
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.members_lost, 2);
	CHECK_EQ(st.rejoined, 1);
	CHECK_EQ(st.members, 1);
	rm(g);

	/* grace 0: at once */
	c.grace_ns = 0;
	g = mk(&c);
	a = join(g, 1, 2, 0);
	b = join(g, 2, 2, 0);
	CHECK_EQ(sl_group_offer(g, 1, 0, 0, &o), 1);
	CHECK_EQ(o.slot, a);
	CHECK_EQ(sl_group_member_lost(g, a, 0), 0);
	CHECK_EQ(sl_group_poll(g, 0, out, 8), 1);
	CHECK_EQ(out[0].slot, b);
	/* a new member with the old id is a new member: nothing held */
	CHECK_EQ(sl_group_join(g, 1, 1, 2, 0, 0, &i, NULL), 0);
	CHECK_EQ(sl_group_member(g, i)->outstanding, 0);
	CHECK_EQ(sl_group_ack(g, i, 1, 0), -ENOENT);
	/* leave: the same, by the member's own word */
	CHECK_EQ(sl_group_leave(g, b, 0), 0);
	CHECK_EQ(sl_group_poll(g, 0, out, 8), 1);
	CHECK_EQ(out[0].slot, i);
	CHECK_EQ(out[0].delivery_count, 3);
	rm(g);
}

/* Hostile acks: never given, another member's, twice, out of range. */
static void
test_hostile_acks(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g = mk(&c);
	struct sl_group_out o;
	struct sl_group_stats st;
	uint32_t a = join(g, 1, 4, 0), b = join(g, 2, 4, 0);

	CHECK_EQ(sl_group_offer(g, 10, 0, 0, &o), 1);
	CHECK_EQ(o.slot, a);
	CHECK_EQ(sl_group_offer(g, 11, 0, 0, &o), 1);
	CHECK_EQ(o.slot, b);
	CHECK_EQ(sl_group_ack(g, a, 12, 0), -ENOENT);	  /* never given */
	CHECK_EQ(sl_group_ack(g, a, 11, 0), -ENOENT);	  /* b's */
	CHECK_EQ(sl_group_nak(g, a, 11, 0, 1, 0), -ENOENT); /* b's */
	CHECK_EQ(sl_group_ack(g, 63, 10, 0), -ENOENT);	  /* no such member */
	CHECK_EQ(sl_group_ack(g, 1000, 10, 0), -ENOENT);
	CHECK_EQ(sl_group_ack_upto(g, a, 9, 0), -ENOENT); /* holds nothing <= 9 */
	CHECK_EQ(sl_group_ack_upto(g, 1000, 99, 0), -ENOENT);
	CHECK_EQ(sl_group_ack(g, a, 10, 0), 0);
	CHECK_EQ(sl_group_ack(g, a, 10, 0), -ENOENT); /* twice */
	CHECK_EQ(sl_group_member(g, b)->outstanding, 1);
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.ack_not_held, 8);
	CHECK_EQ(st.acked, 1);
	CHECK_EQ(sl_group_offer(g, 11, 0, 0, &o), -EEXIST);
	rm(g);
}

/* Cumulative ack: everything the member holds up to N, nobody else's. */
static void
test_ack_upto(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g = mk(&c);
	struct sl_group_out o;
	uint32_t a = join(g, 1, 16, 0), b = join(g, 2, 16, 0);
	uint64_t s;

	for (s = 1; s <= 20; s++)
		CHECK_EQ(sl_group_offer(g, s, 0, 0, &o), 1); /* a: odd, b: even */
	CHECK_EQ(sl_group_ack_upto(g, a, 10, 0), 5);
	CHECK_EQ(sl_group_member(g, a)->outstanding, 5);
	CHECK_EQ(sl_group_member(g, b)->outstanding, 10);
	CHECK_EQ(sl_group_ack(g, a, 9, 0), -ENOENT);
	CHECK_EQ(sl_group_ack(g, a, 11, 0), 0);
	CHECK_EQ(sl_group_ack_upto(g, a, 100, 0), 4);
	CHECK_EQ(sl_group_ack_upto(g, b, 2, 0), 1);
	CHECK_EQ(sl_group_member(g, a)->acked, 10);
	rm(g);
}

/* Pull: nothing beyond what the member fetched; push members unaffected. */
static void
test_pull(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g = mk(&c);
	struct sl_group_out o;
	uint32_t p = join(g, 1, 8, SL_GROUP_F_PULL), i, to_p = 0;

	CHECK_EQ(sl_group_offer(g, 1, 0, 0, &o), -EAGAIN);
	CHECK_EQ(sl_group_fetch(g, p, 3), 3);
	for (i = 1; i <= 3; i++) {
		CHECK_EQ(sl_group_offer(g, i, 0, 0, &o), 1);
		CHECK_EQ(o.slot, p);
	}
	CHECK_EQ(sl_group_offer(g, 4, 0, 0, &o), -EAGAIN);
	CHECK_EQ(sl_group_fetch(g, p, 100), 8); /* capped at its credit */
	CHECK_EQ(sl_group_fetch(g, 40, 1), -ENOENT);
	{
		uint32_t q = join(g, 2, 100, 0);

		CHECK_EQ(sl_group_fetch(g, q, 1), -EINVAL); /* not a pull member */
		for (i = 4; i < 40; i++) {
			CHECK_EQ(sl_group_offer(g, i, 0, 0, &o), 1);
			to_p += o.slot == p;
		}
	}
	/* budget 8, but credit 8 with 3 held: 5 more */
	CHECK_EQ(to_p, 5);
	CHECK_EQ(sl_group_member(g, p)->outstanding, 8);
	rm(g);
}

/* Pause: keeps what it holds, gets nothing new; resume: takes again. */
static void
test_pause(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g = mk(&c);
	struct sl_group_out o;
	uint32_t a = join(g, 1, 8, 0), b = join(g, 2, 8, 0), i;

	CHECK_EQ(sl_group_offer(g, 1, 0, 0, &o), 1);
	CHECK_EQ(sl_group_pause(g, a), 0);
	for (i = 2; i < 8; i++) {
		CHECK_EQ(sl_group_offer(g, i, 0, 0, &o), 1);
		CHECK_EQ(o.slot, b);
	}
	CHECK_EQ(sl_group_ack(g, a, 1, 0), 0); /* a paused member still acks */
	CHECK_EQ(sl_group_pause(g, b), 0);
	CHECK_EQ(sl_group_offer(g, 8, 0, 0, &o), -EAGAIN);
	CHECK_EQ(sl_group_resume(g, a), 0);
	CHECK_EQ(sl_group_offer(g, 8, 0, 0, &o), 1);
	CHECK_EQ(o.slot, a);
	CHECK_EQ(sl_group_pause(g, 50), -ENOENT);
	rm(g);
}

/* Key affinity: a busy key holds its next messages back; the blocked list
 * is bounded (back-pressure, nothing dropped); a key prefers one member. */
static void
test_key_blocked(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_KEY_AFFINITY);
	struct sl_group *g;
	struct sl_group_out o, out[8];
	struct sl_group_stats st;
	uint32_t a, pref, i;

	c.max_blocked = 3;
	g = mk(&c);
	a = join(g, 1, 8, 0);
	join(g, 2, 8, 0);
	join(g, 3, 8, 0);
	CHECK_EQ(sl_group_offer(g, 1, 500, 0, &o), 1);
	pref = o.slot;
	CHECK_EQ(sl_group_offer(g, 2, 500, 0, &o), 0);
	CHECK_EQ(sl_group_offer(g, 3, 500, 0, &o), 0);
	CHECK_EQ(sl_group_offer(g, 4, 501, 0, &o), 1); /* another key flows */
	CHECK_EQ(sl_group_offer(g, 5, 500, 0, &o), 0);
	CHECK_EQ(sl_group_offer(g, 6, 500, 0, &o), -ENOBUFS);
	CHECK_EQ(sl_group_offer(g, 6, 502, 0, &o), 1); /* a free key still flows */
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.blocked_full, 1);
	CHECK_EQ(st.blocked, 3);
	CHECK_EQ(st.held, 3);
	CHECK_EQ(sl_group_poll(g, 0, out, 8), 0);
	CHECK_EQ(sl_group_ack(g, pref, 1, 0), 0);
	/* 2 goes, to the key's member; 3 and 5 stay */
	CHECK_EQ(sl_group_poll(g, 0, out, 8), 1);
	CHECK_EQ(out[0].seq, 2);
	CHECK_EQ(out[0].slot, pref);
	CHECK_EQ(sl_group_ack(g, pref, 2, 0), 0);
	CHECK_EQ(sl_group_poll(g, 0, out, 8), 1);
	CHECK_EQ(out[0].seq, 3);
	/* its member paused: the key moves, as nothing of it is in flight */
	CHECK_EQ(sl_group_pause(g, pref), 0);
	CHECK_EQ(sl_group_ack(g, pref, 3, 0), 0);
	CHECK_EQ(sl_group_poll(g, 0, out, 8), 1);
	CHECK_EQ(out[0].seq, 5);
	CHECK(out[0].slot != pref);
	(void)a;
	/* the same key keeps going to the same member while it can take it */
	rm(g);
	c.max_blocked = 64;
	g = mk(&c);
	for (i = 1; i <= 3; i++)
		join(g, i, 1000, 0);
	{
		uint32_t first[64];
		uint64_t s = 1;

		for (i = 0; i < 64; i++) {
			CHECK_EQ(sl_group_offer(g, s, 1000 + i, 0, &o), 1);
			first[i] = o.slot;
			CHECK_EQ(sl_group_ack(g, o.slot, s, 0), 0);
			s++;
		}
		for (i = 0; i < 64; i++) {
			CHECK_EQ(sl_group_offer(g, s, 1000 + i, 0, &o), 1);
			CHECK_EQ(o.slot, first[i]);
			CHECK_EQ(sl_group_ack(g, o.slot, s, 0), 0);
			s++;
		}
	}
	rm(g);
}

/* The member each of @n keys goes to (everyone with room to spare). */
static void
key_map(struct sl_group *g, uint64_t *seq, uint64_t *ids, uint32_t n)
{
	struct sl_group_out o;
	uint32_t k;

	for (k = 0; k < n; k++) {
		CHECK_EQ(sl_group_offer(g, *seq, 5000 + k, 0, &o), 1);
		ids[k] = o.member_id;
		CHECK_EQ(sl_group_ack(g, o.slot, *seq, 0), 0);
		(*seq)++;
	}
}

/* Key buckets follow the members present, not the order they came in: a
 * leaving member's keys spread over the others and nobody else's move; a
 * joining member takes keys only for itself. */
static void
test_key_rebalance(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_KEY_AFFINITY);
	struct sl_group *g = mk(&c), *h = mk(&c);
	enum { NK = 2000 };
	static uint64_t before[NK], after[NK], fresh[NK];
	uint64_t seq = 1, seq2 = 1;
	uint32_t k, moved = 0, cnt[3] = { 0 };

	join(g, 11, 100, 0);
	join(g, 22, 100, 0);
	join(g, 33, 100, 0);
	key_map(g, &seq, before, NK);
	for (k = 0; k < NK; k++)
		cnt[before[k] / 11 - 1]++;
	for (k = 0; k < 3; k++)
		CHECK(cnt[k] > NK / 5); /* a fair share each */
	CHECK_EQ(sl_group_leave(g, 1, 0), 0); /* member 22 */
	key_map(g, &seq, after, NK);
	for (k = 0; k < NK; k++) {
		CHECK(after[k] != 22);
		if (before[k] != 22)
			CHECK_EQ(after[k], before[k]);
	}
	join(g, 44, 100, 0); /* takes slot 1 */
	key_map(g, &seq, before, NK);
	for (k = 0; k < NK; k++) {
		if (before[k] != after[k]) {
			CHECK_EQ(before[k], 44);
			moved++;
		}
	}
	CHECK(moved > NK / 5 && moved < NK / 2);
	/* the same members, joined in another history: the same map */
	join(h, 11, 100, 0);
	join(h, 44, 100, 0);
	join(h, 33, 100, 0);
	key_map(h, &seq2, fresh, NK);
	for (k = 0; k < NK; k++)
		if (fresh[k] != before[k]) {
			CHECK_EQ(fresh[k], before[k]);
			break;
		}
	rm(g);
	rm(h);
}

/* --- the model ----------------------------------------------------------------- */

/*
 * A reference of what the engine may do, checked at every step: it knows
 * each message's state (held by whom, due when, dead, blocked, settled)
 * and each member's, and checks every answer and every action of the
 * engine against it: a delivery only to a member that can take it, only
 * of a message due (per-key: the oldest unsettled of its key), the count
 * one more each time, acks accepted exactly when held, dead letters exactly
 * at max_deliveries, and nothing left due while a member could take it.
 * At the end every offered message is settled exactly once.
 */
enum { MS_NONE, MS_HELD, MS_PENDING, MS_DEAD, MS_BLOCKED, MS_SETTLED };

struct mmsg {
	uint64_t key, due, knext;
	uint32_t state, holder, count, settled, hpos;
};

struct mmem {
	uint64_t id;
	uint32_t state, credit, outstanding, fetch, pull;
	uint64_t grace_end;
	uint64_t *held; /* the sequences it holds (outstanding of them) */
};

struct model {
	struct sl_group *g;
	struct sl_group_cfg c;
	struct mmsg *msg;
	uint64_t *kfirst, *klast; /* per key: oldest and newest unsettled */
	struct mmem m[SL_MAX_GROUP_MEMBERS];
	uint64_t nmsg, next_seq, now, nkeys, low;
	uint32_t unsettled, blocked;
	uint64_t delivered, redelivered, dead, acked;
};

static int
m_eligible(const struct model *md, uint32_t s)
{
	const struct mmem *m = &md->m[s];

	return m->state == SL_GROUP_M_ACTIVE && m->outstanding < m->credit &&
	       (!m->pull || m->fetch > 0);
}

static int
m_any_eligible(const struct model *md)
{
	uint32_t s;

	for (s = 0; s < md->c.max_members; s++)
		if (m_eligible(md, s))
			return 1;
	return 0;
}

static int
affinity(const struct model *md, uint64_t key)
{
	return md->c.policy == SL_GROUP_KEY_AFFINITY && key != 0;
}

static void
m_hold(struct model *md, uint64_t q, uint32_t s)
{
	struct mmem *m = &md->m[s];

	md->msg[q].state = MS_HELD;
	md->msg[q].holder = s;
	md->msg[q].hpos = m->outstanding;
	m->held[m->outstanding++] = q;
}

/* @q leaves its holder's list. */
static void
m_drop(struct model *md, uint64_t q)
{
	struct mmem *m = &md->m[md->msg[q].holder];
	uint32_t pos = md->msg[q].hpos;
	uint64_t last = m->held[--m->outstanding];

	m->held[pos] = last;
	md->msg[last].hpos = pos;
}

/* Check and apply one action of the engine. */
static void
m_apply(struct model *md, const struct sl_group_out *o)
{
	struct mmsg *x;

	CHECK(o->seq >= 1 && o->seq < md->next_seq);
	if (o->seq < 1 || o->seq >= md->next_seq)
		return;
	x = &md->msg[o->seq];
	if (o->action == SL_GROUP_ACT_DEAD_LETTER) {
		CHECK_EQ(x->state, MS_PENDING);
		CHECK(x->due <= md->now);
		CHECK(md->c.max_deliveries && x->count >= md->c.max_deliveries);
		CHECK_EQ(o->delivery_count, x->count);
		x->state = MS_DEAD;
		md->dead++;
		return;
	}
	CHECK_EQ(o->action, SL_GROUP_ACT_DELIVER);
	CHECK(o->slot < md->c.max_members);
	if (o->slot >= md->c.max_members)
		return;
	CHECK(m_eligible(md, o->slot));
	CHECK_EQ(o->member_id, md->m[o->slot].id);
	if (x->state == MS_PENDING) {
		CHECK(x->due <= md->now);
		CHECK(!md->c.max_deliveries || x->count < md->c.max_deliveries);
	} else {
		CHECK_EQ(x->state, MS_BLOCKED);
		md->blocked--;
	}
	/* per-key order: only the oldest unsettled message of a key goes */
	if (affinity(md, x->key))
		CHECK_EQ(md->kfirst[x->key], o->seq);
	CHECK_EQ(o->delivery_count, x->count + 1);
	x->count++;
	if (x->count > 1)
		md->redelivered++;
	else
		md->delivered++;
	if (!m_eligible(md, o->slot))
		return;
	m_hold(md, o->seq, o->slot);
	x->due = md->c.ack_wait_ns ? md->now + md->c.ack_wait_ns : UINT64_MAX;
	if (md->m[o->slot].pull)
		md->m[o->slot].fetch--;
}

static void
m_unhold(struct model *md, uint64_t q, uint64_t due)
{
	m_drop(md, q);
	md->msg[q].state = MS_PENDING;
	md->msg[q].due = due;
}

static void
m_release(struct model *md, uint32_t s)
{
	while (md->m[s].outstanding)
		m_unhold(md, md->m[s].held[0], md->now);
	md->m[s].state = SL_GROUP_M_FREE;
}

static void
m_check_gauges(struct model *md)
{
	struct sl_group_stats st;
	uint32_t s;

	sl_group_stats_get(md->g, &st);
	CHECK_EQ(st.inflight, md->unsettled - md->blocked);
	CHECK_EQ(st.blocked, md->blocked);
	CHECK_EQ(st.delivered, md->delivered);
	CHECK_EQ(st.redelivered, md->redelivered);
	CHECK_EQ(st.dead_lettered, md->dead);
	CHECK_EQ(st.acked, md->acked);
	for (s = 0; s < md->c.max_members; s++) {
		const struct sl_group_member *m = sl_group_member(md->g, s);

		CHECK_EQ(m->state, md->m[s].state);
		if (m->state != SL_GROUP_M_FREE)
			CHECK_EQ(m->outstanding, md->m[s].outstanding);
	}
}

static void
m_poll(struct model *md)
{
	static struct sl_group_out out[8192];
	uint64_t q;
	uint32_t s, i;
	unsigned n;
	int due_left = 0;

	for (s = 0; s < md->c.max_members; s++)
		if (md->m[s].state == SL_GROUP_M_DISCONNECTED && md->m[s].grace_end <= md->now)
			m_release(md, s);
	for (s = 0; s < md->c.max_members; s++)
		for (i = 0; i < md->m[s].outstanding;) {
			q = md->m[s].held[i];
			if (md->msg[q].due <= md->now)
				m_unhold(md, q, md->now); /* moves the last into i */
			else
				i++;
		}
	n = sl_group_poll(md->g, md->now, out, 8192);
	CHECK(n < 8192);
	for (i = 0; i < n; i++)
		m_apply(md, &out[i]);
	/* Liveness: nothing due is left behind while someone can take it,
	 * and no dead letter is left undecided. */
	while (md->low < md->next_seq && md->msg[md->low].state == MS_SETTLED)
		md->low++;
	for (q = md->low; q < md->next_seq; q++) {
		const struct mmsg *x = &md->msg[q];

		if (x->state == MS_PENDING && x->due <= md->now) {
			if (md->c.max_deliveries && x->count >= md->c.max_deliveries)
				due_left |= 2;
			else
				due_left |= 1;
		}
		if (x->state == MS_BLOCKED && md->kfirst[x->key] == q &&
		    md->unsettled - md->blocked < md->c.max_inflight)
			due_left |= 1;
	}
	CHECK(!(due_left & 2));
	if (due_left & 1)
		CHECK(!m_any_eligible(md));
	m_check_gauges(md);
}

static void
m_offer(struct model *md)
{
	struct sl_group_out o;
	uint64_t seq = md->next_seq, key;
	struct mmsg *x;
	int rc, busy = 0;

	if (seq >= md->nmsg)
		return;
	key = md->nkeys ? rng() % md->nkeys + 1 : 0;
	if (key == md->nkeys && md->nkeys > 4)
		key = 0; /* some messages without a key */
	rc = sl_group_offer(md->g, seq, key, md->now, &o);
	if (affinity(md, key))
		busy = md->kfirst[key] != 0;
	if (rc == -ENOBUFS) {
		CHECK(busy);
		CHECK_EQ(md->blocked, md->c.max_blocked);
		return;
	}
	if (rc == -EAGAIN) {
		CHECK(!busy);
		CHECK(!m_any_eligible(md) || md->unsettled - md->blocked == md->c.max_inflight);
		return;
	}
	x = &md->msg[seq];
	x->key = key;
	md->next_seq++;
	md->unsettled++;
	if (affinity(md, key)) {
		if (md->kfirst[key] == 0)
			md->kfirst[key] = seq;
		else
			md->msg[md->klast[key]].knext = seq;
		md->klast[key] = seq;
	}
	if (rc == 0) {
		CHECK(busy);
		x->state = MS_BLOCKED;
		md->blocked++;
		return;
	}
	CHECK_EQ(rc, 1);
	CHECK(!busy);
	x->state = MS_PENDING; /* as good as due: m_apply checks the delivery */
	x->due = 0;
	m_apply(md, &o);
}

/* A message @s holds, at random, or 0. */
static uint64_t
m_pick_held(struct model *md, uint32_t s)
{
	struct mmem *m = &md->m[s];

	return m->outstanding ? m->held[rng() % m->outstanding] : 0;
}

static void
m_settle(struct model *md, uint64_t q)
{
	struct mmsg *x = &md->msg[q];

	if (x->state == MS_HELD)
		m_drop(md, q);
	if (affinity(md, x->key)) {
		CHECK_EQ(md->kfirst[x->key], q);
		md->kfirst[x->key] = x->knext;
		if (x->knext == 0)
			md->klast[x->key] = 0;
	}
	x->state = MS_SETTLED;
	x->settled++;
	md->unsettled--;
}

static void
m_ack(struct model *md, uint32_t s, int hostile)
{
	uint64_t q = hostile ? rng() % (md->next_seq + 2) : m_pick_held(md, s);
	int held, rc;

	if (q == 0)
		return;
	held = q < md->next_seq && md->msg[q].state == MS_HELD && md->msg[q].holder == s;
	if (rng() % 4 == 0) {
		uint32_t delay = (uint32_t)(rng() % 3) * 2 * MS;

		rc = sl_group_nak(md->g, s, q, delay, (uint32_t)q, md->now);
		CHECK_EQ(rc, held ? 0 : -ENOENT);
		if (held && rc == 0)
			m_unhold(md, q, md->now + delay);
		return;
	}
	rc = sl_group_ack(md->g, s, q, md->now);
	CHECK_EQ(rc, held ? 0 : -ENOENT);
	if (held && rc == 0) {
		m_settle(md, q);
		md->acked++;
	}
}

static void
m_ack_upto(struct model *md, uint32_t s)
{
	uint64_t lim = rng() % (md->next_seq + 1);
	uint32_t i;
	int n = 0, rc;

	for (i = 0; i < md->m[s].outstanding; i++)
		n += md->m[s].held[i] <= lim;
	rc = sl_group_ack_upto(md->g, s, lim, md->now);
	CHECK_EQ(rc, n ? n : -ENOENT);
	for (i = 0; i < md->m[s].outstanding;) {
		uint64_t q = md->m[s].held[i];

		if (q <= lim) {
			m_settle(md, q); /* moves the last into i */
			md->acked++;
		} else {
			i++;
		}
	}
}

static void
m_settle_dead(struct model *md)
{
	uint64_t q;

	for (q = md->low; q < md->next_seq; q++) {
		if (md->msg[q].state != MS_DEAD)
			continue;
		if (rng() % 8 == 0) {
			CHECK_EQ(sl_group_dead_retry(md->g, q, md->now + MS), 0);
			md->msg[q].state = MS_PENDING;
			md->msg[q].due = md->now + MS;
			continue;
		}
		CHECK_EQ(sl_group_dead_settled(md->g, q), 0);
		m_settle(md, q);
	}
}

static void
m_set_member(struct model *md, uint32_t slot, uint64_t id, uint32_t credit, uint32_t pull,
	     int fresh)
{
	struct mmem *m = &md->m[slot];

	if (fresh) {
		CHECK_EQ(m->outstanding, 0);
		m->fetch = 0;
	} else if (m->pull != pull) {
		m->fetch = 0;
	}
	m->id = id;
	m->credit = credit;
	m->pull = pull;
	m->state = SL_GROUP_M_ACTIVE;
}

static void
m_member_op(struct model *md)
{
	uint32_t s = (uint32_t)(rng() % md->c.max_members), slot;
	struct mmem *m = &md->m[s];
	int r = (int)(rng() % 10), rc;

	if (m->state == SL_GROUP_M_FREE || r == 0 ||
	    (m->state == SL_GROUP_M_DISCONNECTED && r < 6)) {
		/* join (a new id, or a rejoin of a lost or live one) */
		uint64_t id = m->state == SL_GROUP_M_FREE ? 1000 + rng() % 1000 : m->id;
		uint32_t credit = 1 + (uint32_t)(rng() % 6), pull = rng() % 5 == 0, i, free_s = 99;
		int existing = sl_group_find(md->g, id);

		for (i = 0; i < md->c.max_members && existing < 0; i++)
			if (md->m[i].state == SL_GROUP_M_FREE) {
				free_s = i;
				break;
			}
		rc = sl_group_join(md->g, id, id, credit, pull ? SL_GROUP_F_PULL : 0, md->now,
				   &slot, NULL);
		if (existing >= 0) {
			CHECK_EQ(rc, 1);
			CHECK_EQ(slot, (uint32_t)existing);
		} else if (free_s == 99) {
			CHECK_EQ(rc, -ENOSPC);
			return;
		} else {
			CHECK_EQ(rc, 0);
			CHECK_EQ(slot, free_s);
		}
		if (slot < md->c.max_members)
			m_set_member(md, slot, id, credit, pull, existing < 0);
		return;
	}
	if (r == 1) {
		CHECK_EQ(sl_group_leave(md->g, s, md->now), 0);
		m_release(md, s);
	} else if (r == 2) {
		rc = sl_group_member_lost(md->g, s, md->now);
		if (m->state == SL_GROUP_M_DISCONNECTED) {
			CHECK_EQ(rc, -ENOENT);
		} else {
			CHECK_EQ(rc, 0);
			if (md->c.grace_ns == 0) {
				m_release(md, s);
			} else {
				m->state = SL_GROUP_M_DISCONNECTED;
				m->grace_end = md->now + md->c.grace_ns;
			}
		}
	} else if (r == 3 && m->state != SL_GROUP_M_DISCONNECTED) {
		CHECK_EQ(sl_group_pause(md->g, s), 0);
		m->state = SL_GROUP_M_PAUSED;
	} else if (r <= 5 && m->state != SL_GROUP_M_DISCONNECTED) {
		CHECK_EQ(sl_group_resume(md->g, s), 0);
		m->state = SL_GROUP_M_ACTIVE;
	} else if (m->pull) {
		uint32_t n = (uint32_t)(rng() % 4), f = m->fetch + n;

		CHECK_EQ(sl_group_fetch(md->g, s, n), f > m->credit ? m->credit : f);
		m->fetch = f > m->credit ? m->credit : f;
	}
}

static void
model_init(struct model *md, const struct sl_group_cfg *c, uint64_t nmsg, uint64_t nkeys)
{
	uint32_t s;

	memset(md, 0, sizeof(*md));
	md->c = *c;
	md->g = mk(c);
	md->nmsg = nmsg;
	md->nkeys = nkeys;
	md->next_seq = md->low = 1;
	md->msg = calloc(nmsg + 1, sizeof(*md->msg));
	md->kfirst = calloc(nkeys + 1, sizeof(uint64_t));
	md->klast = calloc(nkeys + 1, sizeof(uint64_t));
	for (s = 0; s < SL_MAX_GROUP_MEMBERS; s++)
		md->m[s].held = calloc(SL_MAX_GROUP_CREDIT, sizeof(uint64_t));
}

/* The exported unsettled set is the model's, in sequence order. */
static void
m_check_export(struct model *md)
{
	uint32_t n = sl_group_unacked_count(md->g), i;
	struct sl_group_unacked *u = calloc(n + 1, sizeof(*u));
	int rc = sl_group_export(md->g, u, n);

	CHECK_EQ(n, md->unsettled);
	CHECK_EQ(rc, (int)n);
	for (i = 0; rc > 0 && i < (uint32_t)rc; i++) {
		const struct mmsg *x = &md->msg[u[i].seq];

		CHECK(i == 0 || u[i].seq > u[i - 1].seq);
		CHECK(x->state != MS_SETTLED && x->state != MS_NONE);
		CHECK_EQ(u[i].delivery_count, x->count);
	}
	free(u);
}

/* Everyone acks until every offered message is settled; then each once. */
static void
model_drain(struct model *md)
{
	struct sl_group_stats st;
	uint32_t s, round;
	uint64_t q;

	for (s = 0; s < md->c.max_members; s++)
		if (md->m[s].state == SL_GROUP_M_PAUSED) {
			CHECK_EQ(sl_group_resume(md->g, s), 0);
			md->m[s].state = SL_GROUP_M_ACTIVE;
		}
	/* lost members come back; an empty group gets one */
	for (s = 0; s < md->c.max_members; s++)
		if (md->m[s].state == SL_GROUP_M_DISCONNECTED) {
			CHECK_EQ(sl_group_join(md->g, md->m[s].id, 1, md->m[s].credit, 0, md->now,
					       NULL, NULL), 1);
			m_set_member(md, s, md->m[s].id, md->m[s].credit, 0, 0);
		}
	sl_group_stats_get(md->g, &st);
	if (st.members == 0) {
		uint32_t slot = 0;

		CHECK_EQ(sl_group_join(md->g, 7, 7, 4, 0, md->now, &slot, NULL), 0);
		m_set_member(md, slot, 7, 4, 0, 1);
	}
	for (round = 0; round < 100000 && md->unsettled; round++) {
		md->now += 3 * MS;
		m_poll(md);
		m_settle_dead(md);
		for (s = 0; s < md->c.max_members; s++) {
			struct mmem *m = &md->m[s];

			if (m->pull && m->state == SL_GROUP_M_ACTIVE) {
				CHECK(sl_group_fetch(md->g, s, 4) >= 0);
				m->fetch = m->fetch + 4 > m->credit ? m->credit : m->fetch + 4;
			}
			while (m->outstanding) {
				q = m->held[0];
				CHECK_EQ(sl_group_ack(md->g, s, q, md->now), 0);
				m_settle(md, q);
				md->acked++;
			}
		}
	}
	CHECK_EQ(md->unsettled, 0);
	for (q = 1; q < md->next_seq; q++)
		if (md->msg[q].settled != 1) {
			CHECK_EQ(md->msg[q].settled, 1);
			break;
		}
	m_check_gauges(md);
}

static void
model_free(struct model *md)
{
	uint32_t s;

	rm(md->g);
	free(md->msg);
	free(md->kfirst);
	free(md->klast);
	for (s = 0; s < SL_MAX_GROUP_MEMBERS; s++)
		free(md->m[s].held);
}

/* Seeded random operations against the reference, every policy. */
static void
test_model(uint32_t policy, uint64_t seed)
{
	struct sl_group_cfg c = {
		.policy = policy, .max_members = 5, .max_inflight = 24,
		.max_blocked = policy == SL_GROUP_KEY_AFFINITY ? 12 : 0,
		.max_credit = 6, .max_deliveries = 4, .ack_wait_ns = 20 * MS,
		.grace_ns = seed % 2 ? 15 * MS : 0,
	};
	struct model md;
	uint32_t step;

	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	model_init(&md, &c, 1500, 1 + seed % 7 * 3);
	for (step = 0; step < 6000; step++) {
		uint32_t r = (uint32_t)(rng() % 100), s = (uint32_t)(rng() % c.max_members);

		if (r < 30)
			m_offer(&md);
		else if (r < 50)
			m_poll(&md);
		else if (r < 68) {
			if (md.m[s].state != SL_GROUP_M_FREE)
				m_ack(&md, s, 0);
		} else if (r < 71)
			m_ack(&md, s, 1);
		else if (r < 74) {
			if (md.m[s].state != SL_GROUP_M_FREE)
				m_ack_upto(&md, s);
		} else if (r < 80)
			m_member_op(&md);
		else if (r < 84)
			m_settle_dead(&md);
		else
			md.now += (rng() % 4) * MS;
	}
	m_check_export(&md);
	model_drain(&md);
	model_free(&md);
}

/* Key affinity over 10,000 keys, one member killed mid-stream and a new
 * one joining: per-key order holds throughout (m_apply checks each
 * delivery is the oldest unsettled of its key), nothing lost. */
static void
test_key_order_kill(void)
{
	struct sl_group_cfg c = {
		.policy = SL_GROUP_KEY_AFFINITY, .max_members = 4, .max_inflight = 4096,
		.max_blocked = 4096, .ack_wait_ns = 0, .grace_ns = 5 * MS,
	};
	struct model md;
	uint32_t s, step;

	rng_state = 42;
	model_init(&md, &c, 30000, 10000);
	for (s = 0; s < 3; s++) {
		CHECK_EQ(sl_group_join(md.g, s + 1, s, 256, 0, 0, NULL, NULL), 0);
		m_set_member(&md, s, s + 1, 256, 0, 1);
	}
	for (step = 0; md.next_seq < md.nmsg && step < 400000; step++) {
		uint32_t r = (uint32_t)(rng() % 10);

		if (step == 20000) {
			/* kill -9 of member 2: lost, no rejoin */
			CHECK_EQ(sl_group_member_lost(md.g, 1, md.now), 0);
			md.m[1].state = SL_GROUP_M_DISCONNECTED;
			md.m[1].grace_end = md.now + c.grace_ns;
		}
		if (step == 40000) {
			CHECK_EQ(sl_group_join(md.g, 9, 9, 256, 0, md.now, &s, NULL), 0);
			m_set_member(&md, s, 9, 256, 0, 1);
		}
		if (r < 5) {
			m_offer(&md);
		} else if (r < 9) {
			s = (uint32_t)(rng() % 4);
			if (md.m[s].state == SL_GROUP_M_ACTIVE)
				m_ack(&md, s, 0);
		} else {
			md.now += MS / 4;
			/* the slow poll of the model: every 64th step only */
			if (step % 64 == 9)
				m_poll(&md);
		}
		if (step % 64 == 0)
			m_poll(&md);
	}
	CHECK_EQ(md.next_seq, md.nmsg);
	m_check_export(&md);
	model_drain(&md);
	{
		struct sl_group_stats st;

		sl_group_stats_get(md.g, &st);
		CHECK(st.redelivered > 0); /* the killed member held some */
		CHECK(st.held > 0);
		CHECK_EQ(st.members_lost, 1);
	}
	model_free(&md);
}

/* Export for a durable save and restore after a restart: the same
 * unsettled set, counts kept, a key's later messages behind its first. */
static void
test_export_restore(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_KEY_AFFINITY);
	struct sl_group *g = mk(&c), *h;
	struct sl_group_out o, out[16];
	struct sl_group_unacked u[16];
	uint32_t a = join(g, 1, 8, 0), i;
	int n;

	CHECK_EQ(sl_group_offer(g, 1, 11, 0, &o), 1);
	CHECK_EQ(sl_group_offer(g, 2, 12, 0, &o), 1);
	CHECK_EQ(sl_group_offer(g, 3, 11, 0, &o), 0);
	CHECK_EQ(sl_group_offer(g, 4, 0, 0, &o), 1);
	CHECK_EQ(sl_group_ack(g, a, 2, 0), 0);
	CHECK_EQ(sl_group_nak(g, a, 1, 0, 5, 0), 0);
	CHECK_EQ(sl_group_poll(g, 0, out, 16), 1); /* 1 again: count 2 */
	CHECK_EQ(sl_group_unacked_count(g), 3);
	CHECK_EQ(sl_group_export(g, u, 2), -ENOSPC);
	n = sl_group_export(g, u, 16);
	CHECK_EQ(n, 3);
	CHECK_EQ(u[0].seq, 1);
	CHECK_EQ(u[0].delivery_count, 2);
	CHECK_EQ(u[1].seq, 3);
	CHECK_EQ(u[1].delivery_count, 0);
	CHECK_EQ(u[2].seq, 4);
	CHECK_EQ(u[2].delivery_count, 1);
	h = mk(&c);
	CHECK_EQ(sl_group_restore(h, 1, 11, 2, 0), 0);
	CHECK_EQ(sl_group_restore(h, 1, 11, 2, 0), -EEXIST);
	CHECK_EQ(sl_group_restore(h, 3, 11, 0, 0), 0);
	CHECK_EQ(sl_group_restore(h, 4, 0, 1, 0), 0);
	CHECK_EQ(sl_group_poll(h, 0, out, 16), 0); /* no member yet */
	a = join(h, 5, 8, 0);
	CHECK_EQ(sl_group_poll(h, 0, out, 16), 2);
	CHECK_EQ(out[0].seq, 1);
	CHECK_EQ(out[0].delivery_count, 3);
	CHECK_EQ(out[0].reason, SL_GROUP_R_RESTORED);
	CHECK_EQ(out[1].seq, 4);
	CHECK_EQ(out[1].delivery_count, 2);
	CHECK_EQ(sl_group_ack(h, a, 1, 0), 0);
	CHECK_EQ(sl_group_poll(h, 0, out, 16), 1);
	CHECK_EQ(out[0].seq, 3);
	CHECK_EQ(out[0].delivery_count, 1);
	for (i = 0; i < 2; i++)
		(void)u[i];
	rm(g);
	rm(h);
}

/* Bounds: a full in-flight table refuses offers (back-pressure), never
 * grows; -EAGAIN leaves nothing behind. */
static void
test_inflight_bound(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_ROUND_ROBIN);
	struct sl_group *g;
	struct sl_group_out o;
	struct sl_group_stats st;
	uint64_t s;

	c.max_inflight = 10;
	g = mk(&c);
	join(g, 1, 100, 0);
	for (s = 1; s <= 10; s++)
		CHECK_EQ(sl_group_offer(g, s, 0, 0, &o), 1);
	CHECK_EQ(sl_group_offer(g, 11, 0, 0, &o), -EAGAIN);
	CHECK_EQ(sl_group_can_take(g), 0);
	CHECK_EQ(sl_group_ack(g, 0, 3, 0), 0);
	CHECK_EQ(sl_group_can_take(g), 1);
	CHECK_EQ(sl_group_offer(g, 11, 0, 0, &o), 1);
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.no_credit, 1);
	CHECK_EQ(st.inflight, 10);
	CHECK_EQ(st.offered, 11);
	rm(g);
}

/* A message the caller can no longer read is dropped: settled (its key
 * free again), not counted as acknowledged; only its holder may drop it. */
static void
test_drop(void)
{
	struct sl_group_cfg c = cfg(SL_GROUP_KEY_AFFINITY);
	struct sl_group *g = mk(&c);
	struct sl_group_stats st;
	struct sl_group_out o;
	uint32_t a = join(g, 1, 4, 0), b = join(g, 2, 4, 0);

	CHECK_EQ(sl_group_offer(g, 1, 77, 0, &o), 1);
	CHECK_EQ(sl_group_drop(g, o.slot == a ? b : a, 1), -ENOENT);
	CHECK_EQ(sl_group_drop(g, o.slot, 1), 0);
	CHECK_EQ(sl_group_drop(g, o.slot, 1), -ENOENT);
	sl_group_stats_get(g, &st);
	CHECK_EQ(st.acked, 0);
	CHECK_EQ(st.inflight, 0);
	/* Key 77 is free: its next message goes out at once, not held. */
	CHECK_EQ(sl_group_offer(g, 2, 77, 0, &o), 1);
	rm(g);
}

int
main(void)
{
	uint64_t seed;

	test_init();
	test_members_full();
	test_exactly_once(SL_GROUP_ROUND_ROBIN);
	test_exactly_once(SL_GROUP_LEAST_OUTSTANDING);
	test_exactly_once(SL_GROUP_KEY_AFFINITY);
	test_fairness();
	test_credit_bound(SL_GROUP_ROUND_ROBIN);
	test_credit_bound(SL_GROUP_LEAST_OUTSTANDING);
	test_credit_bound(SL_GROUP_KEY_AFFINITY);
	test_ack_wait();
	test_nak_delay();
	test_dead_letter();
	test_member_lost();
	test_hostile_acks();
	test_ack_upto();
	test_pull();
	test_pause();
	test_key_blocked();
	test_key_rebalance();
	test_export_restore();
	test_inflight_bound();
	test_key_order_kill();
	test_drop();
	for (seed = 1; seed <= 12; seed++) {
		test_model(SL_GROUP_ROUND_ROBIN, seed);
		test_model(SL_GROUP_LEAST_OUTSTANDING, seed);
		test_model(SL_GROUP_KEY_AFFINITY, seed);
	}
	return check_result("test_group");
}
