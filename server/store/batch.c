/* batch.c -- the store's one writer thread: batches of operations, nested txns, LMDB's sync */
#include "store/batch.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* The store whose operation runs on this thread (the writer, inside one). */
static __thread hk_store_t *in_write;

int hk_batch_in_write(const hk_store_t *s)
{
    return in_write == s;
}

int hk_batch_txn(hk_store_t *s, MDB_txn **txn)
{
    if (in_write != s || !s->wtxn) return HK_ESTATE;
    *txn = s->wtxn;
    return 0;
}

int hk_batch_read_begin(hk_store_t *s, MDB_txn **txn)
{
    if (in_write == s) return hk_batch_txn(s, txn);
    return hk_store_read_begin(s, txn);
}

void hk_batch_read_end(hk_store_t *s, MDB_txn *txn)
{
    if (in_write != s || txn != s->wtxn) hk_store_read_end(s, txn);
}

int hk_batch_admin_begin(hk_store_t *s, MDB_txn **txn)
{
    int err = hk_batch_txn(s, txn);
    if (!err) s->admin_gen++;
    return err;
}

int hk_batch_admin_end(hk_store_t *s, MDB_txn *txn, int err, const char *op)
{
    (void)txn, (void)op;
    s->admin_gen++;
    return err;
}

static void run_one(hk_store_t *s, MDB_txn *top, hk_store_write_t *w);

/* ---- how full: room for writes, healing ------------------------------------------ */

#define FULL_LOG_MS 10000 /* store_full at most this often */

int hk_batch_room(hk_store_t *s, int kind, uint64_t bytes)
{
    uint64_t trigger, admin;
    if (in_write != s) return 0;
    hk_store_marks(s, NULL, &trigger, &admin);
    uint64_t mark = kind == HK_ROOM_ADMIN ? admin : trigger;
    if (s->w_used + s->w_added + bytes > mark) {
        atomic_fetch_add(&s->a_refused, 1);
        int64_t now = hk_store_now_ms();
        if (now - s->w_full_logged_ms >= FULL_LOG_MS) {
            s->w_full_logged_ms = now;
            hk_log(HK_LOG_WARN, "store_full",
                   "refused=%s used_bytes=%llu mark_bytes=%llu map_bytes=%llu "
                   "why=\"%s are refused until pruning or deliveries make room\"",
                   kind == HK_ROOM_ADMIN ? "webhook_write" : "new_deliveries",
                   (unsigned long long)s->w_used, (unsigned long long)mark,
                   (unsigned long long)s->map_bytes,
                   kind == HK_ROOM_ADMIN ? "webhook creates and updates" : "new deliveries");
        }
        return HK_EFULL;
    }
    s->w_added += bytes;
    return 0;
}

/* The bytes in use as the batch starts (the last commit's), from a read
 * txn of the writer's own: LMDB shows no write txn its freelist. */
static void measure(hk_store_t *s)
{
    uint64_t prune, used;
    MDB_txn *r = NULL;
    MDB_envinfo ei;
    hk_store_marks(s, &prune, NULL, NULL);
    mdb_env_info(s->env, &ei);
    used = ((uint64_t)ei.me_last_pgno + 1) * s->psize;
    if (used > prune && mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r) == 0) {
        if (hk_store_used_bytes(s, r, prune, &used))
            used = ((uint64_t)ei.me_last_pgno + 1) * s->psize;
        mdb_txn_abort(r);
    }
    s->w_used = used;
    s->w_added = 0;
    atomic_store(&s->a_used, used);
}

#define HEAL_IDLE_MS 250 /* after a heal that found nothing, at most this often */

static int heal_run(hk_store_t *s, hk_store_write_t *w)
{
    (void)w;
    uint64_t prune;
    size_t pruned = 0;
    MDB_txn *txn = s->wtxn;
    hk_store_marks(s, &prune, NULL, NULL);
    int more = 0;
    int err = s->heal(s, txn, s->w_used - prune, &pruned, &more);
    /* While it finds work it runs every batch: the writes coming in must
     * not outrun it into the room above the trigger mark. */
    s->w_heal_more = !err && pruned;
    if (!err && pruned) {
        atomic_fetch_add(&s->a_healed, pruned);
        hk_log(HK_LOG_DEBUG, "store_pruned_for_space",
               "deliveries=%zu used_bytes=%llu map_bytes=%llu", pruned,
               (unsigned long long)s->w_used, (unsigned long long)s->map_bytes);
    }
    return err;
}

