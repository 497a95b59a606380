/* outbox.h -- deliveries, attempts and seen event ids in the store: the outbox and its batch */
#ifndef HK_OUTBOX_H
#define HK_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/v1/webhooks.pb-c.h"
#include "store/store.h"

/* Records are the API's own messages. A delivery handed out by the outbox is
 * a heap copy the caller owns (free with hk_delivery_free); attempts and
 * payload are filled only when asked for (GetDelivery). */
typedef Hookd__V1__Delivery hk_delivery_t;
typedef Hookd__V1__Attempt hk_attempt_t;

#define HK_DELIVERY_PENDING HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_PENDING
#define HK_DELIVERY_SUCCEEDED HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_SUCCEEDED
#define HK_DELIVERY_FAILED HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_FAILED
#define HK_DELIVERY_CANCELLED HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_CANCELLED

/* ---- the write batch ------------------------------------------------------------
 *
 * Every outbox write goes into the current batch: one LMDB write txn, opened
 * by the first write after the last commit, that gathers the writes of many
 * calls until hk_outbox_batch_commit. The environment is opened without
 * syncing on commit (MDB_NOSYNC): a committed batch is durable only after a
 * later hk_store_sync. Admin writes (webhook create/update/delete) first
 * commit an open batch, then commit and sync their own txn before they
 * return.
 *
 * A batch write that fails in a way that leaves the txn unusable (map or disk
 * full, I/O error) aborts the whole batch at once: nothing of it is written,
 * the hook hears HK_OUTBOX_BATCH_DONE with the error, and the next write
 * opens a new batch. Reads of the outbox see the open batch's writes. */

typedef enum {
    HK_OUTBOX_BATCH_OPENED, /* a batch opened: commit it soon */
    HK_OUTBOX_BATCH_DONE,   /* batch gen committed (err 0) or was thrown away (err) */
    HK_OUTBOX_DUE_ADDED     /* an admin write made deliveries due (a webhook activated) */
} hk_outbox_event_t;

/* Runs synchronously inside the store call that caused ev (a batch write, a
 * commit, an admin write): it must not call back into the store. */
typedef void (*hk_outbox_hook_fn)(hk_outbox_event_t ev, uint64_t gen, int err, void *arg);

/* Sets the one hook (NULL: none). */
void hk_outbox_set_hook(hk_store_t *store, hk_outbox_hook_fn fn, void *arg);

/* The number of the open batch (batches count up from 1), or 0 when none
 * is open. */
uint64_t hk_outbox_batch_gen(const hk_store_t *store);

/* Commits the open batch without syncing; the hook hears
 * HK_OUTBOX_BATCH_DONE either way. Returns 0 (also when no batch is open),
 * HK_EFULL (nothing of the batch is written) or HK_EIO. */
int hk_outbox_batch_commit(hk_store_t *store);

/* How many batches were thrown away so far (a writer whose batch failed
 * learns it here). */
uint64_t hk_outbox_batch_failures(const hk_store_t *store);

/* Flushes every committed txn to disk (fdatasync). Blocks; the one store
 * call that may run on another thread, concurrently with the loop thread's
 * use of the store. Returns 0 or HK_EIO. */
int hk_store_sync(hk_store_t *store);

/* ---- deliveries ------------------------------------------------------------------ */

/* A new delivery id: ids only grow and are never reused, also across
 * restarts (the counter is stored with every batch). */
uint64_t hk_outbox_delivery_id(hk_store_t *store);

/* Writes a new delivery d (d->id from hk_outbox_delivery_id) into the batch
 * with its notification body (body_len bytes, whose last data_len + 1 bytes
 * are the event's payload and the envelope's closing brace) and, when
 * attempt is not NULL, its first attempt (d->attempt_count must say 1). A
 * PENDING delivery is indexed as pending and, when its webhook is active, as
 * due at d->next_attempt_time. Returns 0, HK_EINVAL (bad fields),
 * HK_EFULL, HK_EIO, HK_ENOMEM. */
int hk_outbox_delivery_put(hk_store_t *store, const hk_delivery_t *d, const uint8_t *body,
                           size_t body_len, size_t data_len, const hk_attempt_t *attempt);

/* Reads delivery id; with details, also its attempts (in order) and payload.
 * Returns 0 with *out set, HK_ENOTFOUND, HK_ECORRUPT, HK_ENOMEM. */
int hk_outbox_delivery_get(hk_store_t *store, uint64_t id, int details, hk_delivery_t **out);

/* A heap copy of delivery id's notification body (*data_len as for put).
 * Returns 0, HK_ENOTFOUND, HK_ECORRUPT, HK_ENOMEM. */
int hk_outbox_body_get(hk_store_t *store, uint64_t id, uint8_t **body, size_t *len,
                       size_t *data_len);

void hk_delivery_free(hk_delivery_t *d);

/* Visitors own each record (without details); return nonzero to stop. */
typedef int (*hk_delivery_visit_fn)(hk_delivery_t *d, void *arg);

