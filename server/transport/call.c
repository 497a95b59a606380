/* call.c -- one call on one HTTP/2 stream or HTTP/1.1 request, in gRPC or Connect: request
 * headers and message, deadline, answer, cancel */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/log.h"
#include "core/status.h"
#include "transport/conn.h"
#include "transport/h1conn.h"

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME     \
    }

static void call_timer_arm(hk_call_t *call);

hk_call_t *hk_call_new(hk_conn_t *conn, int32_t stream_id)
{
    hk_call_t *call = calloc(1, sizeof *call);
    if (!call) return NULL;
    call->conn = conn;
    call->stream_id = stream_id;
    call->loop = conn->server->loop;
    call->ctx = conn->server->opts.ctx;
    call->peer = conn->peer;
    call->reader.max = conn->server->opts.max_message_bytes;
    call->body.max = conn->server->opts.max_message_bytes;
    call->stream_ref = 1;
    hk_link_add(&conn->calls, &call->link);
    /* From its first header to its last byte, however slowly it comes. */
    call->request_deadline_ms = uv_now(call->loop) + conn->server->opts.request_timeout_ms;
    call_timer_arm(call);
    return call;
}

static void on_call_timer_closed(uv_handle_t *h)
{
    free(hk_container_of((uv_timer_t *)h, hk_call_t, timer));
}

/* Frees the call once neither the stream nor the handler holds it. */
static void call_release(hk_call_t *call)
{
    if (call->stream_ref || call->handler_ref) return;
    hk_grpc_reader_free(&call->reader);
    hk_connect_body_free(&call->body);
    free(call->path);
    free(call->encoding);
    free(call->resp);
    if (call->timer_init)
        uv_close((uv_handle_t *)&call->timer, on_call_timer_closed);
    else
        free(call);
}

/* Leaves the server's count of calls in flight: the handler finished the
 * call, or it was cancelled. Only while attached: a detached call may
 * outlive its server. */
static void call_uncount(hk_call_t *call)
{
    if (!call->counted) return;
    call->counted = 0;
    if (call->conn) call->conn->server->n_calls--;
}

static void on_call_timer(uv_timer_t *t);

static void call_timer_start(hk_call_t *call, uint64_t ms)
{
    if (!call->timer_init) {
        uv_timer_init(call->loop, &call->timer);
        call->timer_init = 1;
    }
    uv_timer_start(&call->timer, on_call_timer, ms, 0);
}

static void call_timer_stop(hk_call_t *call)
{
    if (call->timer_init) uv_timer_stop(&call->timer);
}

/* The timer for whichever comes first: the request's own timeout (while it
 * is still arriving) or the client's deadline. */
static void call_timer_arm(hk_call_t *call)
{
    uint64_t at = 0, now = uv_now(call->loop);

    if (!call->request_done && call->request_deadline_ms) at = call->request_deadline_ms;
    if (call->deadline_ms && (!at || call->deadline_ms < at)) at = call->deadline_ms;
    if (!at) {
        call_timer_stop(call);
        return;
    }
    call_timer_start(call, at > now ? at - now : 0);
}

/* --- the request-buffer budget ------------------------------------------------ */

static void call_uncharge(hk_call_t *call)
{
    if (!call->charged || !call->conn) return;
    call->conn->buffered -= call->charged;
    call->conn->server->buffered -= call->charged;
    call->charged = 0;
}

