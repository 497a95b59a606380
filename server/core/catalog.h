/* catalog.h -- the trigger-action catalog: which trigger actions each application has */
#ifndef HK_CATALOG_H
#define HK_CATALOG_H

#include <stddef.h>

/* Applications use the proto's numbers (HOOKD__V1__APPLICATION__APPLICATION_*):
 * 1 enterprise, 2 elite. */
typedef struct hk_catalog hk_catalog_t;

typedef struct {
    int application;
    const char *key;          /* "AccountUpdated" */
    const char *display_name; /* "Account Update" */
} hk_trigger_action_t;

/* A catalog holding the built-in default actions of each application.
 * Returns 0 or HK_ENOMEM. */
int hk_catalog_new(hk_catalog_t **out);
void hk_catalog_free(hk_catalog_t *catalog);

/* Adds an action, or renames it when the key exists for that application.
 * key: 1-100 chars [A-Za-z0-9_.-]; display_name: 1-200 printable chars.
 * Returns 0, HK_EINVAL or HK_ENOMEM. */
int hk_catalog_add(hk_catalog_t *catalog, int application, const char *key,
                   const char *display_name);

/* The action of that application with exactly that key, or NULL. */
const hk_trigger_action_t *hk_catalog_find(const hk_catalog_t *catalog, int application,
                                           const char *key);

/* The actions in catalog order (by application, then as added); *n is set to
 * the count. The array lives until the next hk_catalog_add or free. */
const hk_trigger_action_t *hk_catalog_list(const hk_catalog_t *catalog, size_t *n);

/* "enterprise" / "elite" <-> application number; 0 / NULL when unknown. */
int hk_application_parse(const char *name);
const char *hk_application_name(int application);

#endif
