/* outbox.c -- deliveries, attempts and seen event ids in LMDB: the outbox and its write batch */
#include "store/outbox.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

/*
 * Tables (integers big-endian, so key order is numeric order):
 *
 *   deliveries   u64 id -> u8 DELIVERY_V1 | packed Delivery (no attempts, no payload)
 *   bodies       u64 id -> u32 data_len | the notification body
 *   attempts     u64 id | u32 seq -> packed Attempt
 *   due          u64 time | u64 id -> ""      PENDING deliveries of active webhooks,
 *                                            minus those whose attempt is in flight
 *   pending      u64 webhook id | u64 id -> "" every PENDING delivery
 *   by_webhook   u64 webhook id | u64 id -> "" every delivery, for listing
 *   events       event id -> u64 time | the first answer (opaque bytes)
 *   event_times  u64 time | event id -> ""   for pruning event ids by age
 *   meta "next_delivery" -> u64             the next delivery id; only grows
 *
 * The body is kept apart from the delivery record so that recording an
 * attempt rewrites a hundred bytes, not the payload. A delivery's
 * next_attempt_time always names its due key when it has one.
 */
#define DELIVERY_V1 1
#define CHUNK 64
#define NEXT_DELIVERY "next_delivery"

static MDB_val val(const void *data, size_t len)
{
    MDB_val v = {len, (void *)data};
    return v;
}

static void key2(uint8_t k[16], uint64_t a, uint64_t b)
{
    hk_store_be64_put(k, a);
    hk_store_be64_put(k + 8, b);
}

static uint64_t time_key(int64_t t)
{
    return t < 0 ? 0 : (uint64_t)t;
}

/* ---- hook and batch ----------------------------------------------------------- */

void hk_outbox_set_hook(hk_store_t *s, hk_outbox_hook_fn fn, void *arg)
{
    s->hook = fn;
    s->hook_arg = arg;
}

void hk_outbox_notify(hk_store_t *s, hk_outbox_event_t ev, uint64_t gen, int err)
{
    if (s->hook) s->hook(ev, gen, err, s->hook_arg);
}

uint64_t hk_outbox_batch_gen(const hk_store_t *s)
{
    return s->batch ? s->batch_gen : 0;
}

uint64_t hk_outbox_batch_failures(const hk_store_t *s)
{
    return s->batch_failures;
}

uint64_t hk_outbox_delivery_id(hk_store_t *s)
{
    return s->next_delivery_id++;
}

