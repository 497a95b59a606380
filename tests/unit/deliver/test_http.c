/* test_http.c -- outbound requests against a real HTTP/1.1 receiver on loopback */
#include "unit.h"

#include "core/error.h"
#include "deliver/http.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

/* --- the receiver: a small HTTP/1.1 server on the test's own loop ----------
 *
 * The path says how to answer:
 *   /ok           200 "hello"               /fail      500 "broken"
 *   /redirect     302 to /ok                /retry     503, Retry-After: 120
 *   /retry-date   429, Retry-After: an HTTP-date 60 s ahead
 *   /big          200 with 100,000 bytes
 *   /delay/<ms>   200 "late" after ms
 *   /hold         no answer; calls srv->on_hold (the test may cancel there)
 * Connections stay open between requests (keep-alive). */

#define MAX_CONNS 32

typedef struct server server_t;

typedef struct {
    uv_tcp_t tcp;
    uv_timer_t delay;
    server_t *srv;
    char buf[65536];
    size_t len;
    int busy; /* a request is being answered; later bytes wait */
    int closing;
    int open_handles;
} conn_t;

struct server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    int accepted, closed, requests;
    int in_flight, max_in_flight;
    conn_t *conns[MAX_CONNS];
    char last_head[8192];
    char last_body[4096];
    char order[64]; /* first letter after "/delay/<ms>/" of each request, in arrival order */
    void (*on_hold)(server_t *srv, void *arg);
    void *hold_arg;
};

static void conn_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles == 0) free(c);
}

static void conn_close(conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    c->srv->closed++;
    if (c->busy) c->srv->in_flight--;
    for (int i = 0; i < MAX_CONNS; i++)
        if (c->srv->conns[i] == c) c->srv->conns[i] = NULL;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->delay, conn_handle_closed);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void conn_parse(conn_t *c);

static void respond(conn_t *c, int status, const char *extra, const char *body, size_t body_len)
{
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status,
                     body_len, extra ? extra : "");
    uv_write_t *w = malloc(sizeof *w + (size_t)n + body_len);
    char *data = (char *)(w + 1);
    memcpy(data, head, (size_t)n);
    if (body_len) memcpy(data + n, body, body_len);
    uv_buf_t b = uv_buf_init(data, (unsigned)((size_t)n + body_len));
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    c->busy = 0;
    c->srv->in_flight--;
    conn_parse(c); /* a request that arrived meanwhile */
}

static void on_delay(uv_timer_t *t)
{
    conn_t *c = t->data;
    respond(c, 200, NULL, "late", 4);
}