/* Over the prune mark, finished deliveries go oldest first, in an
 * operation of its own ahead of the batch's (its freed pages are reused
 * from the next batch on, as LMDB reuses none in the txn that frees them). */
static void heal(hk_store_t *s, MDB_txn *top)
{
    uint64_t prune;
    hk_store_marks(s, &prune, NULL, NULL);
    if (!s->heal || s->w_used <= prune) return;
    int64_t now = hk_store_now_ms();
    if (!s->w_heal_more && now - s->w_heal_ms < HEAL_IDLE_MS) return;
    s->w_heal_ms = now;
    hk_store_write_t w = {.run = heal_run};
    run_one(s, top, &w);
    if (w.err) {
        s->w_heal_more = 0;
        hk_log(HK_LOG_ERROR, "store_prune_failed", "error=\"%s\"", hk_strerror(w.err));
    }
}

/* ---- the loop side: gathering, handing over, reaping ----------------------------- */

void hk_store_set_hooks(hk_store_t *s, const hk_store_hooks_t *hooks)
{
    /* Under mu: the writer calls hooks.finished holding it. */
    pthread_mutex_lock(&s->mu);
    if (hooks)
        s->hooks = *hooks;
    else
        memset(&s->hooks, 0, sizeof s->hooks);
    pthread_mutex_unlock(&s->mu);
}

void hk_store_submit(hk_store_t *s, hk_store_write_t *w)
{
    w->err = w->batch_failed = 0;
    hk_link_add(&s->gather, &w->link);
    /* The hook hears of the first write, and of the first one waited for
     * (lazy ones before it may have been left for later). */
    int tell = s->n_gather++ == 0 || (!w->lazy && s->n_urgent == 0);
    if (!w->lazy) s->n_urgent++;
    if (tell && s->hooks.gathered) s->hooks.gathered(s->hooks.arg);
}

int hk_store_flush(hk_store_t *s, int lazy)
{
    if (s->n_gather == 0) return 0;
    if (!s->n_urgent && !lazy) return 1;
    pthread_mutex_lock(&s->mu);
    /* Splice the gathered list onto the end of the queue, in order. */
    hk_link_t *first = s->gather.next, *last = s->gather.prev, *tail = s->queue.prev;
    tail->next = first;
    first->prev = tail;
    last->next = &s->queue;
    s->queue.prev = last;
    hk_link_init(&s->gather);
    s->q_next_delivery = s->next_delivery_id;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    s->n_gather = s->n_urgent = 0;
    return 0;
}

void hk_store_reap(hk_store_t *s, hk_store_reaped_t *out)
{
    hk_link_t done;
    hk_store_reaped_t r = {0};
    hk_link_init(&done);
    pthread_mutex_lock(&s->mu);
    if (!hk_link_empty(&s->finished)) {
        done = s->finished;
        done.next->prev = &done;
        done.prev->next = &done;
        hk_link_init(&s->finished);
    }
    r.batches = s->f_batches;
    r.failed = s->f_failed;
    r.due_added = s->f_due_added;
    r.lost = s->f_lost;
    s->f_batches = s->f_failed = 0;
    s->f_due_added = 0;
    pthread_mutex_unlock(&s->mu);

    s->batch_failures += r.failed;
    s->stats.batches += r.batches - r.failed;
    s->stats.failed += r.failed;
    s->stats.due_added += r.due_added != 0;
    while (!hk_link_empty(&done)) {
        hk_store_write_t *w = hk_container_of(done.next, hk_store_write_t, link);
        hk_link_del(&w->link);
        r.writes++;
        s->stats.writes++;
        if (w->err) s->stats.write_failed++;
        if (w->done) w->done(w, w->err);
    }
    r.retrying = !hk_link_empty(&s->retry);
    hk_store_log_kept(s);
    if (out) *out = r;
}

