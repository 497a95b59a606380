/* main.c -- hookd's command line: flags, config file, run the loop */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "daemon.h"
#include "service.h"

static const char usage[] =
    "usage: hookd [options]\n"
    "\n"
    "hookd -- webhook management and delivery daemon, served as gRPC on a Unix socket.\n"
    "With no options it runs on its embedded default: socket and data directory under\n"
    "/var/lib/hookd (root) or $HOME/.hookd (others), created when missing.\n"
    "\n"
    "  -s, --socket PATH    Unix socket to serve (default <base>/hookd.sock)\n"
    "  -d, --data DIR       data directory: LMDB store and secret key (default <base>/data)\n"
    "  -c, --config FILE    config file: `key = value` lines, see below\n"
    "  -o, --set KEY=VALUE  one config setting, applied after the file (repeatable)\n"
    "  -l, --log-level LVL  debug, info (default), warn, error\n"
    "  -h, --help           this text\n"
    "  -V, --version        print the version\n"
    "\n"
    "Config keys (file or --set):\n"
    "  socket, data_dir, socket_mode (octal, 0660), log_level\n"
    "  max_message_bytes (4194304), max_payload_bytes (1048576), max_streams (256),\n"
    "  max_connections (1024), store_map_bytes (1073741824)\n"
    "  admin_uids, admin_gids, trigger_uids, trigger_gids (comma-separated names or ids,\n"
    "    supplementary groups count; root and\n"
    "    hookd's own uid are always admins; trigger callers may only trigger events)\n"
    "  allow_http (false: http:// only to loopback hosts)\n"
    "  retry_schedule (seconds, comma-separated: 0,5,300,1800,7200,18000,36000,36000)\n"
    "  retry_after_max (3600), max_transfers (256), idempotency_window (86400)\n"
    "  log_max_age (2592000), log_max_count (100000), ca_file\n"
    "  allow_nets, deny_nets (comma-separated CIDRs for outbound addresses)\n"
    "  trigger_action = <enterprise|elite> <Key> <Display Name>   (adds to the catalog)\n"
    "  Limits on what one client may make hookd hold (a caller's role is checked at the\n"
    "  request headers, before any body is kept):\n"
    "  max_buffer_bytes (268435456), max_connection_buffer_bytes (16777216): request\n"
    "    bytes buffered in all and per connection; past them RESOURCE_EXHAUSTED at once\n"
    "  max_connections_per_uid (256; admins exempt), admin_reserve (16: the last\n"
    "    connections of max_connections only admins may take)\n"
    "  header_timeout (10 s: connect to the first request's headers; HTTP/1.1 each\n"
    "    request's headers), idle_timeout (120 s: nothing under way), request_timeout\n"
    "    (30 s: a request's headers to its last byte); GOAWAY (HTTP/1.1: 408) past them\n"
    "  The admin page (off by default; `hookctl ui` prints a login link):\n"
    "  http_listen (e.g. 127.0.0.1:8480; loopback only unless http_listen_allow_remote),\n"
    "  http_origin (the origin browsers use, behind a TLS proxy), http_login_ttl (300),\n"
    "  http_session_idle (7200), http_session_ttl (43200)\n"
    "  socket_group (name or gid: the group of the socket hookd creates; with\n"
    "    socket_mode 0660 its members may connect)\n"
    "  user (name or uid: started as root, hookd binds its socket, then becomes this\n"
    "    user; data directories it creates are the user's)\n"
    "  max_in_flight_per_webhook (64: async attempts in flight to one webhook; the others'\n"
    "    due deliveries go ahead of a webhook at its cap, webhooks with some due take turns)\n"
    "  store_max_fill (80: percent of store_map_bytes; above it new deliveries are refused,\n"
    "    finished ones pruned oldest first from 7/8 of it; webhook changes keep half the rest)\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the config file (catalog,\n"
    "roles, limits, outbound policy, log level; an invalid file is refused, the running\n"
    "config kept).\n";

static const char usage_systemd[] =
    "\n"
    "systemd: serves the socket it is handed (LISTEN_FDS) instead of creating one, and\n"
    "reports READY/RELOADING/STOPPING and watchdog pings to NOTIFY_SOCKET.\n";
