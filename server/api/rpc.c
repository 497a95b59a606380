/* rpc.c -- the protobuf side of a call: find the method, authorize, decode, answer, log; in the
 * call's codec (gRPC and Connect's application/proto: protobuf bytes; application/json: pbjson) */
#include "api/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/methods.h"
#include "api/pbjson.h"
#include "api/wire.h"
#include "core/error.h"
#include "core/log.h"
#include "core/status.h"

/* What the rpc layer keeps on a call between dispatch and the answer. */
typedef struct {
    ProtobufCMessage *request; /* freed when the call finishes */
    void *data;                /* the handler's, see hk_rpc_set_data */
    uint64_t start_us;
} rpc_call_t;

/* Answered calls by method (the table's order; the last row: unknown
 * paths) and status, for the metrics page. The loop thread only. */
static uint64_t rpc_counts[HK_RPC_COUNT_ROWS + 1][HK_RPC_CODES];

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const hk_rpc_method_t *hk_rpc_find(const char *path)
{
    if (!path) return NULL;
    for (size_t i = 0; i < hk_rpc_method_count; i++)
        if (strcmp(hk_rpc_methods[i].path, path) == 0) return &hk_rpc_methods[i];
    return NULL;
}

const char *hk_rpc_method_name(const hk_call_t *call)
{
    const char *path = hk_call_path(call);
    if (!path) return "";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void hk_rpc_set_data(hk_call_t *call, void *data)
{
    rpc_call_t *rpc = hk_call_data(call);
    if (rpc) rpc->data = data;
}

void *hk_rpc_data(const hk_call_t *call)
{
    rpc_call_t *rpc = hk_call_data(call);
    return rpc ? rpc->data : NULL;
}

/* Takes the rpc state off a call that is about to finish (the call is freed
 * by hk_call_reply / hk_call_fail, so read everything first). */
static rpc_call_t *take(hk_call_t *call)
{
    rpc_call_t *rpc = hk_call_data(call);
    hk_call_set_data(call, NULL);
    return rpc;
}

static void release(rpc_call_t *rpc)
{
    if (!rpc) return;
    if (rpc->request) protobuf_c_message_free_unpacked(rpc->request, NULL);
    free(rpc);
}

/* A caller's text made safe to echo in a status message: printable ASCII,
 * at most n - 1 bytes. */
static const char *printable(const char *s, char *buf, size_t n)
{
    size_t j = 0;
    for (; s && *s && j + 1 < n; s++)
        buf[j++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    buf[j] = '\0';
    return buf;
}

int hk_rpc_authorize(void *ctx, const char *path, const hk_peer_t *peer, char *msg, size_t n)
{
    const hk_api_t *api = ctx;
    const hk_rpc_method_t *m = hk_rpc_find(path);
    char safe[200], q[240];
    int status = HK_STATUS_OK;

    if (!m) {
        snprintf(msg, n, "unknown method %s", printable(path, safe, sizeof safe));
        status = HK_STATUS_UNIMPLEMENTED;
    } else if (hk_config_role(api->config, peer->uid, peer->gid, peer->groups, peer->n_groups) <
               m->role) {
        const char *slash = strrchr(path, '/');
        snprintf(msg, n, "uid %u may not call %s", (unsigned)peer->uid, slash ? slash + 1 : path);
        status = HK_STATUS_PERMISSION_DENIED;
    }
    /* The same line a refused call logs in dispatch. */
    if (status != HK_STATUS_OK && hk_log_enabled(HK_LOG_INFO)) {
        char qm[400];
        hk_log(HK_LOG_INFO, "rpc_failed", "status=%s path=%s uid=%u ms=0 message=%s",
               hk_status_name(status),
               hk_log_quote(printable(path, safe, sizeof safe), q, sizeof q), (unsigned)peer->uid,
               hk_log_quote(msg, qm, sizeof qm));
    }
    return status;
}

int hk_rpc_privileged(void *ctx, const hk_peer_t *peer)
{
    const hk_api_t *api = ctx;
    return hk_config_role(api->config, peer->uid, peer->gid, peer->groups, peer->n_groups) ==
           HK_ROLE_ADMIN;
}

static void fail_http(hk_call_t *call, int http_status, int status, const char *message);
static void log_call(hk_call_t *call, const rpc_call_t *rpc, int status, const char *message);

void hk_rpc_dispatch(hk_call_t *call, void *ctx)
{
    const hk_api_t *api = ctx;
    const char *path = hk_call_path(call);
    const hk_rpc_method_t *m = hk_rpc_find(path);
    char safe[200];

    if (!m) {
        /* Connect answers an unknown path 404, as an HTTP router would. */
        char message[300];
        snprintf(message, sizeof message, "unknown method %s", printable(path, safe, sizeof safe));
        fail_http(call, 404, HK_STATUS_UNIMPLEMENTED, message);
        return;
    }
    const hk_peer_t *peer = hk_call_peer(call);
    if (hk_config_role(api->config, peer->uid, peer->gid, peer->groups, peer->n_groups) < m->role) {
        hk_rpc_fail(call, HK_STATUS_PERMISSION_DENIED, "uid %u may not call %s",
                    (unsigned)peer->uid, hk_rpc_method_name(call));
        return;
    }

    rpc_call_t *rpc = calloc(1, sizeof *rpc);
    if (!rpc) {
        hk_rpc_fail_err(call, HK_ENOMEM, "request");
        return;
    }
    size_t len;
    const uint8_t *bytes = hk_call_request(call, &len);
    char why[256];
    if (hk_call_codec(call) != HK_CALL_CONNECT_JSON &&
        hk_wire_check_strings(m->request, bytes, len, why, sizeof why) != 0) {
        free(rpc);
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "%s", why);
        return;
    }
    rpc->start_us = now_us();
    if (hk_call_codec(call) == HK_CALL_CONNECT_JSON) {
        char err[256] = "";
        if (hk_pbjson_decode(m->request, bytes, len, &rpc->request, err, sizeof err) != 0) {
            free(rpc);
            /* err names the field ("event_id: ...") as validation does, or says
             * "invalid JSON: ...": the same words the gRPC side and the page use. */
            hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "%s", err);
            return;
        }
    } else {
        rpc->request = protobuf_c_message_unpack(m->request, NULL, len, bytes);
    }
    if (!rpc->request) {
        free(rpc);
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "request does not parse as %s",
                    m->request->name);
        return;
    }
    hk_call_set_data(call, rpc);
    m->handler(call, rpc->request);
}

