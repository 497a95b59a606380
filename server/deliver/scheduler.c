/* scheduler.c -- async delivery: due deliveries attempted, retried on a schedule, log pruned */
#include "deliver/scheduler.h"
#include "deliver/retry.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "deliver/attempt.h"
#include "store/batch.h"
#include "store/deliveries.h"
#include "store/due.h"
#include "store/prune.h"
#include "store/webhooks.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define DEFAULT_IN_FLIGHT 256
#define DEFAULT_PER_WEBHOOK 64 /* well above what one fast receiver needs on loopback */
#define DEFAULT_WAITING 65536
#define LANE_BUCKETS 256
#define NO_FD_PAUSE_MIN_MS 50
#define NO_FD_PAUSE_MAX_MS 2000
#define PICK_MAX 128       /* deliveries taken from the due index at once */
#define BUCKETS 1024       /* in-flight table; ids spread evenly */
#define TIMER_MAX_MS 60000 /* re-check at least this often: the wall clock may jump */
#define FAILED_BATCH_PAUSE_MS 2000
#define PRUNE_FIRST_MS 1000
#define PRUNE_BUSY_MS 10 /* while pruning finds more, in chunks */
#define PRUNE_IDLE_MS 10000
#define PRUNE_BUDGET 256
#define WEBHOOK_CACHE 64 /* decoded webhooks kept, by id modulo this */

/* One webhook's share: its attempts in flight (at most the per-webhook
 * cap) and the due deliveries taken from the index that wait for a slot,
 * oldest first. Exists while either is nonzero. */
typedef struct lane {
    struct lane *hnext; /* bucket chain */
    uint64_t webhook_id;
    uint32_t n_flight;
    uint64_t *wait; /* ring of delivery ids: len of them from head */
    size_t head, len, cap;
    hk_link_t ready; /* in hk_scheduler.ready while len > 0 */
} lane_t;

typedef struct flight {
    hk_scheduler_t *s;
    lane_t *lane;
    struct flight *hnext; /* bucket chain */
    uint64_t id;
    unsigned attempts; /* attempts made before this one */
    int64_t start_ms;
    uint64_t webhook_id;
    char *event_id;
    uint8_t *body;
    size_t body_len;
    hk_http_request_t *req;
} flight_t;

/* A webhook as its attempts need it: decoded, its secret opened and its
 * signing key derived once rather than for every delivery. An entry is
 * used only while the stored record is byte for byte the one it was read
 * from (hk_outbox_webhook_unchanged), so an update or a delete shows at
 * once. */
typedef struct {
    uint64_t id; /* 0: empty */
    uint8_t *stamp;
    size_t stamp_len;
    hk_webhook_t *webhook;
    hk_sign_key_t key;
    int key_ok; /* the secret gave a key (else hk_attempt_start says why) */
} wh_entry_t;

struct hk_scheduler {
    uv_loop_t *loop;
    hk_store_t *store;
    hk_http_t *http;
    uint32_t schedule[32];
    unsigned schedule_len;
    uint32_t retry_after_max_s, max_in_flight, per_webhook, max_waiting;
    uint64_t log_max_age_ms, log_max_count, event_window_ms;

    uv_timer_t timer; /* the next due time, or a kick (0) */
    uv_timer_t prune;
    flight_t *buckets[BUCKETS];
    size_t n_flight;
    wh_entry_t webhooks[WEBHOOK_CACHE];
    lane_t *lanes[LANE_BUCKETS];
    hk_link_t ready; /* lanes with deliveries waiting, next turn first */
    size_t n_ready, n_waiting;
    uint64_t pause_until; /* uv_now: no attempt starts before (no file descriptor) */
    uint32_t pause_ms;
    uint64_t failures_seen; /* hk_outbox_batch_failures at the last pick */
    int started, stopping, closing, handles;
    int pruning; /* a prune write is out: close waits for its answer */
    void (*close_cb)(void *arg);
    void *close_arg;
    hk_scheduler_stats_t stats;
};

/* ---- in flight ------------------------------------------------------------------------ */

static flight_t **bucket(hk_scheduler_t *s, uint64_t id)
{
    return &s->buckets[id % BUCKETS];
}

static int in_flight(uint64_t id, void *arg)
{
    hk_scheduler_t *s = arg;
    for (flight_t *f = *bucket(s, id); f; f = f->hnext)
        if (f->id == id) return 1;
    return 0;
}

