/* test_h1conn.c -- HTTP/1.1 connections (keep-alive, pipelining, timeouts, cancel) and Connect
 * answers on both HTTP versions */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/status.h"
#include "fixture.h"
#include "h2client.h"
#include "unit.h"

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Runs the loop until the raw client got want answers (or 5 s pass). */
static int run_until_answers(fixture_t *f, client_t *c, int want)
{
    uint64_t end = uv_hrtime() + 5000000000ull;
    uv_timer_start(&f->tick, on_tick, 5, 5);
    while (count_of(c->raw_in, "HTTP/1.1 ") < want && !c->eof && uv_hrtime() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return count_of(c->raw_in, "HTTP/1.1 ") >= want;
}

static void h1_post(client_t *c, const char *path, const char *body, const char *extra)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/proto\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s",
                     path, strlen(body), extra ? extra : "", body);
    client_write(c, req, (size_t)n);
}

static int fake_json(const char *code, const char *message, char **out, size_t *len)
{
    size_t n = strlen(code) + strlen(message) + 2;
    *out = malloc(n);
    snprintf(*out, n, "%s|%s", code, message);
    *len = n - 1;
    return 0;
}

TEST(h1_echo_keep_alive)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.connect_error = fake_json;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Echo", "one", NULL);
    CHECK(run_until_answers(&f, c, 1));
    h1_post(c, "/t/Fail", "", NULL);
    CHECK(run_until_answers(&f, c, 2));
    CHECK(strstr(c->raw_in, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                            "Content-Length: 3\r\n\r\none") == c->raw_in);
    /* The handler's status by the Connect table, its message in the body. */
    CHECK(strstr(c->raw_in, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"));
    CHECK(strstr(c->raw_in, "invalid_argument|name: 100% wrong \xe2\x9c\x93"));
    CHECK_INT(c->eof, 0); /* kept alive */
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.connections, 1);
    CHECK_INT(T.calls, 2);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_pipelined_one_at_a_time)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    /* Two requests in one write: the second waits for the first's answer. */
    char both[512];
    int n = snprintf(both, sizeof both,
                     "POST /t/Held HTTP/1.1\r\nContent-Type: application/proto\r\n"
                     "Content-Length: 1\r\n\r\nA"
                     "POST /t/Echo HTTP/1.1\r\nContent-Type: application/proto\r\n"
                     "Content-Length: 6\r\n\r\nsecond");
    client_write(c, both, (size_t)n);
    CHECK(run_until(&f, &T.calls, 1));
    for (int i = 0; i < 10; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(T.calls, 1);
    CHECK_INT(c->raw_len, 0);
    hk_call_reply(T.held, (const uint8_t *)"first", 5);
    CHECK(run_until_answers(&f, c, 2));
    CHECK_INT(T.calls, 2);
    const char *a = strstr(c->raw_in, "\r\n\r\nfirst"), *b = strstr(c->raw_in, "\r\n\r\nsecond");
    CHECK(a && b && a < b);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_header_timeout)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.header_timeout_ms = 50;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    client_write(c, "POST /t/Echo HTTP/1.1\r\nHost: t\r\n", 32);
    uint64_t t0 = uv_hrtime();
    CHECK(run_until(&f, &c->eof, 1));
    CHECK(uv_hrtime() - t0 >= 40000000ull);
    CHECK(strstr(c->raw_in, "HTTP/1.1 408 Request Timeout\r\n") == c->raw_in);
    CHECK(strstr(c->raw_in, "Connection: close\r\n"));
    CHECK_INT(T.calls, 0);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_idle_timeout)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.idle_timeout_ms = 50;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Echo", "x", NULL);
    CHECK(run_until_answers(&f, c, 1));
    CHECK_INT(c->eof, 0);
    CHECK(run_until(&f, &c->eof, 1)); /* closed after 50 ms with nothing to do */
    CHECK_INT(count_of(c->raw_in, "HTTP/1.1 "), 1);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_disconnect_cancels)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Never", "x", NULL);
    CHECK(run_until(&f, &T.calls, 1));
    client_close(c);
    CHECK(run_until(&f, &T.cancels, 1));
    CHECK_INT(T.cancelled_flag, 1);
    CHECK(fixture_done(&f));
}

TEST(h1_connect_deadline)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Never", "x", "Connect-Timeout-Ms: 30\r\n");
    CHECK(run_until_answers(&f, c, 1));
    CHECK(strstr(c->raw_in, "HTTP/1.1 504 Gateway Timeout\r\n") == c->raw_in);
    CHECK(strstr(c->raw_in, "{\"code\":\"deadline_exceeded\"}")); /* no encoder: the code */
    CHECK(run_until(&f, &T.cancels, 1));
    /* The connection serves the next request. */
    h1_post(c, "/t/Echo", "next", NULL);
    CHECK(run_until_answers(&f, c, 2));
    CHECK(strstr(c->raw_in, "\r\n\r\nnext"));
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h1_stop_closes_idle_connection)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_post(c, "/t/Echo", "x", NULL);
    CHECK(run_until_answers(&f, c, 1));
    hk_server_stop(T.server, 5000, on_stopped, NULL);
    CHECK(run_until(&f, &T.stopped, 1)); /* no grace needed: nothing in flight */
    CHECK(run_until(&f, &c->eof, 1));
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(h2_connect_unframed)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.connect_error = fake_json;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* The test client frames its body; for Connect those 5 bytes are simply
     * part of the message, and come back as they went. */
    cstream_t *st = client_call_ex(c, "/t/Echo", "abc", 3, NULL, 0, 0, "application/proto");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 200);
    CHECK_INT(st->grpc_status, -1); /* no trailers */
    CHECK_INT(st->resp_len, 8);
    CHECK(memcmp(st->resp + 5, "abc", 3) == 0);
    cstream_t *bad = client_call_ex(c, "/t/Fail", "", 0, NULL, 0, 0, "application/json");
    CHECK(run_until(&f, &bad->closed, 1));
    CHECK_INT(bad->http_status, 400);
    CHECK(bad->resp_len > 17 && memcmp(bad->resp, "invalid_argument|", 17) == 0);
    client_close(c);
    cstream_free(st);
    cstream_free(bad);
    CHECK(fixture_done(&f));
}
