/* daemon.c -- the running hookd: wires config, store and server together; start and stop */
#include "daemon.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/pbjson.h"
#include "api/rpc.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "service.h"
#include "store/batch.h"
#include "store/webhooks.h"

#define HK_STOP_GRACE_MS 10000

static char *parent_of(const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) return NULL;
    if (slash == buf)
        slash[1] = '\0';
    else
        *slash = '\0';
    return buf;
}

static void on_signal(uv_signal_t *sig, int signum)
{
    hk_daemon_t *d = sig->data;
    hk_log(HK_LOG_INFO, "signal", "signal=%d", signum);
    if (signum == SIGHUP)
        (void)hk_daemon_reload(d); /* logs what it did */
    else
        hk_daemon_stop(d);
}

static void on_watchdog(uv_timer_t *timer)
{
    (void)timer;
    hk_service_notify("WATCHDOG=1");
}

static void close_signals(hk_daemon_t *d)
{
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    if (d->watchdog_on) uv_close((uv_handle_t *)&d->watchdog, NULL);
    d->watchdog_on = 0;
}

/* --- webhooks the catalog no longer knows ---------------------------------- */

#define UNKNOWN_ACTIONS_LOGGED 100

typedef struct {
    const hk_catalog_t *catalog;
    size_t unknown;
} action_walk_t;

static int check_action(hk_webhook_t *wh, void *arg)
{
    action_walk_t *w = arg;
    if (!hk_catalog_find(w->catalog, (int)wh->application, wh->trigger_action) &&
        ++w->unknown <= UNKNOWN_ACTIONS_LOGGED) {
        char name[300], action[300];
        const char *app = hk_application_name((int)wh->application);
        hk_log(HK_LOG_WARN, "webhook_action_unknown",
               "webhook=%llu name=%s application=%s trigger_action=%s reason=\"not in the "
               "catalog: it is never triggered\"",
               (unsigned long long)wh->id, hk_log_quote(wh->name, name, sizeof name),
               app ? app : "unknown", hk_log_quote(wh->trigger_action, action, sizeof action));
    }
    hk_webhook_free(wh);
    return 0;
}

/* At start and reload: a trigger action dropped from the config leaves its
 * webhooks in place, silent; say so. */
static void warn_unknown_actions(hk_daemon_t *d)
{
    action_walk_t w = {.catalog = d->config->catalog};
    int rc = hk_store_webhook_list(d->store, 0, 0, NULL, check_action, &w);
    if (rc != 0) hk_log(HK_LOG_WARN, "webhook_check_failed", "error=\"%s\"", hk_strerror(rc));
    if (w.unknown > UNKNOWN_ACTIONS_LOGGED)
        hk_log(HK_LOG_WARN, "webhook_action_unknown", "webhooks=%zu logged=%d", w.unknown,
               UNKNOWN_ACTIONS_LOGGED);
}

/* --- the user hookd runs as ------------------------------------------------ */

/* 1 when the config asks hookd, running as root, to become another user. */
static int dropping(const hk_config_t *cfg)
{
    return cfg->user && geteuid() == 0 && cfg->user_uid != 0;
}

/* mkdir -p dir; the last level, when this call made it and hookd is about to
 * become config->user, is chowned to that user (it must write there). */
static int make_dir(const hk_config_t *cfg, const char *dir, mode_t mode)
{
    struct stat st;
    int existed = stat(dir, &st) == 0;
    if (hk_fs_mkdirs(dir, 0755, mode) != 0) return HK_EIO;
    if (!existed && dropping(cfg) && chown(dir, cfg->user_uid, cfg->user_gid) != 0) return HK_EIO;
    return 0;
}

static int drop_privileges(const hk_config_t *cfg)
{
    if (!cfg->user || cfg->user_uid == geteuid()) return 0; /* hk_daemon_start checked root */
    /* Groups first: after setuid there is no permission left to change them. */
    if (initgroups(cfg->user, cfg->user_gid) != 0 || setgid(cfg->user_gid) != 0 ||
        setuid(cfg->user_uid) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot become user\" user=%s errno=%d",
               cfg->user, errno);
        return HK_EIO;
    }
    if (setuid(0) == 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"root could be regained\" user=%s",
               cfg->user);
        return HK_EIO;
    }
    hk_log(HK_LOG_INFO, "privileges_dropped", "user=%s uid=%u gid=%u", cfg->user,
           (unsigned)cfg->user_uid, (unsigned)cfg->user_gid);
    return 0;
}

