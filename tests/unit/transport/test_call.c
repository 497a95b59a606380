/* test_call.c -- one gRPC call: request checks, deadlines, answers, cancellation, outliving its
 * connection */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/status.h"
#include "fixture.h"
#include "h2client.h"
#include "unit.h"

TEST(trailers_only_error)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Fail", "x", 1, NULL);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 200);
    CHECK_INT(st->grpc_status, HK_STATUS_INVALID_ARGUMENT);
    CHECK_INT(st->header_frames, 1);
    CHECK_INT(st->trailers_only, 1);
    CHECK_INT(st->resp_len, 0);
    CHECK_STR(st->grpc_message, "name: 100%25 wrong %E2%9C%93");
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(oversized_message)
{
    fixture_t f;
    fixture_init(&f);
    f.opts.max_message_bytes = 1024;
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* The prefix announces 5 MiB; only 10 bytes follow and the stream stays
     * open: the answer must come from the prefix alone. */
    cstream_t *st =
        client_call_ex(c, "/t/Echo", "0123456789", 10, NULL, 0, 5u << 20, "application/grpc");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);
    CHECK_STR(st->grpc_message, "message of 5242880 bytes exceeds the limit of 1024");
    CHECK_INT(T.calls, 0);

    /* Exactly at the limit is fine; one byte over is not. */
    char *big = calloc(1, 1025);
    cstream_t *ok = client_call(c, "/t/Echo", big, 1024, NULL);
    cstream_t *over = client_call(c, "/t/Echo", big, 1025, NULL);
    CHECK(run_until(&f, &over->closed, 1));
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    CHECK_INT(ok->resp_len, 1029);
    CHECK_INT(over->grpc_status, HK_STATUS_RESOURCE_EXHAUSTED);
    free(big);
    client_close(c);
    cstream_free(st);
    cstream_free(ok);
    cstream_free(over);
    CHECK(fixture_done(&f));
}

TEST(compressed_flag_unimplemented)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call_ex(c, "/t/Echo", "zz", 2, NULL, 1, 0, "application/grpc");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_UNIMPLEMENTED);
    CHECK_INT(st->accept_encoding, 1);
    CHECK_INT(T.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(bad_content_type_415)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    /* application/json and application/proto are Connect's (tested apart). */
    cstream_t *st = client_call_ex(c, "/t/Echo", "{}", 2, NULL, 0, 0, "text/plain");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->http_status, 415);
    CHECK_INT(st->grpc_status, HK_STATUS_INTERNAL);
    CHECK_INT(T.calls, 0);
    /* The connection still serves good calls. */
    cstream_t *ok = client_call(c, "/t/Echo", "a", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    cstream_free(ok);
    CHECK(fixture_done(&f));
}

TEST(malformed_timeout_internal)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, "123456789S");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_INTERNAL);
    CHECK_STR(st->grpc_message, "malformed grpc-timeout");
    CHECK_INT(T.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(expired_deadline_not_dispatched)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Echo", "a", 1, "1n");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(T.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(deadline_while_handling_cancels)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    uint64_t t0 = uv_hrtime();
    cstream_t *st = client_call(c, "/t/Never", "a", 1, "50m");
    CHECK(run_until(&f, &st->closed, 1));
    CHECK(uv_hrtime() - t0 >= 45000000ull);
    CHECK_INT(st->grpc_status, HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(T.calls, 1);
    CHECK_INT(T.cancels, 1);
    CHECK_INT(T.cancelled_flag, 1);
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.calls, 0);
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(deadline_reported_to_handler)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Held", "a", 1, "10S");
    CHECK(run_until(&f, &T.calls, 1));
    uint64_t deadline = hk_call_deadline(T.held);
    CHECK(deadline >= uv_now(&f.loop) + 9000 && deadline <= uv_now(&f.loop) + 10001);
    hk_call_reply(T.held, (const uint8_t *)"ok", 2);
    CHECK(run_until(&f, &st->closed, 1));
    CHECK_INT(st->grpc_status, 0);
    CHECK(resp_is(st, "ok", 2));
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(client_reset_cancels)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Never", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    CHECK_INT(T.cancels, 0);
    client_reset(c, st);
    CHECK(run_until(&f, &T.cancels, 1));
    CHECK_INT(T.cancelled_flag, 1);
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.calls, 0);
    /* The connection goes on. */
    cstream_t *ok = client_call(c, "/t/Echo", "b", 1, NULL);
    CHECK(run_until(&f, &ok->closed, 1));
    CHECK_INT(ok->grpc_status, 0);
    client_close(c);
    cstream_free(st);
    cstream_free(ok);
    CHECK(fixture_done(&f));
}

TEST(cancel_registered_late_runs_from_loop)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/Held", "a", 1, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    client_reset(c, st);
    CHECK(run_until(&f, &st->closed, 1));
    /* Let the reset reach the server. */
    for (int i = 0; i < 20 && !hk_call_cancelled(T.held); i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK_INT(hk_call_cancelled(T.held), 1);
    T.in_on_cancel = 1;
    hk_call_on_cancel(T.held, on_cancel_count, NULL);
    T.in_on_cancel = 0;
    CHECK_INT(T.cancels, 0);
    CHECK(run_until(&f, &T.cancels, 1));
    hk_call_fail(T.held, HK_STATUS_CANCELLED, "late"); /* only frees */
    client_close(c);
    cstream_free(st);
    CHECK(fixture_done(&f));
}

TEST(call_survives_connection_close)
{
    fixture_t f;
    fixture_init(&f);
    CHECK_INT(fixture_start(&f), 0);
    client_t *c = client_new(&f.loop, f.path, 0);
    cstream_t *st = client_call(c, "/t/HeldCounted", "abc", 3, NULL);
    CHECK(run_until(&f, &T.calls, 1));
    client_close(c);
    CHECK(run_until(&f, &T.cancels, 1));
    hk_server_stats_t stats;
    hk_server_stats(T.server, &stats);
    CHECK_INT(stats.calls, 0);
    /* The request stays readable until the handler finishes the call. */
    size_t len;
    const uint8_t *req = hk_call_request(T.held, &len);
    CHECK_INT(len, 3);
    CHECK(memcmp(req, "abc", 3) == 0);
    CHECK_STR(hk_call_path(T.held), "/t/HeldCounted");
    hk_call_reply(T.held, (const uint8_t *)"late", 4); /* only frees */
    cstream_free(st);
    CHECK(fixture_done(&f));
}
