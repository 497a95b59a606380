/* deliveries.c -- deliveries in the store: records, bodies, attempts, their indexes */
#include "store/deliveries.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

/* The layout of the outbox tables is in store_impl.h. */
#define CHUNK HK_STORE_CHUNK

uint64_t hk_outbox_delivery_id(hk_store_t *s)
{
    return s->next_delivery_id++;
}

/* ---- records that do not decode ---------------------------------------------------- */

static int decodes(const MDB_val *v, uint64_t id)
{
    hk_delivery_t *d = hk_delivery_rec_decode(v, NULL);
    int ok = d && d->id == id;
    if (d) hookd__v1__delivery__free_unpacked(d, NULL);
    return ok;
}

/* Sets aside delivery id's record, and its body, when the record still does
 * not decode (a deferred write may find it rewritten or pruned). */
static int quarantine_delivery(hk_store_t *s, MDB_txn *txn, uint64_t id, const char *why)
{
    uint8_t k[8];
    hk_store_be64_put(k, id);
    MDB_val key = hk_store_val(k, 8), v;
    int rc = mdb_get(txn, s->deliveries, &key, &v);
    if (rc) return rc == MDB_NOTFOUND ? 0 : hk_store_mdb_err(rc, "deliveries_get");
    if (decodes(&v, id)) return 0;
    /* A body is shared by the deliveries of one event (refs counted): when the
     * record's head still names it, this delivery's reference goes; the body
     * itself stays for the others. */
    const uint8_t *p = v.mv_data;
    uint64_t body =
        v.mv_size >= HK_DELIVERY_HEAD && p[0] == HK_DELIVERY_V2 ? hk_store_be64_get(p + 1) : 0;
    int err = hk_store_quarantine(s, txn, s->deliveries, HK_QUARANTINE_DELIVERY, k, 8, why);
    if (!err && body) err = hk_delivery_body_unref(s, txn, body);
    return err == HK_ENOTFOUND ? 0 : err;
}

static int quarantine_deferred(hk_store_t *s, void *arg)
{
    MDB_txn *txn;
    int err = hk_batch_txn(s, &txn);
    return err ? err : quarantine_delivery(s, txn, *(uint64_t *)arg, "found by a read");
}

/* A record that does not decode reads as gone, and is set aside: inside a
 * write at once, from a read by a write of its own nobody waits for. So a
 * bad record stops nothing: a walk passes it, a restart resumes the rest. */
static int corrupt_delivery(hk_store_t *s, MDB_txn *txn, uint64_t id)
{
    hk_log(HK_LOG_ERROR, "store_corrupt", "delivery=%llu what=record", (unsigned long long)id);
    if (hk_batch_in_write(s) && txn == s->wtxn) {
        int err = quarantine_delivery(s, txn, id, "does not decode");
        return err ? err : HK_ENOTFOUND;
    }
    uint64_t *p = malloc(sizeof *p);
    if (p) {
        *p = id;
        hk_batch_defer(s, quarantine_deferred, p, sizeof *p, NULL, "quarantine");
    }
    return HK_ENOTFOUND;
}

/* ---- records -------------------------------------------------------------------- */

hk_delivery_t *hk_delivery_rec_decode(const MDB_val *v, uint64_t *body)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < HK_DELIVERY_HEAD || p[0] != HK_DELIVERY_V2) return NULL;
    if (body) *body = hk_store_be64_get(p + 1);
    return hookd__v1__delivery__unpack(NULL, v->mv_size - HK_DELIVERY_HEAD, p + HK_DELIVERY_HEAD);
}

int hk_delivery_rec_get(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_delivery_t **out,
                        uint64_t *body)
{
    uint8_t k[8];
    hk_store_be64_put(k, id);
    MDB_val key = hk_store_val(k, 8), v;
    int rc = mdb_get(txn, s->deliveries, &key, &v);
    if (rc) return hk_store_mdb_err(rc, "deliveries_get");
    hk_delivery_t *d = hk_delivery_rec_decode(&v, body);
    if (!d || d->id != id) {
        if (d) hookd__v1__delivery__free_unpacked(d, NULL);
        return corrupt_delivery(s, txn, id);
    }
    *out = d;
    return 0;
}

