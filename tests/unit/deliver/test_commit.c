/* test_commit.c -- group commit: batches end with the iteration, one sync serves many waiters */
#include "core/error.h"
#include "deliver/commit.h"
#include "store/deliveries.h"
#include "store/webhooks.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#define SMALL_MAP (16u << 20)

typedef struct {
    hk_commit_waiter_t w;
    int called, err;
    uint64_t syncs_seen; /* the committer's sync count when answered */
} waiter_t;

static hk_commit_t *committer;
static int listened, closed;

static void on_done(hk_commit_waiter_t *w, int err)
{
    waiter_t *t = hk_container_of(w, waiter_t, w);
    t->called++;
    t->err = err;
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    t->syncs_seen = st.syncs;
}

static void on_listen(void *arg)
{
    (void)arg;
    listened++;
}

static void on_closed(void *arg)
{
    (void)arg;
    closed++;
}

static hk_store_t *setup(uv_loop_t *loop, size_t map, uint64_t *wid)
{
    hk_store_t *s = NULL;
    if (hk_store_open(hk_test_tmpdir(), map, &s) != 0) return NULL;
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = (char *)"a";
    wh.application = 1;
    wh.trigger_action = (char *)"AccountUpdated";
    wh.url = (char *)"https://receiver.example/hook";
    wh.timeout_seconds = 15;
    wh.secret_key = (char *)"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    wh.active = 1;
    wh.description = (char *)"";
    if (hk_store_webhook_create(s, &wh) != 0) return NULL;
    *wid = wh.id;
    uv_loop_init(loop);
    committer = NULL;
    listened = closed = 0;
    if (hk_commit_new(loop, s, &committer) != 0) return NULL;
    hk_commit_set_listener(committer, on_listen, NULL);
    return s;
}

static int put(hk_store_t *s, uint64_t wid, size_t body_len)
{
    static uint8_t body[128 * 1024];
    memset(body, ' ', sizeof body);
    body[0] = '{';
    body[body_len - 1] = '}';
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = hk_outbox_delivery_id(s);
    d.webhook_id = wid;
    d.event_id = (char *)"e";
    d.state = HK_DELIVERY_PENDING;
    return hk_outbox_delivery_put(s, &d, body, body_len, 0, NULL);
}

static int teardown(uv_loop_t *loop, hk_store_t *s)
{
    hk_commit_close(committer, on_closed, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    hk_store_close(s);
    return uv_loop_close(loop);
}

TEST(answered_after_sync)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    waiter_t t = {0};
    CHECK_INT(put(s, wid, 100), 0);
    hk_commit_wait(committer, &t.w, on_done);
    CHECK_INT(t.called, 0); /* never from inside the call */
    CHECK(hk_outbox_batch_gen(s) != 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    CHECK_INT(t.syncs_seen, 1); /* the sync had finished */
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(listened, 1);
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    CHECK_INT(st.batches, 1);
    CHECK_INT(st.syncs, 1);
    CHECK_INT(teardown(&loop, s), 0);
    CHECK_INT(closed, 1);
}

TEST(one_sync_serves_an_iteration)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    static waiter_t t[200];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 200; i++) {
        CHECK_INT(put(s, wid, 100), 0);
        hk_commit_wait(committer, &t[i].w, on_done);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 200; i++) {
        CHECK_INT(t[i].called, 1);
        CHECK_INT(t[i].err, 0);
    }
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    CHECK_INT(st.batches, 1);
    CHECK_INT(st.syncs, 1);
    CHECK_INT(st.waiters, 200);
    CHECK_INT(teardown(&loop, s), 0);
}

/* Writers that keep coming while syncs run: each round of writes lands in
 * the batch that gathers during the running sync. */
typedef struct {
    uv_timer_t timer;
    hk_store_t *s;
    uint64_t wid;
    int rounds;
    waiter_t t[50];
} writer_t;

static void on_write_timer(uv_timer_t *timer)
{
    writer_t *w = hk_container_of(timer, writer_t, timer);
    if (put(w->s, w->wid, 100) == 0) hk_commit_wait(committer, &w->t[w->rounds].w, on_done);
    if (++w->rounds == 50) uv_timer_stop(timer);
}

