/* store.c -- hookd's durable state: webhooks (and their indexes) in one LMDB environment */
#include "store/store.h"
#include "core/crypto.h"
#include "store/store_impl.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * On-disk layout, schema 1, plus the outbox tables of outbox.c (created on
 * open when missing: they came before any release, so no schema change). Integers are big-endian so
 * that LMDB's default memcmp key order is numeric order.
 *
 *   meta      "schema"   -> u32           layout version; a newer one is refused
 *             "next_id"  -> u64           the next webhook id; only ever grows
 *             "keycheck" -> seal(KEYCHECK) proves secret.key belongs to this store
 *   webhooks  u64 id -> record
 *   names     fold(name) -> u64 id        unique names, case-insensitively
 *   match     u8 application | trigger_action | 0x00 | u64 id -> ""
 *             so the webhooks of one (application, trigger action) are one
 *             contiguous key range, in id order
 *
 * A record: u8 RECORD_V1 | u32 n | n bytes of the packed Webhook with
 * secret_key cleared | u32 m | m bytes of seal(u64 id | secret) (m = 0: no
 * secret). Sealing the id with the secret stops a sealed secret copied into
 * another record from opening there.
 */
#define SCHEMA_VERSION 1
#define RECORD_V1 1
#define DEFAULT_MAP_BYTES ((size_t)1 << 30)
#define MAX_DBS 16
#define KEY_FILE "secret.key"
#define KEYCHECK "hookd secret.key check v1"
#define WALK_CHUNK 64
#define KEY_BUF HK_STORE_KEY_BUF

/* ---- small helpers -------------------------------------------------------- */

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

static MDB_val val(const void *data, size_t len)
{
    MDB_val v = {len, (void *)data};
    return v;
}

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
    case ENOSPC: /* the disk, not the map, is full: to callers the same story */
    case EDQUOT: err = HK_EFULL; break;
    default: err = HK_EIO; break;
    }
    char q[160];
    hk_log(err == HK_EFULL ? HK_LOG_WARN : HK_LOG_ERROR, "store_error", "op=%s error=%s", op,
           hk_log_quote(mdb_strerror(rc), q, sizeof q));
    return err;
}

/* ---- names: the case-insensitive key --------------------------------------- */

/* Simple case folding (Unicode CaseFolding.txt, status C and S) of the
 * blocks ASCII, Latin-1 Supplement, Latin Extended-A, Greek and Coptic,
 * Cyrillic, Cyrillic Supplement and Armenian. Each is a two-byte UTF-8
 * sequence folding to a two-byte one (or to ASCII), so a folded name is never
 * longer than the name. Other blocks, full foldings (ß -> ss), invalid UTF-8
 * and normalization forms are compared byte for byte.
 *
 * The folded name is the key of the names index: changing this table changes
 * which names collide and needs a new schema that rebuilds the index. */
static const struct {
    uint16_t lo, hi;
    int16_t delta;
    uint8_t step; /* 1: every code point in lo..hi; 2: every other one */
} folds[] = {
    {0x00b5, 0x00b5, 775, 1}, /* micro sign -> Greek mu */
    {0x00c0, 0x00d6, 32, 1},   {0x00d8, 0x00de, 32, 1},  {0x0100, 0x012e, 1, 2},
    {0x0132, 0x0136, 1, 2},    {0x0139, 0x0147, 1, 2},   {0x014a, 0x0176, 1, 2},
    {0x0178, 0x0178, -121, 1}, {0x0179, 0x017d, 1, 2},   {0x017f, 0x017f, -268, 1},
    {0x0370, 0x0372, 1, 2},    {0x0376, 0x0376, 1, 1},   {0x037f, 0x037f, 116, 1},
    {0x0386, 0x0386, 38, 1},   {0x0388, 0x038a, 37, 1},  {0x038c, 0x038c, 64, 1},
    {0x038e, 0x038f, 63, 1},   {0x0391, 0x03a1, 32, 1},  {0x03a3, 0x03ab, 32, 1},
    {0x03c2, 0x03c2, 1, 1},    {0x03cf, 0x03cf, 8, 1},   {0x03d0, 0x03d0, -30, 1},
    {0x03d1, 0x03d1, -25, 1},  {0x03d5, 0x03d5, -15, 1}, {0x03d6, 0x03d6, -22, 1},
    {0x03d8, 0x03ee, 1, 2},    {0x03f0, 0x03f0, -54, 1}, {0x03f1, 0x03f1, -48, 1},
    {0x03f4, 0x03f4, -60, 1},  {0x03f5, 0x03f5, -64, 1}, {0x03f7, 0x03f7, 1, 1},
    {0x03f9, 0x03f9, -7, 1},   {0x03fa, 0x03fa, 1, 1},   {0x03fd, 0x03ff, -130, 1},
    {0x0400, 0x040f, 80, 1},   {0x0410, 0x042f, 32, 1},  {0x0460, 0x0480, 1, 2},
    {0x048a, 0x04be, 1, 2},    {0x04c0, 0x04c0, 15, 1},  {0x04c1, 0x04cd, 1, 2},
    {0x04d0, 0x052e, 1, 2},    {0x0531, 0x0556, 48, 1},
};

