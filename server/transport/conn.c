/* conn.c -- one client connection: a uv pipe carrying one nghttp2 server session */
#define _GNU_SOURCE /* struct ucred */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/log.h"
#include "core/status.h"
#include "transport/conn.h"
#include "transport/h1conn.h"
#include "transport/peer.h"

/* Write backpressure. Above HIGH bytes queued to the socket we stop taking
 * frames from nghttp2 and stop reading: a client that does not read its
 * answers cannot make us buffer without bound. Below LOW we read again. */
#define CONN_WRITE_HIGH (1u << 20)
#define CONN_WRITE_LOW (256u << 10)
/* nghttp2's frames are gathered into writes of about this size. */
#define CONN_WRITE_CHUNK (64u << 10)

/* Flow-control windows. The stream window lets a 1 MiB request arrive
 * without waiting for WINDOW_UPDATE round trips; the connection window lets
 * several such streams progress at once. Windows do not bound our memory
 * (nghttp2 reopens them as we consume, and we consume at once): the message
 * limit times the stream limit does. */
#define CONN_STREAM_WINDOW (1 << 20)
#define CONN_CONN_WINDOW (8 << 20)

/* CONTINUATION frames allowed after a HEADERS frame (nghttp2's default,
 * stated here because it is what bounds a header flood's decoding work). */
#define CONN_MAX_CONTINUATIONS 8

/* One read buffer for every connection: the loop is single-threaded and a
 * read is consumed (nghttp2 copies what it keeps) before the next one. */
static char read_buf[64 << 10];

typedef struct {
    uv_write_t req;
    hk_conn_t *conn;
    size_t len;
    uint8_t data[];
} conn_write_t;

static void conn_close(hk_conn_t *conn);
static void conn_pump(hk_conn_t *conn);
static int conn_session_new(hk_conn_t *conn);
static void conn_close_later(hk_conn_t *conn);

/* Every HTTP/2 connection opens with these bytes; anything else is HTTP/1.x. */
static const uint8_t h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof h2_preface - 1)

static hk_call_t *stream_call(nghttp2_session *session, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(session, stream_id);
}

/* --- nghttp2 callbacks ---------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    hk_conn_t *conn = user_data;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    hk_call_t *call = hk_call_new(conn, frame->hd.stream_id);
    /* Out of memory: nghttp2 resets this stream; the connection lives on. */
    if (!call) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
    hk_conn_streams_changed(conn);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    hk_call_t *call = stream_call(session, frame->hd.stream_id);

    (void)flags;
    (void)user_data;
    if (!call || frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        hk_call_on_header(call, name, namelen, value, valuelen);
    } else {
        /* Request trailers: nothing in them matters to us, but they count. */
        call->header_bytes += namelen + valuelen + 32;
    }
    /* Far past the limit the client ignores our SETTINGS: stop decoding
     * its headers at all (nghttp2 resets the stream). Up to there, the call
     * answers RESOURCE_EXHAUSTED when the headers end. */
    if (call->header_bytes > 2 * (size_t)HK_CONN_HEADER_LIST_MAX)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    hk_call_t *call;

    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (!(call = stream_call(session, frame->hd.stream_id))) break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            hk_conn_first_request(user_data);
            hk_call_on_headers_end(call);
        }
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) hk_call_on_request_end(call);
        break;
    case NGHTTP2_DATA:
        if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) break;
        if ((call = stream_call(session, frame->hd.stream_id))) hk_call_on_request_end(call);
        break;
    default: break;
    }
    return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                              const uint8_t *data, size_t len, void *user_data)
{
    hk_call_t *call = stream_call(session, stream_id);

    (void)flags;
    (void)user_data;
    if (call) hk_call_on_data(call, data, len);
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    hk_call_t *call;

    (void)user_data;
    if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (call = stream_call(session, frame->hd.stream_id)))
        hk_call_on_answer_sent(call);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    hk_call_t *call = stream_call(session, stream_id);

    (void)error_code;
    if (call) hk_call_detach(call);
    hk_conn_streams_changed(user_data);
    return 0;
}

static int on_invalid_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                                 int lib_error_code, void *user_data)
{
    hk_conn_t *conn = user_data;

    (void)session;
    hk_log(HK_LOG_DEBUG, "conn_invalid_frame", "pid=%d type=%u stream=%d error=\"%s\"",
           (int)conn->peer.pid, (unsigned)frame->hd.type, (int)frame->hd.stream_id,
           nghttp2_strerror(lib_error_code));
    return 0;
}

