/* test_limits.c -- what one client may make the transport hold: authorisation at the headers,
 * request-buffer budgets, timeouts, connection caps and the admins' reserve, GOAWAYs */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "core/status.h"
#include "fixture.h"
#include "h2client.h"
#include "unit.h"

static int privileged_answer; /* what test_privileged says */

/* Denies /t/Denied (PERMISSION_DENIED) and /t/Nothing (UNIMPLEMENTED). */
static int test_authorize(void *ctx, const char *path, const hk_peer_t *peer, char *msg, size_t n)
{
    if (ctx != &T || peer->uid != getuid()) hk_test_failed(__FILE__, __LINE__, "authorize args");
    if (strcmp(path, "/t/Denied") == 0) {
        snprintf(msg, n, "no role for %s", path);
        return HK_STATUS_PERMISSION_DENIED;
    }
    if (strcmp(path, "/t/Nothing") == 0) {
        snprintf(msg, n, "unknown method %s", path);
        return HK_STATUS_UNIMPLEMENTED;
    }
    return HK_STATUS_OK;
}

static int test_privileged(void *ctx, const hk_peer_t *peer)
{
    (void)ctx, (void)peer;
    return privileged_answer;
}

static void run_for(fixture_t *f, uint64_t ms)
{
    uv_timer_start(&f->tick, on_tick, 5, 5);
    for (uint64_t end = uv_hrtime() + ms * 1000000ull; uv_hrtime() < end;)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
}

static uint64_t stat_of(const char *which)
{
    hk_server_stats_t s;
    hk_server_stats(T.server, &s);
    if (strcmp(which, "buffered") == 0) return s.buffered;
    if (strcmp(which, "peak") == 0) return s.buffered_peak;
    if (strcmp(which, "refused") == 0) return s.refused;
    if (strcmp(which, "dropped") == 0) return s.dropped;
    return s.connections;
}

/* The GOAWAY frame among raw bytes a raw client read: 1 with its error code
 * and debug text, else 0. settings_first: an empty SETTINGS came before. */
static int raw_goaway(const client_t *c, uint32_t *code, char *debug, size_t n, int *settings_first)
{
    const uint8_t *p = (const uint8_t *)c->raw_in;
    size_t off = 0;
    *settings_first = c->raw_len >= 9 && p[3] == NGHTTP2_SETTINGS;
    while (off + 9 <= c->raw_len) {
        size_t len = (size_t)p[off] << 16 | (size_t)p[off + 1] << 8 | p[off + 2];
        if (off + 9 + len > c->raw_len) return 0;
        if (p[off + 3] == NGHTTP2_GOAWAY && len >= 8) {
            const uint8_t *g = p + off + 9;
            *code = (uint32_t)g[4] << 24 | (uint32_t)g[5] << 16 | (uint32_t)g[6] << 8 | g[7];
            snprintf(debug, n, "%.*s", (int)(len - 8), (const char *)g + 8);
            return 1;
        }
        off += 9 + len;
    }
    return 0;
}

static void h1_head(client_t *c, const char *path, const char *length_or_chunked)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/proto\r\n%s\r\n\r\n",
                     path, length_or_chunked);
    client_write(c, req, (size_t)n);
}

/* --- authorisation at the headers -------------------------------------------- */

TEST(denied_at_headers_before_the_body)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.authorize = test_authorize;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* 1 MiB announced, 1 KiB sent, never finished. */
    static uint8_t part[1024];
    cstream_t *d =
        client_call_ex(c, "/t/Denied", part, sizeof part, NULL, 0, 1u << 20, "application/grpc");
    cstream_t *u =
        client_call_ex(c, "/t/Nothing", part, sizeof part, NULL, 0, 1u << 20, "application/grpc");
    CHECK(run_until(&f, &c->streams_closed, 2));
    CHECK_INT(d->grpc_status, HK_STATUS_PERMISSION_DENIED);
    CHECK_STR(d->grpc_message, "no role for /t/Denied");
    CHECK_INT(u->grpc_status, HK_STATUS_UNIMPLEMENTED);
    CHECK_INT(T.calls, 0);
    CHECK_INT(stat_of("peak"), 0); /* not a byte of either body was kept */
    /* The connection serves the next call. */
    cstream_t *e = client_call(c, "/t/Echo", "ok", 2, NULL);
    CHECK(run_until(&f, &e->closed, 1));
    CHECK(resp_is(e, "ok", 2));
    client_close(c);
    cstream_free(d);
    cstream_free(u);
    cstream_free(e);
    CHECK(fixture_done(&f));
}

