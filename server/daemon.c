/* daemon.c -- the running hookd: wires config, store and server together; start and stop */
#include "daemon.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/rpc.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

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
    hk_daemon_stop(d);
}

static void on_server_stopped(void *arg);

/* A committed batch (or an activated webhook) may have made work due. */
static void on_committed(void *arg)
{
    hk_daemon_t *d = arg;
    if (d->scheduler) hk_scheduler_wake(d->scheduler);
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
    hk_commit_set_listener(d->commit, on_committed, d);
    if ((rc = hk_scheduler_start(d->scheduler, &resumed)) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot resume deliveries\" error=\"%s\"",
               hk_strerror(rc));
        return rc;
    }
    hk_log(HK_LOG_INFO, "deliveries_resumed", "pending=%zu", resumed);
    return 0;
}

/* A start that failed before the server ran: close the signal handles and
 * let the loop run their close callbacks, so the loop closes clean. */
static int start_failed(hk_daemon_t *d, int rc)
{
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_run(d->loop, UV_RUN_DEFAULT);
    return rc;
}

int hk_daemon_start(hk_daemon_t *d, uv_loop_t *loop, hk_config_t *config)
{
    char dir[4096];
    int rc;

    memset(d, 0, sizeof *d);
    d->loop = loop;
    d->config = config;

    /* Signals first: a SIGTERM that arrives while hookd starts (a client may
     * connect, and a supervisor signal, as soon as the socket answers) waits
     * for the loop and stops hookd gracefully instead of killing it. */
    uv_signal_init(loop, &d->sigterm);
    uv_signal_init(loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);

    if (hk_fs_mkdirs(config->data_dir, 0755, 0700) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot create data dir\" dir=%s errno=%d",
               config->data_dir, errno);
        return start_failed(d, HK_EIO);
    }
    if (parent_of(config->socket_path, dir, sizeof dir) && hk_fs_mkdirs(dir, 0755, 0755) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot create socket dir\" dir=%s", dir);
        return start_failed(d, HK_EIO);
    }
    rc = hk_store_open(config->data_dir, config->store_map_bytes, &d->store);
    if (rc != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot open store\" dir=%s error=\"%s\"",
               config->data_dir, hk_strerror(rc));
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
    };
    rc = hk_server_start(loop, &opts, &d->server);
    if (rc != 0) {
        hk_log(HK_LOG_ERROR, "start_failed",
               "reason=\"cannot serve socket\" socket=%s error=\"%s\"", config->socket_path,
               hk_strerror(rc));
        hk_store_close(d->store);
        d->store = NULL;
        return start_failed(d, rc);
    }

    rc = engine_start(d);
    /* Before the loop runs again, so before any call is dispatched. */
    d->api = (hk_api_t){
        .config = d->config,
        .store = d->store,
        .commit = d->commit,
        .http = d->http,
        .inflight = d->inflight,
        .stopping = d->stopping,
    };
    if (rc != 0) {
        /* Close what did open, the way a stop does, and let the loop run
         * the close callbacks before reporting the failure. */
        if (rc != HK_EINVAL) hk_log(HK_LOG_ERROR, "start_failed", "error=\"%s\"", hk_strerror(rc));
        d->start_err = rc;
        d->stopping = d->api.stopping = 1;
        if (d->scheduler) hk_scheduler_stop(d->scheduler);
        hk_server_stop(d->server, 0, on_server_stopped, d);
        uv_run(loop, UV_RUN_DEFAULT);
        return rc;
    }

    hk_log(HK_LOG_INFO, "started", "version=%s socket=%s data=%s pid=%d", HK_VERSION,
           config->socket_path, config->data_dir, (int)getpid());
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
    hk_store_close(d->store);
    d->store = NULL;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    if (!d->start_err) hk_log(HK_LOG_INFO, "stopped", NULL);
}

static void on_scheduler_closed(void *arg)
{
    hk_daemon_t *d = arg;
    d->scheduler = NULL;
    if (d->commit) {
        hk_commit_set_listener(d->commit, NULL, NULL);
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
        hk_log(HK_LOG_INFO, "delivery_stats",
               "attempts=%llu succeeded=%llu failed=%llu retried=%llu pruned=%llu "
               "batches=%llu batches_failed=%llu syncs=%llu durable_waits=%llu",
               (unsigned long long)ss.attempts, (unsigned long long)ss.succeeded,
               (unsigned long long)ss.failed, (unsigned long long)ss.retried,
               (unsigned long long)ss.pruned, (unsigned long long)cs.batches,
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
    d->server = NULL;
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
    /* At once, not after the grace period: an async attempt is cancelled
     * and made again after the restart (at least once). */
    hk_scheduler_stop(d->scheduler);
    hk_server_stop(d->server, HK_STOP_GRACE_MS, on_server_stopped, d);
}
