/* events.c -- seen event ids and the answer first given for each, for idempotent triggers */
#include "store/events.h"
#include "core/error.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

/* An event id recorded from the loop, to be written later; until then
 * (its write reaped) reads find it here. */
typedef struct {
    hk_link_t link; /* s->events_pending */
    int64_t time;
    size_t len;
    char *event_id; /* in data, after the answer */
    uint8_t data[];
} event_arg_t;

static int pending_get(hk_store_t *s, const char *event_id, int64_t *time, uint8_t **data,
                       size_t *len)
{
    /* Newest first: a re-recorded id answers with its latest record. */
    for (hk_link_t *l = s->events_pending.prev; l != &s->events_pending; l = l->prev) {
        event_arg_t *p = hk_container_of(l, event_arg_t, link);
        if (strcmp(p->event_id, event_id) != 0) continue;
        uint8_t *copy = malloc(p->len ? p->len : 1);
        if (!copy) return HK_ENOMEM;
        memcpy(copy, p->data, p->len);
        *time = p->time;
        *data = copy;
        *len = p->len;
        return 0;
    }
    return HK_ENOTFOUND;
}

int hk_outbox_event_get(hk_store_t *s, const char *event_id, int64_t *time, uint8_t **data,
                        size_t *len)
{
    size_t idlen = event_id ? strlen(event_id) : 0;
    if (idlen == 0 || idlen + 8 > s->max_key) return HK_ENOTFOUND;
    MDB_txn *txn;
    int err;
    if (!hk_batch_in_write(s) && !hk_link_empty(&s->events_pending) &&
        (err = pending_get(s, event_id, time, data, len)) != HK_ENOTFOUND)
        return err;
    if ((err = hk_batch_read_begin(s, &txn))) return err;
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

static int event_put_write(hk_store_t *s, const char *event_id, int64_t time, const uint8_t *data,
                           size_t len)
{
    size_t idlen = strlen(event_id);
    uint8_t tk[HK_STORE_KEY_BUF];
    MDB_txn *txn;
    int rc, err;
    if ((err = hk_batch_txn(s, &txn))) return err;
    if ((err = hk_batch_room(s, HK_ROOM_TRIGGER, 2 * idlen + len + 64))) return err;

    MDB_val k = hk_store_val(event_id, idlen), v;
    rc = mdb_get(txn, s->events, &k, &v);
    if (rc == 0 && v.mv_size >= 8 && hk_store_be64_get(v.mv_data) != hk_store_time_key(time)) {
        memcpy(tk, v.mv_data, 8);
        memcpy(tk + 8, event_id, idlen);
        MDB_val old = hk_store_val(tk, 8 + idlen);
        if ((rc = mdb_del(txn, s->event_times, &old, NULL)) && rc != MDB_NOTFOUND)
            return hk_store_mdb_err(rc, "event_times_del");
    } else if (rc && rc != MDB_NOTFOUND) {
        return hk_store_mdb_err(rc, "events_get");
    }
    v = hk_store_val(NULL, 8 + len);
    if ((rc = mdb_put(txn, s->events, &k, &v, MDB_RESERVE)))
        return hk_store_mdb_err(rc, "events_put");
    hk_store_be64_put(v.mv_data, hk_store_time_key(time));
    if (len) memcpy((uint8_t *)v.mv_data + 8, data, len);

    hk_store_be64_put(tk, hk_store_time_key(time));
    memcpy(tk + 8, event_id, idlen);
    MDB_val tkey = hk_store_val(tk, 8 + idlen), empty = hk_store_val(NULL, 0);
    if ((rc = mdb_put(txn, s->event_times, &tkey, &empty, 0)))
        return hk_store_mdb_err(rc, "event_times_put");
    return 0;
}

static int event_deferred(hk_store_t *s, void *arg)
{
    event_arg_t *p = arg;
    return event_put_write(s, p->event_id, p->time, p->data, p->len);
}

static void event_written(hk_store_t *s, void *arg, int err)
{
    (void)s, (void)err;
    event_arg_t *p = arg;
    hk_link_del(&p->link);
}

int hk_outbox_event_put(hk_store_t *s, const char *event_id, int64_t time, const uint8_t *data,
                        size_t len)
{
    size_t idlen = event_id ? strlen(event_id) : 0;
    if (idlen == 0 || idlen + 8 > s->max_key || (len && !data)) return HK_EINVAL;
    if (hk_batch_in_write(s)) return event_put_write(s, event_id, time, data, len);
    event_arg_t *p = malloc(sizeof *p + len + idlen + 1);
    if (!p) return HK_ENOMEM;
    p->time = time;
    p->len = len;
    if (len) memcpy(p->data, data, len);
    p->event_id = (char *)p->data + len;
    memcpy(p->event_id, event_id, idlen + 1);
    int err = hk_batch_defer(s, event_deferred, p, sizeof *p + len + idlen + 1, event_written,
                             "event_put");
    /* Callbacks run from reaps only, never from here: linking now is in time. */
    if (!err) hk_link_add(&s->events_pending, &p->link);
    return err;
}
