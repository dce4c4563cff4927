/* SPDX-License-Identifier: BSD-3-Clause */
/* Optional TLS for MQTT connections (OpenSSL; gw_tls_none.c when it is not built). */

#ifndef SLUICE_GW_TLS_H
#define SLUICE_GW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Load the server certificate chain @cert and private key @key (PEM).
 * Returns 0, or -1 after a message on stderr (also when TLS is not built). */
int gw_tls_init(const char *cert, const char *key);
/* A server-side TLS state for accepted socket @fd, or NULL. */
void *gw_tls_new(int fd);
void gw_tls_free(void *t);
/* Read or write through @t: bytes moved (> 0), 0 when the peer closed
 * (read), -EAGAIN when the socket must become readable or writable first,
 * -EIO on a TLS or socket error. The handshake runs inside them. */
ssize_t gw_tls_read(void *t, void *buf, size_t n);
ssize_t gw_tls_write(void *t, const void *buf, size_t n);
/* Decrypted bytes already buffered (epoll will not report them). */
bool gw_tls_pending(void *t);
void gw_tls_fini(void);

#endif /* SLUICE_GW_TLS_H */
