/* due.c -- the due index: which pending deliveries are due when; parking a webhook's deliveries */
#include "store/due.h"
#include "core/error.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK HK_STORE_CHUNK

/* Due entries taken by the loop, deleted by a write later. */
typedef struct {
    size_t n;
    hk_outbox_due_t due[];
} take_arg_t;

static int take_deferred(hk_store_t *s, void *arg)
{
    take_arg_t *p = arg;
    MDB_txn *txn;
    int err = hk_batch_txn(s, &txn);
    for (size_t i = 0; i < p->n && !err; i++)
        err = hk_store_idx_del(txn, s->due, hk_store_time_key(p->due[i].time), p->due[i].id,
                               "due_del");
    return err;
}

static void taken(hk_store_t *s, void *arg, int err)
{
    (void)err;
    take_arg_t *p = arg;
    for (size_t i = 0; i < p->n; i++)
        hk_batch_release(s, p->due[i].id);
}

int hk_outbox_due_take(hk_store_t *s, int64_t now, hk_outbox_skip_fn skip, void *arg,
                       hk_outbox_due_t *out, size_t max, size_t *n, int64_t *next)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc, err;
    *n = 0;
    *next = INT64_MAX;
    /* Read from what is committed: a delivery whose batch has not finished
     * is not seen (its caller has not been answered; the commit wakes the
     * scheduler again), and most looks find nothing due, so no write. */
    if ((err = hk_store_read_begin(s, &txn))) return err;
    if ((rc = mdb_cursor_open(txn, s->due, &cur))) {
        hk_store_read_end(s, txn);
        return hk_store_mdb_err(rc, "cursor_open");
    }
    MDB_val key, v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16) continue;
        int64_t t = (int64_t)hk_store_be64_get(key.mv_data);
        uint64_t id = hk_store_be64_get((const uint8_t *)key.mv_data + 8);
        /* Taken, put back or attempted by a write not committed yet: what
         * the read shows of it is out of date. */
        if (hk_batch_held(s, id)) continue;
        if (skip && skip(id, arg)) continue;
        if (t > now || *n == max) {
            *next = t;
            break;
        }
        out[*n].id = id;
        out[*n].time = t;
        (*n)++;
    }
    mdb_cursor_close(cur);
    hk_store_read_end(s, txn);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    if (*n == 0) return 0;
    take_arg_t *p = malloc(sizeof *p + *n * sizeof p->due[0]);
    size_t held = 0;
    err = HK_ENOMEM;
    if (!p) goto fail;
    p->n = *n;
    memcpy(p->due, out, *n * sizeof out[0]);
    for (; held < *n; held++)
        if (hk_batch_hold(s, out[held].id)) goto fail;
    if ((err = hk_batch_defer(s, take_deferred, p, sizeof *p + p->n * sizeof p->due[0], taken,
                              "due_take")) == 0)
        return 0;
    p = NULL; /* freed by hk_batch_defer */
fail:
    while (held)
        hk_batch_release(s, out[--held].id);
    free(p);
    *n = 0;
    return err;
}

static int restore_write(hk_store_t *s, uint64_t id)
{
    MDB_txn *txn = NULL;
    hk_delivery_t *d = NULL;
    int active = 0, err;
    if ((err = hk_batch_txn(s, &txn))) return err;
    err = hk_delivery_rec_get(s, txn, id, &d, NULL);
    if (err == HK_ENOTFOUND) return 0;
    if (err) return err;
    if (d->state == HK_DELIVERY_PENDING &&
        hk_store_webhook_active_in(s, txn, d->webhook_id, &active) == 0 && active)
        err = hk_store_idx_put(txn, s->due, hk_store_time_key(d->next_attempt_time), id, "due_put");
    hk_delivery_free(d);
    return err;
}

static int restore_deferred(hk_store_t *s, void *arg)
{
    return restore_write(s, *(uint64_t *)arg);
}

static void restored(hk_store_t *s, void *arg, int err)
{
    (void)err;
    hk_batch_release(s, *(uint64_t *)arg);
}

int hk_outbox_due_restore(hk_store_t *s, uint64_t id)
{
    if (hk_batch_in_write(s)) return restore_write(s, id);
    uint64_t *p = malloc(sizeof *p);
    if (!p) return HK_ENOMEM;
    *p = id;
    if (hk_batch_hold(s, id)) {
        free(p);
        return HK_ENOMEM;
    }
    int err = hk_batch_defer(s, restore_deferred, p, sizeof *p, restored, "due_restore");
    if (err) hk_batch_release(s, id);
    return err;
}

