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

/* See hk_server_opts_t.authorize and .privileged; ctx is opts.ctx. */
typedef int (*hk_server_authorize_fn)(void *ctx, const char *path, const hk_peer_t *peer, char *msg,
                                      size_t msglen);
typedef int (*hk_server_privileged_fn)(void *ctx, const hk_peer_t *peer);

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

    /* Hardening (issue 11): what one client may make us hold, and for how
     * long. A 0 takes the default named. */
    /* Runs at the end of a request's headers, before any body is buffered:
     * returns HK_STATUS_OK, or the status the call is answered with at once
     * (PERMISSION_DENIED; UNIMPLEMENTED for an unknown path, 404 in Connect)
     * with a message written into msg. NULL: every request reaches on_call. */
    hk_server_authorize_fn authorize;
    /* 1 when peer may use the connections kept for admins; NULL: nobody may. */
    hk_server_privileged_fn privileged;
    /* Request bytes buffered (messages arriving or waiting for their
     * handler), over every call and per connection. A message announced (or
     * a body grown) past what is left is answered RESOURCE_EXHAUSTED at once
     * and its bytes are dropped. 0: 256 MiB and 16 MiB; the per-connection
     * budget is never below max_message_bytes. */
    size_t max_buffer_bytes;
    size_t max_conn_buffer_bytes;
    /* Connections one uid may hold, unless privileged; 0: no cap. */
    uint32_t max_connections_per_uid;
    /* Of max_connections, how many only privileged peers may take. */
    uint32_t admin_reserve;
    /* A new connection must complete its first request's headers within
     * header_timeout_ms (HTTP/1.1: every request, from its first byte); a
     * connection with nothing in progress is closed after idle_timeout_ms;
     * a request must arrive whole within request_timeout_ms of its headers
     * (DEADLINE_EXCEEDED; HTTP/1.1: 408 and close). A connection dropped
     * for a limit gets a GOAWAY (HTTP/1.1: 408 when a request was under
     * way) and one log line. 0: 10 s, 120 s, 30 s. */
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t request_timeout_ms;

    /* HTTP/1.1 requests go through on_request(req, request_ctx) first
     * (NULL: straight to routing). */
    hk_server_request_fn on_request;
    void *request_ctx;
    /* A TCP listener at this address (copied; socket_path and socket_mode
     * are then unused) instead of the Unix socket: HTTP/1.1 only, no peer
     * credentials, so on_request is required and decides every request. */
    const struct sockaddr *tcp_addr;

    /* Socket activation: > 0, an already bound and listening Unix socket
     * (handed over by a service manager) served instead of socket_path,
     * which is then only its name: never probed, chmod-ed or unlinked. */
    int listen_fd;
    int set_socket_gid; /* chown the socket file hookd creates to socket_gid */
    gid_t socket_gid;
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

/* New limits (a config reload): max_message_bytes for calls that start
 * from now on, max_streams for connections accepted from now on,
 * max_connections at once. 0 keeps a limit's default, as in the opts. */
void hk_server_set_limits(hk_server_t *server, size_t max_message_bytes, uint32_t max_streams,
                          uint32_t max_connections);

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
    /* Hardening: request bytes buffered now and at most so far; connections
     * refused at accept and dropped later for a limit (timeouts). */
    uint64_t buffered, buffered_peak;
    uint64_t refused, dropped;
} hk_server_stats_t;
void hk_server_stats(const hk_server_t *server, hk_server_stats_t *out);

#endif
