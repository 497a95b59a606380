/* store_impl.h -- the store's insides, shared by its own modules (store.c, outbox.c) only */
#ifndef HK_STORE_IMPL_H
#define HK_STORE_IMPL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "store/outbox.h"
#include "store/store.h"

/* Nothing outside server/store includes this file: callers see hookd's own
 * types and errors, never LMDB's. */

#define HK_STORE_KEY_BUF 512     /* > LMDB's default max key size (511) */
#define HK_STORE_ACTIVE_CACHE 64 /* webhooks whose active flag is remembered */

typedef struct {
    uint64_t id, gen;
    int state; /* -1: no such webhook; 0: inactive; 1: active */
} hk_store_active_t;

struct hk_store {
    MDB_env *env;
    MDB_dbi meta, webhooks, names, match;
    /* The outbox (outbox.c): see the layout there. */
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

/* Commits a write txn (err 0) or aborts it (err != 0) and, on success,
 * syncs the environment before returning: admin writes are durable when
 * they return. */
int hk_store_write_end(hk_store_t *s, MDB_txn *txn, int err, const char *op);

/* Whether webhook id exists in txn and is active: 0 with *active set, or
 * HK_ENOTFOUND / HK_ECORRUPT. */
int hk_store_webhook_active_in(hk_store_t *s, MDB_txn *txn, uint64_t id, int *active);

/* ---- outbox.c, called by store.c -------------------------------------------- */

/* Opens (creating) the outbox tables and loads the delivery id counter. */
int hk_outbox_open(hk_store_t *s, MDB_txn *txn);

/* Keeps the due index in step with a webhook's active flag, inside an admin
 * write txn: park takes the webhook's pending deliveries out of the due
 * index, unpark puts them back; cancel marks them CANCELLED (the webhook is
 * being deleted). *n counts the deliveries touched. */
int hk_outbox_webhook_park(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);
int hk_outbox_webhook_unpark(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);
int hk_outbox_webhook_cancel(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);

/* Tells the hook (if any) about ev. */
void hk_outbox_notify(hk_store_t *s, hk_outbox_event_t ev, uint64_t gen, int err);

#endif
