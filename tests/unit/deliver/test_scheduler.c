/* test_scheduler.c -- the scheduler on a loopback receiver: retries, caps, fairness, parking */
#define _GNU_SOURCE /* strcasestr */
#include "core/error.h"
#include "deliver/commit.h"
#include "deliver/http.h"
#include "deliver/scheduler.h"
#include "deliver/sign.h"
#include "store/deliveries.h"
#include "store/webhooks.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

/* --- a loopback receiver: answers each request with the next status of its
 * script (then keeps the last), or never ("hold" when status is 0, or the
 * path starts with hold_path), and closes the connection after answering. */

typedef struct {
    uv_tcp_t listener;
    int port;
    const int *script;
    int n_script, requests;
    int saw_signature;
    int open;
    const char *hold_path; /* requests to paths starting with it get no answer */
    int held;              /* requests held that way */
    char last_path[64], last_ts[32], last_sig[64]; /* of the last request */
} rx_t;

typedef struct {
    uv_tcp_t tcp;
    rx_t *rx;
    char buf[16384];
    size_t len;
    int answered;
} rconn_t;

static void rconn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_rwritten(uv_write_t *w, int status)
{
    (void)status;
    rconn_t *c = w->data;
    free(w);
    uv_close((uv_handle_t *)&c->tcp, rconn_closed);
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
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, rconn_closed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    const char *cl = strcasestr(c->buf, "content-length:");
    if (!end || !cl || c->answered) return;
    size_t want = (size_t)(end + 4 - c->buf) + strtoul(cl + 15, NULL, 10);
    if (c->len < want) return;
    rx_t *rx = c->rx;
    int status = rx->script[rx->requests < rx->n_script ? rx->requests : rx->n_script - 1];
    rx->requests++;
    if (strcasestr(c->buf, "\nwebhook-signature: v1,") &&
        strcasestr(c->buf, "\nauthorization: Bearer "))
        rx->saw_signature++;
    sscanf(c->buf, "%*s %63s", rx->last_path);
    const char *ts = strcasestr(c->buf, "\nwebhook-timestamp: ");
    const char *sig = strcasestr(c->buf, "\nwebhook-signature: ");
    if (ts) sscanf(ts + 20, "%31[0-9]", rx->last_ts);
    if (sig) sscanf(sig + 20, "%63[^\r]", rx->last_sig);
    c->answered = 1;
    if (rx->hold_path && strncmp(rx->last_path, rx->hold_path, strlen(rx->hold_path)) == 0) {
        rx->held++;
        return;
    }
    if (status == 0) return; /* hold: no answer */
    static char resp[128];
    int len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
    uv_write_t *w = malloc(sizeof *w);
    w->data = c;
    uv_buf_t b = uv_buf_init(resp, (unsigned)len);
    uv_write(w, s, &b, 1, on_rwritten);
}

static void on_rconn(uv_stream_t *l, int status)
{
    rx_t *rx = l->data;
    if (status < 0) return;
    rconn_t *c = calloc(1, sizeof *c);
    c->rx = rx;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, ralloc, rread);
    else
        uv_close((uv_handle_t *)&c->tcp, rconn_closed);
}

static int rx_start(uv_loop_t *loop, rx_t *rx, const int *script, int n)
{
    struct sockaddr_in addr;
    struct sockaddr_storage got;
    int len = sizeof got;
    memset(rx, 0, sizeof *rx);
    rx->script = script;
    rx->n_script = n;
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

/* --- the rig: store, http, commit, scheduler on one loop --------------------------- */

typedef struct rig {
    uv_loop_t loop;
    hk_store_t *store;
    hk_http_t *http;
    hk_commit_t *commit;
    hk_scheduler_t *sched;
    rx_t rx;
    uv_timer_t poll;
    uint64_t delivery, webhook;
    int want_state, want_requests, timed_out, closed;
    int64_t deadline;
    int change_after_first; /* change the webhook's URL and secret after the first request */
    int changed;
    int (*done)(struct rig *r); /* when set, the poll's condition instead of want_* */
    uint64_t waiting;           /* the scheduler's waiting deliveries when done */
    int fillers[4096];          /* descriptors held open to exhaust the process's */
    int n_fillers;
    uint64_t webhooks[2], deliveries[2][8];
} rig_t;

typedef struct {
    uint32_t per_webhook, max_in_flight, max_waiting;
    int deny_loopback; /* the outbound policy refuses 127.0.0.1 */
} rig_opts_t;

static const uint32_t FAST[] = {0, 100, 100};

static void on_wake(void *arg)
{
    rig_t *r = arg;
    if (r->sched) hk_scheduler_wake(r->sched);
}

/* A webhook to the rig's receiver at path; its id in *id. */
static int add_webhook(rig_t *r, const char *name, const char *path, uint64_t *id)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", r->rx.port, path);
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = (char *)name;
    wh.application = 1;
    wh.trigger_action = (char *)"AccountUpdated";
    wh.url = url;
    wh.timeout_seconds = 5;
    wh.secret_key = (char *)"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    wh.asynchronous = 1;
    wh.active = 1;
    wh.description = (char *)"";
    if (hk_store_webhook_create(r->store, &wh)) return -1;
    *id = wh.id;
    return 0;
}

