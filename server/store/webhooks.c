/* webhooks.c -- webhooks in the store: records, name and match indexes, walks */
#include "store/webhooks.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "store/names.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

#define KEY_BUF HK_STORE_KEY_BUF

/* The match index key of (application, trigger_action, id); id at the end. */
static int match_key(const hk_store_t *s, int application, const char *action, uint64_t id,
                     uint8_t *out, size_t *outlen)
{
    size_t alen = action ? strlen(action) : 0;
    if (application < 1 || application > 255 || alen == 0 || alen + 10 > s->max_key)
        return HK_EINVAL;
    out[0] = (uint8_t)application;
    memcpy(out + 1, action, alen);
    out[1 + alen] = 0;
    hk_store_be64_put(out + 2 + alen, id);
    *outlen = alen + 10;
    return 0;
}

void hk_webhook_free(hk_webhook_t *wh)
{
    if (!wh) return;
    if (wh->secret_key && wh->secret_key[0]) hk_crypto_wipe(wh->secret_key, strlen(wh->secret_key));
    hookd__v1__webhook__free_unpacked(wh, NULL);
}

int hk_webhook_set_secret(hk_webhook_t *wh, const char *secret)
{
    char *copy = strdup(secret ? secret : "");
    if (!copy) return HK_ENOMEM;
    if (wh->secret_key && wh->secret_key[0]) {
        hk_crypto_wipe(wh->secret_key, strlen(wh->secret_key));
        free(wh->secret_key);
    }
    wh->secret_key = copy;
    return 0;
}

/* ---- write operations inside a caller's txn ------------------------------------
 * Each takes the txn it writes in, so a later write batch (many operations,
 * one commit, one sync) can call them in turn. They return hookd errors and
 * may leave partial writes in txn on failure: the caller aborts (or, in a
 * batch, runs each in a nested txn). */

static int webhook_create_txn(hk_store_t *s, MDB_txn *txn, hk_webhook_t *wh, int64_t now)
{
    uint8_t nkey[KEY_BUF], mkey[KEY_BUF], idb[8], *rec = NULL;
    size_t nlen, mlen, reclen;
    uint64_t id = 0;
    int rc, err;

    if ((err = hk_name_key(wh->name, s->max_key, nkey, &nlen))) goto out;
    if ((err = hk_store_meta_get_u64(s, txn, "next_id", &id))) goto out;
    if ((err = match_key(s, wh->application, wh->trigger_action, id, mkey, &mlen))) goto out;
    wh->id = id;
    wh->create_time = wh->update_time = now;
    hk_store_be64_put(idb, id);

    MDB_val k = hk_store_val(nkey, nlen), v = hk_store_val(idb, 8);
    if ((rc = mdb_put(txn, s->names, &k, &v, MDB_NOOVERWRITE))) {
        err = hk_store_mdb_err(rc, "names_put");
        goto out;
    }
    if ((err = hk_record_encode(s, wh, NULL, 0, &rec, &reclen))) goto out;
    k = hk_store_val(idb, 8);
    v = hk_store_val(rec, reclen);
    /* The counter only grows, so an existing record here means the counter
     * went back: the store is inconsistent, not the caller wrong. */
    if ((rc = mdb_put(txn, s->webhooks, &k, &v, MDB_NOOVERWRITE))) {
        err = rc == MDB_KEYEXIST ? HK_ECORRUPT : hk_store_mdb_err(rc, "webhooks_put");
        goto out;
    }
    k = hk_store_val(mkey, mlen);
    v = hk_store_val(NULL, 0);
    if ((rc = mdb_put(txn, s->match, &k, &v, 0))) {
        err = hk_store_mdb_err(rc, "match_put");
        goto out;
    }
    err = hk_store_meta_put_u64(s, txn, "next_id", id + 1);
out:
    if (rec) hk_crypto_wipe(rec, reclen);
    free(rec);
    return err;
}

