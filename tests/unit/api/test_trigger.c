/* test_trigger.c -- TriggerEvent through hk_rpc_dispatch: a store, group commit, http on one loop
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "api/inflight.h"
#include "core/config.h"
#include "core/error.h"
#include "core/status.h"
#include "fake_call.h"
#include "hookd/v1/webhooks.pb-c.h"
#include "store/batch.h"
#include "store/deliveries.h"
#include "store/events.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "unit.h"

#define TRIGGER "/hookd.v1.Webhooks/TriggerEvent"
#define ENTERPRISE HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE
#define USER HOOKD__V1__ORIGIN__ORIGIN_USER
#define API HOOKD__V1__ORIGIN__ORIGIN_API

/* --- a loopback receiver: answers every request with `status` (0: never) -- */

#define RX_CONNS 8

typedef struct rx rx_t;

typedef struct {
    uv_tcp_t tcp;
    rx_t *rx;
    char buf[16384];
    size_t len;
    int answered, open;
    uv_write_t write;
} rconn_t;

struct rx {
    uv_tcp_t listener;
    int port, status, requests;
    rconn_t conns[RX_CONNS];
};

static void rconn_closed(uv_handle_t *h)
{
    ((rconn_t *)h->data)->open = 0;
}

static void rconn_close(rconn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, rconn_closed);
}

static void on_rwritten(uv_write_t *w, int status)
{
    (void)status;
    rconn_close(w->data);
}

static void ralloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    rconn_t *c = h->data;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void rread(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    rconn_t *c = s->data;
    if (n < 0) {
        rconn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    const char *cl = strcasestr(c->buf, "content-length:");
    if (!end || !cl || c->answered) return;
    if (c->len < (size_t)(end + 4 - c->buf) + strtoul(cl + 15, NULL, 10)) return;
    c->answered = 1;
    c->rx->requests++;
    if (c->rx->status == 0) return; /* hold: the client gives up */
    static char resp[128];
    int len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                       c->rx->status);
    c->write.data = c;
    uv_buf_t b = uv_buf_init(resp, (unsigned)len);
    uv_write(&c->write, s, &b, 1, on_rwritten);
}

static void on_rconn(uv_stream_t *l, int status)
{
    rx_t *rx = l->data;
    rconn_t *c = NULL;
    if (status < 0) return;
    for (int i = 0; i < RX_CONNS && !c; i++)
        if (!rx->conns[i].open) c = &rx->conns[i];
    if (!c) abort(); /* more connections than a test makes */
    memset(c, 0, sizeof *c);
    c->rx = rx;
    c->open = 1;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, ralloc, rread);
    else
        rconn_close(c);
}

static int rx_start(uv_loop_t *loop, rx_t *rx, int status)
{
    struct sockaddr_in addr;
    struct sockaddr_storage got;
    int len = sizeof got;
    memset(rx, 0, sizeof *rx);
    rx->status = status;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &rx->listener);
    rx->listener.data = rx;
    if (uv_tcp_bind(&rx->listener, (const struct sockaddr *)&addr, 0) ||
        uv_listen((uv_stream_t *)&rx->listener, 16, on_rconn) ||
        uv_tcp_getsockname(&rx->listener, (struct sockaddr *)&got, &len))
        return -1;
    rx->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

static void rx_close(rx_t *rx)
{
    for (int i = 0; i < RX_CONNS; i++)
        if (rx->conns[i].open) rconn_close(&rx->conns[i]);
    uv_close((uv_handle_t *)&rx->listener, NULL);
}

/* --- the rig: what hookd's daemon gives the handlers ------------------------ */

typedef struct {
    uv_loop_t loop;
    hk_config_t config;
    hk_api_t api;
    rx_t rx;
    uv_timer_t tick;
    int closed;
} rig_t;

static int rig_open(rig_t *r, int rx_status)
{
    memset(r, 0, sizeof *r);
    uv_loop_init(&r->loop);
    uv_timer_init(&r->loop, &r->tick);
    if (hk_config_defaults(&r->config) != 0) return -1;
    r->api.config = &r->config;
    if (hk_store_open(hk_test_tmpdir(), 64u << 20, &r->api.store) ||
        hk_http_new(&r->loop, NULL, &r->api.http) ||
        hk_commit_new(&r->loop, r->api.store, &r->api.commit) || hk_inflight_new(&r->api.inflight))
        return -1;
    return rx_start(&r->loop, &r->rx, rx_status);
}

static void on_rig_closed(void *arg)
{
    rig_t *r = arg;
    if (++r->closed == 1) {
        hk_commit_close(r->api.commit, on_rig_closed, r);
        return;
    }
    rx_close(&r->rx);
    uv_close((uv_handle_t *)&r->tick, NULL);
}