/* --- writing --------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    conn_write_t *w = hk_container_of(req, conn_write_t, req);
    hk_conn_t *conn = w->conn;

    conn->write_queued -= w->len;
    free(w);
    if (conn->closing) return;
    if (status < 0) {
        hk_log(HK_LOG_DEBUG, "conn_write_failed", "pid=%d error=%s", (int)conn->peer.pid,
               uv_err_name(status));
        conn_close(conn);
        return;
    }
    conn_pump(conn);
}

static void conn_write(hk_conn_t *conn, conn_write_t *w)
{
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);

    w->conn = conn;
    if (w->len == 0 || uv_write(&w->req, (uv_stream_t *)&conn->pipe, &buf, 1, on_write) != 0) {
        if (w->len) conn->broken = 1;
        free(w);
        return;
    }
    conn->write_queued += w->len;
}

/* Sends len bytes: when nothing is queued before them, what the socket
 * takes at once goes straight from data (an answer of a few hundred bytes
 * needs no allocation and no write callback); the rest is queued as a copy. */
static void conn_send(hk_conn_t *conn, const uint8_t *data, size_t len)
{
    if (len == 0) return;
    conn->server->n_writes++;
    if (conn->write_queued == 0 && !conn->shutting) {
        uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&conn->pipe, &buf, 1);
        if (n < 0 && n != UV_EAGAIN) {
            conn->broken = 1;
            return;
        }
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
        if (len == 0) return;
    }
    conn_write_t *w = malloc(sizeof *w + len);
    if (!w) {
        conn->broken = 1;
        return;
    }
    memcpy(w->data, data, len);
    w->len = len;
    conn_write(conn, w);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);

/* Bytes a lingering close reads and drops at most (nginx reads for up to
 * lingering_time; here the linger timer bounds the time, this the work). */
#define CONN_DRAIN_MAX (64u << 20)

static void on_drain(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    hk_conn_t *conn = hk_container_of((uv_pipe_t *)stream, hk_conn_t, pipe);
    (void)buf;
    if (nread < 0 || (conn->drained += (size_t)nread) > CONN_DRAIN_MAX) conn_close(conn);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    hk_conn_t *conn = hk_container_of(req, hk_conn_t, shutdown);
    /* Our answer and FIN are out: a lingering close reads on until the
     * client's EOF (or the timer) so that the bytes it still sends do not
     * turn the close into a reset. */
    if (status == 0 && conn->linger && !conn->closing &&
        uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_drain) == 0) {
        conn->reading = 1;
        hk_conn_linger_start(conn);
        return;
    }
    conn_close(conn);
}

void hk_conn_linger_close(hk_conn_t *conn)
{
    conn->linger = 1;
    conn_close_later(conn);
}

/* Ends the connection once what is queued is written. Safe from anywhere:
 * the close itself happens in a later callback. */
static void conn_close_later(hk_conn_t *conn)
{
    if (conn->shutting || conn->closing) return;
    if (conn->reading) uv_read_stop((uv_stream_t *)&conn->pipe);
    conn->reading = 0;
    if (uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->pipe, on_shutdown) == 0)
        conn->shutting = 1;
    else
        conn->broken = 1; /* the next read or write callback closes it */
}

void hk_conn_flush(hk_conn_t *conn)
{
    /* nghttp2's frames are gathered here; conn_send copies what the socket
     * does not take at once. On the stack, not static: a callback inside
     * mem_send may answer a call of another connection, and flush that. */
    uint8_t send_buf[CONN_WRITE_CHUNK];
    size_t len = 0;

    if (conn->closing || conn->in_session || conn->broken || conn->failed ||
        conn->proto != HK_CONN_H2)
        return;
    /* Callbacks run inside mem_send (a stream closes, a handler's cancel
     * callback answers another call): they must not re-enter this loop,
     * which picks their frames up anyway. */
    conn->in_session = 1;
    while (conn->write_queued + len < CONN_WRITE_HIGH) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);
        if (n < 0) {
            hk_log(HK_LOG_WARN, "conn_send_failed", "pid=%d error=\"%s\"", (int)conn->peer.pid,
                   nghttp2_strerror((int)n));
            conn->broken = 1;
            break;
        }
        if (n == 0) break;
        conn->h2_sent = 1;
        if (len + (size_t)n > sizeof send_buf) {
            conn_send(conn, send_buf, len);
            len = 0;
            if (conn->broken) break;
        }
        if ((size_t)n > sizeof send_buf) {
            conn_send(conn, data, (size_t)n);
            if (conn->broken) break;
            continue;
        }
        memcpy(send_buf + len, data, (size_t)n);
        len += (size_t)n;
    }
    conn->in_session = 0;
    if (!conn->broken) conn_send(conn, send_buf, len);
    if (conn->broken) {
        conn_close_later(conn);
        return;
    }
    /* A write that went out at once has no callback to notice the end of
     * the session (GOAWAY sent and the last stream closed): notice it here. */
    if (!conn->shutting && !nghttp2_session_want_read(conn->session) &&
        !nghttp2_session_want_write(conn->session))
        conn_close_later(conn);
}