static int webhook_update_txn(hk_store_t *s, MDB_txn *txn, hk_webhook_t *wh, int64_t now,
                              size_t *unparked)
{
    uint8_t idb[8], nkey[KEY_BUF], oldnkey[KEY_BUF], mkey[KEY_BUF], oldmkey[KEY_BUF];
    uint8_t *keep = NULL, *rec = NULL;
    size_t nlen, oldnlen, mlen, oldmlen, keeplen = 0, reclen = 0;
    hk_webhook_t *old = NULL;
    const uint8_t *pb, *sealed;
    size_t pblen, sealedlen;
    int rc, err;

    if ((err = hk_name_key(wh->name, s->max_key, nkey, &nlen))) goto out;
    if ((err = match_key(s, wh->application, wh->trigger_action, wh->id, mkey, &mlen))) goto out;
    hk_store_be64_put(idb, wh->id);
    MDB_val k = hk_store_val(idb, 8), v;
    if ((rc = mdb_get(txn, s->webhooks, &k, &v))) {
        err = hk_store_mdb_err(rc, "webhooks_get");
        goto out;
    }
    if ((err = hk_record_parse(&v, &pb, &pblen, &sealed, &sealedlen))) goto out;
    if ((err = hk_record_unpack(wh->id, pb, pblen, &old))) goto out;
    /* Copied now: the value points into a page that later puts in this txn
     * may reuse. */
    if (sealed) {
        err = HK_ENOMEM;
        if (!(keep = malloc(sealedlen))) goto out;
        memcpy(keep, sealed, sealedlen);
        keeplen = sealedlen;
    }
    if ((err = hk_name_key(old->name, s->max_key, oldnkey, &oldnlen))) goto out;
    if ((err = match_key(s, old->application, old->trigger_action, wh->id, oldmkey, &oldmlen)))
        goto out;

    /* A rename that only changes letter case folds to the same key, which
     * already names this id: nothing to move. */
    if (nlen != oldnlen || memcmp(nkey, oldnkey, nlen) != 0) {
        k = hk_store_val(nkey, nlen);
        v = hk_store_val(idb, 8);
        if ((rc = mdb_put(txn, s->names, &k, &v, MDB_NOOVERWRITE))) {
            err = hk_store_mdb_err(rc, "names_put");
            goto out;
        }
        k = hk_store_val(oldnkey, oldnlen);
        if ((rc = mdb_del(txn, s->names, &k, NULL)) && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "names_del");
            goto out;
        }
    }
    if (mlen != oldmlen || memcmp(mkey, oldmkey, mlen) != 0) {
        k = hk_store_val(oldmkey, oldmlen);
        if ((rc = mdb_del(txn, s->match, &k, NULL)) && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "match_del");
            goto out;
        }
        k = hk_store_val(mkey, mlen);
        v = hk_store_val(NULL, 0);
        if ((rc = mdb_put(txn, s->match, &k, &v, 0))) {
            err = hk_store_mdb_err(rc, "match_put");
            goto out;
        }
    }

    wh->create_time = old->create_time;
    wh->update_time = now;
    if ((err = hk_record_encode(s, wh, keep, keeplen, &rec, &reclen))) goto out;
    k = hk_store_val(idb, 8);
    v = hk_store_val(rec, reclen);
    if ((rc = mdb_put(txn, s->webhooks, &k, &v, 0))) {
        err = hk_store_mdb_err(rc, "webhooks_put");
        goto out;
    }
    /* The due index holds the pending deliveries of active webhooks only:
     * (de)activating moves them in the same txn, so no crash can leave a
     * parked delivery due or an active webhook's delivery stranded. */
    size_t n = 0;
    if (old->active && !wh->active)
        err = hk_outbox_webhook_park(s, txn, wh->id, &n);
    else if (!old->active && wh->active)
        err = hk_outbox_webhook_unpark(s, txn, wh->id, unparked);
out:
    if (rec) hk_crypto_wipe(rec, reclen);
    free(rec);
    free(keep);
    if (old) hookd__v1__webhook__free_unpacked(old, NULL);
    return err;
}

