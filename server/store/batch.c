/* batch.c -- the store's one writer: the outbox write batch, admin writes, sync */
#include "store/batch.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store_impl.h"

#include <string.h>

/* ---- hook ---------------------------------------------------------------------- */

void hk_outbox_set_hook(hk_store_t *s, hk_outbox_hook_fn fn, void *arg)
{
    s->hook = fn;
    s->hook_arg = arg;
}

void hk_outbox_notify(hk_store_t *s, hk_outbox_event_t ev, uint64_t gen, int err)
{
    if (s->hook) s->hook(ev, gen, err, s->hook_arg);
}

/* ---- the batch ------------------------------------------------------------------- */

uint64_t hk_outbox_batch_gen(const hk_store_t *s)
{
    return s->batch ? s->batch_gen : 0;
}

uint64_t hk_outbox_batch_failures(const hk_store_t *s)
{
    return s->batch_failures;
}

int hk_batch_txn(hk_store_t *s, MDB_txn **txn)
{
    if (!s->batch) {
        int rc = mdb_txn_begin(s->env, NULL, 0, &s->batch);
        if (rc) {
            s->batch = NULL;
            return hk_store_mdb_err(rc, "batch_begin");
        }
        s->batch_gen++;
        s->batch_first_id = UINT64_MAX;
        hk_outbox_notify(s, HK_OUTBOX_BATCH_OPENED, s->batch_gen, 0);
    }
    *txn = s->batch;
    return 0;
}

int hk_batch_fail(hk_store_t *s, int err)
{
    if (!s->batch) return err;
    mdb_txn_abort(s->batch);
    s->batch = NULL;
    s->batch_failures++;
    hk_log(HK_LOG_WARN, "outbox_batch_failed", "batch=%llu error=\"%s\"",
           (unsigned long long)s->batch_gen, hk_strerror(err));
    hk_outbox_notify(s, HK_OUTBOX_BATCH_DONE, s->batch_gen, err);
    return err;
}

int hk_batch_end(hk_store_t *s, int err)
{
    if (err && err != HK_EINVAL && err != HK_ENOTFOUND) return hk_batch_fail(s, err);
    return err;
}

int hk_outbox_batch_commit(hk_store_t *s)
{
    if (!s->batch) return 0;
    uint8_t b[8];
    hk_store_be64_put(b, s->next_delivery_id);
    MDB_val k = hk_store_val(HK_STORE_NEXT_DELIVERY, strlen(HK_STORE_NEXT_DELIVERY)),
            v = hk_store_val(b, 8);
    int rc = mdb_put(s->batch, s->meta, &k, &v, 0);
    if (rc) return hk_batch_fail(s, hk_store_mdb_err(rc, "batch_meta_put"));
    rc = mdb_txn_commit(s->batch);
    s->batch = NULL;
    if (rc) {
        /* LMDB freed the txn: nothing of it is written. */
        int err = hk_store_mdb_err(rc, "batch_commit");
        s->batch_failures++;
        hk_outbox_notify(s, HK_OUTBOX_BATCH_DONE, s->batch_gen, err);
        return err;
    }
    hk_outbox_notify(s, HK_OUTBOX_BATCH_DONE, s->batch_gen, 0);
    return 0;
}

/* ---- reads beside the batch ------------------------------------------------------ */

int hk_batch_read_begin(hk_store_t *s, MDB_txn **txn)
{
    if (s->batch) {
        *txn = s->batch;
        return 0;
    }
    return hk_store_read_begin(s, txn);
}

void hk_batch_read_end(hk_store_t *s, MDB_txn *txn)
{
    if (txn != s->batch) hk_store_read_end(s, txn);
}

/* ---- admin writes ---------------------------------------------------------------- */

int hk_batch_admin_begin(hk_store_t *s, MDB_txn **txn)
{
    if (s->batch) hk_outbox_batch_commit(s);
    s->admin_gen++;
    int rc = mdb_txn_begin(s->env, NULL, 0, txn);
    return rc ? hk_store_mdb_err(rc, "write_begin") : 0;
}

int hk_batch_admin_end(hk_store_t *s, MDB_txn *txn, int err, const char *op)
{
    s->admin_gen++;
    if (err) {
        mdb_txn_abort(txn);
        return err;
    }
    int rc = mdb_txn_commit(txn);
    if (rc) return hk_store_mdb_err(rc, op);
    /* The env commits without syncing (MDB_NOSYNC, for the outbox's group
     * commit): an admin write pays for its own sync, which also covers any
     * batch committed before it. */
    return hk_store_sync(s);
}

int hk_store_sync(hk_store_t *s)
{
    int rc = mdb_env_sync(s->env, 1);
    return rc ? hk_store_mdb_err(rc, "sync") : 0;
}
