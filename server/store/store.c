/* store.c -- opening and closing the store: the environment, every table, checks */
#include "store/store.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "store/deliveries.h"
#include "store/keyfile.h"
#include "store/store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The layout of every table is in store_impl.h. */
#define SCHEMA_VERSION 2
#define DEFAULT_MAP_BYTES ((size_t)1 << 30)
#define MAX_DBS 16
#define KEYCHECK "hookd secret.key check v1"
#define KEY_BUF HK_STORE_KEY_BUF
#define LOCK_FILE "hookd.lock"
#define DEFAULT_MAX_FILL 80 /* store_max_fill */

/* One hookd per data directory: an exclusive flock on dir/hookd.lock, held
 * for the store's life. The kernel drops it when the process dies, however
 * it dies, so a crash never leaves the directory locked. */
static int lock_dir(const char *dir, int *fd_out)
{
    char path[PATH_MAX], q[PATH_MAX + 8];
    if (snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE) >= (int)sizeof path) return HK_EINVAL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        hk_log(HK_LOG_ERROR, "store_lock", "path=%s errno=%d", hk_log_quote(path, q, sizeof q),
               errno);
        return HK_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            hk_log(HK_LOG_ERROR, "store_in_use",
                   "dir=%s why=\"another hookd is running on this "
                   "data directory (it holds %s); stop it or choose another data_dir\"",
                   hk_log_quote(dir, q, sizeof q), LOCK_FILE);
            return HK_EBUSY;
        }
        hk_log(HK_LOG_ERROR, "store_lock", "dir=%s errno=%d", hk_log_quote(dir, q, sizeof q), e);
        return HK_EIO;
    }
    *fd_out = fd;
    return 0;
}

/* Opens (creating) the outbox tables and loads the delivery id counter. */
static int open_outbox(hk_store_t *s, MDB_txn *txn)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"deliveries", &s->deliveries},   {"bodies", &s->bodies},
        {"attempts", &s->attempts},       {"due", &s->due},
        {"by_webhook", &s->by_webhook},   {"events", &s->events},
        {"event_times", &s->event_times}, {"quarantine", &s->quarantine},
    };
    int rc;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
        if ((rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi)))
            return hk_store_mdb_err(rc, "dbi_open");

    uint64_t next = 1;
    MDB_val k = hk_store_val(HK_STORE_NEXT_DELIVERY, strlen(HK_STORE_NEXT_DELIVERY)), v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        next = hk_store_be64_get(v.mv_data);
    else if (rc == 0)
        return HK_ECORRUPT;
    else if (rc != MDB_NOTFOUND)
        return hk_store_mdb_err(rc, "meta_get");

    /* The counter is saved with each batch; a record beyond it would mean a
     * lost counter, and ids must never be handed out twice. */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->deliveries, &cur)))
        return hk_store_mdb_err(rc, "cursor_open");
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8 && hk_store_be64_get(k.mv_data) >= next)
        next = hk_store_be64_get(k.mv_data) + 1;
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "cursor_get");
    s->next_delivery_id = next;
    s->prune_cursor = 0;
    return 0;
}

static int open_dbs(hk_store_t *s, MDB_txn *txn, int *fresh, uint32_t *schema_out)
{
    static const char schema_key[] = "schema";
    MDB_val k = hk_store_val(schema_key, sizeof schema_key - 1), v;
    int rc;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)))
        return hk_store_mdb_err(rc, "dbi_open");
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *fresh = 1;
    } else if (rc) {
        return hk_store_mdb_err(rc, "meta_get");
    } else {
        if (v.mv_size != 4) return HK_ECORRUPT;
        uint32_t schema = hk_store_be32_get(v.mv_data);
        /* A newer hookd wrote this; an older one must not touch it. */
        if (schema > SCHEMA_VERSION) {
            hk_log(HK_LOG_ERROR, "store_schema_newer", "schema=%u supported=%d", schema,
                   SCHEMA_VERSION);
            return HK_ESTATE;
        }
        if (schema < 1) return HK_ECORRUPT;
        /* Schema 1 (a body per delivery, a pending table) is migrated once
         * the key is checked (migrate.c). */
        *schema_out = schema;
        *fresh = 0;
    }
    if ((rc = mdb_dbi_open(txn, "webhooks", MDB_CREATE, &s->webhooks)) ||
        (rc = mdb_dbi_open(txn, "names", MDB_CREATE, &s->names)) ||
        (rc = mdb_dbi_open(txn, "match", MDB_CREATE, &s->match)))
        return hk_store_mdb_err(rc, "dbi_open");
    return open_outbox(s, txn);
}

