/* call.c -- one unary gRPC call: request framing, deadline, response and status */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

static int header_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* grpc-timeout: at most 8 digits and a unit. */
static void format_timeout(int64_t ms, char *buf, size_t len)
{
    if (ms < 1) ms = 1;
    if (ms <= 99999999)
        snprintf(buf, len, "%lldm", (long long)ms);
    else
        snprintf(buf, len, "%lldS", (long long)(ms / 1000 > 99999999 ? 99999999 : ms / 1000));
}

void hkc_call_submit(hk_client_call_t *call)
{
    hk_client_t *c = call->client;
    char timeout[16];

    if (call->deadline && hkc_clock_ms() >= call->deadline) {
        hkc_call_finish(call, HK_STATUS_DEADLINE_EXCEEDED, "deadline exceeded", 0);
        return;
    }
    hkc_conn_t *conn = hkc_conn_current(c, call->deadline);
    if (!conn) {
        hkc_call_finish(call, HK_STATUS_UNAVAILABLE, c->conn_error, 0);
        return;
    }
    if (call->deadline) format_timeout(call->deadline - hkc_clock_ms(), timeout, sizeof timeout);
    call->body_off = 0;
    call->headers_sent = call->refused = 0;
    call->http_status = 0;
    call->grpc_status = -1;
    free(call->grpc_message);
    call->grpc_message = NULL;
    call->resp_len = 0;
    int32_t id = hkc_conn_submit(conn, call, call->deadline ? timeout : NULL);
    if (id < 0) {
        /* That connection takes no more streams; the next one will. */
        conn = hkc_conn_current(c, call->deadline);
        id = conn ? hkc_conn_submit(conn, call, call->deadline ? timeout : NULL) : -1;
        if (id < 0) {
            hkc_call_finish(call, HK_STATUS_UNAVAILABLE,
                            conn ? "hookd takes no new calls on this connection" : c->conn_error,
                            0);
            return;
        }
    }
    call->conn = conn;
    call->stream_id = id;
    hkc_conn_flush(conn); /* the request goes out now, not at the next wait */
}

void hkc_call_finish(hk_client_call_t *call, int code, const char *message, int reset_stream)
{
    if (call->done) return;
    if (call->conn) hkc_conn_detach(call->conn, call->stream_id, reset_stream);
    call->conn = NULL;
    call->done = 1;
    call->retry = 0;
    call->code = code;
    call->message = strdup(message ? message : "");
    free(call->body);
    call->body = NULL;
    free(call->resp);
    call->resp = NULL;
    call->resp_len = call->resp_cap = 0;
    if (call->client) {
        call->client->stats.pending--;
        call->client->finished++;
    }
}

void hkc_call_on_header(hk_client_call_t *call, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen)
{
    if (header_is(name, namelen, ":status")) {
        int s = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            s = s * 10 + (value[i] - '0');
        call->http_status = s;
    } else if (header_is(name, namelen, "grpc-status")) {
        int s = 0;
        for (size_t i = 0; i < valuelen && s <= 1000; i++) {
            if (value[i] < '0' || value[i] > '9') {
                s = HK_STATUS_UNKNOWN;
                break;
            }
            s = s * 10 + (value[i] - '0');
        }
        call->grpc_status = valuelen && s <= HK_STATUS_UNAUTHENTICATED ? s : HK_STATUS_UNKNOWN;
    } else if (header_is(name, namelen, "grpc-message")) {
        free(call->grpc_message);
        call->grpc_message = hkc_status_decode_message(value, valuelen);
    }
}

int hkc_call_on_data(hk_client_call_t *call, const uint8_t *data, size_t len)
{
    if (len > HK_CLIENT_MAX_RESPONSE - call->resp_len) {
        hkc_call_finish(call, HK_STATUS_RESOURCE_EXHAUSTED, "response larger than 64 MiB", 1);
        return -1;
    }
    if (call->resp_len + len > call->resp_cap) {
        size_t cap = call->resp_cap ? call->resp_cap : 4096;
        while (cap < call->resp_len + len)
            cap *= 2;
        uint8_t *p = realloc(call->resp, cap);
        if (!p) {
            hkc_call_finish(call, HK_STATUS_RESOURCE_EXHAUSTED, "out of memory", 1);
            return -1;
        }
        call->resp = p;
        call->resp_cap = cap;
    }
    memcpy(call->resp + call->resp_len, data, len);
    call->resp_len += len;
    return 0;
}

/* The one length-prefixed message of a unary answer. */
static void decode_response(hk_client_call_t *call)
{
    char msg[200];
    const uint8_t *p = call->resp;
    if (call->resp_len < 5) {
        hkc_call_finish(call, HK_STATUS_INTERNAL, "hookd answered OK without a response message",
                        0);
        return;
    }
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    if (p[0] != 0) {
        hkc_call_finish(call, HK_STATUS_INTERNAL, "compressed response, but none was asked for", 0);
        return;
    }
    if (len > call->resp_len - 5) {
        hkc_call_finish(call, HK_STATUS_INTERNAL, "truncated response message", 0);
        return;
    }
    if (len < call->resp_len - 5) {
        hkc_call_finish(call, HK_STATUS_INTERNAL, "more than one response message to a unary call",
                        0);
        return;
    }
    call->response = protobuf_c_message_unpack(call->output, NULL, len, p + 5);
    if (!call->response) {
        snprintf(msg, sizeof msg, "cannot decode the response as %s", call->output->name);
        hkc_call_finish(call, HK_STATUS_INTERNAL, msg, 0);
        return;
    }
    hkc_call_finish(call, HK_STATUS_OK, "", 0);
}

