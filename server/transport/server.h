/* server.h -- the gRPC server: a libuv pipe listener and its HTTP/2 connections */
#ifndef HK_SERVER_H
#define HK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "transport/call.h"

typedef struct hk_server hk_server_t;

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
} hk_server_stats_t;
void hk_server_stats(const hk_server_t *server, hk_server_stats_t *out);

#endif
