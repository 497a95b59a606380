/* server.c -- the gRPC server: claims the Unix socket, accepts connections, stops gracefully */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/status.h"
#include "transport/conn.h"

#define SERVER_BACKLOG 511

/* Defaults for options left 0. */
#define SERVER_MAX_STREAMS 100
#define SERVER_MAX_MESSAGE (4u << 20)
/* Hardening defaults (hk_server_opts_t). */
#define SERVER_MAX_BUFFER ((size_t)256 << 20)
#define SERVER_MAX_CONN_BUFFER ((size_t)16 << 20)
#define SERVER_HEADER_TIMEOUT_MS 10000u
#define SERVER_IDLE_TIMEOUT_MS 120000u
#define SERVER_REQUEST_TIMEOUT_MS 30000u

/* Makes path free for our socket. A socket file that someone still listens
 * on is HK_EADDRINUSE; one nobody answers (a crashed hookd) is removed; any
 * other kind of file is left alone (HK_EIO). */
static int claim_path(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc, e;

    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : HK_EIO;
    if (!S_ISSOCK(st.st_mode)) {
        hk_log(HK_LOG_ERROR, "socket_path_taken", "reason=\"not a socket\" path=%s", path);
        return HK_EIO;
    }
    /* Non-blocking, so a live server with a full backlog answers EAGAIN at
     * once instead of leaving us waiting. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return HK_EIO;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS) return HK_EADDRINUSE;
    if (e == ENOENT) return 0; /* it went away meanwhile */
    if (e != ECONNREFUSED) {
        hk_log(HK_LOG_ERROR, "socket_probe_failed", "path=%s errno=%d", path, e);
        return HK_EIO;
    }
    if (unlink(path) != 0 && errno != ENOENT) return HK_EIO;
    hk_log(HK_LOG_INFO, "stale_socket_removed", "path=%s", path);
    return 0;
}

static void server_free(hk_server_t *server);

static void on_failed_listener_closed(uv_handle_t *handle)
{
    server_free(handle->data);
}

/* A descriptor kept free for shedding connections when none is left.
 * Descriptors are the process's, so one spare serves the process. */
static int spare_fd = -1;