/* The open batch, opening one when none is. */
static int batch_txn(hk_store_t *s, MDB_txn **txn)
{
    *txn = NULL; /* defined on the error path too */
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

/* Throws the open batch away: after a failed put LMDB allows only an abort,
 * and a half-written call must not be committed by the next one. */
static int batch_fail(hk_store_t *s, int err)
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

/* Ends a batch write: errors other than a refused argument (found before
 * anything was written) throw the batch away. */
static int batch_end(hk_store_t *s, int err)
{
    if (err && err != HK_EINVAL && err != HK_ENOTFOUND) return batch_fail(s, err);
    return err;
}

int hk_outbox_batch_commit(hk_store_t *s)
{
    if (!s->batch) return 0;
    uint8_t b[8];
    hk_store_be64_put(b, s->next_delivery_id);
    MDB_val k = val(NEXT_DELIVERY, strlen(NEXT_DELIVERY)), v = val(b, 8);
    int rc = mdb_put(s->batch, s->meta, &k, &v, 0);
    if (rc) return batch_fail(s, hk_store_mdb_err(rc, "batch_meta_put"));
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

/* Reads see the open batch's writes; else a read txn. */
static int read_txn(hk_store_t *s, MDB_txn **txn)
{
    *txn = NULL; /* defined on the error path too */
    if (s->batch) {
        *txn = s->batch;
        return 0;
    }
    return hk_store_read_begin(s, txn);
}

static void read_done(hk_store_t *s, MDB_txn *txn)
{
    if (txn != s->batch) hk_store_read_end(s, txn);
}

/* ---- records -------------------------------------------------------------------- */

static int rec_get(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_delivery_t **out)
{
    uint8_t k[8];
    hk_store_be64_put(k, id);
    MDB_val key = val(k, 8), v;
    int rc = mdb_get(txn, s->deliveries, &key, &v);
    if (rc) return hk_store_mdb_err(rc, "deliveries_get");
    const uint8_t *p = v.mv_data;
    hk_delivery_t *d = NULL;
    if (v.mv_size >= 1 && p[0] == DELIVERY_V1)
        d = hookd__v1__delivery__unpack(NULL, v.mv_size - 1, p + 1);
    if (!d || d->id != id) {
        if (d) hookd__v1__delivery__free_unpacked(d, NULL);
        hk_log(HK_LOG_ERROR, "store_corrupt", "delivery=%llu what=record", (unsigned long long)id);
        return HK_ECORRUPT;
    }
    *out = d;
    return 0;
}

/* Writes d without its attempts and payload. */
static int rec_put(hk_store_t *s, MDB_txn *txn, const hk_delivery_t *d, unsigned flags)
{
    hk_delivery_t bare = *d;
    bare.n_attempts = 0;
    bare.attempts = NULL;
    bare.payload.len = 0;
    bare.payload.data = NULL;
    uint8_t k[8];
    hk_store_be64_put(k, d->id);
    size_t n = hookd__v1__delivery__get_packed_size(&bare);
    MDB_val key = val(k, 8), v = val(NULL, 1 + n);
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
    p[0] = DELIVERY_V1;
    hookd__v1__delivery__pack(&bare, p + 1);
    return 0;
}

static int idx_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op)
{
    uint8_t k[16];
    key2(k, a, b);
    MDB_val key = val(k, 16), v = val(NULL, 0);
    int rc = mdb_put(txn, dbi, &key, &v, 0);
    return rc ? hk_store_mdb_err(rc, op) : 0;
}

/* A missing entry is already the state wanted. */
static int idx_del(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op)
{
    uint8_t k[16];
    key2(k, a, b);
    MDB_val key = val(k, 16);
    int rc = mdb_del(txn, dbi, &key, NULL);
    return rc && rc != MDB_NOTFOUND ? hk_store_mdb_err(rc, op) : 0;
}

static int attempt_put(hk_store_t *s, MDB_txn *txn, uint64_t id, uint32_t seq,
                       const hk_attempt_t *a)
{
    uint8_t k[12];
    hk_store_be64_put(k, id);
    hk_store_be32_put(k + 8, seq);
    size_t n = hookd__v1__attempt__get_packed_size(a);
    MDB_val key = val(k, 12), v = val(NULL, n);
    /* An all-default attempt packs to nothing: an empty value then. */
    int rc = mdb_put(txn, s->attempts, &key, &v, n ? MDB_RESERVE : 0);
    if (rc) return hk_store_mdb_err(rc, "attempts_put");
    if (n) hookd__v1__attempt__pack(a, v.mv_data);
    return 0;
}

/* Collects up to max keys' second halves under the 8-byte prefix a of an
 * index (a | b keys), b > after; *done when the range ended. */
static int idx_range(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t after, uint64_t *out,
                     size_t max, size_t *n, int *done)
{
    MDB_cursor *cur;
    uint8_t k[16];
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) return hk_store_mdb_err(rc, "cursor_open");
    *n = 0;
    *done = 0;
    if (after == UINT64_MAX) {
        *done = 1;
        mdb_cursor_close(cur);
        return 0;
    }
    key2(k, a, after + 1);
    MDB_val key = val(k, 16), v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16 || hk_store_be64_get(key.mv_data) != a) {
            rc = MDB_NOTFOUND;
            break;
        }
        out[(*n)++] = hk_store_be64_get((const uint8_t *)key.mv_data + 8);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *done = 1;
        return 0;
    }
    return rc ? hk_store_mdb_err(rc, "cursor_get") : 0;
}

/* ---- open ------------------------------------------------------------------------- */

