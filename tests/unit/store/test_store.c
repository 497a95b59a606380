/* test_store.c -- the store opened and closed: directories, map size, reopening, schema version */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
TEST(creates_dirs)
{
    char dir[512];
    struct stat st;
    hk_store_t *s = NULL;
    snprintf(dir, sizeof dir, "%s/a/b/data", hk_test_tmpdir());
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_store_close(s);
    CHECK_INT(stat(dir, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    CHECK_INT(hk_store_open("", SMALL_MAP, &s), HK_EINVAL);
}

TEST(persistence)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = NULL;
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(fill(s), 0);
    hk_webhook_t wh = hook("Renamed", 2, "Elsewhere");
    wh.id = 10;
    CHECK_INT(hk_store_webhook_update(s, &wh), 0);
    hk_store_close(s);

    /* A map size of 0 means the default, and never less than the data. */
    CHECK_INT(hk_store_open(dir, 0, &s), 0);
    uint64_t n = 0;
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, 150);
    CHECK_INT(hk_store_webhook_find(s, "renamed", &got), 0);
    CHECK_INT(got->id, 10);
    CHECK_STR(got->secret_key, SECRET);
    hk_webhook_free(got);
    CHECK_INT(hk_store_webhook_find(s, "hook-010", &got), HK_ENOTFOUND);
    struct collect m = {0};
    CHECK_INT(hk_store_webhook_match(s, 2, "Elsewhere", collect_fn, &m), 0);
    CHECK_INT(m.n, 1);
    uint64_t id = 0;
    CHECK_INT(create(s, "after reopen", 1, "AccountUpdated", &id), 0);
    CHECK_INT(id, 151);
    hk_store_close(s);
}

TEST(map_full)
{
    const char *dir = hk_test_tmpdir();
    const size_t map = 256u << 10;
    hk_store_t *s = NULL;
    char name[32], desc[501];
    uint64_t made = 0, n = 0, id = 0;
    int err = 0;
    memset(desc, 'd', 500);
    desc[500] = '\0';
    CHECK_INT(hk_store_open(dir, map, &s), 0);
    for (int i = 1; i <= 100000; i++) {
        snprintf(name, sizeof name, "filler-%06d", i);
        hk_webhook_t wh = hook(name, 1 + i % 2, actions[i % 3]);
        wh.description = desc;
        if ((err = hk_store_webhook_create(s, &wh)) != 0) break;
        made++;
    }
    CHECK_INT(err, HK_EFULL);
    CHECK(made > 10);
    /* The failed txn left nothing: same count, no half-written index entry. */
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, made);
    snprintf(name, sizeof name, "filler-%06d", (int)made + 1);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_find(s, name, &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_get(s, made + 1, &got), HK_ENOTFOUND);
    /* Still usable: reads work, and deletes free room for a write. */
    CHECK_INT(hk_store_webhook_get(s, made, &got), 0);
    hk_webhook_free(got);
    hk_store_close(s);

    /* Reopens at the same size with everything intact. */
    CHECK_INT(hk_store_open(dir, map, &s), 0);
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, made);
    for (uint64_t i = 1; i <= made; i++) {
        snprintf(name, sizeof name, "filler-%06d", (int)i);
        CHECK_INT(hk_store_webhook_find(s, name, &got), 0);
        CHECK_INT(got->id, i);
        CHECK_STR(got->secret_key, SECRET);
        CHECK(strcmp(got->description, desc) == 0);
        hk_webhook_free(got);
    }
    struct collect m = {0};
    CHECK_INT(hk_store_webhook_match(s, 1, "AccountUpdated", collect_fn, &m), 0);
    CHECK(m.n > 0 && !m.bad);
    hk_store_close(s);

    /* A larger map takes more; the failed create spent no id. */
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "after growth", 1, "AccountUpdated", &id), 0);
    CHECK_INT(id, made + 1);
    hk_store_close(s);
}

TEST(newer_schema_refused)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "kept", 1, "AccountUpdated", NULL), 0);
    hk_store_close(s);

    CHECK_INT(raw_open(dir, &env, &txn, "meta", &meta), 0);
    uint8_t v2[4] = {0, 0, 0, 3};
    MDB_val k = {6, (void *)"schema"}, v = {4, v2};
    CHECK_INT(mdb_put(txn, meta, &k, &v, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);

    /* Back to 2, and the data is untouched by the refusal (schema 1 is
     * migrated: test_migrate.c). */
    CHECK_INT(raw_open(dir, &env, &txn, "meta", &meta), 0);
    v2[3] = 2;
    CHECK_INT(mdb_put(txn, meta, &k, &v, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_find(s, "kept", &got), 0);
    hk_webhook_free(got);
    hk_store_close(s);
}
