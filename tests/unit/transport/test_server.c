/* test_server.c -- the gRPC server driven by a raw nghttp2 client on the same loop */
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "core/error.h"
#include "core/status.h"
#include "transport/grpc.h"
#include "transport/server.h"
#include "unit.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* As in hookd's main: a peer that hung up is an error return, not a death. */
__attribute__((constructor)) static void ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

/* --- a raw HTTP/2 client --------------------------------------------------- */

typedef struct client client_t;

typedef struct {
    client_t *client;
    int32_t id;
    uint8_t *body; /* the request as sent: prefix + message */
    size_t body_len, body_off;
    int hold; /* send only the first body_len bytes, keep the stream open */
    int http_status;
    int grpc_status; /* -1 until seen */
    char grpc_message[128];
    int accept_encoding;
    int header_frames; /* HEADERS frames received */
    int trailers_only; /* the first HEADERS frame ended the stream */
    uint8_t *resp;
    size_t resp_len;
    int closed;
    uint32_t close_code;
} cstream_t;

struct client {
    uv_pipe_t pipe;
    uv_connect_t connect;
    nghttp2_session *session;
    int connected, connect_status, eof, closed;
    int streams_closed;
    int goaway; /* GOAWAY frames received */
    uint32_t goaway_code;
    const char *extra_name, *extra_value; /* one more header on the next call */
    char raw_in[65536];                   /* raw clients: what the server sent */
    size_t raw_len;
};

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
} cwrite_t;

static void client_on_write(uv_write_t *req, int status)
{
    (void)status;
    cwrite_t *w = container_of(req, cwrite_t, req);
    free(w->buf.base);
    free(w);
}

static void client_write(client_t *c, const void *data, size_t len)
{
    cwrite_t *w = malloc(sizeof *w);
    w->buf = uv_buf_init(malloc(len), (unsigned)len);
    memcpy(w->buf.base, data, len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->buf, 1, client_on_write) != 0) {
        free(w->buf.base);
        free(w);
    }
}

static void client_flush(client_t *c)
{
    const uint8_t *data;
    ssize_t n;
    if (!c->session || !c->connected || c->closed) return;
    while ((n = nghttp2_session_mem_send(c->session, &data)) > 0)
        client_write(c, data, (size_t)n);
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    *buf = uv_buf_init(malloc(suggested), (unsigned)suggested);
}

static void client_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client_t *c = container_of((uv_pipe_t *)s, client_t, pipe);
    if (nread < 0) {
        c->eof = 1;
        uv_read_stop(s);
    } else if (nread > 0 && c->session) {
        nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)nread);
        client_flush(c);
    } else if (nread > 0) {
        size_t k = (size_t)nread < sizeof c->raw_in - 1 - c->raw_len
                       ? (size_t)nread
                       : sizeof c->raw_in - 1 - c->raw_len;
        memcpy(c->raw_in + c->raw_len, buf->base, k);
        c->raw_len += k;
        c->raw_in[c->raw_len] = '\0';
    }
    free(buf->base);
}

static void client_on_connect(uv_connect_t *req, int status)
{
    client_t *c = container_of(req, client_t, connect);
    c->connect_status = status;
    if (status != 0) {
        c->eof = 1;
        return;
    }
    c->connected = 1;
    uv_read_start((uv_stream_t *)&c->pipe, client_alloc, client_on_read);
    client_flush(c);
}

static ssize_t client_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                                uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s, (void)id, (void)ud;
    cstream_t *st = src->ptr;
    size_t k = st->body_len - st->body_off;
    if (k > length) k = length;
    memcpy(buf, st->body + st->body_off, k);
    st->body_off += k;
    if (st->body_off == st->body_len) {
        if (st->hold) return k ? (ssize_t)k : NGHTTP2_ERR_DEFERRED;
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)k;
}

static int client_on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                            size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                            void *ud)
{
    (void)flags, (void)ud;
    cstream_t *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (!st) return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        st->http_status = atoi((const char *)value);
    if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        st->grpc_status = atoi((const char *)value);
    if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
        snprintf(st->grpc_message, sizeof st->grpc_message, "%.*s", (int)valuelen, value);
    if (namelen == 20 && memcmp(name, "grpc-accept-encoding", 20) == 0) st->accept_encoding = 1;
    return 0;
}

static int client_on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    client_t *c = ud;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->goaway++;
        c->goaway_code = frame->goaway.error_code;
    }
    cstream_t *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (!st || frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (st->header_frames++ == 0 && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        st->trailers_only = 1;
    return 0;
}

static int client_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                          size_t len, void *ud)
{
    (void)flags, (void)ud;
    cstream_t *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st) return 0;
    st->resp = realloc(st->resp, st->resp_len + len);
    memcpy(st->resp + st->resp_len, data, len);
    st->resp_len += len;
    return 0;
}

