/* connect.c -- the Connect protocol's wire rules that need no socket: content types, timeouts,
 * error codes, unframed bodies */
#include "transport/connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/status.h"
#include "transport/grpc.h"

/* 1 when v (n bytes) is the media type t, alone or followed by parameters
 * (";", optionally after spaces). */
static int media_type_is(const char *v, size_t n, const char *t)
{
    size_t k = strlen(t);
    if (n < k || strncasecmp(v, t, k) != 0) return 0;
    while (k < n && (v[k] == ' ' || v[k] == '\t'))
        k++;
    return k == n || v[k] == ';';
}

int hk_connect_codec(const char *v, size_t n)
{
    if (media_type_is(v, n, "application/proto")) return HK_CALL_CONNECT_PROTO;
    if (media_type_is(v, n, "application/json")) return HK_CALL_CONNECT_JSON;
    if (hk_grpc_content_type_ok(v, n)) return HK_CALL_GRPC;
    return -1;
}

const char *hk_connect_content_type(int codec)
{
    return codec == HK_CALL_CONNECT_PROTO ? "application/proto" : "application/json";
}

int hk_connect_timeout_parse(const char *s, size_t n, uint64_t *out_ms)
{
    uint64_t v = 0;
    if (n < 1 || n > 10) return HK_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return HK_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out_ms = v;
    return 0;
}

static const struct {
    const char *code;
    int http;
} codes[] = {
    [HK_STATUS_OK] = {"ok", 200},
    [HK_STATUS_CANCELLED] = {"canceled", 499},
    [HK_STATUS_UNKNOWN] = {"unknown", 500},
    [HK_STATUS_INVALID_ARGUMENT] = {"invalid_argument", 400},
    [HK_STATUS_DEADLINE_EXCEEDED] = {"deadline_exceeded", 504},
    [HK_STATUS_NOT_FOUND] = {"not_found", 404},
    [HK_STATUS_ALREADY_EXISTS] = {"already_exists", 409},
    [HK_STATUS_PERMISSION_DENIED] = {"permission_denied", 403},
    [HK_STATUS_RESOURCE_EXHAUSTED] = {"resource_exhausted", 429},
    [HK_STATUS_FAILED_PRECONDITION] = {"failed_precondition", 400},
    [HK_STATUS_ABORTED] = {"aborted", 409},
    [HK_STATUS_OUT_OF_RANGE] = {"out_of_range", 400},
    [HK_STATUS_UNIMPLEMENTED] = {"unimplemented", 501},
    [HK_STATUS_INTERNAL] = {"internal", 500},
    [HK_STATUS_UNAVAILABLE] = {"unavailable", 503},
    [HK_STATUS_DATA_LOSS] = {"data_loss", 500},
    [HK_STATUS_UNAUTHENTICATED] = {"unauthenticated", 401},
};

const char *hk_connect_code(int status)
{
    if (status < 0 || status > HK_STATUS_UNAUTHENTICATED) status = HK_STATUS_UNKNOWN;
    return codes[status].code;
}

int hk_connect_http_status(int status)
{
    if (status < 0 || status > HK_STATUS_UNAUTHENTICATED) status = HK_STATUS_UNKNOWN;
    return codes[status].http;
}

size_t hk_connect_error_fallback(int status, char *buf, size_t n)
{
    int k = snprintf(buf, n, "{\"code\":\"%s\"}", hk_connect_code(status));
    if (k < 0) return 0;
    return (size_t)k < n ? (size_t)k : n ? n - 1 : 0;
}

int hk_connect_error_body(hk_call_error_body_fn fn, int status, const char *message,
                          size_t max_message, char **out, size_t *len)
{
    if (fn) {
        size_t n = message ? strlen(message) : 0;
        char *cut = NULL;
        if (n > max_message) {
            /* Back up over continuation bytes: never half a character. */
            while (max_message > 0 && ((unsigned char)message[max_message] & 0xC0) == 0x80)
                max_message--;
            if (!(cut = strndup(message, max_message))) return HK_ENOMEM;
        }
        int rc = fn(hk_connect_code(status), cut ? cut : message ? message : "", out, len);
        free(cut);
        if (rc == 0) return 0;
    }
    char buf[64];
    size_t n = hk_connect_error_fallback(status, buf, sizeof buf);
    if (!(*out = malloc(n + 1))) return HK_ENOMEM;
    memcpy(*out, buf, n + 1);
    *len = n;
    return 0;
}

size_t hk_connect_body_cap_for(const hk_connect_body_t *b, size_t need)
{
    if (need <= b->cap) return b->cap;
    /* Grows with what arrives (doubling), never past max. */
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    return cap > b->max ? b->max : cap;
}

int hk_connect_body_append(hk_connect_body_t *b, const uint8_t *data, size_t n)
{
    if (n > b->max - b->len) return HK_ETOOBIG;
    if (b->len + n > b->cap) {
        size_t cap = hk_connect_body_cap_for(b, b->len + n);
        uint8_t *buf = realloc(b->buf, cap ? cap : 1);
        if (!buf) return HK_ENOMEM;
        b->buf = buf;
        b->cap = cap;
    }
    if (n) memcpy(b->buf + b->len, data, n);
    b->len += n;
    return 0;
}

void hk_connect_body_free(hk_connect_body_t *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}
