/* h1conn.c -- the HTTP/1.1 side of a connection: requests one at a time, timeouts, answers */
#include "transport/h1conn.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/status.h"
#include "transport/connect.h"
#include "transport/http1.h"

/* Bytes read ahead of the request being answered (pipelined requests):
 * beyond this we stop reading until the answer is out. */
#define H1_PENDING_MAX (HK_HTTP1_HEADER_MAX + (64u << 10))
/* Writes queued to a client that does not read: beyond this the next
 * request waits (conn.c's high-water mark, for the same reason). */
#define H1_WRITE_HIGH (1u << 20)

enum { TIMER_NONE, TIMER_IDLE, TIMER_HEADERS, TIMER_RESUME };

struct hk_h1conn {
    hk_conn_t *conn;
    hk_http1_t *parser;
    uv_timer_t timer;
    int timer_for;    /* TIMER_* */
    uint8_t *pending; /* read, not parsed yet */
    size_t pending_len, pending_cap;
    hk_call_t *call;   /* the request being served, from the end of its headers */
    int in_body;       /* ... whose body is still arriving */
    int routed;        /* on_request answered the request being parsed */
    int call_answered; /* its answer went to the socket; released from the loop */
    int keep_alive;    /* the current request allows another after it */
    unsigned minor;    /* its HTTP minor version */
    int last;          /* no request after the current one (close, stop, error) */
    uint64_t header_ms, idle_ms;
};

static void h1_process(hk_h1conn_t *h1);

static void on_h1_timer_closed(uv_handle_t *h)
{
    hk_h1conn_t *h1 = hk_container_of((uv_timer_t *)h, hk_h1conn_t, timer);
    hk_http1_free(h1->parser);
    free(h1->pending);
    free(h1);
}

static void h1_timer(hk_h1conn_t *h1, int what, uint64_t ms);

/* Writes head (with the header lines in extra, when not NULL) + body in
 * one send. */
static void h1_write_with(hk_h1conn_t *h1, int status, const char *content_type, const char *extra,
                          const uint8_t *body, size_t len, int close)
{
    hk_conn_t *conn = h1->conn;
    char head[256];
    size_t n =
        hk_http1_response_head(head, sizeof head, status, content_type, len, close, h1->minor);
    size_t xn = extra ? strlen(extra) : 0;
    uint8_t *buf = malloc(n + xn + len);

    if (!buf || n == 0) {
        free(buf);
        conn->broken = 1;
        return;
    }
    /* The extra lines go before the head's closing empty line. */
    memcpy(buf, head, n - 2);
    if (xn) memcpy(buf + n - 2, extra, xn);
    memcpy(buf + n - 2 + xn, "\r\n", 2);
    n += xn;
    if (len) memcpy(buf + n, body, len);
    hk_conn_send(conn, buf, n + len);
    free(buf);
}

static void h1_write(hk_h1conn_t *h1, int status, const char *content_type, const uint8_t *body,
                     size_t len, int close)
{
    h1_write_with(h1, status, content_type, NULL, body, len, close);
}

/* The transport's own answer to a request it cannot serve: a Connect error
 * with the given HTTP status, then the connection closes. */
static void h1_refuse(hk_h1conn_t *h1, int http_status, int status, const char *message)
{
    hk_conn_t *conn = h1->conn;
    char *body = NULL;
    size_t len = 0;

    hk_log(HK_LOG_DEBUG, "http1_refused", "pid=%d http_status=%d", (int)conn->peer.pid,
           http_status);
    h1->last = 1;
    if (hk_connect_error_body(conn->server->opts.connect_error, status, message,
                              HK_CONN_MESSAGE_MAX_TEXT, &body, &len) == 0) {
        h1_write(h1, http_status, "application/json", (const uint8_t *)body, len, 1);
        free(body);
    }
    /* The client may be sending a body still (refused at its headers). */
    hk_conn_linger_close(conn);
}

static void on_h1_timer(uv_timer_t *t)
{
    hk_h1conn_t *h1 = hk_container_of(t, hk_h1conn_t, timer);
    int what = h1->timer_for;

    h1->timer_for = TIMER_NONE;
    switch (what) {
    case TIMER_IDLE: hk_conn_drop(h1->conn, "idle timeout"); break;
    case TIMER_HEADERS: hk_conn_drop(h1->conn, "request headers took too long"); break;
    case TIMER_RESUME:
        /* The answer is out: let the call go, then take the next request. */
        if (h1->call && h1->call_answered) {
            hk_call_t *call = h1->call;
            h1->call = NULL;
            h1->call_answered = 0;
            hk_call_detach(call);
        }
        if (h1->last) {
            hk_conn_close_later(h1->conn);
            break;
        }
        h1_process(h1);
        break;
    default: break;
    }
}

