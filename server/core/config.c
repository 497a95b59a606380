/* config.c -- the daemon's settings: embedded defaults, the config file, --set */
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.h"

#define PATH_MAX_BYTES 4096
#define SUN_PATH_BYTES sizeof(((struct sockaddr_un *)0)->sun_path)
#define RETRY_DELAY_MAX_S 604800u /* one week: keeps every delay in uint32 ms */

static const uint32_t default_retry_s[] = {0, 5, 300, 1800, 7200, 18000, 36000, 36000};

/* Parses a whole decimal number (no sign, no suffix) into *out. */
static int parse_u64(const char *s, unsigned long long *out)
{
    if (!isdigit((unsigned char)*s)) return HK_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE || *end) return HK_EINVAL;
    *out = v;
    return 0;
}

/* Trims leading and trailing whitespace in place. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Splits a comma-separated list in place into at most max whitespace-trimmed
 * items. An empty or all-blank value is an empty list; an empty item between
 * commas is an error. */
static int split_list(char *s, char **items, unsigned max, unsigned *n)
{
    *n = 0;
    if (*trim(s) == '\0') return 0;
    for (char *p = s;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *item = trim(p);
        if (*item == '\0' || *n == max) return HK_EINVAL;
        items[(*n)++] = item;
        if (!comma) return 0;
        p = comma + 1;
    }
}

/* --- setters: each parses value and stores it in cfg only when valid ------ */

typedef struct setting setting_t;
typedef int (*setter_fn)(hk_config_t *cfg, const setting_t *s, char *value, char *err,
                         size_t errlen);

struct setting {
    const char *key;
    setter_fn set;
    size_t off; /* the field in hk_config_t */
    unsigned long long min, max;
};

#define FIELD(cfg, s, type) ((type *)((char *)(cfg) + (s)->off))

static int set_string(char **field, const char *value, char *err, size_t errlen, const char *key)
{
    char *dup = strdup(value);
    if (!dup) return hk_error_invalid(err, errlen, "%s: out of memory", key), HK_ENOMEM;
    free(*field);
    *field = dup;
    return 0;
}

static int set_path(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    size_t n = strlen(value);
    if (n == 0) return hk_error_invalid(err, errlen, "%s: must not be empty", s->key);
    if (n >= s->max)
        return hk_error_invalid(
            err, errlen, "%s: %zu bytes is longer than %llu bytes%s", s->key, n, s->max - 1,
            s->max == SUN_PATH_BYTES ? ", the limit of a Unix socket path" : "");
    return set_string(FIELD(cfg, s, char *), value, err, errlen, s->key);
}

/* ca_file: empty means "the system's CAs" again. */
static int set_optional_path(hk_config_t *cfg, const setting_t *s, char *value, char *err,
                             size_t errlen)
{
    char **field = FIELD(cfg, s, char *);
    if (*value == '\0') {
        free(*field);
        *field = NULL;
        return 0;
    }
    return set_path(cfg, s, value, err, errlen);
}

static int set_mode(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    char *end;
    if (*value < '0' || *value > '7') goto bad;
    errno = 0;
    unsigned long v = strtoul(value, &end, 8);
    if (errno || *end || v > 0777) goto bad;
    *FIELD(cfg, s, unsigned) = (unsigned)v;
    return 0;
bad:
    return hk_error_invalid(err, errlen, "%s: must be an octal mode such as 0660", s->key);
}

static int set_level(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    hk_log_level_t level;
    if (hk_log_parse_level(value, &level) != 0)
        return hk_error_invalid(err, errlen, "%s: must be debug, info, warn or error", s->key);
    *FIELD(cfg, s, hk_log_level_t) = level;
    return 0;
}

static int parse_ranged(const setting_t *s, const char *value, unsigned long long *v, char *err,
                        size_t errlen)
{
    *v = 0; /* defined on the error path too */
    if (parse_u64(value, v) != 0 || *v < s->min || *v > s->max)
        return hk_error_invalid(err, errlen, "%s: must be a whole number from %llu to %llu", s->key,
                                s->min, s->max);
    return 0;
}