static void spare_open(void)
{
    if (spare_fd < 0) spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* No descriptor for a new connection. libuv keeps a spare of its own for
 * this (it closes it, accepts and closes the waiting connections, opens it
 * again, and tells us nothing); we hear of it only when that spare is gone,
 * and libuv would then call again and again while a connection waits. So
 * the same with ours: the waiting connections are accepted and closed (the
 * client sees EOF, not a hang), one log line per 5 s. */
static void shed(uv_stream_t *listener, int status)
{
    static uint64_t logged;
    uv_os_fd_t lfd;
    int fd, shed = 0;
    if (spare_fd >= 0) close(spare_fd);
    spare_fd = -1;
    if (uv_fileno((uv_handle_t *)listener, &lfd) == 0)
        while ((fd = accept(lfd, NULL, NULL)) >= 0 || errno == EINTR)
            if (fd >= 0) close(fd), shed++;
    spare_open();
    uint64_t now = uv_now(listener->loop);
    if (!logged || now - logged >= 5000) {
        logged = now;
        hk_log(HK_LOG_WARN, "fd_exhausted", "where=accept errno=%s shed=%d spare=%d",
               uv_err_name(status), shed, spare_fd >= 0);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    hk_server_t *server = hk_container_of((uv_pipe_t *)listener, hk_server_t, listener);

    if (status == UV_EMFILE || status == UV_ENFILE) {
        shed(listener, status);
        return;
    }
    if (status < 0) {
        hk_log(HK_LOG_WARN, "accept_failed", "error=%s", uv_err_name(status));
        return;
    }
    if (server->stopping) return;
    /* hk_conn_accept logs what it refuses. */
    (void)hk_conn_accept(server);
}

/* Binds a listening socket at path with the given mode, as a plain fd, so
 * that every likely failure (a directory we may not write, a path taken
 * meanwhile) is over before libuv holds a handle that would need the loop
 * to run to be freed. Returns 0, HK_EADDRINUSE or HK_EIO. */
static int listen_socket(hk_server_t *server, unsigned mode, int *out_fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, e;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return HK_EIO;
    memcpy(sa.sun_path, server->path, strlen(server->path) + 1);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        e = errno;
        close(fd);
        hk_log(HK_LOG_ERROR, "socket_bind_failed", "path=%s errno=%d", server->path, e);
        /* Another server bound the path between our probe and now. */
        return e == EADDRINUSE ? HK_EADDRINUSE : HK_EIO;
    }
    /* Nobody can connect before listen(): setting the mode first leaves no
     * moment where the socket is open with the umask's mode. */
    if (chmod(server->path, mode) != 0 ||
        (server->opts.set_socket_gid &&
         chown(server->path, (uid_t)-1, server->opts.socket_gid) != 0) ||
        stat(server->path, &st) != 0 || listen(fd, SERVER_BACKLOG) != 0) {
        hk_log(HK_LOG_ERROR, "socket_setup_failed", "path=%s errno=%d", server->path, errno);
        unlink(server->path);
        close(fd);
        return HK_EIO;
    }
    server->sock_dev = st.st_dev;
    server->sock_ino = st.st_ino;
    *out_fd = fd;
    return 0;
}

void hk_server_flush(hk_server_t *server)
{
    /* A flush may answer calls of other connections (a cancel callback):
     * they join the list and are flushed here too. */
    while (!hk_link_empty(&server->flushes)) {
        hk_conn_t *conn = hk_container_of(server->flushes.next, hk_conn_t, flush_link);
        hk_link_del(&conn->flush_link);
        conn->flush_queued = 0;
        hk_conn_flush(conn);
    }
}

static void on_flush_check(uv_check_t *check)
{
    hk_server_flush(hk_container_of(check, hk_server_t, flush_check));
}

static void on_flush_prepare(uv_prepare_t *prepare)
{
    hk_server_flush(hk_container_of(prepare, hk_server_t, flush_prepare));
}

/* The hardening options left 0 take their defaults; a connection's budget
 * always holds one message of the largest size. */
static void server_limits_defaults(hk_server_opts_t *o)
{
    if (!o->max_buffer_bytes) o->max_buffer_bytes = SERVER_MAX_BUFFER;
    if (!o->max_conn_buffer_bytes) o->max_conn_buffer_bytes = SERVER_MAX_CONN_BUFFER;
    if (o->max_conn_buffer_bytes < o->max_message_bytes)
        o->max_conn_buffer_bytes = o->max_message_bytes;
    if (o->max_buffer_bytes < o->max_conn_buffer_bytes)
        o->max_buffer_bytes = o->max_conn_buffer_bytes;
    if (!o->header_timeout_ms) o->header_timeout_ms = SERVER_HEADER_TIMEOUT_MS;
    if (!o->idle_timeout_ms) o->idle_timeout_ms = SERVER_IDLE_TIMEOUT_MS;
    if (!o->request_timeout_ms) o->request_timeout_ms = SERVER_REQUEST_TIMEOUT_MS;
}

static void server_free(hk_server_t *server)
{
    free(server->path);
    free(server);
}

/* The flush handles, as hk_server_start starts them. */
static void start_flushes(hk_server_t *server)
{
    /* Always running, and not keeping the loop alive: they only do
     * something when answers wait. Started first, the check runs after the
     * check handles started later (libuv runs the newest first), such as
     * the group commit's that gives the answers. */
    uv_check_init(server->loop, &server->flush_check);
    uv_prepare_init(server->loop, &server->flush_prepare);
    server->flush_check.data = server->flush_prepare.data = server;
    uv_check_start(&server->flush_check, on_flush_check);
    uv_prepare_start(&server->flush_prepare, on_flush_prepare);
    uv_unref((uv_handle_t *)&server->flush_check);
    uv_unref((uv_handle_t *)&server->flush_prepare);
}

/* hk_server_start for opts->tcp_addr. */
static int start_tcp(uv_loop_t *loop, const hk_server_opts_t *opts, hk_server_t **out)
{
    const struct sockaddr *addr = opts->tcp_addr;
    size_t addrlen = addr->sa_family == AF_INET    ? sizeof(struct sockaddr_in)
                     : addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                   : 0;
    hk_server_t *server;
    int rc, namelen;

    if (!addrlen || !opts->on_call || !opts->on_request) return HK_EINVAL;
    if (!(server = calloc(1, sizeof *server))) return HK_ENOMEM;
    server->loop = loop;
    server->opts = *opts;
    server->opts.socket_path = NULL;
    server->opts.tcp_addr = NULL; /* tcp_addr below is the copy */
    server->tcp = 1;
    if (!server->opts.max_streams) server->opts.max_streams = SERVER_MAX_STREAMS;
    if (!server->opts.max_message_bytes) server->opts.max_message_bytes = SERVER_MAX_MESSAGE;
    hk_link_init(&server->conns);
    hk_link_init(&server->flushes);
    uv_tcp_init(loop, &server->tcp_listener);
    server->tcp_listener.data = server;
    namelen = sizeof server->tcp_addr;
    if ((rc = uv_tcp_bind(&server->tcp_listener, addr, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&server->tcp_listener, SERVER_BACKLOG, on_connection)) !=
            0 ||
        (rc = uv_tcp_getsockname(&server->tcp_listener, (struct sockaddr *)&server->tcp_addr,
                                 &namelen)) != 0) {
        hk_log(HK_LOG_ERROR, "http_listen_failed", "error=%s", uv_err_name(rc));
        uv_close((uv_handle_t *)&server->tcp_listener, on_failed_listener_closed);
        return rc == UV_EADDRINUSE ? HK_EADDRINUSE : HK_EIO;
    }
    start_flushes(server);
    *out = server;
    return 0;
}

int hk_server_tcp_address(const hk_server_t *server, struct sockaddr_storage *out)
{
    if (!server->tcp) return HK_EINVAL;
    *out = server->tcp_addr;
    return 0;
}

int hk_server_start(uv_loop_t *loop, const hk_server_opts_t *opts, hk_server_t **out)
{
    struct sockaddr_un sa;
    hk_server_t *server;
    int rc, err, fd;

    if (opts->tcp_addr) return start_tcp(loop, opts, out);
    if (!opts->socket_path || !opts->socket_path[0] ||
        strlen(opts->socket_path) >= sizeof sa.sun_path || !opts->on_call)
        return HK_EINVAL;
    if (!(server = calloc(1, sizeof *server))) return HK_ENOMEM;
    if (!(server->path = strdup(opts->socket_path))) {
        free(server);
        return HK_ENOMEM;
    }
    server->loop = loop;
    server->opts = *opts;
    server->opts.socket_path = server->path;
    if (!server->opts.max_streams) server->opts.max_streams = SERVER_MAX_STREAMS;
    if (!server->opts.max_message_bytes) server->opts.max_message_bytes = SERVER_MAX_MESSAGE;
    server_limits_defaults(&server->opts);
    hk_link_init(&server->conns);
    hk_link_init(&server->flushes);

    if (opts->listen_fd > 0) {
        fd = opts->listen_fd; /* sock_ino stays 0: the path is not ours to unlink */
    } else if ((err = claim_path(server->path)) != 0 ||
               (err = listen_socket(server, opts->socket_mode, &fd)) != 0) {
        server_free(server);
        return err;
    }
    spare_open();
    uv_pipe_init(loop, &server->listener, 0);
    server->listener.data = server;
    if ((rc = uv_pipe_open(&server->listener, fd)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&server->listener, SERVER_BACKLOG, on_connection)) != 0) {
        /* Not expected on a socket that already listens. The handle exists
         * now: it is freed by its close callback, when the loop next runs. */
        hk_log(HK_LOG_ERROR, "socket_listen_failed", "path=%s error=%s", server->path,
               uv_err_name(rc));
        if (server->sock_ino) unlink(server->path);
        uv_os_fd_t owned;
        /* If uv_pipe_open failed, the fd is still ours to close. */
        if (uv_fileno((uv_handle_t *)&server->listener, &owned) != 0) close(fd);
        uv_close((uv_handle_t *)&server->listener, on_failed_listener_closed);
        return HK_EIO;
    }
    start_flushes(server);
    *out = server;
    return 0;
}

