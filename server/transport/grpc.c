/* grpc.c -- gRPC's wire rules that need no socket: message framing, grpc-timeout, grpc-message */
#include "transport/grpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/status.h"

int hk_grpc_prefix_parse(const uint8_t *p, int *compressed, uint32_t *len)
{
    if (p[0] > 1) return HK_EINVAL;
    *compressed = p[0];
    *len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | (uint32_t)p[4];
    return 0;
}

void hk_grpc_prefix_write(uint8_t *p, uint32_t len)
{
    p[0] = 0;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
}

int hk_grpc_timeout_parse(const char *s, size_t n, uint64_t *out_ns)
{
    uint64_t digits = 0, unit_ns;

    /* The spec: TimeoutValue is 1 to 8 digits, then exactly one unit. */
    if (n < 2 || n > 9) return HK_EINVAL;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9') return HK_EINVAL;
        digits = digits * 10 + (uint64_t)(s[i] - '0');
    }
    switch (s[n - 1]) {
    case 'H': unit_ns = 3600ull * 1000000000ull; break;
    case 'M': unit_ns = 60ull * 1000000000ull; break;
    case 'S': unit_ns = 1000000000ull; break;
    case 'm': unit_ns = 1000000ull; break;
    case 'u': unit_ns = 1000ull; break;
    case 'n': unit_ns = 1ull; break;
    default: return HK_EINVAL;
    }
    /* 99999999H is about 11,000 years: more than a uint64 of nanoseconds. */
    *out_ns = digits > UINT64_MAX / unit_ns ? UINT64_MAX : digits * unit_ns;
    return 0;
}

/* How many bytes of s (length n) to keep so that at most max bytes remain
 * and no UTF-8 sequence is cut in half. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t k = max;
    /* Back up over continuation bytes (10xxxxxx) to the start of the
     * sequence that straddles the cut, and drop that whole sequence. */
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

int hk_grpc_message_encode(const char *msg, size_t max_in, char **out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = msg ? utf8_cut(msg, strlen(msg), max_in) : 0;
    char *buf = malloc(3 * n + 1), *w = buf;

    if (!buf) return HK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c >= 0x20 && c <= 0x7E && c != '%') {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        }
    }
    *w = '\0';
    *out = buf;
    return 0;
}

int hk_grpc_content_type_ok(const char *v, size_t n)
{
    static const char base[] = "application/grpc";
    size_t b = sizeof base - 1;

    if (n < b || strncasecmp(v, base, b) != 0) return 0;
    return n == b || v[b] == '+' || v[b] == ';';
}

static int reader_fail(hk_grpc_reader_t *r, int err, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reader_fail(hk_grpc_reader_t *r, int err, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->status = status;
    return err;
}

/* Makes room for at least need bytes. The buffer grows with the data that
 * actually arrives (doubling, capped at the announced length): a client that
 * announces 4 MiB and sends nothing costs nothing. */
static int reader_reserve(hk_grpc_reader_t *r, size_t need)
{
    if (need <= r->cap) return 0;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > r->len) cap = r->len;
    uint8_t *buf = realloc(r->buf, cap);
    if (!buf) return HK_ENOMEM;
    r->buf = buf;
    r->cap = cap;
    return 0;
}

int hk_grpc_reader_feed(hk_grpc_reader_t *r, const uint8_t *data, size_t n)
{
    while (n > 0) {
        if (r->done)
            return reader_fail(r, HK_EINVAL, HK_STATUS_INTERNAL,
                               "more than one request message on a unary call");
        if (r->have_prefix < HK_GRPC_PREFIX_BYTES) {
            size_t k = HK_GRPC_PREFIX_BYTES - r->have_prefix;
            if (k > n) k = n;
            memcpy(r->prefix + r->have_prefix, data, k);
            r->have_prefix += k;
            data += k;
            n -= k;
            if (r->have_prefix < HK_GRPC_PREFIX_BYTES) return 0;
            if (hk_grpc_prefix_parse(r->prefix, &r->compressed, &r->len) != 0)
                return reader_fail(r, HK_EINVAL, HK_STATUS_INTERNAL, "bad message flag byte %u",
                                   r->prefix[0]);
            if (r->compressed)
                return reader_fail(r, HK_EINVAL, HK_STATUS_UNIMPLEMENTED,
                                   "compressed messages are not supported");
            if (r->len > r->max)
                return reader_fail(r, HK_ETOOBIG, HK_STATUS_RESOURCE_EXHAUSTED,
                                   "message of %lu bytes exceeds the limit of %zu",
                                   (unsigned long)r->len, r->max);
            if (r->len == 0) r->done = 1;
            continue; /* the body may start in a later chunk */
        }
        size_t k = r->len - r->have;
        if (k > n) k = n;
        if (reader_reserve(r, r->have + k) != 0)
            return reader_fail(r, HK_ENOMEM, HK_STATUS_INTERNAL, "out of memory");
        memcpy(r->buf + r->have, data, k);
        r->have += k;
        data += k;
        n -= k;
        if (r->have == r->len) r->done = 1;
    }
    return 0;
}

int hk_grpc_reader_finish(hk_grpc_reader_t *r, const uint8_t **msg, size_t *len)
{
    if (!r->done) {
        if (r->have_prefix == 0)
            return reader_fail(r, HK_EINVAL, HK_STATUS_INTERNAL, "the request has no message");
        return reader_fail(r, HK_EINVAL, HK_STATUS_INTERNAL,
                           "the request ended inside a message (%zu of %lu bytes)", r->have,
                           (unsigned long)r->len);
    }
    /* An empty message still needs a valid pointer for the handler. */
    *msg = r->buf ? r->buf : (const uint8_t *)"";
    *len = r->have;
    return 0;
}

void hk_grpc_reader_free(hk_grpc_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->have = 0;
}