TEST(h1_denied_at_headers)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.authorize = test_authorize;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_head(c, "/t/Denied", "Content-Length: 1000000");
    client_write(c, "abc", 3);
    CHECK(run_until(&f, &c->eof, 1)); /* answered and closed: the body is never read */
    CHECK(strstr(c->raw_in, "HTTP/1.1 403 Forbidden\r\n") == c->raw_in);
    CHECK(strstr(c->raw_in, "Connection: close\r\n"));
    CHECK_INT(T.calls, 0);
    CHECK_INT(stat_of("peak"), 0);
    client_close(c);

    client_t *n = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &n->connected, 1));
    h1_head(n, "/t/Nothing", "Content-Length: 0");
    CHECK(run_until(&f, &n->eof, 1));
    CHECK(strstr(n->raw_in, "HTTP/1.1 404 Not Found\r\n") == n->raw_in);
    client_close(n);
    CHECK(fixture_done(&f));
}

/* --- the request-buffer budget ------------------------------------------------- */

TEST(budget_per_connection)
{
    enum { N = 8 };
    fixture_t f;
    cstream_t *st[N];
    static uint8_t part[100 << 10];
    fixture_init(&f);
    f.opts.max_conn_buffer_bytes = 2u << 20; /* two 1 MiB messages */
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    for (int i = 0; i < N; i++)
        st[i] =
            client_call_ex(c, "/t/Echo", part, sizeof part, NULL, 0, 1u << 20, "application/grpc");
    CHECK(run_until(&f, &c->streams_closed, N - 2));
    run_for(&f, 50);
    int refused = 0, open = 0;
    for (int i = 0; i < N; i++) {
        if (st[i]->closed) {
            CHECK_INT(st[i]->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);
            CHECK(strstr(st[i]->grpc_message, "for this connection"));
            refused++;
        } else {
            open++;
        }
    }
    CHECK_INT(refused, N - 2);
    CHECK_INT(open, 2);
    CHECK_INT(stat_of("buffered"), 2u << 20);
    CHECK_INT(stat_of("peak"), 2u << 20);
    CHECK_INT(T.calls, 0);
    /* The connection going away gives the budget back. */
    client_close(c);
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (stat_of("buffered") != 0 && uv_hrtime() < end)
        run_for(&f, 5);
    CHECK_INT(stat_of("buffered"), 0);
    for (int i = 0; i < N; i++)
        cstream_free(st[i]);
    CHECK(fixture_done(&f));
}

TEST(budget_total_and_given_back)
{
    fixture_t f;
    static uint8_t part[10 << 10];
    fixture_init(&f);
    f.opts.max_conn_buffer_bytes = 2u << 20;
    f.opts.max_buffer_bytes = 3u << 20;
    CHECK_INT(fixture_start(&f), 0);
    client_t *a = client_new(&f.loop, f.path, 0), *b = client_new(&f.loop, f.path, 0);
    cstream_t *a1 =
        client_call_ex(a, "/t/Echo", part, sizeof part, NULL, 0, 1u << 20, "application/grpc");
    cstream_t *a2 =
        client_call_ex(a, "/t/Echo", part, sizeof part, NULL, 0, 1u << 20, "application/grpc");
    run_for(&f, 50);
    cstream_t *b1 =
        client_call_ex(b, "/t/Echo", part, sizeof part, NULL, 0, 1u << 20, "application/grpc");
    run_for(&f, 50);
    cstream_t *b2 =
        client_call_ex(b, "/t/Echo", part, sizeof part, NULL, 0, 1u << 20, "application/grpc");
    CHECK(run_until(&f, &b2->closed, 1));
    CHECK_INT(b2->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);
    CHECK(strstr(b2->grpc_message, "in all"));
    CHECK_INT(a1->closed + a2->closed + b1->closed, 0);
    CHECK_INT(stat_of("buffered"), 3u << 20);
    /* A whole call's bytes leave the budget when it is answered. */
    cstream_t *e = client_call(b, "/t/Echo", "x", 1, NULL);
    CHECK(run_until(&f, &e->closed, 1));
    CHECK_INT(e->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED); /* 1 byte more is too many */
    client_reset(a, a1);
    CHECK(run_until(&f, &a->streams_closed, 1));
    run_for(&f, 20);
    CHECK_INT(stat_of("buffered"), 2u << 20);
    cstream_t *e2 = client_call(b, "/t/Echo", "y", 1, NULL);
    CHECK(run_until(&f, &e2->closed, 1));
    CHECK(resp_is(e2, "y", 1));
    CHECK_INT(stat_of("buffered"), 2u << 20);
    CHECK(stat_of("peak") <= 3u << 20);
    client_close(a);
    client_close(b);
    cstream_free(a1);
    cstream_free(a2);
    cstream_free(b1);
    cstream_free(b2);
    cstream_free(e);
    cstream_free(e2);
    CHECK(fixture_done(&f));
}

