/* conn.h -- the transport's private side: server, connection and call structures shared by its .c
 * files */
#ifndef HK_CONN_H
#define HK_CONN_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "transport/call.h"
#include "transport/connect.h"
#include "transport/grpc.h"
#include "transport/server.h"

#include "core/list.h"

/* Bounds on what one client can make us hold. */
#define HK_CONN_HEADER_LIST_MAX (16u << 10) /* per request, as HTTP/2 counts it (name+value+32) */
#define HK_CONN_MESSAGE_MAX_TEXT 1024       /* grpc-message bytes before percent-encoding */

typedef struct hk_conn hk_conn_t;
typedef struct hk_h1conn hk_h1conn_t;

/* What a connection speaks, told by its first bytes. */
enum { HK_CONN_UNDECIDED, HK_CONN_H2, HK_CONN_H1 };

struct hk_server {
    uv_loop_t *loop;
    union { /* one handle, either kind: libuv tells them apart by their type */
        uv_pipe_t listener;
        uv_tcp_t tcp_listener; /* opts.tcp_addr */
    };
    int tcp; /* a TCP listener: HTTP/1.1 only, no peer credentials */
    struct sockaddr_storage tcp_addr;
    uv_timer_t grace;      /* hk_server_stop's grace period */
    hk_server_opts_t opts; /* socket_path points at path below */
    char *path;
    dev_t sock_dev; /* the socket file we made, so stop unlinks only ours */
    ino_t sock_ino;
    hk_link_t conns;
    uint64_t n_conns; /* open or closing: counted until their uv_close callback */
    /* Connections with answers to send, flushed once per loop iteration:
     * answers given together (a group commit's) go out in one write per
     * connection. check runs after the iteration's callbacks; prepare, just
     * before the loop would sleep, catches answers given after check. */
    hk_link_t flushes;
    uv_check_t flush_check;
    uv_prepare_t flush_prepare;
    uint64_t n_calls, n_calls_total;
    uint64_t n_writes;
    int stopping;
    int pending_closes; /* listener, grace timer, flush handles: close callbacks to come */
    void (*done)(void *arg);
    void *done_arg;
    /* Hardening: request bytes charged by calls now (each conn's share in
     * conn->buffered), and counts for hk_server_stats. */
    size_t buffered, buffered_peak;
    uint64_t n_refused, n_dropped;
};

/* One accepted connection: a pipe and its HTTP/2 session. */
struct hk_conn {
    hk_server_t *server;
    union { /* as the server's listener */
        uv_pipe_t pipe;
        uv_tcp_t tcp;
    };
    hk_link_t link; /* in server->conns */
    nghttp2_session *session;
    hk_peer_t peer;
    hk_link_t calls;      /* calls whose stream is open */
    hk_link_t flush_link; /* in server->flushes while flush_queued */
    int flush_queued;
    size_t write_queued;    /* bytes handed to uv_write, not yet written */
    uv_shutdown_t shutdown; /* the graceful end: queued writes go out first */
    int reading;            /* uv_read_start is in effect */
    int in_session;         /* inside nghttp2_session_mem_recv/mem_send: no flushing now */
    int broken;             /* the session failed: close at the next chance */
    int shutting;           /* uv_shutdown pending */
    int closing;            /* conn_close ran: the session is gone, uv_close pending */
    int proto;              /* HK_CONN_*: the session exists once HK_CONN_H2 */
    size_t preface_have;    /* while undecided: bytes of the HTTP/2 preface matched */
    hk_h1conn_t *h1;        /* HK_CONN_H1: requests, timers (h1conn.c) */
    /* Hardening (limits.c): the first-request / idle / linger timer, the
     * request bytes this connection's calls hold, and session state. */
    uv_timer_t timer;
    int timer_for;   /* HK_CONN_TIMER_* */
    int got_request; /* the first request's headers arrived */
    int h2_sent;     /* bytes of the HTTP/2 session went out (our SETTINGS) */
    int failed;      /* the session returned a fatal error: never use it again */
    int closes_left; /* conn_close: the pipe and the timer */
    int linger;      /* after the graceful end, read (and drop) until the peer closes */
    size_t drained;  /* bytes dropped meanwhile */
    size_t buffered;
};

enum { HK_CONN_TIMER_NONE, HK_CONN_TIMER_FIRST, HK_CONN_TIMER_IDLE, HK_CONN_TIMER_LINGER };