int hk_store_lost(hk_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    int lost = s->f_lost;
    pthread_mutex_unlock(&s->mu);
    return lost;
}

int hk_outbox_batch_commit(hk_store_t *s)
{
    hk_store_flush(s, 1);
    pthread_mutex_lock(&s->mu);
    while (!hk_link_empty(&s->queue) || s->busy)
        pthread_cond_wait(&s->idle, &s->mu);
    int err = s->f_err;
    s->f_err = 0;
    pthread_mutex_unlock(&s->mu);
    hk_store_reap(s, NULL);
    return err;
}

int hk_store_run(hk_store_t *s, hk_store_write_t *w)
{
    hk_store_write_cb done = w->done;
    w->done = NULL; /* called below, after the wait, like any reaped one */
    hk_store_submit(s, w);
    hk_outbox_batch_commit(s);
    int err = w->err;
    if (done) done(w, err);
    return err;
}

int hk_store_outstanding(hk_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    int busy = s->busy || !hk_link_empty(&s->queue) || !hk_link_empty(&s->finished);
    pthread_mutex_unlock(&s->mu);
    return busy;
}

uint64_t hk_outbox_batch_gen(const hk_store_t *s)
{
    return s->n_gather;
}

uint64_t hk_outbox_batch_failures(const hk_store_t *s)
{
    return s->batch_failures;
}

const uint32_t hk_store_batch_bounds[HK_STORE_BATCH_BUCKETS] = {1,  2,  4,   8,   16,
                                                                32, 64, 128, 256, 512};
const uint32_t hk_store_commit_bounds_us[HK_STORE_COMMIT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000};

void hk_store_write_stats(hk_store_t *s, hk_store_write_stats_t *out)
{
    *out = s->stats;
    out->kept = s->n_kept;
    pthread_mutex_lock(&s->mu);
    out->batch_ops_sum = s->f_hist.batch_ops_sum;
    out->commit_ns_sum = s->f_hist.commit_ns_sum;
    memcpy(out->batch_buckets, s->f_hist.batch_buckets, sizeof out->batch_buckets);
    memcpy(out->commit_buckets, s->f_hist.commit_buckets, sizeof out->commit_buckets);
    pthread_mutex_unlock(&s->mu);
}

