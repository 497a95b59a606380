/* test_commit.c -- the writer's loop side: batches end with the iteration, one commit serves many
 */
#include "core/error.h"
#include "deliver/commit.h"
#include "store/batch.h"
#include "store/deliveries.h"
#include "store/webhooks.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SMALL_MAP (16u << 20)

/* A write of one delivery (body_len bytes; 0: writes nothing), answered. */
typedef struct {
    hk_store_write_t w;
    hk_store_t *s;
    uint64_t wid, id;
    size_t body_len;
    int called, err;
    uint64_t syncs_seen; /* the committer's sync count when answered */
} waiter_t;

static hk_commit_t *committer;
static int listened, closed;
static hk_commit_stats_t base; /* the counts before the test's writes */

static void on_done(hk_store_write_t *w, int err)
{
    waiter_t *t = hk_container_of(w, waiter_t, w);
    t->called++;
    t->err = err;
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    t->syncs_seen = st.syncs - base.syncs;
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

/* Counts since setup. */
static hk_commit_stats_t stats(void)
{
    hk_commit_stats_t st;
    hk_commit_stats(committer, &st);
    st.batches -= base.batches;
    st.failed -= base.failed;
    st.syncs -= base.syncs;
    st.waiters -= base.waiters;
    return st;
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
    static const hk_commit_listener_t listener = {.committed = on_listen};
    hk_commit_set_listener(committer, &listener);
    hk_commit_stats(committer, &base);
    return s;
}

static uint8_t body[128 * 1024];

static int put_id(hk_store_t *s, uint64_t id, uint64_t wid, size_t body_len)
{
    memset(body, ' ', sizeof body);
    body[0] = '{';
    body[body_len - 1] = '}';
    /* Each its own bytes: the store keeps one copy of equal bodies. */
    if (body_len >= 24) memcpy(body + 1, &id, sizeof id);
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = id;
    d.webhook_id = wid;
    d.event_id = (char *)"e";
    d.state = HK_DELIVERY_PENDING;
    return hk_outbox_delivery_put(s, &d, body, body_len, 0, NULL);
}

static int waiter_run(hk_store_t *s, hk_store_write_t *w)
{
    waiter_t *t = hk_container_of(w, waiter_t, w);
    return t->body_len ? put_id(s, t->id, t->wid, t->body_len) : 0;
}

/* Submits t: a delivery of body_len bytes, answered to on_done. The id is
 * handed out on the loop, as TriggerEvent does, and written by the writer. */
static void wait_put(hk_store_t *s, uint64_t wid, size_t body_len, waiter_t *t)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    t->wid = wid;
    t->body_len = body_len;
    t->id = hk_outbox_delivery_id(s);
    t->w.run = waiter_run;
    t->w.done = on_done;
    hk_store_submit(s, &t->w);
}

