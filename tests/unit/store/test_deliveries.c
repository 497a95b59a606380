/* test_deliveries.c -- deliveries: attempts, states, ids out of order, listing */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
static int collect(hk_delivery_t *d, void *arg)
{
    uint64_t *ids = arg;
    size_t i = 0;
    while (ids[i])
        i++;
    ids[i] = d->id;
    hk_delivery_free(d);
    return i + 1 == 15; /* room for 15 */
}

TEST(attempts_and_states)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t id = put(s, wid, PENDING, 50, 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_outbox_due_t due[4];
    int64_t next;
    CHECK_INT(take_all(s, 100, due, 4, &next), 1);

    hk_attempt_t a1 = attempt(2, 500);
    int active = -1;
    CHECK_INT(hk_outbox_attempt_record(s, id, &a1, PENDING, 5000, &active), 0);
    CHECK_INT(active, 1);
    /* Until its write commits, the delivery is not handed out again. */
    CHECK_INT(take_all(s, 1000000, due, 4, &next), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(take_all(s, 4999, due, 4, &next), 0);
    CHECK_INT(next, 5000);
    CHECK_INT(take_all(s, 5000, due, 4, &next), 1);

    hk_attempt_t a2 = attempt(1, 200);
    a2.response_body.data = (uint8_t *)"ok";
    a2.response_body.len = 2;
    CHECK_INT(hk_outbox_attempt_record(s, id, &a2, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(s, id, 1, &d), 0);
    CHECK_INT(d->state, HK_DELIVERY_SUCCEEDED);
    CHECK_INT(d->attempt_count, 2);
    CHECK_INT(d->next_attempt_time, 0);
    CHECK_INT(d->n_attempts, 2);
    CHECK_INT(d->attempts[0]->http_status, 500);
    CHECK_STR(d->attempts[0]->error, "HTTP 500");
    CHECK_INT(d->attempts[1]->http_status, 200);
    CHECK_INT(d->attempts[1]->response_body.len, 2);
    hk_delivery_free(d);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.pending, 0);
    CHECK_INT(st.due, 0);
    CHECK_INT(write_attempt(s, 777, &a2, PENDING, 0, NULL), HK_ENOTFOUND);
    hk_store_close(s);
}

TEST(sync_delivery_with_its_attempt)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = hk_outbox_delivery_id(s);
    d.webhook_id = wid;
    d.event_id = (char *)"evt";
    d.state = HK_DELIVERY_FAILED;
    d.attempt_count = 1;
    hk_attempt_t a = attempt(3, 0);
    CHECK_INT(hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, &a),
              0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_delivery_t *got = NULL;
    CHECK_INT(hk_outbox_delivery_get(s, d.id, 1, &got), 0);
    CHECK_INT(got->n_attempts, 1);
    CHECK_INT(got->attempts[0]->outcome, 3);
    hk_delivery_free(got);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.pending, 0);
    CHECK_INT(st.due, 0);
    /* Bad puts are refused before anything is written. */
    d.id = hk_outbox_delivery_id(s);
    CHECK_INT(hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, 3, 7, NULL), HK_EINVAL);
    d.state = 9;
    CHECK_INT(hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, 1, NULL),
              HK_EINVAL);
    CHECK_INT(hk_outbox_batch_failures(s), 0);
    hk_store_close(s);
}

/* Ids are appended as they come; a delivery written after younger ones (a
 * synchronous one, logged when its attempt ends) still goes in, in order,
 * and an id written twice is refused. */
TEST(deliveries_out_of_order)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t ids[40];
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.webhook_id = wid;
    d.event_id = (char *)"evt";
    d.state = HK_DELIVERY_SUCCEEDED;
    for (int i = 0; i < 40; i++)
        ids[i] = hk_outbox_delivery_id(s);
    /* Every other one first, then the rest backwards, across commits. */
    for (int i = 0; i < 40; i += 2) {
        d.id = ids[i];
        CHECK_INT(
            hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL),
            0);
    }
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    for (int i = 39; i > 0; i -= 2) {
        d.id = ids[i];
        CHECK_INT(
            hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL),
            0);
    }
    /* An id written twice fails on its own: the writes gathered with it
     * are kept (each write is isolated in its batch). */
    d.id = ids[7];
    CHECK_INT(write_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL),
              HK_ECORRUPT);
    CHECK_INT(hk_outbox_batch_failures(s), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    for (int i = 0; i < 40; i++) {
        uint8_t *body = NULL;
        size_t len = 0, data_len = 0;
        CHECK_INT(state_of(s, ids[i]), HK_DELIVERY_SUCCEEDED);
        CHECK_INT(hk_outbox_body_get(s, ids[i], &body, &len, &data_len), 0);
        CHECK_INT(len, sizeof BODY - 1);
        CHECK(memcmp(body, BODY, len) == 0);
        free(body);
    }
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.deliveries, 40);
    hk_store_close(s);
}

