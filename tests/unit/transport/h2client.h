/* h2client.h -- a raw HTTP/2 gRPC client on a libuv loop, for driving the transport in unit tests
 */
#ifndef HK_TEST_H2CLIENT_H
#define HK_TEST_H2CLIENT_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct client client_t;

/* One call (one stream) as the client sees it; every field is filled in by
 * the loop as frames arrive. */
typedef struct {
    client_t *client;
    int32_t id;
    uint8_t *body; /* the request as sent: prefix + message */
    size_t body_len, body_off;
    int hold; /* send only the first body_len bytes, keep the stream open */
    int http_status;
    int grpc_status; /* -1 until seen */
    char grpc_message[128];
    int accept_encoding;
    int header_frames; /* HEADERS frames received */
    int trailers_only; /* the first HEADERS frame ended the stream */
    uint8_t *resp;
    size_t resp_len;
    int closed;
    uint32_t close_code;
} cstream_t;

struct client {
    uv_pipe_t pipe;
    uv_connect_t connect;
    nghttp2_session *session;
    int connected, connect_status, eof, closed;
    int streams_closed;
    int goaway; /* GOAWAY frames received */
    uint32_t goaway_code;
    char goaway_debug[256];               /* the last GOAWAY's debug data */
    const char *extra_name, *extra_value; /* one more header on the next call */
    char raw_in[65536];                   /* raw clients: what the server sent */
    size_t raw_len;
};

/* Connects to the Unix socket at path on loop (the connect completes from
 * the loop); raw = no HTTP/2 session, only bytes (for garbage). The client
 * is freed by client_close. */
client_t *client_new(uv_loop_t *loop, const char *path, int raw);

/* Ends the session and closes the pipe; the client is freed from the loop.
 * Streams stay the caller's (cstream_free). */
void client_close(client_t *c);

/* Writes len bytes of data as they are (a copy), bypassing the session. */
void client_write(client_t *c, const void *data, size_t len);

/* Stops and restarts reading from the server (to test backpressure). */
void client_read_stop(client_t *c);
void client_read_start(client_t *c);

/* Starts a unary call. flag is the message's prefix flag byte; timeout a
 * grpc-timeout value or NULL; announce (when nonzero) a length to put in
 * the prefix instead of len, and the stream is then held open after the
 * len bytes. The stream is the caller's to cstream_free. */
cstream_t *client_call_ex(client_t *c, const char *path, const void *msg, size_t len,
                          const char *timeout, uint8_t flag, uint32_t announce,
                          const char *content_type);

/* A plain application/grpc unary call. */
cstream_t *client_call(client_t *c, const char *path, const void *msg, size_t len,
                       const char *timeout);

/* Cancels the call with RST_STREAM(CANCEL). */
void client_reset(client_t *c, cstream_t *st);

void cstream_free(cstream_t *st);

/* 1 when the call's answer is exactly one plain message msg (len < 256). */
int resp_is(const cstream_t *st, const void *msg, size_t len);

#endif
