/* SPDX-License-Identifier: BSD-3-Clause */
/* sluice-loadgen --group: the subscribers are members of a consumer group, acking each
 * message; per-member counts, redeliveries and dead letters for the report. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "loadgen.h"

int
sl_lg_group_setup(struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	struct sl_group_opts go = { .group = cf->group, .credit = cf->credit };
	struct sl_group_info info;
	unsigned j, k;
	int rc;

	for (j = 0; j < cf->subs; j++) {
		for (k = 0; k < cf->topics; k++) {
			go.topic_id = r->topic_ids[k];
			rc = sl_client_group_join(r->subs[j], &go, &info);
			if (rc < 0) {
				fprintf(stderr, LG_NAME ": consumer %u cannot join group %s of %s.%u: "
					"%s\n", j, cf->group, cf->prefix, k,
					rc == -ESRCH ? "no such group (sluicectl group create "
					"TOPIC NAME)" : rc == -EPERM ? "not allowed (ACL: consume)" :
					rc == -EPROTONOSUPPORT ? "the broker has no consumer groups "
					"(protocol version 3)" : strerror(-rc));
				return rc;
			}
		}
	}
	if (cf->dead_letter == NULL)
		return 0;
	rc = sl_client_resolve(r->dead, cf->dead_letter, 1, &r->dead_topic);
	if (rc == 0)
		rc = sl_client_subscribe(r->dead, r->dead_topic);
	if (rc < 0)
		fprintf(stderr, LG_NAME ": cannot subscribe to the dead-letter topic %s: %s\n",
			cf->dead_letter, strerror(-rc));
	return rc;
}

void
sl_lg_group_note(struct lg_run *r, const struct sl_message *m)
{
	int rc;

	if (m->group_id == 0)
		return;
	/* Every delivery is settled, ours or not: a member that does not ack
	 * holds up its credit, and the message comes back. */
	rc = sl_client_group_ack(r->subs[r->cur_sub], m->group_id, m->seq);
	if (rc < 0)
		r->ack_failed++;
	r->member_delivered[r->cur_sub]++;
	if (m->delivery_count > 1) {
		r->member_redelivered[r->cur_sub]++;
		r->redelivered++;
	}
}

static void
on_dead(void *arg, const struct sl_message *m)
{
	struct lg_run *r = arg;
	struct lg_payload pl;

	if (m->len < sizeof(pl))
		return;
	memcpy(&pl, m->data, sizeof(pl));
	if (pl.run == r->run_id && pl.pub < r->cf->pubs && pl.index < r->quota)
		r->dead_lettered++;
}

int
sl_lg_group_poll_dead(struct lg_run *r)
{
	int rc;

	if (r->dead == NULL)
		return 0;
	do
		rc = sl_client_poll(r->dead, on_dead, r, LG_BURST);
	while (rc == LG_BURST);
	if (rc < 0)
		fprintf(stderr, LG_NAME ": dead-letter subscriber: %s\n",
			rc == -ENOTCONN ? "broker dropped the session" : strerror(-rc));
	return rc < 0 ? rc : 0;
}

void
sl_lg_group_finish(struct lg_run *r)
{
	struct sl_client_stats cs;
	unsigned j;

	for (j = 0; j < r->cf->subs; j++) {
		/* The acks still queued go now (each poll sends those of its callbacks). */
		(void)sl_client_flush(r->subs[j]);
		sl_client_stats(r->subs[j], &cs);
		r->group_acked += cs.group_acked;
		r->group_not_held += cs.group_not_held;
	}
}

void
sl_lg_group_report_json(const struct lg_run *r)
{
	const struct lg_conf *cf = r->cf;
	unsigned j;

	printf(",\"group\":\"%s\",\"consumers\":%u,\"processed\":%" PRIu64
	       ",\"redelivered\":%" PRIu64 ",\"dead_lettered\":%" PRIu64
	       ",\"group_acked\":%" PRIu64 ",\"ack_failed\":%" PRIu64 ",\"not_held\":%" PRIu64
	       ",\"members\":[", cf->group, cf->subs, r->unique, r->redelivered, r->dead_lettered,
	       r->group_acked, r->ack_failed, r->group_not_held);
	for (j = 0; j < cf->subs; j++)
		printf("%s{\"delivered\":%" PRIu64 ",\"redelivered\":%" PRIu64 "}", j ? "," : "",
		       r->member_delivered[j], r->member_redelivered[j]);
	printf("]");
}

void
sl_lg_group_report_text(const struct lg_run *r)
{
	unsigned j;

	printf("group         %s: %u consumers, %" PRIu64 " processed, %" PRIu64
	       " redelivered, %" PRIu64 " dead-lettered, %" PRIu64 " acked\n", r->cf->group,
	       r->cf->subs, r->unique, r->redelivered, r->dead_lettered, r->group_acked);
	printf("per member   ");
	for (j = 0; j < r->cf->subs; j++)
		printf(" %" PRIu64, r->member_delivered[j]);
	printf("\n");
}
