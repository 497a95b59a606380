/* rpc.h -- the method table and the protobuf side of a call: decode, authorize, answer */
#ifndef HK_RPC_H
#define HK_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>

#include "core/config.h"
#include "transport/call.h"

/* Proto3 "optional" presence. protoc-c 1.4 cannot generate proto3 optional,
 * so the build turns each `optional T x = N;` into the wire-identical
 * `oneof _x { T x = N; }`: presence is then `msg->_x_case != 0`. */
#define HK_HAS(msg, field) ((msg)->_##field##_case != 0)

/* A handler gets the decoded request (owned by the call layer, freed when the
 * call finishes) and must finish the call with hk_rpc_reply / hk_rpc_fail /
 * hk_rpc_fail_err, at once or later from the loop -- never with
 * hk_call_reply / hk_call_fail directly, which would leak the request. The
 * rpc layer keeps its state in hk_call_set_data: handlers keep theirs with
 * hk_rpc_set_data. */
typedef void (*hk_rpc_handler_fn)(hk_call_t *call, const ProtobufCMessage *request);

typedef struct {
    const char *path;                          /* "/hookd.v1.Webhooks/GetWebhook" */
    const ProtobufCMessageDescriptor *request; /* how to decode the request */
    hk_role_t role;                            /* least role allowed to call it */
    hk_rpc_handler_fn handler;
} hk_rpc_method_t;

/* The method for a :path, or NULL (UNIMPLEMENTED). */
const hk_rpc_method_t *hk_rpc_find(const char *path);

/* The transport's on_call: looks the method up, checks the caller's role
 * (PERMISSION_DENIED), decodes the request (INVALID_ARGUMENT when it does not
 * parse) and runs the handler. ctx is the hk_api_t (api/api.h). */
void hk_rpc_dispatch(hk_call_t *call, void *ctx);

/* The transport's authorize (hk_server_opts_t): at the request headers,
 * HK_STATUS_OK when path names a method the peer's role may call, else
 * UNIMPLEMENTED or PERMISSION_DENIED with the message in msg (n bytes),
 * logged as dispatch logs a refused call. ctx is the hk_api_t. */
int hk_rpc_authorize(void *ctx, const char *path, const hk_peer_t *peer, char *msg, size_t n);

/* The transport's privileged: 1 when peer has the admin role (it may use
 * the connections kept for admins). */
int hk_rpc_privileged(void *ctx, const hk_peer_t *peer);

/* A pointer the handler keeps on a call it finishes later (NULL at first). */
void hk_rpc_set_data(hk_call_t *call, void *data);
void *hk_rpc_data(const hk_call_t *call);

/* The method name of a call, the part of :path after the last '/'
 * ("CreateWebhook"). */
const char *hk_rpc_method_name(const hk_call_t *call);

/* Finishes the call with resp, packed. */
void hk_rpc_reply(hk_call_t *call, const ProtobufCMessage *resp);

/* Finishes the call with a status and a printf-style message. */
void hk_rpc_fail(hk_call_t *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Finishes the call with the status of a hookd error (hk_error_status) and
 * "<what>: <hk_strerror(err)>". */
void hk_rpc_fail_err(hk_call_t *call, int err, const char *what);

/* The message hk_rpc_fail_err answers with ("what: why"): a full store or
 * a failing disk is described by the store (store/store.h). */
struct hk_api;
void hk_rpc_error_text(const struct hk_api *api, int err, const char *what, char *buf, size_t n);

/* Answered calls of method m (NULL: paths no method has) that ended with
 * status (HK_STATUS_*), since the process started; for the metrics page.
 * Methods past the first HK_RPC_COUNT_ROWS of the table count nothing. */
#define HK_RPC_COUNT_ROWS 32
#define HK_RPC_CODES 17
uint64_t hk_rpc_count(const hk_rpc_method_t *m, int status);

/* Paged lists. A page size of 0 means 100; more than 1000 means 1000. */
size_t hk_rpc_page_size(uint32_t requested);

/* A page token is an id as decimal text, "" for the first page; the lists
 * only hand out non-zero ids. Returns 0 with *id set (0 for ""), or
 * HK_EINVAL for anything a previous answer could not have given. */
int hk_rpc_page_token_parse(const char *token, uint64_t *id);

#endif