static int webhook_delete_txn(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_webhook_t **oldp)
{
    uint8_t idb[8], nkey[KEY_BUF], mkey[KEY_BUF];
    size_t nlen, mlen;
    hk_webhook_t *old = NULL;
    int rc, err;

    hk_store_be64_put(idb, id);
    MDB_val k = hk_store_val(idb, 8), v;
    if ((rc = mdb_get(txn, s->webhooks, &k, &v))) {
        err = hk_store_mdb_err(rc, "webhooks_get");
        goto out;
    }
    if (oldp) {
        err = hk_record_decode(s, id, &v, &old);
    } else {
        const uint8_t *pb, *sealed;
        size_t pblen, sealedlen;
        err = hk_record_parse(&v, &pb, &pblen, &sealed, &sealedlen);
        if (!err) err = hk_record_unpack(id, pb, pblen, &old);
    }
    if (err) goto out;
    if ((err = hk_name_key(old->name, s->max_key, nkey, &nlen))) goto out;
    if ((err = match_key(s, old->application, old->trigger_action, id, mkey, &mlen))) goto out;

    if ((rc = mdb_del(txn, s->webhooks, &k, NULL))) {
        err = hk_store_mdb_err(rc, "webhooks_del");
        goto out;
    }
    /* A missing index entry is already the state we want. */
    k = hk_store_val(nkey, nlen);
    if ((rc = mdb_del(txn, s->names, &k, NULL)) && rc != MDB_NOTFOUND) {
        err = hk_store_mdb_err(rc, "names_del");
        goto out;
    }
    k = hk_store_val(mkey, mlen);
    if ((rc = mdb_del(txn, s->match, &k, NULL)) && rc != MDB_NOTFOUND) {
        err = hk_store_mdb_err(rc, "match_del");
        goto out;
    }
    size_t n = 0;
    if ((err = hk_outbox_webhook_cancel(s, txn, id, &n))) goto out;
    if (n)
        hk_log(HK_LOG_INFO, "deliveries_cancelled", "webhook_id=%llu count=%zu",
               (unsigned long long)id, n);
    if (oldp) {
        *oldp = old;
        old = NULL;
    }
out:
    hk_webhook_free(old);
    return err;
}

/* ---- the API ----------------------------------------------------------------- */

/* Admin writes run inside a write (store/batch.h); from the loop they wait
 * for their own commit (hk_batch_run_sync). */
typedef struct {
    hk_webhook_t *wh;
    uint64_t id;
    hk_webhook_t **old;
} admin_arg_t;

static int create_write(hk_store_t *s, void *arg)
{
    admin_arg_t *a = arg;
    MDB_txn *txn;
    int err = hk_batch_admin_begin(s, &txn);
    if (err) return err;
    if ((err = hk_batch_room(s, HK_ROOM_ADMIN, 4096))) return hk_batch_admin_end(s, txn, err, "");
    return hk_batch_admin_end(s, txn, webhook_create_txn(s, txn, a->wh, hk_store_now_ms()),
                              "webhook_create");
}

static int update_write(hk_store_t *s, void *arg)
{
    admin_arg_t *a = arg;
    size_t unparked = 0;
    MDB_txn *txn;
    int err = hk_batch_admin_begin(s, &txn);
    if (err) return err;
    if ((err = hk_batch_room(s, HK_ROOM_ADMIN, 4096))) return hk_batch_admin_end(s, txn, err, "");
    err = hk_batch_admin_end(
        s, txn, webhook_update_txn(s, txn, a->wh, hk_store_now_ms(), &unparked), "webhook_update");
    if (!err && unparked) s->w_due_added = 1;
    return err;
}

static int delete_write(hk_store_t *s, void *arg)
{
    admin_arg_t *a = arg;
    MDB_txn *txn;
    int err = hk_batch_admin_begin(s, &txn);
    if (err) return err;
    return hk_batch_admin_end(s, txn, webhook_delete_txn(s, txn, a->id, a->old), "webhook_delete");
}