TEST(h1_budget)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_conn_buffer_bytes = 1u << 20; /* = max_message_bytes: one body at a time */
    f.opts.max_buffer_bytes = 1u << 20;
    CHECK_INT(fixture_start(&f), 0);
    client_t *a = client_new(&f.loop, f.path, 1), *b = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &a->connected, 1));
    CHECK(run_until(&f, &b->connected, 1));
    /* a: a chunked body of 600 KiB so far, not finished. */
    h1_head(a, "/t/Echo", "Transfer-Encoding: chunked");
    size_t n = 600u << 10;
    char *chunk = malloc(n + 32);
    int k = snprintf(chunk, 32, "%zx\r\n", n);
    memset(chunk + k, 'a', n);
    memcpy(chunk + k + n, "\r\n", 2);
    client_write(a, chunk, (size_t)k + n + 2);
    free(chunk);
    run_for(&f, 100);
    CHECK(stat_of("buffered") >= 600u << 10);
    CHECK(stat_of("buffered") <= 1u << 20);
    /* b: any body now is past the budget. */
    h1_head(b, "/t/Echo", "Content-Length: 5");
    client_write(b, "hello", 5);
    CHECK(run_until(&f, &b->eof, 1));
    CHECK(strstr(b->raw_in, "HTTP/1.1 429 Too Many Requests\r\n") == b->raw_in);
    CHECK_INT(a->eof, 0);
    CHECK_INT(T.calls, 0);
    /* a finishes and is served. */
    client_write(a, "0\r\n\r\n", 5);
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (!strstr(a->raw_in, "\r\n\r\n") && uv_hrtime() < end)
        run_for(&f, 5);
    CHECK(strstr(a->raw_in, "HTTP/1.1 200 OK\r\n") == a->raw_in);
    CHECK_INT(T.calls, 1);
    CHECK(stat_of("peak") <= 1u << 20);
    client_close(a);
    client_close(b);
    CHECK(fixture_done(&f));
}

/* --- timeouts ---------------------------------------------------------------------- */

TEST(silent_connection_gets_goaway)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.header_timeout_ms = 50;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    uint64_t t0 = uv_hrtime();
    CHECK(run_until(&f, &c->eof, 1));
    CHECK(uv_hrtime() - t0 >= 40000000ull);
    uint32_t code = 99;
    char debug[256];
    int settings_first = 0;
    CHECK(raw_goaway(c, &code, debug, sizeof debug, &settings_first));
    CHECK(settings_first);
    CHECK_INT(code, NGHTTP2_NO_ERROR);
    CHECK_STR(debug, "no request within the header timeout");
    CHECK_INT(stat_of("dropped"), 1);
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(preface_but_no_request_gets_goaway)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.header_timeout_ms = 50;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0); /* sends its preface and SETTINGS */
    CHECK(run_until(&f, &c->eof, 1));
    CHECK_INT(c->goaway, 1);
    CHECK_INT(c->goaway_code, NGHTTP2_NO_ERROR);
    CHECK_STR(c->goaway_debug, "no request within the header timeout");
    client_close(c);
    CHECK(fixture_done(&f));
}

static void on_answer_held(uv_timer_t *t)
{
    hk_call_reply(T.held, (const uint8_t *)"late", 4);
    T.held = NULL;
    uv_close((uv_handle_t *)t, NULL);
}