static void h1_timer(hk_h1conn_t *h1, int what, uint64_t ms)
{
    h1->timer_for = what;
    uv_timer_start(&h1->timer, on_h1_timer, ms, 0);
}

/* Reading and timers for where the connection now is. */
static void h1_settle(hk_h1conn_t *h1)
{
    hk_conn_t *conn = h1->conn;

    if (conn->closing || conn->shutting) return;
    if (conn->broken) {
        hk_conn_close(conn);
        return;
    }
    int want_read = h1->pending_len < H1_PENDING_MAX && conn->write_queued < H1_WRITE_HIGH;
    if (conn->reading && !want_read) {
        hk_conn_read_stop(conn);
    } else if (!conn->reading && want_read) {
        hk_conn_read_start(conn);
    }
    if (h1->timer_for == TIMER_RESUME) return;
    if (h1->call) {
        /* The call's request timeout and deadline bound it; no timer of ours. */
        uv_timer_stop(&h1->timer);
        h1->timer_for = TIMER_NONE;
        return;
    }
    switch (hk_http1_state(h1->parser)) {
    case HK_HTTP1_IDLE:
        if (h1->timer_for != TIMER_IDLE) h1_timer(h1, TIMER_IDLE, h1->idle_ms);
        break;
    case HK_HTTP1_HEADERS:
        /* From the first byte: more bytes do not buy more time. */
        if (h1->timer_for != TIMER_HEADERS) h1_timer(h1, TIMER_HEADERS, h1->header_ms);
        break;
    default: break;
    }
}

/* What hk_server_answer needs of the request it answers. */
typedef struct {
    hk_h1conn_t *h1;
    int answered;
} h1_route_t;

void hk_server_answer(hk_server_request_t *req, int status, const char *content_type,
                      const char *headers, const uint8_t *body, size_t len)
{
    h1_route_t *route = req->priv;

    if (route->answered) return;
    route->answered = 1;
    hk_h1conn_t *h1 = route->h1;
    if (h1->conn->server->stopping) h1->last = 1;
    h1_write_with(h1, status, content_type, headers, body, len, h1->last);
}

const char *hk_server_field(const hk_server_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_fields; i++)
        if (strcmp(req->fields[i].name, name) == 0) return req->fields[i].value;
    return NULL;
}

/* 1 when the request announces a body (Content-Length above 0, or chunked). */
static int h1_has_body(const hk_http1_request_t *r)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        if (strcmp(r->fields[i].name, "transfer-encoding") == 0) return 1;
        if (strcmp(r->fields[i].name, "content-length") == 0 && strcmp(r->fields[i].value, "0"))
            return 1;
    }
    return 0;
}

/* Shows the request's headers to opts.on_request (the body is not needed by
 * any route). Returns 1 when it answered, else 0 with *peer the identity the
 * call acts as. */
static int h1_route(hk_h1conn_t *h1, const hk_http1_request_t *r, hk_peer_t *peer)
{
    hk_conn_t *conn = h1->conn;
    const hk_server_opts_t *opts = &conn->server->opts;
    hk_server_field_t fields[HK_HTTP1_FIELDS_MAX];
    h1_route_t route = {h1, 0};

    *peer = conn->peer;
    if (!opts->on_request) return 0;
    for (size_t i = 0; i < r->n_fields; i++)
        fields[i] = (hk_server_field_t){r->fields[i].name, r->fields[i].value};
    hk_server_request_t req = {
        .method = r->method,
        .path = r->path,
        .fields = fields,
        .n_fields = r->n_fields,
        .tcp = conn->server->tcp,
        .peer = conn->peer,
        .priv = &route,
    };
    h1->minor = r->minor;
    if (!r->keep_alive) h1->last = 1;
    if (!opts->on_request(&req, opts->request_ctx)) {
        *peer = req.peer;
        return 0;
    }
    /* A body nobody reads cannot be told from the next request: close after. */
    if (h1_has_body(r)) h1->last = 1;
    if (!route.answered) {
        h1->last = 1;
        h1_write(h1, 500, NULL, NULL, 0, 1);
    }
    h1->routed = 1;
    h1_timer(h1, TIMER_RESUME, 0);
    return 1;
}