void hk_conn_flush_soon(hk_conn_t *conn)
{
    if (conn->closing || conn->flush_queued) return;
    conn->flush_queued = 1;
    hk_link_add(&conn->server->flushes, &conn->flush_link);
}

/* --- reading --------------------------------------------------------------- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

/* Until the first bytes decide, a connection is neither HTTP/2 nor
 * HTTP/1.x: bytes that match the HTTP/2 preface so far are held back (they
 * are the preface's own, so nothing is buffered). Returns 1 when the bytes
 * left in *data and *len go to the new HTTP/2 session (which has had the
 * preface), 0 when they were dealt with here. */
static int conn_sniff(hk_conn_t *conn, const uint8_t **data, size_t *len)
{
    size_t i = 0, k = conn->preface_have;

    if (conn->proto == HK_CONN_H1) {
        hk_h1conn_read(conn, *data, *len);
        return 0;
    }
    while (i < *len && k < H2_PREFACE_LEN && (*data)[i] == h2_preface[k]) {
        i++;
        k++;
    }
    if (k < H2_PREFACE_LEN && i == *len) {
        conn->preface_have = k;
        return 0;
    }
    if (k < H2_PREFACE_LEN) {
        conn->proto = HK_CONN_H1;
        if (hk_h1conn_start(conn) != 0) {
            conn_close(conn);
            return 0;
        }
        if (conn->preface_have) hk_h1conn_read(conn, h2_preface, conn->preface_have);
        hk_h1conn_read(conn, *data, *len);
        return 0;
    }
    conn->proto = HK_CONN_H2;
    if (conn_session_new(conn) != 0) {
        conn_close(conn);
        return 0;
    }
    conn->in_session = 1;
    ssize_t rv = nghttp2_session_mem_recv(conn->session, h2_preface, H2_PREFACE_LEN);
    conn->in_session = 0;
    if (rv < 0) {
        conn_close(conn);
        return 0;
    }
    *data += i;
    *len -= i;
    return 1;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    hk_conn_t *conn = hk_container_of((uv_pipe_t *)stream, hk_conn_t, pipe);

    if (nread == 0) return;
    if (nread < 0) {
        if (nread != UV_EOF)
            hk_log(HK_LOG_DEBUG, "conn_read_failed", "pid=%d error=%s", (int)conn->peer.pid,
                   uv_err_name((int)nread));
        conn_close(conn);
        return;
    }
    const uint8_t *data = (const uint8_t *)buf->base;
    size_t len = (size_t)nread;
    if (conn->proto != HK_CONN_H2 && !conn_sniff(conn, &data, &len)) return;
    conn->in_session = 1;
    ssize_t rv = nghttp2_session_mem_recv(conn->session, data, len);
    conn->in_session = 0;
    if (rv < 0) {
        /* A fatal session error (a flood, too many CONTINUATIONs): this
         * client is done, told so with a GOAWAY; every other connection
         * goes on. */
        hk_conn_fail(conn, (int)rv);
        return;
    }
    conn_pump(conn);
}

/* After every read and write: send what is pending, apply backpressure, and
 * end the connection when the session is over. Only from the connection's
 * own loop callbacks (it may close the connection). */
