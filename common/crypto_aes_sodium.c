/* SPDX-License-Identifier: BSD-3-Clause */
/* AES-256-GCM through libsodium (crypto_aead_aes256gcm_*_afternm), the fallback without intel-ipsec-mb. */

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include <common/crypto.h>
#include <common/proto.h>

#include "crypto_aes.h"

_Static_assert(sizeof(crypto_aead_aes256gcm_state) <= SL_SEAL_KEY_STATE,
	       "libsodium's AES-GCM state fits a seal key");

static int
sodium_usable(void)
{
	return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available();
}

static void
sodium_key(void *ks, const uint8_t raw[32])
{
	crypto_aead_aes256gcm_beforenm((crypto_aead_aes256gcm_state *)ks, raw);
}

static void
sodium_seal(const void *ks, const uint8_t iv[12], const uint8_t *ad, size_t adlen, uint8_t *p,
	    size_t n, uint8_t tag[16])
{
	crypto_aead_aes256gcm_encrypt_detached_afternm(p, tag, NULL, p, n, ad, adlen, NULL, iv,
						       (const crypto_aead_aes256gcm_state *)ks);
}

static int
sodium_open(const void *ks, const uint8_t iv[12], const uint8_t *ad, size_t adlen, uint8_t *p,
	    size_t n, const uint8_t tag[16])
{
	uint8_t out[SL_MAX_DATAGRAM];

	/* Out of place: libsodium clears its output when the tag fails, and
	 * a forged datagram must stay as it came. */
	if (n > sizeof(out))
		return -EBADMSG;
	if (crypto_aead_aes256gcm_decrypt_detached_afternm(
		    out, NULL, p, n, tag, ad, adlen, iv,
		    (const crypto_aead_aes256gcm_state *)ks) != 0)
		return -EBADMSG;
	memcpy(p, out, n);
	return 0;
}

static const struct sl_aes_impl impl = {
	.name = "libsodium",
	.usable = sodium_usable,
	.key = sodium_key,
	.seal = sodium_seal,
	.open = sodium_open,
};

const struct sl_aes_impl *
sl_aes_sodium(void)
{
	return &impl;
}
