/* commit.c -- group commit: the iteration's outbox batch committed, synced off-loop, answered */
#include "deliver/commit.h"
#include "core/error.h"
#include "core/log.h"
#include "store/batch.h"

#include <stdlib.h>
#include <uv.h>

/* How long writes nobody waits for may stay committed but not synced: what
 * they hold (attempt results, taken due entries, logged sync deliveries) is
 * owed to no caller, and a machine crash that loses it only makes a
 * delivery run again (at least once). Meanwhile they ride along with the
 * next caller's sync instead of costing one of their own, which a caller
 * arriving during it would have to wait out (two syncs per event). */
#define LAZY_MS 50

/* Waiters, oldest first. */
typedef struct {
    hk_link_t head; /* hk_commit_waiter_t.link */
} wlist_t;

struct hk_commit {
    uv_loop_t *loop;
    hk_store_t *store;
    uv_check_t check;      /* end of an iteration: commit, start a sync, answer */
    uv_idle_t idle;        /* keeps poll from sleeping while there is work for check */
    uv_timer_t lazy;       /* commits and syncs what nobody waits for, LAZY_MS on */
    uv_prepare_t unwaited; /* commits what nobody waits for, before the loop polls */
    uv_work_t work;        /* the sync on the threadpool */
    int active;            /* check and idle are started */
    int lazy_armed;        /* the lazy timer runs */
    int lazy_due;          /* it fired: commit and sync even with nobody waiting */

    uint64_t last_gen;      /* the newest batch the store told of */
    uint64_t committed_gen; /* the newest batch committed */
    uint64_t durable_gen;   /* the newest batch a finished sync covers */
    uint64_t sync_gen;      /* what the running sync covers */
    int syncing, sync_err;
    int notify; /* the listener is owed a call */

    wlist_t waiting; /* by gen, oldest first */
    wlist_t ready;   /* answered at the next check */

    void (*listener)(void *arg);
    void *listener_arg;

    int closing, closed_handles;
    void (*close_cb)(void *arg);
    void *close_arg;
    hk_commit_stats_t stats;
};

static void wl_push(wlist_t *l, hk_commit_waiter_t *w)
{
    hk_link_add(&l->head, &w->link);
}

static void wl_remove(hk_commit_waiter_t *w)
{
    hk_link_del(&w->link);
}

/* The oldest waiter of l, or NULL. */
static hk_commit_waiter_t *wl_first(wlist_t *l)
{
    return hk_link_empty(&l->head) ? NULL : hk_container_of(l->head.next, hk_commit_waiter_t, link);
}

static int wl_empty(const wlist_t *l)
{
    return hk_link_empty(&l->head);
}

static void on_check(uv_check_t *check);
static void on_lazy(uv_timer_t *timer);
static void on_unwaited(uv_prepare_t *prepare);
static void on_idle(uv_idle_t *idle)
{
    (void)idle; /* only here so that poll does not block; check does the work */
}

static void wake(hk_commit_t *c)
{
    if (c->active || c->closed_handles) return;
    c->active = 1;
    uv_check_start(&c->check, on_check);
    uv_idle_start(&c->idle, on_idle);
}

/* The store's outbox hook: runs inside store calls, so it only moves
 * waiters between lists and asks for a check; callbacks run from there. */
static void on_outbox(hk_outbox_event_t ev, uint64_t gen, int err, void *arg)
{
    hk_commit_t *c = arg;
    switch (ev) {
    case HK_OUTBOX_BATCH_OPENED: c->last_gen = gen; break;
    case HK_OUTBOX_BATCH_DONE:
        if (gen > c->last_gen) c->last_gen = gen;
        if (err) {
            c->stats.failed++;
            hk_link_t *l, *next;
            hk_link_each_safe(l, next, &c->waiting.head) {
                hk_commit_waiter_t *w = hk_container_of(l, hk_commit_waiter_t, link);
                if (w->gen != gen) continue;
                wl_remove(w);
                w->err = err;
                wl_push(&c->ready, w);
            }
        } else {
            c->stats.batches++;
            if (gen > c->committed_gen) c->committed_gen = gen;
            c->notify = 1;
        }
        break;
    case HK_OUTBOX_DUE_ADDED: c->notify = 1; break;
    }
    wake(c);
}