static void handle(conn_t *c, const char *path)
{
    server_t *srv = c->srv;
    if (strcmp(path, "/ok") == 0) {
        respond(c, 200, "X-Kind: fine\r\n", "hello", 5);
    } else if (strcmp(path, "/fail") == 0) {
        respond(c, 500, NULL, "broken", 6);
    } else if (strcmp(path, "/redirect") == 0) {
        respond(c, 302, "Location: /ok\r\n", "", 0);
    } else if (strcmp(path, "/retry") == 0) {
        respond(c, 503, "Retry-After: 120\r\n", "", 0);
    } else if (strcmp(path, "/retry-date") == 0) {
        char h[128];
        time_t t = time(NULL) + 60;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(h, sizeof h, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        respond(c, 429, h, "", 0);
    } else if (strcmp(path, "/big") == 0) {
        static char big[100000];
        memset(big, 'b', sizeof big);
        respond(c, 200, NULL, big, sizeof big);
    } else if (strncmp(path, "/delay/", 7) == 0) {
        char *rest;
        unsigned long ms = strtoul(path + 7, &rest, 10);
        if (*rest == '/' && strlen(srv->order) + 1 < sizeof srv->order)
            srv->order[strlen(srv->order)] = rest[1];
        uv_timer_start(&c->delay, on_delay, ms, 0);
    } else if (strcmp(path, "/hold") == 0) {
        if (srv->on_hold) srv->on_hold(srv, srv->hold_arg);
    } else {
        respond(c, 404, NULL, "", 0);
    }
}

/* Takes one whole request off the buffer, if there is one, and answers it. */
static void conn_parse(conn_t *c)
{
    if (c->busy || c->closing) return;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end) return;
    size_t head_len = (size_t)(end - c->buf) + 4;
    size_t body_len = 0;
    for (char *p = c->buf; p && p < end; p = strstr(p, "\r\n")) {
        if (*p == '\r') p += 2;
        if (strncasecmp(p, "Content-Length:", 15) == 0) body_len = strtoul(p + 15, NULL, 10);
    }
    if (c->len < head_len + body_len) return;

    server_t *srv = c->srv;
    char path[256] = "";
    sscanf(c->buf, "%*s %255s", path);
    snprintf(srv->last_head, sizeof srv->last_head, "%.*s", (int)head_len, c->buf);
    snprintf(srv->last_body, sizeof srv->last_body, "%.*s", (int)body_len, c->buf + head_len);
    memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;

    srv->requests++;
    c->busy = 1;
    if (++srv->in_flight > srv->max_in_flight) srv->max_in_flight = srv->in_flight;
    handle(c, path);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    conn_t *c = h->data;
    size_t room = sizeof c->buf - 1 - c->len;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (n < 0 || c->len + (size_t)n >= sizeof c->buf - 1) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    conn_parse(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    server_t *srv = listener->data;
    if (status < 0) return;
    conn_t *c = calloc(1, sizeof *c);
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->delay);
    c->tcp.data = c->delay.data = c;
    c->open_handles = 2;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        uv_close((uv_handle_t *)&c->delay, conn_handle_closed);
        return;
    }
    srv->accepted++;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (!srv->conns[i]) {
            srv->conns[i] = c;
            break;
        }
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int server_start(server_t *srv, uv_loop_t *loop)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    if (uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0) != 0) return -1;
    if (uv_listen((uv_stream_t *)&srv->listener, 64, on_connection) != 0) return -1;
    int len = sizeof addr;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&addr, &len);
    srv->port = ntohs(addr.sin_port);
    return 0;
}

static void server_stop(server_t *srv)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (srv->conns[i]) conn_close(srv->conns[i]);
    uv_close((uv_handle_t *)&srv->listener, NULL);
}

/* --- fixture ---------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    server_t srv;
    hk_http_t *http;
    int http_closed;
    char url[128];
} fx_t;

typedef struct {
    int calls;
    int seq;                /* order among all callbacks of the test */
    hk_http_request_t *req; /* the handle, for cancel */
    hk_http_result_t res;
    char error[256];
    char body[256];
    uint64_t start_ns, end_ns;
    fx_t *fx;
    int then_ok;     /* start a request to /ok from the callback */
    int close_in_cb; /* hk_http_close from the callback */
} got_t;

static int seq;
static uv_loop_t *current_loop;

static void on_http_closed(void *arg)
{
    ((fx_t *)arg)->http_closed++;
}

static int fx_open(fx_t *fx, const hk_http_opts_t *opts)
{
    memset(fx, 0, sizeof *fx);
    seq = 0;
    if (uv_loop_init(&fx->loop) != 0) return -1;
    current_loop = &fx->loop;
    if (server_start(&fx->srv, &fx->loop) != 0) return -1;
    return hk_http_new(&fx->loop, opts, &fx->http);
}

static const char *fx_url(fx_t *fx, const char *path)
{
    snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%d%s", fx->srv.port, path);
    return fx->url;
}