int hk_store_webhook_create(hk_store_t *store, hk_webhook_t *wh)
{
    uint64_t id = wh->id;
    int64_t ct = wh->create_time, ut = wh->update_time;
    admin_arg_t a = {.wh = wh};
    int err = hk_batch_run_sync(store, create_write, &a);
    if (err) {
        /* Nothing was written, so nothing was assigned either. */
        wh->id = id;
        wh->create_time = ct;
        wh->update_time = ut;
    }
    return err;
}

int hk_store_webhook_update(hk_store_t *store, hk_webhook_t *wh)
{
    int64_t ct = wh->create_time, ut = wh->update_time;
    admin_arg_t a = {.wh = wh};
    int err = hk_batch_run_sync(store, update_write, &a);
    if (err) {
        wh->create_time = ct;
        wh->update_time = ut;
    }
    return err;
}

int hk_store_webhook_delete(hk_store_t *store, uint64_t id, hk_webhook_t **old)
{
    hk_webhook_t *was = NULL;
    admin_arg_t a = {.id = id, .old = old ? &was : NULL};
    int err = hk_batch_run_sync(store, delete_write, &a);
    if (err) {
        hk_webhook_free(was);
        return err;
    }
    if (old) *old = was;
    return 0;
}

static int get_in(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_webhook_t **out)
{
    uint8_t idb[8];
    hk_store_be64_put(idb, id);
    MDB_val k = hk_store_val(idb, 8), v;
    int rc = mdb_get(txn, s->webhooks, &k, &v);
    if (rc) return hk_store_mdb_err(rc, "webhooks_get");
    return hk_record_decode(s, id, &v, out);
}

/* get_in without opening the secret (secret_key left empty). */
static int bare_in(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_webhook_t **out)
{
    uint8_t idb[8];
    const uint8_t *pb, *sealed;
    size_t pblen, sealedlen;
    hk_store_be64_put(idb, id);
    MDB_val k = hk_store_val(idb, 8), v;
    int rc = mdb_get(txn, s->webhooks, &k, &v);
    if (rc) return hk_store_mdb_err(rc, "webhooks_get");
    int err = hk_record_parse(&v, &pb, &pblen, &sealed, &sealedlen);
    if (err) {
        hk_log(HK_LOG_ERROR, "store_corrupt", "id=%llu what=record_header", (unsigned long long)id);
        return err;
    }
    return hk_record_unpack(id, pb, pblen, out);
}

int hk_store_webhook_get(hk_store_t *store, uint64_t id, hk_webhook_t **out)
{
    MDB_txn *txn;
    int err = hk_batch_read_begin(store, &txn);
    if (err) return err;
    err = get_in(store, txn, id, out);
    hk_batch_read_end(store, txn);
    return err;
}

int hk_store_webhook_find(hk_store_t *store, const char *name, hk_webhook_t **out)
{
    uint8_t nkey[KEY_BUF];
    size_t nlen;
    MDB_txn *txn;
    /* A name no webhook could have is simply not found. */
    if (hk_name_key(name, store->max_key, nkey, &nlen)) return HK_ENOTFOUND;
    int err = hk_batch_read_begin(store, &txn);
    if (err) return err;
    MDB_val k = hk_store_val(nkey, nlen), v;
    int rc = mdb_get(txn, store->names, &k, &v);
    if (rc) {
        err = hk_store_mdb_err(rc, "names_get");
    } else if (v.mv_size != 8) {
        err = HK_ECORRUPT;
    } else {
        err = get_in(store, txn, hk_store_be64_get(v.mv_data), out);
        /* The index names an id whose record is gone. */
        if (err == HK_ENOTFOUND) err = HK_ECORRUPT;
    }
    hk_batch_read_end(store, txn);
    return err;
}

int hk_store_webhook_count(hk_store_t *store, uint64_t *out)
{
    MDB_txn *txn;
    MDB_stat st;
    int err = hk_batch_read_begin(store, &txn);
    if (err) return err;
    int rc = mdb_stat(txn, store->webhooks, &st);
    hk_batch_read_end(store, txn);
    if (rc) return hk_store_mdb_err(rc, "stat");
    *out = st.ms_entries;
    return 0;
}

