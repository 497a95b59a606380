/* commit.h -- group commit: the iteration's outbox batch committed, synced off-loop, answered */
#ifndef HK_COMMIT_H
#define HK_COMMIT_H

#include <stdint.h>

#include "core/list.h"
#include "store/store.h"

struct uv_loop_s;

typedef struct hk_commit hk_commit_t;
typedef struct hk_commit_waiter hk_commit_waiter_t;

/* err: 0 when every outbox write made before hk_commit_wait is on disk;
 * HK_EFULL / HK_EIO when the batch holding them was thrown away (nothing of
 * it is written) or the sync failed. */
typedef void (*hk_commit_cb)(hk_commit_waiter_t *w, int err);

/* Embedded in the waiting caller's own struct (get it back with
 * hk_container_of); owned by the caller, used by hk_commit until cb runs. */
struct hk_commit_waiter {
    hk_link_t link; /* hk_commit's: in its waiting or ready list */
    uint64_t gen;
    int err;
    hk_commit_cb cb;
};

/* How it works: the store opens a batch on the first outbox write; at the
 * end of the loop iteration (uv_check) the batch is committed without a
 * sync, and mdb_env_sync runs on the libuv threadpool; when it returns, the
 * waiters of every batch it covered are answered. While a sync runs, the
 * next batch gathers the writes of every iteration meanwhile, so under load
 * one sync serves many calls. A sync starts only when somebody waits:
 * batches nobody waits for (attempt results) are committed before the loop
 * next polls, after the iteration's answers, and synced with the next
 * waiter's batch, or within 50 ms. An idle handle keeps the loop from
 * sleeping in poll while a waited-for batch waits to be committed.
 *
 * Creates the committer and sets itself as the store's outbox hook (one
 * committer per store). Returns 0 or HK_ENOMEM. */
int hk_commit_new(struct uv_loop_s *loop, hk_store_t *store, hk_commit_t **out);

/* Registers w: cb runs once, from the loop (never from inside this call),
 * when the outbox writes made so far are durable or lost. Must not be
 * called after hk_commit_close. */
void hk_commit_wait(hk_commit_t *c, hk_commit_waiter_t *w, hk_commit_cb cb);

/* fn(arg) runs from the loop after a batch commits and after an admin write
 * made deliveries due (a webhook was activated): the moment the scheduler
 * may find new due work. NULL: nobody. */
void hk_commit_set_listener(hk_commit_t *c, void (*fn)(void *arg), void *arg);

typedef struct {
    uint64_t batches; /* committed */
    uint64_t failed;  /* thrown away */
    uint64_t syncs;   /* mdb_env_sync calls run on the threadpool */
    uint64_t waiters; /* answered */
} hk_commit_stats_t;
void hk_commit_stats(const hk_commit_t *c, hk_commit_stats_t *out);

/* Commits what is open, waits for a running sync, syncs the rest, answers
 * every waiter, closes its handles, unhooks from the store, frees c, then
 * calls cb(arg) (may be NULL) from the loop. The store must outlive it. */
void hk_commit_close(hk_commit_t *c, void (*cb)(void *arg), void *arg);

#endif
