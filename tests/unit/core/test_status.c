/* test_status.c -- gRPC status names; the server's and libhookd's headers share one enum */
#include "core/status.h"
#include "unit.h"

/* Both headers in one file: they once defined the enum twice and did not compile together. */
#include <hookd/client.h>

TEST(codes_as_grpc_numbers_them)
{
    CHECK_INT(HK_STATUS_OK, 0);
    CHECK_INT(HK_STATUS_NOT_FOUND, 5);
    CHECK_INT(HK_STATUS_RESOURCE_EXHAUSTED, 8);
    CHECK_INT(HK_STATUS_UNAVAILABLE, 14);
    CHECK_INT(HK_STATUS_UNAUTHENTICATED, 16);
    hk_status_t st = HK_STATUS_DEADLINE_EXCEEDED;
    CHECK_INT(st, 4);
}

TEST(names)
{
    CHECK_STR(hk_status_name(HK_STATUS_OK), "OK");
    CHECK_STR(hk_status_name(HK_STATUS_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    CHECK_STR(hk_status_name(HK_STATUS_FAILED_PRECONDITION), "FAILED_PRECONDITION");
    CHECK_STR(hk_status_name(HK_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
    CHECK_STR(hk_status_name(17), "UNKNOWN");
    CHECK_STR(hk_status_name(-5), "UNKNOWN");
}
