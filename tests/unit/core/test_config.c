/* test_config.c -- config defaults, the file format, every setting, roles, catalog extension */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "unit.h"

/* Writes text to a file in the test's tmpdir and returns its path (static). */
static const char *write_file(const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/hookd.conf", hk_test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
    return path;
}

static int set(hk_config_t *cfg, const char *key, const char *value)
{
    char err[256];
    return hk_config_set(cfg, key, value, err, sizeof err);
}

TEST(defaults)
{
    hk_config_t cfg;
    char want[4200];
    CHECK_INT(hk_config_defaults(&cfg), 0);
    const char *base = "/var/lib/hookd";
    if (getuid() != 0) {
        snprintf(want, sizeof want, "%s/.hookd", getenv("HOME"));
        base = want;
    }
    CHECK(strncmp(cfg.socket_path, base, strlen(base)) == 0);
    CHECK_STR(cfg.socket_path + strlen(base), "/hookd.sock");
    CHECK(strncmp(cfg.data_dir, base, strlen(base)) == 0);
    CHECK_STR(cfg.data_dir + strlen(base), "/data");
    CHECK_INT(cfg.socket_mode, 0660);
    CHECK_INT(cfg.log_level, HK_LOG_INFO);
    CHECK_INT(cfg.max_message_bytes, 4194304);
    CHECK_INT(cfg.max_payload_bytes, 1048576);
    CHECK_INT(cfg.max_streams, 256);
    CHECK_INT(cfg.max_connections, 1024);
    CHECK_INT(cfg.store_map_bytes, 1073741824);
    CHECK_INT(cfg.allow_http, 0);
    static const uint32_t schedule_s[] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};
    CHECK_INT(cfg.retry_count, 8);
    for (unsigned i = 0; i < 8; i++)
        CHECK_INT(cfg.retry_schedule_ms[i], schedule_s[i] * 1000);
    CHECK_INT(cfg.retry_after_max_s, 3600);
    CHECK_INT(cfg.max_transfers, 256);
    CHECK_INT(cfg.idempotency_window_s, 86400);
    CHECK_INT(cfg.log_max_age_s, 2592000);
    CHECK_INT(cfg.log_max_count, 100000);
    CHECK(cfg.ca_file == NULL);
    CHECK_INT(cfg.n_allow_nets, 0);
    CHECK_INT(cfg.n_deny_nets, 0);
    CHECK_INT(cfg.admin_uids.n + cfg.admin_gids.n + cfg.trigger_uids.n + cfg.trigger_gids.n, 0);
    CHECK(cfg.catalog != NULL);
    CHECK(hk_catalog_find(cfg.catalog, 1, "AccountUpdated") != NULL);
    hk_config_free(&cfg);
}

/* A non-root hookd keeps its state under $HOME. Run in a child so that a
 * root test runner can drop to nobody for it. */
TEST(default_base_follows_home)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        hk_config_t cfg;
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
        setenv("HOME", "/home/someone", 1);
        if (hk_config_defaults(&cfg) != 0) _exit(3);
        int ok = strcmp(cfg.socket_path, "/home/someone/.hookd/hookd.sock") == 0 &&
                 strcmp(cfg.data_dir, "/home/someone/.hookd/data") == 0;
        hk_config_free(&cfg);
        _exit(ok ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}

