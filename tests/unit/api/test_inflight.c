/* test_inflight.c -- the in-flight registry: events by id, and the repeats waiting on each */
#include "api/inflight.h"
#include "unit.h"

#include <stdio.h>

typedef struct {
    hk_inflight_event_t ev;
    char id[32];
} event_t;

typedef struct {
    hk_inflight_waiter_t w;
    int n;
} waiter_t;

static int next_n(hk_inflight_event_t *ev)
{
    hk_inflight_waiter_t *w = hk_inflight_next(ev);
    return w ? hk_container_of(w, waiter_t, w)->n : -1;
}

TEST(add_find_remove)
{
    hk_inflight_t *r = NULL;
    CHECK_INT(hk_inflight_new(&r), 0);
    CHECK_INT(hk_inflight_count(r), 0);
    CHECK_INT(hk_inflight_count(NULL), 0);
    event_t a = {.id = "evt-a"}, b = {.id = "evt-b"};
    CHECK(hk_inflight_find(r, "evt-a") == NULL);
    hk_inflight_add(r, &a.ev, a.id);
    hk_inflight_add(r, &b.ev, b.id);
    CHECK_INT(hk_inflight_count(r), 2);
    CHECK(hk_inflight_find(r, "evt-a") == &a.ev);
    CHECK(hk_inflight_find(r, "evt-b") == &b.ev);
    /* Byte for byte: no case folding, no prefixes. */
    CHECK(hk_inflight_find(r, "EVT-A") == NULL);
    CHECK(hk_inflight_find(r, "evt-") == NULL);
    CHECK(hk_inflight_find(r, "evt-aa") == NULL);
    hk_inflight_remove(r, &a.ev);
    CHECK_INT(hk_inflight_count(r), 1);
    CHECK(hk_inflight_find(r, "evt-a") == NULL);
    CHECK(hk_inflight_find(r, "evt-b") == &b.ev);
    hk_inflight_remove(r, &b.ev);
    CHECK_INT(hk_inflight_count(r), 0);
    hk_inflight_free(r);
    hk_inflight_free(NULL);
}

/* More events than buckets: chains share buckets, and removing from the
 * middle of one leaves the others found. */
TEST(many_events_share_buckets)
{
    enum { N = 5000 };
    static event_t ev[N];
    hk_inflight_t *r = NULL;
    CHECK_INT(hk_inflight_new(&r), 0);
    for (int i = 0; i < N; i++) {
        snprintf(ev[i].id, sizeof ev[i].id, "evt_%d", i);
        hk_inflight_add(r, &ev[i].ev, ev[i].id);
    }
    CHECK_INT(hk_inflight_count(r), N);
    for (int i = 0; i < N; i += 3)
        hk_inflight_remove(r, &ev[i].ev);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "evt_%d", i);
        CHECK(hk_inflight_find(r, id) == (i % 3 == 0 ? NULL : &ev[i].ev));
    }
    for (int i = 0; i < N; i++)
        if (i % 3) hk_inflight_remove(r, &ev[i].ev);
    CHECK_INT(hk_inflight_count(r), 0);
    hk_inflight_free(r);
}

/* Repeats are answered oldest first; one that gives up is skipped, and
 * giving up after being taken is harmless. */
TEST(waiters_in_order)
{
    hk_inflight_t *r = NULL;
    CHECK_INT(hk_inflight_new(&r), 0);
    event_t a = {.id = "evt-a"};
    waiter_t w[4] = {{.n = 0}, {.n = 1}, {.n = 2}, {.n = 3}};
    hk_inflight_add(r, &a.ev, a.id);
    CHECK_INT(next_n(&a.ev), -1);
    for (int i = 0; i < 4; i++)
        hk_inflight_wait(&a.ev, &w[i].w);
    hk_inflight_unwait(&w[2].w);
    hk_inflight_unwait(&w[2].w); /* twice: still harmless */
    CHECK_INT(next_n(&a.ev), 0);
    hk_inflight_unwait(&w[0].w); /* taken already */
    /* Removed from the registry, the event keeps its waiters. */
    hk_inflight_remove(r, &a.ev);
    CHECK(hk_inflight_find(r, "evt-a") == NULL);
    CHECK_INT(next_n(&a.ev), 1);
    CHECK_INT(next_n(&a.ev), 3);
    CHECK_INT(next_n(&a.ev), -1);
    hk_inflight_free(r);
}

/* An id answered and gone may start again: a new event under the same id. */
TEST(same_id_again_after_remove)
{
    hk_inflight_t *r = NULL;
    CHECK_INT(hk_inflight_new(&r), 0);
    event_t a = {.id = "evt-x"}, b = {.id = "evt-x"};
    waiter_t w = {.n = 7};
    hk_inflight_add(r, &a.ev, a.id);
    hk_inflight_wait(&a.ev, &w.w);
    hk_inflight_remove(r, &a.ev);
    hk_inflight_add(r, &b.ev, b.id);
    CHECK(hk_inflight_find(r, "evt-x") == &b.ev);
    CHECK_INT(next_n(&b.ev), -1); /* the old event's waiter is not the new one's */
    CHECK_INT(next_n(&a.ev), 7);
    hk_inflight_remove(r, &b.ev);
    CHECK_INT(hk_inflight_count(r), 0);
    hk_inflight_free(r);
}