static void flight_add(hk_scheduler_t *s, flight_t *f)
{
    flight_t **b = bucket(s, f->id);
    f->hnext = *b;
    *b = f;
    s->n_flight++;
}

static void flight_remove(hk_scheduler_t *s, flight_t *f)
{
    for (flight_t **p = bucket(s, f->id); *p; p = &(*p)->hnext) {
        if (*p == f) {
            *p = f->hnext;
            s->n_flight--;
            return;
        }
    }
}

static void flight_free(flight_t *f)
{
    if (!f) return;
    free(f->event_id);
    free(f->body);
    free(f);
}

/* ---- lanes: per-webhook caps and turns ------------------------------------------------- */

static lane_t **lane_bucket(hk_scheduler_t *s, uint64_t webhook_id)
{
    return &s->lanes[webhook_id % LANE_BUCKETS];
}

static lane_t *lane_find(hk_scheduler_t *s, uint64_t webhook_id)
{
    for (lane_t *l = *lane_bucket(s, webhook_id); l; l = l->hnext)
        if (l->webhook_id == webhook_id) return l;
    return NULL;
}

/* The lane of webhook_id, made if need be; NULL: out of memory. */
static lane_t *lane_get(hk_scheduler_t *s, uint64_t webhook_id)
{
    lane_t *l = lane_find(s, webhook_id);
    if (l || !(l = calloc(1, sizeof *l))) return l;
    l->webhook_id = webhook_id;
    hk_link_init(&l->ready);
    lane_t **b = lane_bucket(s, webhook_id);
    l->hnext = *b;
    *b = l;
    return l;
}

/* Frees l when it holds nothing any more. */
static void lane_release(hk_scheduler_t *s, lane_t *l)
{
    if (l->n_flight || l->len) return;
    for (lane_t **p = lane_bucket(s, l->webhook_id); *p; p = &(*p)->hnext) {
        if (*p == l) {
            *p = l->hnext;
            break;
        }
    }
    free(l->wait);
    free(l);
}

/* Adds delivery id to l's waiting deliveries: last, or first (an attempt
 * put back). Returns 0 or HK_ENOMEM. */
static int lane_push(hk_scheduler_t *s, lane_t *l, uint64_t id, int first)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t *w = malloc(cap * sizeof *w);
        if (!w) return HK_ENOMEM;
        for (size_t i = 0; i < l->len; i++)
            w[i] = l->wait[(l->head + i) % l->cap];
        free(l->wait);
        l->wait = w;
        l->cap = cap;
        l->head = 0;
    }
    if (first) {
        l->head = (l->head + l->cap - 1) % l->cap;
        l->wait[l->head] = id;
    } else {
        l->wait[(l->head + l->len) % l->cap] = id;
    }
    if (l->len++ == 0) {
        hk_link_add(&s->ready, &l->ready);
        s->n_ready++;
    }
    s->n_waiting++;
    return 0;
}

static uint64_t lane_pop(hk_scheduler_t *s, lane_t *l)
{
    uint64_t id = l->wait[l->head];
    l->head = (l->head + 1) % l->cap;
    s->n_waiting--;
    if (--l->len == 0) {
        hk_link_del(&l->ready);
        s->n_ready--;
    }
    return id;
}

/* The due index's skip rule once max_waiting deliveries wait: also pass by
 * the deliveries of webhooks that cannot start one now, which costs a
 * record read each. */
static int skip_held_back(uint64_t id, void *arg)
{
    hk_scheduler_t *s = arg;
    hk_delivery_t *d = NULL;
    if (in_flight(id, s)) return 1;
    if (hk_outbox_delivery_get(s->store, id, 0, &d) != 0) return 0;
    lane_t *l = lane_find(s, d->webhook_id);
    hk_delivery_free(d);
    return l && (l->len || l->n_flight >= s->per_webhook);
}

/* ---- webhooks ------------------------------------------------------------------------- */

static void wh_entry_clear(wh_entry_t *e)
{
    hk_webhook_free(e->webhook);
    free(e->stamp);
    hk_sign_key_wipe(&e->key);
    memset(e, 0, sizeof *e);
}

/* Webhook id, from the cache when the stored record has not changed.
 * NULL when it is gone or cannot be read. */
