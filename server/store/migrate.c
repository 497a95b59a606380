/* migrate.c -- a store of schema 1 becomes schema 2 in place, a chunk per durable txn */
#include "core/error.h"
#include "core/log.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Schema 1, as the hookd before schema 2 wrote it (8acb183), differs in:
 *
 *   deliveries   u64 id -> u8 1 | packed Delivery       (2: u8 2 | u64 body key | packed)
 *   bodies       u64 id -> u32 data_len | body           (2: u32 refs | u32 data_len | body)
 *   pending      u64 webhook id | u64 id -> ""           (2: gone, the flag below)
 *   by_webhook   u64 webhook id | u64 id -> ""           (2: -> u8 pending)
 *
 * Every other table reads the same. A schema-1 body belongs to its delivery
 * alone, so it becomes a body of one reference under the same key.
 *
 * The work goes in txns of a bounded size, each committed with LMDB's sync
 * and holding where the next one starts (meta "migrate_from"), so a crash,
 * a kill or a full map part way leaves a store whose next open carries on;
 * "schema" says 2 only once the last txn commits. Records are told apart by
 * their own bytes (a delivery's first byte, an index value's size), so a
 * txn that ran twice would find nothing to do the second time. */

#define FROM_KEY "migrate_from"
#define MIGRATE_BODY_BYTES (32u << 20) /* bodies rewritten per txn, at most */

enum { PHASE_DELIVERIES = 0, PHASE_INDEX = 1 };

size_t hk_store_migrate_chunk = 4096, hk_store_migrate_max_txns = 0;

typedef struct {
    size_t deliveries, bodies, flags;
} counts_t;

/* Where the last txn stopped: phase | 16 key bytes (a delivery id, or a
 * by_webhook key), all zero at the start. */
static int from_get(hk_store_t *s, MDB_txn *txn, uint8_t from[17])
{
    MDB_val k = hk_store_val(FROM_KEY, strlen(FROM_KEY)), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    memset(from, 0, 17);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return hk_store_mdb_err(rc, "meta_get");
    if (v.mv_size != 17) return HK_ECORRUPT;
    memcpy(from, v.mv_data, 17);
    return 0;
}

/* Delivery id's record and body in schema 2's form. */
static int convert_delivery(hk_store_t *s, MDB_txn *txn, uint64_t id, size_t *body_bytes,
                            counts_t *c)
{
    uint8_t k[8], *rec = NULL, *body = NULL;
    hk_store_be64_put(k, id);
    MDB_val key = hk_store_val(k, 8), v;
    int rc = mdb_get(txn, s->deliveries, &key, &v), err = 0;
    if (rc) return hk_store_mdb_err(rc, "deliveries_get");
    if (v.mv_size < 1 || ((const uint8_t *)v.mv_data)[0] != 1)
        return 0; /* not schema 1's: left for the reads to set aside */
    size_t n = v.mv_size - 1;
    /* Copies: each put may move what the gets point at. */
    if (!(rec = malloc(HK_DELIVERY_HEAD + n))) return HK_ENOMEM;
    memcpy(rec + HK_DELIVERY_HEAD, (const uint8_t *)v.mv_data + 1, n);

    uint64_t bkey = 0;
    rc = mdb_get(txn, s->bodies, &key, &v);
    if (rc == 0 && v.mv_size >= 4) {
        size_t len = v.mv_size - 4;
        if (!(body = malloc(HK_BODY_HEAD + len))) {
            err = HK_ENOMEM;
            goto out;
        }
        hk_store_be32_put(body, 1);
        memcpy(body + 4, v.mv_data, v.mv_size); /* data_len, then the body */
        MDB_val nv = hk_store_val(body, HK_BODY_HEAD + len);
        if ((rc = mdb_put(txn, s->bodies, &key, &nv, 0))) {
            err = hk_store_mdb_err(rc, "bodies_put");
            goto out;
        }
        bkey = id;
        *body_bytes += len;
        c->bodies++;
    } else if (rc == 0) { /* too short to be a body: the delivery has none */
        if ((rc = mdb_del(txn, s->bodies, &key, NULL))) {
            err = hk_store_mdb_err(rc, "bodies_del");
            goto out;
        }
    } else if (rc != MDB_NOTFOUND) {
        err = hk_store_mdb_err(rc, "bodies_get");
        goto out;
    }
    rec[0] = HK_DELIVERY_V2;
    hk_store_be64_put(rec + 1, bkey);
    MDB_val nv = hk_store_val(rec, HK_DELIVERY_HEAD + n);
    if ((rc = mdb_put(txn, s->deliveries, &key, &nv, 0))) {
        err = hk_store_mdb_err(rc, "deliveries_put");
        goto out;
    }
    c->deliveries++;
out:
    free(rec);
    free(body);
    return err;
}

/* Up to chunk deliveries after from (and bodies of at most
 * MIGRATE_BODY_BYTES); *done when none is left. */
static int deliveries_chunk(hk_store_t *s, MDB_txn *txn, uint8_t from[17], size_t chunk, int *done,
                            counts_t *c)
{
    uint64_t *ids = malloc(chunk * sizeof *ids), after = hk_store_be64_get(from + 1);
    size_t n = 0, bytes = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t kb[8];
    int rc, err = 0;
    if (!ids) return HK_ENOMEM;
    if ((rc = mdb_cursor_open(txn, s->deliveries, &cur))) {
        free(ids);
        return hk_store_mdb_err(rc, "cursor_open");
    }
    hk_store_be64_put(kb, after + 1);
    k = hk_store_val(kb, 8);
    for (rc = after == UINT64_MAX ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && n < chunk; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (k.mv_size == 8) ids[n++] = hk_store_be64_get(k.mv_data);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) err = hk_store_mdb_err(rc, "cursor_get");
    *done = rc == MDB_NOTFOUND;
    size_t i = 0;
    for (; i < n && !err && bytes < MIGRATE_BODY_BYTES; i++)
        err = convert_delivery(s, txn, ids[i], &bytes, c);
    if (i < n) *done = 0; /* stopped by the bytes */
    if (i) hk_store_be64_put(from + 1, ids[i - 1]);
    free(ids);
    return err;
}