int hk_commit_new(uv_loop_t *loop, hk_store_t *store, hk_commit_t **out)
{
    hk_commit_t *c = calloc(1, sizeof *c);
    if (!c) return HK_ENOMEM;
    c->loop = loop;
    c->store = store;
    hk_link_init(&c->waiting.head);
    hk_link_init(&c->ready.head);
    uv_check_init(loop, &c->check);
    uv_idle_init(loop, &c->idle);
    uv_timer_init(loop, &c->lazy);
    uv_prepare_init(loop, &c->unwaited);
    /* The loop's life is not this timer's business: close syncs the rest. */
    uv_unref((uv_handle_t *)&c->lazy);
    c->work.data = c;
    hk_outbox_set_hook(store, on_outbox, c);
    *out = c;
    return 0;
}

void hk_commit_set_listener(hk_commit_t *c, void (*fn)(void *arg), void *arg)
{
    c->listener = fn;
    c->listener_arg = arg;
}

void hk_commit_stats(const hk_commit_t *c, hk_commit_stats_t *out)
{
    *out = c->stats;
}

void hk_commit_wait(hk_commit_t *c, hk_commit_waiter_t *w, hk_commit_cb cb)
{
    uint64_t open = hk_outbox_batch_gen(c->store);
    w->cb = cb;
    w->err = 0;
    /* Writes made so far are in the open batch, or else in the last one. */
    w->gen = open ? open : c->last_gen;
    if (w->gen <= c->durable_gen)
        wl_push(&c->ready, w);
    else
        wl_push(&c->waiting, w);
    wake(c);
}

static void answer(hk_commit_t *c, wlist_t *l)
{
    hk_commit_waiter_t *w;
    while ((w = wl_first(l)) != NULL) {
        wl_remove(w);
        c->stats.waiters++;
        w->cb(w, w->err);
    }
}

/* Moves waiters covered by durable_gen (or failed by a sync error) to ready. */
static void settle(hk_commit_t *c, uint64_t upto, int err)
{
    hk_commit_waiter_t *w;
    while ((w = wl_first(&c->waiting)) != NULL && w->gen <= upto) {
        wl_remove(w);
        w->err = err;
        wl_push(&c->ready, w);
    }
}

static void sync_work(uv_work_t *work)
{
    hk_commit_t *c = work->data;
    c->sync_err = hk_store_sync(c->store);
}

static void step(hk_commit_t *c);

static void sync_done(uv_work_t *work, int status)
{
    hk_commit_t *c = work->data;
    c->syncing = 0;
    if (status != 0 && c->sync_err == 0) c->sync_err = HK_EIO;
    if (c->sync_err) {
        hk_log(HK_LOG_ERROR, "outbox_sync_failed", "batch=%llu error=\"%s\"",
               (unsigned long long)c->sync_gen, hk_strerror(c->sync_err));
        settle(c, c->sync_gen, c->sync_err);
    } else {
        c->durable_gen = c->sync_gen;
        settle(c, c->durable_gen, 0);
    }
    step(c);
}

static void finish_close(hk_commit_t *c);

/* Starts a sync of everything committed (the loop must not have one
 * running). */
static void sync_start(hk_commit_t *c)
{
    c->sync_gen = c->committed_gen;
    c->sync_err = 0;
    c->stats.syncs++;
    if (uv_queue_work(c->loop, &c->work, sync_work, sync_done) == 0) {
        c->syncing = 1;
        return;
    }
    /* No threadpool: sync here rather than not at all. */
    c->sync_err = hk_store_sync(c->store);
    if (c->sync_err) {
        settle(c, c->sync_gen, c->sync_err);
    } else {
        c->durable_gen = c->sync_gen;
        settle(c, c->durable_gen, 0);
    }
}

/* One round. While a sync runs, the open batch keeps gathering. Otherwise,
 * when somebody waits (or the lazy timer fired), the open batch is committed
 * and a sync started for everything committed. Then the answers. Writes
 * nobody waits for are committed just before the loop next polls (so no
 * answer of this iteration waits for their commit, and a killed process
 * loses them only within that iteration), and synced with the next
 * caller's sync, or the lazy timer's: a caller never waits behind a sync it
 * has no part in. */
