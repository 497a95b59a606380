/* storetest.h -- what the store's unit tests share: stores, webhooks, deliveries */
#ifndef HK_STORETEST_H
#define HK_STORETEST_H

#include <lmdb.h> /* the tests of the store may look behind its back */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/batch.h"
#include "store/deliveries.h"
#include "store/due.h"
#include "store/events.h"
#include "store/prune.h"
#include "store/store.h"
#include "store/webhooks.h"

#define SMALL_MAP (16u << 20)
#define PENDING HK_DELIVERY_PENDING
#define DATA_LEN 7 /* {"a":1}, the data of BODY */

extern const char *const SECRET; /* every webhook's secret unless a test says otherwise */
/* A notification body whose data (the last DATA_LEN bytes before the brace) is {"a":1}. */
#define BODY "{\"id\":\"evt_1\",\"type\":\"AccountUpdated\",\"data\":{\"a\":1}}"

/* ---- webhooks ---------------------------------------------------------------------- */

/* A webhook (application app, trigger action action, secret SECRET, active)
 * pointing at the caller's strings. */
hk_webhook_t hook(const char *name, int app, const char *action);

/* Creates hook(name, app, action); *id (may be NULL) gets its id. Returns
 * what hk_store_webhook_create did. */
int create(hk_store_t *s, const char *name, int app, const char *action, uint64_t *id);

/* What a webhook walk saw: ids in order; bad when a record was out of order,
 * did not pass the filter (app, action) or lacked SECRET. Stops at stop_at. */
struct collect {
    uint64_t ids[512];
    size_t n, stop_at;
    int bad;
    int app;
    const char *action;
};
int collect_fn(hk_webhook_t *wh, void *arg);

extern const char *const actions[3]; /* "AccountUpdated", "BookingCreated", "Account" */

/* 150 webhooks: id i has application 1 + i % 2 and action actions[i % 3].
 * 0 or -1. */
int fill(hk_store_t *s);

/* ---- files --------------------------------------------------------------------------- */

/* dir/name in one of four static buffers. */
char *path_in(const char *dir, const char *name);

/* The whole of a file, in a heap buffer (NULL: could not open). */
char *slurp(const char *path, size_t *len);

/* Replaces path with len bytes of data, mode mode. 0 or -1. */
int write_file(const char *path, const void *data, size_t len, mode_t mode);

/* Opens the environment behind the store's back (the store closed), with
 * a write txn and table db open. 0 or -1. */
int raw_open(const char *dir, MDB_env **env, MDB_txn **txn, const char *db, MDB_dbi *dbi);

/* Overwrites delivery id's record behind the store's back (the store
 * closed) with bytes that do not decode. 0 or -1. */
int corrupt_delivery(const char *dir, uint64_t id);

/* ---- the outbox ------------------------------------------------------------------------ */

/* What the hooks of a store from open_store heard: batches begun gathering
 * (opened) and batches the writer finished (done). */
struct heard {
    int opened, done;
};
extern struct heard heard;

/* Opens the store in dir, clears heard and sets the hooks that fill it.
 * NULL when the open failed. */
hk_store_t *open_store(const char *dir, size_t map);

/* How many reaps so far found deliveries made due by a write. */
uint64_t due_added(hk_store_t *s);

/* Creates webhook name (application 1, "AccountUpdated", asynchronous)
 * active or not; its id, or 0. */
uint64_t webhook(hk_store_t *s, const char *name, int active);

/* Sets webhook id's active flag by an update. */
int set_active(hk_store_t *s, uint64_t id, int active);

/* Puts a delivery of webhook wid in state, due at next, created at
 * created, with BODY; its id, or 0. */
uint64_t put(hk_store_t *s, uint64_t wid, int state, int64_t next, int64_t created);

/* An attempt with outcome and HTTP status (error "HTTP 500" unless 200). */
hk_attempt_t attempt(int outcome, int status);

/* hk_outbox_due_take with no skip: how many were taken (999 on error). */
size_t take_all(hk_store_t *s, int64_t now, hk_outbox_due_t *out, size_t max, int64_t *next);

/* hk_outbox_delivery_put and hk_outbox_attempt_record inside a write of
 * their own, waited for: their own error comes back (from the loop they
 * would be written later, their errors logged). */
int write_put(hk_store_t *s, const hk_delivery_t *d, const uint8_t *body, size_t len,
              size_t data_len, const hk_attempt_t *a);
int write_attempt(hk_store_t *s, uint64_t id, const hk_attempt_t *a, int state, int64_t next,
                  int *active);

/* Delivery id's state, or -1 when it cannot be read. */
int state_of(hk_store_t *s, uint64_t id);

#endif