TEST(writes_during_a_sync_share_the_next)
{
    uv_loop_t loop;
    writer_t w = {0};
    hk_store_t *s = setup(&loop, SMALL_MAP, &w.wid);
    CHECK(s);
    w.s = s;
    uv_timer_init(&loop, &w.timer);
    uv_timer_start(&w.timer, on_write_timer, 0, 0); /* every iteration */
    uv_timer_set_repeat(&w.timer, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 50; i++) {
        CHECK_INT(w.t[i].called, 1);
        CHECK_INT(w.t[i].err, 0);
    }
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    CHECK(st.syncs <= st.batches);
    CHECK_INT(st.waiters, 50);
    uv_close((uv_handle_t *)&w.timer, NULL);
    CHECK_INT(teardown(&loop, s), 0);
}

static void on_keepalive(uv_timer_t *t)
{
    (void)t;
}

/* Writes nobody waits for are committed at once but synced only with the
 * next waiter's batch, or by the lazy timer: one caller never waits out a
 * sync it has no part in. */
TEST(unwaited_writes_ride_along)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    CHECK_INT(put(s, wid, 100), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    CHECK_INT(st.batches, 1);
    CHECK_INT(st.syncs, 0);
    CHECK_INT(listened, 1);

    waiter_t t = {0};
    CHECK_INT(put(s, wid, 100), 0);
    hk_commit_wait(committer, &t.w, on_done);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    hk_commit_stats(committer, &st);
    CHECK_INT(st.batches, 2);
    CHECK_INT(st.syncs, 1); /* one sync for both batches */

    /* Left alone, the lazy timer syncs within 50 ms. */
    CHECK_INT(put(s, wid, 100), 0);
    uv_timer_t keep;
    uv_timer_init(&loop, &keep);
    uv_timer_start(&keep, on_keepalive, 200, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    hk_commit_stats(committer, &st);
    CHECK_INT(st.batches, 3);
    CHECK_INT(st.syncs, 2);
    uv_close((uv_handle_t *)&keep, NULL);
    CHECK_INT(teardown(&loop, s), 0);
}

/* A waiter that comes when the writes are committed but not synced still
 * gets a sync of its own before its answer. */
TEST(waiter_after_commit_gets_a_sync)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    CHECK_INT(put(s, wid, 100), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    waiter_t t = {0};
    hk_commit_wait(committer, &t.w, on_done);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    CHECK_INT(t.syncs_seen, 1);
    CHECK_INT(teardown(&loop, s), 0);
}

TEST(map_full_fails_that_batch_only)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, 1u << 20, &wid);
    CHECK(s);
    waiter_t early = {0}, doomed[40], later = {0};
    memset(doomed, 0, sizeof doomed);
    CHECK_INT(put(s, wid, 100), 0);
    hk_commit_wait(committer, &early.w, on_done);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(early.called, 1);
    CHECK_INT(early.err, 0);

    int err = 0, n = 0;
    for (; n < 40; n++) {
        if ((err = put(s, wid, 100 * 1024)) != 0) break;
        hk_commit_wait(committer, &doomed[n].w, on_done);
    }
    CHECK_INT(err, HK_EFULL);
    CHECK(n > 0);
    CHECK_INT(doomed[0].called, 0); /* told from the loop */
    /* A write after the failure starts a new batch, which commits. */
    CHECK_INT(put(s, wid, 100), 0);
    hk_commit_wait(committer, &later.w, on_done);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < n; i++) {
        CHECK_INT(doomed[i].called, 1);
        CHECK_INT(doomed[i].err, HK_EFULL);
    }
    CHECK_INT(later.called, 1);
    CHECK_INT(later.err, 0);
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    CHECK_INT(st.failed, 1);
    CHECK_INT(teardown(&loop, s), 0);
}

TEST(nothing_to_wait_for)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    waiter_t t = {0};
    hk_commit_wait(committer, &t.w, on_done);
    CHECK_INT(t.called, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    CHECK_INT(st.syncs, 0);
    CHECK_INT(teardown(&loop, s), 0);
}

TEST(close_answers_everyone)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    waiter_t t = {0};
    CHECK_INT(put(s, wid, 100), 0);
    hk_commit_wait(committer, &t.w, on_done);
    hk_commit_close(committer, on_closed, NULL);
    CHECK_INT(t.called, 0);
    CHECK_INT(closed, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    CHECK_INT(closed, 1);
    hk_store_close(s);
    CHECK_INT(uv_loop_close(&loop), 0);
}
