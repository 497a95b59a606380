/* test_keyfile.c -- the key file: modes, sizes, a wrong or missing key, symlinks */
#include "core/crypto.h"
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
TEST(key_file_refused)
{
    const char *dir = hk_test_tmpdir();
    const char *key = path_in(dir, "secret.key");
    hk_store_t *s = NULL;
    uint8_t good[HK_SEAL_KEY_BYTES], other[HK_SEAL_KEY_BYTES];
    size_t len = 0;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "keyed", 1, "AccountUpdated", NULL), 0);
    hk_store_close(s);
    char *k = slurp(key, &len);
    CHECK(k != NULL && len == sizeof good);
    memcpy(good, k, sizeof good);
    free(k);

    /* Readable by others. */
    CHECK_INT(chmod(key, 0640), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);
    CHECK_INT(chmod(key, 0604), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);
    /* Stricter than 0600 is fine. */
    CHECK_INT(chmod(key, 0400), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_store_close(s);
    /* Wrong size. */
    CHECK_INT(write_file(key, good, 16, 0600), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ECORRUPT);
    /* Another key: the store's secrets would not open. */
    memcpy(other, good, sizeof other);
    other[0] ^= 1;
    CHECK_INT(write_file(key, other, sizeof other, 0600), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ECORRUPT);
    /* Missing while the store exists: not silently replaced. */
    CHECK_INT(unlink(key), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);
    CHECK(access(key, F_OK) != 0);
    /* A symlink is not followed. */
    CHECK_INT(write_file(path_in(dir, "elsewhere.key"), good, sizeof good, 0600), 0);
    CHECK_INT(symlink("elsewhere.key", key), 0);
    CHECK(hk_store_open(dir, SMALL_MAP, &s) != 0);
    CHECK_INT(unlink(key), 0);
    /* The right key back: all is well. */
    CHECK_INT(write_file(key, good, sizeof good, 0600), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_find(s, "keyed", &got), 0);
    CHECK_STR(got->secret_key, SECRET);
    hk_webhook_free(got);
    hk_store_close(s);
}
