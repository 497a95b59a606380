/* commit.c -- the loop side of the store's writer: batches handed over, answers reaped */
#include "deliver/commit.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "store/batch.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* How long writes nobody waits for may stay gathered: what they hold
 * (attempt results, taken due entries, logged sync deliveries) is owed to
 * no caller, and losing it in a crash only makes a delivery run again (at
 * least once). Meanwhile they ride with the next caller's batch instead of
 * costing a commit of their own. */
#define LAZY_MS 50

/* Writes nobody waits for whose batch failed (the disk full or failing) are
 * kept by the store and submitted again after RETRY_MIN_MS, doubling while
 * batches keep failing up to RETRY_MAX_MS, and at once (with the next
 * batch) when one commits: a passing fault loses no attempt result, a
 * lasting one costs a commit now and then. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000

struct hk_commit {
    uv_loop_t *loop;
    hk_store_t *store;
    uv_async_t finished; /* the writer finished a batch */
    uv_check_t check;    /* end of an iteration: hand the batch over */
    uv_idle_t idle;      /* keeps poll from sleeping while a batch waits for check */
    uv_timer_t lazy;     /* hands over what nobody waits for, LAZY_MS on */
    uv_timer_t retry;    /* submits the kept writes again */
    uint64_t retry_ms;   /* the next retry's delay */
    int active;          /* check and idle are started */
    int lazy_armed;
    int waiting; /* finished is ref'd: a batch is with the writer */

    hk_commit_listener_t listener;
    int lost_told;

    int closing, closed_handles;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static void on_check(uv_check_t *check);
static void on_lazy(uv_timer_t *timer);
static void on_retry(uv_timer_t *timer);
static void on_idle(uv_idle_t *idle)
{
    (void)idle; /* only here so that poll does not block; check does the work */
}

/* The store's gathered hook (loop thread, inside hk_store_submit). */
static void on_gathered(void *arg)
{
    hk_commit_t *c = arg;
    if (c->active || c->closing) return;
    c->active = 1;
    uv_check_start(&c->check, on_check);
    uv_idle_start(&c->idle, on_idle);
}

/* The store's finished hook: on the writer thread, so only a wake-up. */
static void on_finished(void *arg)
{
    hk_commit_t *c = arg;
    uv_async_send(&c->finished);
}

/* While a batch is with the writer the loop must not end: its answer is
 * still to come through the async handle. */
static void track(hk_commit_t *c)
{
    int busy = hk_store_outstanding(c->store);
    if (busy && !c->waiting) uv_ref((uv_handle_t *)&c->finished);
    if (!busy && c->waiting) uv_unref((uv_handle_t *)&c->finished);
    c->waiting = busy;
}

static void reap(hk_commit_t *c)
{
    hk_store_reaped_t r;
    hk_store_reap(c->store, &r);
    track(c);
    int committed = r.batches > r.failed;
    if ((committed || r.due_added) && c->listener.committed) c->listener.committed(c->listener.arg);
    if (r.lost && !c->lost_told && c->listener.lost) {
        c->lost_told = 1;
        c->listener.lost(c->listener.arg);
    }
    if (committed) c->retry_ms = RETRY_MIN_MS;
    if (!r.retrying || c->closing) return;
    if (committed) { /* the disk takes writes again: the kept ones go with the next batch */
        uv_timer_stop(&c->retry);
        hk_store_retry(c->store, 0);
    } else if (!uv_is_active((uv_handle_t *)&c->retry)) {
        uv_timer_start(&c->retry, on_retry, c->retry_ms, 0);
        c->retry_ms = c->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : c->retry_ms * 2;
    }
}

static void on_retry(uv_timer_t *timer)
{
    hk_commit_t *c = hk_container_of(timer, hk_commit_t, retry);
    if (hk_store_retry(c->store, 0)) hk_store_flush(c->store, 1);
    track(c);
}