/* A request's headers are in: its call starts with the same steps an
 * HTTP/2 stream's takes, the request line as pseudo-headers. The call may
 * be answered at once (no role for the method): the body is never read. */
static void h1_begin(hk_h1conn_t *h1)
{
    hk_conn_t *conn = h1->conn;
    const hk_http1_request_t *r = hk_http1_request(h1->parser);
    hk_peer_t peer;

    hk_conn_first_request(conn);
    if (h1_route(h1, r, &peer)) return;
    hk_call_t *call = hk_call_new(conn, 0);
    if (!call) {
        h1_refuse(h1, 503, HK_STATUS_UNAVAILABLE, "out of memory");
        return;
    }
    call->peer = peer;
    h1->call = call;
    h1->in_body = 1;
    h1->call_answered = 0;
    h1->keep_alive = r->keep_alive;
    h1->minor = r->minor;
    if (!r->keep_alive) h1->last = 1;
    call->codec = HK_CALL_CONNECT_JSON; /* until a content-type says otherwise */
    hk_call_on_header(call, (const uint8_t *)":method", 7, (const uint8_t *)r->method,
                      strlen(r->method));
    hk_call_on_header(call, (const uint8_t *)":path", 5, (const uint8_t *)r->path, strlen(r->path));
    for (size_t i = 0; i < r->n_fields; i++)
        hk_call_on_header(call, (const uint8_t *)r->fields[i].name, r->fields[i].name_len,
                          (const uint8_t *)r->fields[i].value, r->fields[i].value_len);
    hk_call_on_headers_end(call);
}

/* The whole request is in: its body goes to the call (moved, not copied). */
static void h1_dispatch(hk_h1conn_t *h1)
{
    hk_connect_body_t body;

    h1->in_body = 0;
    hk_http1_take_body(h1->parser, &body);
    hk_call_on_body(h1->call, &body);
    hk_connect_body_free(&body);
    hk_http1_next(h1->parser);
}

/* Before n more bytes go to the parser in a body: the body's buffer may
 * grow by as much, so that much is reserved first. Returns 0, or nonzero
 * when the call was refused (RESOURCE_EXHAUSTED). */
static int h1_reserve(hk_h1conn_t *h1, size_t n)
{
    const hk_connect_body_t *b = &hk_http1_request(h1->parser)->body;
    size_t need = n > b->max - b->len ? b->max : b->len + n;
    return hk_call_reserve(h1->call, hk_connect_body_cap_for(b, need));
}

static void h1_consume(hk_h1conn_t *h1, size_t n)
{
    memmove(h1->pending, h1->pending + n, h1->pending_len - n);
    h1->pending_len -= n;
}

static void h1_process(hk_h1conn_t *h1)
{
    hk_conn_t *conn = h1->conn;

    /* Between requests, the next one unless this was the last; inside one,
     * its body until it is answered. */
    while ((h1->in_body ? !h1->call_answered : !h1->call && !h1->last) && !conn->closing &&
           !conn->shutting && !conn->broken && conn->write_queued < H1_WRITE_HIGH) {
        size_t used;
        const char *why;
        if (h1->in_body && h1_reserve(h1, h1->pending_len) != 0) break;
        int rc = hk_http1_feed(h1->parser, h1->pending, h1->pending_len, &used);
        h1_consume(h1, used);
        if (rc == HK_HTTP1_HEADERS_DONE) {
            h1_begin(h1);
            continue; /* the body, unless the call (or a route) answered */
        }
        if (rc == HK_HTTP1_REQUEST && h1->routed) {
            /* A bodyless request a route answered: done with it. */
            h1->routed = 0;
            hk_http1_next(h1->parser);
            break; /* the next one from the loop (TIMER_RESUME) */
        }
        if (rc == HK_HTTP1_REQUEST) {
            h1_dispatch(h1);
            break; /* the next one after this one's answer, from the loop */
        }
        if (rc == HK_HTTP1_MORE) {
            if (hk_http1_take_continue(h1->parser)) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                hk_conn_send(conn, (const uint8_t *)cont, sizeof cont - 1);
            }
            break;
        }
        int hs = hk_http1_error(h1->parser, &why);
        int st = hs == 413 || hs == 431 ? HK_STATUS_RESOURCE_EXHAUSTED
                 : hs == 505            ? HK_STATUS_UNIMPLEMENTED
                 : hs == 503            ? HK_STATUS_UNAVAILABLE
                                        : HK_STATUS_INVALID_ARGUMENT;
        if (h1->call) {
            /* A bad body: the call answers it (and so the connection ends). */
            hk_call_answer_status(h1->call, hs, st, why);
            break;
        }
        h1->minor = 1;
        h1_refuse(h1, hs, st, why);
        break;
    }
    h1_settle(h1);
}

