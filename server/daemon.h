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

/* Where the config came from, to read it again on SIGHUP: the file (NULL:
 * none) and the "KEY=VALUE" settings applied after it (hk_config_read). */
typedef struct {
    const char *config_path;
    const char *const *sets;
    unsigned n_sets;
} hk_daemon_source_t;

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
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t watchdog; /* WATCHDOG=1 pings, when the service manager wants them */
    int watchdog_on;
    int activated; /* serving a socket handed over by the service manager */
    int stopping;
    int start_err; /* a failed start's error, while it tears down */
    int failed;    /* stopping because the store was lost: exit non-zero */
    hk_daemon_source_t source;
} hk_daemon_t;

/* Starts hookd: the signal handlers; the data directory and the socket's
 * directory (created when missing); the server, on the socket a service
 * manager handed over (LISTEN_FDS, hk_service_listen_fd) or on one it binds
 * at config->socket_path (socket_mode, socket_group); then, when config->user
 * names another user and hookd runs as root, it becomes that user
 * (setgroups, setgid, setuid; directories it created are chowned to the user
 * first); then the store and the delivery engine (http client, group
 * commit, scheduler: every pending delivery resumes). Logs a warning for
 * each webhook whose trigger action is not in the catalog, then tells the
 * service manager READY=1 and pings its watchdog. SIGTERM/SIGINT stop
 * hookd; SIGHUP reloads the config from source (copied; it must outlive the
 * daemon). A store LMDB gave up (a failed meta page write) stops it too,
 * with d->failed set: hookd then exits 1, for a restart to open it again.
 * Returns 0 or an error (logged); on error everything opened is closed
 * again. */
int hk_daemon_start(hk_daemon_t *d, uv_loop_t *loop, hk_config_t *config,
                    const hk_daemon_source_t *source);

/* Reads the config again from the daemon's source (as on SIGHUP) and applies
 * it without dropping a connection: the catalog, roles, input limits, the
 * outbound policy, the log level and allow_http take effect at once; keys
 * that need a restart (socket, data_dir, socket_mode, socket_group, user,
 * store_map_bytes, ca_file, max_transfers, retry_schedule, retry_after_max,
 * idempotency_window, log_max_age, log_max_count) keep their running value,
 * with a warning when the file changed them. An invalid config is refused:
 * logged with its line (reload_failed), the running config kept. Returns 0
 * or the error. */
int hk_daemon_reload(hk_daemon_t *d);

/* Stops gracefully (as on SIGTERM; STOPPING=1 to the service manager): async attempts in flight are
 * cancelled at once (their deliveries stay pending), the server lets calls in flight finish (a
 * grace period), then the http client, the scheduler and the group commit close (the last batch
 * synced) and the store closes. The loop ends when everything closed. */
void hk_daemon_stop(hk_daemon_t *d);

#endif