static void on_async(uv_async_t *a)
{
    reap(hk_container_of(a, hk_commit_t, finished));
}

static void on_check(uv_check_t *check)
{
    hk_commit_t *c = hk_container_of(check, hk_commit_t, check);
    c->active = 0;
    uv_check_stop(&c->check);
    uv_idle_stop(&c->idle);
    if (hk_store_flush(c->store, 0)) {
        if (!c->lazy_armed) {
            c->lazy_armed = 1;
            uv_timer_start(&c->lazy, on_lazy, LAZY_MS, 0);
        }
    } else if (c->lazy_armed) {
        c->lazy_armed = 0;
        uv_timer_stop(&c->lazy);
    }
    track(c);
}

static void on_lazy(uv_timer_t *timer)
{
    hk_commit_t *c = hk_container_of(timer, hk_commit_t, lazy);
    c->lazy_armed = 0;
    hk_store_flush(c->store, 1);
    track(c);
}

int hk_commit_new(uv_loop_t *loop, hk_store_t *store, hk_commit_t **out)
{
    hk_commit_t *c = calloc(1, sizeof *c);
    if (!c) return HK_ENOMEM;
    c->loop = loop;
    c->store = store;
    if (uv_async_init(loop, &c->finished, on_async) != 0) {
        free(c);
        return HK_ENOMEM;
    }
    uv_check_init(loop, &c->check);
    uv_idle_init(loop, &c->idle);
    uv_timer_init(loop, &c->lazy);
    uv_timer_init(loop, &c->retry);
    c->retry_ms = RETRY_MIN_MS;
    /* The loop's life is not these handles' business: close drains. */
    uv_unref((uv_handle_t *)&c->finished);
    uv_unref((uv_handle_t *)&c->lazy);
    uv_unref((uv_handle_t *)&c->retry);
    hk_store_hooks_t hooks = {.gathered = on_gathered, .finished = on_finished, .arg = c};
    hk_store_set_hooks(store, &hooks);
    /* Writes submitted before the committer existed wait for it. */
    if (hk_outbox_batch_gen(store)) on_gathered(c);
    *out = c;
    return 0;
}

void hk_commit_set_listener(hk_commit_t *c, const hk_commit_listener_t *l)
{
    if (l)
        c->listener = *l;
    else
        memset(&c->listener, 0, sizeof c->listener);
}

void hk_commit_stats(const hk_commit_t *c, hk_commit_stats_t *out)
{
    hk_store_write_stats_t st;
    hk_store_write_stats(c->store, &st);
    out->batches = st.batches;
    out->failed = st.failed;
    out->syncs = st.batches;
    out->waiters = st.writes;
}

static void on_closed(uv_handle_t *h)
{
    hk_commit_t *c = h->data;
    if (--c->closed_handles > 0) return;
    void (*cb)(void *) = c->close_cb;
    void *arg = c->close_arg;
    free(c);
    if (cb) cb(arg);
}

void hk_commit_close(hk_commit_t *c, void (*cb)(void *arg), void *arg)
{
    if (c->closing) return;
    c->closing = 1;
    c->close_cb = cb;
    c->close_arg = arg;
    /* Kept writes get one last try; callbacks may write again: drain
     * until nothing is left. */
    hk_store_retry(c->store, 1);
    do {
        hk_outbox_batch_commit(c->store);
    } while (hk_outbox_batch_gen(c->store));
    hk_store_set_hooks(c->store, NULL);
    c->closed_handles = 5;
    c->finished.data = c->check.data = c->idle.data = c->lazy.data = c->retry.data = c;
    uv_close((uv_handle_t *)&c->finished, on_closed);
    uv_close((uv_handle_t *)&c->check, on_closed);
    uv_close((uv_handle_t *)&c->idle, on_closed);
    uv_close((uv_handle_t *)&c->lazy, on_closed);
    uv_close((uv_handle_t *)&c->retry, on_closed);
}