/* Checks the key against the store, or (fresh store) writes the first meta. */
static int init_meta(hk_store_t *s, MDB_txn *txn, int fresh)
{
    static const char check[] = KEYCHECK;
    uint8_t box[sizeof check - 1 + HK_SEAL_OVERHEAD], plain[sizeof check - 1];
    int err;
    if (fresh) {
        uint8_t b[4];
        hk_store_be32_put(b, SCHEMA_VERSION);
        hk_crypto_seal(s->key, (const uint8_t *)check, sizeof check - 1, box);
        if ((err = hk_store_meta_put(s, txn, "schema", b, 4)) ||
            (err = hk_store_meta_put_u64(s, txn, "next_id", 1)) ||
            (err = hk_store_meta_put(s, txn, "keycheck", box, sizeof box)))
            return err;
        return 0;
    }
    MDB_val k = hk_store_val("keycheck", 8), v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc) return rc == MDB_NOTFOUND ? HK_ECORRUPT : hk_store_mdb_err(rc, "meta_get");
    if (v.mv_size != sizeof box || hk_crypto_open(s->key, v.mv_data, v.mv_size, plain) != 0 ||
        memcmp(plain, check, sizeof plain) != 0) {
        hk_log(HK_LOG_ERROR, "store_key_mismatch",
               "why=\"secret.key is not the key this store's "
               "secrets are sealed with\"");
        return HK_ECORRUPT;
    }
    return 0;
}

static int env_new(const char *path, size_t map_bytes, MDB_env **out)
{
    int rc = mdb_env_create(out);
    if (rc) return rc;
    if ((rc = mdb_env_set_maxdbs(*out, MAX_DBS)) ||
        (rc = mdb_env_set_mapsize(*out, map_bytes ? map_bytes : DEFAULT_MAP_BYTES)) ||
        (rc = mdb_env_open(*out, path, MDB_NOTLS, 0600))) {
        mdb_env_close(*out);
        *out = NULL;
    }
    return rc;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A fresh store is made whole before it gets its name: LMDB writes a new
 * file's two meta pages without a sync, so a power cut during a first start
 * could leave a data.mdb that never opens again. Here the environment is
 * created in dir/CREATE_DIR, its first txn (tables, schema, key check)
 * committed and synced, and only then data.mdb renamed into dir. A crash
 * before the rename leaves no store: the next start begins again (with the
 * key file, if it was made). */
#define CREATE_DIR "store.new"
static int create_fresh(const char *dir, size_t map_bytes, int *created)
{
    char tmp[PATH_MAX], from[PATH_MAX], to[PATH_MAX], lock[PATH_MAX];
    hk_store_t *s = NULL;
    MDB_txn *txn = NULL;
    int rc, err, fresh = 0;
    if (snprintf(tmp, sizeof tmp, "%s/%s", dir, CREATE_DIR) >= (int)sizeof tmp ||
        snprintf(from, sizeof from, "%s/data.mdb", tmp) >= (int)sizeof from ||
        snprintf(lock, sizeof lock, "%s/lock.mdb", tmp) >= (int)sizeof lock ||
        snprintf(to, sizeof to, "%s/data.mdb", dir) >= (int)sizeof to)
        return HK_EINVAL;
    if (access(to, F_OK) == 0) return 0; /* not fresh */
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return HK_EIO;
    unlink(from); /* a first start that did not finish */
    unlink(lock);
    if (!(s = calloc(1, sizeof *s))) return HK_ENOMEM;
    if ((rc = env_new(tmp, map_bytes, &s->env))) {
        err = hk_store_mdb_err(rc, "env_open");
        goto out;
    }
    s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
        err = hk_store_mdb_err(rc, "write_begin");
        goto out;
    }
    uint32_t schema;
    if ((err = open_dbs(s, txn, &fresh, &schema))) goto out;
    if ((err = hk_keyfile_load(dir, 1, s->key))) goto out;
    if ((err = init_meta(s, txn, 1))) goto out;
    rc = mdb_txn_commit(txn); /* synced: every page of the file is on disk */
    txn = NULL;
    if (rc) {
        err = hk_store_mdb_err(rc, "create");
        goto out;
    }
    mdb_env_close(s->env);
    s->env = NULL;
    if (rename(from, to) != 0) {
        err = HK_EIO;
        goto out;
    }
    fsync_dir(dir);
    unlink(lock);
    rmdir(tmp);
    *created = 1;
    err = 0;
out:
    if (txn) mdb_txn_abort(txn);
    if (s && s->env) mdb_env_close(s->env);
    if (s) hk_crypto_wipe(s->key, sizeof s->key);
    free(s);
    return err;
}