static const wh_entry_t *webhook_of(hk_scheduler_t *s, uint64_t id)
{
    wh_entry_t *e = &s->webhooks[id % WEBHOOK_CACHE];
    if (e->id == id && hk_outbox_webhook_unchanged(s->store, id, e->stamp, e->stamp_len) == 1)
        return e;
    wh_entry_clear(e);
    /* Stamp and record in a row, with no write between: the stamp is of
     * exactly this record. */
    if (hk_outbox_webhook_stamp(s->store, id, &e->stamp, &e->stamp_len) != 0 ||
        hk_store_webhook_get(s->store, id, &e->webhook) != 0) {
        wh_entry_clear(e);
        return NULL;
    }
    e->key_ok = hk_sign_key(e->webhook->secret_key, &e->key) == 0;
    e->id = id;
    return e;
}

/* ---- timers ----------------------------------------------------------------------------- */

static void maybe_closed(hk_scheduler_t *s);
static void on_prune(uv_timer_t *t);

static void on_timer(uv_timer_t *t);

static void arm(hk_scheduler_t *s, uint64_t ms)
{
    if (s->stopping) return;
    if (ms > TIMER_MAX_MS) ms = TIMER_MAX_MS;
    uv_timer_start(&s->timer, on_timer, ms, 0);
}

void hk_scheduler_wake(hk_scheduler_t *s)
{
    if (s->started) arm(s, 0);
}

/* ---- one attempt ------------------------------------------------------------------------ */

/* Records attempt a of flight f (http_status and retry_after from its
 * answer) and decides what comes next. */
static void conclude(hk_scheduler_t *s, flight_t *f, const hk_attempt_t *a, long retry_after_s)
{
    int64_t now = hk_attempt_now_ms(), next = 0;
    int state, active = 0;
    uint64_t delay = 0;
    int status = (int)a->http_status;

    if (a->outcome == HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED) {
        state = HK_DELIVERY_SUCCEEDED;
    } else if (a->outcome == HOOKD__V1__OUTCOME__OUTCOME_REFUSED) {
        /* hookd's own policy refused the receiver's address: every retry
         * would be refused the same way, so the schedule is not run as if
         * the receiver were down. */
        state = HK_DELIVERY_FAILED;
    } else {
        if (hk_retry_delay_ms(s->schedule, s->schedule_len, f->attempts + 1, status, retry_after_s,
                              s->retry_after_max_s, hk_retry_random(), &delay) == 0) {
            state = HK_DELIVERY_PENDING;
            next = now + (int64_t)delay;
        } else {
            state = HK_DELIVERY_FAILED;
        }
    }
    int err = hk_outbox_attempt_record(s->store, f->id, a, state, next, &active);
    s->stats.attempts++;
    if (state == HK_DELIVERY_SUCCEEDED) s->stats.succeeded++;
    if (state == HK_DELIVERY_FAILED) s->stats.failed++;
    if (state == HK_DELIVERY_PENDING) s->stats.retried++;

    hk_attempt_log(f->id, f->webhook_id, 0, f->attempts + 1, a,
                   state == HK_DELIVERY_PENDING ? (long long)delay : -1LL, err);
    /* 410 Gone: the receiver says the endpoint is no more. The webhook stops
     * matching and its deliveries wait until someone activates it again. */
    if (status == 410 && active) hk_attempt_gone(s->store, f->webhook_id, NULL, NULL);
}

static void on_result(hk_http_request_t *req, const hk_http_result_t *r, void *arg)
{
    (void)req;
    flight_t *f = arg;
    hk_scheduler_t *s = f->s;
    lane_t *lane = f->lane;
    flight_remove(s, f);
    lane->n_flight--;
    if ((r->outcome == HK_OUTCOME_CANCELLED || r->no_fd) && s->stopping) {
        /* hookd is stopping: this attempt never happened as far as the log
         * goes, and the delivery is due at once on the next start. */
        hk_outbox_due_restore(s->store, f->id);
    } else if (r->no_fd) {
        /* hookd could not open a socket: the receiver never saw this, so it
         * is not an attempt. First in its webhook's turn again, after a
         * pause that grows while descriptors stay short (hk_http logs the
         * burst once). */
        s->stats.deferred++;
        if (lane_push(s, lane, f->id, 1) != 0) hk_outbox_due_restore(s->store, f->id);
        /* Many attempts fail at once: the pause grows per pause, not per failure. */
        if (uv_now(s->loop) >= s->pause_until) {
            s->pause_ms = s->pause_ms ? s->pause_ms * 2 : NO_FD_PAUSE_MIN_MS;
            if (s->pause_ms > NO_FD_PAUSE_MAX_MS) s->pause_ms = NO_FD_PAUSE_MAX_MS;
            s->pause_until = uv_now(s->loop) + s->pause_ms;
        }
    } else {
        /* A transfer ended: its descriptor (or its kept-alive connection)
         * may serve the next attempt, so a pause ends. */
        if (r->outcome != HK_OUTCOME_CANCELLED) s->pause_ms = 0, s->pause_until = 0;
        hk_attempt_t a;
        hk_attempt_record_of(r, f->start_ms, &a);
        conclude(s, f, &a, r->retry_after_s);
    }
    lane_release(s, lane);
    flight_free(f);
    if (s->stopping)
        maybe_closed(s);
    else
        arm(s, 0);
}