/* Under mu: one batch of n operations whose commit took ns. */
static void count_batch(hk_store_t *s, size_t n, uint64_t ns)
{
    hk_store_write_stats_t *h = &s->f_hist;
    size_t b = 0;
    while (b < HK_STORE_BATCH_BUCKETS && n > hk_store_batch_bounds[b])
        b++;
    h->batch_buckets[b]++;
    h->batch_ops_sum += n;
    for (b = 0; b < HK_STORE_COMMIT_BUCKETS && ns > hk_store_commit_bounds_us[b] * 1000ull;)
        b++;
    h->commit_buckets[b]++;
    h->commit_ns_sum += ns;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the writer thread ------------------------------------------------------------------ */

/* Runs one operation in a nested txn of top: its writes go or stay whole. */
static void run_one(hk_store_t *s, MDB_txn *top, hk_store_write_t *w)
{
    MDB_txn *child;
    int rc = mdb_txn_begin(s->env, top, 0, &child);
    if (rc) {
        w->err = hk_store_mdb_err(rc, "write_begin");
        return;
    }
    s->wtxn = child;
    s->w_op_pending = 0;
    in_write = s;
    int err = w->run(s, w);
    in_write = NULL;
    s->wtxn = NULL;
    if (err) {
        mdb_txn_abort(child);
        s->admin_gen++; /* what it read of webhooks may be what it undid */
        w->err = err;
        return;
    }
    if ((rc = mdb_txn_commit(child))) {
        s->admin_gen++;
        w->err = hk_store_mdb_err(rc, "write_commit");
        return;
    }
    s->w_batch_pending += s->w_op_pending;
}

/* Keeps the delivery id counter covering next (see run_batch). */
static int store_counter(hk_store_t *s, MDB_txn *top, uint64_t next)
{
    uint64_t stored = 0, newest = 0;
    uint8_t b[8];
    MDB_cursor *cur;
    MDB_val k = hk_store_val(HK_STORE_NEXT_DELIVERY, strlen(HK_STORE_NEXT_DELIVERY)), v, dk;
    int rc = mdb_get(top, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8) stored = hk_store_be64_get(v.mv_data);
    if (next <= stored) return 0;
    if ((rc = mdb_cursor_open(top, s->deliveries, &cur)))
        return hk_store_mdb_err(rc, "cursor_open");
    if (mdb_cursor_get(cur, &dk, &v, MDB_LAST) == 0 && dk.mv_size == 8)
        newest = hk_store_be64_get(dk.mv_data);
    mdb_cursor_close(cur);
    if (newest + 1 >= next) return 0;
    hk_store_be64_put(b, next);
    v = hk_store_val(b, 8);
    if ((rc = mdb_put(top, s->meta, &k, &v, 0))) return hk_store_mdb_err(rc, "batch_meta_put");
    return 0;
}

static size_t count_ops(hk_link_t *ops)
{
    size_t n = 0;
    for (hk_link_t *l = ops->next; l != ops; l = l->next)
        n++;
    return n;
}

/* LMDB reports a write that came up short as EIO, and a disk that fills
 * part way through a commit's pages does just that. So an EIO with (next
 * to) no room left on the store's file system was a full disk. What a
 * commit failing that way wrote past the end stays allocated, so such a
 * disk is left with less than a page. */
#define DISK_FULL_ROOM (1u << 20)
static int disk_full(hk_store_t *s)
{
    mdb_filehandle_t fd;
    struct statvfs st;
    if (mdb_env_get_fd(s->env, &fd) != 0 || fstatvfs(fd, &st) != 0) return 0;
    unsigned long long blocks = geteuid() == 0 ? st.f_bfree : st.f_bavail;
    return blocks * st.f_frsize < DISK_FULL_ROOM;
}

/* Runs a whole batch: one txn, each operation nested, the delivery id
 * counter, one commit with LMDB's sync. Returns 0 or the commit's error
 * (then none of it is written and every operation has that error). */
static int run_batch(hk_store_t *s, hk_link_t *ops, uint64_t next_delivery)
{
    MDB_txn *top;
    measure(s);
    int rc = mdb_txn_begin(s->env, NULL, 0, &top), err = 0;
    if (rc) {
        err = hk_store_mdb_err(rc, "batch_begin");
        goto failed;
    }
    s->w_next_delivery = next_delivery;
    s->w_due_added = 0;
    s->w_batch_pending = 0;
    heal(s, top);
    hk_link_t *l;
    for (l = ops->next; l != ops; l = l->next)
        run_one(s, top, hk_container_of(l, hk_store_write_t, link));

    /* Every id handed out before the hand-over is below the stored
     * counter or at most the newest delivery record, written or not: none
     * is handed out again after a restart (open takes the larger). Most
     * batches write their ids' records, so meta is left alone (one page
     * fewer to write). */
    if ((err = store_counter(s, top, next_delivery))) {
        mdb_txn_abort(top);
        goto failed;
    }
    /* LMDB writes the dirty pages, syncs them, then writes and syncs the
     * meta page: when this returns 0 the batch is on disk. */
    uint64_t t0 = mono_ns();
    rc = mdb_txn_commit(top);
    s->w_commit_ns = mono_ns() - t0;
    if (rc) {
        err = hk_store_mdb_err(rc, "batch_commit");
        if (err == HK_EIO && disk_full(s)) {
            hk_log(HK_LOG_ERROR, "store_disk_full",
                   "why=\"a write came up short and the disk has no room left\"");
            err = HK_ENOSPC;
        }
        goto failed;
    }
    atomic_fetch_add(&s->a_pending, (uint64_t)s->w_batch_pending); /* wraps back when < 0 */
    return 0;
failed:
    s->admin_gen++;
    s->w_due_added = 0;
    /* A failed sync is as fatal to the batch as a failed write: LMDB
     * aborted the txn before its meta page was written, so nothing of it
     * is on disk, and every operation is told so, never 0. */
    hk_log(HK_LOG_ERROR, "store_batch_failed",
           "error=\"%s\" operations=%zu why=\"nothing of the batch is written\"", hk_strerror(err),
           count_ops(ops));
    for (l = ops->next; l != ops; l = l->next) {
        hk_store_write_t *w = hk_container_of(l, hk_store_write_t, link);
        w->err = err;
        w->batch_failed = 1;
    }
    return err;
}

/* A failed write of the meta page makes LMDB give the environment up (the
 * page cache may then hold a meta page the disk does not): every txn after
 * it fails with MDB_PANIC until the environment is opened again. Asked only
 * after a batch failed. */
static int env_lost(hk_store_t *s)
{
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc == 0) mdb_txn_abort(t);
    return rc == MDB_PANIC;
}

