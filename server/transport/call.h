/* call.h -- one RPC call (gRPC or Connect), as the handlers see it: request bytes in, one answer
 * out */
#ifndef HK_CALL_H
#define HK_CALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct hk_call hk_call_t;

#define HK_PEER_MAX_GROUPS 64

/* The process at the other end of the socket (SO_PEERCRED), and its
 * supplementary groups as they were when it connected (SO_PEERGROUPS, or
 * /proc/<pid>/status on kernels before 4.13): at most HK_PEER_MAX_GROUPS. */
typedef struct {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    unsigned n_groups;
    gid_t groups[HK_PEER_MAX_GROUPS];
} hk_peer_t;

typedef void (*hk_call_cancel_fn)(hk_call_t *call, void *arg);

/* How the call's messages travel: gRPC (HTTP/2, 5-byte framing, trailers),
 * or Connect unary (HTTP/1.1 or HTTP/2, one unframed body, meaningful HTTP
 * statuses) with binary protobuf or JSON messages. */
typedef enum {
    HK_CALL_GRPC = 0,
    HK_CALL_CONNECT_PROTO = 1, /* application/proto: the protobuf bytes as gRPC's, unframed */
    HK_CALL_CONNECT_JSON = 2,  /* application/json: the message in protobuf's JSON mapping */
} hk_call_codec_t;

/* Builds a Connect error body, {"code":..,"message":..}: returns 0 with a
 * malloc'd body (the caller frees it) in *out and *len, or a negative HK_E*.
 * The JSON encoder lives outside the transport (hk_pbjson_error). */
typedef int (*hk_call_error_body_fn)(const char *code, const char *message, char **out,
                                     size_t *len);

/* ":path" of the call, e.g. "/hookd.v1.Webhooks/GetWebhook". */
const char *hk_call_path(const hk_call_t *call);

/* The codec of the request message, which the answer uses too: the
 * handler layer decodes and encodes by it. hk_call_request and
 * hk_call_reply carry the message bytes unframed in every codec. */
hk_call_codec_t hk_call_codec(const hk_call_t *call);

/* The caller's credentials. */
const hk_peer_t *hk_call_peer(const hk_call_t *call);

/* The request message (without the 5-byte gRPC prefix: the bytes of the
 * message in the call's codec); valid until the call is finished. */
const uint8_t *hk_call_request(const hk_call_t *call, size_t *len);

/* The deadline from grpc-timeout in uv_now() milliseconds, 0 when none. */
uint64_t hk_call_deadline(const hk_call_t *call);

/* The ctx given to hk_server_start. */
void *hk_call_ctx(const hk_call_t *call);

/* A pointer the handler may keep on the call. */
void hk_call_set_data(hk_call_t *call, void *data);
void *hk_call_data(const hk_call_t *call);

/* Registers cb to run once if the call ends before the handler finishes it:
 * the client cancels (RST_STREAM), its deadline passes, or the connection
 * closes. The transport has then already answered (or cannot answer); the
 * handler must stop its work and still finish the call (hk_call_reply or
 * hk_call_fail), which then only frees it. Never runs from inside a
 * hk_call_* function. */
void hk_call_on_cancel(hk_call_t *call, hk_call_cancel_fn cb, void *arg);

/* 1 once the call was cancelled (see hk_call_on_cancel). */
int hk_call_cancelled(const hk_call_t *call);

/* Finishes the call with one response message (in the call's codec: raw
 * protobuf bytes, or JSON; copied): gRPC status 0, or Connect's 200. The call is freed: do not
 * touch it again. */
void hk_call_reply(hk_call_t *call, const uint8_t *msg, size_t len);

/* Finishes the call with a gRPC status (HK_STATUS_*) and message (UTF-8).
 * gRPC: trailers-only, the message percent-encoded. Connect: the HTTP status
 * of the Connect spec's table and a JSON error body. The call is freed. */
void hk_call_fail(hk_call_t *call, int status, const char *message);

/* hk_call_fail, but a Connect answer carries http_status instead of the
 * table's (a gRPC answer is the same as hk_call_fail's): for an unknown
 * path, 404 with code "unimplemented", as Connect servers answer. */
void hk_call_fail_http(hk_call_t *call, int http_status, int status, const char *message);

#endif