TEST(list_newest_first)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t w1 = webhook(s, "a", 1), w2 = webhook(s, "b", 1);
    for (int i = 0; i < 10; i++)
        CHECK(put(s, i % 2 ? w2 : w1, i % 3 ? HK_DELIVERY_SUCCEEDED : PENDING, 0, i));
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    uint64_t ids[16] = {0}, resume = 1;
    CHECK_INT(hk_outbox_delivery_list(s, 0, 0, 0, 0, collect, ids, &resume), 0);
    CHECK_INT(resume, 0);
    CHECK_INT(ids[0], 10);
    CHECK_INT(ids[9], 1);
    CHECK_INT(ids[10], 0);

    memset(ids, 0, sizeof ids);
    CHECK_INT(hk_outbox_delivery_list(s, w2, 0, 0, 0, collect, ids, &resume), 0);
    CHECK_INT(ids[0], 10);
    CHECK_INT(ids[1], 8);
    CHECK_INT(ids[4], 2);
    CHECK_INT(ids[5], 0);

    memset(ids, 0, sizeof ids);
    CHECK_INT(hk_outbox_delivery_list(s, w1, 8, PENDING, 0, collect, ids, &resume), 0);
    CHECK_INT(ids[0], 7); /* ids 1, 4, 7, 10 are pending; w1 has the odd ids */
    CHECK_INT(ids[1], 1);
    CHECK_INT(ids[2], 0);

    /* A scan budget ends the walk with a place to resume from. */
    memset(ids, 0, sizeof ids);
    CHECK_INT(hk_outbox_delivery_list(s, 0, 0, PENDING, 4, collect, ids, &resume), 0);
    CHECK_INT(ids[0], 10);
    CHECK_INT(ids[1], 7);
    CHECK_INT(ids[2], 0);
    CHECK_INT(resume, 7);
    CHECK_INT(hk_outbox_delivery_list(s, 0, resume, PENDING, 4, collect, ids, &resume), 0);
    CHECK_INT(ids[2], 4);
    CHECK_INT(ids[3], 0);
    CHECK_INT(resume, 3);
    CHECK_INT(hk_outbox_delivery_list(s, 0, resume, PENDING, 4, collect, ids, &resume), 0);
    CHECK_INT(ids[3], 1);
    CHECK_INT(resume, 0);
    hk_store_close(s);
}

/* A record that does not decode is passed by in a walk (no error), set
 * aside by a write of its own, and then reads as gone. */
TEST(list_passes_a_corrupt_record)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1), ids[5];
    for (int i = 0; i < 5; i++)
        CHECK(ids[i] = put(s, wid, i == 2 ? PENDING : HK_DELIVERY_SUCCEEDED, 10, 1));
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);
    CHECK_INT(corrupt_delivery(dir, ids[2]), 0);
    CHECK_INT(corrupt_delivery(dir, ids[3]), 0);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t seen[16] = {0}, resume = 1;
    /* Unfiltered (the deliveries table) and by webhook (its index). */
    CHECK_INT(hk_outbox_delivery_list(s, 0, 0, 0, 0, collect, seen, &resume), 0);
    CHECK_INT(resume, 0);
    CHECK_INT(seen[0], ids[4]);
    CHECK_INT(seen[1], ids[1]);
    CHECK_INT(seen[2], ids[0]);
    CHECK_INT(seen[3], 0);
    memset(seen, 0, sizeof seen);
    CHECK_INT(hk_outbox_delivery_list(s, wid, 0, 0, 0, collect, seen, &resume), 0);
    CHECK_INT(seen[1], ids[1]);
    CHECK_INT(seen[3], 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0); /* the set-aside writes */
    hk_store_usage_t u;
    CHECK_INT(hk_store_usage(s, &u), 0);
    CHECK_INT(u.quarantined, 2); /* two records (bodies are shared, counted: not set aside) */
    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(s, ids[3], 1, &d), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_delivery_get(s, ids[4], 1, &d), 0);
    hk_delivery_free(d);
    hk_store_close(s);
}

/* An operation that writes a pending delivery, then fails. */
typedef struct {
    hk_store_write_t w;
    uint64_t wid;
} failing_t;

static int put_then_fail(hk_store_t *s, hk_store_write_t *w)
{
    failing_t *f = (failing_t *)w;
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = hk_outbox_delivery_id(s) - 1; /* handed out before the hand-over */
    d.webhook_id = f->wid;
    d.event_id = (char *)"evt";
    d.state = PENDING;
    d.next_attempt_time = 1;
    int err = hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL);
    return err ? err : HK_ESTATE;
}

static uint64_t pending_of(hk_store_t *s)
{
    hk_outbox_stats_t st;
    return hk_outbox_stats(s, &st) == 0 ? st.pending : UINT64_MAX;
}

/* The pending count is kept, not walked for: it moves with every write that
 * commits, not with one thrown away, and a reopen counts the same. */
TEST(pending_count_is_kept)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1), other = webhook(s, "b", 1);
    uint64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = put(s, i == 2 ? other : wid, PENDING, 50, 1);
    put(s, wid, HK_DELIVERY_FAILED, 0, 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(pending_of(s), 3);

    hk_attempt_t ok = attempt(1, 200);
    CHECK_INT(write_attempt(s, ids[0], &ok, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    CHECK_INT(pending_of(s), 2);
    /* A second result for a delivery no longer pending changes nothing. */
    CHECK_INT(write_attempt(s, ids[0], &ok, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    CHECK_INT(pending_of(s), 2);

    hk_outbox_delivery_id(s); /* an id to write */
    failing_t f = {.w = {.run = put_then_fail}, .wid = wid};
    CHECK_INT(hk_store_run(s, &f.w), HK_ESTATE);
    CHECK_INT(pending_of(s), 2);

    /* Deleting a webhook cancels its pending deliveries. */
    CHECK_INT(hk_store_webhook_delete(s, other, NULL), 0);
    CHECK_INT(pending_of(s), 1);
    hk_store_close(s);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(pending_of(s), 1);
    hk_store_close(s);
}