/* Writes d without its attempts and payload. */
int hk_delivery_rec_put(hk_store_t *s, MDB_txn *txn, const hk_delivery_t *d, uint64_t body,
                        unsigned flags)
{
    hk_delivery_t bare = *d;
    bare.n_attempts = 0;
    bare.attempts = NULL;
    bare.payload.len = 0;
    bare.payload.data = NULL;
    uint8_t k[8];
    hk_store_be64_put(k, d->id);
    size_t n = hookd__v1__delivery__get_packed_size(&bare);
    MDB_val key = hk_store_val(k, 8), v = hk_store_val(NULL, HK_DELIVERY_HEAD + n);
    int rc = mdb_put(txn, s->deliveries, &key, &v, flags | MDB_RESERVE);
    /* Not past the last key after all (a synchronous delivery is written
     * when its attempt ends, after younger ones): an ordinary insert. */
    if (rc == MDB_KEYEXIST && (flags & MDB_APPEND))
        rc = mdb_put(txn, s->deliveries, &key, &v, (flags & ~MDB_APPEND) | MDB_RESERVE);
    if (rc == MDB_KEYEXIST) {
        hk_log(HK_LOG_ERROR, "store_corrupt", "delivery=%llu what=id_reused",
               (unsigned long long)d->id);
        return HK_ECORRUPT;
    }
    if (rc) return hk_store_mdb_err(rc, "deliveries_put");
    uint8_t *p = v.mv_data;
    p[0] = HK_DELIVERY_V2;
    hk_store_be64_put(p + 1, body);
    hookd__v1__delivery__pack(&bare, p + HK_DELIVERY_HEAD);
    return 0;
}

/* ---- bodies ---------------------------------------------------------------------- */

/* Writes the body of delivery d, or names the one this batch wrote last
 * when it holds the same bytes (the other deliveries of the same event):
 * *key is the body key the record is to name. */
static int body_put(hk_store_t *s, MDB_txn *txn, uint64_t id, const uint8_t *body, size_t body_len,
                    size_t data_len, uint64_t *key_out)
{
    uint8_t k[8];
    MDB_val key, v;
    int rc;
    if (s->w_body) {
        hk_store_be64_put(k, s->w_body);
        key = hk_store_val(k, 8);
        rc = mdb_get(txn, s->bodies, &key, &v);
        const uint8_t *p = v.mv_data;
        if (rc == 0 && v.mv_size == HK_BODY_HEAD + body_len &&
            hk_store_be32_get(p + 4) == data_len && memcmp(p + HK_BODY_HEAD, body, body_len) == 0) {
            /* Only refs changes: the value is rewritten where it is. */
            uint32_t refs = hk_store_be32_get(p);
            MDB_val nv = hk_store_val(NULL, v.mv_size);
            if ((rc = mdb_put(txn, s->bodies, &key, &nv, MDB_RESERVE)))
                return hk_store_mdb_err(rc, "bodies_put");
            /* p may have moved with the put: the body is the caller's. */
            hk_store_be32_put(nv.mv_data, refs + 1);
            hk_store_be32_put((uint8_t *)nv.mv_data + 4, (uint32_t)data_len);
            if (body_len) memcpy((uint8_t *)nv.mv_data + HK_BODY_HEAD, body, body_len);
            *key_out = s->w_body;
            return 0;
        }
        if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "bodies_get");
    }
    hk_store_be64_put(k, id);
    key = hk_store_val(k, 8);
    v = hk_store_val(NULL, HK_BODY_HEAD + body_len);
    rc = mdb_put(txn, s->bodies, &key, &v, MDB_RESERVE | MDB_APPEND);
    if (rc == MDB_KEYEXIST) rc = mdb_put(txn, s->bodies, &key, &v, MDB_RESERVE);
    if (rc) return hk_store_mdb_err(rc, "bodies_put");
    hk_store_be32_put(v.mv_data, 1);
    hk_store_be32_put((uint8_t *)v.mv_data + 4, (uint32_t)data_len);
    if (body_len) memcpy((uint8_t *)v.mv_data + HK_BODY_HEAD, body, body_len);
    s->w_body = id;
    *key_out = id;
    return 0;
}

