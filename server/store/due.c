/* due.c -- the due index: which pending deliveries are due when; parking a webhook's deliveries */
#include "store/due.h"
#include "core/error.h"
#include "store/store_impl.h"

#define CHUNK HK_STORE_CHUNK

int hk_outbox_due_take(hk_store_t *s, int64_t now, hk_outbox_skip_fn skip, void *arg,
                       hk_outbox_due_t *out, size_t max, size_t *n, int64_t *next)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc, err;
    *n = 0;
    *next = INT64_MAX;
    /* Looked up first without the writer: most looks find nothing due, and
     * opening a batch for nothing would commit (and sync) for nothing. */
    if ((err = hk_batch_read_begin(s, &txn))) return err;
    if ((rc = mdb_cursor_open(txn, s->due, &cur))) {
        hk_batch_read_end(s, txn);
        return hk_store_mdb_err(rc, "cursor_open");
    }
    MDB_val key, v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16) continue;
        int64_t t = (int64_t)hk_store_be64_get(key.mv_data);
        uint64_t id = hk_store_be64_get((const uint8_t *)key.mv_data + 8);
        /* Not committed yet: its caller has not been answered, and a failed
         * batch would take it back. The commit wakes the scheduler again. */
        if (s->batch && id >= s->batch_first_id) continue;
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
    hk_batch_read_end(s, txn);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    if (*n == 0) return 0;
    if ((err = hk_batch_txn(s, &txn))) {
        *n = 0;
        return err;
    }
    for (size_t i = 0; i < *n; i++) {
        if ((err = hk_store_idx_del(txn, s->due, hk_store_time_key(out[i].time), out[i].id,
                                    "due_del"))) {
            *n = 0;
            return hk_batch_fail(s, err);
        }
    }
    return 0;
}

int hk_outbox_due_restore(hk_store_t *s, uint64_t id)
{
    MDB_txn *txn = NULL;
    hk_delivery_t *d = NULL;
    int active = 0, err;
    if ((err = hk_batch_txn(s, &txn))) return err;
    err = hk_delivery_rec_get(s, txn, id, &d);
    if (err == HK_ENOTFOUND) return 0;
    if (err) return hk_batch_end(s, err);
    if (d->state == HK_DELIVERY_PENDING &&
        hk_store_webhook_active_in(s, txn, d->webhook_id, &active) == 0 && active)
        err = hk_store_idx_put(txn, s->due, hk_store_time_key(d->next_attempt_time), id, "due_put");
    hk_delivery_free(d);
    return hk_batch_end(s, err);
}

int hk_outbox_resume(hk_store_t *s, size_t *count)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc, err;
    uint64_t last_wid = 0;
    int last_active = 0;
    *count = 0;
    if ((err = hk_batch_txn(s, &txn))) return err;
    if ((rc = mdb_cursor_open(txn, s->pending, &cur)))
        return hk_batch_fail(s, hk_store_mdb_err(rc, "cursor_open"));
    MDB_val key, v;
    /* Puts go to another table than the one the cursor walks. */
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16) continue;
        uint64_t wid = hk_store_be64_get(key.mv_data);
        uint64_t id = hk_store_be64_get((const uint8_t *)key.mv_data + 8);
        if (wid != last_wid) {
            last_wid = wid;
            if (hk_store_webhook_active_in(s, txn, wid, &last_active) != 0) last_active = 0;
        }
        if (!last_active) continue;
        hk_delivery_t *d;
        if ((err = hk_delivery_rec_get(s, txn, id, &d))) {
            if (err == HK_ENOTFOUND) continue;
            break;
        }
        err = hk_store_idx_put(txn, s->due, hk_store_time_key(d->next_attempt_time), id, "due_put");
        hk_delivery_free(d);
        if (err) break;
        (*count)++;
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND) err = hk_store_mdb_err(rc, "cursor_get");
    return err ? hk_batch_fail(s, err) : 0;
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
        if ((err = hk_store_idx_range(txn, s->pending, wid, after, ids, CHUNK, &n, &done))) break;
        for (size_t i = 0; i < n && !err; i++) {
            hk_delivery_t *d;
            after = ids[i];
            err = hk_delivery_rec_get(s, txn, ids[i], &d);
            if (err == HK_ENOTFOUND) { /* a stale index entry: drop it */
                err = hk_store_idx_del(txn, s->pending, wid, ids[i], "pending_del");
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
                err = hk_delivery_rec_put(s, txn, d, 0);
                if (!err) err = hk_store_idx_del(txn, s->pending, wid, d->id, "pending_del");
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