/* A write nobody waits for, from the loop. */
static int put(hk_store_t *s, uint64_t wid, size_t body_len)
{
    return put_id(s, hk_outbox_delivery_id(s), wid, body_len);
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
    waiter_t t;
    wait_put(s, wid, 100, &t);
    CHECK_INT(t.called, 0); /* never from inside the call */
    CHECK(hk_outbox_batch_gen(s) != 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    CHECK_INT(t.syncs_seen, 1); /* the commit, synced, had returned */
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(listened, 1);
    hk_commit_stats_t st = stats();
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
    for (int i = 0; i < 200; i++)
        wait_put(s, wid, 100, &t[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 200; i++) {
        CHECK_INT(t[i].called, 1);
        CHECK_INT(t[i].err, 0);
    }
    hk_commit_stats_t st = stats();
    CHECK_INT(st.batches, 1);
    CHECK_INT(st.syncs, 1);
    CHECK_INT(st.waiters, 200);
    CHECK_INT(teardown(&loop, s), 0);
}

/* Writers that keep coming while commits run: each round of writes lands in
 * the batch that gathers during the running commit. */
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
    wait_put(w->s, w->wid, 100, &w->t[w->rounds]);
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
    hk_commit_stats_t st = stats();
    CHECK(st.syncs <= st.batches);
    CHECK(st.batches <= 50);
    CHECK_INT(st.waiters, 50);
    uv_close((uv_handle_t *)&w.timer, NULL);
    CHECK_INT(teardown(&loop, s), 0);
}

static void on_keepalive(uv_timer_t *t)
{
    (void)t;
}

/* Writes nobody waits for do not start a commit of their own: they ride
 * with the next waited-for batch, or go with the lazy timer. */
TEST(unwaited_writes_ride_along)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    CHECK_INT(put(s, wid, 100), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    hk_commit_stats_t st = stats();
    CHECK_INT(st.batches, 0);
    CHECK_INT(st.syncs, 0);
    CHECK_INT(hk_outbox_batch_gen(s), 1);

    waiter_t t;
    wait_put(s, wid, 100, &t);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    st = stats();
    CHECK_INT(st.batches, 1);
    CHECK_INT(st.syncs, 1); /* one commit for both */
    CHECK_INT(st.waiters, 2);
    CHECK_INT(listened, 1);

    /* Left alone, the lazy timer hands it over within 50 ms. */
    CHECK_INT(put(s, wid, 100), 0);
    uv_timer_t keep;
    uv_timer_init(&loop, &keep);
    uv_timer_start(&keep, on_keepalive, 200, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    st = stats();
    CHECK_INT(st.batches, 2);
    CHECK_INT(st.syncs, 2);
    uv_close((uv_handle_t *)&keep, NULL);
    CHECK_INT(teardown(&loop, s), 0);
}

/* A waiter that comes after a lazy write went alone gets a commit of its
 * own before its answer. */
TEST(waiter_after_commit_gets_a_sync)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    CHECK_INT(put(s, wid, 100), 0);
    uv_timer_t keep;
    uv_timer_init(&loop, &keep);
    uv_timer_start(&keep, on_keepalive, 200, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    waiter_t t;
    wait_put(s, wid, 100, &t);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    CHECK_INT(t.syncs_seen, 2);
    uv_close((uv_handle_t *)&keep, NULL);
    CHECK_INT(teardown(&loop, s), 0);
}

/* The map full: the writes that do not fit fail (nothing of them written),
 * the others of their batch commit, and so does the next. */
TEST(map_full_fails_those_writes_only)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, 1u << 20, &wid);
    CHECK(s);
    waiter_t early, later;
    static waiter_t doomed[40];
    wait_put(s, wid, 100, &early);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(early.called, 1);
    CHECK_INT(early.err, 0);

    for (int n = 0; n < 40; n++)
        wait_put(s, wid, 100 * 1024, &doomed[n]);
    CHECK_INT(doomed[0].called, 0); /* told from the loop */
    wait_put(s, wid, 100, &later);
    uv_run(&loop, UV_RUN_DEFAULT);
    int ok = 0, full = 0;
    for (int i = 0; i < 40; i++) {
        CHECK_INT(doomed[i].called, 1);
        if (doomed[i].err == 0)
            ok++;
        else if (doomed[i].err == HK_EFULL)
            full++;
    }
    CHECK(ok > 0);
    CHECK(full > 0);
    CHECK_INT(ok + full, 40);
    CHECK_INT(later.called, 1);
    CHECK_INT(later.err, 0);
    hk_commit_stats_t st = stats();
    CHECK_INT(st.failed, 0);
    CHECK_INT(teardown(&loop, s), 0);
}

TEST(nothing_to_wait_for)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    waiter_t t;
    wait_put(s, wid, 0, &t); /* a write that writes nothing */
    CHECK_INT(t.called, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    CHECK_INT(stats().waiters, 1);
    CHECK_INT(teardown(&loop, s), 0);
}

TEST(close_answers_everyone)
{
    uv_loop_t loop;
    uint64_t wid;
    hk_store_t *s = setup(&loop, SMALL_MAP, &wid);
    CHECK(s);
    waiter_t t;
    wait_put(s, wid, 100, &t);
    hk_commit_close(committer, on_closed, NULL);
    CHECK_INT(closed, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t.called, 1);
    CHECK_INT(t.err, 0);
    CHECK_INT(closed, 1);
    hk_store_close(s);
    CHECK_INT(uv_loop_close(&loop), 0);
}
