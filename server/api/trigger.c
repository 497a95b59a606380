/* trigger.c -- TriggerEvent: match, queue async deliveries durably, call sync ones, answer once */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/inflight.h"
#include "api/methods.h"
#include "api/validate.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "core/status.h"
#include "deliver/attempt.h"
#include "deliver/retry.h"
#include "deliver/json.h"
#include "deliver/scheduler.h"
#include "deliver/sign.h"
#include "store/batch.h"
#include "store/deliveries.h"
#include "store/events.h"
#include "store/webhooks.h"

/*
 * One TriggerEvent:
 *   1. validate; a repeated event id (one the caller chose) is answered
 *      from the first call (still in flight: the repeat waits for its
 *      answer rather than fail, as a retry expects; recorded within the
 *      window: the recorded answer), duplicate = true, nothing delivered;
 *      the id alone is the key: another payload under it is the same event;
 *   2. match the active webhooks of (application, trigger action) by index;
 *   3. asynchronous ones: a PENDING delivery each, written together with
 *      the event id's record by one store write (store/batch.h), answered
 *      when the batch holding it is committed and synced;
 *   4. synchronous ones: an attempt each, all started at once;
 *   5. when every attempt has answered and the batch is on disk, the answer
 *      is recorded for the event id, logged deliveries written, and the
 *      caller (and any repeat waiting) answered.
 * A caller that cancels, or whose deadline passes, aborts the transfers in
 * flight at once; their deliveries are logged FAILED with a CANCELLED
 * attempt. Queued deliveries stay queued: they were accepted.
 */

#define EVENT_ID_MAX 200

typedef struct trig trig_t;

/* A repeat of an event in flight, waiting for the first one's answer. */
typedef struct {
    hk_inflight_waiter_t waiter;
    hk_call_t *call;
} repeat_t;

typedef struct {
    trig_t *t;
    hk_webhook_t *wh;
    hk_http_request_t *req; /* NULL once answered */
    int64_t start_ms;
    Hookd__V1__SyncResult result; /* error and response_body owned */
} sync_hook_t;

struct trig {
    hk_api_t *api;
    hk_call_t *call;
    char *event_id, *trigger_action;
    int application, origin;
    int64_t time_ms;
    char *body; /* the notification, shared by every attempt */
    size_t body_len, data_len;

    sync_hook_t *sync;
    size_t n_sync;
    Hookd__V1__QueuedDelivery *queued;
    size_t n_queued;
    Hookd__V1__SkippedWebhook *skipped; /* webhook_name owned */
    size_t n_skipped;
    /* The write of the queued deliveries: dels[i] is queued[i]'s record;
     * gone[i] is set by the writer when its webhook was deleted since it
     * matched (nothing queued). The writer's until the write is answered. */
    hk_store_write_t write;
    hk_delivery_t *dels;
    uint8_t *gone;
    hk_store_write_t final; /* the barrier after the logged sync deliveries */
    int record;             /* final records the answer for the event id */

    size_t pending; /* sync attempts and the write still to come */
    int err;        /* the batch holding the queued deliveries was lost */
    int cancelled;
    /* The caller chose the event id: repeats are looked for and the answer
     * is recorded. An id hookd made up cannot be repeated by a caller that
     * lost the answer, so recording it would only fill the store. */
    int keyed;
    hk_inflight_event_t inflight; /* registered while keyed and unanswered; repeats wait on it */
};

/* ---- answers ------------------------------------------------------------------------ */

static void trig_free(trig_t *t)
{
    for (size_t i = 0; i < t->n_sync; i++) {
        hk_webhook_free(t->sync[i].wh);
        if (t->sync[i].result.error != protobuf_c_empty_string) free(t->sync[i].result.error);
        free(t->sync[i].result.response_body.data);
    }
    for (size_t i = 0; i < t->n_queued; i++)
        free(t->queued[i].webhook_name);
    for (size_t i = 0; i < t->n_skipped; i++)
        free(t->skipped[i].webhook_name);
    free(t->sync);
    free(t->queued);
    free(t->skipped);
    free(t->dels);
    free(t->gone);
    free(t->body);
    free(t->event_id);
    free(t->trigger_action);
    free(t);
}

