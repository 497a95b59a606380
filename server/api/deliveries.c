/* deliveries.c -- the delivery log RPCs: ListDeliveries, GetDelivery, RedeliverDelivery */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/methods.h"
#include "api/validate.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "core/status.h"
#include "deliver/attempt.h"
#include "deliver/retry.h"
#include "deliver/commit.h"
#include "deliver/scheduler.h"
#include "store/batch.h"
#include "store/deliveries.h"
#include "store/webhooks.h"

/* Records one ListDeliveries call may read: a rare state filter over a long
 * log ends a page early (with a token) instead of stalling the loop. */
#define SCAN_MAX 20000

/* --- ListDeliveries ---------------------------------------------------------------- */

typedef struct {
    hk_delivery_t **items;
    size_t n, want;
    int more;
} page_t;

static int collect(hk_delivery_t *d, void *arg)
{
    page_t *page = arg;
    if (page->n == page->want) {
        /* One more than the page holds: there is a next page. */
        page->more = 1;
        hk_delivery_free(d);
        return 1;
    }
    page->items[page->n++] = d;
    return 0;
}

void hk_api_list_deliveries(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__ListDeliveriesRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    uint64_t webhook_id = req->webhook_id, before, resume = 0;
    char token[32] = "";
    page_t page = {0};

    if (req->state > HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_CANCELLED) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "state: %d is not a DeliveryState",
                    (int)req->state);
        return;
    }
    if (hk_rpc_page_token_parse(req->page_token, &before) != 0) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT,
                    "page_token: is not a token from a previous ListDeliveries answer");
        return;
    }
    if (!webhook_id && *req->webhook_name) {
        hk_webhook_t *wh = NULL;
        int rc = hk_validate_name("webhook_name", req->webhook_name, NULL, 0) != 0
                     ? HK_ENOTFOUND
                     : hk_store_webhook_find(api->store, req->webhook_name, &wh);
        if (rc == HK_ENOTFOUND) {
            hk_rpc_fail(call, HK_STATUS_NOT_FOUND, "webhook_name: no webhook is named so");
            return;
        }
        if (rc) {
            hk_rpc_fail_err(call, rc, "find webhook");
            return;
        }
        webhook_id = wh->id;
        hk_webhook_free(wh);
    }
    page.want = hk_rpc_page_size(req->page_size);
    if (!(page.items = calloc(page.want, sizeof *page.items))) {
        hk_rpc_fail_err(call, HK_ENOMEM, "list deliveries");
        return;
    }
    int rc = hk_outbox_delivery_list(api->store, webhook_id, before, req->state, SCAN_MAX, collect,
                                     &page, &resume);
    if (rc) {
        hk_rpc_fail_err(call, rc, "list deliveries");
        goto out;
    }
    /* Why each one failed, and when: its newest attempt. */
    for (size_t i = 0; !rc && i < page.n; i++)
        rc = hk_outbox_attempt_last(api->store, page.items[i]);
    if (rc) {
        hk_rpc_fail_err(call, rc, "list deliveries");
        goto out;
    }
    if (page.more)
        snprintf(token, sizeof token, "%llu", (unsigned long long)page.items[page.n - 1]->id);
    else if (resume)
        snprintf(token, sizeof token, "%llu", (unsigned long long)resume);

    Hookd__V1__ListDeliveriesResponse resp = HOOKD__V1__LIST_DELIVERIES_RESPONSE__INIT;
    resp.n_deliveries = page.n;
    resp.deliveries = page.items;
    resp.next_page_token = token;
    hk_rpc_reply(call, &resp.base);
out:
    for (size_t i = 0; i < page.n; i++)
        hk_delivery_free(page.items[i]);
    free(page.items);
}

/* --- GetDelivery -------------------------------------------------------------------- */

void hk_api_get_delivery(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__GetDeliveryRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    hk_delivery_t *del = NULL;
    char what[64];
    int rc = req->id ? hk_outbox_delivery_get(api->store, req->id, 1, &del) : HK_ENOTFOUND;
    if (rc) {
        snprintf(what, sizeof what, "delivery %llu", (unsigned long long)req->id);
        hk_rpc_fail_err(call, rc, what);
        return;
    }
    char *own_error = del->last_error;
    if (del->n_attempts) {
        /* Borrowed from the newest attempt: put back before the free. */
        const hk_attempt_t *a = del->attempts[del->n_attempts - 1];
        del->last_outcome = a->outcome;
        del->last_http_status = a->http_status;
        del->last_error = a->error;
        del->last_attempt_time = a->time;
    }
    hk_rpc_reply(call, &del->base);
    del->last_error = own_error;
    hk_delivery_free(del);
}

