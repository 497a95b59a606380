/* store_impl.h -- the store's insides, shared by the modules of server/store only */
#ifndef HK_STORE_IMPL_H
#define HK_STORE_IMPL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "store/batch.h"
#include "store/deliveries.h"
#include "store/store.h"
#include "store/webhooks.h"

/* Nothing outside server/store includes this file: callers see hookd's own
 * types and errors, never LMDB's.
 *
 * Calls go one way, down this list; no module calls one above it:
 *
 *   store.c       open and close: the environment, every table, the counters
 *   migrate.c     a store of schema 1 rewritten as schema 2, at open
 *   webhooks.c    webhook records and their name and match indexes; parks,
 *                 unparks and cancels a webhook's deliveries through due.c
 *   prune.c       deleting old deliveries and event ids
 *   events.c      seen event ids
 *   due.c         the due index, and parking a webhook's deliveries
 *   deliveries.c  delivery records, bodies, attempts, their indexes
 *   record.c      the webhook record at rest, and whether a webhook is active
 *   deferred.c    writes nobody waits for (kept and tried again when their
 *                 batch fails), blocking writes, the due entries writes hold
 *   batch.c       the one writer thread: batches of operations, each in a
 *                 nested txn, committed with LMDB's sync; admin writes
 *   txn.c         LMDB's errors, big-endian keys, read txns, meta, index entries
 *   names.c, keyfile.c   call nothing of the store
 *
 * So the outbox (deliveries, due, events, prune) never calls webhooks.c: it
 * asks record.c whether a webhook is active.
 *
 * On-disk layout, schema 2 (integers big-endian, so that LMDB's default
 * memcmp key order is numeric order). A store of schema 1 (a body per
 * delivery, a pending table) is rewritten as schema 2 when it is opened
 * (migrate.c says how).
 *
 *   meta      "schema"   -> u32           layout version; another one is refused
 *             "next_id"  -> u64           the next webhook id; only ever grows
 *             "keycheck" -> seal(KEYCHECK) proves secret.key belongs to this store
 *             "next_delivery" -> u64      with the newest delivery record's id + 1,
 *                                         whichever is larger, bounds every delivery
 *                                         id handed out; rewritten only by a batch
 *                                         whose newest record does not
 *   webhooks  u64 id -> record (record.c)
 *   names     fold(name) -> u64 id        unique names, case-insensitively (names.c)
 *   match     u8 application | trigger_action | 0x00 | u64 id -> ""
 *             so the webhooks of one (application, trigger action) are one
 *             contiguous key range, in id order
 *   deliveries   u64 id -> u8 DELIVERY_V2 | u64 body key | packed Delivery
 *                (no attempts, no payload)
 *   bodies       u64 body key -> u32 refs | u32 data_len | the notification body
 *                stored once per event: the key is the id of the first delivery
 *                that wrote it, the deliveries of an event (same bytes) name it
 *                and count in refs; it goes with the last of them
 *   attempts     u64 id | u32 seq -> packed Attempt
 *   due          u64 time | u64 id -> ""      PENDING deliveries of active webhooks,
 *                                            minus those whose attempt is in flight
 *   by_webhook   u64 webhook id | u64 id -> u8 pending (1: PENDING, 0: not)
 *                every delivery, for listing, and (flag set) the pending ones,
 *                for parking and resuming: one key order, one table
 *   events       event id -> u64 time | the first answer (opaque bytes)
 *   event_times  u64 time | event id -> ""   for pruning event ids by age
 *
 * New delivery ids and body keys grow: their records are appended (the
 * insert skips the search and fills pages whole). The body is kept apart
 * from the delivery record so that recording an attempt rewrites a hundred
 * bytes, not the payload. A delivery's next_attempt_time always names its
 * due key when it has one.
 */

#define HK_STORE_KEY_BUF 512     /* > LMDB's default max key size (511) */
#define HK_STORE_ACTIVE_CACHE 64 /* webhooks whose active flag is remembered */
#define HK_STORE_CHUNK 64        /* records read per read txn in walks */
#define HK_STORE_NEXT_DELIVERY "next_delivery"
#define HK_DELIVERY_V2 2
#define HK_DELIVERY_HEAD 9 /* u8 HK_DELIVERY_V2 | u64 body key */
#define HK_BODY_HEAD 8     /* u32 refs | u32 data_len */

