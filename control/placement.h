/* SPDX-License-Identifier: BSD-3-Clause */
/* Scale-out: which pair owns each topic, recorded in etcd, and moving a topic between pairs. */

#ifndef SLUICE_CONTROL_PLACEMENT_H
#define SLUICE_CONTROL_PLACEMENT_H

#include <stdint.h>

/*
 * With --etcd, --pair and --advertise, sluice-control records in etcd which
 * pair owns each topic it creates, and moves topics between pairs
 * (docs/SCALEOUT.md). Keys:
 *
 *   /sluice/placement/<topic>   {"pair":P,"addr":"IP:PORT","epoch":N}, during
 *                               a move also "moving_to" and "spec"
 *   /sluice/pairs/<pair>/service  {"addr":"IP:PORT"}: the pair's service address
 *   /sluice/pairs/<pair>/inbox    {"topics":[...]}: topics moving to the pair
 *
 * Every change of a placement or an inbox is a compare-and-swap. Everything
 * here runs on the poll loop's thread, with its own etcd handle: each etcd
 * request holds the loop for at most its timeout (100 ms for a read, 1 s
 * for a write).
 */

struct sl_ctl;
struct sl_place;
struct sl_req;

/*
 * Start placement for pair @pair, whose clients reach it at @advertise
 * ("IP:PORT"), through etcd @etcd. Nothing is sent before the first tick.
 * 0, or -EINVAL / -ENOMEM with words in @err.
 */
int sl_place_open(struct sl_place **out, struct sl_ctl *ctl, const char *etcd, const char *pair,
		  const char *advertise, char *err, size_t errlen);
void sl_place_close(struct sl_place *p);

/* The periodic work (every 100 ms; 1 s after etcd failed): register the
 * service address, take the topics moving here, mark the ones that left. */
void sl_place_tick(struct sl_place *p, uint64_t now_ns);

/*
 * topic.create of @name: refused (1, @r answered) when etcd places the
 * topic on another pair that is not moving it here; 0 to go on (also when
 * placement is off or etcd does not answer: the creation is local).
 */
int sl_place_create_check(struct sl_req *r, const char *name);

/* After topic.create of @name committed: record this pair as its owner
 * when etcd has no placement of it; the outcome goes into @r's result as
 * "placement". */
void sl_place_created(struct sl_req *r, const char *name);

#endif /* SLUICE_CONTROL_PLACEMENT_H */