static int set_size(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    unsigned long long v;
    if (parse_ranged(s, value, &v, err, errlen) != 0) return HK_EINVAL;
    *FIELD(cfg, s, size_t) = (size_t)v;
    return 0;
}

static int set_u32(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    unsigned long long v;
    if (parse_ranged(s, value, &v, err, errlen) != 0) return HK_EINVAL;
    *FIELD(cfg, s, uint32_t) = (uint32_t)v;
    return 0;
}

static int set_bool(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "yes", "1", "on"};
    static const char *const no[] = {"false", "no", "0", "off"};
    for (int i = 0; i < 4; i++) {
        int is_yes = strcasecmp(value, yes[i]) == 0;
        if (is_yes || strcasecmp(value, no[i]) == 0) {
            *FIELD(cfg, s, int) = is_yes;
            return 0;
        }
    }
    return hk_error_invalid(err, errlen, "%s: must be true or false", s->key);
}

/* A user or group by number or name; names are looked up now, so a typo is
 * an error at load, not a role that silently never matches. */
static int resolve_id(const char *key, const char *text, int group, uint32_t *out, char *err,
                      size_t errlen)
{
    unsigned long long v;
    if (parse_u64(text, &v) == 0) {
        /* (uid_t)-1 means "no id" to the kernel: never a real caller. */
        if (v >= UINT32_MAX)
            return hk_error_invalid(err, errlen, "%s: '%s' is not a valid id", key, text);
        *out = (uint32_t)v;
        return 0;
    }
    errno = 0;
    if (group) {
        struct group *gr = getgrnam(text);
        if (gr) return *out = (uint32_t)gr->gr_gid, 0;
    } else {
        struct passwd *pw = getpwnam(text);
        if (pw) return *out = (uint32_t)pw->pw_uid, 0;
    }
    return hk_error_invalid(err, errlen, "%s: no %s named '%s'", key, group ? "group" : "user",
                            text);
}

static int set_ids(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    char *items[HK_CONFIG_MAX_IDS];
    unsigned n;
    hk_idset_t set = {0};
    int group = strstr(s->key, "_gids") != NULL;
    if (split_list(value, items, HK_CONFIG_MAX_IDS, &n) != 0)
        return hk_error_invalid(err, errlen,
                                "%s: must be a comma-separated list of at most %d %s (names or "
                                "numbers)",
                                s->key, HK_CONFIG_MAX_IDS, group ? "groups" : "users");
    for (unsigned i = 0; i < n; i++)
        if (resolve_id(s->key, items[i], group, &set.ids[set.n++], err, errlen) != 0)
            return HK_EINVAL;
    *FIELD(cfg, s, hk_idset_t) = set;
    return 0;
}

static int set_retry(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    char *items[HK_CONFIG_MAX_RETRIES];
    unsigned n;
    uint32_t ms[HK_CONFIG_MAX_RETRIES];
    if (split_list(value, items, HK_CONFIG_MAX_RETRIES, &n) != 0 || n == 0)
        return hk_error_invalid(err, errlen,
                                "%s: must be 1 to %d comma-separated delays in seconds", s->key,
                                HK_CONFIG_MAX_RETRIES);
    for (unsigned i = 0; i < n; i++) {
        unsigned long long v;
        if (parse_u64(items[i], &v) != 0 || v > RETRY_DELAY_MAX_S)
            return hk_error_invalid(err, errlen, "%s: '%s' is not a delay from 0 to %u seconds",
                                    s->key, items[i], RETRY_DELAY_MAX_S);
        ms[i] = (uint32_t)(v * 1000);
    }
    memcpy(cfg->retry_schedule_ms, ms, n * sizeof ms[0]);
    cfg->retry_count = n;
    return 0;
}

/* "10.0.0.0/8", "fd00::/8", or a bare address (one host). Only the syntax is
 * checked here; the delivery policy interprets the strings. */