int hk_delivery_body_unref(hk_store_t *s, MDB_txn *txn, uint64_t body)
{
    uint8_t k[8];
    hk_store_be64_put(k, body);
    MDB_val key = hk_store_val(k, 8), v;
    int rc = mdb_get(txn, s->bodies, &key, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return hk_store_mdb_err(rc, "bodies_get");
    uint32_t refs = v.mv_size >= HK_BODY_HEAD ? hk_store_be32_get(v.mv_data) : 0;
    if (refs <= 1) {
        if ((rc = mdb_del(txn, s->bodies, &key, NULL)) && rc != MDB_NOTFOUND)
            return hk_store_mdb_err(rc, "bodies_del");
        return 0;
    }
    /* A copy: the put may move what v points at. */
    size_t n = v.mv_size;
    uint8_t *copy = malloc(n);
    if (!copy) return HK_ENOMEM;
    memcpy(copy, v.mv_data, n);
    hk_store_be32_put(copy, refs - 1);
    MDB_val nv = hk_store_val(copy, n);
    rc = mdb_put(txn, s->bodies, &key, &nv, 0);
    free(copy);
    return rc ? hk_store_mdb_err(rc, "bodies_put") : 0;
}

static int attempt_put(hk_store_t *s, MDB_txn *txn, uint64_t id, uint32_t seq,
                       const hk_attempt_t *a)
{
    uint8_t k[12];
    hk_store_be64_put(k, id);
    hk_store_be32_put(k + 8, seq);
    size_t n = hookd__v1__attempt__get_packed_size(a);
    MDB_val key = hk_store_val(k, 12), v = hk_store_val(NULL, n);
    /* An all-default attempt packs to nothing: an empty value then. */
    int rc = mdb_put(txn, s->attempts, &key, &v, n ? MDB_RESERVE : 0);
    if (rc) return hk_store_mdb_err(rc, "attempts_put");
    if (n) hookd__v1__attempt__pack(a, v.mv_data);
    return 0;
}

/* Collects up to max keys' second halves under the 8-byte prefix a of an
 * index (a | b keys), b > after; *done when the range ended. */
/* ---- deliveries ------------------------------------------------------------------ */

void hk_delivery_free(hk_delivery_t *d)
{
    if (d) hookd__v1__delivery__free_unpacked(d, NULL);
}

static int delivery_put_in(hk_store_t *s, MDB_txn *txn, const hk_delivery_t *d, const uint8_t *body,
                           size_t body_len, size_t data_len, const hk_attempt_t *attempt,
                           int active)
{
    uint64_t bkey = 0;
    int err, pending = d->state == HK_DELIVERY_PENDING;
    /* New ids are (nearly always) the largest yet: appended, the insert
     * skips the search and fills pages whole instead of splitting them in
     * half, so a batch dirties fewer pages. */
    if ((err = body_put(s, txn, d->id, body, body_len, data_len, &bkey))) return err;
    if ((err = hk_delivery_rec_put(s, txn, d, bkey, MDB_NOOVERWRITE | MDB_APPEND))) return err;
    if ((err = hk_store_pending_put(s, txn, d->webhook_id, d->id, pending, 1, "by_webhook_put")))
        return err;
    if (attempt && (err = attempt_put(s, txn, d->id, 0, attempt))) return err;
    if (pending && active &&
        (err = hk_store_idx_put(txn, s->due, hk_store_time_key(d->next_attempt_time), d->id,
                                "due_put")))
        return err;
    return 0;
}

static int delivery_put_write(hk_store_t *s, const hk_delivery_t *d, const uint8_t *body,
                              size_t body_len, size_t data_len, const hk_attempt_t *attempt)
{
    MDB_txn *txn;
    int active = 0, err;
    if (d->id >= s->w_next_delivery) return HK_EINVAL; /* not handed out (yet) */
    if ((err = hk_batch_txn(s, &txn))) return err;
    if ((err = hk_batch_room(s, HK_ROOM_TRIGGER, body_len + 512))) return err;
    if (d->state == HK_DELIVERY_PENDING) {
        /* A webhook deleted since it matched has nothing to wait for. */
        err = hk_store_webhook_active_in(s, txn, d->webhook_id, &active);
        if (err) return err;
    }
    return delivery_put_in(s, txn, d, body, body_len, data_len, attempt, active);
}

/* A delivery put from the loop, packed to be written later. */
typedef struct {
    uint8_t *delivery, *attempt, *body;
    size_t delivery_len, attempt_len, body_len, data_len;
} put_arg_t;

static int put_deferred(hk_store_t *s, void *arg)
{
    put_arg_t *p = arg;
    hk_delivery_t *d = hookd__v1__delivery__unpack(NULL, p->delivery_len, p->delivery);
    hk_attempt_t *a =
        p->attempt ? hookd__v1__attempt__unpack(NULL, p->attempt_len, p->attempt) : NULL;
    int err = !d || (p->attempt && !a)
                  ? HK_ENOMEM
                  : delivery_put_write(s, d, p->body, p->body_len, p->data_len, a);
    if (d) hookd__v1__delivery__free_unpacked(d, NULL);
    if (a) hookd__v1__attempt__free_unpacked(a, NULL);
    return err; /* p stays whole: a write whose batch fails runs again */
}

static void put_done(hk_store_t *s, void *arg, int err)
{
    (void)s, (void)err;
    put_arg_t *p = arg;
    free(p->delivery);
    free(p->attempt);
    free(p->body);
}

int hk_outbox_delivery_put(hk_store_t *s, const hk_delivery_t *d, const uint8_t *body,
                           size_t body_len, size_t data_len, const hk_attempt_t *attempt)
{
    if (!d || d->id == 0 || d->webhook_id == 0 || d->state < HK_DELIVERY_PENDING ||
        d->state > HK_DELIVERY_CANCELLED || (body_len && !body) || data_len + 1 > body_len ||
        body_len > UINT32_MAX - 4 || (attempt && d->attempt_count != 1))
        return HK_EINVAL;
    if (hk_batch_in_write(s)) return delivery_put_write(s, d, body, body_len, data_len, attempt);
    if (d->id >= s->next_delivery_id) return HK_EINVAL;

    put_arg_t *p = calloc(1, sizeof *p);
    if (!p) return HK_ENOMEM;
    p->delivery_len = hookd__v1__delivery__get_packed_size(d);
    p->attempt_len = attempt ? hookd__v1__attempt__get_packed_size(attempt) : 0;
    p->body_len = body_len;
    p->data_len = data_len;
    p->delivery = malloc(p->delivery_len ? p->delivery_len : 1);
    p->attempt = attempt ? malloc(p->attempt_len ? p->attempt_len : 1) : NULL;
    p->body = malloc(body_len ? body_len : 1);
    if (!p->delivery || (attempt && !p->attempt) || !p->body) {
        free(p->delivery);
        free(p->attempt);
        free(p->body);
        free(p);
        return HK_ENOMEM;
    }
    hookd__v1__delivery__pack(d, p->delivery);
    if (attempt) hookd__v1__attempt__pack(attempt, p->attempt);
    if (body_len) memcpy(p->body, body, body_len);
    size_t bytes = sizeof *p + p->delivery_len + p->attempt_len + body_len;
    return hk_batch_defer(s, put_deferred, p, bytes, put_done, "delivery_put");
}

static int attempts_load(hk_store_t *s, MDB_txn *txn, hk_delivery_t *d)
{
    MDB_cursor *cur;
    uint8_t k[12];
    int rc, err = 0;
    size_t cap = d->attempt_count ? d->attempt_count : 4;
    d->attempts = calloc(cap, sizeof *d->attempts);
    if (!d->attempts) return HK_ENOMEM;
    if ((rc = mdb_cursor_open(txn, s->attempts, &cur))) return hk_store_mdb_err(rc, "cursor_open");
    hk_store_be64_put(k, d->id);
    hk_store_be32_put(k + 8, 0);
    MDB_val key = hk_store_val(k, 12), v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 12 || hk_store_be64_get(key.mv_data) != d->id) break;
        if (d->n_attempts == cap) {
            hk_attempt_t **a = realloc(d->attempts, 2 * cap * sizeof *a);
            if (!a) {
                err = HK_ENOMEM;
                break;
            }
            d->attempts = a;
            cap *= 2;
        }
        hk_attempt_t *a = hookd__v1__attempt__unpack(NULL, v.mv_size, v.mv_data);
        if (!a) { /* passed by: the delivery and its other attempts still read */
            hk_log(HK_LOG_ERROR, "store_corrupt", "delivery=%llu what=attempt",
                   (unsigned long long)d->id);
            continue;
        }
        d->attempts[d->n_attempts++] = a;
    }
    if (!err && rc && rc != MDB_NOTFOUND) err = hk_store_mdb_err(rc, "cursor_get");
    mdb_cursor_close(cur);
    return err;
}

