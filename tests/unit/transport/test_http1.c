/* test_http1.c -- the HTTP/1.1 request reader and response heads, fed bytes directly */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "transport/http1.h"
#include "unit.h"

#define MAX_BODY 1024

static hk_http1_t *parser(void)
{
    hk_http1_t *h = NULL;
    if (hk_http1_new(MAX_BODY, &h) != 0) return NULL;
    return h;
}

static const char *field(const hk_http1_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (strcmp(r->fields[i].name, name) == 0) return r->fields[i].value;
    return NULL;
}

/* Feeds s in pieces of step bytes (a request split over many reads). */
static int feed_split(hk_http1_t *h, const char *s, size_t step, size_t *total_used)
{
    size_t n = strlen(s), off = 0;
    int rc = HK_HTTP1_MORE;
    *total_used = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step, used;
        rc = hk_http1_feed(h, (const uint8_t *)s + off, k, &used);
        *total_used += used;
        if (rc != HK_HTTP1_MORE) return rc;
        off += k;
    }
    return rc;
}

static const char REQ[] = "POST /hookd.v1.Webhooks/GetWebhook HTTP/1.1\r\n"
                          "Host: hookd\r\n"
                          "Content-Type: application/proto \r\n"
                          "Connect-Timeout-Ms: 250\r\n"
                          "Content-Length: 5\r\n"
                          "\r\n"
                          "hello";

TEST(content_length_request)
{
    hk_http1_t *h = parser();
    size_t used;
    CHECK(h);
    CHECK_INT(hk_http1_state(h), HK_HTTP1_IDLE);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)REQ, strlen(REQ), &used), HK_HTTP1_REQUEST);
    CHECK_INT(used, strlen(REQ));
    const hk_http1_request_t *r = hk_http1_request(h);
    CHECK_STR(r->method, "POST");
    CHECK_STR(r->path, "/hookd.v1.Webhooks/GetWebhook");
    CHECK_INT(r->major, 1);
    CHECK_INT(r->minor, 1);
    CHECK(r->keep_alive);
    /* Names lower-cased, trailing spaces gone. */
    CHECK_STR(field(r, "content-type"), "application/proto");
    CHECK_STR(field(r, "connect-timeout-ms"), "250");
    CHECK_STR(field(r, "host"), "hookd");
    CHECK_INT(r->body.len, 5);
    CHECK(memcmp(r->body.buf, "hello", 5) == 0);
    hk_http1_next(h);
    CHECK_INT(hk_http1_state(h), HK_HTTP1_IDLE);
    hk_http1_free(h);
}

TEST(split_byte_by_byte)
{
    hk_http1_t *h = parser();
    size_t used;
    CHECK(h);
    CHECK_INT(feed_split(h, REQ, 1, &used), HK_HTTP1_REQUEST);
    CHECK_INT(used, strlen(REQ));
    const hk_http1_request_t *r = hk_http1_request(h);
    CHECK_STR(r->path, "/hookd.v1.Webhooks/GetWebhook");
    CHECK_STR(field(r, "content-type"), "application/proto");
    CHECK_INT(r->body.len, 5);
    hk_http1_free(h);
}

TEST(states_and_continue)
{
    hk_http1_t *h = parser();
    size_t used;
    const char *head = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    CHECK(h);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)"PO", 2, &used), HK_HTTP1_MORE);
    CHECK_INT(hk_http1_state(h), HK_HTTP1_HEADERS);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)head + 2, strlen(head) - 2, &used), HK_HTTP1_MORE);
    CHECK_INT(hk_http1_state(h), HK_HTTP1_BODY);
    CHECK_INT(hk_http1_take_continue(h), 1);
    CHECK_INT(hk_http1_take_continue(h), 0); /* once */
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)"ok", 2, &used), HK_HTTP1_REQUEST);
    CHECK_INT(hk_http1_state(h), HK_HTTP1_DONE);
    hk_http1_free(h);
}

TEST(chunked_body)
{
    hk_http1_t *h = parser();
    size_t used;
    const char *s = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n"
                    "a;ext=1\r\n0123456789\r\n"
                    "0\r\nX-Trailer: t\r\n\r\n";
    CHECK(h);
    CHECK_INT(feed_split(h, s, 7, &used), HK_HTTP1_REQUEST);
    const hk_http1_request_t *r = hk_http1_request(h);
    CHECK_INT(r->body.len, 13);
    CHECK(memcmp(r->body.buf, "abc0123456789", 13) == 0);
    hk_http1_free(h);
}

TEST(pipelined_one_at_a_time)
{
    hk_http1_t *h = parser();
    size_t used;
    const char *a = "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nA";
    const char *b = "POST /b HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    char both[256];
    snprintf(both, sizeof both, "%s%s", a, b);
    CHECK(h);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)both, strlen(both), &used), HK_HTTP1_REQUEST);
    CHECK_INT(used, strlen(a)); /* the second request is not taken yet */
    CHECK_STR(hk_http1_request(h)->path, "/a");
    /* Until hk_http1_next, nothing more is taken. */
    size_t again;
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)both + used, strlen(both) - used, &again),
              HK_HTTP1_REQUEST);
    CHECK_INT(again, 0);
    hk_http1_next(h);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)both + used, strlen(both) - used, &again),
              HK_HTTP1_REQUEST);
    CHECK_INT(again, strlen(b));
    CHECK_STR(hk_http1_request(h)->path, "/b");
    CHECK_INT(hk_http1_request(h)->keep_alive, 0); /* Connection: close */
    CHECK_INT(hk_http1_request(h)->body.len, 0);
    hk_http1_free(h);
}