/* Delivery id, taken from the due index, if it is still to be attempted:
 * gone, finished or parked meanwhile, leaving its due entry taken is the
 * state wanted (cancel and park keep the due index themselves). A delivery
 * that waited in a lane may also have been attempted meanwhile (made due
 * again by an activation while it waited): then the index has it, at the
 * time its record says. NULL: nothing to do. */
static hk_delivery_t *load(hk_scheduler_t *s, uint64_t id, int waited)
{
    hk_delivery_t *d = NULL;
    if (waited && in_flight(id, s)) return NULL;
    if (hk_outbox_delivery_get(s->store, id, 0, &d) != 0) return NULL;
    if (d->state != HK_DELIVERY_PENDING || (waited && d->next_attempt_time > hk_attempt_now_ms())) {
        hk_delivery_free(d);
        return NULL;
    }
    return d;
}

/* Starts an attempt of delivery d (freed here) in its webhook's lane. */
static void start(hk_scheduler_t *s, hk_delivery_t *d, lane_t *lane)
{
    flight_t *f = NULL;
    uint64_t id = d->id;
    size_t data_len;
    int err;

    if (!(f = calloc(1, sizeof *f))) goto retry_later;
    f->s = s;
    f->lane = lane;
    f->id = id;
    f->attempts = d->attempt_count;
    f->webhook_id = d->webhook_id;
    const wh_entry_t *wh = webhook_of(s, d->webhook_id);
    if (!wh || !wh->webhook->active) goto out;
    if (!(f->event_id = strdup(d->event_id))) goto retry_later;
    if (hk_outbox_body_get(s->store, id, &f->body, &f->body_len, &data_len) != 0) goto retry_later;

    hk_attempt_req_t areq = {
        .webhook = wh->webhook,
        .key = wh->key_ok ? &wh->key : NULL,
        .event_id = f->event_id,
        .body = f->body,
        .body_len = f->body_len,
        .max_body_keep = HK_ATTEMPT_LOG_BODY_MAX,
    };
    f->start_ms = hk_attempt_now_ms();
    err = hk_attempt_start(s->http, &areq, on_result, f, &f->req);
    if (err == HK_ENOMEM || err == HK_ESHUTDOWN) goto retry_later;
    if (err) {
        /* A request that cannot be built will not build later either: log
         * it as a failed attempt, so the schedule runs out. */
        hk_attempt_t a;
        hk_attempt_record_failed(err, f->start_ms, &a);
        conclude(s, f, &a, -1);
        goto out;
    }
    flight_add(s, f);
    lane->n_flight++;
    f = NULL;
    goto out;
retry_later:
    hk_outbox_due_restore(s->store, id);
out:
    flight_free(f);
    hk_delivery_free(d);
}

static int slot_free(const hk_scheduler_t *s)
{
    return s->n_flight < s->max_in_flight;
}

/* A delivery just taken from the due index: started now if its webhook has
 * a slot and nothing waiting before it, else it waits for its turn. */
static void dispatch(hk_scheduler_t *s, uint64_t id)
{
    hk_delivery_t *d = load(s, id, 0);
    if (!d) return;
    lane_t *l = lane_get(s, d->webhook_id);
    if (!l) {
        hk_delivery_free(d);
        hk_outbox_due_restore(s->store, id);
        return;
    }
    if (!l->len && l->n_flight < s->per_webhook && slot_free(s)) {
        start(s, d, l);
    } else {
        hk_delivery_free(d);
        if (lane_push(s, l, id, 0) != 0) hk_outbox_due_restore(s->store, id);
    }
    lane_release(s, l);
}

/* Free slots go to the lanes with deliveries waiting, one each in turn,
 * passing by those at their cap. */
