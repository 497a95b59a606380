/* store.h -- hookd's durable state in one LMDB environment: opening and closing it */
#ifndef HK_STORE_H
#define HK_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The store's modules, each with its own header:
 *   store/webhooks.h    webhooks, their name and match indexes, sealed secrets
 *   store/deliveries.h  deliveries and their attempts (the outbox)
 *   store/due.h         which deliveries are due, and resuming after a restart
 *   store/events.h      seen event ids (idempotency)
 *   store/prune.h       deleting old deliveries and event ids
 *   store/batch.h       writes: operations the store's writer thread commits
 *
 * A store is used by one thread (the loop's) and its own writer thread
 * (store/batch.h): reads run on the calling thread from read txns and see
 * only committed (so durable) data; writes are operations the writer runs,
 * answered from the loop when their commit returned. A second store on a
 * data directory in use (another hookd) is refused. */
typedef struct hk_store hk_store_t;

/* Opens (creating when missing) the environment in dir (created 0700 when
 * missing) with a map of map_bytes (0: 1 GiB; never less than the data
 * already there). Checks the schema version: a store of another schema
 * (a newer one, or schema 1: a body per delivery, before hookd stored each
 * event's body once) is refused with HK_ESTATE (logged store_schema_newer
 * or store_schema_older), and so is a key file that is not
 * a regular file of mode 0600 (or stricter), or that is missing while the
 * store exists; a key file of the wrong size or that does not open this
 * store's secrets is HK_ECORRUPT. dir/hookd.lock is locked (flock) for the
 * store's life: HK_EBUSY (logged store_in_use) when another process holds
 * it. Starts the writer thread. Returns 0, HK_EIO, HK_ESTATE, HK_ECORRUPT,
 * HK_EBUSY, HK_EINVAL (dir empty or too long) or HK_ENOMEM. */
int hk_store_open(const char *dir, size_t map_bytes, hk_store_t **out);

/* Commits what is still gathered, stops the writer, closes (NULL is fine). */
void hk_store_close(hk_store_t *store);

/* ---- how full the store is (a full store heals) ----------------------------
 *
 * The store is bounded by bytes as well as by the delivery log's age and
 * count. The bytes in use are LMDB's: the pages up to the last one written
 * less those on its freelist. Three marks below the map's size:
 *   prune    (7/8 of trigger): above it the writer deletes finished
 *            deliveries oldest first, ahead of each batch, until below it.
 *            PENDING deliveries are never pruned: when only they remain,
 *            the store stays full until they are delivered or fail, or
 *            their webhook is deleted (which cancels them: then they go).
 *   trigger  (store_max_fill, 80 % of the map): new deliveries and event
 *            ids (TriggerEvent, Redeliver, the log of synchronous ones) are
 *            refused above it with HK_EFULL;
 *   admin    (half way from trigger to the map): webhook creates and
 *            updates are refused above it.
 * What frees space (deleting a webhook, pruning, attempt results) asks for
 * nothing and has the room above the marks: a delete succeeds on a store
 * full of triggers. */
typedef struct {
    uint64_t used, map;             /* bytes */
    uint64_t prune, trigger, admin; /* the marks, bytes */
    uint64_t refused;               /* writes refused for room so far */
    uint64_t pruned_for_space;      /* deliveries pruned by bytes so far */
    uint64_t quarantined;           /* records set aside (the quarantine table) */
} hk_store_usage_t;

/* Fills out from a read (loop thread). Returns 0 or a read error. */
int hk_store_usage(hk_store_t *store, hk_store_usage_t *out);

/* Sets store_max_fill (percent of the map, 10-99; others are ignored).
 * Call before the first write. */
void hk_store_set_max_fill(hk_store_t *store, unsigned percent);

/* What a caller is told when a store write failed with err: for HK_EFULL
 * how full the store is and what frees it ("the delivery store is full (6.4
 * of 8.0 MiB): ..."), for HK_ENOSPC and HK_EIO what the disk did. Writes
 * it into buf (n bytes) and returns 0; HK_EINVAL (buf untouched) for other
 * errors. Loop thread. */
int hk_store_describe(hk_store_t *store, int err, char *buf, size_t n);

#endif
