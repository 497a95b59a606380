/* daemon.h -- the running hookd: the modules it wires together, start and stop */
#ifndef HK_DAEMON_H
#define HK_DAEMON_H

#include <uv.h>

#include "core/config.h"
#include "store/store.h"
#include "transport/server.h"

typedef struct hk_daemon {
    uv_loop_t *loop;
    hk_config_t *config;
    hk_store_t *store;
    hk_server_t *server;
    uv_signal_t sigterm, sigint;
    int stopping;
} hk_daemon_t;

/* Opens the store, starts the server on the config's socket and installs the
 * signal handlers. Returns 0 or an error (logged). */
int hk_daemon_start(hk_daemon_t *d, uv_loop_t *loop, hk_config_t *config);

/* Stops gracefully (as on SIGTERM); the loop ends when everything closed. */
void hk_daemon_stop(hk_daemon_t *d);

#endif