static int valid_cidr(const char *text)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    unsigned char buf[sizeof(struct in6_addr)];
    unsigned max_prefix;

    if (n == 0 || n >= sizeof addr) return 0;
    memcpy(addr, text, n);
    addr[n] = '\0';
    if (inet_pton(AF_INET, addr, buf) == 1)
        max_prefix = 32;
    else if (inet_pton(AF_INET6, addr, buf) == 1)
        max_prefix = 128;
    else
        return 0;
    if (slash) {
        unsigned long long prefix;
        if (parse_u64(slash + 1, &prefix) != 0 || prefix > max_prefix || strlen(slash + 1) > 3)
            return 0;
    }
    return 1;
}

static int set_nets(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    int allow = strcmp(s->key, "allow_nets") == 0;
    char **nets = allow ? cfg->allow_nets : cfg->deny_nets;
    unsigned *count = allow ? &cfg->n_allow_nets : &cfg->n_deny_nets;
    char *items[HK_CONFIG_MAX_NETS], *copies[HK_CONFIG_MAX_NETS];
    unsigned n;

    if (split_list(value, items, HK_CONFIG_MAX_NETS, &n) != 0)
        return hk_error_invalid(err, errlen,
                                "%s: must be a comma-separated list of at most %d CIDRs", s->key,
                                HK_CONFIG_MAX_NETS);
    for (unsigned i = 0; i < n; i++)
        if (!valid_cidr(items[i]))
            return hk_error_invalid(err, errlen,
                                    "%s: '%s' is not an address or CIDR (10.0.0.0/8, fd00::/8)",
                                    s->key, items[i]);
    for (unsigned i = 0; i < n; i++) {
        copies[i] = strdup(items[i]);
        if (!copies[i]) {
            while (i > 0)
                free(copies[--i]);
            return hk_error_invalid(err, errlen, "%s: out of memory", s->key), HK_ENOMEM;
        }
    }
    for (unsigned i = 0; i < *count; i++)
        free(nets[i]);
    memcpy(nets, copies, n * sizeof copies[0]);
    *count = n;
    return 0;
}

/* "enterprise AccountUpdated Account Update": application, key, then the
 * display name (the rest of the value, spaces and all). */
static int set_trigger_action(hk_config_t *cfg, const setting_t *s, char *value, char *err,
                              size_t errlen)
{
    char *app = value, *key, *display;
    key = app + strcspn(app, " \t");
    if (*key) *key++ = '\0';
    key += strspn(key, " \t");
    display = key + strcspn(key, " \t");
    if (*display) *display++ = '\0';
    display = trim(display);
    if (*app == '\0' || *key == '\0' || *display == '\0')
        return hk_error_invalid(err, errlen, "%s: wants '<enterprise|elite> <Key> <Display Name>'",
                                s->key);

    int application = hk_application_parse(app);
    if (application == 0)
        return hk_error_invalid(err, errlen, "%s: unknown application '%s' (enterprise or elite)",
                                s->key, app);
    int rc = hk_catalog_add(cfg->catalog, application, key, display);
    if (rc == HK_ENOMEM)
        return hk_error_invalid(err, errlen, "%s: out of memory", s->key), HK_ENOMEM;
    if (rc != 0)
        return hk_error_invalid(
            err, errlen,
            "%s: the key must be 1-100 characters of A-Z a-z 0-9 _ . - and the display "
            "name 1-200 printable characters",
            s->key);
    return 0;
}

/* socket_group: the group of the socket file hookd creates; empty: the
 * creator's group again. */
static int set_socket_group(hk_config_t *cfg, const setting_t *s, char *value, char *err,
                            size_t errlen)
{
    uint32_t gid = 0;
    if (*value == '\0') {
        cfg->socket_group_set = 0;
        return 0;
    }
    if (resolve_id(s->key, value, 1, &gid, err, errlen) != 0) return HK_EINVAL;
    cfg->socket_group_set = 1;
    cfg->socket_gid = (gid_t)gid;
    return 0;
}

/* user: who hookd becomes after binding its socket (name or uid); its primary
 * group and supplementary groups come from the user database. Empty: nobody
 * else, stay who started hookd. */