static void conn_pump(hk_conn_t *conn)
{
    if (conn->proto != HK_CONN_H2) {
        if (conn->closing || conn->shutting) return;
        if (conn->broken)
            conn_close(conn);
        else if (conn->proto == HK_CONN_H1)
            hk_h1conn_pump(conn);
        return;
    }
    hk_conn_flush(conn);
    if (conn->closing || conn->shutting) return;
    if (conn->broken) {
        conn_close(conn);
        return;
    }
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session)) {
        conn_close_later(conn);
        return;
    }
    if (conn->reading && conn->write_queued >= CONN_WRITE_HIGH) {
        uv_read_stop((uv_stream_t *)&conn->pipe);
        conn->reading = 0;
    } else if (!conn->reading && conn->write_queued <= CONN_WRITE_LOW) {
        if (uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read) == 0) conn->reading = 1;
    }
}

/* --- lifetime -------------------------------------------------------------- */

/* The pipe and the timer close together; the last one frees conn. */
static void conn_closed_one(hk_conn_t *conn)
{
    if (--conn->closes_left > 0) return;
    hk_log(HK_LOG_DEBUG, "conn_closed", "pid=%d", (int)conn->peer.pid);
    hk_server_conn_gone(conn->server, conn);
    free(conn);
}

static void on_conn_closed(uv_handle_t *handle)
{
    conn_closed_one(hk_container_of((uv_pipe_t *)handle, hk_conn_t, pipe));
}

static void on_conn_timer_closed(uv_handle_t *handle)
{
    conn_closed_one(hk_container_of((uv_timer_t *)handle, hk_conn_t, timer));
}

static void on_rejected_closed(uv_handle_t *handle)
{
    free(hk_container_of((uv_pipe_t *)handle, hk_conn_t, pipe));
}

/* Closes at once: every call still on the connection is detached (handlers
 * get their cancel callbacks), queued writes are dropped. */
static void conn_close(hk_conn_t *conn)
{
    if (conn->closing) return;
    conn->closing = 1;
    if (conn->flush_queued) {
        hk_link_del(&conn->flush_link);
        conn->flush_queued = 0;
    }
    if (conn->reading) uv_read_stop((uv_stream_t *)&conn->pipe);
    conn->reading = 0;
    /* nghttp2_session_del does not report stream closes: do it ourselves. */
    while (!hk_link_empty(&conn->calls))
        hk_call_detach(hk_container_of(conn->calls.next, hk_call_t, link));
    nghttp2_session_del(conn->session);
    conn->session = NULL;
    hk_h1conn_close(conn);
    conn->closes_left = 2;
    uv_close((uv_handle_t *)&conn->timer, on_conn_timer_closed);
    uv_close((uv_handle_t *)&conn->pipe, on_conn_closed);
}

static int conn_session_new(hk_conn_t *conn)
{
    const hk_server_opts_t *opts = &conn->server->opts;
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    int rv, err = HK_ENOMEM;

    if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0) goto out;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame_recv);

    /* The rapid-reset guard (CVE-2023-44487). nghttp2 spends one token per
     * RST_STREAM received and sends GOAWAY when none is left; its default
     * (burst 1000, 33/s) is sized for web servers. gRPC clients reset a
     * stream whenever their deadline fires or their caller cancels, and a
     * client may have max_streams calls in flight: so a client may cancel
     * every call in flight four times over in a burst, and a full window's
     * worth every second after that. Beyond it, it is flooding us (each
     * reset stream cost us a dispatch) and loses the connection. */
    uint64_t burst = 4 * (uint64_t)opts->max_streams, rate = opts->max_streams;
    nghttp2_option_set_stream_reset_rate_limit(opt, burst < 1000 ? 1000 : burst,
                                               rate < 33 ? 33 : rate);
    nghttp2_option_set_max_continuations(opt, CONN_MAX_CONTINUATIONS);
    /* Closed streams are kept only for the RFC 7540 priority tree, which
     * gRPC does not use. */
    nghttp2_option_set_no_closed_streams(opt, 1);

    if (nghttp2_session_server_new2(&conn->session, cbs, conn, opt) != 0) goto out;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, opts->max_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, HK_CONN_HEADER_LIST_MAX},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, CONN_STREAM_WINDOW},
    };
    rv = nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings,
                                 sizeof settings / sizeof settings[0]);
    if (rv == 0)
        rv = nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                                   CONN_CONN_WINDOW);
    if (rv != 0) {
        nghttp2_session_del(conn->session);
        conn->session = NULL;
        goto out;
    }
    err = 0;
out:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    return err;
}

