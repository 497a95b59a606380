/* test_migrate.c -- a schema-1 store (tests/fixtures/store-v1, written by hookd 8acb183) opens as
 * schema 2, also when the migration stops part way */
#include "core/error.h"
#include "core/log.h"
#include "storetest.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* The store_impl.h knobs hk_store_open migrates with. */
extern size_t hk_store_migrate_chunk, hk_store_migrate_max_txns;

/* A copy of the fixture's data.mdb and secret.key in a fresh directory. */
static const char *fixture_copy(void)
{
    const char *dir = hk_test_tmpdir();
    static const char *const files[] = {"data.mdb", "secret.key"};
    for (size_t i = 0; i < 2; i++) {
        char src[512];
        size_t len;
        snprintf(src, sizeof src, "%s/store-v1/%s", HK_FIXTURES, files[i]);
        char *data = slurp(src, &len);
        if (!data || write_file(path_in(dir, files[i]), data, len, 0600) != 0) {
            free(data);
            return NULL;
        }
        free(data);
    }
    return dir;
}

/* What the fixture's hookd answered (tests/fixtures/store-v1/expected.json). */
static void check_contents(hk_store_t *s)
{
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.deliveries, 17);
    CHECK_INT(st.pending, 6); /* 4 parked behind "parked", 2 of "later" */
    uint64_t n = 0;
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, 5);

    static const struct {
        uint64_t id, webhook;
        int state, attempts;
        size_t payload;
    } want[] = {
        {1, 1, HK_DELIVERY_SUCCEEDED, 1, 6048}, /* overflow pages */
        {2, 1, HK_DELIVERY_SUCCEEDED, 1, 58},   {6, 2, HK_DELIVERY_FAILED, 2, 58},
        {9, 3, HK_DELIVERY_PENDING, 1, 58},     {13, 4, HK_DELIVERY_PENDING, 1, 58},
        {15, 6, HK_DELIVERY_SUCCEEDED, 1, 58},  {17, 5, HK_DELIVERY_SUCCEEDED, 1, 58},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        hk_delivery_t *d = NULL;
        CHECK_INT(hk_outbox_delivery_get(s, want[i].id, 1, &d), 0);
        if (!d) continue;
        CHECK_INT(d->webhook_id, want[i].webhook);
        CHECK_INT(d->state, want[i].state);
        CHECK_INT(d->attempt_count, want[i].attempts);
        CHECK_INT(d->n_attempts, want[i].attempts);
        CHECK_INT(d->payload.len, want[i].payload);
        CHECK(d->payload.len > 0 && d->payload.data[0] == '{');
        hk_delivery_free(d);
    }
    /* Parked: no due entry until its webhook is active again; "later"'s two are due in an
     * hour. */
    CHECK_INT(st.due, 2);
}

TEST(opens_as_schema_2)
{
    const char *dir = fixture_copy();
    CHECK(dir);
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    if (!s) return;
    check_contents(s);
    hk_store_close(s);
    /* A second open finds schema 2: nothing to do, the same store. */
    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    if (s) check_contents(s);
    hk_store_close(s);
}

/* Two records a txn, one txn an open: every open part way is refused with
 * HK_EBUSY and leaves a store the next one carries on with. */
TEST(carries_on_after_a_stop)
{
    const char *dir = fixture_copy();
    CHECK(dir);
    hk_store_migrate_chunk = 2;
    hk_store_migrate_max_txns = 1;
    int opens = 0, err = HK_EBUSY;
    hk_store_t *s = NULL;
    while (err == HK_EBUSY && opens < 100) {
        err = hk_store_open(dir, SMALL_MAP, &s);
        opens++;
    }
    hk_store_migrate_chunk = 4096;
    hk_store_migrate_max_txns = 0;
    CHECK_INT(err, 0);
    /* 17 deliveries and 17 index entries, two a txn, and the last txn. */
    CHECK(opens >= 17);
    if (!s) return;
    check_contents(s);
    hk_store_close(s);
}