TEST(idle_timeout_only_without_streams)
{
    fixture_t f;
    uv_timer_t answer;
    fixture_init(&f);
    f.opts.idle_timeout_ms = 80;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* A call in a handler for 250 ms: the connection is not idle. */
    cstream_t *h = client_call(c, "/t/Held", "x", 1, NULL);
    uv_timer_init(&f.loop, &answer);
    uv_timer_start(&answer, on_answer_held, 250, 0);
    CHECK(run_until(&f, &h->closed, 1));
    CHECK_INT(c->goaway, 0);
    CHECK(resp_is(h, "late", 4));
    /* Then nothing: GOAWAY after the idle timeout. */
    uint64_t t0 = uv_hrtime();
    CHECK(run_until(&f, &c->eof, 1));
    CHECK(uv_hrtime() - t0 >= 60000000ull);
    CHECK_INT(c->goaway, 1);
    CHECK_INT(c->goaway_code, NGHTTP2_NO_ERROR);
    CHECK_STR(c->goaway_debug, "idle timeout");
    client_close(c);
    cstream_free(h);
    CHECK(fixture_done(&f));
}

TEST(request_timeout_h2_stream)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.request_timeout_ms = 80;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *slow = client_call_ex(c, "/t/Echo", "abc", 3, NULL, 0, 100, "application/grpc");
    uint64_t t0 = uv_hrtime();
    CHECK(run_until(&f, &slow->closed, 1));
    CHECK(uv_hrtime() - t0 >= 60000000ull);
    CHECK_INT(slow->grpc_status, HK_STATUS_DEADLINE_EXCEEDED);
    CHECK(strstr(slow->grpc_message, "did not arrive whole within 80 ms"));
    CHECK_INT(T.calls, 0);
    /* Only the stream: the connection goes on. */
    cstream_t *e = client_call(c, "/t/Echo", "ok", 2, NULL);
    CHECK(run_until(&f, &e->closed, 1));
    CHECK(resp_is(e, "ok", 2));
    CHECK_INT(c->goaway, 0);
    client_close(c);
    cstream_free(slow);
    cstream_free(e);
    CHECK(fixture_done(&f));
}

TEST(h1_one_byte_at_a_time_is_408)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.request_timeout_ms = 150;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    h1_head(c, "/t/Echo", "Content-Length: 100");
    uint64_t t0 = uv_hrtime();
    /* A byte every 20 ms: bytes do not buy time. */
    for (int i = 0; i < 50 && !c->eof; i++) {
        client_write(c, "z", 1);
        run_for(&f, 20);
    }
    CHECK(c->eof);
    uint64_t took = uv_hrtime() - t0;
    CHECK(took >= 120000000ull && took < 600000000ull);
    CHECK(strstr(c->raw_in, "HTTP/1.1 408 Request Timeout\r\n") == c->raw_in);
    CHECK_INT(T.calls, 0);
    client_close(c);
    CHECK(fixture_done(&f));
}

/* --- connection caps ---------------------------------------------------------------- */

TEST(per_uid_cap_goaway)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_connections_per_uid = 2;
    f.opts.privileged = test_privileged;
    privileged_answer = 0;
    CHECK_INT(fixture_start(&f), 0);
    client_t *a = client_new(&f.loop, f.path, 0), *b = client_new(&f.loop, f.path, 0);
    cstream_t *sa = client_call(a, "/t/Echo", "a", 1, NULL);
    cstream_t *sb = client_call(b, "/t/Echo", "b", 1, NULL);
    CHECK(run_until(&f, &sb->closed, 1));
    CHECK(run_until(&f, &sa->closed, 1));
    client_t *c = client_new(&f.loop, f.path, 0);
    CHECK(run_until(&f, &c->eof, 1));
    CHECK_INT(c->goaway, 1);
    CHECK_INT(c->goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(strstr(c->goaway_debug, "max_connections_per_uid 2"));
    CHECK_INT(stat_of("refused"), 1);
    client_close(c);
    /* An admin is not held to it. */
    privileged_answer = 1;
    client_t *d = client_new(&f.loop, f.path, 0);
    cstream_t *sd = client_call(d, "/t/Echo", "d", 1, NULL);
    CHECK(run_until(&f, &sd->closed, 1));
    CHECK(resp_is(sd, "d", 1));
    client_close(a);
    client_close(b);
    client_close(d);
    cstream_free(sa);
    cstream_free(sb);
    cstream_free(sd);
    CHECK(fixture_done(&f));
}

