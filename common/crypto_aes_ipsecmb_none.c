/* SPDX-License-Identifier: BSD-3-Clause */
/* A build without intel-ipsec-mb: AES-256-GCM goes through libsodium alone. */

#include <stddef.h>

#include "crypto_aes.h"

const struct sl_aes_impl *const sl_aes_ipsecmb = NULL;