/* Fills resp (pointers into t), without the deliveries whose webhook was
 * gone. results and queued are the caller's to free. */
static int response_of(trig_t *t, Hookd__V1__TriggerEventResponse *resp)
{
    hookd__v1__trigger_event_response__init(resp);
    resp->event_id = t->event_id;
    resp->n_results = t->n_sync;
    resp->n_skipped = t->n_skipped;
    resp->results = calloc(t->n_sync ? t->n_sync : 1, sizeof *resp->results);
    resp->queued = calloc(t->n_queued ? t->n_queued : 1, sizeof *resp->queued);
    resp->skipped = calloc(t->n_skipped ? t->n_skipped : 1, sizeof *resp->skipped);
    if (!resp->results || !resp->queued || !resp->skipped) return HK_ENOMEM;
    for (size_t i = 0; i < t->n_sync; i++)
        resp->results[i] = &t->sync[i].result;
    for (size_t i = 0; i < t->n_queued; i++)
        if (!t->gone || !t->gone[i]) resp->queued[resp->n_queued++] = &t->queued[i];
    for (size_t i = 0; i < t->n_skipped; i++)
        resp->skipped[i] = &t->skipped[i];
    return 0;
}

/* The queued deliveries that were written. */
static size_t queued_count(const trig_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_queued; i++)
        n += !t->gone || !t->gone[i];
    return n;
}

static void response_release(Hookd__V1__TriggerEventResponse *resp)
{
    free(resp->results);
    free(resp->queued);
    free(resp->skipped);
}

