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
    "  admin_uids, admin_gids, trigger_uids, trigger_gids (comma-separated ids; root and\n"
    "    hookd's own uid are always admins; trigger callers may only trigger events)\n"
    "  allow_http (false: http:// only to loopback hosts)\n"
    "  retry_schedule (seconds, comma-separated: 0,5,300,1800,7200,18000,36000,36000)\n"
    "  retry_after_max (3600), max_transfers (256), idempotency_window (86400)\n"
    "  log_max_age (2592000), log_max_count (100000), ca_file\n"
    "  allow_nets, deny_nets (comma-separated CIDRs for outbound addresses)\n"
    "  trigger_action = <enterprise|elite> <Key> <Display Name>   (adds to the catalog)\n"
    "  max_in_flight_per_webhook (64: async attempts in flight to one webhook; the others'\n"
    "    due deliveries go ahead of a webhook at its cap, webhooks with some due take turns)\n";

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
    const char *sets[64];
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
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("hookd %s\n", HK_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hookd: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a vanished peer is an error return, not a death */
    if (hk_crypto_init() != 0) {
        fprintf(stderr, "hookd: libsodium failed to initialize\n");
        return 1;
    }

    hk_config_t cfg;
    if (hk_config_defaults(&cfg) != 0) return 1;
    if (config_path && hk_config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "hookd: %s: %s\n", config_path, err);
        return 2;
    }
    for (int i = 0; i < n_sets; i++) {
        char key[128];
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof key) {
            fprintf(stderr, "hookd: --set wants KEY=VALUE, not '%s'\n", sets[i]);
            return 2;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = '\0';
        if (hk_config_set(&cfg, key, eq + 1, err, sizeof err) != 0) {
            fprintf(stderr, "hookd: --set %s: %s\n", sets[i], err);
            return 2;
        }
    }
    if (socket_path && hk_config_set(&cfg, "socket", socket_path, err, sizeof err) != 0) return 2;
    if (data_dir && hk_config_set(&cfg, "data_dir", data_dir, err, sizeof err) != 0) return 2;
    if (level && hk_config_set(&cfg, "log_level", level, err, sizeof err) != 0) {
        fprintf(stderr, "hookd: --log-level: %s\n", err);
        return 2;
    }
    hk_log_set_level(cfg.log_level);
    raise_nofile(&cfg);

    uv_loop_t *loop = uv_default_loop();
    hk_daemon_t daemon;
    if (hk_daemon_start(&daemon, loop, &cfg) != 0) {
        hk_config_free(&cfg);
        return 1;
    }
    printf("hookd %s serving unix://%s (data %s)\n", HK_VERSION, cfg.socket_path, cfg.data_dir);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop) == 0 ? 0 : 1;
    hk_config_free(&cfg);
    return rc;
}