int hk_outbox_open(hk_store_t *s, MDB_txn *txn)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"deliveries", &s->deliveries}, {"bodies", &s->bodies},
        {"attempts", &s->attempts},     {"due", &s->due},
        {"pending", &s->pending},       {"by_webhook", &s->by_webhook},
        {"events", &s->events},         {"event_times", &s->event_times},
    };
    int rc;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
        if ((rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi)))
            return hk_store_mdb_err(rc, "dbi_open");

    uint64_t next = 1;
    MDB_val k = val(NEXT_DELIVERY, strlen(NEXT_DELIVERY)), v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        next = hk_store_be64_get(v.mv_data);
    else if (rc == 0)
        return HK_ECORRUPT;
    else if (rc != MDB_NOTFOUND)
        return hk_store_mdb_err(rc, "meta_get");

    /* The counter is saved with each batch; a record beyond it would mean a
     * lost counter, and ids must never be handed out twice. */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->deliveries, &cur)))
        return hk_store_mdb_err(rc, "cursor_open");
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8 && hk_store_be64_get(k.mv_data) >= next)
        next = hk_store_be64_get(k.mv_data) + 1;
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    s->next_delivery_id = next;
    s->prune_cursor = 0;
    return 0;
}

/* ---- deliveries ------------------------------------------------------------------ */

void hk_delivery_free(hk_delivery_t *d)
{
    if (d) hookd__v1__delivery__free_unpacked(d, NULL);
}

static int delivery_put_in(hk_store_t *s, MDB_txn *txn, const hk_delivery_t *d, const uint8_t *body,
                           size_t body_len, size_t data_len, const hk_attempt_t *attempt,
                           int active)
{
    int rc, err;
    uint8_t k[8];
    /* New ids are (nearly always) the largest yet: appended, the insert
     * skips the search and fills pages whole instead of splitting them in
     * half, so a batch dirties fewer pages. */
    if ((err = rec_put(s, txn, d, MDB_NOOVERWRITE | MDB_APPEND))) return err;

    hk_store_be64_put(k, d->id);
    MDB_val key = val(k, 8), v = val(NULL, 4 + body_len);
    rc = mdb_put(txn, s->bodies, &key, &v, MDB_RESERVE | MDB_APPEND);
    if (rc == MDB_KEYEXIST) rc = mdb_put(txn, s->bodies, &key, &v, MDB_RESERVE);
    if (rc) return hk_store_mdb_err(rc, "bodies_put");
    hk_store_be32_put(v.mv_data, (uint32_t)data_len);
    if (body_len) memcpy((uint8_t *)v.mv_data + 4, body, body_len);

    if ((err = idx_put(txn, s->by_webhook, d->webhook_id, d->id, "by_webhook_put"))) return err;
    if (attempt && (err = attempt_put(s, txn, d->id, 0, attempt))) return err;
    if (d->state == HK_DELIVERY_PENDING) {
        if ((err = idx_put(txn, s->pending, d->webhook_id, d->id, "pending_put"))) return err;
        if (active &&
            (err = idx_put(txn, s->due, time_key(d->next_attempt_time), d->id, "due_put")))
            return err;
    }
    return 0;
}

int hk_outbox_delivery_put(hk_store_t *s, const hk_delivery_t *d, const uint8_t *body,
                           size_t body_len, size_t data_len, const hk_attempt_t *attempt)
{
    MDB_txn *txn;
    int active = 0, err;
    if (!d || d->id == 0 || d->id >= s->next_delivery_id || d->webhook_id == 0 ||
        d->state < HK_DELIVERY_PENDING || d->state > HK_DELIVERY_CANCELLED || (body_len && !body) ||
        data_len + 1 > body_len || body_len > UINT32_MAX - 4 || (attempt && d->attempt_count != 1))
        return HK_EINVAL;
    if ((err = batch_txn(s, &txn))) return err;
    if (d->state == HK_DELIVERY_PENDING) {
        /* A webhook deleted since it matched has nothing to wait for. */
        err = hk_store_webhook_active_in(s, txn, d->webhook_id, &active);
        if (err) return batch_end(s, err);
        if (d->id < s->batch_first_id) s->batch_first_id = d->id;
    }
    return batch_end(s, delivery_put_in(s, txn, d, body, body_len, data_len, attempt, active));
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
    MDB_val key = val(k, 12), v;
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
        if (!a) {
            err = HK_ECORRUPT;
            break;
        }
        d->attempts[d->n_attempts++] = a;
    }
    if (!err && rc && rc != MDB_NOTFOUND) err = hk_store_mdb_err(rc, "cursor_get");
    mdb_cursor_close(cur);
    return err;
}