TEST(set_every_key)
{
    hk_config_t cfg;
    CHECK_INT(hk_config_defaults(&cfg), 0);
    CHECK_INT(set(&cfg, "socket", "/tmp/x/hookd.sock"), 0);
    CHECK_STR(cfg.socket_path, "/tmp/x/hookd.sock");
    CHECK_INT(set(&cfg, "data_dir", " /tmp/x/data "), 0);
    CHECK_STR(cfg.data_dir, "/tmp/x/data");
    CHECK_INT(set(&cfg, "socket_mode", "0600"), 0);
    CHECK_INT(cfg.socket_mode, 0600);
    CHECK_INT(set(&cfg, "socket_mode", "666"), 0);
    CHECK_INT(cfg.socket_mode, 0666);
    CHECK_INT(set(&cfg, "log_level", "debug"), 0);
    CHECK_INT(cfg.log_level, HK_LOG_DEBUG);
    CHECK_INT(set(&cfg, "max_message_bytes", "65536"), 0);
    CHECK_INT(cfg.max_message_bytes, 65536);
    CHECK_INT(set(&cfg, "max_payload_bytes", "1000"), 0);
    CHECK_INT(cfg.max_payload_bytes, 1000);
    CHECK_INT(set(&cfg, "max_streams", "16"), 0);
    CHECK_INT(cfg.max_streams, 16);
    CHECK_INT(set(&cfg, "max_connections", "8"), 0);
    CHECK_INT(cfg.max_connections, 8);
    CHECK_INT(set(&cfg, "store_map_bytes", "10485760"), 0);
    CHECK_INT(cfg.store_map_bytes, 10485760);
    CHECK_INT(set(&cfg, "admin_uids", "1000, 1001,1002"), 0);
    CHECK_INT(cfg.admin_uids.n, 3);
    CHECK_INT(cfg.admin_uids.ids[1], 1001);
    CHECK_INT(set(&cfg, "admin_gids", "50"), 0);
    CHECK_INT(cfg.admin_gids.n, 1);
    CHECK_INT(set(&cfg, "trigger_uids", "65534"), 0);
    CHECK_INT(cfg.trigger_uids.ids[0], 65534);
    CHECK_INT(set(&cfg, "trigger_gids", "100,101"), 0);
    CHECK_INT(cfg.trigger_gids.n, 2);
    CHECK_INT(set(&cfg, "trigger_gids", ""), 0); /* an empty list clears */
    CHECK_INT(cfg.trigger_gids.n, 0);
    CHECK_INT(set(&cfg, "allow_http", "yes"), 0);
    CHECK_INT(cfg.allow_http, 1);
    CHECK_INT(set(&cfg, "allow_http", "FALSE"), 0);
    CHECK_INT(cfg.allow_http, 0);
    CHECK_INT(set(&cfg, "allow_http", "1"), 0);
    CHECK_INT(cfg.allow_http, 1);
    CHECK_INT(set(&cfg, "allow_http", "no"), 0);
    CHECK_INT(cfg.allow_http, 0);
    CHECK_INT(set(&cfg, "retry_schedule", "0, 1,2"), 0);
    CHECK_INT(cfg.retry_count, 3);
    CHECK_INT(cfg.retry_schedule_ms[2], 2000);
    CHECK_INT(set(&cfg, "retry_after_max", "60"), 0);
    CHECK_INT(cfg.retry_after_max_s, 60);
    CHECK_INT(set(&cfg, "max_transfers", "4"), 0);
    CHECK_INT(cfg.max_transfers, 4);
    CHECK_INT(set(&cfg, "idempotency_window", "600"), 0);
    CHECK_INT(cfg.idempotency_window_s, 600);
    CHECK_INT(set(&cfg, "log_max_age", "3600"), 0);
    CHECK_INT(cfg.log_max_age_s, 3600);
    CHECK_INT(set(&cfg, "log_max_count", "10"), 0);
    CHECK_INT(cfg.log_max_count, 10);
    CHECK_INT(set(&cfg, "ca_file", "/etc/ssl/ca.pem"), 0);
    CHECK_STR(cfg.ca_file, "/etc/ssl/ca.pem");
    CHECK_INT(set(&cfg, "ca_file", ""), 0);
    CHECK(cfg.ca_file == NULL);
    CHECK_INT(set(&cfg, "allow_nets", "10.0.0.0/8, fd00::/8,192.168.1.7"), 0);
    CHECK_INT(cfg.n_allow_nets, 3);
    CHECK_STR(cfg.allow_nets[1], "fd00::/8");
    CHECK_INT(set(&cfg, "allow_nets", "127.0.0.0/8"), 0); /* replaces the list */
    CHECK_INT(cfg.n_allow_nets, 1);
    CHECK_INT(set(&cfg, "deny_nets", "100.64.0.0/10,::ffff:0:0/96"), 0);
    CHECK_INT(cfg.n_deny_nets, 2);
    CHECK_INT(set(&cfg, "trigger_action", "elite   RoomBlocked   Room Block "), 0);
    CHECK_STR(hk_catalog_find(cfg.catalog, 2, "RoomBlocked")->display_name, "Room Block");
    hk_config_free(&cfg);
}

