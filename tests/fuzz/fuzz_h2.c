/* fuzz_h2.c -- the HTTP/2 + gRPC transport as a whole: the input is what a client sends on one
 * connection */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "core/status.h"
#include "fuzz.h"
#include "transport/call.h"
#include "transport/server.h"

/* Input: the bytes a client sends on one connection after the HTTP/2
 * connection preface, which the harness sends first (the fuzzer need not
 * find it). They go to a real hk_server on a Unix socket in one write, the
 * write side is then shut, and whatever the server answers is read and
 * dropped until it closes the connection; the loop then runs until every
 * call is finished. Handlers by :path:
 *   /t/Echo   replies with the request message
 *   /t/Fail   INVALID_ARGUMENT with a message that needs percent-encoding
 *   /t/Later  held, answered (echo) after the loop's next turn
 *   /t/Never  never answered; its cancel callback fails it
 *   other     UNIMPLEMENTED */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#define MAX_LATER 1024

static uv_loop_t loop;
static hk_server_t *server;
static char sock_path[300];
static hk_call_t *later[MAX_LATER];
static int n_later;
static int held; /* calls a handler holds: Later ones and Never ones */

static void on_cancel(hk_call_t *call, void *arg)
{
    (void)arg;
    if (!hk_call_cancelled(call)) abort();
    held--;
    hk_call_fail(call, HK_STATUS_CANCELLED, "cancelled");
}

static void on_call(hk_call_t *call, void *ctx)
{
    const char *path = hk_call_path(call);
    size_t len;
    const uint8_t *req = hk_call_request(call, &len);

    if (ctx != &loop || !path || (len && !req)) abort();
    if (strcmp(path, "/t/Echo") == 0) {
        hk_call_reply(call, req, len);
    } else if (strcmp(path, "/t/Fail") == 0) {
        hk_call_fail(call, HK_STATUS_INVALID_ARGUMENT, "name: 100% wrong \xe2\x9c\x93\r\n");
    } else if (strcmp(path, "/t/Later") == 0 && n_later < MAX_LATER) {
        later[n_later++] = call;
        held++;
    } else if (strcmp(path, "/t/Never") == 0) {
        hk_call_on_cancel(call, on_cancel, NULL);
        held++;
    } else {
        hk_call_fail(call, HK_STATUS_UNIMPLEMENTED, "unknown method");
    }
}

/* Later calls are answered from the loop, after the turn that dispatched
 * them: the stream may have been reset or the connection closed meanwhile. */
static void answer_later(void)
{
    for (int i = 0; i < n_later; i++) {
        size_t len;
        const uint8_t *req = hk_call_request(later[i], &len);
        hk_call_reply(later[i], req, len);
        held--;
    }
    n_later = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(sock_path, sizeof sock_path, "%s/hookd.sock", hk_fuzz_init());
    uv_loop_init(&loop);
    hk_server_opts_t opts = {
        .socket_path = sock_path,
        .socket_mode = 0600,
        .max_message_bytes = 16 << 10, /* small: inputs can reach the limit */
        .max_streams = 32,
        .max_connections = 4,
        .on_call = on_call,
        .ctx = &loop,
    };
    if (hk_server_start(&loop, &opts, &server) != 0) abort();
    return 0;
}

static void hang(const char *what)
{
    fprintf(stderr, "fuzz_h2: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = sizeof preface - 1 + size, off = 0;
    uint8_t *buf = malloc(len), rbuf[16 << 10];
    int fd, shut = 0, peer_closed = 0;
    hk_server_stats_t st;

    if (!buf) abort();
    memcpy(buf, preface, sizeof preface - 1);
    if (size) memcpy(buf + sizeof preface - 1, data, size);
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) abort();

    uint64_t end = uv_hrtime() + 5000000000ull;
    for (;;) {
        if (off < len) {
            ssize_t n = write(fd, buf + off, len - off);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN)
                off = len; /* the server hung up: what is left cannot reach it */
        }
        if (off == len && !shut) {
            shutdown(fd, SHUT_WR);
            shut = 1;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        answer_later();
        for (;;) {
            ssize_t n = read(fd, rbuf, sizeof rbuf);
            if (n > 0) continue;
            if (n == 0 || errno != EAGAIN) peer_closed = 1;
            break;
        }
        hk_server_stats(server, &st);
        if (peer_closed && st.connections == 0 && st.calls == 0 && held == 0) break;
        if (uv_hrtime() > end)
            hang(peer_closed ? "calls or the connection outlive the client" : "never closed");
    }
    close(fd);
    free(buf);
    return 0;
}