static unsigned fold_cp(unsigned cp)
{
    for (size_t i = 0; i < sizeof folds / sizeof folds[0]; i++) {
        if (cp < folds[i].lo || cp > folds[i].hi) continue;
        if (folds[i].step == 2 && (cp - folds[i].lo) % 2) return cp;
        return (unsigned)((int)cp + folds[i].delta);
    }
    return cp;
}

/* Writes the folded name into out (KEY_BUF bytes). HK_EINVAL when the name
 * is empty or its key would exceed LMDB's key size. */
static int name_key(const hk_store_t *s, const char *name, uint8_t *out, size_t *outlen)
{
    size_t len = name ? strlen(name) : 0, n = 0;
    if (len == 0 || len > s->max_key) return HK_EINVAL;
    const uint8_t *p = (const uint8_t *)name;
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i];
        if (c >= 'A' && c <= 'Z') {
            out[n++] = (uint8_t)(c + 32);
        } else if (c >= 0xc2 && c <= 0xd5 && i + 1 < len && (p[i + 1] & 0xc0) == 0x80) {
            unsigned cp = fold_cp((c & 0x1f) << 6 | (p[i + 1] & 0x3f));
            if (cp < 0x80) {
                out[n++] = (uint8_t)cp;
            } else {
                out[n++] = (uint8_t)(0xc0 | cp >> 6);
                out[n++] = (uint8_t)(0x80 | (cp & 0x3f));
            }
            i++;
        } else {
            out[n++] = (uint8_t)c;
        }
    }
    *outlen = n;
    return 0;
}

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

/* ---- records --------------------------------------------------------------- */

/* Splits a record into its packed message and its sealed secret. */
static int record_parse(const MDB_val *v, const uint8_t **pb, size_t *pblen, const uint8_t **sealed,
                        size_t *sealedlen)
{
    const uint8_t *p = v->mv_data;
    size_t len = v->mv_size;
    if (len < 9 || p[0] != RECORD_V1) return HK_ECORRUPT;
    size_t n = hk_store_be32_get(p + 1);
    if (n > len - 9) return HK_ECORRUPT;
    size_t m = hk_store_be32_get(p + 5 + n);
    if (m != len - 9 - n || (m && m < HK_SEAL_OVERHEAD + 8)) return HK_ECORRUPT;
    *pb = p + 5;
    *pblen = n;
    *sealed = m ? p + 9 + n : NULL;
    *sealedlen = m;
    return 0;
}

/* Seals "id | secret" into a new heap buffer. */
static int secret_seal(const hk_store_t *s, uint64_t id, const char *secret, uint8_t **out,
                       size_t *outlen)
{
    size_t slen = strlen(secret), plen = 8 + slen;
    uint8_t *plain = malloc(plen), *box = malloc(plen + HK_SEAL_OVERHEAD);
    int err = HK_ENOMEM;
    if (!plain || !box) goto out;
    hk_store_be64_put(plain, id);
    memcpy(plain + 8, secret, slen);
    hk_crypto_seal(s->key, plain, plen, box);
    *out = box;
    *outlen = plen + HK_SEAL_OVERHEAD;
    box = NULL;
    err = 0;
out:
    if (plain) hk_crypto_wipe(plain, plen);
    free(plain);
    free(box);
    return err;
}

/* Opens a sealed secret of webhook id into a new NUL-terminated string. */
static int secret_open(const hk_store_t *s, uint64_t id, const uint8_t *sealed, size_t len,
                       char **out)
{
    size_t plen = len - HK_SEAL_OVERHEAD;
    uint8_t *plain = malloc(plen);
    char *secret = NULL;
    int err = HK_ENOMEM;
    if (!plain) goto out;
    err = hk_crypto_open(s->key, sealed, len, plain);
    if (err == 0 && (plen < 8 || hk_store_be64_get(plain) != id)) err = HK_ECORRUPT;
    if (err) goto out;
    err = HK_ENOMEM;
    if (!(secret = malloc(plen - 8 + 1))) goto out;
    memcpy(secret, plain + 8, plen - 8);
    secret[plen - 8] = '\0';
    *out = secret;
    err = 0;
out:
    if (plain) hk_crypto_wipe(plain, plen);
    free(plain);
    return err;
}

