/* attempt.h -- one attempt: the signed POST of a notification to one webhook (sync and async) */
#ifndef HK_ATTEMPT_H
#define HK_ATTEMPT_H

#include <stddef.h>
#include <stdint.h>

#include "deliver/http.h"
#include "deliver/sign.h"
#include "store/deliveries.h"
#include "store/webhooks.h"

#define HK_ATTEMPT_LOG_BODY_MAX 4096   /* bytes of an answer the delivery log keeps */
#define HK_ATTEMPT_SYNC_BODY_MAX 65536 /* bytes of an answer a SyncResult carries */

typedef struct {
    const hk_webhook_t *webhook; /* url, name, secret_key, timeout_seconds (read now) */
    /* The key of webhook->secret_key (hk_sign_key) when the caller keeps it
     * between attempts; NULL: derived here. */
    const hk_sign_key_t *key;
    const char *event_id; /* webhook-id and the JWT's jti */
    /* The notification body. Borrowed: it must stay valid and unchanged until
     * the callback has run (one body may serve every webhook of an event). */
    const uint8_t *body;
    size_t body_len;
    size_t max_body_keep; /* bytes of the answer kept for the result */
    int urgent;           /* a caller waits (synchronous webhook) */
} hk_attempt_req_t;

/* Signs the request for now (webhook-timestamp and the JWT's iat are the
 * attempt's own time, so a retry hours later still verifies) and starts it:
 *
 *   POST <url>
 *   content-type: application/json
 *   user-agent: hookd/<version>      (hk_http_opts_t.user_agent)
 *   webhook-id: <event id>
 *   webhook-timestamp: <unix seconds>
 *   webhook-signature: v1,<base64 HMAC-SHA256>
 *   authorization: Bearer <JWT HS256>
 *
 * bounded by the webhook's timeout_seconds. cb runs once with the result (as
 * hk_http_request_start says); *out (may be NULL) cancels. Returns 0;
 * HK_EINVAL (the secret does not give a key, a header has CR/LF, a bad
 * timeout), HK_ESHUTDOWN, HK_ENOMEM: then cb never runs. */
int hk_attempt_start(hk_http_t *http, const hk_attempt_req_t *req, hk_http_cb cb, void *arg,
                     hk_http_request_t **out);

/* The delivery log's record of a result: out points into result (valid
 * during the callback) and keeps at most HK_ATTEMPT_LOG_BODY_MAX bytes of
 * the answer. time_ms is when the attempt started (Unix ms). */
void hk_attempt_record_of(const hk_http_result_t *result, int64_t time_ms, hk_attempt_t *out);

/* An attempt that could not start (err from hk_attempt_start) as a log
 * record: NETWORK_ERROR with a reason. */
void hk_attempt_record_failed(int err, int64_t time_ms, hk_attempt_t *out);

/* Logs the result of one attempt, synchronous (sync) or asynchronous, the
 * same way for both: event "attempt" with delivery, webhook, sync, attempt
 * (1 for the first), outcome, status, ms, next_in_ms (-1: no further
 * attempt; a synchronous delivery never has one), the error text quoted,
 * and record_error when record_err (the log could not keep it) is set. A
 * success is logged at debug level, a policy refusal as a warning (someone
 * configured a receiver hookd may not reach), any other failure as info. */
void hk_attempt_log(uint64_t delivery_id, uint64_t webhook_id, int sync, unsigned attempt,
                    const hk_attempt_t *a, long long next_in_ms, int record_err);

/* 410 Gone: the receiver says the endpoint is no more, whether the attempt
 * was synchronous or not. Deactivates webhook webhook_id (it stops matching;
 * its pending deliveries wait until someone activates it again), recording
 * why and when (deactivated_reason, deactivate_time), in a store
 * write of its own, and logs it when it commits; then done(arg) runs from
 * the loop (done may be NULL; out of memory it runs at once). */
void hk_attempt_gone(hk_store_t *store, uint64_t webhook_id, void (*done)(void *arg), void *arg);

/* Unix time now, in milliseconds. */
int64_t hk_attempt_now_ms(void);

#endif