static int set_user(hk_config_t *cfg, const setting_t *s, char *value, char *err, size_t errlen)
{
    struct passwd *pw;
    unsigned long long v;
    if (*value == '\0') {
        free(cfg->user);
        cfg->user = NULL;
        return 0;
    }
    pw = parse_u64(value, &v) == 0 && v < UINT32_MAX ? getpwuid((uid_t)v) : getpwnam(value);
    if (!pw)
        return hk_error_invalid(err, errlen,
                                "%s: no user '%s' (a name or uid with an entry in "
                                "the user database)",
                                s->key, value);
    char *name = strdup(pw->pw_name);
    if (!name) return hk_error_invalid(err, errlen, "%s: out of memory", s->key), HK_ENOMEM;
    free(cfg->user);
    cfg->user = name;
    cfg->user_uid = pw->pw_uid;
    cfg->user_gid = pw->pw_gid;
    return 0;
}

#define OFF(field) offsetof(hk_config_t, field)
#define GIB (1ull << 30)

static const setting_t settings[] = {
    {"socket", set_path, OFF(socket_path), 0, SUN_PATH_BYTES},
    {"data_dir", set_path, OFF(data_dir), 0, PATH_MAX_BYTES},
    {"socket_mode", set_mode, OFF(socket_mode), 0, 0},
    {"log_level", set_level, OFF(log_level), 0, 0},
    {"max_message_bytes", set_size, OFF(max_message_bytes), 1024, GIB},
    {"max_payload_bytes", set_size, OFF(max_payload_bytes), 1, GIB},
    {"max_streams", set_u32, OFF(max_streams), 1, 65536},
    {"max_connections", set_u32, OFF(max_connections), 1, 65536},
    {"store_map_bytes", set_size, OFF(store_map_bytes), 1ull << 20, 1024 * GIB},
    {"admin_uids", set_ids, OFF(admin_uids), 0, 0},
    {"admin_gids", set_ids, OFF(admin_gids), 0, 0},
    {"trigger_uids", set_ids, OFF(trigger_uids), 0, 0},
    {"trigger_gids", set_ids, OFF(trigger_gids), 0, 0},
    {"allow_http", set_bool, OFF(allow_http), 0, 0},
    {"retry_schedule", set_retry, 0, 0, 0},
    {"retry_after_max", set_u32, OFF(retry_after_max_s), 0, RETRY_DELAY_MAX_S},
    {"max_transfers", set_u32, OFF(max_transfers), 1, 65536},
    {"idempotency_window", set_u32, OFF(idempotency_window_s), 1, UINT32_MAX},
    {"log_max_age", set_u32, OFF(log_max_age_s), 1, UINT32_MAX},
    {"log_max_count", set_u32, OFF(log_max_count), 1, UINT32_MAX},
    {"ca_file", set_optional_path, OFF(ca_file), 0, PATH_MAX_BYTES},
    {"allow_nets", set_nets, 0, 0, 0},
    {"deny_nets", set_nets, 0, 0, 0},
    {"trigger_action", set_trigger_action, 0, 0, 0},
    /* Hardening (issue 11). */
    {"max_buffer_bytes", set_size, OFF(max_buffer_bytes), 1u << 20, 64 * GIB},
    {"max_connection_buffer_bytes", set_size, OFF(max_connection_buffer_bytes), 1u << 20, 64 * GIB},
    {"max_connections_per_uid", set_u32, OFF(max_connections_per_uid), 1, 65536},
    {"admin_reserve", set_u32, OFF(admin_reserve), 0, 65535},
    {"header_timeout", set_u32, OFF(header_timeout_s), 1, 3600},
    {"idle_timeout", set_u32, OFF(idle_timeout_s), 1, 86400},
    {"request_timeout", set_u32, OFF(request_timeout_s), 1, 86400},
    /* The admin page's browser listener (server/web). */
    {"http_listen", set_optional_path, OFF(http_listen), 0, 256},
    {"http_listen_allow_remote", set_bool, OFF(http_listen_allow_remote), 0, 0},
    {"http_origin", set_optional_path, OFF(http_origin), 0, 256},
    {"http_login_ttl", set_u32, OFF(http_login_ttl_s), 1, 86400},
    {"http_session_idle", set_u32, OFF(http_session_idle_s), 1, 30 * 86400},
    {"http_session_ttl", set_u32, OFF(http_session_ttl_s), 1, 30 * 86400},
    /* Running as a service (issue 9). */
    {"socket_group", set_socket_group, 0, 0, 0},
    {"user", set_user, 0, 0, 0},
    /* Fair delivery. */
    {"max_in_flight_per_webhook", set_u32, OFF(max_in_flight_per_webhook), 1, 65536},
    /* A full store heals (issue 10). */
    {"store_max_fill", set_u32, OFF(store_max_fill), 10, 99},
};