/* The body of delivery id, whose record names body key bkey (0: read the
 * record for it). */
static int body_in(hk_store_t *s, MDB_txn *txn, uint64_t id, uint64_t bkey, const uint8_t **body,
                   size_t *len, size_t *data_len)
{
    *body = NULL; /* defined on the error paths too */
    *len = *data_len = 0;
    uint8_t k[8];
    MDB_val key, v;
    int rc;
    if (!bkey) {
        hk_store_be64_put(k, id);
        key = hk_store_val(k, 8);
        if ((rc = mdb_get(txn, s->deliveries, &key, &v)))
            return hk_store_mdb_err(rc, "deliveries_get");
        const uint8_t *p = v.mv_data;
        if (v.mv_size < HK_DELIVERY_HEAD || p[0] != HK_DELIVERY_V2) return HK_ECORRUPT;
        bkey = hk_store_be64_get(p + 1);
    }
    hk_store_be64_put(k, bkey);
    key = hk_store_val(k, 8);
    if ((rc = mdb_get(txn, s->bodies, &key, &v))) return hk_store_mdb_err(rc, "bodies_get");
    if (v.mv_size < HK_BODY_HEAD) return HK_ECORRUPT;
    *data_len = hk_store_be32_get((const uint8_t *)v.mv_data + 4);
    *body = (const uint8_t *)v.mv_data + HK_BODY_HEAD;
    *len = v.mv_size - HK_BODY_HEAD;
    if (*data_len + 1 > *len) return HK_ECORRUPT;
    return 0;
}