int hk_h1conn_start(hk_conn_t *conn)
{
    const hk_server_opts_t *opts = &conn->server->opts;
    hk_h1conn_t *h1 = calloc(1, sizeof *h1);

    if (!h1) return HK_ENOMEM;
    if (hk_http1_new(opts->max_message_bytes, &h1->parser) != 0) {
        free(h1);
        return HK_ENOMEM;
    }
    h1->conn = conn;
    /* The server's timeouts: the connection's own timer bounds the first
     * request's headers from accept; these bound every request's. */
    h1->header_ms = opts->header_timeout_ms;
    h1->idle_ms = opts->idle_timeout_ms;
    hk_http1_stop_at_headers(h1->parser, 1);
    uv_timer_init(conn->server->loop, &h1->timer);
    conn->h1 = h1;
    hk_log(HK_LOG_DEBUG, "conn_http1", "pid=%d", (int)conn->peer.pid);
    return 0;
}

void hk_h1conn_read(hk_conn_t *conn, const uint8_t *data, size_t len)
{
    hk_h1conn_t *h1 = conn->h1;

    if (conn->closing || conn->shutting) return;
    if (h1->last && !h1->call) return; /* closing: what comes now is not read */
    if (h1->pending_len + len > h1->pending_cap) {
        size_t cap = h1->pending_cap ? h1->pending_cap : 4096;
        while (cap < h1->pending_len + len)
            cap *= 2;
        uint8_t *p = realloc(h1->pending, cap);
        if (!p) {
            hk_conn_close(conn);
            return;
        }
        h1->pending = p;
        h1->pending_cap = cap;
    }
    memcpy(h1->pending + h1->pending_len, data, len);
    h1->pending_len += len;
    if ((h1->call && !h1->in_body) || h1->timer_for == TIMER_RESUME) {
        /* Pipelined: parsed after the current answer (a call's, or a route's). */
        h1_settle(h1);
        return;
    }
    h1_process(h1);
}

void hk_h1conn_answer(hk_call_t *call, int http_status, const char *content_type,
                      const uint8_t *body, size_t len)
{
    hk_conn_t *conn = call->conn;
    hk_h1conn_t *h1 = conn->h1;

    if (h1->call != call || h1->call_answered) return;
    h1->call_answered = 1;
    /* Answered before its body was read (refused, too big, too slow): the
     * rest of the stream cannot be told from the next request. */
    if (conn->server->stopping || h1->in_body) h1->last = 1;
    h1_write(h1, http_status, content_type, body, len, h1->last);
    /* Never from inside the answering function: the call is let go and the
     * next request taken from the loop. */
    h1_timer(h1, TIMER_RESUME, 0);
}

void hk_h1conn_goaway(hk_conn_t *conn)
{
    hk_h1conn_t *h1 = conn->h1;

    h1->last = 1;
    if (!h1->call) hk_conn_close_later(conn);
}

void hk_h1conn_pump(hk_conn_t *conn)
{
    hk_h1conn_t *h1 = conn->h1;

    if ((!h1->call || h1->in_body) && h1->timer_for != TIMER_RESUME && h1->pending_len)
        h1_process(h1);
    else
        h1_settle(h1);
}

void hk_h1conn_expire(hk_conn_t *conn, const char *reason)
{
    hk_h1conn_t *h1 = conn->h1;

    if (h1->call || hk_http1_state(h1->parser) != HK_HTTP1_HEADERS) {
        hk_conn_close_later(conn);
        return;
    }
    h1_refuse(h1, 408, HK_STATUS_DEADLINE_EXCEEDED, reason);
}

void hk_h1conn_close(hk_conn_t *conn)
{
    hk_h1conn_t *h1 = conn->h1;

    if (!h1) return;
    conn->h1 = NULL;
    /* The call (if any) is detached with the connection's other calls. */
    uv_close((uv_handle_t *)&h1->timer, on_h1_timer_closed);
}