static void on_guard(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until *counter reaches want or max_ms pass; 0 when reached. */
static int run_until(fx_t *fx, const int *counter, int want, uint64_t max_ms)
{
    uv_timer_t guard;
    int expired = 0;
    uv_timer_init(&fx->loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, on_guard, max_ms, 0);
    while (*counter < want && !expired)
        uv_run(&fx->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    return *counter >= want ? 0 : -1;
}

/* Closes the client (when still open) and the receiver; the loop must then
 * close clean. Returns uv_loop_close's answer. */
static int fx_close(fx_t *fx)
{
    if (fx->http) hk_http_close(fx->http, on_http_closed, fx);
    server_stop(&fx->srv);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    if (fx->http_closed != 1) return -100;
    return uv_loop_close(&fx->loop);
}

static void on_result(hk_http_request_t *req, const hk_http_result_t *res, void *arg);

static int post(fx_t *fx, const char *path, uint32_t timeout_ms, size_t keep, got_t *g)
{
    hk_http_header_t headers[] = {{"content-type", "application/json"}, {"webhook-id", "msg_1"}};
    hk_http_req_t req = {.url = fx_url(fx, path),
                         .headers = headers,
                         .n_headers = 2,
                         .body = (const uint8_t *)"{\"a\":1}",
                         .body_len = 7,
                         .timeout_ms = timeout_ms,
                         .max_body_keep = keep};
    g->fx = fx;
    g->start_ns = uv_hrtime();
    return hk_http_request_start(fx->http, &req, on_result, g, &g->req);
}

static void on_result(hk_http_request_t *req, const hk_http_result_t *res, void *arg)
{
    got_t *g = arg;
    (void)req;
    /* Callbacks may run in the timer phase; without this, UV_RUN_ONCE would
     * then block in poll until the next event and run_until would overshoot. */
    uv_stop(current_loop);
    g->calls++;
    g->seq = ++seq;
    g->end_ns = uv_hrtime();
    g->res = *res;
    snprintf(g->error, sizeof g->error, "%s", res->error);
    size_t n = res->body_len < sizeof g->body - 1 ? res->body_len : sizeof g->body - 1;
    memcpy(g->body, res->body, n);
    g->body[n] = '\0';
    g->res.error = g->error;
    g->res.body = NULL;
    if (g->then_ok) {
        got_t *next = g + 1; /* the caller's array: the next slot */
        g->then_ok = 0;
        if (post(g->fx, "/ok", 2000, 100, next) != 0) next->calls = -1;
    }
    if (g->close_in_cb) {
        hk_http_close(g->fx->http, on_http_closed, g->fx);
        g->fx->http = NULL;
    }
}

static uint64_t ms_between(uint64_t a_ns, uint64_t b_ns)
{
    return (b_ns - a_ns) / 1000000u;
}

/* --- tests ------------------------------------------------------------------ */

TEST(ok_200_body_and_request)
{
    fx_t fx;
    hk_http_opts_t opts = {.user_agent = "hookd/test"};
    CHECK_INT(fx_open(&fx, &opts), 0);
    got_t g = {0};
    CHECK_INT(post(&fx, "/ok", 2000, 64, &g), 0);
    CHECK_INT(g.calls, 0); /* never from inside the start call */
    CHECK_INT(run_until(&fx, &g.calls, 1, 5000), 0);
    CHECK_INT(g.res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_INT(g.res.http_status, 200);
    CHECK_STR(g.body, "hello");
    CHECK_INT(g.res.body_len, 5);
    CHECK_INT(g.res.body_truncated, 0);
    CHECK_STR(g.error, "");
    CHECK_INT(g.res.retry_after_s, -1);
    CHECK(g.res.duration_ms < 2000);

    /* What the receiver got. */
    CHECK(strncmp(fx.srv.last_head, "POST /ok HTTP/1.1\r\n", 19) == 0);
    CHECK(strstr(fx.srv.last_head, "\r\ncontent-type: application/json\r\n") != NULL);
    CHECK(strstr(fx.srv.last_head, "\r\nwebhook-id: msg_1\r\n") != NULL);
    CHECK(strstr(fx.srv.last_head, "\r\nUser-Agent: hookd/test\r\n") != NULL);
    CHECK(strstr(fx.srv.last_head, "Expect") == NULL);
    CHECK(strcmp(fx.srv.last_body, "{\"a\":1}") == 0);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(http_500_is_http_error)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g = {0};
    CHECK_INT(post(&fx, "/fail", 2000, 64, &g), 0);
    CHECK_INT(run_until(&fx, &g.calls, 1, 5000), 0);
    CHECK_INT(g.res.outcome, HK_OUTCOME_HTTP_ERROR);
    CHECK_INT(g.res.http_status, 500);
    CHECK_STR(g.error, "HTTP 500");
    CHECK_STR(g.body, "broken");
    CHECK_INT(fx_close(&fx), 0);
}

TEST(slow_receiver_times_out)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g = {0};
    CHECK_INT(post(&fx, "/hold", 300, 64, &g), 0);
    CHECK_INT(run_until(&fx, &g.calls, 1, 5000), 0);
    uint64_t took = ms_between(g.start_ns, g.end_ns);
    CHECK_INT(g.res.outcome, HK_OUTCOME_TIMED_OUT);
    CHECK_INT(g.res.http_status, 0);
    CHECK(took >= 295);
    CHECK(took <= 400); /* timeout + 100 ms */
    CHECK(g.res.duration_ms >= 295 && g.res.duration_ms <= 400);
    CHECK(strstr(g.error, "imed out") != NULL);
    CHECK_INT(run_until(&fx, &fx.srv.closed, 1, 2000), 0); /* the connection is not reused */
    CHECK_INT(fx_close(&fx), 0);
}

TEST(connection_refused_is_network_error)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    /* A port nobody listens on: bind one, note it, close it. */
    uv_tcp_t t;
    struct sockaddr_in addr;
    int len = sizeof addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(&fx.loop, &t);
    CHECK_INT(uv_tcp_bind(&t, (const struct sockaddr *)&addr, 0), 0);
    uv_tcp_getsockname(&t, (struct sockaddr *)&addr, &len);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&fx.loop, UV_RUN_NOWAIT);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", ntohs(addr.sin_port));
    got_t g = {0};
    hk_http_req_t req = {.url = url, .timeout_ms = 2000};
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g, NULL), 0);
    CHECK_INT(run_until(&fx, &g.calls, 1, 5000), 0);
    CHECK_INT(g.res.outcome, HK_OUTCOME_NETWORK_ERROR);
    CHECK_INT(g.res.http_status, 0);
    CHECK(g.error[0] != '\0');
    CHECK_INT(fx_close(&fx), 0);
}