int hk_call_reserve(hk_call_t *call, size_t total)
{
    hk_conn_t *conn = call->conn;
    char msg[192];

    if (total <= call->charged) return 0;
    if (!conn) return HK_ETOOBIG;
    hk_server_t *server = conn->server;
    const hk_server_opts_t *o = &server->opts;
    size_t more = total - call->charged;
    if (more <= o->max_conn_buffer_bytes - conn->buffered &&
        more <= o->max_buffer_bytes - server->buffered) {
        call->charged = total;
        conn->buffered += more;
        server->buffered += more;
        if (server->buffered > server->buffered_peak) server->buffered_peak = server->buffered;
        return 0;
    }
    /* Refused, not held back by flow control: bytes a window already let
     * in must be stored or dropped, and messages half-in waiting for each
     * other's budget could wait forever. The client may retry. */
    int conn_full = more > o->max_conn_buffer_bytes - conn->buffered;
    snprintf(msg, sizeof msg,
             "hookd is holding too many request bytes %s (%zu); retry when calls in flight finish",
             conn_full ? "for this connection" : "in all",
             conn_full ? o->max_conn_buffer_bytes : o->max_buffer_bytes);
    hk_log(HK_LOG_INFO, "call_refused", "reason=\"request buffers full\" scope=%s pid=%d uid=%u",
           conn_full ? "connection" : "server", (int)call->peer.pid, (unsigned)call->peer.uid);
    hk_call_answer_status(call, 200, HK_STATUS_RESOURCE_EXHAUSTED, msg);
    return HK_ETOOBIG;
}

/* The request's bytes are no longer needed: freed, and off the budgets. */
static void call_drop_request(hk_call_t *call)
{
    hk_grpc_reader_free(&call->reader);
    hk_connect_body_free(&call->body);
    call->request = NULL;
    call_uncharge(call);
}

/* Runs the handler's cancel callback, at most once. The callback may finish
 * (and so free) the call: touch nothing after this. */
static void call_notify(hk_call_t *call)
{
    if (!call->handler_ref || !call->cancelled || call->cancel_notified || !call->cancel_cb) return;
    call->cancel_notified = 1;
    call->cancel_cb(call, call->cancel_arg);
}

void hk_call_cancel(hk_call_t *call)
{
    if (!call->handler_ref || call->cancelled) return;
    call->cancelled = 1;
    call_uncount(call);
}

void hk_call_on_header(hk_call_t *call, const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen)
{
    const char *n = (const char *)name, *v = (const char *)value;

    /* HTTP/2's own accounting (RFC 9113 6.5.2): name + value + 32 per field.
     * nghttp2 only advertises SETTINGS_MAX_HEADER_LIST_SIZE; we enforce it. */
    call->header_bytes += namelen + valuelen + 32;
    if (call->header_bytes > HK_CONN_HEADER_LIST_MAX) call->headers_too_big = 1;
    if (call->headers_too_big) return;

    if (namelen == 7 && memcmp(n, ":method", 7) == 0) {
        call->bad_method = !(valuelen == 4 && memcmp(v, "POST", 4) == 0);
    } else if (namelen == 5 && memcmp(n, ":path", 5) == 0) {
        free(call->path);
        call->path = strndup(v, valuelen);
    } else if (namelen == 12 && memcmp(n, "content-type", 12) == 0) {
        /* gRPC on HTTP/2 only; Connect on both. */
        int codec = hk_connect_codec(v, valuelen);
        int h1 = call->conn && call->conn->proto == HK_CONN_H1;
        call->content_type_ok = codec > HK_CALL_GRPC || (codec == HK_CALL_GRPC && !h1);
        if (call->content_type_ok) call->codec = codec;
        snprintf(call->content_type, sizeof call->content_type, "%.*s", (int)valuelen, v);
    } else if (namelen == 18 && memcmp(n, "connect-timeout-ms", 18) == 0) {
        call->has_connect_timeout = 1;
        call->bad_connect_timeout =
            hk_connect_timeout_parse(v, valuelen, &call->connect_timeout_ms) != 0;
    } else if (namelen == 24 && memcmp(n, "connect-protocol-version", 24) == 0) {
        call->bad_protocol_version = !(valuelen == 1 && v[0] == '1');
    } else if (namelen == 16 && memcmp(n, "content-encoding", 16) == 0) {
        call->bad_encoding = !(valuelen == 8 && strncasecmp(v, "identity", 8) == 0);
    } else if (namelen == 12 && memcmp(n, "grpc-timeout", 12) == 0) {
        call->bad_timeout = hk_grpc_timeout_parse(v, valuelen, &call->timeout_ns) != 0;
    } else if (namelen == 13 && memcmp(n, "grpc-encoding", 13) == 0) {
        free(call->encoding);
        call->encoding = strndup(v, valuelen);
    }
}