static int client_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    client_t *c = ud;
    cstream_t *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st) return 0;
    st->closed = 1;
    st->close_code = code;
    c->streams_closed++;
    return 0;
}

/* A connected client; raw = no HTTP/2 session (for garbage). */
static client_t *client_new(uv_loop_t *loop, const char *path, int raw)
{
    client_t *c = calloc(1, sizeof *c);
    uv_pipe_init(loop, &c->pipe, 0);
    uv_pipe_connect(&c->connect, &c->pipe, path, client_on_connect);
    if (raw) return c;

    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, client_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, client_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, client_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, client_on_close);
    nghttp2_session_client_new(&c->session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 1);
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 1 << 28);
    return c;
}

static void client_free_cb(uv_handle_t *h)
{
    free(container_of((uv_pipe_t *)h, client_t, pipe));
}

static void client_close(client_t *c)
{
    c->closed = 1;
    if (c->session) nghttp2_session_del(c->session);
    c->session = NULL;
    uv_close((uv_handle_t *)&c->pipe, client_free_cb);
}

static void cstream_free(cstream_t *st)
{
    if (!st) return;
    free(st->body);
    free(st->resp);
    free(st);
}

/* Starts a unary call. flag is the message's prefix flag byte; timeout a
 * grpc-timeout value or NULL; announce (when nonzero) a length to put in
 * the prefix instead of len. */
static cstream_t *client_call_ex(client_t *c, const char *path, const void *msg, size_t len,
                                 const char *timeout, uint8_t flag, uint32_t announce,
                                 const char *content_type)
{
    cstream_t *st = calloc(1, sizeof *st);
    st->client = c;
    st->grpc_status = -1;
    st->body_len = 5 + len;
    st->body = malloc(st->body_len);
    hk_grpc_prefix_write(st->body, announce ? announce : (uint32_t)len);
    st->body[0] = flag;
    if (len) memcpy(st->body + 5, msg, len);
    if (announce) st->hold = 1;

    nghttp2_nv nv[9];
    size_t n = 0;
#define CNV(k, v) nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), 0}
    CNV(":method", "POST");
    CNV(":scheme", "http");
    CNV(":path", path);
    CNV(":authority", "localhost");
    CNV("content-type", content_type);
    CNV("te", "trailers");
    if (timeout) CNV("grpc-timeout", timeout);
    if (c->extra_name) CNV(c->extra_name, c->extra_value);
    c->extra_name = c->extra_value = NULL;
#undef CNV
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = client_read_body};
    st->id = nghttp2_submit_request(c->session, NULL, nv, n, &prd, st);
    client_flush(c);
    return st;
}

static cstream_t *client_call(client_t *c, const char *path, const void *msg, size_t len,
                              const char *timeout)
{
    return client_call_ex(c, path, msg, len, timeout, 0, 0, "application/grpc");
}

static void client_reset(client_t *c, cstream_t *st)
{
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    client_flush(c);
}

/* --- the server side: handlers chosen by :path ----------------------------- */

static struct {
    int calls;          /* on_call ran */
    int cancels;        /* a cancel callback ran */
    int cancelled_flag; /* hk_call_cancelled() inside the cancel callback */
    int stopped;        /* hk_server_stop's done ran */
    uint64_t max_in_flight;
    hk_server_t *server;
    hk_call_t *held;
    hk_call_t *gathered[16]; /* /t/Gather calls, answered together */
    int n_gathered;
    int in_on_cancel; /* inside hk_call_on_cancel */
    uv_loop_t *loop;
} T;

typedef struct {
    uv_timer_t timer;
    hk_call_t *call;
} later_t;

static void on_later_closed(uv_handle_t *h)
{
    free(container_of((uv_timer_t *)h, later_t, timer));
}

static void on_later(uv_timer_t *t)
{
    later_t *l = container_of(t, later_t, timer);
    size_t len;
    const uint8_t *req = hk_call_request(l->call, &len);
    hk_call_reply(l->call, req, len);
    uv_close((uv_handle_t *)t, on_later_closed);
}

static void on_cancel_fail(hk_call_t *call, void *arg)
{
    (void)arg;
    if (T.in_on_cancel)
        hk_test_failed(__FILE__, __LINE__, "cancel callback ran inside hk_call_on_cancel");
    T.cancels++;
    T.cancelled_flag = hk_call_cancelled(call);
    hk_call_fail(call, HK_STATUS_CANCELLED, "cancelled");
}