/* The PENDING deliveries, counted once by a walk of by_webhook's flags;
 * from here on the writer keeps the count (batch.c). */
static int count_pending(hk_store_t *s)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t n = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return hk_store_mdb_err(rc, "read_begin");
    if (!(rc = mdb_cursor_open(txn, s->by_webhook, &cur))) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            n += v.mv_size >= 1 && *(const uint8_t *)v.mv_data;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND) return hk_store_mdb_err(rc, "count_pending");
    atomic_store(&s->a_pending, n);
    return 0;
}

int hk_store_open(const char *dir, size_t map_bytes, hk_store_t **out)
{
    hk_store_t *s = NULL;
    MDB_txn *txn = NULL;
    char q[PATH_MAX + 8];
    int rc, err, fresh = 0, created = 0;

    if (!dir || !*dir) return HK_EINVAL;
    if ((err = hk_crypto_init())) return err;
    if ((err = hk_fs_mkdirs(dir, 0700, 0700))) {
        hk_log(HK_LOG_ERROR, "store_mkdir", "dir=%s errno=%d", hk_log_quote(dir, q, sizeof q),
               errno);
        return err;
    }
    if (!(s = calloc(1, sizeof *s))) return HK_ENOMEM;
    s->lock_fd = -1;
    if ((err = lock_dir(dir, &s->lock_fd))) goto out;
    if ((err = create_fresh(dir, map_bytes, &created))) goto out;

    if ((rc = mdb_env_create(&s->env))) {
        err = hk_store_mdb_err(rc, "env_create");
        goto out;
    }
    /* MDB_NOTLS: reader slots belong to txns, not to the thread, so the
     * loop's cached read txn may sit reset between reads. No MDB_NOSYNC,
     * MDB_NOMETASYNC, MDB_MAPASYNC or MDB_WRITEMAP: every commit is made
     * durable by LMDB itself (data pages synced before the meta page that
     * points at them), so no power cut can leave a meta page without its
     * data; the writer thread pays for it, never the loop. */
    if ((rc = mdb_env_set_maxdbs(s->env, MAX_DBS)) ||
        (rc = mdb_env_set_mapsize(s->env, map_bytes ? map_bytes : DEFAULT_MAP_BYTES)) ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) {
        err = hk_store_mdb_err(rc, "env_open");
        goto out;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* slots left by crashed processes */
    MDB_envinfo ei;
    MDB_stat est;
    mdb_env_info(s->env, &ei); /* the map may be larger than asked: the data's */
    mdb_env_stat(s->env, &est);
    s->map_bytes = ei.me_mapsize;
    s->psize = est.ms_psize;
    s->max_fill = DEFAULT_MAX_FILL;
    s->heal = hk_prune_fill;
    s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
    if (s->max_key >= KEY_BUF) s->max_key = KEY_BUF - 1;

    /* Before the writer starts, this thread is the one writer. */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
        err = hk_store_mdb_err(rc, "write_begin");
        goto out;
    }
    uint32_t schema = SCHEMA_VERSION;
    if ((err = open_dbs(s, txn, &fresh, &schema))) goto out;
    if ((err = hk_keyfile_load(dir, fresh, s->key))) goto out;
    if ((err = init_meta(s, txn, fresh))) goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        err = hk_store_mdb_err(rc, "open");
        goto out;
    }
    if (schema == 1 &&
        (err = hk_store_migrate_v1(s, hk_store_migrate_chunk, hk_store_migrate_max_txns)))
        goto out;
    if ((err = count_pending(s))) goto out;
    if ((err = hk_batch_start(s))) goto out;

    uint64_t n = 0;
    hk_store_usage_t u = {0};
    hk_store_webhook_count(s, &n);
    hk_store_usage(s, &u);
    hk_log(
        HK_LOG_INFO, "store_open",
        "dir=%s schema=%d webhooks=%llu fresh=%d used_bytes=%llu map_bytes=%llu quarantined=%llu",
        hk_log_quote(dir, q, sizeof q), SCHEMA_VERSION, (unsigned long long)n, fresh || created,
        (unsigned long long)u.used, (unsigned long long)u.map, (unsigned long long)u.quarantined);
    if (u.quarantined)
        hk_log(HK_LOG_WARN, "store_quarantine",
               "records=%llu why=\"records that did not decode were set aside; "
               "everything else works (mdb_dump -s quarantine shows them)\"",
               (unsigned long long)u.quarantined);
    s->ready = 1;
    *out = s;
    s = NULL;
