/* http1.c -- HTTP/1.1 requests read from a byte stream one at a time, and response heads
 *
 * The parser is Debian's libhttp-parser (Node's http_parser 2.9, frozen
 * upstream, maintained with Debian's patches), not the picohttpparser inside
 * libh2o-dev. Reasons:
 *  - it is a standalone 90 KB library with one header; picohttpparser is only
 *    reachable through libh2o-dev, which drags all of libh2o (and libssl,
 *    libwslay, zlib) into hookd for two functions;
 *  - it is a streaming, callback parser that keeps its own state across
 *    reads: a request split over any number of reads needs no re-parsing and
 *    no buffering of our own, where phr_parse_request re-parses the whole
 *    header from its start on every read;
 *  - it does the framing rules we would otherwise code by hand around pico:
 *    Content-Length vs chunked (and refuses both at once, the smuggling
 *    case), chunk sizes and trailers, keep-alive for 1.0 and 1.1
 *    (http_should_keep_alive), a header-size limit, and pausing at the end of
 *    a message, which is exactly how pipelined requests are taken one at a
 *    time.
 * This is the only file that includes http_parser.h. */
#include "transport/http1.h"

#include <ctype.h>
#include <limits.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

struct hk_http1 {
    http_parser parser;
    http_parser_settings settings;
    size_t max_body;
    hk_http1_state_t state;
    hk_http1_request_t req;
    int want_continue;
    int stop_at_headers; /* hk_http1_stop_at_headers */
    int at_headers;      /* paused at the end of the headers */
    int err_status;      /* set by a callback that refused the request */
    char err[160];
    /* Names and values, NUL-terminated, one after another: the parser's
     * header limit bounds what it holds. Fields point into it. */
    char arena[HK_HTTP1_HEADER_MAX + 2 * HK_HTTP1_FIELDS_MAX + 64];
    size_t arena_len;
    size_t name_off[HK_HTTP1_FIELDS_MAX], value_off[HK_HTTP1_FIELDS_MAX];
    int piece; /* what the bytes at the arena's end are part of */
};

enum { PIECE_URL, PIECE_NAME, PIECE_VALUE };

static int refuse(hk_http1_t *h, int status, const char *msg)
{
    h->err_status = status;
    snprintf(h->err, sizeof h->err, "%s", msg);
    return 1; /* any non-zero return stops the parser */
}

/* Appends a piece of a name, value or URL to the arena. */
static int arena_put(hk_http1_t *h, const char *at, size_t n)
{
    if (n > sizeof h->arena - h->arena_len - 1)
        return refuse(h, 431, "request header fields too large");
    memcpy(h->arena + h->arena_len, at, n);
    h->arena_len += n;
    return 0;
}

static int arena_end(hk_http1_t *h)
{
    if (h->arena_len + 1 > sizeof h->arena)
        return refuse(h, 431, "request header fields too large");
    h->arena[h->arena_len++] = '\0';
    return 0;
}

static int on_message_begin(http_parser *p)
{
    hk_http1_t *h = p->data;
    h->state = HK_HTTP1_HEADERS;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    return arena_put(p->data, at, n);
}

/* A new piece (a name after the URL or a value, a value after its name):
 * closes the piece before it. */
