/* h2client.c -- a raw HTTP/2 gRPC client on a libuv loop, for driving the transport in unit tests
 */
#include "h2client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/list.h"
#include "transport/grpc.h"

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
} cwrite_t;

static void client_on_write(uv_write_t *req, int status)
{
    (void)status;
    cwrite_t *w = hk_container_of(req, cwrite_t, req);
    free(w->buf.base);
    free(w);
}

void client_write(client_t *c, const void *data, size_t len)
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
    client_t *c = hk_container_of((uv_pipe_t *)s, client_t, pipe);
    if (nread < 0) {
        c->eof = 1;
        uv_read_stop(s);
    } else if (nread > 0 && c->session) {
        nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)nread);
        client_flush(c);
    } else if (nread > 0) {
        size_t room = sizeof c->raw_in - 1 - c->raw_len;
        size_t k = (size_t)nread < room ? (size_t)nread : room;
        memcpy(c->raw_in + c->raw_len, buf->base, k);
        c->raw_len += k;
        c->raw_in[c->raw_len] = '\0';
    }
    free(buf->base);
}

static void client_on_connect(uv_connect_t *req, int status)
{
    client_t *c = hk_container_of(req, client_t, connect);
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
        snprintf(c->goaway_debug, sizeof c->goaway_debug, "%.*s",
                 (int)frame->goaway.opaque_data_len, (const char *)frame->goaway.opaque_data);
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

client_t *client_new(uv_loop_t *loop, const char *path, int raw)
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
    free(hk_container_of((uv_pipe_t *)h, client_t, pipe));
}

void client_close(client_t *c)
{
    c->closed = 1;
    if (c->session) nghttp2_session_del(c->session);
    c->session = NULL;
    uv_close((uv_handle_t *)&c->pipe, client_free_cb);
}

void cstream_free(cstream_t *st)
{
    if (!st) return;
    free(st->body);
    free(st->resp);
    free(st);
}

cstream_t *client_call_ex(client_t *c, const char *path, const void *msg, size_t len,
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

cstream_t *client_call(client_t *c, const char *path, const void *msg, size_t len,
                       const char *timeout)
{
    return client_call_ex(c, path, msg, len, timeout, 0, 0, "application/grpc");
}

void client_reset(client_t *c, cstream_t *st)
{
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    client_flush(c);
}

void client_read_stop(client_t *c)
{
    uv_read_stop((uv_stream_t *)&c->pipe);
}

void client_read_start(client_t *c)
{
    uv_read_start((uv_stream_t *)&c->pipe, client_alloc, client_on_read);
}

int resp_is(const cstream_t *st, const void *msg, size_t len)
{
    return st->resp_len == 5 + len && st->resp[0] == 0 && st->resp[4] == (uint8_t)len &&
           memcmp(st->resp + 5, msg, len) == 0;
}
