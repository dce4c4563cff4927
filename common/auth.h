/* SPDX-License-Identifier: BSD-3-Clause */
/* User names, keys and credential files, shared by libsluice, the tools and the dataplane. */

#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sluice/codes.h> /* SL_AUTH_KEY_LEN, SL_AUTH_USER_LEN */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A user's secret is a 32-byte key (SL_AUTH_KEY_LEN), written as 64 hex
 * digits in credential files. It never crosses the wire: a session proves
 * it in the handshake and derives its keys from it (common/crypto.h, where
 * every primitive lives). This file is about names, keys and credentials.
 */

/* Is @name a valid user name? */
int sl_auth_user_valid(const char *name);

/* Parse 64 hex digits into a key. Returns 0 or -EINVAL. */
int sl_auth_key_from_hex(const char *hex, uint8_t key[SL_AUTH_KEY_LEN]);
void sl_auth_key_to_hex(const uint8_t key[SL_AUTH_KEY_LEN], char hex[2 * SL_AUTH_KEY_LEN + 1]);

/*
 * Read credentials: "user = NAME" and "key = HEX" lines ('#' comments) from
 * @path. The file must not be readable or writable by group or others
 * (-EPERM otherwise: a secret in a shared file is not a secret).
 * Returns 0, -ENOENT, -EPERM, -EINVAL (message in @err).
 */
int sl_auth_credentials_load(const char *path, char user[SL_AUTH_USER_LEN],
			     uint8_t key[SL_AUTH_KEY_LEN], char *err, size_t errlen);

/*
 * Credentials from the environment: SLUICE_CREDENTIALS (a file as above), or
 * SLUICE_USER with SLUICE_KEY. Returns 0, -ENOENT when none are set, or an
 * error as sl_auth_credentials_load.
 */
int sl_auth_credentials_env(char user[SL_AUTH_USER_LEN], uint8_t key[SL_AUTH_KEY_LEN], char *err,
			    size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_AUTH_H */