static int piece_start(hk_http1_t *h, int piece)
{
    if (arena_end(h)) return 1;
    if (piece == PIECE_NAME) {
        if (h->req.n_fields == HK_HTTP1_FIELDS_MAX)
            return refuse(h, 431, "too many request header fields");
        h->name_off[h->req.n_fields] = h->arena_len;
        h->value_off[h->req.n_fields] = SIZE_MAX;
        h->req.n_fields++;
    } else {
        h->value_off[h->req.n_fields - 1] = h->arena_len;
    }
    h->piece = piece;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    hk_http1_t *h = p->data;
    /* Trailers after a chunked body: nothing in them matters to us. */
    if (h->state != HK_HTTP1_HEADERS) return 0;
    if (h->piece != PIECE_NAME && piece_start(h, PIECE_NAME)) return 1;
    return arena_put(h, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    hk_http1_t *h = p->data;
    if (h->state != HK_HTTP1_HEADERS) return 0;
    if (h->piece != PIECE_VALUE && piece_start(h, PIECE_VALUE)) return 1;
    return arena_put(h, at, n);
}

static const hk_http1_field_t *find(const hk_http1_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (strcmp(r->fields[i].name, name) == 0) return &r->fields[i];
    return NULL;
}

static int on_headers_complete(http_parser *p)
{
    hk_http1_t *h = p->data;
    hk_http1_request_t *r = &h->req;

    /* Close the last piece; a name without a value has an empty one. */
    if (h->piece == PIECE_NAME && piece_start(h, PIECE_VALUE)) return 3;
    if (arena_end(h)) return 3;
    r->path = h->arena;
    for (size_t i = 0; i < r->n_fields; i++) {
        hk_http1_field_t *f = &r->fields[i];
        char *name = h->arena + h->name_off[i];
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        f->name = name;
        f->name_len = strlen(name);
        f->value = h->arena + h->value_off[i];
        f->value_len = strlen(f->value);
        /* Optional whitespace after the value is not part of it. */
        while (f->value_len &&
               (f->value[f->value_len - 1] == ' ' || f->value[f->value_len - 1] == '\t'))
            ((char *)f->value)[--f->value_len] = '\0';
    }
    snprintf(r->method, sizeof r->method, "%s", http_method_str((enum http_method)p->method));
    r->major = p->http_major;
    r->minor = p->http_minor;
    h->state = HK_HTTP1_BODY;
    if (r->major != 1) {
        refuse(h, 505, "only HTTP/1.0 and HTTP/1.1 are served");
        return 3;
    }
    r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    /* A body announced past the limit is refused before any of it comes. */
    if (p->content_length != ULLONG_MAX && p->content_length > h->max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", h->max_body);
        refuse(h, 413, msg);
        return 3;
    }
    const hk_http1_field_t *expect = find(r, "expect");
    if (expect) {
        if (strcasecmp(expect->value, "100-continue") != 0) {
            refuse(h, 417, "only \"Expect: 100-continue\" is understood");
            return 3;
        }
        h->want_continue = 1;
    }
    /* Paused on the headers' last byte, which the parser takes again when
     * resumed: the caller looks at the request before any body is read. */
    if (h->stop_at_headers) {
        h->at_headers = 1;
        http_parser_pause(p, 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    hk_http1_t *h = p->data;
    int rc = hk_connect_body_append(&h->req.body, (const uint8_t *)at, n);
    if (rc == 0) return 0;
    if (rc == HK_ETOOBIG) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", h->max_body);
        return refuse(h, 413, msg);
    }
    return refuse(h, 503, "out of memory");
}

static int on_message_complete(http_parser *p)
{
    hk_http1_t *h = p->data;
    h->state = HK_HTTP1_DONE;
    /* One request at a time: the parser stops here until hk_http1_next. */
    http_parser_pause(p, 1);
    return 0;
}

static void request_reset(hk_http1_t *h)
{
    hk_connect_body_free(&h->req.body);
    size_t max = h->req.body.max;
    memset(&h->req, 0, sizeof h->req);
    h->req.body.max = max;
    h->arena_len = 0;
    h->piece = PIECE_URL; /* the URL goes first, at the arena's start */
    h->want_continue = 0;
    h->state = HK_HTTP1_IDLE;
}

int hk_http1_new(size_t max_body, hk_http1_t **out)
{
    hk_http1_t *h = calloc(1, sizeof *h);
    if (!h) return HK_ENOMEM;
    /* Process-wide in http_parser; every parser here uses the same. */
    http_parser_set_max_header_size(HK_HTTP1_HEADER_MAX);
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    http_parser_settings_init(&h->settings);
    h->settings.on_message_begin = on_message_begin;
    h->settings.on_url = on_url;
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_value = on_header_value;
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    h->max_body = max_body;
    h->req.body.max = max_body;
    request_reset(h);
    *out = h;
    return 0;
}

void hk_http1_free(hk_http1_t *h)
{
    if (!h) return;
    hk_connect_body_free(&h->req.body);
    free(h);
}

int hk_http1_feed(hk_http1_t *h, const uint8_t *data, size_t len, size_t *used)
{
    *used = 0;
    if (h->state == HK_HTTP1_DONE) return HK_HTTP1_REQUEST;
    if (h->err_status) return HK_EINVAL;
    if (h->at_headers) {
        h->at_headers = 0;
        http_parser_pause(&h->parser, 0);
    }
    if (len == 0) return HK_HTTP1_MORE; /* 0 would tell http_parser the stream ended */
    size_t n = http_parser_execute(&h->parser, &h->settings, (const char *)data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
    *used = n;
    if (e == HPE_OK && n == len) return HK_HTTP1_MORE;
    if (e == HPE_PAUSED && h->state == HK_HTTP1_DONE) return HK_HTTP1_REQUEST;
    if (e == HPE_PAUSED && h->at_headers) return HK_HTTP1_HEADERS_DONE;
    if (!h->err_status) {
        if (e == HPE_HEADER_OVERFLOW)
            refuse(h, 431, "request header fields too large");
        else
            refuse(h, 400, e == HPE_OK ? "bad request" : http_errno_description(e));
    }
    return h->err_status == 413 ? HK_ETOOBIG : HK_EINVAL;
}

void hk_http1_stop_at_headers(hk_http1_t *h, int on)
{
    h->stop_at_headers = on;
}

void hk_http1_take_body(hk_http1_t *h, hk_connect_body_t *out)
{
    *out = h->req.body;
    h->req.body.buf = NULL;
    h->req.body.len = h->req.body.cap = 0;
}

const hk_http1_request_t *hk_http1_request(const hk_http1_t *h)
{
    return &h->req;
}

void hk_http1_next(hk_http1_t *h)
{
    request_reset(h);
    http_parser_pause(&h->parser, 0);
}

hk_http1_state_t hk_http1_state(const hk_http1_t *h)
{
    return h->state;
}

int hk_http1_take_continue(hk_http1_t *h)
{
    int c = h->want_continue && h->state == HK_HTTP1_BODY;
    h->want_continue = 0;
    return c;
}

int hk_http1_error(const hk_http1_t *h, const char **message)
{
    if (message) *message = h->err_status ? h->err : "bad request";
    return h->err_status ? h->err_status : 400;
}

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 302: return "Found";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

size_t hk_http1_response_head(char *buf, size_t n, int status, const char *content_type,
                              size_t content_length, int close, unsigned minor)
{
    int k = snprintf(buf, n, "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%s\r\n", status,
                     reason(status), content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", content_length,
                     close        ? "Connection: close\r\n"
                     : minor == 0 ? "Connection: keep-alive\r\n"
                                  : "");
    return k < 0 || (size_t)k >= n ? 0 : (size_t)k;
}
