/* conn.c -- one HTTP/2 connection to hookd: a Unix socket and an nghttp2 client session */
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client_int.h"

/* nghttp2 1.60 added the nghttp2_ssize API and deprecated the ssize_t one. */
#if NGHTTP2_VERSION_NUM >= 0x013c00
typedef nghttp2_ssize h2_ssize;
typedef nghttp2_data_provider2 h2_data_provider;
#define h2_mem_send nghttp2_session_mem_send2
#define h2_mem_recv nghttp2_session_mem_recv2
#define h2_submit_request nghttp2_submit_request2
#else
typedef ssize_t h2_ssize;
typedef nghttp2_data_provider h2_data_provider;
#define h2_mem_send nghttp2_session_mem_send
#define h2_mem_recv nghttp2_session_mem_recv
#define h2_submit_request nghttp2_submit_request
#endif

#define READ_CHUNK 16384
#define STREAM_WINDOW (1 << 20) /* per stream: a large answer needs few WINDOW_UPDATEs */
#define CONNECTION_WINDOW (16 << 20)

static void conn_fail(hkc_conn_t *conn, const char *fmt, const char *detail)
{
    if (conn->failed) return;
    conn->failed = 1;
    snprintf(conn->error, sizeof conn->error, fmt, detail);
}

static hk_client_call_t *stream_call(nghttp2_session *session, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(session, stream_id);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    (void)flags, (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    hk_client_call_t *call = stream_call(session, frame->hd.stream_id);
    if (call) hkc_call_on_header(call, name, namelen, value, valuelen);
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    (void)flags;
    hk_client_call_t *call = stream_call(session, stream_id);
    if (call && hkc_call_on_data(call, data, len) != 0) hkc_conn_detach(user_data, stream_id, 1);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    hkc_conn_t *conn = user_data;
    hk_client_call_t *call = stream_call(session, stream_id);
    if (!call) return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    conn->streams--;
    call->conn = NULL;
    hkc_call_on_close(call, error_code);
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)session;
    hkc_conn_t *conn = user_data;
    if (frame->hd.type == NGHTTP2_GOAWAY) conn->draining = 1;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
        conn->settings_seen = 1;
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    hk_client_call_t *call = stream_call(session, frame->hd.stream_id);
    if (call) call->headers_sent = 1;
    return 0;
}

/* A request that could not even start (GOAWAY came first) never reached hookd:
 * it is safe to send again elsewhere. */
static int on_frame_not_send(nghttp2_session *session, const nghttp2_frame *frame, int error,
                             void *user_data)
{
    (void)error, (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    hk_client_call_t *call = stream_call(session, frame->hd.stream_id);
    if (call) call->refused = 1;
    return 0;
}

static h2_ssize read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                          uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)source, (void)user_data;
    hk_client_call_t *call = stream_call(session, stream_id);
    if (!call) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* detached: resets the stream */
    size_t left = call->body_len - call->body_off;
    size_t n = left < length ? left : length;
    memcpy(buf, call->body + call->body_off, n);
    call->body_off += n;
    if (call->body_off == call->body_len) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (h2_ssize)n;
}

static int socket_connect(const char *path, int64_t deadline, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* A Unix connect blocks only while hookd's backlog is full: bound it by
     * the deadline, then run non-blocking. */
    if (deadline) {
        int64_t left = deadline - hkc_clock_ms();
        if (left < 1) left = 1;
        struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    int rc;
    do
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        snprintf(err, errlen, "cannot connect to hookd at %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    struct timeval none = {0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int session_new(hkc_conn_t *conn)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_session *session = NULL;
    int rv = nghttp2_session_callbacks_new(&cbs);
    if (rv != 0) return -1;
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
    rv = nghttp2_session_client_new(&session, cbs, conn);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) return -1;

    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
    };
    if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings,
                                sizeof settings / sizeof settings[0]) != 0 ||
        nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, CONNECTION_WINDOW) !=
            0) {
        nghttp2_session_del(session);
        return -1;
    }
    conn->session = session;
    return 0;
}

int hkc_conn_open(hk_client_t *client, const char *path, int64_t deadline, hkc_conn_t **out,
                  char *err, size_t errlen)
{
    hkc_conn_t *conn = calloc(1, sizeof *conn);
    if (!conn) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    conn->client = client;
    conn->fd = socket_connect(path, deadline, err, errlen);
    if (conn->fd < 0) {
        free(conn);
        return -1;
    }
    if (session_new(conn) != 0) {
        snprintf(err, errlen, "cannot start an HTTP/2 session (out of memory)");
        close(conn->fd);
        free(conn);
        return -1;
    }
    *out = conn;
    return 0;
}