static const char usage_no_systemd[] =
    "\n"
    "systemd: this hookd was built without libsystemd: no socket activation (LISTEN_FDS\n"
    "is ignored) and no sd_notify (use Type=simple in a unit).\n";

static void print_usage(FILE *f)
{
    fputs(usage, f);
    fputs(hk_service_built ? usage_systemd : usage_no_systemd, f);
}

/* Raises the soft limit on open files to the hard one: every connection and
 * every transfer in flight holds a descriptor, and the usual soft default
 * (1024) is below what the default limits may ask for. Says so when what
 * it got is still short of max_connections + max_transfers. */
static void raise_nofile(const hk_config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    unsigned long long was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        /* Above fs.nr_open (RLIM_INFINITY included) the kernel refuses. */
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && rl.rlim_max > (1u << 20)) {
            rl.rlim_cur = 1u << 20;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned long long want = (unsigned long long)cfg->max_connections + cfg->max_transfers + 64;
    hk_log(rl.rlim_cur < want ? HK_LOG_WARN : HK_LOG_INFO, "nofile",
           "soft=%llu hard=%llu was=%llu wanted=%llu", (unsigned long long)rl.rlim_cur,
           (unsigned long long)rl.rlim_max, was, want);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},    {"data", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},    {"set", required_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    const char *socket_path = NULL, *data_dir = NULL, *config_path = NULL, *level = NULL;
    const char *sets[64 + 3];
    int n_sets = 0, c;
    char err[512];

    while ((c = getopt_long(argc, argv, "s:d:c:o:l:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 's': socket_path = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'c': config_path = optarg; break;
        case 'l': level = optarg; break;
        case 'o':
            if (n_sets == 64) {
                fprintf(stderr, "hookd: too many --set options\n");
                return 2;
            }
            sets[n_sets++] = optarg;
            break;
        case 'h': print_usage(stdout); return 0;
        case 'V': printf("hookd %s\n", HK_VERSION); return 0;
        default: print_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hookd: unexpected argument '%s'\n", argv[optind]);
        print_usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a vanished peer is an error return, not a death */
    if (hk_crypto_init() != 0) {
        fprintf(stderr, "hookd: libsodium failed to initialize\n");
        return 1;
    }

    /* The flags are settings too, applied last; SIGHUP reads the same list
     * again (hk_daemon_reload). Each is checked alone first, so a bad one
     * is named by its flag. */
    static const struct {
        const char *flag, *key;
    } flags[] = {{"--socket", "socket"}, {"--data", "data_dir"}, {"--log-level", "log_level"}};
    const char *values[3] = {socket_path, data_dir, level};
    static char flag_sets[3][4200];
    for (int i = 0; i < 3; i++) {
        if (!values[i]) continue;
        hk_config_t probe;
        if (hk_config_defaults(&probe) != 0) return 1;
        int bad = hk_config_set(&probe, flags[i].key, values[i], err, sizeof err);
        hk_config_free(&probe);
        if (bad || snprintf(flag_sets[i], sizeof flag_sets[i], "%s=%s", flags[i].key, values[i]) >=
                       (int)sizeof flag_sets[i]) {
            fprintf(stderr, "hookd: %s '%s': %s\n", flags[i].flag, values[i],
                    bad ? err : "too long");
            return 2;
        }
        sets[n_sets++] = flag_sets[i];
    }

    hk_config_t cfg;
    int rc = hk_config_read(&cfg, config_path, sets, (unsigned)n_sets, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "hookd: %s\n", err);
        return rc == HK_ENOMEM ? 1 : 2;
    }
    hk_log_set_level(cfg.log_level);
    raise_nofile(&cfg);

    uv_loop_t *loop = uv_default_loop();
    hk_daemon_t daemon;
    hk_daemon_source_t source = {config_path, sets, (unsigned)n_sets};
    if (hk_daemon_start(&daemon, loop, &cfg, &source) != 0) {
        hk_config_free(&cfg);
        return 1;
    }
    printf("hookd %s serving unix://%s (data %s)\n", HK_VERSION, cfg.socket_path, cfg.data_dir);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(loop) == 0 && !daemon.failed ? 0 : 1;
    hk_config_free(&cfg);
    return rc;
}