/* Records the answer for the event id, so repeats within the window get it. */
static int record_event(trig_t *t, const Hookd__V1__TriggerEventResponse *resp)
{
    size_t len = hookd__v1__trigger_event_response__get_packed_size(resp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return HK_ENOMEM;
    hookd__v1__trigger_event_response__pack(resp, buf);
    int err = hk_outbox_event_put(t->api->store, t->event_id, t->time_ms, buf, len);
    free(buf);
    return err;
}

static void answer_repeats(trig_t *t, Hookd__V1__TriggerEventResponse *resp, int status,
                           const char *message)
{
    hk_inflight_waiter_t *w;
    if (!t->keyed) return; /* nobody could repeat a made-up id */
    while ((w = hk_inflight_next(&t->inflight)) != NULL) {
        repeat_t *r = hk_container_of(w, repeat_t, waiter);
        if (status == HK_STATUS_OK) {
            resp->duplicate = 1;
            hk_rpc_reply(r->call, &resp->base);
            resp->duplicate = 0;
        } else {
            hk_rpc_fail(r->call, status, "%s", message);
        }
        free(r);
    }
}

/* Everything is in and written: answer, forget. */
static void finish(trig_t *t)
{
    Hookd__V1__TriggerEventResponse resp;
    char message[640];
    int err = t->err;
    if (t->keyed) hk_inflight_remove(t->api->inflight, &t->inflight);
    hookd__v1__trigger_event_response__init(&resp);
    if (!err) err = response_of(t, &resp);

    if (t->cancelled)
        hk_rpc_fail(t->call, HK_STATUS_CANCELLED, "cancelled"); /* answered already: frees it */
    if (err) {
        hk_rpc_error_text(t->api, err, "queue deliveries", message, sizeof message);
        if (!t->cancelled) hk_rpc_fail(t->call, hk_error_status(err), "%s", message);
        answer_repeats(t, NULL, hk_error_status(err), message);
    } else {
        if (!t->cancelled) hk_rpc_reply(t->call, &resp.base);
        answer_repeats(t, &resp, HK_STATUS_OK, NULL);
    }
    response_release(&resp);
    trig_free(t);
}

/* On the writer thread, after the logged synchronous deliveries (submitted
 * before it, so in this batch or an earlier one): the event id's answer.
 * The queued part was recorded with the deliveries; the sync results are
 * new (or, with neither, the event id itself). A crash before this commits
 * loses the results, never the deliveries. */
static int final_write(hk_store_t *store, hk_store_write_t *w)
{
    (void)store;
    trig_t *t = hk_container_of(w, trig_t, final);
    Hookd__V1__TriggerEventResponse resp;
    if (!t->record) return 0;
    int err = response_of(t, &resp);
    if (!err) err = record_event(t, &resp);
    response_release(&resp);
    return err;
}

static void on_final(hk_store_write_t *w, int err)
{
    trig_t *t = hk_container_of(w, trig_t, final);
    /* The answer is the results: not writing them down fails no call. */
    if (err)
        hk_log(HK_LOG_WARN, "trigger_not_recorded", "event_id=%s error=\"%s\"", t->event_id,
               hk_strerror(err));
    finish(t);
}

/* Everything has come in. What the answer names (the logged synchronous
 * deliveries, the event id's record) is committed before it goes out, so a
 * caller reads what it was told of. */
static void complete(trig_t *t)
{
    t->record = !t->err && t->keyed && (t->n_sync || !queued_count(t));
    if (!t->n_sync && !t->record) {
        finish(t);
        return;
    }
    t->final.run = final_write;
    t->final.done = on_final;
    hk_store_submit(t->api->store, &t->final);
}

static void settle(trig_t *t)
{
    if (--t->pending == 0) complete(t);
}

/* ---- the parts ----------------------------------------------------------------------- */

static void on_durable(hk_store_write_t *w, int err)
{
    trig_t *t = hk_container_of(w, trig_t, write);
    if (err) {
        t->err = err;
        hk_log(HK_LOG_WARN, "trigger_not_queued", "event_id=%s error=\"%s\"", t->event_id,
               hk_strerror(err));
    }
    settle(t);
}

/* Logs a synchronous delivery, attempt included, in the batch; the caller
 * does not wait for it to reach the disk (its answer is the result). */
static void log_sync(trig_t *t, sync_hook_t *h, const hk_attempt_t *a)
{
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = h->result.delivery_id;
    d.webhook_id = h->wh->id;
    d.webhook_name = h->wh->name;
    d.event_id = t->event_id;
    d.application = t->application;
    d.trigger_action = t->trigger_action;
    d.origin = t->origin;
    d.asynchronous = 0;
    d.state = a->outcome == HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED ? HK_DELIVERY_SUCCEEDED
                                                                  : HK_DELIVERY_FAILED;
    d.create_time = t->time_ms;
    d.attempt_count = 1;
    int err = hk_outbox_delivery_put(t->api->store, &d, (const uint8_t *)t->body, t->body_len,
                                     t->data_len, a);
    if (err)
        hk_log(HK_LOG_WARN, "delivery_log_failed", "delivery=%llu error=\"%s\"",
               (unsigned long long)d.id, hk_strerror(err));
}

/* Copies what the SyncResult carries out of the result (valid only during
 * the callback); out of memory, the error text and body are left empty. */
static void keep_result(sync_hook_t *h, const hk_http_result_t *r)
{
    Hookd__V1__SyncResult *s = &h->result;
    s->outcome = (Hookd__V1__Outcome)r->outcome;
    s->http_status = r->http_status > 0 ? (uint32_t)r->http_status : 0;
    s->duration_ms = r->duration_ms;
    s->response_truncated = r->body_truncated;
    char *error = strdup(r->error ? r->error : "");
    uint8_t *body = malloc(r->body_len ? r->body_len : 1);
    if (!error || !body) {
        free(error);
        free(body);
        return;
    }
    memcpy(body, r->body, r->body_len);
    s->error = error;
    s->response_body.data = body;
    s->response_body.len = r->body_len;
}

/* Counts and logs a synchronous attempt as the scheduler does an
 * asynchronous one (it is never retried: next_in_ms=-1). */
static void count_sync(trig_t *t, sync_hook_t *h, const hk_attempt_t *a)
{
    t->api->sync_stats.attempts++;
    if (a->outcome == HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED)
        t->api->sync_stats.succeeded++;
    else
        t->api->sync_stats.failed++;
    hk_attempt_log(h->result.delivery_id, h->wh->id, 1, 1, a, -1, 0);
}

static void on_gone(void *arg)
{
    settle(arg);
}

static void on_sync_result(hk_http_request_t *req, const hk_http_result_t *r, void *arg)
{
    (void)req;
    sync_hook_t *h = arg;
    trig_t *t = h->t;
    h->req = NULL;
    keep_result(h, r);
    if (r->http_status == 410) {
        /* Answered once the webhook is inactive: the caller reads it so. */
        t->pending++;
        hk_attempt_gone(t->api->store, h->wh->id, on_gone, t);
    }
    hk_attempt_t a;
    hk_attempt_record_of(r, h->start_ms, &a);
    count_sync(t, h, &a);
    log_sync(t, h, &a);
    settle(t);
}

static void on_cancel(hk_call_t *call, void *arg)
{
    (void)call;
    trig_t *t = arg;
    t->cancelled = 1;
    /* At once: the receivers see their connections close now. The results
     * come back (CANCELLED) from the loop and finish the call. */
    for (size_t i = 0; i < t->n_sync; i++)
        if (t->sync[i].req) hk_http_request_cancel(t->sync[i].req);
}

static void on_repeat_cancel(hk_call_t *call, void *arg)
{
    repeat_t *r = arg;
    hk_inflight_unwait(&r->waiter);
    hk_rpc_fail(call, HK_STATUS_CANCELLED, "cancelled");
    free(r);
}

/* ---- matching --------------------------------------------------------------------------- */

typedef struct {
    hk_store_t *store;
    hk_webhook_t **sync, **async;
    size_t n_sync, n_async, cap_sync, cap_async;
    Hookd__V1__SkippedWebhook *skipped; /* webhook_name owned */
    size_t n_skipped, cap_skipped;
    int skip_api; /* origin is API: webhooks ignoring API events are skipped */
    int err;
} match_t;

static int push(hk_webhook_t ***arr, size_t *n, size_t *cap, hk_webhook_t *wh)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        hk_webhook_t **a = realloc(*arr, c * sizeof *a);
        if (!a) return HK_ENOMEM;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = wh;
    return 0;
}

