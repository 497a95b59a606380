/* batch.h -- the write batch every outbox write goes into, its hook, and sync */
#ifndef HK_STORE_BATCH_H
#define HK_STORE_BATCH_H

#include <stdint.h>

#include "store/store.h"

/* Every outbox write goes into the current batch: one LMDB write txn, opened
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

#endif
