/* connect.h -- the Connect protocol's wire rules that need no socket: content types, timeouts,
 * error codes, unframed bodies */
#ifndef HK_CONNECT_H
#define HK_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "transport/call.h"

/* The codec a content-type value (n bytes, not NUL-terminated) names:
 * HK_CALL_CONNECT_PROTO for "application/proto", HK_CALL_CONNECT_JSON for
 * "application/json" (case-insensitive, parameters such as "; charset=utf-8"
 * tolerated), HK_CALL_GRPC for what hk_grpc_content_type_ok accepts, or -1
 * for anything else. */
int hk_connect_codec(const char *v, size_t n);

/* The content-type a Connect answer in codec carries ("application/proto"
 * or "application/json"). */
const char *hk_connect_content_type(int codec);

/* Parses a Connect-Timeout-Ms value (s, n bytes): 1 to 10 ASCII digits, no
 * sign, no spaces. Returns 0 with the timeout in milliseconds in *out_ms, or
 * HK_EINVAL. */
int hk_connect_timeout_parse(const char *s, size_t n, uint64_t *out_ms);

/* The Connect code name of a gRPC status ("invalid_argument" for
 * HK_STATUS_INVALID_ARGUMENT; note Connect's spelling "canceled"); "unknown"
 * for codes out of range. */
const char *hk_connect_code(int status);

/* The HTTP status that carries a gRPC status in a Connect error (the
 * Connect spec's table: invalid_argument 400, unauthenticated 401,
 * permission_denied 403, not_found 404, already_exists and aborted 409,
 * resource_exhausted 429, canceled 499, unimplemented 501, unavailable 503,
 * deadline_exceeded 504, failed_precondition and out_of_range 400, the rest
 * 500). HK_STATUS_OK is 200. */
int hk_connect_http_status(int status);

/* A Connect error body when no JSON encoder was given: {"code":"<code>"}
 * (the code names need no escaping). Writes at most n bytes with the NUL;
 * returns the length. */
size_t hk_connect_error_fallback(int status, char *buf, size_t n);

/* The body of a Connect error: fn(code, message) (the JSON encoder, see
 * hk_call_error_body_fn) with message cut to at most max_message bytes on a
 * UTF-8 boundary, or hk_connect_error_fallback when fn is NULL or fails.
 * Returns 0 with a malloc'd body in *out and *len, or HK_ENOMEM. */
int hk_connect_error_body(hk_call_error_body_fn fn, int status, const char *message,
                          size_t max_message, char **out, size_t *len);

/* One unframed request message, collected from body chunks. Zero it and set
 * max; append every chunk; free it (it may be zeroed and reused). */
typedef struct {
    size_t max; /* largest body accepted, in bytes */
    uint8_t *buf;
    size_t len, cap;
} hk_connect_body_t;

/* Appends n bytes. Returns 0, HK_ETOOBIG when the body would exceed max
 * (nothing is appended), or HK_ENOMEM. */
int hk_connect_body_append(hk_connect_body_t *b, const uint8_t *data, size_t n);

/* The capacity the buffer has once it holds need bytes (need <= max): what
 * appending up to need costs in memory. */
size_t hk_connect_body_cap_for(const hk_connect_body_t *b, size_t need);

void hk_connect_body_free(hk_connect_body_t *b);

#endif