TEST(redirect_not_followed)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g = {0};
    CHECK_INT(post(&fx, "/redirect", 2000, 64, &g), 0);
    CHECK_INT(run_until(&fx, &g.calls, 1, 5000), 0);
    CHECK_INT(g.res.outcome, HK_OUTCOME_HTTP_ERROR);
    CHECK_INT(g.res.http_status, 302);
    CHECK_STR(g.error, "HTTP 302 (redirects are not followed)");
    CHECK_INT(fx.srv.requests, 1);
    CHECK_INT(fx_close(&fx), 0);
}

static int calls_after_cancel = -1;

static void cancel_on_hold(server_t *srv, void *arg)
{
    got_t *g = arg;
    (void)srv;
    hk_http_request_cancel(g->req);
    calls_after_cancel = g->calls; /* 0: deferred, not run inside the cancel */
}

TEST(cancel_closes_connection)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g = {0};
    fx.srv.on_hold = cancel_on_hold;
    fx.srv.hold_arg = &g;
    CHECK_INT(post(&fx, "/hold", 5000, 64, &g), 0);
    CHECK_INT(run_until(&fx, &g.calls, 1, 5000), 0);
    CHECK_INT(fx.srv.requests, 1);
    CHECK_INT(calls_after_cancel, 0);
    CHECK_INT(g.res.outcome, HK_OUTCOME_CANCELLED);
    CHECK_STR(g.error, "cancelled");
    CHECK_INT(run_until(&fx, &fx.srv.closed, 1, 1000), 0); /* the receiver saw it close */
    CHECK_INT(hk_http_pending(fx.http), 0);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(cancel_queued_request)
{
    fx_t fx;
    hk_http_opts_t opts = {.max_transfers = 1};
    CHECK_INT(fx_open(&fx, &opts), 0);
    got_t a = {0}, b = {0};
    CHECK_INT(post(&fx, "/delay/100", 5000, 64, &a), 0);
    CHECK_INT(post(&fx, "/ok", 5000, 64, &b), 0);
    CHECK_INT(hk_http_pending(fx.http), 2);
    hk_http_request_cancel(b.req);
    CHECK_INT(b.calls, 0);
    CHECK_INT(run_until(&fx, &a.calls, 1, 5000), 0);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.res.outcome, HK_OUTCOME_CANCELLED);
    CHECK_INT(b.res.duration_ms, 0);
    CHECK_INT(a.res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_INT(fx.srv.requests, 1); /* the cancelled one never reached the receiver */
    CHECK_INT(fx_close(&fx), 0);
}

