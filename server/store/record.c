/* record.c -- the webhook record at rest, and whether a webhook is active */
#include "core/error.h"
#include "core/log.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

/*
 * A record: u8 RECORD_V1 | u32 n | n bytes of the packed Webhook with
 * secret_key cleared | u32 m | m bytes of seal(u64 id | secret) (m = 0: no
 * secret). Sealing the id with the secret stops a sealed secret copied into
 * another record from opening there.
 */
#define RECORD_V1 1

/* Splits a record into its packed message and its sealed secret. */
int hk_record_parse(const MDB_val *v, const uint8_t **pb, size_t *pblen, const uint8_t **sealed,
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
int hk_record_encode(const hk_store_t *s, const hk_webhook_t *wh, const uint8_t *keep_sealed,
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
int hk_record_unpack(uint64_t id, const uint8_t *pb, size_t pblen, hk_webhook_t **out)
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

/* Gives wh (from hk_record_unpack) its secret in clear. */
int hk_record_attach_secret(const hk_store_t *s, hk_webhook_t *wh, const uint8_t *sealed,
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

int hk_record_decode(const hk_store_t *s, uint64_t id, const MDB_val *v, hk_webhook_t **out)
{
    const uint8_t *pb, *sealed;
    size_t pblen, sealedlen;
    hk_webhook_t *wh = NULL;
    int err = hk_record_parse(v, &pb, &pblen, &sealed, &sealedlen);
    if (err) {
        hk_log(HK_LOG_ERROR, "store_corrupt", "id=%llu what=record_header", (unsigned long long)id);
        return err;
    }
    if ((err = hk_record_unpack(id, pb, pblen, &wh))) return err;
    if ((err = hk_record_attach_secret(s, wh, sealed, sealedlen))) {
        /* No secret attached: nothing to wipe. */
        hookd__v1__webhook__free_unpacked(wh, NULL);
        return err;
    }
    *out = wh;
    return 0;
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
    MDB_val k = hk_store_val(idb, 8), v;
    int rc = mdb_get(txn, s->webhooks, &k, &v);
    if (rc == MDB_NOTFOUND) {
        e->id = id;
        e->gen = s->admin_gen;
        e->state = -1;
    }
    if (rc) return hk_store_mdb_err(rc, "webhooks_get");
    int err = hk_record_parse(&v, &pb, &pblen, &sealed, &sealedlen);
    if (!err) err = hk_record_unpack(id, pb, pblen, &wh);
    if (err) return err;
    *active = wh->active;
    hookd__v1__webhook__free_unpacked(wh, NULL);
    e->id = id;
    e->gen = s->admin_gen;
    e->state = *active != 0;
    return 0;
}
