/* test_outbox.c -- the outbox: batch, due index, attempts, park/unpark/cancel, prune, event ids */
#include "core/error.h"
#include "store/outbox.h"
#include "store/store.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>

#define SMALL_MAP (16u << 20)
#define PENDING HK_DELIVERY_PENDING

static const char *SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/* What the hook heard. */
static struct {
    int opened, done, due_added;
    uint64_t last_gen;
    int last_err;
} heard;

static void hook(hk_outbox_event_t ev, uint64_t gen, int err, void *arg)
{
    (void)arg;
    if (ev == HK_OUTBOX_BATCH_OPENED) heard.opened++;
    if (ev == HK_OUTBOX_BATCH_DONE) heard.done++;
    if (ev == HK_OUTBOX_DUE_ADDED) heard.due_added++;
    heard.last_gen = gen;
    heard.last_err = err;
}

static hk_store_t *open_store(const char *dir, size_t map)
{
    hk_store_t *s = NULL;
    if (hk_store_open(dir, map, &s) != 0) return NULL;
    memset(&heard, 0, sizeof heard);
    hk_outbox_set_hook(s, hook, NULL);
    return s;
}

static uint64_t webhook(hk_store_t *s, const char *name, int active)
{
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = (char *)name;
    wh.application = 1;
    wh.trigger_action = (char *)"AccountUpdated";
    wh.url = (char *)"https://receiver.example/hook";
    wh.auth_method = 1;
    wh.timeout_seconds = 15;
    wh.secret_key = (char *)SECRET;
    wh.asynchronous = 1;
    wh.active = active;
    wh.description = (char *)"";
    return hk_store_webhook_create(s, &wh) == 0 ? wh.id : 0;
}

static int set_active(hk_store_t *s, uint64_t id, int active)
{
    hk_webhook_t *wh = NULL;
    int err = hk_store_webhook_get(s, id, &wh);
    if (err) return err;
    wh->active = active;
    err = hk_store_webhook_update(s, wh);
    hk_webhook_free(wh);
    return err;
}

static const char BODY[] = "{\"id\":\"evt_1\",\"type\":\"AccountUpdated\",\"data\":{\"a\":1}}";
#define DATA_LEN 7 /* {"a":1} */

/* Puts a delivery of webhook wid in state, due at next; returns its id. */
static uint64_t put(hk_store_t *s, uint64_t wid, int state, int64_t next, int64_t created)
{
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = hk_outbox_delivery_id(s);
    d.webhook_id = wid;
    d.webhook_name = (char *)"hook";
    d.event_id = (char *)"evt_1";
    d.application = 1;
    d.trigger_action = (char *)"AccountUpdated";
    d.origin = 1;
    d.asynchronous = 1;
    d.state = state;
    d.create_time = created;
    d.next_attempt_time = next;
    return hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL) ==
                   0
               ? d.id
               : 0;
}

static hk_attempt_t attempt(int outcome, int status)
{
    hk_attempt_t a = HOOKD__V1__ATTEMPT__INIT;
    a.time = 1000;
    a.outcome = outcome;
    a.http_status = status;
    a.duration_ms = 12;
    a.error = (char *)(status == 200 ? "" : "HTTP 500");
    return a;
}

static size_t take_all(hk_store_t *s, int64_t now, hk_outbox_due_t *out, size_t max, int64_t *next)
{
    size_t n = 0;
    if (hk_outbox_due_take(s, now, NULL, NULL, out, max, &n, next) != 0) return 999;
    return n;
}

static int state_of(hk_store_t *s, uint64_t id)
{
    hk_delivery_t *d = NULL;
    if (hk_outbox_delivery_get(s, id, 0, &d) != 0) return -1;
    int st = d->state;
    hk_delivery_free(d);
    return st;
}

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
    CHECK_INT(take_all(s, 1000, due, 1, &next), 1);
    CHECK_INT(due[0].id, b);
    CHECK_INT(next, 200);
    CHECK_INT(take_all(s, 1000, due, 8, &next), 2);
    CHECK_INT(due[0].id, c);
    CHECK_INT(due[1].id, a);
    CHECK_INT(state_of(s, a), PENDING); /* taken, still pending */
    hk_store_close(s);
}