/* Up to chunk by_webhook entries after the key in from get their flag
 * byte: set when the pending table holds the same key. */
static int index_chunk(hk_store_t *s, MDB_txn *txn, MDB_dbi pending, uint8_t from[17], size_t chunk,
                       int *done, counts_t *c)
{
    uint8_t(*keys)[16] = malloc(chunk * sizeof *keys);
    size_t n = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, err = 0;
    if (!keys) return HK_ENOMEM;
    if ((rc = mdb_cursor_open(txn, s->by_webhook, &cur))) {
        free(keys);
        return hk_store_mdb_err(rc, "cursor_open");
    }
    /* From the last key the previous txn saw (all zero: the first). That
     * one, and any other done before, has its flag byte already: passed. */
    k = hk_store_val(from + 1, 16);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && n < chunk;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 16) continue;
        if (v.mv_size == 0) memcpy(keys[n++], k.mv_data, 16);
        memcpy(from + 1, k.mv_data, 16);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) err = hk_store_mdb_err(rc, "cursor_get");
    *done = rc == MDB_NOTFOUND;
    for (size_t i = 0; i < n && !err; i++) {
        MDB_val key = hk_store_val(keys[i], 16), pv;
        rc = mdb_get(txn, pending, &key, &pv);
        if (rc && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "pending_get");
            break;
        }
        uint8_t flag = rc == 0;
        MDB_val nv = hk_store_val(&flag, 1);
        if ((rc = mdb_put(txn, s->by_webhook, &key, &nv, 0)))
            err = hk_store_mdb_err(rc, "by_webhook_put");
        c->flags += flag;
    }
    free(keys);
    return err;
}

/* The last txn: the pending table goes, the schema says 2. */
static int finish(hk_store_t *s, MDB_txn *txn, MDB_dbi pending)
{
    uint8_t b[4];
    MDB_val k = hk_store_val(FROM_KEY, strlen(FROM_KEY));
    int rc = mdb_drop(txn, pending, 1);
    if (rc) return hk_store_mdb_err(rc, "pending_drop");
    if ((rc = mdb_del(txn, s->meta, &k, NULL)) && rc != MDB_NOTFOUND)
        return hk_store_mdb_err(rc, "meta_del");
    hk_store_be32_put(b, 2);
    return hk_store_meta_put(s, txn, "schema", b, 4);
}

/* One txn's worth: *finished once the schema says 2. */
static int migrate_txn(hk_store_t *s, size_t chunk, int *finished, counts_t *c)
{
    MDB_txn *txn;
    MDB_dbi pending;
    uint8_t from[17];
    int done = 0, rc = mdb_txn_begin(s->env, NULL, 0, &txn), err;
    if (rc) return hk_store_mdb_err(rc, "write_begin");
    if ((rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &pending))) {
        err = hk_store_mdb_err(rc, "dbi_open");
        goto fail;
    }
    if ((err = from_get(s, txn, from))) goto fail;
    if (from[0] == PHASE_DELIVERIES) {
        if ((err = deliveries_chunk(s, txn, from, chunk, &done, c))) goto fail;
        if (done) memset(from, 0, 17), from[0] = PHASE_INDEX;
        err = hk_store_meta_put(s, txn, FROM_KEY, from, 17);
    } else if (from[0] == PHASE_INDEX) {
        if ((err = index_chunk(s, txn, pending, from, chunk, &done, c))) goto fail;
        err = done ? finish(s, txn, pending) : hk_store_meta_put(s, txn, FROM_KEY, from, 17);
        *finished = done;
    } else {
        err = HK_ECORRUPT;
    }
    if (err) goto fail;
    if ((rc = mdb_txn_commit(txn))) return hk_store_mdb_err(rc, "migrate_commit");
    return 0;
fail:
    mdb_txn_abort(txn);
    return err;
}

int hk_store_migrate_v1(hk_store_t *s, size_t chunk, size_t max_txns)
{
    counts_t c = {0};
    struct timespec t0, t1;
    int finished = 0, err = 0;
    size_t txns = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hk_log(HK_LOG_INFO, "store_migrating",
           "from_schema=1 to_schema=2 why=\"written by an older hookd: records are rewritten "
           "in place, in durable steps; a stop part way is carried on by the next start\"");
    while (!finished && !err && (max_txns == 0 || txns < max_txns)) {
        err = migrate_txn(s, chunk ? chunk : 1, &finished, &c);
        txns++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    if (err) {
        hk_log(HK_LOG_ERROR, "store_migrate_failed", "error=\"%s\" deliveries=%zu why=\"%s\"",
               hk_strerror(err), c.deliveries,
               err == HK_EFULL ? "the store's map is full: raise store_map_bytes and start again"
                               : "the steps done so far are kept; the next start carries on");
        return err;
    }
    hk_log(HK_LOG_INFO, finished ? "store_migrated" : "store_migrate_paused",
           "to_schema=2 deliveries=%zu bodies=%zu pending=%zu txns=%zu ms=%ld", c.deliveries,
           c.bodies, c.flags, txns, ms);
    return finished ? 0 : HK_EBUSY;
}
