/* txn.c -- what every store module stands on: LMDB's errors, big-endian keys, read txns, meta */
#include "core/error.h"
#include "core/log.h"
#include "store/store_impl.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* ---- keys ------------------------------------------------------------------ */

void hk_store_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t hk_store_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void hk_store_be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint32_t hk_store_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int64_t hk_store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hk_store_key2(uint8_t k[16], uint64_t a, uint64_t b)
{
    hk_store_be64_put(k, a);
    hk_store_be64_put(k + 8, b);
}

uint64_t hk_store_time_key(int64_t t)
{
    return t < 0 ? 0 : (uint64_t)t;
}

/* ---- errors ------------------------------------------------------------------ */

/* LMDB's errors become hookd's here and nowhere else. The expected outcomes
 * (not found, key exists) are the caller's business; the rest are logged. */
int hk_store_mdb_err(int rc, const char *op)
{
    int err;
    switch (rc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return HK_ENOTFOUND;
    case MDB_KEYEXIST: return HK_EEXIST;
    case MDB_MAP_FULL: err = HK_EFULL; break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: err = HK_ECORRUPT; break;
    case ENOMEM: err = HK_ENOMEM; break;
    case ENOSPC: /* the disk, not the map, is full: the caller is told which */
    case EDQUOT: err = HK_ENOSPC; break;
    default: err = HK_EIO; break;
    }
    char q[160];
    hk_log(err == HK_EFULL ? HK_LOG_WARN : HK_LOG_ERROR, "store_error", "op=%s error=%s errno=%d",
           op, hk_log_quote(mdb_strerror(rc), q, sizeof q), rc > 0 ? rc : 0);
    return err;
}

/* ---- read txns --------------------------------------------------------------- */

int hk_store_read_begin(hk_store_t *s, MDB_txn **txn)
{
    int rc;
    if (s->rtxn && !s->rtxn_busy) {
        if ((rc = mdb_txn_renew(s->rtxn)) == 0) {
            s->rtxn_busy = 1;
            *txn = s->rtxn;
            return 0;
        }
        mdb_txn_abort(s->rtxn);
        s->rtxn = NULL;
    }
    /* MDB_NOTLS lets a second read txn exist beside the cached one should a
     * read ever nest; the cache is then left to the outer one. */
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn)))
        return hk_store_mdb_err(rc, "read_begin");
    if (!s->rtxn) {
        s->rtxn = *txn;
        s->rtxn_busy = 1;
    }
    return 0;
}

void hk_store_read_end(hk_store_t *s, MDB_txn *txn)
{
    if (txn == s->rtxn) {
        mdb_txn_reset(txn);
        s->rtxn_busy = 0;
    } else {
        mdb_txn_abort(txn);
    }
}

/* ---- meta -------------------------------------------------------------------- */

int hk_store_meta_get_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t *out)
{
    MDB_val k = hk_store_val(name, strlen(name)), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc) return rc == MDB_NOTFOUND ? HK_ECORRUPT : hk_store_mdb_err(rc, "meta_get");
    if (v.mv_size != 8) return HK_ECORRUPT;
    *out = hk_store_be64_get(v.mv_data);
    return 0;
}

int hk_store_meta_put(hk_store_t *s, MDB_txn *txn, const char *name, const void *data, size_t len)
{
    MDB_val k = hk_store_val(name, strlen(name)), v = hk_store_val(data, len);
    int rc = mdb_put(txn, s->meta, &k, &v, 0);
    return rc ? hk_store_mdb_err(rc, "meta_put") : 0;
}

int hk_store_meta_put_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t value)
{
    uint8_t b[8];
    hk_store_be64_put(b, value);
    return hk_store_meta_put(s, txn, name, b, sizeof b);
}

/* ---- index entries ------------------------------------------------------------ */

int hk_store_idx_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op)
{
    uint8_t k[16];
    hk_store_key2(k, a, b);
    MDB_val key = hk_store_val(k, 16), v = hk_store_val(NULL, 0);
    int rc = mdb_put(txn, dbi, &key, &v, 0);
    return rc ? hk_store_mdb_err(rc, op) : 0;
}

int hk_store_flag_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, uint8_t flag,
                      const char *op)
{
    uint8_t k[16];
    hk_store_key2(k, a, b);
    MDB_val key = hk_store_val(k, 16), v = hk_store_val(&flag, 1);
    int rc = mdb_put(txn, dbi, &key, &v, 0);
    return rc ? hk_store_mdb_err(rc, op) : 0;
}

/* Whether by_webhook's entry wid | id has its flag set (0 when missing). */
static int pending_now(hk_store_t *s, MDB_txn *txn, uint64_t wid, uint64_t id, int *out)
{
    uint8_t k[16];
    hk_store_key2(k, wid, id);
    MDB_val key = hk_store_val(k, 16), v;
    int rc = mdb_get(txn, s->by_webhook, &key, &v);
    *out = rc == 0 && v.mv_size >= 1 && *(const uint8_t *)v.mv_data;
    return rc && rc != MDB_NOTFOUND ? hk_store_mdb_err(rc, "by_webhook_get") : 0;
}