static int skip(match_t *m, const hk_webhook_t *wh)
{
    if (m->n_skipped == m->cap_skipped) {
        size_t c = m->cap_skipped ? m->cap_skipped * 2 : 4;
        Hookd__V1__SkippedWebhook *a = realloc(m->skipped, c * sizeof *a);
        if (!a) return HK_ENOMEM;
        m->skipped = a;
        m->cap_skipped = c;
    }
    Hookd__V1__SkippedWebhook *k = &m->skipped[m->n_skipped];
    hookd__v1__skipped_webhook__init(k);
    k->webhook_id = wh->id;
    k->reason = (char *)"ignore_for_api";
    if (!(k->webhook_name = strdup(wh->name))) return HK_ENOMEM;
    m->n_skipped++;
    return 0;
}

/* Matches come without their secrets: a queued delivery needs none, and a
 * synchronous webhook, which is called at once, is read again whole. */
static int on_match(hk_webhook_t *wh, void *arg)
{
    match_t *m = arg;
    hk_webhook_t *whole = NULL;
    int err;
    if (wh->active && m->skip_api && wh->ignore_for_api) {
        /* Told in the answer: a caller wondering why nothing came sees it. */
        err = skip(m, wh);
        hk_webhook_free(wh);
        if (err) m->err = err;
        return err ? 1 : 0;
    }
    if (!wh->active) {
        hk_webhook_free(wh);
        return 0;
    }
    if (!wh->asynchronous) {
        err = hk_store_webhook_get(m->store, wh->id, &whole);
        hk_webhook_free(wh);
        if (err == HK_ENOTFOUND) return 0;
        if (err) {
            m->err = err;
            return 1;
        }
        wh = whole;
    }
    err = wh->asynchronous ? push(&m->async, &m->n_async, &m->cap_async, wh)
                           : push(&m->sync, &m->n_sync, &m->cap_sync, wh);
    if (err) {
        hk_webhook_free(wh);
        m->err = err;
        return 1;
    }
    return 0;
}

