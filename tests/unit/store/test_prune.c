/* test_prune.c -- pruning deliveries by age and by count */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
TEST(prune_by_age_and_count)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t ids[20];
    /* create times 0..19 s; id 3 pending (never pruned) */
    for (int i = 0; i < 20; i++) {
        ids[i] = put(s, wid, i == 3 ? PENDING : HK_DELIVERY_SUCCEEDED, 0, i * 1000);
        CHECK(ids[i]);
    }
    hk_attempt_t a = attempt(1, 200);
    CHECK_INT(hk_outbox_attempt_record(s, ids[0], &a, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);

    size_t pruned = 0;
    int more = 0;
    /* Older than 10 s at now = 15 s: ids 0..4 but the pending one, 2 a call. */
    CHECK_INT(hk_outbox_prune(s, 15000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(pruned, 2);
    CHECK_INT(more, 1);
    CHECK_INT(state_of(s, ids[0]), -1);
    CHECK_INT(state_of(s, ids[2]), HK_DELIVERY_SUCCEEDED);
    CHECK_INT(hk_outbox_prune(s, 15000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(pruned, 2);
    CHECK_INT(hk_outbox_prune(s, 15000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(pruned, 0);
    CHECK_INT(more, 0);
    /* Nothing old enough, nothing beyond the count: no batch at all. */
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(hk_outbox_prune(s, 1000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(state_of(s, ids[3]), PENDING);
    CHECK_INT(state_of(s, ids[4]), -1);
    CHECK_INT(state_of(s, ids[5]), HK_DELIVERY_SUCCEEDED);
    /* The attempts went with it. */
    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(s, ids[0], 1, &d), HK_ENOTFOUND);

    /* By count: 16 left (15 finished + 1 pending); keep 10 -> 6 oldest finished go. */
    for (int i = 0; i < 5; i++)
        CHECK_INT(hk_outbox_prune(s, 15000, 1000000, 10, 1000, 4, &pruned, &more), 0);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.deliveries, 10);
    CHECK_INT(state_of(s, ids[3]), PENDING);
    CHECK_INT(state_of(s, ids[10]), -1);
    CHECK_INT(state_of(s, ids[11]), HK_DELIVERY_SUCCEEDED);
    hk_store_close(s);
}

/* Entries in table db of the closed store in dir (-1: could not read). */
static long raw_entries(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    if (raw_open(dir, &env, &txn, db, &dbi)) return -1;
    long n = mdb_stat(txn, dbi, &st) ? -1 : (long)st.ms_entries;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* The deliveries of one event share one stored body, which goes with the
 * last of them. */
TEST(one_body_per_event)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t a = put(s, wid, HK_DELIVERY_SUCCEEDED, 0, 0);
    uint64_t b = put(s, wid, HK_DELIVERY_SUCCEEDED, 0, 0);
    uint64_t c = put(s, wid, PENDING, 0, 0);
    CHECK(a && b && c);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);
    CHECK_INT(raw_entries(dir, "bodies"), 1);
    CHECK_INT(raw_entries(dir, "deliveries"), 3);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    size_t pruned = 0;
    int more = 0;
    CHECK_INT(hk_outbox_prune(s, 20000, 10000, 1000, 1000, 10, &pruned, &more), 0);
    CHECK_INT(pruned, 2);
    CHECK_INT(state_of(s, a), -1);
    /* The body stays for c, whole. */
    uint8_t *body = NULL;
    size_t len = 0, data_len = 0;
    CHECK_INT(hk_outbox_body_get(s, c, &body, &len, &data_len), 0);
    CHECK_INT(len, sizeof BODY - 1);
    CHECK_INT(data_len, DATA_LEN);
    CHECK(memcmp(body, BODY, len) == 0);
    free(body);
    hk_attempt_t at = attempt(1, 200);
    CHECK_INT(write_attempt(s, c, &at, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    hk_store_close(s);
    CHECK_INT(raw_entries(dir, "bodies"), 1);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(hk_outbox_prune(s, 20000, 10000, 1000, 1000, 10, &pruned, &more), 0);
    CHECK_INT(pruned, 1);
    CHECK_INT(hk_outbox_body_get(s, c, &body, &len, &data_len), HK_ENOTFOUND);
    hk_store_close(s);
    CHECK_INT(raw_entries(dir, "bodies"), 0);
    CHECK_INT(raw_entries(dir, "deliveries"), 0);
}