/* Each refusal names the key, and leaves the setting as it was. */
TEST(set_refuses_bad_values)
{
    static const char *const bad[][2] = {
        {"socket", ""},
        {"socket",
         "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock"},
        {"data_dir", ""},
        {"socket_mode", "0999"},
        {"socket_mode", "01777"},
        {"socket_mode", "rw"},
        {"socket_mode", "-1"},
        {"log_level", "verbose"},
        {"max_message_bytes", "12"},
        {"max_message_bytes", "4MiB"},
        {"max_message_bytes", "-5"},
        {"max_message_bytes", "99999999999999999999999"},
        {"max_payload_bytes", "0"},
        {"max_streams", "0"},
        {"max_streams", "65537"},
        {"max_connections", ""},
        {"store_map_bytes", "1000"},
        {"admin_uids", "hk-no-such-user"},
        {"admin_uids", "1,,2"},
        {"admin_uids", "4294967295"},
        {"admin_gids", "1 2"},
        {"trigger_uids", "-1"},
        {"trigger_gids", "hk-no-such-group"},
        {"socket_group", "hk-no-such-group"},
        {"user", "hk-no-such-user"},
        {"user", "4294967295"},
        {"allow_http", "maybe"},
        {"allow_http", ""},
        {"retry_schedule", ""},
        {"retry_schedule", "1,x"},
        {"retry_schedule", "604801"},
        {"retry_schedule", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,"
                           "27,28,29,30,31,32,33"},
        {"retry_after_max", "1e3"},
        {"max_transfers", "0"},
        {"idempotency_window", "0"},
        {"log_max_age", "4294967296"},
        {"log_max_count", "0"},
        {"allow_nets", "10.0.0.0/33"},
        {"allow_nets", "10.0.0/8"},
        {"deny_nets", "fd00::/129"},
        {"deny_nets", "example.com"},
        {"deny_nets", "10.0.0.0/"},
        {"trigger_action", "elite"},
        {"trigger_action", "elite Key"},
        {"trigger_action", "venue Key Name"},
        {"trigger_action", "elite Bad!Key Name"},
    };
    hk_config_t cfg;
    char err[256];
    CHECK_INT(hk_config_defaults(&cfg), 0);
    hk_config_t before = cfg;
    size_t n_before;
    hk_catalog_list(cfg.catalog, &n_before);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = hk_config_set(&cfg, bad[i][0], bad[i][1], err, sizeof err);
        if (rc != HK_EINVAL) fprintf(stderr, "  accepted %s = %s\n", bad[i][0], bad[i][1]);
        CHECK_INT(rc, HK_EINVAL);
        if (strncmp(err, bad[i][0], strlen(bad[i][0])) != 0 || err[strlen(bad[i][0])] != ':')
            fprintf(stderr, "  message for %s: %s\n", bad[i][0], err);
        CHECK(strncmp(err, bad[i][0], strlen(bad[i][0])) == 0);
    }
    CHECK(memcmp(&cfg, &before, sizeof cfg) == 0);
    size_t n_after;
    hk_catalog_list(cfg.catalog, &n_after);
    CHECK_INT(n_after, n_before);
    CHECK_INT(hk_config_set(&cfg, "no_such_key", "1", err, sizeof err), HK_EINVAL);
    CHECK(strstr(err, "no_such_key") != NULL);
    hk_config_free(&cfg);
}

TEST(load_file)
{
    hk_config_t cfg;
    char err[256] = "";
    const char *path =
        write_file("# hookd test config\n"
                   "\n"
                   "  max_streams = 64   # per connection\n"
                   "socket_mode=0600\n"
                   "admin_uids = 1000,1001\n"
                   "trigger_action = enterprise CateringOrderPlaced Catering Order #1\n"
                   "\t# indented comment\n"
                   "retry_schedule = 0, 10, 60\n");
    CHECK_INT(hk_config_defaults(&cfg), 0);
    CHECK_INT(hk_config_load(&cfg, path, err, sizeof err), 0);
    CHECK_INT(cfg.max_streams, 64);
    CHECK_INT(cfg.socket_mode, 0600);
    CHECK_INT(cfg.admin_uids.n, 2);
    CHECK_INT(cfg.retry_count, 3);
    const hk_trigger_action_t *a = hk_catalog_find(cfg.catalog, 1, "CateringOrderPlaced");
    CHECK(a != NULL);
    CHECK_STR(a->display_name, "Catering Order");
    /* The built-ins are still there. */
    CHECK(hk_catalog_find(cfg.catalog, 1, "AccountUpdated") != NULL);
    hk_config_free(&cfg);
}

TEST(load_errors_name_the_line)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"max_streams = 64\nmax_streams = lots\n", "line 2: max_streams:"},
        {"# c\n\nno equals sign here\n", "line 3: expected 'key = value'"},
        {" = 5\n", "line 1: expected 'key = value'"},
        {"max_streams = 1\nmax_streamz = 1\n", "line 2: unknown setting 'max_streamz'"},
        {"trigger_action = elite\n", "line 1: trigger_action:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_config_t cfg;
        char err[256] = "";
        CHECK_INT(hk_config_defaults(&cfg), 0);
        int rc = hk_config_load(&cfg, write_file(cases[i].text), err, sizeof err);
        hk_config_free(&cfg);
        CHECK_INT(rc, HK_EINVAL);
        if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fprintf(stderr, "  got '%s', want '%s...'\n", err, cases[i].want);
        CHECK(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0);
    }
}