/* The path a handed-over socket is bound to, into config->socket_path, so
 * that the logs and the "serving" line name the socket really served. */
static void adopt_socket_path(hk_config_t *cfg, int fd)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || sa.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] == '\0')
        return; /* unnamed or abstract: keep the configured name */
    sa.sun_path[sizeof sa.sun_path - 1] = '\0';
    char *path = strdup(sa.sun_path);
    if (!path) return;
    free(cfg->socket_path);
    cfg->socket_path = path;
}

static void on_server_stopped(void *arg);

/* A committed batch (or an activated webhook) may have made work due. */
static void on_committed(void *arg)
{
    hk_daemon_t *d = arg;
    if (d->scheduler) hk_scheduler_wake(d->scheduler);
}

/* LMDB gave the environment up (a write of its meta page failed): nothing
 * can be read or written until it is opened again, from its last synced
 * commit, and that is what a restart does (systemd: Restart=on-failure).
 * Serving UNAVAILABLE until somebody notices would be worse. */
static void on_store_lost(void *arg)
{
    hk_daemon_t *d = arg;
    hk_log(HK_LOG_ERROR, "store_lost_exiting",
           "why=\"the store cannot be used until it is opened again\" exit_status=1");
    d->failed = 1;
    hk_daemon_stop(d);
}

/* The delivery engine: outbound http, group commit, scheduler. */
static int engine_start(hk_daemon_t *d)
{
    const hk_config_t *cfg = d->config;
    hk_policy_t policy;
    char err[256];
    size_t resumed = 0;
    int rc;

    if ((rc = hk_policy_load(&policy, cfg->allow_nets, cfg->n_allow_nets, cfg->deny_nets,
                             cfg->n_deny_nets, err, sizeof err)) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"outbound policy\" error=\"%s\"", err);
        return rc;
    }
    hk_http_opts_t hopts = {
        .max_transfers = cfg->max_transfers,
        .ca_file = cfg->ca_file,
        .user_agent = "hookd/" HK_VERSION,
        .policy = &policy,
    };
    if ((rc = hk_http_new(d->loop, &hopts, &d->http)) != 0) return rc;
    if ((rc = hk_commit_new(d->loop, d->store, &d->commit)) != 0) return rc;
    if ((rc = hk_inflight_new(&d->inflight)) != 0) return rc;
    hk_scheduler_opts_t sopts = {
        .schedule_ms = cfg->retry_schedule_ms,
        .schedule_len = cfg->retry_count,
        .retry_after_max_s = cfg->retry_after_max_s,
        /* Some transfers stay free for synchronous webhooks, whose callers
         * wait: a slow async receiver must not queue them behind its own
         * attempts (hk_http counts a transfer's timeout from its start). */
        .max_in_flight =
            cfg->max_transfers > 1
                ? cfg->max_transfers - (cfg->max_transfers >= 32 ? cfg->max_transfers / 16 : 1)
                : 1,
        .max_in_flight_per_webhook = cfg->max_in_flight_per_webhook,
        .log_max_age_ms = (uint64_t)cfg->log_max_age_s * 1000,
        .log_max_count = cfg->log_max_count,
        .event_window_ms = (uint64_t)cfg->idempotency_window_s * 1000,
    };
    if ((rc = hk_scheduler_new(d->loop, d->store, d->http, &sopts, &d->scheduler)) != 0) return rc;
    hk_commit_listener_t listener = {.committed = on_committed, .lost = on_store_lost, .arg = d};
    hk_commit_set_listener(d->commit, &listener);
    if ((rc = hk_scheduler_start(d->scheduler, &resumed)) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot resume deliveries\" error=\"%s\"",
               hk_strerror(rc));
        return rc;
    }
    hk_log(HK_LOG_INFO, "deliveries_resumed", "pending=%zu", resumed);
    return 0;
}

