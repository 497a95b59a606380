/* commit.h -- the loop side of the store's writer: batches handed over, answers reaped */
#ifndef HK_COMMIT_H
#define HK_COMMIT_H

#include <stdint.h>

#include "store/store.h"

struct uv_loop_s;

typedef struct hk_commit hk_commit_t;

/* How it works: store writes are operations (store/batch.h) that gather on
 * the loop. At the end of a loop iteration (uv_check) the committer hands
 * the gathered batch to the store's writer thread when somebody waits for
 * one of its operations; the writer runs the whole batch in one txn and
 * commits it with LMDB's own sync while the loop goes on (reading, and
 * gathering the next batch, which the writer takes as one when it is done
 * with this one: group commit). When a commit returns, the writer wakes the
 * loop (uv_async) and the operations' callbacks run there. Operations
 * nobody waits for (attempt results, taken due entries) ride with the next
 * batch somebody waits for, or go within 50 ms: a commit of their own only
 * when nothing else comes.
 *
 * Creates the committer and sets itself as the store's hooks (one
 * committer per store). Returns 0 or HK_ENOMEM. */
int hk_commit_new(struct uv_loop_s *loop, hk_store_t *store, hk_commit_t **out);

/* What the committer tells, from the loop. committed: after batches commit
 * (and after a write made deliveries due: a webhook was activated), the
 * moment the scheduler may find new due work. lost: once, when LMDB gave
 * the environment up after a failed write of its meta page; every read and
 * write fails from then on, until the store is opened again. Either may be
 * NULL; l NULL: nobody. */
typedef struct {
    void (*committed)(void *arg);
    void (*lost)(void *arg);
    void *arg;
} hk_commit_listener_t;
void hk_commit_set_listener(hk_commit_t *c, const hk_commit_listener_t *l);

typedef struct {
    uint64_t batches; /* committed, each made durable by LMDB's sync */
    uint64_t failed;  /* batches whose commit failed (nothing of them written) */
    uint64_t syncs;   /* commits that synced: one per committed batch */
    uint64_t waiters; /* operations answered */
} hk_commit_stats_t;
void hk_commit_stats(const hk_commit_t *c, hk_commit_stats_t *out);

/* Hands everything gathered to the writer, waits for it (the one place the
 * loop waits for the disk: hookd is stopping), answers every operation,
 * unhooks from the store, closes its handles, frees c, then calls cb(arg)
 * (may be NULL) from the loop. The store must outlive it. */
void hk_commit_close(hk_commit_t *c, void (*cb)(void *arg), void *arg);

#endif