TEST(load_missing_file)
{
    hk_config_t cfg;
    char err[256] = "", path[512];
    snprintf(path, sizeof path, "%s/nope.conf", hk_test_tmpdir());
    CHECK_INT(hk_config_defaults(&cfg), 0);
    CHECK_INT(hk_config_load(&cfg, path, err, sizeof err), HK_EIO);
    CHECK(strstr(err, "cannot read") != NULL);
    hk_config_free(&cfg);
}

TEST(roles)
{
    hk_config_t cfg;
    CHECK_INT(hk_config_defaults(&cfg), 0);
    uid_t self = getuid();
    /* Root and hookd's own uid are admins whatever the config says. */
    CHECK_INT(hk_config_role(&cfg, 0, 12345, NULL, 0), HK_ROLE_ADMIN);
    CHECK_INT(hk_config_role(&cfg, self, 12345, NULL, 0), HK_ROLE_ADMIN);
    CHECK_INT(hk_config_role(&cfg, 4242, 4242, NULL, 0),
              self == 4242 ? HK_ROLE_ADMIN : HK_ROLE_NONE);
    CHECK_INT(hk_config_role(&cfg, 65534, 65534, NULL, 0), HK_ROLE_NONE);

    CHECK_INT(set(&cfg, "admin_uids", "1000"), 0);
    CHECK_INT(set(&cfg, "admin_gids", "2000"), 0);
    CHECK_INT(set(&cfg, "trigger_uids", "3000,65534"), 0);
    CHECK_INT(set(&cfg, "trigger_gids", "4000"), 0);
    CHECK_INT(hk_config_role(&cfg, 1000, 1, NULL, 0), HK_ROLE_ADMIN);
    CHECK_INT(hk_config_role(&cfg, 1, 2000, NULL, 0), HK_ROLE_ADMIN);
    CHECK_INT(hk_config_role(&cfg, 3000, 1, NULL, 0), HK_ROLE_TRIGGER);
    CHECK_INT(hk_config_role(&cfg, 65534, 65534, NULL, 0), HK_ROLE_TRIGGER);
    CHECK_INT(hk_config_role(&cfg, 1, 4000, NULL, 0), HK_ROLE_TRIGGER);
    /* A trigger uid in an admin group is an admin: the larger role wins. */
    CHECK_INT(hk_config_role(&cfg, 3000, 2000, NULL, 0), HK_ROLE_ADMIN);
    CHECK_INT(hk_config_role(&cfg, 1, 1, NULL, 0), self == 1 ? HK_ROLE_ADMIN : HK_ROLE_NONE);
    hk_config_free(&cfg);
}

/* Users and groups by name, resolved at load: root is uid 0 and group 0 on
 * every Linux; an unknown name is an error that names it. */
TEST(names)
{
    hk_config_t cfg;
    char err[256] = "";
    CHECK_INT(hk_config_defaults(&cfg), 0);
    CHECK_INT(set(&cfg, "admin_uids", "root, 1234"), 0);
    CHECK_INT(cfg.admin_uids.n, 2);
    CHECK_INT(cfg.admin_uids.ids[0], 0);
    CHECK_INT(cfg.admin_uids.ids[1], 1234);
    CHECK_INT(set(&cfg, "trigger_gids", "root"), 0);
    CHECK_INT(cfg.trigger_gids.n, 1);
    CHECK_INT(cfg.trigger_gids.ids[0], 0);
    CHECK_INT(hk_config_set(&cfg, "trigger_gids", "root,hk-no-such-group", err, sizeof err),
              HK_EINVAL);
    CHECK_STR(err, "trigger_gids: no group named 'hk-no-such-group'");
    CHECK_INT(cfg.trigger_gids.n, 1); /* unchanged */
    CHECK_INT(hk_config_set(&cfg, "admin_uids", "hk-no-such-user", err, sizeof err), HK_EINVAL);
    CHECK_STR(err, "admin_uids: no user named 'hk-no-such-user'");

    CHECK_INT(cfg.socket_group_set, 0);
    CHECK_INT(set(&cfg, "socket_group", "root"), 0);
    CHECK_INT(cfg.socket_group_set, 1);
    CHECK_INT(cfg.socket_gid, 0);
    CHECK_INT(set(&cfg, "socket_group", "4321"), 0);
    CHECK_INT(cfg.socket_gid, 4321);
    CHECK_INT(set(&cfg, "socket_group", ""), 0);
    CHECK_INT(cfg.socket_group_set, 0);

    CHECK(cfg.user == NULL);
    CHECK_INT(set(&cfg, "user", "root"), 0);
    CHECK_STR(cfg.user, "root");
    CHECK_INT(cfg.user_uid, 0);
    CHECK_INT(cfg.user_gid, 0);
    CHECK_INT(set(&cfg, "user", "0"), 0); /* a uid gives the same user */
    CHECK_STR(cfg.user, "root");
    CHECK_INT(hk_config_set(&cfg, "user", "hk-no-such-user", err, sizeof err), HK_EINVAL);
    CHECK(strstr(err, "no user 'hk-no-such-user'") != NULL);
    CHECK_STR(cfg.user, "root");
    CHECK_INT(set(&cfg, "user", ""), 0);
    CHECK(cfg.user == NULL);
    hk_config_free(&cfg);
}

