/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus text exposition helpers shared by /metrics' writers (metrics.c, gateways.c). */

#include "prom.h"

void
sl_prom_put_name(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' ? *s : '_', f);
}

void
sl_prom_put_label_value(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}