static void serve_waiting(hk_scheduler_t *s)
{
    size_t passed = 0; /* lanes in a row that could not start one */
    while (s->n_ready && passed < s->n_ready && slot_free(s)) {
        lane_t *l = hk_container_of(s->ready.next, lane_t, ready);
        hk_link_del(&l->ready); /* to the back: the next lane's turn */
        hk_link_add(&s->ready, &l->ready);
        if (l->n_flight >= s->per_webhook) {
            passed++;
            continue;
        }
        passed = 0;
        hk_delivery_t *d = load(s, lane_pop(s, l), 1);
        if (d) start(s, d, l);
        lane_release(s, l);
    }
}

static void pick(hk_scheduler_t *s)
{
    hk_outbox_due_t due[PICK_MAX];
    size_t n = 0, room;
    int64_t next = INT64_MAX, now = hk_attempt_now_ms();

    if (s->stopping) return;
    uint64_t failures = hk_outbox_batch_failures(s->store);
    if (failures != s->failures_seen) {
        /* A batch was thrown away (store full?): attempt results in it are
         * lost and their deliveries due again. Pause rather than hammer the
         * receivers with repeats while the store cannot keep results. */
        s->failures_seen = failures;
        arm(s, FAILED_BATCH_PAUSE_MS);
        return;
    }
    if (s->pause_until > uv_now(s->loop)) {
        arm(s, s->pause_until - uv_now(s->loop));
        return;
    }
    serve_waiting(s);
    if (!slot_free(s)) return; /* a result frees a slot and picks again */
    /* More than the free slots are taken: those of webhooks at their cap
     * wait in memory, so that a backlog on one webhook never stands in the
     * index before another's due deliveries. */
    int held_back = s->n_waiting >= s->max_waiting;
    room = s->max_in_flight - s->n_flight;
    if (!held_back) room += s->max_waiting - s->n_waiting;
    if (room > PICK_MAX) room = PICK_MAX;
    int err = hk_outbox_due_take(s->store, now, held_back ? skip_held_back : in_flight, s, due,
                                 room, &n, &next);
    if (err) {
        hk_log(HK_LOG_ERROR, "scheduler_pick_failed", "error=\"%s\"", hk_strerror(err));
        arm(s, FAILED_BATCH_PAUSE_MS);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dispatch(s, due[i].id);
    if (n == room && slot_free(s))
        arm(s, 0); /* more may be due than one take holds */
    else if (next != INT64_MAX && slot_free(s))
        arm(s, next > now ? (uint64_t)(next - now) : 0);
}

static void on_timer(uv_timer_t *t)
{
    pick(hk_container_of(t, hk_scheduler_t, timer));
}

/* ---- pruning ------------------------------------------------------------------------------ */

/* Pruning is a store write of its own, answered to the scheduler: the
 * loop asks first (a read) whether there is anything to prune, so an idle
 * hookd commits nothing. */
typedef struct {
    hk_store_write_t w;
    hk_scheduler_t *s;
    int64_t now;
    size_t pruned;
    int more;
} prune_t;

static int prune_run(hk_store_t *store, hk_store_write_t *w)
{
    prune_t *p = hk_container_of(w, prune_t, w);
    hk_scheduler_t *s = p->s;
    return hk_outbox_prune(store, p->now, s->log_max_age_ms, s->log_max_count, s->event_window_ms,
                           PRUNE_BUDGET, &p->pruned, &p->more);
}

static void on_pruned(hk_store_write_t *w, int err)
{
    prune_t *p = hk_container_of(w, prune_t, w);
    hk_scheduler_t *s = p->s;
    if (err) hk_log(HK_LOG_ERROR, "prune_failed", "error=\"%s\"", hk_strerror(err));
    if (!err) s->stats.pruned += p->pruned;
    if (!err && p->pruned) hk_log(HK_LOG_DEBUG, "pruned", "count=%zu more=%d", p->pruned, p->more);
    s->pruning = 0;
    if (!s->stopping)
        uv_timer_start(&s->prune, on_prune, p->more && !err ? PRUNE_BUSY_MS : PRUNE_IDLE_MS, 0);
    free(p);
    maybe_closed(s);
}

static void on_prune(uv_timer_t *t)
{
    hk_scheduler_t *s = hk_container_of(t, hk_scheduler_t, prune);
    int64_t now = hk_attempt_now_ms();
    int err = hk_outbox_prune_needed(s->store, now, s->log_max_age_ms, s->log_max_count,
                                     s->event_window_ms);
    prune_t *p = err > 0 ? calloc(1, sizeof *p) : NULL;
    if (err < 0) hk_log(HK_LOG_ERROR, "prune_failed", "error=\"%s\"", hk_strerror(err));
    if (!p) {
        if (!s->stopping) uv_timer_start(&s->prune, on_prune, PRUNE_IDLE_MS, 0);
        return;
    }
    p->s = s;
    p->now = now;
    p->w.run = prune_run;
    p->w.done = on_pruned;
    p->w.lazy = 1;
    s->pruning = 1;
    hk_store_submit(s->store, &p->w);
}

/* ---- life ---------------------------------------------------------------------------------- */

int hk_scheduler_new(uv_loop_t *loop, hk_store_t *store, hk_http_t *http,
                     const hk_scheduler_opts_t *opts, hk_scheduler_t **out)
{
    if (!opts || opts->schedule_len == 0 || opts->schedule_len > 32) return HK_EINVAL;
    hk_scheduler_t *s = calloc(1, sizeof *s);
    if (!s) return HK_ENOMEM;
    s->loop = loop;
    s->store = store;
    s->http = http;
    memcpy(s->schedule, opts->schedule_ms, opts->schedule_len * sizeof s->schedule[0]);
    s->schedule_len = opts->schedule_len;
    s->retry_after_max_s = opts->retry_after_max_s;
    s->max_in_flight = opts->max_in_flight ? opts->max_in_flight : DEFAULT_IN_FLIGHT;
    s->per_webhook =
        opts->max_in_flight_per_webhook ? opts->max_in_flight_per_webhook : DEFAULT_PER_WEBHOOK;
    s->max_waiting = opts->max_waiting ? opts->max_waiting : DEFAULT_WAITING;
    hk_link_init(&s->ready);
    s->log_max_age_ms = opts->log_max_age_ms;
    s->log_max_count = opts->log_max_count;
    s->event_window_ms = opts->event_window_ms;
    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->prune);
    s->failures_seen = hk_outbox_batch_failures(store);
    *out = s;
    return 0;
}

