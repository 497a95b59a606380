/* test_batch.c -- the write batch: commits, ids, admin writes, reads, a full map */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
TEST(batch_commit_and_ids)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    CHECK(wid);
    CHECK_INT(hk_outbox_batch_gen(s), 0);

    uint64_t id1 = put(s, wid, PENDING, 0, 1), id2 = put(s, wid, PENDING, 0, 2);
    CHECK_INT(id1, 1);
    CHECK_INT(id2, 2);
    /* One batch holds both. */
    CHECK_INT(heard.opened, 1);
    CHECK_INT(hk_outbox_batch_gen(s), 1);
    CHECK_INT(heard.done, 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(heard.done, 1);
    CHECK_INT(heard.last_gen, 1);
    CHECK_INT(heard.last_err, 0);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(hk_store_sync(s), 0);
    /* Nothing open: committing again is nothing. */
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(heard.done, 1);

    /* An id handed out but never written is not handed out again, across a
     * reopen too. */
    CHECK_INT(hk_outbox_delivery_id(s), 3);
    CHECK_INT(put(s, wid, PENDING, 0, 3), 4);
    hk_store_close(s); /* commits the open batch */
    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(state_of(s, 4), PENDING);
    CHECK_INT(hk_outbox_delivery_id(s), 5);
    hk_store_close(s);
}

TEST(admin_write_commits_open_batch)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t id = put(s, wid, PENDING, 0, 1);
    CHECK(id);
    CHECK_INT(heard.done, 0);
    /* The writer is needed for the webhook: the batch goes first. */
    CHECK(webhook(s, "b", 1));
    CHECK_INT(heard.done, 1);
    CHECK_INT(heard.last_err, 0);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(state_of(s, id), PENDING);
    hk_store_close(s);
}

TEST(reads_see_the_open_batch)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t id = put(s, wid, PENDING, 0, 1);
    CHECK(hk_outbox_batch_gen(s) != 0);
    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(s, id, 1, &d), 0);
    CHECK_INT(d->payload.len, DATA_LEN);
    CHECK(memcmp(d->payload.data, "{\"a\":1}", DATA_LEN) == 0);
    CHECK_INT(d->n_attempts, 0);
    hk_delivery_free(d);
    uint8_t *body = NULL;
    size_t len = 0, dlen = 0;
    CHECK_INT(hk_outbox_body_get(s, id, &body, &len, &dlen), 0);
    CHECK_INT(len, sizeof BODY - 1);
    CHECK_INT(dlen, DATA_LEN);
    CHECK(memcmp(body, BODY, len) == 0);
    free(body);
    CHECK_INT(hk_outbox_delivery_get(s, 999, 0, &d), HK_ENOTFOUND);
    hk_store_close(s);
}

TEST(map_full_throws_the_batch_away)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, 1u << 20); /* 1 MiB: a few 64 KiB bodies */
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t kept = put(s, wid, PENDING, 0, 1);
    CHECK(kept);
    CHECK_INT(hk_outbox_batch_commit(s), 0);

    static uint8_t big[64 * 1024];
    memset(big, 'x', sizeof big);
    big[0] = '{';
    big[sizeof big - 1] = '}';
    int err = 0, written = 0;
    uint64_t gen = 0, first = 0;
    for (int i = 0; i < 100 && !err; i++) {
        hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
        d.id = hk_outbox_delivery_id(s);
        d.webhook_id = wid;
        d.state = PENDING;
        d.event_id = (char *)"e";
        err = hk_outbox_delivery_put(s, &d, big, sizeof big, 1, NULL);
        if (!err) {
            if (!first) first = d.id;
            gen = hk_outbox_batch_gen(s);
            written++;
        }
    }
    CHECK_INT(err, HK_EFULL);
    CHECK(written > 0);
    /* Every write of that batch is gone, and its waiters are told. */
    CHECK_INT(heard.last_gen, gen);
    CHECK_INT(heard.last_err, HK_EFULL);
    CHECK_INT(hk_outbox_batch_failures(s), 1);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(state_of(s, first), -1);
    CHECK_INT(state_of(s, kept), PENDING);
    /* The next batch is a fresh one and works. */
    CHECK(put(s, wid, PENDING, 0, 2));
    CHECK(hk_outbox_batch_gen(s) > gen);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);
}