static void on_cancel_count(hk_call_t *call, void *arg)
{
    (void)call, (void)arg;
    if (T.in_on_cancel)
        hk_test_failed(__FILE__, __LINE__, "cancel callback ran inside hk_call_on_cancel");
    T.cancels++;
}

static void on_call(hk_call_t *call, void *ctx)
{
    const char *path = hk_call_path(call);
    size_t len;
    const uint8_t *req = hk_call_request(call, &len);
    hk_server_stats_t stats;

    T.calls++;
    if (ctx != &T) hk_test_failed(__FILE__, __LINE__, "ctx");
    if (hk_call_peer(call)->uid != getuid() || hk_call_peer(call)->pid != getpid())
        hk_test_failed(__FILE__, __LINE__, "peer credentials");
    hk_server_stats(T.server, &stats);
    if (stats.calls > T.max_in_flight) T.max_in_flight = stats.calls;

    if (strcmp(path, "/t/Echo") == 0) {
        hk_call_reply(call, req, len);
    } else if (strcmp(path, "/t/Fail") == 0) {
        hk_call_fail(call, HK_STATUS_INVALID_ARGUMENT, "name: 100% wrong \xe2\x9c\x93");
    } else if (strcmp(path, "/t/Later") == 0) {
        later_t *l = calloc(1, sizeof *l);
        l->call = call;
        uv_timer_init(T.loop, &l->timer);
        uv_timer_start(&l->timer, on_later, 20, 0);
    } else if (strcmp(path, "/t/Never") == 0) {
        T.in_on_cancel = 1;
        hk_call_on_cancel(call, on_cancel_fail, NULL);
        T.in_on_cancel = 0;
    } else if (strcmp(path, "/t/Held") == 0) {
        T.held = call;
    } else if (strcmp(path, "/t/Gather") == 0 && T.n_gathered < 16) {
        T.gathered[T.n_gathered++] = call;
    } else if (strcmp(path, "/t/HeldCounted") == 0) {
        T.held = call;
        T.in_on_cancel = 1;
        hk_call_on_cancel(call, on_cancel_count, NULL);
        T.in_on_cancel = 0;
    } else {
        hk_call_fail(call, HK_STATUS_UNIMPLEMENTED, "unknown method");
    }
}

/* --- the fixture ------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping forever in run_until */
    char path[256];
    hk_server_opts_t opts;
} fixture_t;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void fixture_init(fixture_t *f)
{
    memset(&T, 0, sizeof T);
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->tick);
    T.loop = &f->loop;
    snprintf(f->path, sizeof f->path, "%s/hookd.sock", hk_test_tmpdir());
    f->opts = (hk_server_opts_t){
        .socket_path = f->path,
        .socket_mode = 0660,
        .max_message_bytes = 1 << 20,
        .max_streams = 256,
        .max_connections = 64,
        .on_call = on_call,
        .ctx = &T,
    };
}

static int fixture_start(fixture_t *f)
{
    return hk_server_start(&f->loop, &f->opts, &T.server);
}

/* Runs the loop until *flag >= want or 5 s pass; returns 1 when reached. */
static int run_until(fixture_t *f, const int *flag, int want)
{
    uint64_t end = uv_hrtime() + 5000000000ull;
    uv_timer_start(&f->tick, on_tick, 5, 5);
    while (*flag < want && uv_hrtime() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return *flag >= want;
}

static void on_stopped(void *arg)
{
    (void)arg;
    T.stopped++;
    T.server = NULL;
}

/* Stops the server (if running), closes every handle, and checks the loop
 * closes clean: nothing leaked a handle. */
static int fixture_done(fixture_t *f)
{
    if (T.server) hk_server_stop(T.server, 1000, on_stopped, NULL);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return uv_loop_close(&f->loop) == 0;
}

static int resp_is(const cstream_t *st, const void *msg, size_t len)
{
    return st->resp_len == 5 + len && st->resp[0] == 0 && st->resp[4] == (uint8_t)len &&
           memcmp(st->resp + 5, msg, len) == 0;
}

/* --- tests ------------------------------------------------------------------- */

TEST(echo_reply_with_trailers)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    struct stat st_sock;
    CHECK_INT(stat(f.path, &st_sock), 0);
    CHECK_INT(st_sock.st_mode & 0777, 0660);

    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "hello", 5, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 200);
    CHECK_INT(st->grpc_status, 0);
    CHECK_INT(st->header_frames, 2); /* headers, then trailers */
    CHECK_INT(st->trailers_only, 0);
    CHECK_INT(st->close_code, NGHTTP2_NO_ERROR);
    CHECK(resp_is(st, "hello", 5));
    CHECK_INT(T.calls, 1);

    /* An empty message is a message too. */
    cstream_t *empty = client_call(c, "/t/Echo", "", 0, NULL);
    CHECK(run_until(&f, &empty->closed, 1));
    CHECK_INT(empty->grpc_status, 0);
    CHECK_INT(empty->resp_len, 5);

    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.connections, 1);
    CHECK_INT(stats.calls, 0);
    CHECK_INT(stats.calls_total, 2);

    client_close(c);
    cstream_free(st);
    cstream_free(empty);
    CHECK(fixture_done(&f));
    CHECK_INT(T.stopped, 1);
    CHECK(access(f.path, F_OK) != 0); /* stop removed the socket file */
}