/* A pending delivery, due now, to webhook wid; its id in *id. */
static int add_delivery(rig_t *r, uint64_t wid, uint64_t *id)
{
    static const char body[] = "{\"id\":\"evt\",\"data\":{}}";
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = hk_outbox_delivery_id(r->store);
    d.webhook_id = wid;
    d.webhook_name = (char *)"rx";
    d.event_id = (char *)"evt";
    d.asynchronous = 1;
    d.state = HK_DELIVERY_PENDING;
    if (hk_outbox_delivery_put(r->store, &d, (const uint8_t *)body, sizeof body - 1, 2, NULL))
        return -1;
    *id = d.id;
    return 0;
}

static int rig_open_with(rig_t *r, const int *script, int n, const rig_opts_t *ro)
{
    static const rig_opts_t none;
    if (!ro) ro = &none;
    memset(r, 0, sizeof *r);
    uv_loop_init(&r->loop);
    if (hk_store_open(hk_test_tmpdir(), 16u << 20, &r->store)) return -1;
    if (rx_start(&r->loop, &r->rx, script, n)) return -1;
    hk_policy_t policy;
    hk_policy_init(&policy);
    if (ro->deny_loopback && hk_policy_deny(&policy, "127.0.0.1/32")) return -1;
    hk_http_opts_t ho = {.policy = &policy};
    if (hk_http_new(&r->loop, &ho, &r->http)) return -1;
    if (hk_commit_new(&r->loop, r->store, &r->commit)) return -1;
    hk_scheduler_opts_t o = {.schedule_ms = FAST,
                             .schedule_len = 3,
                             .retry_after_max_s = 10,
                             .max_in_flight = ro->max_in_flight,
                             .max_in_flight_per_webhook = ro->per_webhook,
                             .max_waiting = ro->max_waiting};
    if (hk_scheduler_new(&r->loop, r->store, r->http, &o, &r->sched)) return -1;
    hk_commit_listener_t listener = {.committed = on_wake, .arg = r};
    hk_commit_set_listener(r->commit, &listener);
    if (add_webhook(r, "rx", "/hook", &r->webhook)) return -1;
    if (add_delivery(r, r->webhook, &r->delivery)) return -1;
    uv_timer_init(&r->loop, &r->poll);
    return 0;
}

static int rig_open(rig_t *r, const int *script, int n)
{
    return rig_open_with(r, script, n, NULL);
}

static hk_delivery_t *get(rig_t *r)
{
    hk_delivery_t *d = NULL;
    return hk_outbox_delivery_get(r->store, r->delivery, 1, &d) == 0 ? d : NULL;
}

static void on_closed_step(void *arg);

static void rig_close(rig_t *r)
{
    uv_timer_stop(&r->poll);
    hk_scheduler_stop(r->sched);
    hk_http_close(r->http, on_closed_step, r);
}

static void on_closed_step(void *arg)
{
    rig_t *r = arg;
    r->closed++;
    if (r->closed == 1) {
        hk_scheduler_close(r->sched, on_closed_step, r);
    } else if (r->closed == 2) {
        r->sched = NULL;
        hk_commit_close(r->commit, on_closed_step, r);
    } else {
        uv_close((uv_handle_t *)&r->poll, NULL);
        uv_close((uv_handle_t *)&r->rx.listener, NULL);
    }
}

