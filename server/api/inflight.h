/* inflight.h -- the TriggerEvent calls in flight, by event id, and the repeats waiting on each */
#ifndef HK_INFLIGHT_H
#define HK_INFLIGHT_H

#include <stddef.h>

#include "core/list.h"

/* The events whose TriggerEvent has not been answered yet, so that a repeat
 * of an event id arriving meanwhile waits for the first one's answer
 * (idempotency covers the window before the answer is recorded too). One
 * per daemon (hk_api_t.inflight). Nothing here knows about calls: events
 * and waiters are embedded in their owners' structs (get them back with
 * hk_container_of), which own them and free them. */
typedef struct hk_inflight hk_inflight_t;

/* A repeat waiting for an event's answer. */
typedef struct hk_inflight_waiter {
    hk_link_t link; /* in its event's waiters */
} hk_inflight_waiter_t;

/* One event in flight. The fields are the registry's: read none of them. */
typedef struct hk_inflight_event {
    const char *event_id;            /* the key: the owner's string, unchanged while registered */
    struct hk_inflight_event *hnext; /* the bucket's chain */
    hk_link_t waiters;               /* hk_inflight_waiter_t.link, oldest first */
} hk_inflight_event_t;

/* Returns 0 or HK_ENOMEM. */
int hk_inflight_new(hk_inflight_t **out);

/* Events registered now. 0 for NULL. */
size_t hk_inflight_count(const hk_inflight_t *r);

/* Frees the registry (NULL is fine); every event must have been removed
 * (answered) first: the events are their owners'. */
void hk_inflight_free(hk_inflight_t *r);

/* Registers ev under event_id, with no waiters. event_id is not copied: it
 * must stay valid and unchanged until hk_inflight_remove. The id must not be
 * registered already (look with hk_inflight_find first). */
void hk_inflight_add(hk_inflight_t *r, hk_inflight_event_t *ev, const char *event_id);

/* The event registered under event_id (compared byte for byte), or NULL. */
hk_inflight_event_t *hk_inflight_find(const hk_inflight_t *r, const char *event_id);

/* Takes ev out of the registry: a later hk_inflight_find no longer sees it.
 * Its waiters stay on it, for the owner to answer with hk_inflight_next.
 * Removing an event twice is a bug. */
void hk_inflight_remove(hk_inflight_t *r, hk_inflight_event_t *ev);

/* Appends w to ev's waiters. ev must have been added (it may have been
 * removed since). */
void hk_inflight_wait(hk_inflight_event_t *ev, hk_inflight_waiter_t *w);

/* Takes the oldest waiter off ev and returns it, or NULL when none waits. */
hk_inflight_waiter_t *hk_inflight_next(hk_inflight_event_t *ev);

/* Takes w off its event's waiters (a repeat that gave up); safe when
 * hk_inflight_next already took it off. w must have been given to
 * hk_inflight_wait once. */
void hk_inflight_unwait(hk_inflight_waiter_t *w);

#endif