TEST(trailers_only_error)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Fail", "x", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 200);
    CHECK_INT(st->grpc_status, HK_STATUS_INVALID_ARGUMENT);
    CHECK_INT(st->header_frames, 1);
    CHECK_INT(st->trailers_only, 1);
    CHECK_INT(st->resp_len, 0);
    CHECK_STR(st->grpc_message, "name: 100%25 wrong %E2%9C%93");
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(oversized_message)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_message_bytes = 1024;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* The prefix announces 5 MiB; only 10 bytes follow and the stream stays
     * open: the answer must come from the prefix alone. */
    cstream_t *st =
        client_call_ex(c, "/t/Echo", "0123456789", 10, NULL, 0, 5u << 20, "application/grpc");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);
    CHECK_STR(st->grpc_message, "message of 5242880 bytes exceeds the limit of 1024");
    CHECK_INT(T.calls, 0);

    /* Exactly at the limit is fine; one byte over is not. */
    char *big = calloc(1, 1025);
    cstream_t *ok = client_call(c, "/t/Echo", big, 1024, NULL);
    cstream_t *over = client_call(c, "/t/Echo", big, 1025, NULL);
    CHECK(run_until(&f, &over->closed, 1));
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    CHECK_INT(ok->resp_len, 1029);
    CHECK_INT(over->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);
    free(big);
    client_close(c);
    cstream_free(st);
    cstream_free(ok);
    cstream_free(over);
    CHECK(fixture_done(&f));
}

TEST(compressed_flag_unimplemented)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call_ex(c, "/t/Echo", "zz", 2, NULL, 1, 0, "application/grpc");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_UNIMPLEMENTED);
    CHECK_INT(st->accept_encoding, 1);
    CHECK_INT(T.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(bad_content_type_415)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* application/json and application/proto are Connect's (tested apart). */
    cstream_t *st = client_call_ex(c, "/t/Echo", "{}", 2, NULL, 0, 0, "text/plain");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 415);
    CHECK_INT(st->grpc_status, HK_STATUS_INTERNAL);
    CHECK_INT(T.calls, 0);
    /* The connection still serves good calls. */
    cstream_t *ok = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    cstream_free(ok);
    CHECK(fixture_done(&f));
}

