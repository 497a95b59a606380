/* store_impl.h -- the store's insides, shared by the modules of server/store only */
#ifndef HK_STORE_IMPL_H
#define HK_STORE_IMPL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "store/batch.h"
#include "store/deliveries.h"
#include "store/store.h"
#include "store/webhooks.h"

/* Nothing outside server/store includes this file: callers see hookd's own
 * types and errors, never LMDB's.
 *
 * Calls go one way, down this list; no module calls one above it:
 *
 *   store.c       open and close: the environment, every table, the counters
 *   webhooks.c    webhook records and their name and match indexes; parks,
 *                 unparks and cancels a webhook's deliveries through due.c
 *   prune.c       deleting old deliveries and event ids
 *   events.c      seen event ids
 *   due.c         the due index, and parking a webhook's deliveries
 *   deliveries.c  delivery records, bodies, attempts, their indexes
 *   record.c      the webhook record at rest, and whether a webhook is active
 *   batch.c       the one writer: the write batch and admin writes; reads
 *                 that see the batch; sync
 *   txn.c         LMDB's errors, big-endian keys, read txns, meta, index entries
 *   names.c, keyfile.c   call nothing of the store
 *
 * So the outbox (deliveries, due, events, prune) never calls webhooks.c: it
 * asks record.c whether a webhook is active.
 *
 * On-disk layout, schema 1 (integers big-endian, so that LMDB's default
 * memcmp key order is numeric order). The outbox tables (deliveries ..
 * event_times) are created on open when missing: they came before any
 * release, so no schema change.
 *
 *   meta      "schema"   -> u32           layout version; a newer one is refused
 *             "next_id"  -> u64           the next webhook id; only ever grows
 *             "keycheck" -> seal(KEYCHECK) proves secret.key belongs to this store
 *             "next_delivery" -> u64      the next delivery id; only grows
 *   webhooks  u64 id -> record (record.c)
 *   names     fold(name) -> u64 id        unique names, case-insensitively (names.c)
 *   match     u8 application | trigger_action | 0x00 | u64 id -> ""
 *             so the webhooks of one (application, trigger action) are one
 *             contiguous key range, in id order
 *   deliveries   u64 id -> u8 DELIVERY_V1 | packed Delivery (no attempts, no payload)
 *   bodies       u64 id -> u32 data_len | the notification body
 *   attempts     u64 id | u32 seq -> packed Attempt
 *   due          u64 time | u64 id -> ""      PENDING deliveries of active webhooks,
 *                                            minus those whose attempt is in flight
 *   pending      u64 webhook id | u64 id -> "" every PENDING delivery
 *   by_webhook   u64 webhook id | u64 id -> "" every delivery, for listing
 *   events       event id -> u64 time | the first answer (opaque bytes)
 *   event_times  u64 time | event id -> ""   for pruning event ids by age
 *
 * The body is kept apart from the delivery record so that recording an
 * attempt rewrites a hundred bytes, not the payload. A delivery's
 * next_attempt_time always names its due key when it has one.
 */

#define HK_STORE_KEY_BUF 512     /* > LMDB's default max key size (511) */
#define HK_STORE_ACTIVE_CACHE 64 /* webhooks whose active flag is remembered */
#define HK_STORE_CHUNK 64        /* records read per read txn in walks */
#define HK_STORE_NEXT_DELIVERY "next_delivery"
#define HK_DELIVERY_V1 1

typedef struct {
    uint64_t id, gen;
    int state; /* -1: no such webhook; 0: inactive; 1: active */
} hk_store_active_t;

struct hk_store {
    MDB_env *env;
    MDB_dbi meta, webhooks, names, match;
    /* The outbox: see the layout above. */
    MDB_dbi deliveries, bodies, attempts, due, by_webhook, pending, events, event_times;
    size_t max_key;
    /* One read txn kept reset between reads: a renew is far cheaper than a
     * begin (no allocation, no reader-table scan). */
    MDB_txn *rtxn;
    int rtxn_busy;
    uint8_t key[HK_SEAL_KEY_BYTES];
    int ready; /* opened whole: closing syncs */

    /* Whether a webhook exists and is active, as last read: every delivery
     * written or attempt recorded asks, and decoding the record each time
     * was a good part of the cost. Entries hold for one admin_gen, which
     * every admin write moves on (at its start and at its end), so nothing
     * read before or during one is believed after it. */
    hk_store_active_t active_cache[HK_STORE_ACTIVE_CACHE];
    uint64_t admin_gen;

    /* The outbox batch: one write txn gathering outbox writes until
     * hk_outbox_batch_commit (or an admin write, which commits it first). */
    MDB_txn *batch;
    uint64_t batch_gen;      /* the open batch's number; the last one's when none is open */
    uint64_t batch_first_id; /* the least id of the PENDING deliveries created in the open batch */
    uint64_t next_delivery_id;
    uint64_t batch_failures;
    uint64_t prune_cursor; /* the delivery id pruning resumes from */
    hk_outbox_hook_fn hook;
    void *hook_arg;
};

static inline MDB_val hk_store_val(const void *data, size_t len)
{
    MDB_val v = {len, (void *)data};
    return v;
}

/* ---- txn.c ------------------------------------------------------------------ */

void hk_store_be64_put(uint8_t *p, uint64_t v);
uint64_t hk_store_be64_get(const uint8_t *p);
void hk_store_be32_put(uint8_t *p, uint32_t v);
uint32_t hk_store_be32_get(const uint8_t *p);
int64_t hk_store_now_ms(void);

