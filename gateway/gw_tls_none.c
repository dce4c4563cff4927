/* SPDX-License-Identifier: BSD-3-Clause */
/* TLS not built (no OpenSSL at build time): --tls-cert is refused. */

#include <errno.h>
#include <stdio.h>

#include "gw_tls.h"

int
gw_tls_init(const char *cert, const char *key)
{
	(void)cert;
	(void)key;
	fprintf(stderr, "sluice-mqtt: built without TLS (OpenSSL's libssl-dev was missing)\n");
	return -1;
}

void *
gw_tls_new(int fd)
{
	(void)fd;
	return NULL;
}

void
gw_tls_free(void *t)
{
	(void)t;
}

ssize_t
gw_tls_read(void *t, void *buf, size_t n)
{
	(void)t;
	(void)buf;
	(void)n;
	return -EIO;
}

ssize_t
gw_tls_write(void *t, const void *buf, size_t n)
{
	(void)t;
	(void)buf;
	(void)n;
	return -EIO;
}

bool
gw_tls_pending(void *t)
{
	(void)t;
	return false;
}

void
gw_tls_fini(void)
{
}
