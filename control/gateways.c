/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading the gateways' counters files (gw-*.ctrs) for the stats answer and /metrics. */

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <common/ctrs.h>
#include <common/paths.h>

#include "gateways.h"
#include "prom.h"
#include "jsonx.h"

#define MAX_GATEWAYS 64

/* One gateway's counters: a private copy of its file's area. */
struct gw_file {
	struct sl_ctrs_view v;
	const struct sl_ctrs_meta *m;
	const struct sl_ctrs_type *t;
	const uint64_t *vals;
};

static int
take(const char *path, struct gw_file *g)
{
	struct stat st;
	void *base;
	int fd, rc;
	uint32_t i;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct sl_ctrs_hdr)) {
		close(fd);
		return -EPROTO;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return -errno;
	rc = sl_ctrs_view_take(base, (size_t)st.st_size, &g->v);
	munmap(base, (size_t)st.st_size);
	if (rc < 0)
		return rc;
	for (i = 0; i < g->v.hdr->n_slots; i++) {
		g->m = sl_ctrs_view_slot(&g->v, i, &g->t, &g->vals);
		/* A file left by a process that died (kill -9) is not shown. */
		if (g->m != NULL && g->t != NULL && (kill((pid_t)g->m->owner, 0) == 0 || errno == EPERM))
			return 0;
	}
	sl_ctrs_view_free(&g->v);
	return -ENOENT;
}

/* Every live gateway of instance @name into @g (MAX_GATEWAYS). */
static unsigned
take_all(const char *name, struct gw_file *g)
{
	char pat[256];
	glob_t gl;
	unsigned n = 0;
	size_t i;

	snprintf(pat, sizeof(pat), SL_RUN_DIR "/%s/gw-*.ctrs", name);
	if (glob(pat, 0, NULL, &gl) != 0)
		return 0;
	/* glob sorts: the gateways come in name order. */
	for (i = 0; i < gl.gl_pathc && n < MAX_GATEWAYS; i++)
		if (take(gl.gl_pathv[i], &g[n]) == 0)
			n++;
	globfree(&gl);
	return n;
}

json_t *
sl_ctl_gateways_json(const char *name)
{
	struct gw_file *g = calloc(MAX_GATEWAYS, sizeof(*g));
	json_t *a = json_array(), *o, *c;
	unsigned n, i, k;

	if (g == NULL)
		return a;
	n = take_all(name, g);
	for (i = 0; i < n; i++) {
		c = json_object();
		for (k = 0; k < g[i].t->n_values; k++)
			json_object_set_new(c, g[i].t->labels[k], sl_json_u64(g[i].vals[k]));
		o = json_pack("{s:s, s:s, s:I, s:o}", "name", g[i].m->key, "type", g[i].t->name,
			      "pid", (json_int_t)g[i].m->owner, "counters", c);
		json_array_append_new(a, o);
		sl_ctrs_view_free(&g[i].v);
	}
	free(g);
	return a;
}

void
sl_ctl_gateways_metrics(FILE *f, const char *name)
{
	struct gw_file *g = calloc(MAX_GATEWAYS, sizeof(*g));
	const struct sl_ctrs_type *t;
	const char *ty;
	unsigned n, i, j, k;

	if (g == NULL)
		return;
	n = take_all(name, g);
	/* One family per (type, label), every gateway of that type in it. */
	for (i = 0; i < n; i++) {
		t = g[i].t;
		for (j = 0; j < i && strcmp(g[j].t->name, t->name) != 0; j++)
			;
		if (j < i)
			continue; /* its type was rendered with an earlier gateway */
		for (k = 0; k < t->n_values; k++) {
			bool count = t->kinds[k] == SL_CTRS_K_COUNT;

			if (!count && t->kinds[k] != SL_CTRS_K_GAUGE)
				continue;
			ty = count ? "counter" : "gauge";
			fputs("# HELP sluice_", f);
			sl_prom_put_name(f, t->name);
			fputc('_', f);
			sl_prom_put_name(f, t->labels[k]);
			fprintf(f, "%s Gateway counter (docs/MQTT.md).\n# TYPE sluice_",
				count ? "_total" : "");
			sl_prom_put_name(f, t->name);
			fputc('_', f);
			sl_prom_put_name(f, t->labels[k]);
			fprintf(f, "%s %s\n", count ? "_total" : "", ty);
			for (j = i; j < n; j++) {
				if (strcmp(g[j].t->name, t->name) != 0 || k >= g[j].t->n_values)
					continue;
				fputs("sluice_", f);
				sl_prom_put_name(f, t->name);
				fputc('_', f);
				sl_prom_put_name(f, t->labels[k]);
				fprintf(f, "%s{gateway=\"", count ? "_total" : "");
				sl_prom_put_label_value(f, g[j].m->key);
				fprintf(f, "\"} %llu\n", (unsigned long long)g[j].vals[k]);
			}
		}
	}
	for (i = 0; i < n; i++)
		sl_ctrs_view_free(&g[i].v);
	free(g);
}
