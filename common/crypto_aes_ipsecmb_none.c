/* SPDX-License-Identifier: BSD-3-Clause */
/* A build without intel-ipsec-mb: AES-256-GCM goes through libsodium alone. */

#include <stddef.h>

#include "crypto_aes.h"

const struct sl_aes_impl *
sl_aes_ipsecmb(void)
{
	return NULL;
}