/* One stream of a connection (or one HTTP/1.1 request) and the call it carries. Two owners keep it
 * alive: the stream (until nghttp2 closes it, or the connection goes) and
 * the handler (from dispatch until hk_call_reply/hk_call_fail). It is freed
 * when both have let go. */
struct hk_call {
    hk_conn_t *conn; /* NULL once detached: the stream is gone */
    hk_link_t link;  /* in conn->calls while attached */
    int32_t stream_id;
    uv_loop_t *loop;
    void *ctx; /* server opts.ctx */
    hk_peer_t peer;

    /* The request, as it arrives. */
    char *path;
    size_t header_bytes;   /* for the header list limit */
    int headers_too_big;   /* over HK_CONN_HEADER_LIST_MAX */
    int bad_method;        /* :method was not POST */
    int content_type_ok;   /* a gRPC content-type was sent */
    char content_type[64]; /* what was sent, cut, for the error message */
    int bad_timeout;       /* grpc-timeout did not parse */
    char *encoding;        /* grpc-encoding, NULL when absent */
    uint64_t timeout_ns;   /* from grpc-timeout; 0 = none */
    uint64_t deadline_hr;  /* uv_hrtime() deadline; 0 = none */
    uint64_t deadline_ms;  /* uv_now() deadline for hk_call_deadline; 0 = none */
    hk_grpc_reader_t reader;
    /* Connect (HTTP/1.1, or HTTP/2 with a Connect content-type). */
    int codec;                /* hk_call_codec_t */
    int bad_content_type;     /* HTTP/1.1: a content-type Connect does not take */
    int bad_protocol_version; /* Connect-Protocol-Version other than 1 */
    int bad_encoding;         /* Content-Encoding other than identity */
    int has_connect_timeout;  /* Connect-Timeout-Ms was sent */
    int bad_connect_timeout;  /* ... and did not parse */
    uint64_t connect_timeout_ms;
    hk_connect_body_t body; /* the unframed request */
    const uint8_t *request;
    size_t request_len;

    /* The answer. */
    uint8_t *resp; /* prefix + message of a reply */
    size_t resp_len, resp_off;
    int answered;         /* a response was submitted, or can no longer be */
    int request_done;     /* the client half-closed (END_STREAM seen) */
    int rst_after_answer; /* answered before the request ended: reset it once sent */

    /* The handler's side. */
    int stream_ref, handler_ref;
    int counted; /* in server->n_calls */
    int cancelled, cancel_notified;
    hk_call_cancel_fn cancel_cb;
    void *cancel_arg;
    void *data;

    uv_timer_t timer; /* deadline, request timeout, and deferred cancel notices */
    int timer_init;
    size_t charged;               /* request bytes counted against the budgets */
    uint64_t request_deadline_ms; /* uv_now() by which the request must be whole; 0 = none */
};

/* server.c */
/* A connection finished closing (its uv_close callback ran). */
void hk_server_conn_gone(hk_server_t *server, hk_conn_t *conn);
/* Flushes every connection hk_conn_flush_soon named. */
void hk_server_flush(hk_server_t *server);

/* conn.c */
/* Accepts one connection from the listener and starts serving it. Returns
 * 0, HK_ENOMEM or HK_EIO (the pending connection is then dropped). */
int hk_conn_accept(hk_server_t *server);
/* Sends GOAWAY: streams already started go on, new ones are refused; the
 * connection closes once its last stream ends. */
void hk_conn_goaway(hk_conn_t *conn);
/* Answers every unanswered call with status/message, cancels the handlers'
 * calls, and closes the connection. */
void hk_conn_abort(hk_conn_t *conn, int status, const char *message);
/* Writes whatever nghttp2 has to send (unless inside the session, or the
 * write queue is full); closes the connection when the session is over. */
void hk_conn_flush(hk_conn_t *conn);
/* hk_conn_flush at the end of this loop iteration (hk_server_flush). */
void hk_conn_flush_soon(hk_conn_t *conn);
/* For h1conn.c: send bytes (what the socket does not take now is copied
 * and queued; a failure sets conn->broken), close now (calls detached,
 * queued writes dropped), close once queued writes are out, and reading. */
void hk_conn_send(hk_conn_t *conn, const uint8_t *data, size_t len);
void hk_conn_close(hk_conn_t *conn);
void hk_conn_close_later(hk_conn_t *conn);
void hk_conn_read_start(hk_conn_t *conn);
void hk_conn_read_stop(hk_conn_t *conn);

