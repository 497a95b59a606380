/* deferred.c -- writes nobody waits for: queued from the loop, kept when their batch fails and
 * tried again; blocking writes; the due entries writes hold */
#include "core/error.h"
#include "core/log.h"
#include "store/batch.h"
#include "store/store_impl.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- deferred writes --------------------------------------------------------------------- */

size_t hk_store_kept_max = HK_STORE_KEPT_BYTES;

typedef struct {
    hk_store_write_t w;
    hk_store_t *s;
    int (*fn)(hk_store_t *s, void *arg);
    void *arg;
    void (*done)(hk_store_t *s, void *arg, int err);
    const char *op;
    size_t bytes;
    int kept; /* counted in n_kept and kept_bytes */
} deferred_t;

static int deferred_run(hk_store_t *s, hk_store_write_t *w)
{
    deferred_t *d = hk_container_of(w, deferred_t, w);
    return d->fn(s, d->arg);
}

static void deferred_done(hk_store_write_t *w, int err)
{
    deferred_t *d = hk_container_of(w, deferred_t, w);
    hk_store_t *s = d->s;
    if (w->batch_failed && !s->no_retry &&
        (d->kept || s->kept_bytes + d->bytes <= hk_store_kept_max) && !hk_store_lost(s)) {
        size_t i = 0, slots = sizeof s->kept_now / sizeof s->kept_now[0];
        while (i < slots - 1 && s->kept_now[i].op && s->kept_now[i].op != d->op)
            i++; /* six ops: eight slots do; the last would take any more */
        s->kept_now[i].op = s->kept_now[i].op ? s->kept_now[i].op : d->op;
        s->kept_now[i].n++;
        hk_link_add(&s->retry, &w->link);
        if (!d->kept) {
            d->kept = 1;
            s->n_kept++;
            s->kept_bytes += d->bytes;
        }
        return;
    }
    if (d->kept) {
        s->n_kept--;
        s->kept_bytes -= d->bytes;
    }
    if (err && err != HK_ENOTFOUND)
        hk_log(HK_LOG_WARN, "store_write_failed", "op=%s error=\"%s\"", d->op, hk_strerror(err));
    if (d->done) d->done(d->s, d->arg, err);
    free(d->arg);
    free(d);
}

int hk_batch_defer(hk_store_t *s, int (*fn)(hk_store_t *s, void *arg), void *arg, size_t bytes,
                   void (*done)(hk_store_t *s, void *arg, int err), const char *op)
{
    deferred_t *d = calloc(1, sizeof *d);
    if (!d) {
        free(arg);
        return HK_ENOMEM;
    }
    d->s = s;
    d->fn = fn;
    d->arg = arg;
    d->done = done;
    d->op = op;
    d->bytes = sizeof *d + bytes;
    d->w.run = deferred_run;
    d->w.done = deferred_done;
    d->w.lazy = 1;
    hk_store_submit(s, &d->w);
    return 0;
}

size_t hk_store_retry(hk_store_t *s, int final)
{
    size_t n = 0;
    if (final) s->no_retry = 1;
    while (!hk_link_empty(&s->retry)) {
        hk_store_write_t *w = hk_container_of(s->retry.next, hk_store_write_t, link);
        hk_link_del(&w->link);
        hk_store_submit(s, w);
        n++;
    }
    return n;
}

/* One line for the writes a reap kept, by op. */
void hk_store_log_kept(hk_store_t *s)
{
    char ops[256];
    size_t n = 0, len = 0;
    ops[0] = '\0';
    for (size_t i = 0; i < sizeof s->kept_now / sizeof s->kept_now[0] && s->kept_now[i].op; i++) {
        int w =
            snprintf(ops + len, sizeof ops - len, " %s=%zu", s->kept_now[i].op, s->kept_now[i].n);
        if (w > 0 && (size_t)w < sizeof ops - len) len += (size_t)w;
        n += s->kept_now[i].n;
        s->kept_now[i].op = NULL;
        s->kept_now[i].n = 0;
    }
    if (n)
        hk_log(HK_LOG_WARN, "store_writes_kept",
               "writes=%zu%s kept=%zu kept_bytes=%zu why=\"their batch failed: tried again later\"",
               n, ops, s->n_kept, s->kept_bytes);
}

/* ---- blocking writes --------------------------------------------------------------------- */

typedef struct {
    hk_store_write_t w;
    int (*fn)(hk_store_t *s, void *arg);
    void *arg;
} sync_op_t;

static int sync_run(hk_store_t *s, hk_store_write_t *w)
{
    sync_op_t *o = hk_container_of(w, sync_op_t, w);
    return o->fn(s, o->arg);
}

int hk_batch_run_sync(hk_store_t *s, int (*fn)(hk_store_t *s, void *arg), void *arg)
{
    if (hk_batch_in_write(s)) return fn(s, arg); /* already inside a write: part of it */
    sync_op_t o = {.w = {.run = sync_run}, .fn = fn, .arg = arg};
    return hk_store_run(s, &o.w);
}

/* ---- held due entries -------------------------------------------------------------------- */

static hk_store_held_t **held_slot(hk_store_t *s, uint64_t id)
{
    hk_store_held_t **p = &s->held[id % HK_STORE_HELD_BUCKETS];
    while (*p && (*p)->id != id)
        p = &(*p)->next;
    return p;
}

int hk_batch_hold(hk_store_t *s, uint64_t id)
{
    hk_store_held_t **p = held_slot(s, id);
    if (!*p) {
        if (!(*p = calloc(1, sizeof **p))) return HK_ENOMEM;
        (*p)->id = id;
    }
    (*p)->n++;
    return 0;
}

void hk_batch_release(hk_store_t *s, uint64_t id)
{
    hk_store_held_t **p = held_slot(s, id), *h = *p;
    if (!h || --h->n) return;
    *p = h->next;
    free(h);
}

int hk_batch_held(const hk_store_t *s, uint64_t id)
{
    for (const hk_store_held_t *h = s->held[id % HK_STORE_HELD_BUCKETS]; h; h = h->next)
        if (h->id == id) return 1;
    return 0;
}