TEST(http10_keep_alive_rules)
{
    hk_http1_t *h = parser();
    size_t used;
    const char *plain = "POST /a HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
    const char *kept = "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
    CHECK(h);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)kept, strlen(kept), &used), HK_HTTP1_REQUEST);
    CHECK_INT(hk_http1_request(h)->minor, 0);
    CHECK_INT(hk_http1_request(h)->keep_alive, 1);
    hk_http1_next(h);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)plain, strlen(plain), &used), HK_HTTP1_REQUEST);
    CHECK_INT(hk_http1_request(h)->keep_alive, 0);
    hk_http1_free(h);
}

static int fails_with(const char *s, int want_status)
{
    hk_http1_t *h = parser();
    size_t used;
    const char *why = NULL;
    int rc = feed_split(h, s, 4096, &used);
    int status = hk_http1_error(h, &why);
    int has_why = why && *why; /* why points into h */
    hk_http1_free(h);
    return rc < 0 && status == want_status && has_why;
}

TEST(bad_requests_400)
{
    CHECK(fails_with("GARBAGE\r\n\r\n", 400));
    CHECK(fails_with("POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                     400));
    CHECK(fails_with("POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400));
    CHECK(fails_with("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400));
    CHECK(fails_with("POST /x HTTP/1.1\r\nBad Header\r\n\r\n", 400));
}

TEST(body_limit_413)
{
    char s[256];
    /* Announced: refused at the headers, before any body byte. */
    snprintf(s, sizeof s, "POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY + 1);
    CHECK(fails_with(s, 413));
    /* Chunked: refused when the body passes the limit. */
    hk_http1_t *h = parser();
    size_t used;
    const char *head = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)head, strlen(head), &used), HK_HTTP1_MORE);
    char chunk[600];
    memset(chunk, 'x', sizeof chunk);
    const char *size = "258\r\n"; /* 600 */
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)size, 5, &used), HK_HTTP1_MORE);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)chunk, sizeof chunk, &used), HK_HTTP1_MORE);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)"\r\n258\r\n", 7, &used), HK_HTTP1_MORE);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)chunk, sizeof chunk, &used), HK_ETOOBIG);
    CHECK_INT(hk_http1_error(h, NULL), 413);
    hk_http1_free(h);
    /* Exactly the limit is fine. */
    h = parser();
    snprintf(s, sizeof s, "POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)s, strlen(s), &used), HK_HTTP1_MORE);
    char *body = calloc(1, MAX_BODY);
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)body, MAX_BODY, &used), HK_HTTP1_REQUEST);
    CHECK_INT(hk_http1_request(h)->body.len, MAX_BODY);
    free(body);
    hk_http1_free(h);
}

TEST(header_limit_431)
{
    size_t n = HK_HTTP1_HEADER_MAX + 100;
    char *s = malloc(n + 64);
    int k = snprintf(s, n + 64, "POST /x HTTP/1.1\r\nX-Big: ");
    memset(s + k, 'b', n - (size_t)k);
    strcpy(s + n, "\r\n\r\n");
    CHECK(fails_with(s, 431));
    /* Many small fields count too. */
    size_t off = (size_t)snprintf(s, n + 64, "POST /x HTTP/1.1\r\n");
    for (int i = 0; i < HK_HTTP1_FIELDS_MAX + 1 && off + 16 < n; i++)
        off += (size_t)snprintf(s + off, n + 64 - off, "x-%d: v\r\n", i);
    strcpy(s + off, "\r\n");
    CHECK(fails_with(s, 431));
    free(s);
    /* Just under the limit is served. */
    char ok[2048];
    k = snprintf(ok, sizeof ok, "POST /x HTTP/1.1\r\nX-Big: ");
    memset(ok + k, 'b', 1500);
    strcpy(ok + k + 1500, "\r\nContent-Length: 0\r\n\r\n");
    hk_http1_t *h = parser();
    size_t used;
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)ok, strlen(ok), &used), HK_HTTP1_REQUEST);
    CHECK_INT(strlen(field(hk_http1_request(h), "x-big")), 1500);
    hk_http1_free(h);
}

TEST(versions_and_expect)
{
    CHECK(fails_with("POST /x HTTP/2.0\r\nContent-Length: 0\r\n\r\n", 505));
    CHECK(
        fails_with("POST /x HTTP/1.1\r\nExpect: something-else\r\nContent-Length: 0\r\n\r\n", 417));
}

TEST(empty_header_value)
{
    hk_http1_t *h = parser();
    size_t used;
    const char *s = "POST /x HTTP/1.1\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n";
    CHECK_INT(hk_http1_feed(h, (const uint8_t *)s, strlen(s), &used), HK_HTTP1_REQUEST);
    CHECK_STR(field(hk_http1_request(h), "x-empty"), "");
    CHECK_STR(field(hk_http1_request(h), "content-length"), "0");
    hk_http1_free(h);
}

TEST(response_head)
{
    char buf[256];
    size_t n = hk_http1_response_head(buf, sizeof buf, 404, "application/json", 12, 0, 1);
    CHECK_INT(n, strlen(buf));
    CHECK_STR(buf, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                   "Content-Length: 12\r\n\r\n");
    hk_http1_response_head(buf, sizeof buf, 413, "application/json", 0, 1, 1);
    CHECK(strstr(buf, "HTTP/1.1 413 Content Too Large\r\n") == buf);
    CHECK(strstr(buf, "Connection: close\r\n"));
    hk_http1_response_head(buf, sizeof buf, 200, "application/proto", 3, 0, 0);
    CHECK(strstr(buf, "Connection: keep-alive\r\n")); /* HTTP/1.0 kept alive must be told */
    CHECK_INT(hk_http1_response_head(buf, 10, 200, NULL, 0, 0, 1), 0);
}