void hkc_conn_free(hkc_conn_t *conn)
{
    if (!conn) return;
    nghttp2_session_del(conn->session);
    close(conn->fd);
    free(conn->out);
    free(conn);
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

int32_t hkc_conn_submit(hkc_conn_t *conn, hk_client_call_t *call, const char *grpc_timeout)
{
    if (conn->draining || conn->failed) return -1;
    nghttp2_nv nva[] = {
        NV(":method", "POST"),
        NV(":scheme", "http"),
        NV(":path", call->path),
        NV(":authority", "localhost"),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
        NV("user-agent", "libhookd/" HK_VERSION),
        NV("grpc-timeout", grpc_timeout ? grpc_timeout : ""),
    };
    size_t n = sizeof nva / sizeof nva[0] - (grpc_timeout ? 0 : 1);
    h2_data_provider body = {.read_callback = read_body};
    int32_t id = h2_submit_request(conn->session, NULL, nva, n, &body, call);
    if (id < 0) {
        /* Stream ids used up, or the session is closing: this connection is done. */
        conn->draining = 1;
        return -1;
    }
    conn->streams++;
    return id;
}

void hkc_conn_detach(hkc_conn_t *conn, int32_t stream_id, int reset)
{
    if (!nghttp2_session_get_stream_user_data(conn->session, stream_id)) return;
    nghttp2_session_set_stream_user_data(conn->session, stream_id, NULL);
    conn->streams--;
    if (reset)
        nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
}

/* Sends as much of data as the socket takes; returns the count or -1. */
static ssize_t send_some(hkc_conn_t *conn, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(conn->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            int e = n < 0 ? errno : 0;
            /* A peer that said GOAWAY and closed may be gone before we read it: hear
             * what it sent first, so calls it never processed are retried, not failed. */
            if (e == EPIPE || e == ECONNRESET) hkc_conn_read(conn);
            conn_fail(conn, "connection to hookd lost: %s", e ? strerror(e) : "send");
            return -1;
        }
    }
    return (ssize_t)off;
}

static int keep_rest(hkc_conn_t *conn, const uint8_t *data, size_t len)
{
    if (len > conn->out_cap) {
        uint8_t *p = realloc(conn->out, len);
        if (!p) {
            conn_fail(conn, "%s", "out of memory");
            return -1;
        }
        conn->out = p;
        conn->out_cap = len;
    }
    memmove(conn->out, data, len);
    conn->out_len = len;
    return 0;
}

int hkc_conn_flush(hkc_conn_t *conn)
{
    if (conn->failed) return -1;
    for (;;) {
        if (conn->out_len) {
            ssize_t n = send_some(conn, conn->out, conn->out_len);
            if (n < 0) return -1;
            if ((size_t)n < conn->out_len)
                return keep_rest(conn, conn->out + n, conn->out_len - (size_t)n);
            conn->out_len = 0;
        }
        const uint8_t *data;
        h2_ssize len = h2_mem_send(conn->session, &data);
        if (len < 0) {
            conn_fail(conn, "HTTP/2 session error: %s", nghttp2_strerror((int)len));
            return -1;
        }
        if (len == 0) return 0;
        ssize_t n = send_some(conn, data, (size_t)len);
        if (n < 0) return -1;
        if (n < len) return keep_rest(conn, data + n, (size_t)(len - n));
    }
}

int hkc_conn_read(hkc_conn_t *conn)
{
    uint8_t buf[READ_CHUNK];
    if (conn->failed) return -1;
    for (;;) {
        ssize_t n = recv(conn->fd, buf, sizeof buf, 0);
        if (n > 0) {
            h2_ssize rv = h2_mem_recv(conn->session, buf, (size_t)n);
            if (rv < 0) {
                conn_fail(conn, "HTTP/2 protocol error from hookd: %s", nghttp2_strerror((int)rv));
                return -1;
            }
        } else if (n == 0) {
            conn_fail(conn, "%s", "hookd closed the connection");
            return -1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        } else {
            conn_fail(conn, "connection to hookd lost: %s", strerror(errno));
            return -1;
        }
    }
}

int hkc_conn_alive(const hkc_conn_t *conn)
{
    return !conn->failed && (nghttp2_session_want_read(conn->session) ||
                             nghttp2_session_want_write(conn->session) || conn->out_len);
}

int hkc_conn_want_write(const hkc_conn_t *conn)
{
    return conn->out_len > 0 || nghttp2_session_want_write(conn->session);
}
