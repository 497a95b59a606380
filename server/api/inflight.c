/* inflight.c -- the TriggerEvent calls in flight: a hash of event ids, a waiting list on each */
#include "api/inflight.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define BUCKETS 1024

struct hk_inflight {
    hk_inflight_event_t *buckets[BUCKETS];
    size_t n;
};

int hk_inflight_new(hk_inflight_t **out)
{
    hk_inflight_t *r = calloc(1, sizeof *r);
    if (!r) return HK_ENOMEM;
    *out = r;
    return 0;
}

size_t hk_inflight_count(const hk_inflight_t *r)
{
    return r ? r->n : 0;
}

void hk_inflight_free(hk_inflight_t *r)
{
    free(r);
}

static hk_inflight_event_t **slot(const hk_inflight_t *r, const char *event_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)event_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (hk_inflight_event_t **)&r->buckets[h % BUCKETS];
}

void hk_inflight_add(hk_inflight_t *r, hk_inflight_event_t *ev, const char *event_id)
{
    hk_inflight_event_t **b = slot(r, event_id);
    ev->event_id = event_id;
    hk_link_init(&ev->waiters);
    ev->hnext = *b;
    *b = ev;
    r->n++;
}

hk_inflight_event_t *hk_inflight_find(const hk_inflight_t *r, const char *event_id)
{
    for (hk_inflight_event_t *ev = *slot(r, event_id); ev; ev = ev->hnext)
        if (strcmp(ev->event_id, event_id) == 0) return ev;
    return NULL;
}

void hk_inflight_remove(hk_inflight_t *r, hk_inflight_event_t *ev)
{
    for (hk_inflight_event_t **p = slot(r, ev->event_id); *p; p = &(*p)->hnext) {
        if (*p == ev) {
            *p = ev->hnext;
            ev->hnext = NULL;
            r->n--;
            return;
        }
    }
}

void hk_inflight_wait(hk_inflight_event_t *ev, hk_inflight_waiter_t *w)
{
    hk_link_add(&ev->waiters, &w->link);
}

hk_inflight_waiter_t *hk_inflight_next(hk_inflight_event_t *ev)
{
    if (hk_link_empty(&ev->waiters)) return NULL;
    hk_link_t *l = ev->waiters.next;
    hk_link_del(l);
    return hk_container_of(l, hk_inflight_waiter_t, link);
}

void hk_inflight_unwait(hk_inflight_waiter_t *w)
{
    hk_link_del(&w->link);
}
