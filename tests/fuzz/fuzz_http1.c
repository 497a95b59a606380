/* fuzz_http1.c -- the HTTP/1.1 request reader: the input as one connection's bytes, fed whole and
 * byte by byte */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fuzz.h"
#include "transport/http1.h"

/* Input: the bytes a client sends on an HTTP/1.1 connection (pipelined
 * requests and all). They go through one parser at once and through
 * another a byte at a time: how the bytes are split must not change which
 * requests come out, nor whether the connection ends refused. */

#define MAX_BODY (16u << 10)
#define MAX_SEEN 64

typedef struct {
    unsigned n;              /* requests seen (at most MAX_SEEN kept) */
    uint64_t hash[MAX_SEEN]; /* of each request's method, path, fields, body, keep_alive */
    int error;               /* the HTTP status of the failure, 0 when none */
    hk_http1_state_t end;    /* where the parser was when the bytes ran out */
} outcome_t;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    hk_fuzz_init();
    return 0;
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_http1: %s\n", what);
    abort();
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
    return (h ^ 0xff) * 0x100000001b3ull;  /* a separator: "ab"+"c" differs from "a"+"bc" */
}

/* Checks what the contract promises of a request, and sums it up. */
static uint64_t request_hash(const hk_http1_request_t *r)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (!r->path || r->n_fields > HK_HTTP1_FIELDS_MAX || r->major != 1) fail("request");
    if (r->body.len > MAX_BODY || (r->body.len && !r->body.buf)) fail("body");
    h = mix(h, r->method, strnlen(r->method, sizeof r->method));
    h = mix(h, r->path, strlen(r->path));
    for (size_t i = 0; i < r->n_fields; i++) {
        const hk_http1_field_t *f = &r->fields[i];
        if (strlen(f->name) != f->name_len || strlen(f->value) > f->value_len)
            fail("field lengths");
        for (size_t j = 0; j < f->name_len; j++)
            if (f->name[j] >= 'A' && f->name[j] <= 'Z') fail("field name not lower-cased");
        h = mix(h, f->name, f->name_len);
        h = mix(h, f->value, f->value_len);
    }
    h = mix(h, r->body.buf, r->body.len);
    return mix(h, &r->keep_alive, sizeof r->keep_alive);
}

/* Feeds data in pieces of at most step bytes. */
static void run(const uint8_t *data, size_t size, size_t step, outcome_t *o)
{
    hk_http1_t *h;
    memset(o, 0, sizeof *o);
    if (hk_http1_new(MAX_BODY, &h) != 0) abort();
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step, used = 0;
        int rc = hk_http1_feed(h, data + off, n, &used);
        if (used > n) fail("used more than given");
        if (rc < 0) {
            const char *message = NULL;
            o->error = hk_http1_error(h, &message);
            if (!message) fail("an error without a message");
            if (o->error != 400 && o->error != 413 && o->error != 417 && o->error != 431 &&
                o->error != 505)
                fail("an unexpected error status");
            break;
        }
        off += used;
        if (rc == HK_HTTP1_MORE) {
            if (used != n) fail("MORE left bytes");
            continue;
        }
        if (rc != HK_HTTP1_REQUEST || hk_http1_state(h) != HK_HTTP1_DONE) fail("feed result");
        (void)hk_http1_take_continue(h);
        uint64_t hash = request_hash(hk_http1_request(h));
        if (o->n < MAX_SEEN) o->hash[o->n] = hash;
        o->n++;
        hk_http1_next(h);
    }
    o->end = hk_http1_state(h);
    hk_http1_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome_t whole, bytewise;
    run(data, size, size ? size : 1, &whole);
    run(data, size, 1, &bytewise);
    if (whole.n != bytewise.n) fail("a different number of requests byte by byte");
    for (unsigned i = 0; i < whole.n && i < MAX_SEEN; i++)
        if (whole.hash[i] != bytewise.hash[i]) fail("a different request byte by byte");
    /* Which refusal comes first may depend on the split (http_parser hands a
     * piece over at the end of each buffer, so the size and field-count
     * limits can fire before a malformed byte is seen): that one comes. */
    if (!whole.error != !bytewise.error) {
        fprintf(stderr, "fuzz_http1: whole: %d after %u requests, byte by byte: %d after %u\n",
                whole.error, whole.n, bytewise.error, bytewise.n);
        fail("a different error byte by byte");
    }
    if (!whole.error && whole.end != bytewise.end) fail("a different end state byte by byte");
    return 0;
}
