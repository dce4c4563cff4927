/* SPDX-License-Identifier: BSD-3-Clause */
/* A small etcd v3 client over etcd's HTTP/JSON gateway: read, put, compare-and-swap of one key. */

#ifndef SLUICE_CONTROL_ETCD_H
#define SLUICE_CONTROL_ETCD_H

#include <stddef.h>
#include <stdint.h>

/*
 * sluice-control keeps a pair's leadership in etcd (docs/HA.md). It speaks
 * to etcd through the v3 gateway (POST /v3/kv/range, /v3/kv/put,
 * /v3/kv/txn, keys and values base64) with libcurl: a well-kept Debian
 * library, where C has no maintained gRPC stack for etcd's native API. One
 * handle keeps one connection open (HTTP keep-alive) to the endpoint that
 * last answered; a request that cannot reach it tries the next endpoint
 * once. Every request is bounded by the handle's timeouts, so a caller is
 * never held longer than (endpoints x timeout): the total timeout for
 * reads, the larger of it and SL_ETCD_WRITE_MS for writes.
 *
 * Errors (every call): -ECONNREFUSED no endpoint answered (refused, reset,
 * unresolvable), -ETIMEDOUT no answer within the timeout, -EPROTO an answer
 * that is not etcd's (bad HTTP status, bad JSON, bad base64), -ENOMEM. The
 * last error's words are in sl_etcd_errmsg(). A handle is not thread-safe:
 * one thread uses it.
 */

#define SL_ETCD_MAX_ENDPOINTS 8
#define SL_ETCD_CONNECT_MS 50	/* default connect timeout */
#define SL_ETCD_TOTAL_MS 100	/* default whole-request timeout of a read */
#define SL_ETCD_WRITE_MS 1000	/* ... of a write (put, transaction): etcd commits
				 * it to its log with an fsync first, which on a
				 * busy disk takes far longer than a read */
#define SL_ETCD_MAX_VALUE 4096	/* values this client reads back (ours are small JSON) */

struct sl_etcd;

/* A key's value and its revisions, as etcd keeps them. */
struct sl_etcd_kv {
	int64_t create_rev;	/* 0: the key does not exist */
	int64_t mod_rev;
	size_t len;
	char value[SL_ETCD_MAX_VALUE + 1]; /* NUL-terminated */
};

/*
 * A client of the comma-separated endpoint URLs @endpoints
 * ("http://127.0.0.1:2379,http://10.0.0.2:2379"), with @connect_ms and
 * @total_ms (0: the defaults above). Connects lazily. Returns 0, -EINVAL
 * (no endpoint, more than SL_ETCD_MAX_ENDPOINTS, or one not http:// or
 * https://) or -ENOMEM.
 */
int sl_etcd_open(struct sl_etcd **out, const char *endpoints, unsigned connect_ms,
		 unsigned total_ms);
void sl_etcd_close(struct sl_etcd *e);

/* Words for the last failure of @e ("" when none). */
const char *sl_etcd_errmsg(const struct sl_etcd *e);

/* The endpoint that answered last (or will be tried first). */
const char *sl_etcd_endpoint(const struct sl_etcd *e);

/* Read @key into @kv. Returns 0, -ENOENT (no such key: @kv->create_rev 0)
 * or an error above. */
int sl_etcd_get(struct sl_etcd *e, const char *key, struct sl_etcd_kv *kv);

/* Write @len bytes of @val at @key unconditionally, within @timeout_ms (0:
 * the write timeout; a best-effort write may give itself less). 0 or an
 * error above. */
int sl_etcd_put(struct sl_etcd *e, const char *key, const void *val, size_t len,
		unsigned timeout_ms);

/*
 * Compare-and-swap in one etcd transaction: write @val at @key if its
 * mod_revision is @mod_rev, or, with @mod_rev 0, if the key does not exist.
 * Returns 1 (written; @cur, when not NULL, gets the new revisions and
 * value), 0 (the comparison failed: @cur gets the key's value now, or
 * create_rev 0 when it is absent), or an error above. After -ETIMEDOUT the
 * write may or may not have happened: read the key to know.
 */
int sl_etcd_cas(struct sl_etcd *e, const char *key, int64_t mod_rev, const void *val,
		size_t len, struct sl_etcd_kv *cur);

#endif /* SLUICE_CONTROL_ETCD_H */