/* --- the public interface ------------------------------------------------ */

/* Root keeps its state in /var/lib; anyone else in their home, so a plain
 * `hookd` works without privileges. */
static int default_base(char *buf, size_t n)
{
    if (getuid() == 0) return snprintf(buf, n, "/var/lib/hookd") < (int)n ? 0 : HK_EINVAL;
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : ".";
    }
    return snprintf(buf, n, "%s/.hookd", home) < (int)n ? 0 : HK_EINVAL;
}

int hk_config_defaults(hk_config_t *cfg)
{
    char base[PATH_MAX_BYTES], path[PATH_MAX_BYTES + 16];
    int rc;

    memset(cfg, 0, sizeof *cfg);
    cfg->socket_mode = 0660;
    cfg->log_level = HK_LOG_INFO;
    cfg->max_message_bytes = 4u << 20;
    cfg->max_payload_bytes = 1u << 20;
    cfg->max_streams = 256;
    cfg->max_connections = 1024;
    cfg->store_map_bytes = (size_t)1 << 30;
    cfg->allow_http = 0;
    cfg->retry_count = sizeof default_retry_s / sizeof default_retry_s[0];
    for (unsigned i = 0; i < cfg->retry_count; i++)
        cfg->retry_schedule_ms[i] = default_retry_s[i] * 1000;
    cfg->retry_after_max_s = 3600;
    cfg->max_transfers = 256;
    cfg->idempotency_window_s = 86400;
    cfg->log_max_age_s = 30 * 86400;
    cfg->log_max_count = 100000;
    /* Hardening (issue 11). */
    cfg->max_buffer_bytes = (size_t)256 << 20;
    cfg->max_connection_buffer_bytes = (size_t)16 << 20;
    cfg->max_connections_per_uid = 256;
    cfg->admin_reserve = 16;
    cfg->header_timeout_s = 10;
    cfg->idle_timeout_s = 120;
    cfg->request_timeout_s = 30;
    cfg->http_login_ttl_s = 300;
    cfg->http_session_idle_s = 7200;
    cfg->http_session_ttl_s = 43200;
    cfg->max_in_flight_per_webhook = 64; /* fair delivery */
    cfg->store_max_fill = 80;            /* a full store heals */

    if (default_base(base, sizeof base) != 0) base[0] = '.', base[1] = '\0';
    snprintf(path, sizeof path, "%s/hookd.sock", base);
    cfg->socket_path = strdup(path);
    snprintf(path, sizeof path, "%s/data", base);
    cfg->data_dir = strdup(path);
    rc = hk_catalog_new(&cfg->catalog);
    if (rc == 0 && (!cfg->socket_path || !cfg->data_dir)) rc = HK_ENOMEM;
    if (rc != 0) hk_config_free(cfg);
    return rc;
}

int hk_config_set(hk_config_t *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (strcmp(settings[i].key, key) != 0) continue;
        /* Setters split and trim in place; value stays the caller's. */
        char *copy = strdup(value);
        if (!copy) return hk_error_invalid(err, errlen, "%s: out of memory", key), HK_ENOMEM;
        int rc = settings[i].set(cfg, &settings[i], trim(copy), err, errlen);
        free(copy);
        return rc;
    }
    return hk_error_invalid(err, errlen, "unknown setting '%s'", key);
}

