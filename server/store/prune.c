/* prune.c -- deleting finished deliveries and seen event ids past their age or count */
#include "store/prune.h"
#include "core/error.h"
#include "store/store_impl.h"

#include <string.h>

#define CHUNK HK_STORE_CHUNK

static int delivery_delete(hk_store_t *s, MDB_txn *txn, uint64_t id, uint64_t wid, uint64_t body)
{
    uint8_t k[12];
    MDB_val key;
    int rc, err;
    hk_store_be64_put(k, id);
    key = hk_store_val(k, 8);
    if ((rc = mdb_del(txn, s->deliveries, &key, NULL)) && rc != MDB_NOTFOUND)
        return hk_store_mdb_err(rc, "deliveries_del");
    if ((err = hk_delivery_body_unref(s, txn, body))) return err;
    if ((err = hk_store_pending_del(s, txn, wid, id, "by_webhook_del"))) return err;

    /* Seek afresh for each attempt: a handful per delivery, and no cursor
     * state to reason about after a delete. */
    hk_store_be32_put(k + 8, 0);
    for (;;) {
        MDB_cursor *cur;
        MDB_val v;
        if ((rc = mdb_cursor_open(txn, s->attempts, &cur)))
            return hk_store_mdb_err(rc, "cursor_open");
        key = hk_store_val(k, 12);
        rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
        if (rc == 0 && key.mv_size == 12 && hk_store_be64_get(key.mv_data) == id)
            rc = mdb_cursor_del(cur, 0);
        else if (rc == 0)
            rc = MDB_NOTFOUND;
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND) return 0;
        if (rc) return hk_store_mdb_err(rc, "attempts_del");
    }
}

/* About what deleting the delivery whose record is rec frees: the record,
 * its attempts and index entries, and its body when it is the body's last
 * reference (an estimate to stop by, not an account). */
static uint64_t delivery_bytes(hk_store_t *s, MDB_txn *txn, const MDB_val *rec)
{
    const uint8_t *p = rec->mv_data;
    uint64_t n = rec->mv_size + 128;
    if (rec->mv_size < HK_DELIVERY_HEAD || p[0] != HK_DELIVERY_V2) return n;
    uint8_t k[8];
    memcpy(k, p + 1, 8);
    MDB_val key = hk_store_val(k, 8), v;
    if (mdb_get(txn, s->bodies, &key, &v) == 0 && v.mv_size >= 4 &&
        hk_store_be32_get(v.mv_data) <= 1)
        n += v.mv_size;
    return n;
}

/* Finished deliveries go oldest first while they are older than max_age_ms,
 * beyond the newest max_count, or while excess_bytes are still to be freed
 * (the store over its prune mark). */
static int prune_deliveries(hk_store_t *s, MDB_txn *txn, int64_t now, uint64_t max_age_ms,
                            uint64_t max_count, uint64_t excess_bytes, size_t budget,
                            size_t *pruned, int *more)
{
    MDB_stat st;
    MDB_cursor *cur;
    int rc, err = 0;
    struct {
        uint64_t id, wid, body;
    } victims[CHUNK];
    if (budget > CHUNK) budget = CHUNK;
    size_t nv = 0, examined = 0, limit = budget * 8;
    if ((rc = mdb_stat(txn, s->deliveries, &st))) return hk_store_mdb_err(rc, "stat");
    uint64_t excess = st.ms_entries > max_count ? st.ms_entries - max_count : 0;
    int64_t cutoff = now - (int64_t)(max_age_ms > (uint64_t)INT64_MAX / 2 ? (uint64_t)INT64_MAX / 2
                                                                          : max_age_ms);
    *more = 0;
    if ((rc = mdb_cursor_open(txn, s->deliveries, &cur)))
        return hk_store_mdb_err(rc, "cursor_open");
    uint8_t k[8];
    hk_store_be64_put(k, s->prune_cursor);
    MDB_val key = hk_store_val(k, 8), v;
    int ended = 1;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 8) continue;
        uint64_t id = hk_store_be64_get(key.mv_data);
        if (nv == budget || examined == limit) {
            s->prune_cursor = id;
            /* Soon again only while it finds work: a long run of pending
             * deliveries is walked at the idle pace. */
            *more = nv > 0;
            ended = 0;
            break;
        }
        examined++;
        uint64_t body = 0;
        hk_delivery_t *d = hk_delivery_rec_decode(&v, &body);
        if (!d) continue; /* not ours to judge here; GetDelivery reports it */
        int old = d->create_time < cutoff;
        int finished = d->state != HK_DELIVERY_PENDING;
        uint64_t wid = d->webhook_id;
        hookd__v1__delivery__free_unpacked(d, NULL);
        if (!old && excess == 0 && excess_bytes == 0) {
            /* Ids grow with time: the rest is younger still. */
            ended = 1;
            rc = MDB_NOTFOUND;
            break;
        }
        if (!finished) continue;
        victims[nv].id = id;
        victims[nv].wid = wid;
        victims[nv].body = body;
        nv++;
        if (excess) excess--;
        if (excess_bytes) {
            uint64_t freed = delivery_bytes(s, txn, &v);
            excess_bytes = freed < excess_bytes ? excess_bytes - freed : 0;
        }
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    if (ended) s->prune_cursor = 0;
    for (size_t i = 0; i < nv && !err; i++)
        err = delivery_delete(s, txn, victims[i].id, victims[i].wid, victims[i].body);
    if (!err) *pruned += nv;
    return err;
}