void hk_call_on_headers_end(hk_call_t *call)
{
    char msg[256];

    if (call->answered) return;
    int connect = call->codec != HK_CALL_GRPC;
    if (call->headers_too_big) {
        snprintf(msg, sizeof msg, "request headers exceed the limit of %u bytes",
                 HK_CONN_HEADER_LIST_MAX);
        /* A gRPC request all the same: :status 200, or clients that map
         * HTTP statuses would report UNKNOWN instead of our status. */
        hk_call_answer_status(call, connect ? 431 : 200, HK_STATUS_RESOURCE_EXHAUSTED, msg);
        return;
    }
    if (call->bad_method) {
        hk_call_answer_status(call, 405, connect ? HK_STATUS_UNIMPLEMENTED : HK_STATUS_INTERNAL,
                              connect ? "Connect requires the POST method"
                                      : "gRPC requires the POST method");
        return;
    }
    /* gRPC's HTTP mapping: a request that is not gRPC at all gets HTTP 415,
     * which clients turn into a status themselves. An HTTP/1.1 request is
     * Connect's (a JSON error): gRPC needs HTTP/2. */
    if (!call->content_type_ok) {
        char q[160];
        if (connect)
            snprintf(msg, sizeof msg,
                     "unsupported content-type %s: use application/proto or application/json%s",
                     hk_log_quote(call->content_type, q, sizeof q),
                     hk_grpc_content_type_ok(call->content_type, strlen(call->content_type))
                         ? " (gRPC needs HTTP/2)"
                         : "");
        else
            snprintf(msg, sizeof msg, "invalid gRPC request content-type %s",
                     hk_log_quote(call->content_type, q, sizeof q));
        hk_call_answer_status(call, 415, connect ? HK_STATUS_INVALID_ARGUMENT : HK_STATUS_INTERNAL,
                              msg);
        return;
    }
    if (!call->path || call->path[0] != '/') {
        hk_call_answer_status(call, connect ? 404 : 200, HK_STATUS_UNIMPLEMENTED,
                              "missing or malformed :path");
        return;
    }
    if (connect) {
        if (call->bad_protocol_version) {
            hk_call_answer_status(call, 200, HK_STATUS_INVALID_ARGUMENT,
                                  "Connect-Protocol-Version must be 1");
            return;
        }
        if (call->bad_encoding) {
            hk_call_answer_status(call, 200, HK_STATUS_UNIMPLEMENTED,
                                  "compressed requests are not supported; hookd accepts identity");
            return;
        }
        if (call->bad_connect_timeout) {
            hk_call_answer_status(call, 200, HK_STATUS_INVALID_ARGUMENT,
                                  "malformed Connect-Timeout-Ms");
            return;
        }
        /* grpc-timeout is gRPC's: a Connect request has only its own. */
        call->bad_timeout = 0;
        call->timeout_ns = 0;
        if (call->has_connect_timeout)
            call->timeout_ns = call->connect_timeout_ms > UINT64_MAX / 1000000
                                   ? UINT64_MAX
                                   : call->connect_timeout_ms * 1000000;
    }
    /* Who may call what is known now: a caller without the role (or a path
     * that names no method) is answered before a byte of its body is kept. */
    const hk_server_opts_t *o = &call->conn->server->opts;
    if (o->authorize) {
        char why[256] = "";
        int st = o->authorize(o->ctx, call->path, &call->peer, why, sizeof why);
        if (st != HK_STATUS_OK) {
            hk_call_answer_status(call, connect && st == HK_STATUS_UNIMPLEMENTED ? 404 : 200, st,
                                  why);
            return;
        }
    }
    /* A malformed grpc-timeout is a broken client: answer INTERNAL, as
     * grpc-go does, rather than run the call with no deadline at all (what
     * grpc-core does) and hide the bug. */
    if (call->bad_timeout) {
        hk_call_answer_status(call, 200, HK_STATUS_INTERNAL, "malformed grpc-timeout");
        return;
    }
    if (call->timeout_ns) {
        uint64_t now_hr = uv_hrtime(),
                 ms = call->timeout_ns / 1000000 + (call->timeout_ns % 1000000 != 0);
        call->deadline_hr =
            call->timeout_ns > UINT64_MAX - now_hr ? UINT64_MAX : now_hr + call->timeout_ns;
        uint64_t now_ms = uv_now(call->loop);
        call->deadline_ms = ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ms;
        /* The deadline runs from now even while the request is still
         * arriving: a slow upload does not get more time than asked for. */
        call_timer_arm(call);
    }
}