/* Drops a trailing "# comment" (a '#' after whitespace) so that values such
 * as "max_streams = 64  # per client" work; a '#' inside a word stays. */
static void strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

int hk_config_load(hk_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return hk_error_invalid(err, errlen, "cannot read: %s", strerror(errno)), HK_EIO;

    char *line = NULL, reason[512];
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        strip_comment(line);
        char *text = trim(line);
        if (*text == '\0') continue;
        char *eq = strchr(text, '=');
        if (!eq) {
            rc = hk_error_invalid(err, errlen, "line %u: expected 'key = value'", lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(text), *value = trim(eq + 1);
        if (*key == '\0') {
            rc = hk_error_invalid(err, errlen, "line %u: expected 'key = value'", lineno);
            break;
        }
        rc = hk_config_set(cfg, key, value, reason, sizeof reason);
        if (rc != 0) {
            hk_error_invalid(err, errlen, "line %u: %s", lineno, reason);
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        hk_error_invalid(err, errlen, "cannot read: %s", strerror(errno));
        rc = HK_EIO;
    }
    free(line);
    fclose(f);
    return rc;
}

static int idset_has(const hk_idset_t *set, uint32_t id)
{
    for (unsigned i = 0; i < set->n; i++)
        if (set->ids[i] == id) return 1;
    return 0;
}

static int any_group_in(const hk_idset_t *set, gid_t gid, const gid_t *groups, unsigned n)
{
    if (idset_has(set, gid)) return 1;
    for (unsigned i = 0; i < n; i++)
        if (idset_has(set, groups[i])) return 1;
    return 0;
}

hk_role_t hk_config_role(const hk_config_t *cfg, uid_t uid, gid_t gid, const gid_t *groups,
                         unsigned n_groups)
{
    if (uid == 0 || uid == getuid()) return HK_ROLE_ADMIN;
    if (idset_has(&cfg->admin_uids, uid) || any_group_in(&cfg->admin_gids, gid, groups, n_groups))
        return HK_ROLE_ADMIN;
    if (idset_has(&cfg->trigger_uids, uid) ||
        any_group_in(&cfg->trigger_gids, gid, groups, n_groups))
        return HK_ROLE_TRIGGER;
    return HK_ROLE_NONE;
}

int hk_config_read(hk_config_t *cfg, const char *path, const char *const *sets, unsigned n_sets,
                   char *err, size_t errlen)
{
    hk_config_t next;
    char reason[512], key[128];
    int rc;

    if ((rc = hk_config_defaults(&next)) != 0)
        return hk_error_invalid(err, errlen, "out of memory"), rc;
    if (path && (rc = hk_config_load(&next, path, reason, sizeof reason)) != 0) {
        hk_error_invalid(err, errlen, "%s: %s", path, reason);
        goto fail;
    }
    for (unsigned i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof key) {
            rc = hk_error_invalid(err, errlen, "--set wants KEY=VALUE, not '%s'", sets[i]);
            goto fail;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = '\0';
        if ((rc = hk_config_set(&next, key, eq + 1, reason, sizeof reason)) != 0) {
            hk_error_invalid(err, errlen, "--set %s: %s", sets[i], reason);
            goto fail;
        }
    }
    *cfg = next;
    return 0;
fail:
    hk_config_free(&next);
    return rc;
}

void hk_config_free(hk_config_t *cfg)
{
    free(cfg->socket_path);
    free(cfg->data_dir);
    free(cfg->ca_file);
    free(cfg->user);
    for (unsigned i = 0; i < cfg->n_allow_nets; i++)
        free(cfg->allow_nets[i]);
    for (unsigned i = 0; i < cfg->n_deny_nets; i++)
        free(cfg->deny_nets[i]);
    hk_catalog_free(cfg->catalog);
    free(cfg->http_listen);
    free(cfg->http_origin);
    memset(cfg, 0, sizeof *cfg);
}
