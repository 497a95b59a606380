/* events.h -- seen event ids and the answer first given for each (idempotency) */
#ifndef HK_STORE_EVENTS_H
#define HK_STORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The answer recorded for event_id: *time (Unix ms, when first seen) and a
 * heap copy of the bytes (*data, *len; the caller frees). Sees records put
 * from the loop before their write commits. Returns 0, HK_ENOTFOUND, HK_ENOMEM. */
int hk_outbox_event_get(hk_store_t *store, const char *event_id, int64_t *time, uint8_t **data,
                        size_t *len);

/* Records (or replaces) the answer for event_id: inside a write, in its
 * txn; from the loop, in a write of its own nobody waits for. Returns 0,
 * HK_EINVAL (empty or too long an id), or a batch error. */
int hk_outbox_event_put(hk_store_t *store, const char *event_id, int64_t time, const uint8_t *data,
                        size_t len);

#endif