typedef struct {
    uint64_t id, gen;
    int state; /* -1: no such webhook; 0: inactive; 1: active */
} hk_store_active_t;

#define HK_STORE_HELD_BUCKETS 256

/* A due entry being taken or put back by a write not yet committed: the
 * loop's reads must not hand it out meanwhile. */
typedef struct hk_store_held {
    struct hk_store_held *next;
    uint64_t id;
    unsigned n; /* writes outstanding */
} hk_store_held_t;

/* Who owns what, with the loop and the writer thread at work at once:
 *   fixed after open (anyone reads): env, the dbis, max_key, key
 *   the loop: rtxn (its read txn), gather, n_gather, n_urgent,
 *       next_delivery_id (delivery ids are handed out on the loop: one
 *       counter, so unique; the value at each hand-over goes with the batch
 *       and is stored with it, so never reused), held, events_pending,
 *       failures, stats, hooks
 *   the writer thread: wtxn, w_next_delivery, active_cache, admin_gen,
 *       prune_cursor, w_due_added, w_body (webhook ids come from the meta counter
 *       in the writer's txn: unique and never reused as the txn commits)
 *   mu: queue, finished, busy, stop, f_*: what passes between them. */
struct hk_store {
    MDB_env *env;
    MDB_dbi meta, webhooks, names, match;
    /* The outbox: see the layout above. */
    MDB_dbi deliveries, bodies, attempts, due, by_webhook, events, event_times;
    size_t max_key;
    /* One read txn kept reset between reads: a renew is far cheaper than a
     * begin (no allocation, no reader-table scan). Loop thread only. */
    MDB_txn *rtxn;
    int rtxn_busy;
    uint8_t key[HK_SEAL_KEY_BYTES];
    int ready;   /* opened whole: closing drains the writer */
    int lock_fd; /* flock on <dir>/lock: one hookd per data directory */

    /* Whether a webhook exists and is active, as last read by the writer:
     * every delivery written or attempt recorded asks, and decoding the
     * record each time was a good part of the cost. Entries hold for one
     * admin_gen, which every admin write moves on (at its start and at its
     * end), as does every write or batch that fails, so nothing read before
     * or during one is believed after it. Writer thread only. */
    hk_store_active_t active_cache[HK_STORE_ACTIVE_CACHE];
    uint64_t admin_gen;

    /* ---- the writer (batch.c) ---- */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t work;           /* the writer waits for a batch */
    pthread_cond_t idle;           /* hk_outbox_batch_commit waits for the writer */
    hk_link_t queue;               /* mu: handed over, not started */
    hk_link_t finished;            /* mu: done, not reaped */
    int busy, stop;                /* mu */
    uint64_t q_next_delivery;      /* mu: the delivery counter at the last hand-over */
    uint64_t f_batches, f_failed;  /* mu: finished since the last reap */
    hk_store_write_stats_t f_hist; /* mu: batch sizes and commit times (only those fields) */
    uint64_t w_commit_ns;          /* writer: the last batch's commit time */
    int f_due_added, f_err;        /* mu */
    int f_lost;                    /* mu: LMDB gave the environment up (sticky) */

    hk_link_t gather; /* loop: submitted, not handed over */
    uint64_t n_gather, n_urgent;
    uint64_t next_delivery_id;
    uint64_t batch_failures;
    hk_store_write_stats_t stats;
    hk_store_hooks_t hooks;
    hk_store_held_t *held[HK_STORE_HELD_BUCKETS];
    hk_link_t events_pending;  /* loop: event ids recorded by writes not yet reaped */
    hk_link_t retry;           /* loop: writes nobody waits for whose batch failed */
    size_t n_kept, kept_bytes; /* loop: kept, not yet written or given up */
    struct {
        const char *op;
        size_t n;
    } kept_now[8]; /* loop: kept by the reap running, by op, for its one log line */
    int no_retry;  /* loop: closing: a write whose batch fails is given up */

    MDB_txn *wtxn;            /* writer: the running operation's txn */
    uint64_t w_next_delivery; /* writer: the counter handed over with this batch */
    uint64_t w_body;          /* writer: the body key last written in this batch (0: none) */
    int w_due_added;
    /* The PENDING deliveries (flag set in by_webhook), counted rather than
     * walked for: counted once at open, then moved by every flag change
     * (hk_store_pending_put/_del) of an operation (w_op_pending) that
     * succeeds, of a batch (w_batch_pending) that commits. */
    int64_t w_op_pending, w_batch_pending;
    _Atomic uint64_t a_pending;
    uint64_t prune_cursor; /* writer: the delivery id pruning resumes from */

