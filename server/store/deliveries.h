/* deliveries.h -- deliveries and their attempts in the store (the outbox) */
#ifndef HK_STORE_DELIVERIES_H
#define HK_STORE_DELIVERIES_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/v1/webhooks.pb-c.h"
#include "store/batch.h"
#include "store/store.h"

/* Records are the API's own messages. A delivery handed out by the outbox is
 * a heap copy the caller owns (free with hk_delivery_free); attempts and
 * payload are filled only when asked for (GetDelivery).
 *
 * Writes (put, attempt_record) inside a write (store/batch.h) write into
 * its txn and return their own error. Called from the loop they queue a
 * write of their own that nobody waits for (copies of their arguments),
 * return 0 (or HK_EINVAL, HK_ENOMEM) and log a later failure; reads see
 * them once committed. */
typedef Hookd__V1__Delivery hk_delivery_t;
typedef Hookd__V1__Attempt hk_attempt_t;

#define HK_DELIVERY_PENDING HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_PENDING
#define HK_DELIVERY_SUCCEEDED HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_SUCCEEDED
#define HK_DELIVERY_FAILED HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_FAILED
#define HK_DELIVERY_CANCELLED HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_CANCELLED

/* A new delivery id: ids only grow and are never reused, also across
 * restarts (the counter is stored with every batch). */
uint64_t hk_outbox_delivery_id(hk_store_t *store);

/* Writes a new delivery d (d->id from hk_outbox_delivery_id, on the loop)
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

/* Appends attempt a to delivery id and sets its state; a PENDING delivery is
 * due again at next_time (if its webhook is active). A delivery no longer
 * PENDING (cancelled meanwhile) keeps its state; the attempt is still
 * logged. *webhook_active (may be NULL) tells whether the webhook still
 * exists and is active (from the loop: as read now). From the loop, the
 * delivery is not handed out by hk_outbox_due_take until the write is
 * committed. Returns 0, HK_ENOTFOUND, HK_ECORRUPT or a batch
 * error. */
int hk_outbox_attempt_record(hk_store_t *store, uint64_t id, const hk_attempt_t *a, int state,
                             int64_t next_time, int *webhook_active);

/* Fills d's last_outcome, last_http_status, last_error and last_attempt_time
 * from its newest attempt (none yet, or pruned: left as they are). d is a
 * record the outbox handed out. Returns 0, HK_ECORRUPT, HK_ENOMEM, HK_EIO. */
int hk_outbox_attempt_last(hk_store_t *store, hk_delivery_t *d);

/* Counts for logs and tests. */
typedef struct {
    uint64_t deliveries, pending, due, events;
} hk_outbox_stats_t;
int hk_outbox_stats(hk_store_t *store, hk_outbox_stats_t *out);

#endif