TEST(malformed_timeout_internal)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, "123456789S");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_INTERNAL);
    CHECK_STR(st->grpc_message, "malformed grpc-timeout");
    CHECK_INT(T.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(expired_deadline_not_dispatched)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, "1n");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(T.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(deadline_while_handling_cancels)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    uint64_t t0 = uv_hrtime();
    cstream_t *st = client_call(c, "/t/Never", "a", 1, "50m");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK(uv_hrtime() - t0 >= 45000000ull);
    CHECK_INT(st->grpc_status, HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(T.calls, 1);
    CHECK_INT(T.cancels, 1);
    CHECK_INT(T.cancelled_flag, 1);
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(deadline_reported_to_handler)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Held", "a", 1, "10S");
    CHECK(run_until(&f, &T.calls, 1));
    uint64_t deadline = hk_call_deadline(T.held);
    CHECK(deadline >= uv_now(&f.loop) + 9000 && deadline <= uv_now(&f.loop) + 10001);
    hk_call_reply(T.held, (const uint8_t *)"ok", 2);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    CHECK(resp_is(st, "ok", 2));
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(client_reset_cancels)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Never", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    CHECK_INT(T.cancels, 0);
    client_reset(c, st);
    CHECK(run_until(&f, &T.cancels, 1));
    CHECK_INT(T.cancelled_flag, 1);
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.calls, 0);
    /* The connection goes on. */
    cstream_t *ok = client_call(c, "/t/Echo", "b", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    cstream_free(ok);
    CHECK(fixture_done(&f));
}

TEST(cancel_registered_late_runs_from_loop)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Held", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    client_reset(c, st);
    CHECK(run_until(&f, &st->closed, 1));
    /* Let the reset reach the server. */
    for (int i = 0; i < 20 && !hk_call_cancelled(T.held); i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(hk_call_cancelled(T.held), 1);
    T.in_on_cancel = 1;
    hk_call_on_cancel(T.held, on_cancel_count, NULL);
    T.in_on_cancel = 0;
    CHECK_INT(T.cancels, 0);
    CHECK(run_until(&f, &T.cancels, 1));
    hk_call_fail(T.held, HK_STATUS_CANCELLED, "late"); /* only frees */
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(call_survives_connection_close)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/HeldCounted", "abc", 3, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    client_close(c);
    CHECK(run_until(&f, &T.cancels, 1));
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.calls, 0);
    /* The request stays readable until the handler finishes the call. */
    size_t len;
    const uint8_t *req = hk_call_request(T.held, &len);
    CHECK_INT(len, 3);
    CHECK(memcmp(req, "abc", 3) == 0);
    CHECK_STR(hk_call_path(T.held), "/t/HeldCounted");
    hk_call_reply(T.held, (const uint8_t *)"late", 4); /* only frees */
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(garbage_then_good_connection)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *bad = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &bad->connected, 1));
    /* Not the HTTP/2 preface, so HTTP/1.x, and not that either: 400, closed. */
    client_write(bad, "\x01\x02 garbage\r\n\r\n", 14);
    CHECK(run_until(&f, &bad->eof, 1)); /* the server hung up on it */

    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "still here", 10, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.connections, 1);
    client_close(bad);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(concurrent_streams_200)
{
    enum { N = 200 };
    fixture_t f;
    cstream_t *st[N];
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "m%d", i);
        st[i] = client_call(c, "/t/Later", msg, (size_t)n, NULL);
    }
    CHECK(run_until(&f, &c->streams_closed, N));
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "m%d", i);
        CHECK_INT(st[i]->grpc_status, 0);
        CHECK(resp_is(st[i], msg, (size_t)n));
        cstream_free(st[i]);
    }
    CHECK_INT(T.calls, N);
    CHECK_INT(T.max_in_flight, N); /* all were in the handlers at once */
    client_close(c);
    CHECK(fixture_done(&f));
}

static void on_answer_gathered(uv_timer_t *t)
{
    for (int i = 0; i < T.n_gathered; i++) {
        size_t len;
        const uint8_t *req = hk_call_request(T.gathered[i], &len);
        if (i % 2)
            hk_call_reply(T.gathered[i], req, len);
        else
            hk_call_fail(T.gathered[i], HK_STATUS_ABORTED, "even");
    }
    uv_close((uv_handle_t *)t, NULL);
}

/* Answers given in one loop iteration (a group commit's) leave in one write
 * per connection: the client reads them all at once. */
TEST(answers_together_share_a_write)
{
    enum { N = 16 };
    fixture_t f;
    cstream_t *st[N];
    uv_timer_t answer;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "g%d", i);
        st[i] = client_call(c, "/t/Gather", msg, (size_t)n, NULL);
    }
    CHECK(run_until(&f, &T.n_gathered, N));
    for (int i = 0; i < 5; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    hk_server_stats_t before, after;
    hk_server_stats(T.server, &before);
    uv_timer_init(&f.loop, &answer);
    uv_timer_start(&answer, on_answer_gathered, 0, 0);
    CHECK(run_until(&f, &c->streams_closed, N));
    hk_server_stats(T.server, &after);
    CHECK_INT(after.writes - before.writes, 1);
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "g%d", i);
        if (i % 2) {
            CHECK_INT(st[i]->grpc_status, 0);
            CHECK(resp_is(st[i], msg, (size_t)n));
        } else {
            CHECK_INT(st[i]->grpc_status, HK_STATUS_ABORTED);
        }
        cstream_free(st[i]);
    }
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(large_messages_both_ways)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_message_bytes = 4u << 20;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    size_t n = 3u << 20;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    cstream_t *a = client_call(c, "/t/Echo", big, n, NULL);
    cstream_t *b = client_call(c, "/t/Echo", big, n, NULL);
    CHECK(run_until(&f, &c->streams_closed, 2));
    CHECK_INT(a->grpc_status, 0);
    CHECK_INT(b->grpc_status, 0);
    CHECK_INT(a->resp_len, n + 5);
    CHECK(memcmp(a->resp + 5, big, n) == 0);
    CHECK(memcmp(b->resp + 5, big, n) == 0);
    free(big);
    client_close(c);
    cstream_free(a);
    cstream_free(b);
    CHECK(fixture_done(&f));
}

