/* fuzz_pbjson.c -- the proto3 JSON codec: decode as one message type, then encode and round-trip */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/pbjson.h"
#include "core/error.h"
#include "fuzz.h"
#include "grpc/health/v1/health.pb-c.h"
#include "hookd/v1/webhooks.pb-c.h"

/* Input: one byte picks the message type (the requests first, as Connect
 * JSON bodies are requests; one past the last: the error body, with the rest
 * of the input as its message), then the JSON. */

#define D(name) (&hookd__v1__##name##__descriptor)
static const ProtobufCMessageDescriptor *const types[] = {
    &grpc__health__v1__health_check_request__descriptor,
    D(create_webhook_request),
    D(get_webhook_request),
    D(list_webhooks_request),
    D(update_webhook_request),
    D(delete_webhook_request),
    D(list_trigger_actions_request),
    D(trigger_event_request),
    D(list_deliveries_request),
    D(get_delivery_request),
    D(redeliver_delivery_request),
    /* The answers: a client decodes them, and they hold the nested types. */
    &grpc__health__v1__health_check_response__descriptor,
    D(webhook),
    D(list_webhooks_response),
    D(trigger_action),
    D(list_trigger_actions_response),
    D(sync_result),
    D(queued_delivery),
    D(trigger_event_response),
    D(attempt),
    D(delivery),
    D(list_deliveries_response),
};
#define N_TYPES (sizeof types / sizeof types[0])

static void fail(const char *type, const char *what, const char *json)
{
    fprintf(stderr, "fuzz_pbjson: %s: %s: %s\n", type, what, json ? json : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    hk_fuzz_init();
    return 0;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len + 1);
    if (!buf) abort();
    if (protobuf_c_message_pack(m, buf) != *len) abort();
    return buf;
}

/* Whatever the message, the error body is JSON with the code in it. */
static void error_body(const uint8_t *data, size_t size)
{
    char *message = hk_fuzz_text(data, size), *out = NULL;
    size_t len = 0;
    if (hk_pbjson_error("invalid_argument", message, &out, &len) != 0) abort();
    json_error_t jerr;
    json_t *j = json_loadb(out, len, 0, &jerr);
    if (!j || strcmp(json_string_value(json_object_get(j, "code")), "invalid_argument") != 0)
        fail("error", "not JSON with its code", out);
    json_decref(j);
    free(out);
    free(message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *a = NULL, *b = NULL, *c = NULL;
    char *ja = NULL, *jb = NULL, *jc = NULL, err[512];
    uint8_t *pa = NULL, *pb = NULL;
    size_t la, lb, lpa, lpb;

    if (size == 0) return 0;
    if (data[0] % (N_TYPES + 1) == N_TYPES) {
        error_body(data + 1, size - 1);
        return 0;
    }
    const ProtobufCMessageDescriptor *desc = types[data[0] % (N_TYPES + 1)];
    int rc = hk_pbjson_decode(desc, data + 1, size - 1, &a, err, sizeof err);
    if (rc != 0 && rc != HK_EINVAL) fail(desc->name, "decode: neither 0 nor HK_EINVAL", NULL);
    if (rc != 0) return 0;

    /* What decodes encodes, and the encoding is a fixed point: it decodes to
     * the same message (same binary form), which encodes to the same text. */
    if (hk_pbjson_encode(a, &ja, &la) != 0) fail(desc->name, "decoded, but does not encode", NULL);
    if (strlen(ja) != la) fail(desc->name, "encode: wrong length", ja);
    if (hk_pbjson_decode(desc, (const uint8_t *)ja, la, &b, err, sizeof err) != 0)
        fail(desc->name, "own encoding does not decode", ja);
    pa = pack(a, &lpa);
    pb = pack(b, &lpb);
    if (lpa != lpb || memcmp(pa, pb, lpa) != 0) fail(desc->name, "round trip changed it", ja);
    if (hk_pbjson_encode(b, &jb, &lb) != 0 || lb != la || memcmp(ja, jb, la) != 0)
        fail(desc->name, "encoding is not a fixed point", ja);

    /* The binary form, as protobuf-c unpacks it, encodes the same. */
    if (!(c = protobuf_c_message_unpack(desc, NULL, lpa, pa)))
        fail(desc->name, "packed form does not unpack", ja);
    size_t lc;
    if (hk_pbjson_encode(c, &jc, &lc) != 0 || lc != la || memcmp(ja, jc, la) != 0)
        fail(desc->name, "unpacked form encodes differently", ja);

    protobuf_c_message_free_unpacked(a, NULL);
    protobuf_c_message_free_unpacked(b, NULL);
    protobuf_c_message_free_unpacked(c, NULL);
    free(ja), free(jb), free(jc), free(pa), free(pb);
    return 0;
}