static int body_in(hk_store_t *s, MDB_txn *txn, uint64_t id, const uint8_t **body, size_t *len,
                   size_t *data_len)
{
    *body = NULL; /* defined on the error paths too */
    *len = *data_len = 0;
    uint8_t k[8];
    hk_store_be64_put(k, id);
    MDB_val key = val(k, 8), v;
    int rc = mdb_get(txn, s->bodies, &key, &v);
    if (rc) return hk_store_mdb_err(rc, "bodies_get");
    if (v.mv_size < 4) return HK_ECORRUPT;
    *data_len = hk_store_be32_get(v.mv_data);
    *body = (const uint8_t *)v.mv_data + 4;
    *len = v.mv_size - 4;
    if (*data_len + 1 > *len) return HK_ECORRUPT;
    return 0;
}

int hk_outbox_delivery_get(hk_store_t *s, uint64_t id, int details, hk_delivery_t **out)
{
    MDB_txn *txn;
    hk_delivery_t *d = NULL;
    int err = read_txn(s, &txn);
    if (err) return err;
    if ((err = rec_get(s, txn, id, &d))) goto out;
    if (details) {
        const uint8_t *body;
        size_t len, data_len;
        if ((err = attempts_load(s, txn, d))) goto out;
        if ((err = body_in(s, txn, id, &body, &len, &data_len))) goto out;
        err = HK_ENOMEM;
        if (!(d->payload.data = malloc(data_len ? data_len : 1))) goto out;
        /* The body ends "<payload>}". */
        memcpy(d->payload.data, body + len - 1 - data_len, data_len);
        d->payload.len = data_len;
        err = 0;
    }
out:
    read_done(s, txn);
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
    int err = read_txn(s, &txn);
    if (err) return err;
    if ((err = body_in(s, txn, id, &body, &len, data_len)) == 0) {
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) {
            err = HK_ENOMEM;
        } else {
            memcpy(copy, body, len);
            *out = copy;
            *outlen = len;
        }
    }
    read_done(s, txn);
    return err;
}

/* Positions cur on the last key < (prefix | before) (prefix unused when
 * plen is 0: plain u64 keys) and reads it. */
static int seek_before(MDB_cursor *cur, uint8_t *k, size_t klen, MDB_val *key, MDB_val *v)
{
    *key = val(k, klen);
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
        key2(k, webhook_id, *before);
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
            if (key.mv_size != 8) {
                err = HK_ECORRUPT;
                break;
            }
            id = hk_store_be64_get(key.mv_data);
        }
        (*budget)--;
        *before = id;
        hk_delivery_t *d;
        err = rec_get(s, txn, id, &d);
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
        if ((err = read_txn(s, &txn))) return err;
        err = list_chunk(s, txn, webhook_id, &before, state, &budget, &c, &done);
        read_done(s, txn);
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

/* ---- scheduling ------------------------------------------------------------------- */

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
    if ((err = read_txn(s, &txn))) return err;
    if ((rc = mdb_cursor_open(txn, s->due, &cur))) {
        read_done(s, txn);
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
    read_done(s, txn);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    if (*n == 0) return 0;
    if ((err = batch_txn(s, &txn))) {
        *n = 0;
        return err;
    }
    for (size_t i = 0; i < *n; i++) {
        if ((err = idx_del(txn, s->due, time_key(out[i].time), out[i].id, "due_del"))) {
            *n = 0;
            return batch_fail(s, err);
        }
    }
    return 0;
}

int hk_outbox_due_restore(hk_store_t *s, uint64_t id)
{
    MDB_txn *txn = NULL;
    hk_delivery_t *d = NULL;
    int active = 0, err;
    if ((err = batch_txn(s, &txn))) return err;
    err = rec_get(s, txn, id, &d);
    if (err == HK_ENOTFOUND) return 0;
    if (err) return batch_end(s, err);
    if (d->state == HK_DELIVERY_PENDING &&
        hk_store_webhook_active_in(s, txn, d->webhook_id, &active) == 0 && active)
        err = idx_put(txn, s->due, time_key(d->next_attempt_time), id, "due_put");
    hk_delivery_free(d);
    return batch_end(s, err);
}