/* ---- walks ----------------------------------------------------------------------
 * A walk reads up to HK_STORE_CHUNK records in one read txn, ends it, then hands
 * them to the visitor. So a visitor may call back into the store (even
 * write), and no read txn stays open across callbacks to pin old pages. The
 * walk resumes after the last id it read, so records created meanwhile with
 * higher ids are seen, as in paging. */

typedef struct {
    hk_webhook_t *items[HK_STORE_CHUNK];
    size_t n;
    uint64_t next; /* the id to resume from */
    int done;      /* no records after this chunk */
} chunk_t;

typedef struct {
    int use_index;
    int application;
    const char *action;
    uint8_t prefix[KEY_BUF]; /* the match key without its id */
    size_t prefix_len;
    int bare; /* records without their secrets */
} walk_t;

static void chunk_free(chunk_t *c, size_t from)
{
    for (size_t i = from; i < c->n; i++)
        hk_webhook_free(c->items[i]);
    c->n = 0;
}

/* Scans the webhooks table from c->next, keeping the ones the filter passes. */
static int chunk_scan(hk_store_t *s, MDB_txn *txn, const walk_t *w, chunk_t *c)
{
    MDB_cursor *cur = NULL;
    uint8_t idb[8];
    int rc, err = 0;
    if ((rc = mdb_cursor_open(txn, s->webhooks, &cur))) return hk_store_mdb_err(rc, "cursor_open");
    hk_store_be64_put(idb, c->next);
    MDB_val k = hk_store_val(idb, 8), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && c->n < HK_STORE_CHUNK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *pb, *sealed;
        size_t pblen, sealedlen;
        hk_webhook_t *wh = NULL;
        if (k.mv_size != 8) {
            err = HK_ECORRUPT;
            break;
        }
        uint64_t id = hk_store_be64_get(k.mv_data);
        if ((err = hk_record_parse(&v, &pb, &pblen, &sealed, &sealedlen))) break;
        if ((err = hk_record_unpack(id, pb, pblen, &wh))) break;
        /* Filter before opening the secret: most rows may not pass. */
        if ((w->application && (int)wh->application != w->application) ||
            (w->action && strcmp(wh->trigger_action, w->action) != 0)) {
            hk_webhook_free(wh);
        } else if ((err = hk_record_attach_secret(s, wh, sealed, sealedlen))) {
            hk_webhook_free(wh);
            break;
        } else {
            c->items[c->n++] = wh;
        }
        c->done = id == UINT64_MAX;
        c->next = id + 1;
    }
    if (!err && rc == MDB_NOTFOUND)
        c->done = 1;
    else if (!err && rc)
        err = hk_store_mdb_err(rc, "cursor_get");
    mdb_cursor_close(cur);
    return err;
}

/* Range-scans the match index from prefix | c->next. */
static int chunk_index(hk_store_t *s, MDB_txn *txn, const walk_t *w, chunk_t *c)
{
    MDB_cursor *cur = NULL;
    uint8_t start[KEY_BUF];
    int rc, err = 0;
    if ((rc = mdb_cursor_open(txn, s->match, &cur))) return hk_store_mdb_err(rc, "cursor_open");
    memcpy(start, w->prefix, w->prefix_len);
    hk_store_be64_put(start + w->prefix_len, c->next);
    MDB_val k = hk_store_val(start, w->prefix_len + 8), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && c->n < HK_STORE_CHUNK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != w->prefix_len + 8 || memcmp(k.mv_data, w->prefix, w->prefix_len) != 0) {
            rc = MDB_NOTFOUND; /* past the range */
            break;
        }
        uint64_t id = hk_store_be64_get((const uint8_t *)k.mv_data + w->prefix_len);
        err = w->bare ? bare_in(s, txn, id, &c->items[c->n]) : get_in(s, txn, id, &c->items[c->n]);
        if (err == HK_ENOTFOUND) err = HK_ECORRUPT;
        if (err) break;
        c->n++;
        c->done = id == UINT64_MAX;
        c->next = id + 1;
    }
    if (!err && rc == MDB_NOTFOUND)
        c->done = 1;
    else if (!err && rc)
        err = hk_store_mdb_err(rc, "cursor_get");
    mdb_cursor_close(cur);
    return err;
}