void hk_call_on_data(hk_call_t *call, const uint8_t *data, size_t len)
{
    if (call->answered) return; /* an early answer went out: the rest is ignored */
    if (call->codec != HK_CALL_GRPC) {
        if (len <= call->body.max - call->body.len &&
            hk_call_reserve(call, hk_connect_body_cap_for(&call->body, call->body.len + len)) != 0)
            return;
        int rc = hk_connect_body_append(&call->body, data, len);
        if (rc == HK_ETOOBIG) {
            char msg[128];
            snprintf(msg, sizeof msg, "message exceeds the limit of %zu bytes", call->body.max);
            hk_call_answer_status(call, 413, HK_STATUS_RESOURCE_EXHAUSTED, msg);
        } else if (rc != 0) {
            hk_call_answer_status(call, 200, HK_STATUS_INTERNAL, "out of memory");
        }
        return;
    }
    /* The prefix first: the announced length is reserved (or refused)
     * before any of the message is buffered. */
    if (call->reader.have_prefix < HK_GRPC_PREFIX_BYTES) {
        size_t k = HK_GRPC_PREFIX_BYTES - call->reader.have_prefix;
        if (k > len) k = len;
        if (hk_grpc_reader_feed(&call->reader, data, k) != 0) goto failed;
        data += k;
        len -= k;
        if (call->reader.have_prefix == HK_GRPC_PREFIX_BYTES &&
            hk_call_reserve(call, call->reader.len) != 0)
            return;
        if (len == 0) return;
    }
    if (hk_grpc_reader_feed(&call->reader, data, len) == 0) return;
failed:
    if (call->reader.status == HK_STATUS_UNIMPLEMENTED && call->reader.compressed) {
        char msg[256], q[96];
        snprintf(
            msg, sizeof msg,
            "compressed request with grpc-encoding %s is not supported; hookd accepts identity",
            call->encoding ? hk_log_quote(call->encoding, q, sizeof q) : "(none)");
        hk_call_answer_status(call, 200, HK_STATUS_UNIMPLEMENTED, msg);
        return;
    }
    hk_call_answer_status(call, 200, call->reader.status, call->reader.error);
}

void hk_call_on_body(hk_call_t *call, hk_connect_body_t *body)
{
    if (!call->answered) {
        size_t max = call->body.max;
        hk_connect_body_free(&call->body);
        call->body = *body;
        call->body.max = max;
        body->buf = NULL;
        body->len = body->cap = 0;
    }
    hk_call_on_request_end(call);
}