int hk_outbox_attempt_record(hk_store_t *s, uint64_t id, const hk_attempt_t *a, int state,
                             int64_t next_time, int *webhook_active)
{
    MDB_txn *txn;
    hk_delivery_t *d = NULL;
    int active = 0, exists, err;
    if (state < HK_DELIVERY_PENDING || state > HK_DELIVERY_CANCELLED) return HK_EINVAL;
    if ((err = batch_txn(s, &txn))) return err;
    if ((err = rec_get(s, txn, id, &d))) return batch_end(s, err);
    err = hk_store_webhook_active_in(s, txn, d->webhook_id, &active);
    if (err && err != HK_ENOTFOUND) goto out;
    exists = err == 0;
    if (!exists) active = 0;

    /* The due entry may be back (the webhook was re-activated while the
     * attempt ran): the new one replaces it. */
    if ((err = idx_del(txn, s->due, time_key(d->next_attempt_time), id, "due_del"))) goto out;
    if ((err = attempt_put(s, txn, id, d->attempt_count, a))) goto out;
    d->attempt_count++;
    if (d->state == HK_DELIVERY_PENDING) {
        d->state = exists ? state : HK_DELIVERY_CANCELLED;
        if (d->state == HK_DELIVERY_PENDING) {
            d->next_attempt_time = next_time;
            if (active && (err = idx_put(txn, s->due, time_key(next_time), id, "due_put")))
                goto out;
        } else {
            d->next_attempt_time = 0;
            if ((err = idx_del(txn, s->pending, d->webhook_id, id, "pending_del"))) goto out;
        }
    }
    err = rec_put(s, txn, d, 0);
out:
    hk_delivery_free(d);
    if (!err && webhook_active) *webhook_active = active;
    /* Nothing is written before the record is read, so a failure after it
     * must not leave half an attempt: throw the batch away. */
    if (err && err != HK_ENOTFOUND) return batch_fail(s, err);
    return err;
}