static int open_store(hk_daemon_t *d)
{
    int rc = hk_store_open(d->config->data_dir, d->config->store_map_bytes, &d->store);
    if (rc == 0) hk_store_set_max_fill(d->store, d->config->store_max_fill);
    if (rc != 0)
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot open store\" dir=%s error=\"%s\"",
               d->config->data_dir, hk_strerror(rc));
    return rc;
}

/* A start that failed before the server ran: close the signal handles and
 * let the loop run their close callbacks, so the loop closes clean. */
static int start_failed(hk_daemon_t *d, int rc)
{
    close_signals(d);
    uv_run(d->loop, UV_RUN_DEFAULT);
    return rc;
}

/* A start that failed once the server ran: close what did open, the way a
 * stop does, and let the loop run the close callbacks. */
static int start_failed_serving(hk_daemon_t *d, int rc)
{
    d->start_err = rc;
    d->stopping = d->api.stopping = 1;
    if (d->scheduler) hk_scheduler_stop(d->scheduler);
    hk_server_stop(d->server, 0, on_server_stopped, d);
    if (d->http_server) hk_server_stop(d->http_server, 0, on_server_stopped, d);
    uv_run(d->loop, UV_RUN_DEFAULT);
    return rc;
}

int hk_daemon_start(hk_daemon_t *d, uv_loop_t *loop, hk_config_t *config,
                    const hk_daemon_source_t *source)
{
    char dir[4096];
    int rc, listen_fd;

    memset(d, 0, sizeof *d);
    d->loop = loop;
    d->config = config;
    if (source) d->source = *source;

    /* Signals first: a SIGTERM that arrives while hookd starts (a client may
     * connect, and a supervisor signal, as soon as the socket answers) waits
     * for the loop and stops hookd gracefully instead of killing it. */
    uv_signal_init(loop, &d->sigterm);
    uv_signal_init(loop, &d->sigint);
    uv_signal_init(loop, &d->sighup);
    d->sigterm.data = d->sigint.data = d->sighup.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sighup, on_signal, SIGHUP);

    /* Before anything is made: a user= that cannot be had is a config error. */
    if (config->user && geteuid() != 0 && config->user_uid != geteuid()) {
        hk_log(HK_LOG_ERROR, "start_failed",
               "reason=\"user= needs hookd started as root\" user=%s uid=%u", config->user,
               (unsigned)geteuid());
        return start_failed(d, HK_EINVAL);
    }
    if ((listen_fd = hk_service_listen_fd()) == HK_EINVAL) return start_failed(d, HK_EINVAL);
    if (listen_fd >= 0) {
        d->activated = 1;
        adopt_socket_path(config, listen_fd);
    }
    if (make_dir(config, config->data_dir, 0700) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot create data dir\" dir=%s errno=%d",
               config->data_dir, errno);
        return start_failed(d, HK_EIO);
    }
    if (!d->activated && parent_of(config->socket_path, dir, sizeof dir) &&
        make_dir(config, dir, 0755) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot create socket dir\" dir=%s", dir);
        return start_failed(d, HK_EIO);
    }

    /* The store opens before the socket answers, so a caller that can
     * connect finds hookd's files made -- unless hookd is to become another
     * user: then the user must own them, and the socket is bound first. */
    if (!dropping(config) && (rc = open_store(d)) != 0) return start_failed(d, rc);

    struct sockaddr_storage http_addr;
    char err[512];
    if (config->http_listen &&
        (rc = hk_web_listen_addr(config->http_listen, config->http_listen_allow_remote, &http_addr,
                                 err, sizeof err)) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"%s\"", err);
        hk_store_close(d->store);
        d->store = NULL;
        return start_failed(d, rc);
    }
    if ((rc = hk_web_new(loop, config, &d->web)) != 0) {
        hk_store_close(d->store);
        d->store = NULL;
        return start_failed(d, rc);
    }
    hk_server_opts_t opts = {
        .socket_path = config->socket_path,
        .socket_mode = config->socket_mode,
        .max_message_bytes = config->max_message_bytes,
        .max_streams = config->max_streams,
        .max_connections = config->max_connections,
        .on_call = hk_rpc_dispatch,
        .ctx = &d->api,
        .connect_error = hk_pbjson_error,
        /* Hardening (issue 11). */
        .authorize = hk_rpc_authorize,
        .privileged = hk_rpc_privileged,
        .max_buffer_bytes = config->max_buffer_bytes,
        .max_conn_buffer_bytes = config->max_connection_buffer_bytes,
        .max_connections_per_uid = config->max_connections_per_uid,
        .admin_reserve = config->admin_reserve,
        .header_timeout_ms = (uint64_t)config->header_timeout_s * 1000,
        .idle_timeout_ms = (uint64_t)config->idle_timeout_s * 1000,
        .request_timeout_ms = (uint64_t)config->request_timeout_s * 1000,
        .on_request = hk_web_on_request,
        .request_ctx = d->web,
        .listen_fd = listen_fd > 0 ? listen_fd : 0,
        .set_socket_gid = config->socket_group_set,
        .socket_gid = config->socket_gid,
    };
    rc = hk_server_start(loop, &opts, &d->server);
    if (rc != 0) {
        hk_log(HK_LOG_ERROR, "start_failed",
               "reason=\"cannot serve socket\" socket=%s error=\"%s\"", config->socket_path,
               hk_strerror(rc));
        hk_web_free(d->web);
        d->web = NULL;
        hk_store_close(d->store);
        d->store = NULL;
        return start_failed(d, rc);
    }
    d->servers_running = 1;
    if (config->http_listen) {
        opts.tcp_addr = (const struct sockaddr *)&http_addr;
        opts.listen_fd = 0;
        opts.set_socket_gid = 0;
        rc = hk_server_start(loop, &opts, &d->http_server);
        if (rc == 0) {
            struct sockaddr_storage bound;
            hk_server_tcp_address(d->http_server, &bound);
            hk_web_set_listener(d->web, &bound);
            d->servers_running++;
        } else {
            hk_log(HK_LOG_ERROR, "start_failed",
                   "reason=\"cannot listen for the admin page\" http_listen=%s error=\"%s\"",
                   config->http_listen, hk_strerror(rc));
            d->http_server = NULL;
        }
    }
    /* Bound: root is needed no longer. The store's files are the user's. */
    if ((rc = drop_privileges(config)) != 0) return start_failed_serving(d, rc);
    if (!d->store && (rc = open_store(d)) != 0) return start_failed_serving(d, rc);

    if (rc == 0) rc = engine_start(d);
    /* Before the loop runs again, so before any call is dispatched. */
    d->api = (hk_api_t){
        .config = d->config,
        .store = d->store,
        .commit = d->commit,
        .http = d->http,
        .inflight = d->inflight,
        .stopping = d->stopping,
        .login_link = d->http_server ? hk_web_login_link : NULL,
        .login_link_arg = d->web,
    };
    *hk_web_metrics(d->web) = (hk_metrics_src_t){
        .socket_server = d->server,
        .http_server = d->http_server,
        .commit = d->commit,
        .scheduler = d->scheduler,
        .http = d->http,
        .store = d->store,
    };
    if (rc != 0) {
        if (rc != HK_EINVAL) hk_log(HK_LOG_ERROR, "start_failed", "error=\"%s\"", hk_strerror(rc));
        return start_failed_serving(d, rc);
    }
    warn_unknown_actions(d);

    uint64_t wd_usec = hk_service_watchdog_usec();
    if (wd_usec) {
        /* Half the interval, as sd_watchdog_enabled(3) advises. */
        uint64_t every_ms = wd_usec / 2000 ? wd_usec / 2000 : 1;
        uv_timer_init(loop, &d->watchdog);
        uv_timer_start(&d->watchdog, on_watchdog, every_ms, every_ms);
        uv_unref((uv_handle_t *)&d->watchdog);
        d->watchdog_on = 1;
    }
    hk_log(HK_LOG_INFO, "started",
           "version=%s socket=%s data=%s pid=%d activated=%d watchdog_ms=%llu", HK_VERSION,
           config->socket_path, config->data_dir, (int)getpid(), d->activated,
           (unsigned long long)(wd_usec / 1000));
    if (d->http_server) hk_log(HK_LOG_INFO, "http_listening", "origin=%s", hk_web_origin(d->web));
    hk_service_notify("READY=1");
    return 0;
}

