/* status.c -- gRPC status codes: names, the HTTP and HTTP/2 mappings, grpc-message */
#include <stdlib.h>

#include "client_int.h"
#include "core/status.h"

/* The names are hookd's own table (server/core/status.c, built into libhookd
 * too and not exported), so client and daemon spell every code alike. */
const char *hk_client_status_name(int status)
{
    return hk_status_name(status < 0 ? -status : status);
}

/* https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md */
int hkc_status_from_http(int http_status)
{
    switch (http_status) {
    case 400: return HK_STATUS_INTERNAL;
    case 401: return HK_STATUS_UNAUTHENTICATED;
    case 403: return HK_STATUS_PERMISSION_DENIED;
    case 404: return HK_STATUS_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return HK_STATUS_UNAVAILABLE;
    default: return HK_STATUS_UNKNOWN;
    }
}

/* The RST_STREAM mapping of gRPC's PROTOCOL-HTTP2 document; codes by number
 * so that this file needs no nghttp2 header. */
int hkc_status_from_h2(uint32_t h2_error)
{
    switch (h2_error) {
    case 0x7: return HK_STATUS_UNAVAILABLE;        /* REFUSED_STREAM */
    case 0x8: return HK_STATUS_CANCELLED;          /* CANCEL */
    case 0xb: return HK_STATUS_RESOURCE_EXHAUSTED; /* ENHANCE_YOUR_CALM */
    case 0xc: return HK_STATUS_PERMISSION_DENIED;  /* INADEQUATE_SECURITY */
    default: return HK_STATUS_INTERNAL;
    }
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *hkc_status_decode_message(const uint8_t *value, size_t len)
{
    char *out = malloc(len + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (value[i] == '%' && i + 2 < len && (hi = hex_value(value[i + 1])) >= 0 &&
            (lo = hex_value(value[i + 2])) >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[n++] = (char)value[i];
        }
    }
    out[n] = '\0';
    return out;
}
