/* daemon.c -- the running hookd: wires config, store and server together; start and stop */
#include "daemon.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/rpc.h"
#include "core/error.h"
#include "core/log.h"

#define HK_STOP_GRACE_MS 10000

static int make_dir(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return HK_EINVAL;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return HK_EIO;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST) return HK_EIO;
    return 0;
}

static char *parent_of(const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) return NULL;
    if (slash == buf) slash[1] = '\0';
    else *slash = '\0';
    return buf;
}

static void on_signal(uv_signal_t *sig, int signum)
{
    hk_daemon_t *d = sig->data;
    hk_log(HK_LOG_INFO, "signal", "signal=%d", signum);
    hk_daemon_stop(d);
}

int hk_daemon_start(hk_daemon_t *d, uv_loop_t *loop, hk_config_t *config)
{
    char dir[4096];
    int rc;

    memset(d, 0, sizeof *d);
    d->loop = loop;
    d->config = config;

    if (make_dir(config->data_dir, 0700) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot create data dir\" dir=%s errno=%d",
               config->data_dir, errno);
        return HK_EIO;
    }
    if (parent_of(config->socket_path, dir, sizeof dir) && make_dir(dir, 0755) != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot create socket dir\" dir=%s", dir);
        return HK_EIO;
    }
    rc = hk_store_open(config->data_dir, config->store_map_bytes, &d->store);
    if (rc != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot open store\" dir=%s error=\"%s\"",
               config->data_dir, hk_strerror(rc));
        return rc;
    }

    hk_server_opts_t opts = {
        .socket_path = config->socket_path,
        .socket_mode = config->socket_mode,
        .max_message_bytes = config->max_message_bytes,
        .max_streams = config->max_streams,
        .max_connections = config->max_connections,
        .on_call = hk_rpc_dispatch,
        .ctx = d,
    };
    rc = hk_server_start(loop, &opts, &d->server);
    if (rc != 0) {
        hk_log(HK_LOG_ERROR, "start_failed", "reason=\"cannot serve socket\" socket=%s error=\"%s\"",
               config->socket_path, hk_strerror(rc));
        hk_store_close(d->store);
        d->store = NULL;
        return rc;
    }

    uv_signal_init(loop, &d->sigterm);
    uv_signal_init(loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);

    hk_log(HK_LOG_INFO, "started", "version=%s socket=%s data=%s pid=%d", HK_VERSION,
           config->socket_path, config->data_dir, (int)getpid());
    return 0;
}

static void on_server_stopped(void *arg)
{
    hk_daemon_t *d = arg;
    d->server = NULL;
    hk_store_close(d->store);
    d->store = NULL;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    hk_log(HK_LOG_INFO, "stopped", NULL);
}

void hk_daemon_stop(hk_daemon_t *d)
{
    if (d->stopping) return;
    d->stopping = 1;
    hk_log(HK_LOG_INFO, "stopping", NULL);
    hk_server_stop(d->server, HK_STOP_GRACE_MS, on_server_stopped, d);
}
