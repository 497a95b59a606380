/* status.h -- gRPC status codes, numbered as gRPC numbers them: libhookd's and hookd's own */
#ifndef HOOKD_STATUS_H
#define HOOKD_STATUS_H

/*
 * Included by <hookd/client.h>; hookd's server code uses the same enum
 * (server/core/status.h), so a client and the daemon cannot disagree on a
 * code. Names: hk_client_status_name (libhookd).
 */

typedef enum hk_status {
    HK_STATUS_OK = 0,
    HK_STATUS_CANCELLED = 1,
    HK_STATUS_UNKNOWN = 2,
    HK_STATUS_INVALID_ARGUMENT = 3,
    HK_STATUS_DEADLINE_EXCEEDED = 4,
    HK_STATUS_NOT_FOUND = 5,
    HK_STATUS_ALREADY_EXISTS = 6,
    HK_STATUS_PERMISSION_DENIED = 7,
    HK_STATUS_RESOURCE_EXHAUSTED = 8,
    HK_STATUS_FAILED_PRECONDITION = 9,
    HK_STATUS_ABORTED = 10,
    HK_STATUS_OUT_OF_RANGE = 11,
    HK_STATUS_UNIMPLEMENTED = 12,
    HK_STATUS_INTERNAL = 13,
    HK_STATUS_UNAVAILABLE = 14,
    HK_STATUS_DATA_LOSS = 15,
    HK_STATUS_UNAUTHENTICATED = 16
} hk_status_t;

#endif