/* Closes everything in the daemon's order; 0 when the loop closed clean. */
static int rig_close(rig_t *r)
{
    hk_http_close(r->api.http, on_rig_closed, r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    hk_inflight_free(r->api.inflight);
    hk_store_close(r->api.store);
    hk_config_free(&r->config);
    return r->closed == 2 ? uv_loop_close(&r->loop) : -1;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag reaches want, and the batch holding what the
 * handler wrote has been committed, or 5 s pass. Returns 0 when it did. */
static int run_until(rig_t *r, const int *flag, int want)
{
    uint64_t deadline = uv_now(&r->loop) + 5000;
    uv_timer_start(&r->tick, on_tick, 5, 5);
    while ((*flag < want || hk_outbox_batch_gen(r->api.store) != 0 ||
            hk_store_outstanding(r->api.store)) &&
           uv_now(&r->loop) < deadline)
        uv_run(&r->loop, UV_RUN_ONCE);
    uv_timer_stop(&r->tick);
    return *flag >= want && hk_outbox_batch_gen(r->api.store) == 0 &&
                   !hk_store_outstanding(r->api.store)
               ? 0
               : -1;
}

static int answered(const fake_answer_t *a)
{
    return a->call == NULL;
}

static uint64_t add_webhook(rig_t *r, const char *name, const char *url, int async, int active,
                            int ignore_for_api)
{
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = (char *)name;
    wh.application = ENTERPRISE;
    wh.trigger_action = (char *)"AccountUpdated";
    wh.url = (char *)url;
    wh.timeout_seconds = 5;
    wh.secret_key = (char *)"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    wh.asynchronous = async;
    wh.active = active;
    wh.ignore_for_api = ignore_for_api;
    wh.description = (char *)"";
    return hk_store_webhook_create(r->api.store, &wh) == 0 ? wh.id : 0;
}

static void trigger(rig_t *r, fake_answer_t *a, const char *event_id, int origin,
                    const char *payload)
{
    Hookd__V1__TriggerEventRequest req = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT;
    req.application = ENTERPRISE;
    req.trigger_action = (char *)"AccountUpdated";
    req.payload.data = (uint8_t *)payload;
    req.payload.len = strlen(payload);
    req.origin = origin;
    req.event_id = (char *)event_id;
    fake_call(a, &r->api, TRIGGER, getuid(), &req.base);
}

static Hookd__V1__TriggerEventResponse *response(const fake_answer_t *a)
{
    return (void *)fake_answer_unpack(a, &hookd__v1__trigger_event_response__descriptor);
}

static int count_visit(hk_delivery_t *d, void *arg)
{
    hk_delivery_free(d);
    ++*(int *)arg;
    return 0;
}

static int deliveries_stored(rig_t *r)
{
    int n = 0;
    uint64_t resume;
    if (hk_outbox_delivery_list(r->api.store, 0, 0, 0, 100000, count_visit, &n, &resume) != 0)
        return -1;
    return n;
}

/* --- the tests ------------------------------------------------------------ */

/* Asynchronous webhooks: one PENDING delivery each, on disk before the
 * answer; inactive webhooks, and those ignoring API events for an API
 * origin, get none. */
TEST(async_queued_durably)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r, 200), 0);
    uint64_t on = add_webhook(&r, "on", "https://receiver.example/a", 1, 1, 0);
    CHECK(on && add_webhook(&r, "off", "https://receiver.example/b", 1, 0, 0));
    CHECK(add_webhook(&r, "no-api", "https://receiver.example/c", 1, 1, 1));
    hk_commit_stats_t before;
    hk_commit_stats(r.api.commit, &before);
    trigger(&r, &a, "evt-1", API, "{\"account\":42}");
    CHECK(!answered(&a)); /* it waits for the sync */
    CHECK_INT(hk_inflight_count(r.api.inflight), 1);
    CHECK_INT(run_until(&r, &a.status, 0), 0);
    CHECK(answered(&a));
    CHECK_INT(a.status, HK_STATUS_OK);
    hk_commit_stats_t cs;
    hk_commit_stats(r.api.commit, &cs);
    CHECK(cs.syncs >= before.syncs + 1);
    CHECK_INT(cs.waiters, before.waiters + 1); /* one write for the event */
    CHECK_INT(hk_inflight_count(r.api.inflight), 0);

    Hookd__V1__TriggerEventResponse *resp = response(&a);
    CHECK(resp != NULL);
    CHECK_STR(resp->event_id, "evt-1");
    CHECK(!resp->duplicate);
    CHECK_INT(resp->n_results, 0);
    CHECK_INT(resp->n_queued, 1);
    CHECK_INT(resp->queued[0]->webhook_id, on);
    CHECK_STR(resp->queued[0]->webhook_name, "on");
    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(r.api.store, resp->queued[0]->delivery_id, 1, &d), 0);
    CHECK_INT(d->state, HK_DELIVERY_PENDING);
    CHECK_INT(d->webhook_id, on);
    CHECK_STR(d->event_id, "evt-1");
    CHECK(d->asynchronous);
    CHECK_INT(d->origin, API);
    hk_delivery_free(d);
    CHECK_INT(deliveries_stored(&r), 1);
    /* The caller's event id is recorded with the deliveries. */
    int64_t when;
    uint8_t *data = NULL;
    size_t len;
    CHECK_INT(hk_outbox_event_get(r.api.store, "evt-1", &when, &data, &len), 0);
    free(data);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    fake_answer_free(&a);
    CHECK_INT(rig_close(&r), 0);
}