TEST(retry_after)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g[2] = {{0}};
    CHECK_INT(post(&fx, "/retry", 2000, 64, &g[0]), 0);
    CHECK_INT(run_until(&fx, &g[0].calls, 1, 5000), 0);
    CHECK_INT(g[0].res.http_status, 503);
    CHECK_INT(g[0].res.retry_after_s, 120);
    CHECK_INT(post(&fx, "/retry-date", 2000, 64, &g[1]), 0);
    CHECK_INT(run_until(&fx, &g[1].calls, 1, 5000), 0);
    CHECK_INT(g[1].res.http_status, 429);
    CHECK_INT(g[1].res.outcome, HK_OUTCOME_HTTP_ERROR);
    CHECK(g[1].res.retry_after_s >= 58 && g[1].res.retry_after_s <= 60);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(keep_alive_reuses_connection)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g[3] = {{0}};
    g[0].then_ok = 1; /* the second request starts from the first's callback */
    CHECK_INT(post(&fx, "/ok", 2000, 64, &g[0]), 0);
    CHECK_INT(run_until(&fx, &g[1].calls, 1, 5000), 0);
    CHECK_INT(g[0].res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_INT(g[1].res.outcome, HK_OUTCOME_SUCCEEDED);
    /* A third one later, from outside any callback. */
    CHECK_INT(post(&fx, "/fail", 2000, 64, &g[2]), 0);
    CHECK_INT(run_until(&fx, &g[2].calls, 1, 5000), 0);
    CHECK_INT(fx.srv.requests, 3);
    CHECK_INT(fx.srv.accepted, 1);
    CHECK_INT(fx.srv.closed, 0);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(body_kept_up_to_limit)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g[2] = {{0}};
    CHECK_INT(post(&fx, "/big", 2000, 1000, &g[0]), 0);
    CHECK_INT(run_until(&fx, &g[0].calls, 1, 5000), 0);
    CHECK_INT(g[0].res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_INT(g[0].res.body_len, 1000);
    CHECK_INT(g[0].res.body_truncated, 1);
    CHECK_INT(g[0].body[254], 'b');
    /* The rest was read, so the connection is still good for the next one. */
    CHECK_INT(post(&fx, "/ok", 2000, 0, &g[1]), 0);
    CHECK_INT(run_until(&fx, &g[1].calls, 1, 5000), 0);
    CHECK_INT(g[1].res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_INT(g[1].res.body_len, 0);
    CHECK_INT(g[1].res.body_truncated, 1);
    CHECK_INT(fx.srv.accepted, 1);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(receiver_closes_idle_connections)
{
    /* A kept-alive connection keeps its poll while idle; the receiver
     * closing it must neither spin the loop nor confuse the next socket,
     * which usually gets the same fd number while the old poll is still
     * closing. Over many rounds, and with requests starting both right
     * after the close and after the loop has seen the close. */
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g[12] = {{0}};
    int idle = 0;
    for (int i = 0; i < 12; i++) {
        CHECK_INT(post(&fx, "/ok", 2000, 64, &g[i]), 0);
        CHECK_INT(run_until(&fx, &g[i].calls, 1, 5000), 0);
        CHECK_INT(g[i].res.outcome, HK_OUTCOME_SUCCEEDED);
        CHECK_INT(fx.srv.accepted, i + 1);
        for (int k = 0; k < MAX_CONNS; k++)
            if (fx.srv.conns[k]) conn_close(fx.srv.conns[k]);
        if (i % 2) run_until(&fx, &idle, 1, 30);
    }
    CHECK_INT(fx.srv.requests, 12);
    CHECK_INT(hk_http_pending(fx.http), 0);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(max_transfers_queue)
{
    fx_t fx;
    hk_http_opts_t opts = {.max_transfers = 2};
    CHECK_INT(fx_open(&fx, &opts), 0);
    got_t g[5] = {{0}};
    int done = 0;
    for (int i = 0; i < 5; i++)
        CHECK_INT(post(&fx, "/delay/100", 5000, 64, &g[i]), 0);
    CHECK_INT(hk_http_pending(fx.http), 5);
    uint64_t t0 = uv_hrtime();
    while (done < 5) {
        if (run_until(&fx, &g[done].calls, 1, 5000) != 0) break;
        done++;
    }
    CHECK_INT(done, 5);
    for (int i = 0; i < 5; i++)
        CHECK_INT(g[i].res.outcome, HK_OUTCOME_SUCCEEDED);
    for (int i = 0; i < 5; i++)
        CHECK_INT(g[i].seq, i + 1); /* FIFO */
    CHECK_INT(fx.srv.max_in_flight, 2);
    CHECK(ms_between(t0, uv_hrtime()) >= 290); /* three waves of 100 ms */
    CHECK(fx.srv.accepted <= 2);
    CHECK_INT(hk_http_pending(fx.http), 0);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(parallel_requests_overlap)
{
    /* Three slow receivers take about as long as the slowest, not the sum. */
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g[3] = {{0}};
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < 3; i++)
        CHECK_INT(post(&fx, "/delay/200", 5000, 64, &g[i]), 0);
    CHECK_INT(run_until(&fx, &seq, 3, 5000), 0);
    uint64_t took = ms_between(t0, uv_hrtime());
    for (int i = 0; i < 3; i++)
        CHECK_INT(g[i].res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK(took >= 195 && took < 400);
    CHECK_INT(fx.srv.max_in_flight, 3);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(urgent_requests_jump_the_queue)
{
    fx_t fx;
    hk_http_opts_t opts = {.max_transfers = 1};
    CHECK_INT(fx_open(&fx, &opts), 0);
    got_t g[3] = {{0}};
    CHECK_INT(post(&fx, "/delay/50/a", 5000, 64, &g[0]), 0); /* starts at once */
    CHECK_INT(post(&fx, "/delay/1/b", 5000, 64, &g[1]), 0);  /* queued */
    hk_http_req_t req = {.url = fx_url(&fx, "/delay/1/c"), .timeout_ms = 5000, .urgent = 1};
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g[2], NULL), 0);
    CHECK_INT(run_until(&fx, &g[1].calls, 1, 5000), 0);
    CHECK_STR(fx.srv.order, "acb");
    CHECK_INT(g[0].seq, 1);
    CHECK_INT(g[2].seq, 2);
    CHECK_INT(g[1].seq, 3);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(policy_refuses_resolved_address)
{
    fx_t fx;
    hk_policy_t policy;
    hk_policy_init(&policy);
    CHECK_INT(hk_policy_deny(&policy, "127.0.0.2/32"), 0);
    hk_http_opts_t opts = {.policy = &policy};
    CHECK_INT(fx_open(&fx, &opts), 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.2:%d/ok", fx.srv.port);
    got_t g[3] = {{0}};
    hk_http_req_t req = {.url = url, .timeout_ms = 2000};
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g[0], NULL), 0);
    /* The built-in metadata refusal: refused before any packet is sent. */
    req.url = "http://169.254.169.254/latest/meta-data/";
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g[1], NULL), 0);
    /* 127.0.0.1 stays allowed. */
    CHECK_INT(post(&fx, "/ok", 2000, 64, &g[2]), 0);
    CHECK_INT(run_until(&fx, &seq, 3, 5000), 0);

    CHECK_INT(g[0].res.outcome, HK_OUTCOME_REFUSED);
    CHECK_STR(g[0].error, "address 127.0.0.2 refused by outbound policy");
    CHECK_INT(g[0].res.http_status, 0);
    CHECK_INT(g[1].res.outcome, HK_OUTCOME_REFUSED);
    CHECK_STR(g[1].error, "address 169.254.169.254 refused by outbound policy");
    CHECK_INT(g[2].res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_INT(fx.srv.accepted, 1);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(other_schemes_fail)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g = {0};
    hk_http_req_t req = {.url = "file:///etc/passwd", .timeout_ms = 2000, .max_body_keep = 100};
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g, NULL), 0);
    CHECK_INT(run_until(&fx, &g.calls, 1, 5000), 0);
    CHECK_INT(g.res.outcome, HK_OUTCOME_NETWORK_ERROR);
    CHECK_INT(g.res.body_len, 0);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(bad_requests_rejected)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g = {0};
    hk_http_header_t crlf[] = {{"x-evil", "a\r\nInjected: 1"}};
    hk_http_header_t colon[] = {{"x:evil", "a"}};
    hk_http_req_t req = {.url = fx_url(&fx, "/ok"), .timeout_ms = 1000};
    req.headers = crlf;
    req.n_headers = 1;
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g, NULL), HK_EINVAL);
    req.headers = colon;
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g, NULL), HK_EINVAL);
    req.n_headers = 0;
    req.timeout_ms = 0;
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g, NULL), HK_EINVAL);
    req.timeout_ms = 1000;
    req.url = NULL;
    CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g, NULL), HK_EINVAL);
    CHECK_INT(hk_http_pending(fx.http), 0);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    CHECK_INT(g.calls, 0); /* a failed start never calls back */
    CHECK_INT(fx_close(&fx), 0);
}

