/* daemon.h -- the running hookd: the modules it wires together, start and stop */
#ifndef HK_DAEMON_H
#define HK_DAEMON_H

#include <uv.h>

#include "api/api.h"
#include "core/config.h"
#include "deliver/commit.h"
#include "deliver/http.h"
#include "deliver/scheduler.h"
#include "store/store.h"
#include "transport/server.h"
#include "web/web.h"

typedef struct hk_daemon {
    uv_loop_t *loop;
    hk_config_t *config;
    hk_store_t *store;
    hk_server_t *server;
    hk_server_t *http_server;  /* the admin page's browser listener (http_listen); NULL: off */
    hk_web_t *web;             /* the pages: /metrics, and the admin page's logins */
    int servers_running;       /* of server and http_server: stop waits for both */
    hk_http_t *http;           /* outbound requests, sync and async */
    hk_commit_t *commit;       /* the outbox's group commit */
    hk_scheduler_t *scheduler; /* asynchronous delivery */
    hk_inflight_t *inflight;   /* TriggerEvent calls in flight, by event id */
    hk_api_t api;              /* the handlers' view of the above: the server's ctx */
    uv_signal_t sigterm, sigint;
    int stopping;
    int start_err; /* a failed start's error, while it tears down */
} hk_daemon_t;

/* Opens the store, starts the server on the config's socket, the delivery
 * engine (http client, group commit, scheduler: every pending delivery
 * resumes) and installs the signal handlers. Returns 0 or an error (logged);
 * on error everything opened is closed again. */
int hk_daemon_start(hk_daemon_t *d, uv_loop_t *loop, hk_config_t *config);

/* Stops gracefully (as on SIGTERM): async attempts in flight are cancelled
 * at once (their deliveries stay pending), the server lets calls in flight
 * finish (a grace period), then the http client, the scheduler and the group
 * commit close (the last batch synced) and the store closes. The loop ends
 * when everything closed. */
void hk_daemon_stop(hk_daemon_t *d);

#endif