/* A repeat of an event id in flight waits for the first answer and gets it
 * (duplicate), one that gives up meanwhile gets CANCELLED, and a repeat
 * after the answer is answered from the record; one delivery in all. */
TEST(repeats_wait_for_the_first)
{
    rig_t r;
    fake_answer_t first, again, gone, later;
    CHECK_INT(rig_open(&r, 200), 0);
    CHECK(add_webhook(&r, "q", "https://receiver.example/a", 1, 1, 0));
    trigger(&r, &first, "evt-r", USER, "{}");
    trigger(&r, &again, "evt-r", USER, "{\"other\":1}"); /* the id alone is the key */
    trigger(&r, &gone, "evt-r", USER, "{}");
    CHECK(!answered(&first) && !answered(&again) && !answered(&gone));
    CHECK_INT(hk_inflight_count(r.api.inflight), 1);
    fake_call_cancel(&gone);
    CHECK(answered(&gone));
    CHECK_INT(gone.status, HK_STATUS_CANCELLED);

    CHECK_INT(run_until(&r, &again.status, 0), 0);
    CHECK(answered(&first) && answered(&again));
    Hookd__V1__TriggerEventResponse *r1 = response(&first), *r2 = response(&again);
    CHECK(r1 && r2);
    CHECK(!r1->duplicate);
    CHECK(r2->duplicate);
    CHECK_INT(r1->n_queued, 1);
    CHECK_INT(r2->n_queued, 1);
    CHECK_INT(r2->queued[0]->delivery_id, r1->queued[0]->delivery_id);

    trigger(&r, &later, "evt-r", USER, "{}");
    CHECK(answered(&later)); /* from the store, at once */
    Hookd__V1__TriggerEventResponse *r3 = response(&later);
    CHECK(r3 != NULL);
    CHECK(r3->duplicate);
    CHECK_INT(r3->n_queued, 1);
    CHECK_INT(r3->queued[0]->delivery_id, r1->queued[0]->delivery_id);
    CHECK_INT(deliveries_stored(&r), 1);
    CHECK_INT(hk_inflight_count(r.api.inflight), 0);
    protobuf_c_message_free_unpacked(&r1->base, NULL);
    protobuf_c_message_free_unpacked(&r2->base, NULL);
    protobuf_c_message_free_unpacked(&r3->base, NULL);
    fake_answer_free(&first);
    fake_answer_free(&again);
    fake_answer_free(&later);
    CHECK_INT(rig_close(&r), 0);
}

static int closed_port(uv_loop_t *loop)
{
    uv_tcp_t t;
    struct sockaddr_in addr;
    struct sockaddr_storage got;
    int len = sizeof got, port = -1;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &t);
    if (uv_tcp_bind(&t, (const struct sockaddr *)&addr, 0) == 0 &&
        uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len) == 0)
        port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return port; /* bound, never listened on, closed: connections are refused */
}

static const Hookd__V1__SyncResult *result_of(const Hookd__V1__TriggerEventResponse *resp,
                                              uint64_t webhook_id)
{
    for (size_t i = 0; i < resp->n_results; i++)
        if (resp->results[i]->webhook_id == webhook_id) return resp->results[i];
    return NULL;
}

/* Synchronous webhooks: called at once, the answer carries each result,
 * and each is logged as a delivery with its attempt. */