static void match_free(match_t *m)
{
    for (size_t i = 0; i < m->n_sync; i++)
        hk_webhook_free(m->sync[i]);
    for (size_t i = 0; i < m->n_async; i++)
        hk_webhook_free(m->async[i]);
    for (size_t i = 0; i < m->n_skipped; i++)
        free(m->skipped[i].webhook_name);
    free(m->sync);
    free(m->async);
    free(m->skipped);
}

/* ---- the handler ------------------------------------------------------------------------- */

static int valid_event_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > EVENT_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0x21 || id[i] > 0x7e) return 0;
    return 1;
}

/* Random bytes for made-up event ids, drawn from the system in one go for
 * many ids: one getrandom per event was a syscall on every call. */
#define ID_BYTES 16
#define ID_POOL (ID_BYTES * 256)

static void new_event_id(char *out, size_t n)
{
    static uint8_t pool[ID_POOL];
    static size_t used = ID_POOL;
    char b64[32];
    if (used == ID_POOL) {
        hk_crypto_random(pool, sizeof pool);
        used = 0;
    }
    hk_crypto_b64url(pool + used, ID_BYTES, b64);
    used += ID_BYTES;
    snprintf(out, n, "evt_%s", b64);
}

/* Answers a repeat from the recorded answer; 1 when it did. */
static int answer_recorded(hk_call_t *call, const hk_api_t *api, const char *event_id, int64_t now)
{
    int64_t when;
    uint8_t *data = NULL;
    size_t len;
    if (hk_outbox_event_get(api->store, event_id, &when, &data, &len) != 0) return 0;
    int fresh = now - when < (int64_t)api->config->idempotency_window_s * 1000;
    Hookd__V1__TriggerEventResponse *resp =
        fresh ? hookd__v1__trigger_event_response__unpack(NULL, len, data) : NULL;
    free(data);
    if (!fresh) return 0;
    if (!resp) {
        hk_rpc_fail(call, HK_STATUS_INTERNAL, "the recorded answer for event_id %s is corrupt",
                    event_id);
        return 1;
    }
    resp->duplicate = 1;
    hk_rpc_reply(call, &resp->base);
    hookd__v1__trigger_event_response__free_unpacked(resp, NULL);
    return 1;
}

static int wait_for_first(hk_call_t *call, hk_inflight_event_t *first)
{
    repeat_t *r = calloc(1, sizeof *r);
    if (!r) return HK_ENOMEM;
    r->call = call;
    hk_inflight_wait(first, &r->waiter);
    hk_call_on_cancel(call, on_repeat_cancel, r);
    return 0;
}

/* On the writer thread, inside the trigger's own txn: the deliveries and,
 * for a caller-chosen id, the event's record; all of it or none. */
static int queue_write(hk_store_t *store, hk_store_write_t *w)
{
    trig_t *t = hk_container_of(w, trig_t, write);
    size_t kept = 0;
    int err;
    for (size_t i = 0; i < t->n_queued; i++) {
        err = hk_outbox_delivery_put(store, &t->dels[i], (const uint8_t *)t->body, t->body_len,
                                     t->data_len, NULL);
        t->gone[i] = err == HK_ENOTFOUND; /* deleted since it matched */
        if (err && err != HK_ENOTFOUND) return err;
        kept += !err;
    }
    if (kept == 0 || !t->keyed) return 0;
    Hookd__V1__TriggerEventResponse resp;
    err = response_of(t, &resp);
    resp.n_results = 0; /* the sync part is not known yet */
    if (!err) err = record_event(t, &resp);
    response_release(&resp);
    return err;
}

