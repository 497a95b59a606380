/* attempt.c -- one attempt: the signed POST of a notification to one webhook (sync and async) */
#include "deliver/attempt.h"
#include "store/batch.h"
#include "core/error.h"
#include "core/log.h"
#include "deliver/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t hk_attempt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hk_attempt_start(hk_http_t *http, const hk_attempt_req_t *req, hk_http_cb cb, void *arg,
                     hk_http_request_t **out)
{
    const hk_webhook_t *wh = req->webhook;
    hk_sign_key_t key;
    hk_sign_attempt_t signed_ = {0};
    int err;

    if (!wh || !req->event_id || wh->timeout_seconds == 0) return HK_EINVAL;
    const hk_sign_key_t *k = req->key;
    if (!k) {
        if ((err = hk_sign_key(wh->secret_key, &key))) return err;
        k = &key;
    }
    hk_sign_claims_t claims = {
        .webhook_name = wh->name,
        .url = wh->url,
        .event_id = req->event_id,
    };
    err = hk_sign_attempt(k, &claims, (int64_t)time(NULL), req->body, req->body_len, &signed_);
    if (k == &key) hk_sign_key_wipe(&key);
    if (err) goto out;

    hk_http_header_t headers[] = {
        {"content-type", "application/json"},     {"webhook-id", req->event_id},
        {"webhook-timestamp", signed_.timestamp}, {"webhook-signature", signed_.signature},
        {"authorization", signed_.authorization},
    };
    hk_http_req_t hreq = {
        .url = wh->url,
        .headers = headers,
        .n_headers = sizeof headers / sizeof headers[0],
        .body = req->body,
        .body_len = req->body_len,
        .body_borrowed = 1,
        .timeout_ms = wh->timeout_seconds * 1000u,
        .max_body_keep = req->max_body_keep,
        .urgent = req->urgent,
    };
    /* hk_http copies the headers: the signed values may go with this frame. */
    err = hk_http_request_start(http, &hreq, cb, arg, out);
out:
    hk_sign_attempt_free(&signed_);
    return err;
}

void hk_attempt_record_of(const hk_http_result_t *r, int64_t time_ms, hk_attempt_t *out)
{
    hookd__v1__attempt__init(out);
    out->time = time_ms;
    out->outcome = (Hookd__V1__Outcome)r->outcome;
    out->http_status = r->http_status > 0 ? (uint32_t)r->http_status : 0;
    out->duration_ms = r->duration_ms;
    out->error = (char *)(r->error ? r->error : "");
    out->response_body.data = (uint8_t *)r->body;
    out->response_body.len =
        r->body_len < HK_ATTEMPT_LOG_BODY_MAX ? r->body_len : HK_ATTEMPT_LOG_BODY_MAX;
}

void hk_attempt_record_failed(int err, int64_t time_ms, hk_attempt_t *out)
{
    hookd__v1__attempt__init(out);
    out->time = time_ms;
    out->outcome = HOOKD__V1__OUTCOME__OUTCOME_NETWORK_ERROR;
    out->error = (char *)(err == HK_EINVAL      ? "could not build the request (secret key or URL)"
                          : err == HK_ESHUTDOWN ? "hookd is stopping"
                                                : "could not start the request (out of memory)");
}

void hk_attempt_log(uint64_t delivery_id, uint64_t webhook_id, int sync, unsigned attempt,
                    const hk_attempt_t *a, long long next_in_ms, int record_err)
{
    char q[200];
    int failed = a->error && *a->error;
    hk_log_level_t level = a->outcome == HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED ? HK_LOG_DEBUG
                           : a->outcome == HOOKD__V1__OUTCOME__OUTCOME_REFUSED ? HK_LOG_WARN
                                                                               : HK_LOG_INFO;
    hk_log(level, "attempt",
           "delivery=%llu webhook=%llu sync=%d attempt=%u outcome=%s status=%u ms=%u "
           "next_in_ms=%lld%s%s%s%s",
           (unsigned long long)delivery_id, (unsigned long long)webhook_id, sync ? 1 : 0, attempt,
           hk_outcome_name((hk_outcome_t)a->outcome), a->http_status, a->duration_ms, next_in_ms,
           failed ? " error=" : "", failed ? hk_log_quote(a->error, q, sizeof q) : "",
           record_err ? " record_error=" : "", record_err ? hk_strerror(record_err) : "");
}

/* Deactivating a webhook that answered 410: a write of its own, read and
 * changed inside the writer's txn, so no update made meanwhile is undone. */
typedef struct {
    hk_store_write_t w;
    uint64_t id;
    int changed;
    void (*done)(void *arg);
    void *arg;
} gone_t;

static int gone_run(hk_store_t *store, hk_store_write_t *w)
{
    gone_t *g = hk_container_of(w, gone_t, w);
    hk_webhook_t *wh = NULL;
    int err = hk_store_webhook_get(store, g->id, &wh);
    if (err) return err == HK_ENOTFOUND ? 0 : err;
    if (wh->active) {
        /* The reason is kept with the webhook, so that `hookctl show` and the
         * page say why it went Inactive; activating it clears it. */
        char *own_reason = wh->deactivated_reason;
        wh->active = 0;
        wh->deactivated_reason = (char *)"the receiver answered 410 Gone";
        wh->deactivate_time = hk_attempt_now_ms();
        err = hk_store_webhook_update(store, wh);
        wh->deactivated_reason = own_reason;
        g->changed = err == 0;
    }
    hk_webhook_free(wh);
    return err;
}

static void gone_done(hk_store_write_t *w, int err)
{
    gone_t *g = hk_container_of(w, gone_t, w);
    if (err || g->changed)
        hk_log(err ? HK_LOG_ERROR : HK_LOG_WARN, "webhook_deactivated",
               "id=%llu reason=\"410 Gone\"%s%s", (unsigned long long)g->id, err ? " error=" : "",
               err ? hk_strerror(err) : "");
    if (g->done) g->done(g->arg);
    free(g);
}

void hk_attempt_gone(hk_store_t *store, uint64_t webhook_id, void (*done)(void *arg), void *arg)
{
    gone_t *g = calloc(1, sizeof *g);
    if (!g) {
        if (done) done(arg);
        return;
    }
    g->id = webhook_id;
    g->done = done;
    g->arg = arg;
    g->w.run = gone_run;
    g->w.done = gone_done;
    hk_store_submit(store, &g->w);
}