TEST(sync_results_answered_and_logged)
{
    rig_t r;
    fake_answer_t a;
    char ok_url[64], refused_url[64];
    CHECK_INT(rig_open(&r, 200), 0);
    int port = closed_port(&r.loop);
    CHECK(port > 0);
    snprintf(ok_url, sizeof ok_url, "http://127.0.0.1:%d/hook", r.rx.port);
    snprintf(refused_url, sizeof refused_url, "http://127.0.0.1:%d/hook", port);
    uint64_t ok = add_webhook(&r, "ok", ok_url, 0, 1, 0);
    uint64_t refused = add_webhook(&r, "refused", refused_url, 0, 1, 0);
    CHECK(ok && refused);
    trigger(&r, &a, "", USER, "");
    CHECK(!answered(&a));
    CHECK_INT(hk_inflight_count(r.api.inflight), 0); /* a made-up id cannot be repeated */
    CHECK_INT(run_until(&r, &a.status, 0), 0);
    CHECK_INT(a.status, HK_STATUS_OK);
    CHECK_INT(r.rx.requests, 1);

    Hookd__V1__TriggerEventResponse *resp = response(&a);
    CHECK(resp != NULL);
    CHECK(strncmp(resp->event_id, "evt_", 4) == 0);
    CHECK_INT(resp->n_results, 2);
    CHECK_INT(resp->n_queued, 0);
    const Hookd__V1__SyncResult *s = result_of(resp, ok), *f = result_of(resp, refused);
    CHECK(s && f);
    CHECK_INT(s->outcome, HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED);
    CHECK_INT(s->http_status, 200);
    CHECK_INT(s->response_body.len, 2);
    CHECK(memcmp(s->response_body.data, "ok", 2) == 0);
    CHECK_INT(f->outcome, HOOKD__V1__OUTCOME__OUTCOME_NETWORK_ERROR);
    CHECK_INT(f->http_status, 0);
    CHECK(*f->error);

    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(r.api.store, s->delivery_id, 1, &d), 0);
    CHECK_INT(d->state, HK_DELIVERY_SUCCEEDED);
    CHECK_INT(d->attempt_count, 1);
    CHECK(!d->asynchronous);
    CHECK_STR(d->event_id, resp->event_id);
    hk_delivery_free(d);
    CHECK_INT(hk_outbox_delivery_get(r.api.store, f->delivery_id, 1, &d), 0);
    CHECK_INT(d->state, HK_DELIVERY_FAILED);
    hk_delivery_free(d);
    /* hookd made the id up: nothing is recorded for it. */
    int64_t when;
    uint8_t *data = NULL;
    size_t len;
    CHECK_INT(hk_outbox_event_get(r.api.store, resp->event_id, &when, &data, &len), HK_ENOTFOUND);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    fake_answer_free(&a);
    CHECK_INT(rig_close(&r), 0);
}

/* A caller that goes away aborts the transfers at once; the delivery is
 * logged FAILED. */
TEST(cancel_aborts_sync_transfers)
{
    rig_t r;
    fake_answer_t a;
    char url[64];
    CHECK_INT(rig_open(&r, 0), 0); /* the receiver never answers */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.rx.port);
    uint64_t id = add_webhook(&r, "slow", url, 0, 1, 0);
    CHECK(id != 0);
    trigger(&r, &a, "evt-c", USER, "{}");
    CHECK_INT(run_until(&r, &r.rx.requests, 1), 0);
    CHECK(!answered(&a));
    uint64_t t0 = uv_now(&r.loop);
    fake_call_cancel(&a);
    CHECK_INT(a.status, HK_STATUS_CANCELLED);
    CHECK(!answered(&a)); /* the handler finishes it when the transfer is back */
    int done = 0;
    while (!answered(&a) && uv_now(&r.loop) < t0 + 3000) {
        uv_timer_start(&r.tick, on_tick, 5, 0);
        uv_run(&r.loop, UV_RUN_ONCE);
    }
    done = answered(&a);
    CHECK(done);
    CHECK(uv_now(&r.loop) - t0 < 2000); /* not the webhook's 5 s timeout */
    CHECK_INT(hk_inflight_count(r.api.inflight), 0);
    CHECK_INT(run_until(&r, &done, 1), 0);
    CHECK_INT(deliveries_stored(&r), 1);
    CHECK_INT(rig_close(&r), 0);
}

TEST(invalid_requests_change_nothing)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r, 200), 0);
    CHECK(add_webhook(&r, "q", "https://receiver.example/a", 1, 1, 0));
    r.config.max_payload_bytes = 16;
    trigger(&r, &a, "", USER, "{not json}");
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "payload") != NULL);
    trigger(&r, &a, "", USER, "{\"much\":\"too long a payload\"}");
    CHECK_INT(a.status, HK_STATUS_RESOURCE_EXHAUSTED);
    trigger(&r, &a, "has space", USER, "{}");
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "event_id") != NULL);
    trigger(&r, &a, "", 99, "{}");
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "origin") != NULL);

    Hookd__V1__TriggerEventRequest req = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT;
    req.application = ENTERPRISE;
    req.trigger_action = (char *)"NoSuchAction";
    req.origin = USER;
    fake_call(&a, &r.api, TRIGGER, getuid(), &req.base);
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "trigger_action") != NULL);

    CHECK_INT(deliveries_stored(&r), 0);
    CHECK_INT(hk_outbox_batch_gen(r.api.store), 0); /* nothing written */
    CHECK_INT(hk_inflight_count(r.api.inflight), 0);
    CHECK_INT(rig_close(&r), 0);
}