/* Walks deliveries with id < before_id (0: from the newest) newest first,
 * those of webhook_id only (0: every webhook), in state (0: any). At most
 * max_scan records are examined: when that ends the walk, *resume is the id
 * to pass as before_id to go on, else 0. Records are read in chunks with no
 * txn open while a visitor runs. Returns 0, HK_ECORRUPT, HK_ENOMEM, HK_EIO. */
int hk_outbox_delivery_list(hk_store_t *store, uint64_t webhook_id, uint64_t before_id, int state,
                            size_t max_scan, hk_delivery_visit_fn visit, void *arg,
                            uint64_t *resume);

/* ---- scheduling -------------------------------------------------------------------- */

typedef struct {
    uint64_t id;
    int64_t time; /* when it became due, Unix ms */
} hk_outbox_due_t;

/* Returns nonzero to leave delivery id in the due index untaken (an attempt
 * is in flight already). */
typedef int (*hk_outbox_skip_fn)(uint64_t id, void *arg);

/* Takes up to max deliveries due at or before now out of the due index
 * (in the batch), earliest first, into out (*n of them), skipping those skip
 * names and those created in the open batch (not committed yet). *next is
 * the due time of the first delivery left (INT64_MAX: none). A taken
 * delivery stays PENDING: record its attempt with hk_outbox_attempt_record,
 * or put it back with hk_outbox_due_restore. Returns 0 or a batch error. */
int hk_outbox_due_take(hk_store_t *store, int64_t now, hk_outbox_skip_fn skip, void *arg,
                       hk_outbox_due_t *out, size_t max, size_t *n, int64_t *next);

/* Puts delivery id back in the due index at its next_attempt_time when it is
 * still PENDING and its webhook active (an attempt that never ran). Returns
 * 0 (also when there is nothing to do) or a batch error. */
int hk_outbox_due_restore(hk_store_t *store, uint64_t id);

/* Appends attempt a to delivery id and sets its state; a PENDING delivery is
 * due again at next_time (if its webhook is active). A delivery no longer
 * PENDING (cancelled meanwhile) keeps its state; the attempt is still
 * logged. *webhook_active (may be NULL) tells whether the webhook still
 * exists and is active. Returns 0, HK_ENOTFOUND, HK_ECORRUPT or a batch
 * error. */
int hk_outbox_attempt_record(hk_store_t *store, uint64_t id, const hk_attempt_t *a, int state,
                             int64_t next_time, int *webhook_active);

/* Rebuilds the due index from the pending index: every PENDING delivery of
 * an active webhook becomes due at its next_attempt_time (attempts that were
 * in flight when hookd stopped are due again). *n counts them. Runs in the
 * batch. Returns 0 or a batch error. */
int hk_outbox_resume(hk_store_t *store, size_t *n);

/* Deletes, in the batch, at most budget finished deliveries (with their
 * attempts and bodies) created before now - max_age_ms or beyond the newest
 * max_count, oldest first, and at most budget seen event ids older than
 * now - event_window_ms or beyond the newest max_count. PENDING deliveries
 * stay. *pruned counts what went; *more says whether another call soon may
 * find more (else wait). Opens no batch when the oldest records show there
 * is nothing to do. */
int hk_outbox_prune(hk_store_t *store, int64_t now, uint64_t max_age_ms, uint64_t max_count,
                    uint64_t event_window_ms, size_t budget, size_t *pruned, int *more);

/* Counts for logs and tests. */
typedef struct {
    uint64_t deliveries, pending, due, events;
} hk_outbox_stats_t;
int hk_outbox_stats(hk_store_t *store, hk_outbox_stats_t *out);

/* ---- event ids (idempotency) -------------------------------------------------------- */

/* The answer recorded for event_id: *time (Unix ms, when first seen) and a
 * heap copy of the bytes (*data, *len; the caller frees). Returns 0,
 * HK_ENOTFOUND, HK_ENOMEM. */
int hk_outbox_event_get(hk_store_t *store, const char *event_id, int64_t *time, uint8_t **data,
                        size_t *len);

/* Records (or replaces) the answer for event_id in the batch. Returns 0,
 * HK_EINVAL (empty or too long an id), or a batch error. */
int hk_outbox_event_put(hk_store_t *store, const char *event_id, int64_t time, const uint8_t *data,
                        size_t len);

/* ---- webhook stamps (for a cache of decoded webhooks) -------------------------------- */

/* A heap copy of webhook id's stored record as opaque bytes (*stamp, *len;
 * the caller frees it), to ask hk_outbox_webhook_unchanged later whether
 * the webhook is still exactly what hk_store_webhook_get gave right before
 * or after (no store write between). Returns 0, HK_ENOTFOUND, HK_ENOMEM or
 * a read error. */
int hk_outbox_webhook_stamp(hk_store_t *store, uint64_t id, uint8_t **stamp, size_t *len);

/* 1 when webhook id's stored record is byte for byte the one stamp was
 * taken of (nothing about it changed: a new secret is sealed afresh, an
 * update sets update_time), 0 when it changed or is gone, or a read error.
 * Decodes nothing and opens no secret. */
int hk_outbox_webhook_unchanged(hk_store_t *store, uint64_t id, const uint8_t *stamp, size_t len);

#endif