/* Encodes wh (its secret sealed anew, or keep_sealed when wh has none and
 * keep_sealed is given) into a new heap buffer. */
static int record_encode(const hk_store_t *s, const hk_webhook_t *wh, const uint8_t *keep_sealed,
                         size_t keep_len, uint8_t **out, size_t *outlen)
{
    hk_webhook_t bare = *wh;
    uint8_t *sealed = NULL, *buf = NULL;
    size_t m = 0;
    int err;

    if (wh->secret_key && wh->secret_key[0]) {
        if ((err = secret_seal(s, wh->id, wh->secret_key, &sealed, &m))) goto out;
    } else if (keep_sealed) {
        err = HK_ENOMEM;
        if (!(sealed = malloc(keep_len))) goto out;
        memcpy(sealed, keep_sealed, keep_len);
        m = keep_len;
    }
    bare.secret_key = (char *)"";
    size_t n = hookd__v1__webhook__get_packed_size(&bare);
    err = HK_EINVAL;
    if (n > UINT32_MAX / 2) goto out;
    err = HK_ENOMEM;
    if (!(buf = malloc(9 + n + m))) goto out;
    buf[0] = RECORD_V1;
    hk_store_be32_put(buf + 1, (uint32_t)n);
    hookd__v1__webhook__pack(&bare, buf + 5);
    hk_store_be32_put(buf + 5 + n, (uint32_t)m);
    if (m) memcpy(buf + 9 + n, sealed, m);
    *out = buf;
    *outlen = 9 + n + m;
    buf = NULL;
    err = 0;
out:
    free(sealed);
    free(buf);
    return err;
}

/* Unpacks the message of a record, secret not opened. */
static int record_unpack(uint64_t id, const uint8_t *pb, size_t pblen, hk_webhook_t **out)
{
    hk_webhook_t *wh = hookd__v1__webhook__unpack(NULL, pblen, pb);
    /* protobuf-c says NULL for both a bad message and no memory; a record we
     * wrote ourselves that does not unpack is the likelier story. */
    if (!wh || wh->id != id) {
        if (wh) hookd__v1__webhook__free_unpacked(wh, NULL);
        hk_log(HK_LOG_ERROR, "store_corrupt", "id=%llu what=record", (unsigned long long)id);
        return HK_ECORRUPT;
    }
    *out = wh;
    return 0;
}

/* Gives wh (from record_unpack) its secret in clear. */
static int record_attach_secret(const hk_store_t *s, hk_webhook_t *wh, const uint8_t *sealed,
                                size_t len)
{
    if (!sealed) return 0;
    char *secret = NULL;
    int err = secret_open(s, wh->id, sealed, len, &secret);
    if (err == HK_ECORRUPT)
        hk_log(HK_LOG_ERROR, "store_corrupt", "id=%llu what=secret", (unsigned long long)wh->id);
    if (err) return err;
    /* The unpacked field points at protobuf-c's shared empty string, which
     * free_unpacked knows not to free; ours is freed with the message. */
    wh->secret_key = secret;
    return 0;
}

static int record_decode(const hk_store_t *s, uint64_t id, const MDB_val *v, hk_webhook_t **out)
{
    const uint8_t *pb, *sealed;
    size_t pblen, sealedlen;
    hk_webhook_t *wh = NULL;
    int err = record_parse(v, &pb, &pblen, &sealed, &sealedlen);
    if (err) {
        hk_log(HK_LOG_ERROR, "store_corrupt", "id=%llu what=record_header", (unsigned long long)id);
        return err;
    }
    if ((err = record_unpack(id, pb, pblen, &wh))) return err;
    if ((err = record_attach_secret(s, wh, sealed, sealedlen))) {
        hk_webhook_free(wh);
        return err;
    }
    *out = wh;
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

/* ---- transactions ---------------------------------------------------------- */

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

/* Admin writes take the one writer LMDB allows: an open outbox batch is
 * committed first (its waiters hear the outcome through the hook). */
static int write_begin(hk_store_t *s, MDB_txn **txn)
{
    if (s->batch) hk_outbox_batch_commit(s);
    s->admin_gen++;
    int rc = mdb_txn_begin(s->env, NULL, 0, txn);
    return rc ? hk_store_mdb_err(rc, "write_begin") : 0;
}

int hk_store_write_end(hk_store_t *s, MDB_txn *txn, int err, const char *op)
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

static int meta_get_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t *out)
{
    MDB_val k = val(name, strlen(name)), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc) return rc == MDB_NOTFOUND ? HK_ECORRUPT : hk_store_mdb_err(rc, "meta_get");
    if (v.mv_size != 8) return HK_ECORRUPT;
    *out = hk_store_be64_get(v.mv_data);
    return 0;
}

