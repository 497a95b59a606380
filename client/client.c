/* client.c -- the libhookd client: socket path, connections, and the poll loop that runs calls */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"

int64_t hkc_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The daemon's own default: /var/lib/hookd for root, $HOME/.hookd for others. */
static int default_path(char *buf, size_t len)
{
    if (getuid() == 0) return snprintf(buf, len, "%s", HK_CLIENT_ROOT_SOCKET) < (int)len ? 0 : -1;
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home) return -1;
    return snprintf(buf, len, "%s/%s", home, HK_CLIENT_USER_SOCKET) < (int)len ? 0 : -1;
}

int hk_client_open(const char *socket_path, hk_client_t **out)
{
    *out = NULL;
    hk_client_t *c = calloc(1, sizeof *c);
    if (!c) return -HK_STATUS_RESOURCE_EXHAUSTED;
    if (!socket_path || !*socket_path) socket_path = getenv("HOOKD_SOCKET");
    if (socket_path && strncmp(socket_path, "unix://", 7) == 0) socket_path += 7; /* gRPC's form */
    int rc;
    if (socket_path && *socket_path)
        rc = strlen(socket_path) < sizeof c->path ? (strcpy(c->path, socket_path), 0) : -1;
    else
        rc = default_path(c->path, sizeof c->path);
    if (rc != 0) {
        free(c);
        return -HK_STATUS_INVALID_ARGUMENT;
    }
    c->default_deadline_ms = HK_CLIENT_DEFAULT_DEADLINE_MS;
    hk_link_init(&c->conns);
    hk_link_init(&c->calls);
    hkc_service_init(c);
    *out = c;
    return 0;
}

#define CALL_OF(l) hk_container_of(l, hk_client_call_t, link)
#define CONN_OF(l) hk_container_of(l, hkc_conn_t, link)

/* The connection is gone: its calls learn why, and it is freed. */
static void conn_drop(hk_client_t *c, hkc_conn_t *conn, const char *why)
{
    hk_link_t *l, *tmp;
    snprintf(c->conn_error, sizeof c->conn_error, "%s", why);
    hk_link_each_safe(l, tmp, &c->calls)
        if (CALL_OF(l)->conn == conn) hkc_call_on_lost(CALL_OF(l), why);
    hk_link_del(&conn->link);
    hkc_conn_free(conn);
}

void hk_client_close(hk_client_t *c)
{
    hk_link_t *l, *tmp;
    if (!c) return;
    hk_link_each_safe(l, tmp, &c->calls)
        hkc_call_finish(CALL_OF(l), HK_STATUS_CANCELLED, "the client was closed", 1);
    while (!hk_link_empty(&c->conns)) {
        hkc_conn_t *conn = CONN_OF(c->conns.next);
        /* A polite goodbye when the socket takes it at once; never waits. */
        hkc_conn_flush(conn);
        conn_drop(c, conn, "the client was closed");
    }
    /* The handles stay the caller's: each is alone now, for hk_client_call_free. */
    hk_link_each_safe(l, tmp, &c->calls) {
        CALL_OF(l)->client = NULL;
        hk_link_del(l);
    }
    free(c->last_message);
    free(c);
}

const char *hk_client_socket_path(const hk_client_t *c)
{
    return c->path;
}

int hk_client_set_default_deadline(hk_client_t *c, int deadline_ms)
{
    if (deadline_ms <= 0 && deadline_ms != HK_CLIENT_NO_DEADLINE)
        return -HK_STATUS_INVALID_ARGUMENT;
    c->default_deadline_ms = deadline_ms;
    return 0;
}

void hkc_last_status_set(hk_client_t *c, int code, const char *message)
{
    c->last_code = code;
    free(c->last_message);
    c->last_message = strdup(message ? message : "");
}

int hk_client_last_status(const hk_client_t *c, const char **message)
{
    if (message) *message = c->last_message ? c->last_message : "";
    return c->last_code;
}

void hk_client_stats(const hk_client_t *c, hk_client_stats_t *out)
{
    *out = c->stats;
}

hkc_conn_t *hkc_conn_current(hk_client_t *c, int64_t deadline)
{
    hkc_conn_t *conn = hk_link_empty(&c->conns) ? NULL : CONN_OF(c->conns.next);
    /* An idle connection may hold hookd's goodbye (GOAWAY, EOF) from a restart
     * since the last call: read it now rather than send into a dead socket. */
    if (conn && !conn->draining && hkc_conn_read(conn) != 0) {
        conn_drop(c, conn, conn->error);
        conn = NULL;
    }
    if (conn && (conn->draining || conn->failed || !hkc_conn_alive(conn))) conn = NULL;
    if (conn) return conn;

    char err[sizeof c->conn_error];
    if (hkc_conn_open(c, c->path, deadline, &conn, err, sizeof err) != 0) {
        snprintf(c->conn_error, sizeof c->conn_error, "%s", err);
        return NULL;
    }
    hk_link_add(c->conns.next, &conn->link); /* before the first: newest first */
    c->stats.connects++;
    return conn;
}

static void expire_calls(hk_client_t *c, int64_t now)
{
    hk_link_t *l, *tmp;
    hk_link_each_safe(l, tmp, &c->calls) {
        hk_client_call_t *call = CALL_OF(l);
        if (!call->done && call->deadline && now >= call->deadline)
            hkc_call_finish(call, HK_STATUS_DEADLINE_EXCEEDED, "deadline exceeded", 1);
    }
}

