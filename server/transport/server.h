/* server.h -- the RPC server: a libuv pipe listener and its HTTP/2 and HTTP/1.1 connections */
#ifndef HK_SERVER_H
#define HK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "transport/call.h"

typedef struct hk_server hk_server_t;

/* One HTTP/1.1 request as on_request sees it before any RPC routing; valid
 * during the callback only. Header names are lower-cased. */
typedef struct {
    const char *name, *value;
} hk_server_field_t;
typedef struct hk_server_request {
    const char *method; /* "GET" */
    const char *path;   /* the request target as sent, query and all */
    const hk_server_field_t *fields;
    size_t n_fields;
    const uint8_t *body;
    size_t body_len;
    int tcp; /* from a TCP listener: no peer credentials */
    /* SO_PEERCRED on the socket; on a TCP listener pid 0 and uid, gid
     * (uid_t)-1 (no role). on_request may change it before passing a call
     * on: the call then acts as that peer. */
    hk_peer_t peer;
    void *priv; /* the transport's */
} hk_server_request_t;

/* Sees every HTTP/1.1 request first. Returns 1 once it answered the request
 * (with hk_server_answer, exactly once), 0 to let the transport route it as
 * an RPC call (acting as req->peer). */
typedef int (*hk_server_request_fn)(hk_server_request_t *req, void *ctx);

/* The answer to an on_request request: status, Content-Type (NULL: none),
 * more header lines (each ending "\r\n"; NULL: none) and the body; all
 * copied. Only from inside on_request. */
void hk_server_answer(hk_server_request_t *req, int status, const char *content_type,
                      const char *headers, const uint8_t *body, size_t len);

/* The value of a request header (name lower-case), the first if sent more
 * than once, or NULL. */
const char *hk_server_field(const hk_server_request_t *req, const char *name);

/* Runs for every call whose request message has fully arrived and whose
 * deadline has not passed. The handler owns the call until it finishes it
 * with hk_call_reply / hk_call_fail (at once or later, from the loop). */
typedef void (*hk_server_call_fn)(hk_call_t *call, void *ctx);

typedef struct {
    const char *socket_path;  /* copied */
    unsigned socket_mode;     /* e.g. 0660 */
    size_t max_message_bytes; /* larger request: RESOURCE_EXHAUSTED; 0: 4 MiB */
    uint32_t max_streams;     /* SETTINGS_MAX_CONCURRENT_STREAMS; 0: 100 */
    uint32_t max_connections; /* beyond: accepted and closed at once; 0: no limit */
    hk_server_call_fn on_call;
    void *ctx;
    /* Connect error bodies; NULL: {"code":...} without the message. */
    hk_call_error_body_fn connect_error;
    /* HTTP/1.1: first byte to end of headers, and a kept-alive connection
     * waiting for its next request; longer closes it. 0: 10 s and 60 s. */
    uint64_t http1_header_timeout_ms;
    uint64_t http1_idle_timeout_ms;
    /* HTTP/1.1 requests go through on_request(req, request_ctx) first
     * (NULL: straight to routing). */
    hk_server_request_fn on_request;
    void *request_ctx;
    /* A TCP listener at this address (copied; socket_path and socket_mode
     * are then unused) instead of the Unix socket: HTTP/1.1 only, no peer
     * credentials, so on_request is required and decides every request. */
    const struct sockaddr *tcp_addr;
} hk_server_opts_t;

/* Binds and listens on opts->socket_path. A stale socket file (nobody
 * answers) is replaced; a live one is HK_EADDRINUSE; a file that is not a
 * socket is left alone (HK_EIO). The socket gets socket_mode before anyone
 * can connect. Returns 0, HK_EINVAL (no path, a path too long for a Unix
 * socket, no on_call), HK_ENOMEM, HK_EIO or HK_EADDRINUSE; *out is set on
 * success. Connections are served while the loop runs. The process must
 * ignore SIGPIPE (a client that hung up would otherwise kill it). */
int hk_server_start(uv_loop_t *loop, const hk_server_opts_t *opts, hk_server_t **out);

/* The address a TCP listener is bound to (its port chosen when the address
 * asked for port 0). Returns 0, or HK_EINVAL for a Unix socket server. */
int hk_server_tcp_address(const hk_server_t *server, struct sockaddr_storage *out);

/* Graceful stop: closes the listener (and unlinks the socket file, if it
 * is still ours), sends GOAWAY on every connection, lets calls in flight
 * finish (at most grace_ms; then each unanswered call is answered
 * UNAVAILABLE and its cancel callback runs), closes every connection, frees
 * the server, then calls done(arg) from the loop (never from inside this
 * function). A second call does nothing. Calls the handlers still hold
 * after done are detached: finishing them only frees them. */
void hk_server_stop(hk_server_t *server, uint64_t grace_ms, void (*done)(void *arg), void *arg);

/* Counts for logs and tests. */
typedef struct {
    uint64_t connections; /* open now */
    uint64_t calls;       /* in flight now */
    uint64_t calls_total;
    uint64_t writes; /* to sockets: each carries whatever frames were ready */
} hk_server_stats_t;
void hk_server_stats(const hk_server_t *server, hk_server_stats_t *out);

#endif