static int prune_events(hk_store_t *s, MDB_txn *txn, int64_t now, uint64_t window_ms,
                        uint64_t max_count, size_t budget, size_t *pruned, int *more)
{
    MDB_cursor *cur;
    MDB_stat st;
    int rc, err = 0;
    uint8_t keys[CHUNK][HK_STORE_KEY_BUF];
    size_t lens[CHUNK], n = 0;
    if (budget > CHUNK) budget = CHUNK;
    int64_t cutoff =
        now - (int64_t)(window_ms > (uint64_t)INT64_MAX / 2 ? (uint64_t)INT64_MAX / 2 : window_ms);
    /* The window bounds how long an id is remembered, the count how many:
     * a flood of keyed events must not fill the store within the window. */
    if ((rc = mdb_stat(txn, s->events, &st))) return hk_store_mdb_err(rc, "stat");
    uint64_t excess = st.ms_entries > max_count ? st.ms_entries - max_count : 0;
    if ((rc = mdb_cursor_open(txn, s->event_times, &cur)))
        return hk_store_mdb_err(rc, "cursor_open");
    MDB_val key, v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size < 8 || key.mv_size > HK_STORE_KEY_BUF) continue;
        if ((int64_t)hk_store_be64_get(key.mv_data) >= cutoff && n >= excess) break;
        if (n == budget) {
            *more = 1;
            break;
        }
        memcpy(keys[n], key.mv_data, key.mv_size);
        lens[n++] = key.mv_size;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    for (size_t i = 0; i < n && !err; i++) {
        key = hk_store_val(keys[i], lens[i]);
        if ((rc = mdb_del(txn, s->event_times, &key, NULL)) && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "event_times_del");
            break;
        }
        /* Only the record this index entry stands for: a re-recorded id has
         * a newer time and its own entry. */
        MDB_val ek = hk_store_val(keys[i] + 8, lens[i] - 8), ev;
        rc = mdb_get(txn, s->events, &ek, &ev);
        if (rc == 0 && ev.mv_size >= 8 &&
            hk_store_be64_get(ev.mv_data) == hk_store_be64_get(keys[i])) {
            if ((rc = mdb_del(txn, s->events, &ek, NULL))) err = hk_store_mdb_err(rc, "events_del");
        } else if (rc && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "events_get");
        }
    }
    if (!err) *pruned += n;
    return err;
}

static int64_t cutoff_of(int64_t now, uint64_t age_ms)
{
    return now - (int64_t)(age_ms > (uint64_t)INT64_MAX / 2 ? (uint64_t)INT64_MAX / 2 : age_ms);
}

/* 1 when pruning may find work, judged from the oldest records (without
 * the writer, so an idle hookd does not commit and sync empty batches); 0
 * when not; or an error. */