static int meta_put(hk_store_t *s, MDB_txn *txn, const char *name, const void *data, size_t len)
{
    MDB_val k = val(name, strlen(name)), v = val(data, len);
    int rc = mdb_put(txn, s->meta, &k, &v, 0);
    return rc ? hk_store_mdb_err(rc, "meta_put") : 0;
}

static int meta_put_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t value)
{
    uint8_t b[8];
    hk_store_be64_put(b, value);
    return meta_put(s, txn, name, b, sizeof b);
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

    if ((err = name_key(s, wh->name, nkey, &nlen))) goto out;
    if ((err = meta_get_u64(s, txn, "next_id", &id))) goto out;
    if ((err = match_key(s, wh->application, wh->trigger_action, id, mkey, &mlen))) goto out;
    wh->id = id;
    wh->create_time = wh->update_time = now;
    hk_store_be64_put(idb, id);

    MDB_val k = val(nkey, nlen), v = val(idb, 8);
    if ((rc = mdb_put(txn, s->names, &k, &v, MDB_NOOVERWRITE))) {
        err = hk_store_mdb_err(rc, "names_put");
        goto out;
    }
    if ((err = record_encode(s, wh, NULL, 0, &rec, &reclen))) goto out;
    k = val(idb, 8);
    v = val(rec, reclen);
    /* The counter only grows, so an existing record here means the counter
     * went back: the store is inconsistent, not the caller wrong. */
    if ((rc = mdb_put(txn, s->webhooks, &k, &v, MDB_NOOVERWRITE))) {
        err = rc == MDB_KEYEXIST ? HK_ECORRUPT : hk_store_mdb_err(rc, "webhooks_put");
        goto out;
    }
    k = val(mkey, mlen);
    v = val(NULL, 0);
    if ((rc = mdb_put(txn, s->match, &k, &v, 0))) {
        err = hk_store_mdb_err(rc, "match_put");
        goto out;
    }
    err = meta_put_u64(s, txn, "next_id", id + 1);
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

    if ((err = name_key(s, wh->name, nkey, &nlen))) goto out;
    if ((err = match_key(s, wh->application, wh->trigger_action, wh->id, mkey, &mlen))) goto out;
    hk_store_be64_put(idb, wh->id);
    MDB_val k = val(idb, 8), v;
    if ((rc = mdb_get(txn, s->webhooks, &k, &v))) {
        err = hk_store_mdb_err(rc, "webhooks_get");
        goto out;
    }
    if ((err = record_parse(&v, &pb, &pblen, &sealed, &sealedlen))) goto out;
    if ((err = record_unpack(wh->id, pb, pblen, &old))) goto out;
    /* Copied now: the value points into a page that later puts in this txn
     * may reuse. */
    if (sealed) {
        err = HK_ENOMEM;
        if (!(keep = malloc(sealedlen))) goto out;
        memcpy(keep, sealed, sealedlen);
        keeplen = sealedlen;
    }
    if ((err = name_key(s, old->name, oldnkey, &oldnlen))) goto out;
    if ((err = match_key(s, old->application, old->trigger_action, wh->id, oldmkey, &oldmlen)))
        goto out;

    /* A rename that only changes letter case folds to the same key, which
     * already names this id: nothing to move. */
    if (nlen != oldnlen || memcmp(nkey, oldnkey, nlen) != 0) {
        k = val(nkey, nlen);
        v = val(idb, 8);
        if ((rc = mdb_put(txn, s->names, &k, &v, MDB_NOOVERWRITE))) {
            err = hk_store_mdb_err(rc, "names_put");
            goto out;
        }
        k = val(oldnkey, oldnlen);
        if ((rc = mdb_del(txn, s->names, &k, NULL)) && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "names_del");
            goto out;
        }
    }
    if (mlen != oldmlen || memcmp(mkey, oldmkey, mlen) != 0) {
        k = val(oldmkey, oldmlen);
        if ((rc = mdb_del(txn, s->match, &k, NULL)) && rc != MDB_NOTFOUND) {
            err = hk_store_mdb_err(rc, "match_del");
            goto out;
        }
        k = val(mkey, mlen);
        v = val(NULL, 0);
        if ((rc = mdb_put(txn, s->match, &k, &v, 0))) {
            err = hk_store_mdb_err(rc, "match_put");
            goto out;
        }
    }

    wh->create_time = old->create_time;
    wh->update_time = now;
    if ((err = record_encode(s, wh, keep, keeplen, &rec, &reclen))) goto out;
    k = val(idb, 8);
    v = val(rec, reclen);
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
    MDB_val k = val(idb, 8), v;
    if ((rc = mdb_get(txn, s->webhooks, &k, &v))) {
        err = hk_store_mdb_err(rc, "webhooks_get");
        goto out;
    }
    if (oldp) {
        err = record_decode(s, id, &v, &old);
    } else {
        const uint8_t *pb, *sealed;
        size_t pblen, sealedlen;
        err = record_parse(&v, &pb, &pblen, &sealed, &sealedlen);
        if (!err) err = record_unpack(id, pb, pblen, &old);
    }
    if (err) goto out;
    if ((err = name_key(s, old->name, nkey, &nlen))) goto out;
    if ((err = match_key(s, old->application, old->trigger_action, id, mkey, &mlen))) goto out;

    if ((rc = mdb_del(txn, s->webhooks, &k, NULL))) {
        err = hk_store_mdb_err(rc, "webhooks_del");
        goto out;
    }
    /* A missing index entry is already the state we want. */
    k = val(nkey, nlen);
    if ((rc = mdb_del(txn, s->names, &k, NULL)) && rc != MDB_NOTFOUND) {
        err = hk_store_mdb_err(rc, "names_del");
        goto out;
    }
    k = val(mkey, mlen);
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