/* --- reload ---------------------------------------------------------------- */

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Keys the running hookd cannot change: next gets the running value, and a
 * warning says the file's value waits for a restart. */
static void keep_restart_only(const hk_daemon_t *d, hk_config_t *next)
{
    hk_config_t *cur = d->config;
#define KEEP_STR(field, key)                                                                       \
    do {                                                                                           \
        if (!same_str(cur->field, next->field))                                                    \
            hk_log(HK_LOG_WARN, "reload_needs_restart", "key=%s", key);                            \
        char *tmp = next->field;                                                                   \
        next->field = cur->field;                                                                  \
        cur->field = tmp;                                                                          \
    } while (0)
#define KEEP(field, key)                                                                           \
    do {                                                                                           \
        if (memcmp(&cur->field, &next->field, sizeof cur->field) != 0)                             \
            hk_log(HK_LOG_WARN, "reload_needs_restart", "key=%s", key);                            \
        memcpy(&next->field, &cur->field, sizeof cur->field);                                      \
    } while (0)
    /* A handed-over socket is whatever the service manager bound. */
    if (d->activated) {
        char *tmp = next->socket_path;
        next->socket_path = cur->socket_path;
        cur->socket_path = tmp;
    } else {
        KEEP_STR(socket_path, "socket");
    }
    KEEP_STR(data_dir, "data_dir");
    KEEP_STR(ca_file, "ca_file");
    KEEP_STR(user, "user");
    KEEP(user_uid, "user");
    KEEP(user_gid, "user");
    KEEP(socket_mode, "socket_mode");
    KEEP(socket_group_set, "socket_group");
    KEEP(socket_gid, "socket_group");
    KEEP(store_map_bytes, "store_map_bytes");
    KEEP(store_max_fill, "store_max_fill");
    KEEP(max_transfers, "max_transfers");
    KEEP(retry_count, "retry_schedule");
    KEEP(retry_schedule_ms, "retry_schedule");
    KEEP(retry_after_max_s, "retry_after_max");
    KEEP(idempotency_window_s, "idempotency_window");
    KEEP(log_max_age_s, "log_max_age");
    KEEP(log_max_count, "log_max_count");
#undef KEEP
#undef KEEP_STR
}