static int prune_needed(hk_store_t *s, int64_t now, uint64_t max_age_ms, uint64_t max_count,
                        uint64_t window_ms)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_stat st;
    MDB_val k, v;
    uint64_t used = 0, mark;
    int rc, err = hk_batch_read_begin(s, &txn), needed = 0;
    if (err) return err;
    /* Over the prune mark a write is wanted whatever the age and count: the
     * writer heals (prunes by bytes) ahead of every batch. */
    hk_store_marks(s, &mark, NULL, NULL);
    if (hk_batch_in_write(s))
        used = s->w_used;
    else if ((err = hk_store_used_bytes(s, txn, mark, &used))) {
        hk_batch_read_end(s, txn);
        return err;
    }
    if ((rc = mdb_stat(txn, s->deliveries, &st))) goto out;
    needed = used > mark || st.ms_entries > max_count;
    if (!needed && (rc = mdb_cursor_open(txn, s->deliveries, &cur)) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        hk_delivery_t *d = rc == 0 ? hk_delivery_rec_decode(&v, NULL) : NULL;
        if (d) {
            needed = d->create_time < cutoff_of(now, max_age_ms);
            hookd__v1__delivery__free_unpacked(d, NULL);
        }
        mdb_cursor_close(cur);
        cur = NULL;
        if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (!rc && !needed && (rc = mdb_stat(txn, s->events, &st)) == 0)
        needed = st.ms_entries > max_count;
    if (!rc && !needed && (rc = mdb_cursor_open(txn, s->event_times, &cur)) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        needed = rc == 0 && k.mv_size >= 8 &&
                 (int64_t)hk_store_be64_get(k.mv_data) < cutoff_of(now, window_ms);
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND) rc = 0;
    }
out:
    hk_batch_read_end(s, txn);
    return rc ? hk_store_mdb_err(rc, "prune_check") : needed;
}

int hk_outbox_prune_needed(hk_store_t *s, int64_t now, uint64_t max_age_ms, uint64_t max_count,
                           uint64_t event_window_ms)
{
    return prune_needed(s, now, max_age_ms, max_count, event_window_ms);
}

typedef struct {
    int64_t now;
    uint64_t max_age_ms, max_count, event_window_ms;
    size_t budget, *pruned;
    int *more;
} prune_arg_t;

static int prune_write(hk_store_t *s, void *arg)
{
    prune_arg_t *p = arg;
    MDB_txn *txn;
    int err, more_d = 0, more_e = 0;
    if ((err = prune_needed(s, p->now, p->max_age_ms, p->max_count, p->event_window_ms)) <= 0)
        return err;
    if ((err = hk_batch_txn(s, &txn))) return err;
    /* By bytes the writer prunes itself, ahead of any batch (hk_prune_fill). */
    err = prune_deliveries(s, txn, p->now, p->max_age_ms, p->max_count, 0, p->budget, p->pruned,
                           &more_d);
    if (!err)
        err = prune_events(s, txn, p->now, p->event_window_ms, p->max_count, p->budget, p->pruned,
                           &more_e);
    if (err) {
        *p->pruned = 0;
        return err;
    }
    *p->more = more_d || more_e;
    return 0;
}

int hk_outbox_prune(hk_store_t *s, int64_t now, uint64_t max_age_ms, uint64_t max_count,
                    uint64_t event_window_ms, size_t budget, size_t *pruned, int *more)
{
    *pruned = 0;
    *more = 0;
    if (budget == 0) return 0;
    prune_arg_t p = {now, max_age_ms, max_count, event_window_ms, budget, pruned, more};
    return hk_batch_run_sync(s, prune_write, &p);
}

int hk_prune_fill(hk_store_t *s, MDB_txn *txn, uint64_t excess, size_t *pruned, int *more)
{
    *more = 0;
    if (excess == 0) return 0;
    /* No age and no count: only the bytes say what goes. */
    return prune_deliveries(s, txn, hk_store_now_ms(), UINT64_MAX, UINT64_MAX, excess, CHUNK,
                            pruned, more);
}