int hk_outbox_resume(hk_store_t *s, size_t *count)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc, err;
    uint64_t last_wid = 0;
    int last_active = 0;
    *count = 0;
    if ((err = batch_txn(s, &txn))) return err;
    if ((rc = mdb_cursor_open(txn, s->pending, &cur)))
        return batch_fail(s, hk_store_mdb_err(rc, "cursor_open"));
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
        if ((err = rec_get(s, txn, id, &d))) {
            if (err == HK_ENOTFOUND) continue;
            break;
        }
        err = idx_put(txn, s->due, time_key(d->next_attempt_time), id, "due_put");
        hk_delivery_free(d);
        if (err) break;
        (*count)++;
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND) err = hk_store_mdb_err(rc, "cursor_get");
    return err ? batch_fail(s, err) : 0;
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
        if ((err = idx_range(txn, s->pending, wid, after, ids, CHUNK, &n, &done))) break;
        for (size_t i = 0; i < n && !err; i++) {
            hk_delivery_t *d;
            after = ids[i];
            err = rec_get(s, txn, ids[i], &d);
            if (err == HK_ENOTFOUND) { /* a stale index entry: drop it */
                err = idx_del(txn, s->pending, wid, ids[i], "pending_del");
                continue;
            }
            if (err) break;
            uint64_t t = time_key(d->next_attempt_time);
            if (op == UNPARK) {
                err = idx_put(txn, s->due, t, d->id, "due_put");
            } else {
                err = idx_del(txn, s->due, t, d->id, "due_del");
            }
            if (!err && op == CANCEL) {
                d->state = HK_DELIVERY_CANCELLED;
                d->next_attempt_time = 0;
                err = rec_put(s, txn, d, 0);
                if (!err) err = idx_del(txn, s->pending, wid, d->id, "pending_del");
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

/* ---- pruning ------------------------------------------------------------------------ */

static int delivery_delete(hk_store_t *s, MDB_txn *txn, uint64_t id, uint64_t wid)
{
    uint8_t k[12];
    MDB_val key;
    int rc, err;
    hk_store_be64_put(k, id);
    key = val(k, 8);
    if ((rc = mdb_del(txn, s->deliveries, &key, NULL)) && rc != MDB_NOTFOUND)
        return hk_store_mdb_err(rc, "deliveries_del");
    if ((rc = mdb_del(txn, s->bodies, &key, NULL)) && rc != MDB_NOTFOUND)
        return hk_store_mdb_err(rc, "bodies_del");
    if ((err = idx_del(txn, s->by_webhook, wid, id, "by_webhook_del"))) return err;

    /* Seek afresh for each attempt: a handful per delivery, and no cursor
     * state to reason about after a delete. */
    hk_store_be32_put(k + 8, 0);
    for (;;) {
        MDB_cursor *cur;
        MDB_val v;
        if ((rc = mdb_cursor_open(txn, s->attempts, &cur)))
            return hk_store_mdb_err(rc, "cursor_open");
        key = val(k, 12);
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

static int prune_deliveries(hk_store_t *s, MDB_txn *txn, int64_t now, uint64_t max_age_ms,
                            uint64_t max_count, size_t budget, size_t *pruned, int *more)
{
    MDB_stat st;
    MDB_cursor *cur;
    int rc, err = 0;
    struct {
        uint64_t id, wid;
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
    MDB_val key = val(k, 8), v;
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
        const uint8_t *p = v.mv_data;
        hk_delivery_t *d = v.mv_size >= 1 && p[0] == DELIVERY_V1
                               ? hookd__v1__delivery__unpack(NULL, v.mv_size - 1, p + 1)
                               : NULL;
        if (!d) continue; /* not ours to judge here; GetDelivery reports it */
        int old = d->create_time < cutoff;
        int finished = d->state != HK_DELIVERY_PENDING;
        uint64_t wid = d->webhook_id;
        hookd__v1__delivery__free_unpacked(d, NULL);
        if (!old && excess == 0) {
            /* Ids grow with time: the rest is younger still. */
            ended = 1;
            rc = MDB_NOTFOUND;
            break;
        }
        if (!finished) continue;
        victims[nv].id = id;
        victims[nv].wid = wid;
        nv++;
        if (excess) excess--;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    if (ended) s->prune_cursor = 0;
    for (size_t i = 0; i < nv && !err; i++)
        err = delivery_delete(s, txn, victims[i].id, victims[i].wid);
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
        key = val(keys[i], lens[i]);
        if ((rc = mdb_del(txn, s->event_times, &key, NULL)) && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "event_times_del");
            break;
        }
        /* Only the record this index entry stands for: a re-recorded id has
         * a newer time and its own entry. */
        MDB_val ek = val(keys[i] + 8, lens[i] - 8), ev;
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
    int rc, err = read_txn(s, &txn), needed = 0;
    if (err) return err;
    if ((rc = mdb_stat(txn, s->deliveries, &st))) goto out;
    needed = st.ms_entries > max_count;
    if (!needed && (rc = mdb_cursor_open(txn, s->deliveries, &cur)) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        const uint8_t *p = v.mv_data;
        if (rc == 0 && v.mv_size >= 1 && p[0] == DELIVERY_V1) {
            hk_delivery_t *d = hookd__v1__delivery__unpack(NULL, v.mv_size - 1, p + 1);
            needed = d && d->create_time < cutoff_of(now, max_age_ms);
            if (d) hookd__v1__delivery__free_unpacked(d, NULL);
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
    read_done(s, txn);
    return rc ? hk_store_mdb_err(rc, "prune_check") : needed;
}

int hk_outbox_prune(hk_store_t *s, int64_t now, uint64_t max_age_ms, uint64_t max_count,
                    uint64_t event_window_ms, size_t budget, size_t *pruned, int *more)
{
    MDB_txn *txn;
    int err, more_d = 0, more_e = 0;
    *pruned = 0;
    *more = 0;
    if (budget == 0) return 0;
    if ((err = prune_needed(s, now, max_age_ms, max_count, event_window_ms)) <= 0) return err;
    if ((err = batch_txn(s, &txn))) return err;
    err = prune_deliveries(s, txn, now, max_age_ms, max_count, budget, pruned, &more_d);
    if (!err) err = prune_events(s, txn, now, event_window_ms, max_count, budget, pruned, &more_e);
    if (err) return batch_fail(s, err);
    *more = more_d || more_e;
    return 0;
}

int hk_outbox_stats(hk_store_t *s, hk_outbox_stats_t *out)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = 0, err = read_txn(s, &txn);
    if (err) return err;
    if (!(rc = mdb_stat(txn, s->deliveries, &st))) out->deliveries = st.ms_entries;
    if (!rc && !(rc = mdb_stat(txn, s->pending, &st))) out->pending = st.ms_entries;
    if (!rc && !(rc = mdb_stat(txn, s->due, &st))) out->due = st.ms_entries;
    if (!rc && !(rc = mdb_stat(txn, s->events, &st))) out->events = st.ms_entries;
    read_done(s, txn);
    return rc ? hk_store_mdb_err(rc, "stat") : 0;
}

/* ---- event ids -------------------------------------------------------------------- */

int hk_outbox_event_get(hk_store_t *s, const char *event_id, int64_t *time, uint8_t **data,
                        size_t *len)
{
    size_t idlen = event_id ? strlen(event_id) : 0;
    if (idlen == 0 || idlen + 8 > s->max_key) return HK_ENOTFOUND;
    MDB_txn *txn;
    int err = read_txn(s, &txn);
    if (err) return err;
    MDB_val k = val(event_id, idlen), v;
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
    read_done(s, txn);
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
    if ((err = batch_txn(s, &txn))) return err;

    MDB_val k = val(event_id, idlen), v;
    rc = mdb_get(txn, s->events, &k, &v);
    if (rc == 0 && v.mv_size >= 8 && hk_store_be64_get(v.mv_data) != time_key(time)) {
        memcpy(tk, v.mv_data, 8);
        memcpy(tk + 8, event_id, idlen);
        MDB_val old = val(tk, 8 + idlen);
        if ((rc = mdb_del(txn, s->event_times, &old, NULL)) && rc != MDB_NOTFOUND)
            return batch_fail(s, hk_store_mdb_err(rc, "event_times_del"));
    } else if (rc && rc != MDB_NOTFOUND) {
        return batch_fail(s, hk_store_mdb_err(rc, "events_get"));
    }
    v = val(NULL, 8 + len);
    if ((rc = mdb_put(txn, s->events, &k, &v, MDB_RESERVE)))
        return batch_fail(s, hk_store_mdb_err(rc, "events_put"));
    hk_store_be64_put(v.mv_data, time_key(time));
    if (len) memcpy((uint8_t *)v.mv_data + 8, data, len);

    hk_store_be64_put(tk, time_key(time));
    memcpy(tk + 8, event_id, idlen);
    MDB_val tkey = val(tk, 8 + idlen), empty = val(NULL, 0);
    if ((rc = mdb_put(txn, s->event_times, &tkey, &empty, 0)))
        return batch_fail(s, hk_store_mdb_err(rc, "event_times_put"));
    return 0;
}

/* ---- webhook stamps ------------------------------------------------------------------ */

/* The webhook record as stored (store.c's layout, not looked into here). */
static int webhook_raw(hk_store_t *s, MDB_txn *txn, uint64_t id, MDB_val *v)
{
    uint8_t k[8];
    hk_store_be64_put(k, id);
    MDB_val key = val(k, 8);
    int rc = mdb_get(txn, s->webhooks, &key, v);
    return rc ? hk_store_mdb_err(rc, "webhooks_get") : 0;
}

int hk_outbox_webhook_stamp(hk_store_t *s, uint64_t id, uint8_t **stamp, size_t *len)
{
    MDB_txn *txn;
    MDB_val v;
    int err = read_txn(s, &txn);
    if (err) return err;
    if ((err = webhook_raw(s, txn, id, &v)) == 0) {
        uint8_t *copy = malloc(v.mv_size ? v.mv_size : 1);
        if (!copy) {
            err = HK_ENOMEM;
        } else {
            memcpy(copy, v.mv_data, v.mv_size);
            *stamp = copy;
            *len = v.mv_size;
        }
    }
    read_done(s, txn);
    return err;
}

int hk_outbox_webhook_unchanged(hk_store_t *s, uint64_t id, const uint8_t *stamp, size_t len)
{
    MDB_txn *txn;
    MDB_val v;
    int err = read_txn(s, &txn);
    if (err) return err;
    err = webhook_raw(s, txn, id, &v);
    int same = err == 0 && v.mv_size == len && memcmp(v.mv_data, stamp, len) == 0;
    read_done(s, txn);
    if (err == HK_ENOTFOUND) return 0;
    return err ? err : same;
}