static int skip_odd(uint64_t id, void *arg)
{
    (void)arg;
    return id % 2;
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
    CHECK_INT(take_all(s, 4999, due, 4, &next), 0);
    CHECK_INT(next, 5000);
    CHECK_INT(take_all(s, 5000, due, 4, &next), 1);

    hk_attempt_t a2 = attempt(1, 200);
    a2.response_body.data = (uint8_t *)"ok";
    a2.response_body.len = 2;
    CHECK_INT(hk_outbox_attempt_record(s, id, &a2, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
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
    CHECK_INT(hk_outbox_attempt_record(s, 777, &a2, PENDING, 0, NULL), HK_ENOTFOUND);
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
    d.id = ids[7];
    CHECK_INT(hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL),
              HK_ECORRUPT);
    CHECK_INT(hk_outbox_batch_failures(s), 1);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    /* The second half went with the failed batch: written again. */
    for (int i = 39; i > 0; i -= 2) {
        d.id = ids[i];
        CHECK_INT(
            hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL),
            0);
    }
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

    heard.due_added = 0;
    CHECK_INT(set_active(s, wid, 1), 0);
    CHECK_INT(heard.due_added, 1);
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

/* Whether a webhook exists and is active is remembered between writes:
 * every admin write must make the outbox look again, for each webhook,
 * however many share a slot of what is remembered. */
TEST(active_flag_follows_admin_writes)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    enum { N = 150 };
    uint64_t wid[N];
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "w%d", i);
        CHECK((wid[i] = webhook(s, name, 1)) != 0);
    }
    hk_outbox_due_t due[2 * N];
    int64_t next;
    for (int round = 0; round < 3; round++) {
        /* Every other webhook inactive in round 1, every third deleted in 2. */
        for (int i = 0; i < N; i++) {
            if (round == 1 && i % 2) CHECK_INT(set_active(s, wid[i], 0), 0);
            if (round == 2 && i % 2) CHECK_INT(set_active(s, wid[i], 1), 0);
            if (round == 2 && i % 3 == 0) CHECK_INT(hk_store_webhook_delete(s, wid[i], NULL), 0);
        }
        size_t want = 0;
        for (int i = 0; i < N; i++) {
            int gone = round == 2 && i % 3 == 0, off = round == 1 && i % 2;
            hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
            d.id = hk_outbox_delivery_id(s);
            d.webhook_id = wid[i];
            d.webhook_name = (char *)"hook";
            d.event_id = (char *)"evt_1";
            d.state = PENDING;
            d.next_attempt_time = 10;
            int err = hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1,
                                             DATA_LEN, NULL);
            CHECK_INT(err, gone ? HK_ENOTFOUND : 0);
            want += !gone && !off;
        }
        /* Reactivated: every pending delivery is due again, the one parked
         * in round 1 and the one taken in round 0 (still in flight). */
        if (round == 2)
            for (int i = 0; i < N; i++)
                want += 2 * (i % 2 && i % 3 != 0);
        CHECK_INT(hk_outbox_batch_commit(s), 0);
        CHECK_INT(take_all(s, 100, due, 2 * N, &next), want);
    }
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

TEST(event_ids)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    int64_t t;
    uint8_t *data = NULL;
    size_t len;
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_event_put(s, "evt_1", 1000, (const uint8_t *)"first", 5), 0);
    /* Seen in the open batch already: a repeat in the same batch is caught. */
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), 0);
    CHECK_INT(t, 1000);
    CHECK_INT(len, 5);
    CHECK(memcmp(data, "first", 5) == 0);
    free(data);
    CHECK_INT(hk_outbox_event_put(s, "evt_2", 5000, (const uint8_t *)"", 0), 0);
    CHECK_INT(hk_outbox_event_put(s, "", 1, NULL, 0), HK_EINVAL);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), 0);
    free(data);
    /* Re-recorded later: its old time no longer prunes it. */
    CHECK_INT(hk_outbox_event_put(s, "evt_1", 9000, (const uint8_t *)"again", 5), 0);
    size_t pruned;
    int more;
    /* window 3 s at now 8 s: evt_2 (5 s) is expired, evt_1 (9 s) is not */
    CHECK_INT(hk_outbox_prune(s, 8001, 1000000, 1000, 3000, 16, &pruned, &more), 0);
    CHECK_INT(pruned, 1);
    CHECK_INT(hk_outbox_event_get(s, "evt_2", &t, &data, &len), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), 0);
    CHECK_INT(t, 9000);
    free(data);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.events, 1);

    /* Within the window but beyond the count: the oldest ids go. */
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "n%d", i);
        CHECK_INT(hk_outbox_event_put(s, id, 10000 + i, (const uint8_t *)"x", 1), 0);
    }
    CHECK_INT(hk_outbox_prune(s, 10010, 1000000, 3, 1000000, 16, &pruned, &more), 0);
    CHECK_INT(pruned, 3);
    CHECK_INT(hk_outbox_event_get(s, "n1", &t, &data, &len), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_event_get(s, "n2", &t, &data, &len), 0);
    free(data);
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), HK_ENOTFOUND); /* 9 s: oldest */
    hk_store_close(s);
}