int hk_scheduler_start(hk_scheduler_t *s, size_t *resumed)
{
    size_t n = 0;
    int err = hk_outbox_resume(s->store, &n);
    if (err) return err;
    if (resumed) *resumed = n;
    s->started = 1;
    uv_timer_start(&s->prune, on_prune, PRUNE_FIRST_MS, 0);
    /* The resumed entries become visible when the batch commits, which
     * wakes the scheduler; a look now finds what was due already. */
    arm(s, 0);
    return 0;
}

void hk_scheduler_stop(hk_scheduler_t *s)
{
    if (s->stopping) return;
    s->stopping = 1;
    uv_timer_stop(&s->timer);
    uv_timer_stop(&s->prune);
    for (size_t i = 0; i < BUCKETS; i++)
        for (flight_t *f = s->buckets[i]; f; f = f->hnext)
            hk_http_request_cancel(f->req);
    /* Those waiting for their turn are due at once on the next start, as
     * the cancelled ones are. */
    while (s->n_ready) {
        lane_t *l = hk_container_of(s->ready.next, lane_t, ready);
        hk_outbox_due_restore(s->store, lane_pop(s, l));
        lane_release(s, l);
    }
}

void hk_scheduler_stats(const hk_scheduler_t *s, hk_scheduler_stats_t *out)
{
    *out = s->stats;
    out->in_flight = s->n_flight;
    out->waiting = s->n_waiting;
}

static void on_closed(uv_handle_t *h)
{
    hk_scheduler_t *s = h->data;
    if (--s->handles > 0) return;
    for (size_t i = 0; i < WEBHOOK_CACHE; i++)
        wh_entry_clear(&s->webhooks[i]);
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;
    free(s);
    if (cb) cb(arg);
}

static void maybe_closed(hk_scheduler_t *s)
{
    if (!s->closing || s->n_flight || s->pruning || s->handles) return;
    s->handles = 2;
    s->timer.data = s->prune.data = s;
    uv_close((uv_handle_t *)&s->timer, on_closed);
    uv_close((uv_handle_t *)&s->prune, on_closed);
}

void hk_scheduler_close(hk_scheduler_t *s, void (*cb)(void *arg), void *arg)
{
    hk_scheduler_stop(s);
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    maybe_closed(s);
}