TEST(close_cancels_everything)
{
    fx_t fx;
    hk_http_opts_t opts = {.max_transfers = 1};
    CHECK_INT(fx_open(&fx, &opts), 0);
    got_t g[2] = {{0}};
    CHECK_INT(post(&fx, "/hold", 5000, 64, &g[0]), 0);
    CHECK_INT(post(&fx, "/ok", 5000, 64, &g[1]), 0); /* queued */
    CHECK_INT(run_until(&fx, &fx.srv.requests, 1, 5000), 0);
    hk_http_close(fx.http, on_http_closed, &fx);
    CHECK_INT(g[0].calls + g[1].calls, 0);
    got_t late = {0};
    CHECK_INT(post(&fx, "/ok", 5000, 64, &late), HK_ESHUTDOWN);
    fx.http = NULL;
    CHECK_INT(run_until(&fx, &fx.http_closed, 1, 5000), 0);
    CHECK_INT(g[0].calls, 1);
    CHECK_INT(g[1].calls, 1);
    CHECK_INT(g[0].res.outcome, HK_OUTCOME_CANCELLED);
    CHECK_INT(g[1].res.outcome, HK_OUTCOME_CANCELLED);
    CHECK_INT(run_until(&fx, &fx.srv.closed, 1, 1000), 0);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(close_from_callback)
{
    fx_t fx;
    CHECK_INT(fx_open(&fx, NULL), 0);
    got_t g[2] = {{0}};
    g[0].close_in_cb = 1;
    CHECK_INT(post(&fx, "/ok", 2000, 64, &g[0]), 0);
    CHECK_INT(post(&fx, "/hold", 2000, 64, &g[1]), 0);
    CHECK_INT(run_until(&fx, &fx.http_closed, 1, 5000), 0);
    CHECK_INT(g[0].res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_INT(g[1].calls, 1);
    CHECK_INT(g[1].res.outcome, HK_OUTCOME_CANCELLED);
    CHECK_INT(fx_close(&fx), 0);
}

TEST(outcome_names)
{
    CHECK_STR(hk_outcome_name(HK_OUTCOME_SUCCEEDED), "succeeded");
    CHECK_STR(hk_outcome_name(HK_OUTCOME_REFUSED), "refused");
    CHECK_STR(hk_outcome_name((hk_outcome_t)99), "unknown");
}

/* --- HTTPS: a python receiver with a certificate the test makes ------------- */

static const char tls_server_py[] =
    "import http.server, ssl, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def do_POST(self):\n"
    "        self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', '6')\n"
    "        self.end_headers()\n"
    "        self.wfile.write(b'secure')\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
    "s.socket = ctx.wrap_socket(s.socket, server_side=True)\n"
    "print(s.server_address[1], flush=True)\n"
    "s.serve_forever()\n";

typedef struct {
    uv_process_t proc;
    uv_pipe_t out;
    char line[32];
    size_t len;
    int port, exited, closed;
} tls_child_t;

static void tls_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    tls_child_t *c = h->data;
    *buf = uv_buf_init(c->line + c->len, (unsigned)(sizeof c->line - 1 - c->len));
}

static void tls_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    tls_child_t *c = s->data;
    if (n < 0 || c->len + (size_t)n >= sizeof c->line - 1) {
        uv_read_stop(s);
        return;
    }
    c->len += (size_t)n;
    c->line[c->len] = '\0';
    if (strchr(c->line, '\n')) c->port = atoi(c->line);
}

