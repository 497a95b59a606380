/* test_due.c -- the due index: take, skips, park and unpark, cancel, resume */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
static int skip_odd(uint64_t id, void *arg)
{
    (void)arg;
    return id % 2;
}

TEST(due_index_order_and_take)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t a = put(s, wid, PENDING, 300, 1), b = put(s, wid, PENDING, 100, 1),
             c = put(s, wid, PENDING, 200, 1);
    hk_outbox_due_t due[8];
    int64_t next;
    /* Created in the open batch: not committed, not taken. */
    CHECK_INT(take_all(s, 1000, due, 8, &next), 0);
    CHECK_INT(next, INT64_MAX);
    CHECK_INT(hk_outbox_batch_commit(s), 0);

    CHECK_INT(take_all(s, 250, due, 8, &next), 2);
    CHECK_INT(due[0].id, b);
    CHECK_INT(due[0].time, 100);
    CHECK_INT(due[1].id, c);
    CHECK_INT(next, 300);
    /* Taken means out of the index: not handed out twice. */
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(take_all(s, 250, due, 8, &next), 0);
    CHECK_INT(next, 300);
    /* A look that takes nothing writes nothing: an idle scheduler must not
     * commit and sync empty batches. */
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    /* max bounds a take; next says more is due. */
    CHECK_INT(hk_outbox_due_restore(s, b), 0);
    CHECK_INT(hk_outbox_due_restore(s, c), 0);
    /* Put back, but not committed: still not handed out. */
    CHECK_INT(take_all(s, 250, due, 8, &next), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(take_all(s, 1000, due, 1, &next), 1);
    CHECK_INT(due[0].id, b);
    CHECK_INT(next, 200);
    CHECK_INT(take_all(s, 1000, due, 8, &next), 2);
    CHECK_INT(due[0].id, c);
    CHECK_INT(due[1].id, a);
    CHECK_INT(state_of(s, a), PENDING); /* taken, still pending */
    hk_store_close(s);
}

TEST(due_take_skips_in_flight)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    for (int i = 0; i < 4; i++)
        CHECK(put(s, wid, PENDING, 10 + i, 1));
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_outbox_due_t due[8];
    size_t n;
    int64_t next;
    CHECK_INT(hk_outbox_due_take(s, 100, skip_odd, NULL, due, 8, &n, &next), 0);
    CHECK_INT(n, 2);
    CHECK_INT(due[0].id, 2);
    CHECK_INT(due[1].id, 4);
    CHECK_INT(next, INT64_MAX); /* the skipped ones do not count as next */
    hk_store_close(s);
}

TEST(park_and_unpark_with_active)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1), other = webhook(s, "b", 1);
    uint64_t id = put(s, wid, PENDING, 10, 1), id2 = put(s, other, PENDING, 20, 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);

    CHECK_INT(set_active(s, wid, 0), 0);
    hk_outbox_due_t due[4];
    int64_t next;
    CHECK_INT(take_all(s, 100, due, 4, &next), 1);
    CHECK_INT(due[0].id, id2);
    CHECK_INT(state_of(s, id), PENDING);

    /* A delivery created for an inactive webhook waits too. */
    uint64_t id3 = put(s, wid, PENDING, 15, 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(take_all(s, 100, due, 4, &next), 0);

    uint64_t added = due_added(s);
    CHECK_INT(set_active(s, wid, 1), 0);
    CHECK_INT(due_added(s), added + 1);
    CHECK_INT(take_all(s, 100, due, 4, &next), 2);
    CHECK_INT(due[0].id, id);
    CHECK_INT(due[1].id, id3);

    /* A result recorded while the webhook is inactive leaves it parked. */
    CHECK_INT(set_active(s, wid, 0), 0);
    hk_attempt_t a = attempt(2, 500);
    int active = -1;
    CHECK_INT(hk_outbox_attempt_record(s, id, &a, PENDING, 50, &active), 0);
    CHECK_INT(active, 0);
    CHECK_INT(take_all(s, 100, due, 4, &next), 0);
    /* Activation puts back every pending delivery, also id3 whose attempt
     * is still in flight: the scheduler skips what it has in flight, and the
     * attempt's result replaces the entry. */
    CHECK_INT(set_active(s, wid, 1), 0);
    CHECK_INT(take_all(s, 100, due, 4, &next), 2);
    CHECK_INT(due[0].id, id3);
    CHECK_INT(due[1].id, id);
    CHECK_INT(due[1].time, 50);
    hk_store_close(s);
}

