/* batch.h -- writes: operations the store's one writer thread applies in batches, durably */
#ifndef HK_STORE_BATCH_H
#define HK_STORE_BATCH_H

#include <stdint.h>

#include "core/list.h"
#include "store/store.h"

/* Every write to the store is an operation (hk_store_write_t) run by the
 * store's one writer thread. The loop submits operations; they gather until
 * they are handed to the writer (hk_store_flush), which runs a whole batch
 * in one LMDB write txn: begin, each operation in a nested txn of its own,
 * commit with LMDB's own sync (the environment is never opened with
 * MDB_NOSYNC). When that commit returns, the batch is finished: the writer
 * tells the loop (hooks.finished), and hk_store_reap, on the loop, runs each
 * operation's callback. Meanwhile the loop goes on reading (read txns see
 * every finished commit, which is on disk already) and gathering the next
 * batch. So many events share one commit, and the loop never waits for the
 * disk.
 *
 * An operation that fails (name taken, not found, map full) throws away
 * what it wrote and nothing else: its callback gets its error, the other
 * operations of the batch commit. A batch whose commit fails (the map or
 * the disk full when the commit writes, an I/O error, a failed sync) is
 * logged and none of it is written: every callback gets the error
 * (HK_EFULL, HK_EIO), never 0; the writes nobody waits for that
 * hk_batch_defer made are kept instead, to be tried again (hk_store_retry).
 *
 * Operations nobody waits for (lazy: attempt results, taken due entries,
 * logged synchronous deliveries) do not start a batch of their own: they
 * ride with the next batch somebody waits for, or go when the loop says so
 * (hk_store_flush with lazy). */

typedef struct hk_store_write hk_store_write_t;

/* Runs on the writer thread, inside the operation's own nested txn: it may
 * call the store's write functions (they then write into that txn: see
 * "inside a write" in each header) and its reads (which see the txn). It
 * must not touch what the loop uses meanwhile. Nonzero throws its writes
 * away and is the operation's error. */
typedef int (*hk_store_write_fn)(hk_store_t *store, hk_store_write_t *w);

/* Runs on the loop, from hk_store_reap, once: err is the operation's own
 * error, or its batch's when the commit failed. */
typedef void (*hk_store_write_cb)(hk_store_write_t *w, int err);

/* Embedded in the caller's own struct (hk_container_of gets it back);
 * owned by the caller, used by the store from submit until done runs. */
struct hk_store_write {
    hk_link_t link; /* the store's */
    hk_store_write_fn run;
    hk_store_write_cb done; /* NULL: nobody to tell */
    int lazy;               /* nobody waits: rides with the next batch */
    int err;                /* the store's */
    int batch_failed;       /* the store's: err is the batch's, not the operation's */
};

/* Queues w for the writer (loop thread). Never runs a callback from here. */
void hk_store_submit(hk_store_t *store, hk_store_write_t *w);

/* Queues an operation (like hk_store_submit) and waits until its batch is
 * finished, reaping (callbacks of other operations may run from here).
 * Returns the operation's error. Blocks on the disk: for tests, tools and
 * startup, never for the running loop. */
int hk_store_run(hk_store_t *store, hk_store_write_t *w);

/* What the loop side hears. gathered runs on the loop, from
 * hk_store_submit, when the first operation of a new batch was queued, and
 * when the first one waited for was (hand it over at the end of the
 * iteration). finished runs on the writer
 * thread when a batch is done: it may only wake the loop (uv_async_send),
 * which then calls hk_store_reap. Either may be NULL. */
typedef struct {
    void (*gathered)(void *arg);
    void (*finished)(void *arg);
    void *arg;
} hk_store_hooks_t;
void hk_store_set_hooks(hk_store_t *store, const hk_store_hooks_t *hooks);

/* Hands the gathered operations to the writer (loop thread) when one of
 * them is waited for, or when lazy is set. Returns 1 when lazy operations
 * stay gathered (flush them later), else 0. */