int hk_store_webhook_create(hk_store_t *store, hk_webhook_t *wh)
{
    uint64_t id = wh->id;
    int64_t ct = wh->create_time, ut = wh->update_time;
    MDB_txn *txn;
    int err = write_begin(store, &txn);
    if (err) return err;
    err = hk_store_write_end(store, txn, webhook_create_txn(store, txn, wh, hk_store_now_ms()),
                             "webhook_create");
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
    size_t unparked = 0;
    MDB_txn *txn;
    int err = write_begin(store, &txn);
    if (err) return err;
    err = hk_store_write_end(store, txn,
                             webhook_update_txn(store, txn, wh, hk_store_now_ms(), &unparked),
                             "webhook_update");
    if (err) {
        wh->create_time = ct;
        wh->update_time = ut;
    } else if (unparked) {
        hk_outbox_notify(store, HK_OUTBOX_DUE_ADDED, 0, 0);
    }
    return err;
}

int hk_store_webhook_delete(hk_store_t *store, uint64_t id, hk_webhook_t **old)
{
    hk_webhook_t *was = NULL;
    MDB_txn *txn;
    int err = write_begin(store, &txn);
    if (err) return err;
    err = hk_store_write_end(store, txn, webhook_delete_txn(store, txn, id, old ? &was : NULL),
                             "webhook_delete");
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
    MDB_val k = val(idb, 8), v;
    int rc = mdb_get(txn, s->webhooks, &k, &v);
    if (rc) return hk_store_mdb_err(rc, "webhooks_get");
    return record_decode(s, id, &v, out);
}

/* get_in without opening the secret (secret_key left empty). */
static int bare_in(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_webhook_t **out)
{
    uint8_t idb[8];
    const uint8_t *pb, *sealed;
    size_t pblen, sealedlen;
    hk_store_be64_put(idb, id);
    MDB_val k = val(idb, 8), v;
    int rc = mdb_get(txn, s->webhooks, &k, &v);
    if (rc) return hk_store_mdb_err(rc, "webhooks_get");
    int err = record_parse(&v, &pb, &pblen, &sealed, &sealedlen);
    if (err) {
        hk_log(HK_LOG_ERROR, "store_corrupt", "id=%llu what=record_header", (unsigned long long)id);
        return err;
    }
    return record_unpack(id, pb, pblen, out);
}