void hk_call_on_request_end(hk_call_t *call)
{
    hk_server_t *server = call->conn->server;

    call->request_done = 1;
    if (call->answered) return;
    call_timer_arm(call); /* the client's deadline only, now */
    if (call->codec != HK_CALL_GRPC) {
        /* The whole body is the message; an empty one is valid. */
        call->request = call->body.buf ? call->body.buf : (const uint8_t *)"";
        call->request_len = call->body.len;
    } else if (hk_grpc_reader_finish(&call->reader, &call->request, &call->request_len) != 0) {
        hk_call_answer_status(call, 200, call->reader.status, call->reader.error);
        return;
    }
    /* Compare in nanoseconds: a deadline of a few ns ("1n") has already
     * passed here, and the handler must not start work nobody awaits. */
    if (call->deadline_hr && uv_hrtime() >= call->deadline_hr) {
        hk_call_answer_status(call, 200, HK_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
        return;
    }
    call->handler_ref = 1;
    call->counted = 1;
    server->n_calls++;
    server->n_calls_total++;
    server->opts.on_call(call, call->ctx);
}

void hk_call_on_answer_sent(hk_call_t *call)
{
    /* We answered before the client finished sending (a bad request, a
     * deadline): reset the stream so it stops, as gRPC servers do. */
    if (call->rst_after_answer && !call->request_done && call->conn)
        nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_NO_ERROR);
}

/* Sends one whole answer with a body: HTTP/1.1's response, or an HTTP/2
 * response whose last DATA frame ends the stream (Connect has no
 * trailers). The call counts as answered. */
static void call_send_body(hk_call_t *call, int http_status, const char *content_type,
                           const uint8_t *body, size_t len)
{
    hk_conn_t *conn = call->conn;

    call->answered = 1;
    call_timer_stop(call);
    if (conn->proto == HK_CONN_H1) {
        hk_h1conn_answer(call, http_status, content_type, body, len);
        call_drop_request(call);
        return;
    }
    char status[8], clen[24];
    snprintf(status, sizeof status, "%d", http_status);
    snprintf(clen, sizeof clen, "%zu", len);
    nghttp2_nv nv[] = {NV(":status", status), NV("content-type", content_type),
                       NV("content-length", clen)};
    nghttp2_data_provider prd = {.source.ptr = call, .read_callback = hk_call_read_body};
    int rv = NGHTTP2_ERR_NOMEM;
    free(call->resp);
    call->resp_len = call->resp_off = 0;
    if ((call->resp = malloc(len ? len : 1))) {
        if (len) memcpy(call->resp, body, len);
        call->resp_len = len;
        if (!call->request_done) call->rst_after_answer = 1;
        rv = nghttp2_submit_response(conn->session, call->stream_id, nv, 3, &prd);
    }
    /* body may be the request's own bytes (an echo): freed only now. */
    call_drop_request(call);
    if (rv != 0) {
        hk_log(HK_LOG_WARN, "call_answer_failed", "stream=%d error=\"%s\"", (int)call->stream_id,
               nghttp2_strerror(rv));
        nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    }
}

/* A Connect error: the HTTP status (http_status, or the Connect table's for
 * status when http_status is 200) and a JSON body. */
static void call_connect_error(hk_call_t *call, int http_status, int status, const char *message)
{
    char *body = NULL;
    size_t len = 0;

    if (status <= HK_STATUS_OK || status > HK_STATUS_UNAUTHENTICATED) status = HK_STATUS_UNKNOWN;
    if (http_status == 200) http_status = hk_connect_http_status(status);
    if (hk_connect_error_body(call->conn->server->opts.connect_error, status, message,
                              HK_CONN_MESSAGE_MAX_TEXT, &body, &len) != 0) {
        body = NULL;
        len = 0;
    }
    call_send_body(call, http_status, "application/json", (const uint8_t *)body, len);
    free(body);
}