int hk_daemon_reload(hk_daemon_t *d)
{
    hk_config_t next, old;
    hk_policy_t policy;
    char err[1024], quoted[1100];
    int rc;

    if (d->stopping) return HK_ESHUTDOWN;
    hk_service_notify("RELOADING=1");
    rc = hk_config_read(&next, d->source.config_path, d->source.sets, d->source.n_sets, err,
                        sizeof err);
    if (rc == 0 && (rc = hk_policy_load(&policy, next.allow_nets, next.n_allow_nets, next.deny_nets,
                                        next.n_deny_nets, err, sizeof err)) != 0)
        hk_config_free(&next);
    if (rc != 0) {
        hk_log(HK_LOG_ERROR, "reload_failed", "error=%s kept=\"the running config\"",
               hk_log_quote(err, quoted, sizeof quoted));
        hk_service_notify("READY=1");
        return rc;
    }
    keep_restart_only(d, &next);
    /* Nothing below can fail: the new config is taken whole. */
    hk_http_set_policy(d->http, &policy);
    hk_server_set_limits(d->server, next.max_message_bytes, next.max_streams, next.max_connections);
    hk_log_set_level(next.log_level);
    old = *d->config;
    *d->config = next;
    hk_config_free(&old);
    size_t n_actions;
    hk_catalog_list(d->config->catalog, &n_actions);
    /* Warnings first: "reloaded" is the reload's last line (tests and
     * operators wait for it). */
    warn_unknown_actions(d);
    hk_log(HK_LOG_INFO, "reloaded", "config=%s trigger_actions=%zu",
           d->source.config_path ? d->source.config_path : "(none)", n_actions);
    hk_service_notify("READY=1");
    return 0;
}