/* limits.c: admission, timers and GOAWAYs for limits (issue 11). */
/* Whether a new connection from peer may be served: 0, or HK_EBUSY with the
 * reason in why (it is then refused with a GOAWAY or a 503 and closed). */
int hk_conn_admit(hk_server_t *server, const hk_peer_t *peer, char *why, size_t n);
/* Refuses an accepted connection: a GOAWAY (or an HTTP/1.1 503 when the
 * client already sent a request line) written at once, then closed. */
void hk_conn_refuse(hk_conn_t *conn, const char *why);
/* Starts the connection's timer (the first request's headers are due). */
void hk_conn_timer_init(hk_conn_t *conn);
/* The first request's headers arrived (stops that timer). */
void hk_conn_first_request(hk_conn_t *conn);
/* The graceful end of conn (hk_conn_close_later) lingers: once the answer
 * is written, what the client still sends (the rest of a body refused at
 * its headers) is read and dropped until it closes, a byte budget is spent
 * or the linger timer runs out, so that closing with unread bytes does not
 * reset the connection under its answer. */
void hk_conn_linger_close(hk_conn_t *conn);
/* The linger timer (limits.c), for the lingering close: closes when it runs out. */
void hk_conn_linger_start(hk_conn_t *conn);
/* A stream opened or closed (HTTP/2): arms or stops the idle timer. */
void hk_conn_streams_changed(hk_conn_t *conn);
/* Ends a connection for a limit: GOAWAY (HTTP/2 and undecided), 408 for an
 * HTTP/1.1 request under way, one log line, closed once written. */
void hk_conn_drop(hk_conn_t *conn, const char *reason);
/* The HTTP/2 session failed (rv from nghttp2_session_mem_recv): a GOAWAY
 * with the matching error code, written around the session, then close. */
void hk_conn_fail(hk_conn_t *conn, int rv);
/* Raw frames, for limits.c: writes a GOAWAY (after an empty SETTINGS when
 * with_settings) straight to the socket, bypassing any session. */
void hk_conn_send_goaway(hk_conn_t *conn, int with_settings, uint32_t error_code,
                         const char *debug);

/* call.c: the RPC side of one stream (or of one HTTP/1.1 request, fed as
 * the same steps with stream id 0). The hk_call_on_* functions run from
 * nghttp2's callbacks (conn->in_session is set, so nothing flushes inside). */
/* A new stream's call, attached to conn. NULL when out of memory. */
hk_call_t *hk_call_new(hk_conn_t *conn, int32_t stream_id);
/* One request header field. */
void hk_call_on_header(hk_call_t *call, const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen);
/* The request headers are complete: answer a bad request, or start the deadline. */
void hk_call_on_headers_end(hk_call_t *call);
/* A chunk of request DATA. */
void hk_call_on_data(hk_call_t *call, const uint8_t *data, size_t len);
/* The request ended (END_STREAM): dispatch it, or answer why not. */
void hk_call_on_request_end(hk_call_t *call);
/* The frame that ended our side of the stream was sent. */
void hk_call_on_answer_sent(hk_call_t *call);
/* Answers with a trailers-only response; does not flush. Used for the
 * transport's own answers (bad requests, deadlines, stop). */
void hk_call_answer_status(hk_call_t *call, int http_status, int status, const char *message);
/* Marks a handler's unanswered call cancelled (its callback runs when the
 * call is detached, or soon if it is already). */
void hk_call_cancel(hk_call_t *call);
/* The stream closed, or its connection went away: release the stream's
 * hold, cancel the handler's call if unanswered. */
void hk_call_detach(hk_call_t *call);
/* Raises the call's share of the request-buffer budgets to total bytes.
 * When the connection's or the server's budget cannot cover it, answers
 * the call RESOURCE_EXHAUSTED and returns HK_ETOOBIG; else 0. */
int hk_call_reserve(hk_call_t *call, size_t total);
/* An HTTP/1.1 request's whole body (moved into the call; body is left
 * empty), then the request's end. */
void hk_call_on_body(hk_call_t *call, hk_connect_body_t *body);
/* The data source for a reply's DATA frames (nghttp2_data_source_read_callback). */
ssize_t hk_call_read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                          uint32_t *data_flags, nghttp2_data_source *source, void *user_data);

#endif
