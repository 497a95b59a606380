/* api.h -- what the RPC handlers work with: the modules of a running hookd, as one context */
#ifndef HK_API_H
#define HK_API_H

#include "api/inflight.h"
#include "core/config.h"
#include "deliver/commit.h"
#include "deliver/http.h"
#include "store/store.h"
#include "transport/call.h"

/* The handlers' context, the ctx the transport hands to hk_rpc_dispatch
 * (hk_server_opts_t.ctx). Its owner -- hookd's daemon.c, or a test -- fills
 * it before the first call is dispatched and keeps every module open while
 * calls run; the api layer owns none of them. The layer depends only
 * downward: core, store, transport (the call), deliver. */
typedef struct hk_api {
    const hk_config_t *config; /* roles, limits, catalog, retry schedule, idempotency window */
    hk_store_t *store;         /* webhooks, deliveries, event ids */
    hk_commit_t *commit;       /* the store writer's loop side: writes are answered through it */
    hk_http_t *http;           /* synchronous webhooks' attempts */
    hk_inflight_t *inflight;   /* TriggerEvent calls in flight, by event id */
    int stopping;              /* set by the owner when it starts to stop: health NOT_SERVING */
    /* Synchronous attempts TriggerEvent made (the scheduler counts the
     * asynchronous ones), for the owner's stop-time delivery_stats. */
    struct {
        uint64_t attempts, succeeded, failed;
    } sync_stats;
    /* CreateLoginLink (the browser listener, server/web): mints a one-time
     * login link acting as peer, writing the URL (NUL-terminated) into url
     * (n bytes) and its expiry (Unix ms) into *expire_ms. Returns 0 or a
     * negative HK_E*. NULL: http_listen is off (FAILED_PRECONDITION). */
    int (*login_link)(void *arg, const hk_peer_t *peer, char *url, size_t n, int64_t *expire_ms);
    void *login_link_arg;
} hk_api_t;

/* The context of a call hk_rpc_dispatch runs. */
static inline hk_api_t *hk_api_of(const hk_call_t *call)
{
    return hk_call_ctx(call);
}

#endif
