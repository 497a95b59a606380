/* webhooks.h -- webhooks in the store: records, their name and match indexes, sealed secrets */
#ifndef HK_STORE_WEBHOOKS_H
#define HK_STORE_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/v1/webhooks.pb-c.h"
#include "store/store.h"

/* A webhook record is the API's own message. Records handed out by the store
 * are heap copies the caller owns (free with hk_webhook_free) and carry the
 * secret key in clear; at rest the secret is sealed (secretbox) under the key
 * file "<dir>/secret.key" (created 0600 on first open). */
typedef Hookd__V1__Webhook hk_webhook_t;

/* Creates a webhook from wh: assigns wh->id (never reused) and sets
 * wh->create_time / update_time (Unix ms) in place. The caller has validated
 * every field. Returns 0; HK_EEXIST when the name is taken (compared
 * case-insensitively); HK_EFULL when the map (or the disk) is full (nothing
 * is written);
 * HK_EINVAL when name or trigger_action is empty or too long for an index key
 * or application is not 1-255; HK_EIO. Inside a write (store/batch.h) it
 * writes into that write's txn; from elsewhere it runs as a write of its
 * own and waits for its commit (tests, tools: never the running loop). The
 * same holds for update and delete. On failure wh is left as it was.
 *
 * Names compare case-insensitively by Unicode simple case folding of the
 * ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and Armenian blocks;
 * other characters (and other normalization forms) compare byte for byte. */
int hk_store_webhook_create(hk_store_t *store, hk_webhook_t *wh);

/* Looks a webhook up by id, or by name (case-insensitively).
 * Returns 0 with *out set, HK_ENOTFOUND, HK_ECORRUPT or HK_ENOMEM. */
int hk_store_webhook_get(hk_store_t *store, uint64_t id, hk_webhook_t **out);
int hk_store_webhook_find(hk_store_t *store, const char *name, hk_webhook_t **out);

/* Replaces the webhook wh->id with wh (create_time kept from the stored
 * record, update_time set in place), moving its name and match index entries.
 * An empty (or NULL) wh->secret_key keeps the stored secret. Renaming to
 * another letter case of the same name is allowed. Deactivating parks the
 * webhook's pending deliveries (out of the due index), activating puts them
 * back (hk_store_reap reports due_added), in the same txn.
 * Returns 0, HK_ENOTFOUND, HK_EEXIST (the new name belongs to another
 * webhook), HK_EFULL, HK_EINVAL (as for create), HK_EIO. */
int hk_store_webhook_update(hk_store_t *store, hk_webhook_t *wh);

/* Deletes webhook id and its index entries, and cancels its pending
 * deliveries in the same txn. When old is not NULL it gets the record as it
 * was. Returns 0, HK_ENOTFOUND, HK_EIO. */
int hk_store_webhook_delete(hk_store_t *store, uint64_t id, hk_webhook_t **old);

/* Visitors get ownership of each record; return nonzero to stop the walk.
 * Records are read in chunks and no store transaction is open while a
 * visitor runs, so a visitor may call any store function, writes included. */
typedef int (*hk_webhook_visit_fn)(hk_webhook_t *wh, void *arg);

/* Walks webhooks with id > after_id in ascending id order. application (0:
 * any) and trigger_action (NULL: any) filter the walk; with both set the walk
 * uses the match index. Returns 0 (also when a visitor stopped the walk)
 * or HK_ECORRUPT, HK_ENOMEM, HK_EIO; visitors may have run before an error. */
int hk_store_webhook_list(hk_store_t *store, uint64_t after_id, int application,
                          const char *trigger_action, hk_webhook_visit_fn visit, void *arg);

/* Walks the webhooks configured for (application, trigger_action), active or
 * not, in id order: an index lookup whose cost does not grow with unrelated
 * webhooks. */
int hk_store_webhook_match(hk_store_t *store, int application, const char *trigger_action,
                           hk_webhook_visit_fn visit, void *arg);

/* hk_store_webhook_match without the secrets: every record's secret_key is
 * empty. Opening a secret is much of what decoding a record costs, and
 * queuing a delivery does not need it (its attempt reads the webhook anew). */
int hk_store_webhook_match_bare(hk_store_t *store, int application, const char *trigger_action,
                                hk_webhook_visit_fn visit, void *arg);

/* Number of webhooks stored. */
int hk_store_webhook_count(hk_store_t *store, uint64_t *out);

/* Frees a record handed out by the store (NULL is fine), wiping its secret. */
void hk_webhook_free(hk_webhook_t *wh);

/* Replaces wh->secret_key with a heap copy of secret (NULL: empty), wiping
 * and freeing the old one: the way to change the secret of a record handed
 * out by the store (e.g. to mask it) so that hk_webhook_free stays right.
 * Returns 0 or HK_ENOMEM (wh unchanged). */
int hk_webhook_set_secret(hk_webhook_t *wh, const char *secret);

/* ---- webhook stamps (for a cache of decoded webhooks) -------------------------------- */

/* A heap copy of webhook id's stored record as opaque bytes (*stamp, *len;
 * the caller frees it), to ask hk_outbox_webhook_unchanged later whether
 * the webhook is still exactly what hk_store_webhook_get gave right before
 * or after (no store write between). Returns 0, HK_ENOTFOUND, HK_ENOMEM or
 * a read error. */
int hk_outbox_webhook_stamp(hk_store_t *store, uint64_t id, uint8_t **stamp, size_t *len);

/* 1 when webhook id's stored record is byte for byte the one stamp was
 * taken of (nothing about it changed: a new secret is sealed afresh, an
 * update sets update_time), 0 when it changed or is gone, or a read error.
 * Decodes nothing and opens no secret. */
int hk_outbox_webhook_unchanged(hk_store_t *store, uint64_t id, const uint8_t *stamp, size_t len);

#endif
