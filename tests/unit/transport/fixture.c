/* fixture.c -- the transport under test: an hk_server on a fresh loop, handlers chosen by :path */
#include "fixture.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "unit.h"

fixture_calls_t T;

/* --- the server side: handlers chosen by :path ----------------------------- */

static void on_cancel_fail(hk_call_t *call, void *arg)
{
    (void)arg;
    if (T.in_on_cancel)
        hk_test_failed(__FILE__, __LINE__, "cancel callback ran inside hk_call_on_cancel");
    T.cancels++;
    T.cancelled_flag = hk_call_cancelled(call);
    hk_call_fail(call, HK_STATUS_CANCELLED, "cancelled");
}

void on_cancel_count(hk_call_t *call, void *arg)
{
    (void)call, (void)arg;
    if (T.in_on_cancel)
        hk_test_failed(__FILE__, __LINE__, "cancel callback ran inside hk_call_on_cancel");
    T.cancels++;
}

/* /t/Together: the last call to arrive answers them all, so every one of
 * them was in a handler at the moment the last one came in. */
static void together_add(hk_call_t *call)
{
    T.together[T.n_together++] = call;
    if (T.n_together < T.together_want) return;
    for (int i = 0; i < T.n_together; i++) {
        size_t len;
        const uint8_t *req = hk_call_request(T.together[i], &len);
        hk_call_reply(T.together[i], req, len);
        T.together[i] = NULL;
    }
}

static void on_call(hk_call_t *call, void *ctx)
{
    const char *path = hk_call_path(call);
    size_t len;
    const uint8_t *req = hk_call_request(call, &len);
    hk_server_stats_t stats;
    int together_max = (int)(sizeof T.together / sizeof T.together[0]);

    T.calls++;
    if (ctx != &T) hk_test_failed(__FILE__, __LINE__, "ctx");
    if (hk_call_peer(call)->uid != getuid() || hk_call_peer(call)->pid != getpid())
        hk_test_failed(__FILE__, __LINE__, "peer credentials");
    hk_server_stats(T.server, &stats);
    if (stats.calls > T.max_in_flight) T.max_in_flight = stats.calls;

    if (strcmp(path, "/t/Echo") == 0) {
        hk_call_reply(call, req, len);
    } else if (strcmp(path, "/t/Fail") == 0) {
        hk_call_fail(call, HK_STATUS_INVALID_ARGUMENT, "name: 100% wrong \xe2\x9c\x93");
    } else if (strcmp(path, "/t/Together") == 0 && T.together_want <= together_max &&
               T.n_together < T.together_want) {
        together_add(call);
    } else if (strcmp(path, "/t/Never") == 0) {
        T.in_on_cancel = 1;
        hk_call_on_cancel(call, on_cancel_fail, NULL);
        T.in_on_cancel = 0;
    } else if (strcmp(path, "/t/Held") == 0) {
        T.held = call;
    } else if (strcmp(path, "/t/Gather") == 0 && T.n_gathered < 16) {
        T.gathered[T.n_gathered++] = call;
    } else if (strcmp(path, "/t/HeldCounted") == 0) {
        T.held = call;
        T.in_on_cancel = 1;
        hk_call_on_cancel(call, on_cancel_count, NULL);
        T.in_on_cancel = 0;
    } else {
        hk_call_fail(call, HK_STATUS_UNIMPLEMENTED, "unknown method");
    }
}

/* --- the fixture ------------------------------------------------------------- */

void on_tick(uv_timer_t *t)
{
    (void)t;
}

void fixture_init(fixture_t *f)
{
    signal(SIGPIPE, SIG_IGN);
    memset(&T, 0, sizeof T);
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->tick);
    snprintf(f->path, sizeof f->path, "%s/hookd.sock", hk_test_tmpdir());
    f->opts = (hk_server_opts_t){
        .socket_path = f->path,
        .socket_mode = 0660,
        .max_message_bytes = 1 << 20,
        .max_streams = 256,
        .max_connections = 64,
        .on_call = on_call,
        .ctx = &T,
    };
}

int fixture_start(fixture_t *f)
{
    return hk_server_start(&f->loop, &f->opts, &T.server);
}

int run_until(fixture_t *f, const int *flag, int want)
{
    uint64_t end = uv_hrtime() + 5000000000ull;
    uv_timer_start(&f->tick, on_tick, 5, 5);
    while (*flag < want && uv_hrtime() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return *flag >= want;
}

void on_stopped(void *arg)
{
    (void)arg;
    T.stopped++;
    T.server = NULL;
}

int fixture_done(fixture_t *f)
{
    if (T.server) hk_server_stop(T.server, 1000, on_stopped, NULL);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return uv_loop_close(&f->loop) == 0;
}
