/* fake_call.c -- transport/call.h for api tests: calls made by the test, answers kept for it */
#include "fake_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rpc.h"
#include "core/status.h"

struct hk_call {
    fake_answer_t *answer;
    char *path;
    hk_peer_t peer;
    uint8_t *request;
    size_t request_len;
    void *ctx, *data;
    hk_call_cancel_fn cancel_cb;
    void *cancel_arg;
    int cancelled;
};

void fake_call(fake_answer_t *a, void *ctx, const char *path, uid_t uid,
               const ProtobufCMessage *req)
{
    hk_call_t *call = calloc(1, sizeof *call);
    size_t len = protobuf_c_message_get_packed_size(req);
    if (!call || !(call->request = malloc(len ? len : 1)) || !(call->path = strdup(path))) abort();
    call->request_len = protobuf_c_message_pack(req, call->request);
    call->peer.uid = uid;
    call->peer.gid = (gid_t)-1;
    call->ctx = ctx;
    call->answer = a;
    memset(a, 0, sizeof *a);
    a->status = -1;
    a->call = call;
    hk_rpc_dispatch(call, ctx);
}

static void answer(hk_call_t *call, int status, const char *message, const uint8_t *msg, size_t len)
{
    fake_answer_t *a = call->answer;
    if (a->status < 0) {
        a->status = status;
        snprintf(a->message, sizeof a->message, "%s", message ? message : "");
        if (msg) {
            if (!(a->resp = malloc(len ? len : 1))) abort();
            memcpy(a->resp, msg, len);
            a->resp_len = len;
        }
    }
    a->call = NULL;
    free(call->path);
    free(call->request);
    free(call);
}

void fake_call_cancel(fake_answer_t *a)
{
    hk_call_t *call = a->call;
    if (!call || !call->cancel_cb || call->cancelled) abort(); /* a test that cannot cancel */
    call->cancelled = 1;
    a->status = HK_STATUS_CANCELLED;
    snprintf(a->message, sizeof a->message, "cancelled by the client");
    call->cancel_cb(call, call->cancel_arg);
}

ProtobufCMessage *fake_answer_unpack(const fake_answer_t *a, const ProtobufCMessageDescriptor *desc)
{
    if (a->status != HK_STATUS_OK || !a->resp) return NULL;
    return protobuf_c_message_unpack(desc, NULL, a->resp_len, a->resp);
}

void fake_answer_free(fake_answer_t *a)
{
    free(a->resp);
    a->resp = NULL;
}

/* --- transport/call.h ---------------------------------------------------- */

const char *hk_call_path(const hk_call_t *call)
{
    return call->path;
}

const hk_peer_t *hk_call_peer(const hk_call_t *call)
{
    return &call->peer;
}

const uint8_t *hk_call_request(const hk_call_t *call, size_t *len)
{
    *len = call->request_len;
    return call->request;
}

uint64_t hk_call_deadline(const hk_call_t *call)
{
    (void)call;
    return 0;
}

void *hk_call_ctx(const hk_call_t *call)
{
    return call->ctx;
}

void hk_call_set_data(hk_call_t *call, void *data)
{
    call->data = data;
}

void *hk_call_data(const hk_call_t *call)
{
    return call->data;
}

void hk_call_on_cancel(hk_call_t *call, hk_call_cancel_fn cb, void *arg)
{
    call->cancel_cb = cb;
    call->cancel_arg = arg;
}

int hk_call_cancelled(const hk_call_t *call)
{
    return call->cancelled;
}

void hk_call_reply(hk_call_t *call, const uint8_t *msg, size_t len)
{
    answer(call, HK_STATUS_OK, NULL, msg, len);
}

void hk_call_fail(hk_call_t *call, int status, const char *message)
{
    answer(call, status, message, NULL, 0);
}

hk_call_codec_t hk_call_codec(const hk_call_t *call)
{
    (void)call;
    return HK_CALL_GRPC; /* the tests pack their requests as gRPC clients do */
}

void hk_call_fail_http(hk_call_t *call, int http_status, int status, const char *message)
{
    (void)http_status;
    answer(call, status, message, NULL, 0);
}
