/* fake_call.c -- transport/call.h for api tests: calls made by the test, answers kept for it */
#include "fake_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    hk_call_codec_t codec;
};

void fake_call_bytes(fake_answer_t *a, void *ctx, const char *path, uid_t uid, const uint8_t *req,
                     size_t len, hk_call_codec_t codec)
{
    hk_call_t *call = calloc(1, sizeof *call);
    if (!call || !(call->request = malloc(len ? len : 1)) || !(call->path = strdup(path))) abort();
    if (len) memcpy(call->request, req, len);
    call->request_len = len;
    call->peer.pid = getpid();
    call->peer.uid = uid;
    call->peer.gid = (gid_t)-1;
    call->ctx = ctx;
    call->codec = codec;
    call->answer = a;
    memset(a, 0, sizeof *a);
    a->status = -1;
    a->call = call;
    hk_rpc_dispatch(call, ctx);
}

void fake_call(fake_answer_t *a, void *ctx, const char *path, uid_t uid,
               const ProtobufCMessage *req)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) abort();
    protobuf_c_message_pack(req, buf);
    fake_call_bytes(a, ctx, path, uid, buf, len, HK_CALL_GRPC);
    free(buf);
}

static void answer(hk_call_t *call, int status, const char *message, const uint8_t *msg, size_t len)
{
    fake_answer_t *a = call->answer;
    if (call->data) abort(); /* the rpc layer takes its state off before it finishes */
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

int fake_call_cancellable(const fake_answer_t *a)
{
    return a->call && a->call->cancel_cb && !a->call->cancelled;
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
    if (!msg && len) abort();
    answer(call, HK_STATUS_OK, NULL, msg, len);
}

void hk_call_fail(hk_call_t *call, int status, const char *message)
{
    if (status <= HK_STATUS_OK || status > HK_STATUS_UNAUTHENTICATED || !message) abort();
    answer(call, status, message, NULL, 0);
}

hk_call_codec_t hk_call_codec(const hk_call_t *call)
{
    return call->codec;
}

void hk_call_fail_http(hk_call_t *call, int http_status, int status, const char *message)
{
    /* 200 stands for "the Connect table's status"; else an error status. */
    if (http_status != 200 && (http_status < 400 || http_status > 599)) abort();
    hk_call_fail(call, status, message);
}