/* Queues one delivery per asynchronous webhook, and the event id's record
 * with them, as one store write. */
static int queue_async(trig_t *t, match_t *m)
{
    const hk_config_t *cfg = t->api->config;
    uint64_t delay = 0;
    t->queued = calloc(m->n_async, sizeof *t->queued);
    t->dels = calloc(m->n_async, sizeof *t->dels);
    t->gone = calloc(m->n_async, 1);
    if (!t->queued || !t->dels || !t->gone) return HK_ENOMEM;
    for (size_t i = 0; i < m->n_async; i++) {
        hk_webhook_t *wh = m->async[i];
        Hookd__V1__QueuedDelivery *q = &t->queued[t->n_queued];
        hookd__v1__queued_delivery__init(q);
        if (!(q->webhook_name = strdup(wh->name))) return HK_ENOMEM;
        hk_delivery_t *d = &t->dels[t->n_queued];
        hookd__v1__delivery__init(d);
        hk_retry_delay_ms(cfg->retry_schedule_ms, cfg->retry_count, 0, 0, -1, 0, hk_retry_random(),
                          &delay);
        d->id = hk_outbox_delivery_id(t->api->store);
        d->webhook_id = wh->id;
        d->webhook_name = q->webhook_name;
        d->event_id = t->event_id;
        d->application = t->application;
        d->trigger_action = t->trigger_action;
        d->origin = t->origin;
        d->asynchronous = 1;
        d->state = HK_DELIVERY_PENDING;
        d->create_time = t->time_ms;
        d->next_attempt_time = t->time_ms + (int64_t)delay;
        q->delivery_id = d->id;
        q->webhook_id = wh->id;
        t->n_queued++;
    }
    t->write.run = queue_write;
    t->write.done = on_durable;
    t->pending++;
    hk_store_submit(t->api->store, &t->write);
    return 0;
}

static void start_sync(trig_t *t, match_t *m)
{
    t->sync = calloc(m->n_sync ? m->n_sync : 1, sizeof *t->sync);
    if (!t->sync) {
        t->err = HK_ENOMEM;
        return;
    }
    /* The webhooks move into the sync hooks: match_free no longer sees them. */
    for (size_t i = 0; i < m->n_sync; i++) {
        sync_hook_t *h = &t->sync[i];
        h->t = t;
        h->wh = m->sync[i];
        m->sync[i] = NULL;
        hookd__v1__sync_result__init(&h->result);
        h->result.webhook_id = h->wh->id;
        h->result.webhook_name = h->wh->name;
        h->result.delivery_id = hk_outbox_delivery_id(t->api->store);
        t->n_sync++;
    }
    m->n_sync = 0;
    for (size_t i = 0; i < t->n_sync; i++) {
        sync_hook_t *h = &t->sync[i];
        hk_attempt_req_t areq = {
            .webhook = h->wh,
            .event_id = t->event_id,
            .body = (const uint8_t *)t->body,
            .body_len = t->body_len,
            .max_body_keep = HK_ATTEMPT_SYNC_BODY_MAX,
            .urgent = 1,
        };
        h->start_ms = hk_attempt_now_ms();
        t->pending++;
        int err = hk_attempt_start(t->api->http, &areq, on_sync_result, h, &h->req);
        if (err) {
            h->req = NULL;
            hk_attempt_t a;
            hk_attempt_record_failed(err, h->start_ms, &a);
            h->result.outcome = a.outcome;
            char *error = strdup(a.error);
            if (error) h->result.error = error;
            count_sync(t, h, &a);
            log_sync(t, h, &a);
            t->pending--;
        }
    }
}