int hk_store_webhook_active_in(hk_store_t *s, MDB_txn *txn, uint64_t id, int *active)
{
    uint8_t idb[8];
    const uint8_t *pb, *sealed;
    size_t pblen, sealedlen;
    hk_webhook_t *wh = NULL;
    /* Every txn the loop opens outside an admin write sees the latest admin
     * write, so what any of them read holds until the next one. */
    hk_store_active_t *e = &s->active_cache[id % HK_STORE_ACTIVE_CACHE];
    if (e->gen == s->admin_gen && e->id == id) {
        if (e->state < 0) return HK_ENOTFOUND;
        *active = e->state;
        return 0;
    }
    hk_store_be64_put(idb, id);
    MDB_val k = val(idb, 8), v;
    int rc = mdb_get(txn, s->webhooks, &k, &v);
    if (rc == MDB_NOTFOUND) {
        e->id = id;
        e->gen = s->admin_gen;
        e->state = -1;
    }
    if (rc) return hk_store_mdb_err(rc, "webhooks_get");
    int err = record_parse(&v, &pb, &pblen, &sealed, &sealedlen);
    if (!err) err = record_unpack(id, pb, pblen, &wh);
    if (err) return err;
    *active = wh->active;
    hookd__v1__webhook__free_unpacked(wh, NULL);
    e->id = id;
    e->gen = s->admin_gen;
    e->state = *active != 0;
    return 0;
}

int hk_store_webhook_get(hk_store_t *store, uint64_t id, hk_webhook_t **out)
{
    MDB_txn *txn;
    int err = hk_store_read_begin(store, &txn);
    if (err) return err;
    err = get_in(store, txn, id, out);
    hk_store_read_end(store, txn);
    return err;
}

int hk_store_webhook_find(hk_store_t *store, const char *name, hk_webhook_t **out)
{
    uint8_t nkey[KEY_BUF];
    size_t nlen;
    MDB_txn *txn;
    /* A name no webhook could have is simply not found. */
    if (name_key(store, name, nkey, &nlen)) return HK_ENOTFOUND;
    int err = hk_store_read_begin(store, &txn);
    if (err) return err;
    MDB_val k = val(nkey, nlen), v;
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
    hk_store_read_end(store, txn);
    return err;
}

int hk_store_webhook_count(hk_store_t *store, uint64_t *out)
{
    MDB_txn *txn;
    MDB_stat st;
    int err = hk_store_read_begin(store, &txn);
    if (err) return err;
    int rc = mdb_stat(txn, store->webhooks, &st);
    hk_store_read_end(store, txn);
    if (rc) return hk_store_mdb_err(rc, "stat");
    *out = st.ms_entries;
    return 0;
}

/* ---- walks ----------------------------------------------------------------------
 * A walk reads up to WALK_CHUNK records in one read txn, ends it, then hands
 * them to the visitor. So a visitor may call back into the store (even
 * write), and no read txn stays open across callbacks to pin old pages. The
 * walk resumes after the last id it read, so records created meanwhile with
 * higher ids are seen, as in paging. */