int hk_store_pending_put(hk_store_t *s, MDB_txn *txn, uint64_t wid, uint64_t id, int pending,
                         int fresh, const char *op)
{
    int was = 0, err;
    if (!fresh && (err = pending_now(s, txn, wid, id, &was))) return err;
    if ((err = hk_store_flag_put(txn, s->by_webhook, wid, id, (uint8_t)(pending != 0), op)))
        return err;
    s->w_op_pending += (pending != 0) - was;
    return 0;
}

int hk_store_pending_del(hk_store_t *s, MDB_txn *txn, uint64_t wid, uint64_t id, const char *op)
{
    int was = 0, err;
    if ((err = pending_now(s, txn, wid, id, &was))) return err;
    if ((err = hk_store_idx_del(txn, s->by_webhook, wid, id, op))) return err;
    s->w_op_pending -= was;
    return 0;
}

int hk_store_idx_del(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op)
{
    uint8_t k[16];
    hk_store_key2(k, a, b);
    MDB_val key = hk_store_val(k, 16);
    int rc = mdb_del(txn, dbi, &key, NULL);
    return rc && rc != MDB_NOTFOUND ? hk_store_mdb_err(rc, op) : 0;
}

int hk_store_idx_range(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t after, int flagged,
                       uint64_t *out, size_t max, size_t *n, int *done)
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
    hk_store_key2(k, a, after + 1);
    MDB_val key = hk_store_val(k, 16), v;
    for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16 || hk_store_be64_get(key.mv_data) != a) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (flagged && (v.mv_size < 1 || !*(const uint8_t *)v.mv_data)) continue;
        out[(*n)++] = hk_store_be64_get((const uint8_t *)key.mv_data + 8);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *done = 1;
        return 0;
    }
    return rc ? hk_store_mdb_err(rc, "cursor_get") : 0;
}

/* ---- how full ------------------------------------------------------------------- */

int hk_store_used_bytes(hk_store_t *s, MDB_txn *rtxn, uint64_t floor, uint64_t *used)
{
    MDB_envinfo ei;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t free_pages = 0;
    int rc;
    mdb_env_info(s->env, &ei);
    uint64_t high = ((uint64_t)ei.me_last_pgno + 1) * s->psize;
    *used = high;
    if (high <= floor) return 0;
    /* The freelist (table 0): each record is a count and that many page
     * numbers, the pages a txn freed. */
    if ((rc = mdb_cursor_open(rtxn, 0, &cur))) return hk_store_mdb_err(rc, "freelist_open");
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
        if (v.mv_size >= sizeof(size_t)) free_pages += *(const size_t *)v.mv_data;
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "freelist_get");
    uint64_t freed = free_pages * s->psize;
    *used = freed < high ? high - freed : 0;
    return 0;
}

void hk_store_marks(const hk_store_t *s, uint64_t *prune, uint64_t *trigger, uint64_t *admin)
{
    uint64_t map = s->map_bytes, t = map / 100 * s->max_fill + map % 100 * s->max_fill / 100;
    /* Webhook writes keep half the room above the trigger mark; pruning
     * starts an eighth below it, so that a steady stream of events is
     * pruned for before it is refused. */
    if (trigger) *trigger = t;
    if (admin) *admin = t + (map - t) / 2;
    if (prune) *prune = t - t / 8;
}

/* ---- the quarantine ------------------------------------------------------------ */

int hk_store_quarantine(hk_store_t *s, MDB_txn *txn, MDB_dbi dbi, uint8_t tag, const void *key,
                        size_t klen, const char *why)
{
    uint8_t qk[HK_STORE_KEY_BUF];
    MDB_val k = hk_store_val(key, klen), v, q;
    int rc;
    if (klen + 1 > s->max_key) return HK_EINVAL;
    if ((rc = mdb_get(txn, dbi, &k, &v))) return hk_store_mdb_err(rc, "quarantine_get");
    qk[0] = tag;
    memcpy(qk + 1, key, klen);
    MDB_val qkey = hk_store_val(qk, klen + 1);
    /* The value: u64 time set aside | the record's bytes as they were. */
    q = hk_store_val(NULL, 8 + v.mv_size);
    if ((rc = mdb_put(txn, s->quarantine, &qkey, &q, MDB_RESERVE)))
        return hk_store_mdb_err(rc, "quarantine_put");
    hk_store_be64_put(q.mv_data, (uint64_t)hk_store_now_ms());
    /* v may point into a page the put above moved: read it again. */
    if ((rc = mdb_get(txn, dbi, &k, &v))) return hk_store_mdb_err(rc, "quarantine_get");
    memcpy((uint8_t *)q.mv_data + 8, v.mv_data, v.mv_size);
    if ((rc = mdb_del(txn, dbi, &k, NULL))) return hk_store_mdb_err(rc, "quarantine_del");
    uint64_t id = klen >= 8 ? hk_store_be64_get(key) : 0;
    hk_log(HK_LOG_ERROR, "store_quarantined",
           "table=%u key=%llu bytes=%zu why=\"%s\" what=\"set aside in the quarantine table; "
           "everything else goes on\"",
           tag, (unsigned long long)id, v.mv_size, why);
    return 0;
}
