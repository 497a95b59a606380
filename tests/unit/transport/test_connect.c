/* test_connect.c -- Connect's wire rules: content types, Connect-Timeout-Ms, the code table */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/status.h"
#include "transport/connect.h"
#include "unit.h"

#define CODEC(s) hk_connect_codec(s, strlen(s))

TEST(content_types)
{
    CHECK_INT(CODEC("application/proto"), HK_CALL_CONNECT_PROTO);
    CHECK_INT(CODEC("application/json"), HK_CALL_CONNECT_JSON);
    CHECK_INT(CODEC("Application/JSON; charset=utf-8"), HK_CALL_CONNECT_JSON);
    CHECK_INT(CODEC("application/json ;charset=utf-8"), HK_CALL_CONNECT_JSON);
    CHECK_INT(CODEC("application/grpc"), HK_CALL_GRPC);
    CHECK_INT(CODEC("application/grpc+proto"), HK_CALL_GRPC);
    CHECK_INT(CODEC("application/jsonx"), -1);
    CHECK_INT(CODEC("application/protobuf"), -1);
    CHECK_INT(CODEC("text/plain"), -1);
    CHECK_INT(CODEC(""), -1);
    CHECK_STR(hk_connect_content_type(HK_CALL_CONNECT_PROTO), "application/proto");
    CHECK_STR(hk_connect_content_type(HK_CALL_CONNECT_JSON), "application/json");
}

TEST(timeout_parse)
{
    uint64_t ms = 0;
    CHECK_INT(hk_connect_timeout_parse("250", 3, &ms), 0);
    CHECK_INT(ms, 250);
    CHECK_INT(hk_connect_timeout_parse("9999999999", 10, &ms), 0);
    CHECK_INT(ms, 9999999999ull);
    CHECK_INT(hk_connect_timeout_parse("12345678901", 11, &ms), HK_EINVAL);
    CHECK_INT(hk_connect_timeout_parse("", 0, &ms), HK_EINVAL);
    CHECK_INT(hk_connect_timeout_parse("-5", 2, &ms), HK_EINVAL);
    CHECK_INT(hk_connect_timeout_parse("5s", 2, &ms), HK_EINVAL);
    CHECK_INT(hk_connect_timeout_parse(" 5", 2, &ms), HK_EINVAL);
}

TEST(code_table)
{
    /* The Connect spec's table, code by code. */
    static const struct {
        int status;
        const char *code;
        int http;
    } t[] = {
        {HK_STATUS_CANCELLED, "canceled", 499},
        {HK_STATUS_UNKNOWN, "unknown", 500},
        {HK_STATUS_INVALID_ARGUMENT, "invalid_argument", 400},
        {HK_STATUS_DEADLINE_EXCEEDED, "deadline_exceeded", 504},
        {HK_STATUS_NOT_FOUND, "not_found", 404},
        {HK_STATUS_ALREADY_EXISTS, "already_exists", 409},
        {HK_STATUS_PERMISSION_DENIED, "permission_denied", 403},
        {HK_STATUS_RESOURCE_EXHAUSTED, "resource_exhausted", 429},
        {HK_STATUS_FAILED_PRECONDITION, "failed_precondition", 400},
        {HK_STATUS_ABORTED, "aborted", 409},
        {HK_STATUS_OUT_OF_RANGE, "out_of_range", 400},
        {HK_STATUS_UNIMPLEMENTED, "unimplemented", 501},
        {HK_STATUS_INTERNAL, "internal", 500},
        {HK_STATUS_UNAVAILABLE, "unavailable", 503},
        {HK_STATUS_DATA_LOSS, "data_loss", 500},
        {HK_STATUS_UNAUTHENTICATED, "unauthenticated", 401},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECK_STR(hk_connect_code(t[i].status), t[i].code);
        CHECK_INT(hk_connect_http_status(t[i].status), t[i].http);
    }
    CHECK_STR(hk_connect_code(99), "unknown");
    CHECK_INT(hk_connect_http_status(-1), 500);
}

static int fake_json(const char *code, const char *message, char **out, size_t *len)
{
    size_t n = strlen(code) + strlen(message) + 2;
    *out = malloc(n);
    snprintf(*out, n, "%s|%s", code, message);
    *len = n - 1;
    return 0;
}

static int failing_json(const char *code, const char *message, char **out, size_t *len)
{
    (void)code, (void)message, (void)out, (void)len;
    return HK_ENOMEM;
}

TEST(error_body)
{
    char *body;
    size_t len;
    CHECK_INT(
        hk_connect_error_body(fake_json, HK_STATUS_NOT_FOUND, "no webhook 7", 100, &body, &len), 0);
    CHECK_STR(body, "not_found|no webhook 7");
    CHECK_INT(len, strlen(body));
    free(body);
    /* Cut on a character boundary: "é" is two bytes, never split. */
    CHECK_INT(hk_connect_error_body(fake_json, HK_STATUS_INTERNAL, "ab\xc3\xa9", 3, &body, &len),
              0);
    CHECK_STR(body, "internal|ab");
    free(body);
    /* No encoder, or a failing one: the code alone, still JSON. */
    CHECK_INT(hk_connect_error_body(NULL, HK_STATUS_UNAVAILABLE, "stopping", 100, &body, &len), 0);
    CHECK_STR(body, "{\"code\":\"unavailable\"}");
    free(body);
    CHECK_INT(hk_connect_error_body(failing_json, HK_STATUS_ABORTED, "x", 100, &body, &len), 0);
    CHECK_STR(body, "{\"code\":\"aborted\"}");
    free(body);
}

TEST(body_limit)
{
    hk_connect_body_t b = {.max = 10};
    CHECK_INT(hk_connect_body_append(&b, (const uint8_t *)"12345", 5), 0);
    CHECK_INT(hk_connect_body_append(&b, (const uint8_t *)"67890", 5), 0);
    CHECK_INT(b.len, 10);
    CHECK_INT(hk_connect_body_append(&b, (const uint8_t *)"x", 1), HK_ETOOBIG);
    CHECK_INT(b.len, 10);
    CHECK(memcmp(b.buf, "1234567890", 10) == 0);
    hk_connect_body_free(&b);
    CHECK(b.buf == NULL && b.len == 0);
}
