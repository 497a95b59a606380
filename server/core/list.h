/* list.h -- intrusive doubly linked lists and container_of, shared by every layer */
#ifndef HK_LIST_H
#define HK_LIST_H

#include <stddef.h>

/* The structure that embeds `member` at `ptr` (libuv, h2o). */
#define hk_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* A circular list with a sentinel head (libuv's QUEUE, spelled out). A link
 * that is in no list points at itself, so hk_link_del is safe to repeat. */
typedef struct hk_link {
    struct hk_link *next, *prev;
} hk_link_t;

static inline void hk_link_init(hk_link_t *head)
{
    head->next = head->prev = head;
}
static inline int hk_link_empty(const hk_link_t *head)
{
    return head->next == head;
}
/* Appends l at the tail of head. */
static inline void hk_link_add(hk_link_t *head, hk_link_t *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}
static inline void hk_link_del(hk_link_t *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = l;
}

/* Walks head's links; the body may hk_link_del(l). */
#define hk_link_each_safe(l, tmp, head)                                                            \
    for ((l) = (head)->next, (tmp) = (l)->next; (l) != (head); (l) = (tmp), (tmp) = (l)->next)

#endif
