/* test_batch.c -- the writer: batches, ids, isolated writes, reads, a full map, answers */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A write the tests make: one delivery put, or one webhook create, inside
 * the writer's txn; what came back and what the loop saw when it did. */
typedef struct {
    hk_store_write_t w;
    hk_store_t *s;
    hk_delivery_t d;
    const uint8_t *body;
    size_t body_len, data_len;
    const char *name; /* set: create webhook name instead */
    uint64_t webhook_id;
    int answered, err;
    int seen; /* the delivery's state as the loop read it when answered */
} op_t;

static int op_run(hk_store_t *s, hk_store_write_t *w)
{
    op_t *o = hk_container_of(w, op_t, w);
    if (o->name) {
        hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
        wh.name = (char *)o->name;
        wh.application = 1;
        wh.trigger_action = (char *)"AccountUpdated";
        wh.url = (char *)"https://receiver.example/hook";
        wh.timeout_seconds = 15;
        wh.secret_key = (char *)SECRET;
        wh.asynchronous = 1;
        wh.active = 1;
        wh.description = (char *)"";
        int err = hk_store_webhook_create(s, &wh);
        o->webhook_id = wh.id;
        return err;
    }
    return hk_outbox_delivery_put(s, &o->d, o->body, o->body_len, o->data_len, NULL);
}

static void op_done(hk_store_write_t *w, int err)
{
    op_t *o = hk_container_of(w, op_t, w);
    o->answered++;
    o->err = err;
    if (!o->name) o->seen = state_of(o->s, o->d.id);
}

static void op_delivery(op_t *o, hk_store_t *s, uint64_t wid, const uint8_t *body, size_t len,
                        size_t data_len)
{
    memset(o, 0, sizeof *o);
    o->s = s;
    o->w.run = op_run;
    o->w.done = op_done;
    hookd__v1__delivery__init(&o->d);
    o->d.id = hk_outbox_delivery_id(s);
    o->d.webhook_id = wid;
    o->d.event_id = (char *)"e";
    o->d.state = PENDING;
    o->body = body;
    o->body_len = len;
    o->data_len = data_len;
}

static void op_webhook(op_t *o, hk_store_t *s, const char *name)
{
    memset(o, 0, sizeof *o);
    o->s = s;
    o->w.run = op_run;
    o->w.done = op_done;
    o->name = name;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t batches(hk_store_t *s)
{
    hk_store_write_stats_t st;
    hk_store_write_stats(s, &st);
    return st.batches;
}

TEST(batch_commit_and_ids)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    CHECK(wid);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    int opened = heard.opened, done = heard.done;

    uint64_t id1 = put(s, wid, PENDING, 0, 1), id2 = put(s, wid, PENDING, 0, 2);
    CHECK_INT(id1, 1);
    CHECK_INT(id2, 2);
    /* One batch holds both. */
    CHECK_INT(heard.opened, opened + 1);
    CHECK_INT(hk_outbox_batch_gen(s), 2);
    CHECK_INT(heard.done, done);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(heard.done, done + 1);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    /* Nothing gathered: committing again is nothing. */
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(heard.done, done + 1);

    /* An id handed out but never written is not handed out again, across a
     * reopen too. */
    CHECK_INT(hk_outbox_delivery_id(s), 3);
    CHECK_INT(put(s, wid, PENDING, 0, 3), 4);
    hk_store_close(s); /* commits what is gathered */
    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(state_of(s, 4), PENDING);
    CHECK_INT(hk_outbox_delivery_id(s), 5);
    hk_store_close(s);
}

TEST(admin_write_shares_the_batch)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t id = put(s, wid, PENDING, 0, 1);
    CHECK(id);
    uint64_t before = batches(s);
    /* The webhook waits for its commit: the gathered delivery goes with it. */
    CHECK(webhook(s, "b", 1));
    CHECK_INT(batches(s), before + 1);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(state_of(s, id), PENDING);
    hk_store_close(s);
}

