/* limits.c -- what one client may hold: admission at accept, the connection's timers, GOAWAYs */
#define _GNU_SOURCE /* MSG_NOSIGNAL, MSG_DONTWAIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/log.h"
#include "core/status.h"
#include "transport/conn.h"
#include "transport/h1conn.h"
#include "transport/http1.h"

/* After a drop, how long the GOAWAY (or 408) may take to reach a client
 * before the connection is closed anyway: one that does not read cannot
 * keep it open by leaving our last write pending. */
#define LIMITS_LINGER_MS 2000u
/* GOAWAY debug data: the reason, cut. */
#define LIMITS_DEBUG_MAX 200u

/* --- admission --------------------------------------------------------------- */

static int privileged(hk_server_t *server, const hk_peer_t *peer)
{
    const hk_server_opts_t *o = &server->opts;
    return o->privileged ? o->privileged(o->ctx, peer) != 0 : 0;
}

int hk_conn_admit(hk_server_t *server, const hk_peer_t *peer, char *why, size_t n)
{
    const hk_server_opts_t *o = &server->opts;
    int priv = -1; /* asked only when a limit for the others is reached */

    if (o->max_connections && server->n_conns >= o->max_connections) {
        snprintf(why, n, "too many connections (max_connections %u)", (unsigned)o->max_connections);
        return HK_EBUSY;
    }
    if (o->max_connections && o->admin_reserve &&
        server->n_conns + o->admin_reserve >= o->max_connections) {
        if (!(priv = privileged(server, peer))) {
            snprintf(why, n, "the last %u of %u connections are kept for admins",
                     (unsigned)o->admin_reserve, (unsigned)o->max_connections);
            return HK_EBUSY;
        }
    }
    if (o->max_connections_per_uid) {
        uint64_t same = 0;
        /* A walk of at most max_connections: cheaper than keeping a map. */
        for (hk_link_t *l = server->conns.next; l != &server->conns; l = l->next)
            same += hk_container_of(l, hk_conn_t, link)->peer.uid == peer->uid;
        if (same >= o->max_connections_per_uid) {
            if (priv < 0) priv = privileged(server, peer);
            if (!priv) {
                snprintf(why, n, "uid %u already has %llu connections (max_connections_per_uid %u)",
                         (unsigned)peer->uid, (unsigned long long)same,
                         (unsigned)o->max_connections_per_uid);
                return HK_EBUSY;
            }
        }
    }
    return 0;
}

/* --- raw frames ----------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An empty SETTINGS frame (the server's connection preface) when
 * with_settings, then GOAWAY(last, code, debug). Returns the length. */
static size_t goaway_frames(uint8_t *buf, int with_settings, int32_t last, uint32_t code,
                            const char *debug)
{
    size_t n = 0, dlen = debug ? strlen(debug) : 0;

    if (dlen > LIMITS_DEBUG_MAX) dlen = LIMITS_DEBUG_MAX;
    if (with_settings) {
        memset(buf, 0, 9);
        buf[3] = NGHTTP2_SETTINGS;
        n = 9;
    }
    uint32_t len = 8 + (uint32_t)dlen;
    buf[n] = (uint8_t)(len >> 16);
    buf[n + 1] = (uint8_t)(len >> 8);
    buf[n + 2] = (uint8_t)len;
    buf[n + 3] = NGHTTP2_GOAWAY;
    buf[n + 4] = 0;
    put32(buf + n + 5, 0); /* stream 0 */
    put32(buf + n + 9, (uint32_t)last & 0x7fffffffu);
    put32(buf + n + 13, code);
    if (dlen) memcpy(buf + n + 17, debug, dlen);
    return n + 17 + dlen;
}

void hk_conn_send_goaway(hk_conn_t *conn, int with_settings, uint32_t error_code, const char *debug)
{
    uint8_t buf[9 + 17 + LIMITS_DEBUG_MAX];
    int32_t last = conn->session ? nghttp2_session_get_last_proc_stream_id(conn->session) : 0;

    hk_conn_send(conn, buf, goaway_frames(buf, with_settings, last, error_code, debug));
}