/* Polls until the delivery reaches want_state (or the receiver has
 * want_requests requests), or 5 s pass; then closes the rig. */
/* A new URL (path /changed) and a new secret for the rig's webhook. */
static int change_webhook(rig_t *r)
{
    hk_webhook_t *wh = NULL;
    char url[64];
    int err = hk_store_webhook_get(r->store, r->webhook, &wh);
    if (err) return err;
    char *own_url = wh->url;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/changed", r->rx.port);
    wh->url = url;
    if (!(err = hk_webhook_set_secret(wh, "a-plain-secret-of-24-chars")))
        err = hk_store_webhook_update(r->store, wh);
    wh->url = own_url; /* freed with the record */
    hk_webhook_free(wh);
    return err;
}

static void on_poll(uv_timer_t *t)
{
    rig_t *r = hk_container_of(t, rig_t, poll);
    if (r->change_after_first && !r->changed && r->rx.requests >= 1)
        r->changed = change_webhook(r) == 0 ? 1 : -1;
    int done;
    if (r->done) {
        done = r->done(r);
    } else {
        hk_delivery_t *d = get(r);
        done = r->want_requests ? r->rx.requests >= r->want_requests
                                : d && (int)d->state == r->want_state;
        hk_delivery_free(d);
    }
    if (!done && (int64_t)uv_now(&r->loop) < r->deadline) return;
    r->timed_out = !done;
    rig_close(r);
}

static int rig_run(rig_t *r)
{
    r->deadline = (int64_t)uv_now(&r->loop) + 5000;
    uv_timer_start(&r->poll, on_poll, 10, 10);
    if (hk_scheduler_start(r->sched, NULL)) return -1;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    return 0;
}

static int rig_free(rig_t *r)
{
    hk_store_close(r->store);
    return uv_loop_close(&r->loop);
}

TEST(retried_until_success)
{
    static const int script[] = {500, 503, 200};
    rig_t r;
    CHECK_INT(rig_open(&r, script, 3), 0);
    r.want_state = HK_DELIVERY_SUCCEEDED;
    CHECK_INT(rig_run(&r), 0);
    CHECK_INT(r.timed_out, 0);
    CHECK_INT(r.rx.requests, 3);
    CHECK_INT(r.rx.saw_signature, 3);
    hk_delivery_t *d = get(&r);
    CHECK(d);
    CHECK_INT(d->state, HK_DELIVERY_SUCCEEDED);
    CHECK_INT(d->attempt_count, 3);
    CHECK_INT(d->attempts[0]->http_status, 500);
    CHECK_INT(d->attempts[2]->http_status, 200);
    /* 100 ms ±20 % apart */
    CHECK(d->attempts[1]->time - d->attempts[0]->time >= 80);
    hk_delivery_free(d);
    CHECK_INT(rig_free(&r), 0);
}

TEST(schedule_runs_out)
{
    static const int script[] = {500};
    rig_t r;
    CHECK_INT(rig_open(&r, script, 1), 0);
    r.want_state = HK_DELIVERY_FAILED;
    CHECK_INT(rig_run(&r), 0);
    CHECK_INT(r.timed_out, 0);
    CHECK_INT(r.rx.requests, 3); /* one per schedule entry */
    hk_delivery_t *d = get(&r);
    CHECK_INT(d->attempt_count, 3);
    CHECK_INT(d->next_attempt_time, 0);
    hk_delivery_free(d);
    CHECK_INT(rig_free(&r), 0);
}

TEST(gone_deactivates_and_parks)
{
    static const int script[] = {410, 200};
    rig_t r;
    CHECK_INT(rig_open(&r, script, 2), 0);
    r.want_requests = 1;
    CHECK_INT(rig_run(&r), 0);
    CHECK_INT(r.timed_out, 0);
    hk_webhook_t *wh = NULL;
    CHECK_INT(hk_store_webhook_get(r.store, r.webhook, &wh), 0);
    CHECK_INT(wh->active, 0);
    hk_webhook_free(wh);
    hk_delivery_t *d = get(&r);
    CHECK_INT(d->state, HK_DELIVERY_PENDING); /* waits for the webhook */
    CHECK_INT(d->attempt_count, 1);
    hk_delivery_free(d);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(r.store, &st), 0);
    CHECK_INT(st.due, 0);
    CHECK_INT(st.pending, 1);
    CHECK_INT(rig_free(&r), 0);
}

