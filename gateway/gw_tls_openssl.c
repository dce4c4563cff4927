/* SPDX-License-Identifier: BSD-3-Clause */
/* TLS for MQTT connections with OpenSSL: non-blocking, driven by the epoll loop. */

#include <errno.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gw_tls.h"

static SSL_CTX *ctx;

int
gw_tls_init(const char *cert, const char *key)
{
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* The send buffer is compacted and grown between tries: a retried
	 * write may come from another address, and may be partial. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "sluice-mqtt: TLS: cannot use certificate %s and key %s: %s\n", cert, key,
		ERR_reason_error_string(ERR_get_error()));
	SSL_CTX_free(ctx);
	ctx = NULL;
	return -1;
}

void *
gw_tls_new(int fd)
{
	SSL *s = ctx ? SSL_new(ctx) : NULL;

	if (s == NULL)
		return NULL;
	if (SSL_set_fd(s, fd) != 1) {
		SSL_free(s);
		return NULL;
	}
	SSL_set_accept_state(s);
	return s;
}

void
gw_tls_free(void *t)
{
	if (t == NULL)
		return;
	SSL_shutdown(t); /* best effort close_notify; the socket closes anyway */
	SSL_free(t);
}

static ssize_t
result(SSL *s, int n)
{
	int e;

	if (n > 0)
		return n;
	e = SSL_get_error(s, n);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	return -EIO;
}

ssize_t
gw_tls_read(void *t, void *buf, size_t n)
{
	return result(t, SSL_read(t, buf, (int)(n > 1u << 30 ? 1u << 30 : n)));
}

ssize_t
gw_tls_write(void *t, const void *buf, size_t n)
{
	return result(t, SSL_write(t, buf, (int)(n > 1u << 30 ? 1u << 30 : n)));
}

bool
gw_tls_pending(void *t)
{
	return SSL_pending(t) > 0;
}

void
gw_tls_fini(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}
