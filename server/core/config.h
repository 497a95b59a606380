/* config.h -- the daemon's settings: defaults, the config file, the flags */
#ifndef HK_CONFIG_H
#define HK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/catalog.h"
#include "core/log.h"

#define HK_CONFIG_MAX_IDS 32
#define HK_CONFIG_MAX_RETRIES 32
#define HK_CONFIG_MAX_NETS 32

/* Who may do what. Callers are identified by SO_PEERCRED. */
typedef enum {
    HK_ROLE_NONE = 0,    /* may only call grpc.health.v1.Health */
    HK_ROLE_TRIGGER = 1, /* may also trigger events and read the catalog */
    HK_ROLE_ADMIN = 2    /* may do everything */
} hk_role_t;

typedef struct {
    uint32_t ids[HK_CONFIG_MAX_IDS];
    unsigned n;
} hk_idset_t;

typedef struct {
    char *socket_path;    /* <base>/hookd.sock; base: /var/lib/hookd (root), else $HOME/.hookd */
    char *data_dir;       /* <base>/data */
    unsigned socket_mode; /* 0660 */
    hk_log_level_t log_level;

    /* Limits on input. */
    size_t max_message_bytes; /* 4 MiB: a larger gRPC message is RESOURCE_EXHAUSTED */
    size_t max_payload_bytes; /* 1 MiB: TriggerEvent payload */
    uint32_t max_streams;     /* concurrent streams per connection: 256 */
    uint32_t max_connections; /* 1024 */
    size_t store_map_bytes;   /* LMDB map size: 1 GiB */

    /* Authorization: root and hookd's own uid are always admins. */
    hk_idset_t admin_uids, admin_gids, trigger_uids, trigger_gids;

    /* Outbound delivery. */
    int allow_http;                                    /* http:// to any host, not only loopback */
    uint32_t retry_schedule_ms[HK_CONFIG_MAX_RETRIES]; /* delay before each attempt */
    unsigned retry_count;
    uint32_t retry_after_max_s;           /* cap on an honoured Retry-After: 3600 */
    uint32_t max_transfers;               /* outbound transfers in flight: 256 */
    uint32_t idempotency_window_s;        /* 86400 */
    uint32_t log_max_age_s;               /* delivery log pruned after: 30 days */
    uint32_t log_max_count;               /* and beyond this many deliveries: 100000 */
    char *ca_file;                        /* NULL: the system's CAs */
    char *allow_nets[HK_CONFIG_MAX_NETS]; /* CIDRs always allowed */
    unsigned n_allow_nets;
    char *deny_nets[HK_CONFIG_MAX_NETS]; /* CIDRs refused besides the defaults */
    unsigned n_deny_nets;

    hk_catalog_t *catalog; /* built-in actions plus the config file's */

    /* Hardening (issue 11): what one client may make hookd hold, and how long. */
    size_t max_buffer_bytes;            /* request bytes buffered in all: 256 MiB */
    size_t max_connection_buffer_bytes; /* ... by one connection: 16 MiB */
    uint32_t max_connections_per_uid;   /* a non-admin uid's connections: 256 */
    uint32_t admin_reserve;             /* of max_connections, kept for admins: 16 */
    uint32_t header_timeout_s;          /* accept to the first request's headers: 10 */
    uint32_t idle_timeout_s;            /* a connection with nothing under way: 120 */
    uint32_t request_timeout_s;         /* a request's headers to its last byte: 30 */
    /* The admin page's browser listener (server/web). */
    char *http_listen;            /* "127.0.0.1:8480"; NULL: off */
    int http_listen_allow_remote; /* a non-loopback http_listen starts (behind a TLS proxy) */
    char *http_origin;            /* the origin browsers see (a proxy's); NULL: the listener's */
    uint32_t http_login_ttl_s;    /* a login link works once within: 300 */
    uint32_t http_session_idle_s; /* a session unused this long ends: 7200 */
    uint32_t http_session_ttl_s;  /* and any session after: 43200 */
    /* Running as a service (issue 9): who owns the socket, who hookd becomes. */
    int socket_group_set; /* socket_group was given: */
    gid_t socket_gid;     /*   the group of the socket file hookd creates */
    char *user;           /* user=: the name; NULL: stay who started hookd */
    uid_t user_uid;       /*   its uid and primary gid, resolved at load */
    gid_t user_gid;
    /* Fair delivery (one slow receiver does not hold up the others). */
    uint32_t max_in_flight_per_webhook; /* async attempts in flight to one webhook: 64 */
    /* A full store heals (issue 10). */
    uint32_t store_max_fill; /* percent of the map: new deliveries refused above it: 80 */
} hk_config_t;

/* Fills cfg with the embedded defaults (including the built-in catalog).
 * Returns 0 or HK_ENOMEM. */
int hk_config_defaults(hk_config_t *cfg);

/* Reads a config file over cfg. Format, one setting a line, '#' comments:
 *   key = value
 *   trigger_action = enterprise AccountUpdated Account Update
 * On failure writes "line N: what is wrong" into err (size errlen) and
 * returns HK_EINVAL (or HK_EIO when the file cannot be read). */
int hk_config_load(hk_config_t *cfg, const char *path, char *err, size_t errlen);

/* Sets one "key = value" setting; the config file and --set use it.
 * *_uids, *_gids, user and socket_group take names as well as numbers: a
 * name is resolved (getpwnam/getgrnam) now, and an unknown one is an error.
 * Returns 0 or HK_EINVAL with the reason in err. */
int hk_config_set(hk_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Builds a whole config the way hookd's command line does: the defaults,
 * then the file at path (NULL: none), then each "KEY=VALUE" of sets in
 * order. On success *cfg is filled (free with hk_config_free); on failure
 * *cfg is untouched and err says where: "<path>: line N: ..." or
 * "--set <KEY=VALUE>: ...". Returns 0, HK_EINVAL, HK_EIO or HK_ENOMEM. */
int hk_config_read(hk_config_t *cfg, const char *path, const char *const *sets, unsigned n_sets,
                   char *err, size_t errlen);

/* The role of a caller: uid, primary gid and its n_groups supplementary
 * groups (groups may be NULL when n_groups is 0). The largest role any of
 * them has wins. */
hk_role_t hk_config_role(const hk_config_t *cfg, uid_t uid, gid_t gid, const gid_t *groups,
                         unsigned n_groups);

void hk_config_free(hk_config_t *cfg);

#endif