out:
    if (txn) mdb_txn_abort(txn);
    hk_store_close(s);
    return err;
}

void hk_store_close(hk_store_t *store)
{
    if (!store) return;
    /* Whatever is still gathered (attempt results, mostly) is kept. */
    hk_batch_stop(store);
    if (store->rtxn) mdb_txn_abort(store->rtxn);
    if (store->env) mdb_env_close(store->env);
    hk_crypto_wipe(store->key, sizeof store->key);
    if (store->lock_fd >= 0) close(store->lock_fd);
    free(store);
}

/* ---- how full ------------------------------------------------------------------ */

void hk_store_set_max_fill(hk_store_t *s, unsigned percent)
{
    if (percent >= 10 && percent <= 99) s->max_fill = percent;
}

int hk_store_usage(hk_store_t *s, hk_store_usage_t *out)
{
    MDB_txn *txn;
    MDB_stat st;
    memset(out, 0, sizeof *out);
    out->map = s->map_bytes;
    hk_store_marks(s, &out->prune, &out->trigger, &out->admin);
    out->refused = atomic_load(&s->a_refused);
    out->pruned_for_space = atomic_load(&s->a_healed);
    int err = hk_batch_read_begin(s, &txn), rc;
    if (err) return err;
    if (hk_batch_in_write(s))
        out->used = s->w_used;
    else
        err = hk_store_used_bytes(s, txn, 0, &out->used);
    if (!err && (rc = mdb_stat(txn, s->quarantine, &st)) == 0)
        out->quarantined = st.ms_entries;
    else if (!err)
        err = hk_store_mdb_err(rc, "stat");
    hk_batch_read_end(s, txn);
    return err;
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

int hk_store_describe(hk_store_t *s, int err, char *buf, size_t n)
{
    hk_store_usage_t u;
    hk_outbox_stats_t st = {0};
    if (err == HK_ENOSPC) {
        snprintf(buf, n,
                 "the disk holding the store is full (no space left on device): nothing of this "
                 "call was written; free space on the disk and retry");
        return 0;
    }
    if (err == HK_EIO) {
        snprintf(buf, n,
                 "the disk holding the store failed a write or a sync (I/O error): nothing of "
                 "this call was written; hookd's log says more, retry later");
        return 0;
    }
    if (err != HK_EFULL) return HK_EINVAL;
    if (hk_store_usage(s, &u) || hk_outbox_stats(s, &st)) {
        snprintf(buf, n, "the delivery store is full");
        return 0;
    }
    unsigned pct = s->max_fill;
    if (u.used + u.map / 64 < u.trigger) {
        /* Not over a mark now: pruning made room since the write was
         * refused (its batch measured the store before the prune), or the
         * write is too large for the room left. */
        snprintf(buf, n,
                 "the delivery store is full (%.1f of %.1f MiB now): this write did not fit in "
                 "the room left when it was tried; pruning may have made room since, so retry; "
                 "refused again, it is too large for the room left: a smaller one may fit, or "
                 "raise store_map_bytes",
                 mib(u.used), mib(u.map));
    } else if (u.used + u.map / 64 >= u.admin) {
        snprintf(buf, n,
                 "the delivery store is full (%.1f of %.1f MiB): webhook creates and updates are "
                 "refused above %u%% of the map and new deliveries above %u%%; deleting webhooks "
                 "and pruning still work (%llu deliveries, %llu pending)",
                 mib(u.used), mib(u.map), (unsigned)(u.admin * 100 / (u.map ? u.map : 1)), pct,
                 (unsigned long long)st.deliveries, (unsigned long long)st.pending);
    } else if (st.pending >= st.deliveries) {
        snprintf(buf, n,
                 "the delivery store is full (%.1f of %.1f MiB): new deliveries are refused above "
                 "%u%% and all %llu deliveries in it are pending (never pruned); they go as they "
                 "are delivered, fail, or their webhook is deleted; webhook changes still work",
                 mib(u.used), mib(u.map), pct, (unsigned long long)st.pending);
    } else {
        snprintf(buf, n,
                 "the delivery store is full (%.1f of %.1f MiB): new deliveries are refused above "
                 "%u%%; %llu finished deliveries are being pruned oldest first (%llu pending are "
                 "kept), retry in a moment",
                 mib(u.used), mib(u.map), pct, (unsigned long long)(st.deliveries - st.pending),
                 (unsigned long long)st.pending);
    }
    return 0;
}