void hk_call_answer_status(hk_call_t *call, int http_status, int status, const char *message)
{
    hk_conn_t *conn = call->conn;
    char http[8], grpc[8], *text = NULL;
    nghttp2_nv nv[5];
    size_t n = 0;

    if (call->answered || !conn || conn->closing || conn->failed) return;
    if (call->codec != HK_CALL_GRPC || conn->proto == HK_CONN_H1) {
        call_connect_error(call, http_status, status, message);
        return;
    }
    call->answered = 1;
    call_timer_stop(call);
    if (status < 0 || status > HK_STATUS_UNAUTHENTICATED) status = HK_STATUS_UNKNOWN;
    snprintf(http, sizeof http, "%d", http_status);
    snprintf(grpc, sizeof grpc, "%d", status);
    nv[n++] = (nghttp2_nv)NV(":status", http);
    nv[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
    nv[n++] = (nghttp2_nv)NV("grpc-status", grpc);
    if (message && *message &&
        hk_grpc_message_encode(message, HK_CONN_MESSAGE_MAX_TEXT, &text) == 0)
        nv[n++] = (nghttp2_nv)NV("grpc-message", text);
    if (status == HK_STATUS_UNIMPLEMENTED && call->reader.compressed)
        nv[n++] = (nghttp2_nv)NV("grpc-accept-encoding", "identity");
    if (!call->request_done) call->rst_after_answer = 1;
    /* No data provider: the HEADERS frame carries END_STREAM (trailers-only). */
    int rv = nghttp2_submit_response(conn->session, call->stream_id, nv, n, NULL);
    if (rv != 0) {
        hk_log(HK_LOG_WARN, "call_answer_failed", "stream=%d error=\"%s\"", (int)call->stream_id,
               nghttp2_strerror(rv));
        nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    }
    free(text);
    call_drop_request(call);
}

void hk_call_detach(hk_call_t *call)
{
    if (!call->stream_ref) return;
    /* The stream is gone before anyone answered: the client reset it, or
     * the connection closed. The handler's work is now for nobody. */
    if (!call->answered) hk_call_cancel(call);
    call_uncount(call);
    call_uncharge(call);
    call->answered = 1;
    hk_link_del(&call->link);
    call->conn = NULL;
    call->stream_ref = 0;
    call_timer_stop(call);
    if (call->handler_ref && call->cancelled && !call->cancel_notified && call->cancel_cb)
        call_notify(call);
    else
        call_release(call);
}

ssize_t hk_call_read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                          uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    hk_call_t *call = source->ptr;
    size_t k = call->resp_len - call->resp_off;

    (void)user_data;
    if (k > length) k = length;
    memcpy(buf, call->resp + call->resp_off, k);
    call->resp_off += k;
    if (call->resp_off < call->resp_len) return (ssize_t)k;
    if (call->codec != HK_CALL_GRPC) {
        /* Connect: the body is the whole answer. */
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)k;
    }

    /* The message is out; the stream ends with the trailers instead. */
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv trailers[] = {NV("grpc-status", "0")};
    if (nghttp2_submit_trailer(session, stream_id, trailers, 1) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    free(call->resp);
    call->resp = NULL;
    call->resp_len = call->resp_off = 0;
    return (ssize_t)k;
}

