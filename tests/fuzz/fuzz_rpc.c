/* fuzz_rpc.c -- each RPC's protobuf request through hk_rpc_dispatch against a temporary store */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "api/inflight.h"
#include "api/methods.h"
#include "api/rpc.h"
#include "core/config.h"
#include "core/status.h"
#include "deliver/commit.h"
#include "deliver/http.h"
#include "deliver/policy.h"
#include "fake_call.h"
#include "fuzz.h"
#include "hookd/v1/webhooks.pb-c.h"
#include "store/batch.h"
#include "store/store.h"
#include "store/webhooks.h"

/* Input: one byte, then the request. The byte's low 4 bits pick the method
 * (hk_rpc_methods[i]; past the end, a :path no method has); bit 7 calls as
 * a uid with no role, bit 6 cancels the call (RST_STREAM) if the handler has
 * not answered when dispatch returns, bit 5 has hookd stopping; bit 4 sends
 * the request as Connect JSON where the transport has Connect (else the
 * request is packed protobuf, as gRPC sends it).
 *
 * Every input starts from the same store: a copy of a template made once
 * with four webhooks (async, sync, inactive, Elite) and one delivery, so
 * Get/Update/Delete/Trigger/Redeliver find something. Outbound HTTP is on,
 * with a policy that refuses every address: a sync webhook's attempt ends
 * REFUSED at once, and nothing leaves the machine. */

#define FLAG_NO_ROLE 0x80
#define FLAG_CANCEL 0x40
#define FLAG_STOPPING 0x20
#define FLAG_JSON 0x10
#define NO_ROLE_UID 54321

static const char *scratch;
static char template_dir[300], run_dir[300];
static uv_loop_t loop;
static uv_timer_t tick;
static hk_config_t config;
static hk_api_t api;

/* The calls: tests/unit/api/fake_call.c (transport/call.h for callers that
 * are not the transport), which also aborts on a handler that breaks the
 * transport's contract. */
static fake_answer_t answer;

/* --- the rig: a template store copied for every input ----------------------- */

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out;
    char buf[64 << 10];
    size_t n;
    if (!in) abort();
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(out = fdopen(fd, "wb"))) abort();
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) abort();
    fclose(in);
    if (fclose(out) != 0) abort();
}

static void copy_dir(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *e;
    char a[600], b[600];
    if (!d || mkdir(to, 0700) != 0) abort();
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        copy_file(a, b);
    }
    closedir(d);
}

static void commit_closed(void *arg)
{
    ++*(int *)arg;
}

/* Runs the loop until the call is answered and nothing waits to be
 * committed; a call left unanswered is a bug (the client would hang). */
static void run_until_answered(void)
{
    uint64_t end = uv_hrtime() + 5000000000ull;
    uv_timer_start(&tick, on_tick, 1, 1);
    while ((answer.call || hk_outbox_batch_gen(api.store) != 0) && uv_hrtime() < end)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    if (answer.call) {
        fprintf(stderr, "fuzz_rpc: the call was never answered\n");
        abort();
    }
}

static void rig_open(const char *dir)
{
    if (hk_store_open(dir, 16u << 20, &api.store) != 0 ||
        hk_commit_new(&loop, api.store, &api.commit) != 0 || hk_inflight_new(&api.inflight) != 0)
        abort();
}

static void rig_close(void)
{
    int closed = 0;
    hk_commit_close(api.commit, commit_closed, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    /* Every TriggerEvent answered has left the registry. */
    if (hk_inflight_count(api.inflight) != 0) abort();
    hk_inflight_free(api.inflight);
    hk_store_close(api.store);
    api.commit = NULL, api.inflight = NULL, api.store = NULL;
}

static void dispatch(const char *path, uid_t uid, const uint8_t *req, size_t len, int cancel,
                     int json)
{
    fake_call_bytes(&answer, &api, path, uid, req, len, json ? HK_CALL_CONNECT_JSON : HK_CALL_GRPC);
    /* The transport answers CANCELLED; the handler still finishes it. */
    if (cancel && fake_call_cancellable(&answer)) fake_call_cancel(&answer);
    run_until_answered();
    fake_answer_free(&answer);
}

static void add_webhook(const char *name, int application, int async, int active)
{
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = (char *)name;
    wh.application = application;
    wh.trigger_action = (char *)"AccountUpdated";
    wh.url = (char *)"https://127.0.0.1:9/hook";
    wh.timeout_seconds = 5;
    wh.secret_key = (char *)"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    wh.asynchronous = async;
    wh.active = active;
    wh.description = (char *)"fuzz";
    if (hk_store_webhook_create(api.store, &wh) != 0) abort();
}

static void make_template(void)
{
    rig_open(template_dir);
    add_webhook("Async", HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE, 1, 1);
    add_webhook("Sync", HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE, 0, 1);
    add_webhook("Inactive", HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE, 1, 0);
    add_webhook("Elite", HOOKD__V1__APPLICATION__APPLICATION_ELITE, 1, 1);
    /* One event: a delivery queued for Async, one refused attempt for Sync. */
    Hookd__V1__TriggerEventRequest req = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT;
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = (char *)"AccountUpdated";
    req.payload.data = (uint8_t *)"{\"id\":1}";
    req.payload.len = 8;
    req.event_id = (char *)"evt-template";
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(len);
    protobuf_c_message_pack(&req.base, buf);
    dispatch("/hookd.v1.Webhooks/TriggerEvent", getuid(), buf, len, 0, 0);
    free(buf);
    if (answer.status != HK_STATUS_OK) abort();
    rig_close();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    scratch = hk_fuzz_init();
    snprintf(template_dir, sizeof template_dir, "%s/template", scratch);
    snprintf(run_dir, sizeof run_dir, "%s/run", scratch);
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    if (hk_config_defaults(&config) != 0) abort();
    api.config = &config;
    hk_policy_t policy;
    hk_policy_init(&policy);
    if (hk_policy_deny(&policy, "0.0.0.0/0") != 0 || hk_policy_deny(&policy, "::/0") != 0) abort();
    hk_http_opts_t hopts = {.policy = &policy};
    if (hk_http_new(&loop, &hopts, &api.http) != 0) abort();
    make_template();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    unsigned which = data[0] & 0x0f;
    const char *path = which < hk_rpc_method_count ? hk_rpc_methods[which].path
                                                   : "/hookd.v1.Webhooks/NoSuchMethod";
    uid_t uid = (data[0] & FLAG_NO_ROLE) ? NO_ROLE_UID : getuid();

    hk_fuzz_rmtree(run_dir);
    copy_dir(template_dir, run_dir);
    rig_open(run_dir);
    api.stopping = (data[0] & FLAG_STOPPING) != 0;
    dispatch(path, uid, data + 1, size - 1, (data[0] & FLAG_CANCEL) != 0,
             (data[0] & FLAG_JSON) != 0);
    rig_close();
    return 0;
}