/* Supplementary groups count like the primary one; the larger role wins. */
TEST(roles_supplementary_groups)
{
    hk_config_t cfg;
    gid_t groups[] = {7, 4000, 9};
    gid_t admin[] = {2000};
    CHECK_INT(hk_config_defaults(&cfg), 0);
    CHECK_INT(set(&cfg, "admin_gids", "2000"), 0);
    CHECK_INT(set(&cfg, "trigger_gids", "4000"), 0);
    if (getuid() == 3333) { /* 3333 would be an admin as hookd's own uid */
        hk_config_free(&cfg);
        return;
    }
    CHECK_INT(hk_config_role(&cfg, 3333, 3333, NULL, 0), HK_ROLE_NONE);
    CHECK_INT(hk_config_role(&cfg, 3333, 3333, groups, 1), HK_ROLE_NONE);
    CHECK_INT(hk_config_role(&cfg, 3333, 3333, groups, 3), HK_ROLE_TRIGGER);
    CHECK_INT(hk_config_role(&cfg, 3333, 4000, admin, 1), HK_ROLE_ADMIN);
    hk_config_free(&cfg);
}

/* hk_config_read: defaults, then the file, then the settings in order; a
 * failure says where and leaves the output alone. */
TEST(read)
{
    hk_config_t cfg;
    char err[600] = "";
    const char *path = write_file("max_streams = 10\n"
                                  "max_connections = 20\n");
    const char *sets[] = {"max_streams=30", "socket=/tmp/hk-read.sock"};
    CHECK_INT(hk_config_read(&cfg, path, sets, 2, err, sizeof err), 0);
    CHECK_INT(cfg.max_streams, 30);
    CHECK_INT(cfg.max_connections, 20);
    CHECK_STR(cfg.socket_path, "/tmp/hk-read.sock");
    hk_config_free(&cfg);

    CHECK_INT(hk_config_read(&cfg, NULL, NULL, 0, err, sizeof err), 0);
    CHECK_INT(cfg.max_streams, 256);
    hk_config_free(&cfg);

    memset(&cfg, 0x5a, sizeof cfg);
    path = write_file("max_streams = 10\n\nmax_streams = banana\n");
    CHECK_INT(hk_config_read(&cfg, path, NULL, 0, err, sizeof err), HK_EINVAL);
    char want[700];
    snprintf(want, sizeof want, "%s: line 3: max_streams: must be a whole number from 1 to 65536",
             path);
    CHECK_STR(err, want);
    CHECK_INT(((unsigned char *)&cfg)[0], 0x5a); /* untouched */

    const char *bad[] = {"max_streams=5", "socket="};
    CHECK_INT(hk_config_read(&cfg, NULL, bad, 2, err, sizeof err), HK_EINVAL);
    CHECK_STR(err, "--set socket=: socket: must not be empty");
    const char *noeq[] = {"max_streams"};
    CHECK_INT(hk_config_read(&cfg, NULL, noeq, 1, err, sizeof err), HK_EINVAL);
    CHECK_STR(err, "--set wants KEY=VALUE, not 'max_streams'");

    char longer[200];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK_INT(hk_config_defaults(&cfg), 0);
    CHECK_INT(hk_config_set(&cfg, "socket", longer, err, sizeof err), HK_EINVAL);
    CHECK_STR(err, "socket: 199 bytes is longer than 107 bytes, the limit of a Unix socket path");
    hk_config_free(&cfg);
}