static void on_call_timer(uv_timer_t *t)
{
    hk_call_t *call = hk_container_of(t, hk_call_t, timer);
    hk_conn_t *conn = call->conn;

    /* The same timer carries the request timeout, the deadline and, for a
     * cancel callback registered after the fact, the deferred notice. */
    uint64_t now = uv_now(call->loop);
    if (!call->cancelled && call->deadline_ms && now >= call->deadline_ms) {
        hk_call_answer_status(call, 200, HK_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
        hk_call_cancel(call);
    } else if (!call->cancelled && !call->answered && !call->request_done &&
               call->request_deadline_ms && now >= call->request_deadline_ms && conn) {
        char msg[128];
        uint64_t ms = conn->server->opts.request_timeout_ms;
        snprintf(msg, sizeof msg, "the request did not arrive whole within %llu ms",
                 (unsigned long long)ms);
        hk_log(HK_LOG_INFO, "request_timeout", "pid=%d uid=%u stream=%d ms=%llu",
               (int)call->peer.pid, (unsigned)call->peer.uid, (int)call->stream_id,
               (unsigned long long)ms);
        hk_call_answer_status(call, call->codec != HK_CALL_GRPC ? 408 : 200,
                              HK_STATUS_DEADLINE_EXCEEDED, msg);
    } else if (!call->cancelled && !call->answered) {
        call_timer_arm(call); /* early by a tick: wait the rest */
    }
    /* The callback (and then the flush, which may close the stream) can
     * free the call: conn was read before, and is still valid here
     * because connections close only from their own callbacks. */
    call_notify(call);
    if (conn) hk_conn_flush(conn);
}

/* --- call.h ------------------------------------------------------------ */

const char *hk_call_path(const hk_call_t *call)
{
    return call->path;
}

hk_call_codec_t hk_call_codec(const hk_call_t *call)
{
    return (hk_call_codec_t)call->codec;
}

const hk_peer_t *hk_call_peer(const hk_call_t *call)
{
    return &call->peer;
}

const uint8_t *hk_call_request(const hk_call_t *call, size_t *len)
{
    *len = call->request_len;
    return call->request;
}

uint64_t hk_call_deadline(const hk_call_t *call)
{
    return call->deadline_ms;
}

void *hk_call_ctx(const hk_call_t *call)
{
    return call->ctx;
}

void hk_call_set_data(hk_call_t *call, void *data)
{
    call->data = data;
}

void *hk_call_data(const hk_call_t *call)
{
    return call->data;
}

int hk_call_cancelled(const hk_call_t *call)
{
    return call->cancelled;
}

void hk_call_on_cancel(hk_call_t *call, hk_call_cancel_fn cb, void *arg)
{
    call->cancel_cb = cb;
    call->cancel_arg = arg;
    /* Already cancelled: tell the handler from the loop, not from here. */
    if (cb && call->cancelled && !call->cancel_notified) call_timer_start(call, 0);
}

void hk_call_reply(hk_call_t *call, const uint8_t *msg, size_t len)
{
    hk_conn_t *conn = call->conn;

    call->handler_ref = 0;
    call_uncount(call);
    if (!conn || conn->closing || conn->failed || call->answered) {
        call_release(call);
        return;
    }
    if (call->codec != HK_CALL_GRPC) {
        call_send_body(call, 200, hk_connect_content_type(call->codec), msg, len);
        if (conn->proto == HK_CONN_H2) hk_conn_flush_soon(conn);
        return;
    }
    if (len > UINT32_MAX - HK_GRPC_PREFIX_BYTES ||
        !(call->resp = malloc(HK_GRPC_PREFIX_BYTES + len))) {
        hk_call_answer_status(call, 200, HK_STATUS_INTERNAL, "cannot build the response");
        hk_conn_flush(conn);
        return;
    }
    hk_grpc_prefix_write(call->resp, (uint32_t)len);
    if (len) memcpy(call->resp + HK_GRPC_PREFIX_BYTES, msg, len);
    call->resp_len = HK_GRPC_PREFIX_BYTES + len;
    call->resp_off = 0;
    call->answered = 1;
    call_timer_stop(call);
    call_drop_request(call);

    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider body = {.source.ptr = call, .read_callback = hk_call_read_body};
    int rv = nghttp2_submit_response(conn->session, call->stream_id, nv, 2, &body);
    if (rv != 0) {
        hk_log(HK_LOG_WARN, "call_answer_failed", "stream=%d error=\"%s\"", (int)call->stream_id,
               nghttp2_strerror(rv));
        nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    }
    /* Sent with the other answers of this iteration; sending may close the
     * stream and free the call. */
    hk_conn_flush_soon(conn);
}

void hk_call_fail_http(hk_call_t *call, int http_status, int status, const char *message)
{
    hk_conn_t *conn = call->conn;

    call->handler_ref = 0;
    call_uncount(call);
    if (!conn || conn->closing || conn->failed || call->answered) {
        call_release(call);
        return;
    }
    /* gRPC's answers to the handlers' statuses always carry :status 200. */
    hk_call_answer_status(call, call->codec == HK_CALL_GRPC ? 200 : http_status, status, message);
    if (conn->proto == HK_CONN_H2) hk_conn_flush_soon(conn);
}

void hk_call_fail(hk_call_t *call, int status, const char *message)
{
    hk_call_fail_http(call, 200, status, message);
}