/* Connections that broke or ended lose their calls; drained ones close;
 * refused calls go out again. */
static void sweep(hk_client_t *c)
{
    hk_link_t *l, *tmp;
    hk_link_each_safe(l, tmp, &c->conns) {
        hkc_conn_t *conn = CONN_OF(l);
        if (conn->failed)
            conn_drop(c, conn, conn->error);
        else if (!hkc_conn_alive(conn))
            conn_drop(c, conn, "hookd ended the connection");
        else if (conn->draining && conn->streams == 0 && !hkc_conn_want_write(conn))
            conn_drop(c, conn, "hookd is going away");
    }
    hk_link_each_safe(l, tmp, &c->calls) {
        hk_client_call_t *call = CALL_OF(l);
        if (call->retry && !call->done) {
            call->retry = 0;
            c->stats.retries++;
            hkc_call_submit(call);
        }
    }
}

void hkc_io_step(hk_client_t *c, int64_t until)
{
    struct pollfd fds[16];
    hkc_conn_t *polled[16];
    nfds_t n = 0;
    hk_link_t *l, *tmp;

    uint64_t finished = c->finished;
    expire_calls(c, hkc_clock_ms());
    hk_link_each_safe(l, tmp, &c->conns)
        hkc_conn_flush(CONN_OF(l));
    sweep(c);
    /* A call that ended just now (its deadline passed, its connection died)
     * may be the one the caller waits for: let it look before blocking, or
     * the poll below would wait with no deadline left to wake it. */
    if (c->finished != finished) return;

    int64_t wake = until;
    hk_link_each_safe(l, tmp, &c->calls) {
        hk_client_call_t *call = CALL_OF(l);
        if (!call->done && call->deadline && (!wake || call->deadline < wake))
            wake = call->deadline;
    }
    hk_link_each_safe(l, tmp, &c->conns) {
        hkc_conn_t *conn = CONN_OF(l);
        if (n == 16) break;
        fds[n].fd = conn->fd;
        fds[n].events = POLLIN | (hkc_conn_want_write(conn) ? POLLOUT : 0);
        fds[n].revents = 0;
        polled[n++] = conn;
    }
    int timeout = -1;
    if (wake) {
        int64_t left = wake - hkc_clock_ms();
        timeout = left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
    }
    if (n == 0) {
        /* Nothing to wait on: every call is finished or waiting for its
         * deadline with no connection under it (cannot happen, but do not spin). */
        hk_link_each_safe(l, tmp, &c->calls) {
            hk_client_call_t *call = CALL_OF(l);
            if (!call->done && !call->conn && !call->retry)
                hkc_call_finish(call, HK_STATUS_UNAVAILABLE, c->conn_error, 0);
        }
        if (timeout > 0) poll(NULL, 0, timeout);
        return;
    }
    int rc = poll(fds, n, timeout);
    if (rc < 0 && errno != EINTR) {
        for (nfds_t i = 0; i < n; i++) {
            polled[i]->failed = 1;
            snprintf(polled[i]->error, sizeof polled[i]->error, "poll: %s", strerror(errno));
        }
    }
    for (nfds_t i = 0; rc > 0 && i < n; i++) {
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) hkc_conn_read(polled[i]);
        if (fds[i].revents & POLLOUT) hkc_conn_flush(polled[i]);
    }
    /* Answers to what was just read (WINDOW_UPDATE, SETTINGS ACK) go out now. */
    hk_link_each_safe(l, tmp, &c->conns)
        hkc_conn_flush(CONN_OF(l));
    expire_calls(c, hkc_clock_ms());
    sweep(c);
}

int hk_client_wait(hk_client_t *c, hk_client_call_t *call)
{
    if (call && call->client != c) return -HK_STATUS_INVALID_ARGUMENT;
    while (call ? !call->done : c->stats.pending > 0)
        hkc_io_step(c, 0);
    return call ? -call->code : 0;
}

int hk_client_connect(hk_client_t *c, int deadline_ms)
{
    if (deadline_ms == 0) deadline_ms = c->default_deadline_ms;
    int64_t deadline = deadline_ms > 0 ? hkc_clock_ms() + deadline_ms : 0;
    hkc_conn_t *conn = hkc_conn_current(c, deadline);
    int code = HK_STATUS_OK;
    const char *msg = "";
    while (conn && !conn->settings_seen) {
        if (deadline && hkc_clock_ms() >= deadline) {
            code = HK_STATUS_DEADLINE_EXCEEDED;
            msg = "deadline exceeded waiting for hookd's HTTP/2 settings";
            break;
        }
        hkc_io_step(c, deadline);
        /* Still there, or dropped by the step? */
        hk_link_t *l, *tmp, *found = NULL;
        hk_link_each_safe(l, tmp, &c->conns)
            if (l == &conn->link) found = l;
        conn = found ? conn : NULL;
    }
    if (!conn && code == HK_STATUS_OK) {
        code = HK_STATUS_UNAVAILABLE;
        msg = c->conn_error;
    }
    hkc_last_status_set(c, code, msg);
    return -code;
}
