/* http1.h -- HTTP/1.1 requests read from a byte stream one at a time, and response heads */
#ifndef HK_HTTP1_H
#define HK_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "transport/connect.h"

/* The request line and header fields of one request, as sent, in bytes;
 * more is 431. */
#define HK_HTTP1_HEADER_MAX (16u << 10)
/* Header fields per request; more is 431. */
#define HK_HTTP1_FIELDS_MAX 100

/* One header field; the name lower-cased, both NUL-terminated. A field
 * sent twice appears twice. */
typedef struct {
    const char *name;
    const char *value;
    size_t name_len, value_len;
} hk_http1_field_t;

/* One whole request (valid from HK_HTTP1_REQUEST until hk_http1_next). */
typedef struct {
    char method[16];  /* "POST" */
    const char *path; /* the request target as sent, "/hookd.v1.Webhooks/GetWebhook" */
    unsigned major, minor;
    hk_http1_field_t fields[HK_HTTP1_FIELDS_MAX];
    size_t n_fields;
    int keep_alive;         /* another request may follow this one's answer (HTTP/1.1 without
                               "Connection: close", or HTTP/1.0 with "Connection: keep-alive") */
    hk_connect_body_t body; /* the body, Content-Length or chunked, decoded */
} hk_http1_request_t;

/* Where the parser is in the current request. */
typedef enum {
    HK_HTTP1_IDLE,    /* between requests: not a byte of the next one yet */
    HK_HTTP1_HEADERS, /* inside the request line or header fields */
    HK_HTTP1_BODY,    /* headers done, the body is arriving */
    HK_HTTP1_DONE,    /* a whole request waits for hk_http1_next */
} hk_http1_state_t;

/* What hk_http1_feed found. */
enum {
    HK_HTTP1_MORE = 0,         /* every byte was taken; the request is not complete */
    HK_HTTP1_REQUEST = 1,      /* a whole request; bytes after it were not taken */
    HK_HTTP1_HEADERS_DONE = 2, /* hk_http1_stop_at_headers: a request's headers are
                             complete, its body not read yet; feed on */
};

typedef struct hk_http1 hk_http1_t;

/* A parser for one connection's requests; bodies longer than max_body are
 * 413. Returns 0 with *out, or HK_ENOMEM. */
int hk_http1_new(size_t max_body, hk_http1_t **out);
void hk_http1_free(hk_http1_t *h);

/* Takes bytes of the stream. Returns HK_HTTP1_MORE (*used == len),
 * HK_HTTP1_REQUEST (the first *used bytes made up the rest of a request:
 * answer it, call hk_http1_next, then feed the bytes after *used), or on a
 * request that cannot be served a negative HK_E* with the HTTP status that
 * answers it in hk_http1_error (400 malformed, 413 body too large, 417 an
 * Expect other than 100-continue, 431 header fields too large, 505 an HTTP
 * version other than 1.x); after that the connection must close. Pipelined
 * requests are therefore taken one at a time, in order. */
int hk_http1_feed(hk_http1_t *h, const uint8_t *data, size_t len, size_t *used);

/* With on set, hk_http1_feed also stops once per request at the end of its
 * headers (HK_HTTP1_HEADERS_DONE: the request's method, path and fields are
 * there, the body is empty; bytes after *used are the body's). */
void hk_http1_stop_at_headers(hk_http1_t *h, int on);

/* Moves the request's body out (once HK_HTTP1_REQUEST): *out takes the
 * buffer, the length and the capacity (max is the request's), the request
 * keeps an empty body. */
void hk_http1_take_body(hk_http1_t *h, hk_connect_body_t *out);

/* The request, once hk_http1_feed returned HK_HTTP1_REQUEST (or
 * HK_HTTP1_HEADERS_DONE: all but the body). */
const hk_http1_request_t *hk_http1_request(const hk_http1_t *h);

/* Forgets the answered request (fields, body) and lets the next one in. */
void hk_http1_next(hk_http1_t *h);

hk_http1_state_t hk_http1_state(const hk_http1_t *h);

/* 1 once per request that asked "Expect: 100-continue" and whose headers
 * are done: the caller sends "100 Continue" before the body comes (unless
 * the whole request is already in). */
int hk_http1_take_continue(hk_http1_t *h);

/* After a failed feed: the HTTP status to answer (400 when none was set)
 * and a message saying why. */
int hk_http1_error(const hk_http1_t *h, const char **message);

/* Writes a response head into buf (n bytes): the status line with status's
 * reason phrase, Content-Type (when not NULL), Content-Length, and
 * "Connection: close" when close is set (or "Connection: keep-alive" for an
 * HTTP/1.0 request, minor 0, that keeps the connection). Returns the length,
 * or 0 when it does not fit. */
size_t hk_http1_response_head(char *buf, size_t n, int status, const char *content_type,
                              size_t content_length, int close, unsigned minor);

#endif
