/* keyfile.h -- the secret key file "<dir>/secret.key" (store-internal; no LMDB) */
#ifndef HK_STORE_KEYFILE_H
#define HK_STORE_KEYFILE_H

#include <stdint.h>

#include "core/crypto.h"

/* Reads the key of dir's key file into key, creating the file (0600, a new
 * random key, written whole or not at all) when it is missing and
 * may_create. Returns 0; HK_ESTATE when the file is missing and may not be
 * created, or is not a regular file of mode 0600 or stricter; HK_ECORRUPT
 * when it is not exactly one key long; HK_EINVAL (dir too long); HK_EIO.
 * On failure key is wiped. */
int hk_keyfile_load(const char *dir, int may_create, uint8_t key[HK_SEAL_KEY_BYTES]);

#endif