    /* ---- a full store heals; a bad record is set aside (fill in batch.c) ----
     * Fixed after open: quarantine, map_bytes, psize, heal; max_fill before
     * the first write. The writer measures the bytes in use at each batch's
     * start (w_used) and counts what new deliveries and webhook writes add
     * to it (w_added); the atomics are for anyone's stats. */
    MDB_dbi quarantine;
    uint64_t map_bytes, psize;
    unsigned max_fill; /* percent of the map (store_max_fill) */
    uint64_t w_used, w_added;
    int64_t w_heal_ms;        /* writer: when the last heal ran */
    int64_t w_full_logged_ms; /* writer: when store_full was last logged */
    int w_heal_more;          /* writer: it found something to prune */
    /* prune.c's byte pruning, run by the writer before a batch's operations
     * when the store is over its prune mark (set by store.c: batch.c does
     * not call up the list). */
    int (*heal)(hk_store_t *s, MDB_txn *txn, uint64_t excess, size_t *pruned, int *more);
    _Atomic uint64_t a_used, a_healed, a_refused;
};

static inline MDB_val hk_store_val(const void *data, size_t len)
{
    MDB_val v = {len, (void *)data};
    return v;
}

/* ---- migrate.c ---------------------------------------------------------------- */

/* Brings a store of schema 1 (a body per delivery, a pending table) to
 * schema 2 in place, at open before the writer starts: txns of at most
 * chunk deliveries or index entries, each committed durably with where the
 * next one starts, so a stop part way is carried on by the next open.
 * Returns 0 when done, HK_EBUSY when max_txns (0: no bound) ran out first,
 * or an error (HK_EFULL: the map; raise store_map_bytes). */
int hk_store_migrate_v1(hk_store_t *s, size_t chunk, size_t max_txns);
/* What hk_store_open passes: 4096 and 0, unless a test says otherwise. */
extern size_t hk_store_migrate_chunk, hk_store_migrate_max_txns;

/* ---- txn.c ------------------------------------------------------------------ */

void hk_store_be64_put(uint8_t *p, uint64_t v);
uint64_t hk_store_be64_get(const uint8_t *p);
void hk_store_be32_put(uint8_t *p, uint32_t v);
uint32_t hk_store_be32_get(const uint8_t *p);
int64_t hk_store_now_ms(void);

/* LMDB's result codes become hookd's (HK_E*), logging the unexpected ones. */
int hk_store_mdb_err(int rc, const char *op);

/* A read txn (the cached one when free); end it with hk_store_read_end. */
int hk_store_read_begin(hk_store_t *s, MDB_txn **txn);
void hk_store_read_end(hk_store_t *s, MDB_txn *txn);

/* The u64 meta value name (HK_ECORRUPT when missing or not 8 bytes), and
 * meta puts. */
int hk_store_meta_get_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t *out);
int hk_store_meta_put(hk_store_t *s, MDB_txn *txn, const char *name, const void *data, size_t len);
int hk_store_meta_put_u64(hk_store_t *s, MDB_txn *txn, const char *name, uint64_t value);

/* Index entries keyed a | b (two u64s) with an empty value. A put
 * overwrites; deleting a missing entry is success (already the state
 * wanted). */
void hk_store_key2(uint8_t k[16], uint64_t a, uint64_t b);
int hk_store_idx_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op);
int hk_store_idx_del(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, const char *op);

/* An index entry a | b whose value is the one byte flag (overwrites). */
int hk_store_flag_put(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t b, uint8_t flag,
                      const char *op);

/* by_webhook's entry webhook | delivery, its flag the delivery's PENDING:
 * put (fresh: the entry is new, nothing to read first) or delete, counting
 * the change of the store's pending count (inside a write). */
int hk_store_pending_put(hk_store_t *s, MDB_txn *txn, uint64_t wid, uint64_t id, int pending,
                         int fresh, const char *op);
int hk_store_pending_del(hk_store_t *s, MDB_txn *txn, uint64_t wid, uint64_t id, const char *op);

