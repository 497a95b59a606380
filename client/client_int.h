/* client_int.h -- libhookd inside: the client, its calls and connections */
#ifndef HK_CLIENT_INT_H
#define HK_CLIENT_INT_H

/* Internal names are hkc_*: apart from the server's hk_conn_* / hk_call_*, and
 * outside libhookd.map's exported hk_client_*. */

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "core/list.h"
#include "hookd/client.h"

/* The largest response message accepted; a larger one ends the call with
 * RESOURCE_EXHAUSTED. */
#define HK_CLIENT_MAX_RESPONSE (64u << 20)
#define HK_CLIENT_DEFAULT_DEADLINE_MS 30000

typedef struct hkc_conn hkc_conn_t;

struct hk_client {
    ProtobufCService service; /* hookd.v1.Webhooks for the generated stubs */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int default_deadline_ms; /* > 0, or HK_CLIENT_NO_DEADLINE */
    hk_link_t conns;         /* hkc_conn_t.link, newest first; only the first may take new calls */
    hk_link_t calls;         /* hk_client_call_t.link: every call handle not yet freed */
    hk_client_stats_t stats;
    uint64_t finished;    /* calls finished so far: a wait re-checks before it blocks */
    char conn_error[256]; /* why the last connection failed or was lost */
    int last_code;
    char *last_message;
};

struct hk_client_call {
    hk_client_t *client; /* NULL once the client is closed */
    hk_link_t link;      /* in client->calls, newest first; alone once the client is closed */
    hkc_conn_t *conn;    /* while a stream carries it */
    int32_t stream_id;
    char *path; /* "/hookd.v1.Webhooks/CreateWebhook" */
    const ProtobufCMessageDescriptor *output;
    uint8_t *body; /* the length-prefixed request message */
    size_t body_len, body_off;
    int64_t deadline; /* CLOCK_MONOTONIC ms; 0: none */
    int headers_sent; /* the request's HEADERS left nghttp2 */
    int refused;      /* hookd refused the stream unprocessed */
    int retry;        /* send again on a usable connection */
    int retried;

    /* The response as it arrives. */
    int http_status;
    int grpc_status; /* -1 until known */
    char *grpc_message;
    uint8_t *resp;
    size_t resp_len, resp_cap;

    /* The result. */
    int done;
    int code;
    char *message;
    ProtobufCMessage *response;
};

/* ---- client.c ------------------------------------------------------------ */

/* CLOCK_MONOTONIC in milliseconds. */
int64_t hkc_clock_ms(void);

/* The connection new calls go to: the current one if it is still good (a
 * non-blocking read first picks up a GOAWAY or EOF left by a restarted hookd),
 * else a new one. NULL when hookd cannot be reached; the reason is then in
 * client->conn_error. */
hkc_conn_t *hkc_conn_current(hk_client_t *client, int64_t deadline);

/* Runs the connections once: sends what is queued, waits (poll) for input
 * until a call's deadline or until (absolute ms, 0: no bound), reads what came,
 * expires calls past their deadline, retries refused calls, drops dead
 * connections. */
void hkc_io_step(hk_client_t *client, int64_t until);

/* Records the status of a synchronous operation for hk_client_last_status. */
void hkc_last_status_set(hk_client_t *client, int code, const char *message);

/* ---- call.c --------------------------------------------------------------- */

/* Sends the call on a usable connection, or finishes it (UNAVAILABLE,
 * DEADLINE_EXCEEDED) when there is none or its time is up. */
void hkc_call_submit(hk_client_call_t *call);

/* Ends the call with code and message (NULL: ""), detaching it from its
 * stream; a stream still open is reset when reset_stream is set. A no-op on a
 * finished call. */
void hkc_call_finish(hk_client_call_t *call, int code, const char *message, int reset_stream);

/* What the connection reports about the call's stream. */
void hkc_call_on_header(hk_client_call_t *call, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen);
/* Returns 0, or -1 when the response grew too large (the call is then
 * finished and its stream must be reset). */
int hkc_call_on_data(hk_client_call_t *call, const uint8_t *data, size_t len);
void hkc_call_on_close(hk_client_call_t *call, uint32_t h2_error);
/* The connection under the call died; why: for the message. */
void hkc_call_on_lost(hk_client_call_t *call, const char *why);

/* ---- conn.c --------------------------------------------------------------- */

struct hkc_conn {
    hk_client_t *client;
    hk_link_t link; /* in client->conns */
    int fd;
    void *session;     /* nghttp2_session */
    int draining;      /* GOAWAY received: no new streams */
    int failed;        /* the socket or session broke; why in error */
    int settings_seen; /* hookd's SETTINGS arrived */
    unsigned streams;  /* calls attached */
    uint8_t *out;      /* bytes produced but not yet taken by the socket */
    size_t out_len, out_cap;
    char error[200];
};

/* Connects to path (waiting at most until deadline, 0: no bound) and starts
 * an HTTP/2 client session (preface and SETTINGS queued). Returns 0 and *out,
 * or -1 with the reason in err. */
int hkc_conn_open(hk_client_t *client, const char *path, int64_t deadline, hkc_conn_t **out,
                  char *err, size_t errlen);

/* Closes the socket and frees the session: no callbacks run. */
void hkc_conn_free(hkc_conn_t *conn);

/* Queues the request of call as a new stream; grpc_timeout: the header value
 * or NULL. Returns the stream id, or -1 (the connection takes no new streams;
 * the session is then marked draining). */
int32_t hkc_conn_submit(hkc_conn_t *conn, hk_client_call_t *call, const char *grpc_timeout);

/* Forgets the call of stream_id (no more events for it) and resets the stream
 * (RST_STREAM CANCEL) when reset is set and it is still open. */
void hkc_conn_detach(hkc_conn_t *conn, int32_t stream_id, int reset);

/* Writes what the session has queued, as far as the socket takes it. Returns 0
 * or -1 (conn->failed set). */
int hkc_conn_flush(hkc_conn_t *conn);

/* Reads and processes everything the socket has now (never blocks). Returns 0
 * or -1 (conn->failed set: EOF, error, protocol error). */
int hkc_conn_read(hkc_conn_t *conn);

/* 1 while the session still wants to read or write (hookd did not end it). */
int hkc_conn_alive(const hkc_conn_t *conn);

/* 1 when there is output the socket did not take yet. */
int hkc_conn_want_write(const hkc_conn_t *conn);

/* ---- service.c ------------------------------------------------------------ */

/* Sets up the client's ProtobufCService (hookd.v1.Webhooks). */
void hkc_service_init(hk_client_t *client);

/* ---- status.c ------------------------------------------------------------- */

/* The gRPC status for an HTTP status that came without grpc-status, and for
 * an HTTP/2 error code that reset a stream, as the gRPC spec maps them. */
int hkc_status_from_http(int http_status);
int hkc_status_from_h2(uint32_t h2_error);

/* Percent-decodes a grpc-message into a new NUL-terminated string (NULL when
 * out of memory). Invalid escapes are kept as they are. */
char *hkc_status_decode_message(const uint8_t *value, size_t len);

#endif