int hk_outbox_delivery_get(hk_store_t *s, uint64_t id, int details, hk_delivery_t **out)
{
    MDB_txn *txn;
    hk_delivery_t *d = NULL;
    uint64_t bkey = 0;
    int err = hk_batch_read_begin(s, &txn);
    if (err) return err;
    if ((err = hk_delivery_rec_get(s, txn, id, &d, &bkey))) goto out;
    if (details) {
        const uint8_t *body;
        size_t len, data_len;
        if ((err = attempts_load(s, txn, d))) goto out;
        if ((err = body_in(s, txn, id, bkey, &body, &len, &data_len))) goto out;
        err = HK_ENOMEM;
        if (!(d->payload.data = malloc(data_len ? data_len : 1))) goto out;
        /* The body ends "<payload>}". */
        memcpy(d->payload.data, body + len - 1 - data_len, data_len);
        d->payload.len = data_len;
        err = 0;
    }
out:
    hk_batch_read_end(s, txn);
    if (err) {
        hk_delivery_free(d);
        return err;
    }
    *out = d;
    return 0;
}

int hk_outbox_body_get(hk_store_t *s, uint64_t id, uint8_t **out, size_t *outlen, size_t *data_len)
{
    MDB_txn *txn;
    const uint8_t *body;
    size_t len;
    int err = hk_batch_read_begin(s, &txn);
    if (err) return err;
    if ((err = body_in(s, txn, id, 0, &body, &len, data_len)) == 0) {
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) {
            err = HK_ENOMEM;
        } else {
            memcpy(copy, body, len);
            *out = copy;
            *outlen = len;
        }
    }
    hk_batch_read_end(s, txn);
    return err;
}

