/* test_conn.c -- one client connection: garbage, many streams, large frames, backpressure, floods,
 * header bounds */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/status.h"
#include "fixture.h"
#include "h2client.h"
#include "unit.h"

TEST(garbage_then_good_connection)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *bad = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &bad->connected, 1));
    /* Not the HTTP/2 preface, so HTTP/1.x, and not that either: 400, closed. */
    client_write(bad, "\x01\x02 garbage\r\n\r\n", 14);
    CHECK(run_until(&f, &bad->eof, 1)); /* the server hung up on it */

    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "still here", 10, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    /* The refusal lingers (it reads what the client still sends) until the
     * client hangs up too: then only the good connection is left. */
    client_close(bad);
    hk_server_stats_t stats;
    for (int i = 0; i < 1000; i++) {
        uv_run(&f.loop, UV_RUN_NOWAIT);
        hk_server_stats(T.server, &stats);
        if (stats.connections == 1) break;
        usleep(1000);
    }
    CHECK_INT(stats.connections, 1);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(concurrent_streams_200)
{
    enum { N = 200 };
    fixture_t f;
    cstream_t *st[N];
    fixture_init(&f);
    /* The handler holds every call until the 200th has arrived, then answers them all: the calls
     * finish only if the server had all 200 in its handlers at once. */
    T.together_want = N;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "m%d", i);
        st[i] = client_call(c, "/t/Together", msg, (size_t)n, NULL);
    }
    CHECK(run_until(&f, &c->streams_closed, N));
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "m%d", i);
        CHECK_INT(st[i]->grpc_status, 0);
        CHECK(resp_is(st[i], msg, (size_t)n));
        cstream_free(st[i]);
    }
    CHECK_INT(T.calls, N);
    CHECK_INT(T.max_in_flight, N); /* all were in the handlers at once */
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(large_messages_both_ways)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_message_bytes = 4u << 20;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    size_t n = 3u << 20;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    cstream_t *a = client_call(c, "/t/Echo", big, n, NULL);
    cstream_t *b = client_call(c, "/t/Echo", big, n, NULL);
    CHECK(run_until(&f, &c->streams_closed, 2));
    CHECK_INT(a->grpc_status, 0);
    CHECK_INT(b->grpc_status, 0);
    CHECK_INT(a->resp_len, n + 5);
    CHECK(memcmp(a->resp + 5, big, n) == 0);
    CHECK(memcmp(b->resp + 5, big, n) == 0);
    free(big);
    client_close(c);
    cstream_free(a);
    cstream_free(b);
    CHECK(fixture_done(&f));
}

TEST(max_connections)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_connections = 1;
    CHECK_INT(fixture_start(&f), 0);
    client_t *a = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(a, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    client_t *b = client_new(&f.loop, f.path, 0);
    CHECK(run_until(&f, &b->eof, 1)); /* accepted and closed at once */
    CHECK_INT(T.calls, 1);
    client_close(a);
    client_close(b);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(backpressure_client_not_reading)
{
    enum { N = 12 };
    fixture_t f;
    cstream_t *st[N];
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* One call first, so the client has the server's SETTINGS and windows. */
    cstream_t *first = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &first->closed, 1));
    cstream_free(first);
    T.calls = 0;
    c->streams_closed = 0;
    /* The client stops reading; 6 MiB of answers are due: far more than
     * the socket buffer and the server's write bound together. (Requests
     * stay within the server's flow-control windows: a client that does
     * not read cannot see WINDOW_UPDATEs either.) */
    client_read_stop(c);
    size_t n = 512u << 10;
    uint8_t *big = calloc(1, n);
    for (int i = 0; i < N; i++)
        st[i] = client_call(c, "/t/Echo", big, n, NULL);
    uv_timer_start(&f.tick, on_tick, 5, 5);
    for (uint64_t end = uv_hrtime() + 300000000ull; uv_hrtime() < end;)
        uv_run(&f.loop, UV_RUN_ONCE);
    uv_timer_stop(&f.tick);
    CHECK_INT(c->streams_closed, 0);
    CHECK(T.calls < N); /* the server stopped taking requests... */
    CHECK(T.calls >= 1);
    /* ...and takes them again once the client drains its answers. */
    client_read_start(c);
    CHECK(run_until(&f, &c->streams_closed, N));
    for (int i = 0; i < N; i++) {
        CHECK_INT(st[i]->grpc_status, 0);
        CHECK_INT(st[i]->resp_len, n + 5);
        cstream_free(st[i]);
    }
    CHECK_INT(T.calls, N);
    free(big);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(rapid_reset_guard)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_streams = 10; /* guard: burst max(1000, 4 x 10), 33/s */
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    CHECK(run_until(&f, &c->connected, 1));
    cstream_t *st[1200];
    int sent = 0;
    /* Cancelling 900 calls in a burst is within bounds... */
    for (; sent < 900; sent++) {
        st[sent] = client_call_ex(c, "/t/Echo", "", 0, NULL, 0, 7, "application/grpc");
        client_reset(c, st[sent]);
        if (sent % 8 == 7) CHECK(run_until(&f, &c->streams_closed, sent + 1));
    }
    CHECK(run_until(&f, &c->streams_closed, sent));
    for (int i = 0; i < 3; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(c->goaway, 0);
    cstream_t *ok = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    /* ...300 more right away is a flood: the connection is dropped. */
    for (; sent < 1200 && !c->goaway && !c->eof; sent++) {
        st[sent] = client_call_ex(c, "/t/Echo", "", 0, NULL, 0, 7, "application/grpc");
        client_reset(c, st[sent]);
        if (sent % 8 == 7) uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    int gone = 0;
    uv_timer_start(&f.tick, on_tick, 5, 5);
    for (uint64_t end = uv_hrtime() + 2000000000ull; !c->eof && uv_hrtime() < end;)
        uv_run(&f.loop, UV_RUN_ONCE);
    uv_timer_stop(&f.tick);
    gone = c->eof;
    CHECK_INT(c->goaway, 1);
    CHECK_INT(c->goaway_code, NGHTTP2_INTERNAL_ERROR);
    CHECK_INT(gone, 1);
    CHECK(sent > 1000);
    for (int i = 0; i < sent; i++)
        cstream_free(st[i]);
    cstream_free(ok);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(header_list_limit)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    char *value = malloc(40000);
    memset(value, 'v', 39999);
    value[39999] = '\0';

    /* Over the advertised 16 KiB: a clear status. */
    value[20000] = '\0';
    c->extra_name = "x-big";
    c->extra_value = value;
    cstream_t *big = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &big->closed, 1));
    CHECK_INT(big->http_status, 200);
    CHECK_INT(big->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);

    /* Far over it: not even decoded, the stream is reset. */
    value[20000] = 'v';
    c->extra_name = "x-huge";
    c->extra_value = value;
    cstream_t *huge = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &huge->closed, 1));
    CHECK_INT(huge->grpc_status, -1);
    CHECK(huge->close_code != NGHTTP2_NO_ERROR);
    CHECK_INT(T.calls, 0);

    /* The connection still serves. */
    cstream_t *ok = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    free(value);
    client_close(c);
    cstream_free(big);
    cstream_free(huge);
    cstream_free(ok);
    CHECK(fixture_done(&f));
}
