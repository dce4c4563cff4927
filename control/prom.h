/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus text exposition: names and label values written as the format wants them. */

#ifndef SLUICE_CONTROL_PROM_H
#define SLUICE_CONTROL_PROM_H

#include <stdio.h>

/* Write @s as a metric or label name: [a-zA-Z0-9_] kept, anything else
 * becomes '_'. */
void sl_prom_put_name(FILE *f, const char *s);

/* Write @s as a label value (inside its double quotes): backslash, double
 * quote and newline escaped. */
void sl_prom_put_label_value(FILE *f, const char *s);

#endif /* SLUICE_CONTROL_PROM_H */