TEST(reads_see_committed_writes_only)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t id = put(s, wid, PENDING, 0, 1);
    CHECK(hk_outbox_batch_gen(s) != 0);
    hk_delivery_t *d = NULL;
    /* Not committed (so not on disk): not there for readers. */
    CHECK_INT(hk_outbox_delivery_get(s, id, 0, &d), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
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

TEST(map_full_fails_the_writes_that_do_not_fit)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, 1u << 20); /* 1 MiB: a few 64 KiB bodies */
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t kept = put(s, wid, PENDING, 0, 1);
    CHECK(kept);
    CHECK_INT(hk_outbox_batch_commit(s), 0);

    enum { N = 40 };
    /* Each its own bytes: the store keeps one copy of equal bodies. */
    static uint8_t big[N][64 * 1024];
    static op_t ops[N];
    for (int i = 0; i < N; i++) {
        memset(big[i], 'x', sizeof big[i]);
        big[i][0] = '{';
        big[i][1] = (uint8_t)('A' + i);
        big[i][sizeof big[i] - 1] = '}';
        op_delivery(&ops[i], s, wid, big[i], sizeof big[i], 1);
        hk_store_submit(s, &ops[i].w);
    }
    uint64_t before = batches(s);
    CHECK_INT(hk_outbox_batch_commit(s), 0); /* the batch itself commits */
    CHECK_INT(batches(s), before + 1);
    int ok = 0, full = 0;
    for (int i = 0; i < N; i++) {
        CHECK_INT(ops[i].answered, 1);
        if (ops[i].err == 0) {
            ok++;
            CHECK_INT(ops[i].seen, PENDING); /* committed before it was answered */
        } else {
            CHECK_INT(ops[i].err, HK_EFULL);
            full++;
            CHECK_INT(state_of(s, ops[i].d.id), -1); /* nothing of it written */
        }
    }
    CHECK(ok > 0);
    CHECK(full > 0);
    CHECK_INT(ok + full, N);
    CHECK_INT(hk_outbox_batch_failures(s), 0);
    CHECK_INT(state_of(s, kept), PENDING);
    /* The next batch works. */
    CHECK(put(s, wid, PENDING, 0, 2));
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);
}

TEST(writes_are_isolated)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    op_t first, taken, del, bad;
    op_webhook(&first, s, "x");
    op_webhook(&taken, s, "X"); /* the same name, case-folded */
    op_delivery(&del, s, wid, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN);
    op_delivery(&bad, s, 999, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN); /* no webhook */
    hk_store_submit(s, &first.w);
    hk_store_submit(s, &taken.w);
    hk_store_submit(s, &bad.w);
    hk_store_submit(s, &del.w);
    uint64_t before = batches(s);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(batches(s), before + 1);
    CHECK_INT(first.err, 0);
    CHECK_INT(taken.err, HK_EEXIST);
    CHECK_INT(bad.err, HK_ENOTFOUND);
    CHECK_INT(del.err, 0);
    CHECK_INT(del.seen, PENDING);
    CHECK_INT(state_of(s, bad.d.id), -1);
    hk_webhook_t *wh = NULL;
    CHECK_INT(hk_store_webhook_find(s, "x", &wh), 0);
    CHECK_INT(wh->id, first.webhook_id);
    hk_webhook_free(wh);
    /* The refused create used no id: the next one follows the first. */
    uint64_t next = webhook(s, "y", 1);
    CHECK_INT(next, first.webhook_id + 1);
    hk_store_close(s);
}

TEST(many_writes_one_commit)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    enum { N = 500 };
    static op_t ops[N];
    for (int i = 0; i < N; i++) {
        op_delivery(&ops[i], s, wid, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN);
        hk_store_submit(s, &ops[i].w);
    }
    CHECK_INT(hk_outbox_batch_gen(s), N);
    uint64_t before = batches(s);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(batches(s), before + 1);
    for (int i = 0; i < N; i++) {
        CHECK_INT(ops[i].answered, 1);
        CHECK_INT(ops[i].err, 0);
    }
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.deliveries, N);
    hk_store_close(s);
}

TEST(answered_only_after_the_commit)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    op_t o;
    op_delivery(&o, s, wid, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN);
    hk_store_submit(s, &o.w);
    /* Handed over: the writer commits, but nobody is answered before the
     * loop reaps (never from inside a store call that submitted). */
    int done = __atomic_load_n(&heard.done, __ATOMIC_SEQ_CST);
    CHECK_INT(hk_store_flush(s, 0), 0);
    for (int i = 0; i < 400 && __atomic_load_n(&heard.done, __ATOMIC_SEQ_CST) == done; i++)
        sleep_ms(5);
    CHECK(__atomic_load_n(&heard.done, __ATOMIC_SEQ_CST) > done);
    CHECK_INT(o.answered, 0);
    hk_store_reaped_t r;
    hk_store_reap(s, &r);
    CHECK_INT(r.writes, 1);
    CHECK_INT(r.failed, 0);
    CHECK_INT(o.answered, 1);
    CHECK_INT(o.err, 0);
    CHECK_INT(o.seen, PENDING);
    hk_store_close(s);

    /* A lazy write alone is not handed over by a plain flush. */
    s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    wid = webhook(s, "a", 1);
    op_delivery(&o, s, wid, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN);
    o.w.lazy = 1;
    hk_store_submit(s, &o.w);
    CHECK_INT(hk_store_flush(s, 0), 1);
    CHECK_INT(hk_outbox_batch_gen(s), 1);
    CHECK_INT(hk_store_flush(s, 1), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(o.answered, 1);
    CHECK_INT(o.err, 0);
    hk_store_close(s);
}