/* Positions cur on the last key < (prefix | before) (prefix unused when
 * plen is 0: plain u64 keys) and reads it. */
static int seek_before(MDB_cursor *cur, uint8_t *k, size_t klen, MDB_val *key, MDB_val *v)
{
    *key = hk_store_val(k, klen);
    int rc = mdb_cursor_get(cur, key, v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) return mdb_cursor_get(cur, key, v, MDB_LAST);
    if (rc) return rc;
    return mdb_cursor_get(cur, key, v, MDB_PREV);
}

typedef struct {
    hk_delivery_t *items[CHUNK];
    size_t n;
} dchunk_t;

/* Reads the next chunk of the walk (newest first) into c. */
static int list_chunk(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, uint64_t *before, int state,
                      size_t *budget, dchunk_t *c, int *done)
{
    MDB_cursor *cur;
    uint8_t k[16];
    size_t klen;
    MDB_val key, v;
    int rc, err = 0;
    MDB_dbi dbi = webhook_id ? s->by_webhook : s->deliveries;
    *done = 0;
    if (*before <= 1) {
        *done = 1;
        return 0;
    }
    if ((rc = mdb_cursor_open(txn, dbi, &cur))) return hk_store_mdb_err(rc, "cursor_open");
    if (webhook_id) {
        hk_store_key2(k, webhook_id, *before);
        klen = 16;
    } else {
        hk_store_be64_put(k, *before);
        klen = 8;
    }
    for (rc = seek_before(cur, k, klen, &key, &v); rc == 0 && c->n < CHUNK && *budget;
         rc = mdb_cursor_get(cur, &key, &v, MDB_PREV)) {
        uint64_t id;
        if (webhook_id) {
            if (key.mv_size != 16 || hk_store_be64_get(key.mv_data) != webhook_id) {
                rc = MDB_NOTFOUND;
                break;
            }
            id = hk_store_be64_get((const uint8_t *)key.mv_data + 8);
        } else {
            if (key.mv_size != 8) continue; /* not a delivery's key: passed by */
            id = hk_store_be64_get(key.mv_data);
        }
        (*budget)--;
        *before = id;
        hk_delivery_t *d;
        err = hk_delivery_rec_get(s, txn, id, &d, NULL);
        if (err == HK_ENOTFOUND) { /* pruned under a stale index entry */
            err = 0;
            continue;
        }
        if (err) break;
        if (state && (int)d->state != state) {
            hk_delivery_free(d);
            continue;
        }
        c->items[c->n++] = d;
    }
    if (!err && rc == MDB_NOTFOUND)
        *done = 1;
    else if (!err && rc)
        err = hk_store_mdb_err(rc, "cursor_get");
    mdb_cursor_close(cur);
    return err;
}

int hk_outbox_delivery_list(hk_store_t *s, uint64_t webhook_id, uint64_t before_id, int state,
                            size_t max_scan, hk_delivery_visit_fn visit, void *arg,
                            uint64_t *resume)
{
    uint64_t before = before_id ? before_id : UINT64_MAX;
    size_t budget = max_scan ? max_scan : SIZE_MAX;
    int done = 0, err = 0;
    *resume = 0;
    while (!done) {
        dchunk_t c = {.n = 0};
        MDB_txn *txn;
        if ((err = hk_batch_read_begin(s, &txn))) return err;
        err = list_chunk(s, txn, webhook_id, &before, state, &budget, &c, &done);
        hk_batch_read_end(s, txn);
        size_t i = 0;
        for (; !err && i < c.n; i++) {
            if (visit(c.items[i], arg)) {
                for (i++; i < c.n; i++)
                    hk_delivery_free(c.items[i]);
                return 0;
            }
        }
        for (; i < c.n; i++)
            hk_delivery_free(c.items[i]);
        if (err) return err;
        if (!done && budget == 0) {
            *resume = before;
            return 0;
        }
    }
    return 0;
}