void hkc_call_on_close(hk_client_call_t *call, uint32_t h2_error)
{
    char msg[120];
    if (call->done) return;
    /* REFUSED_STREAM, or never sent: hookd did not process it, so it may go again. */
    if ((h2_error == 0x7 || call->refused || !call->headers_sent) && call->grpc_status < 0 &&
        !call->retried) {
        call->retried = 1;
        call->retry = 1;
        return;
    }
    if (call->grpc_status > 0) {
        hkc_call_finish(call, call->grpc_status, call->grpc_message, 0);
    } else if (call->grpc_status == 0) {
        decode_response(call);
    } else if (h2_error != 0) {
        snprintf(msg, sizeof msg, "hookd reset the call (HTTP/2 error %u)", h2_error);
        hkc_call_finish(call, hkc_status_from_h2(h2_error), msg, 0);
    } else if (call->http_status != 200) {
        snprintf(msg, sizeof msg, "hookd answered HTTP status %d without a gRPC status",
                 call->http_status);
        hkc_call_finish(call, hkc_status_from_http(call->http_status), msg, 0);
    } else {
        hkc_call_finish(call, HK_STATUS_UNKNOWN, "hookd's answer ended without a gRPC status", 0);
    }
}

void hkc_call_on_lost(hk_client_call_t *call, const char *why)
{
    char msg[300];
    call->conn = NULL;
    if (call->done) return;
    if ((call->refused || !call->headers_sent) && !call->retried) {
        call->retried = 1;
        call->retry = 1;
        return;
    }
    snprintf(msg, sizeof msg, "%s", why);
    hkc_call_finish(call, HK_STATUS_UNAVAILABLE, msg, 0);
}

int hk_client_call_start(hk_client_t *c, const ProtobufCServiceDescriptor *service,
                         const char *method, const ProtobufCMessage *request, int deadline_ms,
                         hk_client_call_t **out)
{
    *out = NULL;
    if (!c || !service || !method || !request) return -HK_STATUS_INVALID_ARGUMENT;
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(service, method);
    if (!m || request->descriptor != m->input) return -HK_STATUS_INVALID_ARGUMENT;
    if (deadline_ms == 0) deadline_ms = c->default_deadline_ms;
    if (deadline_ms <= 0 && deadline_ms != HK_CLIENT_NO_DEADLINE)
        return -HK_STATUS_INVALID_ARGUMENT;

    hk_client_call_t *call = calloc(1, sizeof *call);
    if (!call) return -HK_STATUS_RESOURCE_EXHAUSTED;
    size_t len = protobuf_c_message_get_packed_size(request);
    size_t pathlen = strlen(service->name) + strlen(m->name) + 3;
    call->path = malloc(pathlen);
    call->body = malloc(len + 5);
    if (len > UINT32_MAX || !call->path || !call->body) {
        free(call->path);
        free(call->body);
        free(call);
        return -HK_STATUS_RESOURCE_EXHAUSTED;
    }
    snprintf(call->path, pathlen, "/%s/%s", service->name, m->name);
    call->body[0] = 0; /* not compressed */
    call->body[1] = (uint8_t)(len >> 24);
    call->body[2] = (uint8_t)(len >> 16);
    call->body[3] = (uint8_t)(len >> 8);
    call->body[4] = (uint8_t)len;
    protobuf_c_message_pack(request, call->body + 5);
    call->body_len = len + 5;
    call->output = m->output;
    call->grpc_status = -1;
    call->deadline = deadline_ms > 0 ? hkc_clock_ms() + deadline_ms : 0;

    call->client = c;
    hk_link_add(c->calls.next, &call->link); /* before the first: newest first */
    c->stats.calls++;
    c->stats.pending++;
    hkc_call_submit(call);
    *out = call;
    return 0;
}

int hk_client_call_done(const hk_client_call_t *call)
{
    return call->done;
}

int hk_client_call_status(const hk_client_call_t *call, const char **message)
{
    if (!call->done) {
        if (message) *message = "the call is still running";
        return HK_STATUS_UNKNOWN;
    }
    if (message) *message = call->message ? call->message : "";
    return call->code;
}

ProtobufCMessage *hk_client_call_take_response(hk_client_call_t *call)
{
    ProtobufCMessage *m = call->response;
    call->response = NULL;
    return m;
}

void hk_client_call_free(hk_client_call_t *call)
{
    if (!call) return;
    if (!call->done) hkc_call_finish(call, HK_STATUS_CANCELLED, "cancelled", 1);
    hk_link_del(&call->link); /* alone already when the client was closed first */
    if (call->response) protobuf_c_message_free_unpacked(call->response, NULL);
    free(call->path);
    free(call->body);
    free(call->resp);
    free(call->grpc_message);
    free(call->message);
    free(call);
}
