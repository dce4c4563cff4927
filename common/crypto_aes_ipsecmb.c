/* SPDX-License-Identifier: BSD-3-Clause */
/* AES-256-GCM through intel-ipsec-mb's direct GCM API (the code path best for the CPU: SSE, AVX2, AVX-512/VAES). */

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <intel-ipsec-mb.h>

#include <common/crypto.h>

#include "crypto_aes.h"

_Static_assert(sizeof(struct gcm_key_data) <= SL_SEAL_KEY_STATE,
	       "intel-ipsec-mb's GCM key fits a seal key");

/*
 * One manager for the process, set up once. The direct GCM API only reads
 * the manager's table of function pointers (the best code path for this
 * CPU); all state of a call is the caller's key and its context on the
 * stack. So, unlike the job API, one read-only manager serves every thread
 * (worker lcores, client threads) with no lock.
 */
static IMB_MGR *mgr;
static int ok;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
imb_setup(void)
{
	IMB_ARCH arch = IMB_ARCH_NONE;
	IMB_MGR *m = alloc_mb_mgr(0);

	if (m == NULL)
		return;
	init_mb_mgr_auto(m, &arch);
	/* Below SSE it would emulate AES in software: not constant time,
	 * and not what the capability promises. */
	if (imb_get_errno(m) != 0 || arch < IMB_ARCH_SSE) {
		free_mb_mgr(m);
		return;
	}
	mgr = m;
	ok = 1;
}

static int
imb_usable(void)
{
	(void)pthread_once(&once, imb_setup);
	return ok;
}

static void
imb_key(void *ks, const uint8_t raw[32])
{
	IMB_AES256_GCM_PRE(mgr, raw, (struct gcm_key_data *)ks);
}

static void
imb_seal(const void *ks, const uint8_t iv[12], const uint8_t *ad, size_t adlen, uint8_t *p,
	 size_t n, uint8_t tag[16])
{
	struct gcm_context_data ctx __attribute__((aligned(64)));

	IMB_AES256_GCM_ENC(mgr, (const struct gcm_key_data *)ks, &ctx, p, p, n, iv, ad, adlen, tag,
			   16);
}

/* Constant time: one test of all 128 bits together, whatever differs
 * (sodium_memcmp's byte loop costs more than the whole open of a small
 * datagram). */
static inline int
tag_differs(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) != 0;
}

static int
imb_open(const void *ks, const uint8_t iv[12], const uint8_t *ad, size_t adlen, uint8_t *p,
	 size_t n, const uint8_t tag[16])
{
	struct gcm_context_data ctx __attribute__((aligned(64)));
	uint8_t t[16];

	IMB_AES256_GCM_DEC(mgr, (const struct gcm_key_data *)ks, &ctx, p, p, n, iv, ad, adlen, t,
			   16);
	if (!tag_differs(t, tag))
		return 0;
	/* Forged: counter mode is its own inverse, so encrypting again under
	 * the same nonce gives the datagram back as it came. Only forgeries
	 * pay for this. */
	if (n)
		IMB_AES256_GCM_ENC(mgr, (const struct gcm_key_data *)ks, &ctx, p, p, n, iv, ad,
				   adlen, t, 16);
	return -EBADMSG;
}

static const struct sl_aes_impl impl = {
	.name = "intel-ipsec-mb",
	.usable = imb_usable,
	.key = imb_key,
	.seal = imb_seal,
	.open = imb_open,
};

const struct sl_aes_impl *
sl_aes_ipsecmb(void)
{
	return &impl;
}
