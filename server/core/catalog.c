/* catalog.c -- the trigger-action catalog: built-in defaults per application, extendable */
#include "core/catalog.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "hookd/v1/webhooks.pb-c.h"

#define ENTERPRISE HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE
#define ELITE HOOKD__V1__APPLICATION__APPLICATION_ELITE

#define KEY_MAX 100
#define DISPLAY_NAME_MAX 200

struct hk_catalog {
    hk_trigger_action_t *actions; /* sorted by application, then as added */
    size_t n, cap;
};

/* The built-in catalog. Enterprise runs the venue (accounts, events, bookings,
 * billing); Elite is the sales and catering side (orders, contracts). Both
 * share the account/contact keys so one receiver can serve either product. */
static const struct {
    int application;
    const char *key, *display_name;
} builtin[] = {
    {ENTERPRISE, "AccountCreated", "Account Create"},
    {ENTERPRISE, "AccountUpdated", "Account Update"},
    {ENTERPRISE, "AccountDeleted", "Account Delete"},
    {ENTERPRISE, "ContactCreated", "Contact Create"},
    {ENTERPRISE, "ContactUpdated", "Contact Update"},
    {ENTERPRISE, "ContactDeleted", "Contact Delete"},
    {ENTERPRISE, "EventCreated", "Event Create"},
    {ENTERPRISE, "EventUpdated", "Event Update"},
    {ENTERPRISE, "EventCancelled", "Event Cancel"},
    {ENTERPRISE, "EventStatusChanged", "Event Status Change"},
    {ENTERPRISE, "BookingCreated", "Booking Create"},
    {ENTERPRISE, "BookingUpdated", "Booking Update"},
    {ENTERPRISE, "BookingCancelled", "Booking Cancel"},
    {ENTERPRISE, "FunctionCreated", "Function Create"},
    {ENTERPRISE, "FunctionUpdated", "Function Update"},
    {ENTERPRISE, "OrderCreated", "Order Create"},
    {ENTERPRISE, "OrderUpdated", "Order Update"},
    {ENTERPRISE, "InvoiceCreated", "Invoice Create"},
    {ENTERPRISE, "InvoiceUpdated", "Invoice Update"},
    {ENTERPRISE, "PaymentReceived", "Payment Receipt"},
    {ELITE, "AccountCreated", "Account Create"},
    {ELITE, "AccountUpdated", "Account Update"},
    {ELITE, "AccountDeleted", "Account Delete"},
    {ELITE, "ContactCreated", "Contact Create"},
    {ELITE, "ContactUpdated", "Contact Update"},
    {ELITE, "EventCreated", "Event Create"},
    {ELITE, "EventUpdated", "Event Update"},
    {ELITE, "EventCancelled", "Event Cancel"},
    {ELITE, "BookingCreated", "Booking Create"},
    {ELITE, "BookingUpdated", "Booking Update"},
    {ELITE, "BookingCancelled", "Booking Cancel"},
    {ELITE, "OrderCreated", "Order Create"},
    {ELITE, "OrderUpdated", "Order Update"},
    {ELITE, "OrderCancelled", "Order Cancel"},
    {ELITE, "ContractSigned", "Contract Signature"},
    {ELITE, "ProposalSent", "Proposal Send"},
    {ELITE, "InvoiceCreated", "Invoice Create"},
    {ELITE, "PaymentReceived", "Payment Receipt"},
};

static int valid_application(int application)
{
    return application == ENTERPRISE || application == ELITE;
}

static int valid_key(const char *key)
{
    size_t n = 0;
    for (const char *p = key; *p; p++, n++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok || n >= KEY_MAX) return 0;
    }
    return n > 0;
}

/* Display names are shown in admin tables: well-formed UTF-8 without control
 * characters (C0, DEL, C1), 1-200 characters, not blank. */
static int valid_display_name(const char *s)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + strlen(s);
    size_t chars = 0;
    int visible = 0;
    while (p < end) {
        uint32_t cp;
        size_t len = hk_utf8_decode(p, (size_t)(end - p), &cp);
        if (len == 0) return 0;
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
        if (cp != ' ') visible = 1;
        if (++chars > DISPLAY_NAME_MAX) return 0;
        p += len;
    }
    return visible;
}

static hk_trigger_action_t *find(const hk_catalog_t *catalog, int application, const char *key)
{
    for (size_t i = 0; i < catalog->n; i++) {
        hk_trigger_action_t *a = &catalog->actions[i];
        if (a->application == application && strcmp(a->key, key) == 0) return a;
    }
    return NULL;
}

int hk_catalog_new(hk_catalog_t **out)
{
    hk_catalog_t *catalog = calloc(1, sizeof *catalog);
    if (!catalog) return HK_ENOMEM;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        int rc = hk_catalog_add(catalog, builtin[i].application, builtin[i].key,
                                builtin[i].display_name);
        if (rc != 0) {
            hk_catalog_free(catalog);
            return rc;
        }
    }
    *out = catalog;
    return 0;
}

void hk_catalog_free(hk_catalog_t *catalog)
{
    if (!catalog) return;
    for (size_t i = 0; i < catalog->n; i++) {
        free((char *)catalog->actions[i].key);
        free((char *)catalog->actions[i].display_name);
    }
    free(catalog->actions);
    free(catalog);
}

int hk_catalog_add(hk_catalog_t *catalog, int application, const char *key,
                   const char *display_name)
{
    if (!valid_application(application) || !key || !valid_key(key) || !display_name ||
        !valid_display_name(display_name))
        return HK_EINVAL;

    char *dup_name = strdup(display_name);
    if (!dup_name) return HK_ENOMEM;
    hk_trigger_action_t *existing = find(catalog, application, key);
    if (existing) {
        free((char *)existing->display_name);
        existing->display_name = dup_name;
        return 0;
    }

    char *dup_key = strdup(key);
    if (!dup_key) goto nomem;
    if (catalog->n == catalog->cap) {
        size_t cap = catalog->cap ? catalog->cap * 2 : 64;
        hk_trigger_action_t *grown = realloc(catalog->actions, cap * sizeof *grown);
        if (!grown) goto nomem;
        catalog->actions = grown;
        catalog->cap = cap;
    }
    /* Keep the array grouped by application: insert after the last action of
     * this application (or before the first of a later one). */
    size_t at = catalog->n;
    while (at > 0 && catalog->actions[at - 1].application > application)
        at--;
    memmove(&catalog->actions[at + 1], &catalog->actions[at],
            (catalog->n - at) * sizeof catalog->actions[0]);
    catalog->actions[at] = (hk_trigger_action_t){application, dup_key, dup_name};
    catalog->n++;
    return 0;

nomem:
    free(dup_key);
    free(dup_name);
    return HK_ENOMEM;
}

const hk_trigger_action_t *hk_catalog_find(const hk_catalog_t *catalog, int application,
                                           const char *key)
{
    if (!catalog || !key) return NULL;
    return find(catalog, application, key);
}

const hk_trigger_action_t *hk_catalog_list(const hk_catalog_t *catalog, size_t *n)
{
    *n = catalog->n;
    return catalog->actions;
}

int hk_application_parse(const char *name)
{
    if (!name) return 0;
    if (strcasecmp(name, "enterprise") == 0) return ENTERPRISE;
    if (strcasecmp(name, "elite") == 0) return ELITE;
    return 0;
}

const char *hk_application_name(int application)
{
    switch (application) {
    case ENTERPRISE: return "enterprise";
    case ELITE: return "elite";
    }
    return NULL;
}