TEST(max_connections)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_connections = 1;
    CHECK_INT(fixture_start(&f), 0);
    client_t *a = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(a, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    client_t *b = client_new(&f.loop, f.path, 0);
    CHECK(run_until(&f, &b->eof, 1)); /* accepted and closed at once */
    CHECK_INT(T.calls, 1);
    client_close(a);
    client_close(b);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(stale_socket_replaced)
{
    fixture_t f;
    fixture_init(&f);
    /* A socket file whose server is gone: bound, never listened, closed. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CHECK(strlen(f.path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, f.path, strlen(f.path) + 1);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    CHECK_INT(access(f.path, F_OK), 0);

    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(not_a_socket_left_alone)
{
    fixture_t f;
    fixture_init(&f);
    FILE *fp = fopen(f.path, "w");
    CHECK(fp != NULL);
    fputs("precious", fp);
    fclose(fp);
    CHECK_INT(fixture_start(&f), HK_EIO);
    CHECK_INT(access(f.path, F_OK), 0);
    CHECK(fixture_done(&f));
}

TEST(live_socket_in_use)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    hk_server_t *second = NULL;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &second), HK_EADDRINUSE);
    CHECK(second == NULL);
    /* The first still serves. */
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(bad_options)
{
    fixture_t f;
    hk_server_t *s = NULL;
    fixture_init(&f);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    f.opts.socket_path = longpath;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &s), HK_EINVAL);
    f.opts.socket_path = f.path;
    f.opts.on_call = NULL;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &s), HK_EINVAL);
    CHECK(s == NULL);
    CHECK(fixture_done(&f));
}

TEST(graceful_stop_finishes_in_flight)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Held", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));

    hk_server_stop(T.server, 5000, on_stopped, NULL);
    CHECK_INT(T.stopped, 0);          /* done runs from the loop, later */
    CHECK(access(f.path, F_OK) != 0); /* no new clients can come */
    for (int i = 0; i < 5; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(T.stopped, 0); /* the call is still in flight */
    CHECK_INT(st->closed, 0);

    hk_call_reply(T.held, (const uint8_t *)"finished", 8);
    CHECK(run_until(&f, &T.stopped, 1));
    CHECK_INT(st->grpc_status, 0);
    CHECK(resp_is(st, "finished", 8));
    CHECK_INT(T.cancels, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(graceful_stop_grace_over)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Never", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    hk_server_stop(T.server, 30, on_stopped, NULL);
    CHECK(run_until(&f, &T.stopped, 1));
    CHECK_INT(T.cancels, 1);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_UNAVAILABLE);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(stop_with_idle_connection)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    uint64_t t0 = uv_hrtime();
    hk_server_stop(T.server, 5000, on_stopped, NULL);
    CHECK(run_until(&f, &T.stopped, 1));
    CHECK(uv_hrtime() - t0 < 1000000000ull); /* GOAWAY, not the grace period */
    CHECK(run_until(&f, &c->eof, 1));
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(backpressure_client_not_reading)
{
    enum { N = 12 };
    fixture_t f;
    cstream_t *st[N];
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* One call first, so the client has the server's SETTINGS and windows. */
    cstream_t *first = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &first->closed, 1));
    cstream_free(first);
    T.calls = 0;
    c->streams_closed = 0;
    /* The client stops reading; 6 MiB of answers are due: far more than
     * the socket buffer and the server's write bound together. (Requests
     * stay within the server's flow-control windows: a client that does
     * not read cannot see WINDOW_UPDATEs either.) */
    uv_read_stop((uv_stream_t *)&c->pipe);
    size_t n = 512u << 10;
    uint8_t *big = calloc(1, n);
    for (int i = 0; i < N; i++)
        st[i] = client_call(c, "/t/Echo", big, n, NULL);
    uv_timer_start(&f.tick, on_tick, 5, 5);
    for (uint64_t end = uv_hrtime() + 300000000ull; uv_hrtime() < end;)
        uv_run(&f.loop, UV_RUN_ONCE);
    uv_timer_stop(&f.tick);
    CHECK_INT(c->streams_closed, 0);
    CHECK(T.calls < N); /* the server stopped taking requests... */
    CHECK(T.calls >= 1);
    /* ...and takes them again once the client drains its answers. */
    uv_read_start((uv_stream_t *)&c->pipe, client_alloc, client_on_read);
    CHECK(run_until(&f, &c->streams_closed, N));
    for (int i = 0; i < N; i++) {
        CHECK_INT(st[i]->grpc_status, 0);
        CHECK_INT(st[i]->resp_len, n + 5);
        cstream_free(st[i]);
    }
    CHECK_INT(T.calls, N);
    free(big);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(rapid_reset_guard)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_streams = 10; /* guard: burst max(1000, 4 x 10), 33/s */
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    CHECK(run_until(&f, &c->connected, 1));
    cstream_t *st[1200];
    int sent = 0;
    /* Cancelling 900 calls in a burst is within bounds... */
    for (; sent < 900; sent++) {
        st[sent] = client_call_ex(c, "/t/Echo", "", 0, NULL, 0, 7, "application/grpc");
        client_reset(c, st[sent]);
        if (sent % 8 == 7) CHECK(run_until(&f, &c->streams_closed, sent + 1));
    }
    CHECK(run_until(&f, &c->streams_closed, sent));
    for (int i = 0; i < 3; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(c->goaway, 0);
    cstream_t *ok = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    /* ...300 more right away is a flood: the connection is dropped. */
    for (; sent < 1200 && !c->goaway && !c->eof; sent++) {
        st[sent] = client_call_ex(c, "/t/Echo", "", 0, NULL, 0, 7, "application/grpc");
        client_reset(c, st[sent]);
        if (sent % 8 == 7) uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    int gone = 0;
    uv_timer_start(&f.tick, on_tick, 5, 5);
    for (uint64_t end = uv_hrtime() + 2000000000ull; !c->eof && uv_hrtime() < end;)
        uv_run(&f.loop, UV_RUN_ONCE);
    uv_timer_stop(&f.tick);
    gone = c->eof;
    CHECK_INT(c->goaway, 1);
    CHECK_INT(c->goaway_code, NGHTTP2_INTERNAL_ERROR);
    CHECK_INT(gone, 1);
    CHECK(sent > 1000);
    for (int i = 0; i < sent; i++)
        cstream_free(st[i]);
    cstream_free(ok);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(header_list_limit)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    char *value = malloc(40000);
    memset(value, 'v', 39999);
    value[39999] = '\0';

    /* Over the advertised 16 KiB: a clear status. */
    value[20000] = '\0';
    c->extra_name = "x-big";
    c->extra_value = value;
    cstream_t *big = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &big->closed, 1));
    CHECK_INT(big->http_status, 200);
    CHECK_INT(big->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);

    /* Far over it: not even decoded, the stream is reset. */
    value[20000] = 'v';
    c->extra_name = "x-huge";
    c->extra_value = value;
    cstream_t *huge = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &huge->closed, 1));
    CHECK_INT(huge->grpc_status, -1);
    CHECK(huge->close_code != NGHTTP2_NO_ERROR);
    CHECK_INT(T.calls, 0);

    /* The connection still serves. */
    cstream_t *ok = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    free(value);
    client_close(c);
    cstream_free(big);
    cstream_free(huge);
    cstream_free(ok);
    CHECK(fixture_done(&f));
}

