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

    /* Fair delivery (one slow receiver does not hold up the others). */
    uint32_t max_in_flight_per_webhook; /* async attempts in flight to one webhook: 64 */
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
 * Returns 0 or HK_EINVAL with the reason in err. */
int hk_config_set(hk_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);

/* The role of a caller. */
hk_role_t hk_config_role(const hk_config_t *cfg, uid_t uid, gid_t gid);

void hk_config_free(hk_config_t *cfg);

#endif
