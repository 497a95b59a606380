/* store.h -- hookd's durable state in one LMDB environment: opening and closing it */
#ifndef HK_STORE_H
#define HK_STORE_H

#include <stddef.h>

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

#endif