int hk_conn_accept(hk_server_t *server)
{
    hk_conn_t *conn = calloc(1, sizeof *conn);
    struct ucred cred;
    socklen_t credlen = sizeof cred;
    uv_os_fd_t fd;
    int err;

    if (!conn) return HK_ENOMEM;
    conn->server = server;
    hk_link_init(&conn->link);
    hk_link_init(&conn->calls);
    hk_link_init(&conn->flush_link);
    if (server->tcp)
        uv_tcp_init(server->loop, &conn->tcp);
    else
        uv_pipe_init(server->loop, &conn->pipe, 0);
    if (uv_accept((uv_stream_t *)&server->listener, (uv_stream_t *)&conn->pipe) != 0) {
        err = HK_EIO;
        goto reject;
    }
    if (server->tcp) {
        /* A browser: who it is, the server's on_request decides. */
        cred.pid = 0;
        cred.uid = (uid_t)-1;
        cred.gid = (gid_t)-1;
    } else if (uv_fileno((uv_handle_t *)&conn->pipe, &fd) != 0 ||
               getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0) {
        hk_log(HK_LOG_WARN, "conn_refused", "reason=\"no peer credentials\"");
        err = HK_EIO;
        goto reject;
    }
    conn->peer.pid = cred.pid;
    conn->peer.uid = cred.uid;
    conn->peer.gid = cred.gid;
    if (!server->tcp) hk_peer_read_groups(fd, &conn->peer);
    char why[200];
    if ((err = hk_conn_admit(server, &conn->peer, why, sizeof why)) != 0) {
        hk_conn_refuse(conn, why);
        goto reject;
    }
    /* The session (HTTP/2) or parser (HTTP/1.x) comes with the first bytes;
     * a TCP listener speaks HTTP/1.1 only. */
    hk_conn_timer_init(conn);

    hk_link_add(&server->conns, &conn->link);
    server->n_conns++;
    hk_log(HK_LOG_DEBUG, "conn_open", "pid=%d uid=%u gid=%u", (int)cred.pid, (unsigned)cred.uid,
           (unsigned)cred.gid);
    if (server->tcp && hk_h1conn_start(conn) == 0) conn->proto = HK_CONN_H1;
    if (server->tcp && conn->proto != HK_CONN_H1)
        conn->broken = 1;
    else if (uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read) == 0)
        conn->reading = 1;
    else
        conn->broken = 1;
    if (conn->broken) conn_close_later(conn);
    return 0;

reject:
    uv_close((uv_handle_t *)&conn->pipe, on_rejected_closed);
    return err;
}

void hk_conn_goaway(hk_conn_t *conn)
{
    if (conn->closing || conn->shutting || conn->failed) return;
    if (conn->proto == HK_CONN_H1) {
        hk_h1conn_goaway(conn);
        return;
    }
    if (conn->proto == HK_CONN_UNDECIDED) {
        conn_close_later(conn);
        return;
    }
    /* Streams the client already opened are served; later ones are refused
     * and the client knows to retry them elsewhere. The connection ends by
     * itself (conn_pump) once its last stream has. */
    nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(conn->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
    hk_conn_flush(conn);
}

void hk_conn_abort(hk_conn_t *conn, int status, const char *message)
{
    if (conn->closing) return;
    for (hk_link_t *l = conn->calls.next; l != &conn->calls; l = l->next) {
        hk_call_t *call = hk_container_of(l, hk_call_t, link);
        hk_call_answer_status(call, 200, status, message);
        hk_call_cancel(call);
    }
    /* What fits in the socket now reaches the client; the rest is dropped. */
    hk_conn_flush(conn);
    conn_close(conn);
}

/* --- for h1conn.c ----------------------------------------------------------- */

void hk_conn_send(hk_conn_t *conn, const uint8_t *data, size_t len)
{
    conn_send(conn, data, len);
}

void hk_conn_close(hk_conn_t *conn)
{
    conn_close(conn);
}

void hk_conn_close_later(hk_conn_t *conn)
{
    conn_close_later(conn);
}

void hk_conn_read_start(hk_conn_t *conn)
{
    if (!conn->reading && uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read) == 0)
        conn->reading = 1;
}

void hk_conn_read_stop(hk_conn_t *conn)
{
    if (conn->reading) uv_read_stop((uv_stream_t *)&conn->pipe);
    conn->reading = 0;
}
