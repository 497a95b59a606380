/* test_server.c -- the gRPC server: claiming the socket, serving, batching answers into writes,
 * stopping gracefully */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "core/error.h"
#include "core/status.h"
#include "fixture.h"
#include "h2client.h"
#include "unit.h"

TEST(echo_reply_with_trailers)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    struct stat st_sock;
    CHECK_INT(stat(f.path, &st_sock), 0);
    CHECK_INT(st_sock.st_mode & 0777, 0660);

    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "hello", 5, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 200);
    CHECK_INT(st->grpc_status, 0);
    CHECK_INT(st->header_frames, 2); /* headers, then trailers */
    CHECK_INT(st->trailers_only, 0);
    CHECK_INT(st->close_code, NGHTTP2_NO_ERROR);
    CHECK(resp_is(st, "hello", 5));
    CHECK_INT(T.calls, 1);

    /* An empty message is a message too. */
    cstream_t *empty = client_call(c, "/t/Echo", "", 0, NULL);
    CHECK(run_until(&f, &empty->closed, 1));
    CHECK_INT(empty->grpc_status, 0);
    CHECK_INT(empty->resp_len, 5);

    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.connections, 1);
    CHECK_INT(stats.calls, 0);
    CHECK_INT(stats.calls_total, 2);

    client_close(c);
    cstream_free(st);
    cstream_free(empty);
    CHECK(fixture_done(&f));
    CHECK_INT(T.stopped, 1);
    CHECK(access(f.path, F_OK) != 0); /* stop removed the socket file */
}

static void on_answer_gathered(uv_timer_t *t)
{
    for (int i = 0; i < T.n_gathered; i++) {
        size_t len;
        const uint8_t *req = hk_call_request(T.gathered[i], &len);
        if (i % 2)
            hk_call_reply(T.gathered[i], req, len);
        else
            hk_call_fail(T.gathered[i], HK_STATUS_ABORTED, "even");
    }
    uv_close((uv_handle_t *)t, NULL);
}

/* Answers given in one loop iteration (a group commit's) leave in one write
 * per connection: the client reads them all at once. */
TEST(answers_together_share_a_write)
{
    enum { N = 16 };
    fixture_t f;
    cstream_t *st[N];
    uv_timer_t answer;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "g%d", i);
        st[i] = client_call(c, "/t/Gather", msg, (size_t)n, NULL);
    }
    CHECK(run_until(&f, &T.n_gathered, N));
    for (int i = 0; i < 5; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    hk_server_stats_t before, after;
    hk_server_stats(T.server, &before);
    uv_timer_init(&f.loop, &answer);
    uv_timer_start(&answer, on_answer_gathered, 0, 0);
    CHECK(run_until(&f, &c->streams_closed, N));
    hk_server_stats(T.server, &after);
    CHECK_INT(after.writes - before.writes, 1);
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "g%d", i);
        if (i % 2) {
            CHECK_INT(st[i]->grpc_status, 0);
            CHECK(resp_is(st[i], msg, (size_t)n));
        } else {
            CHECK_INT(st[i]->grpc_status, HK_STATUS_ABORTED);
        }
        cstream_free(st[i]);
    }
    client_close(c);
    CHECK(fixture_done(&f));
}

TEST(stale_socket_replaced)
{
    fixture_t f;
    fixture_init(&f);
    /* A socket file whose server is gone: bound, never listened, closed. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CHECK(strlen(f.path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, f.path, strlen(f.path) + 1);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    CHECK_INT(access(f.path, F_OK), 0);

    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(not_a_socket_left_alone)
{
    fixture_t f;
    fixture_init(&f);
    FILE *fp = fopen(f.path, "w");
    CHECK(fp != NULL);
    fputs("precious", fp);
    fclose(fp);
    CHECK_INT(fixture_start(&f), HK_EIO);
    CHECK_INT(access(f.path, F_OK), 0);
    CHECK(fixture_done(&f));
}

TEST(live_socket_in_use)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    hk_server_t *second = NULL;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &second), HK_EADDRINUSE);
    CHECK(second == NULL);
    /* The first still serves. */
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(bad_options)
{
    fixture_t f;
    hk_server_t *s = NULL;
    fixture_init(&f);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    f.opts.socket_path = longpath;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &s), HK_EINVAL);
    f.opts.socket_path = f.path;
    f.opts.on_call = NULL;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &s), HK_EINVAL);
    CHECK(s == NULL);
    CHECK(fixture_done(&f));
}

TEST(graceful_stop_finishes_in_flight)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Held", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));

    hk_server_stop(T.server, 5000, on_stopped, NULL);
    CHECK_INT(T.stopped, 0);          /* done runs from the loop, later */
    CHECK(access(f.path, F_OK) != 0); /* no new clients can come */
    for (int i = 0; i < 5; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(T.stopped, 0); /* the call is still in flight */
    CHECK_INT(st->closed, 0);

    hk_call_reply(T.held, (const uint8_t *)"finished", 8);
    CHECK(run_until(&f, &T.stopped, 1));
    CHECK_INT(st->grpc_status, 0);
    CHECK(resp_is(st, "finished", 8));
    CHECK_INT(T.cancels, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(graceful_stop_grace_over)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Never", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    hk_server_stop(T.server, 30, on_stopped, NULL);
    CHECK(run_until(&f, &T.stopped, 1));
    CHECK_INT(T.cancels, 1);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_UNAVAILABLE);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(stop_with_idle_connection)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    uint64_t t0 = uv_hrtime();
    hk_server_stop(T.server, 5000, on_stopped, NULL);
    CHECK(run_until(&f, &T.stopped, 1));
    CHECK(uv_hrtime() - t0 < 1000000000ull); /* GOAWAY, not the grace period */
    CHECK(run_until(&f, &c->eof, 1));
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(bind_failure_leaves_nothing_behind)
{
    fixture_t f;
    hk_server_t *s = NULL;
    fixture_init(&f);
    char path[300];
    snprintf(path, sizeof path, "%s/no/such/dir/hookd.sock", hk_test_tmpdir());
    f.opts.socket_path = path;
    CHECK_INT(hk_server_start(&f.loop, &f.opts, &s), HK_EIO);
    CHECK(s == NULL);
    /* No handle was left for the loop to close: a daemon that fails to
     * start can return at once. */
    uv_close((uv_handle_t *)&f.tick, NULL);
    CHECK_INT(uv_run(&f.loop, UV_RUN_NOWAIT), 0);
    CHECK_INT(uv_loop_close(&f.loop), 0);
}