static void tls_exited(uv_process_t *p, int64_t status, int sig)
{
    (void)status;
    (void)sig;
    ((tls_child_t *)p->data)->exited = 1;
}

static void tls_handle_closed(uv_handle_t *h)
{
    ((tls_child_t *)h->data)->closed++;
}

TEST(tls_verified_with_ca_file)
{
    const char *dir = hk_test_tmpdir();
    char cert[300], key[300], cmd[1024];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' "
             ">/dev/null 2>&1",
             key, cert);
    CHECK_INT(system(cmd), 0);

    fx_t fx;
    hk_http_opts_t opts = {.ca_file = cert};
    CHECK_INT(fx_open(&fx, &opts), 0);
    hk_http_t *system_cas = NULL;
    CHECK_INT(hk_http_new(&fx.loop, NULL, &system_cas), 0);

    tls_child_t child = {0};
    char *args[] = {"/usr/bin/python3", "-c", (char *)tls_server_py, cert, key, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&child.out},
        {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t po = {
        .file = args[0], .args = args, .stdio = stdio, .stdio_count = 3, .exit_cb = tls_exited};
    uv_pipe_init(&fx.loop, &child.out, 0);
    child.out.data = child.proc.data = &child;
    CHECK_INT(uv_spawn(&fx.loop, &child.proc, &po), 0);
    uv_read_start((uv_stream_t *)&child.out, tls_alloc, tls_read);
    int up = run_until(&fx, &child.port, 1, 10000);

    got_t g[2] = {{0}};
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/hook", child.port);
    hk_http_req_t req = {.url = url, .timeout_ms = 5000, .max_body_keep = 64};
    if (up == 0) {
        CHECK_INT(hk_http_request_start(fx.http, &req, on_result, &g[0], NULL), 0);
        CHECK_INT(hk_http_request_start(system_cas, &req, on_result, &g[1], NULL), 0);
        run_until(&fx, &seq, 2, 10000);
    }

    uv_process_kill(&child.proc, SIGTERM);
    int exited = run_until(&fx, &child.exited, 1, 5000);
    uv_close((uv_handle_t *)&child.proc, tls_handle_closed);
    uv_close((uv_handle_t *)&child.out, tls_handle_closed);
    hk_http_close(system_cas, on_http_closed, &fx);
    CHECK_INT(run_until(&fx, &child.closed, 2, 5000), 0);
    CHECK_INT(run_until(&fx, &fx.http_closed, 1, 5000), 0);
    fx.http_closed = 0;

    CHECK_INT(up, 0);
    CHECK_INT(exited, 0);
    /* Signed by the configured CA file: accepted. */
    CHECK_INT(g[0].res.outcome, HK_OUTCOME_SUCCEEDED);
    CHECK_STR(g[0].body, "secure");
    /* The system's CAs do not know the test's certificate: refused by TLS. */
    CHECK_INT(g[1].res.outcome, HK_OUTCOME_NETWORK_ERROR);
    CHECK(strstr(g[1].error, "certificate") != NULL || strstr(g[1].error, "SSL") != NULL);
    CHECK_INT(fx_close(&fx), 0);
}