static int resume_write(hk_store_t *s, void *arg)
{
    size_t *count = arg;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc, err;
    uint64_t last_wid = 0;
    int last_active = 0;
    *count = 0;
    if ((err = hk_batch_txn(s, &txn))) return err;
    if ((rc = mdb_cursor_open(txn, s->by_webhook, &cur)))
        return hk_store_mdb_err(rc, "cursor_open");
    MDB_val key, v;
    /* Puts go to another table than the one the cursor walks. */
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16 || v.mv_size < 1 || !*(const uint8_t *)v.mv_data) continue;
        uint64_t wid = hk_store_be64_get(key.mv_data);
        uint64_t id = hk_store_be64_get((const uint8_t *)key.mv_data + 8);
        if (wid != last_wid) {
            last_wid = wid;
            if (hk_store_webhook_active_in(s, txn, wid, &last_active) != 0) last_active = 0;
        }
        if (!last_active) continue;
        hk_delivery_t *d;
        if ((err = hk_delivery_rec_get(s, txn, id, &d, NULL))) {
            if (err != HK_ENOTFOUND) break;
            /* Gone, or set aside as it did not decode: so is its entry (the
             * cursor then stands on the next one, which MDB_NEXT returns). */
            err = 0;
            if ((rc = mdb_cursor_del(cur, 0))) {
                err = hk_store_mdb_err(rc, "by_webhook_del");
                break;
            }
            s->w_op_pending--; /* its flag was set: only those are walked */
            continue;
        }
        err = hk_store_idx_put(txn, s->due, hk_store_time_key(d->next_attempt_time), id, "due_put");
        hk_delivery_free(d);
        if (err) break;
        (*count)++;
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND) err = hk_store_mdb_err(rc, "cursor_get");
    return err;
}

int hk_outbox_resume(hk_store_t *s, size_t *count)
{
    return hk_batch_run_sync(s, resume_write, count);
}

/* ---- park, unpark, cancel (inside an admin write txn) ----------------------------- */

typedef enum { PARK, UNPARK, CANCEL } webhook_op_t;

static int webhook_op(hk_store_t *s, MDB_txn *txn, uint64_t wid, webhook_op_t op, size_t *count)
{
    uint64_t ids[CHUNK], after = 0;
    size_t n = 0;
    int done = 0, err = 0;
    *count = 0;
    while (!done && !err) {
        if ((err = hk_store_idx_range(txn, s->by_webhook, wid, after, 1, ids, CHUNK, &n, &done)))
            break;
        for (size_t i = 0; i < n && !err; i++) {
            hk_delivery_t *d;
            uint64_t bkey = 0;
            after = ids[i];
            err = hk_delivery_rec_get(s, txn, ids[i], &d, &bkey);
            if (err == HK_ENOTFOUND) { /* a stale index entry: drop it */
                err = hk_store_pending_del(s, txn, wid, ids[i], "by_webhook_del");
                continue;
            }
            if (err) break;
            uint64_t t = hk_store_time_key(d->next_attempt_time);
            if (op == UNPARK) {
                err = hk_store_idx_put(txn, s->due, t, d->id, "due_put");
            } else {
                err = hk_store_idx_del(txn, s->due, t, d->id, "due_del");
            }
            if (!err && op == CANCEL) {
                d->state = HK_DELIVERY_CANCELLED;
                d->next_attempt_time = 0;
                err = hk_delivery_rec_put(s, txn, d, bkey, 0);
                if (!err) err = hk_store_pending_put(s, txn, wid, d->id, 0, 0, "by_webhook_put");
            }
            hk_delivery_free(d);
            if (!err) (*count)++;
        }
    }
    return err;
}

int hk_outbox_webhook_park(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n)
{
    return webhook_op(s, txn, webhook_id, PARK, n);
}

int hk_outbox_webhook_unpark(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n)
{
    return webhook_op(s, txn, webhook_id, UNPARK, n);
}

int hk_outbox_webhook_cancel(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n)
{
    return webhook_op(s, txn, webhook_id, CANCEL, n);
}
