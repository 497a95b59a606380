/* scheduler.h -- async delivery: due deliveries attempted, retried on a schedule, log pruned */
#ifndef HK_SCHEDULER_H
#define HK_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "deliver/http.h"
#include "store/store.h"

struct uv_loop_s;

typedef struct hk_scheduler hk_scheduler_t;

typedef struct {
    /* Delay before each attempt, ms: entry 0 before the first (used by the
     * TriggerEvent that creates a delivery), entry k after k failed attempts.
     * The schedule's length is the number of attempts. */
    const uint32_t *schedule_ms;
    unsigned schedule_len;
    uint32_t retry_after_max_s; /* cap on an honoured Retry-After */
    uint32_t max_in_flight;     /* async attempts at once; 0: 256 */
    /* Attempts in flight to one webhook at once; 0: 64. A webhook at its cap
     * does not hold up the others: its due deliveries wait (in due order)
     * while other webhooks' start, and the webhooks with deliveries waiting
     * take free slots in turn. */
    uint32_t max_in_flight_per_webhook;
    /* Due deliveries taken from the due index that may wait in memory for
     * their webhook's turn (one take may add up to max_in_flight more);
     * 0: 65536. When that many wait, the index is walked past the
     * deliveries of webhooks that cannot start one (the same order, at the
     * cost of a record read per delivery passed). */
    uint32_t max_waiting;
    /* Pruning of the log (hk_outbox_prune). */
    uint64_t log_max_age_ms, log_max_count, event_window_ms;
} hk_scheduler_opts_t;

/* Creates a scheduler over the store's due index, attempting through http
 * (both must outlive it). opts is copied. Nothing runs before
 * hk_scheduler_start. Returns 0, HK_EINVAL (empty schedule) or HK_ENOMEM. */
int hk_scheduler_new(struct uv_loop_s *loop, hk_store_t *store, hk_http_t *http,
                     const hk_scheduler_opts_t *opts, hk_scheduler_t **out);

/* Makes every PENDING delivery of an active webhook due again (attempts in
 * flight when hookd last stopped, even by kill -9, are made again: delivery
 * is at least once) and starts attempting and pruning. *resumed (may be
 * NULL) counts the pending deliveries found. Returns 0 or a store error. */
int hk_scheduler_start(hk_scheduler_t *s, size_t *resumed);

/* New deliveries may be due (a batch committed, a webhook was activated):
 * looks at the due index soon, from the loop. Cheap; callable anywhere. */
void hk_scheduler_wake(hk_scheduler_t *s);

/* Stops attempting: no new attempt starts, and the attempts in flight are
 * cancelled; their deliveries, and those waiting for their webhook's turn,
 * stay PENDING, due again at once on the next start. The callbacks of the
 * cancelled requests run later (hk_http).
 *
 * Two outcomes do not run the schedule: a policy refusal
 * (HK_OUTCOME_REFUSED) fails the delivery at once, since hookd's own rule
 * refuses the same address on every retry (RedeliverDelivery tries again
 * once the URL or the policy is fixed); and an attempt that could not open
 * a file descriptor (hk_http_result_t.no_fd) is hookd's failure, not the
 * receiver's: it is not recorded or counted, the delivery goes back to the
 * front of its webhook's turn, and no attempt starts for a short pause
 * (50 ms, doubling to 2 s while it lasts). */
void hk_scheduler_stop(hk_scheduler_t *s);

/* Counts for logs and tests. */
typedef struct {
    uint64_t in_flight, attempts, succeeded, failed, retried, pruned;
    uint64_t waiting;  /* due, waiting for their webhook's turn (now) */
    uint64_t deferred; /* attempts put back for want of a file descriptor */
} hk_scheduler_stats_t;
void hk_scheduler_stats(const hk_scheduler_t *s, hk_scheduler_stats_t *out);

/* Stops (if not yet), waits for the last attempt's callback, closes the
 * timers, frees s, then calls cb(arg) from the loop (cb may be NULL). Call
 * once; http must still be open (or closing) until cb runs. */
void hk_scheduler_close(hk_scheduler_t *s, void (*cb)(void *arg), void *arg);

#endif