/* LMDB's result codes become hookd's (HK_E*), logging the unexpected ones. */
int hk_store_mdb_err(int rc, const char *op);

/* A read txn (the cached one when free); end it with hk_store_read_end. */
int hk_store_read_begin(hk_store_t *s, MDB_txn **txn);
void hk_store_read_end(hk_store_t *s, MDB_txn *txn);

/* The u64 meta value name (HK_ECORRUPT when missing or not 8 bytes), and
 * meta puts. */
int hk_store_meta_get_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t *out);
int hk_store_meta_put(hk_store_t *s, MDB_txn *txn, const char *name, const void *data, size_t len);
int hk_store_meta_put_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t value);

/* Index entries keyed a | b (two u64s) with an empty value. A put
 * overwrites; deleting a missing entry is success (already the state
 * wanted). */
void hk_store_key2(uint8_t k[16], uint64_t a, uint64_t b);
int hk_store_idx_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op);
int hk_store_idx_del(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op);

/* Collects up to max keys' second halves under the 8-byte prefix a of an
 * index (a | b keys), b > after; *done when the range ended. */
int hk_store_idx_range(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t after, uint64_t *out,
                       size_t max, size_t *n, int *done);

/* A Unix ms time as a key half (times before 1970 sort first). */
uint64_t hk_store_time_key(int64_t t);

/* ---- batch.c: the writer ---------------------------------------------------- */

/* The open batch, opening one (the hook hears HK_OUTBOX_BATCH_OPENED) when
 * none is. */
int hk_batch_txn(hk_store_t *s, MDB_txn **txn);

/* Throws the open batch away (after a failed put LMDB allows only an abort,
 * and a half-written call must not be committed by the next one); the hook
 * hears HK_OUTBOX_BATCH_DONE with err. Returns err. */
int hk_batch_fail(hk_store_t *s, int err);

/* Ends a batch write: errors other than a refused argument (found before
 * anything was written: HK_EINVAL, HK_ENOTFOUND) throw the batch away.
 * Returns err. */
int hk_batch_end(hk_store_t *s, int err);

/* A txn for reading the outbox: the open batch (reads see its writes), else
 * a read txn. End it with hk_batch_read_end. */
int hk_batch_read_begin(hk_store_t *s, MDB_txn **txn);
void hk_batch_read_end(hk_store_t *s, MDB_txn *txn);

/* Admin writes take the one writer LMDB allows: begin commits an open batch
 * first (its waiters hear the outcome through the hook). End commits the
 * txn (err 0) or aborts it (err != 0) and, on success, syncs the
 * environment before returning: admin writes are durable when they return.
 * Both move admin_gen on. */
int hk_batch_admin_begin(hk_store_t *s, MDB_txn **txn);
int hk_batch_admin_end(hk_store_t *s, MDB_txn *txn, int err, const char *op);

/* Tells the hook (if any) about ev. */
void hk_outbox_notify(hk_store_t *s, hk_outbox_event_t ev, uint64_t gen, int err);

/* ---- record.c: the webhook record at rest ------------------------------------ */

/* Splits a record into its packed message and its sealed secret (NULL when
 * none). HK_ECORRUPT when the record is malformed. */
int hk_record_parse(const MDB_val *v, const uint8_t **pb, size_t *pblen, const uint8_t **sealed,
                    size_t *sealedlen);

/* Unpacks the message of a record of webhook id, secret not opened. */
int hk_record_unpack(uint64_t id, const uint8_t *pb, size_t pblen, hk_webhook_t **out);

/* Gives wh (from hk_record_unpack) its secret in clear (nothing when sealed
 * is NULL). HK_ECORRUPT when it does not open. */
int hk_record_attach_secret(const hk_store_t *s, hk_webhook_t *wh, const uint8_t *sealed,
                            size_t len);

/* A whole record of webhook id decoded, secret in clear. */
int hk_record_decode(const hk_store_t *s, uint64_t id, const MDB_val *v, hk_webhook_t **out);

/* Encodes wh (its secret sealed anew, or keep_sealed when wh has none and
 * keep_sealed is given) into a new heap buffer. */
int hk_record_encode(const hk_store_t *s, const hk_webhook_t *wh, const uint8_t *keep_sealed,
                     size_t keep_len, uint8_t **out, size_t *outlen);

/* Whether webhook id exists in txn and is active: 0 with *active set, or
 * HK_ENOTFOUND / HK_ECORRUPT. */
int hk_store_webhook_active_in(hk_store_t *s, MDB_txn *txn, uint64_t id, int *active);

/* ---- deliveries.c ------------------------------------------------------------- */

/* Reads delivery id's record (no attempts, no payload). */
int hk_delivery_rec_get(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_delivery_t **out);

/* Writes d without its attempts and payload (flags: MDB_NOOVERWRITE,
 * MDB_APPEND); an id written twice is HK_ECORRUPT. */
int hk_delivery_rec_put(hk_store_t *s, MDB_txn *txn, const hk_delivery_t *d, unsigned flags);

/* ---- due.c, called by webhooks.c ------------------------------------------------ */

/* Keeps the due index in step with a webhook's active flag, inside an admin
 * write txn: park takes the webhook's pending deliveries out of the due
 * index, unpark puts them back; cancel marks them CANCELLED (the webhook is
 * being deleted). *n counts the deliveries touched. */
int hk_outbox_webhook_park(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);
int hk_outbox_webhook_unpark(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);
int hk_outbox_webhook_cancel(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);

#endif