TEST(stop_keeps_the_attempt_in_flight_pending)
{
    static const int script[] = {0}; /* never answers */
    rig_t r;
    CHECK_INT(rig_open(&r, script, 1), 0);
    r.want_requests = 1;
    CHECK_INT(rig_run(&r), 0); /* closes (stops) once the request is in */
    CHECK_INT(r.timed_out, 0);
    hk_delivery_t *d = get(&r);
    CHECK_INT(d->state, HK_DELIVERY_PENDING);
    CHECK_INT(d->attempt_count, 0); /* the cancelled attempt is not one */
    hk_delivery_free(d);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(r.store, &st), 0);
    CHECK_INT(st.due, 1); /* due again at once on the next start */
    CHECK_INT(rig_free(&r), 0);
}

TEST(webhook_changes_reach_the_next_attempt)
{
    /* The scheduler keeps webhooks decoded between attempts: an update
     * (URL, secret) must still be what the very next attempt uses. */
    static const int script[] = {500, 200};
    rig_t r;
    CHECK_INT(rig_open(&r, script, 2), 0);
    r.want_state = HK_DELIVERY_SUCCEEDED;
    r.change_after_first = 1;
    CHECK_INT(rig_run(&r), 0);
    CHECK_INT(r.timed_out, 0);
    CHECK_INT(r.changed, 1);
    CHECK_INT(r.rx.requests, 2);
    CHECK_STR(r.rx.last_path, "/changed");
    hk_sign_key_t key;
    char sig[HK_SIGN_SIGNATURE_MAX];
    static const char body[] = "{\"id\":\"evt\",\"data\":{}}";
    CHECK_INT(hk_sign_key("a-plain-secret-of-24-chars", &key), 0);
    hk_sign_signature(&key, "evt", strtoll(r.rx.last_ts, NULL, 10), (const uint8_t *)body,
                      sizeof body - 1, sig);
    CHECK_STR(r.rx.last_sig, sig);
    hk_sign_key_wipe(&key);
    CHECK_INT(rig_free(&r), 0);
}

TEST(refused_fails_at_once)
{
    /* The policy refuses the receiver's address: the same on every retry,
     * so the delivery fails after one attempt instead of running the
     * schedule (3 attempts here) as if the receiver were down. */
    static const int script[] = {200};
    rig_opts_t ro = {.deny_loopback = 1};
    rig_t r;
    CHECK_INT(rig_open_with(&r, script, 1, &ro), 0);
    r.want_state = HK_DELIVERY_FAILED;
    CHECK_INT(rig_run(&r), 0);
    CHECK_INT(r.timed_out, 0);
    CHECK_INT(r.rx.requests, 0);
    hk_delivery_t *d = get(&r);
    CHECK_INT(d->attempt_count, 1);
    CHECK_INT(d->attempts[0]->outcome, HK_OUTCOME_REFUSED);
    CHECK(strstr(d->attempts[0]->error, "127.0.0.1") != NULL);
    CHECK_INT(d->next_attempt_time, 0);
    hk_delivery_free(d);
    CHECK_INT(rig_free(&r), 0);
}

/* Two webhooks: [0] to a path the receiver never answers, [1] answered 200;
 * 6 deliveries each, the slow one's all due before the fast one's. */
static int fair_setup(rig_t *r, const rig_opts_t *ro)
{
    static const int script[] = {200};
    if (rig_open_with(r, script, 1, ro)) return -1;
    r->rx.hold_path = "/slow";
    if (add_webhook(r, "slow", "/slow", &r->webhooks[0]) ||
        add_webhook(r, "fast", "/fast", &r->webhooks[1]))
        return -1;
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 6; i++)
            if (add_delivery(r, r->webhooks[w], &r->deliveries[w][i])) return -1;
    return 0;
}

static int fast_all_succeeded(rig_t *r)
{
    for (int i = 0; i < 6; i++) {
        hk_delivery_t *d = NULL;
        int ok = hk_outbox_delivery_get(r->store, r->deliveries[1][i], 0, &d) == 0 &&
                 d->state == HK_DELIVERY_SUCCEEDED;
        hk_delivery_free(d);
        if (!ok) return 0;
    }
    /* The rig's own first delivery (to /hook) too, and the slow ones are in. */
    hk_delivery_t *d = get(r);
    int ok = d && d->state == HK_DELIVERY_SUCCEEDED && r->rx.held >= 2;
    hk_delivery_free(d);
    hk_scheduler_stats_t st;
    hk_scheduler_stats(r->sched, &st);
    r->waiting = st.waiting;
    return ok;
}

