/* SPDX-License-Identifier: BSD-3-Clause */
/* Counters of the gateways attached to the dataplane (sluice-mqtt), for stats and metrics. */

#ifndef SLUICE_CONTROL_GATEWAYS_H
#define SLUICE_CONTROL_GATEWAYS_H

#include <stdio.h>

#include <jansson.h>

/*
 * A gateway (sluice-mqtt) keeps its counters in a file of its own next to
 * the dataplane's CnC region, /run/sluice/NAME/gw-GATEWAY.ctrs, in the
 * counters layout of common/ctrs.h (one type, one slot: key = the
 * gateway's name, owner = its pid). The dataplane's area has one writer,
 * the dataplane; a gateway is another process, so it writes its own file,
 * and sluice-control reads every such file whose process is alive.
 * docs/CONTROL.md ("Gateways") describes it.
 */

/* "gateways": [{"name","type","pid","counters":{label: value}}], sorted by
 * name, for instance @name; [] when there are none. */
json_t *sl_ctl_gateways_json(const char *name);

/* sluice_<type>_<label>[_total]{gateway="NAME"} for every gateway's value
 * of kind count or gauge. */
void sl_ctl_gateways_metrics(FILE *f, const char *name);

#endif /* SLUICE_CONTROL_GATEWAYS_H */
