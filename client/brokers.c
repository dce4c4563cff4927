/* SPDX-License-Identifier: BSD-3-Clause */
/* libsluice's broker list ("a:9500,b:9500"): parsing, the leader epoch by which a client ignores a deposed primary, and following a moved topic. */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* One entry of the list, [s, e): "host" or "host:port", spaces around it
 * ignored. */
static int
entry(const char *s, const char *e, uint16_t def_port, struct sockaddr_in *sa)
{
	char host[256];
	const char *colon = NULL, *p;
	unsigned long port = def_port;
	char *end;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	for (p = s; p < e; p++)
		if (*p == ':')
			colon = p;
	if (colon != NULL) {
		char num[8];

		if (e - colon - 1 < 1 || e - colon - 1 >= (long)sizeof(num))
			return -EINVAL;
		memcpy(num, colon + 1, (size_t)(e - colon - 1));
		num[e - colon - 1] = '\0';
		if (!isdigit((unsigned char)num[0]))
			return -EINVAL;
		port = strtoul(num, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535)
			return -EINVAL;
		e = colon;
	}
	if (e == s || e - s >= (long)sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(e - s));
	host[e - s] = '\0';
	return sl_cl_resolve_host(host, (uint16_t)port, sa);
}

int
sl_cl_brokers_resolve(const char *list, uint16_t def_port, struct sockaddr_in *out,
		      uint32_t *n)
{
	const char *s = list, *e;
	int rc;

	*n = 0;
	if (list == NULL)
		return -EINVAL;
	for (;;) {
		e = strchr(s, ',');
		if (e == NULL)
			e = s + strlen(s);
		if (*n == SL_MAX_BROKERS)
			return -EINVAL;
		rc = entry(s, e, def_port, &out[*n]);
		if (rc < 0)
			return rc;
		(*n)++;
		if (*e == '\0')
			return 0;
		s = e + 1;
	}
}

bool
sl_cl_epoch_ok(struct sl_client *c, const struct sl_frame *f, bool quiet)
{
	uint32_t epoch = f->hdr->reserved;

	/* Shared memory is one dataplane on this host, and its DELIVER
	 * records carry no frame header (so no epoch): not for it. */
	if (c->shm.r != NULL)
		return true;
	if (epoch >= c->epoch) {
		c->epoch = epoch;
		c->st.leader_epoch = epoch;
		return true;
	}
	/* An older leader's frames are not the service's any more, with one
	 * exception: its word that it is not the primary, which only sends
	 * the client on to the next broker. */
	if (f->hdr->type == SL_FT_ERROR && f->len >= sizeof(struct sl_error) &&
	    ((const struct sl_error *)f->hdr)->code == SL_E_NOT_PRIMARY)
		return true;
	if (!quiet)
		c->st.old_epoch_dropped++;
	return false;
}

bool
sl_cl_moved(struct sl_client *c, const struct sl_error *e)
{
	const struct sl_error_moved *m = (const struct sl_error_moved *)e;
	struct recon *r = &c->rc;
	uint32_t i;

	if (e->h.length < sizeof(*m) || m->port == 0)
		return false;
	c->moved = *m;
	c->moved.pair[sizeof(c->moved.pair) - 1] = '\0';
	if (!r->on || c->shm.r != NULL || c->dead)
		return false;
	if (r->down)
		return true; /* another refusal of the session that already follows */
	if (c->session == 0)
		return false;
	/* The pair the topic went to is the service now: its one address.
	 * Leader epochs are a pair's own: the new pair's may be lower. */
	memset(&r->sa, 0, sizeof(r->sa));
	r->sa.sin_family = AF_INET;
	memcpy(&r->sa.sin_addr, m->addr, sizeof(m->addr));
	r->sa.sin_port = htons(m->port);
	r->brokers[0] = r->sa;
	r->n_brokers = 1;
	r->cur = 0;
	c->st.broker = 0;
	c->epoch = 0;
	/* Sequences are the old pair's: the new pair's topic has a history of
	 * its own. Subscriptions are made there as first asked, not resumed
	 * after a position the new pair would read as another message. */
	for (i = 0; i < r->n_subs; i++)
		sl_cl_reorder_reset(c, r->subs[i].app_id, 0);
	sl_cl_session_lost(c, SL_E_MOVED);
	return true;
}

int
sl_client_moved(const struct sl_client *c, char *pair, size_t cap, char *addr, size_t addr_cap,
		uint32_t *epoch)
{
	const struct sl_error_moved *m = &c->moved;

	if (m->port == 0)
		return -ENOENT;
	if (pair != NULL && cap > 0)
		snprintf(pair, cap, "%s", m->pair);
	if (addr != NULL && addr_cap > 0)
		snprintf(addr, addr_cap, "%u.%u.%u.%u:%u", m->addr[0], m->addr[1], m->addr[2],
			 m->addr[3], m->port);
	if (epoch != NULL)
		*epoch = m->epoch;
	return 0;
}