TEST(delete_cancels_pending)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t p = put(s, wid, PENDING, 10, 1), done = put(s, wid, HK_DELIVERY_SUCCEEDED, 0, 1);
    uint64_t inflight = put(s, wid, PENDING, 5, 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_outbox_due_t due[4];
    int64_t next;
    CHECK_INT(take_all(s, 7, due, 1, &next), 1);
    CHECK_INT(due[0].id, inflight);

    CHECK_INT(hk_store_webhook_delete(s, wid, NULL), 0);
    CHECK_INT(state_of(s, p), HK_DELIVERY_CANCELLED);
    CHECK_INT(state_of(s, inflight), HK_DELIVERY_CANCELLED);
    CHECK_INT(state_of(s, done), HK_DELIVERY_SUCCEEDED);
    CHECK_INT(take_all(s, 1000, due, 4, &next), 0);
    /* The attempt in flight is still logged, and stays cancelled. */
    hk_attempt_t a = attempt(1, 200);
    int active = -1;
    CHECK_INT(hk_outbox_attempt_record(s, inflight, &a, HK_DELIVERY_SUCCEEDED, 0, &active), 0);
    CHECK_INT(active, 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(s, inflight, 1, &d), 0);
    CHECK_INT(d->state, HK_DELIVERY_CANCELLED);
    CHECK_INT(d->n_attempts, 1);
    hk_delivery_free(d);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.pending, 0);
    hk_store_close(s);
}

TEST(resume_after_restart)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1), off = webhook(s, "b", 0);
    uint64_t a = put(s, wid, PENDING, 10, 1), b = put(s, wid, PENDING, 20, 1);
    CHECK(put(s, off, PENDING, 5, 1));
    CHECK(put(s, wid, HK_DELIVERY_FAILED, 0, 1));
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_outbox_due_t due[4];
    int64_t next;
    /* Both taken (in flight) when hookd dies. */
    CHECK_INT(take_all(s, 100, due, 4, &next), 2);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(take_all(s, 100, due, 4, &next), 0);
    size_t n = 0;
    CHECK_INT(hk_outbox_resume(s, &n), 0);
    CHECK_INT(n, 2); /* the inactive webhook's delivery keeps waiting */
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(take_all(s, 100, due, 4, &next), 2);
    CHECK_INT(due[0].id, a);
    CHECK_INT(due[1].id, b);
    hk_store_close(s);
}

/* A pending record that does not decode stops no restart: it is set aside
 * (counted), the others resume, and it reads as gone. */
TEST(resume_sets_aside_a_corrupt_record)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t a = put(s, wid, PENDING, 10, 1), b = put(s, wid, PENDING, 20, 1),
             c = put(s, wid, PENDING, 30, 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);
    CHECK_INT(corrupt_delivery(dir, b), 0);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    size_t n = 0;
    CHECK_INT(hk_outbox_resume(s, &n), 0);
    CHECK_INT(n, 2);
    hk_store_usage_t u;
    CHECK_INT(hk_store_usage(s, &u), 0);
    CHECK_INT(u.quarantined, 1); /* the record (its body is shared by the event's deliveries) */
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.pending, 2); /* its pending entry went with it */
    hk_outbox_due_t due[4];
    int64_t next;
    /* Its due entry (its time unknown now) is taken once and then gone;
     * the scheduler finds no record behind it and passes it by. */
    CHECK_INT(take_all(s, 100, due, 4, &next), 3);
    CHECK_INT(due[0].id, a);
    CHECK_INT(due[1].id, b);
    CHECK_INT(due[2].id, c);
    CHECK_INT(state_of(s, b), -1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(take_all(s, 100, due, 4, &next), 0);
    /* Deleting the webhook walks its pending deliveries: no error either. */
    CHECK_INT(hk_store_webhook_delete(s, wid, NULL), 0);
    CHECK_INT(state_of(s, a), HK_DELIVERY_CANCELLED);
    hk_store_close(s);

    /* Counted at the next start too. */
    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(hk_store_usage(s, &u), 0);
    CHECK_INT(u.quarantined, 1);
    hk_store_close(s);
}