static int walk(hk_store_t *s, const walk_t *w, uint64_t from, hk_webhook_visit_fn visit, void *arg)
{
    chunk_t c = {.next = from};
    int err = 0;
    while (!c.done) {
        MDB_txn *txn;
        if ((err = hk_batch_read_begin(s, &txn))) break;
        err = w->use_index ? chunk_index(s, txn, w, &c) : chunk_scan(s, txn, w, &c);
        hk_batch_read_end(s, txn);
        if (err) {
            chunk_free(&c, 0);
            break;
        }
        for (size_t i = 0; i < c.n; i++) {
            if (visit(c.items[i], arg)) {
                chunk_free(&c, i + 1);
                return 0;
            }
        }
        c.n = 0;
    }
    return err;
}

static int walk_index_init(hk_store_t *s, walk_t *w, int application, const char *action)
{
    size_t len;
    int err = match_key(s, application, action, 0, w->prefix, &len);
    if (err) return err;
    w->use_index = 1;
    w->prefix_len = len - 8;
    return 0;
}

int hk_store_webhook_list(hk_store_t *store, uint64_t after_id, int application,
                          const char *trigger_action, hk_webhook_visit_fn visit, void *arg)
{
    walk_t w = {.application = application, .action = trigger_action};
    if (trigger_action && !*trigger_action) w.action = NULL;
    if (after_id == UINT64_MAX) return 0;
    if (w.application && w.action && walk_index_init(store, &w, application, w.action) != 0)
        return 0; /* no webhook can have that key */
    return walk(store, &w, after_id + 1, visit, arg);
}

int hk_store_webhook_match(hk_store_t *store, int application, const char *trigger_action,
                           hk_webhook_visit_fn visit, void *arg)
{
    walk_t w = {0};
    if (walk_index_init(store, &w, application, trigger_action) != 0) return 0;
    return walk(store, &w, 0, visit, arg);
}

int hk_store_webhook_match_bare(hk_store_t *store, int application, const char *trigger_action,
                                hk_webhook_visit_fn visit, void *arg)
{
    walk_t w = {.bare = 1};
    if (walk_index_init(store, &w, application, trigger_action) != 0) return 0;
    return walk(store, &w, 0, visit, arg);
}

/* ---- webhook stamps ------------------------------------------------------------------ */

/* The webhook record as stored (record.c's layout, not looked into here). */
static int webhook_raw(hk_store_t *s, MDB_txn *txn, uint64_t id, MDB_val *v)
{
    uint8_t k[8];
    hk_store_be64_put(k, id);
    MDB_val key = hk_store_val(k, 8);
    int rc = mdb_get(txn, s->webhooks, &key, v);
    return rc ? hk_store_mdb_err(rc, "webhooks_get") : 0;
}

int hk_outbox_webhook_stamp(hk_store_t *s, uint64_t id, uint8_t **stamp, size_t *len)
{
    MDB_txn *txn;
    MDB_val v;
    int err = hk_batch_read_begin(s, &txn);
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
    hk_batch_read_end(s, txn);
    return err;
}

int hk_outbox_webhook_unchanged(hk_store_t *s, uint64_t id, const uint8_t *stamp, size_t len)
{
    MDB_txn *txn;
    MDB_val v;
    int err = hk_batch_read_begin(s, &txn);
    if (err) return err;
    err = webhook_raw(s, txn, id, &v);
    int same = err == 0 && v.mv_size == len && memcmp(v.mv_data, stamp, len) == 0;
    hk_batch_read_end(s, txn);
    if (err == HK_ENOTFOUND) return 0;
    return err ? err : same;
}
