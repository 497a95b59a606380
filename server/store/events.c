/* events.c -- seen event ids and the answer first given for each, for idempotent triggers */
#include "store/events.h"
#include "core/error.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

int hk_outbox_event_get(hk_store_t *s, const char *event_id, int64_t *time, uint8_t **data,
                        size_t *len)
{
    size_t idlen = event_id ? strlen(event_id) : 0;
    if (idlen == 0 || idlen + 8 > s->max_key) return HK_ENOTFOUND;
    MDB_txn *txn;
    int err = hk_batch_read_begin(s, &txn);
    if (err) return err;
    MDB_val k = hk_store_val(event_id, idlen), v;
    int rc = mdb_get(txn, s->events, &k, &v);
    if (rc) {
        err = hk_store_mdb_err(rc, "events_get");
    } else if (v.mv_size < 8) {
        err = HK_ECORRUPT;
    } else {
        size_t n = v.mv_size - 8;
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy) {
            err = HK_ENOMEM;
        } else {
            memcpy(copy, (const uint8_t *)v.mv_data + 8, n);
            *time = (int64_t)hk_store_be64_get(v.mv_data);
            *data = copy;
            *len = n;
        }
    }
    hk_batch_read_end(s, txn);
    return err;
}

int hk_outbox_event_put(hk_store_t *s, const char *event_id, int64_t time, const uint8_t *data,
                        size_t len)
{
    size_t idlen = event_id ? strlen(event_id) : 0;
    uint8_t tk[HK_STORE_KEY_BUF];
    MDB_txn *txn;
    int rc, err;
    if (idlen == 0 || idlen + 8 > s->max_key || (len && !data)) return HK_EINVAL;
    if ((err = hk_batch_txn(s, &txn))) return err;

    MDB_val k = hk_store_val(event_id, idlen), v;
    rc = mdb_get(txn, s->events, &k, &v);
    if (rc == 0 && v.mv_size >= 8 && hk_store_be64_get(v.mv_data) != hk_store_time_key(time)) {
        memcpy(tk, v.mv_data, 8);
        memcpy(tk + 8, event_id, idlen);
        MDB_val old = hk_store_val(tk, 8 + idlen);
        if ((rc = mdb_del(txn, s->event_times, &old, NULL)) && rc != MDB_NOTFOUND)
            return hk_batch_fail(s, hk_store_mdb_err(rc, "event_times_del"));
    } else if (rc && rc != MDB_NOTFOUND) {
        return hk_batch_fail(s, hk_store_mdb_err(rc, "events_get"));
    }
    v = hk_store_val(NULL, 8 + len);
    if ((rc = mdb_put(txn, s->events, &k, &v, MDB_RESERVE)))
        return hk_batch_fail(s, hk_store_mdb_err(rc, "events_put"));
    hk_store_be64_put(v.mv_data, hk_store_time_key(time));
    if (len) memcpy((uint8_t *)v.mv_data + 8, data, len);

    hk_store_be64_put(tk, hk_store_time_key(time));
    memcpy(tk + 8, event_id, idlen);
    MDB_val tkey = hk_store_val(tk, 8 + idlen), empty = hk_store_val(NULL, 0);
    if ((rc = mdb_put(txn, s->event_times, &tkey, &empty, 0)))
        return hk_batch_fail(s, hk_store_mdb_err(rc, "event_times_put"));
    return 0;
}