static void *writer_main(void *arg)
{
    hk_store_t *s = arg;
    hk_link_t ops;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (hk_link_empty(&s->queue) && !s->stop)
            pthread_cond_wait(&s->work, &s->mu);
        if (hk_link_empty(&s->queue)) break;
        ops = s->queue;
        ops.next->prev = &ops;
        ops.prev->next = &ops;
        hk_link_init(&s->queue);
        uint64_t next_delivery = s->q_next_delivery;
        s->busy = 1;
        pthread_mutex_unlock(&s->mu);

        size_t n_ops = count_ops(&ops);
        s->w_commit_ns = 0;
        int err = run_batch(s, &ops, next_delivery);
        int lost = err && env_lost(s);
        if (lost && !s->f_lost) /* f_lost is written on this thread only */
            hk_log(HK_LOG_ERROR, "store_lost",
                   "why=\"LMDB gave the environment up after a failed write of its meta page\"");

        pthread_mutex_lock(&s->mu);
        if (!err) count_batch(s, n_ops, s->w_commit_ns);
        hk_link_t *first = ops.next, *last = ops.prev, *tail = s->finished.prev;
        tail->next = first;
        first->prev = tail;
        last->next = &s->finished;
        s->finished.prev = last;
        s->f_batches++;
        if (err) {
            s->f_failed++;
            if (!s->f_err) s->f_err = err;
            s->f_lost |= lost;
        }
        if (s->w_due_added) s->f_due_added = 1;
        s->busy = 0;
        pthread_cond_broadcast(&s->idle);
        if (s->hooks.finished) s->hooks.finished(s->hooks.arg);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int hk_batch_start(hk_store_t *s)
{
    hk_link_init(&s->gather);
    hk_link_init(&s->queue);
    hk_link_init(&s->finished);
    hk_link_init(&s->events_pending);
    hk_link_init(&s->retry);
    if (pthread_mutex_init(&s->mu, NULL)) return HK_ENOMEM;
    if (pthread_cond_init(&s->work, NULL)) {
        pthread_mutex_destroy(&s->mu);
        return HK_ENOMEM;
    }
    if (pthread_cond_init(&s->idle, NULL)) {
        pthread_cond_destroy(&s->work);
        pthread_mutex_destroy(&s->mu);
        return HK_ENOMEM;
    }
    if (pthread_create(&s->thread, NULL, writer_main, s)) {
        pthread_cond_destroy(&s->idle);
        pthread_cond_destroy(&s->work);
        pthread_mutex_destroy(&s->mu);
        return HK_ENOMEM;
    }
    s->thread_started = 1;
    return 0;
}

void hk_batch_stop(hk_store_t *s)
{
    if (!s->thread_started) return;
    hk_store_retry(s, 1);
    hk_outbox_batch_commit(s);
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    hk_store_reap(s, NULL);
    s->thread_started = 0;
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    for (size_t i = 0; i < HK_STORE_HELD_BUCKETS; i++) {
        while (s->held[i]) {
            hk_store_held_t *h = s->held[i];
            s->held[i] = h->next;
            free(h);
        }
    }
}
