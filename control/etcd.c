/* SPDX-License-Identifier: BSD-3-Clause */
/* A small etcd v3 client over etcd's HTTP/JSON gateway (libcurl, jansson, libsodium's base64). */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "etcd.h"

#define RESP_MAX (256u * 1024u) /* an answer larger than this is not one of ours */
#define KEY_MAX 512

struct sl_etcd {
	CURL *curl;
	char *ep[SL_ETCD_MAX_ENDPOINTS];
	unsigned n_ep, cur;	/* endpoints; the one tried first */
	unsigned connect_ms, total_ms;
	char *resp;
	size_t resp_len, resp_cap;
	int resp_over;
	char err[256];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not safe to call from two threads at once. */
static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int
fail(struct sl_etcd *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct sl_etcd *e, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return rc;
}

int
sl_etcd_open(struct sl_etcd **out, const char *endpoints, unsigned connect_ms, unsigned total_ms)
{
	struct sl_etcd *e;
	const char *p = endpoints, *comma;
	size_t n;

	if (endpoints == NULL || endpoints[0] == '\0')
		return -EINVAL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->connect_ms = connect_ms ? connect_ms : SL_ETCD_CONNECT_MS;
	e->total_ms = total_ms ? total_ms : SL_ETCD_TOTAL_MS;
	while (*p != '\0') {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || e->n_ep == SL_ETCD_MAX_ENDPOINTS ||
		    (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0))
			goto invalid;
		/* A trailing '/' would make "//v3/kv/range", which the gateway refuses. */
		while (n > 0 && p[n - 1] == '/')
			n--;
		e->ep[e->n_ep] = strndup(p, n);
		if (e->ep[e->n_ep] == NULL) {
			sl_etcd_close(e);
			return -ENOMEM;
		}
		e->n_ep++;
		p += n;
		while (*p == '/')
			p++;
		if (*p == ',')
			p++;
	}
	if (e->n_ep == 0)
		goto invalid;
	e->curl = curl_easy_init();
	if (e->curl == NULL) {
		sl_etcd_close(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
invalid:
	sl_etcd_close(e);
	return -EINVAL;
}

void
sl_etcd_close(struct sl_etcd *e)
{
	unsigned i;

	if (e == NULL)
		return;
	if (e->curl != NULL)
		curl_easy_cleanup(e->curl);
	for (i = 0; i < e->n_ep; i++)
		free(e->ep[i]);
	free(e->resp);
	free(e);
}

const char *
sl_etcd_errmsg(const struct sl_etcd *e)
{
	return e->err;
}

const char *
sl_etcd_endpoint(const struct sl_etcd *e)
{
	return e->ep[e->cur];
}

/* ---- transport ---- */

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sl_etcd *e = arg;
	size_t len = size * n, cap;
	char *p;

	if (e->resp_len + len + 1 > RESP_MAX) {
		e->resp_over = 1;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (e->resp_len + len + 1 > e->resp_cap) {
		cap = e->resp_cap ? e->resp_cap : 4096;
		while (cap < e->resp_len + len + 1)
			cap *= 2;
		p = realloc(e->resp, cap);
		if (p == NULL)
			return 0;
		e->resp = p;
		e->resp_cap = cap;
	}
	memcpy(e->resp + e->resp_len, data, len);
	e->resp_len += len;
	e->resp[e->resp_len] = '\0';
	return len;
}

/* Is @rc a failure to reach the endpoint (worth trying the next one)? */
static int
unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_RECV_ERROR ||
	       rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING;
}

/* POST @body to @path of one endpoint; the answer in e->resp. */
static int
post_one(struct sl_etcd *e, unsigned ep, const char *path, const char *body, unsigned total,
	 json_t **out)
{
	struct curl_slist *hdr = NULL;
	json_error_t jerr;
	char url[512];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", e->ep[ep], path);
	e->resp_len = 0;
	e->resp_over = 0;
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)e->connect_ms);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)total);
	/* No signals: the HA loop is a thread, and libcurl's resolver timeout
	 * would otherwise use SIGALRM. */
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->curl, CURLOPT_TCP_NODELAY, 1L);
	rc = curl_easy_perform(e->curl);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		if (e->resp_over)
			return fail(e, -EPROTO, "etcd %s: answer over %u bytes", e->ep[ep], RESP_MAX);
		return fail(e, rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : unreachable(rc) ?
			    -ECONNREFUSED : -EPROTO, "etcd %s: %s", e->ep[ep],
			    curl_easy_strerror(rc));
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return fail(e, -EPROTO, "etcd %s%s: HTTP status %ld: %.120s", e->ep[ep], path,
			    status, e->resp_len ? e->resp : "");
	*out = json_loadb(e->resp ? e->resp : "", e->resp_len, 0, &jerr);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return fail(e, -EPROTO, "etcd %s%s: not a JSON object", e->ep[ep], path);
	}
	return 0;
}

/* POST @req (consumed) to @path, trying each endpoint at most once, the
 * last good one first, each within @timeout_ms (0: the read or the write
 * timeout, by @path). */