TEST(slow_webhook_capped_others_go_ahead)
{
    /* Cap 2 per webhook, 4 in all: the slow webhook holds 2 slots and its
     * other 4 due deliveries wait, while the fast one's, due after them,
     * all go through. */
    rig_opts_t ro = {.per_webhook = 2, .max_in_flight = 4};
    rig_t r;
    CHECK_INT(fair_setup(&r, &ro), 0);
    r.done = fast_all_succeeded;
    CHECK_INT(rig_run(&r), 0);
    CHECK_INT(r.timed_out, 0);
    CHECK_INT(r.rx.held, 2); /* never more than the cap at the slow receiver */
    CHECK_INT(r.waiting, 4);
    for (int i = 0; i < 6; i++) {
        hk_delivery_t *d = NULL;
        CHECK_INT(hk_outbox_delivery_get(r.store, r.deliveries[0][i], 0, &d), 0);
        CHECK_INT(d->state, HK_DELIVERY_PENDING);
        CHECK_INT(d->attempt_count, 0);
        hk_delivery_free(d);
    }
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(r.store, &st), 0);
    /* Stopped: the 2 cancelled and the 4 that waited are due again. */
    CHECK_INT(st.due, 6);
    CHECK_INT(rig_free(&r), 0);
}

TEST(waiting_full_walks_past_held_back)
{
    /* Only one delivery may wait in memory: the slow webhook's others stay
     * in the index, and the take passes them by to reach the fast one's. */
    rig_opts_t ro = {.per_webhook = 2, .max_in_flight = 4, .max_waiting = 1};
    rig_t r;
    CHECK_INT(fair_setup(&r, &ro), 0);
    r.done = fast_all_succeeded;
    CHECK_INT(rig_run(&r), 0);
    CHECK_INT(r.timed_out, 0);
    CHECK_INT(r.rx.held, 2);
    /* One allowed, and the first take's overshoot: the rest never left the index. */
    CHECK_INT(r.waiting, 2);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(r.store, &st), 0);
    CHECK_INT(st.due, 6);
    CHECK_INT(rig_free(&r), 0);
}

static int deferred_then_delivered(rig_t *r)
{
    hk_scheduler_stats_t st;
    hk_scheduler_stats(r->sched, &st);
    if (r->n_fillers && st.deferred >= 2) {
        /* Failed twice for want of a descriptor: give them back. */
        while (r->n_fillers)
            close(r->fillers[--r->n_fillers]);
    }
    hk_delivery_t *d = get(r);
    int ok = d && d->state == HK_DELIVERY_SUCCEEDED;
    hk_delivery_free(d);
    return ok;
}

TEST(no_fd_is_not_an_attempt)
{
    /* Every descriptor in use: the attempt cannot open its socket. That is
     * hookd's failure, not the receiver's: not recorded, not counted, tried
     * again soon, and delivered once descriptors are free. */
    static const int script[] = {200};
    struct rlimit old, low;
    rig_t r;
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_INT(rig_open(&r, script, 1), 0);
    low = old;
    low.rlim_cur = 512 < old.rlim_max ? 512 : old.rlim_max;
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fd;
    while (r.n_fillers < 4096 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        r.fillers[r.n_fillers++] = fd;
    CHECK_INT(errno, EMFILE);
    r.done = deferred_then_delivered;
    CHECK_INT(rig_run(&r), 0);
    while (r.n_fillers)
        close(r.fillers[--r.n_fillers]);
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_INT(r.timed_out, 0);
    CHECK_INT(r.rx.requests, 1);
    hk_delivery_t *d = get(&r);
    CHECK_INT(d->state, HK_DELIVERY_SUCCEEDED);
    CHECK_INT(d->attempt_count, 1); /* the failed opens were not attempts */
    CHECK_INT(d->attempts[0]->outcome, HK_OUTCOME_SUCCEEDED);
    hk_delivery_free(d);
    CHECK_INT(rig_free(&r), 0);
}