static int attempt_record_write(hk_store_t *s, uint64_t id, const hk_attempt_t *a, int state,
                                int64_t next_time, int *webhook_active)
{
    MDB_txn *txn;
    hk_delivery_t *d = NULL;
    uint64_t bkey = 0;
    int active = 0, exists, err;
    if ((err = hk_batch_txn(s, &txn))) return err;
    if ((err = hk_delivery_rec_get(s, txn, id, &d, &bkey))) return err;
    err = hk_store_webhook_active_in(s, txn, d->webhook_id, &active);
    if (err && err != HK_ENOTFOUND) goto out;
    exists = err == 0;
    if (!exists) active = 0;

    /* The due entry may be back (the webhook was re-activated while the
     * attempt ran): the new one replaces it. */
    if ((err =
             hk_store_idx_del(txn, s->due, hk_store_time_key(d->next_attempt_time), id, "due_del")))
        goto out;
    if ((err = attempt_put(s, txn, id, d->attempt_count, a))) goto out;
    d->attempt_count++;
    if (d->state == HK_DELIVERY_PENDING) {
        d->state = exists ? state : HK_DELIVERY_CANCELLED;
        if (d->state == HK_DELIVERY_PENDING) {
            d->next_attempt_time = next_time;
            if (active &&
                (err = hk_store_idx_put(txn, s->due, hk_store_time_key(next_time), id, "due_put")))
                goto out;
        } else {
            d->next_attempt_time = 0;
            if ((err = hk_store_pending_put(s, txn, d->webhook_id, id, 0, 0, "by_webhook_put")))
                goto out;
        }
    }
    err = hk_delivery_rec_put(s, txn, d, bkey, 0);
out:
    hk_delivery_free(d);
    if (!err && webhook_active) *webhook_active = active;
    /* A failure after the first write leaves half an attempt in the
     * operation's txn: the writer throws that away whole. */
    return err;
}

/* An attempt recorded from the loop, packed to be written later. */
typedef struct {
    uint64_t id;
    int state;
    int64_t next_time;
    size_t len;
    uint8_t packed[]; /* the Attempt */
} attempt_arg_t;

static int attempt_deferred(hk_store_t *s, void *arg)
{
    attempt_arg_t *p = arg;
    hk_attempt_t *a = hookd__v1__attempt__unpack(NULL, p->len, p->packed);
    if (!a) return HK_ENOMEM;
    int err = attempt_record_write(s, p->id, a, p->state, p->next_time, NULL);
    hookd__v1__attempt__free_unpacked(a, NULL);
    return err;
}

static void attempt_recorded(hk_store_t *s, void *arg, int err)
{
    (void)err;
    hk_batch_release(s, ((attempt_arg_t *)arg)->id);
}

/* Whether webhook id exists and is active, as the loop reads it now. */
static int webhook_active_now(hk_store_t *s, uint64_t id, int *active)
{
    MDB_txn *txn;
    uint8_t idb[8];
    const uint8_t *pb, *sealed;
    size_t pblen, sealedlen;
    hk_webhook_t *wh = NULL;
    int err = hk_store_read_begin(s, &txn);
    if (err) return err;
    hk_store_be64_put(idb, id);
    MDB_val k = hk_store_val(idb, 8), v;
    int rc = mdb_get(txn, s->webhooks, &k, &v);
    if (rc) {
        err = hk_store_mdb_err(rc, "webhooks_get");
    } else if (!(err = hk_record_parse(&v, &pb, &pblen, &sealed, &sealedlen)) &&
               !(err = hk_record_unpack(id, pb, pblen, &wh))) {
        *active = wh->active;
        hookd__v1__webhook__free_unpacked(wh, NULL);
    }
    hk_store_read_end(s, txn);
    return err;
}