static int
post(struct sl_etcd *e, const char *path, json_t *req, unsigned timeout_ms, json_t **out)
{
	char *body = json_dumps(req, JSON_COMPACT);
	unsigned i, ep;
	int rc = -ENOMEM;

	json_decref(req);
	if (body == NULL)
		return fail(e, -ENOMEM, "out of memory");
	if (timeout_ms == 0)
		timeout_ms = strcmp(path, "/v3/kv/range") == 0 || e->total_ms > SL_ETCD_WRITE_MS ?
			     e->total_ms : SL_ETCD_WRITE_MS;
	for (i = 0; i < e->n_ep; i++) {
		ep = (e->cur + i) % e->n_ep;
		rc = post_one(e, ep, path, body, timeout_ms, out);
		if (rc == 0) {
			e->cur = ep;
			e->err[0] = '\0';
			break;
		}
		/* An answer that is not etcd's, or a timeout of a write that may
		 * have happened, is not retried elsewhere. */
		if (rc != -ECONNREFUSED)
			break;
	}
	free(body);
	return rc;
}

/* ---- encoding ---- */

static json_t *
b64(const void *data, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	json_t *j;

	if (s == NULL)
		return NULL;
	sodium_bin2base64(s, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(s);
	free(s);
	return j;
}

/* etcd's JSON renders int64 as strings ("12"); accept numbers too. */
static int64_t
i64_of(const json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

/* A range answer's first kv into @kv: 0, -ENOENT (none) or -EPROTO. */
static int
kv_of(struct sl_etcd *e, const json_t *range, struct sl_etcd_kv *kv)
{
	const json_t *kvs = json_object_get(range, "kvs"), *first;
	const char *v64;
	size_t len = 0;

	memset(kv, 0, offsetof(struct sl_etcd_kv, value) + 1);
	if (json_array_size(kvs) == 0)
		return -ENOENT;
	first = json_array_get(kvs, 0);
	kv->create_rev = i64_of(json_object_get(first, "create_revision"));
	kv->mod_rev = i64_of(json_object_get(first, "mod_revision"));
	v64 = json_string_value(json_object_get(first, "value"));
	if (v64 != NULL && sodium_base642bin((unsigned char *)kv->value, SL_ETCD_MAX_VALUE, v64,
					     strlen(v64), NULL, &len, NULL,
					     sodium_base64_VARIANT_ORIGINAL) != 0)
		return fail(e, -EPROTO, "etcd: a value that is not base64 or over %u bytes",
			    SL_ETCD_MAX_VALUE);
	kv->len = len;
	kv->value[len] = '\0';
	if (kv->create_rev <= 0)
		return fail(e, -EPROTO, "etcd: a key without a create_revision");
	return 0;
}

/* ---- the three calls ---- */

int
sl_etcd_get(struct sl_etcd *e, const char *key, struct sl_etcd_kv *kv)
{
	json_t *res = NULL;
	int rc;

	rc = post(e, "/v3/kv/range", json_pack("{s:o}", "key", b64(key, strlen(key))), 0, &res);
	if (rc == 0)
		rc = kv_of(e, res, kv);
	else
		memset(kv, 0, offsetof(struct sl_etcd_kv, value) + 1);
	json_decref(res);
	return rc;
}

int
sl_etcd_put(struct sl_etcd *e, const char *key, const void *val, size_t len, unsigned timeout_ms)
{
	json_t *res = NULL;
	int rc;

	rc = post(e, "/v3/kv/put", json_pack("{s:o, s:o}", "key", b64(key, strlen(key)),
					     "value", b64(val, len)), timeout_ms, &res);
	json_decref(res);
	return rc;
}

int
sl_etcd_cas(struct sl_etcd *e, const char *key, int64_t mod_rev, const void *val, size_t len,
	    struct sl_etcd_kv *cur)
{
	json_t *req, *res = NULL, *resp, *range;
	struct sl_etcd_kv tmp;
	char rev[24];
	int rc, won;

	if (strlen(key) > KEY_MAX)
		return fail(e, -EINVAL, "etcd: key over %d bytes", KEY_MAX);
	snprintf(rev, sizeof(rev), "%lld", (long long)mod_rev);
	/* Success: the put, then a read of what it wrote (its revisions);
	 * failure: a read of what is there instead. */
	req = json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[{s:{s:o, s:o}}, {s:{s:o}}], s:[{s:{s:o}}]}",
			"compare", "key", b64(key, strlen(key)),
			"target", mod_rev ? "MOD" : "CREATE", "result", "EQUAL",
			mod_rev ? "mod_revision" : "create_revision", rev,
			"success", "request_put", "key", b64(key, strlen(key)), "value", b64(val, len),
			"request_range", "key", b64(key, strlen(key)),
			"failure", "request_range", "key", b64(key, strlen(key)));
	if (req == NULL)
		return fail(e, -ENOMEM, "out of memory");
	rc = post(e, "/v3/kv/txn", req, 0, &res);
	if (rc < 0)
		return rc;
	/* proto3's JSON leaves out a false "succeeded". */
	won = json_is_true(json_object_get(res, "succeeded"));
	resp = json_array_get(json_object_get(res, "responses"), won ? 1 : 0);
	range = json_object_get(resp, "response_range");
	if (range == NULL) {
		json_decref(res);
		return fail(e, -EPROTO, "etcd: a transaction answer without its read");
	}
	rc = kv_of(e, range, cur ? cur : &tmp);
	json_decref(res);
	if (rc == -ENOENT && !won)
		return 0;
	if (rc < 0)
		return won ? fail(e, -EPROTO, "etcd: the key just written reads back absent") : rc;
	return won;
}