TEST(bind_failure_leaves_nothing_behind)
{
    fixture_t f;
    hk_server_t *s = NULL;
    fixture_init(&f);
    char path[300];
    snprintf(path, sizeof path, "%s/no/such/dir/hookd.sock", hk_test_tmpdir());
    f.opts.socket_path = path;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &s), HK_EIO);
    CHECK(s == NULL);
    /* No handle was left for the loop to close: a daemon that fails to
     * start can return at once. */
    uv_close((uv_handle_t *)&f.tick, NULL);
    CHECK_INT(uv_run(&f.loop, UV_RUN_NOWAIT), 0);
    CHECK_INT(uv_loop_close(&f.loop), 0);
}

/* --- HTTP/1.1 and Connect ---------------------------------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Runs the loop until the raw client got want answers (or 5 s pass). */
static int run_until_answers(fixture_t *f, client_t *c, int want)
{
    uint64_t end = uv_hrtime() + 5000000000ull;
    uv_timer_start(&f->tick, on_tick, 5, 5);
    while (count_of(c->raw_in, "HTTP/1.1 ") < want && !c->eof && uv_hrtime() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return count_of(c->raw_in, "HTTP/1.1 ") >= want;
}

static void h1_post(client_t *c, const char *path, const char *body, const char *extra)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/proto\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s",
                     path, strlen(body), extra ? extra : "", body);
    client_write(c, req, (size_t)n);
}

static int fake_json(const char *code, const char *message, char **out, size_t *len)
{
    size_t n = strlen(code) + strlen(message) + 2;
    *out = malloc(n);
    snprintf(*out, n, "%s|%s", code, message);
    *len = n - 1;
    return 0;
}