/* Removes the socket file if it is still the one we made: if someone put
 * another there meanwhile, it is theirs. */
static void unlink_socket(hk_server_t *server)
{
    struct stat st;
    if (server->tcp) return;
    if (server->sock_ino == 0) return; /* a handed-over socket */
    if (stat(server->path, &st) == 0 && st.st_dev == server->sock_dev &&
        st.st_ino == server->sock_ino)
        unlink(server->path);
}

static void on_stop_handle_closed(uv_handle_t *handle)
{
    hk_server_t *server = handle->data;
    void (*done)(void *) = server->done;
    void *arg = server->done_arg;

    if (--server->pending_closes > 0) return;
    server_free(server);
    if (done) done(arg);
}

/* Once every connection is gone, the grace timer and the flush handles go
 * too; the last close callback frees the server and reports done. */
static void server_maybe_finish(hk_server_t *server)
{
    if (!server->stopping || server->n_conns > 0 || uv_is_closing((uv_handle_t *)&server->grace))
        return;
    uv_close((uv_handle_t *)&server->grace, on_stop_handle_closed);
    uv_close((uv_handle_t *)&server->flush_check, on_stop_handle_closed);
    uv_close((uv_handle_t *)&server->flush_prepare, on_stop_handle_closed);
}

static void on_grace_over(uv_timer_t *timer)
{
    hk_server_t *server = hk_container_of(timer, hk_server_t, grace);
    hk_link_t *l, *next;

    hk_log(HK_LOG_WARN, "stop_grace_over", "connections=%llu calls=%llu",
           (unsigned long long)server->n_conns, (unsigned long long)server->n_calls);
    /* Connections stay listed until their close callback: next stays valid. */
    hk_link_each_safe(l, next, &server->conns) {
        hk_conn_abort(hk_container_of(l, hk_conn_t, link), HK_STATUS_UNAVAILABLE,
                      "hookd is stopping");
    }
}

