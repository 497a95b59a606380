/* grpc.h -- gRPC's wire rules that need no socket: message framing, grpc-timeout, grpc-message */
#ifndef HK_GRPC_H
#define HK_GRPC_H

#include <stddef.h>
#include <stdint.h>

/* Every gRPC message travels behind a 5-byte prefix: one flag byte
 * (0 = plain, 1 = compressed with the call's grpc-encoding) and the
 * message length as a big-endian uint32. */
#define HK_GRPC_PREFIX_BYTES 5

/* Reads the prefix at p (HK_GRPC_PREFIX_BYTES bytes). Returns 0 with
 * *compressed (0 or 1) and *len set, or HK_EINVAL when the flag byte is
 * neither 0 nor 1. */
int hk_grpc_prefix_parse(const uint8_t *p, int *compressed, uint32_t *len);

/* Writes the prefix of a plain message of len bytes into p. */
void hk_grpc_prefix_write(uint8_t *p, uint32_t len);

/* Parses a grpc-timeout value (s, n bytes, not NUL-terminated): 1 to 8
 * ASCII digits and a unit, H M S m u n. Returns 0 with the timeout in
 * nanoseconds in *out_ns (saturating at UINT64_MAX: 99999999H does not fit),
 * or HK_EINVAL for anything else (empty, 9 digits, no unit, a sign, spaces). */
int hk_grpc_timeout_parse(const char *s, size_t n, uint64_t *out_ns);

/* Percent-encodes a grpc-message value as the gRPC spec asks: every byte
 * outside 0x20..0x7E, and '%' itself, becomes %XX (upper-case hex). At most
 * max_in bytes of msg are encoded; a cut never splits a UTF-8 sequence.
 * Returns 0 with a malloc'd NUL-terminated string in *out (the caller frees
 * it), or HK_ENOMEM. A NULL msg encodes as "". */
int hk_grpc_message_encode(const char *msg, size_t max_in, char **out);

/* 1 when a content-type value (n bytes) names gRPC: "application/grpc"
 * alone or followed by "+<format>" or ";<params>"; else 0. */
int hk_grpc_content_type_ok(const char *v, size_t n);

/* Collects one request message from DATA chunks. Zero it, set max, feed it
 * every chunk, then finish it when the stream ends. */
typedef struct {
    size_t max; /* largest message accepted, in bytes */
    uint8_t prefix[HK_GRPC_PREFIX_BYTES];
    size_t have_prefix;
    int compressed; /* the prefix's flag, once have_prefix == 5 */
    uint32_t len;   /* the announced length, once have_prefix == 5 */
    uint8_t *buf;   /* len bytes once complete; grows as data arrives */
    size_t have, cap;
    int done;        /* one whole message arrived */
    int status;      /* after a failure: the gRPC status that answers it */
    char error[128]; /* after a failure: the grpc-message that answers it */
} hk_grpc_reader_t;

/* Takes n more bytes of the stream. Returns 0, or on the first bad byte a
 * negative HK_E* with r->status and r->error saying how to answer:
 *   HK_ETOOBIG  the prefix announces more than max (RESOURCE_EXHAUSTED),
 *               found as soon as the prefix is complete, nothing buffered;
 *   HK_EINVAL   a flag byte other than 0/1, a second message on a unary
 *               call (INTERNAL), or a compressed message (UNIMPLEMENTED:
 *               hookd accepts identity only);
 *   HK_ENOMEM   (INTERNAL).
 * After a failure the reader must not be fed again. */
int hk_grpc_reader_feed(hk_grpc_reader_t *r, const uint8_t *data, size_t n);

/* The stream ended: returns 0 with the message (owned by r) in *msg and *len,
 * or HK_EINVAL (INTERNAL, with r->status/r->error) when no whole message
 * arrived. */
int hk_grpc_reader_finish(hk_grpc_reader_t *r, const uint8_t **msg, size_t *len);

/* Frees the buffer; the reader may be zeroed and reused. */
void hk_grpc_reader_free(hk_grpc_reader_t *r);

#endif