/* --- RedeliverDelivery -------------------------------------------------------------- */

typedef struct {
    hk_call_t *call;
    hk_store_write_t write; /* the new delivery, written by the store's writer */
    hk_delivery_t *d;       /* the new delivery, as queued */
    uint8_t *body;
    size_t body_len, data_len;
} redeliver_t;

/* On the writer thread: r is the writer's until the answer. */
static int redelivery_write(hk_store_t *store, hk_store_write_t *w)
{
    redeliver_t *r = hk_container_of(w, redeliver_t, write);
    return hk_outbox_delivery_put(store, r->d, r->body, r->body_len, r->data_len, NULL);
}

static void on_redelivery_durable(hk_store_write_t *w, int err)
{
    redeliver_t *r = hk_container_of(w, redeliver_t, write);
    /* A caller gone meanwhile: finishing the call only frees it. */
    if (err)
        hk_rpc_fail_err(r->call, err, "queue the delivery");
    else
        hk_rpc_reply(r->call, &r->d->base);
    hk_delivery_free(r->d);
    free(r->body);
    free(r);
}

void hk_api_redeliver_delivery(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__RedeliverDeliveryRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    const hk_config_t *cfg = api->config;
    hk_delivery_t *old = NULL;
    hk_webhook_t *wh = NULL;
    redeliver_t *r = NULL;
    uint8_t *body = NULL;
    size_t body_len, data_len;
    char what[96];
    int rc;

    rc = req->id ? hk_outbox_delivery_get(api->store, req->id, 0, &old) : HK_ENOTFOUND;
    if (rc) {
        snprintf(what, sizeof what, "delivery %llu", (unsigned long long)req->id);
        hk_rpc_fail_err(call, rc, what);
        goto out;
    }
    rc = hk_store_webhook_get(api->store, old->webhook_id, &wh);
    if (rc == HK_ENOTFOUND) {
        hk_rpc_fail(call, HK_STATUS_FAILED_PRECONDITION,
                    "delivery %llu: its webhook %llu no longer exists", (unsigned long long)old->id,
                    (unsigned long long)old->webhook_id);
        goto out;
    }
    if (!rc) rc = hk_outbox_body_get(api->store, old->id, &body, &body_len, &data_len);
    if (rc) {
        hk_rpc_fail_err(call, rc, "redeliver");
        goto out;
    }
    if (!(r = calloc(1, sizeof *r)) || !(r->d = calloc(1, sizeof *r->d))) {
        hk_rpc_fail_err(call, HK_ENOMEM, "redeliver");
        goto out;
    }

    /* The same event (id, body: the receiver may deduplicate) to the same
     * webhook, as a new asynchronous delivery. The record owns copies so
     * that it answers the call after the old one is gone. */
    hk_delivery_t *nd = r->d;
    uint64_t delay = 0;
    int64_t now = hk_attempt_now_ms();
    hk_retry_delay_ms(cfg->retry_schedule_ms, cfg->retry_count, 0, 0, -1, 0, hk_retry_random(),
                      &delay);
    hookd__v1__delivery__init(nd);
    nd->id = hk_outbox_delivery_id(api->store);
    nd->webhook_id = wh->id;
    nd->application = old->application;
    nd->origin = old->origin;
    nd->asynchronous = 1;
    nd->state = HK_DELIVERY_PENDING;
    nd->create_time = now;
    nd->next_attempt_time = now + (int64_t)delay;
    nd->webhook_name = strdup(wh->name);
    nd->event_id = strdup(old->event_id);
    nd->trigger_action = strdup(old->trigger_action);
    if (!nd->webhook_name || !nd->event_id || !nd->trigger_action) {
        hk_rpc_fail_err(call, HK_ENOMEM, "redeliver");
        goto out;
    }
    hk_log(HK_LOG_INFO, "redelivery", "delivery=%llu of=%llu webhook=%llu",
           (unsigned long long)nd->id, (unsigned long long)old->id, (unsigned long long)wh->id);
    r->call = call;
    r->body = body;
    r->body_len = body_len;
    r->data_len = data_len;
    body = NULL;
    r->write.run = redelivery_write;
    r->write.done = on_redelivery_durable;
    hk_store_submit(api->store, &r->write);
    r = NULL;
out:
    if (r) {
        hk_delivery_free(r->d);
        free(r);
    }
    free(body);
    hk_webhook_free(wh);
    hk_delivery_free(old);
}