/* The stop runs as a chain, each part closing after the one that uses it:
 * server (calls finish) -> http (every request's callback has run) ->
 * scheduler -> group commit (last batch synced, waiters answered) -> store. */
static void on_commit_closed(void *arg)
{
    hk_daemon_t *d = arg;
    d->commit = NULL;
    if (hk_inflight_count(d->inflight))
        hk_log(HK_LOG_ERROR, "stop_unanswered", "triggers=%zu", hk_inflight_count(d->inflight));
    hk_inflight_free(d->inflight);
    d->inflight = d->api.inflight = NULL;
    /* The last batch was drained after the committer stopped telling. */
    if (!d->failed && d->store && hk_store_lost(d->store)) on_store_lost(d);
    hk_store_close(d->store);
    d->store = NULL;
    close_signals(d);
    if (!d->start_err) hk_log(HK_LOG_INFO, "stopped", NULL);
}

static void on_scheduler_closed(void *arg)
{
    hk_daemon_t *d = arg;
    d->scheduler = NULL;
    if (d->commit) {
        hk_commit_set_listener(d->commit, NULL);
        hk_commit_close(d->commit, on_commit_closed, d);
    } else {
        on_commit_closed(d);
    }
}

static void on_http_closed(void *arg)
{
    hk_daemon_t *d = arg;
    d->http = NULL;
    if (d->scheduler && d->commit) {
        /* What the run did, for operators and benchmarks: events per sync
         * is the group commit's worth. */
        hk_scheduler_stats_t ss;
        hk_commit_stats_t cs;
        hk_scheduler_stats(d->scheduler, &ss);
        hk_commit_stats(d->commit, &cs);
        /* attempts, succeeded and failed count both kinds; sync_* the
         * synchronous part. */
        hk_log(HK_LOG_INFO, "delivery_stats",
               "attempts=%llu succeeded=%llu failed=%llu retried=%llu pruned=%llu "
               "sync_attempts=%llu sync_failed=%llu "
               "batches=%llu batches_failed=%llu syncs=%llu durable_waits=%llu",
               (unsigned long long)(ss.attempts + d->api.sync_stats.attempts),
               (unsigned long long)(ss.succeeded + d->api.sync_stats.succeeded),
               (unsigned long long)(ss.failed + d->api.sync_stats.failed),
               (unsigned long long)ss.retried, (unsigned long long)ss.pruned,
               (unsigned long long)d->api.sync_stats.attempts,
               (unsigned long long)d->api.sync_stats.failed, (unsigned long long)cs.batches,
               (unsigned long long)cs.failed, (unsigned long long)cs.syncs,
               (unsigned long long)cs.waiters);
    }
    if (d->scheduler)
        hk_scheduler_close(d->scheduler, on_scheduler_closed, d);
    else
        on_scheduler_closed(d);
}

static void on_server_stopped(void *arg)
{
    hk_daemon_t *d = arg;
    if (--d->servers_running > 0) return;
    d->server = NULL;
    d->http_server = NULL;
    hk_web_free(d->web);
    d->web = NULL;
    d->api.login_link = NULL;
    if (d->http)
        hk_http_close(d->http, on_http_closed, d);
    else
        on_http_closed(d);
}

void hk_daemon_stop(hk_daemon_t *d)
{
    if (d->stopping) return;
    d->stopping = d->api.stopping = 1;
    hk_log(HK_LOG_INFO, "stopping", NULL);
    hk_service_notify("STOPPING=1");
    /* At once, not after the grace period: an async attempt is cancelled
     * and made again after the restart (at least once). */
    hk_scheduler_stop(d->scheduler);
    hk_server_stop(d->server, HK_STOP_GRACE_MS, on_server_stopped, d);
    if (d->http_server) hk_server_stop(d->http_server, HK_STOP_GRACE_MS, on_server_stopped, d);
}