static void step(hk_commit_t *c)
{
    if (!c->syncing && (!wl_empty(&c->waiting) || c->lazy_due)) {
        if (hk_outbox_batch_gen(c->store)) hk_outbox_batch_commit(c->store);
        if (c->committed_gen > c->durable_gen && (!wl_empty(&c->waiting) || c->lazy_due))
            sync_start(c);
        c->lazy_due = 0;
    }
    answer(c, &c->ready);
    if (c->notify) {
        c->notify = 0;
        if (c->listener) c->listener(c->listener_arg);
    }
    if (c->closing) {
        finish_close(c);
        return;
    }
    /* Callbacks may have written and waited: the next round is theirs. The
     * loop may sleep only when nothing is left for check to do but wait
     * for the sync (whose completion wakes it) or the lazy timer. */
    uint64_t open = hk_outbox_batch_gen(c->store);
    int unsynced = open || c->committed_gen > c->durable_gen;
    int work_left =
        !wl_empty(&c->ready) || c->notify || (!c->syncing && !wl_empty(&c->waiting) && unsynced);
    if (!c->syncing && open && wl_empty(&c->waiting)) uv_prepare_start(&c->unwaited, on_unwaited);
    if (!work_left && c->active) {
        c->active = 0;
        uv_check_stop(&c->check);
        uv_idle_stop(&c->idle);
    } else if (work_left) {
        wake(c);
    }
    if (unsynced && !c->lazy_armed) {
        c->lazy_armed = 1;
        uv_timer_start(&c->lazy, on_lazy, LAZY_MS, 0);
    } else if (!unsynced && c->lazy_armed) {
        c->lazy_armed = 0;
        uv_timer_stop(&c->lazy);
    }
}

static void on_unwaited(uv_prepare_t *prepare)
{
    hk_commit_t *c = hk_container_of(prepare, hk_commit_t, unwaited);
    uv_prepare_stop(prepare);
    if (!c->syncing && hk_outbox_batch_gen(c->store)) hk_outbox_batch_commit(c->store);
    step(c);
}

static void on_lazy(uv_timer_t *timer)
{
    hk_commit_t *c = hk_container_of(timer, hk_commit_t, lazy);
    c->lazy_armed = 0;
    c->lazy_due = 1;
    step(c);
}

static void on_check(uv_check_t *check)
{
    step(hk_container_of(check, hk_commit_t, check));
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

/* Runs from step once closing: everything left is made durable here, on
 * the loop, since nothing comes after it. */
static void finish_close(hk_commit_t *c)
{
    if (c->syncing || c->closed_handles) return; /* sync_done calls step again */
    if (hk_outbox_batch_gen(c->store)) hk_outbox_batch_commit(c->store);
    if (c->committed_gen > c->durable_gen) {
        int err = hk_store_sync(c->store);
        c->stats.syncs++;
        settle(c, c->committed_gen, err);
        if (!err) c->durable_gen = c->committed_gen;
    }
    /* Waiters of a batch that never committed (nothing was written). */
    settle(c, UINT64_MAX, 0);
    answer(c, &c->ready);
    hk_outbox_set_hook(c->store, NULL, NULL);
    c->active = 0;
    c->closed_handles = 4;
    c->check.data = c->idle.data = c->lazy.data = c->unwaited.data = c;
    uv_close((uv_handle_t *)&c->check, on_closed);
    uv_close((uv_handle_t *)&c->idle, on_closed);
    uv_close((uv_handle_t *)&c->lazy, on_closed);
    uv_close((uv_handle_t *)&c->unwaited, on_closed);
}

void hk_commit_close(hk_commit_t *c, void (*cb)(void *arg), void *arg)
{
    if (c->closing) return;
    c->closing = 1;
    c->close_cb = cb;
    c->close_arg = arg;
    /* From the loop, not from here: the caller may be inside a callback. */
    c->active = 0;
    wake(c);
}