void hk_api_trigger_event(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__TriggerEventRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    const hk_config_t *cfg = api->config;
    char err_text[512], event_id[EVENT_ID_MAX + 1];
    match_t m = {0};
    trig_t *t = NULL;
    int err;

    if (hk_validate_application(req->application, err_text, sizeof err_text) ||
        hk_validate_trigger_action(cfg->catalog, req->application, req->trigger_action, err_text,
                                   sizeof err_text)) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "%s", err_text);
        return;
    }
    const char *origin_name = hk_sign_origin_name(req->origin);
    if (!origin_name) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "origin: %d is not an Origin",
                    (int)req->origin);
        return;
    }
    if (req->payload.len > cfg->max_payload_bytes) {
        hk_rpc_fail(call, HK_STATUS_RESOURCE_EXHAUSTED, "payload: %zu bytes, over the limit of %zu",
                    req->payload.len, cfg->max_payload_bytes);
        return;
    }
    /* An empty payload is sent as null; anything else must be JSON. */
    char why[192];
    if (req->payload.len && hk_json_check(req->payload.data, req->payload.len, why, sizeof why)) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "payload: not valid JSON: %s", why);
        return;
    }
    if (*req->event_id) {
        if (!valid_event_id(req->event_id)) {
            hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT,
                        "event_id: must be 1-%d printable ASCII characters, no spaces",
                        EVENT_ID_MAX);
            return;
        }
        snprintf(event_id, sizeof event_id, "%s", req->event_id);
    } else {
        new_event_id(event_id, sizeof event_id);
    }
    int64_t now = hk_attempt_now_ms();

    /* Idempotency: a repeat gets the first answer and delivers nothing. */
    hk_inflight_event_t *first = *req->event_id ? hk_inflight_find(api->inflight, event_id) : NULL;
    if (first) {
        if ((err = wait_for_first(call, first))) hk_rpc_fail_err(call, err, "trigger event");
        return;
    }
    if (*req->event_id && answer_recorded(call, api, event_id, now)) return;

    m.store = api->store;
    m.skip_api = req->origin == HOOKD__V1__ORIGIN__ORIGIN_API;
    err = hk_store_webhook_match_bare(api->store, req->application, req->trigger_action, on_match,
                                      &m);
    if (!err) err = m.err;
    if (err) {
        hk_rpc_fail_err(call, err, "match webhooks");
        goto out;
    }

    err = HK_ENOMEM;
    if (!(t = calloc(1, sizeof *t))) goto fail;
    t->api = api;
    t->call = call;
    t->application = req->application;
    t->origin = req->origin;
    t->time_ms = now;
    t->keyed = *req->event_id != 0;
    /* The skipped webhooks move into the answer. */
    t->skipped = m.skipped;
    t->n_skipped = m.n_skipped;
    m.skipped = NULL;
    m.n_skipped = 0;
    if (!(t->event_id = strdup(event_id)) || !(t->trigger_action = strdup(req->trigger_action)))
        goto fail;
    hk_sign_envelope_t ev = {
        .event_id = event_id,
        .trigger_action = req->trigger_action,
        .application = hk_application_name(req->application),
        .origin = origin_name,
        .time_ms = now,
        .payload = req->payload.data,
        .payload_len = req->payload.len,
    };
    if ((err = hk_sign_envelope(&ev, &t->body, &t->body_len))) goto fail;
    t->data_len = req->payload.len ? req->payload.len : 4; /* "null" */

    /* Asynchronous first: if the store cannot take them, nothing has been
     * sent anywhere yet and the caller gets RESOURCE_EXHAUSTED. */
    if (m.n_async && (err = queue_async(t, &m))) goto fail;
    if (t->keyed) hk_inflight_add(api->inflight, &t->inflight, t->event_id);
    start_sync(t, &m);
    hk_log(HK_LOG_DEBUG, "trigger",
           "event_id=%s application=%s trigger_action=%s sync=%zu async=%zu skipped=%zu",
           t->event_id, hk_application_name(t->application), t->trigger_action, t->n_sync,
           t->n_queued, t->n_skipped);
    if (t->pending == 0) {
        t->pending = 1;
        settle(t);
    } else {
        hk_call_on_cancel(call, on_cancel, t);
    }
    goto out;

fail:
    hk_rpc_fail_err(call, err, "trigger event");
    if (t) trig_free(t);
out:
    match_free(&m);
}
