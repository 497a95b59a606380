/* fake_call.h -- a stand-in for the transport's calls in api tests: a request in, the answer kept
 */
#ifndef HK_FAKE_CALL_H
#define HK_FAKE_CALL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "transport/call.h"

/* fake_call.c defines transport/call.h's functions for the api runners and
 * fuzz_rpc (so the transport's call.c is not linked): a call is what a
 * client sent, and what it got back is kept here, owned by the caller. A
 * handler that breaks the transport's contract (fails with OK or with no
 * message, finishes a call it still keeps data on) aborts. */
typedef struct {
    hk_call_t *call; /* while the handler holds it; NULL once it finished the call */
    int status;      /* what the client got: an HK_STATUS_*, -1 until answered */
    char message[1024];
    uint8_t *resp; /* the reply message (a successful answer), owned */
    size_t resp_len;
} fake_answer_t;

/* Sends req (packed) to path as uid and runs hk_rpc_dispatch(call, ctx), as
 * the transport does when a request has arrived. The handler may answer at
 * once or later. */
void fake_call(fake_answer_t *a, void *ctx, const char *path, uid_t uid,
               const ProtobufCMessage *req);

/* The same with the request's bytes as they came (len of them, in codec's
 * encoding): what a fuzzer sends. */
void fake_call_bytes(fake_answer_t *a, void *ctx, const char *path, uid_t uid, const uint8_t *req,
                     size_t len, hk_call_codec_t codec);

/* Whether the handler holds the call with a cancel callback registered
 * (fake_call_cancel may be called). */
int fake_call_cancellable(const fake_answer_t *a);

/* The client goes away (RST_STREAM): it gets CANCELLED at once, and the
 * handler's cancel callback runs (one must be registered). */
void fake_call_cancel(fake_answer_t *a);

/* The reply unpacked as desc, or NULL when the call failed or is not
 * answered yet; free it with protobuf_c_message_free_unpacked. */
ProtobufCMessage *fake_answer_unpack(const fake_answer_t *a,
                                     const ProtobufCMessageDescriptor *desc);

/* Frees what a holds; the call must be finished. */
void fake_answer_free(fake_answer_t *a);

#endif