typedef struct {
    hk_webhook_t *items[WALK_CHUNK];
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
    MDB_val k = val(idb, 8), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && c->n < WALK_CHUNK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *pb, *sealed;
        size_t pblen, sealedlen;
        hk_webhook_t *wh = NULL;
        if (k.mv_size != 8) {
            err = HK_ECORRUPT;
            break;
        }
        uint64_t id = hk_store_be64_get(k.mv_data);
        if ((err = record_parse(&v, &pb, &pblen, &sealed, &sealedlen))) break;
        if ((err = record_unpack(id, pb, pblen, &wh))) break;
        /* Filter before opening the secret: most rows may not pass. */
        if ((w->application && (int)wh->application != w->application) ||
            (w->action && strcmp(wh->trigger_action, w->action) != 0)) {
            hk_webhook_free(wh);
        } else if ((err = record_attach_secret(s, wh, sealed, sealedlen))) {
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
    MDB_val k = val(start, w->prefix_len + 8), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && c->n < WALK_CHUNK;
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
        if ((err = hk_store_read_begin(s, &txn))) break;
        err = w->use_index ? chunk_index(s, txn, w, &c) : chunk_scan(s, txn, w, &c);
        hk_store_read_end(s, txn);
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

/* ---- the key file ------------------------------------------------------------ */

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? HK_EINVAL : 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Creates the key file whole or not at all: written and synced under a
 * temporary name, then linked into place (link refuses an existing name, so
 * two hookds starting together agree on one key). HK_EEXIST: another won. */
static int key_create(const char *dir, const char *path, uint8_t key[HK_SEAL_KEY_BYTES])
{
    char tmp[PATH_MAX];
    char suffix[64];
    int fd = -1, err = HK_EIO;
    snprintf(suffix, sizeof suffix, KEY_FILE ".%ld.tmp", (long)getpid());
    if (path_join(tmp, sizeof tmp, dir, suffix)) return HK_EINVAL;
    unlink(tmp); /* left by a crash of a process that had our pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) goto out;
    hk_crypto_random(key, HK_SEAL_KEY_BYTES);
    if (write_all(fd, key, HK_SEAL_KEY_BYTES) || fsync(fd)) goto out;
    if (link(tmp, path) != 0) {
        err = errno == EEXIST ? HK_EEXIST : HK_EIO;
        goto out;
    }
    fsync_dir(dir);
    err = 0;
out:
    if (err == HK_EIO) hk_log(HK_LOG_ERROR, "store_key_create", "errno=%d", errno);
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (err) hk_crypto_wipe(key, HK_SEAL_KEY_BYTES);
    return err;
}

/* Reads the key file, creating it when may_create. Refuses a key file that
 * others could read or that is not exactly one key long. */
static int key_load(const char *dir, int may_create, uint8_t key[HK_SEAL_KEY_BYTES])
{
    char path[PATH_MAX], q[PATH_MAX + 8];
    struct stat st;
    int fd = -1, err;
    if (path_join(path, sizeof path, dir, KEY_FILE)) return HK_EINVAL;

    for (int tries = 0; tries < 2; tries++) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 || errno != ENOENT) break;
        if (!may_create) {
            hk_log(HK_LOG_ERROR, "store_key_missing",
                   "path=%s why=\"the store has sealed "
                   "secrets but no key file\"",
                   hk_log_quote(path, q, sizeof q));
            return HK_ESTATE;
        }
        err = key_create(dir, path, key);
        if (err == 0) {
            hk_log(HK_LOG_INFO, "store_key_created", "path=%s", hk_log_quote(path, q, sizeof q));
            return 0;
        }
        if (err != HK_EEXIST) return err;
    }
    err = HK_EIO;
    if (fd < 0) {
        hk_log(HK_LOG_ERROR, "store_key_open", "path=%s errno=%d", hk_log_quote(path, q, sizeof q),
               errno);
        goto out;
    }
    if (fstat(fd, &st) != 0) goto out;
    err = HK_ESTATE;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        hk_log(HK_LOG_ERROR, "store_key_mode",
               "path=%s mode=%04o why=\"must be a file of mode "
               "0600 or stricter\"",
               hk_log_quote(path, q, sizeof q), (unsigned)(st.st_mode & 07777));
        goto out;
    }
    err = HK_ECORRUPT;
    if (st.st_size != HK_SEAL_KEY_BYTES) {
        hk_log(HK_LOG_ERROR, "store_key_size", "path=%s size=%lld expected=%d",
               hk_log_quote(path, q, sizeof q), (long long)st.st_size, HK_SEAL_KEY_BYTES);
        goto out;
    }
    size_t got = 0;
    while (got < HK_SEAL_KEY_BYTES) {
        ssize_t n = read(fd, key + got, HK_SEAL_KEY_BYTES - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    err = got == HK_SEAL_KEY_BYTES ? 0 : HK_EIO;
out:
    if (fd >= 0) close(fd);
    if (err) hk_crypto_wipe(key, HK_SEAL_KEY_BYTES);
    return err;
}

/* ---- open / close ---------------------------------------------------------- */

static int open_dbs(hk_store_t *s, MDB_txn *txn, int *fresh)
{
    static const char schema_key[] = "schema";
    MDB_val k = val(schema_key, sizeof schema_key - 1), v;
    int rc;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)))
        return hk_store_mdb_err(rc, "dbi_open");
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *fresh = 1;
    } else if (rc) {
        return hk_store_mdb_err(rc, "meta_get");
    } else {
        if (v.mv_size != 4) return HK_ECORRUPT;
        uint32_t schema = hk_store_be32_get(v.mv_data);
        /* A newer hookd wrote this; an older one must not touch it. */
        if (schema > SCHEMA_VERSION) {
            hk_log(HK_LOG_ERROR, "store_schema_newer", "schema=%u supported=%d", schema,
                   SCHEMA_VERSION);
            return HK_ESTATE;
        }
        if (schema < 1) return HK_ECORRUPT;
        *fresh = 0;
    }
    if ((rc = mdb_dbi_open(txn, "webhooks", MDB_CREATE, &s->webhooks)) ||
        (rc = mdb_dbi_open(txn, "names", MDB_CREATE, &s->names)) ||
        (rc = mdb_dbi_open(txn, "match", MDB_CREATE, &s->match)))
        return hk_store_mdb_err(rc, "dbi_open");
    return hk_outbox_open(s, txn);
}