int hk_outbox_attempt_record(hk_store_t *s, uint64_t id, const hk_attempt_t *a, int state,
                             int64_t next_time, int *webhook_active)
{
    if (state < HK_DELIVERY_PENDING || state > HK_DELIVERY_CANCELLED) return HK_EINVAL;
    if (hk_batch_in_write(s))
        return attempt_record_write(s, id, a, state, next_time, webhook_active);

    if (webhook_active) {
        hk_delivery_t *d = NULL;
        int active = 0;
        *webhook_active = 0;
        if (hk_outbox_delivery_get(s, id, 0, &d) == 0 &&
            webhook_active_now(s, d->webhook_id, &active) == 0)
            *webhook_active = active;
        hk_delivery_free(d);
    }
    size_t len = hookd__v1__attempt__get_packed_size(a);
    attempt_arg_t *p = malloc(sizeof *p + (len ? len : 1));
    if (!p) return HK_ENOMEM;
    p->id = id;
    p->state = state;
    p->next_time = next_time;
    p->len = len;
    hookd__v1__attempt__pack(a, p->packed);
    /* Until it commits, the loop's reads still show the old due entry. */
    if (hk_batch_hold(s, id)) {
        free(p);
        return HK_ENOMEM;
    }
    int err =
        hk_batch_defer(s, attempt_deferred, p, sizeof *p + len, attempt_recorded, "attempt_record");
    if (err) hk_batch_release(s, id);
    return err;
}

int hk_outbox_stats(hk_store_t *s, hk_outbox_stats_t *out)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = 0, err = hk_batch_read_begin(s, &txn);
    if (err) return err;
    if (!(rc = mdb_stat(txn, s->deliveries, &st))) out->deliveries = st.ms_entries;
    out->pending = atomic_load(&s->a_pending);
    if (!rc && !(rc = mdb_stat(txn, s->due, &st))) out->due = st.ms_entries;
    if (!rc && !(rc = mdb_stat(txn, s->events, &st))) out->events = st.ms_entries;
    hk_batch_read_end(s, txn);
    return rc ? hk_store_mdb_err(rc, "stat") : 0;
}

/* ---- the newest attempt, for the delivery log ------------------------------------------ */

int hk_outbox_attempt_last(hk_store_t *s, hk_delivery_t *d)
{
    MDB_txn *txn;
    uint8_t k[12];
    MDB_val key, v;
    if (d->attempt_count == 0) return 0;
    int err = hk_batch_read_begin(s, &txn);
    if (err) return err;
    hk_store_be64_put(k, d->id);
    hk_store_be32_put(k + 8, d->attempt_count - 1);
    key = hk_store_val(k, 12);
    int rc = mdb_get(txn, s->attempts, &key, &v);
    hk_attempt_t *a = NULL;
    if (rc == MDB_NOTFOUND) {
        err = 0; /* pruned, or a record older than its attempts */
    } else if (rc) {
        err = hk_store_mdb_err(rc, "attempts_get");
    } else if (!(a = hookd__v1__attempt__unpack(NULL, v.mv_size, v.mv_data))) {
        /* The delivery still lists, without its last attempt's fields. */
        hk_log(HK_LOG_ERROR, "store_corrupt", "delivery=%llu what=attempt",
               (unsigned long long)d->id);
        err = 0;
    }
    hk_batch_read_end(s, txn);
    if (!a) return err;
    char *error = strdup(a->error ? a->error : "");
    if (!error) {
        hookd__v1__attempt__free_unpacked(a, NULL);
        return HK_ENOMEM;
    }
    /* d is an unpacked record: its strings are its own, freed with it. */
    if (d->last_error && d->last_error != protobuf_c_empty_string) free(d->last_error);
    d->last_error = error;
    d->last_outcome = a->outcome;
    d->last_http_status = a->http_status;
    d->last_attempt_time = a->time;
    hookd__v1__attempt__free_unpacked(a, NULL);
    return 0;
}