TEST(admin_reserve)
{
    fixture_t f;
    client_t *c[5];
    cstream_t *st[5] = {0};
    fixture_init(&f);
    f.opts.max_connections = 4;
    f.opts.admin_reserve = 2;
    f.opts.privileged = test_privileged;
    privileged_answer = 0;
    CHECK_INT(fixture_start(&f), 0);
    for (int i = 0; i < 3; i++) {
        c[i] = client_new(&f.loop, f.path, 0);
        st[i] = client_call(c[i], "/t/Echo", "n", 1, NULL);
        CHECK(run_until(&f, &st[i]->closed, 1));
    }
    CHECK(resp_is(st[0], "n", 1));
    CHECK(resp_is(st[1], "n", 1));
    CHECK_INT(st[2]->grpc_status, -1); /* refused: the last two are the admins' */
    CHECK(strstr(c[2]->goaway_debug, "kept for admins"));
    client_close(c[2]);
    run_for(&f, 20);
    privileged_answer = 1;
    for (int i = 2; i < 5; i++) {
        c[i] = client_new(&f.loop, f.path, 0);
        cstream_free(st[i]);
        st[i] = client_call(c[i], "/t/Echo", "a", 1, NULL);
        CHECK(run_until(&f, &st[i]->closed, 1));
    }
    CHECK(resp_is(st[2], "a", 1));
    CHECK(resp_is(st[3], "a", 1));
    CHECK_INT(st[4]->grpc_status, -1); /* past max_connections: admins too */
    CHECK(strstr(c[4]->goaway_debug, "too many connections"));
    CHECK_INT(stat_of("refused"), 2);
    for (int i = 0; i < 5; i++) {
        client_close(c[i]);
        cstream_free(st[i]);
    }
    CHECK(fixture_done(&f));
}

/* A request line already waiting when the connection is refused: 503. */
TEST(refused_http1_gets_503)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_connections_per_uid = 1;
    CHECK_INT(fixture_start(&f), 0);
    client_t *a = client_new(&f.loop, f.path, 0);
    cstream_t *sa = client_call(a, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &sa->closed, 1));
    /* A blocking socket: connected and written before the server accepts. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    CHECK(strlen(f.path) < sizeof sun.sun_path);
    memcpy(sun.sun_path, f.path, strlen(f.path) + 1);
    CHECK_INT(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    static const char req[] = "POST /t/Echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
    CHECK_INT(write(fd, req, sizeof req - 1), (int)(sizeof req - 1));
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (stat_of("refused") == 0 && uv_hrtime() < end)
        run_for(&f, 5);
    char buf[1024] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    CHECK(strstr(buf, "HTTP/1.1 503 Service Unavailable\r\n") == buf);
    CHECK(strstr(buf, "Connection: close\r\n"));
    close(fd);
    client_close(a);
    cstream_free(sa);
    CHECK(fixture_done(&f));
}

/* --- fatal session errors ------------------------------------------------------------ */

TEST(continuation_flood_ends_with_goaway)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 1);
    CHECK(run_until(&f, &c->connected, 1));
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    static const uint8_t settings[9] = {0, 0, 0, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0};
    client_write(c, preface, sizeof preface - 1);
    client_write(c, settings, sizeof settings);
    /* HEADERS without END_HEADERS on stream 1, then 1,000 empty CONTINUATIONs. */
    uint8_t frame[9] = {0, 0, 0, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 0, 0, 0, 1};
    client_write(c, frame, sizeof frame);
    frame[3] = NGHTTP2_CONTINUATION;
    frame[4] = 0;
    for (int i = 0; i < 1000; i++)
        client_write(c, frame, sizeof frame);
    CHECK(run_until(&f, &c->eof, 1));
    uint32_t code = 0;
    char debug[256];
    int settings_first = 0;
    CHECK(raw_goaway(c, &code, debug, sizeof debug, &settings_first));
    CHECK(settings_first);
    CHECK_INT(code, NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK_INT(T.calls, 0);
    client_close(c);
    /* Everyone else goes on. */
    client_t *g = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(g, "/t/Echo", "ok", 2, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK(resp_is(st, "ok", 2));
    client_close(g);
    cstream_free(st);
    CHECK(fixture_done(&f));
}