/* One line per answered call: failures at info (what a caller got refused
 * is what an operator asks about), successes at debug. Messages never carry
 * secrets: no handler puts one in a status message. */
static void log_call(hk_call_t *call, const rpc_call_t *rpc, int status, const char *message)
{
    const hk_rpc_method_t *m = hk_rpc_find(hk_call_path(call));
    size_t row = m ? (size_t)(m - hk_rpc_methods) : HK_RPC_COUNT_ROWS;
    if ((!m || row < HK_RPC_COUNT_ROWS) && status >= 0 && status < HK_RPC_CODES)
        rpc_counts[row][status]++;
    hk_log_level_t level = status == HK_STATUS_OK ? HK_LOG_DEBUG : HK_LOG_INFO;
    if (!hk_log_enabled(level)) return; /* the quoting below is not free */
    char path[160], msg[400];
    const hk_peer_t *peer = hk_call_peer(call);
    long long ms = rpc ? (long long)((now_us() - rpc->start_us) / 1000u) : 0;
    hk_log(level, status == HK_STATUS_OK ? "rpc" : "rpc_failed",
           "status=%s path=%s uid=%u ms=%lld%s%s", hk_status_name(status),
           hk_log_quote(hk_call_path(call), path, sizeof path), peer ? (unsigned)peer->uid : 0u, ms,
           message ? " message=" : "", message ? hk_log_quote(message, msg, sizeof msg) : "");
}

void hk_rpc_reply(hk_call_t *call, const ProtobufCMessage *resp)
{
    if (hk_call_codec(call) == HK_CALL_CONNECT_JSON) {
        char *json = NULL;
        size_t n = 0;
        int rc = hk_pbjson_encode(resp, &json, &n);
        if (rc != 0) {
            hk_rpc_fail(call, HK_STATUS_INTERNAL, "reply: cannot encode %s as JSON: %s",
                        resp->descriptor->name, hk_strerror(rc));
            return;
        }
        rpc_call_t *rpc = take(call);
        log_call(call, rpc, HK_STATUS_OK, NULL);
        hk_call_reply(call, (const uint8_t *)json, n);
        free(json);
        release(rpc);
        return;
    }
    /* Most answers are small: packed on the stack (the transport copies). */
    uint8_t small[4096];
    size_t len = protobuf_c_message_get_packed_size(resp);
    uint8_t *buf = len <= sizeof small ? small : malloc(len);
    if (!buf) {
        hk_rpc_fail_err(call, HK_ENOMEM, "reply");
        return;
    }
    protobuf_c_message_pack(resp, buf);
    rpc_call_t *rpc = take(call);
    log_call(call, rpc, HK_STATUS_OK, NULL);
    /* resp may point into the request: free the request only after packing. */
    hk_call_reply(call, buf, len);
    if (buf != small) free(buf);
    release(rpc);
}

static void fail_http(hk_call_t *call, int http_status, int status, const char *message)
{
    rpc_call_t *rpc = take(call);
    log_call(call, rpc, status, message);
    hk_call_fail_http(call, http_status, status, message);
    release(rpc);
}

void hk_rpc_fail(hk_call_t *call, int status, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* 200: the Connect table's HTTP status for status. */
    fail_http(call, 200, status, message);
}

void hk_rpc_error_text(const hk_api_t *api, int err, const char *what, char *buf, size_t n)
{
    char why[512];
    /* A full store or a failing disk: say which, and what frees it. */
    if ((err == HK_EFULL || err == HK_ENOSPC || err == HK_EIO) && api && api->store &&
        hk_store_describe(api->store, err, why, sizeof why) == 0)
        snprintf(buf, n, "%s: %s", what, why);
    else
        snprintf(buf, n, "%s: %s", what, hk_strerror(err));
}

void hk_rpc_fail_err(hk_call_t *call, int err, const char *what)
{
    char message[640];
    hk_rpc_error_text(hk_api_of(call), err, what, message, sizeof message);
    hk_rpc_fail(call, hk_error_status(err), "%s", message);
}

uint64_t hk_rpc_count(const hk_rpc_method_t *m, int status)
{
    size_t row = m ? (size_t)(m - hk_rpc_methods) : HK_RPC_COUNT_ROWS;
    if ((m && row >= HK_RPC_COUNT_ROWS) || status < 0 || status >= HK_RPC_CODES) return 0;
    return rpc_counts[row][status];
}

size_t hk_rpc_page_size(uint32_t requested)
{
    return requested == 0 ? 100 : requested > 1000 ? 1000 : requested;
}

int hk_rpc_page_token_parse(const char *token, uint64_t *id)
{
    size_t n = strlen(token);
    *id = 0;
    if (n == 0) return 0;
    if (n > 20 || strspn(token, "0123456789") != n) return HK_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(token, NULL, 10);
    if (errno == ERANGE || v == 0) return HK_EINVAL;
    *id = v;
    return 0;
}
