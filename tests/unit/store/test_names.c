/* test_names.c -- webhook names compared case-insensitively (the names index) */
#include "core/error.h"
#include "store/names.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
TEST(find_case_insensitive)
{
    hk_store_t *s = NULL;
    hk_webhook_t *got = NULL;
    uint64_t id = 0, id2 = 0;
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "My Hook", 1, "AccountUpdated", &id), 0);
    CHECK_INT(create(s, u8"\u00c9cole \u03a9 \u0414", 1, "AccountUpdated", &id2), 0);

    CHECK_INT(hk_store_webhook_find(s, "my hook", &got), 0);
    CHECK_INT(got->id, id);
    CHECK_STR(got->name, "My Hook"); /* stored as given */
    hk_webhook_free(got);
    CHECK_INT(hk_store_webhook_find(s, "MY HOOK", &got), 0);
    CHECK_INT(got->id, id);
    hk_webhook_free(got);
    /* "école ω д" finds "École Ω Д": Latin-1, Greek and Cyrillic fold too. */
    CHECK_INT(hk_store_webhook_find(s, u8"\u00e9COLE \u03c9 \u0434", &got), 0);
    CHECK_INT(got->id, id2);
    hk_webhook_free(got);

    /* Simple folds only: long s is s, final sigma is sigma, Ÿ is ÿ; but ß is
     * not "ss" (a full folding), and unfolded blocks compare as bytes. */
    CHECK_INT(create(s, u8"Ma\u017f \u03c2 \u0178", 1, "A", NULL), 0);
    CHECK_INT(hk_store_webhook_find(s, u8"MAS \u03a3 \u00ff", &got), 0);
    hk_webhook_free(got);
    CHECK_INT(create(s, u8"stra\u00dfe", 1, "A", NULL), 0);
    CHECK_INT(create(s, "STRASSE", 1, "A", NULL), 0);
    CHECK_INT(create(s, u8"\u1e00", 1, "A", NULL), 0); /* U+1E00, Latin Ext. Additional */
    CHECK_INT(create(s, u8"\u1e01", 1, "A", NULL), 0); /* its lower case: distinct */
    /* Invalid UTF-8 is kept as bytes, never read past the end. */
    CHECK_INT(create(s, "bad \xc3", 1, "A", NULL), 0);
    CHECK_INT(hk_store_webhook_find(s, "BAD \xc3", &got), 0);
    hk_webhook_free(got);

    CHECK_INT(hk_store_webhook_find(s, "My Hook ", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, "nobody", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, "", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, NULL, &got), HK_ENOTFOUND);

    /* Taken in any letter case, and a failed create assigns nothing. */
    hk_webhook_t dup = hook("MY HOOK", 2, "Other");
    CHECK_INT(hk_store_webhook_create(s, &dup), HK_EEXIST);
    CHECK_INT(dup.id, 0);
    CHECK_INT(dup.create_time, 0);
    CHECK_INT(create(s, u8"\u00e9cole \u03c9 \u0434", 2, "X", NULL), HK_EEXIST);
    /* ...and the refused creates did not spend ids. */
    uint64_t id3 = 0, n = 0;
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(create(s, "third", 1, "AccountUpdated", &id3), 0);
    CHECK_INT(id3, n + 1);
    hk_store_close(s);
}

/* The key itself, without a store: folded bytes, and the length limit. */
TEST(name_key_folds)
{
    uint8_t out[64];
    size_t n = 0;
    CHECK_INT(hk_name_key(u8"\u00c9COLE \u03a9 \u0414 \u0531", 63, out, &n), 0);
    const char *want = u8"\u00e9cole \u03c9 \u0434 \u0561";
    CHECK_INT(n, strlen(want));
    CHECK(memcmp(out, want, n) == 0);
    /* The micro sign folds to Greek mu; a lone lead byte stays as it is. */
    CHECK_INT(hk_name_key("\xc2\xb5x\xc3", 63, out, &n), 0);
    CHECK_INT(n, 4);
    CHECK(memcmp(out, u8"\u03bcx\xc3", 4) == 0);
    CHECK_INT(hk_name_key("abcd", 4, out, &n), 0);
    CHECK_INT(hk_name_key("abcde", 4, out, &n), HK_EINVAL);
    CHECK_INT(hk_name_key("", 4, out, &n), HK_EINVAL);
    CHECK_INT(hk_name_key(NULL, 4, out, &n), HK_EINVAL);
}