int hk_store_flush(hk_store_t *store, int lazy);

/* What hk_store_reap found. */
typedef struct {
    uint64_t batches; /* batches finished, committed or not */
    uint64_t failed;  /* batches whose commit failed */
    uint64_t writes;  /* operations answered */
    int due_added;    /* a committed write made deliveries due (a webhook activated) */
    int lost;         /* LMDB gave the environment up: every txn fails until it is opened again */
    int retrying;     /* writes nobody waits for are kept, to be tried again (hk_store_retry) */
} hk_store_reaped_t;

/* Runs the callbacks of the operations of every finished batch, in the
 * order they were submitted (loop thread). out may be NULL. */
void hk_store_reap(hk_store_t *store, hk_store_reaped_t *out);

/* A write nobody waits for (an attempt's result, a taken or restored due
 * entry, an event id) whose batch failed to commit (the disk full or
 * failing) is not given up: it is kept (up to HK_STORE_KEPT_BYTES of them;
 * past that it is logged and given up, and a delivery it held waits for the
 * next start), and this submits every kept one again (lazy; the caller
 * flushes). Until then what it holds stays held (a
 * taken delivery is not handed out twice), and its result is not lost to a
 * passing fault. With final set (closing) a write whose batch fails from
 * now on is given up (logged); the next start resumes from the store.
 * Returns how many were submitted. Loop thread. */
size_t hk_store_retry(hk_store_t *store, int final);

/* 1 once LMDB gave the environment up (hk_store_reaped_t.lost), as far as
 * the batches finished so far tell (loop thread). */
int hk_store_lost(hk_store_t *store);

/* 1 while writes handed to the writer are not yet reaped (loop thread). */
int hk_store_outstanding(hk_store_t *store);

/* Hands over everything gathered, waits for the writer to finish it all,
 * and reaps. Returns 0, or the error of a batch whose commit failed (the
 * operations' own errors go to their callbacks). Blocks: tests, close. */
int hk_outbox_batch_commit(hk_store_t *store);

/* The number of operations gathered and not yet handed to the writer. */
uint64_t hk_outbox_batch_gen(const hk_store_t *store);

/* How many batches failed to commit so far (a writer whose results were
 * lost learns it here). */
uint64_t hk_outbox_batch_failures(const hk_store_t *store);

/* Histogram bounds of the group commit: operations per batch, and how long
 * one commit (its writes, LMDB's data sync and the meta page's) took. */
#define HK_STORE_BATCH_BUCKETS 10
#define HK_STORE_COMMIT_BUCKETS 10
extern const uint32_t hk_store_batch_bounds[HK_STORE_BATCH_BUCKETS];      /* operations */
extern const uint32_t hk_store_commit_bounds_us[HK_STORE_COMMIT_BUCKETS]; /* microseconds */

/* Counts for logs, benchmarks and /metrics. */
typedef struct {
    uint64_t batches;      /* committed (each one synced by LMDB) */
    uint64_t failed;       /* commits that failed */
    uint64_t writes;       /* operations answered */
    uint64_t write_failed; /* operations that failed on their own */
    uint64_t due_added;    /* reaps that found deliveries made due by a write */
    uint64_t kept;         /* writes nobody waits for, kept after their batch failed: now */
    /* Per batch the writer ran: its operations (bucket i counts batches of at
     * most hk_store_batch_bounds[i], the last one the rest) and its commit time. */
    uint64_t batch_ops_sum;
    uint64_t batch_buckets[HK_STORE_BATCH_BUCKETS + 1];
    uint64_t commit_ns_sum;
    uint64_t commit_buckets[HK_STORE_COMMIT_BUCKETS + 1];
} hk_store_write_stats_t;
/* A snapshot (loop thread). */
void hk_store_write_stats(hk_store_t *store, hk_store_write_stats_t *out);

#endif