/* Checks the key against the store, or (fresh store) writes the first meta. */
static int init_meta(hk_store_t *s, MDB_txn *txn, int fresh)
{
    static const char check[] = KEYCHECK;
    uint8_t box[sizeof check - 1 + HK_SEAL_OVERHEAD], plain[sizeof check - 1];
    int err;
    if (fresh) {
        uint8_t b[4];
        hk_store_be32_put(b, SCHEMA_VERSION);
        hk_crypto_seal(s->key, (const uint8_t *)check, sizeof check - 1, box);
        if ((err = meta_put(s, txn, "schema", b, 4)) ||
            (err = meta_put_u64(s, txn, "next_id", 1)) ||
            (err = meta_put(s, txn, "keycheck", box, sizeof box)))
            return err;
        return 0;
    }
    MDB_val k = val("keycheck", 8), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc) return rc == MDB_NOTFOUND ? HK_ECORRUPT : hk_store_mdb_err(rc, "meta_get");
    if (v.mv_size != sizeof box || hk_crypto_open(s->key, v.mv_data, v.mv_size, plain) != 0 ||
        memcmp(plain, check, sizeof plain) != 0) {
        hk_log(HK_LOG_ERROR, "store_key_mismatch",
               "why=\"secret.key is not the key this store's "
               "secrets are sealed with\"");
        return HK_ECORRUPT;
    }
    return 0;
}

int hk_store_open(const char *dir, size_t map_bytes, hk_store_t **out)
{
    hk_store_t *s = NULL;
    MDB_txn *txn = NULL;
    char q[PATH_MAX + 8];
    int rc, err, fresh = 0;

    if (!dir || !*dir) return HK_EINVAL;
    if ((err = hk_crypto_init())) return err;
    if ((err = hk_fs_mkdirs(dir, 0700, 0700))) {
        hk_log(HK_LOG_ERROR, "store_mkdir", "dir=%s errno=%d", hk_log_quote(dir, q, sizeof q),
               errno);
        return err;
    }
    if (!(s = calloc(1, sizeof *s))) return HK_ENOMEM;

    if ((rc = mdb_env_create(&s->env))) {
        err = hk_store_mdb_err(rc, "env_create");
        goto out;
    }
    /* MDB_NOTLS: reader slots belong to txns, not to the thread, so the
     * cached read txn may sit reset while this thread writes, as LMDB's rules
     * otherwise forbid. MDB_NOSYNC: commits do not sync; every write path
     * syncs before it reports success (admin writes inline, outbox batches
     * through hk_store_sync), so many outbox writes share one sync. */
    if ((rc = mdb_env_set_maxdbs(s->env, MAX_DBS)) ||
        (rc = mdb_env_set_mapsize(s->env, map_bytes ? map_bytes : DEFAULT_MAP_BYTES)) ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOSYNC, 0600))) {
        err = hk_store_mdb_err(rc, "env_open");
        goto out;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* slots left by crashed processes */
    s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
    if (s->max_key >= KEY_BUF) s->max_key = KEY_BUF - 1;

    if ((err = write_begin(s, &txn))) goto out;
    if ((err = open_dbs(s, txn, &fresh))) goto out;
    if ((err = key_load(dir, fresh, s->key))) goto out;
    if ((err = init_meta(s, txn, fresh))) goto out;
    err = hk_store_write_end(s, txn, 0, "open");
    txn = NULL;
    if (err) goto out;

    uint64_t n = 0;
    hk_store_webhook_count(s, &n);
    hk_log(HK_LOG_INFO, "store_open", "dir=%s schema=%d webhooks=%llu fresh=%d",
           hk_log_quote(dir, q, sizeof q), SCHEMA_VERSION, (unsigned long long)n, fresh);
    s->ready = 1;
    *out = s;
    s = NULL;
out:
    if (txn) mdb_txn_abort(txn);
    hk_store_close(s);
    return err;
}

void hk_store_close(hk_store_t *store)
{
    if (!store) return;
    /* Whatever the last batch holds (attempt results, mostly) is kept. */
    if (store->batch) hk_outbox_batch_commit(store);
    if (store->ready) hk_store_sync(store);
    if (store->rtxn) mdb_txn_abort(store->rtxn);
    if (store->env) mdb_env_close(store->env);
    hk_crypto_wipe(store->key, sizeof store->key);
    free(store);
}