/* Collects up to max keys' second halves under the 8-byte prefix a of an
 * index (a | b keys), b > after, only those whose flag byte is set when
 * flagged; *done when the range ended. */
int hk_store_idx_range(MDB_txn *txn, MDB_dbi dbi, uint64_t a, uint64_t after, int flagged,
                       uint64_t *out, size_t max, size_t *n, int *done);

/* A Unix ms time as a key half (times before 1970 sort first). */
uint64_t hk_store_time_key(int64_t t);

/* The bytes in use: the pages up to the last one written, less those on
 * LMDB's freelist (read only when the first figure is above floor, as
 * counting walks it). rtxn is a read txn: LMDB lets no write txn open the
 * freelist. */
int hk_store_used_bytes(hk_store_t *s, MDB_txn *rtxn, uint64_t floor, uint64_t *used);

/* The byte marks of the fill policy (store/store.h, hk_store_usage_t). */
void hk_store_marks(const hk_store_t *s, uint64_t *prune, uint64_t *trigger, uint64_t *admin);

/* Sets aside the record key of table dbi (tag names the table in the
 * quarantine), inside a write: its bytes are copied into the quarantine
 * table and it is deleted. Logged. HK_ENOTFOUND when it is gone already. */
int hk_store_quarantine(hk_store_t *s, MDB_txn *txn, MDB_dbi dbi, uint8_t tag, const void *key,
                        size_t klen, const char *why);
#define HK_QUARANTINE_DELIVERY 1
#define HK_QUARANTINE_ATTEMPT 2
#define HK_QUARANTINE_BODY 3

/* ---- batch.c: the writer ---------------------------------------------------- */

/* 1 when the caller runs inside an operation on s's writer thread: the
 * store's write functions then write into its txn. */
int hk_batch_in_write(const hk_store_t *s);

/* The running operation's txn (HK_ESTATE outside one). */
int hk_batch_txn(hk_store_t *s, MDB_txn **txn);

/* A txn for reading: the running operation's inside a write (reads see its
 * writes), else a read txn (what is committed, and so on disk). End it with
 * hk_batch_read_end. */
int hk_batch_read_begin(hk_store_t *s, MDB_txn **txn);
void hk_batch_read_end(hk_store_t *s, MDB_txn *txn);

/* An admin write (webhook create/update/delete) inside a write: the
 * operation's txn, with admin_gen moved on at both ends. end returns err. */
int hk_batch_admin_begin(hk_store_t *s, MDB_txn **txn);
int hk_batch_admin_end(hk_store_t *s, MDB_txn *txn, int err, const char *op);

/* Room for a write that adds bytes (an estimate) inside a write:
 * HK_ROOM_TRIGGER (new deliveries, event ids) below the trigger mark,
 * HK_ROOM_ADMIN (webhook creates and updates) below the admin mark; 0 or
 * HK_EFULL (counted). Writes that free space (deletes, pruning, attempt
 * results) ask nothing: the room above the marks is theirs. 0 outside a
 * write. */
#define HK_ROOM_TRIGGER 1
#define HK_ROOM_ADMIN 2
int hk_batch_room(hk_store_t *s, int kind, uint64_t bytes);

/* Starts the writer thread (open) and stops it after draining (close). */
int hk_batch_start(hk_store_t *s);
void hk_batch_stop(hk_store_t *s);

/* ---- deferred.c: writes nobody waits for, blocking writes, held due entries -------- */

/* A write with no result anyone waits for, from the loop: fn(s, arg) runs
 * inside a lazy operation; then, on the loop, done(s, arg, err) (may be
 * NULL), and arg (bytes long, all it holds) is freed. fn must leave arg
 * whole (free what it holds in done): when its batch fails
 * it is kept and run again later (hk_store_retry), while the kept writes
 * hold less than HK_STORE_KEPT_BYTES; past that, or once it fails on its
 * own, the failure is logged as op and done gets it. Returns 0 or
 * HK_ENOMEM (arg freed, nothing queued). */
#define HK_STORE_KEPT_BYTES (64u << 20)
extern size_t hk_store_kept_max; /* HK_STORE_KEPT_BYTES; tests set less */
int hk_batch_defer(hk_store_t *s, int (*fn)(hk_store_t *s, void *arg), void *arg, size_t bytes,
                   void (*done)(hk_store_t *s, void *arg, int err), const char *op);