TEST(h1_echo_keep_alive)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.connect_error = fake_json;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Echo", "one", NULL);
    CHECK(run_until_answers(&f, c, 1));
    h1_post(c, "/t/Fail", "", NULL);
    CHECK(run_until_answers(&f, c, 2));
    CHECK(strstr(c->raw_in, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                            "Content-Length: 3\r\n\r\none") == c->raw_in);
    /* The handler's status by the Connect table, its message in the body. */
    CHECK(strstr(c->raw_in, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"));
    CHECK(strstr(c->raw_in, "invalid_argument|name: 100% wrong \xe2\x9c\x93"));
    CHECK_INT(c->eof, 0); /* kept alive */
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.connections, 1);
    CHECK_INT(T.calls, 2);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_pipelined_one_at_a_time)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    /* Two requests in one write: the second waits for the first's answer. */
    char both[512];
    int n = snprintf(both, sizeof both,
                     "POST /t/Held HTTP/1.1\r\nContent-Type: application/proto\r\n"
                     "Content-Length: 1\r\n\r\nA"
                     "POST /t/Echo HTTP/1.1\r\nContent-Type: application/proto\r\n"
                     "Content-Length: 6\r\n\r\nsecond");
    client_write(c, both, (size_t)n);
    CHECK(run_until(&f, &T.calls, 1));
    for (int i = 0; i < 10; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(T.calls, 1);
    CHECK_INT(c->raw_len, 0);
    hk_call_reply(T.held, (const uint8_t *)"first", 5);
    CHECK(run_until_answers(&f, c, 2));
    CHECK_INT(T.calls, 2);
    const char *a = strstr(c->raw_in, "\r\n\r\nfirst"), *b = strstr(c->raw_in, "\r\n\r\nsecond");
    CHECK(a && b && a < b);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_header_timeout)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.http1_header_timeout_ms = 50;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    client_write(c, "POST /t/Echo HTTP/1.1\r\nHost: t\r\n", 32);
    uint64_t t0 = uv_hrtime();
    CHECK(run_until(&f, &c->eof, 1));
    CHECK(uv_hrtime() - t0 >= 40000000ull);
    CHECK(strstr(c->raw_in, "HTTP/1.1 408 Request Timeout\r\n") == c->raw_in);
    CHECK(strstr(c->raw_in, "Connection: close\r\n"));
    CHECK_INT(T.calls, 0);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_idle_timeout)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.http1_idle_timeout_ms = 50;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Echo", "x", NULL);
    CHECK(run_until_answers(&f, c, 1));
    CHECK_INT(c->eof, 0);
    CHECK(run_until(&f, &c->eof, 1)); /* closed after 50 ms with nothing to do */
    CHECK_INT(count_of(c->raw_in, "HTTP/1.1 "), 1);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_disconnect_cancels)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Never", "x", NULL);
    CHECK(run_until(&f, &T.calls, 1));
    client_close(c);
    CHECK(run_until(&f, &T.cancels, 1));
    CHECK_INT(T.cancelled_flag, 1);
    CHECK(fixture_done(&f));
}

TEST(h1_connect_deadline)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Never", "x", "Connect-Timeout-Ms: 30\r\n");
    CHECK(run_until_answers(&f, c, 1));
    CHECK(strstr(c->raw_in, "HTTP/1.1 504 Gateway Timeout\r\n") == c->raw_in);
    CHECK(strstr(c->raw_in, "{\"code\":\"deadline_exceeded\"}")); /* no encoder: the code */
    CHECK(run_until(&f, &T.cancels, 1));
    /* The connection serves the next request. */
    h1_post(c, "/t/Echo", "next", NULL);
    CHECK(run_until_answers(&f, c, 2));
    CHECK(strstr(c->raw_in, "\r\n\r\nnext"));
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_stop_closes_idle_connection)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Echo", "x", NULL);
    CHECK(run_until_answers(&f, c, 1));
    hk_server_stop(T.server, 5000, on_stopped, NULL);
    CHECK(run_until(&f, &T.stopped, 1)); /* no grace needed: nothing in flight */
    CHECK(run_until(&f, &c->eof, 1));
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h2_connect_unframed)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.connect_error = fake_json;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* The test client frames its body; for Connect those 5 bytes are simply
     * part of the message, and come back as they went. */
    cstream_t *st = client_call_ex(c, "/t/Echo", "abc", 3, NULL, 0, 0, "application/proto");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 200);
    CHECK_INT(st->grpc_status, -1); /* no trailers */
    CHECK_INT(st->resp_len, 8);
    CHECK(memcmp(st->resp + 5, "abc", 3) == 0);
    cstream_t *bad = client_call_ex(c, "/t/Fail", "", 0, NULL, 0, 0, "application/json");
    CHECK(run_until(&f, &bad->closed, 1));
    CHECK_INT(bad->http_status, 400);
    CHECK(bad->resp_len > 17 && memcmp(bad->resp, "invalid_argument|", 17) == 0);
    client_close(c);
    cstream_free(st);
    cstream_free(bad);
    CHECK(fixture_done(&f));
}
