/* trigger.h -- TriggerEvent's state across calls: the events in flight, by event id */
#ifndef HK_TRIGGER_H
#define HK_TRIGGER_H

#include <stddef.h>

/* The events whose TriggerEvent has not been answered yet, so that a repeat
 * of an event id arriving meanwhile waits for the first one's answer
 * (idempotency covers the window before the answer is recorded too). One per
 * daemon (hk_daemon_t.triggers). */
typedef struct hk_triggers hk_triggers_t;

/* Returns 0 or HK_ENOMEM. */
int hk_triggers_new(hk_triggers_t **out);

/* Events in flight now. */
size_t hk_triggers_count(const hk_triggers_t *t);

/* Frees the registry; every TriggerEvent must have been answered (the
 * server stopped and the http client closed first). */
void hk_triggers_free(hk_triggers_t *t);

#endif