/* Logs the writes kept since the last call as one line, by op (the reap
 * calls it once). */
void hk_store_log_kept(hk_store_t *s);

/* fn(s, arg) inside an operation, waited for (hk_store_run): the blocking
 * form of the writes with results, for tests, tools and startup. */
int hk_batch_run_sync(hk_store_t *s, int (*fn)(hk_store_t *s, void *arg), void *arg);

/* The due entries of delivery id being written by the loop's writes (take,
 * put back, attempt): hold adds one, release drops one; held says whether
 * any is outstanding. Loop thread. */
int hk_batch_hold(hk_store_t *s, uint64_t id);
void hk_batch_release(hk_store_t *s, uint64_t id);
int hk_batch_held(const hk_store_t *s, uint64_t id);

/* ---- record.c: the webhook record at rest ------------------------------------ */

/* Splits a record into its packed message and its sealed secret (NULL when
 * none). HK_ECORRUPT when the record is malformed. */
int hk_record_parse(const MDB_val *v, const uint8_t **pb, size_t *pblen, const uint8_t **sealed,
                    size_t *sealedlen);

/* Unpacks the message of a record of webhook id, secret not opened. */
int hk_record_unpack(uint64_t id, const uint8_t *pb, size_t pblen, hk_webhook_t **out);

/* Gives wh (from hk_record_unpack) its secret in clear (nothing when sealed
 * is NULL). HK_ECORRUPT when it does not open. */
int hk_record_attach_secret(const hk_store_t *s, hk_webhook_t *wh, const uint8_t *sealed,
                            size_t len);

/* A whole record of webhook id decoded, secret in clear. */
int hk_record_decode(const hk_store_t *s, uint64_t id, const MDB_val *v, hk_webhook_t **out);

/* Encodes wh (its secret sealed anew, or keep_sealed when wh has none and
 * keep_sealed is given) into a new heap buffer. */
int hk_record_encode(const hk_store_t *s, const hk_webhook_t *wh, const uint8_t *keep_sealed,
                     size_t keep_len, uint8_t **out, size_t *outlen);

/* Whether webhook id exists in txn and is active: 0 with *active set, or
 * HK_ENOTFOUND / HK_ECORRUPT. */
int hk_store_webhook_active_in(hk_store_t *s, MDB_txn *txn, uint64_t id, int *active);

/* ---- prune.c, called by the writer through s->heal ------------------------------ */

/* Deletes finished deliveries oldest first until about excess bytes are
 * freed (at most a chunk a call); *more when more could go. */
int hk_prune_fill(hk_store_t *s, MDB_txn *txn, uint64_t excess, size_t *pruned, int *more);

/* ---- deliveries.c ------------------------------------------------------------- */

/* Reads delivery id's record (no attempts, no payload) and the key of its
 * body (body may be NULL). */
int hk_delivery_rec_get(hk_store_t *s, MDB_txn *txn, uint64_t id, hk_delivery_t **out,
                        uint64_t *body);

/* Unpacks a delivery record read from the deliveries table (body may be
 * NULL). NULL when v is not a record. */
hk_delivery_t *hk_delivery_rec_decode(const MDB_val *v, uint64_t *body);

/* Writes d without its attempts and payload, naming body key body (flags:
 * MDB_NOOVERWRITE, MDB_APPEND); an id written twice is HK_ECORRUPT. */
int hk_delivery_rec_put(hk_store_t *s, MDB_txn *txn, const hk_delivery_t *d, uint64_t body,
                        unsigned flags);

/* Drops one delivery's reference to body key body: the record goes with
 * the last one (a missing body is success). */
int hk_delivery_body_unref(hk_store_t *s, MDB_txn *txn, uint64_t body);

/* ---- due.c, called by webhooks.c ------------------------------------------------ */

/* Keeps the due index in step with a webhook's active flag, inside an admin
 * write txn: park takes the webhook's pending deliveries out of the due
 * index, unpark puts them back; cancel marks them CANCELLED (the webhook is
 * being deleted). *n counts the deliveries touched. */
int hk_outbox_webhook_park(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);
int hk_outbox_webhook_unpark(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);
int hk_outbox_webhook_cancel(hk_store_t *s, MDB_txn *txn, uint64_t webhook_id, size_t *n);

#endif