void hk_server_conn_gone(hk_server_t *server, hk_conn_t *conn)
{
    hk_link_del(&conn->link);
    server->n_conns--;
    server_maybe_finish(server);
}

void hk_server_stop(hk_server_t *server, uint64_t grace_ms, void (*done)(void *arg), void *arg)
{
    hk_link_t *l, *next;

    if (server->stopping) return;
    server->stopping = 1;
    server->done = done;
    server->done_arg = arg;
    /* The socket file goes at once: a new hookd may start while we finish. */
    unlink_socket(server);
    server->pending_closes = 4; /* the listener, the grace timer, the flush handles */
    uv_close((uv_handle_t *)&server->listener, on_stop_handle_closed);
    uv_timer_init(server->loop, &server->grace);
    server->grace.data = server;
    uv_timer_start(&server->grace, on_grace_over, grace_ms, 0);
    hk_link_each_safe(l, next, &server->conns) {
        hk_conn_goaway(hk_container_of(l, hk_conn_t, link));
    }
    server_maybe_finish(server);
}

void hk_server_set_limits(hk_server_t *server, size_t max_message_bytes, uint32_t max_streams,
                          uint32_t max_connections)
{
    server->opts.max_message_bytes = max_message_bytes ? max_message_bytes : SERVER_MAX_MESSAGE;
    server->opts.max_streams = max_streams ? max_streams : SERVER_MAX_STREAMS;
    server->opts.max_connections = max_connections;
}

void hk_server_stats(const hk_server_t *server, hk_server_stats_t *out)
{
    out->connections = server->n_conns;
    out->calls = server->n_calls;
    out->calls_total = server->n_calls_total;
    out->writes = server->n_writes;
    out->buffered = server->buffered;
    out->buffered_peak = server->buffered_peak;
    out->refused = server->n_refused;
    out->dropped = server->n_dropped;
}
