/* prune.h -- deleting finished deliveries and seen event ids past their age or count */
#ifndef HK_STORE_PRUNE_H
#define HK_STORE_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Deletes, inside a write (store/batch.h), at most budget finished deliveries (with their
 * attempts and bodies) created before now - max_age_ms or beyond the newest
 * max_count, oldest first, and at most budget seen event ids older than
 * now - event_window_ms or beyond the newest max_count. PENDING deliveries
 * stay. *pruned counts what went; *more says whether another call soon may
 * find more (else wait). From the loop it waits for its own commit (tests,
 * tools); a running hookd prunes in an operation of its own, after asking
 * hk_outbox_prune_needed. Writes nothing when the oldest records show there
 * is nothing to do. */
int hk_outbox_prune(hk_store_t *store, int64_t now, uint64_t max_age_ms, uint64_t max_count,
                    uint64_t event_window_ms, size_t budget, size_t *pruned, int *more);

/* 1 when pruning with these limits may find work, judged from the oldest
 * records by a read (no write: an idle hookd commits nothing); 0 when not;
 * or a read error. */
int hk_outbox_prune_needed(hk_store_t *store, int64_t now, uint64_t max_age_ms, uint64_t max_count,
                           uint64_t event_window_ms);

#endif
