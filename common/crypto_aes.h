/* SPDX-License-Identifier: BSD-3-Clause */
/* AES-256-GCM behind one set of entry points, whichever library provides it (common/ only). */

#ifndef SLUICE_CRYPTO_AES_H
#define SLUICE_CRYPTO_AES_H

#include <stddef.h>
#include <stdint.h>

/*
 * One library's AES-256-GCM. @ks is struct sl_seal_key's state (64-byte
 * aligned, SL_SEAL_KEY_STATE bytes); @iv 12 bytes; the tag 16. In place:
 * @p holds @n bytes of plaintext (seal) or ciphertext (open); @ad (@adlen
 * bytes) does not overlap it. open returns 0, or -EBADMSG with @p as it
 * came.
 */
struct sl_aes_impl {
	const char *name;
	int (*usable)(void); /* 1 when it runs on this CPU (first call sets it up) */
	void (*key)(void *ks, const uint8_t raw[32]);
	void (*seal)(const void *ks, const uint8_t iv[12], const uint8_t *ad, size_t adlen,
		     uint8_t *p, size_t n, uint8_t tag[16]);
	int (*open)(const void *ks, const uint8_t iv[12], const uint8_t *ad, size_t adlen,
		    uint8_t *p, size_t n, const uint8_t tag[16]);
};

/* libsodium's (AES-NI and PCLMULQDQ): always built. Functions, not
 * exported data: the installed library exports only sl_ functions (an
 * AddressSanitizer build adds odd symbols for exported globals). */
const struct sl_aes_impl *sl_aes_sodium(void);
/* intel-ipsec-mb's, NULL where the build has no libipsec-mb-dev. */
const struct sl_aes_impl *sl_aes_ipsecmb(void);

#endif /* SLUICE_CRYPTO_AES_H */
