/* due.h -- which pending deliveries are due when: taking them, putting them back, resuming */
#ifndef HK_STORE_DUE_H
#define HK_STORE_DUE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The due index holds the PENDING deliveries of active webhooks, by the time
 * they are due, minus those whose attempt is in flight. Take runs on the
 * loop: it reads what is committed and queues the deletes as a write nobody
 * waits for; until that (and any restore or attempt of the same delivery)
 * is committed, no take hands the delivery out again. */

typedef struct {
    uint64_t id;
    int64_t time; /* when it became due, Unix ms */
} hk_outbox_due_t;

/* Returns nonzero to leave delivery id in the due index untaken (an attempt
 * is in flight already). */
typedef int (*hk_outbox_skip_fn)(uint64_t id, void *arg);

/* Takes up to max deliveries due at or before now out of the due index
 * earliest first, into out (*n of them), skipping those skip names and
 * those not committed yet. *next is
 * the due time of the first delivery left (INT64_MAX: none). A taken
 * delivery stays PENDING: record its attempt with hk_outbox_attempt_record,
 * or put it back with hk_outbox_due_restore. Returns 0 or a batch error. */
int hk_outbox_due_take(hk_store_t *store, int64_t now, hk_outbox_skip_fn skip, void *arg,
                       hk_outbox_due_t *out, size_t max, size_t *n, int64_t *next);

/* Puts delivery id back in the due index at its next_attempt_time when it is
 * still PENDING and its webhook active (an attempt that never ran). Returns
 * 0 (also when there is nothing to do) or a batch error. */
int hk_outbox_due_restore(hk_store_t *store, uint64_t id);

/* Rebuilds the due index from the pending index: every PENDING delivery of
 * an active webhook becomes due at its next_attempt_time (attempts that were
 * in flight when hookd stopped are due again). *n counts them. Runs in the
 * writer, waited for (at start). Returns 0 or a write error. */
int hk_outbox_resume(hk_store_t *store, size_t *n);

#endif