void hk_conn_refuse(hk_conn_t *conn, const char *why)
{
    hk_server_t *server = conn->server;
    char q[256], peek[4];
    uv_os_fd_t fd;

    server->n_refused++;
    hk_log(HK_LOG_WARN, "conn_refused", "reason=%s pid=%d uid=%u", hk_log_quote(why, q, sizeof q),
           (int)conn->peer.pid, (unsigned)conn->peer.uid);
    if (uv_fileno((uv_handle_t *)&conn->pipe, &fd) != 0) return;
    /* Clients write first, usually before we accept: a request line that is
     * already there says HTTP/1.x; the HTTP/2 preface, or nothing yet, gets
     * a GOAWAY (gRPC clients report its text). One non-blocking write: what
     * the socket does not take at once is not worth holding the fd for. */
    ssize_t k = recv(fd, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
    if (k > 0 && memcmp(peek, "PRI ", (size_t)k) != 0) {
        char head[256], *body = NULL;
        size_t len = 0;
        if (hk_connect_error_body(server->opts.connect_error, HK_STATUS_UNAVAILABLE, why,
                                  HK_CONN_MESSAGE_MAX_TEXT, &body, &len) != 0)
            return;
        size_t n = hk_http1_response_head(head, sizeof head, 503, "application/json", len, 1, 1);
        uint8_t *out = n ? malloc(n + len) : NULL;
        if (out) {
            memcpy(out, head, n);
            memcpy(out + n, body, len);
            (void)!send(fd, out, n + len, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        free(out);
        free(body);
        return;
    }
    uint8_t buf[9 + 17 + LIMITS_DEBUG_MAX];
    size_t n = goaway_frames(buf, 1, 0, NGHTTP2_ENHANCE_YOUR_CALM, why);
    (void)!send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* --- the connection's timer --------------------------------------------------- */

static void conn_timer(hk_conn_t *conn, int what, uint64_t ms);

static void on_conn_timer(uv_timer_t *t)
{
    hk_conn_t *conn = hk_container_of(t, hk_conn_t, timer);
    int what = conn->timer_for;

    conn->timer_for = HK_CONN_TIMER_NONE;
    switch (what) {
    case HK_CONN_TIMER_FIRST: hk_conn_drop(conn, "no request within the header timeout"); break;
    case HK_CONN_TIMER_IDLE: hk_conn_drop(conn, "idle timeout"); break;
    case HK_CONN_TIMER_LINGER: hk_conn_close(conn); break;
    default: break;
    }
}

static void conn_timer(hk_conn_t *conn, int what, uint64_t ms)
{
    conn->timer_for = what;
    uv_timer_start(&conn->timer, on_conn_timer, ms, 0);
}

static void conn_timer_stop(hk_conn_t *conn)
{
    conn->timer_for = HK_CONN_TIMER_NONE;
    uv_timer_stop(&conn->timer);
}

void hk_conn_timer_init(hk_conn_t *conn)
{
    uv_timer_init(conn->server->loop, &conn->timer);
    conn_timer(conn, HK_CONN_TIMER_FIRST, conn->server->opts.header_timeout_ms);
}

void hk_conn_first_request(hk_conn_t *conn)
{
    if (conn->got_request) return;
    conn->got_request = 1;
    if (conn->timer_for == HK_CONN_TIMER_FIRST) conn_timer_stop(conn);
    hk_conn_streams_changed(conn);
}

void hk_conn_streams_changed(hk_conn_t *conn)
{
    if (conn->closing || conn->shutting || !conn->got_request || conn->proto != HK_CONN_H2) return;
    if (hk_link_empty(&conn->calls)) {
        if (conn->timer_for != HK_CONN_TIMER_IDLE)
            conn_timer(conn, HK_CONN_TIMER_IDLE, conn->server->opts.idle_timeout_ms);
    } else if (conn->timer_for == HK_CONN_TIMER_IDLE) {
        conn_timer_stop(conn);
    }
}

static void conn_linger(hk_conn_t *conn)
{
    if (!conn->closing) conn_timer(conn, HK_CONN_TIMER_LINGER, LIMITS_LINGER_MS);
}

void hk_conn_linger_start(hk_conn_t *conn)
{
    conn_linger(conn);
}

void hk_conn_drop(hk_conn_t *conn, const char *reason)
{
    static const char protos[][8] = {"none", "http2", "http1"};
    char q[160];

    if (conn->closing || conn->shutting) return;
    conn->server->n_dropped++;
    hk_log(HK_LOG_INFO, "conn_dropped", "reason=%s pid=%d uid=%u proto=%s",
           hk_log_quote(reason, q, sizeof q), (int)conn->peer.pid, (unsigned)conn->peer.uid,
           protos[conn->proto]);
    switch (conn->proto) {
    case HK_CONN_H2:
        /* Streams under way would be served; a drop happens with none. */
        nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(conn->session),
                              NGHTTP2_NO_ERROR, (const uint8_t *)reason, strlen(reason));
        hk_conn_flush(conn);
        hk_conn_close_later(conn);
        break;
    case HK_CONN_H1: hk_h1conn_expire(conn, reason); break;
    default:
        /* Silent, or part of the HTTP/2 preface: a client that speaks at all
         * here is almost always gRPC. */
        hk_conn_send_goaway(conn, 1, NGHTTP2_NO_ERROR, reason);
        hk_conn_close_later(conn);
        break;
    }
    conn_linger(conn);
}

void hk_conn_fail(hk_conn_t *conn, int rv)
{
    uint32_t code = NGHTTP2_PROTOCOL_ERROR;

    if (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
        code = NGHTTP2_ENHANCE_YOUR_CALM;
    else if (rv == NGHTTP2_ERR_NOMEM || rv == NGHTTP2_ERR_CALLBACK_FAILURE)
        code = NGHTTP2_INTERNAL_ERROR;
    hk_log(HK_LOG_WARN, "conn_protocol_error", "pid=%d uid=%u error=\"%s\"", (int)conn->peer.pid,
           (unsigned)conn->peer.uid, nghttp2_strerror(rv));
    /* The session may be mid-frame or flooded with frames to send: the
     * GOAWAY goes around it, after what was already written. */
    conn->failed = 1;
    hk_conn_send_goaway(conn, !conn->h2_sent, code, nghttp2_strerror(rv));
    hk_conn_close_later(conn);
    conn_linger(conn);
}
